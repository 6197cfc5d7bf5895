/*
 * estbench: a load generator for any EST server (RFC 7030 /simpleenroll).
 *
 * estbench.c reads the options and paces the load; client.c is one
 * simulated client (HTTP/1.1 over TLS on libevent and OpenSSL, one thread
 * for all), digest.c its HTTP Digest; csrs.c makes the CSRs beforehand so
 * that no key is generated while measuring; floor.c measures the crypto
 * floor on this machine; steal.c reads how much CPU the host took; report.c
 * turns the samples into a table for people and one JSON line for scripts.
 */
#ifndef ESTBENCH_H
#define ESTBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

enum key_type {
	KEY_EC_P256,
	KEY_RSA_2048,
	KEY__MAX
};

/* How requests use TLS connections. */
enum conn_mode {
	CONN_KEEPALIVE,                 /* one connection per client, reused */
	CONN_NEW,                       /* a full handshake per enrolment */
	CONN_RESUME,                    /* a new connection per enrolment, TLS session resumed */
	CONN__MAX
};

/* Name of a key type ("ec-p256") or connection mode ("keep-alive"). */
const char *key_type_name(enum key_type t);
const char *conn_mode_name(enum conn_mode m);

/* ---- digest.c ---- */

/* What a client keeps of the server's Digest challenge. */
struct digest_state {
	bool have_nonce;
	bool fresh;                     /* taken from the last 401, not yet used */
	bool sha256;                    /* else MD5 */
	unsigned nc;                    /* requests made with this nonce */
	char realm[128], nonce[128], opaque[128];
};

/*
 * Take a WWW-Authenticate value; false when it is no Digest challenge we
 * can answer. Of several in one response, SHA-256 wins over MD5.
 */
bool digest_take_challenge(struct digest_state *d, const char *challenge);

/* The whole "Authorization: Digest ...\r\n" line for the next request into out. */
bool digest_header(struct digest_state *d, const char *user, const char *password,
    const char *method, const char *uri, char *out, size_t cap);

/* ---- client.c ---- */

/* Where and how every client sends; fixed for the run. */
struct target {
	struct event_base *base;
	SSL_CTX *ssl_ctx;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char host[256];                 /* checked against the server's certificate */
	char hostport[300];             /* the Host header */
	char path[512];                 /* the request target */
	enum conn_mode conn;
	char *basic;                    /* "Authorization: Basic ...\r\n" or NULL (owned) */
	const char *user, *password;    /* for Digest */
	bool digest;
	long timeout;                   /* seconds per request */
};

struct client;

/* A request's end: an HTTP status, or 0 and why no response came. */
typedef void client_done_fn(struct client *c, int status, const char *error);

/* One simulated client: a connection (kept, or made per request) and its request. */
struct client {
	const struct target *t;
	client_done_fn *done;
	void *arg;                      /* the caller's */
	struct bufferevent *bev;        /* NULL between connections */
	SSL_SESSION *session;           /* to resume (connection mode resume) */
	struct digest_state digest;
	const char *body;               /* the CSR in flight (borrowed) */
	size_t body_len;
	bool busy;
	bool retried;                   /* answered a Digest challenge already */
	bool head_done;
	bool close_after;               /* the server said Connection: close */
	bool have_length;
	size_t content_length;
	int status;
	double start;                   /* when the request started or was due */
	unsigned long handshakes;       /* TLS handshakes completed */
	unsigned long resumed;          /* ... of which resumed a session */
};

/*
 * Send one POST of body (borrowed until done is called) on c's connection,
 * making one first. done runs exactly once per request, from the event loop
 * (or before this returns false).
 */
bool client_request(struct client *c, const char *body, size_t len);

/* Close c's connection and forget its session. */
void client_free(struct client *c);

/* ---- csrs.c ---- */

/* Pre-made CSRs: base64 DER bodies, one key each. */
struct csr_set {
	char **b64;                     /* n NUL-terminated bodies (owned) */
	size_t *len;
	size_t n;
};

