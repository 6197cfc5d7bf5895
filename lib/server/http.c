/*
 * HTTP on one connection: reading requests within the limits, the request
 * object handlers see, and the only place answers are framed and written
 * (http_reply, http_fail and, for requests that never reached a handler,
 * refuse).
 *
 * conn.c hands over bytes (http_input) and timeouts (http_timeout); http.c
 * writes answers into conn_output and says which answer is the last. A
 * request is served one at a time per connection: the next pipelined one
 * is read only once the previous one is answered and conn.c allows it
 * (conn_may_take_request, the back-pressure point). A handler may answer
 * later (http_defer; an enrolment waits for its record to be durable): the
 * request then stays the connection's, in HTTP_SERVING, the connection
 * reads nothing meanwhile, and http_complete delivers the answer and goes
 * on. A connection closed meanwhile leaves the request detached: it is
 * answered to the log only, and freed by http_complete.
 *
 * http_fail is where an est_err becomes an HTTP status. Client-facing
 * reasons are the error's message for request errors; internal failures
 * answer a generic line and keep the detail for the log. Every answer is
 * one access-log line (access_log.c, which also counts it for /metrics).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "estkit/log.h"
#include "server/server_int.h"

/* The most plaintext one TLS record carries (RFC 8446, 5.1). */
#define ANSWER_ONE_RECORD 16384

const char *
http_status_phrase(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
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

/* ---- framing ---- */

/* Status line, headers and body into out. */
static void
write_answer(struct evbuffer *out, int status, const char *content_type,
    struct evbuffer *extra_headers, const void *body, size_t len, bool head_only, bool last)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, http_status_phrase(status), date);
	if (content_type != NULL)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", content_type);
	evbuffer_add_printf(out, "Content-Length: %zu\r\n", len);
	if (extra_headers != NULL)
		evbuffer_add_buffer(out, extra_headers);
	evbuffer_add_printf(out, "Connection: %s\r\n\r\n", last ? "close" : "keep-alive");
	if (len > 0 && !head_only)
		evbuffer_add(out, body, len);
}

/*
 * Queue bytes for the client; with last, nothing more is read or answered.
 * An answer that fits one TLS record is made contiguous first: the TLS
 * bufferevent writes each piece of its buffer as a record of its own, so the
 * head and the body went out as two records, two write(2)s and two segments.
 */
static void
deliver(struct conn *c, struct evbuffer *answer, bool last)
{
	if (evbuffer_get_length(answer) <= ANSWER_ONE_RECORD)
		evbuffer_pullup(answer, -1);
	evbuffer_add_buffer(conn_output(c), answer);
	if (last) {
		c->http.state = HTTP_DONE;
		conn_last_answer(c);
	}
}

/* Answer a request that never reached a handler, and close. */
static void
refuse(struct conn *c, int status, const char *reason)
{
	struct evbuffer *out = conn_output(c);
	char line[300];

	snprintf(line, sizeof(line), "%s\n", reason);
	write_answer(out, status, "text/plain; charset=utf-8", NULL, line, strlen(line), false, true);
	c->http.state = HTTP_DONE;
	conn_last_answer(c);
	access_log(c, NULL, status, reason);
}

/* ---- the request object ---- */

const unsigned char *
http_body(struct est_req *r, size_t *len)
{
	*len = r->body_len;
	return r->body_len > 0 ? r->body : NULL;
}

