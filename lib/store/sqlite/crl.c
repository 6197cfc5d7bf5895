/*
 * SQLite backend: revocation revisions and each CA's current CRL (schema
 * step 4 in db.c).
 *
 * The revision is kept by triggers on the certs table, so it counts every
 * revocation whichever statement made it; a release from hold (the triggers
 * count changes to revoked only) and a hold made final (its status stays)
 * are counted by the statements that make them (certs.c). A CRL replaces
 * the stored one only when its number is the next one, in a single upsert,
 * so two servers racing to renew a CRL cannot both win and the number never
 * repeats.
 */
#include <stdlib.h>
#include <string.h>

#include "sqlite_int.h"

static const char SQL_REVISION[] = "SELECT revision FROM revocation_counts WHERE issuer = ?1";
static const char SQL_GET[] = "SELECT crl_number, revision, this_update, next_update, der "
    "FROM crls WHERE issuer = ?1";
static const char SQL_PUT[] = "INSERT INTO crls (issuer, crl_number, revision, this_update, "
    "next_update, der) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (issuer) DO UPDATE SET "
    "crl_number = excluded.crl_number, revision = excluded.revision, "
    "this_update = excluded.this_update, next_update = excluded.next_update, "
    "der = excluded.der WHERE crls.crl_number = excluded.crl_number - 1";
static const char SQL_LIST[] = "SELECT crl_number, revision, this_update, next_update, der, "
    "issuer FROM crls ORDER BY issuer";

/* The current row (columns of SQL_GET, then the issuer) as a new record. */
static enum est_err
row_to_crl(sqlite3_stmt *q, struct est_crl_rec **out, struct est_error *e)
{
	struct est_crl_rec *r;

	if ((r = calloc(1, sizeof(*r))) == NULL || sq_col_blob(q, 4, &r->der, &r->der_len) != 0) {
		est_crl_rec_free(r);
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading a CRL");
	}
	r->crl_number = sqlite3_column_int64(q, 0);
	r->revision = sqlite3_column_int64(q, 1);
	r->this_update = sqlite3_column_int64(q, 2);
	r->next_update = sqlite3_column_int64(q, 3);
	*out = r;
	return EST_OK;
}

enum est_err
sq_revocation_revision(struct est_store *st, const char *issuer, int64_t *rev,
    struct est_error *e)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q = NULL;
	enum est_err rc;
	int src;

	if ((rc = sq_prepared(s, SQL_REVISION, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_text(q, 1, issuer, -1, SQLITE_STATIC) != SQLITE_OK)
		rc = sq_fail(s, "binding an issuer", e);
	else if ((src = sqlite3_step(q)) == SQLITE_ROW)
		*rev = sqlite3_column_int64(q, 0);
	else if (src == SQLITE_DONE)
		*rev = 0;
	else
		rc = sq_fail(s, "reading the revocation revision", e);
	sq_done(q);
	return rc;
}

enum est_err
sq_get_crl(struct est_store *st, const char *issuer, struct est_crl_rec **out,
    struct est_error *e)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q = NULL;
	enum est_err rc;
	int src;

	if ((rc = sq_prepared(s, SQL_GET, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_text(q, 1, issuer, -1, SQLITE_STATIC) != SQLITE_OK)
		rc = sq_fail(s, "binding an issuer", e);
	else if ((src = sqlite3_step(q)) == SQLITE_DONE)
		rc = est_fail(e, EST_ERR_NOTFOUND, "no CRL of issuer %s yet", issuer);
	else if (src != SQLITE_ROW)
		rc = sq_fail(s, "reading a CRL", e);
	else
		rc = row_to_crl(q, out, e);
	sq_done(q);
	return rc;
}

struct list_ctx {
	est_crl_visit visit;
	void *arg;
};

static enum est_err
each_crl(sqlite3_stmt *q, void *arg, int *stop, struct est_error *e)
{
	struct list_ctx *c = arg;
	struct est_crl_rec *r;
	enum est_err rc;

	if ((rc = row_to_crl(q, &r, e)) != EST_OK)
		return rc;
	*stop = c->visit((const char *)sqlite3_column_text(q, 5), r, c->arg);
	est_crl_rec_free(r);
	return EST_OK;
}

enum est_err
sq_list_crls(struct est_store *st, est_crl_visit visit, void *arg, struct est_error *e)
{
	struct sq_store *s = sq(st);
	struct list_ctx c = { visit, arg };
	sqlite3_stmt *q = NULL;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_LIST, &q, e)) != EST_OK)
		return rc;
	return sq_rows(s, q, each_crl, &c, "listing CRLs", e);
}

enum est_err
sq_put_crl(struct est_store *st, const char *issuer, const struct est_crl_rec *rec,
    struct est_error *e)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q = NULL;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_PUT, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_text(q, 1, issuer, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 2, rec->crl_number) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 3, rec->revision) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 4, rec->this_update) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 5, rec->next_update) != SQLITE_OK ||
	    sqlite3_bind_blob64(q, 6, rec->der, rec->der_len, SQLITE_STATIC) != SQLITE_OK)
		rc = sq_fail(s, "binding a CRL", e);
	else if (sqlite3_step(q) != SQLITE_DONE)
		rc = sq_fail(s, "recording a CRL", e);
	else if (sqlite3_changes(s->db) != 1)
		rc = est_fail(e, EST_ERR_EXISTS, "CRL number %lld of issuer %s was taken by "
		    "another writer", (long long)rec->crl_number, issuer);
	sq_done(q);
	return rc;
}
