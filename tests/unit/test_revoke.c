/*
 * Unit tests for lib/ca's revocation (issue 15): CRLs (RFC 5280 §5), the
 * CDP and AIA extensions of issued certificates, the OCSP request reader
 * and responder (RFC 6960) and the delegated responder certificate.
 *
 * The group setup makes a P-256 root CA in a temporary directory and loads
 * it with est_ca_load; everything is checked back with OpenSSL's own
 * parsers and verifiers, as a relying party would.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "estkit/ca.h"
#include "estkit/codec.h"
#include "estkit/revoke.h"
#include "estkit/store.h"

static struct {
	char dir[64];
	char key_path[96], cert_path[96], rkey_path[96], rcert_path[96];
	EVP_PKEY *key;
	X509 *cert;
	struct est_ca *ca;
	X509 *leaf;                   /* issued by ca, with CDP and AIA */
} t;

static const struct est_profile profile = {
	.name = "p", .validity_days = 30, .eku = EST_EKU_CLIENT_AUTH, .copy_san = false,
};

static X509 *
issue(const char *cn)
{
	struct est_error e = { 0 };
	X509_NAME *name = X509_NAME_new();
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	struct est_issue_req req = { 0 };

	assert_int_equal(est_key_generate("ec:P-256", &key, &e), EST_OK);
	assert_true(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0));
	req.subject = name;
	req.pubkey = key;
	assert_int_equal(est_ca_issue(t.ca, &profile, &req, &cert, &e), EST_OK);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
	return cert;
}

static int
setup(void **state)
{
	struct est_error e = { 0 };
	struct est_ca_revocation rv = {
		.crl_url = "http://127.0.0.1:8080/crl/t.crl", .ocsp_url = "http://127.0.0.1:8080/ocsp",
		.ca_issuers_url = "http://127.0.0.1:8080/crl/t.crt",
	};

	(void)state;
	snprintf(t.dir, sizeof(t.dir), "/tmp/estkit-revoke.XXXXXX");
	if (mkdtemp(t.dir) == NULL)
		return -1;
	snprintf(t.key_path, sizeof(t.key_path), "%s/ca.key", t.dir);
	snprintf(t.cert_path, sizeof(t.cert_path), "%s/ca.pem", t.dir);
	snprintf(t.rkey_path, sizeof(t.rkey_path), "%s/ocsp.key", t.dir);
	snprintf(t.rcert_path, sizeof(t.rcert_path), "%s/ocsp.pem", t.dir);
	if (est_key_generate("ec:P-256", &t.key, &e) != EST_OK ||
	    est_ca_make_root(t.key, "Revoke Test CA", 10, &t.cert, &e) != EST_OK ||
	    est_key_write(t.key_path, t.key, &e) != EST_OK ||
	    est_cert_write(t.cert_path, t.cert, &e) != EST_OK ||
	    est_ca_load("t", t.cert_path, t.key_path, NULL, &t.ca, &e) != EST_OK ||
	    est_ca_set_revocation(t.ca, &rv, &e) != EST_OK)
		return -1;
	t.leaf = issue("leaf");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	X509_free(t.leaf);
	est_ca_free(t.ca);
	X509_free(t.cert);
	EVP_PKEY_free(t.key);
	unlink(t.key_path);
	unlink(t.cert_path);
	unlink(t.rkey_path);
	unlink(t.rcert_path);
	rmdir(t.dir);
	return 0;
}

