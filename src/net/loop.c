/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * epoll event loop. Posted calls arrive through a mutex-protected queue and
 * an eventfd; timers are a list sorted by deadline (a few per connection,
 * so a heap would not pay yet). A watch deleted during dispatch is freed
 * only after the dispatch round, since later events of the same epoll_wait
 * batch may still point at it.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/epoch.h"
#include "util/list.h"
#include "util/log.h"
#include "loop.h"

#define LOOP_MAX_EVENTS 128

struct loop_watch {
	struct loop *loop;
	int fd;
	loop_fd_fn *fn;
	void *arg;
	bool dead;
	struct list_node node; /* loop->dead_watches once deleted */
};

struct loop_timer {
	struct loop *loop;
	loop_call_fn *fn;
	void *arg;
	uint64_t deadline;
	bool armed;
	struct list_node node; /* loop->timers, by deadline */
};

struct loop_call {
	loop_call_fn *fn;
	void *arg;
	struct list_node node;
};

struct loop {
	char name[32];
	int epfd;
	int wakefd; /* eventfd: posted calls or stop */
	atomic_bool stopping;
	pthread_t thread;
	bool has_thread;
	void *data;
	pthread_mutex_t post_lock;
	struct list_node posted; /* struct loop_call */
	struct list_node timers;
	struct list_node dead_watches;
	loop_idle_fn *before_poll; /* see loop_set_before_poll() */
	void *before_poll_arg;
};

static __thread struct loop *loop_this;

uint64_t
loop_now_ms(void)
{
	struct timespec ts;

	/*
	 * Called several times per command (activity stamps, timers); the
	 * coarse clock is a memory read where the precise one reads the
	 * TSC, five times slower in this VM.
	 */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct loop *
loop_new(const char *name)
{
	struct loop *loop = mem_zalloc(sizeof(*loop));
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

	if (loop == NULL)
		return NULL;
	snprintf(loop->name, sizeof(loop->name), "%s", name);
	list_init(&loop->posted);
	list_init(&loop->timers);
	list_init(&loop->dead_watches);
	pthread_mutex_init(&loop->post_lock, NULL);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->epfd < 0 || loop->wakefd < 0 ||
	    epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev) < 0) {
		log_error("loop %s: cannot set up epoll (%s)", name,
		    strerror(errno));
		if (loop->epfd >= 0)
			close(loop->epfd);
		if (loop->wakefd >= 0)
			close(loop->wakefd);
		mem_free(loop);
		return NULL;
	}
	return loop;
}

void
loop_free(struct loop *loop)
{
	struct list_node *n, *tmp;

	if (loop == NULL)
		return;
	list_for_each_safe(n, tmp, &loop->posted) {
		list_remove(n);
		mem_free(list_entry(n, struct loop_call, node));
	}
	list_for_each_safe(n, tmp, &loop->dead_watches) {
		list_remove(n);
		mem_free(list_entry(n, struct loop_watch, node));
	}
	close(loop->epfd);
	close(loop->wakefd);
	pthread_mutex_destroy(&loop->post_lock);
	mem_free(loop);
}

const char *
loop_name(const struct loop *loop)
{
	return loop->name;
}

void
loop_set_data(struct loop *loop, void *data)
{
	loop->data = data;
}

void *
loop_data(const struct loop *loop)
{
	return loop->data;
}

struct loop *
loop_current(void)
{
	return loop_this;
}

static void
loop_wake(struct loop *loop)
{
	uint64_t one = 1;
	/* EAGAIN means the counter is already non-zero: awake anyway. */
	ssize_t n = write(loop->wakefd, &one, sizeof(one));
	(void)n;
}

void
loop_stop(struct loop *loop)
{
	atomic_store(&loop->stopping, true);
	loop_wake(loop);
}

static unsigned int
loop_epoll_to_events(uint32_t e)
{
	unsigned int r = 0;

	if (e & (EPOLLIN | EPOLLRDHUP))
		r |= LOOP_READ;
	if (e & EPOLLOUT)
		r |= LOOP_WRITE;
	if (e & (EPOLLERR | EPOLLHUP))
		r |= LOOP_ERROR | LOOP_READ;
	return r;
}

static uint32_t
loop_events_to_epoll(unsigned int events)
{
	uint32_t e = 0;

	if (events & LOOP_READ)
		e |= EPOLLIN | EPOLLRDHUP;
	if (events & LOOP_WRITE)
		e |= EPOLLOUT;
	return e;
}

int
loop_fd_add(struct loop *loop, int fd, unsigned int events, loop_fd_fn *fn,
    void *arg, struct loop_watch **out)
{
	struct loop_watch *w = mem_zalloc(sizeof(*w));
	struct epoll_event ev;

	if (w == NULL)
		return -ENOMEM;
	w->loop = loop;
	w->fd = fd;
	w->fn = fn;
	w->arg = arg;
	list_init(&w->node);
	ev.events = loop_events_to_epoll(events);
	ev.data.ptr = w;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;
		mem_free(w);
		return err;
	}
	*out = w;
	return 0;
}

