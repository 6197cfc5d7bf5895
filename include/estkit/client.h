/*
 * estkit client: the EST operations of RFC 7030 (as updated by RFC 8951)
 * over HTTPS, on libcurl with its OpenSSL backend.
 *
 * A client is made once from a configuration (server, trust anchors,
 * credentials, timeouts) and then runs operations; it keeps its connection
 * open between them, so a CSR bound to the TLS channel (RFC 7030 §3.5) and
 * an HTTP authentication challenge are answered on the connection they
 * belong to. Results are OpenSSL objects; est_*_pem/_der below turn them
 * into bytes.
 *
 * Security rules the client keeps whatever the configuration:
 *   - TLS 1.2 or 1.3 only; the server's certificate must chain to a trust
 *     anchor and name the host connected to (RFC 6125: subjectAltName DNS
 *     or IP entries, no fallback to the common name);
 *   - renegotiation is refused; channel binding under TLS 1.2 needs the
 *     Extended Master Secret (RFC 7627), else tls-unique binds nothing;
 *   - HTTP credentials are sent only after that check, and only in answer
 *     to the server's challenge on that very request (Basic, Digest or
 *     Bearer, as the server asks); the next request starts without them;
 *   - a redirect is followed only within the same origin (RFC 7030 §3.2.1);
 *   - with the system's store (an Implicit TA) no HTTP credentials are
 *     taken, and every CSR is bound to its TLS channel: any CA there may
 *     vouch for the server's name (RFC 7030 §6; TLS-SRP is exempt);
 *   - what the server sends is validated before it is returned: /cacerts
 *     by est_cacerts_validate, issued certificates by est_cert_validate
 *     against the explicit trust anchors (with the system store: the root
 *     of the validated /cacerts of the same server);
 *   - in bootstrap mode (no server authentication at all) only /cacerts is
 *     allowed and neither credentials nor a client certificate are ever
 *     sent (RFC 7030 §4.1.1); the caller must confirm the root out of band
 *     (est_cert_fingerprint_match) before trusting it.
 *
 * Errors: every function returns enum est_err and fills struct est_error
 * with one line that says what happened and what to try. Besides the
 * general codes, EST_ERR_CONNECT (server unreachable), EST_ERR_TLS
 * (handshake or server authentication failed) and EST_ERR_SERVER (5xx, or
 * an answer that breaks the protocol); an HTTP refusal maps to the code of
 * its status (401 EST_ERR_AUTH, 403 EST_ERR_FORBIDDEN, 404 EST_ERR_NOTFOUND,
 * other 4xx EST_ERR_BADREQ, 501 EST_ERR_NOTIMPL, 503 EST_ERR_UNAVAILABLE,
 * 202 after the last retry EST_ERR_PENDING) and est_client_failed_status()
 * tells the status itself.
 *
 * A client is used by one thread at a time. The first est_client_new sets up
 * libcurl's global state; a program that makes clients on several threads
 * calls curl_global_init() once before it starts them.
 */
#ifndef ESTKIT_CLIENT_H
#define ESTKIT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "estkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- configuration ------------------------------------------------------- */

/*
 * Zero-initialise, then set what you need. Strings and objects are copied
 * (objects by reference count) by est_client_new; the caller keeps its own.
 */
struct est_client_config {
	/* The server: url, or host with optional port and label. */
	const char *url;          /* "https://HOST[:PORT][/.well-known/est[/LABEL]]" */
	const char *host;         /* DNS name or IP address (IPv6 without brackets) */
	unsigned port;            /* 0: 443 */
	const char *label;        /* the CA label, one path segment (RFC 7030 §3.2.2) */
	const char *resolve;      /* "HOST:PORT:ADDRESS": connect there for HOST:PORT */

	/* Whom to trust: the union of the file and the stack; neither: the
	 * system's CA store (an Implicit TA, RFC 7030 §3.1). */
	const char *trust_anchor_file;    /* PEM certificates */
	STACK_OF(X509) *trust_anchors;
	bool bootstrap;           /* authenticate no server: /cacerts only, no credentials,
	                           * no client certificate (RFC 7030 §4.1.1) */
	bool tls13_only;          /* refuse TLS 1.2 */

