/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Copy offload (SPC-4): EXTENDED COPY (LID1) with block-to-block segment
 * descriptors (type 02h) between the logical units that identification
 * CSCD descriptors (E4h) name by their NAA designator, RECEIVE COPY
 * RESULTS (COPY STATUS, OPERATING PARAMETERS) and the Third-party Copy
 * VPD page. The data never crosses the network: the copy manager reads a
 * chunk from the source LU's store into a private buffer and writes it
 * to the destination LU's store, one chunk at a time, through the same
 * backend queues every READ and WRITE uses, so a long copy takes its turn
 * with the other I/O instead of starving it, and an abort (ABORT TASK,
 * LOGICAL UNIT RESET, CLEAR TASK SET) stops it between two chunks.
 *
 * Which LUs a CSCD descriptor may name: only LUs of the target the
 * command came in on (the issuing LU's tid and target name). An
 * initiator reaches a target only after the target layer let it log in,
 * and every LU of that target is then addressable by it anyway; an LU
 * of another target may belong to another tenant whose access rules
 * this initiator never passed, and its NAA designator is no secret (a
 * designator is no capability). An NAA of another target therefore gets
 * exactly the answer of an NAA that exists nowhere.
 *
 * The EXTENDED COPY task has no LBA range in its LU's task set (it may
 * name several LUs), so like any SIMPLE task it is not ordered against
 * other SIMPLE tasks; an initiator that needs a copy ordered after its
 * writes waits for them or sends the copy ORDERED.
 */
#include <errno.h>
#include <string.h>

#include "scsi/scsi_int.h"
#include "scsi/scsi_proto.h"
#include "util/alloc.h"
#include "util/be.h"
#include "util/databuf.h"
#include "util/log.h"

/* Parameter list (SPC-4 6.4.3). */
#define XC_HDR_LEN 16
#define XC_CSCD_LEN 32     /* every CSCD descriptor type we parse */
#define XC_SEG_B2B_LEN 28  /* block -> block, header included */
#define XC_SEG_HDR_LEN 4   /* type, flags, DESCRIPTOR LENGTH */
#define XC_CSCD_IDENT 0xe4 /* identification descriptor CSCD */
#define XC_SEG_B2B 0x02    /* block device to block device */
#define XC_USAGE_HOLD 0    /* LIST ID USAGE 00b: status held */
#define XC_USAGE_RESERVED 1
#define XC_USAGE_UNIQUE 2 /* 10b: unique list id, nothing held */
#define XC_USAGE_NONE 3   /* 11b: no list id */

/*
 * Limits, advertised in OPERATING PARAMETERS and VPD 0x8F and enforced.
 * The descriptor list bound holds the largest counts with room to spare;
 * MAXIMUM SEGMENT LENGTH bounds one segment's bytes, so one command moves
 * at most XC_MAX_SEGS * XC_MAX_SEG_BYTES.
 */
#define XC_MAX_CSCD 32
#define XC_MAX_SEGS 64
#define XC_MAX_DESC_LIST 4096
#define XC_MAX_SEG_BYTES (64u * 1024 * 1024)
#define XC_TOTAL_CONCURRENT 16 /* copies in flight in the whole daemon */
/* One chunk: the unit of progress, of memory and of abort latency. */
#define XC_CHUNK (1024u * 1024)

/* COPY MANAGER STATUS (SPC-4 6.18.3). */
#define XC_ST_RUNNING 0x00
#define XC_ST_GOOD 0x01
#define XC_ST_FAILED 0x02

/* Sense (SPC-4 table 47 and the additional sense codes). */
#define SK_COPY_ABORTED 0x0a
#define ASC_XC_OPERATION_IN_PROGRESS 0x00, 0x16
#define ASC_XC_UNREACHABLE_TARGET 0x08, 0x04
#define ASC_XC_TARGET_NOT_REACHABLE 0x0d, 0x02
#define ASC_XC_TOO_MANY_CSCD 0x26, 0x06
#define ASC_XC_UNSUPPORTED_CSCD 0x26, 0x07
#define ASC_XC_TOO_MANY_SEGS 0x26, 0x08
#define ASC_XC_UNSUPPORTED_SEG 0x26, 0x09
#define ASC_XC_INLINE_EXCEEDED 0x26, 0x0b
#define ASC_XC_GRANULARITY 0x26, 0x0d
#define ASC_XC_INSUFFICIENT_RESOURCES 0x55, 0x03
#define SENSE_SKS_SD 0x20 /* segment pointer: relative to a segment */

struct xc_seg {
	uint16_t src, dst; /* CSCD indexes */
	uint64_t src_off;  /* bytes */
	uint64_t dst_off;  /* bytes */
	uint64_t len;      /* bytes */
	bool backward; /* same LU, destination above an overlapping source */
	unsigned int where; /* its offset in the parameter list */
};

