/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Internals of the SCSI layer shared by its files: the logical unit, the
 * per-command state hung on task->internal, the opcode table entry, and
 * helpers for sense, unit attentions and reservations.
 */
#ifndef IETD_SCSI_SCSI_INT_H
#define IETD_SCSI_SCSI_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "scsi/scsi.h"
#include "util/log.h"
#include "util/metrics.h"

#define SCSI_SERIAL_LEN 16
#define SCSI_ID_MAX 64
#define SCSI_NAA_LEN 8
#define SCSI_UA_MAX 8 /* pending UAs kept per I_T nexus */
/*
 * Persistent reservation registrations per LU. Each I_T nexus (initiator
 * name and ISID) may register, and registrations outlive their sessions,
 * so without a bound an initiator cycling through ISIDs could fill the
 * memory; past it REGISTER is refused as SPC-4 5.13.7 says.
 */
#define SCSI_PR_REGS_MAX 1024

/* Block limits we advertise in VPD 0xB0 and enforce (SBC-4 6.6.3). */
/*
 * OPTIMAL TRANSFER LENGTH, in bytes: Linux caps max_sectors_kb at it, so
 * a small value throttles every request; 1 MiB lets it send large I/O.
 */
#define BL_OPT_XFER_BYTES (1024u * 1024)
#define BL_MAX_UNMAP_BLOCKS 0x100000
#define BL_MAX_UNMAP_DESCS 256
#define BL_MAX_WS_BYTES SCSI_XFER_MAX
#define BL_MAX_CAW_BLOCKS 1
/*
 * MAXIMUM ATOMIC TRANSFER LENGTH, in bytes (atomic.c): one backend io.
 * No alignment or granularity is asked, and ATOMIC BOUNDARY is not
 * offered (its maximum is 0).
 */
#define BL_MAX_ATOMIC_BYTES (1024u * 1024)

/* queue.c: a transport thread's queue is its backend completion queue. */
struct scsi_queue {
	struct backend_cq *cq;
};

/* A unit attention waiting for one I_T nexus. */
struct scsi_ua {
	uint8_t asc, ascq;
};

/* What an LU knows about one I_T nexus (an I_T_L nexus). */
#define SCSI_ITL_HASH 64 /* buckets of lu->itl_hash */

/*
 * What RECEIVE COPY RESULTS reports about one EXTENDED COPY of an I_T_L
 * nexus (xcopy.c): kept with its I_T_L, so it goes with the nexus.
 */
#define SCSI_XCOPY_HELD 8 /* per I_T_L: MAXIMUM CONCURRENT COPIES */

struct scsi_xcopy_held {
	bool used;
	bool running;
	uint8_t list_id;
	uint8_t status; /* COPY MANAGER STATUS (SPC-4 6.18.3) */
	uint16_t segments;
	uint64_t bytes;
	uint64_t seq; /* age, for dropping the oldest finished one */
};

struct scsi_itl {
	struct list_node node;
	struct scsi_itl *hnext; /* lu->itl_hash chain */
	uint64_t nexus_id;
	struct scsi_ua ua[SCSI_UA_MAX];
	unsigned int nua;
	struct scsi_xcopy_held xcopy[SCSI_XCOPY_HELD];
};

/*
 * A persistent reservation registration (SPC-4 5.13.7): the I_T nexuses
 * of one initiator port (or, registered by a name-only TransportID, of
 * every port of that initiator) with one target port (or, with
 * ALL_TG_PT, every target port of the target). Identified by names, not
 * by session, so it outlives reconnects and restarts (APTPL).
 */
struct scsi_pr_reg {
	struct list_node node;
	uint64_t key;
	uint16_t rel_port_id;
	bool all_tg_pt;           /* registered for every target port */
	bool any_isid;            /* initiator_port is a bare iSCSI name */
	char initiator_port[256]; /* "iqn...,i,0x<ISID>" or "iqn..." */
	char target_port[256];    /* "iqn...,t,0x<TPGT>" */
};

