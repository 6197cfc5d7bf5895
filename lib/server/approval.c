/*
 * Manual approval (approval = manual; RFC 7030 §4.2.3): the gate every
 * enrolment passes before a key is made or a certificate signed.
 *
 * A request is known by what it would certify -- alias, operation, the
 * CSR's public key, subject and SAN -- never by the CSR's bytes, because a
 * client that reconnects must rebuild its CSR (new challengePassword) and
 * is still the same request (EST-S-44). That key holds nothing secret and
 * /serverkeygen has no proof of possession, so a request is answered only
 * for the principal who made it: anyone else who sent its key would get
 * its certificate and the private key the server makes. An approval is
 * good for one certificate: the gate only finds it; it is claimed
 * (approved -> issued) in the transaction that records the certificate
 * (est_issue_record), so an enrolment that fails leaves it approved, and
 * of two enrolments at once only one gets it.
 *
 * The gate only reads the store. A request seen for the first time is held
 * (recorded as pending) through the grouped writer, like a certificate:
 * the client's request is deferred and answered 202 once the record is
 * durable, so no event loop waits for the disk.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "estkit/codec.h"
#include "estkit/log.h"
#include "server/server_int.h"

/*
 * The request's key as the store knows it: the CSR's public key and the
 * names the policy decided, which are what is issued once approved.
 * Strings in k are malloc'd.
 */
static enum est_err
request_key(const struct policy_decision *d, X509_REQ *csr, struct est_req_rec *k,
    struct est_error *e)
{
	EVP_PKEY *key = X509_REQ_get0_pubkey(csr);
	enum est_err rc;

