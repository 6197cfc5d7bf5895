/*
 * SQLite backend: CA certificates imported as external (table external_cas,
 * schema step 2 in db.c), trusted only where an alias names them.
 */
#include <stdlib.h>
#include <time.h>

#include "sqlite_int.h"

static const char SQL_INSERT[] = "INSERT INTO external_cas (name, subject, der, imported_at) "
    "VALUES (?1, ?2, ?3, ?4)";
static const char SQL_LIST[] = "SELECT name, subject, der, imported_at FROM external_cas "
    "ORDER BY name";

struct list_ctx {
	est_ext_ca_visit visit;
	void *arg;
};

enum est_err
sq_put_ext_ca(struct est_store *st, struct est_ext_ca *ca, struct est_error *e)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q = NULL;
	enum est_err rc;
	int src;

	if ((rc = sq_prepared(s, SQL_INSERT, &q, e)) != EST_OK)
		return rc;
	if (ca->imported_at == 0)
		ca->imported_at = (int64_t)time(NULL);
	if (sqlite3_bind_text(q, 1, ca->name, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 2, ca->subject, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob64(q, 3, ca->der, ca->der_len, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 4, ca->imported_at) != SQLITE_OK)
		rc = sq_fail(s, "binding an external CA", e);
	else if ((src = sqlite3_step(q)) == SQLITE_CONSTRAINT_PRIMARYKEY ||
	    src == SQLITE_CONSTRAINT_UNIQUE)
		rc = est_fail(e, EST_ERR_EXISTS, "an external CA named %s is already imported",
		    ca->name);
	else if (src != SQLITE_DONE)
		rc = sq_fail(s, "importing an external CA", e);
	sq_done(q);
	return rc;
}

static enum est_err
each_ca(sqlite3_stmt *q, void *arg, int *stop, struct est_error *e)
{
	struct list_ctx *c = arg;
	struct est_ext_ca *ca;

	if ((ca = calloc(1, sizeof(*ca))) == NULL || sq_col_text(q, 0, &ca->name) != 0 ||
	    sq_col_text(q, 1, &ca->subject) != 0 || sq_col_blob(q, 2, &ca->der, &ca->der_len) != 0) {
		est_ext_ca_free(ca);
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading an external CA");
	}
	ca->imported_at = sqlite3_column_int64(q, 3);
	*stop = c->visit(ca, c->arg);
	est_ext_ca_free(ca);
	return EST_OK;
}

enum est_err
sq_list_ext_ca(struct est_store *st, est_ext_ca_visit visit, void *arg, struct est_error *e)
{
	struct sq_store *s = sq(st);
	struct list_ctx c = { visit, arg };
	sqlite3_stmt *q = NULL;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_LIST, &q, e)) != EST_OK)
		return rc;
	return sq_rows(s, q, each_ca, &c, "listing external CAs", e);
}