struct scsi_lu {
	pthread_mutex_t lock;  /* itls, reservation, task set, mode */
	unsigned int refs;     /* atomic */
	struct list_node node; /* on the global LU list */
	uint64_t lun;
	struct backend *be;
	bool write_through;
	unsigned int block_size;
	unsigned int block_shift;
	/* log2(logical blocks per physical block), 0..6 (SBC-4 5.20.2). */
	unsigned int lbppb_exp;
	uint64_t blocks; /* last seen capacity */
	bool read_only;
	bool wce; /* caching mode page WCE (current) */
	bool wce_default;
	bool d_sense; /* control mode page D_SENSE */
	bool swp;     /* control mode page SWP (SPC-4 7.5.8) */
	char *path;
	char serial[SCSI_ID_MAX + 1];
	char t10_id[SCSI_ID_MAX + 1];
	uint8_t naa[SCSI_NAA_LEN];
	char target_name[224];
	unsigned int tid;
	/*
	 * alua.c: the backend's lock (Type=rbd) as last heard, when the
	 * target has groups that follow it (under alua.c's view lock).
	 */
	bool lock_followed;
	struct backend_lock_view lock_view;
	struct list_node itls;
	/* Every command looks its nexus up: hundreds of sessions share LUs. */
	struct scsi_itl *itl_hash[SCSI_ITL_HASH];
	bool reserved; /* SPC-2 RESERVE */
	uint64_t reserve_holder;
	/*
	 * A shared state's LU (pr_shared.c) and its copies name the SPC-2
	 * holder by its port names, which every gateway can compare; nexus
	 * ids are one process's.
	 */
	bool reserve_shared;
	char reserve_iport[256];
	char reserve_tport[256];
	struct list_node tasks; /* media tasks in arrival order */
	/*
	 * Counts over lu->tasks, so the common case (simple reads, nothing
	 * waiting) decides without walking a task set of a thousand.
	 */
	unsigned int set_ordered; /* ORDERED tasks in the set */
	unsigned int set_writers; /* writing tasks with an LBA range */
	unsigned int set_waiting; /* tasks in SCSI_TS_WAITING */
	/*
	 * Tasks announced (scsi_task_announce) and not yet executed, in
	 * SCSI_TS_PENDING: outside the ordering, but resets find them.
	 */
	struct list_node pending;
	/*
	 * Persistent reservations (pr.c); with APTPL also in a state file
	 * (pr_store.c). Each change takes a numbered snapshot under lock;
	 * pr_store_lock serialises the writes of the file, and a write
	 * older than the file's skips (the newer holds its change).
	 */
	pthread_mutex_t pr_store_lock;
	uint64_t pr_store_seq;  /* snapshots taken (lock) */
	uint64_t pr_store_done; /* the newest on disk (pr_store_lock) */
	bool pr_store_ok;       /* did that one's write succeed */
	/* Snapshots waiting for this LU's one writer thread (lock). */
	struct list_node pr_store_q;
	bool pr_store_writer; /* that thread runs (lock) */
	bool pr_aptpl;        /* the last APTPL received was one */
	struct list_node pr_regs;
	unsigned int pr_nregs; /* on pr_regs, at most SCSI_PR_REGS_MAX */
	struct log_ratelimit pr_full_rl; /* "registrations at their cap" */
	uint32_t pr_gen;
	bool pr_held;
	uint8_t pr_type;
	struct scsi_pr_reg *pr_holder; /* NULL for all-registrants types */
	/*
	 * pr_shared.c: the state lives in the store's shared state (every
	 * gateway of the LU sees it) when pr_shared is set; pr_rec is set on
	 * a copy of the state a PERSISTENT RESERVE OUT changes there, and
	 * collects the unit attentions and aborts it means instead of
	 * delivering them.
	 */
	struct scsi_pr_shared *pr_shared;
	struct scsi_pr_rec *pr_rec;
	/* SANITIZE (sanitize.c). */
	bool sanitizing;            /* atomic: one runs */
	uint16_t sanitize_progress; /* atomic: of 65536 */
	bool sanitize_failed;       /* lu->lock: the last one failed */
	bool sanitize_ause;         /* lu->lock: and allowed a plain exit */
	/* lu->lock: the SANITIZE (IMMED 0) answered when it ends, or NULL */
	struct scsi_task *sanitize_waiter;
	struct log_ratelimit sanitize_rl; /* lu->lock: its log lines */
	/* atomic: a BLOCK ERASE left every block unmapped, none written since
	 */
	bool all_unmapped;
	struct metrics_io io; /* stats.c: commands, bytes, errors, latency */
};

