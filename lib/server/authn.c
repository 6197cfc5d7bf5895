/*
 * Authentication of enrolling clients, by the alias's methods in order.
 *
 * A method applies when the client presented what it checks (an
 * Authorization header, a TLS client certificate, a challengePassword, the
 * DN field holding the code). The first method that applies and succeeds
 * authenticates; one that applies and fails leaves the next ones a chance,
 * and if none succeeds the first failure is the reason logged. The answer
 * is then 401 (with challenges) when the alias takes a password of any
 * kind, else 403. The client only hears that authentication failed: a wrong
 * code, an unknown end entity and a spent code look the same. A Digest uri
 * naming another resource is no failure to authenticate but a malformed
 * request (RFC 7616 §3.4.6): 400 at once, before the failure limits. Passwords and
 * codes go through the failure limits (ratelimit.c) in try_limited: while
 * the address or the name they are for is locked out they are refused
 * unchecked, with the same answer.
 *
 * The result says only WHO the client is (a principal: HTTP user, end
 * entity, certificate of this CA, RA certificate, vendor certificate);
 * what that principal may have certified is policy.c's decision. The use
 * of an end entity's code is spent later, in the transaction that records
 * the certificate (reply_cert.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "estkit/codec.h"
#include "estkit/log.h"
#include "estkit/pwhash.h"
#include "server/server_int.h"

void
authn_result_clear(struct authn_result *res)
{
	est_ee_free(res->ee);
	memset(res, 0, sizeof(*res));
}

/*
 * Checks a presented certificate against the store: on record, same bytes,
 * not revoked. serial in the store's spelling, shown as people read it.
 */
static enum est_err
check_on_record(struct est_req *r, X509 *cert, const char *serial, const char *shown,
    struct est_error *e)
{
	struct est_cert_rec *rec = NULL;
	unsigned char *der = NULL;
	char *issuer;
	int len;
	enum est_err rc;

