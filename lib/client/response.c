/*
 * Decoding what a server answers: certs-only bodies (/cacerts, enrolment)
 * and the multipart body of /serverkeygen (RFC 7030 §4.1.3, §4.2.3, §4.4.2).
 *
 * Parsing is lenient where peers are known to differ (est-conformance.md
 * pitfalls 1, 3, 4, 18): base64 with or without line breaks, PEM or DER
 * bodies, smime-type present or not, parts in any order. What the answer
 * means is checked strictly: an issued certificate must pass
 * cl_issued_check (trust anchor, validity, names, key: the one sent, or the
 * server-generated one), and an encrypted key's signer cl_key_signer_check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "client/client_int.h"
#include "estkit/codec.h"

#define MAX_PARTS 4

/* The certificates in a certs-only body (base64; PEM and DER leniently). */
static enum est_err
certs_from(const char *what, const unsigned char *body, size_t len, STACK_OF(X509) **out,
    struct est_error *e)
{
	struct est_error sub = { 0 };
	unsigned char *der = NULL;
	size_t derlen = 0;
	enum est_err rc;

	rc = est_body_to_der(body, len, &der, &derlen, &sub);
	if (rc == EST_OK)
		rc = est_certs_only_decode(der, derlen, out, &sub);
	free(der);
	if (rc == EST_ERR_NOMEM)
		return est_fail(e, rc, "out of memory reading %s", what);
	if (rc != EST_OK)
		return est_fail(e, EST_ERR_SERVER, "%s is not a certs-only PKCS#7: %s", what, sub.msg);
	if (sk_X509_num(*out) > CL_CERTS_MAX) {
		rc = est_fail(e, EST_ERR_SERVER, "%s holds %d certificates, more than the %d a CA "
		    "sends: refused", what, sk_X509_num(*out), CL_CERTS_MAX);
		sk_X509_pop_free(*out, X509_free);
		*out = NULL;
		return rc;
	}
	return EST_OK;
}

/* A Content-Type is acceptable for certificates when absent or PKCS#7. */
static enum est_err
check_p7_type(const char *what, const char *ct, struct est_error *e)
{
	struct est_media_type mt;

	if (ct[0] == '\0')
		return EST_OK;
	if (est_media_type_parse(ct, strlen(ct), &mt, NULL) != EST_OK ||
	    (!est_media_type_is(&mt, "application/pkcs7-mime", NULL) &&
	    !est_media_type_is(&mt, "application/x-pkcs7-certificates", NULL)))
		return est_fail(e, EST_ERR_SERVER, "%s has Content-Type \"%.80s\", not "
		    "application/pkcs7-mime", what, ct);
	return EST_OK;
}

enum est_err
cl_certs_answer(const char *op, const struct cl_response *r, STACK_OF(X509) **out,
    struct est_error *e)
{
	char what[48];
	enum est_err rc;

	snprintf(what, sizeof(what), "the /%s answer", op);
	if ((rc = check_p7_type(what, r->content_type, e)) != EST_OK)
		return rc;
	return certs_from(what, r->body, r->len, out, e);
}

/* The certificate of certs that certifies key (borrowed), or NULL. */
static X509 *
cert_for_key(STACK_OF(X509) *certs, EVP_PKEY *key)
{
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);

		if (EVP_PKEY_eq(X509_get0_pubkey(x), key) == 1) {
			ERR_clear_error();
			return x;
		}
	}
	ERR_clear_error();
	return NULL;
}

enum est_err
cl_enroll_answer(struct est_client *c, const char *op, const struct cl_response *r,
    const struct est_cert_expect *want, struct est_enroll_result *res, struct est_error *e)
{
	STACK_OF(X509) *certs = NULL;
	X509 *x;
	enum est_err rc;

	if ((rc = cl_certs_answer(op, r, &certs, e)) != EST_OK)
		return rc;
	if ((x = cert_for_key(certs, want->key)) == NULL)
		rc = est_fail(e, EST_ERR_SERVER, "the /%s answer holds no certificate for the "
		    "key that was sent (the server certified another key)", op);
	else
		rc = cl_issued_check(c, op, x, certs, want, NULL, e);
	if (rc == EST_OK && !X509_up_ref(x))
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
	if (rc != EST_OK) {
		sk_X509_pop_free(certs, X509_free);
		return rc;
	}
	res->cert = x;
	res->certs = certs;
	return EST_OK;
}

