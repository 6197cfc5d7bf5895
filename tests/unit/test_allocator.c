/*
 * Memory from OpenSSL's allocator goes back through OPENSSL_free, memory
 * from malloc through free(). With OpenSSL's default allocator the two
 * coincide and a mix-up goes unnoticed (also under ASan), so this program
 * installs an allocator that tags OpenSSL's blocks: OPENSSL_free of a
 * malloc'd block, or free() of an OpenSSL block, aborts. It drives the
 * paths where mix-ups were found (by the fuzzers, with a guard allocator):
 * the Basic password decoder and the client's /serverkeygen reader.
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

#include "auth/creds.h"
#include "client/client_int.h"
#include "estkit/ca.h"
#include "estkit/codec.h"

#define TAG "estkit-O"
#define HDR 16

static void *
tag_malloc(size_t n, const char *file, int line)
{
	unsigned char *b = malloc(n + HDR);

	(void)file;
	(void)line;
	if (b == NULL)
		return NULL;
	memcpy(b, TAG, sizeof(TAG) - 1);
	return b + HDR;
}

static unsigned char *
tagged(void *p, const char *file, int line)
{
	unsigned char *b = (unsigned char *)p - HDR;

	if (memcmp(b, TAG, sizeof(TAG) - 1) != 0) {
		fprintf(stderr, "OpenSSL asked to free a block it did not allocate (%s:%d)\n",
		    file, line);
		abort();
	}
	return b;
}

static void
tag_free(void *p, const char *file, int line)
{
	unsigned char *b;

	if (p == NULL)
		return;
	b = tagged(p, file, line);
	memset(b, 0, HDR);
	free(b);
}

static void *
tag_realloc(void *p, size_t n, const char *file, int line)
{
	unsigned char *b;

	if (p == NULL)
		return tag_malloc(n, file, line);
	if ((b = realloc(tagged(p, file, line), n + HDR)) == NULL)
		return NULL;
	return b + HDR;
}

/* The Basic decoder's scratch buffers are malloc'd. */
static void
basic_decode(void **state)
{
	unsigned char out[32];
	size_t len = 0;

	(void)state;
	assert_true(est_b64_decode_strict("ZXN0dXNlcjplc3Rwd2Q=", 20, out, sizeof(out), &len));
	assert_int_equal(len, 14);
	assert_memory_equal(out, "estuser:estpwd", 14);
	assert_false(est_b64_decode_strict("ZXN0dXNlcjplc3Rwd2Q", 19, out, sizeof(out), &len));
}

/* An end-entity certificate for key, issued by ca_cert/ca_key, valid now. */
static X509 *
issue_ee(EVP_PKEY *key, X509 *ca_cert, EVP_PKEY *ca_key)
{
	X509 *x = X509_new();

	assert_non_null(x);
	assert_true(X509_set_version(x, X509_VERSION_3));
	assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), 7));
	assert_true(X509_set_issuer_name(x, X509_get_subject_name(ca_cert)));
	assert_true(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"device", -1, -1, 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -60));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_true(X509_set_pubkey(x, key));
	assert_true(X509_sign(x, ca_key, EVP_sha256()) > 0);
	return x;
}

/* A /serverkeygen answer with a plain PKCS#8 key part, read as the client does. */
static void
keygen_answer_plain_key(void **state)
{
	struct est_client c = { 0 };
	struct est_cert_expect want = { .any_names = true };
	EVP_PKEY *ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *ca_cert = NULL;
	struct cl_response r = { 0 };
	struct est_enroll_req req = { 0 };
	struct est_enroll_result res = { 0 };
	struct est_error e = { 0 };
	struct est_mime_part parts[2] = { { "application/pkcs8", NULL, 0 },
		{ "application/pkcs7-mime; smime-type=certs-only", NULL, 0 } };
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	STACK_OF(X509) *certs = sk_X509_new_null();
	char *key_b64 = NULL, *cert_b64 = NULL, *body = NULL;
	size_t bodylen = 0;
	X509 *cert = NULL;

	(void)state;
	assert_non_null(key);
	assert_int_equal(est_ca_make_root(ca_key, "keygen", 1, &ca_cert, &e), EST_OK);
	cert = issue_ee(key, ca_cert, ca_key);
	assert_true(sk_X509_push(certs, cert));
	assert_non_null(c.tas = sk_X509_new_null());
	assert_true(sk_X509_push(c.tas, ca_cert));
	assert_int_equal(est_key_pkcs8_b64(key, &key_b64, &parts[0].len, &e), EST_OK);
	assert_int_equal(est_certs_p7_b64(certs, &cert_b64, &parts[1].len, &e), EST_OK);
	parts[0].body = key_b64;
	parts[1].body = cert_b64;
	assert_int_equal(est_multipart_encode(parts, 2, EST_MULTIPART_BOUNDARY, &body, &bodylen, &e),
	    EST_OK);
	r.status = 200;
	snprintf(r.content_type, sizeof(r.content_type), "multipart/mixed; boundary=%s",
	    EST_MULTIPART_BOUNDARY);
	r.body = (unsigned char *)body;
	r.len = bodylen;
	assert_int_equal(cl_keygen_answer(&c, &r, &req, &want, &res, &e), EST_OK);
	assert_int_equal(EVP_PKEY_eq(res.key, key), 1);
	est_enroll_result_clear(&res);
	OPENSSL_clear_free(body, bodylen);
	free(key_b64);
	free(cert_b64);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(c.tas, X509_free);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(basic_decode),
		cmocka_unit_test(keygen_answer_plain_key),
	};

	/* Before anything else: OpenSSL refuses a new allocator once it has allocated. */
	if (!CRYPTO_set_mem_functions(tag_malloc, tag_realloc, tag_free)) {
		fprintf(stderr, "cannot install the tagging allocator\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
