/*
 * HTTP Bearer (RFC 6750) for estd: opaque tokens checked against a file of
 * their SHA-256 hashes, and JWTs (RFC 7519, compact JWS, RFC 7515) checked
 * against a configured public key. Formats in include/estkit/bearer.h.
 *
 * Signatures and hashes are OpenSSL's; base64url goes through the codec's
 * base64 after the RFC 4648 §5 alphabet swap; the claims are read with
 * jansson. Every refusal is EST_ERR_AUTH with the reason for the log only.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth/linefile.h"
#include "estkit/bearer.h"
#include "estkit/codec.h"
#include "estkit/httpauth.h"
#include "util/sha256hex.h"

#define TOKEN_MAX 8192
#define HASH_HEX EST_SHA256_HEX_LEN
#define WHAT "name:SHA256HEX (estadm token add writes it)"

static const char INVALID_TOKEN[] = "invalid_token";
static const char INVALID_REQUEST[] = "invalid_request";

/* ---- the tokens file ---- */

static bool
is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]) && (s[i] < 'a' || s[i] > 'f'))
			return false;
	return s[n] == '\0';
}

static bool
line_ok(const char *line)
{
	const char *colon = strchr(line, ':');
	char name[EST_HTTPAUTH_MAX_USER + 1];
	size_t n;

	if (colon == NULL || (n = (size_t)(colon - line)) == 0 || n >= sizeof(name))
		return false;
	memcpy(name, line, n);
	name[n] = '\0';
	return est_creds_valid_user(name) && strlen(colon + 1) == HASH_HEX &&
	    is_lower_hex(colon + 1, HASH_HEX);
}

/* 32 random bytes, base64url without padding (43 characters). */
static enum est_err
new_token(char **out, struct est_error *e)
{
	unsigned char raw[32];
	char *b64 = NULL;
	size_t len = 0, k = 0;
	enum est_err rc;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "RAND_bytes");
	rc = est_b64_encode(raw, sizeof(raw), false, &b64, &len, e);
	OPENSSL_cleanse(raw, sizeof(raw));
	if (rc != EST_OK)
		return rc;
	for (size_t i = 0; i < len; i++) {
		if (b64[i] == '=')
			continue;
		b64[k++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	}
	b64[k] = '\0';
	*out = b64;
	return EST_OK;
}

enum est_err
est_token_add(const char *path, const char *name, char **token, bool *replaced,
    struct est_error *e)
{
	char hex[HASH_HEX + 1], line[EST_HTTPAUTH_MAX_USER + HASH_HEX + 2];
	char *tok = NULL;
	enum est_err rc;

	if (!est_creds_valid_user(name))
		return est_fail(e, EST_ERR_CONFIG, "token name \"%s\": use 1-%d of A-Z a-z 0-9 . _ @ + -",
		    name, EST_HTTPAUTH_MAX_USER);
	if ((rc = new_token(&tok, e)) != EST_OK)
		return rc;
	if (!est_sha256_hex(tok, strlen(tok), hex))
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "SHA-256");
	else {
		snprintf(line, sizeof(line), "%s:%s", name, hex);
		rc = lf_replace(path, line_ok, WHAT, name, line, replaced, e);
	}
	if (rc != EST_OK) {
		OPENSSL_cleanse(tok, strlen(tok));
		free(tok);
		return rc;
	}
	*token = tok;
	return EST_OK;
}

enum est_err
est_token_del(const char *path, const char *name, struct est_error *e)
{
	bool found = false;
	enum est_err rc = lf_replace(path, line_ok, WHAT, name, NULL, &found, e);

	if (rc == EST_OK && !found)
		return est_fail(e, EST_ERR_NOTFOUND, "no token named \"%s\" in %s", name, path);
	return rc;
}

enum est_err
est_token_names(const char *path, char **names, size_t *n, struct est_error *e)
{
	return lf_names(path, line_ok, WHAT, names, n, e);
}

struct find {
	const char *hex;
	char name[EST_HTTPAUTH_MAX_USER + 1];
	bool found;
};

