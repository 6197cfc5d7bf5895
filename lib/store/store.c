/*
 * The store's generic part (include/estkit/store.h): choosing a backend by
 * URI, the thin wrappers over a backend's ops table, certificate records
 * built from X.509 objects, and the names of statuses and CRL reasons.
 *
 * Invariants: argument checks shared by all backends are made here, so a
 * backend sees a non-NULL serial, a complete record, a known CRL reason and
 * a filter whose `now` is set. A record built here has every string non-NULL.
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
#include "store_int.h"

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

static enum est_err
fill_spki(struct est_cert_rec *rec, X509 *cert, struct est_error *e)
{
	EVP_PKEY *key;

	key = X509_get0_pubkey(cert);
	if (key == NULL)
		return est_fail_ssl(e, EST_ERR_CRYPTO,
		    "the public key of certificate %s cannot be decoded", rec->serial);
	return est_spki_sha256(key, rec->spki_sha256, e);
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

/* Length of the URI scheme ("sqlite" in "sqlite:x"); 0 for a bare path. */
static size_t
scheme_len(const char *uri)
{
	size_t i;

	if (!isalpha((unsigned char)uri[0]))
		return 0;
	for (i = 1; isalnum((unsigned char)uri[i]) || uri[i] == '+' ||
	    uri[i] == '-' || uri[i] == '.'; i++)
		;
	return uri[i] == ':' ? i : 0;
}

/* Schemes are case-insensitive (RFC 3986 §3.1). */
static bool
scheme_is(const char *uri, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(uri, name, len) == 0;
}

/* The backend's open or create for uri; EST_ERR_CONFIG for what is no store URI. */
static enum est_err
open_uri(const char *uri, bool create, struct est_store **out, struct est_error *e)
{
	enum est_err (*sqlite)(const char *, struct est_store **, struct est_error *) =
	    create ? est_store_sqlite_create : est_store_sqlite_open;
	size_t n;

	if (uri == NULL || uri[0] == '\0')
		return est_fail(e, EST_ERR_CONFIG, "no store given (use sqlite:PATH)");
	n = scheme_len(uri);
	if (n == 0)
		return sqlite(uri, out, e);
	if (scheme_is(uri, n, "sqlite")) {
		if (uri[n + 1] == '\0')
			return est_fail(e, EST_ERR_CONFIG,
			    "store \"%s\" names no database file", uri);
		return sqlite(uri + n + 1, out, e);
	}
	if (scheme_is(uri, n, "postgres") || scheme_is(uri, n, "postgresql"))
		return est_fail(e, EST_ERR_CONFIG, "PostgreSQL store not built in yet");
	return est_fail(e, EST_ERR_CONFIG,
	    "unknown store scheme \"%.*s\" (use sqlite:PATH)", (int)n, uri);
}

const char *
est_store_uri_file(const char *uri)
{
	size_t n;

	if (uri == NULL || uri[0] == '\0')
		return NULL;
	n = scheme_len(uri);
	if (n == 0)
		return uri;
	return scheme_is(uri, n, "sqlite") && uri[n + 1] != '\0' ? uri + n + 1 : NULL;
}

enum est_err
est_store_open(const char *uri, struct est_store **out, struct est_error *e)
{
	return open_uri(uri, false, out, e);
}

enum est_err
est_store_create(const char *uri, struct est_store **out, struct est_error *e)
{
	return open_uri(uri, true, out, e);
}

enum est_err
est_store_check(struct est_store *st, bool full, struct est_error *e)
{
	return st->ops->check(st, full, e);
}

enum est_err
est_store_backup(struct est_store *st, const char *path, struct est_error *e)
{
	if (path == NULL || path[0] == '\0')
		return est_fail(e, EST_ERR_CONFIG, "no backup file given");
	return st->ops->backup(st, path, e);
}

void
est_store_close(struct est_store *st)
{
	if (st != NULL)
		st->ops->close(st);
}

