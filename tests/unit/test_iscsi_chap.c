/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Unit tests for target-side CHAP (src/iscsi/chap.c): digest known-answer
 * tests from RFC 1321, FIPS 180 and FIPS 202, value encodings, and whole
 * exchanges against a simulated initiator that computes its answers with
 * OpenSSL directly, never through chap.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "iscsi/chap.h"
#include "iscsi/text.h"
#include "util/alloc.h"

#define WHY_LEN 256
#define REPLY_LEN 8192 /* a default MaxRecvDataSegmentLength */
#define HEX_MAX (2 + 2 * CHAP_BINARY_MAX + 1 + 8)

/* ------------------------------------------------------------------ */
/* Helpers independent of chap.c                                      */
/* ------------------------------------------------------------------ */

static const EVP_MD *
test_md(enum chap_alg alg)
{
	switch (alg) {
	case CHAP_ALG_MD5:
		return EVP_get_digestbyname("MD5");
	case CHAP_ALG_SHA1:
		return EVP_get_digestbyname("SHA1");
	case CHAP_ALG_SHA256:
		return EVP_get_digestbyname("SHA256");
	case CHAP_ALG_SHA3_256:
		return EVP_get_digestbyname("SHA3-256");
	}
	return NULL;
}

/* H(id || secret || challenge) over one concatenated buffer. */
static unsigned int
test_response(enum chap_alg alg, unsigned int id, const char *secret,
    const uint8_t *chal, size_t clen, uint8_t *out)
{
	uint8_t buf[1 + 256 + CHAP_BINARY_MAX];
	size_t slen = strlen(secret), n = 0;
	unsigned int olen = 0;

	assert_true(slen <= 256 && clen <= CHAP_BINARY_MAX);
	buf[n++] = (uint8_t)id;
	memcpy(buf + n, secret, slen); /* NOLINT(bugprone-not-null-*) */
	n += slen;
	memcpy(buf + n, chal, clen);
	n += clen;
	assert_non_null(test_md(alg));
	assert_int_equal(EVP_Digest(buf, n, out, &olen, test_md(alg), NULL), 1);
	return olen;
}

static void
test_to_hex(const uint8_t *in, size_t len, const char *prefix, bool upper,
    char *out)
{
	size_t o = strlen(prefix);

	memcpy(out, prefix, o);
	for (size_t i = 0; i < len; i++)
		o += (size_t)sprintf(out + o, upper ? "%02X" : "%02x", in[i]);
	out[o] = '\0';
}

/* A decimal key value from the target; the whole string must be digits. */
static unsigned int
test_num(const char *v)
{
	char *end;
	unsigned long n;

	assert_non_null(v);
	assert_true(v[0] >= '0' && v[0] <= '9');
	n = strtoul(v, &end, 10);
	assert_true(*end == '\0' && n <= 255);
	return (unsigned int)n;
}

/* One byte from two hex digits, the test's own decoder. */
static uint8_t
test_hex_byte(const char *s)
{
	char two[3] = {s[0], s[1], '\0'};
	char *end;
	unsigned long v = strtoul(two, &end, 16);

	assert_true(*end == '\0' && end == two + 2);
	return (uint8_t)v;
}

static size_t
test_from_hex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;

	assert_true(s[0] == '0' && s[1] == 'x');
	s += 2;
	assert_int_equal(strlen(s) % 2, 0);
	for (; *s != '\0'; s += 2) {
		assert_true(n < max);
		out[n++] = test_hex_byte(s);
	}
	return n;
}

static size_t
test_unhex(const char *hex, uint8_t *out)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++)
		out[i] = test_hex_byte(hex + 2 * i);
	return n;
}

/* ------------------------------------------------------------------ */
/* Known-answer tests                                                 */
/* ------------------------------------------------------------------ */

/*
 * Published digests of published inputs, split into id byte, secret and
 * challenge so that id || secret || challenge is the input.
 */
