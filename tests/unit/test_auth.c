/*
 * Unit tests for lib/auth/credentials.c and lib/auth/httpauth.c
 * (include/estkit/httpauth.h): the credentials file, HTTP Basic and Digest
 * (EST-S-22, EST-S-23). Digest responses are computed here with EVP_Digest,
 * independently of the library. Each test gets a fresh directory holding a
 * credentials file with one user, USER/PASSWORD in REALM.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "auth/creds.h"
#include "estkit/codec.h"
#include "estkit/httpauth.h"
#include "estkit/pwhash.h"

#define REALM "estkit test"
#define USER "estuser"
#define PASSWORD "s3cret pass"
#define URI "/.well-known/est/simpleenroll"
#define NOW ((time_t)1700000000)

static const unsigned char KEY[EST_HTTPAUTH_NONCE_KEY_LEN] = "0123456789abcdef0123456789abcde";
static const unsigned char OTHER_KEY[EST_HTTPAUTH_NONCE_KEY_LEN] = "fedcba9876543210fedcba987654321";

/* The nonces issued under KEY and OTHER_KEY (made in main). */
static struct est_nonces *NONCES, *OTHER_NONCES;

struct fx {
	char dir[64];
	char path[128];
	char tmp[160];
	struct est_creds *c;
};

