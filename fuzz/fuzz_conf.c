/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * libFuzzer target for the configuration readers: the same bytes are fed
 * to the ietd.conf parser and, through a memfd, to the access-file reader
 * and matcher. Any input must load or be refused with reported errors,
 * never crash, leak or read outside the input.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config/allow.h"
#include "config/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_conf_report(void *arg, const char *msg)
{
	size_t *count = arg;

	(*count)++;
	(void)msg;
}

/* Run the access-file code over data, as each of the three files. */
static void
fuzz_conf_allow(const uint8_t *data, size_t size)
{
	struct sockaddr_in6 peer = {.sin6_family = AF_INET6};
	struct allow_paths p;
	char path[64];
	size_t errors = 0;
	int fd;

	fd = memfd_create("fuzz_allow", MFD_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	p.initiators_allow = path;
	p.initiators_deny = path;
	p.targets_allow = path;
	/* An IPv4-mapped peer takes both the IPv4 and the IPv6 paths. */
	peer.sin6_addr.s6_addr[10] = 0xff;
	peer.sin6_addr.s6_addr[11] = 0xff;
	peer.sin6_addr.s6_addr[12] = 10;
	peer.sin6_addr.s6_addr[15] = 1;
	allow_check_file(path, fuzz_conf_report, &errors);
	allow_initiator(&p, "iqn.2026-01.org.example:t1",
	    "iqn.1993-08.org.debian:01:abc", (struct sockaddr *)&peer);
	p.initiators_allow = "/nonexistent/initiators.allow";
	allow_initiator(&p, "iqn.2026-01.org.example:t1", NULL,
	    (struct sockaddr *)&peer);
	allow_target_portal(&p, "iqn.2026-01.org.example:t1",
	    (struct sockaddr *)&peer);
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t errors = 0;
	struct conf *conf;

	conf = conf_load_buf("fuzz.conf", (const char *)data, size,
	    fuzz_conf_report, &errors);
	if (conf != NULL) {
		/* Writing walks every field the parser filled in. */
		FILE *null = fopen("/dev/null", "w");

		if (null != NULL) {
			conf_write(conf, null, true);
			fclose(null);
		}
		conf_free(conf);
	}
	fuzz_conf_allow(data, size);
	return 0;
}
