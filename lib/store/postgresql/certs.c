/*
 * PostgreSQL backend: certificates (table certs): recording, looking up,
 * listing and revoking them.
 *
 * Invariants: UNIQUE (issuer, serial) makes a serial unique per issuer
 * whichever server issued it (a collision is EST_ERR_EXISTS, and the server
 * issues again with a new serial). A certificate is revoked by an UPDATE
 * that still requires it valid: of two servers revoking it at once, the
 * second waits for the first's row lock, re-reads the row and changes
 * nothing. A release from hold is the same in reverse: its UPDATE still
 * requires the certificate held and unexpired; so does the one that makes
 * a hold final (another reason). Nothing is cached: every
 * read asks the database, so a revocation committed by one server is seen
 * by the next read of any other.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"

/* The columns row_to_rec reads, in its order. */
/* ILIKE: SQLite's LIKE ignores ASCII case, and estadm cert list --subject relies on it. */
#define CERT_COLUMNS "id, issuer, serial, subject, san, spki_sha256, not_before, " \
	"not_after, issued_at, status, revoked_at, revocation_reason, principal, alias, der, ee_id"

static const char SQL_INSERT[] = "INSERT INTO certs (issuer, serial, subject, san, "
    "spki_sha256, not_before, not_after, issued_at, status, revoked_at, revocation_reason, "
    "principal, alias, der, ee_id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id";
static const char SQL_GET[] = "SELECT " CERT_COLUMNS " FROM certs "
    "WHERE serial = $1 AND ($2::text IS NULL OR issuer = $2) ORDER BY id LIMIT 2";
static const char SQL_FIND[] = "SELECT id, status = 'revoked', revocation_reason, "
    "not_after, ee_id FROM certs WHERE serial = $1 AND ($2::text IS NULL OR issuer = $2) "
    "LIMIT 2";
static const char SQL_REVOKE[] = "UPDATE certs SET status = 'revoked', revoked_at = $2, "
    "revocation_reason = $3 WHERE id = $1 AND status = 'valid'";
static const char SQL_RELEASE[] = "UPDATE certs SET status = 'valid', revoked_at = NULL, "
    "revocation_reason = NULL WHERE id = $1 AND status = 'revoked' "
    "AND revocation_reason = 6 AND not_after > $2";
static const char SQL_MAKE_FINAL[] = "UPDATE certs SET revocation_reason = $2 "
    "WHERE id = $1 AND status = 'revoked' AND revocation_reason = 6";
/*
 * The revocation trigger (db.c, step 4) counts changes of status only: a
 * release, and a hold made final (a new reason on the CRL), are counted here.
 */
static const char SQL_COUNT_CHANGE[] = "INSERT INTO revocation_counts (issuer, revision) "
    "SELECT issuer, 1 FROM certs WHERE id = $1 "
    "ON CONFLICT (issuer) DO UPDATE SET revision = revocation_counts.revision + 1";
static const char SQL_LIST[] = "SELECT " CERT_COLUMNS " FROM certs "
    "WHERE ($1::text IS NULL OR issuer = $1) AND ($2::text IS NULL OR subject ILIKE $2) "
    "AND ($3::int = 0 OR (status = 'valid' AND not_after > $4)) "
    "AND ($6::int = 0 OR status = 'revoked') AND ($7::bigint = 0 OR ee_id = $7) "
    "ORDER BY id LIMIT $5";

/* Row i (columns CERT_COLUMNS) as a new record. */
static enum est_err
row_to_rec(PGresult *res, int i, struct est_cert_rec **out, struct est_error *e)
{
	struct est_cert_rec *r;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    pg_col_text(res, i, 1, &r->issuer) != 0 || pg_col_text(res, i, 2, &r->serial) != 0 ||
	    pg_col_text(res, i, 3, &r->subject) != 0 || pg_col_text(res, i, 4, &r->san) != 0 ||
	    pg_col_text(res, i, 12, &r->principal) != 0 || pg_col_text(res, i, 13, &r->alias) != 0 ||
	    pg_col_blob(res, i, 14, &r->der, &r->der_len) != 0) {
		est_cert_rec_free(r);
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading a certificate record");
	}
	r->id = pg_col_int(res, i, 0);
	snprintf(r->spki_sha256, sizeof(r->spki_sha256), "%s", PQgetvalue(res, i, 5));
	r->not_before = pg_col_int(res, i, 6);
	r->not_after = pg_col_int(res, i, 7);
	r->issued_at = pg_col_int(res, i, 8);
	r->status = strcmp(PQgetvalue(res, i, 9), "revoked") == 0 ? EST_CERT_REVOKED :
	    EST_CERT_VALID;
	r->revoked_at = pg_col_int(res, i, 10);
	r->revocation_reason = pg_col_null(res, i, 11) ? -1 : (int)pg_col_int(res, i, 11);
	r->ee_id = pg_col_int(res, i, 15);
	*out = r;
	return EST_OK;
}

