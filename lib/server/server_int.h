/*
 * Private contract between the files of lib/server.
 *
 * A server owns its CAs, aliases and listeners (immutable once running) and
 * N workers. Each worker is one thread with its own event loop, its own
 * store handle and credentials copy, and accepts on every listener. Workers
 * share only the connection counters (atomic), the queues of sockets they
 * hand each other (balance.c) and the authentication failure tables
 * (ratelimit.c), each behind its mutex.
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

#include "estkit/audit.h"
#include "estkit/ca.h"
#include "estkit/config.h"
#include "estkit/codec.h"
#include "estkit/httpauth.h"
#include "estkit/srp.h"
#include "estkit/bearer.h"
#include "estkit/kek.h"
#include "estkit/server.h"
#include "estkit/store.h"
#include "server/http_parse.h"
#include "server/policy.h"

struct est_alias {
	const struct est_alias_conf *conf;
	struct est_ca *ca;                /* issuing CA (borrowed from server) */
	struct est_ca *cacerts_ca;        /* whose chain /cacerts returns */
	const struct est_profile *profile;
	char *cacerts_body;               /* precomputed base64 certs-only */
	size_t cacerts_len;
	/* CA rollover (rollover.c): all NULL/0 when ca has no successor */
	struct est_ca *next_ca;           /* the successor of ca (borrowed) */
	time_t next_from;                 /* when it starts issuing */
	char *cacerts_after_body;         /* /cacerts once the old CA has expired */
	size_t cacerts_after_len;
	time_t cacerts_switch;            /* the old CA certificate's notAfter */
	/* vendor mode (vendor.c): all owned, NULL otherwise */
	STACK_OF(X509) *vendor_listed;    /* the CAs vendor-cas names */
	STACK_OF(X509) *vendor_anchors;   /* the external roots above them */
	STACK_OF(X509) *vendor_untrusted; /* external CAs between */
	/* ra-cas (vendor.c): the same for external CAs of RA certificates, NULL otherwise */
	STACK_OF(X509) *ra_listed;
	STACK_OF(X509) *ra_anchors;
	STACK_OF(X509) *ra_untrusted;
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
struct pending_issue;
struct pending_hold;
struct side_job;
struct crl_keeper;
struct key_maker;
struct ocsp_cache;

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
	struct ocsp_cache *ocsp;          /* OCSP responses kept, signing budget */
	TAILQ_HEAD(conn_list, conn) conns; /* open connections, oldest first */
	TAILQ_HEAD(pending_list, pending_issue) pending; /* enrolments with the store
	                                   * writer (reply_cert.c) */
	TAILQ_HEAD(hold_list, pending_hold) holds; /* new requests for approval being
	                                   * recorded (approval.c) */
	atomic_uint evictable;            /* idle or handshaking ones at the last count,
	                                   * less those other workers claimed since */
	atomic_uint evict_asked;          /* closes other workers asked for */
	struct event *recount;            /* counts evictable, EVICT_RECOUNT_MS */
	struct event *evict;              /* runs the closes asked for */
	TAILQ_HEAD(side_job_list, side_job) side_jobs; /* requests waiting for a side
	                                   * thread (side_thread.c) */
	atomic_bool draining;             /* stopping: no accepts, no keep-alive (set on its
	                                   * own thread; balance.c reads it) */
	atomic_uint held;                 /* connections it serves or was handed (balance.c) */
	pthread_mutex_t handoff_lock;     /* guards handoffs */
	bool handoff_lock_made;
	STAILQ_HEAD(handoff_list, handoff) handoffs; /* sockets other workers handed it */
	struct event *handoff_ev;         /* made active when one is handed */
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
	struct server_carry *carry;       /* what a reload hands on (carry.c) */
	struct est_nonces *nonces;        /* Digest nonces issued, all workers (carry's) */
	struct est_srp_server srp;        /* TLS-SRP lookups (srp-verifiers), for srp listeners */
	struct est_bearer_conf bearer;    /* HTTP Bearer: token file, JWT key (owned) */
	X509_STORE *client_trust;         /* every CA a TLS client cert may chain to */
	atomic_uint connections;          /* open connections, all workers */
	struct connlimit *per_source;     /* open connections per source address (carry's) */
	struct ext_ca *ext_cas;           /* those the aliases use, from the store */
	size_t n_ext_cas;
	struct est_keks *keks;            /* decrypt-keys for /serverkeygen, or NULL */
	struct ratelimit_table *fails_by_source; /* failed passwords per address (carry's) */
	struct ratelimit_table *fails_by_name;   /* ... per user or end entity (carry's) */
	struct est_store_writer *writer;  /* records enrolments in groups (reply_cert.c) */
	struct crl_keeper *crl_keeper;    /* makes CRLs off the event loops (crl_keeper.c) */
	struct key_maker *key_maker;      /* makes /serverkeygen's keys off them (key_maker.c) */
	char *lockout_path;               /* the lock-out file (lockout_sync.c) */
	atomic_bool lockout_file_broken;  /* a write failed: the file lifts nothing */
	int access_fd;                    /* access-log file when access-log is set */
	struct est_audit *audit;          /* the audit log, NULL: none configured */
	int stop_pipe[2];
};

