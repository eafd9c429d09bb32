/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The control socket server: a Unix stream socket on the main loop that
 * answers ietadm's framed requests (ctl_proto.h). Every change goes
 * through the registry's target_admin_*() calls, the same API start-up
 * and SIGHUP use. Bad input from a client costs that client its
 * connection, never the daemon its state.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target/target.h"
#include "util/alloc.h"
#include "util/list.h"
#include "util/log.h"
#include "util/str.h"
#include "ctl.h"
#include "ctl_proto.h"

#define CTL_CLIENTS_MAX 32            /* more concurrent clients are refused */
#define CTL_CLIENT_IDLE_MS 10000      /* a client that stalls this long goes */
#define CTL_STATUS_POLL_MS 1000       /* status files refresh period */
#define CTL_DRAIN_MAX (1024u * 1024u) /* unread input discarded at most */
#define CTL_SOCKET_MODE 0600
#define CTL_STATUS_DIR_MODE 0755
#define CTL_WHY_LEN 256
/* A peer or config string escaped: up to 4 bytes for each of 255. */
#define CTL_ESC_MAX (4 * 255 + 1)

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
static bool
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

/* ---- request handling -------------------------------------------------- */

/* What one request produced: a status, a sentence, a body. */
struct ctl_answer {
	int err; /* 0 or -errno */
	char why[CTL_WHY_LEN];
	struct ctl_buf body;
	bool changed; /* state changed: refresh the status files */
};

static int ctl_fail(struct ctl_answer *a, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
ctl_fail(struct ctl_answer *a, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->why, sizeof(a->why), fmt, ap);
	va_end(ap);
	a->err = err;
	return err;
}

/* --tid: a number, or a target's name. */
static int
ctl_tid_resolve(const struct ctl_req *req, struct ctl_answer *a,
    unsigned int *tid)
{
	struct target *t;
	uint64_t v;

	*tid = 0;
	if (!req->has_tid)
		return 0;
	if (str_to_u64(req->tid, 0, UINT32_MAX, false, &v) == 0) {
		*tid = (unsigned int)v;
		return 0;
	}
	t = target_find_by_name(req->tid);
	if (t == NULL)
		return ctl_fail(a, -ENOENT, "no target named %s", req->tid);
	*tid = target_tid(t);
	target_put(t);
	return 0;
}

/* A tid that must name an existing target. */
static int
ctl_tid_existing(const struct ctl_req *req, struct ctl_answer *a,
    unsigned int *tid)
{
	struct target *t;
	int err;

	if (!req->has_tid)
		return ctl_fail(a, -EINVAL, "this operation needs --tid");
	err = ctl_tid_resolve(req, a, tid);
	if (err != 0)
		return err;
	t = target_find_by_tid(*tid);
	if (t == NULL)
		return ctl_fail(a, -ENOENT, "no target with tid %u", *tid);
	target_put(t);
	return 0;
}

static int
ctl_number(const char *s, uint64_t max, const char *what, struct ctl_answer *a,
    uint64_t *out)
{
	if (str_to_u64(s, 0, max, false, out) != 0)
		return ctl_fail(a, -EINVAL, "invalid %s \"%s\"", what, s);
	return 0;
}

/*
 * Split --params "k=v,k=v" in place. A piece without '=' continues the
 * previous value, so "HeaderDigest=None,CRC32C" stays one pair. Returns
 * the number of pairs (at most max) or -EINVAL.
 */
static int
ctl_params_split(char *s, char **keys, char **vals, int max)
{
	int n = 0;
	char *p = s, *comma;

	while (p != NULL && *p != '\0') {
		char *eq;

		comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		eq = strchr(p, '=');
		if (eq == NULL) {
			if (n == 0)
				return -EINVAL;
			/* undo the cut: the comma belongs to the value */
			p[-1] = ',';
		} else {
			if (eq == p || n == max)
				return -EINVAL;
			*eq = '\0';
			keys[n] = str_trim(p);
			vals[n] = eq + 1;
			n++;
		}
		p = comma != NULL ? comma + 1 : NULL;
	}
	return n;
}

