/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Process duties (pid file, background, privileges); systemd's notify
 * protocol is in sdnotify.c.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "daemon.h"

static int daemon_status_fd = -1;    /* pipe to the waiting parent */
static pid_t daemon_keeper_pid = -1; /* see daemon_pidfile_keeper() */
static int daemon_keeper_fd = -1;    /* its pipe: one byte = remove */

int
daemon_pidfile_lock(const char *path)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0) {
		int err = -errno;
		log_error("unable to create pid file (%s: %s)", path,
		    strerror(errno));
		return err;
	}
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		int err = -errno;
		log_error("unable to lock pid file (%s: %s)", path,
		    errno == EAGAIN || errno == EACCES
			? "another ietd is running"
			: strerror(errno));
		close(fd);
		return err;
	}
	return fd;
}

int
daemon_pidfile_write(int fd)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
		int err = -errno;
		log_error("unable to write pid file (%s)", strerror(errno));
		return err;
	}
	return 0;
}

void
daemon_background(void)
{
	int p[2];
	pid_t pid;
	char verdict = 1;

	if (pipe2(p, O_CLOEXEC) < 0)
		fatal("starting daemon failed");
	pid = fork();
	if (pid < 0)
		fatal("starting daemon failed");
	if (pid > 0) {
		close(p[1]);
		/* EOF without a byte means the child died during start-up. */
		if (read(p[0], &verdict, 1) != 1)
			verdict = 1;
		_exit(verdict == 0 ? 0 : 1);
	}
	close(p[0]);
	daemon_status_fd = p[1];
	if (setsid() < 0)
		fatal("starting daemon failed");
	umask(022);
}

static void
daemon_report(char verdict)
{
	int devnull;

	if (daemon_status_fd < 0)
		return;
	if (write(daemon_status_fd, &verdict, 1) != 1)
		log_warning("could not report start-up to the parent");
	close(daemon_status_fd);
	daemon_status_fd = -1;
	/* Detach from the terminal only once start-up errors were seen. */
	devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
}

void
daemon_ready(void)
{
	daemon_report(0);
}

void
daemon_failed(void)
{
	daemon_report(1);
}

/* Is path still the file fd has open (nobody replaced it meanwhile)? */
static bool
daemon_pidfile_same(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * The keeper: a copy of the daemon made before privileges go, which keeps
 * root only to remove the pid file when the daemon says so. It touches
 * nothing else: every other descriptor is closed, and signals sent to the
 * whole process group or cgroup (Ctrl-C, systemd's stop) leave it to see
 * the daemon's shutdown through.
 */
static void __attribute__((noreturn))
daemon_keeper_main(int rfd, int pid_fd, const char *path)
{
	static const int ignored[] = {SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGPIPE,
	    SIGUSR1, SIGUSR2};
	int devnull;
	char c;
	ssize_t n;

	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	(void)prctl(PR_SET_NAME, "ietd-pidfile");
	/* Keep the pipe and the pid file as 3 and 4, close the rest. */
	rfd = fcntl(rfd, F_DUPFD, 16);
	pid_fd = fcntl(pid_fd, F_DUPFD, 16);
	if (rfd < 0 || pid_fd < 0 || dup2(rfd, 3) < 0 || dup2(pid_fd, 4) < 0)
		_exit(1);
	if (close_range(5, ~0U, 0) != 0)
		for (int fd = 5; fd < 1024; fd++)
			close(fd);
	devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		if (devnull > STDERR_FILENO && devnull != 3 && devnull != 4)
			close(devnull);
	}
	do
		n = read(3, &c, 1);
	while (n < 0 && errno == EINTR);
	/* EOF without the byte: the daemon died; a stale file is harmless. */
	if (n == 1 && daemon_pidfile_same(4, path))
		unlink(path);
	_exit(0);
}

int
daemon_pidfile_keeper(int fd, const char *path)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		log_error("unable to start the pid file keeper (%s)",
		    strerror(errno));
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		int err = -errno;
		log_error("unable to start the pid file keeper (%s)",
		    strerror(errno));
		close(p[0]);
		close(p[1]);
		return err;
	}
	if (pid == 0) {
		close(p[1]);
		daemon_keeper_main(p[0], fd, path);
	}
	close(p[0]);
	daemon_keeper_pid = pid;
	daemon_keeper_fd = p[1];
	return 0;
}

void
daemon_pidfile_remove(int fd, const char *path)
{
	if (daemon_keeper_pid > 0) {
		int status;

		/* It removes the file; wait, so it is gone when we are. */
		if (write(daemon_keeper_fd, "x", 1) != 1)
			log_warning("pid file keeper gone (%s); %s stays",
			    strerror(errno), path);
		close(daemon_keeper_fd);
		daemon_keeper_fd = -1;
		while (waitpid(daemon_keeper_pid, &status, 0) < 0 &&
		    errno == EINTR) {
		}
		daemon_keeper_pid = -1;
	} else if (daemon_pidfile_same(fd, path) && unlink(path) != 0) {
		log_warning("unable to remove pid file (%s: %s)", path,
		    strerror(errno));
	}
}

int
daemon_drop_privileges(bool gid_set, gid_t gid, bool uid_set, uid_t uid)
{
	const char *user = NULL;

	if (uid_set && !gid_set) {
		/*
		 * -u alone: the user's own group and groups, as a login
		 * would give them. Keeping ours would leave gid 0 and root's
		 * supplementary groups (often disk, adm...) to the process.
		 */
		struct passwd *pw;

		errno = 0;
		pw = getpwuid(uid);
		if (pw == NULL) {
			log_error("unable to find user %u in the password "
				  "database (%s); name its group with -g",
			    (unsigned)uid,
			    errno ? strerror(errno) : "no such user");
			return -ENOENT;
		}
		user = pw->pw_name;
		gid = pw->pw_gid;
		gid_set = true;
	}
	/* Group first: once the uid is gone we may no longer change it. */
	if (gid_set) {
		/* Unprivileged, we cannot change them (nor hold root's). */
		bool may = geteuid() == 0;
		int rc =
		    user != NULL ? initgroups(user, gid) : setgroups(1, &gid);

		if (rc < 0 && (may || errno != EPERM)) {
			log_error("unable to set supplementary groups (%s)",
			    strerror(errno));
			return -errno;
		}
		if (setgid(gid) < 0) {
			log_error("unable to set gid %u (%s)", (unsigned)gid,
			    strerror(errno));
			return -errno;
		}
	}
	if (uid_set && setuid(uid) < 0) {
		log_error("unable to set uid %u (%s)", (unsigned)uid,
		    strerror(errno));
		return -errno;
	}
	/* A dropped root must not be able to come back. */
	if (uid_set && uid != 0 && setuid(0) == 0) {
		log_error("uid 0 could be regained after dropping it");
		return -EPERM;
	}
	return 0;
}
