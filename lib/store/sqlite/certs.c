/*
 * SQLite backend: certificates (table certs, schema step 1 in db.c):
 * recording, looking up, listing and revoking them.
 *
 * Invariant: a certificate is revoked by an UPDATE whose WHERE clause still
 * requires it valid, inside a writer's transaction (BEGIN IMMEDIATE), so
 * of two revocations one wins and the other hears it is already revoked.
 * A release from hold is the same in reverse: its UPDATE still requires the
 * certificate revoked with certificateHold and unexpired; so does the one
 * that makes a hold final (another reason).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_int.h"

/* The columns row_to_rec reads, in its order. */
#define CERT_COLUMNS "id, issuer, serial, subject, san, spki_sha256, not_before, " \
	"not_after, issued_at, status, revoked_at, revocation_reason, principal, alias, der, ee_id"

static const char SQL_INSERT[] = "INSERT INTO certs (issuer, serial, subject, san, "
    "spki_sha256, not_before, not_after, issued_at, status, revoked_at, revocation_reason, "
    "principal, alias, der, ee_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
static const char SQL_GET[] = "SELECT " CERT_COLUMNS " FROM certs "
    "WHERE serial = ?1 AND (?2 IS NULL OR issuer = ?2) ORDER BY id LIMIT 2";
static const char SQL_FIND[] = "SELECT id, status = 'revoked', revocation_reason, "
    "not_after, ee_id FROM certs WHERE serial = ?1 AND (?2 IS NULL OR issuer = ?2) LIMIT 2";
static const char SQL_REVOKE[] = "UPDATE certs SET status = 'revoked', revoked_at = ?2, "
    "revocation_reason = ?3 WHERE id = ?1 AND status = 'valid'";
static const char SQL_RELEASE[] = "UPDATE certs SET status = 'valid', revoked_at = NULL, "
    "revocation_reason = NULL WHERE id = ?1 AND status = 'revoked' "
    "AND revocation_reason = 6 AND not_after > ?2";
static const char SQL_MAKE_FINAL[] = "UPDATE certs SET revocation_reason = ?2 "
    "WHERE id = ?1 AND status = 'revoked' AND revocation_reason = 6";
/*
 * The revocation triggers (db.c, step 4) count changes of status only: a
 * release, and a hold made final (a new reason on the CRL), are counted here.
 */
static const char SQL_COUNT_CHANGE[] = "INSERT INTO revocation_counts (issuer, revision) "
    "SELECT issuer, 1 FROM certs WHERE id = ?1 "
    "ON CONFLICT (issuer) DO UPDATE SET revision = revision + 1";
static const char SQL_LIST[] = "SELECT " CERT_COLUMNS " FROM certs "
    "WHERE (?1 IS NULL OR issuer = ?1) AND (?2 IS NULL OR subject LIKE ?2) "
    "AND (?3 = 0 OR (status = 'valid' AND not_after > ?4)) "
    "AND (?6 = 0 OR status = 'revoked') AND (?7 = 0 OR ee_id = ?7) "
    "ORDER BY id LIMIT ?5";

static const char SQL_EXPIRING[] = "SELECT count(*) FROM certs "
    "WHERE status = 'valid' AND not_after > ?1 AND not_after <= ?2";

/* The current row (columns CERT_COLUMNS) as a new record. */
static enum est_err
row_to_rec(sqlite3_stmt *q, struct est_cert_rec **out, struct est_error *e)
{
	struct est_cert_rec *r;
	const unsigned char *t;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    sq_col_text(q, 1, &r->issuer) != 0 || sq_col_text(q, 2, &r->serial) != 0 ||
	    sq_col_text(q, 3, &r->subject) != 0 || sq_col_text(q, 4, &r->san) != 0 ||
	    sq_col_text(q, 12, &r->principal) != 0 || sq_col_text(q, 13, &r->alias) != 0 ||
	    sq_col_blob(q, 14, &r->der, &r->der_len) != 0) {
		est_cert_rec_free(r);
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading a certificate record");
	}
	r->id = sqlite3_column_int64(q, 0);
	t = sqlite3_column_text(q, 5);
	snprintf(r->spki_sha256, sizeof(r->spki_sha256), "%s", t != NULL ? (const char *)t : "");
	r->not_before = sqlite3_column_int64(q, 6);
	r->not_after = sqlite3_column_int64(q, 7);
	r->issued_at = sqlite3_column_int64(q, 8);
	t = sqlite3_column_text(q, 9);
	r->status = t != NULL && strcmp((const char *)t, "revoked") == 0 ?
	    EST_CERT_REVOKED : EST_CERT_VALID;
	r->revoked_at = sqlite3_column_type(q, 10) == SQLITE_NULL ? 0 :
	    sqlite3_column_int64(q, 10);
	r->revocation_reason = sqlite3_column_type(q, 11) == SQLITE_NULL ? -1 :
	    sqlite3_column_int(q, 11);
	r->ee_id = sqlite3_column_int64(q, 15);
	*out = r;
	return EST_OK;
}