#define CTL_PARAMS_MAX 32

static struct conf_target *
ctl_conf_target(const struct conf *conf, unsigned int tid)
{
	const struct list_node *n;

	list_for_each(n, &conf->targets) {
		struct conf_target *t = list_entry(n, struct conf_target, node);

		if (t->tid == tid)
			return t;
	}
	return NULL;
}

static struct conf *
ctl_snapshot(struct ctl_answer *a)
{
	struct conf *conf = target_snapshot();

	if (conf == NULL)
		ctl_fail(a, -ENOMEM, "out of memory");
	return conf;
}

/* --op show --tid=N [--sid=0]: the configured parameters. */
static int
ctl_show_target(unsigned int tid, struct ctl_answer *a)
{
	struct conf *conf = ctl_snapshot(a);
	struct conf_target *t;
	char val[64];

	if (conf == NULL)
		return a->err;
	t = ctl_conf_target(conf, tid);
	if (t == NULL) {
		conf_free(conf);
		return ctl_fail(a, -ENOENT, "no target with tid %u", tid);
	}
	for (int k = 0; k < CONF_KEY_COUNT; k++)
		ctl_buf_printf(&a->body, "%s=%s\n", conf_key_defs[k].name,
		    conf_key_format((enum conf_key)k, t->params[k], val,
			sizeof(val)));
	if (t->alias != NULL) {
		char esc[CTL_ESC_MAX];

		ctl_buf_printf(&a->body, "Alias=%s\n",
		    str_escape(esc, sizeof(esc), t->alias, strlen(t->alias)));
	}
	conf_free(conf);
	return 0;
}

/* --op show (nothing else): one "tid:N name:IQN" line per target. */
static int
ctl_show_targets(struct ctl_answer *a)
{
	struct conf *conf = ctl_snapshot(a);
	const struct list_node *n;

	if (conf == NULL)
		return a->err;
	list_for_each(n, &conf->targets) {
		const struct conf_target *t =
		    list_entry(n, const struct conf_target, node);

		ctl_buf_printf(&a->body, "tid:%u name:%s\n", t->tid, t->name);
	}
	conf_free(conf);
	return 0;
}

static int
ctl_show_session(unsigned int tid, uint64_t sid, struct ctl_answer *a)
{
	struct iscsi_session_info *s = NULL;
	unsigned int n = 0;
	int err;

	err = iscsi_admin_sessions(&s, &n);
	if (err != 0)
		return ctl_fail(a, err, "cannot list sessions (%s)",
		    strerror(-err));
	err = ctl_fail(a, -ENOENT, "no session with sid %llu on tid %u",
	    (unsigned long long)sid, tid);
	for (unsigned int i = 0; i < n; i++) {
		if (s[i].tid == tid && s[i].sid == sid) {
			s[i].params[sizeof(s[i].params) - 1] = '\0';
			ctl_buf_printf(&a->body, "%s", s[i].params);
			/* Free text from the peer: one escaped line. */
			if (s[i].alias[0] != '\0') {
				char esc[CTL_ESC_MAX];

				ctl_buf_printf(&a->body, "InitiatorAlias=%s\n",
				    str_escape(esc, sizeof(esc), s[i].alias,
					strnlen(s[i].alias,
					    sizeof(s[i].alias))));
			}
			a->err = err = 0;
			a->why[0] = '\0';
			break;
		}
	}
	mem_free(s);
	return err;
}

static int
ctl_dump(bool secrets, struct ctl_answer *a)
{
	struct conf *conf = ctl_snapshot(a);
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (conf == NULL)
		return a->err;
	f = open_memstream(&text, &len);
	if (f == NULL) {
		conf_free(conf);
		return ctl_fail(a, -ENOMEM, "out of memory");
	}
	conf_write(conf, f, secrets);
	if (fclose(f) != 0) {
		free(text);
		conf_free(conf);
		return ctl_fail(a, -ENOMEM, "out of memory");
	}
	ctl_buf_append(&a->body, text, len);
	free(text); /* open_memstream's buffer comes from malloc */
	conf_free(conf);
	return 0;
}