/* Every line is compared, in constant time, so timing tells nothing. */
static bool
match_hash(const char *line, void *arg)
{
	struct find *f = arg;
	const char *colon = strchr(line, ':');

	if (!f->found && CRYPTO_memcmp(colon + 1, f->hex, HASH_HEX) == 0) {
		snprintf(f->name, sizeof(f->name), "%.*s", (int)(colon - line), line);
		f->found = true;
	}
	return true;
}

static enum est_err
check_opaque(const struct est_bearer_conf *c, const char *tok, char *principal,
    struct est_error *e)
{
	struct find f = { NULL, "", false };
	char hex[HASH_HEX + 1];
	enum est_err rc;

	if (c->tokens_path == NULL)
		return est_fail(e, EST_ERR_AUTH, "opaque bearer token, but no bearer-tokens file");
	if (!est_sha256_hex(tok, strlen(tok), hex))
		return est_fail_ssl(e, EST_ERR_CRYPTO, "SHA-256");
	f.hex = hex;
	if ((rc = lf_each(c->tokens_path, line_ok, WHAT, match_hash, &f, e)) != EST_OK)
		return rc;
	if (!f.found)
		return est_fail(e, EST_ERR_AUTH, "unknown bearer token");
	snprintf(principal, EST_BEARER_PRINCIPAL_MAX, "token:%s", f.name);
	return EST_OK;
}

/* ---- JWT ---- */

/* base64url (no padding) to bytes; NULL when malformed. Caller free()s. */
static unsigned char *
b64url_decode(const char *s, size_t len, size_t *outlen)
{
	struct est_error ignored = { 0 };
	unsigned char *out = NULL;
	char *std;
	size_t n = 0;

	if (len % 4 == 1 || strcspn(s, "+/=") < len || (std = malloc(len + 4)) == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++)
		std[n++] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	while (n % 4 != 0)
		std[n++] = '=';
	if (est_b64_decode(std, n, &out, outlen, &ignored) != EST_OK)
		out = NULL;
	free(std);
	return out;
}

