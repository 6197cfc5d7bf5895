/*
 * estd: the EST server. Reads estd.conf, binds its listeners and serves
 * until SIGINT or SIGTERM, then drains; SIGHUP reloads the configuration
 * (reload.c). Runs in the foreground (systemd,
 * containers and `make run` all want that); logs go to standard error.
 *
 * Signals are handled on the main thread alone: they are blocked before
 * the workers start (so the workers inherit the mask) and taken with
 * sigwait(), so nothing runs in a signal handler.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estkit/config.h"
#include "estkit/log.h"
#include "estkit/metrics.h"
#include "estkit/server.h"
#include "estd.h"
#include "notify.h"
#include "privdrop.h"

#define DEFAULT_CONFIG ESTKIT_DEFAULT_CONFIG /* CMakeLists.txt: SYSCONFDIR/estkit/estd.conf */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: estd [-n] [-d] [-c FILE] [--ready-file FILE]\n"
	    "\n"
	    "EST server (RFC 7030, RFC 8951) with a built-in CA.\n"
	    "\n"
	    "  -c, --config FILE     configuration file (default " DEFAULT_CONFIG ")\n"
	    "  -n, --check           check the configuration, keys and store, then exit\n"
	    "  -d, --debug           log at debug level\n"
	    "      --ready-file FILE once listening, write \"LISTENER PORT\" lines to FILE\n"
	    "  -h, --help            this text\n"
	    "  -V, --version         print the version\n"
	    "\n"
	    "See estd(8) and docs/configuration.md.\n");
}

/* Written atomically, so a reader never sees half a file. */
int
estd_write_ready_file(const struct estd *d)
{
	char tmp[4096];
	FILE *f;
	const char *name;

	snprintf(tmp, sizeof(tmp), "%s.tmp", d->ready_path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	for (size_t i = 0; i < est_server_listener_count(d->srv); i++) {
		int port = est_server_listener_port(d->srv, i, &name);

		fprintf(f, "%s %d\n", name, port);
	}
	if (d->metrics != NULL)
		fprintf(f, "metrics %d\n", est_metrics_listener_port(d->metrics));
	if (fclose(f) != 0 || rename(tmp, d->ready_path) != 0)
		return -1;
	return 0;
}

void
estd_apply_log_level(const struct estd *d)
{
	enum est_log_level level;

	if (est_log_level_parse(d->cfg->log_level, &level) == 0)
		est_log_set_level(d->debug ? EST_LOG_DEBUG : level);
}

/* Block the signals serve() waits for; ignore SIGPIPE. */
static void
block_signals(sigset_t *set)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* Serve until SIGINT or SIGTERM, reloading on SIGHUP, then drain. */
static int
serve(struct estd *d, const sigset_t *set)
{
	struct est_error e = { 0 };
	int sig = 0;

	if (est_server_start(d->srv, &e) != EST_OK) {
		fprintf(stderr, "estd: %s\n", e.msg);
		return 1;
	}
	notify_ready();
	while (sig != SIGINT && sig != SIGTERM) {
		if (sigwait(set, &sig) != 0)
			break;
		if (sig == SIGHUP)
			estd_reload(d);
	}
	log_info("%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	notify_stopping();
	est_server_drain(d->srv);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "debug", no_argument, NULL, 'd' },
		{ "ready-file", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct estd d = { .config_path = DEFAULT_CONFIG };
	struct est_error e = { 0 };
	bool check = false;
	char *errors = NULL;
	int c, status = 1;
	sigset_t set;

	while ((c = getopt_long(argc, argv, "c:ndhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': d.config_path = optarg; break;
		case 'n': check = true; break;
		case 'd': d.debug = true; break;
		case 'R': d.ready_path = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("estd %s\n", ESTKIT_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (est_config_load(d.config_path, &d.cfg, &errors, &e) != EST_OK) {
		fprintf(stderr, "estd: %s", errors != NULL ? errors : e.msg);
		if (errors == NULL)
			fputc('\n', stderr);
		free(errors);
		return 1;
	}
	estd_apply_log_level(&d);
	block_signals(&set);
	if (check) {
		if (est_server_check(d.cfg, &e) != EST_OK) {
			fprintf(stderr, "estd: %s\n", e.msg);
			goto out;
		}
		printf("estd: %s is valid\n", d.config_path);
		status = 0;
		goto out;
	}
	if (est_server_new(d.cfg, &d.srv, &e) != EST_OK) {
		fprintf(stderr, "estd: %s\n", e.msg);
		goto out;
	}
	if (d.cfg->metrics_listen.port != NULL &&
	    est_metrics_listen(d.cfg->metrics_listen.host, d.cfg->metrics_listen.port,
	    d.cfg->store_uri, &d.metrics, &e) != EST_OK) {
		fprintf(stderr, "estd: %s\n", e.msg);
		goto out;
	}
	if (d.ready_path != NULL && estd_write_ready_file(&d) != 0) {
		fprintf(stderr, "estd: cannot write ready file %s\n", d.ready_path);
		goto out;
	}
	/* The ready file is written while still privileged, and taken back on failure. */
	if (d.cfg->user != NULL) {
		char why[256];

		if (privdrop(d.cfg->user, why, sizeof(why)) != 0) {
			fprintf(stderr, "estd: %s\n", why);
			if (d.ready_path != NULL)
				unlink(d.ready_path);
			goto out;
		}
		log_info("running as user %s", d.cfg->user);
	}
	if (d.metrics != NULL && est_metrics_start(d.metrics, &e) != EST_OK) {
		fprintf(stderr, "estd: %s\n", e.msg);
		goto out;
	}
	status = serve(&d, &set);
out:
	est_metrics_listener_free(d.metrics);
	est_server_free(d.srv);
	est_config_free(d.cfg);
	return status;
}
