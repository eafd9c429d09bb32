/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The control socket server against a real registry (one nullio target)
 * on an event loop thread: requests answered, bad frames refused with an
 * error while the server keeps going, every allocation failure in a
 * request survived, and the status files written at start.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl/ctl.h"
#include "ctl/ctl_proto.h"
#include "net/loop.h"
#include "target/target.h"
#include "util/alloc.h"
#include "util/log.h"

#define IQN "iqn.2026-11.org.ietd.test:ctl"
#define ALLOC_STEPS 200 /* more than one request ever allocates */

static const char conf_text[] = "Target " IQN "\n"
				"\tLun 0 Sectors=2048,Type=nullio\n";

static struct {
	char dir[64];
	char sock[96];
	char status[96];
	struct loop *loop;
	int shutdowns;
} srv;

static void
server_shutdown(void)
{
	srv.shutdowns++;
}

static void
report(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "config: %s\n", msg);
}

static int
setup(void **state)
{
	char why[256];
	struct conf *conf;

	(void)state;
	/* The allocation-failure walk logs hundreds of lines; keep quiet. */
	log_init("ietd", 0, -1);
	snprintf(srv.dir, sizeof(srv.dir), "/tmp/ietd-ctl-XXXXXX");
	if (mkdtemp(srv.dir) == NULL)
		return -1;
	snprintf(srv.sock, sizeof(srv.sock), "%s/ctl.sock", srv.dir);
	snprintf(srv.status, sizeof(srv.status), "%s/status", srv.dir);
	conf = conf_load_buf("test.conf", conf_text, strlen(conf_text), report,
	    NULL);
	if (conf == NULL || target_apply(conf, why, sizeof(why)) != 0) {
		fprintf(stderr, "target_apply: %s\n", why);
		return -1;
	}
	conf_free(conf);
	srv.loop = loop_new("ctl-test");
	if (srv.loop == NULL ||
	    ctl_start(srv.loop, srv.sock, srv.status, getuid(), server_shutdown,
		why, sizeof(why)) != 0) {
		fprintf(stderr, "ctl_start: %s\n", why);
		return -1;
	}
	return loop_thread_start(srv.loop) == 0 ? 0 : -1;
}

static void
stop_call(void *arg)
{
	(void)arg;
	ctl_stop();
	loop_stop(srv.loop);
}

static int
teardown(void **state)
{
	char path[160];

	(void)state;
	loop_post(srv.loop, stop_call, NULL);
	loop_thread_join(srv.loop);
	loop_free(srv.loop);
	target_registry_clear();
	snprintf(path, sizeof(path), "%s/volume", srv.status);
	unlink(path);
	snprintf(path, sizeof(path), "%s/session", srv.status);
	unlink(path);
	rmdir(srv.status);
	rmdir(srv.dir);
	return 0;
}

static int
connect_ctl(void)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", srv.sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/*
 * Read one answer into buf (NUL-terminated payload). Returns the payload
 * length, or -1 when the server closed without one.
 */
static ssize_t
read_answer(int fd, char *buf, size_t cap)
{
	uint8_t hdr[CTL_FRAME_HDR_LEN];
	size_t len = 0;

	if (recv(fd, hdr, sizeof(hdr), MSG_WAITALL) != (ssize_t)sizeof(hdr))
		return -1;
	assert_int_equal(ctl_frame_len(hdr, cap - 1, &len), 0);
	assert_int_equal(recv(fd, buf, len, MSG_WAITALL), (ssize_t)len);
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Send a request built from "key=value\n" text; return the answer. */
static ssize_t
ask_fd(int fd, const char *text, char *buf, size_t cap)
{
	uint8_t hdr[CTL_FRAME_HDR_LEN];

	put_be32(hdr, (uint32_t)strlen(text));
	assert_int_equal(send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL), 4);
	assert_int_equal(send(fd, text, strlen(text), MSG_NOSIGNAL),
	    (ssize_t)strlen(text));
	return read_answer(fd, buf, cap);
}

/* The same without asserting: the server may close at any point. */
static ssize_t
ask_fd_lenient(int fd, const char *text, char *buf, size_t cap)
{
	uint8_t hdr[CTL_FRAME_HDR_LEN];
	size_t len = 0;

	put_be32(hdr, (uint32_t)strlen(text));
	if (send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL) != 4 ||
	    send(fd, text, strlen(text), MSG_NOSIGNAL) != (ssize_t)strlen(text))
		return -1;
	if (recv(fd, hdr, sizeof(hdr), MSG_WAITALL) != (ssize_t)sizeof(hdr) ||
	    ctl_frame_len(hdr, cap - 1, &len) != 0 ||
	    recv(fd, buf, len, MSG_WAITALL) != (ssize_t)len)
		return -1;
	buf[len] = '\0';
	return (ssize_t)len;
}

