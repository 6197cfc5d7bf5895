/*
 * Limits on failed authentication: per source address and per user name.
 *
 * A table is a fixed array of slots; a key may live in the RATELIMIT_WAYS
 * slots after its hash, a SipHash under a key drawn at start-up so a client
 * cannot pick names that crowd out another's slots. Memory never grows with
 * traffic: when a key's slots are all taken, the one that matters least is
 * reused (free or expired, else the unlocked one whose window began first,
 * else the lock-out that ends first). One mutex guards a table, since every
 * worker thread counts into the same ones. Times are milliseconds of
 * CLOCK_MONOTONIC, so a lock-out lasts its full length, not up to a second less.
 * Every authenticated request looks itself up, so the SipHash context is made
 * once per table and keyed again for each key (under the table's mutex):
 * EVP_Q_mac fetched and set up a MAC each time, 4,000 instructions a look-up.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "estkit/log.h"
#include "server/server_int.h"

#define RATELIMIT_WAYS 8
#define SIPHASH_KEY_LEN 16

struct slot {
	bool used;
	uint64_t hash;                    /* of the whole key */
	char key[RATELIMIT_KEY_MAX];      /* the key, cut to fit */
	unsigned fails;                   /* failures in the current window */
	int64_t window_start;             /* the window's first failure, ms */
	int64_t locked_until;             /* end of the lock-out, ms; 0: none */
};

struct ratelimit_table {
	pthread_mutex_t mu;
	unsigned limit;
	int64_t window, lockout;          /* milliseconds */
	size_t capacity;
	unsigned char hash_key[SIPHASH_KEY_LEN];
	EVP_MAC_CTX *mac;                 /* SipHash, keyed again per use */
	struct slot *slots;
};

enum est_err
ratelimit_table_new(unsigned limit, unsigned window, unsigned lockout, size_t capacity,
    struct ratelimit_table **out, struct est_error *e)
{
	struct ratelimit_table *t;
	EVP_MAC *siphash;

	if (capacity == 0)
		return est_fail(e, EST_ERR_INTERNAL, "a failure table needs room for one entry");
	if ((t = calloc(1, sizeof(*t))) == NULL || (t->slots = calloc(capacity, sizeof(*t->slots))) == NULL) {
		free(t);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	siphash = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
	t->mac = siphash != NULL ? EVP_MAC_CTX_new(siphash) : NULL;
	EVP_MAC_free(siphash);
	if (t->mac == NULL || RAND_bytes(t->hash_key, sizeof(t->hash_key)) != 1) {
		EVP_MAC_CTX_free(t->mac);
		free(t->slots);
		free(t);
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot set up SipHash for a failure table");
	}
	pthread_mutex_init(&t->mu, NULL);
	t->limit = limit;
	t->window = (int64_t)window * 1000;
	t->lockout = (int64_t)lockout * 1000;
	t->capacity = capacity;
	*out = t;
	return EST_OK;
}

void
ratelimit_table_retune(struct ratelimit_table *t, unsigned limit, unsigned window,
    unsigned lockout)
{
	pthread_mutex_lock(&t->mu);
	t->limit = limit;
	t->window = (int64_t)window * 1000;
	t->lockout = (int64_t)lockout * 1000;
	pthread_mutex_unlock(&t->mu);
}

void
ratelimit_table_free(struct ratelimit_table *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->mu);
	EVP_MAC_CTX_free(t->mac);
	free(t->slots);
	free(t);
}

/* The caller holds t->mu (t->mac is one context). */
static uint64_t
key_hash(struct ratelimit_table *t, const char *key)
{
	unsigned char mac[16];
	size_t len = 0;
	uint64_t h = 0;

	/* Should SipHash ever fail, every key shares one set of slots: slower, still right. */
	if (EVP_MAC_init(t->mac, t->hash_key, sizeof(t->hash_key), NULL) != 1 ||
	    EVP_MAC_update(t->mac, (const unsigned char *)key, strlen(key)) != 1 ||
	    EVP_MAC_final(t->mac, mac, &len, sizeof(mac)) != 1 || len < 8)
		return 0;
	for (int i = 0; i < 8; i++)
		h = h << 8 | mac[i];
	return h;
}

/* Whether a slot still holds anything: a lock-out or a window's failures. */
static bool
live(const struct ratelimit_table *t, const struct slot *s, int64_t now)
{
	return s->used && (s->locked_until > now ||
	    (s->fails > 0 && now - s->window_start < t->window));
}

/* Whether slot a is better to give up than slot b. */
static bool
rather_drop(const struct ratelimit_table *t, const struct slot *a, const struct slot *b,
    int64_t now)
{
	bool a_locked = a->locked_until > now, b_locked = b->locked_until > now;

	if (!live(t, b, now) || !live(t, a, now))
		return !live(t, a, now) && live(t, b, now);
	if (a_locked != b_locked)
		return !a_locked;
	return a_locked ? a->locked_until < b->locked_until : a->window_start < b->window_start;
}

