/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Task execution: the opcode table, unit attention and reservation checks
 * done before a command runs (SAM-5 5.14, SPC-2 5.5.1), and the task set
 * of each LU that keeps SAM-5 8.6 ordering: ORDERED waits for every older
 * task and holds the younger ones, HEAD OF QUEUE goes first, and media
 * commands over overlapping blocks never overtake one another.
 */
#include <errno.h>
#include <string.h>

#include "scsi/scsi_int.h"
#include "scsi/scsi_proto.h"
#include "util/alloc.h"
#include "util/check.h"
#include "util/databuf.h"
#include "util/objcache.h"

#define OP(op_, flags_, len_, run_, start_) \
	[op_] = {.flags = (flags_),         \
	    .cdb_len = (len_),              \
	    .run = (run_),                  \
	    .start = (start_)}

/* SPC-2 5.5.1 table: which commands pass another nexus's reservation. */
static const struct scsi_op scsi_ops[256] = {
    OP(SCSI_OP_TEST_UNIT_READY, 0, 6, scsi_spc_test_unit_ready, NULL),
    OP(SCSI_OP_REQUEST_SENSE, SCSI_F_NO_UA | SCSI_F_RESV_OK, 6,
	scsi_spc_request_sense, NULL),
    OP(SCSI_OP_INQUIRY, SCSI_F_NO_UA | SCSI_F_RESV_OK, 6, scsi_spc_inquiry,
	NULL),
    OP(SCSI_OP_REPORT_LUNS, SCSI_F_NO_UA | SCSI_F_RESV_OK, 12,
	scsi_spc_report_luns, NULL),
    /* SPC-4 table 49: MODE SENSE conflicts with Exclusive Access. */
    OP(SCSI_OP_MODE_SENSE_6, SCSI_F_PR_READ, 6, scsi_spc_mode_sense, NULL),
    OP(SCSI_OP_MODE_SENSE_10, SCSI_F_PR_READ, 10, scsi_spc_mode_sense, NULL),
    OP(SCSI_OP_MODE_SELECT_6, SCSI_F_PR_WRITE, 6, scsi_spc_mode_select, NULL),
    OP(SCSI_OP_MODE_SELECT_10, SCSI_F_PR_WRITE, 10, scsi_spc_mode_select, NULL),
    OP(SCSI_OP_RESERVE_6, SCSI_F_PR_WRITE, 6, scsi_spc_reserve, NULL),
    OP(SCSI_OP_RESERVE_10, SCSI_F_PR_WRITE, 10, scsi_spc_reserve, NULL),
    OP(SCSI_OP_RELEASE_6, SCSI_F_RESV_OK | SCSI_F_PR_WRITE, 6, scsi_spc_release,
	NULL),
    OP(SCSI_OP_RELEASE_10, SCSI_F_RESV_OK | SCSI_F_PR_WRITE, 10,
	scsi_spc_release, NULL),
    OP(SCSI_OP_PERSISTENT_RESERVE_IN, 0, 10, scsi_pr_in, NULL),
    OP(SCSI_OP_PERSISTENT_RESERVE_OUT, 0, 10, scsi_pr_out, NULL),
    OP(SCSI_OP_MAINTENANCE_IN, SCSI_F_RESV_OK, 12, scsi_spc_maintenance_in,
	NULL),
    OP(SCSI_OP_MAINTENANCE_OUT, SCSI_F_PR_WRITE, 12, scsi_alua_maintenance_out,
	NULL),
    OP(SCSI_OP_START_STOP_UNIT, SCSI_F_PR_WRITE, 6, scsi_sbc_start_stop, NULL),
    OP(SCSI_OP_READ_CAPACITY_10, SCSI_F_RESV_OK, 10, scsi_sbc_read_capacity10,
	NULL),
    OP(SCSI_OP_SERVICE_ACTION_IN_16, SCSI_F_RESV_OK, 16,
	scsi_sbc_service_action_in, NULL),
    /* SBC-4's PR table conflicts READ DEFECT DATA as it does a write. */
    OP(SCSI_OP_READ_DEFECT_DATA_10, SCSI_F_PR_WRITE, 10, scsi_sbc_read_defect,
	NULL),
    OP(SCSI_OP_READ_DEFECT_DATA_12, SCSI_F_PR_WRITE, 12, scsi_sbc_read_defect,
	NULL),
    OP(SCSI_OP_READ_6, SCSI_F_MEDIA | SCSI_F_PR_READ, 6, NULL, scsi_sbc_rw),
    OP(SCSI_OP_READ_10, SCSI_F_MEDIA | SCSI_F_PR_READ, 10, NULL, scsi_sbc_rw),
    OP(SCSI_OP_READ_12, SCSI_F_MEDIA | SCSI_F_PR_READ, 12, NULL, scsi_sbc_rw),
    OP(SCSI_OP_READ_16, SCSI_F_MEDIA | SCSI_F_PR_READ, 16, NULL, scsi_sbc_rw),
    OP(SCSI_OP_WRITE_6, SCSI_F_MEDIA | SCSI_F_WRITE | SCSI_F_PR_WRITE, 6, NULL,
	scsi_sbc_rw),
    OP(SCSI_OP_WRITE_10, SCSI_F_MEDIA | SCSI_F_WRITE | SCSI_F_PR_WRITE, 10,
	NULL, scsi_sbc_rw),
    OP(SCSI_OP_WRITE_12, SCSI_F_MEDIA | SCSI_F_WRITE | SCSI_F_PR_WRITE, 12,
	NULL, scsi_sbc_rw),
    OP(SCSI_OP_WRITE_16, SCSI_F_MEDIA | SCSI_F_WRITE | SCSI_F_PR_WRITE, 16,
	NULL, scsi_sbc_rw),
    OP(SCSI_OP_WRITE_VERIFY_10, SCSI_F_MEDIA | SCSI_F_WRITE | SCSI_F_PR_WRITE,
	10, NULL, scsi_sbc_rw),
    OP(SCSI_OP_WRITE_VERIFY_12, SCSI_F_MEDIA | SCSI_F_WRITE | SCSI_F_PR_WRITE,
	12, NULL, scsi_sbc_rw),
    OP(SCSI_OP_WRITE_VERIFY_16, SCSI_F_MEDIA | SCSI_F_WRITE | SCSI_F_PR_WRITE,
	16, NULL, scsi_sbc_rw),
    OP(SCSI_OP_VERIFY_10, SCSI_F_MEDIA | SCSI_F_PR_READ, 10, NULL,
	scsi_sbc_verify),
    OP(SCSI_OP_VERIFY_12, SCSI_F_MEDIA | SCSI_F_PR_READ, 12, NULL,
	scsi_sbc_verify),
    OP(SCSI_OP_VERIFY_16, SCSI_F_MEDIA | SCSI_F_PR_READ, 16, NULL,
	scsi_sbc_verify),
    OP(SCSI_OP_PRE_FETCH_10, SCSI_F_MEDIA | SCSI_F_PR_READ, 10, NULL,
	scsi_sbc_prefetch),
    OP(SCSI_OP_PRE_FETCH_16, SCSI_F_MEDIA | SCSI_F_PR_READ, 16, NULL,
	scsi_sbc_prefetch),
    OP(SCSI_OP_SYNCHRONIZE_CACHE_10, SCSI_F_MEDIA | SCSI_F_PR_WRITE, 10, NULL,
	scsi_sbc_sync_cache),
    OP(SCSI_OP_SYNCHRONIZE_CACHE_16, SCSI_F_MEDIA | SCSI_F_PR_WRITE, 16, NULL,
	scsi_sbc_sync_cache),
    OP(SCSI_OP_WRITE_SAME_10, SCSI_F_MEDIA | SCSI_F_WRITE | SCSI_F_PR_WRITE, 10,
	NULL, scsi_sbc_write_same),
    OP(SCSI_OP_WRITE_SAME_16, SCSI_F_MEDIA | SCSI_F_WRITE | SCSI_F_PR_WRITE, 16,
	NULL, scsi_sbc_write_same),
    OP(SCSI_OP_UNMAP, SCSI_F_MEDIA | SCSI_F_WRITE | SCSI_F_PR_WRITE, 10, NULL,
	scsi_sbc_unmap),
    OP(SCSI_OP_ORWRITE_16, SCSI_F_MEDIA | SCSI_F_WRITE | SCSI_F_PR_WRITE, 16,
	NULL, scsi_sbc_orwrite),
    /*
     * The copy's own LUs are checked against reservations in xcopy.c:
     * its source as a read, its destination as a write.
     */
    OP(SCSI_OP_EXTENDED_COPY, SCSI_F_MEDIA, 16, NULL, scsi_xcopy_start),
    OP(SCSI_OP_RECEIVE_COPY_RESULTS, SCSI_F_RESV_OK, 16, scsi_xcopy_results,
	NULL),
    OP(SCSI_OP_COMPARE_AND_WRITE, SCSI_F_MEDIA | SCSI_F_WRITE | SCSI_F_PR_WRITE,
	16, NULL, scsi_sbc_compare_write),
    /* A fence over every block; processed as HEAD OF QUEUE. */
    OP(SCSI_OP_SANITIZE, SCSI_F_MEDIA | SCSI_F_WRITE | SCSI_F_PR_WRITE, 10,
	NULL, scsi_sanitize_start),
    OP(SCSI_OP_WRITE_ATOMIC_16, SCSI_F_MEDIA | SCSI_F_WRITE | SCSI_F_PR_WRITE,
	16, NULL, scsi_sbc_write_atomic),
};

