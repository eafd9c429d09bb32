/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * A deliberately small HTTP/1.0 and 1.1 server (RFC 9112) for scrapes,
 * on the main loop next to the iSCSI listeners, so nothing it does may
 * block: every socket is non-blocking, a request is at most
 * METRICS_REQ_MAX bytes, each connection has METRICS_DEADLINE_MS from
 * its accept to the last byte of its answer (a slowloris or a reader
 * that never reads is cut then), and at most METRICS_CONNS_MAX are open
 * (more are closed at once). One request per connection
 * ("Connection: close"): a scrape every few seconds needs no keep-alive.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netdb.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/str.h"
#include "metrics.h"

#define METRICS_CONNS_MAX 8
#define METRICS_REQ_MAX 4096
#define METRICS_DEADLINE_MS 5000
#define METRICS_BODY_MAX (64u << 20)

struct mconn {
	bool used;
	int fd;
	struct loop_watch *watch;
	struct loop_timer *timer;
	char req[METRICS_REQ_MAX + 1];
	size_t rlen;
	struct metrics_buf out; /* headers and body, sent from off */
	size_t off;
};

static struct {
	struct loop *loop;
	int fd;
	struct loop_watch *watch;
	struct mconn conns[METRICS_CONNS_MAX];
	struct log_ratelimit full_rl;
} ms = {.fd = -1};

static void
mconn_close(struct mconn *c)
{
	if (!c->used)
		return;
	loop_fd_del(c->watch);
	c->watch = NULL;
	loop_timer_disarm(c->timer);
	close(c->fd);
	metrics_buf_fini(&c->out);
	c->used = false;
	c->fd = -1;
}

static void
mconn_timeout(void *arg)
{
	mconn_close(arg);
}

static void mconn_event(void *arg, unsigned int events);

/* Send what is left; close when done or when the peer is gone. */
static void
mconn_flush(struct mconn *c)
{
	while (c->off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->off,
		    c->out.len - c->off, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			loop_fd_mod(c->watch, LOOP_WRITE);
			return;
		}
		if (n <= 0) {
			mconn_close(c);
			return;
		}
		c->off += (size_t)n;
	}
	/* No more to say: FIN after the data, then let the peer go. */
	shutdown(c->fd, SHUT_WR);
	mconn_close(c);
}

static void
mconn_reply(struct mconn *c, const char *status, const char *extra, bool head)
{
	struct metrics_buf body = {.max = METRICS_BODY_MAX};
	const char *type = "text/plain; charset=utf-8";

	if (strcmp(status, "200 OK") == 0) {
		metrics_render(&body);
		if (body.failed) {
			metrics_buf_fini(&body);
			status = "500 Internal Server Error";
			log_warning("metrics: out of memory building a scrape");
		} else {
			type = "text/plain; version=0.0.4; charset=utf-8";
		}
	}
	if (strcmp(status, "200 OK") != 0)
		metrics_buf_printf(&body, "%s\n", status);
	c->out.max = METRICS_BODY_MAX + 1024;
	metrics_buf_printf(&c->out,
	    "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n%s\r\n",
	    status, type, body.len, extra);
	if (!head && body.len > 0 && !c->out.failed)
		metrics_buf_printf(&c->out, "%.*s", (int)body.len, body.data);
	metrics_buf_fini(&body);
	if (c->out.failed) {
		mconn_close(c);
		return;
	}
	c->off = 0;
	mconn_flush(c);
}

/*
 * The request line: METHOD SP request-target SP HTTP-version. Only GET
 * (and HEAD, which every HTTP server must take) of /metrics, with or
 * without a query, is served.
 */
static void
mconn_request(struct mconn *c)
{
	char *line = c->req, *sp1, *sp2, *end;
	size_t plen;

	/* A NUL is no part of HTTP text (RFC 9112 2.2). */
	if (memchr(c->req, '\0', c->rlen) != NULL) {
		mconn_reply(c, "400 Bad Request", "", false);
		return;
	}
	end = strpbrk(line, "\r\n");
	if (end != NULL)
		*end = '\0';
	sp1 = strchr(line, ' ');
	sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		mconn_reply(c, "400 Bad Request", "", false);
		return;
	}
	*sp1 = '\0';
	*sp2 = '\0';
	bool head = strcmp(line, "HEAD") == 0;
	if (strcmp(line, "GET") != 0 && !head) {
		mconn_reply(c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n",
		    false);
		return;
	}
	plen = strcspn(sp1 + 1, "?");
	if (plen != strlen("/metrics") || strncmp(sp1 + 1, "/metrics", plen))
		mconn_reply(c, "404 Not Found", "", head);
	else
		mconn_reply(c, "200 OK", "", head);
}

static void
mconn_event(void *arg, unsigned int events)
{
	struct mconn *c = arg;

	if (c->out.len > 0) {
		mconn_flush(c);
		return;
	}
	(void)events;
	for (;;) {
		ssize_t n =
		    recv(c->fd, c->req + c->rlen, METRICS_REQ_MAX - c->rlen, 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			mconn_close(c);
			return;
		}
		c->rlen += (size_t)n;
		c->req[c->rlen] = '\0';
		if (memmem(c->req, c->rlen, "\r\n\r\n", 4) != NULL ||
		    memmem(c->req, c->rlen, "\n\n", 2) != NULL ||
		    memchr(c->req, '\0', c->rlen) != NULL) {
			loop_fd_mod(c->watch, 0);
			mconn_request(c);
			return;
		}
		if (c->rlen == METRICS_REQ_MAX) {
			loop_fd_mod(c->watch, 0);
			mconn_reply(c, "431 Request Header Fields Too Large",
			    "", false);
			return;
		}
	}
}

