/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Logical units: creation from the target's Lun parameters (backing store,
 * block size, identifiers), reference counting, the LU-wide events
 * (resets, a nexus going away) and the capacity (re-read from the store,
 * changed online by ietadm). Identifiers not configured are derived from
 * the target name and LUN with SHA-256, so they survive restarts.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "scsi/scsi_int.h"
#include "scsi/scsi_proto.h"
#include "util/alloc.h"
#include "util/str.h"
#include "util/check.h"
#include "util/log.h"

static uint64_t scsi_lu_size(struct scsi_lu *lu);

static pthread_mutex_t scsi_lu_list_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct list_node scsi_lu_all = LIST_HEAD_INIT(scsi_lu_all);

void
scsi_lu_list_lock(void)
{
	pthread_mutex_lock(&scsi_lu_list_mutex);
}

void
scsi_lu_list_unlock(void)
{
	pthread_mutex_unlock(&scsi_lu_list_mutex);
}

struct list_node *
scsi_lu_list(void)
{
	return &scsi_lu_all;
}

/* SHA-256 over "target/lun" or over the configured ScsiId. */
static void
scsi_lu_make_ids(struct scsi_lu *lu, const struct scsi_lu_params *p)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char seed[512];

	if (p->scsi_id != NULL)
		snprintf(seed, sizeof(seed), "id:%s", p->scsi_id);
	else {
		snprintf(seed, sizeof(seed), "%s/%llu",
		    p->target_name != NULL ? p->target_name : "",
		    (unsigned long long)p->lun);
		/* The name in its RFC 3722 form: ids do not follow its case. */
		str_lower(seed);
	}
	if (EVP_Digest(seed, strlen(seed), md, &mdlen, EVP_sha256(), NULL) !=
		1 ||
	    mdlen < SCSI_NAA_LEN + SCSI_SERIAL_LEN / 2) {
		/* Cannot happen with libcrypto; keep ids unique-ish anyway. */
		memset(md, 0, sizeof(md));
		md[0] = (unsigned char)p->lun;
		md[1] = (unsigned char)p->tid;
	}
	/* NAA 3h: locally assigned, 60 bits of our hash (SPC-4 7.8.6.6.3). */
	memcpy(lu->naa, md, SCSI_NAA_LEN);
	lu->naa[0] = (uint8_t)(NAA_LOCAL << 4 | (lu->naa[0] & 0x0f));
	if (p->scsi_sn != NULL) {
		snprintf(lu->serial, sizeof(lu->serial), "%s", p->scsi_sn);
	} else {
		for (unsigned int i = 0; i < SCSI_SERIAL_LEN / 2; i++) {
			lu->serial[2 * i] = hex[md[SCSI_NAA_LEN + i] >> 4];
			lu->serial[2 * i + 1] = hex[md[SCSI_NAA_LEN + i] & 15];
		}
		lu->serial[SCSI_SERIAL_LEN] = '\0';
	}
	if (p->scsi_id != NULL)
		snprintf(lu->t10_id, sizeof(lu->t10_id), "%s", p->scsi_id);
	else
		snprintf(lu->t10_id, sizeof(lu->t10_id), "%s", lu->serial);
}