const char *
http_header(struct est_req *r, const char *name)
{
	return r->head != NULL ? http_head_field(r->head, name) : NULL;
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

/* The answer into r->answer; the one call that frames a handler's answer. */
static void
send_reply(struct est_req *r, int status, const char *content_type, const void *body, size_t len)
{
	/* A draining worker ends each connection after the answer in flight. */
	r->last = r->head == NULL || !r->head->keep_alive ||
	    (r->worker != NULL && r->worker->draining);
	write_answer(r->answer, status, content_type, r->resp_headers, body, len, r->head_only,
	    r->last);
	r->status = status;
	r->answered = true;
}

void
http_reply(struct est_req *r, int status, const char *content_type, const void *body, size_t len)
{
	send_reply(r, status, content_type, body, len);
	access_log(r->conn, r, status, NULL);
}

/*
 * RFC 7030 §4.2.3: every 202 says when to come back, in delta-seconds
 * (pitfall 9); so does every 503 (RFC 9110 §10.2.3), e.g. while the
 * store's database cannot be reached.
 */
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
	} else if (status == 202) {
		add_retry_after(r);
		snprintf(line, sizeof(line), "%s\n", err->msg);
	} else if (status == 503) {
		/* The store's reason names the database: it stays in the log. */
		add_retry_after(r);
		snprintf(line, sizeof(line), "the server cannot serve this request now; retry "
		    "after the Retry-After seconds\n");
	} else if (status == 500 && err->code == EST_ERR_STORE) {
		snprintf(line, sizeof(line), "the server cannot use its certificate store now; "
		    "the server log has the details\n");
	} else if (status == 500) {
		snprintf(line, sizeof(line), "internal error; the server log has the details\n");
	} else {
		snprintf(line, sizeof(line), "%s\n", err->msg);
	}
	send_reply(r, status, "text/plain; charset=utf-8", line, strlen(line));
	access_log(r->conn, r, status, err->msg);
}

void
http_req_free(struct est_req *r)
{
	if (r == NULL)
		return;
	if (r->resp_headers != NULL)
		evbuffer_free(r->resp_headers);
	if (r->answer != NULL)
		evbuffer_free(r->answer);
	free((void *)r->body);
	free(r);
}

struct est_req *
http_req_new(const struct http_head *head, const void *body, size_t len)
{
	struct est_req *r = calloc(1, sizeof(*r));
	unsigned char *copy;

	if (r == NULL)
		return NULL;
	r->resp_headers = evbuffer_new();
	r->answer = evbuffer_new();
	r->body = copy = malloc(len + 1);
	if (r->resp_headers == NULL || r->answer == NULL || copy == NULL) {
		http_req_free(r);
		return NULL;
	}
	if (len > 0)
		memcpy(copy, body, len);
	copy[len] = '\0';
	r->body_len = len;
	r->head = head;
	r->head_only = strcmp(head->method, "HEAD") == 0;
	snprintf(r->peer, sizeof(r->peer), "-");
	snprintf(r->principal, sizeof(r->principal), "-");
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	return r;
}

/* The request whose head is c->http.head, its body taken from in. */
static struct est_req *
req_from_conn(struct conn *c, struct evbuffer *in)
{
	size_t len = c->http.head.content_length;
	struct est_req *r;

	r = http_req_new(&c->http.head, evbuffer_pullup(in, (ev_ssize_t)len), len);
	evbuffer_drain(in, len);
	if (r == NULL)
		return NULL;
	r->conn = c;
	r->from_conn = true;
	r->worker = c->worker;
	r->listener = c->listener;
	r->tls = &c->tls;
	r->source = c->source;
	snprintf(r->peer, sizeof(r->peer), "%s", c->peer);
	return r;
}

/* r's handler is done with it; a request not answered then is a bug, answered 500. */
static void
ensure_answered(struct est_req *r)
{
	struct est_error err = { 0 };

	if (!r->answered) {
		est_fail(&err, EST_ERR_INTERNAL, "handler returned without answering");
		http_fail(r, &err);
	}
}

/* Hand c's request r, answered, to the connection; ready for the next. */
static void
finish(struct conn *c, struct est_req *r)
{
	c->http.req = NULL;
	c->http.state = HTTP_HEAD;
	deliver(c, r->answer, r->last);
	http_req_free(r);
	http_head_clear(&c->http.head);
	c->http.served++;
}

/*
 * Serve the request whose body is complete in in: the handler answers
 * before it returns, or defers (http_defer) and the connection waits for
 * http_complete, in HTTP_SERVING.
 */