/* Parameters left unbound (revocation time and reason of a valid record) are NULL. */
static int
bind_rec(sqlite3_stmt *q, const struct est_cert_rec *r)
{
	const char *san = r->san != NULL ? r->san : "";
	const char *principal = r->principal != NULL ? r->principal : "";
	const char *alias = r->alias != NULL ? r->alias : "";
	const char *status = est_cert_status_name(r->status);

	if (sqlite3_bind_text(q, 1, r->issuer, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 2, r->serial, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 3, r->subject, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 4, san, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 5, r->spki_sha256, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 6, r->not_before) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 7, r->not_after) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 8, r->issued_at) != SQLITE_OK ||
	    sqlite3_bind_text(q, 9, status, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 12, principal, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 13, alias, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob64(q, 14, r->der, r->der_len, SQLITE_STATIC) != SQLITE_OK)
		return -1;
	if (r->ee_id > 0 && sqlite3_bind_int64(q, 15, r->ee_id) != SQLITE_OK)
		return -1;
	if (r->status == EST_CERT_REVOKED &&
	    (sqlite3_bind_int64(q, 10, r->revoked_at) != SQLITE_OK ||
	    sqlite3_bind_int(q, 11, r->revocation_reason) != SQLITE_OK))
		return -1;
	return 0;
}

enum est_err
sq_insert_cert(struct sq_store *s, const struct est_cert_rec *rec, int64_t *id,
    struct est_error *e)
{
	sqlite3_stmt *q;
	enum est_err rc;
	int src;

	if ((rc = sq_prepared(s, SQL_INSERT, &q, e)) != EST_OK)
		return rc;
	if (bind_rec(q, rec) != 0)
		rc = sq_fail(s, "binding a certificate record", e);
	else if ((src = sqlite3_step(q)) == SQLITE_CONSTRAINT_UNIQUE)
		rc = est_fail(e, EST_ERR_EXISTS, "certificate %s of issuer %s is already on record",
		    rec->serial, rec->issuer);
	else if (src != SQLITE_DONE)
		rc = sq_fail(s, "recording a certificate", e);
	else
		*id = sqlite3_last_insert_rowid(s->db);
	sq_done(q);
	return rc;
}

enum est_err
sq_put_cert(struct est_store *st, struct est_cert_rec *rec, struct est_error *e)
{
	struct sq_store *s = sq(st);
	int64_t id = 0;
	enum est_err rc;

	if ((rc = sq_begin(s, e)) != EST_OK)
		return rc;
	rc = sq_insert_cert(s, rec, &id, e);
	if (rc == EST_OK)
		rc = sq_commit(s, e);
	if (rc != EST_OK) {
		sq_rollback(s);
		return rc;
	}
	rec->id = id;
	return EST_OK;
}

static int
bind_key(sqlite3_stmt *q, const char *issuer, const char *serial)
{
	if (sqlite3_bind_text(q, 1, serial, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 2, issuer, -1, SQLITE_STATIC) != SQLITE_OK)
		return -1;
	return 0;
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
sq_get_cert(struct est_store *st, const char *issuer, const char *serial,
    struct est_cert_rec **out, struct est_error *e)
{
	struct sq_store *s = sq(st);
	struct est_cert_rec *rec = NULL;
	sqlite3_stmt *q;
	enum est_err rc;
	int src;

	if ((rc = sq_prepared(s, SQL_GET, &q, e)) != EST_OK)
		return rc;
	if (bind_key(q, issuer, serial) != 0)
		rc = sq_fail(s, "binding a serial number", e);
	else if ((src = sqlite3_step(q)) == SQLITE_DONE)
		rc = not_found(issuer, serial, e);
	else if (src != SQLITE_ROW)
		rc = sq_fail(s, "looking a certificate up", e);
	else if ((rc = row_to_rec(q, &rec, e)) == EST_OK) {
		if ((src = sqlite3_step(q)) == SQLITE_ROW)
			rc = ambiguous(serial, e);
		else if (src != SQLITE_DONE)
			rc = sq_fail(s, "looking a certificate up", e);
	}
	sq_done(q);
	if (rc != EST_OK) {
		est_cert_rec_free(rec);
		return rc;
	}
	*out = rec;
	return EST_OK;
}

static int
bind_filter(sqlite3_stmt *q, const struct est_cert_filter *f)
{
	if (sqlite3_bind_text(q, 1, f->issuer, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 2, f->subject_like, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int(q, 3, f->only_valid ? 1 : 0) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 4, f->now) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 5, f->limit > 0 ? (sqlite3_int64)f->limit : -1) != SQLITE_OK ||
	    sqlite3_bind_int(q, 6, f->only_revoked ? 1 : 0) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 7, f->ee_id) != SQLITE_OK)
		return -1;
	return 0;
}

