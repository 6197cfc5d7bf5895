/*
 * The /metrics listener (include/estkit/metrics.h): plain HTTP on a socket
 * of its own, served by libevent's small HTTP server on a thread of its
 * own, so a scrape never waits behind an enrolment and the EST listeners'
 * code (conn.c, http.c) knows nothing of it. GET (and HEAD) /metrics only;
 * headers, body and time are bounded like the EST listeners'.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <event2/util.h>

#include "estkit/log.h"
#include "estkit/metrics.h"
#include "server/server_int.h"

#define METRICS_TIMEOUT_SECONDS 10
#define METRICS_MAX_HEADERS 8192

struct est_metrics_listener {
	struct event_base *base;
	struct evhttp *http;
	char *store_uri;
	int port;
	pthread_t thread;
	bool started;
};

static void
reply_text(struct evhttp_request *req, int status, const char *reason, const char *text)
{
	struct evbuffer *out = evbuffer_new();

	if (out == NULL) {
		evhttp_send_error(req, 503, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/plain; charset=utf-8");
	evbuffer_add(out, text, strlen(text));
	evhttp_send_reply(req, status, reason, out);
	evbuffer_free(out);
}

static void
serve_metrics(struct evhttp_request *req, void *arg)
{
	struct est_metrics_listener *m = arg;
	struct est_error e = { 0 };
	struct evbuffer *out;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	char *text = NULL;
	size_t len = 0;

	if (path == NULL || strcmp(path, "/metrics") != 0) {
		reply_text(req, 404, "Not Found", "metrics are at /metrics\n");
		return;
	}
	if (est_metrics_render(m->store_uri, &text, &len, &e) != EST_OK ||
	    (out = evbuffer_new()) == NULL) {
		free(text);
		log_error("metrics: %s", e.msg[0] != '\0' ? e.msg : "out of memory");
		reply_text(req, 500, "Internal Server Error", "internal error\n");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8");
	evbuffer_add(out, text, len);
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
	free(text);
}

static enum est_err
bind_port(struct est_metrics_listener *m, const char *host, const char *port,
    struct est_error *e)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char portstr[NI_MAXSERV];

	bs = evhttp_bind_socket_with_handle(m->http, host[0] != '\0' ? host : "::", (ev_uint16_t)atoi(port));
	if (bs == NULL && host[0] == '\0')
		bs = evhttp_bind_socket_with_handle(m->http, "0.0.0.0", (ev_uint16_t)atoi(port));
	if (bs == NULL)
		return est_fail(e, EST_ERR_IO, "metrics-listen: cannot listen on %s:%s: %s",
		    host, port, strerror(errno));
	accept_pause_on_error(evhttp_bound_socket_get_listener(bs));
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sslen) != 0 ||
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
	/* Another thread stops the loop (est_metrics_listener_free). */
	if (evthread_use_pthreads() != 0) {
		free(m);
		return est_fail(e, EST_ERR_INTERNAL, "libevent has no pthreads support");
	}
	m->base = event_base_new();
	m->http = m->base != NULL ? evhttp_new(m->base) : NULL;
	m->store_uri = store_uri != NULL ? strdup(store_uri) : NULL;
	if (m->http == NULL || (store_uri != NULL && m->store_uri == NULL)) {
		est_metrics_listener_free(m);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(m->http, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(m->http, 0);
	evhttp_set_timeout(m->http, METRICS_TIMEOUT_SECONDS);
	evhttp_set_gencb(m->http, serve_metrics, m);
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
	if (m->http != NULL)
		evhttp_free(m->http);
	if (m->base != NULL)
		event_base_free(m->base);
	free(m->store_uri);
	free(m);
}