static void
serve(struct conn *c, struct evbuffer *in)
{
	struct est_req *r;

	conn_request_read(c);
	r = req_from_conn(c, in);
	if (r == NULL) {
		refuse(c, 503, "out of memory");
		return;
	}
	c->http.req = r;
	c->http.state = HTTP_SERVING;
	route_request(r);
	if (r->deferred && !r->answered) {
		conn_hold_input(c);
		return;
	}
	ensure_answered(r);
	finish(c, r);
}

void
http_defer(struct est_req *r)
{
	r->deferred = true;
}

void
http_complete(struct est_req *r)
{
	struct conn *c = r->conn;

	ensure_answered(r);
	if (!r->from_conn)
		return;
	if (c == NULL) {
		log_info("peer=%s listener=%s alias=%s op=%s principal=%s status=%d: the client "
		    "left before its answer", r->peer, r->listener->conf->name,
		    r->alias != NULL ? r->alias->conf->name : "-", r->op != NULL ? r->op : "-",
		    r->principal, r->status);
		http_req_free(r);
		return;
	}
	finish(c, r);
	conn_release_input(c);
}

/* A complete head of headlen bytes is at the front of in: parse it and check limits. */
static bool
start_request(struct conn *c, struct evbuffer *in, size_t headlen)
{
	const struct est_config *cfg = c->worker->srv->cfg;
	const char *reason = NULL;
	int status;

	status = http_parse_head((const char *)evbuffer_pullup(in, (ev_ssize_t)headlen), headlen,
	    cfg->max_header_fields, &c->http.head, &reason);
	evbuffer_drain(in, headlen);
	if (status != 0) {
		refuse(c, status, reason);
		return false;
	}
	if (c->http.head.content_length > cfg->max_body) {
		refuse(c, 413, "request body larger than max-body");
		return false;
	}
	if (c->http.head.expect_continue)
		evbuffer_add_printf(conn_output(c), "HTTP/1.1 100 Continue\r\n\r\n");
	c->http.state = HTTP_BODY;
	return true;
}

void
http_input(struct conn *c, struct evbuffer *in)
{
	size_t max_head = c->worker->srv->cfg->max_headers_size;

	while (c->http.state != HTTP_DONE && c->http.state != HTTP_SERVING &&
	    conn_may_take_request(c)) {
		size_t avail = evbuffer_get_length(in), headlen, look;

		if (c->http.state == HTTP_HEAD) {
			if (avail == 0)
				return;
			conn_request_started(c);
			look = avail < max_head ? avail : max_head;
			headlen = http_head_length((const char *)evbuffer_pullup(in, (ev_ssize_t)look), look);
			if (headlen == 0) {
				if (avail >= max_head)
					refuse(c, 431, "request head larger than max-headers-size");
				return;
			}
			if (!start_request(c, in, headlen))
				return;
			continue;
		}
		if (avail < c->http.head.content_length)
			return;
		serve(c, in);
	}
}

bool
http_timeout(struct conn *c, bool pending, const char *why)
{
	char reason[120];

	if (c->http.state == HTTP_DONE || c->http.state == HTTP_SERVING ||
	    (http_idle(c) && !pending))
		return false;
	snprintf(reason, sizeof(reason), "request not received within %s", why);
	refuse(c, 408, reason);
	return true;
}

bool
http_idle(const struct conn *c)
{
	return c->http.state == HTTP_HEAD;
}

bool
http_between_requests(const struct conn *c)
{
	return c->http.state == HTTP_HEAD && c->http.served > 0;
}

/* The connection of r, served later, is closing: r lives on without it. */
static void
detach(struct est_req *r)
{
	static const struct tls_facts gone;

	r->conn = NULL;
	r->head = NULL;
	r->tls = &gone;
	r->source = "-";
	/* Nobody to answer: what a side thread would make for it is not made. */
	if (r->side_job != NULL)
		side_job_abandon(r->side_job);
}

void
http_session_clear(struct conn *c)
{
	access_log_summary(c);
	if (c->http.req != NULL && c->http.req->deferred)
		detach(c->http.req);
	else
		http_req_free(c->http.req);
	c->http.req = NULL;
	http_head_clear(&c->http.head);
}
