/*
 * What a store sustains alone, without TLS or signing: THREADS threads, each
 * with its own handle (as each estd worker has), record issued certificates
 * through est_store_put_issued -- one transaction each, with a use of the
 * thread's own end entity's code spent, as an enrolment of an end entity
 * records -- for SECONDS seconds.
 *
 *   store_bench URI THREADS SECONDS [writer]
 *
 * With "writer", the threads submit to one grouped writer instead (as estd's
 * workers do): one transaction per group of what queued up meanwhile.
 * The store must exist (estadm db create). Prints one line:
 * "store=NAME mode=M threads=N records=N seconds=S rate=R/s p50_ms=.. p99_ms=..".
 * Used by bench/postgresql.sh for the sizing note in docs/deployment.md.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "estkit/store.h"

struct run {
	const char *uri;
	struct est_store_writer *writer; /* NULL: put_issued on the thread's own handle */
	struct est_cert_rec *proto;     /* every record is this one with its own serial */
	int64_t ee_id;                  /* this thread's end entity */
	double deadline;
	unsigned id;
	unsigned long done, failed;
	double *lat;
	size_t nlat, cap;
	char err[256];
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An end entity of this thread's, with unlimited uses of the code "bench". */
static int64_t
bench_ee(struct est_store *st, unsigned id, struct est_error *e)
{
	static unsigned char dn[] = { 0x30, 0x00 };
	struct est_ee ee = { .subject = "CN=store-bench", .subject_der = dn,
	    .subject_der_len = sizeof(dn), .san = "", .alias = "est", .profile = "",
	    .code_hash = "bench", .uses_left = -1 };
	char name[64];

	snprintf(name, sizeof(name), "store-bench-%ld-%u", (long)time(NULL), id);
	ee.username = name;
	return est_store_put_ee(st, &ee, e) == EST_OK ? ee.id : -1;
}

/* A write handed to the writer, and the wait for its report. */
struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void
reported(struct est_write *w)
{
	struct waiter *wt = w->arg;

	pthread_mutex_lock(&wt->lock);
	wt->done = true;
	pthread_cond_signal(&wt->cond);
	pthread_mutex_unlock(&wt->lock);
}

/* rec through the writer: the result of its write once its group committed. */
static enum est_err
through_writer(struct est_store_writer *writer, struct est_cert_rec *rec,
    const struct est_issue_record *how, struct est_error *e)
{
	struct waiter wt = { .done = false };
	struct est_write w = { .rec = rec, .how = how, .done = reported, .arg = &wt };

	pthread_mutex_init(&wt.lock, NULL);
	pthread_cond_init(&wt.cond, NULL);
	est_store_writer_submit(writer, &w);
	pthread_mutex_lock(&wt.lock);
	while (!wt.done)
		pthread_cond_wait(&wt.cond, &wt.lock);
	pthread_mutex_unlock(&wt.lock);
	pthread_cond_destroy(&wt.cond);
	pthread_mutex_destroy(&wt.lock);
	*e = w.err;
	return w.rc;
}

