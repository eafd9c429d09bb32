/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * ietd: start-up, signals and shutdown. The main thread owns the listening
 * sockets, signals (through signalfd) and reloads; connections are handed
 * round-robin to the event threads, where the iSCSI engine runs them.
 */
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "config/allow.h"
#include "config/conf.h"
#include "ctl/ctl.h"
#include "iscsi/iscsi.h"
#include "iscsi/iscsi_admin.h"
#include "metrics/metrics.h"
#include "isns/isns.h"
#include "net/listen.h"
#include "net/loop.h"
#include "scsi/scsi.h"
#include "target/target.h"
#include "util/databuf.h"
#include "util/epoch.h"
#include "util/objcache.h"
#include "util/log.h"
#include "daemon.h"
#include "options.h"
#include "sdnotify.h"

#define IETD_VERSION "0.1.0"
#define SHUTDOWN_GRACE_MS 10000 /* sessions get this long to go */
#define ACCEPT_BACKOFF_MS 100   /* pause accepting when out of fds */
#define CAPACITY_POLL_MS 1000   /* backing store sizes re-read this often */

static struct {
	struct ietd_options opt;
	struct loop *main_loop;
	struct loop **workers;
	unsigned int nworkers;
	unsigned int next_worker;
	struct listen_set listeners;
	uint16_t listen_tag[LISTEN_MAX]; /* portal group of each */
	struct conf *portal_groups;      /* those bound (ietd.conf's) */
	struct loop_watch *listen_watch[LISTEN_MAX];
	struct loop_timer *accept_timer;
	struct loop_timer *shutdown_timer;
	struct loop_timer *capacity_timer;
	struct loop_watch *signal_watch;
	int signal_fd;
	int pid_fd;
	bool shutting_down;
	char
	    config_path[PATH_MAX]; /* the ietd.conf last loaded, for messages */
} ietd = {.signal_fd = -1, .pid_fd = -1};

static void
main_report_log(void *arg, const char *msg)
{
	unsigned int *count = arg;

	(*count)++;
	log_error("%s", msg);
}

/*
 * Load ietd.conf and check the syntax of the allow files. Returns the
 * model, or NULL when anything is wrong (every error logged).
 */
/*
 * Which ietd.conf to read, as IET 1.4.20 chose (usr/plain.c, plain_init):
 * the -c file, else /etc/iet/ietd.conf; when that does not exist,
 * /etc/ietd.conf; when neither does, none (no targets: configure through
 * ietadm). IET fell through on any failure to open; we fall through only
 * when a file does not exist, so an unreadable one is an error, not
 * silently another file. Decided again at each (re)load; the choice is
 * logged. Returns NULL for none.
 */
static const char *
main_config_path(bool quiet)
{
	static const char iet_dir_conf[] = "/etc/iet/ietd.conf";
	const char *first =
	    ietd.opt.config != NULL ? ietd.opt.config : iet_dir_conf;
	struct stat st;

	if (stat(first, &st) == 0 || errno != ENOENT)
		return first;
	/* ietd -t checks the file it was given, and nothing else. */
	if (ietd.opt.config != NULL && ietd.opt.check_config)
		return first;
	if (stat(IETD_DEFAULT_CONFIG, &st) == 0 || errno != ENOENT) {
		if (!quiet)
			log_warning("%s does not exist; using %s", first,
			    IETD_DEFAULT_CONFIG);
		return IETD_DEFAULT_CONFIG;
	}
	if (!quiet)
		log_warning("%s not found, configure through ietadm "
			    "(looked for %s and %s)",
		    "ietd.conf", first, IETD_DEFAULT_CONFIG);
	return NULL;
}

