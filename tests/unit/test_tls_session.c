/*
 * A resumed TLS session keeps the client certificate's path its full
 * handshake validated (lib/server/tls.c), so that requests on it need not
 * check the path's signatures again (est_ca_verify_known). Real handshakes
 * in memory (BIO pairs) between a listener's SSL_CTX, made by
 * tls_listener_ctx as estd makes it, and an OpenSSL client, on TLS 1.2
 * (session id) and TLS 1.3 (a ticket naming the cached session; each
 * resumption's session is a copy, and a copy of a copy resumes too).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "server/server_int.h"

struct world {
	char dir[64];
	EVP_PKEY *root_key, *server_key, *client_key;
	X509 *root, *server, *client;
	char cert_path[128], key_path[128];
	struct est_server srv;
	struct est_listener_conf lconf;
	struct est_listener listener;
	SSL_CTX *client_ctx;
};

static X509 *
make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, bool ca)
{
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	static long serial = 1;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -60));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(issuer != NULL ? issuer : x)),
	    1);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	if (ca) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
		assert_non_null(ext);
		assert_int_equal(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0);
	return x;
}

static int
setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	FILE *f;

	assert_non_null(w);
	snprintf(w->dir, sizeof(w->dir), "/tmp/test_tls_session.XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	w->root_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	w->server_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	w->client_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_true(w->root_key != NULL && w->server_key != NULL && w->client_key != NULL);
	w->root = make_cert("Test Root", w->root_key, NULL, NULL, true);
	w->server = make_cert("localhost", w->server_key, w->root, w->root_key, false);
	w->client = make_cert("device-1", w->client_key, w->root, w->root_key, false);

	snprintf(w->cert_path, sizeof(w->cert_path), "%s/tls.pem", w->dir);
	snprintf(w->key_path, sizeof(w->key_path), "%s/tls.key", w->dir);
	assert_non_null(f = fopen(w->cert_path, "w"));
	assert_int_equal(PEM_write_X509(f, w->server), 1);
	assert_int_equal(PEM_write_X509(f, w->root), 1);
	fclose(f);
	assert_non_null(f = fopen(w->key_path, "w"));
	assert_int_equal(fchmod(fileno(f), 0600), 0);
	assert_int_equal(PEM_write_PrivateKey(f, w->server_key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);

	w->srv.client_trust = X509_STORE_new();
	assert_non_null(w->srv.client_trust);
	assert_int_equal(X509_STORE_add_cert(w->srv.client_trust, w->root), 1);
	w->lconf.name = "mtls";
	w->lconf.tls = EST_TLS_OPTIONAL_CLIENT;
	w->lconf.cert_path = w->cert_path;
	w->lconf.key_path = w->key_path;
	w->listener.conf = &w->lconf;

	w->client_ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(w->client_ctx);
	SSL_CTX_set_session_cache_mode(w->client_ctx, SSL_SESS_CACHE_CLIENT);
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	struct world *w = *state;

	SSL_CTX_free(w->listener.ssl_ctx);
	SSL_CTX_free(w->client_ctx);
	X509_STORE_free(w->srv.client_trust);
	X509_free(w->root);
	X509_free(w->server);
	X509_free(w->client);
	EVP_PKEY_free(w->root_key);
	EVP_PKEY_free(w->server_key);
	EVP_PKEY_free(w->client_key);
	unlink(w->cert_path);
	unlink(w->key_path);
	rmdir(w->dir);
	free(w);
	return 0;
}

/* Make the listener's context as estd does. */
static void
listen_as(struct world *w, enum est_tls_mode mode)
{
	struct est_error e = { 0 };

	SSL_CTX_free(w->listener.ssl_ctx);
	w->listener.ssl_ctx = NULL;
	w->lconf.tls = mode;
	assert_int_equal(tls_listener_ctx(&w->srv, &w->listener, &e), EST_OK);
}

/*
 * One connection at TLS version v, offering sess (may be NULL), with the
 * client certificate or without; the server's facts after the handshake in
 * *f, whether the server resumed in *reused. Returns the client's session
 * (a reference), taken once an answer has come (TLS 1.3 sends it then).
 */
