/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Internals of the iSCSI engine shared by its files: connections (one per
 * TCP socket, living on one loop), sessions, tasks, the PDU receive state
 * machine and the transmit queue. Nothing here is visible outside
 * src/iscsi/.
 */
#ifndef IETD_ISCSI_ISCSI_INT_H
#define IETD_ISCSI_ISCSI_INT_H

#include <sys/socket.h>
#include <sys/uio.h>

#include <stdbool.h>
#include <stdint.h>

#include "util/budget.h"
#include "util/list.h"
#include "util/metrics.h"
#include "util/log.h"
#include "util/str.h"
#include "net/loop.h"
#include "scsi/scsi.h"
#include "iscsi_proto.h"
#include "param.h"

struct target;
struct chap_ctx;

/* Largest data buffer one command may have (reads or writes). */
#define ISCSI_TASK_DATA_MAX (16u * 1024 * 1024)
/* Largest login or text request the initiator may build with C bits. */
#define ISCSI_TEXT_IN_MAX (64u * 1024)
/*
 * Most Login PDUs one login may take, and most pieces (C bit) one Text
 * Request may come in. A real login takes a handful; without a count, a
 * peer sending empty continued pieces or rounds that never transit would
 * be answered for ever (the size bound above sees no bytes grow).
 */
#define ISCSI_LOGIN_PDUS_MAX 128u
#define ISCSI_TEXT_PDUS_MAX 128u
/* Largest text answer (SendTargets of many targets) we assemble. */
#define ISCSI_TEXT_OUT_MAX (256u * 1024)
/* Commands beyond QueuedCommands (immediate ones) before TASK SET FULL. */
#define ISCSI_IMMEDIATE_SLACK 16
/*
 * A session's share of in-flight data: this much per QueuedCommands slot,
 * but never less than one largest command.
 */
/*
 * A peer must finish its login this fast, and a PDU once started must not
 * pause longer than this between bytes; otherwise the connection goes
 * (a peer cannot pin a connection slot by never finishing).
 */
#define ISCSI_LOGIN_TIMEOUT_MS 15000u
#define ISCSI_PDU_STALL_MS 30000u
/*
 * A command waiting this long for its Data-Out (an R2T unanswered, the
 * unsolicited data not coming) or for a CmdSN before it that never comes
 * ends its connection: otherwise a peer could pin its share of the data
 * budget, and the window, for ever (ffp_conn_stalled).
 */
#define ISCSI_DATA_OUT_TIMEOUT_MS 30000u
/*
 * Transmit back-pressure. What a connection has queued and the kernel has
 * not taken yet is counted (the queue entry with its header and digests,
 * and every payload the queue holds a copy of: NOP-In echoes, text and
 * login answers, sense data, Rejects; Data-In sent from a task's buffer
 * is already held by the data budget). Over ISCSI_TX_CONN_MAX, or over
 * ISCSI_TX_CONN_SHARE while all connections together hold more than
 * ISCSI_TX_TOTAL_MAX, the connection is not read any more until its
 * queue is down to ISCSI_TX_CONN_LOW: a peer that sends and never reads
 * cannot grow our memory, and ISCSI_PDU_STALL_MS still drops it. Normal
 * I/O queues a few hundred bytes per command and never comes near.
 */
#define ISCSI_TX_CONN_MAX (1024u * 1024u)
#define ISCSI_TX_CONN_SHARE (128u * 1024u)
#define ISCSI_TX_CONN_LOW (64u * 1024u)
#define ISCSI_TX_TOTAL_MAX (64u * 1024u * 1024u)
/*
 * A connection adds its part to the total in steps this large: ordinary
 * I/O, a few hundred bytes queued at a time, never writes the word all
 * event threads share.
 */
