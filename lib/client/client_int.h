/*
 * lib/client internals shared between its files. Nothing here is public API.
 *
 * One struct est_client owns one libcurl easy handle for its whole life, so
 * libcurl keeps the connection between requests: the channel-binding value
 * read during one request belongs to the connection the next request uses
 * (checked with CURLINFO_NUM_CONNECTS, see ops.c).
 */
#ifndef ESTKIT_CLIENT_INT_H
#define ESTKIT_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "estkit/client.h"
#include "estkit/err.h"

#define CL_BODY_MAX (1024 * 1024)   /* an EST answer is a few KiB */
#define CL_CB_MAX 64                /* channel-binding value, bytes */
/*
 * Certificates in one answer. A CA's bag is a handful (roots, intermediates,
 * the three rollover certificates); validating it costs time in the square
 * of its size, so a megabyte of them would hold the client for minutes.
 */
#define CL_CERTS_MAX 64

struct est_client {
	CURL *curl;
	char *base;                     /* https://host:port/.well-known/est[/label] */
	char *host;                     /* as certificates name it (IPv6 unbracketed) */
	bool host_is_ip;
	struct curl_slist *resolve;     /* CURLOPT_RESOLVE entry, or NULL */
	STACK_OF(X509) *tas;            /* trust anchors; NULL: the system's store */
	bool bootstrap;                 /* no server authentication: /cacerts only */
	bool tls13_only;                /* refuse TLS 1.2 */
	STACK_OF(X509) *cabag;          /* the last validated /cacerts answer, or NULL */
	STACK_OF(X509) *caroots;        /* its roots, the current one first */
	X509 *cert;                     /* TLS client certificate, or NULL */
	STACK_OF(X509) *chain;
	EVP_PKEY *key;
	char *user, *password;          /* HTTP Basic/Digest, or NULL */
	char *token;                    /* HTTP Bearer, or NULL */
	char *srp_user, *srp_password;  /* TLS-SRP, or NULL */
	bool empty_basic;               /* send "Authorization: Basic Og==" (libest quirk) */
	unsigned offered;               /* CL_CH_* of the last 401 (cl_request_url) */
	unsigned settled;               /* CL_CH_* sent unasked from now on (cl_settle_auth) */
	unsigned connect_timeout, read_timeout, retry_max, retry_wait_max;
	long failed_status;             /* est_client_failed_status() */
	unsigned retry_after;           /* est_client_retry_after() */
	bool retry_given;               /* the server sent a readable Retry-After */
	struct curl_slist *hdr_post;    /* Content-Type: application/pkcs10 ... */
	struct curl_slist *hdr_get;
	struct cl_response *cur;        /* the answer being received */
	char errbuf[CURL_ERROR_SIZE];
};

/* One HTTP answer (the last one, after any authentication round trip). */
struct cl_response {
	long status;
	char content_type[256];         /* "" when absent */
	char retry_after[64];           /* "" when absent */
	char location[512];             /* "" when absent */
	unsigned challenges;            /* CL_CH_* schemes of WWW-Authenticate */
	bool ems;                       /* TLS 1.2 with Extended Master Secret (RFC 7627) */
	unsigned char *body;            /* malloc'd; NUL-terminated for convenience */
	size_t len, cap;
	long new_connections;           /* connections opened for this request */
	unsigned char cb[CL_CB_MAX];    /* channel binding of the connection used */
	size_t cb_len;                  /* 0 when it could not be read */
	long long alive_ms;             /* last sign of life once connected; 0 before */
	long long sent_ms;              /* when the request went out */
	curl_off_t moved;               /* bytes sent and received so far */
	bool timed_out;                 /* given up after read_timeout of silence */
	bool trickled;                  /* given up after CL_ANSWER_SPAN read timeouts */
};

/* WWW-Authenticate schemes an answer offers. */
#define CL_CH_BASIC 1u
#define CL_CH_DIGEST 2u
#define CL_CH_BEARER 4u
#define CL_CH_OTHER 8u

#define CL_REDIRECTS_MAX 5
#define CL_ANSWER_SPAN 3   /* a whole answer within this many read timeouts */

/* ---- transport.c: libcurl ------------------------------------------------- */

/*
 * What every client TLS context gets: TLS 1.2 (or with tls13_only 1.3) at
 * least, and no renegotiation (a renegotiated connection has no single
 * channel binding, EST-G-07, CB-03). false when OpenSSL refuses.
 */
bool cl_tls_setup(SSL_CTX *ctx, bool tls13_only);

/* Make and configure the easy handle (TLS, timeouts). */
enum est_err cl_transport_init(struct est_client *c, struct est_error *e);

/*
 * One request: GET <base>/<op> when post is NULL, else POST the bytes with
 * Content-Type: application/pkcs10. Fills r (caller cl_response_clear()s it,
 * also on failure). Only transport failures are errors here (EST_ERR_CONNECT,
 * EST_ERR_TLS, ...); any HTTP status is a success of this function.
 */
enum est_err cl_request(struct est_client *c, const char *op, const char *post,
    size_t post_len, struct cl_response *r, struct est_error *e);

/* As cl_request, to url (the base URL's origin, after a redirect). */
enum est_err cl_request_url(struct est_client *c, const char *url, const char *op,
    const char *post, size_t post_len, struct cl_response *r, struct est_error *e);

/* ---- redirect.c: 3xx answers (RFC 7030 §3.2.1, EST-G-15) -------------------- */

/* Whether an answer is a redirect this client may follow (301, 302, 303, 307, 308). */
bool cl_is_redirect(const struct cl_response *r);

