/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Persistent reservations (SPC-4 5.13, 6.15, 6.16): PERSISTENT RESERVE IN
 * and OUT, and the conflict rules they put on other commands.
 * Registrations are keyed by initiator and target port names so they
 * outlive a session's reconnect; with APTPL the whole state also goes to
 * a file (pr_store.c) before the command that changed it completes, and
 * comes back when the LU is created.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "scsi/scsi_int.h"
#include "scsi/scsi_proto.h"
#include "util/alloc.h"
#include "util/be.h"
#include "util/log.h"

/* Service actions (SPC-4 tables 165 and 172). */
#define PR_IN_READ_KEYS 0x00
#define PR_IN_READ_RESERVATION 0x01
#define PR_IN_REPORT_CAPABILITIES 0x02
#define PR_IN_READ_FULL_STATUS 0x03
#define PR_OUT_REGISTER 0x00
#define PR_OUT_RESERVE 0x01
#define PR_OUT_RELEASE 0x02
#define PR_OUT_CLEAR 0x03
#define PR_OUT_PREEMPT 0x04
#define PR_OUT_PREEMPT_ABORT 0x05
#define PR_OUT_REGISTER_IGNORE 0x06
#define PR_OUT_REGISTER_MOVE 0x07

/* Reservation types (SPC-4 table 168). */
#define PR_TYPE_WE 0x1
#define PR_TYPE_EA 0x3
#define PR_TYPE_WE_RO 0x5
#define PR_TYPE_EA_RO 0x6
#define PR_TYPE_WE_AR 0x7
#define PR_TYPE_EA_AR 0x8

#define PR_OUT_PARAM_LEN 24
/* SPEC_I_PT: TRANSPORTID PARAMETER DATA LENGTH at 24, TransportIDs at 28. */
#define PR_OUT_SPEC_HDR 28
#define PR_SPEC_I_PT 0x08
#define PR_ALL_TG_PT 0x04
#define PR_APTPL 0x01
#define PR_MOVE_UNREG 0x02 /* REGISTER AND MOVE byte 17 */
/* REPORT CAPABILITIES (SPC-4 6.15.4) byte 2 and 3. */
#define PR_CAP_CRH 0x10
#define PR_CAP_SIP_C 0x08
#define PR_CAP_ATP_C 0x04
#define PR_CAP_PTPL_C 0x01
#define PR_CAP_TMV 0x80
#define PR_CAP_ALLOW_TUR 0x10 /* ALLOW COMMANDS 001b */
#define PR_CAP_PTPL_A 0x01
#define PR_FULL_R_HOLDER 0x01
#define PR_FULL_ALL_TG_PT 0x02
/* iSCSI TransportIDs (SPC-4 7.6.4.6): protocol 5h, formats 00b and 01b. */
#define PR_PROTO_ISCSI 0x5
#define PR_TID_NAME 0x00
#define PR_TID_PORT 0x40
#define PR_TID_MIN_ADDL 20 /* ADDITIONAL LENGTH: at least 20 */
#define PR_ISCSI_NAME_MAX 223
#define PR_ISID_HEX 12
/*
 * PERSISTENT RESERVE IN data: its ALLOCATION LENGTH is 16 bits, so this
 * holds all it can ask for, READ KEYS of SCSI_PR_REGS_MAX keys among it.
 */
#define PR_DATA_MAX 65536

/* How a PERSISTENT RESERVE OUT ends (scsi_pr_out). */
enum pr_verdict_kind {
	PR_V_STATUS,      /* status below (GOOD, CONFLICT, BUSY) */
	PR_V_BAD_CDB,     /* INVALID FIELD IN CDB at byte/bit */
	PR_V_BAD_PARAM,   /* INVALID FIELD IN PARAMETER LIST at byte/bit */
	PR_V_LIST_LENGTH, /* PARAMETER LIST LENGTH ERROR */
	PR_V_NO_ROOM,     /* INSUFFICIENT REGISTRATION RESOURCES */
	PR_V_BAD_RELEASE, /* INVALID RELEASE OF PERSISTENT RESERVATION */
};

struct pr_verdict {
	enum pr_verdict_kind kind;
	uint8_t status;
	unsigned int byte;
	int bit;
};

static struct pr_verdict
pr_status(uint8_t status)
{
	return (struct pr_verdict){.kind = PR_V_STATUS, .status = status};
}

static struct pr_verdict
pr_bad_param(unsigned int byte, int bit)
{
	return (struct pr_verdict){.kind = PR_V_BAD_PARAM,
	    .byte = byte,
	    .bit = bit};
}

static struct pr_verdict
pr_verdict(enum pr_verdict_kind kind)
{
	return (struct pr_verdict){.kind = kind};
}

static bool
pr_good(struct pr_verdict v)
{
	return v.kind == PR_V_STATUS && v.status == SCSI_STATUS_GOOD;
}

static bool
pr_type_valid(uint8_t t)
{
	return t == PR_TYPE_WE || t == PR_TYPE_EA || t == PR_TYPE_WE_RO ||
	    t == PR_TYPE_EA_RO || t == PR_TYPE_WE_AR || t == PR_TYPE_EA_AR;
}

static bool
pr_type_all_reg(uint8_t t)
{
	return t == PR_TYPE_WE_AR || t == PR_TYPE_EA_AR;
}

static bool
pr_type_reg_only(uint8_t t)
{
	return t == PR_TYPE_WE_RO || t == PR_TYPE_EA_RO;
}

static const char *
pr_iport(const struct scsi_task *task)
{
	return task->nexus != NULL ? task->nexus->initiator_port : "";
}

static const char *
pr_tport(const struct scsi_task *task)
{
	return task->nexus != NULL ? task->nexus->target_port : "";
}

/* Length of the iSCSI name in "name,i,0x<ISID>" (names have no comma). */
static size_t
pr_name_len(const char *port)
{
	return strcspn(port, ",");
}

/*
 * iSCSI names compare case-insensitively (RFC 3722 folds them to lower
 * case), and so do the hexadecimal ISIDs of initiator port names.
 */