/* ---- tls.c ---- */

/* SSL_CTX for a listener: TLS 1.2+, strong ciphers, no renegotiation,
 * client certificates asked for per the listener's mode. */
enum est_err tls_listener_ctx(struct est_server *srv, struct est_listener *l,
    struct est_error *e);

/* ---- tls.c: what a request may know of its TLS connection ---- */

/*
 * The facts about a TLS connection that authentication and handlers use,
 * captured once when the handshake is done, so nothing above conn.c needs
 * the SSL object (and tests can fill them by hand).
 */
struct tls_facts {
	bool tls;                         /* the connection is TLS */
	X509 *peer;                       /* client certificate (owned), NULL: none */
	STACK_OF(X509) *chain;            /* the client's other certificates (owned), or NULL */
	STACK_OF(X509) *verified;         /* the path the handshake validated, leaf first
	                                   * (owned; its signatures are good), or NULL */
	char binding[96];                 /* base64 channel binding (binding.c), "" for none */
	char srp_user[EST_HTTPAUTH_MAX_USER + 1]; /* the TLS-SRP user, "" for none */
	int cipher_bits;                  /* the symmetric cipher's strength in bits */
};

/* Fill f from a connection whose handshake is done. */
void tls_facts_capture(struct tls_facts *f, SSL *ssl);

/* Free what f holds and zero it; f may be zeroed already. */
void tls_facts_clear(struct tls_facts *f);

/* ---- http.c: HTTP framing on one connection ---- */

enum http_state {
	HTTP_HEAD,                        /* reading a request head (or idle between requests) */
	HTTP_BODY,                        /* reading its body */
	HTTP_SERVING,                     /* a request is with its handler */
	HTTP_DONE                         /* the last answer is queued; read no more */
};

/* HTTP's state on a connection; zeroed with the connection, http.c's own. */
struct http_session {
	enum http_state state;
	struct http_head head;            /* valid from HTTP_BODY */
	struct est_req *req;              /* the request being served, or NULL */
	unsigned served;                  /* requests answered */
	unsigned logged;                  /* access-log lines written one by one */
	unsigned summed[6];               /* lines summarised since, by status class */
	time_t summed_since;              /* when the first of them came */
};

/* ---- conn.c: one client connection, transport only ---- */

/*
 * Output a connection may hold unsent before it stops reading requests:
 * pipelined requests are then served as fast as the client reads answers.
 */
#define CONN_OUTPUT_BOUND (256 * 1024)

enum conn_state {
	CONN_HANDSHAKE,                   /* TLS handshake under way */
	CONN_OPEN,                        /* reading and answering */
	CONN_CLOSING,                     /* the last answer is queued; close once written */
	CONN_LINGER                       /* answer sent, our side shut: draining input */
};

struct conn {
	struct est_worker *worker;
	struct est_listener *listener;
	struct bufferevent *bev;
	SSL *ssl;                         /* NULL on a plain listener */
	char peer[80];                    /* "ADDR:PORT" */
	char source[64];                  /* the address limits count against
	                                   * (ratelimit_source) */
	enum conn_state state;
	bool paused;                      /* not reading until output drains */
	bool held;                        /* a request is served later: input kept
	                                   * unparsed, no idle-timeout (conn_hold_input) */
	bool counted;                     /* holds a slot in the per-address count */
	struct tls_facts tls;             /* valid once the handshake is done */
	struct http_session http;         /* HTTP's state (http.c) */
	struct event *deadline;           /* handshake-timeout, then read-timeout per request */
	TAILQ_ENTRY(conn) link;           /* in worker->conns, oldest first */
};

/* Close a connection and free it (also used at worker shutdown). A request
 * of it being served later (http_defer) is detached: its answer then goes
 * to no one. */
void conn_free(struct conn *c);

/* How many of w's connections are idle or handshaking (w's thread only). */
unsigned conn_count_evictable(struct est_worker *w);

/* Close w's oldest idle or handshaking connection; false when none is (w's thread only). */
bool conn_evict_oldest(struct est_worker *w);

/*
 * At most one line a second for a kind of event a client can repeat at will
 * (a refusal, a malformed OCSP request); the next line
 * tells how many were not logged. Zero-initialised, one per kind.
 */
