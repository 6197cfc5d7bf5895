/*
 * The grouped store writer (include/estkit/store.h, est_store_writer_*).
 *
 * One thread owns one store handle and a queue. It sleeps until writes are
 * queued, takes up to max_group of them, and runs them in one transaction
 * of the backend (group_begin, group_write each, group_commit), so that
 * however many enrolments arrived while the previous group was being made
 * durable share one commit (one fsync on SQLite). Only after the commit
 * returns are the writes reported, each through its done callback: a write
 * that failed alone (a spent code, a taken serial) reports its own error;
 * when the transaction itself fails, every write of the group does.
 *
 * Writes that arrive while a group is being committed show that several
 * clients are enrolling at once; the next group then waits up to GATHER_NS
 * for more before it commits (until max_group are queued). Each commit costs
 * CPU of its own on a real disk (the kernel's writeback and the device's
 * flush; on a virtual machine an exit to the hypervisor), and under load
 * most groups had been of one write: 81% at 2,000 enrolments/s. A write
 * that finds no commit running, the one client that waits for each answer
 * before sending the next, is never held back.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "estkit/store.h"
#include "store_int.h"

/* How long a group waits for company, once writes queue behind commits. */
#define GATHER_NS 1000000L
#define NS_PER_S 1000000000L

struct est_store_writer {
	struct est_store *st;           /* the writer thread's handle */
	size_t max_group;
	long gather_ns;
	pthread_t thread;
	pthread_mutex_t lock;           /* guards the fields below */
	pthread_cond_t wake;
	struct est_write *head, *tail;  /* queued writes, oldest first */
	size_t queued;
	bool gathering;                 /* waiting for company: submit wakes only a full group */
	bool stopping;
	uint64_t groups, writes;
	void (*on_commit)(double seconds, unsigned writes); /* set before the first submit */
	void (*on_durable)(void *arg, struct est_write *group); /* likewise */
	void *durable_arg;
};

/* Take up to max_group writes off the queue (under the lock). */
static struct est_write *
take_group(struct est_store_writer *w)
{
	struct est_write *first = w->head, *last = w->head;
	size_t n = 1;

	for (; n < w->max_group && last->next != NULL; n++)
		last = last->next;
	w->head = last->next;
	if (w->head == NULL)
		w->tail = NULL;
	last->next = NULL;
	w->queued -= n;
	return first;
}

/* Wait up to GATHER_NS for a full group (under the lock). */
static void
gather(struct est_store_writer *w)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += w->gather_ns / NS_PER_S;
	until.tv_nsec += w->gather_ns % NS_PER_S;
	if (until.tv_nsec >= NS_PER_S) {
		until.tv_sec++;
		until.tv_nsec -= NS_PER_S;
	}
	w->gathering = true;
	while (!w->stopping && w->queued < w->max_group &&
	    pthread_cond_timedwait(&w->wake, &w->lock, &until) == 0)
		;
	w->gathering = false;
}

void
store_group_lose(struct store_group *g, const struct est_error *why)
{
	if (g->lost)
		return;
	g->lost = true;
	est_fail(&g->why, why->code == EST_ERR_UNAVAILABLE ? EST_ERR_UNAVAILABLE : EST_ERR_STORE,
	    "the group's transaction was lost: %s", why->msg);
}

enum est_err
store_group_check(const struct store_group *g, struct est_error *e)
{
	if (!g->lost)
		return EST_OK;
	if (e != NULL)
		*e = g->why;
	return g->why.code;
}

/* Write one group in one transaction; every write gets its outcome. */
static void
write_group(struct est_store_writer *w, struct est_write *group)
{
	const struct est_store_ops *ops = w->st->ops;
	struct est_error gerr = { 0 };
	enum est_err grc;

	grc = ops->group_begin(w->st, &gerr);
	for (struct est_write *j = group; j != NULL; j = j->next) {
		memset(&j->err, 0, sizeof(j->err));
		if (grc != EST_OK) {
			j->rc = grc;
			j->err = gerr;
		} else {
			j->rc = ops->group_write(w->st, j, &j->err);
		}
	}
	if (grc == EST_OK && (grc = ops->group_commit(w->st, &gerr)) != EST_OK) {
		ops->group_rollback(w->st);
		for (struct est_write *j = group; j != NULL; j = j->next)
			if (j->rc == EST_OK) {
				j->rc = grc;
				j->err = gerr;
				est_req_rec_free(j->held);
				j->held = NULL;
			}
	}
}

