/*
 * /simpleenroll and /simplereenroll (RFC 7030 §4.2).
 *
 * The CSR is read first, because client-mode authentication finds the
 * enrolment code in it; but a CSR that cannot be read is reported only once
 * the client has authenticated otherwise, so an unauthenticated client hears
 * 401 before any 400 (curl's Digest sends its first request without body).
 * Then the CSR's signature (proof of possession), key policy, what /csrattrs
 * asks for when the alias enforces it (EST-S-47) and channel binding are
 * checked, and the certificate is issued with what authentication
 * established. Re-enrolment is authenticated only by the certificate being
 * renewed, and the CSR must keep its subject and subjectAltName (§4.2.2);
 * whether the same key may be certified again is the alias's choice.
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

/* Proof of possession, key policy, channel binding. */
static enum est_err
check_csr(struct est_req *r, X509_REQ *csr, struct est_error *e)
{
	enum est_err rc;

	if ((rc = est_csr_verify(csr, e)) != EST_OK ||
	    (rc = est_key_policy_check(X509_REQ_get0_pubkey(csr), e)) != EST_OK ||
	    (r->alias->conf->csrattrs_enforce &&
	    (rc = est_csrattrs_check(r->alias->csrattrs, csr, true, e)) != EST_OK))
		return rc;
	return authn_check_binding(r, csr, e);
}

void
h_simpleenroll(struct est_req *r)
{
	struct est_error e = { 0 }, csr_err = { 0 };
	struct authn_result res = { 0 };
	struct est_issue_req req = { 0 };
	X509_REQ *csr = NULL;
	enum est_err rc;

	parse_csr(r, &csr, &csr_err);
	rc = authn_enroll(r, csr, &res, &e);
	if (csr == NULL && rc == EST_OK)
		e = csr_err;
	else if (rc == EST_OK)
		rc = check_csr(r, csr, &e);
	if (rc != EST_OK || csr == NULL) {
		http_fail(r, &e);
		goto out;
	}
	req.csr = csr;
	req.subject = res.subject;
	req.san = res.san;
	issue_and_reply(r, &req, &res);
out:
	authn_result_clear(&res);
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
	bool csn;
	X509_NAME *old = NULL;
	enum est_err rc;

	/* The same names in another RDN order are the same subject (as EJBCA sees it). */
	if (!est_name_equal_unordered(X509_get_subject_name(cert), X509_REQ_get_subject_name(csr))) {
		want = est_name_text(X509_get_subject_name(cert));
		got = est_name_text(X509_REQ_get_subject_name(csr));
		rc = est_fail(e, EST_ERR_FORBIDDEN, "CSR subject \"%s\" differs from the certificate's \"%s\"",
		    got != NULL ? got : "?", want != NULL ? want : "?");
		free(want);
		free(got);
		return rc;
	}
	/* Never on renewal: one device must not take another's identity. */
	if ((rc = est_csr_change_subject_name(csr, &csn, &old, e)) != EST_OK)
		return rc;
	X509_NAME_free(old);
	if (csn)
		return est_fail(e, EST_ERR_FORBIDDEN, "ChangeSubjectName is not honoured on renewal");
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
	struct authn_result res = { 0 };
	X509 *cert = NULL;
	X509_REQ *csr = NULL;
	GENERAL_NAMES *san = NULL;
	struct est_issue_req req = { 0 };

	if (authn_client_cert(r, &cert, &e) != EST_OK || parse_csr(r, &csr, &e) != EST_OK ||
	    check_csr(r, csr, &e) != EST_OK || check_renewal(r, cert, csr, &san, &e) != EST_OK) {
		http_fail(r, &e);
		goto out;
	}
	/* The renewed certificate keeps the subject as issued, and its end entity. */
	req.csr = csr;
	req.subject = X509_get_subject_name(cert);
	req.san = san;
	res.ee_id = r->cert_ee_id;
	issue_and_reply(r, &req, &res);
out:
	GENERAL_NAMES_free(san);
	X509_REQ_free(csr);
}