bool
scsi_pr_reg_matches(const struct scsi_pr_reg *r, const char *iport,
    const char *tport)
{
	if (!r->all_tg_pt && strcasecmp(r->target_port, tport) != 0)
		return false;
	if (r->any_isid)
		return pr_name_len(iport) == strlen(r->initiator_port) &&
		    strncasecmp(r->initiator_port, iport,
			strlen(r->initiator_port)) == 0;
	return strcasecmp(r->initiator_port, iport) == 0;
}

/*
 * Could one I_T nexus match both a and b? Then b may not be registered
 * beside a: every nexus has at most one registration (SPC-4 5.13.7).
 */
static bool
pr_reg_overlap(const struct scsi_pr_reg *a, const struct scsi_pr_reg *b)
{
	size_t na = pr_name_len(a->initiator_port);

	if (!a->all_tg_pt && !b->all_tg_pt &&
	    strcasecmp(a->target_port, b->target_port) != 0)
		return false;
	if (na != pr_name_len(b->initiator_port) ||
	    strncasecmp(a->initiator_port, b->initiator_port, na) != 0)
		return false;
	return a->any_isid || b->any_isid ||
	    strcasecmp(a->initiator_port, b->initiator_port) == 0;
}

static struct scsi_pr_reg *
pr_reg_find(struct scsi_lu *lu, const struct scsi_task *task)
{
	struct list_node *pos;

	list_for_each(pos, &lu->pr_regs) {
		struct scsi_pr_reg *r =
		    list_entry(pos, struct scsi_pr_reg, node);

		if (scsi_pr_reg_matches(r, pr_iport(task), pr_tport(task)))
			return r;
	}
	return NULL;
}

static bool
pr_is_holder(const struct scsi_lu *lu, const struct scsi_pr_reg *r)
{
	if (!lu->pr_held || r == NULL)
		return false;
	return pr_type_all_reg(lu->pr_type) || lu->pr_holder == r;
}

/*
 * SPC-4 5.13.1 table 49 and SBC-4 4.17 table, reduced to read and write
 * classes. GET LBA STATUS shares its opcode with READ CAPACITY (16): it
 * reads, READ CAPACITY is allowed under every type.
 */
bool
scsi_pr_conflict(struct scsi_lu *lu, const struct scsi_task *task,
    const struct scsi_op *op)
{
	struct scsi_pr_reg *r;
	bool write = op->flags & SCSI_F_PR_WRITE;
	bool read = op->flags & SCSI_F_PR_READ;

	if (task->cdb[0] == SCSI_OP_SERVICE_ACTION_IN_16 &&
	    (task->cdb[1] & 0x1f) == SCSI_SAI_GET_LBA_STATUS)
		read = true;
	if (!lu->pr_held || (!write && !read))
		return false;
	r = pr_reg_find(lu, task);
	if (pr_is_holder(lu, r))
		return false;
	switch (lu->pr_type) {
	case PR_TYPE_WE:
		return write;
	case PR_TYPE_EA:
		return true;
	case PR_TYPE_WE_RO:
	case PR_TYPE_WE_AR:
		return write && r == NULL;
	case PR_TYPE_EA_RO:
	case PR_TYPE_EA_AR:
		return r == NULL;
	}
	return false;
}

static bool
pr_nexus_of_reg(const struct scsi_nexus *nx, const void *r)
{
	return scsi_pr_reg_matches(r, nx->initiator_port, nx->target_port);
}

/*
 * A unit attention for every I_T nexus of registration r that is logged
 * in now (a name-only or all-target-ports registration may have several;
 * one registered by another's SPEC_I_PT or restored from the state file
 * may have none yet, and then its first command meets POWER ON anyway).
 */
void
scsi_pr_ua(struct scsi_lu *lu, const struct scsi_pr_reg *r, uint8_t asc,
    uint8_t ascq)
{
	uint64_t ids[16];
	unsigned int n;

	if (lu->pr_rec != NULL) {
		/* A copy changed for the shared state: said on install. */
		scsi_pr_rec_add(lu->pr_rec, r, asc, ascq);
		return;
	}
	n = scsi_nexus_find(pr_nexus_of_reg, r, ids, 16);
	for (unsigned int i = 0; i < n; i++) {
		struct scsi_itl *itl = scsi_itl_find(lu, ids[i], false);

		if (itl != NULL)
			scsi_itl_ua_add(itl, asc, ascq);
	}
}

/* Every registrant but except learns of it (asc, ascq). */
static void
pr_ua_others(struct scsi_lu *lu, const struct scsi_pr_reg *except, uint8_t asc,
    uint8_t ascq)
{
	struct list_node *pos;

	list_for_each(pos, &lu->pr_regs) {
		struct scsi_pr_reg *o =
		    list_entry(pos, struct scsi_pr_reg, node);

		if (o != except)
			scsi_pr_ua(lu, o, asc, ascq);
	}
}

static void
pr_release(struct scsi_lu *lu)
{
	lu->pr_held = false;
	lu->pr_type = 0;
	lu->pr_holder = NULL;
}

/* Drop one registration, and the reservation it carries (5.13.10). */
static void
pr_unregister(struct scsi_lu *lu, struct scsi_pr_reg *r)
{
	list_remove(&r->node);
	lu->pr_nregs--;
	if (lu->pr_held) {
		if (pr_type_all_reg(lu->pr_type)) {
			if (list_empty(&lu->pr_regs))
				pr_release(lu);
		} else if (lu->pr_holder == r) {
			pr_release(lu);
		}
	}
	mem_free(r);
}

void
scsi_pr_free(struct scsi_lu *lu)
{
	struct list_node *pos, *tmp;

	list_for_each_safe(pos, tmp, &lu->pr_regs) {
		list_remove(pos);
		mem_free(list_entry(pos, struct scsi_pr_reg, node));
	}
	lu->pr_nregs = 0;
	pr_release(lu);
}

static unsigned int
pr_in_read_keys(struct scsi_lu *lu, uint8_t *b)
{
	struct list_node *pos;
	unsigned int off = 8;

	put_be32(b, lu->pr_gen);
	list_for_each(pos, &lu->pr_regs) {
		struct scsi_pr_reg *r =
		    list_entry(pos, struct scsi_pr_reg, node);

		if (off + 8 > PR_DATA_MAX)
			break;
		put_be64(b + off, r->key);
		off += 8;
	}
	/* SPC-4 6.15.2: the length of the whole list, even cut short. */
	put_be32(b + 4, lu->pr_nregs * 8);
	return off;
}

