/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Asynchronous completion plumbing: per-thread completion queues (an
 * eventfd plus a locked list) and the Wthreads pool that runs blocking
 * syscalls, and the choice of engine. With io_uring each queue also owns
 * a ring (uring.c) whose completions signal the same eventfd, so one
 * drain runs both the ring's and the pool's completions.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend_int.h"
#include "util/alloc.h"
#include "util/log.h"

struct backend_cq {
	int efd;
	pthread_mutex_t lock;
	struct list_node done; /* completed ios, in completion order */
	/* The ring is used only by the thread that made the queue. */
	struct backend_uring *ring;
	pthread_t owner;
	/*
	 * With local_ok, completions the owner's own thread queues go on
	 * local, without the lock or an eventfd write; the owner runs them
	 * with backend_cq_run_local() before it sleeps.
	 */
	bool local_ok;
	struct list_node local;
	/*
	 * Also with local_ok: page-cache writes the owner submitted during
	 * this round, done together (adjacent ones merged) when it runs the
	 * local completions (inline.c).
	 */
	struct list_node deferred;
};

/* Written once at start-up, before any event thread exists. */
static enum backend_engine backend_engine_now = BACKEND_ENGINE_THREADS;

int
backend_engine_select(enum backend_engine want, char *why, size_t whylen)
{
	char reason[160];
	int rc;

	if (want == BACKEND_ENGINE_THREADS) {
		backend_engine_now = BACKEND_ENGINE_THREADS;
		snprintf(why, whylen, "thread pool (io_uring not requested)");
		return 0;
	}
	rc = backend_uring_probe(reason, sizeof(reason));
	if (rc == 0) {
		backend_engine_now = BACKEND_ENGINE_URING;
		snprintf(why, whylen, "io_uring");
		return 0;
	}
	backend_engine_now = BACKEND_ENGINE_THREADS;
	if (want == BACKEND_ENGINE_URING) {
		snprintf(why, whylen, "io_uring unavailable: %s", reason);
		return rc;
	}
	snprintf(why, whylen, "thread pool (io_uring unavailable: %s)", reason);
	return 0;
}

enum backend_engine
backend_engine_current(void)
{
	return backend_engine_now;
}

bool
backend_cq_uring(const struct backend_cq *cq)
{
	return cq->ring != NULL;
}

/* The worker pool: one queue shared by all threads, FIFO. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct list_node queue;
	pthread_t threads[BACKEND_WORKERS_MAX];
	unsigned int nthreads;
	bool stopping;
	bool inited;
} backend_pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
};

struct backend_cq *
backend_cq_new(void)
{
	struct backend_cq *cq = mem_zalloc(sizeof(*cq));

	if (cq == NULL)
		return NULL;
	cq->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (cq->efd < 0) {
		mem_free(cq);
		return NULL;
	}
	pthread_mutex_init(&cq->lock, NULL);
	list_init(&cq->done);
	list_init(&cq->local);
	list_init(&cq->deferred);
	cq->owner = pthread_self();
	if (backend_engine_now == BACKEND_ENGINE_URING) {
		static bool warned;
		char why[160];

		cq->ring = backend_uring_new(cq->efd, why, sizeof(why));
		/* The probe worked, so this is rare (a memory limit). */
		if (cq->ring == NULL &&
		    !__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED))
			log_warning("backend I/O: no io_uring ring for a "
				    "thread (%s); it uses the thread pool",
			    why);
	}
	return cq;
}

void
backend_cq_free(struct backend_cq *cq)
{
	if (cq == NULL)
		return;
	/* Completions still waiting are run so no owner leaks its io. */
	backend_uring_free(cq->ring);
	cq->ring = NULL;
	backend_cq_drain(cq);
	close(cq->efd);
	pthread_mutex_destroy(&cq->lock);
	mem_free(cq);
}

int
backend_cq_fd(const struct backend_cq *cq)
{
	return cq->efd;
}

void
backend_cq_set_local(struct backend_cq *cq, bool on)
{
	cq->local_ok = on;
}

bool
backend_cq_defer(struct backend_cq *cq, struct backend_io *io)
{
	if (!cq->local_ok || !pthread_equal(cq->owner, pthread_self()))
		return false;
	list_add_tail(&cq->deferred, &io->node);
	return true;
}

bool
backend_cq_run_local(struct backend_cq *cq)
{
	bool ran = false;

	/*
	 * The round's deferred writes first: their completions join the
	 * others. done() may queue more of either (a task started by
	 * another's end): loop.
	 */
	for (;;) {
		if (!list_empty(&cq->deferred))
			backend_inline_run_deferred(&cq->deferred);
		if (list_empty(&cq->local))
			break;
		struct backend_io *io =
		    list_first_entry(&cq->local, struct backend_io, node);

		list_remove(&io->node);
		io->done(io);
		ran = true;
	}
	return ran;
}

void
backend_cq_push(struct backend_cq *cq, struct backend_io *io)
{
	uint64_t one = 1;
	bool was_empty;

	if (cq->local_ok && pthread_equal(cq->owner, pthread_self())) {
		list_add_tail(&cq->local, &io->node);
		return;
	}

	pthread_mutex_lock(&cq->lock);
	was_empty = list_empty(&cq->done);
	list_add_tail(&cq->done, &io->node);
	pthread_mutex_unlock(&cq->lock);
	/*
	 * Only the first completion after a drain needs to wake the owner;
	 * later ones ride on the same wakeup. The counter cannot overflow
	 * (it saturates at 2^64-2 and the owner resets it on drain).
	 */
	if (was_empty) {
		ssize_t n;

		do {
			n = write(cq->efd, &one, sizeof(one));
		} while (n < 0 && errno == EINTR);
	}
}

