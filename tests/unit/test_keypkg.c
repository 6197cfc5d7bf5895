/*
 * Unit tests for encrypted server-generated keys: the CSR's encryption
 * request (lib/codec/keyreq.c, ASN-03, EST-S-67), the key package and its
 * CMS layers (lib/codec/keypkg.c, keypkg_open.c, lib/ca/sign.c; EST-S-64,
 * EST-S-66), for a shared key (kekri), an RSA certificate (ktri) and an EC
 * certificate (kari), and the key-wrap check of the reader (keypkg_open.c,
 * which the client uses too). A P-256 root CA is made in a temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "estkit/ca.h"
#include "estkit/codec.h"

static char dir[64];
static struct est_ca *ca;
static STACK_OF(X509) *trust;
static EVP_PKEY *rsa_client, *ec_client;
static X509 *rsa_cert, *ec_cert;

static const struct est_profile profile = { .name = "p", .validity_days = 30, .copy_san = true };
static const unsigned char kek[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
static const unsigned char kek_id[4] = { 0xde, 0xad, 0xbe, 0xef };

static EVP_PKEY *
gen(const char *spec)
{
	struct est_error e = { 0 };
	EVP_PKEY *key = NULL;

	assert_int_equal(est_key_generate(spec, &key, &e), EST_OK);
	return key;
}

static X509 *
issue_for(EVP_PKEY *key, const char *cn)
{
	struct est_issue_req req = { 0 };
	struct est_error e = { 0 };
	X509_NAME *name = X509_NAME_new();
	X509 *cert = NULL;

	assert_true(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
	    -1, -1, 0));
	req.subject = name;
	req.pubkey = key;
	assert_int_equal(est_ca_issue(ca, &profile, &req, &cert, &e), EST_OK);
	X509_NAME_free(name);
	return cert;
}

static int
setup(void **state)
{
	struct est_error e = { 0 };
	char kpath[96], cpath[96];
	EVP_PKEY *ca_key;
	X509 *root = NULL;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/estkit-keypkg.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(kpath, sizeof(kpath), "%s/ca.key", dir);
	snprintf(cpath, sizeof(cpath), "%s/ca.pem", dir);
	ca_key = gen("ec:P-256");
	if (est_ca_make_root(ca_key, "Test CA", 30, &root, &e) != EST_OK ||
	    est_key_write(kpath, ca_key, &e) != EST_OK || est_cert_write(cpath, root, &e) != EST_OK ||
	    est_ca_load("Test", cpath, kpath, NULL, &ca, &e) != EST_OK)
		return -1;
	trust = sk_X509_new_null();
	sk_X509_push(trust, root);
	EVP_PKEY_free(ca_key);
	rsa_client = gen("rsa:2048");
	ec_client = gen("ec:P-256");
	rsa_cert = issue_for(rsa_client, "rsa-client");
	ec_cert = issue_for(ec_client, "ec-client");
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	est_ca_free(ca);
	sk_X509_pop_free(trust, X509_free);
	EVP_PKEY_free(rsa_client);
	EVP_PKEY_free(ec_client);
	X509_free(rsa_cert);
	X509_free(ec_cert);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A CSR with the encryption attributes asked for; not signed (keygen ignores it). */
static X509_REQ *
keygen_csr(const unsigned char *sym, size_t symlen, const unsigned char *asym, size_t asymlen,
    bool caps)
{
	X509_REQ *req = X509_REQ_new();

	assert_true(X509_REQ_set_pubkey(req, ec_client));
	if (sym != NULL)
		assert_true(X509_REQ_add1_attr_by_txt(req, "1.2.840.113549.1.9.16.2.37",
		    V_ASN1_OCTET_STRING, sym, (int)symlen));
	if (asym != NULL)
		assert_true(X509_REQ_add1_attr_by_txt(req, "1.2.840.113549.1.9.16.2.54",
		    V_ASN1_OCTET_STRING, asym, (int)asymlen));
	if (caps) {
		STACK_OF(X509_ALGOR) *algs = sk_X509_ALGOR_new_null();
		X509_ALGOR *a = X509_ALGOR_new();
		unsigned char *der = NULL;
		int len;

		assert_true(X509_ALGOR_set0(a, OBJ_nid2obj(NID_id_aes256_wrap), V_ASN1_UNDEF, NULL));
		assert_true(sk_X509_ALGOR_push(algs, a));
		len = i2d_X509_ALGORS(algs, &der);
		assert_true(len > 0);
		assert_true(X509_REQ_add1_attr_by_NID(req, NID_SMIMECapabilities, V_ASN1_SEQUENCE,
		    der, len));
		OPENSSL_free(der);
		sk_X509_ALGOR_pop_free(algs, X509_ALGOR_free);
	}
	return req;
}