static int
teardown(void **state)
{
	struct fx *f = *state;

	est_creds_free(f->c);
	unlink(f->path);
	unlink(f->tmp);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int
setup(void **state)
{
	struct est_error e = {0};
	struct fx *f = calloc(1, sizeof(*f));
	bool replaced = true;

	if (f == NULL)
		return -1;
	*state = f;
	strcpy(f->dir, "/tmp/test_auth.XXXXXX");
	if (mkdtemp(f->dir) != NULL) {
		snprintf(f->path, sizeof(f->path), "%s/users", f->dir);
		snprintf(f->tmp, sizeof(f->tmp), "%s.tmp", f->path);
	}
	if (f->path[0] == '\0' ||
	    est_creds_set(f->path, REALM, USER, PASSWORD, &replaced, &e) != EST_OK || replaced ||
	    est_creds_load(f->path, &f->c, &e) != EST_OK) {
		print_error("fixture: %s\n", e.msg);
		teardown(state);
		return -1;
	}
	return 0;
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* The whole file into a static buffer. */
static const char *
slurp(const char *path)
{
	static char buf[8192];
	FILE *fp = fopen(path, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

/* The first line of path that starts with "user:" (without '\n'). */
static const char *
user_line(const char *path, const char *user)
{
	static char line[1024];
	const char *p = slurp(path);
	size_t ulen = strlen(user), n;

	while (p != NULL && *p != '\0') {
		n = strcspn(p, "\n");
		if (strncmp(p, user, ulen) == 0 && p[ulen] == ':') {
			assert_true(n < sizeof(line));
			memcpy(line, p, n);
			line[n] = '\0';
			return line;
		}
		p = p[n] == '\n' ? p + n + 1 : NULL;
	}
	fail_msg("no line for %s in %s", user, path);
	return NULL;
}

static void
md_hex(const EVP_MD *md, const char *s, char *hex)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;

	assert_int_equal(EVP_Digest(s, strlen(s), d, &len, md, NULL), 1);
	for (i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
}

/* The nonce of the first challenge (Digest SHA-256) issued at t. */
static void
get_nonce(time_t t, char *nonce, size_t cap)
{
	char ch[3][512];
	const char *p, *q;

	assert_int_equal(est_httpauth_challenges(REALM, NONCES, t, false, NULL, 0, ch, 3), 3);
	assert_non_null(p = strstr(ch[0], "nonce=\""));
	p += strlen("nonce=\"");
	assert_non_null(q = strchr(p, '"'));
	assert_true((size_t)(q - p) < cap);
	memcpy(nonce, p, (size_t)(q - p));
	nonce[q - p] = '\0';
}

struct dreq {
	const char *alg;        /* algorithm parameter, NULL for none */
	bool sha256;
	const char *user, *realm, *password, *uri, *nonce;
	const char *cnonce;     /* as it is hashed */
	const char *cnonce_q;   /* as it is written inside the quotes */
	unsigned nc;            /* nonce count, 0 for 1 */
};

/* An Authorization header value computed as a client would for POST. */
static void
digest_header(const struct dreq *r, char *out, size_t cap)
{
	const EVP_MD *md = r->sha256 ? EVP_sha256() : EVP_md5();
	char buf[1024], ha1[65], ha2[65], resp[65], alg[64] = "";

	snprintf(buf, sizeof(buf), "%s:%s:%s", r->user, r->realm, r->password);
	md_hex(md, buf, ha1);
	snprintf(buf, sizeof(buf), "POST:%s", r->uri);
	md_hex(md, buf, ha2);
	snprintf(buf, sizeof(buf), "%s:%s:%08x:%s:auth:%s", ha1, r->nonce, r->nc ? r->nc : 1,
	    r->cnonce, ha2);
	md_hex(md, buf, resp);
	if (r->alg != NULL)
		snprintf(alg, sizeof(alg), ", algorithm=%s", r->alg);
	snprintf(out, cap, "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\"%s, "
	    "response=\"%s\", qop=auth, nc=%08x, cnonce=\"%s\", opaque=\"x\"",
	    r->user, r->realm, r->nonce, r->uri, alg, resp, r->nc ? r->nc : 1,
	    r->cnonce_q != NULL ? r->cnonce_q : r->cnonce);
}

static enum est_err
check(struct fx *f, const char *authz, time_t now, char *user, bool *stale, struct est_error *e)
{
	return est_httpauth_check(f->c, REALM, "POST", URI, authz, NONCES, now, user, stale, e);
}

static void
assert_auth_fails(struct fx *f, const char *authz, time_t now, const char *reason)
{
	struct est_error e = {0};
	char user[EST_HTTPAUTH_MAX_USER + 1] = "untouched";
	bool stale = true;

	assert_int_equal(check(f, authz, now, user, &stale, &e), EST_ERR_AUTH);
	if (strstr(e.msg, reason) == NULL)
		fail_msg("reason '%s' does not contain '%s'", e.msg, reason);
	assert_false(stale);
	assert_string_equal(user, "untouched");
	assert_null(strstr(e.msg, PASSWORD));
}

static void
test_valid_user(void **state)
{
	char long_name[EST_HTTPAUTH_MAX_USER + 2];

	(void)state;
	assert_true(est_creds_valid_user("estuser"));
	assert_true(est_creds_valid_user("a.b_c@d+e-F9"));
	memset(long_name, 'a', sizeof(long_name));
	long_name[EST_HTTPAUTH_MAX_USER] = '\0';
	assert_true(est_creds_valid_user(long_name));
	long_name[EST_HTTPAUTH_MAX_USER] = 'a';
	long_name[EST_HTTPAUTH_MAX_USER + 1] = '\0';
	assert_false(est_creds_valid_user(long_name));
	assert_false(est_creds_valid_user(""));
	assert_false(est_creds_valid_user(NULL));
	assert_false(est_creds_valid_user("a:b"));
	assert_false(est_creds_valid_user("a b"));
	assert_false(est_creds_valid_user("a/b"));
	assert_false(est_creds_valid_user("\xc3\xa9t\xc3\xa9"));
}

static void
test_set_rejects_bad_input(void **state)
{
	struct fx *f = *state;
	struct est_error e = {0};
	bool replaced = false;
	char before[8192];

	strcpy(before, slurp(f->path));
	assert_int_equal(est_creds_set(f->path, REALM, "bad:name", "pw", &replaced, &e),
	    EST_ERR_BADREQ);
	assert_int_equal(est_creds_set(f->path, REALM, "", "pw", &replaced, &e), EST_ERR_BADREQ);
	assert_int_equal(est_creds_set(f->path, REALM, "bob", "", &replaced, &e), EST_ERR_BADREQ);
	assert_int_equal(est_creds_set(f->path, REALM, "bob", "a\nb", &replaced, &e),
	    EST_ERR_BADREQ);
	assert_non_null(strstr(e.msg, "line break"));
	assert_int_equal(est_creds_set(f->path, "", "bob", "pw", &replaced, &e), EST_ERR_BADREQ);
	assert_int_equal(est_creds_del(f->path, "bad name", &e), EST_ERR_BADREQ);
	assert_string_equal(slurp(f->path), before);
	assert_int_equal(access(f->tmp, F_OK), -1);
}

static void
test_set_load_del_roundtrip(void **state)
{
	struct fx *f = *state;
	struct est_error e = {0};
	struct est_creds *c = NULL;
	bool replaced = true;
	struct stat st;
	const char *text;

	write_file(f->path, "# estkit users\n\n");
	assert_int_equal(est_creds_set(f->path, REALM, "alice", "alice pw", &replaced, &e), EST_OK);
	assert_false(replaced);
	assert_int_equal(est_creds_set(f->path, REALM, "bob", "bob pw", &replaced, &e), EST_OK);
	assert_false(replaced);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(est_creds_load(f->path, &c, &e), EST_OK);
	assert_int_equal(est_creds_count(c), 2);
	est_creds_free(c);

	assert_int_equal(est_creds_set(f->path, REALM, "alice", "new pw", &replaced, &e), EST_OK);
	assert_true(replaced);
	assert_int_equal(est_creds_del(f->path, "bob", &e), EST_OK);
	assert_int_equal(est_creds_del(f->path, "bob", &e), EST_ERR_NOTFOUND);
	text = slurp(f->path);
	assert_int_equal(strncmp(text, "# estkit users\n\nalice:pbkdf2-sha256$100000$", 43), 0);
	assert_null(strstr(text, "bob"));
	assert_null(strstr(text, "new pw"));
	assert_int_equal(access(f->tmp, F_OK), -1);
	assert_int_equal(est_creds_load(f->path, &c, &e), EST_OK);
	assert_int_equal(est_creds_count(c), 1);
	est_creds_free(c);
	est_creds_free(NULL);
}

static void
test_missing_file_is_empty(void **state)
{
	struct fx *f = *state;
	struct est_error e = {0};
	struct est_creds *c = NULL;
	char path[200];

	snprintf(path, sizeof(path), "%s/absent", f->dir);
	assert_int_equal(est_creds_load(path, &c, &e), EST_OK);
	assert_int_equal(est_creds_count(c), 0);
	assert_int_equal(est_creds_refresh(c, &e), EST_OK);
	est_creds_free(c);
	assert_int_equal(est_creds_del(path, "bob", &e), EST_ERR_NOTFOUND);
	assert_int_equal(access(path, F_OK), -1);
	strcat(path, ".tmp");
	assert_int_equal(access(path, F_OK), -1);
}

static void
test_malformed_line_names_line(void **state)
{
	static const char *const bad[] = {
		"garbage",
		"bad name:pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:r:"
		    "00000000000000000000000000000000:"
		    "0000000000000000000000000000000000000000000000000000000000000000",
		"bob:pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$short:r:"
		    "00000000000000000000000000000000:"
		    "0000000000000000000000000000000000000000000000000000000000000000",
		"bob:pbkdf2-sha256$10$AAAAAAAAAAAAAAAAAAAAAA==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:r:"
		    "00000000000000000000000000000000:"
		    "0000000000000000000000000000000000000000000000000000000000000000",
		"bob:pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:r:XYZ:"
		    "0000000000000000000000000000000000000000000000000000000000000000",
		NULL, /* the fixture's user a second time */
	};
	struct fx *f = *state;
	struct est_error e = {0};
	struct est_creds *c = NULL;
	char good[1024], text[4096];
	bool replaced;
	size_t i;

	strcpy(good, user_line(f->path, USER));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "# users\n%s\n%s\n", good, bad[i] ? bad[i] : good);
		write_file(f->path, text);
		memset(&e, 0, sizeof(e));
		assert_int_equal(est_creds_load(f->path, &c, &e), EST_ERR_CONFIG);
		if (strstr(e.msg, ":3:") == NULL || strstr(e.msg, f->path) == NULL)
			fail_msg("case %zu: '%s' does not name %s:3:", i, e.msg, f->path);
		/* An update refuses to carry a broken file forward. */
		assert_int_equal(est_creds_set(f->path, REALM, "carol", "pw", &replaced, &e),
		    EST_ERR_CONFIG);
		assert_string_equal(slurp(f->path), text);
		assert_int_equal(access(f->tmp, F_OK), -1);
	}
}

static void
test_refresh(void **state)
{
	struct fx *f = *state;
	struct est_error e = {0};
	char user[EST_HTTPAUTH_MAX_USER + 1];
	char authz[256];
	struct timespec times[2];
	struct stat was, now;
	bool replaced, stale;
	FILE *fp;

	assert_int_equal(est_creds_count(f->c), 1);
	assert_int_equal(est_creds_set(f->path, REALM, "bob", "bob pw", &replaced, &e), EST_OK);
	assert_int_equal(est_creds_refresh(f->c, &e), EST_OK);
	assert_int_equal(est_creds_count(f->c), 2);
	assert_int_equal(est_creds_refresh(f->c, &e), EST_OK);
	assert_int_equal(est_creds_count(f->c), 2);

	/* Same size, only the time stamp differs. */
	assert_int_equal(est_creds_set(f->path, REALM, USER, "s3cret pas2", &replaced, &e), EST_OK);
	times[0].tv_sec = times[1].tv_sec = NOW;
	times[0].tv_nsec = times[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, f->path, times, 0), 0);
	assert_int_equal(est_creds_refresh(f->c, &e), EST_OK);
	/* "estuser:s3cret pas2" */
	strcpy(authz, "Basic ZXN0dXNlcjpzM2NyZXQgcGFzMg==");
	assert_int_equal(check(f, authz, NOW, user, &stale, &e), EST_OK);

	/*
	 * Same size and the very same mtime as the version read: two writes
	 * within one tick of the file system's clock. The new password holds,
	 * the old one no longer.
	 */
	assert_int_equal(stat(f->path, &was), 0);
	assert_int_equal(est_creds_set(f->path, REALM, USER, "s3cret pas3", &replaced, &e), EST_OK);
	times[0] = times[1] = was.st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, f->path, times, 0), 0);
	assert_int_equal(stat(f->path, &now), 0);
	assert_int_equal(now.st_size, was.st_size);
	assert_int_equal(est_creds_refresh(f->c, &e), EST_OK);
	assert_int_equal(check(f, authz, NOW, user, &stale, &e), EST_ERR_AUTH);
	/* "estuser:s3cret pas3" */
	strcpy(authz, "Basic ZXN0dXNlcjpzM2NyZXQgcGFzMw==");
	assert_int_equal(check(f, authz, NOW, user, &stale, &e), EST_OK);

	/* A broken file leaves the old set in force. */
	assert_non_null(fp = fopen(f->path, "a"));
	fputs("broken\n", fp);
	fclose(fp);
	assert_int_equal(est_creds_refresh(f->c, &e), EST_ERR_CONFIG);
	assert_non_null(strstr(e.msg, ":3:"));
	assert_int_equal(est_creds_count(f->c), 2);

	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(est_creds_refresh(f->c, &e), EST_OK);
	assert_int_equal(est_creds_count(f->c), 0);
}

