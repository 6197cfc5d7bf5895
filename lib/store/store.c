/*
 * The store's generic part (include/estkit/store.h): choosing a backend by
 * URI and the thin wrappers over a backend's ops table. The records are in
 * records.c, the backends in one folder each (sqlite/, postgresql/).
 *
 * Invariants: argument checks shared by all backends are made here, so a
 * backend sees a non-NULL serial, a complete record, a known CRL reason and
 * a filter whose `now` is set.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "estkit/store.h"
#include "store_int.h"

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

enum open_mode { OPEN, CREATE, MIGRATE };

/* The backend's open, create or migrate for uri; EST_ERR_CONFIG for what is no store URI. */
static enum est_err
open_uri(const char *uri, enum open_mode mode, int *from, struct est_store **out,
    struct est_error *e)
{
	size_t n;

	if (uri == NULL || uri[0] == '\0')
		return est_fail(e, EST_ERR_CONFIG, "no store given (use sqlite:PATH or "
		    "postgresql://...)");
	n = scheme_len(uri);
	if (n == 0 || scheme_is(uri, n, "sqlite")) {
		const char *path = n == 0 ? uri : uri + n + 1;

		if (path[0] == '\0')
			return est_fail(e, EST_ERR_CONFIG,
			    "store \"%s\" names no database file", uri);
		if (mode == CREATE)
			return est_store_sqlite_create(path, out, e);
		if (mode == MIGRATE)
			return est_store_sqlite_migrate(path, from, out, e);
		return est_store_sqlite_open(path, out, e);
	}
	/* libpq takes the whole URI, scheme included. */
	if (scheme_is(uri, n, "postgres") || scheme_is(uri, n, "postgresql")) {
		if (mode == CREATE)
			return est_store_pg_create(uri, out, e);
		if (mode == MIGRATE)
			return est_store_pg_migrate(uri, from, out, e);
		return est_store_pg_open(uri, out, e);
	}
	return est_fail(e, EST_ERR_CONFIG, "unknown store scheme \"%.*s\" (use sqlite:PATH or "
	    "postgresql://...)", (int)n, uri);
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
	return open_uri(uri, OPEN, NULL, out, e);
}

enum est_err
est_store_create(const char *uri, struct est_store **out, struct est_error *e)
{
	return open_uri(uri, CREATE, NULL, out, e);
}