enum est_err
est_store_put_cert(struct est_store *st, struct est_cert_rec *rec,
    struct est_error *e)
{
	if (rec == NULL || rec->issuer == NULL || rec->serial == NULL ||
	    rec->subject == NULL || rec->der == NULL || rec->der_len == 0)
		return est_fail(e, EST_ERR_INTERNAL, "incomplete certificate record");
	return st->ops->put_cert(st, rec, e);
}

enum est_err
est_store_get_cert(struct est_store *st, const char *issuer, const char *serial,
    struct est_cert_rec **out, struct est_error *e)
{
	if (serial == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "no serial number to look up");
	return st->ops->get_cert(st, issuer, serial, out, e);
}

/* A NULL filter lists everything; `now` 0 is filled in here for every backend. */
enum est_err
est_store_list_certs(struct est_store *st, const struct est_cert_filter *f,
    est_cert_visit visit, void *arg, struct est_error *e)
{
	struct est_cert_filter filter = { 0 };

	if (visit == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "no visitor for listing certificates");
	if (f != NULL)
		filter = *f;
	if (filter.now == 0)
		filter.now = (int64_t)time(NULL);
	return st->ops->list_certs(st, &filter, visit, arg, e);
}

enum est_err
est_store_revoke_cert(struct est_store *st, const char *issuer, const char *serial,
    int reason, int64_t when, struct est_error *e)
{
	if (serial == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "no serial number to revoke");
	if (est_revoke_reason_name(reason) == NULL)
		return est_fail(e, EST_ERR_BADREQ, "%d is not an RFC 5280 revocation reason",
		    reason);
	return st->ops->revoke_cert(st, issuer, serial, reason, when, e);
}

void
est_crl_rec_free(struct est_crl_rec *rec)
{
	if (rec == NULL)
		return;
	free(rec->der);
	free(rec);
}

enum est_err
est_store_revocation_revision(struct est_store *st, const char *issuer, int64_t *rev,
    struct est_error *e)
{
	if (issuer == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "no issuer for a revocation revision");
	return st->ops->revocation_revision(st, issuer, rev, e);
}

enum est_err
est_store_get_crl(struct est_store *st, const char *issuer, struct est_crl_rec **out,
    struct est_error *e)
{
	if (issuer == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "no issuer for a CRL");
	return st->ops->get_crl(st, issuer, out, e);
}

enum est_err
est_store_put_crl(struct est_store *st, const char *issuer, const struct est_crl_rec *rec,
    struct est_error *e)
{
	if (issuer == NULL || rec == NULL || rec->der == NULL || rec->crl_number < 1)
		return est_fail(e, EST_ERR_INTERNAL, "incomplete CRL record");
	return st->ops->put_crl(st, issuer, rec, e);
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

enum est_err
est_store_hold_request(struct est_store *st, const struct est_req_rec *rec,
    struct est_req_rec **out, struct est_error *e)
{
	struct est_req_rec r;