/* Commands per thread kept for reuse: one per task in flight. */
static struct objcache scsi_cmd_cache =
    OBJCACHE_INIT(sizeof(struct scsi_cmd), 1024);

const struct scsi_op *
scsi_op_lookup(uint8_t opcode)
{
	const struct scsi_op *op = &scsi_ops[opcode];

	return op->run != NULL || op->start != NULL ? op : NULL;
}

uint64_t
scsi_task_nexus_id(const struct scsi_task *task)
{
	return task->nexus != NULL ? task->nexus->id : 0;
}

uint32_t
scsi_task_data_out_len(struct scsi_task *task)
{
	task->xfer_out = true;
	return task->data_out && task->data != NULL ? task->data_len : 0;
}

bool
scsi_task_data_out_short(struct scsi_task *task, uint64_t need)
{
	if (scsi_task_data_out_len(task) >= need)
		return false;
	scsi_task_set_sense(task, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_IU);
	return true;
}

static void
scsi_task_reset_result(struct scsi_task *task)
{
	task->status = SCSI_STATUS_GOOD;
	task->sense_len = 0;
	task->xfer_len = 0;
	task->xfer_out = false;
	task->data_in_len = 0;
	task->data_lent = NULL;
}

/* Commands answered for a LUN that does not exist (SPC-4 4.6.4?). */
static void
scsi_task_exec_nolu(struct scsi_task *task, const uint64_t *luns,
    unsigned int n)
{
	switch (task->cdb[0]) {
	case SCSI_OP_INQUIRY:
		scsi_spc_inquiry(task, luns, n);
		break;
	case SCSI_OP_REPORT_LUNS:
		scsi_spc_report_luns(task, luns, n);
		break;
	case SCSI_OP_REQUEST_SENSE:
		scsi_spc_request_sense(task, luns, n);
		break;
	default:
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_LU_NOT_SUPPORTED);
		break;
	}
	task->state = SCSI_TS_DONE;
	task->done(task);
}

