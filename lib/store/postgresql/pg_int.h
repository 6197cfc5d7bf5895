/*
 * PostgreSQL backend, private: the handle, and what db.c (the connection,
 * schema and statements) lends the files of the records: certs.c, ee.c
 * (end entities and their codes), requests.c, extca.c, crl.c, group.c. Nothing
 * outside lib/store/postgresql includes this but tests/unit/test_writer.c.
 */
#ifndef ESTKIT_PG_INT_H
#define ESTKIT_PG_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

#include "estkit/store.h"
#include "store/store_int.h"

/* How many distinct statements the backend prepares, at most. */
#define PG_STMT_MAX 48
/* Parameters of one statement, at most. */
#define PG_PARAM_MAX 16

struct pg_store {
	struct est_store base;          /* first, so the generic handle casts to this */
	PGconn *conn;
	char *name;                     /* host:port/database, for every error message */
	const char *sql[PG_STMT_MAX];   /* statement texts prepared on this connection */
	bool in_tx;                     /* a transaction of ours is open */
	bool bulk;                      /* ... and it is a bulk one (pg_bulk_begin) */
	bool resetting;                 /* a new connection is being made (db.c reconnect) */
	time_t reset_at;                /* since when */
	PostgresPollingStatusType reset_poll; /* what its socket waits for */
	struct store_group group;       /* the writer's group in progress (group.c) */
};

static inline struct pg_store *
pg(struct est_store *st)
{
	return (struct pg_store *)st;
}

/* A statement's parameters, all borrowed until the statement ran. */
struct pg_params {
	int n;
	const char *v[PG_PARAM_MAX];
	int len[PG_PARAM_MAX];
	int fmt[PG_PARAM_MAX];          /* 0 text, 1 binary (bytea) */
	char num[PG_PARAM_MAX][24];     /* the text of integer parameters */
};

/* Append a parameter: a string (NULL is SQL NULL), an integer, a bytea. */
void pg_text(struct pg_params *p, const char *s);
void pg_int(struct pg_params *p, int64_t v);
void pg_blob(struct pg_params *p, const unsigned char *b, size_t n);

/* ---- db.c ---- */

/*
 * Run sql (a string constant: prepared once per connection, looked up by its
 * address) with p (NULL: none). On EST_OK *res (when res is not NULL) holds
 * the result, which the caller frees with PQclear. Failures: EST_ERR_EXISTS
 * for a unique violation (the caller says what exists), EST_ERR_UNAVAILABLE
 * when the database cannot be reached (the connection is re-established on
 * the next call), EST_ERR_STORE otherwise, naming `doing`.
 */
enum est_err pg_exec(struct pg_store *s, const char *sql, struct pg_params *p, PGresult **res,
    const char *doing, struct est_error *e);

/* The number of rows a command changed. */
int64_t pg_changed(PGresult *res);

/*
 * BEGIN / COMMIT / ROLLBACK (if a transaction is open; errors are dropped);
 * nothing within a bulk transaction (pg_bulk_begin), whose first failed
 * statement aborts it whole.
 */
enum est_err pg_begin(struct pg_store *s, struct est_error *e);
enum est_err pg_commit(struct pg_store *s, struct est_error *e);
void pg_rollback(struct pg_store *s);

/* The store's bulk transaction (est_store_ops.bulk_begin ...). */
enum est_err pg_bulk_begin(struct est_store *st, struct est_error *e);
enum est_err pg_bulk_commit(struct est_store *st, struct est_error *e);
void pg_bulk_rollback(struct est_store *st);

/* Field (row, col) as a new string / bytea; -1 when out of memory or bad. */
int pg_col_text(PGresult *res, int row, int col, char **out);
int pg_col_blob(PGresult *res, int row, int col, unsigned char **out, size_t *len);
/* Field as an integer; 0 for NULL. */
int64_t pg_col_int(PGresult *res, int row, int col);
bool pg_col_null(PGresult *res, int row, int col);

/* Call each(res, row, arg, &stop, e) for every row until it fails or sets stop. */
typedef enum est_err (*pg_row_fn)(PGresult *res, int row, void *arg, int *stop,
    struct est_error *e);
enum est_err pg_rows(PGresult *res, pg_row_fn each, void *arg, struct est_error *e);

/* ---- certs.c ---- */

enum est_err pg_insert_cert(struct pg_store *s, const struct est_cert_rec *rec, int64_t *id,
    struct est_error *e);
enum est_err pg_revoke_in_tx(struct pg_store *s, const char *issuer, const char *serial,
    int reason, int64_t when, struct est_error *e);
enum est_err pg_put_cert(struct est_store *st, struct est_cert_rec *rec, struct est_error *e);
enum est_err pg_get_cert(struct est_store *st, const char *issuer, const char *serial,
    struct est_cert_rec **out, struct est_error *e);
