/*
 * Whether a CSR gives what an alias's /csrattrs asks for (RFC 7030 §4.5.2,
 * EST-S-47): the first thing missing is named in the message, so a client's
 * operator knows what to add.
 *
 * A bare OID names an attribute the CSR must carry, an extension it must
 * request, its signature algorithm or its key algorithm. An attribute asks
 * for a key (id-ecPublicKey with curves, rsaEncryption with a minimum
 * modulus size), extensions (extensionRequest) or the attribute itself.
 * Key and signature checks can be switched off for /serverkeygen, where the
 * CSR's key is ignored (EST-S-61) unless the key is made like it.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "estkit/codec.h"

#define MISSING "the CSR lacks %s %s, which this alias asks for in /csrattrs"

/* OpenSSL's short name ("subjectAltName"), else the dotted OID. */
static const char *
oid_name(const ASN1_OBJECT *oid, char *buf, size_t len)
{
	int nid = OBJ_obj2nid(oid);

	if (nid != NID_undef)
		snprintf(buf, len, "%s", OBJ_nid2sn(nid));
	else if (OBJ_obj2txt(buf, (int)len, oid, 1) <= 0)
		snprintf(buf, len, "?");
	return buf;
}

static bool
is_key_alg(int nid)
{
	return nid == NID_rsaEncryption || nid == NID_X9_62_id_ecPublicKey ||
	    nid == NID_ED25519 || nid == NID_ED448 || nid == NID_rsassaPss;
}

static bool
csr_requests_ext(X509_REQ *csr, const ASN1_OBJECT *oid)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
	bool found = exts != NULL && X509v3_get_ext_by_OBJ(exts, oid, -1) >= 0;

	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return found;
}

static enum est_err
check_signature(X509_REQ *csr, const ASN1_OBJECT *want, struct est_error *e)
{
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *got = NULL;
	char w[80], g[80];

	X509_REQ_get0_signature(csr, NULL, &alg);
	if (alg != NULL)
		X509_ALGOR_get0(&got, NULL, NULL, alg);
	if (got != NULL && OBJ_cmp(got, want) == 0)
		return EST_OK;
	return est_fail(e, EST_ERR_BADREQ, "the CSR is signed with %s; this alias asks for %s "
	    "in /csrattrs", got != NULL ? oid_name(got, g, sizeof(g)) : "?", oid_name(want, w, sizeof(w)));
}

/* The key must be of algorithm nid. */
static enum est_err
check_key_type(X509_REQ *csr, int nid, struct est_error *e)
{
	EVP_PKEY *key = X509_REQ_get0_pubkey(csr);
	char desc[64];

	if (key != NULL && EVP_PKEY_get_base_id(key) == nid)
		return EST_OK;
	ERR_clear_error();
	est_key_describe(key, desc, sizeof(desc));
	return est_fail(e, EST_ERR_BADREQ, "the CSR's key is %s; this alias asks for a %s key in "
	    "/csrattrs", desc, OBJ_nid2sn(nid));
}

static int
key_curve(EVP_PKEY *key)
{
	char group[64];
	int nid;

	if (!EVP_PKEY_get_group_name(key, group, sizeof(group), NULL))
		return NID_undef;
	if ((nid = OBJ_txt2nid(group)) == NID_undef)
		nid = EC_curve_nist2nid(group);
	return nid;
}

/* id-ecPublicKey with curve values: an EC key on one of them. */
static enum est_err
check_ec(X509_REQ *csr, X509_ATTRIBUTE *attr, struct est_error *e)
{
	int curve, n = X509_ATTRIBUTE_count(attr);
	char desc[64];
	enum est_err rc;

	if ((rc = check_key_type(csr, NID_X9_62_id_ecPublicKey, e)) != EST_OK || n == 0)
		return rc;
	curve = key_curve(X509_REQ_get0_pubkey(csr));
	for (int i = 0; i < n; i++) {
		ASN1_TYPE *v = X509_ATTRIBUTE_get0_type(attr, i);

		if (v->type == V_ASN1_OBJECT && OBJ_obj2nid(v->value.object) == curve)
			return EST_OK;
	}
	est_key_describe(X509_REQ_get0_pubkey(csr), desc, sizeof(desc));
	return est_fail(e, EST_ERR_BADREQ, "the CSR's key is %s, on a curve this alias does not "
	    "list in /csrattrs", desc);
}