struct xc {
	struct scsi_lu *cscd[XC_MAX_CSCD]; /* one reference each */
	unsigned int ncscd;
	struct xc_seg seg[XC_MAX_SEGS];
	unsigned int nseg;
	unsigned int cur; /* segment being copied */
	uint64_t done;    /* bytes of it copied */
	uint64_t pos, n;  /* the chunk in flight: offset in segment, length */
	uint64_t total;   /* bytes copied by the whole command */
	uint8_t list_id;
	uint8_t usage;
	bool recorded; /* has a record in its I_T_L (usage 00b, 10b) */
	bool counted;  /* one of xc_running */
};

static unsigned int xc_running; /* atomic */
static uint64_t xc_seq;         /* atomic: ages of the held records */
static struct log_ratelimit xc_refused_rl;
static pthread_mutex_t xc_rl_lock = PTHREAD_MUTEX_INITIALIZER;

static bool
xc_desc_sense(const struct scsi_task *task)
{
	return __atomic_load_n(&task->lu->d_sense, __ATOMIC_RELAXED);
}

/*
 * CHECK CONDITION with a pointer to a byte of the parameter list: ILLEGAL
 * REQUEST's field pointer, or COPY ABORTED's segment pointer (SPC-4
 * 4.5.2.4.5, SD clear: counted from the start of the parameter list).
 */
static void
xc_pointer_sense(struct scsi_task *task, uint8_t key, uint8_t asc, uint8_t ascq,
    unsigned int byte)
{
	uint8_t sks[3];

	sks[0] = SENSE_SKSV;
	put_be16(sks + 1, (uint16_t)(byte > 0xffff ? 0xffff : byte));
	task->status = SCSI_STATUS_CHECK_CONDITION;
	scsi_sense_build(task->sense, &task->sense_len, xc_desc_sense(task),
	    key, asc, ascq, false, 0, sks);
}

/* Hostile or broken parameter lists are refused with one line, bounded. */
static void
xc_log_refused(const struct scsi_task *task, const char *why)
{
	unsigned int dropped = 0;
	bool say;

	pthread_mutex_lock(&xc_rl_lock);
	say = log_ratelimit_pass(&xc_refused_rl, &dropped);
	pthread_mutex_unlock(&xc_rl_lock);
	if (!say)
		return;
	log_info("EXTENDED COPY from %s on %s lun %llu refused: %s%s",
	    task->nexus != NULL ? task->nexus->initiator_port : "?",
	    task->lu->target_name, (unsigned long long)task->lu->lun, why,
	    dropped ? " (and earlier lines dropped)" : "");
}

/* The same bound for a copy that a reservation or SWP stopped midway. */
static void
xc_log_stopped(const struct scsi_cmd *cmd, uint64_t bytes)
{
	unsigned int dropped = 0;
	bool say;

	pthread_mutex_lock(&xc_rl_lock);
	say = log_ratelimit_pass(&xc_refused_rl, &dropped);
	pthread_mutex_unlock(&xc_rl_lock);
	if (!say)
		return;
	log_info("EXTENDED COPY on %s lun %llu stopped after %llu bytes: %s%s",
	    cmd->lu->target_name, (unsigned long long)cmd->lu->lun,
	    (unsigned long long)bytes,
	    cmd->task->status == SCSI_STATUS_RESERVATION_CONFLICT
		? "reservation conflict"
		: "destination write protected",
	    dropped ? " (and earlier lines dropped)" : "");
}

