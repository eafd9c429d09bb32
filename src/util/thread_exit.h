/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Work to do when a thread exits, registered by the thread itself: the
 * per-thread caches (databuf, objcache) give their memory back this way,
 * since a thread (the I/O pool's, a test's) may end long before the process.
 */
#ifndef IETD_UTIL_THREAD_EXIT_H
#define IETD_UTIL_THREAD_EXIT_H

/*
 * Have fn called when the calling thread exits (pthread_exit or return
 * from its start routine; not the process's main thread at exit()).
 * Registering the same fn again on a thread does nothing. 0, or -1 when
 * the thread already has THREAD_EXIT_MAX functions or no key could be made.
 */
#define THREAD_EXIT_MAX 4
int thread_at_exit(void (*fn)(void));

#endif /* IETD_UTIL_THREAD_EXIT_H */
