/*
 * PostgreSQL backend of the certificate store (struct est_store_ops
 * "postgresql"), through libpq: the connection, the schema and its
 * migrations, the statement cache, parameters and results. The records live
 * in certs.c, ee.c, requests.c, extca.c and crl.c.
 *
 * Several estd share one database, so everything that must hold across
 * servers is decided by the database: unique keys (a serial per issuer, one
 * open request per key), UPDATEs whose WHERE clause re-checks the state they
 * change (a code's uses, a certificate's validity, a request's state), and
 * row locks where a count must hold (max-active-certificates). Transactions
 * run at READ COMMITTED, where a statement that waited for another's row
 * lock re-reads the row, so those checks see the winner's change.
 *
 * One handle is one connection, used by one thread. Every statement is
 * bounded by statement_timeout (and tcp_user_timeout when the database's host
 * vanishes) and the connection by connect_timeout; a lost connection is
 * re-established without blocking over the next calls (prepared statements
 * are prepared again), and a failure while it is lost is EST_ERR_UNAVAILABLE,
 * which a server answers with 503. The password is never in the URI (which
 * is logged): libpq reads it from the file that `passfile=` in the URI or
 * PGPASSFILE names, or ~/.pgpass.
 *
 * The schema version lives in the table estkit_schema. A store is created
 * (est_store_create) and migrated (est_store_migrate, `estadm db migrate`)
 * on purpose; opening refuses any other version than this code's, so that
 * an older estd never writes to a newer schema during a rolling upgrade.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libpq-fe.h>

#include "pg_int.h"
#include "store/store_int.h"

/* Bounds of every statement and of connecting; strings for libpq. */
#define CONNECT_TIMEOUT_S "5"
#define STATEMENT_TIMEOUT "-c statement_timeout=10000"
/* How long one call may wait for a new connection before answering unavailable. */
#define RECONNECT_WAIT_MS 100
/* How long a call waits for any answer: statement_timeout and a margin. */
#define CLIENT_TIMEOUT_S 12
/* A database host gone from the network fails a statement in 10 s, not TCP's minutes. */
#define TCP_USER_TIMEOUT_MS "10000"
/* How often a lost commit's outcome is asked for, RECONNECT_WAIT_MS or two apart: 5 s at most. */
#define SETTLE_TRIES 25

/* pg_advisory_xact_lock key that serialises schema changes across servers. */
#define SCHEMA_LOCK "7030"