	if (rec == NULL || rec->alias == NULL || rec->operation == NULL || rec->subject == NULL ||
	    rec->spki_sha256[0] == '\0')
		return est_fail(e, EST_ERR_INTERNAL, "incomplete request record");
	r = *rec;
	if (r.san == NULL)
		r.san = "";
	if (r.principal == NULL)
		r.principal = "";
	if (r.created_at == 0)
		r.created_at = (int64_t)time(NULL);
	return st->ops->hold_request(st, &r, out, e);
}

enum est_err
est_store_list_requests(struct est_store *st, bool open_only, est_req_visit visit, void *arg,
    struct est_error *e)
{
	if (visit == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "no visitor for listing requests");
	return st->ops->list_requests(st, open_only, visit, arg, e);
}

enum est_err
est_store_set_request_state(struct est_store *st, int64_t id, enum est_req_state from,
    enum est_req_state to, int64_t when, struct est_error *e)
{
	if ((unsigned)from >= EST_REQ_STATE__MAX || (unsigned)to >= EST_REQ_STATE__MAX)
		return est_fail(e, EST_ERR_INTERNAL, "no such request state");
	return st->ops->set_request_state(st, id, from, to, when, e);
}

enum est_err
est_store_schema_version(struct est_store *st, int *version, struct est_error *e)
{
	return st->ops->schema_version(st, version, e);
}

enum est_err
est_store_put_cert_consume(struct est_store *st, struct est_cert_rec *rec,
    const char *code_hash, int64_t now, struct est_error *e)
{
	if (rec == NULL || rec->issuer == NULL || rec->serial == NULL ||
	    rec->subject == NULL || rec->der == NULL || rec->der_len == 0)
		return est_fail(e, EST_ERR_INTERNAL, "incomplete certificate record");
	if (rec->ee_id <= 0 || code_hash == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "no end entity whose code to spend");
	return st->ops->put_cert_consume(st, rec, code_hash, now, e);
}

enum est_err
est_store_put_issued(struct est_store *st, struct est_cert_rec *rec,
    const struct est_issue_record *how, struct est_error *e)
{
	if (rec == NULL || rec->issuer == NULL || rec->serial == NULL ||
	    rec->subject == NULL || rec->der == NULL || rec->der_len == 0)
		return est_fail(e, EST_ERR_INTERNAL, "incomplete certificate record");
	if (how->code_hash != NULL && rec->ee_id <= 0)
		return est_fail(e, EST_ERR_INTERNAL, "no end entity whose code to spend");
	if ((how->replaces_serial == NULL) != (how->replaces_issuer == NULL))
		return est_fail(e, EST_ERR_INTERNAL, "a replaced certificate needs issuer and serial");
	return st->ops->put_issued(st, rec, how, e);
}

enum est_err
est_store_put_ee(struct est_store *st, struct est_ee *ee, struct est_error *e)
{
	if (ee == NULL || ee->username == NULL || ee->username[0] == '\0' ||
	    ee->subject == NULL || ee->subject_der == NULL || ee->alias == NULL ||
	    ee->code_hash == NULL || ee->uses_left < -1 || ee->valid_until < 0)
		return est_fail(e, EST_ERR_INTERNAL, "incomplete end entity record");
	return st->ops->put_ee(st, ee, e);
}

enum est_err
est_store_get_ee(struct est_store *st, const char *username, struct est_ee **out,
    struct est_error *e)
{
	if (username == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "no username to look up");
	return st->ops->get_ee(st, username, out, e);
}

enum est_err
est_store_list_ee(struct est_store *st, est_ee_visit visit, void *arg, struct est_error *e)
{
	if (visit == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "no visitor for listing end entities");
	return st->ops->list_ee(st, visit, arg, e);
}

enum est_err
est_store_list_ee_matching(struct est_store *st, const char *needle, est_ee_visit visit,
    void *arg, struct est_error *e)
{
	if (visit == NULL || needle == NULL || needle[0] == '\0')
		return est_fail(e, EST_ERR_INTERNAL, "no visitor or name for matching end entities");
	return st->ops->list_ee_matching(st, needle, visit, arg, e);
}

enum est_err
est_store_del_ee(struct est_store *st, const char *username, struct est_error *e)
{
	if (username == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "no username to remove");
	return st->ops->del_ee(st, username, e);
}

enum est_err
est_store_reset_ee(struct est_store *st, const char *username, const char *code_hash,
    int64_t uses_left, int64_t valid_until, struct est_error *e)
{
	if (username == NULL || code_hash == NULL || uses_left < -1 || valid_until < 0)
		return est_fail(e, EST_ERR_INTERNAL, "incomplete end entity reset");
	return st->ops->reset_ee(st, username, code_hash, uses_left, valid_until, e);
}

enum est_err
est_store_put_ext_ca(struct est_store *st, struct est_ext_ca *ca, struct est_error *e)
{
	if (ca == NULL || ca->name == NULL || ca->subject == NULL || ca->der == NULL ||
	    ca->der_len == 0)
		return est_fail(e, EST_ERR_INTERNAL, "incomplete external CA record");
	return st->ops->put_ext_ca(st, ca, e);
}

enum est_err
est_store_list_ext_ca(struct est_store *st, est_ext_ca_visit visit, void *arg,
    struct est_error *e)
{
	if (visit == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "no visitor for listing external CAs");
	return st->ops->list_ext_ca(st, visit, arg, e);
}