/*
 * May cmd start now? Called with lu->lock held; cmd is on lu->tasks and
 * everything before it is older.
 */
static bool
scsi_cmd_can_start(struct scsi_cmd *cmd)
{
	struct scsi_task *task = cmd->task;
	struct list_node *pos;

	bool hoq = task->attr == SCSI_ATTR_HEAD_OF_QUEUE;

	/*
	 * Nothing ordered, nothing writing, not a writer: nothing to wait
	 * for. A HEAD OF QUEUE task ignores the ORDERED fences.
	 */
	if (cmd->lu->set_writers == 0 &&
	    (hoq ||
		(cmd->lu->set_ordered == 0 && task->attr != SCSI_ATTR_ORDERED)))
		return true;
	for (pos = cmd->lu->tasks.next; pos != &task->node; pos = pos->next) {
		struct scsi_task *older =
		    list_entry(pos, struct scsi_task, node);
		struct scsi_cmd *oc = older->internal;

		/*
		 * HEAD OF QUEUE overtakes the ordering (SAM-5 8.6.4) but not
		 * the data: a command never runs beside one that writes
		 * blocks it reads or writes, whatever the attributes, or
		 * a READ could see half of a WRITE ATOMIC (SBC-4 4.29) or of
		 * a COMPARE AND WRITE. A HEAD OF QUEUE task waits only for
		 * such tasks already running, so it still goes first among
		 * the waiting ones; the others also wait for an older HEAD
		 * OF QUEUE task over their blocks.
		 */
		if (hoq && older->state == SCSI_TS_WAITING)
			continue;
		if (!hoq && older->attr != SCSI_ATTR_HEAD_OF_QUEUE &&
		    (task->attr == SCSI_ATTR_ORDERED ||
			older->attr == SCSI_ATTR_ORDERED))
			return false; /* SAM-5 8.6.3: ORDERED fences both ways
				       */
		if (!cmd->has_range || !oc->has_range)
			continue;
		if (!cmd->writes && !oc->writes)
			continue;
		if (cmd->lba < oc->lba + oc->nblocks &&
		    oc->lba < cmd->lba + cmd->nblocks)
			return false;
	}
	return true;
}

static void
scsi_cmd_start(struct scsi_cmd *cmd)
{
	if (cmd->task->aborted ||
	    __atomic_load_n(&cmd->task->aborted_elsewhere, __ATOMIC_ACQUIRE)) {
		/* Never reaches the store (SAM-5 7.2). */
		scsi_cmd_complete(cmd);
		return;
	}
	/*
	 * Queued before a SANITIZE that started ahead of it: refused as
	 * if it had come now (SBC-4 4.11.2).
	 */
	if (__atomic_load_n(&cmd->lu->sanitizing, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&cmd->lu->lock);
		(void)scsi_sanitize_refuse(cmd->lu, cmd->task);
		pthread_mutex_unlock(&cmd->lu->lock);
		scsi_cmd_complete(cmd);
		return;
	}
	cmd->handler(cmd);
}

/* Keep the task set's counts (see struct scsi_lu); lu->lock held. */
static void
scsi_lu_set_count(struct scsi_lu *lu, const struct scsi_cmd *cmd, int delta)
{
	if (cmd->task->attr == SCSI_ATTR_ORDERED)
		lu->set_ordered += (unsigned int)delta;
	if (cmd->has_range && cmd->writes)
		lu->set_writers += (unsigned int)delta;
}

