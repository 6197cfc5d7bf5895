/*
 * SQLite backend: end entities and their enrolment codes (table
 * end_entities, schema step 2 in db.c), and the one transaction that
 * records an issued certificate with what goes with it.
 *
 * Invariant: a use of an enrolment code is spent in the same transaction
 * that records the certificate, by an UPDATE whose WHERE clause re-checks
 * the code hash, the uses left and the expiry; BEGIN IMMEDIATE serialises
 * writers, so two requests racing with a one-time code cannot both pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sqlite_int.h"

#define EE_COLUMNS "id, username, subject, subject_der, san, san_der, alias, profile, " \
	"code_hash, uses_left, valid_until, created_at, last_used"

static const char SQL_SPEND[] = "UPDATE end_entities SET last_used = ?3, "
    "uses_left = CASE WHEN uses_left < 0 THEN uses_left ELSE uses_left - 1 END "
    "WHERE id = ?1 AND code_hash = ?2 AND uses_left <> 0 "
    "AND (valid_until = 0 OR valid_until >= ?3)";
static const char SQL_INSERT[] = "INSERT INTO end_entities (username, subject, subject_der, "
    "san, san_der, alias, profile, code_hash, uses_left, valid_until, created_at, last_used) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
static const char SQL_GET[] = "SELECT " EE_COLUMNS " FROM end_entities WHERE username = ?1";
static const char SQL_GET_ID[] = "SELECT " EE_COLUMNS " FROM end_entities WHERE id = ?1";
static const char SQL_LIST[] = "SELECT " EE_COLUMNS " FROM end_entities ORDER BY username";
static const char SQL_DEL[] = "DELETE FROM end_entities WHERE username = ?1";
static const char SQL_RESET[] = "UPDATE end_entities SET code_hash = ?2, uses_left = ?3, "
    "valid_until = ?4 WHERE username = ?1";
static const char SQL_ACTIVE[] = "SELECT COUNT(*) FROM certs WHERE ee_id = ?1 "
    "AND status = 'valid' AND not_after > ?2";
static const char SQL_BY_KEY[] = "SELECT " EE_COLUMNS " FROM end_entities "
    "WHERE id IN (SELECT ee_id FROM ee_names WHERE key = ?1 LIMIT ?2) ORDER BY username";
static const char SQL_KEY_ADD[] = "INSERT OR IGNORE INTO ee_names (key, ee_id) VALUES (?1, ?2)";
static const char SQL_DER_ALL[] = "SELECT id, subject_der, san_der FROM end_entities";

/* ---- spending a use with the certificate ---- */

enum est_err
sq_spend(struct sq_store *s, int64_t ee_id, const char *code_hash, int64_t now,
    struct est_error *e)
{
	sqlite3_stmt *q = NULL;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_SPEND, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_int64(q, 1, ee_id) != SQLITE_OK ||
	    sqlite3_bind_text(q, 2, code_hash, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 3, now) != SQLITE_OK)
		rc = sq_fail(s, "binding an enrolment", e);
	else if (sqlite3_step(q) != SQLITE_DONE)
		rc = sq_fail(s, "spending an enrolment code", e);
	else if (sqlite3_changes(s->db) != 1)
		rc = est_fail(e, EST_ERR_AUTH, "the enrolment code is spent, was reset, expired "
		    "or its end entity removed meanwhile");
	sq_done(q);
	return rc;
}

/* Take the one certificate an approval is good for (approved -> issued). */
static enum est_err
claim(struct sq_store *s, int64_t id, int64_t now, struct est_error *e)
{
	struct est_error why = { 0 };
	enum est_err rc;

	rc = sq_set_request_state(&s->base, id, EST_REQ_APPROVED, EST_REQ_ISSUED, now, &why);
	if (rc == EST_ERR_FORBIDDEN || rc == EST_ERR_NOTFOUND)
		return est_fail(e, EST_ERR_PENDING, "the approval of request %lld was used by another "
		    "enrolment a moment ago (%s); ask again to wait for a new one", (long long)id,
		    why.msg);
	if (rc != EST_OK && e != NULL)
		*e = why;
	return rc;
}

enum est_err
sq_count_active(struct sq_store *s, int64_t ee_id, int64_t now, int64_t *n,
    struct est_error *e)
{
	sqlite3_stmt *q = NULL;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_ACTIVE, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_int64(q, 1, ee_id) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 2, now) != SQLITE_OK)
		rc = sq_fail(s, "binding a count", e);
	else if (sqlite3_step(q) != SQLITE_ROW)
		rc = sq_fail(s, "counting valid certificates", e);
	else
		*n = sqlite3_column_int64(q, 0);
	sq_done(q);
	return rc;
}

