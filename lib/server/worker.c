/*
 * Workers: one thread, one event loop, one evhttp per listener.
 *
 * Every worker accepts on the same listening sockets, so connections spread
 * over the cores without a dispatcher. A worker has its own store handle and
 * credentials copy; nothing it touches while serving is shared mutably.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "estkit/log.h"
#include "server/server_int.h"

#define ALLOWED_METHODS (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | \
	EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH)

/*
 * evhttp asks this for every accepted connection on a TLS listener. Giving
 * back NULL would make evhttp fall back to plain HTTP on a TLS port, so a
 * failure here is fatal rather than silently insecure.
 */
static struct bufferevent *
tls_bevcb(struct event_base *base, void *arg)
{
	struct worker_listener *wl = arg;
	struct bufferevent *bev;
	SSL *ssl;

	ssl = SSL_new(wl->listener->ssl_ctx);
	if (ssl == NULL) {
		log_error("listener %s: SSL_new failed (out of memory); stopping", wl->listener->conf->name);
		abort();
	}
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		log_error("listener %s: cannot make a TLS bufferevent; stopping", wl->listener->conf->name);
		abort();
	}
	/* Many clients close without close_notify after a complete response. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static enum est_err
setup_http(struct est_worker *w, struct worker_listener *wl, struct est_error *e)
{
	const struct est_config *cfg = w->srv->cfg;
	struct evconnlistener *evl;

	wl->http = evhttp_new(w->base);
	if (wl->http == NULL)
		return est_fail(e, EST_ERR_NOMEM, "evhttp_new failed");
	evhttp_set_max_body_size(wl->http, (ev_ssize_t)cfg->max_body);
	evhttp_set_max_headers_size(wl->http, (ev_ssize_t)cfg->max_headers_size);
	evhttp_set_timeout(wl->http, (int)cfg->idle_timeout);
	evhttp_set_allowed_methods(wl->http, ALLOWED_METHODS);
	evhttp_set_gencb(wl->http, http_request_cb, wl);
	if (wl->listener->ssl_ctx != NULL)
		evhttp_set_bevcb(wl->http, tls_bevcb, wl);
	/* backlog 0: the socket is already listening; the server closes it. */
	evl = evconnlistener_new(w->base, NULL, NULL, LEV_OPT_CLOSE_ON_EXEC, 0, wl->listener->fd);
	if (evl == NULL || evhttp_bind_listener(wl->http, evl) == NULL) {
		if (evl != NULL)
			evconnlistener_free(evl);
		return est_fail(e, EST_ERR_IO, "cannot attach listener %s to worker %u",
		    wl->listener->conf->name, w->id);
	}
	return EST_OK;
}

enum est_err
worker_init(struct est_server *srv, struct est_worker *w, unsigned id, struct est_error *e)
{
	enum est_err rc;

	w->srv = srv;
	w->id = id;
	w->base = event_base_new();
	w->wls = calloc(srv->n_listeners, sizeof(*w->wls));
	if (w->base == NULL || w->wls == NULL)
		return est_fail(e, EST_ERR_NOMEM, "cannot create worker %u", id);
	for (size_t i = 0; i < srv->n_listeners; i++) {
		w->wls[i].worker = w;
		w->wls[i].listener = &srv->listeners[i];
		if ((rc = setup_http(w, &w->wls[i], e)) != EST_OK)
			return rc;
	}
	if ((rc = est_store_open(srv->cfg->store_uri, &w->store, e)) != EST_OK)
		return rc;
	if (srv->cfg->credentials_path != NULL &&
	    (rc = est_creds_load(srv->cfg->credentials_path, &w->creds, e)) != EST_OK)
		return rc;
	return EST_OK;
}

void *
worker_main(void *arg)
{
	struct est_worker *w = arg;

	event_base_dispatch(w->base);
	return NULL;
}

void
worker_stop(struct est_worker *w)
{
	if (w->base != NULL)
		event_base_loopexit(w->base, NULL);
}

void
worker_free(struct est_worker *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; w->wls != NULL && i < w->srv->n_listeners; i++)
		if (w->wls[i].http != NULL)
			evhttp_free(w->wls[i].http);
	free(w->wls);
	est_store_close(w->store);
	est_creds_free(w->creds);
	if (w->base != NULL)
		event_base_free(w->base);
}
