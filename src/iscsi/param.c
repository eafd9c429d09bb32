/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The login key table of RFC 7143 section 13 and the result functions of
 * section 6.2 (minimum, maximum, OR, AND, first acceptable of a list).
 * Every value from the initiator is parsed with explicit bounds; a value
 * out of range is answered Reject and never used.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "util/str.h"
#include "iscsi_proto.h"
#include "param.h"
#include "target/target.h"

enum param_kind {
	PK_MIN,            /* numeric, result = min(offer, answer) */
	PK_MAX,            /* numeric, result = max */
	PK_OR,             /* boolean, Yes wins */
	PK_AND,            /* boolean, No wins */
	PK_DIGEST,         /* list of None / CRC32C */
	PK_TASK_REPORTING, /* list; we accept RFC3720 only */
	PK_DECLARE,        /* the initiator's declaration; no answer */
	PK_CALLER,         /* security and name keys, handled by login.c */
	PK_IRRELEVANT,     /* initiator may not send it, or it has no meaning */
};

struct param_def {
	const char *name;
	enum param_kind kind;
	int slot; /* enum param_key, or -1 */
	uint32_t def, min, max;
};

#define LEN_MIN 512 /* RFC 7143 13.12 - 13.14 */
#define LEN_MAX 16777215
#define TIME_MAX 3600 /* RFC 7143 13.15, 13.16 */
#define U16_MAX 65535
#define ERL_MAX 2               /* RFC 7143 13.20 */
#define PROTOCOL_LEVEL_LIMIT 31 /* RFC 7144 13.24 */

static const struct param_def param_table[] = {
    {"HeaderDigest", PK_DIGEST, PARAM_HEADER_DIGEST, PARAM_DIGEST_NONE, 0, 1},
    {"DataDigest", PK_DIGEST, PARAM_DATA_DIGEST, PARAM_DIGEST_NONE, 0, 1},
    {"MaxConnections", PK_MIN, PARAM_MAX_CONNECTIONS, 1, 1, U16_MAX},
    {"InitialR2T", PK_OR, PARAM_INITIAL_R2T, 1, 0, 1},
    {"ImmediateData", PK_AND, PARAM_IMMEDIATE_DATA, 1, 0, 1},
    {"MaxRecvDataSegmentLength", PK_DECLARE, PARAM_MAX_RECV_DSL, 8192, LEN_MIN,
	LEN_MAX},
    {"MaxBurstLength", PK_MIN, PARAM_MAX_BURST_LENGTH, 262144, LEN_MIN,
	LEN_MAX},
    {"FirstBurstLength", PK_MIN, PARAM_FIRST_BURST_LENGTH, 65536, LEN_MIN,
	LEN_MAX},
    {"DefaultTime2Wait", PK_MAX, PARAM_DEFAULT_TIME2WAIT, 2, 0, TIME_MAX},
    {"DefaultTime2Retain", PK_MIN, PARAM_DEFAULT_TIME2RETAIN, 20, 0, TIME_MAX},
    {"MaxOutstandingR2T", PK_MIN, PARAM_MAX_OUTSTANDING_R2T, 1, 1, U16_MAX},
    {"DataPDUInOrder", PK_OR, PARAM_DATA_PDU_IN_ORDER, 1, 0, 1},
    {"DataSequenceInOrder", PK_OR, PARAM_DATA_SEQUENCE_IN_ORDER, 1, 0, 1},
    {"ErrorRecoveryLevel", PK_MIN, PARAM_ERROR_RECOVERY_LEVEL, 0, 0, ERL_MAX},
    {"iSCSIProtocolLevel", PK_MIN, PARAM_PROTOCOL_LEVEL, 0, 0,
	PROTOCOL_LEVEL_LIMIT},
    /* RFC 7143 removed markers; answering No keeps RFC 3720 peers happy. */
    {"IFMarker", PK_AND, PARAM_IFMARKER, 0, 0, 1},
    {"OFMarker", PK_AND, PARAM_OFMARKER, 0, 0, 1},
    {"TaskReporting", PK_TASK_REPORTING, PARAM_TASK_REPORTING, 0, 0, 0},
    {"IFMarkInt", PK_IRRELEVANT, -1, 0, 0, 0},
    {"OFMarkInt", PK_IRRELEVANT, -1, 0, 0, 0},
    /* Declared by the target only (RFC 7143 13.9, 13.8, 13.9). */
    {"TargetAlias", PK_IRRELEVANT, -1, 0, 0, 0},
    {"TargetAddress", PK_IRRELEVANT, -1, 0, 0, 0},
    {"TargetPortalGroupTag", PK_IRRELEVANT, -1, 0, 0, 0},
    /* Text Request only (RFC 7143 13.3). */
    {"SendTargets", PK_IRRELEVANT, -1, 0, 0, 0},
    {"InitiatorName", PK_CALLER, -1, 0, 0, 0},
    {"InitiatorAlias", PK_CALLER, -1, 0, 0, 0},
    {"TargetName", PK_CALLER, -1, 0, 0, 0},
    {"SessionType", PK_CALLER, -1, 0, 0, 0},
    {"AuthMethod", PK_CALLER, -1, 0, 0, 0},
};

#define PARAM_TABLE_LEN (sizeof(param_table) / sizeof(param_table[0]))
_Static_assert(PARAM_COUNT <= 32, "seen is a 32-bit mask");
_Static_assert(PARAM_TABLE_LEN <= 32, "seen_misc is a 32-bit mask");