/* The parts of the multipart answer, split at the Content-Type's boundary. */
static enum est_err
split_parts(const struct cl_response *r, struct est_mime_slice *parts, size_t *n,
    struct est_error *e)
{
	struct est_media_type mt;
	struct est_error sub = { 0 };
	const char *boundary;

	if (est_media_type_parse(r->content_type, strlen(r->content_type), &mt, NULL) != EST_OK ||
	    strncmp(mt.type, "multipart/", 10) != 0 ||
	    (boundary = est_media_type_param(&mt, "boundary")) == NULL)
		return est_fail(e, EST_ERR_SERVER, "the /serverkeygen answer has Content-Type "
		    "\"%.80s\", not multipart/mixed with a boundary", r->content_type);
	if (est_multipart_parse(r->body, r->len, boundary, parts, MAX_PARTS, n, &sub) != EST_OK)
		return est_fail(e, EST_ERR_SERVER, "the /serverkeygen answer: %s", sub.msg);
	return EST_OK;
}

/* An unencrypted key part: base64 PKCS#8 (RFC 7030 §4.4.2, RFC 8951). */
static enum est_err
plain_key(const struct est_mime_slice *p, EVP_PKEY **out, struct est_error *e)
{
	struct est_error sub = { 0 };
	unsigned char *der = NULL;
	const unsigned char *q;
	size_t derlen = 0;
	EVP_PKEY *key = NULL;

	if (est_body_to_der(p->body, p->len, &der, &derlen, &sub) != EST_OK)
		return est_fail(e, EST_ERR_SERVER, "the key part is not base64: %s", sub.msg);
	q = der;
	if (derlen <= 65536)
		key = d2i_AutoPrivateKey(NULL, &q, (long)derlen);
	OPENSSL_cleanse(der, derlen); /* malloc()ed by est_body_to_der */
	free(der);
	if (key == NULL)
		return est_fail_ssl(e, EST_ERR_SERVER, "the key part is not a PKCS#8 private key");
	*out = key;
	return EST_OK;
}

/*
 * The encrypted key part, opened with the configured decryption key. Its
 * signer must be the CA that issued the certificate (chain[1]) or the
 * signer the request names.
 */
