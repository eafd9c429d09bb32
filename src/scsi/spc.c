/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Commands for all device types (SPC-4): TEST UNIT READY, INQUIRY with
 * its VPD pages, REPORT LUNS, REQUEST SENSE, MODE SENSE/SELECT and the
 * MAINTENANCE IN service actions. All run inline, without backend I/O.
 */
#include <string.h>

#include "scsi/scsi_int.h"
#include "scsi/scsi_proto.h"
#include "util/be.h"

#define SCSI_VENDOR "IET     "
#define SCSI_PRODUCT "VIRTUAL-DISK    "
#define SCSI_REVISION "0001"
#define SCSI_VPD_MAX 1024
#define SCSI_MODE_MAX 512
/* Mode parameter block descriptors (SBC-4 6.4.2, 6.4.3). */
#define MODE_HDR_LONGLBA 0x01 /* MODE SELECT(10) header byte 4 */
#define MODE_BD_SHORT 8
#define MODE_BD_LONG 16
#define MODE_BD_SHORT_BLEN 5 /* LOGICAL BLOCK LENGTH, 3 bytes */
#define MODE_BD_LONG_BLEN 12 /* LOGICAL BLOCK LENGTH, 4 bytes */

void
scsi_task_data_in(struct scsi_task *task, const void *src, uint32_t len,
    uint32_t alloc)
{
	uint32_t n = len < alloc ? len : alloc;

	/*
	 * What the device server transfers is the smaller of what it has
	 * and the allocation length (SPC-4 4.2.5.6); the transport reports
	 * the rest of its expected length as underflow.
	 */
	task->xfer_len = n;
	if (n > task->data_len)
		n = task->data_len;
	if (n > 0 && task->data != NULL)
		memcpy(task->data, src, n);
	task->data_in_len = n;
}

void
scsi_spc_test_unit_ready(struct scsi_task *task, const uint64_t *luns,
    unsigned int n)
{
	(void)task;
	(void)luns;
	(void)n;
}

static unsigned int
scsi_inquiry_std(const struct scsi_task *task, uint8_t *b)
{
	static const uint16_t vd[] = {VD_SAM5, VD_ISCSI, VD_SPC4, VD_SBC3};
	unsigned int i;

	memset(b, 0, INQ_STD_LEN);
	if (task->lu == NULL)
		b[0] = INQ_PQ_NOT_CONNECTED | INQ_TYPE_UNKNOWN;
	else
		b[0] = INQ_TYPE_DISK;
	b[2] = INQ_VERSION_SPC4;
	b[3] = INQ_HISUP | INQ_RDF_SPC;
	b[4] = INQ_STD_LEN - 5;
	b[5] = scsi_alua_tpgs(task);
	b[7] = INQ_CMDQUE;
	memcpy(b + 8, SCSI_VENDOR, 8);
	memcpy(b + 16, SCSI_PRODUCT, 16);
	memcpy(b + 32, SCSI_REVISION, 4);
	for (i = 0; i < sizeof(vd) / sizeof(vd[0]); i++)
		put_be16(b + 58 + 2 * i, vd[i]);
	return INQ_STD_LEN;
}

/* Append one designator (SPC-4 7.8.6.1); returns the new length. */
static unsigned int
scsi_vpd_desig(uint8_t *b, unsigned int off, uint8_t codeset_proto,
    uint8_t piv_assoc_type, const void *id, unsigned int len,
    unsigned int pad_to)
{
	unsigned int plen = pad_to ? (len + pad_to - 1) / pad_to * pad_to : len;

	if (off + 4 + plen > SCSI_VPD_MAX)
		return off;
	b[off] = codeset_proto;
	b[off + 1] = piv_assoc_type;
	b[off + 3] = (uint8_t)plen;
	memset(b + off + 4, 0, plen);
	memcpy(b + off + 4, id, len);
	return off + 4 + plen;
}

