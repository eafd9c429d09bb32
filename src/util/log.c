/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Logging back end. Messages are formatted into one buffer and written
 * with a single write(2) or syslog(3) call so lines from several event
 * threads never interleave.
 */
#include <sys/time.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static unsigned int log_sinks = LOG_SINK_STDERR;
static int log_level = -1;

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

void
log_vmsg(int prio, const char *fmt, va_list ap)
{
	char line[1024];
	int off = 0;

	if (log_sinks & LOG_SINK_SYSLOG) {
		va_list copy;

		va_copy(copy, ap);
		vsyslog(prio, fmt, copy);
		va_end(copy);
	}
	if (!(log_sinks & LOG_SINK_STDERR))
		return;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	if (!(log_sinks & LOG_SINK_BARE))
		off = snprintf(line, sizeof(line),
		    "%ld.%06ld: ", (long)tv.tv_sec, (long)tv.tv_usec);
	int n = vsnprintf(line + off, sizeof(line) - (size_t)off - 1, fmt, ap);
	if (n < 0)
		return;
	off += n;
	if ((size_t)off > sizeof(line) - 2)
		off = (int)sizeof(line) - 2;
	line[off++] = '\n';
	/* One write per line: a short write on stderr is not worth a retry. */
	ssize_t w = write(STDERR_FILENO, line, (size_t)off);
	(void)w;
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