static unsigned int
pr_in_read_reservation(struct scsi_lu *lu, uint8_t *b)
{
	put_be32(b, lu->pr_gen);
	if (!lu->pr_held)
		return 8;
	put_be32(b + 4, 16);
	/* All-registrants types report key 0 (SPC-4 6.15.3.3). */
	if (!pr_type_all_reg(lu->pr_type) && lu->pr_holder != NULL)
		put_be64(b + 8, lu->pr_holder->key);
	b[21] = lu->pr_type;
	return 24;
}

static unsigned int
pr_in_report_caps(struct scsi_lu *lu, uint8_t *b)
{
	put_be16(b, 8);
	b[2] = PR_CAP_CRH | PR_CAP_SIP_C | PR_CAP_ATP_C | PR_CAP_PTPL_C;
	/* TEST UNIT READY passes every type (task.c's table). */
	b[3] =
	    PR_CAP_TMV | PR_CAP_ALLOW_TUR | (lu->pr_aptpl ? PR_CAP_PTPL_A : 0);
	/* Type mask: every type we implement. */
	b[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02;
	b[5] = 0x01;
	return 8;
}

/* An iSCSI TransportID for r (SPC-4 7.6.4.6); its length, 4-aligned. */
static unsigned int
pr_tid_len(const struct scsi_pr_reg *r)
{
	return (unsigned int)((4 + strlen(r->initiator_port) + 1 + 3) / 4 * 4);
}

static void
pr_tid_put(const struct scsi_pr_reg *r, uint8_t *b, unsigned int tlen)
{
	b[0] = (r->any_isid ? PR_TID_NAME : PR_TID_PORT) | PR_PROTO_ISCSI;
	put_be16(b + 2, (uint16_t)(tlen - 4));
	memcpy(b + 4, r->initiator_port, strlen(r->initiator_port) + 1);
}

static unsigned int
pr_in_full_status(struct scsi_lu *lu, uint8_t *b)
{
	struct list_node *pos;
	unsigned int off = 8, all = 0;
	bool full = false;

	put_be32(b, lu->pr_gen);
	list_for_each(pos, &lu->pr_regs) {
		struct scsi_pr_reg *r =
		    list_entry(pos, struct scsi_pr_reg, node);
		unsigned int tlen = pr_tid_len(r);

		/* SPC-4 6.15.5: the whole list is counted, what fits sent. */
		all += 24 + tlen;
		if (full || off + 24 + tlen > PR_DATA_MAX) {
			full = true;
			continue;
		}
		put_be64(b + off, r->key);
		if (r->all_tg_pt)
			b[off + 12] |= PR_FULL_ALL_TG_PT;
		if (pr_is_holder(lu, r)) {
			b[off + 12] |= PR_FULL_R_HOLDER;
			b[off + 13] = lu->pr_type;
		}
		/* Ignored with ALL_TG_PT (6.15.5), so 0 then. */
		if (!r->all_tg_pt)
			put_be16(b + off + 18, r->rel_port_id);
		put_be32(b + off + 20, tlen);
		pr_tid_put(r, b + off + 24, tlen);
		off += 24 + tlen;
	}
	put_be32(b + 4, all);
	return off;
}

void
scsi_pr_in(struct scsi_task *task, const uint64_t *luns, unsigned int n)
{
	struct scsi_lu *lu = task->lu;
	uint8_t *b;
	unsigned int len;

	(void)luns;
	(void)n;
	b = mem_zalloc(PR_DATA_MAX);
	if (b == NULL) {
		scsi_task_set_status(task, SCSI_STATUS_BUSY);
		return;
	}
	pthread_mutex_lock(&lu->lock);
	switch (task->cdb[1] & 0x1f) {
	case PR_IN_READ_KEYS:
		len = pr_in_read_keys(lu, b);
		break;
	case PR_IN_READ_RESERVATION:
		len = pr_in_read_reservation(lu, b);
		break;
	case PR_IN_REPORT_CAPABILITIES:
		len = pr_in_report_caps(lu, b);
		break;
	case PR_IN_READ_FULL_STATUS:
		len = pr_in_full_status(lu, b);
		break;
	default:
		len = 0;
		break;
	}
	pthread_mutex_unlock(&lu->lock);
	if (len == 0)
		scsi_task_sense_invalid_field(task, true, 1, 4);
	else
		scsi_task_data_in(task, b, len, get_be16(task->cdb + 7));
	mem_free(b);
}

/*
 * Parse the iSCSI TransportID at p[off..end) (SPC-4 7.6.4.6) into a
 * registration's initiator names: format 00b, an iSCSI name (every port
 * of that initiator); 01b, "name,i,0x" and twelve hexadecimal ISID digits
 * (one initiator port). Either NUL-terminated and zero-padded to the
 * ADDITIONAL LENGTH, a multiple of four of at least 20. Returns the bytes
 * it takes, or 0 with *v set to the field at fault (byte offsets count
 * from the start of the parameter list, as the sense key specific field
 * does).
 */
static unsigned int
pr_tid_parse(const uint8_t *p, unsigned int off, unsigned int end,
    struct scsi_pr_reg *r, struct pr_verdict *v)
{
	const char *name, *sep;
	unsigned int addl, len, nlen;

	if (end - off < 4 + PR_TID_MIN_ADDL) {
		*v = pr_verdict(PR_V_LIST_LENGTH);
		return 0;
	}
	if ((p[off] & 0x0f) != PR_PROTO_ISCSI) {
		*v = pr_bad_param(off, 3);
		return 0;
	}
	if ((p[off] & 0xc0) != PR_TID_NAME && (p[off] & 0xc0) != PR_TID_PORT) {
		*v = pr_bad_param(off, 7);
		return 0;
	}
	addl = get_be16(p + off + 2);
	if (addl < PR_TID_MIN_ADDL || addl % 4 != 0 ||
	    addl > sizeof(r->initiator_port)) {
		*v = pr_bad_param(off + 2, -1);
		return 0;
	}
	if (addl > end - off - 4) {
		*v = pr_verdict(PR_V_LIST_LENGTH);
		return 0;
	}
	name = (const char *)p + off + 4;
	len = (unsigned int)strnlen(name, addl);
	if (len == addl || len == 0) { /* no NUL, or nothing before it */
		*v = pr_bad_param(off + 4, -1);
		return 0;
	}
	for (unsigned int i = len; i < addl; i++)
		if (name[i] != '\0') { /* padding is zeros */
			*v = pr_bad_param(off + 4 + i, -1);
			return 0;
		}
	sep = memchr(name, ',', len);
	nlen = sep != NULL ? (unsigned int)(sep - name) : len;
	if (nlen == 0 || nlen > PR_ISCSI_NAME_MAX) {
		*v = pr_bad_param(off + 4, -1);
		return 0;
	}
	/* RFC 3722: letters, digits, '-', '.', ':' (and nothing to forge). */
	for (unsigned int i = 0; i < nlen; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '.' ||
			c == ':')) {
			*v = pr_bad_param(off + 4 + i, -1);
			return 0;
		}
	}
	if ((p[off] & 0xc0) == PR_TID_NAME) {
		if (sep != NULL) {
			*v = pr_bad_param(off + 4 + nlen, -1);
			return 0;
		}
		r->any_isid = true;
	} else {
		/* ",i,0x" then exactly twelve hex digits. */
		if (sep == NULL || len - nlen != 5 + PR_ISID_HEX ||
		    strncasecmp(sep, ",i,0x", 5) != 0) {
			*v = pr_bad_param(off + 4 + nlen, -1);
			return 0;
		}
		for (unsigned int i = nlen + 5; i < len; i++) {
			char c = name[i];

			if (!((c >= '0' && c <= '9') ||
				(c >= 'a' && c <= 'f') ||
				(c >= 'A' && c <= 'F'))) {
				*v = pr_bad_param(off + 4 + i, -1);
				return 0;
			}
		}
		r->any_isid = false;
	}
	memcpy(r->initiator_port, name, len);
	r->initiator_port[len] = '\0';
	return 4 + addl;
}

