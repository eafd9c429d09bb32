/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The one table of the keys ietd knows: the login keys of RFC 7143
 * section 13 and IET's own per-target ietd.conf keys, each with its
 * spelling, kind of value, range, default and result function. The
 * ietd.conf parser checks values against it and the login negotiates
 * from it (src/iscsi/param.c), so no range or default is written twice.
 * It lives in config because config is the lower of the two layers.
 */
#ifndef IETD_CONFIG_KEYS_H
#define IETD_CONFIG_KEYS_H

#include <stddef.h>
#include <stdint.h>

/*
 * HeaderDigest / DataDigest: the value is a preference list. Stored as one
 * of these codes so a key keeps a single uint32_t like every other key.
 */
enum conf_digest {
	CONF_DIGEST_NONE,        /* "None" */
	CONF_DIGEST_CRC32C,      /* "CRC32C" */
	CONF_DIGEST_NONE_CRC32C, /* "None,CRC32C": prefer None */
	CONF_DIGEST_CRC32C_NONE, /* "CRC32C,None": prefer CRC32C */
};

/* Every key, as an index into conf_key_defs[]. */
enum conf_key {
	/*
	 * The per-target keys of ietd.conf that carry a value (not accounts
	 * or LUNs), in the order they are written back; also the index of
	 * struct conf_target's params[].
	 */
	CONF_KEY_MAX_CONNECTIONS,
	CONF_KEY_MAX_SESSIONS,
	CONF_KEY_INITIAL_R2T,
	CONF_KEY_IMMEDIATE_DATA,
	CONF_KEY_MAX_RECV_DATA_SEGMENT_LENGTH,
	CONF_KEY_MAX_XMIT_DATA_SEGMENT_LENGTH,
	CONF_KEY_MAX_BURST_LENGTH,
	CONF_KEY_FIRST_BURST_LENGTH,
	CONF_KEY_DEFAULT_TIME2WAIT,
	CONF_KEY_DEFAULT_TIME2RETAIN,
	CONF_KEY_MAX_OUTSTANDING_R2T,
	CONF_KEY_DATA_PDU_IN_ORDER,
	CONF_KEY_DATA_SEQUENCE_IN_ORDER,
	CONF_KEY_ERROR_RECOVERY_LEVEL,
	CONF_KEY_HEADER_DIGEST,
	CONF_KEY_DATA_DIGEST,
	CONF_KEY_NOP_INTERVAL,
	CONF_KEY_NOP_TIMEOUT,
	CONF_KEY_WTHREADS,
	CONF_KEY_QUEUED_COMMANDS,
	CONF_KEY_COUNT,
	/* Login keys that ietd.conf has no line for. */
	CONF_KEY_PROTOCOL_LEVEL = CONF_KEY_COUNT,
	CONF_KEY_IFMARKER,
	CONF_KEY_OFMARKER,
	CONF_KEY_TASK_REPORTING,
	CONF_KEY_IFMARKINT,
	CONF_KEY_OFMARKINT,
	CONF_KEY_TARGET_ALIAS,
	CONF_KEY_TARGET_ADDRESS,
	CONF_KEY_TARGET_PORTAL_GROUP_TAG,
	CONF_KEY_SEND_TARGETS,
	CONF_KEY_INITIATOR_NAME,
	CONF_KEY_INITIATOR_ALIAS,
	CONF_KEY_TARGET_NAME,
	CONF_KEY_SESSION_TYPE,
	CONF_KEY_AUTH_METHOD,
	CONF_KEY_TABLE_LEN
};

/* How a value is spelled. */
enum conf_key_kind {
	CONF_KIND_NUMBER, /* decimal in [min, max] */
	CONF_KIND_BOOL,   /* Yes / No, stored as 1 / 0 */
	CONF_KIND_DIGEST, /* a list of None / CRC32C; enum conf_digest */
	CONF_KIND_LIST,   /* another list of values (TaskReporting) */
	CONF_KIND_TEXT,   /* names, addresses: never parsed through the table */
};

/* What a login does with the key (RFC 7143 6.2 result functions). */
enum conf_key_rule {
	CONF_RULE_NONE,    /* ietd.conf only: no login key of that name */
	CONF_RULE_MIN,     /* numeric, the lower of offer and answer */
	CONF_RULE_MAX,     /* numeric, the higher */
	CONF_RULE_OR,      /* boolean, Yes wins */
	CONF_RULE_AND,     /* boolean, No wins */
	CONF_RULE_LIST,    /* the first value of the offer the acceptor takes */
	CONF_RULE_DECLARE, /* declarative: each side states its own */
	CONF_RULE_LOGIN,   /* security and name keys: the login stages' */
	CONF_RULE_IRRELEVANT, /* an initiator has no business sending it */
};

struct conf_key_def {
	const char *name; /* RFC 7143's or IET's spelling, also when written */
	enum conf_key_kind kind;
	enum conf_key_rule rule;
	/*
	 * The default is RFC 7143's where the RFC gives one; ietd.conf uses
	 * that same value (so did IET) when a target does not set the key.
	 * A key only ietd.conf knows has IET's documented default. For
	 * CONF_KIND_DIGEST, min and max bound the enum conf_digest codes.
	 */
	uint32_t def, min, max;
};

/* keys.c: the table, indexed by enum conf_key. */
extern const struct conf_key_def conf_key_defs[CONF_KEY_TABLE_LEN];
/*
 * An ietd.conf key by name, compared without case; CONF_KEY_COUNT when
 * ietd.conf has no such key (login-only keys included).
 */
enum conf_key conf_key_find(const char *name);
/*
 * Parse an ietd.conf value for key k (< CONF_KEY_COUNT). Returns 0, or
 * -EINVAL / -ERANGE with a short reason ("expected Yes or No", "expected
 * 512 to 16777215", ...) written into why.
 */
int conf_key_parse(enum conf_key k, const char *value, uint32_t *out, char *why,
    size_t whylen);
/* Write a value back in ietd.conf form ("Yes", "CRC32C,None", "8192"). */
const char *conf_key_format(enum conf_key k, uint32_t v, char *buf, size_t len);

#endif /* IETD_CONFIG_KEYS_H */
