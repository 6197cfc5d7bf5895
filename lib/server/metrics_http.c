/*
 * The /metrics listener (include/estkit/metrics.h): plain HTTP on a socket
 * of its own, served on a thread of its own, so a scrape never waits behind
 * an enrolment and the EST listeners' code (conn.c, http.c) knows nothing
 * of it. GET (and HEAD) /metrics only, one request per connection.
 *
 * Every connection is bounded like an EST listener's: a request head of
 * METRICS_MAX_HEAD bytes, no body, and METRICS_TIMEOUT_SECONDS from accept
 * to the end of the answer, whatever the client does. At most
 * METRICS_MAX_CONNECTIONS are open: a connection beyond them is closed at
 * once (scrapers need one or two), so idle clients cannot hold descriptors
 * and memory of the process that the EST listeners need. libevent's evhttp
 * (2.1) offers no such cap nor a way to see its connections close, hence
 * the small server here.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>

#include "estkit/log.h"
#include "estkit/metrics.h"
#include "server/http_parse.h"
#include "server/server_int.h"

#define METRICS_TIMEOUT_SECONDS 10
#define METRICS_MAX_HEAD 8192
#define METRICS_MAX_CONNECTIONS 8
#define METRICS_MAX_FIELDS 64

/* One client connection; owned by its listener's list. */
struct mconn {
	struct est_metrics_listener *m;
	struct bufferevent *bev;
	struct event *deadline;         /* METRICS_TIMEOUT_SECONDS after accept */
	bool head_only;                 /* HEAD */
	TAILQ_ENTRY(mconn) link;
};

struct est_metrics_listener {
	struct event_base *base;
	struct evconnlistener *evl;
	TAILQ_HEAD(, mconn) conns;
	unsigned n_conns;
	char *store_uri;
	int port;
	pthread_t thread;
	bool started;
};

static struct log_limit limit_full;

static void
mconn_free(struct mconn *c)
{
	TAILQ_REMOVE(&c->m->conns, c, link);
	c->m->n_conns--;
	event_free(c->deadline);
	bufferevent_free(c->bev);
	free(c);
}

/* All output is out after the answer: the connection is done. */
static void
mconn_written(struct bufferevent *bev, void *arg)
{
	(void)bev;
	mconn_free(arg);
}

/* The client closed or the connection failed. */
static void
mconn_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	mconn_free(arg);
}

/* Queue the answer and close once it is out; nothing more is read. */
static void
answer(struct mconn *c, int status, const char *content_type, const char *body, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	bufferevent_disable(c->bev, EV_READ);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "%sConnection: close\r\n\r\n", status, http_status_phrase(status), content_type, len,
	    status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (!c->head_only)
		evbuffer_add(out, body, len);
	bufferevent_setcb(c->bev, NULL, mconn_written, mconn_event, c);
	bufferevent_enable(c->bev, EV_WRITE);
}

