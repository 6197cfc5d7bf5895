/*
 * Unit tests for lib/auth/pwcache.c, the cache of verified passwords
 * (issue 12): a pair is remembered for its time and no longer, only the
 * exact pair hits, the table stays within its capacity, and clearing
 * forgets everything. The clock is passed in, so nothing here is timed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth/pwcache.h"

#define T0 ((int64_t)1000000)
#define TTL ((int64_t)300000)

static struct pw_cache *
make(size_t capacity)
{
	struct est_error e = { 0 };
	struct pw_cache *c = NULL;

	assert_int_equal(pw_cache_new(capacity, TTL, &c, &e), EST_OK);
	return c;
}

static void
test_remembers_for_its_time(void **state)
{
	struct pw_cache *c = make(64);

	assert_false(pw_cache_hit(c, "alice", "pw", 2, T0));
	pw_cache_put(c, "alice", "pw", 2, T0);
	assert_true(pw_cache_hit(c, "alice", "pw", 2, T0));
	assert_true(pw_cache_hit(c, "alice", "pw", 2, T0 + TTL - 1));
	assert_false(pw_cache_hit(c, "alice", "pw", 2, T0 + TTL));
	assert_int_equal(pw_cache_count(c, T0 + TTL), 0);
	pw_cache_free(c);
}

/* The attacker's side: nothing but the exact pair hits. */
static void
test_only_the_exact_pair_hits(void **state)
{
	struct pw_cache *c = make(64);

	pw_cache_put(c, "alice", "secret", 6, T0);
	assert_false(pw_cache_hit(c, "alice", "secreT", 6, T0));
	assert_false(pw_cache_hit(c, "alice", "secret!", 7, T0));
	assert_false(pw_cache_hit(c, "alice", "secre", 5, T0));
	assert_false(pw_cache_hit(c, "alice", "", 0, T0));
	assert_false(pw_cache_hit(c, "bob", "secret", 6, T0));
	/* The user's length is part of the tag: ("alic", "esecret") is another pair. */
	assert_false(pw_cache_hit(c, "alic", "esecret", 7, T0));
	/* Bytes after a NUL count (pwlen, not strlen). */
	pw_cache_put(c, "carol", "a\0b", 3, T0);
	assert_false(pw_cache_hit(c, "carol", "a\0c", 3, T0));
	assert_true(pw_cache_hit(c, "carol", "a\0b", 3, T0));
	pw_cache_free(c);
}

/* Another cache (another process) has another key: its tags mean nothing here. */
static void
test_keys_differ(void **state)
{
	struct pw_cache *a = make(4), *b = make(4);

	pw_cache_put(a, "alice", "pw", 2, T0);
	assert_true(pw_cache_hit(a, "alice", "pw", 2, T0));
	assert_false(pw_cache_hit(b, "alice", "pw", 2, T0));
	pw_cache_free(a);
	pw_cache_free(b);
}

static void
test_bounded(void **state)
{
	struct pw_cache *c = make(16);
	char user[32];
	size_t hits = 0;

	for (int i = 0; i < 1000; i++) {
		snprintf(user, sizeof(user), "user%d", i);
		pw_cache_put(c, user, "pw", 2, T0 + i);
	}
	assert_true(pw_cache_count(c, T0) <= 16);
	/* The newest pairs are the ones kept, mostly. */
	for (int i = 990; i < 1000; i++) {
		snprintf(user, sizeof(user), "user%d", i);
		hits += pw_cache_hit(c, user, "pw", 2, T0 + 1000);
	}
	assert_true(hits >= 5);
	/* Putting the same pair again does not take a second entry. */
	pw_cache_clear(c);
	for (int i = 0; i < 10; i++)
		pw_cache_put(c, "alice", "pw", 2, T0 + i);
	assert_int_equal(pw_cache_count(c, T0 + 10), 1);
	pw_cache_free(c);
}

static void
test_clear(void **state)
{
	struct pw_cache *c = make(64);

	pw_cache_put(c, "alice", "pw", 2, T0);
	pw_cache_put(c, "bob", "pw", 2, T0);
	assert_int_equal(pw_cache_count(c, T0), 2);
	pw_cache_clear(c);
	assert_int_equal(pw_cache_count(c, T0), 0);
	assert_false(pw_cache_hit(c, "alice", "pw", 2, T0));
	pw_cache_free(c);
	pw_cache_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_remembers_for_its_time),
		cmocka_unit_test(test_only_the_exact_pair_hits),
		cmocka_unit_test(test_keys_differ),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
