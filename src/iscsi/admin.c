/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * What ietadm sees of the engine (iscsi_admin.h): snapshots of the
 * sessions taken under the session table lock, and requests (drop a
 * connection, ask for logout) posted to the loop that owns the
 * connection, since only that thread may touch it.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "target/target.h"
#include "util/log.h"
#include "iscsi_admin.h"
#include "iscsi_int.h"

static const char *
admin_bool(uint32_t v)
{
	return v ? "Yes" : "No";
}

/* The negotiated values in IET's "Key=Value" lines (ietadm --op show). */
static void
admin_params(const struct iscsi_session *s, const struct iscsi_conn *c,
    char *buf, size_t len)
{
	const uint32_t *v = s->params.v;
	struct strbuf sb;

	strbuf_init(&sb, buf, len - 1);
	strbuf_printf(&sb, "InitialR2T=%s\n", admin_bool(v[PARAM_INITIAL_R2T]));
	strbuf_printf(&sb, "ImmediateData=%s\n",
	    admin_bool(v[PARAM_IMMEDIATE_DATA]));
	strbuf_printf(&sb, "MaxConnections=%u\n", v[PARAM_MAX_CONNECTIONS]);
	strbuf_printf(&sb, "MaxRecvDataSegmentLength=%u\n",
	    c != NULL ? c->max_recv_dsl : 0);
	strbuf_printf(&sb, "MaxXmitDataSegmentLength=%u\n",
	    c != NULL ? c->max_xmit_dsl : 0);
	strbuf_printf(&sb, "MaxBurstLength=%u\n", v[PARAM_MAX_BURST_LENGTH]);
	strbuf_printf(&sb, "FirstBurstLength=%u\n",
	    v[PARAM_FIRST_BURST_LENGTH]);
	strbuf_printf(&sb, "DefaultTime2Wait=%u\n", v[PARAM_DEFAULT_TIME2WAIT]);
	strbuf_printf(&sb, "DefaultTime2Retain=%u\n",
	    v[PARAM_DEFAULT_TIME2RETAIN]);
	strbuf_printf(&sb, "MaxOutstandingR2T=%u\n",
	    v[PARAM_MAX_OUTSTANDING_R2T]);
	strbuf_printf(&sb, "DataPDUInOrder=%s\n",
	    admin_bool(v[PARAM_DATA_PDU_IN_ORDER]));
	strbuf_printf(&sb, "DataSequenceInOrder=%s\n",
	    admin_bool(v[PARAM_DATA_SEQUENCE_IN_ORDER]));
	strbuf_printf(&sb, "ErrorRecoveryLevel=%u\n",
	    v[PARAM_ERROR_RECOVERY_LEVEL]);
	strbuf_printf(&sb, "HeaderDigest=%s\n",
	    param_digest_name(v[PARAM_HEADER_DIGEST]));
	strbuf_printf(&sb, "DataDigest=%s\n",
	    param_digest_name(v[PARAM_DATA_DIGEST]));
	strbuf_printf(&sb, "OFMarker=%s\n", admin_bool(v[PARAM_OFMARKER]));
	strbuf_printf(&sb, "IFMarker=%s\n", admin_bool(v[PARAM_IFMARKER]));
	buf[sb.len] = '\0';
}

static void
admin_ip(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr,
		    buf, (socklen_t)len);
	else if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET,
		    &((const struct sockaddr_in *)(const void *)ss)->sin_addr,
		    buf, (socklen_t)len);
	else
		snprintf(buf, len, "-");
}

static int
admin_cmp(const void *a, const void *b)
{
	const struct iscsi_session_info *x = a, *y = b;

	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	if (x->sid != y->sid)
		return x->sid < y->sid ? -1 : 1;
	return 0;
}

int
iscsi_admin_sessions(struct iscsi_session_info **out, unsigned int *n)
{
	struct iscsi_session_info *info;
	struct list_node *pos;
	unsigned int cap, i = 0;

	session_table_lock();
	cap = iscsi_nsessions;
	info = mem_calloc(cap > 0 ? cap : 1, sizeof(*info));
	if (info == NULL) {
		session_table_unlock();
		return -ENOMEM;
	}
	list_for_each(pos, &iscsi_session_table) {
		struct iscsi_session *s =
		    list_entry(pos, struct iscsi_session, node);
		struct iscsi_session_info *si;
		struct iscsi_conn *c = s->conn;

		if (s->discovery || s->target == NULL || i == cap)
			continue;
		si = &info[i++];
		si->tid = target_tid(s->target);
		si->sid = s->sid;
		snprintf(si->initiator, sizeof(si->initiator), "%s",
		    s->initiator);
		snprintf(si->alias, sizeof(si->alias), "%s", s->alias);
		admin_params(s, c, si->params, sizeof(si->params));
		metrics_io_read(&s->io, &si->io);
		/* Owned by the event thread: a relaxed look is enough. */
		si->queue_depth = __atomic_load_n(&s->active, __ATOMIC_RELAXED);
		if (c != NULL)
			si->data_bytes =
			    __atomic_load_n(&c->data_bytes, __ATOMIC_RELAXED);
		if (c != NULL) {
			si->nconns = 1;
			si->conns[0].cid = c->cid;
			admin_ip(&c->peer, si->conns[0].ip,
			    sizeof(si->conns[0].ip));
			si->conns[0].state =
			    c->state == CONN_S_FFP ? "active" : "closing";
			si->conns[0].header_digest = c->hdigest;
			si->conns[0].data_digest = c->ddigest;
		}
	}
	session_table_unlock();
	qsort(info, i, sizeof(*info), admin_cmp);
	*out = info;
	*n = i;
	return 0;
}

static void
admin_drop_cb(void *arg)
{
	struct iscsi_conn *conn = arg;

	if (conn->state != CONN_S_CLOSED) {
		conn_log(conn, LOG_INFO, "dropped by the administrator");
		conn_close(conn);
	}
	conn_put(conn);
}

static void
admin_logout_cb(void *arg)
{
	struct iscsi_conn *conn = arg;

	if (conn->state == CONN_S_FFP)
		tmf_async_logout(conn);
	conn_put(conn);
}

static void
admin_post(struct iscsi_conn *c, loop_call_fn *fn)
{
	conn_get(c);
	if (loop_post(c->loop, fn, c) != 0)
		__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
}

int
iscsi_admin_conn_drop(uint64_t sid, uint16_t cid)
{
	struct list_node *pos;
	int rc = -ENOENT;

	session_table_lock();
	list_for_each(pos, &iscsi_session_table) {
		struct iscsi_session *s =
		    list_entry(pos, struct iscsi_session, node);

		if (s->sid == sid && s->conn != NULL && s->conn->cid == cid) {
			admin_post(s->conn, admin_drop_cb);
			rc = 0;
			break;
		}
	}
	session_table_unlock();
	if (rc != 0)
		log_notice("session %#llx not found?", (unsigned long long)sid);
	return rc;
}

unsigned int
iscsi_admin_target_logout(unsigned int tid)
{
	struct list_node *pos;
	unsigned int n = 0;

	session_table_lock();
	list_for_each(pos, &iscsi_session_table) {
		struct iscsi_session *s =
		    list_entry(pos, struct iscsi_session, node);

		if (s->discovery || s->target == NULL ||
		    target_tid(s->target) != tid || s->conn == NULL)
			continue;
		admin_post(s->conn, admin_logout_cb);
		n++;
	}
	session_table_unlock();
	return n;
}
