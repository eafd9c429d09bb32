/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * SANITIZE (SBC-4 5.30, 4.11): OVERWRITE with the initialization pattern
 * of the parameter list (OVERWRITE COUNT passes, INVERT between them),
 * BLOCK ERASE where the store discards and discarded blocks read as
 * zeros (a punched hole or a block device discard: the blocks are
 * deallocated and read back as zeros), and EXIT FAILURE MODE.
 * CRYPTOGRAPHIC ERASE is refused: a plain file or device has no media
 * encryption key to change, so it is neither reported nor accepted.
 *
 * The command enters the task set as a fence over every block, ahead of
 * the waiting tasks (it is processed as HEAD OF QUEUE, SBC-4 5.30.1), so
 * it starts once the commands already running are done. From then until
 * it ends every command but INQUIRY, REPORT LUNS and REQUEST SENSE is
 * refused with NOT READY, SANITIZE IN PROGRESS and the progress in the
 * sense-key specific bytes (SBC-4 4.11.2), REQUEST SENSE reports that
 * progress, and neither an I_T nexus loss nor a reset stops it.
 *
 * The work is a chain of backend ios of at most SANITIZE_CHUNK bytes:
 * each is done by the store's workers or ring, never on an event thread
 * (a chunk is larger than what inline.c copies on the submitting thread),
 * and the completion, on the thread of the connection that sent the
 * SANITIZE, submits the next. A final flush makes the result durable.
 * With IMMED the command is answered once it is validated; otherwise it
 * leaves the task set and waits, answered when the operation ends.
 */
#include <errno.h>
#include <string.h>

#include "scsi/scsi_int.h"
#include "scsi/scsi_proto.h"
#include "util/alloc.h"
#include "util/be.h"
#include "util/databuf.h"
#include "util/log.h"

#define SANITIZE_CHUNK (1024u * 1024) /* bytes per backend io */
#define SANITIZE_IMMED 0x80
#define SANITIZE_ZNR 0x40
#define SANITIZE_AUSE 0x20
#define SANITIZE_SA_MASK 0x1f
#define SANITIZE_PLEN_OFF 7 /* PARAMETER LIST LENGTH in the CDB */
#define SANITIZE_HDR 4      /* parameter list header of OVERWRITE */
#define SANITIZE_INVERT 0x80
#define SANITIZE_TEST 0x60
#define SANITIZE_COUNT 0x1f

/* The daemon is stopping: running sanitizes end at their next step. */
static bool scsi_sanitize_stopping; /* atomic */

struct scsi_sanitize {
	struct backend_io io;
	struct iovec iov;
	struct scsi_lu *lu;
	struct backend_cq *cq;
	uint8_t sa;
	bool ause;
	bool invert;
	bool flushed;
	unsigned int passes, pass;
	uint8_t pattern[SANITIZE_HDR + 4096];
	unsigned int pattern_len;
	uint8_t *buf;
	size_t buf_len;
	uint64_t pos, end;   /* bytes of this pass */
	uint64_t done, work; /* bytes over all passes, for the progress */
};

void
scsi_sanitize_stop(void)
{
	__atomic_store_n(&scsi_sanitize_stopping, true, __ATOMIC_RELEASE);
}

bool
scsi_sanitize_supported(const struct scsi_lu *lu, uint8_t sa)
{
	switch (sa) {
	case SCSI_SANITIZE_OVERWRITE:
	case SCSI_SANITIZE_EXIT_FAILURE_MODE:
		return true;
	case SCSI_SANITIZE_BLOCK_ERASE:
		return backend_can_discard(lu->be) &&
		    backend_discard_zeroes(lu->be);
	}
	return false;
}

static const char *
scsi_sanitize_name(uint8_t sa)
{
	return sa == SCSI_SANITIZE_OVERWRITE ? "OVERWRITE" : "BLOCK ERASE";
}

/* PROGRESS INDICATION (SPC-4 4.5.2.4.4) of the running sanitize. */
static void
scsi_sanitize_sks(struct scsi_lu *lu, uint8_t sks[3])
{
	sks[0] = SENSE_SKSV;
	put_be16(sks + 1,
	    __atomic_load_n(&lu->sanitize_progress, __ATOMIC_RELAXED));
}

bool
scsi_sanitize_sense(struct scsi_lu *lu, bool desc, uint8_t *buf,
    unsigned int *len)
{
	uint8_t sks[3];

	if (!__atomic_load_n(&lu->sanitizing, __ATOMIC_ACQUIRE))
		return false;
	scsi_sanitize_sks(lu, sks);
	scsi_sense_build(buf, len, desc, SK_NOT_READY, ASC_SANITIZE_IN_PROGRESS,
	    false, 0, sks);
	return true;
}

