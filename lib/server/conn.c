/*
 * Client connections: accept, TLS, reading requests within limits, writing
 * responses, keep-alive and timeouts.
 *
 * Each connection is a bufferevent (an OpenSSL one on TLS listeners) owned
 * by one worker. Limits are enforced while reading, before anything is
 * allocated for a request: a head larger than max-headers-size is 431, a
 * declared body over max-body is 413 without reading it, a request not
 * complete within read-timeout of its first byte is 408 however slowly it
 * trickles in (slow-loris), a TLS handshake not done within
 * handshake-timeout is dropped, a connection idle past idle-timeout is
 * closed, and a connection over max-connections is closed at once.
 * Every refusal is one line of text and one access-log line.
 *
 * A connection is closed gracefully ("lingering close"): once the last
 * answer is written, our side is shut (close_notify on TLS) and whatever the
 * client still sends is read and dropped until it closes or LINGER_SECONDS
 * pass. Closing at once would make the kernel reset the connection while a
 * client is still sending a body we refused, and the client would lose the
 * 413 it was sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/bufferevent_ssl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>

#include "estkit/log.h"
#include "server/server_int.h"

#define LINGER_SECONDS 2

static const char *
status_phrase(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
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

void
conn_free(struct conn *c)
{
	struct est_worker *w = c->worker;
	struct est_server *srv = w->srv;

	TAILQ_REMOVE(&c->worker->conns, c, link);
	if (c->deadline != NULL)
		event_free(c->deadline);
	http_head_clear(&c->head);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	atomic_fetch_sub(&srv->connections, 1);
	free(c);
	worker_conn_closed(w);
}

bool
conn_idle(const struct conn *c)
{
	return c->state == CONN_HEAD && c->served > 0 && !c->handshaking &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0 &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0;
}

void
conn_respond(struct conn *c, int status, const char *content_type,
    struct evbuffer *extra_headers, const void *body, size_t len, bool close)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, status_phrase(status), date);
	if (content_type != NULL)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", content_type);
	evbuffer_add_printf(out, "Content-Length: %zu\r\n", len);
	if (extra_headers != NULL)
		evbuffer_add_buffer(out, extra_headers);
	evbuffer_add_printf(out, "Connection: %s\r\n\r\n", close ? "close" : "keep-alive");
	if (len > 0 && !c->head_only)
		evbuffer_add(out, body, len);
	if (close)
		c->state = CONN_CLOSING;
}

static void
arm_deadline(struct conn *c, unsigned seconds, bool handshake)
{
	struct timeval tv = { .tv_sec = seconds };

	c->handshaking = handshake;
	evtimer_add(c->deadline, &tv);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->handshaking) {
		log_info("peer=%s listener=%s TLS handshake not done within handshake-timeout; closed",
		    c->peer, c->listener->conf->name);
		conn_free(c);
	} else if (c->state == CONN_HEAD || c->state == CONN_BODY) {
		http_refuse(c, 408, "request not received within read-timeout");
		bufferevent_enable(c->bev, EV_WRITE);
	}
}

/* A complete head is at the front of input: parse it and check limits. */
static bool
start_request(struct conn *c, struct evbuffer *in, size_t headlen)
{
	const struct est_config *cfg = c->worker->srv->cfg;
	const char *reason = NULL;
	int status;

	status = http_parse_head((const char *)evbuffer_pullup(in, (ev_ssize_t)headlen), headlen,
	    cfg->max_header_fields, &c->head, &reason);
	evbuffer_drain(in, headlen);
	if (status != 0) {
		http_refuse(c, status, reason);
		return false;
	}
	c->head_only = strcmp(c->head.method, "HEAD") == 0;
	if (c->head.content_length > cfg->max_body) {
		http_refuse(c, 413, "request body larger than max-body");
		return false;
	}
	if (c->head.expect_continue)
		evbuffer_add_printf(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n");
	c->state = CONN_BODY;
	return true;
}

/* Serve every complete request in the input (clients may pipeline). */
static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t max_head = c->worker->srv->cfg->max_headers_size;

	if (c->state == CONN_CLOSING || c->state == CONN_LINGER) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if (c->handshaking) {
		/* Data means the handshake is over, whichever event came first. */
		evtimer_del(c->deadline);
		c->handshaking = false;
	}
	while (c->state != CONN_CLOSING) {
		size_t avail = evbuffer_get_length(in), headlen;

		/* A request's first byte starts its read-timeout. */
		if (avail > 0 && !evtimer_pending(c->deadline, NULL))
			arm_deadline(c, c->worker->srv->cfg->read_timeout, false);
		if (c->state == CONN_HEAD) {
			size_t look = avail < max_head ? avail : max_head;

			headlen = http_head_length((const char *)evbuffer_pullup(in, (ev_ssize_t)look), look);
			if (headlen == 0) {
				if (avail >= max_head)
					http_refuse(c, 431, "request head larger than max-headers-size");
				return;
			}
			if (!start_request(c, in, headlen))
				return;
			continue;
		}
		if (avail < c->head.content_length)
			return;
		evtimer_del(c->deadline);
		http_serve(c, evbuffer_pullup(in, (ev_ssize_t)c->head.content_length),
		    c->head.content_length);
		evbuffer_drain(in, c->head.content_length);
		http_head_clear(&c->head);
		c->served++;
		if (c->state != CONN_CLOSING)
			c->state = CONN_HEAD;
	}
}

