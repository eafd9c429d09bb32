/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Control socket wire format (ctl_proto.h): frame header bounds, request
 * and response building and parsing, and every kind of malformed input
 * the server must refuse without trusting a byte of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/ctl_proto.h"

static int
parse(const char *text, struct ctl_req *req)
{
	char why[128];

	return ctl_req_parse(text, strlen(text), req, why, sizeof(why));
}

static void
test_frame_len_bounds(void **state)
{
	uint8_t hdr[CTL_FRAME_HDR_LEN];
	size_t len = 7;

	(void)state;
	put_be32(hdr, 0);
	assert_int_equal(ctl_frame_len(hdr, CTL_REQ_MAX, &len), -EINVAL);
	assert_int_equal(len, 7);
	put_be32(hdr, 1);
	assert_int_equal(ctl_frame_len(hdr, CTL_REQ_MAX, &len), 0);
	assert_int_equal(len, 1);
	put_be32(hdr, CTL_REQ_MAX);
	assert_int_equal(ctl_frame_len(hdr, CTL_REQ_MAX, &len), 0);
	assert_int_equal(len, CTL_REQ_MAX);
	put_be32(hdr, CTL_REQ_MAX + 1);
	assert_int_equal(ctl_frame_len(hdr, CTL_REQ_MAX, &len), -EMSGSIZE);
	put_be32(hdr, UINT32_MAX);
	assert_int_equal(ctl_frame_len(hdr, CTL_RSP_MAX, &len), -EMSGSIZE);
	/* Big-endian: 00 00 01 00 is 256, not 65536. */
	memcpy(hdr, "\x00\x00\x01\x00", 4);
	assert_int_equal(ctl_frame_len(hdr, CTL_REQ_MAX, &len), 0);
	assert_int_equal(len, 256);
}

static void
test_frame_build_roundtrip(void **state)
{
	char buf[256];
	struct strbuf sb;
	struct ctl_req req;
	char why[64];
	size_t len = 0;

	(void)state;
	strbuf_init(&sb, buf, sizeof(buf));
	assert_true(ctl_frame_begin(&sb));
	assert_true(ctl_kv_add(&sb, CTL_K_OP, "new"));
	assert_true(ctl_kv_add(&sb, CTL_K_TID, "3"));
	assert_true(ctl_kv_add(&sb, CTL_K_LUN, "0"));
	assert_true(ctl_kv_add(&sb, CTL_K_PARAMS, "Path=/x y,Type=fileio"));
	assert_true(ctl_kv_add(&sb, CTL_K_USER, "1"));
	assert_true(ctl_frame_end(&sb));
	assert_int_equal(ctl_frame_len((uint8_t *)buf, CTL_REQ_MAX, &len), 0);
	assert_int_equal(len, sb.len - CTL_FRAME_HDR_LEN);
	assert_memory_equal(buf + 4,
	    "version=1\nop=new\ntid=3\nlun=0\nparams=Path=/x y,Type=fileio\n"
	    "user=1\n",
	    len);
	assert_int_equal(ctl_req_parse(buf + 4, len, &req, why, sizeof(why)),
	    0);
	assert_string_equal(req.op, "new");
	assert_true(req.has_tid);
	assert_string_equal(req.tid, "3");
	assert_true(req.has_lun);
	assert_string_equal(req.lun, "0");
	assert_string_equal(req.params, "Path=/x y,Type=fileio");
	assert_true(req.user);
	assert_false(req.dump);
	assert_false(req.has_sid);
	assert_false(req.has_cid);
	assert_false(req.has_status);
}

static void
test_kv_add_refuses_control_bytes(void **state)
{
	char buf[64];
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, buf, sizeof(buf));
	assert_false(ctl_kv_add(&sb, CTL_K_PARAMS, "a=b\nop=delete"));
	assert_false(ctl_kv_add(&sb, CTL_K_PARAMS, "a\tb"));
	assert_int_equal(sb.len, 0);
	/* Too long for the buffer: refused, the overflow flag sticks. */
	assert_false(ctl_kv_add(&sb, CTL_K_PARAMS,
	    "0123456789012345678901234567890123456789012345678901234567890"));
	assert_false(ctl_frame_end(&sb));
}

static void
test_req_parse_good(void **state)
{
	struct ctl_req req;

	(void)state;
	assert_int_equal(parse("version=1\nop=show\ndump=1\n", &req), 0);
	assert_string_equal(req.op, "show");
	assert_true(req.dump);
	assert_int_equal(parse("version=1\nop=show\nstatus=volume\n", &req), 0);
	assert_true(req.has_status);
	assert_string_equal(req.status, "volume");
	/* Values may hold '=' (params) and be empty. */
	assert_int_equal(
	    parse("version=1\nop=update\ntid=iqn.x:y\nparams=A=1,B=2\n", &req),
	    0);
	assert_string_equal(req.tid, "iqn.x:y");
	assert_string_equal(req.params, "A=1,B=2");
	assert_int_equal(parse("version=1\nop=delete\nsid=\n", &req), 0);
	assert_true(req.has_sid);
	assert_string_equal(req.sid, "");
	assert_int_equal(parse("version=1\nop=new\nuser=0\n", &req), 0);
	assert_false(req.user);
	/* A LUN rescan: update with a LUN and no params at all. */
	assert_int_equal(parse("version=1\nop=update\ntid=1\nlun=3\n", &req),
	    0);
	assert_true(req.has_lun);
	assert_string_equal(req.lun, "3");
	assert_false(req.has_params);
	assert_int_equal(parse("version=1\nop=update\ntid=1\nlun=3\n"
			       "params=Size=20G\n",
			     &req),
	    0);
	assert_string_equal(req.params, "Size=20G");
}

