/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The registry of live targets, their LUNs and CHAP accounts. Start-up,
 * SIGHUP reload and ietadm all change it through target_apply() and the
 * target_*() calls (IET's cops, ctld's conf_apply). The transport only
 * reads it: at login (find a target, check accounts) and per command
 * (find a LUN). Any thread may call these functions unless a comment says
 * otherwise; the registry has its own lock and hands out references.
 */
#ifndef IETD_TARGET_TARGET_H
#define IETD_TARGET_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/conf.h"
#include "config/allow.h"
#include "scsi/scsi.h"

struct target;

/*
 * ---- registry.c: what runs, and the reads made of it -------------------
 */

/* Where the access files are; read at every login and discovery. */
void target_set_allow_paths(const struct allow_paths *p);
const struct allow_paths *target_allow_paths(void);

/* Lookups return a reference (target_put() it) or NULL. */
struct target *target_find_by_name(const char *name);
struct target *target_find_by_tid(unsigned int tid);
/* One more reference to t; target_put() drops one (NULL is fine). */
void target_get(struct target *t);
void target_put(struct target *t);

/*
 * Call fn for each target that is not being removed, in tid order, with a
 * reference held for the call. Stops early when fn returns false.
 */
void target_foreach(bool (*fn)(struct target *t, void *arg), void *arg);

/*
 * Targets removed from the configuration that still have sessions (they
 * go with their last one): up to max tids into tids; returns how many.
 */
unsigned int target_removing_tids(unsigned int *tids, unsigned int max);

unsigned int target_tid(const struct target *t);
/*
 * Borrowed; valid while the reference is held (the name is the target's
 * for life: a reload that renames it makes a new target).
 */
const char *target_name(const struct target *t);
/*
 * Copy the alias (TargetAlias) into buf, cut at len - 1 bytes: false when
 * there is none. A reload may replace it any time, so nothing borrows it.
 */
bool target_alias_copy(const struct target *t, char *buf, size_t len);
/*
 * A configured parameter value (the target's offer in negotiation); k is
 * an ietd.conf key (below CONF_KEY_COUNT); t == NULL gives its default.
 */
uint32_t target_param(const struct target *t, enum conf_key k);
/* The largest value of key k over the targets; its default without any. */
uint32_t target_param_max(enum conf_key k);
/* Removed from the configuration, going with its last session. */
bool target_is_removing(const struct target *t);

/*
 * CHAP accounts. t == NULL means the discovery (global) accounts.
 * target_needs_chap: at least one IncomingUser exists.
 * target_incoming_secret: copy the secret of user into secret (NUL
 * terminated); false when no such user.
 * target_outgoing_account: copy user and secret of OutgoingUser; false
 * when there is none.
 */
bool target_needs_chap(const struct target *t);
bool target_incoming_secret(const struct target *t, const char *user,
    char *secret, size_t len);
bool target_outgoing_account(const struct target *t, char *user, size_t ulen,
    char *secret, size_t slen);

/*
 * Sessions. target_session_add fails with -EBUSY when MaxSessions is
 * reached, -ENOENT when the target is being removed. target_session_del
 * lets a removed target go with its last session.
 */
int target_session_add(struct target *t);
void target_session_del(struct target *t);
unsigned int target_session_count(const struct target *t);

/*
 * stats.c. Logins to t refused, counted by a reason index the caller
 * defines (iSCSI's login status table): any thread, a relaxed add.
 */
#define TARGET_LOGIN_REASONS 16
void target_count_login_refused(struct target *t, unsigned int reason);
uint64_t target_logins_refused(const struct target *t, unsigned int reason);

/*
 * Run a SCSI task on LUN task->lun of t: looks the LU up (NULL = not
 * there), supplies the LUN inventory for REPORT LUNS, and calls
 * scsi_task_exec().
 */
void target_task_exec(struct target *t, struct scsi_task *task);
/* The LU with that number, with a reference (scsi_lu_put()), or NULL. */
struct scsi_lu *target_lu_find(struct target *t, uint64_t lun);
/*
 * The capacity last seen of LUN lun of target tid, for status output:
 * 0, or -ENOENT when there is no such LUN.
 */
int target_lun_capacity(unsigned int tid, uint64_t lun, uint64_t *blocks,
    unsigned int *block_size);

/*
 * A snapshot of the running configuration as a struct conf (caller frees
 * with conf_free()), for ietadm's show and dump and the status files.
 * NULL when out of memory.
 */
struct conf *target_snapshot(void);

/* Drop everything (shutdown). Sessions must be gone already. */
void target_registry_clear(void);

/*
 * ---- alua.c: ALUA target port groups (ietd.conf's PortalGroup) ---------
 */

/*
 * Bind nexus nx to target t's port on portal group tag: nx->tpg (a
 * reference, or NULL without ALUA) and its relative port id. -ENOENT
 * when t is not offered on that portal group.
 */
