/*
 * estkit lock-outs: the authentication lock-outs estd is enforcing, shared
 * with the administrator through a small text file beside the store
 * (est_lockout_path), so that `estadm lockout list` shows them and
 * `estadm lockout clear` lifts them while estd runs.
 *
 * estd counts failures in memory (lib/server/ratelimit.c) and writes a line
 * here when a lock-out starts. While a key is locked it looks here again: a
 * line an administrator removed lifts the lock-out. A file it cannot read
 * lifts nothing, so a missing or broken file never opens the door.
 *
 * The file holds one line per lock-out, "KIND UNTIL KEY": KIND is
 * "address", "user" (HTTP user) or "ee" (end entity), UNTIL the end in Unix
 * seconds, KEY the address or name with bytes outside '!'..'~' and '%'
 * written as %XX; a line that is not so is skipped, and dropped at the
 * next change. Every reader and writer holds flock() on it (shared or
 * exclusive), and writers rewrite it in place, so a concurrent estd and
 * estadm never lose each other's change.
 */
#ifndef ESTKIT_LOCKOUT_H
#define ESTKIT_LOCKOUT_H

#include <stddef.h>
#include <stdint.h>

#include "estkit/config.h"
#include "estkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EST_LOCKOUT_KEY_MAX 256

struct est_lockout {
	char kind[8];                     /* "address", "user" or "ee" */
	char key[EST_LOCKOUT_KEY_MAX];    /* decoded */
	int64_t until;                    /* Unix seconds */
};

/*
 * The lock-out file of a configuration: lockout-file when set, else
 * "<store file>-lockouts" for a sqlite: store (estkit.db-lockouts), else
 * "lockouts" in the configuration's directory. malloc'd (caller frees),
 * NULL when out of memory.
 */
char *est_lockout_path(const struct est_config *cfg);

/*
 * Empty the file, creating it (mode 0600) when missing: estd's start, which
 * forgets every lock-out, and proves the file can be written.
 */
enum est_err est_lockout_reset(const char *path, struct est_error *e);

/*
 * Record that KIND KEY is locked out until `until` (replacing an older line
 * for it), dropping lines that ended by `now`. Creates the file (mode 0600)
 * when missing.
 */
enum est_err est_lockout_record(const char *path, const char *kind, const char *key,
    int64_t until, int64_t now, struct est_error *e);

/*
 * The lock-outs still running at `now`, in file order. *out is malloc'd
 * (caller frees; NULL with *n == 0 when there are none or no file).
 */
enum est_err est_lockout_list(const char *path, int64_t now, struct est_lockout **out,
    size_t *n, struct est_error *e);

/*
 * Remove the lines for KEY (of either kind), or every line with key NULL;
 * *removed: how many lines that were still running at `now` went. No file
 * means nothing to remove.
 */
enum est_err est_lockout_clear(const char *path, const char *key, int64_t now,
    size_t *removed, struct est_error *e);

/*
 * Whether the file still holds KIND KEY: 1 yes, 0 no (an administrator
 * lifted it), -1 cannot tell (no file, unreadable): treat as still locked.
 */
int est_lockout_present(const char *path, const char *kind, const char *key);

#ifdef __cplusplus
}
#endif

#endif
