/*
 * What a client may believe of a server's certificates (RFC 7030 §4.1.3,
 * §4.2.3; est-conformance.md EST-C-10, EST-C-12, EST-C-52).
 *
 * A /cacerts answer is a bag the server chose; nothing in it is trusted
 * because it is there. The bag is path-validated around its current root
 * (the self-signed CA certificate with the latest notAfter, NewWithNew):
 * every other certificate must verify up to that root, an older root is
 * kept only when an OldWithNew certificate (its key, signed by the current
 * root) links it, and rollover certificates must verify under the keys they
 * claim. With a trust anchor the current root must also be, or be linked
 * to, one of the anchors. An issued certificate is verified with
 * X509_verify_cert against the explicit anchors, the bag as untrusted
 * helpers only.
 *
 * All checks read the clock now: a certificate outside its validity fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "client/client_int.h"
#include "estkit/codec.h"

/* A short subject for messages (RFC 2253), in a caller's buffer. */
static const char *
subject_of(X509 *x, char *buf, size_t len)
{
	char *t = est_name_text(X509_get_subject_name(x));

	snprintf(buf, len, "%s", t != NULL && t[0] != '\0' ? t : "(empty subject)");
	free(t);
	return buf;
}

/*
 * X509_verify_cert of x against trusted, with untrusted helpers; flags
 * added to the defaults. Returns X509_V_OK or the verify error; *chain
 * (optional) gets the verified chain (caller sk_X509_pop_free()s).
 */
static int
verify_one(X509 *x, STACK_OF(X509) *trusted, STACK_OF(X509) *untrusted, unsigned long flags,
    STACK_OF(X509) **chain)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int err = X509_V_ERR_UNSPECIFIED;

	if (st == NULL || ctx == NULL)
		goto out;
	for (int i = 0; i < sk_X509_num(trusted); i++)
		if (!X509_STORE_add_cert(st, sk_X509_value(trusted, i)))
			goto out;
	if (!X509_STORE_CTX_init(ctx, st, x, untrusted))
		goto out;
	X509_STORE_CTX_set_flags(ctx, flags);
	if (X509_verify_cert(ctx) == 1) {
		err = X509_V_OK;
		if (chain != NULL && (*chain = X509_STORE_CTX_get1_chain(ctx)) == NULL)
			err = X509_V_ERR_OUT_OF_MEM;
	} else {
		err = X509_STORE_CTX_get_error(ctx);
		if (err == X509_V_OK)
			err = X509_V_ERR_UNSPECIFIED;
	}
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	ERR_clear_error();
	return err;
}

/* verify_one with a single trusted certificate. */
static int
verify_under(X509 *x, X509 *anchor, STACK_OF(X509) *untrusted)
{
	STACK_OF(X509) *one = sk_X509_new_null();
	int err;

	if (one == NULL || !sk_X509_push(one, anchor)) {
		sk_X509_free(one);
		return X509_V_ERR_OUT_OF_MEM;
	}
	err = verify_one(x, one, untrusted, X509_V_FLAG_CHECK_SS_SIGNATURE, NULL);
	sk_X509_free(one);
	return err;
}

/* A self-issued CA certificate (subject = issuer, its own key signs it). */
static bool
is_root(X509 *x)
{
	bool self = X509_check_issued(x, x) == X509_V_OK && X509_check_ca(x) != 0;

	ERR_clear_error();
	return self;
}

static bool
same_key(X509 *a, X509 *b)
{
	bool eq = EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)) == 1;

	ERR_clear_error();
	return eq;
}

static bool
in_stack(STACK_OF(X509) *s, X509 *x)
{
	for (int i = 0; i < sk_X509_num(s); i++)
		if (X509_cmp(sk_X509_value(s, i), x) == 0)
			return true;
	return false;
}

/* The bag split: roots, the current root first, and the rest. */
struct bag {
	STACK_OF(X509) *roots;    /* self-signed CA certificates, current first */
	STACK_OF(X509) *others;   /* everything else, in the server's order */
};

static void
bag_clear(struct bag *b)
{
	sk_X509_free(b->roots);
	sk_X509_free(b->others);
}

