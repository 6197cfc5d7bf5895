/*
 * TLS for listeners: one SSL_CTX per listener.
 *
 * TLS 1.2 is the floor (RFC 8996), only forward-secret AEAD suites, no
 * renegotiation (EST-G-07), no compression; sessions resume from a bounded
 * cache (EST-G-06). Client certificates are checked at the handshake
 * against every CA the server knows (so an unknown issuer gets a TLS
 * alert), except that expiry is left to the EST layer, which then answers
 * 403 with a reason a person can act on rather than a bare alert.
 * A listener with srp = yes also offers TLS-SRP (lib/auth/srp.c), which
 * holds it to TLS 1.2.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "estkit/log.h"
#include "estkit/srp.h"
#include "server/server_int.h"

#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL:!eNULL:!SHA1:!MD5"
/* SRP's suites are CBC with HMAC-SHA1 (RFC 5054): named, as !SHA1 would drop them. */
#define TLS12_SRP_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:SRP-AES-256-CBC-SHA:" \
	"SRP-AES-128-CBC-SHA:!aNULL:!eNULL:!MD5"

static const unsigned char session_ctx_id[] = "estd";
/* Sessions a listener keeps for resumption (about 10 KiB each with a client certificate). */
#define TLS_SESSION_CACHE_SIZE 1024
#define TLS_SESSION_SECONDS 300

/*
 * The only verification errors a handshake lets through: expiry is judged
 * again per alias, with a clear 403. Nothing else may pass: the
 * per-request check trusts the signatures of the path validated here
 * (tls_facts_capture, est_ca_verify_known).
 */
static bool
let_through(long err)
{
	return err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID;
}

static int
verify_cb(int ok, X509_STORE_CTX *ctx)
{
	int err = X509_STORE_CTX_get_error(ctx);

	return ok || let_through(err);
}

/*
 * The path a full handshake validated, kept with the session it makes:
 * OpenSSL keeps none for a resumed session (SSL_get0_verified_chain is NULL
 * there), and without it every request on a resumed session checked the
 * client certificate's signature again: an ECDSA verification, a sixth of
 * such an enrolment's instructions. The path goes on the session while the
 * handshake verifies the client's certificate, before the session is in the
 * listener's cache; from then on it is only read, by any worker resuming
 * it. A session OpenSSL copies (each TLS 1.3 resumption's, a ticket's)
 * takes a reference to the same certificates.
 */
static int session_path_index = -1;
static pthread_once_t session_path_once = PTHREAD_ONCE_INIT;

static int
session_path_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, void **from_d, int idx,
    long argl, void *argp)
{
	STACK_OF(X509) *path = *(STACK_OF(X509) **)from_d;

	(void)to;
	(void)from;
	(void)idx;
	(void)argl;
	(void)argp;
	/* A copy that cannot take the path has none: its requests check in full. */
	*from_d = path != NULL ? X509_chain_up_ref(path) : NULL;
	return 1;
}

static void
session_path_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	sk_X509_pop_free(ptr, X509_free);
}

static void
session_path_index_new(void)
{
	session_path_index = SSL_SESSION_get_ex_new_index(0, NULL, NULL, session_path_dup,
	    session_path_free);
}

/* SSL_CTX_set_cert_verify_callback: verify as OpenSSL would, and keep the path. */
static int
verify_and_keep(X509_STORE_CTX *ctx, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	SSL_SESSION *sess = ssl != NULL ? SSL_get_session(ssl) : NULL;
	STACK_OF(X509) *path;
	int ok = X509_verify_cert(ctx);

	(void)arg;
	if (ok != 1 || sess == NULL || SSL_session_reused(ssl))
		return ok;
	/* The same rule as tls_facts_capture: signatures checked, at most a validity error. */
	if (X509_STORE_CTX_get_error(ctx) != X509_V_OK && !let_through(X509_STORE_CTX_get_error(ctx)))
		return ok;
	if ((path = X509_STORE_CTX_get1_chain(ctx)) == NULL)
		return ok;
	sk_X509_pop_free(SSL_SESSION_get_ex_data(sess, session_path_index), X509_free);
	if (SSL_SESSION_set_ex_data(sess, session_path_index, path) != 1)
		sk_X509_pop_free(path, X509_free);
	return ok;
}

