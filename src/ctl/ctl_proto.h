/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The control socket's wire format, shared by ietd's server (server.c) and
 * ietadm. A message is a frame: a 4-byte big-endian payload length, then
 * the payload. A request payload is "key=value\n" lines, the first being
 * "version=1". A response payload is header lines ("version=1",
 * "status=<errno or 0>", optionally "message=<one sentence>"), an empty
 * line, then the body: the text ietadm prints. Everything here is static
 * inline so ietadm links no ctl code.
 */
#ifndef IETD_CTL_CTL_PROTO_H
#define IETD_CTL_CTL_PROTO_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/be.h"
#include "util/str.h"

#define CTL_PROTO_VERSION 1
#define CTL_FRAME_HDR_LEN 4
/* A request is a handful of short lines; refuse anything bigger unread. */
#define CTL_REQ_MAX (16u * 1024u)
/* A dump of thousands of targets still fits. */
#define CTL_RSP_MAX (4u * 1024u * 1024u)
#define CTL_MSG_MAX 512 /* message= sentence, bytes */
/* Room for a response's header lines; the body gets the rest. */
#define CTL_RSP_HEAD_MAX (CTL_MSG_MAX + 64)
#define CTL_DEFAULT_SOCKET "/run/ietd.sock"
#define CTL_DEFAULT_STATUS_DIR "/run/ietd"

/* Request keys. */
#define CTL_K_VERSION "version"
#define CTL_K_OP "op"   /* new | delete | show | update */
#define CTL_K_TID "tid" /* number, or a target name */
#define CTL_K_SID "sid"
#define CTL_K_CID "cid"
#define CTL_K_LUN "lun"
#define CTL_K_USER "user"     /* "1": account operation */
#define CTL_K_PARAMS "params" /* k=v,k=v as given to --params */
#define CTL_K_DUMP "dump"     /* "1": running configuration */
#define CTL_K_STATUS "status" /* request: volume | session */
/* Response keys (status is shared with the request's status= key). */
#define CTL_K_MESSAGE "message"

#define CTL_OP_NEW "new"
#define CTL_OP_DELETE "delete"
#define CTL_OP_SHOW "show"
#define CTL_OP_UPDATE "update"
/*
 * For tests, root only: params "fail-alloc=N" makes the N-th allocation
 * after this request fail once (0 disarms); the answer's body says how
 * many allocations the previous arming failed ("hits=K").
 */
#define CTL_OP_DEBUG "debug"

/*
 * Read the frame header: the payload length, checked against max.
 * 0, -EINVAL for an empty payload, -EMSGSIZE over max.
 */
static inline int
ctl_frame_len(const uint8_t hdr[CTL_FRAME_HDR_LEN], size_t max, size_t *len)
{
	uint32_t n = get_be32(hdr);

	if (n == 0)
		return -EINVAL;
	if (n > max)
		return -EMSGSIZE;
	*len = n;
	return 0;
}

/* A value may not hold a newline or other control bytes. */
static inline bool
ctl_value_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/*
 * Append "key=value\n" to a request or response being built. False when
 * it does not fit or the value holds a control byte.
 */
static inline bool
ctl_kv_add(struct strbuf *sb, const char *key, const char *value)
{
	if (!ctl_value_ok(value, strlen(value)))
		return false;
	return strbuf_printf(sb, "%s=%s\n", key, value);
}

/*
 * Start a frame in sb: reserve the length header and write the version
 * line. Finish with ctl_frame_end(), which fills the header in.
 */
static inline bool
ctl_frame_begin(struct strbuf *sb)
{
	static const uint8_t zero[CTL_FRAME_HDR_LEN];

	if (!strbuf_append(sb, zero, sizeof(zero)))
		return false;
	return strbuf_printf(sb, "%s=%d\n", CTL_K_VERSION, CTL_PROTO_VERSION);
}

static inline bool
ctl_frame_end(struct strbuf *sb)
{
	if (sb->overflow || sb->len < CTL_FRAME_HDR_LEN)
		return false;
	put_be32((uint8_t *)sb->buf, (uint32_t)(sb->len - CTL_FRAME_HDR_LEN));
	return true;
}

/* One key=value line; key and value point into the payload. */
struct ctl_kv {
	const char *key;
	size_t klen;
	const char *val;
	size_t vlen;
};

/*
 * Take the next line of *p..end into kv. Returns 1 with a line, 0 at the
 * end or at an empty line (which ends a response header; *p is then past
 * it), -EINVAL when the line has no newline, no '=', an empty key or a
 * control byte.
 */
static inline int
ctl_kv_next(const char **p, const char *end, struct ctl_kv *kv)
{
	const char *s = *p, *nl, *eq;

	if (s >= end)
		return 0;
	nl = memchr(s, '\n', (size_t)(end - s));
	if (nl == NULL)
		return -EINVAL;
	*p = nl + 1;
	if (nl == s)
		return 0;
	eq = memchr(s, '=', (size_t)(nl - s));
	if (eq == NULL || eq == s)
		return -EINVAL;
	kv->key = s;
	kv->klen = (size_t)(eq - s);
	kv->val = eq + 1;
	kv->vlen = (size_t)(nl - eq - 1);
	if (!ctl_value_ok(kv->key, kv->klen) ||
	    !ctl_value_ok(kv->val, kv->vlen))
		return -EINVAL;
	return 1;
}

static inline bool
ctl_kv_is(const struct ctl_kv *kv, const char *key)
{
	return kv->klen == strlen(key) && memcmp(kv->key, key, kv->klen) == 0;
}