/* migrations[i] brings the schema from version i to i + 1, as in sqlite/db.c. Append only. */
static const char *const migrations[] = {
	"CREATE TABLE certs ("
	" id BIGSERIAL PRIMARY KEY,"
	" issuer TEXT NOT NULL,"
	" serial TEXT NOT NULL,"
	" subject TEXT NOT NULL,"
	" san TEXT NOT NULL DEFAULT '',"
	" spki_sha256 TEXT NOT NULL,"
	" not_before BIGINT NOT NULL,"
	" not_after BIGINT NOT NULL,"
	" issued_at BIGINT NOT NULL,"
	" status TEXT NOT NULL CHECK (status IN ('valid','revoked')),"
	" revoked_at BIGINT,"
	" revocation_reason INTEGER,"
	" principal TEXT NOT NULL DEFAULT '',"
	" alias TEXT NOT NULL DEFAULT '',"
	" der BYTEA NOT NULL,"
	" UNIQUE (issuer, serial));"
	"CREATE INDEX certs_serial ON certs (serial);"
	"CREATE INDEX certs_subject ON certs (subject);"
	"CREATE INDEX certs_spki ON certs (spki_sha256);",
	/* 2: end entities, their certificates, external CAs. */
	"CREATE TABLE end_entities ("
	" id BIGSERIAL PRIMARY KEY,"
	" username TEXT NOT NULL UNIQUE,"
	" subject TEXT NOT NULL,"
	" subject_der BYTEA NOT NULL,"
	" san TEXT NOT NULL DEFAULT '',"
	" san_der BYTEA,"
	" alias TEXT NOT NULL,"
	" profile TEXT NOT NULL DEFAULT '',"
	" code_hash TEXT NOT NULL,"
	" uses_left BIGINT NOT NULL CHECK (uses_left >= -1),"
	" valid_until BIGINT NOT NULL DEFAULT 0,"
	" created_at BIGINT NOT NULL,"
	" last_used BIGINT NOT NULL DEFAULT 0);"
	"ALTER TABLE certs ADD COLUMN ee_id BIGINT REFERENCES end_entities (id) ON DELETE SET NULL;"
	"CREATE INDEX certs_ee ON certs (ee_id);"
	"CREATE TABLE external_cas ("
	" name TEXT PRIMARY KEY,"
	" subject TEXT NOT NULL,"
	" der BYTEA NOT NULL,"
	" imported_at BIGINT NOT NULL);",
	/* 3: requests held for manual approval; at most one open per key (EST-S-44). */
	"CREATE TABLE requests ("
	" id BIGSERIAL PRIMARY KEY,"
	" alias TEXT NOT NULL,"
	" operation TEXT NOT NULL,"
	" spki_sha256 TEXT NOT NULL,"
	" subject TEXT NOT NULL,"
	" san TEXT NOT NULL DEFAULT '',"
	" principal TEXT NOT NULL DEFAULT '',"
	" state TEXT NOT NULL CHECK (state IN ('pending','approved','rejected','issued')),"
	" created_at BIGINT NOT NULL,"
	" decided_at BIGINT);"
	"CREATE UNIQUE INDEX requests_open ON requests "
	" (alias, operation, spki_sha256, subject, san) WHERE state <> 'issued';",
	/* 4: revocation counts kept by a trigger, and each CA's current CRL (crl.c). */
	"CREATE TABLE revocation_counts ("
	" issuer TEXT PRIMARY KEY,"
	" revision BIGINT NOT NULL);"
	"CREATE FUNCTION estkit_count_revocation() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  IF NEW.status = 'revoked' AND (TG_OP = 'INSERT' OR OLD.status <> 'revoked') THEN"
	"   INSERT INTO revocation_counts (issuer, revision) VALUES (NEW.issuer, 1)"
	"   ON CONFLICT (issuer) DO UPDATE SET revision = revocation_counts.revision + 1;"
	"  END IF;"
	"  RETURN NULL;"
	" END $$;"
	"CREATE TRIGGER certs_revoked AFTER INSERT OR UPDATE OF status ON certs"
	" FOR EACH ROW EXECUTE FUNCTION estkit_count_revocation();"
	"CREATE INDEX certs_revoked_by_issuer ON certs (issuer) WHERE status = 'revoked';"
	"CREATE TABLE crls ("
	" issuer TEXT PRIMARY KEY,"
	" crl_number BIGINT NOT NULL CHECK (crl_number > 0),"
	" revision BIGINT NOT NULL,"
	" this_update BIGINT NOT NULL,"
	" next_update BIGINT NOT NULL,"
	" der BYTEA NOT NULL);",
	/* 5: no index nothing reads; certs_ee for certificates of an end entity only. */
	"DROP INDEX IF EXISTS certs_subject;"
	"DROP INDEX IF EXISTS certs_spki;"
	"DROP INDEX IF EXISTS certs_ee;"
	"CREATE INDEX certs_ee ON certs (ee_id) WHERE ee_id IS NOT NULL;",
	/* 6: end entities found by their names' keys; pg_index_all_ee fills it. */
	"CREATE TABLE ee_names ("
	" key TEXT NOT NULL,"
	" ee_id BIGINT NOT NULL REFERENCES end_entities (id) ON DELETE CASCADE,"
	" PRIMARY KEY (key, ee_id));"
	"CREATE INDEX ee_names_ee ON ee_names (ee_id);",
	/* 7: the keys of names changed (as in SQLite's step 7); pg_index_all_ee files them again. */
	"DELETE FROM ee_names;",
	/* 8: one index on serial, not two (as in SQLite's step 8, without a new table). */
	"ALTER TABLE certs DROP CONSTRAINT certs_issuer_serial_key;"
	"ALTER TABLE certs ADD CONSTRAINT certs_serial_issuer_key UNIQUE (serial, issuer);"
	"DROP INDEX certs_serial;",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))
_Static_assert(SCHEMA_VERSION == EST_STORE_SCHEMA_VERSION,
    "the PostgreSQL schema must have the version of the SQLite one");

/* What a step needs done in C after its SQL, in the migration's transaction. */
static enum est_err (*const after_step[SCHEMA_VERSION])(struct pg_store *, struct est_error *) = {
	[5] = pg_index_all_ee,
	[6] = pg_index_all_ee,
};

/* ---- parameters ---- */

