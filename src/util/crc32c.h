/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * iSCSI's CRC32C (RFC 7143 13.1, Castagnoli polynomial) through ISA-L,
 * whose crc32_iscsi() has SIMD paths. Seed with CRC32C_INIT and pass the
 * running value back in to digest several buffers.
 */
#ifndef IETD_UTIL_CRC32C_H
#define IETD_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define CRC32C_INIT 0xffffffffu

/* Update a running CRC; finish with crc32c_final(). */
uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len);
/* The value as it goes on the wire (already in host order for put_le32). */
uint32_t crc32c_final(uint32_t crc);
/* One-shot digest of an iovec array. */
uint32_t crc32c_iov(const struct iovec *iov, int iovcnt);

#endif /* IETD_UTIL_CRC32C_H */
