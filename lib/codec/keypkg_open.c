/*
 * The client's side of an encrypted server-generated key (RFC 7030
 * §4.4.2): EnvelopedData -> SignedData -> AsymmetricKeyPackage -> key.
 *
 * The SignedData must verify against the caller's certificates, each
 * trusted as it stands (an issuing CA below a root will do); the signer is
 * the CA itself, whose certificate usually lacks digitalSignature, so the
 * certificate purpose is not checked, only the chain. The signers are
 * handed back, so a client can insist on one of them exactly. A key agreement
 * recipient must use AES key wrap (keywrap.h). Decrypted bytes live in
 * secure-memory BIOs and are cleansed when freed, as are the SignedData's
 * content and the decoded package.
 */
#include <limits.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "codec/cms_fill.h"
#include "codec/keywrap.h"
#include "estkit/codec.h"

static enum est_err
decrypt(const unsigned char *der, size_t derlen, const struct est_key_recipient *rcpt,
    BIO *out, struct est_error *e)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms;
	enum est_err rc = EST_OK;
	int ok;

	if (derlen > LONG_MAX || (cms = d2i_CMS_ContentInfo(NULL, &p, (long)derlen)) == NULL)
		return est_fail_ssl(e, EST_ERR_BADREQ, "the key part is not a CMS structure");
	/* The inner type should say id-signedData; tools that encrypt any bytes
	 * (openssl cms -encrypt) say id-data. Either way verify() insists on a
	 * SignedData inside. */
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_enveloped ||
	    (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_signed &&
	    OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data)) {
		CMS_ContentInfo_free(cms);
		return est_fail(e, EST_ERR_BADREQ, "the key part is not an EnvelopedData around "
		    "a SignedData");
	}
	if (!codec_kari_wraps_ok(cms)) {
		CMS_ContentInfo_free(cms);
		return est_fail(e, EST_ERR_BADREQ, "the key part wraps its key with something "
		    "other than AES key wrap (RFC 3394)");
	}
	if (rcpt->cert == NULL)
		ok = CMS_decrypt_set1_key(cms, (unsigned char *)rcpt->kek, rcpt->kek_len,
		    rcpt->kek_id, rcpt->kek_id_len) &&
		    CMS_decrypt(cms, NULL, NULL, NULL, out, CMS_BINARY);
	else
		ok = CMS_decrypt(cms, rcpt->key, rcpt->cert, NULL, out, CMS_BINARY);
	if (!ok)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot decrypt the key part");
	CMS_ContentInfo_free(cms);
	return rc;
}

/* The certificates in trust; the system's store when trust is NULL. */
static X509_STORE *
trust_store(STACK_OF(X509) *trust)
{
	X509_STORE *st = X509_STORE_new();

	if (st == NULL || !X509_STORE_set_purpose(st, X509_PURPOSE_ANY) ||
	    !X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN) || (trust == NULL && !X509_STORE_set_default_paths(st)))
		goto fail;
	for (int i = 0; i < sk_X509_num(trust); i++)
		if (!X509_STORE_add_cert(st, sk_X509_value(trust, i)))
			goto fail;
	return st;
fail:
	X509_STORE_free(st);
	return NULL;
}

/* The signers of cms, each up-referenced: cms is freed before the caller looks. */
static enum est_err
own_signers(CMS_ContentInfo *cms, STACK_OF(X509) **out, struct est_error *e)
{
	STACK_OF(X509) *borrowed = CMS_get0_signers(cms);

	if (borrowed == NULL)
		return est_fail_ssl(e, EST_ERR_BADREQ, "the key package names no signer");
	*out = X509_chain_up_ref(borrowed);
	sk_X509_free(borrowed);
	return *out != NULL ? EST_OK : est_fail(e, EST_ERR_NOMEM, "out of memory");
}

/* Verify the SignedData in `in`, write its key package to out, its signers to *signers. */
static enum est_err
verify(BIO *in, STACK_OF(X509) *trust, BIO *out, STACK_OF(X509) **signers,
    struct est_error *e)
{
	CMS_ContentInfo *cms = d2i_CMS_bio(in, NULL);
	X509_STORE *st = trust_store(trust);
	ASN1_OBJECT *want = OBJ_txt2obj(EST_OID_KEY_PACKAGE, 1);
	enum est_err rc = EST_OK;