/* Start the waiting tasks that may now run; lu->lock held. */
static void
scsi_lu_collect_ready(struct scsi_lu *lu, struct list_node *ready)
{
	struct list_node *pos;

	if (lu->set_waiting == 0)
		return;
	list_for_each(pos, &lu->tasks) {
		struct scsi_task *t = list_entry(pos, struct scsi_task, node);
		struct scsi_cmd *c = t->internal;

		if (t->state != SCSI_TS_WAITING || !scsi_cmd_can_start(c))
			continue;
		t->state = SCSI_TS_RUNNING;
		lu->set_waiting--;
		/* Borrow the cmd's io node to carry it to the caller. */
		list_add_tail(ready, &c->io.node);
	}
}

static void
scsi_run_ready(struct list_node *ready)
{
	struct list_node *pos, *tmp;

	list_for_each_safe(pos, tmp, ready) {
		struct scsi_cmd *c = list_entry(pos, struct scsi_cmd, io.node);

		list_remove(pos);
		scsi_cmd_start(c);
	}
}

static void
scsi_cmd_free(struct scsi_cmd *cmd)
{
	backend_map_put(cmd->map);
	databuf_free(cmd->buf, cmd->buf_len);
	objcache_free(&scsi_cmd_cache, cmd);
}

/* An announced task's command that the execution did not need. */
static void
scsi_cmd_free_spare(struct scsi_cmd *spare)
{
	if (spare != NULL)
		scsi_cmd_free(spare);
}

/*
 * A reset waiting for the tasks of other nexuses it aborted (see
 * scsi_lu_abort_others): left counts them, plus one for the reset's own
 * call, plus one for each earlier reset it follows (then), all under the
 * LU's lock. A task is waited for by the first reset that found it; a
 * later reset that finds it follows that one, so it waits at least as
 * long as it must. When left reaches 0, io goes to the resetting thread's
 * queue, where done(arg) runs.
 */
struct scsi_abort_wait {
	struct backend_io io;
	unsigned int left;
	struct scsi_abort_wait *then; /* the next reset following this one */
	void (*done)(void *arg);
	void *arg;
};

static void
scsi_abort_wait_fire(struct backend_io *io)
{
	struct scsi_abort_wait *w = io->arg;

	w->done(w->arg);
	mem_free(w);
}

/*
 * One of w's tasks is gone, or a reset it follows is; lu->lock held. Each
 * wait that ends (w, and those following it that end with it) is queued on
 * fired, for scsi_abort_wait_post() once the lock is dropped.
 */
static void
scsi_abort_wait_drop(struct scsi_abort_wait *w, struct list_node *fired)
{
	while (w != NULL && --w->left == 0) {
		list_add_tail(fired, &w->io.node);
		w = w->then;
	}
}

static void
scsi_abort_wait_post(struct list_node *fired)
{
	struct list_node *pos, *tmp;

	list_for_each_safe(pos, tmp, fired) {
		struct scsi_abort_wait *w =
		    list_entry(pos, struct scsi_abort_wait, io.node);

		list_remove(pos);
		backend_cq_post(w->io.cq, &w->io);
	}
}

/*
 * w must not end before first does; lu->lock held. w joins the end of the
 * chain of resets following first, unless it is on it already. Waits are
 * only ever chained to older ones of the same LU, so chains have no loops.
 */
static void
scsi_abort_wait_follow(struct scsi_abort_wait *first, struct scsi_abort_wait *w)
{
	struct scsi_abort_wait *last = first;

	if (first == w)
		return;
	while (last->then != NULL) {
		if (last->then == w)
			return;
		last = last->then;
	}
	last->then = w;
	w->left++;
}

/* Take cmd out of its LU's task set; collects the tasks that may now run. */
static void
scsi_cmd_leave_set(struct scsi_cmd *cmd, struct list_node *ready)
{
	struct scsi_lu *lu = cmd->lu;
	struct list_node fired;

	list_init(ready);
	list_init(&fired);
	pthread_mutex_lock(&lu->lock);
	if (cmd->in_set) {
		list_remove(&cmd->task->node);
		cmd->in_set = false;
		scsi_lu_set_count(lu, cmd, -1);
	}
	if (cmd->task->abort_wait != NULL) {
		scsi_abort_wait_drop(cmd->task->abort_wait, &fired);
		cmd->task->abort_wait = NULL;
	}
	scsi_lu_collect_ready(lu, ready);
	pthread_mutex_unlock(&lu->lock);
	scsi_abort_wait_post(&fired);
}

/* Aborted by another nexus's reset: that is all its initiator hears. */
static void
scsi_task_end_aborted_elsewhere(struct scsi_task *task)
{
	if (!__atomic_load_n(&task->aborted_elsewhere, __ATOMIC_ACQUIRE))
		return;
	scsi_task_reset_result(task);
	task->status = SCSI_STATUS_TASK_ABORTED;
	task->data_in_len = 0;
}

