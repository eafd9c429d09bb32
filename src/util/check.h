/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * IETD_ASSERT(cond): an invariant (a reference count above zero, a legal
 * task state transition). The sanitizer build (make SAN=1, which defines
 * IETD_CHECKS) aborts with the file, line and condition when one is
 * broken, so the test suite run under it catches the mistake where it
 * happens, not where the freed memory is next used. Elsewhere the
 * condition is compiled but never evaluated: no cost on the data path.
 */
#ifndef IETD_UTIL_CHECK_H
#define IETD_UTIL_CHECK_H

#ifdef IETD_CHECKS
#include <stdio.h>
#include <stdlib.h>

#define IETD_ASSERT(cond)                                                \
	do {                                                             \
		if (!(cond)) {                                           \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", \
			    __FILE__, __LINE__, #cond);                  \
			abort();                                         \
		}                                                        \
	} while (0)
#else
#define IETD_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

#endif /* IETD_UTIL_CHECK_H */
