/*
 * /simpleenroll and /simplereenroll (RFC 7030 §4.2).
 *
 * Both authenticate first, then read and check the CSR (signature = proof of
 * possession, key policy, and what /csrattrs asks for when the alias
 * enforces it: EST-S-47). Re-enrolment is authenticated only by the
 * certificate being renewed, and the CSR must keep its subject and
 * subjectAltName (§4.2.2); whether the same key may be certified again is
 * the alias's choice.
 */
#include <string.h>

#include "estkit/codec.h"
#include "server/server_int.h"

/* Body -> verified CSR whose key we certify. */
static enum est_err
read_csr(struct est_req *r, X509_REQ **out, struct est_error *e)
{
	const unsigned char *body;
	size_t len;
	X509_REQ *csr = NULL;
	enum est_err rc;

	body = http_body(r, &len);
	if (body == NULL)
		return est_fail(e, EST_ERR_BADREQ, "empty request body; send a base64 DER PKCS#10 CSR");
	if ((rc = est_csr_from_body(body, len, &csr, e)) != EST_OK)
		return rc;
	if ((rc = est_csr_verify(csr, e)) != EST_OK ||
	    (rc = est_key_policy_check(X509_REQ_get0_pubkey(csr), e)) != EST_OK ||
	    (r->alias->conf->csrattrs_enforce &&
	    (rc = est_csrattrs_check(r->alias->csrattrs, csr, true, e)) != EST_OK)) {
		X509_REQ_free(csr);
		return rc;
	}
	*out = csr;
	return EST_OK;
}

void
h_simpleenroll(struct est_req *r)
{
	struct est_error e = { 0 };
	X509_REQ *csr = NULL;
	struct est_issue_req req = { 0 };

	if (authn_enroll(r, &e) != EST_OK || read_csr(r, &csr, &e) != EST_OK) {
		http_fail(r, &e);
		return;
	}
	req.csr = csr;
	issue_and_reply(r, &req);
	X509_REQ_free(csr);
}

static bool
same_key(X509 *cert, X509_REQ *csr)
{
	return EVP_PKEY_eq(X509_get0_pubkey(cert), X509_REQ_get0_pubkey(csr)) == 1;
}

/* The renewal rules of §4.2.2 and the alias. */
static enum est_err
check_renewal(struct est_req *r, X509 *cert, X509_REQ *csr, GENERAL_NAMES **san,
    struct est_error *e)
{
	GENERAL_NAMES *csr_san = NULL;
	char *want, *got;
	enum est_err rc;

	if (X509_NAME_cmp(X509_get_subject_name(cert), X509_REQ_get_subject_name(csr)) != 0) {
		want = est_name_text(X509_get_subject_name(cert));
		got = est_name_text(X509_REQ_get_subject_name(csr));
		rc = est_fail(e, EST_ERR_FORBIDDEN, "CSR subject \"%s\" differs from the certificate's \"%s\"",
		    got != NULL ? got : "?", want != NULL ? want : "?");
		free(want);
		free(got);
		return rc;
	}
	if ((rc = est_csr_get_san(csr, &csr_san, e)) != EST_OK)
		return rc;
	*san = est_cert_get_san(cert);
	if (!est_san_equal(*san, csr_san)) {
		want = est_san_text(*san);
		got = est_san_text(csr_san);
		rc = est_fail(e, EST_ERR_FORBIDDEN,
		    "CSR subjectAltName \"%s\" differs from the certificate's \"%s\"",
		    got != NULL ? got : "?", want != NULL ? want : "?");
		free(want);
		free(got);
	} else if (!r->alias->conf->renew_same_key && same_key(cert, csr)) {
		rc = est_fail(e, EST_ERR_FORBIDDEN,
		    "alias %s does not renew with the same key; make a new key and CSR", r->alias->conf->name);
	}
	GENERAL_NAMES_free(csr_san);
	return rc;
}

void
h_simplereenroll(struct est_req *r)
{
	struct est_error e = { 0 };
	X509 *cert = NULL;
	X509_REQ *csr = NULL;
	GENERAL_NAMES *san = NULL;
	struct est_issue_req req = { 0 };

	if (authn_client_cert(r, &cert, &e) != EST_OK || read_csr(r, &csr, &e) != EST_OK ||
	    check_renewal(r, cert, csr, &san, &e) != EST_OK) {
		http_fail(r, &e);
		goto out;
	}
	req.csr = csr;
	req.san = san;
	issue_and_reply(r, &req);
out:
	GENERAL_NAMES_free(san);
	X509_REQ_free(csr);
}
