/*
 * SQLite backend of the certificate store (struct est_store_ops "sqlite").
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
#include "store_int.h"

#define BUSY_TIMEOUT_MS 10000

/* migrations[i] brings the schema from version i to i + 1. Append only. */
static const char *const migrations[] = {
	"CREATE TABLE certs ("
	" id INTEGER PRIMARY KEY,"
	" issuer TEXT NOT NULL,"
	" serial TEXT NOT NULL,"
	" subject TEXT NOT NULL,"
	" san TEXT NOT NULL DEFAULT '',"
	" spki_sha256 TEXT NOT NULL,"
	" not_before INTEGER NOT NULL,"
	" not_after INTEGER NOT NULL,"
	" issued_at INTEGER NOT NULL,"
	" status TEXT NOT NULL CHECK (status IN ('valid','revoked')),"
	" revoked_at INTEGER,"
	" revocation_reason INTEGER,"
	" principal TEXT NOT NULL DEFAULT '',"
	" alias TEXT NOT NULL DEFAULT '',"
	" der BLOB NOT NULL,"
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
	"CREATE TRIGGER certs_revoked AFTER UPDATE OF status ON certs"
	" WHEN NEW.status = 'revoked' AND OLD.status <> 'revoked' BEGIN"
	" INSERT INTO revocation_counts (issuer, revision) VALUES (NEW.issuer, 1)"
	" ON CONFLICT (issuer) DO UPDATE SET revision = revision + 1; END;"
	"CREATE TRIGGER certs_inserted_revoked AFTER INSERT ON certs"
	" WHEN NEW.status = 'revoked' BEGIN"
	" INSERT INTO revocation_counts (issuer, revision) VALUES (NEW.issuer, 1)"
	" ON CONFLICT (issuer) DO UPDATE SET revision = revision + 1; END;"
	"CREATE INDEX certs_revoked_by_issuer ON certs (issuer) WHERE status = 'revoked';"
	"CREATE TABLE crls ("
	" issuer TEXT PRIMARY KEY,"
	" crl_number INTEGER NOT NULL CHECK (crl_number > 0),"
	" revision INTEGER NOT NULL,"
	" this_update INTEGER NOT NULL,"
	" next_update INTEGER NOT NULL,"
	" der BLOB NOT NULL);",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The columns row_to_rec reads, in its order. */
#define CERT_COLUMNS "id, issuer, serial, subject, san, spki_sha256, not_before, " \
	"not_after, issued_at, status, revoked_at, revocation_reason, principal, alias, der, ee_id"

/* The columns row_to_req reads, in its order. */
#define REQ_COLUMNS "id, alias, operation, spki_sha256, subject, san, principal, state, " \
	"created_at, decided_at"

enum query {
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_VERSION,
	Q_INSERT,
	Q_GET,
	Q_FIND,
	Q_REVOKE,
	Q_LIST,
	Q_REQ_FIND,
	Q_REQ_INSERT,
	Q_REQ_GET,
	Q_REQ_SET,
	Q_REQ_LIST,
	Q__MAX
};

_Static_assert(Q__MAX <= SQ_Q_MAX, "sqlite_int.h: SQ_Q_MAX too small");

static const char *const queries[Q__MAX] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_VERSION] = "PRAGMA user_version",
	[Q_INSERT] = "INSERT INTO certs (issuer, serial, subject, san, spki_sha256, "
	    "not_before, not_after, issued_at, status, revoked_at, revocation_reason, "
	    "principal, alias, der, ee_id) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
	[Q_GET] = "SELECT " CERT_COLUMNS " FROM certs "
	    "WHERE serial = ?1 AND (?2 IS NULL OR issuer = ?2) ORDER BY id LIMIT 2",
	[Q_FIND] = "SELECT id, status = 'valid' FROM certs "
	    "WHERE serial = ?1 AND (?2 IS NULL OR issuer = ?2) LIMIT 2",
	[Q_REVOKE] = "UPDATE certs SET status = 'revoked', revoked_at = ?2, "
	    "revocation_reason = ?3 WHERE id = ?1 AND status = 'valid'",
	[Q_LIST] = "SELECT " CERT_COLUMNS " FROM certs "
	    "WHERE (?1 IS NULL OR issuer = ?1) AND (?2 IS NULL OR subject LIKE ?2) "
	    "AND (?3 = 0 OR (status = 'valid' AND not_after > ?4)) "
	    "AND (?6 = 0 OR status = 'revoked') AND (?7 = 0 OR ee_id = ?7) "
	    "ORDER BY id LIMIT ?5",
	[Q_REQ_FIND] = "SELECT " REQ_COLUMNS " FROM requests WHERE alias = ?1 AND operation = ?2 "
	    "AND spki_sha256 = ?3 AND subject = ?4 AND san = ?5 AND state <> 'issued'",
	[Q_REQ_INSERT] = "INSERT INTO requests (alias, operation, spki_sha256, subject, san, "
	    "principal, state, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)",
	[Q_REQ_GET] = "SELECT " REQ_COLUMNS " FROM requests WHERE id = ?1",
	[Q_REQ_SET] = "UPDATE requests SET state = ?3, decided_at = CASE WHEN ?3 IN "
	    "('approved', 'rejected') THEN ?4 ELSE decided_at END WHERE id = ?1 AND state = ?2",
	[Q_REQ_LIST] = "SELECT " REQ_COLUMNS " FROM requests "
	    "WHERE ?1 = 0 OR state <> 'issued' ORDER BY id",
};