static struct scsi_pr_reg *
pr_reg_new(struct scsi_lu *lu, const struct scsi_task *task, uint64_t key,
    bool all_tg_pt)
{
	struct scsi_pr_reg *r = mem_zalloc(sizeof(*r));

	if (r == NULL)
		return NULL;
	(void)lu;
	r->key = key;
	r->all_tg_pt = all_tg_pt;
	r->rel_port_id = task->nexus != NULL ? task->nexus->rel_port_id : 0;
	snprintf(r->initiator_port, sizeof(r->initiator_port), "%s",
	    pr_iport(task));
	snprintf(r->target_port, sizeof(r->target_port), "%s", pr_tport(task));
	return r;
}

static bool
pr_overlaps_any(struct list_node *regs, const struct scsi_pr_reg *n)
{
	struct list_node *pos;

	list_for_each(pos, regs) {
		if (pr_reg_overlap(list_entry(pos, struct scsi_pr_reg, node),
			n))
			return true;
	}
	return false;
}

static void
pr_list_free(struct list_node *regs)
{
	struct list_node *pos, *tmp;

	list_for_each_safe(pos, tmp, regs) {
		list_remove(pos);
		mem_free(list_entry(pos, struct scsi_pr_reg, node));
	}
}

/*
 * REGISTER with SPEC_I_PT (SPC-4 5.13.7, 6.16.3): the issuing nexus and
 * every I_T nexus its TransportIDs name, with the target port the
 * command came through (or all of them, ALL_TG_PT), are registered with
 * sakey; all or none. A TransportID naming a nexus already registered, or
 * named twice, is an invalid field.
 */
static struct pr_verdict
pr_register_spec(struct scsi_lu *lu, struct scsi_task *task, const uint8_t *p,
    uint32_t plen, uint64_t sakey, bool all_tg_pt)
{
	struct list_node add;
	struct scsi_pr_reg *me;
	struct pr_verdict v = pr_status(SCSI_STATUS_GOOD);
	uint32_t tlen;
	unsigned int off = PR_OUT_SPEC_HDR, n = 1;

	if (plen < PR_OUT_SPEC_HDR + 4 + PR_TID_MIN_ADDL)
		return pr_verdict(PR_V_LIST_LENGTH);
	tlen = get_be32(p + PR_OUT_PARAM_LEN);
	if (tlen != plen - PR_OUT_SPEC_HDR)
		return pr_verdict(PR_V_LIST_LENGTH);
	if (lu->pr_nregs >= SCSI_PR_REGS_MAX)
		return pr_verdict(PR_V_NO_ROOM);
	list_init(&add);
	me = pr_reg_new(lu, task, sakey, all_tg_pt);
	if (me == NULL)
		return pr_status(SCSI_STATUS_BUSY);
	if (pr_overlaps_any(&lu->pr_regs, me)) {
		/* ALL_TG_PT over a registration through another port. */
		mem_free(me);
		return pr_bad_param(20, 2);
	}
	list_add_tail(&add, &me->node);
	while (off < plen) {
		struct scsi_pr_reg *r = mem_zalloc(sizeof(*r));
		unsigned int used;

		if (r == NULL) {
			v = pr_status(SCSI_STATUS_BUSY);
			break;
		}
		used = pr_tid_parse(p, off, plen, r, &v);
		if (used == 0) {
			mem_free(r);
			break;
		}
		r->key = sakey;
		r->all_tg_pt = all_tg_pt;
		r->rel_port_id = me->rel_port_id;
		memcpy(r->target_port, me->target_port, sizeof(r->target_port));
		if (pr_overlaps_any(&lu->pr_regs, r) ||
		    pr_overlaps_any(&add, r)) {
			mem_free(r);
			v = pr_bad_param(off, -1);
			break;
		}
		list_add_tail(&add, &r->node);
		off += used;
		if (lu->pr_nregs + ++n > SCSI_PR_REGS_MAX) {
			v = pr_verdict(PR_V_NO_ROOM);
			break;
		}
	}
	if (!pr_good(v)) {
		pr_list_free(&add);
		return v;
	}
	while (!list_empty(&add)) {
		struct list_node *first = add.next;

		list_remove(first);
		list_add_tail(&lu->pr_regs, first);
		lu->pr_nregs++;
	}
	lu->pr_gen++;
	return v;
}

