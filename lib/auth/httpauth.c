/*
 * HTTP Basic (RFC 7617) and Digest (RFC 7616, qop=auth, MD5 and SHA-256)
 * checks against the credentials file, and the WWW-Authenticate challenges.
 * Digest nonces are base64(time || slot || random || HMAC-SHA256(key,
 * time || slot || random)[0..16)): the MAC proves the server made it, the
 * time bounds its life (300 s, then stale=true), and the slot names where
 * the server remembers it (nonces.c), so that each (nonce, nc) is accepted
 * once (RFC 7616 §3.3, §5.4): a captured request cannot be replayed. The
 * memory is a fixed ring; a nonce pushed out of it is answered like an
 * expired one (stale=true), so the client retries with a new nonce. Every
 * failure is EST_ERR_AUTH, only the logged reason differs; except a Digest
 * uri that names another resource than the request's, which makes the
 * request malformed (EST_ERR_BADREQ, RFC 7616 §3.4.6), whatever the
 * credentials.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth/creds.h"
#include "auth/nonces.h"
#include "estkit/codec.h"
#include "estkit/httpauth.h"

#define MAX_HEADER 4096
#define CHALLENGE_LEN 512
#define NONCE_TIME_LEN 8
#define NONCE_SLOT_LEN 4
#define NONCE_MAC_LEN 16
#define NONCE_MSG_LEN (NONCE_TIME_LEN + NONCE_SLOT_LEN + NONCE_RAND_LEN)
#define NONCE_RAW_LEN (NONCE_MSG_LEN + NONCE_MAC_LEN)
#define NONCE_B64_LEN (4 * ((NONCE_RAW_LEN + 2) / 3))
#define NONCE_LIFETIME 300
#define OPAQUE_HEX 32

enum dparam {
	DP_USERNAME, DP_USERNAME_EXT, DP_REALM, DP_NONCE, DP_URI, DP_RESPONSE,
	DP_ALGORITHM, DP_CNONCE, DP_OPAQUE, DP_QOP, DP_NC, DP_USERHASH, DP__MAX
};

static const char *const dparam_names[DP__MAX] = {
	"username", "username*", "realm", "nonce", "uri", "response",
	"algorithm", "cnonce", "opaque", "qop", "nc", "userhash",
};

/* Parsed Digest parameters; values are unescaped copies kept in store. */
struct digest_params {
	char *v[DP__MAX];
	char store[MAX_HEADER + 1];
};

/* What the request offers to check a Digest against. */
struct digest_req {
	const char *realm, *method, *uri;
	struct est_nonces *nonces;
	time_t now;
};

/* A nonce of ours, taken apart. */
struct nonce_parts {
	int64_t issued;
	uint32_t slot;
	unsigned char rnd[NONCE_RAND_LEN];
};

