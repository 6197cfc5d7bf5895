/*
 * The CRL keeper: the one thread of a server that makes CRLs, so no event
 * loop waits for the commit (fsync) of a new CRL or the write of crl-file
 * (issue 12: an event loop never waits on fsync).
 *
 * It has its own store handle. It checks each CA's CRL as soon as the
 * server serves (that first check also rewrites crl-file, which a previous
 * run may have left behind), then every crl-check-interval seconds, making
 * a new CRL after a revocation or once half its validity is spent
 * (est_crl_current), so crl-file follows even when nobody asks estd.
 *
 * A CRL request only reads the store (h_crl.c, est_crl_stored). When the
 * stored CRL is stale it asks the keeper: the request is deferred
 * (http_defer) and queued here; the keeper takes every request queued for
 * a CA, makes that CA's CRL once for all of them, and hands each its copy
 * through an event made active on its worker's loop, which answers it
 * (crl_reply) -- the way reply_cert.c answers an enrolment once the grouped
 * writer has made it durable. Requests that come while a CRL is being made
 * wait for the next round, which finds that CRL current: many requests
 * after one revocation make one CRL. A failure is each request's answer.
 *
 * The keeper runs from est_server_start until the server's workers have
 * drained (est_server_drain), so the CRL requests they hold are answered;
 * a request still queued when it stops is failed (503), and is dropped
 * with its connection (crl_keeper_drop_pending) like an enrolment.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>

#include "estkit/log.h"
#include "estkit/revoke.h"
#include "server/server_int.h"

struct crl_keeper {
	struct est_server *srv;         /* borrowed: its CAs and configuration */
	struct est_store *st;           /* the keeper's own handle */
	int64_t *published;             /* per CA: the CRL number in crl-file; 0: none, or the
	                                 * write failed (tried again at the next check) */
	pthread_t thread;
	bool started;                   /* the thread runs (main thread's) */
	pthread_mutex_t lock;           /* guards the fields below */
	pthread_cond_t wake;
	struct crl_wait *asked;         /* requests waiting for a new CRL, newest first */
	bool running;                   /* takes requests */
	bool stopping;
};

/* A CRL request waiting for the keeper. The worker owns it; the keeper
 * only fills the outcome and wakes the worker's loop. */
struct crl_wait {
	struct est_worker *worker;
	struct est_req *req;            /* deferred (http_defer) */
	size_t ca;                      /* index of the CA in srv->cas */
	struct event *ev;               /* run in the worker's loop with the outcome */
	enum est_err rc;                /* the outcome: EST_OK and crl, or err */
	struct est_error err;
	struct est_crl_rec *crl;        /* owned */
	struct crl_wait *next;          /* in keeper->asked (under its lock) */
	TAILQ_ENTRY(crl_wait) link;     /* in worker->crl_waits (its thread) */
};

