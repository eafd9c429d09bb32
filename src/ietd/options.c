/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Command line parsing for ietd. Every value is checked here (number
 * ranges, user and group names) so that a bad command line never starts a
 * half-configured daemon.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_proto.h"
#include "scsi/scsi.h"
#include "util/str.h"
#include "options.h"

enum {
	OPT_PID_FILE = 256,
	OPT_INITIATORS_ALLOW,
	OPT_INITIATORS_DENY,
	OPT_TARGETS_ALLOW,
	OPT_CONTROL,
	OPT_STATUS_DIR,
	OPT_STATE_DIR,
	OPT_IO_ENGINE,
	OPT_MAX_DATA_MEMORY,
	OPT_LOG_FORMAT,
	OPT_METRICS,
};

static const struct option options_long[] = {
    {"config", required_argument, NULL, 'c'},
    {"debug", required_argument, NULL, 'd'},
    {"foreground", no_argument, NULL, 'f'},
    {"gid", required_argument, NULL, 'g'},
    {"uid", required_argument, NULL, 'u'},
    {"address", required_argument, NULL, 'a'},
    {"port", required_argument, NULL, 'p'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"check-config", no_argument, NULL, 't'},
    {"threads", required_argument, NULL, 'T'},
    {"pid-file", required_argument, NULL, OPT_PID_FILE},
    {"initiators-allow", required_argument, NULL, OPT_INITIATORS_ALLOW},
    {"initiators-deny", required_argument, NULL, OPT_INITIATORS_DENY},
    {"targets-allow", required_argument, NULL, OPT_TARGETS_ALLOW},
    {"control", required_argument, NULL, OPT_CONTROL},
    {"status-dir", required_argument, NULL, OPT_STATUS_DIR},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"io-engine", required_argument, NULL, OPT_IO_ENGINE},
    {"max-data-memory", required_argument, NULL, OPT_MAX_DATA_MEMORY},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {NULL, 0, NULL, 0},
};

void
options_usage(FILE *f)
{
	fprintf(f,
	    "Usage: ietd [OPTION]...\n"
	    "iSCSI target daemon: serves the targets of ietd.conf over "
	    "iSCSI/TCP.\n"
	    "\n"
	    "  -c, --config=FILE        configuration file (default "
	    "/etc/iet/ietd.conf,\n"
	    "                           else " IETD_DEFAULT_CONFIG ")\n"
	    "  -d, --debug=LEVEL        debug messages up to LEVEL (0 to 2; "
	    "more is 2)\n"
	    "  -f, --foreground         stay in the foreground, log to stderr\n"
	    "  -g, --gid=GID            group (id or name) to run as after "
	    "binding\n"
	    "  -u, --uid=UID            user (id or name) to run as after "
	    "binding\n"
	    "  -a, --address=ADDRESS    listen on this IPv4 or IPv6 address "
	    "(default: all)\n"
	    "  -p, --port=PORT          TCP port (default 3260)\n"
	    "      --pid-file=PATH      locked pid file "
	    "(default " IETD_DEFAULT_PIDFILE ")\n"
	    "  -t, --check-config       check the configuration and the "
	    "allow files,\n"
	    "                           report every error, exit 0 or 1\n"
	    "  -T, --threads=N          event threads (default: one per "
	    "core)\n"
	    "      --initiators-allow=FILE  (default /etc/iet/initiators.allow,"
	    "\n"
	    "                           else /etc/initiators.allow)\n"
	    "      --initiators-deny=FILE   (default /etc/iet/initiators.deny, "
	    "else\n"
	    "                           /etc/initiators.deny)\n"
	    "      --targets-allow=FILE     (default /etc/iet/targets.allow, "
	    "else\n"
	    "                           /etc/targets.allow)\n"
	    "      --control=PATH       ietadm's control socket "
	    "(default " CTL_DEFAULT_SOCKET ")\n"
	    "      --status-dir=DIR     IET-style volume and session files "
	    "(default\n"
	    "                           " CTL_DEFAULT_STATUS_DIR ")\n"
	    "      --state-dir=DIR      persistent reservations with APTPL "
	    "(default\n"
	    "                           " SCSI_PR_STATE_DIR_DEFAULT ")\n"
	    "      --io-engine=ENGINE   backend I/O: auto (default: io_uring "
	    "when the\n"
	    "                           kernel allows it, else threads), "
	    "io_uring, threads\n"
	    "      --max-data-memory=SIZE  cap on in-flight command data, "
	    "bytes or\n"
	    "                           with K, M or G (default: a quarter "
	    "of RAM,\n"
	    "                           64M to 1G)\n"
	    "      --log-format=FORMAT  standard error lines: text (default: "
	    "local ISO 8601\n"
	    "                           time, then the message) or json (one "
	    "object a line:\n"
	    "                           time, level, message)\n"
	    "      --metrics=ADDR:PORT  serve Prometheus metrics at "
	    "http://ADDR:PORT/metrics\n"
	    "                           (default: off; [::1]:PORT for IPv6, "
	    ":PORT for any)\n"
	    "  -v, -V, --version        print the version and exit\n"
	    "  -h, --help               print this help and exit\n"
	    "\n"
	    "Signals: SIGHUP reloads ietd.conf and applies the difference; "
	    "SIGTERM and\n"
	    "SIGINT shut down cleanly. Exit status: 0 success, 1 error, 2 bad "
	    "usage.\n");
}

