/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Sense data (SPC-4 4.5): fixed format (0x70) unless the LU's control mode
 * page sets D_SENSE, then descriptor format (0x72) with information and
 * sense-key-specific descriptors.
 */
#include <string.h>

#include "scsi/scsi_int.h"
#include "scsi/scsi_proto.h"
#include "util/be.h"

/* Descriptor lengths (SPC-4 4.5.2.2, 4.5.2.4). */
#define SENSE_DESC_HDR 8
#define SENSE_DESC_INFO_LEN 12
#define SENSE_DESC_SKS_LEN 8

void
scsi_sense_build(uint8_t *buf, unsigned int *len, bool desc, uint8_t key,
    uint8_t asc, uint8_t ascq, bool info_valid, uint64_t info,
    const uint8_t *sks)
{
	unsigned int n;

	memset(buf, 0,
	    SENSE_DESC_HDR + SENSE_DESC_INFO_LEN + SENSE_DESC_SKS_LEN);
	if (!desc) {
		buf[0] = SENSE_FIXED_CURRENT;
		/*
		 * Fixed format holds only 32 bits of information (SPC-4
		 * 4.5.3): a larger value (an LBA past 2^32) is left out with
		 * VALID clear rather than truncated, as disks do; descriptor
		 * format (D_SENSE) carries all 64 bits.
		 */
		if (info_valid && info <= UINT32_MAX) {
			buf[0] |= SENSE_FIXED_VALID;
			put_be32(buf + 3, (uint32_t)info);
		}
		buf[2] = key & 0x0f;
		buf[7] = SENSE_FIXED_LEN - 8;
		buf[12] = asc;
		buf[13] = ascq;
		if (sks != NULL)
			memcpy(buf + 15, sks, 3);
		*len = SENSE_FIXED_LEN;
		return;
	}
	buf[0] = SENSE_DESC_CURRENT;
	buf[1] = key & 0x0f;
	buf[2] = asc;
	buf[3] = ascq;
	n = SENSE_DESC_HDR;
	if (info_valid) {
		buf[n] = SENSE_DESC_INFORMATION;
		buf[n + 1] = SENSE_DESC_INFO_LEN - 2;
		buf[n + 2] = SENSE_FIXED_VALID;
		put_be64(buf + n + 4, info);
		n += SENSE_DESC_INFO_LEN;
	}
	if (sks != NULL) {
		buf[n] = SENSE_DESC_SKS;
		buf[n + 1] = SENSE_DESC_SKS_LEN - 2;
		memcpy(buf + n + 4, sks, 3);
		n += SENSE_DESC_SKS_LEN;
	}
	buf[7] = (uint8_t)(n - SENSE_DESC_HDR);
	*len = n;
}

static bool
scsi_task_desc_sense(const struct scsi_task *task)
{
	return task->lu != NULL &&
	    __atomic_load_n(&task->lu->d_sense, __ATOMIC_RELAXED);
}

void
scsi_task_set_sense(struct scsi_task *task, uint8_t key, uint8_t asc,
    uint8_t ascq)
{
	task->status = SCSI_STATUS_CHECK_CONDITION;
	scsi_sense_build(task->sense, &task->sense_len,
	    scsi_task_desc_sense(task), key, asc, ascq, false, 0, NULL);
}

void
scsi_task_sense_info(struct scsi_task *task, uint8_t key, uint8_t asc,
    uint8_t ascq, uint64_t info)
{
	task->status = SCSI_STATUS_CHECK_CONDITION;
	scsi_sense_build(task->sense, &task->sense_len,
	    scsi_task_desc_sense(task), key, asc, ascq, true, info, NULL);
}

/*
 * INVALID FIELD IN CDB / PARAMETER LIST with the field pointer of SPC-4
 * 4.5.2.4.2: which byte (and bit, when bit >= 0) was wrong.
 */
void
scsi_task_sense_invalid_field(struct scsi_task *task, bool in_cdb,
    unsigned int byte, int bit)
{
	uint8_t sks[3];

	sks[0] = SENSE_SKSV | (in_cdb ? SENSE_SKS_CD : 0);
	if (bit >= 0)
		sks[0] |= SENSE_SKS_BPV | (uint8_t)(bit & 7);
	put_be16(sks + 1, (uint16_t)byte);
	task->status = SCSI_STATUS_CHECK_CONDITION;
	if (in_cdb)
		scsi_sense_build(task->sense, &task->sense_len,
		    scsi_task_desc_sense(task), SK_ILLEGAL_REQUEST,
		    ASC_INVALID_FIELD_IN_CDB, false, 0, sks);
	else
		scsi_sense_build(task->sense, &task->sense_len,
		    scsi_task_desc_sense(task), SK_ILLEGAL_REQUEST,
		    ASC_INVALID_FIELD_IN_PARAM_LIST, false, 0, sks);
}

void
scsi_task_set_status(struct scsi_task *task, uint8_t status)
{
	task->status = status;
	task->sense_len = 0;
}