/* REGISTER and REGISTER AND IGNORE EXISTING KEY (SPC-4 5.13.7). */
static struct pr_verdict
pr_out_register(struct scsi_lu *lu, struct scsi_task *task,
    struct scsi_pr_reg *r, const uint8_t *p, uint32_t plen, bool ignore)
{
	uint64_t key = get_be64(p), sakey = get_be64(p + 8);
	bool spec = p[20] & PR_SPEC_I_PT, all_tg_pt = p[20] & PR_ALL_TG_PT;

	if (spec && (ignore || r != NULL))
		/* Only an unregistered nexus's REGISTER names others. */
		return pr_bad_param(20, 3);
	if (r == NULL) {
		if (!ignore && key != 0)
			return pr_status(SCSI_STATUS_RESERVATION_CONFLICT);
		if (sakey == 0)
			return pr_status(SCSI_STATUS_GOOD);
		if (spec) {
			struct pr_verdict v = pr_register_spec(lu, task, p,
			    plen, sakey, all_tg_pt);
			if (pr_good(v))
				lu->pr_aptpl = p[20] & PR_APTPL;
			return v;
		}
		/*
		 * SPC-4 5.13.7: a registration the device server has no
		 * resources for ends in INSUFFICIENT REGISTRATION RESOURCES.
		 */
		if (lu->pr_nregs >= SCSI_PR_REGS_MAX)
			return pr_verdict(PR_V_NO_ROOM);
		r = pr_reg_new(lu, task, sakey, all_tg_pt);
		if (r == NULL)
			return pr_status(SCSI_STATUS_BUSY);
		if (pr_overlaps_any(&lu->pr_regs, r)) {
			/* ALL_TG_PT over a registration through another port.
			 */
			mem_free(r);
			return pr_bad_param(20, 2);
		}
		list_add_tail(&lu->pr_regs, &r->node);
		lu->pr_nregs++;
		lu->pr_gen++;
		lu->pr_aptpl = p[20] & PR_APTPL;
		return pr_status(SCSI_STATUS_GOOD);
	}
	if (!ignore && key != r->key)
		return pr_status(SCSI_STATUS_RESERVATION_CONFLICT);
	if (sakey == 0)
		pr_unregister(lu, r);
	else
		r->key = sakey;
	lu->pr_gen++;
	lu->pr_aptpl = p[20] & PR_APTPL;
	return pr_status(SCSI_STATUS_GOOD);
}

/* A REGISTER past SCSI_PR_REGS_MAX: refused, and said (rate limited). */
static void
pr_no_room(struct scsi_lu *lu, struct scsi_task *task)
{
	unsigned int dropped;
	bool say;

	pthread_mutex_lock(&lu->lock);
	say = log_ratelimit_pass(&lu->pr_full_rl, &dropped);
	pthread_mutex_unlock(&lu->lock);
	if (say)
		log_notice("target %s lun %llu: persistent reservation "
			   "registrations at their cap of %u, REGISTER refused "
			   "(INSUFFICIENT REGISTRATION RESOURCES)",
		    lu->target_name, (unsigned long long)lu->lun,
		    SCSI_PR_REGS_MAX);
	scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
	    ASC_INSUFFICIENT_REGISTRATION_RESOURCES);
}

/* Did task come on an I_T nexus of registration r (a scsi_pr_reg)? */
static bool
pr_task_of_reg(const struct scsi_task *task, const void *r)
{
	return scsi_pr_reg_matches(r, pr_iport(task), pr_tport(task));
}

void
scsi_pr_abort_reg(struct scsi_lu *lu, const struct scsi_pr_reg *r,
    struct scsi_abort_wait *w, struct list_node *stopped)
{
	if (lu->pr_rec != NULL)
		scsi_pr_rec_add(lu->pr_rec, r, 0, 0); /* 0, 0: abort */
	else
		scsi_lu_abort_locked(lu, pr_task_of_reg, r, w, stopped);
}

/*
 * PREEMPT (SPC-4 5.13.11.4). With w (PREEMPT AND ABORT), the tasks of
 * the preempted nexuses are aborted too (see scsi_lu_abort_locked).
 */
static struct pr_verdict
pr_out_preempt(struct scsi_lu *lu, struct scsi_pr_reg *me, uint64_t sakey,
    uint8_t type, bool abort, struct scsi_abort_wait *w,
    struct list_node *stopped)
{
	struct list_node *pos, *tmp;
	bool hit = false, take;

	take = lu->pr_held &&
	    ((pr_type_all_reg(lu->pr_type) && sakey == 0) ||
		(!pr_type_all_reg(lu->pr_type) && lu->pr_holder != NULL &&
		    lu->pr_holder->key == sakey));
	if (!take && sakey == 0)
		return pr_bad_param(8, -1);
	if (take && !pr_type_valid(type))
		return (struct pr_verdict){.kind = PR_V_BAD_CDB,
		    .byte = 2,
		    .bit = 3};
	list_for_each_safe(pos, tmp, &lu->pr_regs) {
		struct scsi_pr_reg *r =
		    list_entry(pos, struct scsi_pr_reg, node);

		if (r == me)
			continue;
		if (sakey != 0 && r->key != sakey)
			continue;
		hit = true;
		scsi_pr_ua(lu, r, ASC_REGISTRATIONS_PREEMPTED);
		if (abort)
			scsi_pr_abort_reg(lu, r, w, stopped);
		if (lu->pr_holder == r)
			lu->pr_holder = NULL;
		list_remove(&r->node);
		lu->pr_nregs--;
		mem_free(r);
	}
	if (!take && !hit)
		return pr_status(SCSI_STATUS_RESERVATION_CONFLICT);
	if (take) {
		/*
		 * SPC-4 5.13.11.4.3: a new type is a released reservation
		 * for the registrants that stay.
		 */
		if (lu->pr_type != type && lu->pr_held)
			pr_ua_others(lu, me, ASC_RESERVATIONS_RELEASED);
		lu->pr_held = true;
		lu->pr_type = type;
		lu->pr_holder = pr_type_all_reg(type) ? NULL : me;
	}
	lu->pr_gen++;
	return pr_status(SCSI_STATUS_GOOD);
}

