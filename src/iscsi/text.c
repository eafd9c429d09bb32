/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * iSCSI text key=value parsing and building (RFC 7143 6.1). The parser
 * checks every length and character before it allocates; what the keys
 * mean is left to the login and negotiation code.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "text.h"

/*
 * RFC 7143 6.1: "the maximum length of an individual value (not its
 * encoded representation) is 255 bytes". CHAP_C and CHAP_R carry binary
 * values of up to 1024 bytes (RFC 7143 12.1.3) whose hex or base64 text
 * is longer; those keys may use a whole default login data segment and
 * chap.c enforces the decoded limit.
 */
#define TEXT_VALUE_MAX 255
#define TEXT_LONG_VALUE_MAX 8192
#define TEXT_LIST_CAP_MIN 8

void
text_list_init(struct text_list *l)
{
	l->kv = NULL;
	l->n = 0;
	l->cap = 0;
}

/* Drop pairs from index keep on; key and value share one block. */
static void
text_list_truncate(struct text_list *l, unsigned int keep)
{
	while (l->n > keep) {
		l->n--;
		mem_free(l->kv[l->n].key);
		l->kv[l->n].key = NULL;
		l->kv[l->n].value = NULL;
	}
}

void
text_list_free(struct text_list *l)
{
	text_list_truncate(l, 0);
	mem_free(l->kv);
	text_list_init(l);
}

static int
text_list_reserve(struct text_list *l)
{
	struct text_kv *kv;
	unsigned int cap;

	if (l->n < l->cap)
		return 0;
	cap = l->cap ? l->cap * 2 : TEXT_LIST_CAP_MIN;
	if (cap < l->cap)
		return -ENOMEM;
	kv = mem_calloc(cap, sizeof(*kv));
	if (kv == NULL)
		return -ENOMEM;
	if (l->n)
		memcpy(kv, l->kv, l->n * sizeof(*kv));
	mem_free(l->kv);
	l->kv = kv;
	l->cap = cap;
	return 0;
}

/* Store one pair from counted (not NUL-terminated) key and value bytes. */
static int
text_list_add_n(struct text_list *l, const char *key, size_t klen,
    const char *value, size_t vlen)
{
	char *p;

	if (text_list_reserve(l) < 0)
		return -ENOMEM;
	p = mem_alloc(klen + 1 + vlen + 1);
	if (p == NULL)
		return -ENOMEM;
	memcpy(p, key, klen);
	p[klen] = '\0';
	memcpy(p + klen + 1, value, vlen);
	p[klen + 1 + vlen] = '\0';
	l->kv[l->n].key = p;
	l->kv[l->n].value = p + klen + 1;
	l->n++;
	return 0;
}

int
text_list_add(struct text_list *l, const char *key, const char *value)
{
	return text_list_add_n(l, key, strlen(key), value, strlen(value));
}

/* RFC 7143 6.1: key names use letters, digits, '.', '-', '+', '@', '_'. */
static bool
text_key_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' ||
	    c == '@' || c == '_';
}

static size_t
text_value_max(const char *key, size_t klen)
{
	static const char *const long_keys[] = {"CHAP_C", "CHAP_R"};

	for (size_t i = 0; i < sizeof(long_keys) / sizeof(long_keys[0]); i++)
		if (klen == strlen(long_keys[i]) &&
		    memcmp(key, long_keys[i], klen) == 0)
			return TEXT_LONG_VALUE_MAX;
	return TEXT_VALUE_MAX;
}

static void
text_why(char *why, size_t whylen, const char *msg, const char *key,
    size_t klen)
{
	char esc[TEXT_KEY_MAX + 8];

	if (why == NULL || whylen == 0)
		return;
	if (key == NULL) {
		(void)snprintf(why, whylen, "%s", msg);
		return;
	}
	/* The key comes from the peer: escape it before it reaches a log. */
	str_escape(esc, sizeof(esc), key,
	    klen > TEXT_KEY_MAX + 1 ? TEXT_KEY_MAX + 1 : klen);
	(void)snprintf(why, whylen, "%s (%s)", msg, esc);
}

/* Check one "key=value" string of len bytes and add it to l. */
static int
text_parse_pair(const char *s, size_t len, struct text_list *l, char *why,
    size_t whylen)
{
	const char *eq = memchr(s, '=', len);
	size_t klen, vlen;

	if (eq == NULL) {
		text_why(why, whylen, "text without '='", s, len);
		return -EINVAL;
	}
	klen = (size_t)(eq - s);
	vlen = len - klen - 1;
	if (klen == 0) {
		text_why(why, whylen, "empty key name", NULL, 0);
		return -EINVAL;
	}
	if (klen > TEXT_KEY_MAX) {
		text_why(why, whylen, "key name over 63 bytes", s, klen);
		return -EINVAL;
	}
	for (size_t i = 0; i < klen; i++) {
		if (!text_key_char_ok((unsigned char)s[i])) {
			text_why(why, whylen, "bad character in key name", s,
			    klen);
			return -EINVAL;
		}
	}
	if (vlen > text_value_max(s, klen)) {
		text_why(why, whylen, "value too long for key", s, klen);
		return -EINVAL;
	}
	if (l->n >= TEXT_PAIRS_MAX) {
		text_why(why, whylen, "too many keys", NULL, 0);
		return -E2BIG;
	}
	if (text_list_add_n(l, s, klen, eq + 1, vlen) < 0) {
		text_why(why, whylen, "out of memory", NULL, 0);
		return -ENOMEM;
	}
	return 0;
}

int
text_parse(const void *buf, size_t len, struct text_list *l, char *why,
    size_t whylen)
{
	const char *p = buf;
	unsigned int keep = l->n;
	size_t pos = 0;
	int rc;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	while (pos < len) {
		const char *nul = memchr(p + pos, '\0', len - pos);
		/* A last pair without its NUL runs to the exact end. */
		size_t end = nul ? (size_t)(nul - p) : len;

		if (end == pos) {
			/*
			 * An empty string: NUL padding after the last pair is
			 * tolerated, an empty string between pairs is not.
			 */
			while (pos < len && p[pos] == '\0')
				pos++;
			if (pos < len) {
				text_why(why, whylen, "empty key=value string",
				    NULL, 0);
				rc = -EINVAL;
				goto fail;
			}
			break;
		}
		rc = text_parse_pair(p + pos, end - pos, l, why, whylen);
		if (rc < 0)
			goto fail;
		pos = end + 1;
	}
	return 0;
fail:
	/* Leave the list as the caller passed it in. */
	text_list_truncate(l, keep);
	return rc;
}

const char *
text_find(const struct text_list *l, const char *key)
{
	for (unsigned int i = 0; i < l->n; i++)
		if (strcmp(l->kv[i].key, key) == 0)
			return l->kv[i].value;
	return NULL;
}

unsigned int
text_count(const struct text_list *l, const char *key)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < l->n; i++)
		if (strcmp(l->kv[i].key, key) == 0)
			n++;
	return n;
}

bool
text_put(struct strbuf *sb, const char *key, const char *value)
{
	size_t klen = strlen(key), vlen = strlen(value);

	/* All or nothing, so a reply never ends in half a pair. */
	if (sb->overflow || sb->len > sb->cap ||
	    klen + vlen + 2 > sb->cap - sb->len) {
		sb->overflow = true;
		return false;
	}
	strbuf_append(sb, key, klen);
	strbuf_append(sb, "=", 1);
	strbuf_append(sb, value, vlen);
	return strbuf_append(sb, "", 1);
}
