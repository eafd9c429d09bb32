/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * initiators.allow / initiators.deny / targets.allow: read at each call
 * (so edits apply to the next login), scanned line by line for the first
 * rule that decides. Any file that exists but cannot be read refuses
 * access rather than opening it.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/log.h"
#include "util/str.h"
#include "allow.h"

#define ALLOW_FILE_MAX (4u << 20) /* larger files are treated as unreadable */
#define ALLOW_MSG_MAX 1024
#define ALLOW_SHOW_MAX 256
#define ALLOW_V4_BITS 32
#define ALLOW_V6_BITS 128
#define ALLOW_PATH_MAX 4096

enum allow_scan {
	ALLOW_SCAN_ABSENT,     /* no such file */
	ALLOW_SCAN_UNREADABLE, /* exists, but could not be read */
	ALLOW_SCAN_NOMATCH,
	ALLOW_SCAN_MATCH,
};

enum allow_kind {
	ALLOW_ENTRY_ALL,
	ALLOW_ENTRY_V4,
	ALLOW_ENTRY_V6,
	ALLOW_ENTRY_NAME, /* initiator name regular expression */
	ALLOW_ENTRY_BAD,
};

struct allow_entry {
	enum allow_kind kind;
	unsigned int prefix;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
};

/* What is being asked: who connects, from where, to which target. */
struct allow_query {
	const char *target;
	const char *initiator; /* NULL: only addresses and ALL match */
	bool has_v4, has_v6;
	struct in_addr v4; /* peer or local address as IPv4 */
	struct in6_addr v6;
};

/* Read a whole file into a NUL-terminated buffer the caller frees. */
/* Why the last refusal on this thread came from an unreadable file. */
static __thread int allow_errno;

int
allow_last_errno(void)
{
	return allow_errno;
}

static enum allow_scan
allow_file_read(const char *path, char **out, int *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*err = errno;
		return errno == ENOENT ? ALLOW_SCAN_ABSENT
				       : ALLOW_SCAN_UNREADABLE;
	}
	if (fstat(fd, &st) != 0) {
		*err = errno;
		goto bad;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > ALLOW_FILE_MAX) {
		*err = S_ISDIR(st.st_mode) ? EISDIR : EFBIG;
		goto bad;
	}
	buf = mem_alloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		*err = ENOMEM;
		goto bad;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*err = errno;
			goto bad;
		}
		if (n == 0)
			break; /* it shrank meanwhile: use what is there */
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	*out = buf;
	return ALLOW_SCAN_NOMATCH;
bad:
	mem_free(buf);
	close(fd);
	return ALLOW_SCAN_UNREADABLE;
}

/* Parse "/n" (or nothing: the full length) after an address. */
static bool
allow_prefix_parse(const char *s, unsigned int max, unsigned int *out)
{
	uint64_t v;

	if (*s == '\0') {
		*out = max;
		return true;
	}
	if (*s != '/' || str_to_u64(s + 1, 0, max, false, &v) != 0)
		return false;
	*out = (unsigned int)v;
	return true;
}

/*
 * Classify one entry; on ALLOW_ENTRY_BAD why says what is wrong. Name
 * entries are left uncompiled: only callers that need them compile them.
 */