/*
 * The absolute URL a redirect answer to `from` points to, into url. Only the
 * same origin (scheme, host, port) is followed: another origin, a missing
 * or malformed Location, is EST_ERR_SERVER with the Location shown.
 */
enum est_err cl_redirect_target(struct est_client *c, const char *op, const char *from,
    const struct cl_response *r, char *url, size_t len, struct est_error *e);

/* GET <base>/<op>, following same-origin redirects. Fills r as cl_request. */
enum est_err cl_get(struct est_client *c, const char *op, struct cl_response *r,
    struct est_error *e);
void cl_response_clear(struct cl_response *r);

/*
 * Answer with the scheme the last 401 offered (Digest before Basic) from now
 * on, without first asking unauthenticated: so a request goes out once, on
 * the connection it was built for (a channel-bound CSR after a server that
 * closes the connection on every 401). Nothing when there are no user
 * credentials or no challenge was seen.
 */
void cl_settle_auth(struct est_client *c);

/* ---- chanbind.c: RFC 5929 tls-unique / RFC 9266 tls-exporter --------------- */

/*
 * The channel-binding value of a client connection: tls-unique (12 bytes)
 * under TLS 1.2, tls-exporter (32 bytes) under TLS 1.3 (est-conformance.md
 * CB-05). 0 when there is none (handshake not done); the length otherwise.
 */
size_t cl_chanbind(SSL *ssl, unsigned char out[CL_CB_MAX]);

/* ---- answer.c: HTTP statuses --------------------------------------------- */

/*
 * Turn an answer whose status is not `ok` into an error with a reason: the
 * status, the server's own one-line text and what to try. Records the
 * status for est_client_failed_status(). EST_OK when r->status == ok.
 */
enum est_err cl_answer_check(struct est_client *c, const char *op, long ok,
    const struct cl_response *r, struct est_error *e);

/*
 * Seconds from a Retry-After value: delta-seconds, or an HTTP-date in any of
 * its three forms (RFC 9110 §5.6.7: IMF-fixdate, RFC 850, asctime); a past
 * date is 0. -1 when absent, unreadable, or a year or more away.
 */
long cl_retry_after(const char *value);

/*
 * The CL_CH_* schemes a "WWW-Authenticate: ..." header line (len bytes,
 * not NUL-terminated) offers; 0 for any other line.
 */
unsigned cl_challenges(const char *line, size_t len);

/* ---- accept.c: what the client accepts ------------------------------------ */

/*
 * GET /cacerts, validated (est_cacerts_validate against the trust anchors,
 * none in bootstrap or with the system store), kept as c->cabag and
 * c->caroots.
 */
enum est_err cl_cacerts_get(struct est_client *c, struct est_error *e);

/*
 * est_cert_validate of an issued certificate against the explicit trust
 * anchors (with the system store: the validated /cacerts root), extra and
 * the /cacerts bag as helpers (fetched when the certificate does not verify
 * without it). EST_ERR_SERVER "/op: ...: refused".
 */
enum est_err cl_issued_check(struct est_client *c, const char *op, X509 *cert,
    STACK_OF(X509) *extra, const struct est_cert_expect *want, STACK_OF(X509) **chain,
    struct est_error *e);

/* ---- keysigner.c: who may sign a server-generated key ---------------------- */

/*
 * Each signer of the key package must be one of allowed (the CA that issued
 * the certificate, or a signer the user configured) and fit to sign: a CA
 * certificate, or one whose keyUsage (when present) has digitalSignature.
 */
enum est_err cl_key_signer_check(STACK_OF(X509) *signers, STACK_OF(X509) *allowed,
    struct est_error *e);

/* ---- csr.c: building CSRs ------------------------------------------------- */

/*
 * Build and sign a CSR from req's fields. subject and san override req's;
 * key signs (it must not be NULL). cb/cb_len: the channel binding to put in
 * challengePassword as base64 (cb_len 0: none). Caller X509_REQ_free()s.
 */
enum est_err cl_csr_build(const struct est_enroll_req *req, EVP_PKEY *key,
    const X509_NAME *subject, const GENERAL_NAMES *san, const unsigned char *cb,
    size_t cb_len, X509_REQ **out, struct est_error *e);

/* ---- response.c: decoding answers ----------------------------------------- */

/* The certificates of a certs-only answer body (base64, leniently PEM or DER). */
enum est_err cl_certs_answer(const char *op, const struct cl_response *r,
    STACK_OF(X509) **out, struct est_error *e);

/*
 * The certificate in an enrolment answer that certifies want->key, checked
 * by cl_issued_check, and all of them. EST_ERR_SERVER when none does.
 */
enum est_err cl_enroll_answer(struct est_client *c, const char *op,
    const struct cl_response *r, const struct est_cert_expect *want,
    struct est_enroll_result *res, struct est_error *e);

/*
 * A /serverkeygen answer: the key part (application/pkcs8, or the encrypted
 * application/pkcs7-mime; smime-type=server-generated-key, decrypted with
 * req->decrypt_cert/key) and the certificate part, found by their types in
 * any order. The certificate is checked by cl_issued_check (want->key is
 * the delivered key); an encrypted key's signer by cl_key_signer_check, and
 * a plain key when encryption was asked for is refused.
 */
enum est_err cl_keygen_answer(struct est_client *c, const struct cl_response *r,
    const struct est_enroll_req *req, const struct est_cert_expect *want,
    struct est_enroll_result *res, struct est_error *e);

#endif
