/*
 * Unit tests for lib/codec/csr_der.c, the CSR reader that skips OpenSSL
 * 3.0's decoder framework: what it takes must be the very request
 * d2i_X509_REQ reads (same bytes, fields, key, signature), and what it
 * cannot reproduce exactly it must leave to d2i_X509_REQ. Keys and CSRs are
 * made here with OpenSSL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "codec/csr_der.h"
#include "estkit/codec.h"

/* A CSR for CN=device.example with a SAN request and a challenge password, DER. */
static unsigned char *
csr_der(EVP_PKEY *key, size_t *len)
{
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES *san = GENERAL_NAMES_new();
	unsigned char *der = NULL;
	int n;

	assert_non_null(req);
	assert_true(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN",
	    MBSTRING_UTF8, (const unsigned char *)"device.example", -1, -1, 0));
	assert_true(X509_REQ_set_pubkey(req, key));
	sk_GENERAL_NAME_push(san, a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_DNS, "device.example", 0));
	assert_true(X509V3_add1_i2d(&exts, NID_subject_alt_name, san, 0, X509V3_ADD_DEFAULT));
	assert_true(X509_REQ_add_extensions(req, exts));
	assert_true(X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword, MBSTRING_UTF8,
	    (const unsigned char *)"one-time-code", -1));
	assert_true(X509_REQ_sign(req, key, EVP_PKEY_is_a(key, "ED25519") ? NULL : EVP_sha256()) > 0);
	assert_true((n = i2d_X509_REQ(req, &der)) > 0);
	*len = (size_t)n;
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(san);
	X509_REQ_free(req);
	return der;
}

static EVP_PKEY *
ec_key(const char *curve, const char *point_form, const char *encoding)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);

	assert_non_null(key);
	assert_true(EVP_PKEY_set_utf8_string_param(key,
	    OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, point_form));
	assert_true(EVP_PKEY_set_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING, encoding));
	return key;
}

/* The request the fast path read is the one d2i_X509_REQ reads. */
static void
assert_same_request(X509_REQ *fast, const unsigned char *der, size_t len, EVP_PKEY *key)
{
	const unsigned char *p = der;
	X509_REQ *slow = d2i_X509_REQ(NULL, &p, (long)len);
	unsigned char *enc = NULL;
	GENERAL_NAMES *san = NULL;
	char *pw = NULL;
	struct est_error e = { 0 };

	assert_non_null(slow);
	assert_int_equal(i2d_X509_REQ(fast, &enc), (int)len);
	assert_memory_equal(enc, der, len);
	assert_int_equal(X509_NAME_cmp(X509_REQ_get_subject_name(fast),
	    X509_REQ_get_subject_name(slow)), 0);
	assert_int_equal(X509_REQ_get_attr_count(fast), X509_REQ_get_attr_count(slow));
	assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(fast), key), 1);
	assert_int_equal(EVP_PKEY_get_bits(X509_REQ_get0_pubkey(fast)), EVP_PKEY_get_bits(key));
	assert_int_equal(est_csr_verify(fast, &e), EST_OK);
	assert_int_equal(est_csr_get_san(fast, &san, &e), EST_OK);
	assert_int_equal(sk_GENERAL_NAME_num(san), 1);
	assert_int_equal(est_csr_challenge_password(fast, &pw, &e), EST_OK);
	assert_string_equal(pw, "one-time-code");
	free(pw);
	GENERAL_NAMES_free(san);
	OPENSSL_free(enc);
	X509_REQ_free(slow);
}

/* EST-S-31 on the fast path: RSA and named-curve EC keys, either point form. */
static void
takes_rsa_and_named_curves(void **state)
{
	EVP_PKEY *keys[] = {
		EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048),
		ec_key("P-256", "uncompressed", "named_curve"),
		ec_key("P-384", "compressed", "named_curve"),
	};

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		size_t len;
		unsigned char *der;
		X509_REQ *req;

		assert_non_null(keys[i]);
		der = csr_der(keys[i], &len);
		req = codec_csr_from_der_fast(der, len);
		assert_non_null(req);
		assert_int_equal(ERR_peek_error(), 0);
		assert_same_request(req, der, len, keys[i]);
		/* A CSR whose signature was tampered with is read, and refused by the check. */
		der[len - 3] ^= 1;
		X509_REQ_free(req);
		req = codec_csr_from_der_fast(der, len);
		assert_non_null(req);
		assert_int_equal(est_csr_verify(req, NULL), EST_ERR_BADREQ);
		X509_REQ_free(req);
		OPENSSL_free(der);
		EVP_PKEY_free(keys[i]);
	}
}