/* A reference on lu unless it is being freed (refs already 0). */
static bool
xc_lu_tryget(struct scsi_lu *lu)
{
	unsigned int refs = __atomic_load_n(&lu->refs, __ATOMIC_RELAXED);

	while (refs != 0)
		if (__atomic_compare_exchange_n(&lu->refs, &refs, refs + 1,
			false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			return true;
	return false;
}

/*
 * The LU of the issuing LU's own target whose NAA designator is naa, with
 * a reference; NULL when there is none (see the top of this file).
 */
static struct scsi_lu *
xc_lu_find(struct scsi_lu *issuer, const uint8_t *naa)
{
	struct scsi_lu *found = NULL;
	struct list_node *pos;

	if (memcmp(issuer->naa, naa, SCSI_NAA_LEN) == 0) {
		scsi_lu_get(issuer);
		return issuer;
	}
	scsi_lu_list_lock();
	list_for_each(pos, scsi_lu_list()) {
		struct scsi_lu *lu = list_entry(pos, struct scsi_lu, node);

		if (lu->tid != issuer->tid ||
		    strcmp(lu->target_name, issuer->target_name) != 0 ||
		    memcmp(lu->naa, naa, SCSI_NAA_LEN) != 0)
			continue;
		if (xc_lu_tryget(lu)) {
			found = lu;
			break;
		}
	}
	scsi_lu_list_unlock();
	return found;
}

/*
 * One identification CSCD descriptor at d (offset off in the list): the
 * LU it names, with a reference, or NULL with the sense set.
 */
static struct scsi_lu *
xc_parse_cscd(struct scsi_task *task, const uint8_t *d, unsigned int off)
{
	struct scsi_lu *lu;
	uint8_t codeset = d[4] & 0x0f, assoc = (d[5] >> 4) & 0x03,
		type = d[5] & 0x0f, dlen = d[7];
	uint32_t blen;

	if (d[0] != XC_CSCD_IDENT) {
		xc_log_refused(task, "unsupported CSCD descriptor type");
		xc_pointer_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_XC_UNSUPPORTED_CSCD, off);
		return NULL;
	}
	/*
	 * Byte 1: LU ID TYPE (ignored by SPC-4 for this type), NUL (obsolete)
	 * and the PERIPHERAL DEVICE TYPE, which must be a block device.
	 */
	if ((d[1] & 0x1f) != INQ_TYPE_DISK) {
		xc_pointer_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_INVALID_FIELD_IN_PARAM_LIST, off + 1);
		return NULL;
	}
	/* Only an LU's NAA designator names one of ours (VPD 0x83). */
	if (codeset != DESIG_CODESET_BINARY || assoc != 0 ||
	    type != (DESIG_TYPE_NAA & 0x0f) || dlen != SCSI_NAA_LEN) {
		xc_log_refused(task, "CSCD designator is not an LU's NAA");
		xc_pointer_sense(task, SK_COPY_ABORTED,
		    ASC_XC_UNREACHABLE_TARGET, off + 4);
		return NULL;
	}
	lu = xc_lu_find(task->lu, d + 8);
	if (lu == NULL) {
		xc_log_refused(task,
		    "CSCD names no LU of this target (unknown NAA or another "
		    "target's LU)");
		xc_pointer_sense(task, SK_COPY_ABORTED,
		    ASC_XC_UNREACHABLE_TARGET, off + 8);
		return NULL;
	}
	/* DISK BLOCK LENGTH: what the initiator thinks the block size is. */
	blen = get_be24(d + 29);
	if (blen != lu->block_size) {
		scsi_lu_put(lu);
		xc_pointer_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_INVALID_FIELD_IN_PARAM_LIST, off + 29);
		return NULL;
	}
	return lu;
}

static bool
xc_write_protected(const struct scsi_lu *lu)
{
	return lu->read_only || __atomic_load_n(&lu->swp, __ATOMIC_RELAXED);
}

/*
 * One block -> block segment descriptor at d (offset off): its byte
 * ranges, checked against both LUs. false with the sense set.
 */
static bool
xc_parse_seg(struct scsi_task *task, struct xc *x, const uint8_t *d,
    unsigned int off, struct xc_seg *s)
{
	struct scsi_lu *src, *dst;
	uint64_t nblocks, slba, dlba, sblocks, dblocks, bytes;
	unsigned int gran;
	bool dc = d[1] & 0x02;

	if (d[0] != XC_SEG_B2B) {
		xc_log_refused(task, "unsupported segment descriptor type");
		xc_pointer_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_XC_UNSUPPORTED_SEG, off);
		return false;
	}
	if (get_be16(d + 2) != XC_SEG_B2B_LEN - XC_SEG_HDR_LEN) {
		xc_pointer_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_INVALID_FIELD_IN_PARAM_LIST, off + 2);
		return false;
	}
	s->src = get_be16(d + 4);
	s->dst = get_be16(d + 6);
	s->where = off;
	if (s->src >= x->ncscd || s->dst >= x->ncscd) {
		xc_log_refused(task, "segment names a CSCD index not given");
		xc_pointer_sense(task, SK_COPY_ABORTED,
		    ASC_XC_TARGET_NOT_REACHABLE,
		    s->src >= x->ncscd ? off + 4 : off + 6);
		return false;
	}
	src = x->cscd[s->src];
	dst = x->cscd[s->dst];
	nblocks = get_be16(d + 10);
	slba = get_be64(d + 12);
	dlba = get_be64(d + 20);
	/* DC: the count is in destination blocks, else source blocks. */
	bytes = nblocks << (dc ? dst->block_shift : src->block_shift);
	gran = src->block_size > dst->block_size ? src->block_size
						 : dst->block_size;
	if (bytes % gran != 0) {
		xc_pointer_sense(task, SK_ILLEGAL_REQUEST, ASC_XC_GRANULARITY,
		    off + 10);
		return false;
	}
	if (bytes > XC_MAX_SEG_BYTES) {
		/* Past MAXIMUM SEGMENT LENGTH (OPERATING PARAMETERS). */
		xc_pointer_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_INVALID_FIELD_IN_PARAM_LIST, off + 10);
		return false;
	}
	sblocks = __atomic_load_n(&src->blocks, __ATOMIC_RELAXED);
	dblocks = __atomic_load_n(&dst->blocks, __ATOMIC_RELAXED);
	if (slba > sblocks || (bytes >> src->block_shift) > sblocks - slba) {
		xc_pointer_sense(task, SK_COPY_ABORTED, ASC_NO_ADDITIONAL_SENSE,
		    off + 12);
		return false;
	}
	if (dlba > dblocks || (bytes >> dst->block_shift) > dblocks - dlba) {
		xc_pointer_sense(task, SK_COPY_ABORTED, ASC_NO_ADDITIONAL_SENSE,
		    off + 20);
		return false;
	}
	s->src_off = slba << src->block_shift;
	s->dst_off = dlba << dst->block_shift;
	s->len = bytes;
	/*
	 * Within one LU with the destination above an overlapping source a
	 * forward copy would read what it has just written: copy from the
	 * end, so the result is that of reading the whole source first.
	 */
	s->backward = src == dst && s->dst_off > s->src_off &&
	    s->dst_off < s->src_off + bytes;
	return true;
}

