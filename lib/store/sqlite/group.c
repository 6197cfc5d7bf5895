/*
 * SQLite side of the grouped writer (lib/store/writer.c): a group is one
 * BEGIN IMMEDIATE ... COMMIT, so with synchronous=FULL its writes share one
 * fsync of the WAL; each write (est_store_put_issued's work) runs inside a
 * SAVEPOINT, so that one that fails (its code spent meanwhile, its serial
 * taken, its end entity at its limit) is undone alone and the rest of the
 * group still commits. Some failures (a full disk, an I/O error, memory)
 * make SQLite roll back the whole transaction instead, and an undo can fail
 * too: then the group is lost. Each later write of the group and its commit
 * fail with the first reason, and the writer fails the writes made before
 * (undone with the transaction). Going on would run the later writes
 * outside a transaction, each committed alone on its RELEASE while its
 * client is told it failed.
 *
 * The WAL is copied back into the database file by a thread of its own
 * (checkpoint.c), not in the commits whose answers wait.
 */
#include <sqlite3.h>

#include "estkit/store.h"
#include "sqlite_int.h"

static const char SQL_SAVEPOINT[] = "SAVEPOINT est_write";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO est_write";
static const char SQL_RELEASE[] = "RELEASE est_write";

enum est_err
sq_group_begin(struct est_store *st, struct est_error *e)
{
	struct sq_store *s = sq(st);

	s->group.lost = false;
	sq_checkpoint_catch_up(s);
	return sq_begin(s, e);
}

enum est_err
sq_group_write(struct est_store *st, struct est_write *w, struct est_error *e)
{
	struct sq_store *s = sq(st);
	struct est_error undo = { 0 };
	int64_t id = 0;
	enum est_err rc;

	if ((rc = store_group_check(&s->group, e)) != EST_OK)
		return rc;
	if ((rc = sq_run(s, SQL_SAVEPOINT, "starting a write", e)) != EST_OK) {
		store_group_lose(&s->group, e);
		return rc;
	}
	if (w->hold != NULL)
		rc = sq_hold_request_in_tx(s, &w->hold_key, &w->held, e);
	else
		rc = sq_put_issued_in_tx(s, w->rec, w->how, &id, e);
	if (rc != EST_OK) {
		/* Undo this write only; the reason is already in e. */
		if (sqlite3_get_autocommit(s->db))
			store_group_lose(&s->group, e);
		else if (sq_run(s, SQL_ROLLBACK_TO, "undoing a write", &undo) != EST_OK ||
		    sq_run(s, SQL_RELEASE, "undoing a write", &undo) != EST_OK)
			store_group_lose(&s->group, &undo);
		return rc;
	}
	if ((rc = sq_run(s, SQL_RELEASE, "ending a write", e)) != EST_OK) {
		store_group_lose(&s->group, e);
		return rc;
	}
	if (w->rec != NULL)
		w->rec->id = id;
	return EST_OK;
}

enum est_err
sq_group_commit(struct est_store *st, struct est_error *e)
{
	struct sq_store *s = sq(st);
	enum est_err rc;

	if ((rc = store_group_check(&s->group, e)) != EST_OK)
		return rc;
	return sq_commit(s, e);
}

void
sq_group_rollback(struct est_store *st)
{
	sq_rollback(sq(st));
}
