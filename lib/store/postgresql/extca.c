/*
 * PostgreSQL backend: CA certificates imported as external (table
 * external_cas), trusted only where an alias names them.
 */
#include <stdlib.h>
#include <time.h>

#include "pg_int.h"

static const char SQL_INSERT[] = "INSERT INTO external_cas (name, subject, der, imported_at) "
    "VALUES ($1, $2, $3, $4)";
static const char SQL_LIST[] = "SELECT name, subject, der, imported_at FROM external_cas "
    "ORDER BY name";

enum est_err
pg_put_ext_ca(struct est_store *st, struct est_ext_ca *ca, struct est_error *e)
{
	struct pg_params p = { 0 };
	enum est_err rc;

	if (ca->imported_at == 0)
		ca->imported_at = (int64_t)time(NULL);
	pg_text(&p, ca->name);
	pg_text(&p, ca->subject);
	pg_blob(&p, ca->der, ca->der_len);
	pg_int(&p, ca->imported_at);
	rc = pg_exec(pg(st), SQL_INSERT, &p, NULL, "importing an external CA", e);
	if (rc == EST_ERR_EXISTS)
		return est_fail(e, EST_ERR_EXISTS, "an external CA named %s is already imported",
		    ca->name);
	return rc;
}

struct list_ctx {
	est_ext_ca_visit visit;
	void *arg;
};

static enum est_err
each_ca(PGresult *res, int i, void *arg, int *stop, struct est_error *e)
{
	struct list_ctx *c = arg;
	struct est_ext_ca *ca;

	if ((ca = calloc(1, sizeof(*ca))) == NULL || pg_col_text(res, i, 0, &ca->name) != 0 ||
	    pg_col_text(res, i, 1, &ca->subject) != 0 ||
	    pg_col_blob(res, i, 2, &ca->der, &ca->der_len) != 0) {
		est_ext_ca_free(ca);
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading an external CA");
	}
	ca->imported_at = pg_col_int(res, i, 3);
	*stop = c->visit(ca, c->arg);
	est_ext_ca_free(ca);
	return EST_OK;
}

enum est_err
pg_list_ext_ca(struct est_store *st, est_ext_ca_visit visit, void *arg, struct est_error *e)
{
	struct list_ctx c = { visit, arg };
	PGresult *res;
	enum est_err rc;

	if ((rc = pg_exec(pg(st), SQL_LIST, NULL, &res, "listing external CAs", e)) != EST_OK)
		return rc;
	return pg_rows(res, each_ca, &c, e);
}
