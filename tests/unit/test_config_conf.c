/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * ietd.conf parser tests: every tests/config/bad/NAME.conf must report
 * exactly the lines of NAME.expect ("@FILE@" stands for the path loaded),
 * every tests/config/good/NAME.conf must load, write back and reload to an
 * equal conf, plus the key table, values, and out-of-memory at each step.
 * The config directory is tests/config (run from the top of the tree) or
 * $IETD_CONFIG_TESTDIR (that directory, or its good/ or bad/ subdirectory).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/conf.h"
#include "util/alloc.h"

#define MSGS_MAX 16384

/* Everything a load reported, one message per line. */
struct msgs {
	char text[MSGS_MAX];
	size_t len;
	unsigned int count;
};

static void
msgs_report(void *arg, const char *msg)
{
	struct msgs *m = arg;
	int n;

	m->count++;
	n = snprintf(m->text + m->len, sizeof(m->text) - m->len, "%s\n", msg);
	if (n > 0 && (size_t)n < sizeof(m->text) - m->len)
		m->len += (size_t)n;
}

static char *
read_whole(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long len;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	if (buf != NULL) {
		if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
			free(buf);
			buf = NULL;
		} else {
			buf[len] = '\0';
		}
	}
	fclose(f);
	if (lenp != NULL)
		*lenp = (size_t)len;
	return buf;
}