/* The allow files this load would use, logged (start-up and reload). */
static void
main_allow_log(void)
{
	static const char *const names[] = {"initiators.allow",
	    "initiators.deny", "targets.allow"};
	const char *given[] = {ietd.opt.initiators_allow,
	    ietd.opt.initiators_deny, ietd.opt.targets_allow};
	char buf[3][PATH_MAX];
	const char *path[3];
	struct stat st;

	for (unsigned int i = 0; i < 3; i++)
		path[i] = allow_path(given[i], names[i], buf[i], PATH_MAX);
	log_notice("access files: %s%s, %s%s, %s%s", path[0],
	    stat(path[0], &st) == 0 ? "" : " (none)", path[1],
	    stat(path[1], &st) == 0 ? "" : " (none)", path[2],
	    stat(path[2], &st) == 0 ? "" : " (none)");
}

static struct conf *
main_config_load(bool reloading, unsigned int *nerrors)
{
	const char *given[] = {ietd.opt.initiators_allow,
	    ietd.opt.initiators_deny, ietd.opt.targets_allow};
	static const char *const names[] = {"initiators.allow",
	    "initiators.deny", "targets.allow"};
	const char *path = main_config_path(ietd.opt.check_config);
	struct conf *conf;
	char buf[PATH_MAX];

	*nerrors = 0;
	/*
	 * At start-up no file means no targets (IET's "configure through
	 * ietadm"). On SIGHUP it would remove every target, those made with
	 * ietadm included, because a file was moved or not yet written: that
	 * is refused like a file with errors.
	 */
	if (path == NULL && reloading) {
		log_error("reload: no ietd.conf found");
		*nerrors = 1;
		return NULL;
	}
	snprintf(ietd.config_path, sizeof(ietd.config_path), "%s",
	    path != NULL ? path : "(no ietd.conf)");
	if (path != NULL) {
		if (!ietd.opt.check_config)
			log_notice("configuration file %s", path);
		conf = conf_load(path, main_report_log, nerrors);
	} else {
		conf = conf_load_buf("(no ietd.conf)", "", 0, main_report_log,
		    nerrors);
	}
	for (unsigned int i = 0; i < 3; i++)
		allow_check_file(allow_path(given[i], names[i], buf,
				     sizeof(buf)),
		    main_report_log, nerrors);
	if (!ietd.opt.check_config)
		main_allow_log();
	if (*nerrors > 0 && conf != NULL) {
		conf_free(conf);
		conf = NULL;
	}
	if (conf == NULL && *nerrors == 0)
		(*nerrors)++; /* conf_load failed without a message */
	return conf;
}

/*
 * Wthreads: IET gave each target a pool of that many I/O threads. ietd
 * has one pool for all targets (the threads engine, and what io_uring
 * cannot do), sized to the largest Wthreads of any target (a target
 * without the key counts as its default, 8). It grows at once when a
 * reload or ietadm raises that maximum; it never shrinks while running.
 */
static unsigned int
main_wthreads(const struct conf *conf)
{
	struct list_node *n;
	unsigned int w = 0;

	list_for_each(n, &conf->targets) {
		const struct conf_target *t =
		    list_entry(n, struct conf_target, node);
		if (t->params[CONF_KEY_WTHREADS] > w)
			w = t->params[CONF_KEY_WTHREADS];
	}
	return w != 0 ? w : conf_key_defs[CONF_KEY_WTHREADS].def;
}

/* Grow the pool to w threads if it is smaller; logged when it grows. */
static int
main_wthreads_grow(unsigned int w)
{
	static unsigned int size;
	int rc;

	if (w <= size)
		return 0;
	rc = backend_workers_start(w);
	if (rc == 0) {
		if (size != 0)
			log_notice("I/O thread pool grown to %u threads "
				   "(largest Wthreads)",
			    w);
		size = w;
	}
	return rc;
}

