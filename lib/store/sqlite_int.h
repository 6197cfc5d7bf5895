/*
 * SQLite backend, private: the handle and the helpers that sqlite.c (the
 * connection, schema and certificates) lends sqlite_ee.c (end entities and
 * external CAs). Nothing outside lib/store includes this.
 */
#ifndef ESTKIT_SQLITE_INT_H
#define ESTKIT_SQLITE_INT_H

#include <sqlite3.h>

#include "estkit/store.h"

/* Statements of sqlite.c (enum query there) and of sqlite_ee.c. */
#define SQ_Q_MAX 16
#define SQ_EE__MAX 16
#define SQ_CRL__MAX 4

struct sq_store {
	struct est_store base;          /* first, so the generic handle casts to this */
	sqlite3 *db;
	char *path;                     /* the file, for every error message */
	sqlite3_stmt *stmt[SQ_Q_MAX];   /* sqlite.c's, prepared on first use */
	sqlite3_stmt *ee_stmt[SQ_EE__MAX]; /* sqlite_ee.c's, prepared on first use */
	sqlite3_stmt *crl_stmt[SQ_CRL__MAX]; /* sqlite_crl.c's, prepared on first use */
};

/* ---- sqlite.c ---- */

/* EST_ERR_STORE naming the file, what was being done and SQLite's reason. */
enum est_err sq_fail(struct sq_store *s, const char *doing, struct est_error *e);

/* Reset a statement and clear its bindings after use. */
void sq_done(sqlite3_stmt *q);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK (if a transaction is open). */
enum est_err sq_begin(struct sq_store *s, struct est_error *e);
enum est_err sq_commit(struct sq_store *s, struct est_error *e);
void sq_rollback(struct sq_store *s);

/* Column i as a new string / blob; -1 when out of memory. */
int sq_col_text(sqlite3_stmt *q, int i, char **out);
int sq_col_blob(sqlite3_stmt *q, int i, unsigned char **out, size_t *len);

/* Insert a certificate record inside the caller's transaction; sets *id.
 * EST_ERR_EXISTS for a taken (issuer, serial). */
enum est_err sq_insert_cert(struct sq_store *s, const struct est_cert_rec *rec, int64_t *id,
    struct est_error *e);

/* Revoke a valid certificate inside the caller's transaction (the body of
 * est_store_revoke_cert): EST_ERR_NOTFOUND, EST_ERR_EXISTS, EST_ERR_FORBIDDEN
 * when already revoked. */
enum est_err sq_revoke_in_tx(struct sq_store *s, const char *issuer, const char *serial,
    int reason, int64_t when, struct est_error *e);

/* ---- sqlite_ee.c: the est_store_ops entries it implements ---- */

enum est_err sq_put_cert_consume(struct est_store *st, struct est_cert_rec *rec,
    const char *code_hash, int64_t now, struct est_error *e);
enum est_err sq_put_issued(struct est_store *st, struct est_cert_rec *rec,
    const struct est_issue_record *how, struct est_error *e);
enum est_err sq_put_ee(struct est_store *st, struct est_ee *ee, struct est_error *e);
enum est_err sq_get_ee(struct est_store *st, const char *username, struct est_ee **out,
    struct est_error *e);
enum est_err sq_list_ee(struct est_store *st, est_ee_visit visit, void *arg,
    struct est_error *e);
enum est_err sq_list_ee_matching(struct est_store *st, const char *needle, est_ee_visit visit,
    void *arg, struct est_error *e);
enum est_err sq_del_ee(struct est_store *st, const char *username, struct est_error *e);
enum est_err sq_reset_ee(struct est_store *st, const char *username, const char *code_hash,
    int64_t uses_left, int64_t valid_until, struct est_error *e);
enum est_err sq_put_ext_ca(struct est_store *st, struct est_ext_ca *ca, struct est_error *e);
enum est_err sq_list_ext_ca(struct est_store *st, est_ext_ca_visit visit, void *arg,
    struct est_error *e);

/* ---- sqlite_crl.c: the est_store_ops entries it implements ---- */

enum est_err sq_revocation_revision(struct est_store *st, const char *issuer, int64_t *rev,
    struct est_error *e);
enum est_err sq_get_crl(struct est_store *st, const char *issuer, struct est_crl_rec **out,
    struct est_error *e);
enum est_err sq_put_crl(struct est_store *st, const char *issuer, const struct est_crl_rec *rec,
    struct est_error *e);

#endif
