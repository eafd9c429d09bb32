/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * libFuzzer target for the control socket: each input is what an ietadm
 * client sends, written into the real server (ctl_start on a private
 * socket, on its own loop) against a registry of two targets restored
 * before every input. Every answer must be a well-formed frame.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/conf.h"
#include "ctl/ctl.h"
#include "ctl/ctl_proto.h"
#include "net/loop.h"
#include "target/target.h"
#include "util/log.h"

/* Mode byte (the input's first). */
#define FUZZ_F_RAW 0x01 /* the rest is sent as is, framing and all */
/* Otherwise the rest is split at NUL bytes, each piece one frame. */

/* Answers kept for checking; more is read and dropped. */
#define FUZZ_RX_MAX (8u * 1024u * 1024u)
#define FUZZ_TX_MAX (256u * 1024u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct conf *fuzz_base;
static char fuzz_sock[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
static char fuzz_dir[64];
static bool fuzz_debug; /* FUZZ_CTL_DEBUG set: print every answer */

static struct {
	struct loop *loop;
	uint8_t *buf;
	size_t len;
	bool over;
} fuzz_rx;

static void
fuzz_report(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

/* "Stop all activity": the daemon would shut down; here, nothing. */
static void
fuzz_shutdown(void)
{
}

static void
fuzz_cleanup(void)
{
	unlink(fuzz_sock);
	rmdir(fuzz_dir);
}

static int
fuzz_init(void)
{
	static const char text[] = "IncomingUser disco-user disco-secret-1\n"
				   "Target iqn.2026-11.fuzz:disk1\n"
				   "\tLun 0 Sectors=64,Type=nullio\n"
				   "\tLun 3 Sectors=8,Type=nullio\n"
				   "\tIncomingUser alice alice-secret-12\n"
				   "\tOutgoingUser target-out target-secret-3\n"
				   "\tAlias first\n"
				   "Target iqn.2026-11.fuzz:disk2\n"
				   "\tMaxConnections 1\n"
				   "\tHeaderDigest None,CRC32C\n";
	static const struct allow_paths none = {
	    "/nonexistent/initiators.allow",
	    "/nonexistent/initiators.deny",
	    "/nonexistent/targets.allow",
	};

	log_init("fuzz", 0, -1);
	target_set_allow_paths(&none);
	fuzz_base =
	    conf_load_buf("fuzz", text, strlen(text), fuzz_report, NULL);
	if (fuzz_base == NULL)
		return -1;
	/* The socket is made and removed per input: tmpfs does that fast. */
	snprintf(fuzz_dir, sizeof(fuzz_dir), "/dev/shm/fuzz_ctl.XXXXXX");
	if (mkdtemp(fuzz_dir) == NULL) {
		snprintf(fuzz_dir, sizeof(fuzz_dir), "/tmp/fuzz_ctl.XXXXXX");
		if (mkdtemp(fuzz_dir) == NULL)
			return -1;
	}
	snprintf(fuzz_sock, sizeof(fuzz_sock), "%s/ctl.sock", fuzz_dir);
	atexit(fuzz_cleanup);
	fuzz_debug = getenv("FUZZ_CTL_DEBUG") != NULL;
	fuzz_rx.buf = malloc(FUZZ_RX_MAX);
	return fuzz_rx.buf != NULL ? 0 : -1;
}

/* Read the server's answers; its close ends the input's run. */
static void
fuzz_client_io(void *arg, unsigned int events)
{
	int fd = *(int *)arg;
	uint8_t junk[4096];
	ssize_t n;

	(void)events;
	for (;;) {
		if (fuzz_rx.len < FUZZ_RX_MAX)
			n = read(fd, fuzz_rx.buf + fuzz_rx.len,
			    FUZZ_RX_MAX - fuzz_rx.len);
		else
			n = read(fd, junk, sizeof(junk));
		if (n > 0) {
			if (fuzz_rx.len < FUZZ_RX_MAX)
				fuzz_rx.len += (size_t)n;
			else
				fuzz_rx.over = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		loop_stop(fuzz_rx.loop); /* end of answers, or reset */
		return;
	}
}

/* Every answer is a frame with a status line (ctl_proto.h). */
static void
fuzz_check_answers(void)
{
	size_t off = 0, len;
	struct ctl_rsp rsp;

	while (off + CTL_FRAME_HDR_LEN <= fuzz_rx.len) {
		if (ctl_frame_len(fuzz_rx.buf + off, CTL_RSP_MAX, &len) != 0)
			abort();
		off += CTL_FRAME_HDR_LEN;
		if (len > fuzz_rx.len - off) {
			if (!fuzz_rx.over)
				abort(); /* a truncated answer */
			return;
		}
		if (ctl_rsp_parse((const char *)fuzz_rx.buf + off, len, &rsp) !=
			0 ||
		    (rsp.status != 0 && rsp.message == NULL))
			abort();
		if (fuzz_debug)
			fprintf(stderr, "status=%d message=%.*s\n%.*s\n",
			    rsp.status, (int)rsp.mlen,
			    rsp.message != NULL ? rsp.message : "",
			    (int)rsp.blen, rsp.body);
		off += len;
	}
	if (off != fuzz_rx.len && !fuzz_rx.over)
		abort();
}

/* What the client sends: the input as is, or framed pieces. */
static size_t
fuzz_build(const uint8_t *data, size_t size, uint8_t *out)
{
	const uint8_t *p = data + 1, *end = data + size, *nul;
	size_t n = 0;

	if (data[0] & FUZZ_F_RAW) {
		memcpy(out, p, size - 1);
		return size - 1;
	}
	while (p <= end) {
		size_t piece;

		nul = memchr(p, '\0', (size_t)(end - p));
		piece = (size_t)((nul != NULL ? nul : end) - p);
		if (n + CTL_FRAME_HDR_LEN + piece > FUZZ_TX_MAX)
			break;
		put_be32(out + n, (uint32_t)piece);
		memcpy(out + n + CTL_FRAME_HDR_LEN, p, piece);
		n += CTL_FRAME_HDR_LEN + piece;
		if (nul == NULL)
			break;
		p = nul + 1;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static uint8_t tx[FUZZ_TX_MAX];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct loop_watch *watch = NULL;
	char why[256];
	size_t n, off = 0;
	int fd = -1;

	if (size < 1 || size > FUZZ_TX_MAX / 2)
		return 0;
	if (!ready) {
		if (fuzz_init() != 0)
			abort();
		ready = true;
	}
	/* Each input starts from the same registry. */
	if (target_apply(fuzz_base, why, sizeof(why)) != 0)
		abort();
	fuzz_rx.loop = loop_new("fuzz-ctl");
	if (fuzz_rx.loop == NULL)
		abort();
	if (ctl_start(fuzz_rx.loop, fuzz_sock, NULL, 0, fuzz_shutdown, why,
		sizeof(why)) != 0) {
		fprintf(stderr, "ctl_start: %s\n", why);
		abort();
	}
	fuzz_rx.len = 0;
	fuzz_rx.over = false;
	n = fuzz_build(data, size, tx);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	memcpy(sun.sun_path, fuzz_sock, strlen(fuzz_sock));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		abort();
	/* All of it fits in the socket buffer: the server reads later. */
	while (off < n) {
		ssize_t w = write(fd, tx + off, n - off);

		if (w <= 0)
			break; /* the server may refuse before reading all */
		off += (size_t)w;
	}
	shutdown(fd, SHUT_WR);
	if (loop_fd_add(fuzz_rx.loop, fd, LOOP_READ, fuzz_client_io, &fd,
		&watch) != 0)
		abort();
	loop_run(fuzz_rx.loop);
	loop_fd_del(watch);
	close(fd);
	ctl_stop();
	loop_free(fuzz_rx.loop);
	fuzz_rx.loop = NULL;
	fuzz_check_answers();
	return 0;
}
