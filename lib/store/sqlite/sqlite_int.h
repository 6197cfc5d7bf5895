/*
 * SQLite backend, private: the handle, and what db.c (the connection, schema
 * and statements) lends the files of the other records: certs.c, ee.c
 * (end entities and their codes), requests.c, extca.c, crl.c, group.c. Nothing
 * outside lib/store/sqlite includes this but tests/unit/test_writer.c.
 */
#ifndef ESTKIT_SQLITE_INT_H
#define ESTKIT_SQLITE_INT_H

#include <sqlite3.h>

#include "estkit/store.h"
#include "store/store_int.h"

/* How many distinct statements the backend prepares, at most. */
#define SQ_STMT_MAX 40

/*
 * The grouped writer's checkpointer (checkpoint.c): a pass after each
 * SQ_CHECKPOINT_PAGES WAL pages committed, the WAL started over once it
 * holds SQ_WAL_RESTART_PAGES.
 */
#define SQ_CHECKPOINT_PAGES 1000
#define SQ_WAL_RESTART_PAGES 4000

struct sq_checkpointer;

struct sq_store {
	struct est_store base;          /* first, so the generic handle casts to this */
	sqlite3 *db;
	char *path;                     /* the file, for every error message */
	const char *sql[SQ_STMT_MAX];   /* statement texts prepared so far, by identity */
	sqlite3_stmt *stmt[SQ_STMT_MAX]; /* and their statements */
	struct store_group group;       /* the writer's group in progress (group.c) */
	bool bulk;                      /* in a bulk transaction (sq_bulk_begin) */
	struct sq_checkpointer *ckpt;   /* the writer's handle's, else NULL */
};

static inline struct sq_store *
sq(struct est_store *st)
{
	return (struct sq_store *)st;
}

/* ---- db.c ---- */

/* EST_ERR_STORE naming the file, what was being done and SQLite's reason. */
enum est_err sq_fail(struct sq_store *s, const char *doing, struct est_error *e);

/*
 * The statement for sql, prepared on first use and kept for the handle's
 * life. sql must be a string constant: it is looked up by its address. A
 * statement still stepping means the store was re-entered from a list
 * visitor on the same query, which would silently restart the outer list.
 */
enum est_err sq_prepared(struct sq_store *s, const char *sql, sqlite3_stmt **out,
    struct est_error *e);

/* Reset a statement and clear its bindings after use. */
void sq_done(sqlite3_stmt *q);

/*
 * Run sql, a statement without parameters or rows (BEGIN, SAVEPOINT, ...),
 * prepared once as sq_prepared; doing names it in the error.
 */
enum est_err sq_run(struct sq_store *s, const char *sql, const char *doing,
    struct est_error *e);

/*
 * BEGIN IMMEDIATE / COMMIT / ROLLBACK (if a transaction is open); within a
 * bulk transaction (sq_bulk_begin) a savepoint, its release, and the undo to
 * it, so that each call keeps its own all-or-nothing inside the bulk one.
 */
enum est_err sq_begin(struct sq_store *s, struct est_error *e);
enum est_err sq_commit(struct sq_store *s, struct est_error *e);
void sq_rollback(struct sq_store *s);

/* The store's bulk transaction (est_store_ops.bulk_begin ...). */
enum est_err sq_bulk_begin(struct est_store *st, struct est_error *e);
enum est_err sq_bulk_commit(struct est_store *st, struct est_error *e);
void sq_bulk_rollback(struct est_store *st);

/* Column i as a new string / blob; -1 when out of memory. */
int sq_col_text(sqlite3_stmt *q, int i, char **out);
int sq_col_blob(sqlite3_stmt *q, int i, unsigned char **out, size_t *len);
/* Column i as int64, 0 for NULL. */
int64_t sq_col_int(sqlite3_stmt *q, int i);

/*
 * Step a bound query q and call each(q, arg, e) for every row until it
 * returns non-EST_OK or sets *stop; resets q. The one row-listing loop of the
 * backend: `doing` names the listing in an error.
 */
typedef enum est_err (*sq_row_fn)(sqlite3_stmt *q, void *arg, int *stop, struct est_error *e);
enum est_err sq_rows(struct sq_store *s, sqlite3_stmt *q, sq_row_fn each, void *arg,
    const char *doing, struct est_error *e);

/* ---- certs.c ---- */

/* Insert a certificate record inside the caller's transaction; sets *id.
 * EST_ERR_EXISTS for a taken (issuer, serial). */
enum est_err sq_insert_cert(struct sq_store *s, const struct est_cert_rec *rec, int64_t *id,
    struct est_error *e);

/* Revoke a valid certificate inside the caller's transaction (the body of
 * est_store_revoke_cert): EST_ERR_NOTFOUND, EST_ERR_EXISTS, EST_ERR_FORBIDDEN
 * when already revoked. */
enum est_err sq_revoke_in_tx(struct sq_store *s, const char *issuer, const char *serial,
    int reason, int64_t when, struct est_error *e);

enum est_err sq_put_cert(struct est_store *st, struct est_cert_rec *rec, struct est_error *e);
enum est_err sq_get_cert(struct est_store *st, const char *issuer, const char *serial,
    struct est_cert_rec **out, struct est_error *e);
