/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * ietd.conf parser: text in, struct conf out. It checks every line, reports
 * each mistake as "file:line: message" and keeps going so that one run
 * shows them all; a file with any error yields no conf at all. Applying the
 * result is the target registry's job (src/target/).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/str.h"
#include "conf.h"
#include "conf_int.h"

#define CONF_MSG_MAX 1024         /* one reported message */
#define CONF_SHOW_MAX 256         /* a quoted value inside a message */
#define CONF_TOKENS_MAX 9         /* more than any keyword takes */
#define CONF_FILE_MAX (16u << 20) /* refuse absurd config files */
#define CONF_BLOCK_SIZE_MAX 4096
/* SBC-4 6.1 (READ CAPACITY (16)): a 4-bit exponent; ietd allows 2^6. */
#define CONF_PHYS_PER_LOGICAL_MAX 64
#define CONF_PHYS_BLOCK_SIZE_MAX 65536

/* Parser state for one file. */
struct conf_parser {
	const char *name;
	conf_report_fn *report;
	void *arg;
	unsigned int line;
	unsigned int errors;
	bool oom; /* stop: an allocation failed */
	struct conf *conf;
	struct conf_target *target; /* the open stanza, NULL in globals */
	unsigned int next_tid;
	/* Where each key of the open stanza was last set (0 = not set). */
	unsigned int key_line[CONF_KEY_COUNT];
};