static void *
writer_main(void *arg)
{
	struct est_store_writer *w = arg;
	struct est_write *group, *next;
	struct timespec t0, t1;
	bool company = false;           /* writes arrived during the last commit */
	uint64_t n;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->head == NULL && !w->stopping)
			pthread_cond_wait(&w->wake, &w->lock);
		if (w->head == NULL)
			break;
		if (company && w->gather_ns > 0)
			gather(w);
		group = take_group(w);
		pthread_mutex_unlock(&w->lock);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		write_group(w, group);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		for (n = 0, next = group; next != NULL; next = next->next)
			n++;
		if (w->on_commit != NULL)
			w->on_commit((double)(t1.tv_sec - t0.tv_sec) +
			    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, (unsigned)n);
		if (w->on_durable != NULL)
			w->on_durable(w->durable_arg, group);
		pthread_mutex_lock(&w->lock);
		w->groups++;
		w->writes += n;
		/* Before the answers go: a write they cause is no sign of company. */
		company = w->head != NULL;
		pthread_mutex_unlock(&w->lock);
		/* Reported only now, durable; a done callback may free its write. */
		for (; group != NULL; group = next) {
			next = group->next;
			group->next = NULL;
			group->done(group);
		}
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* The lock, and the condition on CLOCK_MONOTONIC (gather's deadline). */
static bool
writer_sync_init(struct est_store_writer *w)
{
	pthread_condattr_t attr;
	bool ok;

	if (pthread_condattr_init(&attr) != 0)
		return false;
	ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(&w->wake, &attr) == 0;
	pthread_condattr_destroy(&attr);
	return ok && pthread_mutex_init(&w->lock, NULL) == 0;
}

enum est_err
est_store_writer_start(const char *uri, size_t max_group, struct est_store_writer **out,
    struct est_error *e)
{
	struct est_store_writer *w;
	enum est_err rc;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	w->max_group = max_group > 0 ? max_group : 1;
	w->gather_ns = GATHER_NS;
	if ((rc = est_store_open(uri, &w->st, e)) != EST_OK) {
		free(w);
		return rc;
	}
	if (w->st->ops->group_begin == NULL)
		rc = est_fail(e, EST_ERR_CONFIG, "the %s store has no grouped writer", w->st->ops->name);
	else if (w->st->ops->group_start != NULL)
		rc = w->st->ops->group_start(w->st, e);
	if (rc != EST_OK) {
		est_store_close(w->st);
		free(w);
		return rc;
	}
	if (!writer_sync_init(w) || pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		est_store_close(w->st);
		free(w);
		return est_fail(e, EST_ERR_NOMEM, "cannot start the store writer thread");
	}
	*out = w;
	return EST_OK;
}

void
est_store_writer_submit(struct est_store_writer *w, struct est_write *job)
{
	bool refused;

	job->next = NULL;
	memset(&job->err, 0, sizeof(job->err));
	job->held = NULL;
	job->rc = job->hold != NULL ? store_check_request(job->hold, &job->hold_key, &job->err) :
	    store_check_issued(job->rec, job->how, &job->err);
	if (job->rc != EST_OK) {
		job->done(job);
		return;
	}
	pthread_mutex_lock(&w->lock);
	if (!(refused = w->stopping)) {
		if (w->tail != NULL)
			w->tail->next = job;
		else
			w->head = job;
		w->tail = job;
		w->queued++;
		if (!w->gathering || w->queued >= w->max_group)
			pthread_cond_signal(&w->wake);
	}
	pthread_mutex_unlock(&w->lock);
	if (refused) {
		job->rc = est_fail(&job->err, EST_ERR_UNAVAILABLE, "the server is stopping");
		job->done(job);
	}
}

void
est_store_writer_stop(struct est_store_writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	est_store_close(w->st);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

void
est_store_writer_gather(struct est_store_writer *w, long nanoseconds)
{
	w->gather_ns = nanoseconds > 0 ? nanoseconds : 0;
}

void
est_store_writer_on_durable(struct est_store_writer *w,
    void (*fn)(void *arg, struct est_write *group), void *arg)
{
	w->on_durable = fn;
	w->durable_arg = arg;
}

void
est_store_writer_on_commit(struct est_store_writer *w, void (*fn)(double seconds, unsigned writes))
{
	w->on_commit = fn;
}

void
est_store_writer_stats(struct est_store_writer *w, uint64_t *groups, uint64_t *writes)
{
	pthread_mutex_lock(&w->lock);
	*groups = w->groups;
	*writes = w->writes;
	pthread_mutex_unlock(&w->lock);
}
