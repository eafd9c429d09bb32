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

static bool
str_hex_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return s[n] == '\0';
}

/* Plain ASCII ranges: isalnum() would follow the locale. */
static bool
str_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':';
}

/*
 * RFC 3720 3.2.6 / RFC 7143 4.2.7: the three name formats. The RFC 3722
 * stringprep profile maps a name to lower case and allows some non-ASCII
 * code points; we accept the ASCII subset only (no stringprep tables to
 * get wrong) and letters of either case, since the profile folds case
 * and initiators such as Windows send upper-case host names.
 */
const char *
str_iscsi_name_check(const char *s)
{
	size_t len = strlen(s);

	if (len > STR_ISCSI_NAME_MAX)
		return "longer than 223 bytes";
	for (const char *c = s; *c != '\0'; c++)
		if (!str_name_char(*c))
			return "only letters, digits, '-', '.' and ':' are "
			       "allowed";
	if (strncasecmp(s, "iqn.", 4) == 0) {
		/*
		 * RFC 7143 4.2.7.4: "iqn." yyyy-mm "." reversed domain name,
		 * then optionally ":" and a string of the owner's choosing.
		 */
		const char *d = s + 4;

		if (!isdigit((unsigned char)d[0]) ||
		    !isdigit((unsigned char)d[1]) ||
		    !isdigit((unsigned char)d[2]) ||
		    !isdigit((unsigned char)d[3]) || d[4] != '-' ||
		    !isdigit((unsigned char)d[5]) ||
		    !isdigit((unsigned char)d[6]) || d[7] != '.')
			return "an iqn. name needs a date (yyyy-mm) after "
			       "\"iqn.\"";
		if ((d[5] - '0') * 10 + (d[6] - '0') < 1 ||
		    (d[5] - '0') * 10 + (d[6] - '0') > 12)
			return "the month of an iqn. name is 01 to 12";
		if (d[8] == '\0' || d[8] == ':' || d[8] == '.')
			return "an iqn. name needs a naming authority after "
			       "the date";
		return NULL;
	}
	/* RFC 7143 4.2.7.5: "eui." and 16 hex digits (EUI-64). */
	if (strncasecmp(s, "eui.", 4) == 0)
		return str_hex_run(s + 4, 16)
		    ? NULL
		    : "an eui. name needs exactly 16 hex digits";
	/* RFC 7143 4.2.7.6: "naa." and 16 or 32 hex digits. */
	if (strncasecmp(s, "naa.", 4) == 0)
		return str_hex_run(s + 4, 16) || str_hex_run(s + 4, 32)
		    ? NULL
		    : "a naa. name needs 16 or 32 hex digits";
	return "it must start with iqn., eui. or naa.";
}

void
str_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
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
