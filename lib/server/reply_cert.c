/*
 * The common end of every enrolment: sign, record, answer.
 *
 * The certificate is committed to the store before a byte of it goes to
 * the client; if recording fails the client gets 500 and no certificate.
 * For an end entity, spending a use of its enrolment code is part of the
 * same commit: if the code was spent meanwhile (a concurrent request), the
 * client gets the 401 of any failed authentication and no certificate.
 * An approval claimed by the gate is given back when the enrolment fails,
 * so the client's retry can still use it.
 *
 * /simpleenroll and /simplereenroll record through the server's grouped
 * writer: the request is deferred (http_defer), the records queued, and the
 * answer written from the worker's loop once the writer reports the group
 * durable, so no event loop waits for fsync. /serverkeygen still records
 * on the worker's own handle (issue_cert).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "estkit/codec.h"
#include "estkit/log.h"
#include "server/server_int.h"

#define ENROLL_TYPE "application/pkcs7-mime; smime-type=certs-only"

/* The end entity's own profile, else the alias's. */
static const struct est_profile *
profile_for(struct est_req *r, const struct authn_result *res, struct est_error *e)
{
	const struct est_profile_conf *pc;

	if (res == NULL || res->ee == NULL || res->ee->profile[0] == '\0')
		return r->alias->profile;
	pc = est_config_profile(r->worker->srv->cfg, res->ee->profile);
	if (pc == NULL)
		est_fail(e, EST_ERR_CONFIG, "end entity %s names profile %s, which estd.conf lacks",
		    res->ee->username, res->ee->profile);
	return pc != NULL ? &pc->profile : NULL;
}

/* Record the certificate, spending a use of the end entity's code with it. */
static enum est_err
record(struct est_req *r, struct est_cert_rec *rec, const struct authn_result *res,
    struct est_error *e)
{
	if (res == NULL)
		return est_store_put_cert(r->worker->store, rec, e);
	rec->ee_id = res->ee_id;
	if (res->spend && res->ee != NULL)
		return est_store_put_cert_consume(r->worker->store, rec, res->ee->code_hash,
		    (int64_t)time(NULL), e);
	return est_store_put_cert(r->worker->store, rec, e);
}

/* Sign and record; retries once when the random serial is already taken. */
enum est_err
issue_cert(struct est_req *r, const struct est_issue_req *req, const struct authn_result *res,
    X509 **out, struct est_error *e)
{
	const struct est_profile *profile = profile_for(r, res, e);
	struct est_cert_rec *rec = NULL;
	X509 *cert = NULL;
	enum est_err rc = EST_ERR_INTERNAL;

	if (profile == NULL)
		return EST_ERR_CONFIG;
	for (int attempt = 0; attempt < 2; attempt++) {
		X509_free(cert);
		cert = NULL;
		est_cert_rec_free(rec);
		rec = NULL;
		if ((rc = est_ca_issue(r->alias->ca, profile, req, &cert, e)) != EST_OK)
			break;
		rc = est_cert_rec_from_x509(cert, r->principal, r->alias->conf->name, &rec, e);
		if (rc != EST_OK)
			break;
		rc = record(r, rec, res, e);
		if (rc != EST_ERR_EXISTS)
			break;
	}
	if (rc == EST_OK) {
		log_info("issued serial=%s subject=\"%s\" alias=%s principal=%s", rec->serial,
		    rec->subject, r->alias->conf->name, r->principal);
		*out = cert;
		cert = NULL;
	}
	X509_free(cert);
	est_cert_rec_free(rec);
	return rc;
}

