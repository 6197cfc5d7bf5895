/*
 * Workers: one thread, one event loop, one listener per listening socket.
 *
 * Every worker accepts on the same listening sockets, so connections spread
 * over the cores without a dispatcher; one that holds more than another
 * hands its new sockets over (balance.c). A worker has its own store handle and
 * credentials copy; what it touches while serving is shared mutably only
 * through the atomic connection counter and the locked failure tables
 * (ratelimit.c).
 */
#include <stdlib.h>
#include <string.h>

#include "estkit/log.h"
#include "server/server_int.h"

/*
 * How often a worker counts its idle connections for the others: a worker
 * at max-connections without idle connections of its own asks one that had
 * some at its last count to close its oldest (conn.c make_room).
 */
#define EVICT_RECOUNT_MS 100

static void
recount_cb(evutil_socket_t fd, short what, void *arg)
{
	struct est_worker *w = arg;

	(void)fd;
	(void)what;
	atomic_store(&w->evictable, conn_count_evictable(w));
}

static void
evict_cb(evutil_socket_t fd, short what, void *arg)
{
	struct est_worker *w = arg;
	unsigned n = atomic_exchange(&w->evict_asked, 0);

	(void)fd;
	(void)what;
	while (n-- > 0 && conn_evict_oldest(w))
		;
}

static enum est_err
make_events(struct est_worker *w, struct est_error *e)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = EVICT_RECOUNT_MS * 1000 };

	w->recount = event_new(w->base, -1, EV_PERSIST, recount_cb, w);
	w->evict = event_new(w->base, -1, 0, evict_cb, w);
	if (w->recount == NULL || w->evict == NULL || event_add(w->recount, &tv) != 0)
		return est_fail(e, EST_ERR_NOMEM, "cannot create worker %u's events", w->id);
	return EST_OK;
}

void
worker_evict(struct est_worker *w)
{
	atomic_fetch_add(&w->evict_asked, 1);
	event_active(w->evict, EV_TIMEOUT, 0);
}

static enum est_err
attach_listener(struct est_worker *w, struct worker_listener *wl, struct est_error *e)
{
	/* backlog 0: the socket is already listening; the server closes it. */
	wl->evl = evconnlistener_new(w->base, conn_accept, wl, LEV_OPT_CLOSE_ON_EXEC, 0,
	    wl->listener->fd);
	if (wl->evl == NULL)
		return est_fail(e, EST_ERR_IO, "cannot attach listener %s to worker %u",
		    wl->listener->conf->name, w->id);
	accept_pause_on_error(wl->evl);
	return EST_OK;
}

/*
 * An event base whose epoll changes wait for the next epoll_wait: a request
 * turns its connection's reading off and on and its writing on and off, and
 * changes made in one pass of the loop go to the kernel as one epoll_ctl.
 * libevent warns that it confuses descriptors made by dup() of one socket
 * in one epoll set. A reload's new server takes each listener over as such
 * a dup (server.c), but each base watches only its own server's copy, and
 * est_server_free frees the bases, their epoll sets with them, before it
 * closes the listeners: keep that order.
 */
static struct event_base *
new_base(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (cfg == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

enum est_err
worker_init(struct est_server *srv, struct est_worker *w, unsigned id, struct est_error *e)
{
	enum est_err rc;

	w->srv = srv;
	w->id = id;
	TAILQ_INIT(&w->conns);
	TAILQ_INIT(&w->pending);
	TAILQ_INIT(&w->holds);
	TAILQ_INIT(&w->side_jobs);
	w->base = new_base();
	w->wls = calloc(srv->n_listeners, sizeof(*w->wls));
	if (w->base == NULL || w->wls == NULL)
		return est_fail(e, EST_ERR_NOMEM, "cannot create worker %u", id);
	for (size_t i = 0; i < srv->n_listeners; i++) {
		w->wls[i].worker = w;
		w->wls[i].listener = &srv->listeners[i];
		if ((rc = attach_listener(w, &w->wls[i], e)) != EST_OK)
			return rc;
	}
	if ((rc = make_events(w, e)) != EST_OK || (rc = balance_init(w, e)) != EST_OK)
		return rc;
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

/* Runs on the worker's own thread (scheduled by worker_drain). */
static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct est_worker *w = arg;
	struct timeval bound = { .tv_sec = w->srv->cfg->drain_timeout };

	(void)fd;
	(void)what;
	w->draining = true;
	for (size_t i = 0; i < w->srv->n_listeners; i++)
		evconnlistener_disable(w->wls[i].evl);
	conn_close_idle(w);
	if (TAILQ_EMPTY(&w->conns))
		event_base_loopexit(w->base, NULL);
	else
		event_base_loopexit(w->base, &bound);
}

enum est_err
worker_drain(struct est_worker *w, struct est_error *e)
{
	struct timeval now = { 0 };

	/* event_base_once is safe from another thread: the base is locked and woken. */
	if (event_base_once(w->base, -1, EV_TIMEOUT, drain_cb, w, &now) != 0)
		return est_fail(e, EST_ERR_INTERNAL, "cannot ask worker %u to drain", w->id);
	return EST_OK;
}

void
worker_conn_closed(struct est_worker *w)
{
	if (w->draining && TAILQ_EMPTY(&w->conns))
		event_base_loopexit(w->base, NULL);
}

void
worker_free(struct est_worker *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; w->wls != NULL && i < w->srv->n_listeners; i++)
		if (w->wls[i].evl != NULL)
			evconnlistener_free(w->wls[i].evl);
	free(w->wls);
	/* Connections still open at shutdown (idle keep-alive clients). */
	while (!TAILQ_EMPTY(&w->conns))
		conn_free(TAILQ_FIRST(&w->conns));
	/* The writer, the CRL keeper and the key maker have stopped (est_server_free):
	 * nothing reports any more. */
	reply_cert_drop_pending(w);
	approval_drop_pending(w);
	side_thread_drop_pending(w);
	balance_free(w);
	est_store_close(w->store);
	est_creds_free(w->creds);
	ocsp_cache_free(w->ocsp);
	if (w->recount != NULL)
		event_free(w->recount);
	if (w->evict != NULL)
		event_free(w->evict);
	if (w->base != NULL)
		event_base_free(w->base);
}
