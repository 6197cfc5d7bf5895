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
 * Decode base64 in its one canonical form (RFC 4648 §3.5): no whitespace,
 * whole quads with the padding, unused bits zero -- what HTTP Basic
 * credentials, Digest nonces and stored hashes must be. Writes at most cap
 * bytes to out; false for anything else or a result longer than cap. The
 * buffers used on the way are wiped (a Basic password passes through).
 */
bool est_b64_decode_strict(const char *in, size_t inlen, unsigned char *out, size_t cap,
    size_t *outlen);

/*
 * Encode base64. With wrap, lines are 64 characters, each ended by "\n"
 * (what EST peers accept most widely); without, one line and no newline.
 * *out is NUL-terminated and malloc'd (caller free()s); *outlen excludes the NUL.
 */
enum est_err est_b64_encode(const unsigned char *in, size_t inlen, bool wrap,
    char **out, size_t *outlen, struct est_error *e);

/*
 * Turn an EST body (request or answer) into DER. Accepted, in this order of
 * detection: PEM armour (any label), raw DER (first byte 0x30 and a length
 * that fits), base64 with or without line breaks. Content-Transfer-Encoding
 * plays no part (RFC 8951 §3). NUL bytes at the end are ignored (libest's
 * server ends its /csrattrs answer in one). *der is malloc'd (caller free()s).
 */
enum est_err est_body_to_der(const unsigned char *body, size_t len,
    unsigned char **der, size_t *derlen, struct est_error *e);

/* The length of body without the trailing NUL bytes est_body_to_der ignores. */
size_t est_body_len_without_nuls(const unsigned char *body, size_t len);

/*
 * Read a PKCS#10 CSR from an EST request body (any form est_body_to_der
 * accepts). Does not verify the signature. Caller X509_REQ_free()s *out.
 */
enum est_err est_csr_from_body(const unsigned char *body, size_t len,
    X509_REQ **out, struct est_error *e);

/* Read a CSR from a PEM or DER file. Caller X509_REQ_free()s *out. */
enum est_err est_csr_read_file(const char *path, X509_REQ **out, struct est_error *e);

/* ---- PEM files (pemfile.c) --------------------------------------------- */

/*
 * Read a private key (PEM, PKCS#8 or traditional). With check_mode, refuse a
 * file readable or writable by group or others: EST_ERR_CONFIG, with a
 * message naming the file, its mode and the chmod that fixes it.
 * Caller EVP_PKEY_free()s *out.
 */
enum est_err est_key_read(const char *path, bool check_mode, EVP_PKEY **out,
    struct est_error *e);

/* The first PEM public key in a file. Caller EVP_PKEY_free()s *out. */
enum est_err est_pubkey_read(const char *path, EVP_PKEY **out, struct est_error *e);

/* Read all PEM certificates in a file (at least one). Caller frees with
 * sk_X509_pop_free(*out, X509_free). */
enum est_err est_certs_read(const char *path, STACK_OF(X509) **out, struct est_error *e);

/*
 * Check the CSR's self-signature (proof of possession, RFC 7030 §3.4).
 * EST_OK or EST_ERR_BADREQ: "CSR signature does not verify", or "CSR public
 * key is the point at infinity" (a key under which any signature verifies).
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

/* id-cmc-changeSubjectName (RFC 6402 §2.8), a CSR attribute (RFC 7030 §4.2.1). */
#define EST_OID_CHANGE_SUBJECT_NAME "1.3.6.1.5.5.7.7.36"

/*
 * Whether the CSR carries a ChangeSubjectName attribute, and the subject it
 * names as the one to change from (*old_subject, NULL when it names none;
 * caller X509_NAME_free()s). EST_ERR_BADREQ when malformed.
 */