static struct sq_store *
sq(struct est_store *st)
{
	return (struct sq_store *)st;
}

/* Fail with SQLite's reason for the last call; read it before any reset. */
static enum est_err
db_fail(struct sq_store *s, const char *doing, struct est_error *e)
{
	return est_fail(e, EST_ERR_STORE, "%s: %s: %s", s->path, doing,
	    sqlite3_errmsg(s->db));
}

/*
 * The prepared statement for q. A statement still stepping means the store
 * was re-entered from a list visitor on the same query, which would silently
 * restart the outer listing.
 */
static enum est_err
prepared(struct sq_store *s, enum query q, sqlite3_stmt **out, struct est_error *e)
{
	if (s->stmt[q] == NULL && sqlite3_prepare_v3(s->db, queries[q], -1,
	    SQLITE_PREPARE_PERSISTENT, &s->stmt[q], NULL) != SQLITE_OK)
		return db_fail(s, "preparing a statement", e);
	if (sqlite3_stmt_busy(s->stmt[q]))
		return est_fail(e, EST_ERR_INTERNAL, "%s: store re-entered while listing",
		    s->path);
	*out = s->stmt[q];
	return EST_OK;
}

static void
done(sqlite3_stmt *q)
{
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
}

/* Run a statement without parameters or rows (BEGIN, COMMIT, ...). */
static enum est_err
run(struct sq_store *s, enum query which, const char *doing, struct est_error *e)
{
	sqlite3_stmt *q;
	enum est_err rc;

	if ((rc = prepared(s, which, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_step(q) != SQLITE_DONE)
		rc = db_fail(s, doing, e);
	done(q);
	return rc;
}

/* Undo an open transaction after a failure whose reason is already in *e. */
static void
rollback(struct sq_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		run(s, Q_ROLLBACK, "rolling back", NULL);
}

static enum est_err
read_version(struct sq_store *s, int *version, struct est_error *e)
{
	sqlite3_stmt *q;
	enum est_err rc;

	if ((rc = prepared(s, Q_VERSION, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_step(q) == SQLITE_ROW)
		*version = sqlite3_column_int(q, 0);
	else
		rc = db_fail(s, "reading the schema version", e);
	done(q);
	return rc;
}

/* Column i as a new string; -1 when out of memory (the columns are NOT NULL). */
static int
col_text(sqlite3_stmt *q, int i, char **out)
{
	const unsigned char *t;

	t = sqlite3_column_text(q, i);
	*out = t != NULL ? strdup((const char *)t) : NULL;
	return *out == NULL ? -1 : 0;
}

static int
col_blob(sqlite3_stmt *q, int i, unsigned char **out, size_t *len)
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

/* The current row (columns CERT_COLUMNS) as a new record. */
static enum est_err
row_to_rec(sqlite3_stmt *q, struct est_cert_rec **out, struct est_error *e)
{
	struct est_cert_rec *r;
	const unsigned char *t;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    col_text(q, 1, &r->issuer) != 0 || col_text(q, 2, &r->serial) != 0 ||
	    col_text(q, 3, &r->subject) != 0 || col_text(q, 4, &r->san) != 0 ||
	    col_text(q, 12, &r->principal) != 0 || col_text(q, 13, &r->alias) != 0 ||
	    col_blob(q, 14, &r->der, &r->der_len) != 0) {
		est_cert_rec_free(r);
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading a certificate record");
	}
	r->id = sqlite3_column_int64(q, 0);
	t = sqlite3_column_text(q, 5);
	snprintf(r->spki_sha256, sizeof(r->spki_sha256), "%s", t != NULL ? (const char *)t : "");
	r->not_before = sqlite3_column_int64(q, 6);
	r->not_after = sqlite3_column_int64(q, 7);
	r->issued_at = sqlite3_column_int64(q, 8);
	t = sqlite3_column_text(q, 9);
	r->status = t != NULL && strcmp((const char *)t, "revoked") == 0 ?
	    EST_CERT_REVOKED : EST_CERT_VALID;
	r->revoked_at = sqlite3_column_type(q, 10) == SQLITE_NULL ? 0 :
	    sqlite3_column_int64(q, 10);
	r->revocation_reason = sqlite3_column_type(q, 11) == SQLITE_NULL ? -1 :
	    sqlite3_column_int(q, 11);
	r->ee_id = sqlite3_column_int64(q, 15);
	*out = r;
	return EST_OK;
}

/* Parameters left unbound (revocation time and reason of a valid record) are NULL. */
static int
bind_rec(sqlite3_stmt *q, const struct est_cert_rec *r)
{
	const char *san = r->san != NULL ? r->san : "";
	const char *principal = r->principal != NULL ? r->principal : "";
	const char *alias = r->alias != NULL ? r->alias : "";
	const char *status = est_cert_status_name(r->status);

	if (sqlite3_bind_text(q, 1, r->issuer, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 2, r->serial, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 3, r->subject, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 4, san, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 5, r->spki_sha256, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 6, r->not_before) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 7, r->not_after) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 8, r->issued_at) != SQLITE_OK ||
	    sqlite3_bind_text(q, 9, status, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 12, principal, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 13, alias, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob64(q, 14, r->der, r->der_len, SQLITE_STATIC) != SQLITE_OK)
		return -1;
	if (r->ee_id > 0 && sqlite3_bind_int64(q, 15, r->ee_id) != SQLITE_OK)
		return -1;
	if (r->status == EST_CERT_REVOKED &&
	    (sqlite3_bind_int64(q, 10, r->revoked_at) != SQLITE_OK ||
	    sqlite3_bind_int(q, 11, r->revocation_reason) != SQLITE_OK))
		return -1;
	return 0;
}

static enum est_err
insert(struct sq_store *s, const struct est_cert_rec *rec, int64_t *id,
    struct est_error *e)
{
	sqlite3_stmt *q;
	enum est_err rc;
	int src;

	if ((rc = prepared(s, Q_INSERT, &q, e)) != EST_OK)
		return rc;
	if (bind_rec(q, rec) != 0)
		rc = db_fail(s, "binding a certificate record", e);
	else if ((src = sqlite3_step(q)) == SQLITE_CONSTRAINT_UNIQUE)
		rc = est_fail(e, EST_ERR_EXISTS, "certificate %s of issuer %s is already on record",
		    rec->serial, rec->issuer);
	else if (src != SQLITE_DONE)
		rc = db_fail(s, "recording a certificate", e);
	else
		*id = sqlite3_last_insert_rowid(s->db);
	done(q);
	return rc;
}

static enum est_err
sq_put_cert(struct est_store *st, struct est_cert_rec *rec, struct est_error *e)
{
	struct sq_store *s = sq(st);
	int64_t id = 0;
	enum est_err rc;

	if ((rc = run(s, Q_BEGIN, "starting a transaction", e)) != EST_OK)
		return rc;
	rc = insert(s, rec, &id, e);
	if (rc == EST_OK)
		rc = run(s, Q_COMMIT, "committing a certificate", e);
	if (rc != EST_OK) {
		rollback(s);
		return rc;
	}
	rec->id = id;
	return EST_OK;
}

static int
bind_key(sqlite3_stmt *q, const char *issuer, const char *serial)
{
	if (sqlite3_bind_text(q, 1, serial, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 2, issuer, -1, SQLITE_STATIC) != SQLITE_OK)
		return -1;
	return 0;
}

static enum est_err
not_found(const char *issuer, const char *serial, struct est_error *e)
{
	if (issuer != NULL)
		return est_fail(e, EST_ERR_NOTFOUND, "no certificate %s of issuer %s on record",
		    serial, issuer);
	return est_fail(e, EST_ERR_NOTFOUND, "no certificate %s on record", serial);
}

static enum est_err
ambiguous(const char *serial, struct est_error *e)
{
	return est_fail(e, EST_ERR_EXISTS,
	    "several issuers used serial %s; name the issuer", serial);
}

static enum est_err
sq_get_cert(struct est_store *st, const char *issuer, const char *serial,
    struct est_cert_rec **out, struct est_error *e)
{
	struct sq_store *s = sq(st);
	struct est_cert_rec *rec = NULL;
	sqlite3_stmt *q;
	enum est_err rc;
	int src;

	if ((rc = prepared(s, Q_GET, &q, e)) != EST_OK)
		return rc;
	if (bind_key(q, issuer, serial) != 0)
		rc = db_fail(s, "binding a serial number", e);
	else if ((src = sqlite3_step(q)) == SQLITE_DONE)
		rc = not_found(issuer, serial, e);
	else if (src != SQLITE_ROW)
		rc = db_fail(s, "looking a certificate up", e);
	else if ((rc = row_to_rec(q, &rec, e)) == EST_OK) {
		if ((src = sqlite3_step(q)) == SQLITE_ROW)
			rc = ambiguous(serial, e);
		else if (src != SQLITE_DONE)
			rc = db_fail(s, "looking a certificate up", e);
	}
	done(q);
	if (rc != EST_OK) {
		est_cert_rec_free(rec);
		return rc;
	}
	*out = rec;
	return EST_OK;
}

static int
bind_filter(sqlite3_stmt *q, const struct est_cert_filter *f)
{
	if (sqlite3_bind_text(q, 1, f->issuer, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 2, f->subject_like, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int(q, 3, f->only_valid ? 1 : 0) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 4, f->now) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 5, f->limit > 0 ? (sqlite3_int64)f->limit : -1) != SQLITE_OK ||
	    sqlite3_bind_int(q, 6, f->only_revoked ? 1 : 0) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 7, f->ee_id) != SQLITE_OK)
		return -1;
	return 0;
}