static const struct kat {
	enum chap_alg alg;
	char id;
	const char *secret;
	const char *challenge;
	const char *digest;
} kats[] = {
    /* RFC 1321 appendix A.5. */
    {CHAP_ALG_MD5, 'a', "", "", "0cc175b9c0f1b6a831c399e269772661"},
    {CHAP_ALG_MD5, 'a', "b", "c", "900150983cd24fb0d6963f7d28e17f72"},
    {CHAP_ALG_MD5, 'm', "essage", " digest",
	"f96b697d7cb7938d525a2f31aaf161d0"},
    {CHAP_ALG_MD5, 'a', "bcdefghijklm", "nopqrstuvwxyz",
	"c3fcd3d76192e4007dfb496cca67e13b"},
    {CHAP_ALG_MD5, 'A', "BCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrs",
	"tuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"},
    {CHAP_ALG_MD5, '1', "234567890123456789012345678901234567890",
	"1234567890123456789012345678901234567890",
	"57edf4a22be3c955ac49da2e2107b67a"},
    /* FIPS 180 examples. */
    {CHAP_ALG_SHA1, 'a', "b", "c", "a9993e364706816aba3e25717850c26c9cd0d89d"},
    {CHAP_ALG_SHA1, 'a', "bcdbcdecdefdefgefghfghighijhi",
	"jkijkljklmklmnlmnomnopnopq",
	"84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    {CHAP_ALG_SHA256, 'a', "b", "c",
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {CHAP_ALG_SHA256, 'a', "bcdbcdecdefdefgefghfghighijhi",
	"jkijkljklmklmnlmnomnopnopq",
	"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    /* FIPS 202 example for SHA3-256. */
    {CHAP_ALG_SHA3_256, 'a', "b", "c",
	"3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"},
};

static void
test_digest_kat(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		const struct kat *k = &kats[i];
		uint8_t want[CHAP_DIGEST_MAX], got[CHAP_DIGEST_MAX + 1];
		size_t n = test_unhex(k->digest, want);

		assert_int_equal(chap_digest_len(k->alg), n);
		memset(got, 0xee, sizeof(got));
		assert_int_equal(chap_digest(k->alg, (uint8_t)k->id, k->secret,
				     (const uint8_t *)k->challenge,
				     strlen(k->challenge), got),
		    0);
		assert_memory_equal(got, want, n);
		/* Nothing written past the digest length. */
		assert_int_equal(got[n], 0xee);
	}
}

static void
test_digest_len(void **state)
{
	uint8_t out[CHAP_DIGEST_MAX];

	(void)state;
	assert_int_equal(chap_digest_len(CHAP_ALG_MD5), 16);
	assert_int_equal(chap_digest_len(CHAP_ALG_SHA1), 20);
	assert_int_equal(chap_digest_len(CHAP_ALG_SHA256), 32);
	assert_int_equal(chap_digest_len(CHAP_ALG_SHA3_256), 32);
	assert_int_equal(chap_digest_len((enum chap_alg)4), 0);
	assert_int_equal(chap_digest((enum chap_alg)9, 1, "s",
			     (const uint8_t *)"c", 1, out),
	    -EINVAL);
}

static void
test_select_alg(void **state)
{
	static const struct {
		const char *list;
		int rc;
		enum chap_alg alg;
	} cases[] = {
	    {"5", 0, CHAP_ALG_MD5},
	    {"6", 0, CHAP_ALG_SHA1},
	    {"7", 0, CHAP_ALG_SHA256},
	    {"8", 0, CHAP_ALG_SHA3_256},
	    {"5,7", 0, CHAP_ALG_SHA256},
	    {"8,5", 0, CHAP_ALG_SHA3_256},
	    {"5,6", 0, CHAP_ALG_SHA1},
	    {"6,7,5,8", 0, CHAP_ALG_SHA3_256},
	    {"56,5", 0, CHAP_ALG_MD5},
	    {"abc,6", 0, CHAP_ALG_SHA1},
	    {",5,", 0, CHAP_ALG_MD5},
	    {"56", -EINVAL, 0},
	    {"abc", -EINVAL, 0},
	    {"", -EINVAL, 0},
	    {",", -EINVAL, 0},
	    {"0x5", -EINVAL, 0},
	    {" 5", -EINVAL, 0},
	    {"-5", -EINVAL, 0},
	    {"4,9,128", -EINVAL, 0},
	    {"99999999999999999999999", -EINVAL, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum chap_alg a = (enum chap_alg)0;

		assert_int_equal(chap_select_alg(cases[i].list, &a),
		    cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(a, cases[i].alg);
	}
	assert_int_equal(chap_select_alg(NULL, NULL), -EINVAL);
}

static void
test_decode(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *hex; /* expected bytes, as plain hex */
	} cases[] = {
	    {"0x0102", 0, "0102"},
	    {"0X0a0B", 0, "0a0b"},
	    {"0xABCDEF", 0, "abcdef"},
	    /* RFC 7143 6.1: odd digit count, implied leading zero. */
	    {"0x123", 0, "0123"},
	    {"0x1", 0, "01"},
	    {"0x", -EINVAL, NULL},
	    {"0xg0", -EINVAL, NULL},
	    {"0x12 ", -EINVAL, NULL},
	    {"0x-1", -EINVAL, NULL},
	    {"0102", -EINVAL, NULL},
	    {"", -EINVAL, NULL},
	    {"0", -EINVAL, NULL},
	    {"0y12", -EINVAL, NULL},
	    /* RFC 4648 base64 with padding. */
	    {"0bAQID", 0, "010203"},
	    {"0BAQID", 0, "010203"},
	    {"0bAQI=", 0, "0102"},
	    {"0bAQ==", 0, "01"},
	    {"0b+/+/", 0, "fbffbf"},
	    {"0bYWJj", 0, "616263"},
	    {"0bAQIDBA==", 0, "01020304"},
	    {"0b", -EINVAL, NULL},
	    {"0bAQ=", -EINVAL, NULL},
	    {"0bAQ", -EINVAL, NULL},
	    {"0bA===", -EINVAL, NULL},
	    {"0b====", -EINVAL, NULL},
	    {"0bAQ==AQID", -EINVAL, NULL},
	    {"0bAQ-D", -EINVAL, NULL},
	    {"0bAQI\n", -EINVAL, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t out[16];
		size_t len = 999;

		assert_int_equal(chap_decode(cases[i].in, out, sizeof(out),
				     &len),
		    cases[i].rc);
		if (cases[i].rc == 0) {
			uint8_t want[16];
			size_t n = test_unhex(cases[i].hex, want);

			assert_int_equal(len, n);
			assert_memory_equal(out, want, n);
		}
	}
}

static void
test_decode_limits(void **state)
{
	const size_t max = CHAP_BINARY_MAX;
	char *s = malloc(2 + 2 * (max + 1) + 1);
	uint8_t *out = malloc(CHAP_BINARY_MAX);
	size_t len;

	(void)state;
	assert_non_null(s);
	assert_non_null(out);
	memcpy(s, "0x", 2);
	memset(s + 2, 'a', 2 * max);
	s[2 + 2 * max] = '\0';
	assert_int_equal(chap_decode(s, out, CHAP_BINARY_MAX, &len), 0);
	assert_int_equal(len, CHAP_BINARY_MAX);
	assert_int_equal(out[CHAP_BINARY_MAX - 1], 0xaa);
	/* One more digit is one byte too many. */
	memcpy(s + 2 + 2 * max, "a", 2);
	assert_int_equal(chap_decode(s, out, CHAP_BINARY_MAX, &len), -E2BIG);
	/* The limit is exact for small buffers too. */
	assert_int_equal(chap_decode("0x0102", out, 1, &len), -E2BIG);
	assert_int_equal(chap_decode("0x0102", out, 2, &len), 0);
	assert_int_equal(chap_decode("0bAQID", out, 2, &len), -E2BIG);
	assert_int_equal(chap_decode("0bAQI=", out, 2, &len), 0);
	free(s);
	free(out);
}

static void
test_encode_hex_equal(void **state)
{
	static const uint8_t in[] = {0x00, 0x7f, 0xa5, 0xff};
	char out[2 + 2 * sizeof(in) + 1];

	(void)state;
	assert_true(chap_encode_hex(in, sizeof(in), out, sizeof(out)));
	assert_string_equal(out, "0x007fa5ff");
	assert_false(chap_encode_hex(in, sizeof(in), out, sizeof(out) - 1));
	assert_true(chap_encode_hex(in, 0, out, 3));
	assert_string_equal(out, "0x");

	assert_true(chap_equal(in, (const uint8_t *)"\x00\x7f\xa5\xff", 4));
	assert_false(chap_equal(in, (const uint8_t *)"\x00\x7f\xa5\xfe", 4));
	assert_false(chap_equal(in, (const uint8_t *)"\x01\x7f\xa5\xff", 4));
	assert_true(chap_equal(in, (const uint8_t *)"x", 0));
}

/* ------------------------------------------------------------------ */
/* Whole exchanges                                                    */
/* ------------------------------------------------------------------ */

#define IN_USER "iqn.1994-05.com.example:host1"
#define IN_SECRET "initiator-secret-1"
#define OUT_USER "target-user"
#define OUT_SECRET "target-secret-22"

static bool
test_lookup(void *arg, const char *user, char *secret, size_t len)
{
	int *calls = arg;

	if (calls != NULL)
		(*calls)++;
	if (strcmp(user, IN_USER) != 0)
		return false;
	(void)snprintf(secret, len, "%s", IN_SECRET);
	return true;
}

/* What the simulated initiator does differently in one exchange. */
enum ex_flags {
	EX_MUTUAL = 1 << 0,
	EX_WRONG_SECRET = 1 << 1,
	EX_WRONG_USER = 1 << 2,
	EX_SHORT_R = 1 << 3, /* response one byte short */
	EX_LONG_R = 1 << 4,  /* response one byte long */
	EX_BASE64_R = 1 << 5,
	EX_UPPER_R = 1 << 6, /* "0X" and upper-case digits */
	EX_REFLECT = 1 << 7, /* send the target's own CHAP_C back */
	EX_NO_OUT_USER = 1 << 8,
	EX_ODD_C = 1 << 9, /* odd-length hex initiator challenge */
	EX_EMPTY_C = 1 << 10,
	EX_LONG_C = 1 << 11, /* CHAP_BINARY_MAX + 1 bytes */
	EX_NO_N = 1 << 12,
	EX_NO_R = 1 << 13,
	EX_BAD_R = 1 << 14,  /* malformed encoding */
	EX_ONLY_I = 1 << 15, /* CHAP_I without CHAP_C */
	EX_SAME_SECRET = 1 << 16,
	EX_DUP_R = 1 << 17,
	EX_B64_C = 1 << 18, /* base64 initiator challenge */
};

struct exchange {
	const char *alg_list;
	unsigned int flags;
	enum chap_result step1; /* expected results */
	enum chap_result step2;
	enum chap_alg alg; /* filled in */
	char why[WHY_LEN];
	bool oom; /* an allocation failed: stop quietly */
};

/* The initiator's challenge for mutual CHAP. */
static const uint8_t init_chal[] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xf0, 0x01};
#define INIT_ID 77

/*
 * Run step one and two of a CHAP exchange. Returns the result of the last
 * step that ran; asserts on everything the target says.
 */
static enum chap_result
run_exchange(struct exchange *ex)
{
	static char reply[REPLY_LEN], reply2[REPLY_LEN];
	static char rhex[HEX_MAX], chex[HEX_MAX];
	struct text_list in, out, out2;
	struct strbuf sb;
	struct chap_ctx *c;
	enum chap_result res;
	uint8_t tchal[CHAP_BINARY_MAX], resp[EVP_MAX_MD_SIZE + 1];
	uint8_t want[EVP_MAX_MD_SIZE], got[CHAP_BINARY_MAX];
	uint8_t *longc = NULL;
	size_t tclen;
	unsigned int rlen, tid;
	const char *secret =
	    ex->flags & EX_WRONG_SECRET ? "not-the-secret" : IN_SECRET;
	const char *v;
	int lookups = 0;

	ex->oom = false;
	text_list_init(&in);
	text_list_init(&out);
	text_list_init(&out2);
	c = chap_ctx_new();
	if (c == NULL) {
		ex->oom = true;
		return CHAP_FAIL_PROTO;
	}
	assert_null(chap_user(c));

	/* Step one: CHAP_A. */
	if (text_list_add(&in, "CHAP_A", ex->alg_list) < 0)
		goto oom;
	strbuf_init(&sb, reply, sizeof(reply));
	res = chap_step(c, &in, &sb, test_lookup, &lookups, NULL, NULL, ex->why,
	    sizeof(ex->why));
	assert_int_equal(res, ex->step1);
	if (res != CHAP_CONTINUE)
		goto done;
	if (text_parse(sb.buf, sb.len, &out, ex->why, sizeof(ex->why)) < 0)
		goto oom;
	assert_int_equal(out.n, 3);
	v = text_find(&out, "CHAP_A");
	assert_non_null(v);
	ex->alg = (enum chap_alg)test_num(v);
	v = text_find(&out, "CHAP_I");
	assert_non_null(v);
	tid = test_num(v);
	assert_true(tid <= 255);
	v = text_find(&out, "CHAP_C");
	assert_non_null(v);
	assert_int_equal(strlen(v), 2 + 2 * CHAP_CHALLENGE_LEN);
	tclen = test_from_hex(v, tchal, sizeof(tchal));
	assert_int_equal(tclen, CHAP_CHALLENGE_LEN);

	/* The initiator's answer, computed without chap.c. */
	rlen = test_response(ex->alg, tid, secret, tchal, tclen, resp);
	if (ex->flags & EX_SHORT_R)
		rlen--;
	if (ex->flags & EX_LONG_R)
		resp[rlen++] = 0x5a;
	if (ex->flags & EX_BASE64_R) {
		memcpy(rhex, "0b", 2);
		EVP_EncodeBlock((unsigned char *)rhex + 2, resp, (int)rlen);
	} else if (ex->flags & EX_UPPER_R) {
		test_to_hex(resp, rlen, "0X", true, rhex);
	} else if (ex->flags & EX_BAD_R) {
		test_to_hex(resp, rlen, "0x", false, rhex);
		rhex[5] = 'g';
	} else {
		test_to_hex(resp, rlen, "0x", false, rhex);
	}

	text_list_free(&in);
	if (!(ex->flags & EX_NO_N) &&
	    text_list_add(&in, "CHAP_N",
		ex->flags & EX_WRONG_USER ? "someone-else" : IN_USER) < 0)
		goto oom;
	if (!(ex->flags & EX_NO_R) && text_list_add(&in, "CHAP_R", rhex) < 0)
		goto oom;
	if ((ex->flags & EX_DUP_R) && text_list_add(&in, "CHAP_R", rhex) < 0)
		goto oom;
	if (ex->flags & (EX_MUTUAL | EX_ONLY_I)) {
		char id[8];

		(void)snprintf(id, sizeof(id), "%d", INIT_ID);
		if (text_list_add(&in, "CHAP_I", id) < 0)
			goto oom;
	}
	if (ex->flags & EX_MUTUAL) {
		if (ex->flags & EX_REFLECT)
			(void)snprintf(chex, sizeof(chex), "%s",
			    text_find(&out, "CHAP_C"));
		else if (ex->flags & EX_ODD_C)
			/* 0x123456789 is the bytes 01 23 45 67 89. */
			(void)snprintf(chex, sizeof(chex), "0x123456789");
		else if (ex->flags & EX_EMPTY_C)
			(void)snprintf(chex, sizeof(chex), "0x");
		else if (ex->flags & EX_B64_C) {
			memcpy(chex, "0b", 2);
			EVP_EncodeBlock((unsigned char *)chex + 2, init_chal,
			    sizeof(init_chal));
		} else if (ex->flags & EX_LONG_C) {
			longc = calloc(1, CHAP_BINARY_MAX + 1);
			assert_non_null(longc);
			test_to_hex(longc, CHAP_BINARY_MAX + 1, "0x", false,
			    chex);
		} else
			test_to_hex(init_chal, sizeof(init_chal), "0x", false,
			    chex);
		if (text_list_add(&in, "CHAP_C", chex) < 0)
			goto oom;
	}

	/* Step two. */
	strbuf_init(&sb, reply2, sizeof(reply2));
	res = chap_step(c, &in, &sb, test_lookup, &lookups,
	    ex->flags & EX_NO_OUT_USER ? NULL : OUT_USER,
	    ex->flags & EX_SAME_SECRET ? IN_SECRET : OUT_SECRET, ex->why,
	    sizeof(ex->why));
	assert_int_equal(res, ex->step2);
	if (res != CHAP_DONE) {
		assert_null(chap_user(c));
		assert_true(ex->why[0] != '\0');
		/* The secrets never reach the log line. */
		assert_null(strstr(ex->why, IN_SECRET));
		assert_null(strstr(ex->why, OUT_SECRET));
		goto done;
	}
	assert_string_equal(chap_user(c), IN_USER);
	if (!(ex->flags & EX_MUTUAL)) {
		assert_int_equal(sb.len, 0);
		goto done;
	}
	/* Mutual: check the target's CHAP_N and CHAP_R independently. */
	if (text_parse(sb.buf, sb.len, &out2, ex->why, sizeof(ex->why)) < 0)
		goto oom;
	assert_int_equal(out2.n, 2);
	assert_string_equal(text_find(&out2, "CHAP_N"), OUT_USER);
	v = text_find(&out2, "CHAP_R");
	assert_non_null(v);
	if (ex->flags & EX_ODD_C)
		rlen = test_response(ex->alg, INIT_ID, OUT_SECRET,
		    (const uint8_t *)"\x01\x23\x45\x67\x89", 5, want);
	else
		rlen = test_response(ex->alg, INIT_ID, OUT_SECRET, init_chal,
		    sizeof(init_chal), want);
	assert_int_equal(test_from_hex(v, got, sizeof(got)), rlen);
	assert_memory_equal(got, want, rlen);
done:
	/* A finished exchange takes no more keys. */
	strbuf_init(&sb, reply, sizeof(reply));
	assert_int_equal(chap_step(c, &in, &sb, test_lookup, NULL, NULL, NULL,
			     NULL, 0),
	    CHAP_FAIL_PROTO);
	assert_null(chap_user(c));
	chap_ctx_free(c);
	text_list_free(&in);
	text_list_free(&out);
	text_list_free(&out2);
	free(longc);
	return res;
oom:
	ex->oom = true;
	chap_ctx_free(c);
	text_list_free(&in);
	text_list_free(&out);
	text_list_free(&out2);
	free(longc);
	return CHAP_FAIL_PROTO;
}

static const struct {
	const char *list;
	enum chap_alg alg;
} algs[] = {
    {"5", CHAP_ALG_MD5},
    {"6", CHAP_ALG_SHA1},
    {"7", CHAP_ALG_SHA256},
    {"8", CHAP_ALG_SHA3_256},
    {"5,7", CHAP_ALG_SHA256},
    {"8,5", CHAP_ALG_SHA3_256},
    {"5,6", CHAP_ALG_SHA1},
};

/* Run ex once per algorithm list, checking the algorithm chosen. */
static void
run_all_algs(unsigned int flags, enum chap_result step2, const char *why)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		struct exchange ex = {
		    .alg_list = algs[i].list,
		    .flags = flags,
		    .step1 = CHAP_CONTINUE,
		    .step2 = step2,
		};

		run_exchange(&ex);
		assert_false(ex.oom);
		assert_int_equal(ex.alg, algs[i].alg);
		if (why != NULL)
			assert_non_null(strstr(ex.why, why));
	}
}