static enum est_err
split_bag(STACK_OF(X509) *certs, struct bag *b, struct est_error *e)
{
	char s[128];
	int err;

	b->roots = sk_X509_new_null();
	b->others = sk_X509_new_null();
	if (b->roots == NULL || b->others == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);

		if (!is_root(x)) {
			if (!sk_X509_push(b->others, x))
				return est_fail(e, EST_ERR_NOMEM, "out of memory");
			continue;
		}
		if ((err = verify_under(x, x, NULL)) != X509_V_OK)
			return est_fail(e, EST_ERR_SERVER, "the /cacerts root \"%s\" is not valid: "
			    "%s", subject_of(x, s, sizeof(s)), X509_verify_cert_error_string(err));
		/* The current root (NewWithNew) has the latest notAfter. */
		if (sk_X509_num(b->roots) > 0 && ASN1_TIME_compare(X509_get0_notAfter(x),
		    X509_get0_notAfter(sk_X509_value(b->roots, 0))) > 0) {
			if (!sk_X509_unshift(b->roots, x))
				return est_fail(e, EST_ERR_NOMEM, "out of memory");
		} else if (!sk_X509_push(b->roots, x)) {
			return est_fail(e, EST_ERR_NOMEM, "out of memory");
		}
	}
	if (sk_X509_num(b->roots) == 0)
		return est_fail(e, EST_ERR_SERVER, "the /cacerts answer holds no root (self-signed "
		    "CA) certificate: it cannot be validated (RFC 7030 §4.1.3)");
	return EST_OK;
}

/* The old root this rollover certificate carries the key of, or NULL. */
static X509 *
old_root_of(const struct bag *b, X509 *x)
{
	for (int i = 1; i < sk_X509_num(b->roots); i++)
		if (same_key(x, sk_X509_value(b->roots, i)))
			return sk_X509_value(b->roots, i);
	return NULL;
}

/*
 * Each older root must be linked to the current one by a verified
 * OldWithNew (its key, signed by the current root); each NewWithOld (the
 * current key) must verify under an older root.
 */
static enum est_err
check_rollover(const struct bag *b, struct est_error *e)
{
	X509 *cur = sk_X509_value(b->roots, 0), *old;
	char s[128];
	bool linked;

	for (int i = 1; i < sk_X509_num(b->roots); i++) {
		old = sk_X509_value(b->roots, i);
		linked = false;
		for (int k = 0; k < sk_X509_num(b->others) && !linked; k++) {
			X509 *x = sk_X509_value(b->others, k);

			linked = same_key(x, old) && verify_under(x, cur, NULL) == X509_V_OK;
		}
		if (!linked)
			return est_fail(e, EST_ERR_SERVER, "the /cacerts answer holds the root \"%s\", "
			    "unrelated to the current root (no verified OldWithNew certificate links "
			    "them): refused", subject_of(old, s, sizeof(s)));
	}
	for (int k = 0; k < sk_X509_num(b->others); k++) {
		X509 *x = sk_X509_value(b->others, k);
		bool ok = false;

		if (!same_key(x, cur))
			continue;
		for (int i = 1; i < sk_X509_num(b->roots) && !ok; i++)
			ok = verify_under(x, sk_X509_value(b->roots, i), NULL) == X509_V_OK;
		if (!ok)
			return est_fail(e, EST_ERR_SERVER, "the /cacerts answer holds \"%s\" with the "
			    "current root's key, not a verified NewWithOld certificate: refused",
			    subject_of(x, s, sizeof(s)));
	}
	return EST_OK;
}