static enum est_err
load_identity(SSL_CTX *ctx, const struct est_listener_conf *lc, struct est_error *e)
{
	EVP_PKEY *key = NULL;
	enum est_err rc;

	if (SSL_CTX_use_certificate_chain_file(ctx, lc->cert_path) != 1)
		return est_fail_ssl(e, EST_ERR_CONFIG, "[listener %s] cannot use certificate %s",
		    lc->name, lc->cert_path);
	if ((rc = est_key_read(lc->key_path, true, &key, e)) != EST_OK)
		return rc;
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		EVP_PKEY_free(key);
		return est_fail_ssl(e, EST_ERR_CONFIG, "[listener %s] key %s does not match certificate %s",
		    lc->name, lc->key_path, lc->cert_path);
	}
	EVP_PKEY_free(key);
	return EST_OK;
}

/* Add the subjects of certs to names; false when out of memory. */
static bool
add_names(STACK_OF(X509_NAME) *names, STACK_OF(X509) *certs)
{
	for (int j = 0; certs != NULL && j < sk_X509_num(certs); j++) {
		X509_NAME *n = X509_NAME_dup(X509_get_subject_name(sk_X509_value(certs, j)));

		if (n == NULL || sk_X509_NAME_push(names, n) <= 0) {
			X509_NAME_free(n);
			return false;
		}
	}
	return true;
}

/* Ask for client certificates, naming every CA we trust as acceptable
 * (the aliases' own CAs, the vendor CAs of vendor mode and the ra-cas). */
