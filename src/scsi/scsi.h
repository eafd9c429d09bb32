/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The SCSI layer: logical units (direct-access block devices, SPC-4 and
 * SBC-4) and the task object that crosses from the transport to here and
 * back. This layer knows nothing about PDUs, sessions or sockets: the
 * transport fills a struct scsi_task (CDB, LUN, attribute, data buffer,
 * I_T nexus), calls scsi_task_exec(), and gets the task back through
 * task->done() with status, sense and the data length filled in.
 */
#ifndef IETD_SCSI_SCSI_H
#define IETD_SCSI_SCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/list.h"

#define SCSI_CDB_MAX 260 /* 16-byte CDB plus extended CDB AHS */
#define SCSI_SENSE_MAX 252
/*
 * Largest data transfer one command may describe; VPD 0xB0 advertises it
 * (as blocks) and longer READ/WRITE CDBs get INVALID FIELD IN CDB. The
 * transport should accept buffers of at least this size.
 */
#define SCSI_XFER_MAX (16u * 1024 * 1024)

/* SAM-5 status codes. */
#define SCSI_STATUS_GOOD 0x00
#define SCSI_STATUS_CHECK_CONDITION 0x02
#define SCSI_STATUS_CONDITION_MET 0x04
#define SCSI_STATUS_BUSY 0x08
#define SCSI_STATUS_RESERVATION_CONFLICT 0x18
#define SCSI_STATUS_TASK_SET_FULL 0x28
#define SCSI_STATUS_ACA_ACTIVE 0x30
#define SCSI_STATUS_TASK_ABORTED 0x40

/* Task attributes, numbered as iSCSI's ATTR field (RFC 7143 11.3.1). */
enum scsi_attr {
	SCSI_ATTR_UNTAGGED = 0,
	SCSI_ATTR_SIMPLE = 1,
	SCSI_ATTR_ORDERED = 2,
	SCSI_ATTR_HEAD_OF_QUEUE = 3,
	SCSI_ATTR_ACA = 4,
};

/*
 * One I_T nexus (SAM-5): an initiator port talking to a target port. The
 * transport owns it (one per iSCSI session); the SCSI layer keys unit
 * attentions and reservations on it. Register before the first command,
 * unregister when the nexus is lost (session gone): that releases its
 * reservations.
 */
struct scsi_tpg;

struct scsi_nexus {
	uint64_t id;              /* from scsi_nexus_id_new() */
	char initiator_port[256]; /* "iqn...,i,0x<ISID>" */
	char target_port[256];    /* "iqn...,t,0x<TPGT>" */
	uint16_t rel_port_id;     /* relative target port identifier */
	/*
	 * Its ALUA target port group (a reference, alua.c), or NULL when
	 * the target has no ALUA: dropped by scsi_nexus_unregister().
	 */
	struct scsi_tpg *tpg;
	struct list_node node; /* owned by the SCSI layer */
};

struct scsi_lu;
struct scsi_task;
struct scsi_abort_wait;
typedef void scsi_task_done_fn(struct scsi_task *task);

/*
 * queue.c: the completion queue of one transport thread. Each task names
 * its thread's queue; a done() that does not run inside scsi_task_exec()
 * runs on that thread when it drains the queue (its fd becomes readable).
 * With local, the owner promises to call scsi_queue_run_local() each time
 * before it sleeps (an event loop does), and completions its own thread
 * makes wait there without an fd wake-up. So a backend completion never
 * runs on a foreign thread and an event thread never blocks on a disk.
 */
struct scsi_queue;
struct scsi_queue *scsi_queue_new(bool local);
void scsi_queue_free(struct scsi_queue *q);
int scsi_queue_fd(const struct scsi_queue *q);
void scsi_queue_drain(struct scsi_queue *q);
/* Run the completions queued by the owner's own thread; true if any ran. */
bool scsi_queue_run_local(struct scsi_queue *q);