enum est_err
encode_certs_only(X509 *cert, char **b64, size_t *b64len, struct est_error *e)
{
	STACK_OF(X509) *one;
	unsigned char *der = NULL;
	size_t derlen;
	enum est_err rc;

	one = sk_X509_new_null();
	if (one == NULL || sk_X509_push(one, cert) <= 0) {
		sk_X509_free(one);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	rc = est_certs_only_encode(one, &der, &derlen, e);
	sk_X509_free(one);
	if (rc != EST_OK)
		return rc;
	rc = est_b64_encode(der, derlen, true, b64, b64len, e);
	OPENSSL_free(der);
	return rc;
}

/* An enrolment whose records are with the grouped writer. */
struct pending_issue {
	struct est_worker *worker;
	struct est_req *req;            /* deferred (http_defer) */
	struct est_write write;
	struct est_cert_rec *rec;
	char *code_hash;                /* the end entity's, to spend; NULL for none */
	char *body;                     /* the certs-only answer */
	size_t len;
	int64_t ticket;                 /* the approval claimed, 0 for none */
	struct event *ev;               /* run in the worker's loop when written */
	TAILQ_ENTRY(pending_issue) link; /* in worker->pending */
};

static void
pending_free(struct pending_issue *p)
{
	TAILQ_REMOVE(&p->worker->pending, p, link);
	if (p->ev != NULL)
		event_free(p->ev);
	est_cert_rec_free(p->rec);
	free(p->code_hash);
	free(p->body);
	http_deferred_free(p->req);
	free(p);
}

/* The writer's thread: hand the outcome to the worker's loop. */
static void
written(struct est_write *w)
{
	struct pending_issue *p = w->arg;

	event_active(p->ev, EV_TIMEOUT, 1);
}

/* The worker's loop: the records are durable (or failed); answer. */
static void
answer(evutil_socket_t fd, short what, void *arg)
{
	struct pending_issue *p = arg;
	struct est_req *r = p->req;

	(void)fd;
	(void)what;
	if (p->write.rc == EST_OK) {
		log_info("issued serial=%s subject=\"%s\" alias=%s principal=%s", p->rec->serial,
		    p->rec->subject, r->alias->conf->name, r->principal);
		http_add_header(r, "Content-Transfer-Encoding", "base64");
		http_reply(r, 200, ENROLL_TYPE, p->body, p->len);
	} else {
		approval_release(r, p->ticket);
		http_fail(r, &p->write.err);
	}
	pending_free(p);
}

void
reply_cert_drop_pending(struct est_worker *w)
{
	struct pending_issue *p;

	while ((p = TAILQ_FIRST(&w->pending)) != NULL) {
		/* Shutting down: the connection serves nothing more. */
		if (p->req != NULL && p->req->conn != NULL) {
			p->req->conn->deferred = NULL;
			p->req->conn = NULL;
		}
		pending_free(p);
	}
}

/* Sign, encode, and queue the records; p then answers. */
static enum est_err
issue_deferred(struct est_req *r, const struct est_issue_req *req,
    const struct authn_result *res, struct pending_issue *p, struct est_error *e)
{
	const struct est_profile *profile = profile_for(r, res, e);
	struct est_issue_req bytes = *req;
	X509 *cert = NULL;
	enum est_err rc;

	if (profile == NULL)
		return EST_ERR_CONFIG;
	/* The certificate is only encoded and stored: no need to decode its key. */
	bytes.spki_bytes = true;
	if ((rc = est_ca_issue(r->alias->ca, profile, &bytes, &cert, e)) != EST_OK ||
	    (rc = est_cert_rec_from_x509(cert, r->principal, r->alias->conf->name, &p->rec, e)) != EST_OK ||
	    (rc = encode_certs_only(cert, &p->body, &p->len, e)) != EST_OK) {
		X509_free(cert);
		return rc;
	}
	X509_free(cert);
	if (res != NULL) {
		p->rec->ee_id = res->ee_id;
		if (res->spend && res->ee != NULL && (p->code_hash = strdup(res->ee->code_hash)) == NULL)
			return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	p->ev = event_new(r->worker->base, -1, 0, answer, p);
	if (p->ev == NULL || (p->req = http_defer(r)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	p->write = (struct est_write){ .rec = p->rec, .code_hash = p->code_hash,
	    .now = (int64_t)time(NULL), .done = written, .arg = p };
	est_store_writer_submit(r->worker->srv->writer, &p->write);
	return EST_OK;
}

void
issue_and_reply(struct est_req *r, const struct est_issue_req *req, const struct authn_result *res)
{
	struct est_error e = { 0 };
	struct pending_issue *p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		est_fail(&e, EST_ERR_NOMEM, "out of memory");
		http_fail(r, &e);
		return;
	}
	p->worker = r->worker;
	TAILQ_INSERT_TAIL(&r->worker->pending, p, link);
	if (approval_admit(r, req, &p->ticket, &e) != EST_OK ||
	    issue_deferred(r, req, res, p, &e) != EST_OK) {
		approval_release(r, p->ticket);
		if (p->req == NULL)
			http_fail(r, &e);
		else
			http_fail(p->req, &e);
		pending_free(p);
	}
}
