/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Persistent reservations (SPC-4 5.13, 6.15, 6.16): PERSISTENT RESERVE IN
 * and OUT, and the conflict rules they put on other commands. State lives
 * in memory (no APTPL); registrations are keyed by initiator and target
 * port names so they outlive a session's reconnect.
 */
#include <stdio.h>
#include <string.h>

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

/* Reservation types (SPC-4 table 168). */
#define PR_TYPE_WE 0x1
#define PR_TYPE_EA 0x3
#define PR_TYPE_WE_RO 0x5
#define PR_TYPE_EA_RO 0x6
#define PR_TYPE_WE_AR 0x7
#define PR_TYPE_EA_AR 0x8

#define PR_OUT_PARAM_LEN 24
#define PR_SPEC_I_PT 0x08
#define PR_ALL_TG_PT 0x04
#define PR_APTPL 0x01
#define PR_CAP_CRH 0x10
#define PR_CAP_TMV 0x80
#define PR_FULL_R_HOLDER 0x01
#define PR_TID_ISCSI_PORT 0x45 /* format 01b, protocol iSCSI */
/*
 * PERSISTENT RESERVE IN data: its ALLOCATION LENGTH is 16 bits, so this
 * holds all it can ask for, READ KEYS of SCSI_PR_REGS_MAX keys among it.
 */
#define PR_DATA_MAX 65536
/* Verdicts of the service actions besides a status (scsi_pr_out). */
#define PR_BAD_TYPE 0xff /* INVALID FIELD IN CDB, the TYPE */
#define PR_NO_ROOM 0xfe  /* INSUFFICIENT REGISTRATION RESOURCES */

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

