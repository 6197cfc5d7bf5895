/*
 * The grouped writer's checkpoints, in a thread of their own.
 *
 * SQLite copies the WAL back into the database file (a checkpoint) from
 * whichever connection commits past its threshold, inside that commit: on
 * the writer's handle every answer of the group waited for it, the copy of
 * a few hundred pages and the database file's fsync, about 50 times a
 * second at 4,000 enrolments/s, and with the store on disk that held the
 * whole server back (docs/performance.md). So the writer's handle makes no
 * checkpoints itself; its WAL hook wakes a thread with a connection of its
 * own, which copies what the writer has committed (SQLITE_CHECKPOINT_PASSIVE:
 * it takes no lock the writer or a reader waits for) while the writer goes
 * on committing.
 *
 * The WAL file only starts over when a write transaction begins on a WAL
 * that is wholly copied back, and under steady load the writer commits
 * during every background pass, so that is never so when it begins. Once
 * the WAL holds SQ_WAL_RESTART_PAGES, the writer's next group after a pass
 * first copies what was committed while the pass ran
 * (sq_checkpoint_catch_up), which lets it start the WAL over; that copy
 * (a passive checkpoint too: a long reader makes it stop short, and the WAL
 * starts over later) is the only one the answers wait for, some 10 ms every
 * SQ_WAL_RESTART_PAGES. A checkpointer thread that left the whole remainder
 * to a blocking checkpoint once the WAL reached 10,000 pages was tried
 * before and reverted (3ca7e28): each such wait held every answer for
 * about 100 ms.
 *
 * A checkpoint that fails loses nothing (the WAL holds the records until a
 * later one copies them), so a failure is logged, when it starts, and the
 * next pass tries again.
 */
#include <pthread.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "estkit/log.h"
#include "estkit/store.h"
#include "sqlite_int.h"

struct sq_checkpointer {
	sqlite3 *db;                    /* the thread's own connection */
	const char *path;               /* the store's, for the log */
	pthread_t thread;
	pthread_mutex_t lock;           /* guards the fields below */
	pthread_cond_t wake;
	bool due;                       /* the writer has committed enough for a pass */
	bool stopping;
	bool ready;                     /* the WAL is to start over after a pass */
	int seen;                       /* WAL frames when the last pass was due */
};

/*
 * SQLite syncs the database file only after a checkpoint that copied the
 * whole WAL, which a pass alongside the commits never does: the catch-up
 * then flushed every page of the passes before it (36 ms with 4,000).
 */
static int
sync_db(struct sq_checkpointer *cp)
{
	sqlite3_file *f = NULL;
	int rc;

	rc = sqlite3_file_control(cp->db, "main", SQLITE_FCNTL_FILE_POINTER, &f);
	if (rc == SQLITE_OK && (f == NULL || f->pMethods == NULL))
		rc = SQLITE_MISUSE;
	return rc == SQLITE_OK ? f->pMethods->xSync(f, SQLITE_SYNC_NORMAL) : rc;
}

/*
 * Copy back what has been committed (no lock held) and make it durable in
 * the database file; log a new failure.
 */
static void
pass(struct sq_checkpointer *cp, bool *failing)
{
	int log_frames = 0, copied = 0, rounds = 0;
	int rc;

	/*
	 * When the WAL is to start over, a second round copies what was
	 * committed during the first, so that the writer's catch-up, which
	 * answers wait for, copies only what came during the second.
	 */
	do {
		rc = sqlite3_wal_checkpoint_v2(cp->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
		    &log_frames, &copied);
		if (rc == SQLITE_BUSY)
			return;
		if (rc == SQLITE_OK && copied > 0)
			rc = sync_db(cp);
	} while (rc == SQLITE_OK && log_frames >= SQ_WAL_RESTART_PAGES && ++rounds < 2);
	if (rc != SQLITE_OK) {
		if (!*failing)
			log_warn("%s: copying the WAL back into the database failed (%s); the "
			    "records stay in the WAL, tried again after the next commits",
			    cp->path, sqlite3_errstr(rc));
		*failing = true;
		return;
	}
	if (*failing)
		log_info("%s: the WAL is copied back into the database again", cp->path);
	*failing = false;
	pthread_mutex_lock(&cp->lock);
	cp->ready = log_frames >= SQ_WAL_RESTART_PAGES;
	pthread_mutex_unlock(&cp->lock);
}