/* rsaEncryption with INTEGER values: an RSA key at least that large. */
static enum est_err
check_rsa(X509_REQ *csr, X509_ATTRIBUTE *attr, struct est_error *e)
{
	int n = X509_ATTRIBUTE_count(attr), bits;
	long min = 0;
	enum est_err rc;

	if ((rc = check_key_type(csr, NID_rsaEncryption, e)) != EST_OK)
		return rc;
	bits = EVP_PKEY_get_bits(X509_REQ_get0_pubkey(csr));
	for (int i = 0; i < n; i++) {
		ASN1_TYPE *v = X509_ATTRIBUTE_get0_type(attr, i);
		long want = v->type == V_ASN1_INTEGER ? ASN1_INTEGER_get(v->value.integer) : 0;

		if (want > 0 && (min == 0 || want < min))
			min = want;
	}
	if (bits >= min)
		return EST_OK;
	return est_fail(e, EST_ERR_BADREQ, "the CSR's key is RSA %d; this alias asks for at least "
	    "RSA %ld in /csrattrs", bits, min);
}

/* extensionRequest: every extension it lists is requested by the CSR. */
static enum est_err
check_ext_req(X509_REQ *csr, X509_ATTRIBUTE *attr, struct est_error *e)
{
	ASN1_TYPE *v = X509_ATTRIBUTE_get0_type(attr, 0);
	STACK_OF(X509_EXTENSION) *want = NULL;
	const unsigned char *p;
	enum est_err rc = EST_OK;
	char name[80];

	if (v == NULL || v->type != V_ASN1_SEQUENCE)
		return EST_OK;
	p = v->value.sequence->data;
	if ((want = d2i_X509_EXTENSIONS(NULL, &p, v->value.sequence->length)) == NULL) {
		ERR_clear_error();
		return EST_OK; /* nothing we understand: RFC 7030 §4.5.2 lets us ignore it */
	}
	for (int i = 0; rc == EST_OK && i < sk_X509_EXTENSION_num(want); i++) {
		const ASN1_OBJECT *oid = X509_EXTENSION_get_object(sk_X509_EXTENSION_value(want, i));

		if (!csr_requests_ext(csr, oid))
			rc = est_fail(e, EST_ERR_BADREQ, MISSING, "the extension request",
			    oid_name(oid, name, sizeof(name)));
	}
	sk_X509_EXTENSION_pop_free(want, X509_EXTENSION_free);
	return rc;
}

static enum est_err
check_item(const struct est_csrattr *it, X509_REQ *csr, bool key_checks, struct est_error *e)
{
	int nid = OBJ_obj2nid(it->oid);
	char name[80];

	if (nid == NID_ext_req && it->attr != NULL)
		return check_ext_req(csr, it->attr, e);
	if (OBJ_find_sigid_algs(nid, NULL, NULL))
		return key_checks ? check_signature(csr, it->oid, e) : EST_OK;
	if (is_key_alg(nid)) {
		if (!key_checks)
			return EST_OK;
		if (nid == NID_X9_62_id_ecPublicKey && it->attr != NULL)
			return check_ec(csr, it->attr, e);
		if (nid == NID_rsaEncryption && it->attr != NULL)
			return check_rsa(csr, it->attr, e);
		return check_key_type(csr, nid, e);
	}
	if (it->attr == NULL && X509V3_EXT_get_nid(nid) != NULL)
		return csr_requests_ext(csr, it->oid) ? EST_OK :
		    est_fail(e, EST_ERR_BADREQ, MISSING, "the extension request",
		    oid_name(it->oid, name, sizeof(name)));
	if (X509_REQ_get_attr_by_OBJ(csr, it->oid, -1) >= 0)
		return EST_OK;
	return est_fail(e, EST_ERR_BADREQ, MISSING, "the attribute", oid_name(it->oid, name, sizeof(name)));
}

enum est_err
est_csrattrs_check(const struct est_csrattrs *a, X509_REQ *csr, bool key_checks,
    struct est_error *e)
{
	enum est_err rc = EST_OK;

	for (size_t i = 0; rc == EST_OK && a != NULL && i < a->n; i++)
		rc = check_item(&a->item[i], csr, key_checks, e);
	return rc;
}
