/*
 * The access log: one line per answer, in the stable field list of
 * docs/logs.md, as key=value pairs (default) or JSON (access-log-json).
 * Lines go to the log (est_log, which adds time and level) or, with
 * access-log = FILE, to that file, one write(2) per line on an O_APPEND
 * descriptor so lines of several workers never mix. Each answer is
 * counted for /metrics here too, so the log and the counters agree.
 *
 * A connection writes its first ACCESS_LOG_LINES lines one by one and then
 * a summary by status class at most every ACCESS_SUMMARY_SECONDS (and when
 * it closes), so a client pipelining thousands of requests cannot fill the
 * disk; and refusals (4xx, 5xx) from all connections together are written
 * one by one up to REFUSAL_LINES_PER_SECOND, the rest counted into one
 * summary line, so a flood of new connections with one bad request each
 * cannot either. Answers that issue something are always written, and the
 * counters count every answer.
 */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "estkit/log.h"
#include "server/server_int.h"
#include "util/kvline.h"

#define ACCESS_LOG_LINES 100              /* per connection, then summaries */
#define ACCESS_SUMMARY_SECONDS 10         /* how often a summary is written */
#define REFUSAL_LINES_PER_SECOND 50       /* all workers together */

enum est_err
access_log_open(struct est_server *srv, struct est_error *e)
{
	const char *path = srv->cfg->access_log_path;

	srv->access_fd = -1;
	if (path == NULL)
		return EST_OK;
	srv->access_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (srv->access_fd < 0)
		return est_fail(e, EST_ERR_IO, "access-log %s: %s", path, strerror(errno));
	return EST_OK;
}

void
access_log_close(struct est_server *srv)
{
	if (srv->access_fd >= 0)
		close(srv->access_fd);
	srv->access_fd = -1;
}