static bool
main_reload(void)
{
	unsigned int nerrors;
	struct conf *conf;
	char why[256];

	log_notice("SIGHUP: reloading the configuration");
	conf = main_config_load(true, &nerrors);
	if (conf == NULL) {
		log_error("reload: %u error(s) in the configuration; the "
			  "running configuration stays",
		    nerrors);
		return false;
	}
	/* Listeners are bound once, at start-up. */
	if (!conf_portal_groups_equal(conf, ietd.portal_groups)) {
		log_error("reload: the PortalGroup addresses changed; they "
			  "are bound at start-up, so restart ietd to change "
			  "them; the running configuration stays");
		conf_free(conf);
		return false;
	}
	/* All or nothing: target_apply() opens everything new first. */
	if (target_apply(conf, why, sizeof(why)) != 0) {
		log_error("reload: %s; nothing was changed, the running "
			  "configuration stays",
		    why);
		conf_free(conf);
		return false;
	}
	log_notice("reload: configuration applied");
	(void)main_wthreads_grow(main_wthreads(conf));
	isns_reload(conf->isns_server, conf->isns_access_control);
	/*
	 * A removed target goes with its last session; ask its initiators
	 * to log out now (RFC 7143 11.9.1, AsyncEvent 1) rather than wait.
	 */
	unsigned int tids[64];
	unsigned int n = target_removing_tids(tids, 64);
	for (unsigned int i = 0; i < n; i++)
		log_notice("target %u removed: asked %u session(s) to log out",
		    tids[i], iscsi_admin_target_logout(tids[i]));
	ctl_status_update();
	conf_free(conf);
	return true;
}

/* ---- connections ------------------------------------------------------- */

static void
main_conn_start(void *arg)
{
	int fd = (int)(intptr_t)arg;

	iscsi_conn_accept(loop_current(), fd);
}

static void
main_listen_pause(bool pause)
{
	for (unsigned int i = 0; i < ietd.listeners.n; i++)
		loop_fd_mod(ietd.listen_watch[i], pause ? 0 : LOOP_READ);
}

static void
main_accept_resume(void *arg)
{
	(void)arg;
	main_listen_pause(false);
}

static void
main_accept(void *arg, unsigned int events)
{
	int lfd = (int)(intptr_t)arg;

	(void)events;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			/*
			 * Out of descriptors or memory: stop accepting for a
			 * moment instead of spinning on a ready listener.
			 */
			static struct log_ratelimit rl;
			unsigned int dropped;

			if (log_ratelimit_pass(&rl, &dropped))
				log_warning("accept failed (%s); pausing %u ms",
				    strerror(errno), ACCEPT_BACKOFF_MS);
			main_listen_pause(true);
			loop_timer_arm(ietd.accept_timer, ACCEPT_BACKOFF_MS);
			return;
		}
		if (ietd.shutting_down) {
			close(fd);
			continue;
		}
		struct loop *w =
		    ietd.workers[ietd.next_worker++ % ietd.nworkers];
		if (loop_post(w, main_conn_start, (void *)(intptr_t)fd) != 0) {
			log_warning("connection dropped: out of memory");
			close(fd);
		}
	}
}

/*
 * A backing file or LV that grew or shrank raises CAPACITY DATA HAS
 * CHANGED (SBC-4 4.6) without waiting for the initiator to ask.
 */
static void
main_capacity_poll(void *arg)
{
	(void)arg;
	/* LUN tables an ietadm or reload change left to the readers. */
	epoch_reclaim();
	if (scsi_lu_poll_capacity_all() > 0)
		ctl_status_update();
	/* An ietadm update of Wthreads takes effect within a second. */
	(void)main_wthreads_grow(target_param_max(CONF_KEY_WTHREADS));
	loop_timer_arm(ietd.capacity_timer, CAPACITY_POLL_MS);
}

/* ---- shutdown ---------------------------------------------------------- */

static void
main_shutdown_done(void *arg)
{
	(void)arg;
	loop_stop(ietd.main_loop);
}

static void
main_shutdown_timeout(void *arg)
{
	(void)arg;
	log_warning("shutdown: sessions did not end within %u s; exiting",
	    SHUTDOWN_GRACE_MS / 1000);
	loop_stop(ietd.main_loop);
}

