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
 * The keeper is a side thread (side_thread.c): it runs from
 * est_server_start until the server's workers have drained
 * (est_server_drain), so the CRL requests they hold are answered; a
 * request still queued when it stops is failed (503), and is dropped with
 * its connection like an enrolment.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "estkit/log.h"
#include "estkit/revoke.h"
#include "server/server_int.h"

struct crl_keeper {
	struct est_server *srv;         /* borrowed: its CAs and configuration */
	struct est_store *st;           /* the keeper's own handle (its thread's) */
	int64_t *published;             /* per CA: the CRL number in crl-file; 0: none, or the
	                                 * write failed (tried again at the next check) */
	struct side_thread *thread;
};

/* A CRL request waiting for the keeper. */
struct crl_wait {
	struct side_job job;            /* first: a side_job is a crl_wait */
	size_t ca;                      /* index of the CA in srv->cas */
	struct est_crl_rec *crl;        /* the outcome when job.rc is EST_OK (owned) */
};

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

/* The thread, every crl-check-interval seconds. */
static unsigned
check_all(void *owner)
{
	struct crl_keeper *k = owner;

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
	return k->srv->cfg->crl_check_interval;
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
	w->job.rc = rc;
	if (rc == EST_OK && (w->crl = crl_copy(crl)) == NULL)
		w->job.rc = est_fail(&w->job.err, EST_ERR_NOMEM, "out of memory");
	else if (rc != EST_OK)
		w->job.err = *e;
	side_job_done(&w->job);
}

/* The thread: make each CA's CRL once for all the requests queued that ask for it. */
static void
serve_batch(void *owner, struct side_job *batch)
{
	struct crl_keeper *k = owner;

	for (size_t i = 0; i < k->srv->n_cas && batch != NULL; i++) {
		struct side_job **pp = &batch, *j;
		struct est_crl_rec *crl = NULL;
		struct est_error e = { 0 };
		enum est_err rc = EST_OK;
		bool done = false;

		while ((j = *pp) != NULL) {
			if (((struct crl_wait *)j)->ca != i) {
				pp = &j->next;
				continue;
			}
			if (!done) {
				rc = keep(k, i, false, &crl, &e);
				done = true;
			}
			*pp = j->next;
			report((struct crl_wait *)j, rc, &e, crl);
		}
		est_crl_rec_free(crl);
	}
}

/* The worker's loop: the keeper has made the CRL (or failed); answer. */
static void
answer(struct side_job *j)
{
	struct crl_wait *w = (struct crl_wait *)j;
	struct est_req *r = j->req;

	if (j->rc == EST_OK)
		crl_reply(r, w->crl);
	else
		http_fail(r, &j->err);
	est_crl_rec_free(w->crl);
	free(w);
	http_complete(r);
}

static void
discard(struct side_job *j)
{
	struct crl_wait *w = (struct crl_wait *)j;

	est_crl_rec_free(w->crl);
	free(w);
}

static const struct side_ops crl_ops = {
	.name = "the CRL keeper",
	.made = "its CRL was made",
	.run = serve_batch,
	.tick = check_all,
	.answer = answer,
	.discard = discard,
};

enum est_err
crl_keeper_new(struct est_server *srv, struct crl_keeper **out, struct est_error *e)
{
	struct crl_keeper *k = calloc(1, sizeof(*k));
	enum est_err rc;

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
	if ((rc = side_thread_new(&crl_ops, k, &k->thread, e)) != EST_OK) {
		est_store_close(k->st);
		free(k->published);
		free(k);
		return rc;
	}
	*out = k;
	return EST_OK;
}

enum est_err
crl_keeper_start(struct crl_keeper *k, struct est_error *e)
{
	return k != NULL ? side_thread_start(k->thread, e) : EST_OK;
}

void
crl_keeper_stop(struct crl_keeper *k)
{
	if (k == NULL)
		return;
	side_thread_stop(k->thread);
	est_store_close(k->st);
	free(k->published);
	free(k);
}

void
crl_keeper_ask(struct est_req *r, size_t ca_index)
{
	struct crl_keeper *k = r->worker->srv->crl_keeper;
	struct est_error e = { 0 };
	struct crl_wait *w;
	enum est_err rc;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		est_fail(&e, EST_ERR_NOMEM, "out of memory");
		http_fail(r, &e);
		return;
	}
	w->ca = ca_index;
	if ((rc = side_thread_queue(k != NULL ? k->thread : NULL, &crl_ops, &w->job, r,
	    &e)) != EST_OK) {
		/* Answered now: serve() sees it and goes on at once. */
		if (rc == EST_ERR_UNAVAILABLE)
			est_fail(&e, EST_ERR_UNAVAILABLE, "the CRL keeper is not running: no new "
			    "CRL can be made for CA %s", est_ca_name(r->worker->srv->cas[ca_index]));
		free(w);
		http_fail(r, &e);
	}
}
