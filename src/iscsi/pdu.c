/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * PDU receive state machine (BHS, AHS, header digest, data segment and
 * padding, data digest) on a non-blocking socket, and the transmit queue
 * written with writev. Every length is checked against the negotiated or
 * protocol limit before anything is allocated (RFC 7143 11.2).
 */
#include <sys/uio.h>

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/be.h"
#include "util/crc32c.h"
#include "util/log.h"
#include "util/objcache.h"
#include "net/loop.h"
#include "iscsi_int.h"

/* Write at most this many PDUs with one writev. */
#define PDU_TX_BATCH 64
#define PDU_DISCARD_LEN 4096
/* Read-ahead buffer per connection: a few 4 KiB write PDUs, many headers. */
#define PDU_RX_STAGE_LEN (16u * 1024u)
#define PDU_HEXDUMP_MAX 512

/*
 * Data of rejected or dropped PDUs is read here and thrown away. One per
 * event thread: the data digest is computed over these bytes after they
 * are read, and another thread discarding at the same moment must not
 * overwrite them in between (a spurious data digest error).
 */
static __thread uint8_t pdu_discard[PDU_DISCARD_LEN];
/* Bytes queued over all connections, in steps (ISCSI_TX_TOTAL_STEP). */
static size_t pdu_tx_total_bytes;
/* Response PDUs per event thread kept for reuse (a task has one or two). */
static struct objcache iscsi_tx_cache =
    OBJCACHE_INIT(sizeof(struct iscsi_tx), 2048);

uint32_t
pdu_dsl(const uint8_t *bhs)
{
	return get_be24(bhs + BHS_DSL);
}

void
pdu_set_dsl(uint8_t *bhs, uint32_t dlen)
{
	bhs[BHS_TOTAL_AHS_LEN] = 0;
	put_be24(bhs + BHS_DSL, dlen);
}

uint32_t
pdu_pad(uint32_t len)
{
	return (ISCSI_PAD - (len % ISCSI_PAD)) % ISCSI_PAD;
}

int
pdu_check_lengths(const uint8_t *bhs, uint32_t max_dsl, uint32_t *ahs_len,
    uint32_t *dlen)
{
	/* TotalAHSLength counts 4-byte words (RFC 7143 11.2.1.4). */
	*ahs_len = (uint32_t)bhs[BHS_TOTAL_AHS_LEN] * 4;
	*dlen = pdu_dsl(bhs);
	/*
	 * RFC 7143 13.12: a PDU's data segment never exceeds the receiver's
	 * MaxRecvDataSegmentLength; a larger one is a protocol error.
	 */
	if (*dlen > max_dsl)
		return -EMSGSIZE;
	return 0;
}

static void
pdu_rx_reset(struct iscsi_rx *rx)
{
	mem_free(rx->owned);
	rx->owned = NULL;
	rx->data = NULL;
	if (rx->task != NULL) {
		task_put(rx->task);
		rx->task = NULL;
	}
	rx->state = RX_BHS;
	rx->want = ISCSI_BHS_LEN;
	rx->got = 0;
	rx->ahs_len = 0;
	rx->dlen = 0;
	rx->ddigest_bad = false;
}

/* Move to the state after the header (and its digest). */
static int
pdu_rx_header_done(struct iscsi_conn *conn)
{
	struct iscsi_rx *rx = &conn->rx;
	int rc;

	rc = pdu_header(conn);
	if (rc != 0)
		return rc;
	if (rx->dlen > 0) {
		rx->state = RX_DATA;
		rx->want = rx->dlen + pdu_pad(rx->dlen);
		rx->got = 0;
		rx->crc = CRC32C_INIT;
		return 0;
	}
	rc = pdu_dispatch(conn);
	pdu_rx_reset(rx);
	return rc;
}