static void *
worker(void *arg)
{
	struct run *r = arg;
	struct est_error e = { 0 };
	struct est_store *st = NULL;
	struct est_cert_rec rec;
	struct est_issue_record how = { .code_hash = "bench", .now = 1 };
	char serial[48];
	double t0;

	/* With the writer, its one connection records; main made the end entities. */
	if (r->writer == NULL && (est_store_open(r->uri, &st, &e) != EST_OK ||
	    (r->ee_id = bench_ee(st, r->id, &e)) < 0)) {
		snprintf(r->err, sizeof(r->err), "%s", e.msg);
		est_store_close(st);
		return NULL;
	}
	while ((t0 = now()) < r->deadline) {
		rec = *r->proto;
		/* Unique across threads and runs on the same store. */
		snprintf(serial, sizeof(serial), "BE%08lX%04X%010lX", (unsigned long)getpid(), r->id,
		    r->done + r->failed);
		rec.serial = serial;
		rec.ee_id = r->ee_id;
		if ((r->writer != NULL ? through_writer(r->writer, &rec, &how, &e) :
		    est_store_put_issued(st, &rec, &how, &e)) != EST_OK) {
			r->failed++;
			snprintf(r->err, sizeof(r->err), "%s", e.msg);
			continue;
		}
		r->done++;
		if (r->nlat == r->cap) {
			size_t cap = r->cap ? 2 * r->cap : 1024;
			double *n = realloc(r->lat, cap * sizeof(*n));

			if (n == NULL)
				break;
			r->lat = n;
			r->cap = cap;
		}
		r->lat[r->nlat++] = (now() - t0) * 1000;
	}
	est_store_close(st);
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A self-signed certificate to record again and again. */
static struct est_cert_rec *
proto_rec(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	struct est_cert_rec *rec = NULL;
	struct est_error e = { 0 };

	if (key == NULL || x == NULL)
		return NULL;
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"store-bench", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	if (X509_sign(x, key, EVP_sha256()) <= 0 ||
	    est_cert_rec_from_x509(x, "bench", "", &rec, &e) != EST_OK)
		rec = NULL;
	X509_free(x);
	EVP_PKEY_free(key);
	return rec;
}

int
main(int argc, char **argv)
{
	struct run *runs;
	pthread_t *tids;
	struct est_cert_rec *proto;
	unsigned long done = 0, failed = 0;
	double *all, start, secs;
	size_t nall = 0;
	int threads, seconds;

	struct est_store_writer *writer = NULL;
	struct est_store *st = NULL;
	struct est_error e = { 0 };

	if (argc < 4 || argc > 5 || (threads = atoi(argv[2])) < 1 || (seconds = atoi(argv[3])) < 1 ||
	    (argc == 5 && strcmp(argv[4], "writer") != 0)) {
		fprintf(stderr, "usage: store_bench URI THREADS SECONDS [writer]\n");
		return 2;
	}
	if (argc == 5 && est_store_writer_start(argv[1], 256, &writer, &e) != EST_OK) {
		fprintf(stderr, "store_bench: %s\n", e.msg);
		return 1;
	}
	if ((proto = proto_rec()) == NULL)
		return 1;
	runs = calloc((size_t)threads, sizeof(*runs));
	tids = calloc((size_t)threads, sizeof(*tids));
	if (runs == NULL || tids == NULL)
		return 1;
	if (writer != NULL && est_store_open(argv[1], &st, &e) != EST_OK) {
		fprintf(stderr, "store_bench: %s\n", e.msg);
		return 1;
	}
	for (int i = 0; i < threads; i++) {
		runs[i] = (struct run){ .uri = argv[1], .writer = writer, .proto = proto,
		    .id = (unsigned)i };
		if (writer != NULL && (runs[i].ee_id = bench_ee(st, (unsigned)i, &e)) < 0) {
			fprintf(stderr, "store_bench: %s\n", e.msg);
			return 1;
		}
	}
	est_store_close(st);
	start = now();
	for (int i = 0; i < threads; i++) {
		runs[i].deadline = start + seconds;
		pthread_create(&tids[i], NULL, worker, &runs[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(tids[i], NULL);
		done += runs[i].done;
		failed += runs[i].failed;
		nall += runs[i].nlat;
		if (runs[i].err[0] != '\0')
			fprintf(stderr, "store_bench: thread %d: %s\n", i, runs[i].err);
	}
	secs = now() - start;
	est_store_writer_stop(writer);
	all = malloc((nall ? nall : 1) * sizeof(*all));
	if (all == NULL)
		return 1;
	nall = 0;
	for (int i = 0; i < threads; i++) {
		memcpy(all + nall, runs[i].lat, runs[i].nlat * sizeof(*all));
		nall += runs[i].nlat;
		free(runs[i].lat);
	}
	if (nall > 0)
		qsort(all, nall, sizeof(*all), cmp);
	printf("store=%s mode=%s threads=%d records=%lu failed=%lu seconds=%.1f rate=%.0f/s p50_ms=%.2f "
	    "p99_ms=%.2f\n", strncmp(argv[1], "postgres", 8) == 0 ? "postgresql" : "sqlite",
	    writer != NULL ? "writer" : "direct", threads, done, failed, secs, done / secs,
	    nall ? all[nall / 2] : 0.0, nall ? all[nall * 99 / 100] : 0.0);
	free(all);
	free(runs);
	free(tids);
	est_cert_rec_free(proto);
	return failed > 0 && done == 0;
}
