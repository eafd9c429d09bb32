/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Connection lifecycle: accept on a loop, read and write events, deferred
 * close (a connection is only freed after the current dispatch and once
 * the last reference is gone, so a SCSI completion that arrives for a
 * closed connection finds its memory still there and is dropped), the
 * per-connection log prefix, and the orderly shutdown of all sessions.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/databuf.h"
#include "util/objcache.h"
#include "util/log.h"
#include "target/target.h"
#include "iscsi.h"
#include "iscsi_int.h"

/*
 * Reference rules: the loop holds one reference from accept until the
 * deferred close; every task (struct iscsi_task) holds one until it is
 * freed, so a SCSI completion can always look at task->conn; a call
 * posted from another thread holds one until it ran. Only the owning
 * loop's thread changes a connection's state.
 */
struct list_node iscsi_conns = LIST_HEAD_INIT(iscsi_conns);
static pthread_mutex_t conn_registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static unsigned int iscsi_nconns;
static bool iscsi_shutting_down;
static void (*iscsi_shutdown_done)(void *);
static void *iscsi_shutdown_arg;
static struct loop *iscsi_shutdown_loop;

void
conn_registry_lock(void)
{
	pthread_mutex_lock(&conn_registry_mutex);
}

void
conn_registry_unlock(void)
{
	pthread_mutex_unlock(&conn_registry_mutex);
}

bool
iscsi_is_shutting_down(void)
{
	bool v;

	conn_registry_lock();
	v = iscsi_shutting_down;
	conn_registry_unlock();
	return v;
}

unsigned int
iscsi_conn_count(void)
{
	unsigned int n;

	conn_registry_lock();
	n = iscsi_nconns;
	conn_registry_unlock();
	return n;
}

void
conn_log(struct iscsi_conn *conn, int prio, const char *fmt, ...)
{
	char msg[512];
	const struct iscsi_session *s = conn->session;
	unsigned int dropped = 0;
	va_list ap;

	/* Debug output was asked for with -d: it is never dropped. */
	if (prio != LOG_DEBUG && !log_ratelimit_pass(&conn->log_rl, &dropped))
		return;
	if (dropped > 0)
		log_msg(LOG_NOTICE,
		    "%s: %u message(s) about this connection "
		    "dropped (rate limit)",
		    conn->peer_str, dropped);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	unsigned int tid =
	    s != NULL && s->target != NULL ? target_tid(s->target) : 0;
	unsigned long long sid = s != NULL ? (unsigned long long)s->sid : 0ULL;
	const char *ini = conn->initiator[0] != '\0' ? conn->initiator : "-";
	/* The prefix's facts as members of a JSON line, for log shippers. */
	const struct log_field f[] = {
	    {.key = "peer", .str = conn->peer_str},
	    {.key = "initiator", .str = ini},
	    {.key = "tid", .num = tid},
	    {.key = "sid", .num = sid},
	    {.key = "cid", .num = conn->cid},
	};

	log_fields(prio, f, 5, "%s [%s] %u:%llu:%u %s", conn->peer_str, ini,
	    tid, sid, conn->cid, msg);
}

static void
iscsi_queue_event(void *arg, unsigned int events)
{
	struct iscsi_loop *il = arg;

	(void)events;
	scsi_queue_drain(il->queue);
}

/*
 * Before the loop sleeps: write out every connection that queued PDUs
 * during the round. Responses of one wake-up leave in one writev, and a
 * socket gets EPOLLOUT interest only when it is full.
 */
static bool
iscsi_loop_flush(void *arg)
{
	struct iscsi_loop *il = arg;
	bool did = scsi_queue_run_local(il->queue);

	while (!list_empty(&il->tx_pending)) {
		struct iscsi_conn *conn = list_first_entry(&il->tx_pending,
		    struct iscsi_conn, tx_node);

		list_remove(&conn->tx_node);
		conn->tx_scheduled = false;
		did = true;
		if (conn->state != CONN_S_CLOSED) {
			int rc = pdu_tx_flush(conn);

			if (rc != 0) {
				/*
				 * A reset or a closed peer is ordinary; any
				 * other error (EFAULT: a mapped file cut
				 * short under a read) is worth a line.
				 */
				if (rc != -ECONNRESET && rc != -EPIPE)
					conn_log(conn, LOG_NOTICE,
					    "send failed (%s): closing",
					    strerror(-rc));
				conn_close(conn);
			} else if (conn->close_queued &&
			    list_empty(&conn->txq)) {
				conn_close(conn);
			}
		}
		conn_put(conn);
	}
	return did;
}

