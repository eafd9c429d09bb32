/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Operational key negotiation (param.c): every key of the table, each
 * result function, and the bad cases (out of range, malformed, duplicate,
 * unknown, irrelevant keys, a full answer buffer), plus the target's
 * offers taken from a configured target.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/conf.h"
#include "iscsi/iscsi_proto.h"
#include "iscsi/param.h"
#include "target/target.h"
#include "util/log.h"

struct neg_case {
	const char *key;
	const char *value;
	const char *answer; /* NULL: no answer expected */
	int slot;           /* -1: no slot */
	uint32_t result;
};

static struct param_set offer, result;
static struct param_neg neg;
static char outbuf[4096];
static struct strbuf out;

static void
reset(void)
{
	param_offers(&offer, NULL);
	param_defaults(&result);
	memset(&neg, 0, sizeof(neg));
	strbuf_init(&out, outbuf, sizeof(outbuf));
}

/* One key through the negotiation; returns the verdict. */
static enum param_verdict
negotiate(const char *key, const char *value, uint16_t *status)
{
	*status = LOGIN_OK;
	return param_negotiate(&neg, &offer, &result, key, value, &out, status);
}

static void
expect_answer(const char *key, const char *value)
{
	char want[256];
	int n = snprintf(want, sizeof(want), "%s=%s", key, value);

	assert_int_equal(out.len, (size_t)n + 1);
	assert_memory_equal(out.buf, want, (size_t)n + 1);
}

static void
run_case(const struct neg_case *c)
{
	uint16_t status;

	reset();
	/* Offers that differ from the peer's so min/max/AND/OR show. */
	offer.v[PARAM_MAX_CONNECTIONS] = 1;
	offer.v[PARAM_MAX_BURST_LENGTH] = 131072;
	offer.v[PARAM_FIRST_BURST_LENGTH] = 65536;
	offer.v[PARAM_DEFAULT_TIME2WAIT] = 2;
	offer.v[PARAM_DEFAULT_TIME2RETAIN] = 20;
	offer.v[PARAM_MAX_OUTSTANDING_R2T] = 4;
	offer.v[PARAM_INITIAL_R2T] = 0;
	offer.v[PARAM_IMMEDIATE_DATA] = 1;
	offer.v[PARAM_ERROR_RECOVERY_LEVEL] = 0;
	offer.v[PARAM_HEADER_DIGEST] =
	    PARAM_DIGEST_MASK_CRC32C | PARAM_DIGEST_MASK_NONE;
	offer.v[PARAM_DATA_DIGEST] = PARAM_DIGEST_MASK_NONE;
	assert_int_equal(negotiate(c->key, c->value, &status), PARAM_OK);
	assert_int_equal(status, LOGIN_OK);
	if (c->answer != NULL)
		expect_answer(c->key, c->answer);
	else
		assert_int_equal(out.len, 0);
	if (c->slot >= 0)
		assert_int_equal(result.v[c->slot], c->result);
}