static void
test_exchange_one_way(void **state)
{
	(void)state;
	run_all_algs(0, CHAP_DONE, NULL);
	run_all_algs(EX_BASE64_R, CHAP_DONE, NULL);
	run_all_algs(EX_UPPER_R, CHAP_DONE, NULL);
}

static void
test_exchange_mutual(void **state)
{
	(void)state;
	run_all_algs(EX_MUTUAL, CHAP_DONE, NULL);
	run_all_algs(EX_MUTUAL | EX_ODD_C, CHAP_DONE, NULL);
	run_all_algs(EX_MUTUAL | EX_B64_C | EX_UPPER_R, CHAP_DONE, NULL);
}

static void
test_exchange_rejects(void **state)
{
	(void)state;
	run_all_algs(EX_WRONG_SECRET, CHAP_FAIL_AUTH, "wrong CHAP_R");
	run_all_algs(EX_WRONG_USER, CHAP_FAIL_AUTH,
	    "unknown CHAP user \"someone-else\"");
	run_all_algs(EX_SHORT_R, CHAP_FAIL_AUTH, "expected");
	run_all_algs(EX_LONG_R, CHAP_FAIL_AUTH, "expected");
	run_all_algs(EX_BAD_R, CHAP_FAIL_PROTO, "malformed CHAP_R");
	run_all_algs(EX_NO_N, CHAP_FAIL_PROTO, "CHAP_N missing");
	run_all_algs(EX_NO_R, CHAP_FAIL_PROTO, "CHAP_R missing");
	run_all_algs(EX_DUP_R, CHAP_FAIL_PROTO, "more than once");
	run_all_algs(EX_ONLY_I, CHAP_FAIL_PROTO, "CHAP_I without CHAP_C");
	/* A wrong response is refused before any mutual answer. */
	run_all_algs(EX_MUTUAL | EX_WRONG_SECRET, CHAP_FAIL_AUTH,
	    "wrong CHAP_R");
}

