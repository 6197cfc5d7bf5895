/*
 * SQLite backend: revocation revisions and each CA's current CRL (schema
 * step 4 in sqlite.c).
 *
 * The revision is kept by triggers on the certs table, so it counts every
 * revocation whichever statement made it. A CRL replaces the stored one only
 * when its number is the next one, in a single upsert, so two servers racing
 * to renew a CRL cannot both win and the number never repeats.
 */
#include <stdlib.h>
#include <string.h>

#include "sqlite_int.h"

enum crl_query {
	C_REVISION,
	C_GET,
	C_PUT,
	C__MAX
};

_Static_assert(C__MAX <= SQ_CRL__MAX, "sqlite_int.h: SQ_CRL__MAX too small");

static const char *const queries[C__MAX] = {
	[C_REVISION] = "SELECT revision FROM revocation_counts WHERE issuer = ?1",
	[C_GET] = "SELECT crl_number, revision, this_update, next_update, der FROM crls "
	    "WHERE issuer = ?1",
	[C_PUT] = "INSERT INTO crls (issuer, crl_number, revision, this_update, next_update, der) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (issuer) DO UPDATE SET "
	    "crl_number = excluded.crl_number, revision = excluded.revision, "
	    "this_update = excluded.this_update, next_update = excluded.next_update, "
	    "der = excluded.der WHERE crls.crl_number = excluded.crl_number - 1",
};

static struct sq_store *
sq(struct est_store *st)
{
	return (struct sq_store *)st;
}

static enum est_err
prepared(struct sq_store *s, enum crl_query q, sqlite3_stmt **out, struct est_error *e)
{
	if (s->crl_stmt[q] == NULL && sqlite3_prepare_v3(s->db, queries[q], -1,
	    SQLITE_PREPARE_PERSISTENT, &s->crl_stmt[q], NULL) != SQLITE_OK)
		return sq_fail(s, "preparing a statement", e);
	*out = s->crl_stmt[q];
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

	if ((rc = prepared(s, C_REVISION, &q, e)) != EST_OK)
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
	struct est_crl_rec *r = NULL;
	sqlite3_stmt *q = NULL;
	enum est_err rc;
	int src;

	if ((rc = prepared(s, C_GET, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_text(q, 1, issuer, -1, SQLITE_STATIC) != SQLITE_OK)
		rc = sq_fail(s, "binding an issuer", e);
	else if ((src = sqlite3_step(q)) == SQLITE_DONE)
		rc = est_fail(e, EST_ERR_NOTFOUND, "no CRL of issuer %s yet", issuer);
	else if (src != SQLITE_ROW)
		rc = sq_fail(s, "reading a CRL", e);
	else if ((r = calloc(1, sizeof(*r))) == NULL || sq_col_blob(q, 4, &r->der, &r->der_len) != 0)
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory reading a CRL");
	else {
		r->crl_number = sqlite3_column_int64(q, 0);
		r->revision = sqlite3_column_int64(q, 1);
		r->this_update = sqlite3_column_int64(q, 2);
		r->next_update = sqlite3_column_int64(q, 3);
	}
	sq_done(q);
	if (rc != EST_OK) {
		est_crl_rec_free(r);
		return rc;
	}
	*out = r;
	return EST_OK;
}

enum est_err
sq_put_crl(struct est_store *st, const char *issuer, const struct est_crl_rec *rec,
    struct est_error *e)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q = NULL;
	enum est_err rc;

	if ((rc = prepared(s, C_PUT, &q, e)) != EST_OK)
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
