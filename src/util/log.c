/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Logging back end. Messages are formatted into one buffer and written
 * with a single write(2) or syslog(3) call so lines from several event
 * threads never interleave.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static unsigned int log_sinks = LOG_SINK_STDERR;
static int log_level = -1;
static enum log_format log_format = LOG_FORMAT_TEXT;

/*
 * A 1023-byte message escaped (6 bytes a byte at worst), a few fields
 * of LOG_FIELD_MAX bytes escaped, and the rest.
 */
#define LOG_JSON_LINE_MAX (1024 * 6 + 4 * LOG_FIELD_MAX * 6 + 256)

void
log_set_format(enum log_format format)
{
	log_format = format;
}

void
log_init(const char *ident, unsigned int sinks, int debug_level)
{
	if ((sinks & LOG_SINK_SYSLOG) && !(log_sinks & LOG_SINK_SYSLOG))
		openlog(ident, 0, LOG_DAEMON);
	log_sinks = sinks;
	log_level = debug_level;
}

int
log_debug_level(void)
{
	return log_level;
}

/*
 * Local time as ISO 8601 with milliseconds and the UTC offset,
 * "2026-12-07T21:55:03.123+01:00": sortable, unambiguous across time
 * zones and daylight saving, and what log shippers parse without a hint.
 */
static int
log_timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char date[32], zone[8];

	clock_gettime(CLOCK_REALTIME, &ts);
	if (localtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0 ||
	    strftime(zone, sizeof(zone), "%z", &tm) != 5)
		return snprintf(buf, len, "%lld", (long long)ts.tv_sec);
	/* %z is "+hhmm"; ISO 8601's extended form wants "+hh:mm". */
	return snprintf(buf, len, "%s.%03ld%.3s:%.2s", date,
	    ts.tv_nsec / 1000000, zone, zone + 3);
}

static const char *
log_level_name(int prio)
{
	static const char *const names[] = {"emerg", "alert", "crit", "error",
	    "warning", "notice", "info", "debug"};

	return names[LOG_PRI(prio) & 7];
}

/*
 * Append src to dst as the inside of a JSON string (RFC 8259 7): quote,
 * backslash and every control byte escaped, so no text can end the
 * string or the line. Valid UTF-8 passes; a byte that does not start a
 * valid sequence becomes \u00XX, so the output is always valid UTF-8.
 */
