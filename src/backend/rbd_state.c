/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Shared state of a Type=rbd store (backend.h): one RADOS object beside
 * the image, "ietd.state.<image id>" in the image's pool and namespace,
 * which every gateway exporting the image reads and writes (persistent
 * reservations, pr_shared.c). The image id, not its name, so a renamed
 * image keeps its state.
 *
 * Compare-and-set: the object is read with its version, and written
 * (write_full) in one operation with rados_write_op_assert_version(),
 * which the OSD refuses (-ERANGE, -EOVERFLOW) when another gateway wrote
 * in between; then apply() runs again on the newer state. The object is
 * created empty (no state) the first time, so it can be watched.
 *
 * Each gateway watches the object (rados_watch2). A writer then notifies
 * (rados_notify2) with its note, and the call returns once every other
 * watcher acknowledged, which each does only after its changed() callback
 * installed the new state; or after RBD_STATE_NOTIFY_MS, when a gateway
 * is gone or hung (its watch then times out on the OSD, and when it comes
 * back librados reports the error, and it watches and reloads again).
 * A gateway's own notification is acknowledged at once (notifier id).
 *
 * Threads: librados calls block (each bounded by rados_osd_op_timeout,
 * rbd.c), so they run on two threads of this store, never an event
 * thread: the writer (updates, in order) and the watcher (notifications
 * from other gateways, and re-watching). Two, so two gateways writing at
 * once each acknowledge the other's notification while waiting for their
 * own. Each has its own pool context, as rados_get_last_version() reads
 * the context's last operation.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backend/rbd_int.h"
#include "util/alloc.h"
#include "util/log.h"

/* The largest object read: a state of SCSI_PR_REGS_MAX registrations. */
#define RBD_STATE_MAX (1024 * 1024)
/* How long a writer waits for the other gateways' acknowledgements. */
#define RBD_STATE_NOTIFY_MS 10000
/* Seconds between attempts to set up a watch that failed. */
#define RBD_STATE_REWATCH_S 5
/* Lost compare-and-set races before an update gives up (-EBUSY). */
#define RBD_STATE_TRIES 32

enum rbd_state_kind {
	RBD_STATE_UPDATE,
	RBD_STATE_NOTIFY,
	RBD_STATE_REWATCH,
	RBD_STATE_RELOAD, /* read it again: the watch began after a read */
};

struct rbd_state_item {
	struct list_node node;
	enum rbd_state_kind kind;
	struct backend_state_op *op; /* UPDATE */
	uint64_t notify_id;          /* NOTIFY */
	uint64_t cookie;
	uint8_t *data;
	size_t len;
};

/* One thread of the store, with its queue and pool context. */
struct rbd_state_thread {
	struct rbd_state *st;
	rados_ioctx_t io;
	pthread_t th;
	bool running;
	struct list_node q; /* under st->lock */
};

struct rbd_state {
	struct rbd_lu *rl;
	/* Its own client, which fencing leaves alone (rbd_int.h). */
	struct rbd_cluster *cluster;
	char oid[160];
	uint64_t self; /* our RADOS instance id: our own notifications */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	struct rbd_state_thread writer, watcher;
	/* The watch (watcher thread and close; the cookie is read by the
	 * callbacks, which librados runs only while the watch exists). */
	bool watching;   /* written under lock */
	bool want_watch; /* lock: the first attempt was made; retry it */
	bool watch_said; /* the watcher's: its failure is in the log */
	uint64_t cookie;
	backend_state_changed_fn *fn;
	void *arg;
};

