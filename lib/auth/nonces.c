/*
 * The server's memory of the Digest nonces it issued (see nonces.h).
 *
 * A nonce is good for many requests (RFC 7616 §3.3: the client counts them
 * in nc), and may be used on several connections at once, so uses can
 * arrive out of order: each slot keeps the highest nc seen and a 64-bit
 * window of the ones below it, as IPsec does against replay (RFC 4303
 * §3.4.3). A use below the window is refused as a replay.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "auth/nonces.h"

#define WINDOW 64

struct slot {
	unsigned char rnd[NONCE_RAND_LEN];
	uint32_t max_nc;                  /* highest nc used, 0: none yet */
	uint64_t seen;                    /* bit i: max_nc - i was used */
};

struct est_nonces {
	pthread_mutex_t lock;
	unsigned char key[EST_HTTPAUTH_NONCE_KEY_LEN];
	uint32_t capacity;
	uint32_t next;                    /* the slot the next nonce takes */
	struct slot *slots;
};

enum est_err
est_nonces_new(const unsigned char key[EST_HTTPAUTH_NONCE_KEY_LEN], size_t capacity,
    struct est_nonces **out, struct est_error *e)
{
	struct est_nonces *n;

	if (capacity == 0 || capacity > UINT32_MAX)
		return est_fail(e, EST_ERR_INTERNAL, "nonce table capacity %zu out of range", capacity);
	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (n->slots = calloc(capacity, sizeof(*n->slots))) == NULL) {
		free(n);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	if (pthread_mutex_init(&n->lock, NULL) != 0) {
		free(n->slots);
		free(n);
		return est_fail(e, EST_ERR_INTERNAL, "cannot create a mutex");
	}
	memcpy(n->key, key, sizeof(n->key));
	n->capacity = (uint32_t)capacity;
	*out = n;
	return EST_OK;
}

void
est_nonces_free(struct est_nonces *n)
{
	if (n == NULL)
		return;
	OPENSSL_cleanse(n->key, sizeof(n->key));
	pthread_mutex_destroy(&n->lock);
	free(n->slots);
	free(n);
}

const unsigned char *
nonces_key(const struct est_nonces *n)
{
	return n->key;
}

bool
nonces_issue(struct est_nonces *n, uint32_t *slot, unsigned char rnd[NONCE_RAND_LEN])
{
	struct slot *s;

	if (RAND_bytes(rnd, NONCE_RAND_LEN) != 1)
		return false;
	pthread_mutex_lock(&n->lock);
	*slot = n->next;
	n->next = (n->next + 1) % n->capacity;
	s = &n->slots[*slot];
	memcpy(s->rnd, rnd, NONCE_RAND_LEN);
	s->max_nc = 0;
	s->seen = 0;
	pthread_mutex_unlock(&n->lock);
	return true;
}

/* Record nc in the slot's window; false when it was used or is below the window. */
static bool
record(struct slot *s, uint32_t nc)
{
	uint32_t d;

	if (nc > s->max_nc) {
		d = nc - s->max_nc;
		s->seen = d >= WINDOW ? 0 : s->seen << d;
		s->seen |= 1;
		s->max_nc = nc;
		return true;
	}
	d = s->max_nc - nc;
	if (d >= WINDOW || (s->seen & ((uint64_t)1 << d)) != 0)
		return false;
	s->seen |= (uint64_t)1 << d;
	return true;
}

enum nonce_use
nonces_use(struct est_nonces *n, uint32_t slot, const unsigned char rnd[NONCE_RAND_LEN],
    uint32_t nc)
{
	enum nonce_use u;
	struct slot *s;

	if (slot >= n->capacity)
		return NONCE_FORGOTTEN;
	if (nc == 0)
		return NONCE_REPLAYED;
	pthread_mutex_lock(&n->lock);
	s = &n->slots[slot];
	if (CRYPTO_memcmp(s->rnd, rnd, NONCE_RAND_LEN) != 0)
		u = NONCE_FORGOTTEN;
	else
		u = record(s, nc) ? NONCE_OK : NONCE_REPLAYED;
	pthread_mutex_unlock(&n->lock);
	return u;
}
