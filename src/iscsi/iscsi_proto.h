/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * iSCSI wire layout (RFC 7143 11): the 48-byte Basic Header Segment, its
 * opcodes and flag bits, login status classes and details, Reject reasons,
 * task management function codes and responses, asynchronous events.
 * Only constants and byte offsets; fields are read with get_be*().
 */
#ifndef IETD_ISCSI_ISCSI_PROTO_H
#define IETD_ISCSI_ISCSI_PROTO_H

#include <stdint.h>

#define ISCSI_BHS_LEN 48
#define ISCSI_DIGEST_LEN 4
#define ISCSI_PAD 4                /* data segments end on 4 bytes */
#define ISCSI_AHS_MAX (255 * 4)    /* TotalAHSLength is in words */
#define ISCSI_DSL_MAX 0xffffffu    /* DataSegmentLength is 24 bits */
#define ISCSI_RSVD_TAG 0xffffffffu /* "no ITT/TTT" (RFC 7143 11.1) */
#define ISCSI_LOGIN_DSL_MAX 8192   /* MaxRecvDataSegmentLength default */
#define ISCSI_VERSION 0x00         /* RFC 7143 11.12.4 */

struct iscsi_bhs {
	uint8_t b[ISCSI_BHS_LEN];
};
_Static_assert(sizeof(struct iscsi_bhs) == ISCSI_BHS_LEN, "BHS is 48 bytes");

/* Byte offsets common to every BHS (RFC 7143 11.2.1). */
#define BHS_OPCODE 0 /* bit 6 = I, bits 0-5 = opcode */
#define BHS_FLAGS 1
#define BHS_TOTAL_AHS_LEN 4
#define BHS_DSL 5 /* 24 bits */
#define BHS_LUN 8 /* 8 bytes */
#define BHS_ITT 16
#define BHS_TTT 20   /* initiator PDUs: various */
#define BHS_CMDSN 24 /* initiator PDUs */
#define BHS_EXP_STATSN 28
#define BHS_STATSN 24 /* target PDUs */
#define BHS_EXP_CMDSN 28
#define BHS_MAX_CMDSN 32

#define ISCSI_OPCODE_MASK 0x3f
#define ISCSI_OP_IMMEDIATE 0x40

/* Initiator opcodes (RFC 7143 11.2.1.2). */
#define ISCSI_OP_NOP_OUT 0x00
#define ISCSI_OP_SCSI_CMD 0x01
#define ISCSI_OP_TMF_REQ 0x02
#define ISCSI_OP_LOGIN_REQ 0x03
#define ISCSI_OP_TEXT_REQ 0x04
#define ISCSI_OP_DATA_OUT 0x05
#define ISCSI_OP_LOGOUT_REQ 0x06
#define ISCSI_OP_SNACK 0x10
/* Target opcodes. */
#define ISCSI_OP_NOP_IN 0x20
#define ISCSI_OP_SCSI_RSP 0x21
#define ISCSI_OP_TMF_RSP 0x22
#define ISCSI_OP_LOGIN_RSP 0x23
#define ISCSI_OP_TEXT_RSP 0x24
#define ISCSI_OP_DATA_IN 0x25
#define ISCSI_OP_LOGOUT_RSP 0x26
#define ISCSI_OP_R2T 0x31
#define ISCSI_OP_ASYNC 0x32
#define ISCSI_OP_REJECT 0x3f

#define ISCSI_FLAG_FINAL 0x80    /* F */
#define ISCSI_FLAG_CONTINUE 0x40 /* C in Text / Login */

/* SCSI Command (RFC 7143 11.3). */
#define SCSI_CMD_FLAG_READ 0x40
#define SCSI_CMD_FLAG_WRITE 0x20
#define SCSI_CMD_ATTR_MASK 0x07
#define SCSI_CMD_EDTL 20
#define SCSI_CMD_CDB 32
#define SCSI_CMD_CDB_LEN 16

/* AHS types (RFC 7143 11.2.2). */
#define ISCSI_AHS_EXT_CDB 1
#define ISCSI_AHS_BIDI_READ_LEN 2
#define ISCSI_AHS_HDR_LEN 4 /* AHSLength(2) type(1) reserved(1) */
/* What AHSLength leaves out: itself and AHSType (RFC 7143 11.2.2.1). */
#define ISCSI_AHS_LEN_TYPE 3