static int
ctl_status_text(const char *which, struct ctl_answer *a)
{
	struct iscsi_session_info *s = NULL;
	unsigned int n = 0;
	struct conf *conf;
	int err = 0;

	if (strcmp(which, "volume") != 0 && strcmp(which, "session") != 0)
		return ctl_fail(a, -EINVAL,
		    "unknown status \"%s\" (volume or session)", which);
	conf = ctl_snapshot(a);
	if (conf == NULL)
		return a->err;
	if (strcmp(which, "volume") == 0)
		ctl_status_volume(conf, ctl_lun_size, &a->body);
	else if ((err = iscsi_admin_sessions(&s, &n)) == 0)
		ctl_status_session(conf, s, n, &a->body);
	else
		ctl_fail(a, err, "cannot list sessions (%s)", strerror(-err));
	mem_free(s);
	conf_free(conf);
	return err;
}

/* Account lines: "IncomingUser=NAME" (root: "IncomingUser=NAME SECRET"). */
static void
ctl_show_account(struct ctl_answer *a, const char *kind,
    const struct conf_account *acc, const char *only, bool secrets)
{
	if (only != NULL && strcmp(only, acc->user) != 0)
		return;
	if (secrets)
		ctl_buf_printf(&a->body, "%s=%s %s\n", kind, acc->user,
		    acc->secret);
	else
		ctl_buf_printf(&a->body, "%s=%s\n", kind, acc->user);
}

/*
 * --user operations. params: IncomingUser=NAME or OutgoingUser=NAME, and
 * Password=PW for new. tid 0 = the discovery accounts.
 */
static int
ctl_user(const struct ctl_req *req, bool secrets, struct ctl_answer *a)
{
	char params[CTL_REQ_VAL_MAX];
	char *keys[CTL_PARAMS_MAX], *vals[CTL_PARAMS_MAX];
	const char *user = NULL, *password = NULL;
	bool outgoing = false;
	unsigned int tid;
	int n, err;

	err = ctl_tid_resolve(req, a, &tid);
	if (err != 0)
		return err;
	if (tid != 0) {
		struct target *t = target_find_by_tid(tid);

		if (t == NULL)
			return ctl_fail(a, -ENOENT, "no target with tid %u",
			    tid);
		target_put(t);
	}
	snprintf(params, sizeof(params), "%s",
	    req->has_params ? req->params : "");
	n = ctl_params_split(params, keys, vals, CTL_PARAMS_MAX);
	if (n < 0)
		return ctl_fail(a, -EINVAL, "malformed --params");
	for (int i = 0; i < n; i++) {
		if (strcasecmp(keys[i], "IncomingUser") == 0 ||
		    strcasecmp(keys[i], "OutgoingUser") == 0) {
			if (user != NULL)
				return ctl_fail(a, -EINVAL,
				    "give one IncomingUser or OutgoingUser");
			outgoing = strcasecmp(keys[i], "OutgoingUser") == 0;
			user = vals[i];
		} else if (strcasecmp(keys[i], "Password") == 0)
			password = vals[i];
		else
			return ctl_fail(a, -EINVAL,
			    "unknown account parameter %s", keys[i]);
	}

	if (strcmp(req->op, CTL_OP_SHOW) == 0) {
		struct conf *conf = ctl_snapshot(a);
		const struct list_node *head;
		const struct conf_account *out;

		if (conf == NULL)
			return a->err;
		if (tid == 0) {
			head = &conf->incoming;
			out = conf->outgoing;
		} else {
			struct conf_target *t = ctl_conf_target(conf, tid);

			if (t == NULL) {
				conf_free(conf);
				return ctl_fail(a, -ENOENT,
				    "no target with tid %u", tid);
			}
			head = &t->incoming;
			out = t->outgoing;
		}
		if (user == NULL || !outgoing) {
			const struct list_node *ln;

			list_for_each(ln, head)
				ctl_show_account(a, "IncomingUser",
				    list_entry(ln, const struct conf_account,
					node),
				    user, secrets);
		}
		if (out != NULL && (user == NULL || outgoing))
			ctl_show_account(a, "OutgoingUser", out, user, secrets);
		conf_free(conf);
		if (user != NULL && a->body.len == 0)
			return ctl_fail(a, -ENOENT, "no account %s", user);
		return 0;
	}
	if (user == NULL || *user == '\0')
		return ctl_fail(a, -EINVAL,
		    "--params needs IncomingUser=NAME or OutgoingUser=NAME");
	if (strcmp(req->op, CTL_OP_NEW) == 0 ||
	    strcmp(req->op, CTL_OP_UPDATE) == 0) {
		if (password == NULL || *password == '\0')
			return ctl_fail(a, -EINVAL,
			    "--params needs Password=SECRET");
		err = target_admin_account_add(tid, outgoing, user, password,
		    a->why, sizeof(a->why));
	} else if (strcmp(req->op, CTL_OP_DELETE) == 0)
		err = target_admin_account_del(tid, outgoing, user, a->why,
		    sizeof(a->why));
	else
		return ctl_fail(a, -EINVAL, "unknown operation %s", req->op);
	a->err = err;
	return err;
}