struct log_limit {
	atomic_llong second;
	atomic_uint lines;                /* written this second */
	atomic_uint dropped;
	unsigned per_second;              /* lines a second; 0: one */
};

/*
 * Whether to log now; *dropped: how many were not logged since the last
 * line (counted into the first line of a later second).
 */
bool log_limit_pass(struct log_limit *l, unsigned *dropped);

/* accept_pause.c */

/*
 * When evl cannot accept (out of descriptors or memory), stop accepting on
 * it for a moment rather than retry at once for as long as a connection
 * waits.
 */
void accept_pause_on_error(struct evconnlistener *evl);

/*
 * Close w's connections that are between requests: each has answered at
 * least one and nothing of the next has arrived or is waiting to be
 * written (w's thread only; a drain). A client may always see a kept-alive
 * connection close (RFC 9112 §9.3.1) and retries. A connection that has
 * answered nothing yet is not closed: its first request is on the way.
 */
void conn_close_idle(struct est_worker *w);

/* Accept callback for evconnlistener (arg: struct worker_listener). */
void conn_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg);

/* Serve an admitted socket (fd is taken) on wl's worker, from its thread;
 * source is the address the connection limits counted it against. */
void conn_start(struct worker_listener *wl, evutil_socket_t fd, struct sockaddr *sa, int salen,
    const char *source);

/* Close an admitted socket never served by w: give back its slots. */
void conn_unadmit(struct est_worker *w, evutil_socket_t fd, const char *source);

/* What http.c writes answers into (borrowed). */
struct evbuffer *conn_output(struct conn *c);

/* The answer just queued is the last: close once it is written. */
void conn_last_answer(struct conn *c);

/*
 * Whether HTTP may take another request from the input now. False once the
 * connection is closing, and while the unsent output is over
 * CONN_OUTPUT_BOUND: then conn.c stops reading and calls http_input again
 * when the client has read enough.
 */
bool conn_may_take_request(struct conn *c);

/* A request's first byte came: start its read-timeout (once per request). */
void conn_request_started(struct conn *c);

/* The request is complete: stop its read-timeout. */
void conn_request_read(struct conn *c);

/*
 * A request is being served later (http_defer): what the client sends
 * meanwhile is read and kept for HTTP (its next requests), and no
 * idle-timeout runs until conn_release_input; the end of the input (a
 * close, or a half-close: the client is taken to have gone) or an error
 * frees the connection, detaching the request (conn_free).
 */
void conn_hold_input(struct conn *c);

/* Its answer is queued: read again (unless back-pressure says not yet). */
void conn_release_input(struct conn *c);

/* ---- balance.c: spreading connections over the workers ---- */

/*
 * Just admitted on wl's worker: when another worker holds fewer
 * connections, hand it the socket (taken) and return true; else count it
 * as held by wl's worker and return false (the caller then serves it).
 */
bool balance_hand_off(struct worker_listener *wl, evutil_socket_t fd, const struct sockaddr *sa,
    int salen, const char *source);

/* w's queue of handed sockets; balance_free (after w's loop has stopped)
 * closes those never taken. */
enum est_err balance_init(struct est_worker *w, struct est_error *e);
void balance_free(struct est_worker *w);

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

/* From another worker's thread: have w close its oldest idle connection. */
void worker_evict(struct est_worker *w);

/* ---- connlimit.c: open connections per source address ---- */

struct connlimit;

/* A table allowing each source at most per_source connections. Free with connlimit_free. */
enum est_err connlimit_new(unsigned per_source, struct connlimit **out, struct est_error *e);
void connlimit_free(struct connlimit *t);

/* Take a slot for source; false when it already holds per_source. Thread-safe. */
bool connlimit_take(struct connlimit *t, const char *source);

/* Give back a slot connlimit_take gave. */
void connlimit_give(struct connlimit *t, const char *source);

/* Change the limit (a reload); sources above it keep theirs but get no more. */
void connlimit_set_limit(struct connlimit *t, unsigned per_source);

/* ---- carry.c: what a reload hands from a server to its successor ---- */

/*
 * The state that must outlive a reload, shared (reference-counted) by a
 * server and the one replacing it while the old one drains: the Digest
 * nonces issued (their replay records), the open connections per source
 * address (connections of the old server keep their slots), and the
 * failed-authentication tables with their lock-outs.
 *
 * carry_take gives srv a fresh carry (old NULL) or a reference to old's;
 * it sets srv->carry, nonces, per_source, fails_by_source and
 * fails_by_name. carry_start, before srv's workers start: the first
 * server empties the lock-out file (lockout_sync_reset). carry_retune,
 * once every thread of srv runs: a successor applies its configuration's
 * limits to the carried state (not before: a refused reload changes
 * nothing; for the first server they are its own already). carry_drop
 * releases srv's reference; the last one frees the state. Called from the
 * thread that runs the server's life cycle (estd's main thread).
 */