/* SPC-2 and persistent reservations of lu against this nexus. */
static bool
xc_conflict(struct scsi_lu *lu, const struct scsi_task *task, bool write)
{
	static const struct scsi_op rd = {.flags = SCSI_F_PR_READ};
	static const struct scsi_op wr = {.flags = SCSI_F_PR_WRITE};
	bool c;

	pthread_mutex_lock(&lu->lock);
	c = scsi_resv_conflict(lu, task, write ? &wr : &rd);
	pthread_mutex_unlock(&lu->lock);
	return c;
}

/* Is lu sanitizing, or failed by a sanitize? With the task's sense set. */
static bool
xc_sanitizing(struct scsi_lu *lu, struct scsi_task *task)
{
	bool r;

	pthread_mutex_lock(&lu->lock);
	r = scsi_sanitize_refuse(lu, task);
	pthread_mutex_unlock(&lu->lock);
	return r;
}

/*
 * May this nexus read src and write dst now? Asked for every segment
 * before the copy starts and again before every chunk: a reservation
 * taken meanwhile (a cluster fencing this initiator off the destination
 * with PREEMPT AND ABORT on that LU, which cannot abort a task of another
 * LU's task set) or a write protection switched on stops the copy at the
 * next chunk, as it would stop the next WRITE. So does a SANITIZE of
 * either LU (SBC-4 4.11.2): a CSCD LU other than the issuing one never
 * sees the copy in its task set, so its SANITIZE would not wait for it.
 * false with the status set.
 */
