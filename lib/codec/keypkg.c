/*
 * Server-generated keys as /serverkeygen delivers them (RFC 7030 §4.4.2):
 * plain PKCS#8, or an AsymmetricKeyPackage (RFC 5958) that the CA signs
 * (lib/ca) and this file wraps in CMS EnvelopedData for the client's shared
 * key (kekri) or certificate (ktri/kari); and the client's way back.
 *
 * Every buffer that holds a private key is cleansed before it is freed:
 * DER from here is for OPENSSL_clear_free, and the package goes into the
 * EnvelopedData without CMS_final's uncleansed copy (cms_fill.h).
 */
#include <limits.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "codec/cms_fill.h"
#include "estkit/codec.h"

enum est_err
est_pkcs8_encode(EVP_PKEY *key, unsigned char **der, size_t *derlen, struct est_error *e)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	unsigned char *buf = NULL;
	int len;

	if (p8 == NULL)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot put the key into PKCS#8");
	len = i2d_PKCS8_PRIV_KEY_INFO(p8, &buf);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (len <= 0)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot encode the PKCS#8 key");
	*der = buf;
	*derlen = (size_t)len;
	return EST_OK;
}

enum est_err
est_keypkg_encode(EVP_PKEY *key, unsigned char **der, size_t *derlen, struct est_error *e)
{
	ASN1_SEQUENCE_ANY *seq = sk_ASN1_TYPE_new_null();
	ASN1_TYPE *t = ASN1_TYPE_new();
	ASN1_STRING *one = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
	unsigned char *p8 = NULL, *buf = NULL;
	size_t p8len = 0;
	enum est_err rc;
	int len = 0;

	if (seq == NULL || t == NULL || one == NULL) {
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = est_pkcs8_encode(key, &p8, &p8len, e)) != EST_OK)
		goto out;
	/* The string takes p8 and the stack takes t; p8 is cleansed before they go. */
	ASN1_STRING_set0(one, p8, (int)p8len);
	ASN1_TYPE_set(t, V_ASN1_SEQUENCE, one);
	one = NULL;
	if (!sk_ASN1_TYPE_push(seq, t)) {
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
		goto out;
	}
	t = NULL;
	if ((len = i2d_ASN1_SEQUENCE_ANY(seq, &buf)) <= 0)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot encode the key package");
out:
	if (p8 != NULL)
		OPENSSL_cleanse(p8, p8len);
	ASN1_STRING_free(one);
	ASN1_TYPE_free(t);
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	if (rc != EST_OK)
		return rc;
	*der = buf;
	*derlen = (size_t)len;
	return EST_OK;
}

static enum est_err
add_recipient(CMS_ContentInfo *cms, const struct est_key_recipient *rcpt, struct est_error *e)
{
	unsigned char *key, *id;

	if (rcpt->cert != NULL) {
		if (CMS_add1_recipient_cert(cms, rcpt->cert, CMS_USE_KEYID) == NULL)
			return est_fail_ssl(e, EST_ERR_BADREQ, "cannot encrypt for the client's "
			    "certificate");
		return EST_OK;
	}
	if (rcpt->kek == NULL || rcpt->kek_id == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "no recipient to encrypt the key for");
	key = OPENSSL_memdup(rcpt->kek, rcpt->kek_len);
	id = OPENSSL_memdup(rcpt->kek_id, rcpt->kek_id_len);
	/* add0: on success CMS owns key and id. */
	if (key == NULL || id == NULL || CMS_add0_recipient_key(cms, NID_undef, key,
	    rcpt->kek_len, id, rcpt->kek_id_len, NULL, NULL, NULL) == NULL) {
		OPENSSL_clear_free(key, rcpt->kek_len);
		OPENSSL_free(id);
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot encrypt for the client's key");
	}
	return EST_OK;
}

enum est_err
est_keypkg_envelope(const unsigned char *signed_der, size_t signed_len,
    const struct est_key_recipient *rcpt, unsigned char **der, size_t *derlen,
    struct est_error *e)
{
	CMS_ContentInfo *cms = NULL;
	unsigned char *buf = NULL;
	enum est_err rc;
	int len = 0;

	if (signed_len > INT_MAX)
		return est_fail(e, EST_ERR_INTERNAL, "key package too large");
	if ((cms = CMS_EnvelopedData_create(EVP_aes_256_cbc())) == NULL) {
		rc = est_fail_ssl(e, EST_ERR_NOMEM, "cannot start an EnvelopedData");
		goto out;
	}
	if ((rc = add_recipient(cms, rcpt, e)) != EST_OK)
		goto out;
	/* A new EnvelopedData is detached; the content goes inside. */
	if (!CMS_set_detached(cms, 0) || !CMS_set1_eContentType(cms, OBJ_nid2obj(NID_pkcs7_signed)) ||
	    !codec_cms_fill(cms, signed_der, signed_len) ||
	    (len = i2d_CMS_ContentInfo(cms, &buf)) <= 0)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot build the EnvelopedData");
out:
	CMS_ContentInfo_free(cms);
	if (rc != EST_OK)
		return rc;
	*der = buf;
	*derlen = (size_t)len;
	return EST_OK;
}