/* Point 3: cRLDistributionPoints and authorityInfoAccess as configured. */
static void
test_cdp_aia(void **state)
{
	CRL_DIST_POINTS *cdp;
	AUTHORITY_INFO_ACCESS *aia;
	const ACCESS_DESCRIPTION *ad;
	const GENERAL_NAME *gn;

	(void)state;
	cdp = X509_get_ext_d2i(t.leaf, NID_crl_distribution_points, NULL, NULL);
	assert_non_null(cdp);
	gn = sk_GENERAL_NAME_value(sk_DIST_POINT_value(cdp, 0)->distpoint->name.fullname, 0);
	assert_int_equal(gn->type, GEN_URI);
	assert_string_equal((const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
	    "http://127.0.0.1:8080/crl/t.crl");
	CRL_DIST_POINTS_free(cdp);
	aia = X509_get_ext_d2i(t.leaf, NID_info_access, NULL, NULL);
	assert_non_null(aia);
	assert_int_equal(sk_ACCESS_DESCRIPTION_num(aia), 2);
	ad = sk_ACCESS_DESCRIPTION_value(aia, 0);
	assert_int_equal(OBJ_obj2nid(ad->method), NID_ad_OCSP);
	ad = sk_ACCESS_DESCRIPTION_value(aia, 1);
	assert_int_equal(OBJ_obj2nid(ad->method), NID_ad_ca_issuers);
	AUTHORITY_INFO_ACCESS_free(aia);
}

/* The attacker's side of point 3: only http(s) URLs, and a responder pair. */
static void
test_bad_revocation_config(void **state)
{
	struct est_error e = { 0 };
	struct est_ca_revocation bad_url = { .crl_url = "ldap://x/crl" };
	struct est_ca_revocation quote = { .ocsp_url = "http://x/\"ocsp" };
	struct est_ca_revocation half = { .ocsp_cert_path = "x.pem" };
	struct est_ca_revocation not_ocsp = { .ocsp_cert_path = t.cert_path, .ocsp_key_path = t.key_path };

	(void)state;
	assert_int_equal(est_ca_set_revocation(t.ca, &bad_url, &e), EST_ERR_CONFIG);
	assert_non_null(strstr(e.msg, "crl-url"));
	assert_int_equal(est_ca_set_revocation(t.ca, &quote, &e), EST_ERR_CONFIG);
	assert_int_equal(est_ca_set_revocation(t.ca, &half, &e), EST_ERR_CONFIG);
	/* The CA certificate itself is no OCSP signer. */
	assert_int_equal(est_ca_set_revocation(t.ca, &not_ocsp, &e), EST_ERR_CONFIG);
	assert_non_null(strstr(e.msg, "OCSPSigning"));
}

/* Point 1: a v2 CRL, signed, with number, AKI, entries sorted, reasons. */
static void
test_crl(void **state)
{
	struct est_error e = { 0 };
	struct est_crl_entry entries[] = {
		{ "7F01", 1700000100, 1 },
		{ "0A", 1700000000, 0 },
	};
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	X509_CRL *crl;
	ASN1_INTEGER *num;
	ASN1_ENUMERATED *reason;
	STACK_OF(X509_REVOKED) *rv;
	X509_REVOKED *rev = NULL;
	int crit;

	(void)state;
	assert_int_equal(est_ca_make_crl(t.ca, 42, 1700000000, 1700086400, entries, 2, &der, &len,
	    &e), EST_OK);
	p = der;
	assert_non_null(crl = d2i_X509_CRL(NULL, &p, (long)len));
	assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(t.cert)), 1);
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(t.cert)), 0);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
	assert_non_null(num);
	assert_int_equal(ASN1_INTEGER_get(num), 42);
	ASN1_INTEGER_free(num);
	assert_true(X509_CRL_get_ext_by_NID(crl, NID_authority_key_identifier, -1) >= 0);
	assert_int_equal(ASN1_TIME_cmp_time_t(X509_CRL_get0_nextUpdate(crl), 1700086400), 0);
	rv = X509_CRL_get_REVOKED(crl);
	assert_int_equal(sk_X509_REVOKED_num(rv), 2);
	/* Sorted by serial: 0A first, with no reason (unspecified is left out). */
	assert_int_equal(ASN1_INTEGER_get(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(rv, 0))),
	    0x0A);
	assert_null(X509_REVOKED_get_ext_d2i(sk_X509_REVOKED_value(rv, 0), NID_crl_reason, NULL, NULL));
	reason = X509_REVOKED_get_ext_d2i(sk_X509_REVOKED_value(rv, 1), NID_crl_reason, NULL, NULL);
	assert_non_null(reason);
	assert_int_equal(ASN1_ENUMERATED_get(reason), 1);
	ASN1_ENUMERATED_free(reason);
	X509_CRL_free(crl);
	free(der);

	/*
	 * removeFromCRL on record (an old store, an import) is left out: OpenSSL
	 * takes an entry with it as "not revoked" (X509_CRL_get0_by_serial 2).
	 */
	entries[0].reason = 8;
	assert_int_equal(est_ca_make_crl(t.ca, 43, 1700000000, 1700086400, entries, 2, &der, &len,
	    &e), EST_OK);
	p = der;
	assert_non_null(crl = d2i_X509_CRL(NULL, &p, (long)len));
	num = s2i_ASN1_INTEGER(NULL, "0x7F01");
	assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, num), 1);
	assert_null(X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL));
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	free(der);

	/* A serial on record that cannot be read is refused, not left out. */
	entries[0].serial = "XYZ";
	assert_int_equal(est_ca_make_crl(t.ca, 43, 1700000000, 1700086400, entries, 2, &der, &len,
	    &e), EST_ERR_STORE);
	assert_int_equal(est_ca_make_crl(t.ca, 0, 1700000000, 1700086400, NULL, 0, &der, &len, &e),
	    EST_ERR_INTERNAL);
}

