/*
 * The EST operations (RFC 7030 §4): /cacerts, /csrattrs, and the three that
 * post a CSR -- /simpleenroll, /simplereenroll, /serverkeygen -- with their
 * 202 + Retry-After loop (§4.2.3).
 *
 * Channel binding (§3.5, est-conformance.md EST-C-40/41): the CSR must be
 * built after the TLS handshake of the connection that carries it. So an
 * attempt first does GET /cacerts, which opens (or reuses) the connection
 * and yields its binding value; then the CSR is built and posted on the
 * same easy handle, which reuses the connection. If the POST went out on a
 * new connection anyway and was refused -- libest's server closes the
 * connection after every 401, so the answer to the challenge goes out on a
 * new one -- the credentials are settled on the scheme the server
 * offered (cl_settle_auth: sent with the first request from then on, so no
 * 401 comes between), the probe is done again, and the CSR is rebuilt for
 * that connection and sent once more. Every attempt after a 202 starts over
 * the same way, and so does a same-origin redirect (EST-G-15): a new probe,
 * a new CSR.
 *
 * What comes back is checked before it is returned (accept.c): the answer's
 * certificate must be the one the CSR asked for -- its key, subject and
 * subjectAltName as sent -- and verify up to the explicit trust anchor.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ec.h>

#include "client/client_int.h"
#include "estkit/codec.h"
#include "estkit/log.h"

/* One CSR-posting operation, as worked out from the request. */
struct post_op {
	const char *op;                   /* "simpleenroll", ... */
	const struct est_enroll_req *req;
	EVP_PKEY *key;                    /* signs the CSR we build (borrowed) */
	const X509_NAME *subject;
	const GENERAL_NAMES *san;
	bool bind;                        /* channel binding in challengePassword */
	bool keygen;                      /* /serverkeygen: the answer is multipart */
};

static void
start_op(struct est_client *c)
{
	c->failed_status = 0;
	c->retry_after = 0;
	c->retry_given = false;
}