static int
options_number(const char *opt, const char *v, uint64_t min, uint64_t max,
    uint64_t *out, FILE *err)
{
	int rc = str_to_u64(v, min, max, false, out);

	if (rc == -EINVAL)
		fprintf(err, "ietd: %s: '%s' is not a number\n", opt, v);
	else if (rc == -ERANGE)
		fprintf(err, "ietd: %s: %s is out of range (%llu to %llu)\n",
		    opt, v, (unsigned long long)min, (unsigned long long)max);
	return rc;
}

/*
 * -d: IET 1.4.20 took any integer (atoi) and printed a level-N trace when
 * it was at least N; its traces go to level 2, so larger values are 2 and
 * a negative one is off. Only a value that is not a number is refused
 * (IET read it as 0).
 */
static int
options_debug(const char *v, int *out, FILE *err)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (end == v || *end != '\0') {
		fprintf(err, "ietd: --debug: '%s' is not a number\n", v);
		return -EINVAL;
	}
	*out = n < 0 ? -1 : n > 2 || errno == ERANGE ? 2 : (int)n;
	return 0;
}

/* Smallest cap: one command of the largest data length must fit. */
#define OPTIONS_DATA_MEMORY_MIN (16ull << 20)
#define OPTIONS_DATA_MEMORY_MAX (1ull << 40)

/* A size: a number of bytes, or with a K, M or G suffix (binary units). */
static int
options_size(const char *opt, const char *v, uint64_t min, uint64_t max,
    uint64_t *out, FILE *err)
{
	static const char suffixes[] = "KMG";
	size_t len = strlen(v);
	unsigned int shift = 0;
	char digits[32];
	uint64_t n;

	if (len > 0 && strchr(suffixes, v[len - 1]) != NULL) {
		shift = 10u *
		    (unsigned int)(strchr(suffixes, v[len - 1]) - suffixes + 1);
		len--;
	}
	if (len == 0 || len >= sizeof(digits))
		goto bad;
	memcpy(digits, v, len);
	digits[len] = '\0';
	if (str_to_u64(digits, 0, UINT64_MAX >> shift, false, &n) != 0)
		goto bad;
	n <<= shift;
	if (n < min || n > max) {
		fprintf(err, "ietd: %s: %s is out of range (%lluM to %lluG)\n",
		    opt, v, (unsigned long long)(min >> 20),
		    (unsigned long long)(max >> 30));
		return -ERANGE;
	}
	*out = n;
	return 0;
bad:
	fprintf(err, "ietd: %s: '%s' is not a size\n", opt, v);
	return -EINVAL;
}

/* --io-engine: how backing stores are read and written. */
static int
options_io_engine(const char *v, enum backend_engine *out, FILE *err)
{
	static const struct {
		const char *name;
		enum backend_engine engine;
	} engines[] = {
	    {"auto", BACKEND_ENGINE_AUTO},
	    {"io_uring", BACKEND_ENGINE_URING},
	    {"threads", BACKEND_ENGINE_THREADS},
	};
	size_t i;

	for (i = 0; i < sizeof(engines) / sizeof(engines[0]); i++) {
		if (strcmp(v, engines[i].name) == 0) {
			*out = engines[i].engine;
			return 0;
		}
	}
	fprintf(err,
	    "ietd: --io-engine: '%s' is not auto, io_uring or threads\n", v);
	return -EINVAL;
}

static int
options_gid(const char *v, gid_t *out, FILE *err)
{
	uint64_t n;
	struct group *gr;

	if (str_to_u64(v, 0, (gid_t)-2, false, &n) == 0) {
		*out = (gid_t)n;
		return 0;
	}
	gr = getgrnam(v);
	if (gr == NULL) {
		fprintf(err, "ietd: --gid: no such group '%s'\n", v);
		return -EINVAL;
	}
	*out = gr->gr_gid;
	return 0;
}

