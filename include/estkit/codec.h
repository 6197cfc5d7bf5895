/*
 * estkit codec: the encodings EST puts on the wire (RFC 7030 as updated by
 * RFC 8951) and small helpers over OpenSSL's X.509 objects.
 *
 * All ASN.1, base64 and PEM work is done by OpenSSL; these functions add the
 * EST rules (whitespace-tolerant base64, certs-only PKCS#7, lenient request
 * bodies) and give every failure a reason a person can act on.
 *
 * Ownership: a function that returns memory through an out-parameter hands it
 * to the caller, who frees it as the comment says. Out-parameters are left
 * untouched on failure.
 */
#ifndef ESTKIT_CODEC_H
#define ESTKIT_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "estkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Decode base64 (RFC 4648 §4). CR, LF, space and TAB anywhere in the input
 * are skipped (RFC 8951 §3.1). Padding is required where the length needs it.
 * Returns EST_OK and a malloc'd buffer (caller free()s) or EST_ERR_BADREQ.
 */
enum est_err est_b64_decode(const char *in, size_t inlen, unsigned char **out,
    size_t *outlen, struct est_error *e);

/*
 * Encode base64. With wrap, lines are 64 characters, each ended by "\n"
 * (what EST peers accept most widely); without, one line and no newline.
 * *out is NUL-terminated and malloc'd (caller free()s); *outlen excludes the NUL.
 */
enum est_err est_b64_encode(const unsigned char *in, size_t inlen, bool wrap,
    char **out, size_t *outlen, struct est_error *e);

/*
 * Turn an EST request body into DER. Accepted, in this order of detection:
 * PEM armour (any label), raw DER (first byte 0x30 and a length that fits),
 * base64 with or without line breaks. Content-Transfer-Encoding plays no part
 * (RFC 8951 §3). *der is malloc'd (caller free()s).
 */
enum est_err est_body_to_der(const unsigned char *body, size_t len,
    unsigned char **der, size_t *derlen, struct est_error *e);

/*
 * Read a PKCS#10 CSR from an EST request body (any form est_body_to_der
 * accepts). Does not verify the signature. Caller X509_REQ_free()s *out.
 */
enum est_err est_csr_from_body(const unsigned char *body, size_t len,
    X509_REQ **out, struct est_error *e);

/* Read a CSR from a PEM or DER file. Caller X509_REQ_free()s *out. */
enum est_err est_csr_read_file(const char *path, X509_REQ **out, struct est_error *e);

/*
 * Check the CSR's self-signature (proof of possession, RFC 7030 §3.4).
 * EST_OK or EST_ERR_BADREQ "CSR signature does not verify".
 */
enum est_err est_csr_verify(X509_REQ *req, struct est_error *e);

/*
 * The subjectAltName the CSR asks for in its extensionRequest attribute.
 * *out is NULL when there is none (EST_OK). Caller GENERAL_NAMES_free()s.
 * EST_ERR_BADREQ when the extension request cannot be decoded.
 */
enum est_err est_csr_get_san(X509_REQ *req, GENERAL_NAMES **out, struct est_error *e);

/* The subjectAltName of a certificate, or NULL. Caller GENERAL_NAMES_free()s. */
GENERAL_NAMES *est_cert_get_san(X509 *cert);

/*
 * Whether two SAN lists hold the same names, ignoring order and duplicates.
 * NULL counts as the empty list.
 */
bool est_san_equal(const GENERAL_NAMES *a, const GENERAL_NAMES *b);

/*
 * The challengePassword attribute (1.2.840.113549.1.9.7) of a CSR, decoded
 * from any DirectoryString choice to UTF-8. *out is NULL when the attribute
 * is absent (EST_OK). EST_ERR_BADREQ when it is present but malformed (more
 * than one value, not a string, over 255 characters). Caller free()s.
 */
enum est_err est_csr_challenge_password(X509_REQ *req, char **out, struct est_error *e);

/*
 * Encode certificates as a certs-only CMC Simple PKI Response: PKCS#7
 * SignedData with no content, no digest algorithms and no signers (RFC 7030
 * §4.1.3, RFC 5272 §4.1). *der is OPENSSL_malloc'd: caller OPENSSL_free()s.
 */
