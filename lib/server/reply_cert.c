/*
 * The common end of every enrolment: sign, record, answer.
 *
 * The certificate is committed to the store before a byte of it goes to
 * the client; if recording fails the client gets 500 and no certificate.
 * What is issued is the policy's decision, unchanged. For an end entity,
 * spending a use of its enrolment code, revoking the certificate a renewal
 * replaces and its limit of valid certificates are part of the same
 * commit: if the code was spent meanwhile (a concurrent request), the
 * client gets the 401 of any failed authentication and no certificate. A
 * serial number already taken is drawn again, once. An approval claimed by
 * the gate is given back when the enrolment fails, so the client's retry
 * can still use it.
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

/* Sign and record; retries once when the random serial is already taken. */
enum est_err
issue_cert(struct est_req *r, const struct policy_decision *d, X509 **out, struct est_error *e)
{
	struct est_issue_req req = { .subject = d->subject, .san = d->san, .pubkey = d->pubkey };
	struct est_issue_record how = { .code_hash = d->spend_code,
	    .replaces_issuer = d->replaces_issuer, .replaces_serial = d->replaces_serial,
	    .max_active = d->max_active, .now = (int64_t)time(NULL) };
	struct est_cert_rec *rec = NULL;
	X509 *cert = NULL;
	enum est_err rc = EST_ERR_INTERNAL;

	for (int attempt = 0; attempt < 2; attempt++) {
		X509_free(cert);
		cert = NULL;
		est_cert_rec_free(rec);
		rec = NULL;
		if ((rc = est_ca_issue(r->alias->ca, d->profile, &req, &cert, e)) != EST_OK)
			break;
		rc = est_cert_rec_from_x509(cert, r->principal, r->alias->conf->name, &rec, e);
		if (rc != EST_OK)
			break;
		rec->ee_id = d->ee_id;
		rc = est_store_put_issued(r->worker->store, rec, &how, e);
		if (rc != EST_ERR_EXISTS)
			break;
	}
	if (rc == EST_OK) {
		log_info("issued serial=%s subject=\"%s\" alias=%s principal=%s%s%s", rec->serial,
		    rec->subject, r->alias->conf->name, r->principal,
		    d->replaces_serial != NULL ? " revoked-replaced=" : "",
		    d->replaces_serial != NULL ? d->replaces_serial : "");
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
	struct policy_decision d;       /* what is issued (moved from the handler's) */
	X509_REQ *csr;                  /* its CSR (owned): the key's bytes */
	char *code_hash;                /* the end entity's, to spend; NULL for none */
	struct est_issue_record how;    /* borrows code_hash and d's strings */
	struct est_write write;
	struct est_cert_rec *rec;
	char *body;                     /* the certs-only answer */
	size_t len;
	int64_t ticket;                 /* the approval claimed, 0 for none */
	int attempts;                   /* signatures made (a taken serial: twice) */
	struct event *ev;               /* run in the worker's loop when written */
	TAILQ_ENTRY(pending_issue) link; /* in worker->pending */
};

static void
pending_free(struct pending_issue *p)
{
	TAILQ_REMOVE(&p->worker->pending, p, link);
	if (p->ev != NULL)
		event_free(p->ev);
	policy_decision_clear(&p->d);
	X509_REQ_free(p->csr);
	free(p->code_hash);
	est_cert_rec_free(p->rec);
	free(p->body);
	free(p);
}

/* The writer's thread: hand the outcome to the worker's loop. */
static void
written(struct est_write *w)
{
	struct pending_issue *p = w->arg;

	event_active(p->ev, EV_TIMEOUT, 1);
}

/* Sign (with a fresh serial), encode, and queue the records; p answers when written. */
static enum est_err
sign_and_submit(struct est_req *r, struct pending_issue *p, struct est_error *e)
{
	/* The CSR's key bytes go into the certificate as they are: no key encode/decode. */
	struct est_issue_req req = { .csr = p->csr, .subject = p->d.subject, .san = p->d.san,
	    .spki_bytes = true };
	X509 *cert = NULL;
	enum est_err rc;

	est_cert_rec_free(p->rec);
	p->rec = NULL;
	free(p->body);
	p->body = NULL;
	p->attempts++;
	if ((rc = est_ca_issue(r->alias->ca, p->d.profile, &req, &cert, e)) != EST_OK ||
	    (rc = est_cert_rec_from_x509(cert, r->principal, r->alias->conf->name, &p->rec,
	    e)) != EST_OK ||
	    (rc = encode_certs_only(cert, &p->body, &p->len, e)) != EST_OK) {
		X509_free(cert);
		return rc;
	}
	X509_free(cert);
	p->rec->ee_id = p->d.ee_id;
	p->how.now = (int64_t)time(NULL);
	p->write = (struct est_write){ .rec = p->rec, .how = &p->how, .done = written, .arg = p };
	est_store_writer_submit(r->worker->srv->writer, &p->write);
	return EST_OK;
}

/* The worker's loop: the records are durable (or failed); answer. */
static void
answer(evutil_socket_t fd, short what, void *arg)
{
	struct pending_issue *p = arg;
	struct est_req *r = p->req;
	struct est_error e = { 0 };

	(void)fd;
	(void)what;
	/* A serial taken meanwhile: draw another, once (as issue_cert does). */
	if (p->write.rc == EST_ERR_EXISTS && p->attempts < 2) {
		if (sign_and_submit(r, p, &e) == EST_OK)
			return;
		p->write.rc = e.code;
		p->write.err = e;
	}
	if (p->write.rc == EST_OK) {
		log_info("issued serial=%s subject=\"%s\" alias=%s principal=%s%s%s", p->rec->serial,
		    p->rec->subject, r->alias->conf->name, r->principal,
		    p->how.replaces_serial != NULL ? " revoked-replaced=" : "",
		    p->how.replaces_serial != NULL ? p->how.replaces_serial : "");
		http_add_header(r, "Content-Transfer-Encoding", "base64");
		http_reply(r, 200, ENROLL_TYPE, p->body, p->len);
	} else {
		approval_release(r, p->ticket);
		http_fail(r, &p->write.err);
	}
	pending_free(p);
	http_complete(r);
}

void
reply_cert_drop_pending(struct est_worker *w)
{
	struct pending_issue *p;

	while ((p = TAILQ_FIRST(&w->pending)) != NULL) {
		struct est_req *r = p->req;

		/* Shutting down: its connection is closed (r detached), no answer goes out. */
		pending_free(p);
		if (r != NULL && r->from_conn)
			http_req_free(r);
	}
}

/* Take over the decision, the CSR and the code to spend from the handler. */
static enum est_err
pending_new(struct est_req *r, struct policy_decision *d, X509_REQ **csr,
    struct pending_issue **out, struct est_error *e)
{
	struct pending_issue *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	p->worker = r->worker;
	TAILQ_INSERT_TAIL(&r->worker->pending, p, link);
	p->d = *d;
	memset(d, 0, sizeof(*d));
	p->csr = *csr;
	*csr = NULL;
	if (p->d.spend_code != NULL && (p->code_hash = strdup(p->d.spend_code)) == NULL) {
		pending_free(p);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	p->d.spend_code = NULL;
	p->how = (struct est_issue_record){ .code_hash = p->code_hash,
	    .replaces_issuer = p->d.replaces_issuer, .replaces_serial = p->d.replaces_serial,
	    .max_active = p->d.max_active };
	p->ev = event_new(r->worker->base, -1, 0, answer, p);
	if (p->ev == NULL) {
		pending_free(p);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	*out = p;
	return EST_OK;
}

void
issue_and_reply(struct est_req *r, struct policy_decision *d, X509_REQ **csr)
{
	struct est_error e = { 0 };
	struct pending_issue *p = NULL;
	int64_t ticket = 0;

	if (r->worker->srv->writer == NULL) {
		est_fail(&e, EST_ERR_UNAVAILABLE, "the store writer is not running");
		http_fail(r, &e);
		return;
	}
	if (approval_admit(r, d, *csr, &ticket, &e) != EST_OK ||
	    pending_new(r, d, csr, &p, &e) != EST_OK) {
		approval_release(r, ticket);
		http_fail(r, &e);
		return;
	}
	p->ticket = ticket;
	p->req = r;
	/* Deferred first: the answer may come from this very thread's next loop turn. */
	http_defer(r);
	if (sign_and_submit(r, p, &e) != EST_OK) {
		approval_release(r, ticket);
		http_fail(r, &e);
		pending_free(p);
		/* serve() sees the answer and goes on synchronously. */
	}
}