static void
scsi_cmd_finish(struct scsi_cmd *cmd)
{
	struct scsi_task *task = cmd->task;
	struct scsi_lu *lu = cmd->lu;
	struct list_node ready;

	/* Started (or taken off the set's wait) once, finished once. */
	IETD_ASSERT(task->state == SCSI_TS_RUNNING);
	scsi_task_end_aborted_elsewhere(task);
	if (cmd->held) {
		/* Leaves the set in scsi_task_release(), after the send. */
		task->state = SCSI_TS_DONE;
		task->done(task);
		return;
	}
	scsi_cmd_leave_set(cmd, &ready);
	task->internal = NULL;
	task->state = SCSI_TS_DONE;
	scsi_cmd_free(cmd);
	task->done(task);
	scsi_run_ready(&ready);
	scsi_lu_put(lu);
}

void
scsi_cmd_detach(struct scsi_cmd *cmd)
{
	struct scsi_task *task = cmd->task;
	struct scsi_lu *lu = cmd->lu;
	struct list_node ready;

	IETD_ASSERT(task->state == SCSI_TS_RUNNING && !cmd->held);
	scsi_cmd_leave_set(cmd, &ready);
	task->internal = NULL;
	task->completes_later = true;
	scsi_cmd_free(cmd);
	scsi_run_ready(&ready);
	scsi_lu_put(lu);
}

void
scsi_task_release(struct scsi_task *task)
{
	struct scsi_cmd *cmd = task->internal;
	struct scsi_lu *lu;
	struct list_node ready;

	if (cmd == NULL || !cmd->held || task->state != SCSI_TS_DONE)
		return;
	lu = cmd->lu;
	scsi_cmd_leave_set(cmd, &ready);
	task->internal = NULL;
	task->data_lent = NULL;
	scsi_cmd_free(cmd);
	scsi_run_ready(&ready);
	scsi_lu_put(lu);
}

static void
scsi_cmd_posted(struct backend_io *io)
{
	scsi_cmd_finish(io->arg);
}

/* Make io a posted call of fn(io) with arg on task's own thread. */
static void
scsi_post_prep(struct backend_io *io, const struct scsi_task *task,
    void (*fn)(struct backend_io *), void *arg)
{
	memset(io, 0, sizeof(*io));
	io->done = fn;
	io->arg = arg;
	io->cq = task->queue->cq;
}

/*
 * Complete a media command. Inside scsi_task_exec it may finish at once;
 * elsewhere (started by another task's completion, perhaps on another
 * thread) the completion is posted to the task's own queue so done()
 * runs on the owner's thread.
 */
void
scsi_cmd_complete(struct scsi_cmd *cmd)
{
	if (cmd->in_exec || cmd->task->queue == NULL) {
		scsi_cmd_finish(cmd);
		return;
	}
	scsi_post_prep(&cmd->io, cmd->task, scsi_cmd_posted, cmd);
	backend_cq_post(cmd->task->queue->cq, &cmd->io);
}

/*
 * An announced task that an abort took off lu->pending, on its own thread:
 * it never ran and never will. A reset from another nexus makes that
 * TASK ABORTED; an abort of its own nexus leaves aborted set.
 */
static void
scsi_task_pending_posted(struct backend_io *io)
{
	struct scsi_cmd *cmd = io->arg;
	struct scsi_task *task = cmd->task;
	struct scsi_lu *lu = task->lu;
	struct list_node fired;

	IETD_ASSERT(task->state == SCSI_TS_RUNNING);
	task->internal = NULL;
	scsi_cmd_free(cmd);
	task->announced = false;
	scsi_task_end_aborted_elsewhere(task);
	list_init(&fired);
	pthread_mutex_lock(&lu->lock);
	if (task->abort_wait != NULL) {
		scsi_abort_wait_drop(task->abort_wait, &fired);
		task->abort_wait = NULL;
	}
	pthread_mutex_unlock(&lu->lock);
	scsi_abort_wait_post(&fired);
	task->state = SCSI_TS_DONE;
	task->done(task);
	/* The reference scsi_task_announce() took. */
	scsi_lu_put(lu);
}

/* Take an announced task off lu->pending for good; lu->lock held. */
static void
scsi_task_unpend_locked(struct scsi_task *task)
{
	list_remove(&task->node);
	list_init(&task->node);
	task->state = SCSI_TS_RUNNING;
}

int
scsi_task_announce(struct scsi_lu *lu, struct scsi_task *task)
{
	struct scsi_cmd *cmd;

	if (lu == NULL || task->queue == NULL)
		return -EINVAL;
	/*
	 * Its command, made now: it carries an abort to this thread, and
	 * scsi_task_exec() goes on with it.
	 */
	cmd = objcache_alloc(&scsi_cmd_cache);
	if (cmd == NULL)
		return -ENOMEM;
	cmd->task = task;
	cmd->lu = lu;
	scsi_lu_get(lu);
	task->lu = lu;
	task->internal = cmd;
	task->announced = true;
	pthread_mutex_lock(&lu->lock);
	task->state = SCSI_TS_PENDING;
	list_add_tail(&lu->pending, &task->node);
	pthread_mutex_unlock(&lu->lock);
	return 0;
}

/*
 * scsi_task_exec() of an announced task: take it off lu->pending. false
 * when an abort took it first: done() is on its way to this thread.
 */