static enum est_err
sq_list_certs(struct est_store *st, const struct est_cert_filter *f,
    est_cert_visit visit, void *arg, struct est_error *e)
{
	struct sq_store *s = sq(st);
	struct est_cert_rec *rec;
	sqlite3_stmt *q;
	enum est_err rc;
	int src, stop = 0;

	if ((rc = prepared(s, Q_LIST, &q, e)) != EST_OK)
		return rc;
	if (bind_filter(q, f) != 0)
		rc = db_fail(s, "binding a certificate filter", e);
	while (rc == EST_OK && stop == 0) {
		if ((src = sqlite3_step(q)) == SQLITE_DONE)
			break;
		if (src != SQLITE_ROW)
			rc = db_fail(s, "listing certificates", e);
		else if ((rc = row_to_rec(q, &rec, e)) == EST_OK) {
			stop = visit(rec, arg);
			est_cert_rec_free(rec);
		}
	}
	done(q);
	return rc;
}

/* Within a transaction: the id of the one certificate that can be revoked. */
static enum est_err
find_valid(struct sq_store *s, const char *issuer, const char *serial, int64_t *id,
    struct est_error *e)
{
	sqlite3_stmt *q;
	enum est_err rc;
	int src, valid = 0;

	if ((rc = prepared(s, Q_FIND, &q, e)) != EST_OK)
		return rc;
	if (bind_key(q, issuer, serial) != 0)
		rc = db_fail(s, "binding a serial number", e);
	else if ((src = sqlite3_step(q)) == SQLITE_DONE)
		rc = not_found(issuer, serial, e);
	else if (src != SQLITE_ROW)
		rc = db_fail(s, "looking a certificate up", e);
	else {
		*id = sqlite3_column_int64(q, 0);
		valid = sqlite3_column_int(q, 1);
		if ((src = sqlite3_step(q)) == SQLITE_ROW)
			rc = ambiguous(serial, e);
		else if (src != SQLITE_DONE)
			rc = db_fail(s, "looking a certificate up", e);
		else if (!valid)
			rc = est_fail(e, EST_ERR_FORBIDDEN, "certificate %s is already revoked",
			    serial);
	}
	done(q);
	return rc;
}

