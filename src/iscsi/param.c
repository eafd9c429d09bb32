/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Negotiation of the login keys of RFC 7143 section 13, whose names,
 * ranges, defaults and result functions are the one key table of
 * config/keys.h, with the result functions of section 6.2 (minimum,
 * maximum, OR, AND, first acceptable of a list). Every value from the
 * initiator is parsed with explicit bounds; a value out of range is
 * answered Reject and never used.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "util/str.h"
#include "iscsi_proto.h"
#include "param.h"
#include "text.h"
#include "config/keys.h"
#include "target/target.h"

/*
 * The table entry behind each result slot. Ranges, defaults and result
 * functions are the table's (config/keys.h); which keys a session keeps
 * a negotiated value of is this file's.
 */
static const enum conf_key param_slot_key[PARAM_COUNT] = {
    [PARAM_HEADER_DIGEST] = CONF_KEY_HEADER_DIGEST,
    [PARAM_DATA_DIGEST] = CONF_KEY_DATA_DIGEST,
    [PARAM_MAX_CONNECTIONS] = CONF_KEY_MAX_CONNECTIONS,
    [PARAM_INITIAL_R2T] = CONF_KEY_INITIAL_R2T,
    [PARAM_IMMEDIATE_DATA] = CONF_KEY_IMMEDIATE_DATA,
    [PARAM_MAX_RECV_DSL] = CONF_KEY_MAX_RECV_DATA_SEGMENT_LENGTH,
    [PARAM_MAX_BURST_LENGTH] = CONF_KEY_MAX_BURST_LENGTH,
    [PARAM_FIRST_BURST_LENGTH] = CONF_KEY_FIRST_BURST_LENGTH,
    [PARAM_DEFAULT_TIME2WAIT] = CONF_KEY_DEFAULT_TIME2WAIT,
    [PARAM_DEFAULT_TIME2RETAIN] = CONF_KEY_DEFAULT_TIME2RETAIN,
    [PARAM_MAX_OUTSTANDING_R2T] = CONF_KEY_MAX_OUTSTANDING_R2T,
    [PARAM_DATA_PDU_IN_ORDER] = CONF_KEY_DATA_PDU_IN_ORDER,
    [PARAM_DATA_SEQUENCE_IN_ORDER] = CONF_KEY_DATA_SEQUENCE_IN_ORDER,
    [PARAM_ERROR_RECOVERY_LEVEL] = CONF_KEY_ERROR_RECOVERY_LEVEL,
    [PARAM_PROTOCOL_LEVEL] = CONF_KEY_PROTOCOL_LEVEL,
    [PARAM_IFMARKER] = CONF_KEY_IFMARKER,
    [PARAM_OFMARKER] = CONF_KEY_OFMARKER,
    [PARAM_TASK_REPORTING] = CONF_KEY_TASK_REPORTING,
};

_Static_assert(CONF_KEY_TABLE_LEN <= 64, "seen is a 64-bit mask");

const char *
param_name(enum param_key k)
{
	return (unsigned int)k < PARAM_COUNT
	    ? conf_key_defs[param_slot_key[k]].name
	    : "?";
}

const char *
param_digest_name(uint32_t v)
{
	return v == PARAM_DIGEST_CRC32C ? "CRC32C" : "None";
}

void
param_defaults(struct param_set *p)
{
	for (int i = 0; i < PARAM_COUNT; i++)
		p->v[i] = conf_key_defs[param_slot_key[i]].def;
}

static uint32_t
param_digest_mask(uint32_t conf_value)
{
	switch (conf_value) {
	case CONF_DIGEST_CRC32C:
		return PARAM_DIGEST_MASK_CRC32C;
	case CONF_DIGEST_NONE_CRC32C:
	case CONF_DIGEST_CRC32C_NONE:
		return PARAM_DIGEST_MASK_NONE | PARAM_DIGEST_MASK_CRC32C;
	case CONF_DIGEST_NONE:
	default:
		return PARAM_DIGEST_MASK_NONE;
	}
}