	if (key == NULL)
		return est_fail_ssl(e, EST_ERR_BADREQ, "the CSR's public key cannot be read; it "
		    "identifies the request while it waits for approval");
	if ((rc = est_spki_sha256(key, k->spki_sha256, e)) != EST_OK)
		return rc;
	k->subject = est_name_text(d->subject);
	k->san = est_san_text(d->san);
	if (k->subject == NULL || k->san == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	return EST_OK;
}

/*
 * Whether r's principal made the held request. The store keeps one open
 * request per key, so a second principal's attempt finds the first one's.
 */
static bool
asked_by(const struct est_req *r, const struct est_req_rec *held)
{
	return held->principal != NULL && policy_same_principal(held->principal, r->principal);
}

/* What the held request's state means for this attempt. */
static enum est_err
decide(struct est_req *r, const struct est_req_rec *held, int64_t *ticket, struct est_error *e)
{
	/* Before the state: no 202 tells another principal the request is his to wait for. */
	if (!asked_by(r, held))
		return est_fail(e, EST_ERR_FORBIDDEN, "request %" PRId64 " for this key and these "
		    "names was made by another principal; an approval is good only for whoever "
		    "asked", held->id);
	switch (held->state) {
	case EST_REQ_PENDING:
		return est_fail(e, EST_ERR_PENDING, "request %" PRId64 " is waiting for an "
		    "administrator's approval; retry after %u seconds", held->id,
		    r->alias->conf->retry_after ? r->alias->conf->retry_after : EST_DEFAULT_RETRY_AFTER);
	case EST_REQ_REJECTED:
		return est_fail(e, EST_ERR_FORBIDDEN, "request %" PRId64 " was rejected by an "
		    "administrator", held->id);
	case EST_REQ_APPROVED:
		*ticket = held->id;
		return EST_OK;
	case EST_REQ_ISSUED:
	case EST_REQ_STATE__MAX:
		break;
	}
	return est_fail(e, EST_ERR_INTERNAL, "request %" PRId64 " is in an unexpected state",
	    held->id);
}

/* A new request being held through the grouped writer. */
struct pending_hold {
	struct est_worker *worker;
	struct est_req *req;            /* deferred (http_defer) */
	struct est_req_rec key;         /* subject and san owned; the rest borrowed from
	                                 * the request and the configuration */
	struct est_write write;
	struct event *ev;               /* run in the worker's loop when written */
	TAILQ_ENTRY(pending_hold) link; /* in worker->holds */
};

static void
hold_free(struct pending_hold *h)
{
	TAILQ_REMOVE(&h->worker->holds, h, link);
	if (h->ev != NULL)
		event_free(h->ev);
	free(h->key.subject);
	free(h->key.san);
	est_req_rec_free(h->write.held);
	free(h);
}

/* The writer's thread: hand the outcome to the worker's loop. */
static void
hold_written(struct est_write *w)
{
	struct pending_hold *h = w->arg;

	event_active(h->ev, EV_TIMEOUT, 1);
}

/* The worker's loop: the request is on record (or not); answer. */
static void
hold_answer(evutil_socket_t fd, short what, void *arg)
{
	struct pending_hold *h = arg;
	struct est_req *r = h->req;
	struct est_error e = h->write.err;
	int64_t ticket = 0;

	(void)fd;
	(void)what;
	if (h->write.rc == EST_OK && decide(r, h->write.held, &ticket, &e) == EST_OK)
		/* Approved in the moment it took (another attempt found it first): come again. */
		est_fail(&e, EST_ERR_PENDING, "request %" PRId64 " is approved; ask again for its "
		    "certificate", ticket);
	if (h->write.rc == EST_OK && h->write.held->state == EST_REQ_PENDING &&
	    asked_by(r, h->write.held))
		log_info("request %" PRId64 " held for approval: %s", h->write.held->id,
		    h->key.subject);
	http_fail(r, &e);
	hold_free(h);
	http_complete(r);
}

/*
 * Hold k, a request not on record yet, through the grouped writer and
 * answer r from its outcome: EST_ERR_PENDING with r deferred, or an error
 * to answer now. Takes k's subject and san.
 */
static enum est_err
hold_later(struct est_req *r, struct est_req_rec *k, struct est_error *e)
{
	struct pending_hold *h;

	if (r->worker->srv->writer == NULL)
		return est_fail(e, EST_ERR_UNAVAILABLE, "the store writer is not running");
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	h->worker = r->worker;
	TAILQ_INSERT_TAIL(&r->worker->holds, h, link);
	h->key = *k;
	k->subject = k->san = NULL;
	if ((h->ev = event_new(r->worker->base, -1, 0, hold_answer, h)) == NULL) {
		hold_free(h);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	h->req = r;
	h->write = (struct est_write){ .hold = &h->key, .done = hold_written, .arg = h };
	http_defer(r);
	est_store_writer_submit(r->worker->srv->writer, &h->write);
	return est_fail(e, EST_ERR_PENDING, "held for approval");
}

void
approval_drop_pending(struct est_worker *w)
{
	struct pending_hold *h;

	while ((h = TAILQ_FIRST(&w->holds)) != NULL) {
		struct est_req *r = h->req;

		/* Shutting down: its connection is closed (r detached), no answer goes out. */
		hold_free(h);
		if (r->from_conn)
			http_req_free(r);
	}
}

enum est_err
approval_admit(struct est_req *r, const struct policy_decision *d, X509_REQ *csr,
    int64_t *ticket, struct est_error *e)
{
	struct est_req_rec k = { .alias = (char *)r->alias->conf->name, .operation = (char *)r->op,
	    .principal = r->principal };
	struct est_req_rec *held = NULL;
	enum est_err rc;

	*ticket = 0;
	if (r->alias->conf->approval != EST_APPROVAL_MANUAL)
		return EST_OK;
	rc = request_key(d, csr, &k, e);
	if (rc == EST_OK)
		rc = est_store_find_request(r->worker->store, &k, &held, e);
	if (rc == EST_OK && held != NULL)
		rc = decide(r, held, ticket, e);
	else if (rc == EST_OK)
		rc = hold_later(r, &k, e);
	est_req_rec_free(held);
	if (rc == EST_OK && *ticket != 0)
		log_info("request %" PRId64 " approved: issuing for %s", *ticket, k.subject);
	free(k.subject);
	free(k.san);
	return rc;
}