/* The end entity's valid certificates, this one included, within max. */
static enum est_err
check_active(struct sq_store *s, int64_t ee_id, unsigned max, int64_t now,
    struct est_error *e)
{
	int64_t n = 0;
	enum est_err rc;

	if ((rc = sq_count_active(s, ee_id, now, &n, e)) == EST_OK && n > (int64_t)max)
		rc = est_fail(e, EST_ERR_FORBIDDEN, "the end entity would hold %lld valid "
		    "certificates; the alias allows %u (max-active-certificates): revoke one, or "
		    "renew instead", (long long)n, max);
	return rc;
}

enum est_err
sq_put_issued_in_tx(struct sq_store *s, struct est_cert_rec *rec,
    const struct est_issue_record *how, int64_t *id, struct est_error *e)
{
	enum est_err rc;

	if (how->approval_id > 0 && (rc = claim(s, how->approval_id, how->now, e)) != EST_OK)
		return rc;
	if (how->code_hash != NULL &&
	    (rc = sq_spend(s, rec->ee_id, how->code_hash, how->now, e)) != EST_OK)
		return rc;
	if (how->replaces_serial != NULL) {
		rc = sq_revoke_in_tx(s, how->replaces_issuer, how->replaces_serial,
		    EST_REASON_SUPERSEDED, how->now, e);
		/*
		 * Revoked meanwhile -- by another renewal of the same certificate or
		 * by an administrator: this renewal would leave a second valid
		 * certificate, or one renewed from a revoked one.
		 */
		if (rc == EST_ERR_FORBIDDEN)
			return est_fail(e, rc, "certificate %s was revoked while it was being "
			    "renewed (renewed by another request, or by an administrator): not "
			    "renewed", how->replaces_serial);
		if (rc != EST_OK)
			return rc;
	}
	if ((rc = sq_insert_cert(s, rec, id, e)) != EST_OK)
		return rc;
	if (how->max_active > 0 && rec->ee_id > 0)
		return check_active(s, rec->ee_id, how->max_active, how->now, e);
	return EST_OK;
}

enum est_err
sq_put_issued(struct est_store *st, struct est_cert_rec *rec,
    const struct est_issue_record *how, struct est_error *e)
{
	struct sq_store *s = sq(st);
	int64_t id = 0;
	enum est_err rc;

	if ((rc = sq_begin(s, e)) != EST_OK)
		return rc;
	rc = sq_put_issued_in_tx(s, rec, how, &id, e);
	if (rc == EST_OK)
		rc = sq_commit(s, e);
	if (rc != EST_OK) {
		sq_rollback(s);
		return rc;
	}
	rec->id = id;
	return EST_OK;
}

enum est_err
sq_put_cert_consume(struct est_store *st, struct est_cert_rec *rec, const char *code_hash,
    int64_t now, struct est_error *e)
{
	struct est_issue_record how = { .code_hash = code_hash, .now = now };

	return sq_put_issued(st, rec, &how, e);
}

/* ---- end entities ---- */

static int
bind_blob(sqlite3_stmt *q, int i, const unsigned char *p, size_t n)
{
	if (p == NULL)
		return sqlite3_bind_null(q, i);
	return sqlite3_bind_blob64(q, i, p, n, SQLITE_STATIC);
}

static int
bind_ee(sqlite3_stmt *q, const struct est_ee *ee)
{
	if (sqlite3_bind_text(q, 1, ee->username, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 2, ee->subject, -1, SQLITE_STATIC) != SQLITE_OK ||
	    bind_blob(q, 3, ee->subject_der, ee->subject_der_len) != SQLITE_OK ||
	    sqlite3_bind_text(q, 4, ee->san != NULL ? ee->san : "", -1, SQLITE_STATIC) != SQLITE_OK ||
	    bind_blob(q, 5, ee->san_der, ee->san_der_len) != SQLITE_OK ||
	    sqlite3_bind_text(q, 6, ee->alias, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 7, ee->profile != NULL ? ee->profile : "", -1,
	    SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 8, ee->code_hash, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 9, ee->uses_left) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 10, ee->valid_until) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 11, ee->created_at) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 12, ee->last_used) != SQLITE_OK)
		return -1;
	return 0;
}