enum est_err est_certs_only_encode(STACK_OF(X509) *certs, unsigned char **der,
    size_t *derlen, struct est_error *e);

/*
 * Decode a certs-only response (DER). Caller frees *out with
 * sk_X509_pop_free(*out, X509_free). EST_ERR_BADREQ on anything else.
 */
enum est_err est_certs_only_decode(const unsigned char *der, size_t derlen,
    STACK_OF(X509) **out, struct est_error *e);

/*
 * Text forms used in the store, the logs and estadm. Each returns a malloc'd
 * NUL-terminated string (caller free()s) or NULL when out of memory.
 *   est_name_text:   RFC 2253 form, "CN=a,O=b,C=SE".
 *   est_san_text:    "DNS:a.example, IP:127.0.0.1, email:x@y" ("" for NULL).
 *   est_serial_text: upper-case hex without leading zeros ("2A").
 */
char *est_name_text(const X509_NAME *name);
char *est_san_text(const GENERAL_NAMES *san);
char *est_serial_text(const ASN1_INTEGER *serial);

/*
 * Normalise a serial typed by a person ("0x2a", "2A", "00:2a") to the
 * est_serial_text form. Returns 0 and writes at most outlen bytes, or -1
 * when the text is not a hex number or does not fit.
 */
int est_serial_normalise(const char *in, char *out, size_t outlen);

/* Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo; out holds 65 bytes. */
enum est_err est_spki_sha256(EVP_PKEY *key, char out[65], struct est_error *e);

/*
 * A short description of a key for messages and policy: "RSA 2048",
 * "EC P-256", "ED25519". Writes into out (NUL-terminated, truncated).
 */
void est_key_describe(EVP_PKEY *key, char *out, size_t outlen);

/* ---- media types and multipart bodies ------------------------------------ */

#define EST_MEDIA_MAX_PARAMS 8

/*
 * A parsed Content-Type value (RFC 7231 §3.1.1.1): type/subtype and its
 * parameters. type and parameter names are lower-cased (they are
 * case-insensitive); values are unquoted and keep their case.
 */
struct est_media_type {
	char type[96];                   /* "application/pkcs7-mime" */
	struct {
		char name[32];           /* "smime-type" */
		char value[128];         /* "certs-only" */
	} param[EST_MEDIA_MAX_PARAMS];
	size_t n_params;
};

/*
 * Parse a Content-Type value of len bytes: whitespace around ';' and '=' is
 * allowed, values may be tokens or quoted strings, parameters past
 * EST_MEDIA_MAX_PARAMS are ignored. EST_ERR_BADREQ says what is malformed.
 */
enum est_err est_media_type_parse(const char *value, size_t len, struct est_media_type *out,
    struct est_error *e);

/* The value of a parameter (name compared case-insensitively), or NULL. */
const char *est_media_type_param(const struct est_media_type *mt, const char *name);

/*
 * Whether mt is type (lower-case "type/subtype") and, when smime_type is not
 * NULL, carries that smime-type parameter (compared case-insensitively).
 */
bool est_media_type_is(const struct est_media_type *mt, const char *type,
    const char *smime_type);

/* One body part of a multipart body; body points into the parsed input. */
struct est_mime_part {
	struct est_media_type type;      /* text/plain when the part has no Content-Type */
	const unsigned char *body;
	size_t len;
};

/*
 * Split a multipart body (RFC 2046 §5.1) at its boundary (1-70 characters,
 * from the Content-Type's boundary parameter). Lines may end in CRLF or LF;
 * a preamble and an epilogue are skipped; each part's headers are read for
 * its Content-Type only (Content-Transfer-Encoding plays no part, RFC 8951).
 * Fills at most max parts and sets *count. EST_ERR_BADREQ when the body has
 * no opening or closing boundary, a part has malformed headers, or there are
 * more than max parts.
 */
enum est_err est_multipart_parse(const unsigned char *body, size_t len, const char *boundary,
    struct est_mime_part *parts, size_t max, size_t *count, struct est_error *e);

#ifdef __cplusplus
}
#endif

#endif
