/*
 * estbench: POST pre-made CSRs to an EST server's /simpleenroll with a
 * given concurrency, for a duration or a count, and report enrolments per
 * second, latency, errors, and -- for a server on this machine -- its CPU
 * time per enrolment against the crypto floor.
 *
 * One thread drives every client on one libevent loop, with OpenSSL
 * directly rather than libcurl: curl makes an SSL_CTX (and reads the trust
 * anchors and client certificate again) for every new connection, which
 * under OpenSSL 3 cost the generator more CPU per enrolment than the
 * server it measured. Here one SSL_CTX serves every connection, so a new
 * connection costs its handshake only; the generator prints its own CPU
 * time so that a reader can tell. With --rate the requests start on a fixed
 * schedule and latency counts from the scheduled start, so a server that
 * falls behind is not flattered (no coordinated omission).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "estbench.h"

/* The window for the worst steal of a run (steal.c). */
#define STEAL_WINDOW_MS 100

struct options {
	const char *base;               /* https://host:port */
	const char *alias;
	const char *cacert;
	const char *userpwd;            /* USER:PASSWORD */
	bool digest;
	const char *cert, *key;
	unsigned concurrency;
	double duration;
	unsigned long count;            /* 0: run for duration */
	enum conn_mode conn;
	enum key_type key_type;
	size_t n_csrs;
	double rate;
	long server_pid;                /* 0: none */
	bool floor;
	enum key_type ca_key, server_key;
	const char *label;
	long timeout;
};

struct run {
	const struct options *o;
	struct target t;
	struct csr_set csrs;
	size_t next_csr;
	struct client *clients;
	struct event *pace;             /* with --rate: when the next request is due */
	struct event *steal_tick;       /* every STEAL_WINDOW_MS: the host's steal */
	struct steal_sample steal_first, steal_last;
	unsigned long started;
	unsigned inflight;
	bool warming;                   /* warm_up's requests: not measured */
	double t0, deadline, next_due;
	struct results res;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* User + system CPU seconds of pid from /proc/PID/stat; < 0 when unreadable. */
static double
proc_cpu_s(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long utime, stime;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields resume after the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
		return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* A "Vm...:" value of /proc/PID/status in KiB; -1 when unreadable. */
static long
proc_status_kib(long pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, flen) == 0 && line[flen] == ':')
			v = strtol(line + flen + 1, NULL, 10);
	fclose(f);
	return v;
}

/* Whether every request has been started by t. */
static bool
all_started(const struct run *run, double t)
{
	return run->o->count > 0 ? run->started >= run->o->count : t >= run->deadline;
}

/* Whether another request may start at t (and when it was due, with --rate). */
static bool
may_start(struct run *run, double t, double *due)
{
	if (all_started(run, t))
		return false;
	if (run->o->rate <= 0) {
		*due = t;
		return true;
	}
	if (t < run->next_due)
		return false;
	*due = run->next_due;
	run->next_due += 1.0 / run->o->rate;
	return true;
}

static void on_done(struct client *c, int status, const char *error);

/* Start what may start on idle clients; end the loop when all is done. */
static void
kick(struct run *run)
{
	double t = now(), due, wait;
	struct timeval tv;

	for (unsigned i = 0; i < run->o->concurrency; i++) {
		struct client *c = &run->clients[i];
		size_t k;

		if (c->busy || !may_start(run, t, &due))
			continue;
		k = run->next_csr++ % run->csrs.n;
		c->start = due;
		run->started++;
		run->inflight++;
		client_request(c, run->csrs.b64[k], run->csrs.len[k]);
	}
	if (run->inflight == 0 && all_started(run, t)) {
		event_base_loopbreak(run->t.base);
		return;
	}
	if (run->pace != NULL && !evtimer_pending(run->pace, NULL)) {
		/* Due already: a client's end will kick; else wake at the due time. */
		wait = run->next_due - t;
		if (all_started(run, t) || wait < 0)
			wait = 0.01;
		tv.tv_sec = (time_t)wait;
		tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
		evtimer_add(run->pace, &tv);
	}
}

static void
on_pace(evutil_socket_t fd, short what, void *arg)
{
	kick(arg);
}