static void conf_parser_error(struct conf_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
conf_parser_error(struct conf_parser *p, const char *fmt, ...)
{
	char msg[CONF_MSG_MAX], full[CONF_MSG_MAX + CONF_SHOW_MAX + 32];
	char name[CONF_SHOW_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	str_escape(name, sizeof(name), p->name, strlen(p->name));
	if (p->line > 0)
		snprintf(full, sizeof(full), "%s:%u: %s", name, p->line, msg);
	else
		snprintf(full, sizeof(full), "%s: %s", name, msg);
	p->errors++;
	if (p->report != NULL)
		p->report(p->arg, full);
}

static void
conf_parser_oom(struct conf_parser *p)
{
	if (!p->oom)
		conf_parser_error(p, "out of memory");
	p->oom = true;
}

/* A value as it may appear in a message: printable and bounded. */
static const char *
conf_show(char *buf, const char *s)
{
	return str_escape(buf, CONF_SHOW_MAX, s, strlen(s));
}

/* An error found after the file was read, at the line it belongs to. */
static void
conf_parser_bad_at(void *arg, unsigned int line, const char *msg)
{
	struct conf_parser *p = arg;

	p->line = line;
	conf_parser_error(p, "%s", msg);
}

/* --- keywords ---------------------------------------------------------- */

static bool
conf_parser_need_target(struct conf_parser *p, const char *kw)
{
	if (p->target != NULL)
		return true;
	conf_parser_error(p, "%s is only valid inside a Target", kw);
	return false;
}

static bool
conf_parser_need_global(struct conf_parser *p, const char *kw)
{
	if (p->target == NULL)
		return true;
	conf_parser_error(p, "%s is only valid before the first Target", kw);
	return false;
}

/* Check the number of values after a keyword: exactly want. */
static bool
conf_parser_nvalues(struct conf_parser *p, const char *kw, int ntok, int want,
    const char *what)
{
	if (ntok - 1 < want) {
		conf_parser_error(p, "%s needs %s", kw, what);
		return false;
	}
	if (ntok - 1 > want) {
		conf_parser_error(p, "%s takes only %s", kw, what);
		return false;
	}
	return true;
}

/* Per-stanza checks that need the whole stanza, run when it closes. */
static void
conf_parser_close_target(struct conf_parser *p)
{
	struct conf_target *t = p->target;
	unsigned int save = p->line;
	unsigned int fl = p->key_line[CONF_KEY_FIRST_BURST_LENGTH];
	unsigned int ml = p->key_line[CONF_KEY_MAX_BURST_LENGTH];

	if (t == NULL)
		return;
	/*
	 * RFC 7143 13.14: "FirstBurstLength MUST NOT exceed MaxBurstLength".
	 * Reported at whichever of the two lines came last (the Target line
	 * when both are defaults, which cannot conflict).
	 */
	if (t->params[CONF_KEY_FIRST_BURST_LENGTH] >
	    t->params[CONF_KEY_MAX_BURST_LENGTH]) {
		p->line = fl > ml ? fl : ml;
		if (p->line == 0)
			p->line = t->line;
		conf_parser_error(p,
		    "FirstBurstLength %u is greater than MaxBurstLength %u",
		    (unsigned int)t->params[CONF_KEY_FIRST_BURST_LENGTH],
		    (unsigned int)t->params[CONF_KEY_MAX_BURST_LENGTH]);
	}
	p->line = save;
	p->target = NULL;
}

static void
conf_parser_target(struct conf_parser *p, char **tok, int ntok)
{
	const char *why;
	struct conf_target *t, *old;
	char *name;

	conf_parser_close_target(p);
	t = conf_target_new();
	if (t == NULL) {
		conf_parser_oom(p);
		return;
	}
	t->line = p->line;
	t->tid = p->next_tid++;
	/*
	 * Even a bad Target line opens a stanza, so that the keys under it
	 * are checked as target keys and not reported as misplaced.
	 */
	list_add_tail(&p->conf->targets, &t->node);
	p->target = t;
	memset(p->key_line, 0, sizeof(p->key_line));
	if (!conf_parser_nvalues(p, "Target", ntok, 1, "one name"))
		return;
	name = mem_strdup(tok[1]);
	if (name == NULL) {
		conf_parser_oom(p);
		return;
	}
	/*
	 * RFC 7143 4.2.7.2: names compare after RFC 3722's case folding
	 * (plain lower-casing for the ASCII names accepted here), so every
	 * lookup ignores case. The name is kept as written, as IET kept it:
	 * scripts such as Pacemaker's iSCSITarget agent look for the name
	 * they configured in the status files, letter for letter.
	 */
	why = str_iscsi_name_check(name);
	if (why != NULL) {
		char show[CONF_SHOW_MAX];

		conf_parser_error(p, "Target %s is not a valid iSCSI name: %s",
		    conf_show(show, tok[1]), why);
		mem_free(name);
		return;
	}
	old = conf_target_find(p->conf, name);
	if (old != NULL) {
		conf_parser_error(p,
		    "Target %s is defined twice (first at line %u)", name,
		    old->line);
		mem_free(name);
		return;
	}
	t->name = name;
}

static void
conf_parser_user(struct conf_parser *p, const char *kw, bool incoming,
    char **tok, int ntok)
{
	struct list_node *head =
	    p->target ? &p->target->incoming : &p->conf->incoming;
	struct conf_account **out =
	    p->target ? &p->target->outgoing : &p->conf->outgoing;
	struct conf_account *a;

	if (!conf_parser_nvalues(p, kw, ntok, 2, "a user name and a secret"))
		return;
	if (incoming && conf_account_find(head, tok[1]) != NULL) {
		char show[CONF_SHOW_MAX];

		conf_parser_error(p, "IncomingUser %s is given twice",
		    conf_show(show, tok[1]));
		return;
	}
	if (!incoming && *out != NULL) {
		conf_parser_error(p,
		    "OutgoingUser is given twice (only one is allowed)");
		return;
	}
	a = conf_account_new(tok[1], tok[2]);
	if (a == NULL) {
		conf_parser_oom(p);
		return;
	}
	if (incoming)
		list_add_tail(head, &a->node);
	else
		*out = a;
}

/* The values of a Lun parameter list, NULL when not given. */
struct conf_lun_args {
	const char *path, *type, *scsi_id, *scsi_sn, *iomode, *bsize, *sectors;
	const char *pbsize;
	const char *ceph_conf, *ceph_user, *ceph_keyring; /* Type=rbd */
};

static const char **
conf_lun_arg_slot(struct conf_lun_args *a, const char *name)
{
	if (strcasecmp(name, "Path") == 0)
		return &a->path;
	if (strcasecmp(name, "Type") == 0)
		return &a->type;
	if (strcasecmp(name, "ScsiId") == 0)
		return &a->scsi_id;
	if (strcasecmp(name, "ScsiSN") == 0)
		return &a->scsi_sn;
	if (strcasecmp(name, "IOMode") == 0)
		return &a->iomode;
	if (strcasecmp(name, "BlockSize") == 0)
		return &a->bsize;
	if (strcasecmp(name, "PhysicalBlockSize") == 0)
		return &a->pbsize;
	if (strcasecmp(name, "CephConf") == 0)
		return &a->ceph_conf;
	if (strcasecmp(name, "CephUser") == 0)
		return &a->ceph_user;
	if (strcasecmp(name, "CephKeyring") == 0)
		return &a->ceph_keyring;
	/* IET 1.4.20 named it Blocks, keeping Sectors as an alias. */
	if (strcasecmp(name, "Sectors") == 0 || strcasecmp(name, "Blocks") == 0)
		return &a->sectors;
	return NULL;
}

/*
 * Split the parameter list into a; false (reported) on a syntax error.
 * Empty elements (",,", a leading or trailing comma) are skipped, as
 * IET's own parser skipped them: Pacemaker's iSCSILogicalUnit agent
 * always ends its --params with a comma.
 */
static bool
conf_lun_args_split(struct conf_parser *p, unsigned int n, char *list,
    struct conf_lun_args *a)
{
	char show[CONF_SHOW_MAX];
	bool ok = true;
	char *item, *save = NULL;

	memset(a, 0, sizeof(*a));
	for (item = strtok_r(list, ",", &save); item != NULL;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		const char **slot;

		if (eq == NULL || eq[1] == '\0') {
			if (eq != NULL)
				*eq = '\0';
			if (conf_lun_arg_slot(a, item) == NULL)
				conf_parser_error(p,
				    "Lun %u: unknown parameter %s", n,
				    conf_show(show, item));
			else
				conf_parser_error(p, "Lun %u: %s needs a value",
				    n, conf_show(show, item));
			ok = false;
			continue;
		}
		*eq = '\0';
		slot = conf_lun_arg_slot(a, item);
		if (slot == NULL) {
			conf_parser_error(p, "Lun %u: unknown parameter %s", n,
			    conf_show(show, item));
			ok = false;
		} else if (*slot != NULL) {
			conf_parser_error(p, "Lun %u: %s is given twice", n,
			    conf_show(show, item));
			ok = false;
		} else {
			*slot = eq + 1;
		}
	}
	return ok;
}

static bool
conf_lun_id_check(struct conf_parser *p, unsigned int n, const char *what,
    const char *v)
{
	/*
	 * They end up in the Unit Serial Number and Device Identification
	 * VPD pages (SPC-4 7.8) as ASCII; IET limited both to 16 bytes.
	 */
	if (strlen(v) > CONF_SCSI_ID_MAX) {
		conf_parser_error(p, "Lun %u: %s is longer than %d characters",
		    n, what, CONF_SCSI_ID_MAX);
		return false;
	}
	for (const char *c = v; *c != '\0'; c++)
		if (*c < 0x21 || *c > 0x7e) {
			conf_parser_error(p,
			    "Lun %u: %s must be printable ASCII", n, what);
			return false;
		}
	return true;
}

/*
 * One part of an RBD Path: a pool, namespace or image name. Ceph itself
 * takes almost any byte; refuse what would be ambiguous in ietd.conf or
 * in a log line (blanks, control bytes) and "@", which names a snapshot.
 */
static bool
conf_rbd_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > CONF_RBD_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '@')
			return false;
	return true;
}