enum est_err est_csr_change_subject_name(X509_REQ *req, bool *present,
    X509_NAME **old_subject, struct est_error *e);

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
 *   est_san_text:    "DNS:a.example, IP:127.0.0.1, email:x@y" ("" for NULL);
 *                    an otherName is "othername:<OID>;<value>" when its value
 *                    is a UTF8, IA5 or Printable string, else
 *                    "othername:<OID>#<the value's DER, upper-case hex>".
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

/*
 * A serial in the est_serial_text form as `openssl x509 -serial` prints it,
 * in whole bytes ("0A3F" for "A3F"), for logs and people: then the output
 * of one can be grepped for the other, and either form pasted back
 * (est_serial_normalise). Writes into buf (the caller's) and returns it;
 * EST_SERIAL_SHOWN_MAX holds a serial of up to 64 bytes, longer ones are
 * cut short.
 */
#define EST_SERIAL_SHOWN_MAX 132
const char *est_serial_shown(const char *serial, char *buf, size_t len);

/*
 * A principal as estd names it ("user:NAME", "cert:SERIAL", ...), with the
 * serial of a cert: or ra: principal in est_serial_shown's spelling
 * whatever spelling it came in ("cert:A3F", "ra:0x0a3f" -> "cert:0A3F",
 * "ra:0A3F"); other principals are copied as they are. Returns 0 and writes
 * at most outlen bytes, or -1 when such a serial is not a hex number or the
 * result does not fit.
 */
int est_principal_normalise(const char *in, char *out, size_t outlen);

/*
 * The NID of a DN attribute name people type: CN, serialNumber, UID, E (or
 * emailAddress), O, OU, C, L, ST, DC, SN, GN, title, street, postalCode,
 * pseudonym, name, initials (case-insensitive). NID_undef for anything else.
 */
int est_dn_field_nid(const char *field);

/*
 * Parse an RFC 4514-style DN, most specific part first ("CN=dev,O=Org,C=SE"
 * is the ASN.1 sequence C, O, CN), attribute names as est_dn_field_nid
 * takes them. EST_ERR_BADREQ says what is wrong. Caller X509_NAME_free()s.
 */
enum est_err est_name_parse(const char *text, X509_NAME **out, struct est_error *e);

/*
 * The UTF-8 value of the most specific (last) attribute nid in name.
 * EST_ERR_NOTFOUND when absent, EST_ERR_BADREQ when not a clean string.
 * Caller free()s *out.
 */
enum est_err est_name_field(const X509_NAME *name, int nid, char **out, struct est_error *e);

/*
 * Whether two DNs hold the same attributes with the same values (compared
 * as X509_NAME_cmp does: case and spacing folded), in whatever RDN order.
 * DNs of more than 64 attributes never compare equal (the comparison is
 * quadratic, and no real certificate has that many).
 */
bool est_name_equal_unordered(const X509_NAME *a, const X509_NAME *b);

/*
 * Parse "dns:a.example,ip:10.0.0.7,email:x@y,uri:https://..." (comma or
 * space separated) into GeneralNames. Caller GENERAL_NAMES_free()s.
 */
enum est_err est_san_parse(const char *text, GENERAL_NAMES **out, struct est_error *e);

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

/* One body part of a received multipart body: a slice of the input. */
struct est_mime_slice {
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
    struct est_mime_slice *parts, size_t max, size_t *count, struct est_error *e);

/* ---- building multipart/mixed (RFC 2046 §5.1), for /serverkeygen -------- */

/* The boundary estd uses: the one the seed's parse_server_keygen_response greps for. */
#define EST_MULTIPART_BOUNDARY "CONTENTBOUNDARY"

/* One body part: its media type and its base64 text (lines end in LF or CRLF). */
struct est_mime_part {
	const char *content_type;
	const char *body;
	size_t len;
};

/*
 * Build a multipart/mixed body: for each part "--BOUNDARY", "Content-Type:
 * TYPE", "Content-Transfer-Encoding: base64", an empty line and the body's
 * lines, then "--BOUNDARY--"; every line ends in CRLF, no preamble or
 * epilogue. EST_ERR_INTERNAL when the boundary is not 1-70 plain characters
 * or occurs in a part. The body may hold a private key: *out is
 * OPENSSL_malloc'd, caller frees with OPENSSL_clear_free(*out, *outlen).
 */