struct server_carry;

enum est_err carry_take(struct est_server *srv, const struct est_server *old,
    struct est_error *e);
void carry_start(struct est_server *srv);
void carry_retune(struct est_server *srv);
void carry_drop(struct est_server *srv);

/* ---- http.c: one request ---- */

/*
 * A request, from its complete head and body until its answer is written.
 * http.c allocates it and frees it once answered; the handler owns nothing
 * in it. Everything a handler needs is here (no socket): the head, the
 * body, the TLS facts, the source address, the worker's store and
 * credentials. The answer is framed into r->answer; http.c hands it to the
 * connection, so a request made with http_req_new (conn NULL) runs through
 * routing, authentication and handlers in a unit test.
 */
struct est_req {
	struct conn *conn;                /* http.c's; NULL for a request made alone */
	const struct http_head *head;
	const unsigned char *body;        /* owned copy, NUL-terminated */
	size_t body_len;
	struct evbuffer *resp_headers;    /* headers added for the response */
	struct est_worker *worker;
	struct est_listener *listener;
	const struct tls_facts *tls;      /* the connection's (never NULL; tls false on plain) */
	const char *source;               /* the address failures count against */
	struct est_alias *alias;          /* NULL until routed */
	const char *op;                   /* operation name, NULL until routed */
	char peer[80];                    /* "ADDR:PORT" */
	char principal[160];              /* who authenticated, "-" before */
	int64_t cert_ee_id;               /* end entity of the client certificate on
	                                   * record (authn_client_cert), 0 for none */
	bool cert_of_alias;               /* ... which was issued through this alias */
	char cert_alias[64];              /* ... the alias it was issued through (messages) */
	struct timespec start;
	char serial[72];                  /* serial of the certificate issued, "" none */
	bool secret_checked;              /* a password or code was checked ... */
	enum est_auth_method secret_method; /* ... by this method (access log, metrics) */
	bool head_only;                   /* HEAD: the answer has no body */
	struct evbuffer *answer;          /* the framed answer (owned) */
	int status;                       /* its status, once answered */
	bool last;                        /* the connection closes after it */
	bool auth_stale;                  /* a 401 should say stale=true */
	bool auth_no_guess;               /* the failed secret was right (a code lost a
	                                   * race): not counted against the limits */
	const char *bearer_error;         /* RFC 6750 error code for the 401, or NULL */
	bool answered;
	bool deferred;                    /* answered later (http_defer) */
	bool from_conn;                   /* made by http.c from a connection, which
	                                   * frees it */
	struct side_job *side_job;        /* the side thread's job it waits for, or NULL
	                                   * (side_thread.c) */
};

/*
 * A request on its own: head (borrowed, must outlive it) and a copy of
 * body. Fill worker, listener, tls, source (and peer) before serving it.
 * NULL when out of memory. Free with http_req_free().
 */
struct est_req *http_req_new(const struct http_head *head, const void *body, size_t len);
void http_req_free(struct est_req *r);

/*
 * conn.c's entry: take every complete request from in (pipelined ones too)
 * while conn_may_take_request allows, answering limits (431, 413) and
 * sending 100 Continue, and hand each to route_request.
 */
void http_input(struct conn *c, struct evbuffer *in);

/*
 * A timeout fired (why: which one); pending: input is waiting that HTTP has
 * not taken. Returns true when a request was under way and was answered
 * 408 (the connection then closes after writing it); false when the
 * connection was idle, or its request is being served later, and may
 * simply be closed.
 */
bool http_timeout(struct conn *c, bool pending, const char *why);

/* Whether HTTP is between requests (nothing parsed of the next one). */
bool http_idle(const struct conn *c);

/* http_idle, after at least one answered request (a drain may close it). */
bool http_between_requests(const struct conn *c);

/* Release HTTP's state of a closing connection (writes any log summary);
 * a request of it being served later is detached, not freed. */
void http_session_clear(struct conn *c);

/*
 * Answer r later (the grouped store writer's path): the handler returns
 * without answering, and answers r from the worker's loop once it can
 * (http_reply or http_fail), then calls http_complete(r). Meanwhile the
 * connection reads nothing more, and r stays http.c's. If the client goes
 * before that, r->conn becomes NULL and the head, TLS facts and source
 * are gone: the answer then reaches only the log.
 */
void http_defer(struct est_req *r);

/*
 * The deferred r is answered: hand the answer to its connection (if it is
 * still there), free r, and go on with the connection's next request. A
 * request made alone (http_req_new) is left to its maker to free.
 */
void http_complete(struct est_req *r);

