/*
 * estbench's report: a table for people, then one JSON line (the last line
 * of stdout) that bench/bench.sh collects. Latencies are of successful
 * enrolments only; every other outcome is counted by HTTP status, or as a
 * transport error when no response came.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estbench.h"

const char *
conn_mode_name(enum conn_mode m)
{
	switch (m) {
	case CONN_KEEPALIVE:
		return "keep-alive";
	case CONN_NEW:
		return "new";
	case CONN_RESUME:
		return "resume";
	case CONN__MAX:
		break;
	}
	return "?";
}

bool
results_add_latency(struct results *r, double ms)
{
	double *v;
	size_t cap;

	if (r->n_lat == r->cap_lat) {
		cap = r->cap_lat ? r->cap_lat * 2 : 4096;
		if ((v = realloc(r->lat_ms, cap * sizeof(*v))) == NULL)
			return false;
		r->lat_ms = v;
		r->cap_lat = cap;
	}
	r->lat_ms[r->n_lat++] = ms;
	return true;
}

void
results_free(struct results *r)
{
	free(r->lat_ms);
	memset(r, 0, sizeof(*r));
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of sorted v; 0 when empty. */
static double
quantile(const double *v, size_t n, double q)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (size_t)ceil(q * (double)n);
	return v[rank == 0 ? 0 : rank - 1];
}

struct summary {
	uint64_t ok;
	double rate, p50, p90, p99, max;
	double client_ms, server_ms;    /* CPU per enrolment, 0 when unknown */
};

static struct summary
summarise(struct results *r)
{
	struct summary s = { 0 };

	if (r->n_lat > 0)
		qsort(r->lat_ms, r->n_lat, sizeof(*r->lat_ms), cmp_double);
	s.ok = r->by_status[200];
	s.rate = r->seconds > 0 ? (double)s.ok / r->seconds : 0;
	s.p50 = quantile(r->lat_ms, r->n_lat, 0.50);
	s.p90 = quantile(r->lat_ms, r->n_lat, 0.90);
	s.p99 = quantile(r->lat_ms, r->n_lat, 0.99);
	s.max = r->n_lat ? r->lat_ms[r->n_lat - 1] : 0;
	if (s.ok > 0) {
		s.client_ms = r->client_cpu_s * 1e3 / (double)s.ok;
		s.server_ms = r->have_server ? r->server_cpu_s * 1e3 / (double)s.ok : 0;
	}
	return s;
}

static void
print_table(const struct run_desc *d, const struct results *r, const struct summary *s)
{
	printf("estbench %s: %s, auth %s, connection %s, %s CSRs, concurrency %u",
	    d->label, d->url, d->auth, conn_mode_name(d->conn), key_type_name(d->key), d->concurrency);
	if (d->rate > 0)
		printf(", paced at %.0f/s", d->rate);
	printf("\n  enrolments     %llu in %.2f s = %.1f/s (%llu requests)\n",
	    (unsigned long long)s->ok, r->seconds, s->rate, (unsigned long long)r->requests);
	printf("  latency ms     p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n", s->p50, s->p90, s->p99, s->max);
	for (int st = 0; st < STATUS_SLOTS; st++)
		if (st != 200 && r->by_status[st] > 0)
			printf("  errors         HTTP %d: %llu\n", st, (unsigned long long)r->by_status[st]);
	if (r->transport_errors > 0)
		printf("  errors         transport: %llu (first: %s)\n",
		    (unsigned long long)r->transport_errors, r->first_error);
	if (r->warmup > 0)
		printf("  warm-up        %u connections made, one enrolment each, before the clock\n",
		    r->warmup);
	printf("  TLS            %llu handshakes, %llu of them resumed\n",
	    (unsigned long long)r->handshakes, (unsigned long long)r->resumed);
	printf("  estbench CPU   %.3f ms per enrolment\n", s->client_ms);
	if (r->have_server)
		printf("  server         %.3f ms CPU per enrolment, RSS %ld KiB (peak %ld KiB)\n",
		    s->server_ms, r->server_rss_kib, r->server_hwm_kib);
	if (r->have_steal)
		printf("  host steal     %.1f%% of the CPUs' time (worst 100 ms: %.0f%%)\n", r->steal_pct,
		    r->steal_worst_pct);
	if (r->have_floor) {
		printf("  crypto floor   %.3f ms per enrolment", r->floor_ms);
		if (r->have_server && r->floor_ms > 0)
			printf(" (server at %.2fx)", s->server_ms / r->floor_ms);
		printf("\n");
	}
}

/* Only labels and URLs the user typed go into JSON strings; keep them printable. */
static void
json_string(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
print_json(const struct run_desc *d, const struct results *r, const struct summary *s)
{
	const char *sep = "";

	printf("{\"label\":");
	json_string(d->label);
	printf(",\"url\":");
	json_string(d->url);
	printf(",\"auth\":\"%s\",\"connection\":\"%s\",\"key\":\"%s\",\"concurrency\":%u,"
	    "\"paced_rate\":%.1f,\"seconds\":%.3f,\"requests\":%llu,\"enrolments\":%llu,"
	    "\"enrolments_per_s\":%.2f,\"errors\":{", d->auth, conn_mode_name(d->conn),
	    key_type_name(d->key), d->concurrency, d->rate, r->seconds,
	    (unsigned long long)r->requests, (unsigned long long)s->ok, s->rate);
	for (int st = 0; st < STATUS_SLOTS; st++)
		if (st != 200 && r->by_status[st] > 0) {
			printf("%s\"%d\":%llu", sep, st, (unsigned long long)r->by_status[st]);
			sep = ",";
		}
	if (r->transport_errors > 0)
		printf("%s\"transport\":%llu", sep, (unsigned long long)r->transport_errors);
	printf("},\"warmup\":%u,\"handshakes\":%llu,\"resumed\":%llu", r->warmup,
	    (unsigned long long)r->handshakes, (unsigned long long)r->resumed);
	printf(",\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
	    "\"client_cpu_ms_per_enrolment\":%.4f", s->p50, s->p90, s->p99, s->max, s->client_ms);
	if (r->have_server)
		printf(",\"server_cpu_ms_per_enrolment\":%.4f,\"server_rss_kib\":%ld,"
		    "\"server_hwm_kib\":%ld", s->server_ms, r->server_rss_kib, r->server_hwm_kib);
	if (r->have_steal)
		printf(",\"host_steal_pct\":%.2f,\"host_steal_worst_100ms_pct\":%.1f", r->steal_pct,
		    r->steal_worst_pct);
	if (r->have_floor) {
		printf(",\"floor_ms\":%.4f,\"ops_ms\":{", r->floor_ms);
		for (int t = 0; t < KEY__MAX; t++)
			printf("\"%s_sign\":%.4f,\"%s_verify\":%.4f,", key_type_name((enum key_type)t),
			    r->ops.sign[t], key_type_name((enum key_type)t), r->ops.verify[t]);
		printf("\"x25519_kex\":%.4f}", r->ops.kex);
	}
	printf("}\n");
}

void
report_print(const struct run_desc *d, struct results *r)
{
	struct summary s = summarise(r);

	print_table(d, r, &s);
	print_json(d, r, &s);
	fflush(stdout);
}
