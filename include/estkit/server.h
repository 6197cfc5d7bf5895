/*
 * estkit server: an EST server (RFC 7030, RFC 8951) with its built-in CA,
 * embeddable in a program (estd is one such program).
 *
 * Life cycle: est_server_new() loads the CAs and TLS credentials and binds
 * every listener (so a program may drop privileges afterwards);
 * est_server_run() serves on worker threads until est_server_stop() is
 * called; est_server_free() releases everything.
 */
#ifndef ESTKIT_SERVER_H
#define ESTKIT_SERVER_H

#include <stddef.h>

#include "estkit/config.h"
#include "estkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct est_server;

/*
 * Prepare a server from a loaded configuration (borrowed: it must outlive
 * the server). Loads and checks CA and TLS keys (a private key readable by
 * group or others is refused), opens the store, binds the listeners.
 * Caller frees with est_server_free().
 */
enum est_err est_server_new(const struct est_config *cfg, struct est_server **out,
    struct est_error *e);

/*
 * Check a configuration as est_server_new() would take it (CAs, keys, TLS
 * credentials, store, listener addresses) without binding any listener, so
 * that it works while a server runs on the same ports. Nothing to free.
 */
enum est_err est_server_check(const struct est_config *cfg, struct est_error *e);

/*
 * As est_server_new, to replace old (a reload): each listener old has with
 * the same name, address and port is shared rather than bound again, so
 * connections keep being accepted while old drains (est_server_drain) and
 * the new server starts. Everything else -- CAs, aliases, TLS certificates, credentials, external CAs,
 * limits -- is read afresh from cfg. old is borrowed and may keep serving.
 * Shared with old rather than started afresh: the Digest nonces it gave out
 * (replays stay refused), the open connections per address (counted against
 * max-connections-per-address) and the failed-authentication counts and
 * lock-outs; cfg's limits apply to them once the new server starts.
 */
enum est_err est_server_new_from(const struct est_config *cfg, const struct est_server *old,
    struct est_server **out, struct est_error *e);

/*
 * Start serving on the worker threads and return (every listener is bound
 * and every worker accepts). Logs one line per request through est_log.
 * Signals a program handles itself (SIGTERM, SIGHUP) are best blocked
 * before this call, so that the workers inherit the mask.
 */
enum est_err est_server_start(struct est_server *srv, struct est_error *e);

/*
 * Stop a started server gracefully and return once its workers are gone:
 * it stops accepting, closes idle keep-alive connections, answers requests
 * in flight with "Connection: close" and waits for them for at most the
 * configuration's drain-timeout, then closes what is left. Blocks.
 */
void est_server_drain(struct est_server *srv);

/*
 * est_server_start, then wait for est_server_stop(), then
 * est_server_drain. Returns EST_OK after a clean stop.
 */
enum est_err est_server_run(struct est_server *srv, struct est_error *e);

/* Ask a running server to stop; safe to call from a signal handler. */
void est_server_stop(struct est_server *srv);

/* Number of listeners, and the port listener i is bound to (after
 * est_server_new; useful with port 0). name is borrowed. */
size_t est_server_listener_count(const struct est_server *srv);
int est_server_listener_port(const struct est_server *srv, size_t i, const char **name);

void est_server_free(struct est_server *srv);

#ifdef __cplusplus
}
#endif

#endif