/* The fields a request may carry; absent ones are NULL. */
#define CTL_REQ_VAL_MAX 4096
struct ctl_req {
	char op[16];
	char tid[CTL_REQ_VAL_MAX];
	char sid[32];
	char cid[32];
	char lun[32];
	char params[CTL_REQ_VAL_MAX];
	char status[16];
	bool has_tid, has_sid, has_cid, has_lun, has_params, has_status;
	bool user;
	bool dump;
};

static inline int
ctl_req_field(char *dst, size_t cap, bool *has, const struct ctl_kv *kv)
{
	if (*has || kv->vlen >= cap)
		return -EINVAL; /* repeated, or too long */
	memcpy(dst, kv->val, kv->vlen);
	dst[kv->vlen] = '\0';
	*has = true;
	return 0;
}

/*
 * Parse a request payload. Unknown keys are errors, so a newer ietadm is
 * told plainly instead of being half obeyed. 0, or -EINVAL with a reason
 * in why.
 */
static inline int
ctl_req_parse(const char *buf, size_t len, struct ctl_req *req, char *why,
    size_t whylen)
{
	const char *p = buf, *end = buf + len;
	struct ctl_kv kv;
	bool has_version = false, has_op = false, has_user = false;
	bool has_dump = false;
	char tmp[8];
	int r;

	memset(req, 0, sizeof(*req));
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(why, whylen, "malformed request (NUL byte)");
		return -EINVAL;
	}
	while ((r = ctl_kv_next(&p, end, &kv)) != 0) {
		if (r < 0) {
			snprintf(why, whylen, "malformed request line");
			return -EINVAL;
		}
		if (ctl_kv_is(&kv, CTL_K_VERSION)) {
			r = ctl_req_field(tmp, sizeof(tmp), &has_version, &kv);
			if (r == 0 && strcmp(tmp, "1") != 0) {
				snprintf(why, whylen,
				    "unsupported protocol version %s", tmp);
				return -EPROTO;
			}
		} else if (ctl_kv_is(&kv, CTL_K_OP))
			r = ctl_req_field(req->op, sizeof(req->op), &has_op,
			    &kv);
		else if (ctl_kv_is(&kv, CTL_K_TID))
			r = ctl_req_field(req->tid, sizeof(req->tid),
			    &req->has_tid, &kv);
		else if (ctl_kv_is(&kv, CTL_K_SID))
			r = ctl_req_field(req->sid, sizeof(req->sid),
			    &req->has_sid, &kv);
		else if (ctl_kv_is(&kv, CTL_K_CID))
			r = ctl_req_field(req->cid, sizeof(req->cid),
			    &req->has_cid, &kv);
		else if (ctl_kv_is(&kv, CTL_K_LUN))
			r = ctl_req_field(req->lun, sizeof(req->lun),
			    &req->has_lun, &kv);
		else if (ctl_kv_is(&kv, CTL_K_PARAMS))
			r = ctl_req_field(req->params, sizeof(req->params),
			    &req->has_params, &kv);
		else if (ctl_kv_is(&kv, CTL_K_STATUS))
			r = ctl_req_field(req->status, sizeof(req->status),
			    &req->has_status, &kv);
		else if (ctl_kv_is(&kv, CTL_K_USER)) {
			r = ctl_req_field(tmp, sizeof(tmp), &has_user, &kv);
			req->user = r == 0 && strcmp(tmp, "1") == 0;
		} else if (ctl_kv_is(&kv, CTL_K_DUMP)) {
			r = ctl_req_field(tmp, sizeof(tmp), &has_dump, &kv);
			req->dump = r == 0 && strcmp(tmp, "1") == 0;
		} else {
			snprintf(why, whylen, "unknown request key");
			return -EINVAL;
		}
		if (r != 0) {
			snprintf(why, whylen, "malformed request field");
			return -EINVAL;
		}
	}
	if (p != end) {
		snprintf(why, whylen, "malformed request (empty line)");
		return -EINVAL;
	}
	if (!has_version || !has_op) {
		snprintf(why, whylen, "malformed request (no %s)",
		    has_version ? "op" : "version");
		return -EINVAL;
	}
	return 0;
}

/* A parsed response header; message points into the payload. */
struct ctl_rsp {
	int status;          /* 0 or a positive errno */
	const char *message; /* NULL when none */
	size_t mlen;
	const char *body;
	size_t blen;
};

/* Split a response payload into header and body. 0 or -EINVAL. */
static inline int
ctl_rsp_parse(const char *buf, size_t len, struct ctl_rsp *rsp)
{
	const char *p = buf, *end = buf + len;
	struct ctl_kv kv;
	bool has_status = false;
	uint64_t v;
	char tmp[16];
	int r;

	memset(rsp, 0, sizeof(*rsp));
	while ((r = ctl_kv_next(&p, end, &kv)) > 0) {
		if (ctl_kv_is(&kv, CTL_K_STATUS)) {
			if (kv.vlen >= sizeof(tmp))
				return -EINVAL;
			memcpy(tmp, kv.val, kv.vlen);
			tmp[kv.vlen] = '\0';
			if (str_to_u64(tmp, 0, 4095, false, &v) != 0)
				return -EINVAL;
			rsp->status = (int)v;
			has_status = true;
		} else if (ctl_kv_is(&kv, CTL_K_MESSAGE)) {
			rsp->message = kv.val;
			rsp->mlen = kv.vlen;
		}
		/* version and unknown header keys: ignored, for growth */
	}
	if (r < 0 || !has_status)
		return -EINVAL;
	rsp->body = p;
	rsp->blen = (size_t)(end - p);
	return 0;
}

#endif /* IETD_CTL_CTL_PROTO_H */