static bool
pr_nexus_on_port(const struct scsi_nexus *nx, const void *ctx)
{
	const struct scsi_pr_reg *want = ctx;

	return nx->rel_port_id == want->rel_port_id &&
	    pr_name_len(nx->target_port) == pr_name_len(want->target_port) &&
	    strncasecmp(nx->target_port, want->target_port,
		pr_name_len(want->target_port)) == 0;
}

/*
 * The name of the target port with relative identifier rel of the
 * issuing nexus's target, into d->target_port: the issuer's own, or one
 * a logged-in nexus came through. False when none is known.
 */
static bool
pr_target_port(const struct scsi_task *task, uint16_t rel,
    struct scsi_pr_reg *d)
{
	struct scsi_pr_reg want;
	uint64_t id;

	if (task->nexus != NULL && task->nexus->rel_port_id == rel) {
		snprintf(d->target_port, sizeof(d->target_port), "%s",
		    pr_tport(task));
		return true;
	}
	memset(&want, 0, sizeof(want));
	want.rel_port_id = rel;
	snprintf(want.target_port, sizeof(want.target_port), "%s",
	    pr_tport(task));
	if (scsi_nexus_find(pr_nexus_on_port, &want, &id, 1) != 1)
		return false;
	/* The name of that port is "<target>,t,0x<tpgt>" like ours. */
	snprintf(d->target_port, sizeof(d->target_port), "%.*s,t,0x%04x",
	    (int)pr_name_len(pr_tport(task)), pr_tport(task), rel);
	return true;
}

/*
 * REGISTER AND MOVE (SPC-4 5.13.8, 6.16.4): the holder hands its
 * reservation to the I_T nexus of a TransportID and a relative target
 * port, registering it with sakey unless it is registered, and with UNREG
 * drops its own registration.
 */
static struct pr_verdict
pr_out_move(struct scsi_lu *lu, struct scsi_task *task, struct scsi_pr_reg *r,
    const uint8_t *p, uint32_t plen)
{
	struct scsi_pr_reg *d, *have = NULL;
	struct pr_verdict v = pr_status(SCSI_STATUS_GOOD);
	uint64_t sakey = get_be64(p + 8);
	uint32_t tlen = get_be32(p + 20);
	struct list_node *pos;
	unsigned int used;

	if (!pr_is_holder(lu, r) || pr_type_all_reg(lu->pr_type))
		return pr_status(SCSI_STATUS_RESERVATION_CONFLICT);
	if (tlen != plen - PR_OUT_PARAM_LEN)
		return pr_verdict(PR_V_LIST_LENGTH);
	if (sakey == 0)
		return pr_bad_param(8, -1);
	d = mem_zalloc(sizeof(*d));
	if (d == NULL)
		return pr_status(SCSI_STATUS_BUSY);
	used = pr_tid_parse(p, PR_OUT_PARAM_LEN, plen, d, &v);
	if (used == 0)
		goto fail;
	if (used != tlen) {
		v = pr_verdict(PR_V_LIST_LENGTH);
		goto fail;
	}
	d->key = sakey;
	d->rel_port_id = get_be16(p + 18);
	if (!pr_target_port(task, d->rel_port_id, d)) {
		v = pr_bad_param(18, -1);
		goto fail;
	}
	/* Moving to the issuing nexus itself is an invalid field. */
	if (scsi_pr_reg_matches(d, pr_iport(task), pr_tport(task))) {
		v = pr_bad_param(PR_OUT_PARAM_LEN, -1);
		goto fail;
	}
	list_for_each(pos, &lu->pr_regs) {
		struct scsi_pr_reg *o =
		    list_entry(pos, struct scsi_pr_reg, node);

		if (pr_reg_overlap(o, d)) {
			have = o;
			break;
		}
	}
	if (have == r) {
		v = pr_bad_param(PR_OUT_PARAM_LEN, -1);
		goto fail;
	}
	if (have == NULL) {
		if (lu->pr_nregs >= SCSI_PR_REGS_MAX) {
			v = pr_verdict(PR_V_NO_ROOM);
			goto fail;
		}
		list_add_tail(&lu->pr_regs, &d->node);
		lu->pr_nregs++;
		have = d;
	} else {
		mem_free(d);
	}
	lu->pr_holder = have;
	if (p[17] & PR_MOVE_UNREG)
		pr_unregister(lu, r);
	lu->pr_aptpl = p[17] & PR_APTPL;
	lu->pr_gen++;
	return v;
fail:
	mem_free(d);
	return v;
}

/* The tasks a PREEMPT AND ABORT aborted are gone: it completes. */
static void
pr_preempt_abort_done(void *arg)
{
	scsi_task_finish_later(arg);
}

static void
pr_verdict_set(struct scsi_lu *lu, struct scsi_task *task, struct pr_verdict v)
{
	switch (v.kind) {
	case PR_V_STATUS:
		scsi_task_set_status(task, v.status);
		break;
	case PR_V_BAD_CDB:
		scsi_task_sense_invalid_field(task, true, v.byte, v.bit);
		break;
	case PR_V_BAD_PARAM:
		/* A long SPEC_I_PT list: past 64 KiB no pointer can say where.
		 */
		if (v.byte > 0xffff)
			scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
			    ASC_INVALID_FIELD_IN_PARAM_LIST);
		else
			scsi_task_sense_invalid_field(task, false, v.byte,
			    v.bit);
		break;
	case PR_V_LIST_LENGTH:
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_PARAMETER_LIST_LENGTH_ERROR);
		break;
	case PR_V_NO_ROOM:
		pr_no_room(lu, task);
		break;
	case PR_V_BAD_RELEASE:
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_INVALID_RELEASE_OF_PR);
		break;
	}
}

/* RELEASE (SPC-4 5.13.11.2). */
static struct pr_verdict
pr_out_release(struct scsi_lu *lu, struct scsi_pr_reg *r, uint8_t type)
{
	if (!pr_is_holder(lu, r))
		return pr_status(SCSI_STATUS_GOOD);
	if (lu->pr_type != type)
		return pr_verdict(PR_V_BAD_RELEASE);
	/* SPC-4 5.13.11.2.2: others registered learn of it. */
	if (pr_type_reg_only(lu->pr_type) || pr_type_all_reg(lu->pr_type))
		pr_ua_others(lu, r, ASC_RESERVATIONS_RELEASED);
	pr_release(lu);
	return pr_status(SCSI_STATUS_GOOD);
}

