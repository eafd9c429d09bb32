/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Operational key negotiation (RFC 7143 6.2 and 13) from the key table
 * of config/keys.h (kind, default, range and result function of each
 * login key). The login code feeds each key=value of the initiator
 * through param_negotiate(); security and declarative name keys are left
 * to it.
 */
#ifndef IETD_ISCSI_PARAM_H
#define IETD_ISCSI_PARAM_H

#include <stdbool.h>
#include <stdint.h>

#include "util/str.h"

struct target;

/* The numeric results of a negotiation, one slot per negotiated key. */
enum param_key {
	PARAM_HEADER_DIGEST, /* PARAM_DIGEST_* */
	PARAM_DATA_DIGEST,
	PARAM_MAX_CONNECTIONS,
	PARAM_INITIAL_R2T, /* 0 / 1 */
	PARAM_IMMEDIATE_DATA,
	PARAM_MAX_RECV_DSL, /* the initiator's declared receive limit */
	PARAM_MAX_BURST_LENGTH,
	PARAM_FIRST_BURST_LENGTH,
	PARAM_DEFAULT_TIME2WAIT,
	PARAM_DEFAULT_TIME2RETAIN,
	PARAM_MAX_OUTSTANDING_R2T,
	PARAM_DATA_PDU_IN_ORDER,
	PARAM_DATA_SEQUENCE_IN_ORDER,
	PARAM_ERROR_RECOVERY_LEVEL,
	PARAM_PROTOCOL_LEVEL, /* iSCSIProtocolLevel, RFC 7144 */
	PARAM_IFMARKER,       /* obsolete markers: always No */
	PARAM_OFMARKER,
	PARAM_TASK_REPORTING, /* 0 = RFC3720, the only one we do */
	PARAM_COUNT
};

#define PARAM_DIGEST_NONE 0
#define PARAM_DIGEST_CRC32C 1
/* Offers for a digest key are a set of acceptable values. */
#define PARAM_DIGEST_MASK_NONE (1u << PARAM_DIGEST_NONE)
#define PARAM_DIGEST_MASK_CRC32C (1u << PARAM_DIGEST_CRC32C)

/* Highest iSCSIProtocolLevel we implement (RFC 7144: 2). */
#define PARAM_PROTOCOL_LEVEL_MAX 2

struct param_set {
	uint32_t v[PARAM_COUNT];
};

/* State of one login's negotiation: which keys were seen already. */
struct param_neg {
	uint64_t seen; /* bit per enum conf_key (config/keys.h) */
	bool discovery;
};

enum param_verdict {
	PARAM_OK,       /* answered (or nothing to answer) */
	PARAM_NOT_MINE, /* a security or name key: the caller's */
	PARAM_FAIL,     /* the login fails with *status */
};

/* RFC 7143 defaults for every slot. */
void param_defaults(struct param_set *p);
/*
 * The target's offers: its configured values from target_param() with
 * what ietd implements applied (ErrorRecoveryLevel 0, one connection).
 * t == NULL: a discovery session, which uses the RFC defaults and accepts
 * either digest.
 */
void param_offers(struct param_set *offer, const struct target *t);
/*
 * Negotiate one key the initiator sent: check the value, compute the
 * result into result->v, and append the answer ("key=value\0") to out.
 * Unknown keys are answered NotUnderstood, keys the initiator may not
 * send Irrelevant, bad values Reject. A key sent twice in one login, or
 * an answer that does not fit out, fails the login (*status set).
 */
enum param_verdict param_negotiate(struct param_neg *neg,
    const struct param_set *offer, struct param_set *result, const char *key,
    const char *value, struct strbuf *out, uint16_t *status);
/* Fix up results that depend on each other, once negotiation ends. */
void param_finish(struct param_set *r);
/* The name of a slot as it is spelled on the wire. */
const char *param_name(enum param_key k);
/* "None" or "CRC32C". */
const char *param_digest_name(uint32_t v);

#endif /* IETD_ISCSI_PARAM_H */
