/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The life of an iSCSI task and the data it may hold: allocation from a
 * per-thread cache, the reference count that keeps it (and its
 * connection) alive while anything points into it, its place on the
 * connection's list and in the session's command window, and the budget
 * of in-flight data (per session, and globally under --max-data) that
 * its buffer is counted against. The protocol around it is ffp.c's.
 */
#include "util/alloc.h"
#include "util/check.h"
#include "util/databuf.h"
#include "util/log.h"
#include "util/objcache.h"
#include "target/target.h"
#include "iscsi.h"
#include "iscsi_int.h"

/*
 * Tasks kept for reuse per event thread: enough for 256 sessions with 4
 * commands in flight each, even when one thread serves them all.
 */
static struct objcache iscsi_task_cache =
    OBJCACHE_INIT(sizeof(struct iscsi_task), 1024);

struct iscsi_task *
task_new(struct iscsi_conn *conn)
{
	struct iscsi_task *task = objcache_alloc(&iscsi_task_cache);

	if (task == NULL)
		return NULL;
	task->conn = conn;
	conn_get(conn);
	task->refs = 1;
	return task;
}

void
task_get(struct iscsi_task *task)
{
	IETD_ASSERT(task->refs > 0);
	task->refs++;
}

/*
 * A task is referenced by its connection's list, by each queued PDU that
 * points into its buffer (Data-In), by the SCSI layer while it runs, by
 * the receive state machine while data is read into it and by a held
 * CmdSN entry. The last reference frees the buffer and lets the
 * connection go.
 */
void
task_put(struct iscsi_task *task)
{
	struct iscsi_conn *conn = task->conn;

	IETD_ASSERT(task->refs > 0);
	if (--task->refs > 0)
		return;
	/* Its SCSI part is over (done() ran, or it never went there). */
	IETD_ASSERT(!task->in_scsi);
	if (task->data_reserved != 0) {
		conn->data_bytes -= task->data_reserved;
		budget_give(&iscsi_data_budget, task->data_reserved);
	}
	/* Every PDU that sent from data_lent is gone: let the writers in. */
	scsi_task_release(&task->st);
	databuf_free(task->st.data, task->st.data_len);
	objcache_free(&iscsi_task_cache, task);
	conn_put(conn);
}

struct budget iscsi_data_budget;

void
iscsi_set_data_limit(uint64_t bytes)
{
	iscsi_data_budget.limit =
	    bytes != 0 ? bytes : budget_default_data_limit();
}

uint64_t
iscsi_data_limit(void)
{
	return iscsi_data_budget.limit;
}

uint64_t
iscsi_data_used(void)
{
	return budget_used(&iscsi_data_budget);
}

/* Too little left under the cap to take on another session. */
bool
iscsi_data_budget_low(void)
{
	uint64_t limit = iscsi_data_budget.limit;

	return limit != 0 &&
	    budget_used(&iscsi_data_budget) + ISCSI_LOGIN_DATA_RESERVE > limit;
}

/*
 * Reserve len bytes of in-flight data for a new task: first the session's
 * share, then the global cap. SAM-5 5.3.3/5.3.4: TASK SET FULL when this
 * I_T nexus has other tasks whose completion will free room, BUSY when it
 * has none. Either way the initiator retries and service resumes by
 * itself as data drains.
 */
uint8_t
task_data_reserve(struct iscsi_task *task, uint32_t len)
{
	static __thread struct log_ratelimit rl; /* per event thread */
	struct iscsi_conn *conn = task->conn;
	uint64_t share =
	    (uint64_t)conn->session->queued * ISCSI_SESSION_DATA_PER_CMD;
	bool others = conn->ntasks > 1;
	unsigned int dropped;

	if (share < ISCSI_TASK_DATA_MAX)
		share = ISCSI_TASK_DATA_MAX;
	if (conn->data_bytes + len > share) {
		conn_dbg(conn, 1, "session data share of %llu bytes in use",
		    (unsigned long long)share);
		return others ? SCSI_STATUS_TASK_SET_FULL : SCSI_STATUS_BUSY;
	}
	if (!budget_take(&iscsi_data_budget, len)) {
		if (log_ratelimit_pass(&rl, &dropped))
			log_warning("in-flight data at its cap of %llu MiB: "
				    "new commands get %s until it drains",
			    (unsigned long long)(iscsi_data_budget.limit >> 20),
			    others ? "TASK SET FULL" : "BUSY");
		return others ? SCSI_STATUS_TASK_SET_FULL : SCSI_STATUS_BUSY;
	}
	conn->data_bytes += len;
	task->data_reserved = len;
	return SCSI_STATUS_GOOD;
}

struct iscsi_task *
task_find(struct iscsi_conn *conn, uint32_t itt)
{
	struct list_node *pos;

	list_for_each(pos, &conn->tasks) {
		struct iscsi_task *t = list_entry(pos, struct iscsi_task, node);

		if (t->itt == itt)
			return t;
	}
	return NULL;
}

void
task_release_window(struct iscsi_task *task)
{
	struct iscsi_session *s = task->conn->session;

	if (task->counted && s != NULL) {
		task->counted = false;
		s->active--;
	}
}

/* Off the connection's list: no more PDUs for it. */
void
task_finish(struct iscsi_task *task)
{
	task_release_window(task);
	if (task->state != TASK_S_DONE) {
		task->state = TASK_S_DONE;
		task->conn->ntasks--;
		list_remove(&task->node);
		task_put(task);
	}
}