static unsigned int
scsi_vpd_device_id(const struct scsi_task *task, uint8_t *b)
{
	const struct scsi_lu *lu = task->lu;
	const struct scsi_nexus *nx = task->nexus;
	uint8_t t10[8 + SCSI_ID_MAX];
	unsigned int off = 4, len;
	size_t idlen = strlen(lu->t10_id);

	off = scsi_vpd_desig(b, off, DESIG_CODESET_BINARY,
	    DESIG_ASSOC_LU | DESIG_TYPE_NAA, lu->naa, SCSI_NAA_LEN, 0);
	memcpy(t10, SCSI_VENDOR, 8);
	memcpy(t10 + 8, lu->t10_id, idlen);
	off = scsi_vpd_desig(b, off, DESIG_CODESET_ASCII,
	    DESIG_ASSOC_LU | DESIG_TYPE_T10, t10, (unsigned int)(8 + idlen), 0);
	if (nx != NULL) {
		uint8_t port[4] = {0};

		/* Target port: name, relative port, port group (7.8.6.2+). */
		len = (unsigned int)strnlen(nx->target_port,
			  sizeof(nx->target_port) - 1) +
		    1;
		off = scsi_vpd_desig(b, off,
		    DESIG_PROTO_ISCSI << 4 | DESIG_CODESET_UTF8,
		    DESIG_PIV | DESIG_ASSOC_PORT | DESIG_TYPE_SCSI_NAME,
		    nx->target_port, len, 4);
		put_be16(port + 2, nx->rel_port_id);
		off = scsi_vpd_desig(b, off,
		    DESIG_PROTO_ISCSI << 4 | DESIG_CODESET_BINARY,
		    DESIG_PIV | DESIG_ASSOC_PORT | DESIG_TYPE_REL_PORT, port, 4,
		    0);
		put_be16(port + 2, scsi_alua_group_id(nx));
		off = scsi_vpd_desig(b, off,
		    DESIG_PROTO_ISCSI << 4 | DESIG_CODESET_BINARY,
		    DESIG_PIV | DESIG_ASSOC_PORT | DESIG_TYPE_TPG, port, 4, 0);
	}
	if (lu->target_name[0] != '\0') {
		len = (unsigned int)strlen(lu->target_name) + 1;
		off = scsi_vpd_desig(b, off,
		    DESIG_PROTO_ISCSI << 4 | DESIG_CODESET_UTF8,
		    DESIG_PIV | DESIG_ASSOC_TARGET | DESIG_TYPE_SCSI_NAME,
		    lu->target_name, len, 4);
	}
	return off;
}

/* Build VPD page code into b; returns its length or 0 if unsupported. */
static unsigned int
scsi_vpd_page(struct scsi_task *task, uint8_t code, uint8_t *b)
{
	static const uint8_t pages[] = {VPD_SUPPORTED_PAGES, VPD_UNIT_SERIAL,
	    VPD_DEVICE_ID, VPD_THIRD_PARTY_COPY, VPD_BLOCK_LIMITS,
	    VPD_BLOCK_DEV_CHARS, VPD_LBP};
	struct scsi_lu *lu = task->lu;
	bool discard = backend_can_discard(lu->be);
	unsigned int len;

	memset(b, 0, SCSI_VPD_MAX);
	b[0] = INQ_TYPE_DISK;
	b[1] = code;
	switch (code) {
	case VPD_SUPPORTED_PAGES:
		memcpy(b + 4, pages, sizeof(pages));
		len = 4 + sizeof(pages);
		break;
	case VPD_UNIT_SERIAL:
		len = (unsigned int)strlen(lu->serial);
		memcpy(b + 4, lu->serial, len);
		len += 4;
		break;
	case VPD_DEVICE_ID:
		len = scsi_vpd_device_id(task, b);
		break;
	case VPD_THIRD_PARTY_COPY:
		len = 4 + scsi_xcopy_vpd(lu, b);
		break;
	case VPD_BLOCK_LIMITS:
		len = 64;
		/*
		 * WSNZ clear: WRITE SAME of 0 blocks writes to the last LBA
		 * (SBC-4 5.48).
		 */
		b[5] = BL_MAX_CAW_BLOCKS;
		/*
		 * OPTIMAL TRANSFER LENGTH GRANULARITY (SBC-4 6.6.4): one
		 * physical block (PhysicalBlockSize), in logical blocks.
		 */
		put_be16(b + 6, (uint16_t)(1u << lu->lbppb_exp));
		put_be32(b + 8, SCSI_XFER_MAX >> lu->block_shift);
		put_be32(b + 12, BL_OPT_XFER_BYTES >> lu->block_shift);
		if (discard) {
			put_be32(b + 20, BL_MAX_UNMAP_BLOCKS);
			put_be32(b + 24, BL_MAX_UNMAP_DESCS);
			put_be32(b + 28, 1);
		}
		put_be64(b + 36, BL_MAX_WS_BYTES >> lu->block_shift);
		/*
		 * MAXIMUM ATOMIC TRANSFER LENGTH; ATOMIC ALIGNMENT and
		 * ATOMIC TRANSFER LENGTH GRANULARITY 0 (none asked), and
		 * the WITH ATOMIC BOUNDARY maximum and boundary size 0 (not
		 * offered): atomic.c.
		 */
		put_be32(b + 44, BL_MAX_ATOMIC_BYTES >> lu->block_shift);
		break;
	case VPD_BLOCK_DEV_CHARS:
		len = 64;
		/* SANITIZE BLOCK ERASE: blocks read back (as zeros). */
		if (scsi_sanitize_supported(lu, SCSI_SANITIZE_BLOCK_ERASE))
			b[7] = BDC_WABEREQ_GOOD;
		break;
	case VPD_LBP:
		len = 8;
		if (discard) {
			b[5] = LBP_LBPU | LBP_LBPWS | LBP_LBPWS10;
			if (backend_discard_zeroes(lu->be))
				b[5] |= LBP_LBPRZ;
			b[6] = LBP_THIN;
		}
		break;
	default:
		return 0;
	}
	put_be16(b + 2, (uint16_t)(len - 4));
	return len;
}

