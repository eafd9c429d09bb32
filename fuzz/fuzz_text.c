/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * libFuzzer target for login text and CHAP: arbitrary bytes go through
 * text_parse, then through a CHAP exchange with a fixed account. The
 * first input byte picks how honest the simulated initiator is, so the
 * mutual-CHAP code behind a correct CHAP_R is reached too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "iscsi/chap.h"
#include "iscsi/text.h"

#define FUZZ_USER "fuzz-user"
#define FUZZ_SECRET "fuzz-secret-123"
#define FUZZ_REPLY_LEN 8192

/* Input flags (first byte). */
#define FUZZ_F_FIX_N 0x01    /* replace CHAP_N with the known user */
#define FUZZ_F_FIX_R 0x02    /* replace CHAP_R with the right answer */
#define FUZZ_F_OUT_USER 0x04 /* configure an OutgoingUser */
#define FUZZ_F_ADD_A 0x08    /* add CHAP_A=5 if step one lacks it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
fuzz_lookup(void *arg, const char *user, char *secret, size_t len)
{
	(void)arg;
	if (strcmp(user, FUZZ_USER) != 0)
		return false;
	(void)snprintf(secret, len, "%s", FUZZ_SECRET);
	return true;
}

/* Compute the correct CHAP_R from the target's step-one reply. */
static bool
fuzz_answer(const struct strbuf *reply, char *hex, size_t hexlen)
{
	struct text_list l;
	uint8_t chal[CHAP_BINARY_MAX], resp[CHAP_DIGEST_MAX];
	enum chap_alg alg;
	size_t clen;
	uint64_t id;
	bool ok = false;

	text_list_init(&l);
	if (text_parse(reply->buf, reply->len, &l, NULL, 0) == 0 &&
	    text_find(&l, "CHAP_A") && text_find(&l, "CHAP_I") &&
	    text_find(&l, "CHAP_C") &&
	    chap_select_alg(text_find(&l, "CHAP_A"), &alg) == 0 &&
	    str_to_u64(text_find(&l, "CHAP_I"), 0, 255, false, &id) == 0 &&
	    chap_decode(text_find(&l, "CHAP_C"), chal, sizeof(chal), &clen) ==
		0 &&
	    chap_digest(alg, (uint8_t)id, FUZZ_SECRET, chal, clen, resp) == 0)
		ok = chap_encode_hex(resp, chap_digest_len(alg), hex, hexlen);
	text_list_free(&l);
	return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char reply[FUZZ_REPLY_LEN];
	char hex[2 + 2 * CHAP_DIGEST_MAX + 1];
	struct text_list in, step2;
	struct chap_ctx *c;
	struct strbuf sb;
	char why[256];
	uint8_t flags;
	enum chap_result r;

	if (size < 1)
		return 0;
	flags = data[0];
	text_list_init(&in);
	text_list_init(&step2);
	if (text_parse(data + 1, size - 1, &in, why, sizeof(why)) != 0)
		goto out;
	/* Exercise the lookups on every key seen. */
	for (unsigned int i = 0; i < in.n; i++)
		(void)text_count(&in, in.kv[i].key);

	c = chap_ctx_new();
	if (c == NULL)
		goto out;
	if ((flags & FUZZ_F_ADD_A) && text_find(&in, "CHAP_A") == NULL &&
	    text_list_add(&in, "CHAP_A", "5") != 0)
		goto free_ctx;
	strbuf_init(&sb, reply, sizeof(reply));
	r = chap_step(c, &in, &sb, fuzz_lookup, NULL, NULL, NULL, why,
	    sizeof(why));
	if (r != CHAP_CONTINUE)
		goto free_ctx;
	if (!fuzz_answer(&sb, hex, sizeof(hex)))
		__builtin_trap(); /* the target's own reply must parse */

	/* Step two: the same keys, some replaced by honest values. */
	for (unsigned int i = 0; i < in.n; i++) {
		const char *k = in.kv[i].key;

		if (((flags & FUZZ_F_FIX_N) && strcmp(k, "CHAP_N") == 0) ||
		    ((flags & FUZZ_F_FIX_R) && strcmp(k, "CHAP_R") == 0))
			continue;
		if (text_list_add(&step2, k, in.kv[i].value) != 0)
			goto free_ctx;
	}
	if (((flags & FUZZ_F_FIX_N) &&
		text_list_add(&step2, "CHAP_N", FUZZ_USER) != 0) ||
	    ((flags & FUZZ_F_FIX_R) &&
		text_list_add(&step2, "CHAP_R", hex) != 0))
		goto free_ctx;
	strbuf_init(&sb, reply, sizeof(reply));
	r = chap_step(c, &step2, &sb, fuzz_lookup, NULL,
	    (flags & FUZZ_F_OUT_USER) ? "target" : NULL,
	    (flags & FUZZ_F_OUT_USER) ? "target-secret-456" : NULL, why,
	    sizeof(why));
	if (r == CHAP_DONE && chap_user(c) == NULL)
		__builtin_trap();
	if (r != CHAP_DONE && chap_user(c) != NULL)
		__builtin_trap();
	/* An honest exchange without mutual CHAP must succeed. */
	if ((flags & (FUZZ_F_FIX_N | FUZZ_F_FIX_R)) ==
		(FUZZ_F_FIX_N | FUZZ_F_FIX_R) &&
	    text_find(&step2, "CHAP_I") == NULL &&
	    text_find(&step2, "CHAP_C") == NULL &&
	    text_count(&step2, "CHAP_A") <= 1 && r != CHAP_DONE)
		__builtin_trap();
free_ctx:
	chap_ctx_free(c);
out:
	text_list_free(&in);
	text_list_free(&step2);
	return 0;
}
