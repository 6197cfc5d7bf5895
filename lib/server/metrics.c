/*
 * The process's metrics (include/estkit/metrics.h): counters and
 * histograms fed by the access log (one call per answer) and the store
 * writer, rendered in the Prometheus text format.
 *
 * One mutex guards everything: a request takes it once, for well under a
 * microsecond, which is nothing next to the signatures an enrolment costs.
 * Label values come from the configuration (aliases), the route table
 * (operations), HTTP statuses and our method names, so the number of
 * series is bounded by the configuration; a full table drops new series and
 * counts them (estd_metrics_series_dropped_total) rather than grow.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "estkit/log.h"
#include "estkit/metrics.h"
#include "estkit/store.h"
#include "server/server_int.h"

#define MAX_REQ_SERIES 512
#define MAX_ALIASES 64
#define MAX_METHODS 16
#define MAX_OPS 16
#define MAX_SERVERS 8
#define LABEL_MAX 64
#define EXPIRY_CACHE_SECONDS 60

static const double latency_le[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1, 2.5, 5, 10 };
static const double commit_le[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1 };
static const double group_le[] = { 1, 2, 4, 8, 16, 32, 64 };

#define N_BUCKETS_MAX 16

struct hist {
	uint64_t bucket[N_BUCKETS_MAX];   /* per bucket, not cumulative */
	uint64_t count;
	double sum;
};

struct req_series {
	char alias[LABEL_MAX];
	char op[LABEL_MAX];
	int status;
	uint64_t n;
};

struct alias_counts {
	char alias[LABEL_MAX];
	uint64_t enrolments;
	uint64_t renewals;
};

struct named_count {
	char name[LABEL_MAX];
	uint64_t n;
};

struct op_hist {
	char op[LABEL_MAX];
	struct hist h;
};

static struct {
	pthread_mutex_t lock;
	struct req_series req[MAX_REQ_SERIES];
	size_t n_req;
	uint64_t dropped;
	struct alias_counts issued[MAX_ALIASES];
	size_t n_issued;
	struct named_count authfail[MAX_METHODS];
	size_t n_authfail;
	struct op_hist latency[MAX_OPS];
	size_t n_latency;
	struct hist commit;
	struct hist group;
	uint64_t reloads_ok, reloads_failed;
	struct est_server *servers[MAX_SERVERS];
	size_t n_servers;
	uint64_t n_certs;                 /* certificates issued, all aliases */
	time_t expiry_at;                 /* when the expiry counts were read, 0: never */
	uint64_t expiry_issued;           /* issued then */
	uint64_t expiring7, expiring30;
	bool expiry_ok;
} M = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
observe(struct hist *h, const double *le, size_t n, double v)
{
	size_t i = 0;

	while (i < n && v > le[i])
		i++;
	if (i < n)
		h->bucket[i]++;
	h->count++;
	h->sum += v;
}

static struct req_series *
req_slot(const char *alias, const char *op, int status)
{
	for (size_t i = 0; i < M.n_req; i++)
		if (M.req[i].status == status && strcmp(M.req[i].alias, alias) == 0 &&
		    strcmp(M.req[i].op, op) == 0)
			return &M.req[i];
	if (M.n_req == MAX_REQ_SERIES)
		return NULL;
	snprintf(M.req[M.n_req].alias, LABEL_MAX, "%s", alias);
	snprintf(M.req[M.n_req].op, LABEL_MAX, "%s", op);
	M.req[M.n_req].status = status;
	return &M.req[M.n_req++];
}

static struct alias_counts *
alias_slot(const char *alias)
{
	for (size_t i = 0; i < M.n_issued; i++)
		if (strcmp(M.issued[i].alias, alias) == 0)
			return &M.issued[i];
	if (M.n_issued == MAX_ALIASES)
		return NULL;
	snprintf(M.issued[M.n_issued].alias, LABEL_MAX, "%s", alias);
	return &M.issued[M.n_issued++];
}

