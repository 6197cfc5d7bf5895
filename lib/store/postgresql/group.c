/*
 * PostgreSQL side of the grouped writer (lib/store/writer.c): a group is one
 * transaction, so its writes share one commit (one WAL flush); each write
 * (est_store_put_issued's or est_store_hold_request's work) runs inside a
 * SAVEPOINT, so that one that
 * fails (its code spent meanwhile by another server, its serial taken, its
 * end entity at its limit) is undone alone and the rest of the group still
 * commits. A lost connection fails the whole group as unavailable (503). Two
 * servers' groups that take two end entities' rows in opposite orders
 * deadlock; PostgreSQL fails one write, which is undone alone and answered
 * 503 with Retry-After (a retry within the group would wait for the same
 * rows again).
 */
#include "estkit/store.h"
#include "pg_int.h"

static const char SQL_SAVEPOINT[] = "SAVEPOINT est_write";
static const char SQL_UNDO[] = "ROLLBACK TO SAVEPOINT est_write";
static const char SQL_RELEASE[] = "RELEASE SAVEPOINT est_write";

enum est_err
pg_group_begin(struct est_store *st, struct est_error *e)
{
	return pg_begin(pg(st), e);
}

enum est_err
pg_group_write(struct est_store *st, struct est_write *w, struct est_error *e)
{
	struct pg_store *s = pg(st);
	int64_t id = 0;
	enum est_err rc;

	if ((rc = pg_exec(s, SQL_SAVEPOINT, NULL, NULL, "starting a write", e)) != EST_OK)
		return rc;
	if (w->hold != NULL)
		rc = pg_hold_request_in_tx(s, &w->hold_key, &w->held, e);
	else
		rc = pg_put_issued_in_tx(s, w->rec, w->how, &id, e);
	if (rc != EST_OK) {
		/* Undo this write only; the reason is already in e. */
		pg_exec(s, SQL_UNDO, NULL, NULL, "undoing a write", NULL);
		pg_exec(s, SQL_RELEASE, NULL, NULL, "undoing a write", NULL);
		return rc;
	}
	if ((rc = pg_exec(s, SQL_RELEASE, NULL, NULL, "ending a write", e)) == EST_OK &&
	    w->rec != NULL)
		w->rec->id = id;
	return rc;
}

enum est_err
pg_group_commit(struct est_store *st, struct est_error *e)
{
	return pg_commit(pg(st), e);
}

void
pg_group_rollback(struct est_store *st)
{
	pg_rollback(pg(st));
}