static ssize_t
ask(const char *text, char *buf, size_t cap)
{
	int fd = connect_ctl();
	ssize_t n = ask_fd(fd, text, buf, cap);

	close(fd);
	return n;
}

static void
test_show_target(void **state)
{
	static char buf[65536];
	struct ctl_rsp rsp;
	ssize_t n;

	(void)state;
	n = ask("version=1\nop=show\ntid=1\n", buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(ctl_rsp_parse(buf, (size_t)n, &rsp), 0);
	assert_int_equal(rsp.status, 0);
	assert_non_null(strstr(rsp.body, "MaxSessions=0\n"));
	assert_non_null(strstr(rsp.body, "InitialR2T=Yes\n"));

	/* By name, and two requests on one connection. */
	{
		int fd = connect_ctl();

		for (int i = 0; i < 2; i++) {
			n = ask_fd(fd, "version=1\nop=show\ntid=" IQN "\n", buf,
			    sizeof(buf));
			assert_true(n > 0);
			assert_int_equal(ctl_rsp_parse(buf, (size_t)n, &rsp),
			    0);
			assert_int_equal(rsp.status, 0);
		}
		close(fd);
	}
	n = ask("version=1\nop=show\ntid=7\n", buf, sizeof(buf));
	assert_int_equal(ctl_rsp_parse(buf, (size_t)n, &rsp), 0);
	assert_int_equal(rsp.status, ENOENT);
	assert_int_equal(rsp.mlen, strlen("no target with tid 7"));
	assert_memory_equal(rsp.message, "no target with tid 7", rsp.mlen);
}

static void
test_status_files(void **state)
{
	static char buf[4096];
	char path[160];
	struct stat st;
	FILE *f;
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/volume", srv.status);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_string_equal(buf,
	    "tid:1 name:" IQN "\n"
	    "\tlun:0 state:0 iotype:nullio iomode:wt\n");
	assert_int_equal(stat(srv.sock, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void
test_bad_frames(void **state)
{
	static const char *const bad[] = {
	    "op=show\n",
	    "version=1\nop=show\nwhat=1\n",
	    "version=1\nop=fly\n",
	    "version=1\nop=show\ntid=1\ntid=1\n",
	    "version=1\nop=update\ntid=1\nparams=NoSuchKey=1\n",
	    "version=1\nop=new\ntid=1\nlun=99999\nparams=Sectors=1\n",
	};
	static char buf[4096];
	struct ctl_rsp rsp;
	uint8_t hdr[CTL_FRAME_HDR_LEN];
	ssize_t n;
	int fd;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = ask(bad[i], buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(ctl_rsp_parse(buf, (size_t)n, &rsp), 0);
		assert_int_not_equal(rsp.status, 0);
		assert_non_null(rsp.message);
	}

	/* Oversized: refused from the header alone. */
	fd = connect_ctl();
	put_be32(hdr, CTL_REQ_MAX + 1);
	assert_int_equal(send(fd, hdr, sizeof(hdr), 0), 4);
	n = read_answer(fd, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(ctl_rsp_parse(buf, (size_t)n, &rsp), 0);
	assert_int_equal(rsp.status, EMSGSIZE);
	close(fd);

	/* Zero length. */
	fd = connect_ctl();
	put_be32(hdr, 0);
	assert_int_equal(send(fd, hdr, sizeof(hdr), 0), 4);
	n = read_answer(fd, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(ctl_rsp_parse(buf, (size_t)n, &rsp), 0);
	assert_int_equal(rsp.status, EINVAL);
	close(fd);

	/* Half a frame, then gone. */
	fd = connect_ctl();
	put_be32(hdr, 50);
	assert_int_equal(send(fd, hdr, 3, 0), 3);
	close(fd);

	/* Still serving. */
	n = ask("version=1\nop=show\n", buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(ctl_rsp_parse(buf, (size_t)n, &rsp), 0);
	assert_int_equal(rsp.status, 0);
	assert_string_equal(rsp.body, "tid:1 name:" IQN "\n");
}

static void
test_changes(void **state)
{
	static char buf[65536];
	struct ctl_rsp rsp;
	ssize_t n;

	(void)state;
	n = ask("version=1\nop=new\ntid=0\nparams=Name=" IQN "2\n", buf,
	    sizeof(buf));
	assert_int_equal(ctl_rsp_parse(buf, (size_t)n, &rsp), 0);
	assert_int_equal(rsp.status, 0);
	assert_string_equal(rsp.body, "tid=2\n");
	n = ask("version=1\nop=update\ntid=2\n"
		"params=HeaderDigest=CRC32C,None,MaxSessions=3\n",
	    buf, sizeof(buf));
	assert_int_equal(ctl_rsp_parse(buf, (size_t)n, &rsp), 0);
	assert_int_equal(rsp.status, 0);
	n = ask("version=1\nop=show\ntid=2\n", buf, sizeof(buf));
	assert_int_equal(ctl_rsp_parse(buf, (size_t)n, &rsp), 0);
	assert_non_null(strstr(rsp.body, "\nHeaderDigest=CRC32C,None\n"));
	assert_non_null(strstr(rsp.body, "\nMaxSessions=3\n"));
	n = ask("version=1\nop=new\nuser=1\ntid=2\n"
		"params=IncomingUser=u1,Password=pw1234567890\n",
	    buf, sizeof(buf));
	assert_int_equal(ctl_rsp_parse(buf, (size_t)n, &rsp), 0);
	assert_int_equal(rsp.status, 0);
	n = ask("version=1\nop=show\nuser=1\ntid=2\n", buf, sizeof(buf));
	assert_int_equal(ctl_rsp_parse(buf, (size_t)n, &rsp), 0);
	/* The test runs as root in CI; a non-root run sees no secret. */
	assert_string_equal(rsp.body,
	    getuid() == 0 ? "IncomingUser=u1 pw1234567890\n"
			  : "IncomingUser=u1\n");
	n = ask("version=1\nop=delete\ntid=2\n", buf, sizeof(buf));
	assert_int_equal(ctl_rsp_parse(buf, (size_t)n, &rsp), 0);
	assert_int_equal(rsp.status, 0);
	n = ask("version=1\nop=show\ntid=2\n", buf, sizeof(buf));
	assert_int_equal(ctl_rsp_parse(buf, (size_t)n, &rsp), 0);
	assert_int_equal(rsp.status, ENOENT);

	/* "Stop all activity" reaches the callback once answered. */
	n = ask("version=1\nop=delete\n", buf, sizeof(buf));
	assert_int_equal(ctl_rsp_parse(buf, (size_t)n, &rsp), 0);
	assert_int_equal(rsp.status, 0);
	for (int i = 0; i < 100 && srv.shutdowns == 0; i++)
		usleep(10000);
	assert_int_equal(srv.shutdowns, 1);
}

/*
 * Fail the n-th allocation after the request is sent, for every n: the
 * answer is an error or the connection closes, and the server lives.
 */
static void
test_alloc_failures(void **state)
{
	static const char *const reqs[] = {
	    "version=1\nop=show\ndump=1\n",
	    "version=1\nop=show\nstatus=volume\n",
	    "version=1\nop=show\ntid=1\n",
	    "version=1\nop=new\ntid=1\nlun=5\nparams=Sectors=8,Type=nullio\n",
	};
	static char buf[65536];
	struct ctl_rsp rsp;
	ssize_t n;

	(void)state;
	for (size_t r = 0; r < sizeof(reqs) / sizeof(reqs[0]); r++) {
		for (unsigned long k = 1; k <= ALLOC_STEPS; k++) {
			int fd = connect_ctl();

			/* Let the accept settle before arming the failure. */
			usleep(2000);
			alloc_fail_nth(k, 0);
			n = ask_fd_lenient(fd, reqs[r], buf, sizeof(buf));
			alloc_fail_nth(0, 0);
			close(fd);
			if (n > 0)
				assert_int_equal(ctl_rsp_parse(buf, (size_t)n,
						     &rsp),
				    0);
			/* Undo a LUN that did get added. */
			if (n > 0 && r == 3 && rsp.status == 0)
				ask("version=1\nop=delete\ntid=1\nlun=5\n", buf,
				    sizeof(buf));
		}
		n = ask("version=1\nop=show\ntid=1\n", buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(ctl_rsp_parse(buf, (size_t)n, &rsp), 0);
		assert_int_equal(rsp.status, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_show_target),
	    cmocka_unit_test(test_status_files),
	    cmocka_unit_test(test_bad_frames),
	    cmocka_unit_test(test_changes),
	    cmocka_unit_test(test_alloc_failures),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