/* Task states (task->state). */
enum scsi_task_state {
	SCSI_TS_NEW = 0,
	SCSI_TS_WAITING,
	SCSI_TS_RUNNING,
	SCSI_TS_DONE,
	SCSI_TS_PENDING, /* announced, on lu->pending */
};

struct scsi_cmd;
typedef void scsi_cmd_fn(struct scsi_cmd *cmd);

/* Per media-command state, hung on task->internal. */
struct scsi_cmd {
	struct scsi_task *task;
	struct scsi_lu *lu;
	scsi_cmd_fn *handler; /* starts the command */
	scsi_cmd_fn *next;    /* continuation after io completes */
	uint64_t lba;
	uint64_t nblocks;
	bool has_range;
	bool writes;
	bool in_set;  /* on lu->tasks */
	bool in_exec; /* still inside scsi_task_exec */
	/*
	 * A READ answered from the store's mapping (data_lent): done() has
	 * run but the command stays in the task set until
	 * scsi_task_release().
	 */
	bool held;
	struct backend_map *map;
	struct backend_io io;
	struct iovec iov;
	uint8_t *buf;      /* owned scratch (verify, write same) */
	size_t buf_len;    /* its size, for databuf_free() */
	uint64_t pos, end; /* progress of chunked work (bytes) */
	uint32_t param;    /* handler's own counter */
	void *state;       /* handler's own state, freed before completing */
};

/* Opcode table entry flags. */
#define SCSI_F_NO_UA 0x01    /* does not report/clear a UA */
#define SCSI_F_RESV_OK 0x02  /* allowed under another's reservation */
#define SCSI_F_MEDIA 0x04    /* goes to the backend, ordered */
#define SCSI_F_WRITE 0x08    /* modifies the medium */
#define SCSI_F_PR_WRITE 0x10 /* write class under a PR (SPC-4 5.13.1) */
#define SCSI_F_PR_READ 0x20  /* read class: only Exclusive Access blocks */

/* Inline handler: fills the task, runs with no backend I/O. */
typedef void scsi_inline_fn(struct scsi_task *task, const uint64_t *luns,
    unsigned int n);

struct scsi_op {
	uint8_t flags;
	uint8_t cdb_len;
	scsi_inline_fn *run; /* non-media commands */
	scsi_cmd_fn *start;  /* media commands */
};

/* sense.c */
void scsi_sense_build(uint8_t *buf, unsigned int *len, bool desc, uint8_t key,
    uint8_t asc, uint8_t ascq, bool info_valid, uint64_t info,
    const uint8_t *sks);
void scsi_task_sense_invalid_field(struct scsi_task *task, bool in_cdb,
    unsigned int byte, int bit);
void scsi_task_sense_info(struct scsi_task *task, uint8_t key, uint8_t asc,
    uint8_t ascq, uint64_t info);

/*
 * task.c: aborting the tasks of other nexuses (see scsi_lu_abort_others
 * in scsi.h, built from these). A wait starts with one count, the
 * caller's; scsi_lu_abort_locked() adds one per task it aborts (those
 * match() picks; lu->lock held), or one per earlier wait it must outlast
 * when such a wait has the task already, and puts the ones not yet
 * started on stopped; scsi_abort_wait_start(), after unlocking, completes
 * those and drops the caller's count. When the last count goes, done(arg)
 * runs on cq's thread.
 */
typedef bool scsi_task_match_fn(const struct scsi_task *t, const void *ctx);
struct scsi_abort_wait *scsi_abort_wait_new(struct scsi_queue *q,
    void (*done)(void *arg), void *arg);
void scsi_lu_abort_locked(struct scsi_lu *lu, scsi_task_match_fn *match,
    const void *ctx, struct scsi_abort_wait *w, struct list_node *stopped);
void scsi_abort_wait_start(struct scsi_lu *lu, struct scsi_abort_wait *w,
    struct list_node *stopped);
/* Drop a wait never started that scsi_lu_abort_locked() gave no task. */
void scsi_abort_wait_cancel(struct scsi_abort_wait *w);
/* Finish a task whose run() set completes_later (on its own thread). */
void scsi_task_finish_later(struct scsi_task *task);

/* ua.c (called with lu->lock held unless said) */
struct scsi_itl *scsi_itl_find(struct scsi_lu *lu, uint64_t nexus_id,
    bool create);