static struct named_count *
method_slot(const char *method)
{
	for (size_t i = 0; i < M.n_authfail; i++)
		if (strcmp(M.authfail[i].name, method) == 0)
			return &M.authfail[i];
	if (M.n_authfail == MAX_METHODS)
		return NULL;
	snprintf(M.authfail[M.n_authfail].name, LABEL_MAX, "%s", method);
	return &M.authfail[M.n_authfail++];
}

static struct hist *
latency_slot(const char *op)
{
	for (size_t i = 0; i < M.n_latency; i++)
		if (strcmp(M.latency[i].op, op) == 0)
			return &M.latency[i].h;
	if (M.n_latency == MAX_OPS)
		return NULL;
	snprintf(M.latency[M.n_latency].op, LABEL_MAX, "%s", op);
	return &M.latency[M.n_latency++].h;
}

/* Whether an answer is a failed authentication: credentials were presented and refused. */
static bool
is_auth_failure(int status, const char *auth)
{
	if (status == 401)
		return strcmp(auth, "none") != 0;
	return status == 403 && (strcmp(auth, "certificate") == 0 ||
	    strcmp(auth, "vendor-certificate") == 0);
}

void
metrics_request(const struct est_req *r, int status, const char *auth, double ms)
{
	const char *alias = r != NULL && r->alias != NULL ? r->alias->conf->name : "-";
	const char *op = r != NULL && r->op != NULL ? r->op : "-";
	struct req_series *rs;
	struct alias_counts *ac;
	struct named_count *mc;
	struct hist *h;

	pthread_mutex_lock(&M.lock);
	if ((rs = req_slot(alias, op, status)) != NULL)
		rs->n++;
	else
		M.dropped++;
	if ((h = latency_slot(op)) != NULL)
		observe(h, latency_le, sizeof(latency_le) / sizeof(latency_le[0]), ms / 1000.0);
	if (r != NULL && r->serial[0] != '\0' && status == 200 && (ac = alias_slot(alias)) != NULL) {
		if (strcmp(op, "simplereenroll") == 0)
			ac->renewals++;
		else
			ac->enrolments++;
		M.n_certs++;
	}
	if (is_auth_failure(status, auth) && (mc = method_slot(auth)) != NULL)
		mc->n++;
	pthread_mutex_unlock(&M.lock);
}

void
metrics_store_commit(double seconds, unsigned group)
{
	pthread_mutex_lock(&M.lock);
	observe(&M.commit, commit_le, sizeof(commit_le) / sizeof(commit_le[0]), seconds);
	observe(&M.group, group_le, sizeof(group_le) / sizeof(group_le[0]), (double)group);
	pthread_mutex_unlock(&M.lock);
}

void
metrics_attach(struct est_server *srv)
{
	pthread_mutex_lock(&M.lock);
	if (M.n_servers < MAX_SERVERS)
		M.servers[M.n_servers++] = srv;
	pthread_mutex_unlock(&M.lock);
}

void
metrics_detach(struct est_server *srv)
{
	pthread_mutex_lock(&M.lock);
	for (size_t i = 0; i < M.n_servers; i++) {
		if (M.servers[i] == srv) {
			M.servers[i] = M.servers[--M.n_servers];
			break;
		}
	}
	pthread_mutex_unlock(&M.lock);
}

void
est_metrics_reload(int ok)
{
	pthread_mutex_lock(&M.lock);
	if (ok)
		M.reloads_ok++;
	else
		M.reloads_failed++;
	pthread_mutex_unlock(&M.lock);
}

/* ---- expiring certificates, read from the store ---- */

/*
 * Refresh the expiry gauges (two counts in the store) when this process
 * issued a certificate since, else at most once a minute (estadm's
 * revocations are seen within that minute). Counted by the database: a
 * scan that read every valid certificate out, DER and all, cost a scrape
 * gigabytes on a store of millions (found in review).
 */
