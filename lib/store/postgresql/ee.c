/*
 * PostgreSQL backend: end entities and their enrolment codes (table
 * end_entities), and the one transaction that records an issued certificate
 * with what goes with it.
 *
 * Invariants, across servers: a use of a code is spent by an UPDATE whose
 * WHERE clause re-checks the hash, the uses left and the expiry; of two
 * servers spending the last use at once, the second waits for the first's
 * row lock, re-reads the row (READ COMMITTED) and changes nothing, so only
 * one certificate is recorded. Where a limit of valid certificates holds,
 * the end entity's row is locked first, so that two servers issuing to it
 * at once count one after the other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_int.h"

#define EE_COLUMNS "id, username, subject, subject_der, san, san_der, alias, profile, " \
	"code_hash, uses_left, valid_until, created_at, last_used"

static const char SQL_SPEND[] = "UPDATE end_entities SET last_used = $3, "
    "uses_left = CASE WHEN uses_left < 0 THEN uses_left ELSE uses_left - 1 END "
    "WHERE id = $1 AND code_hash = $2 AND uses_left <> 0 "
    "AND (valid_until = 0 OR valid_until >= $3)";
static const char SQL_LOCK[] = "SELECT 1 FROM end_entities WHERE id = $1 FOR UPDATE";
static const char SQL_ACTIVE[] = "SELECT COUNT(*) FROM certs WHERE ee_id = $1 "
    "AND status = 'valid' AND not_after > $2";
static const char SQL_INSERT[] = "INSERT INTO end_entities (username, subject, subject_der, "
    "san, san_der, alias, profile, code_hash, uses_left, valid_until, created_at, last_used) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id";
static const char SQL_GET[] = "SELECT " EE_COLUMNS " FROM end_entities WHERE username = $1";
static const char SQL_GET_ID[] = "SELECT " EE_COLUMNS " FROM end_entities WHERE id = $1";
static const char SQL_LIST[] = "SELECT " EE_COLUMNS " FROM end_entities ORDER BY username";
static const char SQL_DEL[] = "DELETE FROM end_entities WHERE username = $1";
static const char SQL_RESET[] = "UPDATE end_entities SET code_hash = $2, uses_left = $3, "
    "valid_until = $4 WHERE username = $1";
static const char SQL_BY_KEY[] = "SELECT " EE_COLUMNS " FROM end_entities "
    "WHERE id IN (SELECT ee_id FROM ee_names WHERE key = $1 LIMIT $2) ORDER BY username";
static const char SQL_KEY_ADD[] = "INSERT INTO ee_names (key, ee_id) VALUES ($1, $2) "
    "ON CONFLICT DO NOTHING";
static const char SQL_DER_ALL[] = "SELECT id, subject_der, san_der FROM end_entities";

/* ---- spending a use with the certificate ---- */

enum est_err
pg_spend(struct pg_store *s, int64_t ee_id, const char *code_hash, int64_t now,
    struct est_error *e)
{
	struct pg_params p = { 0 };
	PGresult *res;
	enum est_err rc;

	pg_int(&p, ee_id);
	pg_text(&p, code_hash);
	pg_int(&p, now);
	if ((rc = pg_exec(s, SQL_SPEND, &p, &res, "spending an enrolment code", e)) != EST_OK)
		return rc;
	if (pg_changed(res) != 1)
		rc = est_fail(e, EST_ERR_AUTH, "the enrolment code is spent, was reset, expired "
		    "or its end entity removed meanwhile");
	PQclear(res);
	return rc;
}

/*
 * Take the one certificate an approval is good for (approved -> issued), in
 * the transaction that records it: of two servers issuing on one approval,
 * the second re-reads the row after the first's commit and finds it issued.
 */
static enum est_err
claim(struct pg_store *s, int64_t id, int64_t now, struct est_error *e)
{
	struct est_error why = { 0 };
	enum est_err rc;

	rc = pg_set_request_state(&s->base, id, EST_REQ_APPROVED, EST_REQ_ISSUED, now, &why);
	if (rc == EST_ERR_FORBIDDEN || rc == EST_ERR_NOTFOUND)
		return est_fail(e, EST_ERR_PENDING, "the approval of request %lld was used by another "
		    "enrolment a moment ago (%s); ask again to wait for a new one", (long long)id,
		    why.msg);
	if (rc != EST_OK && e != NULL)
		*e = why;
	return rc;
}

