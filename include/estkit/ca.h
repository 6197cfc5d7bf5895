/*
 * estkit CA: keys, CA certificates and chains, certificate profiles, and
 * issuing certificates from CSRs.
 *
 * lib/ca is the only code that touches a CA's private key. Its interface is
 * message-shaped (a request in, a certificate out) so that signing can move
 * into a separate process later without changing callers.
 *
 * A loaded CA is immutable and may be used from several threads at once.
 */
#ifndef ESTKIT_CA_H
#define ESTKIT_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "estkit/codec.h" /* est_key_read, est_certs_read */
#include "estkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- keys ---------------------------------------------------------------- */

/*
 * Generate a key from a spec: "ec:P-256", "ec:P-384", "rsa:2048", "rsa:3072",
 * "rsa:4096", "ed25519". EST_ERR_BADREQ names the accepted specs when the
 * spec is unknown. Caller EVP_PKEY_free()s *out.
 */
enum est_err est_key_generate(const char *spec, EVP_PKEY **out, struct est_error *e);

/* Whether spec is one est_key_generate accepts. */
bool est_key_spec_known(const char *spec);

/*
 * The security strength in bits of the keys spec makes, as
 * EVP_PKEY_get_security_bits gives it for such a key; 0 for an unknown spec.
 */
int est_key_spec_strength(const char *spec);

/*
 * Generate a new key of the same type and size (RSA bits, EC curve) as
 * like, which must pass est_key_policy_check (EST_ERR_BADREQ otherwise).
 * Used for /serverkeygen's "from-csr" policy. Caller EVP_PKEY_free()s *out.
 */
enum est_err est_key_generate_like(EVP_PKEY *like, EVP_PKEY **out, struct est_error *e);

/*
 * Write a private key as unencrypted PKCS#8 PEM, created with mode 0600
 * (refuses to overwrite an existing file: EST_ERR_EXISTS).
 */
enum est_err est_key_write(const char *path, EVP_PKEY *key, struct est_error *e);

/*
 * Whether a key in a CSR is one we certify: RSA 2048-4096 bits, EC P-256 or
 * P-384, Ed25519. EST_ERR_BADREQ says what was found and what is accepted.
 */
enum est_err est_key_policy_check(EVP_PKEY *key, struct est_error *e);

/* ---- certificates on disk ------------------------------------------------ */

/* Write one certificate as PEM (mode 0644, refuses to overwrite). */
enum est_err est_cert_write(const char *path, X509 *cert, struct est_error *e);

/* ---- profiles ------------------------------------------------------------ */

/* Extended key usages a profile may grant (bit set). */
enum est_eku {
	EST_EKU_SERVER_AUTH = 1u << 0,
	EST_EKU_CLIENT_AUTH = 1u << 1,
	EST_EKU_CODE_SIGNING = 1u << 2,
	EST_EKU_EMAIL_PROTECTION = 1u << 3,
	EST_EKU_CMC_RA = 1u << 4
};

/* "serverAuth" etc. (RFC 5280 / OpenSSL short names); 0 and *bit, or -1. */
int est_eku_parse(const char *name, unsigned *bit);

/*
 * What a certificate issued under a profile looks like. keyUsage follows
 * from the key type (RSA: digitalSignature, keyEncipherment; EC:
 * digitalSignature, keyAgreement; Ed25519: digitalSignature).
 */
struct est_profile {
	const char *name;
	unsigned validity_days;  /* 1 .. 3650; capped at the CA's notAfter */
	unsigned validity_seconds; /* when not 0, instead of validity_days: short-lived
	                          * certificates and tests of renewal (60 .. 86400) */
	unsigned eku;            /* enum est_eku bits; 0 = no EKU extension */
	bool copy_san;           /* take subjectAltName from the CSR's request */
};

/* ---- CAs ----------------------------------------------------------------- */

struct est_ca;

/*
 * Load a CA: its certificate (cert_path, the first PEM certificate), its
 * private key (key_path, mode-checked as est_key_read does), and optionally
 * the chain above it (chain_path: intermediates and the root, PEM; NULL when
 * the CA is a root). Checks that the key matches the certificate, that the
 * certificate is a CA (basicConstraints CA:TRUE) and that the chain leads to a
 * self-signed root. A CA without key (key_path NULL) can serve /cacerts and
 * verify certificates but not issue. Caller frees with est_ca_free().
 */
enum est_err est_ca_load(const char *name, const char *cert_path, const char *key_path,
    const char *chain_path, struct est_ca **out, struct est_error *e);
void est_ca_free(struct est_ca *ca);