/* SCSI Response (RFC 7143 11.4). */
#define SCSI_RSP_FLAG_BIDI_OVERFLOW 0x10  /* o */
#define SCSI_RSP_FLAG_BIDI_UNDERFLOW 0x08 /* u */
#define SCSI_RSP_FLAG_OVERFLOW 0x04       /* O */
#define SCSI_RSP_FLAG_UNDERFLOW 0x02      /* U */
#define SCSI_RSP_RESPONSE 2
#define SCSI_RSP_STATUS 3
#define SCSI_RSP_EXP_DATASN 36
#define SCSI_RSP_BIDI_RESID 40
#define SCSI_RSP_RESID 44
#define ISCSI_RESPONSE_COMPLETED 0x00
#define ISCSI_RESPONSE_TARGET_FAILURE 0x01

/* Data-In / Data-Out (RFC 7143 11.7, 11.8). */
#define DATA_FLAG_ACK 0x40 /* A */
#define DATA_FLAG_OVERFLOW 0x04
#define DATA_FLAG_UNDERFLOW 0x02
#define DATA_FLAG_STATUS 0x01 /* S */
#define DATA_STATUS 3
#define DATA_DATASN 36
#define DATA_BUFFER_OFFSET 40
#define DATA_RESID 44

/* R2T (RFC 7143 11.8). */
#define R2T_R2TSN 36
#define R2T_BUFFER_OFFSET 40
#define R2T_DESIRED_LEN 44

/* Task management (RFC 7143 11.5, 11.6; RFC 7144 4). */
#define TMF_FUNC_MASK 0x7f
#define TMF_REF_TASK_TAG 20
#define TMF_REF_CMDSN 32
#define TMF_EXP_DATASN 36
#define TMF_RSP_RESPONSE 2
#define TMF_ABORT_TASK 1
#define TMF_ABORT_TASK_SET 2
#define TMF_CLEAR_ACA 3
#define TMF_CLEAR_TASK_SET 4
#define TMF_LOGICAL_UNIT_RESET 5
#define TMF_TARGET_WARM_RESET 6
#define TMF_TARGET_COLD_RESET 7
#define TMF_TASK_REASSIGN 8
#define TMF_QUERY_TASK 9 /* RFC 7144 */
#define TMF_QUERY_TASK_SET 10
#define TMF_I_T_NEXUS_RESET 11
#define TMF_QUERY_ASYNC_EVENT 12
#define TMF_RSP_COMPLETE 0
#define TMF_RSP_NO_TASK 1
#define TMF_RSP_NO_LUN 2
#define TMF_RSP_ALLEGIANT 3
#define TMF_RSP_NO_REASSIGN 4
#define TMF_RSP_NOT_SUPPORTED 5
#define TMF_RSP_AUTH_FAILED 6
#define TMF_RSP_SUCCEEDED 7 /* RFC 7144 4.1 */
#define TMF_RSP_REJECTED 255

/* Login (RFC 7143 11.12, 11.13). */
#define LOGIN_FLAG_TRANSIT 0x80  /* T */
#define LOGIN_FLAG_CONTINUE 0x40 /* C */
#define LOGIN_CSG_SHIFT 2
#define LOGIN_STAGE_MASK 0x03
#define LOGIN_STAGE_SECURITY 0
#define LOGIN_STAGE_OPERATIONAL 1
#define LOGIN_STAGE_FFP 3
#define LOGIN_VERSION_MAX 2
#define LOGIN_VERSION_MIN 3 /* request; response: VersionActive */
#define LOGIN_ISID 8        /* 6 bytes */
#define LOGIN_TSIH 14
#define LOGIN_CID 20
#define LOGIN_STATUS_CLASS 36
#define LOGIN_STATUS_DETAIL 37
#define ISCSI_ISID_LEN 6