static void
test_exchange_mutual_rejects(void **state)
{
	(void)state;
	run_all_algs(EX_MUTUAL | EX_REFLECT, CHAP_FAIL_AUTH, "reflected");
	run_all_algs(EX_MUTUAL | EX_NO_OUT_USER, CHAP_FAIL_AUTH,
	    "no OutgoingUser");
	run_all_algs(EX_MUTUAL | EX_EMPTY_C, CHAP_FAIL_AUTH, "empty CHAP_C");
	run_all_algs(EX_MUTUAL | EX_LONG_C, CHAP_FAIL_AUTH, "over 1024");
	run_all_algs(EX_MUTUAL | EX_SAME_SECRET, CHAP_FAIL_AUTH,
	    "secrets are equal");
}

static void
test_exchange_step_one_errors(void **state)
{
	static const struct {
		const char *list;
		enum chap_result res;
		const char *why;
	} cases[] = {
	    {"56", CHAP_FAIL_AUTH, "no supported algorithm in CHAP_A"},
	    {"4,9", CHAP_FAIL_AUTH, "no supported algorithm in CHAP_A"},
	    {"abc", CHAP_FAIL_PROTO, "malformed CHAP_A"},
	    {"", CHAP_FAIL_PROTO, "malformed CHAP_A"},
	};
	struct text_list in;
	struct strbuf sb;
	struct chap_ctx *c;
	char buf[256], why[WHY_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct exchange ex = {
		    .alg_list = cases[i].list,
		    .step1 = cases[i].res,
		};

		run_exchange(&ex);
		assert_false(ex.oom);
		assert_string_equal(ex.why, cases[i].why);
	}

	/* No CHAP_A at all. */
	text_list_init(&in);
	assert_int_equal(text_list_add(&in, "AuthMethod", "CHAP"), 0);
	c = chap_ctx_new();
	assert_non_null(c);
	strbuf_init(&sb, buf, sizeof(buf));
	assert_int_equal(chap_step(c, &in, &sb, test_lookup, NULL, NULL, NULL,
			     why, sizeof(why)),
	    CHAP_FAIL_PROTO);
	assert_string_equal(why, "CHAP_A missing");
	chap_ctx_free(c);

	/* A reply buffer too small for the challenge fails cleanly. */
	assert_int_equal(text_list_add(&in, "CHAP_A", "5"), 0);
	c = chap_ctx_new();
	assert_non_null(c);
	strbuf_init(&sb, buf, 40);
	assert_int_equal(chap_step(c, &in, &sb, test_lookup, NULL, NULL, NULL,
			     why, sizeof(why)),
	    CHAP_FAIL_PROTO);
	assert_non_null(strstr(why, "does not fit"));
	chap_ctx_free(c);
	text_list_free(&in);
}

