/*
 * Fuzz how the client reads an EST server's answer (lib/client/answer.c,
 * response.c): an input is a Content-Type line, a Retry-After line and the
 * body, as transport.c hands them over. Each goes through the status check
 * for every status the client treats apart, the certs-only reader
 * (/cacerts, enrolment, against a fixed key) and the /serverkeygen
 * multipart reader.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "client/client_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = { 202, 400, 401, 403, 404, 405, 413, 415, 418, 500, 501, 503, 302 };

static EVP_PKEY *key;

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

static void
answers(struct est_client *c, struct cl_response *r)
{
	struct est_enroll_req req = { 0 };
	struct est_enroll_result res = { 0 };
	STACK_OF(X509) *certs = NULL;

	if (cl_certs_answer("cacerts", r, &certs, NULL) == EST_OK)
		sk_X509_pop_free(certs, X509_free);
	if (cl_enroll_answer("simpleenroll", r, key, &res, NULL) == EST_OK)
		est_enroll_result_clear(&res);
	if (cl_keygen_answer(c, r, &req, &res, NULL) == EST_OK)
		est_enroll_result_clear(&res);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct est_client c;
	struct cl_response r;
	const uint8_t *p = data, *end = data + size;

	if (key == NULL && (key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		abort();
	memset(&c, 0, sizeof(c));
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