/* Type=rbd: Path is POOL/IMAGE or POOL/NAMESPACE/IMAGE; the files exist. */
static bool
conf_lun_rbd_check(struct conf_parser *p, unsigned int n,
    const struct conf_lun_args *a)
{
	char show[CONF_SHOW_MAX];
	const char *s = a->path, *slash;
	unsigned int parts = 0;
	bool ok = true;

	for (;;) {
		slash = strchr(s, '/');
		if (!conf_rbd_name_ok(s,
			slash != NULL ? (size_t)(slash - s) : strlen(s))) {
			parts = 0;
			break;
		}
		parts++;
		if (slash == NULL)
			break;
		s = slash + 1;
	}
	if (parts < 2 || parts > 3) {
		conf_parser_error(p,
		    "Lun %u: Path %s is not POOL/IMAGE or POOL/NAMESPACE/IMAGE "
		    "(printable names without blanks or @, at most %d "
		    "characters each)",
		    n, conf_show(show, a->path), CONF_RBD_NAME_MAX);
		ok = false;
	}
	if (a->ceph_user != NULL &&
	    !conf_rbd_name_ok(a->ceph_user, strlen(a->ceph_user))) {
		conf_parser_error(p,
		    "Lun %u: CephUser %s is not a client id (printable, no "
		    "blanks, at most %d characters)",
		    n, conf_show(show, a->ceph_user), CONF_RBD_NAME_MAX);
		ok = false;
	} else if (a->ceph_user != NULL &&
	    strncasecmp(a->ceph_user, "client.", 7) == 0) {
		/* librados adds the type itself: client.client.x never exists.
		 */
		conf_parser_error(p,
		    "Lun %u: CephUser %s: give the id without \"client.\" "
		    "(CephUser=%s)",
		    n, conf_show(show, a->ceph_user), a->ceph_user + 7);
		ok = false;
	}
	/* Checked now so a typo fails the load, not the first login. */
	if (a->ceph_conf != NULL && access(a->ceph_conf, R_OK) != 0) {
		conf_parser_error(p, "Lun %u: cannot use CephConf %s: %s", n,
		    conf_show(show, a->ceph_conf), strerror(errno));
		ok = false;
	}
	if (a->ceph_keyring != NULL && access(a->ceph_keyring, R_OK) != 0) {
		conf_parser_error(p, "Lun %u: cannot use CephKeyring %s: %s", n,
		    conf_show(show, a->ceph_keyring), strerror(errno));
		ok = false;
	}
	return ok;
}

