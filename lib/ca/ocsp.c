/*
 * OCSP (RFC 6960): reading requests from the network and signing responses.
 *
 * Requests are untrusted input: a request is parsed once, must be exactly
 * one DER OCSPRequest with a bounded number of CertIDs, and is otherwise
 * refused so the responder can answer malformedRequest. Signatures on
 * requests are not required (§4.1.2: optional) and not checked. Responses
 * identify the responder by key hash (RFC 5019 §2.2.3) and echo the nonce.
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "ca/ca_int.h"
#include "estkit/ca.h"
#include "estkit/codec.h"

/* A GET's base64 request: RFC 6960 requests are small; more is an attack. */
#define GET_TAIL_MAX 8192

struct est_ocsp_request {
	OCSP_REQUEST *req;
};

enum est_err
est_ocsp_request_parse(const unsigned char *der, size_t len, struct est_ocsp_request **out,
    struct est_error *e)
{
	const unsigned char *p = der;
	struct est_ocsp_request *r;
	OCSP_REQUEST *req;
	int n;

	if (der == NULL || len == 0 || len > LONG_MAX)
		return est_fail(e, EST_ERR_BADREQ, "empty OCSP request");
	req = d2i_OCSP_REQUEST(NULL, &p, (long)len);
	ERR_clear_error();
	if (req == NULL)
		return est_fail(e, EST_ERR_BADREQ, "not a DER OCSP request");
	if (p != der + len) {
		OCSP_REQUEST_free(req);
		return est_fail(e, EST_ERR_BADREQ, "data after the OCSP request");
	}
	n = OCSP_request_onereq_count(req);
	if (n < 1 || n > EST_OCSP_MAX_ENTRIES) {
		OCSP_REQUEST_free(req);
		return est_fail(e, EST_ERR_BADREQ, "an OCSP request must ask about 1-%d "
		    "certificates, not %d", EST_OCSP_MAX_ENTRIES, n);
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		OCSP_REQUEST_free(req);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	r->req = req;
	*out = r;
	return EST_OK;
}

static int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

enum est_err
est_ocsp_request_from_path(const char *tail, struct est_ocsp_request **out,
    struct est_error *e)
{
	size_t n = tail != NULL ? strlen(tail) : 0, j = 0, derlen = 0;
	unsigned char *der = NULL;
	enum est_err rc;
	char *b64;

	if (n == 0 || n > GET_TAIL_MAX)
		return est_fail(e, EST_ERR_BADREQ, "an OCSP GET needs the base64 request in "
		    "the path (at most %d characters)", GET_TAIL_MAX);
	if ((b64 = malloc(n + 1)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (tail[i] != '%') {
			b64[j++] = tail[i];
			continue;
		}
		if (i + 2 >= n || (hi = hex_value((unsigned char)tail[i + 1])) < 0 ||
		    (lo = hex_value((unsigned char)tail[i + 2])) < 0) {
			free(b64);
			return est_fail(e, EST_ERR_BADREQ, "bad percent-encoding in the OCSP request");
		}
		b64[j++] = (char)(hi * 16 + lo);
		i += 2;
	}
	b64[j] = '\0';
	rc = est_b64_decode(b64, j, &der, &derlen, e);
	free(b64);
	if (rc != EST_OK)
		return rc;
	rc = est_ocsp_request_parse(der, derlen, out, e);
	free(der);
	return rc;
}

void
est_ocsp_request_free(struct est_ocsp_request *req)
{
	if (req == NULL)
		return;
	OCSP_REQUEST_free(req->req);
	free(req);
}

size_t
est_ocsp_request_count(const struct est_ocsp_request *req)
{
	return (size_t)OCSP_request_onereq_count(req->req);
}

bool
est_ocsp_request_has_nonce(const struct est_ocsp_request *req)
{
	return OCSP_REQUEST_get_ext_by_NID(req->req, NID_id_pkix_OCSP_Nonce, -1) >= 0;
}

static OCSP_CERTID *
entry_id(const struct est_ocsp_request *req, size_t i)
{
	return OCSP_onereq_get0_id(OCSP_request_onereq_get0(req->req, (int)i));
}

enum est_err
est_ocsp_request_entry(const struct est_ocsp_request *req, size_t i, const struct est_ca *ca,
    bool *issued_by_ca, char **serial, struct est_error *e)
{
	OCSP_CERTID *cid = entry_id(req, i), *ours = NULL;
	ASN1_OBJECT *alg = NULL;
	ASN1_INTEGER *sn = NULL;
	const EVP_MD *md;
	char *text;

	if (cid == NULL || !OCSP_id_get0_info(NULL, &alg, NULL, &sn, cid) || sn == NULL)
		return est_fail(e, EST_ERR_BADREQ, "OCSP request entry %zu is incomplete", i);
	if ((text = est_serial_text(sn)) == NULL)
		return est_fail(e, EST_ERR_BADREQ, "OCSP request entry %zu has an unreadable "
		    "serial number", i);
	*issued_by_ca = false;
	/* The CertID's hashes are under the requester's choice of digest. */
	if ((md = EVP_get_digestbyobj(alg)) != NULL &&
	    (ours = OCSP_cert_to_id(md, NULL, ca->ca_cert)) != NULL)
		*issued_by_ca = OCSP_id_issuer_cmp(ours, cid) == 0;
	ERR_clear_error();
	OCSP_CERTID_free(ours);
	*serial = text;
	return EST_OK;
}

enum est_err
est_ocsp_request_certids(const struct est_ocsp_request *req, unsigned char **der, size_t *len,
    struct est_error *e)
{
	size_t n = est_ocsp_request_count(req), total = 0;
	unsigned char *buf, *p;

