/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The iSNS client on the main loop. One TCP connection to the server
 * carries our requests (RFC 4171 5.6.5: DevAttrReg, DevAttrQry, SCNReg,
 * DevDereg); the server's own requests (ESI 5.6.5.13, SCN 5.6.5.7) come
 * on connections it opens to the port we register as ESI and SCN port
 * (open-isns never sends them on our connection, but they are answered
 * there too). The facts of what IET's isns.c did, kept here:
 *  - the entity is registered with its portal(s) and every target as an
 *    iSCSI node of type Target (with its alias), Replace flag set;
 *  - each target registers for SCNs, and with access control each
 *    target asks (DevAttrQry, source = the target, key = node type
 *    Initiator) which initiators share a discovery domain with it; the
 *    answer is cached per target, asked again on every SCN and every 30
 *    seconds;
 *  - a login or SendTargets needs both the allow files and that cache.
 * Unlike IET, nothing here ever waits on the server: a connection that
 * fails or a server that answers garbage is logged (once per cause),
 * closed and retried with a growing back-off, and the access cache keeps
 * the last answer in force meanwhile.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "net/listen.h"
#include "net/loop.h"
#include "target/target.h"
#include "util/alloc.h"
#include "util/be.h"
#include "util/log.h"
#include "isns.h"
#include "isns_int.h"

#define ISNS_TICK_MS 1000            /* housekeeping, target set compared */
#define ISNS_BACKOFF_MIN_MS 1000     /* first retry after a failure */
#define ISNS_BACKOFF_MAX_MS 30000    /* retries never further apart */
#define ISNS_CONNECT_TIMEOUT_MS 5000 /* a connect() that hangs */
#define ISNS_REPLY_TIMEOUT_MS 10000  /* a request left unanswered */
#define ISNS_REFRESH_MS 120000       /* registration refreshed */
#define ISNS_QUERY_MS 30000          /* DD membership asked again (IET) */
#define ISNS_ESI_INTERVAL 20         /* seconds, registered per portal */
/*
 * No ESI for three intervals (the server may stretch ours: open-isns
 * keeps it between its ESIMinInterval and ESIMaxInterval, so the gap
 * seen between two ESIs counts when longer) and 10 s: the server forgot
 * us.
 */
#define ISNS_ESI_SLACK_MS 10000
#define ISNS_PENDING_MAX 2048
/*
 * Requests in flight at once, and their bytes: isnsd reads into an
 * 8 KiB buffer and resets the connection when requests sent ahead fill
 * it, so SCN registrations and queries wait while this much is out.
 */
#define ISNS_INFLIGHT 32
#define ISNS_INFLIGHT_BYTES 4096
/*
 * Connections the server opened to us. open-isns keeps its SCN
 * connection open for the next SCN and crashes (0.101: double free)
 * when a pending SCN finds it closed, so an idle one stays; only a
 * message left half-sent this long, or the oldest when all slots are
 * taken, goes.
 */
#define ISNS_ESI_CONNS 8
#define ISNS_PEER_STALL_MS 10000
#define ISNS_ACL_MAX 4096 /* initiators kept per target */
#define ISNS_EXIT_WAIT_MS 1000

struct isns_target {
	char name[ISNS_NAME_MAX];
	char alias[256];
	bool need_scn, need_qry; /* SCNReg / DevAttrQry still to send */
};

enum isns_req_kind { REQ_REG, REQ_REG_PART, REQ_DEREG, REQ_SCN_REG, REQ_QRY };

struct isns_req {
	uint16_t xid;
	uint32_t bytes; /* on the wire */
	uint8_t kind;
	uint64_t sent_ms;
	char target[ISNS_NAME_MAX];
};

/* A connection the server opened to our ESI/SCN port. */
struct isns_peer {
	int fd;
	struct loop_watch *w;
	struct isns_rx rx;
	struct isns_buf tx;
	size_t tx_off;
	uint64_t last_ms;
};

enum isns_state { ST_IDLE, ST_CONNECTING, ST_CONNECTED };

static struct {
	struct loop *loop;
	bool active, access_control;
	char server[256];
	struct sockaddr_storage srv;
	socklen_t srvlen;
	struct sockaddr_storage portals[LISTEN_MAX];
	unsigned int nportals;
	struct loop_timer *tick;

	enum isns_state state;
	int fd;
	struct loop_watch *w;
	struct isns_rx rx;
	struct isns_buf tx;
	size_t tx_off;
	uint16_t xid;
	struct isns_req req[ISNS_PENDING_MAX];
	unsigned int nreq;
	size_t inflight; /* bytes of the requests in req[] */
	uint64_t state_ms, next_try_ms, backoff_ms;
	uint64_t last_reg_ms, last_query_ms, last_esi_ms, esi_gap_ms;
	bool registered, dirty, requery, had_esi;
	bool failing;
	char last_why[200];

	char eid[256];
	struct sockaddr_storage local;
	uint8_t local_ip[16];

	/* What the server holds: the targets of our last registration. */
	struct isns_target *regd;
	unsigned int nregd;
	/* A registration in several messages: where the next one starts. */
	unsigned int reg_next, reg_np;
	uint8_t reg_ip[LISTEN_MAX][16];
	uint16_t reg_port[LISTEN_MAX];
	uint64_t regd_print;

	/*
	 * Two ports, [0] for ESI and [1] for SCN: open-isns 0.101 caches
	 * one socket per destination and frees it twice when its ESI code
	 * (which drops the socket after every ESI) and its SCN code (which
	 * keeps it) share one, so one port for both crashes the server.
	 */
	int lfd[2];
	struct loop_watch *lw[2];
	uint16_t lport[2];
	struct isns_peer peer[ISNS_ESI_CONNS];
} isns = {.fd = -1, .lfd = {-1, -1}};

static void isns_conn_event(void *arg, unsigned int events);

/* ---- logging: each cause once, until it changes or things recover ---- */

static void isns_fail(const char *fmt, ...) LOG_PRINTF(1, 2);

static void isns_close(void);

