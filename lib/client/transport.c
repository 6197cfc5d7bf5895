/*
 * HTTPS over libcurl: one easy handle per client, set up once.
 *
 * Server authentication is OpenSSL's own, configured in the SSL_CTX
 * callback: our trust anchors replace whatever store libcurl prepared, and
 * the host name or IP address is checked during the handshake under RFC
 * 6125 (subjectAltName only, no common-name fallback). A failed check stops
 * the handshake, so no request -- and no credential -- ever reaches an
 * unauthenticated server. Renegotiation is refused (a renegotiated
 * connection has no single channel binding, est-conformance.md EST-G-07).
 *
 * HTTP credentials are never configured up front: each request goes out
 * without them, and only a 401 whose WWW-Authenticate offers a scheme we
 * have credentials for is answered -- by sending that request once more
 * with them, on the same handle (so the same connection), after which they
 * are removed again. So no request carries credentials it was not asked
 * for, and every request asks anew (EST-C-30, EST-C-31). The answer uses
 * one scheme, picked here from those offered (Digest before Basic): libcurl
 * given several would first ask the server again, without credentials, to
 * choose -- a third request where libest's client makes two.
 *
 * Each answer's headers are watched as they arrive: the TLS connection is
 * live then, so its channel-binding value is read there (libcurl does not
 * promise the SSL pointer after the transfer).
 *
 * The read timeout is silence: it starts once the connection is up (the
 * pre-request callback, also on a reused connection) and restarts whenever
 * a byte moves; connecting has its own timeout. Silence alone would let a
 * server that sends a byte now and then hold the client for good, so the
 * whole answer must also be in CL_ANSWER_SPAN read timeouts after the
 * request went out: an honest one is a few KiB, sent at once when ready.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "client/client_int.h"
#include "estkit/log.h"

/* A store holding our trust anchors (the SSL_CTX takes it over). */
static X509_STORE *
trust_store(STACK_OF(X509) *tas)
{
	X509_STORE *st = X509_STORE_new();

	for (int i = 0; st != NULL && i < sk_X509_num(tas); i++) {
		if (!X509_STORE_add_cert(st, sk_X509_value(tas, i))) {
			X509_STORE_free(st);
			return NULL;
		}
	}
	return st;
}

/* Who we trust and which name the server's certificate must carry. */
static bool
set_server_auth(struct est_client *c, SSL_CTX *ctx)
{
	X509_VERIFY_PARAM *vp = SSL_CTX_get0_param(ctx);
	X509_STORE *st;

	if (c->tas == NULL) {
		if (!SSL_CTX_set_default_verify_paths(ctx))
			return false;
	} else {
		if ((st = trust_store(c->tas)) == NULL)
			return false;
		SSL_CTX_set_cert_store(ctx, st);
	}
	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
	    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
	return c->host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, c->host) == 1 :
	    X509_VERIFY_PARAM_set1_host(vp, c->host, 0) == 1;
}

static bool
set_identity(struct est_client *c, SSL_CTX *ctx)
{
	if (c->cert == NULL)
		return true;
	if (SSL_CTX_use_certificate(ctx, c->cert) != 1 || SSL_CTX_use_PrivateKey(ctx, c->key) != 1)
		return false;
	for (int i = 0; i < sk_X509_num(c->chain); i++)
		if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(c->chain, i)) != 1)
			return false;
	return true;
}

