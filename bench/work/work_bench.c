/*
 * What an enrolment's own work costs, without TLS, HTTP or a store: in one
 * thread, the CPU time of reading a base64 CSR, checking its signature,
 * issuing a certificate for it and encoding the certs-only answer, made in
 * two ways and set against the crypto floor (one CSR signature checked,
 * one certificate signed) measured the same way in the same run:
 *
 *   estkit   libestkit's calls, as estd makes them per enrolment
 *            (est_csr_from_body, est_csr_verify, est_ca_issue with the CSR's
 *            key bytes, est_cert_rec_from_x509, est_certs_only_encode,
 *            est_b64_encode);
 *   openssl  the same work with OpenSSL's usual calls (d2i_X509_REQ,
 *            X509_REQ_verify, X509_set_pubkey, the same extensions by
 *            X509V3_EXT_conf_nid, X509_sign, PKCS7, EVP_EncodeBlock).
 *
 * The second is what the first would cost without the ways around OpenSSL
 * 3.0's decoder and encoder frameworks that docs/performance.md lists;
 * rerun on a newer OpenSSL, it says whether they are still worth having.
 * Before timing, each way's answer is read back and must hold a certificate
 * that the CA's key verifies, for the CSR's subject and key: a way that
 * issues wrongly fails here (and in make check) rather than looking fast.
 *
 *   work_bench [-n N] [-k ec-p256|rsa-2048]
 *
 * N (default 2000) enrolments per way. Prints a table, then one JSON line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "estbench.h"
#include "estkit/ca.h"
#include "estkit/codec.h"
#include "estkit/store.h"

/* The demo's CA: P-256 (estadm init), certificates for client use. */
static const struct est_profile profile = { .name = "bench", .validity_days = 365,
    .eku = EST_EKU_CLIENT_AUTH };

struct bench {
	struct est_ca *ca;
	EVP_PKEY *ca_key;               /* the CA's, for the openssl way */
	struct csr_set csrs;
};

typedef bool (*way_fn)(struct bench *b, size_t i, char **answer);

static bool
fail(const char *what, const struct est_error *e)
{
	fprintf(stderr, "work_bench: %s: %s\n", what, e != NULL ? e->msg : "");
	ERR_print_errors_fp(stderr);
	return false;
}

/* libestkit's path, as reply_cert.c and h_enroll.c take it. */
static bool
way_estkit(struct bench *b, size_t i, char **answer)
{
	struct est_issue_req req = { .spki_bytes = true };
	struct est_error e = { 0 };
	struct est_cert_rec *rec = NULL;
	STACK_OF(X509) *one = NULL;
	unsigned char *der = NULL;
	X509 *cert = NULL;
	size_t derlen, len;
	bool ok;

	ok = est_csr_from_body((const unsigned char *)b->csrs.b64[i], b->csrs.len[i], &req.csr,
	    &e) == EST_OK && est_csr_verify(req.csr, &e) == EST_OK &&
	    est_ca_issue(b->ca, &profile, &req, &cert, &e) == EST_OK &&
	    est_cert_rec_from_x509(cert, "bench", "bench", &rec, &e) == EST_OK &&
	    (one = sk_X509_new_null()) != NULL && sk_X509_push(one, cert) > 0 &&
	    est_certs_only_encode(one, &der, &derlen, &e) == EST_OK &&
	    est_b64_encode(der, derlen, true, answer, &len, &e) == EST_OK;
	if (!ok)
		fail("estkit", &e);
	OPENSSL_free(der);
	sk_X509_free(one);
	est_cert_rec_free(rec);
	X509_free(cert);
	X509_REQ_free(req.csr);
	return ok;
}

static bool
add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	bool ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;

	X509_EXTENSION_free(ext);
	return ok;
}

