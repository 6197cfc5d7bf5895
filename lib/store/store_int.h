/*
 * estkit store, private: the backend constructors that store.c dispatches to
 * by URI scheme. Nothing outside lib/store includes this.
 */
#ifndef ESTKIT_STORE_INT_H
#define ESTKIT_STORE_INT_H

#include <stdbool.h>

#include "codec/namekeys.h"
#include "estkit/err.h"
#include "estkit/store.h"

/* The schema version every backend's migrations reach (checked in each). */
#define EST_STORE_SCHEMA_VERSION 8

/* sqlite/db.c */

/*
 * Open (migrating as needed) the SQLite database at path. EST_ERR_STORE,
 * naming the file, when it is missing, empty, cannot be opened or its schema
 * is newer than this code. Caller closes with est_store_close().
 */
enum est_err est_store_sqlite_open(const char *path, struct est_store **out,
    struct est_error *e);
enum est_err est_store_sqlite_create(const char *path, struct est_store **out,
    struct est_error *e);
/* Open as est_store_sqlite_open, saying in *from the version found before. */
enum est_err est_store_sqlite_migrate(const char *path, int *from, struct est_store **out,
    struct est_error *e);

/* postgresql/db.c */

/*
 * Connect to the PostgreSQL database a postgresql:// URI names. open
 * refuses a schema of another version than this code's; create makes the
 * schema in a database without one (EST_ERR_EXISTS otherwise); migrate
 * brings an older one forward, saying in *from the version found.
 * EST_ERR_CONFIG for a URI libpq does not take or one with a password.
 */
enum est_err est_store_pg_open(const char *uri, struct est_store **out, struct est_error *e);
enum est_err est_store_pg_create(const char *uri, struct est_store **out,
    struct est_error *e);
enum est_err est_store_pg_migrate(const char *uri, int *from, struct est_store **out,
    struct est_error *e);

/* store.c */

/* Whether rec is a complete request key; *norm is rec with the defaults of
 * est_store_hold_request filled in (strings borrowed from rec). */
enum est_err store_check_request(const struct est_req_rec *rec, struct est_req_rec *norm,
    struct est_error *e);

/* Whether rec and how make a complete est_store_put_issued (EST_ERR_INTERNAL
 * naming what is missing): checked before any backend sees them. */
enum est_err store_check_issued(const struct est_cert_rec *rec,
    const struct est_issue_record *how, struct est_error *e);

/*
 * Whether a certificate looked up in a release's transaction (revoked or
 * not, its reason, its notAfter) may be released from hold at now: EST_OK,
 * or EST_ERR_FORBIDDEN saying why not (est_store_release_cert). One wording
 * for every backend.
 */
enum est_err store_check_release(const char *serial, bool revoked, int reason,
    int64_t not_after, int64_t now, struct est_error *e);

/*
 * The keys an end entity is indexed under (table ee_names): those of its
 * subject, the subject's names and its SAN (der NULL: none). *k starts zeroed; the caller frees it with codec_name_keys_free,
 * also on failure. EST_ERR_BADREQ when a DER does not decode.
 */
enum est_err store_ee_keys(const unsigned char *subject_der, size_t subject_len,
    const unsigned char *san_der, size_t san_len, struct codec_name_keys *k,
    struct est_error *e);

/* writer.c, for the backends' group operations */

/*
 * A writer's group whose transaction was lost (a write's failure rolled it
 * all back, or an undo failed): every later write of the group, and its
 * commit, fail with the first reason. A backend clears lost in group_begin.
 */
struct store_group {
	bool lost;
	struct est_error why;
};

/* Mark g lost, once, for why (503 if why was, else a store error). */
void store_group_lose(struct store_group *g, const struct est_error *why);

/* EST_OK while g is not lost; else its error, with the reason in *e (may be NULL). */
enum est_err store_group_check(const struct store_group *g, struct est_error *e);

#endif