void
pg_text(struct pg_params *p, const char *s)
{
	p->v[p->n] = s;
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

void
pg_int(struct pg_params *p, int64_t v)
{
	snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", (long long)v);
	pg_text(p, p->num[p->n]);
}

void
pg_blob(struct pg_params *p, const unsigned char *b, size_t n)
{
	/* A bytea in binary format: its bytes as they are. */
	p->v[p->n] = b != NULL ? (const char *)b : NULL;
	p->len[p->n] = (int)n;
	p->fmt[p->n] = 1;
	p->n++;
}

/* ---- running statements ---- */

static bool
connection_lost(struct pg_store *s, const char *state)
{
	return PQstatus(s->conn) == CONNECTION_BAD ||
	    (state != NULL && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0));
}

/* One line of libpq's message (it may span several). */
static const char *
first_line(const char *msg, char *buf, size_t len)
{
	size_t n = strcspn(msg != NULL ? msg : "", "\n");

	snprintf(buf, len, "%.*s", (int)n, msg != NULL ? msg : "");
	return buf;
}

/* Turn a failed result (or none) into the error; frees res. */
static enum est_err
failed(struct pg_store *s, PGresult *res, const char *doing, struct est_error *e)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char line[256];
	enum est_err rc;

	first_line(res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(s->conn), line,
	    sizeof(line));
	if (state != NULL && strcmp(state, "23505") == 0)
		rc = est_fail(e, EST_ERR_EXISTS, "%s: %s: already on record", s->name, doing);
	else if (connection_lost(s, state))
		rc = est_fail(e, EST_ERR_UNAVAILABLE, "%s: %s: the database cannot be reached: %s",
		    s->name, doing, line);
	else if (state != NULL && strcmp(state, "57014") == 0)
		rc = est_fail(e, EST_ERR_UNAVAILABLE, "%s: %s: the database did not answer in "
		    "time: %s", s->name, doing, line);
	else if (state != NULL && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0))
		/* Another server's transaction took the same rows in another order: try again. */
		rc = est_fail(e, EST_ERR_UNAVAILABLE, "%s: %s: conflicted with a concurrent "
		    "transaction: %s", s->name, doing, line);
	else
		rc = est_fail(e, EST_ERR_STORE, "%s: %s: %s", s->name, doing, line);
	PQclear(res);
	return rc;
}

/*
 * Re-establish a lost connection (outside a transaction); its statements go
 * with it. The event loop that calls this must not wait for a database that
 * is down: the new connection is made without blocking (PQresetStart and
 * PQresetPoll, called only when its socket is ready), for at most
 * RECONNECT_WAIT_MS per call (a database that answers is back in one), and
 * every call until it is up fails as unavailable. A reset that has not
 * finished in CONNECT_TIMEOUT_S starts over.
 */
static enum est_err
reconnect(struct pg_store *s, const char *doing, struct est_error *e)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	struct pollfd pfd;
	time_t now = time(NULL);

	if (s->in_tx)
		return est_fail(e, EST_ERR_UNAVAILABLE, "%s: %s: the connection to the database "
		    "was lost in a transaction", s->name, doing);
	if (s->resetting && now - s->reset_at > atoi(CONNECT_TIMEOUT_S))
		s->resetting = false;
	if (!s->resetting) {
		memset(s->sql, 0, sizeof(s->sql));
		if (!PQresetStart(s->conn))
			return failed(s, NULL, doing, e);
		s->resetting = true;
		s->reset_at = now;
		s->reset_poll = PGRES_POLLING_WRITING;
	}
	for (int waited = 0; waited < RECONNECT_WAIT_MS; waited += 10) {
		pfd.fd = PQsocket(s->conn);
		pfd.events = s->reset_poll == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		pfd.revents = 0;
		if (pfd.fd < 0 || poll(&pfd, 1, 10) <= 0)
			continue;
		st = s->reset_poll = PQresetPoll(s->conn);
		if (st == PGRES_POLLING_OK || st == PGRES_POLLING_FAILED)
			break;
	}
	if (st == PGRES_POLLING_OK) {
		s->resetting = false;
		return EST_OK;
	}
	if (st == PGRES_POLLING_FAILED || pfd.fd < 0) {
		s->resetting = false;
		return failed(s, NULL, doing, e);
	}
	return est_fail(e, EST_ERR_UNAVAILABLE, "%s: %s: reconnecting to the database", s->name,
	    doing);
}

