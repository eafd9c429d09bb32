/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * ISA-L's crc32_iscsi() takes and returns the CRC register without the
 * final inversion, so the usual ~ happens in crc32c_final(). The digest is
 * sent least significant byte first (RFC 7143 13.1 / the iSCSI digest is
 * little-endian on the wire); callers store it with memcpy of the le value.
 */
#include <isa-l/crc.h>

#include "crc32c.h"

uint32_t
crc32c_update(uint32_t crc, const void *buf, size_t len)
{
	/* crc32_iscsi takes an int length; split larger buffers. */
	const unsigned char *p = buf;

	while (len > 0) {
		int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
		crc = crc32_iscsi((unsigned char *)(uintptr_t)p, chunk, crc);
		p += chunk;
		len -= (size_t)chunk;
	}
	return crc;
}

uint32_t
crc32c_final(uint32_t crc)
{
	return ~crc;
}

uint32_t
crc32c_iov(const struct iovec *iov, int iovcnt)
{
	uint32_t crc = CRC32C_INIT;

	for (int i = 0; i < iovcnt; i++)
		crc = crc32c_update(crc, iov[i].iov_base, iov[i].iov_len);
	return crc32c_final(crc);
}
