/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Persistent reservations that persist through power loss (SPC-4 5.13.5,
 * APTPL): each LU's registrations, reservation and generation in a file
 * of the state directory (ietd --state-dir), named after the LU's NAA
 * designator (VPD 0x83) and not its target or LUN number, so a reload
 * that renumbers LUs finds it again.
 *
 * The file is replaced whole: a new file written and fsynced, renamed
 * over the old one, the directory fsynced. It carries a magic, a
 * version, the length and a CRC32C of what follows; a file that is torn,
 * cut short or changed fails one of those checks, is named in the log
 * with what is wrong, and the LU starts with no reservation state: never
 * a half-loaded one.
 *
 * Layout, big-endian: "ietd-pr\n", version (4), payload length (4),
 * CRC32C of the payload (4); the payload: NAA designator (8), generation
 * (4), reservation held (1), type (1), flags (1: APTPL 01h; a state file
 * always has APTPL, the shared state of pr_shared.c says), 0 (1),
 * holder's index or ffffffffh
 * (4), registration count (4), then each registration: key (8), relative
 * target port (2), flags (1: ALL_TG_PT 01h, name-only 02h), 0 (1),
 * initiator and target port name lengths (2 each), the names. With flag
 * 02h (shared state only: SPC-2 RESERVE of an LU several gateways
 * export) the holder's initiator and target port name lengths (2 each)
 * and names follow.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "scsi/scsi_int.h"
#include "util/alloc.h"
#include "util/be.h"
#include "util/crc32c.h"
#include "util/log.h"

#define PR_STORE_MAGIC "ietd-pr\n"
#define PR_STORE_VERSION 1
#define PR_STORE_HDR 20
#define PR_STORE_FIXED 28 /* payload before the registrations */
#define PR_STORE_REG 16   /* a registration before its names */
#define PR_STORE_NO_HOLDER 0xffffffffu
#define PR_STORE_ALL_TG_PT 0x01
#define PR_STORE_ANY_ISID 0x02
#define PR_STORE_APTPL 0x01 /* payload byte 14 */
#define PR_STORE_SPC2 0x02  /* payload byte 14: an SPC-2 RESERVE holder */
/* The largest file SCSI_PR_REGS_MAX registrations make, and some. */
#define PR_STORE_MAX                     \
	(PR_STORE_HDR + PR_STORE_FIXED + \
	    SCSI_PR_REGS_MAX * (PR_STORE_REG + 2 * 255) + 4096)

#define PR_STORE_DIR_MAX 4000

static char *pr_store_dir;

int
scsi_pr_store_set_dir(const char *dir)
{
	char *d;

	/* Room for "/pr-<16 hex>.state.tmp" in pr_store_path()'s buffers. */
	if (strlen(dir) > PR_STORE_DIR_MAX)
		return -ENAMETOOLONG;
	d = mem_strdup(dir);
	if (d == NULL)
		return -ENOMEM;
	mem_free(pr_store_dir);
	pr_store_dir = d;
	return 0;
}

static const char *
pr_store_dirname(void)
{
	return pr_store_dir != NULL ? pr_store_dir : SCSI_PR_STATE_DIR_DEFAULT;
}

/* "<dir>/pr-<16 hex digits of the NAA designator>.state" (+ suffix). */
static void
pr_store_path(const struct scsi_lu *lu, const char *suffix, char *out,
    size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	char id[2 * SCSI_NAA_LEN + 1];

	for (unsigned int i = 0; i < SCSI_NAA_LEN; i++) {
		id[2 * i] = hex[lu->naa[i] >> 4];
		id[2 * i + 1] = hex[lu->naa[i] & 15];
	}
	id[2 * SCSI_NAA_LEN] = '\0';
	snprintf(out, outlen, "%s/pr-%s.state%s", pr_store_dirname(), id,
	    suffix);
}