static bool
scsi_task_unannounce(struct scsi_task *task)
{
	struct scsi_lu *lu = task->lu;
	bool mine;

	task->announced = false;
	pthread_mutex_lock(&lu->lock);
	mine = task->state == SCSI_TS_PENDING;
	if (mine) {
		list_remove(&task->node);
		task->state = SCSI_TS_NEW;
	}
	pthread_mutex_unlock(&lu->lock);
	if (mine)
		scsi_lu_put(lu);
	return mine;
}

static void
scsi_cmd_io_done(struct backend_io *io)
{
	struct scsi_cmd *cmd = io->arg;

	cmd->next(cmd);
}

void
scsi_cmd_submit(struct scsi_cmd *cmd, enum backend_op op, uint64_t off,
    uint64_t len, void *buf, bool fua, scsi_cmd_fn *next)
{
	memset(&cmd->io, 0, sizeof(cmd->io));
	cmd->iov.iov_base = buf;
	/* COMPARE_WRITE: buf holds the compare data, then the write data. */
	cmd->iov.iov_len =
	    (size_t)(op == BACKEND_OP_COMPARE_WRITE ? 2 * len : len);
	cmd->io.op = op;
	cmd->io.offset = off;
	cmd->io.len = len;
	if (op == BACKEND_OP_READ || op == BACKEND_OP_WRITE ||
	    op == BACKEND_OP_COMPARE_WRITE) {
		cmd->io.iov = &cmd->iov;
		cmd->io.iovcnt = 1;
	}
	cmd->io.fua = fua;
	cmd->io.done = scsi_cmd_io_done;
	cmd->io.arg = cmd;
	cmd->io.cq = cmd->task->queue->cq;
	cmd->next = next;
	/* Once submitted the completion always comes through the queue. */
	cmd->in_exec = false;
	backend_submit(cmd->lu->be, &cmd->io);
}

/*
 * A media command for task on lu, with the blocks it orders against (the
 * task set's key), made in spare when there is one (the command an
 * announcement made); NULL when out of memory.
 */
static struct scsi_cmd *
scsi_cmd_new(struct scsi_lu *lu, struct scsi_task *task,
    const struct scsi_op *op, struct scsi_cmd *spare)
{
	struct scsi_cmd *cmd = spare;

	if (cmd != NULL)
		memset(cmd, 0, sizeof(*cmd));
	else
		cmd = objcache_alloc(&scsi_cmd_cache);
	if (cmd == NULL)
		return NULL;
	cmd->task = task;
	cmd->lu = lu;
	cmd->handler = op->start;
	cmd->writes = (op->flags & SCSI_F_WRITE) != 0;
	cmd->has_range =
	    scsi_sbc_cdb_range(task->cdb, &cmd->lba, &cmd->nblocks);
	/*
	 * UNMAP names its ranges in the data: treat it as a full fence; so
	 * is SANITIZE, which goes first (SBC-4 5.30.1: HEAD OF QUEUE).
	 */
	if (task->cdb[0] == SCSI_OP_SANITIZE)
		task->attr = SCSI_ATTR_HEAD_OF_QUEUE;
	if (task->cdb[0] == SCSI_OP_UNMAP || task->cdb[0] == SCSI_OP_SANITIZE) {
		cmd->has_range = true;
		cmd->lba = 0;
		cmd->nblocks = UINT64_MAX;
	}
	/*
	 * WRITE SAME of zero blocks runs to the last LBA (SBC-4 5.48, WSNZ
	 * 0): order it against everything from its LBA on.
	 */
	if ((task->cdb[0] == SCSI_OP_WRITE_SAME_10 ||
		task->cdb[0] == SCSI_OP_WRITE_SAME_16) &&
	    cmd->nblocks == 0)
		cmd->nblocks = UINT64_MAX - cmd->lba;
	return cmd;
}

/* Put cmd at the end of its LU's task set; may it start? lu->lock held. */
static bool
scsi_cmd_enter_set(struct scsi_cmd *cmd)
{
	list_add_tail(&cmd->lu->tasks, &cmd->task->node);
	cmd->in_set = true;
	scsi_lu_set_count(cmd->lu, cmd, 1);
	return scsi_cmd_can_start(cmd);
}

/* SWP write-protects the medium as read-only does. */
static bool
scsi_lu_write_protected(const struct scsi_lu *lu)
{
	return lu->read_only || __atomic_load_n(&lu->swp, __ATOMIC_RELAXED);
}

static void
scsi_task_exec_media(struct scsi_lu *lu, struct scsi_task *task,
    const struct scsi_op *op, struct scsi_cmd *spare)
{
	struct scsi_cmd *cmd;
	bool go;

	cmd = task->queue != NULL ? scsi_cmd_new(lu, task, op, spare) : NULL;
	if (cmd == NULL) {
		/* Out of memory fails this one command (SAM-5 5.3.1). */
		scsi_task_set_status(task, SCSI_STATUS_BUSY);
		task->done(task);
		return;
	}
	cmd->in_exec = true;
	task->internal = cmd;
	/* A write maps blocks again after a BLOCK ERASE (GET LBA STATUS). */
	if (cmd->writes && task->cdb[0] != SCSI_OP_SANITIZE &&
	    __atomic_load_n(&lu->all_unmapped, __ATOMIC_RELAXED))
		__atomic_store_n(&lu->all_unmapped, false, __ATOMIC_RELAXED);
	scsi_lu_get(lu);
	pthread_mutex_lock(&lu->lock);
	go = scsi_cmd_enter_set(cmd);
	task->state = go ? SCSI_TS_RUNNING : SCSI_TS_WAITING;
	if (!go) {
		lu->set_waiting++;
		/* Started later from another task's completion. */
		cmd->in_exec = false;
	}
	pthread_mutex_unlock(&lu->lock);
	if (go)
		scsi_cmd_start(cmd);
}