/*
 * The result of the command just sent, waiting at most CLIENT_TIMEOUT_S:
 * statement_timeout bounds a statement while the database works, this
 * bounds it when the database (or its host) hangs. Then the connection is
 * shut down, so that the next call makes a new one, and the result is
 * EST_ERR_UNAVAILABLE. *out is NULL on failure.
 */
static enum est_err
wait_result(struct pg_store *s, PGresult **out, const char *doing, struct est_error *e)
{
	time_t deadline = time(NULL) + CLIENT_TIMEOUT_S;
	struct pollfd pfd;
	PGresult *extra;
	int left;

	*out = NULL;
	while (PQisBusy(s->conn)) {
		if ((left = (int)(deadline - time(NULL))) <= 0) {
			shutdown(PQsocket(s->conn), SHUT_RDWR);
			PQconsumeInput(s->conn);
			return est_fail(e, EST_ERR_UNAVAILABLE, "%s: %s: the database did not answer "
			    "in %d s", s->name, doing, CLIENT_TIMEOUT_S);
		}
		pfd.fd = PQsocket(s->conn);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (pfd.fd < 0 || (poll(&pfd, 1, left * 1000) < 0 && errno != EINTR) ||
		    !PQconsumeInput(s->conn))
			return failed(s, NULL, doing, e);
	}
	*out = PQgetResult(s->conn);
	/* One command, one result; read to the end so the connection is free again. */
	while ((extra = PQgetResult(s->conn)) != NULL)
		PQclear(extra);
	return EST_OK;
}

/* The name of sql's prepared statement, preparing it on first use. */
static enum est_err
prepared(struct pg_store *s, const char *sql, int nparams, char name[8], const char *doing,
    struct est_error *e)
{
	PGresult *res;
	enum est_err rc;
	int i;

	for (i = 0; i < PG_STMT_MAX && s->sql[i] != NULL && s->sql[i] != sql; i++)
		;
	if (i == PG_STMT_MAX)
		return est_fail(e, EST_ERR_INTERNAL, "%s: more than %d statements (PG_STMT_MAX)",
		    s->name, PG_STMT_MAX);
	snprintf(name, 8, "e%d", i);
	if (s->sql[i] == NULL) {
		if (!PQsendPrepare(s->conn, name, sql, nparams, NULL))
			return failed(s, NULL, doing, e);
		if ((rc = wait_result(s, &res, doing, e)) != EST_OK)
			return rc;
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			return failed(s, res, doing, e);
		PQclear(res);
		s->sql[i] = sql;
	}
	return EST_OK;
}

static enum est_err
exec_once(struct pg_store *s, const char *sql, struct pg_params *p, PGresult **out,
    const char *doing, struct est_error *e)
{
	static struct pg_params none;
	PGresult *res;
	char name[8];
	enum est_err rc;
	ExecStatusType st;

	if (p == NULL)
		p = &none;
	if ((PQstatus(s->conn) == CONNECTION_BAD || s->resetting) &&
	    (rc = reconnect(s, doing, e)) != EST_OK)
		return rc;
	if ((rc = prepared(s, sql, p->n, name, doing, e)) != EST_OK)
		return rc;
	if (!PQsendQueryPrepared(s->conn, name, p->n, p->v, p->len, p->fmt, 0))
		return failed(s, NULL, doing, e);
	if ((rc = wait_result(s, &res, doing, e)) != EST_OK)
		return rc;
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return failed(s, res, doing, e);
	if (out != NULL)
		*out = res;
	else
		PQclear(res);
	return EST_OK;
}

static const char SQL_BEGIN[] = "BEGIN";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_XID[] = "SELECT txid_current()";
static const char SQL_XID_STATUS[] = "SELECT txid_status($1)";

/*
 * A read outside a transaction, or the BEGIN of one, is tried once more on
 * a fresh connection when the old one turned out lost (the database
 * restarted meanwhile: the first statement after it finds the connection
 * closed). Either changed nothing, so after a restart the first enrolment
 * is served, not answered 503. A write is not tried again, since it may
 * have been done before the answer was lost.
 */
enum est_err
pg_exec(struct pg_store *s, const char *sql, struct pg_params *p, PGresult **res,
    const char *doing, struct est_error *e)
{
	enum est_err rc;

	rc = exec_once(s, sql, p, res, doing, e);
	if (rc == EST_ERR_UNAVAILABLE && !s->in_tx && (strncmp(sql, "SELECT", 6) == 0 ||
	    sql == SQL_BEGIN) && PQstatus(s->conn) == CONNECTION_BAD)
		rc = exec_once(s, sql, p, res, doing, e);
	return rc;
}

