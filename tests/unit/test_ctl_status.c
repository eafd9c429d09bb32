/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Status text builders: the exact bytes of IET's /proc/net/iet/volume and
 * /proc/net/iet/session for a parsed configuration and a hand-made
 * session snapshot, the buffer's bound, and the atomic file replacement.
 */
#include <sys/stat.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl/ctl.h"
#include "util/alloc.h"

/* Build the model by hand: the parser would insist the paths exist. */
static struct conf_target *
target_add(struct conf *c, unsigned int tid, const char *name)
{
	struct conf_target *t = mem_zalloc(sizeof(*t));

	assert_non_null(t);
	t->tid = tid;
	t->name = mem_strdup(name);
	list_init(&t->incoming);
	list_init(&t->luns);
	list_add_tail(&c->targets, &t->node);
	return t;
}

static void
lun_add(struct conf_target *t, unsigned int lun, enum conf_lun_type type,
    const char *path, enum conf_iomode mode)
{
	struct conf_lun *l = mem_zalloc(sizeof(*l));

	assert_non_null(l);
	l->lun = lun;
	l->type = type;
	l->path = path != NULL ? mem_strdup(path) : NULL;
	l->iomode = mode;
	l->block_size = 512;
	list_add_tail(&t->luns, &l->node);
}

static struct conf *
load(void)
{
	struct conf *c = mem_zalloc(sizeof(*c));
	struct conf_target *t;

	assert_non_null(c);
	list_init(&c->incoming);
	list_init(&c->targets);
	t = target_add(c, 1, "iqn.2001-04.com.example:disk1");
	lun_add(t, 0, CONF_LUN_FILEIO, "/srv/disk1.img", CONF_IOMODE_WT);
	lun_add(t, 3, CONF_LUN_BLOCKIO, "/dev/sdb", CONF_IOMODE_WB);
	target_add(c, 2, "iqn.2001-04.com.example:empty");
	t = target_add(c, 3, "iqn.2001-04.com.example:null");
	lun_add(t, 1, CONF_LUN_NULLIO, NULL, CONF_IOMODE_WT);
	lun_add(t, 2, CONF_LUN_FILEIO, "/srv/with space.img", CONF_IOMODE_RO);
	return c;
}

static void
test_volume_format(void **state)
{
	struct conf *c = load();
	struct ctl_buf b;

	(void)state;
	ctl_buf_init(&b, 65536);
	assert_true(ctl_status_volume(c, NULL, &b));
	assert_string_equal(b.data,
	    "tid:1 name:iqn.2001-04.com.example:disk1\n"
	    "\tlun:0 state:0 iotype:fileio iomode:wt path:/srv/disk1.img\n"
	    "\tlun:3 state:0 iotype:blockio iomode:wb path:/dev/sdb\n"
	    "tid:2 name:iqn.2001-04.com.example:empty\n"
	    "tid:3 name:iqn.2001-04.com.example:null\n"
	    "\tlun:1 state:0 iotype:nullio iomode:wt\n"
	    "\tlun:2 state:0 iotype:fileio iomode:ro "
	    "path:/srv/with space.img\n");
	assert_int_equal(b.len, strlen(b.data));
	ctl_buf_fini(&b);
	conf_free(c);
}

/* A fake registry: tid 1 lun 0 has 131072 blocks, tid 3 lun 1 4 KiB ones. */
static bool
fake_size(unsigned int tid, unsigned int lun, uint64_t *blocks,
    unsigned int *block_size)
{
	if (tid == 1 && lun == 0) {
		*blocks = 131072;
		*block_size = 512;
		return true;
	}
	if (tid == 3 && lun == 1) {
		*blocks = 5000000000ULL; /* past 32 bits */
		*block_size = 4096;
		return true;
	}
	return false;
}

/* IET's later "blocks:N blocksize:B" fields, before path:, when known. */
static void
test_volume_blocks(void **state)
{
	struct conf *c = load();
	struct ctl_buf b;

	(void)state;
	ctl_buf_init(&b, 65536);
	assert_true(ctl_status_volume(c, fake_size, &b));
	assert_string_equal(b.data,
	    "tid:1 name:iqn.2001-04.com.example:disk1\n"
	    "\tlun:0 state:0 iotype:fileio iomode:wt blocks:131072 "
	    "blocksize:512 path:/srv/disk1.img\n"
	    "\tlun:3 state:0 iotype:blockio iomode:wb path:/dev/sdb\n"
	    "tid:2 name:iqn.2001-04.com.example:empty\n"
	    "tid:3 name:iqn.2001-04.com.example:null\n"
	    "\tlun:1 state:0 iotype:nullio iomode:wt blocks:5000000000 "
	    "blocksize:4096\n"
	    "\tlun:2 state:0 iotype:fileio iomode:ro "
	    "path:/srv/with space.img\n");
	ctl_buf_fini(&b);
	conf_free(c);
}

static void
test_volume_empty(void **state)
{
	struct conf *c = mem_zalloc(sizeof(*c));
	struct ctl_buf b;

	(void)state;
	assert_non_null(c);
	list_init(&c->incoming);
	list_init(&c->targets);
	ctl_buf_init(&b, 1024);
	assert_true(ctl_status_volume(c, NULL, &b));
	assert_non_null(b.data);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	ctl_buf_fini(&b);
	conf_free(c);
}