/* The reason phrase of an HTTP status estd answers with. */
const char *http_status_phrase(int status);

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
 * logs it. Both write the access log line. After either, r is no longer the
 * handler's.
 */
void http_reply(struct est_req *r, int status, const char *content_type,
    const void *body, size_t len);
void http_fail(struct est_req *r, const struct est_error *err);

/* ---- access_log.c ---- */

/* Open the access-log file if one is configured (srv->access_fd). */
enum est_err access_log_open(struct est_server *srv, struct est_error *e);
void access_log_close(struct est_server *srv);

/*
 * Write the access-log line of an answer and count it for /metrics: r is
 * the request, or NULL for one refused before it could be read whole; c is
 * its connection, or NULL for a request made alone (http_req_new). reason
 * is the refusal's reason or NULL. A connection past its first lines is
 * summarised instead (access_log.c).
 */
void access_log(struct conn *c, struct est_req *r, int status, const char *reason);

/* Write c's summary of the lines not written one by one, if any. */
void access_log_summary(struct conn *c);

/*
 * The name of the authentication method a request used or tried ("basic",
 * "digest", "bearer", "http" for another HTTP scheme, "certificate",
 * "challenge-password", "vendor-certificate", "srp", "none"; docs/logs.md):
 * a static string, never taken from the request.
 */
const char *access_auth_method(struct est_req *r);

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
 * The audit entry of a certificate issued, made when its record goes to
 * the store writer and written by the writer's hook (audit_trail_durable)
 * once the record is durable. Self-contained but for the record (whose
 * subject and SAN it borrows) and the configuration's names.
 */
struct audit_note {
	struct est_audit_entry entry;
	const char *fields[2 * 10];
	char who[sizeof(((struct est_req *)0)->principal)];
	char peer[sizeof(((struct est_req *)0)->peer)];
	char serial[EST_SERIAL_SHOWN_MAX];
	char replaced[EST_SERIAL_SHOWN_MAX];
	char max_active[16];
};

/*
 * Make the entry saying that rec was issued for request r (what: issue,
 * renew or serverkeygen by the operation) under policy decision d (its
 * profile, a certificate revoked as replaced, max-active), spending an end
 * entity's code when code_spent.
 */
void audit_trail_note(struct est_req *r, const struct policy_decision *d,
    const struct est_cert_rec *rec, bool code_spent, struct audit_note *note);

/*
 * The store writer's on_durable hook (arg: the est_server): the entries of
 * the group's writes that succeeded and carry a note (durable_arg), in one
 * append. When they cannot be written, those writes fail with
 * EST_ERR_UNAVAILABLE: their certificates are stored but not handed out
 * (fail closed), and the log says so for each.
 */
void audit_trail_durable(void *arg, struct est_write *group);

/* ---- route.c ---- */

void route_request(struct est_req *r);

/* ---- authn.c ---- */

/*
 * What authentication established: who the client is, nothing about what
 * it may get (that is policy.c's). Zero-initialise; release with
 * authn_result_clear().
 */
struct authn_result {
	enum est_auth_method method;      /* the method that succeeded */
	struct policy_principal who;      /* who.ee is owned here (res->ee) */
	struct est_ee *ee;                /* the end entity, owned; NULL for none */
};

void authn_result_clear(struct authn_result *res);

/*
 * Authenticate an enrolment by the alias's methods, in order (see authn.c
 * for how they combine). csr is the request's CSR as read, its signature
 * NOT checked (so /serverkeygen may call this too), or NULL when it could
 * not be read: methods that need it then do not apply. On success fills
 * r->principal and *res. On failure returns EST_ERR_AUTH, with the 401's
 * WWW-Authenticate challenges added to r's response (e->msg is for the log
 * only), or EST_ERR_FORBIDDEN.
 */
enum est_err authn_enroll(struct est_req *r, X509_REQ *csr, struct authn_result *res,
    struct est_error *e);

/*
 * Add the WWW-Authenticate challenges of a 401 to r's response, for a
 * refusal found after authn_enroll let the client in: its one-time code
 * spent by another enrolment before this one's record was written.
 */
void authn_add_challenges(struct est_req *r);

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
 * With by_ra (the client is an RA certificate, RFC 7030 §3.7, EST-S-38)
 * the CSR comes from the RA's client, linked to that client's connection
 * with the RA, which checked it: the value must be there, and is not
 * compared with this connection's.
 */
enum est_err authn_check_binding(struct est_req *r, X509_REQ *csr, bool by_ra,
    struct est_error *e);

/*
 * The TLS client certificate of this request, verified against the alias's
 * CA, not revoked and on record; sets r->cert_ee_id to the end entity the
 * record is linked to, and r->cert_of_alias to whether the record names this
 * alias as the one it was issued through. *cert is borrowed from the
 * connection.
 */