/* CLEAR (SPC-4 5.13.11.3): every registration and the reservation go. */
static void
pr_out_clear(struct scsi_lu *lu, struct scsi_pr_reg *r)
{
	struct list_node *pos, *tmp;

	list_for_each_safe(pos, tmp, &lu->pr_regs) {
		struct scsi_pr_reg *o =
		    list_entry(pos, struct scsi_pr_reg, node);

		if (o != r)
			scsi_pr_ua(lu, o, ASC_RESERVATIONS_PREEMPTED);
		list_remove(pos);
		mem_free(o);
	}
	lu->pr_nregs = 0;
	pr_release(lu);
	lu->pr_gen++;
}

/* The parameter list length each service action takes (6.16.3, 6.16.4). */
static bool
pr_out_plen_ok(uint8_t sa, const uint8_t *cdb, uint32_t plen, uint32_t have,
    const uint8_t *p)
{
	(void)cdb;
	if (sa == PR_OUT_REGISTER_MOVE)
		return plen >= PR_OUT_PARAM_LEN + 4 + PR_TID_MIN_ADDL;
	if (plen == PR_OUT_PARAM_LEN)
		return true;
	/* SPEC_I_PT: a header, then at least one TransportID. */
	return sa == PR_OUT_REGISTER && have >= PR_OUT_PARAM_LEN &&
	    (p[20] & PR_SPEC_I_PT) &&
	    plen >= PR_OUT_SPEC_HDR + 4 + PR_TID_MIN_ADDL;
}

/*
 * A PERSISTENT RESERVE OUT whose change must reach the state file before
 * it completes (APTPL, SPC-4 5.13.5): the file is written by a thread of
 * pr_store.c's while this event thread serves its other sessions, then
 * pr_out_stored() ends the command here. PREEMPT AND ABORT then starts
 * waiting for the tasks it aborted, so it still completes after both.
 */
struct pr_out_later {
	struct scsi_task *task;
	struct pr_verdict v;
	struct scsi_abort_wait *w;
	struct list_node stopped; /* PREEMPT AND ABORT's, not yet ended */
	uint64_t key;             /* the shared state's: RESERVATION KEY */
};

/*
 * A failed write is said in the log (pr_store.c) and as INTERNAL TARGET
 * FAILURE; the state in memory stays as the command left it.
 */
static void
pr_out_stored(void *arg, bool ok, bool inline_)
{
	struct pr_out_later *x = arg;
	struct scsi_task *task = x->task;

	if (!ok)
		scsi_task_set_sense(task, SK_HARDWARE_ERROR,
		    ASC_INTERNAL_TARGET_FAILURE);
	else
		pr_verdict_set(task->lu, task, x->v);
	if (x->w != NULL)
		/* completes_later stays: pr_preempt_abort_done() ends it. */
		scsi_abort_wait_start(task->lu, x->w, &x->stopped);
	else if (inline_)
		task->completes_later = false; /* scsi_task_exec() ends it */
	else
		scsi_task_finish_later(task);
	mem_free(x);
}

/*
 * Apply task's PERSISTENT RESERVE OUT (checked by scsi_pr_out) to lu's
 * state, or to a copy of the shared state; lu->lock held for the LU's
 * own. *changed: the state changed (to be saved).
 */
static struct pr_verdict
pr_out_apply(struct scsi_lu *lu, struct scsi_task *task, uint64_t key,
    bool abort, struct scsi_abort_wait *w, struct list_node *stopped,
    bool *changed)
{
	uint32_t plen = get_be32(task->cdb + 5);
	uint8_t sa = task->cdb[1] & 0x1f, type = task->cdb[2] & 0x0f;
	struct pr_verdict v = pr_status(SCSI_STATUS_GOOD);
	const uint8_t *p = task->data;
	uint64_t sakey = get_be64(p + 8);
	struct scsi_pr_reg *r;

	*changed = false;
	r = pr_reg_find(lu, task);
	if (sa != PR_OUT_REGISTER && sa != PR_OUT_REGISTER_IGNORE &&
	    (r == NULL || r->key != key)) {
		return pr_status(SCSI_STATUS_RESERVATION_CONFLICT);
	}
	switch (sa) {
	case PR_OUT_REGISTER:
	case PR_OUT_REGISTER_IGNORE: {
		uint32_t gen = lu->pr_gen;

		v = pr_out_register(lu, task, r, p, plen,
		    sa == PR_OUT_REGISTER_IGNORE);
		*changed = gen != lu->pr_gen;
		break;
	}
	case PR_OUT_RESERVE:
		if (!pr_type_valid(type)) {
			v = (struct pr_verdict){.kind = PR_V_BAD_CDB,
			    .byte = 2,
			    .bit = 3};
			break;
		}
		if (!lu->pr_held) {
			lu->pr_held = true;
			lu->pr_type = type;
			lu->pr_holder = pr_type_all_reg(type) ? NULL : r;
			*changed = true;
		} else if (!pr_is_holder(lu, r) || lu->pr_type != type) {
			v = pr_status(SCSI_STATUS_RESERVATION_CONFLICT);
		}
		break;
	case PR_OUT_RELEASE:
		*changed = lu->pr_held;
		v = pr_out_release(lu, r, type);
		*changed = *changed && !lu->pr_held;
		break;
	case PR_OUT_CLEAR:
		pr_out_clear(lu, r);
		*changed = true;
		break;
	case PR_OUT_PREEMPT:
	case PR_OUT_PREEMPT_ABORT:
		v = pr_out_preempt(lu, r, sakey, type, abort, w, stopped);
		*changed = pr_good(v);
		break;
	case PR_OUT_REGISTER_MOVE:
		v = pr_out_move(lu, task, r, p, plen);
		*changed = pr_good(v);
		break;
	}
	return v;
}

/* On the store's state thread: task's change, to a copy of the state. */
static bool
pr_shared_apply(void *arg, struct scsi_lu *copy)
{
	struct pr_out_later *x = arg;
	bool changed;

	x->v = pr_out_apply(copy, x->task, x->key,
	    (x->task->cdb[1] & 0x1f) == PR_OUT_PREEMPT_ABORT, NULL, NULL,
	    &changed);
	return changed;
}

