/*
 * Unit tests for lib/server/ratelimit.c: the failure table's window,
 * lock-out and its expiry (the clock is passed in, in milliseconds), that
 * memory stays bounded and which entry gives way, the disabled table, and
 * the address a peer's failures count against.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "server/server_int.h"

#define S(x) ((int64_t)(x) * 1000)     /* seconds to the table's milliseconds */

static struct ratelimit_table *
table(unsigned limit, unsigned window, unsigned lockout, size_t capacity)
{
	struct ratelimit_table *t = NULL;
	struct est_error e = { 0 };

	assert_int_equal(ratelimit_table_new(limit, window, lockout, capacity, &t, &e), EST_OK);
	return t;
}

/* limit failures within window lock out; older failures do not add up. */
static void
test_window(void **state)
{
	struct ratelimit_table *t = table(3, 10, 30, 64);

	(void)state;
	assert_false(ratelimit_table_fail(t, "a", S(0)));
	assert_false(ratelimit_table_fail(t, "a", S(9)));
	/* 10 s after the first failure: a new window, the count starts again. */
	assert_false(ratelimit_table_fail(t, "a", S(10)));
	assert_false(ratelimit_table_fail(t, "a", S(11)));
	assert_false(ratelimit_table_locked(t, "a", S(11)));
	assert_true(ratelimit_table_fail(t, "a", S(12)));
	assert_true(ratelimit_table_locked(t, "a", S(12)));
	/* Another key is not affected. */
	assert_false(ratelimit_table_locked(t, "b", S(12)));
	assert_false(ratelimit_table_fail(t, "b", S(12)));
	assert_int_equal(ratelimit_table_count(t, S(12)), 2);
	ratelimit_table_free(t);
}

/* A lock-out lasts lockout seconds to the millisecond; failures during it neither count nor extend it. */
static void
test_lockout_expires(void **state)
{
	struct ratelimit_table *t = table(2, 60, 5, 64);

	(void)state;
	ratelimit_table_fail(t, "u", S(100));
	assert_true(ratelimit_table_fail(t, "u", S(100) + 500));
	assert_false(ratelimit_table_fail(t, "u", S(104)));
	assert_false(ratelimit_table_fail(t, "u", S(105)));
	assert_true(ratelimit_table_locked(t, "u", S(105) + 499));
	assert_false(ratelimit_table_locked(t, "u", S(105) + 500));
	/* After it, limit more failures lock again. */
	assert_false(ratelimit_table_fail(t, "u", S(106)));
	assert_true(ratelimit_table_fail(t, "u", S(106)));
	assert_true(ratelimit_table_locked(t, "u", S(110)));
	assert_int_equal(ratelimit_table_count(t, S(110)), 1);
	assert_int_equal(ratelimit_table_count(t, S(111)), 0);
	ratelimit_table_free(t);
}

static void
test_forget(void **state)
{
	struct ratelimit_table *t = table(3, 60, 60, 64);

	(void)state;
	ratelimit_table_fail(t, "u", S(1));
	ratelimit_table_fail(t, "u", S(2));
	ratelimit_table_forget(t, "u");
	ratelimit_table_forget(t, "never-seen");
	assert_int_equal(ratelimit_table_count(t, S(2)), 0);
	assert_false(ratelimit_table_fail(t, "u", S(3)));
	assert_false(ratelimit_table_fail(t, "u", S(4)));
	assert_true(ratelimit_table_fail(t, "u", S(5)));
	ratelimit_table_free(t);
}

/* A flood of new keys never grows the table, and drops unlocked entries before lock-outs. */
static void
test_bounded(void **state)
{
	struct ratelimit_table *t = table(2, 60, 100, 8);
	char key[32];

	(void)state;
	ratelimit_table_fail(t, "victim", S(0));
	assert_true(ratelimit_table_fail(t, "victim", S(0)));
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "flood-%d", i);
		ratelimit_table_fail(t, key, S(1));
		assert_true(ratelimit_table_count(t, S(1)) <= 8);
	}
	assert_int_equal(ratelimit_table_count(t, S(1)), 8);
	assert_true(ratelimit_table_locked(t, "victim", S(1)));
	/* The latest unlocked entry is still counting: one more failure locks it. */
	assert_true(ratelimit_table_fail(t, "flood-999", S(2)));
	/* With every entry locked, the lock-out that ends first gives way. */
	for (int i = 0; i < 7; i++) {
		snprintf(key, sizeof(key), "lock-%d", i);
		ratelimit_table_fail(t, key, S(10 + i));
		assert_true(ratelimit_table_fail(t, key, S(10 + i)));
	}
	assert_false(ratelimit_table_locked(t, "victim", S(20)));
	assert_true(ratelimit_table_locked(t, "lock-0", S(20)));
	assert_true(ratelimit_table_locked(t, "lock-6", S(20)));
	assert_int_equal(ratelimit_table_count(t, S(20)), 8);
	ratelimit_table_free(t);
}

/* Keys longer than an entry holds stay apart when they differ past the cut. */
static void
test_long_keys(void **state)
{
	struct ratelimit_table *t = table(2, 60, 60, 64);
	char a[200], b[200];

	(void)state;
	memset(a, 'x', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(b, a, sizeof(b));
	b[sizeof(b) - 2] = 'y';
	ratelimit_table_fail(t, a, S(0));
	assert_true(ratelimit_table_fail(t, a, S(0)));
	assert_false(ratelimit_table_locked(t, b, S(0)));
	assert_false(ratelimit_table_fail(t, b, S(0)));
	ratelimit_table_free(t);
}

static void
test_disabled(void **state)
{
	struct ratelimit_table *t = table(0, 60, 300, 16);

	(void)state;
	for (int i = 0; i < 100; i++)
		assert_false(ratelimit_table_fail(t, "u", S(i)));
	assert_false(ratelimit_table_locked(t, "u", S(100)));
	assert_int_equal(ratelimit_table_count(t, S(100)), 0);
	ratelimit_table_free(t);
	ratelimit_table_free(NULL);
}

static void
source_of(int family, const char *text, char *out, size_t len)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

	if (family == AF_INET) {
		assert_int_equal(inet_pton(AF_INET, text, &sin.sin_addr), 1);
		ratelimit_source((struct sockaddr *)&sin, out, len);
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &sin6.sin6_addr), 1);
		ratelimit_source((struct sockaddr *)&sin6, out, len);
	}
}

/* IPv4 by address, IPv6 by /64, IPv4-mapped IPv6 as IPv4. */
static void
test_source(void **state)
{
	char out[64];

	(void)state;
	source_of(AF_INET, "192.0.2.7", out, sizeof(out));
	assert_string_equal(out, "192.0.2.7");
	source_of(AF_INET6, "2001:db8:1:2:3:4:5:6", out, sizeof(out));
	assert_string_equal(out, "2001:db8:1:2::/64");
	source_of(AF_INET6, "2001:db8:1:2:ffff::1", out, sizeof(out));
	assert_string_equal(out, "2001:db8:1:2::/64");
	source_of(AF_INET6, "::ffff:192.0.2.7", out, sizeof(out));
	assert_string_equal(out, "192.0.2.7");
	source_of(AF_INET6, "::1", out, sizeof(out));
	assert_string_equal(out, "::/64");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_lockout_expires),
		cmocka_unit_test(test_forget),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_long_keys),
		cmocka_unit_test(test_disabled),
		cmocka_unit_test(test_source),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
