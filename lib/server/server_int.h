/*
 * Private contract between the files of lib/server.
 *
 * A server owns its CAs, aliases and listeners (immutable once running) and
 * N workers. Each worker is one thread with its own event loop, its own
 * store handle and credentials copy, and accepts on every listener; workers
 * share nothing mutable, so request handling takes no locks.
 */
#ifndef ESTKIT_SERVER_INT_H
#define ESTKIT_SERVER_INT_H

#include <pthread.h>
#include <sys/queue.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <stdatomic.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "estkit/ca.h"
#include "estkit/config.h"
#include "estkit/httpauth.h"
#include "estkit/server.h"
#include "estkit/store.h"
#include "server/http_parse.h"

struct est_alias {
	const struct est_alias_conf *conf;
	struct est_ca *ca;                /* issuing CA (borrowed from server) */
	struct est_ca *cacerts_ca;        /* whose chain /cacerts returns */
	const struct est_profile *profile;
	char *cacerts_body;               /* precomputed base64 certs-only */
	size_t cacerts_len;
};

struct est_listener {
	const struct est_listener_conf *conf;
	int fd;
	int port;                         /* bound port */
	SSL_CTX *ssl_ctx;                 /* NULL for tls = none */
};

struct est_worker;

/* One listening socket as seen by one worker. */
struct worker_listener {
	struct est_worker *worker;
	struct est_listener *listener;
	struct evconnlistener *evl;
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
	TAILQ_HEAD(conn_list, conn) conns; /* open connections, freed at shutdown */
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
	atomic_uint connections;          /* open connections, all workers */
	int stop_pipe[2];
};

/* ---- tls.c ---- */

/* SSL_CTX for a listener: TLS 1.2+, strong ciphers, no renegotiation,
 * client certificates asked for per the listener's mode. */
enum est_err tls_listener_ctx(struct est_server *srv, struct est_listener *l,
    struct est_error *e);

/* ---- conn.c: one client connection ---- */

enum conn_state {
	CONN_HEAD,                        /* reading a request head */
	CONN_BODY,                        /* reading its body */
	CONN_CLOSING                      /* answer queued; close once written */
};

struct conn {
	struct est_worker *worker;
	struct est_listener *listener;
	struct bufferevent *bev;
	SSL *ssl;                         /* NULL on a plain listener */
	char peer[80];                    /* "ADDR:PORT" */
	enum conn_state state;
	struct http_head head;            /* valid in CONN_BODY */
	bool head_only;                   /* the request was HEAD: no body in the answer */
	TAILQ_ENTRY(conn) link;           /* in worker->conns */
};

/* Close a connection and free it (also used at worker shutdown). */
void conn_free(struct conn *c);

/* Accept callback for evconnlistener (arg: struct worker_listener). */
void conn_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg);

/*
 * Queue a complete response on the connection. extra_headers holds whole
 * "Name: value\r\n" lines (or is NULL). With close, the connection ends
 * once the response is written.
 */
void conn_respond(struct conn *c, int status, const char *content_type,
    struct evbuffer *extra_headers, const void *body, size_t len, bool close);

/* ---- worker.c ---- */

enum est_err worker_init(struct est_server *srv, struct est_worker *w, unsigned id,
    struct est_error *e);
void *worker_main(void *arg);
void worker_stop(struct est_worker *w);
void worker_free(struct est_worker *w);

/* ---- http.c: one request ---- */

struct est_req {
	struct conn *conn;
	const struct http_head *head;
	const unsigned char *body;        /* borrowed from the connection's buffer */
	size_t body_len;
	struct evbuffer *resp_headers;    /* headers added for the response */
	struct est_worker *worker;
	struct est_listener *listener;
	struct est_alias *alias;          /* NULL until routed */
	const char *op;                   /* operation name, NULL until routed */
	SSL *ssl;                         /* NULL on a plain listener */
	char peer[80];                    /* "ADDR:PORT" */
	char principal[160];              /* who authenticated, "-" before */
	struct timespec start;
	bool auth_stale;                  /* a 401 should say stale=true */
	bool answered;
};

/* Serve one complete request read by conn.c. */
void http_serve(struct conn *c, const unsigned char *body, size_t len);

/* Answer a request that could not be parsed (status from the HTTP layer),
 * log it, and close the connection. */
void http_refuse(struct conn *c, int status, const char *reason);

/* The request's method and target ("GET", "/.well-known/est/cacerts?x"). */
const char *http_method(struct est_req *r);
const char *http_target(struct est_req *r);

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

/* ---- reply_cert.c: the common end of every enrolment ---- */

/*
 * Issue a certificate for req under the request's alias, record it in the
 * store (retrying once on a serial collision) and answer 200 with the
 * certs-only body. Answers the error itself on failure.
 */
void issue_and_reply(struct est_req *r, const struct est_issue_req *req);

#endif
