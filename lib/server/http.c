/*
 * One HTTP request: its context, body and headers, and the only places an
 * EST answer is written (http_reply, http_fail, http_refuse).
 *
 * http_fail is where an est_err becomes an HTTP status. Client-facing
 * reasons are the error's message for request errors; internal failures
 * answer a generic line and keep the detail for the log. Every answer
 * writes one access-log line (access_log.c).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "estkit/log.h"
#include "server/server_int.h"

static int
status_of(enum est_err code)
{
	switch (code) {
	case EST_OK: return 200;
	case EST_ERR_PENDING: return 202;
	case EST_ERR_BADREQ: return 400;
	case EST_ERR_AUTH: return 401;
	case EST_ERR_FORBIDDEN: return 403;
	case EST_ERR_NOTFOUND: return 404;
	case EST_ERR_METHOD: return 405;
	case EST_ERR_TOOLARGE: return 413;
	case EST_ERR_MEDIATYPE: return 415;
	case EST_ERR_NOTIMPL: return 501;
	case EST_ERR_UNAVAILABLE: return 503;
	case EST_ERR_NOMEM:
	case EST_ERR_IO:
	case EST_ERR_CONFIG:
	case EST_ERR_CRYPTO:
	case EST_ERR_STORE:
	case EST_ERR_EXISTS:
	case EST_ERR_INTERNAL:
	case EST_ERR_CONNECT:
	case EST_ERR_TLS:
	case EST_ERR_SERVER:
	case EST_ERR__MAX:
		break;
	}
	return 500;
}

const unsigned char *
http_body(struct est_req *r, size_t *len)
{
	*len = r->body_len;
	return r->body_len > 0 ? r->body : NULL;
}

const char *
http_header(struct est_req *r, const char *name)
{
	return http_head_field(r->head, name);
}

const char *
http_method(struct est_req *r)
{
	return r->head->method;
}

const char *
http_target(struct est_req *r)
{
	return r->head->target;
}

void
http_add_header(struct est_req *r, const char *name, const char *value)
{
	evbuffer_add_printf(r->resp_headers, "%s: %s\r\n", name, value);
}

static void
send_reply(struct est_req *r, int status, const char *content_type, const void *body, size_t len)
{
	conn_respond(r->conn, status, content_type, r->resp_headers, body, len,
	    !r->head->keep_alive || r->worker->draining);
	r->answered = true;
}

void
http_reply(struct est_req *r, int status, const char *content_type, const void *body, size_t len)
{
	send_reply(r, status, content_type, body, len);
	access_log(r->conn, r, status, NULL);
}

/* RFC 7030 §4.2.3: every 202 says when to come back, in delta-seconds (pitfall 9). */
static void
add_retry_after(struct est_req *r)
{
	unsigned secs = r->alias != NULL && r->alias->conf->retry_after != 0 ?
	    r->alias->conf->retry_after : EST_DEFAULT_RETRY_AFTER;
	char value[16];

	snprintf(value, sizeof(value), "%u", secs);
	http_add_header(r, "Retry-After", value);
}

void
http_fail(struct est_req *r, const struct est_error *err)
{
	char line[300];
	int status = status_of(err->code);

	if (status == 401) {
		/* Never tell the client which part of its credentials was wrong. */
		snprintf(line, sizeof(line), "authentication failed\n");
		authn_add_challenges(r);
	} else if (status == 202) {
		add_retry_after(r);
		snprintf(line, sizeof(line), "%s\n", err->msg);
	} else if (status == 500) {
		snprintf(line, sizeof(line), "internal error; the server log has the details\n");
	} else {
		snprintf(line, sizeof(line), "%s\n", err->msg);
	}
	send_reply(r, status, "text/plain; charset=utf-8", line, strlen(line));
	access_log(r->conn, r, status, err->msg);
}

void
http_refuse(struct conn *c, int status, const char *reason)
{
	char line[300];

	snprintf(line, sizeof(line), "%s\n", reason);
	conn_respond(c, status, "text/plain; charset=utf-8", NULL, line, strlen(line), true);
	access_log(c, NULL, status, reason);
}

void
http_serve(struct conn *c, const unsigned char *body, size_t len)
{
	struct est_req r;
	struct est_error err = { 0 };

	memset(&r, 0, sizeof(r));
	r.conn = c;
	r.head = &c->head;
	r.body = body;
	r.body_len = len;
	r.worker = c->worker;
	r.listener = c->listener;
	r.ssl = c->ssl;
	snprintf(r.peer, sizeof(r.peer), "%s", c->peer);
	snprintf(r.principal, sizeof(r.principal), "-");
	clock_gettime(CLOCK_MONOTONIC, &r.start);
	r.resp_headers = evbuffer_new();
	if (r.resp_headers == NULL) {
		http_refuse(c, 503, "out of memory");
		return;
	}
	route_request(&r);
	if (!r.answered) {
		est_fail(&err, EST_ERR_INTERNAL, "handler returned without answering");
		http_fail(&r, &err);
	}
	evbuffer_free(r.resp_headers);
}
