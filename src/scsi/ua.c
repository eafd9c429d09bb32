/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Unit attention conditions (SAM-5 5.14, SPC-4 7.5.2): kept per I_T_L
 * nexus, oldest first. A nexus seen for the first time by an LU starts
 * with POWER ON, RESET, OR BUS DEVICE RESET OCCURRED.
 */
#include "scsi/scsi_int.h"
#include "scsi/scsi_proto.h"
#include "util/alloc.h"

static unsigned int
scsi_itl_bucket(uint64_t nexus_id)
{
	/* Fibonacci hashing: nexus ids differ mostly in their ISID bits. */
	return (unsigned int)((nexus_id * 0x9e3779b97f4a7c15ull) >> 58) %
	    SCSI_ITL_HASH;
}

struct scsi_itl *
scsi_itl_find(struct scsi_lu *lu, uint64_t nexus_id, bool create)
{
	unsigned int b = scsi_itl_bucket(nexus_id);
	struct scsi_itl *itl;

	for (itl = lu->itl_hash[b]; itl != NULL; itl = itl->hnext)
		if (itl->nexus_id == nexus_id)
			return itl;
	if (!create)
		return NULL;
	itl = mem_zalloc(sizeof(*itl));
	if (itl == NULL)
		return NULL;
	itl->nexus_id = nexus_id;
	scsi_itl_ua_add(itl, ASC_POWER_ON_RESET);
	list_add_tail(&lu->itls, &itl->node);
	itl->hnext = lu->itl_hash[b];
	lu->itl_hash[b] = itl;
	return itl;
}

void
scsi_itl_remove(struct scsi_lu *lu, struct scsi_itl *itl)
{
	struct scsi_itl **pp = &lu->itl_hash[scsi_itl_bucket(itl->nexus_id)];

	while (*pp != NULL && *pp != itl)
		pp = &(*pp)->hnext;
	if (*pp == itl)
		*pp = itl->hnext;
	list_remove(&itl->node);
	mem_free(itl);
}

void
scsi_itl_ua_add(struct scsi_itl *itl, uint8_t asc, uint8_t ascq)
{
	unsigned int i;

	for (i = 0; i < itl->nua; i++) {
		if (itl->ua[i].asc == asc && itl->ua[i].ascq == ascq)
			return;
	}
	/*
	 * SAM-5 5.14: when the queue is full the device server may drop
	 * conditions; keep the oldest and let the newest go.
	 */
	if (itl->nua == SCSI_UA_MAX)
		return;
	itl->ua[itl->nua].asc = asc;
	itl->ua[itl->nua].ascq = ascq;
	itl->nua++;
}

bool
scsi_itl_ua_pop(struct scsi_itl *itl, struct scsi_ua *out)
{
	unsigned int i;

	if (itl->nua == 0)
		return false;
	*out = itl->ua[0];
	for (i = 1; i < itl->nua; i++)
		itl->ua[i - 1] = itl->ua[i];
	itl->nua--;
	return true;
}

void
scsi_lu_ua_all(struct scsi_lu *lu, uint64_t except_id, bool except, uint8_t asc,
    uint8_t ascq)
{
	struct list_node *pos;

	list_for_each(pos, &lu->itls) {
		struct scsi_itl *itl = list_entry(pos, struct scsi_itl, node);

		if (except && itl->nexus_id == except_id)
			continue;
		scsi_itl_ua_add(itl, asc, ascq);
	}
}

void
scsi_lu_ua_luns_changed(struct scsi_lu *lu)
{
	pthread_mutex_lock(&lu->lock);
	scsi_lu_ua_all(lu, 0, false, ASC_REPORTED_LUNS_CHANGED);
	pthread_mutex_unlock(&lu->lock);
}

void
scsi_lu_ua_capacity_changed(struct scsi_lu *lu)
{
	pthread_mutex_lock(&lu->lock);
	scsi_lu_ua_all(lu, 0, false, ASC_CAPACITY_DATA_CHANGED);
	pthread_mutex_unlock(&lu->lock);
}