static void
main_shutdown(int sig)
{
	if (ietd.shutting_down)
		return;
	ietd.shutting_down = true;
	log_notice("%s: shutting down", strsignal(sig));
	sdnotify("STOPPING=1\nSTATUS=shutting down");
	for (unsigned int i = 0; i < ietd.listeners.n; i++) {
		loop_fd_del(ietd.listen_watch[i]);
		ietd.listen_watch[i] = NULL;
	}
	listen_close(&ietd.listeners);
	conf_free(ietd.portal_groups);
	ietd.portal_groups = NULL;
	loop_timer_arm(ietd.shutdown_timer, SHUTDOWN_GRACE_MS);
	scsi_sanitize_stop();
	iscsi_shutdown(main_shutdown_done, NULL);
}

/* systemd >= 253 wants the reload's start time with RELOADING=1. */
static void
main_notify_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sdnotify("RELOADING=1\nSTATUS=reloading %s\nMONOTONIC_USEC=%llu",
	    ietd.opt.config,
	    (unsigned long long)ts.tv_sec * 1000000ull +
		(unsigned long long)ts.tv_nsec / 1000);
}

static void
main_signal(void *arg, unsigned int events)
{
	struct signalfd_siginfo si;

	(void)arg;
	(void)events;
	while (read(ietd.signal_fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			if (ietd.shutting_down)
				break;
			main_notify_reloading();
			sdnotify("READY=1\nSTATUS=%s",
			    main_reload()
				? "serving; configuration reloaded"
				: "serving; reload failed, the running "
				  "configuration stays");
			break;
		case SIGTERM:
		case SIGINT:
			main_shutdown((int)si.ssi_signo);
			break;
		default:
			break;
		}
	}
}

/* ---- start-up ---------------------------------------------------------- */

static void
main_worker_init(void *arg)
{
	struct loop *loop = arg;
	int err = iscsi_loop_init(loop);

	if (err)
		log_error("event thread %s: cannot start (%s)", loop_name(loop),
		    strerror(-err));
}

static void
main_worker_fini(void *arg)
{
	struct loop *loop = arg;

	iscsi_loop_fini(loop);
	loop_stop(loop);
}

static int
main_workers_start(void)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int n = ietd.opt.threads;

	if (n == 0)
		n = cores > 0 ? (unsigned int)cores : 1;
	if (n > IETD_MAX_THREADS)
		n = IETD_MAX_THREADS;
	ietd.workers = calloc(n, sizeof(*ietd.workers));
	if (ietd.workers == NULL)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		char name[16];

		snprintf(name, sizeof(name), "io%u", i);
		ietd.workers[i] = loop_new(name);
		if (ietd.workers[i] == NULL)
			return -ENOMEM;
		/* Posted before the thread runs: it is its first job. */
		if (loop_post(ietd.workers[i], main_worker_init,
			ietd.workers[i]) != 0 ||
		    loop_thread_start(ietd.workers[i]) != 0)
			return -ENOMEM;
		ietd.nworkers++;
	}
	return 0;
}

static void
main_workers_stop(void)
{
	for (unsigned int i = 0; i < ietd.nworkers; i++)
		loop_post(ietd.workers[i], main_worker_fini, ietd.workers[i]);
	for (unsigned int i = 0; i < ietd.nworkers; i++) {
		loop_thread_join(ietd.workers[i]);
		loop_free(ietd.workers[i]);
	}
	free(ietd.workers);
	ietd.workers = NULL;
	ietd.nworkers = 0;
}

