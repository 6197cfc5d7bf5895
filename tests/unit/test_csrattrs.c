/*
 * Unit tests for CSR attributes (lib/codec/csrattrs.c, csrattrs_check.c):
 * the configuration's text form, DER CsrAttrs both ways (ASN-01 with the
 * AttrOrOID CHOICE of erratum 4384, EST-E-01; the RFC 7030 §4.5.2 vector,
 * libest's default body), and enforcement against CSRs (EST-S-47, EST-S-93,
 * EST-S-95 after draft-ietf-lamps-rfc7030-csrattrs, EST-E-05).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "estkit/codec.h"

/* RFC 7030 §4.5.2's example, as base64. */
static const char rfc_vector[] =
    "MEEGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSuBBAAiMBYGCSqGSIb3DQEJDjEJBgcrBgEBAQEWBggqhkjOPQQDAw==";

static EVP_PKEY *ec256, *rsa2048;

static int
setup(void **state)
{
	(void)state;
	ec256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	rsa2048 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	return ec256 != NULL && rsa2048 != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(ec256);
	EVP_PKEY_free(rsa2048);
	return 0;
}

static char *
b64(const unsigned char *der, size_t len)
{
	struct est_error e = { 0 };
	char *out = NULL;
	size_t n;

	assert_int_equal(est_b64_encode(der, len, false, &out, &n, &e), EST_OK);
	return out;
}

static struct est_csrattrs *
parse(const char *text)
{
	struct est_error e = { 0 };
	struct est_csrattrs *a = NULL;

	if (est_csrattrs_parse(text, &a, &e) != EST_OK)
		fail_msg("parse \"%s\": %s", text, e.msg);
	return a;
}

static int
nid_of(const struct est_csrattrs *a, size_t i)
{
	return OBJ_obj2nid(a->item[i].oid);
}

static void
test_parse_merges(void **state)
{
	struct est_csrattrs *a = parse("challengePassword, ecPublicKey:P-256 ecPublicKey:P-384,"
	    "ecdsa-with-SHA256, extensionRequest:subjectAltName, extensionRequest:keyUsage");
	ASN1_TYPE *v;
	STACK_OF(X509_EXTENSION) *exts;
	const unsigned char *p;

	(void)state;
	assert_int_equal(a->n, 4);
	assert_int_equal(nid_of(a, 0), NID_pkcs9_challengePassword);
	assert_null(a->item[0].attr);
	assert_int_equal(nid_of(a, 1), NID_X9_62_id_ecPublicKey);
	assert_int_equal(X509_ATTRIBUTE_count(a->item[1].attr), 2);
	v = X509_ATTRIBUTE_get0_type(a->item[1].attr, 1);
	assert_int_equal(OBJ_obj2nid(v->value.object), NID_secp384r1);
	assert_int_equal(nid_of(a, 2), NID_ecdsa_with_SHA256);
	/* EST-S-95, EST-E-05: one extensionRequest holding one Extensions with both. */
	assert_int_equal(nid_of(a, 3), NID_ext_req);
	assert_int_equal(X509_ATTRIBUTE_count(a->item[3].attr), 1);
	v = X509_ATTRIBUTE_get0_type(a->item[3].attr, 0);
	assert_int_equal(v->type, V_ASN1_SEQUENCE);
	p = v->value.sequence->data;
	exts = d2i_X509_EXTENSIONS(NULL, &p, v->value.sequence->length);
	assert_non_null(exts);
	assert_int_equal(sk_X509_EXTENSION_num(exts), 2);
	assert_int_equal(OBJ_obj2nid(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, 1))),
	    NID_key_usage);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	est_csrattrs_free(a);
}

static void
test_parse_errors(void **state)
{
	static const char *const bad[] = { "nosuchname", "ecPublicKey:", "ecPublicKey:nosuchcurve",
	    "rsaEncryption:0", "extensionRequest:nosuchext", "1.2.:x",
	    /* Names OpenSSL knows without an OID (found by fuzz_csrattrs). */
	    "auth-gost12", "challengePassword:auth-gost12", "extensionRequest:auth-gost12" };
	struct est_csrattrs *a = NULL;
	struct est_error e = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(est_csrattrs_parse(bad[i], &a, &e), EST_ERR_BADREQ);
		assert_non_null(strstr(e.msg, "csrattrs"));
	}
	assert_null(a);
	a = parse("  ");
	assert_int_equal(a->n, 0);
	est_csrattrs_free(a);
}