enum est_err authn_client_cert(struct est_req *r, X509 **cert, struct est_error *e);

/* ---- lockout_sync.c: lock-outs shared with estadm through a file ---- */

/* The file's path from the configuration; lockout_sync_fini frees it. */
enum est_err lockout_sync_init(struct est_server *srv, struct est_error *e);
void lockout_sync_fini(struct est_server *srv);

/* Empty the file when serving starts: a restart forgets every lock-out (a
 * reload keeps them, and the file). */
void lockout_sync_reset(struct est_server *srv);

/* Record a lock-out of KIND ("address" or "name") KEY that just started
 * (KEY as ratelimit.c counts it: an address, or "user U" / "end entity E"). */
void lockout_started(struct est_server *srv, const char *kind, const char *key);

/* Whether an administrator lifted KIND KEY (estadm lockout clear). */
bool lockout_lifted(struct est_server *srv, const char *kind, const char *key);

/* ---- policy_server.c: the policy step for a request ---- */

/*
 * Run policy_decide for this request: the alias, its profile, the
 * principal, the CSR (signature checked), the certificate being renewed
 * (REENROLL) and the store's end entities as owners of names. On refusal
 * the reason is logged with the principal by http_fail.
 */
enum est_err policy_for_request(struct est_req *r, enum policy_op op,
    const struct policy_principal *who, X509_REQ *csr, X509 *renewing,
    struct policy_decision *d, struct est_error *e);

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

/* Change a table's limit, window and lock-out (a reload); counts are kept. */
void ratelimit_table_retune(struct ratelimit_table *t, unsigned limit, unsigned window,
    unsigned lockout);

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

/* ---- ocsp_cache.c: signed OCSP responses kept, and the signing budget ---- */

/*
 * A worker's OCSP cache, with a budget of rate new signatures a second (0:
 * none). Used on that worker's thread only. Free with ocsp_cache_free().
 */
enum est_err ocsp_cache_new(double rate, struct ocsp_cache **out, struct est_error *e);
void ocsp_cache_free(struct ocsp_cache *c);

/*
 * The response kept under key, if it may still be sent at now: *der is
 * borrowed, valid until the next ocsp_cache_put.
 */
bool ocsp_cache_get(struct ocsp_cache *c, const unsigned char *key, size_t keylen, time_t now,
    const unsigned char **der, size_t *derlen);

/*
 * Keep a copy of der under key until the second until, in place of the
 * entry of its set whose time ends first. Out of memory, nothing is kept:
 * the response is made again when next asked.
 */
void ocsp_cache_put(struct ocsp_cache *c, const unsigned char *key, size_t keylen,
    const unsigned char *der, size_t derlen, time_t until);

/* Whether a new signature may be made at now_ms (CLOCK_MONOTONIC ms); counts it. */
bool ocsp_cache_spend(struct ocsp_cache *c, int64_t now_ms);

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

/* The same under one of the alias's ra-cas (EST_ERR_FORBIDDEN when it has none). */
enum est_err vendor_verify_ra(struct est_req *r, X509 **cert, struct est_error *e);

/* ---- binding.c ---- */

/*
 * The channel-binding value of the request's TLS connection (RFC 5929
 * tls-unique on TLS 1.2: the first Finished of the latest handshake; RFC
 * 9266 tls-exporter on TLS 1.3), base64, into out. EST_ERR_FORBIDDEN on a
 * connection without one.
 */
enum est_err binding_value(SSL *ssl, char *out, size_t outlen, struct est_error *e);

/* ---- revocation.c: CRLs and OCSP for relying parties ---- */

/* Give each CA its revocation URLs and OCSP responder from the configuration. */
enum est_err revocation_load(struct est_server *srv, struct est_error *e);

/* Whether the request's path is one h_crl / h_ocsp serves (and set r->op). */
bool crl_claims(struct est_req *r);
bool ocsp_claims(struct est_req *r);

/* Answer a CRL request with crl (borrowed): 200, or 304 when the client
 * holds it (ETag, Last-Modified). */
void crl_reply(struct est_req *r, const struct est_crl_rec *crl);

/* ---- side_thread.c: a thread that takes work off the workers' loops ---- */

struct side_thread;

/* What a side thread's jobs are; the module that runs one fills it in. */
struct side_ops {
	const char *name;                 /* for messages: "the key maker" */
	const char *made;                 /* for messages: "its key was made" */
	bool one_at_a_time;               /* takes the oldest job per turn (those left
	                                   * when it stops fail), not every job queued */
	/* The thread: do the jobs of list (oldest first, linked by next; none
	 * abandoned when taken): set each one's rc and err (and its outcome),
	 * then side_job_done(j). */
	void (*run)(void *owner, struct side_job *list);
	/* The thread, or NULL: periodic work, first as the thread starts; returns
	 * the seconds until the next time. */
	unsigned (*tick)(void *owner);
	/* j's worker loop: j is done (j->rc, j->err); answer j->req, free j. */
	void (*answer)(struct side_job *j);
	/* j's worker at shutdown, j never answered: free j, not j->req. */
	void (*discard)(struct side_job *j);
};