static void
metrics_accept(void *arg, unsigned int events)
{
	(void)arg;
	(void)events;
	for (;;) {
		int fd =
		    accept4(ms.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct mconn *c = NULL;
		unsigned int dropped;

		if (fd < 0)
			return;
		for (unsigned int i = 0; i < METRICS_CONNS_MAX; i++)
			if (!ms.conns[i].used) {
				c = &ms.conns[i];
				break;
			}
		if (c == NULL) {
			if (log_ratelimit_pass(&ms.full_rl, &dropped))
				log_warning("metrics: %u connections open, "
					    "closing a new one",
				    METRICS_CONNS_MAX);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->rlen = 0;
		c->off = 0;
		memset(&c->out, 0, sizeof(c->out));
		if (loop_fd_add(ms.loop, fd, LOOP_READ, mconn_event, c,
			&c->watch) != 0) {
			close(fd);
			continue;
		}
		c->used = true;
		loop_timer_arm(c->timer, METRICS_DEADLINE_MS);
	}
}

/* "host:port", "[v6]:port" or ":port"; host NULL for any. */
static int
metrics_split(char *s, char **host, char **port)
{
	char *colon;

	if (s[0] == '[') {
		char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -EINVAL;
		*close = '\0';
		*host = s + 1;
		*port = close + 2;
		return 0;
	}
	colon = strrchr(s, ':');
	if (colon == NULL || strchr(s, ':') != colon)
		return -EINVAL;
	*colon = '\0';
	*host = s[0] != '\0' ? s : NULL;
	*port = colon + 1;
	return 0;
}

/* Can this host make IPv6 sockets at all? */
static bool
metrics_probe_v6(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int
metrics_start(struct loop *loop, const char *addr, char *why, size_t whylen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	char copy[128], *host, *port, shown[160];
	uint64_t pn;
	int err, one = 1, zero = 0;

	str_escape(shown, sizeof(shown), addr, strlen(addr));
	if (strlen(addr) >= sizeof(copy) ||
	    metrics_split(strcpy(copy, addr), &host, &port) != 0 ||
	    str_to_u64(port, 1, 65535, false, &pn) != 0) {
		snprintf(why, whylen,
		    "--metrics=%s: not ADDRESS:PORT (127.0.0.1:9117, "
		    "[::1]:9117 or :9117)",
		    shown);
		return -EINVAL;
	}
	/*
	 * ":PORT" means every address: IPv6's "::" takes IPv4 too with
	 * V6ONLY off; a host without IPv6 gets IPv4's 0.0.0.0.
	 */
	if (host == NULL) {
		hints.ai_family = AF_INET6;
		if (getaddrinfo("::", port, &hints, &ai) != 0 ||
		    !metrics_probe_v6()) {
			if (ai != NULL)
				freeaddrinfo(ai);
			ai = NULL;
			hints.ai_family = AF_INET;
		}
	}
	err = ai != NULL ? 0 : getaddrinfo(host, port, &hints, &ai);
	if (err != 0) {
		snprintf(why, whylen, "--metrics=%s: %s", shown,
		    gai_strerror(err));
		return -EINVAL;
	}
	ms.fd = socket(ai->ai_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ms.fd >= 0 && ai->ai_family == AF_INET6 && host == NULL)
		(void)setsockopt(ms.fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
		    sizeof(zero));
	if (ms.fd < 0 ||
	    setsockopt(ms.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(ms.fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(ms.fd, 16) != 0) {
		err = -errno;
		snprintf(why, whylen, "--metrics=%s: cannot listen (%s)", shown,
		    strerror(errno));
		freeaddrinfo(ai);
		metrics_stop();
		return err;
	}
	freeaddrinfo(ai);
	ms.loop = loop;
	for (unsigned int i = 0; i < METRICS_CONNS_MAX; i++) {
		ms.conns[i].fd = -1;
		ms.conns[i].timer =
		    loop_timer_new(loop, mconn_timeout, &ms.conns[i]);
		if (ms.conns[i].timer == NULL) {
			snprintf(why, whylen, "--metrics: out of memory");
			metrics_stop();
			return -ENOMEM;
		}
	}
	if (loop_fd_add(loop, ms.fd, LOOP_READ, metrics_accept, NULL,
		&ms.watch) != 0) {
		snprintf(why, whylen, "--metrics: out of memory");
		metrics_stop();
		return -ENOMEM;
	}
	log_info("metrics: serving GET /metrics on %s", shown);
	return 0;
}

void
metrics_stop(void)
{
	for (unsigned int i = 0; i < METRICS_CONNS_MAX; i++) {
		mconn_close(&ms.conns[i]);
		if (ms.conns[i].timer != NULL)
			loop_timer_free(ms.conns[i].timer);
		ms.conns[i].timer = NULL;
	}
	if (ms.watch != NULL)
		loop_fd_del(ms.watch);
	ms.watch = NULL;
	if (ms.fd >= 0)
		close(ms.fd);
	ms.fd = -1;
}