static void
test_basic(void **state)
{
	struct fx *f = *state;
	struct est_error e = {0};
	char user[EST_HTTPAUTH_MAX_USER + 1] = "";
	char big[5000];
	bool stale = true;

	/* "estuser:s3cret pass" */
	assert_int_equal(check(f, "Basic ZXN0dXNlcjpzM2NyZXQgcGFzcw==", NOW, user, &stale, &e),
	    EST_OK);
	assert_string_equal(user, USER);
	assert_false(stale);
	user[0] = '\0';
	assert_int_equal(check(f, "basic  ZXN0dXNlcjpzM2NyZXQgcGFzcw== ", NOW, user, &stale, &e),
	    EST_OK);
	assert_string_equal(user, USER);

	/* "estuser:s3cret pasS", "bob:s3cret pass", ":s3cret pass" */
	assert_auth_fails(f, "Basic ZXN0dXNlcjpzM2NyZXQgcGFzUw==", NOW,
	    "wrong password for 'estuser'");
	assert_auth_fails(f, "Basic Ym9iOnMzY3JldCBwYXNz", NOW, "no such user 'bob'");
	assert_auth_fails(f, "Basic OnMzY3JldCBwYXNz", NOW, "no such user");
	assert_auth_fails(f, "Basic ZXN0dXNlcjpzM2Ny!!!!ZXQgcGFzcw==", NOW,
	    "malformed Authorization header");
	assert_auth_fails(f, "Basic ZXN0dXNlcjpzM2NyZXQgcGFzcw", NOW,
	    "malformed Authorization header");
	assert_auth_fails(f, "Basic", NOW, "malformed Authorization header");
	/* "estuser" */
	assert_auth_fails(f, "Basic ZXN0dXNlcg==", NOW, "malformed Authorization header");
	assert_auth_fails(f, "Bearer abc", NOW, "unsupported scheme");
	assert_auth_fails(f, "BasicZXN0", NOW, "unsupported scheme");
	memset(big, 'A', sizeof(big));
	memcpy(big, "Basic ", 6);
	big[sizeof(big) - 1] = '\0';
	assert_auth_fails(f, big, NOW, "malformed Authorization header");
}