/* A DER OCSP request for cert (issued by issuer), with a nonce. */
static unsigned char *
ocsp_request(X509 *cert, X509 *issuer, const EVP_MD *md, size_t *len, OCSP_REQUEST **keep)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = OCSP_cert_to_id(md, cert, issuer);
	unsigned char *der = NULL;
	int n;

	assert_non_null(OCSP_request_add0_id(req, id));
	assert_int_equal(OCSP_request_add1_nonce(req, NULL, -1), 1);
	n = i2d_OCSP_REQUEST(req, &der);
	assert_true(n > 0);
	*len = (size_t)n;
	*keep = req;
	return der;
}

/* Respond to req_der with status st for its one CertID; returns the basic response. */
static OCSP_BASICRESP *
respond(const unsigned char *req_der, size_t len, const struct est_ocsp_status *st)
{
	struct est_ocsp_request *req = NULL;
	struct est_error e = { 0 };
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t dlen = 0;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	char *serial = NULL;
	bool ours = false;

	assert_int_equal(est_ocsp_request_parse(req_der, len, &req, &e), EST_OK);
	assert_int_equal(est_ocsp_request_count(req), 1);
	assert_true(est_ocsp_request_has_nonce(req));
	assert_int_equal(est_ocsp_request_entry(req, 0, t.ca, &ours, &serial, &e), EST_OK);
	assert_true(ours);
	free(serial);
	assert_int_equal(est_ocsp_respond(t.ca, req, st, time(NULL), 3600, &der, &dlen, &e), EST_OK);
	p = der;
	assert_non_null(resp = d2i_OCSP_RESPONSE(NULL, &p, (long)dlen));
	assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_non_null(bs = OCSP_response_get1_basic(resp));
	OCSP_RESPONSE_free(resp);
	free(der);
	est_ocsp_request_free(req);
	return bs;
}

/* Verify bs up to the CA as openssl ocsp does; the status of the leaf. */
static int
status_of(OCSP_BASICRESP *bs, OCSP_REQUEST *req, const EVP_MD *md, int *reason)
{
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509) *certs = sk_X509_new_null();
	OCSP_CERTID *id = OCSP_cert_to_id(md, t.leaf, t.cert);
	ASN1_GENERALIZEDTIME *rev = NULL, *thisu = NULL, *nextu = NULL;
	int status = -1;

	X509_STORE_add_cert(store, t.cert);
	sk_X509_push(certs, t.cert);
	assert_int_equal(OCSP_basic_verify(bs, certs, store, 0), 1);
	assert_int_equal(OCSP_check_nonce(req, bs), 1);
	assert_int_equal(OCSP_resp_find_status(bs, id, &status, reason, &rev, &thisu, &nextu), 1);
	assert_non_null(nextu);
	OCSP_CERTID_free(id);
	sk_X509_free(certs);
	X509_STORE_free(store);
	return status;
}