/* Build the LUN from its checked parameters; false when reported. */
static bool
conf_lun_fill(struct conf_parser *p, unsigned int n,
    const struct conf_lun_args *a, struct conf_lun *l)
{
	char show[CONF_SHOW_MAX];
	bool ok = true;
	uint64_t v;

	l->type = CONF_LUN_FILEIO;
	if (a->type == NULL || strcasecmp(a->type, "fileio") == 0) {
		l->type = CONF_LUN_FILEIO;
	} else if (strcasecmp(a->type, "blockio") == 0) {
		l->type = CONF_LUN_BLOCKIO;
	} else if (strcasecmp(a->type, "nullio") == 0) {
		l->type = CONF_LUN_NULLIO;
	} else if (strcasecmp(a->type, "rbd") == 0) {
		l->type = CONF_LUN_RBD;
	} else {
		conf_parser_error(p,
		    "Lun %u: unknown Type %s (expected "
		    "fileio, blockio, nullio or rbd)",
		    n, conf_show(show, a->type));
		return false;
	}
	l->iomode = CONF_IOMODE_WT;
	if (a->iomode == NULL || strcasecmp(a->iomode, "wt") == 0) {
		l->iomode = CONF_IOMODE_WT;
	} else if (strcasecmp(a->iomode, "wb") == 0) {
		l->iomode = CONF_IOMODE_WB;
	} else if (strcasecmp(a->iomode, "ro") == 0) {
		l->iomode = CONF_IOMODE_RO;
	} else {
		conf_parser_error(p,
		    "Lun %u: unknown IOMode %s (expected wt, wb or ro)", n,
		    conf_show(show, a->iomode));
		ok = false;
	}
	l->block_size = 512;
	if (a->bsize != NULL) {
		if (str_to_u64(a->bsize, 512, CONF_BLOCK_SIZE_MAX, false, &v) !=
			0 ||
		    (v & (v - 1)) != 0) {
			conf_parser_error(p,
			    "Lun %u: BlockSize %s is not "
			    "512, 1024, 2048 or 4096",
			    n, conf_show(show, a->bsize));
			ok = false;
		} else {
			l->block_size = (unsigned int)v;
		}
	}
	l->phys_block_size = l->block_size;
	if (a->pbsize != NULL) {
		/* 512e: 512-byte logical blocks on 4 KiB-sector storage. */
		if (str_to_u64(a->pbsize, 1, CONF_PHYS_BLOCK_SIZE_MAX, false,
			&v) != 0 ||
		    (v & (v - 1)) != 0 || v < l->block_size ||
		    v > (uint64_t)l->block_size * CONF_PHYS_PER_LOGICAL_MAX) {
			conf_parser_error(p,
			    "Lun %u: PhysicalBlockSize %s is not a power of "
			    "two from BlockSize (%u) to %u times it, at most "
			    "%u",
			    n, conf_show(show, a->pbsize), l->block_size,
			    CONF_PHYS_PER_LOGICAL_MAX,
			    CONF_PHYS_BLOCK_SIZE_MAX);
			ok = false;
		} else {
			l->phys_block_size = (unsigned int)v;
		}
	}
	if (a->scsi_id != NULL &&
	    !conf_lun_id_check(p, n, "ScsiId", a->scsi_id))
		ok = false;
	if (a->scsi_sn != NULL &&
	    !conf_lun_id_check(p, n, "ScsiSN", a->scsi_sn))
		ok = false;
	if (l->type != CONF_LUN_RBD) {
		const char *k = a->ceph_conf != NULL ? "CephConf"
		    : a->ceph_user != NULL           ? "CephUser"
		    : a->ceph_keyring != NULL        ? "CephKeyring"
						     : NULL;

		if (k != NULL) {
			conf_parser_error(p,
			    "Lun %u: %s is only valid with Type=rbd", n, k);
			ok = false;
		}
	}
	if (l->type == CONF_LUN_NULLIO) {
		if (a->path != NULL) {
			conf_parser_error(p,
			    "Lun %u: Path is not allowed with Type=nullio", n);
			ok = false;
		}
		if (a->sectors == NULL) {
			conf_parser_error(p,
			    "Lun %u: Sectors is required with Type=nullio", n);
			ok = false;
		} else if (str_to_u64(a->sectors, 1,
			       UINT64_MAX / CONF_BLOCK_SIZE_MAX, false,
			       &v) != 0) {
			conf_parser_error(p,
			    "Lun %u: Sectors %s is not a "
			    "block count from 1 to %llu",
			    n, conf_show(show, a->sectors),
			    (unsigned long long)(UINT64_MAX /
				CONF_BLOCK_SIZE_MAX));
			ok = false;
		} else {
			l->sectors = v;
		}
		return ok;
	}
	if (a->sectors != NULL) {
		conf_parser_error(p,
		    "Lun %u: Sectors is only valid with Type=nullio", n);
		ok = false;
	}
	if (a->path == NULL) {
		conf_parser_error(p, "Lun %u: Path is required with Type=%s", n,
		    l->type == CONF_LUN_BLOCKIO   ? "blockio"
			: l->type == CONF_LUN_RBD ? "rbd"
						  : "fileio");
		return false;
	}
	if (l->type == CONF_LUN_RBD)
		return conf_lun_rbd_check(p, n, a) && ok;
	/* Checked now so a typo fails the load, not the first login. */
	if (access(a->path, l->iomode == CONF_IOMODE_RO ? R_OK : R_OK | W_OK) !=
	    0) {
		conf_parser_error(p, "Lun %u: cannot use Path %s: %s", n,
		    conf_show(show, a->path), strerror(errno));
		return false;
	}
	return ok;
}