static double
elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	if (start->tv_sec == 0 && start->tv_nsec == 0)
		return 0.0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 +
	    (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

/*
 * The HTTP authentication scheme of the request by its name, "http" for any
 * other. Never a copy of the header: a client that leaves out the scheme, or
 * ends it with a tab, sends its token or password where the scheme belongs,
 * and a copy put it in the log and in a metrics label.
 */
static const char *
http_scheme(const char *authz)
{
	static const char *const known[] = { "basic", "digest", "bearer" };
	size_t n = strcspn(authz, " \t");

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (n == strlen(known[i]) && strncasecmp(authz, known[i], n) == 0)
			return known[i];
	return "http";
}

/*
 * The authentication method a request used (it authenticated) or tried
 * (it did not): see docs/logs.md for the names.
 */
const char *
access_auth_method(struct est_req *r)
{
	if (r->secret_checked && r->secret_method != EST_AUTH_HTTP)
		return est_auth_method_name(r->secret_method);
	if (strncmp(r->principal, "cert:", 5) == 0)
		return "certificate";
	if (strncmp(r->principal, "vendor:", 7) == 0)
		return "vendor-certificate";
	if (strncmp(r->principal, "srp:", 4) == 0)
		return "srp";
	if (http_header(r, "Authorization") != NULL)
		return http_scheme(http_header(r, "Authorization"));
	if (r->tls != NULL && r->tls->peer != NULL)
		return "certificate";
	return "none";
}

static enum est_log_level
level_of(int status)
{
	return status == 500 ? EST_LOG_ERROR : status >= 500 ? EST_LOG_WARN : EST_LOG_INFO;
}

static void
add_time(struct kvline *l)
{
	struct timespec now;
	struct tm tm;
	char ts[40];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	kvline_addf(l, "time", "%s.%03ldZ", ts, now.tv_nsec / 1000000);
}

/* Whether to write to a file (else to est_log, which adds the time itself). */
static bool
to_file(const struct est_server *srv)
{
	return srv->cfg->access_log_path != NULL && srv->access_fd >= 0;
}

static void
emit(struct est_server *srv, struct kvline *l, int status)
{
	const char *line = kvline_str(l);
	char out[KVLINE_MAX + 2];
	int n;

	if (!to_file(srv)) {
		est_log(level_of(status), "%s", line);
		return;
	}
	n = snprintf(out, sizeof(out), "%s\n", line);
	if (write(srv->access_fd, out, (size_t)n) != n)
		log_warn("access-log %s: cannot write: %s", srv->cfg->access_log_path, strerror(errno));
}

void
access_log_summary(struct conn *c)
{
	struct est_server *srv = c->worker->srv;
	unsigned *n = c->http.summed, all = n[1] + n[2] + n[3] + n[4] + n[5];
	struct kvline l;

	if (all == 0)
		return;
	kvline_init(&l, srv->cfg->access_log_json);
	if (to_file(srv) || srv->cfg->access_log_json)
		add_time(&l);
	kvline_add(&l, "peer", c->peer);
	kvline_add(&l, "listener", c->listener->conf->name);
	kvline_addf(&l, "unlogged", "%u", all);
	kvline_addf(&l, "status_2xx", "%u", n[1] + n[2]);
	kvline_addf(&l, "status_3xx", "%u", n[3]);
	kvline_addf(&l, "status_4xx", "%u", n[4]);
	kvline_addf(&l, "status_5xx", "%u", n[5]);
	kvline_add(&l, "note", "more requests not logged one by one");
	emit(srv, &l, 200);
	memset(c->http.summed, 0, sizeof(c->http.summed));
}

/* Whether this answer's line is summarised rather than written (c NULL: a request made alone). */
static bool
summarised(struct conn *c, int status)
{
	struct http_session *h;
	time_t now = time(NULL);

	if (c == NULL)
		return false;
	h = &c->http;
	if (h->logged < ACCESS_LOG_LINES) {
		h->logged++;
		return false;
	}
	if (h->summed_since == 0)
		h->summed_since = now;
	h->summed[status / 100 <= 5 && status >= 100 ? status / 100 : 5]++;
	if (now - h->summed_since >= ACCESS_SUMMARY_SECONDS) {
		access_log_summary(c);
		h->summed_since = now;
	}
	return true;
}

/* Refusal lines of the current second, shared by the workers' threads. */
static struct {
	atomic_llong second;
	atomic_uint lines;
	atomic_uint dropped[2];           /* 4xx, 5xx not written since the last summary */
} refusals;

/*
 * Whether a refusal's line fits this second's budget. The first refusal of
 * a new second first writes the summary of those that did not fit before.
 */
static bool
refusal_fits(struct est_server *srv, int status)
{
	long long now = (long long)time(NULL), last = atomic_load(&refusals.second);
	unsigned d4, d5;
	struct kvline l;

	if (now != last && atomic_compare_exchange_strong(&refusals.second, &last, now)) {
		d4 = atomic_exchange(&refusals.dropped[0], 0);
		d5 = atomic_exchange(&refusals.dropped[1], 0);
		atomic_store(&refusals.lines, 0);
		if (d4 + d5 > 0) {
			kvline_init(&l, srv->cfg->access_log_json);
			if (to_file(srv) || srv->cfg->access_log_json)
				add_time(&l);
			kvline_addf(&l, "unlogged", "%u", d4 + d5);
			kvline_addf(&l, "status_4xx", "%u", d4);
			kvline_addf(&l, "status_5xx", "%u", d5);
			kvline_addf(&l, "note", "refusals not logged one by one (more than %d a "
			    "second from all clients)", REFUSAL_LINES_PER_SECOND);
			emit(srv, &l, 503);
		}
	}
	if (atomic_fetch_add(&refusals.lines, 1) < REFUSAL_LINES_PER_SECOND)
		return true;
	atomic_fetch_add(&refusals.dropped[status >= 500], 1);
	return false;
}

void
access_log(struct conn *c, struct est_req *r, int status, const char *reason)
{
	struct est_server *srv = r != NULL ? r->worker->srv : c->worker->srv;
	const struct est_listener *lst = r != NULL ? r->listener : c->listener;
	double ms = r != NULL ? elapsed_ms(&r->start) : 0.0;
	const char *auth = r != NULL ? access_auth_method(r) : "none";
	struct kvline l;

	metrics_request(r, status, auth, ms);
	if (summarised(c, status) || (status >= 400 && !refusal_fits(srv, status)))
		return;
	kvline_init(&l, srv->cfg->access_log_json);
	if (to_file(srv) || srv->cfg->access_log_json)
		add_time(&l);
	kvline_add(&l, "peer", r != NULL ? r->peer : c->peer);
	kvline_add(&l, "listener", lst != NULL ? lst->conf->name : "-");
	kvline_add(&l, "alias", r != NULL && r->alias != NULL ? r->alias->conf->name : "-");
	kvline_add(&l, "op", r != NULL && r->op != NULL ? r->op : "-");
	kvline_add(&l, "principal", r != NULL ? r->principal : "-");
	kvline_addf(&l, "status", "%d", status);
	kvline_addf(&l, "ms", "%.1f", ms);
	kvline_add(&l, "auth", auth);
	kvline_add(&l, "serial", r != NULL && r->serial[0] != '\0' ? r->serial : "-");
	if (reason != NULL)
		kvline_add(&l, "reason", reason);
	emit(srv, &l, status);
}