	for (size_t i = 0; i < n; i++) {
		int l = i2d_OCSP_CERTID(entry_id(req, i), NULL);

		if (l <= 0)
			return est_fail_ssl(e, EST_ERR_BADREQ, "OCSP request entry %zu cannot be "
			    "encoded", i);
		total += (size_t)l;
	}
	if ((buf = malloc(total)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	p = buf;
	for (size_t i = 0; i < n; i++)
		if (i2d_OCSP_CERTID(entry_id(req, i), &p) <= 0) {
			free(buf);
			return est_fail_ssl(e, EST_ERR_BADREQ, "OCSP request entry %zu cannot be "
			    "encoded", i);
		}
	*der = buf;
	*len = (size_t)(p - buf);
	return EST_OK;
}

/* DER of resp, malloc'd. */
static enum est_err
response_der(OCSP_RESPONSE *resp, unsigned char **der, size_t *derlen, struct est_error *e)
{
	unsigned char *buf = NULL;
	int len;

	if ((len = i2d_OCSP_RESPONSE(resp, &buf)) <= 0)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot encode the OCSP response");
	if ((*der = malloc((size_t)len)) == NULL) {
		OPENSSL_free(buf);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	memcpy(*der, buf, (size_t)len);
	OPENSSL_free(buf);
	*derlen = (size_t)len;
	return EST_OK;
}

enum est_err
est_ocsp_error_response(enum est_ocsp_error status, unsigned char **der, size_t *derlen,
    struct est_error *e)
{
	OCSP_RESPONSE *resp;
	enum est_err rc;

	if ((resp = OCSP_response_create((int)status, NULL)) == NULL)
		return est_fail_ssl(e, EST_ERR_NOMEM, "cannot build an OCSP response");
	rc = response_der(resp, der, derlen, e);
	OCSP_RESPONSE_free(resp);
	return rc;
}

static enum est_err
add_single(OCSP_BASICRESP *bs, OCSP_CERTID *cid, const struct est_ocsp_status *st,
    ASN1_TIME *this_update, ASN1_TIME *next_update, struct est_error *e)
{
	ASN1_TIME *revtime = NULL;
	int status = V_OCSP_CERTSTATUS_UNKNOWN, reason = OCSP_REVOKED_STATUS_NOSTATUS;
	enum est_err rc = EST_OK;

	if (st->status == EST_OCSP_GOOD) {
		status = V_OCSP_CERTSTATUS_GOOD;
	} else if (st->status == EST_OCSP_REVOKED) {
		status = V_OCSP_CERTSTATUS_REVOKED;
		/* As on the CRL (crl.c): removeFromCRL is no reason for a revoked certificate. */
		if (st->reason > 0 && st->reason != OCSP_REVOKED_STATUS_REMOVEFROMCRL)
			reason = st->reason;
		if ((revtime = ASN1_TIME_set(NULL, (time_t)st->revoked_at)) == NULL)
			return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	if (OCSP_basic_add1_status(bs, cid, status, reason, revtime, this_update,
	    next_update) == NULL)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot add an OCSP single response");
	ASN1_TIME_free(revtime);
	return rc;
}

/* Whether cert is within its validity at now. */
static bool
valid_at(X509 *cert, time_t now)
{
	return X509_cmp_time(X509_get0_notBefore(cert), &now) <= 0 &&
	    X509_cmp_time(X509_get0_notAfter(cert), &now) >= 0;
}

time_t
est_ocsp_signer_until(const struct est_ca *ca, time_t now, time_t limit)
{
	X509 *r = ca->ca_ocsp_cert;
	time_t edge = limit;

	/* Mirrors sign_basic's choice: where it would choose otherwise. */
	if (r == NULL || ca->ca_key == NULL)
		return limit;
	if (valid_at(r, now))
		edge = ca_unix_time(X509_get0_notAfter(r));
	else if (X509_cmp_time(X509_get0_notBefore(r), &now) > 0)
		edge = ca_unix_time(X509_get0_notBefore(r)) - 1;
	return edge < limit ? (edge < now ? now : edge) : limit;
}

/*
 * Signed by the delegated responder while its certificate is valid, else by
 * the CA: relying parties refuse every response under an expired responder
 * (estd holds the CA key anyway, to issue).
 */
static enum est_err
sign_basic(OCSP_BASICRESP *bs, const struct est_ca *ca, time_t now, struct est_error *e)
{
	bool delegated = ca->ca_ocsp_cert != NULL && (valid_at(ca->ca_ocsp_cert, now) ||
	    ca->ca_key == NULL);
	X509 *signer = delegated ? ca->ca_ocsp_cert : ca->ca_cert;
	EVP_PKEY *key = delegated ? ca->ca_ocsp_key : ca->ca_key;

	if (key == NULL)
		return est_fail(e, EST_ERR_CONFIG, "CA %s has no key to sign OCSP responses with",
		    ca->ca_name);
	if (OCSP_basic_sign(bs, signer, key, ca_sign_md(key), NULL, OCSP_RESPID_KEY) != 1)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot sign the OCSP response of CA %s",
		    ca->ca_name);
	return EST_OK;
}

enum est_err
est_ocsp_respond(const struct est_ca *ca, const struct est_ocsp_request *req,
    const struct est_ocsp_status *status, time_t now, unsigned next_update_secs,
    unsigned char **der, size_t *derlen, struct est_error *e)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	OCSP_RESPONSE *resp = NULL;
	ASN1_TIME *t1 = ASN1_TIME_set(NULL, now), *t2 = NULL;
	size_t n = est_ocsp_request_count(req);
	enum est_err rc = EST_OK;

	if (bs == NULL || t1 == NULL ||
	    (next_update_secs > 0 && (t2 = ASN1_TIME_set(NULL, now + next_update_secs)) == NULL)) {
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; rc == EST_OK && i < n; i++)
		rc = add_single(bs, entry_id(req, i), &status[i], t1, t2, e);
	if (rc == EST_OK && OCSP_copy_nonce(bs, req->req) <= 0)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot echo the OCSP nonce");
	if (rc == EST_OK)
		rc = sign_basic(bs, ca, now, e);
	if (rc == EST_OK &&
	    (resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs)) == NULL)
		rc = est_fail_ssl(e, EST_ERR_NOMEM, "cannot build the OCSP response");
	if (rc == EST_OK)
		rc = response_der(resp, der, derlen, e);
out:
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	ASN1_TIME_free(t1);
	ASN1_TIME_free(t2);
	return rc;
}