const char *est_ca_name(const struct est_ca *ca);   /* borrowed */
X509 *est_ca_cert(const struct est_ca *ca);          /* borrowed */
/* The CA certificate followed by its chain up to and including the root:
 * what /cacerts returns. Borrowed. */
STACK_OF(X509) *est_ca_chain(const struct est_ca *ca);
bool est_ca_can_issue(const struct est_ca *ca);

/*
 * Create a self-signed root CA certificate for key: subject "CN=<cn>",
 * basicConstraints critical CA:TRUE, keyUsage critical keyCertSign+cRLSign,
 * SKI, AKI, random serial, valid from now - 1 h for `days` days. Caller
 * X509_free()s *out.
 */
enum est_err est_ca_make_root(EVP_PKEY *key, const char *cn, unsigned days,
    X509 **out, struct est_error *e);

/* ---- CA rollover (RFC 7030 §4.1.3, RFC 4210 §4.4) ------------------------ */

/*
 * The successor of root CA old, for key: old's subject with its common name
 * set to cn (it must differ from old's: each key keeps its own CRL and
 * certificates), the extensions of est_ca_make_root, valid from now - 1 h
 * for `days` days, which must end after old's notAfter (clients take the
 * root with the latest notAfter as current). Caller X509_free()s *out.
 */
enum est_err est_ca_make_successor(const struct est_ca *old, EVP_PKEY *key, const char *cn,
    unsigned days, X509 **out, struct est_error *e);

/*
 * The two rollover certificates between old and next (both loaded with
 * keys): OldWithNew, old's key and subject issued by next, and NewWithOld,
 * next's key and subject issued by old; CA certificates with the key
 * identifiers of the certificates they stand for, valid from now - 1 h to
 * old's notAfter. Caller X509_free()s both.
 */
enum est_err est_ca_make_rollover(const struct est_ca *old, const struct est_ca *next,
    X509 **old_with_new, X509 **new_with_old, struct est_error *e);

/*
 * Find OldWithNew and NewWithOld between old and next in certs (keys, names
 * and signatures checked); EST_ERR_CONFIG naming the one missing. Caller
 * X509_free()s both.
 */
enum est_err est_ca_rollover_check(const struct est_ca *old, const struct est_ca *next,
    STACK_OF(X509) *certs, X509 **old_with_new, X509 **new_with_old, struct est_error *e);

/*
 * What to certify. subject and san override what the CSR says (NULL: from
 * the CSR; san from the CSR only when the profile has copy_san). pubkey
 * overrides the CSR's key (server-side key generation); NULL: the CSR's.
 * The CSR's signature is NOT checked here (the caller does that first).
 */
struct est_issue_req {
	X509_REQ *csr;                  /* borrowed; may be NULL when subject and pubkey are set */
	const X509_NAME *subject;       /* borrowed, optional */
	const GENERAL_NAMES *san;       /* borrowed, optional */
	EVP_PKEY *pubkey;               /* borrowed, optional */
	bool spki_bytes;                /* with the CSR's key: copy its SubjectPublicKeyInfo
	                                 * bytes and decode no key (see est_ca_issue) */
};

/*
 * Issue a certificate: version 3, random positive 127-bit serial, issuer =
 * CA subject, notBefore = now - 5 min (clock skew), notAfter = now +
 * validity_seconds or validity_days (never after the CA's notAfter), subject, public key, and the
 * extensions basicConstraints critical CA:FALSE, keyUsage critical (by key
 * type), extendedKeyUsage (profile), subjectKeyIdentifier,
 * authorityKeyIdentifier (keyid), subjectAltName (when any). Signed with
 * SHA-256 (SHA-384 for a P-384 CA key; none for Ed25519). An empty subject
 * with no SAN is refused (EST_ERR_BADREQ). With spki_bytes (and the CSR's
 * key) the certificate carries the CSR's SubjectPublicKeyInfo bytes as they
 * are and no decoded key, which saves OpenSSL 3 an encoding and a decoding
 * of the key (a third of an enrolment's instructions): it can be encoded
 * and stored, but X509_get0_pubkey(*out) is NULL and it cannot be verified
 * as is (its DER, read back, can). Caller X509_free()s *out.
 */
enum est_err est_ca_issue(const struct est_ca *ca, const struct est_profile *profile,
    const struct est_issue_req *req, X509 **out, struct est_error *e);

/*
 * Sign content with the CA's key as CMS SignedData (RFC 5652):
 * eContentType content_oid (dotted form), the content encapsulated, the CA
 * certificate and the chain above it included, SHA-256 (SHA-384 for keys of
 * 384 bits and more). Used for server-generated key packages (RFC 7030
 * §4.4.2). EST_ERR_NOTIMPL for an EdDSA CA key (OpenSSL 3.0's CMS cannot sign
 * with it). The content may be a private key: *der is OPENSSL_malloc'd,
 * caller frees with OPENSSL_clear_free(*der, *derlen).
 */
