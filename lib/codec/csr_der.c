/*
 * PKCS#10 DER to X509_REQ on the request path without OpenSSL 3.0's decoder
 * framework (csr_der.h).
 *
 * d2i_X509_REQ decodes the subjectPublicKeyInfo through
 * OSSL_DECODER_CTX_new_for_pkey, which on OpenSSL 3.0 gathers every
 * provider's key managers and decoders again on each call, taking the method
 * store's locks as it goes: 1.2 M of the 3.4 M instructions an enrolment cost
 * (docs/performance.md). Here the request is parsed by OpenSSL's own X509_REQ
 * template in a library context that holds only the null provider, where
 * that search ends at once and leaves the key undecoded; EC and RSA keys
 * (nearly every CSR) are then decoded without a decoder (an EC point on a
 * group made once per curve, other keys by their type's own d2i), and the
 * fields are copied into an X509_REQ of the default
 * library context. That copy is returned only when it encodes to exactly the
 * bytes received, so what est_csr_verify checks the signature over is what
 * the client signed, and every reader sees the same fields d2i_X509_REQ
 * would give; in any other case d2i_X509_REQ decides, as before.
 *
 * EC_KEY, d2i_EC_PUBKEY and d2i_RSA_PUBKEY are OpenSSL's legacy key types,
 * which OpenSSL 3 deprecates without removing: this file and csr_ecdsa.c,
 * which checks the signature on such a key, are the ones that use them, so
 * the deprecation warnings are silenced there only. The EVP_PKEY made here
 * serves wherever an EVP_PKEY does.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>

#include "codec/csr_der.h"

/*
 * The curves EST clients use, whose groups are made once and copied into
 * each key: making a group computes its Montgomery constants again
 * (EC_GROUP_new_by_curve_name, 0.14 M instructions for P-256), copying one
 * does not. A curve whose group could not be made is decoded by d2i.
 */
static const int cached_curves[] = { NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1 };
static EC_GROUP *curve_groups[sizeof(cached_curves) / sizeof(cached_curves[0])];

/* Process-wide, made once, kept until exit: parsing never fetches from it. */
static OSSL_LIB_CTX *keyless_ctx;
static pthread_once_t keyless_once = PTHREAD_ONCE_INIT;

static void
keyless_init(void)
{
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();

	/* A provider loaded explicitly keeps the default one from loading as a fallback. */
	if (ctx != NULL && OSSL_PROVIDER_load(ctx, "null") == NULL) {
		OSSL_LIB_CTX_free(ctx);
		ctx = NULL;
	}
	keyless_ctx = ctx;
	for (size_t i = 0; i < sizeof(cached_curves) / sizeof(cached_curves[0]); i++)
		curve_groups[i] = EC_GROUP_new_by_curve_name(cached_curves[i]);
}

/* The group made once for curve; NULL when the curve has none. */
static const EC_GROUP *
cached_group(const ASN1_OBJECT *curve)
{
	int nid = OBJ_obj2nid(curve);

	for (size_t i = 0; i < sizeof(cached_curves) / sizeof(cached_curves[0]); i++)
		if (cached_curves[i] == nid)
			return curve_groups[i];
	return NULL;
}

/*
 * The key at the point pt[0..len) on group, which is copied; NULL when the
 * point is not on the curve. What d2i_EC_PUBKEY makes of the same SPKI,
 * without making the group.
 */
static EVP_PKEY *
key_on_group(const EC_GROUP *group, const unsigned char *pt, int len)
{
	EC_KEY *ec = EC_KEY_new();
	EVP_PKEY *key = NULL;

	if (ec != NULL && len > 0 && EC_KEY_set_group(ec, group) == 1 &&
	    EC_KEY_oct2key(ec, pt, (size_t)len, NULL) == 1 && (key = EVP_PKEY_new()) != NULL &&
	    EVP_PKEY_assign_EC_KEY(key, ec) == 1)
		return key;
	EVP_PKEY_free(key);
	EC_KEY_free(ec);
	return NULL;
}

/*
 * The SPKI's key, RSA or EC on a named curve, as a legacy key; NULL for
 * any other. An EC key with explicit curve parameters is left to
 * d2i_X509_REQ: a legacy key does not tell the policy how its curve was
 * given, and the policy refuses those (RFC 5480 §2.1.1).
 */