static int
main_signals_setup(void)
{
	sigset_t set;

	/* Blocked before any thread starts, so every thread inherits it. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	ietd.signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return ietd.signal_fd < 0 ? -errno : 0;
}

/* ietadm --op delete: stop all activity, as SIGTERM does. */
static void
main_ctl_shutdown(void)
{
	main_shutdown(SIGTERM);
}

/*
 * ietd.conf's portal groups (ALUA): each address a listener of its own,
 * after the -a/-p ones (portal group 1). false, logged, when one cannot
 * be bound.
 */
static bool
main_portal_groups_open(const struct conf *conf)
{
	struct list_node *n;
	unsigned int i = 0;

	for (; i < ietd.listeners.n; i++)
		ietd.listen_tag[i] = 1;
	ietd.portal_groups = conf_new_empty();
	if (ietd.portal_groups == NULL ||
	    conf_portal_groups_copy(ietd.portal_groups, conf) != 0) {
		log_error("out of memory");
		return false;
	}
	list_for_each(n, &conf->portal_groups) {
		const struct conf_portal_group *g =
		    list_entry(n, const struct conf_portal_group, node);

		if (g->remote) {
			/* Another gateway's: only reported (ALUA). */
			log_notice("portal group %u: another gateway's "
				   "(Remote), not listened on",
			    g->tag);
			continue;
		}
		for (unsigned int a = 0; a < g->naddr; a++) {
			if (ietd.listeners.n == LISTEN_MAX) {
				log_error("PortalGroup %u: more than %u "
					  "listening sockets",
				    g->tag, LISTEN_MAX);
				return false;
			}
			if (listen_add(g->addr[a], g->port[a],
				&ietd.listeners) != 0) {
				log_error("PortalGroup %u (line %u): cannot "
					  "listen on %s port %u",
				    g->tag, g->line, g->addr[a], g->port[a]);
				return false;
			}
			for (; i < ietd.listeners.n; i++)
				ietd.listen_tag[i] = (uint16_t)g->tag;
			log_notice("portal group %u: listening on %s port %u",
			    g->tag, g->addr[a], g->port[a]);
		}
	}
	return true;
}

/*
 * With -u, APTPL state files are written by that user: make a missing
 * --state-dir now, while root, and give it to them (mode 0700). Without
 * -u it is made at the first APTPL write (pr_store.c); a directory that
 * exists is the administrator's and left alone. Not fatal: only APTPL
 * saves would fail, each said in the log.
 */
static void
main_state_dir(void)
{
	if (!ietd.opt.uid_set || geteuid() != 0)
		return;
	if (mkdir(ietd.opt.state_dir, 0700) != 0) {
		if (errno != EEXIST)
			log_warning("cannot create --state-dir %s (%s): "
				    "persistent reservations with APTPL will "
				    "not be saved",
			    ietd.opt.state_dir, strerror(errno));
		return;
	}
	if (chown(ietd.opt.state_dir, ietd.opt.uid, (gid_t)-1) != 0)
		log_warning("cannot give --state-dir %s to uid %u (%s)",
		    ietd.opt.state_dir, (unsigned)ietd.opt.uid,
		    strerror(errno));
}

/* Everything up to serving; on failure logs why and returns false. */
static bool
main_start(struct conf *conf)
{
	char why[512];
	struct allow_paths paths = {
	    .initiators_allow = ietd.opt.initiators_allow,
	    .initiators_deny = ietd.opt.initiators_deny,
	    .targets_allow = ietd.opt.targets_allow,
	};

	ietd.pid_fd = daemon_pidfile_lock(ietd.opt.pid_file);
	if (ietd.pid_fd < 0)
		return false;
	/*
	 * After -u the pid file's directory is not ours to remove it from:
	 * fork its keeper now, while we are root and have no threads.
	 */
	if (ietd.opt.uid_set && ietd.opt.uid != geteuid() &&
	    daemon_pidfile_keeper(ietd.pid_fd, ietd.opt.pid_file) != 0)
		return false;
	if (main_signals_setup() != 0) {
		log_error("unable to set up signals (%s)", strerror(errno));
		return false;
	}
	if (listen_open(ietd.opt.address, ietd.opt.port, &ietd.listeners) != 0)
		return false;
	if (!main_portal_groups_open(conf))
		return false;
	iscsi_set_portal_tags(ietd.listeners.addr, ietd.listen_tag,
	    ietd.listeners.n);
	iscsi_set_data_limit(ietd.opt.max_data_memory);
	target_set_allow_paths(&paths);
	if (scsi_pr_store_set_dir(ietd.opt.state_dir) != 0) {
		log_error("--state-dir %.64s...: %s", ietd.opt.state_dir,
		    strlen(ietd.opt.state_dir) > 4000
			? "too long (at most 4000 bytes)"
			: "out of memory");
		return false;
	}
	if (main_wthreads_grow(main_wthreads(conf)) != 0) {
		log_error("unable to start the I/O threads");
		return false;
	}
	/* Before the event threads: each makes its ring as it starts. */
	if (backend_engine_select(ietd.opt.io_engine, why, sizeof(why)) != 0) {
		log_error("--io-engine=io_uring: %s", why);
		return false;
	}
	log_notice("backend I/O: %s", why);
	/* Backing files are opened here, before privileges go. */
	if (target_apply(conf, why, sizeof(why)) != 0) {
		log_error("%s; not starting", why);
		return false;
	}
	/* The control socket lives under /run: create it while root. */
	ietd.main_loop = loop_new("main");
	if (ietd.main_loop == NULL)
		return false;
	if (ctl_start(ietd.main_loop, ietd.opt.control, ietd.opt.status_dir,
		ietd.opt.uid_set ? ietd.opt.uid : geteuid(), main_ctl_shutdown,
		why, sizeof(why)) != 0) {
		log_error("%s", why);
		return false;
	}
	if (ietd.opt.metrics != NULL &&
	    metrics_start(ietd.main_loop, ietd.opt.metrics, why, sizeof(why)) !=
		0) {
		log_error("%s", why);
		return false;
	}
	main_state_dir();
	if (daemon_drop_privileges(ietd.opt.gid_set, ietd.opt.gid,
		ietd.opt.uid_set, ietd.opt.uid) != 0)
		return false;
	if (daemon_pidfile_write(ietd.pid_fd) != 0)
		return false;

	if (main_workers_start() != 0) {
		log_error("unable to start the event threads");
		return false;
	}
	ietd.accept_timer =
	    loop_timer_new(ietd.main_loop, main_accept_resume, NULL);
	ietd.shutdown_timer =
	    loop_timer_new(ietd.main_loop, main_shutdown_timeout, NULL);
	ietd.capacity_timer =
	    loop_timer_new(ietd.main_loop, main_capacity_poll, NULL);
	if (ietd.accept_timer == NULL || ietd.shutdown_timer == NULL ||
	    ietd.capacity_timer == NULL ||
	    loop_fd_add(ietd.main_loop, ietd.signal_fd, LOOP_READ, main_signal,
		NULL, &ietd.signal_watch) != 0)
		return false;
	for (unsigned int i = 0; i < ietd.listeners.n; i++) {
		if (loop_fd_add(ietd.main_loop, ietd.listeners.fd[i], LOOP_READ,
			main_accept, (void *)(intptr_t)ietd.listeners.fd[i],
			&ietd.listen_watch[i]) != 0)
			return false;
	}
	loop_timer_arm(ietd.capacity_timer, CAPACITY_POLL_MS);
	/* A server that cannot be used is logged; ietd serves anyway. */
	if (isns_start(ietd.main_loop, conf->isns_server,
		conf->isns_access_control, ietd.listeners.addr,
		ietd.listeners.n) == -ENOMEM)
		return false;
	return true;
}

static int
main_check_config(void)
{
	unsigned int nerrors;
	struct conf *conf = main_config_load(false, &nerrors);

	/*
	 * The backing stores too, opened as the daemon opens them: a file
	 * -t calls OK must not be one ietd then refuses to start with.
	 */
	if (conf != NULL && (nerrors = target_conf_check(conf)) != 0) {
		conf_free(conf);
		conf = NULL;
	}
	if (conf == NULL) {
		fprintf(stderr, "%s: %u error(s)\n", ietd.config_path, nerrors);
		return 1;
	}
	printf("%s: configuration OK (%u target(s))\n", ietd.config_path,
	    (unsigned int)list_count(&conf->targets));
	conf_free(conf);
	return 0;
}

/*
 * Every connection is a descriptor, and so is every backing store: the
 * usual soft limit of 1024 would stop accepting well before the sessions a
 * target serves. Raise it to the hard limit (systemd's LimitNOFILE or the
 * administrator's ulimit -H decides how far).
 */
static void
main_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		log_warning("cannot raise the open file limit to %llu (%s)",
		    (unsigned long long)rl.rlim_max, strerror(errno));
}

