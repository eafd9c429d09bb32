/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The control socket server on the main loop: the Unix stream socket
 * ietadm connects to, each client's buffers and the framing of its
 * requests and answers (ctl_proto.h), one request at a time handed to
 * ctl_request_run() (ops.c). Its timer keeps the status files current,
 * as does every change a request makes. Bad input from a client costs
 * that client its connection, never the daemon its state.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "target/target.h"
#include "util/alloc.h"
#include "util/list.h"
#include "util/log.h"
#include "util/str.h"
#include "ctl_int.h"

#define CTL_CLIENTS_MAX 32            /* more concurrent clients are refused */
#define CTL_CLIENT_IDLE_MS 10000      /* a client that stalls this long goes */
#define CTL_STATUS_POLL_MS 1000       /* status files refresh period */
#define CTL_DRAIN_MAX (1024u * 1024u) /* unread input discarded at most */
#define CTL_SOCKET_MODE 0600
#define CTL_STATUS_DIR_MODE 0755

struct ctl_client {
	struct list_node node;
	int fd;
	uid_t uid;
	struct loop_watch *watch;
	struct loop_timer *timer;
	uint8_t hdr[CTL_FRAME_HDR_LEN];
	size_t hdr_got;
	char *req; /* payload being read, req_len bytes */
	size_t req_len;
	size_t req_got;
	struct ctl_buf rsp; /* frame being written */
	size_t rsp_off;
	size_t drained;
	bool draining;       /* answered an error: discard input, close */
	bool shutdown_after; /* "stop all activity" once answered */
	bool eof;            /* the client closed its side */
	bool close_now;      /* no answer can be sent: just close */
	unsigned long fail_alloc_arm; /* op=debug: arm after answering */
};

static struct {
	struct loop *loop;
	int fd;
	struct loop_watch *watch;
	char path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
	char status_dir[PATH_MAX];
	uid_t uid;
	ctl_shutdown_fn *shutdown;
	struct list_node clients;
	unsigned int nclients;
	struct loop_timer *status_timer;
	struct ctl_buf last_volume;
	struct ctl_buf last_session;
	bool have_last;
	atomic_bool update_posted;
	atomic_bool running; /* read by ctl_status_update on any thread */
} ctl = {.fd = -1};

/* ---- status files ------------------------------------------------------ */

/* The live capacity of a LUN for the volume text. */
bool
ctl_lun_size(unsigned int tid, unsigned int lun, uint64_t *blocks,
    unsigned int *block_size)
{
	return target_lun_capacity(tid, lun, blocks, block_size) == 0;
}

/* Write name when its text differs from what was written last time. */
static void
ctl_status_replace(const char *name, struct ctl_buf *now, struct ctl_buf *last)
{
	int err;

	if (ctl.have_last && !last->failed && now->len == last->len &&
	    (now->len == 0 || memcmp(now->data, last->data, now->len) == 0))
		return;
	err = ctl_status_write(ctl.status_dir, name, now->data, now->len);
	if (err != 0) {
		log_warning("status: cannot write %s/%s (%s)", ctl.status_dir,
		    name, strerror(-err));
		ctl_buf_fini(last);
		last->failed = true; /* differs from anything: retry */
		return;
	}
	ctl_buf_fini(last);
	*last = *now;
	ctl_buf_init(now, CTL_RSP_MAX);
}

static void
ctl_status_refresh(void)
{
	struct ctl_buf vol, ses;
	struct iscsi_session_info *s = NULL;
	unsigned int n = 0;
	struct conf *conf;

	if (!ctl.running || ctl.status_dir[0] == '\0')
		return;
	conf = target_snapshot();
	if (conf == NULL)
		return;
	if (iscsi_admin_sessions(&s, &n) != 0) {
		s = NULL;
		n = 0;
	}
	ctl_buf_init(&vol, CTL_RSP_MAX);
	ctl_buf_init(&ses, CTL_RSP_MAX);
	if (ctl_status_volume(conf, ctl_lun_size, &vol) &&
	    ctl_status_session(conf, s, n, &ses)) {
		ctl_status_replace("volume", &vol, &ctl.last_volume);
		ctl_status_replace("session", &ses, &ctl.last_session);
		ctl.have_last = true;
	}
	ctl_buf_fini(&vol);
	ctl_buf_fini(&ses);
	mem_free(s);
	conf_free(conf);
}

static void
ctl_status_posted(void *arg)
{
	(void)arg;
	atomic_store(&ctl.update_posted, false);
	ctl_status_refresh();
}

