/*
 * Unit tests for lib/audit/audit.c and lib/util/kvline.c: the audit chain
 * verifies; a changed, removed, inserted or reordered line and a cut-short
 * last line are each found and named by line; appends from several threads
 * and from a second handle on the same file (a second process) keep one
 * chain, and so does a handle that remembers its own last line when others
 * wrote after it or the file was rotated or truncated, even when truncated
 * and written again back to the same size; a line cut at its bound (a
 * client's subject of kilobytes) keeps its chain, and a cut line of that
 * length behind it still leaves the end readable; key=value and JSON lines escape
 * what a client could choose (a subject with quotes, spaces, newlines,
 * "key=" inside) so it cannot forge a field or a line, and parse back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "estkit/audit.h"
#include "util/kvline.h"

static char dir[64];
static char path[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/estkit-audit.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static void
append(struct est_audit *a, const char *who, const char *what, const char *serial)
{
	const char *fields[] = { "serial", serial, "subject", "CN=dev \"1\" hash=00 prev=11" };
	struct est_error e = { 0 };

	assert_int_equal(est_audit_append(a, who, what, fields, 2, &e), EST_OK);
}

static void
write_entries(int n)
{
	struct est_audit *a = NULL;
	struct est_error e = { 0 };
	char serial[16];

	unlink(path);
	assert_int_equal(est_audit_open(path, &a, &e), EST_OK);
	for (int i = 0; i < n; i++) {
		snprintf(serial, sizeof(serial), "%02X", i);
		append(a, "user:estuser", "issue", serial);
	}
	est_audit_close(a);
}

/* The file's lines, for editing. */
static char **
read_lines(size_t *n)
{
	FILE *f = fopen(path, "r");
	char **lines = NULL, *line = NULL;
	size_t cap = 0;

	assert_non_null(f);
	*n = 0;
	while (getline(&line, &cap, f) > 0) {
		lines = realloc(lines, (*n + 1) * sizeof(*lines));
		lines[(*n)++] = strdup(line);
	}
	free(line);
	fclose(f);
	return lines;
}

static void
write_lines(char **lines, size_t n)
{
	FILE *f = fopen(path, "w");

	for (size_t i = 0; i < n; i++)
		fputs(lines[i], f);
	fclose(f);
}

static void
free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