void
scsi_spc_inquiry(struct scsi_task *task, const uint64_t *luns, unsigned int n)
{
	uint8_t b[SCSI_VPD_MAX];
	uint32_t alloc = get_be16(task->cdb + 3);
	unsigned int len;

	(void)luns;
	(void)n;
	if (!(task->cdb[1] & INQ_EVPD)) {
		if (task->cdb[2] != 0) {
			/* SPC-4 6.6.1: page code without EVPD. */
			scsi_task_sense_invalid_field(task, true, 2, -1);
			return;
		}
		len = scsi_inquiry_std(task, b);
		scsi_task_data_in(task, b, len, alloc);
		return;
	}
	if (task->lu == NULL) {
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_LU_NOT_SUPPORTED);
		return;
	}
	len = scsi_vpd_page(task, task->cdb[2], b);
	if (len == 0) {
		scsi_task_sense_invalid_field(task, true, 2, -1);
		return;
	}
	scsi_task_data_in(task, b, len, alloc);
}

void
scsi_spc_report_luns(struct scsi_task *task, const uint64_t *luns,
    unsigned int n)
{
	uint32_t alloc = get_be32(task->cdb + 6);
	uint8_t *b = task->data;
	uint32_t cap = task->data_len, want;
	uint8_t hdr[8];
	unsigned int i, count = 0;

	/* SPC-4 6.33: SELECT REPORT 00h, 01h (well known: none), 02h. */
	if (task->cdb[2] > 0x02) {
		scsi_task_sense_invalid_field(task, true, 2, -1);
		return;
	}
	if (alloc < 16) {
		scsi_task_sense_invalid_field(task, true, 6, -1);
		return;
	}
	if (task->cdb[2] != 0x01) {
		for (i = 0; i < n; i++)
			if (luns[i] <= LUN_FLAT_MAX)
				count++;
	}
	want = 8 + 8 * count;
	task->xfer_len = want < alloc ? want : alloc;
	if (cap > alloc)
		cap = alloc;
	memset(hdr, 0, sizeof(hdr));
	put_be32(hdr, 8 * count);
	if (b != NULL) {
		uint32_t off = 8;

		memcpy(b, hdr, cap < 8 ? cap : 8);
		for (i = 0; task->cdb[2] != 0x01 && i < n && off < cap; i++) {
			uint8_t ent[8];
			uint32_t k;

			if (luns[i] > LUN_FLAT_MAX)
				continue;
			memset(ent, 0, sizeof(ent));
			/* SAM-5 4.7: peripheral below 256, else flat space. */
			if (luns[i] < 256) {
				ent[1] = (uint8_t)luns[i];
			} else {
				ent[0] = (uint8_t)(LUN_FLAT_SPACE |
				    ((luns[i] >> 8) & 0x3f));
				ent[1] = (uint8_t)luns[i];
			}
			k = cap - off < 8 ? cap - off : 8;
			memcpy(b + off, ent, k);
			off += k;
		}
	}
	task->data_in_len = want < cap ? want : cap;
	if (b == NULL)
		task->data_in_len = 0;
}