static void
test_encode_empty_and_libest_default(void **state)
{
	struct est_csrattrs *a = parse("");
	struct est_error e = { 0 };
	unsigned char *der = NULL;
	size_t len = 0;
	char *text;

	(void)state;
	assert_int_equal(est_csrattrs_encode(a, &der, &len, &e), EST_OK);
	assert_int_equal(len, 2);
	assert_int_equal(der[0], 0x30);
	assert_int_equal(der[1], 0x00);
	OPENSSL_free(der);
	est_csrattrs_free(a);
	a = parse("challengePassword");
	assert_int_equal(est_csrattrs_encode(a, &der, &len, &e), EST_OK);
	text = b64(der, len);
	assert_string_equal(text, "MAsGCSqGSIb3DQEJBw==");    /* EST-S-94 */
	free(text);
	OPENSSL_free(der);
	est_csrattrs_free(a);
}

/*
 * The RFC vector decodes item by item and re-encodes to the same bytes: bare
 * OIDs and Attributes side by side, the AttrOrOID CHOICE (ASN-01, EST-E-01).
 */
static void
test_rfc_vector_round_trip(void **state)
{
	struct est_csrattrs *a = NULL;
	struct est_error e = { 0 };
	unsigned char *der = NULL, *again = NULL;
	size_t len = 0, len2 = 0;

	(void)state;
	assert_int_equal(est_b64_decode(rfc_vector, strlen(rfc_vector), &der, &len, &e), EST_OK);
	assert_int_equal(est_csrattrs_decode(der, len, &a, &e), EST_OK);
	assert_int_equal(a->n, 4);
	assert_int_equal(nid_of(a, 0), NID_pkcs9_challengePassword);
	assert_int_equal(nid_of(a, 1), NID_X9_62_id_ecPublicKey);
	assert_non_null(a->item[1].attr);
	assert_int_equal(nid_of(a, 2), NID_ext_req);
	assert_int_equal(nid_of(a, 3), NID_ecdsa_with_SHA384);
	assert_int_equal(est_csrattrs_encode(a, &again, &len2, &e), EST_OK);
	assert_int_equal(len2, len);
	assert_memory_equal(again, der, len);
	OPENSSL_free(again);
	free(der);
	est_csrattrs_free(a);
}

static void
test_decode_refusals(void **state)
{
	static const unsigned char integer_item[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
	static const unsigned char trailing[] = { 0x30, 0x00, 0x00 };
	static const unsigned char not_seq[] = { 0x04, 0x00 };
	struct est_csrattrs *a = NULL;
	struct est_error e = { 0 };

	(void)state;
	assert_int_equal(est_csrattrs_decode(integer_item, sizeof(integer_item), &a, &e), EST_ERR_BADREQ);
	assert_int_equal(est_csrattrs_decode(trailing, sizeof(trailing), &a, &e), EST_ERR_BADREQ);
	assert_int_equal(est_csrattrs_decode(not_seq, sizeof(not_seq), &a, &e), EST_ERR_BADREQ);
	assert_null(a);
}

/* A SEQUENCE item that is no Attribute is skipped and counted (EST-C-62); the OID stays. */
static void
test_decode_skips_unreadable(void **state)
{
	/* SEQUENCE { OID 1.2, SEQUENCE { OID 1.2 } (no SET of values) } */
	static const unsigned char der[] = { 0x30, 0x08, 0x06, 0x01, 0x2a, 0x30, 0x03, 0x06, 0x01,
	    0x2a };
	struct est_csrattrs *a = NULL;
	struct est_error e = { 0 };

	(void)state;
	assert_int_equal(est_csrattrs_decode(der, sizeof(der), &a, &e), EST_OK);
	assert_int_equal(a->n, 1);
	assert_null(a->item[0].attr);
	assert_int_equal(a->n_unreadable, 1);
	est_csrattrs_free(a);
}

/*
 * An Attribute whose value OpenSSL reads but cannot write back as it came
 * (a constructed element of universal tag 0) is skipped like one that does
 * not decode: kept, it was re-encoded as an end-of-contents, which no
 * longer decodes, so what estd or estclient showed differed from what was
 * sent (found by fuzz_csrattrs).
 */
static void
test_decode_skips_what_does_not_encode_back(void **state)
{
	/* SEQUENCE { SEQUENCE { rsaEncryption, SET { [UNIVERSAL 0] { "" } } }, OID 1.2 } */
	static const unsigned char der[] = { 0x30, 0x16, 0x30, 0x11, 0x06, 0x09, 0x2a, 0x86,
	    0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x31, 0x04, 0x20, 0x02, 0x0c, 0x00, 0x06,
	    0x01, 0x2a };
	struct est_csrattrs *a = NULL, *back = NULL;
	struct est_error e = { 0 };
	unsigned char *out = NULL;
	size_t len;

	(void)state;
	assert_int_equal(est_csrattrs_decode(der, sizeof(der), &a, &e), EST_OK);
	assert_int_equal(a->n, 1);
	assert_int_equal(a->n_unreadable, 1);
	assert_int_equal(est_csrattrs_encode(a, &out, &len, &e), EST_OK);
	assert_int_equal(est_csrattrs_decode(out, len, &back, &e), EST_OK);
	assert_int_equal(back->n, a->n);
	OPENSSL_free(out);
	est_csrattrs_free(back);
	est_csrattrs_free(a);
}

/* A signed CSR for key: CN=dev, optionally a challengePassword and a SAN request. */
static X509_REQ *
csr(EVP_PKEY *key, bool password, bool san)
{
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = NULL;

	assert_true(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
	    (const unsigned char *)"dev", -1, -1, 0));
	assert_true(X509_REQ_set_pubkey(req, key));
	if (password)
		assert_true(X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword, MBSTRING_ASC,
		    (const unsigned char *)"secret", -1));
	if (san) {
		X509_EXTENSION *x = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "DNS:dev.example");

		assert_non_null(x);
		exts = sk_X509_EXTENSION_new_null();
		assert_true(sk_X509_EXTENSION_push(exts, x));
		assert_true(X509_REQ_add_extensions(req, exts));
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	return req;
}