int target_port_bind(struct target *t, unsigned int tag, struct scsi_nexus *nx);
/* t is offered on portal group tag (for SendTargets). */
bool target_port_offered(struct target *t, unsigned int tag);
/*
 * ietadm: set target tid's state on portal group tag ("optimized",
 * "nonoptimized", "standby", "unavailable"); its sessions get ASYMMETRIC
 * ACCESS STATE CHANGED. -ENOENT: no such target or not offered there;
 * -EINVAL: bad state or no ALUA configured.
 */
int target_admin_alua(unsigned int tid, unsigned int tag, const char *state,
    char *why, size_t whylen);
/* Copy the running portal groups into c (a snapshot); -ENOMEM. */
int target_alua_snapshot(struct conf *c);

/*
 * ---- apply.c: making the running set match a configuration -------------
 */

/*
 * Make the running set of targets match conf: new targets and LUNs
 * appear, changed parameters apply to new sessions, removed LUNs go at
 * once (the other nexuses get REPORTED LUNS DATA HAS CHANGED), removed
 * targets go once their last session ends. Every change is logged.
 * All or nothing: every new or changed backing store is opened first,
 * and if one cannot be (each logged as "conf->path:line: target T lun N:
 * reason") or memory runs out, nothing changes and the call returns
 * -EIO or -ENOMEM with why saying so. Returns 0 when all of it applied.
 * Main thread.
 */
int target_apply(const struct conf *conf, char *why, size_t whylen);
/*
 * ietd -t: open every backing store of conf as target_apply() would and
 * close it again, without touching the registry. Each LUN that cannot be
 * opened is logged as above. Returns how many LUNs failed (memory
 * running out counts as one).
 */
unsigned int target_conf_check(const struct conf *conf);

/*
 * ---- admin.c: administration (ietadm) -----------------------------------
 * Live changes made through the control socket, on the main thread. Each
 * returns 0 or -errno and, on failure, one plain sentence in why ("no
 * target with tid 3", "target iqn... has 2 sessions"). Changes last until
 * ietd restarts or the next SIGHUP re-reads ietd.conf (which then wins).
 */

/*
 * New target with default parameters. *tid == 0 picks the lowest free
 * tid; the tid used is written back. -EEXIST: name or tid in use;
 * -EINVAL: not a valid iSCSI name.
 */
int target_admin_add(unsigned int *tid, const char *name, char *why,
    size_t whylen);
/* Remove a target; -EBUSY while it has sessions, -ENOENT if none. */
int target_admin_del(unsigned int tid, char *why, size_t whylen);
/*
 * Set n ietd.conf target keys ("MaxSessions", "HeaderDigest", "Alias",
 * ...) to their values (ietd.conf syntax), all or none: the values are
 * checked together, with the target's other keys, before any is applied.
 * Applies to new sessions.
 */
int target_admin_set(unsigned int tid, unsigned int n, const char *const *keys,
    const char *const *values, char *why, size_t whylen);
/*
 * Add LUN lun from an ietd.conf Lun parameter list
 * ("Path=/x,Type=fileio,IOMode=wb"); the other sessions of the target get
 * REPORTED LUNS DATA HAS CHANGED. -EEXIST if the LUN is there; -EIO (and
 * no change) when its store cannot be opened.
 */
int target_admin_lun_add(unsigned int tid, unsigned int lun, const char *params,
    char *why, size_t whylen);
/* Remove a LUN; commands to it get LOGICAL UNIT NOT SUPPORTED after. */
int target_admin_lun_del(unsigned int tid, unsigned int lun, char *why,
    size_t whylen);
/*
 * Online resize of a LUN (ietadm --op update --lun). params NULL or ""
 * re-reads the size of the backing store at once (after the administrator
 * grew the file or the LV); "Sectors=N" sets a nullio LUN to N blocks (and
 * its running configuration with it); "Size=BYTES" (suffix K, M, G or T
 * allowed) grows a fileio file with ftruncate and refuses to shrink it.
 * When the capacity moved, every I_T nexus gets CAPACITY DATA HAS CHANGED.
 * On success *blocks and *block_size hold the capacity now. -ENOENT: no
 * such target or LUN; -EINVAL: bad parameter or the wrong LUN type;
 * -EOPNOTSUPP: a block device; -EROFS: a read-only LUN; other -errno from
 * the file.
 */
int target_admin_lun_resize(unsigned int tid, unsigned int lun,
    const char *params, uint64_t *blocks, unsigned int *block_size, char *why,
    size_t whylen);
/*
 * Accounts: tid 0 = discovery. outgoing selects OutgoingUser (at most one;
 * adding replaces it) instead of IncomingUser.
 */
int target_admin_account_add(unsigned int tid, bool outgoing, const char *user,
    const char *secret, char *why, size_t whylen);
int target_admin_account_del(unsigned int tid, bool outgoing, const char *user,
    char *why, size_t whylen);

#endif /* IETD_TARGET_TARGET_H */
