/*
 * Private contract between the files of lib/server.
 *
 * A server owns its CAs, aliases and listeners (immutable once running) and
 * N workers. Each worker is one thread with its own event loop, its own
 * store handle and credentials copy, and accepts on every listener. Workers
 * share only the connection counter (atomic) and the authentication failure
 * tables (ratelimit.c, each behind its mutex).
 */
#ifndef ESTKIT_SERVER_INT_H
#define ESTKIT_SERVER_INT_H

#include <pthread.h>
#include <sys/queue.h>
#include <sys/socket.h>
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
#include "estkit/codec.h"
#include "estkit/httpauth.h"
#include "estkit/kek.h"
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
	/* vendor mode (vendor.c): all owned, NULL otherwise */
	STACK_OF(X509) *vendor_listed;    /* the CAs vendor-cas names */
	STACK_OF(X509) *vendor_anchors;   /* the external roots above them */
	STACK_OF(X509) *vendor_untrusted; /* external CAs between */
	struct est_csrattrs *csrattrs;    /* parsed csrattrs list, NULL: none */
	char *csrattrs_body;              /* precomputed base64 CsrAttrs, NULL: 204 */
	size_t csrattrs_len;
};

/* An external CA imported with `estadm ca import --external`. */
struct ext_ca {
	char *name;
	X509 *cert;
};

struct est_listener {
	const struct est_listener_conf *conf;
	int fd;
	int port;                         /* bound port */
	SSL_CTX *ssl_ctx;                 /* NULL for tls = none */
};

struct est_worker;
struct ratelimit_table;

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
	bool draining;                    /* stopping: no accepts, no keep-alive */
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
	struct ext_ca *ext_cas;           /* those the aliases use, from the store */
	size_t n_ext_cas;
	struct est_keks *keks;            /* decrypt-keys for /serverkeygen, or NULL */
	struct ratelimit_table *fails_by_source; /* failed passwords per address */
	struct ratelimit_table *fails_by_name;   /* ... per user or end entity */
	int access_fd;                    /* access-log file, -1: lines go to est_log */
	struct est_audit *audit;          /* the audit log, NULL: none configured */
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
	CONN_CLOSING,                     /* answer queued; close once written */
	CONN_LINGER                       /* answer sent, our side shut: draining input */
};

struct conn {
	struct est_worker *worker;
	struct est_listener *listener;
	struct bufferevent *bev;
	SSL *ssl;                         /* NULL on a plain listener */
	char peer[80];                    /* "ADDR:PORT" */
	char source[64];                  /* the address failures count against
	                                   * (ratelimit_source) */
	enum conn_state state;
	struct http_head head;            /* valid in CONN_BODY */
	bool head_only;                   /* the request was HEAD: no body in the answer */
	struct event *deadline;           /* handshake-timeout, then read-timeout per request */
	bool handshaking;                 /* the deadline is the handshake's */
	unsigned served;                  /* requests answered on this connection */
	TAILQ_ENTRY(conn) link;           /* in worker->conns */
};

/* Close a connection and free it (also used at worker shutdown). */
void conn_free(struct conn *c);

/*
 * Whether a connection is between requests: it has answered at least one
 * and nothing of the next has arrived or is waiting to be written. A drain
 * may close it; a client may always see a kept-alive connection close
 * (RFC 9112 §9.3.1) and retries. A connection that has answered nothing yet
 * is not idle: its first request is on the way.
 */
bool conn_idle(const struct conn *c);

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

/*
 * Ask a running worker (from any thread) to drain: stop accepting, close
 * its idle connections, answer the requests in flight with
 * "Connection: close", and leave its loop once its last connection is
 * closed, or after the configured drain-timeout at the latest.
 */
enum est_err worker_drain(struct est_worker *w, struct est_error *e);

/* A connection of w has been freed (conn.c): a draining worker may be done. */
void worker_conn_closed(struct est_worker *w);
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
	int64_t cert_ee_id;               /* end entity of the client certificate on
	                                   * record (authn_client_cert), 0 for none */
	struct timespec start;
	char serial[72];                  /* serial of the certificate issued, "" none */
	bool secret_checked;              /* a password or code was checked ... */
	enum est_auth_method secret_method; /* ... by this method (access log, metrics) */
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

/* ---- access_log.c ---- */

/* Open the access-log file if one is configured (srv->access_fd). */
enum est_err access_log_open(struct est_server *srv, struct est_error *e);
void access_log_close(struct est_server *srv);