static void
on_done(struct client *c, int status, const char *error)
{
	struct run *run = c->arg;

	run->inflight--;
	if (run->warming) {
		if (run->inflight == 0)
			event_base_loopbreak(run->t.base);
		return;
	}
	run->res.requests++;
	if (status <= 0 || status >= STATUS_SLOTS) {
		if (run->res.transport_errors++ == 0)
			snprintf(run->res.first_error, sizeof(run->res.first_error), "%s",
			    error != NULL ? error : "no response");
	} else {
		run->res.by_status[status]++;
		if (status == 200 && !results_add_latency(&run->res, (now() - c->start) * 1e3)) {
			fprintf(stderr, "estbench: out of memory\n");
			exit(1);
		}
	}
	kick(run);
}

/*
 * Keep-alive and resume: each client makes its first connection (a full
 * handshake) with one enrolment before the clock starts. Otherwise every
 * run would begin with all its clients' handshakes at once, during which
 * the requests falling due queue: about 150 ms at the start of each run,
 * which at 1,300/s was one request in a hundred of a 15 s run, its p99.
 * The server's first sight of the credentials is paid here too.
 */
static void
warm_up(struct run *run)
{
	run->warming = true;
	for (unsigned i = 0; i < run->o->concurrency; i++) {
		size_t k = run->next_csr++ % run->csrs.n;

		run->inflight++;
		client_request(&run->clients[i], run->csrs.b64[k], run->csrs.len[k]);
	}
	if (run->inflight > 0)
		event_base_dispatch(run->t.base);
	run->warming = false;
	run->res.warmup = run->o->concurrency;
	for (unsigned i = 0; i < run->o->concurrency; i++)
		run->clients[i].handshakes = run->clients[i].resumed = 0;
}

/* The worst window's steal so far (a window has about 20 ticks on two CPUs). */
static void
on_steal_tick(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;
	struct steal_sample s;
	double pct;

	(void)fd;
	(void)what;
	if (!steal_read(&s))
		return;
	if ((pct = steal_pct(&run->steal_last, &s)) > run->res.steal_worst_pct)
		run->res.steal_worst_pct = pct;
	run->steal_last = s;
}

static bool
drive(struct run *run)
{
	struct timeval window = { .tv_sec = 0, .tv_usec = STEAL_WINDOW_MS * 1000 };
	struct steal_sample end;

	run->res.have_steal = steal_read(&run->steal_first) &&
	    event_add(run->steal_tick, &window) == 0;
	run->steal_last = run->steal_first;
	run->t0 = now();
	run->deadline = run->t0 + run->o->duration;
	run->next_due = run->t0;
	kick(run);
	if (run->inflight > 0 || !all_started(run, now()))
		event_base_dispatch(run->t.base);
	run->res.seconds = now() - run->t0;
	event_del(run->steal_tick);
	if (run->res.have_steal && steal_read(&end))
		run->res.steal_pct = steal_pct(&run->steal_first, &end);
	return true;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: estbench [options] https://HOST:PORT\n"
	    "  -a, --alias NAME          EST alias (path /.well-known/est/NAME/simpleenroll)\n"
	    "      --cacert FILE         trust anchors for the server's certificate\n"
	    "  -u, --user USER:PASSWORD  HTTP Basic credentials (--digest: Digest)\n"
	    "      --digest\n"
	    "      --cert FILE --key FILE  TLS client certificate and key (PEM); the CSRs then\n"
	    "                            ask for its subject and subjectAltName\n"
	    "  -c, --concurrency N       clients at once (default 8)\n"
	    "  -d, --duration SECONDS    run this long (default 10)\n"
	    "  -n, --count N             or send N requests\n"
	    "      --connection MODE     keep-alive (default), new (full handshake per\n"
	    "                            enrolment) or resume (new connection, TLS session resumed);\n"
	    "                            keep-alive and resume clients first connect, with one\n"
	    "                            enrolment each, before the clock starts\n"
	    "  -k, --key-type TYPE       ec-p256 (default) or rsa-2048: the CSRs' keys\n"
	    "      --csrs N              distinct pre-made CSRs (default 8)\n"
	    "  -r, --rate N              start N requests per second (default: as fast as possible)\n"
	    "  -p, --server-pid PID      report this local server's CPU per enrolment and memory\n"
	    "      --floor               measure the crypto floor (with --ca-key-type and\n"
	    "                            --server-key-type, both default ec-p256)\n"
	    "  -l, --label TEXT          name of the run in the report\n"
	    "      --timeout SECONDS     per request (default 30)\n"
	    "Prints a table, then one JSON line. Exit status 0 when every request got 200.\n");
}

