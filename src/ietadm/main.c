/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * ietadm: IET's administration tool for a running ietd. It turns the
 * command line into one request on ietd's control socket (ctl_proto.h),
 * prints the answer as text or JSON, and says in one sentence what went
 * wrong when something did. It knows nothing of the daemon's insides.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ctl_proto.h"
#include "util/alloc.h"
#include "util/be.h"
#include "util/str.h"

#define IETADM_VERSION "0.1.0"
/* The control socket when --control is not given (documented). */
#define IETADM_CONTROL_ENV "IETD_CONTROL"

/* Exit statuses (documented in ietadm.8). */
#define EXIT_DAEMON 1 /* ietd refused or failed the operation */
#define EXIT_USAGE 2  /* the command line is wrong */
#define EXIT_REACH 3  /* ietd cannot be reached */

struct ietadm_args {
	const char *op;
	const char *tid, *sid, *cid, *lun, *params, *status;
	const char *control;
	bool user, json, dump;
};

static void
ietadm_usage(FILE *f)
{
	fprintf(f,
	    "usage: ietadm --op new|delete|show|update [--tid=N|NAME] "
	    "[--sid=N] [--cid=N]\n"
	    "              [--lun=N] [--user] [--params=key=value,...] "
	    "[--json]\n"
	    "              [--dump] [--status=volume|session] "
	    "[--control=PATH]\n"
	    "       ietadm --version | --help\n"
	    "\n"
	    "  --op new --tid=0 --params=Name=IQN          add a target\n"
	    "  --op delete --tid=N                         remove a target\n"
	    "  --op show --tid=N [--sid=S]                 show parameters\n"
	    "  --op update --tid=N --params=Key=Value,...  change parameters\n"
	    "  --op new --tid=N --lun=L --params=Path=F,Type=fileio\n"
	    "  --op delete --tid=N --lun=L                 remove a LUN\n"
	    "  --op update --tid=N --lun=L [--params=Sectors=N|Size=BYTES]\n"
	    "                                              resize a LUN\n"
	    "  --op delete --tid=N --sid=S --cid=C         drop a connection\n"
	    "  --op new|delete|show [--tid=N] --user "
	    "--params=IncomingUser=U,Password=P\n"
	    "  --op show --dump                            running ietd.conf\n"
	    "  --op show --status=volume|session           IET status text\n"
	    "  --op delete                                 stop ietd\n"
	    "\n"
	    "control socket: --control=PATH, else $" IETADM_CONTROL_ENV
	    ", else %s\n",
	    CTL_DEFAULT_SOCKET);
}

static void ietadm_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void
ietadm_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("ietadm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- JSON output ------------------------------------------------------- */

static void
ietadm_json_str(const char *s, size_t len)
{
	putchar('"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/*
 * Members whose value is a number (doc/ietadm.8, OUTPUT): status fields,
 * the answers of new and resize, and the numeric keys of ietd.conf(5).
 * A value is printed as a JSON number only for these keys, never by its
 * look (a ScsiSN or a user name made of digits stays a string).
 */
static const char *const ietadm_json_numbers[] = {"tid", "lun", "state",
    "blocks", "blocksize", "sid", "cid", "Sectors", "BlockSize",
    "PhysicalBlockSize", "Size", "MaxConnections", "MaxSessions",
    "MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength", "MaxBurstLength",
    "FirstBurstLength", "DefaultTime2Wait", "DefaultTime2Retain",
    "MaxOutstandingR2T", "ErrorRecoveryLevel", "NOPInterval", "NOPTimeout",
    "Wthreads", "QueuedCommands", "iSCSIProtocolLevel"};

static bool
ietadm_json_numeric_key(const char *k, size_t len)
{
	for (size_t i = 0;
	     i < sizeof(ietadm_json_numbers) / sizeof(ietadm_json_numbers[0]);
	     i++)
		if (strlen(ietadm_json_numbers[i]) == len &&
		    memcmp(ietadm_json_numbers[i], k, len) == 0)
			return true;
	return false;
}

/*
 * key:value as a member: a number for the keys above when the value is
 * a plain decimal (no sign, no leading zero, at most 20 digits), null
 * when such a key has anything else; a string otherwise.
 */
static void
ietadm_json_member(const char *k, size_t klen, const char *v, size_t vlen,
    bool conn)
{
	bool digits = vlen > 0 && vlen <= 20 && (v[0] != '0' || vlen == 1);

	for (size_t i = 0; digits && i < vlen; i++)
		digits = v[i] >= '0' && v[i] <= '9';
	ietadm_json_str(k, klen);
	putchar(':');
	/* A connection's state is a word ("active"), an LU's a number. */
	if (!ietadm_json_numeric_key(k, klen) ||
	    (conn && klen == 5 && memcmp(k, "state", 5) == 0))
		ietadm_json_str(v, vlen);
	else if (digits)
		fwrite(v, 1, vlen, stdout);
	else
		fputs("null", stdout);
}

/* "Key=Value" lines as one JSON object. */
static void
ietadm_json_kv(const char *body, size_t len)
{
	const char *p = body, *end = body + len;
	bool first = true;

	putchar('{');
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eq;

		if (nl == NULL)
			nl = end;
		eq = memchr(p, '=', (size_t)(nl - p));
		if (eq != NULL) {
			printf("%s", first ? "" : ",");
			ietadm_json_member(p, (size_t)(eq - p), eq + 1,
			    (size_t)(nl - eq - 1), false);
			first = false;
		}
		p = nl + 1;
	}
	puts("}");
}

/*
 * Account lines "IncomingUser=NAME[ SECRET]" as
 * {"IncomingUser":[{"user":..,"password":..}],"OutgoingUser":[...]}.
 */
static void
ietadm_json_accounts(const char *body, size_t len)
{
	static const char *const kinds[] = {"IncomingUser", "OutgoingUser"};

	putchar('{');
	for (int k = 0; k < 2; k++) {
		const char *p = body, *end = body + len;
		size_t klen = strlen(kinds[k]);
		bool first = true;

		printf("%s\"%s\":[", k > 0 ? "," : "", kinds[k]);
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));

			if (nl == NULL)
				nl = end;
			if ((size_t)(nl - p) > klen &&
			    memcmp(p, kinds[k], klen) == 0 && p[klen] == '=') {
				const char *v = p + klen + 1;
				const char *sp =
				    memchr(v, ' ', (size_t)(nl - v));

				printf("%s{\"user\":", first ? "" : ",");
				ietadm_json_str(v,
				    (size_t)((sp != NULL ? sp : nl) - v));
				if (sp != NULL) {
					fputs(",\"password\":", stdout);
					ietadm_json_str(sp + 1,
					    (size_t)(nl - sp - 1));
				}
				putchar('}');
				first = false;
			}
			p = nl + 1;
		}
		putchar(']');
	}
	puts("}");
}

