/*
 * Authentication of enrolling clients, by the alias's methods in order.
 *
 * A method either authenticates (principal set, done), or did not apply /
 * failed (try the next). When none succeeds the answer is 401 with
 * challenges if the alias accepts HTTP credentials, else 403. The reason
 * for the log names what was wrong; the client only hears that
 * authentication failed.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>

#include "estkit/codec.h"
#include "estkit/log.h"
#include "server/server_int.h"

/* Checks a presented certificate against the store: on record, same bytes, not revoked. */
static enum est_err
check_on_record(struct est_req *r, X509 *cert, const char *serial, struct est_error *e)
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
		return est_fail(e, EST_ERR_FORBIDDEN, "client certificate %s is not on record at this CA", serial);
	if (rc != EST_OK)
		return rc;
	len = i2d_X509(cert, &der);
	if (len <= 0 || (size_t)len != rec->der_len || memcmp(der, rec->der, rec->der_len) != 0)
		rc = est_fail(e, EST_ERR_FORBIDDEN, "client certificate %s differs from the one on record", serial);
	else if (rec->status == EST_CERT_REVOKED)
		rc = est_fail(e, EST_ERR_FORBIDDEN, "client certificate %s is revoked (%s)", serial,
		    est_revoke_reason_name(rec->revocation_reason));
	OPENSSL_free(der);
	est_cert_rec_free(rec);
	return rc;
}

enum est_err
authn_client_cert(struct est_req *r, X509 **cert, struct est_error *e)
{
	X509 *peer;
	char *serial;
	enum est_err rc;

	if (r->ssl == NULL || (peer = SSL_get0_peer_certificate(r->ssl)) == NULL)
		return est_fail(e, EST_ERR_FORBIDDEN, "no TLS client certificate was presented "
		    "(use a listener with tls = optional-client or require-client)");
	rc = est_ca_verify(r->alias->ca, peer, SSL_get_peer_cert_chain(r->ssl), time(NULL), e);
	if (rc != EST_OK)
		return rc;
	serial = est_serial_text(X509_get0_serialNumber(peer));
	if (serial == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	rc = check_on_record(r, peer, serial, e);
	if (rc == EST_OK) {
		snprintf(r->principal, sizeof(r->principal), "cert:%s", serial);
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
	    authz, srv->nonce_key, time(NULL), user, &stale, e);
	if (rc != EST_OK) {
		r->auth_stale = stale;
		return rc;
	}
	snprintf(r->principal, sizeof(r->principal), "user:%s", user);
	return EST_OK;
}

/* Whether the client offered anything for this method to check. */
static bool
presented(struct est_req *r, enum est_auth_method m)
{
	switch (m) {
	case EST_AUTH_HTTP:
		return http_header(r, "Authorization") != NULL;
	case EST_AUTH_CERTIFICATE:
		return r->ssl != NULL && SSL_get0_peer_certificate(r->ssl) != NULL;
	case EST_AUTH__MAX:
		break;
	}
	return false;
}

enum est_err
authn_enroll(struct est_req *r, struct est_error *e)
{
	const struct est_alias_conf *ac = r->alias->conf;
	struct est_error why = { 0 };
	bool http_offered = false;
	X509 *cert;

	for (size_t i = 0; i < ac->n_auth; i++) {
		struct est_error tried = { 0 };
		enum est_err rc = EST_ERR_INTERNAL;

		if (ac->auth[i] == EST_AUTH_HTTP)
			http_offered = true;
		if (!presented(r, ac->auth[i]))
			continue;
		switch (ac->auth[i]) {
		case EST_AUTH_HTTP:
			rc = authn_http(r, &tried);
			break;
		case EST_AUTH_CERTIFICATE:
			rc = authn_client_cert(r, &cert, &tried);
			break;
		case EST_AUTH__MAX:
			break;
		}
		if (rc == EST_OK)
			return EST_OK;
		if (rc != EST_ERR_AUTH && rc != EST_ERR_FORBIDDEN)
			return est_fail(e, rc, "%s", tried.msg);
		if (why.code == EST_OK)
			why = tried;
	}
	if (why.code == EST_OK && http_offered)
		est_fail(&why, EST_ERR_AUTH, "no credentials presented");
	else if (why.code == EST_OK)
		est_fail(&why, EST_ERR_FORBIDDEN, "alias %s needs a TLS client certificate from its CA",
		    ac->name);
	return est_fail(e, http_offered ? EST_ERR_AUTH : EST_ERR_FORBIDDEN, "%s", why.msg);
}

void
authn_add_challenges(struct est_req *r)
{
	struct est_server *srv = r->worker->srv;
	char values[3][512];
	size_t n;

	n = est_httpauth_challenges(srv->cfg->realm, srv->nonce_key, time(NULL), r->auth_stale,
	    values, 3);
	for (size_t i = 0; i < n; i++)
		http_add_header(r, "WWW-Authenticate", values[i]);
}
