/*
 * The common end of every enrolment: sign, record, answer.
 *
 * The certificate is committed to the store before a byte of it goes to
 * the client; if recording fails the client gets the error and no
 * certificate. What is issued is the policy's decision, unchanged. Claiming
 * the approval, spending a use of an end entity's enrolment code, revoking
 * the certificate a renewal replaces and the end entity's limit of valid
 * certificates are part of the same commit: if the code was spent meanwhile
 * (a concurrent request), the client gets the 401 of any failed
 * authentication; if another enrolment used the approval, a 202. A serial
 * number already taken is drawn again, once.
 *
 * Recording goes through the server's grouped writer: the request is
 * deferred (http_defer), the record queued, and the answer written from the
 * worker's loop once the writer reports the group durable (an event made
 * active from the writer's thread), so no event loop waits for fsync. The
 * audit entry goes with the record and is written by the writer's thread,
 * after the commit and before the report (audit_trail.c): a certificate
 * whose entry cannot be written is reported failed, stored but not sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "estkit/codec.h"
#include "estkit/log.h"
#include "server/server_int.h"

#define ENROLL_TYPE "application/pkcs7-mime; smime-type=certs-only"

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

/* An enrolment whose record is with the grouped writer. */
struct pending_issue {
	struct est_worker *worker;
	struct est_req *req;            /* deferred (http_defer) */
	struct policy_decision d;       /* what is issued (taken from the handler) */
	X509_REQ *csr;                  /* its CSR (owned), NULL: certify d.pubkey */
	struct issue_answer answer;     /* how to answer; its arg is owned */
	char *code_hash;                /* the end entity's, to spend; NULL for none */
	struct est_issue_record how;    /* borrows code_hash and d's strings */
	struct est_write write;
	struct audit_note note;         /* its audit entry, written with its group */
	X509 *cert;                     /* the certificate being recorded */
	struct est_cert_rec *rec;       /* ... and its record */
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
	if (p->answer.free_arg != NULL)
		p->answer.free_arg(p->answer.arg);
	policy_decision_clear(&p->d);
	X509_REQ_free(p->csr);
	free(p->code_hash);
	X509_free(p->cert);
	est_cert_rec_free(p->rec);
	free(p);
}

/* The writer's thread: hand the outcome to the worker's loop. */
static void
written(struct est_write *w)
{
	struct pending_issue *p = w->arg;

	event_active(p->ev, EV_TIMEOUT, 1);
}

/* Sign (with a fresh serial) and queue the record; p answers when it is written. */
static enum est_err
sign_and_submit(struct est_req *r, struct pending_issue *p, struct est_error *e)
{
	/* With the CSR its key's bytes go into the certificate as they are: no key encode/decode. */
	struct est_issue_req req = { .csr = p->csr, .subject = p->d.subject, .san = p->d.san,
	    .pubkey = p->csr == NULL ? p->d.pubkey : NULL, .spki_bytes = p->csr != NULL };
	enum est_err rc;

	X509_free(p->cert);
	p->cert = NULL;
	est_cert_rec_free(p->rec);
	p->rec = NULL;
	p->attempts++;
	if ((rc = est_ca_issue(rollover_issuer(r->alias, time(NULL)), p->d.profile, &req, &p->cert,
	    e)) != EST_OK ||
	    (rc = est_cert_rec_from_x509(p->cert, r->principal, r->alias->conf->name, &p->rec,
	    e)) != EST_OK)
		return rc;
	p->rec->ee_id = p->d.ee_id;
	p->how.now = (int64_t)time(NULL);
	p->write = (struct est_write){ .rec = p->rec, .how = &p->how, .done = written, .arg = p };
	if (r->worker->srv->audit != NULL) {
		audit_trail_note(r, &p->d, p->rec, p->code_hash != NULL, &p->note);
		p->write.durable_arg = &p->note;
	}
	est_store_writer_submit(r->worker->srv->writer, &p->write);
	return EST_OK;
}

