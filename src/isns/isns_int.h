/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Inside the iSNS client: the wire format of RFC 4171 (5.1 header, 5.5
 * TLV attributes), building messages, reassembling received ones, and
 * the access cache that isns_allow() reads.
 */
#ifndef IETD_ISNS_ISNS_INT_H
#define IETD_ISNS_ISNS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ISNS_PORT 3205
#define ISNS_HDR_LEN 12
#define ISNS_VERSION 0x0001

/* RFC 4171 5.1.4: header flags. */
#define ISNS_F_CLIENT 0x8000
#define ISNS_F_SERVER 0x4000
#define ISNS_F_AUTH 0x2000
#define ISNS_F_REPLACE 0x1000
#define ISNS_F_LAST_PDU 0x0800
#define ISNS_F_FIRST_PDU 0x0400

/* RFC 4171 5.1.3: function IDs; a response is the request's | 0x8000. */
#define ISNS_FN_DEV_ATTR_REG 0x0001
#define ISNS_FN_DEV_ATTR_QRY 0x0002
#define ISNS_FN_DEV_DEREG 0x0004
#define ISNS_FN_SCN_REG 0x0005
#define ISNS_FN_SCN 0x0008
#define ISNS_FN_ESI 0x000d
#define ISNS_FN_RSP 0x8000

/* RFC 4171 6.1: attribute tags used here. */
#define ISNS_TAG_DELIMITER 0
#define ISNS_TAG_EID 1
#define ISNS_TAG_ENTITY_PROTOCOL 2
#define ISNS_TAG_TIMESTAMP 4
#define ISNS_TAG_PORTAL_IP 16
#define ISNS_TAG_PORTAL_PORT 17
#define ISNS_TAG_ESI_INTERVAL 19
#define ISNS_TAG_ESI_PORT 20
#define ISNS_TAG_SCN_PORT 23
#define ISNS_TAG_ISCSI_NAME 32
#define ISNS_TAG_NODE_TYPE 33
#define ISNS_TAG_ALIAS 34
#define ISNS_TAG_SCN_BITMAP 35
#define ISNS_TAG_PG_ISCSI_NAME 48
#define ISNS_TAG_PG_PORTAL_IP 49
#define ISNS_TAG_PG_PORTAL_PORT 50
#define ISNS_TAG_PG_TAG 51

#define ISNS_ENTITY_PROTOCOL_ISCSI 2
/* RFC 4171 6.4.2: iSCSI Node Type bits (bit 31 = Target). */
#define ISNS_NODE_TARGET 0x1u
#define ISNS_NODE_INITIATOR 0x2u
/*
 * RFC 4171 6.4.4: iSCSI SCN Bitmap (bit 31 = DD/DDS member added ...
 * bit 27 = object removed).
 */
#define ISNS_SCN_DD_MEMBER_ADDED 0x01u
#define ISNS_SCN_DD_MEMBER_REMOVED 0x02u
#define ISNS_SCN_OBJECT_UPDATED 0x04u
#define ISNS_SCN_OBJECT_ADDED 0x08u
#define ISNS_SCN_OBJECT_REMOVED 0x10u

/* RFC 4171 3.4: an iSCSI name has at most 223 bytes (plus its NUL). */
#define ISNS_NAME_MAX 224
/* PDUs we send carry at most this much payload (open-isns reads 8 KiB). */
#define ISNS_PDU_PAYLOAD 8000
/* What a message from the server may grow to, over how many PDUs. */
#define ISNS_RX_MSG_MAX (256u * 1024u)
#define ISNS_RX_PDUS_MAX 64u
/* A message we build may not grow beyond this (thousands of targets). */
#define ISNS_TX_MSG_MAX (4u * 1024u * 1024u)

/* ---- msg.c: building and parsing ------------------------------------ */

struct isns_buf {
	uint8_t *p;
	size_t len, cap;
	bool overflow; /* out of memory or beyond ISNS_TX_MSG_MAX */
};

void isns_buf_free(struct isns_buf *b);
void isns_buf_add(struct isns_buf *b, const void *p, size_t len);
/* One TLV; the value is padded with zeros to a multiple of 4. */
void isns_buf_tlv(struct isns_buf *b, uint32_t tag, const void *v,
    uint32_t len);