#define ISCSI_TX_TOTAL_STEP (32u * 1024u)
#define ISCSI_SWEEP_MS 1000u
#define ISCSI_SESSION_DATA_PER_CMD (1024u * 1024u)
/* New sessions are refused while less than this is left under the cap. */
#define ISCSI_LOGIN_DATA_RESERVE ISCSI_TASK_DATA_MAX
/* R2Ts we keep in flight per command (caps MaxOutstandingR2T). */
#define ISCSI_R2T_MAX 16
/* Grace for an initiator to log out after an Async logout request (s). */
#define ISCSI_LOGOUT_WAIT_S 3
#define ISCSI_NAME_MAX 224
/* InitiatorAlias, TargetAlias: at most 255 bytes (RFC 7143 13.6, 13.7). */
#define ISCSI_ALIAS_MAX 255

/* Per-loop state set up by iscsi_loop_init(). */
struct iscsi_loop {
	struct loop *loop;
	struct scsi_queue *queue; /* SCSI completions of this thread */
	struct loop_watch *queue_watch;
	/* Connections with PDUs queued this round: one writev each. */
	struct list_node tx_pending;
	struct list_node conns;   /* every open connection of the loop */
	struct loop_timer *sweep; /* login and stalled-PDU deadlines */
};

enum conn_state {
	CONN_S_LOGIN,  /* RFC 7143 S4: in login */
	CONN_S_FFP,    /* S5: logged in */
	CONN_S_LOGOUT, /* logout response queued; close when sent */
	CONN_S_CLOSED, /* closed; waiting for the last reference */
};

enum rx_state { RX_BHS, RX_AHS, RX_HDIG, RX_DATA, RX_DDIG };

/* The receive side: one PDU at a time, never trusting a length. */
struct iscsi_rx {
	enum rx_state state;
	uint8_t bhs[ISCSI_BHS_LEN];
	uint8_t ahs[ISCSI_AHS_MAX];
	uint32_t ahs_len;
	uint8_t digest[ISCSI_DIGEST_LEN];
	uint32_t dlen;  /* DataSegmentLength */
	uint32_t want;  /* bytes wanted in this state */
	uint32_t got;   /* bytes received in this state */
	uint8_t *data;  /* where the data segment goes, NULL: drop */
	uint8_t *owned; /* conn-owned data buffer (login, text...) */
	uint32_t crc;   /* running data digest */
	bool ddigest_bad;
	struct iscsi_task *task; /* data goes into task's buffer */
	int r2t_idx;             /* Data-Out: its R2T, -1 unsolicited */
	/*
	 * Bytes read from the socket ahead of the state machine: small
	 * PDUs arrive many to a read(). Large data segments bypass it and
	 * are read straight into their buffer.
	 */
	uint8_t *stage;
	uint32_t stage_off, stage_len;
	/*
	 * A read this round came back short: the socket was empty then.
	 * epoll is level-triggered, so rather than read again for an
	 * EAGAIN, wait for it to say more has come.
	 */
	bool drained;
};

/* One PDU queued for writev: header (+digest), data, padding (+digest). */
struct iscsi_tx {
	struct list_node node;
	uint8_t hdr[ISCSI_BHS_LEN + ISCSI_DIGEST_LEN];
	uint8_t tail[ISCSI_PAD - 1 + ISCSI_DIGEST_LEN];
	struct iovec iov[3];
	int iovcnt;
	size_t len; /* total bytes */
	size_t sent;
	size_t charge;           /* counted against the queue limits */
	void *owned;             /* freed once sent */
	struct iscsi_task *task; /* reference held until sent */
};

struct iscsi_login;

