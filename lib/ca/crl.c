/*
 * CRLs (RFC 5280 §5): a version 2 CRL signed with the CA's key, carrying
 * the CRL number and the authority key identifier, each entry with its
 * revocation date and, unless unspecified, its reason code (§5.3.1: the
 * reason "unspecified" SHOULD be left out; removeFromCRL is for delta CRLs
 * only, and is left out too).
 *
 * Which certificates are revoked, and the CRL number, come from the caller
 * (the store); this file only builds and signs.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "ca/ca_int.h"
#include "estkit/ca.h"

/* Serial in est_serial_text form (upper-case hex) to an ASN1_INTEGER. */
static ASN1_INTEGER *
serial_from_text(const char *text)
{
	ASN1_INTEGER *ai = NULL;
	BIGNUM *bn = NULL;

	if (text == NULL || text[0] == '\0' || strlen(text) > 80)
		return NULL;
	if (BN_hex2bn(&bn, text) == (int)strlen(text))
		ai = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	return ai;
}

static enum est_err
add_entry(X509_CRL *crl, const struct est_crl_entry *en, struct est_error *e)
{
	X509_REVOKED *rv = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_TIME *when = NULL;
	ASN1_ENUMERATED *reason = NULL;
	enum est_err rc = EST_OK;

	if ((serial = serial_from_text(en->serial)) == NULL)
		return est_fail(e, EST_ERR_STORE, "revoked certificate with an unreadable serial "
		    "\"%.40s\" on record", en->serial != NULL ? en->serial : "");
	if ((rv = X509_REVOKED_new()) == NULL || (when = ASN1_TIME_new()) == NULL ||
	    ASN1_TIME_set(when, (time_t)en->revoked_at) == NULL ||
	    !X509_REVOKED_set_serialNumber(rv, serial) ||
	    !X509_REVOKED_set_revocationDate(rv, when)) {
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot build a CRL entry");
		goto out;
	}
	/*
	 * removeFromCRL (from an old store or an import) would make relying
	 * parties take the certificate as not revoked: it stays revoked,
	 * reason unspecified.
	 */
	if (en->reason > 0 && en->reason != CRL_REASON_REMOVE_FROM_CRL) {
		if ((reason = ASN1_ENUMERATED_new()) == NULL ||
		    !ASN1_ENUMERATED_set(reason, en->reason) ||
		    X509_REVOKED_add1_ext_i2d(rv, NID_crl_reason, reason, 0, 0) != 1) {
			rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot add a CRL reason code");
			goto out;
		}
	}
	if (!X509_CRL_add0_revoked(crl, rv))
		rc = est_fail_ssl(e, EST_ERR_NOMEM, "cannot add a CRL entry");
	else
		rv = NULL;
out:
	X509_REVOKED_free(rv);
	ASN1_INTEGER_free(serial);
	ASN1_TIME_free(when);
	ASN1_ENUMERATED_free(reason);
	return rc;
}

/* crlNumber and authorityKeyIdentifier (§5.2.1, §5.2.3: both MUST be present). */
static enum est_err
add_crl_extensions(X509_CRL *crl, const struct est_ca *ca, int64_t number,
    struct est_error *e)
{
	AUTHORITY_KEYID *akid = NULL;
	ASN1_INTEGER *num = NULL;
	enum est_err rc = EST_OK;

	if ((akid = AUTHORITY_KEYID_new()) == NULL ||
	    (akid->keyid = ASN1_OCTET_STRING_dup(ca->ca_keyid)) == NULL ||
	    (num = ASN1_INTEGER_new()) == NULL || !ASN1_INTEGER_set_int64(num, number))
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
	else if (X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1 ||
	    X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0, 0) != 1)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot add the CRL extensions");
	AUTHORITY_KEYID_free(akid);
	ASN1_INTEGER_free(num);
	return rc;
}

static enum est_err
set_times(X509_CRL *crl, time_t this_update, time_t next_update, struct est_error *e)
{
	ASN1_TIME *t1 = ASN1_TIME_set(NULL, this_update), *t2 = ASN1_TIME_set(NULL, next_update);
	enum est_err rc = EST_OK;

	if (t1 == NULL || t2 == NULL || !X509_CRL_set1_lastUpdate(crl, t1) ||
	    !X509_CRL_set1_nextUpdate(crl, t2))
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot set the CRL's update times");
	ASN1_TIME_free(t1);
	ASN1_TIME_free(t2);
	return rc;
}

enum est_err
est_ca_make_crl(const struct est_ca *ca, int64_t number, time_t this_update,
    time_t next_update, const struct est_crl_entry *entries, size_t n,
    unsigned char **der, size_t *derlen, struct est_error *e)
{
	X509_CRL *crl;
	unsigned char *buf = NULL;
	enum est_err rc = EST_OK;
	int len = 0;

	if (ca->ca_key == NULL)
		return est_fail(e, EST_ERR_CONFIG, "CA %s has no private key and cannot sign "
		    "a CRL", ca->ca_name);
	if (number < 1 || next_update <= this_update)
		return est_fail(e, EST_ERR_INTERNAL, "CRL number or update times out of range");
	if ((crl = X509_CRL_new()) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	if (!X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->ca_cert)))
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot start a CRL");
	if (rc == EST_OK)
		rc = set_times(crl, this_update, next_update, e);
	for (size_t i = 0; rc == EST_OK && i < n; i++)
		rc = add_entry(crl, &entries[i], e);
	if (rc == EST_OK)
		rc = add_crl_extensions(crl, ca, number, e);
	if (rc == EST_OK) {
		/* X509_CRL_sort also re-encodes the entries in serial order. */
		if (!X509_CRL_sort(crl) || X509_CRL_sign(crl, ca->ca_key, ca_sign_md(ca->ca_key)) <= 0 ||
		    (len = i2d_X509_CRL(crl, &buf)) <= 0)
			rc = est_fail_ssl(e, EST_ERR_CRYPTO, "CA %s cannot sign its CRL", ca->ca_name);
	}
	X509_CRL_free(crl);
	if (rc != EST_OK)
		return rc;
	if ((*der = malloc((size_t)len)) == NULL) {
		OPENSSL_free(buf);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	memcpy(*der, buf, (size_t)len);
	OPENSSL_free(buf);
	*derlen = (size_t)len;
	return EST_OK;
}
