/*
 * estkit error codes.
 *
 * Every library function that can fail returns an enum est_err and, when the
 * caller passes a struct est_error, fills it with a one-line reason. The
 * reason is written for a person: it says what was wrong with the input and,
 * where it helps, what to do. Reasons of EST_ERR_BADREQ/AUTH/FORBIDDEN/...
 * are safe to send to a client; reasons of internal errors (NOMEM, IO, STORE,
 * CRYPTO, INTERNAL) are for the log only.
 *
 * Numbers are fixed and never reused (the libcurl rule), so logs and scripts
 * can rely on them.
 */
#ifndef ESTKIT_ERR_H
#define ESTKIT_ERR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum est_err {
	EST_OK = 0,
	EST_ERR_NOMEM = 1,      /* out of memory */
	EST_ERR_IO = 2,         /* file or socket I/O failed */
	EST_ERR_CONFIG = 3,     /* bad configuration */
	EST_ERR_BADREQ = 4,     /* malformed request or input (HTTP 400) */
	EST_ERR_AUTH = 5,       /* not authenticated (HTTP 401) */
	EST_ERR_FORBIDDEN = 6,  /* authenticated but not allowed (HTTP 403) */
	EST_ERR_NOTFOUND = 7,   /* no such thing (HTTP 404) */
	EST_ERR_METHOD = 8,     /* wrong HTTP method (HTTP 405) */
	EST_ERR_TOOLARGE = 9,   /* input over a limit (HTTP 413) */
	EST_ERR_MEDIATYPE = 10, /* wrong Content-Type (HTTP 415) */
	EST_ERR_NOTIMPL = 11,   /* operation not offered (HTTP 501) */
	EST_ERR_PENDING = 12,   /* accepted, waiting for approval (HTTP 202) */
	EST_ERR_CRYPTO = 13,    /* an OpenSSL operation failed */
	EST_ERR_STORE = 14,     /* the certificate store failed */
	EST_ERR_EXISTS = 15,    /* the thing already exists (unique key) */
	EST_ERR_INTERNAL = 16,  /* a bug or an impossible state */
	EST_ERR_UNAVAILABLE = 17, /* temporarily unable to serve (HTTP 503) */
	EST_ERR_CONNECT = 18,   /* client: cannot reach the server (name, connect, timeout) */
	EST_ERR_TLS = 19,       /* client: TLS handshake or server authentication failed */
	EST_ERR_SERVER = 20,    /* client: the server failed (5xx) or broke the protocol */
	EST_ERR__MAX
};

/* A failure with its reason. Zero-initialise before use ({0}). */
struct est_error {
	enum est_err code;
	char msg[256];
};

/*
 * Static, never-NULL description of an error code ("bad request", ...).
 */
const char *est_strerror(enum est_err code);

/*
 * Record a failure in e (which may be NULL) and return code, so a call site
 * reads `return est_fail(e, EST_ERR_BADREQ, "CSR signature does not verify");`.
 * The message is printf-formatted and truncated to fit.
 */
enum est_err est_fail(struct est_error *e, enum est_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * As est_fail, and append the first reason on OpenSSL's error queue (if any)
 * to the message, then clear the queue. Use at the place an OpenSSL call
 * failed, once.
 */
enum est_err est_fail_ssl(struct est_error *e, enum est_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#endif
