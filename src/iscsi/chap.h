/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * CHAP (RFC 1994 as used by RFC 7143 12.1.3) on the target side, with the
 * digests IANA registers for CHAP_A: 5 MD5, 6 SHA-1, 7 SHA-256,
 * 8 SHA3-256. Challenges come from OpenSSL's RAND_bytes; responses are
 * compared in constant time.
 */
#ifndef IETD_ISCSI_CHAP_H
#define IETD_ISCSI_CHAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/str.h"
#include "text.h"

enum chap_alg {
	CHAP_ALG_MD5 = 5,
	CHAP_ALG_SHA1 = 6,
	CHAP_ALG_SHA256 = 7,
	CHAP_ALG_SHA3_256 = 8,
};

#define CHAP_DIGEST_MAX 32    /* SHA-256 and SHA3-256 */
#define CHAP_CHALLENGE_LEN 32 /* bytes the target sends */
#define CHAP_BINARY_MAX 1024  /* longest challenge/response accepted */

/*
 * Pick the strongest algorithm from an initiator's CHAP_A list ("7,5").
 * Returns 0, or -EINVAL when the list holds no supported value or is not
 * a list of numbers.
 */
int chap_select_alg(const char *list, enum chap_alg *out);
size_t chap_digest_len(enum chap_alg alg);
/* out (chap_digest_len bytes) = H(id || secret || challenge). */
int chap_digest(enum chap_alg alg, uint8_t id, const char *secret,
    const uint8_t *challenge, size_t clen, uint8_t *out);
/*
 * Decode a binary value: "0x" hex or "0b" base64 (RFC 7143 6.1).
 * Returns 0, -EINVAL (bad encoding) or -E2BIG (over max bytes).
 */
int chap_decode(const char *s, uint8_t *out, size_t max, size_t *len);
/* Encode as "0x..." hex into out; false when out is too short. */
bool chap_encode_hex(const uint8_t *in, size_t len, char *out, size_t olen);
/* Constant-time equality. */
bool chap_equal(const uint8_t *a, const uint8_t *b, size_t n);

enum chap_result {
	CHAP_CONTINUE,   /* keys were added to out; wait for the next PDU */
	CHAP_DONE,       /* authenticated (mutually, if asked) */
	CHAP_FAIL_AUTH,  /* wrong user or response: 0x0201 */
	CHAP_FAIL_PROTO, /* missing or malformed keys: 0x0207/0x0200 */
};

/* Look an incoming user's secret up; false = no such user. */
typedef bool chap_secret_fn(void *arg, const char *user, char *secret,
    size_t len);

struct chap_ctx;

struct chap_ctx *chap_ctx_new(void);
void chap_ctx_free(struct chap_ctx *c);

/*
 * Feed the initiator's keys of one login PDU and append the target's
 * answer to out. First step: CHAP_A from in, answers CHAP_A, CHAP_I,
 * CHAP_C. Second step: CHAP_N and CHAP_R are checked against the secret
 * from lookup; if the initiator sent CHAP_I and CHAP_C (mutual CHAP) the
 * target answers CHAP_N=out_user and CHAP_R, and fails when out_user is
 * NULL or the initiator's challenge equals the target's. why gets one
 * line for the log on failure.
 */
enum chap_result chap_step(struct chap_ctx *c, const struct text_list *in,
    struct strbuf *out, chap_secret_fn *lookup, void *arg, const char *out_user,
    const char *out_secret, char *why, size_t whylen);
/* The user name the initiator authenticated as (borrowed), or NULL. */
const char *chap_user(const struct chap_ctx *c);

#endif /* IETD_ISCSI_CHAP_H */