void
scsi_spc_request_sense(struct scsi_task *task, const uint64_t *luns,
    unsigned int n)
{
	uint8_t b[SCSI_SENSE_MAX];
	unsigned int len;
	bool desc = task->cdb[1] & CDB_REQSENSE_DESC;
	struct scsi_lu *lu = task->lu;

	(void)luns;
	(void)n;
	if (lu == NULL) {
		scsi_sense_build(b, &len, desc, SK_ILLEGAL_REQUEST,
		    ASC_LU_NOT_SUPPORTED, false, 0, NULL);
	} else {
		struct scsi_ua ua = {0, 0};
		bool have = false;

		/* SPC-4 6.39: a pending UA is reported and cleared here. */
		pthread_mutex_lock(&lu->lock);
		{
			struct scsi_itl *itl =
			    scsi_itl_find(lu, scsi_task_nexus_id(task), false);

			if (itl != NULL)
				have = scsi_itl_ua_pop(itl, &ua);
		}
		pthread_mutex_unlock(&lu->lock);
		if (have)
			scsi_sense_build(b, &len, desc, SK_UNIT_ATTENTION,
			    ua.asc, ua.ascq, false, 0, NULL);
		else if (scsi_sanitize_sense(lu, desc, b, &len))
			; /* SBC-4 4.11.2: the progress of the sanitize */
		else
			scsi_sense_build(b, &len, desc, SK_NO_SENSE,
			    ASC_NO_ADDITIONAL_SENSE, false, 0, NULL);
	}
	scsi_task_data_in(task, b, len, task->cdb[4]);
}

/* Mode pages: bytes for page code at pc, into b; returns length or 0. */
static unsigned int
scsi_mode_page(struct scsi_lu *lu, uint8_t code, unsigned int pc, uint8_t *b)
{
	bool wce = pc == MODE_PC_CURRENT ? lu->wce : lu->wce_default;
	bool dsense = pc == MODE_PC_CURRENT ? lu->d_sense : false;
	bool swp = pc == MODE_PC_CURRENT ? lu->swp : false;

	switch (code) {
	case MODE_PAGE_RW_RECOVERY:
		memset(b, 0, 12);
		b[0] = code;
		b[1] = 10;
		return 12;
	case MODE_PAGE_CACHING:
		memset(b, 0, 20);
		b[0] = code;
		b[1] = 18;
		if (pc == MODE_PC_CHANGEABLE)
			b[2] = MODE_CACHING_WCE;
		else if (wce)
			b[2] = MODE_CACHING_WCE;
		return 20;
	case MODE_PAGE_CONTROL:
		memset(b, 0, 12);
		b[0] = code;
		b[1] = 10;
		if (pc == MODE_PC_CHANGEABLE) {
			b[2] = MODE_CONTROL_D_SENSE;
			b[4] = MODE_CONTROL_SWP;
		} else {
			if (dsense)
				b[2] |= MODE_CONTROL_D_SENSE;
			if (swp)
				b[4] |= MODE_CONTROL_SWP;
			/* Unrestricted reordering allowed (QAM 1h). */
			b[3] = 0x10;
			/*
			 * TAS: a task aborted by another nexus's reset ends
			 * with TASK ABORTED (scsi_lu_abort_others).
			 */
			b[5] = MODE_CONTROL_TAS;
			put_be16(b + 8, 0xffff); /* busy timeout: none */
		}
		return 12;
	case MODE_PAGE_INFO_EXCEPT:
		memset(b, 0, 12);
		b[0] = code;
		b[1] = 10;
		return 12;
	}
	return 0;
}