enum est_err est_ca_sign_content(const struct est_ca *ca, const char *content_oid,
    const unsigned char *content, size_t len, unsigned char **der, size_t *derlen,
    struct est_error *e);

/*
 * Verify that cert was issued by this CA itself (path validation to the
 * CA's root, with `extra` as untrusted intermediates, may be NULL, and this
 * CA the leaf's issuer on that path) at time `now`: a certificate of a CA
 * below this one is not this CA's. EST_ERR_FORBIDDEN with the verification
 * reason ("certificate has expired", ..., "certificate was not issued by CA
 * NAME") when it does not.
 */
enum est_err est_ca_verify(const struct est_ca *ca, X509 *cert, STACK_OF(X509) *extra,
    time_t now, struct est_error *e);

/*
 * est_ca_verify for a certificate whose path a TLS handshake validated
 * already: known (may be NULL) is that path, leaf first, as
 * SSL_get0_verified_chain gives it. When the path to this CA's root is the
 * same certificates, their signatures are not checked again (they are most
 * of the cost); everything else is -- the root as the only anchor, the
 * strict rules, the validity periods at `now`, the CA on the path -- so the
 * outcome and its reason are est_ca_verify's. The caller vouches for
 * known's signatures: pass only a path a verification accepted with no
 * error other than validity periods.
 */
enum est_err est_ca_verify_known(const struct est_ca *ca, X509 *cert, STACK_OF(X509) *extra,
    STACK_OF(X509) *known, time_t now, struct est_error *e);

/*
 * Verify cert up to one of anchors (the only trust anchors; self-signed
 * roots) through untrusted (may be NULL) at `now`, and require one of
 * `listed` above the leaf on the validated path (a listed sub CA, or the
 * root itself). For vendor certificates from external CAs. known (may be
 * NULL) is a path a TLS handshake validated, as for est_ca_verify_known:
 * when it is the path found, its signatures are not checked again.
 * EST_ERR_FORBIDDEN with the reason when it does not verify or no listed CA
 * is on the path.
 */
enum est_err est_chain_verify(STACK_OF(X509) *anchors, STACK_OF(X509) *untrusted, X509 *cert,
    STACK_OF(X509) *known, time_t now, STACK_OF(X509) *listed, struct est_error *e);

/* ---- revocation: CRLs and OCSP ------------------------------------------ */

/* Where relying parties learn of revocations. Every field may be NULL. */
struct est_ca_revocation {
	const char *crl_url;          /* cRLDistributionPoints of issued certificates */
	const char *ocsp_url;         /* authorityInfoAccess id-ad-ocsp */
	const char *ca_issuers_url;   /* authorityInfoAccess id-ad-caIssuers */
	const char *ocsp_cert_path;   /* delegated OCSP responder certificate (PEM) and */
	const char *ocsp_key_path;    /* key; NULL: the CA's own key signs responses */
};

/*
 * Configure a loaded CA's revocation, once, before the CA is shared between
 * threads. URLs must be http:// or https:// (EST_ERR_CONFIG otherwise). A
 * delegated responder certificate must be issued by this CA, carry
 * extendedKeyUsage id-kp-OCSPSigning and match its key (mode-checked as
 * est_key_read does): EST_ERR_CONFIG naming the file otherwise.
 */
enum est_err est_ca_set_revocation(struct est_ca *ca, const struct est_ca_revocation *rv,
    struct est_error *e);

/* One revoked certificate for a CRL. */
struct est_crl_entry {
	const char *serial;           /* est_serial_text form */
	int64_t revoked_at;           /* Unix seconds */
	int reason;                   /* enum est_revoke_reason; 0 (unspecified) is left out */
};

/*
 * Build and sign a version 2 CRL (RFC 5280 §5) of the CA: issuer = the CA's
 * subject, thisUpdate/nextUpdate as given, the entries in serial order,
 * cRLNumber `number` (>= 1) and authorityKeyIdentifier. *der is malloc'd,
 * caller free()s.
 */
enum est_err est_ca_make_crl(const struct est_ca *ca, int64_t number, time_t this_update,
    time_t next_update, const struct est_crl_entry *entries, size_t n,
    unsigned char **der, size_t *derlen, struct est_error *e);

/*
 * Issue a delegated OCSP responder certificate (RFC 6960 §4.2.2.2) for
 * pubkey: subject "CN=<cn>", keyUsage digitalSignature, extendedKeyUsage
 * id-kp-OCSPSigning, id-pkix-ocsp-nocheck (so relying parties need not check
 * the responder's own status), valid `days` days (at most the CA's).
 * Caller X509_free()s *out.
 */