static void
ctl_status_tick(void *arg)
{
	(void)arg;
	ctl_status_refresh();
	if (ctl.running)
		loop_timer_arm(ctl.status_timer, CTL_STATUS_POLL_MS);
}

void
ctl_status_update(void)
{
	if (!ctl.running)
		return;
	if (loop_current() == ctl.loop) {
		ctl_status_refresh();
		return;
	}
	/* Coalesce: one pending refresh covers any number of changes. */
	if (!atomic_exchange(&ctl.update_posted, true) &&
	    loop_post(ctl.loop, ctl_status_posted, NULL) != 0)
		atomic_store(&ctl.update_posted, false);
}

/* ---- connections ------------------------------------------------------- */

static void ctl_client_io(void *arg, unsigned int events);

static void
ctl_client_free(struct ctl_client *cl)
{
	list_remove(&cl->node);
	ctl.nclients--;
	if (cl->watch != NULL)
		loop_fd_del(cl->watch);
	if (cl->timer != NULL)
		loop_timer_free(cl->timer);
	close(cl->fd);
	mem_free(cl->req);
	ctl_buf_fini(&cl->rsp);
	mem_free(cl);
}

static void
ctl_client_timeout(void *arg)
{
	struct ctl_client *cl = arg;

	log_debug(1, "ietadm: client idle for %u ms; closing",
	    CTL_CLIENT_IDLE_MS);
	ctl_client_free(cl);
}

/*
 * Frame an answer for the client. When it cannot be framed (out of
 * memory, over CTL_RSP_MAX) the client gets a short error instead.
 */
