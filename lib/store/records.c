/*
 * The store's records, the same for every backend (include/estkit/store.h):
 * certificate records built from X.509 objects, the free function of every
 * record, and the names of statuses, request states and CRL reasons.
 *
 * Invariant: a record built here has every string non-NULL.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "estkit/codec.h"
#include "estkit/store.h"
#include "util/sha256hex.h"

/* RFC 5280 §5.3.1 names, as written in the ASN.1 module. */
static const struct {
	int code;
	const char *name;
} reasons[] = {
	{ EST_REASON_UNSPECIFIED, "unspecified" },
	{ EST_REASON_KEY_COMPROMISE, "keyCompromise" },
	{ EST_REASON_CA_COMPROMISE, "cACompromise" },
	{ EST_REASON_AFFILIATION_CHANGED, "affiliationChanged" },
	{ EST_REASON_SUPERSEDED, "superseded" },
	{ EST_REASON_CESSATION_OF_OPERATION, "cessationOfOperation" },
	{ EST_REASON_CERTIFICATE_HOLD, "certificateHold" },
	{ EST_REASON_REMOVE_FROM_CRL, "removeFromCRL" },
	{ EST_REASON_PRIVILEGE_WITHDRAWN, "privilegeWithdrawn" },
	{ EST_REASON_AA_COMPROMISE, "aACompromise" },
};

#define NREASONS (sizeof(reasons) / sizeof(reasons[0]))

/* Returns NULL for a number that is not an RFC 5280 reason (7, 11, -1...). */
const char *
est_revoke_reason_name(int reason)
{
	size_t i;

	for (i = 0; i < NREASONS; i++)
		if (reasons[i].code == reason)
			return reasons[i].name;
	return NULL;
}

/* Accepts the name in any case, or the reason's decimal number. */
int
est_revoke_reason_parse(const char *name, int *out)
{
	char *end;
	long n;
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < NREASONS; i++) {
		if (strcasecmp(name, reasons[i].name) == 0) {
			*out = reasons[i].code;
			return 0;
		}
	}
	if (!isdigit((unsigned char)name[0]))
		return -1;
	n = strtol(name, &end, 10);
	if (*end != '\0' || n > EST_REASON_AA_COMPROMISE ||
	    est_revoke_reason_name((int)n) == NULL)
		return -1;
	*out = (int)n;
	return 0;
}

/* Never NULL: "unknown" for a value outside the enum. */
const char *
est_cert_status_name(enum est_cert_status s)
{
	switch (s) {
	case EST_CERT_VALID:
		return "valid";
	case EST_CERT_REVOKED:
		return "revoked";
	case EST_CERT_STATUS__MAX:
		break;
	}
	return "unknown";
}

void
est_cert_rec_free(struct est_cert_rec *rec)
{
	if (rec == NULL)
		return;
	free(rec->issuer);
	free(rec->serial);
	free(rec->subject);
	free(rec->san);
	free(rec->principal);
	free(rec->alias);
	free(rec->der);
	free(rec);
}

