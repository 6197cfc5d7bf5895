/*
 * PostgreSQL backend: requests held for manual approval (table requests).
 *
 * Invariants, across servers: at most one open request per key (alias,
 * operation, key, subject, SAN), kept by a partial unique index; two
 * servers holding the same request at once make one row (INSERT ... ON
 * CONFLICT DO NOTHING waits for the other's row, then finds it). A request
 * moves by one UPDATE that names the state it leaves, so of two servers
 * only one claims an approval.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"

/* The columns row_to_req reads, in its order. */
#define REQ_COLUMNS "id, alias, operation, spki_sha256, subject, san, principal, state, " \
	"created_at, decided_at"

static const char SQL_INSERT[] = "INSERT INTO requests (alias, operation, spki_sha256, "
    "subject, san, principal, state, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7) "
    "ON CONFLICT (alias, operation, spki_sha256, subject, san) WHERE state <> 'issued' "
    "DO NOTHING";
static const char SQL_FIND[] = "SELECT " REQ_COLUMNS " FROM requests WHERE alias = $1 "
    "AND operation = $2 AND spki_sha256 = $3 AND subject = $4 AND san = $5 "
    "AND state <> 'issued'";
static const char SQL_GET[] = "SELECT " REQ_COLUMNS " FROM requests WHERE id = $1";
static const char SQL_SET[] = "UPDATE requests SET state = $3, decided_at = CASE WHEN "
    "$3::text IN ('approved', 'rejected') THEN $4 ELSE decided_at END "
    "WHERE id = $1 AND state = $2";
static const char SQL_LIST[] = "SELECT " REQ_COLUMNS " FROM requests "
    "WHERE $1::int = 0 OR state <> 'issued' ORDER BY id";

static enum est_req_state
state_of(const char *t)
{
	for (int i = 0; i < EST_REQ_STATE__MAX; i++)
		if (strcmp(t, est_req_state_name((enum est_req_state)i)) == 0)
			return (enum est_req_state)i;
	return EST_REQ_STATE__MAX;
}

/* Row i (columns REQ_COLUMNS) as a new record. */
static enum est_err
row_to_req(PGresult *res, int i, struct est_req_rec **out, struct est_error *e)
{
	struct est_req_rec *r;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    pg_col_text(res, i, 1, &r->alias) != 0 || pg_col_text(res, i, 2, &r->operation) != 0 ||
	    pg_col_text(res, i, 4, &r->subject) != 0 || pg_col_text(res, i, 5, &r->san) != 0 ||
	    pg_col_text(res, i, 6, &r->principal) != 0) {
		est_req_rec_free(r);
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading a request");
	}
	r->id = pg_col_int(res, i, 0);
	snprintf(r->spki_sha256, sizeof(r->spki_sha256), "%s", PQgetvalue(res, i, 3));
	r->state = state_of(PQgetvalue(res, i, 7));
	r->created_at = pg_col_int(res, i, 8);
	r->decided_at = pg_col_int(res, i, 9);
	*out = r;
	return EST_OK;
}

static void
bind_req_key(struct pg_params *p, const struct est_req_rec *r)
{
	pg_text(p, r->alias);
	pg_text(p, r->operation);
	pg_text(p, r->spki_sha256);
	pg_text(p, r->subject);
	pg_text(p, r->san);
}

/* The one row of query sql with p, or *out NULL when none. */
static enum est_err
one_req(struct pg_store *s, const char *sql, struct pg_params *p, struct est_req_rec **out,
    struct est_error *e)
{
	PGresult *res;
	enum est_err rc;

	*out = NULL;
	if ((rc = pg_exec(s, sql, p, &res, "looking a request up", e)) != EST_OK)
		return rc;
	if (PQntuples(res) > 0)
		rc = row_to_req(res, 0, out, e);
	PQclear(res);
	return rc;
}

