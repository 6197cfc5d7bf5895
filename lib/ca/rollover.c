/*
 * CA key rollover (RFC 7030 §4.1.3, after RFC 4210 §4.4): a successor root
 * with a new key, and the two certificates that link old and new --
 * OldWithNew (the old key and name, signed by the new key) and NewWithOld
 * (the new key and name, signed by the old key). A client holding the old
 * root verifies the new one through NewWithOld; one holding the new root
 * still verifies certificates under the old key through OldWithNew.
 *
 * Old and new roots have different names (the store keeps certificates and
 * CRLs by issuer name, and each key signs its own CRL); the link
 * certificates carry the key identifiers of the CA certificates they stand
 * for, so chains are built by key, not only by name.
 */
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca_int.h"
#include "estkit/ca.h"

#define LINK_BACKDATE_SECONDS 3600
#define MAX_ROOT_DAYS 36500

/* old's subject with its CN (or a new last CN) set to cn. */
static X509_NAME *
successor_name(const struct est_ca *old, const char *cn)
{
	X509_NAME *n = X509_NAME_dup(X509_get_subject_name(old->ca_cert));
	int at;

	if (n == NULL)
		return NULL;
	while ((at = X509_NAME_get_index_by_NID(n, NID_commonName, -1)) >= 0)
		X509_NAME_ENTRY_free(X509_NAME_delete_entry(n, at));
	if (!X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0)) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

/* SKI and AKI given, not computed: they must match the CA certificates. */
static enum est_err
add_ids(X509 *cert, const ASN1_OCTET_STRING *ski, const ASN1_OCTET_STRING *aki,
    struct est_error *e)
{
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	enum est_err rc = EST_OK;

	if (akid == NULL || (akid->keyid = ASN1_OCTET_STRING_dup(aki)) == NULL)
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
	else if (X509_add1_ext_i2d(cert, NID_subject_key_identifier, (void *)ski, 0,
	    X509V3_ADD_DEFAULT) != 1 ||
	    X509_add1_ext_i2d(cert, NID_authority_key_identifier, akid, 0, X509V3_ADD_DEFAULT) != 1)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot add the key identifiers");
	AUTHORITY_KEYID_free(akid);
	return rc;
}

/* A CA certificate for subject's key and name, issued by issuer, until not_after. */
static enum est_err
make_ca_cert(const X509_NAME *subject, EVP_PKEY *pub, const ASN1_OCTET_STRING *ski,
    const X509_NAME *issuer, EVP_PKEY *issuer_key, const ASN1_OCTET_STRING *aki,
    time_t not_after, X509 **out, struct est_error *e)
{
	X509 *cert = NULL;
	enum est_err rc;

	if ((rc = ca_cert_new(subject, issuer, pub, time(NULL) - LINK_BACKDATE_SECONDS, not_after,
	    &cert, e)) == EST_OK &&
	    (rc = ca_add_basic_constraints(cert, true, e)) == EST_OK &&
	    (rc = ca_add_key_usage(cert, CA_KU_KEY_CERT_SIGN | CA_KU_CRL_SIGN, e)) == EST_OK &&
	    (rc = add_ids(cert, ski, aki, e)) == EST_OK &&
	    (rc = ca_cert_sign(cert, issuer_key, e)) == EST_OK) {
		*out = cert;
		return EST_OK;
	}
	X509_free(cert);
	return rc;
}

time_t
ca_unix_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		return 0;
	}
	return timegm(&tm);
}