static void
refresh_expiry(const char *store_uri)
{
	int64_t now = (int64_t)time(NULL), in7 = 0, in30 = 0;
	struct est_store *st = NULL;
	struct est_error e = { 0 };
	uint64_t issued;
	bool ok;

	pthread_mutex_lock(&M.lock);
	ok = M.expiry_at != 0 && time(NULL) - M.expiry_at < EXPIRY_CACHE_SECONDS &&
	    M.expiry_issued == M.n_certs;
	issued = M.n_certs;
	pthread_mutex_unlock(&M.lock);
	if (ok)
		return;
	ok = est_store_open(store_uri, &st, &e) == EST_OK &&
	    est_store_count_expiring(st, now, now + 7 * 86400, &in7, &e) == EST_OK &&
	    est_store_count_expiring(st, now, now + 30 * 86400, &in30, &e) == EST_OK;
	est_store_close(st);
	if (!ok)
		log_warn("metrics: cannot count expiring certificates: %s", e.msg);
	pthread_mutex_lock(&M.lock);
	M.expiry_at = time(NULL);
	M.expiry_issued = issued;
	M.expiry_ok = ok;
	M.expiring7 = (uint64_t)in7;
	M.expiring30 = (uint64_t)in30;
	pthread_mutex_unlock(&M.lock);
}

/* ---- rendering ---- */