static bool
xc_allowed(struct scsi_task *task, struct scsi_lu *src, struct scsi_lu *dst)
{
	if (xc_sanitizing(src, task) || xc_sanitizing(dst, task))
		return false;
	if (xc_write_protected(dst)) {
		scsi_task_set_sense(task, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
		return false;
	}
	if (xc_conflict(src, task, false) || xc_conflict(dst, task, true)) {
		scsi_task_set_status(task, SCSI_STATUS_RESERVATION_CONFLICT);
		return false;
	}
	return true;
}

/*
 * The parameter list: header, CSCD descriptors, segment descriptors, in
 * the order SPC-4 6.4.3 checks them. false with the status set.
 */
static bool
xc_parse(struct scsi_task *task, struct xc *x, const uint8_t *p, uint32_t plen)
{
	uint32_t cscd_len, seg_len, inline_len, off, end;
	unsigned int i;

	if (plen < XC_HDR_LEN) {
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_PARAMETER_LIST_LENGTH_ERROR);
		return false;
	}
	x->list_id = p[0];
	x->usage = (p[1] >> 3) & 0x03;
	cscd_len = get_be16(p + 2);
	seg_len = get_be32(p + 8);
	inline_len = get_be32(p + 12);
	if (x->usage == XC_USAGE_RESERVED) {
		xc_pointer_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_INVALID_FIELD_IN_PARAM_LIST, 1);
		return false;
	}
	if (x->usage == XC_USAGE_NONE && x->list_id != 0) {
		xc_pointer_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_INVALID_FIELD_IN_PARAM_LIST, 0);
		return false;
	}
	/* 64-bit sum: the lengths come from the initiator. */
	if ((uint64_t)XC_HDR_LEN + cscd_len + seg_len + inline_len > plen ||
	    (uint64_t)cscd_len + seg_len > XC_MAX_DESC_LIST) {
		xc_log_refused(task, "descriptor lengths past the list");
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_PARAMETER_LIST_LENGTH_ERROR);
		return false;
	}
	if (inline_len != 0) {
		/* MAXIMUM INLINE DATA LENGTH is 0. */
		xc_pointer_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_XC_INLINE_EXCEEDED, 12);
		return false;
	}
	if (cscd_len % XC_CSCD_LEN != 0) {
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_PARAMETER_LIST_LENGTH_ERROR);
		return false;
	}
	if (cscd_len / XC_CSCD_LEN > XC_MAX_CSCD) {
		xc_log_refused(task, "too many CSCD descriptors");
		xc_pointer_sense(task, SK_ILLEGAL_REQUEST, ASC_XC_TOO_MANY_CSCD,
		    2);
		return false;
	}
	/* Segments: walked by their own lengths, so count them first. */
	off = XC_HDR_LEN + cscd_len;
	end = off + seg_len;
	for (i = 0; off < end; i++) {
		if (end - off < XC_SEG_HDR_LEN ||
		    get_be16(p + off + 2) > end - off - XC_SEG_HDR_LEN) {
			scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
			    ASC_PARAMETER_LIST_LENGTH_ERROR);
			return false;
		}
		if (i == XC_MAX_SEGS) {
			xc_log_refused(task, "too many segment descriptors");
			xc_pointer_sense(task, SK_ILLEGAL_REQUEST,
			    ASC_XC_TOO_MANY_SEGS, 8);
			return false;
		}
		off += XC_SEG_HDR_LEN + get_be16(p + off + 2);
	}
	for (off = XC_HDR_LEN; off < XC_HDR_LEN + cscd_len;
	     off += XC_CSCD_LEN) {
		struct scsi_lu *lu = xc_parse_cscd(task, p + off, off);

		if (lu == NULL)
			return false;
		x->cscd[x->ncscd++] = lu;
	}
	off = XC_HDR_LEN + cscd_len;
	while (off < end) {
		struct xc_seg *s = &x->seg[x->nseg];

		/* A type we take is as long as it must be; others refused. */
		if (p[off] == XC_SEG_B2B &&
		    get_be16(p + off + 2) < XC_SEG_B2B_LEN - XC_SEG_HDR_LEN) {
			xc_pointer_sense(task, SK_ILLEGAL_REQUEST,
			    ASC_INVALID_FIELD_IN_PARAM_LIST, off + 2);
			return false;
		}
		if (!xc_parse_seg(task, x, p + off, off, s))
			return false;
		x->nseg++;
		off += XC_SEG_HDR_LEN + get_be16(p + off + 2);
	}
	for (i = 0; i < x->nseg; i++)
		if (!xc_allowed(task, x->cscd[x->seg[i].src],
			x->cscd[x->seg[i].dst]))
			return false;
	return true;
}

/* The held record of list_id in itl, or NULL; lu->lock held. */
static struct scsi_xcopy_held *
xc_held_find(struct scsi_itl *itl, uint8_t list_id)
{
	for (unsigned int i = 0; i < SCSI_XCOPY_HELD; i++)
		if (itl->xcopy[i].used && itl->xcopy[i].list_id == list_id)
			return &itl->xcopy[i];
	return NULL;
}

/*
 * Make the record of a copy with a list identifier: the identifier must
 * not be one of a copy of this I_T nexus still running (SPC-4 6.4.3),
 * and a finished record of the same identifier, or else the oldest
 * finished one, makes room. false with the sense set.
 */
static bool
xc_record_start(struct scsi_task *task, struct xc *x)
{
	struct scsi_lu *lu = task->lu;
	struct scsi_xcopy_held *h, *slot = NULL;
	struct scsi_itl *itl;
	bool ok = true;

	pthread_mutex_lock(&lu->lock);
	itl = scsi_itl_find(lu, scsi_task_nexus_id(task), true);
	if (itl == NULL) {
		pthread_mutex_unlock(&lu->lock);
		scsi_task_set_status(task, SCSI_STATUS_BUSY);
		return false;
	}
	h = xc_held_find(itl, x->list_id);
	if (h != NULL && h->running) {
		ok = false;
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_XC_OPERATION_IN_PROGRESS);
	} else if (h != NULL) {
		slot = h;
	} else {
		for (unsigned int i = 0; i < SCSI_XCOPY_HELD; i++) {
			h = &itl->xcopy[i];
			if (!h->used) {
				slot = h;
				break;
			}
			if (!h->running && (slot == NULL || h->seq < slot->seq))
				slot = h;
		}
		if (slot == NULL) {
			/* MAXIMUM CONCURRENT COPIES of this nexus reached. */
			ok = false;
			scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
			    ASC_XC_INSUFFICIENT_RESOURCES);
		}
	}
	if (ok) {
		memset(slot, 0, sizeof(*slot));
		slot->used = true;
		slot->running = true;
		slot->list_id = x->list_id;
		slot->status = XC_ST_RUNNING;
		slot->seq = __atomic_add_fetch(&xc_seq, 1, __ATOMIC_RELAXED);
		x->recorded = true;
	}
	pthread_mutex_unlock(&lu->lock);
	return ok;
}