void
scsi_spc_mode_sense(struct scsi_task *task, const uint64_t *luns,
    unsigned int n)
{
	static const uint8_t all[] = {MODE_PAGE_RW_RECOVERY, MODE_PAGE_CACHING,
	    MODE_PAGE_CONTROL, MODE_PAGE_INFO_EXCEPT};
	struct scsi_lu *lu = task->lu;
	bool ten = task->cdb[0] == SCSI_OP_MODE_SENSE_10;
	bool dbd = task->cdb[1] & MODE_DBD;
	bool llba = ten && (task->cdb[1] & MODE_LLBAA);
	unsigned int pc = task->cdb[2] >> 6, code = task->cdb[2] & 0x3f;
	uint8_t sub = task->cdb[3];
	uint32_t alloc = ten ? get_be16(task->cdb + 7) : task->cdb[4];
	unsigned int hdr = ten ? 8 : 4, bdl = 0, off, k;
	uint8_t b[SCSI_MODE_MAX];
	bool wp;

	(void)luns;
	(void)n;
	memset(b, 0, sizeof(b));
	if (sub != 0 && !(sub == MODE_SUBPAGE_ALL && code == MODE_PAGE_ALL)) {
		scsi_task_sense_invalid_field(task, true, 3, -1);
		return;
	}
	/*
	 * SPC-4 6.13 (PC 11b, saved values): no page is saveable here, and a
	 * device server without saved values answers SAVING PARAMETERS NOT
	 * SUPPORTED rather than inventing them.
	 */
	if (pc == MODE_PC_SAVED) {
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_SAVING_PARAMS_UNSUPPORTED);
		return;
	}
	off = hdr;
	if (!dbd) {
		uint64_t blocks =
		    __atomic_load_n(&lu->blocks, __ATOMIC_RELAXED);
		if (llba) {
			bdl = 16;
			put_be64(b + off, blocks);
			put_be32(b + off + 12, lu->block_size);
		} else {
			bdl = 8;
			put_be32(b + off,
			    blocks > UINT32_MAX ? UINT32_MAX
						: (uint32_t)blocks);
			put_be24(b + off + 5, lu->block_size);
		}
		off += bdl;
	}
	pthread_mutex_lock(&lu->lock);
	if (code == MODE_PAGE_ALL) {
		for (unsigned int i = 0; i < sizeof(all); i++)
			off += scsi_mode_page(lu, all[i], pc, b + off);
		k = 1;
	} else {
		k = scsi_mode_page(lu, (uint8_t)code, pc, b + off);
		off += k;
	}
	pthread_mutex_unlock(&lu->lock);
	if (k == 0) {
		scsi_task_sense_invalid_field(task, true, 2, 5);
		return;
	}
	/* SBC-4 6.5.1: WP when read-only or SWP; we honour DPO and FUA. */
	wp = lu->read_only || __atomic_load_n(&lu->swp, __ATOMIC_RELAXED);
	if (ten) {
		put_be16(b, (uint16_t)(off - 2));
		b[3] = MODE_DSP_DPOFUA | (wp ? MODE_DSP_WP : 0);
		if (llba && bdl)
			b[4] = MODE_HDR_LONGLBA;
		put_be16(b + 6, (uint16_t)bdl);
	} else {
		b[0] = (uint8_t)(off - 1);
		b[2] = MODE_DSP_DPOFUA | (wp ? MODE_DSP_WP : 0);
		b[3] = (uint8_t)bdl;
	}
	scsi_task_data_in(task, b, off, alloc);
}

/*
 * MODE SELECT (SPC-4 6.11): only WCE (caching page), D_SENSE and SWP
 * (control page) may change; any other difference from the current value is
 * INVALID FIELD IN PARAMETER LIST pointing at the offending byte.
 */