/* A request waiting for a side thread: the first member of a module's job,
 * which the module allocates. The worker owns it; the thread only does it,
 * fills in rc and err, and wakes the worker's loop. */
struct side_job {
	const struct side_ops *ops;
	struct est_worker *worker;
	struct est_req *req;              /* deferred (http_defer) */
	struct event *ev;                 /* run in the worker's loop with the outcome */
	enum est_err rc;                  /* the outcome: EST_OK, or err */
	struct est_error err;
	atomic_bool abandoned;            /* its client left (side_job_abandon) */
	struct side_job *next;            /* in the thread's queue (under its lock), then
	                                   * in the list run is given */
	TAILQ_ENTRY(side_job) link;       /* in worker->side_jobs (its thread) */
};

/*
 * A side thread doing ops' jobs, ops and owner borrowed for its life;
 * side_thread_start starts it (from est_server_start), side_thread_stop
 * stops it (a job still queued is failed, 503, with "the server is
 * stopping") and frees t: after the workers are joined, before they are
 * freed. Main thread only; t may be NULL for both.
 */
enum est_err side_thread_new(const struct side_ops *ops, void *owner,
    struct side_thread **out, struct est_error *e);
enum est_err side_thread_start(struct side_thread *t, struct est_error *e);
void side_thread_stop(struct side_thread *t);

/*
 * In r's worker loop: defer r (http_defer) and queue j for t (NULL: not
 * running); ops->answer(j) then runs in that loop. On an error (out of
 * memory; EST_ERR_UNAVAILABLE when t takes no jobs) j is not queued, and the
 * caller frees j and answers r with e.
 */
enum est_err side_thread_queue(struct side_thread *t, const struct side_ops *ops,
    struct side_job *j, struct est_req *r, struct est_error *e);

/* The thread: j's outcome is filled in; have its worker answer it. */
void side_job_done(struct side_job *j);

/*
 * j's worker loop: j's client has gone (its connection freed, j->req
 * detached). The thread skips j if it has not started it; else what it
 * makes is dropped when j comes back: nothing is answered, issued or
 * recorded for j, and one line is logged.
 */
void side_job_abandon(struct side_job *j);

/* Free w's jobs still waiting at shutdown, unanswered (after their side
 * threads have stopped). */
void side_thread_drop_pending(struct est_worker *w);

/* ---- crl_keeper.c: the side thread that makes CRLs ---- */

/*
 * A server's CRL keeper, with its own store handle (opened here, before
 * privileges are dropped); its thread starts with crl_keeper_start (from
 * est_server_start: it checks each CA's CRL at once, rewriting crl-file,
 * then every crl-check-interval seconds). crl_keeper_stop stops the thread
 * (a request still queued is failed, 503) and frees k; call it after the
 * workers are joined and before they are freed. Main thread only; k may be
 * NULL for both.
 */
enum est_err crl_keeper_new(struct est_server *srv, struct crl_keeper **out,
    struct est_error *e);
enum est_err crl_keeper_start(struct crl_keeper *k, struct est_error *e);
void crl_keeper_stop(struct crl_keeper *k);

/*
 * The stored CRL of CA ca_index is stale: defer r (http_defer) and have the
 * keeper make the CRL; r is answered from its worker's loop (crl_reply, or
 * the keeper's error) once it is made. Requests waiting together share one
 * new CRL. Answers the error itself when the keeper cannot take r.
 */
void crl_keeper_ask(struct est_req *r, size_t ca_index);

/* ---- key_maker.c: the side thread that makes /serverkeygen's keys ---- */

/*
 * A server's key maker; key_maker_start starts its thread (from
 * est_server_start), key_maker_stop stops it (a request still queued is
 * failed, 503) and frees k: after the workers are joined, before they are
 * freed. Main thread only; k may be NULL for both.
 */
enum est_err key_maker_new(struct key_maker **out, struct est_error *e);
enum est_err key_maker_start(struct key_maker *k, struct est_error *e);
void key_maker_stop(struct key_maker *k);

/*
 * Called in r's worker loop once the key is made: key (the callee's to
 * free) or NULL and why in e (borrowed for the call). r is deferred; the
 * callee answers it, and calls http_complete once it is answered.
 */
typedef void (*key_made_fn)(struct est_req *r, EVP_PKEY *key, const struct est_error *e,
    void *arg);