int
scsi_lu_new(const struct scsi_lu_params *p, struct scsi_lu **out, char *why,
    size_t whylen)
{
	struct backend_open_params bp = {
	    .type = p->store,
	    .path = p->path,
	    .size = p->store_bytes,
	    .read_only = p->read_only,
	    .write_through = p->write_through,
	    .ceph_conf = p->ceph_conf,
	    .ceph_user = p->ceph_user,
	    .ceph_keyring = p->ceph_keyring,
	};
	struct scsi_lu *lu;
	unsigned int bs = p->block_size ? p->block_size : 512;
	unsigned int pbs = p->phys_block_size ? p->phys_block_size : bs;
	unsigned int exp = 0;
	int rc;

	*out = NULL;
	if (bs < 512 || bs > 4096 || (bs & (bs - 1)) != 0) {
		snprintf(why, whylen, "invalid block size %u", bs);
		return -EINVAL;
	}
	while (exp < 7 && (bs << exp) < pbs)
		exp++;
	if ((bs << exp) != pbs || exp > 6 || pbs > 65536) {
		snprintf(why, whylen,
		    "invalid physical block size %u for block size %u", pbs,
		    bs);
		return -EINVAL;
	}
	lu = mem_zalloc(sizeof(*lu));
	if (lu == NULL) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	rc = backend_open(&bp, &lu->be, why, whylen);
	if (rc < 0) {
		mem_free(lu);
		return rc;
	}
	pthread_mutex_init(&lu->lock, NULL);
	pthread_mutex_init(&lu->pr_store_lock, NULL);
	lu->refs = 1;
	lu->lun = p->lun;
	lu->write_through = bp.write_through;
	lu->block_size = bs;
	while ((1u << lu->block_shift) < bs)
		lu->block_shift++;
	lu->lbppb_exp = exp;
	lu->read_only = bp.read_only;
	lu->wce = lu->wce_default = p->write_cache;
	lu->tid = p->tid;
	if (p->target_name != NULL) {
		/* SCSI name strings carry the normalized (RFC 3722) name. */
		snprintf(lu->target_name, sizeof(lu->target_name), "%s",
		    p->target_name);
		str_lower(lu->target_name);
	}
	if (bp.path != NULL) {
		lu->path = mem_strdup(bp.path);
		if (lu->path == NULL) {
			backend_close(lu->be);
			pthread_mutex_destroy(&lu->pr_store_lock);
			pthread_mutex_destroy(&lu->lock);
			mem_free(lu);
			snprintf(why, whylen, "out of memory");
			return -ENOMEM;
		}
	}
	scsi_lu_make_ids(lu, p);
	list_init(&lu->itls);
	list_init(&lu->tasks);
	list_init(&lu->pending);
	list_init(&lu->pr_regs);
	list_init(&lu->pr_store_q);
	/*
	 * The state every gateway of a shared store sees (pr_shared.c), or
	 * APTPL state saved under this LU's identity (pr_store.c).
	 */
	if (!scsi_pr_shared_open(lu))
		scsi_pr_store_load(lu);
	lu->blocks = scsi_lu_size(lu) >> lu->block_shift;
	scsi_lu_list_lock();
	list_add_tail(&scsi_lu_all, &lu->node);
	scsi_lu_list_unlock();
	*out = lu;
	return 0;
}

void
scsi_lu_get(struct scsi_lu *lu)
{
	unsigned int was = __atomic_fetch_add(&lu->refs, 1, __ATOMIC_RELAXED);

	IETD_ASSERT(was > 0); /* nobody revives a freed LU */
}

