/*
 * The OCSP responder (RFC 6960): POST <ocsp-path> with an
 * application/ocsp-request body, or GET <ocsp-path>/<base64 request>
 * (appendix A.1), on every listener.
 *
 * Every answer to a request we could read is an OCSP response with HTTP
 * 200, as OCSP clients expect: malformedRequest for input that is not a
 * request, unauthorized when it names none of our CAs, internalError when
 * the store fails. Status comes from the store on each request, so a
 * revocation shows at once: a certificate on record is good or revoked
 * (with time and reason), any other serial is unknown. The signed answer
 * is kept for reuse and new signatures are budgeted (ocsp_cache.c); the
 * key it is kept under holds the statuses just read, so the store still
 * decides every answer.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "estkit/codec.h"
#include "estkit/log.h"
#include "server/server_int.h"

#define OCSP_RESPONSE_TYPE "application/ocsp-response"

/* How long a signed answer is sent again, at most: its thisUpdate ages. */
#define OCSP_REUSE_SECS 60

/* The path after "<ocsp-path>", "" or "/..." when it is the responder's. */
static const char *
ocsp_tail(struct est_req *r)
{
	const char *prefix = r->worker->srv->cfg->ocsp_path;
	size_t n = strlen(prefix);

	if (strncmp(r->head->path, prefix, n) != 0 ||
	    (r->head->path[n] != '\0' && r->head->path[n] != '/'))
		return NULL;
	return r->head->path + n;
}

bool
ocsp_claims(struct est_req *r)
{
	if (ocsp_tail(r) == NULL)
		return false;
	r->op = "ocsp";
	return true;
}

static void
reply_der(struct est_req *r, unsigned char *der, size_t len)
{
	http_reply(r, 200, OCSP_RESPONSE_TYPE, der, len);
	free(der);
}

/* Answer with a bare OCSP status (malformedRequest, ...), logging why. */
static void
reply_error(struct est_req *r, enum est_ocsp_error status, const char *why)
{
	static struct log_limit limit;
	struct est_error e = { 0 };
	unsigned char *der = NULL;
	unsigned dropped;
	size_t len = 0;

	/* Answered 200, so the access log's limits on refusals do not hold these back. */
	if (log_limit_pass(&limit, &dropped))
		log_info("peer=%s op=ocsp answered OCSP status %d: %s (%u more like it not logged)",
		    r->peer, (int)status, why, dropped);
	if (est_ocsp_error_response(status, &der, &len, &e) != EST_OK) {
		http_fail(r, &e);
		return;
	}
	reply_der(r, der, len);
}

/* The request, from the body of a POST or the path of a GET. */
static enum est_err
read_request(struct est_req *r, struct est_ocsp_request **req, struct est_error *e)
{
	const char *m = http_method(r), *tail = ocsp_tail(r);
	const unsigned char *body;
	size_t len;

	if (strcmp(m, "POST") == 0) {
		if (tail[0] != '\0' && strcmp(tail, "/") != 0)
			return est_fail(e, EST_ERR_NOTFOUND, "OCSP requests are POSTed to %s",
			    r->worker->srv->cfg->ocsp_path);
		body = http_body(r, &len);
		return est_ocsp_request_parse(body, len, req, e);
	}
	if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
		return est_ocsp_request_from_path(tail[0] == '/' ? tail + 1 : tail, req, e);
	http_add_header(r, "Allow", "GET, HEAD, POST");
	return est_fail(e, EST_ERR_METHOD, "OCSP takes GET or POST");
}

/* One CertID's status: from the store when ca issued it, unknown otherwise. */
static enum est_err
lookup(struct est_req *r, const char *issuer, const char *serial,
    struct est_ocsp_status *st, struct est_error *e)
{
	struct est_cert_rec *rec = NULL;
	enum est_err rc;

	st->status = EST_OCSP_UNKNOWN;
	rc = est_store_get_cert(r->worker->store, issuer, serial, &rec, e);
	if (rc == EST_ERR_NOTFOUND)
		return EST_OK;
	if (rc != EST_OK)
		return rc;
	if (rec->status == EST_CERT_REVOKED) {
		st->status = EST_OCSP_REVOKED;
		st->revoked_at = rec->revoked_at;
		st->reason = rec->revocation_reason;
	} else {
		st->status = EST_OCSP_GOOD;
	}
	est_cert_rec_free(rec);
	return EST_OK;
}

/*
 * Fill status[] for every CertID. *signer becomes the CA of the first
 * CertID one of our CAs issued (-1: none); CertIDs of other issuers are
 * unknown, since the response is signed for one CA only.
 */
static enum est_err
statuses(struct est_req *r, const struct est_ocsp_request *req, struct est_ocsp_status *status,
    int *signer, struct est_error *e)
{
	struct est_server *srv = r->worker->srv;
	size_t n = est_ocsp_request_count(req);
	char *issuer = NULL;
	enum est_err rc = EST_OK;

	*signer = -1;
	for (size_t i = 0; rc == EST_OK && i < n; i++) {
		char *serial = NULL;
		bool ours = false;

		status[i].status = EST_OCSP_UNKNOWN;
		for (size_t c = 0; rc == EST_OK && c < srv->n_cas && !ours; c++) {
			if (*signer >= 0 && (size_t)*signer != c)
				continue;
			free(serial);
			serial = NULL;
			if ((rc = est_ocsp_request_entry(req, i, srv->cas[c], &ours, &serial, e)) == EST_OK &&
			    ours && *signer < 0) {
				*signer = (int)c;
				issuer = est_name_text(X509_get_subject_name(est_ca_cert(srv->cas[c])));
				if (issuer == NULL)
					rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
			}
		}
		if (rc == EST_OK && ours)
			rc = lookup(r, issuer, serial, &status[i], e);
		free(serial);
	}
	free(issuer);
	return rc;
}