/*
 * Write the access-log line of an answer: r is the request, or NULL for
 * one refused before it could be read whole (http_refuse). reason is the
 * refusal's reason or NULL.
 */
void access_log(struct conn *c, struct est_req *r, int status, const char *reason);

/*
 * The name of the authentication method a request used or tried ("basic",
 * "digest", "certificate", "enrolment-code", "vendor-certificate", "none");
 * buf holds the HTTP scheme when that is the answer.
 */
const char *access_auth_method(struct est_req *r, char *buf, size_t len);

/* ---- metrics.c: the process's counters (include/estkit/metrics.h) ---- */

/* Count an answer (r NULL: refused before it was read whole). auth: access_auth_method. */
void metrics_request(const struct est_req *r, int status, const char *auth, double ms);

/* Count one store commit of group certificates that took seconds. */
void metrics_store_commit(double seconds, unsigned group);

/* A server's open connections count in estd_open_connections while attached. */
void metrics_attach(struct est_server *srv);
void metrics_detach(struct est_server *srv);

/* ---- audit_trail.c ---- */

/* Open the configured audit log (srv->audit), if any. */
enum est_err audit_trail_open(struct est_server *srv, struct est_error *e);

/*
 * Record in the audit log that rec was issued for request r (what: issue,
 * renew or serverkeygen by the operation). EST_ERR_UNAVAILABLE when the line
 * cannot be written: the caller must not hand the certificate out.
 */
enum est_err audit_trail_issued(struct est_req *r, const struct est_cert_rec *rec,
    struct est_error *e);

/* ---- route.c ---- */

void route_request(struct est_req *r);

/* ---- authn.c ---- */

/*
 * What authentication established, for the step that issues. Zero-initialise;
 * release with authn_result_clear().
 */
struct authn_result {
	enum est_auth_method method;      /* the method that succeeded */
	struct est_ee *ee;                /* client mode: the registered end entity (owned) */
	int64_t ee_id;                    /* end entity the certificate is linked to, 0 none */
	bool spend;                       /* spend one use of ee's code with the certificate */
	X509_NAME *subject;               /* subject to certify (owned); NULL: the CSR's */
	GENERAL_NAMES *san;               /* SAN to certify (owned; empty = none); with
	                                   * subject NULL: the CSR's, per the profile */
	bool change_subject;              /* ChangeSubjectName (RFC 6402) was honoured */
};

void authn_result_clear(struct authn_result *res);

/*
 * Authenticate an enrolment by the alias's methods, in order (see authn.c
 * for how they combine). csr is the request's CSR as read, its signature
 * NOT checked (so /serverkeygen may call this too), or NULL when it could
 * not be read: methods that need it then do not apply. On success fills
 * r->principal and *res. On failure returns EST_ERR_AUTH (answer 401 with
 * challenges; e->msg is for the log only) or EST_ERR_FORBIDDEN.
 */
enum est_err authn_enroll(struct est_req *r, X509_REQ *csr, struct authn_result *res,
    struct est_error *e);

/*
 * Whether the alias's CSRs must carry a challengePassword: it is either the
 * enrolment code (authentication = challenge-password) or the channel
 * binding (channel-binding = tls-unique). For /csrattrs (RFC 7030 §4.5,
 * EST-S-34): such an alias lists challengePassword.
 */
bool alias_requires_challenge_password(const struct est_alias *a);

/*
 * The channel-binding check of RFC 7030 §3.5 for aliases with
 * channel-binding = tls-unique (EST_OK otherwise): the CSR's
 * challengePassword must be exactly base64(tls-unique) of this connection
 * on TLS 1.2, base64(tls-exporter) on TLS 1.3 (CB-05). EST_ERR_FORBIDDEN.
 */
enum est_err authn_check_binding(struct est_req *r, X509_REQ *csr, struct est_error *e);

/*
 * The TLS client certificate of this request, verified against the alias's
 * CA, not revoked and on record; sets r->cert_ee_id to the end entity the
 * record is linked to. *cert is borrowed from the connection.
 */
enum est_err authn_client_cert(struct est_req *r, X509 **cert, struct est_error *e);

/* ---- ratelimit.c: limits on failed authentication ---- */

#define RATELIMIT_KEY_MAX 96              /* longer keys are cut (and told apart by hash) */
#define RATELIMIT_CAPACITY 4096           /* entries per table in estd */

