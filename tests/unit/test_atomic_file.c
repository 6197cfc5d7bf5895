/*
 * Unit tests for lib/util/atomic_file.c, the one way files are replaced:
 * a replacement takes the mode given or (AF_LIKE_OLD) the old file's, and
 * keeps the owner; AF_NO_OVERWRITE refuses an existing target and leaves it
 * alone; an abort, a failed write and a refused lock leave the directory as
 * it was; a symbolic link stays one under AF_FOLLOW.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/atomic_file.h"

static char dir[64], path[96];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/estkit-atomic.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/target", dir);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
put(const char *p, const char *text, mode_t mode)
{
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(p, mode), 0);
}

static const char *
slurp(const char *p)
{
	static char buf[256];
	FILE *f = fopen(p, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Entries of dir besides . and .. */
static int
entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

static mode_t
mode_of(const char *p)
{
	struct stat st;

	assert_int_equal(stat(p, &st), 0);
	return st.st_mode & 07777;
}

static void
replace(const char *text, mode_t mode, unsigned flags)
{
	struct est_error e = { 0 };
	struct atomic_file af;

	if (flags == 0) {
		assert_int_equal(af_replace(path, text, strlen(text), mode, &e), EST_OK);
		return;
	}
	assert_int_equal(af_open(&af, path, mode, flags, &e), EST_OK);
	assert_int_equal(af_write(&af, text, strlen(text), &e), EST_OK);
	assert_int_equal(af_commit(&af, AF_REPLACE, &e), EST_OK);
	af_abort(&af);
}

static void
test_replace_mode(void **state)
{
	(void)state;
	replace("first\n", 0640, 0);
	assert_string_equal(slurp(path), "first\n");
	assert_int_equal(mode_of(path), 0640);
	replace("second\n", 0600, 0);
	assert_string_equal(slurp(path), "second\n");
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(chmod(path, 0604), 0);
	replace("third\n", 0600, AF_LIKE_OLD);
	assert_string_equal(slurp(path), "third\n");
	assert_int_equal(mode_of(path), 0604);
	assert_int_equal(entries(), 1);
}

/* Only root can give a file away; as anyone else this has nothing to show. */
static void
test_replace_keeps_owner(void **state)
{
	struct stat st;

	(void)state;
	if (geteuid() != 0)
		skip();
	put(path, "old\n", 0600);
	assert_int_equal(chown(path, 65534, 65534), 0);
	replace("new\n", 0600, 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 65534);
	assert_string_equal(slurp(path), "new\n");
}

static void
test_no_overwrite(void **state)
{
	struct est_error e = { 0 };
	struct atomic_file af;

	(void)state;
	assert_int_equal(af_open(&af, path, 0600, 0, &e), EST_OK);
	assert_int_equal(af_write(&af, "new\n", 4, &e), EST_OK);
	assert_int_equal(af_commit(&af, AF_NO_OVERWRITE, &e), EST_OK);
	assert_string_equal(slurp(path), "new\n");
	assert_int_equal(entries(), 1);

	put(path, "kept\n", 0644);
	assert_int_equal(af_open(&af, path, 0600, 0, &e), EST_OK);
	assert_int_equal(af_write(&af, "other\n", 6, &e), EST_OK);
	assert_int_equal(af_commit(&af, AF_NO_OVERWRITE, &e), EST_ERR_EXISTS);
	assert_non_null(strstr(e.msg, "already exists"));
	af_abort(&af);
	assert_string_equal(slurp(path), "kept\n");
	assert_int_equal(mode_of(path), 0644);
	assert_int_equal(entries(), 1);
}

static void
test_abort(void **state)
{
	struct est_error e = { 0 };
	struct atomic_file af = { 0 };

	(void)state;
	af_abort(&af);
	assert_int_equal(af_open(&af, path, 0600, 0, &e), EST_OK);
	assert_int_equal(af_write(&af, "never\n", 6, &e), EST_OK);
	assert_int_equal(entries(), 1);
	af_abort(&af);
	af_abort(&af);
	assert_int_equal(entries(), 0);

	put(path, "old\n", 0644);
	assert_int_equal(af_open(&af, path, 0600, 0, &e), EST_OK);
	assert_int_equal(af_finish(&af, &e), EST_OK);
	af_abort(&af);
	assert_string_equal(slurp(path), "old\n");
	assert_int_equal(entries(), 1);
}

/* A file size limit makes the writes fail (EFBIG), as a full disk would. */
static void
test_failed_write(void **state)
{
	static char big[65536];
	struct rlimit old, lim;
	struct est_error e = { 0 };
	struct atomic_file af;

	(void)state;
	put(path, "old\n", 0644);
	memset(big, 'x', sizeof(big));
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 16;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);

	assert_int_equal(af_open(&af, path, 0600, 0, &e), EST_OK);
	assert_int_equal(af_write(&af, big, sizeof(big), &e), EST_ERR_IO);
	assert_non_null(strstr(e.msg, "cannot write"));
	af_abort(&af);
	/* Held in stdio's buffer, the failure shows when it is flushed. */
	assert_int_equal(af_open(&af, path, 0600, 0, &e), EST_OK);
	assert_int_equal(af_write(&af, big, 100, &e), EST_OK);
	assert_int_equal(af_commit(&af, AF_REPLACE, &e), EST_ERR_IO);
	af_abort(&af);

	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_string_equal(slurp(path), "old\n");
	assert_int_equal(mode_of(path), 0644);
	assert_int_equal(entries(), 1);
}

static void
test_lock(void **state)
{
	struct est_error e = { 0 };
	struct atomic_file a, b;
	char tmp[128];

	(void)state;
	put(path, "old\n", 0600);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(af_open(&a, path, 0600, AF_LOCK, &e), EST_OK);
	assert_int_equal(access(tmp, F_OK), 0);
	assert_int_equal(af_open(&b, path, 0600, AF_LOCK, &e), EST_ERR_IO);
	assert_non_null(strstr(e.msg, "another update is running"));
	af_abort(&b);
	/* The refused writer removed nothing of the first one's. */
	assert_int_equal(access(tmp, F_OK), 0);
	assert_int_equal(af_write(&a, "new\n", 4, &e), EST_OK);
	assert_int_equal(af_commit(&a, AF_REPLACE, &e), EST_OK);
	assert_string_equal(slurp(path), "new\n");
	assert_int_equal(access(tmp, F_OK), -1);
}

static void
test_follow(void **state)
{
	char real[128], link_path[128];
	struct stat st;

	(void)state;
	snprintf(real, sizeof(real), "%s/real", dir);
	put(real, "old\n", 0600);
	snprintf(link_path, sizeof(link_path), "%s", path);
	assert_int_equal(symlink("real", link_path), 0);
	replace("followed\n", 0600, AF_FOLLOW);
	assert_int_equal(lstat(link_path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_string_equal(slurp(real), "followed\n");
	/* Without AF_FOLLOW the link itself is replaced by a file. */
	replace("replaced\n", 0600, 0);
	assert_int_equal(lstat(link_path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_string_equal(slurp(real), "followed\n");
	assert_int_equal(entries(), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replace_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace_keeps_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_overwrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follow, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