struct iscsi_conn {
	struct iscsi_loop *il;
	struct loop *loop;
	int fd;
	struct loop_watch *watch;
	unsigned int events;
	int refs; /* atomic */
	enum conn_state state;
	bool close_queued;
	struct sockaddr_storage peer, local;
	char peer_str[64];
	struct log_ratelimit log_rl;    /* for conn_log */
	char initiator[ISCSI_NAME_MAX]; /* valid name, for the log prefix */
	struct iscsi_rx rx;
	struct list_node txq;     /* struct iscsi_tx */
	struct list_node tx_node; /* il->tx_pending, holds a reference */
	bool tx_scheduled;        /* on il->tx_pending */
	/* The socket is full: wait for EPOLLOUT. */
	bool tx_want;
	/* Back-pressure (ISCSI_TX_*): the sum of the queue's tx->charge. */
	size_t tx_queued;
	size_t tx_counted; /* what pdu_tx_total() has of it */
	/* Over the mark: the socket is not read until the queue drains. */
	bool rx_paused, rx_pause_logged;
	struct list_node loop_node; /* il->conns while open */
	uint64_t born_ms, rx_ms;    /* accepted; last byte received */
	uint64_t tx_ms;             /* last byte sent, or queue began */
	struct iscsi_login *login;  /* during login only */
	struct iscsi_session *session;
	/*
	 * The session conn_close() ended: its memory (and the SCSI nexus in
	 * it) lives until the connection is freed, because the tasks the
	 * SCSI layer still holds point at that nexus, and other sessions'
	 * resets and PREEMPT AND ABORT read it (scsi_task.nexus).
	 */
	struct iscsi_session *session_ended;
	uint16_t cid;
	uint32_t statsn;
	bool hdigest, ddigest;
	uint32_t max_recv_dsl;  /* what we accept */
	uint32_t max_xmit_dsl;  /* what we may send */
	struct list_node tasks; /* struct iscsi_task */
	unsigned int ntasks;
	uint64_t data_bytes;       /* task data held, against the session cap */
	struct list_node all_node; /* iscsi_conns */
	uint32_t ttt_next;
	/* Target-initiated NOP-In (nop.c). */
	struct loop_timer *nop_timer;
	bool nop_waiting;
	uint32_t nop_ttt;
	uint32_t nop_interval_ms, nop_timeout_ms;
	/* A long text answer sent over several Text Responses. */
	char *text_out;
	size_t text_out_len, text_out_off;
	uint32_t text_ttt;
	char *text_in;
	size_t text_in_len;
	unsigned int text_in_pdus; /* pieces of text_in so far */
	/* Shutdown / async logout. */
	struct loop_timer *logout_timer;
	bool logout_requested;
};

struct iscsi_session {
	struct list_node node;   /* iscsi_sessions */
	struct iscsi_conn *conn; /* the one connection */
	struct target *target;   /* reference; NULL for discovery */
	bool discovery;
	uint8_t isid[ISCSI_ISID_LEN];
	uint16_t tpgt; /* its portal group: part of the session's identity */
	uint16_t tsih;
	uint64_t sid;
	char initiator[ISCSI_NAME_MAX];  /* valid iSCSI name, lower case */
	char alias[ISCSI_ALIAS_MAX + 1]; /* InitiatorAlias as sent: escape */
	struct param_set params;
	uint32_t exp_cmdsn, max_cmdsn;
	unsigned int queued;      /* QueuedCommands */
	unsigned int active;      /* tasks counted in the window */
	struct list_node pending; /* held CmdSNs, ascending */
	struct scsi_nexus nexus;
	bool nexus_registered;
	bool target_counted;
	bool in_table;
	struct metrics_io io; /* stats.c; written by its thread only */
};

enum task_state {
	TASK_S_HELD, /* waiting for its CmdSN turn */
	TASK_S_DATA, /* collecting Data-Out */
	TASK_S_EXEC, /* in the SCSI layer */
	TASK_S_DONE, /* response queued */
};

struct iscsi_r2t {
	uint32_t ttt, offset, len, got, datasn;
	bool used;
};

struct iscsi_tmf;

