/*
 * estkit TLS-SRP (RFC 5054): the verifier file and the server side of the
 * handshake. A legacy method, kept because libest offers it (RFC 7030
 * §3.3.3): SRP exists only in TLS 1.2, its cipher suites are CBC with
 * HMAC-SHA1, and OpenSSL 3 deprecates the API. Prefer certificates.
 *
 * Verifier file: a text file, mode 0600, one user per line:
 *
 *   name:GROUP:SALT:VERIFIER
 *
 * GROUP is the RFC 5054 group by its size in bits (2048, 3072, 4096, ...),
 * SALT and VERIFIER base64 (RFC 5054 §2.4: v = g^x mod N, x = SHA1(salt |
 * SHA1(name ":" password))). No password is stored. Lines starting with '#'
 * and empty lines are ignored; names are as for the credentials file
 * (est_creds_valid_user).
 */
#ifndef ESTKIT_SRP_H
#define ESTKIT_SRP_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "estkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The group new verifiers use: 2048 bits, the least OpenSSL's security level 2 takes. */
#define EST_SRP_GROUP "2048"
#define EST_SRP_SECRET_LEN 32
/* A verifier of that group, at most. */
#define EST_SRP_VERIFIER_MAX 256

/*
 * Add a user or replace its verifier (*replaced says which), rewriting the
 * file atomically with mode 0600 (created when missing).
 */
enum est_err est_srp_set(const char *path, const char *user, const char *password,
    bool *replaced, struct est_error *e);

/* Remove a user. EST_ERR_NOTFOUND when there is none of that name. */
enum est_err est_srp_del(const char *path, const char *user, struct est_error *e);

/*
 * The user names in the file, in file order, NUL-separated in one malloc'd
 * buffer (caller free()s *names), *n of them. A missing file is empty.
 * EST_ERR_CONFIG names the file and line of a malformed entry.
 */
enum est_err est_srp_users(const char *path, char **names, size_t *n, struct est_error *e);

/*
 * What the server's handshake needs; lives as long as the SSL_CTX using it.
 * The caller sets path and secret; est_srp_tls_enable fills the rest.
 */
struct est_srp_server {
	const char *path;                          /* the verifier file, read per handshake */
	unsigned char secret[EST_SRP_SECRET_LEN];  /* keys the fake salts of unknown names */
	unsigned char fake_verifier[EST_SRP_VERIFIER_MAX]; /* what unknown names get */
	size_t fake_verifier_len;                  /* 0 until est_srp_tls_enable */
};

/*
 * Offer TLS-SRP on a listener's context: at most TLS 1.2, ciphers (which
 * must name SRP suites), no session resumption (no tickets, no session
 * cache), and the verifier looked up per handshake. An unknown name gets a
 * made-up verifier with a salt fixed per name, so it fails as a wrong
 * password does. srv is borrowed.
 */
enum est_err est_srp_tls_enable(SSL_CTX *ctx, const char *ciphers, struct est_srp_server *srv,
    struct est_error *e);

/*
 * The SRP user name a connection authenticated, or NULL: also for a
 * resumed session, which proved no name. Borrowed from ssl.
 */
const char *est_srp_peer_user(SSL *ssl);

#ifdef __cplusplus
}
#endif

#endif
