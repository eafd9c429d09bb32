/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * String helpers. Number parsing goes through strtoull with every error
 * path checked, because values from ietd.conf, ietadm and the wire decide
 * buffer sizes.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "str.h"

char *
str_escape(char *dst, size_t dstlen, const void *src, size_t srclen)
{
	const unsigned char *s = src;
	size_t o = 0;

	if (dstlen == 0)
		return dst;
	for (size_t i = 0; i < srclen; i++) {
		char tmp[5];
		size_t n;

		if (s[i] == '\\' || s[i] == '"') {
			tmp[0] = '\\';
			tmp[1] = (char)s[i];
			n = 2;
		} else if (s[i] >= 0x20 && s[i] < 0x7f) {
			tmp[0] = (char)s[i];
			n = 1;
		} else {
			snprintf(tmp, sizeof(tmp), "\\x%02x", s[i]);
			n = 4;
		}
		if (o + n + 1 > dstlen) {
			/* Mark the cut so a reader knows text is missing. */
			size_t keep = dstlen > 4 ? dstlen - 4 : 0;
			if (o > keep)
				o = keep;
			while (o < dstlen - 1 && o < keep + 3)
				dst[o++] = '.';
			break;
		}
		memcpy(dst + o, tmp, n);
		o += n;
	}
	dst[o] = '\0';
	return dst;
}

int
str_to_u64(const char *s, uint64_t min, uint64_t max, bool allow_hex,
    uint64_t *out)
{
	char *end;
	unsigned long long v;
	int base = 10;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	if (allow_hex && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (*s == '\0')
			return -EINVAL;
	}
	/* strtoull accepts blanks and a sign; a number here has neither. */
	if (!isxdigit((unsigned char)*s) ||
	    (base == 10 && !isdigit((unsigned char)*s)))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int
str_to_bool(const char *s, bool *out)
{
	if (strcasecmp(s, "Yes") == 0) {
		*out = true;
		return 0;
	}
	if (strcasecmp(s, "No") == 0) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

char *
str_trim(char *s)
{
	size_t len;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	len = strlen(s);
	while (len > 0 &&
	    (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' ||
		s[len - 1] == '\n'))
		s[--len] = '\0';
	return s;
}

void
strbuf_init(struct strbuf *sb, char *buf, size_t cap)
{
	sb->buf = buf;
	sb->len = 0;
	sb->cap = cap;
	sb->overflow = false;
}

bool
strbuf_append(struct strbuf *sb, const void *p, size_t n)
{
	if (sb->overflow || n > sb->cap - sb->len) {
		sb->overflow = true;
		return false;
	}
	memcpy(sb->buf + sb->len, p, n);
	sb->len += n;
	return true;
}

bool
strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sb->overflow)
		return false;
	va_start(ap, fmt);
	/*
	 * vsnprintf needs room for its NUL, so printf can never use the very
	 * last byte of the buffer; strbuf_append can.
	 */
	n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sb->cap - sb->len) {
		sb->overflow = true;
		return false;
	}
	sb->len += (size_t)n;
	return true;
}