/* The directory holding good/ and bad/. */
static void
config_dir(char *out, size_t len)
{
	const char *env = getenv("IETD_CONFIG_TESTDIR");
	char probe[PATH_MAX];
	struct stat st;

	if (env == NULL || *env == '\0') {
		snprintf(out, len, "tests/config");
		return;
	}
	snprintf(probe, sizeof(probe), "%s/bad", env);
	if (stat(probe, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(out, len, "%s", env);
	else
		snprintf(out, len, "%s/..", env); /* given good/ or bad/ */
}

static int
conf_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && strcmp(d->d_name + n - 5, ".conf") == 0;
}

/* Replace each @FILE@ of text with path. */
static void
expand_file(const char *text, const char *path, char *out, size_t len)
{
	size_t o = 0;

	while (*text != '\0' && o + 1 < len) {
		if (strncmp(text, "@FILE@", 6) == 0) {
			int n = snprintf(out + o, len - o, "%s", path);
			if (n < 0 || (size_t)n >= len - o)
				break;
			o += (size_t)n;
			text += 6;
		} else {
			out[o++] = *text++;
		}
	}
	out[o] = '\0';
}

/* --- deep comparison ------------------------------------------------- */

static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool
accounts_eq(const struct list_node *a, const struct list_node *b)
{
	const struct list_node *x = a->next, *y = b->next;

	for (; x != a && y != b; x = x->next, y = y->next) {
		const struct conf_account *p =
		    list_entry(x, const struct conf_account, node);
		const struct conf_account *q =
		    list_entry(y, const struct conf_account, node);

		if (!str_eq(p->user, q->user) || !str_eq(p->secret, q->secret))
			return false;
	}
	return x == a && y == b;
}

static bool
account_eq(const struct conf_account *a, const struct conf_account *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return str_eq(a->user, b->user) && str_eq(a->secret, b->secret);
}

static bool
target_eq(const struct conf_target *a, const struct conf_target *b)
{
	const struct list_node *x, *y;

	if (!str_eq(a->name, b->name) || !str_eq(a->alias, b->alias) ||
	    a->tid != b->tid || !accounts_eq(&a->incoming, &b->incoming) ||
	    !account_eq(a->outgoing, b->outgoing) ||
	    memcmp(a->params, b->params, sizeof(a->params)) != 0 ||
	    memcmp(a->param_set, b->param_set, sizeof(a->param_set)) != 0)
		return false;
	for (x = a->luns.next, y = b->luns.next; x != &a->luns && y != &b->luns;
	     x = x->next, y = y->next) {
		const struct conf_lun *p =
		    list_entry(x, const struct conf_lun, node);
		const struct conf_lun *q =
		    list_entry(y, const struct conf_lun, node);

		if (p->lun != q->lun || p->type != q->type ||
		    !str_eq(p->path, q->path) ||
		    !str_eq(p->scsi_id, q->scsi_id) ||
		    !str_eq(p->scsi_sn, q->scsi_sn) || p->iomode != q->iomode ||
		    p->block_size != q->block_size ||
		    p->phys_block_size != q->phys_block_size ||
		    p->sectors != q->sectors)
			return false;
	}
	return x == &a->luns && y == &b->luns;
}

static bool
conf_eq(const struct conf *a, const struct conf *b)
{
	const struct list_node *x, *y;

	if (!accounts_eq(&a->incoming, &b->incoming) ||
	    !account_eq(a->outgoing, b->outgoing) ||
	    !str_eq(a->isns_server, b->isns_server) ||
	    a->isns_access_control != b->isns_access_control)
		return false;
	for (x = a->targets.next, y = b->targets.next;
	     x != &a->targets && y != &b->targets; x = x->next, y = y->next)
		if (!target_eq(list_entry(x, const struct conf_target, node),
			list_entry(y, const struct conf_target, node)))
			return false;
	return x == &a->targets && y == &b->targets;
}

static char *
conf_to_text(const struct conf *c, bool with_secrets, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	assert_non_null(f);
	conf_write(c, f, with_secrets);
	fclose(f);
	return text;
}

static struct conf *
load_text(const char *text, struct msgs *m)
{
	memset(m, 0, sizeof(*m));
	return conf_load_buf("t.conf", text, strlen(text), msgs_report, m);
}

/* --- the data-driven cases ------------------------------------------- */

static void
test_bad_files(void **state)
{
	char dir[PATH_MAX / 2], path[PATH_MAX], want[MSGS_MAX];
	struct dirent **ents;
	unsigned int failed = 0;
	int n;

	(void)state;
	config_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/bad", dir);
	n = scandir(path, &ents, conf_filter, alphasort);
	assert_true(n >= 30);
	for (int i = 0; i < n; i++) {
		struct msgs m = {.len = 0};
		struct conf *c;
		char *expect;
		size_t stem = strlen(ents[i]->d_name) - 5;

		snprintf(path, sizeof(path), "%s/bad/%.*s.expect", dir,
		    (int)stem, ents[i]->d_name);
		expect = read_whole(path, NULL);
		snprintf(path, sizeof(path), "%s/bad/%s", dir, ents[i]->d_name);
		if (expect == NULL) {
			fprintf(stderr, "%s: no .expect file\n", path);
			failed++;
			free(ents[i]);
			continue;
		}
		expand_file(expect, path, want, sizeof(want));
		c = conf_load(path, msgs_report, &m);
		if (c != NULL || strcmp(m.text, want) != 0 || m.count == 0) {
			fprintf(stderr, "%s: %s\n--- expected\n%s--- got\n%s",
			    path, c ? "loaded" : "wrong messages", want,
			    m.text);
			failed++;
		}
		conf_free(c);
		free(expect);
		free(ents[i]);
	}
	free(ents);
	assert_int_equal(failed, 0);
}

static void
test_good_files(void **state)
{
	char dir[PATH_MAX / 2], path[PATH_MAX];
	struct dirent **ents;
	unsigned int failed = 0;
	int n;

	(void)state;
	config_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/good", dir);
	n = scandir(path, &ents, conf_filter, alphasort);
	assert_true(n >= 5);
	for (int i = 0; i < n; i++) {
		struct msgs m = {.len = 0}, m2 = {.len = 0};
		struct conf *c, *c2;
		char *text;
		size_t len;

		snprintf(path, sizeof(path), "%s/good/%s", dir,
		    ents[i]->d_name);
		free(ents[i]);
		c = conf_load(path, msgs_report, &m);
		if (c == NULL || m.count != 0) {
			fprintf(stderr, "%s: failed to load:\n%s", path,
			    m.text);
			failed++;
			conf_free(c);
			continue;
		}
		/* Write it back and read that again: the same conf. */
		text = conf_to_text(c, true, &len);
		c2 = conf_load_buf("rewritten", text, len, msgs_report, &m2);
		if (c2 == NULL || !conf_eq(c, c2)) {
			fprintf(stderr, "%s: round trip differs:\n%s%s", path,
			    text, m2.text);
			failed++;
		}
		assert_string_equal(c->path, path);
		free(text);
		conf_free(c2);
		conf_free(c);
	}
	free(ents);
	assert_int_equal(failed, 0);
}

/* --- values ---------------------------------------------------------- */

static const struct conf_lun *
lun_at(const struct conf_target *t, unsigned int idx)
{
	const struct list_node *n = t->luns.next;

	while (idx-- > 0)
		n = n->next;
	return list_entry(n, const struct conf_lun, node);
}

static void
test_full_values(void **state)
{
	char dir[PATH_MAX / 2], path[PATH_MAX];
	struct msgs m = {.len = 0};
	const struct conf_target *t;
	const struct conf_account *a;
	const struct conf_lun *l;
	struct conf *c;

	(void)state;
	config_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/good/full.conf", dir);
	c = conf_load(path, msgs_report, &m);
	assert_non_null(c);
	assert_int_equal(list_count(&c->incoming), 2);
	a = list_first_entry(&c->incoming, struct conf_account, node);
	assert_string_equal(a->user, "disc-user1");
	assert_string_equal(a->secret, "discsecret1234");
	assert_non_null(c->outgoing);
	assert_string_equal(c->outgoing->user, "disc-out");
	assert_string_equal(c->isns_server, "192.0.2.10");
	assert_true(c->isns_access_control);
	assert_int_equal(list_count(&c->targets), 3);

	t = list_first_entry(&c->targets, struct conf_target, node);
	/* Kept as written, as IET did; lookups ignore case. */
	assert_string_equal(t->name, "iqn.2001-04.com.Example:Storage.Disk1");
	assert_int_equal(t->tid, 1);
	assert_int_equal(t->line, 8);
	assert_string_equal(t->alias, "disk1");
	a = list_first_entry(&t->incoming, struct conf_account, node);
	assert_string_equal(a->secret, "pass#word12345");
	assert_string_equal(t->outgoing->user, "jack");
	assert_int_equal(t->params[CONF_KEY_INITIAL_R2T], 0);
	assert_true(t->param_set[CONF_KEY_INITIAL_R2T]);
	assert_int_equal(t->params[CONF_KEY_IMMEDIATE_DATA], 1);
	assert_int_equal(t->params[CONF_KEY_MAX_RECV_DATA_SEGMENT_LENGTH],
	    262144);
	assert_int_equal(t->params[CONF_KEY_MAX_BURST_LENGTH], 1048576);
	assert_int_equal(t->params[CONF_KEY_MAX_OUTSTANDING_R2T], 8);
	assert_int_equal(t->params[CONF_KEY_HEADER_DIGEST],
	    CONF_DIGEST_CRC32C_NONE);
	assert_int_equal(t->params[CONF_KEY_DATA_DIGEST],
	    CONF_DIGEST_NONE_CRC32C);
	assert_int_equal(t->params[CONF_KEY_NOP_TIMEOUT], 30);
	assert_int_equal(t->params[CONF_KEY_WTHREADS], 16);
	assert_int_equal(t->params[CONF_KEY_QUEUED_COMMANDS], 128);
	/* LUNs sorted by number whatever the file order. */
	assert_int_equal(list_count(&t->luns), 3);
	l = lun_at(t, 0);
	assert_int_equal(l->lun, 0);
	assert_int_equal(l->line, 14);
	assert_int_equal(l->type, CONF_LUN_FILEIO);
	assert_string_equal(l->path, "/dev/null");
	assert_string_equal(l->scsi_id, "disk1-id");
	assert_string_equal(l->scsi_sn, "SN0001");
	assert_int_equal(l->iomode, CONF_IOMODE_WB);
	assert_int_equal(l->block_size, 512);
	l = lun_at(t, 1);
	assert_int_equal(l->lun, 1);
	assert_int_equal(l->type, CONF_LUN_BLOCKIO);
	assert_int_equal(l->iomode, CONF_IOMODE_RO);
	assert_int_equal(l->block_size, 1024);
	assert_null(l->scsi_id);
	l = lun_at(t, 2);
	assert_int_equal(l->lun, 3);
	assert_int_equal(l->type, CONF_LUN_NULLIO);
	assert_null(l->path);
	assert_int_equal(l->sectors, 1048576);
	assert_int_equal(l->block_size, 4096);

	t = list_entry(t->node.next, struct conf_target, node);
	assert_string_equal(t->name, "eui.0123456789ABCDEF");
	assert_int_equal(t->tid, 2);
	assert_null(t->alias);
	assert_null(t->outgoing);
	assert_true(list_empty(&t->incoming));
	/* The LUN line was continued with a backslash. */
	l = lun_at(t, 0);
	assert_int_equal(l->line, 38);
	assert_int_equal(l->iomode, CONF_IOMODE_RO);
	assert_int_equal(t->params[CONF_KEY_HEADER_DIGEST], CONF_DIGEST_CRC32C);
	assert_int_equal(t->params[CONF_KEY_DATA_DIGEST], CONF_DIGEST_NONE);
	assert_false(t->param_set[CONF_KEY_MAX_SESSIONS]);

	t = list_entry(t->node.next, struct conf_target, node);
	assert_string_equal(t->name, "naa.0123456789abcdef0123456789abcdef");
	assert_int_equal(t->tid, 3);
	assert_true(list_empty(&t->luns));

	assert_ptr_equal(conf_target_find(c, "EUI.0123456789ABCDEF"),
	    list_entry(c->targets.next->next, struct conf_target, node));
	assert_null(conf_target_find(c, "iqn.2001-04.com.example:nothere"));
	conf_free(c);
}

static void
test_defaults(void **state)
{
	struct msgs m;
	struct conf *c = load_text("Target iqn.2026-01.org.example:d\n", &m);
	const struct conf_target *t;

	(void)state;
	assert_non_null(c);
	assert_int_equal(m.count, 0);
	assert_true(list_empty(&c->incoming));
	assert_null(c->outgoing);
	assert_null(c->isns_server);
	assert_false(c->isns_access_control);
	t = list_first_entry(&c->targets, struct conf_target, node);
	assert_int_equal(t->params[CONF_KEY_MAX_CONNECTIONS], 1);
	assert_int_equal(t->params[CONF_KEY_MAX_SESSIONS], 0);
	assert_int_equal(t->params[CONF_KEY_INITIAL_R2T], 1);
	assert_int_equal(t->params[CONF_KEY_IMMEDIATE_DATA], 1);
	assert_int_equal(t->params[CONF_KEY_MAX_RECV_DATA_SEGMENT_LENGTH],
	    8192);
	assert_int_equal(t->params[CONF_KEY_MAX_XMIT_DATA_SEGMENT_LENGTH],
	    8192);
	assert_int_equal(t->params[CONF_KEY_MAX_BURST_LENGTH], 262144);
	assert_int_equal(t->params[CONF_KEY_FIRST_BURST_LENGTH], 65536);
	assert_int_equal(t->params[CONF_KEY_DEFAULT_TIME2WAIT], 2);
	assert_int_equal(t->params[CONF_KEY_DEFAULT_TIME2RETAIN], 20);
	assert_int_equal(t->params[CONF_KEY_MAX_OUTSTANDING_R2T], 1);
	assert_int_equal(t->params[CONF_KEY_DATA_PDU_IN_ORDER], 1);
	assert_int_equal(t->params[CONF_KEY_DATA_SEQUENCE_IN_ORDER], 1);
	assert_int_equal(t->params[CONF_KEY_ERROR_RECOVERY_LEVEL], 0);
	assert_int_equal(t->params[CONF_KEY_HEADER_DIGEST], CONF_DIGEST_NONE);
	assert_int_equal(t->params[CONF_KEY_DATA_DIGEST], CONF_DIGEST_NONE);
	assert_int_equal(t->params[CONF_KEY_NOP_INTERVAL], 0);
	assert_int_equal(t->params[CONF_KEY_NOP_TIMEOUT], 0);
	assert_int_equal(t->params[CONF_KEY_WTHREADS], 8);
	assert_int_equal(t->params[CONF_KEY_QUEUED_COMMANDS], 32);
	for (int k = 0; k < CONF_KEY_COUNT; k++)
		assert_false(t->param_set[k]);
	conf_free(c);
}

static void
test_key_table(void **state)
{
	char why[128], buf[32];
	uint32_t v = 7;

	(void)state;
	assert_int_equal(conf_key_find("maxburstlength"),
	    CONF_KEY_MAX_BURST_LENGTH);
	assert_int_equal(conf_key_find("NOPINTERVAL"), CONF_KEY_NOP_INTERVAL);
	assert_int_equal(conf_key_find("Lun"), CONF_KEY_COUNT);
	assert_int_equal(conf_key_find(""), CONF_KEY_COUNT);
	for (int k = 0; k < CONF_KEY_TABLE_LEN; k++) {
		const struct conf_key_def *d = &conf_key_defs[k];

		assert_non_null(d->name);
		assert_true(d->def >= d->min);
		assert_true(d->def <= d->max);
		/* A login matches names exactly: no two may be equal. */
		for (int j = 0; j < k; j++)
			assert_true(
			    strcmp(conf_key_defs[j].name, d->name) != 0);
		if (k < CONF_KEY_COUNT) {
			/* ietd.conf parses and writes these three kinds. */
			assert_int_equal(conf_key_find(d->name), k);
			assert_true(d->kind == CONF_KIND_NUMBER ||
			    d->kind == CONF_KIND_BOOL ||
			    d->kind == CONF_KIND_DIGEST);
		} else {
			/* Login-only keys have a rule and no ietd.conf line. */
			assert_int_not_equal(d->rule, CONF_RULE_NONE);
			assert_int_equal(conf_key_find(d->name),
			    CONF_KEY_COUNT);
			assert_int_equal(conf_key_parse((enum conf_key)k, "1",
					     &v, why, sizeof(why)),
			    -EINVAL);
			assert_string_equal(why, "unknown key");
		}
	}
	assert_int_equal(conf_key_find("iSCSIProtocolLevel"), CONF_KEY_COUNT);
	assert_int_equal(conf_key_find("TargetAlias"), CONF_KEY_COUNT);
	v = 7;
	assert_string_equal(conf_key_defs[CONF_KEY_MAX_RECV_DATA_SEGMENT_LENGTH]
				.name,
	    "MaxRecvDataSegmentLength");
	assert_string_equal(conf_key_defs[CONF_KEY_NOP_INTERVAL].name,
	    "NOPInterval");

	assert_int_equal(conf_key_parse(CONF_KEY_MAX_BURST_LENGTH, "512", &v,
			     why, sizeof(why)),
	    0);
	assert_int_equal(v, 512);
	assert_int_equal(conf_key_parse(CONF_KEY_MAX_BURST_LENGTH, "511", &v,
			     why, sizeof(why)),
	    -ERANGE);
	assert_string_equal(why, "expected 512 to 16777215");
	assert_int_equal(v, 512);
	assert_int_equal(conf_key_parse(CONF_KEY_MAX_BURST_LENGTH, "16777216",
			     &v, why, sizeof(why)),
	    -ERANGE);
	assert_int_equal(conf_key_parse(CONF_KEY_MAX_BURST_LENGTH, " 600", &v,
			     why, sizeof(why)),
	    -EINVAL);
	assert_int_equal(conf_key_parse(CONF_KEY_INITIAL_R2T, "nO", &v, why,
			     sizeof(why)),
	    0);
	assert_int_equal(v, 0);
	assert_int_equal(conf_key_parse(CONF_KEY_INITIAL_R2T, "YES", &v, why,
			     sizeof(why)),
	    0);
	assert_int_equal(v, 1);
	assert_int_equal(conf_key_parse(CONF_KEY_INITIAL_R2T, "true", &v, why,
			     sizeof(why)),
	    -EINVAL);
	assert_string_equal(why, "expected Yes or No");

	assert_int_equal(conf_key_parse(CONF_KEY_DATA_DIGEST, "crc32c", &v, why,
			     sizeof(why)),
	    0);
	assert_int_equal(v, CONF_DIGEST_CRC32C);
	assert_int_equal(conf_key_parse(CONF_KEY_DATA_DIGEST, " none ", &v, why,
			     sizeof(why)),
	    0);
	assert_int_equal(v, CONF_DIGEST_NONE);
	assert_int_equal(conf_key_parse(CONF_KEY_DATA_DIGEST, "None ,\tCRC32C",
			     &v, why, sizeof(why)),
	    0);
	assert_int_equal(v, CONF_DIGEST_NONE_CRC32C);
	assert_int_equal(conf_key_parse(CONF_KEY_DATA_DIGEST, "CRC32C,none", &v,
			     why, sizeof(why)),
	    0);
	assert_int_equal(v, CONF_DIGEST_CRC32C_NONE);
	assert_int_equal(conf_key_parse(CONF_KEY_DATA_DIGEST, "CRC32C,", &v,
			     why, sizeof(why)),
	    -EINVAL);
	assert_int_equal(conf_key_parse(CONF_KEY_DATA_DIGEST, "NoneX", &v, why,
			     sizeof(why)),
	    -EINVAL);
	assert_int_equal(conf_key_parse(CONF_KEY_DATA_DIGEST, "", &v, why,
			     sizeof(why)),
	    -EINVAL);

	assert_string_equal(conf_key_format(CONF_KEY_INITIAL_R2T, 0, buf,
				sizeof(buf)),
	    "No");
	assert_string_equal(conf_key_format(CONF_KEY_IMMEDIATE_DATA, 1, buf,
				sizeof(buf)),
	    "Yes");
	assert_string_equal(conf_key_format(CONF_KEY_HEADER_DIGEST,
				CONF_DIGEST_CRC32C_NONE, buf, sizeof(buf)),
	    "CRC32C,None");
	assert_string_equal(conf_key_format(CONF_KEY_DATA_DIGEST,
				CONF_DIGEST_NONE_CRC32C, buf, sizeof(buf)),
	    "None,CRC32C");
	assert_string_equal(conf_key_format(CONF_KEY_MAX_SESSIONS, 12345, buf,
				sizeof(buf)),
	    "12345");
}

/*
 * The negotiated keys of the one table, against RFC 7143 section 13: the
 * ietd.conf checks and the login both take these values from it.
 */
static void
test_key_table_rfc7143(void **state)
{
	static const struct {
		enum conf_key k;
		const char *name;
		enum conf_key_rule rule;
		uint32_t def, min, max;
	} rfc[] = {
	    /* 13.2 */
	    {CONF_KEY_MAX_CONNECTIONS, "MaxConnections", CONF_RULE_MIN, 1, 1,
		65535},
	    /* 13.10, 13.11 */
	    {CONF_KEY_INITIAL_R2T, "InitialR2T", CONF_RULE_OR, 1, 0, 1},
	    {CONF_KEY_IMMEDIATE_DATA, "ImmediateData", CONF_RULE_AND, 1, 0, 1},
	    /* 13.12 - 13.14 */
	    {CONF_KEY_MAX_RECV_DATA_SEGMENT_LENGTH, "MaxRecvDataSegmentLength",
		CONF_RULE_DECLARE, 8192, 512, 16777215},
	    {CONF_KEY_MAX_BURST_LENGTH, "MaxBurstLength", CONF_RULE_MIN, 262144,
		512, 16777215},
	    {CONF_KEY_FIRST_BURST_LENGTH, "FirstBurstLength", CONF_RULE_MIN,
		65536, 512, 16777215},
	    /* 13.15, 13.16 */
	    {CONF_KEY_DEFAULT_TIME2WAIT, "DefaultTime2Wait", CONF_RULE_MAX, 2,
		0, 3600},
	    {CONF_KEY_DEFAULT_TIME2RETAIN, "DefaultTime2Retain", CONF_RULE_MIN,
		20, 0, 3600},
	    /* 13.17 - 13.20 */
	    {CONF_KEY_MAX_OUTSTANDING_R2T, "MaxOutstandingR2T", CONF_RULE_MIN,
		1, 1, 65535},
	    {CONF_KEY_DATA_PDU_IN_ORDER, "DataPDUInOrder", CONF_RULE_OR, 1, 0,
		1},
	    {CONF_KEY_DATA_SEQUENCE_IN_ORDER, "DataSequenceInOrder",
		CONF_RULE_OR, 1, 0, 1},
	    {CONF_KEY_ERROR_RECOVERY_LEVEL, "ErrorRecoveryLevel", CONF_RULE_MIN,
		0, 0, 2},
	    /* 13.1: lists, default None */
	    {CONF_KEY_HEADER_DIGEST, "HeaderDigest", CONF_RULE_LIST,
		CONF_DIGEST_NONE, CONF_DIGEST_NONE, CONF_DIGEST_CRC32C_NONE},
	    {CONF_KEY_DATA_DIGEST, "DataDigest", CONF_RULE_LIST,
		CONF_DIGEST_NONE, CONF_DIGEST_NONE, CONF_DIGEST_CRC32C_NONE},
	    /* 13.24 */
	    {CONF_KEY_PROTOCOL_LEVEL, "iSCSIProtocolLevel", CONF_RULE_MIN, 0, 0,
		31},
	};
	static const enum conf_key iet_only[] = {CONF_KEY_MAX_SESSIONS,
	    CONF_KEY_MAX_XMIT_DATA_SEGMENT_LENGTH, CONF_KEY_NOP_INTERVAL,
	    CONF_KEY_NOP_TIMEOUT, CONF_KEY_WTHREADS, CONF_KEY_QUEUED_COMMANDS};

	(void)state;
	for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		const struct conf_key_def *d = &conf_key_defs[rfc[i].k];

		assert_string_equal(d->name, rfc[i].name);
		assert_int_equal(d->rule, rfc[i].rule);
		assert_int_equal(d->def, rfc[i].def);
		assert_int_equal(d->min, rfc[i].min);
		assert_int_equal(d->max, rfc[i].max);
	}
	/* IET's own keys are never negotiated. */
	for (size_t i = 0; i < sizeof(iet_only) / sizeof(iet_only[0]); i++)
		assert_int_equal(conf_key_defs[iet_only[i]].rule,
		    CONF_RULE_NONE);
}

