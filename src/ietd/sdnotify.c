/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The notify protocol is documented in sd_notify(3) and is a single
 * datagram of text on an AF_UNIX socket: short enough to speak here
 * rather than link libsystemd (one less run-time dependency, and the
 * same binary runs on hosts without systemd).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/str.h"
#include "sdnotify.h"

static struct {
	int fd;
	struct sockaddr_un addr;
	socklen_t addr_len;
	struct loop_timer *watchdog;
	unsigned long period_ms;
} sdn = {.fd = -1};

void
sdnotify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;

	if (sdn.fd >= 0 || path == NULL || *path == '\0')
		return;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') ||
	    len >= sizeof(sdn.addr.sun_path)) {
		log_warning("NOTIFY_SOCKET=%s is not a socket path or "
			    "@abstract name; not notifying the service "
			    "manager",
		    path);
		return;
	}
	sdn.addr.sun_family = AF_UNIX;
	memcpy(sdn.addr.sun_path, path, len);
	/* "@name": the Linux abstract namespace, a leading NUL byte. */
	if (path[0] == '@')
		sdn.addr.sun_path[0] = '\0';
	sdn.addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    len + (path[0] == '/' ? 1 : 0));
	sdn.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sdn.fd < 0)
		log_warning("sd_notify: cannot create a socket (%s)",
		    strerror(errno));
}

bool
sdnotify_enabled(void)
{
	return sdn.fd >= 0;
}

void
sdnotify(const char *fmt, ...)
{
	static struct log_ratelimit rl;
	unsigned int dropped;
	char msg[512];
	va_list ap;
	int n;

	if (sdn.fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(msg))
		n = (int)sizeof(msg) - 1;
	if (sendto(sdn.fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT,
		(const struct sockaddr *)&sdn.addr, sdn.addr_len) < 0 &&
	    log_ratelimit_pass(&rl, &dropped)) {
		char what[64];

		str_escape(what, sizeof(what), msg, strcspn(msg, "\n"));
		log_warning("sd_notify %s failed (%s)", what, strerror(errno));
	}
}

static void
sdnotify_ping(void *arg)
{
	(void)arg;
	sdnotify("WATCHDOG=1");
	loop_timer_arm(sdn.watchdog, sdn.period_ms);
}

unsigned long
sdnotify_watchdog_start(struct loop *loop)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	uint64_t us, p;

	if (sdn.fd < 0 || usec == NULL)
		return 0;
	/* The watchdog is for the manager's main process only. */
	if (pid != NULL &&
	    (str_to_u64(pid, 1, UINT32_MAX, false, &p) != 0 ||
		p != (uint64_t)getpid()))
		return 0;
	if (str_to_u64(usec, 1, UINT64_MAX, false, &us) != 0) {
		log_warning("WATCHDOG_USEC=%s is not a number of "
			    "microseconds; no watchdog pings",
		    usec);
		return 0;
	}
	/* Half the period, as sd_watchdog_enabled(3) advises; >= 1 ms. */
	sdn.period_ms = (unsigned long)(us / 2000);
	if (sdn.period_ms == 0)
		sdn.period_ms = 1;
	sdn.watchdog = loop_timer_new(loop, sdnotify_ping, NULL);
	if (sdn.watchdog == NULL) {
		log_error("sd_notify: no memory for the watchdog timer");
		return 0;
	}
	sdnotify("WATCHDOG=1");
	loop_timer_arm(sdn.watchdog, sdn.period_ms);
	return sdn.period_ms;
}

void
sdnotify_watchdog_stop(void)
{
	if (sdn.watchdog != NULL) {
		loop_timer_free(sdn.watchdog);
		sdn.watchdog = NULL;
	}
}