void
param_offers(struct param_set *offer, const struct target *t)
{
	param_defaults(offer);
	offer->v[PARAM_PROTOCOL_LEVEL] = PARAM_PROTOCOL_LEVEL_MAX;
	if (t == NULL) {
		/*
		 * Discovery: RFC defaults, but either digest, so a discovery
		 * session can be protected too (an IET known issue).
		 */
		offer->v[PARAM_HEADER_DIGEST] =
		    PARAM_DIGEST_MASK_NONE | PARAM_DIGEST_MASK_CRC32C;
		offer->v[PARAM_DATA_DIGEST] = offer->v[PARAM_HEADER_DIGEST];
		return;
	}
	offer->v[PARAM_HEADER_DIGEST] =
	    param_digest_mask(target_param(t, CONF_KEY_HEADER_DIGEST));
	offer->v[PARAM_DATA_DIGEST] =
	    param_digest_mask(target_param(t, CONF_KEY_DATA_DIGEST));
	/* XXX: MC/S is not implemented; a second connection is refused. */
	offer->v[PARAM_MAX_CONNECTIONS] = 1;
	offer->v[PARAM_INITIAL_R2T] = target_param(t, CONF_KEY_INITIAL_R2T);
	offer->v[PARAM_IMMEDIATE_DATA] =
	    target_param(t, CONF_KEY_IMMEDIATE_DATA);
	offer->v[PARAM_MAX_BURST_LENGTH] =
	    target_param(t, CONF_KEY_MAX_BURST_LENGTH);
	offer->v[PARAM_FIRST_BURST_LENGTH] =
	    target_param(t, CONF_KEY_FIRST_BURST_LENGTH);
	offer->v[PARAM_DEFAULT_TIME2WAIT] =
	    target_param(t, CONF_KEY_DEFAULT_TIME2WAIT);
	offer->v[PARAM_DEFAULT_TIME2RETAIN] =
	    target_param(t, CONF_KEY_DEFAULT_TIME2RETAIN);
	offer->v[PARAM_MAX_OUTSTANDING_R2T] =
	    target_param(t, CONF_KEY_MAX_OUTSTANDING_R2T);
	/*
	 * Data-Out is taken in order only (ffp_hdr_data_out checks DataSN
	 * and Buffer Offset): Yes, whatever ietd.conf says (target/apply.c logs
	 * it). Both keys are OR-ed (RFC 7143 13.18, 13.19), so our Yes
	 * decides even when the initiator offers No.
	 */
	offer->v[PARAM_DATA_PDU_IN_ORDER] = 1;
	offer->v[PARAM_DATA_SEQUENCE_IN_ORDER] = 1;
	/* Only ErrorRecoveryLevel 0 is implemented (RFC 7143 7.1.5). */
	offer->v[PARAM_ERROR_RECOVERY_LEVEL] = 0;
}

/*
 * The table entry of a key an initiator sent, its name compared exactly;
 * keys only ietd.conf knows are not login keys. CONF_KEY_TABLE_LEN when
 * it is none of ours.
 */
static enum conf_key
param_key_find(const char *key)
{
	for (int k = 0; k < CONF_KEY_TABLE_LEN; k++)
		if (conf_key_defs[k].rule != CONF_RULE_NONE &&
		    strcmp(conf_key_defs[k].name, key) == 0)
			return (enum conf_key)k;
	return CONF_KEY_TABLE_LEN;
}

/* The result slot of table entry k, or -1 when a session keeps none. */
static int
param_key_slot(enum conf_key k)
{
	for (int i = 0; i < PARAM_COUNT; i++)
		if (param_slot_key[i] == k)
			return i;
	return -1;
}

/* RFC 7143 6.2.2: Boolean values are exactly "Yes" or "No". */
static int
param_parse_bool(const char *value, uint32_t *out)
{
	if (strcmp(value, "Yes") == 0)
		*out = 1;
	else if (strcmp(value, "No") == 0)
		*out = 0;
	else
		return -EINVAL;
	return 0;
}

/*
 * A list value: the first entry we accept wins (RFC 7143 6.2.1). Entries
 * we do not know are skipped, not errors.
 */