/*
 * Back on the task's thread: the change is in the shared state and the
 * other gateways know (or did not answer in time, see pr_shared.c), so
 * it becomes this LU's state, with its unit attentions and aborts.
 */
static void
pr_shared_done(void *arg, struct scsi_lu *copy, int err, bool unacked)
{
	struct pr_out_later *x = arg;
	struct scsi_task *task = x->task;
	struct scsi_lu *lu = task->lu;

	(void)unacked;
	if (err < 0) {
		scsi_task_set_sense(task, SK_HARDWARE_ERROR,
		    ASC_INTERNAL_TARGET_FAILURE);
		if (x->w != NULL)
			scsi_abort_wait_cancel(x->w);
		scsi_task_finish_later(task);
		mem_free(x);
		return;
	}
	pthread_mutex_lock(&lu->lock);
	if (copy != NULL)
		scsi_pr_shared_install(lu, copy, x->w, &x->stopped);
	pthread_mutex_unlock(&lu->lock);
	pr_verdict_set(lu, task, x->v);
	if (x->w != NULL && copy != NULL && pr_good(x->v)) {
		/* completes_later stays: pr_preempt_abort_done() ends it. */
		scsi_abort_wait_start(lu, x->w, &x->stopped);
	} else {
		if (x->w != NULL)
			scsi_abort_wait_cancel(x->w);
		scsi_task_finish_later(task);
	}
	mem_free(x);
}

/*
 * A PERSISTENT RESERVE OUT of an LU whose state is shared by several
 * gateways (pr_shared.c): applied to the current shared state off this
 * thread, written there, then answered.
 */
static void
pr_out_shared(struct scsi_task *task, struct pr_out_later *x)
{
	if (task->queue == NULL) {
		scsi_task_set_status(task, SCSI_STATUS_BUSY);
		goto fail;
	}
	task->completes_later = true;
	if (scsi_pr_shared_update(task->lu, task, pr_shared_apply,
		pr_shared_done, x) == 0)
		return;
	task->completes_later = false;
	scsi_task_set_status(task, SCSI_STATUS_BUSY);
fail:
	if (x->w != NULL)
		scsi_abort_wait_cancel(x->w);
	mem_free(x);
}

void
scsi_pr_out(struct scsi_task *task, const uint64_t *luns, unsigned int n)
{
	struct scsi_lu *lu = task->lu;
	uint32_t plen = get_be32(task->cdb + 5), have;
	uint8_t sa = task->cdb[1] & 0x1f;
	struct pr_verdict v;
	const uint8_t *p = task->data;
	struct scsi_abort_wait *w = NULL;
	struct pr_out_later *x;
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t key, seq = 0;
	bool was_aptpl, changed = false, stored = true, persist = false;

	(void)luns;
	(void)n;
	task->xfer_len = plen;
	if (sa > PR_OUT_REGISTER_MOVE) {
		scsi_task_sense_invalid_field(task, true, 1, 4);
		return;
	}
	if (task->cdb[2] & 0xf0) {
		scsi_task_sense_invalid_field(task, true, 2, 7);
		return;
	}
	have = scsi_task_data_out_len(task);
	if (!pr_out_plen_ok(sa, task->cdb, plen, have, p)) {
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	if (have < plen) {
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_INVALID_FIELD_IN_IU);
		return;
	}
	/* SPEC_I_PT only for REGISTER (6.16.3); REGISTER AND MOVE has none. */
	if (sa != PR_OUT_REGISTER_MOVE && (p[20] & PR_SPEC_I_PT) &&
	    sa != PR_OUT_REGISTER && sa != PR_OUT_REGISTER_IGNORE) {
		scsi_task_sense_invalid_field(task, false, 20, 3);
		return;
	}
	key = get_be64(p);
	/*
	 * PREEMPT AND ABORT also aborts the preempted nexuses' tasks (SPC-4
	 * 5.13.11.2), and completes once they are gone: no command of theirs
	 * changes the medium after the new holder hears GOOD.
	 */
	x = mem_zalloc(sizeof(*x));
	if (x == NULL) {
		scsi_task_set_status(task, SCSI_STATUS_BUSY);
		return;
	}
	x->task = task;
	list_init(&x->stopped);
	if (sa == PR_OUT_PREEMPT_ABORT) {
		w = scsi_abort_wait_new(task->queue, pr_preempt_abort_done,
		    task);
		if (w == NULL) {
			mem_free(x);
			scsi_task_set_status(task, SCSI_STATUS_BUSY);
			return;
		}
	}
	if (backend_state_shared(lu->be)) {
		x->key = key;
		x->w = w;
		pr_out_shared(task, x);
		return;
	}

	pthread_mutex_lock(&lu->lock);
	was_aptpl = lu->pr_aptpl;
	v = pr_out_apply(lu, task, key, w != NULL, w, &x->stopped, &changed);
	/*
	 * With APTPL (or as it is cleared) the change is numbered and its
	 * snapshot taken here, in the order of the changes; written off this
	 * thread, and the command ends once it is on disk.
	 */
	if (changed && (was_aptpl || lu->pr_aptpl)) {
		seq = ++lu->pr_store_seq;
		persist = true;
		if (lu->pr_aptpl && scsi_pr_store_encode(lu, &buf, &len) != 0)
			persist = stored = false;
	}
	pthread_mutex_unlock(&lu->lock);
	if (persist) {
		x->v = v;
		x->w = w;
		task->completes_later = true;
		scsi_pr_store_async(lu, task, buf, len, seq, pr_out_stored, x);
		return;
	}
	if (!stored)
		scsi_task_set_sense(task, SK_HARDWARE_ERROR,
		    ASC_INTERNAL_TARGET_FAILURE);
	else
		pr_verdict_set(lu, task, v);
	if (w != NULL && !pr_good(v)) {
		/* Nothing was preempted, so nothing aborted. */
		scsi_abort_wait_cancel(w);
	} else if (w != NULL) {
		task->completes_later = true;
		scsi_abort_wait_start(lu, w, &x->stopped);
	}
	mem_free(x);
}