static int
ctl_op_new(const struct ctl_req *req, struct ctl_answer *a)
{
	char params[CTL_REQ_VAL_MAX];
	char *keys[CTL_PARAMS_MAX], *vals[CTL_PARAMS_MAX];
	const char *name = NULL;
	unsigned int tid;
	uint64_t v;
	int n, err;

	if (req->has_lun) {
		err = ctl_tid_existing(req, a, &tid);
		if (err == 0)
			err =
			    ctl_number(req->lun, CONF_LUN_MAX, "--lun", a, &v);
		if (err != 0)
			return err;
		if (!req->has_params)
			return ctl_fail(a, -EINVAL,
			    "--params needs Path=...,Type=... or "
			    "Sectors=...,Type=nullio");
		err = a->err = target_admin_lun_add(tid, (unsigned int)v,
		    req->params, a->why, sizeof(a->why));
		return err;
	}
	/* A new target: tid must be a number here (0 = lowest free). */
	tid = 0;
	if (req->has_tid &&
	    ctl_number(req->tid, UINT32_MAX, "--tid", a, &v) != 0)
		return a->err;
	if (req->has_tid)
		tid = (unsigned int)v;
	snprintf(params, sizeof(params), "%s",
	    req->has_params ? req->params : "");
	n = ctl_params_split(params, keys, vals, CTL_PARAMS_MAX);
	if (n < 0)
		return ctl_fail(a, -EINVAL, "malformed --params");
	for (int i = 0; i < n; i++) {
		if (strcasecmp(keys[i], "Name") == 0)
			name = vals[i];
		else
			return ctl_fail(a, -EINVAL,
			    "unknown target parameter %s (use --op update "
			    "after creating the target)",
			    keys[i]);
	}
	if (name == NULL || *name == '\0')
		return ctl_fail(a, -EINVAL, "--params needs Name=IQN");
	err = a->err = target_admin_add(&tid, name, a->why, sizeof(a->why));
	if (err == 0)
		ctl_buf_printf(&a->body, "tid=%u\n", tid);
	return err;
}

