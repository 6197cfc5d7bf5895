/*
 * Issuing certificates: the certificate skeleton shared with root creation,
 * signing, and est_ca_issue, which turns a request and a profile into a
 * signed end-entity certificate.
 *
 * What gets certified comes from the request (subject, SAN, key) and what
 * the certificate may do comes from the profile and the key type only: the
 * CSR's other requested extensions are ignored.
 */
#include <time.h>

#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca/ca_int.h"
#include "estkit/ca.h"
#include "estkit/codec.h"

#define SKEW_SECONDS (5 * 60)   /* notBefore backdating for clients' clocks */
#define MAX_VALIDITY_DAYS 3650

/*
 * A random 16-octet serial with the top bit clear (positive) and a non-zero
 * first octet: at least 121 random bits (CA/B Forum asks for 64) and always
 * 16 octets in DER, well inside RFC 5280's 20-octet limit.
 */
static enum est_err
set_random_serial(X509 *cert, struct est_error *e)
{
	unsigned char buf[16];
	enum est_err rc = EST_OK;
	BIGNUM *bn;

	do {
		if (RAND_bytes(buf, sizeof(buf)) != 1)
			return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot draw a random serial number");
		buf[0] &= 0x7f;
	} while (buf[0] == 0);
	if ((bn = BN_bin2bn(buf, sizeof(buf), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot set the serial number");
	BN_free(bn);
	return rc;
}

enum est_err
ca_cert_new(const X509_NAME *subject, const X509_NAME *issuer, EVP_PKEY *pubkey,
    time_t not_before, time_t not_after, X509 **out, struct est_error *e)
{
	enum est_err rc;
	X509 *cert;

	if ((cert = X509_new()) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	if (!X509_set_version(cert, X509_VERSION_3) ||
	    !X509_set_subject_name(cert, subject) ||
	    !X509_set_issuer_name(cert, issuer) ||
	    !X509_set_pubkey(cert, pubkey) ||
	    ASN1_TIME_set(X509_getm_notBefore(cert), not_before) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(cert), not_after) == NULL)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot build the certificate");
	else
		rc = set_random_serial(cert, e);
	if (rc != EST_OK) {
		X509_free(cert);
		return rc;
	}
	*out = cert;
	return EST_OK;
}

/* SHA-384 for EC keys of 384 bits and more, so the hash is as strong as the curve. */
const EVP_MD *
ca_sign_md(EVP_PKEY *key)
{
	if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448"))
		return NULL;
	if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) >= 384)
		return EVP_sha384();
	return EVP_sha256();
}

enum est_err
ca_cert_sign(X509 *cert, EVP_PKEY *key, struct est_error *e)
{
	if (X509_sign(cert, key, ca_sign_md(key)) <= 0)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot sign the certificate");
	return EST_OK;
}

/* Whether this CA, profile and request can make a certificate at all. */
static enum est_err
check_request(const struct est_ca *ca, const struct est_profile *profile,
    const struct est_issue_req *req, time_t now, struct est_error *e)
{
	if (ca->ca_key == NULL)
		return est_fail(e, EST_ERR_CONFIG, "CA %s has no private key and cannot issue",
		    ca->ca_name);
	if (profile->validity_days < 1 || profile->validity_days > MAX_VALIDITY_DAYS)
		return est_fail(e, EST_ERR_CONFIG, "profile %s: validity must be 1-%d days, not %u",
		    profile->name ? profile->name : "(unnamed)", MAX_VALIDITY_DAYS,
		    profile->validity_days);
	if (req->csr == NULL && (req->subject == NULL || req->pubkey == NULL))
		return est_fail(e, EST_ERR_INTERNAL, "issue request has neither a CSR nor "
		    "a subject and key");
	if (ASN1_TIME_cmp_time_t(X509_get0_notAfter(ca->ca_cert), now) <= 0)
		return est_fail(e, EST_ERR_CONFIG, "the certificate of CA %s has expired; "
		    "it cannot issue", ca->ca_name);
	return EST_OK;
}

/* Everything after the skeleton: validity cap, extensions. */
static enum est_err
add_profile(X509 *cert, const struct est_ca *ca, const struct est_profile *profile,
    EVP_PKEY *pubkey, const GENERAL_NAMES *san, bool empty_subject, struct est_error *e)
{
	unsigned ku;
	enum est_err rc;

	if (ASN1_TIME_compare(X509_get0_notAfter(cert), X509_get0_notAfter(ca->ca_cert)) > 0 &&
	    !X509_set1_notAfter(cert, X509_get0_notAfter(ca->ca_cert)))
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot set notAfter");
	if ((rc = ca_key_usage_for(pubkey, &ku, e)) != EST_OK ||
	    (rc = ca_add_basic_constraints(cert, false, e)) != EST_OK ||
	    (rc = ca_add_key_usage(cert, ku, e)) != EST_OK ||
	    (rc = ca_add_eku(cert, profile->eku, e)) != EST_OK ||
	    (rc = ca_add_key_ids(cert, ca->ca_keyid, e)) != EST_OK ||
	    (rc = ca_add_revocation_urls(cert, ca, e)) != EST_OK)
		return rc;
	if (san == NULL)
		return EST_OK;
	/* RFC 5280 §4.2.1.6: with an empty subject the SAN must be critical. */
	if (X509_add1_ext_i2d(cert, NID_subject_alt_name, (GENERAL_NAMES *)san,
	    empty_subject ? 1 : 0, X509V3_ADD_DEFAULT) != 1)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot add the subjectAltName extension");
	return EST_OK;
}

enum est_err
est_ca_issue(const struct est_ca *ca, const struct est_profile *profile,
    const struct est_issue_req *req, X509 **out, struct est_error *e)
{
	GENERAL_NAMES *csr_san = NULL;
	const GENERAL_NAMES *san = req->san;
	const X509_NAME *subject;
	time_t now = time(NULL);
	EVP_PKEY *pubkey;
	X509 *cert = NULL;
	enum est_err rc;
	bool empty;

	if ((rc = check_request(ca, profile, req, now, e)) != EST_OK)
		return rc;
	subject = req->subject ? req->subject : X509_REQ_get_subject_name(req->csr);
	if ((pubkey = req->pubkey ? req->pubkey : X509_REQ_get0_pubkey(req->csr)) == NULL)
		return est_fail_ssl(e, EST_ERR_BADREQ, "the CSR's public key cannot be read");
	if (san == NULL && profile->copy_san && req->csr != NULL) {
		if ((rc = est_csr_get_san(req->csr, &csr_san, e)) != EST_OK)
			return rc;
		san = csr_san;
	}
	if (san != NULL && sk_GENERAL_NAME_num(san) == 0)
		san = NULL;
	empty = X509_NAME_entry_count(subject) == 0;
	if (empty && san == NULL) {
		rc = est_fail(e, EST_ERR_BADREQ, "the request has an empty subject and no "
		    "subjectAltName: give at least one name");
		goto out;
	}
	if ((rc = ca_cert_new(subject, X509_get_subject_name(ca->ca_cert), pubkey,
	    now - SKEW_SECONDS, now + (time_t)profile->validity_days * 86400, &cert, e)) != EST_OK ||
	    (rc = add_profile(cert, ca, profile, pubkey, san, empty, e)) != EST_OK ||
	    (rc = ca_cert_sign(cert, ca->ca_key, e)) != EST_OK)
		goto out;
	*out = cert;
	cert = NULL;
out:
	X509_free(cert);
	GENERAL_NAMES_free(csr_san);
	return rc;
}