static void
conf_parser_lun(struct conf_parser *p, char **tok, int ntok)
{
	char show[CONF_SHOW_MAX];
	struct conf_lun_args a;
	struct conf_lun *l;
	struct list_node *pos;
	uint64_t n;
	bool fail = false;

	if (!conf_parser_need_target(p, "Lun"))
		return;
	if (ntok > 3) {
		conf_parser_error(p,
		    "Lun %s: no blanks are allowed in the parameter list",
		    conf_show(show, tok[1]));
		return;
	}
	if (!conf_parser_nvalues(p, "Lun", ntok, 2,
		"a number and a parameter list"))
		return;
	if (str_to_u64(tok[1], 0, CONF_LUN_MAX, false, &n) != 0) {
		conf_parser_error(p, "Lun %s is not a LUN number from 0 to %d",
		    conf_show(show, tok[1]), CONF_LUN_MAX);
		return;
	}
	/* Keep the list sorted; find the first entry with a higher number. */
	list_for_each(pos, &p->target->luns) {
		struct conf_lun *o = list_entry(pos, struct conf_lun, node);

		if (o->lun == n) {
			conf_parser_error(p,
			    "Lun %u is defined twice (first at line %u)",
			    (unsigned int)n, o->line);
			return;
		}
		if (o->lun > n)
			break;
	}
	if (!conf_lun_args_split(p, (unsigned int)n, tok[2], &a))
		return;
	l = mem_zalloc(sizeof(*l));
	if (l == NULL) {
		conf_parser_oom(p);
		return;
	}
	list_init(&l->node);
	l->lun = (unsigned int)n;
	l->line = p->line;
	if (!conf_lun_fill(p, (unsigned int)n, &a, l)) {
		conf_lun_free(l);
		return;
	}
	l->path = conf_strdup_opt(a.path, &fail);
	l->scsi_id = conf_strdup_opt(a.scsi_id, &fail);
	l->scsi_sn = conf_strdup_opt(a.scsi_sn, &fail);
	l->ceph_conf = conf_strdup_opt(a.ceph_conf, &fail);
	l->ceph_user = conf_strdup_opt(a.ceph_user, &fail);
	l->ceph_keyring = conf_strdup_opt(a.ceph_keyring, &fail);
	if (fail) {
		conf_lun_free(l);
		conf_parser_oom(p);
		return;
	}
	list_insert_between(&l->node, pos->prev, pos);
}

