/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Sessions: the global table (initiator name + ISID, TSIH) used by login
 * for reinstatement, the CmdSN window ExpCmdSN..MaxCmdSN (RFC 7143 4.2.2)
 * with commands that arrive early held until their turn, and the SCSI
 * I_T nexus each Normal session registers with the SCSI layer.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"
#include "util/be.h"
#include "target/target.h"
#include "iscsi.h"
#include "iscsi_int.h"

struct list_node iscsi_session_table = LIST_HEAD_INIT(iscsi_session_table);
static pthread_mutex_t session_mutex = PTHREAD_MUTEX_INITIALIZER;
unsigned int iscsi_nsessions;
static uint16_t session_next_tsih = 1; /* under session_mutex */

void
session_table_lock(void)
{
	pthread_mutex_lock(&session_mutex);
}

void
session_table_unlock(void)
{
	pthread_mutex_unlock(&session_mutex);
}

unsigned int
iscsi_session_count(void)
{
	unsigned int n;

	session_table_lock();
	n = iscsi_nsessions;
	session_table_unlock();
	return n;
}

struct iscsi_session *
session_new(void)
{
	struct iscsi_session *s = mem_zalloc(sizeof(*s));

	if (s == NULL)
		return NULL;
	list_init(&s->node);
	list_init(&s->pending);
	list_init(&s->nexus.node);
	param_defaults(&s->params);
	return s;
}

struct iscsi_session *
session_find_isid(const char *initiator, const uint8_t *isid,
    const struct target *t, uint16_t tpgt)
{
	struct list_node *pos;
	uint64_t id = 0;

	for (int i = 0; i < ISCSI_ISID_LEN; i++)
		id = id << 8 | isid[i];
	log_debug(1, "session_find_name: %s,%#llx", initiator,
	    (unsigned long long)id << 16);
	list_for_each(pos, &iscsi_session_table) {
		struct iscsi_session *s =
		    list_entry(pos, struct iscsi_session, node);

		/* iSCSI names compare case-insensitively (RFC 3722). */
		if (!s->discovery && s->target == t && s->tpgt == tpgt &&
		    memcmp(s->isid, isid, ISCSI_ISID_LEN) == 0 &&
		    strcasecmp(s->initiator, initiator) == 0)
			return s;
	}
	return NULL;
}

struct iscsi_session *
session_find_tsih(uint16_t tsih)
{
	struct list_node *pos;

	log_debug(1, "session_find_id: %#x", tsih);
	list_for_each(pos, &iscsi_session_table) {
		struct iscsi_session *s =
		    list_entry(pos, struct iscsi_session, node);

		if (s->tsih == tsih)
			return s;
	}
	return NULL;
}

/*
 * Enter s in the table under a TSIH: the given one (CID reinstatement
 * keeps it) or a fresh non-zero one. Call with the lock held.
 */
int
session_insert(struct iscsi_session *s, uint16_t tsih)
{
	if (tsih == 0) {
		for (unsigned int i = 0; i < UINT16_MAX; i++) {
			uint16_t cand = session_next_tsih++;

			if (session_next_tsih == 0)
				session_next_tsih = 1;
			if (cand != 0 && session_find_tsih(cand) == NULL) {
				tsih = cand;
				break;
			}
		}
		if (tsih == 0)
			return -EBUSY;
	} else if (session_find_tsih(tsih) != NULL) {
		/* Never two under one TSIH: reinstatement took the old out. */
		return -EEXIST;
	}
	s->tsih = tsih;
	/* IET's session id: the ISID above the TSIH. */
	s->sid = 0;
	for (int i = 0; i < ISCSI_ISID_LEN; i++)
		s->sid = s->sid << 8 | s->isid[i];
	s->sid = s->sid << 16 | tsih;
	list_add_tail(&iscsi_session_table, &s->node);
	s->in_table = true;
	iscsi_nsessions++;
	log_debug(1, "session_create: %#llx", (unsigned long long)s->sid);
	return 0;
}

/* Ask the loop of another session's connection to close it. */
static void
session_kill_cb(void *arg)
{
	struct iscsi_conn *conn = arg;

	if (conn->state != CONN_S_CLOSED) {
		conn_log(conn, LOG_INFO, "session reinstated, closing");
		conn_close(conn);
	}
	conn_put(conn);
}

/*
 * Take s out of the table (so a new session can take its place) and
 * close its connection on its own loop. Call with the table lock held.
 */