	/* Who we are. */
	X509 *cert;               /* TLS client certificate, or NULL */
	STACK_OF(X509) *chain;    /* its intermediate certificates, or NULL */
	EVP_PKEY *key;            /* its private key */
	const char *user;         /* HTTP Basic/Digest user name (may be "") */
	const char *password;     /* with user */
	const char *bearer_token; /* HTTP "Authorization: Bearer" token, or NULL */
	/* TLS-SRP (RFC 5054, legacy): TLS 1.2 with SRP suites only; the SRP
	 * exchange authenticates the server (those suites send no certificate). */
	const char *srp_user;     /* or NULL */
	const char *srp_password; /* with srp_user */

	/* Patience. */
	unsigned connect_timeout; /* seconds to connect and handshake; 0: 10 */
	unsigned read_timeout;    /* seconds without data before giving up; 0: 10; a whole
	                             answer must be in within 3 times that */
	unsigned retry_max;       /* 202 answers waited out and retried (0: none) */
	unsigned retry_wait_max;  /* longest Retry-After waited for, seconds; 0: 3600 */
};

struct est_client;

/*
 * Make a client. Checks the configuration (a url or a host; a label that is
 * one path segment and not an operation name; cert with key; user with
 * password; no user or token with the system's store unless TLS-SRP) and
 * loads the trust anchor file. Does not connect.
 * Caller frees with est_client_free().
 */
enum est_err est_client_new(const struct est_client_config *cfg, struct est_client **out,
    struct est_error *e);
void est_client_free(struct est_client *c);

/*
 * The HTTP status of the answer that made the last operation fail, or 0 when
 * it failed for another reason (or did not fail).
 */
long est_client_failed_status(const struct est_client *c);

/* Seconds the server asked to wait in its last 202 or 503, or 0. */
unsigned est_client_retry_after(const struct est_client *c);

/* The base URL in use, "https://host:port/.well-known/est[/label]" (borrowed). */
const char *est_client_base_url(const struct est_client *c);

/* ---- CSR attributes (RFC 7030 §4.5, RFC 8951 §5) -------------------------- */

/*
 * What a server asks CSRs to carry, as far as this client understands it.
 * Unknown OIDs and attributes are kept in `unknown` and otherwise ignored
 * (RFC 7030 §4.5.2).
 */
struct est_csr_wants {
	bool none;                /* 204, 404 or an empty list: no requirements */
	bool challenge_password;  /* bind the CSR to the TLS channel (RFC 7030 §3.5) */
	char key_spec[16];        /* est_key_generate spec the server wants, or "" */
	char digest[16];          /* signature digest it wants ("SHA384"), or "" */
	STACK_OF(X509_EXTENSION) *extensions; /* extension values to request, or NULL */
	STACK_OF(ASN1_OBJECT) *unknown;       /* what was not understood, or NULL */
	unsigned char *der;       /* the CsrAttrs DER as received (NULL when none) */
	size_t der_len;
};

/*
 * Decode a CsrAttrs DER (RFC 7030 §4.5.2 as corrected by RFC 8951).
 * EST_ERR_BADREQ when it is not a SEQUENCE of OIDs and Attributes.
 * Caller frees with est_csr_wants_free().
 */
enum est_err est_csr_wants_decode(const unsigned char *der, size_t len,
    struct est_csr_wants **out, struct est_error *e);
void est_csr_wants_free(struct est_csr_wants *a);

/* ---- operations ---------------------------------------------------------- */

/*
 * GET /cacerts: the CA certificates, in the server's order, validated by
 * est_cacerts_validate (against the trust anchors; with the system store or
 * in bootstrap mode, without). Caller frees with sk_X509_pop_free(*out,
 * X509_free). EST_ERR_SERVER when the bag is refused.
 */
enum est_err est_client_cacerts(struct est_client *c, STACK_OF(X509) **out,
    struct est_error *e);

/*
 * The roots of the last validated /cacerts answer, the current one
 * (NewWithNew) first; NULL before one. Borrowed: valid until the next
 * operation or est_client_free.
 */
STACK_OF(X509) *est_client_ca_roots(const struct est_client *c);

