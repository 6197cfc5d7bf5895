/*
 * estkit metrics: the counters of the EST servers in this process, in the
 * Prometheus text exposition format (version 0.0.4), and a plain-HTTP
 * listener that serves them at /metrics, apart from the EST listeners.
 *
 * The counters belong to the process, not to one est_server, so they go
 * on across a reload (a new server replacing the old). The metric names and
 * labels are listed in docs/metrics.md.
 */
#ifndef ESTKIT_METRICS_H
#define ESTKIT_METRICS_H

#include <stddef.h>

#include "estkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct est_metrics_listener;

/*
 * Bind host:port (host "" for every address, port "0" for one the kernel
 * chooses) for /metrics; certificates about to expire are counted in the
 * store at store_uri (copied). Serving starts with est_metrics_start, so a
 * program may bind first and drop privileges after. Caller frees with
 * est_metrics_listener_free().
 */
enum est_err est_metrics_listen(const char *host, const char *port, const char *store_uri,
    struct est_metrics_listener **out, struct est_error *e);

/* The port bound (useful with port "0"). */
int est_metrics_listener_port(const struct est_metrics_listener *m);

/* Serve /metrics on a thread of its own until est_metrics_listener_free. */
enum est_err est_metrics_start(struct est_metrics_listener *m, struct est_error *e);

/* Stop serving (joining the thread) and free. NULL is fine. */
void est_metrics_listener_free(struct est_metrics_listener *m);

/*
 * The current metrics as Prometheus text; the expiring-certificate gauges
 * are read from the store at store_uri (NULL: left out). Caller free()s
 * *text.
 */
enum est_err est_metrics_render(const char *store_uri, char **text, size_t *len,
    struct est_error *e);

/* Count a configuration reload (SIGHUP) that succeeded or was refused. */
void est_metrics_reload(int ok);

#ifdef __cplusplus
}
#endif

#endif