static void
expect_broken_at(const char *where)
{
	char hash[EST_AUDIT_HASH_HEX + 1];
	struct est_error e = { 0 };
	size_t entries = 0;

	assert_int_equal(est_audit_verify(path, &entries, hash, &e), EST_ERR_BADREQ);
	if (strstr(e.msg, where) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", where, e.msg);
}

static void
test_chain_verifies(void **state)
{
	char hash[EST_AUDIT_HASH_HEX + 1], again[EST_AUDIT_HASH_HEX + 1];
	struct est_error e = { 0 };
	size_t entries = 0;

	(void)state;
	write_entries(0);
	assert_int_equal(est_audit_verify(path, &entries, hash, &e), EST_OK);
	assert_int_equal(entries, 0);
	write_entries(5);
	assert_int_equal(est_audit_verify(path, &entries, hash, &e), EST_OK);
	assert_int_equal(entries, 5);
	assert_int_equal(strlen(hash), 64);
	/* Reopening continues the chain. */
	{
		struct est_audit *a = NULL;

		assert_int_equal(est_audit_open(path, &a, &e), EST_OK);
		append(a, "admin:root", "cert revoke", "03");
		est_audit_close(a);
	}
	assert_int_equal(est_audit_verify(path, &entries, again, &e), EST_OK);
	assert_int_equal(entries, 6);
	assert_string_not_equal(hash, again);
}

static void
test_edit_found(void **state)
{
	size_t n;
	char **lines;
	char *p;

	(void)state;
	write_entries(4);
	lines = read_lines(&n);
	p = strstr(lines[2], "serial=02");
	assert_non_null(p);
	p[8] = '9';                                   /* serial=09 */
	write_lines(lines, n);
	free_lines(lines, n);
	expect_broken_at(":3: the line was changed");
}

static void
test_edit_with_new_hash_found(void **state)
{
	unsigned char md[32];
	char content[256], hex[65], prev[65];
	size_t n;
	char **lines;

	(void)state;
	/* An editor who rewrites a line with a correct hash of its own (and the
	 * right prev) still breaks the next line, whose prev is the old hash. */
	write_entries(3);
	lines = read_lines(&n);
	memcpy(prev, lines[0] + strlen(lines[0]) - 65, 64);    /* the last field, before the newline */
	prev[64] = '\0';
	snprintf(content, sizeof(content), "seq=2 time=x who=user:mallory what=issue prev=%s", prev);
	assert_int_equal(EVP_Digest(content, strlen(content), md, NULL, EVP_sha256(), NULL), 1);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	free(lines[1]);
	lines[1] = malloc(strlen(content) + 80);
	sprintf(lines[1], "%s hash=%s\n", content, hex);
	write_lines(lines, n);
	free_lines(lines, n);
	expect_broken_at(":3: the chain is broken");
}

static void
test_removed_inserted_reordered(void **state)
{
	size_t n;
	char **lines, *tmp;

	(void)state;
	write_entries(4);
	lines = read_lines(&n);
	write_lines(lines + 1, n - 1);                /* first line removed */
	expect_broken_at(":1: the chain is broken");
	tmp = lines[1];
	lines[1] = lines[2];
	lines[2] = tmp;
	write_lines(lines, n);                        /* two lines swapped */
	expect_broken_at(":2: the chain is broken");
	tmp = lines[2];
	lines[2] = lines[1];
	lines[1] = tmp;
	write_lines(lines, n);
	{
		FILE *f = fopen(path, "a");

		fputs(lines[3], f);                   /* a line repeated at the end */
		fclose(f);
	}
	expect_broken_at(":5: the chain is broken");
	free_lines(lines, n);
}

static void
test_cut_line_found_and_continued(void **state)
{
	struct est_audit *a = NULL;
	struct est_error e = { 0 };
	FILE *f;

	(void)state;
	write_entries(2);
	f = fopen(path, "a");
	fputs("seq=3 time=2026", f);                  /* a crash mid-write */
	fclose(f);
	expect_broken_at(":3: the last line is cut short");
	/* Appending goes on, on a new line; the cut line stays reported. */
	assert_int_equal(est_audit_open(path, &a, &e), EST_OK);
	append(a, "user:x", "issue", "AA");
	est_audit_close(a);
	expect_broken_at(":3:");
}

/*
 * Entries appended together (a store group's, est_audit_append_many) chain
 * as the same appends one by one would, in their order, after and before
 * single appends; the longest lines fit; after a line cut short the first
 * of them starts on a new line.
 */
static void
test_append_many(void **state)
{
	static char subject[2 * KVLINE_MAX];
	const char *f1[] = { "serial", "A1", "subject", "CN=one" };
	const char *f2[] = { "serial", "B2", "subject", subject };
	const char *f3[] = { "serial", "C3", "subject", "CN=three" };
	const struct est_audit_entry batch[] = {
		{ .who = "user:a", .what = "issue", .fields = f1, .n = 2 },
		{ .who = "cert:1F", .what = "renew", .fields = f2, .n = 2 },
		{ .who = "user:c", .what = "serverkeygen", .fields = f3, .n = 2 },
	};
	char hash[EST_AUDIT_HASH_HEX + 1];
	struct est_audit *a = NULL;
	struct est_error e = { 0 };
	size_t n = 0;
	char **lines;
	FILE *f;

	(void)state;
	memset(subject, 'x', sizeof(subject) - 1);
	write_entries(2);
	assert_int_equal(est_audit_open(path, &a, &e), EST_OK);
	assert_int_equal(est_audit_append_many(a, batch, 3, &e), EST_OK);
	append(a, "user:d", "issue", "D4");
	assert_int_equal(est_audit_append_many(a, batch, 0, &e), EST_OK);
	est_audit_close(a);
	assert_int_equal(est_audit_verify(path, &n, hash, &e), EST_OK);
	assert_int_equal(n, 6);
	lines = read_lines(&n);
	assert_int_equal(n, 6);
	assert_non_null(strstr(lines[2], "seq=3 "));
	assert_non_null(strstr(lines[2], "who=user:a what=issue serial=A1"));
	assert_non_null(strstr(lines[3], "seq=4 "));
	assert_non_null(strstr(lines[3], "who=cert:1F what=renew serial=B2"));
	assert_non_null(strstr(lines[4], "seq=5 "));
	assert_non_null(strstr(lines[4], "who=user:c what=serverkeygen serial=C3"));
	assert_non_null(strstr(lines[5], "seq=6 "));
	free_lines(lines, n);

	f = fopen(path, "a");
	fputs("seq=7 time=2026", f);                  /* a crash mid-write */
	fclose(f);
	assert_int_equal(est_audit_open(path, &a, &e), EST_OK);
	assert_int_equal(est_audit_append_many(a, batch, 3, &e), EST_OK);
	est_audit_close(a);
	expect_broken_at(":7:");
	lines = read_lines(&n);
	assert_int_equal(n, 10);
	assert_string_equal(lines[6], "seq=7 time=2026\n");
	assert_non_null(strstr(lines[7], "seq=7 "));
	assert_non_null(strstr(lines[9], "seq=9 "));
	free_lines(lines, n);
}

/*
 * The longest line a client can cause (a subject of kilobytes, cut at the
 * line's bound), then a crash that left nearly all of another such line:
 * the end read for the chain must still hold the whole last complete line.
 */
static void
test_longest_lines_cut_and_continued(void **state)
{
	static char subject[2 * KVLINE_MAX];
	const char *fields[] = { "serial", "01", "subject", subject };
	char hash[EST_AUDIT_HASH_HEX + 1];
	struct est_audit *a = NULL;
	struct est_error e = { 0 };
	size_t n = 0;
	char **lines;
	FILE *f;

	(void)state;
	memset(subject, 'x', sizeof(subject) - 1);
	unlink(path);
	assert_int_equal(est_audit_open(path, &a, &e), EST_OK);
	assert_int_equal(est_audit_append(a, "user:estuser", "issue", fields, 2, &e), EST_OK);
	est_audit_close(a);
	/* Cut at its bound, the line keeps its chain. */
	assert_int_equal(est_audit_verify(path, &n, hash, &e), EST_OK);
	assert_int_equal(n, 1);
	lines = read_lines(&n);
	assert_int_equal(n, 1);
	/* Else this would not be the longest line. */
	assert_true(strlen(lines[0]) > KVLINE_MAX - 64);
	f = fopen(path, "a");
	fwrite(lines[0], 1, strlen(lines[0]) - 2, f);    /* a crash mid-write */
	fclose(f);
	free_lines(lines, n);
	assert_int_equal(est_audit_open(path, &a, &e), EST_OK);
	append(a, "user:x", "issue", "AA");
	est_audit_close(a);
	expect_broken_at(":2:");
}

/*
 * A handle remembers the end it wrote; another writer's line in between, a
 * rotated file and a truncated one must each make it read the end again.
 */
static void
test_end_read_again_after_others(void **state)
{
	struct est_audit *a = NULL, *b = NULL;
	char hash[EST_AUDIT_HASH_HEX + 1], rotated[160];
	struct est_error e = { 0 };
	size_t entries = 0;
	FILE *f;

	(void)state;
	write_entries(0);
	assert_int_equal(est_audit_open(path, &a, &e), EST_OK);
	assert_int_equal(est_audit_open(path, &b, &e), EST_OK);
	append(a, "user:a", "issue", "01");
	append(b, "user:b", "issue", "02");
	append(a, "user:a", "issue", "03");
	append(a, "user:a", "issue", "04");
	append(b, "user:b", "issue", "05");
	assert_int_equal(est_audit_verify(path, &entries, hash, &e), EST_OK);
	assert_int_equal(entries, 5);

	snprintf(rotated, sizeof(rotated), "%s.1", path);
	assert_int_equal(rename(path, rotated), 0);
	append(a, "user:a", "issue", "06");
	append(a, "user:a", "issue", "07");
	assert_int_equal(est_audit_verify(path, &entries, hash, &e), EST_OK);
	assert_int_equal(entries, 2);
	assert_int_equal(est_audit_verify(rotated, &entries, hash, &e), EST_OK);
	assert_int_equal(entries, 5);
	unlink(rotated);

	f = fopen(path, "w");                         /* truncated in place */
	fclose(f);
	append(a, "user:a", "issue", "08");
	assert_int_equal(est_audit_verify(path, &entries, hash, &e), EST_OK);
	assert_int_equal(entries, 1);
	est_audit_close(a);
	est_audit_close(b);
}

/*
 * A file truncated in place and written again by another writer can grow
 * back to exactly the size this handle left (lines of one shape have one
 * length), so that size must not vouch for the end the handle remembers.
 */
static void
test_end_read_again_after_same_size_regrowth(void **state)
{
	struct est_audit *a = NULL, *b = NULL;
	char hash[EST_AUDIT_HASH_HEX + 1];
	struct est_error e = { 0 };
	size_t entries = 0;
	struct stat st;
	off_t left;

	(void)state;
	write_entries(0);
	assert_int_equal(est_audit_open(path, &a, &e), EST_OK);
	assert_int_equal(est_audit_open(path, &b, &e), EST_OK);
	append(a, "user:a", "issue", "01");
	assert_int_equal(stat(path, &st), 0);
	left = st.st_size;
	assert_int_equal(truncate(path, 0), 0);       /* copytruncate-style rotation */
	append(b, "user:b", "issue", "02");
	assert_int_equal(stat(path, &st), 0);
	/* Else the size alone would tell a, and this would test nothing. */
	assert_int_equal(st.st_size, left);
	append(a, "user:a", "issue", "03");
	assert_int_equal(est_audit_verify(path, &entries, hash, &e), EST_OK);
	assert_int_equal(entries, 2);
	est_audit_close(a);
	est_audit_close(b);
}

struct worker_arg {
	int id;
	int n;
};

static void *
appender(void *arg)
{
	struct worker_arg *w = arg;
	struct est_audit *a = NULL;
	struct est_error e = { 0 };
	char serial[16];

	/* Each thread its own handle: like separate processes (flock). */
	assert_int_equal(est_audit_open(path, &a, &e), EST_OK);
	for (int i = 0; i < w->n; i++) {
		snprintf(serial, sizeof(serial), "%d-%d", w->id, i);
		append(a, "user:t", "issue", serial);
	}
	est_audit_close(a);
	return NULL;
}

static void *
shared_appender(void *arg)
{
	struct est_audit *a = arg;

	for (int i = 0; i < 50; i++)
		append(a, "user:s", "renew", "S");
	return NULL;
}

static void
test_concurrent_appends(void **state)
{
	struct worker_arg args[4];
	pthread_t t[6];
	struct est_audit *shared = NULL;
	char hash[EST_AUDIT_HASH_HEX + 1];
	struct est_error e = { 0 };
	size_t entries = 0;

	(void)state;
	write_entries(0);
	assert_int_equal(est_audit_open(path, &shared, &e), EST_OK);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct worker_arg){ i, 50 };
		pthread_create(&t[i], NULL, appender, &args[i]);
	}
	pthread_create(&t[4], NULL, shared_appender, shared);
	pthread_create(&t[5], NULL, shared_appender, shared);
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	est_audit_close(shared);
	assert_int_equal(est_audit_verify(path, &entries, hash, &e), EST_OK);
	assert_int_equal(entries, 300);
}