static void
isns_fail(const char *fmt, ...)
{
	char why[sizeof(isns.last_why)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!isns.failing || strcmp(why, isns.last_why) != 0)
		log_warning("iSNS server %s: %s; logins are not affected, "
			    "retrying",
		    isns.server, why);
	else
		log_debug(1, "iSNS server %s: %s (again)", isns.server, why);
	snprintf(isns.last_why, sizeof(isns.last_why), "%s", why);
	isns.failing = true;
	isns_close();
	isns.backoff_ms =
	    isns.backoff_ms == 0 ? ISNS_BACKOFF_MIN_MS : isns.backoff_ms * 2;
	if (isns.backoff_ms > ISNS_BACKOFF_MAX_MS)
		isns.backoff_ms = ISNS_BACKOFF_MAX_MS;
	isns.next_try_ms = loop_now_ms() + isns.backoff_ms;
}

/* ---- addresses --------------------------------------------------------- */

static void
isns_ip16(const struct sockaddr_storage *ss, uint8_t ip[16])
{
	memset(ip, 0, 16);
	if (ss->ss_family == AF_INET6) {
		memcpy(ip,
		    &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr,
		    16);
	} else {
		/* RFC 4171 6.3.1: an IPv4 address as IPv4-mapped IPv6. */
		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12,
		    &((const struct sockaddr_in *)(const void *)ss)->sin_addr,
		    4);
	}
}

static uint16_t
isns_sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(
		    ((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
}

static bool
isns_sa_wildcard(const struct sockaddr_storage *ss)
{
	static const uint8_t any6[16];
	uint8_t ip[16];

	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)ss)
			   ->sin_addr.s_addr == htonl(INADDR_ANY);
	isns_ip16(ss, ip);
	return memcmp(ip, any6, 16) == 0;
}