	issuer = est_name_text(X509_get_issuer_name(cert));
	if (issuer == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	rc = est_store_get_cert(r->worker->store, issuer, serial, &rec, e);
	free(issuer);
	if (rc == EST_ERR_NOTFOUND)
		return est_fail(e, EST_ERR_FORBIDDEN, "client certificate %s is not on record at this CA", shown);
	if (rc != EST_OK)
		return rc;
	len = i2d_X509(cert, &der);
	if (len <= 0 || (size_t)len != rec->der_len || memcmp(der, rec->der, rec->der_len) != 0)
		rc = est_fail(e, EST_ERR_FORBIDDEN, "client certificate %s differs from the one on record", shown);
	else if (rec->status == EST_CERT_REVOKED)
		rc = est_fail(e, EST_ERR_FORBIDDEN, "client certificate %s is revoked (%s)", shown,
		    est_revoke_reason_name(rec->revocation_reason));
	else {
		r->cert_ee_id = rec->ee_id;
		r->cert_of_alias = strcmp(rec->alias, r->alias->conf->name) == 0;
		snprintf(r->cert_alias, sizeof(r->cert_alias), "%s", rec->alias);
	}
	OPENSSL_free(der);
	est_cert_rec_free(rec);
	return rc;
}

/*
 * The 403 for a request without a client certificate, with the advice a
 * client can act on: a listener that does not ask for certificates names
 * the port of one that does ("renew on port 8443").
 */
static enum est_err
no_client_cert(const struct est_req *r, struct est_error *e)
{
	const struct est_server *srv = r->worker->srv;

	if (r->listener->conf->tls == EST_TLS_SERVER || r->listener->conf->tls == EST_TLS_NONE) {
		for (size_t i = 0; i < srv->n_listeners; i++) {
			enum est_tls_mode m = srv->listeners[i].conf->tls;

			if (m == EST_TLS_OPTIONAL_CLIENT || m == EST_TLS_REQUIRE_CLIENT)
				return est_fail(e, EST_ERR_FORBIDDEN, "no TLS client certificate was "
				    "presented: this port does not ask for one; renew on port %d "
				    "(listener %s) with the certificate being renewed",
				    srv->listeners[i].port, srv->listeners[i].conf->name);
		}
		return est_fail(e, EST_ERR_FORBIDDEN, "no TLS client certificate was presented: "
		    "no listener of this server asks for one (tls = optional-client or "
		    "require-client)");
	}
	return est_fail(e, EST_ERR_FORBIDDEN, "no TLS client certificate was presented "
	    "(send the certificate being renewed and its key)");
}

enum est_err
authn_client_cert(struct est_req *r, X509 **cert, struct est_error *e)
{
	time_t now = time(NULL);
	X509 *peer;
	char *serial, shown[EST_SERIAL_SHOWN_MAX];
	enum est_err rc;

	if ((peer = r->tls->peer) == NULL)
		return no_client_cert(r, e);
	/*
	 * The handshake checked the path against every CA the server knows, and
	 * let expired certificates through: here it is checked against this
	 * alias's root alone, at this request's time (a keep-alive connection
	 * may outlive its certificate). The handshake's path only spares
	 * checking the same signatures again.
	 */
	rc = est_ca_verify_known(r->alias->ca, peer, r->tls->chain, r->tls->verified, now, e);
	/* During a rollover, certificates of the successor renew too. */
	if (rc == EST_ERR_FORBIDDEN && r->alias->next_ca != NULL)
		rc = est_ca_verify_known(r->alias->next_ca, peer, r->tls->chain, r->tls->verified,
		    now, e);
	if (rc != EST_OK)
		return rc;
	serial = est_serial_text(X509_get0_serialNumber(peer));
	if (serial == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	est_serial_shown(serial, shown, sizeof(shown));
	rc = check_on_record(r, peer, serial, shown, e);
	if (rc == EST_OK) {
		snprintf(r->principal, sizeof(r->principal), "cert:%s", shown);
		*cert = peer;
	}
	free(serial);
	return rc;
}

static enum est_err
authn_http(struct est_req *r, struct est_error *e)
{
	struct est_server *srv = r->worker->srv;
	const char *authz = http_header(r, "Authorization");
	char user[EST_HTTPAUTH_MAX_USER + 1];
	bool stale = false;
	enum est_err rc;

	if (r->worker->creds == NULL)
		return est_fail(e, EST_ERR_AUTH, "no credentials file is configured");
	if (est_creds_refresh(r->worker->creds, e) != EST_OK)
		log_warn("credentials file: %s (keeping the users loaded before)", e->msg);
	rc = est_httpauth_check(r->worker->creds, srv->cfg->realm, http_method(r), http_target(r),
	    authz, srv->nonces, time(NULL), user, &stale, e);
	if (rc != EST_OK) {
		r->auth_stale = stale;
		return rc;
	}
	snprintf(r->principal, sizeof(r->principal), "user:%s", user);
	return EST_OK;
}

/* HTTP Bearer (RFC 6750): a token of the tokens file, or a JWT. */
static enum est_err
authn_bearer(struct est_req *r, struct est_error *e)
{
	char principal[EST_BEARER_PRINCIPAL_MAX];
	enum est_err rc;

	rc = est_bearer_check(&r->worker->srv->bearer, http_header(r, "Authorization"), time(NULL),
	    principal, &r->bearer_error, e);
	if (rc == EST_OK)
		snprintf(r->principal, sizeof(r->principal), "%s", principal);
	return rc;
}

/* ---- client mode: end entities ---- */

/*
 * The end entity named username, registered for this alias and able to
 * enrol now. fail_code is what every refusal returns (AUTH for code methods,
 * FORBIDDEN for vendor mode). *ee is NULL on an unknown name (still an error).
 */
static enum est_err
usable_ee(struct est_req *r, const char *username, enum est_err fail_code, struct est_ee **ee,
    struct est_error *e)
{
	const char *alias = r->alias->conf->name;
	enum est_err rc;
	time_t now = time(NULL);

	*ee = NULL;
	rc = est_store_get_ee(r->worker->store, username, ee, e);
	if (rc == EST_ERR_NOTFOUND)
		return est_fail(e, fail_code, "no end entity \"%.64s\" is registered", username);
	if (rc != EST_OK)
		return rc;
	if (strcmp((*ee)->alias, alias) != 0)
		return est_fail(e, fail_code, "end entity %s is registered for alias %s, not %s",
		    username, (*ee)->alias, alias);
	if ((*ee)->uses_left == 0)
		return est_fail(e, fail_code, "end entity %s has spent its enrolment code "
		    "(estadm ee reset gives a new one)", username);
	if ((*ee)->valid_until != 0 && (*ee)->valid_until < (int64_t)now)
		return est_fail(e, fail_code, "end entity %s may no longer enrol (valid until passed)",
		    username);
	return EST_OK;
}

/* Hand a checked end entity to the result. */
static void
take_ee(struct est_req *r, struct est_ee *ee, enum policy_principal_kind kind,
    struct authn_result *res)
{
	snprintf(r->principal, sizeof(r->principal), "%s:%s",
	    kind == PRINCIPAL_VENDOR ? "vendor" : "ee", ee->username);
	res->ee = ee;
	res->who.kind = kind;
	res->who.ee = ee;
}

/* The username of a DN by the alias's username component. */
static enum est_err
username_of(struct est_req *r, const X509_NAME *dn, enum est_err fail_code, char **user,
    struct est_error *e)
{
	const struct est_alias_conf *ac = r->alias->conf;

	if (est_name_field(dn, ac->username_nid, user, e) != EST_OK)
		return est_fail(e, fail_code, "the subject has no %s to name the end entity "
		    "(username-component of alias %s)", ac->username_field != NULL ?
		    ac->username_field : "CN", ac->name);
	return EST_OK;
}

/*
 * Whether ee (refused) is of this alias and spent its last use within
 * auth-fail-window: a request bringing its right code then lost a race for
 * it rather than guessed (issue 10: a 50-request race must not lock out).
 */
static bool
just_spent(struct est_req *r, const struct est_ee *ee)
{
	int64_t now = (int64_t)time(NULL);

	return ee != NULL && ee->uses_left == 0 && strcmp(ee->alias, r->alias->conf->name) == 0 &&
	    ee->last_used != 0 && now - ee->last_used <= (int64_t)r->worker->srv->cfg->auth_fail_window;
}

/* challenge-password and dn-part-password: the code against the end entity's hash. */
static enum est_err
authn_code(struct est_req *r, X509_REQ *csr, const char *code, struct authn_result *res,
    struct est_error *e)
{
	struct est_ee *ee = NULL;
	struct est_pwhash h;
	char *user = NULL;
	bool known, match, failed, spent;
	enum est_err rc;

	if ((rc = username_of(r, X509_REQ_get_subject_name(csr), EST_ERR_AUTH, &user, e)) != EST_OK)
		return rc;
	rc = usable_ee(r, user, EST_ERR_AUTH, &ee, e);
	if (rc == EST_OK && ee->code_hash[0] == '\0') {
		/* Registered with --no-password: the registration alone admits it. */
		log_info("end entity %s enrols without an enrolment code (registered so)", user);
		free(user);
		take_ee(r, ee, PRINCIPAL_EE, res);
		return EST_OK;
	}
	if (rc == EST_OK && code == NULL)
		rc = est_fail(e, EST_ERR_AUTH, "no enrolment code in the CSR for end entity %s", user);
	/*
	 * Without a code nothing was guessed: the CSR only named an end entity
	 * registered without one (presented()), whose use is spent. Counting it
	 * locked out the address and name of a device re-keying over mutual TLS
	 * with that name in its CSR, as the EJBCA guide's /serverkeygen does.
	 */
	if (rc != EST_OK && code == NULL)
		r->auth_no_guess = true;
	spent = rc == EST_ERR_AUTH && just_spent(r, ee) && code != NULL;
	known = ee != NULL && (rc == EST_OK || spent) && est_pwhash_parse(ee->code_hash, &h) == NULL;
	/* An unusable or unknown entity costs the same PBKDF2 as a known one. */
	match = est_pwhash_matches(known ? &h : NULL, code != NULL ? code : "",
	    code != NULL ? strlen(code) : 0, &failed);
	if (spent && known && match && !failed) {
		/* The right code, spent by a concurrent request: no guess, not counted. */
		r->auth_no_guess = true;
		rc = est_fail(e, EST_ERR_AUTH, "end entity %s has spent its enrolment code, a moment "
		    "ago with this very code (lost a race, or a retry; not counted as a guess)", user);
	}
	if (rc == EST_OK && failed)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "PBKDF2 failed");
	else if (rc == EST_OK && !known)
		rc = est_fail(e, EST_ERR_STORE, "end entity %s: stored code hash is malformed", user);
	else if (rc == EST_OK && !match)
		rc = est_fail(e, EST_ERR_AUTH, "wrong enrolment code for end entity %s", user);
	if (rc == EST_OK)
		take_ee(r, ee, PRINCIPAL_EE, res);
	else
		est_ee_free(ee);
	free(user);
	return rc;
}

/* The enrolment code as the method reads it from the CSR; NULL when not there. */
static enum est_err
code_of(struct est_req *r, X509_REQ *csr, enum est_auth_method m, char **code,
    struct est_error *e)
{
	*code = NULL;
	if (m == EST_AUTH_CHALLENGE_PASSWORD)
		return est_csr_challenge_password(csr, code, e);
	if (est_name_field(X509_REQ_get_subject_name(csr), r->alias->conf->code_nid, code, e) ==
	    EST_ERR_NOTFOUND)
		return EST_OK;
	return *code != NULL ? EST_OK : EST_ERR_BADREQ;
}

/* Vendor mode: the vendor certificate names a registered end entity. */
static enum est_err
authn_vendor(struct est_req *r, struct authn_result *res, struct est_error *e)
{
	struct est_ee *ee = NULL;
	X509 *vendor = NULL;
	char *user = NULL;
	enum est_err rc;

	if ((rc = vendor_verify(r, &vendor, e)) != EST_OK ||
	    (rc = username_of(r, X509_get_subject_name(vendor), EST_ERR_FORBIDDEN, &user, e)) != EST_OK)
		return rc;
	if ((rc = usable_ee(r, user, EST_ERR_FORBIDDEN, &ee, e)) == EST_OK) {
		take_ee(r, ee, PRINCIPAL_VENDOR, res);
		res->who.cert = vendor;
	} else {
		est_ee_free(ee);
	}
	free(user);
	return rc;
}

/* ---- the methods together ---- */

/*
 * Whether the CSR names an end entity of this alias registered without a
 * code (estadm ee add --no-password), which enrols with no challengePassword.
 */
static bool
names_codeless_ee(struct est_req *r, X509_REQ *csr)
{
	struct est_error ignored = { 0 };
	struct est_ee *ee = NULL;
	char *user = NULL;
	bool yes;

	if (username_of(r, X509_REQ_get_subject_name(csr), EST_ERR_AUTH, &user, &ignored) != EST_OK)
		return false;
	yes = est_store_get_ee(r->worker->store, user, &ee, &ignored) == EST_OK &&
	    strcmp(ee->alias, r->alias->conf->name) == 0 && ee->code_hash[0] == '\0';
	est_ee_free(ee);
	free(user);
	return yes;
}

static bool
presented(struct est_req *r, X509_REQ *csr, enum est_auth_method m)
{
	switch (m) {
	case EST_AUTH_HTTP:
		return http_header(r, "Authorization") != NULL &&
		    !est_bearer_is_bearer(http_header(r, "Authorization"));
	case EST_AUTH_BEARER:
		return est_bearer_is_bearer(http_header(r, "Authorization"));
	case EST_AUTH_CERTIFICATE:
	case EST_AUTH_NONE:
		return r->tls->peer != NULL;
	case EST_AUTH_CHALLENGE_PASSWORD:
		return csr != NULL && (X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword, -1) >= 0 ||
		    names_codeless_ee(r, csr));
	case EST_AUTH_DN_PART_PASSWORD:
		return csr != NULL && X509_NAME_get_index_by_NID(X509_REQ_get_subject_name(csr),
		    r->alias->conf->code_nid, -1) >= 0;
	case EST_AUTH_SRP:
		return r->tls->srp_user[0] != '\0';
	case EST_AUTH__MAX:
		break;
	}
	return false;
}

