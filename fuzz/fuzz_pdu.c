/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * libFuzzer target for the iSCSI PDU engine: the input is a byte stream
 * an initiator could send, fed through a socketpair into the receive state
 * machine, login and negotiation, and (once logged in) the full feature
 * phase against a nullio LUN. The target's output is read and dropped.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
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

#define FUZZ_CHUNK 4096
#define FUZZ_DRAIN_ROUNDS 50

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct backend_cq *fuzz_cq;

static void
fuzz_report(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

static int
fuzz_init(void)
{
	static const char text[] = "Target iqn.2026-11.fuzz:disk\n"
				   "\tLun 0 Sectors=64,Type=nullio\n"
				   "\tInitialR2T No\n"
				   "\tMaxOutstandingR2T 4\n"
				   "\tHeaderDigest None,CRC32C\n"
				   "\tDataDigest None,CRC32C\n";
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
	target_set_allow_paths(&none);
	conf = conf_load_buf("fuzz", text, strlen(text), fuzz_report, NULL);
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
	fuzz_cq = backend_cq_new();
	return fuzz_cq != NULL ? 0 : -1;
}

static void
fuzz_stop(void *arg)
{
	loop_stop(arg);
}

static void
fuzz_drain_output(int fd)
{
	uint8_t buf[FUZZ_CHUNK];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static bool
fuzz_busy(const struct iscsi_conn *conn)
{
	const struct list_node *pos;

	list_for_each(pos, &conn->tasks) {
		if (list_entry(pos, struct iscsi_task, node)->in_scsi)
			return true;
	}
	return false;
}

/* Let backend completions for this input arrive and run. */
static void
fuzz_drain_cq(const struct iscsi_conn *conn)
{
	for (int i = 0; i < FUZZ_DRAIN_ROUNDS; i++) {
		struct pollfd p = {backend_cq_fd(fuzz_cq), POLLIN, 0};
		bool busy = conn != NULL && fuzz_busy(conn);

		if (poll(&p, 1, busy ? 1 : 0) <= 0 && !busy)
			break;
		backend_cq_drain(fuzz_cq);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct iscsi_loop il;
	struct iscsi_conn *conn;
	struct loop *loop;
	size_t off = 0;
	int sv[2], rc = 0;

	if (!ready) {
		if (fuzz_init() != 0)
			return 0;
		ready = true;
	}
	loop = loop_new("fuzz");
	if (loop == NULL)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0) {
		loop_free(loop);
		return 0;
	}
	il.loop = loop;
	il.cq = fuzz_cq;
	il.cq_watch = NULL;
	conn = conn_new(&il, sv[0]);
	if (conn == NULL || login_start(conn) != 0) {
		close(sv[0]);
		close(sv[1]);
		loop_free(loop);
		return 0;
	}
	while (rc == 0 && conn->state != CONN_S_CLOSED) {
		size_t n = size - off < FUZZ_CHUNK ? size - off : FUZZ_CHUNK;
		ssize_t w = 0;

		if (n > 0) {
			w = write(sv[1], data + off, n);
			if (w > 0)
				off += (size_t)w;
		} else {
			shutdown(sv[1], SHUT_WR);
		}
		rc = pdu_rx(conn);
		fuzz_drain_cq(conn);
		if (rc == 0 && conn->state != CONN_S_CLOSED)
			rc = pdu_tx_flush(conn);
		fuzz_drain_output(sv[1]);
		if (n == 0 || (w <= 0 && rc == 0 && off < size))
			break;
	}
	fuzz_drain_cq(conn);
	conn_close(conn);
	fuzz_drain_cq(NULL);
	loop_post(loop, fuzz_stop, loop);
	loop_run(loop);
	close(sv[1]);
	loop_free(loop);
	return 0;
}