static void *
checkpointer_main(void *arg)
{
	struct sq_checkpointer *cp = arg;
	bool failing = false;

	pthread_mutex_lock(&cp->lock);
	for (;;) {
		while (!cp->due && !cp->stopping)
			pthread_cond_wait(&cp->wake, &cp->lock);
		if (cp->stopping)
			break;
		cp->due = false;
		pthread_mutex_unlock(&cp->lock);
		pass(cp, &failing);
		pthread_mutex_lock(&cp->lock);
	}
	pthread_mutex_unlock(&cp->lock);
	return NULL;
}

/* The writer's WAL hook, after each commit (in the writer's thread). */
static int
committed(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct sq_checkpointer *cp = arg;

	(void)db;
	(void)name;
	pthread_mutex_lock(&cp->lock);
	/* Fewer frames than the last pass saw: the WAL has started over. */
	if (frames < cp->seen)
		cp->seen = 0;
	if (!cp->due && frames - cp->seen >= SQ_CHECKPOINT_PAGES) {
		cp->due = true;
		cp->seen = frames;
		pthread_cond_signal(&cp->wake);
	}
	pthread_mutex_unlock(&cp->lock);
	return SQLITE_OK;
}

static void
checkpointer_free(struct sq_checkpointer *cp)
{
	sqlite3_close(cp->db);
	pthread_cond_destroy(&cp->wake);
	pthread_mutex_destroy(&cp->lock);
	free(cp);
}

enum est_err
sq_checkpointer_start(struct est_store *st, struct est_error *e)
{
	struct sq_store *s = sq(st);
	struct sq_checkpointer *cp;

	if ((cp = calloc(1, sizeof(*cp))) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	cp->path = s->path;
	if (pthread_mutex_init(&cp->lock, NULL) != 0) {
		free(cp);
		return est_fail(e, EST_ERR_NOMEM, "cannot make the checkpointer's lock");
	}
	if (pthread_cond_init(&cp->wake, NULL) != 0) {
		pthread_mutex_destroy(&cp->lock);
		free(cp);
		return est_fail(e, EST_ERR_NOMEM, "cannot make the checkpointer's lock");
	}
	if (sqlite3_open_v2(s->path, &cp->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK ||
	    sqlite3_exec(cp->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK) {
		est_fail(e, EST_ERR_STORE, "%s: opening the checkpointer's connection: %s", s->path,
		    cp->db != NULL ? sqlite3_errmsg(cp->db) : "out of memory");
		checkpointer_free(cp);
		return e->code;
	}
	if (pthread_create(&cp->thread, NULL, checkpointer_main, cp) != 0) {
		checkpointer_free(cp);
		return est_fail(e, EST_ERR_NOMEM, "cannot start the store's checkpointer thread");
	}
	s->ckpt = cp;
	sqlite3_wal_hook(s->db, committed, cp);
	return EST_OK;
}

void
sq_checkpoint_catch_up(struct sq_store *s)
{
	struct sq_checkpointer *cp = s->ckpt;
	bool ready;

	if (cp == NULL)
		return;
	pthread_mutex_lock(&cp->lock);
	ready = cp->ready;
	cp->ready = false;
	pthread_mutex_unlock(&cp->lock);
	/* A failure here is the next pass's to log. */
	if (ready)
		(void)sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

void
sq_checkpointer_stop(struct sq_store *s)
{
	struct sq_checkpointer *cp = s->ckpt;

	if (cp == NULL)
		return;
	sqlite3_wal_hook(s->db, NULL, NULL);
	pthread_mutex_lock(&cp->lock);
	cp->stopping = true;
	pthread_cond_signal(&cp->wake);
	pthread_mutex_unlock(&cp->lock);
	pthread_join(cp->thread, NULL);
	checkpointer_free(cp);
	s->ckpt = NULL;
}