struct iscsi_task {
	struct scsi_task st;
	struct iscsi_conn *conn;
	struct list_node node; /* conn->tasks */
	int refs;
	enum task_state state;
	uint32_t itt, cmdsn, edtl;
	uint8_t lun_raw[8];
	bool immediate, read, write, counted, aborted, in_scsi;
	uint32_t data_got;   /* write bytes received */
	uint32_t unsol_end;  /* immediate + unsolicited end offset */
	uint32_t unsol_next; /* next unsolicited offset expected */
	uint32_t unsol_datasn;
	uint32_t r2t_next; /* next offset to solicit */
	uint32_t r2tsn;
	struct iscsi_r2t r2t[ISCSI_R2T_MAX];
	unsigned int r2t_count;
	uint32_t datasn;        /* Data-In PDUs sent */
	struct iscsi_tmf *tmf;  /* a TMF waits for this task */
	bool oversize;          /* fail with CHECK CONDITION */
	uint32_t data_reserved; /* bytes taken from the data budgets */
	uint64_t wait_ms;       /* held, or last progress of its Data-Out */
	uint64_t start_ns;      /* arrival, CLOCK_MONOTONIC (stats.c) */
};

/* An entry of a session's held-CmdSN list. */
struct iscsi_held {
	struct list_node node;
	uint32_t cmdsn;
	struct iscsi_task *task; /* NULL: a non-SCSI PDU already done */
};

/* Serial number arithmetic (RFC 1982 via RFC 7143 4.2.2.1). */
static inline bool
sn_lt(uint32_t a, uint32_t b)
{
	return a != b && (int32_t)(a - b) < 0;
}

static inline bool
sn_le(uint32_t a, uint32_t b)
{
	return a == b || sn_lt(a, b);
}

/* conn.c */
/*
 * Log about conn with its "addr [initiator] tid:sid:cid" prefix. Lines
 * below LOG_DEBUG are rate limited per connection: a peer cannot flood
 * the log (the first line after a pause says how many were dropped).
 */
void conn_log(struct iscsi_conn *conn, int prio, const char *fmt, ...)
    LOG_PRINTF(3, 4);
#define conn_dbg(conn, lvl, ...)                                \
	do {                                                    \
		if ((lvl) <= log_debug_level())                 \
			conn_log(conn, LOG_DEBUG, __VA_ARGS__); \
	} while (0)
void conn_get(struct iscsi_conn *conn);
void conn_put(struct iscsi_conn *conn);
/*
 * Close now: the session and the tasks go at once, so only from the top
 * of a loop callback (an event, a timer, a posted call), never from a
 * path whose callers go on using them; pending output is dropped.
 */
void conn_close(struct iscsi_conn *conn);
/*
 * Close once everything queued has been written, from the loop at the
 * end of this round: safe anywhere on conn's thread, reading stops now.
 */
void conn_close_after_tx(struct iscsi_conn *conn);
/* Called by conn_close paths: tasks are dropped, session goes. */
struct iscsi_conn *conn_new(struct iscsi_loop *il, int fd);
void conn_want_write(struct iscsi_conn *conn, bool on);
/*
 * Transmit back-pressure (ISCSI_TX_*): stop reading the socket, and
 * read again once the queue has drained (a receive round is posted to
 * run after the current dispatch). On the connection's thread.
 */
void conn_rx_pause(struct iscsi_conn *conn);
void conn_rx_resume(struct iscsi_conn *conn);
/*
 * PDUs were queued: write them when the loop is about to sleep, together
 * with everything else this round produced (one writev per connection
 * per wake-up, no epoll_ctl unless the socket is full).
 */
void conn_tx_schedule(struct iscsi_conn *conn);

/* task.c: the global in-flight data budget (see iscsi_set_data_limit). */
extern struct budget iscsi_data_budget;
bool iscsi_data_budget_low(void);
bool iscsi_is_shutting_down(void);
void conn_registry_lock(void);
void conn_registry_unlock(void);
extern struct list_node iscsi_conns;

