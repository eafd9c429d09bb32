/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * iSNS messages on the wire (RFC 4171 5): building the ones we send and
 * reassembling and walking the ones the server sends. Every byte from
 * the server is checked before use: PDU lengths and sequence, the
 * message size, each TLV's length.
 */
#include <string.h>
#include <strings.h>

#include "util/alloc.h"
#include "util/be.h"
#include "isns_int.h"

void
isns_buf_free(struct isns_buf *b)
{
	mem_free(b->p);
	memset(b, 0, sizeof(*b));
}

void
isns_buf_add(struct isns_buf *b, const void *p, size_t len)
{
	if (b->overflow)
		return;
	if (len > ISNS_TX_MSG_MAX - b->len) {
		b->overflow = true;
		return;
	}
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 512;
		uint8_t *np;

		while (cap < b->len + len)
			cap *= 2;
		np = mem_realloc(b->p, cap);
		if (np == NULL) {
			b->overflow = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	if (len > 0)
		memcpy(b->p + b->len, p, len);
	b->len += len;
}

void
isns_buf_tlv(struct isns_buf *b, uint32_t tag, const void *v, uint32_t len)
{
	static const uint8_t zero[4];
	uint32_t padded = (len + 3u) & ~3u;
	uint8_t h[8];

	put_be32(h, tag);
	put_be32(h + 4, padded);
	isns_buf_add(b, h, sizeof(h));
	isns_buf_add(b, v, len);
	isns_buf_add(b, zero, padded - len);
}

void
isns_buf_u32(struct isns_buf *b, uint32_t tag, uint32_t v)
{
	uint8_t x[4];

	put_be32(x, v);
	isns_buf_tlv(b, tag, x, sizeof(x));
}

void
isns_buf_str(struct isns_buf *b, uint32_t tag, const char *s)
{
	isns_buf_tlv(b, tag, s, (uint32_t)strlen(s) + 1);
}

void
isns_buf_message(struct isns_buf *out, uint16_t fn, uint16_t flags,
    uint16_t xid, const uint8_t *payload, size_t len)
{
	/* A response's status word rides in the first PDU. */
	size_t off = 0, lead = (fn & ISNS_FN_RSP) && len >= 4 ? 4 : 0;
	uint16_t seq = 0;

	do {
		size_t n = seq == 0 ? lead : 0;
		uint8_t h[ISNS_HDR_LEN];
		uint16_t f = flags;

		/* Whole TLVs (ours: well formed) up to the PDU size. */
		while (off + n < len) {
			size_t tl = 8 + get_be32(payload + off + n + 4);

			if (n > (seq == 0 ? lead : 0) &&
			    n + tl > ISNS_PDU_PAYLOAD)
				break;
			n += tl;
		}
		if (seq == 0)
			f |= ISNS_F_FIRST_PDU;
		if (off + n >= len)
			f |= ISNS_F_LAST_PDU;
		put_be16(h, ISNS_VERSION);
		put_be16(h + 2, fn);
		put_be16(h + 4, (uint16_t)n);
		put_be16(h + 6, f);
		put_be16(h + 8, xid);
		put_be16(h + 10, seq++);
		isns_buf_add(out, h, sizeof(h));
		isns_buf_add(out, payload + off, n);
		off += n;
	} while (off < len);
}

int
isns_tlv_next(const uint8_t *p, size_t len, size_t *off, struct isns_tlv *t,
    const char **why)
{
	size_t left;

	if (*off >= len)
		return 0;
	left = len - *off;
	if (left < 8) {
		*why = "truncated attribute header";
		return -1;
	}
	t->tag = get_be32(p + *off);
	t->len = get_be32(p + *off + 4);
	if (t->len > left - 8) {
		*why = "attribute length beyond the message";
		return -1;
	}
	if (t->len % 4 != 0) {
		*why = "attribute length not a multiple of 4";
		return -1;
	}
	t->val = p + *off + 8;
	*off += 8 + t->len;
	return 1;
}

const char *
isns_tlv_str(const struct isns_tlv *t, size_t max)
{
	const uint8_t *nul;

	if (t->len == 0)
		return NULL;
	nul = memchr(t->val, '\0', t->len);
	if (nul == NULL || nul == t->val || (size_t)(nul - t->val) > max)
		return NULL;
	for (const uint8_t *c = t->val; c < nul; c++)
		if (*c < 0x21 || *c > 0x7e)
			return NULL;
	return (const char *)t->val;
}

bool
isns_tlv_u32(const struct isns_tlv *t, uint32_t *v)
{
	if (t->len != 4)
		return false;
	*v = get_be32(t->val);
	return true;
}

int
isns_parse_initiators(const uint8_t *p, size_t len, const char *self,
    const char **names, unsigned int max, unsigned int *n, bool *cut,
    const char **why)
{
	const char *name = NULL;
	struct isns_tlv t;
	size_t off = 0;
	int r;

	*n = 0;
	*cut = false;
	while ((r = isns_tlv_next(p, len, &off, &t, why)) == 1) {
		uint32_t type;

		if (t.tag == ISNS_TAG_ISCSI_NAME) {
			name = isns_tlv_str(&t, ISNS_NAME_MAX - 1);
			continue;
		}
		if (t.tag == ISNS_TAG_NODE_TYPE && name != NULL &&
		    isns_tlv_u32(&t, &type) &&
		    (type & ISNS_NODE_INITIATOR) != 0 &&
		    strcasecmp(name, self) != 0) {
			if (*n < max)
				names[(*n)++] = name;
			else
				*cut = true;
		}
		/* A name belongs to the node type right after it only. */
		name = NULL;
	}
	return r < 0 ? -1 : 0;
}

static bool
isns_rx_grow(struct isns_rx *rx, size_t need)
{
	size_t cap;
	uint8_t *np;

	if (need <= rx->msg_cap)
		return true;
	cap = rx->msg_cap ? rx->msg_cap : 1024;
	while (cap < need)
		cap *= 2;
	np = mem_realloc(rx->msg, cap);
	if (np == NULL)
		return false;
	rx->msg = np;
	rx->msg_cap = cap;
	return true;
}

/* A whole PDU header is in rx->hdr: check it against the message so far. */
static int
isns_rx_header(struct isns_rx *rx, const char **why)
{
	uint16_t fn = get_be16(rx->hdr + 2), len = get_be16(rx->hdr + 4);
	uint16_t flags = get_be16(rx->hdr + 6), xid = get_be16(rx->hdr + 8);
	uint16_t seq = get_be16(rx->hdr + 10);

	if (get_be16(rx->hdr) != ISNS_VERSION) {
		*why = "unsupported iSNSP version";
		return ISNS_RX_ERROR;
	}
	if (!rx->in_message) {
		/*
		 * RFC 4171 5.1.5: a message starts with sequence 0; a server
		 * may leave out the first-PDU flag on single-PDU messages,
		 * so the sequence number decides.
		 */
		if (seq != 0) {
			*why = "message does not start with PDU 0";
			return ISNS_RX_ERROR;
		}
		rx->in_message = true;
		rx->fn = fn;
		rx->xid = xid;
		rx->flags = flags;
		rx->npdus = 0;
		rx->msg_len = 0;
	} else if (fn != rx->fn || xid != rx->xid ||
	    seq != (uint16_t)(rx->seq + 1)) {
		*why = "PDU out of sequence in a multi-PDU message";
		return ISNS_RX_ERROR;
	}
	rx->seq = seq;
	if (++rx->npdus > ISNS_RX_PDUS_MAX) {
		*why = "message of too many PDUs";
		return ISNS_RX_ERROR;
	}
	if (rx->msg_len + len > ISNS_RX_MSG_MAX) {
		*why = "message too large";
		return ISNS_RX_ERROR;
	}
	if (!isns_rx_grow(rx, rx->msg_len + len)) {
		*why = "out of memory for a message";
		return ISNS_RX_ERROR;
	}
	rx->pdu_left = len;
	rx->pdu_last = (flags & ISNS_F_LAST_PDU) != 0;
	return ISNS_RX_MORE;
}

int
isns_rx_feed(struct isns_rx *rx, const uint8_t *p, size_t len, size_t *used,
    const char **why)
{
	size_t u = 0;

	for (;;) {
		if (rx->hdr_got < ISNS_HDR_LEN) {
			size_t n = ISNS_HDR_LEN - rx->hdr_got;

			if (n > len - u)
				n = len - u;
			memcpy(rx->hdr + rx->hdr_got, p + u, n);
			rx->hdr_got += n;
			u += n;
			if (rx->hdr_got < ISNS_HDR_LEN)
				break;
			if (isns_rx_header(rx, why) != ISNS_RX_MORE) {
				*used = u;
				return ISNS_RX_ERROR;
			}
		}
		if (rx->pdu_left > 0) {
			size_t n = rx->pdu_left;

			if (n > len - u)
				n = len - u;
			memcpy(rx->msg + rx->msg_len, p + u, n);
			rx->msg_len += n;
			rx->pdu_left -= n;
			u += n;
			if (rx->pdu_left > 0)
				break;
		}
		/* A whole PDU. */
		rx->hdr_got = 0;
		if (rx->pdu_last) {
			*used = u;
			return ISNS_RX_MESSAGE;
		}
		if (u == len)
			break;
	}
	*used = u;
	return ISNS_RX_MORE;
}

void
isns_rx_done(struct isns_rx *rx)
{
	rx->in_message = false;
	rx->msg_len = 0;
	rx->npdus = 0;
}

void
isns_rx_free(struct isns_rx *rx)
{
	mem_free(rx->msg);
	memset(rx, 0, sizeof(*rx));
}
