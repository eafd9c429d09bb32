/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The table of every key ietd knows (keys.h) and the conversions between
 * an ietd.conf value's text and its stored uint32_t. ietd.conf and the
 * login both take ranges and defaults from here; applying them is the
 * target registry's and negotiating them param.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/str.h"
#include "keys.h"

/* RFC 7143 13.12-13.14: segment and burst lengths are 512 to 2^24 - 1. */
#define CONF_LEN_MIN 512
#define CONF_LEN_MAX 16777215
/* RFC 7143 13.15 / 13.16: DefaultTime2Wait and Time2Retain are 0..3600. */
#define CONF_TIME_MAX 3600
#define CONF_U16_MAX 65535
#define CONF_ERL_MAX 2             /* RFC 7143 13.20 */
#define CONF_PROTOCOL_LEVEL_MAX 31 /* RFC 7143 13.24 */

#define NUM(n, r, d, lo, hi)                                \
	{                                                   \
		(n), CONF_KIND_NUMBER, (r), (d), (lo), (hi) \
	}
#define BOOL(n, r, d)                               \
	{                                           \
		(n), CONF_KIND_BOOL, (r), (d), 0, 1 \
	}
#define DIGEST(n)                                                        \
	{                                                                \
		(n), CONF_KIND_DIGEST, CONF_RULE_LIST, CONF_DIGEST_NONE, \
		    CONF_DIGEST_NONE, CONF_DIGEST_CRC32C_NONE            \
	}
/* A key whose value ietd never reads through the table. */
#define TEXT(n, r)                                \
	{                                         \
		(n), CONF_KIND_TEXT, (r), 0, 0, 0 \
	}

/*
 * Defaults follow RFC 7143 section 13 where the RFC gives one, and IET's
 * documented values otherwise. ImmediateData defaults to Yes (RFC 7143
 * 13.11; IET's example file, not its manual page).
 */