enum est_err
crl_keeper_new(struct est_server *srv, struct crl_keeper **out, struct est_error *e)
{
	struct crl_keeper *k = calloc(1, sizeof(*k));
	pthread_condattr_t attr;
	enum est_err rc;
	bool ok;

	if (k == NULL || (k->published = calloc(srv->n_cas + 1, sizeof(int64_t))) == NULL) {
		free(k);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	k->srv = srv;
	if ((rc = est_store_open(srv->cfg->store_uri, &k->st, e)) != EST_OK) {
		free(k->published);
		free(k);
		return rc;
	}
	/* Checks are spaced on the monotonic clock: setting the date moves none. */
	if ((ok = pthread_condattr_init(&attr) == 0)) {
		ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
		    pthread_cond_init(&k->wake, &attr) == 0;
		pthread_condattr_destroy(&attr);
	}
	if (!ok || pthread_mutex_init(&k->lock, NULL) != 0) {
		est_store_close(k->st);
		free(k->published);
		free(k);
		return est_fail(e, EST_ERR_NOMEM, "cannot create the CRL keeper");
	}
	*out = k;
	return EST_OK;
}

/*
 * CA i's current CRL, made now when stale. crl-file is written whenever the
 * current CRL is not the one in it, whoever made it: on a shared store
 * another estd or estadm often makes it, and every node's file must follow
 * (docs/deployment.md). With publish (the file is missing) it is written
 * anyway.
 */
static enum est_err
keep(struct crl_keeper *k, size_t i, bool publish, struct est_crl_rec **out,
    struct est_error *e)
{
	const struct est_ca_conf *cc = &k->srv->cfg->cas[i];
	struct est_crl_rec *crl = NULL;
	struct est_error fe = { 0 };
	enum est_err rc;
	bool made = false;

	rc = est_crl_current(k->st, k->srv->cas[i], cc->crl_validity_hours * 3600u, time(NULL),
	    false, &crl, &made, e);
	if (rc != EST_OK)
		return rc;
	if (made)
		log_info("CA %s: made CRL number %lld", cc->name, (long long)crl->crl_number);
	if ((publish || crl->crl_number != k->published[i]) && cc->crl_file != NULL) {
		/* The CRL is on record and served; only the file lags, and is retried. */
		k->published[i] = crl->crl_number;
		if (est_crl_write_file(cc->crl_file, crl, &fe) != EST_OK) {
			k->published[i] = 0;
			log_warn("CA %s: %s", cc->name, fe.msg);
		}
	}
	*out = crl;
	return EST_OK;
}

/* Whether the CRL file is missing, so the check writes it. */
static bool
file_missing(const char *path)
{
	struct stat st;

	return path != NULL && stat(path, &st) != 0;
}

static void
check_all(struct crl_keeper *k)
{
	for (size_t i = 0; i < k->srv->n_cas; i++) {
		struct est_crl_rec *crl = NULL;
		struct est_error e = { 0 };

		if (!est_ca_can_issue(k->srv->cas[i]))
			continue;
		if (keep(k, i, file_missing(k->srv->cfg->cas[i].crl_file), &crl,
		    &e) != EST_OK)
			log_warn("CA %s: cannot keep the CRL current: %s", k->srv->cfg->cas[i].name,
			    e.msg);
		est_crl_rec_free(crl);
	}
}

static struct est_crl_rec *
crl_copy(const struct est_crl_rec *c)
{
	struct est_crl_rec *d = malloc(sizeof(*d));

	if (d == NULL)
		return NULL;
	*d = *c;
	if ((d->der = malloc(c->der_len)) == NULL) {
		free(d);
		return NULL;
	}
	memcpy(d->der, c->der, c->der_len);
	return d;
}

/* Hand w its outcome; w is the worker's again once its event is active. */
static void
report(struct crl_wait *w, enum est_err rc, const struct est_error *e,
    const struct est_crl_rec *crl)
{
	w->rc = rc;
	if (rc == EST_OK && (w->crl = crl_copy(crl)) == NULL)
		w->rc = est_fail(&w->err, EST_ERR_NOMEM, "out of memory");
	else if (rc != EST_OK)
		w->err = *e;
	event_active(w->ev, EV_TIMEOUT, 1);
}

/* Make each CA's CRL once for all the requests of the batch that ask for it. */
static void
serve_batch(struct crl_keeper *k, struct crl_wait *batch)
{
	for (size_t i = 0; i < k->srv->n_cas && batch != NULL; i++) {
		struct crl_wait **pp = &batch, *w;
		struct est_crl_rec *crl = NULL;
		struct est_error e = { 0 };
		enum est_err rc = EST_OK;
		bool done = false;

		while ((w = *pp) != NULL) {
			if (w->ca != i) {
				pp = &w->next;
				continue;
			}
			if (!done) {
				rc = keep(k, i, false, &crl, &e);
				done = true;
			}
			*pp = w->next;
			report(w, rc, &e, crl);
		}
		est_crl_rec_free(crl);
	}
}

static void
fail_batch(struct crl_wait *batch, const char *why)
{
	struct est_error e = { 0 };
	struct crl_wait *next;

	est_fail(&e, EST_ERR_UNAVAILABLE, "%s", why);
	for (; batch != NULL; batch = next) {
		next = batch->next;
		report(batch, EST_ERR_UNAVAILABLE, &e, NULL);
	}
}

static bool
reached(const struct timespec *now, const struct timespec *t)
{
	return now->tv_sec > t->tv_sec || (now->tv_sec == t->tv_sec && now->tv_nsec >= t->tv_nsec);
}

static void *
keeper_main(void *arg)
{
	struct crl_keeper *k = arg;
	struct timespec next, now;
	struct crl_wait *batch;

	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&k->lock);
	while (!k->stopping) {
		if ((batch = k->asked) != NULL) {
			k->asked = NULL;
			pthread_mutex_unlock(&k->lock);
			serve_batch(k, batch);
			pthread_mutex_lock(&k->lock);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!reached(&now, &next)) {
			pthread_cond_timedwait(&k->wake, &k->lock, &next);
			continue;
		}
		pthread_mutex_unlock(&k->lock);
		check_all(k);
		clock_gettime(CLOCK_MONOTONIC, &next);
		next.tv_sec += k->srv->cfg->crl_check_interval;
		pthread_mutex_lock(&k->lock);
	}
	k->running = false;
	batch = k->asked;
	k->asked = NULL;
	pthread_mutex_unlock(&k->lock);
	fail_batch(batch, "the server is stopping");
	return NULL;
}

