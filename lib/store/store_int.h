/*
 * estkit store, private: the backend constructors that store.c dispatches to
 * by URI scheme. Nothing outside lib/store includes this.
 */
#ifndef ESTKIT_STORE_INT_H
#define ESTKIT_STORE_INT_H

#include "estkit/err.h"
#include "estkit/store.h"

/* sqlite.c */

/*
 * Open (creating with mode 0600 and migrating as needed) the SQLite
 * database at path. EST_ERR_STORE, naming the file, when it cannot be opened
 * or its schema is newer than this code. Caller closes with est_store_close().
 */
enum est_err est_store_sqlite_open(const char *path, struct est_store **out,
    struct est_error *e);
enum est_err est_store_sqlite_create(const char *path, struct est_store **out,
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

#endif
