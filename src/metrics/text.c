/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The exposition text (Prometheus text format 0.0.4): every family's
 * HELP and TYPE once, then all of its samples together, as the format
 * requires. Label values that come from peers (initiator names) or from
 * the administrator (target names) are escaped: backslash, quote and
 * newline.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/metrics.h"
#include "iscsi/iscsi_admin.h"
#include "scsi/scsi.h"
#include "target/target.h"
#include "metrics.h"

static bool
metrics_buf_reserve(struct metrics_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->failed)
		return false;
	if (n > b->max || b->len > b->max - n - 1) {
		b->failed = true;
		return false;
	}
	if (b->len + n + 1 <= b->cap)
		return true;
	cap = b->cap < 16384 ? 16384 : b->cap;
	while (cap < b->len + n + 1)
		cap *= 2;
	/* Never room past max: vsnprintf writes into all of it. */
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = mem_realloc(b->data, cap);
	if (p == NULL) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void
metrics_buf_printf(struct metrics_buf *b, const char *fmt, ...)
{
	va_list ap;

	for (int tries = 0; tries < 2; tries++) {
		size_t room = b->cap > b->len ? b->cap - b->len : 0;
		int n;

		va_start(ap, fmt);
		n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		if (!metrics_buf_reserve(b, (size_t)n))
			return;
	}
}

void
metrics_buf_fini(struct metrics_buf *b)
{
	mem_free(b->data);
	memset(b, 0, sizeof(*b));
}

void
metrics_buf_label(struct metrics_buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (!metrics_buf_reserve(b, 2))
			return;
		if (*s == '\\' || *s == '"') {
			b->data[b->len++] = '\\';
			b->data[b->len++] = *s;
		} else if (*s == '\n') {
			b->data[b->len++] = '\\';
			b->data[b->len++] = 'n';
		} else {
			b->data[b->len++] = *s;
		}
	}
	b->data[b->len] = '\0';
}

/* ---- what one scrape sees ---------------------------------------------- */

struct lu_row {
	unsigned int tid;
	unsigned long long lun;
	char target[224];
	struct metrics_io io;
	unsigned int queue_depth;
};

struct target_row {
	unsigned int tid;
	char name[224];
	unsigned int sessions;
	struct metrics_io io; /* its LUs' sum */
	uint64_t refused[ISCSI_ADMIN_LOGIN_REASONS];
};

struct scrape {
	struct lu_row *lus;
	unsigned int nlus, lucap;
	struct target_row *targets;
	unsigned int ntargets, tcap;
	struct iscsi_session_info *sessions;
	unsigned int nsessions;
	bool failed;
};

static void
scrape_lu(void *arg, const struct scsi_lu_stats *st)
{
	struct scrape *sc = arg;
	struct lu_row *r = NULL;

	/*
	 * A LUN replaced by a reload or ietadm has its old LU on the list
	 * until its last command is gone: one series per LUN (a duplicate
	 * would make Prometheus drop the scrape), the newer LU's, which is
	 * later on the list.
	 */
	for (unsigned int i = 0; i < sc->nlus; i++)
		if (sc->lus[i].tid == st->tid &&
		    sc->lus[i].lun == (unsigned long long)st->lun)
			r = &sc->lus[i];
	if (r != NULL)
		goto fill;
	if (sc->nlus == sc->lucap) {
		unsigned int cap = sc->lucap ? sc->lucap * 2 : 64;
		void *p = mem_realloc(sc->lus, cap * sizeof(*sc->lus));

		if (p == NULL) {
			sc->failed = true;
			return;
		}
		sc->lus = p;
		sc->lucap = cap;
	}
	r = &sc->lus[sc->nlus++];
fill:
	r->tid = st->tid;
	r->lun = (unsigned long long)st->lun;
	snprintf(r->target, sizeof(r->target), "%s", st->target_name);
	metrics_io_read(st->io, &r->io);
	r->queue_depth = st->queue_depth;
}

static bool
scrape_target(struct target *t, void *arg)
{
	struct scrape *sc = arg;
	struct target_row *r;

	if (sc->ntargets == sc->tcap) {
		unsigned int cap = sc->tcap ? sc->tcap * 2 : 16;
		void *p = mem_realloc(sc->targets, cap * sizeof(*sc->targets));

		if (p == NULL) {
			sc->failed = true;
			return false;
		}
		sc->targets = p;
		sc->tcap = cap;
	}
	r = &sc->targets[sc->ntargets++];
	memset(r, 0, sizeof(*r));
	r->tid = target_tid(t);
	snprintf(r->name, sizeof(r->name), "%s", target_name(t));
	r->sessions = target_session_count(t);
	for (unsigned int i = 0; i < ISCSI_ADMIN_LOGIN_REASONS; i++)
		r->refused[i] = target_logins_refused(t, i);
	return true;
}