/* File end entity id under the keys of its names (store_ee_keys). */
static enum est_err
index_ee(struct sq_store *s, int64_t id, const unsigned char *subject_der, size_t subject_len,
    const unsigned char *san_der, size_t san_len, struct est_error *e)
{
	struct codec_name_keys k = { 0 };
	sqlite3_stmt *q = NULL;
	enum est_err rc;

	if ((rc = store_ee_keys(subject_der, subject_len, san_der, san_len, &k, e)) == EST_OK)
		rc = sq_prepared(s, SQL_KEY_ADD, &q, e);
	for (size_t i = 0; rc == EST_OK && i < k.n; i++) {
		if (sqlite3_bind_text(q, 1, k.v[i], -1, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_int64(q, 2, id) != SQLITE_OK || sqlite3_step(q) != SQLITE_DONE)
			rc = sq_fail(s, "indexing an end entity's names", e);
		sq_done(q);
	}
	codec_name_keys_free(&k);
	return rc;
}

static enum est_err
index_row(sqlite3_stmt *q, void *arg, int *stop, struct est_error *e)
{
	const unsigned char *subject = sqlite3_column_blob(q, 1);
	size_t subject_len = (size_t)sqlite3_column_bytes(q, 1);
	const unsigned char *san = sqlite3_column_blob(q, 2);
	size_t san_len = (size_t)sqlite3_column_bytes(q, 2);

	(void)stop;
	return index_ee(arg, sqlite3_column_int64(q, 0), subject, subject_len, san, san_len, e);
}

enum est_err
sq_index_all_ee(struct sq_store *s, struct est_error *e)
{
	sqlite3_stmt *q = NULL;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_DER_ALL, &q, e)) != EST_OK)
		return rc;
	return sq_rows(s, q, index_row, s, "indexing the end entities", e);
}

/* The entity and its keys in one transaction: never one without the other. */
enum est_err
sq_put_ee(struct est_store *st, struct est_ee *ee, struct est_error *e)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q = NULL;
	enum est_err rc;
	int src;

	if ((rc = sq_prepared(s, SQL_INSERT, &q, e)) != EST_OK ||
	    (rc = sq_begin(s, e)) != EST_OK)
		return rc;
	if (ee->created_at == 0)
		ee->created_at = (int64_t)time(NULL);
	if (bind_ee(q, ee) != 0)
		rc = sq_fail(s, "binding an end entity", e);
	else if ((src = sqlite3_step(q)) == SQLITE_CONSTRAINT_UNIQUE)
		rc = est_fail(e, EST_ERR_EXISTS, "end entity %s is already registered", ee->username);
	else if (src != SQLITE_DONE)
		rc = sq_fail(s, "registering an end entity", e);
	else
		ee->id = sqlite3_last_insert_rowid(s->db);
	sq_done(q);
	if (rc == EST_OK)
		rc = index_ee(s, ee->id, ee->subject_der, ee->subject_der_len, ee->san_der,
		    ee->san_der_len, e);
	if (rc == EST_OK)
		rc = sq_commit(s, e);
	if (rc != EST_OK) {
		sq_rollback(s);
		ee->id = 0;
	}
	return rc;
}

/* The current row (EE_COLUMNS) as a new record. */
static enum est_err
row_to_ee(sqlite3_stmt *q, struct est_ee **out, struct est_error *e)
{
	struct est_ee *ee;

	if ((ee = calloc(1, sizeof(*ee))) == NULL ||
	    sq_col_text(q, 1, &ee->username) != 0 || sq_col_text(q, 2, &ee->subject) != 0 ||
	    sq_col_blob(q, 3, &ee->subject_der, &ee->subject_der_len) != 0 ||
	    sq_col_text(q, 4, &ee->san) != 0 ||
	    (sqlite3_column_type(q, 5) != SQLITE_NULL &&
	    sq_col_blob(q, 5, &ee->san_der, &ee->san_der_len) != 0) ||
	    sq_col_text(q, 6, &ee->alias) != 0 || sq_col_text(q, 7, &ee->profile) != 0 ||
	    sq_col_text(q, 8, &ee->code_hash) != 0) {
		est_ee_free(ee);
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading an end entity");
	}
	ee->id = sqlite3_column_int64(q, 0);
	ee->uses_left = sqlite3_column_int64(q, 9);
	ee->valid_until = sqlite3_column_int64(q, 10);
	ee->created_at = sqlite3_column_int64(q, 11);
	ee->last_used = sqlite3_column_int64(q, 12);
	*out = ee;
	return EST_OK;
}