static void
test_keyreq(void **state)
{
	struct est_keyreq *r = NULL;
	struct est_error e = { 0 };
	X509_REQ *req;

	(void)state;
	req = keygen_csr(NULL, 0, NULL, 0, false);
	assert_int_equal(est_csr_keyreq(req, &r, &e), EST_OK);
	assert_null(r);
	X509_REQ_free(req);

	req = keygen_csr(kek_id, sizeof(kek_id), NULL, 0, true);
	assert_int_equal(est_csr_keyreq(req, &r, &e), EST_OK);
	assert_non_null(r);
	assert_int_equal(r->kek_id_len, 4);
	assert_memory_equal(r->kek_id, kek_id, 4);
	assert_null(r->cert_id);
	assert_true(est_keyreq_lists(r, NID_id_aes256_wrap));
	assert_false(est_keyreq_lists(r, NID_id_aes128_wrap));
	est_keyreq_free(r);
	X509_REQ_free(req);

	/* EST-S-67: without SMIMECapabilities, refused. */
	req = keygen_csr(kek_id, sizeof(kek_id), NULL, 0, false);
	assert_int_equal(est_csr_keyreq(req, &r, &e), EST_ERR_BADREQ);
	assert_non_null(strstr(e.msg, "SMIMECapabilities"));
	X509_REQ_free(req);

	req = keygen_csr(kek_id, sizeof(kek_id), kek_id, sizeof(kek_id), true);
	assert_int_equal(est_csr_keyreq(req, &r, &e), EST_ERR_BADREQ);
	assert_non_null(strstr(e.msg, "both"));
	X509_REQ_free(req);

	req = keygen_csr(NULL, 0, kek_id, sizeof(kek_id), true);
	assert_int_equal(est_csr_keyreq(req, &r, &e), EST_OK);
	assert_int_equal(r->cert_id_len, 4);
	est_keyreq_free(r);
	X509_REQ_free(req);
}

static void
test_pkcs8_and_package(void **state)
{
	struct est_error e = { 0 };
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	EVP_PKEY *back;

	(void)state;
	assert_int_equal(est_pkcs8_encode(rsa_client, &der, &len, &e), EST_OK);
	p = der;
	back = d2i_AutoPrivateKey(NULL, &p, (long)len);
	assert_non_null(back);
	assert_int_equal(EVP_PKEY_eq(back, rsa_client), 1);
	EVP_PKEY_free(back);
	OPENSSL_clear_free(der, len);

	/* SEQUENCE OF OneAsymmetricKey: one element. */
	assert_int_equal(est_keypkg_encode(ec_client, &der, &len, &e), EST_OK);
	p = der;
	ASN1_SEQUENCE_ANY *seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)len);
	assert_non_null(seq);
	assert_int_equal(sk_ASN1_TYPE_num(seq), 1);
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	OPENSSL_clear_free(der, len);
}

/* Sign, envelope for rcpt, open as opener; the key must come back. */
static enum est_err
round_trip(EVP_PKEY *key, const struct est_key_recipient *rcpt,
    const struct est_key_recipient *opener, struct est_error *e)
{
	unsigned char *pkg = NULL, *sd = NULL, *env = NULL;
	size_t pkglen = 0, sdlen = 0, envlen = 0;
	EVP_PKEY *back = NULL;
	enum est_err rc;

	assert_int_equal(est_keypkg_encode(key, &pkg, &pkglen, e), EST_OK);
	assert_int_equal(est_ca_sign_content(ca, EST_OID_KEY_PACKAGE, pkg, pkglen, &sd, &sdlen, e),
	    EST_OK);
	assert_int_equal(est_keypkg_envelope(sd, sdlen, rcpt, &env, &envlen, e), EST_OK);
	rc = est_keypkg_open(env, envlen, opener, trust, &back, NULL, e);
	if (rc == EST_OK)
		assert_int_equal(EVP_PKEY_eq(back, key), 1);
	EVP_PKEY_free(back);
	OPENSSL_clear_free(pkg, pkglen);
	OPENSSL_clear_free(sd, sdlen);
	OPENSSL_free(env);
	return rc;
}

static void
test_kek_round_trip(void **state)
{
	struct est_key_recipient r = { .kek_id = kek_id, .kek_id_len = 4, .kek = kek, .kek_len = 32 };
	struct est_key_recipient wrong = r;
	unsigned char other[32] = { 0 };
	struct est_error e = { 0 };
	EVP_PKEY *key = gen("rsa:2048");

	(void)state;
	assert_int_equal(round_trip(key, &r, &r, &e), EST_OK);
	wrong.kek = other;
	assert_int_equal(round_trip(key, &r, &wrong, &e), EST_ERR_CRYPTO);
	EVP_PKEY_free(key);
}

static void
test_cert_round_trips(void **state)
{
	struct est_key_recipient rsa = { .cert = rsa_cert, .key = rsa_client };
	struct est_key_recipient ec = { .cert = ec_cert, .key = ec_client };
	struct est_error e = { 0 };
	EVP_PKEY *key = gen("ec:P-384");

	(void)state;
	assert_int_equal(round_trip(key, &rsa, &rsa, &e), EST_OK);   /* ktri */
	assert_int_equal(round_trip(key, &ec, &ec, &e), EST_OK);     /* kari */
	assert_int_equal(round_trip(key, &rsa, &ec, &e), EST_ERR_CRYPTO);
	EVP_PKEY_free(key);
}