/* Fresh challenges and identifiers: two logins never share a challenge. */
static void
test_challenge_fresh(void **state)
{
	char first[128] = "";
	bool ids_differ = false;
	int first_id = -1;

	(void)state;
	for (int i = 0; i < 20; i++) {
		struct text_list in, out;
		struct chap_ctx *c = chap_ctx_new();
		struct strbuf sb;
		char buf[256], why[WHY_LEN];
		const char *chal;

		assert_non_null(c);
		text_list_init(&in);
		text_list_init(&out);
		assert_int_equal(text_list_add(&in, "CHAP_A", "5"), 0);
		strbuf_init(&sb, buf, sizeof(buf));
		assert_int_equal(chap_step(c, &in, &sb, test_lookup, NULL, NULL,
				     NULL, why, sizeof(why)),
		    CHAP_CONTINUE);
		assert_int_equal(text_parse(buf, sb.len, &out, why,
				     sizeof(why)),
		    0);
		chal = text_find(&out, "CHAP_C");
		assert_non_null(chal);
		if (i == 0) {
			(void)snprintf(first, sizeof(first), "%s", chal);
			first_id = (int)test_num(text_find(&out, "CHAP_I"));
		} else {
			assert_string_not_equal(first, chal);
			if ((int)test_num(text_find(&out, "CHAP_I")) !=
			    first_id)
				ids_differ = true;
		}
		text_list_free(&in);
		text_list_free(&out);
		chap_ctx_free(c);
	}
	/* 19 equal random bytes in a row: chance 2^-152. */
	assert_true(ids_differ);
}