/* A refusal: the reason as one line of text. */
static void
answer_text(struct mconn *c, int status, const char *reason)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "%s\n", reason);

	answer(c, status, "text/plain; charset=utf-8", line,
	    n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void
serve_metrics(struct mconn *c)
{
	struct est_error e = { 0 };
	char *text = NULL;
	size_t len = 0;

	if (est_metrics_render(c->m->store_uri, &text, &len, &e) != EST_OK) {
		log_error("metrics: %s", e.msg);
		answer_text(c, 500, "internal error");
		return;
	}
	answer(c, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
}

/* What a complete request head asks for, answered; reading stops. */
static void
head_done(struct mconn *c, const struct http_head *h)
{
	c->head_only = strcmp(h->method, "HEAD") == 0;
	if (!c->head_only && strcmp(h->method, "GET") != 0)
		answer_text(c, 405, "GET or HEAD /metrics");
	else if (strcmp(h->path, "/metrics") != 0)
		answer_text(c, 404, "metrics are at /metrics");
	else if (h->content_length > 0)
		answer_text(c, 413, "a request for /metrics has no body");
	else
		serve_metrics(c);
}

/* The request head, parsed as the EST listeners parse theirs (http_parse.c). */
static void
mconn_read(struct bufferevent *bev, void *arg)
{
	struct mconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t have = evbuffer_get_length(in), len;
	struct http_head h = { 0 };
	const char *data, *reason = NULL;
	int status;

	if (have > METRICS_MAX_HEAD)
		have = METRICS_MAX_HEAD;
	if ((data = (const char *)evbuffer_pullup(in, (ssize_t)have)) == NULL)
		return;
	if ((len = http_head_length(data, have)) == 0) {
		if (have == METRICS_MAX_HEAD)
			answer_text(c, 431, "request head too large");
		return;
	}
	if ((status = http_parse_head(data, len, METRICS_MAX_FIELDS, &h, &reason)) != 0)
		answer_text(c, status, reason != NULL ? reason : "malformed request");
	else
		head_done(c, &h);
	http_head_clear(&h);
}

static void
mconn_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	mconn_free(arg);
}

static void
metrics_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	const struct timeval tv = { .tv_sec = METRICS_TIMEOUT_SECONDS };
	struct est_metrics_listener *m = arg;
	struct mconn *c;
	unsigned dropped;

	(void)evl;
	if (m->n_conns >= METRICS_MAX_CONNECTIONS) {
		if (log_limit_pass(&limit_full, &dropped)) {
			char host[NI_MAXHOST] = "?";

			(void)getnameinfo(sa, (socklen_t)salen, host, sizeof(host), NULL, 0,
			    NI_NUMERICHOST);
			log_info("metrics: closed a new connection from %s: %d open, the most the "
			    "metrics listener takes (%u more like it not logged)", host,
			    METRICS_MAX_CONNECTIONS, dropped);
		}
		evutil_closesocket(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->bev = bufferevent_socket_new(m->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL ||
	    (c->deadline = evtimer_new(m->base, mconn_deadline, c)) == NULL ||
	    evtimer_add(c->deadline, &tv) != 0 || bufferevent_enable(c->bev, EV_READ) != 0) {
		if (c != NULL && c->bev != NULL)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		if (c != NULL && c->deadline != NULL)
			event_free(c->deadline);
		free(c);
		log_warn("metrics: cannot take a connection: out of memory");
		return;
	}
	c->m = m;
	TAILQ_INSERT_TAIL(&m->conns, c, link);
	m->n_conns++;
	bufferevent_setcb(c->bev, mconn_read, NULL, mconn_event, c);
}

/* Listen on host:port; on failure errno says why. */
static bool
listen_on(struct est_metrics_listener *m, const char *host, const char *port, int *gai)
{
	const unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE;
	struct addrinfo hints = { 0 }, *res = NULL;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((*gai = getaddrinfo(host, port, &hints, &res)) != 0)
		return false;
	m->evl = evconnlistener_new_bind(m->base, metrics_accept, m, flags, -1, res->ai_addr,
	    (int)res->ai_addrlen);
	freeaddrinfo(res);
	return m->evl != NULL;
}

/* Listen on host:port; host "": every address, IPv6 and IPv4, or IPv4 alone. */
static enum est_err
bind_port(struct est_metrics_listener *m, const char *host, const char *port,
    struct est_error *e)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char portstr[NI_MAXSERV];
	int gai = 0;

	if (host[0] != '\0' ? !listen_on(m, host, port, &gai) :
	    !listen_on(m, "::", port, &gai) && !listen_on(m, "0.0.0.0", port, &gai)) {
		if (gai != 0)
			return est_fail(e, EST_ERR_CONFIG, "metrics-listen: cannot resolve %s: %s",
			    host, gai_strerror(gai));
		return est_fail(e, EST_ERR_IO, "metrics-listen: cannot listen on %s:%s: %s",
		    host, port, strerror(errno));
	}
	accept_pause_on_error(m->evl);
	if (getsockname(evconnlistener_get_fd(m->evl), (struct sockaddr *)&ss, &sslen) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, sslen, NULL, 0, portstr, sizeof(portstr),
	    NI_NUMERICSERV) != 0)
		return est_fail(e, EST_ERR_IO, "metrics-listen: %s", strerror(errno));
	m->port = atoi(portstr);
	return EST_OK;
}

enum est_err
est_metrics_listen(const char *host, const char *port, const char *store_uri,
    struct est_metrics_listener **out, struct est_error *e)
{
	struct est_metrics_listener *m = calloc(1, sizeof(*m));
	enum est_err rc;

	if (m == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	TAILQ_INIT(&m->conns);
	/* Another thread stops the loop (est_metrics_listener_free). */
	if (evthread_use_pthreads() != 0) {
		free(m);
		return est_fail(e, EST_ERR_INTERNAL, "libevent has no pthreads support");
	}
	m->base = event_base_new();
	m->store_uri = store_uri != NULL ? strdup(store_uri) : NULL;
	if (m->base == NULL || (store_uri != NULL && m->store_uri == NULL)) {
		est_metrics_listener_free(m);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	if ((rc = bind_port(m, host, port, e)) != EST_OK) {
		est_metrics_listener_free(m);
		return rc;
	}
	*out = m;
	return EST_OK;
}

int
est_metrics_listener_port(const struct est_metrics_listener *m)
{
	return m->port;
}

static void *
metrics_main(void *arg)
{
	struct est_metrics_listener *m = arg;

	event_base_dispatch(m->base);
	return NULL;
}

enum est_err
est_metrics_start(struct est_metrics_listener *m, struct est_error *e)
{
	if (pthread_create(&m->thread, NULL, metrics_main, m) != 0)
		return est_fail(e, EST_ERR_INTERNAL, "cannot start the metrics thread");
	m->started = true;
	log_info("metrics on http://*:%d/metrics", m->port);
	return EST_OK;
}

void
est_metrics_listener_free(struct est_metrics_listener *m)
{
	if (m == NULL)
		return;
	if (m->started) {
		event_base_loopbreak(m->base);
		pthread_join(m->thread, NULL);
	}
	while (!TAILQ_EMPTY(&m->conns))
		mconn_free(TAILQ_FIRST(&m->conns));
	if (m->evl != NULL)
		evconnlistener_free(m->evl);
	if (m->base != NULL)
		event_base_free(m->base);
	free(m->store_uri);
	free(m);
}