/*
 * Issue 12: a right password costs one PBKDF2 and is then remembered; a
 * wrong password and an unknown user each cost exactly one PBKDF2 every
 * time (the same work, so timing does not tell them apart), also after the
 * right one was remembered; a changed credentials file forgets. PBKDF2 runs
 * are counted, not timed.
 */
static void
test_password_cache(void **state)
{
	struct fx *f = *state;
	struct est_error e = {0};
	unsigned long before;
	bool replaced;

	before = est_pwhash_derivations();
	assert_int_equal(est_creds_check_password(f->c, USER, PASSWORD, strlen(PASSWORD), &e), EST_OK);
	assert_int_equal(est_pwhash_derivations() - before, 1);
	before = est_pwhash_derivations();
	for (int i = 0; i < 5; i++)
		assert_int_equal(est_creds_check_password(f->c, USER, PASSWORD, strlen(PASSWORD), &e),
		    EST_OK);
	assert_int_equal(est_pwhash_derivations() - before, 0);

	for (int i = 0; i < 3; i++) {
		before = est_pwhash_derivations();
		assert_int_equal(est_creds_check_password(f->c, USER, "s3cret pasS", 11, &e),
		    EST_ERR_AUTH);
		assert_string_equal(e.msg, "wrong password for 'estuser'");
		assert_int_equal(est_pwhash_derivations() - before, 1);
		before = est_pwhash_derivations();
		assert_int_equal(est_creds_check_password(f->c, "bob", PASSWORD, strlen(PASSWORD), &e),
		    EST_ERR_AUTH);
		assert_string_equal(e.msg, "no such user 'bob'");
		assert_int_equal(est_pwhash_derivations() - before, 1);
		/* A prefix of the remembered password is just wrong. */
		before = est_pwhash_derivations();
		assert_int_equal(est_creds_check_password(f->c, USER, PASSWORD, strlen(PASSWORD) - 1, &e),
		    EST_ERR_AUTH);
		assert_int_equal(est_pwhash_derivations() - before, 1);
	}

	/* The password is changed in the file: the remembered one no longer passes. */
	assert_int_equal(est_creds_set(f->path, REALM, USER, "new pass", &replaced, &e), EST_OK);
	assert_int_equal(est_creds_refresh(f->c, &e), EST_OK);
	before = est_pwhash_derivations();
	assert_int_equal(est_creds_check_password(f->c, USER, PASSWORD, strlen(PASSWORD), &e),
	    EST_ERR_AUTH);
	assert_int_equal(est_pwhash_derivations() - before, 1);
	assert_int_equal(est_creds_check_password(f->c, USER, "new pass", 8, &e), EST_OK);
	before = est_pwhash_derivations();
	assert_int_equal(est_creds_check_password(f->c, USER, "new pass", 8, &e), EST_OK);
	assert_int_equal(est_pwhash_derivations() - before, 0);

	/* The user is deleted: gone at once, although remembered a moment ago. */
	assert_int_equal(est_creds_del(f->path, USER, &e), EST_OK);
	assert_int_equal(est_creds_refresh(f->c, &e), EST_OK);
	before = est_pwhash_derivations();
	assert_int_equal(est_creds_check_password(f->c, USER, "new pass", 8, &e), EST_ERR_AUTH);
	assert_string_equal(e.msg, "no such user 'estuser'");
	assert_int_equal(est_pwhash_derivations() - before, 1);
}

