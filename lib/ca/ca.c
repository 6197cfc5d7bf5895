/*
 * CAs: loading a CA (certificate, key, chain), creating a self-signed root,
 * and path validation of certificates presented to a CA.
 *
 * A loaded CA's chain has been validated up to a self-signed root with the
 * same RFC 5280 strict rules later used for clients, so a CA that could not
 * validate its own certificates fails at start-up, not at each request.
 * Once loaded, a CA is never modified (see ca_int.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "ca/ca_int.h"
#include "estkit/ca.h"

#define ROOT_BACKDATE_SECONDS 3600
#define MAX_ROOT_DAYS 36500

/* A path whose signatures are known good, for verify_known. */
struct known_path {
	STACK_OF(X509) *path;             /* leaf first (borrowed) */
	time_t when;                      /* the time of the verification */
	X509_STORE_CTX_verify_fn full;    /* OpenSSL's own step, for any other path */
};

/* Whether a and b hold the same certificates (by content) in the same order. */
static bool
same_path(STACK_OF(X509) *a, STACK_OF(X509) *b)
{
	int n = sk_X509_num(a);

	if (n <= 0 || n != sk_X509_num(b))
		return false;
	for (int i = 0; i < n; i++)
		if (X509_cmp(sk_X509_value(a, i), sk_X509_value(b, i)) != 0)
			return false;
	return true;
}

/* Why x is not valid at when, as OpenSSL's own check says it: X509_V_OK when it is. */
static int
time_error(X509 *x, time_t when)
{
	int c = X509_cmp_time(X509_get0_notBefore(x), &when);

	if (c == 0)
		return X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD;
	if (c > 0)
		return X509_V_ERR_CERT_NOT_YET_VALID;
	c = X509_cmp_time(X509_get0_notAfter(x), &when);
	if (c == 0)
		return X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD;
	if (c < 0)
		return X509_V_ERR_CERT_HAS_EXPIRED;
	return X509_V_OK;
}

/*
 * X509_verify_cert's last step (X509_STORE_CTX_set_verify), which checks
 * each certificate's signature and then its validity period, from the
 * anchor down. Signatures are the whole cost of a verification (an ECDSA
 * verification each); when the path just built is the known one, its
 * signatures were checked already and only the validity periods are judged
 * here, in the same order and with the same errors, so the outcome and its
 * reason do not change. Every other check of X509_verify_cert (the path
 * itself, the anchors, the strict RFC 5280 rules) still runs, before and
 * after this step. verify_path sets no verify callback, so the first error
 * ends the verification, as it would in OpenSSL's step.
 */
static int
verify_known(X509_STORE_CTX *ctx)
{
	const struct known_path *k = X509_STORE_CTX_get_app_data(ctx);
	STACK_OF(X509) *path = X509_STORE_CTX_get0_chain(ctx);
	int i, err = X509_V_OK;

	if (!same_path(path, k->path))
		return k->full(ctx);
	for (i = sk_X509_num(path) - 1; i >= 0; i--)
		if ((err = time_error(sk_X509_value(path, i), k->when)) != X509_V_OK)
			break;
	if (i < 0)
		return 1;
	X509_STORE_CTX_set_error(ctx, err);
	X509_STORE_CTX_set_error_depth(ctx, i);
	X509_STORE_CTX_set_current_cert(ctx, sk_X509_value(path, i));
	return 0;
}

/*
 * Path-validate cert up to one of anchors (the only trust anchors) through
 * untrusted (may be NULL), with RFC 5280 strict checks, for no particular
 * purpose, at *when (NULL: now). known (may be NULL; only with a when) is a
 * path whose signatures were checked already: if it is the path found, they
 * are not checked again (verify_known). Returns X509_V_OK and the validated
 * chain (leaf first; caller frees), or the X509_V_ERR_* reason.
 */