/*
 * GET /csrattrs. A 204 or 404 answer (and 501, a server without the
 * operation) gives an est_csrattrs with none set. Caller frees with
 * est_csr_wants_free().
 */
enum est_err est_client_csrattrs(struct est_client *c, struct est_csr_wants **out,
    struct est_error *e);

/*
 * What to ask a certificate for. Either csr, a ready CSR sent unchanged, or
 * the fields from which the client builds and signs one. Everything is
 * borrowed for the call.
 */
struct est_enroll_req {
	X509_REQ *csr;                    /* sent as is; the fields below are then unused */
	EVP_PKEY *key;                    /* signs the CSR; its public key is certified */
	const X509_NAME *subject;         /* NULL: empty (re-enrolment: the certificate's) */
	const GENERAL_NAMES *san;         /* NULL: none (re-enrolment: the certificate's) */
	const char *digest;               /* "SHA256", ...; NULL: SHA-256 (none for Ed25519) */
	bool channel_binding;             /* tls-unique / tls-exporter in challengePassword */
	const struct est_csr_wants *attrs; /* apply the server's CSR attributes, or NULL */
	/* /serverkeygen only: have the key encrypted to this certificate's key
	 * (AsymmetricDecryptKeyIdentifier, RFC 7030 §4.4.1.2), and decrypt it. */
	X509 *decrypt_cert;
	EVP_PKEY *decrypt_key;
	/* ... whose key package may be signed by the CA that issued the
	 * certificate, or by this certificate (fit to sign), or NULL. */
	X509 *key_signer;
	/* The server chooses subject and subjectAltName (e.g. from a
	 * pre-registered end entity): they are not compared with the CSR's. */
	bool names_by_server;
};

/* What an enrolment gives back. Zero-initialise; free with est_enroll_result_clear(). */
struct est_enroll_result {
	X509 *cert;               /* the new certificate */
	STACK_OF(X509) *certs;    /* every certificate in the answer, cert included */
	EVP_PKEY *key;            /* /serverkeygen: the key the server made */
	unsigned attempts;        /* requests sent (more than 1 after 202 answers) */
};

void est_enroll_result_clear(struct est_enroll_result *r);

/*
 * POST /simpleenroll. The returned certificate must pass est_cert_validate:
 * the CSR's key, the CSR's subject and subjectAltName (unless
 * req->names_by_server), not a CA, valid now, chained to the explicit trust
 * anchor (EST_ERR_SERVER otherwise). A 202 is waited out and retried up to
 * retry_max times (a signal the program handles ends the wait: EST_ERR_PENDING);
 * a CSR with channel binding is rebuilt for each attempt.
 */
enum est_err est_client_enroll(struct est_client *c, const struct est_enroll_req *req,
    struct est_enroll_result *res, struct est_error *e);

/*
 * POST /simplereenroll, authenticated by the configured TLS client
 * certificate (required). Unless req->csr is given, the CSR carries the
 * certificate's subject and subjectAltName (RFC 7030 §4.2.2) and is signed
 * by req->key -- a new key, so a re-key -- or, when req->key is NULL, by the
 * certificate's own key (renewal with the same key).
 */
enum est_err est_client_reenroll(struct est_client *c, const struct est_enroll_req *req,
    struct est_enroll_result *res, struct est_error *e);

/*
 * POST /serverkeygen: the server makes the key. req->key may be NULL: a
 * throwaway key then signs the request (the server ignores its public key,
 * RFC 7030 §4.4.1). res->key is the server's key, decrypted with
 * req->decrypt_key when the server sent it encrypted; it must match the
 * certificate.
 */
enum est_err est_client_serverkeygen(struct est_client *c, const struct est_enroll_req *req,
    struct est_enroll_result *res, struct est_error *e);

/* ---- validating what a server sends (RFC 7030 §4.1.3, §4.2.3) ------------ */