void
scsi_spc_mode_select(struct scsi_task *task, const uint64_t *luns,
    unsigned int n)
{
	struct scsi_lu *lu = task->lu;
	bool ten = task->cdb[0] == SCSI_OP_MODE_SELECT_10;
	uint32_t plen = ten ? get_be16(task->cdb + 7) : task->cdb[4];
	unsigned int hdr = ten ? 8 : 4, bdl, off, i, k, dsz;
	const uint8_t *p = task->data;
	uint8_t cur[32], chg[32];
	bool wce, dsense, swp, changed = false;

	(void)luns;
	(void)n;
	task->xfer_len = plen;
	if (task->cdb[1] & MODE_SELECT_SP) {
		scsi_task_sense_invalid_field(task, true, 1, 0);
		return;
	}
	if (plen == 0)
		return;
	if (scsi_task_data_out_short(task, plen))
		return;
	if (plen < hdr) {
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	bdl = ten ? get_be16(p + 6) : p[3];
	off = hdr + bdl;
	if (off > plen) {
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	/*
	 * Block descriptors (SBC-4 6.4.2, 6.4.3) may only restate the
	 * LOGICAL BLOCK LENGTH: another length would mean reformatting,
	 * which is not offered. Zero leaves it as it is.
	 */
	dsz = ten && (p[4] & MODE_HDR_LONGLBA) ? MODE_BD_LONG : MODE_BD_SHORT;
	for (i = 0; i + dsz <= bdl; i += dsz) {
		unsigned int at = hdr + i +
		    (dsz == MODE_BD_LONG ? MODE_BD_LONG_BLEN
					 : MODE_BD_SHORT_BLEN);
		uint32_t bl =
		    dsz == MODE_BD_LONG ? get_be32(p + at) : get_be24(p + at);

		if (bl != 0 && bl != lu->block_size) {
			scsi_task_sense_invalid_field(task, false, at, -1);
			return;
		}
	}
	pthread_mutex_lock(&lu->lock);
	wce = lu->wce;
	dsense = lu->d_sense;
	swp = lu->swp;
	while (off < plen) {
		unsigned int code, len;

		if (off + 2 > plen)
			goto bad_len;
		code = p[off] & 0x3f;
		len = p[off + 1] + 2u;
		if (p[off] & MODE_PAGE_SPF) {
			pthread_mutex_unlock(&lu->lock);
			scsi_task_sense_invalid_field(task, false, off, 6);
			return;
		}
		if (off + len > plen)
			goto bad_len;
		k = scsi_mode_page(lu, (uint8_t)code, MODE_PC_CURRENT, cur);
		if (k != len) {
			/*
			 * SPC-4 6.11: a page we do not have points at its
			 * PAGE CODE (bits 5..0, so bit 5); a known page whose
			 * PAGE LENGTH differs from what MODE SENSE returns
			 * points at that length.
			 */
			pthread_mutex_unlock(&lu->lock);
			if (k == 0)
				scsi_task_sense_invalid_field(task, false, off,
				    5);
			else
				scsi_task_sense_invalid_field(task, false,
				    off + 1, -1);
			return;
		}
		scsi_mode_page(lu, (uint8_t)code, MODE_PC_CHANGEABLE, chg);
		for (i = 2; i < len; i++) {
			if ((p[off + i] ^ cur[i]) & ~chg[i]) {
				pthread_mutex_unlock(&lu->lock);
				scsi_task_sense_invalid_field(task, false,
				    off + i, -1);
				return;
			}
		}
		if (code == MODE_PAGE_CACHING)
			wce = p[off + 2] & MODE_CACHING_WCE;
		if (code == MODE_PAGE_CONTROL) {
			dsense = p[off + 2] & MODE_CONTROL_D_SENSE;
			swp = p[off + 4] & MODE_CONTROL_SWP;
		}
		off += len;
	}
	changed = wce != lu->wce || dsense != lu->d_sense || swp != lu->swp;
	/* Atomic: the data path reads these without the lock. */
	__atomic_store_n(&lu->wce, wce, __ATOMIC_RELAXED);
	__atomic_store_n(&lu->d_sense, dsense, __ATOMIC_RELAXED);
	__atomic_store_n(&lu->swp, swp, __ATOMIC_RELAXED);
	/* SPC-4 7.5.2: others learn that the mode parameters changed. */
	if (changed)
		scsi_lu_ua_all(lu, scsi_task_nexus_id(task), true,
		    ASC_MODE_PARAMETERS_CHANGED);
	pthread_mutex_unlock(&lu->lock);
	return;
bad_len:
	pthread_mutex_unlock(&lu->lock);
	scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
	    ASC_PARAMETER_LIST_LENGTH_ERROR);
}

#define RSTMF_REPD 0x80 /* CDB byte 2: extended parameter data */
#define RSTMF_EXT_LEN 16
#define RSTMF_EXT_ADDITIONAL 0x0c /* bytes after byte 3 in that format */

/*
 * REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS (SPC-4 6.37): the 4-byte
 * form, or with REPD the 16-byte form whose byte 1 reports the query
 * functions and I_T NEXUS RESET (none here) and byte 3 its length.
 */
static void
scsi_spc_report_tmfs(struct scsi_task *task)
{
	uint8_t b[RSTMF_EXT_LEN] = {0};
	bool repd = task->cdb[2] & RSTMF_REPD;

	/* ABORT TASK, ABORT TASK SET, LOGICAL UNIT RESET, TARGET RESET. */
	b[0] = 0x80 | 0x40 | 0x08 | 0x02;
	if (repd)
		b[3] = RSTMF_EXT_ADDITIONAL;
	scsi_task_data_in(task, b, repd ? RSTMF_EXT_LEN : 4,
	    get_be32(task->cdb + 6));
}

/* Commands with service actions: listed one descriptor per action. */
static const struct {
	uint8_t opcode;
	uint8_t sa;
} scsi_spc_sa_cmds[] = {
    {SCSI_OP_SERVICE_ACTION_IN_16, SCSI_SAI_READ_CAPACITY_16},
    {SCSI_OP_SERVICE_ACTION_IN_16, SCSI_SAI_GET_LBA_STATUS},
    {SCSI_OP_MAINTENANCE_IN, SCSI_MI_REPORT_SUPPORTED_OPCODES},
    {SCSI_OP_MAINTENANCE_IN, SCSI_MI_REPORT_SUPPORTED_TMFS},
    {SCSI_OP_SANITIZE, SCSI_SANITIZE_OVERWRITE},
    {SCSI_OP_SANITIZE, SCSI_SANITIZE_BLOCK_ERASE},
    {SCSI_OP_SANITIZE, SCSI_SANITIZE_EXIT_FAILURE_MODE},
    {SCSI_OP_EXTENDED_COPY, SCSI_XCOPY_LID1},
    {SCSI_OP_RECEIVE_COPY_RESULTS, SCSI_RCR_COPY_STATUS},
    {SCSI_OP_RECEIVE_COPY_RESULTS, SCSI_RCR_OPERATING_PARAMS},
    /* Only where the target has ALUA (alua.c); last, see below. */
    {SCSI_OP_MAINTENANCE_IN, SCSI_MI_REPORT_TARGET_PORT_GROUPS},
    {SCSI_OP_MAINTENANCE_OUT, SCSI_MO_SET_TARGET_PORT_GROUPS},
};
/* Index of the first ALUA-only entry: the last two. */
#define RSOC_SA_ALUA_FIRST \
	(sizeof(scsi_spc_sa_cmds) / sizeof(scsi_spc_sa_cmds[0]) - 2)

/* How many entries of scsi_spc_sa_cmds this task's nexus has. */
static size_t
scsi_spc_sa_count(const struct scsi_task *task)
{
	return scsi_alua_tpgs(task) != 0
	    ? sizeof(scsi_spc_sa_cmds) / sizeof(scsi_spc_sa_cmds[0])
	    : RSOC_SA_ALUA_FIRST;
}

#define RSOC_CTDP 0x02 /* command descriptor: timeouts follow */
#define RSOC_SERVACTV 0x01
#define RSOC_ONE_CTDP 0x80
#define RSOC_SUPPORTED 0x03 /* one command: supported as the standard */
#define RSOC_NOT_SUPPORTED 0x01
#define RSOC_TIMEOUTS_LEN 12
#define RSOC_ALL_DESC_LEN 8

static bool
scsi_spc_has_sa(uint8_t opcode)
{
	return opcode == SCSI_OP_SERVICE_ACTION_IN_16 ||
	    opcode == SCSI_OP_MAINTENANCE_IN || opcode == SCSI_OP_SANITIZE ||
	    opcode == SCSI_OP_EXTENDED_COPY ||
	    opcode == SCSI_OP_RECEIVE_COPY_RESULTS ||
	    opcode == SCSI_OP_MAINTENANCE_OUT;
}

static bool
scsi_spc_sa_known(const struct scsi_task *task, uint8_t opcode, uint8_t sa)
{
	size_t i;

	/* Which SANITIZE actions depend on the store (sanitize.c). */
	if (opcode == SCSI_OP_SANITIZE)
		return task->lu != NULL &&
		    scsi_sanitize_supported(task->lu, sa);

	for (i = 0; i < scsi_spc_sa_count(task); i++)
		if (scsi_spc_sa_cmds[i].opcode == opcode &&
		    scsi_spc_sa_cmds[i].sa == sa)
			return true;
	return false;
}

/*
 * Is opcode (without service action) one this LU runs? UNMAP exists only
 * where the store can discard; elsewhere it is refused as an invalid
 * opcode (sbc.c) and must not be reported as supported either.
 */
static bool
scsi_spc_op_supported(const struct scsi_task *task, uint8_t opcode)
{
	if (scsi_op_lookup(opcode) == NULL)
		return false;
	if (opcode == SCSI_OP_UNMAP)
		return task->lu != NULL && backend_can_discard(task->lu->be);
	return true;
}

/* Command timeouts descriptor (SPC-4 6.35.4): no limits advertised. */
static unsigned int
scsi_spc_timeouts(uint8_t *b)
{
	memset(b, 0, RSOC_TIMEOUTS_LEN);
	put_be16(b, RSOC_TIMEOUTS_LEN - 2);
	return RSOC_TIMEOUTS_LEN;
}

static unsigned int
scsi_spc_rsoc_desc(uint8_t *b, uint8_t opcode, bool servactv, uint8_t sa,
    unsigned int cdb_len, bool rctd)
{
	memset(b, 0, RSOC_ALL_DESC_LEN);
	b[0] = opcode;
	if (servactv) {
		put_be16(b + 2, sa);
		b[5] = RSOC_SERVACTV;
	}
	put_be16(b + 6, (uint16_t)cdb_len);
	if (!rctd)
		return RSOC_ALL_DESC_LEN;
	b[5] |= RSOC_CTDP;
	return RSOC_ALL_DESC_LEN + scsi_spc_timeouts(b + RSOC_ALL_DESC_LEN);
}

/* REPORT SUPPORTED OPERATION CODES (SPC-4 6.35). */
static void
scsi_spc_report_opcodes(struct scsi_task *task)
{
	uint8_t ropt = task->cdb[2] & 0x07, opc = task->cdb[3];
	uint16_t sa = get_be16(task->cdb + 4);
	bool rctd = task->cdb[2] & 0x80;
	uint32_t alloc = get_be32(task->cdb + 6);
	uint8_t one[4 + 16 + RSOC_TIMEOUTS_LEN];
	const struct scsi_op *op;
	unsigned int len;
	bool supported;

	if (ropt == 0) {
		uint8_t b[(RSOC_ALL_DESC_LEN + RSOC_TIMEOUTS_LEN) * 260 + 4];
		unsigned int i, off = 4;

		memset(b, 0, sizeof(b));
		for (i = 0; i < 256; i++) {
			op = scsi_op_lookup((uint8_t)i);
			if (!scsi_spc_op_supported(task, (uint8_t)i) ||
			    scsi_spc_has_sa((uint8_t)i))
				continue;
			off += scsi_spc_rsoc_desc(b + off, (uint8_t)i, false, 0,
			    op->cdb_len, rctd);
		}
		for (i = 0;
		     i < sizeof(scsi_spc_sa_cmds) / sizeof(scsi_spc_sa_cmds[0]);
		     i++) {
			/* The store's SANITIZE actions; ALUA's only with ALUA.
			 */
			if (!scsi_spc_sa_known(task, scsi_spc_sa_cmds[i].opcode,
				scsi_spc_sa_cmds[i].sa))
				continue;
			op = scsi_op_lookup(scsi_spc_sa_cmds[i].opcode);
			off += scsi_spc_rsoc_desc(b + off,
			    scsi_spc_sa_cmds[i].opcode, true,
			    scsi_spc_sa_cmds[i].sa, op->cdb_len, rctd);
		}
		put_be32(b, off - 4);
		scsi_task_data_in(task, b, off, alloc);
		return;
	}
	/* 001b: opcode without SA; 010b: opcode + SA; 011b: either. */
	if (ropt > 3 || (ropt == 1 && scsi_spc_has_sa(opc)) ||
	    (ropt == 2 && !scsi_spc_has_sa(opc))) {
		scsi_task_sense_invalid_field(task, true, 2, 2);
		return;
	}
	op = scsi_op_lookup(opc);
	supported = scsi_spc_op_supported(task, opc) &&
	    (!scsi_spc_has_sa(opc) ||
		scsi_spc_sa_known(task, opc, (uint8_t)sa));
	memset(one, 0, sizeof(one));
	if (!supported) {
		one[1] = RSOC_NOT_SUPPORTED;
		scsi_task_data_in(task, one, 4, alloc);
		return;
	}
	one[1] = RSOC_SUPPORTED;
	put_be16(one + 2, op->cdb_len);
	/* CDB usage map: every field we look at may be set. */
	memset(one + 4, 0xff, op->cdb_len);
	one[4] = opc;
	if (scsi_spc_has_sa(opc))
		one[5] = (uint8_t)(sa & 0x1f);
	one[4 + op->cdb_len - 1] = CDB_NACA ^ 0xff;
	len = 4u + op->cdb_len;
	if (rctd) {
		one[1] |= RSOC_ONE_CTDP;
		len += scsi_spc_timeouts(one + len);
	}
	scsi_task_data_in(task, one, len, alloc);
}

void
scsi_spc_maintenance_in(struct scsi_task *task, const uint64_t *luns,
    unsigned int n)
{
	(void)luns;
	(void)n;
	switch (task->cdb[1] & 0x1f) {
	case SCSI_MI_REPORT_SUPPORTED_OPCODES:
		scsi_spc_report_opcodes(task);
		break;
	case SCSI_MI_REPORT_SUPPORTED_TMFS:
		scsi_spc_report_tmfs(task);
		break;
	case SCSI_MI_REPORT_TARGET_PORT_GROUPS:
		scsi_alua_report(task);
		break;
	default:
		scsi_task_sense_invalid_field(task, true, 1, 4);
		break;
	}
}