struct scsi_task {
	/* Filled by the transport before scsi_task_exec(). */
	uint8_t cdb[SCSI_CDB_MAX];
	unsigned int cdb_len;
	uint64_t lun; /* LUN number (flat, decoded) */
	enum scsi_attr attr;
	struct scsi_nexus *nexus; /* borrowed for the task's life */
	struct scsi_queue *queue; /* completion queue of this thread */
	/*
	 * Data buffer, owned by the transport. With data_out it holds
	 * data_len bytes the initiator sent, every one of them written by
	 * the transport before scsi_task_exec(); without data_out the SCSI
	 * layer never reads it as Data-Out, whatever the CDB says (it may
	 * hold another command's bytes). For reads the SCSI layer fills up
	 * to data_len bytes and says how many in data_in_len: only those are
	 * sent.
	 */
	uint8_t *data;
	uint32_t data_len;
	bool data_out; /* initiator sends data (W bit) */
	bool data_in;  /* initiator expects data (R bit) */
	/*
	 * The transport can send Data-In from bytes the SCSI layer lends
	 * (data_lent) instead of data, and calls scsi_task_release() once
	 * those bytes are in the socket; it never reads them itself.
	 */
	bool lend_ok;
	scsi_task_done_fn *done;
	void *priv; /* the transport's */

	/* Filled by the SCSI layer before done(). */
	uint8_t status;
	uint8_t sense[SCSI_SENSE_MAX];
	unsigned int sense_len;
	/*
	 * Bytes of data the command itself describes (from the CDB: blocks x
	 * block size, allocation length, parameter list length), so the
	 * transport can compute residual over/underflow against its expected
	 * data transfer length.
	 */
	uint32_t xfer_len;
	/*
	 * xfer_len counts Data-Out bytes (the command takes data from the
	 * initiator: WRITE, UNMAP, MODE SELECT, ...), so the residual is
	 * against what the initiator said it would send, none without W.
	 */
	bool xfer_out;
	/* Data-In bytes actually placed in data (<= data_len). */
	uint32_t data_in_len;
	/*
	 * Not NULL: the data_in_len Data-In bytes are here, lent by the SCSI
	 * layer (a store's page cache), not in data. Only with lend_ok;
	 * valid until scsi_task_release().
	 */
	const uint8_t *data_lent;

	/* Private to the SCSI layer. */
	struct scsi_lu *lu;
	struct list_node node;
	unsigned int state;
	bool aborted;
	/*
	 * Aborted by a reset, CLEAR TASK SET or PREEMPT AND ABORT that came
	 * on another nexus (atomic): it ends with TASK ABORTED status, and
	 * that command waits for it through abort_wait (lu->lock), as do
	 * later such commands, through that one's wait. See
	 * scsi_lu_abort_others().
	 */
	bool aborted_elsewhere;
	struct scsi_abort_wait *abort_wait;
	bool completes_later; /* run() finishes it later, on its thread */
	/*
	 * By scsi_task_announce(), not yet taken back by scsi_task_exec()
	 * (the owner's thread only; lu->pending says whether an abort took
	 * it meanwhile).
	 */
	bool announced;
	void *internal;
};

/* How the target layer describes a logical unit to create. */
struct scsi_lu_params {
	uint64_t lun;
	const char *store;       /* store type, IET's Type=: "fileio", ... */
	const char *path;        /* its file or device (not nullio) */
	uint64_t store_bytes;    /* nullio: its size */
	bool write_through;      /* IOMode=wt: every write durable at GOOD */
	unsigned int block_size; /* 512..4096, power of two */
	/*
	 * PhysicalBlockSize: block_size times 2^0..2^6, at most 65536;
	 * 0 = block_size. READ CAPACITY (16) and VPD 0xB0 report it.
	 */
	unsigned int phys_block_size;
	const char *scsi_id;     /* VPD 0x83 vendor id; NULL = generate */
	const char *scsi_sn;     /* VPD 0x80 serial; NULL = generate */
	const char *target_name; /* for designators and generated ids */
	unsigned int tid;
	bool read_only;
	bool write_cache; /* WCE reported on (IOMode=wb) */
	/* Type=rbd: the cluster's conf, client id, keyring (NULL: default) */
	const char *ceph_conf;
	const char *ceph_user;
	const char *ceph_keyring;
};

