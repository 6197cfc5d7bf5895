/*
 * lib/ca internals shared between its files. Nothing here is public API.
 *
 * A struct est_ca is filled once by est_ca_load and never changed after, so
 * any number of threads may issue and verify with it at the same time.
 */
#ifndef ESTKIT_CA_INT_H
#define ESTKIT_CA_INT_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "estkit/ca.h"
#include "estkit/err.h"

struct est_ca {
	char *ca_name;                 /* label used in messages */
	X509 *ca_cert;                 /* the CA certificate */
	EVP_PKEY *ca_key;              /* NULL: verify and /cacerts only */
	STACK_OF(X509) *ca_chain;      /* ca_cert first, self-signed root last */
	ASN1_OCTET_STRING *ca_keyid;   /* ca_cert's key identifier, for AKI */
	/* revocation (revinfo.c), set once before use; all NULL when not configured */
	char *ca_crl_url;              /* CRL distribution point of issued certificates */
	char *ca_ocsp_url;             /* AIA id-ad-ocsp */
	char *ca_issuers_url;          /* AIA id-ad-caIssuers */
	X509 *ca_ocsp_cert;            /* delegated OCSP responder; NULL: the CA signs */
	EVP_PKEY *ca_ocsp_key;
};

/* ---- certio.c ---- */

/*
 * Create path exclusively with mode (umask notwithstanding) and fill it with
 * writer(fp, arg), which returns 1 on success. EST_ERR_EXISTS when the file is
 * there already; when writing fails the file is removed, so no half-written
 * file is left. what ("private key", ...) names the content in messages.
 */
enum est_err ca_file_write(const char *path, mode_t mode, int (*writer)(FILE *fp, void *arg),
    void *arg, const char *what, struct est_error *e);

/* ---- profile.c: extensions ---- */

/* keyUsage bits (RFC 5280 §4.2.1.3 bit numbers as mask positions). */
enum ca_ku {
	CA_KU_DIGITAL_SIGNATURE = 1u << 0,
	CA_KU_KEY_ENCIPHERMENT = 1u << 2,
	CA_KU_KEY_AGREEMENT = 1u << 4,
	CA_KU_KEY_CERT_SIGN = 1u << 5,
	CA_KU_CRL_SIGN = 1u << 6
};

/* The keyUsage an end-entity certificate for key gets; BADREQ for a key
 * type without a rule. */
enum est_err ca_key_usage_for(EVP_PKEY *key, unsigned *bits, struct est_error *e);

/* Add basicConstraints (critical), keyUsage (critical) and, when eku is not
 * 0, extendedKeyUsage. */
enum est_err ca_add_basic_constraints(X509 *cert, bool is_ca, struct est_error *e);
enum est_err ca_add_key_usage(X509 *cert, unsigned bits, struct est_error *e);
enum est_err ca_add_eku(X509 *cert, unsigned eku, struct est_error *e);

/* Add subjectKeyIdentifier and authorityKeyIdentifier (keyid). issuer_keyid
 * NULL: self-signed, the AKI is the certificate's own key identifier. */
enum est_err ca_add_key_ids(X509 *cert, const ASN1_OCTET_STRING *issuer_keyid,
    struct est_error *e);

/* ---- revinfo.c ---- */

/* Add cRLDistributionPoints and authorityInfoAccess to an issued
 * certificate, for those of the CA's URLs that are set. */
enum est_err ca_add_revocation_urls(X509 *cert, const struct est_ca *ca, struct est_error *e);

/* ---- issue.c: certificate skeleton and signing ---- */

/* A new v3 certificate with a random positive serial, subject, issuer, key
 * (NULL: set by the caller) and validity [not_before, not_after]. Caller
 * X509_free()s *out. */
enum est_err ca_cert_new(const X509_NAME *subject, const X509_NAME *issuer,
    EVP_PKEY *pubkey, time_t not_before, time_t not_after, X509 **out,
    struct est_error *e);

/* The digest that suits a signing key: NULL for EdDSA (it hashes internally),
 * SHA-384 for EC keys of 384 bits and more, else SHA-256. */
const EVP_MD *ca_sign_md(EVP_PKEY *key);

/* Unix seconds of a certificate time; 0 when unreadable (rollover.c). */
time_t ca_unix_time(const ASN1_TIME *t);

/* Sign cert with key, using the digest that suits the key. */
enum est_err ca_cert_sign(X509 *cert, EVP_PKEY *key, struct est_error *e);

#endif
