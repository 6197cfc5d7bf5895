/*
 * TLS-SRP (RFC 5054): the verifier file (estadm srp) and the server's
 * per-handshake lookup (estd). See include/estkit/srp.h for the format.
 *
 * OpenSSL 3 deprecates its SRP API without removing it; this is the one
 * file that calls it, so the deprecation warnings are silenced here only.
 * The file (auth/linefile.h) is read per handshake rather than cached: SRP is a legacy
 * method with few users, and so `estadm srp add` takes effect at once with
 * no state shared between worker threads.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/srp.h>
#include <openssl/ssl.h>

#include "auth/linefile.h"
#include "estkit/codec.h"
#include "estkit/httpauth.h"
#include "estkit/log.h"
#include "estkit/srp.h"

#define SALT_LEN 16
#define LINE_MAX_LEN 2048

/* One parsed line: pointers into the (modified) line. */
struct srp_entry {
	const char *user, *group, *salt, *verifier;
};

static bool
valid_user(const char *user)
{
	return est_creds_valid_user(user);
}

/* "name:GROUP:SALT:VERIFIER"; false when malformed. Modifies line. */
static bool
parse_entry(char *line, struct srp_entry *en)
{
	char *f[4], *p = line;

	for (int i = 0; i < 4; i++) {
		f[i] = p;
		p = strchr(p, ':');
		if ((p == NULL) != (i == 3))
			return false;
		if (p != NULL)
			*p++ = '\0';
	}
	en->user = f[0];
	en->group = f[1];
	en->salt = f[2];
	en->verifier = f[3];
	return valid_user(en->user) && SRP_get_default_gN(en->group) != NULL &&
	    en->salt[0] != '\0' && en->verifier[0] != '\0';
}

#define WHAT "name:GROUP:SALT:VERIFIER (estadm srp add writes it)"

static bool
line_ok(const char *line)
{
	char copy[LINE_MAX_LEN];
	struct srp_entry en;

	return strlen(line) < sizeof(copy) && parse_entry(strcpy(copy, line), &en);
}

/* ---- estadm: writing the file ---- */

/* "name:GROUP:SALT:VERIFIER" for password, malloc'd. */
static enum est_err
make_entry(const char *user, const char *password, char **out, struct est_error *e)
{
	const SRP_gN *gn = SRP_get_default_gN(EST_SRP_GROUP);
	unsigned char salt_bin[SALT_LEN], *vbin = NULL;
	char *salt = NULL, *ver = NULL;
	BIGNUM *s = NULL, *v = NULL;
	size_t slen, vlen;
	enum est_err rc = EST_ERR_CRYPTO;
	int n;

	if (gn == NULL || RAND_bytes(salt_bin, sizeof(salt_bin)) != 1 ||
	    (s = BN_bin2bn(salt_bin, sizeof(salt_bin), NULL)) == NULL ||
	    !SRP_create_verifier_BN(user, password, &s, &v, gn->N, gn->g) ||
	    (vbin = malloc((size_t)BN_num_bytes(v))) == NULL) {
		est_fail_ssl(e, rc, "cannot compute the SRP verifier");
		goto out;
	}
	vlen = (size_t)BN_bn2bin(v, vbin);
	if ((rc = est_b64_encode(salt_bin, sizeof(salt_bin), false, &salt, &slen, e)) != EST_OK ||
	    (rc = est_b64_encode(vbin, vlen, false, &ver, &vlen, e)) != EST_OK)
		goto out;
	n = snprintf(NULL, 0, "%s:%s:%s:%s", user, EST_SRP_GROUP, salt, ver);
	if (n < 0 || (*out = malloc((size_t)n + 1)) == NULL) {
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
		goto out;
	}
	snprintf(*out, (size_t)n + 1, "%s:%s:%s:%s", user, EST_SRP_GROUP, salt, ver);
	rc = EST_OK;
out:
	free(salt);
	free(ver);
	free(vbin);
	BN_clear_free(s);
	BN_clear_free(v);
	return rc;
}

enum est_err
est_srp_set(const char *path, const char *user, const char *password, bool *replaced,
    struct est_error *e)
{
	char *line = NULL;
	enum est_err rc;

	if (!valid_user(user))
		return est_fail(e, EST_ERR_CONFIG, "user name \"%s\": use 1-%d of A-Z a-z 0-9 . _ @ + -",
		    user, EST_HTTPAUTH_MAX_USER);
	if (password[0] == '\0')
		return est_fail(e, EST_ERR_CONFIG, "the password is empty");
	if ((rc = make_entry(user, password, &line, e)) == EST_OK)
		rc = lf_replace(path, line_ok, WHAT, user, line, replaced, e);
	free(line);
	return rc;
}

enum est_err
est_srp_del(const char *path, const char *user, struct est_error *e)
{
	bool found = false;
	enum est_err rc = lf_replace(path, line_ok, WHAT, user, NULL, &found, e);

	if (rc == EST_OK && !found)
		return est_fail(e, EST_ERR_NOTFOUND, "no SRP user \"%s\" in %s", user, path);
	return rc;
}

enum est_err
est_srp_users(const char *path, char **names, size_t *n, struct est_error *e)
{
	return lf_names(path, line_ok, WHAT, names, n, e);
}

/* ---- estd: the handshake ---- */

struct lookup {
	const char *user;
	BIGNUM *salt, *verifier;
	const SRP_gN *gn;
	bool bad;
};

static BIGNUM *
bn_of_b64(const char *b64)
{
	struct est_error ignored = { 0 };
	unsigned char *bin = NULL;
	size_t len = 0;
	BIGNUM *bn;

	if (est_b64_decode(b64, strlen(b64), &bin, &len, &ignored) != EST_OK)
		return NULL;
	bn = BN_bin2bn(bin, (int)len, NULL);
	free(bin);
	return bn;
}