/*
 * Progress or end of a recorded copy. The record may be gone (its nexus
 * was lost, its I_T_L dropped): then nobody can ask any more.
 */
static void
xc_record(struct scsi_cmd *cmd, bool end, uint8_t status)
{
	struct xc *x = cmd->state;
	struct scsi_lu *lu = cmd->lu;
	struct scsi_xcopy_held *h;
	struct scsi_itl *itl;

	if (!x->recorded)
		return;
	pthread_mutex_lock(&lu->lock);
	itl = scsi_itl_find(lu, scsi_task_nexus_id(cmd->task), false);
	h = itl != NULL ? xc_held_find(itl, x->list_id) : NULL;
	if (h != NULL && h->running) {
		h->segments = (uint16_t)x->cur;
		h->bytes = x->total;
		if (end) {
			h->running = false;
			h->status = status;
			/* 10b: unique while it runs, nothing held after. */
			if (x->usage != XC_USAGE_HOLD)
				h->used = false;
		}
	}
	pthread_mutex_unlock(&lu->lock);
}

static void
xc_free(struct xc *x)
{
	for (unsigned int i = 0; i < x->ncscd; i++)
		scsi_lu_put(x->cscd[i]);
	if (x->counted)
		__atomic_sub_fetch(&xc_running, 1, __ATOMIC_RELAXED);
	mem_free(x);
}

/* The end of the command, whatever it is; the task carries its status. */
static void
xc_finish(struct scsi_cmd *cmd, uint8_t status)
{
	struct xc *x = cmd->state;

	if (x != NULL) {
		xc_record(cmd, true, status);
		xc_free(x);
		cmd->state = NULL;
	}
	scsi_cmd_complete(cmd);
}

static void xc_step(struct scsi_cmd *cmd);

static void
xc_io_done(struct backend_io *io)
{
	struct scsi_cmd *cmd = io->arg;

	cmd->next(cmd);
}

/* One chunk of io on lu's store, through the backend's own queues. */
static void
xc_submit(struct scsi_cmd *cmd, struct scsi_lu *lu, enum backend_op op,
    uint64_t off, bool fua, scsi_cmd_fn *next)
{
	struct xc *x = cmd->state;

	memset(&cmd->io, 0, sizeof(cmd->io));
	cmd->iov.iov_base = cmd->buf;
	cmd->iov.iov_len = (size_t)x->n;
	cmd->io.op = op;
	cmd->io.offset = off;
	cmd->io.len = x->n;
	cmd->io.iov = &cmd->iov;
	cmd->io.iovcnt = 1;
	cmd->io.fua = fua;
	cmd->io.done = xc_io_done;
	cmd->io.arg = cmd;
	cmd->io.cq = cmd->task->queue->cq;
	cmd->next = next;
	cmd->in_exec = false;
	backend_submit(lu->be, &cmd->io);
}

static void
xc_write_done(struct scsi_cmd *cmd)
{
	struct xc *x = cmd->state;

	if (cmd->io.result < 0) {
		xc_pointer_sense(cmd->task, SK_COPY_ABORTED, ASC_WRITE_ERROR,
		    x->seg[x->cur].where);
		xc_finish(cmd, XC_ST_FAILED);
		return;
	}
	x->done += x->n;
	x->total += x->n;
	if (x->done == x->seg[x->cur].len) {
		x->cur++;
		x->done = 0;
	}
	xc_record(cmd, false, XC_ST_RUNNING);
	xc_step(cmd);
}

static void
xc_read_done(struct scsi_cmd *cmd)
{
	struct xc *x = cmd->state;
	const struct xc_seg *s = &x->seg[x->cur];
	struct scsi_lu *dst = x->cscd[s->dst];

	if (cmd->io.result < 0) {
		xc_pointer_sense(cmd->task, SK_COPY_ABORTED,
		    ASC_UNRECOVERED_READ_ERROR, s->where);
		xc_finish(cmd, XC_ST_FAILED);
		return;
	}
	xc_submit(cmd, dst, BACKEND_OP_WRITE, s->dst_off + x->pos,
	    !__atomic_load_n(&dst->wce, __ATOMIC_RELAXED), xc_write_done);
}

