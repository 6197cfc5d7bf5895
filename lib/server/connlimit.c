/*
 * Open connections per source address, shared by every worker.
 *
 * A chained hash table behind one mutex; an entry lives only while its
 * address has connections open, so the table holds at most max-connections
 * entries. The lock is held for a lookup and an increment, once at accept
 * and once at close.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_int.h"

#define CONNLIMIT_BUCKETS 4096

struct source_count {
	struct source_count *next;
	unsigned count;
	char source[];
};

struct connlimit {
	pthread_mutex_t lock;
	unsigned per_source;
	struct source_count *buckets[CONNLIMIT_BUCKETS];
};

enum est_err
connlimit_new(unsigned per_source, struct connlimit **out, struct est_error *e)
{
	struct connlimit *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t);
		return est_fail(e, EST_ERR_INTERNAL, "cannot create a mutex");
	}
	t->per_source = per_source;
	*out = t;
	return EST_OK;
}

void
connlimit_free(struct connlimit *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < CONNLIMIT_BUCKETS; i++)
		while (t->buckets[i] != NULL) {
			struct source_count *s = t->buckets[i];

			t->buckets[i] = s->next;
			free(s);
		}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* FNV-1a: addresses are not secret and an attacker gains nothing by colliding them. */
static size_t
bucket_of(const char *source)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)source; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return h % CONNLIMIT_BUCKETS;
}

bool
connlimit_take(struct connlimit *t, const char *source)
{
	struct source_count **link, *s;
	bool ok = true;

	pthread_mutex_lock(&t->lock);
	link = &t->buckets[bucket_of(source)];
	for (s = *link; s != NULL && strcmp(s->source, source) != 0; s = s->next)
		;
	if (s == NULL) {
		size_t n = strlen(source) + 1;

		/* Out of memory: let the connection through uncounted rather than refuse everyone. */
		if ((s = malloc(sizeof(*s) + n)) != NULL) {
			memcpy(s->source, source, n);
			s->count = 1;
			s->next = *link;
			*link = s;
		}
	} else if (s->count >= t->per_source) {
		ok = false;
	} else {
		s->count++;
	}
	pthread_mutex_unlock(&t->lock);
	return ok;
}

void
connlimit_give(struct connlimit *t, const char *source)
{
	struct source_count **link, *s;

	pthread_mutex_lock(&t->lock);
	for (link = &t->buckets[bucket_of(source)]; (s = *link) != NULL; link = &s->next) {
		if (strcmp(s->source, source) != 0)
			continue;
		if (--s->count == 0) {
			*link = s->next;
			free(s);
		}
		break;
	}
	pthread_mutex_unlock(&t->lock);
}

void
connlimit_set_limit(struct connlimit *t, unsigned per_source)
{
	pthread_mutex_lock(&t->lock);
	t->per_source = per_source;
	pthread_mutex_unlock(&t->lock);
}