void
scsi_lu_put(struct scsi_lu *lu)
{
	struct list_node *pos, *tmp;

	if (lu == NULL)
		return;
	IETD_ASSERT(__atomic_load_n(&lu->refs, __ATOMIC_RELAXED) > 0);
	if (__atomic_sub_fetch(&lu->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	scsi_lu_list_lock();
	list_remove(&lu->node);
	scsi_lu_list_unlock();
	/* No lock news for this LU after it (alua.c's callback). */
	backend_lock_unfollow(lu->be);
	/*
	 * The store's state thread ends first: another gateway's change it
	 * installs until then raises unit attentions on lu's I_T_Ls.
	 */
	backend_close(lu->be);
	scsi_pr_shared_close(lu);
	list_for_each_safe(pos, tmp, &lu->itls) {
		list_remove(pos);
		mem_free(list_entry(pos, struct scsi_itl, node));
	}
	scsi_pr_free(lu);
	pthread_mutex_destroy(&lu->pr_store_lock);
	pthread_mutex_destroy(&lu->lock);
	mem_free(lu->path);
	mem_free(lu);
}

uint64_t
scsi_lu_number(const struct scsi_lu *lu)
{
	return lu->lun;
}

/* Bytes the LU holds now. */
static uint64_t
scsi_lu_size(struct scsi_lu *lu)
{
	return backend_size(lu->be);
}

uint64_t
scsi_lu_refresh_blocks(struct scsi_lu *lu)
{
	uint64_t blocks = scsi_lu_size(lu) >> lu->block_shift;
	uint64_t old =
	    __atomic_exchange_n(&lu->blocks, blocks, __ATOMIC_RELAXED);

	/*
	 * SBC-4 4.6 and SPC-4 6.4.2: a grown or shrunk store is news to
	 * every I_T nexus (CAPACITY DATA HAS CHANGED); commands past a new
	 * end get LBA OUT OF RANGE from the range check that reads
	 * lu->blocks. The exchange makes exactly one caller see the change.
	 */
	if (old != blocks) {
		scsi_lu_ua_capacity_changed(lu);
		log_notice("target %s lun %llu: capacity changed from %llu to "
			   "%llu blocks of %u bytes",
		    lu->target_name, (unsigned long long)lu->lun,
		    (unsigned long long)old, (unsigned long long)blocks,
		    lu->block_size);
	}
	return blocks;
}

unsigned int
scsi_lu_poll_capacity_all(void)
{
	struct list_node *pos;
	unsigned int changed = 0;

	/*
	 * Under the list lock no LU can be freed; the lock order list, then
	 * lu->lock (for the unit attention) is the one nexus.c uses too.
	 */
	scsi_lu_list_lock();
	list_for_each(pos, &scsi_lu_all) {
		struct scsi_lu *lu = list_entry(pos, struct scsi_lu, node);
		uint64_t old = __atomic_load_n(&lu->blocks, __ATOMIC_RELAXED);

		if (scsi_lu_refresh_blocks(lu) != old)
			changed++;
	}
	scsi_lu_list_unlock();
	return changed;
}

uint64_t
scsi_lu_capacity(const struct scsi_lu *lu)
{
	return __atomic_load_n(&lu->blocks, __ATOMIC_RELAXED);
}

int
scsi_lu_resize(struct scsi_lu *lu, uint64_t bytes, char *why, size_t whylen)
{
	int err;

	if (bytes == 0 || (bytes & (lu->block_size - 1)) != 0) {
		snprintf(why, whylen,
		    "size %llu is not a non-zero multiple of the block size "
		    "%u",
		    (unsigned long long)bytes, lu->block_size);
		return -EINVAL;
	}
	err = backend_resize(lu->be, bytes, why, whylen);
	if (err != 0)
		return err;
	scsi_lu_refresh_blocks(lu);
	return 0;
}

uint64_t
scsi_lu_blocks(struct scsi_lu *lu)
{
	return scsi_lu_refresh_blocks(lu);
}

unsigned int
scsi_lu_block_size(const struct scsi_lu *lu)
{
	return lu->block_size;
}

const char *
scsi_lu_iotype(const struct scsi_lu *lu)
{
	return backend_type_name(lu->be);
}

const char *
scsi_lu_iomode(const struct scsi_lu *lu)
{
	if (lu->read_only)
		return "ro";
	return lu->write_through ? "wt" : "wb";
}

const char *
scsi_lu_path(const struct scsi_lu *lu)
{
	return lu->path != NULL ? lu->path : "";
}

/* Forget a nexus: its unit attentions and its reservation. */
void
scsi_lu_nexus_gone(struct scsi_lu *lu, uint64_t nexus_id)
{
	struct scsi_itl *itl;
	char iport[256], tport[256];
	bool shared = false;

	pthread_mutex_lock(&lu->lock);
	itl = scsi_itl_find(lu, nexus_id, false);
	if (itl != NULL)
		scsi_itl_remove(lu, itl);
	if (lu->reserved && lu->reserve_holder == nexus_id) {
		lu->reserved = false;
		shared = lu->reserve_shared;
		memcpy(iport, lu->reserve_iport, sizeof(iport));
		memcpy(tport, lu->reserve_tport, sizeof(tport));
	}
	pthread_mutex_unlock(&lu->lock);
	/* Every gateway's: it ends in the shared state too. */
	if (shared)
		scsi_pr_shared_release(lu, iport, tport);
}

/*
 * LOGICAL UNIT RESET (SAM-5 7.7): reservations and mode pages go back to
 * their defaults, and every I_T nexus learns of it by a unit attention
 * (SAM-5 6.3.3 says all of them; libiscsi's MultipathIO.Reset checks the
 * issuing path too). Aborting tasks is the transport's part.
 */
void
scsi_lu_reset(struct scsi_lu *lu, const struct scsi_nexus *by)
{
	bool shared;

	pthread_mutex_lock(&lu->lock);
	shared = lu->reserve_shared && lu->reserved;
	lu->reserved = false;
	__atomic_store_n(&lu->wce, lu->wce_default, __ATOMIC_RELAXED);
	__atomic_store_n(&lu->d_sense, false, __ATOMIC_RELAXED);
	__atomic_store_n(&lu->swp, false, __ATOMIC_RELAXED);
	(void)by;
	scsi_lu_ua_all(lu, 0, false, ASC_BUS_DEVICE_RESET);
	pthread_mutex_unlock(&lu->lock);
	if (shared)
		scsi_pr_shared_release(lu, NULL, NULL);
}

/* The I_T nexus loss / reset of one nexus as seen by this LU. */
void
scsi_lu_nexus_reset(struct scsi_lu *lu, const struct scsi_nexus *nx)
{
	struct scsi_itl *itl;
	bool shared = false;

	pthread_mutex_lock(&lu->lock);
	if (lu->reserved && lu->reserve_holder == nx->id) {
		lu->reserved = false;
		shared = lu->reserve_shared;
	}
	itl = scsi_itl_find(lu, nx->id, false);
	if (itl != NULL)
		scsi_itl_ua_add(itl, ASC_POWER_ON_RESET);
	pthread_mutex_unlock(&lu->lock);
	if (shared)
		scsi_pr_shared_release(lu, nx->initiator_port, nx->target_port);
}