/*
 * Path-validate a /cacerts bag (est-conformance.md EST-C-10, EST-C-12).
 * The roots are its self-signed CA certificates; the current root
 * (NewWithNew) is the one with the latest notAfter. Every other certificate
 * must verify up to the current root; an older root is accepted only when an
 * OldWithNew certificate (the old key, signed by the current root) links it,
 * and a certificate with the current root's key only when it verifies under
 * an older root (NewWithOld). Anything else -- an unrelated root, a stray CA
 * certificate, an expired one -- refuses the whole bag. With anchors (not
 * NULL) the current root must also be one of them (or carry an anchor's
 * key), be linked to one by a NewWithOld that verifies under it, or -- only
 * when no anchor is a root (an intermediate alone was pinned) -- the bag
 * must hold an anchor that verified up to it.
 * certs and anchors are borrowed. *roots (optional): the accepted roots, the
 * current one first; caller frees with sk_X509_pop_free(*roots, X509_free).
 * EST_ERR_SERVER with the reason when the bag is refused.
 */
enum est_err est_cacerts_validate(STACK_OF(X509) *certs, STACK_OF(X509) *anchors,
    STACK_OF(X509) **roots, struct est_error *e);

/* What an issued certificate must be (all borrowed). */
struct est_cert_expect {
	EVP_PKEY *key;                 /* the key it must certify; NULL: not checked */
	const X509_NAME *subject;      /* the subject asked for; NULL: not checked */
	const GENERAL_NAMES *san;      /* the subjectAltName asked for (NULL: none) */
	bool any_names;                /* the server chooses the names: skip both */
};

/*
 * Verify an issued certificate (EST-C-52): not a CA certificate, for
 * want->key, X509_verify_cert up to one of anchors (explicit trust anchors,
 * required) with untrusted as helpers only, within its validity and that of
 * its chain, and with the subject and subjectAltName asked for unless
 * want->any_names. *chain (optional): the verified chain, cert first; caller
 * frees with sk_X509_pop_free(*chain, X509_free). EST_ERR_SERVER with the
 * reason, EST_ERR_CONFIG when anchors is empty.
 */
enum est_err est_cert_validate(X509 *cert, STACK_OF(X509) *untrusted, STACK_OF(X509) *anchors,
    const struct est_cert_expect *want, STACK_OF(X509) **chain, struct est_error *e);

/*
 * Whether cert's fingerprint (a digest of its whole DER) is spec,
 * "sha256:HEX" or "sha512:HEX", hex case-insensitive, colons allowed
 * (RFC 7030 §4.1.1 out-of-band confirmation). EST_ERR_CONFIG when spec is
 * not such a fingerprint; *match otherwise.
 */
enum est_err est_cert_fingerprint_match(X509 *cert, const char *spec, bool *match,
    struct est_error *e);

/* ---- renewal timing ------------------------------------------------------ */

/*
 * When cert is due for renewal: notBefore + share * (notAfter - notBefore),
 * or `before` seconds before notAfter when that is earlier (before 0: the
 * share alone). share in (0, 1]; EST_ERR_CONFIG otherwise, EST_ERR_BADREQ
 * when the validity cannot be read. *at is Unix seconds.
 */
enum est_err est_cert_renew_time(X509 *cert, double share, long long before, time_t *at,
    struct est_error *e);

/* ---- DER and PEM --------------------------------------------------------- */

/*
 * Each returns malloc'd bytes (caller free()s) and their length.
 *   est_certs_pem:    the certificates as concatenated PEM blocks.
 *   est_certs_p7_b64: a certs-only PKCS#7, base64 in 64-column lines (the
 *                     form of an EST answer, readable by `openssl base64 -d`).
 *   est_key_pem:      the key as unencrypted PKCS#8 PEM ("PRIVATE KEY").
 *   est_key_pkcs8_b64: the bare base64 of its PKCS#8 DER, 64-column lines.
 *   est_der_b64:      any DER as base64 in 64-column lines.
 */
enum est_err est_certs_pem(STACK_OF(X509) *certs, char **out, size_t *len, struct est_error *e);
enum est_err est_certs_p7_b64(STACK_OF(X509) *certs, char **out, size_t *len,
    struct est_error *e);
enum est_err est_key_pem(EVP_PKEY *key, char **out, size_t *len, struct est_error *e);
enum est_err est_key_pkcs8_b64(EVP_PKEY *key, char **out, size_t *len, struct est_error *e);
enum est_err est_der_b64(const unsigned char *der, size_t derlen, char **out, size_t *len,
    struct est_error *e);

#ifdef __cplusplus
}
#endif

#endif