const struct conf_key_def conf_key_defs[CONF_KEY_TABLE_LEN] = {
    [CONF_KEY_MAX_CONNECTIONS] =
	NUM("MaxConnections", CONF_RULE_MIN, 1, 1, CONF_U16_MAX),
    /* IET's own: sessions per target, 0 for no limit. */
    [CONF_KEY_MAX_SESSIONS] =
	NUM("MaxSessions", CONF_RULE_NONE, 0, 0, CONF_U16_MAX),
    [CONF_KEY_INITIAL_R2T] = BOOL("InitialR2T", CONF_RULE_OR, 1),
    [CONF_KEY_IMMEDIATE_DATA] = BOOL("ImmediateData", CONF_RULE_AND, 1),
    [CONF_KEY_MAX_RECV_DATA_SEGMENT_LENGTH] = NUM("MaxRecvDataSegmentLength",
	CONF_RULE_DECLARE, 8192, CONF_LEN_MIN, CONF_LEN_MAX),
    /* IET's own: the largest data segment the target sends. */
    [CONF_KEY_MAX_XMIT_DATA_SEGMENT_LENGTH] = NUM("MaxXmitDataSegmentLength",
	CONF_RULE_NONE, 8192, CONF_LEN_MIN, CONF_LEN_MAX),
    [CONF_KEY_MAX_BURST_LENGTH] = NUM("MaxBurstLength", CONF_RULE_MIN, 262144,
	CONF_LEN_MIN, CONF_LEN_MAX),
    [CONF_KEY_FIRST_BURST_LENGTH] = NUM("FirstBurstLength", CONF_RULE_MIN,
	65536, CONF_LEN_MIN, CONF_LEN_MAX),
    [CONF_KEY_DEFAULT_TIME2WAIT] =
	NUM("DefaultTime2Wait", CONF_RULE_MAX, 2, 0, CONF_TIME_MAX),
    [CONF_KEY_DEFAULT_TIME2RETAIN] =
	NUM("DefaultTime2Retain", CONF_RULE_MIN, 20, 0, CONF_TIME_MAX),
    [CONF_KEY_MAX_OUTSTANDING_R2T] =
	NUM("MaxOutstandingR2T", CONF_RULE_MIN, 1, 1, CONF_U16_MAX),
    [CONF_KEY_DATA_PDU_IN_ORDER] = BOOL("DataPDUInOrder", CONF_RULE_OR, 1),
    [CONF_KEY_DATA_SEQUENCE_IN_ORDER] =
	BOOL("DataSequenceInOrder", CONF_RULE_OR, 1),
    [CONF_KEY_ERROR_RECOVERY_LEVEL] =
	NUM("ErrorRecoveryLevel", CONF_RULE_MIN, 0, 0, CONF_ERL_MAX),
    [CONF_KEY_HEADER_DIGEST] = DIGEST("HeaderDigest"),
    [CONF_KEY_DATA_DIGEST] = DIGEST("DataDigest"),
    /* IET's own: NOP-In pings, worker threads, the command window. */
    [CONF_KEY_NOP_INTERVAL] =
	NUM("NOPInterval", CONF_RULE_NONE, 0, 0, CONF_TIME_MAX),
    [CONF_KEY_NOP_TIMEOUT] =
	NUM("NOPTimeout", CONF_RULE_NONE, 0, 0, CONF_TIME_MAX),
    [CONF_KEY_WTHREADS] = NUM("Wthreads", CONF_RULE_NONE, 8, 1, 128),
    [CONF_KEY_QUEUED_COMMANDS] =
	NUM("QueuedCommands", CONF_RULE_NONE, 32, 1, 1024),

    [CONF_KEY_PROTOCOL_LEVEL] =
	NUM("iSCSIProtocolLevel", CONF_RULE_MIN, 0, 0, CONF_PROTOCOL_LEVEL_MAX),
    /* RFC 7143 removed markers; answering No keeps RFC 3720 peers happy. */
    [CONF_KEY_IFMARKER] = BOOL("IFMarker", CONF_RULE_AND, 0),
    [CONF_KEY_OFMARKER] = BOOL("OFMarker", CONF_RULE_AND, 0),
    /* RFC 7143 13.23; 0 stands for RFC3720, the only value ietd takes. */
    [CONF_KEY_TASK_REPORTING] = {"TaskReporting", CONF_KIND_LIST,
	CONF_RULE_LIST, 0, 0, 0},
    [CONF_KEY_IFMARKINT] = TEXT("IFMarkInt", CONF_RULE_IRRELEVANT),
    [CONF_KEY_OFMARKINT] = TEXT("OFMarkInt", CONF_RULE_IRRELEVANT),
    /* Declared by the target only (RFC 7143 13.6, 13.8, 13.9). */
    [CONF_KEY_TARGET_ALIAS] = TEXT("TargetAlias", CONF_RULE_IRRELEVANT),
    [CONF_KEY_TARGET_ADDRESS] = TEXT("TargetAddress", CONF_RULE_IRRELEVANT),
    [CONF_KEY_TARGET_PORTAL_GROUP_TAG] =
	TEXT("TargetPortalGroupTag", CONF_RULE_IRRELEVANT),
    /* Text Request only (RFC 7143 13.3). */
    [CONF_KEY_SEND_TARGETS] = TEXT("SendTargets", CONF_RULE_IRRELEVANT),
    [CONF_KEY_INITIATOR_NAME] = TEXT("InitiatorName", CONF_RULE_LOGIN),
    [CONF_KEY_INITIATOR_ALIAS] = TEXT("InitiatorAlias", CONF_RULE_LOGIN),
    [CONF_KEY_TARGET_NAME] = TEXT("TargetName", CONF_RULE_LOGIN),
    [CONF_KEY_SESSION_TYPE] = TEXT("SessionType", CONF_RULE_LOGIN),
    [CONF_KEY_AUTH_METHOD] = TEXT("AuthMethod", CONF_RULE_LOGIN),
};

/* The written form of each enum conf_digest value. */
static const char *const conf_digest_names[] = {
    [CONF_DIGEST_NONE] = "None",
    [CONF_DIGEST_CRC32C] = "CRC32C",
    [CONF_DIGEST_NONE_CRC32C] = "None,CRC32C",
    [CONF_DIGEST_CRC32C_NONE] = "CRC32C,None",
};

