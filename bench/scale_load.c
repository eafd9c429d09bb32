/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * bench/scale_load.c: many iSCSI sessions from one process for
 * bench/scale.sh. It logs every session in first, then (on "go" from stdin)
 * keeps DEPTH random reads in flight per session and counts completions in
 * a fixed window, so 256 sessions cost one poll loop instead of 256
 * iscsi-perf processes fighting the target for two CPUs. DEPTH 0 holds the
 * sessions idle until "stop". With -w the requests are random WRITE(16)s
 * of a 0x5a pattern instead: bench/run.sh's random-write load, which
 * neither iscsi-perf (reads only) nor qemu-img bench (sequential only)
 * offers. Built by scale.sh and run.sh with cc ... -liscsi.
 */

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define SECTOR_BYTES 512
#define POLL_MAX_MS 100    /* longest sleep: clocks are checked this often */
#define LOGIN_WINDOW 32    /* logins in progress at once */
#define DRAIN_SECONDS 10.0 /* wait for in-flight reads and logouts */
#define INITIATOR_NAME "iqn.2026-11.org.ietd:scale-load"

enum load_state { LS_NEW, LS_LOGIN, LS_UP, LS_LOGOUT, LS_DONE, LS_FAILED };

struct load_session {
	struct iscsi_context *iscsi;
	enum load_state state;
	unsigned int inflight;
	uint64_t rng;
};

struct load {
	struct load_session *s;
	unsigned int n;
	unsigned int depth;
	unsigned int lun;
	unsigned int blocks; /* sectors per request */
	unsigned char *wbuf; /* -w: the data of every WRITE(16), else NULL */
	uint64_t lun_sectors;
	double seconds;
	double win_start, win_end; /* the counted window, monotonic seconds */
	int running;               /* reissue reads as they complete */
	uint64_t ios;              /* completions inside the window */
	uint64_t errors;
	unsigned int logging_in;
	unsigned int up;
	unsigned int failed;
};

static struct load ld;

static double
load_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
load_rand(struct load_session *s)
{
	/* xorshift64: cheap, and each session has its own stream. */
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

static void load_read_issue(struct load_session *s);

static void
load_read_done(struct iscsi_context *iscsi, int status, void *data, void *priv)
{
	struct load_session *s = priv;
	struct scsi_task *task = data;
	double t = load_now();

	(void)iscsi;
	s->inflight--;
	if (status != SCSI_STATUS_GOOD)
		ld.errors++;
	else if (t >= ld.win_start && t < ld.win_end)
		ld.ios++;
	if (task != NULL)
		scsi_free_scsi_task(task);
	if (ld.running && s->state == LS_UP)
		load_read_issue(s);
}

static void
load_read_issue(struct load_session *s)
{
	uint64_t slots = ld.lun_sectors / ld.blocks;
	uint64_t lba = (load_rand(s) % slots) * ld.blocks;
	struct scsi_task *task;

	if (ld.wbuf != NULL)
		task = iscsi_write16_task(s->iscsi, (int)ld.lun, lba, ld.wbuf,
		    ld.blocks * SECTOR_BYTES, SECTOR_BYTES, 0, 0, 0, 0, 0,
		    load_read_done, s);
	else
		task = iscsi_read16_task(s->iscsi, (int)ld.lun, lba,
		    ld.blocks * SECTOR_BYTES, SECTOR_BYTES, 0, 0, 0, 0, 0,
		    load_read_done, s);
	if (task == NULL) {
		ld.errors++;
		return;
	}
	s->inflight++;
}

static void
load_connect_done(struct iscsi_context *iscsi, int status, void *data,
    void *priv)
{
	struct load_session *s = priv;

	(void)iscsi;
	(void)data;
	if (s->state == LS_LOGIN) {
		ld.logging_in--;
		if (status == SCSI_STATUS_GOOD) {
			s->state = LS_UP;
			ld.up++;
			return;
		}
		fprintf(stderr, "scale_load: login failed: %s\n",
		    iscsi_get_error(iscsi));
		s->state = LS_FAILED;
		ld.failed++;
		return;
	}
	/* Called again when an established session breaks. */
	if (status != SCSI_STATUS_GOOD && s->state == LS_UP) {
		fprintf(stderr, "scale_load: session lost: %s\n",
		    iscsi_get_error(iscsi));
		s->state = LS_FAILED;
		ld.up--;
		ld.failed++;
	}
}

static void
load_logout_done(struct iscsi_context *iscsi, int status, void *data,
    void *priv)
{
	struct load_session *s = priv;

	(void)iscsi;
	(void)data;
	(void)status;
	s->state = LS_DONE;
}

static int
load_login_start(struct load_session *s, unsigned int idx, const char *portal,
    const char *target)
{
	s->iscsi = iscsi_create_context(INITIATOR_NAME);
	if (s->iscsi == NULL)
		return -ENOMEM;
	/*
	 * One initiator name for all: the ISIDs must differ, or the target
	 * would see session reinstatement (RFC 7143 6.3.5) instead of new
	 * sessions. Random-type ISID: the pid in the random part, the index
	 * in the qualifier.
	 */
	iscsi_set_isid_random(s->iscsi, (uint32_t)getpid() & 0xFFFFFF, idx);
	iscsi_set_targetname(s->iscsi, target);
	iscsi_set_session_type(s->iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(s->iscsi, ISCSI_HEADER_DIGEST_NONE);
	s->rng = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)getpid() << 20) ^ idx;
	s->state = LS_LOGIN;
	ld.logging_in++;
	if (iscsi_full_connect_async(s->iscsi, portal, (int)ld.lun,
		load_connect_done, s) != 0) {
		fprintf(stderr, "scale_load: connect: %s\n",
		    iscsi_get_error(s->iscsi));
		s->state = LS_FAILED;
		ld.logging_in--;
		ld.failed++;
	}
	return 0;
}