static void
test_missing_file(void **state)
{
	struct msgs m = {.len = 0};

	(void)state;
	assert_null(conf_load("/nonexistent/ietd.conf", msgs_report, &m));
	assert_int_equal(m.count, 1);
	assert_string_equal(m.text,
	    "/nonexistent/ietd.conf: cannot open: "
	    "No such file or directory\n");
	/* A NULL callback is allowed. */
	assert_null(conf_load("/nonexistent/ietd.conf", NULL, NULL));
}

static void
test_text_edges(void **state)
{
	static const char nul[] = "Target iqn.2026-01.org.example:a\n"
				  "\tMaxSessions 1\0junk\n"
				  "\tBogus 1\n";
	struct msgs m;
	struct conf *c;
	const struct conf_target *t;

	(void)state;
	/* A NUL byte is one error; parsing goes on past it. */
	memset(&m, 0, sizeof(m));
	c = conf_load_buf("n.conf", nul, sizeof(nul) - 1, msgs_report, &m);
	assert_null(c);
	assert_string_equal(m.text,
	    "n.conf:2: line contains a NUL byte\n"
	    "n.conf:3: unknown keyword Bogus\n");
	/*
	 * Other control characters are refused the same way. A '\r' ends a
	 * CRLF line, but one more before it would end a value and vanish
	 * when the dump is read back (a fuzz_conf finding).
	 */
	c = load_text("iSNSServer es\0202Targ.20\r\r\r\n"
		      "Target iqn.2026-01.org.example:a\r\n"
		      "\tAlias a\x7f\r\n",
	    &m);
	assert_null(c);
	assert_string_equal(m.text,
	    "t.conf:1: line contains control character 0x10\n"
	    "t.conf:3: line contains control character 0x7f\n");
	c = load_text("iSNSServer isns.example\r\r\n", &m);
	assert_null(c);
	assert_string_equal(m.text,
	    "t.conf:1: line contains control character 0x0d "
	    "(a carriage return inside the line)\n");
	/* Not NUL-terminated: only len bytes are read. */
	memset(&m, 0, sizeof(m));
	c = conf_load_buf("l.conf", "Target iqn.2026-01.org.example:a  ", 34,
	    msgs_report, &m);
	assert_non_null(c);
	conf_free(c);
	/* A backslash on the last line joins nothing. */
	c = load_text("Target iqn.2026-01.org.example:a\n\tMaxSessions 3\\",
	    &m);
	assert_non_null(c);
	t = list_first_entry(&c->targets, struct conf_target, node);
	assert_int_equal(t->params[CONF_KEY_MAX_SESSIONS], 3);
	conf_free(c);
	/* Keywords in any case; Yes/No in any case, written back as Yes/No. */
	c = load_text("tArGeT iqn.2026-01.org.example:a\n"
		      "\tinitialr2t NO\n\tIMMEDIATEDATA nO\n",
	    &m);
	assert_non_null(c);
	t = list_first_entry(&c->targets, struct conf_target, node);
	assert_int_equal(t->params[CONF_KEY_INITIAL_R2T], 0);
	assert_int_equal(t->params[CONF_KEY_IMMEDIATE_DATA], 0);
	{
		size_t len;
		char *text = conf_to_text(c, true, &len);

		assert_non_null(strstr(text, "\tInitialR2T No\n"));
		assert_non_null(strstr(text, "\tImmediateData No\n"));
		free(text);
	}
	conf_free(c);
	/* The FirstBurstLength check with only one of the two keys set. */
	c = load_text("Target iqn.2026-01.org.example:a\n"
		      "\tMaxBurstLength 65536\n",
	    &m);
	assert_non_null(c);
	conf_free(c);
	c = load_text("Target iqn.2026-01.org.example:a\n\n"
		      "\tFirstBurstLength 262145\n",
	    &m);
	assert_null(c);
	assert_string_equal(m.text,
	    "t.conf:3: FirstBurstLength 262145 is "
	    "greater than MaxBurstLength 262144\n");
}