/*
 * lu.c. Create a logical unit: opens the backing store. Returns 0 and
 * *out, or -errno with a reason in why. The LU is reference counted:
 * scsi_lu_new gives one reference, dropped with scsi_lu_put().
 */
int scsi_lu_new(const struct scsi_lu_params *p, struct scsi_lu **out, char *why,
    size_t whylen);
void scsi_lu_get(struct scsi_lu *lu);
void scsi_lu_put(struct scsi_lu *lu);
uint64_t scsi_lu_number(const struct scsi_lu *lu);
/*
 * Capacity in logical blocks (re-read from the store now) and the block
 * size, as READ CAPACITY says.
 */
uint64_t scsi_lu_blocks(struct scsi_lu *lu);
/* The capacity last seen, in logical blocks, without re-reading. */
uint64_t scsi_lu_capacity(const struct scsi_lu *lu);
unsigned int scsi_lu_block_size(const struct scsi_lu *lu);
/* Text for status output: "fileio", "wt", the path. */
const char *scsi_lu_iotype(const struct scsi_lu *lu);
const char *scsi_lu_iomode(const struct scsi_lu *lu);
const char *scsi_lu_path(const struct scsi_lu *lu);

/*
 * Re-read the size of every LU's store (one fstat or BLKGETSIZE64 each);
 * every I_T nexus of an LU whose capacity moved gets CAPACITY DATA HAS
 * CHANGED (SBC-4 4.6), and commands past a new end LBA OUT OF RANGE.
 * Returns how many LUs changed. Any thread; ietd runs it once a second
 * on its main loop so initiators learn of a grown file unasked.
 */
unsigned int scsi_lu_poll_capacity_all(void);
/*
 * Resize lu online to bytes (a non-zero multiple of the block size):
 * nullio takes the new size; fileio grows its file with ftruncate (sparse)
 * and refuses to shrink it; blockio and read-only LUs are refused. Then
 * the capacity is re-read as above. 0, or -errno with one sentence in
 * why. Called on the main thread (ietadm).
 */
int scsi_lu_resize(struct scsi_lu *lu, uint64_t bytes, char *why,
    size_t whylen);

/*
 * Unit attentions raised from outside a command: the LU inventory of a
 * target changed (REPORTED LUNS DATA HAS CHANGED), the capacity changed.
 */
void scsi_lu_ua_luns_changed(struct scsi_lu *lu);
void scsi_lu_ua_capacity_changed(struct scsi_lu *lu);

/*
 * pr_store.c: where LUs keep their persistent reservations when an
 * initiator set APTPL (ietd --state-dir). Call before creating LUs; the
 * string is copied. The directory is made (mode 0700) at the first write.
 */
#define SCSI_PR_STATE_DIR_DEFAULT "/var/lib/ietd"
int scsi_pr_store_set_dir(const char *dir);

/*
 * alua.c: ALUA target port groups (SPC-4 5.16). One set per target, made
 * by the target layer when the configuration uses ALUA; one group per
 * portal group that offers the target, its id the portal group tag.
 * States are SPC-4's codes.
 */
#define SCSI_ALUA_OPTIMIZED 0x0
#define SCSI_ALUA_NONOPTIMIZED 0x1
#define SCSI_ALUA_STANDBY 0x2
#define SCSI_ALUA_UNAVAILABLE 0x3
#define SCSI_ALUA_TRANSITIONING 0xf
#define SCSI_ALUA_STATE_MASK 0x0f
/*
 * Or'ed into a state given to scsi_tpg_set_update(): the group's state
 * follows the exclusive lock of the target's shared LUs (Type=rbd), and
 * the group is another gateway's (not listened on by this ietd).
 */