static const char *
scrape_target_name(const struct scrape *sc, unsigned int tid)
{
	for (unsigned int i = 0; i < sc->ntargets; i++)
		if (sc->targets[i].tid == tid)
			return sc->targets[i].name;
	return "";
}

/* ---- families ---------------------------------------------------------- */

static void
family(struct metrics_buf *b, const char *name, const char *type,
    const char *help)
{
	metrics_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

static void
lu_labels(struct metrics_buf *b, const struct lu_row *r)
{
	metrics_buf_printf(b, "{target=\"");
	metrics_buf_label(b, r->target);
	metrics_buf_printf(b, "\",tid=\"%u\",lun=\"%llu\"", r->tid, r->lun);
}

static void
session_labels(struct metrics_buf *b, const struct scrape *sc,
    const struct iscsi_session_info *s)
{
	metrics_buf_printf(b, "{target=\"");
	metrics_buf_label(b, scrape_target_name(sc, s->tid));
	metrics_buf_printf(b, "\",tid=\"%u\",sid=\"%llu\",initiator=\"", s->tid,
	    (unsigned long long)s->sid);
	metrics_buf_label(b, s->initiator);
	metrics_buf_printf(b, "\"");
}

static void
target_labels(struct metrics_buf *b, const struct target_row *r)
{
	metrics_buf_printf(b, "{target=\"");
	metrics_buf_label(b, r->name);
	metrics_buf_printf(b, "\",tid=\"%u\"", r->tid);
}

enum io_field { IO_COMMANDS, IO_READ, IO_WRITTEN, IO_ERRORS };

static unsigned long long
io_value(const struct metrics_io *io, enum io_field f)
{
	unsigned long long e = 0;

	switch (f) {
	case IO_COMMANDS:
		return io->commands;
	case IO_READ:
		return io->read_bytes;
	case IO_WRITTEN:
		return io->written_bytes;
	case IO_ERRORS:
		for (unsigned int i = 0; i < METRICS_ERR_N; i++)
			e += io->errors[i];
		return e;
	}
	return 0;
}

static const struct {
	enum io_field field;
	const char *suffix;
	const char *help;
} io_families[] = {
    {IO_COMMANDS, "commands_total", "SCSI commands answered"},
    {IO_READ, "read_bytes_total", "bytes sent to initiators (Data-In)"},
    {IO_WRITTEN, "written_bytes_total",
	"bytes written by successful commands (Data-Out)"},
};

/*
 * Errors by status and sense key; only the classes that happened, so a
 * healthy LU has no error series at all.
 */
static void
errors_samples(struct metrics_buf *b, const struct metrics_io *io,
    const char *name, void (*labels)(struct metrics_buf *, const void *),
    const void *arg)
{
	for (unsigned int e = 0; e < METRICS_ERR_N; e++) {
		if (io->errors[e] == 0)
			continue;
		metrics_buf_printf(b, "%s", name);
		labels(b, arg);
		metrics_buf_printf(b, ",status=\"%s\",sense_key=\"%s\"} %llu\n",
		    metrics_err_status(e), metrics_err_sense(e),
		    (unsigned long long)io->errors[e]);
	}
}

static void
histogram_samples(struct metrics_buf *b, const struct metrics_io *io,
    const char *name, void (*labels)(struct metrics_buf *, const void *),
    const void *arg)
{
	unsigned long long cum = 0;

	for (unsigned int i = 0; i <= METRICS_LAT_BOUNDS; i++) {
		cum += io->lat_bucket[i];
		metrics_buf_printf(b, "%s_bucket", name);
		labels(b, arg);
		if (i < METRICS_LAT_BOUNDS)
			metrics_buf_printf(b, ",le=\"%g\"} %llu\n",
			    metrics_lat_bounds_us[i] / 1e6, cum);
		else
			metrics_buf_printf(b, ",le=\"+Inf\"} %llu\n", cum);
	}
	metrics_buf_printf(b, "%s_sum", name);
	labels(b, arg);
	metrics_buf_printf(b, "} %.6f\n", (double)io->lat_sum_us / 1e6);
	metrics_buf_printf(b, "%s_count", name);
	labels(b, arg);
	metrics_buf_printf(b, "} %llu\n", cum);
}

/* Adapters: one label writer type for LU, session and target rows. */
struct session_arg {
	const struct scrape *sc;
	const struct iscsi_session_info *s;
};

static void
lu_labels_v(struct metrics_buf *b, const void *arg)
{
	lu_labels(b, arg);
}

static void
session_labels_v(struct metrics_buf *b, const void *arg)
{
	const struct session_arg *sa = arg;

	session_labels(b, sa->sc, sa->s);
}

static void
render_lus(struct metrics_buf *b, const struct scrape *sc)
{
	char name[64];

	for (size_t f = 0; f < sizeof(io_families) / sizeof(io_families[0]);
	     f++) {
		snprintf(name, sizeof(name), "ietd_lu_%s",
		    io_families[f].suffix);
		family(b, name, "counter", io_families[f].help);
		for (unsigned int i = 0; i < sc->nlus; i++) {
			metrics_buf_printf(b, "%s", name);
			lu_labels(b, &sc->lus[i]);
			metrics_buf_printf(b, "} %llu\n",
			    io_value(&sc->lus[i].io, io_families[f].field));
		}
	}
	family(b, "ietd_lu_errors_total", "counter",
	    "commands that did not end GOOD, by status and sense key");
	for (unsigned int i = 0; i < sc->nlus; i++)
		errors_samples(b, &sc->lus[i].io, "ietd_lu_errors_total",
		    lu_labels_v, &sc->lus[i]);
	family(b, "ietd_lu_latency_seconds", "histogram",
	    "time from a command's arrival to its response");
	for (unsigned int i = 0; i < sc->nlus; i++)
		histogram_samples(b, &sc->lus[i].io, "ietd_lu_latency_seconds",
		    lu_labels_v, &sc->lus[i]);
	family(b, "ietd_lu_queue_depth", "gauge",
	    "commands in the LU's task set now");
	for (unsigned int i = 0; i < sc->nlus; i++) {
		metrics_buf_printf(b, "ietd_lu_queue_depth");
		lu_labels(b, &sc->lus[i]);
		metrics_buf_printf(b, "} %u\n", sc->lus[i].queue_depth);
	}
}

static void
render_targets(struct metrics_buf *b, struct scrape *sc)
{
	char name[64];

	for (unsigned int i = 0; i < sc->nlus; i++)
		for (unsigned int t = 0; t < sc->ntargets; t++)
			if (sc->targets[t].tid == sc->lus[i].tid)
				metrics_io_add(&sc->targets[t].io,
				    &sc->lus[i].io);
	for (size_t f = 0; f < sizeof(io_families) / sizeof(io_families[0]);
	     f++) {
		snprintf(name, sizeof(name), "ietd_target_%s",
		    io_families[f].suffix);
		family(b, name, "counter", io_families[f].help);
		for (unsigned int i = 0; i < sc->ntargets; i++) {
			metrics_buf_printf(b, "%s", name);
			target_labels(b, &sc->targets[i]);
			metrics_buf_printf(b, "} %llu\n",
			    io_value(&sc->targets[i].io, io_families[f].field));
		}
	}
	family(b, "ietd_target_errors_total", "counter",
	    "commands of the target's LUs that did not end GOOD");
	for (unsigned int i = 0; i < sc->ntargets; i++) {
		metrics_buf_printf(b, "ietd_target_errors_total");
		target_labels(b, &sc->targets[i]);
		metrics_buf_printf(b, "} %llu\n",
		    io_value(&sc->targets[i].io, IO_ERRORS));
	}
	family(b, "ietd_target_sessions", "gauge", "logged-in sessions");
	for (unsigned int i = 0; i < sc->ntargets; i++) {
		metrics_buf_printf(b, "ietd_target_sessions");
		target_labels(b, &sc->targets[i]);
		metrics_buf_printf(b, "} %u\n", sc->targets[i].sessions);
	}
	family(b, "ietd_target_logins_refused_total", "counter",
	    "logins to the target refused, by RFC 7143 login status");
	for (unsigned int i = 0; i < sc->ntargets; i++)
		for (unsigned int r = 0; r < ISCSI_ADMIN_LOGIN_REASONS; r++) {
			if (sc->targets[i].refused[r] == 0)
				continue;
			metrics_buf_printf(b,
			    "ietd_target_logins_refused_total");
			target_labels(b, &sc->targets[i]);
			metrics_buf_printf(b, ",reason=\"%s\"} %llu\n",
			    iscsi_admin_login_reasons[r].name,
			    (unsigned long long)sc->targets[i].refused[r]);
		}
}

static void
render_sessions(struct metrics_buf *b, const struct scrape *sc)
{
	char name[64];

	for (size_t f = 0; f < sizeof(io_families) / sizeof(io_families[0]);
	     f++) {
		snprintf(name, sizeof(name), "ietd_session_%s",
		    io_families[f].suffix);
		family(b, name, "counter", io_families[f].help);
		for (unsigned int i = 0; i < sc->nsessions; i++) {
			metrics_buf_printf(b, "%s", name);
			session_labels(b, sc, &sc->sessions[i]);
			metrics_buf_printf(b, "} %llu\n",
			    io_value(&sc->sessions[i].io,
				io_families[f].field));
		}
	}
	family(b, "ietd_session_errors_total", "counter",
	    "commands that did not end GOOD, by status and sense key");
	for (unsigned int i = 0; i < sc->nsessions; i++) {
		struct session_arg sa = {sc, &sc->sessions[i]};

		errors_samples(b, &sc->sessions[i].io,
		    "ietd_session_errors_total", session_labels_v, &sa);
	}
	family(b, "ietd_session_latency_seconds", "histogram",
	    "time from a command's arrival to its response");
	for (unsigned int i = 0; i < sc->nsessions; i++) {
		struct session_arg sa = {sc, &sc->sessions[i]};

		histogram_samples(b, &sc->sessions[i].io,
		    "ietd_session_latency_seconds", session_labels_v, &sa);
	}
	family(b, "ietd_session_queue_depth", "gauge",
	    "commands of the session in its CmdSN window now");
	for (unsigned int i = 0; i < sc->nsessions; i++) {
		metrics_buf_printf(b, "ietd_session_queue_depth");
		session_labels(b, sc, &sc->sessions[i]);
		metrics_buf_printf(b, "} %u\n", sc->sessions[i].queue_depth);
	}
	family(b, "ietd_session_data_bytes", "gauge",
	    "command data the session holds in memory now");
	for (unsigned int i = 0; i < sc->nsessions; i++) {
		metrics_buf_printf(b, "ietd_session_data_bytes");
		session_labels(b, sc, &sc->sessions[i]);
		metrics_buf_printf(b, "} %llu\n",
		    (unsigned long long)sc->sessions[i].data_bytes);
	}
}

static void
render_global(struct metrics_buf *b)
{
	uint64_t used, limit, peak, refused;

	iscsi_admin_data_budget(&used, &limit, &peak, &refused);
	family(b, "ietd_data_budget_used_bytes", "gauge",
	    "command data in flight over all sessions (--max-data-memory)");
	metrics_buf_printf(b, "ietd_data_budget_used_bytes %llu\n",
	    (unsigned long long)used);
	family(b, "ietd_data_budget_limit_bytes", "gauge",
	    "the cap on command data in flight (0: none)");
	metrics_buf_printf(b, "ietd_data_budget_limit_bytes %llu\n",
	    (unsigned long long)limit);
	family(b, "ietd_data_budget_peak_bytes", "gauge",
	    "the most command data ever in flight at once");
	metrics_buf_printf(b, "ietd_data_budget_peak_bytes %llu\n",
	    (unsigned long long)peak);
	family(b, "ietd_data_budget_refused_total", "counter",
	    "commands refused (BUSY) because the cap was reached");
	metrics_buf_printf(b, "ietd_data_budget_refused_total %llu\n",
	    (unsigned long long)refused);
	family(b, "ietd_logins_refused_total", "counter",
	    "logins refused, by RFC 7143 login status");
	for (unsigned int i = 0; i < ISCSI_ADMIN_LOGIN_REASONS; i++)
		metrics_buf_printf(b,
		    "ietd_logins_refused_total{reason=\"%s\"} %llu\n",
		    iscsi_admin_login_reasons[i].name,
		    (unsigned long long)iscsi_admin_logins_refused(i));
}

void
metrics_render(struct metrics_buf *b)
{
	struct scrape sc = {0};

	target_foreach(scrape_target, &sc);
	scsi_lu_stats_foreach(scrape_lu, &sc);
	if (iscsi_admin_sessions(&sc.sessions, &sc.nsessions) != 0) {
		sc.sessions = NULL;
		sc.nsessions = 0;
		sc.failed = true;
	}
	if (sc.failed)
		b->failed = true;
	else {
		render_targets(b, &sc);
		render_lus(b, &sc);
		render_sessions(b, &sc);
		render_global(b);
	}
	mem_free(sc.lus);
	mem_free(sc.targets);
	mem_free(sc.sessions);
}
