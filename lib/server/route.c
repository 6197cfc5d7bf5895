/*
 * Routing: /.well-known/est[/<alias>]/<operation> to a handler.
 *
 * One row per operation. A path matches exactly (no prefix matching); an
 * unknown alias, a second label or an unknown operation is 404 (EST-S-05);
 * a wrong method is 405 with Allow (EST-S-06); a POST with another media
 * type is 415 (EST-S-07). A plain-HTTP listener serves /cacerts only.
 * CRLs and OCSP (h_crl.c, h_ocsp.c) live outside /.well-known/est/ at the
 * configured paths, on every listener.
 */
#include <string.h>
#include <strings.h>

#include "server/server_int.h"

#define EST_PREFIX "/.well-known/est/"

struct route {
	const char *op;
	const char *method;            /* GET routes also answer HEAD */
	const char *media_type;        /* required request type, or NULL */
	bool plain_ok;                 /* may be served without TLS */
	void (*handler)(struct est_req *);
};

static void h_not_offered(struct est_req *r);

/* Paths outside /.well-known/est/, for relying parties: each claims its own. */
static const struct {
	bool (*claims)(struct est_req *);
	void (*handler)(struct est_req *);
} other_routes[] = {
	{ crl_claims, h_crl },
	{ ocsp_claims, h_ocsp },
};

static const struct route routes[] = {
	{ "cacerts", "GET", NULL, true, h_cacerts },
	{ "simpleenroll", "POST", "application/pkcs10", false, h_simpleenroll },
	{ "simplereenroll", "POST", "application/pkcs10", false, h_simplereenroll },
	{ "serverkeygen", "POST", "application/pkcs10", false, h_serverkeygen },
	{ "csrattrs", "GET", NULL, false, h_csrattrs },
	{ "fullcmc", "POST", "application/pkcs7-mime", false, h_not_offered },
};

static void
h_not_offered(struct est_req *r)
{
	struct est_error e = { 0 };

	est_fail(&e, EST_ERR_NOTIMPL, "/%s is not offered by this server", r->op);
	http_fail(r, &e);
}

/* Type/subtype compared case-insensitively, parameters ignored (EST-G-13). */
static bool
media_type_is(const char *header, const char *want)
{
	size_t n = strlen(want);

	if (header == NULL)
		return false;
	while (*header == ' ' || *header == '\t')
		header++;
	if (strncasecmp(header, want, n) != 0)
		return false;
	header += n;
	while (*header == ' ' || *header == '\t')
		header++;
	return *header == '\0' || *header == ';';
}

static struct est_alias *
find_alias(struct est_server *srv, const char *name, size_t len)
{
	for (size_t i = 0; i < srv->n_aliases; i++) {
		const char *an = srv->aliases[i].conf->name;

		if (strlen(an) == len && memcmp(an, name, len) == 0)
			return &srv->aliases[i];
	}
	return NULL;
}

static const struct route *
find_route(const char *op)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(routes[i].op, op) == 0)
			return &routes[i];
	return NULL;
}

/* Split the path after the prefix into alias and operation; 404 otherwise. */
static enum est_err
parse_path(struct est_req *r, const char *path, const struct route **rt, struct est_error *e)
{
	const char *rest, *slash;
	struct est_server *srv = r->worker->srv;

	if (path == NULL || strncmp(path, EST_PREFIX, strlen(EST_PREFIX)) != 0)
		return est_fail(e, EST_ERR_NOTFOUND, "not an EST path; EST lives under /.well-known/est/");
	rest = path + strlen(EST_PREFIX);
	slash = strchr(rest, '/');
	if (slash == NULL) {
		r->alias = srv->default_alias;
	} else {
		if (strchr(slash + 1, '/') != NULL)
			return est_fail(e, EST_ERR_NOTFOUND, "EST paths have at most one label");
		r->alias = find_alias(srv, rest, (size_t)(slash - rest));
		if (r->alias == NULL)
			return est_fail(e, EST_ERR_NOTFOUND, "no EST alias \"%.*s\" on this server",
			    (int)(slash - rest) > 64 ? 64 : (int)(slash - rest), rest);
		rest = slash + 1;
	}
	*rt = find_route(rest);
	if (*rt == NULL)
		return est_fail(e, EST_ERR_NOTFOUND, "no EST operation \"%.64s\"", rest);
	r->op = (*rt)->op;
	return EST_OK;
}

static enum est_err
check_request(struct est_req *r, const struct route *rt, struct est_error *e)
{
	const char *m = http_method(r);
	bool is_get = strcmp(rt->method, "GET") == 0;

	if (strcmp(m, rt->method) != 0 && !(is_get && strcmp(m, "HEAD") == 0)) {
		http_add_header(r, "Allow", is_get ? "GET, HEAD" : "POST");
		return est_fail(e, EST_ERR_METHOD, "/%s takes %s", rt->op, rt->method);
	}
	if (!rt->plain_ok && !r->tls->tls)
		return est_fail(e, EST_ERR_FORBIDDEN,
		    "/%s needs HTTPS; this listener is plain HTTP and serves /cacerts only", rt->op);
	if (rt->media_type != NULL && !media_type_is(http_header(r, "Content-Type"), rt->media_type))
		return est_fail(e, EST_ERR_MEDIATYPE, "/%s takes Content-Type: %s", rt->op, rt->media_type);
	return EST_OK;
}

void
route_request(struct est_req *r)
{
	const struct route *rt = NULL;
	struct est_error e = { 0 };

	for (size_t i = 0; i < sizeof(other_routes) / sizeof(other_routes[0]); i++) {
		if (other_routes[i].claims(r)) {
			other_routes[i].handler(r);
			return;
		}
	}
	if (parse_path(r, r->head->path, &rt, &e) != EST_OK ||
	    check_request(r, rt, &e) != EST_OK) {
		http_fail(r, &e);
		return;
	}
	rt->handler(r);
}
