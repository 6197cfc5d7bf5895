/*
 * Redirects (RFC 7030 §3.2.1, est-conformance.md EST-G-15): a 3xx to the
 * same origin -- scheme, host and port of the server the checks were made
 * on -- is followed; the TLS checks hold for the whole origin, and libcurl
 * redoes them on any new connection. So every redirect URI names the host
 * the certificate is checked for under RFC 6125, whichever trust anchor
 * vouched for it (EST-C-22). Anything else stops with the Location
 * shown, so a person decides whether that other server is to be trusted.
 * libcurl's own redirect following stays off: it would not re-bind a CSR.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "client/client_int.h"
#include "estkit/log.h"

bool
cl_is_redirect(const struct cl_response *r)
{
	return r->status == 301 || r->status == 302 || r->status == 303 ||
	    r->status == 307 || r->status == 308;
}

/* Scheme, host and port of url (malloc'd by libcurl); false when unparsable. */
static bool
origin_of(CURLU *u, char **scheme, char **host, char **port)
{
	*scheme = *host = *port = NULL;
	return curl_url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) == CURLUE_OK;
}

static bool
same_origin(const char *a, const char *b)
{
	CURLU *ua = curl_url(), *ub = curl_url();
	char *s1, *h1, *p1, *s2, *h2, *p2;
	bool same = false;

	if (ua != NULL && ub != NULL && curl_url_set(ua, CURLUPART_URL, a, 0) == CURLUE_OK &&
	    curl_url_set(ub, CURLUPART_URL, b, 0) == CURLUE_OK) {
		bool oa = origin_of(ua, &s1, &h1, &p1), ob = origin_of(ub, &s2, &h2, &p2);

		same = oa && ob && strcasecmp(s1, s2) == 0 && strcasecmp(h1, h2) == 0 &&
		    strcmp(p1, p2) == 0;
		curl_free(s1);
		curl_free(h1);
		curl_free(p1);
		curl_free(s2);
		curl_free(h2);
		curl_free(p2);
	}
	curl_url_cleanup(ua);
	curl_url_cleanup(ub);
	return same;
}

enum est_err
cl_redirect_target(struct est_client *c, const char *op, const char *from,
    const struct cl_response *r, char *url, size_t len, struct est_error *e)
{
	CURLU *u = curl_url();
	char *abs = NULL;
	enum est_err rc = EST_OK;

	c->failed_status = r->status;
	if (u == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	/* Location may be relative: resolve it against the request's URL. */
	if (r->location[0] == '\0' || curl_url_set(u, CURLUPART_URL, from, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_URL, r->location, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &abs, 0) != CURLUE_OK)
		rc = est_fail(e, EST_ERR_SERVER, "/%s: HTTP %ld redirect with no usable Location "
		    "(\"%.200s\")", op, r->status, r->location);
	else if (!same_origin(c->base, abs))
		rc = est_fail(e, EST_ERR_SERVER, "/%s: HTTP %ld: redirected to another server, "
		    "%.200s: not followed (RFC 7030 §3.2.1); if you trust it, use --server with "
		    "that URL", op, r->status, abs);
	else if ((size_t)snprintf(url, len, "%s", abs) >= len)
		rc = est_fail(e, EST_ERR_SERVER, "/%s: the redirect's Location is too long", op);
	curl_free(abs);
	curl_url_cleanup(u);
	return rc;
}

enum est_err
cl_get(struct est_client *c, const char *op, struct cl_response *r, struct est_error *e)
{
	char url[1024], next[1024];
	enum est_err rc;

	snprintf(url, sizeof(url), "%s/%s", c->base, op);
	for (int hop = 0;; hop++) {
		if ((rc = cl_request_url(c, url, op, NULL, 0, r, e)) != EST_OK ||
		    !cl_is_redirect(r) || hop >= CL_REDIRECTS_MAX)
			return rc;
		if ((rc = cl_redirect_target(c, op, url, r, next, sizeof(next), e)) != EST_OK)
			return rc;
		log_info("/%s: HTTP %ld: following the redirect to %s", op, r->status, next);
		snprintf(url, sizeof(url), "%s", next);
		cl_response_clear(r);
	}
}
