/*
 * estd's side of the lock-out file (include/estkit/lockout.h): a lock-out
 * ratelimit.c starts is written there for `estadm lockout list`, and one
 * that is still running in memory is looked up there again, so that
 * `estadm lockout clear` lifts it without a restart.
 *
 * A lock-out is lifted only when the file was read and lacks its line.
 * Should writing the file ever fail, a missing line proves nothing, so from
 * then on the file lifts nothing (until estd restarts) and the log says so.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "estkit/lockout.h"
#include "estkit/log.h"
#include "server/server_int.h"

enum est_err
lockout_sync_init(struct est_server *srv, struct est_error *e)
{
	if ((srv->lockout_path = est_lockout_path(srv->cfg)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	atomic_init(&srv->lockout_file_broken, false);
	return EST_OK;
}

/*
 * At start, after the privilege drop: a file estd cannot write would only
 * show when the first guesser is locked out, so it is found out now.
 */
void
lockout_sync_reset(struct est_server *srv)
{
	struct est_error e = { 0 };

	if (est_lockout_reset(srv->lockout_path, &e) == EST_OK)
		return;
	atomic_store(&srv->lockout_file_broken, true);
	log_warn("lock-out file: %s; lock-outs are enforced, but estadm lockout cannot see or "
	    "lift them until estd restarts: set lockout-file in [server] to a file estd's user "
	    "can write", e.msg);
}

void
lockout_sync_fini(struct est_server *srv)
{
	free(srv->lockout_path);
	srv->lockout_path = NULL;
}

/*
 * The file's kind and key for ratelimit.c's: an address stays one; a name
 * ("user estuser", "end entity dev1") becomes kind user or ee and the bare
 * name, which is what an administrator types to clear it.
 */
static void
file_key(const char *kind, const char *key, const char **fkind, const char **fkey)
{
	*fkind = kind;
	*fkey = key;
	if (strcmp(kind, "name") != 0)
		return;
	if (strncmp(key, "user ", 5) == 0) {
		*fkind = "user";
		*fkey = key + 5;
	} else if (strncmp(key, "end entity ", 11) == 0) {
		*fkind = "ee";
		*fkey = key + 11;
	}
}

void
lockout_started(struct est_server *srv, const char *kind, const char *key)
{
	struct est_error e = { 0 };
	int64_t now = (int64_t)time(NULL);
	const char *fkind, *fkey;

	file_key(kind, key, &fkind, &fkey);
	if (est_lockout_record(srv->lockout_path, fkind, fkey, now + srv->cfg->auth_lockout, now,
	    &e) == EST_OK)
		return;
	if (!atomic_exchange(&srv->lockout_file_broken, true))
		log_error("lock-out file: %s; estadm lockout cannot see or lift lock-outs until "
		    "estd restarts", e.msg);
}

bool
lockout_lifted(struct est_server *srv, const char *kind, const char *key)
{
	const char *fkind, *fkey;

	if (atomic_load(&srv->lockout_file_broken))
		return false;
	file_key(kind, key, &fkind, &fkey);
	if (est_lockout_present(srv->lockout_path, fkind, fkey) != 0)
		return false;
	log_info("auth lock-out lifted by the administrator: %s %.100s", kind, key);
	return true;
}