static void
test_session_format(void **state)
{
	struct conf *c = load();
	struct iscsi_session_info s[3];
	struct ctl_buf b;

	(void)state;
	memset(s, 0, sizeof(s));
	/* Given out of order: the builder groups them under their target. */
	s[0].tid = 3;
	s[0].sid = 281475010265088ULL;
	snprintf(s[0].initiator, sizeof(s[0].initiator), "iqn.x:v6");
	s[0].nconns = 1;
	s[0].conns[0].cid = 1;
	snprintf(s[0].conns[0].ip, sizeof(s[0].conns[0].ip), "fd00::5");
	s[0].conns[0].state = "closing";
	s[0].conns[0].data_digest = true;

	s[1].tid = 1;
	s[1].sid = 562949974196736ULL;
	snprintf(s[1].initiator, sizeof(s[1].initiator),
	    "iqn.1993-08.org.debian:01:abc");
	s[1].nconns = 2;
	s[1].conns[0].cid = 0;
	snprintf(s[1].conns[0].ip, sizeof(s[1].conns[0].ip), "192.168.0.5");
	s[1].conns[0].state = "active";
	s[1].conns[1].cid = 1;
	snprintf(s[1].conns[1].ip, sizeof(s[1].conns[1].ip), "192.168.0.6");
	s[1].conns[1].state = "active";
	s[1].conns[1].header_digest = true;

	s[2].tid = 9; /* a target not in the snapshot: not shown */
	s[2].sid = 1;

	ctl_buf_init(&b, 65536);
	assert_true(ctl_status_session(c, s, 3, &b));
	assert_string_equal(b.data,
	    "tid:1 name:iqn.2001-04.com.example:disk1\n"
	    "\tsid:562949974196736 initiator:iqn.1993-08.org.debian:01:abc\n"
	    "\t\tcid:0 ip:192.168.0.5 state:active hd:none dd:none\n"
	    "\t\tcid:1 ip:192.168.0.6 state:active hd:crc32c dd:none\n"
	    "tid:2 name:iqn.2001-04.com.example:empty\n"
	    "tid:3 name:iqn.2001-04.com.example:null\n"
	    "\tsid:281475010265088 initiator:iqn.x:v6\n"
	    "\t\tcid:1 ip:[fd00::5] state:closing hd:none dd:crc32c\n");
	ctl_buf_fini(&b);

	/*
	 * Whatever reaches the builder, a session stays one line: a name
	 * with a newline cannot forge a sid: or tid: line for the parsers.
	 */
	memset(s, 0, sizeof(s));
	s[0].tid = 2;
	s[0].sid = 7;
	snprintf(s[0].initiator, sizeof(s[0].initiator),
	    "iqn.x:a\n\tsid:1 initiator:forged\ntid:9 name:x");
	ctl_buf_init(&b, 65536);
	assert_true(ctl_status_session(c, s, 1, &b));
	assert_string_equal(b.data,
	    "tid:1 name:iqn.2001-04.com.example:disk1\n"
	    "tid:2 name:iqn.2001-04.com.example:empty\n"
	    "\tsid:7 initiator:iqn.x:a\\x0a\\x09sid:1 "
	    "initiator:forged\\x0atid:9 name:x\n"
	    "tid:3 name:iqn.2001-04.com.example:null\n");
	ctl_buf_fini(&b);

	/* No sessions at all: just the targets. */
	ctl_buf_init(&b, 65536);
	assert_true(ctl_status_session(c, NULL, 0, &b));
	assert_string_equal(b.data,
	    "tid:1 name:iqn.2001-04.com.example:disk1\n"
	    "tid:2 name:iqn.2001-04.com.example:empty\n"
	    "tid:3 name:iqn.2001-04.com.example:null\n");
	ctl_buf_fini(&b);
	conf_free(c);
}

static void
test_buf_bound(void **state)
{
	struct conf *c = load();
	struct ctl_buf b;

	(void)state;
	/* Too small for the text: the builder says so, nothing overflows. */
	ctl_buf_init(&b, 64);
	assert_false(ctl_status_volume(c, NULL, &b));
	assert_true(b.failed);
	assert_true(b.len <= 64);
	assert_false(ctl_buf_printf(&b, "x"));
	ctl_buf_fini(&b);

	ctl_buf_init(&b, 10);
	assert_true(ctl_buf_append(&b, "0123456789", 10));
	assert_int_equal(b.len, 10);
	assert_false(ctl_buf_append(&b, "a", 1));
	ctl_buf_fini(&b);

	/* Out of memory on the first growth. */
	ctl_buf_init(&b, 1024);
	alloc_fail_nth(1, 0);
	assert_false(ctl_buf_printf(&b, "%s", "text"));
	alloc_fail_nth(0, 0);
	assert_true(b.failed);
	ctl_buf_fini(&b);
	conf_free(c);
}

static void
test_status_write(void **state)
{
	char dir[] = "/tmp/ietd-status-XXXXXX";
	char path[64], buf[64];
	struct stat st;
	FILE *f;
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(ctl_status_write(dir, "volume", "one\n", 4), 0);
	assert_int_equal(ctl_status_write(dir, "volume", "two\nx\n", 6), 0);
	snprintf(path, sizeof(path), "%s/volume", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "two\nx\n", 6);
	/* No temporary file left behind. */
	snprintf(path, sizeof(path), "%s/.volume.tmp", dir);
	assert_int_not_equal(stat(path, &st), 0);
	/* A missing directory is an error, not a crash. */
	assert_int_equal(ctl_status_write("/nonexistent/dir", "volume", "x", 1),
	    -ENOENT);
	snprintf(path, sizeof(path), "%s/volume", dir);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_volume_format),
	    cmocka_unit_test(test_volume_blocks),
	    cmocka_unit_test(test_volume_empty),
	    cmocka_unit_test(test_session_format),
	    cmocka_unit_test(test_buf_bound),
	    cmocka_unit_test(test_status_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