enum est_err
crl_keeper_start(struct crl_keeper *k, struct est_error *e)
{
	if (k == NULL)
		return EST_OK;
	k->running = true;
	if (pthread_create(&k->thread, NULL, keeper_main, k) != 0) {
		k->running = false;
		return est_fail(e, EST_ERR_INTERNAL, "cannot start the CRL keeper thread");
	}
	k->started = true;
	return EST_OK;
}

void
crl_keeper_stop(struct crl_keeper *k)
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
	est_store_close(k->st);
	pthread_cond_destroy(&k->wake);
	pthread_mutex_destroy(&k->lock);
	free(k->published);
	free(k);
}

static void
wait_free(struct crl_wait *w)
{
	TAILQ_REMOVE(&w->worker->crl_waits, w, link);
	if (w->ev != NULL)
		event_free(w->ev);
	est_crl_rec_free(w->crl);
	free(w);
}

/* The worker's loop: the keeper has made the CRL (or failed); answer. */
static void
answer(evutil_socket_t fd, short what, void *arg)
{
	struct crl_wait *w = arg;
	struct est_req *r = w->req;

	(void)fd;
	(void)what;
	if (w->rc == EST_OK)
		crl_reply(r, w->crl);
	else
		http_fail(r, &w->err);
	wait_free(w);
	http_complete(r);
}

void
crl_keeper_ask(struct est_req *r, size_t ca_index)
{
	struct crl_keeper *k = r->worker->srv->crl_keeper;
	struct est_error e = { 0 };
	struct crl_wait *w;
	bool taken = false;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		est_fail(&e, EST_ERR_NOMEM, "out of memory");
		http_fail(r, &e);
		return;
	}
	w->worker = r->worker;
	w->req = r;
	w->ca = ca_index;
	TAILQ_INSERT_TAIL(&r->worker->crl_waits, w, link);
	if ((w->ev = event_new(r->worker->base, -1, 0, answer, w)) == NULL) {
		wait_free(w);
		est_fail(&e, EST_ERR_NOMEM, "out of memory");
		http_fail(r, &e);
		return;
	}
	/* Deferred before it is queued: the answer comes in a later turn of this loop. */
	http_defer(r);
	if (k != NULL) {
		pthread_mutex_lock(&k->lock);
		if ((taken = k->running && !k->stopping)) {
			w->next = k->asked;
			k->asked = w;
			pthread_cond_signal(&k->wake);
		}
		pthread_mutex_unlock(&k->lock);
	}
	if (!taken) {
		/* Answered now: serve() sees it and goes on at once. */
		est_fail(&e, EST_ERR_UNAVAILABLE, "the CRL keeper is not running: no new CRL "
		    "can be made for CA %s", est_ca_name(r->worker->srv->cas[ca_index]));
		http_fail(r, &e);
		wait_free(w);
	}
}

void
crl_keeper_drop_pending(struct est_worker *w)
{
	struct crl_wait *cw;

	while ((cw = TAILQ_FIRST(&w->crl_waits)) != NULL) {
		struct est_req *r = cw->req;

		/* Shutting down: its connection is closed (r detached), no answer goes out. */
		wait_free(cw);
		if (r->from_conn)
			http_req_free(r);
	}
}
