/*
 * A side thread: one thread of a server that does what would stall an
 * event loop (making a key, committing a CRL), for requests the workers
 * hand it. The CRL keeper (crl_keeper.c) and the key maker (key_maker.c)
 * are side threads; this is what they share, each keeping what a job is,
 * what doing it means and how its answer goes out (struct side_ops).
 *
 * A request is deferred (http_defer) and its job queued here; the thread
 * takes the oldest job (or all of them), does it and makes the job's event
 * active on its worker's loop, which answers the request there. A job is
 * its worker's throughout (worker->side_jobs); the thread only fills in
 * the outcome. The thread runs from est_server_start until the workers
 * have drained, so the jobs they hold are answered; a job still queued when
 * it stops is failed (503), and one whose worker is freed first, at
 * shutdown, is dropped unanswered (side_thread_drop_pending).
 *
 * A client that leaves while its job waits (its connection freed: conn.c
 * reads on while a request is held, to see the end of the input) abandons
 * the job (side_job_abandon, from detaching the request): the thread skips
 * it if not started yet, and when it comes back its worker drops it,
 * request and all, without answering it. Made anyway, a key would have
 * cost seconds and a certificate for nobody, and a client closing a slow
 * /serverkeygen again and again would delay every honest one behind.
 */
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "estkit/log.h"
#include "server/server_int.h"

struct side_thread {
	const struct side_ops *ops;
	void *owner;                    /* ops' argument (borrowed) */
	pthread_t thread;
	bool started;                   /* the thread runs (main thread's) */
	pthread_mutex_t lock;           /* guards the fields below */
	pthread_cond_t wake;            /* on the monotonic clock */
	struct side_job *head, *tail;   /* jobs waiting, oldest first */
	bool running;                   /* takes jobs */
	bool stopping;
};

enum est_err
side_thread_new(const struct side_ops *ops, void *owner, struct side_thread **out,
    struct est_error *e)
{
	struct side_thread *t = calloc(1, sizeof(*t));
	pthread_condattr_t attr;
	bool ok;

	if (t == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	t->ops = ops;
	t->owner = owner;
	/* Periodic work is spaced on the monotonic clock: setting the date moves none. */
	if ((ok = pthread_condattr_init(&attr) == 0)) {
		ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
		    pthread_cond_init(&t->wake, &attr) == 0;
		pthread_condattr_destroy(&attr);
	}
	if (!ok) {
		free(t);
		return est_fail(e, EST_ERR_NOMEM, "cannot create %s", ops->name);
	}
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		pthread_cond_destroy(&t->wake);
		free(t);
		return est_fail(e, EST_ERR_NOMEM, "cannot create %s", ops->name);
	}
	*out = t;
	return EST_OK;
}

void
side_job_done(struct side_job *j)
{
	event_active(j->ev, EV_TIMEOUT, 1);
}

void
side_job_abandon(struct side_job *j)
{
	atomic_store(&j->abandoned, true);
}

/*
 * Send the jobs of list back undone (503, why): the abandoned ones, or all
 * of them. Returns the rest, in order.
 */
static struct side_job *
send_back(struct side_job *list, bool all, const char *why)
{
	struct side_job *keep = NULL, **tail = &keep;
	struct est_error e = { 0 };

	est_fail(&e, EST_ERR_UNAVAILABLE, "%s", why);
	for (struct side_job *j; (j = list) != NULL;) {
		list = j->next;
		j->next = NULL;
		if (all || atomic_load(&j->abandoned)) {
			j->rc = EST_ERR_UNAVAILABLE;
			j->err = e;
			side_job_done(j);
		} else {
			*tail = j;
			tail = &j->next;
		}
	}
	return keep;
}

/* The queue's oldest job, or all of it (ops->one_at_a_time); under t->lock. */
static struct side_job *
take(struct side_thread *t, bool all)
{
	struct side_job *list = t->head;

	if (list == NULL)
		return NULL;
	if (all) {
		t->head = t->tail = NULL;
	} else {
		if ((t->head = list->next) == NULL)
			t->tail = NULL;
		list->next = NULL;
	}
	return list;
}

static bool
reached(const struct timespec *now, const struct timespec *t)
{
	return now->tv_sec > t->tv_sec || (now->tv_sec == t->tv_sec && now->tv_nsec >= t->tv_nsec);
}