/*
 * What a response answers: the signing CA, the CertIDs asked about, and
 * their statuses. malloc'd, caller free()s.
 */
static enum est_err
cache_key(const struct est_ocsp_request *req, int signer, const struct est_ocsp_status *status,
    unsigned char **key, size_t *keylen, struct est_error *e)
{
	size_t n = est_ocsp_request_count(req), idlen = 0, len;
	unsigned char *ids = NULL, *k, *p;
	enum est_err rc;

	if ((rc = est_ocsp_request_certids(req, &ids, &idlen, e)) != EST_OK)
		return rc;
	len = sizeof(signer) + idlen + n * (sizeof(status->status) + sizeof(status->revoked_at) +
	    sizeof(status->reason));
	if ((k = malloc(len)) == NULL) {
		free(ids);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	p = k;
	memcpy(p, &signer, sizeof(signer));
	p += sizeof(signer);
	memcpy(p, ids, idlen);
	p += idlen;
	for (size_t i = 0; i < n; i++) {
		memcpy(p, &status[i].status, sizeof(status[i].status));
		p += sizeof(status[i].status);
		memcpy(p, &status[i].revoked_at, sizeof(status[i].revoked_at));
		p += sizeof(status[i].revoked_at);
		memcpy(p, &status[i].reason, sizeof(status[i].reason));
		p += sizeof(status[i].reason);
	}
	free(ids);
	*key = k;
	*keylen = len;
	return EST_OK;
}

/*
 * Answer with the response kept for the same question when there is one and
 * no nonce asks for a new one; else sign one, within the budget. With the
 * budget spent, a nonce goes unechoed (RFC 8954 §2.1 lets a responder leave
 * it out) rather than a request waiting, and a new question gets tryLater.
 */
static void
answer(struct est_req *r, const struct est_ocsp_request *req,
    const struct est_ocsp_status *status, int signer)
{
	struct est_worker *w = r->worker;
	const struct est_ca *ca = w->srv->cas[signer];
	unsigned validity = w->srv->cfg->cas[signer].ocsp_validity_minutes * 60u;
	bool nonce = est_ocsp_request_has_nonce(req), kept;
	int64_t now_ms = (int64_t)r->start.tv_sec * 1000 + r->start.tv_nsec / 1000000;
	time_t now = time(NULL), reuse;
	const unsigned char *old = NULL;
	unsigned char *key = NULL, *der = NULL;
	size_t keylen = 0, oldlen = 0, len = 0;
	struct est_error e = { 0 };

	if (cache_key(req, signer, status, &key, &keylen, &e) != EST_OK) {
		reply_error(r, EST_OCSP_INTERNAL, e.msg);
		return;
	}
	kept = ocsp_cache_get(w->ocsp, key, keylen, now, &old, &oldlen);
	if (kept && !nonce) {
		http_reply(r, 200, OCSP_RESPONSE_TYPE, old, oldlen);
	} else if (!ocsp_cache_spend(w->ocsp, now_ms)) {
		if (kept)
			http_reply(r, 200, OCSP_RESPONSE_TYPE, old, oldlen);
		else
			reply_error(r, EST_OCSP_TRY_LATER, "new OCSP signatures are over "
			    "ocsp-signatures-per-second");
	} else if (est_ocsp_respond(ca, req, status, now, validity, &der, &len, &e) != EST_OK) {
		reply_error(r, EST_OCSP_INTERNAL, e.msg);
	} else {
		if (!nonce) {
			reuse = validity > 0 && validity / 2 < OCSP_REUSE_SECS ? validity / 2 :
			    OCSP_REUSE_SECS;
			ocsp_cache_put(w->ocsp, key, keylen, der, len,
			    est_ocsp_signer_until(ca, now, now + reuse));
		}
		reply_der(r, der, len);
	}
	free(key);
}

void
h_ocsp(struct est_req *r)
{
	/* Zeroed: the cache key holds every field, revoked_at and reason of a good one too. */
	struct est_ocsp_status status[EST_OCSP_MAX_ENTRIES] = { 0 };
	struct est_ocsp_request *req = NULL;
	struct est_error e = { 0 };
	enum est_err rc;
	int signer;

	if ((rc = read_request(r, &req, &e)) == EST_ERR_BADREQ) {
		reply_error(r, EST_OCSP_MALFORMED, e.msg);
		return;
	}
	if (rc != EST_OK) {
		http_fail(r, &e);
		return;
	}
	if ((rc = statuses(r, req, status, &signer, &e)) == EST_ERR_BADREQ)
		reply_error(r, EST_OCSP_MALFORMED, e.msg);
	else if (rc != EST_OK)
		reply_error(r, EST_OCSP_INTERNAL, e.msg);
	else if (signer < 0)
		reply_error(r, EST_OCSP_UNAUTHORIZED, "no CertID names one of our CAs");
	else
		answer(r, req, status, signer);
	est_ocsp_request_free(req);
}