int
main(int argc, char **argv)
{
	unsigned int nerrors;
	struct conf *conf;

	if (options_parse(&ietd.opt, argc, argv, stderr) != 0)
		return 2;
	if (ietd.opt.help) {
		options_usage(stdout);
		return 0;
	}
	if (ietd.opt.version) {
		printf("ietd %s\n", IETD_VERSION);
		return 0;
	}
	log_set_format(ietd.opt.log_json ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT);
	/*
	 * In the foreground everything goes to stderr. A daemon logs to
	 * syslog, and until start-up is over to the terminal as well, so the
	 * administrator who started it sees why it did not start.
	 */
	/* -t prints bare "file:line: message" lines, as compilers do. */
	log_init("ietd",
	    ietd.opt.check_config     ? LOG_SINK_STDERR | LOG_SINK_BARE
		: ietd.opt.foreground ? LOG_SINK_STDERR
				      : LOG_SINK_STDERR | LOG_SINK_SYSLOG,
	    ietd.opt.debug);
	if (ietd.opt.check_config)
		return main_check_config();

	main_raise_fd_limit();
	sdnotify_init();
	conf = main_config_load(false, &nerrors);
	if (conf == NULL) {
		log_error("%s: %u error(s); not starting", ietd.config_path,
		    nerrors);
		return 1;
	}
	if (!ietd.opt.foreground)
		daemon_background();
	if (!main_start(conf)) {
		/* Locked, so ours: a failed start leaves no pid file behind. */
		if (ietd.pid_fd >= 0)
			daemon_pidfile_remove(ietd.pid_fd, ietd.opt.pid_file);
		conf_free(conf);
		daemon_failed();
		return 1;
	}
	unsigned int ntargets = (unsigned int)list_count(&conf->targets);
	conf_free(conf);
	log_notice("ietd %s started", IETD_VERSION);
	daemon_ready();
	/*
	 * The listeners accept and the configuration is applied: ready.
	 * The watchdog pings come from the main loop, so a hung loop is
	 * noticed by the manager.
	 */
	sdnotify("READY=1\nSTATUS=serving %u target(s) on port %u", ntargets,
	    (unsigned int)ietd.opt.port);
	unsigned long wd = sdnotify_watchdog_start(ietd.main_loop);
	if (wd > 0)
		log_info("systemd watchdog: a ping every %lu ms", wd);
	if (!ietd.opt.foreground)
		log_init("ietd", LOG_SINK_SYSLOG, ietd.opt.debug);

	loop_run(ietd.main_loop);

	isns_stop();
	ctl_stop();
	metrics_stop();
	main_workers_stop();
	backend_workers_stop();
	target_registry_clear();
	/*
	 * The event threads are gone: every LUN table a change retired is
	 * free now, and its LUs flush and close.
	 */
	epoch_reclaim();
	loop_timer_free(ietd.accept_timer);
	loop_timer_free(ietd.shutdown_timer);
	loop_timer_free(ietd.capacity_timer);
	sdnotify_watchdog_stop();
	loop_fd_del(ietd.signal_watch);
	loop_free(ietd.main_loop);
	databuf_trim(); /* the main thread's caches; other threads empty theirs
			 */
	objcache_trim();
	close(ietd.signal_fd);
	daemon_pidfile_remove(ietd.pid_fd, ietd.opt.pid_file);
	close(ietd.pid_fd);
	log_notice("ietd stopped");
	return 0;
}