static void *
side_main(void *arg)
{
	struct side_thread *t = arg;
	struct timespec next, now;
	struct side_job *list;
	unsigned secs;

	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&t->lock);
	while (!t->stopping) {
		if ((list = take(t, !t->ops->one_at_a_time)) != NULL) {
			pthread_mutex_unlock(&t->lock);
			if ((list = send_back(list, false, "the client left")) != NULL)
				t->ops->run(t->owner, list);
			pthread_mutex_lock(&t->lock);
			continue;
		}
		if (t->ops->tick == NULL) {
			pthread_cond_wait(&t->wake, &t->lock);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!reached(&now, &next)) {
			pthread_cond_timedwait(&t->wake, &t->lock, &next);
			continue;
		}
		pthread_mutex_unlock(&t->lock);
		secs = t->ops->tick(t->owner);
		clock_gettime(CLOCK_MONOTONIC, &next);
		next.tv_sec += secs;
		pthread_mutex_lock(&t->lock);
	}
	t->running = false;
	list = take(t, true);
	pthread_mutex_unlock(&t->lock);
	send_back(list, true, "the server is stopping");
	return NULL;
}

enum est_err
side_thread_start(struct side_thread *t, struct est_error *e)
{
	if (t == NULL)
		return EST_OK;
	t->running = true;
	if (pthread_create(&t->thread, NULL, side_main, t) != 0) {
		t->running = false;
		return est_fail(e, EST_ERR_INTERNAL, "cannot start %s thread", t->ops->name);
	}
	t->started = true;
	return EST_OK;
}

void
side_thread_stop(struct side_thread *t)
{
	if (t == NULL)
		return;
	if (t->started) {
		pthread_mutex_lock(&t->lock);
		t->stopping = true;
		pthread_cond_signal(&t->wake);
		pthread_mutex_unlock(&t->lock);
		pthread_join(t->thread, NULL);
	}
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* j off its worker's list, with its event. */
static void
unlink_job(struct side_job *j)
{
	TAILQ_REMOVE(&j->worker->side_jobs, j, link);
	j->req->side_job = NULL;
	if (j->ev != NULL)
		event_free(j->ev);
	j->ev = NULL;
}

/* The worker's loop: j is done (or failed); its module answers it. */
static void
job_done(evutil_socket_t fd, short what, void *arg)
{
	struct side_job *j = arg;
	struct est_req *r = j->req;

	(void)fd;
	(void)what;
	unlink_job(j);
	if (!atomic_load(&j->abandoned)) {
		j->ops->answer(j);
		return;
	}
	/* Detached from its connection (http.c): this is the request's last owner. */
	log_info("peer=%s listener=%s alias=%s op=%s principal=%s: client left before %s: "
	    "dropped", r->peer, r->listener->conf->name,
	    r->alias != NULL ? r->alias->conf->name : "-", r->op != NULL ? r->op : "-",
	    r->principal, j->ops->made);
	j->ops->discard(j);
	http_req_free(r);
}

enum est_err
side_thread_queue(struct side_thread *t, const struct side_ops *ops, struct side_job *j,
    struct est_req *r, struct est_error *e)
{
	bool taken = false;

	j->ops = ops;
	j->worker = r->worker;
	j->req = r;
	j->next = NULL;
	atomic_init(&j->abandoned, false);
	TAILQ_INSERT_TAIL(&r->worker->side_jobs, j, link);
	r->side_job = j;
	if ((j->ev = event_new(r->worker->base, -1, 0, job_done, j)) == NULL) {
		unlink_job(j);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	/* Deferred before it is queued: the answer comes in a later turn of this loop. */
	http_defer(r);
	if (t != NULL) {
		pthread_mutex_lock(&t->lock);
		if ((taken = t->running && !t->stopping)) {
			if (t->tail != NULL)
				t->tail->next = j;
			else
				t->head = j;
			t->tail = j;
			pthread_cond_signal(&t->wake);
		}
		pthread_mutex_unlock(&t->lock);
	}
	if (!taken) {
		unlink_job(j);
		return est_fail(e, EST_ERR_UNAVAILABLE, "%s is not running", ops->name);
	}
	return EST_OK;
}

void
side_thread_drop_pending(struct est_worker *w)
{
	struct side_job *j;

	while ((j = TAILQ_FIRST(&w->side_jobs)) != NULL) {
		struct est_req *r = j->req;

		/* Shutting down: its connection is closed (r detached), no answer goes out. */
		unlink_job(j);
		j->ops->discard(j);
		if (r->from_conn)
			http_req_free(r);
	}
}
