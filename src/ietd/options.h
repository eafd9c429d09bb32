/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * ietd's command line (ietd(8)): IET's options plus our additions. Parsing
 * is separate from main.c so unit tests can run it.
 */
#ifndef IETD_IETD_OPTIONS_H
#define IETD_IETD_OPTIONS_H

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "backend/backend.h"

#define IETD_DEFAULT_CONFIG "/etc/ietd.conf"
#define IETD_DEFAULT_PIDFILE "/var/run/ietd.pid"
#define IETD_DEFAULT_PORT 3260
#define IETD_MAX_THREADS 64

struct ietd_options {
	const char *config;
	int debug; /* -1: off, else 0..2 */
	bool foreground;
	bool gid_set, uid_set;
	gid_t gid;
	uid_t uid;
	const char *address; /* NULL = any, both families */
	uint16_t port;
	const char *pid_file;
	bool check_config; /* -t: parse, report, exit */
	bool help, version;
	unsigned int threads; /* event threads; 0 = one per core */
	const char *initiators_allow;
	const char *initiators_deny;
	const char *targets_allow;
	const char *control;    /* ietadm's Unix socket */
	const char *status_dir; /* IET-format volume and session files */
	const char *state_dir;  /* APTPL persistent reservations */
	/* --io-engine; default auto */
	enum backend_engine io_engine;
	uint64_t max_data_memory; /* bytes; 0 = the built-in default */
	bool log_json;            /* --log-format=json */
	const char *metrics;      /* --metrics=ADDR:PORT; NULL = off */
};

/*
 * Parse argv into o (defaults first). On a bad option or value, print one
 * line saying what is wrong and the usage to err, and return -1. Returns
 * 0 otherwise (also for --help / --version: check o->help / o->version).
 */
int options_parse(struct ietd_options *o, int argc, char **argv, FILE *err);
void options_usage(FILE *f);

#endif /* IETD_IETD_OPTIONS_H */
