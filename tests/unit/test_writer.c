/*
 * Unit tests for the grouped store writer (lib/store/writer.c, issue 12):
 * writes queued while a group is being committed share the next commit;
 * every write is reported once, only after its group committed, and is
 * then readable through another handle; one write's failure (a taken
 * serial, a spent one-time code) leaves the rest of its group alone; a
 * renewal's revocation of the certificate it replaces, and the claim of an
 * approval (one certificate per approval), are in the same write; a new
 * request is held for approval through the writer too, once however many
 * attempts hold it in one group;
 * an incomplete write is refused before it is queued; stop writes what is
 * queued first. Writes that queued during a commit make the next group wait
 * for a full one; a write that finds no commit running is never held, and
 * stop ends the wait. On SQLite the WAL starts over under steady writes
 * though the writer's commits make no checkpoint (a thread of its own
 * does), a long reader holds back no write, and a write whose failure rolls
 * back the whole transaction fails its group, none of it on record; on
 * PostgreSQL a COMMIT that rolled back is no success. Nothing is timed:
 * the first write's callback holds the writer until the test has queued
 * the rest, so the grouping is deterministic; the gathering tests queue
 * their writes from the commit callback (before the writer looks at its
 * queue) and wait for a group of max_group, with the writer allowed to wait
 * an hour: a write held when it should not be hangs the test.
 *
 * With ESTKIT_TEST_PG_HOST and ESTKIT_TEST_PG_PORT set (a PostgreSQL server
 * whose superuser "postgres" connects over that socket directory without a
 * password; tests/integration/test_store_postgresql.sh starts one), every
 * test runs again with the writer on the PostgreSQL backend (issue 13), each
 * on a fresh database.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <libpq-fe.h>

#include "estkit/store.h"
#include "store/postgresql/pg_int.h"
#include "store/sqlite/sqlite_int.h"

#define N 24

struct fx {
	char dir[64];
	char path[256];                 /* the store's URI: a file, or postgresql:// */
	char pgdb[32];                  /* the PostgreSQL database of this test, "" for SQLite */
	struct est_store *st;           /* the test's own handle */
	EVP_PKEY *key;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int reported;
	bool hold;                      /* the first callback waits while set */
	bool held;                      /* ... and says it is waiting */
};

struct job {
	struct est_write w;
	struct est_issue_record how;
	struct fx *fx;
	bool reported_twice;
	bool durable_when_reported;     /* readable through another handle in done */
	int times;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct est_error e = { 0 };

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_writer.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/est.db", f->dir);
	assert_int_equal(est_store_create(f->path, &f->st, &e), EST_OK);
	f->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(f->key);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	char p[300];

	est_store_close(f->st);
	EVP_PKEY_free(f->key);
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
		unlink(p);
	}
	rmdir(f->dir);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cond);
	free(f);
	return 0;
}

/* Run sql as the superuser on database db of the test's PostgreSQL server. */
static void
pg_admin(const char *db, const char *sql)
{
	char conninfo[256];
	PGconn *c;
	PGresult *res;

	snprintf(conninfo, sizeof(conninfo), "host=%s port=%s user=postgres dbname=%s",
	    getenv("ESTKIT_TEST_PG_HOST"), getenv("ESTKIT_TEST_PG_PORT"), db);
	c = PQconnectdb(conninfo);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	PQfinish(c);
}

static int
setup_pg(void **state)
{
	static int n;
	struct fx *f = calloc(1, sizeof(*f));
	struct est_error e = { 0 };
	char sql[64];

	assert_non_null(f);
	snprintf(f->pgdb, sizeof(f->pgdb), "estw_%d_%d", (int)getpid(), n++);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->pgdb);
	pg_admin("postgres", sql);
	snprintf(f->path, sizeof(f->path), "postgresql:///%s?host=%s&port=%s&user=postgres",
	    f->pgdb, getenv("ESTKIT_TEST_PG_HOST"), getenv("ESTKIT_TEST_PG_PORT"));
	assert_int_equal(est_store_create(f->path, &f->st, &e), EST_OK);
	f->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(f->key);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	*state = f;
	return 0;
}

static int
teardown_pg(void **state)
{
	struct fx *f = *state;
	char sql[64];

	est_store_close(f->st);
	EVP_PKEY_free(f->key);
	snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", f->pgdb);
	pg_admin("postgres", sql);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cond);
	free(f);
	return 0;
}