/* pdu.c */
/* Process readable input: returns 0, or -errno when the conn must close. */
int pdu_rx(struct iscsi_conn *conn);
/* Check a BHS's lengths against limits; 0 or -EPROTO / -EMSGSIZE. */
int pdu_check_lengths(const uint8_t *bhs, uint32_t max_dsl, uint32_t *ahs_len,
    uint32_t *dlen);
uint32_t pdu_dsl(const uint8_t *bhs);
void pdu_set_dsl(uint8_t *bhs, uint32_t dlen);
uint32_t pdu_pad(uint32_t len);
/*
 * Queue a PDU: bhs (48 bytes, copied), data (len bytes; owned is freed
 * after sending, task is referenced until sent). Digests are added as
 * negotiated. Returns 0 or -ENOMEM (the connection is then closed).
 */
int pdu_tx(struct iscsi_conn *conn, const uint8_t *bhs, const void *data,
    uint32_t len, void *owned, struct iscsi_task *task);
/* Write what can be written; 0, or -errno when the conn must close. */
int pdu_tx_flush(struct iscsi_conn *conn);
void pdu_tx_drop(struct iscsi_conn *conn);
/*
 * Bytes queued for sending over all connections (ISCSI_TX_TOTAL_MAX),
 * to within ISCSI_TX_TOTAL_STEP per connection. Any thread.
 */
size_t pdu_tx_total(void);
/* Dispatch a complete PDU by phase and opcode. -EPROTO closes. */
int pdu_dispatch(struct iscsi_conn *conn);
/* Decide where a PDU's data goes once its header is known. */
int pdu_header(struct iscsi_conn *conn);
void pdu_fill_sn(struct iscsi_conn *conn, uint8_t *bhs, bool advance);
/* Send a Reject carrying the offending header. */
int pdu_reject(struct iscsi_conn *conn, const uint8_t *bhs, uint8_t reason);

/* login.c */
int login_start(struct iscsi_conn *conn);
void login_free(struct iscsi_conn *conn);
int login_rx(struct iscsi_conn *conn, const uint8_t *bhs, const uint8_t *data,
    uint32_t dlen);

/* session.c */
void session_table_lock(void);
void session_table_unlock(void);
struct iscsi_session *session_new(void);
/*
 * Take the session out of the table, drop its held commands, unregister
 * its nexus and leave its target: nobody finds it any more. Its memory
 * stays (mem_free it later). On the session's loop.
 */
void session_end(struct iscsi_session *s);
/* session_end() and free: for a session no task ever pointed at. */
void session_free(struct iscsi_session *s);
/*
 * A Normal session with this initiator name and ISID to target t through
 * portal group tpgt, under the lock.
 */
struct iscsi_session *session_find_isid(const char *initiator,
    const uint8_t *isid, const struct target *t, uint16_t tpgt);
/*
 * discovery.c: the portal group of the listener a connection came in on
 * (its local address); 1 when it matches none.
 */
uint16_t iscsi_portal_tag(const struct sockaddr_storage *local);
struct iscsi_session *session_find_tsih(uint16_t tsih);
int session_insert(struct iscsi_session *s, uint16_t tsih);
void session_update_window(struct iscsi_session *s);
/*
 * CmdSN check for a non-immediate command: 0 deliver now, 1 hold (it is
 * ahead of ExpCmdSN), -1 outside the window (drop silently).
 */
int session_cmdsn_check(struct iscsi_session *s, uint32_t cmdsn);
/* Record that cmdsn was delivered (or held) and deliver what follows. */
void session_cmdsn_advance(struct iscsi_session *s);
/* Deliver held commands whose turn has come. */
void session_deliver_held(struct iscsi_session *s);
int session_hold(struct iscsi_session *s, uint32_t cmdsn,
    struct iscsi_task *task);