bool
cl_tls_setup(SSL_CTX *ctx, bool tls13_only)
{
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	return SSL_CTX_set_min_proto_version(ctx, tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
}

/* CURLOPT_SSL_CTX_FUNCTION: called for each new connection's SSL_CTX. */
static CURLcode
on_ssl_ctx(CURL *curl, void *sslctx, void *arg)
{
	struct est_client *c = arg;
	SSL_CTX *ctx = sslctx;

	(void)curl;
	if (!cl_tls_setup(ctx, c->tls13_only) ||
	    (!c->bootstrap && !set_server_auth(c, ctx)) || !set_identity(c, ctx))
		return CURLE_SSL_CERTPROBLEM;
	return CURLE_OK;
}

/* Copy a header's value (trimmed) when the line is "name: value". */
static void
header_value(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name), v;

	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return;
	for (v = n + 1; v < len && (line[v] == ' ' || line[v] == '\t'); v++)
		;
	while (len > v && (line[len - 1] == '\r' || line[len - 1] == '\n' ||
	    line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len - v >= outlen)
		len = v + outlen - 1;
	memcpy(out, line + v, len - v);
	out[len - v] = '\0';
}

/* The channel binding of the connection this answer arrives on, and EMS. */
static void
capture_chanbind(struct est_client *c, struct cl_response *r)
{
	struct curl_tlssessioninfo *ti = NULL;

	r->cb_len = 0;
	r->ems = false;
	if (curl_easy_getinfo(c->curl, CURLINFO_TLS_SSL_PTR, &ti) == CURLE_OK && ti != NULL &&
	    ti->backend == CURLSSLBACKEND_OPENSSL && ti->internals != NULL) {
		r->cb_len = cl_chanbind(ti->internals, r->cb);
		r->ems = SSL_get_extms_support(ti->internals) == 1;
	}
}

static size_t
on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct est_client *c = arg;
	struct cl_response *r = c->cur;
	size_t len = size * n;

	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* A new answer (after a 401 or a 100): forget the last one's. */
		r->content_type[0] = r->retry_after[0] = r->location[0] = '\0';
		r->challenges = 0;
		r->len = 0;
		capture_chanbind(c, r);
		return len;
	}
	header_value(buf, len, "content-type", r->content_type, sizeof(r->content_type));
	header_value(buf, len, "retry-after", r->retry_after, sizeof(r->retry_after));
	header_value(buf, len, "location", r->location, sizeof(r->location));
	r->challenges |= cl_challenges(buf, len);
	return len;
}

static size_t
on_body(char *buf, size_t size, size_t n, void *arg)
{
	struct cl_response *r = ((struct est_client *)arg)->cur;
	size_t len = size * n, cap;
	unsigned char *p;

	if (len > CL_BODY_MAX - r->len)
		return 0; /* libcurl stops with CURLE_WRITE_ERROR */
	if (r->len + len + 1 > r->cap) {
		cap = r->cap == 0 ? 4096 : r->cap;
		while (cap < r->len + len + 1)
			cap *= 2;
		if ((p = realloc(r->body, cap)) == NULL)
			return 0;
		r->body = p;
		r->cap = cap;
	}
	memcpy(r->body + r->len, buf, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CURLOPT_PREREQFUNCTION: connected (or reusing), the request goes out now. */
static int
on_prereq(void *arg, char *ip, char *local_ip, int port, int local_port)
{
	struct est_client *c = arg;

	(void)ip;
	(void)local_ip;
	(void)port;
	(void)local_port;
	c->cur->alive_ms = c->cur->sent_ms = now_ms();
	return CURL_PREREQFUNC_OK;
}

/* CURLOPT_XFERINFOFUNCTION: give up after read_timeout seconds of silence,
 * or CL_ANSWER_SPAN times that after the request. */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	struct est_client *c = arg;
	struct cl_response *r = c->cur;

	(void)dltotal;
	(void)ultotal;
	if (r->alive_ms == 0)
		return 0;
	if (now_ms() - r->sent_ms >= (long long)c->read_timeout * 1000 * CL_ANSWER_SPAN) {
		r->trickled = true;
		return 1; /* libcurl stops with CURLE_ABORTED_BY_CALLBACK */
	}
	if (dlnow + ulnow != r->moved) {
		r->moved = dlnow + ulnow;
		r->alive_ms = now_ms();
		return 0;
	}
	if (now_ms() - r->alive_ms < (long long)c->read_timeout * 1000)
		return 0;
	r->timed_out = true;
	return 1;
}

static bool
set_headers(struct est_client *c)
{
	static const char *const post[] = {
		"Content-Type: application/pkcs10", "Expect:", ("User-Agent: estkit/" ESTKIT_VERSION),
	};
	struct curl_slist *l;

	for (size_t i = 0; i < sizeof(post) / sizeof(post[0]); i++) {
		if ((l = curl_slist_append(c->hdr_post, post[i])) == NULL)
			return false;
		c->hdr_post = l;
	}
	c->hdr_get = curl_slist_append(NULL, "User-Agent: estkit/" ESTKIT_VERSION);
	return c->hdr_get != NULL;
}

/*
 * The one scheme to answer a 401 with, of those it offers (CL_CH_*): in
 * libcurl's order, Bearer before Digest before Basic; 0 when we hold
 * credentials for none of them.
 */
static unsigned
pick_scheme(const struct est_client *c, unsigned offered)
{
	if (c->token != NULL && (offered & CL_CH_BEARER))
		return CL_CH_BEARER;
	if (c->user == NULL)
		return 0;
	return (offered & CL_CH_DIGEST) ? CL_CH_DIGEST : (offered & CL_CH_BASIC);
}

static const char *
scheme_name(unsigned scheme)
{
	return scheme == CL_CH_BEARER ? "Bearer" : scheme == CL_CH_DIGEST ? "Digest" : "Basic";
}

/*
 * Credentials for one scheme (a CL_CH_* from pick_scheme), sent with the
 * next request. Given one type alone, libcurl sends it at once -- Digest
 * from the challenge it read during the request before -- where given
 * several it would ask the server again first.
 */
static bool
set_credentials(struct est_client *c, unsigned scheme)
{
	CURL *h = c->curl;

	switch (scheme) {
	case CL_CH_BEARER:
		return curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, c->token) == CURLE_OK &&
		    curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER) == CURLE_OK;
	case CL_CH_DIGEST:
	case CL_CH_BASIC:
		return curl_easy_setopt(h, CURLOPT_USERNAME, c->user) == CURLE_OK &&
		    curl_easy_setopt(h, CURLOPT_PASSWORD, c->password) == CURLE_OK &&
		    curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)(scheme == CL_CH_DIGEST ?
		    CURLAUTH_DIGEST : CURLAUTH_BASIC)) == CURLE_OK;
	default:
		return false;
	}
}