enum est_err pg_count_expiring(struct est_store *st, int64_t now, int64_t until, int64_t *n,
    struct est_error *e);
enum est_err pg_list_certs(struct est_store *st, const struct est_cert_filter *f,
    est_cert_visit visit, void *arg, struct est_error *e);
enum est_err pg_revoke_cert(struct est_store *st, const char *issuer, const char *serial,
    int reason, int64_t when, struct est_error *e);
enum est_err pg_release_cert(struct est_store *st, const char *issuer, const char *serial,
    unsigned max_active, int64_t now, struct est_error *e);

/* ---- ee.c ---- */

/* Lock end entity ee_id's row, so that servers count its certificates one at
 * a time; in the caller's transaction, before any certificate row is locked
 * (the order enrolments take too). */
enum est_err pg_lock_ee(struct pg_store *s, int64_t ee_id, struct est_error *e);
/* How many valid certificates end entity ee_id holds at now. */
enum est_err pg_count_active(struct pg_store *s, int64_t ee_id, int64_t now, int64_t *n,
    struct est_error *e);

enum est_err pg_spend(struct pg_store *s, int64_t ee_id, const char *code_hash, int64_t now,
    struct est_error *e);
enum est_err pg_put_issued_in_tx(struct pg_store *s, struct est_cert_rec *rec,
    const struct est_issue_record *how, int64_t *id, struct est_error *e);
enum est_err pg_put_cert_consume(struct est_store *st, struct est_cert_rec *rec,
    const char *code_hash, int64_t now, struct est_error *e);
enum est_err pg_put_issued(struct est_store *st, struct est_cert_rec *rec,
    const struct est_issue_record *how, struct est_error *e);
enum est_err pg_put_ee(struct est_store *st, struct est_ee *ee, struct est_error *e);
enum est_err pg_get_ee(struct est_store *st, const char *username, struct est_ee **out,
    struct est_error *e);
enum est_err pg_get_ee_by_id(struct est_store *st, int64_t id, struct est_ee **out,
    struct est_error *e);
enum est_err pg_list_ee(struct est_store *st, est_ee_visit visit, void *arg,
    struct est_error *e);
enum est_err pg_list_ee_by_key(struct est_store *st, const char *key, unsigned max,
    est_ee_visit visit,
    void *arg, struct est_error *e);
/* Index every end entity under its keys (schema step 6, in its transaction). */
enum est_err pg_index_all_ee(struct pg_store *s, struct est_error *e);
enum est_err pg_del_ee(struct est_store *st, const char *username, struct est_error *e);
enum est_err pg_reset_ee(struct est_store *st, const char *username, const char *code_hash,
    int64_t uses_left, int64_t valid_until, struct est_error *e);

/* ---- requests.c ---- */

enum est_err pg_hold_request(struct est_store *st, const struct est_req_rec *rec,
    struct est_req_rec **out, struct est_error *e);
/* est_store_hold_request inside the caller's transaction (or alone: each of
 * its statements stands by itself). */
enum est_err pg_hold_request_in_tx(struct pg_store *s, const struct est_req_rec *rec,
    struct est_req_rec **out, struct est_error *e);
enum est_err pg_find_request(struct est_store *st, const struct est_req_rec *rec,
    struct est_req_rec **out, struct est_error *e);
enum est_err pg_list_requests(struct est_store *st, bool open_only, est_req_visit visit,
    void *arg, struct est_error *e);
enum est_err pg_set_request_state(struct est_store *st, int64_t id, enum est_req_state from,
    enum est_req_state to, int64_t when, struct est_error *e);

/* ---- extca.c ---- */

enum est_err pg_put_ext_ca(struct est_store *st, struct est_ext_ca *ca, struct est_error *e);
enum est_err pg_list_ext_ca(struct est_store *st, est_ext_ca_visit visit, void *arg,
    struct est_error *e);

/* ---- group.c: the grouped writer's (lib/store/writer.c) ---- */

enum est_err pg_group_begin(struct est_store *st, struct est_error *e);
enum est_err pg_group_write(struct est_store *st, struct est_write *w, struct est_error *e);
enum est_err pg_group_commit(struct est_store *st, struct est_error *e);
void pg_group_rollback(struct est_store *st);

/* ---- crl.c ---- */

enum est_err pg_revocation_revision(struct est_store *st, const char *issuer, int64_t *rev,
    struct est_error *e);
enum est_err pg_get_crl(struct est_store *st, const char *issuer, struct est_crl_rec **out,
    struct est_error *e);
enum est_err pg_put_crl(struct est_store *st, const char *issuer, const struct est_crl_rec *rec,
    struct est_error *e);
enum est_err pg_list_crls(struct est_store *st, est_crl_visit visit, void *arg,
    struct est_error *e);

#endif