struct list_ctx {
	est_cert_visit visit;
	void *arg;
};

static enum est_err
each_cert(sqlite3_stmt *q, void *arg, int *stop, struct est_error *e)
{
	struct list_ctx *c = arg;
	struct est_cert_rec *rec;
	enum est_err rc;

	if ((rc = row_to_rec(q, &rec, e)) != EST_OK)
		return rc;
	*stop = c->visit(rec, c->arg);
	est_cert_rec_free(rec);
	return EST_OK;
}

enum est_err
sq_list_certs(struct est_store *st, const struct est_cert_filter *f,
    est_cert_visit visit, void *arg, struct est_error *e)
{
	struct sq_store *s = sq(st);
	struct list_ctx c = { visit, arg };
	sqlite3_stmt *q;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_LIST, &q, e)) != EST_OK)
		return rc;
	if (bind_filter(q, f) != 0) {
		rc = sq_fail(s, "binding a certificate filter", e);
		sq_done(q);
		return rc;
	}
	return sq_rows(s, q, each_cert, &c, "listing certificates", e);
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
find_cert(struct sq_store *s, const char *issuer, const char *serial, struct found *f,
    struct est_error *e)
{
	sqlite3_stmt *q;
	enum est_err rc;
	int src;

	if ((rc = sq_prepared(s, SQL_FIND, &q, e)) != EST_OK)
		return rc;
	if (bind_key(q, issuer, serial) != 0)
		rc = sq_fail(s, "binding a serial number", e);
	else if ((src = sqlite3_step(q)) == SQLITE_DONE)
		rc = not_found(issuer, serial, e);
	else if (src != SQLITE_ROW)
		rc = sq_fail(s, "looking a certificate up", e);
	else {
		f->id = sqlite3_column_int64(q, 0);
		f->revoked = sqlite3_column_int(q, 1) != 0;
		f->reason = sqlite3_column_type(q, 2) == SQLITE_NULL ? -1 :
		    sqlite3_column_int(q, 2);
		f->not_after = sqlite3_column_int64(q, 3);
		f->ee_id = sq_col_int(q, 4);
		if ((src = sqlite3_step(q)) == SQLITE_ROW)
			rc = ambiguous(serial, e);
		else if (src != SQLITE_DONE)
			rc = sq_fail(s, "looking a certificate up", e);
	}
	sq_done(q);
	return rc;
}