/*
 * An odd-length hex CHAP_R: when the response starts with a zero nibble
 * the initiator may leave that digit out (RFC 7143 6.1). Retry logins
 * until such a response turns up (1 in 16 per try).
 */
static void
test_exchange_odd_response(void **state)
{
	int tries;

	(void)state;
	for (tries = 0; tries < 400; tries++) {
		struct text_list in, out;
		struct chap_ctx *c = chap_ctx_new();
		struct strbuf sb;
		char buf[512], why[WHY_LEN], rhex[HEX_MAX];
		uint8_t chal[CHAP_BINARY_MAX], resp[EVP_MAX_MD_SIZE];
		unsigned int id, rlen;
		size_t clen;
		bool odd;

		assert_non_null(c);
		text_list_init(&in);
		text_list_init(&out);
		assert_int_equal(text_list_add(&in, "CHAP_A", "7"), 0);
		strbuf_init(&sb, buf, sizeof(buf));
		assert_int_equal(chap_step(c, &in, &sb, test_lookup, NULL, NULL,
				     NULL, why, sizeof(why)),
		    CHAP_CONTINUE);
		assert_int_equal(text_parse(buf, sb.len, &out, why,
				     sizeof(why)),
		    0);
		id = test_num(text_find(&out, "CHAP_I"));
		clen = test_from_hex(text_find(&out, "CHAP_C"), chal,
		    sizeof(chal));
		rlen = test_response(CHAP_ALG_SHA256, id, IN_SECRET, chal, clen,
		    resp);
		odd = resp[0] < 0x10;
		test_to_hex(resp, rlen, "0x", false, rhex);
		if (odd) /* drop the leading '0' digit */
			memmove(rhex + 2, rhex + 3, strlen(rhex + 3) + 1);
		text_list_free(&in);
		assert_int_equal(text_list_add(&in, "CHAP_N", IN_USER), 0);
		assert_int_equal(text_list_add(&in, "CHAP_R", rhex), 0);
		strbuf_init(&sb, buf, sizeof(buf));
		assert_int_equal(chap_step(c, &in, &sb, test_lookup, NULL, NULL,
				     NULL, why, sizeof(why)),
		    CHAP_DONE);
		text_list_free(&in);
		text_list_free(&out);
		chap_ctx_free(c);
		if (odd) {
			assert_int_equal(strlen(rhex), 2 + 2 * rlen - 1);
			break;
		}
	}
	assert_true(tries < 400);
}

