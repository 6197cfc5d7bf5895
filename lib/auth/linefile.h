/*
 * lib/auth internal: the small "name:fields" files of the auth methods that
 * estadm writes and estd reads per request (TLS-SRP verifiers, Bearer token
 * hashes). Lines starting with '#' and empty lines are comments; a line's
 * name is the text before its first ':'.
 */
#ifndef ESTKIT_AUTH_LINEFILE_H
#define ESTKIT_AUTH_LINEFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "estkit/err.h"

/* Whether an entry line is well formed (the file's own format). */
typedef bool (*lf_line_ok)(const char *line);

/*
 * Call fn(line, arg) for each entry line of path, in order, until it
 * returns false. A missing file has none. EST_ERR_CONFIG names the file and
 * line of the first entry ok() refuses ("what" says what a line should be).
 */
enum est_err lf_each(const char *path, lf_line_ok ok, const char *what,
    bool (*fn)(const char *line, void *arg), void *arg, struct est_error *e);

/*
 * Rewrite path atomically (mode 0600) with the line of name replaced by
 * repl, or dropped when repl is NULL, or repl appended when name has none.
 * *found says whether name had a line. Refuses a file with a malformed line.
 */
enum est_err lf_replace(const char *path, lf_line_ok ok, const char *what, const char *name,
    const char *repl, bool *found, struct est_error *e);

/*
 * The names of the entries, NUL-separated in one malloc'd buffer (caller
 * free()s), *n of them.
 */
enum est_err lf_names(const char *path, lf_line_ok ok, const char *what, char **names,
    size_t *n, struct est_error *e);

/* Whether line's name is name. */
bool lf_is(const char *line, const char *name);

#endif
