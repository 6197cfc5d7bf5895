/*
 * estd's private contract: the state main.c sets up and reload.c replaces.
 */
#ifndef ESTD_H
#define ESTD_H

#include <stdbool.h>

#include "estkit/config.h"
#include "estkit/metrics.h"
#include "estkit/server.h"

struct estd {
	const char *config_path;          /* -c */
	const char *ready_path;           /* --ready-file, or NULL */
	bool debug;                       /* -d: debug level whatever log-level says */
	struct est_config *cfg;           /* the configuration being served (owned) */
	struct est_server *srv;           /* the server serving it (owned) */
	struct est_metrics_listener *metrics; /* NULL without metrics-listen (owned) */
};

/* ---- main.c ---- */

/* Set the log level from d->cfg (or debug). */
void estd_apply_log_level(const struct estd *d);

/* Write --ready-file ("NAME PORT" per listener, "metrics PORT"); 0 or -1. */
int estd_write_ready_file(const struct estd *d);

/* ---- reload.c ---- */

/*
 * SIGHUP: read the configuration again and replace the server with one made
 * from it, which shares the listening sockets; the old one drains. A
 * configuration, key or certificate that fails is logged (FILE:LINE for the
 * configuration) and refused, and the old server goes on serving.
 */
void estd_reload(struct estd *d);

#endif