static enum est_err
sealed_key(const struct est_mime_slice *p, const struct est_enroll_req *req,
    STACK_OF(X509) *chain, EVP_PKEY **out, struct est_error *e)
{
	struct est_key_recipient rcpt = { 0 };
	struct est_error sub = { 0 };
	STACK_OF(X509) *allowed, *signers = NULL;
	unsigned char *der = NULL;
	size_t derlen = 0;
	enum est_err rc;

	if (req->decrypt_key == NULL)
		return est_fail(e, EST_ERR_CONFIG, "the server sent the key encrypted "
		    "(server-generated-key) but no decryption certificate and key were given");
	if (est_body_to_der(p->body, p->len, &der, &derlen, &sub) != EST_OK)
		return est_fail(e, EST_ERR_SERVER, "the encrypted key part is not base64: %s",
		    sub.msg);
	if ((allowed = sk_X509_new_null()) == NULL ||
	    (sk_X509_num(chain) > 1 && !sk_X509_push(allowed, sk_X509_value(chain, 1))) ||
	    (req->key_signer != NULL && !sk_X509_push(allowed, req->key_signer))) {
		sk_X509_free(allowed);
		free(der);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	/* The codec's reader (fuzzed); the signer must then be one of allowed exactly. */
	rcpt.cert = req->decrypt_cert;
	rcpt.key = req->decrypt_key;
	rc = est_keypkg_open(der, derlen, &rcpt, allowed, out, &signers, &sub);
	free(der);
	if (rc == EST_ERR_NOMEM)
		est_fail(e, rc, "%s", sub.msg);
	else if (rc == EST_ERR_CRYPTO)
		est_fail(e, rc, "cannot decrypt the server-generated key with the given key: "
		    "was it encrypted to another one? (%s)", sub.msg);
	else if (rc != EST_OK)
		rc = est_fail(e, EST_ERR_SERVER, "the encrypted key part: %s", sub.msg);
	else if ((rc = cl_key_signer_check(signers, allowed, e)) != EST_OK) {
		EVP_PKEY_free(*out);
		*out = NULL;
	}
	sk_X509_pop_free(signers, X509_free);
	sk_X509_free(allowed);
	return rc;
}

/* The end-entity certificate of the certificate part (the first non-CA one). */
static X509 *
leaf_of(STACK_OF(X509) *certs)
{
	for (int i = 0; i < sk_X509_num(certs); i++)
		if (X509_check_ca(sk_X509_value(certs, i)) == 0)
			return sk_X509_value(certs, i);
	ERR_clear_error();
	return NULL;
}

/* Which part is which, by type (EST-C-60): key, encrypted key, certificate. */
static void
classify(struct est_mime_slice *parts, size_t n, struct est_mime_slice **key, bool *sealed,
    struct est_mime_slice **cert)
{
	*key = *cert = NULL;
	*sealed = false;
	for (size_t i = 0; i < n; i++) {
		struct est_media_type *t = &parts[i].type;

		if (est_media_type_is(t, "application/pkcs8", NULL)) {
			*key = &parts[i];
		} else if (est_media_type_is(t, "application/pkcs7-mime", "server-generated-key")) {
			*key = &parts[i];
			*sealed = true;
		} else if (est_media_type_is(t, "application/pkcs7-mime", NULL)) {
			*cert = &parts[i];
		}
	}
}

/*
 * The certificate of the certificate part, validated (its key unknown yet
 * when the key is sealed): *leaf borrowed from certs, *chain the verified
 * chain (caller frees).
 */
static enum est_err
keygen_cert(struct est_client *c, STACK_OF(X509) *certs, const struct est_cert_expect *want,
    X509 **leaf, STACK_OF(X509) **chain, struct est_error *e)
{
	struct est_cert_expect names = *want;

	if ((*leaf = leaf_of(certs)) == NULL)
		return est_fail(e, EST_ERR_SERVER, "the /serverkeygen answer holds no end-entity "
		    "certificate");
	names.key = NULL;
	return cl_issued_check(c, "serverkeygen", *leaf, certs, &names, chain, e);
}

enum est_err
cl_keygen_answer(struct est_client *c, const struct cl_response *r,
    const struct est_enroll_req *req, const struct est_cert_expect *want,
    struct est_enroll_result *res, struct est_error *e)
{
	struct est_mime_slice parts[MAX_PARTS], *kp, *cp;
	STACK_OF(X509) *certs = NULL, *chain = NULL;
	EVP_PKEY *key = NULL;
	X509 *leaf = NULL;
	size_t n = 0;
	bool sealed;
	enum est_err rc;

	if ((rc = split_parts(r, parts, &n, e)) != EST_OK)
		return rc;
	classify(parts, n, &kp, &sealed, &cp);
	if (kp == NULL || cp == NULL)
		return est_fail(e, EST_ERR_SERVER, "the /serverkeygen answer lacks its %s part",
		    kp == NULL ? "application/pkcs8 key" : "application/pkcs7-mime certificate");
	/* Asked for encryption, got a key in the clear: a downgrade (RFC 7030 §4.4.2). */
	if (!sealed && req->decrypt_key != NULL)
		return est_fail(e, EST_ERR_SERVER, "/serverkeygen: the key was asked for "
		    "encrypted but came in the clear (application/pkcs8): refused");
	if ((rc = certs_from("the certificate part", cp->body, cp->len, &certs, e)) != EST_OK)
		return rc;
	if ((rc = keygen_cert(c, certs, want, &leaf, &chain, e)) == EST_OK)
		rc = sealed ? sealed_key(kp, req, chain, &key, e) : plain_key(kp, &key, e);
	if (rc == EST_OK && EVP_PKEY_eq(X509_get0_pubkey(leaf), key) != 1)
		rc = est_fail(e, EST_ERR_SERVER, "/serverkeygen: the key does not belong to the "
		    "certificate: refused");
	if (rc == EST_OK && !X509_up_ref(leaf))
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
	ERR_clear_error();
	sk_X509_pop_free(chain, X509_free);
	if (rc != EST_OK) {
		EVP_PKEY_free(key);
		sk_X509_pop_free(certs, X509_free);
		return rc;
	}
	res->cert = leaf;
	res->certs = certs;
	res->key = key;
	return EST_OK;
}
