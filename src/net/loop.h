/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * A small event loop (epoll) per thread: fd watches, one-shot timers, and
 * calls posted from other threads (through an eventfd). A connection
 * lives on one loop for its whole life, so its state needs no lock.
 * Every callback runs on the loop's own thread.
 */
#ifndef IETD_NET_LOOP_H
#define IETD_NET_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#define LOOP_READ 0x1u
#define LOOP_WRITE 0x2u
#define LOOP_ERROR 0x4u /* reported only: hang-up or error on the fd */

struct loop;
struct loop_watch;
struct loop_timer;

typedef void loop_fd_fn(void *arg, unsigned int events);
typedef void loop_call_fn(void *arg);
/* A before-poll hook: returns true when it did work (it runs again). */
typedef bool loop_idle_fn(void *arg);

/* Create a loop; it runs on whichever thread calls loop_run(). */
struct loop *loop_new(const char *name);
/* Free a loop that is not running; watches and timers must be gone. */
void loop_free(struct loop *loop);
/* Dispatch events until loop_stop(). Returns 0 or -errno. */
int loop_run(struct loop *loop);
/* Ask a loop to return from loop_run(); any thread, async-signal-safe. */
void loop_stop(struct loop *loop);
/* Start a thread that runs loop_run(loop); join with loop_thread_join. */
int loop_thread_start(struct loop *loop);
void loop_thread_join(struct loop *loop);
/* The loop running on this thread, or NULL. */
struct loop *loop_current(void);
const char *loop_name(const struct loop *loop);
/* A pointer the loop's owner may attach (per-thread state). */
void loop_set_data(struct loop *loop, void *data);
void *loop_data(const struct loop *loop);

/*
 * Call fn(arg) on the loop's thread each time the loop is about to sleep,
 * after the round's events and timers: the place to flush output queued
 * during the round with one write per connection. Set it before
 * loop_run() or from the loop's own thread; NULL removes it.
 */
void loop_set_before_poll(struct loop *loop, loop_idle_fn *fn, void *arg);

/*
 * Watch fd for events (LOOP_READ | LOOP_WRITE); fn gets the events that
 * are ready, LOOP_ERROR included. The fd stays the caller's. Returns 0
 * or -errno.
 */
int loop_fd_add(struct loop *loop, int fd, unsigned int events, loop_fd_fn *fn,
    void *arg, struct loop_watch **out);
int loop_fd_mod(struct loop_watch *w, unsigned int events);
/* Stop watching and free w. Safe inside w's own callback. */
void loop_fd_del(struct loop_watch *w);

/*
 * Run fn(arg) on loop's thread soon. Any thread may call it. From the
 * loop's own thread it runs after the current dispatch round (deferred
 * close). Returns 0 or -ENOMEM.
 */
int loop_post(struct loop *loop, loop_call_fn *fn, void *arg);

/* Timers: created disarmed; arm for ms from now (re-arming moves it). */
struct loop_timer *loop_timer_new(struct loop *loop, loop_call_fn *fn,
    void *arg);
void loop_timer_arm(struct loop_timer *t, uint64_t ms);
void loop_timer_disarm(struct loop_timer *t);
void loop_timer_free(struct loop_timer *t);

/*
 * Monotonic milliseconds, from the coarse clock: it may lag by a tick
 * (1-4 ms), which no timeout or activity stamp here minds.
 */
uint64_t loop_now_ms(void);

#endif /* IETD_NET_LOOP_H */
