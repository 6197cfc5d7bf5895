/*
 * The key maker: the one thread of a server that makes /serverkeygen's key
 * pairs, so no event loop waits for one. An RSA 4096 key takes about 2 s
 * here (and RSA key generation has no upper bound): made in a worker, it
 * held every connection of that worker as long, and a client sending a few
 * at once stalled them all (found in review).
 *
 * The request is deferred (http_defer) and queued; the thread makes the
 * keys one after another, in the order asked, and hands each back through
 * an event made active on its worker's loop, which goes on with the request
 * (key_made_fn) -- the way crl_keeper.c hands back a CRL. Keys then queue
 * here, not the other clients of a worker. It runs from est_server_start
 * until the workers have drained; a request still queued when it stops is
 * failed (503), and one dropped with its connection at shutdown
 * (key_maker_drop_pending) is freed unanswered.
 */
#include <pthread.h>
#include <stdlib.h>

#include <event2/event.h>

#include "estkit/ca.h"
#include "server/server_int.h"

struct key_maker {
	pthread_t thread;
	bool started;                   /* the thread runs (main thread's) */
	pthread_mutex_t lock;           /* guards the fields below */
	pthread_cond_t wake;
	struct key_wait *head, *tail;   /* requests waiting for a key, oldest first */
	bool running;                   /* takes requests */
	bool stopping;
};

/* A request waiting for its key. The worker owns it; the thread only
 * makes the key and wakes the worker's loop. */
struct key_wait {
	struct est_worker *worker;
	struct est_req *req;            /* deferred (http_defer) */
	const char *spec;               /* est_key_generate's, or NULL: like */
	EVP_PKEY *like;                 /* borrowed from arg's CSR */
	key_made_fn done;
	void (*free_arg)(void *);
	void *arg;
	struct event *ev;               /* run in the worker's loop with the outcome */
	EVP_PKEY *key;                  /* the outcome: the key (owned), or err */
	struct est_error err;
	struct key_wait *next;          /* in the maker's queue (under its lock) */
	TAILQ_ENTRY(key_wait) link;     /* in worker->key_waits (its thread) */
};

enum est_err
key_maker_new(struct key_maker **out, struct est_error *e)
{
	struct key_maker *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	if (pthread_mutex_init(&k->lock, NULL) != 0) {
		free(k);
		return est_fail(e, EST_ERR_NOMEM, "cannot create the key maker");
	}
	if (pthread_cond_init(&k->wake, NULL) != 0) {
		pthread_mutex_destroy(&k->lock);
		free(k);
		return est_fail(e, EST_ERR_NOMEM, "cannot create the key maker");
	}
	*out = k;
	return EST_OK;
}

static void
make(struct key_wait *w)
{
	if (w->spec != NULL)
		(void)est_key_generate(w->spec, &w->key, &w->err);
	else
		(void)est_key_generate_like(w->like, &w->key, &w->err);
	event_active(w->ev, EV_TIMEOUT, 1);
}

static void *
maker_main(void *arg)
{
	struct key_maker *k = arg;
	struct key_wait *w;

	pthread_mutex_lock(&k->lock);
	while (!k->stopping) {
		if ((w = k->head) == NULL) {
			pthread_cond_wait(&k->wake, &k->lock);
			continue;
		}
		if ((k->head = w->next) == NULL)
			k->tail = NULL;
		pthread_mutex_unlock(&k->lock);
		make(w);
		pthread_mutex_lock(&k->lock);
	}
	k->running = false;
	w = k->head;
	k->head = k->tail = NULL;
	pthread_mutex_unlock(&k->lock);
	for (struct key_wait *next; w != NULL; w = next) {
		next = w->next;
		est_fail(&w->err, EST_ERR_UNAVAILABLE, "the server is stopping");
		event_active(w->ev, EV_TIMEOUT, 1);
	}
	return NULL;
}

enum est_err
key_maker_start(struct key_maker *k, struct est_error *e)
{
	if (k == NULL)
		return EST_OK;
	k->running = true;
	if (pthread_create(&k->thread, NULL, maker_main, k) != 0) {
		k->running = false;
		return est_fail(e, EST_ERR_INTERNAL, "cannot start the key maker thread");
	}
	k->started = true;
	return EST_OK;
}

void
key_maker_stop(struct key_maker *k)
{
	if (k == NULL)
		return;
	if (k->started) {
		pthread_mutex_lock(&k->lock);
		k->stopping = true;
		pthread_cond_signal(&k->wake);
		pthread_mutex_unlock(&k->lock);
		pthread_join(k->thread, NULL);
	}
	pthread_cond_destroy(&k->wake);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

static void
wait_free(struct key_wait *w)
{
	TAILQ_REMOVE(&w->worker->key_waits, w, link);
	if (w->ev != NULL)
		event_free(w->ev);
	EVP_PKEY_free(w->key);
	free(w);
}

/* The worker's loop: the key is made (or not); the request goes on. */
static void
answer(evutil_socket_t fd, short what, void *arg)
{
	struct key_wait *w = arg;
	struct est_req *r = w->req;
	key_made_fn done = w->done;
	EVP_PKEY *key = w->key;
	struct est_error err = w->err;
	void *done_arg = w->arg;

	(void)fd;
	(void)what;
	w->key = NULL;
	wait_free(w);
	done(r, key, &err, done_arg);
}

void
key_maker_ask(struct est_req *r, const char *spec, EVP_PKEY *like, key_made_fn done,
    void (*free_arg)(void *), void *arg)
{
	struct key_maker *k = r->worker->srv->key_maker;
	struct est_error e = { 0 };
	struct key_wait *w;
	bool taken = false;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		est_fail(&e, EST_ERR_NOMEM, "out of memory");
		free_arg(arg);
		http_fail(r, &e);
		return;
	}
	*w = (struct key_wait){ .worker = r->worker, .req = r, .spec = spec, .like = like,
		.done = done, .free_arg = free_arg, .arg = arg };
	TAILQ_INSERT_TAIL(&r->worker->key_waits, w, link);
	if ((w->ev = event_new(r->worker->base, -1, 0, answer, w)) == NULL) {
		wait_free(w);
		free_arg(arg);
		est_fail(&e, EST_ERR_NOMEM, "out of memory");
		http_fail(r, &e);
		return;
	}
	/* Deferred before it is queued: the key comes in a later turn of this loop. */
	http_defer(r);
	if (k != NULL) {
		pthread_mutex_lock(&k->lock);
		if ((taken = k->running && !k->stopping)) {
			if (k->tail != NULL)
				k->tail->next = w;
			else
				k->head = w;
			k->tail = w;
			pthread_cond_signal(&k->wake);
		}
		pthread_mutex_unlock(&k->lock);
	}
	if (!taken) {
		/* Answered now: serve() sees it and goes on at once. */
		est_fail(&e, EST_ERR_UNAVAILABLE, "the key maker is not running: no key can be made");
		wait_free(w);
		free_arg(arg);
		http_fail(r, &e);
	}
}

void
key_maker_drop_pending(struct est_worker *w)
{
	struct key_wait *kw;

	while ((kw = TAILQ_FIRST(&w->key_waits)) != NULL) {
		struct est_req *r = kw->req;

		/* Shutting down: its connection is closed (r detached), no answer goes out. */
		kw->free_arg(kw->arg);
		wait_free(kw);
		if (r->from_conn)
			http_req_free(r);
	}
}