enum est_err
est_client_cacerts(struct est_client *c, STACK_OF(X509) **out, struct est_error *e)
{
	STACK_OF(X509) *copy;
	enum est_err rc;

	start_op(c);
	if ((rc = cl_cacerts_get(c, e)) != EST_OK)
		return rc;
	if ((copy = X509_chain_up_ref(c->cabag)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	*out = copy;
	return EST_OK;
}

STACK_OF(X509) *
est_client_ca_roots(const struct est_client *c)
{
	return c->caroots;
}

/* A 200 /csrattrs body: base64 CsrAttrs (leniently DER). */
static enum est_err
csrattrs_body(const struct cl_response *r, struct est_csr_wants **out, struct est_error *e)
{
	struct est_error sub = { 0 };
	unsigned char *der = NULL;
	size_t len = 0;
	enum est_err rc;

	if (r->len > 0 && est_body_len_without_nuls(r->body, r->len) != r->len)
		log_debug("/csrattrs: the answer ends in NUL bytes (libest's server does that); "
		    "ignored");
	if ((rc = est_body_to_der(r->body, r->len, &der, &len, &sub)) == EST_OK)
		rc = est_csr_wants_decode(der, len, out, &sub);
	free(der);
	if (rc == EST_ERR_NOMEM)
		return est_fail(e, rc, "%s", sub.msg);
	if (rc != EST_OK)
		return est_fail(e, EST_ERR_SERVER, "the /csrattrs answer: %s", sub.msg);
	return EST_OK;
}

enum est_err
est_client_csrattrs(struct est_client *c, struct est_csr_wants **out, struct est_error *e)
{
	struct cl_response r;
	enum est_err rc;

	start_op(c);
	if ((rc = cl_get(c, "csrattrs", &r, e)) != EST_OK) {
		cl_response_clear(&r);
		return rc;
	}
	/* 204 and 404 mean "nothing to ask for" (RFC 7030 §4.5.2); so does a
	 * server without /csrattrs (501, EST-S-02) or an empty 200. */
	if (r.status == 204 || r.status == 404 || r.status == 501 ||
	    (r.status == 200 && r.len == 0)) {
		if ((*out = calloc(1, sizeof(**out))) == NULL)
			rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
		else
			(*out)->none = true;
	} else if ((rc = cl_answer_check(c, "csrattrs", 200, &r, e)) == EST_OK) {
		rc = csrattrs_body(&r, out, e);
	}
	cl_response_clear(&r);
	return rc;
}

/*
 * The CSR to send (req->csr, or one built now) as base64 in 64-column
 * lines; *csr: the CSR itself (a new reference: caller X509_REQ_free()s).
 */
static enum est_err
csr_body(const struct post_op *o, const unsigned char *cb, size_t cb_len, char **body,
    size_t *len, X509_REQ **csr, struct est_error *e)
{
	unsigned char *der = NULL;
	int n;
	enum est_err rc;

	if (o->req->csr != NULL) {
		if ((*csr = X509_REQ_dup(o->req->csr)) == NULL)
			return est_fail_ssl(e, EST_ERR_NOMEM, "out of memory");
	} else if ((rc = cl_csr_build(o->req, o->key, o->subject, o->san, cb, cb_len, csr,
	    e)) != EST_OK) {
		return rc;
	}
	if ((n = i2d_X509_REQ(*csr, &der)) <= 0)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot encode the CSR");
	else
		rc = est_b64_encode(der, (size_t)n, true, body, len, e);
	OPENSSL_free(der);
	if (rc != EST_OK) {
		X509_REQ_free(*csr);
		*csr = NULL;
	}
	return rc;
}

/* POST the CSR built with binding cb (may be empty) to url; *csr as csr_body. */
static enum est_err
post_csr(struct est_client *c, const struct post_op *o, const char *url,
    const unsigned char *cb, size_t cb_len, struct cl_response *r, X509_REQ **csr,
    struct est_error *e)
{
	char *body = NULL;
	size_t len = 0;
	enum est_err rc;

	X509_REQ_free(*csr);
	*csr = NULL;
	if ((rc = csr_body(o, cb, cb_len, &body, &len, csr, e)) == EST_OK)
		rc = cl_request_url(c, url, o->op, body, len, r, e);
	free(body);
	return rc;
}

/*
 * tls-unique binds a CSR to a TLS 1.2 connection only when its master
 * secret is unique to it: without Extended Master Secret (RFC 7627) a
 * server can make two connections share it (the triple handshake), and
 * replay the CSR on the other one (est-conformance.md CB-03).
 */
static enum est_err
binding_safe(const struct cl_response *r, struct est_error *e)
{
	if (r->cb_len == 12 && !r->ems)
		return est_fail(e, EST_ERR_TLS, "the server negotiated TLS 1.2 without Extended "
		    "Master Secret (RFC 7627): tls-unique would not bind the CSR to this "
		    "connection, so -z refuses it; use TLS 1.3 or enable EMS on the server");
	return EST_OK;
}

/* The binding of the connection the next POST will use (GET /cacerts). */
static enum est_err
probe_binding(struct est_client *c, unsigned char cb[CL_CB_MAX], size_t *cb_len,
    struct est_error *e)
{
	struct cl_response r;
	enum est_err rc;

	if ((rc = cl_request(c, "cacerts", NULL, 0, &r, e)) == EST_OK && r.cb_len == 0)
		rc = est_fail(e, EST_ERR_INTERNAL, "cannot read the TLS channel binding "
		    "(is libcurl using OpenSSL?)");
	if (rc == EST_OK)
		rc = binding_safe(&r, e);
	if (rc == EST_OK) {
		memcpy(cb, r.cb, r.cb_len);
		*cb_len = r.cb_len;
		log_debug("channel binding: %s (%zu bytes)", r.cb_len == 12 ? "tls-unique, TLS 1.2" :
		    "tls-exporter, TLS 1.3", r.cb_len);
	}
	cl_response_clear(&r);
	return rc;
}

/* Whether the POST went out on another connection than the CSR was bound to. */
static bool
binding_lost(const struct cl_response *r, const unsigned char *cb, size_t cb_len)
{
	return r->new_connections > 0 && r->cb_len > 0 &&
	    (r->cb_len != cb_len || memcmp(r->cb, cb, cb_len) != 0);
}

/* What the certificate must be: the CSR's key and names, as sent. */
static enum est_err
expect_of(const struct post_op *o, X509_REQ *csr, struct est_cert_expect *want,
    GENERAL_NAMES **san, struct est_error *e)
{
	enum est_err rc;

	memset(want, 0, sizeof(*want));
	if ((rc = est_csr_get_san(csr, san, e)) != EST_OK)
		return rc;
	want->key = X509_REQ_get0_pubkey(csr);
	want->subject = X509_REQ_get_subject_name(csr);
	want->san = *san;
	want->any_names = o->req->names_by_server;
	return EST_OK;
}

/* The 200 answer, checked. */
static enum est_err
read_answer(struct est_client *c, const struct post_op *o, X509_REQ *csr,
    const struct cl_response *r, struct est_enroll_result *res, struct est_error *e)
{
	struct est_cert_expect want;
	GENERAL_NAMES *san = NULL;
	enum est_err rc;

	if ((rc = cl_answer_check(c, o->op, 200, r, e)) == EST_OK &&
	    (rc = expect_of(o, csr, &want, &san, e)) == EST_OK)
		rc = o->keygen ? cl_keygen_answer(c, r, o->req, &want, res, e) :
		    cl_enroll_answer(c, o->op, r, &want, res, e);
	GENERAL_NAMES_free(san);
	return rc;
}

/*
 * One attempt: (probe,) build, post, and read a 200 answer. A same-origin
 * redirect is followed with a CSR bound anew (EST-G-15, EST-C-41).
 */
static enum est_err
attempt(struct est_client *c, const struct post_op *o, struct est_enroll_result *res,
    struct est_error *e)
{
	unsigned char cb[CL_CB_MAX];
	size_t cb_len = 0;
	struct cl_response r = { 0 };
	X509_REQ *csr = NULL;
	char url[1024], next[1024];
	enum est_err rc = EST_OK;

	snprintf(url, sizeof(url), "%s/%s", c->base, o->op);
	for (int hop = 0;; hop++) {
		cl_response_clear(&r);
		if (o->bind)
			rc = probe_binding(c, cb, &cb_len, e);
		if (rc == EST_OK)
			rc = post_csr(c, o, url, cb, cb_len, &r, &csr, e);
		if (rc == EST_OK && o->bind && r.status != 200 && binding_lost(&r, cb, cb_len)) {
			log_debug("/%s went out on a new connection: binding the CSR to the next one",
			    o->op);
			cl_response_clear(&r);
			cl_settle_auth(c);
			if ((rc = probe_binding(c, cb, &cb_len, e)) == EST_OK)
				rc = post_csr(c, o, url, cb, cb_len, &r, &csr, e);
		}
		if (rc != EST_OK || !cl_is_redirect(&r) || hop >= CL_REDIRECTS_MAX)
			break;
		if ((rc = cl_redirect_target(c, o->op, url, &r, next, sizeof(next), e)) != EST_OK)
			break;
		log_info("/%s: HTTP %ld: following the redirect to %s", o->op, r.status, next);
		snprintf(url, sizeof(url), "%s", next);
	}
	res->attempts++;
	if (rc == EST_OK)
		rc = read_answer(c, o, csr, &r, res, e);
	X509_REQ_free(csr);
	cl_response_clear(&r);
	return rc;
}

/*
 * Sleep s seconds; false when a signal cut the wait short. A program that
 * handles a signal (estclient renew --daemon: SIGTERM) wants to act on it
 * now, not after the hour a server may ask to wait.
 */
static bool
wait_seconds(unsigned s)
{
	struct timespec ts = { (time_t)s, 0 };

	return nanosleep(&ts, NULL) == 0;
}

/* Attempts until an answer other than 202, or retry_max retries. */
static enum est_err
run_post(struct est_client *c, const struct post_op *o, struct est_enroll_result *res,
    struct est_error *e)
{
	enum est_err rc;
	unsigned wait;

	start_op(c);
	for (unsigned retry = 0;; retry++) {
		if ((rc = attempt(c, o, res, e)) != EST_ERR_PENDING || retry >= c->retry_max)
			return rc;
		wait = c->retry_given ? c->retry_after : 60;
		if (wait > c->retry_wait_max)
			return est_fail(e, EST_ERR_PENDING, "/%s: HTTP 202: the server asks to wait "
			    "%u s, longer than the %u s this client waits: ask again later",
			    o->op, wait, c->retry_wait_max);
		log_info("/%s: HTTP 202, waiting %u s as the server asked (retry %u of %u)",
		    o->op, wait, retry + 1, c->retry_max);
		if (!wait_seconds(wait))
			return est_fail(e, EST_ERR_PENDING, "/%s: HTTP 202: the wait for the server "
			    "was interrupted by a signal: ask again later", o->op);
	}
}

/* What every posting operation checks about the request. */
static enum est_err
check_req(const struct post_op *o, struct est_error *e)
{
	if (o->req->csr != NULL && o->bind)
		return est_fail(e, EST_ERR_CONFIG, "a ready CSR cannot be bound to the TLS "
		    "channel: give its key instead, so the client builds the CSR");
	if (o->req->csr == NULL && o->key == NULL)
		return est_fail(e, EST_ERR_CONFIG, "no key to sign the CSR with");
	return EST_OK;
}

/*
 * Bound when asked, by the request or by /csrattrs, and always when the
 * server was authenticated by the system's store (an Implicit TA): any of
 * its CAs may vouch for the name, and a CSR such a server relays is then no
 * good on another connection (RFC 7030 §6, EST-C-26). TLS-SRP
 * authenticates the server itself.
 */
static bool
wants_binding(const struct est_client *c, const struct est_enroll_req *req)
{
	return req->channel_binding || (req->attrs != NULL && req->attrs->challenge_password) ||
	    (c->tas == NULL && c->srp_user == NULL);
}

enum est_err
est_client_enroll(struct est_client *c, const struct est_enroll_req *req,
    struct est_enroll_result *res, struct est_error *e)
{
	struct post_op o = { "simpleenroll", req, req->key, req->subject, req->san,
	    wants_binding(c, req), false };
	enum est_err rc;

	if ((rc = check_req(&o, e)) != EST_OK)
		return rc;
	return run_post(c, &o, res, e);
}

enum est_err
est_client_reenroll(struct est_client *c, const struct est_enroll_req *req,
    struct est_enroll_result *res, struct est_error *e)
{
	struct post_op o = { "simplereenroll", req, req->key != NULL ? req->key : c->key,
	    NULL, NULL, wants_binding(c, req), false };
	GENERAL_NAMES *san = NULL;
	enum est_err rc;

	if (c->cert == NULL)
		return est_fail(e, EST_ERR_CONFIG, "re-enrolment is authenticated by the "
		    "certificate being renewed: configure it as the TLS client certificate");
	/* RFC 7030 §4.2.2: the certificate's subject and SAN, whatever the key. */
	o.subject = req->subject != NULL ? req->subject : X509_get_subject_name(c->cert);
	o.san = req->san != NULL ? req->san : (san = est_cert_get_san(c->cert));
	if ((rc = check_req(&o, e)) == EST_OK)
		rc = run_post(c, &o, res, e);
	GENERAL_NAMES_free(san);
	return rc;
}

enum est_err
est_client_serverkeygen(struct est_client *c, const struct est_enroll_req *req,
    struct est_enroll_result *res, struct est_error *e)
{
	struct post_op o = { "serverkeygen", req, req->key, req->subject, req->san,
	    wants_binding(c, req), true };
	EVP_PKEY *throwaway = NULL;
	enum est_err rc;

	if ((req->decrypt_cert == NULL) != (req->decrypt_key == NULL))
		return est_fail(e, EST_ERR_CONFIG, "an encrypted key needs both the decryption "
		    "certificate and its key");
	/* The server ignores the CSR's key (RFC 7030 §4.4.1): any key may sign. */
	if (req->csr == NULL && o.key == NULL) {
		if ((throwaway = EVP_EC_gen("P-256")) == NULL)
			return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot make a throwaway P-256 key");
		o.key = throwaway;
	}
	if ((rc = check_req(&o, e)) == EST_OK)
		rc = run_post(c, &o, res, e);
	EVP_PKEY_free(throwaway);
	return rc;
}

void
est_enroll_result_clear(struct est_enroll_result *r)
{
	if (r == NULL)
		return;
	X509_free(r->cert);
	sk_X509_pop_free(r->certs, X509_free);
	EVP_PKEY_free(r->key);
	memset(r, 0, sizeof(*r));
}