/* "host", "host:port", "[v6]" or "[v6]:port", numeric or a name. */
static int
isns_resolve(const char *server, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256], port[16] = "3205";
	struct addrinfo hints, *res;
	const char *colon;
	int err;

	if (server[0] == '[') {
		const char *end = strchr(server, ']');

		if (end == NULL || (size_t)(end - server - 1) >= sizeof(host))
			return EAI_NONAME;
		memcpy(host, server + 1, (size_t)(end - server - 1));
		host[end - server - 1] = '\0';
		if (end[1] == ':')
			snprintf(port, sizeof(port), "%s", end + 2);
		else if (end[1] != '\0')
			return EAI_NONAME;
	} else if ((colon = strchr(server, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		if ((size_t)(colon - server) >= sizeof(host))
			return EAI_NONAME;
		memcpy(host, server, (size_t)(colon - server));
		host[colon - server] = '\0';
		snprintf(port, sizeof(port), "%s", colon + 1);
	} else {
		snprintf(host, sizeof(host), "%s", server);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	err = getaddrinfo(host, port, &hints, &res);
	if (err != 0)
		return err;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* ---- the targets ------------------------------------------------------- */

struct isns_collect {
	struct isns_target *t;
	unsigned int n, cap;
	uint64_t print;
	bool nomem;
};

static void
isns_hash(uint64_t *h, const char *s)
{
	/* FNV-1a over the bytes and the NUL. */
	do {
		*h ^= (uint8_t)*s;
		*h *= 0x100000001b3ull;
	} while (*s++ != '\0');
}

static bool
isns_collect_one(struct target *t, void *arg)
{
	struct isns_collect *c = arg;
	struct isns_target *x;

	if (c->n == c->cap) {
		unsigned int cap = c->cap ? c->cap * 2 : 16;
		struct isns_target *nt = mem_realloc(c->t, cap * sizeof(*nt));

		if (nt == NULL) {
			c->nomem = true;
			return false;
		}
		c->t = nt;
		c->cap = cap;
	}
	x = &c->t[c->n++];
	x->need_scn = x->need_qry = false;
	snprintf(x->name, sizeof(x->name), "%s", target_name(t));
	if (!target_alias_copy(t, x->alias, sizeof(x->alias)))
		x->alias[0] = '\0';
	isns_hash(&c->print, x->name);
	isns_hash(&c->print, x->alias);
	return true;
}

static bool
isns_collect(struct isns_collect *c)
{
	memset(c, 0, sizeof(*c));
	c->print = 0xcbf29ce484222325ull;
	target_foreach(isns_collect_one, c);
	if (c->nomem) {
		mem_free(c->t);
		c->t = NULL;
		return false;
	}
	return true;
}

/* ---- sending ----------------------------------------------------------- */

static void
isns_flush(void)
{
	while (isns.tx_off < isns.tx.len) {
		ssize_t n = send(isns.fd, isns.tx.p + isns.tx_off,
		    isns.tx.len - isns.tx_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			isns_fail("send failed (%s)", strerror(errno));
			return;
		}
		isns.tx_off += (size_t)n;
	}
	if (isns.tx_off == isns.tx.len) {
		isns.tx.len = 0;
		isns.tx_off = 0;
		loop_fd_mod(isns.w, LOOP_READ);
	} else {
		loop_fd_mod(isns.w, LOOP_READ | LOOP_WRITE);
	}
}

/* Queue one request; false (and the connection failed) when it cannot. */
static bool
isns_request(uint16_t fn, uint16_t flags, struct isns_buf *payload,
    enum isns_req_kind kind, const char *target)
{
	struct isns_req *r;

	if (isns.state != ST_CONNECTED) {
		isns_buf_free(payload);
		return false;
	}
	if (payload->overflow) {
		isns_buf_free(payload);
		isns_fail("out of memory for a request");
		return false;
	}
	if (isns.nreq == ISNS_PENDING_MAX) {
		isns_buf_free(payload);
		isns_fail("%u requests unanswered", ISNS_PENDING_MAX);
		return false;
	}
	r = &isns.req[isns.nreq++];
	r->xid = ++isns.xid;
	r->kind = (uint8_t)kind;
	r->sent_ms = loop_now_ms();
	snprintf(r->target, sizeof(r->target), "%s", target ? target : "");
	size_t before = isns.tx.len;

	isns_buf_message(&isns.tx, fn, ISNS_F_CLIENT | flags, r->xid,
	    payload->p, payload->len);
	r->bytes = (uint32_t)(isns.tx.len - before);
	isns.inflight += r->bytes;
	isns_buf_free(payload);
	if (isns.tx.overflow) {
		isns_fail("out of memory for a request");
		return false;
	}
	isns_flush();
	return isns.state == ST_CONNECTED;
}

/* The portals to register: wildcards become our address to the server. */
static unsigned int
isns_portal_list(uint8_t ip[][16], uint16_t *port, unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < isns.nportals && n < max; i++) {
		const struct sockaddr_storage *p = &isns.portals[i];
		uint8_t a[16];
		bool dup = false;

		if (isns_sa_wildcard(p)) {
			/* An IPv4 wildcard cannot be reached over IPv6. */
			if (p->ss_family != isns.local.ss_family &&
			    p->ss_family == AF_INET)
				continue;
			memcpy(a, isns.local_ip, 16);
		} else {
			isns_ip16(p, a);
		}
		for (unsigned int j = 0; j < n && !dup; j++)
			dup = memcmp(ip[j], a, 16) == 0 &&
			    port[j] == isns_sa_port(p);
		if (dup)
			continue;
		memcpy(ip[n], a, 16);
		port[n++] = isns_sa_port(p);
	}
	return n;
}

static void
isns_send_scn_reg(const char *name)
{
	struct isns_buf b = {0};

	/* RFC 4171 5.6.5.5: source, key = the node, delimiter, bitmap. */
	isns_buf_str(&b, ISNS_TAG_ISCSI_NAME, name);
	isns_buf_str(&b, ISNS_TAG_ISCSI_NAME, name);
	isns_buf_tlv(&b, ISNS_TAG_DELIMITER, NULL, 0);
	isns_buf_u32(&b, ISNS_TAG_SCN_BITMAP,
	    ISNS_SCN_DD_MEMBER_ADDED | ISNS_SCN_DD_MEMBER_REMOVED |
		ISNS_SCN_OBJECT_UPDATED | ISNS_SCN_OBJECT_ADDED |
		ISNS_SCN_OBJECT_REMOVED);
	isns_request(ISNS_FN_SCN_REG, 0, &b, REQ_SCN_REG, name);
}

static void
isns_send_query(const char *name)
{
	struct isns_buf b = {0};

	/*
	 * What IET asked: source = the target, key = node type Initiator,
	 * and for each match its name and node type. The server answers
	 * with the initiators that share a discovery domain with the source.
	 */
	isns_buf_str(&b, ISNS_TAG_ISCSI_NAME, name);
	isns_buf_u32(&b, ISNS_TAG_NODE_TYPE, ISNS_NODE_INITIATOR);
	isns_buf_tlv(&b, ISNS_TAG_DELIMITER, NULL, 0);
	isns_buf_tlv(&b, ISNS_TAG_ISCSI_NAME, NULL, 0);
	isns_buf_tlv(&b, ISNS_TAG_NODE_TYPE, NULL, 0);
	isns_request(ISNS_FN_DEV_ATTR_QRY, 0, &b, REQ_QRY, name);
}

/*
 * Send what the targets still need, ISNS_INFLIGHT requests at a time, so
 * thousands of targets never make thousands of requests at once.
 */
static void
isns_pump(void)
{
	unsigned int i = 0;

	/* Nothing else while a registration is under way (see above). */
	if (isns.reg_next < isns.nregd)
		return;
	while (i < isns.nregd && isns.state == ST_CONNECTED &&
	    isns.nreq < ISNS_INFLIGHT && isns.inflight < ISNS_INFLIGHT_BYTES) {
		struct isns_target *t = &isns.regd[i];

		if (t->need_scn) {
			t->need_scn = false;
			isns_send_scn_reg(t->name);
		} else if (t->need_qry) {
			t->need_qry = false;
			isns_send_query(t->name);
		} else {
			i++;
		}
	}
}

static void
isns_query_all(void)
{
	isns.last_query_ms = loop_now_ms();
	isns.requery = false;
	for (unsigned int i = 0; i < isns.nregd; i++)
		isns.regd[i].need_qry = true;
	isns_pump();
}

static void
isns_entity_dereg_payload(struct isns_buf *b, const char *source)
{
	isns_buf_str(b, ISNS_TAG_ISCSI_NAME, source);
	isns_buf_tlv(b, ISNS_TAG_DELIMITER, NULL, 0);
	isns_buf_str(b, ISNS_TAG_EID, isns.eid);
}

static bool
isns_has(const struct isns_target *t, unsigned int n, const char *name)
{
	for (unsigned int i = 0; i < n; i++)
		if (strcasecmp(t[i].name, name) == 0)
			return true;
	return false;
}

/*
 * open-isns reads a message of at most 8 KiB, however many PDUs carry
 * it, and cannot take the next one while its buffer holds the last: the
 * targets go in as many DevAttrReg messages as they need, one at a time
 * (each sent once the last was answered), the first replacing what the
 * server held for the entity, the others adding to it. Source: the
 * first target, registered by the first message.
 */
static void
isns_reg_send_next(void)
{
	const struct isns_target *t = isns.regd;
	unsigned int i = isns.reg_next, n = isns.nregd, np = isns.reg_np;
	struct isns_buf b = {0};
	bool first = i == 0;
	size_t fixed;

	if (isns.state != ST_CONNECTED || i >= n)
		return;
	isns_buf_str(&b, ISNS_TAG_ISCSI_NAME, t[0].name);
	isns_buf_str(&b, ISNS_TAG_EID, isns.eid);
	isns_buf_tlv(&b, ISNS_TAG_DELIMITER, NULL, 0);
	isns_buf_str(&b, ISNS_TAG_EID, isns.eid);
	if (first) {
		isns_buf_u32(&b, ISNS_TAG_ENTITY_PROTOCOL,
		    ISNS_ENTITY_PROTOCOL_ISCSI);
		for (unsigned int k = 0; k < np; k++) {
			isns_buf_tlv(&b, ISNS_TAG_PORTAL_IP, isns.reg_ip[k],
			    16);
			isns_buf_u32(&b, ISNS_TAG_PORTAL_PORT,
			    isns.reg_port[k]);
			if (isns.lport[0] != 0) {
				isns_buf_u32(&b, ISNS_TAG_ESI_INTERVAL,
				    ISNS_ESI_INTERVAL);
				isns_buf_u32(&b, ISNS_TAG_ESI_PORT,
				    isns.lport[0]);
			}
			if (isns.lport[1] != 0)
				isns_buf_u32(&b, ISNS_TAG_SCN_PORT,
				    isns.lport[1]);
		}
	}
	fixed = b.len;
	for (; i < n; i++) {
		size_t before = b.len;

		isns_buf_str(&b, ISNS_TAG_ISCSI_NAME, t[i].name);
		isns_buf_u32(&b, ISNS_TAG_NODE_TYPE, ISNS_NODE_TARGET);
		if (t[i].alias[0] != '\0')
			isns_buf_str(&b, ISNS_TAG_ALIAS, t[i].alias);
		/* Reachable on every portal as TPGT 1. */
		for (unsigned int k = 0; k < np; k++) {
			isns_buf_str(&b, ISNS_TAG_PG_ISCSI_NAME, t[i].name);
			isns_buf_tlv(&b, ISNS_TAG_PG_PORTAL_IP, isns.reg_ip[k],
			    16);
			isns_buf_u32(&b, ISNS_TAG_PG_PORTAL_PORT,
			    isns.reg_port[k]);
			isns_buf_u32(&b, ISNS_TAG_PG_TAG, 1);
		}
		if (b.len > ISNS_PDU_PAYLOAD && before > fixed) {
			b.len = before; /* this one opens the next */
			break;
		}
	}
	isns.reg_next = i;
	isns_request(ISNS_FN_DEV_ATTR_REG, first ? ISNS_F_REPLACE : 0, &b,
	    i < n ? REQ_REG_PART : REQ_REG, NULL);
}

/*
 * Register everything there is now (RFC 4171 5.6.5.1): the Replace flag
 * makes the server drop what it held for our entity, targets gone since
 * included; with no target left the entity itself is deregistered.
 */
static void
isns_register(void)
{
	struct isns_collect c;
	struct isns_buf b = {0};
	uint8_t ip[LISTEN_MAX][16];
	uint16_t port[LISTEN_MAX];
	unsigned int np;

	/*
	 * Only on a quiet connection: isnsd cannot take a registration
	 * while its buffer still holds earlier requests. The tick asks
	 * again every second.
	 */
	if (isns.state == ST_CONNECTED && isns.nreq > 0) {
		isns.dirty = true;
		return;
	}
	if (!isns_collect(&c)) {
		isns_fail("out of memory listing the targets");
		return;
	}
	isns.dirty = false;
	isns.last_reg_ms = loop_now_ms();
	if (c.n == 0) {
		if (isns.nregd > 0 && isns.state == ST_CONNECTED) {
			isns_entity_dereg_payload(&b, isns.regd[0].name);
			isns_request(ISNS_FN_DEV_DEREG, 0, &b, REQ_DEREG, NULL);
		}
		mem_free(isns.regd);
		isns.regd = NULL;
		isns.nregd = 0;
		isns.regd_print = c.print;
		isns_acl_prune(NULL, 0);
		return;
	}
	if (isns.state != ST_CONNECTED) {
		mem_free(c.t);
		return;
	}
	np = isns_portal_list(ip, port, LISTEN_MAX);
	mem_free(isns.regd);
	isns.regd = c.t;
	isns.nregd = c.n;
	isns.regd_print = c.print;
	{
		const char **keep = mem_calloc(c.n, sizeof(*keep));

		/* Out of memory: stale entries stay until the next round. */
		if (keep != NULL) {
			for (unsigned int i = 0; i < c.n; i++)
				keep[i] = c.t[i].name;
			isns_acl_prune(keep, c.n);
			mem_free(keep);
		}
	}
	isns.reg_next = 0;
	isns.reg_np = np;
	memcpy(isns.reg_ip, ip, sizeof(ip));
	memcpy(isns.reg_port, port, sizeof(port));
	isns_reg_send_next();
}

/* ---- the server's requests: ESI and SCN -------------------------------- */

/*
 * Answer an ESI or SCN (on any connection) into tx. Returns false when
 * the message is not one we take from a server.
 */
static bool
isns_server_request(struct isns_buf *tx, const struct isns_rx *rx)
{
	struct isns_buf b = {0};
	uint8_t status[4] = {0};
	struct isns_tlv t;
	size_t off = 0;
	const char *why = NULL;
	int r;

	/* Every attribute must parse before anything is believed. */
	while ((r = isns_tlv_next(rx->msg, rx->msg_len, &off, &t, &why)) == 1)
		;
	if (r < 0) {
		/* Anyone may connect to these ports: no flood of lines. */
		static struct log_ratelimit rl;
		unsigned int dropped;

		if (log_ratelimit_pass(&rl, &dropped))
			log_warning("iSNS: malformed %s from the server (%s); "
				    "ignored",
			    rx->fn == ISNS_FN_ESI ? "ESI" : "SCN", why);
		return false;
	}
	isns_buf_add(&b, status, 4);
	if (rx->fn == ISNS_FN_ESI) {
		/* RFC 4171 5.7.5.13: ESIRsp echoes the ESI's attributes. */
		isns_buf_add(&b, rx->msg, rx->msg_len);
		if (isns.had_esi)
			isns.esi_gap_ms = loop_now_ms() - isns.last_esi_ms;
		isns.last_esi_ms = loop_now_ms();
		isns.had_esi = true;
		log_debug(1, "iSNS: ESI answered");
	} else {
		/* RFC 4171 5.7.5.8: SCNRsp names the destination. */
		off = 0;
		if (isns_tlv_next(rx->msg, rx->msg_len, &off, &t, &why) == 1 &&
		    t.tag == ISNS_TAG_ISCSI_NAME)
			isns_buf_add(&b, rx->msg, off);
		/* Coalesced: a burst of SCNs makes one round of queries. */
		isns.requery = true;
		log_debug(1, "iSNS: state change notification");
	}
	isns_buf_message(tx, rx->fn | ISNS_FN_RSP, ISNS_F_CLIENT, rx->xid, b.p,
	    b.len);
	isns_buf_free(&b);
	return true;
}

static void
isns_peer_close(struct isns_peer *p)
{
	if (p->fd < 0)
		return;
	loop_fd_del(p->w);
	close(p->fd);
	isns_rx_free(&p->rx);
	isns_buf_free(&p->tx);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}

static void
isns_peer_event(void *arg, unsigned int events)
{
	static struct log_ratelimit peer_rl;
	struct isns_peer *p = arg;
	unsigned int dropped;

	if (events & (LOOP_READ | LOOP_ERROR)) {
		uint8_t buf[4096];
		ssize_t n = recv(p->fd, buf, sizeof(buf), 0);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			log_debug(1,
			    "iSNS: ESI/SCN connection %d closed by the "
			    "server",
			    p->fd);
			isns_peer_close(p);
			return;
		}
		for (size_t off = 0; n > 0 && off < (size_t)n;) {
			const char *why = NULL;
			size_t used;
			int r = isns_rx_feed(&p->rx, buf + off, (size_t)n - off,
			    &used, &why);

			off += used;
			if (r == ISNS_RX_ERROR) {
				if (log_ratelimit_pass(&peer_rl, &dropped))
					log_warning("iSNS: dropped a "
						    "connection to the "
						    "ESI/SCN port: %s",
					    why);
				isns_peer_close(p);
				return;
			}
			if (r == ISNS_RX_MORE)
				break;
			if (p->rx.fn != ISNS_FN_ESI &&
			    p->rx.fn != ISNS_FN_SCN) {
				if (log_ratelimit_pass(&peer_rl, &dropped))
					log_warning(
					    "iSNS: dropped a connection to the "
					    "ESI/SCN port: unexpected function "
					    "0x%04x",
					    p->rx.fn);
				isns_peer_close(p);
				return;
			}
			/* A malformed one is logged there. */
			if (!isns_server_request(&p->tx, &p->rx)) {
				isns_peer_close(p);
				return;
			}
			isns_rx_done(&p->rx);
		}
		p->last_ms = loop_now_ms();
	}
	while (p->tx_off < p->tx.len) {
		ssize_t n = send(p->fd, p->tx.p + p->tx_off,
		    p->tx.len - p->tx_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			isns_peer_close(p);
			return;
		}
		p->tx_off += (size_t)n;
	}
	if (p->tx_off == p->tx.len) {
		p->tx.len = p->tx_off = 0;
		loop_fd_mod(p->w, LOOP_READ);
	} else {
		loop_fd_mod(p->w, LOOP_READ | LOOP_WRITE);
	}
}

static void
isns_esi_accept(void *arg, unsigned int events)
{
	int lfd = (int)(intptr_t)arg;

	(void)events;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct isns_peer *p = NULL;

		if (fd < 0)
			return;
		for (unsigned int i = 0; i < ISNS_ESI_CONNS && p == NULL; i++)
			if (isns.peer[i].fd < 0)
				p = &isns.peer[i];
		if (p == NULL) {
			/* open-isns opens a new one per ESI: oldest goes. */
			p = &isns.peer[0];
			for (unsigned int i = 1; i < ISNS_ESI_CONNS; i++)
				if (isns.peer[i].last_ms < p->last_ms)
					p = &isns.peer[i];
			isns_peer_close(p);
		}
		p->fd = fd;
		p->last_ms = loop_now_ms();
		log_debug(1, "iSNS: ESI/SCN connection %d from the server", fd);
		if (loop_fd_add(isns.loop, fd, LOOP_READ, isns_peer_event, p,
			&p->w) != 0) {
			close(fd);
			p->fd = -1;
		}
	}
}