static int
pdu_rx_data_done(struct iscsi_conn *conn)
{
	struct iscsi_rx *rx = &conn->rx;
	int rc;

	if (rx->data != NULL && rx->owned != NULL && rx->dlen > 0 &&
	    log_debug_level() >= 2)
		log_hexdump("Data", rx->data,
		    rx->dlen > PDU_HEXDUMP_MAX ? PDU_HEXDUMP_MAX : rx->dlen);
	rc = pdu_dispatch(conn);
	pdu_rx_reset(rx);
	return rc;
}

/*
 * One step of the state machine with the bytes just read:
 *   BHS -> [AHS] -> [header digest] -> header handler -> [data + pad]
 *       -> [data digest] -> payload handler -> BHS
 * The header handler (pdu_header) picks where the data goes before a
 * byte of it is read: a task's buffer, a buffer of exactly the checked
 * length, or the discard buffer.
 */
static int
pdu_rx_step(struct iscsi_conn *conn)
{
	struct iscsi_rx *rx = &conn->rx;
	uint32_t crc;
	int rc;

	switch (rx->state) {
	case RX_BHS:
		if (log_debug_level() >= 2)
			log_hexdump("BHS", rx->bhs, ISCSI_BHS_LEN);
		rc = pdu_check_lengths(rx->bhs, conn->max_recv_dsl,
		    &rx->ahs_len, &rx->dlen);
		if (rc != 0) {
			conn_log(conn, LOG_WARNING,
			    "data segment of %u bytes over the limit of %u",
			    rx->dlen, conn->max_recv_dsl);
			return rc;
		}
		rx->got = 0;
		if (rx->ahs_len > 0) {
			rx->state = RX_AHS;
			rx->want = rx->ahs_len;
			return 0;
		}
		if (conn->hdigest) {
			rx->state = RX_HDIG;
			rx->want = ISCSI_DIGEST_LEN;
			return 0;
		}
		return pdu_rx_header_done(conn);
	case RX_AHS:
		if (log_debug_level() >= 2)
			log_hexdump("AHS", rx->ahs, rx->ahs_len);
		if (conn->hdigest) {
			rx->state = RX_HDIG;
			rx->want = ISCSI_DIGEST_LEN;
			rx->got = 0;
			return 0;
		}
		return pdu_rx_header_done(conn);
	case RX_HDIG:
		crc = crc32c_update(CRC32C_INIT, rx->bhs, ISCSI_BHS_LEN);
		crc = crc32c_final(crc32c_update(crc, rx->ahs, rx->ahs_len));
		if (memcmp(&crc, rx->digest, ISCSI_DIGEST_LEN) != 0) {
			/*
			 * RFC 7143 7.8: a header digest error leaves no
			 * trustworthy length; at ErrorRecoveryLevel 0 the
			 * connection is dropped.
			 */
			conn_log(conn, LOG_WARNING, "header digest error");
			return -EPROTO;
		}
		return pdu_rx_header_done(conn);
	case RX_DATA:
		if (conn->ddigest) {
			rx->state = RX_DDIG;
			rx->want = ISCSI_DIGEST_LEN;
			rx->got = 0;
			return 0;
		}
		return pdu_rx_data_done(conn);
	case RX_DDIG:
		crc = crc32c_final(rx->crc);
		if (memcmp(&crc, rx->digest, ISCSI_DIGEST_LEN) != 0)
			rx->ddigest_bad = true;
		return pdu_rx_data_done(conn);
	}
	return -EPROTO;
}

/* Where the next bytes of the current state go, and how many fit. */
static uint8_t *
pdu_rx_dest(struct iscsi_rx *rx, uint32_t *room)
{
	uint32_t left = rx->want - rx->got;

	switch (rx->state) {
	case RX_BHS:
		*room = left;
		return rx->bhs + rx->got;
	case RX_AHS:
		*room = left;
		return rx->ahs + rx->got;
	case RX_HDIG:
	case RX_DDIG:
		*room = left;
		return rx->digest + rx->got;
	case RX_DATA:
		if (rx->got < rx->dlen && rx->data != NULL) {
			*room = rx->dlen - rx->got;
			return rx->data + rx->got;
		}
		if (rx->got < rx->dlen)
			left = rx->dlen - rx->got;
		*room = left < PDU_DISCARD_LEN ? left : PDU_DISCARD_LEN;
		return pdu_discard;
	}
	*room = 0;
	return NULL;
}