/* Print the "key:value key:value" tokens of one status line as members. */
static void
ietadm_json_tokens(const char *p, const char *end, bool conn)
{
	bool first = true;

	while (p < end) {
		const char *sp, *colon;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= end)
			break;
		colon = memchr(p, ':', (size_t)(end - p));
		if (colon == NULL)
			break;
		/* path: is last and may hold blanks; take the rest. */
		if (colon - p == 4 && memcmp(p, "path", 4) == 0)
			sp = end;
		else {
			sp = memchr(colon, ' ', (size_t)(end - colon));
			if (sp == NULL)
				sp = end;
		}
		printf("%s", first ? "" : ",");
		ietadm_json_member(p, (size_t)(colon - p), colon + 1,
		    (size_t)(sp - colon - 1), conn);
		first = false;
		p = sp;
	}
}

/*
 * The status texts (and the plain target list) nest by leading tabs:
 * targets, then LUNs or sessions (child; NULL: no nesting), then
 * connections.
 */
#define IETADM_JSON_NESTS(level, child)                    \
	((level) == 0 ? (child) != NULL                    \
		      : (level) == 1 && (child) != NULL && \
		    strcmp((child), "sessions") == 0)
static void
ietadm_json_status(const char *body, size_t len, const char *child)
{
	const char *p = body, *end = body + len;
	int depth = -1; /* the level whose object is open */
	bool first[3] = {true, true, true};

	putchar('[');
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		int level = 0;

		if (nl == NULL)
			nl = end;
		while (p + level < nl && p[level] == '\t' && level < 2)
			level++;
		if (level > depth + 1) {
			p = nl + 1; /* orphan line: skip */
			continue;
		}
		/* Close deeper objects and their arrays. */
		while (depth >= level) {
			fputs(IETADM_JSON_NESTS(depth, child) ? "]}" : "}",
			    stdout);
			depth--;
		}
		printf("%s{", first[level] ? "" : ",");
		first[level] = false;
		ietadm_json_tokens(p + level, nl, level == 2);
		if (IETADM_JSON_NESTS(level, child)) {
			printf(",\"%s\":[", level == 0 ? child : "connections");
			first[level + 1] = true;
		}
		depth = level;
		p = nl + 1;
	}
	while (depth >= 0) {
		fputs(IETADM_JSON_NESTS(depth, child) ? "]}" : "}", stdout);
		depth--;
	}
	puts("]");
}

/* ---- the request ------------------------------------------------------- */