enum est_err est_multipart_encode(const struct est_mime_part *parts, size_t n,
    const char *boundary, char **out, size_t *outlen, struct est_error *e);

/* ---- CSR attributes (RFC 7030 §4.5, RFC 8951 §5) ------------------------- */

/* One AttrOrOID: a bare OID (attr NULL) or an Attribute. */
struct est_csrattr {
	ASN1_OBJECT *oid;           /* the OID, or the attribute's type */
	X509_ATTRIBUTE *attr;       /* NULL for a bare OID */
};

/* A CsrAttrs sequence, in order. */
struct est_csrattrs {
	struct est_csrattr *item;
	size_t n;
	size_t n_unreadable;        /* decoded: SEQUENCE items that are no Attribute, skipped */
};

/*
 * Parse the configuration's text form: items separated by commas or
 * spaces, each "NAME" (a bare OID) or "TYPE:VALUE" (a value of attribute
 * TYPE; repeating TYPE adds values to the same attribute). NAME, TYPE and
 * OID values are OpenSSL names, numeric OIDs, or ecPublicKey,
 * extensionRequest, P-256, P-384, P-521, macAddress. A VALUE of digits is an
 * INTEGER. extensionRequest:EXT values become one Extensions value whose
 * extensions have an empty extnValue (the client fills them in). Example:
 * "challengePassword, ecPublicKey:P-256, ecdsa-with-SHA256,
 * extensionRequest:subjectAltName". EST_ERR_BADREQ names the bad item.
 * Caller frees *out with est_csrattrs_free().
 */
enum est_err est_csrattrs_parse(const char *text, struct est_csrattrs **out,
    struct est_error *e);

/* DER CsrAttrs. *der is OPENSSL_malloc'd: caller OPENSSL_free()s. */
enum est_err est_csrattrs_encode(const struct est_csrattrs *a, unsigned char **der,
    size_t *derlen, struct est_error *e);

/*
 * Decode DER CsrAttrs (an empty SEQUENCE gives n = 0). An item that is a
 * SEQUENCE but not a valid Attribute is skipped and counted in n_unreadable
 * (a client ignores what it cannot use, EST-C-62); EST_ERR_BADREQ for an
 * item of another type, trailing bytes, or no SEQUENCE. The client decodes
 * /csrattrs answers with this. Caller frees *out with est_csrattrs_free().
 */
enum est_err est_csrattrs_decode(const unsigned char *der, size_t derlen,
    struct est_csrattrs **out, struct est_error *e);

void est_csrattrs_free(struct est_csrattrs *a);

/*
 * Whether csr gives what a carries: the attributes, requested extensions,
 * signature algorithm and key it asks for (an rsaEncryption INTEGER is a
 * minimum size; id-ecPublicKey values are the allowed curves). Without
 * key_checks the key and signature items are skipped (for /serverkeygen,
 * unless its key is made like the CSR's). EST_ERR_BADREQ names the first
 * thing missing.
 */
enum est_err est_csrattrs_check(const struct est_csrattrs *a, X509_REQ *csr,
    bool key_checks, struct est_error *e);

/* ---- server-generated keys (RFC 7030 §4.4) ------------------------------- */

/* id-ct-KP-aKeyPackage (RFC 5958): the content type of a signed key package. */
#define EST_OID_KEY_PACKAGE "2.16.840.1.101.2.1.2.78.5"

/*
 * What a /serverkeygen CSR asks for when it wants the key encrypted (RFC
 * 7030 §4.4.1): DecryptKeyIdentifier (1.2.840.113549.1.9.16.2.37, a
 * symmetric key both sides know) or AsymmetricDecryptKeyIdentifier
 * (1.2.840.113549.1.9.16.2.54, the subject key identifier of the client's
 * key-encipherment certificate), and SMIMECapabilities
 * (1.2.840.113549.1.9.15), the key-encipherment algorithms it accepts.
 */