static int
options_uid(const char *v, uid_t *out, FILE *err)
{
	uint64_t n;
	struct passwd *pw;

	if (str_to_u64(v, 0, (uid_t)-2, false, &n) == 0) {
		*out = (uid_t)n;
		return 0;
	}
	pw = getpwnam(v);
	if (pw == NULL) {
		fprintf(err, "ietd: --uid: no such user '%s'\n", v);
		return -EINVAL;
	}
	*out = pw->pw_uid;
	return 0;
}

int
options_parse(struct ietd_options *o, int argc, char **argv, FILE *err)
{
	uint64_t n;
	int c;

	memset(o, 0, sizeof(*o));
	o->config = NULL; /* IET's search: /etc/iet/ietd.conf, /etc/ietd.conf */
	o->debug = -1;
	o->port = IETD_DEFAULT_PORT;
	o->pid_file = IETD_DEFAULT_PIDFILE;
	/* NULL: /etc/iet/NAME, else /etc/NAME, as IET 1.4.20 looked. */
	o->initiators_allow = NULL;
	o->initiators_deny = NULL;
	o->targets_allow = NULL;
	o->control = CTL_DEFAULT_SOCKET;
	o->status_dir = CTL_DEFAULT_STATUS_DIR;
	o->state_dir = SCSI_PR_STATE_DIR_DEFAULT;
	o->io_engine = BACKEND_ENGINE_AUTO;

	optind = 1;
	opterr = 0; /* we print our own message */
	while ((c = getopt_long(argc, argv,
		    ":c:d:fg:u:a:p:hvVtT:", options_long, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'd':
			if (options_debug(optarg, &o->debug, err))
				goto usage;
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'g':
			if (options_gid(optarg, &o->gid, err))
				goto usage;
			o->gid_set = true;
			break;
		case 'u':
			if (options_uid(optarg, &o->uid, err))
				goto usage;
			o->uid_set = true;
			break;
		case 'a':
			if (*optarg == '\0') {
				fprintf(err,
				    "ietd: --address: empty address\n");
				goto usage;
			}
			o->address = optarg;
			break;
		case 'p':
			if (options_number("--port", optarg, 1, 65535, &n, err))
				goto usage;
			o->port = (uint16_t)n;
			break;
		case 'h':
			o->help = true;
			break;
		case 'V':
		case 'v': /* IET's spelling */
			o->version = true;
			break;
		case 't':
			o->check_config = true;
			break;
		case 'T':
			if (options_number("--threads", optarg, 1,
				IETD_MAX_THREADS, &n, err))
				goto usage;
			o->threads = (unsigned int)n;
			break;
		case OPT_PID_FILE:
			o->pid_file = optarg;
			break;
		case OPT_INITIATORS_ALLOW:
			o->initiators_allow = optarg;
			break;
		case OPT_INITIATORS_DENY:
			o->initiators_deny = optarg;
			break;
		case OPT_TARGETS_ALLOW:
			o->targets_allow = optarg;
			break;
		case OPT_CONTROL:
			o->control = optarg;
			break;
		case OPT_STATUS_DIR:
			o->status_dir = optarg;
			break;
		case OPT_STATE_DIR:
			if (*optarg == '\0') {
				fprintf(err,
				    "ietd: --state-dir: empty directory\n");
				goto usage;
			}
			o->state_dir = optarg;
			break;
		case OPT_MAX_DATA_MEMORY:
			if (options_size("--max-data-memory", optarg,
				OPTIONS_DATA_MEMORY_MIN,
				OPTIONS_DATA_MEMORY_MAX, &o->max_data_memory,
				err) != 0)
				goto usage;
			break;
		case OPT_METRICS:
			o->metrics = optarg;
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "text") == 0)
				o->log_json = false;
			else if (strcmp(optarg, "json") == 0)
				o->log_json = true;
			else {
				fprintf(err,
				    "ietd: --log-format: '%s' is not text or "
				    "json\n",
				    optarg);
				goto usage;
			}
			break;
		case OPT_IO_ENGINE:
			if (options_io_engine(optarg, &o->io_engine, err))
				goto usage;
			break;
		case ':':
			fprintf(err, "ietd: option '%s' needs a value\n",
			    argv[optind - 1]);
			goto usage;
		default:
			fprintf(err, "ietd: unknown option '%s'\n",
			    argv[optind - 1]);
			goto usage;
		}
	}
	if (optind < argc) {
		fprintf(err, "ietd: unexpected argument '%s'\n", argv[optind]);
		goto usage;
	}
	return 0;
usage:
	options_usage(err);
	return -1;
}