static enum est_err malformed(struct est_error *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static enum est_err
malformed(struct est_error *e, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return est_fail(e, EST_ERR_AUTH, "malformed Authorization header: %s", why);
}

/* RFC 9110 tchar. */
static bool
is_tchar(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= '0' && ch <= '9') || (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static const char *
skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* qdtext or the character of a quoted-pair (RFC 9110 §5.6.4). */
static bool
is_qchar(unsigned char ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

/* Copy the quoted-string after its opening '"' to *w; NULL if unterminated. */
static const char *
read_quoted(const char *s, char **w)
{
	for (; *s != '"'; s++) {
		if (*s == '\\')
			s++;
		if (!is_qchar((unsigned char)*s))
			return NULL;
		*(*w)++ = *s;
	}
	return s + 1;
}

static int
dparam_index(const char *name, size_t len)
{
	int i;

	for (i = 0; i < DP__MAX; i++)
		if (strlen(dparam_names[i]) == len && strncasecmp(dparam_names[i], name, len) == 0)
			return i;
	return -1;
}

/*
 * The #auth-param list s into dp. Unknown parameters are ignored, as RFC 7616
 * asks; a known one given twice is an error. Each value written to store is
 * shorter than its name=value in s, so store cannot overflow.
 */
static const char *
parse_params(const char *s, struct digest_params *dp)
{
	const char *name;
	char *w = dp->store, *val;
	size_t nlen;
	int i;

	for (;;) {
		s = skip_ows(s);
		if (*s == ',') {
			s++;
			continue;
		}
		if (*s == '\0')
			return NULL;
		for (name = s; is_tchar(*s); s++)
			;
		if ((nlen = (size_t)(s - name)) == 0)
			return "expected a parameter name";
		s = skip_ows(s);
		if (*s != '=')
			return "expected '=' after a parameter name";
		s = skip_ows(s + 1);
		val = w;
		if (*s == '"') {
			if ((s = read_quoted(s + 1, &w)) == NULL)
				return "bad or unterminated quoted string";
		} else {
			while (is_tchar(*s))
				*w++ = *s++;
			if (w == val)
				return "empty parameter value";
		}
		*w++ = '\0';
		if ((i = dparam_index(name, nlen)) >= 0) {
			if (dp->v[i] != NULL)
				return "a parameter appears twice";
			dp->v[i] = val;
		}
		s = skip_ows(s);
		if (*s != ',' && *s != '\0')
			return "expected ',' between parameters";
	}
}

static bool
is_nc(const char *s)
{
	size_t i;

	for (i = 0; i < 8; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return s[8] == '\0';
}

/* Parse and check the form of the parameters; *sha256 picks the algorithm. */
static enum est_err
parse_digest(const char *s, struct digest_params *dp, bool *sha256, struct est_error *e)
{
	static const enum dparam required[] = { DP_USERNAME, DP_REALM, DP_NONCE, DP_URI,
		DP_RESPONSE, DP_QOP, DP_NC, DP_CNONCE };
	const char *why, *alg;
	size_t i;

	memset(dp->v, 0, sizeof(dp->v));
	if ((why = parse_params(s, dp)) != NULL)
		return malformed(e, "%s", why);
	if (dp->v[DP_USERNAME_EXT] != NULL)
		return malformed(e, "username* is not supported");
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (dp->v[required[i]] == NULL)
			return malformed(e, "no %s parameter", dparam_names[required[i]]);
	if (dp->v[DP_USERHASH] != NULL && strcasecmp(dp->v[DP_USERHASH], "false") != 0)
		return malformed(e, "userhash is not supported");
	if (strcasecmp(dp->v[DP_QOP], "auth") != 0)
		return malformed(e, "qop must be auth");
	if (!is_nc(dp->v[DP_NC]))
		return malformed(e, "nc must be 8 hex digits");
	alg = dp->v[DP_ALGORITHM];
	if (alg == NULL || strcasecmp(alg, "MD5") == 0)
		*sha256 = false;
	else if (strcasecmp(alg, "SHA-256") == 0)
		*sha256 = true;
	else
		return est_fail(e, EST_ERR_AUTH, "unsupported digest algorithm '%.32s'", alg);
	return EST_OK;
}

static bool
nonce_mac(const unsigned char *key, const unsigned char msg[NONCE_MSG_LEN],
    unsigned char mac[NONCE_MAC_LEN])
{
	unsigned char full[EVP_MAX_MD_SIZE];
	size_t len = 0;

	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, EST_HTTPAUTH_NONCE_KEY_LEN, msg,
	    NONCE_MSG_LEN, full, sizeof(full), &len) == NULL || len < NONCE_MAC_LEN)
		return false;
	memcpy(mac, full, NONCE_MAC_LEN);
	return true;
}

static bool
make_nonce(struct est_nonces *nonces, time_t now, char out[NONCE_B64_LEN + 1])
{
	unsigned char raw[NONCE_RAW_LEN];
	uint64_t t = (uint64_t)(int64_t)now;
	uint32_t slot;
	int i;

	if (!nonces_issue(nonces, &slot, raw + NONCE_TIME_LEN + NONCE_SLOT_LEN))
		return false;
	for (i = NONCE_TIME_LEN - 1; i >= 0; i--, t >>= 8)
		raw[i] = (unsigned char)(t & 0xff);
	for (i = NONCE_SLOT_LEN - 1; i >= 0; i--, slot >>= 8)
		raw[NONCE_TIME_LEN + i] = (unsigned char)(slot & 0xff);
	if (!nonce_mac(nonces_key(nonces), raw, raw + NONCE_MSG_LEN))
		return false;
	EVP_EncodeBlock((unsigned char *)out, raw, NONCE_RAW_LEN);
	return true;
}

/* Whether nonce is one of ours; *np then holds its parts. */
static bool
verify_nonce(struct est_nonces *nonces, const char *nonce, struct nonce_parts *np)
{
	unsigned char raw[NONCE_RAW_LEN], mac[NONCE_MAC_LEN];
	uint64_t t = 0;
	uint32_t slot = 0;
	size_t len, i;

	if (!est_b64_decode_strict(nonce, strlen(nonce), raw, sizeof(raw), &len) ||
	    len != NONCE_RAW_LEN || !nonce_mac(nonces_key(nonces), raw, mac) ||
	    CRYPTO_memcmp(mac, raw + NONCE_MSG_LEN, NONCE_MAC_LEN) != 0)
		return false;
	for (i = 0; i < NONCE_TIME_LEN; i++)
		t = t << 8 | raw[i];
	for (i = 0; i < NONCE_SLOT_LEN; i++)
		slot = slot << 8 | raw[NONCE_TIME_LEN + i];
	np->issued = (int64_t)t;
	np->slot = slot;
	memcpy(np->rnd, raw + NONCE_TIME_LEN + NONCE_SLOT_LEN, NONCE_RAND_LEN);
	return true;
}

/*
 * The nonce is fresh and nc not used with it before (then recorded). A
 * nonce too old or forgotten is stale: the client may retry with a new one.
 */
static enum est_err
use_nonce(const struct digest_req *rq, const struct nonce_parts *np, const char *nc_hex,
    bool *stale, struct est_error *e)
{
	int64_t age = (int64_t)rq->now - np->issued;
	enum nonce_use u;

	if (age < 0 || age > NONCE_LIFETIME) {
		if (stale != NULL)
			*stale = true;
		return est_fail(e, EST_ERR_AUTH, age < 0 ? "stale nonce (issued in the future)" :
		    "stale nonce");
	}
	u = nonces_use(rq->nonces, np->slot, np->rnd, (uint32_t)strtoul(nc_hex, NULL, 16));
	if (u == NONCE_FORGOTTEN) {
		if (stale != NULL)
			*stale = true;
		return est_fail(e, EST_ERR_AUTH, "stale nonce (forgotten: many nonces issued since)");
	}
	if (u == NONCE_REPLAYED)
		return est_fail(e, EST_ERR_AUTH, "replayed Digest request (nonce count %s used before)",
		    nc_hex);
	return EST_OK;
}

/* Compare the client's response with H(HA1:nonce:nc:cnonce:qop:H(method:uri)). */
static enum est_err
check_response(struct est_creds *c, const struct digest_req *rq, struct digest_params *dp,
    bool sha256, struct est_error *e)
{
	char ha1[EST_CREDS_HEX_LEN], ha2[EST_CREDS_HEX_LEN], want[EST_CREDS_HEX_LEN];
	const EVP_MD *md = sha256 ? EVP_sha256() : EVP_md5();
	const char *a2[2] = { rq->method, dp->v[DP_URI] };
	const char *kd[6] = { ha1, dp->v[DP_NONCE], dp->v[DP_NC], dp->v[DP_CNONCE],
		dp->v[DP_QOP], ha2 };
	const char *user = dp->v[DP_USERNAME];
	char *resp = dp->v[DP_RESPONSE];
	enum est_err rc;
	size_t i, n;
	bool ok;

	if ((rc = est_creds_digest_ha1(c, user, rq->realm, sha256, ha1, e)) != EST_OK)
		return rc;
	ok = est_creds_digest_hex(md, a2, 2, ha2) && est_creds_digest_hex(md, kd, 6, want);
	OPENSSL_cleanse(ha1, sizeof(ha1));
	if (!ok)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot compute the Digest response");
	for (i = 0; resp[i] != '\0'; i++)
		if (resp[i] >= 'A' && resp[i] <= 'F')
			resp[i] = (char)(resp[i] - 'A' + 'a');
	n = strlen(want);
	if (i != n || CRYPTO_memcmp(resp, want, n) != 0)
		return est_fail(e, EST_ERR_AUTH, "digest response mismatch for '%s'", user);
	return EST_OK;
}

/*
 * Whether the Digest uri names the requested resource. Exactly, or as
 * libest's client names it when it posts to an alias (its --path-seg): the
 * operation's path without the segment, "/.well-known/est/simpleenroll"
 * for "/.well-known/est/ALIAS/simpleenroll". The response is still checked
 * over the uri as sent, and the nonce still counts once; what is given up
 * is only telling an answer meant for the default alias's operation from
 * the same operation's on another alias.
 */
static bool
uri_matches(const char *said, const char *requested)
{
	static const char base[] = "/.well-known/est/";
	const size_t n = sizeof(base) - 1;
	const char *slash;

	if (strcmp(said, requested) == 0)
		return true;
	if (strncmp(said, base, n) != 0 || strncmp(requested, base, n) != 0 ||
	    strchr(said + n, '/') != NULL || said[n] == '\0')
		return false;
	slash = strchr(requested + n, '/');
	return slash != NULL && slash != requested + n && strcmp(slash + 1, said + n) == 0;
}

/* The refusal of a Digest uri that does not name the requested resource. */
static enum est_err
uri_mismatch(const char *said, const char *requested, struct est_error *e)
{
	return est_fail(e, EST_ERR_BADREQ, "Digest uri mismatch: '%.80s' in the Authorization "
	    "header, '%.80s' requested", said, requested);
}

static enum est_err
check_digest(struct est_creds *c, const struct digest_req *rq, const char *params, char *user,
    bool *stale, struct est_error *e)
{
	struct digest_params dp;
	struct nonce_parts np;
	enum est_err rc;
	bool sha256 = false;

	if ((rc = parse_digest(params, &dp, &sha256, e)) != EST_OK)
		return rc;
	if (strcmp(dp.v[DP_REALM], rq->realm) != 0)
		return est_fail(e, EST_ERR_AUTH, "realm mismatch");
	if (!uri_matches(dp.v[DP_URI], rq->uri))
		return uri_mismatch(dp.v[DP_URI], rq->uri, e);
	if (!verify_nonce(rq->nonces, dp.v[DP_NONCE], &np))
		return est_fail(e, EST_ERR_AUTH, "nonce not issued by this server");
	if (!est_creds_valid_user(dp.v[DP_USERNAME]))
		return est_fail(e, EST_ERR_AUTH, "no such user (invalid user name)");
	/* stale=true tells the client to retry with the same credentials, so
	 * only a response that is right for the old nonce earns it; and only
	 * a right response spends its nc. */
	if ((rc = check_response(c, rq, &dp, sha256, e)) != EST_OK ||
	    (rc = use_nonce(rq, &np, dp.v[DP_NC], stale, e)) != EST_OK)
		return rc;
	memcpy(user, dp.v[DP_USERNAME], strlen(dp.v[DP_USERNAME]) + 1);
	return EST_OK;
}

/*
 * Decode Basic credentials into dec (MAX_HEADER bytes, cleansed by the
 * caller) and split them: the user name is dec[0..*ulen), the password
 * follows the ':' up to *len.
 */
static enum est_err
basic_decode(const char *b64, unsigned char *dec, size_t *len, size_t *ulen, struct est_error *e)
{
	const unsigned char *colon;
	size_t blen;

	b64 = skip_ows(b64);
	blen = strlen(b64);
	while (blen > 0 && (b64[blen - 1] == ' ' || b64[blen - 1] == '\t'))
		blen--;
	if (!est_b64_decode_strict(b64, blen, dec, MAX_HEADER, len))
		return malformed(e, "Basic credentials are not base64");
	if ((colon = memchr(dec, ':', *len)) == NULL)
		return malformed(e, "no ':' in the Basic credentials");
	*ulen = (size_t)(colon - dec);
	if (*ulen > EST_HTTPAUTH_MAX_USER || memchr(dec, '\0', *ulen) != NULL)
		return est_fail(e, EST_ERR_AUTH, "no such user (invalid user name)");
	return EST_OK;
}

static enum est_err
check_basic(struct est_creds *c, const char *b64, char *user, struct est_error *e)
{
	unsigned char dec[MAX_HEADER];
	char name[EST_HTTPAUTH_MAX_USER + 1];
	size_t len = 0, ulen = 0;
	enum est_err rc;

	if ((rc = basic_decode(b64, dec, &len, &ulen, e)) == EST_OK) {
		memcpy(name, dec, ulen);
		name[ulen] = '\0';
		rc = est_creds_check_password(c, name, (const char *)dec + ulen + 1, len - ulen - 1, e);
		if (rc == EST_OK)
			memcpy(user, name, ulen + 1);
	}
	OPENSSL_cleanse(dec, sizeof(dec));
	return rc;
}

/* Whether *p starts with auth-scheme name; *p then points past it. */
static bool
scheme_is(const char **p, const char *name)
{
	size_t n = strlen(name);

	if (strncasecmp(*p, name, n) != 0 || ((*p)[n] != ' ' && (*p)[n] != '\0'))
		return false;
	*p += n;
	return true;
}

static enum est_err
unsupported_scheme(const char *p, struct est_error *e)
{
	size_t n;

	for (n = 0; is_tchar(p[n]); n++)
		;
	if (n == 0 || n > 32 || (p[n] != ' ' && p[n] != '\0'))
		return est_fail(e, EST_ERR_AUTH, "unsupported scheme");
	return est_fail(e, EST_ERR_AUTH, "unsupported scheme '%.*s'", (int)n, p);
}

enum est_err
est_httpauth_check(struct est_creds *c, const char *realm, const char *method, const char *uri,
    const char *authorization, struct est_nonces *nonces, time_t now, char *user, bool *stale,
    struct est_error *e)
{
	const struct digest_req rq = { realm, method, uri, nonces, now };
	const char *p;

	if (stale != NULL)
		*stale = false;
	if (authorization == NULL)
		return malformed(e, "none given");
	if (strnlen(authorization, MAX_HEADER + 1) > MAX_HEADER)
		return malformed(e, "longer than %d bytes", MAX_HEADER);
	p = skip_ows(authorization);
	if (scheme_is(&p, "Basic"))
		return check_basic(c, p, user, e);
	if (scheme_is(&p, "Digest"))
		return check_digest(c, &rq, p, user, stale, e);
	return unsupported_scheme(p, e);
}

enum est_err
est_httpauth_check_uri(const char *authorization, const char *uri, struct est_error *e)
{
	struct digest_params dp;
	const char *p;

	if (authorization == NULL || strnlen(authorization, MAX_HEADER + 1) > MAX_HEADER)
		return EST_OK;
	p = skip_ows(authorization);
	memset(dp.v, 0, sizeof(dp.v));
	if (!scheme_is(&p, "Digest") || parse_params(p, &dp) != NULL || dp.v[DP_URI] == NULL ||
	    uri_matches(dp.v[DP_URI], uri))
		return EST_OK;
	return uri_mismatch(dp.v[DP_URI], uri, e);
}

/* The user name of Basic credentials into user; false without a valid one. */
static bool
basic_user(const char *b64, char *user)
{
	unsigned char dec[MAX_HEADER];
	size_t len = 0, ulen = 0;

	if (basic_decode(b64, dec, &len, &ulen, NULL) == EST_OK) {
		memcpy(user, dec, ulen);
		user[ulen] = '\0';
	}
	OPENSSL_cleanse(dec, sizeof(dec));
	return est_creds_valid_user(user);
}

bool
est_httpauth_user(const char *authorization, char *user)
{
	struct digest_params dp;
	const char *p;
	bool ok = false;

	user[0] = '\0';
	if (authorization == NULL || strnlen(authorization, MAX_HEADER + 1) > MAX_HEADER)
		return false;
	p = skip_ows(authorization);
	memset(dp.v, 0, sizeof(dp.v));
	if (scheme_is(&p, "Basic"))
		ok = basic_user(p, user);
	else if (scheme_is(&p, "Digest") && parse_params(p, &dp) == NULL &&
	    est_creds_valid_user(dp.v[DP_USERNAME]))
		ok = snprintf(user, EST_HTTPAUTH_MAX_USER + 1, "%s", dp.v[DP_USERNAME]) > 0;
	if (!ok)
		user[0] = '\0';
	return ok;
}

/* realm as the inside of a quoted-string; false if it does not fit. */
static bool
quote(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		if (n + 3 > cap)
			return false;
		if (*s == '"' || *s == '\\')
			out[n++] = '\\';
		out[n++] = *s;
	}
	out[n] = '\0';
	return true;
}

const enum est_challenge est_challenge_default[EST_CHALLENGE__MAX] = {
	EST_CHALLENGE_DIGEST_MD5, EST_CHALLENGE_DIGEST_SHA256, EST_CHALLENGE_BASIC,
};

static const char *const challenge_names[EST_CHALLENGE__MAX] = {
	[EST_CHALLENGE_DIGEST_MD5] = "digest-md5",
	[EST_CHALLENGE_DIGEST_SHA256] = "digest-sha256",
	[EST_CHALLENGE_BASIC] = "basic",
};

int
est_challenge_parse(const char *name)
{
	for (int i = 0; i < EST_CHALLENGE__MAX; i++)
		if (strcasecmp(name, challenge_names[i]) == 0)
			return i;
	return -1;
}

const char *
est_challenge_name(enum est_challenge c)
{
	return (unsigned)c < EST_CHALLENGE__MAX ? challenge_names[c] : "?";
}

size_t
est_httpauth_challenges(const char *realm, struct est_nonces *nonces, time_t now, bool stale,
    const enum est_challenge *order, size_t n_order, char out[][512], size_t max)
{
	const char *op[2] = { "estkit-opaque", realm };
	char qrealm[CHALLENGE_LEN], nonce[NONCE_B64_LEN + 1], opaque[EST_CREDS_HEX_LEN];
	bool digest_ok;
	size_t n = 0;
	int len;

	if (order == NULL || n_order == 0) {
		order = est_challenge_default;
		n_order = EST_CHALLENGE__MAX;
	}
	if (!quote(realm, qrealm, sizeof(qrealm)))
		return 0;
	/* Without a nonce (no randomness) Basic is still offered, so a 401
	 * always carries a challenge. */
	digest_ok = make_nonce(nonces, now, nonce) &&
	    est_creds_digest_hex(EVP_sha256(), op, 2, opaque);
	if (digest_ok)
		opaque[OPAQUE_HEX] = '\0';
	for (size_t i = 0; i < n_order && n < max; i++) {
		if (order[i] == EST_CHALLENGE_BASIC)
			len = snprintf(out[n], CHALLENGE_LEN, "Basic realm=\"%s\", charset=\"UTF-8\"",
			    qrealm);
		else if (digest_ok)
			len = snprintf(out[n], CHALLENGE_LEN, "Digest realm=\"%s\", qop=\"auth\", "
			    "algorithm=%s, nonce=\"%s\", opaque=\"%s\"%s", qrealm,
			    order[i] == EST_CHALLENGE_DIGEST_MD5 ? "MD5" : "SHA-256", nonce, opaque,
			    stale ? ", stale=true" : "");
		else
			continue;
		if (len > 0 && len < CHALLENGE_LEN)
			n++;
	}
	return n;
}
