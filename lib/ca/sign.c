/*
 * CMS SignedData made with a CA's key: how the CA vouches for a key it
 * generated (RFC 7030 §4.4.2, the SignedData inside the EnvelopedData).
 *
 * The content may be a private key, so the result is for OPENSSL_clear_free.
 * OpenSSL 3.0's CMS cannot sign with EdDSA keys; such a CA is refused with
 * a reason instead of a failed signature.
 */
#include <limits.h>

#include <openssl/cms.h>

#include "ca/ca_int.h"
#include "codec/cms_fill.h"
#include "estkit/ca.h"

static enum est_err
add_signer(CMS_ContentInfo *cms, const struct est_ca *ca, struct est_error *e)
{
	const EVP_MD *md = ca_sign_md(ca->ca_key);

	if (md == NULL)
		return est_fail(e, EST_ERR_NOTIMPL, "CA %s has an EdDSA key, with which this "
		    "OpenSSL cannot sign CMS: it cannot sign encrypted key packages", ca->ca_name);
	if (CMS_add1_signer(cms, ca->ca_cert, ca->ca_key, md, CMS_BINARY | CMS_NOSMIMECAP) == NULL)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot add CA %s as signer", ca->ca_name);
	/* The chain above the CA, so a client can build the path to its root. */
	for (int i = 1; i < sk_X509_num(ca->ca_chain); i++)
		if (!CMS_add1_cert(cms, sk_X509_value(ca->ca_chain, i)))
			return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot add the CA chain");
	return EST_OK;
}

enum est_err
est_ca_sign_content(const struct est_ca *ca, const char *content_oid,
    const unsigned char *content, size_t len, unsigned char **der, size_t *derlen,
    struct est_error *e)
{
	CMS_ContentInfo *cms = NULL;
	ASN1_OBJECT *type = NULL;
	unsigned char *buf = NULL;
	enum est_err rc;
	int n = 0;

	if (ca->ca_key == NULL)
		return est_fail(e, EST_ERR_CONFIG, "CA %s has no private key and cannot sign",
		    ca->ca_name);
	if (len > INT_MAX)
		return est_fail(e, EST_ERR_INTERNAL, "content too large to sign");
	if ((cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY)) == NULL ||
	    (type = OBJ_txt2obj(content_oid, 1)) == NULL) {
		rc = est_fail_ssl(e, EST_ERR_NOMEM, "cannot start a SignedData");
		goto out;
	}
	if ((rc = add_signer(cms, ca, e)) != EST_OK)
		goto out;
	if (!CMS_set1_eContentType(cms, type) || !codec_cms_fill(cms, content, len) ||
	    (n = i2d_CMS_ContentInfo(cms, &buf)) <= 0)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "CA %s cannot sign the content", ca->ca_name);
out:
	ASN1_OBJECT_free(type);
	if (cms != NULL)
		codec_cms_content_cleanse(cms);
	CMS_ContentInfo_free(cms);
	if (rc != EST_OK)
		return rc;
	*der = buf;
	*derlen = (size_t)n;
	return EST_OK;
}