bool
scsi_sanitize_refuse(struct scsi_lu *lu, struct scsi_task *task)
{
	uint8_t op = task->cdb[0];

	if (!__atomic_load_n(&lu->sanitizing, __ATOMIC_ACQUIRE) &&
	    !lu->sanitize_failed)
		return false;
	/* SBC-4 4.11.2: these run while a sanitize does, or has failed. */
	if (op == SCSI_OP_INQUIRY || op == SCSI_OP_REPORT_LUNS ||
	    op == SCSI_OP_REQUEST_SENSE)
		return false;
	if (__atomic_load_n(&lu->sanitizing, __ATOMIC_ACQUIRE)) {
		task->status = SCSI_STATUS_CHECK_CONDITION;
		scsi_sanitize_sense(lu,
		    __atomic_load_n(&lu->d_sense, __ATOMIC_RELAXED),
		    task->sense, &task->sense_len);
		return true;
	}
	/* Failed: only a new SANITIZE gets the LU out (SBC-4 4.11.3). */
	if (op == SCSI_OP_SANITIZE)
		return false;
	scsi_task_set_sense(task, SK_MEDIUM_ERROR, ASC_SANITIZE_FAILED);
	return true;
}

/* One block of the pattern, inverted or not, repeated over the buffer. */
static void
scsi_sanitize_fill(struct scsi_sanitize *s, bool inverted)
{
	uint32_t bs = s->lu->block_size;
	size_t i;

	for (i = 0; i < bs; i++) {
		uint8_t b = s->pattern[i % s->pattern_len];

		s->buf[i] = inverted ? (uint8_t)~b : b;
	}
	for (i = bs; i < s->buf_len; i += bs)
		memcpy(s->buf + i, s->buf, bs);
}

/*
 * SBC-4 5.30.3: with INVERT the pattern is inverted between passes, the
 * last pass writing it as sent.
 */
static bool
scsi_sanitize_inverted(const struct scsi_sanitize *s)
{
	return s->invert && (s->passes - 1 - s->pass) % 2 == 1;
}

static void scsi_sanitize_step(struct backend_io *io);

static void
scsi_sanitize_submit(struct scsi_sanitize *s, enum backend_op op, uint64_t off,
    uint64_t len)
{
	memset(&s->io, 0, sizeof(s->io));
	s->io.op = op;
	s->io.offset = off;
	s->io.len = len;
	if (op == BACKEND_OP_WRITE) {
		s->iov.iov_base = s->buf;
		s->iov.iov_len = (size_t)len;
		s->io.iov = &s->iov;
		s->io.iovcnt = 1;
	}
	s->io.done = scsi_sanitize_step;
	s->io.arg = s;
	s->io.cq = s->cq;
	backend_submit(s->lu->be, &s->io);
}

static void
scsi_sanitize_end(struct scsi_sanitize *s, int result)
{
	struct scsi_lu *lu = s->lu;
	struct scsi_task *waiter;

	unsigned int dropped = 0;
	bool say;

	pthread_mutex_lock(&lu->lock);
	say = log_ratelimit_pass(&lu->sanitize_rl, &dropped);
	waiter = lu->sanitize_waiter;
	lu->sanitize_waiter = NULL;
	lu->sanitize_failed = result < 0;
	lu->sanitize_ause = s->ause;
	__atomic_store_n(&lu->sanitizing, false, __ATOMIC_RELEASE);
	if (result == 0 && s->sa == SCSI_SANITIZE_BLOCK_ERASE)
		__atomic_store_n(&lu->all_unmapped, true, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&lu->lock);
	/* A peer starts these: rate-limited, never above warning. */
	if (result == -ECANCELED)
		log_msg(LOG_WARNING,
		    "target %s lun %llu: SANITIZE %s stopped by the shutdown "
		    "at byte %llu of %llu; it does not resume: run it again",
		    lu->target_name, (unsigned long long)lu->lun,
		    scsi_sanitize_name(s->sa), (unsigned long long)s->pos,
		    (unsigned long long)s->end);
	else if (say && result < 0)
		log_msg(LOG_WARNING,
		    "target %s lun %llu: SANITIZE %s failed at byte %llu: %s; "
		    "commands get SANITIZE COMMAND FAILED until a SANITIZE "
		    "completes%s",
		    lu->target_name, (unsigned long long)lu->lun,
		    scsi_sanitize_name(s->sa), (unsigned long long)s->pos,
		    strerror(-result), dropped ? " (more lines dropped)" : "");
	else if (say)
		log_msg(LOG_NOTICE,
		    "target %s lun %llu: SANITIZE %s of %llu bytes done%s",
		    lu->target_name, (unsigned long long)lu->lun,
		    scsi_sanitize_name(s->sa), (unsigned long long)s->end,
		    dropped ? " (more lines dropped)" : "");
	if (waiter != NULL) {
		if (result < 0)
			scsi_task_set_sense(waiter, SK_MEDIUM_ERROR,
			    ASC_WRITE_ERROR);
		scsi_task_finish_later(waiter);
	}
	databuf_free(s->buf, s->buf_len);
	mem_free(s);
	scsi_lu_put(lu);
}