void isns_buf_u32(struct isns_buf *b, uint32_t tag, uint32_t v);
/* A string attribute: its bytes and a NUL, padded (RFC 4171 5.5). */
void isns_buf_str(struct isns_buf *b, uint32_t tag, const char *s);
/*
 * Append payload as one message of function fn to out: split into PDUs
 * of at most ISNS_PDU_PAYLOAD bytes at TLV boundaries, with first/last
 * flags and sequence numbers (RFC 4171 5.1.5). A response's payload
 * starts with its 4-byte status, then TLVs.
 */
void isns_buf_message(struct isns_buf *out, uint16_t fn, uint16_t flags,
    uint16_t xid, const uint8_t *payload, size_t len);

struct isns_tlv {
	uint32_t tag, len;
	const uint8_t *val;
};

/*
 * Next TLV of p[0..len) at *off: 1 (and *off moves past it), 0 at the
 * end, -1 when malformed (*why says how: a length beyond the message, a
 * length not a multiple of 4, a truncated header).
 */
int isns_tlv_next(const uint8_t *p, size_t len, size_t *off, struct isns_tlv *t,
    const char **why);
/*
 * A string value: NUL-terminated inside its length, at most max bytes
 * before the NUL, printable ASCII only. NULL when not.
 */
const char *isns_tlv_str(const struct isns_tlv *t, size_t max);
/* A 4-byte value; false when the length is not 4. */
bool isns_tlv_u32(const struct isns_tlv *t, uint32_t *v);

/*
 * A DevAttrQry answer after its status (key attributes, delimiter, then
 * each node's name followed by its node type, as IET read it): the
 * initiators in it, other than self, into names[0..max) (pointing into
 * p); *cut when there were more. A name that is no valid string is
 * skipped with its node. 0, or -1 with *why when the attributes are
 * malformed (then nothing in them counts).
 */
int isns_parse_initiators(const uint8_t *p, size_t len, const char *self,
    const char **names, unsigned int max, unsigned int *n, bool *cut,
    const char **why);

/* Reassembly of the messages arriving on a connection. */
struct isns_rx {
	uint8_t hdr[ISNS_HDR_LEN];
	size_t hdr_got;
	size_t pdu_left; /* payload bytes of the current PDU to come */
	bool in_message; /* a first PDU came, the last not yet */
	bool pdu_last;   /* the current PDU ends the message */
	uint16_t fn, flags, xid, seq;
	unsigned int npdus;
	uint8_t *msg; /* the payload so far, all PDUs concatenated */
	size_t msg_len, msg_cap;
};

enum { ISNS_RX_MORE = 0, ISNS_RX_MESSAGE = 1, ISNS_RX_ERROR = -1 };

/*
 * Feed received bytes: consumes up to len of them (*used says how many)
 * and returns ISNS_RX_MESSAGE as soon as a whole message is there (in
 * rx->fn, rx->flags, rx->xid, rx->msg, rx->msg_len; call isns_rx_done()
 * after handling it, then feed the rest), ISNS_RX_MORE when all was
 * taken, or ISNS_RX_ERROR with *why (bad version, a PDU out of sequence,
 * a message beyond the limits): the connection cannot be trusted then.
 */
int isns_rx_feed(struct isns_rx *rx, const uint8_t *p, size_t len, size_t *used,
    const char **why);
void isns_rx_done(struct isns_rx *rx);
void isns_rx_free(struct isns_rx *rx);

/* ---- acl.c: the access cache ----------------------------------------- */

/* Access control on or off (any thread reads it). */
void isns_acl_set_enabled(bool on);
/*
 * Replace what the server said about target: the initiators named in
 * names[0..n) share a discovery domain with it. known = false forgets
 * the target (no answer known: the allow files alone decide).
 */
int isns_acl_set(const char *target, bool known, const char *const *names,
    unsigned int n);
/* Forget every target not named in keep[0..n). */
void isns_acl_prune(const char *const *keep, unsigned int n);
void isns_acl_clear(void);

#endif /* IETD_ISNS_ISNS_INT_H */