enum est_err
pg_lock_ee(struct pg_store *s, int64_t ee_id, struct est_error *e)
{
	struct pg_params p = { 0 };

	pg_int(&p, ee_id);
	return pg_exec(s, SQL_LOCK, &p, NULL, "locking an end entity", e);
}

enum est_err
pg_count_active(struct pg_store *s, int64_t ee_id, int64_t now, int64_t *n,
    struct est_error *e)
{
	struct pg_params p = { 0 };
	PGresult *res;
	enum est_err rc;

	pg_int(&p, ee_id);
	pg_int(&p, now);
	if ((rc = pg_exec(s, SQL_ACTIVE, &p, &res, "counting valid certificates", e)) != EST_OK)
		return rc;
	*n = pg_col_int(res, 0, 0);
	PQclear(res);
	return EST_OK;
}

/* The end entity's valid certificates, this one included, within max. */
static enum est_err
check_active(struct pg_store *s, int64_t ee_id, unsigned max, int64_t now,
    struct est_error *e)
{
	int64_t n = 0;
	enum est_err rc;

	if ((rc = pg_count_active(s, ee_id, now, &n, e)) == EST_OK && n > (int64_t)max)
		rc = est_fail(e, EST_ERR_FORBIDDEN, "the end entity would hold %lld valid "
		    "certificates; the alias allows %u (max-active-certificates): revoke one, or "
		    "renew instead", (long long)n, max);
	return rc;
}

