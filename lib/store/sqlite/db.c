/*
 * SQLite backend of the certificate store (struct est_store_ops "sqlite"): the
 * connection, the schema and its migrations, the statement cache, and the
 * checks and backups of the whole file. The records live in certs.c, ee.c,
 * requests.c, extca.c and crl.c.
 *
 * One handle is one connection, used by one thread (SQLITE_OPEN_NOMUTEX).
 * The database runs in WAL mode with synchronous=FULL, so a committed
 * certificate survives kill -9 and power loss; writers take the lock up front
 * (BEGIN IMMEDIATE) and wait for each other through the busy timeout. The
 * schema version is PRAGMA user_version, moved forward by the ordered steps
 * in migrations[], each in its own transaction. Input reaches SQL only
 * through bound parameters of statements prepared once per handle, and every
 * statement is reset after use so no read transaction stays open.
 */
#define _GNU_SOURCE /* statx */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "estkit/store.h"
#include "sqlite_int.h"
#include "store/store_int.h"

#define BUSY_TIMEOUT_MS 10000

/*
 * The columns of certs as step 1 made them, which step 8's table keeps (with
 * step 2's ee_id). Part of step 1: never change them.
 */
#define SQL_CERTS_V1_COLUMNS \
	" id INTEGER PRIMARY KEY," \
	" issuer TEXT NOT NULL," \
	" serial TEXT NOT NULL," \
	" subject TEXT NOT NULL," \
	" san TEXT NOT NULL DEFAULT ''," \
	" spki_sha256 TEXT NOT NULL," \
	" not_before INTEGER NOT NULL," \
	" not_after INTEGER NOT NULL," \
	" issued_at INTEGER NOT NULL," \
	" status TEXT NOT NULL CHECK (status IN ('valid','revoked'))," \
	" revoked_at INTEGER," \
	" revocation_reason INTEGER," \
	" principal TEXT NOT NULL DEFAULT ''," \
	" alias TEXT NOT NULL DEFAULT ''," \
	" der BLOB NOT NULL,"

/*
 * What steps 4 and 5 made on certs, which step 8 makes again on the table it
 * rebuilds: triggers that count every revocation per issuer, whichever
 * statement records it, and the partial indexes. Part of those steps: never
 * change them.
 */
#define SQL_CERTS_REVOCATION_COUNTED \
	"CREATE TRIGGER certs_revoked AFTER UPDATE OF status ON certs" \
	" WHEN NEW.status = 'revoked' AND OLD.status <> 'revoked' BEGIN" \
	" INSERT INTO revocation_counts (issuer, revision) VALUES (NEW.issuer, 1)" \
	" ON CONFLICT (issuer) DO UPDATE SET revision = revision + 1; END;" \
	"CREATE TRIGGER certs_inserted_revoked AFTER INSERT ON certs" \
	" WHEN NEW.status = 'revoked' BEGIN" \
	" INSERT INTO revocation_counts (issuer, revision) VALUES (NEW.issuer, 1)" \
	" ON CONFLICT (issuer) DO UPDATE SET revision = revision + 1; END;" \
	"CREATE INDEX certs_revoked_by_issuer ON certs (issuer) WHERE status = 'revoked';"
#define SQL_CERTS_EE_INDEX "CREATE INDEX certs_ee ON certs (ee_id) WHERE ee_id IS NOT NULL;"