/*
 * Defer r (http_defer) and have the key maker make a key: of spec
 * (est_key_generate), or like like (est_key_generate_like; borrowed, must
 * live as long as arg); then done(r, key, e, arg) in r's worker loop. arg is
 * done's to free; free_arg frees it when done is never called (r failed
 * here, answered with the error, or dropped at shutdown).
 */
void key_maker_ask(struct est_req *r, const char *spec, EVP_PKEY *like, key_made_fn done,
    void (*free_arg)(void *), void *arg);

/* ---- handlers (h_*.c) ---- */

void h_cacerts(struct est_req *r);
void h_simpleenroll(struct est_req *r);
void h_simplereenroll(struct est_req *r);
void h_serverkeygen(struct est_req *r);
void h_csrattrs(struct est_req *r);
void h_crl(struct est_req *r);
void h_ocsp(struct est_req *r);

/* ---- approval.c: the manual-approval gate of every enrolment ---- */

/*
 * Let an enrolment through, or hold it. On an alias with approval = auto:
 * EST_OK and *ticket = 0. Otherwise the request -- alias, operation, the
 * CSR's public key, the subject and SAN the policy decided (d) -- is held in the
 * store (EST-S-44): pending gives EST_ERR_PENDING (202; http_fail adds
 * Retry-After), rejected EST_ERR_FORBIDDEN, and approved EST_OK with
 * *ticket = its id, which the certificate's record then claims (one
 * certificate per approval; est_issue_record.approval_id). A request not
 * on record yet is recorded through the grouped writer: EST_ERR_PENDING
 * with r deferred (http_defer), answered 202 once durable; the caller then
 * answers nothing.
 */
enum est_err approval_admit(struct est_req *r, const struct policy_decision *d,
    X509_REQ *csr, int64_t *ticket, struct est_error *e);

/* Free w's requests still being held at shutdown, unanswered (as
 * reply_cert_drop_pending). */
void approval_drop_pending(struct est_worker *w);

/* ---- reply_cert.c: the common end of every enrolment ---- */

/* A certs-only response body (base64, wrapped) holding cert. Caller free()s *b64. */
enum est_err encode_certs_only(X509 *cert, char **b64, size_t *b64len, struct est_error *e);

/*
 * How an enrolment is answered once its certificate is on record: reply
 * answers r (http_reply) with cert (borrowed) or returns the error, which
 * is then answered; free_arg (may be NULL) frees arg, also when the
 * enrolment fails before.
 */
struct issue_answer {
	enum est_err (*reply)(struct est_req *r, X509 *cert, void *arg, struct est_error *e);
	void (*free_arg)(void *arg);
	void *arg;
};

/*
 * Issue the certificate the policy decided under the request's alias and
 * record it through the server's grouped writer, in one transaction with
 * what the decision says goes with it: claiming the approval (ticket, 0 for
 * none), spending a use of the end entity's code (a code spent meanwhile is
 * EST_ERR_AUTH like any other authentication failure), revoking the
 * replaced certificate, the end entity's limit of valid certificates. The
 * request is deferred (http_defer) and answered from the worker's loop once
 * the record is durable (a taken serial is drawn again, once), so no event
 * loop waits for the disk and no client sees a certificate not on record.
 * With csr (taken over, *csr left NULL) the certificate carries its key's
 * bytes; without, d->pubkey is certified (and must outlive the answer:
 * keep it in a->arg). Takes over d's contents (d left empty) and a->arg.
 * Answers the error itself on failure.
 */
void issue_and_answer(struct est_req *r, struct policy_decision *d, X509_REQ **csr,
    int64_t ticket, const struct issue_answer *a);

/*
 * The end of /simpleenroll and /simplereenroll: the approval gate, then
 * issue_and_answer with 200 and the certs-only body. Takes over d's
 * contents and *csr (both left empty).
 */
void issue_and_reply(struct est_req *r, struct policy_decision *d, X509_REQ **csr);

/* Free w's enrolments still with the writer at shutdown, unanswered (after
 * its connections are closed, the writer stopped). */
void reply_cert_drop_pending(struct est_worker *w);

/* ---- rollover.c: a CA that succeeds another (RFC 7030 §4.1.3) ---- */

/*
 * For each [ca] with a predecessor: check its rollover certificates and
 * make the predecessor's aliases issue under it from issue-from, accept
 * certificates of both, and serve both in /cacerts. After load_aliases.
 */
enum est_err rollover_load(struct est_server *srv, struct est_error *e);

/* The CA that issues for alias a at `now`: its successor from issue-from. */
struct est_ca *rollover_issuer(const struct est_alias *a, time_t now);

/* The /cacerts body of alias a at `now` (borrowed). */
void rollover_cacerts(const struct est_alias *a, time_t now, const char **body, size_t *len);

#endif
