/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The configuration model: ietd.conf parsed into plain structs (ctld's
 * parse / verify / apply split). This module only reads text and builds
 * the model; it applies nothing. The target registry (src/target/) turns
 * a struct conf into live targets, at start-up and on every reload.
 * Everything above this layer may read these structs.
 */
#ifndef IETD_CONFIG_CONF_H
#define IETD_CONFIG_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/list.h"
#include "keys.h"

#define CONF_LUN_MAX 16383  /* highest LUN number ietd.conf accepts */
#define CONF_SCSI_ID_MAX 16 /* ScsiId and ScsiSN length limit */
#define CONF_NAME_MAX 223   /* iSCSI name length limit, RFC 7143 6.1 */
/* Longest RBD pool, namespace or image name, or client id, in a Lun. */
#define CONF_RBD_NAME_MAX 255

/*
 * ALUA (SPC-4 5.16), ietd's extension of ietd.conf (portal.c). Portal
 * group 1 is the command line's listener (-a/-p); PortalGroup lines
 * before the first Target declare more, each with its own addresses.
 * The tag is the iSCSI target portal group tag, the ALUA target port
 * group id and the relative target port identifier of the target port it
 * makes with each target.
 */
#define CONF_PG_ADDRS_MAX 6u   /* addresses on one PortalGroup line */
#define CONF_PG_TAG_MAX 65535u /* a 16-bit TPGT (RFC 7143 13.9) */
#define CONF_PG_DEFAULT_PORT 3260u

/* Asymmetric access states, numbered as SPC-4 6.37 numbers them. */
enum conf_alua_state {
	CONF_ALUA_OPTIMIZED = 0x0,
	CONF_ALUA_NONOPTIMIZED = 0x1,
	CONF_ALUA_STANDBY = 0x2,
	CONF_ALUA_UNAVAILABLE = 0x3,
};

/* A global "PortalGroup TAG ADDRESS[:PORT]...". */
struct conf_portal_group {
	struct list_node node;
	unsigned int tag; /* 2..65535 */
	unsigned int line;
	unsigned int naddr;
	char *addr[CONF_PG_ADDRS_MAX]; /* host, without brackets */
	uint16_t port[CONF_PG_ADDRS_MAX];
	/*
	 * "PortalGroup TAG Remote ADDRESS...": another gateway's group,
	 * reported in REPORT TARGET PORT GROUPS but not listened on here.
	 */
	bool remote;
};

/* A target's "PortalGroup TAG [STATE]": offered there, in that state. */
struct conf_tpg {
	struct list_node node;
	unsigned int tag;
	unsigned int line;
	enum conf_alua_state state;
	/* "PortalGroup TAG auto": the state follows the RBD exclusive lock */
	bool follow_lock;
};

enum conf_lun_type {
	CONF_LUN_FILEIO,
	CONF_LUN_BLOCKIO,
	CONF_LUN_NULLIO,
	CONF_LUN_RBD, /* a Ceph RBD image: Path=POOL[/NAMESPACE]/IMAGE */
};
enum conf_iomode { CONF_IOMODE_WT, CONF_IOMODE_WB, CONF_IOMODE_RO };

struct conf_account {
	struct list_node node;
	char *user;
	char *secret;
};

struct conf_lun {
	struct list_node node;
	unsigned int lun;
	unsigned int line; /* where it was defined, for messages */
	enum conf_lun_type type;
	char *path;    /* NULL for nullio; POOL[/NAMESPACE]/IMAGE for rbd */
	char *scsi_id; /* NULL when not given */
	char *scsi_sn; /* NULL when not given */
	enum conf_iomode iomode;
	unsigned int block_size; /* 512, 1024, 2048 or 4096 */
	/*
	 * PhysicalBlockSize (an ietd addition): block_size times a power of
	 * two up to 64, at most 65536; equal to block_size when not given.
	 */
	unsigned int phys_block_size;
	uint64_t sectors; /* nullio size in blocks; 0 for the others */
	/* Type=rbd: CephConf, CephUser, CephKeyring; NULL when not given. */
	char *ceph_conf;
	char *ceph_user;
	char *ceph_keyring;
};