	if (cms == NULL || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed)
		rc = est_fail_ssl(e, EST_ERR_BADREQ, "the decrypted key part is not a SignedData");
	else if (st == NULL || want == NULL)
		rc = est_fail_ssl(e, EST_ERR_NOMEM, "out of memory");
	else if (OBJ_cmp(CMS_get0_eContentType(cms), want) != 0)
		rc = est_fail(e, EST_ERR_BADREQ, "the SignedData does not carry an "
		    "id-ct-KP-aKeyPackage");
	else if (!CMS_verify(cms, NULL, st, NULL, out, CMS_BINARY))
		rc = est_fail_ssl(e, EST_ERR_BADREQ, "the key package's signature does not verify "
		    "against the CA certificates");
	else if (signers != NULL)
		rc = own_signers(cms, signers, e);
	ASN1_OBJECT_free(want);
	X509_STORE_free(st);
	if (cms != NULL)
		codec_cms_content_cleanse(cms);
	CMS_ContentInfo_free(cms);
	return rc;
}

/* The first OneAsymmetricKey of an AsymmetricKeyPackage. */
static enum est_err
first_key(BIO *in, EVP_PKEY **key, struct est_error *e)
{
	BUF_MEM *mem = NULL;
	const unsigned char *p;
	ASN1_SEQUENCE_ANY *seq = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	ASN1_TYPE *t;
	enum est_err rc = EST_ERR_BADREQ;

	BIO_get_mem_ptr(in, &mem);
	p = (const unsigned char *)mem->data;
	if ((seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)mem->length)) == NULL ||
	    (t = sk_ASN1_TYPE_value(seq, 0)) == NULL || t->type != V_ASN1_SEQUENCE) {
		est_fail_ssl(e, rc, "the key package is not a SEQUENCE OF OneAsymmetricKey");
		goto out;
	}
	/* OneAsymmetricKey is PKCS#8; a traditional key (PKCS#1, SEC 1) in its
	 * place is taken too, as a key under a verified signature. */
	p = t->value.sequence->data;
	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, t->value.sequence->length)) != NULL)
		*key = EVP_PKCS82PKEY(p8);
	else {
		ERR_clear_error();
		p = t->value.sequence->data;
		*key = d2i_AutoPrivateKey(NULL, &p, t->value.sequence->length);
	}
	if (*key == NULL) {
		est_fail_ssl(e, rc, "the key package holds no key this OpenSSL can read");
		goto out;
	}
	rc = EST_OK;
out:
	/* Every key of the package, read or not, is cleansed before it goes. */
	for (int i = 0; i < sk_ASN1_TYPE_num(seq); i++)
		if ((t = sk_ASN1_TYPE_value(seq, i))->type == V_ASN1_SEQUENCE)
			OPENSSL_cleanse(t->value.sequence->data, (size_t)t->value.sequence->length);
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return rc;
}

enum est_err
est_keypkg_open(const unsigned char *der, size_t derlen, const struct est_key_recipient *rcpt,
    STACK_OF(X509) *trust, EVP_PKEY **key, STACK_OF(X509) **signers, struct est_error *e)
{
	BIO *inner = BIO_new(BIO_s_secmem()), *pkg = BIO_new(BIO_s_secmem());
	enum est_err rc;

	if (signers != NULL)
		*signers = NULL;
	if (inner == NULL || pkg == NULL)
		rc = est_fail_ssl(e, EST_ERR_NOMEM, "out of memory");
	else if ((rc = decrypt(der, derlen, rcpt, inner, e)) == EST_OK &&
	    (rc = verify(inner, trust, pkg, signers, e)) == EST_OK &&
	    (rc = first_key(pkg, key, e)) != EST_OK && signers != NULL) {
		sk_X509_pop_free(*signers, X509_free);
		*signers = NULL;
	}
	BIO_free(inner);
	BIO_free(pkg);
	return rc;
}