static int
ctl_op_delete(const struct ctl_req *req, struct ctl_answer *a)
{
	unsigned int tid;
	uint64_t sid, cid, lun;
	struct target *t;
	int err;

	if (!req->has_tid && !req->has_sid && !req->has_cid && !req->has_lun &&
	    !req->has_params) {
		/* "Stop all activity": shut the daemon down like SIGTERM. */
		if (ctl.shutdown == NULL)
			return ctl_fail(a, -ENOTSUP,
			    "this ietd cannot be stopped through ietadm");
		log_notice("ietadm: stop all activity");
		return 0;
	}
	if (req->has_sid || req->has_cid) {
		if (!req->has_sid || !req->has_cid)
			return ctl_fail(a, -EINVAL,
			    "dropping a connection needs --sid and --cid");
		if (ctl_number(req->sid, UINT64_MAX, "--sid", a, &sid) != 0 ||
		    ctl_number(req->cid, UINT16_MAX, "--cid", a, &cid) != 0)
			return a->err;
		if (req->has_tid) {
			struct iscsi_session_info *s = NULL;
			unsigned int n = 0;
			bool found = false;

			err = ctl_tid_existing(req, a, &tid);
			if (err != 0)
				return err;
			if (iscsi_admin_sessions(&s, &n) == 0)
				for (unsigned int i = 0; i < n; i++)
					found |=
					    s[i].tid == tid && s[i].sid == sid;
			mem_free(s);
			if (!found)
				return ctl_fail(a, -ENOENT,
				    "no session with sid %llu on tid %u",
				    (unsigned long long)sid, tid);
		}
		err = iscsi_admin_conn_drop(sid, (uint16_t)cid);
		if (err != 0)
			return ctl_fail(a, err,
			    "no connection %llu in session %llu",
			    (unsigned long long)cid, (unsigned long long)sid);
		log_notice("ietadm: dropped connection %llu of session %llu",
		    (unsigned long long)cid, (unsigned long long)sid);
		a->changed = true;
		return 0;
	}
	err = ctl_tid_existing(req, a, &tid);
	if (err != 0)
		return err;
	if (req->has_lun) {
		if (ctl_number(req->lun, CONF_LUN_MAX, "--lun", a, &lun) != 0)
			return a->err;
		err = a->err = target_admin_lun_del(tid, (unsigned int)lun,
		    a->why, sizeof(a->why));
		return err;
	}
	t = target_find_by_tid(tid);
	if (t != NULL) {
		unsigned int ns = target_session_count(t);
		char name[CONF_NAME_MAX + 1];

		snprintf(name, sizeof(name), "%s", target_name(t));
		target_put(t);
		if (ns > 0)
			return ctl_fail(a, -EBUSY,
			    "target %s has %u session(s); log them out first",
			    name, ns);
	}
	err = a->err = target_admin_del(tid, a->why, sizeof(a->why));
	return err;
}

/*
 * --op update --tid=N --lun=L [--params=Sectors=N|Size=BYTES]: resize a
 * LUN online, or (no --params) re-read its store's size now. The answer
 * is the capacity afterwards.
 */
static int
ctl_op_update_lun(const struct ctl_req *req, unsigned int tid,
    struct ctl_answer *a)
{
	unsigned int bs = 0;
	uint64_t lun, blocks = 0;
	int err;

	if (ctl_number(req->lun, CONF_LUN_MAX, "--lun", a, &lun) != 0)
		return a->err;
	err = a->err = target_admin_lun_resize(tid, (unsigned int)lun,
	    req->has_params ? req->params : NULL, &blocks, &bs, a->why,
	    sizeof(a->why));
	if (err != 0)
		return err;
	ctl_buf_printf(&a->body, "Sectors=%llu\nBlockSize=%u\nSize=%llu\n",
	    (unsigned long long)blocks, bs, (unsigned long long)(blocks * bs));
	return 0;
}

static int
ctl_op_update(const struct ctl_req *req, struct ctl_answer *a)
{
	char params[CTL_REQ_VAL_MAX];
	char *keys[CTL_PARAMS_MAX], *vals[CTL_PARAMS_MAX];
	unsigned int tid;
	int n, err;

	err = ctl_tid_existing(req, a, &tid);
	if (err != 0)
		return err;
	if (req->has_lun)
		return ctl_op_update_lun(req, tid, a);
	if (!req->has_params)
		return ctl_fail(a, -EINVAL, "--params needs Key=Value pairs");
	snprintf(params, sizeof(params), "%s", req->params);
	n = ctl_params_split(params, keys, vals, CTL_PARAMS_MAX);
	if (n <= 0)
		return ctl_fail(a, -EINVAL, "malformed --params");
	/* Check every key first, so a typo changes nothing. */
	for (int i = 0; i < n; i++)
		if (conf_key_find(keys[i]) == CONF_KEY_COUNT &&
		    strcasecmp(keys[i], "Alias") != 0)
			return ctl_fail(a, -EINVAL,
			    "unknown target parameter %s", keys[i]);
	/* And the values together: a bad one leaves all as they were. */
	err = a->err =
	    target_admin_set(tid, (unsigned int)n, (const char *const *)keys,
		(const char *const *)vals, a->why, sizeof(a->why));
	return err;
}