static enum allow_kind
allow_entry_parse(const char *s, struct allow_entry *e, char *why,
    size_t whylen)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *end;
	size_t n;

	memset(e, 0, sizeof(*e));
	e->kind = ALLOW_ENTRY_BAD;
	if (strcasecmp(s, "ALL") == 0)
		return e->kind = ALLOW_ENTRY_ALL;
	if (s[0] == '[') {
		end = strchr(s, ']');
		n = end ? (size_t)(end - s - 1) : 0;
		if (end == NULL || n == 0 || n >= sizeof(addr)) {
			snprintf(why, whylen, "bad IPv6 address");
			return e->kind;
		}
		memcpy(addr, s + 1, n);
		addr[n] = '\0';
		if (inet_pton(AF_INET6, addr, &e->addr.v6) != 1) {
			snprintf(why, whylen, "bad IPv6 address");
			return e->kind;
		}
		if (!allow_prefix_parse(end + 1, ALLOW_V6_BITS, &e->prefix)) {
			snprintf(why, whylen,
			    "bad IPv6 prefix length (expected /0 to /128)");
			return e->kind;
		}
		return e->kind = ALLOW_ENTRY_V6;
	}
	/* Digits and dots, then maybe "/...": meant as an IPv4 address. */
	n = strcspn(s, "/");
	if (strspn(s, "0123456789.") == n && memchr(s, '.', n) != NULL) {
		if (n >= sizeof(addr)) {
			snprintf(why, whylen, "bad IPv4 address");
			return e->kind;
		}
		memcpy(addr, s, n);
		addr[n] = '\0';
		if (inet_pton(AF_INET, addr, &e->addr.v4) != 1) {
			snprintf(why, whylen, "bad IPv4 address");
			return e->kind;
		}
		if (!allow_prefix_parse(s + n, ALLOW_V4_BITS, &e->prefix)) {
			snprintf(why, whylen,
			    "bad IPv4 prefix length (expected /0 to /32)");
			return e->kind;
		}
		return e->kind = ALLOW_ENTRY_V4;
	}
	/* A bare IPv6 address would silently be taken as a name pattern. */
	if (s[strspn(s, "0123456789abcdefABCDEF:./")] == '\0' &&
	    strstr(s, "::") != NULL) {
		snprintf(why, whylen, "IPv6 addresses must be in brackets");
		return e->kind;
	}
	return e->kind = ALLOW_ENTRY_NAME;
}

/* Compile a name entry as ^entry$, basic syntax, ignoring case. */
static int
allow_regex_compile(const char *s, regex_t *re)
{
	size_t n = strlen(s);
	char *pat = mem_alloc(n + 3);
	int rc;

	if (pat == NULL)
		return REG_ESPACE;
	pat[0] = '^';
	memcpy(pat + 1, s, n);
	pat[n + 1] = '$';
	pat[n + 2] = '\0';
	rc = regcomp(re, pat, REG_ICASE | REG_NOSUB);
	mem_free(pat);
	return rc;
}

static bool
allow_bits_match(const unsigned char *a, const unsigned char *b,
    unsigned int bits)
{
	unsigned int whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ b[whole]) & (0xff00u >> rest) & 0xff) == 0;
}

static bool
allow_entry_match(const struct allow_entry *e, const char *text,
    const struct allow_query *q)
{
	regex_t re;
	bool hit;

	switch (e->kind) {
	case ALLOW_ENTRY_ALL:
		return true;
	case ALLOW_ENTRY_V4:
		return q->has_v4 &&
		    allow_bits_match((const unsigned char *)&e->addr.v4,
			(const unsigned char *)&q->v4, e->prefix);
	case ALLOW_ENTRY_V6:
		return q->has_v6 &&
		    allow_bits_match(e->addr.v6.s6_addr, q->v6.s6_addr,
			e->prefix);
	case ALLOW_ENTRY_NAME:
		if (q->initiator == NULL)
			return false;
		if (allow_regex_compile(text, &re) != 0)
			return false;
		hit = regexec(&re, q->initiator, 0, NULL, 0) == 0;
		regfree(&re);
		return hit;
	case ALLOW_ENTRY_BAD:
	default:
		return false;
	}
}

/*
 * Cut one line out of the buffer at *pos: comments and blank lines give
 * an empty string. Returns NULL at the end.
 */
static char *
allow_next_line(char **pos)
{
	char *s = *pos, *nl, *c;

	if (*s == '\0')
		return NULL;
	nl = strchr(s, '\n');
	if (nl != NULL) {
		*nl = '\0';
		*pos = nl + 1;
	} else {
		*pos = s + strlen(s);
	}
	/* '#' starts a comment at the start of a line or after a blank. */
	for (c = s; *c != '\0'; c++)
		if (*c == '#' && (c == s || c[-1] == ' ' || c[-1] == '\t')) {
			*c = '\0';
			break;
		}
	return str_trim(s);
}

