/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * A byte budget shared by threads: callers take bytes before allocating
 * and give them back when they free, and a take that would pass the limit
 * fails instead of growing the process. ietd bounds the memory held by
 * in-flight command data with one (iSCSI's global data cap).
 */
#ifndef IETD_UTIL_BUDGET_H
#define IETD_UTIL_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

struct budget {
	uint64_t used;    /* atomic */
	uint64_t limit;   /* 0: no limit */
	uint64_t peak;    /* atomic; highest used seen */
	uint64_t refused; /* atomic; takes that failed */
};

/* Take n bytes; false (and nothing taken) when used + n would pass limit. */
bool budget_take(struct budget *b, uint64_t n);
void budget_give(struct budget *b, uint64_t n);
uint64_t budget_used(const struct budget *b);

/*
 * The default cap on in-flight data: a quarter of physical memory, at
 * least 64 MiB and at most 1 GiB (enough for 32 sessions each with 32
 * commands of 1 MiB in flight).
 */
uint64_t budget_default_data_limit(void);

#endif /* IETD_UTIL_BUDGET_H */