/* Between two chunks: stop if aborted, else read the next one. */
static void
xc_step(struct scsi_cmd *cmd)
{
	struct xc *x = cmd->state;
	struct scsi_task *task = cmd->task;
	const struct xc_seg *s;

	if (task->aborted ||
	    __atomic_load_n(&task->aborted_elsewhere, __ATOMIC_ACQUIRE)) {
		/*
		 * SAM-5 7.2: what was written stays written; the task ends
		 * aborted (scsi_cmd_finish gives TASK ABORTED when another
		 * nexus's reset did it, and ABORT TASK sends no status).
		 */
		log_debug(1,
		    "EXTENDED COPY on %s lun %llu aborted after %llu bytes",
		    cmd->lu->target_name, (unsigned long long)cmd->lu->lun,
		    (unsigned long long)x->total);
		xc_finish(cmd, XC_ST_FAILED);
		return;
	}
	while (x->cur < x->nseg && x->seg[x->cur].len == 0)
		x->cur++;
	if (x->cur == x->nseg) {
		xc_finish(cmd, XC_ST_GOOD);
		return;
	}
	s = &x->seg[x->cur];
	if (!xc_allowed(task, x->cscd[s->src], x->cscd[s->dst])) {
		xc_log_stopped(cmd, x->total);
		xc_finish(cmd, XC_ST_FAILED);
		return;
	}
	x->n = s->len - x->done;
	if (x->n > XC_CHUNK)
		x->n = XC_CHUNK;
	x->pos = s->backward ? s->len - x->done - x->n : x->done;
	xc_submit(cmd, x->cscd[s->src], BACKEND_OP_READ, s->src_off + x->pos,
	    false, xc_read_done);
}

/* EXTENDED COPY (LID1) (SPC-4 6.4). */
void
scsi_xcopy_start(struct scsi_cmd *cmd)
{
	struct scsi_task *task = cmd->task;
	uint32_t plen = get_be32(task->cdb + 10);
	struct xc *x;

	if ((task->cdb[1] & 0x1f) != SCSI_XCOPY_LID1) {
		/* LID4 and the token commands are not offered. */
		scsi_task_sense_invalid_field(task, true, 1, 4);
		goto done;
	}
	task->xfer_len = plen;
	/* SPC-4 6.4.1: a zero length is no error and copies nothing. */
	if (plen == 0)
		goto done;
	if (scsi_task_data_out_short(task, plen))
		goto done;
	x = mem_zalloc(sizeof(*x));
	if (x == NULL) {
		scsi_task_set_status(task, SCSI_STATUS_BUSY);
		goto done;
	}
	cmd->state = x;
	if (!xc_parse(task, x, task->data, plen))
		goto fail;
	if (__atomic_add_fetch(&xc_running, 1, __ATOMIC_RELAXED) >
	    XC_TOTAL_CONCURRENT) {
		/* TOTAL CONCURRENT COPIES in flight: try again later. */
		__atomic_sub_fetch(&xc_running, 1, __ATOMIC_RELAXED);
		scsi_task_set_status(task, SCSI_STATUS_BUSY);
		goto fail;
	}
	x->counted = true;
	cmd->buf = databuf_alloc(XC_CHUNK);
	cmd->buf_len = XC_CHUNK;
	if (cmd->buf == NULL) {
		scsi_task_set_status(task, SCSI_STATUS_BUSY);
		goto fail;
	}
	if (x->usage != XC_USAGE_NONE && !xc_record_start(task, x))
		goto fail;
	xc_step(cmd);
	return;
fail:
	xc_finish(cmd, XC_ST_FAILED);
	return;
done:
	scsi_cmd_complete(cmd);
}

/* RECEIVE COPY RESULTS, COPY STATUS (SPC-4 6.18.3). */
static void
xc_copy_status(struct scsi_task *task, uint32_t alloc)
{
	struct scsi_lu *lu = task->lu;
	struct scsi_xcopy_held *h;
	struct scsi_itl *itl;
	uint8_t b[12];
	bool found = false;

	memset(b, 0, sizeof(b));
	pthread_mutex_lock(&lu->lock);
	itl = scsi_itl_find(lu, scsi_task_nexus_id(task), false);
	h = itl != NULL ? xc_held_find(itl, task->cdb[2]) : NULL;
	if (h != NULL) {
		found = true;
		put_be32(b, sizeof(b) - 4);
		b[4] = h->status;
		put_be16(b + 5, h->segments);
		/* TRANSFER COUNT UNITS: bytes, or KiB past 32 bits. */
		if (h->bytes <= UINT32_MAX) {
			put_be32(b + 8, (uint32_t)h->bytes);
		} else {
			b[7] = 0x01;
			put_be32(b + 8, (uint32_t)(h->bytes >> 10));
		}
		/* Reported once finished: the record has served. */
		if (!h->running)
			h->used = false;
	}
	pthread_mutex_unlock(&lu->lock);
	if (!found) {
		/* No copy of that list identifier from this I_T nexus. */
		scsi_task_sense_invalid_field(task, true, 2, -1);
		return;
	}
	scsi_task_data_in(task, b, sizeof(b), alloc);
}