void
conn_tx_schedule(struct iscsi_conn *conn)
{
	if (conn->tx_scheduled)
		return;
	if (conn->il == NULL || loop_current() != conn->loop) {
		/* Not on the connection's thread: let epoll say when. */
		conn_want_write(conn, true);
		return;
	}
	conn->tx_scheduled = true;
	conn_get(conn);
	list_add_tail(&conn->il->tx_pending, &conn->tx_node);
}

bool
conn_rx_busy(const struct iscsi_conn *conn)
{
	const struct iscsi_rx *rx = &conn->rx;

	return rx->state != RX_BHS || rx->got > 0 ||
	    rx->stage_off < rx->stage_len;
}

/*
 * Once a second: close connections whose login runs past
 * ISCSI_LOGIN_TIMEOUT_MS, those that stopped in the middle of a PDU
 * for ISCSI_PDU_STALL_MS, those that have not taken a byte of what
 * waits for them for as long, and those with a command that waited
 * ISCSI_DATA_OUT_TIMEOUT_MS for its Data-Out or its CmdSN turn (a slow or
 * stuck peer would otherwise hold its slot and buffers for ever). Idle
 * logged-in connections are NOP-In's business (nop.c). Also lets go of
 * the thread's cached data buffers when it was idle since the last sweep.
 */
static void
iscsi_loop_sweep(void *arg)
{
	struct iscsi_loop *il = arg;
	uint64_t now = loop_now_ms();
	struct list_node *pos, *tmp;

	list_for_each_safe(pos, tmp, &il->conns) {
		struct iscsi_conn *conn =
		    list_entry(pos, struct iscsi_conn, loop_node);

		if (conn->state == CONN_S_LOGIN &&
		    now - conn->born_ms > ISCSI_LOGIN_TIMEOUT_MS) {
			conn_log(conn, LOG_NOTICE,
			    "login not complete after %u seconds: closing",
			    ISCSI_LOGIN_TIMEOUT_MS / 1000u);
			conn_close(conn);
		} else if (conn->state != CONN_S_CLOSED && !conn->rx_paused &&
		    conn_rx_busy(conn) &&
		    now - conn->rx_ms > ISCSI_PDU_STALL_MS) {
			/*
			 * (A connection paused by back-pressure is not judged
			 * here: it is ietd that does not read it; the send
			 * stall below judges that peer.)
			 */
			conn_log(conn, LOG_NOTICE,
			    "PDU incomplete, nothing received for %u seconds: "
			    "closing",
			    ISCSI_PDU_STALL_MS / 1000u);
			conn_close(conn);
		} else if (conn->state != CONN_S_CLOSED &&
		    !list_empty(&conn->txq) &&
		    now - conn->tx_ms > ISCSI_PDU_STALL_MS) {
			/*
			 * A peer that stops reading would otherwise pin its
			 * buffers, and the blocks of reads sent from a mapped
			 * file, which overlapping writes wait for.
			 */
			struct linger rst = {.l_onoff = 1, .l_linger = 0};

			conn_log(conn, LOG_NOTICE,
			    "peer not reading, nothing sent for %u seconds: "
			    "closing",
			    ISCSI_PDU_STALL_MS / 1000u);
			/*
			 * Reset, not FIN: a FIN would wait behind the data
			 * the peer does not take, and the kernel would hold
			 * that data (megabytes) for minutes of retries.
			 */
			(void)setsockopt(conn->fd, SOL_SOCKET, SO_LINGER, &rst,
			    sizeof(rst));
			conn_close(conn);
		} else if (conn->state == CONN_S_FFP &&
		    ffp_conn_stalled(conn, now)) {
			conn_close(conn);
		}
	}
	databuf_tick();
	objcache_tick();
	loop_timer_arm(il->sweep, ISCSI_SWEEP_MS);
}

int
iscsi_loop_init(struct loop *loop)
{
	struct iscsi_loop *il;
	int rc;

	il = mem_zalloc(sizeof(*il));
	if (il == NULL)
		return -ENOMEM;
	il->loop = loop;
	list_init(&il->tx_pending);
	list_init(&il->conns);
	il->sweep = loop_timer_new(loop, iscsi_loop_sweep, il);
	if (il->sweep == NULL) {
		mem_free(il);
		return -ENOMEM;
	}
	/* iscsi_loop_flush() runs the queue's local completions. */
	il->queue = scsi_queue_new(true);
	if (il->queue == NULL) {
		loop_timer_free(il->sweep);
		mem_free(il);
		return -ENOMEM;
	}
	rc = loop_fd_add(loop, scsi_queue_fd(il->queue), LOOP_READ,
	    iscsi_queue_event, il, &il->queue_watch);
	if (rc != 0) {
		scsi_queue_free(il->queue);
		loop_timer_free(il->sweep);
		mem_free(il);
		return rc;
	}
	loop_timer_arm(il->sweep, ISCSI_SWEEP_MS);
	loop_set_data(loop, il);
	loop_set_before_poll(loop, iscsi_loop_flush, il);
	return 0;
}