static struct est_cert_rec *
make_rec(EVP_PKEY *key, long serial)
{
	struct est_cert_rec *rec = NULL;
	struct est_error e = { 0 };
	X509 *x = X509_new();

	assert_non_null(x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(X509_get_issuer_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"Writer CA", -1, -1, 0);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"device", -1, -1, 0);
	ASN1_TIME_set(X509_getm_notBefore(x), 1700000000);
	ASN1_TIME_set(X509_getm_notAfter(x), 1900000000);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_int_equal(est_cert_rec_from_x509(x, "user:test", "est", &rec, &e), EST_OK);
	X509_free(x);
	return rec;
}

/* Whether serial is on record, read through a handle of its own. */
static bool
on_record(const char *path, const char *serial)
{
	struct est_error e = { 0 };
	struct est_store *st = NULL;
	struct est_cert_rec *rec = NULL;
	bool yes;

	assert_int_equal(est_store_open(path, &st, &e), EST_OK);
	yes = est_store_get_cert(st, NULL, serial, &rec, &e) == EST_OK;
	est_cert_rec_free(rec);
	est_store_close(st);
	return yes;
}

static void
done(struct est_write *w)
{
	struct job *j = w->arg;
	struct fx *f = j->fx;

	j->times++;
	j->durable_when_reported = w->rc != EST_OK || w->rec == NULL ||
	    on_record(f->path, w->rec->serial);
	pthread_mutex_lock(&f->lock);
	while (f->hold) {
		f->held = true;
		pthread_cond_broadcast(&f->cond);
		pthread_cond_wait(&f->cond, &f->lock);
	}
	f->reported++;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static void
init_job(struct fx *f, struct job *j, long serial)
{
	memset(j, 0, sizeof(*j));
	j->fx = f;
	j->w.rec = make_rec(f->key, serial);
	j->w.done = done;
	j->w.arg = j;
	j->how.now = 100;
	j->w.how = &j->how;
}

static void
wait_reported(struct fx *f, int n)
{
	pthread_mutex_lock(&f->lock);
	while (f->reported < n)
		pthread_cond_wait(&f->cond, &f->lock);
	pthread_mutex_unlock(&f->lock);
}

/* Submit jobs[0], hold the writer in its callback, queue the rest, release. */
static void
submit_grouped(struct fx *f, struct est_store_writer *w, struct job *jobs, int n)
{
	f->hold = true;
	est_store_writer_submit(w, &jobs[0].w);
	pthread_mutex_lock(&f->lock);
	while (!f->held)
		pthread_cond_wait(&f->cond, &f->lock);
	pthread_mutex_unlock(&f->lock);
	for (int i = 1; i < n; i++)
		est_store_writer_submit(w, &jobs[i].w);
	pthread_mutex_lock(&f->lock);
	f->hold = false;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	wait_reported(f, n);
}

static void
test_groups_and_durability(void **state)
{
	struct fx *f = *state;
	struct est_error e = { 0 };
	struct est_store_writer *w = NULL;
	struct job jobs[N];
	uint64_t groups, writes;

	assert_int_equal(est_store_writer_start(f->path, 64, &w, &e), EST_OK);
	for (int i = 0; i < N; i++)
		init_job(f, &jobs[i], 1000 + i);
	submit_grouped(f, w, jobs, N);
	est_store_writer_stats(w, &groups, &writes);
	/* The first alone, the 23 queued behind it in one commit. */
	assert_int_equal(writes, N);
	assert_int_equal(groups, 2);
	for (int i = 0; i < N; i++) {
		assert_int_equal(jobs[i].w.rc, EST_OK);
		assert_int_equal(jobs[i].times, 1);
		assert_true(jobs[i].durable_when_reported);
		assert_true(jobs[i].w.rec->id > 0);
		est_cert_rec_free(jobs[i].w.rec);
	}
	est_store_writer_stop(w);
}

/* The commit callback's test state: it queues writes while a commit runs. */
static struct {
	struct est_store_writer *w;
	struct job *jobs;
	int queue_during_first;
	int commits;
} during;

static void
queue_during_commit(double seconds, unsigned writes)
{
	(void)seconds;
	(void)writes;
	if (during.commits++ == 0)
		for (int i = 1; i <= during.queue_during_first; i++)
			est_store_writer_submit(during.w, &during.jobs[i].w);
}

/* Each of jobs[0..n) was written once, reported durable; frees their records. */
static void
all_written(struct job *jobs, int n)
{
	for (int i = 0; i < n; i++) {
		assert_int_equal(jobs[i].w.rc, EST_OK);
		assert_int_equal(jobs[i].times, 1);
		assert_true(jobs[i].durable_when_reported);
		est_cert_rec_free(jobs[i].w.rec);
	}
}

/* A writer that may wait an hour for company, with queue_during_commit. */
static struct est_store_writer *
gathering_writer(struct fx *f, struct job *jobs, int n, int queue_during_first, long serial)
{
	struct est_error e = { 0 };
	struct est_store_writer *w = NULL;

	assert_int_equal(est_store_writer_start(f->path, 4, &w, &e), EST_OK);
	est_store_writer_gather(w, (int64_t)3600 * 1000000000);
	for (int i = 0; i < n; i++)
		init_job(f, &jobs[i], serial + i);
	during.w = w;
	during.jobs = jobs;
	during.queue_during_first = queue_during_first;
	during.commits = 0;
	est_store_writer_on_commit(w, queue_during_commit);
	return w;
}

/* Writes that queued during a commit wait for a full group of max_group (4). */
static void
test_gathers_behind_commits(void **state)
{
	struct fx *f = *state;
	struct job jobs[5];
	struct est_store_writer *w = gathering_writer(f, jobs, 5, 2, 5000);
	uint64_t groups, writes;

	est_store_writer_submit(w, &jobs[0].w);
	wait_reported(f, 1);
	/* Without the wait, jobs 1 and 2 would have gone in a group of their own. */
	est_store_writer_submit(w, &jobs[3].w);
	est_store_writer_submit(w, &jobs[4].w);
	wait_reported(f, 5);
	est_store_writer_stats(w, &groups, &writes);
	assert_int_equal(writes, 5);
	assert_int_equal(groups, 2);
	all_written(jobs, 5);
	est_store_writer_stop(w);
}

/* test_lone_writes_not_held's client: each answer makes its next write. */
static struct {
	struct est_store_writer *w;
	struct job *jobs;
	int n;
} lone;

static void
answered_then_next(struct est_write *w)
{
	struct job *j = w->arg;
	int i = (int)(j - lone.jobs);

	/* Queued by the answer itself: before the writer looks at its queue again. */
	if (i + 1 < lone.n)
		est_store_writer_submit(lone.w, &lone.jobs[i + 1].w);
	done(w);
}

/*
 * One client waiting for each answer before its next write is never held:
 * each write is submitted from the previous one's done callback, so it is
 * queued before the writer's loop comes round, and a writer that judged
 * "company" after the answers went would wait its hour here.
 */
static void
test_lone_writes_not_held(void **state)
{
	struct fx *f = *state;
	struct job jobs[5];
	struct est_store_writer *w = gathering_writer(f, jobs, 5, 0, 5100);
	uint64_t groups, writes;

	lone.w = w;
	lone.jobs = jobs;
	lone.n = 5;
	for (int i = 0; i < 5; i++)
		jobs[i].w.done = answered_then_next;
	est_store_writer_submit(w, &jobs[0].w);
	wait_reported(f, 5);
	est_store_writer_stats(w, &groups, &writes);
	assert_int_equal(groups, 5);
	all_written(jobs, 5);
	est_store_writer_stop(w);
}

/* Stopping ends a wait for company, and what waited is written. */
static void
test_stop_ends_gathering(void **state)
{
	struct fx *f = *state;
	struct job jobs[3];
	struct est_store_writer *w = gathering_writer(f, jobs, 3, 2, 5200);

	est_store_writer_submit(w, &jobs[0].w);
	wait_reported(f, 1);
	est_store_writer_stop(w);
	assert_int_equal(f->reported, 3);
	all_written(jobs, 3);
}

static void
counted(struct est_write *w)
{
	struct job *j = w->arg;

	pthread_mutex_lock(&j->fx->lock);
	j->times++;
	j->fx->reported++;
	pthread_cond_broadcast(&j->fx->cond);
	pthread_mutex_unlock(&j->fx->lock);
}

/* The WAL's size now, in pages, 0 when there is none. */
static long long
wal_pages(struct fx *f)
{
	char wal[300];
	struct stat sb;

	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	return stat(wal, &sb) == 0 ? ((long long)sb.st_size - 32) / (4096 + 24) : 0;
}

/*
 * The WAL header's checkpoint sequence number, which SQLite raises each
 * time the WAL starts over.
 */
static unsigned long
wal_restarts(struct fx *f)
{
	unsigned char h[16];
	char wal[300];
	FILE *fp;

	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_non_null(fp = fopen(wal, "rb"));
	assert_int_equal(fread(h, 1, sizeof(h), fp), sizeof(h));
	fclose(fp);
	return (unsigned long)h[12] << 24 | (unsigned long)h[13] << 16 |
	    (unsigned long)h[14] << 8 | h[15];
}

/* A write never needs more WAL pages than this (the bound of the writes below). */
#define WRITES_MAX (SQ_WAL_RESTART_PAGES * 8)

/*
 * Write certificates one at a time, serials from *serial on, each of which
 * must succeed, until enough(f, arg) says so; fail after WRITES_MAX. How many
 * WAL pages a write takes is the schema's business, not the test's.
 */
static void
write_until(struct fx *f, struct est_store_writer *w, long *serial,
    bool (*enough)(struct fx *, unsigned long), unsigned long arg)
{
	struct job j;
	int before;

	pthread_mutex_lock(&f->lock);
	before = f->reported;
	pthread_mutex_unlock(&f->lock);
	for (int i = 0; !enough(f, arg); i++) {
		if (i == WRITES_MAX)
			fail_msg("not done after %d writes; the WAL holds %lld pages", i,
			    wal_pages(f));
		init_job(f, &j, (*serial)++);
		j.w.done = counted;
		est_store_writer_submit(w, &j.w);
		wait_reported(f, before + i + 1);
		assert_int_equal(j.w.rc, EST_OK);
		est_cert_rec_free(j.w.rec);
	}
}

/* Done once the WAL has started over restarts times; fail if it outgrows twice its bound. */
static bool
restarted(struct fx *f, unsigned long restarts)
{
	if (wal_pages(f) > 2 * SQ_WAL_RESTART_PAGES)
		fail_msg("the WAL holds %lld pages, over twice %d", wal_pages(f),
		    SQ_WAL_RESTART_PAGES);
	return wal_pages(f) > 0 && wal_restarts(f) >= restarts;
}

/* Done once the WAL holds more than pages. */
static bool
grown(struct fx *f, unsigned long pages)
{
	return wal_pages(f) > (long long)pages;
}

/*
 * SQLite: the writer's commits make no checkpoint, so the WAL only starts
 * over because the checkpointer copies it back and the writer catches up
 * (lib/store/sqlite/checkpoint.c). Writing one certificate at a time until
 * the WAL has started over three times, its file never holds twice
 * SQ_WAL_RESTART_PAGES, as it would if nothing let it start over.
 */
static void
test_wal_starts_over(void **state)
{
	struct fx *f = *state;
	struct est_error e = { 0 };
	struct est_store_writer *w = NULL;
	long serial = 6000;

	assert_int_equal(est_store_writer_start(f->path, 64, &w, &e), EST_OK);
	write_until(f, w, &serial, restarted, 3);
	est_store_writer_stop(w);
}

/*
 * SQLite: a reader that holds an old snapshot (a backup, a long listing)
 * keeps the WAL from starting over, but no write waits for it: each write
 * succeeds while the reader holds on, until the WAL is half as large again
 * as its bound (a checkpoint that waited for readers would hold every one
 * for the busy timeout). Once the reader lets go, the WAL starts over again.
 */
static void
test_long_reader_holds_no_write(void **state)
{
	struct fx *f = *state;
	struct est_error e = { 0 };
	struct est_store_writer *w = NULL;
	long serial = 20000;
	sqlite3 *db;
	sqlite3_stmt *q;
	unsigned long restarts;

	assert_int_equal(est_store_writer_start(f->path, 64, &w, &e), EST_OK);
	write_until(f, w, &serial, grown, 0);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM certs", -1, &q, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	sqlite3_finalize(q);
	restarts = wal_restarts(f);
	write_until(f, w, &serial, grown, SQ_WAL_RESTART_PAGES * 3 / 2);
	assert_int_equal(wal_restarts(f), restarts);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	write_until(f, w, &serial, restarted, restarts + 1);
	est_store_writer_stop(w);
}

/*
 * SQLite: a write whose failure rolls back the whole transaction (a full
 * disk, an I/O error; here a trigger's RAISE(ROLLBACK)) loses its group.
 * The writes after it must fail too, not each commit alone outside a
 * transaction while its client is told it failed, and the one before is
 * undone with the transaction.
 */
static void
test_lost_transaction_fails_group(void **state)
{
	struct fx *f = *state;
	struct est_error e = { 0 };
	struct est_store_writer *w = NULL;
	struct job jobs[4];
	char sql[256];
	sqlite3 *db;

	assert_int_equal(est_store_writer_start(f->path, 64, &w, &e), EST_OK);
	for (int i = 0; i < 4; i++)
		init_job(f, &jobs[i], 7000 + i);
	snprintf(sql, sizeof(sql), "CREATE TRIGGER lose BEFORE INSERT ON certs WHEN "
	    "NEW.serial = '%s' BEGIN SELECT RAISE(ROLLBACK, 'test: all of it'); END",
	    jobs[2].w.rec->serial);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	/* jobs[0] alone, then jobs[1..3] in one group. */
	submit_grouped(f, w, jobs, 4);
	assert_int_equal(jobs[0].w.rc, EST_OK);
	assert_true(on_record(f->path, jobs[0].w.rec->serial));
	for (int i = 1; i < 4; i++) {
		assert_int_not_equal(jobs[i].w.rc, EST_OK);
		assert_int_equal(jobs[i].times, 1);
		if (on_record(f->path, jobs[i].w.rec->serial))
			fail_msg("write %d is on record but was reported failed: %s", i,
			    jobs[i].w.err.msg);
	}
	assert_non_null(strstr(jobs[3].w.err.msg, "the group's transaction was lost"));
	assert_non_null(strstr(jobs[3].w.err.msg, "test: all of it"));
	for (int i = 0; i < 4; i++)
		est_cert_rec_free(jobs[i].w.rec);
	est_store_writer_stop(w);
}

/*
 * PostgreSQL answers COMMIT of an aborted transaction with success and the
 * tag ROLLBACK: a group whose transaction was aborted under it (a failed
 * undo) must not be reported durable.
 */
static void
test_aborted_commit_fails(void **state)
{
	struct fx *f = *state;
	struct est_error e = { 0 };
	struct pg_store *s = pg(f->st);

	assert_int_equal(pg_begin(s, &e), EST_OK);
	assert_int_not_equal(pg_exec(s, "SELECT 1/0", NULL, NULL, "dividing", &e), EST_OK);
	memset(&e, 0, sizeof(e));
	assert_int_equal(pg_commit(s, &e), EST_ERR_STORE);
	assert_non_null(strstr(e.msg, "aborted and rolled back"));
	/* The handle goes on: no transaction is left open. */
	assert_int_equal(pg_begin(s, &e), EST_OK);
	assert_int_equal(pg_commit(s, &e), EST_OK);
}

/* max_group bounds a group. */
static void
test_group_bound(void **state)
{
	struct fx *f = *state;
	struct est_error e = { 0 };
	struct est_store_writer *w = NULL;
	struct job jobs[N];
	uint64_t groups, writes;

	assert_int_equal(est_store_writer_start(f->path, 5, &w, &e), EST_OK);
	for (int i = 0; i < N; i++)
		init_job(f, &jobs[i], 2000 + i);
	submit_grouped(f, w, jobs, N);
	est_store_writer_stats(w, &groups, &writes);
	assert_int_equal(writes, N);
	assert_int_equal(groups, 1 + (N - 1 + 4) / 5);
	for (int i = 0; i < N; i++)
		est_cert_rec_free(jobs[i].w.rec);
	est_store_writer_stop(w);
}

/* The attacker's side: two uses of a one-time code in one group get one certificate. */
static void
test_failures_stay_alone(void **state)
{
	struct fx *f = *state;
	struct est_error e = { 0 };
	struct est_store_writer *w = NULL;
	struct est_ee ee = { .username = "once", .subject = "CN=x",
	    .subject_der = (unsigned char *)"\x30\x00", .subject_der_len = 2, .san = "",
	    .alias = "est", .profile = "", .code_hash = "H1", .uses_left = 1 };
	struct est_ee *got = NULL;
	struct job jobs[5];

	assert_int_equal(est_store_put_ee(f->st, &ee, &e), EST_OK);
	assert_int_equal(est_store_writer_start(f->path, 64, &w, &e), EST_OK);
	for (int i = 0; i < 5; i++)
		init_job(f, &jobs[i], 3000 + i);
	/* 1 and 2 spend the same one-time code; 4 takes 3's serial. */
	jobs[1].w.rec->ee_id = jobs[2].w.rec->ee_id = ee.id;
	jobs[1].how.code_hash = jobs[2].how.code_hash = "H1";
	est_cert_rec_free(jobs[4].w.rec);
	jobs[4].w.rec = make_rec(f->key, 3003);
	submit_grouped(f, w, jobs, 5);
	assert_int_equal(jobs[0].w.rc, EST_OK);
	assert_int_equal(jobs[1].w.rc, EST_OK);
	assert_int_equal(jobs[2].w.rc, EST_ERR_AUTH);
	assert_int_equal(jobs[3].w.rc, EST_OK);
	assert_int_equal(jobs[4].w.rc, EST_ERR_EXISTS);
	assert_true(on_record(f->path, jobs[1].w.rec->serial));
	assert_false(on_record(f->path, jobs[2].w.rec->serial));
	assert_true(on_record(f->path, jobs[3].w.rec->serial));
	assert_int_equal(est_store_get_ee(f->st, "once", &got, &e), EST_OK);
	assert_int_equal(got->uses_left, 0);
	est_ee_free(got);
	for (int i = 0; i < 5; i++)
		est_cert_rec_free(jobs[i].w.rec);
	est_store_writer_stop(w);
}

/* What the on_durable hook saw of each group. */
static struct {
	int calls;
	int seen;                        /* writes, over all calls */
	long serial[8];                  /* in the order given */
	enum est_err rc[8];
	bool durable[8];                 /* on record when the hook ran */
	int reported_before;             /* writes reported before the last call */
	struct fx *f;
} hooked;

static const char fail_this[] = "fail";

static void
durable_hook(void *arg, struct est_write *group)
{
	hooked.calls++;
	assert_ptr_equal(arg, &hooked);
	pthread_mutex_lock(&hooked.f->lock);
	hooked.reported_before = hooked.f->reported;
	pthread_mutex_unlock(&hooked.f->lock);
	for (struct est_write *w = group; w != NULL && hooked.seen < 8; w = w->next) {
		hooked.serial[hooked.seen] = strtol(w->rec->serial, NULL, 16);
		hooked.rc[hooked.seen] = w->rc;
		hooked.durable[hooked.seen] = on_record(hooked.f->path, w->rec->serial);
		hooked.seen++;
		if (w->rc == EST_OK && w->durable_arg == fail_this)
			w->rc = est_fail(&w->err, EST_ERR_UNAVAILABLE, "not for the client");
	}
}

/*
 * The on_durable hook sees each group once its commit returned and before
 * any of its writes is reported, in order, with their outcomes; a write it
 * fails is reported failed and its record stays.
 */
static void
test_durable_hook(void **state)
{
	struct fx *f = *state;
	struct est_error e = { 0 };
	struct est_store_writer *w = NULL;
	struct job jobs[4];

	memset(&hooked, 0, sizeof(hooked));
	hooked.f = f;
	assert_int_equal(est_store_writer_start(f->path, 64, &w, &e), EST_OK);
	est_store_writer_on_durable(w, durable_hook, &hooked);
	for (int i = 0; i < 4; i++)
		init_job(f, &jobs[i], 0x7000 + i);
	/* 3 takes 2's serial; 1 is failed by the hook. */
	est_cert_rec_free(jobs[3].w.rec);
	jobs[3].w.rec = make_rec(f->key, 0x7002);
	jobs[1].w.durable_arg = (void *)fail_this;
	submit_grouped(f, w, jobs, 4);
	/* The first alone, then the three queued behind it. */
	assert_int_equal(hooked.calls, 2);
	assert_int_equal(hooked.seen, 4);
	assert_int_equal(hooked.reported_before, 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(hooked.serial[i], i == 3 ? 0x7002 : 0x7000 + i);
	assert_int_equal(hooked.rc[0], EST_OK);
	assert_int_equal(hooked.rc[1], EST_OK);
	assert_int_equal(hooked.rc[2], EST_OK);
	assert_int_equal(hooked.rc[3], EST_ERR_EXISTS);
	assert_true(hooked.durable[0] && hooked.durable[1] && hooked.durable[2]);
	assert_int_equal(jobs[0].w.rc, EST_OK);
	assert_int_equal(jobs[1].w.rc, EST_ERR_UNAVAILABLE);
	assert_int_equal(jobs[2].w.rc, EST_OK);
	assert_int_equal(jobs[3].w.rc, EST_ERR_EXISTS);
	assert_true(on_record(f->path, jobs[1].w.rec->serial));
	for (int i = 0; i < 4; i++)
		est_cert_rec_free(jobs[i].w.rec);
	est_store_writer_stop(w);
}

/* A renewal's write revokes the certificate it replaces; a failed one revokes nothing. */
static void
test_revoke_replaced(void **state)
{
	struct fx *f = *state;
	struct est_error e = { 0 };
	struct est_store_writer *w = NULL;
	struct est_cert_rec *old1 = make_rec(f->key, 5000), *old2 = make_rec(f->key, 5001);
	struct est_cert_rec *got = NULL;
	struct job jobs[3];

	assert_int_equal(est_store_put_cert(f->st, old1, &e), EST_OK);
	assert_int_equal(est_store_put_cert(f->st, old2, &e), EST_OK);
	assert_int_equal(est_store_writer_start(f->path, 64, &w, &e), EST_OK);
	for (int i = 0; i < 3; i++)
		init_job(f, &jobs[i], 5100 + i);
	jobs[1].how.replaces_issuer = old1->issuer;
	jobs[1].how.replaces_serial = old1->serial;
	/* 2 replaces old2 but its serial is taken: old2 stays valid. */
	jobs[2].how.replaces_issuer = old2->issuer;
	jobs[2].how.replaces_serial = old2->serial;
	est_cert_rec_free(jobs[2].w.rec);
	jobs[2].w.rec = make_rec(f->key, 5100);
	submit_grouped(f, w, jobs, 3);
	assert_int_equal(jobs[1].w.rc, EST_OK);
	assert_int_equal(jobs[2].w.rc, EST_ERR_EXISTS);
	assert_int_equal(est_store_get_cert(f->st, old1->issuer, old1->serial, &got, &e), EST_OK);
	assert_int_equal(got->status, EST_CERT_REVOKED);
	assert_int_equal(got->revocation_reason, EST_REASON_SUPERSEDED);
	est_cert_rec_free(got);
	got = NULL;
	assert_int_equal(est_store_get_cert(f->st, old2->issuer, old2->serial, &got, &e), EST_OK);
	assert_int_equal(got->status, EST_CERT_VALID);
	est_cert_rec_free(got);
	for (int i = 0; i < 3; i++)
		est_cert_rec_free(jobs[i].w.rec);
	est_cert_rec_free(old1);
	est_cert_rec_free(old2);
	est_store_writer_stop(w);
}

/* The attacker's side: two enrolments of one approval in one group get one certificate. */
static void
test_approval_claimed_once(void **state)
{
	struct fx *f = *state;
	struct est_error e = { 0 };
	struct est_store_writer *w = NULL;
	struct est_req_rec key = { .alias = "est", .operation = "simpleenroll",
	    .spki_sha256 = "ab", .subject = "CN=device", .san = "", .principal = "user:test" };
	struct est_req_rec *held = NULL;
	struct job jobs[3];

	assert_int_equal(est_store_hold_request(f->st, &key, &held, &e), EST_OK);
	assert_int_equal(est_store_set_request_state(f->st, held->id, EST_REQ_PENDING,
	    EST_REQ_APPROVED, 100, &e), EST_OK);
	assert_int_equal(est_store_writer_start(f->path, 64, &w, &e), EST_OK);
	for (int i = 0; i < 3; i++)
		init_job(f, &jobs[i], 7000 + i);
	jobs[1].how.approval_id = jobs[2].how.approval_id = held->id;
	submit_grouped(f, w, jobs, 3);
	assert_int_equal(jobs[1].w.rc, EST_OK);
	assert_int_equal(jobs[2].w.rc, EST_ERR_PENDING);
	assert_non_null(strstr(jobs[2].w.err.msg, "used by another enrolment"));
	assert_true(on_record(f->path, jobs[1].w.rec->serial));
	assert_false(on_record(f->path, jobs[2].w.rec->serial));
	est_req_rec_free(held);
	held = NULL;
	/* The hold now makes a new request: the approval was spent. */
	assert_int_equal(est_store_hold_request(f->st, &key, &held, &e), EST_OK);
	assert_int_equal(held->state, EST_REQ_PENDING);
	est_req_rec_free(held);
	for (int i = 0; i < 3; i++)
		est_cert_rec_free(jobs[i].w.rec);
	est_store_writer_stop(w);
}

/* Two attempts of one new request in one group: one request on record, both see it. */
static void
test_hold_once(void **state)
{
	struct fx *f = *state;
	struct est_error e = { 0 };
	struct est_store_writer *w = NULL;
	struct est_req_rec key = { .alias = "est", .operation = "simpleenroll",
	    .spki_sha256 = "cd", .subject = "CN=held", .principal = "user:test" };
	struct est_req_rec *found = NULL;
	struct job jobs[3];

	assert_int_equal(est_store_find_request(f->st, &key, &found, &e), EST_OK);
	assert_null(found);
	assert_int_equal(est_store_writer_start(f->path, 64, &w, &e), EST_OK);
	init_job(f, &jobs[0], 8000);
	for (int i = 1; i < 3; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].fx = f;
		jobs[i].w.hold = &key;
		jobs[i].w.done = done;
		jobs[i].w.arg = &jobs[i];
	}
	submit_grouped(f, w, jobs, 3);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(jobs[i].w.rc, EST_OK);
		assert_non_null(jobs[i].w.held);
		assert_int_equal(jobs[i].w.held->state, EST_REQ_PENDING);
	}
	assert_int_equal(jobs[1].w.held->id, jobs[2].w.held->id);
	assert_int_equal(est_store_find_request(f->st, &key, &found, &e), EST_OK);
	assert_non_null(found);
	assert_int_equal(found->id, jobs[1].w.held->id);
	est_req_rec_free(found);
	for (int i = 1; i < 3; i++)
		est_req_rec_free(jobs[i].w.held);
	est_cert_rec_free(jobs[0].w.rec);
	est_store_writer_stop(w);
}