int64_t
pg_changed(PGresult *res)
{
	return strtoll(PQcmdTuples(res), NULL, 10);
}

/*
 * Within a bulk transaction a call's BEGIN and COMMIT are left out, and no
 * savepoint stands for them: PostgreSQL gives every savepoint that writes a
 * subtransaction, and with thousands of them in one transaction (an import
 * of 20,000 certificates) the import ran slower than with a commit each.
 * A call that fails leaves the transaction aborted, so every later
 * statement fails and its COMMIT rolls back: nothing is committed in part.
 */
enum est_err
pg_begin(struct pg_store *s, struct est_error *e)
{
	enum est_err rc;

	if (s->bulk)
		return EST_OK;
	if ((rc = pg_exec(s, SQL_BEGIN, NULL, NULL, "starting a transaction", e)) == EST_OK)
		s->in_tx = true;
	return rc;
}

/*
 * The answer to COMMIT was lost with the connection: ask on a new one
 * whether transaction xid committed. EST_OK when it did; else the error of
 * the lost COMMIT (lost), or, when no answer comes, an error that says the
 * outcome is unknown. Waits up to SETTLE_TRIES reconnections: the writer's
 * thread, not an event loop, commits; a database that restarts is back in
 * a few seconds, and until then nothing else could be recorded anyway.
 */
static enum est_err
settle(struct pg_store *s, const char *xid, const struct est_error *lost, struct est_error *e)
{
	struct pg_params p = { 0 };
	struct est_error why = { 0 };
	PGresult *res;
	const char *status;

	pg_text(&p, xid);
	s->in_tx = false;
	for (int i = 0; i < SETTLE_TRIES; i++) {
		if (pg_exec(s, SQL_XID_STATUS, &p, &res, "asking whether a commit was made", &why) !=
		    EST_OK) {
			poll(NULL, 0, RECONNECT_WAIT_MS);
			continue;
		}
		status = PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0);
		if (strcmp(status, "in progress") == 0) {
			/* The old connection's server process has not finished it yet. */
			PQclear(res);
			poll(NULL, 0, RECONNECT_WAIT_MS);
			continue;
		}
		if (strcmp(status, "committed") == 0) {
			PQclear(res);
			return EST_OK;
		}
		PQclear(res);
		if (e != NULL)
			*e = *lost;
		return lost->code;
	}
	return est_fail(e, EST_ERR_UNAVAILABLE, "%s: committing: the connection was lost before "
	    "the answer, and whether the transaction %s was committed cannot be learned: %s",
	    s->name, xid, why.msg);
}

/*
 * PostgreSQL answers COMMIT of an aborted transaction with success and the
 * tag "ROLLBACK": only the tag says whether anything was committed. A
 * COMMIT whose answer is lost with the connection may have been made: what
 * the caller then does (hand out a certificate, answer 503) depends on it,
 * so it is asked (settle) by the transaction's id, read before COMMIT. A
 * transaction already aborted has no id to read; its COMMIT says so.
 */
enum est_err
pg_commit(struct pg_store *s, struct est_error *e)
{
	struct est_error lost = { 0 };
	PGresult *res = NULL;
	char xid[24] = "";
	enum est_err rc;

	if (s->bulk)
		return EST_OK;
	if (pg_exec(s, SQL_XID, NULL, &res, "reading the transaction's id", NULL) == EST_OK) {
		snprintf(xid, sizeof(xid), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		res = NULL;
	}
	if ((rc = pg_exec(s, SQL_COMMIT, NULL, &res, "committing", &lost)) != EST_OK) {
		if (rc == EST_ERR_UNAVAILABLE && PQstatus(s->conn) == CONNECTION_BAD && xid[0] != '\0')
			return settle(s, xid, &lost, e);
		if (e != NULL)
			*e = lost;
		return rc;
	}
	s->in_tx = false;
	if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
		rc = est_fail(e, EST_ERR_STORE, "PostgreSQL %s: committing: the transaction was "
		    "aborted and rolled back (%s)", s->name, PQcmdStatus(res));
	PQclear(res);
	return rc;
}

void
pg_rollback(struct pg_store *s)
{
	PGresult *res;

	if (s->bulk)
		return;
	if (s->in_tx && PQstatus(s->conn) == CONNECTION_OK && PQsendQuery(s->conn, "ROLLBACK") &&
	    wait_result(s, &res, "rolling back", NULL) == EST_OK)
		PQclear(res);
	s->in_tx = false;
}

enum est_err
pg_bulk_begin(struct est_store *st, struct est_error *e)
{
	struct pg_store *s = pg(st);
	enum est_err rc;

	if ((rc = pg_begin(s, e)) == EST_OK)
		s->bulk = true;
	return rc;
}

enum est_err
pg_bulk_commit(struct est_store *st, struct est_error *e)
{
	struct pg_store *s = pg(st);

	s->bulk = false;
	return pg_commit(s, e);
}

void
pg_bulk_rollback(struct est_store *st)
{
	struct pg_store *s = pg(st);

	s->bulk = false;
	pg_rollback(s);
}

/* ---- results ---- */

bool
pg_col_null(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) != 0;
}

