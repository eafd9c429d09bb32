/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Target side of CHAP (RFC 1994) as iSCSI carries it in login keys
 * (RFC 7143 12.1.3): algorithm choice, challenge, response check and the
 * answer for mutual CHAP. Digests and randomness come from OpenSSL; the
 * login engine decides what status a failure becomes and logs it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "util/alloc.h"
#include "util/log.h"
#include "chap.h"

#define CHAP_ID_MAX 255       /* CHAP_I is one octet (RFC 1994 4.1) */
#define CHAP_NAME_MAX 255     /* CHAP_N is an ordinary text value */
#define CHAP_SECRET_MAX 256   /* buffer handed to the secret lookup */
#define CHAP_ALG_TOKEN_MAX 20 /* digits of a 64-bit number */
/* "0x" + two digits per byte + NUL. */
#define CHAP_HEX_LEN(n) (2 + 2 * (n) + 1)

enum chap_state {
	CHAP_S_START,      /* waiting for CHAP_A */
	CHAP_S_CHALLENGED, /* CHAP_I and CHAP_C sent, waiting for CHAP_R */
	CHAP_S_DONE,       /* initiator authenticated */
	CHAP_S_FAILED,     /* any failure ends the exchange */
};

struct chap_ctx {
	enum chap_state state;
	enum chap_alg alg;
	uint8_t id;
	uint8_t challenge[CHAP_CHALLENGE_LEN];
	char user[CHAP_NAME_MAX + 1];
};

/*
 * Preference order, strongest first. RFC 7143 6.2.1 lets the responder
 * pick among the values it "is allowed to use for the specific
 * originator"; ietd allows only the strongest one offered, so an
 * initiator listing MD5 first cannot talk the target down to it.
 */
static const enum chap_alg chap_alg_rank[] = {CHAP_ALG_SHA3_256,
    CHAP_ALG_SHA256, CHAP_ALG_SHA1, CHAP_ALG_MD5};

static const EVP_MD *
chap_alg_md(enum chap_alg alg)
{
	switch (alg) {
	case CHAP_ALG_MD5:
		return EVP_md5();
	case CHAP_ALG_SHA1:
		return EVP_sha1();
	case CHAP_ALG_SHA256:
		return EVP_sha256();
	case CHAP_ALG_SHA3_256:
		return EVP_sha3_256();
	}
	return NULL;
}

size_t
chap_digest_len(enum chap_alg alg)
{
	const EVP_MD *md = chap_alg_md(alg);

	return md ? (size_t)EVP_MD_size(md) : 0;
}

/*
 * Parse an initiator's CHAP_A list. Returns 0 with the strongest
 * supported value, -ENOENT when every entry is a number but none is
 * supported, or -EINVAL when no entry is a number at all.
 */
static int
chap_alg_list_parse(const char *list, enum chap_alg *out)
{
	size_t best = sizeof(chap_alg_rank) / sizeof(chap_alg_rank[0]);
	bool any_number = false;
	const char *p = list;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (n > 0 && n <= CHAP_ALG_TOKEN_MAX) {
			char tok[CHAP_ALG_TOKEN_MAX + 1];
			uint64_t v;

			memcpy(tok, p, n);
			tok[n] = '\0';
			if (str_to_u64(tok, 0, UINT64_MAX, false, &v) == 0) {
				any_number = true;
				for (size_t i = 0; i < best; i++) {
					if (v == (uint64_t)chap_alg_rank[i]) {
						best = i;
						break;
					}
				}
			}
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	if (best < sizeof(chap_alg_rank) / sizeof(chap_alg_rank[0])) {
		*out = chap_alg_rank[best];
		return 0;
	}
	return any_number ? -ENOENT : -EINVAL;
}

int
chap_select_alg(const char *list, enum chap_alg *out)
{
	if (list == NULL)
		return -EINVAL;
	return chap_alg_list_parse(list, out) == 0 ? 0 : -EINVAL;
}

int
chap_digest(enum chap_alg alg, uint8_t id, const char *secret,
    const uint8_t *challenge, size_t clen, uint8_t *out)
{
	const EVP_MD *md = chap_alg_md(alg);
	EVP_MD_CTX *ctx;
	unsigned int olen = 0;
	int ok;

	if (md == NULL || secret == NULL || (challenge == NULL && clen > 0))
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return -ENOMEM;
	/* RFC 1994 4.1: the hash of Identifier, secret, then Challenge. */
	ok = EVP_DigestInit_ex(ctx, md, NULL) &&
	    EVP_DigestUpdate(ctx, &id, 1) &&
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) &&
	    (clen == 0 || EVP_DigestUpdate(ctx, challenge, clen)) &&
	    EVP_DigestFinal_ex(ctx, out, &olen);
	EVP_MD_CTX_free(ctx);
	if (!ok || olen != chap_digest_len(alg))
		return -EIO;
	return 0;
}