static void
isns_esi_close(void)
{
	for (unsigned int i = 0; i < ISNS_ESI_CONNS; i++)
		isns_peer_close(&isns.peer[i]);
	for (unsigned int i = 0; i < 2; i++) {
		if (isns.lfd[i] >= 0) {
			loop_fd_del(isns.lw[i]);
			close(isns.lfd[i]);
		}
		isns.lfd[i] = -1;
		isns.lw[i] = NULL;
		isns.lport[i] = 0;
	}
}

/* The ESI and SCN ports, on the address the server reaches us at. */
static void
isns_esi_open(void)
{
	for (unsigned int i = 0; i < 2; i++) {
		struct sockaddr_storage a = isns.local;
		socklen_t alen = sizeof(a);
		int fd;

		if (isns.lfd[i] >= 0)
			continue;
		if (a.ss_family == AF_INET6)
			((struct sockaddr_in6 *)(void *)&a)->sin6_port = 0;
		else
			((struct sockaddr_in *)(void *)&a)->sin_port = 0;
		fd = socket(a.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 ||
		    bind(fd, (struct sockaddr *)&a,
			a.ss_family == AF_INET6
			    ? sizeof(struct sockaddr_in6)
			    : sizeof(struct sockaddr_in)) != 0 ||
		    listen(fd, 8) != 0 ||
		    getsockname(fd, (struct sockaddr *)&a, &alen) != 0 ||
		    loop_fd_add(isns.loop, fd, LOOP_READ, isns_esi_accept,
			(void *)(intptr_t)fd, &isns.lw[i]) != 0) {
			log_warning("iSNS: no %s port (%s); registering "
				    "without one",
			    i == 0 ? "ESI" : "SCN", strerror(errno));
			if (fd >= 0)
				close(fd);
			continue;
		}
		isns.lfd[i] = fd;
		isns.lport[i] = isns_sa_port(&a);
	}
	log_debug(1, "iSNS: ESI port %u, SCN port %u", isns.lport[0],
	    isns.lport[1]);
}