/* The name a header claims, read before any check (for the failure limits). */
static void
test_claimed_user(void **state)
{
	char user[EST_HTTPAUTH_MAX_USER + 1];

	(void)state;
	/* "estuser:s3cret pass", "estuser:wrong" */
	assert_true(est_httpauth_user("Basic ZXN0dXNlcjpzM2NyZXQgcGFzcw==", user));
	assert_string_equal(user, USER);
	assert_true(est_httpauth_user("Basic ZXN0dXNlcjp3cm9uZw==", user));
	assert_string_equal(user, USER);
	assert_true(est_httpauth_user("Digest username=\"estuser\", realm=\"x\", nonce=\"n\", "
	    "response=\"0\"", user));
	assert_string_equal(user, USER);
	/* ":s3cret pass" (empty name), "estuser" (no ':'), "a b:pw" (not a valid name) */
	assert_false(est_httpauth_user("Basic OnMzY3JldCBwYXNz", user));
	assert_string_equal(user, "");
	assert_false(est_httpauth_user("Basic ZXN0dXNlcg==", user));
	assert_false(est_httpauth_user("Basic YSBiOnB3", user));
	assert_string_equal(user, "");
	assert_false(est_httpauth_user("Digest realm=\"x\"", user));
	assert_false(est_httpauth_user("Digest username=\"estuser", user));
	assert_false(est_httpauth_user("Bearer abc", user));
	assert_false(est_httpauth_user(NULL, user));
	assert_string_equal(user, "");
}

static void
dreq_default(struct dreq *r, const char *nonce)
{
	r->alg = "SHA-256";
	r->sha256 = true;
	r->user = USER;
	r->realm = REALM;
	r->password = PASSWORD;
	r->uri = URI;
	r->nonce = nonce;
	r->cnonce = "0a4f113b";
	r->cnonce_q = NULL;
	r->nc = 1;
}

static void
assert_digest_ok(struct fx *f, const struct dreq *r, time_t now)
{
	struct est_error e = {0};
	char user[EST_HTTPAUTH_MAX_USER + 1] = "";
	char authz[2048];
	bool stale = true;

	digest_header(r, authz, sizeof(authz));
	if (check(f, authz, now, user, &stale, &e) != EST_OK)
		fail_msg("'%s' refused: %s", authz, e.msg);
	assert_string_equal(user, r->user);
	assert_false(stale);
}

static void
test_digest_accepts(void **state)
{
	struct fx *f = *state;
	char nonce[128];
	struct dreq r;

	get_nonce(NOW, nonce, sizeof(nonce));
	dreq_default(&r, nonce);
	assert_digest_ok(f, &r, NOW);
	r.alg = "sha-256";
	r.nc++;
	assert_digest_ok(f, &r, NOW);
	r.alg = "MD5";
	r.sha256 = false;
	r.nc++;
	assert_digest_ok(f, &r, NOW);
	r.alg = NULL;
	r.nc++;
	assert_digest_ok(f, &r, NOW + 300);
	/* A quoted-pair in cnonce is hashed unescaped. */
	r.cnonce = "a\"b\\c";
	r.cnonce_q = "a\\\"b\\\\c";
	r.nc++;
	assert_digest_ok(f, &r, NOW);
}

static void
assert_digest_fails(struct fx *f, const struct dreq *r, time_t now, const char *reason)
{
	char authz[2048];

	digest_header(r, authz, sizeof(authz));
	assert_auth_fails(f, authz, now, reason);
}

static void
test_digest_rejects(void **state)
{
	struct fx *f = *state;
	char nonce[128], bad_nonce[128], authz[2048];
	char user[EST_HTTPAUTH_MAX_USER + 1] = "untouched";
	struct est_error e = { 0 };
	bool stale = false;
	struct dreq r;
	char ch[3][512];

	get_nonce(NOW, nonce, sizeof(nonce));
	dreq_default(&r, nonce);
	r.password = "wrong";
	assert_digest_fails(f, &r, NOW, "digest response mismatch for 'estuser'");
	r.password = PASSWORD;
	r.user = "bob";
	assert_digest_fails(f, &r, NOW, "no such user 'bob'");
	r.user = USER;
	r.uri = "/.well-known/est/simplereenroll";
	digest_header(&r, authz, sizeof(authz));
	assert_int_equal(check(f, authz, NOW, user, &stale, &e), EST_ERR_BADREQ);
	assert_non_null(strstr(e.msg, "uri mismatch"));
	assert_false(stale);
	assert_int_equal(est_httpauth_check_uri(authz, URI, &e), EST_ERR_BADREQ);
	r.password = "wrong"; /* whatever the credentials */
	digest_header(&r, authz, sizeof(authz));
	assert_int_equal(check(f, authz, NOW, user, &stale, &e), EST_ERR_BADREQ);
	assert_string_equal(user, "untouched");
	r.password = PASSWORD;
	r.uri = URI;
	digest_header(&r, authz, sizeof(authz));
	assert_int_equal(est_httpauth_check_uri(authz, URI, &e), EST_OK);
	assert_int_equal(est_httpauth_check_uri("Basic Zm9vOmJhcg==", URI, &e), EST_OK);
	assert_int_equal(est_httpauth_check_uri(NULL, URI, &e), EST_OK);
	r.realm = "other realm";
	assert_digest_fails(f, &r, NOW, "realm mismatch");
	r.realm = REALM;
	strcpy(bad_nonce, nonce);
	bad_nonce[10] = bad_nonce[10] == 'A' ? 'B' : 'A';
	r.nonce = bad_nonce;
	assert_digest_fails(f, &r, NOW, "nonce not issued by this server");
	r.nonce = "";
	assert_digest_fails(f, &r, NOW, "nonce not issued by this server");
	assert_int_equal(est_httpauth_challenges(REALM, OTHER_NONCES, NOW, false, NULL, 0, ch, 3), 3);
	r.nonce = strstr(ch[0], "nonce=\"") + 7;
	*strchr(r.nonce, '"') = '\0';
	assert_digest_fails(f, &r, NOW, "nonce not issued by this server");
	r.nonce = nonce;
	r.alg = "MD5-sess";
	assert_digest_fails(f, &r, NOW, "unsupported digest algorithm");
	r.alg = "SHA-512-256";
	assert_digest_fails(f, &r, NOW, "unsupported digest algorithm");

	r.alg = "SHA-256";
	digest_header(&r, authz, sizeof(authz));
	assert_int_equal(strlen(authz) < sizeof(authz) - 32, 1);
	strcat(authz, ", uri=\"/x\"");
	assert_auth_fails(f, authz, NOW, "malformed Authorization header");
}