static void
test_write_secrets(void **state)
{
	struct msgs m;
	struct conf *c = load_text("IncomingUser u1 topsecret1\n"
				   "OutgoingUser u2 topsecret2\n"
				   "Target iqn.2026-01.org.example:a\n"
				   "\tIncomingUser u3 topsecret3\n"
				   "\tAlias a1\n"
				   "\tLun 2 Sectors=100,Type=nullio\n"
				   "\tMaxSessions 5\n",
	    &m);
	const char *want = "# ietd.conf written by ietd\n"
			   "IncomingUser u1 ********\n"
			   "OutgoingUser u2 ********\n"
			   "\n"
			   "Target iqn.2026-01.org.example:a\n"
			   "\tAlias a1\n"
			   "\tIncomingUser u3 ********\n"
			   "\tLun 2 Sectors=100,Type=nullio,IOMode=wt,"
			   "BlockSize=512\n"
			   "\tMaxSessions 5\n";
	char *text;
	size_t len;

	(void)state;
	assert_non_null(c);
	text = conf_to_text(c, false, &len);
	assert_string_equal(text, want);
	assert_null(strstr(text, "topsecret"));
	free(text);
	text = conf_to_text(c, true, &len);
	assert_non_null(strstr(text, "IncomingUser u1 topsecret1\n"));
	assert_non_null(strstr(text, "\tIncomingUser u3 topsecret3\n"));
	free(text);
	conf_free(c);
}