#define SCSI_ALUA_F_AUTO 0x80
#define SCSI_ALUA_F_REMOTE 0x40
struct scsi_tpg_set;
/* A set with no group for target tid; NULL on no memory. */
struct scsi_tpg_set *scsi_tpg_set_new(unsigned int tid);
/*
 * The owner lets go: the groups leave the set (sessions still bound to
 * one see it active/optimized until they end, as without ALUA).
 */
void scsi_tpg_set_put(struct scsi_tpg_set *s);
/*
 * Make the groups exactly tags[i] in states[i] (n of them, at most 64).
 * A group whose state changes, or that goes (its sessions then see it
 * unavailable), raises ASYMMETRIC ACCESS STATE CHANGED on every I_T
 * nexus of the target's LUs (an implicit change). 0, -E2BIG or -ENOMEM
 * (nothing changed).
 */
int scsi_tpg_set_update(struct scsi_tpg_set *s, const uint16_t *tags,
    const uint8_t *states, unsigned int n);
/* One group's state, changed as above: 0, -ENOENT or -EINVAL. */
int scsi_tpg_set_state(struct scsi_tpg_set *s, uint16_t tag, uint8_t state);
/* Its state now (SET TARGET PORT GROUPS may have changed it); -ENOENT. */
int scsi_tpg_set_read(struct scsi_tpg_set *s, uint16_t tag, uint8_t *state);
/* Group tag with a reference (scsi_tpg_put()), or NULL. */
struct scsi_tpg *scsi_tpg_set_find(struct scsi_tpg_set *s, uint16_t tag);
/*
 * Group tag is SCSI_ALUA_F_AUTO: make its gateway the lock holder
 * (optimized: this gateway takes the lock, fencing the holder; standby or
 * unavailable: it lets the lock go). 0, -ENOENT (no such group), -EINVAL
 * (a group of another gateway: only that gateway can take the lock).
 */
int scsi_tpg_set_lock_request(struct scsi_tpg_set *s, uint16_t tag,
    uint8_t state);
void scsi_tpg_get(struct scsi_tpg *g);
void scsi_tpg_put(struct scsi_tpg *g);

/* nexus.c */
/*
 * A fresh nexus id, never returned before (any thread). A transport
 * gives each I_T nexus its own: reusing one would let the old nexus's
 * unregistration clear the new one's unit attentions and reservation.
 */
uint64_t scsi_nexus_id_new(void);
/* 0, or -EEXIST when a registered nexus already has nx->id. */
int scsi_nexus_register(struct scsi_nexus *nx);
void scsi_nexus_unregister(struct scsi_nexus *nx);

/*
 * task.c. Execute task on lu. lu is NULL when the addressed LUN does not
 * exist: the task then completes as SPC-4 says for an unsupported LUN
 * (INQUIRY with peripheral qualifier 3, REPORT LUNS and REQUEST SENSE
 * answered, everything else LOGICAL UNIT NOT SUPPORTED). luns (count n,
 * ascending) is the target's LUN inventory, for REPORT LUNS; borrowed for
 * the call only. done() may run inside this call or later on task->queue's
 * thread; either way exactly once.
 */
void scsi_task_exec(struct scsi_lu *lu, struct scsi_task *task,
    const uint64_t *luns, unsigned int n);

/*
 * Make a task known to lu's task set before it can run: its command has
 * arrived, but the transport still waits for the commands before it
 * (CmdSN order) or for its Data-Out. In SAM-5 the task set holds every
 * task the logical unit received, so a LOGICAL UNIT RESET, CLEAR TASK SET
 * or PREEMPT AND ABORT of any nexus must find it (see
 * scsi_lu_abort_others). It takes no place in the set's ordering yet:
 * that starts with scsi_task_exec(), which the transport calls as for any
 * task once the task may run. From this call on done() runs exactly once:
 * after scsi_task_exec() as usual; after scsi_task_abort() with aborted
 * set; or, when another nexus's reset aborts it first, on task->queue's
 * thread with TASK ABORTED status (then the transport takes no more
 * Data-Out for it; a scsi_task_exec() it made in between, its data all
 * in before the end reached its thread, did nothing).
 * Returns 0; or -EINVAL (lu NULL, no queue to run done() on) or -ENOMEM,
 * and nothing happened. Call on the task's own thread; task has its CDB, LUN,
 * nexus, queue, done and priv.
 */
