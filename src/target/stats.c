/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Per-target counters for the metrics endpoint: relaxed atomics, so a
 * refused login costs no lock.
 */
#include "target.h"
#include "target_int.h"

void
target_count_login_refused(struct target *t, unsigned int reason)
{
	if (t != NULL && reason < TARGET_LOGIN_REASONS)
		__atomic_fetch_add(&t->logins_refused[reason], 1,
		    __ATOMIC_RELAXED);
}

uint64_t
target_logins_refused(const struct target *t, unsigned int reason)
{
	if (reason >= TARGET_LOGIN_REASONS)
		return 0;
	return __atomic_load_n(&t->logins_refused[reason], __ATOMIC_RELAXED);
}
