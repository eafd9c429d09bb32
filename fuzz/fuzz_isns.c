/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * libFuzzer target for what an iSNS server sends ietd: the input is the
 * byte stream of one connection, fed to the reassembly in pieces whose
 * sizes the input's first byte picks (as recv() might cut it); each
 * whole message is walked attribute by attribute, its strings and
 * numbers read, and read as a DevAttrQry answer, as the client does.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "isns/isns_int.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_message(const struct isns_rx *rx)
{
	static const char *names[16];
	const char *why = NULL;
	struct isns_tlv t;
	size_t off = 0;
	unsigned int n;
	bool cut;
	uint32_t v;

	while (isns_tlv_next(rx->msg, rx->msg_len, &off, &t, &why) == 1) {
		const char *s = isns_tlv_str(&t, ISNS_NAME_MAX - 1);

		if (s != NULL && strlen(s) >= ISNS_NAME_MAX)
			__builtin_trap();
		(void)isns_tlv_u32(&t, &v);
	}
	if (rx->msg_len >= 4 &&
	    isns_parse_initiators(rx->msg + 4, rx->msg_len - 4, "iqn.self",
		names, 16, &n, &cut, &why) == 0) {
		if (n > 16)
			__builtin_trap();
		for (unsigned int i = 0; i < n; i++)
			if (strlen(names[i]) >= ISNS_NAME_MAX)
				__builtin_trap();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	struct isns_rx rx = {0};
	size_t off = 1, chunk;

	if (!init) {
		log_init("fuzz", 0, -1);
		init = true;
	}
	if (size < 1)
		return 0;
	chunk = (size_t)data[0] + 1;
	while (off < size) {
		const char *why = NULL;
		size_t n = size - off < chunk ? size - off : chunk, used;
		int r = isns_rx_feed(&rx, data + off, n, &used, &why);

		if (used > n)
			__builtin_trap();
		off += used;
		if (r == ISNS_RX_ERROR)
			break;
		if (r == ISNS_RX_MESSAGE) {
			if (rx.msg_len > ISNS_RX_MSG_MAX)
				__builtin_trap();
			fuzz_message(&rx);
			isns_rx_done(&rx);
		}
	}
	isns_rx_free(&rx);
	return 0;
}
