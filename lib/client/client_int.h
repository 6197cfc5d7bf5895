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

struct est_client {
	CURL *curl;
	char *base;                     /* https://host:port/.well-known/est[/label] */
	char *host;                     /* as certificates name it (IPv6 unbracketed) */
	bool host_is_ip;
	struct curl_slist *resolve;     /* CURLOPT_RESOLVE entry, or NULL */
	STACK_OF(X509) *tas;            /* trust anchors; NULL: the system's store */
	bool bootstrap;                 /* no server authentication: /cacerts only */
	X509 *cert;                     /* TLS client certificate, or NULL */
	STACK_OF(X509) *chain;
	EVP_PKEY *key;
	char *user, *password;          /* HTTP Basic/Digest, or NULL */
	char *token;                    /* HTTP Bearer, or NULL */
	char *srp_user, *srp_password;  /* TLS-SRP, or NULL */
	bool empty_basic;               /* send "Authorization: Basic Og==" (libest quirk) */
	unsigned connect_timeout, read_timeout, retry_max, retry_wait_max;
	long failed_status;             /* est_client_failed_status() */
	unsigned retry_after;           /* est_client_retry_after() */
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
	unsigned char *body;            /* malloc'd; NUL-terminated for convenience */
	size_t len, cap;
	long new_connections;           /* connections opened for this request */
	unsigned char cb[CL_CB_MAX];    /* channel binding of the connection used */
	size_t cb_len;                  /* 0 when it could not be read */
	long long alive_ms;             /* last sign of life once connected; 0 before */
	curl_off_t moved;               /* bytes sent and received so far */
	bool timed_out;                 /* given up after read_timeout of silence */
};

/* ---- transport.c: libcurl ------------------------------------------------- */

/* Make and configure the easy handle (TLS, credentials, timeouts). */
enum est_err cl_transport_init(struct est_client *c, struct est_error *e);

/*
 * One request: GET <base>/<op> when post is NULL, else POST the bytes with
 * Content-Type: application/pkcs10. Fills r (caller cl_response_clear()s it,
 * also on failure). Only transport failures are errors here (EST_ERR_CONNECT,
 * EST_ERR_TLS, ...); any HTTP status is a success of this function.
 */
enum est_err cl_request(struct est_client *c, const char *op, const char *post,
    size_t post_len, struct cl_response *r, struct est_error *e);
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

/* Seconds from a Retry-After value (delta-seconds or HTTP-date); 0 when
 * absent, unreadable, or a year or more away. */
unsigned cl_retry_after(const char *value);

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
 * The certificate in an enrolment answer that certifies pubkey, and all of
 * them. EST_ERR_SERVER when none does.
 */
enum est_err cl_enroll_answer(const char *op, const struct cl_response *r, EVP_PKEY *pubkey,
    struct est_enroll_result *res, struct est_error *e);

/*
 * A /serverkeygen answer: the key part (application/pkcs8, or the encrypted
 * application/pkcs7-mime; smime-type=server-generated-key, decrypted with
 * req->decrypt_cert/key) and the certificate part, found by their types in
 * any order. The certificate must match the key.
 */
enum est_err cl_keygen_answer(struct est_client *c, const struct cl_response *r,
    const struct est_enroll_req *req, struct est_enroll_result *res, struct est_error *e);

#endif
