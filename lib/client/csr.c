/*
 * Building the PKCS#10 CSR a client sends (RFC 7030 §4.2.1, §4.4.1).
 *
 * A CSR holds the subject, the key, an extensionRequest (the SAN and the
 * extensions /csrattrs asked for; the caller's SAN wins over the server's),
 * the channel binding as a PrintableString challengePassword (base64 fits
 * PrintableString, est-conformance.md pitfall 21) and, for an encrypted
 * server-generated key, AsymmetricDecryptKeyIdentifier with SMIMECapabilities
 * (RFC 7030 §4.4.1.2). It is signed with the digest asked for, else one
 * that suits the key.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "client/client_int.h"
#include "estkit/codec.h"

#define OID_ASYMM_DECRYPT_KEY_ID "1.2.840.113549.1.9.16.2.54"

/* The digest to sign with: asked for, else by key (none for Ed25519). */
static enum est_err
sign_digest(const struct est_enroll_req *req, EVP_PKEY *key, const EVP_MD **md,
    struct est_error *e)
{
	const char *name = req->digest;
	int bits = EVP_PKEY_get_bits(key);

	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_base_id(key) == EVP_PKEY_ED448) {
		*md = NULL;
		return EST_OK;
	}
	if (name == NULL && req->attrs != NULL && req->attrs->digest[0] != '\0')
		name = req->attrs->digest;
	if (name == NULL)
		name = EVP_PKEY_get_base_id(key) == EVP_PKEY_EC && bits > 256 ?
		    (bits > 384 ? "SHA512" : "SHA384") : "SHA256";
	if ((*md = EVP_get_digestbyname(name)) == NULL)
		return est_fail(e, EST_ERR_BADREQ, "unknown digest \"%s\": use SHA256, SHA384 "
		    "or SHA512", name);
	return EST_OK;
}

/* Whether exts already holds an extension of nid. */
static bool
has_ext(STACK_OF(X509_EXTENSION) *exts, int nid)
{
	return X509v3_get_ext_by_NID(exts, nid, -1) >= 0;
}

/* The extensionRequest: our SAN first, then the server's wishes. */
static enum est_err
add_extensions(X509_REQ *csr, const GENERAL_NAMES *san, const struct est_csr_wants *attrs,
    struct est_error *e)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	STACK_OF(X509_EXTENSION) *want = attrs != NULL ? attrs->extensions : NULL;
	enum est_err rc = EST_OK;

	if (san != NULL && sk_GENERAL_NAME_num(san) > 0 &&
	    X509V3_add1_i2d(&exts, NID_subject_alt_name, (void *)san, 0, X509V3_ADD_DEFAULT) != 1)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot encode the subjectAltName");
	for (int i = 0; i < sk_X509_EXTENSION_num(want); i++) {
		X509_EXTENSION *x = sk_X509_EXTENSION_value(want, i);

		if (has_ext(exts, OBJ_obj2nid(X509_EXTENSION_get_object(x))))
			continue;
		if (X509v3_add_ext(&exts, x, -1) == NULL) {
			rc = est_fail_ssl(e, EST_ERR_NOMEM, "cannot copy a requested extension");
			break;
		}
	}
	if (rc == EST_OK && sk_X509_EXTENSION_num(exts) > 0 && X509_REQ_add_extensions(csr, exts) != 1)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot add the extensionRequest");
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

static enum est_err
add_challenge(X509_REQ *csr, const unsigned char *cb, size_t cb_len, struct est_error *e)
{
	char *b64 = NULL;
	size_t len = 0;
	enum est_err rc;

	if ((rc = est_b64_encode(cb, cb_len, false, &b64, &len, e)) != EST_OK)
		return rc;
	if (X509_REQ_add1_attr_by_NID(csr, NID_pkcs9_challengePassword, V_ASN1_PRINTABLESTRING,
	    (const unsigned char *)b64, (int)len) != 1)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot add the challengePassword");
	free(b64);
	return rc;
}