static enum est_err
revoke_found(struct sq_store *s, const struct found *f, const char *serial, int reason,
    int64_t when, struct est_error *e)
{
	sqlite3_stmt *q;
	enum est_err rc;

	if (f->revoked)
		return est_fail(e, EST_ERR_FORBIDDEN, "certificate %s is already revoked", serial);
	if ((rc = sq_prepared(s, SQL_REVOKE, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_int64(q, 1, f->id) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 2, when) != SQLITE_OK ||
	    sqlite3_bind_int(q, 3, reason) != SQLITE_OK)
		rc = sq_fail(s, "binding a revocation", e);
	else if (sqlite3_step(q) != SQLITE_DONE)
		rc = sq_fail(s, "revoking a certificate", e);
	else if (sqlite3_changes(s->db) != 1)
		rc = est_fail(e, EST_ERR_FORBIDDEN, "certificate %s is already revoked", serial);
	sq_done(q);
	return rc;
}

enum est_err
sq_revoke_in_tx(struct sq_store *s, const char *issuer, const char *serial, int reason,
    int64_t when, struct est_error *e)
{
	struct found f = { 0 };
	enum est_err rc;

	if ((rc = find_cert(s, issuer, serial, &f, e)) != EST_OK)
		return rc;
	return revoke_found(s, &f, serial, reason, when, e);
}

/*
 * Run update (?1 the certificate's id, ?2 value), which still requires the
 * state find_cert saw: one row changes, or the certificate changed since.
 */
static enum est_err
update_found(struct sq_store *s, const char *update, int64_t id, int64_t value,
    const char *serial, const char *done, struct est_error *e)
{
	sqlite3_stmt *q;
	enum est_err rc;

	if ((rc = sq_prepared(s, update, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_int64(q, 1, id) != SQLITE_OK || sqlite3_bind_int64(q, 2, value) != SQLITE_OK)
		rc = sq_fail(s, "binding a change of revocation", e);
	else if (sqlite3_step(q) != SQLITE_DONE)
		rc = sq_fail(s, "changing a certificate's revocation", e);
	else if (sqlite3_changes(s->db) != 1)
		rc = est_fail(e, EST_ERR_INTERNAL, "certificate %s changed while it was being %s",
		    serial, done);
	sq_done(q);
	return rc;
}

static enum est_err
count_change(struct sq_store *s, int64_t id, struct est_error *e)
{
	sqlite3_stmt *q;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_COUNT_CHANGE, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_int64(q, 1, id) != SQLITE_OK)
		rc = sq_fail(s, "binding a change of revocation", e);
	else if (sqlite3_step(q) != SQLITE_DONE)
		rc = sq_fail(s, "counting a change of revocation", e);
	sq_done(q);
	return rc;
}

static enum est_err
release_in_tx(struct sq_store *s, const char *issuer, const char *serial, unsigned max_active,
    int64_t now, struct est_error *e)
{
	struct found f = { 0 };
	int64_t active = 0;
	enum est_err rc;

	if ((rc = find_cert(s, issuer, serial, &f, e)) != EST_OK ||
	    (rc = store_check_release(serial, f.revoked, f.reason, f.not_after, now, e)) != EST_OK ||
	    (rc = update_found(s, SQL_RELEASE, f.id, now, serial, "released", e)) != EST_OK)
		return rc;
	if (max_active > 0 && f.ee_id > 0) {
		if ((rc = sq_count_active(s, f.ee_id, now, &active, e)) != EST_OK)
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
 * sq_revoke_in_tx alone: a held certificate is never superseded.
 */
enum est_err
sq_revoke_cert(struct est_store *st, const char *issuer, const char *serial,
    int reason, int64_t when, struct est_error *e)
{
	struct sq_store *s = sq(st);
	struct found f = { 0 };
	enum est_err rc;

	if ((rc = sq_begin(s, e)) != EST_OK)
		return rc;
	if ((rc = find_cert(s, issuer, serial, &f, e)) == EST_OK && f.revoked &&
	    f.reason == EST_REASON_CERTIFICATE_HOLD && reason != EST_REASON_CERTIFICATE_HOLD) {
		if ((rc = update_found(s, SQL_MAKE_FINAL, f.id, reason, serial, "revoked",
		    e)) == EST_OK)
			rc = count_change(s, f.id, e);
	} else if (rc == EST_OK)
		rc = revoke_found(s, &f, serial, reason, when, e);
	if (rc == EST_OK)
		rc = sq_commit(s, e);
	if (rc != EST_OK)
		sq_rollback(s);
	return rc;
}

enum est_err
sq_release_cert(struct est_store *st, const char *issuer, const char *serial,
    unsigned max_active, int64_t now, struct est_error *e)
{
	struct sq_store *s = sq(st);
	enum est_err rc;

	if ((rc = sq_begin(s, e)) != EST_OK)
		return rc;
	rc = release_in_tx(s, issuer, serial, max_active, now, e);
	if (rc == EST_OK)
		rc = sq_commit(s, e);
	if (rc != EST_OK)
		sq_rollback(s);
	return rc;
}

enum est_err
sq_count_expiring(struct est_store *st, int64_t now, int64_t until, int64_t *n,
    struct est_error *e)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q = NULL;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_EXPIRING, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_int64(q, 1, now) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 2, until) != SQLITE_OK || sqlite3_step(q) != SQLITE_ROW)
		rc = sq_fail(s, "counting expiring certificates", e);
	else
		*n = sqlite3_column_int64(q, 0);
	sq_done(q);
	return rc;
}
