/*
 * The client object: checks the configuration, works out the base URL
 * (RFC 7030 §3.1, est-conformance.md EST-C-01) and owns every copy it made.
 *
 * The base URL is always https://HOST:PORT/.well-known/est[/LABEL]; a URL
 * given whole is taken apart with libcurl's URL parser, never by hand, and
 * any path other than the well-known one is refused rather than guessed at.
 */
#include <arpa/inet.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "client/client_int.h"
#include "estkit/codec.h"

#define WELL_KNOWN "/.well-known/est"
#define LABEL_MAX 64

static const char *const operations[] = {
	"cacerts", "simpleenroll", "simplereenroll", "fullcmc", "serverkeygen", "csrattrs",
};

/* One path segment of unreserved characters that is not an operation name
 * (RFC 7030 §3.2.2, EST-S-04). */
static enum est_err
check_label(const char *label, struct est_error *e)
{
	size_t n = strlen(label);

	if (n == 0 || n > LABEL_MAX || strspn(label, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~") != n)
		return est_fail(e, EST_ERR_CONFIG, "label \"%s\": use 1-%d letters, digits, "
		    "'-', '.', '_' or '~'", label, LABEL_MAX);
	for (size_t i = 0; i < sizeof(operations) / sizeof(operations[0]); i++)
		if (strcmp(label, operations[i]) == 0)
			return est_fail(e, EST_ERR_CONFIG, "label \"%s\" is the name of an EST "
			    "operation, which RFC 7030 forbids as a label", label);
	return EST_OK;
}

/* "https://host:port/.well-known/est[/label]" into c->base, host into c->host. */
static enum est_err
set_base(struct est_client *c, const char *host, unsigned port, const char *label,
    struct est_error *e)
{
	unsigned char addr[16];
	enum est_err rc;
	size_t n;
	bool v6;

	if (label != NULL && (rc = check_label(label, e)) != EST_OK)
		return rc;
	if (host[0] == '\0' || strpbrk(host, "/?#@ ") != NULL)
		return est_fail(e, EST_ERR_CONFIG, "server \"%s\" is not a host name or address", host);
	v6 = inet_pton(AF_INET6, host, addr) == 1;
	c->host_is_ip = v6 || inet_pton(AF_INET, host, addr) == 1;
	n = strlen(host) + strlen(WELL_KNOWN) + (label ? strlen(label) : 0) + 32;
	if ((c->host = strdup(host)) == NULL || (c->base = malloc(n)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	snprintf(c->base, n, "https://%s%s%s:%u" WELL_KNOWN "%s%s", v6 ? "[" : "", host,
	    v6 ? "]" : "", port == 0 ? 443 : port, label ? "/" : "", label ? label : "");
	return EST_OK;
}

/* The label in a URL path: "", "/", "/.well-known/est[/][LABEL[/]]". */
static enum est_err
label_of_path(char *path, char **label, struct est_error *e)
{
	size_t n = strlen(path);

	*label = NULL;
	if (n > 0 && path[n - 1] == '/')
		path[--n] = '\0';
	if (n == 0)
		return EST_OK;
	if (strncmp(path, WELL_KNOWN, strlen(WELL_KNOWN)) != 0 ||
	    (path[strlen(WELL_KNOWN)] != '\0' && path[strlen(WELL_KNOWN)] != '/'))
		return est_fail(e, EST_ERR_CONFIG, "server URL path \"%s\": EST lives under "
		    WELL_KNOWN "[/LABEL]", path);
	if (path[strlen(WELL_KNOWN)] == '/')
		*label = path + strlen(WELL_KNOWN) + 1;
	return EST_OK;
}

/* Host, port and label out of "https://HOST[:PORT][/.well-known/est[/LABEL]]". */
static enum est_err
parse_url(struct est_client *c, const char *url, struct est_error *e)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *label;
	enum est_err rc = EST_ERR_CONFIG;
	size_t hl;

	if (u == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
		est_fail(e, rc, "server URL \"%s\" is malformed: use https://HOST[:PORT]"
		    "[" WELL_KNOWN "/LABEL]", url);
	} else if (strcasecmp(scheme, "https") != 0) {
		est_fail(e, rc, "server URL \"%s\": EST needs https (RFC 7030 §3.3)", url);
	} else if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
		est_fail(e, rc, "server URL \"%s\" must not have a query", url);
	} else if ((rc = label_of_path(path, &label, e)) == EST_OK) {
		hl = strlen(host);
		if (host[0] == '[' && hl > 2) { /* an IPv6 literal */
			memmove(host, host + 1, hl - 2);
			host[hl - 2] = '\0';
		}
		rc = set_base(c, host, (unsigned)strtoul(port, NULL, 10), label, e);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
	return rc;
}

/* A new stack holding a reference to each certificate of src (NULL: empty). */
static STACK_OF(X509) *
certs_dup(STACK_OF(X509) *src)
{
	STACK_OF(X509) *dst = sk_X509_new_null();

	for (int i = 0; dst != NULL && i < sk_X509_num(src); i++) {
		X509 *x = sk_X509_value(src, i);

		if (!X509_up_ref(x) || !sk_X509_push(dst, x)) {
			sk_X509_pop_free(dst, X509_free);
			return NULL;
		}
	}
	return dst;
}

/* The trust anchors: the file's and the stack's; NULL when neither is given. */
static enum est_err
load_trust(struct est_client *c, const struct est_client_config *cfg, struct est_error *e)
{
	STACK_OF(X509) *file = NULL;
	struct est_error sub = { 0 };
	enum est_err rc;

	if (cfg->trust_anchor_file == NULL && cfg->trust_anchors == NULL)
		return EST_OK;
	if ((c->tas = certs_dup(cfg->trust_anchors)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory copying trust anchors");
	if (cfg->trust_anchor_file == NULL)
		return EST_OK;
	if ((rc = est_certs_read(cfg->trust_anchor_file, &file, &sub)) != EST_OK)
		return est_fail(e, rc, "trust anchor: %s", sub.msg);
	while (sk_X509_num(file) > 0) {
		X509 *x = sk_X509_shift(file);

		if (!sk_X509_push(c->tas, x)) {
			X509_free(x);
			sk_X509_pop_free(file, X509_free);
			return est_fail(e, EST_ERR_NOMEM, "out of memory copying trust anchors");
		}
	}
	sk_X509_free(file);
	return EST_OK;
}

static bool
dup_str(char **dst, const char *src)
{
	return src == NULL || (*dst = strdup(src)) != NULL;
}

/* Identity and credentials, checked for what belongs together. */
static enum est_err
copy_identity(struct est_client *c, const struct est_client_config *cfg, struct est_error *e)
{
	if ((cfg->cert == NULL) != (cfg->key == NULL))
		return est_fail(e, EST_ERR_CONFIG, "a client certificate needs its private key "
		    "and the other way round");
	if (cfg->cert != NULL && X509_check_private_key(cfg->cert, cfg->key) != 1)
		return est_fail_ssl(e, EST_ERR_CONFIG, "the client private key does not belong "
		    "to the client certificate");
	if ((cfg->user == NULL) != (cfg->password == NULL))
		return est_fail(e, EST_ERR_CONFIG, "HTTP authentication needs both a user name "
		    "and a password");
	if ((cfg->srp_user == NULL) != (cfg->srp_password == NULL))
		return est_fail(e, EST_ERR_CONFIG, "TLS-SRP needs a user name and a password");
	if (cfg->bootstrap && (cfg->user != NULL || cfg->bearer_token != NULL ||
	    cfg->cert != NULL))
		return est_fail(e, EST_ERR_CONFIG, "credentials and client certificates are never "
		    "sent to a server that was not authenticated (RFC 7030 §4.1.1): drop them or "
		    "give a trust anchor");
	/* Any CA in the system's store may vouch for the server's name, so that
	 * server is not thereby the one a password is for (EST-C-26). */
	if (!cfg->bootstrap && cfg->trust_anchor_file == NULL && cfg->trust_anchors == NULL &&
	    cfg->srp_user == NULL && (cfg->user != NULL || cfg->bearer_token != NULL))
		return est_fail(e, EST_ERR_CONFIG, "HTTP credentials go only to a server an "
		    "explicit trust anchor vouches for, not the system's CA store (RFC 7030 §6): "
		    "authenticate with a client certificate, or make the EST CA's root the trust "
		    "anchor");
	if ((cfg->cert != NULL && !X509_up_ref(cfg->cert)) ||
	    (cfg->key != NULL && !EVP_PKEY_up_ref(cfg->key)))
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	c->cert = cfg->cert;
	c->key = cfg->key;
	if (cfg->chain != NULL && (c->chain = certs_dup(cfg->chain)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	if (!dup_str(&c->user, cfg->user) || !dup_str(&c->password, cfg->password) ||
	    !dup_str(&c->token, cfg->bearer_token) || !dup_str(&c->srp_user, cfg->srp_user) ||
	    !dup_str(&c->srp_password, cfg->srp_password))
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	return EST_OK;
}

/* The server, from the URL or from host/port/label, and --resolve. */
static enum est_err
set_server(struct est_client *c, const struct est_client_config *cfg, struct est_error *e)
{
	enum est_err rc;

	if ((cfg->url == NULL) == (cfg->host == NULL))
		return est_fail(e, EST_ERR_CONFIG, "give the server as a URL or as a host, "
		    "not both and not neither");
	if (cfg->port > 65535)
		return est_fail(e, EST_ERR_CONFIG, "port %u is not a TCP port", cfg->port);
	rc = cfg->url != NULL ? parse_url(c, cfg->url, e) :
	    set_base(c, cfg->host, cfg->port, cfg->label, e);
	if (rc != EST_OK)
		return rc;
	if (cfg->resolve != NULL && (c->resolve = curl_slist_append(NULL, cfg->resolve)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	return EST_OK;
}

enum est_err
est_client_new(const struct est_client_config *cfg, struct est_client **out,
    struct est_error *e)
{
	struct est_client *c;
	enum est_err rc;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	c->bootstrap = cfg->bootstrap;
	c->tls13_only = cfg->tls13_only;
	c->connect_timeout = cfg->connect_timeout ? cfg->connect_timeout : 10;
	c->read_timeout = cfg->read_timeout ? cfg->read_timeout : 10;
	c->retry_max = cfg->retry_max;
	c->retry_wait_max = cfg->retry_wait_max ? cfg->retry_wait_max : 3600;
	if ((rc = set_server(c, cfg, e)) != EST_OK ||
	    (rc = copy_identity(c, cfg, e)) != EST_OK ||
	    (!cfg->bootstrap && (rc = load_trust(c, cfg, e)) != EST_OK) ||
	    (rc = cl_transport_init(c, e)) != EST_OK) {
		est_client_free(c);
		return rc;
	}
	*out = c;
	return EST_OK;
}

void
est_client_free(struct est_client *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->resolve);
	curl_slist_free_all(c->hdr_post);
	curl_slist_free_all(c->hdr_get);
	sk_X509_pop_free(c->tas, X509_free);
	sk_X509_pop_free(c->cabag, X509_free);
	sk_X509_pop_free(c->caroots, X509_free);
	sk_X509_pop_free(c->chain, X509_free);
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
	if (c->password != NULL)
		OPENSSL_cleanse(c->password, strlen(c->password));
	if (c->token != NULL)
		OPENSSL_cleanse(c->token, strlen(c->token));
	if (c->srp_password != NULL)
		OPENSSL_cleanse(c->srp_password, strlen(c->srp_password));
	free(c->srp_user);
	free(c->srp_password);
	free(c->password);
	free(c->token);
	free(c->user);
	free(c->base);
	free(c->host);
	free(c);
}

long
est_client_failed_status(const struct est_client *c)
{
	return c->failed_status;
}

unsigned
est_client_retry_after(const struct est_client *c)
{
	return c->retry_after;
}

const char *
est_client_base_url(const struct est_client *c)
{
	return c->base;
}