/* migrations[i] brings the schema from version i to i + 1. Append only. */
static const char *const migrations[] = {
	"CREATE TABLE certs ("
	SQL_CERTS_V1_COLUMNS
	" UNIQUE (issuer, serial));"
	"CREATE INDEX certs_serial ON certs (serial);"
	"CREATE INDEX certs_subject ON certs (subject);"
	"CREATE INDEX certs_spki ON certs (spki_sha256);",
	/* 2: end entities (pre-registered enrolment), their certificates, external CAs. */
	"CREATE TABLE end_entities ("
	" id INTEGER PRIMARY KEY,"
	" username TEXT NOT NULL UNIQUE,"
	" subject TEXT NOT NULL,"
	" subject_der BLOB NOT NULL,"
	" san TEXT NOT NULL DEFAULT '',"
	" san_der BLOB,"
	" alias TEXT NOT NULL,"
	" profile TEXT NOT NULL DEFAULT '',"
	" code_hash TEXT NOT NULL,"
	" uses_left INTEGER NOT NULL CHECK (uses_left >= -1),"
	" valid_until INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL,"
	" last_used INTEGER NOT NULL DEFAULT 0);"
	"ALTER TABLE certs ADD COLUMN ee_id INTEGER REFERENCES end_entities (id) ON DELETE SET NULL;"
	"CREATE INDEX certs_ee ON certs (ee_id);"
	"CREATE TABLE external_cas ("
	" name TEXT PRIMARY KEY,"
	" subject TEXT NOT NULL,"
	" der BLOB NOT NULL,"
	" imported_at INTEGER NOT NULL);",
	/* 3: requests held for manual approval; at most one open per key (EST-S-44). */
	"CREATE TABLE requests ("
	" id INTEGER PRIMARY KEY,"
	" alias TEXT NOT NULL,"
	" operation TEXT NOT NULL,"
	" spki_sha256 TEXT NOT NULL,"
	" subject TEXT NOT NULL,"
	" san TEXT NOT NULL DEFAULT '',"
	" principal TEXT NOT NULL DEFAULT '',"
	" state TEXT NOT NULL CHECK (state IN ('pending','approved','rejected','issued')),"
	" created_at INTEGER NOT NULL,"
	" decided_at INTEGER);"
	"CREATE UNIQUE INDEX requests_open ON requests "
	" (alias, operation, spki_sha256, subject, san) WHERE state <> 'issued';",
	/*
	 * 4: revocation for relying parties (sqlite_crl.c). Triggers count every
	 * revocation per issuer, whichever statement records it, so a server
	 * notices one made by another process with one cheap read; each CA's
	 * current CRL is kept with its number, which only grows.
	 */
	"CREATE TABLE revocation_counts ("
	" issuer TEXT PRIMARY KEY,"
	" revision INTEGER NOT NULL);"
	SQL_CERTS_REVOCATION_COUNTED
	"CREATE TABLE crls ("
	" issuer TEXT PRIMARY KEY,"
	" crl_number INTEGER NOT NULL CHECK (crl_number > 0),"
	" revision INTEGER NOT NULL,"
	" this_update INTEGER NOT NULL,"
	" next_update INTEGER NOT NULL,"
	" der BLOB NOT NULL);",
	/*
	 * 5: fewer pages written per certificate. No query reads certs by
	 * subject or key (listing by subject is a LIKE, which these indexes
	 * cannot serve), and certificates without an end entity need no
	 * certs_ee entry: every enrolment wrote three index pages for nothing.
	 */
	"DROP INDEX IF EXISTS certs_subject;"
	"DROP INDEX IF EXISTS certs_spki;"
	"DROP INDEX IF EXISTS certs_ee;"
	SQL_CERTS_EE_INDEX,
	/*
	 * 6: end entities found by their names' keys (sq_index_ee), not by a
	 * scan of them all, which cost 73 ms per enrolment at 100,000.
	 * sq_index_all_ee fills it for those registered before.
	 */
	"CREATE TABLE ee_names ("
	" key TEXT NOT NULL,"
	" ee_id INTEGER NOT NULL REFERENCES end_entities (id) ON DELETE CASCADE,"
	" PRIMARY KEY (key, ee_id)) WITHOUT ROWID;"
	"CREATE INDEX ee_names_ee ON ee_names (ee_id);",
	/*
	 * 7: the keys of names changed (codec/namekeys.h: an address with a
	 * final dot is an address, host names under the domains wildcards
	 * cover, keys cut at a whole character); entities indexed under the old
	 * ones would be missed. sq_index_all_ee files them again.
	 */
	"DELETE FROM ee_names;",
	/*
	 * 8: one index on serial, not two. UNIQUE (issuer, serial) and
	 * certs_serial each wrote a random leaf page per certificate (serials
	 * are random); UNIQUE (serial, issuer) serves both the look-up by serial
	 * and the check, so the table is made again with it (SQLite cannot
	 * change a table's constraint in place). The triggers and indexes go
	 * with the old table and are made again as steps 4 and 5 made them.
	 */
	"CREATE TABLE certs_v8 ("
	SQL_CERTS_V1_COLUMNS
	" ee_id INTEGER REFERENCES end_entities (id) ON DELETE SET NULL,"
	" UNIQUE (serial, issuer));"
	"INSERT INTO certs_v8 SELECT id, issuer, serial, subject, san, spki_sha256, not_before,"
	" not_after, issued_at, status, revoked_at, revocation_reason, principal, alias, der, ee_id"
	" FROM certs;"
	"DROP TABLE certs;"
	"ALTER TABLE certs_v8 RENAME TO certs;"
	SQL_CERTS_REVOCATION_COUNTED
	SQL_CERTS_EE_INDEX,
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* What a step needs done in C after its SQL, in its transaction. */
static enum est_err (*const after_step[SCHEMA_VERSION])(struct sq_store *, struct est_error *) = {
	[5] = sq_index_all_ee,
	[6] = sq_index_all_ee,
};
_Static_assert(SCHEMA_VERSION == EST_STORE_SCHEMA_VERSION, "store_int.h: schema version");

enum est_err
sq_fail(struct sq_store *s, const char *doing, struct est_error *e)
{
	return est_fail(e, EST_ERR_STORE, "%s: %s: %s", s->path, doing,
	    sqlite3_errmsg(s->db));
}

enum est_err
sq_prepared(struct sq_store *s, const char *sql, sqlite3_stmt **out, struct est_error *e)
{
	int i;

	for (i = 0; i < SQ_STMT_MAX && s->sql[i] != NULL && s->sql[i] != sql; i++)
		;
	if (i == SQ_STMT_MAX)
		return est_fail(e, EST_ERR_INTERNAL, "%s: more than %d statements (SQ_STMT_MAX)",
		    s->path, SQ_STMT_MAX);
	if (s->sql[i] == NULL) {
		if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
		    NULL) != SQLITE_OK)
			return sq_fail(s, "preparing a statement", e);
		s->sql[i] = sql;
	}
	if (sqlite3_stmt_busy(s->stmt[i]))
		return est_fail(e, EST_ERR_INTERNAL, "%s: store re-entered while listing",
		    s->path);
	*out = s->stmt[i];
	return EST_OK;
}

