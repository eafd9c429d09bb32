/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Epoch-based reclamation, for data read on every command and replaced
 * seldom (a target's LUN table, which reload and ietadm replace): readers
 * take no lock and touch no shared cache line, the writer frees what it
 * replaced only once no reader can still see it.
 *
 * A reader:
 *
 *     epoch_enter();
 *     p = atomic_load(&shared);   // use p; never keep it past the exit
 *     ...
 *     epoch_exit();
 *
 * Each reading thread owns one of EPOCH_THREADS_MAX slots, claimed at its
 * first section (the event threads claim theirs at start); a thread that
 * ends before the process does gives it back.
 *
 * A writer publishes the new pointer first, then hands the old one to
 * epoch_retire(), which frees it at once when no reader is inside a
 * section that began before the retirement, and otherwise keeps it for
 * epoch_reclaim() (the main loop calls it on a timer).
 */
#ifndef IETD_UTIL_EPOCH_H
#define IETD_UTIL_EPOCH_H

#include <stdbool.h>

/* Reading threads at once; one more waits for a slot to come free. */
#define EPOCH_THREADS_MAX 256

/* Claim the calling thread's slot now rather than at its first section. */
void epoch_thread_register(void);
/* Give it back, outside any section, before the thread exits. */
void epoch_thread_unregister(void);

/*
 * A read section. Keep it short (it holds back every retirement begun
 * after it); sections may nest (a command's completion may start the
 * next command), the outermost one counts.
 */
void epoch_enter(void);
void epoch_exit(void);

/*
 * Free p with free_fn(p) once no reader can see it. Any thread may call
 * it, outside a section. On allocation failure it waits for the readers
 * there and then (sections are short).
 */
void epoch_retire(void *p, void (*free_fn)(void *p));
/* Free whatever retired objects no reader can see any more. */
void epoch_reclaim(void);
/* How many retired objects wait (tests). */
unsigned int epoch_pending(void);

#endif /* IETD_UTIL_EPOCH_H */