/* What the fast path leaves to d2i_X509_REQ; the error queue stays as it was. */
static void
declines_the_rest(void **state)
{
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *explicit = ec_key("P-256", "uncompressed", "explicit");
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	unsigned char *der, *longer;
	X509_REQ *req;
	size_t len;

	(void)state;
	der = csr_der(ed, &len);
	assert_null(codec_csr_from_der_fast(der, len));
	assert_int_equal(est_csr_from_body(der, len, &req, NULL), EST_OK);
	assert_int_equal(est_csr_verify(req, NULL), EST_OK);
	X509_REQ_free(req);
	OPENSSL_free(der);

	/* Explicit curve parameters: the policy must still see them to refuse them. */
	der = csr_der(explicit, &len);
	assert_null(codec_csr_from_der_fast(der, len));
	OPENSSL_free(der);

	der = csr_der(ec, &len);
	longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, der, len);
	longer[len] = 0;
	assert_null(codec_csr_from_der_fast(longer, len + 1)); /* trailing byte */
	assert_null(codec_csr_from_der_fast(der, len - 1));    /* truncated */
	assert_null(codec_csr_from_der_fast(der + 1, len - 1));
	assert_null(codec_csr_from_der_fast(der, 0));
	assert_int_equal(ERR_peek_error(), 0);
	free(longer);
	OPENSSL_free(der);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(explicit);
	EVP_PKEY_free(ed);
}

/* Start and length of the element at p (tag, length, contents). */
static size_t
element(const unsigned char *p, size_t avail, size_t *hdr)
{
	const unsigned char *q = p;
	long clen;
	int tag, xclass;

	assert_false(ASN1_get_object(&q, &clen, &tag, &xclass, (long)avail) & 0x80);
	*hdr = (size_t)(q - p);
	return *hdr + (size_t)clen;
}

/*
 * A client that encodes its attributes in another order than DER's sorted
 * SET OF, and signs those bytes: OpenSSL would re-encode them sorted, so the
 * fast path must not take the request, and the request must still verify.
 */
static void
unsorted_attributes_keep_their_signature(void **state)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	unsigned char *der, sig[256], *a1, *swapped;
	size_t len, hdr, tbs_off, tbs_len, off, n, l1, l2, siglen = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	X509_REQ *req = NULL;

	(void)state;
	assert_non_null(key);
	der = csr_der(key, &len);
	/* CertificationRequest { info, algorithm, signature }; info's fields in order. */
	element(der, len, &hdr);
	tbs_off = hdr;
	tbs_len = element(der + tbs_off, len - tbs_off, &hdr);
	off = tbs_off + hdr;
	for (int field = 0; field < 3; field++) /* version, subject, subjectPKInfo */
		off += element(der + off, len - off, &hdr);
	n = element(der + off, len - off, &hdr); /* [0] attributes */
	assert_int_equal(der[off], 0xa0);
	a1 = der + off + hdr;
	l1 = element(a1, n - hdr, &hdr);
	l2 = element(a1 + l1, n - hdr - l1, &hdr);
	assert_int_equal(l1 + l2, n - (size_t)(a1 - der - off));
	swapped = malloc(l1 + l2);
	assert_non_null(swapped);
	memcpy(swapped, a1 + l1, l2);
	memcpy(swapped + l2, a1, l1);
	memcpy(a1, swapped, l1 + l2);
	free(swapped);
	/* Sign the bytes as sent; an RSA-2048 signature is the last 256 bytes. */
	assert_true(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1);
	assert_true(EVP_DigestSign(md, sig, &siglen, der + tbs_off, tbs_len) == 1);
	assert_int_equal(siglen, sizeof(sig));
	memcpy(der + len - siglen, sig, siglen);

	assert_null(codec_csr_from_der_fast(der, len));
	assert_int_equal(est_csr_from_body(der, len, &req, NULL), EST_OK);
	assert_int_equal(est_csr_verify(req, NULL), EST_OK);
	X509_REQ_free(req);
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	EVP_PKEY_free(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(takes_rsa_and_named_curves),
		cmocka_unit_test(declines_the_rest),
		cmocka_unit_test(unsorted_attributes_keep_their_signature),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
