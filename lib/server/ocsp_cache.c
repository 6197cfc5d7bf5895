/*
 * What bounds the OCSP responder's signing: signed responses kept for reuse,
 * and a budget of new signatures per second.
 *
 * The responder is unauthenticated, and each answer is a signature with the
 * CA's (or its responder's) key: an RSA 4096 key signs in about 10 ms here,
 * so a client sending requests as fast as it can would hold an event loop.
 * A response depends only on the CertIDs asked about and their statuses,
 * which the responder reads from the store for every request (a revocation
 * changes the key, so it shows at once); the same question is answered with
 * the same signed bytes for up to a minute. Requests with a nonce need a
 * signature of their own, and questions not asked before (a serial never
 * issued is a new question each time) too: those draw on the budget, and
 * when it is spent a request is answered from what is kept, without its
 * nonce (RFC 8954 lets a responder leave it out), or with tryLater.
 *
 * One per worker, used on its thread only: no lock. A table of OCSP_WAYS-way
 * sets indexed by SipHash under a key drawn at start, so a client cannot
 * pick questions that crowd out another's; memory is bounded by the slots.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "server/server_int.h"

#define OCSP_SETS 64
#define OCSP_WAYS 4
#define SIPHASH_KEY_LEN 16

struct ocsp_slot {
	uint64_t hash;
	unsigned char *key;               /* NULL: free */
	size_t keylen;
	unsigned char *der;
	size_t derlen;
	time_t until;                     /* reused up to this second */
};

struct ocsp_cache {
	EVP_MAC_CTX *mac;
	unsigned char hash_key[SIPHASH_KEY_LEN];
	struct ocsp_slot slots[OCSP_SETS * OCSP_WAYS];
	double rate;                      /* signatures per second; 0: no budget */
	double tokens;                    /* signatures left, up to rate (at least 1) */
	int64_t filled_ms;                /* when tokens were last topped up */
};

enum est_err
ocsp_cache_new(double rate, struct ocsp_cache **out, struct est_error *e)
{
	struct ocsp_cache *c;
	EVP_MAC *siphash;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	siphash = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
	c->mac = siphash != NULL ? EVP_MAC_CTX_new(siphash) : NULL;
	EVP_MAC_free(siphash);
	if (c->mac == NULL || RAND_bytes(c->hash_key, sizeof(c->hash_key)) != 1) {
		EVP_MAC_CTX_free(c->mac);
		free(c);
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot set up SipHash for the OCSP cache");
	}
	c->rate = rate;
	c->tokens = rate < 1.0 ? 1.0 : rate;
	c->filled_ms = -1;
	*out = c;
	return EST_OK;
}

static void
slot_clear(struct ocsp_slot *s)
{
	free(s->key);
	free(s->der);
	memset(s, 0, sizeof(*s));
}

void
ocsp_cache_free(struct ocsp_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < OCSP_SETS * OCSP_WAYS; i++)
		slot_clear(&c->slots[i]);
	EVP_MAC_CTX_free(c->mac);
	free(c);
}

/* The key's hash, or 0 when SipHash fails (everything then shares set 0). */
static uint64_t
key_hash(struct ocsp_cache *c, const unsigned char *key, size_t keylen)
{
	unsigned char out[16];
	uint64_t h = 0;
	size_t outlen = 0;

	if (EVP_MAC_init(c->mac, c->hash_key, sizeof(c->hash_key), NULL) != 1 ||
	    EVP_MAC_update(c->mac, key, keylen) != 1 ||
	    EVP_MAC_final(c->mac, out, &outlen, sizeof(out)) != 1 || outlen < sizeof(h))
		return 0;
	memcpy(&h, out, sizeof(h));
	return h;
}

static struct ocsp_slot *
set_of(struct ocsp_cache *c, uint64_t hash)
{
	return &c->slots[(hash % OCSP_SETS) * OCSP_WAYS];
}

bool
ocsp_cache_get(struct ocsp_cache *c, const unsigned char *key, size_t keylen, time_t now,
    const unsigned char **der, size_t *derlen)
{
	uint64_t h = key_hash(c, key, keylen);
	struct ocsp_slot *set = set_of(c, h);

	for (size_t i = 0; i < OCSP_WAYS; i++) {
		struct ocsp_slot *s = &set[i];

		if (s->key == NULL || s->hash != h || s->keylen != keylen ||
		    memcmp(s->key, key, keylen) != 0)
			continue;
		if (now > s->until) {
			slot_clear(s);
			return false;
		}
		*der = s->der;
		*derlen = s->derlen;
		return true;
	}
	return false;
}

void
ocsp_cache_put(struct ocsp_cache *c, const unsigned char *key, size_t keylen,
    const unsigned char *der, size_t derlen, time_t until)
{
	uint64_t h = key_hash(c, key, keylen);
	struct ocsp_slot *set = set_of(c, h), *victim = &set[0];
	unsigned char *k, *d;

	/* A free slot, else the one whose reuse ends first. */
	for (size_t i = 0; i < OCSP_WAYS && victim->key != NULL; i++)
		if (set[i].key == NULL || set[i].until < victim->until)
			victim = &set[i];
	k = malloc(keylen);
	d = malloc(derlen);
	if (k == NULL || d == NULL) {
		free(k);
		free(d);
		return;
	}
	slot_clear(victim);
	memcpy(k, key, keylen);
	memcpy(d, der, derlen);
	*victim = (struct ocsp_slot){ .hash = h, .key = k, .keylen = keylen, .der = d,
	    .derlen = derlen, .until = until };
}

bool
ocsp_cache_spend(struct ocsp_cache *c, int64_t now_ms)
{
	if (c->rate <= 0)
		return true;
	/* A worker's share of a small budget may be under one a second: it still
	 * keeps one signature in hand. */
	double cap = c->rate < 1.0 ? 1.0 : c->rate;

	if (c->filled_ms >= 0 && now_ms > c->filled_ms) {
		c->tokens += (double)(now_ms - c->filled_ms) * c->rate / 1000.0;
		if (c->tokens > cap)
			c->tokens = cap;
	}
	if (c->filled_ms < 0 || now_ms > c->filled_ms)
		c->filled_ms = now_ms;
	if (c->tokens < 1.0)
		return false;
	c->tokens -= 1.0;
	return true;
}