/*
 * A table of failure counts by key: limit failures within window seconds
 * lock the key out for lockout seconds (limit 0: never). At most capacity
 * keys are tracked; see ratelimit.c for which entry gives way. Safe to use
 * from several threads. now is a CLOCK_MONOTONIC time in milliseconds,
 * passed in so tests can move the clock. Free with ratelimit_table_free().
 */
enum est_err ratelimit_table_new(unsigned limit, unsigned window, unsigned lockout,
    size_t capacity, struct ratelimit_table **out, struct est_error *e);
void ratelimit_table_free(struct ratelimit_table *t);

/* Whether key is locked out at now. */
bool ratelimit_table_locked(struct ratelimit_table *t, const char *key, int64_t now);

/*
 * Count a failure for key (not while it is locked out: those do not count).
 * Returns true when this failure starts a lock-out, which also restarts the
 * count.
 */
bool ratelimit_table_fail(struct ratelimit_table *t, const char *key, int64_t now);

/* Drop key's failures (a success). */
void ratelimit_table_forget(struct ratelimit_table *t, const char *key);

/* How many keys have failures or a lock-out at now (for tests). */
size_t ratelimit_table_count(struct ratelimit_table *t, int64_t now);

/*
 * The key a peer's failures count against: the IPv4 address, or the /64 of
 * an IPv6 one ("2001:db8::/64"; IPv4-mapped addresses as IPv4), into out.
 */
void ratelimit_source(const struct sockaddr *sa, char *out, size_t len);

/* The server's two tables from its configuration; ratelimit_fini frees them. */
enum est_err ratelimit_init(struct est_server *srv, struct est_error *e);
void ratelimit_fini(struct est_server *srv);

/*
 * Whether a password or code the request presents for name ("user NAME",
 * "end entity NAME", or "" when it names nobody) must be refused unchecked
 * because the request's source address or that name is locked out. Fills
 * e (EST_ERR_AUTH, "locked out: ...", for the log) when it is.
 */
bool ratelimit_refused(struct est_req *r, const char *name, struct est_error *e);

/*
 * Count the outcome of a checked password or code for name: a failure
 * counts against the address and the name, logging a lock-out when one
 * starts; a success clears the name's failures (not the address's).
 */
void ratelimit_note(struct est_req *r, const char *name, bool ok);

/* ---- vendor.c: vendor mode's external CAs ---- */

/*
 * Load the external CAs the aliases list from the store, add them to the
 * TLS client trust, and give each vendor-mode alias its anchors, listed CAs
 * and intermediates. A name missing from the store, or a listed CA whose
 * issuers up to a self-signed root are not all imported, fails here with
 * the configuration file and line.
 */
enum est_err vendor_load(struct est_server *srv, struct est_error *e);

/* Free what vendor_load gave srv and its aliases. */
void vendor_free(struct est_server *srv);

/* The request's TLS client certificate, valid now under one of the alias's
 * vendor CAs. *cert is borrowed. EST_ERR_FORBIDDEN with the reason. */
enum est_err vendor_verify(struct est_req *r, X509 **cert, struct est_error *e);

/* ---- binding.c ---- */

/*
 * The channel-binding value of the request's TLS connection (RFC 5929
 * tls-unique on TLS 1.2: the first Finished of the latest handshake; RFC
 * 9266 tls-exporter on TLS 1.3), base64, into out. EST_ERR_FORBIDDEN on a
 * connection without one.
 */
enum est_err binding_value(SSL *ssl, char *out, size_t outlen, struct est_error *e);

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
 * Issue a certificate for req under the request's alias (or the end entity's
 * profile) and record it in the store (retrying once on a serial
 * collision), linked to res->ee_id and, with res->spend, in one transaction
 * with spending a use of the end entity's code (a code spent meanwhile is
 * EST_ERR_AUTH like any other authentication failure). res may be NULL.
 * The certificate is committed before the caller may hand it out. Caller
 * X509_free()s *out.
 */
enum est_err issue_cert(struct est_req *r, const struct est_issue_req *req,
    const struct authn_result *res, X509 **out, struct est_error *e);

/* A certs-only response body (base64, wrapped) holding cert. Caller free()s *b64. */
enum est_err encode_certs_only(X509 *cert, char **b64, size_t *b64len, struct est_error *e);

/*
 * The end of /simpleenroll and /simplereenroll: the approval gate, then
 * issue_cert, then 200 with the certs-only body. Answers the error itself
 * on failure.
 */
void issue_and_reply(struct est_req *r, const struct est_issue_req *req,
    const struct authn_result *res);

#endif