enum est_err
pg_insert_cert(struct pg_store *s, const struct est_cert_rec *r, int64_t *id,
    struct est_error *e)
{
	struct pg_params p = { 0 };
	PGresult *res;
	enum est_err rc;
	bool revoked = r->status == EST_CERT_REVOKED;

	pg_text(&p, r->issuer);
	pg_text(&p, r->serial);
	pg_text(&p, r->subject);
	pg_text(&p, r->san != NULL ? r->san : "");
	pg_text(&p, r->spki_sha256);
	pg_int(&p, r->not_before);
	pg_int(&p, r->not_after);
	pg_int(&p, r->issued_at);
	pg_text(&p, est_cert_status_name(r->status));
	if (revoked) {
		pg_int(&p, r->revoked_at);
		pg_int(&p, r->revocation_reason);
	} else {
		pg_text(&p, NULL);
		pg_text(&p, NULL);
	}
	pg_text(&p, r->principal != NULL ? r->principal : "");
	pg_text(&p, r->alias != NULL ? r->alias : "");
	pg_blob(&p, r->der, r->der_len);
	if (r->ee_id > 0)
		pg_int(&p, r->ee_id);
	else
		pg_text(&p, NULL);
	rc = pg_exec(s, SQL_INSERT, &p, &res, "recording a certificate", e);
	if (rc == EST_ERR_EXISTS)
		return est_fail(e, EST_ERR_EXISTS, "certificate %s of issuer %s is already on record",
		    r->serial, r->issuer);
	if (rc != EST_OK)
		return rc;
	*id = pg_col_int(res, 0, 0);
	PQclear(res);
	return EST_OK;
}

enum est_err
pg_put_cert(struct est_store *st, struct est_cert_rec *rec, struct est_error *e)
{
	struct pg_store *s = pg(st);
	int64_t id = 0;
	enum est_err rc;

	if ((rc = pg_begin(s, e)) != EST_OK)
		return rc;
	rc = pg_insert_cert(s, rec, &id, e);
	if (rc == EST_OK)
		rc = pg_commit(s, e);
	if (rc != EST_OK) {
		pg_rollback(s);
		return rc;
	}
	rec->id = id;
	return EST_OK;
}

static enum est_err
not_found(const char *issuer, const char *serial, struct est_error *e)
{
	if (issuer != NULL)
		return est_fail(e, EST_ERR_NOTFOUND, "no certificate %s of issuer %s on record",
		    serial, issuer);
	return est_fail(e, EST_ERR_NOTFOUND, "no certificate %s on record", serial);
}

static enum est_err
ambiguous(const char *serial, struct est_error *e)
{
	return est_fail(e, EST_ERR_EXISTS,
	    "several issuers used serial %s; name the issuer", serial);
}

enum est_err
pg_get_cert(struct est_store *st, const char *issuer, const char *serial,
    struct est_cert_rec **out, struct est_error *e)
{
	struct pg_params p = { 0 };
	PGresult *res;
	enum est_err rc;

	pg_text(&p, serial);
	pg_text(&p, issuer);
	if ((rc = pg_exec(pg(st), SQL_GET, &p, &res, "looking a certificate up", e)) != EST_OK)
		return rc;
	if (PQntuples(res) == 0)
		rc = not_found(issuer, serial, e);
	else if (PQntuples(res) > 1)
		rc = ambiguous(serial, e);
	else
		rc = row_to_rec(res, 0, out, e);
	PQclear(res);
	return rc;
}

struct list_ctx {
	est_cert_visit visit;
	void *arg;
};

