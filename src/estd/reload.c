/*
 * estd's reload (SIGHUP): the whole configuration is read again -- aliases,
 * name rules, limits, CAs, external CAs, credentials, TLS certificates --
 * into a new server that shares the old one's listening sockets. Only when
 * the new server is built and accepting is the old one drained and freed,
 * so no connection is refused and no request in flight is lost. Anything
 * that fails leaves the old server serving, untouched.
 *
 * What a reload cannot change: metrics-listen (its listener outlives
 * servers), and `user` (privileges are dropped once); a reload after the
 * drop also cannot bind ports below 1024 or read files only root may read.
 */
#include <stdlib.h>
#include <string.h>

#include "estd.h"
#include "estkit/log.h"
#include "notify.h"

/* Log every "FILE:LINE: reason" of a refused configuration. */
static void
log_config_errors(const char *errors, const char *fallback)
{
	char *copy = errors != NULL ? strdup(errors) : NULL, *line, *save = NULL;

	if (copy == NULL) {
		log_error("reload refused: %s", fallback);
		return;
	}
	for (line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		log_error("reload refused: %s", line);
	free(copy);
}

static bool
same_string(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Warn about what this reload takes no notice of. */
static void
warn_unreloadable(const struct est_config *old, const struct est_config *cfg)
{
	if (!same_string(old->metrics_listen.host, cfg->metrics_listen.host) ||
	    !same_string(old->metrics_listen.port, cfg->metrics_listen.port))
		log_warn("reload: metrics-listen changed; it takes effect at the next restart");
	if (!same_string(old->user, cfg->user))
		log_warn("reload: user changed; it takes effect at the next restart");
}

static void
refused(void)
{
	log_warn("reload refused: the previous configuration goes on serving");
	est_metrics_reload(0);
	notify_ready();
}

void
estd_reload(struct estd *d)
{
	struct est_config *cfg = NULL, *old_cfg;
	struct est_server *srv = NULL, *old;
	struct est_error e = { 0 };
	char *errors = NULL;

	notify_reloading();
	log_info("SIGHUP: reloading %s", d->config_path);
	if (est_config_load(d->config_path, &cfg, &errors, &e) != EST_OK) {
		log_config_errors(errors, e.msg);
		free(errors);
		refused();
		return;
	}
	if (est_server_new_from(cfg, d->srv, &srv, &e) != EST_OK ||
	    est_server_start(srv, &e) != EST_OK) {
		log_error("reload refused: %s", e.msg);
		est_server_free(srv);
		est_config_free(cfg);
		refused();
		return;
	}
	warn_unreloadable(d->cfg, cfg);
	old = d->srv;
	old_cfg = d->cfg;
	d->srv = srv;
	d->cfg = cfg;
	estd_apply_log_level(d);
	if (d->ready_path != NULL && estd_write_ready_file(d) != 0)
		log_warn("reload: cannot rewrite the ready file %s", d->ready_path);
	log_info("reload: the new configuration serves; draining the old one");
	est_server_drain(old);
	est_server_free(old);
	est_config_free(old_cfg);
	est_metrics_reload(1);
	log_info("reloaded %s", d->config_path);
	notify_ready();
}