static struct scsi_pr_reg *
pr_reg_find(struct scsi_lu *lu, const struct scsi_task *task)
{
	struct list_node *pos;

	list_for_each(pos, &lu->pr_regs) {
		struct scsi_pr_reg *r =
		    list_entry(pos, struct scsi_pr_reg, node);

		if (strcmp(r->initiator_port, pr_iport(task)) == 0 &&
		    strcmp(r->target_port, pr_tport(task)) == 0)
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

/* SPC-4 5.13.1 table 49, reduced to read and write classes. */
bool
scsi_pr_conflict(struct scsi_lu *lu, const struct scsi_task *task,
    const struct scsi_op *op)
{
	struct scsi_pr_reg *r;
	bool write = op->flags & SCSI_F_PR_WRITE;
	bool read = op->flags & SCSI_F_PR_READ;

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

static void
pr_ua(struct scsi_lu *lu, const struct scsi_pr_reg *r, uint8_t asc,
    uint8_t ascq)
{
	struct scsi_itl *itl = scsi_itl_find(lu, r->nexus_id, false);

	if (itl != NULL)
		scsi_itl_ua_add(itl, asc, ascq);
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
pr_in_report_caps(uint8_t *b)
{
	put_be16(b, 8);
	b[2] = PR_CAP_CRH;
	b[3] = PR_CAP_TMV;
	/* Type mask: every type we implement. */
	b[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02;
	b[5] = 0x01;
	return 8;
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
		size_t nlen = strlen(r->initiator_port) + 1;
		unsigned int tlen = (unsigned int)((4 + nlen + 3) / 4 * 4);

		/* SPC-4 6.15.5: the whole list is counted, what fits sent. */
		all += 24 + tlen;
		if (full || off + 24 + tlen > PR_DATA_MAX) {
			full = true;
			continue;
		}
		put_be64(b + off, r->key);
		if (pr_is_holder(lu, r)) {
			b[off + 12] = PR_FULL_R_HOLDER;
			b[off + 13] = lu->pr_type;
		}
		put_be16(b + off + 18, r->rel_port_id);
		put_be32(b + off + 20, tlen);
		/* iSCSI TransportID with ISID (SPC-4 7.6.4.6). */
		b[off + 24] = PR_TID_ISCSI_PORT;
		put_be16(b + off + 26, (uint16_t)(tlen - 4));
		memcpy(b + off + 28, r->initiator_port, nlen);
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
		len = pr_in_report_caps(b);
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

/* REGISTER and REGISTER AND IGNORE EXISTING KEY (SPC-4 5.13.7). */
static uint8_t
pr_out_register(struct scsi_lu *lu, struct scsi_task *task,
    struct scsi_pr_reg *r, uint64_t key, uint64_t sakey, bool ignore)
{
	if (r == NULL) {
		if (!ignore && key != 0)
			return SCSI_STATUS_RESERVATION_CONFLICT;
		if (sakey == 0)
			return SCSI_STATUS_GOOD;
		/*
		 * SPC-4 5.13.7: a registration the device server has no
		 * resources for ends in INSUFFICIENT REGISTRATION RESOURCES.
		 */
		if (lu->pr_nregs >= SCSI_PR_REGS_MAX)
			return PR_NO_ROOM;
		r = mem_zalloc(sizeof(*r));
		if (r == NULL)
			return SCSI_STATUS_BUSY;
		r->key = sakey;
		r->nexus_id = scsi_task_nexus_id(task);
		r->rel_port_id =
		    task->nexus != NULL ? task->nexus->rel_port_id : 0;
		snprintf(r->initiator_port, sizeof(r->initiator_port), "%s",
		    pr_iport(task));
		snprintf(r->target_port, sizeof(r->target_port), "%s",
		    pr_tport(task));
		list_add_tail(&lu->pr_regs, &r->node);
		lu->pr_nregs++;
		lu->pr_gen++;
		return SCSI_STATUS_GOOD;
	}
	if (!ignore && key != r->key)
		return SCSI_STATUS_RESERVATION_CONFLICT;
	if (sakey == 0)
		pr_unregister(lu, r);
	else
		r->key = sakey;
	lu->pr_gen++;
	return SCSI_STATUS_GOOD;
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

/* Did task come on the I_T nexus of registration r (a scsi_pr_reg)? */
static bool
pr_task_of_reg(const struct scsi_task *task, const void *r)
{
	const struct scsi_pr_reg *reg = r;

	return strcmp(reg->initiator_port, pr_iport(task)) == 0 &&
	    strcmp(reg->target_port, pr_tport(task)) == 0;
}

/*
 * PREEMPT (SPC-4 5.13.11.2). Returns the status; *bad_sakey asks for
 * INVALID FIELD IN PARAMETER LIST. With w (PREEMPT AND ABORT), the tasks
 * of the preempted nexuses are aborted too (see scsi_lu_abort_locked).
 */
static uint8_t
pr_out_preempt(struct scsi_lu *lu, struct scsi_pr_reg *me, uint64_t sakey,
    uint8_t type, bool *bad_sakey, struct scsi_abort_wait *w,
    struct list_node *stopped)
{
	struct list_node *pos, *tmp;
	bool hit = false, take;

	take = lu->pr_held &&
	    ((pr_type_all_reg(lu->pr_type) && sakey == 0) ||
		(!pr_type_all_reg(lu->pr_type) && lu->pr_holder != NULL &&
		    lu->pr_holder->key == sakey));
	if (!take && sakey == 0) {
		*bad_sakey = true;
		return SCSI_STATUS_GOOD;
	}
	if (take && !pr_type_valid(type))
		return PR_BAD_TYPE;
	list_for_each_safe(pos, tmp, &lu->pr_regs) {
		struct scsi_pr_reg *r =
		    list_entry(pos, struct scsi_pr_reg, node);

		if (r == me)
			continue;
		if (sakey != 0 && r->key != sakey)
			continue;
		hit = true;
		pr_ua(lu, r, ASC_REGISTRATIONS_PREEMPTED);
		if (w != NULL)
			scsi_lu_abort_locked(lu, pr_task_of_reg, r, w, stopped);
		if (lu->pr_holder == r)
			lu->pr_holder = NULL;
		list_remove(&r->node);
		lu->pr_nregs--;
		mem_free(r);
	}
	if (!take && !hit)
		return SCSI_STATUS_RESERVATION_CONFLICT;
	if (take) {
		lu->pr_held = true;
		lu->pr_type = type;
		lu->pr_holder = me;
	}
	lu->pr_gen++;
	return SCSI_STATUS_GOOD;
}

/* The tasks a PREEMPT AND ABORT aborted are gone: it completes. */
static void
pr_preempt_abort_done(void *arg)
{
	scsi_task_finish_later(arg);
}

void
scsi_pr_out(struct scsi_task *task, const uint64_t *luns, unsigned int n)
{
	struct scsi_lu *lu = task->lu;
	uint32_t plen = get_be32(task->cdb + 5);
	uint8_t sa = task->cdb[1] & 0x1f, type = task->cdb[2] & 0x0f;
	uint8_t status = SCSI_STATUS_GOOD;
	const uint8_t *p = task->data;
	struct scsi_pr_reg *r;
	struct scsi_abort_wait *w = NULL;
	struct list_node stopped;
	uint64_t key, sakey;
	bool bad_sakey = false;

	(void)luns;
	(void)n;
	task->xfer_len = plen;
	if (sa > PR_OUT_REGISTER_IGNORE) {
		/* REGISTER AND MOVE and beyond: not offered. */
		scsi_task_sense_invalid_field(task, true, 1, 4);
		return;
	}
	if (task->cdb[2] & 0xf0) {
		scsi_task_sense_invalid_field(task, true, 2, 7);
		return;
	}
	if (plen != PR_OUT_PARAM_LEN) {
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	if (scsi_task_data_out_len(task) < plen) {
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_INVALID_FIELD_IN_IU);
		return;
	}
	if (p[20] & (PR_SPEC_I_PT | PR_ALL_TG_PT | PR_APTPL)) {
		/* REPORT CAPABILITIES says none of these is supported. */
		scsi_task_sense_invalid_field(task, false, 20,
		    (p[20] & PR_SPEC_I_PT)       ? 3
			: (p[20] & PR_ALL_TG_PT) ? 2
						 : 0);
		return;
	}
	key = get_be64(p);
	sakey = get_be64(p + 8);
	/*
	 * PREEMPT AND ABORT also aborts the preempted nexuses' tasks (SPC-4
	 * 5.13.11.2), and completes once they are gone: no command of theirs
	 * changes the medium after the new holder hears GOOD.
	 */
	list_init(&stopped);
	if (sa == PR_OUT_PREEMPT_ABORT) {
		w = scsi_abort_wait_new(task->queue, pr_preempt_abort_done,
		    task);
		if (w == NULL) {
			scsi_task_set_status(task, SCSI_STATUS_BUSY);
			return;
		}
	}

	pthread_mutex_lock(&lu->lock);
	r = pr_reg_find(lu, task);
	if (sa != PR_OUT_REGISTER && sa != PR_OUT_REGISTER_IGNORE &&
	    (r == NULL || r->key != key)) {
		status = SCSI_STATUS_RESERVATION_CONFLICT;
		goto out;
	}
	switch (sa) {
	case PR_OUT_REGISTER:
	case PR_OUT_REGISTER_IGNORE:
		status = pr_out_register(lu, task, r, key, sakey,
		    sa == PR_OUT_REGISTER_IGNORE);
		break;
	case PR_OUT_RESERVE:
		if (!pr_type_valid(type)) {
			status = PR_BAD_TYPE;
			break;
		}
		if (!lu->pr_held) {
			lu->pr_held = true;
			lu->pr_type = type;
			lu->pr_holder = pr_type_all_reg(type) ? NULL : r;
		} else if (!pr_is_holder(lu, r) || lu->pr_type != type) {
			status = SCSI_STATUS_RESERVATION_CONFLICT;
		}
		break;
	case PR_OUT_RELEASE:
		if (!pr_is_holder(lu, r))
			break;
		if (lu->pr_type != type) {
			pthread_mutex_unlock(&lu->lock);
			scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
			    ASC_INVALID_RELEASE_OF_PR);
			return;
		}
		/* SPC-4 5.13.11.2.2: others registered learn of it. */
		if (pr_type_reg_only(lu->pr_type) ||
		    pr_type_all_reg(lu->pr_type)) {
			struct list_node *pos;

			list_for_each(pos, &lu->pr_regs) {
				struct scsi_pr_reg *o =
				    list_entry(pos, struct scsi_pr_reg, node);

				if (o != r)
					pr_ua(lu, o, ASC_RESERVATIONS_RELEASED);
			}
		}
		pr_release(lu);
		break;
	case PR_OUT_CLEAR: {
		struct list_node *pos, *tmp;

		list_for_each_safe(pos, tmp, &lu->pr_regs) {
			struct scsi_pr_reg *o =
			    list_entry(pos, struct scsi_pr_reg, node);

			if (o != r)
				pr_ua(lu, o, ASC_RESERVATIONS_PREEMPTED);
			list_remove(pos);
			mem_free(o);
		}
		lu->pr_nregs = 0;
		pr_release(lu);
		lu->pr_gen++;
		break;
	}
	case PR_OUT_PREEMPT:
	case PR_OUT_PREEMPT_ABORT:
		status =
		    pr_out_preempt(lu, r, sakey, type, &bad_sakey, w, &stopped);
		break;
	}
out:
	pthread_mutex_unlock(&lu->lock);
	if (bad_sakey)
		scsi_task_sense_invalid_field(task, false, 8, -1);
	else if (status == PR_BAD_TYPE)
		scsi_task_sense_invalid_field(task, true, 2, 3);
	else if (status == PR_NO_ROOM)
		pr_no_room(lu, task);
	else
		scsi_task_set_status(task, status);
	if (w == NULL)
		return;
	if (bad_sakey || status != SCSI_STATUS_GOOD) {
		/* Nothing was preempted, so nothing aborted. */
		scsi_abort_wait_cancel(w);
		return;
	}
	task->completes_later = true;
	scsi_abort_wait_start(lu, w, &stopped);
}
