/*
 * Unit tests for lib/auth/lockouts.c, the lock-out file estd and estadm
 * share: record, list, present and clear; names that could pass for lines
 * are encoded; damaged lines are skipped; a missing file lifts nothing; and
 * processes writing at the same time never lose each other's lines (flock).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "estkit/lockout.h"

#define NOW 1700000000

static char dir[64], path[96];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/estkit-lockouts.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/estkit.db-lockouts", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

/* How many lock-outs are listed at NOW (and the first one in *first). */
static size_t
count(struct est_lockout *first)
{
	struct est_lockout *l = NULL;
	struct est_error e = { 0 };
	size_t n = 0;

	assert_int_equal(est_lockout_list(path, NOW, &l, &n, &e), EST_OK);
	if (n > 0 && first != NULL)
		*first = l[0];
	free(l);
	return n;
}

static void
test_record_list_clear(void **state)
{
	struct est_error e = { 0 };
	struct est_lockout first;
	size_t removed;

	(void)state;
	assert_int_equal(count(NULL), 0);
	assert_int_equal(est_lockout_present(path, "address", "127.0.0.1"), -1);
	assert_int_equal(est_lockout_record(path, "address", "127.0.0.1", NOW + 300, NOW, &e), EST_OK);
	assert_int_equal(est_lockout_record(path, "user", "estuser", NOW + 300, NOW, &e), EST_OK);
	/* Recording again replaces the line. */
	assert_int_equal(est_lockout_record(path, "address", "127.0.0.1", NOW + 400, NOW, &e), EST_OK);
	assert_int_equal(count(&first), 2);
	assert_string_equal(first.kind, "user");
	assert_int_equal(est_lockout_present(path, "address", "127.0.0.1"), 1);
	assert_int_equal(est_lockout_present(path, "user", "127.0.0.1"), 0);
	assert_int_equal(est_lockout_clear(path, "estuser", NOW, &removed, &e), EST_OK);
	assert_int_equal(removed, 1);
	assert_int_equal(est_lockout_present(path, "user", "estuser"), 0);
	assert_int_equal(est_lockout_clear(path, "estuser", NOW, &removed, &e), EST_OK);
	assert_int_equal(removed, 0);
	assert_int_equal(est_lockout_clear(path, NULL, NOW, &removed, &e), EST_OK);
	assert_int_equal(removed, 1);
	assert_int_equal(count(NULL), 0);
	/* A line that ended is neither listed nor kept. */
	assert_int_equal(est_lockout_record(path, "ee", "dev1", NOW, NOW - 10, &e), EST_OK);
	assert_int_equal(count(NULL), 0);
}

static void
test_encoding(void **state)
{
	static const char odd[] = "x y\n9 address 99999999999 127.0.0.1%";
	struct est_error e = { 0 };
	struct est_lockout first;
	char text[512] = { 0 };
	FILE *f;

	(void)state;
	assert_int_equal(est_lockout_record(path, "ee", odd, NOW + 60, NOW, &e), EST_OK);
	assert_non_null(f = fopen(path, "r"));
	assert_true(fread(text, 1, sizeof(text) - 1, f) > 0);
	fclose(f);
	assert_string_equal(text, "ee 1700000060 x%20y%0A9%20address%2099999999999%20127.0.0.1%25\n");
	assert_int_equal(count(&first), 1);
	assert_string_equal(first.key, odd);
	assert_int_equal(est_lockout_present(path, "ee", odd), 1);
	assert_int_equal(est_lockout_present(path, "address", "127.0.0.1"), 0);
	assert_int_equal(est_lockout_record(path, "address", "", NOW + 60, NOW, &e), EST_ERR_INTERNAL);
	assert_int_equal(est_lockout_record(path, "admin", "x", NOW + 60, NOW, &e), EST_ERR_INTERNAL);
}

static void
test_damaged(void **state)
{
	struct est_error e = { 0 };
	size_t removed;
	FILE *f;

	(void)state;
	assert_non_null(f = fopen(path, "w"));
	fputs("garbage\naddress notanumber 1.2.3.4\naddress 99999999999\nuser 1800000000 a b\n"
	    "user 1800000000 %00\nname 1800000000 x\naddress 1800000000 10.0.0.1\n", f);
	fclose(f);
	assert_int_equal(count(NULL), 1);
	assert_int_equal(est_lockout_present(path, "address", "10.0.0.1"), 1);
	assert_int_equal(est_lockout_clear(path, "nobody", NOW, &removed, &e), EST_OK);
	assert_int_equal(removed, 0);
	/* The rewrite dropped what it could not read. */
	assert_non_null(f = fopen(path, "r"));
	{
		char text[256] = { 0 };

		assert_true(fread(text, 1, sizeof(text) - 1, f) > 0);
		assert_string_equal(text, "address 1800000000 10.0.0.1\n");
	}
	fclose(f);
}

/* Four processes record 50 keys each at once: every line survives. */
static void
test_concurrent_writers(void **state)
{
	struct est_error e = { 0 };
	int status;
	pid_t pid[4];

	(void)state;
	for (int p = 0; p < 4; p++) {
		if ((pid[p] = fork()) == 0) {
			char key[32];
			int bad = 0;

			for (int i = 0; i < 50; i++) {
				snprintf(key, sizeof(key), "10.%d.0.%d", p, i);
				bad |= est_lockout_record(path, "address", key, NOW + 60, NOW, &e) != EST_OK;
			}
			_exit(bad);
		}
		assert_true(pid[p] > 0);
	}
	for (int p = 0; p < 4; p++) {
		assert_int_equal(waitpid(pid[p], &status, 0), pid[p]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(count(NULL), 200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_record_list_clear, setup, teardown),
		cmocka_unit_test_setup_teardown(test_encoding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
