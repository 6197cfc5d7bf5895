/*
 * Digest nonces the server has issued (lib/auth/nonces.c), for httpauth.c.
 *
 * Each nonce names its slot in a fixed ring; the slot remembers the
 * nonce's random part and which nonce counts (nc) were used with it. The
 * ring is the bound on memory: issuing reuses the oldest slot, which
 * forgets that nonce (its client gets stale=true and retries with a new
 * one). Safe to use from several threads.
 */
#ifndef ESTKIT_AUTH_NONCES_H
#define ESTKIT_AUTH_NONCES_H

#include <stdbool.h>
#include <stdint.h>

#include "estkit/httpauth.h"

#define NONCE_RAND_LEN 16

/* The key nonces are MACed with (EST_HTTPAUTH_NONCE_KEY_LEN bytes, borrowed). */
const unsigned char *nonces_key(const struct est_nonces *n);

/* Take the next slot for a new nonce: fills *slot and rnd. false: no randomness. */
bool nonces_issue(struct est_nonces *n, uint32_t *slot, unsigned char rnd[NONCE_RAND_LEN]);

enum nonce_use {
	NONCE_OK,                         /* first use of nc with this nonce: recorded */
	NONCE_REPLAYED,                   /* nc was used before (or is too old to tell) */
	NONCE_FORGOTTEN                   /* the slot holds a newer nonce now */
};

/* Record the use of nc (at least 1) with the nonce of slot and rnd. */
enum nonce_use nonces_use(struct est_nonces *n, uint32_t slot,
    const unsigned char rnd[NONCE_RAND_LEN], uint32_t nc);

#endif