/* Every other certificate verifies up to the current root (EST-C-12). */
static enum est_err
check_others(const struct bag *b, struct est_error *e)
{
	X509 *cur = sk_X509_value(b->roots, 0);
	STACK_OF(X509) *helpers = sk_X509_new_null();
	enum est_err rc = EST_OK;
	char s[128];
	int err;

	if (helpers == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	/* NewWithOld certificates would lead chains back to the old root. */
	for (int k = 0; k < sk_X509_num(b->others); k++)
		if (!same_key(sk_X509_value(b->others, k), cur) &&
		    !sk_X509_push(helpers, sk_X509_value(b->others, k))) {
			sk_X509_free(helpers);
			return est_fail(e, EST_ERR_NOMEM, "out of memory");
		}
	for (int k = 0; rc == EST_OK && k < sk_X509_num(b->others); k++) {
		X509 *x = sk_X509_value(b->others, k);

		if (same_key(x, cur) || old_root_of(b, x) != NULL)
			continue; /* rollover certificates: check_rollover */
		if ((err = verify_under(x, cur, helpers)) != X509_V_OK)
			rc = est_fail(e, EST_ERR_SERVER, "the /cacerts answer holds \"%s\", which "
			    "does not verify up to its root (%s): refused",
			    subject_of(x, s, sizeof(s)), X509_verify_cert_error_string(err));
	}
	sk_X509_free(helpers);
	return rc;
}

/*
 * With trust anchors, the current root must be one of them (or carry an
 * anchor's key), or be linked to one by a NewWithOld certificate that
 * verifies under it. An old root in the bag proves nothing: anyone can copy
 * it. Nor does an anchored intermediate in the bag that verifies up to the
 * root: the root's owner can certify the intermediate's issuer key under
 * his own root. So that counts only when no anchor is a root -- whoever
 * pinned just an intermediate has no root of his own that could be usurped.
 */
static enum est_err
check_anchored(const struct bag *b, STACK_OF(X509) *anchors, struct est_error *e)
{
	X509 *cur = sk_X509_value(b->roots, 0);
	bool root_pinned = false;
	char s[128];

	for (int i = 0; i < sk_X509_num(anchors) && !root_pinned; i++)
		root_pinned = is_root(sk_X509_value(anchors, i));
	for (int i = 0; i < sk_X509_num(anchors); i++) {
		X509 *a = sk_X509_value(anchors, i);

		if (X509_cmp(a, cur) == 0 || same_key(a, cur) ||
		    (!root_pinned && in_stack(b->others, a)))
			return EST_OK;
	}
	for (int k = 0; k < sk_X509_num(b->others); k++) {
		X509 *x = sk_X509_value(b->others, k);

		if (same_key(x, cur) && verify_one(x, anchors, NULL,
		    X509_V_FLAG_CHECK_SS_SIGNATURE, NULL) == X509_V_OK)
			return EST_OK;
	}
	return est_fail(e, EST_ERR_SERVER, "the /cacerts root \"%s\" is not the trust anchor "
	    "and nothing in the answer links it to one: refused (RFC 7030 §4.1.3)",
	    subject_of(cur, s, sizeof(s)));
}

enum est_err
est_cacerts_validate(STACK_OF(X509) *certs, STACK_OF(X509) *anchors, STACK_OF(X509) **roots,
    struct est_error *e)
{
	struct bag b = { 0 };
	enum est_err rc;

	if (sk_X509_num(certs) <= 0)
		return est_fail(e, EST_ERR_SERVER, "the /cacerts answer holds no certificate");
	if ((rc = split_bag(certs, &b, e)) == EST_OK && (rc = check_rollover(&b, e)) == EST_OK &&
	    (rc = check_others(&b, e)) == EST_OK && anchors != NULL)
		rc = check_anchored(&b, anchors, e);
	if (rc == EST_OK && roots != NULL) {
		*roots = sk_X509_new_null();
		for (int i = 0; *roots != NULL && i < sk_X509_num(b.roots); i++) {
			X509 *x = sk_X509_value(b.roots, i);

			if (!X509_up_ref(x) || !sk_X509_push(*roots, x)) {
				sk_X509_pop_free(*roots, X509_free);
				*roots = NULL;
			}
		}
		if (*roots == NULL)
			rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	bag_clear(&b);
	return rc;
}

/* The names of cert against what was asked for. */
static enum est_err
check_names(X509 *cert, const struct est_cert_expect *want, struct est_error *e)
{
	GENERAL_NAMES *san;
	char got[128], *asked;
	bool same;

	if (want->any_names)
		return EST_OK;
	if (want->subject != NULL &&
	    !est_name_equal_unordered(X509_get_subject_name(cert), want->subject)) {
		asked = est_name_text(want->subject);
		est_fail(e, EST_ERR_SERVER, "the certificate names \"%s\", the request asked for "
		    "\"%s\"", subject_of(cert, got, sizeof(got)), asked != NULL ? asked : "?");
		free(asked);
		return EST_ERR_SERVER;
	}
	san = est_cert_get_san(cert);
	same = est_san_equal(san, want->san);
	GENERAL_NAMES_free(san);
	if (!same)
		return est_fail(e, EST_ERR_SERVER, "the certificate's subjectAltName differs "
		    "from the one the request asked for");
	return EST_OK;
}

enum est_err
est_cert_validate(X509 *cert, STACK_OF(X509) *untrusted, STACK_OF(X509) *anchors,
    const struct est_cert_expect *want, STACK_OF(X509) **chain, struct est_error *e)
{
	STACK_OF(X509) *got = NULL, *helpers;
	enum est_err rc;
	int err;

	if (sk_X509_num(anchors) <= 0)
		return est_fail(e, EST_ERR_CONFIG, "no trust anchor to verify the certificate with");
	if (X509_check_ca(cert) != 0) {
		ERR_clear_error();
		return est_fail(e, EST_ERR_SERVER, "the certificate is a CA certificate, not one "
		    "for an end entity");
	}
	if (want->key != NULL && !(EVP_PKEY_eq(X509_get0_pubkey(cert), want->key) == 1)) {
		ERR_clear_error();
		return est_fail(e, EST_ERR_SERVER, "the certificate is for another key than the "
		    "one that was sent");
	}
	/* Roots among the helpers would end chains short of the anchors
	 * (OldWithOld next to OldWithNew): only anchors end a chain. */
	if ((helpers = sk_X509_new_null()) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (int i = 0; i < sk_X509_num(untrusted); i++)
		if (!is_root(sk_X509_value(untrusted, i)) &&
		    !sk_X509_push(helpers, sk_X509_value(untrusted, i))) {
			sk_X509_free(helpers);
			return est_fail(e, EST_ERR_NOMEM, "out of memory");
		}
	err = verify_one(cert, anchors, helpers, X509_V_FLAG_CHECK_SS_SIGNATURE, &got);
	sk_X509_free(helpers);
	if (err != X509_V_OK)
		return est_fail(e, EST_ERR_SERVER, "the certificate does not verify against the "
		    "trust anchor: %s", X509_verify_cert_error_string(err));
	if ((rc = check_names(cert, want, e)) != EST_OK) {
		sk_X509_pop_free(got, X509_free);
		return rc;
	}
	if (chain != NULL)
		*chain = got;
	else
		sk_X509_pop_free(got, X509_free);
	return EST_OK;
}

/* Hex digits of s (colons and spaces skipped) into out; the byte count, or -1. */
static int
hex_bytes(const char *s, unsigned char *out, size_t max)
{
	size_t n = 0;
	int hi = -1, v;

	for (; *s != '\0'; s++) {
		if (*s == ':' || *s == ' ')
			continue;
		if ((v = OPENSSL_hexchar2int((unsigned char)*s)) < 0)
			return -1;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n >= max)
			return -1;
		out[n++] = (unsigned char)(hi << 4 | v);
		hi = -1;
	}
	return hi < 0 ? (int)n : -1;
}

enum est_err
est_cert_fingerprint_match(X509 *cert, const char *spec, bool *match, struct est_error *e)
{
	unsigned char want[EVP_MAX_MD_SIZE], got[EVP_MAX_MD_SIZE];
	const char *colon = strchr(spec, ':');
	const EVP_MD *md = NULL;
	unsigned n = 0;
	int len;

	if (colon != NULL && (size_t)(colon - spec) == 6 && strncasecmp(spec, "sha256", 6) == 0)
		md = EVP_sha256();
	else if (colon != NULL && (size_t)(colon - spec) == 6 && strncasecmp(spec, "sha512", 6) == 0)
		md = EVP_sha512();
	if (md == NULL)
		return est_fail(e, EST_ERR_CONFIG, "fingerprint \"%.80s\": write sha256:HEX or "
		    "sha512:HEX", spec);
	len = hex_bytes(colon + 1, want, sizeof(want));
	if (len != EVP_MD_get_size(md))
		return est_fail(e, EST_ERR_CONFIG, "fingerprint \"%.80s\": expected %d hex bytes",
		    spec, EVP_MD_get_size(md));
	if (X509_digest(cert, md, got, &n) != 1)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot digest the certificate");
	*match = n == (unsigned)len && CRYPTO_memcmp(got, want, n) == 0;
	return EST_OK;
}
