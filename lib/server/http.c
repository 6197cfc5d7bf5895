/*
 * One HTTP request: context set-up, body and headers, and the only places
 * a response is written (http_reply, http_fail).
 *
 * http_fail is where an est_err becomes an HTTP status. Client-facing
 * reasons are the error's message for request errors; internal failures
 * answer a generic line and keep the detail for the log. Every answer
 * writes one access-log line.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "estkit/log.h"
#include "server/server_int.h"

static const char *
status_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

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

static double
elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 +
	    (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static void
access_log(struct est_req *r, int status, const char *reason)
{
	const char *alias = r->alias != NULL ? r->alias->conf->name : "-";
	const char *op = r->op != NULL ? r->op : "-";
	enum est_log_level lv = status >= 500 ? EST_LOG_ERROR : EST_LOG_INFO;

	if (reason != NULL)
		est_log(lv, "peer=%s listener=%s alias=%s op=%s principal=%s status=%d ms=%.1f reason=\"%s\"",
		    r->peer, r->listener->conf->name, alias, op, r->principal, status,
		    elapsed_ms(&r->start), reason);
	else
		est_log(lv, "peer=%s listener=%s alias=%s op=%s principal=%s status=%d ms=%.1f",
		    r->peer, r->listener->conf->name, alias, op, r->principal, status,
		    elapsed_ms(&r->start));
}

const unsigned char *
http_body(struct est_req *r, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);

	*len = evbuffer_get_length(in);
	if (*len == 0)
		return NULL;
	return evbuffer_pullup(in, -1);
}

const char *
http_header(struct est_req *r, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

void
http_add_header(struct est_req *r, const char *name, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), name, value);
}

static void
send_reply(struct est_req *r, int status, const char *content_type, const void *body, size_t len)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(r->ev);

	if (content_type != NULL)
		http_add_header(r, "Content-Type", content_type);
	if (len > 0)
		evbuffer_add(out, body, len);
	evhttp_send_reply(r->ev, status, status_phrase(status), NULL);
	r->answered = true;
}

void
http_reply(struct est_req *r, int status, const char *content_type, const void *body, size_t len)
{
	send_reply(r, status, content_type, body, len);
	access_log(r, status, NULL);
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
	} else if (status == 500) {
		snprintf(line, sizeof(line), "internal error; the server log has the details\n");
	} else {
		snprintf(line, sizeof(line), "%s\n", err->msg);
	}
	send_reply(r, status, "text/plain; charset=utf-8", line, strlen(line));
	access_log(r, status, err->msg);
}

static void
describe_peer(struct est_req *r)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(r->ev);
	char *addr = NULL;
	ev_uint16_t port = 0;

	if (conn == NULL) {
		snprintf(r->peer, sizeof(r->peer), "-");
		return;
	}
	evhttp_connection_get_peer(conn, &addr, &port);
	snprintf(r->peer, sizeof(r->peer), "%s:%u", addr != NULL ? addr : "?", (unsigned)port);
	if (r->listener->ssl_ctx != NULL)
		r->ssl = bufferevent_openssl_get_ssl(evhttp_connection_get_bufferevent(conn));
}

void
http_request_cb(struct evhttp_request *ev, void *arg)
{
	struct worker_listener *wl = arg;
	struct est_req r;
	struct est_error err = { 0 };

	memset(&r, 0, sizeof(r));
	r.ev = ev;
	r.worker = wl->worker;
	r.listener = wl->listener;
	clock_gettime(CLOCK_MONOTONIC, &r.start);
	snprintf(r.principal, sizeof(r.principal), "-");
	describe_peer(&r);
	route_request(&r);
	if (!r.answered) {
		est_fail(&err, EST_ERR_INTERNAL, "handler returned without answering");
		http_fail(&r, &err);
	}
}
