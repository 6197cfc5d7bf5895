/*
 * SHA-256 as 64 lowercase hex digits (sha256hex.c): the form the audit
 * chain, the bearer-token file and the store's key hashes write.
 */
#ifndef ESTKIT_UTIL_SHA256HEX_H
#define ESTKIT_UTIL_SHA256HEX_H

#include <stdbool.h>
#include <stddef.h>

#define EST_SHA256_HEX_LEN 64

/* SHA-256 of data[0..len) into hex (NUL-terminated); false if OpenSSL fails. */
bool est_sha256_hex(const void *data, size_t len, char hex[EST_SHA256_HEX_LEN + 1]);

#endif