static void
test_target_dup(void **state)
{
	char dir[PATH_MAX / 2], path[PATH_MAX];
	struct conf *c;
	struct list_node *n;

	(void)state;
	config_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/good/full.conf", dir);
	c = conf_load(path, NULL, NULL);
	assert_non_null(c);
	list_for_each(n, &c->targets) {
		const struct conf_target *t =
		    list_entry(n, const struct conf_target, node);
		struct conf_target *d = conf_target_dup(t);

		assert_non_null(d);
		assert_true(target_eq(t, d));
		assert_int_equal(d->line, t->line);
		assert_ptr_not_equal(d->name, t->name);
		conf_target_free(d);
		/* Out of memory at each allocation of the copy. */
		for (unsigned long i = 1;; i++) {
			alloc_fail_nth(i, 0);
			d = conf_target_dup(t);
			alloc_fail_nth(0, 0);
			if (d != NULL) {
				assert_true(target_eq(t, d));
				conf_target_free(d);
				break;
			}
		}
	}
	conf_free(c);
	conf_target_free(NULL);
	conf_free(NULL);
}

/* The commented example make install ships loads, with no targets. */
static void
test_shipped_example(void **state)
{
	struct msgs m = {.len = 0};
	struct conf *c = conf_load("etc/ietd.conf", msgs_report, &m);

	(void)state;
	assert_string_equal(m.text, "");
	assert_non_null(c);
	assert_true(list_empty(&c->targets));
	conf_free(c);
}