enum est_err
est_store_migrate(const char *uri, int *from, int *to, struct est_error *e)
{
	struct est_store *st = NULL;
	enum est_err rc;

	if ((rc = open_uri(uri, MIGRATE, from, &st, e)) != EST_OK)
		return rc;
	rc = st->ops->schema_version(st, to, e);
	est_store_close(st);
	return rc;
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
est_store_read_begin(struct est_store *st, struct est_error *e)
{
	return st->ops->read_begin != NULL ? st->ops->read_begin(st, e) : EST_OK;
}

void
est_store_read_end(struct est_store *st)
{
	if (st->ops->read_end != NULL)
		st->ops->read_end(st);
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

enum est_err
est_store_count_expiring(struct est_store *st, int64_t now, int64_t until, int64_t *n,
    struct est_error *e)
{
	if (n == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "nowhere to count expiring certificates");
	return st->ops->count_expiring(st, now, until, n, e);
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
	/* It would sit on a full CRL, where relying parties read it as "not revoked". */
	if (reason == EST_REASON_REMOVE_FROM_CRL)
		return est_fail(e, EST_ERR_BADREQ, "removeFromCRL is no reason to revoke (RFC 5280 "
		    "section 5.3.1: delta CRLs only)");
	return st->ops->revoke_cert(st, issuer, serial, reason, when, e);
}

enum est_err
est_store_release_cert(struct est_store *st, const char *issuer, const char *serial,
    unsigned max_active, int64_t now, struct est_error *e)
{
	if (serial == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "no serial number to release");
	return st->ops->release_cert(st, issuer, serial, max_active, now, e);
}

enum est_err
store_check_release(const char *serial, bool revoked, int reason, int64_t not_after,
    int64_t now, struct est_error *e)
{
	const char *name = est_revoke_reason_name(reason);

	if (!revoked)
		return est_fail(e, EST_ERR_FORBIDDEN, "certificate %s is not revoked: there is no "
		    "hold to release", serial);
	if (reason != EST_REASON_CERTIFICATE_HOLD)
		return est_fail(e, EST_ERR_FORBIDDEN, "certificate %s is revoked (%s), not on hold: "
		    "only certificateHold is released, any other revocation is final", serial,
		    name != NULL ? name : "no reason on record");
	/*
	 * Past notAfter nobody accepts it anyway; releasing it would only erase
	 * the record that it was held, which a check of an old signature needs.
	 */
	if (not_after <= now)
		return est_fail(e, EST_ERR_FORBIDDEN, "certificate %s has expired: its hold stays "
		    "on record", serial);
	return EST_OK;
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

enum est_err
est_store_list_crls(struct est_store *st, est_crl_visit visit, void *arg, struct est_error *e)
{
	if (visit == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "no visitor for listing CRLs");
	return st->ops->list_crls(st, visit, arg, e);
}

enum est_err
store_check_request(const struct est_req_rec *rec, struct est_req_rec *norm,
    struct est_error *e)
{
	if (rec == NULL || rec->alias == NULL || rec->operation == NULL || rec->subject == NULL ||
	    rec->spki_sha256[0] == '\0')
		return est_fail(e, EST_ERR_INTERNAL, "incomplete request record");
	*norm = *rec;
	if (norm->san == NULL)
		norm->san = "";
	if (norm->principal == NULL)
		norm->principal = "";
	if (norm->created_at == 0)
		norm->created_at = (int64_t)time(NULL);
	return EST_OK;
}

enum est_err
est_store_hold_request(struct est_store *st, const struct est_req_rec *rec,
    struct est_req_rec **out, struct est_error *e)
{
	struct est_req_rec r;
	enum est_err rc;

	if ((rc = store_check_request(rec, &r, e)) != EST_OK)
		return rc;
	return st->ops->hold_request(st, &r, out, e);
}

enum est_err
est_store_find_request(struct est_store *st, const struct est_req_rec *rec,
    struct est_req_rec **out, struct est_error *e)
{
	struct est_req_rec r;
	enum est_err rc;

	if ((rc = store_check_request(rec, &r, e)) != EST_OK)
		return rc;
	return st->ops->find_request(st, &r, out, e);
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
store_check_issued(const struct est_cert_rec *rec, const struct est_issue_record *how,
    struct est_error *e)
{
	if (rec == NULL || rec->issuer == NULL || rec->serial == NULL ||
	    rec->subject == NULL || rec->der == NULL || rec->der_len == 0)
		return est_fail(e, EST_ERR_INTERNAL, "incomplete certificate record");
	if (how == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "no issue record");
	if (how->code_hash != NULL && rec->ee_id <= 0)
		return est_fail(e, EST_ERR_INTERNAL, "no end entity whose code to spend");
	if ((how->replaces_serial == NULL) != (how->replaces_issuer == NULL))
		return est_fail(e, EST_ERR_INTERNAL, "a replaced certificate needs issuer and serial");
	return EST_OK;
}

enum est_err
est_store_put_issued(struct est_store *st, struct est_cert_rec *rec,
    const struct est_issue_record *how, struct est_error *e)
{
	enum est_err rc;

	if ((rc = store_check_issued(rec, how, e)) != EST_OK)
		return rc;
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
est_store_get_ee_by_id(struct est_store *st, int64_t id, struct est_ee **out,
    struct est_error *e)
{
	if (id <= 0)
		return est_fail(e, EST_ERR_INTERNAL, "no end entity id to look up");
	return st->ops->get_ee_by_id(st, id, out, e);
}

enum est_err
est_store_list_ee(struct est_store *st, est_ee_visit visit, void *arg, struct est_error *e)
{
	if (visit == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "no visitor for listing end entities");
	return st->ops->list_ee(st, visit, arg, e);
}

enum est_err
store_ee_keys(const unsigned char *subject_der, size_t subject_len,
    const unsigned char *san_der, size_t san_len, struct codec_name_keys *k,
    struct est_error *e)
{
	const unsigned char *p = subject_der;
	X509_NAME *dn = d2i_X509_NAME(NULL, &p, (long)subject_len);
	GENERAL_NAMES *san = NULL;
	enum est_err rc = EST_OK;

	if (dn == NULL || p != subject_der + subject_len)
		rc = est_fail_ssl(e, EST_ERR_BADREQ, "an end entity's subject does not decode");
	else if (san_der != NULL && ((p = san_der), (san = d2i_GENERAL_NAMES(NULL, &p,
	    (long)san_len)) == NULL || p != san_der + san_len))
		rc = est_fail_ssl(e, EST_ERR_BADREQ, "an end entity's subjectAltName does not decode");
	if (rc == EST_OK) {
		codec_name_keys_add_names(k, dn, san);
		codec_name_keys_add_dn(k, dn);
		if (k->oom)
			rc = est_fail(e, EST_ERR_NOMEM, "out of memory indexing an end entity");
	}
	X509_NAME_free(dn);
	GENERAL_NAMES_free(san);
	return rc;
}

enum est_err
est_store_list_ee_by_key(struct est_store *st, const char *key, unsigned max,
    est_ee_visit visit, void *arg, struct est_error *e)
{
	if (visit == NULL || key == NULL || key[0] == '\0')
		return est_fail(e, EST_ERR_INTERNAL, "no visitor or key for finding end entities");
	return st->ops->list_ee_by_key(st, key, max, visit, arg, e);
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