static size_t
log_json_escape(char *dst, size_t cap, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0;

	while (*s != '\0' && o + 7 < cap) {
		unsigned char c = *s;
		unsigned int n = 0;

		if (c == '"' || c == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)c;
			s++;
			continue;
		}
		if (c == '\n' || c == '\t' || c == '\r') {
			dst[o++] = '\\';
			dst[o++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
			s++;
			continue;
		}
		if (c >= 0x20 && c < 0x7f) {
			dst[o++] = (char)c;
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		bool valid = n > 0;
		for (unsigned int i = 1; valid && i <= n; i++)
			valid = (s[i] & 0xc0) == 0x80;
		/* No overlong forms, surrogates or code points past 10FFFF. */
		if (valid && n == 2)
			valid = !(c == 0xe0 && s[1] < 0xa0) &&
			    !(c == 0xed && s[1] >= 0xa0);
		if (valid && n == 3)
			valid = !(c == 0xf0 && s[1] < 0x90) &&
			    !(c == 0xf4 && s[1] >= 0x90);
		if (valid) {
			memcpy(dst + o, s, n + 1);
			o += n + 1;
			s += n + 1;
			continue;
		}
		o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", c);
		s++;
	}
	return o;
}

static void log_emit(int prio, const struct log_field *f, unsigned int nf,
    const char *fmt, va_list ap) LOG_PRINTF(4, 0);

/*
 * Format and write one message; f[0..nf) are extra JSON members (only
 * --log-format=json shows them: text and syslog lines already carry the
 * same facts in the message).
 */
static void
log_emit(int prio, const struct log_field *f, unsigned int nf, const char *fmt,
    va_list ap)
{
	char msg[1024];
	char line[LOG_JSON_LINE_MAX];
	char when[96];
	size_t off;

	if (log_sinks & LOG_SINK_SYSLOG) {
		va_list copy;

		va_copy(copy, ap);
		vsyslog(prio, fmt, copy);
		va_end(copy);
	}
	if (!(log_sinks & LOG_SINK_STDERR))
		return;
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		return;
	log_timestamp(when, sizeof(when));
	if (log_format == LOG_FORMAT_JSON) {
		/* One object per line: {"time":..,"level":..,"message":..} */
		off = (size_t)snprintf(line, sizeof(line),
		    "{\"time\":\"%s\",\"level\":\"%s\",\"message\":\"", when,
		    log_level_name(prio));
		off += log_json_escape(line + off, sizeof(line) - off - 3, msg);
		line[off++] = '"';
		/* Each member only when it fits whole, with the closing "}\n".
		 */
		for (unsigned int i = 0; i < nf; i++) {
			char member[LOG_FIELD_MAX * 6 + 64];
			size_t m = (size_t)snprintf(member, sizeof(member),
			    ",\"%s\":", f[i].key);

			if (f[i].str != NULL) {
				member[m++] = '"';
				m += log_json_escape(member + m,
				    sizeof(member) - m - 1, f[i].str);
				member[m++] = '"';
			} else {
				m += (size_t)snprintf(member + m,
				    sizeof(member) - m, "%llu", f[i].num);
			}
			if (m < sizeof(member) && off + m + 2 < sizeof(line)) {
				memcpy(line + off, member, m);
				off += m;
			}
		}
		line[off++] = '}';
	} else {
		/* ietd -t: bare "file:line: message" lines, as IET printed. */
		int n = (log_sinks & LOG_SINK_BARE)
		    ? snprintf(line, sizeof(line), "%s", msg)
		    : snprintf(line, sizeof(line), "%s: %s", when, msg);
		off = n < 0 ? 0 : (size_t)n;
		if (off > sizeof(line) - 2)
			off = sizeof(line) - 2;
	}
	line[off++] = '\n';
	/* One write per line: a short write on stderr is not worth a retry. */
	ssize_t w = write(STDERR_FILENO, line, off);
	(void)w;
}

void
log_vmsg(int prio, const char *fmt, va_list ap)
{
	log_emit(prio, NULL, 0, fmt, ap);
}

void
log_fields(int prio, const struct log_field *f, unsigned int nf,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(prio, f, nf, fmt, ap);
	va_end(ap);
}

void
log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}

bool
log_ratelimit_pass(struct log_ratelimit *rl, unsigned int *dropped)
{
	struct timespec ts;
	unsigned long long now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (unsigned long long)ts.tv_sec * 1000 +
	    (unsigned long long)ts.tv_nsec / 1000000;
	*dropped = 0;
	if (now - rl->window_start_ms >= LOG_RATE_WINDOW_MS) {
		rl->window_start_ms = now;
		rl->in_window = 0;
	}
	if (rl->in_window >= LOG_RATE_BURST) {
		rl->dropped++;
		return false;
	}
	rl->in_window++;
	*dropped = rl->dropped;
	rl->dropped = 0;
	return true;
}

void
log_hexdump(const char *label, const void *buf, unsigned int len)
{
	const unsigned char *p = buf;
	char line[16 * 3 + 1];

	if (log_level < 2)
		return;
	log_msg(LOG_DEBUG, "%s: (%p)", label, buf);
	for (unsigned int i = 0; i < len; i += 16) {
		char ascii[17];
		unsigned int j, o = 0;

		for (j = 0; j < 16 && i + j < len; j++) {
			o += (unsigned int)snprintf(line + o, sizeof(line) - o,
			    "%02x ", p[i + j]);
			ascii[j] = (p[i + j] >= 32 && p[i + j] < 127)
			    ? (char)p[i + j]
			    : '.';
		}
		ascii[j] = '\0';
		log_msg(LOG_DEBUG, "%s %.16s", line, ascii);
	}
}

/* Log msg (with the saved errno's text when with_errno) and exit(1). */
static void __attribute__((noreturn))
fatal_exit(bool with_errno, int saved, const char *msg)
{
	if (with_errno)
		log_msg(LOG_ERR, "%s: %s", msg, strerror(saved));
	else
		log_msg(LOG_ERR, "%s", msg);
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	char msg[768];
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fatal_exit(true, saved, msg);
}

void
fatalx(const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fatal_exit(false, 0, msg);
}
