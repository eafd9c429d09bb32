/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The shared byte budget: a compare-and-swap loop, so two threads can
 * never both pass the limit with the last free bytes.
 */
#include <unistd.h>

#include "util/budget.h"

#define BUDGET_MIB (1024ull * 1024ull)
#define BUDGET_DEFAULT_MIN (64ull * BUDGET_MIB)
#define BUDGET_DEFAULT_MAX (1024ull * BUDGET_MIB)

bool
budget_take(struct budget *b, uint64_t n)
{
	uint64_t used = __atomic_load_n(&b->used, __ATOMIC_RELAXED);
	uint64_t next, peak;

	do {
		next = used + n;
		if (b->limit != 0 && (next > b->limit || next < used)) {
			__atomic_add_fetch(&b->refused, 1, __ATOMIC_RELAXED);
			return false;
		}
	} while (!__atomic_compare_exchange_n(&b->used, &used, next, true,
	    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
	peak = __atomic_load_n(&b->peak, __ATOMIC_RELAXED);
	/* A failed exchange reloads peak; stop once it is not below next. */
	while (next > peak &&
	    !__atomic_compare_exchange_n(&b->peak, &peak, next, true,
		__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
	}
	return true;
}

void
budget_give(struct budget *b, uint64_t n)
{
	__atomic_sub_fetch(&b->used, n, __ATOMIC_ACQ_REL);
}

uint64_t
budget_used(const struct budget *b)
{
	return __atomic_load_n(&b->used, __ATOMIC_RELAXED);
}

uint64_t
budget_default_data_limit(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	uint64_t quarter;

	if (pages <= 0 || psize <= 0)
		return BUDGET_DEFAULT_MIN;
	quarter = (uint64_t)pages * (uint64_t)psize / 4;
	if (quarter < BUDGET_DEFAULT_MIN)
		return BUDGET_DEFAULT_MIN;
	return quarter > BUDGET_DEFAULT_MAX ? BUDGET_DEFAULT_MAX : quarter;
}