enum est_err est_ca_issue_ocsp_responder(const struct est_ca *ca, EVP_PKEY *pubkey,
    const char *cn, unsigned days, X509 **out, struct est_error *e);

/*
 * OCSP (RFC 6960). A responder parses the request, asks est_ocsp_request_entry
 * which CA each CertID names and with which serial, looks the status up in
 * its store, and has est_ocsp_respond sign the answer with the CA's key or
 * its delegated responder.
 */
struct est_ocsp_request;

/* The responses that are not "successful" (RFC 6960 §4.2.1 OCSPResponseStatus). */
enum est_ocsp_error {
	EST_OCSP_MALFORMED = 1,       /* malformedRequest */
	EST_OCSP_INTERNAL = 2,        /* internalError */
	EST_OCSP_TRY_LATER = 3,       /* tryLater */
	EST_OCSP_UNAUTHORIZED = 6     /* unauthorized: none of our CAs */
};

/* The most CertIDs a request may carry (more is malformed). */
#define EST_OCSP_MAX_ENTRIES 32

/*
 * Parse a DER OCSPRequest: one, with nothing after it, with 1 ..
 * EST_OCSP_MAX_ENTRIES CertIDs. EST_ERR_BADREQ (answer malformedRequest)
 * otherwise. Caller frees with est_ocsp_request_free().
 */
enum est_err est_ocsp_request_parse(const unsigned char *der, size_t len,
    struct est_ocsp_request **out, struct est_error *e);

/*
 * Parse the request of a GET (RFC 6960 appendix A.1): the path after the
 * responder's URL, percent-encoded base64 of the DER request.
 */
enum est_err est_ocsp_request_from_path(const char *tail, struct est_ocsp_request **out,
    struct est_error *e);

void est_ocsp_request_free(struct est_ocsp_request *req);

/* How many CertIDs the request has. */
size_t est_ocsp_request_count(const struct est_ocsp_request *req);

/* Whether the request carries a nonce (it is echoed in the response). */
bool est_ocsp_request_has_nonce(const struct est_ocsp_request *req);

/*
 * Whether CertID i (< count) names a certificate issued by ca (issuer name
 * and key hashes match, under the hash the request chose), and its serial in
 * est_serial_text form (malloc'd, caller free()s; set whether or not it
 * matches).
 */
enum est_err est_ocsp_request_entry(const struct est_ocsp_request *req, size_t i,
    const struct est_ca *ca, bool *issued_by_ca, char **serial, struct est_error *e);

enum est_ocsp_cert_status {
	EST_OCSP_GOOD = 0,
	EST_OCSP_REVOKED = 1,
	EST_OCSP_UNKNOWN = 2
};

struct est_ocsp_status {
	enum est_ocsp_cert_status status;
	int64_t revoked_at;           /* Unix seconds, for REVOKED */
	int reason;                   /* enum est_revoke_reason; 0 (unspecified) left out */
};

/*
 * A successful BasicOCSPResponse for req, one SingleResponse per CertID with
 * status[i], thisUpdate now, nextUpdate now + next_update_secs (none when
 * 0), the request's nonce echoed, responder ID by key hash, signed by ca's
 * delegated responder (its certificate included) or else by ca's own key.
 * *der is malloc'd, caller free()s.
 */
enum est_err est_ocsp_respond(const struct est_ca *ca, const struct est_ocsp_request *req,
    const struct est_ocsp_status *status, time_t now, unsigned next_update_secs,
    unsigned char **der, size_t *derlen, struct est_error *e);

/*
 * The DER of req's CertIDs, one after the other, in the request's order: what
 * a response answers, whatever else the request carries (its nonce, its
 * signature). *der is malloc'd, caller free()s.
 */
enum est_err est_ocsp_request_certids(const struct est_ocsp_request *req, unsigned char **der,
    size_t *len, struct est_error *e);

/*
 * The last second, up to limit, at which est_ocsp_respond would still sign
 * with the signer it chooses at now (the delegated responder expires, or
 * becomes valid): a response kept for reuse must not outlive it, since
 * relying parties refuse one from an expired responder.
 */
time_t est_ocsp_signer_until(const struct est_ca *ca, time_t now, time_t limit);

/* An unsigned OCSPResponse with only a status (malformedRequest, ...). */
enum est_err est_ocsp_error_response(enum est_ocsp_error status, unsigned char **der,
    size_t *derlen, struct est_error *e);

#ifdef __cplusplus
}
#endif

#endif
