/*
 * The checkpointer of a handle that commits the grouped writer's
 * transactions (lib/store/writer.c, group.c).
 *
 * SQLite copies the WAL's pages back into the database file (a checkpoint)
 * in the commit that takes the WAL past 1,000 pages, on the committing
 * connection: for the grouped writer that is its thread, and while it
 * copies and fsyncs the database file every client waits for its answer.
 * On a store of 272,000 certificates 31 of 3,575 commits took over 25 ms so,
 * and throughput on disk fell to 81-88% of tmpfs (docs/performance.md).
 * Here the writer's connection makes no checkpoints of its own: after a
 * commit that grew the WAL by SQ_CKPT_EVERY_FRAMES it wakes a thread with a
 * connection of its own, which makes a passive checkpoint (copies what no
 * reader still needs, alongside the writer's commits).
 *
 * A passive checkpoint never lets the WAL start over while commits keep
 * coming (SQLite reuses the file from its start only when every frame is
 * copied when a transaction begins). So once the WAL holds
 * SQ_WAL_BOUND_FRAMES the writer makes a RESTART checkpoint itself (copying
 * what the checkpointer has not yet), and the next commit starts the WAL
 * over: one wait per bound instead of one per 1,000 pages. It does not wait
 * for the checkpointer's lock or a long reader: then it tries again
 * SQ_CKPT_EVERY_FRAMES later, so the WAL passes the bound only while such a
 * reader holds on (as with SQLite's own checkpoints, which cannot restart
 * the WAL past a reader either).
 */
#include <pthread.h>
#include <stdlib.h>

#include "estkit/store.h"
#include "sqlite_int.h"

struct sq_checkpointer {
	sqlite3 *db;                    /* the thread's own connection */
	pthread_t thread;
	pthread_mutex_t lock;           /* guards due and stopping */
	pthread_cond_t wake;
	bool due, stopping;
	int woken_at;                   /* WAL frames when last woken; the writer's only */
	int restart_at;                 /* WAL frames that make the writer restart it */
};

static void *
checkpointer_main(void *arg)
{
	struct sq_checkpointer *c = arg;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->due && !c->stopping)
			pthread_cond_wait(&c->wake, &c->lock);
		if (c->stopping)
			break;
		c->due = false;
		pthread_mutex_unlock(&c->lock);
		/* SQLITE_BUSY (another checkpoint running) is fine: the next wake tries again. */
		sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* After each commit of the writer's connection, in its thread. */
static int
after_commit(void *arg, sqlite3 *db, const char *schema, int frames)
{
	struct sq_checkpointer *c = arg;

	(void)schema;
	if (frames < c->woken_at)
		c->woken_at = 0;                /* the WAL started over */
	if (frames >= c->restart_at) {
		/*
		 * Without waiting on the lock of the checkpointer or of a reader of
		 * an older snapshot (an estadm listing, a backup): when one is busy,
		 * the WAL grows a little more and this tries again.
		 */
		sqlite3_busy_timeout(db, 0);
		if (sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL) ==
		    SQLITE_OK)
			c->restart_at = SQ_WAL_BOUND_FRAMES;
		else
			c->restart_at = frames + SQ_CKPT_EVERY_FRAMES;
		sqlite3_busy_timeout(db, SQ_BUSY_TIMEOUT_MS);
		c->woken_at = 0;
		return SQLITE_OK;
	}
	if (frames - c->woken_at >= SQ_CKPT_EVERY_FRAMES) {
		c->woken_at = frames;
		pthread_mutex_lock(&c->lock);
		c->due = true;
		pthread_cond_signal(&c->wake);
		pthread_mutex_unlock(&c->lock);
	}
	return SQLITE_OK;
}

bool
sq_checkpointer_start(struct sq_store *s)
{
	struct sq_checkpointer *c = calloc(1, sizeof(*c));
	bool locks = false, cond = false;

	if (c == NULL)
		return false;
	c->restart_at = SQ_WAL_BOUND_FRAMES;
	if (sqlite3_open_v2(s->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK ||
	    sqlite3_exec(c->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK ||
	    !(locks = pthread_mutex_init(&c->lock, NULL) == 0) ||
	    !(cond = pthread_cond_init(&c->wake, NULL) == 0) ||
	    pthread_create(&c->thread, NULL, checkpointer_main, c) != 0) {
		if (cond)
			pthread_cond_destroy(&c->wake);
		if (locks)
			pthread_mutex_destroy(&c->lock);
		sqlite3_close(c->db);
		free(c);
		return false;
	}
	s->ckpt = c;
	/* Replaces SQLite's own hook, and with it its automatic checkpoints. */
	sqlite3_wal_hook(s->db, after_commit, c);
	return true;
}

void
sq_checkpointer_stop(struct sq_store *s)
{
	struct sq_checkpointer *c = s->ckpt;

	if (c == NULL)
		return;
	sqlite3_wal_hook(s->db, NULL, NULL);
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	sqlite3_close(c->db);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c);
	s->ckpt = NULL;
}