/*
 * libest's client, posting to an alias's path, names the operation without
 * the alias in its Digest uri: accepted for that operation, and only for it.
 */
static void
test_digest_libest_path_segment(void **state)
{
	static const char *const cases[][3] = {
		/* uri in the header, request line, accepted */
		{ "/.well-known/est/simpleenroll", "/.well-known/est/est/simpleenroll", "y" },
		{ "/.well-known/est/serverkeygen", "/.well-known/est/a-b/serverkeygen", "y" },
		{ "/.well-known/est/simpleenroll", "/.well-known/est/est/simplereenroll", "" },
		{ "/.well-known/est/simpleenroll", "/.well-known/est//simpleenroll", "" },
		{ "/.well-known/est/other/simpleenroll", "/.well-known/est/est/simpleenroll", "" },
		{ "/.well-known/est/est/simpleenroll", "/.well-known/est/simpleenroll", "" },
		{ "/.well-known/est/", "/.well-known/est/est/", "" },
		{ "/x/simpleenroll", "/x/est/simpleenroll", "" },
	};
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char nonce[128], authz[2048], user[EST_HTTPAUTH_MAX_USER + 1] = "";
		struct est_error e = { 0 };
		struct dreq r;
		bool stale = false;
		enum est_err rc;

		get_nonce(NOW, nonce, sizeof(nonce));
		dreq_default(&r, nonce);
		r.uri = cases[i][0];
		digest_header(&r, authz, sizeof(authz));
		rc = est_httpauth_check(f->c, REALM, "POST", cases[i][1], authz, NONCES, NOW,
		    user, &stale, &e);
		if (cases[i][2][0] != '\0' ? rc != EST_OK :
		    rc != EST_ERR_BADREQ || strstr(e.msg, "uri mismatch") == NULL)
			fail_msg("uri %s for %s: %d %s", cases[i][0], cases[i][1], rc, e.msg);
	}
}

/* Changes to a correct header that make it malformed. */
static void
test_digest_malformed(void **state)
{
	static const char *const cases[][2] = {
		{ ", qop=auth,", ", " },                    /* no qop: RFC 2069 mode */
		{ ", qop=auth,", ", qop=auth-int," },
		{ ", nc=00000001,", ", nc=1," },
		{ "username=", "username*=" },
		{ ", cnonce=\"0a4f113b\"", ", cnonce=\"0a4f113b" },
		{ ", cnonce=\"0a4f113b\"", ", cnonce=\"0a4f\x01" "113b\"" },
		{ ", cnonce=\"0a4f113b\"", ", cnonce" },
		{ ", cnonce=\"0a4f113b\"", ", cnonce=\"0a4f113b\" junk" },
		{ ", cnonce=\"0a4f113b\"", ", userhash=true, cnonce=\"0a4f113b\"" },
		{ ", cnonce=\"0a4f113b\"", ", =x" },
	};
	struct fx *f = *state;
	char nonce[128], authz[2048], bad[2200], *p;
	struct dreq r;
	size_t i, n;

	get_nonce(NOW, nonce, sizeof(nonce));
	dreq_default(&r, nonce);
	digest_header(&r, authz, sizeof(authz));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_non_null(p = strstr(authz, cases[i][0]));
		n = (size_t)(p - authz);
		snprintf(bad, sizeof(bad), "%.*s%s%s", (int)n, authz, cases[i][1],
		    p + strlen(cases[i][0]));
		assert_auth_fails(f, bad, NOW, "malformed Authorization header");
	}
	/* Extra commas, spaces and unknown parameters are fine. */
	snprintf(bad, sizeof(bad), "Digest  ,ext=\"1\" , %s ,", authz + strlen("Digest "));
	assert_int_equal(check(f, bad, NOW, (char[EST_HTTPAUTH_MAX_USER + 1]){ 0 }, NULL, NULL),
	    EST_OK);
}

static void
test_digest_stale(void **state)
{
	struct fx *f = *state;
	struct est_error e = {0};
	char user[EST_HTTPAUTH_MAX_USER + 1] = "untouched";
	char nonce[128], authz[2048];
	bool stale = false;
	struct dreq r;

	get_nonce(NOW, nonce, sizeof(nonce));
	dreq_default(&r, nonce);
	digest_header(&r, authz, sizeof(authz));
	assert_int_equal(check(f, authz, NOW + 301, user, &stale, &e), EST_ERR_AUTH);
	assert_true(stale);
	assert_string_equal(e.msg, "stale nonce");
	assert_string_equal(user, "untouched");

	stale = false;
	assert_int_equal(check(f, authz, NOW - 1, user, &stale, &e), EST_ERR_AUTH);
	assert_true(stale);

	/* A wrong password does not earn stale=true. */
	r.password = "wrong";
	assert_digest_fails(f, &r, NOW + 301, "digest response mismatch");
}