static void
conf_parser_key(struct conf_parser *p, enum conf_key k, char **tok, int ntok)
{
	const struct conf_key_def *d = &conf_key_defs[k];
	char why[CONF_SHOW_MAX], show[CONF_SHOW_MAX], joined[CONF_SHOW_MAX];
	const char *value;
	uint32_t v;
	int rc;

	if (!conf_parser_need_target(p, d->name))
		return;
	if (d->kind == CONF_KIND_DIGEST) {
		/*
		 * A preference list may have blanks around its comma: put
		 * the words back together with one blank between them.
		 */
		if (ntok < 2) {
			conf_parser_error(p, "%s needs a value", d->name);
			return;
		}
		joined[0] = '\0';
		for (int i = 1; i < ntok; i++) {
			strncat(joined, " ",
			    sizeof(joined) - strlen(joined) - 1);
			strncat(joined, tok[i],
			    sizeof(joined) - strlen(joined) - 1);
		}
		value = joined + 1;
	} else {
		if (!conf_parser_nvalues(p, d->name, ntok, 1, "one value"))
			return;
		value = tok[1];
	}
	rc = conf_key_parse(k, value, &v, why, sizeof(why));
	if (rc == -ERANGE) {
		conf_parser_error(p, "%s %s is out of range (%u to %u)",
		    d->name, conf_show(show, value), (unsigned int)d->min,
		    (unsigned int)d->max);
		return;
	}
	if (rc != 0) {
		conf_parser_error(p, "%s %s: %s", d->name,
		    conf_show(show, value), why);
		return;
	}
	p->target->params[k] = v;
	p->target->param_set[k] = true;
	p->key_line[k] = p->line;
}

/*
 * IET's files may still carry the marker keys of RFC 3720 (IFMarker,
 * OFMarker, IFMarkInt, OFMarkInt), which RFC 7143 made obsolete. Accept
 * and ignore them so such files load, but refuse to pretend markers can
 * be turned on.
 */
static void
conf_parser_marker(struct conf_parser *p, const char *kw, char **tok, int ntok)
{
	bool b = false;

	if (!conf_parser_need_target(p, kw) ||
	    !conf_parser_nvalues(p, kw, ntok, 1, "one value"))
		return;
	if (strcasecmp(kw, "OFMarker") != 0 && strcasecmp(kw, "IFMarker") != 0)
		return;
	if (str_to_bool(tok[1], &b) != 0) {
		char show[CONF_SHOW_MAX];

		conf_parser_error(p, "%s %s: expected Yes or No", kw,
		    conf_show(show, tok[1]));
		return;
	}
	if (b)
		conf_parser_error(p,
		    "%s Yes: markers are not supported "
		    "(obsolete since RFC 7143)",
		    kw);
}