static EVP_PKEY *
spki_key(X509_PUBKEY *xpk)
{
	ASN1_OBJECT *alg = NULL;
	X509_ALGOR *algor = NULL;
	const void *params = NULL;
	const unsigned char *pt = NULL;
	unsigned char *spki = NULL;
	const unsigned char *p;
	const EC_GROUP *group;
	EVP_PKEY *key = NULL;
	int nid, ptype = V_ASN1_UNDEF, len, ptlen = 0;

	if (X509_PUBKEY_get0_param(&alg, &pt, &ptlen, &algor, xpk) != 1)
		return NULL;
	X509_ALGOR_get0(NULL, &ptype, &params, algor);
	nid = OBJ_obj2nid(alg);
	if ((nid != NID_X9_62_id_ecPublicKey || ptype != V_ASN1_OBJECT) &&
	    nid != NID_rsaEncryption)
		return NULL;
	if (nid == NID_X9_62_id_ecPublicKey && (group = cached_group(params)) != NULL)
		return key_on_group(group, pt, ptlen);
	if ((len = i2d_X509_PUBKEY(xpk, &spki)) <= 0)
		return NULL;
	p = spki;
	if ((key = EVP_PKEY_new()) == NULL)
		goto out;
	if (nid == NID_X9_62_id_ecPublicKey) {
		EC_KEY *ec = d2i_EC_PUBKEY(NULL, &p, len);

		if (ec == NULL || EVP_PKEY_assign_EC_KEY(key, ec) != 1) {
			EC_KEY_free(ec);
			goto fail;
		}
	} else {
		RSA *rsa = d2i_RSA_PUBKEY(NULL, &p, len);

		if (rsa == NULL || EVP_PKEY_assign_RSA(key, rsa) != 1) {
			RSA_free(rsa);
			goto fail;
		}
	}
	if (p != spki + len)
		goto fail;
	goto out;
fail:
	EVP_PKEY_free(key);
	key = NULL;
out:
	OPENSSL_free(spki);
	return key;
}

/* A default-context X509_REQ with shell's fields and key; NULL on failure. */
static X509_REQ *
copy_req(X509_REQ *shell, EVP_PKEY *key)
{
	const ASN1_BIT_STRING *sig;
	const X509_ALGOR *alg;
	ASN1_BIT_STRING *sig_copy;
	X509_REQ *req;
	int i, n = X509_REQ_get_attr_count(shell);

	if ((req = X509_REQ_new()) == NULL)
		return NULL;
	X509_REQ_get0_signature(shell, &sig, &alg);
	if (X509_REQ_set_version(req, X509_REQ_get_version(shell)) != 1 ||
	    X509_REQ_set_subject_name(req, X509_REQ_get_subject_name(shell)) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1 ||
	    X509_REQ_set1_signature_algo(req, (X509_ALGOR *)alg) != 1)
		goto fail;
	for (i = 0; i < n; i++)
		if (X509_REQ_add1_attr(req, X509_REQ_get_attr(shell, i)) != 1)
			goto fail;
	if ((sig_copy = ASN1_STRING_dup(sig)) == NULL)
		goto fail;
	X509_REQ_set0_signature(req, sig_copy);
	return req;
fail:
	X509_REQ_free(req);
	return NULL;
}

/* Whether req encodes to exactly der[0..len). */
static bool
encodes_to(X509_REQ *req, const unsigned char *der, size_t len)
{
	unsigned char *enc = NULL;
	int n = i2d_X509_REQ(req, &enc);
	bool same = n > 0 && (size_t)n == len && memcmp(enc, der, len) == 0;

	OPENSSL_free(enc);
	return same;
}

X509_REQ *
codec_csr_from_der_fast(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509_REQ *shell = NULL, *req = NULL;
	EVP_PKEY *key = NULL;

	if (len > LONG_MAX || pthread_once(&keyless_once, keyless_init) != 0 ||
	    keyless_ctx == NULL)
		return NULL;
	ERR_set_mark();
	shell = (X509_REQ *)ASN1_item_d2i_ex(NULL, &p, (long)len, ASN1_ITEM_rptr(X509_REQ),
	    keyless_ctx, NULL);
	if (shell != NULL && p == der + len &&
	    (key = spki_key(X509_REQ_get_X509_PUBKEY(shell))) != NULL &&
	    (req = copy_req(shell, key)) != NULL && !encodes_to(req, der, len)) {
		X509_REQ_free(req);
		req = NULL;
	}
	EVP_PKEY_free(key);
	X509_REQ_free(shell);
	ERR_pop_to_mark();
	return req;
}
