/*
 * The key maker: the one thread of a server that makes /serverkeygen's key
 * pairs, so no event loop waits for one. An RSA 4096 key takes about 2 s
 * here (and RSA key generation has no upper bound): made in a worker, it
 * held every connection of that worker as long, and a client sending a few
 * at once stalled them all (found in review).
 *
 * It is a side thread (side_thread.c): the request is deferred and queued;
 * the thread makes the keys one after another, in the order asked, and its
 * worker goes on with each request once its key is made (key_made_fn).
 * Keys then queue here, not the other clients of a worker. One key at a
 * time, so that at a stop only the key being made is waited for: those
 * still queued fail (503).
 */
#include <stdlib.h>

#include "estkit/ca.h"
#include "server/server_int.h"

struct key_maker {
	struct side_thread *thread;
};

/* A request waiting for its key. */
struct key_wait {
	struct side_job job;            /* first: a side_job is a key_wait */
	const char *spec;               /* est_key_generate's, or NULL: like */
	EVP_PKEY *like;                 /* borrowed from arg's CSR */
	key_made_fn done;
	void (*free_arg)(void *);
	void *arg;
	EVP_PKEY *key;                  /* the outcome when job.rc is EST_OK (owned) */
};

/* The thread: one key (one_at_a_time). */
static void
make(void *owner, struct side_job *list)
{
	struct key_wait *w = (struct key_wait *)list;

	(void)owner;
	if (w->spec != NULL)
		w->job.rc = est_key_generate(w->spec, &w->key, &w->job.err);
	else
		w->job.rc = est_key_generate_like(w->like, &w->key, &w->job.err);
	side_job_done(&w->job);
}

/* The worker's loop: the key is made (or not); the request goes on. */
static void
answer(struct side_job *j)
{
	struct key_wait *w = (struct key_wait *)j;
	struct est_req *r = j->req;
	key_made_fn done = w->done;
	EVP_PKEY *key = j->rc == EST_OK ? w->key : NULL;
	struct est_error err = j->err;
	void *done_arg = w->arg;

	if (key == NULL)
		EVP_PKEY_free(w->key);
	free(w);
	done(r, key, &err, done_arg);
}

static void
discard(struct side_job *j)
{
	struct key_wait *w = (struct key_wait *)j;

	w->free_arg(w->arg);
	EVP_PKEY_free(w->key);
	free(w);
}

static const struct side_ops key_ops = {
	.name = "the key maker",
	.made = "its key was made",
	.one_at_a_time = true,
	.run = make,
	.answer = answer,
	.discard = discard,
};

enum est_err
key_maker_new(struct key_maker **out, struct est_error *e)
{
	struct key_maker *k = calloc(1, sizeof(*k));
	enum est_err rc;

	if (k == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	if ((rc = side_thread_new(&key_ops, k, &k->thread, e)) != EST_OK) {
		free(k);
		return rc;
	}
	*out = k;
	return EST_OK;
}

enum est_err
key_maker_start(struct key_maker *k, struct est_error *e)
{
	return k != NULL ? side_thread_start(k->thread, e) : EST_OK;
}

void
key_maker_stop(struct key_maker *k)
{
	if (k == NULL)
		return;
	side_thread_stop(k->thread);
	free(k);
}

void
key_maker_ask(struct est_req *r, const char *spec, EVP_PKEY *like, key_made_fn done,
    void (*free_arg)(void *), void *arg)
{
	struct key_maker *k = r->worker->srv->key_maker;
	struct est_error e = { 0 };
	struct key_wait *w;
	enum est_err rc;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		est_fail(&e, EST_ERR_NOMEM, "out of memory");
		free_arg(arg);
		http_fail(r, &e);
		return;
	}
	*w = (struct key_wait){ .spec = spec, .like = like, .done = done, .free_arg = free_arg,
		.arg = arg };
	if ((rc = side_thread_queue(k != NULL ? k->thread : NULL, &key_ops, &w->job, r,
	    &e)) != EST_OK) {
		/* Answered now: serve() sees it and goes on at once. */
		if (rc == EST_ERR_UNAVAILABLE)
			est_fail(&e, EST_ERR_UNAVAILABLE,
			    "the key maker is not running: no key can be made");
		free(w);
		free_arg(arg);
		http_fail(r, &e);
	}
}
