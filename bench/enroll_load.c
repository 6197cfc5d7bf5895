/*
 * Load generator for bench/run.sh: THREADS threads POST /simpleenroll for
 * SECONDS seconds, each request on a fresh TLS connection (so every
 * enrolment pays the full handshake, as a device does), authenticated by a
 * TLS client certificate (no password hashing in the measurement).
 *
 *   enroll_load URL CAFILE CERT KEY CSRFILE THREADS SECONDS
 *
 * Prints "requests=N ok=N failed=N seconds=S rate=R/s p50_ms=.. p99_ms=..".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

struct load {
	const char *url, *cafile, *cert, *key;
	char *body;
	long body_len;
	double deadline;
};

struct result {
	unsigned long ok, failed;
	double *lat;
	size_t nlat, caplat;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static int
one_enrolment(const struct load *ld, struct curl_slist *hdrs)
{
	CURL *c = curl_easy_init();
	long status = 0;
	CURLcode rc;

	if (c == NULL)
		return -1;
	curl_easy_setopt(c, CURLOPT_URL, ld->url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ld->cafile);
	curl_easy_setopt(c, CURLOPT_SSLCERT, ld->cert);
	curl_easy_setopt(c, CURLOPT_SSLKEY, ld->key);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, ld->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, ld->body_len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return rc == CURLE_OK && status == 200 ? 0 : -1;
}

static void *
worker(void *arg)
{
	const struct load *ld = ((void **)arg)[0];
	struct result *res = ((void **)arg)[1];
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/pkcs10");

	while (now() < ld->deadline) {
		double t0 = now();

		if (one_enrolment(ld, hdrs) == 0)
			res->ok++;
		else
			res->failed++;
		if (res->nlat == res->caplat) {
			res->caplat = res->caplat ? res->caplat * 2 : 1024;
			res->lat = realloc(res->lat, res->caplat * sizeof(double));
			if (res->lat == NULL)
				abort();
		}
		res->lat[res->nlat++] = (now() - t0) * 1e3;
	}
	curl_slist_free_all(hdrs);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static char *
read_all(const char *path, long *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (*len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)*len + 1)) == NULL ||
	    fread(buf, 1, (size_t)*len, f) != (size_t)*len) {
		fprintf(stderr, "enroll_load: cannot read %s\n", path);
		exit(2);
	}
	fclose(f);
	return buf;
}

int
main(int argc, char **argv)
{
	struct load ld;
	struct result *res, total = { 0 };
	pthread_t *th;
	void *(*args)[2];
	int n;
	double secs, t0;

	if (argc != 8) {
		fprintf(stderr, "usage: enroll_load URL CAFILE CERT KEY CSRFILE THREADS SECONDS\n");
		return 2;
	}
	ld.url = argv[1];
	ld.cafile = argv[2];
	ld.cert = argv[3];
	ld.key = argv[4];
	ld.body = read_all(argv[5], &ld.body_len);
	n = atoi(argv[6]);
	secs = atof(argv[7]);
	if (n < 1 || secs <= 0)
		return 2;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	res = calloc((size_t)n, sizeof(*res));
	th = calloc((size_t)n, sizeof(*th));
	args = calloc((size_t)n, sizeof(*args));
	if (res == NULL || th == NULL || args == NULL)
		return 1;
	t0 = now();
	ld.deadline = t0 + secs;
	for (int i = 0; i < n; i++) {
		args[i][0] = &ld;
		args[i][1] = &res[i];
		pthread_create(&th[i], NULL, worker, args[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		total.ok += res[i].ok;
		total.failed += res[i].failed;
		for (size_t j = 0; j < res[i].nlat; j++) {
			if (total.nlat == total.caplat) {
				total.caplat = total.caplat ? total.caplat * 2 : 1024;
				total.lat = realloc(total.lat, total.caplat * sizeof(double));
				if (total.lat == NULL)
					return 1;
			}
			total.lat[total.nlat++] = res[i].lat[j];
		}
		free(res[i].lat);
	}
	secs = now() - t0;
	qsort(total.lat, total.nlat, sizeof(double), cmp_double);
	printf("requests=%lu ok=%lu failed=%lu seconds=%.2f rate=%.1f/s p50_ms=%.1f p99_ms=%.1f\n",
	    total.ok + total.failed, total.ok, total.failed, secs, (double)total.ok / secs,
	    total.nlat ? total.lat[total.nlat / 2] : 0.0,
	    total.nlat ? total.lat[(size_t)((double)total.nlat * 0.99)] : 0.0);
	free(total.lat);
	free(res);
	free(th);
	free(args);
	free(ld.body);
	curl_global_cleanup();
	return total.failed == 0 ? 0 : 1;
}
