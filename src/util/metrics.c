/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Relaxed atomics: each counter is exact on its own, and the adds cost
 * no more than a locked add on the line the LU's commands already touch.
 */
#include "metrics.h"

/* 50 us (a cache hit on a fast path) to 10 s (a stalled device). */
const uint32_t metrics_lat_bounds_us[METRICS_LAT_BOUNDS] = {50, 100, 250, 500,
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 500000, 1000000, 10000000};

#define ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

void
metrics_io_count(struct metrics_io *m, uint8_t status, uint8_t sense_key,
    uint64_t rd, uint64_t wr, uint64_t lat_us)
{
	unsigned int b = 0;

	ADD(&m->commands, 1);
	if (rd != 0)
		ADD(&m->read_bytes, rd);
	if (wr != 0)
		ADD(&m->written_bytes, wr);
	switch (status) {
	case 0x00: /* GOOD */
	case 0x04: /* CONDITION MET */
		break;
	case 0x02: /* CHECK CONDITION */
		ADD(&m->errors[METRICS_ERR_SENSE0 + (sense_key & 0xf)], 1);
		break;
	case 0x08:
		ADD(&m->errors[METRICS_ERR_BUSY], 1);
		break;
	case 0x18:
		ADD(&m->errors[METRICS_ERR_RESERVATION_CONFLICT], 1);
		break;
	case 0x28:
		ADD(&m->errors[METRICS_ERR_TASK_SET_FULL], 1);
		break;
	case 0x40:
		ADD(&m->errors[METRICS_ERR_TASK_ABORTED], 1);
		break;
	default:
		ADD(&m->errors[METRICS_ERR_OTHER], 1);
		break;
	}
	while (b < METRICS_LAT_BOUNDS && lat_us > metrics_lat_bounds_us[b])
		b++;
	ADD(&m->lat_bucket[b], 1);
	ADD(&m->lat_sum_us, lat_us);
}

void
metrics_io_read(const struct metrics_io *m, struct metrics_io *out)
{
	out->commands = LOAD(&m->commands);
	out->read_bytes = LOAD(&m->read_bytes);
	out->written_bytes = LOAD(&m->written_bytes);
	for (unsigned int i = 0; i < METRICS_ERR_N; i++)
		out->errors[i] = LOAD(&m->errors[i]);
	for (unsigned int i = 0; i <= METRICS_LAT_BOUNDS; i++)
		out->lat_bucket[i] = LOAD(&m->lat_bucket[i]);
	out->lat_sum_us = LOAD(&m->lat_sum_us);
}

void
metrics_io_add(struct metrics_io *out, const struct metrics_io *in)
{
	out->commands += in->commands;
	out->read_bytes += in->read_bytes;
	out->written_bytes += in->written_bytes;
	for (unsigned int i = 0; i < METRICS_ERR_N; i++)
		out->errors[i] += in->errors[i];
	for (unsigned int i = 0; i <= METRICS_LAT_BOUNDS; i++)
		out->lat_bucket[i] += in->lat_bucket[i];
	out->lat_sum_us += in->lat_sum_us;
}

const char *
metrics_err_status(unsigned int e)
{
	static const char *const names[] = {"busy", "reservation_conflict",
	    "task_set_full", "task_aborted", "other"};

	if (e < METRICS_ERR_BUSY)
		return "check_condition";
	return e < METRICS_ERR_N ? names[e - METRICS_ERR_BUSY] : "other";
}

const char *
metrics_err_sense(unsigned int e)
{
	/* SPC-4 table 50 (sense key descriptions). */
	static const char *const names[16] = {"no_sense", "recovered_error",
	    "not_ready", "medium_error", "hardware_error", "illegal_request",
	    "unit_attention", "data_protect", "blank_check", "vendor_specific",
	    "copy_aborted", "aborted_command", "reserved_c", "volume_overflow",
	    "miscompare", "completed"};

	return e < 16 ? names[e] : "none";
}

uint8_t
metrics_sense_key(const uint8_t *sense, unsigned int len)
{
	if (len < 3)
		return 0;
	if ((sense[0] & 0x7f) >= 0x72)
		return sense[1] & 0xf;
	return sense[2] & 0xf;
}