/* Split at blanks, in place. Returns the count, at most max. */
static int
conf_tokenize(char *s, char **tok, int max)
{
	int n = 0;

	while (*s != '\0') {
		while (*s == ' ' || *s == '\t')
			*s++ = '\0';
		if (*s == '\0')
			break;
		if (n == max)
			return max + 1;
		tok[n++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t')
			s++;
	}
	return n;
}

static void
conf_parser_line(struct conf_parser *p, char *line)
{
	char *tok[CONF_TOKENS_MAX], show[CONF_SHOW_MAX];
	const char *kw;
	enum conf_key k;
	bool b;
	int ntok, given;

	ntok = conf_tokenize(line, tok, CONF_TOKENS_MAX);
	if (ntok == 0)
		return;
	given = ntok;
	if (ntok > CONF_TOKENS_MAX)
		ntok = CONF_TOKENS_MAX;
	kw = tok[0];
	if (strcasecmp(kw, "Target") == 0) {
		conf_parser_target(p, tok, ntok);
	} else if (strcasecmp(kw, "IncomingUser") == 0) {
		conf_parser_user(p, "IncomingUser", true, tok, ntok);
	} else if (strcasecmp(kw, "OutgoingUser") == 0) {
		conf_parser_user(p, "OutgoingUser", false, tok, ntok);
	} else if (strcasecmp(kw, "Lun") == 0) {
		conf_parser_lun(p, tok, ntok);
	} else if (strcasecmp(kw, "Alias") == 0) {
		if (!conf_parser_need_target(p, "Alias") ||
		    !conf_parser_nvalues(p, "Alias", ntok, 1, "one name"))
			return;
		mem_free(p->target->alias);
		p->target->alias = mem_strdup(tok[1]);
		if (p->target->alias == NULL)
			conf_parser_oom(p);
	} else if (strcasecmp(kw, "iSNSServer") == 0) {
		if (!conf_parser_need_global(p, "iSNSServer") ||
		    !conf_parser_nvalues(p, "iSNSServer", ntok, 1,
			"one address"))
			return;
		mem_free(p->conf->isns_server);
		p->conf->isns_server = mem_strdup(tok[1]);
		if (p->conf->isns_server == NULL)
			conf_parser_oom(p);
	} else if (strcasecmp(kw, "iSNSAccessControl") == 0) {
		if (!conf_parser_need_global(p, "iSNSAccessControl") ||
		    !conf_parser_nvalues(p, "iSNSAccessControl", ntok, 1,
			"one value"))
			return;
		if (str_to_bool(tok[1], &b) != 0) {
			conf_parser_error(p,
			    "iSNSAccessControl %s: expected Yes or No",
			    conf_show(show, tok[1]));
			return;
		}
		p->conf->isns_access_control = b;
	} else if (strcasecmp(kw, "PortalGroup") == 0) {
		char why[CONF_MSG_MAX];

		if (given > CONF_TOKENS_MAX) {
			conf_parser_error(p,
			    "PortalGroup takes at most %u addresses",
			    CONF_PG_ADDRS_MAX);
			return;
		}
		if (!conf_portal_parse(p->conf, p->target, tok, ntok, p->line,
			why, sizeof(why)))
			conf_parser_error(p, "%s", why);
	} else if (strcasecmp(kw, "OFMarker") == 0 ||
	    strcasecmp(kw, "IFMarker") == 0 ||
	    strcasecmp(kw, "OFMarkInt") == 0 ||
	    strcasecmp(kw, "IFMarkInt") == 0) {
		conf_parser_marker(p, kw, tok, ntok);
	} else if ((k = conf_key_find(kw)) != CONF_KEY_COUNT) {
		conf_parser_key(p, k, tok, ntok);
	} else {
		conf_parser_error(p, "unknown keyword %s", conf_show(show, kw));
	}
}

/*
 * Cut a " # comment" off the end of a logical line. A '#' counts only at
 * the start or after a blank, so a secret such as "pass#word" survives.
 */
static void
conf_strip_comment(char *s)
{
	for (char *c = s; *c != '\0'; c++)
		if (*c == '#' && (c == s || c[-1] == ' ' || c[-1] == '\t')) {
			*c = '\0';
			return;
		}
}

/*
 * Report a control character (other than a tab) in the n bytes at s.
 * No value can hold one: a dumped value ending in '\r' would lose it to
 * the CRLF rule when read back, and a path, name or secret with one is
 * a corrupted file rather than a choice.
 */
static bool
conf_has_control(struct conf_parser *p, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0') {
			conf_parser_error(p, "line contains a NUL byte");
			return true;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			conf_parser_error(p,
			    "line contains control character 0x%02x%s", c,
			    c == '\r' ? " (a carriage return inside the line)"
				      : "");
			return true;
		}
	}
	return false;
}