/* Step q, bound to look one end entity up; who names it when none is registered. */
static enum est_err
one_ee(struct sq_store *s, sqlite3_stmt *q, const char *who, struct est_ee **out,
    struct est_error *e)
{
	enum est_err rc;
	int src;

	if ((src = sqlite3_step(q)) == SQLITE_DONE)
		rc = est_fail(e, EST_ERR_NOTFOUND, "no end entity %s is registered", who);
	else if (src != SQLITE_ROW)
		rc = sq_fail(s, "looking an end entity up", e);
	else
		rc = row_to_ee(q, out, e);
	sq_done(q);
	return rc;
}

enum est_err
sq_get_ee(struct est_store *st, const char *username, struct est_ee **out, struct est_error *e)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q = NULL;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_GET, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_text(q, 1, username, -1, SQLITE_STATIC) != SQLITE_OK) {
		rc = sq_fail(s, "binding a username", e);
		sq_done(q);
		return rc;
	}
	return one_ee(s, q, username, out, e);
}

enum est_err
sq_get_ee_by_id(struct est_store *st, int64_t id, struct est_ee **out, struct est_error *e)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q = NULL;
	char who[32];
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_GET_ID, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_int64(q, 1, id) != SQLITE_OK) {
		rc = sq_fail(s, "binding an end entity id", e);
		sq_done(q);
		return rc;
	}
	snprintf(who, sizeof(who), "#%lld", (long long)id);
	return one_ee(s, q, who, out, e);
}

struct list_ctx {
	est_ee_visit visit;
	void *arg;
};

static enum est_err
each_ee(sqlite3_stmt *q, void *arg, int *stop, struct est_error *e)
{
	struct list_ctx *c = arg;
	struct est_ee *ee;
	enum est_err rc;

	if ((rc = row_to_ee(q, &ee, e)) != EST_OK)
		return rc;
	*stop = c->visit(ee, c->arg);
	est_ee_free(ee);
	return EST_OK;
}

/* Visit the rows of a prepared, bound end entity query. */
static enum est_err
visit_ees(struct sq_store *s, sqlite3_stmt *q, est_ee_visit visit, void *arg,
    struct est_error *e)
{
	struct list_ctx c = { visit, arg };

	return sq_rows(s, q, each_ee, &c, "listing end entities", e);
}

enum est_err
sq_list_ee(struct est_store *st, est_ee_visit visit, void *arg, struct est_error *e)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q = NULL;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_LIST, &q, e)) != EST_OK)
		return rc;
	return visit_ees(s, q, visit, arg, e);
}

enum est_err
sq_list_ee_by_key(struct est_store *st, const char *key, unsigned max, est_ee_visit visit,
    void *arg, struct est_error *e)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q = NULL;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_BY_KEY, &q, e)) != EST_OK)
		return rc;
	/* LIMIT -1: no limit. */
	if (sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 2, max > 0 ? (sqlite3_int64)max : -1) != SQLITE_OK) {
		rc = sq_fail(s, "binding a name key", e);
		sq_done(q);
		return rc;
	}
	return visit_ees(s, q, visit, arg, e);
}

/* Run a one-row change keyed by username; NOTFOUND when no row changed. */
static enum est_err
change_ee(struct sq_store *s, sqlite3_stmt *q, const char *username, const char *doing,
    struct est_error *e)
{
	enum est_err rc = EST_OK;

	if (sqlite3_step(q) != SQLITE_DONE)
		rc = sq_fail(s, doing, e);
	else if (sqlite3_changes(s->db) != 1)
		rc = est_fail(e, EST_ERR_NOTFOUND, "no end entity %s is registered", username);
	sq_done(q);
	return rc;
}

enum est_err
sq_del_ee(struct est_store *st, const char *username, struct est_error *e)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q = NULL;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_DEL, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_text(q, 1, username, -1, SQLITE_STATIC) != SQLITE_OK) {
		rc = sq_fail(s, "binding a username", e);
		sq_done(q);
		return rc;
	}
	return change_ee(s, q, username, "removing an end entity", e);
}

enum est_err
sq_reset_ee(struct est_store *st, const char *username, const char *code_hash,
    int64_t uses_left, int64_t valid_until, struct est_error *e)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q = NULL;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_RESET, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_text(q, 1, username, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 2, code_hash, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 3, uses_left) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 4, valid_until) != SQLITE_OK) {
		rc = sq_fail(s, "binding an end entity", e);
		sq_done(q);
		return rc;
	}
	return change_ee(s, q, username, "resetting an end entity", e);
}

