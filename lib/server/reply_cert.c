/*
 * The common end of every enrolment: sign, record, answer.
 *
 * The certificate is committed to the store before a byte of it goes to
 * the client; if recording fails the client gets 500 and no certificate.
 * What is issued is the policy's decision, unchanged. For an end entity,
 * spending a use of its enrolment code, revoking the certificate a renewal
 * replaces and its limit of valid certificates are part of the same commit: if the code was spent meanwhile (a concurrent request), the
 * client gets the 401 of any failed authentication and no certificate.
 * An approval claimed by the gate is given back when the enrolment fails,
 * so the client's retry can still use it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "estkit/codec.h"
#include "estkit/log.h"
#include "server/server_int.h"

#define ENROLL_TYPE "application/pkcs7-mime; smime-type=certs-only"

/* The store commit of an issuance, timed for /metrics (one certificate per commit). */
static enum est_err
timed_put(struct est_req *r, struct est_cert_rec *rec, const struct est_issue_record *how,
    struct est_error *e)
{
	struct timespec t0, t1;
	enum est_err rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = est_store_put_issued(r->worker->store, rec, how, e);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == EST_OK)
		metrics_store_commit((double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, 1);
	return rc;
}

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
		rc = timed_put(r, rec, &how, e);
		if (rc != EST_ERR_EXISTS)
			break;
	}
	if (rc == EST_OK) {
		log_info("issued serial=%s subject=\"%s\" alias=%s principal=%s%s%s", rec->serial,
		    rec->subject, r->alias->conf->name, r->principal,
		    d->replaces_serial != NULL ? " revoked-replaced=" : "",
		    d->replaces_serial != NULL ? d->replaces_serial : "");
		snprintf(r->serial, sizeof(r->serial), "%s", rec->serial);
		rc = audit_trail_issued(r, d, rec, e);
	}
	if (rc == EST_OK) {
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

void
issue_and_reply(struct est_req *r, const struct policy_decision *d, X509_REQ *csr)
{
	struct est_error e = { 0 };
	X509 *cert = NULL;
	char *body = NULL;
	int64_t ticket = 0;
	size_t len;

	if (approval_admit(r, d, csr, &ticket, &e) != EST_OK ||
	    issue_cert(r, d, &cert, &e) != EST_OK ||
	    encode_certs_only(cert, &body, &len, &e) != EST_OK) {
		approval_release(r, ticket);
		http_fail(r, &e);
	} else {
		http_add_header(r, "Content-Transfer-Encoding", "base64");
		http_reply(r, 200, ENROLL_TYPE, body, len);
	}
	free(body);
	X509_free(cert);
}
