/*
 * What the client accepts from its server: the /cacerts bag once it has
 * been validated (trust.c), and an issued certificate once it verifies up
 * to the explicit trust anchors (est-conformance.md EST-C-12, EST-C-52).
 *
 * The validated bag is kept on the client: its intermediates help verify
 * issued certificates, and with an Implicit TA (the system store) its
 * current root -- fetched over the connection the system store
 * authenticated -- becomes the explicit anchor for them (RFC 7030 §4.1.3).
 * It is fetched only when needed: with an explicit anchor, and a
 * certificate that verifies without the bag, no extra request is made.
 */
#include <string.h>

#include <openssl/x509_vfy.h>

#include "client/client_int.h"

enum est_err
cl_cacerts_get(struct est_client *c, struct est_error *e)
{
	STACK_OF(X509) *certs = NULL, *roots = NULL;
	struct cl_response r;
	enum est_err rc;

	if ((rc = cl_get(c, "cacerts", &r, e)) == EST_OK &&
	    (rc = cl_answer_check(c, "cacerts", 200, &r, e)) == EST_OK &&
	    (rc = cl_certs_answer("cacerts", &r, &certs, e)) == EST_OK)
		rc = est_cacerts_validate(certs, c->tas, &roots, e);
	cl_response_clear(&r);
	if (rc != EST_OK) {
		sk_X509_pop_free(certs, X509_free);
		return rc;
	}
	sk_X509_pop_free(c->cabag, X509_free);
	sk_X509_pop_free(c->caroots, X509_free);
	c->cabag = certs;
	c->caroots = roots;
	return EST_OK;
}

/* extra and the validated bag, as one stack of borrowed certificates. */
static STACK_OF(X509) *
helpers(struct est_client *c, STACK_OF(X509) *extra)
{
	STACK_OF(X509) *h = sk_X509_new_null();

	for (int i = 0; h != NULL && i < sk_X509_num(extra); i++)
		if (!sk_X509_push(h, sk_X509_value(extra, i))) {
			sk_X509_free(h);
			return NULL;
		}
	for (int i = 0; h != NULL && i < sk_X509_num(c->cabag); i++)
		if (!sk_X509_push(h, sk_X509_value(c->cabag, i))) {
			sk_X509_free(h);
			return NULL;
		}
	return h;
}

static enum est_err
validate_once(struct est_client *c, X509 *cert, STACK_OF(X509) *extra,
    const struct est_cert_expect *want, STACK_OF(X509) **chain, struct est_error *e)
{
	STACK_OF(X509) *h = helpers(c, extra);
	enum est_err rc;

	if (h == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	rc = est_cert_validate(cert, h, c->tas != NULL ? c->tas : c->caroots, want, chain, e);
	sk_X509_free(h);
	return rc;
}

enum est_err
cl_issued_check(struct est_client *c, const char *op, X509 *cert, STACK_OF(X509) *extra,
    const struct est_cert_expect *want, STACK_OF(X509) **chain, struct est_error *e)
{
	const struct est_cert_expect chain_only = { .any_names = true };
	struct est_error sub = { 0 };
	enum est_err rc;

	/* Without an explicit anchor the bag's root is the one. */
	if (c->tas == NULL && c->caroots == NULL && (rc = cl_cacerts_get(c, e)) != EST_OK)
		return rc;
	/* An intermediate may be missing from the answer: the bag has it. */
	if (c->cabag == NULL && validate_once(c, cert, extra, &chain_only, NULL, &sub) ==
	    EST_ERR_SERVER && (rc = cl_cacerts_get(c, e)) != EST_OK)
		return rc;
	rc = validate_once(c, cert, extra, want, chain, &sub);
	if (rc == EST_ERR_SERVER)
		return est_fail(e, rc, "/%s: %s: refused", op, sub.msg);
	if (rc != EST_OK)
		return est_fail(e, rc, "/%s: %s", op, sub.msg);
	return EST_OK;
}