enum est_err sq_count_expiring(struct est_store *st, int64_t now, int64_t until, int64_t *n,
    struct est_error *e);
enum est_err sq_list_certs(struct est_store *st, const struct est_cert_filter *f,
    est_cert_visit visit, void *arg, struct est_error *e);
enum est_err sq_revoke_cert(struct est_store *st, const char *issuer, const char *serial,
    int reason, int64_t when, struct est_error *e);
enum est_err sq_release_cert(struct est_store *st, const char *issuer, const char *serial,
    unsigned max_active, int64_t now, struct est_error *e);

/* ---- ee.c ---- */

/* How many valid certificates end entity ee_id holds at now, inside the
 * caller's transaction (max-active-certificates). */
enum est_err sq_count_active(struct sq_store *s, int64_t ee_id, int64_t now, int64_t *n,
    struct est_error *e);

/* Spend one use of ee_id's code (still code_hash, valid at now) inside the
 * caller's transaction. EST_ERR_AUTH when it cannot be spent. */
enum est_err sq_spend(struct sq_store *s, int64_t ee_id, const char *code_hash, int64_t now,
    struct est_error *e);

/* Everything of est_store_put_issued inside the caller's transaction; *id
 * is the new certificate's row. */
enum est_err sq_put_issued_in_tx(struct sq_store *s, struct est_cert_rec *rec,
    const struct est_issue_record *how, int64_t *id, struct est_error *e);

enum est_err sq_put_cert_consume(struct est_store *st, struct est_cert_rec *rec,
    const char *code_hash, int64_t now, struct est_error *e);
enum est_err sq_put_issued(struct est_store *st, struct est_cert_rec *rec,
    const struct est_issue_record *how, struct est_error *e);
enum est_err sq_put_ee(struct est_store *st, struct est_ee *ee, struct est_error *e);
enum est_err sq_get_ee(struct est_store *st, const char *username, struct est_ee **out,
    struct est_error *e);
enum est_err sq_get_ee_by_id(struct est_store *st, int64_t id, struct est_ee **out,
    struct est_error *e);
enum est_err sq_list_ee(struct est_store *st, est_ee_visit visit, void *arg,
    struct est_error *e);
enum est_err sq_list_ee_by_key(struct est_store *st, const char *key, unsigned max,
    est_ee_visit visit,
    void *arg, struct est_error *e);
/* Index every end entity under its keys (schema step 6, in its transaction). */
enum est_err sq_index_all_ee(struct sq_store *s, struct est_error *e);
enum est_err sq_del_ee(struct est_store *st, const char *username, struct est_error *e);
enum est_err sq_reset_ee(struct est_store *st, const char *username, const char *code_hash,
    int64_t uses_left, int64_t valid_until, struct est_error *e);

/* ---- requests.c ---- */

enum est_err sq_hold_request(struct est_store *st, const struct est_req_rec *rec,
    struct est_req_rec **out, struct est_error *e);
/* est_store_hold_request inside the caller's transaction. */
enum est_err sq_hold_request_in_tx(struct sq_store *s, const struct est_req_rec *rec,
    struct est_req_rec **out, struct est_error *e);
enum est_err sq_find_request(struct est_store *st, const struct est_req_rec *rec,
    struct est_req_rec **out, struct est_error *e);
enum est_err sq_list_requests(struct est_store *st, bool open_only, est_req_visit visit,
    void *arg, struct est_error *e);
enum est_err sq_set_request_state(struct est_store *st, int64_t id, enum est_req_state from,
    enum est_req_state to, int64_t when, struct est_error *e);

/* ---- extca.c ---- */

enum est_err sq_put_ext_ca(struct est_store *st, struct est_ext_ca *ca, struct est_error *e);
enum est_err sq_list_ext_ca(struct est_store *st, est_ext_ca_visit visit, void *arg,
    struct est_error *e);

/* ---- group.c: the grouped writer's (lib/store/writer.c) ---- */

enum est_err sq_group_begin(struct est_store *st, struct est_error *e);
enum est_err sq_group_write(struct est_store *st, struct est_write *w, struct est_error *e);
enum est_err sq_group_commit(struct est_store *st, struct est_error *e);
void sq_group_rollback(struct est_store *st);

/* ---- checkpoint.c: the grouped writer's checkpoints ---- */

/*
 * Start the thread that checkpoints what st commits (st's own commits make
 * none from now on). st is the writer's handle; sq_checkpointer_stop (from
 * sq_close) stops the thread.
 */
enum est_err sq_checkpointer_start(struct est_store *st, struct est_error *e);
void sq_checkpointer_stop(struct sq_store *s);

/* Before a group: copy what the last pass left, once the WAL is to start over. */
void sq_checkpoint_catch_up(struct sq_store *s);

/* ---- crl.c ---- */

enum est_err sq_revocation_revision(struct est_store *st, const char *issuer, int64_t *rev,
    struct est_error *e);
enum est_err sq_get_crl(struct est_store *st, const char *issuer, struct est_crl_rec **out,
    struct est_error *e);
enum est_err sq_put_crl(struct est_store *st, const char *issuer, const struct est_crl_rec *rec,
    struct est_error *e);
enum est_err sq_list_crls(struct est_store *st, est_crl_visit visit, void *arg,
    struct est_error *e);

#endif
