/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The Prometheus endpoint (--metrics=ADDR:PORT): a small HTTP/1.x
 * listener on the main loop that answers GET /metrics with the text
 * exposition format 0.0.4, built from the per-LU and per-session
 * counters and the data budget at each scrape.
 */
#ifndef IETD_METRICS_METRICS_H
#define IETD_METRICS_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "net/loop.h"

/* server.c */
/*
 * Listen on addr ("127.0.0.1:9117", "[::1]:9117", ":9117" for every
 * address) and serve from loop. Returns 0 or -errno with a sentence in
 * why.
 */
int metrics_start(struct loop *loop, const char *addr, char *why,
    size_t whylen);
/* Close the listener and every client. */
void metrics_stop(void);

/* text.c */
/* A growable byte buffer bounded by max; failed sticks once set. */
struct metrics_buf {
	char *data;
	size_t len, cap, max;
	bool failed;
};

void metrics_buf_printf(struct metrics_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void metrics_buf_fini(struct metrics_buf *b);
/* Append s as a label value: backslash, quote and newline escaped. */
void metrics_buf_label(struct metrics_buf *b, const char *s);
/* The whole exposition text of every metric, now, into b. */
void metrics_render(struct metrics_buf *b);

#endif /* IETD_METRICS_METRICS_H */
