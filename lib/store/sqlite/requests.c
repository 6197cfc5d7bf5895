/*
 * SQLite backend: requests held for manual approval (table requests, schema
 * step 3 in db.c).
 *
 * Invariant: at most one open request per key (alias, operation, key,
 * subject, SAN), kept by a partial unique index; a request moves between
 * states by one UPDATE that names the state it leaves, so of two servers
 * only one claims an approval.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_int.h"

/* The columns row_to_req reads, in its order. */
#define REQ_COLUMNS "id, alias, operation, spki_sha256, subject, san, principal, state, " \
	"created_at, decided_at"

static const char SQL_FIND[] = "SELECT " REQ_COLUMNS " FROM requests WHERE alias = ?1 "
    "AND operation = ?2 AND spki_sha256 = ?3 AND subject = ?4 AND san = ?5 "
    "AND state <> 'issued'";
static const char SQL_INSERT[] = "INSERT INTO requests (alias, operation, spki_sha256, "
    "subject, san, principal, state, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)";
static const char SQL_GET[] = "SELECT " REQ_COLUMNS " FROM requests WHERE id = ?1";
static const char SQL_SET[] = "UPDATE requests SET state = ?3, decided_at = CASE WHEN ?3 IN "
    "('approved', 'rejected') THEN ?4 ELSE decided_at END WHERE id = ?1 AND state = ?2";
static const char SQL_LIST[] = "SELECT " REQ_COLUMNS " FROM requests "
    "WHERE ?1 = 0 OR state <> 'issued' ORDER BY id";

static enum est_req_state
state_of(const unsigned char *t)
{
	for (int i = 0; t != NULL && i < EST_REQ_STATE__MAX; i++)
		if (strcmp((const char *)t, est_req_state_name((enum est_req_state)i)) == 0)
			return (enum est_req_state)i;
	return EST_REQ_STATE__MAX;
}

/* The current row (columns REQ_COLUMNS) as a new record. */
static enum est_err
row_to_req(sqlite3_stmt *q, struct est_req_rec **out, struct est_error *e)
{
	struct est_req_rec *r;
	const unsigned char *t;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    sq_col_text(q, 1, &r->alias) != 0 || sq_col_text(q, 2, &r->operation) != 0 ||
	    sq_col_text(q, 4, &r->subject) != 0 || sq_col_text(q, 5, &r->san) != 0 ||
	    sq_col_text(q, 6, &r->principal) != 0) {
		est_req_rec_free(r);
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading a request");
	}
	r->id = sqlite3_column_int64(q, 0);
	t = sqlite3_column_text(q, 3);
	snprintf(r->spki_sha256, sizeof(r->spki_sha256), "%s", t != NULL ? (const char *)t : "");
	r->state = state_of(sqlite3_column_text(q, 7));
	r->created_at = sqlite3_column_int64(q, 8);
	r->decided_at = sqlite3_column_type(q, 9) == SQLITE_NULL ? 0 : sqlite3_column_int64(q, 9);
	*out = r;
	return EST_OK;
}

static int
bind_req_key(sqlite3_stmt *q, const struct est_req_rec *r)
{
	if (sqlite3_bind_text(q, 1, r->alias, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 2, r->operation, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 3, r->spki_sha256, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 4, r->subject, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 5, r->san, -1, SQLITE_STATIC) != SQLITE_OK)
		return -1;
	return 0;
}

/* Run a one-row query q whose parameters are bound; *out NULL when no row. */
static enum est_err
one_req(struct sq_store *s, sqlite3_stmt *q, struct est_req_rec **out, struct est_error *e)
{
	enum est_err rc = EST_OK;
	int src;

	*out = NULL;
	if ((src = sqlite3_step(q)) == SQLITE_ROW)
		rc = row_to_req(q, out, e);
	else if (src != SQLITE_DONE)
		rc = sq_fail(s, "looking a request up", e);
	sq_done(q);
	return rc;
}

static enum est_err
get_req(struct sq_store *s, int64_t id, struct est_req_rec **out, struct est_error *e)
{
	sqlite3_stmt *q;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_GET, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_int64(q, 1, id) != SQLITE_OK) {
		rc = sq_fail(s, "binding a request id", e);
		sq_done(q);
		return rc;
	}
	return one_req(s, q, out, e);
}

static enum est_err
find_open_req(struct sq_store *s, const struct est_req_rec *key, struct est_req_rec **out,
    struct est_error *e)
{
	sqlite3_stmt *q;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_FIND, &q, e)) != EST_OK)
		return rc;
	if (bind_req_key(q, key) != 0) {
		rc = sq_fail(s, "binding a request", e);
		sq_done(q);
		return rc;
	}
	return one_req(s, q, out, e);
}