/*
 * certificate: one of the alias's CA (a device, or an RA with id-kp-cmcRA),
 * else an RA certificate under one of its ra-cas (RFC 7030 §3.7). An RA
 * certificate of the alias's CA is an RA only on the alias it was issued
 * for (estadm cert ra --alias): aliases share a CA, and one with other name
 * rules, profile or approval must not take it as its own RA. Elsewhere it is
 * an ordinary certificate of the CA, which gets only its own names.
 */
static enum est_err
authn_certificate(struct est_req *r, struct authn_result *res, struct est_error *e)
{
	struct est_error ra_why = { 0 };
	X509 *cert = NULL;
	char *serial, shown[EST_SERIAL_SHOWN_MAX];
	enum est_err rc;

	rc = authn_client_cert(r, &cert, e);
	if (rc == EST_OK) {
		res->who.kind = policy_is_ra_cert(cert) && r->cert_of_alias ? PRINCIPAL_RA :
		    PRINCIPAL_CERT;
		res->who.cert = cert;
		res->who.cert_ee_id = r->cert_ee_id;
		res->who.cert_of_alias = r->cert_of_alias;
		res->who.cert_alias = r->cert_alias;
		if (res->who.kind == PRINCIPAL_RA) {
			char copy[sizeof(r->principal) - 3];

			snprintf(copy, sizeof(copy), "%s", r->principal + strlen("cert:"));
			snprintf(r->principal, sizeof(r->principal), "ra:%s", copy);
		}
		return EST_OK;
	}
	if (rc != EST_ERR_FORBIDDEN || r->alias->ra_anchors == NULL ||
	    vendor_verify_ra(r, &cert, &ra_why) != EST_OK)
		return rc;
	if (!policy_is_ra_cert(cert))
		return est_fail(e, EST_ERR_FORBIDDEN, "a certificate under ra-cas must carry the "
		    "EKU id-kp-cmcRA to act as RA");
	if ((serial = est_serial_text(X509_get0_serialNumber(cert))) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	snprintf(r->principal, sizeof(r->principal), "ra:%s",
	    est_serial_shown(serial, shown, sizeof(shown)));
	free(serial);
	res->who.kind = PRINCIPAL_RA;
	res->who.cert = cert;
	return EST_OK;
}

static enum est_err
try_method(struct est_req *r, X509_REQ *csr, enum est_auth_method m, struct authn_result *res,
    struct est_error *e)
{
	char *code = NULL;
	enum est_err rc = EST_ERR_INTERNAL;

	switch (m) {
	case EST_AUTH_HTTP:
		res->who.kind = PRINCIPAL_USER;
		return authn_http(r, e);
	case EST_AUTH_CERTIFICATE:
		return authn_certificate(r, res, e);
	case EST_AUTH_CHALLENGE_PASSWORD:
	case EST_AUTH_DN_PART_PASSWORD:
		if ((rc = code_of(r, csr, m, &code, e)) == EST_OK)
			rc = authn_code(r, csr, code, res, e);
		if (code != NULL) {
			/* malloc'd by the codec: cleansed here, then free() (not OPENSSL_free). */
			OPENSSL_cleanse(code, strlen(code));
			free(code);
		}
		return rc == EST_ERR_BADREQ ? est_fail(e, EST_ERR_AUTH, "%s", e->msg) : rc;
	case EST_AUTH_NONE:
		return authn_vendor(r, res, e);
	case EST_AUTH_BEARER:
		return authn_bearer(r, e);
	case EST_AUTH_SRP:
		/* The handshake proved the name (lib/auth/srp.c). */
		snprintf(r->principal, sizeof(r->principal), "srp:%s", r->tls->srp_user);
		return EST_OK;
	case EST_AUTH__MAX:
		break;
	}
	return rc;
}

/* Whether the method checks a secret a client could guess. */
static bool
is_password(enum est_auth_method m)
{
	return m == EST_AUTH_HTTP || m == EST_AUTH_CHALLENGE_PASSWORD ||
	    m == EST_AUTH_DN_PART_PASSWORD || m == EST_AUTH_BEARER;
}

static bool
takes_password(const struct est_alias_conf *ac)
{
	for (size_t i = 0; i < ac->n_auth; i++)
		if (is_password(ac->auth[i]))
			return true;
	return false;
}

/* Whom a password method's secret is for, as the failure limits name it; "" for nobody. */
static void
claimed_name(struct est_req *r, X509_REQ *csr, enum est_auth_method m, char *name, size_t len)
{
	char user[EST_HTTPAUTH_MAX_USER + 1];
	char *ee = NULL;

	name[0] = '\0';
	if (m == EST_AUTH_BEARER)
		return; /* a token names nobody before it is checked: the address limit only */
	if (m == EST_AUTH_HTTP) {
		if (est_httpauth_user(http_header(r, "Authorization"), user))
			snprintf(name, len, "user %s", user);
	} else if (username_of(r, X509_REQ_get_subject_name(csr), EST_ERR_AUTH, &ee, NULL) == EST_OK) {
		snprintf(name, len, "end entity %s", ee);
		free(ee);
	}
}

/*
 * try_method behind the failure limits. Only passwords and codes are
 * limited, as only they can be guessed: one from a locked-out address or
 * for a locked-out name is refused unchecked (no PBKDF2 is spent on it),
 * and a wrong one counts. A right Digest response on a stale nonce is no
 * failure, nor is the right code of a code spent a moment ago (just_spent).
 */
static enum est_err
try_limited(struct est_req *r, X509_REQ *csr, enum est_auth_method m, struct authn_result *res,
    struct est_error *e)
{
	char name[256];
	enum est_err rc;

	if (!is_password(m))
		return try_method(r, csr, m, res, e);
	/* A malformed request is 400 whether or not the limits lock it out:
	 * a 401 instead would tell the client it is locked out. */
	if (m == EST_AUTH_HTTP &&
	    (rc = est_httpauth_check_uri(http_header(r, "Authorization"), http_target(r), e)) != EST_OK)
		return rc;
	claimed_name(r, csr, m, name, sizeof(name));
	r->auth_no_guess = false; /* a verdict on this method's secret only */
	if (ratelimit_refused(r, name, e)) {
		if (m == EST_AUTH_BEARER)
			r->bearer_error = "invalid_token"; /* as a wrong token */
		return EST_ERR_AUTH;
	}
	rc = try_method(r, csr, m, res, e);
	if (rc == EST_OK || (rc == EST_ERR_AUTH && !r->auth_stale && !r->auth_no_guess)) {
		ratelimit_note(r, name, rc == EST_OK);
		r->secret_checked = true;
		r->secret_method = m;
	}
	return rc;
}

bool
alias_requires_challenge_password(const struct est_alias *a)
{
	for (size_t i = 0; i < a->conf->n_auth; i++)
		if (a->conf->auth[i] == EST_AUTH_CHALLENGE_PASSWORD)
			return true;
	return a->conf->channel_binding == EST_CB_TLS_UNIQUE;
}

static enum est_err
no_method_applied(struct est_req *r, struct est_error *why)
{
	const struct est_alias_conf *ac = r->alias->conf;

	if (ac->vendor_mode)
		return est_fail(why, EST_ERR_FORBIDDEN, "alias %s needs the device's vendor "
		    "certificate as TLS client certificate", ac->name);
	if (takes_password(ac))
		return est_fail(why, EST_ERR_AUTH, "no credentials presented");
	for (size_t i = 0; i < ac->n_auth; i++)
		if (ac->auth[i] == EST_AUTH_SRP)
			return est_fail(why, EST_ERR_FORBIDDEN, "alias %s authenticates by TLS-SRP: "
			    "connect to a listener with srp = yes as an SRP user", ac->name);
	return est_fail(why, EST_ERR_FORBIDDEN, "alias %s needs a TLS client certificate from its CA",
	    ac->name);
}

static bool
alias_takes(const struct est_alias_conf *ac, enum est_auth_method m)
{
	for (size_t i = 0; i < ac->n_auth; i++)
		if (ac->auth[i] == m)
			return true;
	return false;
}

/* RFC 6750 §3: the Bearer challenge, with the error when a token was refused. */
static void
bearer_challenge(struct est_req *r)
{
	char value[512], realm[128];
	size_t n = 0;

	/* The realm as a quoted-string's inside. */
	for (const char *s = r->worker->srv->cfg->realm; *s != '\0' && n + 3 < sizeof(realm); s++) {
		if (*s == '"' || *s == '\\')
			realm[n++] = '\\';
		realm[n++] = *s;
	}
	realm[n] = '\0';
	if (r->bearer_error != NULL)
		snprintf(value, sizeof(value), "Bearer realm=\"%s\", error=\"%s\", "
		    "error_description=\"%s\"", realm, r->bearer_error,
		    strcmp(r->bearer_error, "invalid_request") == 0 ?
		    "the Authorization header is not Bearer and a token" :
		    "the access token is not valid");
	else
		snprintf(value, sizeof(value), "Bearer realm=\"%s\"", realm);
	http_add_header(r, "WWW-Authenticate", value);
}

/*
 * The WWW-Authenticate headers of a 401 (RFC 9110 §11.6.1: at least one):
 * Basic and Digest unless the alias takes only Bearer among the HTTP schemes,
 * and Bearer when it takes it.
 */
void
authn_add_challenges(struct est_req *r)
{
	struct est_server *srv = r->worker->srv;
	const struct est_alias_conf *ac = r->alias->conf;
	char values[EST_CHALLENGE__MAX][512];
	size_t n;

	if (alias_takes(ac, EST_AUTH_HTTP) || !alias_takes(ac, EST_AUTH_BEARER)) {
		n = est_httpauth_challenges(srv->cfg->realm, srv->nonces, time(NULL),
		    r->auth_stale, ac->challenges, ac->n_challenges, values, EST_CHALLENGE__MAX);
		for (size_t i = 0; i < n; i++)
			http_add_header(r, "WWW-Authenticate", values[i]);
	}
	if (alias_takes(ac, EST_AUTH_BEARER))
		bearer_challenge(r);
}

enum est_err
authn_enroll(struct est_req *r, X509_REQ *csr, struct authn_result *res, struct est_error *e)
{
	const struct est_alias_conf *ac = r->alias->conf;
	struct est_error why = { 0 };

	if (ac->require_client_cert && r->tls->peer == NULL)
		return est_fail(e, EST_ERR_FORBIDDEN, "alias %s needs a TLS client certificate; "
		    "use the mutual-TLS listener", ac->name);
	for (size_t i = 0; i < ac->n_auth; i++) {
		struct est_error tried = { 0 };
		enum est_err rc;

		if (!presented(r, csr, ac->auth[i]))
			continue;
		authn_result_clear(res);
		rc = try_limited(r, csr, ac->auth[i], res, &tried);
		if (rc == EST_OK) {
			res->method = ac->auth[i];
			/* The logs name the method that admitted it, not a code tried before. */
			if (!is_password(ac->auth[i]))
				r->secret_checked = false;
			return EST_OK;
		}
		authn_result_clear(res);
		snprintf(r->principal, sizeof(r->principal), "-");
		if (rc != EST_ERR_AUTH && rc != EST_ERR_FORBIDDEN)
			return est_fail(e, rc, "%s", tried.msg);
		if (why.code == EST_OK)
			why = tried;
	}
	if (why.code == EST_OK)
		no_method_applied(r, &why);
	if (!takes_password(ac))
		return est_fail(e, EST_ERR_FORBIDDEN, "%s", why.msg);
	authn_add_challenges(r);
	return est_fail(e, EST_ERR_AUTH, "%s", why.msg);
}

enum est_err
authn_check_binding(struct est_req *r, X509_REQ *csr, bool by_ra, struct est_error *e)
{
	const char *want = r->tls->binding;
	char *got = NULL;
	enum est_err rc;
	size_t n;

	if (r->alias->conf->channel_binding != EST_CB_TLS_UNIQUE)
		return EST_OK;
	if ((rc = est_csr_challenge_password(csr, &got, e)) != EST_OK)
		return rc;
	if (got == NULL)
		return est_fail(e, EST_ERR_FORBIDDEN, "alias %s links the CSR to the TLS connection: "
		    "put base64(tls-unique) in its challengePassword (RFC 7030 §3.5)",
		    r->alias->conf->name);
	n = strlen(want);
	if (by_ra)
		rc = EST_OK; /* the RA compared it with its own client's connection (§3.7) */
	else if (n == 0)
		rc = est_fail(e, EST_ERR_FORBIDDEN, "this connection has no channel-binding value "
		    "(tls-unique or tls-exporter); channel binding needs TLS");
	/* Whole value, constant time: a prefix must not pass (EST-S-36). */
	else if (strlen(got) != n || CRYPTO_memcmp(got, want, n) != 0)
		rc = est_fail(e, EST_ERR_FORBIDDEN, "the CSR's challengePassword is not this TLS "
		    "connection's channel binding: build the CSR on the connection that "
		    "sends it (RFC 7030 §3.5)");
	free(got);
	return rc;
}