/* Split "target list" into its two fields; false when there is no list. */
static bool
allow_line_split(char *line, char **target, char **list)
{
	size_t n = strcspn(line, " \t");

	*target = line;
	if (line[n] == '\0')
		return false;
	line[n] = '\0';
	*list = str_trim(line + n + 1);
	return **list != '\0';
}

/* Next comma-separated entry of list (trimmed), or NULL at its end. */
static char *
allow_next_entry(char **list)
{
	char *s = *list, *comma;

	if (s == NULL)
		return NULL;
	comma = strchr(s, ',');
	if (comma != NULL) {
		*comma = '\0';
		*list = comma + 1;
	} else {
		*list = NULL;
	}
	return str_trim(s);
}

/* Scan one file for a rule that matches q. */
static enum allow_scan
allow_file_scan(const char *path, const struct allow_query *q)
{
	enum allow_scan rc;
	char *buf, *pos, *line, *target, *list, *item;
	char why[ALLOW_SHOW_MAX];
	struct allow_entry e;
	int err = 0;

	rc = allow_file_read(path, &buf, &err);
	if (rc != ALLOW_SCAN_NOMATCH) {
		if (rc == ALLOW_SCAN_UNREADABLE) {
			log_warning("cannot read %s: %s; refusing access", path,
			    strerror(err));
			allow_errno = err;
		}
		return rc;
	}
	pos = buf;
	while ((line = allow_next_line(&pos)) != NULL) {
		bool all;

		if (*line == '\0' || !allow_line_split(line, &target, &list))
			continue;
		all = strcasecmp(target, "ALL") == 0;
		if (!all && strcasecmp(target, q->target) != 0)
			continue;
		while ((item = allow_next_entry(&list)) != NULL)
			if (*item != '\0' &&
			    allow_entry_parse(item, &e, why, sizeof(why)) !=
				ALLOW_ENTRY_BAD &&
			    allow_entry_match(&e, item, q)) {
				rc = ALLOW_SCAN_MATCH;
				break;
			}
		/*
		 * IET 1.4.20 (usr/plain.c, match()): the first line for this
		 * target or for ALL decides, whether its list matches or not.
		 */
		break;
	}
	mem_free(buf);
	return rc;
}

/* Fill the address part of a query; IPv4-mapped IPv6 counts as IPv4. */
static void
allow_query_addr(struct allow_query *q, const struct sockaddr *sa)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff};

	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		q->has_v4 = true;
		q->v4 = in->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		q->has_v6 = true;
		q->v6 = in6->sin6_addr;
		if (memcmp(in6->sin6_addr.s6_addr, mapped, sizeof(mapped)) ==
		    0) {
			q->has_v4 = true;
			memcpy(&q->v4, in6->sin6_addr.s6_addr + 12,
			    sizeof(q->v4));
		}
	}
}

const char *
allow_path(const char *given, const char *name, char *buf, size_t len)
{
	struct stat st;

	if (given != NULL)
		return given;
	/*
	 * IET 1.4.20 opened /etc/iet/NAME and, only when that did not
	 * exist, /etc/NAME; each file on its own, at every use.
	 */
	snprintf(buf, len, "/etc/iet/%s", name);
	if (stat(buf, &st) == 0 || errno != ENOENT)
		return buf;
	snprintf(buf, len, "/etc/%s", name);
	return buf;
}