enum est_err
est_ca_make_successor(const struct est_ca *old, EVP_PKEY *key, const char *cn, unsigned days,
    X509 **out, struct est_error *e)
{
	X509_NAME *name;
	X509 *cert = NULL;
	time_t end = time(NULL) + (time_t)days * 86400;
	enum est_err rc;

	if (days < 1 || days > MAX_ROOT_DAYS)
		return est_fail(e, EST_ERR_CONFIG, "root CA validity must be 1-%d days, not %u",
		    MAX_ROOT_DAYS, days);
	if (end <= ca_unix_time(X509_get0_notAfter(old->ca_cert)))
		return est_fail(e, EST_ERR_CONFIG, "the new CA certificate must outlive the old one "
		    "(clients take the root with the latest notAfter as the current one): give more "
		    "days");
	if ((name = successor_name(old, cn)) == NULL)
		return est_fail_ssl(e, EST_ERR_CONFIG, "\"%s\" cannot be a common name (1-64 "
		    "characters)", cn);
	if (X509_NAME_cmp(name, X509_get_subject_name(old->ca_cert)) == 0) {
		X509_NAME_free(name);
		return est_fail(e, EST_ERR_CONFIG, "the new CA needs another name than the old one "
		    "(\"%s\"): each key keeps its own CRL and certificates", cn);
	}
	if ((rc = ca_cert_new(name, name, key, time(NULL) - LINK_BACKDATE_SECONDS, end, &cert,
	    e)) == EST_OK &&
	    (rc = ca_add_basic_constraints(cert, true, e)) == EST_OK &&
	    (rc = ca_add_key_usage(cert, CA_KU_KEY_CERT_SIGN | CA_KU_CRL_SIGN, e)) == EST_OK &&
	    (rc = ca_add_key_ids(cert, NULL, e)) == EST_OK &&
	    (rc = ca_cert_sign(cert, key, e)) == EST_OK) {
		*out = cert;
		cert = NULL;
	}
	X509_free(cert);
	X509_NAME_free(name);
	return rc;
}

enum est_err
est_ca_make_rollover(const struct est_ca *old, const struct est_ca *next, X509 **old_with_new,
    X509 **new_with_old, struct est_error *e)
{
	time_t end = ca_unix_time(X509_get0_notAfter(old->ca_cert));
	enum est_err rc;

	if (old->ca_key == NULL || next->ca_key == NULL)
		return est_fail(e, EST_ERR_CONFIG, "both CAs need their keys for the rollover "
		    "certificates");
	if (end <= time(NULL))
		return est_fail(e, EST_ERR_CONFIG, "CA %s has expired: there is nothing to roll "
		    "over from", old->ca_name);
	if ((rc = make_ca_cert(X509_get_subject_name(old->ca_cert), X509_get0_pubkey(old->ca_cert),
	    old->ca_keyid, X509_get_subject_name(next->ca_cert), next->ca_key, next->ca_keyid, end,
	    old_with_new, e)) != EST_OK)
		return rc;
	rc = make_ca_cert(X509_get_subject_name(next->ca_cert), X509_get0_pubkey(next->ca_cert),
	    next->ca_keyid, X509_get_subject_name(old->ca_cert), old->ca_key, old->ca_keyid, end,
	    new_with_old, e);
	if (rc != EST_OK) {
		X509_free(*old_with_new);
		*old_with_new = NULL;
	}
	return rc;
}

/* Whether x stands for subject's key and name, signed by issuer's key. */
static bool
links(X509 *x, const struct est_ca *subject, const struct est_ca *issuer)
{
	bool ok = X509_NAME_cmp(X509_get_subject_name(x),
	    X509_get_subject_name(subject->ca_cert)) == 0 &&
	    X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(issuer->ca_cert)) == 0 &&
	    EVP_PKEY_eq(X509_get0_pubkey(x), X509_get0_pubkey(subject->ca_cert)) == 1 &&
	    X509_verify(x, X509_get0_pubkey(issuer->ca_cert)) == 1 && X509_check_ca(x) == 1;

	ERR_clear_error();
	return ok;
}

enum est_err
est_ca_rollover_check(const struct est_ca *old, const struct est_ca *next,
    STACK_OF(X509) *certs, X509 **old_with_new, X509 **new_with_old, struct est_error *e)
{
	X509 *own = NULL, *nwo = NULL;

	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);

		if (own == NULL && links(x, old, next))
			own = x;
		else if (nwo == NULL && links(x, next, old))
			nwo = x;
	}
	if (own == NULL || nwo == NULL)
		return est_fail(e, EST_ERR_CONFIG, "the rollover certificates lack %s from CA %s to "
		    "CA %s (its key and name, signed by the other key)", own == NULL ? "OldWithNew" :
		    "NewWithOld", own == NULL ? old->ca_name : next->ca_name,
		    own == NULL ? next->ca_name : old->ca_name);
	if (!X509_up_ref(own) || !X509_up_ref(nwo))
		return est_fail(e, EST_ERR_INTERNAL, "X509_up_ref");
	*old_with_new = own;
	*new_with_old = nwo;
	return EST_OK;
}