static void
test_kvline_escapes(void **state)
{
	struct kvline l;
	char out[256];
	const char *s;

	(void)state;
	kvline_init(&l, false);
	kvline_add(&l, "peer", "127.0.0.1:5555");
	kvline_add(&l, "principal", "ee:dev 1\" status=200\nforged=1");
	kvline_add(&l, "empty", "");
	kvline_add(&l, "none", NULL);
	s = kvline_str(&l);
	assert_string_equal(s, "peer=127.0.0.1:5555 principal=\"ee:dev 1\\\" status=200\\x0aforged=1\" "
	    "empty=\"\" none=-");
	assert_null(strchr(s, '\n'));
	assert_true(kvline_get(s, "principal", out, sizeof(out)));
	assert_string_equal(out, "ee:dev 1\" status=200\nforged=1");
	assert_false(kvline_get(s, "status", out, sizeof(out)));
	assert_false(kvline_get(s, "forged", out, sizeof(out)));
	assert_true(kvline_get(s, "peer", out, sizeof(out)));
	assert_string_equal(out, "127.0.0.1:5555");
	assert_true(kvline_get(s, "none", out, sizeof(out)));
	assert_string_equal(out, "-");
	/* A quoted value cut after an escape (found by fuzz_audit): no read past the end. */
	assert_true(kvline_get("seq=\"\\xC", "seq", out, sizeof(out)));
	assert_true(kvline_get("seq=\"\\", "seq", out, sizeof(out)));
	assert_true(kvline_get("seq=\"", "seq", out, sizeof(out)));
	assert_string_equal(out, "");
}