/*
 * One round of poll over every live session and stdin. Returns 1 when a
 * line arrived on stdin (copied to cmd), -1 on EOF, 0 otherwise.
 */
static int
load_poll(struct pollfd *pfd, struct load_session **who, int timeout_ms,
    char *cmd, size_t cmdlen)
{
	unsigned int n = 0;
	int rc = 0;

	pfd[n].fd = cmd != NULL ? STDIN_FILENO : -1;
	pfd[n].events = POLLIN;
	who[n++] = NULL;
	for (unsigned int i = 0; i < ld.n; i++) {
		struct load_session *s = &ld.s[i];
		int ev;

		if (s->state != LS_LOGIN && s->state != LS_UP &&
		    s->state != LS_LOGOUT)
			continue;
		ev = iscsi_which_events(s->iscsi);
		if (ev == 0)
			continue;
		pfd[n].fd = iscsi_get_fd(s->iscsi);
		pfd[n].events = (short)ev;
		who[n++] = s;
	}
	if (poll(pfd, n, timeout_ms) < 0)
		return errno == EINTR ? 0 : -1;
	if (pfd[0].revents != 0 && cmd != NULL) {
		ssize_t r = read(STDIN_FILENO, cmd, cmdlen - 1);
		if (r <= 0)
			rc = -1;
		else {
			cmd[r] = '\0';
			rc = 1;
		}
	}
	for (unsigned int i = 1; i < n; i++) {
		struct load_session *s = who[i];

		if (pfd[i].revents == 0)
			continue;
		if (iscsi_service(s->iscsi, pfd[i].revents) < 0 &&
		    s->state != LS_FAILED && s->state != LS_DONE) {
			if (s->state == LS_LOGIN) {
				ld.logging_in--;
				fprintf(stderr, "scale_load: login: %s\n",
				    iscsi_get_error(s->iscsi));
			} else if (s->state == LS_UP)
				ld.up--;
			if (s->state != LS_LOGOUT) {
				s->state = LS_FAILED;
				ld.failed++;
			} else
				s->state = LS_DONE;
		}
	}
	return rc;
}