int
scsi_pr_store_encode(const struct scsi_lu *lu, uint8_t **out, size_t *len)
{
	/* Only a shared state carries it: SPC-2 reservations end at reset. */
	bool spc2 = lu->reserve_shared && lu->reserved;
	const struct list_node *pos;
	size_t n = PR_STORE_HDR + PR_STORE_FIXED, off;
	uint32_t idx = 0, holder = PR_STORE_NO_HOLDER;
	uint8_t *b;

	list_for_each(pos, &lu->pr_regs) {
		const struct scsi_pr_reg *r =
		    list_entry(pos, struct scsi_pr_reg, node);

		n += PR_STORE_REG + strlen(r->initiator_port) +
		    strlen(r->target_port);
	}
	if (spc2)
		n += 4 + strlen(lu->reserve_iport) + strlen(lu->reserve_tport);
	b = mem_zalloc(n);
	if (b == NULL) {
		log_error("persistent reservations: target %s lun %llu: no "
			  "memory for the state to save",
		    lu->target_name, (unsigned long long)lu->lun);
		return -ENOMEM;
	}
	memcpy(b, PR_STORE_MAGIC, 8);
	put_be32(b + 8, PR_STORE_VERSION);
	put_be32(b + 12, (uint32_t)(n - PR_STORE_HDR));
	off = PR_STORE_HDR;
	memcpy(b + off, lu->naa, SCSI_NAA_LEN);
	put_be32(b + off + 8, lu->pr_gen);
	b[off + 12] = lu->pr_held;
	b[off + 13] = lu->pr_type;
	b[off + 14] =
	    (lu->pr_aptpl ? PR_STORE_APTPL : 0) | (spc2 ? PR_STORE_SPC2 : 0);
	put_be32(b + off + 20, lu->pr_nregs);
	off += PR_STORE_FIXED;
	list_for_each(pos, &lu->pr_regs) {
		const struct scsi_pr_reg *r =
		    list_entry(pos, struct scsi_pr_reg, node);
		size_t il = strlen(r->initiator_port);
		size_t tl = strlen(r->target_port);

		if (lu->pr_holder == r)
			holder = idx;
		put_be64(b + off, r->key);
		put_be16(b + off + 8, r->rel_port_id);
		b[off + 10] = (r->all_tg_pt ? PR_STORE_ALL_TG_PT : 0) |
		    (r->any_isid ? PR_STORE_ANY_ISID : 0);
		put_be16(b + off + 12, (uint16_t)il);
		put_be16(b + off + 14, (uint16_t)tl);
		memcpy(b + off + PR_STORE_REG, r->initiator_port, il);
		memcpy(b + off + PR_STORE_REG + il, r->target_port, tl);
		off += PR_STORE_REG + il + tl;
		idx++;
	}
	if (spc2) {
		size_t il = strlen(lu->reserve_iport);
		size_t tl = strlen(lu->reserve_tport);

		put_be16(b + off, (uint16_t)il);
		put_be16(b + off + 2, (uint16_t)tl);
		memcpy(b + off + 4, lu->reserve_iport, il);
		memcpy(b + off + 4 + il, lu->reserve_tport, tl);
	}
	put_be32(b + PR_STORE_HDR + 16, holder);
	put_be32(b + 16,
	    crc32c_final(crc32c_update(CRC32C_INIT, b + PR_STORE_HDR,
		n - PR_STORE_HDR)));
	*out = b;
	*len = n;
	return 0;
}

static int
pr_store_fail(const char *path, const char *what)
{
	int e = errno;

	log_error("persistent reservations: cannot save %s: %s: %s", path, what,
	    strerror(e));
	return -e;
}

