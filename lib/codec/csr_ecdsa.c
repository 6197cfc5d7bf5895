/*
 * A CSR's ECDSA signature checked on the legacy EC key the fast reader
 * (csr_der.c) made, as that key is (csr_ecdsa.h).
 *
 * X509_REQ_verify on OpenSSL 3.0 first moves a legacy key into its
 * provider: it encodes the public point, builds the curve's group again,
 * decodes the point into the new key, and fetches the signature and digest
 * algorithms -- about 0.27 M instructions per enrolment beside the 0.82 M
 * of the P-256 verification itself (docs/performance.md). Here the
 * certificationRequestInfo is digested with a digest fetched once, and the
 * signature checked by ECDSA_verify on the key in place: the same function
 * OpenSSL's provider ends in, which also refuses a signature that is not
 * DER. ASN1_item_verify's own checks come first, as there: the algorithm
 * must be an ECDSA one for this EC key, and the BIT STRING whole bytes.
 *
 * ECDSA_verify and EVP_PKEY_get0 work on OpenSSL's legacy key types, which
 * OpenSSL 3 deprecates without removing (as in csr_der.c).
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <pthread.h>
#include <stdbool.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "codec/csr_ecdsa.h"

/*
 * ecdsa-with-SHA256, -SHA384, -SHA512 (RFC 5758 §3.2), and their digests,
 * fetched once and kept until exit: verifying never fetches.
 */
static const struct {
	int sig_nid;
	const char *digest;
} algs[] = {
	{ NID_ecdsa_with_SHA256, "SHA256" },
	{ NID_ecdsa_with_SHA384, "SHA384" },
	{ NID_ecdsa_with_SHA512, "SHA512" },
};
static EVP_MD *digests[sizeof(algs) / sizeof(algs[0])];
static pthread_once_t digests_once = PTHREAD_ONCE_INIT;

static void
digests_init(void)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		digests[i] = EVP_MD_fetch(NULL, algs[i].digest, NULL);
}

/*
 * The curves taken here. On any other OpenSSL may see another key type: a
 * key on SM2's curve is an SM2 key to it, under which an ECDSA signature
 * does not verify, while ECDSA_verify on the legacy key would accept it.
 */
static bool
curve_taken(const EC_GROUP *group)
{
	int nid = EC_GROUP_get_curve_name(group);

	return nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 || nid == NID_secp521r1;
}

/* The digest of the signature algorithm alg; NULL if it is not one of ours. */
static const EVP_MD *
ecdsa_digest(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *oid;
	int ptype, nid;

	X509_ALGOR_get0(&oid, &ptype, NULL, alg);
	if (ptype != V_ASN1_UNDEF || pthread_once(&digests_once, digests_init) != 0)
		return NULL;
	nid = OBJ_obj2nid(oid);
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].sig_nid == nid)
			return digests[i];
	return NULL;
}

int
codec_csr_verify_ecdsa(X509_REQ *req)
{
	EVP_PKEY *key = X509_REQ_get0_pubkey(req);
	const ASN1_BIT_STRING *sig;
	const X509_ALGOR *alg;
	const EVP_MD *md;
	const EC_KEY *ec;
	unsigned char *tbs = NULL, dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen;
	int n, verdict = -1;   /* -1 until the digest is made */

	/* EVP_PKEY_get0 gives a provider's key to nobody: those go to X509_REQ_verify. */
	if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
	    (ec = EVP_PKEY_get0(key)) == NULL || EC_KEY_get0_group(ec) == NULL ||
	    !curve_taken(EC_KEY_get0_group(ec)) || EC_KEY_get0_public_key(ec) == NULL)
		return -1;
	X509_REQ_get0_signature(req, &sig, &alg);
	if ((md = ecdsa_digest(alg)) == NULL)
		return -1;
	if ((sig->flags & 0x07) != 0)
		return 0;
	ERR_set_mark();
	if ((n = i2d_re_X509_REQ_tbs(req, &tbs)) > 0 &&
	    EVP_Digest(tbs, (size_t)n, dgst, &dlen, md, NULL) == 1)
		/* -1 is a signature that is not DER, as well as a failure: both refuse. */
		verdict = ECDSA_verify(0, dgst, (int)dlen, ASN1_STRING_get0_data(sig),
		    ASN1_STRING_length(sig), (EC_KEY *)ec) == 1;
	OPENSSL_free(tbs);
	ERR_pop_to_mark();
	return verdict;
}