/* Unlink and free an I_T_L (nexus lost); lu->lock held. */
void scsi_itl_remove(struct scsi_lu *lu, struct scsi_itl *itl);
void scsi_itl_ua_add(struct scsi_itl *itl, uint8_t asc, uint8_t ascq);
bool scsi_itl_ua_pop(struct scsi_itl *itl, struct scsi_ua *out);
void scsi_lu_ua_all(struct scsi_lu *lu, uint64_t except_id, bool except,
    uint8_t asc, uint8_t ascq);

/* lu.c */
void scsi_lu_list_lock(void);
void scsi_lu_list_unlock(void);
struct list_node *scsi_lu_list(void);
void scsi_lu_nexus_gone(struct scsi_lu *lu, uint64_t nexus_id);
uint64_t scsi_lu_refresh_blocks(struct scsi_lu *lu);

/* reserve.c (lu->lock held) */
bool scsi_resv_conflict(struct scsi_lu *lu, const struct scsi_task *task,
    const struct scsi_op *op);
void scsi_spc_reserve(struct scsi_task *task, const uint64_t *luns,
    unsigned int n);
void scsi_spc_release(struct scsi_task *task, const uint64_t *luns,
    unsigned int n);

/* pr.c */
bool scsi_pr_conflict(struct scsi_lu *lu, const struct scsi_task *task,
    const struct scsi_op *op); /* lu->lock held */
void scsi_pr_in(struct scsi_task *task, const uint64_t *luns, unsigned int n);
void scsi_pr_out(struct scsi_task *task, const uint64_t *luns, unsigned int n);
void scsi_pr_free(struct scsi_lu *lu);
/* Match a registration against an I_T nexus's port names. */
bool scsi_pr_reg_matches(const struct scsi_pr_reg *r, const char *iport,
    const char *tport);

/*
 * pr_store.c: the APTPL state file of an LU, named after its NAA
 * designator. encode() (lu->lock held) serialises the LU's PR state into a
 * new buffer; write() replaces the file durably; remove() deletes it;
 * load() at LU creation fills an LU with no registrations from its file,
 * or leaves it empty and logs why. 0 or -errno (logged).
 */
int scsi_pr_store_encode(const struct scsi_lu *lu, uint8_t **out, size_t *len);
int scsi_pr_store_write(const struct scsi_lu *lu, const uint8_t *buf,
    size_t len);
int scsi_pr_store_remove(const struct scsi_lu *lu);
/*
 * A port name of len bytes at p, from a state file or another gateway's
 * note: printable, no blank, shorter than outlen; copied into out with
 * its NUL. false when it is none of those.
 */
bool scsi_pr_name_decode(const uint8_t *p, size_t len, char *out,
    size_t outlen);
void scsi_pr_store_load(struct scsi_lu *lu);
/*
 * Check and decode a whole state (as encode() makes it, from a file or
 * the shared state) into into's empty PR fields; NULL, or what is wrong
 * with it (into is left empty).
 */
const char *scsi_pr_store_parse(const struct scsi_lu *lu, const uint8_t *b,
    size_t len, struct scsi_lu *into);
/* Move from's PR state into lu's (freeing lu's); lu->lock held. */
void scsi_pr_state_move(struct scsi_lu *lu, struct scsi_lu *from);

/*
 * pr_shared.c: the PR state of an LU whose store has shared state
 * (backend_state_shared): loaded and watched from scsi_pr_shared_open()
 * at LU creation (false: the store has none, use pr_store.c), ended at
 * LU free. A PERSISTENT RESERVE OUT is applied to a copy, on the store's
 * state thread (scsi_pr_shared_update), the result written there and the
 * other gateways told, then done() runs on the task's thread with the
 * copy, and scsi_pr_shared_install() makes it the LU's state, delivering
 * the unit attentions and aborts it recorded to this gateway's nexuses.
 */
struct scsi_pr_rec;
bool scsi_pr_shared_open(struct scsi_lu *lu);
void scsi_pr_shared_close(struct scsi_lu *lu);
/*
 * apply(arg, copy) changes copy and returns true when the change must be
 * written; done(arg, copy, err) then runs on task's thread (copy NULL
 * when err < 0), or with no task on the store's thread.
 */
int scsi_pr_shared_update(struct scsi_lu *lu, struct scsi_task *task,
    bool (*apply)(void *arg, struct scsi_lu *copy),
    void (*done)(void *arg, struct scsi_lu *copy, int err, bool unacked),
    void *arg);