static enum est_err
insert_req(struct sq_store *s, const struct est_req_rec *r, int64_t *id, struct est_error *e)
{
	sqlite3_stmt *q;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_INSERT, &q, e)) != EST_OK)
		return rc;
	if (bind_req_key(q, r) != 0 ||
	    sqlite3_bind_text(q, 6, r->principal, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 7, r->created_at) != SQLITE_OK)
		rc = sq_fail(s, "binding a request", e);
	else if (sqlite3_step(q) != SQLITE_DONE)
		rc = sq_fail(s, "recording a request", e);
	else
		*id = sqlite3_last_insert_rowid(s->db);
	sq_done(q);
	return rc;
}

enum est_err
sq_hold_request_in_tx(struct sq_store *s, const struct est_req_rec *rec,
    struct est_req_rec **out, struct est_error *e)
{
	struct est_req_rec *found = NULL;
	int64_t id = 0;
	enum est_err rc;

	rc = find_open_req(s, rec, &found, e);
	if (rc == EST_OK && found == NULL && (rc = insert_req(s, rec, &id, e)) == EST_OK)
		rc = get_req(s, id, &found, e);
	if (rc != EST_OK) {
		est_req_rec_free(found);
		return rc;
	}
	*out = found;
	return EST_OK;
}

enum est_err
sq_find_request(struct est_store *st, const struct est_req_rec *rec, struct est_req_rec **out,
    struct est_error *e)
{
	return find_open_req(sq(st), rec, out, e);
}

enum est_err
sq_hold_request(struct est_store *st, const struct est_req_rec *rec, struct est_req_rec **out,
    struct est_error *e)
{
	struct sq_store *s = sq(st);
	struct est_req_rec *found = NULL;
	enum est_err rc;

	if ((rc = sq_begin(s, e)) != EST_OK)
		return rc;
	rc = sq_hold_request_in_tx(s, rec, &found, e);
	if (rc == EST_OK)
		rc = sq_commit(s, e);
	if (rc != EST_OK) {
		sq_rollback(s);
		est_req_rec_free(found);
		return rc;
	}
	*out = found;
	return EST_OK;
}

struct list_ctx {
	est_req_visit visit;
	void *arg;
};

static enum est_err
each_req(sqlite3_stmt *q, void *arg, int *stop, struct est_error *e)
{
	struct list_ctx *c = arg;
	struct est_req_rec *rec;
	enum est_err rc;

	if ((rc = row_to_req(q, &rec, e)) != EST_OK)
		return rc;
	*stop = c->visit(rec, c->arg);
	est_req_rec_free(rec);
	return EST_OK;
}

enum est_err
sq_list_requests(struct est_store *st, bool open_only, est_req_visit visit, void *arg,
    struct est_error *e)
{
	struct sq_store *s = sq(st);
	struct list_ctx c = { visit, arg };
	sqlite3_stmt *q;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_LIST, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_int(q, 1, open_only ? 1 : 0) != SQLITE_OK) {
		rc = sq_fail(s, "binding a request filter", e);
		sq_done(q);
		return rc;
	}
	return sq_rows(s, q, each_req, &c, "listing requests", e);
}

/* Why a request could not move: it is missing, or in another state. */
static enum est_err
explain_state(struct sq_store *s, int64_t id, enum est_req_state from, struct est_error *e)
{
	struct est_req_rec *r = NULL;
	enum est_err rc;

	if ((rc = get_req(s, id, &r, e)) != EST_OK)
		return rc;
	if (r == NULL)
		return est_fail(e, EST_ERR_NOTFOUND, "no request %lld", (long long)id);
	rc = est_fail(e, EST_ERR_FORBIDDEN, "request %lld is %s, not %s", (long long)id,
	    est_req_state_name(r->state), est_req_state_name(from));
	est_req_rec_free(r);
	return rc;
}

enum est_err
sq_set_request_state(struct est_store *st, int64_t id, enum est_req_state from,
    enum est_req_state to, int64_t when, struct est_error *e)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q;
	enum est_err rc;
	int changed = 0;

	if ((rc = sq_prepared(s, SQL_SET, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_int64(q, 1, id) != SQLITE_OK ||
	    sqlite3_bind_text(q, 2, est_req_state_name(from), -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 3, est_req_state_name(to), -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 4, when) != SQLITE_OK)
		rc = sq_fail(s, "binding a request state", e);
	else if (sqlite3_step(q) != SQLITE_DONE)
		rc = sq_fail(s, "changing a request's state", e);
	else
		changed = sqlite3_changes(s->db);
	sq_done(q);
	if (rc == EST_OK && changed != 1)
		rc = explain_state(s, id, from, e);
	return rc;
}