int
pg_col_text(PGresult *res, int row, int col, char **out)
{
	*out = strdup(PQgetvalue(res, row, col));
	return *out == NULL ? -1 : 0;
}

int
pg_col_blob(PGresult *res, int row, int col, unsigned char **out, size_t *len)
{
	unsigned char *tmp;
	size_t n = 0;

	/* Text results carry bytea as \x and hex digits. */
	tmp = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), &n);
	if (tmp == NULL || (*out = malloc(n > 0 ? n : 1)) == NULL) {
		PQfreemem(tmp);
		return -1;
	}
	memcpy(*out, tmp, n);
	PQfreemem(tmp);
	*len = n;
	return 0;
}

int64_t
pg_col_int(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

enum est_err
pg_rows(PGresult *res, pg_row_fn each, void *arg, struct est_error *e)
{
	enum est_err rc = EST_OK;
	int stop = 0;

	for (int i = 0; rc == EST_OK && stop == 0 && i < PQntuples(res); i++)
		rc = each(res, i, arg, &stop, e);
	PQclear(res);
	return rc;
}

/* ---- the schema ---- */

static const char SQL_VERSION[] = "SELECT version FROM estkit_schema";

/* The schema version; -1 when the database holds no estkit schema. */
static enum est_err
read_version(struct pg_store *s, int *version, struct est_error *e)
{
	PGresult *res;
	const char *state;

	res = PQexec(s->conn, SQL_VERSION);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (state != NULL && strcmp(state, "42P01") == 0) {
			PQclear(res);
			*version = -1;
			return EST_OK;
		}
		return failed(s, res, "reading the schema version", e);
	}
	*version = PQntuples(res) == 1 ? (int)pg_col_int(res, 0, 0) : 0;
	PQclear(res);
	return EST_OK;
}

