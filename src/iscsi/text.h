/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * iSCSI text (RFC 7143 6.1): a data segment of "key=value" strings, each
 * ended by a NUL. Parsing checks every length before it copies anything;
 * building goes through a bounded buffer.
 */
#ifndef IETD_ISCSI_TEXT_H
#define IETD_ISCSI_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "util/str.h"

#define TEXT_KEY_MAX 63    /* RFC 7143 6.1 */
#define TEXT_PAIRS_MAX 256 /* more keys than any login has */

/* key and value share one allocation owned by the list: never free them. */
struct text_kv {
	char *key;
	char *value;
};

struct text_list {
	struct text_kv *kv;
	unsigned int n;
	unsigned int cap;
};

void text_list_init(struct text_list *l);
void text_list_free(struct text_list *l);

/*
 * Append the pairs in buf (len bytes; the last pair may lack its NUL
 * only if len is exact) to l. Returns 0, -EINVAL with why filled (no '=',
 * empty or over-long key, bad key characters, value over its limit),
 * -E2BIG (more than TEXT_PAIRS_MAX pairs) or -ENOMEM.
 */
int text_parse(const void *buf, size_t len, struct text_list *l, char *why,
    size_t whylen);
/* Add one pair (copied). Returns 0 or -ENOMEM. */
int text_list_add(struct text_list *l, const char *key, const char *value);
/* The value of the first pair named key (case-sensitive), or NULL. */
const char *text_find(const struct text_list *l, const char *key);
/* How many pairs are named key (a key offered twice fails a login). */
unsigned int text_count(const struct text_list *l, const char *key);

/* Append "key=value\0" to sb; false when it does not fit. */
bool text_put(struct strbuf *sb, const char *key, const char *value);

#endif /* IETD_ISCSI_TEXT_H */