static int
verify_path(STACK_OF(X509) *anchors, X509 *cert, STACK_OF(X509) *untrusted,
    const time_t *when, STACK_OF(X509) *known, STACK_OF(X509) **chain)
{
	X509_STORE_CTX *ctx = NULL;
	X509_STORE *store;
	struct known_path k = { known, 0, NULL };
	int err = X509_V_ERR_OUT_OF_MEM;
	int i;

	if ((store = X509_STORE_new()) == NULL || (ctx = X509_STORE_CTX_new()) == NULL)
		goto out;
	for (i = 0; i < sk_X509_num(anchors); i++)
		if (!X509_STORE_add_cert(store, sk_X509_value(anchors, i)))
			goto out;
	if (!X509_STORE_CTX_init(ctx, store, cert, untrusted) ||
	    !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY))
		goto out;
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
	if (when != NULL)
		X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), *when);
	if (known != NULL && when != NULL && (k.full = X509_STORE_CTX_get_verify(ctx)) != NULL) {
		k.when = *when;
		if (!X509_STORE_CTX_set_app_data(ctx, &k))
			goto out;
		X509_STORE_CTX_set_verify(ctx, verify_known);
	}
	if (X509_verify_cert(ctx) == 1) {
		err = X509_V_OK;
		if ((*chain = X509_STORE_CTX_get1_chain(ctx)) == NULL)
			err = X509_V_ERR_OUT_OF_MEM;
	} else if ((err = X509_STORE_CTX_get_error(ctx)) == X509_V_OK) {
		err = X509_V_ERR_UNSPECIFIED;
	}
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return err;
}

/*
 * Set ca->ca_chain: validate the CA certificate up to a self-signed root
 * found among itself and pool (the chain file's certificates, may be NULL).
 */
static enum est_err
build_chain(struct est_ca *ca, STACK_OF(X509) *pool, const char *cert_path,
    const char *chain_path, struct est_error *e)
{
	int i, err, n = pool != NULL ? sk_X509_num(pool) : 0;
	STACK_OF(X509) *roots, *others;
	enum est_err rc = EST_OK;
	X509 *c;

	/* With the room reserved, the pushes below cannot fail. */
	roots = sk_X509_new_reserve(NULL, n + 1);
	others = sk_X509_new_reserve(NULL, n + 1);
	for (i = -1; roots != NULL && others != NULL && i < n; i++) {
		c = i < 0 ? ca->ca_cert : sk_X509_value(pool, i);
		sk_X509_push(X509_self_signed(c, 1) == 1 ? roots : others, c);
	}
	ERR_clear_error();
	if (roots == NULL || others == NULL)
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
	else if (sk_X509_num(roots) == 0 && chain_path == NULL)
		rc = est_fail(e, EST_ERR_CONFIG, "CA certificate %s is not self-signed: give "
		    "the chain file (its intermediates and root)", cert_path);
	else if (sk_X509_num(roots) == 0)
		rc = est_fail(e, EST_ERR_CONFIG, "no self-signed root certificate in %s or %s",
		    cert_path, chain_path);
	else if ((err = verify_path(roots, ca->ca_cert, others, NULL, NULL, &ca->ca_chain)) != X509_V_OK)
		rc = est_fail(e, EST_ERR_CONFIG, "CA certificate %s does not verify up to its "
		    "root: %s", cert_path, X509_verify_cert_error_string(err));
	/* The stacks borrow their certificates. */
	sk_X509_free(roots);
	sk_X509_free(others);
	return rc;
}

/*
 * What keeps cert from acting as a CA under RFC 5280, or NULL. Strict path
 * validation checks these on every issuer, but never on the CA certificate
 * at the end of its own chain: checked here, a CA whose certificates would
 * all be refused fails at start-up instead.
 */
static const char *
ca_cert_problem(X509 *cert)
{
	uint32_t flags = X509_get_extension_flags(cert);

	if (X509_check_ca(cert) != 1)
		return "it lacks basicConstraints CA:TRUE";
	if ((flags & EXFLAG_BCONS_CRITICAL) == 0)
		return "its basicConstraints extension is not critical";
	if ((flags & EXFLAG_KUSAGE) == 0 || (X509_get_key_usage(cert) & KU_KEY_CERT_SIGN) == 0)
		return "it lacks keyUsage keyCertSign";
	if (X509_get0_subject_key_id(cert) == NULL)
		return "it lacks a subjectKeyIdentifier";
	return NULL;
}

/* Whether the certificate may act as a CA and the key belongs to it. */
static enum est_err
check_ca_cert(struct est_ca *ca, const char *cert_path, const char *key_path,
    struct est_error *e)
{
	const char *problem;