enum conf_key
conf_key_find(const char *name)
{
	for (int k = 0; k < CONF_KEY_COUNT; k++)
		if (strcasecmp(conf_key_defs[k].name, name) == 0)
			return (enum conf_key)k;
	return CONF_KEY_COUNT;
}

/*
 * Compare one digest name of a list against want, ignoring case and the
 * blanks around it. Returns a pointer past the name (at ',' or the end)
 * or NULL when it is another word.
 */
static const char *
conf_key_digest_word(const char *s, const char *want)
{
	size_t n = strlen(want);

	while (*s == ' ' || *s == '\t')
		s++;
	if (strncasecmp(s, want, n) != 0)
		return NULL;
	s += n;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != ',' && *s != '\0')
		return NULL;
	return s;
}

static int
conf_key_parse_digest(const char *value, uint32_t *out)
{
	static const char *const words[] = {"None", "CRC32C"};
	int first = -1, second = -1;
	const char *p = value, *next;

	/* One or two words from {None, CRC32C}, different when two. */
	for (int i = 0; i < 2 && first < 0; i++)
		if ((next = conf_key_digest_word(p, words[i])) != NULL) {
			first = i;
			p = next;
		}
	if (first < 0)
		return -EINVAL;
	if (*p == ',') {
		p++;
		next = conf_key_digest_word(p, words[!first]);
		if (next == NULL || *next != '\0')
			return -EINVAL;
		second = !first;
	}
	if (second < 0)
		*out = first == 0 ? CONF_DIGEST_NONE : CONF_DIGEST_CRC32C;
	else
		*out = first == 0 ? CONF_DIGEST_NONE_CRC32C
				  : CONF_DIGEST_CRC32C_NONE;
	return 0;
}

int
conf_key_parse(enum conf_key k, const char *value, uint32_t *out, char *why,
    size_t whylen)
{
	const struct conf_key_def *d;
	uint64_t v;
	bool b;
	int rc;

	if ((unsigned int)k >= CONF_KEY_COUNT) {
		snprintf(why, whylen, "unknown key");
		return -EINVAL;
	}
	d = &conf_key_defs[k];
	switch (d->kind) {
	case CONF_KIND_NUMBER:
		rc = str_to_u64(value, d->min, d->max, false, &v);
		if (rc == 0) {
			*out = (uint32_t)v;
			return 0;
		}
		snprintf(why, whylen, "expected %u to %u", (unsigned int)d->min,
		    (unsigned int)d->max);
		return rc == -ERANGE ? -ERANGE : -EINVAL;
	case CONF_KIND_BOOL:
		if (str_to_bool(value, &b) == 0) {
			*out = b ? 1 : 0;
			return 0;
		}
		snprintf(why, whylen, "expected Yes or No");
		return -EINVAL;
	case CONF_KIND_DIGEST:
		if (conf_key_parse_digest(value, out) == 0)
			return 0;
		snprintf(why, whylen,
		    "expected None, CRC32C, None,CRC32C or CRC32C,None");
		return -EINVAL;
	case CONF_KIND_LIST:
	case CONF_KIND_TEXT:
		break; /* no ietd.conf key is of these kinds */
	}
	snprintf(why, whylen, "unknown key");
	return -EINVAL;
}

const char *
conf_key_format(enum conf_key k, uint32_t v, char *buf, size_t len)
{
	if ((unsigned int)k >= CONF_KEY_COUNT) {
		snprintf(buf, len, "?");
		return buf;
	}
	switch (conf_key_defs[k].kind) {
	case CONF_KIND_BOOL:
		snprintf(buf, len, "%s", v ? "Yes" : "No");
		break;
	case CONF_KIND_DIGEST:
		snprintf(buf, len, "%s",
		    v <= CONF_DIGEST_CRC32C_NONE ? conf_digest_names[v] : "?");
		break;
	case CONF_KIND_NUMBER:
	default:
		snprintf(buf, len, "%u", (unsigned int)v);
		break;
	}
	return buf;
}
