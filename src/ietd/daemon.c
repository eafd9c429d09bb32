/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Process duties (pid file, background, privileges, sd_notify). The
 * systemd notify protocol is a datagram on a Unix socket; it is short
 * enough to speak directly instead of linking libsystemd.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "daemon.h"

static int daemon_status_fd = -1; /* pipe to the waiting parent */

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
	daemon_notify("READY=1");
}

void
daemon_failed(void)
{
	daemon_report(1);
}

int
daemon_drop_privileges(bool gid_set, gid_t gid, bool uid_set, uid_t uid)
{
	/* Group first: once the uid is gone we may no longer change it. */
	if (gid_set) {
		if (setgroups(1, &gid) < 0 && errno != EPERM) {
			log_error("unable to drop supplementary groups (%s)",
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
	return 0;
}

void
daemon_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	socklen_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sun.sun_path))
		return;
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0'; /* abstract namespace */
	len =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		(struct sockaddr *)&sun, len) < 0)
		log_warning("sd_notify failed (%s)", strerror(errno));
	close(fd);
}
