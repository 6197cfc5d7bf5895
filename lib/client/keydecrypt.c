/*
 * The encrypted form of a server-generated key (RFC 7030 §4.4.2,
 * est-conformance.md EST-S-66): CMS EnvelopedData, opened with the key the
 * client named in its CSR, around a SignedData from whoever made the key,
 * around an AsymmetricKeyPackage (RFC 5958: SEQUENCE OF OneAsymmetricKey).
 *
 * The signature is checked against the signers the caller allows (trust,
 * each trusted as it stands, so an issuing CA below a root will do), and
 * cl_key_signer_check decides whether the signer was one of them.
 * A key agreement recipient must use AES key wrap (codec/keywrap.h).
 * Decrypted bytes are wiped before they are freed.
 */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "client/client_int.h"
#include "codec/keywrap.h"

#define INNER_MAX (256 * 1024)

/* A store of our trust anchors (the system's when we have none). */
static X509_STORE *
signer_store(STACK_OF(X509) *trust)
{
	X509_STORE *st = X509_STORE_new();
	bool ok = st != NULL && X509_STORE_set_purpose(st, X509_PURPOSE_ANY) &&
	    X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);

	if (ok && trust == NULL)
		ok = X509_STORE_set_default_paths(st);
	for (int i = 0; ok && i < sk_X509_num(trust); i++)
		ok = X509_STORE_add_cert(st, sk_X509_value(trust, i));
	if (!ok) {
		X509_STORE_free(st);
		return NULL;
	}
	return st;
}

static CMS_ContentInfo *
cms_of(const unsigned char *der, size_t len, int want_nid)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms;

	if (len > INNER_MAX || (cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL)
		return NULL;
	if (p != der + len || OBJ_obj2nid(CMS_get0_type(cms)) != want_nid) {
		CMS_ContentInfo_free(cms);
		return NULL;
	}
	return cms;
}

/* The bytes written into a memory BIO, and their length. */
static const unsigned char *
bio_bytes(BIO *b, size_t *len)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);

	*len = n > 0 ? (size_t)n : 0;
	return (const unsigned char *)data;
}

/* The first key of an AsymmetricKeyPackage, or a bare PrivateKeyInfo. */
static EVP_PKEY *
key_of_package(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	STACK_OF(ASN1_TYPE) *seq;
	ASN1_TYPE *first;
	EVP_PKEY *key;

	if ((key = d2i_AutoPrivateKey(NULL, &p, (long)len)) != NULL)
		return key;
	p = der;
	if ((seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)len)) == NULL)
		return NULL;
	first = sk_ASN1_TYPE_value(seq, 0);
	if (first != NULL && first->type == V_ASN1_SEQUENCE) {
		p = first->value.sequence->data;
		key = d2i_AutoPrivateKey(NULL, &p, first->value.sequence->length);
	}
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	return key;
}

/* Verify the SignedData and take the key out of its content. */
static enum est_err
open_signed(const unsigned char *der, size_t len, STACK_OF(X509) *trust,
    STACK_OF(X509) *extra, EVP_PKEY **out, struct est_error *e)
{
	CMS_ContentInfo *sd = cms_of(der, len, NID_pkcs7_signed);
	X509_STORE *st = signer_store(trust);
	BIO *content = BIO_new(BIO_s_mem());
	STACK_OF(X509) *signers = NULL;
	const unsigned char *bytes;
	enum est_err rc = EST_ERR_SERVER;
	size_t n;

	if (sd == NULL)
		est_fail_ssl(e, rc, "the decrypted server-generated key is not CMS SignedData");
	else if (st == NULL || content == NULL)
		rc = est_fail_ssl(e, EST_ERR_NOMEM, "out of memory checking the key's signature");
	else if (CMS_verify(sd, extra, st, NULL, content, CMS_BINARY) != 1)
		est_fail_ssl(e, rc, "the signature on the server-generated key does not verify "
		    "against the CA that issued the certificate");
	else if ((signers = CMS_get0_signers(sd)) == NULL)
		est_fail_ssl(e, rc, "the key package names no signer");
	else if (cl_key_signer_check(signers, trust, e) == EST_OK) {
		bytes = bio_bytes(content, &n);
		if ((*out = key_of_package(bytes, n)) == NULL)
			est_fail_ssl(e, rc, "the server-generated key package holds no private key");
		else
			rc = EST_OK;
	}
	if (content != NULL) {
		bytes = bio_bytes(content, &n);
		OPENSSL_cleanse((void *)bytes, n);
	}
	BIO_free(content);
	sk_X509_free(signers);
	X509_STORE_free(st);
	CMS_ContentInfo_free(sd);
	return rc;
}

enum est_err
cl_key_decrypt(const unsigned char *der, size_t len, X509 *cert, EVP_PKEY *key,
    STACK_OF(X509) *trust, STACK_OF(X509) *extra, EVP_PKEY **out, struct est_error *e)
{
	CMS_ContentInfo *env = cms_of(der, len, NID_pkcs7_enveloped);
	BIO *inner = BIO_new(BIO_s_mem());
	const unsigned char *bytes;
	enum est_err rc;
	size_t n = 0;

	if (env == NULL)
		rc = est_fail_ssl(e, EST_ERR_SERVER, "the encrypted key part is not CMS "
		    "EnvelopedData");
	else if (!codec_kari_wraps_ok(env))
		rc = est_fail(e, EST_ERR_SERVER, "the encrypted key part wraps its key with "
		    "something other than AES key wrap (RFC 3394)");
	else if (inner == NULL)
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory decrypting the key");
	else if (CMS_decrypt(env, key, cert, NULL, inner, CMS_BINARY) != 1)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot decrypt the server-generated key "
		    "with the given key: was it encrypted to another one?");
	else {
		bytes = bio_bytes(inner, &n);
		rc = open_signed(bytes, n, trust, extra, out, e);
	}
	if (inner != NULL) {
		bytes = bio_bytes(inner, &n);
		OPENSSL_cleanse((void *)bytes, n);
	}
	BIO_free(inner);
	CMS_ContentInfo_free(env);
	return rc;
}