static const char *const param_slot_names[PARAM_COUNT] = {
    [PARAM_HEADER_DIGEST] = "HeaderDigest",
    [PARAM_DATA_DIGEST] = "DataDigest",
    [PARAM_MAX_CONNECTIONS] = "MaxConnections",
    [PARAM_INITIAL_R2T] = "InitialR2T",
    [PARAM_IMMEDIATE_DATA] = "ImmediateData",
    [PARAM_MAX_RECV_DSL] = "MaxRecvDataSegmentLength",
    [PARAM_MAX_BURST_LENGTH] = "MaxBurstLength",
    [PARAM_FIRST_BURST_LENGTH] = "FirstBurstLength",
    [PARAM_DEFAULT_TIME2WAIT] = "DefaultTime2Wait",
    [PARAM_DEFAULT_TIME2RETAIN] = "DefaultTime2Retain",
    [PARAM_MAX_OUTSTANDING_R2T] = "MaxOutstandingR2T",
    [PARAM_DATA_PDU_IN_ORDER] = "DataPDUInOrder",
    [PARAM_DATA_SEQUENCE_IN_ORDER] = "DataSequenceInOrder",
    [PARAM_ERROR_RECOVERY_LEVEL] = "ErrorRecoveryLevel",
    [PARAM_PROTOCOL_LEVEL] = "iSCSIProtocolLevel",
    [PARAM_IFMARKER] = "IFMarker",
    [PARAM_OFMARKER] = "OFMarker",
    [PARAM_TASK_REPORTING] = "TaskReporting",
};

const char *
param_name(enum param_key k)
{
	return (unsigned int)k < PARAM_COUNT ? param_slot_names[k] : "?";
}

const char *
param_digest_name(uint32_t v)
{
	return v == PARAM_DIGEST_CRC32C ? "CRC32C" : "None";
}

void
param_defaults(struct param_set *p)
{
	for (size_t i = 0; i < PARAM_TABLE_LEN; i++)
		if (param_table[i].slot >= 0)
			p->v[param_table[i].slot] = param_table[i].def;
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

static const struct param_def *
param_def_find(const char *key, size_t *idx)
{
	for (size_t i = 0; i < PARAM_TABLE_LEN; i++) {
		if (strcmp(param_table[i].name, key) == 0) {
			*idx = i;
			return &param_table[i];
		}
	}
	return NULL;
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
	const struct param_def *d;
	size_t idx;
	uint64_t num;
	uint32_t v;

	d = param_def_find(key, &idx);
	if (d == NULL) {
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
	if (d->kind == PK_CALLER)
		return PARAM_NOT_MINE;

	/* RFC 7143 6.2: a key may be negotiated once per login. */
	if (d->slot >= 0) {
		if ((neg->seen & (1u << d->slot)) != 0)
			goto dup;
		neg->seen |= 1u << d->slot;
	} else {
		if ((neg->seen_misc & (1u << idx)) != 0)
			goto dup;
		neg->seen_misc |= 1u << idx;
	}

	switch (d->kind) {
	case PK_IRRELEVANT:
		return param_answer(out, key, "Irrelevant", status);
	case PK_DIGEST:
		if (param_pick_digest(value, offer->v[d->slot], &v) != 0)
			return param_answer(out, key, "Reject", status);
		result->v[d->slot] = v;
		return param_answer(out, key, param_digest_name(v), status);
	case PK_TASK_REPORTING:
		if (!param_list_has(value, "RFC3720"))
			return param_answer(out, key, "Reject", status);
		result->v[d->slot] = 0;
		return param_answer(out, key, "RFC3720", status);
	case PK_OR:
	case PK_AND:
		if (param_parse_bool(value, &v) != 0)
			return param_answer(out, key, "Reject", status);
		if (d->kind == PK_OR)
			v = v | offer->v[d->slot];
		else
			v = v & offer->v[d->slot];
		result->v[d->slot] = v;
		return param_answer(out, key, v ? "Yes" : "No", status);
	case PK_DECLARE:
		/*
		 * A declaration gets no answer (RFC 7143 6.2); one outside
		 * its range cannot be used, so the login fails.
		 */
		if (str_to_u64(value, d->min, d->max, true, &num) != 0) {
			*status = LOGIN_ERR_INITIATOR;
			return PARAM_FAIL;
		}
		result->v[d->slot] = (uint32_t)num;
		return PARAM_OK;
	case PK_MIN:
	case PK_MAX:
		if (str_to_u64(value, d->min, d->max, true, &num) != 0)
			return param_answer(out, key, "Reject", status);
		v = (uint32_t)num;
		if (d->kind == PK_MIN)
			v = v < offer->v[d->slot] ? v : offer->v[d->slot];
		else
			v = v > offer->v[d->slot] ? v : offer->v[d->slot];
		result->v[d->slot] = v;
		return param_answer_num(out, key, v, status);
	case PK_CALLER:
		break;
	}
	return PARAM_NOT_MINE;
dup:
	*status = LOGIN_ERR_MISSING_PARAMETER;
	return PARAM_FAIL;
}

void
param_finish(struct param_set *r)
{
	/* RFC 7143 13.14: FirstBurstLength MUST NOT exceed MaxBurstLength. */
	if (r->v[PARAM_FIRST_BURST_LENGTH] > r->v[PARAM_MAX_BURST_LENGTH])
		r->v[PARAM_FIRST_BURST_LENGTH] = r->v[PARAM_MAX_BURST_LENGTH];
}