static bool
openssl_cert(X509 *ca, EVP_PKEY *ca_key, X509_REQ *req, X509 *cert)
{
	EVP_PKEY *key = X509_REQ_get0_pubkey(req);
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	X509V3_CTX ctx;
	bool ok;

	if (key == NULL || X509_REQ_verify(req, key) != 1 || RAND_bytes(serial, 16) != 1)
		return false;
	serial[0] &= 0x7f;
	ok = (bn = BN_bin2bn(serial, 16, NULL)) != NULL &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL &&
	    X509_set_version(cert, X509_VERSION_3) &&
	    X509_set_subject_name(cert, X509_REQ_get_subject_name(req)) &&
	    X509_set_issuer_name(cert, X509_get_subject_name(ca)) &&
	    X509_gmtime_adj(X509_getm_notBefore(cert), -300) != NULL &&
	    X509_time_adj_ex(X509_getm_notAfter(cert), (int)profile.validity_days, 0, NULL) != NULL &&
	    X509_set_pubkey(cert, key);
	BN_free(bn);
	if (!ok)
		return false;
	X509V3_set_ctx(&ctx, ca, cert, NULL, NULL, 0);
	return add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
	    add_ext(cert, &ctx, NID_key_usage, "critical,digitalSignature,keyAgreement") &&
	    add_ext(cert, &ctx, NID_ext_key_usage, "clientAuth") &&
	    add_ext(cert, &ctx, NID_subject_key_identifier, "hash") &&
	    add_ext(cert, &ctx, NID_authority_key_identifier, "keyid") &&
	    X509_sign(cert, ca_key, EVP_sha256()) > 0;
}

/* The same work with OpenSSL's usual calls. */
static bool
way_openssl(struct bench *b, size_t i, char **answer)
{
	unsigned char *raw = NULL, *der = NULL;
	const unsigned char *p;
	X509_REQ *req = NULL;
	X509 *cert = NULL;
	PKCS7 *p7 = NULL;
	int rawlen, derlen = 0;
	bool ok;

	rawlen = (int)b->csrs.len[i] / 4 * 3;
	ok = (raw = malloc((size_t)rawlen + 1)) != NULL &&
	    (rawlen = EVP_DecodeBlock(raw, (const unsigned char *)b->csrs.b64[i],
	    (int)b->csrs.len[i])) > 0;
	p = raw;
	ok = ok && (req = d2i_X509_REQ(NULL, &p, rawlen)) != NULL && (cert = X509_new()) != NULL &&
	    openssl_cert(est_ca_cert(b->ca), b->ca_key, req, cert) &&
	    (p7 = PKCS7_new()) != NULL && PKCS7_set_type(p7, NID_pkcs7_signed) &&
	    PKCS7_content_new(p7, NID_pkcs7_data) && PKCS7_set_detached(p7, 1) &&
	    PKCS7_add_certificate(p7, cert) && (derlen = i2d_PKCS7(p7, &der)) > 0 &&
	    (*answer = malloc((size_t)derlen / 3 * 4 + 5)) != NULL;
	if (ok)
		EVP_EncodeBlock((unsigned char *)*answer, der, derlen);
	else
		fail("openssl", NULL);
	OPENSSL_free(der);
	PKCS7_free(p7);
	X509_free(cert);
	X509_REQ_free(req);
	free(raw);
	return ok;
}

/* The answer holds one certificate the CA signed, for CSR i's subject and key. */
static bool
answer_right(struct bench *b, size_t i, const char *answer)
{
	struct est_error e = { 0 };
	STACK_OF(X509) *certs = NULL;
	unsigned char *der = NULL;
	X509_REQ *csr = NULL;
	X509 *cert;
	size_t len;
	bool ok;

	ok = est_body_to_der((const unsigned char *)answer, strlen(answer), &der, &len, &e) ==
	    EST_OK && est_certs_only_decode(der, len, &certs, &e) == EST_OK &&
	    sk_X509_num(certs) == 1 &&
	    est_csr_from_body((const unsigned char *)b->csrs.b64[i], b->csrs.len[i], &csr, &e) ==
	    EST_OK;
	cert = ok ? sk_X509_value(certs, 0) : NULL;
	ok = ok && X509_verify(cert, X509_get0_pubkey(est_ca_cert(b->ca))) == 1 &&
	    X509_NAME_cmp(X509_get_subject_name(cert), X509_REQ_get_subject_name(csr)) == 0 &&
	    EVP_PKEY_eq(X509_get0_pubkey(cert), X509_REQ_get0_pubkey(csr)) == 1;
	sk_X509_pop_free(certs, X509_free);
	X509_REQ_free(csr);
	free(der);
	return ok;
}