/* The key's slot; with claim, a new one when it has none (never NULL then). */
static struct slot *
find(struct ratelimit_table *t, const char *key, int64_t now, bool claim)
{
	uint64_t h = key_hash(t, key);
	size_t ways = t->capacity < RATELIMIT_WAYS ? t->capacity : RATELIMIT_WAYS;
	struct slot *s, *victim = NULL;

	for (size_t i = 0; i < ways; i++) {
		s = &t->slots[(h % t->capacity + i) % t->capacity];
		if (s->used && s->hash == h && strncmp(s->key, key, sizeof(s->key) - 1) == 0)
			return s;
		if (victim == NULL || rather_drop(t, s, victim, now))
			victim = s;
	}
	if (!claim)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	victim->used = true;
	victim->hash = h;
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	return victim;
}

bool
ratelimit_table_locked(struct ratelimit_table *t, const char *key, int64_t now)
{
	struct slot *s;
	bool locked;

	pthread_mutex_lock(&t->mu);
	s = t->limit > 0 ? find(t, key, now, false) : NULL;
	locked = s != NULL && s->locked_until > now;
	pthread_mutex_unlock(&t->mu);
	return locked;
}

bool
ratelimit_table_fail(struct ratelimit_table *t, const char *key, int64_t now)
{
	struct slot *s;
	bool locks = false;

	pthread_mutex_lock(&t->mu);
	s = t->limit > 0 ? find(t, key, now, true) : NULL;
	if (s != NULL && s->locked_until <= now) {
		if (s->fails == 0 || now - s->window_start >= t->window) {
			s->fails = 0;
			s->window_start = now;
		}
		/* A lock-out starts a new count: after it, limit more tries. */
		if (++s->fails >= t->limit) {
			s->locked_until = now + t->lockout;
			s->fails = 0;
			locks = true;
		}
	}
	pthread_mutex_unlock(&t->mu);
	return locks;
}

void
ratelimit_table_forget(struct ratelimit_table *t, const char *key)
{
	struct slot *s;

	pthread_mutex_lock(&t->mu);
	if (t->limit > 0 && (s = find(t, key, 0, false)) != NULL)
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&t->mu);
}

size_t
ratelimit_table_count(struct ratelimit_table *t, int64_t now)
{
	size_t n = 0;

	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->capacity; i++)
		n += live(t, &t->slots[i], now);
	pthread_mutex_unlock(&t->mu);
	return n;
}

/* ---- the server's two tables ---- */

void
ratelimit_source(const struct sockaddr *sa, char *out, size_t len)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
	struct in6_addr prefix;
	char text[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET &&
	    inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, text,
	    sizeof(text)) != NULL) {
		snprintf(out, len, "%s", text);
	} else if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
	    inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], text, sizeof(text)) != NULL) {
		snprintf(out, len, "%s", text);
	} else if (sa->sa_family == AF_INET6) {
		/* One host commonly holds a whole /64: count the network, not the address. */
		prefix = s6->sin6_addr;
		memset(&prefix.s6_addr[8], 0, 8);
		inet_ntop(AF_INET6, &prefix, text, sizeof(text));
		snprintf(out, len, "%s/64", text);
	} else {
		snprintf(out, len, "?");
	}
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
ratelimit_refused(struct est_req *r, const char *name, struct est_error *e)
{
	struct est_server *srv = r->worker->srv;
	int64_t now = now_ms();

	if (ratelimit_table_locked(srv->fails_by_source, r->source, now)) {
		if (!lockout_lifted(srv, "address", r->source)) {
			est_fail(e, EST_ERR_AUTH, "locked out: address %s", r->source);
			return true;
		}
		ratelimit_table_forget(srv->fails_by_source, r->source);
	}
	if (name[0] != '\0' && ratelimit_table_locked(srv->fails_by_name, name, now)) {
		if (!lockout_lifted(srv, "name", name)) {
			est_fail(e, EST_ERR_AUTH, "locked out: %.100s", name);
			return true;
		}
		ratelimit_table_forget(srv->fails_by_name, name);
	}
	return false;
}

void
ratelimit_note(struct est_req *r, const char *name, bool ok)
{
	struct est_server *srv = r->worker->srv;
	const struct est_config *cfg = srv->cfg;
	int64_t now = now_ms();

	if (ok) {
		if (name[0] != '\0')
			ratelimit_table_forget(srv->fails_by_name, name);
		return;
	}
	if (ratelimit_table_fail(srv->fails_by_source, r->source, now)) {
		log_warn("auth lock-out: address %s for %u s after %u failures (estadm lockout "
		    "list shows it, estadm lockout clear %s lifts it)", r->source,
		    cfg->auth_lockout, cfg->auth_fail_limit, r->source);
		lockout_started(srv, "address", r->source);
	}
	if (name[0] != '\0' && ratelimit_table_fail(srv->fails_by_name, name, now)) {
		log_warn("auth lock-out: %.100s for %u s after %u failures (estadm lockout list "
		    "shows it, estadm lockout clear NAME lifts it)", name, cfg->auth_lockout,
		    cfg->auth_fail_limit);
		lockout_started(srv, "name", name);
	}
}
