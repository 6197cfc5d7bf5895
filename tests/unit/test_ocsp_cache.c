/*
 * Unit tests for lib/server/ocsp_cache.c: a kept response is found only
 * under its whole key and until its time, memory stays bounded however many
 * questions are asked, and the signing budget refills at its rate (the
 * clock is passed in).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "server/server_int.h"

static struct ocsp_cache *
cache(double rate)
{
	struct ocsp_cache *c = NULL;
	struct est_error e = { 0 };

	assert_int_equal(ocsp_cache_new(rate, &c, &e), EST_OK);
	return c;
}

static void
put(struct ocsp_cache *c, const char *key, const char *der, time_t until)
{
	ocsp_cache_put(c, (const unsigned char *)key, strlen(key), (const unsigned char *)der,
	    strlen(der) + 1, until);
}

/* The kept bytes, or NULL. */
static const char *
get(struct ocsp_cache *c, const char *key, time_t now)
{
	const unsigned char *der = NULL;
	size_t len = 0;

	if (!ocsp_cache_get(c, (const unsigned char *)key, strlen(key), now, &der, &len))
		return NULL;
	assert_int_equal(len, strlen((const char *)der) + 1);
	return (const char *)der;
}

/* Found under the same key up to its last second; a key that differs in a
 * byte (another status, another CertID) or only in length is another question. */
static void
test_kept_until(void **state)
{
	struct ocsp_cache *c = cache(0);

	(void)state;
	put(c, "ca0|id1|good", "response-1", 100);
	assert_string_equal(get(c, "ca0|id1|good", 40), "response-1");
	assert_string_equal(get(c, "ca0|id1|good", 100), "response-1");
	assert_null(get(c, "ca0|id1|revo", 40));
	assert_null(get(c, "ca0|id1|goo", 40));
	assert_null(get(c, "ca0|id1|good!", 40));
	assert_null(get(c, "ca0|id1|good", 101));
	/* Gone once found expired, and put again it is the new bytes. */
	assert_null(get(c, "ca0|id1|good", 50));
	put(c, "ca0|id1|good", "response-2", 200);
	assert_string_equal(get(c, "ca0|id1|good", 150), "response-2");
	ocsp_cache_free(c);
}

/* However many questions, the table keeps a bounded number (ASan and the
 * leak checker see the rest freed), and the most recent one is there. */
static void
test_bounded(void **state)
{
	struct ocsp_cache *c = cache(0);
	char key[32], der[32];
	size_t found = 0;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "q%d", i);
		snprintf(der, sizeof(der), "r%d", i);
		put(c, key, der, 1000 + i);
	}
	assert_string_equal(get(c, "q9999", 500), "r9999");
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "q%d", i);
		found += get(c, key, 500) != NULL;
	}
	assert_true(found >= 64);
	assert_true(found <= 256);
	ocsp_cache_free(c);
}

/* rate signatures a second, at most a second's worth saved up. */
static void
test_budget(void **state)
{
	struct ocsp_cache *c = cache(4);
	int n = 0;

	(void)state;
	while (ocsp_cache_spend(c, 1000))
		n++;
	assert_int_equal(n, 4);
	assert_false(ocsp_cache_spend(c, 1100));
	assert_true(ocsp_cache_spend(c, 1250));
	assert_false(ocsp_cache_spend(c, 1260));
	/* Ten idle seconds save up one second's worth, not ten. */
	for (n = 0; ocsp_cache_spend(c, 11260); n++)
		;
	assert_int_equal(n, 4);
	/* A clock that does not move gives nothing back. */
	assert_false(ocsp_cache_spend(c, 11000));
	ocsp_cache_free(c);
}

/* A worker's share under one a second keeps one signature in hand; 0 is no budget. */
static void
test_budget_small_and_none(void **state)
{
	struct ocsp_cache *c = cache(0.5), *none = cache(0);

	(void)state;
	assert_true(ocsp_cache_spend(c, 0));
	assert_false(ocsp_cache_spend(c, 1000));
	assert_true(ocsp_cache_spend(c, 2000));
	for (int i = 0; i < 1000; i++)
		assert_true(ocsp_cache_spend(none, 0));
	ocsp_cache_free(c);
	ocsp_cache_free(none);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kept_until),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_budget_small_and_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
