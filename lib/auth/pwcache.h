/*
 * Internal: the cache of verified passwords behind est_creds_check_password
 * (lib/auth/credentials.c); not installed.
 *
 * It remembers that a (user, password) pair passed its PBKDF2 check, keyed
 * by HMAC-SHA256 under a random key made when the cache is (so a memory
 * dump or a timing probe learns no password, and nothing outlives the
 * process), for at most ttl seconds and capacity pairs. Only successes are
 * remembered: a wrong password, or an unknown user, always pays the full
 * PBKDF2. Safe to use from several threads (a mutex per cache; estd has a
 * cache per worker, so it is uncontended).
 */
#ifndef ESTKIT_AUTH_PWCACHE_H
#define ESTKIT_AUTH_PWCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "estkit/err.h"

#define PWCACHE_WAYS 4                  /* entries per set (see pwcache.c) */

struct pw_cache;

/*
 * A cache of at most capacity pairs (rounded up to a multiple of
 * PWCACHE_WAYS), each remembered for ttl_ms milliseconds. Free with
 * pw_cache_free().
 */
enum est_err pw_cache_new(size_t capacity, int64_t ttl_ms, struct pw_cache **out,
    struct est_error *e);
void pw_cache_free(struct pw_cache *c);

/*
 * Whether (user, pw) was remembered and has not expired at now_ms (a
 * CLOCK_MONOTONIC time, passed in so tests can move the clock). false also
 * when the HMAC cannot be computed.
 */
bool pw_cache_hit(struct pw_cache *c, const char *user, const char *pw, size_t pwlen,
    int64_t now_ms);

/* Remember that (user, pw) passed the full check at now_ms. */
void pw_cache_put(struct pw_cache *c, const char *user, const char *pw, size_t pwlen,
    int64_t now_ms);

/* Forget every pair (the credentials changed). */
void pw_cache_clear(struct pw_cache *c);

/* How many pairs are remembered and unexpired at now_ms (for tests). */
size_t pw_cache_count(struct pw_cache *c, int64_t now_ms);

#endif