/* ---- responses to our requests ----------------------------------------- */

static const char *
isns_status_str(uint32_t s)
{
	/* RFC 4171 6.4.5 (status codes), those worth a name. */
	static const char *const names[] = {"success", "unknown error",
	    "message format error", "invalid registration", "reserved",
	    "invalid query", "source unknown", "source absent",
	    "source unauthorized", "no such entry", "version not supported",
	    "internal error", "busy", "option not understood", "invalid update",
	    "message not supported"};

	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "error";
}

static void
isns_query_answer(const char *target, const uint8_t *p, size_t len)
{
	const char **names = mem_calloc(ISNS_ACL_MAX, sizeof(*names));
	const char *why = NULL;
	unsigned int n = 0;
	bool cut = false;

	if (names == NULL) {
		isns_fail("out of memory for the access list of %s", target);
		return;
	}
	if (isns_parse_initiators(p, len, target, names, ISNS_ACL_MAX, &n, &cut,
		&why) != 0) {
		mem_free(names);
		isns_fail("malformed DevAttrQry response for %s (%s)", target,
		    why);
		return;
	}
	if (cut)
		log_warning("iSNS: target %s: more than %u initiators in its "
			    "discovery domains; the rest are refused",
		    target, ISNS_ACL_MAX);
	if (isns_acl_set(target, true, names, n) != 0) {
		mem_free(names);
		isns_fail("out of memory for the access list of %s", target);
		return;
	}
	mem_free(names);
	log_debug(1,
	    "iSNS: target %s: %u initiator(s) share a discovery "
	    "domain with it",
	    target, n);
}

