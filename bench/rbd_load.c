/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * bench/rbd_load.c: the ceiling of bench/run.sh's rbd LUN kind. It drives
 * an RBD image through librbd's asynchronous API directly, DEPTH requests
 * in flight, with nothing between the load and librbd: no iSCSI, no
 * socket, no copy. An iSCSI gateway on the same image and cluster can
 * approach these figures but not pass them by more than the noise.
 *
 *   rbd_load POOL/[NAMESPACE/]IMAGE CONF WORKLOAD DEPTH SECONDS
 *            [BYTES [CLIENT_ID]]
 *
 * WORKLOAD is randread, randwrite, seqread or seqwrite; BYTES the request
 * size (default 4096 for the random ones, 1048576 for the sequential
 * ones), CLIENT_ID the cephx id (default admin). After the window it
 * prints one line:
 *
 *   ios N seconds S iops X mbps Y cpu C errors E
 *
 * N completions inside a window of S seconds, C the CPU seconds (user +
 * system, all threads: the load and librbd's own) from the first request
 * to the last completion. Built by `make build/bench/rbd_load`.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

#define SECTOR_BYTES 512
#define MAX_DEPTH 1024
#define MAX_BYTES (16u << 20)
#define MAX_SECONDS 3600.0
#define DRAIN_SECONDS 30.0 /* librbd's own op timeout bounds a request */
#define WRITE_PATTERN 0x5a /* what qemu-img bench -w writes in run.sh */

enum rl_mode { RL_RANDREAD, RL_RANDWRITE, RL_SEQREAD, RL_SEQWRITE };

struct rl_slot {
	char *buf;
	uint64_t rng;
};

struct rl {
	rbd_image_t image;
	enum rl_mode mode;
	size_t bytes;
	uint64_t slots; /* request-sized slots in the image */
	struct rl_slot *slot;
	unsigned int depth;
	/*
	 * Completions run on librbd's threads, more than one in Ceph 16:
	 * everything they touch is atomic. A completion reissues its slot at
	 * once, so DEPTH requests stay in flight without a hand-off.
	 */
	atomic_uint_fast64_t next_seq; /* next sequential slot */
	atomic_uint_fast64_t ios;      /* completions inside the window */
	atomic_uint_fast64_t errors;
	atomic_uint inflight;
	atomic_int running;
	double win_start, win_end;
};

static struct rl rl;

static double
rl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
rl_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t
rl_rand(struct rl_slot *s)
{
	/* xorshift64, one stream per slot: no lock between completions. */
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

static int
rl_is_write(void)
{
	return rl.mode == RL_RANDWRITE || rl.mode == RL_SEQWRITE;
}

static void rl_done(rbd_completion_t c, void *arg);

static int
rl_issue(struct rl_slot *s)
{
	rbd_completion_t c;
	uint64_t n;
	int rc;

	if (rl.mode == RL_RANDREAD || rl.mode == RL_RANDWRITE)
		n = rl_rand(s) % rl.slots;
	else
		n = atomic_fetch_add(&rl.next_seq, 1) % rl.slots;
	rc = rbd_aio_create_completion(s, rl_done, &c);
	if (rc < 0)
		return rc;
	atomic_fetch_add(&rl.inflight, 1);
	if (rl_is_write())
		rc = rbd_aio_write(rl.image, n * rl.bytes, rl.bytes, s->buf, c);
	else
		rc = rbd_aio_read(rl.image, n * rl.bytes, rl.bytes, s->buf, c);
	if (rc < 0) {
		atomic_fetch_sub(&rl.inflight, 1);
		rbd_aio_release(c);
	}
	return rc;
}

static void
rl_done(rbd_completion_t c, void *arg)
{
	struct rl_slot *s = arg;
	ssize_t r = rbd_aio_get_return_value(c);
	double t = rl_now();

	rbd_aio_release(c);
	/* A read returns its length; a write 0 (librbd.h). */
	if (r < 0 || (!rl_is_write() && (size_t)r != rl.bytes))
		atomic_fetch_add(&rl.errors, 1);
	else if (t >= rl.win_start && t < rl.win_end)
		atomic_fetch_add(&rl.ios, 1);
	if (atomic_load(&rl.running) && rl_issue(s) < 0)
		atomic_fetch_add(&rl.errors, 1);
	atomic_fetch_sub(&rl.inflight, 1);
}

static void
rl_usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "rbd_load: %s\n", why);
	fprintf(stderr,
	    "usage: rbd_load POOL/[NAMESPACE/]IMAGE CONF WORKLOAD DEPTH "
	    "SECONDS [BYTES [CLIENT_ID]]\n"
	    "  WORKLOAD: randread, randwrite, seqread or seqwrite\n"
	    "  DEPTH: 1 to %d requests in flight; SECONDS: above 0, at most "
	    "%.0f\n"
	    "  BYTES: a multiple of %d up to %u (default 4096 random, "
	    "1048576 sequential)\n",
	    MAX_DEPTH, MAX_SECONDS, SECTOR_BYTES, MAX_BYTES);
	exit(2);
}