static enum est_err
each_cert(PGresult *res, int i, void *arg, int *stop, struct est_error *e)
{
	struct list_ctx *c = arg;
	struct est_cert_rec *rec;
	enum est_err rc;

	if ((rc = row_to_rec(res, i, &rec, e)) != EST_OK)
		return rc;
	*stop = c->visit(rec, c->arg);
	est_cert_rec_free(rec);
	return EST_OK;
}

enum est_err
pg_list_certs(struct est_store *st, const struct est_cert_filter *f,
    est_cert_visit visit, void *arg, struct est_error *e)
{
	struct list_ctx c = { visit, arg };
	struct pg_params p = { 0 };
	PGresult *res;
	enum est_err rc;

	pg_text(&p, f->issuer);
	pg_text(&p, f->subject_like);
	pg_int(&p, f->only_valid ? 1 : 0);
	pg_int(&p, f->now);
	if (f->limit > 0)
		pg_int(&p, f->limit);
	else
		pg_text(&p, NULL); /* LIMIT NULL: no limit */
	pg_int(&p, f->only_revoked ? 1 : 0);
	pg_int(&p, f->ee_id);
	if ((rc = pg_exec(pg(st), SQL_LIST, &p, &res, "listing certificates", e)) != EST_OK)
		return rc;
	return pg_rows(res, each_cert, &c, e);
}

/* What a revocation or a release needs to know of a certificate, read in its transaction. */
struct found {
	int64_t id;
	bool revoked;
	int reason;              /* -1: none */
	int64_t not_after;
	int64_t ee_id;           /* 0: none */
};

static enum est_err
find_cert(struct pg_store *s, const char *issuer, const char *serial, struct found *f,
    struct est_error *e)
{
	struct pg_params p = { 0 };
	PGresult *res;
	enum est_err rc;

	pg_text(&p, serial);
	pg_text(&p, issuer);
	if ((rc = pg_exec(s, SQL_FIND, &p, &res, "looking a certificate up", e)) != EST_OK)
		return rc;
	if (PQntuples(res) == 0)
		rc = not_found(issuer, serial, e);
	else if (PQntuples(res) > 1)
		rc = ambiguous(serial, e);
	else {
		f->id = pg_col_int(res, 0, 0);
		f->revoked = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
		f->reason = pg_col_null(res, 0, 2) ? -1 : (int)pg_col_int(res, 0, 2);
		f->not_after = pg_col_int(res, 0, 3);
		f->ee_id = pg_col_int(res, 0, 4);
	}
	PQclear(res);
	return rc;
}

/*
 * The UPDATE still requires the certificate valid: another server may have
 * revoked it since find_cert read it (READ COMMITTED).
 */
static enum est_err
revoke_found(struct pg_store *s, const struct found *f, const char *serial, int reason,
    int64_t when, struct est_error *e)
{
	struct pg_params p = { 0 };
	PGresult *res;
	enum est_err rc;

	if (f->revoked)
		return est_fail(e, EST_ERR_FORBIDDEN, "certificate %s is already revoked", serial);
	pg_int(&p, f->id);
	pg_int(&p, when);
	pg_int(&p, reason);
	if ((rc = pg_exec(s, SQL_REVOKE, &p, &res, "revoking a certificate", e)) != EST_OK)
		return rc;
	if (pg_changed(res) != 1)
		rc = est_fail(e, EST_ERR_FORBIDDEN, "certificate %s is already revoked", serial);
	PQclear(res);
	return rc;
}

enum est_err
pg_revoke_in_tx(struct pg_store *s, const char *issuer, const char *serial, int reason,
    int64_t when, struct est_error *e)
{
	struct found f = { 0 };
	enum est_err rc;

	if ((rc = find_cert(s, issuer, serial, &f, e)) != EST_OK)
		return rc;
	return revoke_found(s, &f, serial, reason, when, e);
}

/*
 * Run update ($1 the certificate's id, $2 value), which still requires the
 * state find_cert saw: one row changes, or another server changed the
 * certificate since find_cert read it (READ COMMITTED).
 */
static enum est_err
update_found(struct pg_store *s, const char *update, int64_t id, int64_t value,
    const char *serial, const char *done, struct est_error *e)
{
	struct pg_params p = { 0 };
	PGresult *res;
	enum est_err rc;

	pg_int(&p, id);
	pg_int(&p, value);
	if ((rc = pg_exec(s, update, &p, &res, "changing a certificate's revocation", e)) != EST_OK)
		return rc;
	if (pg_changed(res) != 1)
		rc = est_fail(e, EST_ERR_FORBIDDEN, "certificate %s changed while it was being "
		    "%s: look at it again (estadm cert show)", serial, done);
	PQclear(res);
	return rc;
}