static bool
parse_key_type(const char *s, enum key_type *out)
{
	for (int t = 0; t < KEY__MAX; t++)
		if (strcmp(s, key_type_name((enum key_type)t)) == 0) {
			*out = (enum key_type)t;
			return true;
		}
	fprintf(stderr, "estbench: unknown key type '%s' (ec-p256, rsa-2048)\n", s);
	return false;
}

static bool
parse_num(const char *s, double min, double max, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || *out < min || *out > max) {
		fprintf(stderr, "estbench: '%s' is not a number from %g to %g\n", s, min, max);
		return false;
	}
	return true;
}

enum { OPT_CACERT = 256, OPT_DIGEST, OPT_CERT, OPT_KEY, OPT_CONN, OPT_CSRS, OPT_FLOOR,
	OPT_CA_KEY, OPT_SERVER_KEY, OPT_TIMEOUT };

static const struct option long_opts[] = {
	{ "alias", required_argument, NULL, 'a' },
	{ "cacert", required_argument, NULL, OPT_CACERT },
	{ "user", required_argument, NULL, 'u' },
	{ "digest", no_argument, NULL, OPT_DIGEST },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "concurrency", required_argument, NULL, 'c' },
	{ "duration", required_argument, NULL, 'd' },
	{ "count", required_argument, NULL, 'n' },
	{ "connection", required_argument, NULL, OPT_CONN },
	{ "key-type", required_argument, NULL, 'k' },
	{ "csrs", required_argument, NULL, OPT_CSRS },
	{ "rate", required_argument, NULL, 'r' },
	{ "server-pid", required_argument, NULL, 'p' },
	{ "floor", no_argument, NULL, OPT_FLOOR },
	{ "ca-key-type", required_argument, NULL, OPT_CA_KEY },
	{ "server-key-type", required_argument, NULL, OPT_SERVER_KEY },
	{ "label", required_argument, NULL, 'l' },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static bool
parse_conn(const char *s, enum conn_mode *out)
{
	for (int m = 0; m < CONN__MAX; m++)
		if (strcmp(s, conn_mode_name((enum conn_mode)m)) == 0) {
			*out = (enum conn_mode)m;
			return true;
		}
	fprintf(stderr, "estbench: unknown connection mode '%s' (keep-alive, new, resume)\n", s);
	return false;
}