static int
param_pick_digest(const char *value, uint32_t accept, uint32_t *out)
{
	const char *p = value;

	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		uint32_t v;

		if (n == 4 && strncmp(p, "None", n) == 0)
			v = PARAM_DIGEST_NONE;
		else if (n == 6 && strncmp(p, "CRC32C", n) == 0)
			v = PARAM_DIGEST_CRC32C;
		else
			v = UINT32_MAX;
		if (v != UINT32_MAX && (accept & (1u << v)) != 0) {
			*out = v;
			return 0;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return -ENOENT;
}

static bool
param_list_has(const char *value, const char *want)
{
	size_t wl = strlen(want);
	const char *p = value;

	while (*p != '\0') {
		size_t n = strcspn(p, ",");

		if (n == wl && strncmp(p, want, n) == 0)
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

static enum param_verdict
param_answer(struct strbuf *out, const char *key, const char *value,
    uint16_t *status)
{
	if (text_put(out, key, value))
		return PARAM_OK;
	*status = LOGIN_ERR_OUT_OF_RESOURCES;
	return PARAM_FAIL;
}

static enum param_verdict
param_answer_num(struct strbuf *out, const char *key, uint32_t v,
    uint16_t *status)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", v);
	return param_answer(out, key, buf, status);
}

enum param_verdict
param_negotiate(struct param_neg *neg, const struct param_set *offer,
    struct param_set *result, const char *key, const char *value,
    struct strbuf *out, uint16_t *status)
{
	const struct conf_key_def *d;
	enum conf_key k;
	uint64_t num;
	uint32_t v;
	int slot;

	k = param_key_find(key);
	slot = k < CONF_KEY_TABLE_LEN ? param_key_slot(k) : -1;
	/*
	 * Every key with a result function has a slot (test_iscsi_param
	 * checks it); a table entry without one is treated as unknown
	 * rather than stored nowhere.
	 */
	if (k == CONF_KEY_TABLE_LEN ||
	    (slot < 0 && conf_key_defs[k].rule != CONF_RULE_LOGIN &&
		conf_key_defs[k].rule != CONF_RULE_IRRELEVANT)) {
		char ek[TEXT_KEY_MAX * 4 + 4], ev[128];

		/*
		 * RFC 7143 6.2: a key the acceptor does not know is answered
		 * NotUnderstood, X- and X# extension keys included.
		 */
		log_info("Dropping key (%s=%s)",
		    str_escape(ek, sizeof(ek), key, strlen(key)),
		    str_escape(ev, sizeof(ev), value, strlen(value)));
		return param_answer(out, key, "NotUnderstood", status);
	}
	d = &conf_key_defs[k];
	if (d->rule == CONF_RULE_LOGIN)
		return PARAM_NOT_MINE;

	/* RFC 7143 6.2: a key may be negotiated once per login. */
	if ((neg->seen & (UINT64_C(1) << k)) != 0) {
		*status = LOGIN_ERR_MISSING_PARAMETER;
		return PARAM_FAIL;
	}
	neg->seen |= UINT64_C(1) << k;

	switch (d->rule) {
	case CONF_RULE_IRRELEVANT:
		return param_answer(out, key, "Irrelevant", status);
	case CONF_RULE_LIST:
		if (d->kind != CONF_KIND_DIGEST) {
			/* TaskReporting: RFC3720 is all ietd does. */
			if (!param_list_has(value, "RFC3720"))
				return param_answer(out, key, "Reject", status);
			result->v[slot] = 0;
			return param_answer(out, key, "RFC3720", status);
		}
		if (param_pick_digest(value, offer->v[slot], &v) != 0)
			return param_answer(out, key, "Reject", status);
		result->v[slot] = v;
		return param_answer(out, key, param_digest_name(v), status);
	case CONF_RULE_OR:
	case CONF_RULE_AND:
		if (param_parse_bool(value, &v) != 0)
			return param_answer(out, key, "Reject", status);
		if (d->rule == CONF_RULE_OR)
			v = v | offer->v[slot];
		else
			v = v & offer->v[slot];
		result->v[slot] = v;
		return param_answer(out, key, v ? "Yes" : "No", status);
	case CONF_RULE_DECLARE:
		/*
		 * A declaration gets no answer (RFC 7143 6.2); one outside
		 * its range cannot be used, so the login fails.
		 */
		if (str_to_u64(value, d->min, d->max, true, &num) != 0) {
			*status = LOGIN_ERR_INITIATOR;
			return PARAM_FAIL;
		}
		result->v[slot] = (uint32_t)num;
		return PARAM_OK;
	case CONF_RULE_MIN:
	case CONF_RULE_MAX:
		if (str_to_u64(value, d->min, d->max, true, &num) != 0)
			return param_answer(out, key, "Reject", status);
		v = (uint32_t)num;
		if (d->rule == CONF_RULE_MIN)
			v = v < offer->v[slot] ? v : offer->v[slot];
		else
			v = v > offer->v[slot] ? v : offer->v[slot];
		result->v[slot] = v;
		return param_answer_num(out, key, v, status);
	case CONF_RULE_NONE:
	case CONF_RULE_LOGIN:
		break;
	}
	return PARAM_NOT_MINE;
}

void
param_finish(struct param_set *r)
{
	/* RFC 7143 13.14: FirstBurstLength MUST NOT exceed MaxBurstLength. */
	if (r->v[PARAM_FIRST_BURST_LENGTH] > r->v[PARAM_MAX_BURST_LENGTH])
		r->v[PARAM_FIRST_BURST_LENGTH] = r->v[PARAM_MAX_BURST_LENGTH];
}