/* SQLite-style: fail each allocation of a whole exchange in turn. */
static void
test_exchange_alloc_fail(void **state)
{
	static const unsigned int flag_sets[] = {0, EX_MUTUAL,
	    EX_MUTUAL | EX_REFLECT, EX_WRONG_SECRET};
	unsigned long failed = 0;

	(void)state;
	for (size_t f = 0; f < sizeof(flag_sets) / sizeof(flag_sets[0]); f++) {
		bool done = false;

		for (unsigned long nth = 1; nth < 200 && !done; nth++) {
			struct exchange ex = {
			    .alg_list = "8,5",
			    .flags = flag_sets[f],
			    .step1 = CHAP_CONTINUE,
			    .step2 =
				flag_sets[f] == 0 || flag_sets[f] == EX_MUTUAL
				? CHAP_DONE
				: CHAP_FAIL_AUTH,
			};

			alloc_fail_nth(nth, 0);
			run_exchange(&ex);
			if (alloc_fail_hits() == 0) {
				assert_false(ex.oom);
				done = true;
			} else {
				assert_true(ex.oom);
				failed++;
			}
			alloc_fail_nth(0, 0);
		}
		assert_true(done);
	}
	assert_true(failed > 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_digest_kat),
	    cmocka_unit_test(test_digest_len),
	    cmocka_unit_test(test_select_alg),
	    cmocka_unit_test(test_decode),
	    cmocka_unit_test(test_decode_limits),
	    cmocka_unit_test(test_encode_hex_equal),
	    cmocka_unit_test(test_exchange_one_way),
	    cmocka_unit_test(test_exchange_mutual),
	    cmocka_unit_test(test_exchange_rejects),
	    cmocka_unit_test(test_exchange_mutual_rejects),
	    cmocka_unit_test(test_exchange_step_one_errors),
	    cmocka_unit_test(test_challenge_fresh),
	    cmocka_unit_test(test_exchange_odd_response),
	    cmocka_unit_test(test_exchange_alloc_fail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