static void
check_says(const char *text, X509_REQ *req, bool key_checks, enum est_err want, const char *says)
{
	struct est_csrattrs *a = parse(text);
	struct est_error e = { 0 };

	assert_int_equal(est_csrattrs_check(a, req, key_checks, &e), want);
	if (says != NULL && strstr(e.msg, says) == NULL)
		fail_msg("check \"%s\": \"%s\" does not say \"%s\"", text, e.msg, says);
	est_csrattrs_free(a);
}

static void
test_check(void **state)
{
	const char *full = "challengePassword, ecPublicKey:P-256, ecdsa-with-SHA256, "
	    "extensionRequest:subjectAltName";
	X509_REQ *good = csr(ec256, true, true), *nopw = csr(ec256, false, true);
	X509_REQ *nosan = csr(ec256, true, false), *rsa = csr(rsa2048, true, true);

	(void)state;
	check_says(full, good, true, EST_OK, NULL);
	check_says(full, nopw, true, EST_ERR_BADREQ, "challengePassword");
	check_says(full, nosan, true, EST_ERR_BADREQ, "subjectAltName");
	check_says(full, rsa, true, EST_ERR_BADREQ, "RSA 2048");
	/* /serverkeygen ignores the CSR's key and signature. */
	check_says(full, rsa, false, EST_OK, NULL);
	check_says("ecPublicKey:P-384", good, true, EST_ERR_BADREQ, "EC P-256");
	check_says("ecdsa-with-SHA384", good, true, EST_ERR_BADREQ, "ecdsa-with-SHA384");
	check_says("rsaEncryption:3072", rsa, true, EST_ERR_BADREQ, "at least RSA 3072");
	check_says("rsaEncryption:2048", rsa, true, EST_OK, NULL);
	check_says("rsaEncryption", good, true, EST_ERR_BADREQ, "rsaEncryption");
	check_says("macAddress", good, true, EST_ERR_BADREQ, "1.3.6.1.1.1.1.22");
	check_says("", nopw, true, EST_OK, NULL);
	X509_REQ_free(good);
	X509_REQ_free(nopw);
	X509_REQ_free(nosan);
	X509_REQ_free(rsa);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_merges),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_encode_empty_and_libest_default),
		cmocka_unit_test(test_rfc_vector_round_trip),
		cmocka_unit_test(test_decode_refusals),
		cmocka_unit_test(test_decode_skips_unreadable),
		cmocka_unit_test(test_decode_skips_what_does_not_encode_back),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
