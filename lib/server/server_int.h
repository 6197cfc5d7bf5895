/*
 * Private contract between the files of lib/server.
 *
 * A server owns its CAs, aliases and listeners (immutable once running) and
 * N workers. Each worker is one thread with its own event loop, its own
 * store handle and credentials copy, and one evhttp per listener; workers
 * share nothing mutable, so request handling takes no locks.
 */
#ifndef ESTKIT_SERVER_INT_H
#define ESTKIT_SERVER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "estkit/ca.h"
#include "estkit/config.h"
#include "estkit/codec.h"
#include "estkit/httpauth.h"
#include "estkit/kek.h"
#include "estkit/server.h"
#include "estkit/store.h"

struct est_alias {
	const struct est_alias_conf *conf;
	struct est_ca *ca;                /* issuing CA (borrowed from server) */
	struct est_ca *cacerts_ca;        /* whose chain /cacerts returns */
	const struct est_profile *profile;
	char *cacerts_body;               /* precomputed base64 certs-only */
	size_t cacerts_len;
	struct est_csrattrs *csrattrs;    /* parsed csrattrs list, NULL: none */
	char *csrattrs_body;              /* precomputed base64 CsrAttrs, NULL: 204 */
	size_t csrattrs_len;
};

struct est_listener {
	const struct est_listener_conf *conf;
	int fd;
	int port;                         /* bound port */
	SSL_CTX *ssl_ctx;                 /* NULL for tls = none */
};

struct est_worker;

/* What evhttp hands back to us with each request: which worker, which listener. */
struct worker_listener {
	struct est_worker *worker;
	struct est_listener *listener;
	struct evhttp *http;
};

struct est_worker {
	struct est_server *srv;
	unsigned id;
	pthread_t thread;
	bool started;
	struct event_base *base;
	struct worker_listener *wls;      /* one per listener */
	struct est_store *store;
	struct est_creds *creds;          /* NULL without a credentials file */
};

struct est_server {
	const struct est_config *cfg;
	struct est_ca **cas;
	size_t n_cas;
	struct est_alias *aliases;
	size_t n_aliases;
	struct est_alias *default_alias;
	struct est_listener *listeners;
	size_t n_listeners;
	struct est_worker *workers;
	size_t n_workers;
	unsigned char nonce_key[EST_HTTPAUTH_NONCE_KEY_LEN];
	X509_STORE *client_trust;         /* every CA a TLS client cert may chain to */
	struct est_keks *keks;            /* decrypt-keys for /serverkeygen, or NULL */
	int stop_pipe[2];
};

/* ---- tls.c ---- */

/* SSL_CTX for a listener: TLS 1.2+, strong ciphers, no renegotiation,
 * client certificates asked for per the listener's mode. */
enum est_err tls_listener_ctx(struct est_server *srv, struct est_listener *l,
    struct est_error *e);

/* ---- worker.c ---- */

enum est_err worker_init(struct est_server *srv, struct est_worker *w, unsigned id,
    struct est_error *e);
void *worker_main(void *arg);
void worker_stop(struct est_worker *w);
void worker_free(struct est_worker *w);

/* ---- http.c: one request ---- */

struct est_req {
	struct evhttp_request *ev;
	struct est_worker *worker;
	struct est_listener *listener;
	struct est_alias *alias;          /* NULL until routed */
	const char *op;                   /* operation name, NULL until routed */
	SSL *ssl;                         /* NULL on a plain listener */
	char peer[64];                    /* "ADDR:PORT" */
	char principal[160];              /* who authenticated, "-" before */
	struct timespec start;
	bool auth_stale;                  /* a 401 should say stale=true */
	bool answered;
};

/* Entry point from evhttp for every request on a listener. */
void http_request_cb(struct evhttp_request *ev, void *arg);

/* The request body as one contiguous buffer (borrowed, valid until the
 * reply) and its length; NULL/0 for no body. */
const unsigned char *http_body(struct est_req *r, size_t *len);

/* A request header, or NULL. */
const char *http_header(struct est_req *r, const char *name);

/* Add a response header (before replying). */
void http_add_header(struct est_req *r, const char *name, const char *value);

/*
 * The only two ways a request is answered. http_reply sends status with a
 * body and content type; http_fail maps an error to its HTTP status (the one
 * place this mapping exists), sends the reason as one line of text/plain and
 * logs it. Both write the access log line.
 */
void http_reply(struct est_req *r, int status, const char *content_type,
    const void *body, size_t len);
void http_fail(struct est_req *r, const struct est_error *err);

/* ---- route.c ---- */

void route_request(struct est_req *r);

/* ---- authn.c ---- */

/*
 * Authenticate a request by the alias's methods, in order. On success
 * fills r->principal. On failure returns EST_ERR_AUTH (the caller answers
 * 401 with challenges; e->msg is the reason for the log only) or
 * EST_ERR_FORBIDDEN.
 */
enum est_err authn_enroll(struct est_req *r, struct est_error *e);

/*
 * The TLS client certificate of this request, verified against the alias's
 * CA, not revoked and on record. *cert is borrowed from the connection.
 */
enum est_err authn_client_cert(struct est_req *r, X509 **cert, struct est_error *e);

/* Add the WWW-Authenticate challenges of a 401 to the response. */
void authn_add_challenges(struct est_req *r);

/* ---- handlers (h_*.c) ---- */

void h_cacerts(struct est_req *r);
void h_simpleenroll(struct est_req *r);
void h_simplereenroll(struct est_req *r);
void h_serverkeygen(struct est_req *r);
void h_csrattrs(struct est_req *r);

/* ---- approval.c: the manual-approval gate of every enrolment ---- */

/*
 * Let an enrolment through, or hold it. On an alias with approval = auto:
 * EST_OK and *ticket = 0. Otherwise the request -- alias, operation, the
 * CSR's public key, the subject and SAN req will certify -- is held in the
 * store (EST-S-44): pending gives EST_ERR_PENDING (202; http_fail adds
 * Retry-After), rejected EST_ERR_FORBIDDEN, and approved is claimed for this
 * request (one certificate per approval): EST_OK and *ticket = its id.
 */
enum est_err approval_admit(struct est_req *r, const struct est_issue_req *req,
    int64_t *ticket, struct est_error *e);

/* An admitted enrolment failed: give its approval back (ticket 0: nothing to do). */
void approval_release(struct est_req *r, int64_t ticket);

/* ---- reply_cert.c: the common end of every enrolment ---- */

/*
 * Issue a certificate for req under the request's alias and record it in
 * the store (retrying once on a serial collision). The certificate is
 * committed before the caller may hand it out. Caller X509_free()s *out.
 */
enum est_err issue_cert(struct est_req *r, const struct est_issue_req *req, X509 **out,
    struct est_error *e);

/* A certs-only response body (base64, wrapped) holding cert. Caller free()s *b64. */
enum est_err encode_certs_only(X509 *cert, char **b64, size_t *b64len, struct est_error *e);

/*
 * The end of /simpleenroll and /simplereenroll: the approval gate, then
 * issue_cert, then 200 with the certs-only body. Answers the error itself
 * on failure.
 */
void issue_and_reply(struct est_req *r, const struct est_issue_req *req);

#endif