/*
 * Take the next bytes for dst: from the read-ahead buffer if it holds any,
 * else from the socket (straight into dst when the piece is large enough
 * that a copy would cost more than the saved read). Returns the count, 0
 * when the socket has nothing now, or -errno.
 */
static ssize_t
pdu_rx_fill(struct iscsi_conn *conn, uint8_t *dst, uint32_t room)
{
	struct iscsi_rx *rx = &conn->rx;
	ssize_t n;

	for (;;) {
		if (rx->stage_off < rx->stage_len) {
			uint32_t avail = rx->stage_len - rx->stage_off;
			uint32_t take = avail < room ? avail : room;

			memcpy(dst, rx->stage + rx->stage_off, take);
			rx->stage_off += take;
			return take;
		}
		if (rx->drained)
			return 0;
		if (rx->stage == NULL)
			rx->stage = mem_alloc(PDU_RX_STAGE_LEN);
		if (rx->stage == NULL || room >= PDU_RX_STAGE_LEN) {
			n = read(conn->fd, dst, room);
			rx->drained = n >= 0 && (uint32_t)n < room;
		} else {
			n = read(conn->fd, rx->stage, PDU_RX_STAGE_LEN);
			rx->drained = n >= 0 && n < PDU_RX_STAGE_LEN;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		conn->rx_ms = loop_now_ms();
		if (rx->stage == NULL || room >= PDU_RX_STAGE_LEN)
			return n;
		rx->stage_off = 0;
		rx->stage_len = (uint32_t)n;
	}
}

int
pdu_rx(struct iscsi_conn *conn)
{
	struct iscsi_rx *rx = &conn->rx;

	/* Called when epoll says the socket is readable: try it again. */
	rx->drained = false;

	/*
	 * Back-pressure stops the loop between two steps: the state machine
	 * resumes where it stopped, the read-ahead buffer keeps its bytes.
	 */
	while (conn->state != CONN_S_CLOSED && !conn->close_queued &&
	    !conn->rx_paused) {
		uint32_t room;
		uint8_t *dst = pdu_rx_dest(rx, &room);
		ssize_t n;
		int rc;

		if (room == 0) {
			rc = pdu_rx_step(conn);
			if (rc != 0)
				return rc;
			continue;
		}
		n = pdu_rx_fill(conn, dst, room);
		if (n <= 0)
			return (int)n;
		if (rx->state == RX_DATA && conn->ddigest)
			rx->crc = crc32c_update(rx->crc, dst, (size_t)n);
		rx->got += (uint32_t)n;
		if (rx->got == rx->want) {
			rc = pdu_rx_step(conn);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

size_t
pdu_tx_total(void)
{
	return __atomic_load_n(&pdu_tx_total_bytes, __ATOMIC_RELAXED);
}

/* Bring the connection's part of pdu_tx_total_bytes up to date. */
static void
pdu_tx_account(struct iscsi_conn *conn)
{
	size_t q = conn->tx_queued, c = conn->tx_counted;

	if (q >= c + ISCSI_TX_TOTAL_STEP)
		__atomic_add_fetch(&pdu_tx_total_bytes, q - c,
		    __ATOMIC_RELAXED);
	else if (c >= q + ISCSI_TX_TOTAL_STEP || (q == 0 && c > 0))
		__atomic_sub_fetch(&pdu_tx_total_bytes, c - q,
		    __ATOMIC_RELAXED);
	else
		return;
	conn->tx_counted = q;
}

static void
pdu_tx_free(struct iscsi_conn *conn, struct iscsi_tx *tx)
{
	conn->tx_queued -= tx->charge;
	mem_free(tx->owned);
	if (tx->task != NULL)
		task_put(tx->task);
	objcache_free(&iscsi_tx_cache, tx);
}

int
pdu_tx(struct iscsi_conn *conn, const uint8_t *bhs, const void *data,
    uint32_t len, void *owned, struct iscsi_task *task)
{
	struct iscsi_tx *tx;
	uint32_t pad = pdu_pad(len);
	size_t hlen = ISCSI_BHS_LEN, tlen = pad;

	if (conn->state == CONN_S_CLOSED) {
		mem_free(owned);
		return -ECONNRESET;
	}
	tx = objcache_alloc(&iscsi_tx_cache);
	if (tx == NULL) {
		mem_free(owned);
		conn_log(conn, LOG_WARNING,
		    "out of memory sending a PDU: closing the connection");
		/*
		 * Not conn_close() here: the caller may be walking the
		 * session (held commands, a task list). Stop reading and
		 * let the flush at the end of the round close it.
		 */
		conn->close_queued = true;
		conn_tx_schedule(conn);
		return -ENOMEM;
	}
	memcpy(tx->hdr, bhs, ISCSI_BHS_LEN);
	pdu_set_dsl(tx->hdr, len);
	if (log_debug_level() >= 2)
		log_hexdump("BHS", tx->hdr, ISCSI_BHS_LEN);
	if (conn->hdigest) {
		uint32_t crc = crc32c_final(
		    crc32c_update(CRC32C_INIT, tx->hdr, ISCSI_BHS_LEN));

		memcpy(tx->hdr + ISCSI_BHS_LEN, &crc, ISCSI_DIGEST_LEN);
		hlen += ISCSI_DIGEST_LEN;
	}
	if (len > 0 && conn->ddigest) {
		uint32_t crc = crc32c_update(CRC32C_INIT, data, len);

		crc = crc32c_final(crc32c_update(crc, tx->tail, pad));
		memcpy(tx->tail + pad, &crc, ISCSI_DIGEST_LEN);
		tlen += ISCSI_DIGEST_LEN;
	}
	tx->iov[0].iov_base = tx->hdr;
	tx->iov[0].iov_len = hlen;
	tx->iovcnt = 1;
	if (len > 0) {
		tx->iov[1].iov_base = (void *)(uintptr_t)data;
		tx->iov[1].iov_len = len;
		tx->iovcnt = 2;
		if (tlen > 0) {
			tx->iov[2].iov_base = tx->tail;
			tx->iov[2].iov_len = tlen;
			tx->iovcnt = 3;
		}
	}
	tx->len = hlen + len + (len > 0 ? tlen : 0);
	tx->owned = owned;
	if (task != NULL) {
		task_get(task);
		tx->task = task;
	}
	/*
	 * What this entry keeps in memory: itself, and the payload when it
	 * is a copy. Data-In from a task's buffer is the task's, already
	 * counted by the data budget (task_data_reserve).
	 */
	tx->charge = sizeof(*tx) + (owned != NULL || task == NULL ? len : 0);
	conn->tx_queued += tx->charge;
	pdu_tx_account(conn);
	if (list_empty(&conn->txq))
		conn->tx_ms = loop_now_ms();
	list_add_tail(&conn->txq, &tx->node);
	if (!conn->rx_paused &&
	    (conn->tx_queued > ISCSI_TX_CONN_MAX ||
		(conn->tx_queued > ISCSI_TX_CONN_SHARE &&
		    pdu_tx_total() > ISCSI_TX_TOTAL_MAX)))
		conn_rx_pause(conn);
	conn_tx_schedule(conn);
	return 0;
}

/*
 * Write queued PDUs with as few writev calls as possible; a partial write
 * leaves tx->sent where the next call resumes (OpenBSD's resid).
 */
int
pdu_tx_flush(struct iscsi_conn *conn)
{
	while (!list_empty(&conn->txq)) {
		struct iovec iov[PDU_TX_BATCH * 3];
		struct list_node *pos;
		int cnt = 0, npdu = 0;
		ssize_t n;

		list_for_each(pos, &conn->txq) {
			struct iscsi_tx *tx =
			    list_entry(pos, struct iscsi_tx, node);
			size_t skip = tx->sent;

			if (npdu++ == PDU_TX_BATCH)
				break;
			for (int i = 0; i < tx->iovcnt; i++) {
				if (skip >= tx->iov[i].iov_len) {
					skip -= tx->iov[i].iov_len;
					continue;
				}
				iov[cnt].iov_base =
				    (uint8_t *)tx->iov[i].iov_base + skip;
				iov[cnt].iov_len = tx->iov[i].iov_len - skip;
				skip = 0;
				cnt++;
			}
		}
		n = writev(conn->fd, iov, cnt);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				conn_want_write(conn, true);
				return 0;
			}
			return -errno;
		}
		if (n > 0)
			conn->tx_ms = loop_now_ms();
		while (n > 0 && !list_empty(&conn->txq)) {
			struct iscsi_tx *tx =
			    list_first_entry(&conn->txq, struct iscsi_tx, node);
			size_t left = tx->len - tx->sent;

			if ((size_t)n < left) {
				tx->sent += (size_t)n;
				break;
			}
			n -= (ssize_t)left;
			list_remove(&tx->node);
			pdu_tx_free(conn, tx);
		}
		pdu_tx_account(conn);
		if (conn->rx_paused && conn->tx_queued <= ISCSI_TX_CONN_LOW)
			conn_rx_resume(conn);
	}
	conn_want_write(conn, false);
	return 0;
}

void
pdu_tx_drop(struct iscsi_conn *conn)
{
	while (!list_empty(&conn->txq)) {
		struct iscsi_tx *tx =
		    list_first_entry(&conn->txq, struct iscsi_tx, node);

		list_remove(&tx->node);
		pdu_tx_free(conn, tx);
	}
	pdu_tx_account(conn);
}

void
pdu_fill_sn(struct iscsi_conn *conn, uint8_t *bhs, bool advance)
{
	struct iscsi_session *s = conn->session;

	put_be32(bhs + BHS_STATSN, conn->statsn);
	if (advance)
		conn->statsn++;
	if (s != NULL) {
		session_update_window(s);
		put_be32(bhs + BHS_EXP_CMDSN, s->exp_cmdsn);
		put_be32(bhs + BHS_MAX_CMDSN, s->max_cmdsn);
	}
}

int
pdu_reject(struct iscsi_conn *conn, const uint8_t *bhs, uint8_t reason)
{
	uint8_t rsp[ISCSI_BHS_LEN] = {0};
	uint8_t *copy;

	conn_log(conn, LOG_INFO, "rejecting PDU opcode 0x%02x, reason 0x%02x",
	    bhs[BHS_OPCODE] & ISCSI_OPCODE_MASK, reason);
	copy = mem_alloc(ISCSI_BHS_LEN);
	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, bhs, ISCSI_BHS_LEN);
	rsp[BHS_OPCODE] = ISCSI_OP_REJECT;
	rsp[BHS_FLAGS] = ISCSI_FLAG_FINAL;
	rsp[REJECT_REASON] = reason;
	put_be32(rsp + BHS_ITT, ISCSI_RSVD_TAG);
	pdu_fill_sn(conn, rsp, true);
	return pdu_tx(conn, rsp, copy, ISCSI_BHS_LEN, copy, NULL);
}

/* Data for PDUs whose payload the handler reads from a conn buffer. */
static int
pdu_rx_own_buffer(struct iscsi_conn *conn)
{
	struct iscsi_rx *rx = &conn->rx;

	if (rx->dlen == 0)
		return 0;
	rx->owned = mem_alloc(rx->dlen);
	if (rx->owned == NULL) {
		conn_log(conn, LOG_WARNING, "out of memory receiving a PDU");
		return -ENOMEM;
	}
	rx->data = rx->owned;
	return 0;
}

int
pdu_header(struct iscsi_conn *conn)
{
	struct iscsi_rx *rx = &conn->rx;
	uint8_t op = rx->bhs[BHS_OPCODE] & ISCSI_OPCODE_MASK;

	if (conn->state == CONN_S_LOGIN) {
		/* RFC 7143 6.3: only Login Requests until login ends. */
		if (op != ISCSI_OP_LOGIN_REQ) {
			conn_log(conn, LOG_WARNING,
			    "opcode 0x%02x during login", op);
			return -EPROTO;
		}
		return pdu_rx_own_buffer(conn);
	}
	if (conn->session != NULL && !conn->session->discovery) {
		if (op == ISCSI_OP_SCSI_CMD)
			return ffp_hdr_scsi_cmd(conn);
		if (op == ISCSI_OP_DATA_OUT)
			return ffp_hdr_data_out(conn);
	}
	switch (op) {
	case ISCSI_OP_NOP_OUT:
	case ISCSI_OP_TEXT_REQ:
	case ISCSI_OP_LOGOUT_REQ:
	case ISCSI_OP_TMF_REQ:
		return pdu_rx_own_buffer(conn);
	default:
		/* Data of anything we reject is read and dropped. */
		return 0;
	}
}

/*
 * A whole PDU arrived: during login only Login Requests (RFC 7143 6.3),
 * then the full feature phase opcodes; a discovery session may only use
 * Text, NOP and Logout (RFC 7143 6.3, appendix C).
 */
int
pdu_dispatch(struct iscsi_conn *conn)
{
	struct iscsi_rx *rx = &conn->rx;
	const uint8_t *bhs = rx->bhs;
	uint8_t op = bhs[BHS_OPCODE] & ISCSI_OPCODE_MASK;
	bool normal;

	if (conn->state == CONN_S_LOGIN) {
		if (rx->ddigest_bad)
			return -EPROTO;
		return login_rx(conn, bhs, rx->data, rx->dlen);
	}
	if (conn->state != CONN_S_FFP)
		return 0;
	nop_activity(conn);
	if (rx->ddigest_bad) {
		/*
		 * RFC 7143 7.8: a data digest error discards the PDU and is
		 * answered with a Reject; the initiator recovers the command.
		 */
		conn_log(conn, LOG_WARNING, "data digest error");
		/* A command with bad immediate data is dropped whole. */
		if (op == ISCSI_OP_SCSI_CMD && rx->task != NULL)
			task_finish(rx->task);
		return pdu_reject(conn, bhs, REJECT_DATA_DIGEST);
	}
	normal = conn->session != NULL && !conn->session->discovery;
	switch (op) {
	case ISCSI_OP_NOP_OUT:
		return nop_out(conn, rx->data, rx->dlen);
	case ISCSI_OP_SCSI_CMD:
		if (!normal)
			return pdu_reject(conn, bhs, REJECT_PROTOCOL_ERROR);
		return ffp_data_scsi_cmd(conn);
	case ISCSI_OP_DATA_OUT:
		if (!normal)
			return pdu_reject(conn, bhs, REJECT_PROTOCOL_ERROR);
		return ffp_data_data_out(conn);
	case ISCSI_OP_TMF_REQ:
		if (!normal)
			return pdu_reject(conn, bhs, REJECT_PROTOCOL_ERROR);
		return tmf_request(conn);
	case ISCSI_OP_TEXT_REQ:
		return textreq_rx(conn, rx->data, rx->dlen);
	case ISCSI_OP_LOGOUT_REQ:
		return ffp_logout(conn);
	case ISCSI_OP_LOGIN_REQ:
		return pdu_reject(conn, bhs, REJECT_PROTOCOL_ERROR);
	default:
		/* SNACK needs ErrorRecoveryLevel > 0 (RFC 7143 11.16). */
		return pdu_reject(conn, bhs, REJECT_CMD_NOT_SUPPORTED);
	}
}