void
iscsi_loop_fini(struct loop *loop)
{
	struct iscsi_loop *il = loop_data(loop);

	if (il == NULL)
		return;
	loop_set_before_poll(loop, NULL, NULL);
	/* Flush until a round finds nothing left to do. */
	while (iscsi_loop_flush(il)) {
	}
	loop_timer_free(il->sweep);
	loop_fd_del(il->queue_watch);
	scsi_queue_free(il->queue);
	loop_set_data(loop, NULL);
	mem_free(il);
}

/* The socket's epoll interest: read unless paused, write when full. */
static void
conn_update_events(struct iscsi_conn *conn)
{
	unsigned int ev = (conn->rx_paused ? 0 : LOOP_READ) |
	    (conn->tx_want ? LOOP_WRITE : 0);

	if (conn->watch == NULL || conn->events == ev ||
	    conn->state == CONN_S_CLOSED)
		return;
	if (loop_fd_mod(conn->watch, ev) == 0)
		conn->events = ev;
}

void
conn_want_write(struct iscsi_conn *conn, bool on)
{
	conn->tx_want = on;
	conn_update_events(conn);
}

void
conn_rx_pause(struct iscsi_conn *conn)
{
	conn->rx_paused = true;
	/*
	 * Once per connection at info level (the first sign of a peer that
	 * does not read), then only with -d.
	 */
	if (!conn->rx_pause_logged) {
		conn->rx_pause_logged = true;
		conn_log(conn, LOG_INFO,
		    "%zu bytes of responses wait for the initiator to read "
		    "them: not reading from it until they drain",
		    conn->tx_queued);
	} else {
		conn_dbg(conn, 1, "%zu bytes queued (%zu in all): not reading",
		    conn->tx_queued, pdu_tx_total());
	}
	conn_update_events(conn);
}

/*
 * After a round of receiving or sending: close on an error (a reset or a
 * broken pipe is the peer's ordinary way out, not worth a line), or once
 * a close waits only for the queue that has now drained.
 */
static void
conn_io_done(struct iscsi_conn *conn, int rc)
{
	if (rc != 0) {
		if (rc != -ECONNRESET && rc != -EPIPE)
			conn_dbg(conn, 1, "closing: %s", strerror(-rc));
		conn_close(conn);
	} else if (conn->close_queued && list_empty(&conn->txq)) {
		conn_close(conn);
	}
}

/*
 * After the dispatch round in which the queue drained: run the receive
 * side once. PDUs may wait in the read-ahead buffer, and no readable
 * event would announce them.
 */
static void
conn_rx_kick(void *arg)
{
	struct iscsi_conn *conn = arg;

	if (conn->state != CONN_S_CLOSED && !conn->close_queued &&
	    !conn->rx_paused)
		conn_io_done(conn, pdu_rx(conn));
	conn_put(conn);
}

void
conn_rx_resume(struct iscsi_conn *conn)
{
	conn_dbg(conn, 1, "%zu bytes queued: reading again", conn->tx_queued);
	conn->rx_paused = false;
	/* The PDU stall clock starts again: we were the ones waiting. */
	conn->rx_ms = loop_now_ms();
	conn_update_events(conn);
	conn_get(conn);
	/*
	 * Without memory for the call, bytes left in the read-ahead buffer
	 * wait for the next readable event, or the PDU stall timeout.
	 */
	if (conn->loop == NULL ||
	    loop_post(conn->loop, conn_rx_kick, conn) != 0)
		conn_put(conn);
}

void
conn_get(struct iscsi_conn *conn)
{
	__atomic_add_fetch(&conn->refs, 1, __ATOMIC_RELAXED);
}

static void
conn_free(struct iscsi_conn *conn)
{
	bool fire = false;

	conn_registry_lock();
	list_remove(&conn->all_node);
	iscsi_nconns--;
	if (iscsi_shutting_down && iscsi_nconns == 0 &&
	    iscsi_shutdown_done != NULL)
		fire = true;
	conn_registry_unlock();
	pdu_tx_drop(conn);
	mem_free(conn->rx.owned);
	mem_free(conn->rx.stage);
	mem_free(conn->text_out);
	mem_free(conn->text_in);
	login_free(conn);
	/* Every task is gone: nothing points at its nexus any more. */
	mem_free(conn->session_ended);
	mem_free(conn);
	if (fire) {
		if (iscsi_shutdown_loop != NULL &&
		    loop_post(iscsi_shutdown_loop, iscsi_shutdown_done,
			iscsi_shutdown_arg) == 0)
			return;
		iscsi_shutdown_done(iscsi_shutdown_arg);
	}
}

