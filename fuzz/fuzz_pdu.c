/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * libFuzzer target for the iSCSI PDU engine: the input is a byte stream
 * an initiator could send, fed through a socketpair into the receive state
 * machine, login and negotiation, and (once logged in) the full feature
 * phase against a nullio LUN. The target's output is read and dropped.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "iscsi_harness.h"

#define FUZZ_CHUNK 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_conf_text[] = "Target iqn.2026-11.fuzz:disk\n"
				     "\tLun 0 Sectors=64,Type=nullio\n"
				     "\tInitialR2T No\n"
				     "\tMaxOutstandingR2T 4\n"
				     "\tHeaderDigest None,CRC32C\n"
				     "\tDataDigest None,CRC32C\n";

static void
fuzz_drain_output(int fd)
{
	uint8_t buf[FUZZ_CHUNK];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct fuzz_iscsi fx;
	size_t off = 0;
	int rc = 0;

	if (!ready) {
		if (fuzz_iscsi_init(fuzz_conf_text) != 0)
			abort();
		ready = true;
	}
	if (!fuzz_iscsi_open(&fx))
		return 0;
	while (rc == 0 && fx.conn->state != CONN_S_CLOSED) {
		size_t n = size - off < FUZZ_CHUNK ? size - off : FUZZ_CHUNK;
		ssize_t w = 0;

		if (n > 0) {
			w = write(fx.peer, data + off, n);
			if (w > 0)
				off += (size_t)w;
		} else {
			shutdown(fx.peer, SHUT_WR);
		}
		rc = fuzz_iscsi_round(&fx);
		fuzz_drain_output(fx.peer);
		if (n == 0 || (w <= 0 && rc == 0 && off < size))
			break;
	}
	fuzz_iscsi_close(&fx);
	return 0;
}
