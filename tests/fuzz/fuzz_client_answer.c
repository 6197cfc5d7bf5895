/*
 * Fuzz how the client reads an EST server's answer (lib/client/answer.c,
 * response.c): an input is a Content-Type line, a Retry-After line and the
 * body, as transport.c hands them over. Each goes through the status check
 * for every status the client treats apart, the certs-only reader
 * (/cacerts, enrolment, against a fixed key and a fixed trust anchor) and
 * the /serverkeygen multipart reader; the Content-Type line also goes
 * through the WWW-Authenticate reader.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "client/client_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = { 202, 400, 401, 403, 404, 405, 413, 415, 418, 500, 501, 503, 302 };

static EVP_PKEY *key;
static STACK_OF(X509) *anchors, *no_bag;   /* no /cacerts is ever fetched here */

/* The next line of [*p, end) into out (at most outlen - 1 bytes, CR dropped). */
static void
take_line(const uint8_t **p, const uint8_t *end, char *out, size_t outlen)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t len = (size_t)((nl != NULL ? nl : end) - *p);

	if (len > 0 && (*p)[len - 1] == '\r')
		len--;
	if (len >= outlen)
		len = outlen - 1;
	memcpy(out, *p, len);
	out[len] = '\0';
	*p = nl != NULL ? nl + 1 : end;
}

/* A self-signed CA certificate for key: the fuzz run's trust anchor. */
static X509 *
make_anchor(void)
{
	X509 *x = X509_new();

	if (x == NULL || !X509_set_version(x, X509_VERSION_3) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"fuzz CA", -1, -1, 0) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(x)) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
	    !X509_set_pubkey(x, key) || X509_sign(x, key, EVP_sha256()) <= 0)
		abort();
	return x;
}

static void
answers(struct est_client *c, struct cl_response *r)
{
	struct est_enroll_req req = { 0 };
	struct est_enroll_result res = { 0 };
	struct est_cert_expect want = { .key = key, .any_names = true };
	STACK_OF(X509) *certs = NULL;

	if (cl_certs_answer("cacerts", r, &certs, NULL) == EST_OK) {
		est_cacerts_validate(certs, anchors, NULL, NULL);
		sk_X509_pop_free(certs, X509_free);
	}
	if (cl_enroll_answer(c, "simpleenroll", r, &want, &res, NULL) == EST_OK)
		est_enroll_result_clear(&res);
	if (cl_keygen_answer(c, r, &req, &want, &res, NULL) == EST_OK)
		est_enroll_result_clear(&res);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct est_client c;
	struct cl_response r;
	const uint8_t *p = data, *end = data + size;

	if (key == NULL && ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    (anchors = sk_X509_new_null()) == NULL || (no_bag = sk_X509_new_null()) == NULL ||
	    !sk_X509_push(anchors, make_anchor())))
		abort();
	memset(&c, 0, sizeof(c));
	c.tas = anchors;
	c.cabag = no_bag;
	(void)cl_challenges((const char *)data, size);
	memset(&r, 0, sizeof(r));
	take_line(&p, end, r.content_type, sizeof(r.content_type));
	take_line(&p, end, r.retry_after, sizeof(r.retry_after));
	if (cl_retry_after(r.retry_after) > 86400 * 365)
		abort();
	r.len = (size_t)(end - p);
	if ((r.body = malloc(r.len + 1)) == NULL)
		return 0;
	memcpy(r.body, p, r.len);
	r.body[r.len] = '\0';
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		r.status = statuses[i];
		if (cl_answer_check(&c, "simpleenroll", 200, &r, NULL) == EST_OK)
			abort();
	}
	r.status = 200;
	answers(&c, &r);
	free(r.body);
	return 0;
}