static void
load_usage(void)
{
	fprintf(stderr,
	    "usage: scale_load -p HOST:PORT -T TARGET -n SESSIONS [-q DEPTH] "
	    "[-b BLOCKS] [-l LUN] [-s LUN_SECTORS] [-t SECONDS] "
	    "[-L LOGIN_SECONDS] [-w]\n"
	    "  logs in, prints \"ready UP FAILED SECONDS\", then reads "
	    "commands from stdin:\n"
	    "  go   start DEPTH random reads (-w: writes) per session, count "
	    "SECONDS\n"
	    "  stop drain, log out, print \"result IOS WINDOW ERRORS "
	    "LOGGED_OUT\"\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *portal = NULL, *target = NULL;
	double login_limit = 120.0, t0, t;
	struct pollfd *pfd;
	struct load_session **who;
	struct rlimit rl;
	char cmd[256];
	unsigned int next = 0, out = 0;
	int c, rc, write = 0;

	ld.depth = 4;
	ld.blocks = 8;
	ld.lun_sectors = 2097152;
	ld.seconds = 3.0;
	while ((c = getopt(argc, argv, "p:T:n:q:b:l:s:t:L:w")) != -1) {
		switch (c) {
		case 'p':
			portal = optarg;
			break;
		case 'T':
			target = optarg;
			break;
		case 'n':
			ld.n = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'q':
			ld.depth = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			ld.blocks = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'l':
			ld.lun = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 's':
			ld.lun_sectors = strtoull(optarg, NULL, 10);
			break;
		case 't':
			ld.seconds = strtod(optarg, NULL);
			break;
		case 'L':
			login_limit = strtod(optarg, NULL);
			break;
		case 'w':
			write = 1;
			break;
		default:
			load_usage();
		}
	}
	if (portal == NULL || target == NULL || ld.n == 0 || ld.blocks == 0 ||
	    ld.lun_sectors < ld.blocks)
		load_usage();
	/* One socket per session: lift our own descriptor limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (write) {
		ld.wbuf = malloc((size_t)ld.blocks * SECTOR_BYTES);
		if (ld.wbuf == NULL) {
			fprintf(stderr, "scale_load: out of memory\n");
			return 1;
		}
		memset(ld.wbuf, 0x5a, (size_t)ld.blocks * SECTOR_BYTES);
	}
	ld.s = calloc(ld.n, sizeof(*ld.s));
	pfd = calloc(ld.n + 1, sizeof(*pfd));
	who = calloc(ld.n + 1, sizeof(*who));
	if (ld.s == NULL || pfd == NULL || who == NULL) {
		fprintf(stderr, "scale_load: out of memory\n");
		return 1;
	}

	/* Log in, a window of LOGIN_WINDOW at a time. */
	t0 = load_now();
	while (ld.up + ld.failed < ld.n) {
		while (next < ld.n && ld.logging_in < LOGIN_WINDOW) {
			if (load_login_start(&ld.s[next], next, portal,
				target) != 0) {
				fprintf(stderr, "scale_load: out of memory\n");
				return 1;
			}
			next++;
		}
		if (load_now() - t0 > login_limit) {
			fprintf(stderr,
			    "scale_load: %u login(s) still pending "
			    "after %.0f s; giving up on them\n",
			    ld.n - ld.up - ld.failed, login_limit);
			for (unsigned int i = 0; i < ld.n; i++) {
				if (ld.s[i].state == LS_LOGIN ||
				    ld.s[i].state == LS_NEW) {
					ld.s[i].state = LS_FAILED;
					ld.failed++;
				}
			}
			break;
		}
		load_poll(pfd, who, POLL_MAX_MS, NULL, 0);
	}
	printf("ready %u %u %.3f\n", ld.up, ld.failed, load_now() - t0);
	fflush(stdout);

	/* Wait for go or stop; keep serving (NOP-Ins) meanwhile. */
	ld.win_start = ld.win_end = 0;
	for (;;) {
		rc = load_poll(pfd, who, POLL_MAX_MS, cmd, sizeof(cmd));
		if (rc < 0 || (rc == 1 && strncmp(cmd, "stop", 4) == 0))
			break;
		if (rc == 1 && strncmp(cmd, "go", 2) == 0 && ld.depth > 0 &&
		    !ld.running) {
			ld.running = 1;
			ld.win_start = load_now();
			ld.win_end = ld.win_start + ld.seconds;
			for (unsigned int i = 0; i < ld.n; i++)
				for (unsigned int d = 0;
				     d < ld.depth && ld.s[i].state == LS_UP;
				     d++)
					load_read_issue(&ld.s[i]);
		}
	}

	/* The window ends early if stop came first. */
	t = load_now();
	if (ld.running && t < ld.win_end)
		ld.win_end = t;
	/* Drain the reads, then log every session out. */
	ld.running = 0;
	for (;;) {
		unsigned int busy = 0;

		for (unsigned int i = 0; i < ld.n; i++)
			if (ld.s[i].state == LS_UP && ld.s[i].inflight > 0)
				busy++;
		if (busy == 0 || load_now() - t > DRAIN_SECONDS)
			break;
		load_poll(pfd, who, POLL_MAX_MS, NULL, 0);
	}
	for (unsigned int i = 0; i < ld.n; i++) {
		struct load_session *s = &ld.s[i];

		if (s->state != LS_UP)
			continue;
		if (iscsi_logout_async(s->iscsi, load_logout_done, s) == 0)
			s->state = LS_LOGOUT;
		else
			s->state = LS_FAILED;
	}
	t = load_now();
	for (;;) {
		unsigned int busy = 0;

		for (unsigned int i = 0; i < ld.n; i++)
			if (ld.s[i].state == LS_LOGOUT)
				busy++;
		if (busy == 0 || load_now() - t > DRAIN_SECONDS)
			break;
		load_poll(pfd, who, POLL_MAX_MS, NULL, 0);
	}
	for (unsigned int i = 0; i < ld.n; i++) {
		if (ld.s[i].state == LS_DONE)
			out++;
		if (ld.s[i].iscsi != NULL)
			iscsi_destroy_context(ld.s[i].iscsi);
	}
	printf("result %llu %.3f %llu %u\n", (unsigned long long)ld.ios,
	    ld.win_end - ld.win_start, (unsigned long long)ld.errors, out);
	fflush(stdout);
	free(who);
	free(pfd);
	free(ld.s);
	free(ld.wbuf);
	return 0;
}