/* RFC 2617 §3.5 and RFC 7616 §3.9.1 H(A1), as written to the file. */
static void
test_ha1_known_answers(void **state)
{
	struct fx *f = *state;
	struct est_error e = {0};
	const char *line;
	bool replaced;

	assert_int_equal(est_creds_set(f->path, "testrealm@host.com", "Mufasa", "Circle Of Life",
	    &replaced, &e), EST_OK);
	line = user_line(f->path, "Mufasa");
	assert_non_null(strstr(line, ":testrealm@host.com:939e7578ed9e3c518a452acee763bce9:"));
	assert_int_equal(est_creds_set(f->path, "http-auth@example.org", "Mufasa", "Circle of Life",
	    &replaced, &e), EST_OK);
	assert_true(replaced);
	line = user_line(f->path, "Mufasa");
	assert_string_equal(line + strlen(line) - 65,
	    ":7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232");
}

/* RFC 7616 §3.9.1 responses through the library's digest helper. */
static void
test_response_known_answers(void **state)
{
	const char *const ha1_md5 = "3d78807defe7de2157e2b0b6573a855f";
	const char *const ha1_sha = "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232";
	const char *const a2[2] = { "GET", "/dir/index.html" };
	const char *kd[6] = { NULL, "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001",
		"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth", NULL };
	char ha2[EST_CREDS_HEX_LEN], resp[EST_CREDS_HEX_LEN];

	(void)state;
	kd[0] = ha1_md5;
	kd[5] = ha2;
	assert_true(est_creds_digest_hex(EVP_md5(), a2, 2, ha2));
	assert_true(est_creds_digest_hex(EVP_md5(), kd, 6, resp));
	assert_string_equal(resp, "8ca523f5e9506fed4657c9700eebdbec");
	kd[0] = ha1_sha;
	assert_true(est_creds_digest_hex(EVP_sha256(), a2, 2, ha2));
	assert_true(est_creds_digest_hex(EVP_sha256(), kd, 6, resp));
	assert_string_equal(resp, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
}

static void
test_b64_strict(void **state)
{
	unsigned char out[8];
	size_t n = 0;

	(void)state;
	assert_true(est_b64_decode_strict("YQ==", 4, out, sizeof(out), &n));
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 'a');
	assert_true(est_b64_decode_strict("YWJj", 4, out, sizeof(out), &n));
	assert_int_equal(n, 3);
	assert_false(est_b64_decode_strict("=YQ=", 4, out, sizeof(out), &n));
	assert_false(est_b64_decode_strict("YR==", 4, out, sizeof(out), &n));
	assert_false(est_b64_decode_strict("Y Q=", 4, out, sizeof(out), &n));
	assert_false(est_b64_decode_strict("YQ", 2, out, sizeof(out), &n));
	assert_false(est_b64_decode_strict("YWJjYWJjYWJj", 12, out, sizeof(out), &n));
}

static bool
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* EST-S-22, EST-S-23: what a 401 offers; by default MD5 first, for libest's client. */
static void
test_challenges(void **state)
{
	static const enum est_challenge sha_first[] = {
		EST_CHALLENGE_DIGEST_SHA256, EST_CHALLENGE_BASIC,
	};
	char ch[4][512], ch2[3][512];

	(void)state;
	assert_int_equal(est_httpauth_challenges(REALM, NONCES, NOW, false, NULL, 0, ch, 4), 3);
	assert_true(starts_with(ch[0], "Digest realm=\"" REALM "\", qop=\"auth\", "
	    "algorithm=MD5, nonce=\""));
	assert_non_null(strstr(ch[0], "\", opaque=\""));
	assert_null(strstr(ch[0], "stale"));
	assert_true(starts_with(ch[1], "Digest realm=\"" REALM "\", qop=\"auth\", "
	    "algorithm=SHA-256, nonce=\""));
	assert_string_equal(ch[2], "Basic realm=\"" REALM "\", charset=\"UTF-8\"");

	assert_int_equal(est_httpauth_challenges(REALM, NONCES, NOW, false, NULL, 0, ch2, 3), 3);
	assert_string_not_equal(ch[0], ch2[0]);

	assert_int_equal(est_httpauth_challenges(REALM, NONCES, NOW, true, NULL, 0, ch, 3), 3);
	assert_int_equal(strcmp(ch[0] + strlen(ch[0]) - 12, ", stale=true"), 0);
	assert_int_equal(strcmp(ch[1] + strlen(ch[1]) - 12, ", stale=true"), 0);
	assert_null(strstr(ch[2], "stale"));

	assert_int_equal(est_httpauth_challenges(REALM, NONCES, NOW, false, NULL, 0, ch, 1), 1);
	assert_non_null(strstr(ch[0], "algorithm=MD5"));
	assert_int_equal(est_httpauth_challenges(REALM, NONCES, NOW, false, NULL, 0, ch, 0), 0);

	/* An alias's own order, and only what it lists. */
	assert_int_equal(est_httpauth_challenges(REALM, NONCES, NOW, false, sha_first, 2, ch, 4), 2);
	assert_non_null(strstr(ch[0], "algorithm=SHA-256"));
	assert_true(starts_with(ch[1], "Basic realm="));

	assert_int_equal(est_challenge_parse("Digest-MD5"), EST_CHALLENGE_DIGEST_MD5);
	assert_int_equal(est_challenge_parse("basic"), EST_CHALLENGE_BASIC);
	assert_int_equal(est_challenge_parse("digest"), -1);
	assert_string_equal(est_challenge_name(EST_CHALLENGE_DIGEST_SHA256), "digest-sha256");

	assert_int_equal(est_httpauth_challenges("a \"q\" \\", NONCES, NOW, false, NULL, 0, ch, 3), 3);
	assert_string_equal(ch[2], "Basic realm=\"a \\\"q\\\" \\\\\", charset=\"UTF-8\"");
}