static int
chap_hex_nibble(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * Hex digits to bytes. RFC 7143 6.1 allows an odd number of digits: the
 * value is then read as if a leading zero digit were present.
 */
static int
chap_decode_hex(const char *s, uint8_t *out, size_t max, size_t *len)
{
	size_t ndig = strlen(s), nbytes = (ndig + 1) / 2, o = 0;
	size_t i = 0;

	if (ndig == 0)
		return -EINVAL;
	for (size_t k = 0; k < ndig; k++)
		if (chap_hex_nibble(s[k]) < 0)
			return -EINVAL;
	if (nbytes > max)
		return -E2BIG;
	if (ndig % 2) {
		out[o++] = (uint8_t)chap_hex_nibble(s[i++]);
	}
	for (; i < ndig; i += 2)
		out[o++] = (uint8_t)(chap_hex_nibble(s[i]) << 4 |
		    chap_hex_nibble(s[i + 1]));
	*len = o;
	return 0;
}

static int
chap_b64_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/*
 * Base64 (RFC 4648 4) with its '=' padding: whole groups of four
 * characters, padding only at the very end.
 */
static int
chap_decode_b64(const char *s, uint8_t *out, size_t max, size_t *len)
{
	size_t n = strlen(s), pad = 0, nbytes, o = 0;

	if (n == 0 || n % 4 != 0)
		return -EINVAL;
	if (s[n - 1] == '=')
		pad++;
	if (s[n - 2] == '=')
		pad++;
	for (size_t k = 0; k < n - pad; k++)
		if (chap_b64_value(s[k]) < 0)
			return -EINVAL;
	nbytes = n / 4 * 3 - pad;
	if (nbytes > max)
		return -E2BIG;
	for (size_t k = 0; k < n; k += 4) {
		uint32_t v = 0;
		unsigned int have = 0;

		for (unsigned int j = 0; j < 4; j++) {
			int d = s[k + j] == '=' ? 0 : chap_b64_value(s[k + j]);

			v = v << 6 | (uint32_t)d;
			if (s[k + j] != '=')
				have++;
		}
		/* 4 characters give 3 bytes, 3 give 2, 2 give 1. */
		out[o++] = (uint8_t)(v >> 16);
		if (have > 2)
			out[o++] = (uint8_t)(v >> 8);
		if (have > 3)
			out[o++] = (uint8_t)v;
	}
	*len = o;
	return 0;
}

int
chap_decode(const char *s, uint8_t *out, size_t max, size_t *len)
{
	if (s == NULL || s[0] != '0')
		return -EINVAL;
	if (s[1] == 'x' || s[1] == 'X')
		return chap_decode_hex(s + 2, out, max, len);
	if (s[1] == 'b' || s[1] == 'B')
		return chap_decode_b64(s + 2, out, max, len);
	return -EINVAL;
}

bool
chap_encode_hex(const uint8_t *in, size_t len, char *out, size_t olen)
{
	static const char digits[] = "0123456789abcdef";

	if (len > (SIZE_MAX - 3) / 2 || olen < CHAP_HEX_LEN(len))
		return false;
	out[0] = '0';
	out[1] = 'x';
	for (size_t i = 0; i < len; i++) {
		out[2 + 2 * i] = digits[in[i] >> 4];
		out[3 + 2 * i] = digits[in[i] & 0xf];
	}
	out[2 + 2 * len] = '\0';
	return true;
}

bool
chap_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

struct chap_ctx *
chap_ctx_new(void)
{
	struct chap_ctx *c = mem_zalloc(sizeof(*c));

	if (c != NULL)
		c->state = CHAP_S_START;
	return c;
}

void
chap_ctx_free(struct chap_ctx *c)
{
	if (c == NULL)
		return;
	OPENSSL_cleanse(c, sizeof(*c));
	mem_free(c);
}

const char *
chap_user(const struct chap_ctx *c)
{
	return c->state == CHAP_S_DONE ? c->user : NULL;
}

static enum chap_result chap_fail(struct chap_ctx *c, enum chap_result r,
    char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* End the exchange: every failure is final (RFC 7143 12.1.3). */
static enum chap_result
chap_fail(struct chap_ctx *c, enum chap_result r, char *why, size_t whylen,
    const char *fmt, ...)
{
	c->state = CHAP_S_FAILED;
	OPENSSL_cleanse(c->challenge, sizeof(c->challenge));
	if (why != NULL && whylen > 0) {
		va_list ap;

		va_start(ap, fmt);
		(void)vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* A CHAP key offered twice is a protocol error (RFC 7143 6.2). */
static bool
chap_key_repeated(const struct text_list *in, const char **name)
{
	static const char *const keys[] = {"CHAP_A", "CHAP_I", "CHAP_C",
	    "CHAP_N", "CHAP_R"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (text_count(in, keys[i]) > 1) {
			*name = keys[i];
			return true;
		}
	}
	return false;
}

/* First step: choose the algorithm and send CHAP_A, CHAP_I, CHAP_C. */
static enum chap_result
chap_step_challenge(struct chap_ctx *c, const struct text_list *in,
    struct strbuf *out, char *why, size_t whylen)
{
	const char *a = text_find(in, "CHAP_A");
	char hex[CHAP_HEX_LEN(CHAP_CHALLENGE_LEN)];
	char num[8];
	int rc;

	if (a == NULL)
		return chap_fail(c, CHAP_FAIL_PROTO, why, whylen,
		    "CHAP_A missing");
	rc = chap_alg_list_parse(a, &c->alg);
	if (rc == -ENOENT)
		return chap_fail(c, CHAP_FAIL_AUTH, why, whylen,
		    "no supported algorithm in CHAP_A");
	if (rc < 0)
		return chap_fail(c, CHAP_FAIL_PROTO, why, whylen,
		    "malformed CHAP_A");
	/*
	 * A fresh random identifier and challenge for every login: RFC 1994
	 * relies on the challenge never repeating.
	 */
	if (RAND_bytes(&c->id, 1) != 1 ||
	    RAND_bytes(c->challenge, sizeof(c->challenge)) != 1)
		return chap_fail(c, CHAP_FAIL_PROTO, why, whylen,
		    "internal error: no random bytes for the challenge");
	if (!chap_encode_hex(c->challenge, sizeof(c->challenge), hex,
		sizeof(hex)))
		return chap_fail(c, CHAP_FAIL_PROTO, why, whylen,
		    "internal error: challenge encoding");
	(void)snprintf(num, sizeof(num), "%d", (int)c->alg);
	if (!text_put(out, "CHAP_A", num))
		goto overflow;
	(void)snprintf(num, sizeof(num), "%u", (unsigned int)c->id);
	if (!text_put(out, "CHAP_I", num) || !text_put(out, "CHAP_C", hex))
		goto overflow;
	log_debug(1, "CHAP: algorithm %d, identifier %u", (int)c->alg,
	    (unsigned int)c->id);
	c->state = CHAP_S_CHALLENGED;
	return CHAP_CONTINUE;
overflow:
	return chap_fail(c, CHAP_FAIL_PROTO, why, whylen,
	    "internal error: CHAP reply does not fit the text buffer");
}

/*
 * Mutual CHAP: answer the initiator's CHAP_I and CHAP_C with
 * CHAP_N=out_user and CHAP_R. Called only once the initiator has proved
 * itself, so the target never acts as a response oracle for strangers.
 */
static enum chap_result
chap_step_mutual(struct chap_ctx *c, const char *ci, const char *cc,
    const char *in_secret, struct strbuf *out, const char *out_user,
    const char *out_secret, char *why, size_t whylen)
{
	uint8_t chal[CHAP_BINARY_MAX];
	uint8_t resp[CHAP_DIGEST_MAX];
	char hex[CHAP_HEX_LEN(CHAP_DIGEST_MAX)];
	size_t clen = 0, dlen = chap_digest_len(c->alg);
	uint64_t id;
	int rc;

	if (out_user == NULL || out_secret == NULL || out_secret[0] == '\0')
		return chap_fail(c, CHAP_FAIL_AUTH, why, whylen,
		    "mutual CHAP asked for but no OutgoingUser configured");
	if (str_to_u64(ci, 0, CHAP_ID_MAX, true, &id) < 0)
		return chap_fail(c, CHAP_FAIL_PROTO, why, whylen,
		    "malformed CHAP_I");
	/* "0x" or "0b" with nothing after it: an empty challenge. */
	if (cc[0] == '0' && cc[1] != '\0' && cc[2] == '\0' &&
	    strchr("xXbB", cc[1]) != NULL)
		return chap_fail(c, CHAP_FAIL_AUTH, why, whylen,
		    "empty CHAP_C from the initiator");
	rc = chap_decode(cc, chal, sizeof(chal), &clen);
	if (rc == -E2BIG)
		return chap_fail(c, CHAP_FAIL_AUTH, why, whylen,
		    "CHAP_C from the initiator over %d bytes", CHAP_BINARY_MAX);
	if (rc < 0)
		return chap_fail(c, CHAP_FAIL_PROTO, why, whylen,
		    "malformed CHAP_C");
	if (clen == 0)
		return chap_fail(c, CHAP_FAIL_AUTH, why, whylen,
		    "empty CHAP_C from the initiator");
	/*
	 * RFC 7143 12.1.3: the target must refuse a challenge that repeats
	 * its own (a reflection attack would have the target compute the
	 * initiator's response for it).
	 */
	if (clen == sizeof(c->challenge) &&
	    chap_equal(chal, c->challenge, clen))
		return chap_fail(c, CHAP_FAIL_AUTH, why, whylen,
		    "initiator reflected the target's CHAP_C");
	/*
	 * RFC 7143 12.1.3 also forbids one secret for both directions:
	 * with equal secrets a reflection across two connections works.
	 */
	if (strcmp(in_secret, out_secret) == 0)
		return chap_fail(c, CHAP_FAIL_AUTH, why, whylen,
		    "IncomingUser and OutgoingUser secrets are equal");
	if (chap_digest(c->alg, (uint8_t)id, out_secret, chal, clen, resp) < 0)
		return chap_fail(c, CHAP_FAIL_PROTO, why, whylen,
		    "internal error: digest failed");
	chap_encode_hex(resp, dlen, hex, sizeof(hex));
	OPENSSL_cleanse(resp, sizeof(resp));
	if (!text_put(out, "CHAP_N", out_user) || !text_put(out, "CHAP_R", hex))
		return chap_fail(c, CHAP_FAIL_PROTO, why, whylen,
		    "internal error: CHAP reply does not fit the text buffer");
	return CHAP_DONE;
}

/* Second step: check CHAP_N / CHAP_R, then answer mutual CHAP. */
static enum chap_result
chap_step_response(struct chap_ctx *c, const struct text_list *in,
    struct strbuf *out, chap_secret_fn *lookup, void *arg, const char *out_user,
    const char *out_secret, char *why, size_t whylen)
{
	const char *n = text_find(in, "CHAP_N");
	const char *r = text_find(in, "CHAP_R");
	const char *ci = text_find(in, "CHAP_I");
	const char *cc = text_find(in, "CHAP_C");
	uint8_t resp[CHAP_BINARY_MAX];
	uint8_t want[CHAP_DIGEST_MAX];
	char secret[CHAP_SECRET_MAX];
	char esc[64];
	size_t rlen = 0, dlen = chap_digest_len(c->alg);
	enum chap_result res;
	int rc;

	if (n == NULL || r == NULL)
		return chap_fail(c, CHAP_FAIL_PROTO, why, whylen, "%s missing",
		    n == NULL ? "CHAP_N" : "CHAP_R");
	if ((ci == NULL) != (cc == NULL))
		return chap_fail(c, CHAP_FAIL_PROTO, why, whylen,
		    "%s without %s", ci ? "CHAP_I" : "CHAP_C",
		    ci ? "CHAP_C" : "CHAP_I");
	if (n[0] == '\0' || strlen(n) > CHAP_NAME_MAX)
		return chap_fail(c, CHAP_FAIL_PROTO, why, whylen,
		    "CHAP_N empty or over %d bytes", CHAP_NAME_MAX);
	rc = chap_decode(r, resp, sizeof(resp), &rlen);
	if (rc == -E2BIG)
		return chap_fail(c, CHAP_FAIL_PROTO, why, whylen,
		    "CHAP_R over %d bytes", CHAP_BINARY_MAX);
	if (rc < 0)
		return chap_fail(c, CHAP_FAIL_PROTO, why, whylen,
		    "malformed CHAP_R");
	str_escape(esc, sizeof(esc), n, strlen(n));
	if (rlen != dlen)
		return chap_fail(c, CHAP_FAIL_AUTH, why, whylen,
		    "CHAP_R of %zu bytes for user \"%s\", expected %zu", rlen,
		    esc, dlen);
	memset(secret, 0, sizeof(secret));
	if (lookup == NULL || !lookup(arg, n, secret, sizeof(secret))) {
		OPENSSL_cleanse(secret, sizeof(secret));
		return chap_fail(c, CHAP_FAIL_AUTH, why, whylen,
		    "unknown CHAP user \"%s\"", esc);
	}
	secret[sizeof(secret) - 1] = '\0';
	/* RFC 1994 2.2: the secret must be at least one octet. */
	if (secret[0] == '\0') {
		res = chap_fail(c, CHAP_FAIL_AUTH, why, whylen,
		    "empty secret for CHAP user \"%s\"", esc);
		goto out;
	}
	if (chap_digest(c->alg, c->id, secret, c->challenge,
		sizeof(c->challenge), want) < 0) {
		res = chap_fail(c, CHAP_FAIL_PROTO, why, whylen,
		    "internal error: digest failed");
		goto out;
	}
	if (!chap_equal(resp, want, dlen)) {
		res = chap_fail(c, CHAP_FAIL_AUTH, why, whylen,
		    "wrong CHAP_R for user \"%s\"", esc);
		goto out;
	}
	/* The user name is kept for chap_user(); n fits by the check above. */
	memcpy(c->user, n, strlen(n) + 1);
	res = CHAP_DONE;
	if (ci != NULL)
		res = chap_step_mutual(c, ci, cc, secret, out, out_user,
		    out_secret, why, whylen);
	if (res == CHAP_DONE) {
		/* A challenge is single use (RFC 1994 2.3). */
		OPENSSL_cleanse(c->challenge, sizeof(c->challenge));
		c->state = CHAP_S_DONE;
	}
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(want, sizeof(want));
	return res;
}

enum chap_result
chap_step(struct chap_ctx *c, const struct text_list *in, struct strbuf *out,
    chap_secret_fn *lookup, void *arg, const char *out_user,
    const char *out_secret, char *why, size_t whylen)
{
	const char *dup;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (chap_key_repeated(in, &dup))
		return chap_fail(c, CHAP_FAIL_PROTO, why, whylen,
		    "%s offered more than once", dup);
	switch (c->state) {
	case CHAP_S_START:
		return chap_step_challenge(c, in, out, why, whylen);
	case CHAP_S_CHALLENGED:
		return chap_step_response(c, in, out, lookup, arg, out_user,
		    out_secret, why, whylen);
	case CHAP_S_DONE:
	case CHAP_S_FAILED:
		break;
	}
	return chap_fail(c, CHAP_FAIL_PROTO, why, whylen,
	    "CHAP keys after the exchange ended");
}