static void
isns_response(const struct isns_rx *rx)
{
	struct isns_req req;
	unsigned int i;
	uint32_t status;

	for (i = 0; i < isns.nreq; i++)
		if (isns.req[i].xid == rx->xid)
			break;
	if (i == isns.nreq) {
		log_debug(1,
		    "iSNS: response 0x%04x to no request of ours "
		    "(transaction %u); ignored",
		    rx->fn, rx->xid);
		return;
	}
	req = isns.req[i];
	isns.req[i] = isns.req[--isns.nreq];
	isns.inflight -= req.bytes;
	if (rx->msg_len < 4) {
		isns_fail("response without a status");
		return;
	}
	status = get_be32(rx->msg);
	switch (req.kind) {
	case REQ_REG_PART:
		/* One of several registration messages: only its status. */
		if ((rx->fn & ~ISNS_FN_RSP) != ISNS_FN_DEV_ATTR_REG)
			goto mismatch;
		if (status != 0) {
			isns_fail("registration refused: %s (%u)",
			    isns_status_str(status), status);
			return;
		}
		isns_reg_send_next();
		return;
	case REQ_REG:
		if ((rx->fn & ~ISNS_FN_RSP) != ISNS_FN_DEV_ATTR_REG)
			goto mismatch;
		if (status != 0) {
			isns_fail("registration refused: %s (%u)",
			    isns_status_str(status), status);
			return;
		}
		if (!isns.registered || isns.failing)
			log_notice("iSNS: registered entity %s with %u "
				   "target(s) at %s",
			    isns.eid, isns.nregd, isns.server);
		isns.registered = true;
		isns.failing = false;
		isns.backoff_ms = 0;
		isns.last_esi_ms = loop_now_ms();
		for (unsigned int k = 0; k < isns.nregd; k++)
			isns.regd[k].need_scn = true;
		if (isns.access_control)
			isns_query_all();
		else
			isns_pump();
		break;
	case REQ_QRY:
		if ((rx->fn & ~ISNS_FN_RSP) != ISNS_FN_DEV_ATTR_QRY)
			goto mismatch;
		if (status != 0) {
			/* The last answer stays in force. */
			isns_fail("query for %s refused: %s (%u)", req.target,
			    isns_status_str(status), status);
			return;
		}
		if (isns.access_control &&
		    isns_has(isns.regd, isns.nregd, req.target))
			isns_query_answer(req.target, rx->msg + 4,
			    rx->msg_len - 4);
		break;
	case REQ_SCN_REG:
	case REQ_DEREG:
		if (status != 0 && status != 9 /* no such entry */)
			log_debug(1, "iSNS: %s for %s: %s (%u)",
			    req.kind == REQ_DEREG ? "deregistration"
						  : "SCN registration",
			    req.target[0] ? req.target : isns.eid,
			    isns_status_str(status), status);
		break;
	}
	isns_pump();
	return;
mismatch:
	isns_fail("response 0x%04x does not match its request", rx->fn);
}

/* ---- the connection ---------------------------------------------------- */

static void
isns_close(void)
{
	if (isns.w != NULL)
		loop_fd_del(isns.w);
	if (isns.fd >= 0)
		close(isns.fd);
	isns.fd = -1;
	isns.w = NULL;
	isns.state = ST_IDLE;
	isns.nreq = 0;
	isns.inflight = 0;
	isns.registered = false;
	isns_rx_free(&isns.rx);
	isns_buf_free(&isns.tx);
	isns.tx_off = 0;
}