/* The shared PBKDF2 hash of passwords and enrolment codes. */
static void
test_pwhash(void **state)
{
	struct est_error e = { 0 };
	struct est_pwhash h, back;
	char text[EST_PWHASH_TEXT_MAX];
	bool failed;

	(void)state;
	assert_int_equal(est_pwhash_new("password", 8, &h, &e), EST_OK);
	est_pwhash_format(&h, text);
	assert_memory_equal(text, "pbkdf2-sha256$100000$", 21);
	assert_null(est_pwhash_parse(text, &back));
	assert_true(est_pwhash_matches(&back, "password", 8, &failed));
	assert_false(failed);
	assert_false(est_pwhash_matches(&back, "passwor", 7, &failed));
	assert_false(est_pwhash_matches(&back, "password!", 9, &failed));
	assert_false(est_pwhash_matches(NULL, "password", 8, &failed));
	assert_false(failed);
	assert_non_null(est_pwhash_parse("pbkdf2-sha256$10$AAAA$BBBB", &back));
	assert_non_null(est_pwhash_parse("md5$x", &back));
}

/* RFC 7616 §3.3, §5.4: each (nonce, nc) is accepted once (issue 10, point 3). */
static void
test_digest_replay(void **state)
{
	struct fx *f = *state;
	char nonce[128], authz[2048], user[EST_HTTPAUTH_MAX_USER + 1];
	struct est_error e = { 0 };
	bool stale = true;
	struct dreq r;

	get_nonce(NOW, nonce, sizeof(nonce));
	dreq_default(&r, nonce);
	assert_digest_ok(f, &r, NOW);
	digest_header(&r, authz, sizeof(authz));
	assert_int_equal(check(f, authz, NOW, user, &stale, &e), EST_ERR_AUTH);
	assert_non_null(strstr(e.msg, "replayed"));
	assert_false(stale); /* a replay earns no retry */
	/* Counts may come out of order (parallel connections), each once. */
	r.nc = 3;
	assert_digest_ok(f, &r, NOW);
	r.nc = 2;
	assert_digest_ok(f, &r, NOW);
	assert_digest_fails(f, &r, NOW, "replayed");
	r.nc = 100;
	assert_digest_ok(f, &r, NOW);
	r.nc = 30; /* below the window of 64: cannot be told apart from a replay */
	assert_digest_fails(f, &r, NOW, "replayed");
	r.nc = 0;
	assert_digest_fails(f, &r, NOW, "replayed");
	/* A wrong response does not spend its nc. */
	r.nc = 101;
	r.password = "wrong";
	assert_digest_fails(f, &r, NOW, "mismatch");
	r.password = PASSWORD;
	assert_digest_ok(f, &r, NOW);
}

/* The memory for nonces is fixed; a nonce pushed out is answered stale=true. */
static void
test_digest_nonces_bounded(void **state)
{
	struct fx *f = *state;
	struct est_nonces *saved = NONCES, *small = NULL;
	char first[128], later[128], authz[2048], user[EST_HTTPAUTH_MAX_USER + 1];
	struct est_error e = { 0 };
	bool stale = false;
	struct dreq r;

	assert_int_equal(est_nonces_new(KEY, 2, &small, &e), EST_OK);
	NONCES = small;
	get_nonce(NOW, first, sizeof(first));
	get_nonce(NOW, later, sizeof(later));
	dreq_default(&r, first);
	assert_digest_ok(f, &r, NOW);
	get_nonce(NOW, later, sizeof(later)); /* takes the first nonce's slot */
	r.nc = 2;
	digest_header(&r, authz, sizeof(authz));
	assert_int_equal(check(f, authz, NOW, user, &stale, &e), EST_ERR_AUTH);
	assert_true(stale);
	assert_non_null(strstr(e.msg, "forgotten"));
	dreq_default(&r, later);
	assert_digest_ok(f, &r, NOW);
	NONCES = saved;
	est_nonces_free(small);
	assert_int_equal(est_nonces_new(KEY, 0, &small, &e), EST_ERR_INTERNAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pwhash),
		cmocka_unit_test(test_valid_user),
		cmocka_unit_test_setup_teardown(test_set_rejects_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_load_del_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file_is_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_line_names_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
		cmocka_unit_test(test_claimed_user),
		cmocka_unit_test_setup_teardown(test_digest_accepts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_digest_libest_path_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_digest_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_digest_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_digest_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_digest_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_digest_nonces_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ha1_known_answers, setup, teardown),
		cmocka_unit_test(test_response_known_answers),
		cmocka_unit_test(test_b64_strict),
		cmocka_unit_test_setup_teardown(test_password_cache, setup, teardown),
		cmocka_unit_test(test_challenges),
	};
	struct est_error e = { 0 };
	int failed;

	if (est_nonces_new(KEY, 1024, &NONCES, &e) != EST_OK ||
	    est_nonces_new(OTHER_KEY, 1024, &OTHER_NONCES, &e) != EST_OK)
		return 1;
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	est_nonces_free(NONCES);
	est_nonces_free(OTHER_NONCES);
	return failed;
}