/* The aborts of copy's record go to w; lu->lock held. */
void scsi_pr_shared_install(struct scsi_lu *lu, struct scsi_lu *copy,
    struct scsi_abort_wait *w, struct list_node *stopped);
void scsi_pr_shared_free_copy(struct scsi_lu *copy);
/*
 * SPC-2 RESERVE (reserve) or RELEASE of task's nexus in the shared state
 * (reserve.c, for an LU with reserve_shared); task completes later.
 */
void scsi_pr_shared_reserve(struct scsi_task *task, bool reserve);
/*
 * End the SPC-2 reservation of the nexus of those port names (NULL: of
 * anyone, an LU reset) in the shared state, in the background (lu.c,
 * lu->lock not held).
 */
void scsi_pr_shared_release(struct scsi_lu *lu, const char *iport,
    const char *tport);
/* pr.c: a unit attention for the nexuses of r here (lu->lock held). */
void scsi_pr_ua(struct scsi_lu *lu, const struct scsi_pr_reg *r, uint8_t asc,
    uint8_t ascq);
/* pr_shared.c: record it on lu->pr_rec instead. */
void scsi_pr_rec_add(struct scsi_pr_rec *rec, const struct scsi_pr_reg *r,
    uint8_t asc, uint8_t ascq);
/* pr.c: abort this gateway's tasks of r's nexuses (lu->lock held). */
void scsi_pr_abort_reg(struct scsi_lu *lu, const struct scsi_pr_reg *r,
    struct scsi_abort_wait *w, struct list_node *stopped);
/*
 * Make snapshot seq durable off the caller's thread: buf (taken over;
 * NULL to remove the file) is written by a thread of its own, then
 * done(arg, ok) runs on task's thread. Where no thread can be had (no
 * queue, pthread_create failing) it is done here, done() included, and
 * done() is told so (inline).
 */
void scsi_pr_store_async(struct scsi_lu *lu, struct scsi_task *task,
    uint8_t *buf, size_t len, uint64_t seq,
    void (*done)(void *arg, bool ok, bool inline_), void *arg);

/* nexus.c: ids of the registered I_T nexuses match() accepts (max of). */
unsigned int scsi_nexus_find(bool (*match)(const struct scsi_nexus *nx,
				 const void *ctx),
    const void *ctx, uint64_t *ids, unsigned int max);

/* task.c */
const struct scsi_op *scsi_op_lookup(uint8_t opcode);
void scsi_cmd_complete(struct scsi_cmd *cmd);
void scsi_cmd_submit(struct scsi_cmd *cmd, enum backend_op op, uint64_t off,
    uint64_t len, void *buf, bool fua, scsi_cmd_fn *next);
/*
 * Take a running media command out of the task set and free it without
 * answering its task: the caller answers the task later, on its thread,
 * with scsi_task_finish_later() (a SANITIZE waited for, IMMED 0).
 */
void scsi_cmd_detach(struct scsi_cmd *cmd);
uint64_t scsi_task_nexus_id(const struct scsi_task *task);

/* alua.c */
/*
 * The nexus's port group is in a state that refuses this command: true,
 * and task has the sense SPC-4 5.16.2.4 names. False for a nexus without
 * ALUA.
 */
bool scsi_alua_refused(struct scsi_task *task);
void scsi_alua_report(struct scsi_task *task);
void scsi_alua_maintenance_out(struct scsi_task *task, const uint64_t *luns,
    unsigned int n);
/* INQUIRY byte 5's TPGS bits for this task's nexus. */
uint8_t scsi_alua_tpgs(const struct scsi_task *task);
/* The target port group designator's id (1 without ALUA). */
uint16_t scsi_alua_group_id(const struct scsi_nexus *nx);

/* spc.c */
void scsi_spc_test_unit_ready(struct scsi_task *task, const uint64_t *luns,
    unsigned int n);
void scsi_spc_inquiry(struct scsi_task *task, const uint64_t *luns,
    unsigned int n);
void scsi_spc_report_luns(struct scsi_task *task, const uint64_t *luns,
    unsigned int n);
void scsi_spc_request_sense(struct scsi_task *task, const uint64_t *luns,
    unsigned int n);
void scsi_spc_mode_sense(struct scsi_task *task, const uint64_t *luns,
    unsigned int n);
void scsi_spc_mode_select(struct scsi_task *task, const uint64_t *luns,
    unsigned int n);
