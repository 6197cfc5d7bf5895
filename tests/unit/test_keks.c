/*
 * Unit tests for the key-encryption key file (lib/auth/keks.c,
 * include/estkit/kek.h): lookups bound to the principal, and every refusal
 * naming the file and line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "estkit/kek.h"

static char dir[64], path[128];

static const char *
write_keks(const char *text, mode_t mode)
{
	FILE *f;

	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void
test_find(void **state)
{
	static const unsigned char id[] = { 0xde, 0xad, 0xbe, 0xef };
	struct est_keks *k = NULL;
	struct est_error e = { 0 };
	const unsigned char *key = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(est_keks_load(write_keks("# comment\n\n"
	    "user:estuser deadbeef 000102030405060708090a0b0c0d0e0f\n"
	    "  cert:1A\tdeadbeef 00112233445566778899aabbccddeeff0011223344556677\n"
	    "ra:a3f deadbeef aa0102030405060708090a0b0c0d0e0f\n"
	    "cert:00:0b:3f deadbeef bb0102030405060708090a0b0c0d0e0f\n", 0600),
	    &k, &e), EST_OK);
	assert_int_equal(est_keks_find(k, "user:estuser", id, 4, &key, &len, &e), EST_OK);
	assert_int_equal(len, 16);
	assert_int_equal(key[15], 0x0f);
	assert_int_equal(est_keks_find(k, "cert:1A", id, 4, &key, &len, &e), EST_OK);
	assert_int_equal(len, 24);
	/* A serial as openssl prints it or as the store keeps it: estd's one form. */
	assert_int_equal(est_keks_find(k, "ra:0A3F", id, 4, &key, &len, &e), EST_OK);
	assert_int_equal(key[0], 0xaa);
	assert_int_equal(est_keks_find(k, "cert:0B3F", id, 4, &key, &len, &e), EST_OK);
	assert_int_equal(key[0], 0xbb);
	assert_int_equal(est_keks_find(k, "cert:B3F", id, 4, &key, &len, &e), EST_ERR_NOTFOUND);
	/* Bound to the principal: another user cannot name that key. */
	assert_int_equal(est_keks_find(k, "user:other", id, 4, &key, &len, &e), EST_ERR_NOTFOUND);
	assert_int_equal(est_keks_find(k, "user:estuser", id, 3, &key, &len, &e), EST_ERR_NOTFOUND);
	assert_int_equal(est_keks_find(NULL, "user:estuser", id, 4, &key, &len, &e), EST_ERR_NOTFOUND);
	est_keks_free(k);
}

static void
test_refusals(void **state)
{
	static const char *const bad[] = {
		"user:a deadbeef\n",
		"user:a deadbeef 0001\n",
		"user:a zz 000102030405060708090a0b0c0d0e0f\n",
		"user:a deadbeef 000102030405060708090a0b0c0d0e0f extra\n",
		"user:a 01 000102030405060708090a0b0c0d0e0f\nuser:a 01 000102030405060708090a0b0c0d0e0f\n",
		"cert:zz deadbeef 000102030405060708090a0b0c0d0e0f\n",
	};
	struct est_keks *k = NULL;
	struct est_error e = { 0 };
	char want[160];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(est_keks_load(write_keks(bad[i], 0600), &k, &e), EST_ERR_CONFIG);
		snprintf(want, sizeof(want), "%s:%d: ", path, i == 4 ? 2 : 1);
		if (strstr(e.msg, want) == NULL)
			fail_msg("case %zu: \"%s\" does not name %s", i, e.msg, want);
	}
	assert_int_equal(est_keks_load(write_keks("", 0640), &k, &e), EST_ERR_CONFIG);
	assert_non_null(strstr(e.msg, "chmod 600"));
	assert_int_equal(est_keks_load("/nonexistent/keks", &k, &e), EST_ERR_CONFIG);
	assert_null(k);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/estkit-keks.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/keks", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