/* The last answer is out: shut our side, then wait for the client's close. */
static void
start_linger(struct conn *c)
{
	struct timeval tv = { .tv_sec = LINGER_SECONDS };
	evutil_socket_t fd = bufferevent_getfd(c->bev);

	if (c->ssl != NULL && SSL_shutdown(c->ssl) < 0)
		ERR_clear_error();
	if (fd < 0 || shutdown(fd, SHUT_WR) != 0) {
		conn_free(c);
		return;
	}
	c->state = CONN_LINGER;
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	bufferevent_enable(c->bev, EV_READ);
}

static void
conn_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->state == CONN_CLOSING)
		start_linger(c);
}

static void
log_tls_failure(struct conn *c)
{
	unsigned long err = bufferevent_get_openssl_error(c->bev);
	char msg[160];

	if (err == 0)
		return;
	ERR_error_string_n(err, msg, sizeof(msg));
	log_info("peer=%s listener=%s TLS failed: %s", c->peer, c->listener->conf->name, msg);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	size_t pending = evbuffer_get_length(bufferevent_get_input(bev));

	if (what & BEV_EVENT_CONNECTED) {
		evtimer_del(c->deadline); /* the TLS handshake is done */
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
	    (c->state == CONN_BODY || (c->state == CONN_HEAD && pending > 0))) {
		/* A request was under way: say why we give up on it. */
		http_refuse(c, 408, "request not received in time (idle-timeout)");
		bufferevent_enable(bev, EV_WRITE);
		return;
	}
	if ((what & BEV_EVENT_ERROR) && c->ssl != NULL && c->state != CONN_LINGER)
		log_tls_failure(c);
	conn_free(c);
}

static void
describe_peer(struct conn *c, struct sockaddr *sa, int salen)
{
	char host[INET6_ADDRSTRLEN], port[8];

	if (getnameinfo(sa, (socklen_t)salen, host, sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(c->peer, sizeof(c->peer), "?");
	else if (sa->sa_family == AF_INET6)
		snprintf(c->peer, sizeof(c->peer), "[%s]:%s", host, port);
	else
		snprintf(c->peer, sizeof(c->peer), "%s:%s", host, port);
}

static struct bufferevent *
make_bev(struct conn *c, evutil_socket_t fd)
{
	struct event_base *base = c->worker->base;
	struct bufferevent *bev;

	if (c->listener->ssl_ctx == NULL)
		return bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->ssl = SSL_new(c->listener->ssl_ctx);
	if (c->ssl == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, fd, c->ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(c->ssl);
		return NULL;
	}
	/* Many clients close without close_notify after a complete response. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

void
conn_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct worker_listener *wl = arg;
	struct est_server *srv = wl->worker->srv;
	struct timeval tv = { .tv_sec = srv->cfg->idle_timeout };
	struct conn *c;

	(void)evl;
	if (atomic_fetch_add(&srv->connections, 1) >= srv->cfg->max_connections) {
		atomic_fetch_sub(&srv->connections, 1);
		log_warn("listener %s: max-connections (%u) reached; closing a new connection",
		    wl->listener->conf->name, srv->cfg->max_connections);
		evutil_closesocket(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		atomic_fetch_sub(&srv->connections, 1);
		evutil_closesocket(fd);
		return;
	}
	c->worker = wl->worker;
	c->listener = wl->listener;
	TAILQ_INSERT_TAIL(&c->worker->conns, c, link);
	describe_peer(c, sa, salen);
	ratelimit_source(sa, c->source, sizeof(c->source));
	c->bev = make_bev(c, fd);
	if (c->bev == NULL) {
		log_error("listener %s: cannot set up a connection (out of memory)", wl->listener->conf->name);
		evutil_closesocket(fd);
		conn_free(c);
		return;
	}
	c->deadline = evtimer_new(c->worker->base, deadline_cb, c);
	if (c->deadline == NULL) {
		conn_free(c);
		return;
	}
	bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (c->ssl != NULL)
		arm_deadline(c, srv->cfg->handshake_timeout, true);
}