static enum est_err
run_sql(struct pg_store *s, const char *sql, const char *doing, struct est_error *e)
{
	PGresult *res = PQexec(s->conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		return failed(s, res, doing, e);
	PQclear(res);
	return EST_OK;
}

/*
 * Bring the schema to SCHEMA_VERSION in one transaction, under a lock that
 * serialises every server's schema change. creating: the database must hold
 * no estkit schema yet; else it must hold one. *from is the version found.
 */
static enum est_err
migrate(struct pg_store *s, bool creating, int *from, struct est_error *e)
{
	char sql[96];
	enum est_err rc;
	int version = -1;

	if ((rc = run_sql(s, "BEGIN", "starting a schema migration", e)) != EST_OK)
		return rc;
	s->in_tx = true;
	rc = run_sql(s, "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK ")", "locking the schema", e);
	if (rc == EST_OK) {
		PGresult *res = PQexec(s->conn, "SELECT to_regclass('estkit_schema') IS NOT NULL");

		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			rc = failed(s, res, "reading the schema", e);
		else {
			if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
				version = 0;
			PQclear(res);
		}
	}
	if (rc == EST_OK && version == 0)
		rc = read_version(s, &version, e);
	if (rc == EST_OK && creating && version >= 0)
		rc = est_fail(e, EST_ERR_EXISTS, "%s: the database holds an estkit store already; "
		    "a new store is only made where there is none", s->name);
	else if (rc == EST_OK && !creating && version < 0)
		rc = est_fail(e, EST_ERR_STORE, "%s: the database holds no estkit store; "
		    "`estadm db create` makes one", s->name);
	else if (rc == EST_OK && version > SCHEMA_VERSION)
		rc = est_fail(e, EST_ERR_STORE, "%s: database schema version %d is newer than "
		    "this estkit (%d); upgrade estkit", s->name, version, SCHEMA_VERSION);
	if (rc == EST_OK && creating) {
		rc = run_sql(s, "CREATE TABLE estkit_schema (version INTEGER NOT NULL);"
		    "INSERT INTO estkit_schema VALUES (0)", "creating the schema", e);
		version = 0;
	}
	*from = version;
	for (int step = version; rc == EST_OK && step < SCHEMA_VERSION; step++) {
		snprintf(sql, sizeof(sql), "migrating the schema to version %d", step + 1);
		rc = run_sql(s, migrations[step], sql, e);
		if (rc == EST_OK && after_step[step] != NULL)
			rc = after_step[step](s, e);
	}
	if (rc == EST_OK && version < SCHEMA_VERSION) {
		snprintf(sql, sizeof(sql), "UPDATE estkit_schema SET version = %d", SCHEMA_VERSION);
		rc = run_sql(s, sql, "recording the schema version", e);
	}
	if (rc == EST_OK && (rc = run_sql(s, "COMMIT", "committing a schema migration", e)) ==
	    EST_OK)
		s->in_tx = false;
	if (rc != EST_OK)
		pg_rollback(s);
	return rc;
}

/* Opening refuses any version but this code's, and says what to do. */
static enum est_err
check_version(struct pg_store *s, struct est_error *e)
{
	enum est_err rc;
	int version;

	if ((rc = read_version(s, &version, e)) != EST_OK)
		return rc;
	if (version < 0)
		return est_fail(e, EST_ERR_STORE, "%s: the database holds no estkit store; "
		    "`estadm db create` makes one", s->name);
	if (version > SCHEMA_VERSION)
		return est_fail(e, EST_ERR_STORE, "%s: database schema version %d is newer than "
		    "this estkit (%d); upgrade estkit", s->name, version, SCHEMA_VERSION);
	if (version < SCHEMA_VERSION)
		return est_fail(e, EST_ERR_STORE, "%s: database schema version %d is older than "
		    "this estkit's (%d); run `estadm db migrate`", s->name, version, SCHEMA_VERSION);
	return EST_OK;
}

static enum est_err
pg_schema_version(struct est_store *st, int *version, struct est_error *e)
{
	return read_version(pg(st), version, e);
}

/*
 * The database keeps its own pages' checksums and WAL; what a server can
 * check is that it reaches the database, finds its schema, and can read
 * every table (full: every row of them, which reads every page).
 */
static enum est_err
pg_check(struct est_store *st, bool full, struct est_error *e)
{
	static const char *const tables[] = { "certs", "end_entities", "external_cas",
	    "requests", "revocation_counts", "crls" };
	struct pg_store *s = pg(st);
	char sql[96];
	enum est_err rc;

	if ((rc = check_version(s, e)) != EST_OK)
		return rc;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql), full ? "SELECT count(*), sum(length(t::text)) FROM %s t" :
		    "SELECT 1 FROM %s LIMIT 1", tables[i]);
		if ((rc = run_sql(s, sql, "reading every table", e)) != EST_OK)
			return rc;
	}
	return EST_OK;
}

static enum est_err
pg_backup(struct est_store *st, const char *path, struct est_error *e)
{
	return est_fail(e, EST_ERR_NOTIMPL, "%s: a PostgreSQL store is backed up by PostgreSQL "
	    "(pg_dump, or base backups with WAL archiving; see docs/deployment.md), or copied "
	    "with `estadm db export`", pg(st)->name);
}

static void
pg_close(struct est_store *st)
{
	struct pg_store *s = pg(st);

	PQfinish(s->conn);
	free(s->name);
	free(s);
}

static const struct est_store_ops pg_ops = {
	.name = "postgresql",
	.put_cert = pg_put_cert,
	.get_cert = pg_get_cert,
	.list_certs = pg_list_certs,
	.count_expiring = pg_count_expiring,
	.revoke_cert = pg_revoke_cert,
	.release_cert = pg_release_cert,
	.hold_request = pg_hold_request,
	.find_request = pg_find_request,
	.list_requests = pg_list_requests,
	.set_request_state = pg_set_request_state,
	.schema_version = pg_schema_version,
	.check = pg_check,
	.backup = pg_backup,
	.put_cert_consume = pg_put_cert_consume,
	.put_issued = pg_put_issued,
	.put_ee = pg_put_ee,
	.get_ee = pg_get_ee,
	.get_ee_by_id = pg_get_ee_by_id,
	.list_ee = pg_list_ee,
	.list_ee_by_key = pg_list_ee_by_key,
	.del_ee = pg_del_ee,
	.reset_ee = pg_reset_ee,
	.put_ext_ca = pg_put_ext_ca,
	.list_ext_ca = pg_list_ext_ca,
	.revocation_revision = pg_revocation_revision,
	.get_crl = pg_get_crl,
	.put_crl = pg_put_crl,
	.list_crls = pg_list_crls,
	.group_begin = pg_group_begin,
	.group_write = pg_group_write,
	.group_commit = pg_group_commit,
	.group_rollback = pg_group_rollback,
	.bulk_begin = pg_bulk_begin,
	.bulk_commit = pg_bulk_commit,
	.bulk_rollback = pg_bulk_rollback,
	.close = pg_close,
};