	if ((problem = ca_cert_problem(ca->ca_cert)) != NULL)
		return est_fail(e, EST_ERR_CONFIG, "%s is not a usable CA certificate: %s "
		    "(RFC 5280)", cert_path, problem);
	if (ca->ca_key != NULL && X509_check_private_key(ca->ca_cert, ca->ca_key) != 1)
		return est_fail_ssl(e, EST_ERR_CONFIG, "private key %s does not match "
		    "certificate %s", key_path, cert_path);
	/* Issued certificates' AKI must match what the CA certificate states. */
	if ((ca->ca_keyid = ASN1_OCTET_STRING_dup(X509_get0_subject_key_id(ca->ca_cert))) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	return EST_OK;
}

enum est_err
est_ca_load(const char *name, const char *cert_path, const char *key_path,
    const char *chain_path, struct est_ca **out, struct est_error *e)
{
	STACK_OF(X509) *certs = NULL, *pool = NULL;
	struct est_ca *ca;
	enum est_err rc;

	if ((ca = calloc(1, sizeof(*ca))) == NULL || (ca->ca_name = strdup(name)) == NULL) {
		free(ca);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	if ((rc = est_certs_read(cert_path, &certs, e)) != EST_OK)
		goto out;
	ca->ca_cert = sk_X509_shift(certs);
	if (key_path != NULL && (rc = est_key_read(key_path, true, &ca->ca_key, e)) != EST_OK)
		goto out;
	if ((rc = check_ca_cert(ca, cert_path, key_path, e)) != EST_OK)
		goto out;
	if (chain_path != NULL && (rc = est_certs_read(chain_path, &pool, e)) != EST_OK)
		goto out;
	if ((rc = build_chain(ca, pool, cert_path, chain_path, e)) != EST_OK)
		goto out;
	*out = ca;
	ca = NULL;
out:
	est_ca_free(ca);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(pool, X509_free);
	return rc;
}

void
est_ca_free(struct est_ca *ca)
{
	if (ca == NULL)
		return;
	free(ca->ca_name);
	X509_free(ca->ca_cert);
	EVP_PKEY_free(ca->ca_key);
	sk_X509_pop_free(ca->ca_chain, X509_free);
	ASN1_OCTET_STRING_free(ca->ca_keyid);
	free(ca->ca_crl_url);
	free(ca->ca_ocsp_url);
	free(ca->ca_issuers_url);
	X509_free(ca->ca_ocsp_cert);
	EVP_PKEY_free(ca->ca_ocsp_key);
	free(ca);
}

const char *
est_ca_name(const struct est_ca *ca)
{
	return ca->ca_name;
}

X509 *
est_ca_cert(const struct est_ca *ca)
{
	return ca->ca_cert;
}

STACK_OF(X509) *
est_ca_chain(const struct est_ca *ca)
{
	return ca->ca_chain;
}

bool
est_ca_can_issue(const struct est_ca *ca)
{
	return ca->ca_key != NULL;
}

enum est_err
est_ca_make_root(EVP_PKEY *key, const char *cn, unsigned days, X509 **out,
    struct est_error *e)
{
	time_t now = time(NULL);
	X509_NAME *name;
	X509 *cert = NULL;
	enum est_err rc;

	if (days < 1 || days > MAX_ROOT_DAYS)
		return est_fail(e, EST_ERR_CONFIG, "root CA validity must be 1-%d days, not %u",
		    MAX_ROOT_DAYS, days);
	if ((name = X509_NAME_new()) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	if (cn == NULL || !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0)) {
		rc = est_fail_ssl(e, EST_ERR_CONFIG, "root CA common name \"%s\" is not "
		    "valid: give 1-64 characters", cn ? cn : "");
		goto out;
	}
	if ((rc = ca_cert_new(name, name, key, now - ROOT_BACKDATE_SECONDS,
	    now + (time_t)days * 86400, &cert, e)) != EST_OK ||
	    (rc = ca_add_basic_constraints(cert, true, e)) != EST_OK ||
	    (rc = ca_add_key_usage(cert, CA_KU_KEY_CERT_SIGN | CA_KU_CRL_SIGN, e)) != EST_OK ||
	    (rc = ca_add_key_ids(cert, NULL, e)) != EST_OK ||
	    (rc = ca_cert_sign(cert, key, e)) != EST_OK)
		goto out;
	*out = cert;
	cert = NULL;
out:
	X509_free(cert);
	X509_NAME_free(name);
	return rc;
}

/*
 * Whether the CA's own certificate issued the leaf of a validated path. Not
 * merely somewhere above it: a certificate of another CA of this server that
 * is subordinate to this one would otherwise pass here (it is on record, in
 * the shared store) and renew at this CA's alias under none of its rules.
 */
static bool
issued_by_ca(const struct est_ca *ca, STACK_OF(X509) *path)
{
	return sk_X509_num(path) > 1 && X509_cmp(sk_X509_value(path, 1), ca->ca_cert) == 0;
}

/* The untrusted certificates for a path to ca's root: its chain below the
 * root, then extra. The stack borrows them. NULL when out of memory. */
static STACK_OF(X509) *
untrusted_for(const struct est_ca *ca, STACK_OF(X509) *extra)
{
	int i, n = sk_X509_num(ca->ca_chain) - 1, nx = extra ? sk_X509_num(extra) : 0;
	STACK_OF(X509) *st;

	/* With the room reserved, the pushes below cannot fail. */
	if ((st = sk_X509_new_reserve(NULL, n + nx)) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		sk_X509_push(st, sk_X509_value(ca->ca_chain, i));
	for (i = 0; i < nx; i++)
		sk_X509_push(st, sk_X509_value(extra, i));
	return st;
}

enum est_err
est_ca_verify(const struct est_ca *ca, X509 *cert, STACK_OF(X509) *extra,
    time_t now, struct est_error *e)
{
	return est_ca_verify_known(ca, cert, extra, NULL, now, e);
}

enum est_err
est_ca_verify_known(const struct est_ca *ca, X509 *cert, STACK_OF(X509) *extra,
    STACK_OF(X509) *known, time_t now, struct est_error *e)
{
	STACK_OF(X509) *anchor, *untrusted, *path = NULL;
	int err = X509_V_ERR_OUT_OF_MEM;
	enum est_err rc;

	/* The root is the only trust anchor. */
	anchor = sk_X509_new_reserve(NULL, 1);
	untrusted = untrusted_for(ca, extra);
	if (anchor != NULL && untrusted != NULL) {
		sk_X509_push(anchor, sk_X509_value(ca->ca_chain, sk_X509_num(ca->ca_chain) - 1));
		err = verify_path(anchor, cert, untrusted, &now, known, &path);
	}
	if (err != X509_V_OK)
		rc = est_fail(e, EST_ERR_FORBIDDEN, "client certificate not trusted: %s",
		    X509_verify_cert_error_string(err));
	else if (!issued_by_ca(ca, path))
		rc = est_fail(e, EST_ERR_FORBIDDEN, "certificate was not issued by CA %s",
		    ca->ca_name);
	else
		rc = EST_OK;
	sk_X509_pop_free(path, X509_free);
	sk_X509_free(anchor);
	sk_X509_free(untrusted);
	return rc;
}

enum est_err
est_chain_verify(STACK_OF(X509) *anchors, STACK_OF(X509) *untrusted, X509 *cert,
    STACK_OF(X509) *known, time_t now, STACK_OF(X509) *listed, struct est_error *e)
{
	STACK_OF(X509) *path = NULL;
	enum est_err rc = EST_OK;
	int err;
	bool found = false;

	err = verify_path(anchors, cert, untrusted, &now, known, &path);
	if (err != X509_V_OK)
		return est_fail(e, EST_ERR_FORBIDDEN, "client certificate not trusted: %s",
		    X509_verify_cert_error_string(err));
	for (int i = 1; i < sk_X509_num(path) && !found; i++)
		for (int j = 0; j < sk_X509_num(listed) && !found; j++)
			found = X509_cmp(sk_X509_value(path, i), sk_X509_value(listed, j)) == 0;
	if (!found)
		rc = est_fail(e, EST_ERR_FORBIDDEN, "client certificate was not issued under "
		    "any of the CAs this alias lists");
	sk_X509_pop_free(path, X509_free);
	return rc;
}