/*
 * A reference, unless the last one is already gone: such a connection is
 * still on iscsi_conns only because conn_free() waits for the registry
 * lock to take it off, and will free it whatever we do.
 */
static bool
conn_get_unless_freed(struct iscsi_conn *conn)
{
	int r = __atomic_load_n(&conn->refs, __ATOMIC_RELAXED);

	do {
		if (r == 0)
			return false;
	} while (!__atomic_compare_exchange_n(&conn->refs, &r, r + 1, true,
	    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
	return true;
}

void
conn_put(struct iscsi_conn *conn)
{
	if (__atomic_sub_fetch(&conn->refs, 1, __ATOMIC_ACQ_REL) == 0)
		conn_free(conn);
}

/* Deferred part of a close: runs after the dispatch round. */
static void
conn_close_deferred(void *arg)
{
	struct iscsi_conn *conn = arg;

	conn_put(conn);
}

/*
 * Close now (RFC 7143 S5 -> S1 via T8 at ErrorRecoveryLevel 0): stop
 * watching the socket, drop queued output, abort the tasks the SCSI layer
 * still holds (they come back with aborted set and are dropped), end the
 * session, and free the memory after this dispatch round.
 */
void
conn_close(struct iscsi_conn *conn)
{
	struct iscsi_session *s = conn->session;

	if (conn->state == CONN_S_CLOSED)
		return;
	conn_log(conn, LOG_INFO, "connection closed");
	log_debug(1, "close conn %u session %#llx target %u", conn->cid,
	    s ? (unsigned long long)s->sid : 0ULL,
	    s && s->target ? target_tid(s->target) : 0);
	conn->state = CONN_S_CLOSED;
	list_remove(&conn->loop_node);
	nop_stop(conn);
	if (conn->logout_timer != NULL) {
		loop_timer_free(conn->logout_timer);
		conn->logout_timer = NULL;
	}
	if (conn->watch != NULL) {
		loop_fd_del(conn->watch);
		conn->watch = NULL;
	}
	pdu_tx_drop(conn);
	if (conn->rx.task != NULL) {
		task_put(conn->rx.task);
		conn->rx.task = NULL;
	}
	/* Tasks still in the SCSI layer hold references and are dropped. */
	ffp_conn_drop_tasks(conn);
	if (s != NULL) {
		session_end(s);
		conn->session = NULL;
		conn->session_ended = s;
	}
	close(conn->fd);
	conn->fd = -1;
	/* The loop's reference goes after this dispatch round. */
	if (loop_post(conn->loop, conn_close_deferred, conn) != 0)
		conn_put(conn);
}

/*
 * Never closes here, even with nothing queued: the callers (a response
 * that could not be built, a TMF answer, a failed login) are deep in
 * paths that still use the session and the task list. The flush at the
 * end of the round, or the next write event, closes it.
 */
void
conn_close_after_tx(struct iscsi_conn *conn)
{
	if (conn->state == CONN_S_CLOSED)
		return;
	conn->close_queued = true;
	conn_tx_schedule(conn);
}

/* Readable: run the receive state machine; then write what is queued. */
static void
conn_event(void *arg, unsigned int events)
{
	struct iscsi_conn *conn = arg;
	int rc = 0;

	conn_get(conn);
	if ((events & LOOP_READ) != 0 && !conn->close_queued)
		rc = pdu_rx(conn);
	/* Replies to what was just read go out in iscsi_loop_flush(). */
	if (rc == 0 && conn->state != CONN_S_CLOSED &&
	    (events & (LOOP_WRITE | LOOP_ERROR)) != 0) {
		rc = pdu_tx_flush(conn);
	} else if ((events & LOOP_ERROR) != 0 && rc == 0) {
		rc = -ECONNRESET;
	}
	conn_io_done(conn, rc);
	conn_put(conn);
}

static void
conn_format_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	} else {
		snprintf(buf, len, "?");
	}
}