enum est_err
pg_hold_request_in_tx(struct pg_store *s, const struct est_req_rec *rec,
    struct est_req_rec **out, struct est_error *e)
{
	struct pg_params ins = { 0 }, key = { 0 };
	struct est_req_rec *found = NULL;
	enum est_err rc;

	bind_req_key(&ins, rec);
	pg_text(&ins, rec->principal);
	pg_int(&ins, rec->created_at);
	bind_req_key(&key, rec);
	rc = pg_exec(s, SQL_INSERT, &ins, NULL, "recording a request", e);
	if (rc == EST_OK)
		rc = one_req(s, SQL_FIND, &key, &found, e);
	if (rc == EST_OK && found == NULL)
		rc = est_fail(e, EST_ERR_STORE, "%s: a request held a moment ago is gone", s->name);
	if (rc != EST_OK)
		return rc;
	*out = found;
	return EST_OK;
}

enum est_err
pg_hold_request(struct est_store *st, const struct est_req_rec *rec, struct est_req_rec **out,
    struct est_error *e)
{
	return pg_hold_request_in_tx(pg(st), rec, out, e);
}

enum est_err
pg_find_request(struct est_store *st, const struct est_req_rec *rec, struct est_req_rec **out,
    struct est_error *e)
{
	struct pg_params key = { 0 };

	bind_req_key(&key, rec);
	return one_req(pg(st), SQL_FIND, &key, out, e);
}

struct list_ctx {
	est_req_visit visit;
	void *arg;
};

static enum est_err
each_req(PGresult *res, int i, void *arg, int *stop, struct est_error *e)
{
	struct list_ctx *c = arg;
	struct est_req_rec *rec;
	enum est_err rc;

	if ((rc = row_to_req(res, i, &rec, e)) != EST_OK)
		return rc;
	*stop = c->visit(rec, c->arg);
	est_req_rec_free(rec);
	return EST_OK;
}

enum est_err
pg_list_requests(struct est_store *st, bool open_only, est_req_visit visit, void *arg,
    struct est_error *e)
{
	struct list_ctx c = { visit, arg };
	struct pg_params p = { 0 };
	PGresult *res;
	enum est_err rc;

	pg_int(&p, open_only ? 1 : 0);
	if ((rc = pg_exec(pg(st), SQL_LIST, &p, &res, "listing requests", e)) != EST_OK)
		return rc;
	return pg_rows(res, each_req, &c, e);
}

/* Why a request could not move: it is missing, or in another state. */
static enum est_err
explain_state(struct pg_store *s, int64_t id, enum est_req_state from, struct est_error *e)
{
	struct pg_params p = { 0 };
	struct est_req_rec *r = NULL;
	enum est_err rc;

	pg_int(&p, id);
	if ((rc = one_req(s, SQL_GET, &p, &r, e)) != EST_OK)
		return rc;
	if (r == NULL)
		return est_fail(e, EST_ERR_NOTFOUND, "no request %lld", (long long)id);
	rc = est_fail(e, EST_ERR_FORBIDDEN, "request %lld is %s, not %s", (long long)id,
	    est_req_state_name(r->state), est_req_state_name(from));
	est_req_rec_free(r);
	return rc;
}

enum est_err
pg_set_request_state(struct est_store *st, int64_t id, enum est_req_state from,
    enum est_req_state to, int64_t when, struct est_error *e)
{
	struct pg_store *s = pg(st);
	struct pg_params p = { 0 };
	PGresult *res;
	int64_t changed;
	enum est_err rc;

	pg_int(&p, id);
	pg_text(&p, est_req_state_name(from));
	pg_text(&p, est_req_state_name(to));
	pg_int(&p, when);
	if ((rc = pg_exec(s, SQL_SET, &p, &res, "changing a request's state", e)) != EST_OK)
		return rc;
	changed = pg_changed(res);
	PQclear(res);
	if (changed != 1)
		return explain_state(s, id, from, e);
	return EST_OK;
}