int scsi_task_announce(struct scsi_lu *lu, struct scsi_task *task);

/*
 * After done(), for a task that had lend_ok: the transport no longer needs
 * task->data_lent (every byte is in the socket, or the connection is gone).
 * Until then the task stays in its LU's task set, so no write to those
 * blocks runs while they are being sent. Harmless for any other task;
 * call it on the task's own thread.
 */
void scsi_task_release(struct scsi_task *task);

/*
 * Task management (SAM-5 7). Abort: the task will complete with
 * task->aborted set and must not have its status sent; a write that was
 * aborted before reaching the backing store never reaches it. Resets
 * establish the unit attentions the nexuses must see: scsi_lu_reset gives
 * every nexus (the issuing one too, as SAM-5 6.3.3 and libiscsi want)
 * BUS DEVICE RESET FUNCTION OCCURRED and drops SPC-2 reservations;
 * scsi_lu_nexus_reset gives nx POWER ON/RESET and drops its reservation.
 * Any thread may call them.
 */
void scsi_task_abort(struct scsi_task *task);
void scsi_lu_reset(struct scsi_lu *lu, const struct scsi_nexus *by);
/*
 * The daemon is shutting down: every running SANITIZE stops at its next
 * step (logged; it does not resume at the next start), so the event
 * threads can drain.
 */
void scsi_sanitize_stop(void);
/*
 * The other nexuses' part of a LOGICAL UNIT RESET or CLEAR TASK SET
 * (SAM-5: they abort every task in the task set, which all nexuses
 * share): each task of lu that came on another I_T nexus than by and has
 * not completed is aborted. One still waiting (in the set, or announced
 * and still waiting for its turn or its data) never reaches the store;
 * one running finishes what it started.
 * Either way it ends with TASK ABORTED status (the Control mode page
 * reports TAS=1), so its initiator retries it instead of waiting for a
 * timeout. The issuer's own tasks
 * are its transport's to abort. Once all of them have left the task set
 * (those an earlier reset or their own nexus aborted included),
 * done(arg) runs on q's thread (q: the caller's own queue), never
 * inside this call. 0, or -ENOMEM with nothing aborted.
 */
int scsi_lu_abort_others(struct scsi_lu *lu, const struct scsi_nexus *by,
    struct scsi_queue *q, void (*done)(void *arg), void *arg);
void scsi_lu_nexus_reset(struct scsi_lu *lu, const struct scsi_nexus *nx);

/* sense.c: build sense on a task (fixed or descriptor as the LU's D_SENSE). */
void scsi_task_set_sense(struct scsi_task *task, uint8_t key, uint8_t asc,
    uint8_t ascq);
/* Complete a task with a status that has no sense (BUSY, TASK SET FULL). */
void scsi_task_set_status(struct scsi_task *task, uint8_t status);

/*
 * stats.c. Count a finished task on its LU's counters (nothing when it
 * had no LU): rd and wr bytes moved, lat_us since it arrived. Any
 * thread, no lock (relaxed atomic adds).
 */
void scsi_task_count(const struct scsi_task *task, uint64_t rd, uint64_t wr,
    uint64_t lat_us);

struct metrics_io;
struct scsi_lu_stats {
	unsigned int tid;
	uint64_t lun;
	const char *target_name;
	const struct metrics_io *io; /* read it with metrics_io_read() */
	unsigned int queue_depth;    /* tasks in the task set and announced */
};

/*
 * Call fn for every live LU, under the LU list lock: fn must not block
 * or call into the SCSI layer. The pointers are valid during the call.
 */
void scsi_lu_stats_foreach(void (*fn)(void *arg, const struct scsi_lu_stats *),
    void *arg);

#endif /* IETD_SCSI_SCSI_H */