/* Point 2: good, then revoked with reason, nonce echoed, signed by the CA. */
static void
test_ocsp_good_revoked(void **state)
{
	struct est_ocsp_status good = { .status = EST_OCSP_GOOD };
	struct est_ocsp_status revoked = { .status = EST_OCSP_REVOKED, .revoked_at = 1700000000,
	    .reason = 1 };
	OCSP_REQUEST *keep = NULL;
	OCSP_BASICRESP *bs;
	size_t len = 0;
	unsigned char *der = ocsp_request(t.leaf, t.cert, EVP_sha256(), &len, &keep);
	int reason = -2;

	(void)state;
	bs = respond(der, len, &good);
	assert_int_equal(status_of(bs, keep, EVP_sha256(), &reason), V_OCSP_CERTSTATUS_GOOD);
	OCSP_BASICRESP_free(bs);
	bs = respond(der, len, &revoked);
	assert_int_equal(status_of(bs, keep, EVP_sha256(), &reason), V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	OCSP_BASICRESP_free(bs);
	/* removeFromCRL on record: revoked, no reason, as on the CRL. */
	revoked.reason = 8;
	bs = respond(der, len, &revoked);
	assert_int_equal(status_of(bs, keep, EVP_sha256(), &reason), V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_NOSTATUS);
	OCSP_BASICRESP_free(bs);
	OCSP_REQUEST_free(keep);
	OPENSSL_free(der);
}

/* The attacker's side of point 2: what is not one bounded request is refused. */
static void
test_ocsp_malformed(void **state)
{
	struct est_ocsp_request *req = NULL;
	struct est_error e = { 0 };
	OCSP_REQUEST *keep = NULL, *many = OCSP_REQUEST_new();
	size_t len = 0;
	unsigned char *der = ocsp_request(t.leaf, t.cert, EVP_sha1(), &len, &keep);
	unsigned char *trail = malloc(len + 1), *mder = NULL;
	int n;

	(void)state;
	assert_int_equal(est_ocsp_request_parse(NULL, 0, &req, &e), EST_ERR_BADREQ);
	assert_int_equal(est_ocsp_request_parse(der, len - 1, &req, &e), EST_ERR_BADREQ);
	memcpy(trail, der, len);
	trail[len] = 0;
	assert_int_equal(est_ocsp_request_parse(trail, len + 1, &req, &e), EST_ERR_BADREQ);
	for (int i = 0; i <= EST_OCSP_MAX_ENTRIES; i++)
		OCSP_request_add0_id(many, OCSP_cert_to_id(NULL, t.leaf, t.cert));
	n = i2d_OCSP_REQUEST(many, &mder);
	assert_int_equal(est_ocsp_request_parse(mder, (size_t)n, &req, &e), EST_ERR_BADREQ);
	assert_int_equal(est_ocsp_request_from_path("", &req, &e), EST_ERR_BADREQ);
	assert_int_equal(est_ocsp_request_from_path("%4", &req, &e), EST_ERR_BADREQ);
	assert_int_equal(est_ocsp_request_from_path("%g0AA", &req, &e), EST_ERR_BADREQ);
	assert_int_equal(est_ocsp_request_from_path("!!!!", &req, &e), EST_ERR_BADREQ);
	assert_null(req);
	OPENSSL_free(mder);
	OCSP_REQUEST_free(many);
	free(trail);
	OCSP_REQUEST_free(keep);
	OPENSSL_free(der);
}

/* GET: percent-encoded base64 of the request (RFC 6960 A.1). */
static void
test_ocsp_get(void **state)
{
	struct est_ocsp_request *req = NULL;
	struct est_error e = { 0 };
	OCSP_REQUEST *keep = NULL;
	size_t len = 0, blen = 0;
	unsigned char *der = ocsp_request(t.leaf, t.cert, EVP_sha1(), &len, &keep);
	char *b64 = NULL, enc[1024];
	size_t j = 0;

	(void)state;
	assert_int_equal(est_b64_encode(der, len, false, &b64, &blen, &e), EST_OK);
	for (size_t i = 0; i < blen && j + 4 < sizeof(enc); i++)
		j += (size_t)snprintf(enc + j, sizeof(enc) - j, strchr("+/=", b64[i]) ? "%%%02X" : "%c",
		    (unsigned char)b64[i]);
	assert_int_equal(est_ocsp_request_from_path(enc, &req, &e), EST_OK);
	assert_int_equal(est_ocsp_request_count(req), 1);
	est_ocsp_request_free(req);
	req = NULL;
	assert_int_equal(est_ocsp_request_from_path(b64, &req, &e), EST_OK);
	est_ocsp_request_free(req);
	free(b64);
	OCSP_REQUEST_free(keep);
	OPENSSL_free(der);
}

/* Another CA's CertID does not match ours; error responses are bare. */
static void
test_ocsp_other_issuer(void **state)
{
	struct est_ocsp_request *req = NULL;
	struct est_error e = { 0 };
	OCSP_REQUEST *keep = NULL;
	size_t len = 0, elen = 0;
	unsigned char *der = ocsp_request(t.leaf, t.leaf, EVP_sha1(), &len, &keep), *eder = NULL;
	const unsigned char *p;
	OCSP_RESPONSE *resp;
	char *serial = NULL;
	bool ours = true;

	(void)state;
	assert_int_equal(est_ocsp_request_parse(der, len, &req, &e), EST_OK);
	assert_int_equal(est_ocsp_request_entry(req, 0, t.ca, &ours, &serial, &e), EST_OK);
	assert_false(ours);
	free(serial);
	assert_int_equal(est_ocsp_error_response(EST_OCSP_UNAUTHORIZED, &eder, &elen, &e), EST_OK);
	p = eder;
	assert_non_null(resp = d2i_OCSP_RESPONSE(NULL, &p, (long)elen));
	assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_UNAUTHORIZED);
	OCSP_RESPONSE_free(resp);
	free(eder);
	est_ocsp_request_free(req);
	OCSP_REQUEST_free(keep);
	OPENSSL_free(der);
}

