/*
 * estkit HTTP Bearer authentication (RFC 6750) for the server: opaque
 * tokens from a file of their hashes, or JWTs (RFC 7519) signed by a
 * configured key.
 *
 * Tokens file: a text file, mode 0600, one token per line:
 *
 *   name:SHA256HEX
 *
 * where SHA256HEX is the lower-case hex SHA-256 of the token, which
 * est_token_add makes (32 random bytes, base64url) and shows once. A token
 * that random needs no slow hash. Lines starting with '#' and empty lines
 * are ignored; names are as for the credentials file. The file is read at
 * each check, so `estadm token add|del` apply at once.
 *
 * JWT: compact JWS, alg RS256, ES256 or EdDSA matching the key (never
 * "none"); exp required and in the future, nbf if present in the past (60 s
 * leeway each), with a maximum lifetime no more than that after iat (if
 * present) and after now (60 s leeway), iss equal to the configured issuer,
 * aud (a string or an array) holding the configured audience, sub a user
 * name as above.
 */
#ifndef ESTKIT_BEARER_H
#define ESTKIT_BEARER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

#include "estkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EST_BEARER_LEEWAY 60
#define EST_BEARER_PRINCIPAL_MAX 80

/* What the server checks tokens against; any part may be absent (NULL). */
struct est_bearer_conf {
	const char *tokens_path;    /* the hashed tokens file */
	EVP_PKEY *jwt_key;          /* public key JWTs are signed with (borrowed) */
	const char *jwt_issuer;     /* required with jwt_key */
	const char *jwt_audience;   /* required with jwt_key */
	unsigned jwt_max_lifetime;  /* seconds from iat, and from now, to exp at most; 0: any */
};

/*
 * Check an Authorization header value. A token that is not known is
 * tried once more as the canonical base64 of a token, the form libest's
 * client sends. EST_OK and principal set to "token:NAME" or "jwt:SUB". Otherwise EST_ERR_AUTH with a reason for the
 * log (which part was wrong; the client must not be told) and *rfc_error
 * the RFC 6750 §3.1 error code for the challenge: "invalid_request" for a
 * header that is not "Bearer TOKEN", "invalid_token" for any token not
 * accepted.
 */
enum est_err est_bearer_check(const struct est_bearer_conf *c, const char *authorization,
    time_t now, char principal[EST_BEARER_PRINCIPAL_MAX], const char **rfc_error,
    struct est_error *e);

/* The least RSA key size a JWT key may have. */
#define EST_JWT_RSA_MIN_BITS 2048

/*
 * Whether key can sign the JWTs accepted: RSA of EST_JWT_RSA_MIN_BITS or
 * more (RS256), EC on P-256 (ES256) or Ed25519 (EdDSA). EST_ERR_CONFIG
 * naming them otherwise.
 */
enum est_err est_bearer_jwt_key_check(EVP_PKEY *key, struct est_error *e);

/* Whether an Authorization header value uses the Bearer scheme. */
bool est_bearer_is_bearer(const char *authorization);

/*
 * Make a token for name, store its hash (replacing name's, *replaced says
 * so), rewriting the file atomically with mode 0600. *token is the token,
 * malloc'd: caller shows it once, wipes and free()s it.
 */
enum est_err est_token_add(const char *path, const char *name, char **token, bool *replaced,
    struct est_error *e);

/* Remove name's token. EST_ERR_NOTFOUND when there is none. */
enum est_err est_token_del(const char *path, const char *name, struct est_error *e);

/*
 * The names in the file, in file order, NUL-separated in one malloc'd
 * buffer (caller free()s), *n of them. A missing file is empty.
 */
enum est_err est_token_names(const char *path, char **names, size_t *n, struct est_error *e);

#ifdef __cplusplus
}
#endif

#endif
