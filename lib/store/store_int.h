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

#endif