/* The next chunk, pass or the final flush; runs on s->cq's thread. */
static void
scsi_sanitize_step(struct backend_io *io)
{
	struct scsi_sanitize *s = io->arg;
	uint64_t n;

	if (io->result < 0) {
		scsi_sanitize_end(s, io->result);
		return;
	}
	if (__atomic_load_n(&scsi_sanitize_stopping, __ATOMIC_ACQUIRE)) {
		scsi_sanitize_end(s, -ECANCELED);
		return;
	}
	if (s->flushed) {
		scsi_sanitize_end(s, 0);
		return;
	}
	if (s->pos >= s->end && s->sa == SCSI_SANITIZE_OVERWRITE &&
	    s->pass + 1 < s->passes) {
		s->pass++;
		s->pos = 0;
		scsi_sanitize_fill(s, scsi_sanitize_inverted(s));
	}
	if (s->pos >= s->end) {
		s->flushed = true;
		scsi_sanitize_submit(s, BACKEND_OP_FLUSH, 0, 0);
		return;
	}
	n = s->end - s->pos;
	if (n > SANITIZE_CHUNK)
		n = SANITIZE_CHUNK;
	/* done / work in 65536ths, without overflowing for any size. */
	__atomic_store_n(&s->lu->sanitize_progress,
	    (uint16_t)(s->done / (s->work / 65536 + 1)), __ATOMIC_RELAXED);
	s->done += n;
	s->pos += n;
	scsi_sanitize_submit(s,
	    s->sa == SCSI_SANITIZE_OVERWRITE ? BACKEND_OP_WRITE
					     : BACKEND_OP_DISCARD,
	    s->pos - n, n);
}

/*
 * OVERWRITE's parameter list (SBC-4 5.30.3.2): false with the sense set
 * when it is wrong. Lengths out of range are the CDB's fault, as
 * iscsi-test-cu's Sanitize.Overwrite expects (INVALID FIELD IN CDB for
 * a PARAMETER LIST LENGTH of 4 or less, or more than a block and the
 * header); the list's own fields are INVALID FIELD IN PARAMETER LIST.
 */
static bool
scsi_sanitize_overwrite_params(struct scsi_sanitize *s, struct scsi_task *task,
    uint32_t plen)
{
	const uint8_t *p = task->data;
	uint32_t bs = s->lu->block_size, ilen;

	if (plen <= SANITIZE_HDR || plen > bs + SANITIZE_HDR) {
		scsi_task_sense_invalid_field(task, true, SANITIZE_PLEN_OFF,
		    -1);
		return false;
	}
	if (scsi_task_data_out_short(task, plen))
		return false;
	if (p[0] & SANITIZE_TEST) {
		scsi_task_sense_invalid_field(task, false, 0, 6);
		return false;
	}
	if ((p[0] & SANITIZE_COUNT) == 0) {
		scsi_task_sense_invalid_field(task, false, 0, 4);
		return false;
	}
	ilen = get_be16(p + 2);
	if (ilen == 0 || ilen > bs || ilen > plen - SANITIZE_HDR) {
		scsi_task_sense_invalid_field(task, false, 2, -1);
		return false;
	}
	s->invert = p[0] & SANITIZE_INVERT;
	s->passes = p[0] & SANITIZE_COUNT;
	s->pattern_len = ilen;
	memcpy(s->pattern, p + SANITIZE_HDR, ilen);
	return true;
}

static void
scsi_sanitize_waiter_posted(struct backend_io *io)
{
	struct scsi_task *task = io->arg;

	mem_free(io);
	scsi_task_finish_later(task);
}

bool
scsi_sanitize_abort_waiter(struct scsi_task *task)
{
	struct scsi_lu *lu = task->lu;
	/* Its own carrier: aborts of two sanitizes may be in flight. */
	struct backend_io *post = mem_zalloc(sizeof(*post));
	bool mine;

	if (post == NULL)
		return false; /* then it is answered when the sanitize ends */
	pthread_mutex_lock(&lu->lock);
	mine = lu->sanitize_waiter == task;
	if (mine) {
		lu->sanitize_waiter = NULL;
		task->aborted = true;
	}
	pthread_mutex_unlock(&lu->lock);
	if (!mine) {
		mem_free(post);
		return false;
	}
	post->done = scsi_sanitize_waiter_posted;
	post->arg = task;
	post->cq = task->queue->cq;
	backend_cq_post(task->queue->cq, post);
	return true;
}

