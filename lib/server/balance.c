/*
 * Spreading connections over the workers.
 *
 * Every worker accepts on the same listening sockets, and the first accept
 * loop to wake takes every connection waiting: 32 connections opened at
 * once all went to one worker. Clients that keep their connections (a
 * reverse proxy's keep-alive pool) then stay on that worker, whose requests
 * queue while the other idles. So the worker that accepts keeps a
 * connection only when no other worker holds fewer; otherwise it hands the
 * socket to the one that holds fewest, which sets it up in its own loop.
 * Holding is counted from that decision, so a burst spreads even before the
 * handed sockets are set up.
 *
 * A handed socket has been admitted (its slots in the connection limits are
 * taken): whoever ends up with it gives them back when it closes, or here
 * when it is dropped unserved at shutdown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_int.h"

struct handoff {
	evutil_socket_t fd;
	size_t listener;                  /* index in the server's listeners */
	struct sockaddr_storage sa;
	int salen;
	char source[sizeof(((struct conn *)0)->source)]; /* as conn.c counted it */
	STAILQ_ENTRY(handoff) link;
};

/* The worker that holds fewest connections, w itself on a tie. */
static struct est_worker *
least_held(struct est_worker *w)
{
	struct est_server *srv = w->srv;
	struct est_worker *best = w;
	unsigned best_n = atomic_load(&w->held);

	for (size_t i = 0; i < srv->n_workers; i++) {
		struct est_worker *o = &srv->workers[i];
		unsigned n;

		if (o == w || atomic_load(&o->draining))
			continue;
		if ((n = atomic_load(&o->held)) < best_n) {
			best = o;
			best_n = n;
		}
	}
	return best;
}

bool
balance_hand_off(struct worker_listener *wl, evutil_socket_t fd, const struct sockaddr *sa,
    int salen, const char *source)
{
	struct est_worker *self = wl->worker, *to = least_held(self);
	struct handoff *h;

	if (to != self && (size_t)salen <= sizeof(h->sa) && (h = calloc(1, sizeof(*h))) != NULL) {
		h->fd = fd;
		h->listener = (size_t)(wl - self->wls);
		memcpy(&h->sa, sa, (size_t)salen);
		h->salen = salen;
		snprintf(h->source, sizeof(h->source), "%s", source);
		atomic_fetch_add(&to->held, 1);
		pthread_mutex_lock(&to->handoff_lock);
		STAILQ_INSERT_TAIL(&to->handoffs, h, link);
		pthread_mutex_unlock(&to->handoff_lock);
		event_active(to->handoff_ev, EV_TIMEOUT, 1);
		return true;
	}
	atomic_fetch_add(&self->held, 1);
	return false;
}

/* The receiving worker's loop: set up the sockets handed to it. */
static void
take_handoffs(evutil_socket_t fd, short what, void *arg)
{
	struct est_worker *w = arg;
	struct handoff_list got = STAILQ_HEAD_INITIALIZER(got);
	struct handoff *h;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->handoff_lock);
	STAILQ_CONCAT(&got, &w->handoffs);
	pthread_mutex_unlock(&w->handoff_lock);
	while ((h = STAILQ_FIRST(&got)) != NULL) {
		STAILQ_REMOVE_HEAD(&got, link);
		conn_start(&w->wls[h->listener], h->fd, (struct sockaddr *)&h->sa, h->salen,
		    h->source);
		free(h);
	}
}

enum est_err
balance_init(struct est_worker *w, struct est_error *e)
{
	STAILQ_INIT(&w->handoffs);
	if (pthread_mutex_init(&w->handoff_lock, NULL) != 0)
		return est_fail(e, EST_ERR_NOMEM, "cannot create worker %u's hand-off lock", w->id);
	w->handoff_lock_made = true;
	if ((w->handoff_ev = event_new(w->base, -1, 0, take_handoffs, w)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "cannot create worker %u's hand-off event", w->id);
	return EST_OK;
}

void
balance_free(struct est_worker *w)
{
	struct handoff *h;

	if (!w->handoff_lock_made)
		return;
	/* Its loop has stopped: sockets still queued were never served. */
	while ((h = STAILQ_FIRST(&w->handoffs)) != NULL) {
		STAILQ_REMOVE_HEAD(&w->handoffs, link);
		conn_unadmit(w, h->fd, h->source);
		free(h);
	}
	if (w->handoff_ev != NULL)
		event_free(w->handoff_ev);
	pthread_mutex_destroy(&w->handoff_lock);
}