static void
test_kvline_json(void **state)
{
	struct kvline l;

	(void)state;
	kvline_init(&l, true);
	kvline_add(&l, "a", "x\"y\\z\n\x01");
	kvline_add(&l, "b", "caf\xc3\xa9 \xff");
	assert_string_equal(kvline_str(&l),
	    "{\"a\":\"x\\\"y\\\\z\\u000a\\u0001\",\"b\":\"caf\xc3\xa9 \\u00ff\"}");
	kvline_init(&l, true);
	assert_string_equal(kvline_str(&l), "{}");
}

static void
test_kvline_bounded(void **state)
{
	static char big[3 * KVLINE_MAX];
	struct kvline l;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	kvline_init(&l, true);
	kvline_add(&l, "k", big);
	kvline_add(&l, "k2", big);
	assert_true(l.truncated);
	assert_true(strlen(kvline_str(&l)) < KVLINE_MAX);
	assert_int_equal(kvline_str(&l)[strlen(kvline_str(&l)) - 1], '}');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chain_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edit_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edit_with_new_hash_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_inserted_reordered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_line_found_and_continued, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_longest_lines_cut_and_continued, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_read_again_after_others, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_read_again_after_same_size_regrowth, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_appends, setup, teardown),
		cmocka_unit_test(test_kvline_escapes),
		cmocka_unit_test(test_kvline_json),
		cmocka_unit_test(test_kvline_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