enum est_err
pg_put_issued_in_tx(struct pg_store *s, struct est_cert_rec *rec,
    const struct est_issue_record *how, int64_t *id, struct est_error *e)
{
	bool limited = how->max_active > 0 && rec->ee_id > 0;
	enum est_err rc;

	if (how->approval_id > 0 && (rc = claim(s, how->approval_id, how->now, e)) != EST_OK)
		return rc;
	/* Spending locks the row too; the lock comes first either way. */
	if (limited && how->code_hash == NULL && (rc = pg_lock_ee(s, rec->ee_id, e)) != EST_OK)
		return rc;
	if (how->code_hash != NULL &&
	    (rc = pg_spend(s, rec->ee_id, how->code_hash, how->now, e)) != EST_OK)
		return rc;
	if (how->replaces_serial != NULL) {
		rc = pg_revoke_in_tx(s, how->replaces_issuer, how->replaces_serial,
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
	if ((rc = pg_insert_cert(s, rec, id, e)) != EST_OK)
		return rc;
	if (limited)
		return check_active(s, rec->ee_id, how->max_active, how->now, e);
	return EST_OK;
}

enum est_err
pg_put_issued(struct est_store *st, struct est_cert_rec *rec,
    const struct est_issue_record *how, struct est_error *e)
{
	struct pg_store *s = pg(st);
	int64_t id = 0;
	enum est_err rc;

	if ((rc = pg_begin(s, e)) != EST_OK)
		return rc;
	rc = pg_put_issued_in_tx(s, rec, how, &id, e);
	if (rc == EST_OK)
		rc = pg_commit(s, e);
	if (rc != EST_OK) {
		pg_rollback(s);
		return rc;
	}
	rec->id = id;
	return EST_OK;
}

enum est_err
pg_put_cert_consume(struct est_store *st, struct est_cert_rec *rec, const char *code_hash,
    int64_t now, struct est_error *e)
{
	struct est_issue_record how = { .code_hash = code_hash, .now = now };

	return pg_put_issued(st, rec, &how, e);
}

/* ---- end entities ---- */

/* File end entity id under the keys of its names (store_ee_keys). */
static enum est_err
index_ee(struct pg_store *s, int64_t id, const unsigned char *subject_der, size_t subject_len,
    const unsigned char *san_der, size_t san_len, struct est_error *e)
{
	struct codec_name_keys k = { 0 };
	enum est_err rc;

	rc = store_ee_keys(subject_der, subject_len, san_der, san_len, &k, e);
	for (size_t i = 0; rc == EST_OK && i < k.n; i++) {
		struct pg_params p = { 0 };
		PGresult *res;

		pg_text(&p, k.v[i]);
		pg_int(&p, id);
		if ((rc = pg_exec(s, SQL_KEY_ADD, &p, &res, "indexing an end entity's names",
		    e)) == EST_OK)
			PQclear(res);
	}
	codec_name_keys_free(&k);
	return rc;
}

static enum est_err
index_row(PGresult *res, int i, void *arg, int *stop, struct est_error *e)
{
	unsigned char *subject = NULL, *san = NULL;
	size_t subject_len = 0, san_len = 0;
	enum est_err rc;

	(void)stop;
	if (pg_col_blob(res, i, 1, &subject, &subject_len) != 0 ||
	    (!pg_col_null(res, i, 2) && pg_col_blob(res, i, 2, &san, &san_len) != 0))
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory indexing the end entities");
	else
		rc = index_ee(arg, pg_col_int(res, i, 0), subject, subject_len, san, san_len, e);
	free(subject);
	free(san);
	return rc;
}

enum est_err
pg_index_all_ee(struct pg_store *s, struct est_error *e)
{
	PGresult *res;
	enum est_err rc;

	if ((rc = pg_exec(s, SQL_DER_ALL, NULL, &res, "indexing the end entities", e)) != EST_OK)
		return rc;
	return pg_rows(res, index_row, s, e);
}

/* The entity and its keys in one transaction: never one without the other. */
enum est_err
pg_put_ee(struct est_store *st, struct est_ee *ee, struct est_error *e)
{
	struct pg_store *s = pg(st);
	struct pg_params p = { 0 };
	PGresult *res;
	enum est_err rc;

	if (ee->created_at == 0)
		ee->created_at = (int64_t)time(NULL);
	pg_text(&p, ee->username);
	pg_text(&p, ee->subject);
	pg_blob(&p, ee->subject_der, ee->subject_der_len);
	pg_text(&p, ee->san != NULL ? ee->san : "");
	pg_blob(&p, ee->san_der, ee->san_der_len);
	pg_text(&p, ee->alias);
	pg_text(&p, ee->profile != NULL ? ee->profile : "");
	pg_text(&p, ee->code_hash);
	pg_int(&p, ee->uses_left);
	pg_int(&p, ee->valid_until);
	pg_int(&p, ee->created_at);
	pg_int(&p, ee->last_used);
	if ((rc = pg_begin(s, e)) != EST_OK)
		return rc;
	rc = pg_exec(s, SQL_INSERT, &p, &res, "registering an end entity", e);
	if (rc == EST_ERR_EXISTS)
		rc = est_fail(e, EST_ERR_EXISTS, "end entity %s is already registered",
		    ee->username);
	if (rc == EST_OK) {
		ee->id = pg_col_int(res, 0, 0);
		PQclear(res);
		rc = index_ee(s, ee->id, ee->subject_der, ee->subject_der_len, ee->san_der,
		    ee->san_der_len, e);
	}
	if (rc == EST_OK)
		rc = pg_commit(s, e);
	if (rc != EST_OK) {
		pg_rollback(s);
		ee->id = 0;
	}
	return rc;
}

/* Row i (EE_COLUMNS) as a new record. */
static enum est_err
row_to_ee(PGresult *res, int i, struct est_ee **out, struct est_error *e)
{
	struct est_ee *ee;

	if ((ee = calloc(1, sizeof(*ee))) == NULL ||
	    pg_col_text(res, i, 1, &ee->username) != 0 ||
	    pg_col_text(res, i, 2, &ee->subject) != 0 ||
	    pg_col_blob(res, i, 3, &ee->subject_der, &ee->subject_der_len) != 0 ||
	    pg_col_text(res, i, 4, &ee->san) != 0 ||
	    (!pg_col_null(res, i, 5) &&
	    pg_col_blob(res, i, 5, &ee->san_der, &ee->san_der_len) != 0) ||
	    pg_col_text(res, i, 6, &ee->alias) != 0 || pg_col_text(res, i, 7, &ee->profile) != 0 ||
	    pg_col_text(res, i, 8, &ee->code_hash) != 0) {
		est_ee_free(ee);
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading an end entity");
	}
	ee->id = pg_col_int(res, i, 0);
	ee->uses_left = pg_col_int(res, i, 9);
	ee->valid_until = pg_col_int(res, i, 10);
	ee->created_at = pg_col_int(res, i, 11);
	ee->last_used = pg_col_int(res, i, 12);
	*out = ee;
	return EST_OK;
}

/* res, the answer to looking one end entity up; who names it when none is registered. */
static enum est_err
one_ee(PGresult *res, const char *who, struct est_ee **out, struct est_error *e)
{
	enum est_err rc;

	if (PQntuples(res) == 0)
		rc = est_fail(e, EST_ERR_NOTFOUND, "no end entity %s is registered", who);
	else
		rc = row_to_ee(res, 0, out, e);
	PQclear(res);
	return rc;
}

enum est_err
pg_get_ee(struct est_store *st, const char *username, struct est_ee **out, struct est_error *e)
{
	struct pg_params p = { 0 };
	PGresult *res;
	enum est_err rc;

	pg_text(&p, username);
	if ((rc = pg_exec(pg(st), SQL_GET, &p, &res, "looking an end entity up", e)) != EST_OK)
		return rc;
	return one_ee(res, username, out, e);
}

enum est_err
pg_get_ee_by_id(struct est_store *st, int64_t id, struct est_ee **out, struct est_error *e)
{
	struct pg_params p = { 0 };
	PGresult *res;
	char who[32];
	enum est_err rc;

	pg_int(&p, id);
	if ((rc = pg_exec(pg(st), SQL_GET_ID, &p, &res, "looking an end entity up", e)) != EST_OK)
		return rc;
	snprintf(who, sizeof(who), "#%lld", (long long)id);
	return one_ee(res, who, out, e);
}

struct list_ctx {
	est_ee_visit visit;
	void *arg;
};

static enum est_err
each_ee(PGresult *res, int i, void *arg, int *stop, struct est_error *e)
{
	struct list_ctx *c = arg;
	struct est_ee *ee;
	enum est_err rc;

	if ((rc = row_to_ee(res, i, &ee, e)) != EST_OK)
		return rc;
	*stop = c->visit(ee, c->arg);
	est_ee_free(ee);
	return EST_OK;
}

enum est_err
pg_list_ee(struct est_store *st, est_ee_visit visit, void *arg, struct est_error *e)
{
	struct list_ctx c = { visit, arg };
	PGresult *res;
	enum est_err rc;

	if ((rc = pg_exec(pg(st), SQL_LIST, NULL, &res, "listing end entities", e)) != EST_OK)
		return rc;
	return pg_rows(res, each_ee, &c, e);
}

enum est_err
pg_list_ee_by_key(struct est_store *st, const char *key, unsigned max, est_ee_visit visit,
    void *arg, struct est_error *e)
{
	struct list_ctx c = { visit, arg };
	struct pg_params p = { 0 };
	PGresult *res;
	enum est_err rc;

	pg_text(&p, key);
	if (max > 0)
		pg_int(&p, max);
	else
		pg_text(&p, NULL); /* LIMIT NULL: no limit */
	if ((rc = pg_exec(pg(st), SQL_BY_KEY, &p, &res, "finding end entities by name", e)) !=
	    EST_OK)
		return rc;
	return pg_rows(res, each_ee, &c, e);
}

/* Run a one-row change keyed by username; NOTFOUND when no row changed. */
static enum est_err
change_ee(struct pg_store *s, const char *sql, struct pg_params *p, const char *username,
    const char *doing, struct est_error *e)
{
	PGresult *res;
	enum est_err rc;

	if ((rc = pg_exec(s, sql, p, &res, doing, e)) != EST_OK)
		return rc;
	if (pg_changed(res) != 1)
		rc = est_fail(e, EST_ERR_NOTFOUND, "no end entity %s is registered", username);
	PQclear(res);
	return rc;
}

enum est_err
pg_del_ee(struct est_store *st, const char *username, struct est_error *e)
{
	struct pg_params p = { 0 };

	pg_text(&p, username);
	return change_ee(pg(st), SQL_DEL, &p, username, "removing an end entity", e);
}

enum est_err
pg_reset_ee(struct est_store *st, const char *username, const char *code_hash,
    int64_t uses_left, int64_t valid_until, struct est_error *e)
{
	struct pg_params p = { 0 };

	pg_text(&p, username);
	pg_text(&p, code_hash);
	pg_int(&p, uses_left);
	pg_int(&p, valid_until);
	return change_ee(pg(st), SQL_RESET, &p, username, "resetting an end entity", e);
}