/*
 * Make n CSRs with fresh keys of type t, subject CN=<cn_prefix>-<i>, or
 * with names_of (a PEM certificate file, NULL: none) the subject and
 * subjectAltName of that certificate. Returns false (after printing why) on
 * failure. Free with csr_set_free.
 */
bool csr_set_make(enum key_type t, size_t n, const char *cn_prefix, const char *names_of,
    struct csr_set *out);
void csr_set_free(struct csr_set *s);

/* A fresh key of type t, or NULL. Caller EVP_PKEY_free()s it. */
EVP_PKEY *key_new(enum key_type t);

/* ---- floor.c ---- */

/* CPU milliseconds of one operation, measured on this machine. */
struct floor_ops {
	double sign[KEY__MAX];          /* SHA-256 signature */
	double verify[KEY__MAX];
	double kex;                     /* X25519 key generation + derivation */
};

/* What the server's crypto floor is made of in one scenario. */
struct floor_spec {
	enum key_type csr_key;          /* verified once (proof of possession) */
	enum key_type ca_key;           /* signs the certificate */
	enum key_type server_key;       /* signs a full handshake */
	bool full_handshake;            /* per enrolment */
	bool resumed_handshake;         /* key exchange only, per enrolment */
	bool client_cert;               /* a full handshake also verifies the client's
	                                 * CertificateVerify and its certificate */
	enum key_type client_key;
};

/* This thread's CPU time in milliseconds: what the floor and work_bench time by. */
double floor_thread_cpu_ms(void);

/* Measure every operation for about ms_each CPU milliseconds. false on failure. */
bool floor_measure(double ms_each, struct floor_ops *out);

/* The server's minimal crypto CPU milliseconds per enrolment under spec. */
double floor_per_enrolment(const struct floor_ops *ops, const struct floor_spec *spec);

/* ---- steal.c ---- */

/* /proc/stat's totals over all CPUs, in USER_HZ ticks. */
struct steal_sample {
	unsigned long long total;       /* every state, steal included */
	unsigned long long steal;       /* taken by the hypervisor */
};

/* Read the counters now; false where there are none (not Linux, no steal field). */
bool steal_read(struct steal_sample *s);

/* Percent of the CPUs' time stolen between two samples. */
double steal_pct(const struct steal_sample *from, const struct steal_sample *to);

/* ---- report.c ---- */

#define STATUS_SLOTS 600                /* HTTP statuses 0..599; 0 = no response */

struct results {
	double *lat_ms;                 /* latency of each enrolment (200) */
	size_t n_lat, cap_lat;
	uint64_t requests;              /* finished, whatever the outcome */
	uint64_t by_status[STATUS_SLOTS];
	uint64_t transport_errors;      /* no HTTP response (connect, TLS, timeout) */
	uint64_t handshakes, resumed;   /* TLS handshakes, and how many resumed a session */
	char first_error[256];          /* the first transport error, for people */
	unsigned warmup;                /* enrolments made before the clock started */
	double seconds;                 /* wall clock of the run */
	double client_cpu_s;            /* estbench's own CPU time */
	bool have_server;               /* the fields below are valid */
	double server_cpu_s;            /* the server's CPU time during the run */
	long server_rss_kib;            /* its resident memory at the end */
	long server_hwm_kib;            /* its peak resident memory */
	bool have_steal;                /* the host's steal counters could be read */
	double steal_pct;               /* of the CPUs' time over the run */
	double steal_worst_pct;         /* ... in its worst 100 ms */
	bool have_floor;
	double floor_ms;                /* the server's crypto floor per enrolment */
	struct floor_ops ops;
};

/* Append one enrolment's latency; false when out of memory. */
bool results_add_latency(struct results *r, double ms);

/* What is being measured, for the report. */
struct run_desc {
	const char *label;              /* free text, e.g. the scenario's name */
	const char *url;
	const char *auth;               /* "basic", "digest", "cert", "none" */
	enum conn_mode conn;
	enum key_type key;
	unsigned concurrency;
	double rate;                    /* requested enrolments/s, 0 = as fast as possible */
};

/* Print the table for people, then the JSON line, to stdout. */
void report_print(const struct run_desc *d, struct results *r);

void results_free(struct results *r);

#endif
