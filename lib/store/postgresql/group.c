/*
 * PostgreSQL side of the grouped writer (lib/store/writer.c): a group is one
 * transaction, so its writes share one commit (one WAL flush); each write
 * (est_store_put_issued's or est_store_hold_request's work) runs inside a
 * SAVEPOINT, so that one that
 * fails (its code spent meanwhile by another server, its serial taken, its
 * end entity at its limit) is undone alone and the rest of the group still
 * commits. If a write cannot be undone so (a failed ROLLBACK TO leaves the
 * transaction aborted), the group is lost: each later write of the group
 * and its commit fail with the first reason, and the writer fails the writes
 * made before. A lost connection fails the whole group as unavailable (503). Two
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
	struct pg_store *s = pg(st);

	s->group.lost = false;
	return pg_begin(s, e);
}

enum est_err
pg_group_write(struct est_store *st, struct est_write *w, struct est_error *e)
{
	struct pg_store *s = pg(st);
	struct est_error undo = { 0 };
	int64_t id = 0;
	enum est_err rc;

	if ((rc = store_group_check(&s->group, e)) != EST_OK)
		return rc;
	if ((rc = pg_exec(s, SQL_SAVEPOINT, NULL, NULL, "starting a write", e)) != EST_OK) {
		store_group_lose(&s->group, e);
		return rc;
	}
	if (w->hold != NULL)
		rc = pg_hold_request_in_tx(s, &w->hold_key, &w->held, e);
	else
		rc = pg_put_issued_in_tx(s, w->rec, w->how, &id, e);
	if (rc != EST_OK) {
		/* Undo this write only; the reason is already in e. */
		if (pg_exec(s, SQL_UNDO, NULL, NULL, "undoing a write", &undo) != EST_OK ||
		    pg_exec(s, SQL_RELEASE, NULL, NULL, "undoing a write", &undo) != EST_OK)
			store_group_lose(&s->group, &undo);
		return rc;
	}
	if ((rc = pg_exec(s, SQL_RELEASE, NULL, NULL, "ending a write", e)) != EST_OK) {
		store_group_lose(&s->group, e);
		return rc;
	}
	if (w->rec != NULL)
		w->rec->id = id;
	return EST_OK;
}

enum est_err
pg_group_commit(struct est_store *st, struct est_error *e)
{
	struct pg_store *s = pg(st);
	enum est_err rc;

	if ((rc = store_group_check(&s->group, e)) != EST_OK)
		return rc;
	return pg_commit(s, e);
}

void
pg_group_rollback(struct est_store *st)
{
	pg_rollback(pg(st));
}