static enum est_err
set_client_auth(struct est_server *srv, SSL_CTX *ctx, bool required, struct est_error *e)
{
	STACK_OF(X509_NAME) *names;
	int mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
	bool ok = true;

	names = sk_X509_NAME_new_null();
	if (names == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (size_t i = 0; ok && i < srv->n_cas; i++)
		ok = add_names(names, est_ca_chain(srv->cas[i]));
	for (size_t i = 0; ok && i < srv->n_aliases; i++)
		ok = add_names(names, srv->aliases[i].vendor_listed) &&
		    add_names(names, srv->aliases[i].vendor_anchors) &&
		    add_names(names, srv->aliases[i].ra_listed) &&
		    add_names(names, srv->aliases[i].ra_anchors);
	if (!ok) {
		sk_X509_NAME_pop_free(names, X509_NAME_free);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	if (!X509_STORE_up_ref(srv->client_trust))
		return est_fail_ssl(e, EST_ERR_INTERNAL, "X509_STORE_up_ref");
	SSL_CTX_set_cert_store(ctx, srv->client_trust);
	if (required)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, verify_cb);
	if (pthread_once(&session_path_once, session_path_index_new) != 0 || session_path_index < 0)
		return est_fail_ssl(e, EST_ERR_NOMEM, "cannot make the TLS sessions' path slot");
	SSL_CTX_set_cert_verify_callback(ctx, verify_and_keep, NULL);
	SSL_CTX_set_verify_depth(ctx, 8);
	return EST_OK;
}

enum est_err
tls_listener_ctx(struct est_server *srv, struct est_listener *l, struct est_error *e)
{
	const struct est_listener_conf *lc = l->conf;
	SSL_CTX *ctx;
	enum est_err rc;

	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "SSL_CTX_new");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/*
	 * A TCP close without close_notify is an end of input like any other:
	 * many clients end so after their last answer, and OpenSSL 3 would call
	 * it an error ("unexpected eof"). Truncation is still caught, by HTTP's
	 * framing: a request body ends by Content-Length only (no read-to-close,
	 * no chunked), so a request cut short is dropped unanswered.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		SSL_CTX_free(ctx);
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot set TLS 1.2 cipher list");
	}
	SSL_CTX_set_session_id_context(ctx, session_ctx_id, sizeof(session_ctx_id) - 1);
	/*
	 * Sessions resume from a cache in this process, shared by the workers
	 * (TLS 1.3: the ticket names a cached session; TLS 1.2: the session
	 * id). A stateless ticket would carry the session itself, and OpenSSL
	 * 3.0 makes one by encoding the session, decoding it again and encoding
	 * the copy: the client certificate's key goes through the decoder
	 * framework once more, 1.7 M instructions of a full mutual-TLS
	 * handshake's 11.5 M (docs/performance.md), for a ticket most EST
	 * clients never use. The cache is bounded (the least recently used
	 * session goes) and its sessions short-lived: resumption serves a
	 * client's operations in a row, not its renewal months later. One ticket
	 * per handshake is enough for a client that makes one connection at a
	 * time.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, TLS_SESSION_CACHE_SIZE);
	SSL_CTX_set_timeout(ctx, TLS_SESSION_SECONDS);
	SSL_CTX_set_num_tickets(ctx, 1);
	if ((rc = load_identity(ctx, lc, e)) != EST_OK) {
		SSL_CTX_free(ctx);
		return rc;
	}
	if (lc->srp && (rc = est_srp_tls_enable(ctx, TLS12_SRP_CIPHERS, &srv->srp, e)) != EST_OK) {
		SSL_CTX_free(ctx);
		return rc;
	}
	if (lc->tls == EST_TLS_OPTIONAL_CLIENT || lc->tls == EST_TLS_REQUIRE_CLIENT) {
		rc = set_client_auth(srv, ctx, lc->tls == EST_TLS_REQUIRE_CLIENT, e);
		if (rc != EST_OK) {
			SSL_CTX_free(ctx);
			return rc;
		}
	}
	l->ssl_ctx = ctx;
	return EST_OK;
}

void
tls_facts_capture(struct tls_facts *f, SSL *ssl)
{
	struct est_error ignored = { 0 };
	STACK_OF(X509) *kept;
	X509 *peer;
	long result;

	tls_facts_clear(f);
	if (ssl == NULL)
		return;
	f->tls = true;
	if ((peer = SSL_get0_peer_certificate(ssl)) != NULL && X509_up_ref(peer))
		f->peer = peer;
	if (SSL_get_peer_cert_chain(ssl) != NULL)
		f->chain = X509_chain_up_ref(SSL_get_peer_cert_chain(ssl));
	/*
	 * Kept so that authenticating by this certificate on every request need
	 * not check its signatures again. A resumed session's is the one its
	 * full handshake kept (verify_and_keep); with none, authn.c verifies in
	 * full.
	 */
	result = SSL_get_verify_result(ssl);
	if (f->peer != NULL && SSL_get0_verified_chain(ssl) != NULL &&
	    (result == X509_V_OK || let_through(result)))
		f->verified = X509_chain_up_ref(SSL_get0_verified_chain(ssl));
	else if (f->peer != NULL && SSL_session_reused(ssl) && session_path_index >= 0 &&
	    (kept = SSL_SESSION_get_ex_data(SSL_get_session(ssl), session_path_index)) != NULL &&
	    X509_cmp(sk_X509_value(kept, 0), f->peer) == 0)
		f->verified = X509_chain_up_ref(kept);
	/* None (an error) leaves "": an alias that needs it refuses the request then. */
	if (binding_value(ssl, f->binding, sizeof(f->binding), &ignored) != EST_OK)
		f->binding[0] = '\0';
	f->cipher_bits = SSL_get_cipher_bits(ssl, NULL);
	if (est_srp_peer_user(ssl) != NULL)
		snprintf(f->srp_user, sizeof(f->srp_user), "%s", est_srp_peer_user(ssl));
	ERR_clear_error();
}

void
tls_facts_clear(struct tls_facts *f)
{
	X509_free(f->peer);
	sk_X509_pop_free(f->chain, X509_free);
	sk_X509_pop_free(f->verified, X509_free);
	memset(f, 0, sizeof(*f));
}