/* Fail each allocation in turn: every one is reported, none crashes. */
static void
test_out_of_memory(void **state)
{
	char dir[PATH_MAX / 2], path[PATH_MAX];
	const char *files[] = {"full.conf", "limits.conf", "minimal.conf"};

	(void)state;
	config_dir(dir, sizeof(dir));
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		unsigned long i;

		snprintf(path, sizeof(path), "%s/good/%s", dir, files[f]);
		for (i = 1; i < 100000; i++) {
			struct msgs m = {.len = 0};
			struct conf *c;

			alloc_fail_nth(i, 0);
			c = conf_load(path, msgs_report, &m);
			alloc_fail_nth(0, 0);
			if (c != NULL) {
				assert_int_equal(m.count, 0);
				conf_free(c);
				break;
			}
			assert_int_equal(m.count, 1);
			assert_non_null(strstr(m.text, "out of memory"));
		}
		assert_true(i > 3);
		assert_true(i < 100000);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_files),
	    cmocka_unit_test(test_good_files),
	    cmocka_unit_test(test_full_values),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_key_table),
	    cmocka_unit_test(test_key_table_rfc7143),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_text_edges),
	    cmocka_unit_test(test_write_secrets),
	    cmocka_unit_test(test_target_dup),
	    cmocka_unit_test(test_shipped_example),
	    cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
