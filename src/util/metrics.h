/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * I/O counters for the metrics endpoint: one struct per logical unit and
 * per session, bumped on the data path with relaxed atomic adds (no lock,
 * no ordering: a scrape may see a command's count before its bytes) and
 * read with relaxed loads by whoever scrapes.
 */
#ifndef IETD_UTIL_METRICS_H
#define IETD_UTIL_METRICS_H

#include <stdint.h>

/* Latency histogram upper bounds in microseconds (+Inf after them). */
#define METRICS_LAT_BOUNDS 14
extern const uint32_t metrics_lat_bounds_us[METRICS_LAT_BOUNDS];

/* Error classes: CHECK CONDITION by sense key (SPC-4 4.5.6), then
 * the other non-GOOD statuses (SAM-5 5.3.1). */
enum metrics_err {
	METRICS_ERR_SENSE0 = 0, /* + sense key 0x0..0xf */
	METRICS_ERR_BUSY = 16,
	METRICS_ERR_RESERVATION_CONFLICT,
	METRICS_ERR_TASK_SET_FULL,
	METRICS_ERR_TASK_ABORTED,
	METRICS_ERR_OTHER,
	METRICS_ERR_N,
};

struct metrics_io {
	uint64_t commands;
	uint64_t read_bytes;
	uint64_t written_bytes;
	uint64_t errors[METRICS_ERR_N];
	uint64_t lat_bucket[METRICS_LAT_BOUNDS + 1]; /* not cumulative */
	uint64_t lat_sum_us;
};

/*
 * Count one command that ended with SCSI status and, for CHECK
 * CONDITION, sense_key; rd and wr bytes moved; lat_us from its arrival
 * to its response.
 */
void metrics_io_count(struct metrics_io *m, uint8_t status, uint8_t sense_key,
    uint64_t rd, uint64_t wr, uint64_t lat_us);
/* A consistent-enough copy (each field loaded once, relaxed). */
void metrics_io_read(const struct metrics_io *m, struct metrics_io *out);
/* out += in, field by field. */
void metrics_io_add(struct metrics_io *out, const struct metrics_io *in);
/* "check_condition"/"busy"/..., and the sense key's name ("" for none). */
const char *metrics_err_status(unsigned int e);
const char *metrics_err_sense(unsigned int e);
/* Sense key of fixed (0x70/0x71) or descriptor (0x72/0x73) sense data. */
uint8_t metrics_sense_key(const uint8_t *sense, unsigned int len);

#endif /* IETD_UTIL_METRICS_H */
