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
#include <fcntl.h>
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
	    "\tlun:0 state:0 iotype:nullio iomode:wt blocks:2048 "
	    "blocksize:512\n");
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
	    "version=1\nop=update\ntid=1\nlun=0\nparams=Sectors=2048\n",
	    "version=1\nop=update\ntid=1\nlun=0\n",
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
			/*
			 * Undo a LUN that did get added (its answer may
			 * still have failed for want of memory).
			 */
			if (r == 3)
				ask("version=1\nop=delete\ntid=1\nlun=5\n", buf,
				    sizeof(buf));
		}
		n = ask("version=1\nop=show\ntid=1\n", buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(ctl_rsp_parse(buf, (size_t)n, &rsp), 0);
		assert_int_equal(rsp.status, 0);
	}
}

/* One command on LUN 0 of tid 1 from nexus nx; inline commands only. */
struct ua_task {
	struct scsi_task task;
	bool done;
};

static void
ua_task_done(struct scsi_task *task)
{
	((struct ua_task *)task->priv)->done = true;
}

/* Run TEST UNIT READY; returns 0 for GOOD or asc << 8 | ascq of a UA. */
static int
tur(struct scsi_nexus *nx)
{
	static struct ua_task ut;
	struct target *t = target_find_by_tid(1);

	assert_non_null(t);
	memset(&ut, 0, sizeof(ut));
	ut.task.cdb_len = 6; /* TEST UNIT READY: all zero */
	ut.task.nexus = nx;
	ut.task.done = ua_task_done;
	ut.task.priv = &ut;
	target_task_exec(t, &ut.task);
	target_put(t);
	assert_true(ut.done);
	if (ut.task.status == SCSI_STATUS_GOOD)
		return 0;
	assert_int_equal(ut.task.status, SCSI_STATUS_CHECK_CONDITION);
	assert_true(ut.task.sense_len >= 14);
	assert_int_equal(ut.task.sense[2] & 0x0f, 0x06); /* UNIT ATTENTION */
	return ut.task.sense[12] << 8 | ut.task.sense[13];
}

static void
expect_answer(const char *req, int status, const char *text)
{
	static char buf[65536];
	struct ctl_rsp rsp;
	ssize_t n = ask(req, buf, sizeof(buf));

	assert_true(n > 0);
	assert_int_equal(ctl_rsp_parse(buf, (size_t)n, &rsp), 0);
	assert_int_equal(rsp.status, status);
	if (status == 0) {
		assert_string_equal(rsp.body, text);
	} else {
		assert_int_equal(rsp.mlen, strlen(text));
		assert_memory_equal(rsp.message, text, rsp.mlen);
	}
}

static void
read_status_volume(char *buf, size_t cap)
{
	char path[160];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/volume", srv.status);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
}

/*
 * --op update --lun: a nullio LUN resized through the socket gives the
 * nexus CAPACITY DATA HAS CHANGED and rewrites the volume file; a fileio
 * file grown behind ietd's back is seen by the poll; Size= grows it and
 * never shrinks it; refusals are one sentence.
 */