/* RECEIVE COPY RESULTS, OPERATING PARAMETERS (SPC-4 6.18.5). */
static void
xc_operating_params(struct scsi_task *task, uint32_t alloc)
{
	uint8_t b[48];

	memset(b, 0, sizeof(b));
	put_be32(b, 46 - 4);
	b[4] = 0x01; /* SNLID: LIST ID USAGE 11b is taken */
	put_be16(b + 8, XC_MAX_CSCD);
	put_be16(b + 10, XC_MAX_SEGS);
	put_be32(b + 12, XC_MAX_DESC_LIST);
	put_be32(b + 16, XC_MAX_SEG_BYTES);
	/* No inline or held data, no stream devices: 20..31 stay 0. */
	put_be16(b + 34, XC_TOTAL_CONCURRENT);
	b[36] = SCSI_XCOPY_HELD;
	b[37] = (uint8_t)task->lu->block_shift; /* DATA SEGMENT GRANULARITY */
	b[43] = 2; /* IMPLEMENTED DESCRIPTOR LIST LENGTH */
	b[44] = XC_SEG_B2B;
	b[45] = XC_CSCD_IDENT;
	scsi_task_data_in(task, b, 46, alloc);
}

void
scsi_xcopy_results(struct scsi_task *task, const uint64_t *luns, unsigned int n)
{
	uint32_t alloc = get_be32(task->cdb + 10);

	(void)luns;
	(void)n;
	switch (task->cdb[1] & 0x1f) {
	case SCSI_RCR_COPY_STATUS:
		xc_copy_status(task, alloc);
		break;
	case SCSI_RCR_OPERATING_PARAMS:
		xc_operating_params(task, alloc);
		break;
	default:
		/* RECEIVE DATA, FAILED SEGMENT DETAILS: nothing is held. */
		scsi_task_sense_invalid_field(task, true, 1, 4);
		break;
	}
}

/* Start a third-party copy descriptor (SPC-4 7.8.17.2) at b. */
static unsigned int
xc_vpd_desc(uint8_t *b, uint16_t type, unsigned int body)
{
	/* Each descriptor is padded to a multiple of four bytes. */
	unsigned int len = (body + 3) & ~3u;

	put_be16(b, type);
	put_be16(b + 2, (uint16_t)len);
	return 4 + len;
}

unsigned int
scsi_xcopy_vpd(const struct scsi_lu *lu, uint8_t *b)
{
	uint8_t *d = b + 4;
	unsigned int off = 0;

	/* Supported Commands: EXTENDED COPY(LID1); RECEIVE COPY RESULTS. */
	d[off + 4] = 7;
	d[off + 5] = SCSI_OP_EXTENDED_COPY;
	d[off + 6] = 1;
	d[off + 7] = SCSI_XCOPY_LID1;
	d[off + 8] = SCSI_OP_RECEIVE_COPY_RESULTS;
	d[off + 9] = 2;
	d[off + 10] = SCSI_RCR_COPY_STATUS;
	d[off + 11] = SCSI_RCR_OPERATING_PARAMS;
	off += xc_vpd_desc(d + off, 0x0001, 8);
	/* Parameter Data. */
	put_be16(d + off + 8, XC_MAX_CSCD);
	put_be16(d + off + 10, XC_MAX_SEGS);
	put_be32(d + off + 12, XC_MAX_DESC_LIST);
	off += xc_vpd_desc(d + off, 0x0004, 28);
	/* Supported Descriptors. */
	d[off + 4] = 2;
	d[off + 5] = XC_SEG_B2B;
	d[off + 6] = XC_CSCD_IDENT;
	off += xc_vpd_desc(d + off, 0x0008, 3);
	/* Supported CSCD Descriptor IDs: none beyond the descriptors. */
	off += xc_vpd_desc(d + off, 0x000c, 2);
	/* General Copy Operations. */
	put_be32(d + off + 4, XC_TOTAL_CONCURRENT);
	put_be32(d + off + 8, SCSI_XCOPY_HELD);
	put_be32(d + off + 12, XC_MAX_SEG_BYTES);
	d[off + 16] = (uint8_t)lu->block_shift;
	off += xc_vpd_desc(d + off, 0x8001, 32);
	return off;
}
