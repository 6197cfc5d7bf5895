/*
 * Revocation information of a CA: the URLs its certificates point relying
 * parties to (cRLDistributionPoints, authorityInfoAccess), the delegated
 * OCSP responder that may sign for it, and issuing that responder's
 * certificate.
 *
 * Set once after est_ca_load and before the CA is shared, so a loaded CA
 * stays immutable while threads use it.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca_int.h"
#include "estkit/ca.h"

#define SKEW_SECONDS (5 * 60)

static GENERAL_NAME *
uri_name(const char *url)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *uri = ASN1_IA5STRING_new();

	if (gn == NULL || uri == NULL || !ASN1_STRING_set(uri, url, -1)) {
		GENERAL_NAME_free(gn);
		ASN1_IA5STRING_free(uri);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, GEN_URI, uri);
	return gn;
}

static enum est_err
add_cdp(X509 *cert, const char *url, struct est_error *e)
{
	CRL_DIST_POINTS *cdp = sk_DIST_POINT_new_null();
	DIST_POINT *dp = DIST_POINT_new();
	GENERAL_NAME *gn = uri_name(url);
	enum est_err rc = EST_OK;

	if (cdp == NULL || dp == NULL || gn == NULL || (dp->distpoint = DIST_POINT_NAME_new()) == NULL ||
	    (dp->distpoint->name.fullname = GENERAL_NAMES_new()) == NULL ||
	    !sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn)) {
		GENERAL_NAME_free(gn);
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
		goto out;
	}
	dp->distpoint->type = 0;   /* fullName */
	if (!sk_DIST_POINT_push(cdp, dp)) {
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
		goto out;
	}
	dp = NULL;
	if (X509_add1_ext_i2d(cert, NID_crl_distribution_points, cdp, 0, X509V3_ADD_DEFAULT) != 1)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot add the cRLDistributionPoints extension");
out:
	DIST_POINT_free(dp);
	CRL_DIST_POINTS_free(cdp);
	return rc;
}

/* Push one access description (method nid, URL) onto aia; 0 on success. */
static int
push_access(AUTHORITY_INFO_ACCESS *aia, int nid, const char *url)
{
	ACCESS_DESCRIPTION *ad = ACCESS_DESCRIPTION_new();
	GENERAL_NAME *gn = uri_name(url);

	if (ad == NULL || gn == NULL) {
		ACCESS_DESCRIPTION_free(ad);
		GENERAL_NAME_free(gn);
		return -1;
	}
	ASN1_OBJECT_free(ad->method);
	ad->method = OBJ_nid2obj(nid);
	GENERAL_NAME_free(ad->location);
	ad->location = gn;
	if (!sk_ACCESS_DESCRIPTION_push(aia, ad)) {
		ACCESS_DESCRIPTION_free(ad);
		return -1;
	}
	return 0;
}

static enum est_err
add_aia(X509 *cert, const char *ocsp, const char *issuers, struct est_error *e)
{
	AUTHORITY_INFO_ACCESS *aia = sk_ACCESS_DESCRIPTION_new_null();
	enum est_err rc = EST_OK;

	if (aia == NULL || (ocsp != NULL && push_access(aia, NID_ad_OCSP, ocsp) != 0) ||
	    (issuers != NULL && push_access(aia, NID_ad_ca_issuers, issuers) != 0))
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
	else if (X509_add1_ext_i2d(cert, NID_info_access, aia, 0, X509V3_ADD_DEFAULT) != 1)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot add the authorityInfoAccess extension");
	AUTHORITY_INFO_ACCESS_free(aia);
	return rc;
}

enum est_err
ca_add_revocation_urls(X509 *cert, const struct est_ca *ca, struct est_error *e)
{
	enum est_err rc;

	if (ca->ca_crl_url != NULL && (rc = add_cdp(cert, ca->ca_crl_url, e)) != EST_OK)
		return rc;
	if (ca->ca_ocsp_url != NULL || ca->ca_issuers_url != NULL)
		return add_aia(cert, ca->ca_ocsp_url, ca->ca_issuers_url, e);
	return EST_OK;
}

/* Copy an http(s) URL into *field; EST_ERR_CONFIG for anything else. */
static enum est_err
set_url(const struct est_ca *ca, char **field, const char *url, const char *what,
    struct est_error *e)
{
	if (url == NULL)
		return EST_OK;
	if ((strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) ||
	    strpbrk(url, " \t\r\n\"<>") != NULL)
		return est_fail(e, EST_ERR_CONFIG, "CA %s: %s \"%.200s\" is not an http:// or "
		    "https:// URL", ca->ca_name, what, url);
	free(*field);
	if ((*field = strdup(url)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	return EST_OK;
}

/* Whether cert has extendedKeyUsage id-kp-OCSPSigning (RFC 6960 §4.2.2.2). */
static bool
is_ocsp_signer(X509 *cert)
{
	return (X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) != 0 &&
	    (X509_get_extended_key_usage(cert) & XKU_OCSP_SIGN) != 0;
}

static enum est_err
load_responder(struct est_ca *ca, const char *cert_path, const char *key_path,
    struct est_error *e)
{
	STACK_OF(X509) *certs = NULL;
	enum est_err rc;
	X509 *cert;

	if ((rc = est_certs_read(cert_path, &certs, e)) != EST_OK)
		return rc;
	cert = sk_X509_shift(certs);
	sk_X509_pop_free(certs, X509_free);
	if (X509_check_issued(ca->ca_cert, cert) != X509_V_OK ||
	    X509_verify(cert, X509_get0_pubkey(ca->ca_cert)) != 1)
		rc = est_fail(e, EST_ERR_CONFIG, "OCSP responder certificate %s was not issued "
		    "by CA %s", cert_path, ca->ca_name);
	else if (!is_ocsp_signer(cert))
		rc = est_fail(e, EST_ERR_CONFIG, "OCSP responder certificate %s lacks "
		    "extendedKeyUsage OCSPSigning (make one with `estadm ca ocsp-responder`)",
		    cert_path);
	/* Relying parties refuse every response signed under a responder out of its validity. */
	else if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0 ||
	    X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0)
		rc = est_fail(e, EST_ERR_CONFIG, "OCSP responder certificate %s is expired or not "
		    "yet valid (make a new one with `estadm ca ocsp-responder`)", cert_path);
	else if ((rc = est_key_read(key_path, true, &ca->ca_ocsp_key, e)) == EST_OK &&
	    X509_check_private_key(cert, ca->ca_ocsp_key) != 1)
		rc = est_fail_ssl(e, EST_ERR_CONFIG, "OCSP responder key %s does not match "
		    "certificate %s", key_path, cert_path);
	ERR_clear_error();
	if (rc != EST_OK) {
		X509_free(cert);
		return rc;
	}
	ca->ca_ocsp_cert = cert;
	return EST_OK;
}

enum est_err
est_ca_set_revocation(struct est_ca *ca, const struct est_ca_revocation *rv,
    struct est_error *e)
{
	enum est_err rc;