static void
test_req_parse_malformed(void **state)
{
	static const char *const bad[] = {
	    "",                                        /* nothing */
	    "op=show\n",                               /* no version */
	    "version=1\n",                             /* no op */
	    "version=1\nop=show",                      /* no final newline */
	    "version=1\nop=show\nbogus=1\n",           /* unknown key */
	    "version=1\nop=show\nop=new\n",            /* repeated */
	    "version=1\nop=show\ntid=1\ntid=2\n",      /* repeated */
	    "version=1\nop=show\nnoequals\n",          /* no '=' */
	    "version=1\nop=show\n=value\n",            /* empty key */
	    "version=1\nop=show\n\nop=new\n",          /* empty line */
	    "version=1\nop=show\ntid=1\r\n",           /* control byte */
	    "version=1\nop=waytoolongoperationname\n", /* too long */
	    "version=1\nversion=1\nop=show\n",
	};
	struct ctl_req req;
	char why[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(ctl_req_parse(bad[i], strlen(bad[i]), &req,
				     why, sizeof(why)),
		    -EINVAL);
		assert_true(why[0] != '\0');
	}
	assert_int_equal(ctl_req_parse("version=2\nop=show\n", 18, &req, why,
			     sizeof(why)),
	    -EPROTO);
	assert_string_equal(why, "unsupported protocol version 2");
	/* A NUL byte inside the payload. */
	assert_int_equal(ctl_req_parse("version=1\nop=sh\0w\n", 18, &req, why,
			     sizeof(why)),
	    -EINVAL);
}

static void
test_req_parse_value_limit(void **state)
{
	static char text[CTL_REQ_VAL_MAX + 64];
	struct ctl_req req;
	char why[128];
	size_t n;

	(void)state;
	/* The longest params value that fits, then one byte more. */
	n = (size_t)snprintf(text, sizeof(text), "version=1\nop=new\nparams=");
	memset(text + n, 'x', CTL_REQ_VAL_MAX - 1);
	text[n + CTL_REQ_VAL_MAX - 1] = '\n';
	assert_int_equal(ctl_req_parse(text, n + CTL_REQ_VAL_MAX, &req, why,
			     sizeof(why)),
	    0);
	assert_int_equal(strlen(req.params), CTL_REQ_VAL_MAX - 1);
	memset(text + n, 'x', CTL_REQ_VAL_MAX);
	text[n + CTL_REQ_VAL_MAX] = '\n';
	assert_int_equal(ctl_req_parse(text, n + CTL_REQ_VAL_MAX + 1, &req, why,
			     sizeof(why)),
	    -EINVAL);
}

static void
test_rsp_parse(void **state)
{
	static const char ok[] = "version=1\nstatus=0\n\nMaxSessions=0\n";
	static const char err[] =
	    "version=1\nstatus=2\nmessage=no target with tid 3\n\n";
	struct ctl_rsp rsp;

	(void)state;
	assert_int_equal(ctl_rsp_parse(ok, strlen(ok), &rsp), 0);
	assert_int_equal(rsp.status, 0);
	assert_null(rsp.message);
	assert_int_equal(rsp.blen, strlen("MaxSessions=0\n"));
	assert_memory_equal(rsp.body, "MaxSessions=0\n", rsp.blen);

	assert_int_equal(ctl_rsp_parse(err, strlen(err), &rsp), 0);
	assert_int_equal(rsp.status, 2);
	assert_int_equal(rsp.mlen, strlen("no target with tid 3"));
	assert_memory_equal(rsp.message, "no target with tid 3", rsp.mlen);
	assert_int_equal(rsp.blen, 0);

	/* Body lines need not be key=value; "\tlun:0 ..." must survive. */
	assert_int_equal(ctl_rsp_parse("status=0\n\n\tlun:0 x\n", 19, &rsp), 0);
	assert_int_equal(rsp.blen, 9);

	assert_int_equal(ctl_rsp_parse("version=1\n\n", 11, &rsp), -EINVAL);
	assert_int_equal(ctl_rsp_parse("status=x\n\n", 10, &rsp), -EINVAL);
	assert_int_equal(ctl_rsp_parse("status=99999\n\n", 14, &rsp), -EINVAL);
	assert_int_equal(ctl_rsp_parse("status=0", 8, &rsp), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frame_len_bounds),
	    cmocka_unit_test(test_frame_build_roundtrip),
	    cmocka_unit_test(test_kv_add_refuses_control_bytes),
	    cmocka_unit_test(test_req_parse_good),
	    cmocka_unit_test(test_req_parse_malformed),
	    cmocka_unit_test(test_req_parse_value_limit),
	    cmocka_unit_test(test_rsp_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