static enum est_err
count_change(struct pg_store *s, int64_t id, struct est_error *e)
{
	struct pg_params p = { 0 };

	pg_int(&p, id);
	return pg_exec(s, SQL_COUNT_CHANGE, &p, NULL, "counting a change of revocation", e);
}

static enum est_err
release_in_tx(struct pg_store *s, const char *issuer, const char *serial, unsigned max_active,
    int64_t now, struct est_error *e)
{
	struct found f = { 0 };
	int64_t active = 0;
	enum est_err rc;
	bool limited;

	if ((rc = find_cert(s, issuer, serial, &f, e)) != EST_OK ||
	    (rc = store_check_release(serial, f.revoked, f.reason, f.not_after, now, e)) != EST_OK)
		return rc;
	/* The end entity's row before the certificate's: the order an enrolment locks them. */
	limited = max_active > 0 && f.ee_id > 0;
	if ((limited && (rc = pg_lock_ee(s, f.ee_id, e)) != EST_OK) ||
	    (rc = update_found(s, SQL_RELEASE, f.id, now, serial, "released", e)) != EST_OK)
		return rc;
	if (limited) {
		if ((rc = pg_count_active(s, f.ee_id, now, &active, e)) != EST_OK)
			return rc;
		if (active > (int64_t)max_active)
			return est_fail(e, EST_ERR_FORBIDDEN, "certificate %s is not released: its "
			    "end entity would hold %lld valid certificates; the alias allows %u "
			    "(max-active-certificates): revoke one of the others first", serial,
			    (long long)active, max_active);
	}
	return count_change(s, f.id, e);
}

/*
 * est_store_revoke_cert: a valid certificate is revoked; one on hold is
 * revoked for good when the reason is another (the reason replaces
 * certificateHold, the hold's time stays). Renewals (put_issued) go through
 * pg_revoke_in_tx alone: a held certificate is never superseded.
 */
enum est_err
pg_revoke_cert(struct est_store *st, const char *issuer, const char *serial,
    int reason, int64_t when, struct est_error *e)
{
	struct pg_store *s = pg(st);
	struct found f = { 0 };
	enum est_err rc;

	if ((rc = pg_begin(s, e)) != EST_OK)
		return rc;
	if ((rc = find_cert(s, issuer, serial, &f, e)) == EST_OK && f.revoked &&
	    f.reason == EST_REASON_CERTIFICATE_HOLD && reason != EST_REASON_CERTIFICATE_HOLD) {
		if ((rc = update_found(s, SQL_MAKE_FINAL, f.id, reason, serial, "revoked",
		    e)) == EST_OK)
			rc = count_change(s, f.id, e);
	} else if (rc == EST_OK)
		rc = revoke_found(s, &f, serial, reason, when, e);
	if (rc == EST_OK)
		rc = pg_commit(s, e);
	if (rc != EST_OK)
		pg_rollback(s);
	return rc;
}

enum est_err
pg_release_cert(struct est_store *st, const char *issuer, const char *serial,
    unsigned max_active, int64_t now, struct est_error *e)
{
	struct pg_store *s = pg(st);
	enum est_err rc;

	if ((rc = pg_begin(s, e)) != EST_OK)
		return rc;
	rc = release_in_tx(s, issuer, serial, max_active, now, e);
	if (rc == EST_OK)
		rc = pg_commit(s, e);
	if (rc != EST_OK)
		pg_rollback(s);
	return rc;
}

static const char SQL_EXPIRING[] = "SELECT count(*) FROM certs "
    "WHERE status = 'valid' AND not_after > $1 AND not_after <= $2";

enum est_err
pg_count_expiring(struct est_store *st, int64_t now, int64_t until, int64_t *n,
    struct est_error *e)
{
	struct pg_params p = { 0 };
	PGresult *res;
	enum est_err rc;

	pg_int(&p, now);
	pg_int(&p, until);
	if ((rc = pg_exec(pg(st), SQL_EXPIRING, &p, &res, "counting expiring certificates",
	    e)) != EST_OK)
		return rc;
	*n = pg_col_int(res, 0, 0);
	PQclear(res);
	return EST_OK;
}
