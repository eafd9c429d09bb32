/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * String helpers: escaping peer-supplied text before it is logged (glibc
 * has no strnvis), bounded number parsing, and a bounded text builder.
 */
#ifndef IETD_UTIL_STR_H
#define IETD_UTIL_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Copy src (srclen bytes, may hold NULs) into dst as printable ASCII:
 * backslash, quotes and non-printing bytes become \\, \" and \xHH. dst is
 * always NUL-terminated; output that does not fit ends in "...".
 * Returns dst.
 */
char *str_escape(char *dst, size_t dstlen, const void *src, size_t srclen);

/* Longest iSCSI name in bytes, without its NUL (RFC 7143 6.1). */
#define STR_ISCSI_NAME_MAX 223

/*
 * Is s a valid iSCSI name (iqn., eui. or naa. form, RFC 7143 4.2.7)?
 * Only ASCII letters (either case: names compare case-insensitively),
 * digits, '-', '.' and ':' are accepted, at most STR_ISCSI_NAME_MAX
 * bytes. Returns NULL when valid, otherwise a static sentence saying why.
 */
const char *str_iscsi_name_check(const char *s);

/* Fold ASCII letters of s to lower case in place (a name's canonical
 * form after RFC 3722's case mapping). */
void str_lower(char *s);

/*
 * Parse an unsigned decimal (or 0x hex when allow_hex) number in [min,max].
 * The whole string must be the number. Returns 0, -EINVAL (not a number)
 * or -ERANGE (outside [min,max]).
 */
int str_to_u64(const char *s, uint64_t min, uint64_t max, bool allow_hex,
    uint64_t *out);

/* Case-insensitive "Yes"/"No". Returns 0 or -EINVAL. */
int str_to_bool(const char *s, bool *out);

/* Strip leading and trailing blanks in place; returns the new start. */
char *str_trim(char *s);

/*
 * A bounded byte builder for key=value text and other replies. It never
 * writes past cap; once an append did not fit, overflow is set and stays.
 */
struct strbuf {
	char *buf;
	size_t len;
	size_t cap;
	bool overflow;
};

void strbuf_init(struct strbuf *sb, char *buf, size_t cap);
/* Append printf-formatted text (no NUL is counted in len). */
bool strbuf_printf(struct strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append raw bytes. */
bool strbuf_append(struct strbuf *sb, const void *p, size_t n);

#endif /* IETD_UTIL_STR_H */