void scsi_spc_maintenance_in(struct scsi_task *task, const uint64_t *luns,
    unsigned int n);
/* Copy len bytes of src into the Data-In buffer, honouring alloc. */
/*
 * How many bytes of Data-Out the initiator sent for this command, at
 * task->data: 0 unless the transport marked the task data_out, so a
 * data-out CDB that came without the W bit reads nothing (never a
 * recycled buffer). Every command that takes Data-Out asks here, which
 * also marks its xfer_len as a Data-Out length for the residual.
 */
uint32_t scsi_task_data_out_len(struct scsi_task *task);
/*
 * Less Data-Out than need bytes (a parameter list or the blocks a CDB
 * names)? Then the task has INVALID FIELD IN INFORMATION UNIT and the
 * answer is true.
 */
bool scsi_task_data_out_short(struct scsi_task *task, uint64_t need);
void scsi_task_data_in(struct scsi_task *task, const void *src, uint32_t len,
    uint32_t alloc);

/* sbc.c */
void scsi_sbc_read_capacity10(struct scsi_task *task, const uint64_t *luns,
    unsigned int n);
void scsi_sbc_service_action_in(struct scsi_task *task, const uint64_t *luns,
    unsigned int n);
void scsi_sbc_start_stop(struct scsi_task *task, const uint64_t *luns,
    unsigned int n);
void scsi_sbc_read_defect(struct scsi_task *task, const uint64_t *luns,
    unsigned int n);
void scsi_sbc_rw(struct scsi_cmd *cmd);
void scsi_sbc_sync_cache(struct scsi_cmd *cmd);
void scsi_sbc_verify(struct scsi_cmd *cmd);
void scsi_sbc_prefetch(struct scsi_cmd *cmd);
void scsi_sbc_write_same(struct scsi_cmd *cmd);
void scsi_sbc_unmap(struct scsi_cmd *cmd);
void scsi_sbc_compare_write(struct scsi_cmd *cmd);
void scsi_sbc_orwrite(struct scsi_cmd *cmd);
/* LBA range check; false with the sense set when it passes the end. */
bool scsi_sbc_range_ok(struct scsi_cmd *cmd);
/* Does a write need FUA: its own bit, or the cache switched off. */
bool scsi_sbc_fua(struct scsi_cmd *cmd, bool bit);
/* Completion of a plain write: MEDIUM ERROR on failure, then complete. */
void scsi_sbc_write_done(struct scsi_cmd *cmd);

/* sanitize.c */
void scsi_sanitize_start(struct scsi_cmd *cmd);
/* Does this LU offer that SANITIZE service action? */
bool scsi_sanitize_supported(const struct scsi_lu *lu, uint8_t sa);
/*
 * Must task be refused because a sanitize runs or failed? true with the
 * task's sense set (NOT READY, SANITIZE IN PROGRESS with the progress,
 * or MEDIUM ERROR, SANITIZE COMMAND FAILED). lu->lock held.
 */
bool scsi_sanitize_refuse(struct scsi_lu *lu, struct scsi_task *task);
/*
 * An aborted task (own thread): if it is the SANITIZE waiting for its
 * operation, it ends now (posted to its thread) while the operation goes
 * on (SBC-4 4.11.2: a sanitize is not stopped by a task abort); true then.
 */
bool scsi_sanitize_abort_waiter(struct scsi_task *task);
/* REQUEST SENSE's data while a sanitize runs; false when none runs. */
bool scsi_sanitize_sense(struct scsi_lu *lu, bool desc, uint8_t *buf,
    unsigned int *len);

/* atomic.c */
void scsi_sbc_write_atomic(struct scsi_cmd *cmd);

/* Decode LBA and block count of a media CDB; false if it has none. */
bool scsi_sbc_cdb_range(const uint8_t *cdb, uint64_t *lba, uint64_t *n);

/* xcopy.c: copy offload (SPC-4 6.4, 6.18, 7.8.17). */
void scsi_xcopy_start(struct scsi_cmd *cmd);
void scsi_xcopy_results(struct scsi_task *task, const uint64_t *luns,
    unsigned int n);
/* The Third-party Copy VPD page's descriptors at b + 4; their length. */
unsigned int scsi_xcopy_vpd(const struct scsi_lu *lu, uint8_t *b);

#endif /* IETD_SCSI_SCSI_INT_H */