/* SMIMECapabilities: the content-encryption algorithms we can open. */
static enum est_err
add_smime_caps(X509_REQ *csr, struct est_error *e)
{
	static const int nids[] = { NID_aes_256_cbc, NID_aes_128_cbc };
	STACK_OF(X509_ALGOR) *caps = sk_X509_ALGOR_new_null();
	unsigned char *der = NULL;
	enum est_err rc = EST_OK;
	int len = -1;

	for (size_t i = 0; caps != NULL && i < sizeof(nids) / sizeof(nids[0]); i++) {
		X509_ALGOR *a = X509_ALGOR_new();

		if (a == NULL || !X509_ALGOR_set0(a, OBJ_nid2obj(nids[i]), V_ASN1_UNDEF, NULL) ||
		    !sk_X509_ALGOR_push(caps, a)) {
			X509_ALGOR_free(a);
			break;
		}
	}
	if (caps != NULL && sk_X509_ALGOR_num(caps) == (int)(sizeof(nids) / sizeof(nids[0])))
		len = i2d_X509_ALGORS(caps, &der);
	if (len <= 0 || X509_REQ_add1_attr_by_NID(csr, NID_SMIMECapabilities, V_ASN1_SEQUENCE,
	    der, len) != 1)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot add SMIMECapabilities");
	OPENSSL_free(der);
	sk_X509_ALGOR_pop_free(caps, X509_ALGOR_free);
	return rc;
}

/* Ask for the server-generated key encrypted to cert's key (ktri by SKI). */
static enum est_err
add_decrypt_key_id(X509_REQ *csr, X509 *cert, struct est_error *e)
{
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(cert);
	ASN1_OBJECT *oid = OBJ_txt2obj(OID_ASYMM_DECRYPT_KEY_ID, 1);
	X509_ATTRIBUTE *attr = NULL;
	enum est_err rc = EST_OK;

	if (ski == NULL)
		rc = est_fail(e, EST_ERR_BADREQ, "the decryption certificate has no "
		    "subjectKeyIdentifier to name it by");
	else if (oid == NULL || (attr = X509_ATTRIBUTE_create_by_OBJ(NULL, oid,
	    V_ASN1_OCTET_STRING, ASN1_STRING_get0_data(ski), ASN1_STRING_length(ski))) == NULL ||
	    X509_REQ_add1_attr(csr, attr) != 1)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot add AsymmetricDecryptKeyIdentifier");
	X509_ATTRIBUTE_free(attr);
	ASN1_OBJECT_free(oid);
	return rc == EST_OK ? add_smime_caps(csr, e) : rc;
}

/* Subject, key and attributes, unsigned. */
static enum est_err
fill_csr(X509_REQ *csr, const struct est_enroll_req *req, EVP_PKEY *key,
    const X509_NAME *subject, const GENERAL_NAMES *san, const unsigned char *cb,
    size_t cb_len, struct est_error *e)
{
	enum est_err rc;

	if (!X509_REQ_set_version(csr, X509_REQ_VERSION_1) ||
	    (subject != NULL && !X509_REQ_set_subject_name(csr, subject)) ||
	    !X509_REQ_set_pubkey(csr, key))
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot fill in the CSR");
	if ((rc = add_extensions(csr, san, req->attrs, e)) != EST_OK)
		return rc;
	if (cb_len > 0 && (rc = add_challenge(csr, cb, cb_len, e)) != EST_OK)
		return rc;
	if (req->decrypt_cert != NULL && (rc = add_decrypt_key_id(csr, req->decrypt_cert, e)) != EST_OK)
		return rc;
	return EST_OK;
}

enum est_err
cl_csr_build(const struct est_enroll_req *req, EVP_PKEY *key, const X509_NAME *subject,
    const GENERAL_NAMES *san, const unsigned char *cb, size_t cb_len, X509_REQ **out,
    struct est_error *e)
{
	const EVP_MD *md = NULL;
	X509_REQ *csr;
	enum est_err rc;

	if ((rc = sign_digest(req, key, &md, e)) != EST_OK)
		return rc;
	if ((csr = X509_REQ_new()) == NULL)
		return est_fail_ssl(e, EST_ERR_NOMEM, "out of memory building a CSR");
	if ((rc = fill_csr(csr, req, key, subject, san, cb, cb_len, e)) == EST_OK &&
	    X509_REQ_sign(csr, key, md) <= 0)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot sign the CSR (is the key able to "
		    "sign?)");
	if (rc != EST_OK) {
		X509_REQ_free(csr);
		return rc;
	}
	*out = csr;
	return EST_OK;
}