	/* RFC 5280 §4.2.1.3; OpenSSL: "key usage does not include CRL signing". */
	if (rv->crl_url != NULL && (X509_get_key_usage(ca->ca_cert) & KU_CRL_SIGN) == 0)
		return est_fail(e, EST_ERR_CONFIG, "CA %s: crl-url is set but the certificate's "
		    "keyUsage lacks cRLSign: relying parties would refuse its CRLs", ca->ca_name);
	if ((rc = set_url(ca, &ca->ca_crl_url, rv->crl_url, "crl-url", e)) != EST_OK ||
	    (rc = set_url(ca, &ca->ca_ocsp_url, rv->ocsp_url, "ocsp-url", e)) != EST_OK ||
	    (rc = set_url(ca, &ca->ca_issuers_url, rv->ca_issuers_url, "ca-issuers-url", e)) != EST_OK)
		return rc;
	if ((rv->ocsp_cert_path == NULL) != (rv->ocsp_key_path == NULL))
		return est_fail(e, EST_ERR_CONFIG, "CA %s: give both ocsp-certificate and "
		    "ocsp-key, or neither", ca->ca_name);
	if (rv->ocsp_cert_path == NULL)
		return EST_OK;
	return load_responder(ca, rv->ocsp_cert_path, rv->ocsp_key_path, e);
}

static enum est_err
add_responder_extensions(X509 *cert, const struct est_ca *ca, struct est_error *e)
{
	EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
	ASN1_NULL *nocheck = ASN1_NULL_new();
	enum est_err rc;

	if (eku == NULL || nocheck == NULL || !sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_OCSP_sign))) {
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = ca_add_basic_constraints(cert, false, e)) != EST_OK ||
	    (rc = ca_add_key_usage(cert, CA_KU_DIGITAL_SIGNATURE, e)) != EST_OK ||
	    (rc = ca_add_key_ids(cert, ca->ca_keyid, e)) != EST_OK)
		goto out;
	if (X509_add1_ext_i2d(cert, NID_ext_key_usage, eku, 0, X509V3_ADD_DEFAULT) != 1 ||
	    X509_add1_ext_i2d(cert, NID_id_pkix_OCSP_noCheck, nocheck, 0, X509V3_ADD_DEFAULT) != 1)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot add the OCSP responder extensions");
out:
	/* The EKU object is OpenSSL's static one: free the stack only. */
	sk_ASN1_OBJECT_free(eku);
	ASN1_NULL_free(nocheck);
	return rc;
}

enum est_err
est_ca_issue_ocsp_responder(const struct est_ca *ca, EVP_PKEY *pubkey, const char *cn,
    unsigned days, X509 **out, struct est_error *e)
{
	time_t now = time(NULL);
	X509_NAME *name = NULL;
	X509 *cert = NULL;
	enum est_err rc;

	if (ca->ca_key == NULL)
		return est_fail(e, EST_ERR_CONFIG, "CA %s has no private key and cannot issue",
		    ca->ca_name);
	if (days < 1 || days > 3650)
		return est_fail(e, EST_ERR_CONFIG, "responder validity must be 1-3650 days, not %u",
		    days);
	if ((name = X509_NAME_new()) == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
	    -1, -1, 0)) {
		X509_NAME_free(name);
		return est_fail_ssl(e, EST_ERR_CONFIG, "responder name \"%.64s\" is not valid", cn);
	}
	if ((rc = ca_cert_new(name, X509_get_subject_name(ca->ca_cert), pubkey, now - SKEW_SECONDS,
	    now + (time_t)days * 86400, &cert, e)) != EST_OK)
		goto out;
	if (ASN1_TIME_compare(X509_get0_notAfter(cert), X509_get0_notAfter(ca->ca_cert)) > 0 &&
	    !X509_set1_notAfter(cert, X509_get0_notAfter(ca->ca_cert))) {
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot set notAfter");
		goto out;
	}
	if ((rc = add_responder_extensions(cert, ca, e)) != EST_OK ||
	    (rc = ca_cert_sign(cert, ca->ca_key, e)) != EST_OK)
		goto out;
	*out = cert;
	cert = NULL;
out:
	X509_free(cert);
	X509_NAME_free(name);
	return rc;
}