/* A label value with \\, \" and \n escaped (the text format's rule). */
static void
label(FILE *f, const char *v)
{
	fputc('"', f);
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram's samples; lname/lvalue: an extra label, or NULL. */
static void
histogram(FILE *f, const char *name, const struct hist *h, const double *le, size_t n,
    const char *lname, const char *lvalue)
{
	uint64_t cum = 0;

	for (size_t i = 0; i < n; i++) {
		cum += h->bucket[i];
		fprintf(f, "%s_bucket{", name);
		if (lname != NULL) {
			fprintf(f, "%s=", lname);
			label(f, lvalue);
			fputc(',', f);
		}
		fprintf(f, "le=\"%g\"} %llu\n", le[i], (unsigned long long)cum);
	}
	fprintf(f, "%s_bucket{", name);
	if (lname != NULL) {
		fprintf(f, "%s=", lname);
		label(f, lvalue);
		fputc(',', f);
	}
	fprintf(f, "le=\"+Inf\"} %llu\n", (unsigned long long)h->count);
	if (lname != NULL) {
		fprintf(f, "%s_sum{%s=", name, lname);
		label(f, lvalue);
		fprintf(f, "} %.9g\n%s_count{%s=", h->sum, name, lname);
		label(f, lvalue);
		fprintf(f, "} %llu\n", (unsigned long long)h->count);
	} else {
		fprintf(f, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name,
		    (unsigned long long)h->count);
	}
}

static void
render_requests(FILE *f)
{
	family(f, "estd_requests_total", "counter", "EST requests answered, by alias, operation and HTTP status.");
	for (size_t i = 0; i < M.n_req; i++) {
		fputs("estd_requests_total{alias=", f);
		label(f, M.req[i].alias);
		fputs(",op=", f);
		label(f, M.req[i].op);
		fprintf(f, ",status=\"%d\"} %llu\n", M.req[i].status, (unsigned long long)M.req[i].n);
	}
	family(f, "estd_enrolments_total", "counter", "Certificates issued by /simpleenroll and /serverkeygen, by alias.");
	for (size_t i = 0; i < M.n_issued; i++) {
		fputs("estd_enrolments_total{alias=", f);
		label(f, M.issued[i].alias);
		fprintf(f, "} %llu\n", (unsigned long long)M.issued[i].enrolments);
	}
	family(f, "estd_renewals_total", "counter", "Certificates issued by /simplereenroll, by alias.");
	for (size_t i = 0; i < M.n_issued; i++) {
		fputs("estd_renewals_total{alias=", f);
		label(f, M.issued[i].alias);
		fprintf(f, "} %llu\n", (unsigned long long)M.issued[i].renewals);
	}
	family(f, "estd_auth_failures_total", "counter", "Requests whose credentials were refused, by the method tried.");
	for (size_t i = 0; i < M.n_authfail; i++) {
		fputs("estd_auth_failures_total{method=", f);
		label(f, M.authfail[i].name);
		fprintf(f, "} %llu\n", (unsigned long long)M.authfail[i].n);
	}
	family(f, "estd_request_duration_seconds", "histogram", "Time from a complete request to its answer, by operation.");
	for (size_t i = 0; i < M.n_latency; i++)
		histogram(f, "estd_request_duration_seconds", &M.latency[i].h, latency_le,
		    sizeof(latency_le) / sizeof(latency_le[0]), "op", M.latency[i].op);
}

static void
render_store_and_state(FILE *f, bool with_expiry)
{
	unsigned long long open = 0;

	family(f, "estd_store_commit_duration_seconds", "histogram", "Time to commit an issued certificate to the store.");
	histogram(f, "estd_store_commit_duration_seconds", &M.commit, commit_le,
	    sizeof(commit_le) / sizeof(commit_le[0]), NULL, NULL);
	family(f, "estd_store_commit_group_size", "histogram", "Certificates committed together in one store transaction.");
	histogram(f, "estd_store_commit_group_size", &M.group, group_le,
	    sizeof(group_le) / sizeof(group_le[0]), NULL, NULL);
	if (with_expiry && M.expiry_ok) {
		family(f, "estd_certificates_expiring", "gauge", "Valid certificates on record that expire within the given time.");
		fprintf(f, "estd_certificates_expiring{within=\"7d\"} %llu\n", (unsigned long long)M.expiring7);
		fprintf(f, "estd_certificates_expiring{within=\"30d\"} %llu\n", (unsigned long long)M.expiring30);
	}
	for (size_t i = 0; i < M.n_servers; i++)
		open += atomic_load(&M.servers[i]->connections);
	family(f, "estd_open_connections", "gauge", "Client connections open on the EST listeners.");
	fprintf(f, "estd_open_connections %llu\n", open);
	/* During a reload the draining server's worker j counts with the new one's. */
	family(f, "estd_worker_connections", "gauge", "Client connections each worker serves or has been handed.");
	for (size_t j = 0, more = 1; more; j++) {
		unsigned long long held = 0;

		more = 0;
		for (size_t i = 0; i < M.n_servers; i++) {
			if (j < M.servers[i]->n_workers) {
				held += atomic_load(&M.servers[i]->workers[j].held);
				more = 1;
			}
		}
		if (more)
			fprintf(f, "estd_worker_connections{worker=\"%zu\"} %llu\n", j, held);
	}
	family(f, "estd_reloads_total", "counter", "Configuration reloads, by result.");
	fprintf(f, "estd_reloads_total{result=\"ok\"} %llu\n", (unsigned long long)M.reloads_ok);
	fprintf(f, "estd_reloads_total{result=\"refused\"} %llu\n", (unsigned long long)M.reloads_failed);
	family(f, "estd_metrics_series_dropped_total", "counter", "Request counts not kept because the series table was full.");
	fprintf(f, "estd_metrics_series_dropped_total %llu\n", (unsigned long long)M.dropped);
	family(f, "estd_build_info", "gauge", "The estkit version, as a label.");
	fprintf(f, "estd_build_info{version=\"%s\"} 1\n", ESTKIT_VERSION);
}

enum est_err
est_metrics_render(const char *store_uri, char **text, size_t *len, struct est_error *e)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	if (store_uri != NULL)
		refresh_expiry(store_uri);
	f = open_memstream(&buf, &size);
	if (f == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	pthread_mutex_lock(&M.lock);
	render_requests(f);
	render_store_and_state(f, store_uri != NULL);
	pthread_mutex_unlock(&M.lock);
	if (fclose(f) != 0 || buf == NULL) {
		free(buf);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	*text = buf;
	*len = size;
	return EST_OK;
}