static void
test_every_key(void **state)
{
	static const struct neg_case cases[] = {
	    /* List: first acceptable value of the initiator's list. */
	    {"HeaderDigest", "CRC32C,None", "CRC32C", PARAM_HEADER_DIGEST,
		PARAM_DIGEST_CRC32C},
	    {"HeaderDigest", "None,CRC32C", "None", PARAM_HEADER_DIGEST,
		PARAM_DIGEST_NONE},
	    {"HeaderDigest", "MD5,CRC32C", "CRC32C", PARAM_HEADER_DIGEST,
		PARAM_DIGEST_CRC32C},
	    {"DataDigest", "CRC32C,None", "None", PARAM_DATA_DIGEST,
		PARAM_DIGEST_NONE},
	    {"DataDigest", "CRC32C", "Reject", PARAM_DATA_DIGEST,
		PARAM_DIGEST_NONE},
	    /* Minimum. */
	    {"MaxConnections", "8", "1", PARAM_MAX_CONNECTIONS, 1},
	    {"MaxBurstLength", "262144", "131072", PARAM_MAX_BURST_LENGTH,
		131072},
	    {"MaxBurstLength", "4096", "4096", PARAM_MAX_BURST_LENGTH, 4096},
	    {"FirstBurstLength", "0x1000", "4096", PARAM_FIRST_BURST_LENGTH,
		4096},
	    {"DefaultTime2Retain", "0", "0", PARAM_DEFAULT_TIME2RETAIN, 0},
	    {"MaxOutstandingR2T", "16", "4", PARAM_MAX_OUTSTANDING_R2T, 4},
	    {"ErrorRecoveryLevel", "2", "0", PARAM_ERROR_RECOVERY_LEVEL, 0},
	    {"iSCSIProtocolLevel", "1", "1", PARAM_PROTOCOL_LEVEL, 1},
	    {"iSCSIProtocolLevel", "31", "2", PARAM_PROTOCOL_LEVEL, 2},
	    /* Maximum. */
	    {"DefaultTime2Wait", "0", "2", PARAM_DEFAULT_TIME2WAIT, 2},
	    {"DefaultTime2Wait", "60", "60", PARAM_DEFAULT_TIME2WAIT, 60},
	    /* OR. */
	    {"InitialR2T", "No", "No", PARAM_INITIAL_R2T, 0},
	    {"InitialR2T", "Yes", "Yes", PARAM_INITIAL_R2T, 1},
	    {"DataPDUInOrder", "No", "Yes", PARAM_DATA_PDU_IN_ORDER, 1},
	    {"DataSequenceInOrder", "No", "Yes", PARAM_DATA_SEQUENCE_IN_ORDER,
		1},
	    /* AND. */
	    {"ImmediateData", "Yes", "Yes", PARAM_IMMEDIATE_DATA, 1},
	    {"ImmediateData", "No", "No", PARAM_IMMEDIATE_DATA, 0},
	    {"IFMarker", "Yes", "No", PARAM_IFMARKER, 0},
	    {"OFMarker", "No", "No", PARAM_OFMARKER, 0},
	    /* List with a single acceptable value. */
	    {"TaskReporting", "ResponseFence,RFC3720", "RFC3720",
		PARAM_TASK_REPORTING, 0},
	    {"TaskReporting", "FastAbort", "Reject", PARAM_TASK_REPORTING, 0},
	    /* Declarative: no answer, value taken. */
	    {"MaxRecvDataSegmentLength", "65536", NULL, PARAM_MAX_RECV_DSL,
		65536},
	    /* Irrelevant: target-only or obsolete keys. */
	    {"TargetAlias", "x", "Irrelevant", -1, 0},
	    {"TargetAddress", "1.2.3.4:3260,1", "Irrelevant", -1, 0},
	    {"TargetPortalGroupTag", "1", "Irrelevant", -1, 0},
	    {"OFMarkInt", "2048~8192", "Irrelevant", -1, 0},
	    {"IFMarkInt", "2048~8192", "Irrelevant", -1, 0},
	    {"SendTargets", "All", "Irrelevant", -1, 0},
	    /* Unknown and extension keys. */
	    {"X-com.example.Foo", "1", "NotUnderstood", -1, 0},
	    {"Bogus", "1", "NotUnderstood", -1, 0},
	    /* Out of range or malformed: Reject, default kept. */
	    {"MaxBurstLength", "511", "Reject", PARAM_MAX_BURST_LENGTH, 262144},
	    {"MaxBurstLength", "16777216", "Reject", PARAM_MAX_BURST_LENGTH,
		262144},
	    {"MaxBurstLength", "12ab", "Reject", PARAM_MAX_BURST_LENGTH,
		262144},
	    {"MaxOutstandingR2T", "0", "Reject", PARAM_MAX_OUTSTANDING_R2T, 1},
	    {"DefaultTime2Wait", "3601", "Reject", PARAM_DEFAULT_TIME2WAIT, 2},
	    {"ErrorRecoveryLevel", "3", "Reject", PARAM_ERROR_RECOVERY_LEVEL,
		0},
	    {"MaxConnections", "65536", "Reject", PARAM_MAX_CONNECTIONS, 1},
	    {"InitialR2T", "yes", "Reject", PARAM_INITIAL_R2T, 1},
	    {"ImmediateData", "", "Reject", PARAM_IMMEDIATE_DATA, 1},
	    {"iSCSIProtocolLevel", "32", "Reject", PARAM_PROTOCOL_LEVEL, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

static void
test_caller_keys(void **state)
{
	static const char *const keys[] = {"InitiatorName", "InitiatorAlias",
	    "TargetName", "SessionType", "AuthMethod"};
	uint16_t status;

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		reset();
		assert_int_equal(negotiate(keys[i], "x", &status),
		    PARAM_NOT_MINE);
		assert_int_equal(out.len, 0);
	}
}

static void
test_duplicate(void **state)
{
	uint16_t status;

	(void)state;
	reset();
	assert_int_equal(negotiate("MaxBurstLength", "4096", &status),
	    PARAM_OK);
	assert_int_equal(negotiate("MaxBurstLength", "4096", &status),
	    PARAM_FAIL);
	assert_int_equal(status, LOGIN_ERR_MISSING_PARAMETER);
	/* Keys without a slot are tracked too. */
	reset();
	assert_int_equal(negotiate("TargetAlias", "a", &status), PARAM_OK);
	assert_int_equal(negotiate("TargetAlias", "b", &status), PARAM_FAIL);
	assert_int_equal(status, LOGIN_ERR_MISSING_PARAMETER);
}

static void
test_declare_out_of_range(void **state)
{
	uint16_t status;

	(void)state;
	reset();
	assert_int_equal(negotiate("MaxRecvDataSegmentLength", "100", &status),
	    PARAM_FAIL);
	assert_int_equal(status, LOGIN_ERR_INITIATOR);
	assert_int_equal(result.v[PARAM_MAX_RECV_DSL], 8192);
	reset();
	assert_int_equal(negotiate("MaxRecvDataSegmentLength", "16777216",
			     &status),
	    PARAM_FAIL);
}

static void
test_answer_overflow(void **state)
{
	char small[8];
	uint16_t status = LOGIN_OK;

	(void)state;
	reset();
	strbuf_init(&out, small, sizeof(small));
	assert_int_equal(param_negotiate(&neg, &offer, &result,
			     "MaxBurstLength", "4096", &out, &status),
	    PARAM_FAIL);
	assert_int_equal(status, LOGIN_ERR_OUT_OF_RESOURCES);
}

static void
test_finish(void **state)
{
	(void)state;
	reset();
	result.v[PARAM_MAX_BURST_LENGTH] = 4096;
	result.v[PARAM_FIRST_BURST_LENGTH] = 65536;
	param_finish(&result);
	assert_int_equal(result.v[PARAM_FIRST_BURST_LENGTH], 4096);
	assert_string_equal(param_name(PARAM_MAX_RECV_DSL),
	    "MaxRecvDataSegmentLength");
	assert_string_equal(param_digest_name(PARAM_DIGEST_CRC32C), "CRC32C");
	assert_string_equal(param_digest_name(PARAM_DIGEST_NONE), "None");
}

/*
 * Every slot reads its name and default from the shared key table
 * (config/keys.h): the spellings on the wire and RFC 7143's defaults.
 */
static void
test_slots(void **state)
{
	static const struct {
		enum param_key slot;
		const char *name;
		uint32_t def;
	} slots[PARAM_COUNT] = {
	    {PARAM_HEADER_DIGEST, "HeaderDigest", PARAM_DIGEST_NONE},
	    {PARAM_DATA_DIGEST, "DataDigest", PARAM_DIGEST_NONE},
	    {PARAM_MAX_CONNECTIONS, "MaxConnections", 1},
	    {PARAM_INITIAL_R2T, "InitialR2T", 1},
	    {PARAM_IMMEDIATE_DATA, "ImmediateData", 1},
	    {PARAM_MAX_RECV_DSL, "MaxRecvDataSegmentLength", 8192},
	    {PARAM_MAX_BURST_LENGTH, "MaxBurstLength", 262144},
	    {PARAM_FIRST_BURST_LENGTH, "FirstBurstLength", 65536},
	    {PARAM_DEFAULT_TIME2WAIT, "DefaultTime2Wait", 2},
	    {PARAM_DEFAULT_TIME2RETAIN, "DefaultTime2Retain", 20},
	    {PARAM_MAX_OUTSTANDING_R2T, "MaxOutstandingR2T", 1},
	    {PARAM_DATA_PDU_IN_ORDER, "DataPDUInOrder", 1},
	    {PARAM_DATA_SEQUENCE_IN_ORDER, "DataSequenceInOrder", 1},
	    {PARAM_ERROR_RECOVERY_LEVEL, "ErrorRecoveryLevel", 0},
	    {PARAM_PROTOCOL_LEVEL, "iSCSIProtocolLevel", 0},
	    {PARAM_IFMARKER, "IFMarker", 0},
	    {PARAM_OFMARKER, "OFMarker", 0},
	    {PARAM_TASK_REPORTING, "TaskReporting", 0},
	};
	struct param_set d;

	(void)state;
	memset(&d, 0xa5, sizeof(d));
	param_defaults(&d);
	for (size_t i = 0; i < PARAM_COUNT; i++) {
		assert_int_equal(slots[i].slot, i);
		assert_string_equal(param_name(slots[i].slot), slots[i].name);
		assert_int_equal(d.v[slots[i].slot], slots[i].def);
	}
	assert_string_equal(param_name(PARAM_COUNT), "?");
}

/*
 * The table also holds IET's ietd.conf-only keys: an initiator sending
 * one gets NotUnderstood, as for any key ietd does not negotiate. Login
 * names compare exactly, unlike ietd.conf's. Every key with a result
 * function is negotiated (has a slot), so a bad value is never
 * NotUnderstood.
 */
static void
test_table_keys(void **state)
{
	static const char *const conf_only[] = {"MaxSessions",
	    "MaxXmitDataSegmentLength", "NOPInterval", "NOPTimeout", "Wthreads",
	    "QueuedCommands", "maxburstlength", "HEADERDIGEST"};
	uint16_t status;

	(void)state;
	for (size_t i = 0; i < sizeof(conf_only) / sizeof(conf_only[0]); i++) {
		reset();
		assert_int_equal(negotiate(conf_only[i], "1", &status),
		    PARAM_OK);
		expect_answer(conf_only[i], "NotUnderstood");
	}
	for (int k = 0; k < CONF_KEY_TABLE_LEN; k++) {
		const struct conf_key_def *d = &conf_key_defs[k];
		enum param_verdict verdict;

		if (d->rule == CONF_RULE_NONE || d->rule == CONF_RULE_LOGIN ||
		    d->rule == CONF_RULE_IRRELEVANT)
			continue;
		reset();
		verdict = negotiate(d->name, "bogus", &status);
		if (d->rule == CONF_RULE_DECLARE) {
			/* No answer; a bad declaration fails the login. */
			assert_int_equal(verdict, PARAM_FAIL);
			assert_int_equal(status, LOGIN_ERR_INITIATOR);
			assert_int_equal(out.len, 0);
		} else {
			assert_int_equal(verdict, PARAM_OK);
			expect_answer(d->name, "Reject");
		}
	}
}

static void
test_discovery_offers(void **state)
{
	(void)state;
	param_offers(&offer, NULL);
	assert_int_equal(offer.v[PARAM_HEADER_DIGEST],
	    PARAM_DIGEST_MASK_NONE | PARAM_DIGEST_MASK_CRC32C);
	assert_int_equal(offer.v[PARAM_MAX_BURST_LENGTH], 262144);
	assert_int_equal(offer.v[PARAM_FIRST_BURST_LENGTH], 65536);
	assert_int_equal(offer.v[PARAM_INITIAL_R2T], 1);
	assert_int_equal(offer.v[PARAM_PROTOCOL_LEVEL],
	    PARAM_PROTOCOL_LEVEL_MAX);
}

static void
report(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

static void
test_target_offers(void **state)
{
	static const char conf_text[] = "Target iqn.2026-11.test:param\n"
					"\tHeaderDigest CRC32C\n"
					"\tDataDigest None,CRC32C\n"
					"\tMaxBurstLength 65536\n"
					"\tFirstBurstLength 8192\n"
					"\tInitialR2T No\n"
					"\tImmediateData No\n"
					"\tMaxOutstandingR2T 8\n"
					"\tErrorRecoveryLevel 2\n"
					"\tMaxConnections 4\n";
	struct conf *conf;
	struct target *t;
	char why[256];

	(void)state;
	conf =
	    conf_load_buf("test", conf_text, strlen(conf_text), report, NULL);
	assert_non_null(conf);
	assert_int_equal(target_apply(conf, why, sizeof(why)), 0);
	t = target_find_by_name("iqn.2026-11.test:param");
	assert_non_null(t);
	param_offers(&offer, t);
	assert_int_equal(offer.v[PARAM_HEADER_DIGEST],
	    PARAM_DIGEST_MASK_CRC32C);
	assert_int_equal(offer.v[PARAM_DATA_DIGEST],
	    PARAM_DIGEST_MASK_NONE | PARAM_DIGEST_MASK_CRC32C);
	assert_int_equal(offer.v[PARAM_MAX_BURST_LENGTH], 65536);
	assert_int_equal(offer.v[PARAM_FIRST_BURST_LENGTH], 8192);
	assert_int_equal(offer.v[PARAM_INITIAL_R2T], 0);
	assert_int_equal(offer.v[PARAM_IMMEDIATE_DATA], 0);
	assert_int_equal(offer.v[PARAM_MAX_OUTSTANDING_R2T], 8);
	/* What ietd implements caps the configuration. */
	assert_int_equal(offer.v[PARAM_ERROR_RECOVERY_LEVEL], 0);
	assert_int_equal(offer.v[PARAM_MAX_CONNECTIONS], 1);
	target_put(t);
	target_registry_clear();
	conf_free(conf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_key),
	    cmocka_unit_test(test_caller_keys),
	    cmocka_unit_test(test_duplicate),
	    cmocka_unit_test(test_declare_out_of_range),
	    cmocka_unit_test(test_answer_overflow),
	    cmocka_unit_test(test_finish),
	    cmocka_unit_test(test_slots),
	    cmocka_unit_test(test_table_keys),
	    cmocka_unit_test(test_discovery_offers),
	    cmocka_unit_test(test_target_offers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