static int
ietadm_request_build(const struct ietadm_args *a, struct strbuf *sb)
{
	static const struct {
		const char *key;
		size_t off;
	} fields[] = {
	    {CTL_K_TID, offsetof(struct ietadm_args, tid)},
	    {CTL_K_SID, offsetof(struct ietadm_args, sid)},
	    {CTL_K_CID, offsetof(struct ietadm_args, cid)},
	    {CTL_K_LUN, offsetof(struct ietadm_args, lun)},
	    {CTL_K_PARAMS, offsetof(struct ietadm_args, params)},
	    {CTL_K_STATUS, offsetof(struct ietadm_args, status)},
	};
	bool ok = ctl_frame_begin(sb) && ctl_kv_add(sb, CTL_K_OP, a->op);

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *v;

		memcpy(&v, (const char *)a + fields[i].off, sizeof(v));
		if (v != NULL && ok)
			ok = ctl_kv_add(sb, fields[i].key, v);
	}
	if (a->user && ok)
		ok = ctl_kv_add(sb, CTL_K_USER, "1");
	if (a->dump && ok)
		ok = ctl_kv_add(sb, CTL_K_DUMP, "1");
	return ok && ctl_frame_end(sb) ? 0 : -EINVAL;
}

static int
ietadm_io_all(int fd, void *buf, size_t len, bool writing)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = writing
		    ? send(fd, (char *)buf + off, len - off, MSG_NOSIGNAL)
		    : recv(fd, (char *)buf + off, len - off, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		off += (size_t)n;
	}
	return 0;
}

/* Connect, send, receive. Returns an exit status; *payload on success. */
static int
ietadm_exchange(const char *path, const struct strbuf *req, char **payload,
    size_t *plen)
{
	struct sockaddr_un sun;
	uint8_t hdr[CTL_FRAME_HDR_LEN];
	size_t len;
	char *buf;
	int fd, err;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		ietadm_fail("control socket path too long: %s", path);
		return EXIT_USAGE;
	}
	memcpy(sun.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ietadm_fail("cannot create a socket (%s)", strerror(errno));
		return EXIT_REACH;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		err = errno;
		close(fd);
		if (err == ENOENT || err == ECONNREFUSED)
			ietadm_fail("ietd is not running (no control socket "
				    "at %s)",
			    path);
		else if (err == EACCES || err == EPERM)
			ietadm_fail("permission denied (cannot open %s)", path);
		else
			ietadm_fail("cannot reach ietd at %s (%s)", path,
			    strerror(err));
		return EXIT_REACH;
	}
	err = ietadm_io_all(fd, req->buf, req->len, true);
	/* A refused caller may be cut off mid-send; its answer still waits. */
	if (err == 0 || err == -EPIPE || err == -ECONNRESET)
		err = ietadm_io_all(fd, hdr, sizeof(hdr), false);
	if (err == 0) {
		err = ctl_frame_len(hdr, CTL_RSP_MAX, &len);
		if (err != 0) {
			close(fd);
			ietadm_fail("malformed answer from ietd");
			return EXIT_REACH;
		}
	}
	if (err != 0) {
		close(fd);
		ietadm_fail("lost the connection to ietd (%s)", strerror(-err));
		return EXIT_REACH;
	}
	buf = mem_alloc(len + 1);
	if (buf == NULL) {
		close(fd);
		ietadm_fail("out of memory");
		return EXIT_DAEMON;
	}
	err = ietadm_io_all(fd, buf, len, false);
	close(fd);
	if (err != 0) {
		mem_free(buf);
		ietadm_fail("lost the connection to ietd (%s)", strerror(-err));
		return EXIT_REACH;
	}
	buf[len] = '\0';
	*payload = buf;
	*plen = len;
	return 0;
}

static void
ietadm_print(const struct ietadm_args *a, const struct ctl_rsp *rsp)
{
	if (!a->json) {
		fwrite(rsp->body, 1, rsp->blen, stdout);
		return;
	}
	if (a->dump) {
		fputs("{\"config\":", stdout);
		ietadm_json_str(rsp->body, rsp->blen);
		puts("}");
	} else if (a->status != NULL)
		ietadm_json_status(rsp->body, rsp->blen,
		    strcmp(a->status, "volume") == 0 ? "luns" : "sessions");
	else if (a->user && strcmp(a->op, CTL_OP_SHOW) == 0)
		ietadm_json_accounts(rsp->body, rsp->blen);
	else if (strcmp(a->op, CTL_OP_SHOW) == 0 && a->tid == NULL &&
	    a->sid == NULL)
		ietadm_json_status(rsp->body, rsp->blen, NULL);
	else if (rsp->blen > 0 || strcmp(a->op, CTL_OP_SHOW) == 0)
		ietadm_json_kv(rsp->body, rsp->blen);
}

enum {
	OPT_JSON = 256,
	OPT_DUMP,
	OPT_STATUS,
	OPT_CONTROL,
};