/* EXIT FAILURE MODE (SBC-4 5.30.5). */
static void
scsi_sanitize_exit_failure(struct scsi_cmd *cmd)
{
	struct scsi_lu *lu = cmd->lu;

	pthread_mutex_lock(&lu->lock);
	if (lu->sanitize_failed && !lu->sanitize_ause)
		/* Restricted completion: only a good sanitize ends it. */
		scsi_task_sense_invalid_field(cmd->task, true, 1, 4);
	else
		lu->sanitize_failed = false;
	pthread_mutex_unlock(&lu->lock);
	scsi_cmd_complete(cmd);
}

void
scsi_sanitize_start(struct scsi_cmd *cmd)
{
	struct scsi_task *task = cmd->task;
	struct scsi_lu *lu = cmd->lu;
	uint8_t sa = task->cdb[1] & SANITIZE_SA_MASK;
	uint32_t plen = get_be16(task->cdb + SANITIZE_PLEN_OFF);
	struct scsi_sanitize *s = NULL;
	unsigned int i;

	task->xfer_len = plen;
	if (plen > 0)
		(void)scsi_task_data_out_len(task);
	/* ZNR is for zoned devices only; bytes 2 to 6 are reserved. */
	if (task->cdb[1] & SANITIZE_ZNR) {
		scsi_task_sense_invalid_field(task, true, 1, 6);
		goto done;
	}
	for (i = 2; i < SANITIZE_PLEN_OFF; i++) {
		if (task->cdb[i] != 0) {
			scsi_task_sense_invalid_field(task, true, i, -1);
			goto done;
		}
	}
	if (!scsi_sanitize_supported(lu, sa)) {
		scsi_task_sense_invalid_field(task, true, 1, 4);
		goto done;
	}
	if (sa != SCSI_SANITIZE_OVERWRITE && plen != 0) {
		scsi_task_sense_invalid_field(task, true, SANITIZE_PLEN_OFF,
		    -1);
		goto done;
	}
	if (sa == SCSI_SANITIZE_EXIT_FAILURE_MODE) {
		scsi_sanitize_exit_failure(cmd);
		return;
	}
	s = mem_zalloc(sizeof(*s));
	if (s == NULL) {
		scsi_task_set_status(task, SCSI_STATUS_BUSY);
		goto done;
	}
	s->lu = lu;
	s->sa = sa;
	s->ause = task->cdb[1] & SANITIZE_AUSE;
	s->passes = 1;
	s->cq = task->queue->cq;
	if (sa == SCSI_SANITIZE_OVERWRITE) {
		if (!scsi_sanitize_overwrite_params(s, task, plen))
			goto done;
		s->buf_len = SANITIZE_CHUNK;
		s->buf = databuf_alloc(s->buf_len);
		if (s->buf == NULL) {
			scsi_task_set_status(task, SCSI_STATUS_BUSY);
			goto done;
		}
		scsi_sanitize_fill(s, scsi_sanitize_inverted(s));
	}
	/*
	 * nullio keeps no data: nothing to overwrite or erase. (Its ios
	 * complete on the submitting thread, so a chain over a huge nullio
	 * LU would also hold that event thread for its whole length.)
	 */
	if (strcmp(backend_type_name(lu->be), "nullio") != 0)
		s->end = scsi_lu_refresh_blocks(lu) << lu->block_shift;
	s->work = s->end * s->passes;
	scsi_lu_get(lu);
	pthread_mutex_lock(&lu->lock);
	__atomic_store_n(&lu->sanitize_progress, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&lu->sanitizing, true, __ATOMIC_RELEASE);
	__atomic_store_n(&lu->all_unmapped, false, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&lu->lock);
	if (task->cdb[1] & SANITIZE_IMMED) {
		scsi_cmd_complete(cmd);
	} else {
		pthread_mutex_lock(&lu->lock);
		lu->sanitize_waiter = task;
		pthread_mutex_unlock(&lu->lock);
		scsi_cmd_detach(cmd);
	}
	/* The first step, as if a zero-length io had completed. */
	s->io.arg = s;
	s->io.result = 0;
	scsi_sanitize_step(&s->io);
	return;
done:
	if (s != NULL) {
		databuf_free(s->buf, s->buf_len);
		mem_free(s);
	}
	scsi_cmd_complete(cmd);
}