/* 0: go on; otherwise the exit status. */
static int
parse_args(int argc, char **argv, struct options *o)
{
	double v;
	int ch;
	bool ok = true;

	*o = (struct options){ .concurrency = 8, .duration = 10, .n_csrs = 8, .timeout = 30,
	    .label = "run" };
	while (ok && (ch = getopt_long(argc, argv, "a:u:c:d:n:k:r:p:l:h", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'a': o->alias = optarg; break;
		case OPT_CACERT: o->cacert = optarg; break;
		case 'u': o->userpwd = optarg; break;
		case OPT_DIGEST: o->digest = true; break;
		case OPT_CERT: o->cert = optarg; break;
		case OPT_KEY: o->key = optarg; break;
		case 'c': ok = parse_num(optarg, 1, 4096, &v); o->concurrency = (unsigned)v; break;
		case 'd': ok = parse_num(optarg, 0.1, 86400, &o->duration); break;
		case 'n': ok = parse_num(optarg, 1, 1e9, &v); o->count = (unsigned long)v; break;
		case OPT_CONN: ok = parse_conn(optarg, &o->conn); break;
		case 'k': ok = parse_key_type(optarg, &o->key_type); break;
		case OPT_CSRS: ok = parse_num(optarg, 1, 1000, &v); o->n_csrs = (size_t)v; break;
		case 'r': ok = parse_num(optarg, 0.1, 1e6, &o->rate); break;
		case 'p': ok = parse_num(optarg, 1, 1e9, &v); o->server_pid = (long)v; break;
		case OPT_FLOOR: o->floor = true; break;
		case OPT_CA_KEY: ok = parse_key_type(optarg, &o->ca_key); break;
		case OPT_SERVER_KEY: ok = parse_key_type(optarg, &o->server_key); break;
		case 'l': o->label = optarg; break;
		case OPT_TIMEOUT: ok = parse_num(optarg, 1, 3600, &v); o->timeout = (long)v; break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return 2;
		}
	}
	if (!ok)
		return 2;
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	o->base = argv[optind];
	return 0;
}

static const char *
auth_name(const struct options *o)
{
	return o->userpwd != NULL ? (o->digest ? "digest" : "basic") : o->cert != NULL ? "cert" : "none";
}

/* The client key's type, for the floor: the key file as PEM. */
static bool
client_key_type(const char *path, enum key_type *out)
{
	EVP_PKEY *k = NULL;
	FILE *f = fopen(path, "re");

	if (f != NULL) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (k == NULL) {
		fprintf(stderr, "estbench: cannot read the key %s\n", path);
		return false;
	}
	*out = EVP_PKEY_is_a(k, "RSA") ? KEY_RSA_2048 : KEY_EC_P256;
	EVP_PKEY_free(k);
	return true;
}

static bool
measure_floor(const struct options *o, struct results *res)
{
	struct floor_spec spec = { .csr_key = o->key_type, .ca_key = o->ca_key,
	    .server_key = o->server_key, .full_handshake = o->conn == CONN_NEW,
	    .resumed_handshake = o->conn == CONN_RESUME, .client_cert = o->cert != NULL };

	if (o->cert != NULL && !client_key_type(o->key != NULL ? o->key : o->cert, &spec.client_key))
		return false;
	if (!floor_measure(200, &res->ops))
		return false;
	res->floor_ms = floor_per_enrolment(&res->ops, &spec);
	res->have_floor = true;
	return true;
}

/* "https://HOST[:PORT]" into the target's address, host and Host header. */
static bool
parse_url(const char *url, struct target *t)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	const char *h = url + 8, *end, *port = "443";
	char portbuf[16];
	size_t n;
	int rc;

	if (strncmp(url, "https://", 8) != 0)
		goto bad;
	if (*h == '[') {
		if ((end = strchr(++h, ']')) == NULL)
			goto bad;
		n = (size_t)(end - h);
		end++;
	} else {
		n = strcspn(h, ":/");
		end = h + n;
	}
	if (n == 0 || n >= sizeof(t->host))
		goto bad;
	memcpy(t->host, h, n);
	t->host[n] = '\0';
	if (*end == ':') {
		n = strcspn(end + 1, "/");
		if (n == 0 || n >= sizeof(portbuf))
			goto bad;
		memcpy(portbuf, end + 1, n);
		portbuf[n] = '\0';
		port = portbuf;
		end += 1 + n;
	}
	if (*end != '\0' && strcmp(end, "/") != 0)
		goto bad;
	snprintf(t->hostport, sizeof(t->hostport), "%.*s", (int)(end - (url + 8)), url + 8);
	if ((rc = getaddrinfo(t->host, port, &hints, &ai)) != 0) {
		fprintf(stderr, "estbench: %s: %s\n", t->host, gai_strerror(rc));
		return false;
	}
	memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
	t->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return true;
bad:
	fprintf(stderr, "estbench: '%s' is not https://HOST[:PORT]\n", url);
	return false;
}

/* One SSL_CTX for every connection: trust anchors and client certificate loaded once. */
static SSL_CTX *
make_ssl_ctx(const struct options *o)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	const char *key = o->key != NULL ? o->key : o->cert;

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if ((o->cacert != NULL ? SSL_CTX_load_verify_locations(ctx, o->cacert, NULL) :
	    SSL_CTX_set_default_verify_paths(ctx)) != 1 ||
	    (o->cert != NULL && (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1))) {
		fprintf(stderr, "estbench: cannot load the TLS trust anchors or client certificate\n");
		ERR_print_errors_fp(stderr);
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* Sessions are kept per client (client.c), not in a shared cache. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	return ctx;
}

static bool
set_auth(const struct options *o, struct target *t, char *userpwd)
{
	char *colon;
	size_t n;

	if (o->userpwd == NULL)
		return true;
	if ((colon = strchr(userpwd, ':')) == NULL) {
		fprintf(stderr, "estbench: --user takes USER:PASSWORD\n");
		return false;
	}
	if (o->digest) {
		*colon = '\0';
		t->user = userpwd;
		t->password = colon + 1;
		t->digest = true;
		return true;
	}
	n = strlen(o->userpwd);
	if ((t->basic = malloc(4 * ((n + 2) / 3) + sizeof("Authorization: Basic \r\n"))) == NULL)
		return false;
	strcpy(t->basic, "Authorization: Basic ");
	EVP_EncodeBlock((unsigned char *)t->basic + strlen(t->basic), (const unsigned char *)o->userpwd,
	    (int)n);
	strcat(t->basic, "\r\n");
	return true;
}