/* Login status: class << 8 | detail (RFC 7143 11.13.5). */
#define LOGIN_STATUS(c, d) ((uint16_t)((c) << 8 | (d)))
#define LOGIN_OK LOGIN_STATUS(0x00, 0x00)
#define LOGIN_REDIRECT_TEMP LOGIN_STATUS(0x01, 0x01)
#define LOGIN_ERR_INITIATOR LOGIN_STATUS(0x02, 0x00)
#define LOGIN_ERR_AUTH_FAILED LOGIN_STATUS(0x02, 0x01)
#define LOGIN_ERR_NOT_AUTHORIZED LOGIN_STATUS(0x02, 0x02)
#define LOGIN_ERR_TARGET_NOT_FOUND LOGIN_STATUS(0x02, 0x03)
#define LOGIN_ERR_TARGET_REMOVED LOGIN_STATUS(0x02, 0x04)
#define LOGIN_ERR_UNSUPPORTED_VERSION LOGIN_STATUS(0x02, 0x05)
#define LOGIN_ERR_TOO_MANY_CONNECTIONS LOGIN_STATUS(0x02, 0x06)
#define LOGIN_ERR_MISSING_PARAMETER LOGIN_STATUS(0x02, 0x07)
#define LOGIN_ERR_NO_SESSION_SPANNING LOGIN_STATUS(0x02, 0x08)
#define LOGIN_ERR_SESSION_TYPE LOGIN_STATUS(0x02, 0x09)
#define LOGIN_ERR_SESSION_NOT_FOUND LOGIN_STATUS(0x02, 0x0a)
#define LOGIN_ERR_INVALID_REQUEST LOGIN_STATUS(0x02, 0x0b)
#define LOGIN_ERR_TARGET_ERROR LOGIN_STATUS(0x03, 0x00)
#define LOGIN_ERR_SERVICE_UNAVAILABLE LOGIN_STATUS(0x03, 0x01)
#define LOGIN_ERR_OUT_OF_RESOURCES LOGIN_STATUS(0x03, 0x02)

/* Text (RFC 7143 11.10). */
#define TEXT_FLAG_CONTINUE 0x40

/* Logout (RFC 7143 11.14, 11.15). */
#define LOGOUT_REASON_MASK 0x7f
#define LOGOUT_CLOSE_SESSION 0
#define LOGOUT_CLOSE_CONNECTION 1
#define LOGOUT_REMOVE_FOR_RECOVERY 2
#define LOGOUT_CID 20
#define LOGOUT_RSP_RESPONSE 2
#define LOGOUT_RSP_TIME2WAIT 40
#define LOGOUT_RSP_TIME2RETAIN 42
#define LOGOUT_RSP_SUCCESS 0
#define LOGOUT_RSP_CID_NOT_FOUND 1
#define LOGOUT_RSP_NO_RECOVERY 2
#define LOGOUT_RSP_CLEANUP_FAILED 3

/* Reject (RFC 7143 11.17.1). */
#define REJECT_REASON 2
#define REJECT_DATA_DIGEST 0x02
#define REJECT_SNACK 0x03
#define REJECT_PROTOCOL_ERROR 0x04
#define REJECT_CMD_NOT_SUPPORTED 0x05
#define REJECT_IMMEDIATE_REJECTED 0x06
#define REJECT_TASK_IN_PROGRESS 0x07
#define REJECT_INVALID_DATA_ACK 0x08
#define REJECT_INVALID_PDU_FIELD 0x09
#define REJECT_OUT_OF_RESOURCES 0x0a
#define REJECT_WAITING_FOR_LOGOUT 0x0c

/* Asynchronous Message (RFC 7143 11.9). */
#define ASYNC_EVENT 36
#define ASYNC_VCODE 37
#define ASYNC_PARAM1 38
#define ASYNC_PARAM2 40
#define ASYNC_PARAM3 42
#define ASYNC_EVENT_SCSI 0
#define ASYNC_EVENT_LOGOUT_REQUEST 1
#define ASYNC_EVENT_DROP_CONNECTION 2
#define ASYNC_EVENT_DROP_ALL 3
#define ASYNC_EVENT_NEGOTIATE 4

/* NOP (RFC 7143 11.18, 11.19). */
#define NOP_TTT 20

#endif /* IETD_ISCSI_ISCSI_PROTO_H */