/*
 * A responder certificate out of its validity is refused when loaded: every
 * response it signed would fail at every relying party (openssl ocsp:
 * "certificate has expired"), silently.
 */
static void
test_expired_responder(void **state)
{
	struct est_ca_revocation rv = { .ocsp_cert_path = t.rcert_path, .ocsp_key_path = t.rkey_path };
	struct est_error e = { 0 };
	struct est_ca *ca = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;

	(void)state;
	assert_int_equal(est_ca_load("x", t.cert_path, t.key_path, NULL, &ca, &e), EST_OK);
	assert_int_equal(est_key_generate("ec:P-256", &key, &e), EST_OK);
	assert_int_equal(est_ca_issue_ocsp_responder(ca, key, "x OCSP", 30, &cert, &e), EST_OK);
	assert_non_null(X509_time_adj_ex(X509_getm_notBefore(cert), -3, 0, NULL));
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(cert), -1, 0, NULL));
	assert_true(X509_sign(cert, t.key, EVP_sha256()) > 0);
	assert_int_equal(est_key_write(t.rkey_path, key, &e), EST_OK);
	assert_int_equal(est_cert_write(t.rcert_path, cert, &e), EST_OK);
	assert_int_equal(est_ca_set_revocation(ca, &rv, &e), EST_ERR_CONFIG);
	assert_non_null(strstr(e.msg, "expired"));
	unlink(t.rkey_path);
	unlink(t.rcert_path);
	X509_free(cert);
	EVP_PKEY_free(key);
	est_ca_free(ca);
}

