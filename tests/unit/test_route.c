/*
 * Routing, answers and TLS-dependent checks without a socket (issue 10,
 * point 8): a request made with http_req_new, its TLS facts filled by hand,
 * goes through route_request and the handlers, and the framed answer is
 * read back from r->answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "server/server_int.h"

#define CACERTS_BODY "MIIBdGVzdA==\n"

struct world {
	struct est_config cfg;
	struct est_server srv;
	struct est_worker worker;
	struct est_listener_conf lconf;
	struct est_listener listener;
	struct est_alias_conf aconf;
	struct est_alias alias;
	struct tls_facts tls;
	struct http_head head;
	struct est_req *r;
	char *text;                       /* the answer, NUL-terminated */
};

static int
setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	w->cfg.realm = "estkit";
	/* As est_config_load defaults them: route.c asks these paths first. */
	w->cfg.crl_path = "/crl";
	w->cfg.ocsp_path = "/ocsp";
	w->srv.cfg = &w->cfg;
	w->worker.srv = &w->srv;
	w->lconf.name = "test";
	w->listener.conf = &w->lconf;
	w->aconf.name = "est";
	w->aconf.is_default = true;
	w->alias.conf = &w->aconf;
	w->alias.cacerts_body = CACERTS_BODY;
	w->alias.cacerts_len = strlen(CACERTS_BODY);
	w->srv.aliases = &w->alias;
	w->srv.n_aliases = 1;
	w->srv.default_alias = &w->alias;
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	struct world *w = *state;

	http_req_free(w->r);
	http_head_clear(&w->head);
	free(w->text);
	free(w);
	return 0;
}

/* Serve one request (head text, body) and keep its answer as text; returns the status. */
static int
serve(struct world *w, const char *head, const char *body)
{
	const char *reason = NULL;
	size_t n;

	assert_int_equal(http_parse_head(head, strlen(head), 64, &w->head, &reason), 0);
	w->r = http_req_new(&w->head, body, strlen(body));
	assert_non_null(w->r);
	w->r->worker = &w->worker;
	w->r->listener = &w->listener;
	w->r->tls = &w->tls;
	w->r->source = "192.0.2.1";
	route_request(w->r);
	assert_true(w->r->answered);
	n = evbuffer_get_length(w->r->answer);
	w->text = calloc(1, n + 1);
	assert_non_null(w->text);
	evbuffer_copyout(w->r->answer, w->text, n);
	return w->r->status;
}

static void
test_cacerts(void **state)
{
	struct world *w = *state;

	assert_int_equal(serve(w, "GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\n\r\n", ""), 200);
	assert_true(strncmp(w->text, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_non_null(strstr(w->text, "Content-Type: application/pkcs7-mime\r\n"));
	assert_non_null(strstr(w->text, "Content-Transfer-Encoding: base64\r\n"));
	assert_non_null(strstr(w->text, "Connection: keep-alive\r\n"));
	assert_non_null(strstr(w->text, "\r\n\r\n" CACERTS_BODY));
	assert_false(w->r->last);
}

static void
test_head_and_http10(void **state)
{
	struct world *w = *state;

	assert_int_equal(serve(w, "HEAD /.well-known/est/est/cacerts HTTP/1.0\r\n\r\n", ""), 200);
	assert_non_null(strstr(w->text, "Content-Length: 13\r\n"));
	assert_null(strstr(w->text, CACERTS_BODY));
	assert_non_null(strstr(w->text, "Connection: close\r\n"));
	assert_true(w->r->last);
}

static void
test_refusals(void **state)
{
	struct world *w = *state;
	static const struct {
		const char *head;
		int status;
		const char *says;
	} cases[] = {
		{ "GET /.well-known/est/nope HTTP/1.1\r\n\r\n", 404, "no EST operation" },
		{ "GET /.well-known/est/other/cacerts HTTP/1.1\r\n\r\n", 404, "no EST alias" },
		{ "GET /.well-known/est/est/x/cacerts HTTP/1.1\r\n\r\n", 404, "at most one label" },
		{ "GET /index.html HTTP/1.1\r\n\r\n", 404, "not an EST path" },
		{ "POST /.well-known/est/cacerts HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, "Allow: GET, HEAD" },
		{ "GET /.well-known/est/simpleenroll HTTP/1.1\r\n\r\n", 405, "Allow: POST" },
		{ "POST /.well-known/est/simpleenroll HTTP/1.1\r\nContent-Type: application/pkcs10\r\n"
		    "Content-Length: 0\r\n\r\n", 403, "needs HTTPS" },
		{ "GET /.well-known/est/csrattrs HTTP/1.1\r\n\r\n", 403, "needs HTTPS" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(serve(w, cases[i].head, ""), cases[i].status);
		if (strstr(w->text, cases[i].says) == NULL)
			fail_msg("%s: answer lacks \"%s\":\n%s", cases[i].head, cases[i].says, w->text);
		assert_non_null(strstr(w->text, "Content-Type: text/plain"));
		http_req_free(w->r);
		w->r = NULL;
		http_head_clear(&w->head);
		free(w->text);
		w->text = NULL;
	}
	/* Over TLS (as the facts say), the media type is checked next. */
	w->tls.tls = true;
	assert_int_equal(serve(w, "POST /.well-known/est/simpleenroll HTTP/1.1\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 1\r\n\r\n", "x"), 415);
	assert_non_null(strstr(w->text, "application/pkcs10"));
}

/* A CSR whose challengePassword is cp (NULL: none). */
static X509_REQ *
csr_with(const char *cp)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509_REQ *req = X509_REQ_new();

	assert_non_null(key);
	assert_non_null(req);
	assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
	if (cp != NULL)
		assert_int_equal(X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword,
		    MBSTRING_ASC, (const unsigned char *)cp, -1), 1);
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	EVP_PKEY_free(key);
	return req;
}

/* Channel binding reads the value captured at handshake, not the socket (CB-05, EST-S-36). */
static void
test_binding_from_facts(void **state)
{
	struct world *w = *state;
	struct est_error e = { 0 };
	struct est_req r = { 0 };
	X509_REQ *right = csr_with("c2VjcmV0LWJpbmRpbmc="), *prefix = csr_with("c2VjcmV0LWJpbmRpbmc");
	X509_REQ *none = csr_with(NULL);

	w->aconf.channel_binding = EST_CB_TLS_UNIQUE;
	r.alias = &w->alias;
	r.tls = &w->tls;
	w->tls.tls = true;
	snprintf(w->tls.binding, sizeof(w->tls.binding), "c2VjcmV0LWJpbmRpbmc=");
	assert_int_equal(authn_check_binding(&r, right, false, &e), EST_OK);
	assert_int_equal(authn_check_binding(&r, prefix, false, &e), EST_ERR_FORBIDDEN);
	/* An RA forwards its client's value, linked to another connection; it must be there (EST-S-38). */
	assert_int_equal(authn_check_binding(&r, prefix, true, &e), EST_OK);
	assert_int_equal(authn_check_binding(&r, none, true, &e), EST_ERR_FORBIDDEN);
	w->tls.binding[0] = '\0'; /* a connection without a value */
	assert_int_equal(authn_check_binding(&r, right, false, &e), EST_ERR_FORBIDDEN);
	assert_non_null(strstr(e.msg, "no channel-binding value"));
	X509_REQ_free(right);
	X509_REQ_free(prefix);
	X509_REQ_free(none);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cacerts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_and_http10, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binding_from_facts, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