static void
rbd_state_post(struct rbd_state_thread *t, struct rbd_state_item *it)
{
	struct rbd_state *st = t->st;

	pthread_mutex_lock(&st->lock);
	list_add_tail(&t->q, &it->node);
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

/*
 * Read the object: 0 with a copy (NULL, 0: absent or empty) and its
 * version, or -errno.
 */
static int
rbd_state_get(rados_ioctx_t io, const char *oid, uint8_t **out, size_t *len,
    uint64_t *version)
{
	uint8_t *b = mem_alloc(RBD_STATE_MAX + 1);
	int rc;

	*out = NULL;
	*len = 0;
	*version = 0;
	if (b == NULL)
		return -ENOMEM;
	rc = rados_read(io, oid, (char *)b, RBD_STATE_MAX + 1, 0);
	if (rc == -ENOENT) {
		mem_free(b);
		return 0;
	}
	if (rc < 0) {
		mem_free(b);
		return rc;
	}
	if (rc > RBD_STATE_MAX) {
		/* Larger than any state ietd writes: say so, never cut. */
		mem_free(b);
		return -EFBIG;
	}
	*version = rados_get_last_version(io);
	if (rc == 0) {
		mem_free(b);
		return 0;
	}
	*out = b;
	*len = (size_t)rc;
	return 0;
}

/* Write out in place of the version read (exists: it was there). */
static int
rbd_state_put(rados_ioctx_t io, const char *oid, bool exists, uint64_t version,
    const uint8_t *out, size_t outlen)
{
	rados_write_op_t w = rados_create_write_op();
	int rc;

	if (w == NULL)
		return -ENOMEM;
	if (exists)
		rados_write_op_assert_version(w, version);
	else
		rados_write_op_create(w, LIBRADOS_CREATE_EXCLUSIVE, NULL);
	rados_write_op_write_full(w, (const char *)out, outlen);
	rc = rados_write_op_operate(w, io, oid, NULL, 0);
	rados_release_write_op(w);
	return rc;
}

/* One update, on the writer thread. */
/*
 * A write that timed out may still have been applied by the OSD: does
 * the object hold exactly what we wrote? (Then the change stands, and the
 * other gateways and the initiator must hear of it; answering an error
 * would leave every copy but the object's behind.)
 */
static bool
rbd_state_landed(struct rbd_state *st, rados_ioctx_t io, const uint8_t *out,
    size_t outlen)
{
	uint8_t *cur = NULL;
	size_t curlen = 0;
	uint64_t ver;
	bool same;

	if (rbd_state_get(io, st->oid, &cur, &curlen, &ver) < 0)
		return false;
	same =
	    curlen == outlen && (outlen == 0 || memcmp(cur, out, outlen) == 0);
	mem_free(cur);
	if (same)
		log_notice("rbd %s/%s: a state change whose write timed out "
			   "was "
			   "applied; answering it as done",
		    st->rl->pool, st->rl->name);
	return same;
}

static void
rbd_state_do_update(struct rbd_state *st, struct backend_state_op *op)
{
	rados_ioctx_t io = st->writer.io;
	int rc = -EBUSY;

	for (unsigned int i = 0; i < RBD_STATE_TRIES; i++) {
		uint8_t *cur, *out = NULL, *note = NULL;
		size_t curlen, outlen = 0, notelen = 0;
		uint64_t ver;
		char *reply = NULL;
		size_t replylen = 0;
		bool exists;

		rc = rbd_state_get(io, st->oid, &cur, &curlen, &ver);
		if (rc < 0)
			break;
		exists = ver != 0;
		op->version = ver;
		rc = op->apply(op, cur, curlen, &out, &outlen, &note, &notelen);
		mem_free(cur);
		if (rc != 0) {
			rc = rc < 0 ? rc : 0;
			break;
		}
		rc = rbd_state_put(io, st->oid, exists, ver, out, outlen);
		if (rc == -ETIMEDOUT && rbd_state_landed(st, io, out, outlen))
			rc = 0; /* it was applied: notify and answer as written
				 */
		mem_free(out);
		if (rc == -ERANGE || rc == -EOVERFLOW || rc == -EEXIST) {
			/* Another gateway wrote first: again, on its state. */
			mem_free(note);
			rc = -EBUSY;
			continue;
		}
		if (rc < 0) {
			mem_free(note);
			break;
		}
		op->version = rados_get_last_version(io);
		rc = rados_notify2(io, st->oid, (const char *)note,
		    (int)notelen, RBD_STATE_NOTIFY_MS, &reply, &replylen);
		mem_free(note);
		if (reply != NULL)
			rados_buffer_free(reply);
		if (rc < 0) {
			/* Written: the change stands, others reload later. */
			op->unacked = true;
			if (rc != -ETIMEDOUT)
				log_warning("rbd %s/%s: cannot notify the "
					    "other "
					    "gateways of a state change: %s",
				    st->rl->pool, st->rl->name, strerror(-rc));
		}
		rc = 0;
		break;
	}
	op->io.result = rc;
	if (op->io.cq != NULL)
		backend_cq_post(op->io.cq, &op->io);
	else
		op->io.done(&op->io);
}

/* (Re)establish the watch: the object must exist for it. */
static int rbd_state_watch_start(struct rbd_state *st);

/* Another gateway's notification, or a lost watch: on the watcher. */
static void
rbd_state_do_changed(struct rbd_state *st, struct rbd_state_item *it)
{
	rados_ioctx_t io = st->watcher.io;
	uint8_t *cur = NULL;
	size_t curlen = 0;
	uint64_t ver = 0;
	int rc;

	if (it->kind == RBD_STATE_REWATCH) {
		if (st->watching) {
			rados_unwatch2(io, st->cookie);
			pthread_mutex_lock(&st->lock);
			st->watching = false;
			pthread_mutex_unlock(&st->lock);
		}
		rc = rbd_state_watch_start(st);
		if (rc < 0) {
			/* Once per outage: it is tried every few seconds. */
			if (!st->watch_said)
				log_error("rbd %s/%s: cannot watch the shared "
					  "state: %s; tried again every %d s",
				    st->rl->pool, st->rl->name, strerror(-rc),
				    RBD_STATE_REWATCH_S);
			st->watch_said = true;
			return;
		}
		st->watch_said = false;
		log_notice("rbd %s/%s: watching the shared state again; "
			   "reloading it",
		    st->rl->pool, st->rl->name);
	}
	rc = rbd_state_get(io, st->oid, &cur, &curlen, &ver);
	if (st->fn != NULL)
		st->fn(st->arg, cur, curlen, ver, rc,
		    it->kind == RBD_STATE_NOTIFY ? it->data : NULL,
		    it->kind == RBD_STATE_NOTIFY ? it->len : 0);
	mem_free(cur);
	/* Only now: the writer's command answers after this. */
	if (it->kind == RBD_STATE_NOTIFY)
		rados_notify_ack(io, st->oid, it->notify_id, it->cookie, NULL,
		    0);
}

static void *
rbd_state_thread(void *arg)
{
	struct rbd_state_thread *t = arg;
	struct rbd_state *st = t->st;

	for (;;) {
		struct rbd_state_item *it;
		bool retry = false;

		pthread_mutex_lock(&st->lock);
		while (list_empty(&t->q) && !st->stop) {
			struct timespec ts;

			if (t != &st->watcher || !st->want_watch ||
			    st->watching) {
				pthread_cond_wait(&st->cond, &st->lock);
				continue;
			}
			/* No watch: try again now and then (and reload). */
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += RBD_STATE_REWATCH_S;
			if (pthread_cond_timedwait(&st->cond, &st->lock, &ts) ==
				ETIMEDOUT &&
			    list_empty(&t->q) && !st->stop && !st->watching) {
				retry = true;
				break;
			}
		}
		if (retry) {
			struct rbd_state_item again = {
			    .kind = RBD_STATE_REWATCH};

			pthread_mutex_unlock(&st->lock);
			rbd_state_do_changed(st, &again);
			continue;
		}
		if (list_empty(&t->q)) {
			pthread_mutex_unlock(&st->lock);
			return NULL;
		}
		it = list_entry(t->q.next, struct rbd_state_item, node);
		list_remove(&it->node);
		pthread_mutex_unlock(&st->lock);
		if (it->kind == RBD_STATE_UPDATE)
			rbd_state_do_update(st, it->op);
		else
			rbd_state_do_changed(st, it);
		mem_free(it->data);
		mem_free(it);
	}
}

/* librados' thread: hand it to the watcher (never block here). */
static void
rbd_state_notified(void *arg, uint64_t notify_id, uint64_t cookie,
    uint64_t notifier, void *data, size_t len)
{
	struct rbd_state *st = arg;
	struct rbd_state_item *it;

	if (notifier == st->self)
		goto ack; /* our own change: installed by its command */
	it = mem_zalloc(sizeof(*it));
	if (it != NULL && len > 0) {
		it->data = mem_alloc(len);
		if (it->data == NULL) {
			mem_free(it);
			it = NULL;
		} else {
			memcpy(it->data, data, len);
			it->len = len;
		}
	}
	if (it == NULL) {
		log_error("rbd %s/%s: out of memory for a state change of "
			  "another gateway; it is not applied here",
		    st->rl->pool, st->rl->name);
		goto ack;
	}
	it->kind = RBD_STATE_NOTIFY;
	it->notify_id = notify_id;
	it->cookie = cookie;
	rbd_state_post(&st->watcher, it);
	return;
ack:
	rados_notify_ack(st->watcher.io, st->oid, notify_id, cookie, NULL, 0);
}

/* librados' thread: the watch broke (OSD moved, session lost). */
static void
rbd_state_watch_error(void *arg, uint64_t cookie, int err)
{
	struct rbd_state *st = arg;
	struct rbd_state_item *it = mem_zalloc(sizeof(*it));

	(void)cookie;
	log_warning("rbd %s/%s: watch of the shared state lost: %s; changes "
		    "through other gateways may have been missed",
	    st->rl->pool, st->rl->name, strerror(-err));
	if (it == NULL)
		return;
	it->kind = RBD_STATE_REWATCH;
	rbd_state_post(&st->watcher, it);
}

static int
rbd_state_watch_start(struct rbd_state *st)
{
	rados_write_op_t w = rados_create_write_op();
	int rc;

	if (w == NULL)
		return -ENOMEM;
	/* An empty object (no state) when there is none: watchable. */
	rados_write_op_create(w, LIBRADOS_CREATE_IDEMPOTENT, NULL);
	rc = rados_write_op_operate(w, st->watcher.io, st->oid, NULL, 0);
	rados_release_write_op(w);
	if (rc < 0)
		return rc;
	rc = rados_watch2(st->watcher.io, st->oid, &st->cookie,
	    rbd_state_notified, rbd_state_watch_error, st);
	if (rc == 0) {
		pthread_mutex_lock(&st->lock);
		st->watching = true;
		pthread_mutex_unlock(&st->lock);
	}
	return rc;
}

static int
rbd_state_thread_start(struct rbd_state *st, struct rbd_state_thread *t)
{
	int rc;

	t->st = st;
	list_init(&t->q);
	rc = rados_ioctx_create2(st->cluster->rados,
	    rados_ioctx_get_id(st->rl->ioctx), &t->io);
	if (rc < 0)
		return rc;
	rados_ioctx_set_namespace(t->io, st->rl->ns);
	rc = pthread_create(&t->th, NULL, rbd_state_thread, t);
	if (rc != 0) {
		rados_ioctx_destroy(t->io);
		return -rc;
	}
	t->running = true;
	return 0;
}

/*
 * The store's state, made on first use: LU creation, on the main thread
 * (it may connect the state's client, see rbd_state_update()).
 */
static int
rbd_state_get_st(struct backend *be, struct rbd_state **out)
{
	struct rbd_lu *rl = be->priv;
	struct rbd_state *st;
	char id[96], why[256];
	int rc;

	if (rl->reservations != NULL) {
		*out = rl->reservations;
		return 0;
	}
	rc = rbd_get_id(rl->image, id, sizeof(id));
	if (rc < 0)
		return rc;
	st = mem_zalloc(sizeof(*st));
	if (st == NULL)
		return -ENOMEM;
	st->rl = rl;
	rc = rbd_cluster_get(rl->cluster->conf, rl->cluster->user,
	    rl->cluster->keyring, true, &st->cluster, why, sizeof(why));
	if (rc < 0) {
		log_error("rbd %s/%s: no client for the shared reservations: "
			  "%s",
		    rl->pool, rl->name, why);
		mem_free(st);
		return rc;
	}
	snprintf(st->oid, sizeof(st->oid), "ietd.state.%s", id);
	st->self = rados_get_instance_id(st->cluster->rados);
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cond, NULL);
	rc = rbd_state_thread_start(st, &st->writer);
	if (rc == 0) {
		rc = rbd_state_thread_start(st, &st->watcher);
		if (rc < 0) {
			rl->reservations = st;
			rbd_state_close(rl);
			return rc;
		}
	}
	if (rc < 0) {
		pthread_cond_destroy(&st->cond);
		pthread_mutex_destroy(&st->lock);
		rbd_cluster_put(st->cluster);
		mem_free(st);
		return rc;
	}
	rl->reservations = st;
	*out = st;
	return 0;
}