/* Point 2: a delegated responder from est_ca_issue_ocsp_responder signs. */
static void
test_delegated_responder(void **state)
{
	struct est_ocsp_status good = { .status = EST_OCSP_GOOD };
	struct est_ca_revocation rv = { .ocsp_cert_path = t.rcert_path, .ocsp_key_path = t.rkey_path };
	struct est_error e = { 0 };
	OCSP_REQUEST *keep = NULL;
	OCSP_BASICRESP *bs;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL, *signer = NULL;
	size_t len = 0;
	unsigned char *der;
	int reason;

	(void)state;
	assert_int_equal(est_key_generate("ec:P-256", &key, &e), EST_OK);
	assert_int_equal(est_ca_issue_ocsp_responder(t.ca, key, "t OCSP", 30, &cert, &e), EST_OK);
	assert_true((X509_get_extended_key_usage(cert) & XKU_OCSP_SIGN) != 0);
	assert_true(X509_get_ext_by_NID(cert, NID_id_pkix_OCSP_noCheck, -1) >= 0);
	assert_int_equal(X509_check_ca(cert), 0);
	assert_int_equal(est_key_write(t.rkey_path, key, &e), EST_OK);
	assert_int_equal(est_cert_write(t.rcert_path, cert, &e), EST_OK);
	assert_int_equal(est_ca_set_revocation(t.ca, &rv, &e), EST_OK);
	der = ocsp_request(t.leaf, t.cert, EVP_sha1(), &len, &keep);
	bs = respond(der, len, &good);
	assert_int_equal(status_of(bs, keep, EVP_sha1(), &reason), V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(OCSP_resp_get0_signer(bs, &signer, NULL), 1);
	assert_int_equal(X509_cmp(signer, cert), 0);
	OCSP_BASICRESP_free(bs);
	OCSP_REQUEST_free(keep);
	OPENSSL_free(der);
	X509_free(cert);
	EVP_PKEY_free(key);
}

/*
 * A delegated responder that expires while estd runs: from then on the CA
 * signs, since every relying party refuses a response under an expired
 * responder ("certificate has expired").
 */
static void
test_responder_expires(void **state)
{
	struct est_ca_revocation rv = { .ocsp_cert_path = t.rcert_path, .ocsp_key_path = t.rkey_path };
	struct est_ocsp_status good = { .status = EST_OCSP_GOOD };
	struct est_ocsp_request *req = NULL;
	struct est_error e = { 0 };
	struct est_ca *ca = NULL;
	OCSP_REQUEST *keep = NULL;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL, *signer = NULL;
	unsigned char *der, *rder = NULL;
	const unsigned char *p;
	size_t len = 0, rlen = 0;
	time_t at[] = { time(NULL), time(NULL) + 3 * 86400 };

	(void)state;
	assert_int_equal(est_ca_load("x", t.cert_path, t.key_path, NULL, &ca, &e), EST_OK);
	assert_int_equal(est_key_generate("ec:P-256", &key, &e), EST_OK);
	assert_int_equal(est_ca_issue_ocsp_responder(ca, key, "x OCSP", 1, &cert, &e), EST_OK);
	assert_int_equal(est_key_write(t.rkey_path, key, &e), EST_OK);
	assert_int_equal(est_cert_write(t.rcert_path, cert, &e), EST_OK);
	assert_int_equal(est_ca_set_revocation(ca, &rv, &e), EST_OK);
	/* A response kept for reuse stops at the responder's last second, where
	 * the signer changes; after it, the CA signs whatever the reuse. */
	assert_int_equal(est_ocsp_signer_until(ca, at[0], at[0] + 60), at[0] + 60);
	assert_true(est_ocsp_signer_until(ca, at[0], at[0] + 3 * 86400) <= at[0] + 86400);
	assert_true(est_ocsp_signer_until(ca, at[0], at[0] + 3 * 86400) >= at[0] + 86400 - 60);
	assert_int_equal(est_ocsp_signer_until(ca, at[1], at[1] + 60), at[1] + 60);
	der = ocsp_request(t.leaf, t.cert, EVP_sha1(), &len, &keep);
	assert_int_equal(est_ocsp_request_parse(der, len, &req, &e), EST_OK);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(est_ocsp_respond(ca, req, &good, at[i], 3600, &rder, &rlen, &e),
		    EST_OK);
		p = rder;
		assert_non_null(resp = d2i_OCSP_RESPONSE(NULL, &p, (long)rlen));
		assert_non_null(bs = OCSP_response_get1_basic(resp));
		assert_int_equal(OCSP_resp_get0_signer(bs, &signer, NULL), 1);
		/* Now the responder; after its day, the CA. */
		assert_int_equal(X509_cmp(signer, i == 0 ? cert : t.cert), 0);
		OCSP_BASICRESP_free(bs);
		OCSP_RESPONSE_free(resp);
		free(rder);
	}
	est_ocsp_request_free(req);
	OCSP_REQUEST_free(keep);
	OPENSSL_free(der);
	unlink(t.rkey_path);
	unlink(t.rcert_path);
	X509_free(cert);
	EVP_PKEY_free(key);
	est_ca_free(ca);
}

/* Remove the SQLite store t.dir/name with its WAL and shared-memory files. */
static void
remove_store(const char *name)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	char path[128];

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s%s", t.dir, name, suffixes[i]);
		unlink(path);
	}
}

/*
 * Point 1: est_crl_current keeps the stored CRL while current, makes the
 * next number when forced, and never gives two CRLs one thisUpdate (so
 * Last-Modified tells them apart), also across a reopened store.
 */
