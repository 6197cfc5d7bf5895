/*
 * /simpleenroll and /simplereenroll (RFC 7030 §4.2).
 *
 * The CSR is read first, because client-mode authentication finds the
 * enrolment code in it; but a CSR that cannot be read is reported only once
 * the client has authenticated otherwise, so an unauthenticated client hears
 * 401 before any 400 (curl's Digest sends its first request without body).
 * Then the CSR's signature (proof of possession), what /csrattrs asks for
 * when the alias enforces it (EST-S-47) and channel binding are checked,
 * and the policy (policy.c) decides what the principal gets: that and
 * nothing else is approved and issued. Re-enrolment is authenticated only
 * by the certificate being renewed (§4.2.2); its rules are the policy's.
 *
 * Authentication's and the policy's look-ups (the certificate on record, the
 * end entities that own the names asked for) read one snapshot of the store,
 * taken once (est_store_read_begin): on SQLite each look-up began its own
 * read transaction, and a commit of the store writer in between made it read
 * its pages again. The scope ends before anything is approved, recorded or
 * waited for.
 */
#include <string.h>

#include "estkit/codec.h"
#include "server/server_int.h"

/* Body -> CSR, signature not yet checked. */
static enum est_err
parse_csr(struct est_req *r, X509_REQ **out, struct est_error *e)
{
	const unsigned char *body;
	size_t len;

	body = http_body(r, &len);
	if (body == NULL)
		return est_fail(e, EST_ERR_BADREQ, "empty request body; send a base64 DER PKCS#10 CSR");
	return est_csr_from_body(body, len, out, e);
}

/*
 * Proof of possession, what /csrattrs asks for, channel binding (the key is
 * policy's); by_ra: the client is an RA, which checked the binding itself.
 */
static enum est_err
check_csr(struct est_req *r, X509_REQ *csr, bool by_ra, struct est_error *e)
{
	enum est_err rc;

	if ((rc = est_csr_verify(csr, e)) != EST_OK ||
	    (r->alias->conf->csrattrs_enforce &&
	    (rc = est_csrattrs_check(r->alias->csrattrs, csr, true, e)) != EST_OK))
		return rc;
	return authn_check_binding(r, csr, by_ra, e);
}

void
h_simpleenroll(struct est_req *r)
{
	struct est_error e = { 0 }, csr_err = { 0 };
	struct authn_result res = { 0 };
	struct policy_decision d = { 0 };
	X509_REQ *csr = NULL;
	enum est_err rc;

	parse_csr(r, &csr, &csr_err);
	if ((rc = est_store_read_begin(r->worker->store, &e)) == EST_OK)
		rc = authn_enroll(r, csr, &res, &e);
	if (csr == NULL && rc == EST_OK)
		e = csr_err;
	else if (rc == EST_OK && (rc = check_csr(r, csr, res.who.kind == PRINCIPAL_RA, &e)) == EST_OK)
		rc = policy_for_request(r, POLICY_ENROLL, &res.who, csr, NULL, &d, &e);
	est_store_read_end(r->worker->store);
	if (rc != EST_OK || csr == NULL)
		http_fail(r, &e);
	else
		issue_and_reply(r, &d, &csr);
	policy_decision_clear(&d);
	authn_result_clear(&res);
	X509_REQ_free(csr);
}

void
h_simplereenroll(struct est_req *r)
{
	struct est_error e = { 0 };
	struct policy_principal who = { .kind = PRINCIPAL_CERT };
	struct policy_decision d = { 0 };
	X509 *cert = NULL;
	X509_REQ *csr = NULL;
	enum est_err rc;

	if ((rc = est_store_read_begin(r->worker->store, &e)) == EST_OK &&
	    (rc = authn_client_cert(r, &cert, &e)) == EST_OK &&
	    (rc = parse_csr(r, &csr, &e)) == EST_OK && (rc = check_csr(r, csr, false, &e)) == EST_OK) {
		who.cert = cert;
		who.cert_ee_id = r->cert_ee_id;
		who.cert_of_alias = r->cert_of_alias;
		who.cert_alias = r->cert_alias;
		rc = policy_for_request(r, POLICY_REENROLL, &who, csr, cert, &d, &e);
	}
	est_store_read_end(r->worker->store);
	if (rc != EST_OK)
		http_fail(r, &e);
	else
		issue_and_reply(r, &d, &csr);
	policy_decision_clear(&d);
	X509_REQ_free(csr);
}
