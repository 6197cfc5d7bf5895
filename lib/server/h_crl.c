/*
 * GET <crl-path>/<CA name>.crl: a CA's current CRL, DER, as
 * application/pkix-crl (RFC 5280 §4.2.1.13, RFC 2585 §4.2), on every
 * listener (relying parties fetch CRLs over plain HTTP). <CA name>.crt is
 * the CA certificate, DER, application/pkix-cert: what an issued
 * certificate's authorityInfoAccess caIssuers may point to (§4.2.2.1).
 *
 * The CRL is checked against the store's revocation revision on every
 * request, so a revocation shows at once. ETag (the CRL number) and
 * Last-Modified (thisUpdate) let a relying party revalidate cheaply.
 *
 * A request only reads the store (est_crl_stored). A current CRL is
 * answered at once; when a new one must be made (a revocation since, or
 * half its validity spent), the request is deferred and the CRL keeper
 * makes it off the event loop (crl_keeper.c), once for all the requests
 * waiting, which it answers through crl_reply.
 */
#define _GNU_SOURCE /* strptime */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "estkit/revoke.h"
#include "server/server_int.h"

#define CRL_SUFFIX ".crl"
#define CRT_SUFFIX ".crt"

/* The part of the path after "<crl-path>/", or NULL when it is not under it. */
static const char *
crl_tail(struct est_req *r)
{
	const char *prefix = r->worker->srv->cfg->crl_path;
	size_t n = strlen(prefix);

	if (strncmp(r->head->path, prefix, n) != 0 || r->head->path[n] != '/')
		return NULL;
	return r->head->path + n + 1;
}

bool
crl_claims(struct est_req *r)
{
	if (crl_tail(r) == NULL)
		return false;
	r->op = "crl";
	return true;
}

/* Index of the CA whose file (suffix ".crl" or ".crt") tail names, or -1. */
static int
find_ca(struct est_server *srv, const char *tail, const char *suffix)
{
	size_t n = strlen(tail), sn = strlen(suffix);

	if (n <= sn || strcmp(tail + n - sn, suffix) != 0)
		return -1;
	for (size_t i = 0; i < srv->n_cas; i++) {
		const char *name = est_ca_name(srv->cas[i]);

		if (strlen(name) == n - sn && memcmp(name, tail, n - sn) == 0 &&
		    est_ca_can_issue(srv->cas[i]))
			return (int)i;
	}
	return -1;
}

static void
http_date(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* RFC 9110 §13.1.2/§13.1.3: If-None-Match wins over If-Modified-Since. */
static bool
not_modified(struct est_req *r, const char *etag, int64_t this_update)
{
	const char *inm = http_header(r, "If-None-Match");
	const char *ims = http_header(r, "If-Modified-Since");
	struct tm tm;
	const char *end;

	if (inm != NULL)
		return strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL;
	if (ims == NULL)
		return false;
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(ims, "%a, %d %b %Y %H:%M:%S GMT", &tm)) == NULL || *end != '\0')
		return false;
	return this_update <= (int64_t)timegm(&tm);
}

static void
reply_ca_cert(struct est_req *r, const struct est_ca *ca)
{
	struct est_error e = { 0 };
	unsigned char *der = NULL;
	int len;

	if ((len = i2d_X509(est_ca_cert(ca), &der)) <= 0) {
		est_fail(&e, EST_ERR_CRYPTO, "cannot encode the certificate of CA %s", est_ca_name(ca));
		http_fail(r, &e);
		return;
	}
	http_reply(r, 200, "application/pkix-cert", der, (size_t)len);
	OPENSSL_free(der);
}

void
crl_reply(struct est_req *r, const struct est_crl_rec *crl)
{
	char etag[40], date[64];

	snprintf(etag, sizeof(etag), "\"crl-%lld\"", (long long)crl->crl_number);
	http_date(crl->this_update, date, sizeof(date));
	http_add_header(r, "ETag", etag);
	http_add_header(r, "Last-Modified", date);
	/* A revocation may come before nextUpdate: caches revalidate (cheap, 304). */
	http_add_header(r, "Cache-Control", "no-cache");
	if (not_modified(r, etag, crl->this_update))
		http_reply(r, 304, NULL, NULL, 0);
	else
		http_reply(r, 200, "application/pkix-crl", crl->der, crl->der_len);
}

void
h_crl(struct est_req *r)
{
	struct est_error e = { 0 };
	struct est_crl_rec *crl = NULL;
	const char *m = http_method(r);
	bool current = false;
	int i;

	if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
		http_add_header(r, "Allow", "GET, HEAD");
		est_fail(&e, EST_ERR_METHOD, "CRLs are fetched with GET");
		http_fail(r, &e);
		return;
	}
	if ((i = find_ca(r->worker->srv, crl_tail(r), CRT_SUFFIX)) >= 0) {
		reply_ca_cert(r, r->worker->srv->cas[i]);
		return;
	}
	if ((i = find_ca(r->worker->srv, crl_tail(r), CRL_SUFFIX)) < 0) {
		est_fail(&e, EST_ERR_NOTFOUND, "no CRL at %.80s", r->head->path);
		http_fail(r, &e);
		return;
	}
	if (est_crl_stored(r->worker->store, r->worker->srv->cas[i], time(NULL), &crl, &current,
	    &e) != EST_OK)
		http_fail(r, &e);
	else if (current)
		crl_reply(r, crl);
	else
		crl_keeper_ask(r, (size_t)i);
	est_crl_rec_free(crl);
}
