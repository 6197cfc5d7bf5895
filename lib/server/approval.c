/*
 * Manual approval (approval = manual; RFC 7030 §4.2.3): the gate every
 * enrolment passes before a key is made or a certificate signed.
 *
 * A request is known by what it would certify -- alias, operation, the
 * CSR's public key, subject and SAN -- never by the CSR's bytes, because a
 * client that reconnects must rebuild its CSR (new challengePassword) and
 * is still the same request (EST-S-44). An approval is good for one
 * certificate: the gate claims it (approved -> issued) before issuing, and
 * approval_release gives it back if the enrolment then fails.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#include "estkit/codec.h"
#include "estkit/log.h"
#include "server/server_int.h"

void
approval_release(struct est_req *r, int64_t ticket)
{
	struct est_error e = { 0 };

	if (ticket == 0)
		return;
	if (est_store_set_request_state(r->worker->store, ticket, EST_REQ_ISSUED, EST_REQ_APPROVED,
	    (int64_t)time(NULL), &e) != EST_OK)
		log_error("request %" PRId64 ": cannot give the approval back: %s", ticket, e.msg);
}

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

/* Take the one certificate an approval is good for. */
static enum est_err
claim(struct est_req *r, int64_t id, int64_t *ticket, struct est_error *e)
{
	enum est_err rc = est_store_set_request_state(r->worker->store, id, EST_REQ_APPROVED,
	    EST_REQ_ISSUED, (int64_t)time(NULL), e);

	if (rc == EST_OK)
		*ticket = id;
	return rc;
}

/* What the held request's state means for this attempt. */
static enum est_err
decide(struct est_req *r, const struct est_req_rec *held, int64_t *ticket, struct est_error *e)
{
	switch (held->state) {
	case EST_REQ_PENDING:
		return est_fail(e, EST_ERR_PENDING, "request %" PRId64 " is waiting for an "
		    "administrator's approval; retry after %u seconds", held->id,
		    r->alias->conf->retry_after ? r->alias->conf->retry_after : EST_DEFAULT_RETRY_AFTER);
	case EST_REQ_REJECTED:
		return est_fail(e, EST_ERR_FORBIDDEN, "request %" PRId64 " was rejected by an "
		    "administrator", held->id);
	case EST_REQ_APPROVED:
		return claim(r, held->id, ticket, e);
	case EST_REQ_ISSUED:
	case EST_REQ_STATE__MAX:
		break;
	}
	return est_fail(e, EST_ERR_INTERNAL, "request %" PRId64 " is in an unexpected state",
	    held->id);
}

/* Hold the request and act on its state; *was_approved says a claim was tried. */
static enum est_err
hold_and_decide(struct est_req *r, const struct est_req_rec *k, int64_t *ticket,
    bool *was_approved, struct est_error *e)
{
	struct est_req_rec *held = NULL;
	enum est_err rc;

	if ((rc = est_store_hold_request(r->worker->store, k, &held, e)) != EST_OK)
		return rc;
	*was_approved = held->state == EST_REQ_APPROVED;
	rc = decide(r, held, ticket, e);
	est_req_rec_free(held);
	return rc;
}

enum est_err
approval_admit(struct est_req *r, const struct policy_decision *d, X509_REQ *csr,
    int64_t *ticket, struct est_error *e)
{
	struct est_req_rec k = { .alias = (char *)r->alias->conf->name, .operation = (char *)r->op,
	    .principal = r->principal };
	bool was_approved = false;
	enum est_err rc;

	*ticket = 0;
	if (r->alias->conf->approval != EST_APPROVAL_MANUAL)
		return EST_OK;
	rc = request_key(d, csr, &k, e);
	if (rc == EST_OK)
		rc = hold_and_decide(r, &k, ticket, &was_approved, e);
	/* Another server claimed that approval a moment ago: this is a new request. */
	if (rc == EST_ERR_FORBIDDEN && was_approved)
		rc = hold_and_decide(r, &k, ticket, &was_approved, e);
	if (rc == EST_OK && *ticket != 0)
		log_info("request %" PRId64 " approved: issuing for %s", *ticket, k.subject);
	free(k.subject);
	free(k.san);
	return rc;
}