/*
 * "host:port/database" of a URI, for messages (the URI itself carries no
 * password: see check_uri). Caller frees.
 */
static char *
describe(PQconninfoOption *opts)
{
	const char *host = NULL, *port = NULL, *db = NULL;
	char *out;
	size_t n;

	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
	}
	n = 64 + (host != NULL ? strlen(host) : 0) + (db != NULL ? strlen(db) : 0);
	if ((out = malloc(n)) != NULL)
		snprintf(out, n, "postgresql %s:%s/%s", host != NULL ? host : "(default host)",
		    port != NULL ? port : "5432", db != NULL ? db : "(default database)");
	return out;
}

/* A URI that libpq understands and that holds no password. *name for messages. */
static enum est_err
check_uri(const char *uri, char **name, struct est_error *e)
{
	PQconninfoOption *opts;
	char *err = NULL;
	enum est_err rc = EST_OK;

	if ((opts = PQconninfoParse(uri, &err)) == NULL) {
		rc = est_fail(e, EST_ERR_CONFIG, "store: not a PostgreSQL connection URI: %s",
		    err != NULL ? strtok(err, "\n") : "out of memory");
		PQfreemem(err);
		return rc;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
			rc = est_fail(e, EST_ERR_CONFIG, "store: the PostgreSQL URI carries a password, "
			    "which would be logged; put it in a password file (passfile= in the URI, "
			    "or PGPASSFILE)");
	if (rc == EST_OK && (*name = describe(opts)) == NULL)
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory opening a store");
	PQconninfoFree(opts);
	return rc;
}

enum est_pg_mode { PG_OPEN, PG_CREATE, PG_MIGRATE };

static enum est_err
pg_connect(const char *uri, enum est_pg_mode mode, int *from, struct est_store **out,
    struct est_error *e)
{
	/* Our defaults first: what the URI says overrides them. */
	const char *keys[] = { "connect_timeout", "tcp_user_timeout", "application_name", "options",
	    "dbname", NULL };
	const char *vals[] = { CONNECT_TIMEOUT_S, TCP_USER_TIMEOUT_MS, "estkit", STATEMENT_TIMEOUT,
	    uri, NULL };
	struct pg_store *s;
	enum est_err rc;
	int version = 0;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory opening a store");
	s->base.ops = &pg_ops;
	if ((rc = check_uri(uri, &s->name, e)) != EST_OK) {
		free(s);
		return rc;
	}
	s->conn = PQconnectdbParams(keys, vals, 1);
	if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
		char line[256];

		rc = est_fail(e, EST_ERR_STORE, "%s: cannot connect: %s", s->name,
		    first_line(s->conn != NULL ? PQerrorMessage(s->conn) : "out of memory", line,
		    sizeof(line)));
	} else if (mode == PG_OPEN) {
		rc = check_version(s, e);
	} else {
		rc = migrate(s, mode == PG_CREATE, &version, e);
	}
	if (rc != EST_OK) {
		pg_close(&s->base);
		return rc;
	}
	if (from != NULL)
		*from = version;
	*out = &s->base;
	return EST_OK;
}

enum est_err
est_store_pg_open(const char *uri, struct est_store **out, struct est_error *e)
{
	return pg_connect(uri, PG_OPEN, NULL, out, e);
}

enum est_err
est_store_pg_create(const char *uri, struct est_store **out, struct est_error *e)
{
	return pg_connect(uri, PG_CREATE, NULL, out, e);
}

enum est_err
est_store_pg_migrate(const char *uri, int *from, struct est_store **out, struct est_error *e)
{
	return pg_connect(uri, PG_MIGRATE, from, out, e);
}
