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
 * Lines are tried in order; the first rule naming the target (or ALL) whose
 * list matches decides; processing stops after the first ALL target line.
 */
#ifndef IETD_CONFIG_ALLOW_H
#define IETD_CONFIG_ALLOW_H

#include <sys/socket.h>

#include <stdbool.h>

#include "conf.h"

struct allow_paths {
	const char *initiators_allow; /* default /etc/initiators.allow */
	const char *initiators_deny;  /* default /etc/initiators.deny */
	const char *targets_allow;    /* default /etc/targets.allow */
};

/*
 * May the initiator (iSCSI name, and address of its connection) see and
 * log in to target? No files: yes. initiators.allow present: only when a
 * rule there matches (an empty file allows nobody). Otherwise
 * initiators.deny, when present, refuses the initiators it matches.
 * initiator may be NULL (unknown yet): then only address entries and ALL
 * can match.
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
