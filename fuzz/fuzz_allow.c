/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * libFuzzer target for the access files (initiators.allow,
 * initiators.deny, targets.allow): the input is one file, checked as
 * ietd --check would, then matched the way a login and a discovery ask,
 * with IPv4, IPv6 and IPv4-mapped peers and with and without a name.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/allow.h"
#include "util/log.h"

#define FUZZ_NQUERY 4
#define FUZZ_ABSENT "/nonexistent/fuzz.allow"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One question a login or a discovery asks of the files. */
struct fuzz_query {
	const char *target;
	const char *initiator; /* NULL: the name is not known yet */
	const char *addr;      /* peer (and local) address */
	int family;
};

/*
 * The input's length picks a query, so a corpus file stays a plain
 * access file and every query is still reached by mutation.
 */
static const struct fuzz_query fuzz_queries[FUZZ_NQUERY] = {
    {"iqn.2001-04.com.example:storage.disk1", "iqn.1993-08.org.debian:01:abc",
	"192.168.1.20", AF_INET},
    {"iqn.2026-01.org.example:t1", "iqn.2026-01.org.example:host-2",
	"2001:db8:1::5", AF_INET6},
    {"iqn.2026-01.org.example:t1", NULL, "::ffff:10.1.2.3", AF_INET6},
    {"ALL", "ALL", "0.0.0.0", AF_INET},
};

static int fuzz_fd = -1;
static char fuzz_path[64];

static void
fuzz_report(void *arg, const char *msg)
{
	unsigned int *count = arg;

	/* Every message names the file and is one line. */
	if (strncmp(msg, fuzz_path, strlen(fuzz_path)) != 0 ||
	    strchr(msg, '\n') != NULL)
		abort();
	(*count)++;
}

static void
fuzz_addr(const struct fuzz_query *q, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = (sa_family_t)q->family;
	if (q->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, q->addr, &in->sin_addr) != 1)
			abort();
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, q->addr, &in6->sin6_addr) != 1)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fuzz_query *q = &fuzz_queries[size % FUZZ_NQUERY];
	struct sockaddr_storage ss;
	struct allow_paths p;
	unsigned int errors = 0, n;

	if (fuzz_fd < 0) {
		log_init("fuzz", 0, -1);
		fuzz_fd = memfd_create("fuzz_allow", MFD_CLOEXEC);
		if (fuzz_fd < 0)
			abort();
		snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d",
		    fuzz_fd);
	}
	/* The reader opens the file by name, as it does /etc/... */
	if (ftruncate(fuzz_fd, 0) != 0 ||
	    pwrite(fuzz_fd, data, size, 0) != (ssize_t)size)
		abort();

	n = allow_check_file(fuzz_path, fuzz_report, &errors);
	if (n != errors)
		abort();

	fuzz_addr(q, &ss);
	/* As initiators.allow: decides alone. */
	p.initiators_allow = fuzz_path;
	p.initiators_deny = FUZZ_ABSENT;
	p.targets_allow = fuzz_path;
	(void)allow_initiator(&p, q->target, q->initiator,
	    (struct sockaddr *)&ss);
	/* As initiators.deny behind an absent initiators.allow. */
	p.initiators_allow = FUZZ_ABSENT;
	p.initiators_deny = fuzz_path;
	(void)allow_initiator(&p, q->target, q->initiator,
	    (struct sockaddr *)&ss);
	/* As targets.allow, with the address as the local portal. */
	(void)allow_target_portal(&p, q->target, (struct sockaddr *)&ss);
	/* No file at all lets everyone in. */
	p.targets_allow = FUZZ_ABSENT;
	if (!allow_target_portal(&p, q->target, (struct sockaddr *)&ss))
		abort();
	return 0;
}