void
session_kill_remote(struct iscsi_session *s)
{
	struct iscsi_conn *conn = s->conn;

	if (s->in_table) {
		log_debug(1, "session_close: %#llx",
		    (unsigned long long)s->sid);
		list_remove(&s->node);
		s->in_table = false;
		iscsi_nsessions--;
	}
	/* Its owner reads this under the lock in session_free(). */
	if (s->target_counted) {
		target_session_del(s->target);
		s->target_counted = false;
	}
	if (conn == NULL)
		return;
	conn_get(conn);
	if (loop_post(conn->loop, session_kill_cb, conn) != 0)
		__atomic_sub_fetch(&conn->refs, 1, __ATOMIC_ACQ_REL);
}

void
session_end(struct iscsi_session *s)
{
	bool counted;

	session_table_lock();
	if (s->in_table) {
		log_debug(1, "session_remove: %#llx",
		    (unsigned long long)s->sid);
		list_remove(&s->node);
		s->in_table = false;
		iscsi_nsessions--;
	}
	s->conn = NULL;
	counted = s->target_counted;
	s->target_counted = false;
	session_table_unlock();
	while (!list_empty(&s->pending)) {
		struct iscsi_held *h =
		    list_first_entry(&s->pending, struct iscsi_held, node);

		list_remove(&h->node);
		if (h->task != NULL)
			task_put(h->task);
		mem_free(h);
	}
	if (s->nexus_registered) {
		scsi_nexus_unregister(&s->nexus);
		s->nexus_registered = false;
	}
	if (s->target != NULL) {
		if (counted)
			target_session_del(s->target);
		target_put(s->target);
		s->target = NULL;
	}
}

void
session_free(struct iscsi_session *s)
{
	session_end(s);
	mem_free(s);
}

/*
 * MaxCmdSN - ExpCmdSN + 1 is the room left of QueuedCommands after the
 * commands still being worked on. RFC 7143 4.2.2.1 lets the window close
 * (MaxCmdSN = ExpCmdSN - 1); it never shrinks below what was announced.
 * Called only when the value is sent, so the window we enforce is the
 * one the initiator was told about.
 */
void
session_update_window(struct iscsi_session *s)
{
	uint32_t room = s->queued > s->active ? s->queued - s->active : 0;
	uint32_t max = s->exp_cmdsn + room - 1;

	if (sn_lt(s->max_cmdsn, max))
		s->max_cmdsn = max;
}

int
session_cmdsn_check(struct iscsi_session *s, uint32_t cmdsn)
{
	log_debug(1, "exp_cmd_sn: %u,%u", s->exp_cmdsn, cmdsn);
	if (cmdsn == s->exp_cmdsn)
		return 0;
	/* RFC 7143 4.2.2.1: outside the window: silently ignored. */
	if (sn_lt(cmdsn, s->exp_cmdsn) || sn_lt(s->max_cmdsn, cmdsn))
		return -1;
	return 1;
}

int
session_hold(struct iscsi_session *s, uint32_t cmdsn, struct iscsi_task *task)
{
	struct iscsi_held *h;
	struct list_node *pos;

	list_for_each(pos, &s->pending) {
		h = list_entry(pos, struct iscsi_held, node);
		if (h->cmdsn == cmdsn)
			return -EEXIST;
		if (sn_lt(cmdsn, h->cmdsn))
			break;
	}
	h = mem_zalloc(sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	h->cmdsn = cmdsn;
	h->task = task;
	if (task != NULL)
		task_get(task);
	list_insert_between(&h->node, pos->prev, pos);
	return 0;
}

void
session_drop_held(struct iscsi_session *s, struct iscsi_task *task)
{
	struct list_node *pos;

	list_for_each(pos, &s->pending) {
		struct iscsi_held *h = list_entry(pos, struct iscsi_held, node);

		if (h->task == task) {
			/* The CmdSN stays, as a done placeholder. */
			h->task = NULL;
			task_put(task);
			return;
		}
	}
}

void
session_cmdsn_advance(struct iscsi_session *s)
{
	s->exp_cmdsn++;
	session_deliver_held(s);
}

void
session_deliver_held(struct iscsi_session *s)
{
	while (!list_empty(&s->pending)) {
		struct iscsi_held *h =
		    list_first_entry(&s->pending, struct iscsi_held, node);
		struct iscsi_task *task;

		if (h->cmdsn != s->exp_cmdsn)
			break;
		list_remove(&h->node);
		task = h->task;
		mem_free(h);
		s->exp_cmdsn++;
		if (task != NULL) {
			ffp_task_deliver(task);
			task_put(task);
		}
	}
}
