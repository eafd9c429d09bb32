/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Counters for the metrics endpoint: per session and per LU (commands,
 * bytes, errors, latency from the command's arrival to its response) and
 * logins refused by status. Relaxed atomic adds only: nothing here may
 * slow the data path or take a lock.
 */
#include <time.h>

#include "util/metrics.h"
#include "scsi/scsi.h"
#include "target/target.h"
#include "iscsi_admin.h"
#include "iscsi_int.h"

/* Refused logins, indexed like iscsi_admin_login_reasons[]. */
static uint64_t stats_refused[ISCSI_ADMIN_LOGIN_REASONS];

/* RFC 7143 11.13.5, status class 2 (initiator) and 3 (target) details. */
const struct iscsi_login_reason iscsi_admin_login_reasons[] = {
    {0x0200, "initiator_error"},
    {0x0201, "authentication_failed"},
    {0x0202, "not_authorized"},
    {0x0203, "target_not_found"},
    {0x0204, "target_removed"},
    {0x0205, "unsupported_version"},
    {0x0206, "too_many_connections"},
    {0x0207, "missing_parameter"},
    {0x0208, "cannot_include_in_session"},
    {0x0209, "session_type_not_supported"},
    {0x020a, "session_does_not_exist"},
    {0x020b, "invalid_during_login"},
    {0x0300, "target_error"},
    {0x0301, "service_unavailable"},
    {0x0302, "out_of_resources"},
    {0, "other"},
};

uint64_t
stats_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void
stats_task_done(const struct iscsi_task *task, uint32_t rd)
{
	const struct scsi_task *st = &task->st;
	uint64_t now = stats_now_ns();
	uint64_t lat = now > task->start_ns ? (now - task->start_ns) / 1000 : 0;
	uint64_t wr = 0;

	/* Data-Out that the command took in, when it succeeded. */
	if (task->write && st->status == SCSI_STATUS_GOOD && st->xfer_out)
		wr = st->xfer_len < task->edtl ? st->xfer_len : task->edtl;
	metrics_io_count(&task->conn->session->io, st->status,
	    st->status == SCSI_STATUS_CHECK_CONDITION
		? metrics_sense_key(st->sense, st->sense_len)
		: 0,
	    rd, wr, lat);
	scsi_task_count(st, rd, wr, lat);
}

_Static_assert(ISCSI_ADMIN_LOGIN_REASONS == TARGET_LOGIN_REASONS,
    "one reason table for iSCSI and the targets' counters");

void
stats_login_refused(uint16_t status, struct target *t)
{
	unsigned int i = 0;

	while (i < ISCSI_ADMIN_LOGIN_REASONS - 1 &&
	    iscsi_admin_login_reasons[i].status != status)
		i++;
	__atomic_fetch_add(&stats_refused[i], 1, __ATOMIC_RELAXED);
	target_count_login_refused(t, i);
}

uint64_t
iscsi_admin_logins_refused(unsigned int reason)
{
	if (reason >= ISCSI_ADMIN_LOGIN_REASONS)
		return 0;
	return __atomic_load_n(&stats_refused[reason], __ATOMIC_RELAXED);
}

void
iscsi_admin_data_budget(uint64_t *used, uint64_t *limit, uint64_t *peak,
    uint64_t *refused)
{
	*used = budget_used(&iscsi_data_budget);
	*limit = iscsi_data_budget.limit;
	*peak = __atomic_load_n(&iscsi_data_budget.peak, __ATOMIC_RELAXED);
	*refused =
	    __atomic_load_n(&iscsi_data_budget.refused, __ATOMIC_RELAXED);
}
