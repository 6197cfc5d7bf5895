/*
 * The verified-password cache (lib/auth/pwcache.h).
 *
 * An entry is the HMAC-SHA256 tag of (length of user, user, password) and
 * its expiry. The table is set-associative: the tag's first bytes pick a
 * set of PWCACHE_WAYS entries, a new pair takes a free or expired entry of
 * its set or else the one expiring first, so lookups cost one HMAC and a
 * few comparisons and the table never grows. Tags are compared in constant
 * time. The HMAC algorithm is fetched once, when the cache is made.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "auth/pwcache.h"

#define TAG_LEN 32
#define KEY_LEN 32

struct entry {
	unsigned char tag[TAG_LEN];
	int64_t expires;                /* ms; 0: free */
};

struct pw_cache {
	pthread_mutex_t lock;           /* guards everything below */
	EVP_MAC_CTX *mac;               /* HMAC-SHA256 with the key set */
	struct entry *v;
	size_t sets;
	int64_t ttl_ms;
};

enum est_err
pw_cache_new(size_t capacity, int64_t ttl_ms, struct pw_cache **out, struct est_error *e)
{
	unsigned char key[KEY_LEN];
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
		OSSL_PARAM_END
	};
	struct pw_cache *c;
	EVP_MAC *hmac;
	bool ok;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	c->sets = capacity / PWCACHE_WAYS + (capacity % PWCACHE_WAYS != 0);
	c->sets = c->sets == 0 ? 1 : c->sets;
	c->ttl_ms = ttl_ms;
	if ((c->v = calloc(c->sets * PWCACHE_WAYS, sizeof(*c->v))) == NULL ||
	    pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c->v);
		free(c);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ok = hmac != NULL && (c->mac = EVP_MAC_CTX_new(hmac)) != NULL &&
	    RAND_bytes(key, sizeof(key)) == 1 && EVP_MAC_init(c->mac, key, sizeof(key), params) == 1;
	EVP_MAC_free(hmac);
	OPENSSL_cleanse(key, sizeof(key));
	if (!ok) {
		pw_cache_free(c);
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot set up HMAC-SHA256 for the password cache");
	}
	*out = c;
	return EST_OK;
}

void
pw_cache_free(struct pw_cache *c)
{
	if (c == NULL)
		return;
	EVP_MAC_CTX_free(c->mac);
	OPENSSL_cleanse(c->v, c->sets * PWCACHE_WAYS * sizeof(*c->v));
	free(c->v);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* The pair's tag; the user's length first, so ("ab","c") and ("a","bc") differ. Under lock. */
static bool
tag_of(struct pw_cache *c, const char *user, const char *pw, size_t pwlen,
    unsigned char tag[TAG_LEN])
{
	uint64_t ulen = strlen(user);
	unsigned char lenbuf[8];
	size_t n = 0;

	for (int i = 7; i >= 0; i--, ulen >>= 8)
		lenbuf[i] = (unsigned char)(ulen & 0xff);
	/* Initialising with no key restarts the MAC with the key already set. */
	return EVP_MAC_init(c->mac, NULL, 0, NULL) == 1 &&
	    EVP_MAC_update(c->mac, lenbuf, sizeof(lenbuf)) == 1 &&
	    EVP_MAC_update(c->mac, (const unsigned char *)user, strlen(user)) == 1 &&
	    EVP_MAC_update(c->mac, (const unsigned char *)pw, pwlen) == 1 &&
	    EVP_MAC_final(c->mac, tag, &n, TAG_LEN) == 1 && n == TAG_LEN;
}

static struct entry *
set_of(struct pw_cache *c, const unsigned char tag[TAG_LEN])
{
	uint64_t h = 0;

	for (int i = 0; i < 8; i++)
		h = h << 8 | tag[i];
	return &c->v[(h % c->sets) * PWCACHE_WAYS];
}

bool
pw_cache_hit(struct pw_cache *c, const char *user, const char *pw, size_t pwlen, int64_t now_ms)
{
	unsigned char tag[TAG_LEN];
	struct entry *set;
	bool hit = false;

	pthread_mutex_lock(&c->lock);
	if (tag_of(c, user, pw, pwlen, tag)) {
		set = set_of(c, tag);
		for (int i = 0; i < PWCACHE_WAYS; i++)
			hit |= set[i].expires > now_ms && CRYPTO_memcmp(set[i].tag, tag, TAG_LEN) == 0;
	}
	pthread_mutex_unlock(&c->lock);
	OPENSSL_cleanse(tag, sizeof(tag));
	return hit;
}

void
pw_cache_put(struct pw_cache *c, const char *user, const char *pw, size_t pwlen, int64_t now_ms)
{
	unsigned char tag[TAG_LEN];
	struct entry *set, *victim;

	pthread_mutex_lock(&c->lock);
	if (tag_of(c, user, pw, pwlen, tag)) {
		set = set_of(c, tag);
		victim = &set[0];
		for (int i = 0; i < PWCACHE_WAYS; i++) {
			if (set[i].expires > now_ms && CRYPTO_memcmp(set[i].tag, tag, TAG_LEN) == 0) {
				victim = &set[i];
				break;
			}
			if (set[i].expires < victim->expires)
				victim = &set[i];
		}
		memcpy(victim->tag, tag, TAG_LEN);
		victim->expires = now_ms + c->ttl_ms;
	}
	pthread_mutex_unlock(&c->lock);
	OPENSSL_cleanse(tag, sizeof(tag));
}

void
pw_cache_clear(struct pw_cache *c)
{
	pthread_mutex_lock(&c->lock);
	OPENSSL_cleanse(c->v, c->sets * PWCACHE_WAYS * sizeof(*c->v));
	pthread_mutex_unlock(&c->lock);
}

size_t
pw_cache_count(struct pw_cache *c, int64_t now_ms)
{
	size_t n = 0;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->sets * PWCACHE_WAYS; i++)
		n += c->v[i].expires > now_ms;
	pthread_mutex_unlock(&c->lock);
	return n;
}