void
sq_done(sqlite3_stmt *q)
{
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
}

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_VERSION[] = "PRAGMA user_version";

enum est_err
sq_run(struct sq_store *s, const char *sql, const char *doing, struct est_error *e)
{
	sqlite3_stmt *q;
	enum est_err rc;

	if ((rc = sq_prepared(s, sql, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_step(q) != SQLITE_DONE)
		rc = sq_fail(s, doing, e);
	sq_done(q);
	return rc;
}

static const char SQL_OP_SAVEPOINT[] = "SAVEPOINT est_op";
static const char SQL_OP_RELEASE[] = "RELEASE est_op";
static const char SQL_OP_UNDO[] = "ROLLBACK TO est_op";

enum est_err
sq_begin(struct sq_store *s, struct est_error *e)
{
	if (!s->bulk)
		return sq_run(s, SQL_BEGIN, "starting a transaction", e);
	/* SQLite rolls a whole transaction back on some errors (a full disk): a
	 * savepoint then would begin a transaction of its own, committed alone. */
	if (sqlite3_get_autocommit(s->db))
		return est_fail(e, EST_ERR_STORE, "%s: the bulk transaction was rolled back by an "
		    "earlier error", s->path);
	return sq_run(s, SQL_OP_SAVEPOINT, "starting a transaction", e);
}

enum est_err
sq_commit(struct sq_store *s, struct est_error *e)
{
	return sq_run(s, s->bulk ? SQL_OP_RELEASE : SQL_COMMIT, "committing", e);
}

/* Undo an open transaction after a failure whose reason is already in *e. */
void
sq_rollback(struct sq_store *s)
{
	if (sqlite3_get_autocommit(s->db))
		return;
	if (!s->bulk)
		sq_run(s, SQL_ROLLBACK, "rolling back", NULL);
	else if (sq_run(s, SQL_OP_UNDO, "rolling back", NULL) == EST_OK)
		sq_run(s, SQL_OP_RELEASE, "rolling back", NULL);
}

/* A deferred BEGIN: the read lock and the snapshot come with the first read. */
static const char SQL_READ_BEGIN[] = "BEGIN";

static enum est_err
sq_read_begin(struct est_store *st, struct est_error *e)
{
	return sq_run(sq(st), SQL_READ_BEGIN, "starting a read", e);
}

static void
sq_read_end(struct est_store *st)
{
	struct sq_store *s = sq(st);

	/* A failed statement may have ended the transaction already. */
	if (!sqlite3_get_autocommit(s->db) && sq_run(s, SQL_COMMIT, "ending a read", NULL) != EST_OK)
		sq_run(s, SQL_ROLLBACK, "ending a read", NULL);
}

enum est_err
sq_bulk_begin(struct est_store *st, struct est_error *e)
{
	struct sq_store *s = sq(st);
	enum est_err rc;

	if ((rc = sq_run(s, SQL_BEGIN, "starting a bulk transaction", e)) == EST_OK)
		s->bulk = true;
	return rc;
}

enum est_err
sq_bulk_commit(struct est_store *st, struct est_error *e)
{
	struct sq_store *s = sq(st);

	s->bulk = false;
	return sq_run(s, SQL_COMMIT, "committing the bulk transaction", e);
}

void
sq_bulk_rollback(struct est_store *st)
{
	struct sq_store *s = sq(st);

	s->bulk = false;
	sq_rollback(s);
}

/* Column i as a new string; -1 when out of memory (the columns are NOT NULL). */
int
sq_col_text(sqlite3_stmt *q, int i, char **out)
{
	const unsigned char *t;

	t = sqlite3_column_text(q, i);
	*out = t != NULL ? strdup((const char *)t) : NULL;
	return *out == NULL ? -1 : 0;
}

int
sq_col_blob(sqlite3_stmt *q, int i, unsigned char **out, size_t *len)
{
	const void *p;
	int n;

	p = sqlite3_column_blob(q, i);
	n = sqlite3_column_bytes(q, i);
	if ((*out = malloc(n > 0 ? (size_t)n : 1)) == NULL)
		return -1;
	if (n > 0)
		memcpy(*out, p, (size_t)n);
	*len = (size_t)n;
	return 0;
}

int64_t
sq_col_int(sqlite3_stmt *q, int i)
{
	return sqlite3_column_type(q, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(q, i);
}

enum est_err
sq_rows(struct sq_store *s, sqlite3_stmt *q, sq_row_fn each, void *arg, const char *doing,
    struct est_error *e)
{
	enum est_err rc = EST_OK;
	int src, stop = 0;

	while (rc == EST_OK && stop == 0) {
		if ((src = sqlite3_step(q)) == SQLITE_DONE)
			break;
		if (src != SQLITE_ROW)
			rc = sq_fail(s, doing, e);
		else
			rc = each(q, arg, &stop, e);
	}
	sq_done(q);
	return rc;
}

static enum est_err
read_version(struct sq_store *s, int *version, struct est_error *e)
{
	sqlite3_stmt *q;
	enum est_err rc;

	if ((rc = sq_prepared(s, SQL_VERSION, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_step(q) == SQLITE_ROW)
		*version = sqlite3_column_int(q, 0);
	else
		rc = sq_fail(s, "reading the schema version", e);
	sq_done(q);
	return rc;
}

static enum est_err
sq_schema_version(struct est_store *st, int *version, struct est_error *e)
{
	return read_version(sq(st), version, e);
}

static void
sq_close(struct est_store *st)
{
	struct sq_store *s = sq(st);

	sq_checkpointer_stop(s);
	for (int i = 0; i < SQ_STMT_MAX; i++)
		sqlite3_finalize(s->stmt[i]);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

/* PRAGMA quick_check or integrity_check: "ok", or the first problem found. */
static enum est_err
sq_check(struct est_store *st, bool full, struct est_error *e)
{
	struct sq_store *s = sq(st);
	const char *check = full ? "integrity_check" : "quick_check";
	char sql[40];
	sqlite3_stmt *q = NULL;
	const unsigned char *first = NULL;
	enum est_err rc = EST_OK;
	int step;

	snprintf(sql, sizeof(sql), "PRAGMA %s", check);
	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
		return est_fail(e, EST_ERR_STORE, "%s: SQLite %s failed: %s; the store is damaged, "
		    "restore it from its backup", s->path, check, sqlite3_errmsg(s->db));
	step = sqlite3_step(q);
	if (step == SQLITE_ROW)
		first = sqlite3_column_text(q, 0);
	if (step != SQLITE_ROW)
		rc = est_fail(e, EST_ERR_STORE, "%s: SQLite %s failed: %s; the store is damaged, "
		    "restore it from its backup", s->path, check, sqlite3_errmsg(s->db));
	else if (first == NULL || strcmp((const char *)first, "ok") != 0)
		rc = est_fail(e, EST_ERR_STORE, "%s: SQLite %s found damage: %.200s; restore the "
		    "store from its backup", s->path, check, first != NULL ? (const char *)first : "?");
	sqlite3_finalize(q);
	return rc;
}

/*
 * An online, consistent copy through SQLite's backup API: the copy is one
 * snapshot even while estd writes (the source is read in one transaction,
 * step -1). The target must not exist; it is made owner-only and removed
 * again on failure.
 */
static enum est_err
sq_backup(struct est_store *st, const char *path, struct est_error *e)
{
	struct sq_store *s = sq(st);
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	enum est_err rc = EST_OK;
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return est_fail(e, errno == EEXIST ? EST_ERR_EXISTS : EST_ERR_IO,
		    "%s: cannot create the backup: %s", path, strerror(errno));
	close(fd);
	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		rc = est_fail(e, EST_ERR_IO, "%s: cannot open the backup: %s", path,
		    dst != NULL ? sqlite3_errmsg(dst) : "out of memory");
	} else if ((b = sqlite3_backup_init(dst, "main", s->db, "main")) == NULL) {
		rc = est_fail(e, EST_ERR_STORE, "%s: cannot start the backup: %s", path,
		    sqlite3_errmsg(dst));
	} else {
		int step = sqlite3_backup_step(b, -1);

		if (sqlite3_backup_finish(b) != SQLITE_OK || step != SQLITE_DONE)
			rc = est_fail(e, EST_ERR_STORE, "%s: backup of %s failed: %s", path, s->path,
			    sqlite3_errmsg(dst));
	}
	/* The copy stands alone: no -wal beside it to carry along. */
	if (rc == EST_OK && sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL,
	    NULL) != SQLITE_OK)
		rc = est_fail(e, EST_ERR_STORE, "%s: finishing the backup: %s", path, sqlite3_errmsg(dst));
	if (dst != NULL && sqlite3_close(dst) != SQLITE_OK && rc == EST_OK)
		rc = est_fail(e, EST_ERR_IO, "%s: cannot close the backup", path);
	if (rc != EST_OK)
		unlink(path);
	return rc;
}

static const struct est_store_ops sqlite_ops = {
	.name = "sqlite",
	.put_cert = sq_put_cert,
	.get_cert = sq_get_cert,
	.list_certs = sq_list_certs,
	.count_expiring = sq_count_expiring,
	.revoke_cert = sq_revoke_cert,
	.release_cert = sq_release_cert,
	.hold_request = sq_hold_request,
	.find_request = sq_find_request,
	.list_requests = sq_list_requests,
	.set_request_state = sq_set_request_state,
	.schema_version = sq_schema_version,
	.check = sq_check,
	.backup = sq_backup,
	.put_cert_consume = sq_put_cert_consume,
	.put_issued = sq_put_issued,
	.put_ee = sq_put_ee,
	.get_ee = sq_get_ee,
	.get_ee_by_id = sq_get_ee_by_id,
	.list_ee = sq_list_ee,
	.list_ee_by_key = sq_list_ee_by_key,
	.del_ee = sq_del_ee,
	.reset_ee = sq_reset_ee,
	.put_ext_ca = sq_put_ext_ca,
	.list_ext_ca = sq_list_ext_ca,
	.revocation_revision = sq_revocation_revision,
	.get_crl = sq_get_crl,
	.put_crl = sq_put_crl,
	.list_crls = sq_list_crls,
	.group_start = sq_checkpointer_start,
	.group_begin = sq_group_begin,
	.group_write = sq_group_write,
	.group_commit = sq_group_commit,
	.group_rollback = sq_group_rollback,
	.read_begin = sq_read_begin,
	.read_end = sq_read_end,
	.bulk_begin = sq_bulk_begin,
	.bulk_commit = sq_bulk_commit,
	.bulk_rollback = sq_bulk_rollback,
	.close = sq_close,
};

/*
 * A store is only ever created on purpose (est_store_create): opening one
 * that is missing or empty is refused, because re-creating it silently
 * would serve on with every earlier certificate, revocation and end entity
 * gone.
 */
static enum est_err
check_present(const char *path, struct est_error *e)
{
	struct stat sb;

	if (stat(path, &sb) != 0)
		return est_fail(e, EST_ERR_STORE, "%s: no store there (%s); `estadm init` or "
		    "`estadm db create` creates one, and a store that went missing is restored "
		    "from its backup, not re-created", path, strerror(errno));
	if (sb.st_size == 0)
		return est_fail(e, EST_ERR_STORE, "%s: the store is empty (0 bytes): its records "
		    "are gone; restore it from its backup (`estadm db create` starts afresh)", path);
	return EST_OK;
}

/*
 * Make the file for a new store owner-only, before SQLite would create it
 * with its default 0644; SQLite gives the -wal and -shm files the database
 * file's mode. A file that exists must be empty.
 */
static enum est_err
create_private(const char *path, struct est_error *e)
{
	struct stat sb;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
		return EST_OK;
	}
	if (errno == EEXIST && stat(path, &sb) == 0 && sb.st_size == 0)
		return EST_OK;
	if (errno == EEXIST)
		return est_fail(e, EST_ERR_EXISTS, "%s: a store (or another file) is there already; "
		    "a new store is only made where there is none", path);
	return est_fail(e, EST_ERR_STORE, "%s: cannot create the store: %s", path,
	    strerror(errno));
}

/* WAL lets readers go on while one writer commits; refuse to run without it. */
static enum est_err
set_wal(struct sq_store *s, struct est_error *e)
{
	sqlite3_stmt *q;
	const unsigned char *mode;
	enum est_err rc = EST_OK;

	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &q, NULL) != SQLITE_OK)
		return sq_fail(s, "switching to WAL journal mode", e);
	if (sqlite3_step(q) != SQLITE_ROW)
		rc = sq_fail(s, "switching to WAL journal mode", e);
	else if ((mode = sqlite3_column_text(q, 0)) == NULL ||
	    strcmp((const char *)mode, "wal") != 0)
		rc = est_fail(e, EST_ERR_STORE, "%s: the file system does not allow WAL "
		    "journal mode (got %s)", s->path, mode != NULL ? (const char *)mode : "none");
	sqlite3_finalize(q);
	return rc;
}

static enum est_err
open_db(struct sq_store *s, bool creating, struct est_error *e)
{
	/* Never SQLITE_OPEN_CREATE on open: a file removed since the check stays missing. */
	const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
	    (creating ? SQLITE_OPEN_CREATE : 0);
	enum est_err rc;

	if (sqlite3_open_v2(s->path, &s->db, flags, NULL) != SQLITE_OK)
		return sq_fail(s, "opening the store", e);
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	if ((rc = set_wal(s, e)) != EST_OK)
		return rc;
	if (sqlite3_exec(s->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON",
	    NULL, NULL, NULL) != SQLITE_OK)
		return sq_fail(s, "configuring the connection", e);
	return EST_OK;
}

/* Apply migrations[step] unless another connection got there first. */
static enum est_err
migrate_step(struct sq_store *s, int step, struct est_error *e)
{
	char set_version[48];
	enum est_err rc;
	int version = -1;

	if ((rc = sq_run(s, SQL_BEGIN, "starting a schema migration", e)) != EST_OK)
		return rc;
	rc = read_version(s, &version, e);
	if (rc == EST_OK && version == step) {
		snprintf(set_version, sizeof(set_version), "PRAGMA user_version = %d", step + 1);
		if (sqlite3_exec(s->db, migrations[step], NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(s->db, set_version, NULL, NULL, NULL) != SQLITE_OK)
			rc = est_fail(e, EST_ERR_STORE, "%s: migrating the schema to version %d: %s",
			    s->path, step + 1, sqlite3_errmsg(s->db));
		else if (after_step[step] != NULL)
			rc = after_step[step](s, e);
	}
	if (rc == EST_OK)
		rc = sq_run(s, SQL_COMMIT, "committing a schema migration", e);
	if (rc != EST_OK)
		sq_rollback(s);
	return rc;
}

static enum est_err
migrate(struct sq_store *s, bool creating, int *from, struct est_error *e)
{
	enum est_err rc;
	int version, step;

	if ((rc = read_version(s, &version, e)) != EST_OK)
		return rc;
	*from = version;
	if (version < 0)
		return est_fail(e, EST_ERR_STORE, "%s: database schema version %d was not "
		    "written by estkit", s->path, version);
	if (version == 0 && !creating)
		return est_fail(e, EST_ERR_STORE, "%s: an SQLite database without estkit's schema; "
		    "`estadm db create` makes a store (elsewhere), a lost one is restored from "
		    "its backup", s->path);
	if (version > SCHEMA_VERSION)
		return est_fail(e, EST_ERR_STORE, "%s: database schema version %d is newer "
		    "than this estkit (%d); upgrade estkit", s->path, version, SCHEMA_VERSION);
	for (step = version; step < SCHEMA_VERSION; step++)
		if ((rc = migrate_step(s, step, e)) != EST_OK)
			return rc;
	return EST_OK;
}

/*
 * Refuse a database, -wal or -shm file marked immutable or append-only
 * (chattr +i / +a). SQLite writes the -shm through a shared memory map, and
 * the kernel answers a write to a mapped page of an immutable file with
 * SIGBUS, which kills the process: SQLite never sees an error it could
 * return. So this is checked when the store is opened; a file made
 * immutable while a server runs cannot be caught (see estd(8)). statx reads
 * the flags by name: opening and closing the file would drop the POSIX
 * locks SQLite holds on it through other handles of this process.
 */
static enum est_err
check_attrs(const char *path, struct est_error *e)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	const uint64_t bad = STATX_ATTR_IMMUTABLE | STATX_ATTR_APPEND;
	char file[PATH_MAX];
	struct statx stx;

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if (snprintf(file, sizeof(file), "%s%s", path, suffixes[i]) >= (int)sizeof(file))
			return est_fail(e, EST_ERR_STORE, "%s: path too long", path);
		if (statx(AT_FDCWD, file, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) != 0)
			continue;
		if ((stx.stx_attributes & stx.stx_attributes_mask & bad) != 0)
			return est_fail(e, EST_ERR_STORE, "%s is marked %s, so the store cannot be "
			    "written (and SQLite's memory map of it would crash the program); run: "
			    "chattr -i -a %s", file, (stx.stx_attributes & STATX_ATTR_IMMUTABLE) ?
			    "immutable" : "append-only", file);
	}
	return EST_OK;
}

