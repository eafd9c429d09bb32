/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Logging: syslog (ident "ietd", facility daemon) or, in the foreground,
 * stderr with a local ISO 8601 time prefix, or one JSON object per line.
 * Thread-safe: each call is one write. fatal()/fatalx() exit and are for
 * start-up only.
 */
#ifndef IETD_UTIL_LOG_H
#define IETD_UTIL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

#define LOG_SINK_STDERR 0x1u
#define LOG_SINK_SYSLOG 0x2u
/* With STDERR: the bare message, no time stamp (ietd -t's file:line: ...). */
#define LOG_SINK_BARE 0x4u

/*
 * Set where messages go (LOG_SINK_* bits; stderr until this is called).
 * debug_level: log_debug(level, ...) prints when level <= debug_level;
 * -1 means no debug output at all (the default).
 */
void log_init(const char *ident, unsigned int sinks, int debug_level);
int log_debug_level(void);

/*
 * What a stderr line looks like: "2026-12-07T21:55:03.123+00:00: text"
 * or, for log shippers, {"time":"...","level":"info","message":"..."}
 * (every byte of the message JSON-escaped). Syslog lines are unchanged.
 */
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };
void log_set_format(enum log_format format);

/*
 * A structured member of a JSON log line: a string (str, escaped; only
 * its first LOG_FIELD_MAX bytes count) or, with str NULL, the number num.
 * key is a constant of the caller's, never peer text.
 */
#define LOG_FIELD_MAX 256
struct log_field {
	const char *key;
	const char *str;
	unsigned long long num;
};

/*
 * log_msg() with extra members for --log-format=json ("peer",
 * "initiator", "tid", ...); text and syslog lines are the message alone,
 * so it must carry the same facts.
 */
void log_fields(int prio, const struct log_field *f, unsigned int nf,
    const char *fmt, ...) LOG_PRINTF(4, 5);

void log_msg(int prio, const char *fmt, ...) LOG_PRINTF(2, 3);
void log_vmsg(int prio, const char *fmt, va_list ap) LOG_PRINTF(2, 0);
#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(level, ...)                            \
	do {                                             \
		if ((level) <= log_debug_level())        \
			log_msg(LOG_DEBUG, __VA_ARGS__); \
	} while (0)

/*
 * Rate limit for messages a peer can cause (style: never a way to flood
 * the log): at most LOG_RATE_BURST lines per LOG_RATE_WINDOW_MS per
 * limiter. log_ratelimit_pass() says whether to log now; when lines were
 * dropped before an allowed one, *dropped says how many (else 0).
 */
#define LOG_RATE_BURST 20
#define LOG_RATE_WINDOW_MS 5000

struct log_ratelimit {
	unsigned long long window_start_ms;
	unsigned int in_window;
	unsigned int dropped;
};

bool log_ratelimit_pass(struct log_ratelimit *rl, unsigned int *dropped);

/* Hex dump at debug level 2, one "%s %.16s" style line per 16 bytes. */
void log_hexdump(const char *label, const void *buf, unsigned int len);

/* Log at LOG_ERR (with strerror(errno) for fatal) and exit(1). */
void fatal(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

#endif /* IETD_UTIL_LOG_H */
