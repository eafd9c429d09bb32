/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * initiators.allow, initiators.deny and targets.allow, IET's access files.
 * Read again at every call, so an edit applies at the next login without
 * a restart. Format, one rule a line:
 *	<target name or ALL> <entry>[, <entry>...]
 * entries: initiator-name regular expressions (POSIX basic, anchored with
 * ^ and $ implied, case-insensitive), IPv4 addresses or networks
 * (a.b.c.d[/n]), IPv6 addresses or networks in brackets ([x::y][/n]), ALL.
 * The first line naming the target (compared without case) or ALL decides:
 * the file matches when an entry of its list does, and does not
 * otherwise, as in IET 1.4.20 (usr/plain.c).
 */
#ifndef IETD_CONFIG_ALLOW_H
#define IETD_CONFIG_ALLOW_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

/* A NULL path: IET's search, /etc/iet/NAME, else /etc/NAME (allow_path). */
struct allow_paths {
	const char *initiators_allow;
	const char *initiators_deny;
	const char *targets_allow;
};

/*
 * The file to read for NAME ("initiators.allow", ...): given when not
 * NULL, else /etc/iet/NAME unless it does not exist, else /etc/NAME, as
 * IET 1.4.20 looked for it. Decided again at every use; buf holds the
 * result.
 */
const char *allow_path(const char *given, const char *name, char *buf,
    size_t len);

/*
 * May the initiator (iSCSI name, and address of its connection) see and
 * log in to target? As IET 1.4.20: with an initiators.deny file, yes
 * unless deny matches and initiators.allow (absent, or without a line
 * for the target, counts as no match) does not. Without one: no
 * initiators.allow, yes; else only when it matches (an empty file or one
 * without a line for the target admits nobody). A file that exists but
 * cannot be read refuses. initiator may be NULL (unknown yet): then only
 * address entries and ALL can match.
 */
bool allow_initiator(const struct allow_paths *p, const char *target,
    const char *initiator, const struct sockaddr *peer);

/*
 * May target be seen and logged in to through the local portal address
 * local? No targets.allow file: yes; otherwise only when a rule matches.
 */
bool allow_target_portal(const struct allow_paths *p, const char *target,
    const struct sockaddr *local);

/*
 * After a refusal by allow_initiator() or allow_target_portal() on this
 * thread: the errno that made a file unreadable (EMFILE, ENOMEM, EACCES,
 * ...), or 0 when a rule refused. Lets a caller tell "not allowed" from
 * "could not look" (out of resources, worth a retry).
 */
int allow_last_errno(void);

/*
 * Check a file's syntax without deciding anything: each bad line is
 * reported as "file:line: message". Returns the number of errors (0 also
 * when the file does not exist). Used by the config-check mode and reload.
 */
unsigned int allow_check_file(const char *path, conf_report_fn *report,
    void *arg);

#endif /* IETD_CONFIG_ALLOW_H */