/* The length of a line without the '\r' of a CRLF ending. */
static size_t
conf_chomp(const char *s, size_t n)
{
	return n > 0 && s[n - 1] == '\r' ? n - 1 : n;
}

struct conf *
conf_load_buf(const char *name, const char *text, size_t len,
    conf_report_fn *report, void *arg)
{
	struct conf_parser p = {.name = name ? name : "(config)",
	    .report = report,
	    .arg = arg,
	    .next_tid = 1};
	char *logical = NULL;
	size_t pos = 0, ll = 0;
	unsigned int physical = 0;
	bool continued = false, drop = false;

	p.conf = conf_new();
	if (p.conf == NULL) {
		conf_parser_oom(&p);
		return NULL;
	}
	p.conf->path = mem_strdup(p.name);
	/* A logical line is never longer than the whole text. */
	logical = mem_alloc(len + 1);
	if (p.conf->path == NULL || logical == NULL) {
		conf_parser_oom(&p);
		goto out;
	}
	while (pos < len && !p.oom) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - s) : len - pos, skip;

		pos += nl != NULL ? n + 1 : n;
		physical++;
		n = conf_chomp(s, n);
		/* The text need not be NUL-terminated: stay within n. */
		for (skip = 0; skip < n && (s[skip] == ' ' || s[skip] == '\t');
		     skip++)
			;
		if (!continued) {
			p.line = physical;
			ll = 0;
			drop = false;
			/* Whole-line comments and blank lines. */
			if (skip >= n || s[skip] == '#')
				continue;
		}
		/* Else a continuation line: its indentation is not data. */
		if (!drop && conf_has_control(&p, s, n))
			drop = true; /* reported once; skip the logical line */
		s += skip;
		n -= skip;
		continued = n > 0 && s[n - 1] == '\\';
		if (continued)
			n--;
		memcpy(logical + ll, s, n);
		ll += n;
		logical[ll] = '\0';
		if (continued && pos < len)
			continue;
		continued = false;
		if (drop)
			continue;
		conf_strip_comment(logical);
		conf_parser_line(&p, logical);
	}
	if (!p.oom) {
		conf_parser_close_target(&p);
		conf_portal_check(p.conf, conf_parser_bad_at, &p);
	}
out:
	mem_free(logical);
	if (p.errors > 0) {
		conf_free(p.conf);
		return NULL;
	}
	return p.conf;
}

struct conf *
conf_load(const char *path, conf_report_fn *report, void *arg)
{
	struct conf_parser p = {.name = path, .report = report, .arg = arg};
	char *buf = NULL;
	size_t len = 0, cap = 0;
	struct conf *conf = NULL;
	FILE *f;

	f = fopen(path, "re");
	if (f == NULL) {
		conf_parser_error(&p, "cannot open: %s", strerror(errno));
		return NULL;
	}
	for (;;) {
		size_t got;

		if (len == cap) {
			char *nb;

			if (cap >= CONF_FILE_MAX) {
				conf_parser_error(&p,
				    "file is larger than %u bytes",
				    CONF_FILE_MAX);
				goto out;
			}
			cap = cap ? cap * 2 : 8192;
			nb = mem_realloc(buf, cap);
			if (nb == NULL) {
				conf_parser_oom(&p);
				goto out;
			}
			buf = nb;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			if (ferror(f)) {
				conf_parser_error(&p, "cannot read: %s",
				    strerror(errno));
				goto out;
			}
			break;
		}
	}
	conf = conf_load_buf(path, buf ? buf : "", len, report, arg);
out:
	fclose(f);
	mem_free(buf);
	return conf;
}