int
loop_fd_mod(struct loop_watch *w, unsigned int events)
{
	struct epoll_event ev = {
	    .events = loop_events_to_epoll(events),
	    .data.ptr = w,
	};

	if (epoll_ctl(w->loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		return -errno;
	return 0;
}

void
loop_fd_del(struct loop_watch *w)
{
	if (w == NULL || w->dead)
		return;
	/* The fd may already be closed by its owner: ignore the error. */
	epoll_ctl(w->loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->dead = true;
	list_add_tail(&w->loop->dead_watches, &w->node);
}

int
loop_post(struct loop *loop, loop_call_fn *fn, void *arg)
{
	struct loop_call *c = mem_alloc(sizeof(*c));

	if (c == NULL)
		return -ENOMEM;
	c->fn = fn;
	c->arg = arg;
	pthread_mutex_lock(&loop->post_lock);
	list_add_tail(&loop->posted, &c->node);
	pthread_mutex_unlock(&loop->post_lock);
	loop_wake(loop);
	return 0;
}

static void
loop_run_posted(struct loop *loop)
{
	struct list_node batch;
	uint64_t cnt;
	ssize_t n = read(loop->wakefd, &cnt, sizeof(cnt));

	(void)n;
	/*
	 * Take the whole queue at once: calls posted while these run wait
	 * for the next round, so a call that posts itself cannot starve I/O.
	 */
	list_init(&batch);
	pthread_mutex_lock(&loop->post_lock);
	if (!list_empty(&loop->posted)) {
		batch.next = loop->posted.next;
		batch.prev = loop->posted.prev;
		batch.next->prev = &batch;
		batch.prev->next = &batch;
		list_init(&loop->posted);
	}
	pthread_mutex_unlock(&loop->post_lock);
	while (!list_empty(&batch)) {
		struct loop_call *c =
		    list_first_entry(&batch, struct loop_call, node);
		list_remove(&c->node);
		c->fn(c->arg);
		mem_free(c);
	}
}

struct loop_timer *
loop_timer_new(struct loop *loop, loop_call_fn *fn, void *arg)
{
	struct loop_timer *t = mem_zalloc(sizeof(*t));

	if (t == NULL)
		return NULL;
	t->loop = loop;
	t->fn = fn;
	t->arg = arg;
	list_init(&t->node);
	return t;
}

void
loop_timer_disarm(struct loop_timer *t)
{
	if (t->armed) {
		list_remove(&t->node);
		t->armed = false;
	}
}

void
loop_timer_arm(struct loop_timer *t, uint64_t ms)
{
	struct list_node *pos;

	loop_timer_disarm(t);
	t->deadline = loop_now_ms() + ms;
	t->armed = true;
	/* Walk from the tail: new deadlines are usually the latest. */
	for (pos = t->loop->timers.prev; pos != &t->loop->timers;
	     pos = pos->prev) {
		struct loop_timer *o = list_entry(pos, struct loop_timer, node);
		if (o->deadline <= t->deadline)
			break;
	}
	list_insert_between(&t->node, pos, pos->next);
}

void
loop_timer_free(struct loop_timer *t)
{
	if (t == NULL)
		return;
	loop_timer_disarm(t);
	mem_free(t);
}

/* Run expired timers; return the wait until the next one (-1: none). */
static int
loop_run_timers(struct loop *loop)
{
	uint64_t now = loop_now_ms();

	while (!list_empty(&loop->timers)) {
		struct loop_timer *t =
		    list_first_entry(&loop->timers, struct loop_timer, node);
		if (t->deadline > now) {
			uint64_t wait = t->deadline - now;
			return wait > 60000 ? 60000 : (int)wait;
		}
		loop_timer_disarm(t);
		t->fn(t->arg);
		now = loop_now_ms();
	}
	return -1;
}

static void
loop_free_dead_watches(struct loop *loop)
{
	while (!list_empty(&loop->dead_watches)) {
		struct loop_watch *w = list_first_entry(&loop->dead_watches,
		    struct loop_watch, node);
		list_remove(&w->node);
		mem_free(w);
	}
}

void
loop_set_before_poll(struct loop *loop, loop_idle_fn *fn, void *arg)
{
	loop->before_poll = fn;
	loop->before_poll_arg = arg;
}

int
loop_run(struct loop *loop)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];

	loop_this = loop;
	while (!atomic_load(&loop->stopping)) {
		int timeout, n;

		/*
		 * Timers and the before-poll hook may make work for each
		 * other (a timer queues a PDU, the flush closes a connection
		 * and arms a timer): repeat until the hook has nothing left.
		 */
		do
			timeout = loop_run_timers(loop);
		while (loop->before_poll != NULL &&
		    loop->before_poll(loop->before_poll_arg));
		n = epoll_wait(loop->epfd, evs, LOOP_MAX_EVENTS, timeout);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("loop %s: epoll_wait failed (%s)", loop->name,
			    strerror(errno));
			loop_this = NULL;
			return -errno;
		}
		bool posted = false;
		for (int i = 0; i < n; i++) {
			struct loop_watch *w = evs[i].data.ptr;

			if (w == NULL) {
				posted = true;
				continue;
			}
			if (!w->dead)
				w->fn(w->arg,
				    loop_epoll_to_events(evs[i].events));
		}
		/* Posted calls run after I/O: that is the deferred close. */
		if (posted || n == 0)
			loop_run_posted(loop);
		loop_free_dead_watches(loop);
	}
	loop_this = NULL;
	return 0;
}

static void *
loop_thread_main(void *arg)
{
	struct loop *loop = arg;
	sigset_t all;

	/*
	 * Signals are the main thread's business (signalfd there), but for
	 * the faults a thread raises itself: blocked, those kill the process
	 * outright. SIGBUS: a store's mapping read past a file cut short.
	 */
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	epoch_thread_register();
	loop_run(loop);
	epoch_thread_unregister();
	return NULL;
}

int
loop_thread_start(struct loop *loop)
{
	int err = pthread_create(&loop->thread, NULL, loop_thread_main, loop);

	if (err)
		return -err;
	loop->has_thread = true;
	return 0;
}

void
loop_thread_join(struct loop *loop)
{
	if (loop->has_thread) {
		pthread_join(loop->thread, NULL);
		loop->has_thread = false;
	}
}
