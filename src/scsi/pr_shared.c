/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Persistent reservations of an LU that several ietd gateways export
 * (the same store, Type=rbd): one state for all of them, kept in the
 * store's shared state (backend.h; for RBD a RADOS object beside the
 * image), in pr_store.c's format. So a registration made through one
 * gateway and a reservation taken through another conflict as they would
 * on one box (SPC-4 5.13), and APTPL is that state itself: it outlives
 * every gateway (no state file for such an LU).
 *
 * Each gateway keeps a copy of the state in its LU, which every command's
 * conflict check reads. A PERSISTENT RESERVE OUT reads the current state
 * on the store's state thread, applies the command to a copy, and writes
 * it back only if nobody wrote in between (compare-and-set; applied again
 * on the newer state otherwise). The unit attentions and aborts the
 * change means are recorded on the copy (struct scsi_pr_rec) instead of
 * delivered: the writer sends them to the other gateways with the
 * notification that invalidates their copies, and the command answers
 * only once they have installed the new state, delivered them to their
 * own nexuses and ended the aborted commands (PREEMPT AND ABORT), or the
 * store's notify timeout passed. Then the writer installs it too.
 *
 * The note: count (4), then per entry ASC (1), ASCQ (1; both 0: abort
 * the registration's commands), flags (1: ALL_TG_PT 01h, name-only 02h),
 * 0 (1), relative target port (2), initiator and target port name lengths
 * (2 each), the names; big-endian. What another gateway sends is checked
 * like a state file is: it is data from the network.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "scsi/scsi_int.h"
#include "scsi/scsi_proto.h"
#include "util/alloc.h"
#include "util/be.h"
#include "util/log.h"

#define PR_NOTE_HDR 4
#define PR_NOTE_ENT 10
#define PR_NOTE_ALL_TG_PT 0x01
#define PR_NOTE_ANY_ISID 0x02
/* A change touches each registration at most twice (UA and abort). */
#define PR_NOTE_MAX_ENTS (2 * SCSI_PR_REGS_MAX + 16)
/*
 * How long a gateway waits for the commands a PREEMPT AND ABORT through
 * another gateway aborted here, before it answers anyway (below the
 * writer's notify timeout, so the writer hears an answer).
 */
#define PR_SHARED_ABORT_WAIT_MS 8000

struct pr_rec_ent {
	struct scsi_pr_reg reg; /* its names and flags only */
	uint8_t asc, ascq;      /* both 0: abort its commands */
};

struct scsi_pr_rec {
	struct pr_rec_ent *ents;
	unsigned int n, cap;
	bool overflow; /* out of memory: the change fails */
};

/* An LU's link to its store's shared state. */
struct scsi_pr_shared {
	struct scsi_lu *lu;
	/* The state thread's: remote aborts complete through this queue. */
	struct backend_cq *cq;
	struct scsi_queue q;
	/*
	 * The version of the shared state installed (lu->lock): a copy of
	 * an older one arriving late (the writer's own, after a newer change
	 * through another gateway) is not installed.
	 */
	uint64_t installed;
	bool abort_done; /* the state thread's current remote abort ended */
	struct log_ratelimit bad_rl;
};

void
scsi_pr_rec_add(struct scsi_pr_rec *rec, const struct scsi_pr_reg *r,
    uint8_t asc, uint8_t ascq)
{
	struct pr_rec_ent *e;

	if (rec->n == rec->cap) {
		unsigned int cap = rec->cap ? 2 * rec->cap : 16;
		struct pr_rec_ent *n;

		if (cap > PR_NOTE_MAX_ENTS) {
			rec->overflow = true;
			return;
		}
		n = mem_realloc(rec->ents, cap * sizeof(*n));
		if (n == NULL) {
			rec->overflow = true;
			return;
		}
		rec->ents = n;
		rec->cap = cap;
	}
	e = &rec->ents[rec->n++];
	memset(e, 0, sizeof(*e));
	e->reg.all_tg_pt = r->all_tg_pt;
	e->reg.any_isid = r->any_isid;
	e->reg.rel_port_id = r->rel_port_id;
	snprintf(e->reg.initiator_port, sizeof(e->reg.initiator_port), "%s",
	    r->initiator_port);
	snprintf(e->reg.target_port, sizeof(e->reg.target_port), "%s",
	    r->target_port);
	e->asc = asc;
	e->ascq = ascq;
}

static void
pr_rec_free(struct scsi_pr_rec *rec)
{
	if (rec == NULL)
		return;
	mem_free(rec->ents);
	mem_free(rec);
}

static int
pr_note_encode(const struct scsi_pr_rec *rec, uint8_t **out, size_t *outlen)
{
	size_t n = PR_NOTE_HDR, off = PR_NOTE_HDR;
	uint8_t *b;

	for (unsigned int i = 0; i < rec->n; i++)
		n += PR_NOTE_ENT + strlen(rec->ents[i].reg.initiator_port) +
		    strlen(rec->ents[i].reg.target_port);
	b = mem_zalloc(n);
	if (b == NULL)
		return -ENOMEM;
	put_be32(b, rec->n);
	for (unsigned int i = 0; i < rec->n; i++) {
		const struct pr_rec_ent *e = &rec->ents[i];
		size_t il = strlen(e->reg.initiator_port);
		size_t tl = strlen(e->reg.target_port);

		b[off] = e->asc;
		b[off + 1] = e->ascq;
		b[off + 2] = (e->reg.all_tg_pt ? PR_NOTE_ALL_TG_PT : 0) |
		    (e->reg.any_isid ? PR_NOTE_ANY_ISID : 0);
		put_be16(b + off + 4, e->reg.rel_port_id);
		put_be16(b + off + 6, (uint16_t)il);
		put_be16(b + off + 8, (uint16_t)tl);
		memcpy(b + off + PR_NOTE_ENT, e->reg.initiator_port, il);
		memcpy(b + off + PR_NOTE_ENT + il, e->reg.target_port, tl);
		off += PR_NOTE_ENT + il + tl;
	}
	*out = b;
	*outlen = n;
	return 0;
}

/* Decode another gateway's note into rec; NULL, or what is wrong. */
static const char *
pr_note_decode(const uint8_t *b, size_t len, struct scsi_pr_rec *rec)
{
	size_t off = PR_NOTE_HDR;
	uint32_t n;

	if (len < PR_NOTE_HDR)
		return "shorter than its header";
	n = get_be32(b);
	if (n > PR_NOTE_MAX_ENTS)
		return "more entries than a change makes";
	for (uint32_t i = 0; i < n; i++) {
		struct scsi_pr_reg r;
		size_t il, tl;

		if (len - off < PR_NOTE_ENT)
			return "entry cut short";
		il = get_be16(b + off + 6);
		tl = get_be16(b + off + 8);
		if (len - off - PR_NOTE_ENT < il + tl)
			return "entry names cut short";
		if (b[off + 2] & ~(PR_NOTE_ALL_TG_PT | PR_NOTE_ANY_ISID))
			return "unknown entry flags";
		memset(&r, 0, sizeof(r));
		r.all_tg_pt = b[off + 2] & PR_NOTE_ALL_TG_PT;
		r.any_isid = b[off + 2] & PR_NOTE_ANY_ISID;
		r.rel_port_id = get_be16(b + off + 4);
		if (!scsi_pr_name_decode(b + off + PR_NOTE_ENT, il,
			r.initiator_port, sizeof(r.initiator_port)) ||
		    !scsi_pr_name_decode(b + off + PR_NOTE_ENT + il, tl,
			r.target_port, sizeof(r.target_port)))
			return "bad port name in an entry";
		scsi_pr_rec_add(rec, &r, b[off], b[off + 1]);
		if (rec->overflow)
			return "out of memory";
		off += PR_NOTE_ENT + il + tl;
	}
	if (off != len)
		return "bytes after the last entry";
	return NULL;
}

/* An empty LU that holds only a PR state (a copy), named like lu. */
static struct scsi_lu *
pr_copy_new(const struct scsi_lu *lu)
{
	struct scsi_lu *c = mem_zalloc(sizeof(*c));

	if (c == NULL)
		return NULL;
	c->lun = lu->lun;
	c->reserve_shared = true;
	memcpy(c->naa, lu->naa, sizeof(c->naa));
	memcpy(c->target_name, lu->target_name, sizeof(c->target_name));
	list_init(&c->pr_regs);
	list_init(&c->itls);
	list_init(&c->tasks);
	list_init(&c->pending);
	return c;
}

void
scsi_pr_shared_free_copy(struct scsi_lu *copy)
{
	if (copy == NULL)
		return;
	scsi_pr_free(copy);
	pr_rec_free(copy->pr_rec);
	mem_free(copy);
}

/*
 * A copy of the state in cur (NULL or empty: none yet); NULL and
 * *why when cur is not a state ietd wrote for this LU.
 */
static struct scsi_lu *
pr_copy_of(struct scsi_lu *lu, const uint8_t *cur, size_t curlen,
    uint64_t version, const char **why)
{
	struct scsi_lu *c = pr_copy_new(lu);

	*why = NULL;
	if (c == NULL) {
		*why = "out of memory";
		return NULL;
	}
	if (cur != NULL && curlen > 0)
		*why = scsi_pr_store_parse(lu, cur, curlen, c);
	if (*why != NULL) {
		mem_free(c);
		return NULL;
	}
	/* A copy has no state file: the field holds its version instead. */
	c->pr_store_seq = version;
	return c;
}

static void
pr_shared_bad(struct scsi_lu *lu, const char *what, const char *why)
{
	unsigned int dropped;

	if (log_ratelimit_pass(&lu->pr_shared->bad_rl, &dropped))
		log_error("persistent reservations: target %s lun %llu: "
			  "shared state %s: %s; not used",
		    lu->target_name, (unsigned long long)lu->lun, what, why);
}

static bool
pr_nexus_named(const struct scsi_nexus *nx, const void *ctx)
{
	const struct scsi_lu *lu = ctx;

	return strcasecmp(nx->initiator_port, lu->reserve_iport) == 0 &&
	    strcasecmp(nx->target_port, lu->reserve_tport) == 0;
}

/*
 * The SPC-2 holder's nexus here, if it is one of ours, so its loss ends
 * the reservation (scsi_lu_nexus_gone); 0 (no nexus has it) otherwise.
 */
static void
pr_resv_holder_id(struct scsi_lu *lu)
{
	uint64_t id = 0;

	if (!lu->reserved || scsi_nexus_find(pr_nexus_named, lu, &id, 1) != 1)
		id = 0;
	lu->reserve_holder = id;
}

void
scsi_pr_shared_install(struct scsi_lu *lu, struct scsi_lu *copy,
    struct scsi_abort_wait *w, struct list_node *stopped)
{
	struct scsi_pr_rec *rec = copy->pr_rec;

	/* Older than what is installed: its events still count. */
	if (copy->pr_store_seq >= lu->pr_shared->installed) {
		lu->pr_shared->installed = copy->pr_store_seq;
		scsi_pr_state_move(lu, copy);
		pr_resv_holder_id(lu);
	}
	if (rec == NULL)
		return;
	for (unsigned int i = 0; i < rec->n; i++) {
		const struct pr_rec_ent *e = &rec->ents[i];

		if (e->asc == 0 && e->ascq == 0) {
			if (w != NULL)
				scsi_pr_abort_reg(lu, &e->reg, w, stopped);
		} else {
			scsi_pr_ua(lu, &e->reg, e->asc, e->ascq);
		}
	}
}

/* One PERSISTENT RESERVE OUT on its way through the shared state. */
struct pr_shared_op {
	struct backend_state_op op;
	struct scsi_lu *lu; /* a reference, for the op's life */
	bool (*apply)(void *arg, struct scsi_lu *copy);
	void (*done)(void *arg, struct scsi_lu *copy, int err, bool unacked);
	void *arg;
	struct scsi_lu *copy; /* the last attempt's */
	bool wrote;
	bool ref; /* holds a reference to lu */
};

static int
pr_shared_op_apply(struct backend_state_op *op, const uint8_t *cur,
    size_t curlen, uint8_t **out, size_t *outlen, uint8_t **note,
    size_t *notelen)
{
	struct pr_shared_op *s = (struct pr_shared_op *)op;
	const char *why;
	int rc;

	scsi_pr_shared_free_copy(s->copy);
	s->copy = pr_copy_of(s->lu, cur, curlen, 0, &why);
	s->wrote = false;
	if (s->copy == NULL) {
		/* Never overwritten blindly: an administrator looks first. */
		pr_shared_bad(s->lu, "cannot be changed", why);
		return cur != NULL ? -EILSEQ : -ENOMEM;
	}
	s->copy->pr_rec = mem_zalloc(sizeof(*s->copy->pr_rec));
	if (s->copy->pr_rec == NULL)
		return -ENOMEM;
	if (!s->apply(s->arg, s->copy))
		return 1;
	if (s->copy->pr_rec->overflow)
		return -ENOMEM;
	rc = scsi_pr_store_encode(s->copy, out, outlen);
	if (rc < 0)
		return rc;
	rc = pr_note_encode(s->copy->pr_rec, note, notelen);
	if (rc < 0) {
		mem_free(*out);
		*out = NULL;
		return rc;
	}
	s->wrote = true;
	return 0;
}

static void
pr_shared_op_done(struct backend_io *io)
{
	struct pr_shared_op *s = io->arg;
	struct scsi_lu *lu = s->lu;

	if (io->result < 0) {
		if (io->result != -EILSEQ)
			log_error("persistent reservations: target %s lun "
				  "%llu: "
				  "cannot update the shared state: %s",
			    lu->target_name, (unsigned long long)lu->lun,
			    strerror(-io->result));
		s->done(s->arg, NULL, io->result, false);
	} else {
		if (s->op.unacked)
			log_warning("persistent reservations: target %s lun "
				    "%llu: a gateway did not confirm a "
				    "reservation change in time; it reloads "
				    "the state when its watch comes back",
			    lu->target_name, (unsigned long long)lu->lun);
		s->copy->pr_store_seq = s->op.version;
		s->done(s->arg, s->copy, 0, s->op.unacked);
	}
	scsi_pr_shared_free_copy(s->copy);
	if (s->ref)
		scsi_lu_put(lu);
	mem_free(s);
}

int
scsi_pr_shared_update(struct scsi_lu *lu, struct scsi_task *task,
    bool (*apply)(void *arg, struct scsi_lu *copy),
    void (*done)(void *arg, struct scsi_lu *copy, int err, bool unacked),
    void *arg)
{
	struct pr_shared_op *s;

	if (lu->pr_shared == NULL)
		return -ENOMEM; /* scsi_pr_shared_open() said why */
	s = mem_zalloc(sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	/*
	 * Without a task (a nexus lost, an LU reset) done() runs on the
	 * store's thread, which the LU's end waits for: no reference, as
	 * the last one dropped there would wait for itself.
	 */
	if (task != NULL)
		scsi_lu_get(lu);
	s->ref = task != NULL;
	s->lu = lu;
	s->apply = apply;
	s->done = done;
	s->arg = arg;
	s->op.apply = pr_shared_op_apply;
	s->op.io.done = pr_shared_op_done;
	s->op.io.arg = s;
	s->op.io.cq = task != NULL ? task->queue->cq : NULL;
	backend_state_update(lu->be, &s->op);
	return 0;
}

/* SPC-2 RESERVE or RELEASE (reserve.c) through the shared state. */
struct pr_resv_op {
	struct scsi_lu *lu;
	struct scsi_task *task; /* NULL: release for a lost nexus, a reset */
	bool reserve;
	bool conflict;
	char iport[256], tport[256]; /* the nexus ("": any, a reset) */
};

static bool
pr_resv_apply(void *arg, struct scsi_lu *copy)
{
	struct pr_resv_op *x = arg;
	bool mine = copy->reserved &&
	    (x->iport[0] == '\0' ||
		(strcasecmp(copy->reserve_iport, x->iport) == 0 &&
		    strcasecmp(copy->reserve_tport, x->tport) == 0));

	x->conflict = false;
	if (!x->reserve) {
		/* SPC-2 7.17: releasing another's reservation does nothing. */
		if (!mine)
			return false;
		copy->reserved = false;
		return true;
	}
	/* SPC-4 5.13.3: not while persistent registrations exist. */
	if ((copy->reserved && !mine) || !list_empty(&copy->pr_regs)) {
		x->conflict = true;
		return false;
	}
	if (mine)
		return false;
	copy->reserved = true;
	snprintf(copy->reserve_iport, sizeof(copy->reserve_iport), "%s",
	    x->iport);
	snprintf(copy->reserve_tport, sizeof(copy->reserve_tport), "%s",
	    x->tport);
	return true;
}

static void
pr_resv_done(void *arg, struct scsi_lu *copy, int err, bool unacked)
{
	struct pr_resv_op *x = arg;
	struct scsi_task *task = x->task;

	(void)unacked;
	if (copy != NULL) {
		pthread_mutex_lock(&x->lu->lock);
		scsi_pr_shared_install(x->lu, copy, NULL, NULL);
		pthread_mutex_unlock(&x->lu->lock);
	}
	if (task != NULL) {
		if (err < 0)
			scsi_task_set_sense(task, SK_HARDWARE_ERROR,
			    ASC_INTERNAL_TARGET_FAILURE);
		else if (x->conflict)
			scsi_task_set_status(task,
			    SCSI_STATUS_RESERVATION_CONFLICT);
		scsi_task_finish_later(task);
	}
	mem_free(x);
}

void
scsi_pr_shared_reserve(struct scsi_task *task, bool reserve)
{
	struct pr_resv_op *x;

	if (task->queue == NULL || (x = mem_zalloc(sizeof(*x))) == NULL) {
		scsi_task_set_status(task, SCSI_STATUS_BUSY);
		return;
	}
	x->lu = task->lu;
	x->task = task;
	x->reserve = reserve;
	if (task->nexus != NULL) {
		snprintf(x->iport, sizeof(x->iport), "%s",
		    task->nexus->initiator_port);
		snprintf(x->tport, sizeof(x->tport), "%s",
		    task->nexus->target_port);
	}
	task->completes_later = true;
	if (scsi_pr_shared_update(task->lu, task, pr_resv_apply, pr_resv_done,
		x) == 0)
		return;
	task->completes_later = false;
	mem_free(x);
	scsi_task_set_status(task, SCSI_STATUS_BUSY);
}

void
scsi_pr_shared_release(struct scsi_lu *lu, const char *iport, const char *tport)
{
	struct pr_resv_op *x = mem_zalloc(sizeof(*x));

	if (x == NULL) {
		log_error("persistent reservations: target %s lun %llu: out of "
			  "memory to end an SPC-2 reservation in the shared "
			  "state",
		    lu->target_name, (unsigned long long)lu->lun);
		return;
	}
	x->lu = lu;
	if (iport != NULL) {
		snprintf(x->iport, sizeof(x->iport), "%s", iport);
		snprintf(x->tport, sizeof(x->tport), "%s", tport);
	}
	if (scsi_pr_shared_update(lu, NULL, pr_resv_apply, pr_resv_done, x) !=
	    0)
		mem_free(x);
}

static void
pr_shared_abort_done(void *arg)
{
	struct scsi_pr_shared *sh = arg;

	sh->abort_done = true;
}

static uint64_t
pr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Another gateway changed the state (on the store's state thread): it
 * becomes ours, and what the change means for our nexuses is delivered
 * here before we return (and the writer hears that we did).
 */
static void
pr_shared_changed(void *arg, const uint8_t *cur, size_t curlen,
    uint64_t version, int err, const uint8_t *note, size_t notelen)
{
	struct scsi_lu *lu = arg;
	struct scsi_pr_shared *sh = lu->pr_shared;
	struct scsi_abort_wait *w = NULL;
	struct list_node stopped;
	struct scsi_lu *copy = NULL;
	struct scsi_pr_rec *rec;
	const char *why;
	uint64_t until;

	if (err < 0) {
		pr_shared_bad(lu, "cannot be read", strerror(-err));
		return;
	}
	copy = pr_copy_of(lu, cur, curlen, version, &why);
	if (copy == NULL) {
		/* Keep what we had: better than trusting a corrupted one. */
		pr_shared_bad(lu, "as another gateway left it", why);
		return;
	}
	rec = mem_zalloc(sizeof(*rec));
	if (rec != NULL && note != NULL) {
		why = pr_note_decode(note, notelen, rec);
		if (why != NULL) {
			pr_shared_bad(lu, "change note", why);
			rec->n = 0;
		}
	}
	copy->pr_rec = rec;
	list_init(&stopped);
	if (rec != NULL)
		for (unsigned int i = 0; i < rec->n && w == NULL; i++)
			if (rec->ents[i].asc == 0 && rec->ents[i].ascq == 0)
				w = scsi_abort_wait_new(&sh->q,
				    pr_shared_abort_done, sh);
	sh->abort_done = false;
	pthread_mutex_lock(&lu->lock);
	scsi_pr_shared_install(lu, copy, w, &stopped);
	pthread_mutex_unlock(&lu->lock);
	scsi_pr_shared_free_copy(copy);
	if (w == NULL)
		return;
	/*
	 * PREEMPT AND ABORT through another gateway: its commands here end
	 * before it answers, or (a command stuck in the store) we stop
	 * waiting and answer anyway.
	 */
	scsi_abort_wait_start(lu, w, &stopped);
	until = pr_now_ms() + PR_SHARED_ABORT_WAIT_MS;
	while (!sh->abort_done) {
		struct pollfd pfd = {.fd = backend_cq_fd(sh->cq),
		    .events = POLLIN};
		uint64_t now = pr_now_ms();

		backend_cq_drain(sh->cq);
		if (sh->abort_done || now >= until)
			break;
		(void)poll(&pfd, 1, (int)(until - now));
	}
	if (!sh->abort_done)
		log_warning("persistent reservations: target %s lun %llu: "
			    "commands aborted by a PREEMPT AND ABORT through "
			    "another gateway still run after %u ms",
		    lu->target_name, (unsigned long long)lu->lun,
		    PR_SHARED_ABORT_WAIT_MS);
}

bool
scsi_pr_shared_open(struct scsi_lu *lu)
{
	struct scsi_pr_shared *sh;
	struct scsi_lu *copy;
	const char *why;
	uint8_t *b = NULL;
	size_t len = 0;
	uint64_t version = 0;
	int rc;

	if (!backend_state_shared(lu->be))
		return false;
	sh = mem_zalloc(sizeof(*sh));
	if (sh != NULL)
		sh->cq = backend_cq_new();
	if (sh == NULL || sh->cq == NULL) {
		mem_free(sh);
		log_error("persistent reservations: target %s lun %llu: out of "
			  "memory for the shared state; PERSISTENT RESERVE "
			  "OUT answers BUSY, other gateways' changes unseen",
		    lu->target_name, (unsigned long long)lu->lun);
		return true;
	}
	sh->lu = lu;
	sh->q.cq = sh->cq;
	lu->reserve_shared = true;
	lu->pr_shared = sh;
	rc = backend_state_read(lu->be, &b, &len, &version);
	if (rc < 0) {
		pr_shared_bad(lu, "cannot be read", strerror(-rc));
	} else if ((copy = pr_copy_of(lu, b, len, version, &why)) == NULL) {
		pr_shared_bad(lu, "at start", why);
	} else {
		pthread_mutex_lock(&lu->lock);
		scsi_pr_shared_install(lu, copy, NULL, NULL);
		pthread_mutex_unlock(&lu->lock);
		scsi_pr_shared_free_copy(copy);
		if (len > 0)
			log_info("persistent reservations: target %s lun %llu: "
				 "%u registration(s)%s in the shared state",
			    lu->target_name, (unsigned long long)lu->lun,
			    lu->pr_nregs,
			    lu->pr_held ? " and the reservation" : "");
	}
	mem_free(b);
	rc = backend_state_watch(lu->be, pr_shared_changed, lu);
	if (rc < 0)
		log_error("persistent reservations: target %s lun %llu: "
			  "cannot watch the shared state: %s; tried again "
			  "every few seconds, other gateways' changes unseen "
			  "here until then",
		    lu->target_name, (unsigned long long)lu->lun,
		    strerror(-rc));
	return true;
}

void
scsi_pr_shared_close(struct scsi_lu *lu)
{
	struct scsi_pr_shared *sh = lu->pr_shared;

	if (sh == NULL)
		return;
	backend_cq_drain(sh->cq);
	backend_cq_free(sh->cq);
	mem_free(sh);
	lu->pr_shared = NULL;
}