static void
isns_connected(void)
{
	socklen_t len = sizeof(isns.local);
	int one = 1;

	if (getsockname(isns.fd, (struct sockaddr *)&isns.local, &len) != 0) {
		isns_fail("getsockname: %s", strerror(errno));
		return;
	}
	setsockopt(isns.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	isns_ip16(&isns.local, isns.local_ip);
	if (isns.eid[0] == '\0') {
		/*
		 * IET named the entity after the host; gethostname() asks no
		 * DNS server (a reverse lookup could block the loop).
		 */
		if (gethostname(isns.eid, sizeof(isns.eid) - 1) != 0 ||
		    isns.eid[0] == '\0')
			inet_ntop(AF_INET6, isns.local_ip, isns.eid,
			    sizeof(isns.eid));
	}
	isns_esi_open();
	isns.state = ST_CONNECTED;
	isns.state_ms = loop_now_ms();
	loop_fd_mod(isns.w, LOOP_READ);
	log_debug(1, "iSNS: connected to %s", isns.server);
	isns_register();
}

static void
isns_conn_read(void)
{
	uint8_t buf[8192];
	ssize_t n = recv(isns.fd, buf, sizeof(buf), 0);

	if (n == 0) {
		/*
		 * The server closes idle connections (open-isns after five
		 * minutes) and closes them when it stops: either way the
		 * next connection registers everything again, at once.
		 */
		bool quiet = isns.nreq == 0;

		if (!quiet)
			isns_fail("connection closed by the server");
		else
			isns_close();
		log_debug(1, "iSNS: connection closed by the server");
		if (quiet)
			isns.next_try_ms = loop_now_ms() + ISNS_BACKOFF_MIN_MS;
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			isns_fail("receive failed (%s)", strerror(errno));
		return;
	}
	for (size_t off = 0; off < (size_t)n && isns.state == ST_CONNECTED;) {
		const char *why = NULL;
		size_t used;
		int r = isns_rx_feed(&isns.rx, buf + off, (size_t)n - off,
		    &used, &why);

		off += used;
		if (r == ISNS_RX_ERROR) {
			isns_fail("protocol error: %s", why);
			return;
		}
		if (r == ISNS_RX_MORE)
			break;
		if (isns.rx.fn & ISNS_FN_RSP) {
			isns_response(&isns.rx);
		} else if (isns.rx.fn == ISNS_FN_ESI ||
		    isns.rx.fn == ISNS_FN_SCN) {
			if (isns_server_request(&isns.tx, &isns.rx))
				isns_flush();
		} else {
			isns_fail("protocol error: unexpected function "
				  "0x%04x",
			    isns.rx.fn);
			return;
		}
		if (isns.state != ST_CONNECTED)
			return;
		isns_rx_done(&isns.rx);
	}
}

static void
isns_conn_event(void *arg, unsigned int events)
{
	(void)arg;
	if (isns.state == ST_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(isns.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err != 0) {
			isns_fail("cannot connect (%s)", strerror(err));
			return;
		}
		isns_connected();
		return;
	}
	if (events & (LOOP_READ | LOOP_ERROR))
		isns_conn_read();
	if (isns.state == ST_CONNECTED && (events & LOOP_WRITE))
		isns_flush();
}

static void
isns_connect(void)
{
	int fd = socket(isns.srv.ss_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		isns_fail("socket: %s", strerror(errno));
		return;
	}
	isns.fd = fd;
	isns.state = ST_CONNECTING;
	isns.state_ms = loop_now_ms();
	if (loop_fd_add(isns.loop, fd, LOOP_WRITE, isns_conn_event, NULL,
		&isns.w) != 0) {
		close(fd);
		isns.fd = -1;
		isns_fail("out of memory");
		return;
	}
	if (connect(fd, (struct sockaddr *)&isns.srv, isns.srvlen) == 0) {
		isns_connected();
		return;
	}
	if (errno != EINPROGRESS)
		isns_fail("cannot connect (%s)", strerror(errno));
}

/* ---- housekeeping ------------------------------------------------------ */

static void
isns_tick(void *arg)
{
	uint64_t now = loop_now_ms();
	struct isns_collect c;

	(void)arg;
	loop_timer_arm(isns.tick, ISNS_TICK_MS);
	/* The target set changed (reload, ietadm)? */
	if (isns_collect(&c)) {
		if (c.print != isns.regd_print)
			isns.dirty = true;
		mem_free(c.t);
	}
	for (unsigned int i = 0; i < ISNS_ESI_CONNS; i++)
		if (isns.peer[i].fd >= 0 &&
		    (isns.peer[i].rx.hdr_got > 0 ||
			isns.peer[i].rx.in_message) &&
		    now - isns.peer[i].last_ms > ISNS_PEER_STALL_MS)
			isns_peer_close(&isns.peer[i]);
	switch (isns.state) {
	case ST_IDLE:
		/* Nothing to tell a server we are not talking to yet. */
		if (now >= isns.next_try_ms &&
		    (isns.dirty || isns.nregd > 0 || isns.failing))
			isns_connect();
		return;
	case ST_CONNECTING:
		if (now - isns.state_ms > ISNS_CONNECT_TIMEOUT_MS)
			isns_fail("connection timed out");
		return;
	case ST_CONNECTED:
		break;
	}
	for (unsigned int i = 0; i < isns.nreq; i++)
		if (now - isns.req[i].sent_ms > ISNS_REPLY_TIMEOUT_MS) {
			isns_fail("no answer within %u s",
			    ISNS_REPLY_TIMEOUT_MS / 1000);
			return;
		}
	/*
	 * A server that restarted with an empty database stops sending
	 * ESIs to an entity it no longer knows: register again.
	 */
	uint64_t gap = isns.esi_gap_ms > ISNS_ESI_INTERVAL * 1000ull
	    ? isns.esi_gap_ms
	    : ISNS_ESI_INTERVAL * 1000ull;

	if (isns.registered && isns.lport[0] != 0 && isns.had_esi &&
	    now - isns.last_esi_ms > 3 * gap + ISNS_ESI_SLACK_MS) {
		log_notice("iSNS: no status inquiry from %s for %llu s; "
			   "registering again",
		    isns.server,
		    (unsigned long long)(now - isns.last_esi_ms) / 1000);
		isns.last_esi_ms = now;
		isns.dirty = true;
	}
	if (isns.dirty || now - isns.last_reg_ms > ISNS_REFRESH_MS) {
		isns_register();
		return;
	}
	if (isns.access_control && isns.registered &&
	    (isns.requery || now - isns.last_query_ms > ISNS_QUERY_MS))
		isns_query_all();
}

/* ---- the interface ----------------------------------------------------- */

static int
isns_setup(const char *server, bool access_control)
{
	int err;

	snprintf(isns.server, sizeof(isns.server), "%s", server);
	isns.access_control = access_control;
	isns_acl_set_enabled(access_control);
	err = isns_resolve(server, &isns.srv, &isns.srvlen);
	if (err != 0) {
		log_error("iSNSServer %s: %s; iSNS is off until a reload",
		    server, gai_strerror(err));
		return -EINVAL;
	}
	isns.active = true;
	isns.dirty = true;
	isns.next_try_ms = 0;
	isns.backoff_ms = 0;
	isns.failing = false;
	isns.had_esi = false;
	isns.esi_gap_ms = 0;
	isns.regd_print = 0;
	log_notice("iSNS: server %s%s", server,
	    access_control ? ", its discovery domains decide access" : "");
	return 0;
}

int
isns_start(struct loop *loop, const char *server, bool access_control,
    const struct sockaddr_storage *portals, unsigned int nportals)
{
	isns.loop = loop;
	for (unsigned int i = 0; i < ISNS_ESI_CONNS; i++)
		isns.peer[i].fd = -1;
	if (nportals > LISTEN_MAX)
		nportals = LISTEN_MAX;
	memcpy(isns.portals, portals, nportals * sizeof(*portals));
	isns.nportals = nportals;
	isns.lfd[0] = isns.lfd[1] = -1;
	isns.tick = loop_timer_new(loop, isns_tick, NULL);
	if (isns.tick == NULL)
		return -ENOMEM;
	if (server == NULL)
		return 0;
	if (isns_setup(server, access_control) != 0)
		return -EINVAL;
	loop_timer_arm(isns.tick, 0);
	return 0;
}

static void
isns_shut(void)
{
	isns_close();
	isns_esi_close();
	mem_free(isns.regd);
	isns.regd = NULL;
	isns.nregd = 0;
	isns.active = false;
	isns.failing = false;
	isns_acl_set_enabled(false);
	isns_acl_clear();
	if (isns.tick != NULL)
		loop_timer_disarm(isns.tick);
}

void
isns_reload(const char *server, bool access_control)
{
	if (isns.tick == NULL)
		return;
	if (server == NULL ||
	    (isns.active && strcmp(server, isns.server) != 0) ||
	    (!isns.active && isns.server[0] != '\0')) {
		if (isns.active)
			log_notice("iSNS: leaving server %s", isns.server);
		isns_shut();
		isns.server[0] = '\0';
	}
	if (server == NULL)
		return;
	if (!isns.active) {
		if (isns_setup(server, access_control) == 0)
			loop_timer_arm(isns.tick, 0);
		else
			isns.server[0] = '\0';
		return;
	}
	if (access_control != isns.access_control) {
		isns.access_control = access_control;
		isns_acl_set_enabled(access_control);
		if (!access_control)
			isns_acl_clear();
		log_notice("iSNS: access control %s",
		    access_control ? "on" : "off");
	}
	isns_targets_changed();
}

void
isns_targets_changed(void)
{
	if (!isns.active)
		return;
	isns.dirty = true;
	isns.requery = true;
	loop_timer_arm(isns.tick, 0);
}

/* Exit: one bounded, blocking exchange, then everything goes. */
void
isns_stop(void)
{
	uint64_t end = loop_now_ms() + ISNS_EXIT_WAIT_MS;

	/*
	 * Between two connections (the server hung up an idle one, or a
	 * retry is due): one more, within the same second.
	 */
	if (isns.active && isns.state != ST_CONNECTED && isns.nregd > 0 &&
	    isns.eid[0] != '\0') {
		int fd = socket(isns.srv.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int err = 0;
		socklen_t len = sizeof(err);

		isns_close();
		if (fd >= 0 &&
		    (connect(fd, (struct sockaddr *)&isns.srv, isns.srvlen) ==
			    0 ||
			(errno == EINPROGRESS &&
			    poll(&pfd, 1, ISNS_EXIT_WAIT_MS / 2) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) ==
				0 &&
			    err == 0))) {
			isns.fd = fd;
			isns.state = ST_CONNECTED;
		} else if (fd >= 0) {
			close(fd);
		}
	}
	if (isns.active && isns.state == ST_CONNECTED && isns.nregd > 0) {
		struct isns_buf b = {0}, msg = {0};
		uint16_t xid = ++isns.xid;
		size_t off = 0;
		bool done = false;

		isns_entity_dereg_payload(&b, isns.regd[0].name);
		isns_buf_message(&msg, ISNS_FN_DEV_DEREG, ISNS_F_CLIENT, xid,
		    b.p, b.len);
		isns_buf_free(&b);
		isns_rx_free(&isns.rx);
		while (!done && !msg.overflow && loop_now_ms() < end) {
			struct pollfd pfd = {.fd = isns.fd,
			    .events = off < msg.len ? POLLOUT : POLLIN};
			uint8_t buf[4096];
			ssize_t n;

			if (poll(&pfd, 1, (int)(end - loop_now_ms())) <= 0)
				break;
			if (off < msg.len) {
				n = send(isns.fd, msg.p + off, msg.len - off,
				    MSG_NOSIGNAL);
				if (n < 0 && errno != EAGAIN)
					break;
				off += n > 0 ? (size_t)n : 0;
				continue;
			}
			n = recv(isns.fd, buf, sizeof(buf), 0);
			if (n <= 0)
				break;
			for (size_t o = 0; o < (size_t)n && !done;) {
				const char *why;
				size_t used;
				int r = isns_rx_feed(&isns.rx, buf + o,
				    (size_t)n - o, &used, &why);

				o += used;
				if (r == ISNS_RX_ERROR)
					goto out;
				if (r == ISNS_RX_MORE)
					break;
				done = isns.rx.xid == xid &&
				    isns.rx.fn ==
					(ISNS_FN_DEV_DEREG | ISNS_FN_RSP);
				isns_rx_done(&isns.rx);
			}
		}
out:
		isns_buf_free(&msg);
		if (done)
			log_notice("iSNS: deregistered entity %s", isns.eid);
		else
			log_warning("iSNS: could not deregister entity %s "
				    "from %s",
			    isns.eid, isns.server);
	} else if (isns.active && isns.nregd > 0) {
		log_warning("iSNS: not connected to %s at exit; entity %s "
			    "stays registered until the server expires it",
		    isns.server, isns.eid);
	}
	isns_shut();
	if (isns.tick != NULL)
		loop_timer_free(isns.tick);
	isns.tick = NULL;
}