/* fsync the state directory, so a rename or unlink in it is durable. */
static int
pr_store_sync_dir(const char *path)
{
	int fd = open(pr_store_dirname(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return pr_store_fail(path, "open its directory");
	if (fsync(fd) != 0) {
		int rc = pr_store_fail(path, "fsync its directory");

		close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

int
scsi_pr_store_write(const struct scsi_lu *lu, const uint8_t *buf, size_t len)
{
	char path[4096], tmp[4096 + 8];
	size_t done = 0;
	int fd, rc;

	pr_store_path(lu, "", path, sizeof(path));
	pr_store_path(lu, ".tmp", tmp, sizeof(tmp));
	/* Made at the first write: most targets never see APTPL. */
	if (mkdir(pr_store_dirname(), 0700) != 0 && errno != EEXIST)
		return pr_store_fail(path, "create the state directory");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0)
		return pr_store_fail(tmp, "create");
	while (done < len) {
		ssize_t w = write(fd, buf + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			rc = pr_store_fail(tmp, "write");
			goto fail;
		}
		done += (size_t)w;
	}
	if (fsync(fd) != 0) {
		rc = pr_store_fail(tmp, "fsync");
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = pr_store_fail(tmp, "close");
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		rc = pr_store_fail(path, "rename the new file over it");
		goto fail;
	}
	return pr_store_sync_dir(path);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

int
scsi_pr_store_remove(const struct scsi_lu *lu)
{
	char path[4096];

	pr_store_path(lu, "", path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT) {
		log_error("persistent reservations: cannot remove %s: %s", path,
		    strerror(errno));
		return -errno;
	}
	return pr_store_sync_dir(path);
}

/* Read the whole file (at most PR_STORE_MAX bytes); NULL and why. */
static uint8_t *
pr_store_read(const char *path, size_t *len, const char **why, int *err)
{
	struct stat st;
	uint8_t *b;
	size_t done = 0;
	/*
	 * O_NONBLOCK: opening a FIFO put in its place would otherwise wait
	 * for a writer, with the LU half made (startup, a reload, ietadm).
	 */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	*err = 0;
	if (fd < 0) {
		*err = errno;
		*why = "cannot open it";
		return NULL;
	}
	if (fstat(fd, &st) != 0) {
		*err = errno;
		*why = "cannot stat it";
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		close(fd);
		return NULL;
	}
	if (st.st_size > PR_STORE_MAX) {
		*why = "larger than any state ietd writes";
		close(fd);
		return NULL;
	}
	b = mem_alloc((size_t)st.st_size + 1);
	if (b == NULL) {
		*why = "out of memory";
		close(fd);
		return NULL;
	}
	for (;;) {
		ssize_t r = read(fd, b + done, (size_t)st.st_size + 1 - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*err = errno;
			*why = "cannot read it";
			mem_free(b);
			close(fd);
			return NULL;
		}
		if (r == 0 || done + (size_t)r > (size_t)st.st_size)
			break;
		done += (size_t)r;
	}
	close(fd);
	*len = done;
	return b;
}

bool
scsi_pr_name_decode(const uint8_t *p, size_t len, char *out, size_t outlen)
{
	if (len == 0 || len >= outlen)
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			return false;
	memcpy(out, p, len);
	out[len] = '\0';
	return true;
}

/*
 * Decode a payload into regs (fresh list) and the LU-wide fields; NULL,
 * or what is wrong with it.
 */
static const char *
pr_store_decode(const struct scsi_lu *lu, const uint8_t *p, size_t len,
    struct list_node *regs, uint32_t *gen, bool *held, uint8_t *type,
    struct scsi_pr_reg **holder, unsigned int *nregs, struct scsi_lu *into)
{
	uint32_t n, hidx;
	size_t off = PR_STORE_FIXED;

	if (len < PR_STORE_FIXED)
		return "payload shorter than its fixed part";
	if (memcmp(p, lu->naa, SCSI_NAA_LEN) != 0)
		return "written for another LU (NAA designator differs)";
	*gen = get_be32(p + 8);
	*held = p[12] != 0;
	*type = p[13];
	hidx = get_be32(p + 16);
	n = get_be32(p + 20);
	if (p[12] > 1)
		return "bad reservation flag";
	if (p[14] & ~(PR_STORE_APTPL | PR_STORE_SPC2))
		return "unknown state flags";
	if (n > SCSI_PR_REGS_MAX)
		return "more registrations than ietd keeps";
	if (*held && !(*type == 1 || *type == 3 || (*type >= 5 && *type <= 8)))
		return "bad reservation type";
	if (*held && !(*type == 7 || *type == 8) && hidx >= n)
		return "reservation holder is not a registration";
	if (*held && n == 0)
		return "reservation without registrations";
	for (uint32_t i = 0; i < n; i++) {
		struct scsi_pr_reg *r;
		size_t il, tl;

		if (len - off < PR_STORE_REG)
			return "registration cut short";
		il = get_be16(p + off + 12);
		tl = get_be16(p + off + 14);
		if (len - off - PR_STORE_REG < il + tl)
			return "registration names cut short";
		if (p[off + 10] & ~(PR_STORE_ALL_TG_PT | PR_STORE_ANY_ISID))
			return "unknown registration flags";
		r = mem_zalloc(sizeof(*r));
		if (r == NULL)
			return "out of memory";
		list_add_tail(regs, &r->node);
		r->key = get_be64(p + off);
		r->rel_port_id = get_be16(p + off + 8);
		r->all_tg_pt = p[off + 10] & PR_STORE_ALL_TG_PT;
		r->any_isid = p[off + 10] & PR_STORE_ANY_ISID;
		if (!scsi_pr_name_decode(p + off + PR_STORE_REG, il,
			r->initiator_port, sizeof(r->initiator_port)) ||
		    !scsi_pr_name_decode(p + off + PR_STORE_REG + il, tl,
			r->target_port, sizeof(r->target_port)))
			return "bad port name in a registration";
		if (r->key == 0)
			return "registration with key 0";
		if (i == hidx && *held && !(*type == 7 || *type == 8))
			*holder = r;
		off += PR_STORE_REG + il + tl;
	}
	if (p[14] & PR_STORE_SPC2) {
		size_t il, tl;

		if (len - off < 4)
			return "SPC-2 reservation cut short";
		il = get_be16(p + off);
		tl = get_be16(p + off + 2);
		if (len - off - 4 < il + tl)
			return "SPC-2 reservation names cut short";
		if (!scsi_pr_name_decode(p + off + 4, il, into->reserve_iport,
			sizeof(into->reserve_iport)) ||
		    !scsi_pr_name_decode(p + off + 4 + il, tl,
			into->reserve_tport, sizeof(into->reserve_tport)))
			return "bad port name in the SPC-2 reservation";
		into->reserved = true;
		off += 4 + il + tl;
	}
	if (off != len)
		return "bytes after the last registration";
	*nregs = n;
	return NULL;
}

const char *
scsi_pr_store_parse(const struct scsi_lu *lu, const uint8_t *b, size_t len,
    struct scsi_lu *into)
{
	struct scsi_pr_reg *holder = NULL;
	const char *why;
	uint32_t gen = 0, plen;
	unsigned int nregs = 0;
	uint8_t type = 0;
	bool held = false;

	if (len < PR_STORE_HDR)
		return "truncated: shorter than its header";
	if (memcmp(b, PR_STORE_MAGIC, 8) != 0)
		return "not an ietd state file (bad magic)";
	if (get_be32(b + 8) != PR_STORE_VERSION)
		return "unknown version";
	if ((plen = get_be32(b + 12)) != len - PR_STORE_HDR)
		return plen > len - PR_STORE_HDR
		    ? "truncated: shorter than its header says"
		    : "longer than its header says";
	if (crc32c_final(crc32c_update(CRC32C_INIT, b + PR_STORE_HDR, plen)) !=
	    get_be32(b + 16))
		return "checksum mismatch (torn or corrupted)";
	why = pr_store_decode(lu, b + PR_STORE_HDR, plen, &into->pr_regs, &gen,
	    &held, &type, &holder, &nregs, into);
	if (why != NULL) {
		struct list_node *pos, *tmp;

		list_for_each_safe(pos, tmp, &into->pr_regs) {
			list_remove(pos);
			mem_free(list_entry(pos, struct scsi_pr_reg, node));
		}
		into->reserved = false;
		return why;
	}
	into->pr_nregs = nregs;
	into->pr_gen = gen;
	into->pr_held = held;
	into->pr_type = held ? type : 0;
	into->pr_holder = holder;
	into->pr_aptpl = b[PR_STORE_HDR + 14] & PR_STORE_APTPL;
	return NULL;
}

void
scsi_pr_state_move(struct scsi_lu *lu, struct scsi_lu *from)
{
	struct list_node *pos, *tmp;

	scsi_pr_free(lu);
	list_for_each_safe(pos, tmp, &from->pr_regs) {
		list_remove(pos);
		list_add_tail(&lu->pr_regs, pos);
	}
	lu->pr_nregs = from->pr_nregs;
	lu->pr_gen = from->pr_gen;
	lu->pr_held = from->pr_held;
	lu->pr_type = from->pr_type;
	lu->pr_holder = from->pr_holder;
	lu->pr_aptpl = from->pr_aptpl;
	if (lu->reserve_shared) {
		lu->reserved = from->reserved;
		memcpy(lu->reserve_iport, from->reserve_iport,
		    sizeof(lu->reserve_iport));
		memcpy(lu->reserve_tport, from->reserve_tport,
		    sizeof(lu->reserve_tport));
	}
	from->pr_nregs = 0;
	from->pr_held = false;
	from->pr_holder = NULL;
}

void
scsi_pr_store_load(struct scsi_lu *lu)
{
	char path[4096];
	struct scsi_lu *tmp;
	const char *why = NULL;
	uint8_t *b;
	size_t len = 0;
	int err;

	pr_store_path(lu, "", path, sizeof(path));
	b = pr_store_read(path, &len, &why, &err);
	if (b == NULL) {
		if (err == ENOENT)
			return; /* no APTPL state: the usual case */
		log_error("persistent reservations: state file %s: %s%s%s; "
			  "the LU starts with no reservations",
		    path, why, err != 0 ? ": " : "",
		    err != 0 ? strerror(err) : "");
		return;
	}
	tmp = mem_zalloc(sizeof(*tmp));
	if (tmp == NULL) {
		mem_free(b);
		log_error("persistent reservations: state file %s: out of "
			  "memory; the LU starts with no reservations",
		    path);
		return;
	}
	list_init(&tmp->pr_regs);
	why = scsi_pr_store_parse(lu, b, len, tmp);
	mem_free(b);
	if (why != NULL) {
		mem_free(tmp);
		log_error("persistent reservations: state file %s: %s; the "
			  "LU starts with no reservations",
		    path, why);
		return;
	}
	pthread_mutex_lock(&lu->lock);
	scsi_pr_state_move(lu, tmp);
	/* Files are written only with APTPL (earlier ones left it 0). */
	lu->pr_aptpl = true;
	pthread_mutex_unlock(&lu->lock);
	log_info("persistent reservations: target %s lun %llu: %u "
		 "registration(s)%s restored from %s",
	    lu->target_name, (unsigned long long)lu->lun, lu->pr_nregs,
	    lu->pr_held ? " and the reservation" : "", path);
	mem_free(tmp);
}

/* One snapshot on its way to the disk (scsi_pr_store_async). */
struct pr_store_job {
	struct backend_io io;   /* posts done() to the task's thread */
	struct list_node qnode; /* on lu->pr_store_q */
	struct scsi_lu *lu;     /* a reference, for the job's life */
	uint8_t *buf;           /* NULL: remove the file */
	size_t len;
	uint64_t seq;
	bool ok;
	void (*done)(void *arg, bool ok, bool inline_);
	void *arg;
	bool inline_;
};

/* Write snapshot job->seq unless a newer one is on disk already. */
static void
pr_store_job_run(struct pr_store_job *job)
{
	struct scsi_lu *lu = job->lu;

	pthread_mutex_lock(&lu->pr_store_lock);
	if (job->seq > lu->pr_store_done) {
		if (job->buf != NULL)
			job->ok =
			    scsi_pr_store_write(lu, job->buf, job->len) == 0;
		else
			job->ok = scsi_pr_store_remove(lu) == 0;
		lu->pr_store_done = job->seq;
		lu->pr_store_ok = job->ok;
	} else {
		/* The newer snapshot carries this change: its fate is ours. */
		job->ok = lu->pr_store_ok;
	}
	pthread_mutex_unlock(&lu->pr_store_lock);
	mem_free(job->buf);
	job->buf = NULL;
}

static void
pr_store_job_done(struct backend_io *io)
{
	struct pr_store_job *job = io->arg;

	job->done(job->arg, job->ok, job->inline_);
	scsi_lu_put(job->lu);
	mem_free(job);
}

/*
 * Write what is queued on lu until nothing is: each round takes every
 * waiting job, writes the newest snapshot only (the others' changes are
 * in it, pr_store_job_run() gives them its fate) and hands each job back
 * to its task's thread; self, when given, is ended here instead.
 */
static void
pr_store_drain(struct scsi_lu *lu, struct pr_store_job *self)
{
	for (;;) {
		struct list_node batch, *pos, *tmp;
		struct pr_store_job *newest = NULL;

		list_init(&batch);
		pthread_mutex_lock(&lu->lock);
		if (list_empty(&lu->pr_store_q)) {
			lu->pr_store_writer = false;
			pthread_mutex_unlock(&lu->lock);
			return;
		}
		list_for_each_safe(pos, tmp, &lu->pr_store_q) {
			struct pr_store_job *j =
			    list_entry(pos, struct pr_store_job, qnode);

			list_remove(pos);
			list_add_tail(&batch, pos);
			if (newest == NULL || j->seq > newest->seq)
				newest = j;
		}
		pthread_mutex_unlock(&lu->lock);
		pr_store_job_run(newest);
		list_for_each_safe(pos, tmp, &batch) {
			struct pr_store_job *j =
			    list_entry(pos, struct pr_store_job, qnode);

			list_remove(pos);
			if (j != newest)
				pr_store_job_run(j);
			if (j == self) {
				j->inline_ = true;
				pr_store_job_done(&j->io);
			} else {
				backend_cq_post(j->io.cq, &j->io);
			}
		}
	}
}

static void *
pr_store_thread(void *arg)
{
	struct scsi_lu *lu = arg;

	pr_store_drain(lu, NULL);
	scsi_lu_put(lu);
	return NULL;
}

void
scsi_pr_store_async(struct scsi_lu *lu, struct scsi_task *task, uint8_t *buf,
    size_t len, uint64_t seq, void (*done)(void *arg, bool ok, bool inline_),
    void *arg)
{
	struct pr_store_job *job = mem_zalloc(sizeof(*job));
	struct list_node *pos;
	pthread_attr_t attr;
	pthread_t th;
	bool started = false;

	if (job == NULL) {
		/* Not even a job: the write happens here, as it must. */
		struct pr_store_job local = {.lu = lu,
		    .buf = buf,
		    .len = len,
		    .seq = seq};

		pr_store_job_run(&local);
		done(arg, local.ok, true);
		return;
	}
	scsi_lu_get(lu);
	job->lu = lu;
	job->buf = buf;
	job->len = len;
	job->seq = seq;
	job->done = done;
	job->arg = arg;
	job->io.done = pr_store_job_done;
	job->io.arg = job;
	if (task->queue == NULL) {
		job->inline_ = true;
		pr_store_job_run(job);
		pr_store_job_done(&job->io);
		return;
	}
	job->io.cq = task->queue->cq;
	/*
	 * fsync can take long on a busy disk: a thread of its own keeps the
	 * event thread serving its other sessions meanwhile. One per LU at
	 * most, taking every snapshot queued while it writes: initiators
	 * pipelining PR OUTs (any registered one may) would otherwise make a
	 * thread and hold a snapshot of up to SCSI_PR_REGS_MAX registrations
	 * for each command in flight.
	 */
	pthread_mutex_lock(&lu->lock);
	/*
	 * An older snapshot still waiting is never written (this one goes
	 * first in its round and carries its changes): free it now.
	 */
	list_for_each(pos, &lu->pr_store_q) {
		struct pr_store_job *old =
		    list_entry(pos, struct pr_store_job, qnode);

		if (old->seq < seq) {
			mem_free(old->buf);
			old->buf = NULL;
		}
	}
	list_add_tail(&lu->pr_store_q, &job->qnode);
	started = lu->pr_store_writer;
	lu->pr_store_writer = true;
	pthread_mutex_unlock(&lu->lock);
	if (started)
		return;  /* the running writer takes it */
	scsi_lu_get(lu); /* the thread's, past the jobs it ends */
	if (pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		started = pthread_create(&th, &attr, pr_store_thread, lu) == 0;
		pthread_attr_destroy(&attr);
	}
	if (!started) {
		pr_store_drain(lu, job);
		scsi_lu_put(lu);
	}
}
