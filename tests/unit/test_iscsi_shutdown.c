/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * iscsi_shutdown() against connections that are going away by themselves
 * at the same moment (the peers of 1000 sessions closing while SIGTERM
 * arrives, 0710-hostile's second ietd). The interleavings are made by
 * hand, in the order the threads can take: a connection whose last
 * reference is gone but which conn_free() has not yet taken off the list
 * (it waits for the registry lock iscsi_shutdown() holds), and one that
 * registers after the shutdown walked the list. The tests run in order:
 * the shutdown state stays set.
 */
#include <sys/socket.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "iscsi/iscsi.h"
#include "iscsi/iscsi_int.h"
#include "net/loop.h"

static struct loop *test_loop;
static unsigned int done_calls;

static void
shutdown_done(void *arg)
{
	(void)arg;
	done_calls++;
}

static void
stop_loop(void *arg)
{
	loop_stop(arg);
}

/* Run what was posted to the test loop, then stop it. */
static void
run_posted(void)
{
	loop_post(test_loop, stop_loop, test_loop);
	loop_run(test_loop);
}

/*
 * The last reference went (conn_put() reached 0) and conn_free() waits
 * for the registry lock: iscsi_shutdown() must not take a reference and
 * post a call for that connection, which would run on freed memory and
 * free it a second time (the ASan report of 0710-hostile: heap-use-
 * after-free in conn_shutdown_one). conn_free() then ends the shutdown.
 */
static void
t_shutdown_skips_conn_being_freed(void **state)
{
	struct iscsi_conn *conn;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	conn = conn_new(loop_data(test_loop), sv[0]);
	assert_non_null(conn);
	assert_int_equal(iscsi_conn_count(), 1);

	/* conn_put() dropped the loop's reference; conn_free() is next. */
	__atomic_store_n(&conn->refs, 0, __ATOMIC_RELEASE);
	iscsi_shutdown(shutdown_done, NULL);
	assert_int_equal(__atomic_load_n(&conn->refs, __ATOMIC_ACQUIRE), 0);
	assert_int_equal(done_calls, 0);

	/* conn_free() gets the lock: the last connection ends the shutdown. */
	__atomic_store_n(&conn->refs, 1, __ATOMIC_RELEASE);
	conn_put(conn);
	assert_int_equal(iscsi_conn_count(), 0);
	assert_int_equal(done_calls, 1);
	run_posted();
	assert_int_equal(done_calls, 1);
	close(sv[0]);
	close(sv[1]);
}

/*
 * A connection accepted on an event thread that checked "not shutting
 * down" just before the shutdown walked the list: it must not register
 * afterwards, where it would get no logout request and, counted after
 * "none left", end the shutdown a second time.
 */
static void
t_no_conn_registers_after_shutdown(void **state)
{
	struct iscsi_conn *conn;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	conn = conn_new(loop_data(test_loop), sv[0]);
	assert_null(conn);
	assert_int_equal(iscsi_conn_count(), 0);
	assert_int_equal(done_calls, 1);
	close(sv[0]);
	close(sv[1]);
}

static int
group_setup(void **state)
{
	(void)state;
	test_loop = loop_new("test");
	if (test_loop == NULL || iscsi_loop_init(test_loop) != 0)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	iscsi_loop_fini(test_loop);
	loop_free(test_loop);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_shutdown_skips_conn_being_freed),
	    cmocka_unit_test(t_no_conn_registers_after_shutdown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