/*
 * No credentials on the handle: the next request goes out without them.
 * The empty user name is none either: no scheme is allowed (CURLAUTH_NONE),
 * so libcurl sends nothing. It is there because libcurl weighs a 401's
 * offer only when it has some user name, and then, allowed nothing, drops
 * it. An offer left standing would outlive the request: libcurl would
 * repeat a refused Digest answer by itself (a wrong password sent twice,
 * counted twice) and pass over the next Digest challenge as a duplicate.
 */
static bool
clear_credentials(struct est_client *c)
{
	CURL *h = c->curl;

	return curl_easy_setopt(h, CURLOPT_USERNAME, "") == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_PASSWORD, NULL) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, NULL) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_NONE) == CURLE_OK;
}

/*
 * TLS-SRP: TLS 1.2 and SRP suites only, so that whatever is negotiated,
 * the server proved it holds the verifier. Those suites carry no
 * certificate, so libcurl must not ask for one.
 */
static bool
set_srp(struct est_client *c)
{
	CURL *h = c->curl;

	if (c->srp_user == NULL)
		return true;
	return curl_easy_setopt(h, CURLOPT_TLSAUTH_TYPE, "SRP") == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_TLSAUTH_USERNAME, c->srp_user) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_TLSAUTH_PASSWORD, c->srp_password) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_SSL_CIPHER_LIST, "SRP-AES-256-CBC-SHA:"
	    "SRP-AES-128-CBC-SHA:SRP-RSA-AES-256-CBC-SHA:SRP-RSA-AES-128-CBC-SHA") == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_SSLVERSION,
	    (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2)) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L) == CURLE_OK;
}

enum est_err
cl_transport_init(struct est_client *c, struct est_error *e)
{
	CURL *h;
	long verify = c->bootstrap ? 0 : 1;

	if ((h = c->curl = curl_easy_init()) == NULL || !set_headers(c))
		return est_fail(e, EST_ERR_NOMEM, "cannot set up libcurl");
	if (curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSLVERSION, c->tls13_only ?
	    (long)CURL_SSLVERSION_TLSv1_3 : (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CAINFO, NULL) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CAPATH, NULL) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, verify) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, verify * 2) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, c) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERDATA, c) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, c) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)c->connect_timeout) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_prereq) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PREREQDATA, c) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_XFERINFODATA, c) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    (c->resolve != NULL && curl_easy_setopt(h, CURLOPT_RESOLVE, c->resolve) != CURLE_OK) ||
	    !set_srp(c))
		return est_fail(e, EST_ERR_INTERNAL, "libcurl refused an option: is it built "
		    "with OpenSSL and HTTPS (curl -V)?");
	return EST_OK;
}