/* Mean CPU ms of one enrolment over n, after checking the way's first answer. */
static bool
time_way(struct bench *b, const char *name, way_fn way, size_t n, double *ms)
{
	char *answer = NULL;
	double t0;
	bool ok;

	if (!way(b, 0, &answer) || !answer_right(b, 0, answer)) {
		free(answer);
		fprintf(stderr, "work_bench: the %s way did not issue the certificate asked for\n",
		    name);
		return false;
	}
	free(answer);
	t0 = floor_thread_cpu_ms();
	for (size_t i = 0; i < n; i++) {
		answer = NULL;
		ok = way(b, i % b->csrs.n, &answer);
		free(answer);
		if (!ok)
			return false;
	}
	*ms = (floor_thread_cpu_ms() - t0) / (double)n;
	return true;
}

/* A fresh P-256 CA in a directory of its own, loaded; the directory is removed again. */
static bool
make_ca(struct bench *b)
{
	char dir[] = "/tmp/work_bench.XXXXXX", cert_path[64], key_path[64];
	struct est_error e = { 0 };
	EVP_PKEY *key = NULL;
	X509 *root = NULL;
	bool ok;

	if (mkdtemp(dir) == NULL)
		return fail("mkdtemp", NULL);
	snprintf(cert_path, sizeof(cert_path), "%s/ca.pem", dir);
	snprintf(key_path, sizeof(key_path), "%s/ca.key", dir);
	ok = est_key_generate("ec:P-256", &key, &e) == EST_OK &&
	    est_ca_make_root(key, "work_bench CA", 30, &root, &e) == EST_OK &&
	    est_key_write(key_path, key, &e) == EST_OK &&
	    est_cert_write(cert_path, root, &e) == EST_OK &&
	    est_ca_load("bench", cert_path, key_path, NULL, &b->ca, &e) == EST_OK;
	if (ok) {
		b->ca_key = key;
	} else {
		fail("cannot make the CA", &e);
		EVP_PKEY_free(key);
	}
	X509_free(root);
	unlink(cert_path);
	unlink(key_path);
	rmdir(dir);
	return ok;
}

int
main(int argc, char **argv)
{
	struct bench b = { 0 };
	struct floor_ops ops;
	enum key_type kt = KEY_EC_P256;
	double floor_ms, estkit_ms, openssl_ms;
	size_t n = 2000;
	int c, rc = 1;

	while ((c = getopt(argc, argv, "n:k:")) != -1) {
		if (c == 'n' && atol(optarg) > 0)
			n = (size_t)atol(optarg);
		else if (c == 'k' && strcmp(optarg, key_type_name(KEY_RSA_2048)) == 0)
			kt = KEY_RSA_2048;
		else if (!(c == 'k' && strcmp(optarg, key_type_name(KEY_EC_P256)) == 0)) {
			fprintf(stderr, "usage: work_bench [-n N] [-k ec-p256|rsa-2048]\n");
			return 2;
		}
	}
	if (!make_ca(&b) || !csr_set_make(kt, 16, "work-bench", NULL, &b.csrs))
		goto out;
	if (!floor_measure(200, &ops) || !time_way(&b, "estkit", way_estkit, n, &estkit_ms) ||
	    !time_way(&b, "openssl", way_openssl, n, &openssl_ms))
		goto out;
	floor_ms = ops.verify[kt] + ops.sign[KEY_EC_P256];
	printf("an enrolment's work in one thread, no I/O (%s CSRs, P-256 CA, %zu each)\n",
	    key_type_name(kt), n);
	printf("  crypto floor (CSR verified, certificate signed)  %8.4f ms\n", floor_ms);
	printf("  estkit  (libestkit's calls, as estd)             %8.4f ms  %5.2fx floor\n",
	    estkit_ms, estkit_ms / floor_ms);
	printf("  openssl (OpenSSL's usual calls)                  %8.4f ms  %5.2fx floor\n",
	    openssl_ms, openssl_ms / floor_ms);
	printf("{\"work_bench\":{\"key\":\"%s\",\"n\":%zu,\"floor_ms\":%.4f,\"estkit_ms\":%.4f,"
	    "\"openssl_ms\":%.4f}}\n", key_type_name(kt), n, floor_ms, estkit_ms, openssl_ms);
	rc = 0;
out:
	csr_set_free(&b.csrs);
	est_ca_free(b.ca);
	EVP_PKEY_free(b.ca_key);
	return rc;
}