static int
rbd_state_read(struct backend *be, uint8_t **out, size_t *len,
    uint64_t *version)
{
	struct rbd_state *st;
	int rc = rbd_state_get_st(be, &st);

	if (rc < 0)
		return rc;
	/* LU creation, before the watch: the watcher's context is free. */
	return rbd_state_get(st->watcher.io, st->oid, out, len, version);
}

static void
rbd_state_update(struct backend *be, struct backend_state_op *op)
{
	struct rbd_lu *rl = be->priv;
	/*
	 * Made at LU creation (read, watch) on the main thread; never here,
	 * on an event thread, where connecting its client could block.
	 */
	struct rbd_state *st = rl->reservations;
	struct rbd_state_item *it = NULL;
	int rc = st != NULL ? 0 : -ENOTCONN;

	if (rc == 0) {
		it = mem_zalloc(sizeof(*it));
		rc = it != NULL ? 0 : -ENOMEM;
	}
	if (rc < 0) {
		op->io.result = rc;
		if (op->io.cq != NULL)
			backend_cq_post(op->io.cq, &op->io);
		else
			op->io.done(&op->io);
		return;
	}
	it->kind = RBD_STATE_UPDATE;
	it->op = op;
	rbd_state_post(&st->writer, it);
}

static int
rbd_state_watch(struct backend *be, backend_state_changed_fn *fn, void *arg)
{
	struct rbd_state *st;
	int rc = rbd_state_get_st(be, &st);

	if (rc < 0)
		return rc;
	st->fn = fn;
	st->arg = arg;
	rc = rbd_state_watch_start(st);
	if (rc == 0) {
		/*
		 * The state was read before the watch began (LU creation): a
		 * change made in between, or a first read that failed, would
		 * go unseen until the next change. Read it once more.
		 */
		struct rbd_state_item *it = mem_zalloc(sizeof(*it));

		if (it != NULL) {
			it->kind = RBD_STATE_RELOAD;
			rbd_state_post(&st->watcher, it);
		}
	}
	/* From now on the watcher tries again while there is no watch. */
	pthread_mutex_lock(&st->lock);
	st->want_watch = true;
	st->watch_said = rc < 0;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

void
rbd_state_close(struct rbd_lu *rl)
{
	struct rbd_state *st = rl->reservations;
	struct rbd_state_thread *ts[2];

	if (st == NULL)
		return;
	ts[0] = &st->writer;
	ts[1] = &st->watcher;
	/*
	 * The threads first (they end their queues), so none sets the watch
	 * up again behind the unwatch; then no callback runs after the
	 * flush, and what they queued meanwhile is dropped.
	 */
	pthread_mutex_lock(&st->lock);
	st->stop = true;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
	for (unsigned int i = 0; i < 2; i++)
		if (ts[i]->running)
			pthread_join(ts[i]->th, NULL);
	if (st->watching)
		rados_unwatch2(st->watcher.io, st->cookie);
	rados_watch_flush(st->cluster->rados);
	for (unsigned int i = 0; i < 2; i++) {
		if (!ts[i]->running)
			continue;
		while (!list_empty(&ts[i]->q)) {
			struct rbd_state_item *it = list_entry(ts[i]->q.next,
			    struct rbd_state_item, node);

			list_remove(&it->node);
			mem_free(it->data);
			mem_free(it);
		}
		rados_ioctx_destroy(ts[i]->io);
	}
	pthread_cond_destroy(&st->cond);
	pthread_mutex_destroy(&st->lock);
	rbd_cluster_put(st->cluster);
	mem_free(st);
	rl->reservations = NULL;
}

const struct backend_state_ops backend_rbd_state_ops = {
    .read = rbd_state_read,
    .update = rbd_state_update,
    .watch = rbd_state_watch,
};