static int
ctl_op_show(const struct ctl_req *req, bool root, struct ctl_answer *a)
{
	unsigned int tid;
	uint64_t sid;
	int err;

	if (req->dump)
		return ctl_dump(root, a);
	if (req->has_status)
		return ctl_status_text(req->status, a);
	if (!req->has_tid && !req->has_sid)
		return ctl_show_targets(a);
	err = ctl_tid_existing(req, a, &tid);
	if (err != 0)
		return err;
	if (req->has_sid) {
		if (ctl_number(req->sid, UINT64_MAX, "--sid", a, &sid) != 0)
			return a->err;
		if (sid != 0)
			return ctl_show_session(tid, sid, a);
	}
	return ctl_show_target(tid, a);
}

/*
 * op=debug, params=fail-alloc=N: the allocation fault hook, armed once the
 * answer is built (so the answer's own allocations do not count) and
 * counted from there: the test then runs one operation (a login, a
 * command, a reload, another request) and asks again with N=0 to learn
 * whether the failure was hit. Root only; nothing else uses it.
 */
static int
ctl_op_debug(const struct ctl_req *req, bool root, unsigned long *arm,
    struct ctl_answer *a)
{
	static const char key[] = "fail-alloc=";
	uint64_t n;

	if (!root)
		return ctl_fail(a, -EPERM, "debug requests are for root only");
	if (!req->has_params || strncmp(req->params, key, strlen(key)) != 0)
		return ctl_fail(a, -EINVAL,
		    "a debug request needs params=fail-alloc=N");
	if (ctl_number(req->params + strlen(key), UINT32_MAX, "fail-alloc", a,
		&n) != 0)
		return a->err;
	ctl_buf_printf(&a->body, "hits=%lu\n", alloc_fail_hits());
	alloc_fail_nth(0, 0);
	*arm = (unsigned long)n;
	return 0;
}

static void
ctl_request_run(const struct ctl_req *req, uid_t uid, struct ctl_client *cl,
    struct ctl_answer *a)
{
	bool root = uid == 0;
	bool change = strcmp(req->op, CTL_OP_SHOW) != 0;

	if (req->user)
		ctl_user(req, root, a);
	else if (strcmp(req->op, CTL_OP_DEBUG) == 0) {
		ctl_op_debug(req, root, &cl->fail_alloc_arm, a);
		change = false;
	} else if (strcmp(req->op, CTL_OP_SHOW) == 0)
		ctl_op_show(req, root, a);
	else if (strcmp(req->op, CTL_OP_NEW) == 0)
		ctl_op_new(req, a);
	else if (strcmp(req->op, CTL_OP_DELETE) == 0) {
		ctl_op_delete(req, a);
		if (a->err == 0 && !req->has_tid && !req->has_sid &&
		    !req->has_cid && !req->has_lun && !req->has_params)
			cl->shutdown_after = true;
	} else if (strcmp(req->op, CTL_OP_UPDATE) == 0)
		ctl_op_update(req, a);
	else
		ctl_fail(a, -EINVAL,
		    "unknown operation \"%s\" (new, delete, show, update)",
		    req->op);
	if (a->err == 0 && change)
		a->changed = true;
	if (a->err != 0 && a->why[0] == '\0')
		snprintf(a->why, sizeof(a->why), "%s", strerror(-a->err));
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
		ctl_request_run(req, cl->uid, cl, a);
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