/* An incomplete write fails at once, in the submitter's thread, and is never written. */
static void
test_incomplete_refused(void **state)
{
	struct fx *f = *state;
	struct est_error e = { 0 };
	struct est_store_writer *w = NULL;
	struct job j;

	assert_int_equal(est_store_writer_start(f->path, 64, &w, &e), EST_OK);
	init_job(f, &j, 6000);
	j.how.code_hash = "H1"; /* a code to spend, but no end entity */
	est_store_writer_submit(w, &j.w);
	assert_int_equal(j.times, 1);
	assert_int_equal(j.w.rc, EST_ERR_INTERNAL);
	assert_false(on_record(f->path, j.w.rec->serial));
	est_cert_rec_free(j.w.rec);
	est_store_writer_stop(w);
}

static void
test_stop_drains(void **state)
{
	struct fx *f = *state;
	struct est_error e = { 0 };
	struct est_store_writer *w = NULL;
	struct job jobs[N];

	assert_int_equal(est_store_writer_start(f->path, 8, &w, &e), EST_OK);
	for (int i = 0; i < N; i++) {
		init_job(f, &jobs[i], 4000 + i);
		est_store_writer_submit(w, &jobs[i].w);
	}
	est_store_writer_stop(w);
	assert_int_equal(f->reported, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(jobs[i].w.rc, EST_OK);
		assert_int_equal(jobs[i].times, 1);
		est_cert_rec_free(jobs[i].w.rec);
	}
	est_store_writer_stop(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_groups_and_durability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures_stay_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_durable_hook, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_approval_claimed_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incomplete_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_drains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gathers_behind_commits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lone_writes_not_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_ends_gathering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wal_starts_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_reader_holds_no_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_transaction_fails_group, setup, teardown),
	};
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test_setup_teardown(test_groups_and_durability, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_group_bound, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_failures_stay_alone, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_revoke_replaced, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_approval_claimed_once, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_hold_once, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_incomplete_refused, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_stop_drains, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_gathers_behind_commits, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_lone_writes_not_held, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_stop_ends_gathering, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_aborted_commit_fails, setup_pg, teardown_pg),
	};
	int rc;

	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rc == 0 && getenv("ESTKIT_TEST_PG_HOST") != NULL && getenv("ESTKIT_TEST_PG_PORT") != NULL)
		rc = cmocka_run_group_tests_name("writer on PostgreSQL", pg_tests, NULL, NULL);
	return rc;
}