/* The worker's loop: the record is durable (or failed); answer. */
static void
answer(evutil_socket_t fd, short what, void *arg)
{
	struct pending_issue *p = arg;
	struct est_req *r = p->req;
	struct est_error e = { 0 };
	enum est_err rc = p->write.rc;
	char old[EST_SERIAL_SHOWN_MAX];

	(void)fd;
	(void)what;
	/* A serial taken meanwhile: draw another, once. */
	if (rc == EST_ERR_EXISTS && p->attempts < 2) {
		log_info("serial %s of alias %s is taken; drawing another",
		    est_serial_shown(p->rec->serial, old, sizeof(old)), r->alias->conf->name);
		if ((rc = sign_and_submit(r, p, &e)) == EST_OK)
			return;
	} else if (rc != EST_OK) {
		e = p->write.err;
	}
	if (rc == EST_OK) {
		est_serial_shown(p->rec->serial, r->serial, sizeof(r->serial));
		log_info("issued serial=%s subject=\"%s\" alias=%s principal=%s%s%s", r->serial,
		    p->rec->subject, r->alias->conf->name, r->principal,
		    p->how.replaces_serial != NULL ? " revoked-replaced=" : "",
		    p->how.replaces_serial != NULL ?
		    est_serial_shown(p->how.replaces_serial, old, sizeof(old)) : "");
	}
	if (rc == EST_OK)
		rc = p->answer.reply(r, p->cert, p->answer.arg, &e);
	if (rc == EST_ERR_AUTH)
		authn_add_challenges(r);
	if (rc != EST_OK)
		http_fail(r, &e);
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

/* Take over the decision, the CSR, the code to spend and the answer's arg. */
static enum est_err
pending_new(struct est_req *r, struct policy_decision *d, X509_REQ **csr, int64_t ticket,
    const struct issue_answer *a, struct pending_issue **out, struct est_error *e)
{
	struct pending_issue *p = calloc(1, sizeof(*p));
	bool oom;

	if (p == NULL) {
		if (a->free_arg != NULL)
			a->free_arg(a->arg);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	p->worker = r->worker;
	TAILQ_INSERT_TAIL(&r->worker->pending, p, link);
	p->answer = *a;
	p->d = *d;
	memset(d, 0, sizeof(*d));
	if (csr != NULL) {
		p->csr = *csr;
		*csr = NULL;
	}
	/* Borrowed from the end entity of the authentication, which goes with the handler. */
	oom = p->d.spend_code != NULL && (p->code_hash = strdup(p->d.spend_code)) == NULL;
	p->d.spend_code = NULL;
	p->how = (struct est_issue_record){ .code_hash = p->code_hash,
	    .replaces_issuer = p->d.replaces_issuer, .replaces_serial = p->d.replaces_serial,
	    .max_active = p->d.max_active, .approval_id = ticket };
	p->ev = event_new(r->worker->base, -1, 0, answer, p);
	if (oom || p->ev == NULL) {
		pending_free(p);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	*out = p;
	return EST_OK;
}

void
issue_and_answer(struct est_req *r, struct policy_decision *d, X509_REQ **csr, int64_t ticket,
    const struct issue_answer *a)
{
	struct est_error e = { 0 };
	struct pending_issue *p = NULL;

	if (r->worker->srv->writer == NULL) {
		if (a->free_arg != NULL)
			a->free_arg(a->arg);
		est_fail(&e, EST_ERR_UNAVAILABLE, "the store writer is not running");
		http_fail(r, &e);
		return;
	}
	if (pending_new(r, d, csr, ticket, a, &p, &e) != EST_OK) {
		http_fail(r, &e);
		return;
	}
	p->req = r;
	/* Deferred before it is queued: the answer comes in a later turn of this loop. */
	http_defer(r);
	if (sign_and_submit(r, p, &e) != EST_OK) {
		/* Answered now: serve() sees it and goes on at once. */
		http_fail(r, &e);
		pending_free(p);
	}
}

static enum est_err
reply_certs_only(struct est_req *r, X509 *cert, void *arg, struct est_error *e)
{
	char *body = NULL;
	size_t len;
	enum est_err rc;

	(void)arg;
	if ((rc = encode_certs_only(cert, &body, &len, e)) != EST_OK)
		return rc;
	http_add_header(r, "Content-Transfer-Encoding", "base64");
	http_reply(r, 200, ENROLL_TYPE, body, len);
	free(body);
	return EST_OK;
}

void
issue_and_reply(struct est_req *r, struct policy_decision *d, X509_REQ **csr)
{
	static const struct issue_answer certs_only = { .reply = reply_certs_only };
	struct est_error e = { 0 };
	int64_t ticket = 0;

	if (approval_admit(r, d, *csr, &ticket, &e) != EST_OK) {
		/* A new request is answered once it is on record. */
		if (!r->deferred)
			http_fail(r, &e);
		return;
	}
	issue_and_answer(r, d, csr, ticket, &certs_only);
}