static SSL_SESSION *
connect_once(struct world *w, int v, SSL_SESSION *sess, bool with_cert, struct tls_facts *f,
    bool *reused)
{
	SSL *c = SSL_new(w->client_ctx), *s = SSL_new(w->listener.ssl_ctx);
	BIO *cb = NULL, *sb = NULL;
	SSL_SESSION *got;
	char byte;
	int cr = 0, sr = 0;

	assert_true(c != NULL && s != NULL);
	assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
	SSL_set_bio(c, cb, cb);
	SSL_set_bio(s, sb, sb);
	assert_int_equal(SSL_set_min_proto_version(c, v), 1);
	assert_int_equal(SSL_set_max_proto_version(c, v), 1);
	if (with_cert) {
		assert_int_equal(SSL_use_certificate(c, w->client), 1);
		assert_int_equal(SSL_use_PrivateKey(c, w->client_key), 1);
	}
	if (sess != NULL)
		assert_int_equal(SSL_set_session(c, sess), 1);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	for (int i = 0; i < 100 && (cr != 1 || sr != 1); i++) {
		if (cr != 1)
			cr = SSL_do_handshake(c);
		if (sr != 1)
			sr = SSL_do_handshake(s);
	}
	assert_int_equal(cr, 1);
	assert_int_equal(sr, 1);
	/* An answer, so that the client reads what the server sent after the handshake. */
	assert_int_equal(SSL_write(s, "x", 1), 1);
	assert_int_equal(SSL_read(c, &byte, 1), 1);
	*reused = SSL_session_reused(s) == 1;
	tls_facts_capture(f, s);
	got = SSL_get1_session(c);
	assert_non_null(got);
	SSL_shutdown(c);
	SSL_shutdown(s);
	SSL_free(c);
	SSL_free(s);
	return got;
}

static void
assert_path_of_client(struct world *w, const struct tls_facts *f)
{
	assert_non_null(f->peer);
	assert_int_equal(X509_cmp(f->peer, w->client), 0);
	assert_non_null(f->verified);
	assert_int_equal(sk_X509_num(f->verified), 2);
	assert_int_equal(X509_cmp(sk_X509_value(f->verified, 0), w->client), 0);
	assert_int_equal(X509_cmp(sk_X509_value(f->verified, 1), w->root), 0);
}

static void
resumes_with_path(struct world *w, int v)
{
	struct tls_facts f = { 0 };
	SSL_SESSION *first, *second, *third;
	bool reused;

	listen_as(w, EST_TLS_REQUIRE_CLIENT);
	first = connect_once(w, v, NULL, true, &f, &reused);
	assert_false(reused);
	assert_path_of_client(w, &f);
	tls_facts_clear(&f);

	second = connect_once(w, v, first, true, &f, &reused);
	assert_true(reused);
	assert_path_of_client(w, &f);
	tls_facts_clear(&f);

	/* TLS 1.3: the session of a resumed connection is a copy, and is resumed in turn. */
	third = connect_once(w, v, second, true, &f, &reused);
	assert_true(reused);
	assert_path_of_client(w, &f);
	tls_facts_clear(&f);
	SSL_SESSION_free(first);
	SSL_SESSION_free(second);
	SSL_SESSION_free(third);
}

static void
test_resumed_tls13_keeps_path(void **state)
{
	resumes_with_path(*state, TLS1_3_VERSION);
}

static void
test_resumed_tls12_keeps_path(void **state)
{
	resumes_with_path(*state, TLS1_2_VERSION);
}

/* A session made without a certificate resumes into a connection with none. */
static void
test_resumed_without_certificate(void **state)
{
	struct world *w = *state;
	struct tls_facts f = { 0 };
	SSL_SESSION *first, *second;
	bool reused;

	listen_as(w, EST_TLS_OPTIONAL_CLIENT);
	for (int v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
		first = connect_once(w, v, NULL, false, &f, &reused);
		assert_null(f.peer);
		assert_null(f.verified);
		tls_facts_clear(&f);
		/* The client now has a certificate; the session it offers was made without one. */
		second = connect_once(w, v, first, true, &f, &reused);
		assert_true(reused);
		assert_null(f.peer);
		assert_null(f.verified);
		tls_facts_clear(&f);
		SSL_SESSION_free(first);
		SSL_SESSION_free(second);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_resumed_tls13_keeps_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resumed_tls12_keeps_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resumed_without_certificate, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
