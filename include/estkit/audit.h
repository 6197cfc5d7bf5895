/*
 * estkit audit log: an append-only file with one line per change to the
 * PKI -- every certificate issued or renewed by estd, every estadm command
 * that changes something (revocations included) -- saying who did what,
 * when. Each line carries the SHA-256 of the line before it, and its own,
 * so changing, removing or inserting a line breaks the chain at that point
 * (est_audit_verify, `estadm audit verify`). Cutting lines off the end is
 * not visible in the file itself: keep the last hash somewhere else too.
 *
 * A line (fields as in docs/logs.md, key=value, values quoted as needed):
 *   seq=N time=ISO8601 who=PRINCIPAL what=ACTION [FIELD=VALUE...] prev=HEX hash=HEX
 * hash is SHA-256 over the line up to (not including) " hash=".
 */
#ifndef ESTKIT_AUDIT_H
#define ESTKIT_AUDIT_H

#include <stddef.h>

#include "estkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EST_AUDIT_HASH_HEX 64

struct est_audit;

/*
 * Open path for appending (created with mode 0600 when missing). Caller
 * frees with est_audit_close().
 */
enum est_err est_audit_open(const char *path, struct est_audit **out, struct est_error *e);
void est_audit_close(struct est_audit *a);

/*
 * Append one entry: who (a principal: "user:NAME", "admin:NAME", ...) did
 * what ("issue", "renew", "cert revoke", ...), with n further fields given
 * as key, value pairs in fields[0..2n-1] (values may be any text). Safe from
 * several threads, and from several processes appending to the same file
 * (an exclusive flock while the line is chained and written). EST_ERR_IO
 * when the file cannot be read or written.
 */
enum est_err est_audit_append(struct est_audit *a, const char *who, const char *what,
    const char *const *fields, size_t n, struct est_error *e);

/* One entry for est_audit_append_many: est_audit_append's arguments. */
struct est_audit_entry {
	const char *who;
	const char *what;
	const char *const *fields;
	size_t n;
};

/*
 * Append n entries in order, chained as n calls of est_audit_append would
 * chain them, under one lock and with one write: on failure none of them
 * may be taken as recorded (lines cut short are continued on a new line by
 * the next append, and reported by est_audit_verify).
 */
enum est_err est_audit_append_many(struct est_audit *a, const struct est_audit_entry *entries,
    size_t n, struct est_error *e);

/*
 * Check the whole chain of the file at path. On success sets *entries and
 * last_hash (hex, NUL-terminated; all zeros for an empty file). A broken
 * chain is EST_ERR_BADREQ with "PATH:LINE: reason" naming the first line
 * that does not hold; EST_ERR_IO when the file cannot be read.
 */
enum est_err est_audit_verify(const char *path, size_t *entries,
    char last_hash[EST_AUDIT_HASH_HEX + 1], struct est_error *e);

#ifdef __cplusplus
}
#endif

#endif