static void
ctl_client_answer(struct ctl_client *cl, int err, const char *why,
    const struct ctl_buf *body)
{
	char head[CTL_RSP_HEAD_MAX];
	char msg[CTL_MSG_MAX];
	uint8_t hdr[CTL_FRAME_HDR_LEN];
	struct strbuf sb;
	size_t blen = body != NULL && !body->failed ? body->len : 0;

	if (body != NULL && body->failed && err == 0) {
		err = -ENOMEM;
		why = "the answer is too large or memory ran out";
	}
	strbuf_init(&sb, head, sizeof(head));
	strbuf_printf(&sb, "%s=%d\n%s=%d\n", CTL_K_VERSION, CTL_PROTO_VERSION,
	    CTL_K_STATUS, -err);
	if (err != 0) {
		/* Keep the sentence one printable line. */
		snprintf(msg, sizeof(msg), "%s", why != NULL ? why : "error");
		for (char *p = msg; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		strbuf_printf(&sb, "%s=%s\n", CTL_K_MESSAGE, msg);
	}
	strbuf_append(&sb, "\n", 1);
	ctl_buf_fini(&cl->rsp);
	ctl_buf_init(&cl->rsp, CTL_FRAME_HDR_LEN + CTL_RSP_MAX);
	put_be32(hdr, (uint32_t)(sb.len + blen));
	ctl_buf_append(&cl->rsp, hdr, sizeof(hdr));
	ctl_buf_append(&cl->rsp, sb.buf, sb.len);
	if (blen > 0)
		ctl_buf_append(&cl->rsp, body->data, blen);
	cl->rsp_off = 0;
	if (cl->rsp.failed)
		cl->close_now = true; /* no memory even for an error */
}

/* Answer an error the client caused and close once it is sent. */
static void
ctl_client_reject(struct ctl_client *cl, int err, const char *why)
{
	log_info("ietadm: request refused: %s", why);
	ctl_client_answer(cl, err, why, NULL);
	cl->draining = true;
}

static void
ctl_client_request(struct ctl_client *cl)
{
	struct ctl_req *req;
	struct ctl_answer *a;
	char why[CTL_WHY_LEN];
	int err;

	/* Both are large; keep them off the main loop's stack. */
	req = mem_alloc(sizeof(*req));
	a = mem_zalloc(sizeof(*a));
	if (req == NULL || a == NULL) {
		mem_free(req);
		mem_free(a);
		ctl_client_reject(cl, -ENOMEM, "out of memory");
		return;
	}
	ctl_buf_init(&a->body, CTL_RSP_MAX - CTL_RSP_HEAD_MAX);
	err = ctl_req_parse(cl->req, cl->req_len, req, why, sizeof(why));
	mem_free(cl->req);
	cl->req = NULL;
	cl->req_len = cl->req_got = 0;
	cl->hdr_got = 0;
	if (err != 0) {
		ctl_client_reject(cl, err, why);
	} else {
		bool walked = strcmp(req->op, CTL_OP_DEBUG) != 0;

		/* The fault hook walks the operation, not our plumbing. */
		if (walked)
			alloc_fail_pause(false);
		ctl_request_run(req, cl->uid, a);
		if (a->shutdown_after)
			cl->shutdown_after = true;
		cl->fail_alloc_arm = a->fail_alloc_arm;
		if (a->changed)
			ctl_status_refresh();
		if (walked)
			alloc_fail_pause(true);
		ctl_client_answer(cl, a->err, a->why, &a->body);
		if (a->err != 0)
			log_info("ietadm: op %s refused: %s", req->op, a->why);
	}
	ctl_buf_fini(&a->body);
	mem_free(a);
	mem_free(req);
	if (cl->fail_alloc_arm != 0) {
		alloc_fail_nth(cl->fail_alloc_arm, 0);
		cl->fail_alloc_arm = 0;
	}
}

/* The frame header is in: check it and make room for the payload. */
static bool
ctl_client_hdr_done(struct ctl_client *cl)
{
	int err = ctl_frame_len(cl->hdr, CTL_REQ_MAX, &cl->req_len);

	if (err == -EMSGSIZE) {
		char why[CTL_WHY_LEN];

		snprintf(why, sizeof(why),
		    "request too large (%u bytes; the limit is %u)",
		    get_be32(cl->hdr), CTL_REQ_MAX);
		ctl_client_reject(cl, err, why);
		return false;
	}
	if (err != 0) {
		ctl_client_reject(cl, err, "malformed request (empty frame)");
		return false;
	}
	cl->req = mem_alloc(cl->req_len);
	cl->req_got = 0;
	if (cl->req == NULL) {
		ctl_client_reject(cl, -ENOMEM, "out of memory");
		return false;
	}
	return true;
}

/* Read what is there. Returns false when the client is gone. */
static bool
ctl_client_read(struct ctl_client *cl)
{
	ssize_t r;

	for (;;) {
		if (cl->draining) {
			char junk[4096];

			r = read(cl->fd, junk, sizeof(junk));
			if (r > 0) {
				cl->drained += (size_t)r;
				if (cl->drained > CTL_DRAIN_MAX)
					return false;
				continue;
			}
		} else if (cl->rsp.len > cl->rsp_off) {
			return true; /* one request at a time */
		} else if (cl->hdr_got < CTL_FRAME_HDR_LEN) {
			r = read(cl->fd, cl->hdr + cl->hdr_got,
			    CTL_FRAME_HDR_LEN - cl->hdr_got);
			if (r > 0) {
				cl->hdr_got += (size_t)r;
				if (cl->hdr_got == CTL_FRAME_HDR_LEN &&
				    !ctl_client_hdr_done(cl))
					return true;
				continue;
			}
		} else {
			r = read(cl->fd, cl->req + cl->req_got,
			    cl->req_len - cl->req_got);
			if (r > 0) {
				cl->req_got += (size_t)r;
				if (cl->req_got == cl->req_len) {
					ctl_client_request(cl);
					return true;
				}
				continue;
			}
		}
		if (r == 0) {
			/* Half-closed after its request: still answer it. */
			cl->eof = true;
			return cl->rsp.len > cl->rsp_off;
		}
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK;
	}
}

/* Write what fits. Returns false when the client is gone. */
static bool
ctl_client_write(struct ctl_client *cl)
{
	while (cl->rsp_off < cl->rsp.len) {
		ssize_t w = send(cl->fd, cl->rsp.data + cl->rsp_off,
		    cl->rsp.len - cl->rsp_off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK;
		cl->rsp_off += (size_t)w;
	}
	if (cl->rsp.len > 0 && cl->rsp_off == cl->rsp.len) {
		ctl_buf_fini(&cl->rsp);
		ctl_buf_init(&cl->rsp, CTL_RSP_MAX);
		cl->rsp_off = 0;
		if (cl->draining)
			shutdown(cl->fd, SHUT_WR);
		if (cl->shutdown_after) {
			cl->shutdown_after = false;
			if (ctl.shutdown != NULL)
				ctl.shutdown();
		}
	}
	return true;
}

static void
ctl_client_io(void *arg, unsigned int events)
{
	struct ctl_client *cl = arg;
	bool alive = true;

	alloc_fail_pause(true);
	loop_timer_arm(cl->timer, CTL_CLIENT_IDLE_MS);
	if (events & (LOOP_READ | LOOP_ERROR))
		alive = ctl_client_read(cl);
	if (alive)
		alive = ctl_client_write(cl);
	if (cl->close_now)
		alive = false;
	if (alive && cl->eof && cl->rsp_off >= cl->rsp.len)
		alive = false; /* answered, and the client is done */
	if (!alive) {
		ctl_client_free(cl);
	} else {
		unsigned int want =
		    cl->rsp_off < cl->rsp.len ? LOOP_WRITE : LOOP_READ;

		loop_fd_mod(cl->watch, want);
	}
	alloc_fail_pause(false);
}

/* Send an answer on a fresh socket and drop it (refused callers). */
static void
ctl_accept_refuse(int fd, const char *why)
{
	char buf[CTL_MSG_MAX + 64];
	struct strbuf sb;

	strbuf_init(&sb, buf, sizeof(buf));
	ctl_frame_begin(&sb);
	strbuf_printf(&sb, "%s=%d\n%s=%s\n\n", CTL_K_STATUS, EACCES,
	    CTL_K_MESSAGE, why);
	if (ctl_frame_end(&sb) &&
	    send(fd, sb.buf, sb.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug(1, "ietadm: refusal not sent (%s)", strerror(errno));
	shutdown(fd, SHUT_WR);
	close(fd);
}

static void
ctl_accept_all(void)
{
	struct ctl_client *cl;
	struct ucred cred;
	socklen_t clen;

	for (;;) {
		int fd =
		    accept4(ctl.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warning("ietadm: accept failed (%s)",
				    strerror(errno));
			return;
		}
		/* Unknown credentials count as nobody's. */
		cred.uid = (uid_t)-1;
		clen = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) !=
			0 ||
		    (cred.uid != 0 && cred.uid != ctl.uid)) {
			log_warning("ietadm: connection from uid %ld refused",
			    (long)cred.uid);
			ctl_accept_refuse(fd, "permission denied");
			continue;
		}
		if (ctl.nclients >= CTL_CLIENTS_MAX) {
			ctl_accept_refuse(fd,
			    "too many ietadm clients; try "
			    "again");
			continue;
		}
		cl = mem_zalloc(sizeof(*cl));
		if (cl == NULL) {
			close(fd);
			continue;
		}
		cl->fd = fd;
		cl->uid = cred.uid;
		ctl_buf_init(&cl->rsp, CTL_RSP_MAX);
		list_add_tail(&ctl.clients, &cl->node);
		ctl.nclients++;
		cl->timer = loop_timer_new(ctl.loop, ctl_client_timeout, cl);
		if (cl->timer == NULL ||
		    loop_fd_add(ctl.loop, fd, LOOP_READ, ctl_client_io, cl,
			&cl->watch) != 0) {
			ctl_client_free(cl);
			continue;
		}
		loop_timer_arm(cl->timer, CTL_CLIENT_IDLE_MS);
	}
}

/* New ietadm clients; their set-up is plumbing the fault hook skips. */
static void
ctl_accept(void *arg, unsigned int events)
{
	(void)arg;
	(void)events;
	alloc_fail_pause(true);
	ctl_accept_all();
	alloc_fail_pause(false);
}

/* ---- start / stop ------------------------------------------------------ */

/* True when a daemon answers on path (then it must not be replaced). */
static bool
ctl_socket_alive(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	alive = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return alive;
}

static int
ctl_status_dir_make(const char *dir, uid_t uid, char *why, size_t whylen)
{
	struct stat st;

	if (mkdir(dir, CTL_STATUS_DIR_MODE) != 0 && errno != EEXIST) {
		int err = -errno;

		snprintf(why, whylen, "cannot create status directory %s (%s)",
		    dir, strerror(errno));
		return err;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "status directory %s is not a directory",
		    dir);
		return -ENOTDIR;
	}
	/* The files are rewritten after privileges are dropped. */
	if (geteuid() == 0 && uid != 0 && st.st_uid != uid &&
	    chown(dir, uid, (gid_t)-1) != 0)
		log_warning("status: cannot hand %s to uid %ld (%s)", dir,
		    (long)uid, strerror(errno));
	return 0;
}

int
ctl_start(struct loop *main_loop, const char *socket_path,
    const char *status_dir, uid_t allowed_uid, ctl_shutdown_fn *shutdown,
    char *why, size_t whylen)
{
	struct sockaddr_un sun;
	mode_t old_mask;
	int fd, err;

	if (ctl.running) {
		snprintf(why, whylen, "control socket already running");
		return -EALREADY;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(socket_path) >= sizeof(sun.sun_path) ||
	    socket_path[0] == '\0') {
		snprintf(why, whylen, "control socket path too long or empty");
		return -ENAMETOOLONG;
	}
	if (status_dir != NULL &&
	    strlen(status_dir) >= sizeof(ctl.status_dir)) {
		snprintf(why, whylen, "status directory path too long");
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, socket_path, strlen(socket_path));
	if (status_dir != NULL && status_dir[0] != '\0') {
		err = ctl_status_dir_make(status_dir, allowed_uid, why, whylen);
		if (err != 0)
			return err;
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		snprintf(why, whylen, "cannot create control socket (%s)",
		    strerror(errno));
		return err;
	}
	/* Never let the socket exist, even briefly, with wider access. */
	old_mask = umask(0177);
	err = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	if (err != 0 && errno == EADDRINUSE && !ctl_socket_alive(&sun)) {
		struct stat st;

		/* A stale socket of a dead ietd: replace it, nothing else. */
		if (lstat(socket_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    unlink(socket_path) == 0)
			err = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
		else
			errno = EADDRINUSE;
	} else if (err != 0 && errno == EADDRINUSE) {
		umask(old_mask);
		close(fd);
		snprintf(why, whylen, "another ietd answers on %s",
		    socket_path);
		return -EADDRINUSE;
	}
	umask(old_mask);
	if (err != 0) {
		err = -errno;
		snprintf(why, whylen, "cannot bind control socket %s (%s)",
		    socket_path, strerror(errno));
		close(fd);
		return err;
	}
	if (chmod(socket_path, CTL_SOCKET_MODE) != 0 ||
	    (geteuid() == 0 && allowed_uid != 0 &&
		chown(socket_path, allowed_uid, (gid_t)-1) != 0) ||
	    listen(fd, CTL_CLIENTS_MAX) != 0) {
		err = -errno;
		snprintf(why, whylen, "cannot set up control socket %s (%s)",
		    socket_path, strerror(errno));
		unlink(socket_path);
		close(fd);
		return err;
	}

	ctl.loop = main_loop;
	ctl.fd = fd;
	ctl.uid = allowed_uid;
	ctl.shutdown = shutdown;
	snprintf(ctl.path, sizeof(ctl.path), "%s", socket_path);
	snprintf(ctl.status_dir, sizeof(ctl.status_dir), "%s",
	    status_dir != NULL ? status_dir : "");
	list_init(&ctl.clients);
	ctl.nclients = 0;
	ctl_buf_init(&ctl.last_volume, CTL_RSP_MAX);
	ctl_buf_init(&ctl.last_session, CTL_RSP_MAX);
	ctl.have_last = false;
	atomic_store(&ctl.update_posted, false);
	ctl.status_timer = loop_timer_new(main_loop, ctl_status_tick, NULL);
	if (ctl.status_timer == NULL ||
	    loop_fd_add(main_loop, fd, LOOP_READ, ctl_accept, NULL,
		&ctl.watch) != 0) {
		if (ctl.status_timer != NULL)
			loop_timer_free(ctl.status_timer);
		ctl.status_timer = NULL;
		unlink(socket_path);
		close(fd);
		ctl.fd = -1;
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	ctl.running = true;
	ctl_status_refresh();
	loop_timer_arm(ctl.status_timer, CTL_STATUS_POLL_MS);
	log_info("control socket %s, status files in %s", socket_path,
	    ctl.status_dir[0] != '\0' ? ctl.status_dir : "(none)");
	return 0;
}

void
ctl_stop(void)
{
	struct list_node *n, *tmp;

	if (!ctl.running)
		return;
	ctl.running = false;
	list_for_each_safe(n, tmp, &ctl.clients)
		ctl_client_free(list_entry(n, struct ctl_client, node));
	loop_fd_del(ctl.watch);
	ctl.watch = NULL;
	loop_timer_free(ctl.status_timer);
	ctl.status_timer = NULL;
	unlink(ctl.path);
	close(ctl.fd);
	ctl.fd = -1;
	ctl_buf_fini(&ctl.last_volume);
	ctl_buf_fini(&ctl.last_session);
}

bool
ctl_shutdown_possible(void)
{
	return ctl.shutdown != NULL;
}