static const struct option ietadm_options[] = {
    {"op", required_argument, NULL, 'o'},
    {"tid", required_argument, NULL, 't'},
    {"sid", required_argument, NULL, 's'},
    {"cid", required_argument, NULL, 'c'},
    {"lun", required_argument, NULL, 'l'},
    {"params", required_argument, NULL, 'p'},
    {"user", no_argument, NULL, 'u'},
    {"json", no_argument, NULL, OPT_JSON},
    {"dump", no_argument, NULL, OPT_DUMP},
    {"status", required_argument, NULL, OPT_STATUS},
    {"control", required_argument, NULL, OPT_CONTROL},
    {"version", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int
ietadm_args_parse(int argc, char **argv, struct ietadm_args *a)
{
	int c;

	const char *env = getenv(IETADM_CONTROL_ENV);

	memset(a, 0, sizeof(*a));
	/*
	 * Programs that run ietadm with a fixed command line (Pacemaker's
	 * iSCSITarget agent) cannot add --control; the environment can
	 * still point them at a daemon with a socket of its own.
	 */
	a->control = env != NULL && env[0] != '\0' ? env : CTL_DEFAULT_SOCKET;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:t:s:c:l:p:uvh", ietadm_options,
		    NULL)) != -1) {
		switch (c) {
		case 'o':
			a->op = optarg;
			break;
		case 't':
			a->tid = optarg;
			break;
		case 's':
			a->sid = optarg;
			break;
		case 'c':
			a->cid = optarg;
			break;
		case 'l':
			a->lun = optarg;
			break;
		case 'p':
			a->params = optarg;
			break;
		case 'u':
			a->user = true;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_DUMP:
			a->dump = true;
			break;
		case OPT_STATUS:
			a->status = optarg;
			break;
		case OPT_CONTROL:
			a->control = optarg;
			break;
		case 'v':
			printf("ietadm %s\n", IETADM_VERSION);
			exit(0);
		case 'h':
			ietadm_usage(stdout);
			exit(0);
		default:
			if (optopt != 0 && optopt < 256)
				ietadm_fail("unknown or incomplete option -%c "
					    "(see ietadm --help)",
				    optopt);
			else
				ietadm_fail("unknown or incomplete option %s "
					    "(see ietadm --help)",
				    argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		ietadm_fail("unexpected argument %s (see ietadm --help)",
		    argv[optind]);
		return -EINVAL;
	}
	if (a->op == NULL) {
		ietadm_fail("no operation given: use --op "
			    "new|delete|show|update (see ietadm --help)");
		return -EINVAL;
	}
	if (strcmp(a->op, CTL_OP_NEW) != 0 &&
	    strcmp(a->op, CTL_OP_DELETE) != 0 &&
	    strcmp(a->op, CTL_OP_SHOW) != 0 &&
	    strcmp(a->op, CTL_OP_UPDATE) != 0) {
		ietadm_fail("unknown operation \"%s\" (new, delete, show or "
			    "update)",
		    a->op);
		return -EINVAL;
	}
	if ((a->dump || a->status != NULL) && strcmp(a->op, CTL_OP_SHOW) != 0) {
		ietadm_fail("--dump and --status go with --op show");
		return -EINVAL;
	}
	if (a->status != NULL && strcmp(a->status, "volume") != 0 &&
	    strcmp(a->status, "session") != 0) {
		ietadm_fail("--status is volume or session, not \"%s\"",
		    a->status);
		return -EINVAL;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static char reqbuf[CTL_REQ_MAX + CTL_FRAME_HDR_LEN];
	struct ietadm_args a;
	struct strbuf req;
	struct ctl_rsp rsp;
	char *payload = NULL;
	size_t plen = 0;
	int rc;

	if (ietadm_args_parse(argc, argv, &a) != 0)
		return EXIT_USAGE;
	strbuf_init(&req, reqbuf, sizeof(reqbuf));
	if (ietadm_request_build(&a, &req) != 0) {
		ietadm_fail("the request is too long or holds control "
			    "characters");
		return EXIT_USAGE;
	}
	rc = ietadm_exchange(a.control, &req, &payload, &plen);
	if (rc != 0)
		return rc;
	if (ctl_rsp_parse(payload, plen, &rsp) != 0) {
		mem_free(payload);
		ietadm_fail("malformed answer from ietd");
		return EXIT_REACH;
	}
	if (rsp.status != 0) {
		if (rsp.message != NULL)
			ietadm_fail("%.*s", (int)rsp.mlen, rsp.message);
		else
			ietadm_fail("%s", strerror(rsp.status));
		mem_free(payload);
		return EXIT_DAEMON;
	}
	ietadm_print(&a, &rsp);
	mem_free(payload);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ietadm_fail("cannot write the output (%s)", strerror(errno));
		return EXIT_DAEMON;
	}
	return 0;
}