struct iscsi_conn *
conn_new(struct iscsi_loop *il, int fd)
{
	struct iscsi_conn *conn;
	socklen_t sl;

	conn = mem_zalloc(sizeof(*conn));
	if (conn == NULL)
		return NULL;
	conn->il = il;
	conn->loop = il != NULL ? il->loop : NULL;
	conn->fd = fd;
	conn->refs = 1;
	conn->state = CONN_S_LOGIN;
	list_init(&conn->txq);
	list_init(&conn->tasks);
	list_init(&conn->loop_node);
	conn->rx.state = RX_BHS;
	conn->rx.want = ISCSI_BHS_LEN;
	conn->max_recv_dsl = ISCSI_LOGIN_DSL_MAX;
	conn->max_xmit_dsl = ISCSI_LOGIN_DSL_MAX;
	conn->ttt_next = 1;
	sl = sizeof(conn->peer);
	if (getpeername(fd, (struct sockaddr *)&conn->peer, &sl) != 0)
		conn->peer.ss_family = AF_UNSPEC;
	sl = sizeof(conn->local);
	if (getsockname(fd, (struct sockaddr *)&conn->local, &sl) != 0)
		conn->local.ss_family = AF_UNSPEC;
	conn_format_addr(&conn->peer, conn->peer_str, sizeof(conn->peer_str));
	conn_registry_lock();
	/*
	 * Checked under the lock iscsi_shutdown() takes: a connection that
	 * registered after its walk would get no logout request, and one
	 * counted after "no connections left" would end the shutdown twice.
	 */
	if (iscsi_shutting_down) {
		conn_registry_unlock();
		mem_free(conn);
		return NULL;
	}
	list_add_tail(&iscsi_conns, &conn->all_node);
	iscsi_nconns++;
	conn_registry_unlock();
	return conn;
}

void
iscsi_conn_accept(struct loop *loop, int fd)
{
	struct iscsi_loop *il = loop_data(loop);
	struct iscsi_conn *conn;
	int one = 1, fl;

	if (il == NULL || iscsi_is_shutting_down()) {
		close(fd);
		return;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		close(fd);
		return;
	}
	/*
	 * Responses are small and latency-bound; do not wait for ACKs. The
	 * socket buffer sizes are left to the kernel on purpose: setting
	 * SO_SNDBUF/SO_RCVBUF switches off Linux's autotuning, which grows
	 * them to tcp_wmem/tcp_rmem's maximum (4-6 MiB) for the streams
	 * that need it and keeps 1000 idle sessions small.
	 */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	conn = conn_new(il, fd);
	if (conn == NULL) {
		if (!iscsi_is_shutting_down())
			log_warning("out of memory accepting a connection");
		close(fd);
		return;
	}
	log_info("connection request from %s", conn->peer_str);
	conn->born_ms = conn->rx_ms = loop_now_ms();
	list_add_tail(&il->conns, &conn->loop_node);
	if (login_start(conn) != 0 ||
	    loop_fd_add(loop, fd, LOOP_READ, conn_event, conn, &conn->watch) !=
		0) {
		conn_log(conn, LOG_WARNING, "cannot set up the connection");
		conn_close(conn);
		return;
	}
	conn->events = LOOP_READ;
}

/* On the connection's loop: ask its session to log out (RFC 7143 11.9). */
static void
conn_shutdown_one(void *arg)
{
	struct iscsi_conn *conn = arg;

	if (conn->state == CONN_S_FFP && conn->session != NULL &&
	    !conn->session->discovery)
		tmf_async_logout(conn);
	else if (conn->state != CONN_S_CLOSED)
		conn_close(conn);
	conn_put(conn);
}

/*
 * Every connection gets a call on its own loop; the last one to be freed
 * runs done (conn_free), on the caller's loop when it has one.
 */
void
iscsi_shutdown(void (*done)(void *arg), void *arg)
{
	struct list_node *pos;
	bool none;

	conn_registry_lock();
	iscsi_shutting_down = true;
	iscsi_shutdown_done = done;
	iscsi_shutdown_arg = arg;
	iscsi_shutdown_loop = loop_current();
	none = iscsi_nconns == 0;
	list_for_each(pos, &iscsi_conns) {
		struct iscsi_conn *conn =
		    list_entry(pos, struct iscsi_conn, all_node);

		/*
		 * Its last reference may be gone already, conn_free() waiting
		 * for this lock: a call posted now would run on freed memory.
		 * conn_free() counts it out, and ends the shutdown if last.
		 */
		if (!conn_get_unless_freed(conn))
			continue;
		if (loop_post(conn->loop, conn_shutdown_one, conn) != 0)
			__atomic_sub_fetch(&conn->refs, 1, __ATOMIC_ACQ_REL);
	}
	conn_registry_unlock();
	if (none && done != NULL)
		done(arg);
}
