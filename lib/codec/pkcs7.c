/*
 * Certs-only CMC Simple PKI Responses (RFC 7030 §4.1.3, RFC 5272 §4.1):
 * a PKCS#7 SignedData that only carries certificates.
 *
 * The encoding is byte for byte what `openssl crl2pkcs7 -nocrl` writes:
 * version 1, empty digestAlgorithms, id-data content without eContent,
 * certificates [0] in the caller's order, empty signerInfos.
 */
#include <limits.h>

#include <openssl/err.h>
#include <openssl/pkcs7.h>

#include "estkit/codec.h"

enum est_err
est_certs_only_encode(STACK_OF(X509) *certs, unsigned char **der,
    size_t *derlen, struct est_error *e)
{
	PKCS7 *p7;
	unsigned char *buf = NULL;
	enum est_err rc = EST_ERR_CRYPTO;
	int i, len;

	if (sk_X509_num(certs) <= 0)
		return est_fail(e, EST_ERR_INTERNAL, "no certificates to encode");
	if ((p7 = PKCS7_new()) == NULL)
		return est_fail_ssl(e, EST_ERR_NOMEM, "out of memory building PKCS#7");
	/* content_new adds an empty eContent; "detached" removes it again. */
	if (!PKCS7_set_type(p7, NID_pkcs7_signed) ||
	    !PKCS7_content_new(p7, NID_pkcs7_data) ||
	    !PKCS7_set_detached(p7, 1)) {
		est_fail_ssl(e, rc, "cannot build PKCS#7 SignedData");
		goto out;
	}
	for (i = 0; i < sk_X509_num(certs); i++) {
		if (!PKCS7_add_certificate(p7, sk_X509_value(certs, i))) {
			est_fail_ssl(e, rc, "cannot add certificate %d to PKCS#7", i);
			goto out;
		}
	}
	if ((len = i2d_PKCS7(p7, &buf)) <= 0) {
		est_fail_ssl(e, rc, "cannot encode PKCS#7");
		goto out;
	}
	*der = buf;
	*derlen = (size_t)len;
	rc = EST_OK;
out:
	PKCS7_free(p7);
	return rc;
}

/* A new stack holding a reference to each certificate of src. */
static STACK_OF(X509) *
copy_certs(const STACK_OF(X509) *src)
{
	STACK_OF(X509) *dst;
	int i, n = sk_X509_num(src);

	if ((dst = sk_X509_new_reserve(NULL, n)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		X509 *x = sk_X509_value(src, i);

		if (!X509_up_ref(x))
			break;
		sk_X509_push(dst, x);
	}
	if (i < n) {
		sk_X509_pop_free(dst, X509_free);
		return NULL;
	}
	return dst;
}

/*
 * Signers and CRLs, if a server sends them anyway, are ignored: the client
 * checks the certificates themselves against its trust anchors.
 */
enum est_err
est_certs_only_decode(const unsigned char *der, size_t derlen,
    STACK_OF(X509) **out, struct est_error *e)
{
	const unsigned char *p = der;
	STACK_OF(X509) *certs;
	PKCS7 *p7;
	enum est_err rc = EST_ERR_BADREQ;

	if (derlen > LONG_MAX)
		return est_fail(e, EST_ERR_TOOLARGE, "PKCS#7 is too large");
	if ((p7 = d2i_PKCS7(NULL, &p, (long)derlen)) == NULL)
		return est_fail_ssl(e, rc, "not a PKCS#7 structure");
	if (p != der + derlen)
		est_fail(e, rc, "PKCS#7 is followed by %zu bytes of trailing data",
		    (size_t)(der + derlen - p));
	else if (!PKCS7_type_is_signed(p7) || p7->d.sign == NULL)
		est_fail(e, rc, "PKCS#7 is not SignedData, so not a certs-only response");
	else if (sk_X509_num(p7->d.sign->cert) <= 0)
		est_fail(e, rc, "certs-only response holds no certificates");
	else if ((certs = copy_certs(p7->d.sign->cert)) == NULL)
		rc = est_fail_ssl(e, EST_ERR_NOMEM, "out of memory copying certificates");
	else {
		*out = certs;
		rc = EST_OK;
	}
	PKCS7_free(p7);
	return rc;
}