static void
test_lun_resize(void **state)
{
	static struct scsi_nexus nx = {.id = 0x5e5e};
	static char vol[4096];
	char file[128], req[512], want[512];
	struct stat st;
	int fd;

	(void)state;
	scsi_nexus_register(&nx);
	assert_int_equal(tur(&nx), 0x2900); /* POWER ON, RESET */
	assert_int_equal(tur(&nx), 0);

	expect_answer("version=1\nop=update\ntid=1\nlun=0\n", 0,
	    "Sectors=2048\nBlockSize=512\nSize=1048576\n");
	assert_int_equal(tur(&nx), 0); /* nothing moved: no UA */
	expect_answer("version=1\nop=update\ntid=1\nlun=0\n"
		      "params=Sectors=4096\n",
	    0, "Sectors=4096\nBlockSize=512\nSize=2097152\n");
	assert_int_equal(tur(&nx), 0x2a09); /* CAPACITY DATA HAS CHANGED */
	assert_int_equal(tur(&nx), 0);
	read_status_volume(vol, sizeof(vol));
	assert_string_equal(vol,
	    "tid:1 name:" IQN "\n"
	    "\tlun:0 state:0 iotype:nullio iomode:wt blocks:4096 "
	    "blocksize:512\n");
	assert_int_equal(scsi_lu_poll_capacity_all(), 0);

	expect_answer("version=1\nop=update\ntid=1\nlun=9\n", ENOENT,
	    "target 1 has no lun 9");
	expect_answer("version=1\nop=update\ntid=4\nlun=0\n", ENOENT,
	    "no target with tid 4");
	expect_answer("version=1\nop=update\ntid=1\nlun=0\nparams=Size=1M\n",
	    EINVAL, "lun 0 of target 1 is nullio: resize it with Sectors=N");
	expect_answer("version=1\nop=update\ntid=1\nlun=0\n"
		      "params=Sectors=-1\n",
	    EINVAL,
	    "Lun 0: Sectors -1 is not a block count from 1 to "
	    "4503599627370495");
	expect_answer("version=1\nop=update\ntid=1\nlun=0\nparams=Color=red\n",
	    EINVAL,
	    "unknown LUN parameter Color (Sectors=N for nullio, Size=BYTES "
	    "for fileio)");
	assert_int_equal(tur(&nx), 0); /* refusals change nothing */

	/* A fileio LUN: grown behind ietd's back, then through Size=. */
	snprintf(file, sizeof(file), "%s/disk.img", srv.dir);
	fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	snprintf(req, sizeof(req),
	    "version=1\nop=new\ntid=1\nlun=2\nparams=Path=%s,Type=fileio\n",
	    file);
	expect_answer(req, 0, "");
	assert_int_equal(scsi_lu_poll_capacity_all(), 0);
	assert_int_equal(ftruncate(fd, 3 << 20), 0);
	assert_int_equal(scsi_lu_poll_capacity_all(), 1);
	assert_int_equal(scsi_lu_poll_capacity_all(), 0);
	expect_answer("version=1\nop=update\ntid=1\nlun=2\nparams=Size=4m\n", 0,
	    "Sectors=8192\nBlockSize=512\nSize=4194304\n");
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 4 << 20);
	snprintf(want, sizeof(want),
	    "refusing to shrink %s from 4194304 to 2097152 bytes: that would "
	    "cut off data (truncate it yourself, then run --op update "
	    "without --params)",
	    file);
	expect_answer("version=1\nop=update\ntid=1\nlun=2\n"
		      "params=Size=2097152\n",
	    EINVAL, want);
	expect_answer("version=1\nop=update\ntid=1\nlun=2\n"
		      "params=Sectors=8\n",
	    EINVAL,
	    "lun 2 of target 1 is not nullio: Sectors= resizes nullio LUNs "
	    "only (use Size=BYTES, or grow the store and run --op update "
	    "without --params)");
	/*
	 * Adding LUN 2 is news on LUN 0 (the grows were LUN 2's, which this
	 * nexus never addressed), and so is deleting it.
	 */
	assert_int_equal(tur(&nx), 0x3f0e); /* REPORTED LUNS DATA CHANGED */
	assert_int_equal(tur(&nx), 0);
	expect_answer("version=1\nop=delete\ntid=1\nlun=2\n", 0, "");
	assert_int_equal(tur(&nx), 0x3f0e);
	close(fd);
	unlink(file);

	expect_answer("version=1\nop=update\ntid=1\nlun=0\n"
		      "params=Sectors=2048\n",
	    0, "Sectors=2048\nBlockSize=512\nSize=1048576\n");
	assert_int_equal(tur(&nx), 0x2a09);
	scsi_nexus_unregister(&nx);
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
	    cmocka_unit_test(test_lun_resize),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