/* A server-certificate failure: the name, or the trust? */
static enum est_err
verify_fail(struct est_client *c, const char *what, struct est_error *e)
{
	long vr = X509_V_OK;

	curl_easy_getinfo(c->curl, CURLINFO_SSL_VERIFYRESULT, &vr);
	if (vr == X509_V_ERR_HOSTNAME_MISMATCH || vr == X509_V_ERR_IP_ADDRESS_MISMATCH ||
	    vr == X509_V_OK)
		return est_fail(e, EST_ERR_TLS, "%s: the server's certificate is not issued for "
		    "\"%s\": connect by a name or address in its subjectAltName", what, c->host);
	return est_fail(e, EST_ERR_TLS, "%s: the server's certificate is not trusted (%s): "
	    "the CA that issued it must be a trust anchor", what,
	    X509_verify_cert_error_string(vr));
}

/*
 * The connection broke. Right after a completed handshake, with no answer,
 * that is how a server refuses a client certificate under TLS 1.3 (its
 * alert arrives after the client thinks the handshake is done).
 */
static enum est_err
broken(struct est_client *c, const char *what, const char *why, struct est_error *e)
{
	curl_off_t tls_done = 0;
	long status = 0;

	curl_easy_getinfo(c->curl, CURLINFO_APPCONNECT_TIME_T, &tls_done);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if ((tls_done > 0 && status == 0) || strstr(why, "alert") != NULL)
		return est_fail(e, EST_ERR_TLS, "%s: the server closed the connection after the "
		    "TLS handshake (%s): it wants a client certificate%s", what, why,
		    c->cert != NULL ? " it accepts" : "");
	return est_fail(e, EST_ERR_CONNECT, "%s: the connection broke (%s)", what, why);
}

/* What a libcurl failure means for the person running the client. */
static enum est_err
transport_fail(struct est_client *c, CURLcode res, const struct cl_response *r,
    const char *what, struct est_error *e)
{
	const char *why = c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(res);

	if (r->timed_out)
		return est_fail(e, EST_ERR_CONNECT, "%s: no answer in time (nothing for %u s)",
		    what, c->read_timeout);
	if (r->trickled)
		return est_fail(e, EST_ERR_CONNECT, "%s: the answer is not complete %u s after "
		    "the request (the server sends it a little at a time): given up", what,
		    c->read_timeout * CL_ANSWER_SPAN);
	switch (res) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return est_fail(e, EST_ERR_CONNECT, "%s: cannot resolve \"%s\": check the server "
		    "name", what, c->host);
	case CURLE_COULDNT_CONNECT:
		return est_fail(e, EST_ERR_CONNECT, "%s: cannot connect (%s): is the server "
		    "running?", what, why);
	case CURLE_OPERATION_TIMEDOUT:
		return est_fail(e, EST_ERR_CONNECT, "%s: no answer in time (%s)", what, why);
	case CURLE_PEER_FAILED_VERIFICATION:
		return verify_fail(c, what, e);
	case CURLE_SSL_CONNECT_ERROR:
		if (c->srp_user != NULL)
			return est_fail(e, EST_ERR_AUTH, "%s: TLS-SRP handshake failed (%s): a wrong "
			    "SRP user name or password, or no TLS-SRP on that port", what, why);
		return est_fail(e, EST_ERR_TLS, "%s: TLS handshake failed (%s): is it a TLS "
		    "port, and does the server want a client certificate?", what, why);
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		return broken(c, what, why, e);
	case CURLE_WRITE_ERROR:
		return est_fail(e, EST_ERR_SERVER, "%s: the answer is larger than %d bytes",
		    what, CL_BODY_MAX);
	default:
		return est_fail(e, EST_ERR_CONNECT, "%s: %s", what, why);
	}
}

