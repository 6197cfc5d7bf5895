/*
 * estkit HTTP authentication: the credentials file and HTTP Basic (RFC 7617)
 * and Digest (RFC 7616, qop=auth, MD5 and SHA-256) checks for the server.
 *
 * Credentials file: a text file, mode 0600, one user per line:
 *
 *   name:pbkdf2-sha256$ITER$SALT$HASH:REALM:MD5HA1:SHA256HA1
 *
 * SALT and HASH are base64, HASH = PBKDF2-HMAC-SHA256(password, salt, ITER,
 * 32 bytes) and is what Basic is checked against. Digest needs the server to
 * know H(name:realm:password) for each algorithm, so those (hex) are kept
 * too, bound to the realm (as Apache's htdigest does). No password is ever
 * stored in clear. Lines starting with '#' and empty lines are ignored.
 * User names are 1-64 bytes of [A-Za-z0-9._@+-].
 */
#ifndef ESTKIT_HTTPAUTH_H
#define ESTKIT_HTTPAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "estkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EST_HTTPAUTH_NONCE_KEY_LEN 32
#define EST_HTTPAUTH_MAX_USER 64

struct est_creds;
struct est_nonces;

/*
 * The Digest nonces a server has issued: key is its secret (copied), and
 * capacity how many nonces it remembers (the oldest is forgotten first; a
 * forgotten nonce is answered stale=true). Memory is fixed: about 40 bytes
 * per nonce. Thread-safe. Free with est_nonces_free().
 */
enum est_err est_nonces_new(const unsigned char key[EST_HTTPAUTH_NONCE_KEY_LEN],
    size_t capacity, struct est_nonces **out, struct est_error *e);
void est_nonces_free(struct est_nonces *n);

/*
 * Load a credentials file. A missing file is an empty set (EST_OK), so a
 * server can start before the first user is added. EST_ERR_CONFIG names the
 * file and line of a malformed entry. Caller frees with est_creds_free().
 */
enum est_err est_creds_load(const char *path, struct est_creds **out, struct est_error *e);
void est_creds_free(struct est_creds *c);

/*
 * Re-read the file if its modification time or size changed since it was
 * loaded, so that `estadm user add` takes effect without a restart. On a
 * failed re-read the old set stays in force and the error is returned.
 */
enum est_err est_creds_refresh(struct est_creds *c, struct est_error *e);

/* Number of users loaded. */
size_t est_creds_count(const struct est_creds *c);

/*
 * Add a user, or replace its password (replaced=true then), rewriting the
 * file atomically with mode 0600. realm is the Digest realm of the server.
 */
enum est_err est_creds_set(const char *path, const char *realm, const char *user,
    const char *password, bool *replaced, struct est_error *e);

/* Remove a user. EST_ERR_NOTFOUND when there is no such user. */
enum est_err est_creds_del(const char *path, const char *user, struct est_error *e);

/* Whether a user name is acceptable (see above). */
bool est_creds_valid_user(const char *user);

/*
 * Check an Authorization header value against the credentials.
 *   method, uri:  the request's method and request-target, as received.
 *   nonces:       the nonces the server issued (its challenges).
 *   now:          the current time; a Digest nonce older than 300 s is stale.
 * A Digest (nonce, nc) pair is accepted once: a repeat is refused as a replay.
 * On success returns EST_OK and copies the user name to user (at least
 * EST_HTTPAUTH_MAX_USER + 1 bytes). Otherwise EST_ERR_AUTH, with a reason for
 * the log that says which part was wrong ("no such user", "wrong password",
 * "stale nonce", "replayed", "malformed header") -- the client must not be
 * told which. *stale is set true when only the nonce was stale or forgotten
 * (RFC 7616 stale=true). A Digest whose uri names another resource than uri
 * is EST_ERR_BADREQ instead (RFC 7616 §3.4.6), checked before anything about
 * the credentials, so its reason (both uris) may be shown to the client.
 */
enum est_err est_httpauth_check(struct est_creds *c, const char *realm,
    const char *method, const char *uri, const char *authorization,
    struct est_nonces *nonces, time_t now, char *user, bool *stale, struct est_error *e);

/*
 * The uri check of est_httpauth_check alone: EST_ERR_BADREQ when the header
 * is a Digest whose uri names another resource than uri (the request-target),
 * else EST_OK, also for a header est_httpauth_check would refuse otherwise.
 * For a server that answers a malformed request the same whether or not its
 * failure limits would refuse the credentials unchecked.
 */
enum est_err est_httpauth_check_uri(const char *authorization, const char *uri,
    struct est_error *e);

/*
 * The user name an Authorization header (Basic or Digest) claims, read
 * without checking anything else, into user (at least
 * EST_HTTPAUTH_MAX_USER + 1 bytes): what failure limits are kept by before
 * the password is checked. false, and user empty, when the header holds no
 * well-formed user name.
 */
bool est_httpauth_user(const char *authorization, char *user);

/*
 * The HTTP authentication challenges a 401 may carry, in the order an alias
 * lists them (http-challenges). Clients differ in what they read: libest's
 * client takes only the first WWW-Authenticate header and knows only Digest
 * MD5 and Basic; curl --anyauth takes the strongest scheme, and of several
 * Digest challenges the first. Hence the default order.
 */
enum est_challenge {
	EST_CHALLENGE_DIGEST_MD5 = 0,   /* "digest-md5" */
	EST_CHALLENGE_DIGEST_SHA256,    /* "digest-sha256" */
	EST_CHALLENGE_BASIC,            /* "basic" */
	EST_CHALLENGE__MAX
};

/* The default order: Digest MD5, Digest SHA-256, Basic. */
extern const enum est_challenge est_challenge_default[EST_CHALLENGE__MAX];

/* A challenge by its configuration name (case-insensitive); -1 when unknown. */
int est_challenge_parse(const char *name);

/* The configuration name of a challenge ("?" when out of range). */
const char *est_challenge_name(enum est_challenge c);

/*
 * The WWW-Authenticate challenges for a 401, in the given order (NULL or
 * n_order 0: est_challenge_default). Writes up to max values (without the
 * header name) into out[i] (512 bytes each) and returns how many. Digest
 * challenges share one new nonce per call, remembered in nonces.
 */
size_t est_httpauth_challenges(const char *realm, struct est_nonces *nonces, time_t now,
    bool stale, const enum est_challenge *order, size_t n_order, char out[][512], size_t max);

#ifdef __cplusplus
}
#endif

#endif