void
scsi_task_exec(struct scsi_lu *lu, struct scsi_task *task, const uint64_t *luns,
    unsigned int n)
{
	const struct scsi_op *op;
	struct scsi_itl *itl;
	struct scsi_ua ua = {0, 0};
	bool have_ua = false, conflict = false, sanitize;
	struct scsi_cmd *spare = NULL;

	if (task->announced) {
		/* Off the pending list, unless an abort took it. */
		if (!scsi_task_unannounce(task))
			return;
		/* Its command, made then, serves a media command now. */
		spare = task->internal;
	}
	scsi_task_reset_result(task);
	task->lu = lu;
	task->internal = NULL;
	task->state = SCSI_TS_NEW;
	list_init(&task->node);
	if (lu == NULL) {
		scsi_cmd_free_spare(spare);
		scsi_task_exec_nolu(task, luns, n);
		return;
	}
	op = scsi_op_lookup(task->cdb[0]);

	pthread_mutex_lock(&lu->lock);
	itl = scsi_itl_find(lu, scsi_task_nexus_id(task), true);
	if (itl == NULL) {
		pthread_mutex_unlock(&lu->lock);
		scsi_cmd_free_spare(spare);
		scsi_task_set_status(task, SCSI_STATUS_BUSY);
		task->done(task);
		return;
	}
	/*
	 * SBC-4 4.11.2: while a sanitize runs most commands are refused
	 * before anything else, a pending UA included (it stays pending).
	 */
	sanitize = scsi_sanitize_refuse(lu, task);
	/* SAM-5 5.14: INQUIRY, REPORT LUNS, REQUEST SENSE see no UA. */
	if (!sanitize && (op == NULL || !(op->flags & SCSI_F_NO_UA)))
		have_ua = scsi_itl_ua_pop(itl, &ua);
	if (!sanitize && !have_ua)
		conflict = scsi_resv_conflict(lu, task, op);
	pthread_mutex_unlock(&lu->lock);

	if (sanitize) {
		/* The sense is set. */
	} else if (have_ua) {
		scsi_task_set_sense(task, SK_UNIT_ATTENTION, ua.asc, ua.ascq);
	} else if (conflict) {
		scsi_task_set_status(task, SCSI_STATUS_RESERVATION_CONFLICT);
	} else if (op == NULL) {
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_INVALID_OPCODE);
	} else if (scsi_alua_refused(task)) {
		/* Sense set: this port group's state refuses it. */
	} else if (task->cdb[op->cdb_len - 1] & CDB_NACA) {
		/* We offer no ACA (INQUIRY NORMACA=0): SAM-5 5.9.1.2. */
		scsi_task_sense_invalid_field(task, true, op->cdb_len - 1, 2);
	} else if (op->start != NULL) {
		if (scsi_lu_write_protected(lu) && (op->flags & SCSI_F_WRITE)) {
			scsi_task_set_sense(task, SK_DATA_PROTECT,
			    ASC_WRITE_PROTECTED);
		} else {
			scsi_task_exec_media(lu, task, op, spare);
			return;
		}
	} else {
		scsi_cmd_free_spare(spare);
		spare = NULL;
		op->run(task, luns, n);
		/* PREEMPT AND ABORT waits for the tasks it aborted. */
		if (task->completes_later)
			return;
	}
	scsi_cmd_free_spare(spare);
	task->state = SCSI_TS_DONE;
	task->done(task);
}

struct scsi_abort_wait *
scsi_abort_wait_new(struct scsi_queue *q, void (*done)(void *arg), void *arg)
{
	struct scsi_abort_wait *w;

	if (q == NULL)
		return NULL; /* no thread to run done() on */
	w = mem_zalloc(sizeof(*w));
	if (w == NULL)
		return NULL;
	w->io.done = scsi_abort_wait_fire;
	w->io.arg = w;
	w->io.cq = q->cq;
	w->done = done;
	w->arg = arg;
	w->left = 1; /* the caller's, until scsi_abort_wait_start() */
	return w;
}

void
scsi_abort_wait_cancel(struct scsi_abort_wait *w)
{
	mem_free(w);
}