static enum est_err
sqlite_open(const char *path, bool creating, int *from, struct est_store **out,
    struct est_error *e)
{
	struct sq_store *s;
	enum est_err rc;

	rc = creating ? create_private(path, e) : check_present(path, e);
	if (rc == EST_OK)
		rc = check_attrs(path, e);
	if (rc != EST_OK)
		return rc;
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->path = strdup(path)) == NULL) {
		free(s);
		return est_fail(e, EST_ERR_NOMEM, "out of memory opening a store");
	}
	s->base.ops = &sqlite_ops;
	rc = open_db(s, creating, e);
	if (rc == EST_OK)
		rc = migrate(s, creating, from, e);
	if (rc != EST_OK) {
		sq_close(&s->base);
		return rc;
	}
	*out = &s->base;
	return EST_OK;
}

enum est_err
est_store_sqlite_open(const char *path, struct est_store **out, struct est_error *e)
{
	int from;

	return sqlite_open(path, false, &from, out, e);
}

enum est_err
est_store_sqlite_create(const char *path, struct est_store **out, struct est_error *e)
{
	int from;

	return sqlite_open(path, true, &from, out, e);
}

enum est_err
est_store_sqlite_migrate(const char *path, int *from, struct est_store **out,
    struct est_error *e)
{
	return sqlite_open(path, false, from, out, e);
}