static bool
run_init(struct run *run, const struct options *o, char *userpwd)
{
	struct target *t = &run->t;
	int n;

	run->o = o;
	t->conn = o->conn;
	t->timeout = o->timeout;
	n = snprintf(t->path, sizeof(t->path), "/.well-known/est%s%s/simpleenroll",
	    o->alias != NULL ? "/" : "", o->alias != NULL ? o->alias : "");
	if (n < 0 || (size_t)n >= sizeof(t->path) || !parse_url(o->base, t) || !set_auth(o, t, userpwd))
		return false;
	if (!csr_set_make(o->key_type, o->n_csrs, "estbench", o->cert, &run->csrs))
		return false;
	if ((t->base = event_base_new()) == NULL || (t->ssl_ctx = make_ssl_ctx(o)) == NULL ||
	    (run->clients = calloc(o->concurrency, sizeof(*run->clients))) == NULL ||
	    (run->steal_tick = event_new(t->base, -1, EV_PERSIST, on_steal_tick, run)) == NULL ||
	    (o->rate > 0 && (run->pace = evtimer_new(t->base, on_pace, run)) == NULL)) {
		fprintf(stderr, "estbench: cannot set up the clients\n");
		return false;
	}
	for (unsigned i = 0; i < o->concurrency; i++) {
		run->clients[i].t = t;
		run->clients[i].done = on_done;
		run->clients[i].arg = run;
	}
	return true;
}

static void
run_free(struct run *run)
{
	for (unsigned i = 0; run->clients != NULL && i < run->o->concurrency; i++)
		client_free(&run->clients[i]);
	free(run->clients);
	if (run->pace != NULL)
		event_free(run->pace);
	if (run->steal_tick != NULL)
		event_free(run->steal_tick);
	SSL_CTX_free(run->t.ssl_ctx);
	if (run->t.base != NULL)
		event_base_free(run->t.base);
	free(run->t.basic);
	csr_set_free(&run->csrs);
	results_free(&run->res);
}

int
main(int argc, char **argv)
{
	struct options o;
	struct run run = { 0 };
	struct run_desc d;
	double cpu0, server0 = 0, server1;
	char *userpwd = NULL, url[1024];
	int rc;

	if ((rc = parse_args(argc, argv, &o)) != 0)
		return rc < 0 ? 0 : rc;
	/* A server closing a connection must not kill the generator. */
	signal(SIGPIPE, SIG_IGN);
	rc = 1;
	if (o.userpwd != NULL && (userpwd = strdup(o.userpwd)) == NULL)
		goto out;
	if (!run_init(&run, &o, userpwd) || (o.floor && !measure_floor(&o, &run.res)))
		goto out;
	if (o.conn != CONN_NEW)
		warm_up(&run);
	if (o.server_pid > 0 && (server0 = proc_cpu_s(o.server_pid)) < 0) {
		fprintf(stderr, "estbench: cannot read /proc/%ld/stat\n", o.server_pid);
		goto out;
	}
	cpu0 = self_cpu_s();
	if (!drive(&run))
		goto out;
	run.res.client_cpu_s = self_cpu_s() - cpu0;
	for (unsigned i = 0; i < o.concurrency; i++) {
		run.res.handshakes += run.clients[i].handshakes;
		run.res.resumed += run.clients[i].resumed;
	}
	if (o.server_pid > 0 && (server1 = proc_cpu_s(o.server_pid)) >= 0) {
		run.res.have_server = true;
		run.res.server_cpu_s = server1 - server0;
		run.res.server_rss_kib = proc_status_kib(o.server_pid, "VmRSS");
		run.res.server_hwm_kib = proc_status_kib(o.server_pid, "VmHWM");
	}
	snprintf(url, sizeof(url), "%s%s", o.base, run.t.path);
	d = (struct run_desc){ .label = o.label, .url = url, .auth = auth_name(&o),
	    .conn = o.conn, .key = o.key_type, .concurrency = o.concurrency, .rate = o.rate };
	report_print(&d, &run.res);
	rc = run.res.requests > 0 && run.res.by_status[200] == run.res.requests ? 0 : 1;
out:
	run_free(&run);
	free(userpwd);
	return rc;
}