void session_drop_held(struct iscsi_session *s, struct iscsi_task *task);
void session_kill_remote(struct iscsi_session *s);
extern unsigned int iscsi_nsessions;
/* All sessions; walk only with session_table_lock() held. */
extern struct list_node iscsi_session_table;

/*
 * task.c: a task's life. task_new() gives one reference, and one on its
 * connection until the task is freed; task_put() of the last reference
 * releases its data reservation, its lent Data-In (scsi_task_release)
 * and its buffer.
 */
struct iscsi_task *task_new(struct iscsi_conn *conn);
void task_get(struct iscsi_task *task);
void task_put(struct iscsi_task *task);
struct iscsi_task *task_find(struct iscsi_conn *conn, uint32_t itt);
/*
 * Reserve len bytes of in-flight data for task: GOOD, or the status
 * (TASK SET FULL, BUSY) to answer it with.
 */
uint8_t task_data_reserve(struct iscsi_task *task, uint32_t len);
/* Give its slot in the session's command window back. */
void task_release_window(struct iscsi_task *task);
/* Off the connection's list (and the window): no more PDUs for it. */
void task_finish(struct iscsi_task *task);

/* ffp.c */
int ffp_hdr_scsi_cmd(struct iscsi_conn *conn);
int ffp_data_scsi_cmd(struct iscsi_conn *conn);
int ffp_hdr_data_out(struct iscsi_conn *conn);
int ffp_data_data_out(struct iscsi_conn *conn);
void ffp_task_deliver(struct iscsi_task *task);
/* Decode a LUN field (flat or peripheral addressing, SAM-5 4.7). */
uint64_t ffp_lun_decode(const uint8_t *lun);
int ffp_logout(struct iscsi_conn *conn);
/*
 * CmdSN of a non-SCSI request: 0 process it, 1 drop it (outside the
 * window). Held early ones are processed at once and their CmdSN
 * remembered (RFC 7143 3.2.2.1 orders only SCSI tasks strictly here).
 */
int ffp_cmdsn_consume(struct iscsi_conn *conn, const uint8_t *bhs);
void ffp_task_abort(struct iscsi_task *task);
void ffp_conn_drop_tasks(struct iscsi_conn *conn);
/*
 * Has a command of conn waited ISCSI_DATA_OUT_TIMEOUT_MS for its
 * Data-Out or for its CmdSN turn by now? Then it says so in the log and
 * the caller closes conn. On conn's loop.
 */
bool ffp_conn_stalled(struct iscsi_conn *conn, uint64_t now);
/* Is a PDU partly received (or bytes of the next one already read)? */
bool conn_rx_busy(const struct iscsi_conn *conn);

/* nop.c */
int nop_out(struct iscsi_conn *conn, const uint8_t *data, uint32_t dlen);
void nop_start(struct iscsi_conn *conn);
void nop_stop(struct iscsi_conn *conn);
void nop_activity(struct iscsi_conn *conn);

/* tmf.c */
int tmf_request(struct iscsi_conn *conn);
void tmf_task_gone(struct iscsi_task *task);
void tmf_async_logout(struct iscsi_conn *conn);

/* textreq.c */
int textreq_rx(struct iscsi_conn *conn, const uint8_t *data, uint32_t dlen);

/* discovery.c */
/*
 * Append TargetName/TargetAddress pairs for SendTargets=value to sb.
 * Returns 0 or -E2BIG when sb overflowed.
 */
int discovery_send_targets(struct iscsi_conn *conn, const char *value,
    struct strbuf *sb);

/* stats.c: the metrics endpoint's counters. */
uint64_t stats_now_ns(void);
/* A response is going out: count it (rd Data-In bytes) on the session
 * and on the LU. */
void stats_task_done(const struct iscsi_task *task, uint32_t rd);
/* A login refused with this status (class << 8 | detail), to target t
 * when the login named one (NULL otherwise). */
void stats_login_refused(uint16_t status, struct target *t);

#endif /* IETD_ISCSI_ISCSI_INT_H */
