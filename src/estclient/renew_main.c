/*
 * estclient renew: keep certificates renewed without help (RFC 7030 §4.2.2).
 * One-shot (cron, the estclient-renew.timer) looks at each certificate once,
 * retrying network errors and 5xx with exponential back-off and jitter; with
 * --daemon it stays and sleeps until the next certificate is due (at most
 * REFRESH_MAX, so the trust anchor is refreshed even when nothing is due).
 * The certificates come from the command line, or from --config FILE with a
 * [cert NAME] section each. A certificate the server refuses (401, 403,
 * other 4xx) stops one-shot with status 5 (6). The daemon keeps looking at
 * it while it is valid, ever more often as it nears expiry (a refusal may
 * be lifted: a renew-window opens, an administrator fixes the server), and
 * drops it only when it expires before the next look; it exits with that
 * status when none is left. Anything else it tries again with the back-off.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "estclient.h"
#include "estkit/log.h"

/* The longest sleep of the daemon: it refreshes the trust anchor this often. */
#define REFRESH_MAX (6 * 3600)
/* The longest back-off between tries. */
#define BACKOFF_MAX 3600.0

enum {
	R_CHAIN = 256, R_TA, R_SERVER, R_PATH_SEG, R_RESOLVE, R_SHARE, R_BEFORE, R_SAME_KEY,
	R_KEY_TYPE, R_HOOK, R_RETRY_MAX, R_RETRIES, R_RETRY_DELAY, R_CONFIG, R_DAEMON, R_FORCE,
	R_HELP
};

static const struct option long_opts[] = {
	{ "cert", required_argument, NULL, 'c' },
	{ "key", required_argument, NULL, 'k' },
	{ "host", required_argument, NULL, 's' },
	{ "port", required_argument, NULL, 'p' },
	{ "timeout", required_argument, NULL, 'w' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "chain", required_argument, NULL, R_CHAIN },
	{ "trustanchor", required_argument, NULL, R_TA },
	{ "server", required_argument, NULL, R_SERVER },
	{ "path-seg", required_argument, NULL, R_PATH_SEG },
	{ "resolve", required_argument, NULL, R_RESOLVE },
	{ "renew-share", required_argument, NULL, R_SHARE },
	{ "renew-before", required_argument, NULL, R_BEFORE },
	{ "same-key", no_argument, NULL, R_SAME_KEY },
	{ "key-type", required_argument, NULL, R_KEY_TYPE },
	{ "post-hook", required_argument, NULL, R_HOOK },
	{ "retry-max", required_argument, NULL, R_RETRY_MAX },
	{ "retries", required_argument, NULL, R_RETRIES },
	{ "retry-delay", required_argument, NULL, R_RETRY_DELAY },
	{ "config", required_argument, NULL, R_CONFIG },
	{ "daemon", no_argument, NULL, R_DAEMON },
	{ "force", no_argument, NULL, R_FORCE },
	{ "help", no_argument, NULL, R_HELP },
	{ NULL, 0, NULL, 0 },
};

static void
usage(FILE *f)
{
	fputs("usage: estclient renew -c CERT -k KEY (-s HOST [-p PORT] | --server URL)\n"
	    "           [--trustanchor FILE] [OPTIONS]\n"
	    "       estclient renew --config FILE [--daemon] [OPTIONS]\n"
	    "\n"
	    "Renew a certificate over /simplereenroll once it is due, keep the trust\n"
	    "anchor current through CA rollovers (RFC 7030 §4.1.3), replace the files\n"
	    "atomically (the old ones stay as FILE.previous), then run --post-hook.\n"
	    "\n"
	    "  -c, --cert FILE       the certificate (PEM), authenticates the renewal\n"
	    "  -k, --key FILE        its key (mode 0600); replaced by the new key\n"
	    "  --chain FILE          also write the CA certificates above the new one\n"
	    "  --trustanchor FILE    the EST CA's root (default $EST_OPENSSL_CACERT);\n"
	    "                        updated when the CA rolls over\n"
	    "  -s, --host HOST  -p, --port PORT  --path-seg LABEL  --server URL\n"
	    "  --resolve HOST:PORT:ADDRESS   as for estclient -r\n"
	    "  --renew-share SHARE   renew after this share of the lifetime (default\n"
	    "                        2/3; 0.667, 2/3 and 67% are the same)\n"
	    "  --renew-before TIME   or this long before expiry (90s, 15m, 12h, 30d)\n"
	    "  --same-key            keep the key (default: a new key of the same type)\n"
	    "  --key-type TYPE       the new key's type (ec:P-256, rsa:2048, ...)\n"
	    "  --post-hook CMD       run by /bin/sh after each renewal\n"
	    "  --retries N           tries after a network error or 5xx (default 5)\n"
	    "  --retry-delay TIME    before the first of them (default 30s), doubled each\n"
	    "                        time, with jitter, at most an hour\n"
	    "  --retry-max N         202 (pending) answers waited out (default 3)\n"
	    "  -w, --timeout SECONDS without data from the server (default 10)\n"
	    "  --force               renew now, due or not\n"
	    "  --config FILE         certificates in [cert NAME] sections, keys named as\n"
	    "                        these options (cert = ..., post-hook = ...)\n"
	    "  --daemon              stay, and renew each certificate when it is due\n"
	    "  -v, --verbose\n"
	    "  --help                this text\n"
	    "\n"
	    "Exit status as estclient's: 0 renewed or not due, 1 local failure (also a\n"
	    "failed post-hook), 3 unreachable, 4 TLS, 5 refused (401/403: files left\n"
	    "untouched), 6 other 4xx, 7 server error, 8 still pending. See estclient(1).\n",
	    f);
}