struct est_keyreq {
	unsigned char *kek_id;      /* DecryptKeyIdentifier, or NULL */
	size_t kek_id_len;
	unsigned char *cert_id;     /* AsymmetricDecryptKeyIdentifier, or NULL */
	size_t cert_id_len;
	STACK_OF(X509_ALGOR) *caps; /* SMIMECapabilities */
};

/*
 * Read the encryption request of a CSR. *out is NULL when the CSR asks for
 * none (EST_OK). EST_ERR_BADREQ when an identifier is malformed, both are
 * present, or SMIMECapabilities is missing or malformed. Caller frees with
 * est_keyreq_free().
 */
enum est_err est_csr_keyreq(X509_REQ *csr, struct est_keyreq **out, struct est_error *e);
void est_keyreq_free(struct est_keyreq *r);

/* Whether SMIMECapabilities lists the algorithm nid. */
bool est_keyreq_lists(const struct est_keyreq *r, int nid);

/*
 * The PKCS#8 PrivateKeyInfo (RFC 5958 OneAsymmetricKey v1) of key, DER.
 * *der is OPENSSL_malloc'd: caller frees with OPENSSL_clear_free(*der, *derlen).
 */
enum est_err est_pkcs8_encode(EVP_PKEY *key, unsigned char **der, size_t *derlen,
    struct est_error *e);

/*
 * AsymmetricKeyPackage ::= SEQUENCE OF OneAsymmetricKey holding key, DER.
 * Caller frees *der with OPENSSL_clear_free(*der, *derlen).
 */
enum est_err est_keypkg_encode(EVP_PKEY *key, unsigned char **der, size_t *derlen,
    struct est_error *e);

/* Who can open an encrypted key: a shared key, or a certificate (and its key). */
struct est_key_recipient {
	const unsigned char *kek_id;    /* symmetric: the key's identifier ... */
	size_t kek_id_len;
	const unsigned char *kek;       /* ... and the key, 16, 24 or 32 bytes (AES key wrap) */
	size_t kek_len;
	X509 *cert;                     /* asymmetric: RSA (ktri) or EC (kari), rid = its SKI */
	EVP_PKEY *key;                  /* opening only: the certificate's private key */
};

/*
 * Encrypt a SignedData (DER, as est_ca_sign_content makes it) for one
 * recipient: CMS EnvelopedData, AES-256-CBC content encryption, inner
 * content type id-signedData (RFC 7030 §4.4.2). *der is OPENSSL_malloc'd:
 * caller OPENSSL_free()s.
 */
enum est_err est_keypkg_envelope(const unsigned char *signed_der, size_t signed_len,
    const struct est_key_recipient *rcpt, unsigned char **der, size_t *derlen,
    struct est_error *e);

/*
 * What a client does with an encrypted key part: decrypt the EnvelopedData
 * (DER) as rcpt, verify the SignedData inside against the certificates in
 * trust (each trusted as it stands, so a signer that chains to any of them
 * will do; NULL: the system's trust store), check that it carries
 * id-ct-KP-aKeyPackage, and return its first key. With signers non-NULL,
 * also the SignedData's signer certificates, so the caller can insist on
 * one of them exactly (caller sk_X509_pop_free(X509_free)s; NULL on
 * failure). EST_ERR_CRYPTO when rcpt cannot decrypt it; EST_ERR_BADREQ says
 * which other step failed. Caller EVP_PKEY_free()s *key.
 */
enum est_err est_keypkg_open(const unsigned char *der, size_t derlen,
    const struct est_key_recipient *rcpt, STACK_OF(X509) *trust, EVP_PKEY **key,
    STACK_OF(X509) **signers, struct est_error *e);

#ifdef __cplusplus
}
#endif

#endif