bool
backend_cq_ring_submit(struct backend_cq *cq, struct backend *be,
    struct backend_io *io)
{
	if (cq == NULL || cq->ring == NULL ||
	    !pthread_equal(cq->owner, pthread_self()))
		return false;
	return backend_uring_submit(cq->ring, be, io);
}

void
backend_cq_post(struct backend_cq *cq, struct backend_io *io)
{
	backend_cq_push(cq, io);
}

void
backend_cq_drain(struct backend_cq *cq)
{
	struct list_node local, *pos, *tmp;
	uint64_t cnt;
	ssize_t n;

	/* Reset the counter first: a push after this re-arms the fd. */
	do {
		n = read(cq->efd, &cnt, sizeof(cnt));
	} while (n < 0 && errno == EINTR);

	if (cq->ring != NULL)
		backend_uring_reap(cq->ring);
	list_init(&local);
	pthread_mutex_lock(&cq->lock);
	if (!list_empty(&cq->done)) {
		local.next = cq->done.next;
		local.prev = cq->done.prev;
		local.next->prev = &local;
		local.prev->next = &local;
		list_init(&cq->done);
	}
	pthread_mutex_unlock(&cq->lock);

	list_for_each_safe(pos, tmp, &local) {
		struct backend_io *io =
		    list_entry(pos, struct backend_io, node);

		list_remove(&io->node);
		io->done(io);
	}
	backend_cq_run_local(cq);
}

static void
backend_io_exec(struct backend_io *io)
{
	struct backend *be = io->be;

	if (be->ops->exec != NULL)
		be->ops->exec(be, io);
	else
		io->result = -EOPNOTSUPP; /* its submit() never hands io over */
}

static void *
backend_worker_main(void *arg)
{
	(void)arg;
	/* Named, so ps -L and tests can count the Wthreads pool. */
	(void)pthread_setname_np(pthread_self(), "ietd-io");
	pthread_mutex_lock(&backend_pool.lock);
	for (;;) {
		struct backend_io *io;

		while (
		    list_empty(&backend_pool.queue) && !backend_pool.stopping)
			pthread_cond_wait(&backend_pool.cond,
			    &backend_pool.lock);
		/* Finish queued work before leaving: no io is ever lost. */
		if (list_empty(&backend_pool.queue))
			break;
		io = list_first_entry(&backend_pool.queue, struct backend_io,
		    node);
		list_remove(&io->node);
		pthread_mutex_unlock(&backend_pool.lock);
		backend_io_exec(io);
		backend_cq_push(io->cq, io);
		pthread_mutex_lock(&backend_pool.lock);
	}
	pthread_mutex_unlock(&backend_pool.lock);
	return NULL;
}

/* Called with backend_pool.lock held. */
static int
backend_workers_grow(unsigned int n)
{
	if (!backend_pool.inited) {
		list_init(&backend_pool.queue);
		backend_pool.inited = true;
	}
	if (n > BACKEND_WORKERS_MAX)
		n = BACKEND_WORKERS_MAX;
	backend_pool.stopping = false;
	while (backend_pool.nthreads < n) {
		int rc =
		    pthread_create(&backend_pool.threads[backend_pool.nthreads],
			NULL, backend_worker_main, NULL);
		if (rc != 0)
			return backend_pool.nthreads > 0 ? 0 : -rc;
		backend_pool.nthreads++;
	}
	return 0;
}

int
backend_workers_start(unsigned int nthreads)
{
	int rc;

	if (nthreads == 0)
		nthreads = 1;
	pthread_mutex_lock(&backend_pool.lock);
	rc = backend_workers_grow(nthreads);
	pthread_mutex_unlock(&backend_pool.lock);
	if (rc < 0)
		log_error("cannot start I/O worker threads: %s", strerror(-rc));
	return rc;
}

void
backend_workers_stop(void)
{
	unsigned int i, n;

	pthread_mutex_lock(&backend_pool.lock);
	backend_pool.stopping = true;
	n = backend_pool.nthreads;
	pthread_cond_broadcast(&backend_pool.cond);
	pthread_mutex_unlock(&backend_pool.lock);
	for (i = 0; i < n; i++)
		pthread_join(backend_pool.threads[i], NULL);
	pthread_mutex_lock(&backend_pool.lock);
	backend_pool.nthreads = 0;
	pthread_mutex_unlock(&backend_pool.lock);
}

int
backend_workers_queue(struct backend *be, struct backend_io *io)
{
	int rc = 0;

	io->be = be;
	pthread_mutex_lock(&backend_pool.lock);
	/* A caller that never sized the pool (tests, tools) gets a default. */
	if (backend_pool.nthreads == 0 || backend_pool.stopping)
		rc = backend_workers_grow(BACKEND_WORKERS_DEFAULT);
	if (rc == 0) {
		list_add_tail(&backend_pool.queue, &io->node);
		pthread_cond_signal(&backend_pool.cond);
	}
	pthread_mutex_unlock(&backend_pool.lock);
	return rc;
}
