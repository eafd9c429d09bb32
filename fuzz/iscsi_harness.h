/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Shared by the iSCSI fuzz targets (fuzz_pdu, fuzz_login): the daemon's
 * target registry built from a config text, and one connection whose
 * initiator end is a socketpair, driven by the real receive and send
 * paths. Header-only (static), so each target includes it once.
 */
#ifndef IETD_FUZZ_ISCSI_HARNESS_H
#define IETD_FUZZ_ISCSI_HARNESS_H

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "config/conf.h"
#include "iscsi/iscsi.h"
#include "iscsi/iscsi_int.h"
#include "net/loop.h"
#include "target/target.h"
#include "util/log.h"
#include "state_dir.h"

#define FUZZ_DRAIN_ROUNDS 50

/* One connection under test. */
struct fuzz_iscsi {
	struct loop *loop;
	struct iscsi_loop il; /* the conn points at it: lives as long */
	struct iscsi_conn *conn;
	int peer; /* the initiator's end of the socketpair */
};

static struct scsi_queue *fuzz_cq;

static void
fuzz_report(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

/* The targets of conf_text, a portal, a worker and a completion queue. */
static int
fuzz_iscsi_init(const char *conf_text)
{
	static const struct allow_paths none = {
	    "/nonexistent/initiators.allow",
	    "/nonexistent/initiators.deny",
	    "/nonexistent/targets.allow",
	};
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct conf *conf;
	char why[256];

	log_init("fuzz", 0, -1);
	if (fuzz_state_dir_init() != 0)
		return -1;
	target_set_allow_paths(&none);
	conf = conf_load_buf("fuzz", conf_text, strlen(conf_text), fuzz_report,
	    NULL);
	if (conf == NULL)
		return -1;
	/* The registry keeps its own copy of each target. */
	if (target_apply(conf, why, sizeof(why)) != 0) {
		conf_free(conf);
		return -1;
	}
	conf_free(conf);
	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(3260);
	iscsi_set_portals(&ss, 1);
	(void)backend_workers_start(1);
	fuzz_cq = scsi_queue_new(false);
	return fuzz_cq != NULL ? 0 : -1;
}

static bool
fuzz_busy(const struct iscsi_conn *conn)
{
	const struct list_node *pos;

	list_for_each(pos, &conn->tasks) {
		const struct iscsi_task *t =
		    list_entry(pos, struct iscsi_task, node);

		/*
		 * Not one announced and still waiting for its Data-Out: only
		 * more input, never the queue, moves that on.
		 */
		if (t->in_scsi && (t->state == TASK_S_EXEC || t->aborted))
			return true;
	}
	return false;
}

/* Let backend completions for this input arrive and run. */
static void
fuzz_drain_cq(const struct iscsi_conn *conn)
{
	for (int i = 0; i < FUZZ_DRAIN_ROUNDS; i++) {
		struct pollfd p = {scsi_queue_fd(fuzz_cq), POLLIN, 0};
		bool busy = conn != NULL && fuzz_busy(conn);

		if (poll(&p, 1, busy ? 1 : 0) <= 0 && !busy)
			break;
		scsi_queue_drain(fuzz_cq);
	}
}

static void
fuzz_stop(void *arg)
{
	loop_stop(arg);
}

/* A connection in its login phase; false when the machine says no. */
static bool
fuzz_iscsi_open(struct fuzz_iscsi *fx)
{
	int sv[2];

	fx->loop = loop_new("fuzz");
	if (fx->loop == NULL)
		return false;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0) {
		loop_free(fx->loop);
		return false;
	}
	fx->il.loop = fx->loop;
	fx->il.queue = fuzz_cq;
	fx->il.queue_watch = NULL;
	fx->conn = conn_new(&fx->il, sv[0]);
	if (fx->conn == NULL || login_start(fx->conn) != 0) {
		close(sv[0]);
		close(sv[1]);
		loop_free(fx->loop);
		return false;
	}
	fx->peer = sv[1];
	return true;
}

/*
 * What the daemon does when the socket is readable: receive, let the
 * commands complete, send. 0, or the error that closes the connection.
 */
static int
fuzz_iscsi_round(struct fuzz_iscsi *fx)
{
	int rc = pdu_rx(fx->conn);

	fuzz_drain_cq(fx->conn);
	if (rc == 0 && fx->conn->state != CONN_S_CLOSED)
		rc = pdu_tx_flush(fx->conn);
	return rc;
}

/* Close the connection and free what it held, as the daemon would. */
static void
fuzz_iscsi_close(struct fuzz_iscsi *fx)
{
	fuzz_drain_cq(fx->conn);
	conn_close(fx->conn);
	fuzz_drain_cq(NULL);
	loop_post(fx->loop, fuzz_stop, fx->loop);
	loop_run(fx->loop);
	close(fx->peer);
	loop_free(fx->loop);
}

#endif /* IETD_FUZZ_ISCSI_HARNESS_H */