void
cl_response_clear(struct cl_response *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/*
 * libest's server answers 401 to a client it has authenticated by its
 * certificate unless the request carries an Authorization header; libest's
 * client then sends an empty Basic one. So do we, from then on, when we
 * have a certificate and no credentials of our own. false when that does
 * not apply (or was done already).
 */
static bool
start_empty_basic(struct est_client *c, const struct cl_response *r)
{
	static const char hdr[] = "Authorization: Basic Og=="; /* base64(":") */

	if (r->status != 401 || c->cert == NULL || c->user != NULL || c->token != NULL ||
	    c->empty_basic)
		return false;
	/* Appending keeps each list's head, which libcurl holds. */
	if (curl_slist_append(c->hdr_post, hdr) == NULL || curl_slist_append(c->hdr_get, hdr) == NULL)
		return false;
	c->empty_basic = true;
	log_debug("HTTP 401 despite the client certificate: asking again with an empty Basic "
	    "Authorization header, as libest's client does");
	return true;
}

void
cl_settle_auth(struct est_client *c)
{
	unsigned pick = pick_scheme(c, c->offered & (CL_CH_DIGEST | CL_CH_BASIC));

	if (pick == 0 || c->settled == pick)
		return;
	c->settled = pick;
	log_debug("HTTP authentication: %s from now on, without waiting for a challenge",
	    scheme_name(pick));
}

/* One curl_easy_perform into r. */
static enum est_err
perform(struct est_client *c, const char *what, struct cl_response *r, struct est_error *e)
{
	CURLcode res;

	c->cur = r;
	c->errbuf[0] = '\0';
	res = curl_easy_perform(c->curl);
	c->cur = NULL;
	if (res != CURLE_OK)
		return transport_fail(c, res, r, what, e);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &r->new_connections);
	log_debug("%s: HTTP %ld, %s, %zu bytes, %ld new connection(s)", what, r->status,
	    r->content_type[0] ? r->content_type : "no Content-Type", r->len, r->new_connections);
	return EST_OK;
}

enum est_err
cl_request_url(struct est_client *c, const char *url, const char *op, const char *post,
    size_t post_len, struct cl_response *r, struct est_error *e)
{
	char what[64];
	enum est_err rc;
	unsigned scheme;
	bool ok;

	memset(r, 0, sizeof(*r));
	if (c->bootstrap && (post != NULL || strcmp(op, "cacerts") != 0))
		return est_fail(e, EST_ERR_CONFIG, "without a trust anchor only /cacerts may be "
		    "fetched (RFC 7030 §4.1.1): give a trust anchor");
	snprintf(what, sizeof(what), "%s /%s", post != NULL ? "POST" : "GET", op);
	ok = curl_easy_setopt(c->curl, CURLOPT_URL, url) == CURLE_OK && (post == NULL ?
	    curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L) == CURLE_OK &&
	    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->hdr_get) == CURLE_OK :
	    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, post) == CURLE_OK &&
	    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)post_len) == CURLE_OK &&
	    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->hdr_post) == CURLE_OK);
	if (!ok)
		return est_fail(e, EST_ERR_INTERNAL, "libcurl refused the request options");
	log_debug("%s %s", post != NULL ? "POST" : "GET", url);
	/* A settled server asked before, and closes the connection after a 401 (ops.c). */
	if (!clear_credentials(c) || (c->settled != 0 && !set_credentials(c, c->settled)))
		return est_fail(e, EST_ERR_INTERNAL, "libcurl refused the authentication options");
	if ((rc = perform(c, what, r, e)) != EST_OK || r->status != 401 || c->bootstrap)
		return rc;
	c->offered = r->challenges;
	if (start_empty_basic(c, r)) {
		cl_response_clear(r);
		return perform(c, what, r, e);
	}
	/* The server passed the TLS checks (else no answer) and asks: answer once. */
	if ((scheme = pick_scheme(c, r->challenges)) == 0)
		return EST_OK;
	if (!set_credentials(c, scheme))
		return est_fail(e, EST_ERR_INTERNAL, "libcurl refused the authentication options");
	log_debug("%s: answering the server's challenge with %s", what, scheme_name(scheme));
	cl_response_clear(r);
	rc = perform(c, what, r, e);
	if (!clear_credentials(c) && rc == EST_OK)
		rc = est_fail(e, EST_ERR_INTERNAL, "libcurl refused the authentication options");
	return rc;
}

enum est_err
cl_request(struct est_client *c, const char *op, const char *post, size_t post_len,
    struct cl_response *r, struct est_error *e)
{
	char url[1024];

	snprintf(url, sizeof(url), "%s/%s", c->base, op);
	return cl_request_url(c, url, op, post, post_len, r, e);
}