void
scsi_lu_abort_locked(struct scsi_lu *lu, scsi_task_match_fn *match,
    const void *ctx, struct scsi_abort_wait *w, struct list_node *stopped)
{
	struct scsi_abort_wait *followed = NULL;
	struct list_node *pos, *tmp;

	list_for_each(pos, &lu->tasks) {
		struct scsi_task *t = list_entry(pos, struct scsi_task, node);
		struct scsi_cmd *c = t->internal;

		/*
		 * Done ones (a READ still being sent from the page cache) have
		 * their status already and change nothing; match() leaves out
		 * the issuer's own, which it aborts itself.
		 */
		if (t->state == SCSI_TS_DONE || !match(t, ctx))
			continue;
		if (t->abort_wait != NULL) {
			/*
			 * An earlier reset aborted it: end after that one. The
			 * tasks one reset took are mostly neighbours in the
			 * set, so remembering the last one followed spares
			 * walking its chain again for each of them.
			 */
			if (t->abort_wait != followed) {
				followed = t->abort_wait;
				scsi_abort_wait_follow(followed, w);
			}
			continue;
		}
		t->abort_wait = w;
		w->left++;
		/* Its own nexus aborted it: it only has to be gone. */
		if (t->aborted)
			continue;
		__atomic_store_n(&t->aborted_elsewhere, true, __ATOMIC_RELEASE);
		if (t->state == SCSI_TS_WAITING) {
			/* Never started: complete it on its own thread. */
			t->state = SCSI_TS_RUNNING;
			lu->set_waiting--;
			scsi_post_prep(&c->io, t, scsi_cmd_posted, c);
			list_add_tail(stopped, &c->io.node);
		}
	}
	/*
	 * Announced tasks, still waiting for their turn or their data: taken
	 * off the list now, so their transport's scsi_task_exec() finds them
	 * gone, and ended on their own threads.
	 */
	list_for_each_safe(pos, tmp, &lu->pending) {
		struct scsi_task *t = list_entry(pos, struct scsi_task, node);
		struct scsi_cmd *c;

		if (!match(t, ctx))
			continue;
		scsi_task_unpend_locked(t);
		t->abort_wait = w;
		w->left++;
		__atomic_store_n(&t->aborted_elsewhere, true, __ATOMIC_RELEASE);
		/* Its command (from the announcement) carries the end. */
		c = t->internal;
		scsi_post_prep(&c->io, t, scsi_task_pending_posted, c);
		list_add_tail(stopped, &c->io.node);
	}
}

void
scsi_abort_wait_start(struct scsi_lu *lu, struct scsi_abort_wait *w,
    struct list_node *stopped)
{
	struct list_node *pos, *tmp, fired;

	list_for_each_safe(pos, tmp, stopped) {
		struct backend_io *io =
		    list_entry(pos, struct backend_io, node);

		list_remove(pos);
		backend_cq_post(io->cq, io);
	}
	list_init(&fired);
	pthread_mutex_lock(&lu->lock);
	scsi_abort_wait_drop(w, &fired);
	pthread_mutex_unlock(&lu->lock);
	scsi_abort_wait_post(&fired);
}

static bool
scsi_task_not_of(const struct scsi_task *t, const void *by)
{
	return scsi_task_nexus_id(t) != ((const struct scsi_nexus *)by)->id;
}

int
scsi_lu_abort_others(struct scsi_lu *lu, const struct scsi_nexus *by,
    struct scsi_queue *q, void (*done)(void *arg), void *arg)
{
	struct scsi_abort_wait *w = scsi_abort_wait_new(q, done, arg);
	struct list_node stopped;

	if (w == NULL)
		return -ENOMEM;
	list_init(&stopped);
	pthread_mutex_lock(&lu->lock);
	scsi_lu_abort_locked(lu, scsi_task_not_of, by, w, &stopped);
	pthread_mutex_unlock(&lu->lock);
	scsi_abort_wait_start(lu, w, &stopped);
	return 0;
}

/* A command whose run() left it to finish later (completes_later). */
void
scsi_task_finish_later(struct scsi_task *task)
{
	task->completes_later = false;
	task->state = SCSI_TS_DONE;
	task->done(task);
}

void
scsi_task_abort(struct scsi_task *task)
{
	struct scsi_lu *lu = task->lu;
	struct scsi_cmd *cmd;
	bool waiting = false, pending = false;

	if (lu == NULL) {
		task->aborted = true;
		return;
	}
	if (task->completes_later && scsi_sanitize_abort_waiter(task))
		return;
	/* Under the lock: another nexus's reset reads it there. */
	pthread_mutex_lock(&lu->lock);
	task->aborted = true;
	cmd = task->internal;
	if (task->state == SCSI_TS_PENDING) {
		/* Announced, never run: it ends on this thread, after us. */
		scsi_task_unpend_locked(task);
		scsi_post_prep(&cmd->io, task, scsi_task_pending_posted, cmd);
		pending = true;
	} else if (cmd != NULL && task->state == SCSI_TS_WAITING) {
		/* Not started: leave the set now, complete on its thread. */
		task->state = SCSI_TS_RUNNING;
		lu->set_waiting--;
		waiting = true;
	}
	pthread_mutex_unlock(&lu->lock);
	if (waiting)
		scsi_cmd_complete(cmd);
	if (pending)
		backend_cq_post(task->queue->cq, &cmd->io);
}