bool
allow_initiator(const struct allow_paths *p, const char *target,
    const char *initiator, const struct sockaddr *peer)
{
	struct allow_query q = {.target = target, .initiator = initiator};
	char abuf[ALLOW_PATH_MAX], dbuf[ALLOW_PATH_MAX];
	const char *allow = allow_path(p ? p->initiators_allow : NULL,
	    "initiators.allow", abuf, sizeof(abuf));
	const char *deny = allow_path(p ? p->initiators_deny : NULL,
	    "initiators.deny", dbuf, sizeof(dbuf));
	enum allow_scan a, d;

	allow_errno = 0;
	if (target == NULL)
		return false;
	allow_query_addr(&q, peer);
	a = allow_file_scan(allow, &q);
	d = allow_file_scan(deny, &q);
	/* IET let a file it could not read decide nothing; we refuse. */
	if (a == ALLOW_SCAN_UNREADABLE || d == ALLOW_SCAN_UNREADABLE)
		return false;
	/*
	 * IET 1.4.20 (plain_initiator_allow): with a deny file, refuse only
	 * whom it matches and the allow file does not; without one, an
	 * allow file admits only whom it matches.
	 */
	if (d != ALLOW_SCAN_ABSENT)
		return !(d == ALLOW_SCAN_MATCH && a != ALLOW_SCAN_MATCH);
	return a != ALLOW_SCAN_NOMATCH;
}

bool
allow_target_portal(const struct allow_paths *p, const char *target,
    const struct sockaddr *local)
{
	struct allow_query q = {.target = target};
	char buf[ALLOW_PATH_MAX];
	const char *path = allow_path(p ? p->targets_allow : NULL,
	    "targets.allow", buf, sizeof(buf));

	allow_errno = 0;
	if (target == NULL)
		return false;
	allow_query_addr(&q, local);
	switch (allow_file_scan(path, &q)) {
	case ALLOW_SCAN_ABSENT:
	case ALLOW_SCAN_MATCH:
		return true;
	case ALLOW_SCAN_NOMATCH:
	case ALLOW_SCAN_UNREADABLE:
		break;
	}
	return false;
}

static void allow_report(conf_report_fn *report, void *arg, const char *path,
    unsigned int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
allow_report(conf_report_fn *report, void *arg, const char *path,
    unsigned int line, const char *fmt, ...)
{
	char msg[ALLOW_MSG_MAX], full[ALLOW_MSG_MAX + ALLOW_SHOW_MAX + 32];
	va_list ap;

	if (report == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(full, sizeof(full), "%s:%u: %s", path, line, msg);
	else
		snprintf(full, sizeof(full), "%s: %s", path, msg);
	report(arg, full);
}

unsigned int
allow_check_file(const char *path, conf_report_fn *report, void *arg)
{
	char *buf, *pos, *line, *target, *list, *item;
	char why[ALLOW_SHOW_MAX], show[ALLOW_SHOW_MAX];
	unsigned int errors = 0, lineno = 0;
	struct allow_entry e;
	regex_t re;
	int err = 0, rc;

	switch (allow_file_read(path, &buf, &err)) {
	case ALLOW_SCAN_ABSENT:
		return 0;
	case ALLOW_SCAN_UNREADABLE:
		allow_report(report, arg, path, 0, "cannot read: %s",
		    strerror(err));
		return 1;
	default:
		break;
	}
	pos = buf;
	while ((line = allow_next_line(&pos)) != NULL) {
		lineno++;
		if (*line == '\0')
			continue;
		if (!allow_line_split(line, &target, &list)) {
			allow_report(report, arg, path, lineno,
			    "%s has no list of entries",
			    str_escape(show, sizeof(show), target,
				strlen(target)));
			errors++;
			continue;
		}
		while ((item = allow_next_entry(&list)) != NULL) {
			str_escape(show, sizeof(show), item, strlen(item));
			if (*item == '\0') {
				allow_report(report, arg, path, lineno,
				    "empty entry in the list");
				errors++;
				continue;
			}
			switch (allow_entry_parse(item, &e, why, sizeof(why))) {
			case ALLOW_ENTRY_BAD:
				allow_report(report, arg, path, lineno,
				    "%s: %s", show, why);
				errors++;
				break;
			case ALLOW_ENTRY_NAME:
				rc = allow_regex_compile(item, &re);
				if (rc != 0) {
					regerror(rc, NULL, why, sizeof(why));
					allow_report(report, arg, path, lineno,
					    "%s: bad regular expression: %s",
					    show, why);
					errors++;
				} else {
					regfree(&re);
				}
				break;
			default:
				break;
			}
		}
	}
	mem_free(buf);
	return errors;
}