/* An EnvelopedData for ec_cert (kari) whose key is wrapped with AES key wrap with padding. */
static unsigned char *
wrap_pad_envelope(const unsigned char *sd, size_t sdlen, size_t *len)
{
	CMS_ContentInfo *cms = CMS_EnvelopedData_create(EVP_aes_256_cbc());
	BIO *in = BIO_new_mem_buf(sd, (int)sdlen);
	CMS_RecipientInfo *ri;
	unsigned char *der = NULL;
	int n;

	assert_non_null(cms);
	ri = CMS_add1_recipient_cert(cms, ec_cert, CMS_USE_KEYID | CMS_KEY_PARAM);
	assert_non_null(ri);
	assert_true(EVP_EncryptInit_ex(CMS_RecipientInfo_kari_get0_ctx(ri), EVP_aes_256_wrap_pad(),
	    NULL, NULL, NULL));
	assert_true(CMS_set_detached(cms, 0));
	assert_true(CMS_set1_eContentType(cms, OBJ_nid2obj(NID_pkcs7_signed)));
	assert_true(CMS_final(cms, in, NULL, CMS_BINARY));
	n = i2d_CMS_ContentInfo(cms, &der);
	assert_true(n > 0);
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	*len = (size_t)n;
	return der;
}

/*
 * A kari recipient must use AES key wrap: OpenSSL 3.0's RFC 5649 unwrap
 * writes past its buffer on a malformed wrapped key (found by fuzz_keypkg),
 * so wrap-pad is refused before decryption, by both readers.
 */
static void
test_wrap_pad_refused(void **state)
{
	struct est_key_recipient ec = { .cert = ec_cert, .key = ec_client };
	struct est_error e = { 0 };
	EVP_PKEY *key = gen("ec:P-256"), *back = NULL;
	unsigned char *pkg = NULL, *sd = NULL, *env;
	size_t pkglen = 0, sdlen = 0, envlen = 0;

	(void)state;
	assert_int_equal(est_keypkg_encode(key, &pkg, &pkglen, &e), EST_OK);
	assert_int_equal(est_ca_sign_content(ca, EST_OID_KEY_PACKAGE, pkg, pkglen, &sd, &sdlen, &e),
	    EST_OK);
	env = wrap_pad_envelope(sd, sdlen, &envlen);
	assert_int_equal(est_keypkg_open(env, envlen, &ec, trust, &back, NULL, &e), EST_ERR_BADREQ);
	assert_non_null(strstr(e.msg, "AES key wrap"));
	assert_null(back);
	OPENSSL_free(env);
	OPENSSL_clear_free(pkg, pkglen);
	OPENSSL_clear_free(sd, sdlen);
	EVP_PKEY_free(key);
}

/* A package signed by a CA the client does not trust is refused. */
static void
test_untrusted_signer(void **state)
{
	struct est_key_recipient r = { .kek_id = kek_id, .kek_id_len = 4, .kek = kek, .kek_len = 32 };
	STACK_OF(X509) *saved = trust;
	struct est_error e = { 0 };
	EVP_PKEY *key = gen("ec:P-256");

	(void)state;
	trust = sk_X509_new_null();
	sk_X509_push(trust, rsa_cert);
	assert_int_equal(round_trip(key, &r, &r, &e), EST_ERR_BADREQ);
	assert_non_null(strstr(e.msg, "signature"));
	sk_X509_free(trust);
	trust = saved;
	EVP_PKEY_free(key);
}

/* OpenSSL 3.0's CMS cannot sign with EdDSA: refused up front, with the reason. */
static void
test_eddsa_ca_refused(void **state)
{
	struct est_error e = { 0 };
	struct est_ca *ed_ca = NULL;
	EVP_PKEY *key = gen("ed25519");
	unsigned char *der = NULL;
	char kpath[96], cpath[96];
	size_t len = 0;
	X509 *root = NULL;

	(void)state;
	snprintf(kpath, sizeof(kpath), "%s/ed.key", dir);
	snprintf(cpath, sizeof(cpath), "%s/ed.pem", dir);
	assert_int_equal(est_ca_make_root(key, "Ed CA", 30, &root, &e), EST_OK);
	assert_int_equal(est_key_write(kpath, key, &e), EST_OK);
	assert_int_equal(est_cert_write(cpath, root, &e), EST_OK);
	assert_int_equal(est_ca_load("Ed", cpath, kpath, NULL, &ed_ca, &e), EST_OK);
	assert_int_equal(est_ca_sign_content(ed_ca, EST_OID_KEY_PACKAGE, (const unsigned char *)"x", 1,
	    &der, &len, &e), EST_ERR_NOTIMPL);
	assert_non_null(strstr(e.msg, "EdDSA"));
	assert_null(der);
	est_ca_free(ed_ca);
	X509_free(root);
	EVP_PKEY_free(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyreq),
		cmocka_unit_test(test_pkcs8_and_package),
		cmocka_unit_test(test_kek_round_trip),
		cmocka_unit_test(test_cert_round_trips),
		cmocka_unit_test(test_untrusted_signer),
		cmocka_unit_test(test_wrap_pad_refused),
		cmocka_unit_test(test_eddsa_ca_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