/* A whole decimal number in [min, max], or usage. */
static unsigned long
rl_number(const char *s, const char *what, unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;
	static char why[128];

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min ||
	    v > max) {
		snprintf(why, sizeof(why),
		    "%s must be a number from %lu to %lu", what, min, max);
		rl_usage(why);
	}
	return v;
}

int
main(int argc, char **argv)
{
	char path[512], *pool, *ns = NULL, *name, *end;
	const char *conf, *id = "admin";
	rados_t cluster;
	rados_ioctx_t io;
	uint64_t size;
	double seconds, t, cpu0, cpu1, elapsed;
	uint64_t ios, errors;
	int rc;

	if (argc < 6 || argc > 8)
		rl_usage(NULL);
	if (strlen(argv[1]) >= sizeof(path))
		rl_usage("image path too long");
	strcpy(path, argv[1]);
	conf = argv[2];
	if (strcmp(argv[3], "randread") == 0)
		rl.mode = RL_RANDREAD;
	else if (strcmp(argv[3], "randwrite") == 0)
		rl.mode = RL_RANDWRITE;
	else if (strcmp(argv[3], "seqread") == 0)
		rl.mode = RL_SEQREAD;
	else if (strcmp(argv[3], "seqwrite") == 0)
		rl.mode = RL_SEQWRITE;
	else
		rl_usage("unknown workload");
	rl.depth = (unsigned int)rl_number(argv[4], "DEPTH", 1, MAX_DEPTH);
	errno = 0;
	seconds = strtod(argv[5], &end);
	if (errno != 0 || end == argv[5] || *end != '\0' || !(seconds > 0) ||
	    seconds > MAX_SECONDS)
		rl_usage("SECONDS must be above 0 and at most 3600");
	rl.bytes = (rl.mode == RL_RANDREAD || rl.mode == RL_RANDWRITE)
	    ? 4096
	    : 1048576;
	if (argc > 6) {
		rl.bytes = rl_number(argv[6], "BYTES", SECTOR_BYTES, MAX_BYTES);
		if (rl.bytes % SECTOR_BYTES != 0)
			rl_usage("BYTES must be a multiple of 512");
	}
	if (argc > 7)
		id = argv[7];

	/* POOL/IMAGE or POOL/NAMESPACE/IMAGE, as ietd's Path= takes it. */
	pool = path;
	name = strchr(path, '/');
	if (name == NULL || name == pool)
		rl_usage("image must be POOL/IMAGE or POOL/NAMESPACE/IMAGE");
	*name++ = '\0';
	end = strchr(name, '/');
	if (end != NULL) {
		ns = name;
		*end = '\0';
		name = end + 1;
		if (*ns == '\0' || strchr(name, '/') != NULL)
			rl_usage("image must be POOL/IMAGE or "
				 "POOL/NAMESPACE/IMAGE");
	}
	if (*name == '\0')
		rl_usage("empty image name");

	if ((rc = rados_create(&cluster, id)) < 0) {
		fprintf(stderr, "rbd_load: rados_create: %s\n", strerror(-rc));
		return 1;
	}
	if ((rc = rados_conf_read_file(cluster, conf)) < 0) {
		fprintf(stderr, "rbd_load: cannot read %s: %s\n", conf,
		    strerror(-rc));
		rados_shutdown(cluster);
		return 1;
	}
	/*
	 * The librbd cache off, as ietd runs it (issue 21: nothing
	 * acknowledged may sit in a volatile cache): the same librbd path
	 * the gateway measures against.
	 */
	if ((rc = rados_conf_set(cluster, "rbd_cache", "false")) < 0 ||
	    (rc = rados_connect(cluster)) < 0) {
		fprintf(stderr, "rbd_load: cannot connect: %s\n",
		    strerror(-rc));
		rados_shutdown(cluster);
		return 1;
	}
	if ((rc = rados_ioctx_create(cluster, pool, &io)) < 0) {
		fprintf(stderr, "rbd_load: pool %s: %s\n", pool, strerror(-rc));
		rados_shutdown(cluster);
		return 1;
	}
	if (ns != NULL)
		rados_ioctx_set_namespace(io, ns);
	if ((rc = rbd_open(io, name, &rl.image, NULL)) < 0) {
		fprintf(stderr, "rbd_load: image %s: %s\n", argv[1],
		    strerror(-rc));
		rados_ioctx_destroy(io);
		rados_shutdown(cluster);
		return 1;
	}
	if ((rc = rbd_get_size(rl.image, &size)) < 0 || size < rl.bytes) {
		fprintf(stderr,
		    "rbd_load: image %s is smaller than one request\n",
		    argv[1]);
		rbd_close(rl.image);
		rados_ioctx_destroy(io);
		rados_shutdown(cluster);
		return 1;
	}
	rl.slots = size / rl.bytes;

	rl.slot = calloc(rl.depth, sizeof(*rl.slot));
	if (rl.slot == NULL) {
		fprintf(stderr, "rbd_load: out of memory\n");
		return 1;
	}
	for (unsigned int i = 0; i < rl.depth; i++) {
		rl.slot[i].buf = malloc(rl.bytes);
		if (rl.slot[i].buf == NULL) {
			fprintf(stderr, "rbd_load: out of memory\n");
			return 1;
		}
		memset(rl.slot[i].buf, WRITE_PATTERN, rl.bytes);
		rl.slot[i].rng =
		    0x9E3779B97F4A7C15ULL ^ ((uint64_t)getpid() << 20) ^ i;
	}

	atomic_store(&rl.running, 1);
	cpu0 = rl_cpu();
	rl.win_start = rl_now();
	rl.win_end = rl.win_start + seconds;
	for (unsigned int i = 0; i < rl.depth; i++) {
		if ((rc = rl_issue(&rl.slot[i])) < 0) {
			fprintf(stderr, "rbd_load: cannot submit: %s\n",
			    strerror(-rc));
			atomic_store(&rl.running, 0);
			break;
		}
	}
	while ((t = rl_now()) < rl.win_end && atomic_load(&rl.running)) {
		double left = rl.win_end - t;
		struct timespec ts = {.tv_sec = (time_t)left,
		    .tv_nsec = (long)((left - (double)(time_t)left) * 1e9)};

		nanosleep(&ts, NULL);
	}
	atomic_store(&rl.running, 0);
	t = rl_now();
	while (atomic_load(&rl.inflight) > 0 && rl_now() - t < DRAIN_SECONDS)
		usleep(1000);
	cpu1 = rl_cpu();
	if (atomic_load(&rl.inflight) > 0) {
		/* Closing the image with requests in flight would crash. */
		fprintf(stderr,
		    "rbd_load: %u request(s) still in flight after "
		    "%.0f s\n",
		    (unsigned int)atomic_load(&rl.inflight), DRAIN_SECONDS);
		return 1;
	}

	ios = atomic_load(&rl.ios);
	errors = atomic_load(&rl.errors);
	elapsed = rl.win_end - rl.win_start;
	printf("ios %" PRIu64 " seconds %.3f iops %.0f mbps %.1f cpu %.2f "
	       "errors %" PRIu64 "\n",
	    ios, elapsed, (double)ios / elapsed,
	    (double)ios * (double)rl.bytes / elapsed / 1e6, cpu1 - cpu0,
	    errors);
	fflush(stdout);

	for (unsigned int i = 0; i < rl.depth; i++)
		free(rl.slot[i].buf);
	free(rl.slot);
	rbd_close(rl.image);
	rados_ioctx_destroy(io);
	rados_shutdown(cluster);
	return errors != 0 ? 1 : 0;
}