static json_t *
json_part(const char *s, size_t len)
{
	unsigned char *raw;
	size_t n = 0;
	json_t *j;

	if ((raw = b64url_decode(s, len, &n)) == NULL)
		return NULL;
	j = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* The JWS signature as OpenSSL verifies it: ES256's r||s becomes DER. */
static unsigned char *
signature_der(const char *alg, unsigned char *sig, size_t *len)
{
	ECDSA_SIG *es;
	BIGNUM *r, *s;
	unsigned char *der = NULL;
	int n;

	if (strcmp(alg, "ES256") != 0)
		return sig;
	if (*len != 64 || (es = ECDSA_SIG_new()) == NULL)
		return NULL;
	r = BN_bin2bn(sig, 32, NULL);
	s = BN_bin2bn(sig + 32, 32, NULL);
	if (r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return NULL;
	}
	n = i2d_ECDSA_SIG(es, &der);
	ECDSA_SIG_free(es);
	if (n <= 0)
		return NULL;
	*len = (size_t)n;
	return der;
}

/* The JWS alg a key signs with (RFC 7518: ES256 is P-256 only), or NULL. */
static const char *
key_alg(EVP_PKEY *key)
{
	char group[32];

	if (EVP_PKEY_is_a(key, "RSA"))
		return EVP_PKEY_get_bits(key) >= EST_JWT_RSA_MIN_BITS ? "RS256" : NULL;
	if (EVP_PKEY_is_a(key, "EC"))
		return EVP_PKEY_get_group_name(key, group, sizeof(group), NULL) == 1 &&
		    strcmp(group, "prime256v1") == 0 ? "ES256" : NULL;
	if (EVP_PKEY_is_a(key, "ED25519"))
		return "EdDSA";
	return NULL;
}

/* Whether alg is the one the key makes. */
static bool
alg_fits(const char *alg, EVP_PKEY *key)
{
	const char *mine = key_alg(key);

	return mine != NULL && strcmp(alg, mine) == 0;
}

enum est_err
est_bearer_jwt_key_check(EVP_PKEY *key, struct est_error *e)
{
	if (key_alg(key) == NULL)
		return est_fail(e, EST_ERR_CONFIG, "bearer-jwt-key must be an RSA key of at least "
		    "%d bits (RS256), an EC P-256 key (ES256) or an Ed25519 key (EdDSA)",
		    EST_JWT_RSA_MIN_BITS);
	return EST_OK;
}

static bool
verify_sig(EVP_PKEY *key, const char *alg, const char *signed_part, size_t signed_len,
    const char *sig64, size_t sig64_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *sig, *der = NULL;
	size_t len = 0;
	bool ok = false;

	if (md == NULL || (sig = b64url_decode(sig64, sig64_len, &len)) == NULL) {
		EVP_MD_CTX_free(md);
		return false;
	}
	if ((der = signature_der(alg, sig, &len)) != NULL &&
	    EVP_DigestVerifyInit(md, NULL, strcmp(alg, "EdDSA") == 0 ? NULL : EVP_sha256(), NULL,
	    key) == 1)
		ok = EVP_DigestVerify(md, der, len, (const unsigned char *)signed_part, signed_len) == 1;
	if (der != sig)
		OPENSSL_free(der);
	free(sig);
	EVP_MD_CTX_free(md);
	return ok;
}

static bool
aud_holds(json_t *aud, const char *want)
{
	size_t i;
	json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	if (!json_is_array(aud))
		return false;
	json_array_foreach(aud, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
			return true;
	return false;
}

/*
 * Whether a token expires within max seconds of its issue (iat, when it
 * says) and of now: a JWT cannot be revoked here, so one that an issuer
 * made to last a year, or that leaked, would be a password for a year. Now
 * counts too, as an issuer need not write iat, and one dated ahead would
 * otherwise last longer; it has the leeway of the other checks.
 */
static bool
lifetime_ok(unsigned max, json_t *exp, json_t *iat, time_t now)
{
	double end = json_number_value(exp);

	if (end - (double)now > (double)max + EST_BEARER_LEEWAY)
		return false;
	return iat == NULL || (json_is_number(iat) && end - json_number_value(iat) <= (double)max);
}

/* The claims of a verified token (RFC 7519 §4.1). */
static enum est_err
check_claims(const struct est_bearer_conf *c, json_t *cl, time_t now, char *principal,
    struct est_error *e)
{
	json_t *exp = json_object_get(cl, "exp"), *nbf = json_object_get(cl, "nbf");
	json_t *iss = json_object_get(cl, "iss"), *sub = json_object_get(cl, "sub");

	if (!json_is_number(exp))
		return est_fail(e, EST_ERR_AUTH, "JWT without exp");
	if (json_number_value(exp) + EST_BEARER_LEEWAY <= (double)now)
		return est_fail(e, EST_ERR_AUTH, "JWT expired");
	if (nbf != NULL && (!json_is_number(nbf) ||
	    json_number_value(nbf) - EST_BEARER_LEEWAY > (double)now))
		return est_fail(e, EST_ERR_AUTH, "JWT not valid yet (nbf)");
	if (c->jwt_max_lifetime != 0 && !lifetime_ok(c->jwt_max_lifetime, exp,
	    json_object_get(cl, "iat"), now))
		return est_fail(e, EST_ERR_AUTH, "JWT valid for longer than bearer-jwt-max-lifetime "
		    "(%u s)", c->jwt_max_lifetime);
	if (!json_is_string(iss) || strcmp(json_string_value(iss), c->jwt_issuer) != 0)
		return est_fail(e, EST_ERR_AUTH, "JWT from another issuer");
	if (!aud_holds(json_object_get(cl, "aud"), c->jwt_audience))
		return est_fail(e, EST_ERR_AUTH, "JWT for another audience");
	if (!json_is_string(sub) || !est_creds_valid_user(json_string_value(sub)))
		return est_fail(e, EST_ERR_AUTH, "JWT without a usable sub");
	snprintf(principal, EST_BEARER_PRINCIPAL_MAX, "jwt:%s", json_string_value(sub));
	return EST_OK;
}

static enum est_err
check_jwt(const struct est_bearer_conf *c, const char *tok, time_t now, char *principal,
    struct est_error *e)
{
	const char *dot1 = strchr(tok, '.'), *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
	json_t *hdr = NULL, *claims = NULL, *alg;
	enum est_err rc;

	if (c->jwt_key == NULL)
		return est_fail(e, EST_ERR_AUTH, "JWT, but no bearer-jwt-key is configured");
	if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL)
		return est_fail(e, EST_ERR_AUTH, "JWT not in three parts");
	hdr = json_part(tok, (size_t)(dot1 - tok));
	claims = json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	alg = hdr != NULL ? json_object_get(hdr, "alg") : NULL;
	if (hdr == NULL || claims == NULL)
		rc = est_fail(e, EST_ERR_AUTH, "JWT header or claims are not base64url JSON objects");
	else if (!json_is_string(alg) || !alg_fits(json_string_value(alg), c->jwt_key))
		rc = est_fail(e, EST_ERR_AUTH, "JWT alg is not the configured key's");
	else if (json_object_get(hdr, "crit") != NULL)
		rc = est_fail(e, EST_ERR_AUTH, "JWT with critical header extensions");
	else if (!verify_sig(c->jwt_key, json_string_value(alg), tok, (size_t)(dot2 - tok),
	    dot2 + 1, strlen(dot2 + 1)))
		rc = est_fail(e, EST_ERR_AUTH, "JWT signature does not verify");
	else
		rc = check_claims(c, claims, now, principal, e);
	json_decref(hdr);
	json_decref(claims);
	return rc;
}

/* ---- the header ---- */

/*
 * The scheme ends at a space (RFC 9110 §11.4), or at a tab or the end: a
 * header so spelt is a malformed Bearer one (invalid_request), not "no
 * credentials", nor a Basic or Digest one.
 */
bool
est_bearer_is_bearer(const char *authorization)
{
	return authorization != NULL && strncasecmp(authorization, "Bearer", 6) == 0 &&
	    (authorization[6] == ' ' || authorization[6] == '\t' || authorization[6] == '\0');
}

/* RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static bool
is_b64token(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/");

	return n > 0 && strspn(s + n, "=") == strlen(s + n);
}

static enum est_err
check_token(const struct est_bearer_conf *c, const char *tok, time_t now, char *principal,
    struct est_error *e)
{
	return strchr(tok, '.') != NULL ? check_jwt(c, tok, now, principal, e) :
	    check_opaque(c, tok, principal, e);
}

/*
 * libest's client sends "Bearer " and the base64 of the token, and its
 * server decodes it again, against RFC 6750; devices running libest are
 * served by checking the token inside when the one sent is not known. Only
 * canonical base64 of a well-formed token qualifies; knowing it is knowing
 * the token, so this accepts no one the token itself would not admit.
 */
static enum est_err
check_libest_form(const struct est_bearer_conf *c, const char *sent, time_t now,
    char *principal, struct est_error *e)
{
	unsigned char *inner;
	size_t n = 0;
	enum est_err rc = EST_ERR_AUTH;

	if ((inner = malloc(TOKEN_MAX + 1)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "bearer token");
	if (est_b64_decode_strict(sent, strlen(sent), inner, TOKEN_MAX, &n) &&
	    memchr(inner, '\0', n) == NULL) {
		inner[n] = '\0';
		if (is_b64token((const char *)inner))
			rc = check_token(c, (const char *)inner, now, principal, e);
	}
	OPENSSL_cleanse(inner, TOKEN_MAX + 1);
	free(inner);
	return rc;
}

enum est_err
est_bearer_check(const struct est_bearer_conf *c, const char *authorization, time_t now,
    char principal[EST_BEARER_PRINCIPAL_MAX], const char **rfc_error, struct est_error *e)
{
	const char *tok;
	enum est_err rc;

	*rfc_error = INVALID_REQUEST;
	if (!est_bearer_is_bearer(authorization))
		return est_fail(e, EST_ERR_AUTH, "not a Bearer Authorization header");
	for (tok = authorization + 6; *tok == ' '; tok++)
		;
	if (strlen(tok) > TOKEN_MAX || !is_b64token(tok))
		return est_fail(e, EST_ERR_AUTH, "malformed bearer token");
	*rfc_error = INVALID_TOKEN;
	rc = check_token(c, tok, now, principal, e);
	if (rc == EST_ERR_AUTH && strchr(tok, '.') == NULL)
		rc = check_libest_form(c, tok, now, principal, e);
	if (rc == EST_OK)
		*rfc_error = NULL;
	return rc;
}