struct conf_target {
	struct list_node node;
	char *name;       /* the target's iSCSI name (IQN/EUI/NAA) */
	char *alias;      /* NULL when not given */
	unsigned int tid; /* 1, 2, 3... in file order */
	unsigned int line;
	struct list_node incoming;     /* struct conf_account */
	struct conf_account *outgoing; /* NULL when not given */
	uint32_t params[CONF_KEY_COUNT];
	bool param_set[CONF_KEY_COUNT]; /* given in the file, not defaulted */
	struct list_node luns;          /* struct conf_lun, sorted by number */
	/*
	 * struct conf_tpg, sorted by tag. Empty: offered on every portal
	 * group, each active/optimized (a plain IET file).
	 */
	struct list_node tpgs;
};

struct conf {
	char *path;                    /* the file it came from */
	struct list_node incoming;     /* discovery accounts */
	struct conf_account *outgoing; /* discovery mutual CHAP account */
	char *isns_server;             /* NULL when not given */
	bool isns_access_control;
	struct list_node targets;       /* struct conf_target, file order */
	struct list_node portal_groups; /* struct conf_portal_group, by tag */
};

/* parse.c */

/*
 * Called once per error with "file:line: message" (no newline). arg is
 * the caller's.
 */
typedef void conf_report_fn(void *arg, const char *msg);

/*
 * Parse the file at path. Every error is reported (parsing goes on to
 * find them all), then NULL is returned. On success the caller frees the
 * result with conf_free(). A missing file is one error ("path: cannot
 * open: reason").
 */
struct conf *conf_load(const char *path, conf_report_fn *report, void *arg);
/* The same for text already in memory; name is used in messages. */
struct conf *conf_load_buf(const char *name, const char *text, size_t len,
    conf_report_fn *report, void *arg);

/* model.c */

void conf_free(struct conf *conf);
/* The target named name, compared without case; NULL when absent. */
struct conf_target *conf_target_find(const struct conf *conf, const char *name);
/* Deep copy of one target (for the registry); NULL on allocation failure. */
struct conf_target *conf_target_dup(const struct conf_target *t);
void conf_target_free(struct conf_target *t);

/* portal.c */

/* An empty conf (no target, no group); NULL on no memory. */
struct conf *conf_new_empty(void);

/* The global PortalGroup with that tag, or NULL (1 is never declared). */
const struct conf_portal_group *conf_portal_group_find(const struct conf *conf,
    unsigned int tag);
/* The target's PortalGroup line for tag, or NULL. */
struct conf_tpg *conf_tpg_find(const struct conf_target *t, unsigned int tag);
/* ALUA is on: the file uses the extension at all (any PortalGroup). */
bool conf_alua_enabled(const struct conf *conf);
/* "optimized", "nonoptimized", "standby", "unavailable". */
const char *conf_alua_state_name(enum conf_alua_state s);
/* Parse one of those names (any case); -EINVAL when it is none. */
int conf_alua_state_parse(const char *s, enum conf_alua_state *out);
/*
 * Set target t's state on portal group tag (a new line when it had none,
 * kept sorted); -ENOMEM.
 */
int conf_tpg_set(struct conf_target *t, unsigned int tag,
    enum conf_alua_state state);
/* Copy src's global portal groups into dst (empty); -ENOMEM. */
int conf_portal_groups_copy(struct conf *dst, const struct conf *src);
/* The portal groups of a and b declare the same tags and addresses. */
bool conf_portal_groups_equal(const struct conf *a, const struct conf *b);

/* write.c */

/* Write conf back as a valid ietd.conf; with_secrets = false writes
 * "********" in place of each secret. */
void conf_write(const struct conf *conf, FILE *f, bool with_secrets);

#endif /* IETD_CONFIG_CONF_H */