static enum est_err
mark_revoked(struct sq_store *s, int64_t id, const char *serial, int reason,
    int64_t when, struct est_error *e)
{
	sqlite3_stmt *q;
	enum est_err rc;

	if ((rc = prepared(s, Q_REVOKE, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_int64(q, 1, id) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 2, when) != SQLITE_OK ||
	    sqlite3_bind_int(q, 3, reason) != SQLITE_OK)
		rc = db_fail(s, "binding a revocation", e);
	else if (sqlite3_step(q) != SQLITE_DONE)
		rc = db_fail(s, "revoking a certificate", e);
	else if (sqlite3_changes(s->db) != 1)
		rc = est_fail(e, EST_ERR_FORBIDDEN, "certificate %s is already revoked", serial);
	done(q);
	return rc;
}

enum est_err
sq_revoke_in_tx(struct sq_store *s, const char *issuer, const char *serial, int reason,
    int64_t when, struct est_error *e)
{
	int64_t id = 0;
	enum est_err rc;

	rc = find_valid(s, issuer, serial, &id, e);
	if (rc == EST_OK)
		rc = mark_revoked(s, id, serial, reason, when, e);
	return rc;
}

static enum est_err
sq_revoke_cert(struct est_store *st, const char *issuer, const char *serial,
    int reason, int64_t when, struct est_error *e)
{
	struct sq_store *s = sq(st);
	enum est_err rc;

	if ((rc = run(s, Q_BEGIN, "starting a transaction", e)) != EST_OK)
		return rc;
	rc = sq_revoke_in_tx(s, issuer, serial, reason, when, e);
	if (rc == EST_OK)
		rc = run(s, Q_COMMIT, "committing a revocation", e);
	if (rc != EST_OK)
		rollback(s);
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
	int i;

	for (i = 0; i < Q__MAX; i++)
		sqlite3_finalize(s->stmt[i]);
	for (i = 0; i < SQ_EE__MAX; i++)
		sqlite3_finalize(s->ee_stmt[i]);
	for (i = 0; i < SQ_CRL__MAX; i++)
		sqlite3_finalize(s->crl_stmt[i]);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

/* ---- for sqlite_ee.c (see sqlite_int.h) ---- */

enum est_err
sq_fail(struct sq_store *s, const char *doing, struct est_error *e)
{
	return db_fail(s, doing, e);
}

void
sq_done(sqlite3_stmt *q)
{
	done(q);
}

enum est_err
sq_begin(struct sq_store *s, struct est_error *e)
{
	return run(s, Q_BEGIN, "starting a transaction", e);
}

enum est_err
sq_commit(struct sq_store *s, struct est_error *e)
{
	return run(s, Q_COMMIT, "committing", e);
}

void
sq_rollback(struct sq_store *s)
{
	rollback(s);
}

int
sq_col_text(sqlite3_stmt *q, int i, char **out)
{
	return col_text(q, i, out);
}

int
sq_col_blob(sqlite3_stmt *q, int i, unsigned char **out, size_t *len)
{
	return col_blob(q, i, out, len);
}

enum est_err
sq_insert_cert(struct sq_store *s, const struct est_cert_rec *rec, int64_t *id,
    struct est_error *e)
{
	return insert(s, rec, id, e);
}

/* ---- requests held for approval ---------------------------------------- */

static enum est_req_state
state_of(const unsigned char *t)
{
	for (int i = 0; t != NULL && i < EST_REQ_STATE__MAX; i++)
		if (strcmp((const char *)t, est_req_state_name((enum est_req_state)i)) == 0)
			return (enum est_req_state)i;
	return EST_REQ_STATE__MAX;
}

/* The current row (columns REQ_COLUMNS) as a new record. */
static enum est_err
row_to_req(sqlite3_stmt *q, struct est_req_rec **out, struct est_error *e)
{
	struct est_req_rec *r;
	const unsigned char *t;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    col_text(q, 1, &r->alias) != 0 || col_text(q, 2, &r->operation) != 0 ||
	    col_text(q, 4, &r->subject) != 0 || col_text(q, 5, &r->san) != 0 ||
	    col_text(q, 6, &r->principal) != 0) {
		est_req_rec_free(r);
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading a request");
	}
	r->id = sqlite3_column_int64(q, 0);
	t = sqlite3_column_text(q, 3);
	snprintf(r->spki_sha256, sizeof(r->spki_sha256), "%s", t != NULL ? (const char *)t : "");
	r->state = state_of(sqlite3_column_text(q, 7));
	r->created_at = sqlite3_column_int64(q, 8);
	r->decided_at = sqlite3_column_type(q, 9) == SQLITE_NULL ? 0 : sqlite3_column_int64(q, 9);
	*out = r;
	return EST_OK;
}

static int
bind_req_key(sqlite3_stmt *q, const struct est_req_rec *r)
{
	if (sqlite3_bind_text(q, 1, r->alias, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 2, r->operation, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 3, r->spki_sha256, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 4, r->subject, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 5, r->san, -1, SQLITE_STATIC) != SQLITE_OK)
		return -1;
	return 0;
}

/* Run a one-row query q whose parameters are bound; *out NULL when no row. */
static enum est_err
one_req(struct sq_store *s, sqlite3_stmt *q, struct est_req_rec **out, struct est_error *e)
{
	enum est_err rc = EST_OK;
	int src;

	*out = NULL;
	if ((src = sqlite3_step(q)) == SQLITE_ROW)
		rc = row_to_req(q, out, e);
	else if (src != SQLITE_DONE)
		rc = db_fail(s, "looking a request up", e);
	done(q);
	return rc;
}

static enum est_err
get_req(struct sq_store *s, int64_t id, struct est_req_rec **out, struct est_error *e)
{
	sqlite3_stmt *q;
	enum est_err rc;

	if ((rc = prepared(s, Q_REQ_GET, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_int64(q, 1, id) != SQLITE_OK) {
		rc = db_fail(s, "binding a request id", e);
		done(q);
		return rc;
	}
	return one_req(s, q, out, e);
}

static enum est_err
find_open_req(struct sq_store *s, const struct est_req_rec *key, struct est_req_rec **out,
    struct est_error *e)
{
	sqlite3_stmt *q;
	enum est_err rc;

	if ((rc = prepared(s, Q_REQ_FIND, &q, e)) != EST_OK)
		return rc;
	if (bind_req_key(q, key) != 0) {
		rc = db_fail(s, "binding a request", e);
		done(q);
		return rc;
	}
	return one_req(s, q, out, e);
}

static enum est_err
insert_req(struct sq_store *s, const struct est_req_rec *r, int64_t *id, struct est_error *e)
{
	sqlite3_stmt *q;
	enum est_err rc;

	if ((rc = prepared(s, Q_REQ_INSERT, &q, e)) != EST_OK)
		return rc;
	if (bind_req_key(q, r) != 0 ||
	    sqlite3_bind_text(q, 6, r->principal, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 7, r->created_at) != SQLITE_OK)
		rc = db_fail(s, "binding a request", e);
	else if (sqlite3_step(q) != SQLITE_DONE)
		rc = db_fail(s, "recording a request", e);
	else
		*id = sqlite3_last_insert_rowid(s->db);
	done(q);
	return rc;
}

static enum est_err
sq_hold_request(struct est_store *st, const struct est_req_rec *rec, struct est_req_rec **out,
    struct est_error *e)
{
	struct sq_store *s = sq(st);
	struct est_req_rec *found = NULL;
	int64_t id = 0;
	enum est_err rc;

	if ((rc = run(s, Q_BEGIN, "starting a transaction", e)) != EST_OK)
		return rc;
	rc = find_open_req(s, rec, &found, e);
	if (rc == EST_OK && found == NULL && (rc = insert_req(s, rec, &id, e)) == EST_OK)
		rc = get_req(s, id, &found, e);
	if (rc == EST_OK)
		rc = run(s, Q_COMMIT, "committing a request", e);
	if (rc != EST_OK) {
		rollback(s);
		est_req_rec_free(found);
		return rc;
	}
	*out = found;
	return EST_OK;
}

static enum est_err
sq_list_requests(struct est_store *st, bool open_only, est_req_visit visit, void *arg,
    struct est_error *e)
{
	struct sq_store *s = sq(st);
	struct est_req_rec *rec;
	sqlite3_stmt *q;
	enum est_err rc;
	int src, stop = 0;

	if ((rc = prepared(s, Q_REQ_LIST, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_int(q, 1, open_only ? 1 : 0) != SQLITE_OK)
		rc = db_fail(s, "binding a request filter", e);
	while (rc == EST_OK && stop == 0) {
		if ((src = sqlite3_step(q)) == SQLITE_DONE)
			break;
		if (src != SQLITE_ROW)
			rc = db_fail(s, "listing requests", e);
		else if ((rc = row_to_req(q, &rec, e)) == EST_OK) {
			stop = visit(rec, arg);
			est_req_rec_free(rec);
		}
	}
	done(q);
	return rc;
}

/* Why a request could not move: it is missing, or in another state. */
static enum est_err
explain_state(struct sq_store *s, int64_t id, enum est_req_state from, struct est_error *e)
{
	struct est_req_rec *r = NULL;
	enum est_err rc;

	if ((rc = get_req(s, id, &r, e)) != EST_OK)
		return rc;
	if (r == NULL)
		return est_fail(e, EST_ERR_NOTFOUND, "no request %lld", (long long)id);
	rc = est_fail(e, EST_ERR_FORBIDDEN, "request %lld is %s, not %s", (long long)id,
	    est_req_state_name(r->state), est_req_state_name(from));
	est_req_rec_free(r);
	return rc;
}

static enum est_err
sq_set_request_state(struct est_store *st, int64_t id, enum est_req_state from,
    enum est_req_state to, int64_t when, struct est_error *e)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q;
	enum est_err rc;
	int changed = 0;

	if ((rc = prepared(s, Q_REQ_SET, &q, e)) != EST_OK)
		return rc;
	if (sqlite3_bind_int64(q, 1, id) != SQLITE_OK ||
	    sqlite3_bind_text(q, 2, est_req_state_name(from), -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 3, est_req_state_name(to), -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 4, when) != SQLITE_OK)
		rc = db_fail(s, "binding a request state", e);
	else if (sqlite3_step(q) != SQLITE_DONE)
		rc = db_fail(s, "changing a request's state", e);
	else
		changed = sqlite3_changes(s->db);
	done(q);
	if (rc == EST_OK && changed != 1)
		rc = explain_state(s, id, from, e);
	return rc;
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
	.revoke_cert = sq_revoke_cert,
	.hold_request = sq_hold_request,
	.list_requests = sq_list_requests,
	.set_request_state = sq_set_request_state,
	.schema_version = sq_schema_version,
	.check = sq_check,
	.backup = sq_backup,
	.put_cert_consume = sq_put_cert_consume,
	.put_issued = sq_put_issued,
	.put_ee = sq_put_ee,
	.get_ee = sq_get_ee,
	.list_ee = sq_list_ee,
	.list_ee_matching = sq_list_ee_matching,
	.del_ee = sq_del_ee,
	.reset_ee = sq_reset_ee,
	.put_ext_ca = sq_put_ext_ca,
	.list_ext_ca = sq_list_ext_ca,
	.revocation_revision = sq_revocation_revision,
	.get_crl = sq_get_crl,
	.put_crl = sq_put_crl,
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
		return db_fail(s, "switching to WAL journal mode", e);
	if (sqlite3_step(q) != SQLITE_ROW)
		rc = db_fail(s, "switching to WAL journal mode", e);
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
		return db_fail(s, "opening the store", e);
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	if ((rc = set_wal(s, e)) != EST_OK)
		return rc;
	if (sqlite3_exec(s->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON",
	    NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(s, "configuring the connection", e);
	return EST_OK;
}

/* Apply migrations[step] unless another connection got there first. */
static enum est_err
migrate_step(struct sq_store *s, int step, struct est_error *e)
{
	char set_version[48];
	enum est_err rc;
	int version = -1;

	if ((rc = run(s, Q_BEGIN, "starting a schema migration", e)) != EST_OK)
		return rc;
	rc = read_version(s, &version, e);
	if (rc == EST_OK && version == step) {
		snprintf(set_version, sizeof(set_version), "PRAGMA user_version = %d", step + 1);
		if (sqlite3_exec(s->db, migrations[step], NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(s->db, set_version, NULL, NULL, NULL) != SQLITE_OK)
			rc = est_fail(e, EST_ERR_STORE, "%s: migrating the schema to version %d: %s",
			    s->path, step + 1, sqlite3_errmsg(s->db));
	}
	if (rc == EST_OK)
		rc = run(s, Q_COMMIT, "committing a schema migration", e);
	if (rc != EST_OK)
		rollback(s);
	return rc;
}

static enum est_err
migrate(struct sq_store *s, bool creating, struct est_error *e)
{
	enum est_err rc;
	int version, step;

	if ((rc = read_version(s, &version, e)) != EST_OK)
		return rc;
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
sqlite_open(const char *path, bool creating, struct est_store **out, struct est_error *e)
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
		rc = migrate(s, creating, e);
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
	return sqlite_open(path, false, out, e);
}

enum est_err
est_store_sqlite_create(const char *path, struct est_store **out, struct est_error *e)
{
	return sqlite_open(path, true, out, e);
}