static bool
find_user(const char *line, void *arg)
{
	struct lookup *lk = arg;
	char copy[LINE_MAX_LEN];
	struct srp_entry en;

	if (!lf_is(line, lk->user) || !parse_entry(strcpy(copy, line), &en))
		return true;
	lk->gn = SRP_get_default_gN(en.group);
	lk->salt = bn_of_b64(en.salt);
	lk->verifier = bn_of_b64(en.verifier);
	lk->bad = lk->salt == NULL || lk->verifier == NULL;
	OPENSSL_cleanse(copy, sizeof(copy));
	return false;
}

/*
 * A made-up entry for a name not in the file (RFC 5054 §2.5.1.3): the salt
 * is HMAC(secret, name), so it is the same at every try, as a real user's
 * is; the verifier is the one made at set-up (make_fake_verifier), so the
 * handshake fails, and costs what a known name's does.
 */
static bool
fake_entry(struct est_srp_server *srv, struct lookup *lk)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	lk->gn = SRP_get_default_gN(EST_SRP_GROUP);
	return HMAC(EVP_sha256(), srv->secret, sizeof(srv->secret), (const unsigned char *)lk->user,
	    strlen(lk->user), mac, &maclen) != NULL &&
	    (lk->salt = BN_bin2bn(mac, SALT_LEN, NULL)) != NULL &&
	    (lk->verifier = BN_bin2bn(srv->fake_verifier, (int)srv->fake_verifier_len,
	    NULL)) != NULL;
}

/*
 * The verifier of a random password, once per server. Made per handshake,
 * its modular exponentiation made an unknown name 0.2 ms slower than a
 * known one: a timing hint at who exists. One verifier for every unknown
 * name tells nothing: a verifier is never sent, only B = kv + g^b with a
 * fresh b.
 */
static enum est_err
make_fake_verifier(struct est_srp_server *srv, struct est_error *e)
{
	const SRP_gN *gn = SRP_get_default_gN(EST_SRP_GROUP);
	unsigned char pw[16];
	char pwtext[33];
	BIGNUM *s = NULL, *v = NULL;
	enum est_err rc = EST_OK;

	if (gn == NULL || RAND_bytes(pw, sizeof(pw)) != 1)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot make up an SRP verifier");
	for (size_t i = 0; i < sizeof(pw); i++)
		snprintf(pwtext + 2 * i, 3, "%02x", pw[i]);
	if (!SRP_create_verifier_BN("unknown", pwtext, &s, &v, gn->N, gn->g) ||
	    BN_num_bytes(v) > (int)sizeof(srv->fake_verifier))
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot make up an SRP verifier");
	else
		srv->fake_verifier_len = (size_t)BN_bn2bin(v, srv->fake_verifier);
	OPENSSL_cleanse(pwtext, sizeof(pwtext));
	OPENSSL_cleanse(pw, sizeof(pw));
	BN_free(s);
	BN_clear_free(v);
	return rc;
}

/* SSL_CTX_set_srp_username_callback: the verifier of the name the client gave. */
static int
on_srp_user(SSL *ssl, int *ad, void *arg)
{
	struct est_srp_server *srv = arg;
	struct est_error e = { 0 };
	struct lookup lk = { 0 };
	int rc = SSL3_AL_FATAL;

	*ad = SSL_AD_INTERNAL_ERROR;
	if ((lk.user = SSL_get_srp_username(ssl)) == NULL || !valid_user(lk.user)) {
		*ad = SSL_AD_ILLEGAL_PARAMETER;
		return rc;
	}
	if (lf_each(srv->path, line_ok, WHAT, find_user, &lk, &e) != EST_OK) {
		log_warn("SRP: %s", e.msg);
		goto out;
	}
	if (lk.bad) {
		log_warn("SRP: %s: the entry of %s is not valid base64", srv->path, lk.user);
		goto out;
	}
	if (lk.gn == NULL && !fake_entry(srv, &lk)) {
		log_warn("SRP: cannot make up a verifier");
		goto out;
	}
	/* OpenSSL copies the numbers (1 on success). */
	if (SSL_set_srp_server_param(ssl, lk.gn->N, lk.gn->g, lk.salt, lk.verifier, NULL) == 1)
		rc = SSL_ERROR_NONE;
out:
	BN_clear_free(lk.salt);
	BN_clear_free(lk.verifier);
	return rc;
}

enum est_err
est_srp_tls_enable(SSL_CTX *ctx, const char *ciphers, struct est_srp_server *srv,
    struct est_error *e)
{
	enum est_err rc;

	/*
	 * No session tickets: a resumed session runs no SRP exchange, yet
	 * OpenSSL takes its user name from the new ClientHello, so any name
	 * would pass (found in review; est_srp_peer_user refuses such a session
	 * too). Nor a session cache, for the same reason.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (srv->fake_verifier_len == 0 && (rc = make_fake_verifier(srv, e)) != EST_OK)
		return rc;
	if (!SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_set_cipher_list(ctx, ciphers) != 1 ||
	    SSL_CTX_set_srp_username_callback(ctx, on_srp_user) != 1 ||
	    SSL_CTX_set_srp_cb_arg(ctx, srv) != 1)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot enable TLS-SRP");
	return EST_OK;
}

const char *
est_srp_peer_user(SSL *ssl)
{
	const SSL_CIPHER *c;

	/* Only a full handshake with SRP key exchange proved the name. */
	if (ssl == NULL || SSL_session_reused(ssl) || (c = SSL_get_current_cipher(ssl)) == NULL ||
	    SSL_CIPHER_get_kx_nid(c) != NID_kx_srp)
		return NULL;
	return SSL_get_srp_username(ssl);
}
