/*
 * PostgreSQL backend: revocation revisions and each CA's current CRL.
 *
 * The revision is kept by a trigger on certs (schema step 4 in db.c), so it
 * counts every revocation by every server; a release from hold and a hold
 * made final are counted by the statements that make them (certs.c). A CRL
 * replaces the stored one only when its number is the next one, in a single
 * upsert, so two servers racing to renew a CRL cannot both win and the
 * number never repeats.
 */
#include <stdlib.h>

#include "pg_int.h"

static const char SQL_REVISION[] = "SELECT revision FROM revocation_counts WHERE issuer = $1";
static const char SQL_GET[] = "SELECT crl_number, revision, this_update, next_update, der "
    "FROM crls WHERE issuer = $1";
static const char SQL_PUT[] = "INSERT INTO crls (issuer, crl_number, revision, this_update, "
    "next_update, der) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (issuer) DO UPDATE SET "
    "crl_number = excluded.crl_number, revision = excluded.revision, "
    "this_update = excluded.this_update, next_update = excluded.next_update, "
    "der = excluded.der WHERE crls.crl_number = excluded.crl_number - 1";
static const char SQL_LIST[] = "SELECT crl_number, revision, this_update, next_update, der, "
    "issuer FROM crls ORDER BY issuer";

/* Row i (columns of SQL_GET) as a new record. */
static enum est_err
row_to_crl(PGresult *res, int i, struct est_crl_rec **out, struct est_error *e)
{
	struct est_crl_rec *r;

	if ((r = calloc(1, sizeof(*r))) == NULL || pg_col_blob(res, i, 4, &r->der, &r->der_len) != 0) {
		est_crl_rec_free(r);
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading a CRL");
	}
	r->crl_number = pg_col_int(res, i, 0);
	r->revision = pg_col_int(res, i, 1);
	r->this_update = pg_col_int(res, i, 2);
	r->next_update = pg_col_int(res, i, 3);
	*out = r;
	return EST_OK;
}

enum est_err
pg_revocation_revision(struct est_store *st, const char *issuer, int64_t *rev,
    struct est_error *e)
{
	struct pg_params p = { 0 };
	PGresult *res;
	enum est_err rc;

	pg_text(&p, issuer);
	rc = pg_exec(pg(st), SQL_REVISION, &p, &res, "reading the revocation revision", e);
	if (rc != EST_OK)
		return rc;
	*rev = PQntuples(res) > 0 ? pg_col_int(res, 0, 0) : 0;
	PQclear(res);
	return EST_OK;
}

enum est_err
pg_get_crl(struct est_store *st, const char *issuer, struct est_crl_rec **out,
    struct est_error *e)
{
	struct pg_params p = { 0 };
	PGresult *res;
	enum est_err rc;

	pg_text(&p, issuer);
	if ((rc = pg_exec(pg(st), SQL_GET, &p, &res, "reading a CRL", e)) != EST_OK)
		return rc;
	if (PQntuples(res) == 0)
		rc = est_fail(e, EST_ERR_NOTFOUND, "no CRL of issuer %s yet", issuer);
	else
		rc = row_to_crl(res, 0, out, e);
	PQclear(res);
	return rc;
}

struct list_ctx {
	est_crl_visit visit;
	void *arg;
};

static enum est_err
each_crl(PGresult *res, int i, void *arg, int *stop, struct est_error *e)
{
	struct list_ctx *c = arg;
	struct est_crl_rec *r;
	enum est_err rc;

	if ((rc = row_to_crl(res, i, &r, e)) != EST_OK)
		return rc;
	*stop = c->visit(PQgetvalue(res, i, 5), r, c->arg);
	est_crl_rec_free(r);
	return EST_OK;
}

enum est_err
pg_list_crls(struct est_store *st, est_crl_visit visit, void *arg, struct est_error *e)
{
	struct list_ctx c = { visit, arg };
	PGresult *res;
	enum est_err rc;

	if ((rc = pg_exec(pg(st), SQL_LIST, NULL, &res, "listing CRLs", e)) != EST_OK)
		return rc;
	return pg_rows(res, each_crl, &c, e);
}

enum est_err
pg_put_crl(struct est_store *st, const char *issuer, const struct est_crl_rec *rec,
    struct est_error *e)
{
	struct pg_params p = { 0 };
	PGresult *res;
	enum est_err rc;

	pg_text(&p, issuer);
	pg_int(&p, rec->crl_number);
	pg_int(&p, rec->revision);
	pg_int(&p, rec->this_update);
	pg_int(&p, rec->next_update);
	pg_blob(&p, rec->der, rec->der_len);
	if ((rc = pg_exec(pg(st), SQL_PUT, &p, &res, "recording a CRL", e)) != EST_OK)
		return rc;
	if (pg_changed(res) != 1)
		rc = est_fail(e, EST_ERR_EXISTS, "CRL number %lld of issuer %s was taken by "
		    "another writer", (long long)rec->crl_number, issuer);
	PQclear(res);
	return rc;
}