static volatile sig_atomic_t stop_asked, wake_asked;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		wake_asked = 1;
	else
		stop_asked = 1;
}

/*
 * Sleep for seconds, or until a signal; false when asked to stop. *hup
 * (optional) says whether SIGHUP ended it.
 */
static bool
sleep_for(double seconds, bool *hup)
{
	struct timespec ts;

	if (seconds > 0) {
		ts.tv_sec = (time_t)seconds;
		ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
		while (!stop_asked && !wake_asked && nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	if (hup != NULL)
		*hup = wake_asked != 0;
	wake_asked = 0;
	return !stop_asked;
}

/* The wait before try n+1: retry_delay doubled n times, jittered by ±50%. */
static double
backoff(const struct renew_job *j, unsigned n)
{
	double d = j->retry_delay;
	unsigned r = 0;

	for (unsigned i = 0; i < n && d < BACKOFF_MAX; i++)
		d *= 2;
	if (d > BACKOFF_MAX)
		d = BACKOFF_MAX;
	(void)RAND_bytes((unsigned char *)&r, sizeof(r));
	return d * (0.5 + (double)r / 4294967296.0);
}

/* Each certificate once, transient failures retried; the first failure's status. */
static int
one_shot(struct renew_job *jobs, size_t n, bool force)
{
	int worst = CLI_OK, status;
	bool transient, renewed;

	for (size_t i = 0; i < n && !stop_asked; i++) {
		struct renew_job *j = &jobs[i];

		for (unsigned t = 0;; t++) {
			status = renew_once(j, force, &transient, &renewed);
			if (!transient || renewed || t >= j->retries)
				break;
			double d = backoff(j, t);

			log_info("%s: trying again in %.0f s (%u of %u)", j->name, d, t + 1,
			    j->retries);
			if (!sleep_for(d, NULL))
				break;
		}
		if (worst == CLI_OK)
			worst = status;
	}
	return worst;
}

/*
 * When the server refused a certificate that is still valid, the daemon
 * looks again at half the time left (between --retry-delay and
 * REFRESH_MAX): a renew-window that opens later, or a server set right,
 * renews it before it expires; otherwise a fleet whose server refused once
 * would let every certificate run out. false when it expires first.
 */
static bool
refused_again(struct renew_job *j, time_t now)
{
	double d;

	if (j->not_after == 0 || difftime(j->not_after, now) <= j->retry_delay)
		return false;
	d = difftime(j->not_after, now) / 2;
	if (d > REFRESH_MAX)
		d = REFRESH_MAX;
	if (d < j->retry_delay)
		d = j->retry_delay;
	j->next = now + (time_t)d;
	return true;
}

/* Stay: look at each certificate when it is due; the status when all stopped. */
static int
daemon_loop(struct renew_job *jobs, size_t n)
{
	int last = CLI_OK, status;
	bool transient, renewed, hup;

	log_info("renewing %zu certificate%s; SIGHUP looks at once, SIGTERM stops", n,
	    n == 1 ? "" : "s");
	for (;;) {
		time_t now = time(NULL), wake = now + REFRESH_MAX;
		size_t live = 0;

		for (size_t i = 0; i < n && !stop_asked; i++) {
			struct renew_job *j = &jobs[i];

			if (j->stopped)
				continue;
			if (j->next <= now) {
				status = renew_once(j, false, &transient, &renewed);
				if (status == CLI_OK || renewed) {
					j->failures = 0;
					if (j->next < now + (time_t)j->retry_delay)
						j->next = now + (time_t)j->retry_delay;
					/* Look again within REFRESH_MAX: the trust anchor. */
					if (j->next > now + REFRESH_MAX)
						j->next = now + REFRESH_MAX;
				} else if (transient || (status != CLI_AUTH && status != CLI_REFUSED &&
				    status != CLI_USAGE)) {
					/* A file or an answer may be fixed meanwhile. */
					j->next = now + (time_t)backoff(j, j->failures++) + 1;
				} else if (status != CLI_USAGE && refused_again(j, now)) {
					log_error("%s: refused; looking again in %lld s (it expires in "
					    "%lld s)", j->name, (long long)(j->next - now),
					    (long long)(j->not_after - now));
				} else {
					j->stopped = true;
					last = status;
					log_error("%s: stopped renewing it%s", j->name, status == CLI_USAGE ?
					    "" : ": refused, and it expires before it could be tried "
					    "again (enrol it anew)");
					continue;
				}
			}
			live++;
			if (j->next < wake)
				wake = j->next;
		}
		if (stop_asked)
			return CLI_OK;
		if (live == 0)
			return last;
		if (!sleep_for(difftime(wake, time(NULL)), &hup))
			return CLI_OK;
		for (size_t i = 0; hup && i < n; i++)
			jobs[i].next = 0;
	}
}

/* What every certificate needs; CLI_OK or a usage error printed. */
static int
check_job(struct renew_job *j)
{
	const char *ta = getenv("EST_OPENSSL_CACERT");

	if (j->ta_file == NULL && ta != NULL && ta[0] != '\0' && (j->ta_file = strdup(ta)) == NULL)
		return cli_fail(CLI_FAIL, "out of memory");
	if (j->name == NULL && j->cert_file != NULL && (j->name = strdup(j->cert_file)) == NULL)
		return cli_fail(CLI_FAIL, "out of memory");
	if (j->cert_file == NULL || j->key_file == NULL)
		return cli_fail(CLI_USAGE, "renew%s%s: give the certificate and its key (-c, -k; "
		    "cert, key)", j->name ? " " : "", j->name ? j->name : "");
	if (j->ta_file == NULL || strcmp(j->ta_file, "system") == 0 || strcmp(j->ta_file, "no") == 0)
		return cli_fail(CLI_USAGE, "renew %s: --trustanchor FILE (or EST_OPENSSL_CACERT): "
		    "the EST CA's root, in a file renew keeps current", j->name);
	if ((j->url == NULL) == (j->host == NULL) ||
	    (j->url != NULL && (j->port != 0 || j->label != NULL)))
		return cli_fail(CLI_USAGE, "renew %s: give the server once: -s HOST [-p PORT] "
		    "[--path-seg LABEL], or --server URL", j->name);
	return CLI_OK;
}

/* The option's setting name in renew_set's table. */
static const char *
setting_of(int c)
{
	for (const struct option *o = long_opts; o->name != NULL; o++)
		if (o->val == c)
			return o->name;
	return NULL;
}

/* Parse the command line into base; CLI_OK or a usage error printed. */
static int
parse(int argc, char **argv, struct renew_job *base, const char **config, bool *daemon,
    bool *force, bool *verbose)
{
	const char *why;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:k:s:p:w:v", long_opts, NULL)) != -1) {
		switch (c) {
		case R_HELP: usage(stdout); return -1;
		case R_CONFIG: *config = optarg; break;
		case R_DAEMON: *daemon = true; break;
		case R_FORCE: *force = true; break;
		case 'v': *verbose = true; break;
		case R_SAME_KEY: base->same_key = true; break;
		case '?': case ':':
			return cli_fail(CLI_USAGE, "renew: unknown option or missing value: \"%s\" "
			    "(estclient renew --help lists the options)", argv[optind - 1]);
		default:
			if ((why = renew_set(base, setting_of(c), optarg)) != NULL)
				return cli_fail(CLI_USAGE, "renew: --%s \"%s\": %s", setting_of(c),
				    optarg, why);
		}
	}
	if (optind < argc)
		return cli_fail(CLI_USAGE, "renew: unexpected argument \"%s\"", argv[optind]);
	return CLI_OK;
}

static void
log_sink(enum est_log_level level, const char *line, void *arg)
{
	(void)arg;
	fprintf(stderr, "estclient: %s%s\n", level == EST_LOG_WARN ? "warning: " :
	    level == EST_LOG_ERROR ? "error: " : "", line);
}

int
renew_main(int argc, char **argv)
{
	struct renew_job base = { .share = 2.0 / 3.0, .retry_max = 3, .retries = 5,
	    .retry_delay = 30 };
	struct renew_job *jobs = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	const char *config = NULL;
	bool daemon = false, force = false, verbose = false;
	size_t n = 0;
	int rc;

	if ((rc = parse(argc, argv, &base, &config, &daemon, &force, &verbose)) != CLI_OK) {
		renew_job_clear(&base);
		return rc < 0 ? CLI_OK : rc;
	}
	est_log_set_sink(log_sink, NULL);
	est_log_set_level(verbose ? EST_LOG_DEBUG : EST_LOG_INFO);
	if (config != NULL) {
		rc = renew_conf_read(config, &base, &jobs, &n);
	} else if ((jobs = calloc(1, sizeof(*jobs))) == NULL || !renew_job_copy(jobs, &base)) {
		rc = cli_fail(CLI_FAIL, "out of memory");
		n = jobs != NULL ? 1 : 0;
	} else {
		n = 1;
	}
	renew_job_clear(&base);
	for (size_t i = 0; rc == CLI_OK && i < n; i++)
		rc = check_job(&jobs[i]);
	if (rc == CLI_OK) {
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		rc = daemon ? daemon_loop(jobs, n) : one_shot(jobs, n, force);
	}
	renew_jobs_free(jobs, n);
	return rc;
}