static enum est_err
fill_text(struct est_cert_rec *rec, X509 *cert, const char *principal,
    const char *alias, struct est_error *e)
{
	GENERAL_NAMES *san;

	san = est_cert_get_san(cert);
	rec->issuer = est_name_text(X509_get_issuer_name(cert));
	rec->subject = est_name_text(X509_get_subject_name(cert));
	rec->serial = est_serial_text(X509_get0_serialNumber(cert));
	rec->san = est_san_text(san);
	rec->principal = strdup(principal != NULL ? principal : "");
	rec->alias = strdup(alias != NULL ? alias : "");
	GENERAL_NAMES_free(san);
	if (rec->issuer == NULL || rec->subject == NULL || rec->serial == NULL ||
	    rec->san == NULL || rec->principal == NULL || rec->alias == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory describing a certificate");
	return EST_OK;
}

/* ASN.1 time to Unix seconds; 0 or -1 when t is missing or malformed. */
static int
asn1_time_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static enum est_err
fill_validity(struct est_cert_rec *rec, X509 *cert, struct est_error *e)
{
	if (asn1_time_unix(X509_get0_notBefore(cert), &rec->not_before) != 0 ||
	    asn1_time_unix(X509_get0_notAfter(cert), &rec->not_after) != 0)
		return est_fail_ssl(e, EST_ERR_CRYPTO,
		    "certificate %s has a malformed validity period", rec->serial);
	return EST_OK;
}

/*
 * SHA-256 of the SubjectPublicKeyInfo as the certificate carries it, encoded
 * from its fields: no key object is needed (one just issued has none, see
 * est_ca_issue) and OpenSSL 3's encoder is not run.
 */
static enum est_err
fill_spki(struct est_cert_rec *rec, X509 *cert, struct est_error *e)
{
	unsigned char *der = NULL;
	int len;
	bool ok;

	if ((len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der)) <= 0)
		return est_fail_ssl(e, EST_ERR_CRYPTO,
		    "the public key of certificate %s cannot be encoded", rec->serial);
	ok = est_sha256_hex(der, (size_t)len, rec->spki_sha256);
	OPENSSL_free(der);
	if (!ok)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot hash the public key");
	return EST_OK;
}

static enum est_err
fill_der(struct est_cert_rec *rec, X509 *cert, struct est_error *e)
{
	unsigned char *p;
	int len;

	len = i2d_X509(cert, NULL);
	if (len <= 0)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot DER-encode certificate %s",
		    rec->serial);
	rec->der = malloc((size_t)len);
	if (rec->der == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory encoding a certificate");
	p = rec->der;
	if (i2d_X509(cert, &p) != len)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot DER-encode certificate %s",
		    rec->serial);
	rec->der_len = (size_t)len;
	return EST_OK;
}

enum est_err
est_cert_rec_from_x509(X509 *cert, const char *principal, const char *alias,
    struct est_cert_rec **out, struct est_error *e)
{
	struct est_cert_rec *rec;
	enum est_err rc;

	if (cert == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "no certificate to record");
	rec = calloc(1, sizeof(*rec));
	if (rec == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory recording a certificate");
	rec->status = EST_CERT_VALID;
	rec->revocation_reason = -1;
	rec->issued_at = (int64_t)time(NULL);
	rc = fill_text(rec, cert, principal, alias, e);
	if (rc == EST_OK)
		rc = fill_validity(rec, cert, e);
	if (rc == EST_OK)
		rc = fill_spki(rec, cert, e);
	if (rc == EST_OK)
		rc = fill_der(rec, cert, e);
	if (rc != EST_OK) {
		est_cert_rec_free(rec);
		return rc;
	}
	*out = rec;
	return EST_OK;
}

const char *
est_req_state_name(enum est_req_state s)
{
	switch (s) {
	case EST_REQ_PENDING:
		return "pending";
	case EST_REQ_APPROVED:
		return "approved";
	case EST_REQ_REJECTED:
		return "rejected";
	case EST_REQ_ISSUED:
		return "issued";
	case EST_REQ_STATE__MAX:
		break;
	}
	return "unknown";
}

void
est_req_rec_free(struct est_req_rec *rec)
{
	if (rec == NULL)
		return;
	free(rec->alias);
	free(rec->operation);
	free(rec->subject);
	free(rec->san);
	free(rec->principal);
	free(rec);
}

void
est_crl_rec_free(struct est_crl_rec *rec)
{
	if (rec == NULL)
		return;
	free(rec->der);
	free(rec);
}

void
est_ee_free(struct est_ee *ee)
{
	if (ee == NULL)
		return;
	free(ee->username);
	free(ee->subject);
	free(ee->subject_der);
	free(ee->san);
	free(ee->san_der);
	free(ee->alias);
	free(ee->profile);
	free(ee->code_hash);
	free(ee);
}

void
est_ext_ca_free(struct est_ext_ca *ca)
{
	if (ca == NULL)
		return;
	free(ca->name);
	free(ca->subject);
	free(ca->der);
	free(ca);
}
