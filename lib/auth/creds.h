/*
 * Internal interface between lib/auth/credentials.c and lib/auth/httpauth.c;
 * not installed. The lookups take the credential set's read lock, so they may
 * run in any thread while another thread calls est_creds_refresh().
 */
#ifndef ESTKIT_AUTH_CREDS_H
#define ESTKIT_AUTH_CREDS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "estkit/httpauth.h"

/* Size of a lower-case hex digest buffer, SHA-256 and NUL. */
#define EST_CREDS_HEX_LEN 65

/*
 * Lower-case hex of md over the n parts joined by ':' into hex (twice the
 * digest size plus one bytes: EST_CREDS_HEX_LEN for MD5 and SHA-256).
 * Returns false if the digest failed (e.g. MD5 under a FIPS-only provider).
 */
bool est_creds_digest_hex(const EVP_MD *md, const char *const *parts, size_t n, char *hex);

/*
 * Check a Basic password (pwlen bytes, any byte values) for user. EST_OK, or
 * EST_ERR_AUTH with "no such user 'U'" / "wrong password for 'U'". Costs one
 * PBKDF2 either way, so timing does not tell whether the user exists.
 */
enum est_err est_creds_check_password(struct est_creds *c, const char *user,
    const char *pw, size_t pwlen, struct est_error *e);

/*
 * Copy user's Digest H(A1) (hex of H(user:realm:password), SHA-256 when
 * sha256, else MD5) into ha1. EST_ERR_AUTH when there is no such user or the
 * user's entry was made for another realm.
 */
enum est_err est_creds_digest_ha1(struct est_creds *c, const char *user, const char *realm,
    bool sha256, char ha1[EST_CREDS_HEX_LEN], struct est_error *e);

#endif