static void
test_crl_current(void **state)
{
	char path[128];
	struct est_store *st = NULL;
	struct est_error e = { 0 };
	struct est_crl_rec *a = NULL, *b = NULL, *c = NULL;
	time_t now = time(NULL);
	bool made = false;

	(void)state;
	snprintf(path, sizeof(path), "%s/store.db", t.dir);
	assert_int_equal(est_store_create(path, &st, &e), EST_OK);
	assert_int_equal(est_crl_current(st, t.ca, 3600, now, false, &a, &made, &e), EST_OK);
	assert_true(made);
	assert_int_equal(a->crl_number, 1);
	assert_int_equal(est_crl_current(st, t.ca, 3600, now, true, &b, &made, &e), EST_OK);
	assert_true(made);
	assert_int_equal(b->crl_number, 2);
	assert_true(b->this_update > a->this_update);
	est_store_close(st);
	assert_int_equal(est_store_open(path, &st, &e), EST_OK);
	assert_int_equal(est_crl_current(st, t.ca, 3600, b->this_update, false, &c, &made, &e), EST_OK);
	assert_false(made);
	assert_int_equal(c->crl_number, 2);
	est_crl_rec_free(c);
	/* Half its validity spent: renewed, under the next number. */
	assert_int_equal(est_crl_current(st, t.ca, 3600, b->this_update + 1800, false, &c, &made, &e),
	    EST_OK);
	assert_true(made);
	assert_int_equal(c->crl_number, 3);
	/*
	 * Made by a server whose clock is behind the one that made CRL 3 (two
	 * estd on one store): its thisUpdate still comes after CRL 3's, or
	 * relying parties holding both would keep the older one.
	 */
	est_crl_rec_free(a);
	assert_int_equal(est_crl_current(st, t.ca, 3600, c->this_update - 100, true, &a, &made, &e),
	    EST_OK);
	assert_int_equal(a->crl_number, 4);
	assert_true(a->this_update > c->this_update);
	assert_true(a->next_update > c->next_update);
	est_crl_rec_free(a);
	/* A thisUpdate far ahead (a clock that was wrong) is not followed. */
	assert_int_equal(est_crl_current(st, t.ca, 3600, c->this_update - 100000, true, &a, &made,
	    &e), EST_OK);
	assert_int_equal(a->this_update, c->this_update - 100000);
	est_crl_rec_free(a);
	est_crl_rec_free(b);
	est_crl_rec_free(c);
	est_store_close(st);
	remove_store("store.db");
}

/*
 * est_crl_stored, what estd's event loops call: it reads the stored CRL and
 * judges it as est_crl_current would, and never makes one.
 */
static void
test_crl_stored(void **state)
{
	char path[128];
	struct est_store *st = NULL;
	struct est_error e = { 0 };
	struct est_crl_rec *a = NULL, *b = NULL;
	time_t now = time(NULL);
	bool made = false, current = true;

	(void)state;
	snprintf(path, sizeof(path), "%s/stored.db", t.dir);
	assert_int_equal(est_store_create(path, &st, &e), EST_OK);
	assert_int_equal(est_crl_stored(st, t.ca, now, &b, &current, &e), EST_OK);
	assert_null(b);
	assert_false(current);
	assert_int_equal(est_crl_current(st, t.ca, 3600, now, false, &a, &made, &e), EST_OK);
	assert_int_equal(est_crl_stored(st, t.ca, now, &b, &current, &e), EST_OK);
	assert_true(current);
	assert_int_equal(b->crl_number, a->crl_number);
	assert_int_equal(b->der_len, a->der_len);
	est_crl_rec_free(b);
	/* Half its validity spent: stale, and still the only one stored. */
	assert_int_equal(est_crl_stored(st, t.ca, a->this_update + 1800, &b, &current, &e), EST_OK);
	assert_false(current);
	assert_int_equal(b->crl_number, a->crl_number);
	est_crl_rec_free(a);
	est_crl_rec_free(b);
	est_store_close(st);
	remove_store("stored.db");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cdp_aia),
		cmocka_unit_test(test_bad_revocation_config),
		cmocka_unit_test(test_crl),
		cmocka_unit_test(test_ocsp_good_revoked),
		cmocka_unit_test(test_ocsp_malformed),
		cmocka_unit_test(test_ocsp_get),
		cmocka_unit_test(test_ocsp_other_issuer),
		cmocka_unit_test(test_expired_responder),
		cmocka_unit_test(test_responder_expires),
		cmocka_unit_test(test_delegated_responder),
		cmocka_unit_test(test_crl_current),
		cmocka_unit_test(test_crl_stored),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
