/*
 * The credentials file of include/estkit/httpauth.h: loading it, reloading it
 * when it changes, the lookups httpauth.c needs, and the atomic rewrite behind
 * `estadm user add/del`.
 * Invariants: a loaded set is sorted by name, has no duplicates and is never
 * modified; est_creds_refresh swaps whole sets under the write lock, so checks
 * may run in other threads meanwhile. No password is kept, only its PBKDF2
 * hash and the Digest H(A1) values, and the keyed tags of the passwords
 * that passed a check (pwcache.c), so that a client's next request does not
 * pay PBKDF2 again; a swap of the set empties that cache. Writers take PATH.tmp with O_EXCL before
 * they read PATH, so two concurrent updates cannot lose one another's change.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth/creds.h"
#include "auth/pwcache.h"
#include "estkit/httpauth.h"
#include "estkit/pwhash.h"
#include "util/atomic_file.h"

#define MD5_HEX 32
#define SHA256_HEX 64
#define MAX_PASSWORD 1024
#define MAX_REALM 128
/* Verified passwords remembered per credential set: how many, how long. */
#define PWCACHE_CAPACITY 1024
#define PWCACHE_TTL_MS (300 * 1000)
#define LINE_FORMAT "expected NAME:pbkdf2-sha256$ITER$SALT$HASH:REALM:MD5HA1:SHA256HA1"

/* read_line results besides 1 (a line) and 0 (end of file). */
#define LINE_IOERR (-1)
#define LINE_NUL (-2)

struct cred_user {
	char name[EST_HTTPAUTH_MAX_USER + 1];
	struct est_pwhash pw;           /* what Basic is checked against */
	char md5[MD5_HEX + 1];          /* hex MD5(name:realm:password) */
	char sha256[SHA256_HEX + 1];    /* hex SHA-256(name:realm:password) */
	char *realm;                    /* owned in a set; borrowed while parsing */
	unsigned long line;             /* where it was read, for error reports */
};

struct user_set {
	struct cred_user *v;            /* sorted by name */
	size_t n;
	size_t cap;
};

/*
 * What a set was read from; a missing file has exists=false. The time
 * stamps tick every few milliseconds, so two versions of one size can share
 * an mtime: estadm replaces the file by a rename (a new inode), and an edit
 * in place changes ctime, which no tool sets back.
 */
struct file_stamp {
	bool exists;
	dev_t dev;
	ino_t ino;
	struct timespec mtim, ctim;
	off_t size;
};

static void
stamp_of(const struct stat *st, struct file_stamp *out)
{
	out->exists = true;
	out->dev = st->st_dev;
	out->ino = st->st_ino;
	out->mtim = st->st_mtim;
	out->ctim = st->st_ctim;
	out->size = st->st_size;
}

struct est_creds {
	char *path;
	pthread_rwlock_t lock;          /* guards set, stamp and generation */
	struct user_set set;
	struct file_stamp stamp;
	unsigned long generation;       /* sets swapped in so far */
	struct pw_cache *verified;      /* passwords of this set that passed */
};

static bool
user_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= '0' && ch <= '9') || (ch != '\0' && strchr("._@+-", ch) != NULL);
}

bool
est_creds_valid_user(const char *user)
{
	size_t n;

	if (user == NULL)
		return false;
	for (n = 0; user[n] != '\0'; n++)
		if (n == EST_HTTPAUTH_MAX_USER || !user_char(user[n]))
			return false;
	return n > 0;
}

bool
est_creds_digest_hex(const EVP_MD *md, const char *const *parts, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	EVP_MD_CTX *ctx;
	bool ok;
	size_t i;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return false;
	ok = EVP_DigestInit_ex(ctx, md, NULL) == 1;
	for (i = 0; ok && i < n; i++)
		ok = (i == 0 || EVP_DigestUpdate(ctx, ":", 1) == 1) &&
		    EVP_DigestUpdate(ctx, parts[i], strlen(parts[i])) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, d, &dlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return false;
	for (i = 0; i < dlen; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 0x0f];
	}
	hex[2 * dlen] = '\0';
	return true;
}

static bool
is_lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

/*
 * One user line into u, splitting line in place (u->realm points into it).
 * The realm is whatever lies between the hash and the last two fields, so a
 * realm may contain ':'. Returns NULL, or why the line is wrong.
 */
static const char *
parse_line(char *line, struct cred_user *u)
{
	char *hashf, *realm, *md5, *sha;

	if ((hashf = strchr(line, ':')) == NULL)
		return LINE_FORMAT;
	*hashf++ = '\0';
	if ((realm = strchr(hashf, ':')) == NULL)
		return LINE_FORMAT;
	*realm++ = '\0';
	if ((sha = strrchr(realm, ':')) == NULL)
		return LINE_FORMAT;
	*sha++ = '\0';
	if ((md5 = strrchr(realm, ':')) == NULL)
		return LINE_FORMAT;
	*md5++ = '\0';
	if (!est_creds_valid_user(line))
		return "bad user name (1-64 characters of A-Z a-z 0-9 . _ @ + -)";
	if (*realm == '\0')
		return "empty realm";
	if (!is_lower_hex(md5, MD5_HEX))
		return "MD5 H(A1) is not 32 lower-case hex digits";
	if (!is_lower_hex(sha, SHA256_HEX))
		return "SHA-256 H(A1) is not 64 lower-case hex digits";
	memcpy(u->name, line, strlen(line) + 1);
	memcpy(u->md5, md5, sizeof(u->md5));
	memcpy(u->sha256, sha, sizeof(u->sha256));
	u->realm = realm;
	return est_pwhash_parse(hashf, &u->pw);
}

/*
 * Next line of f into *buf without its line end ("\n" or "\r\n"). Returns 1
 * for a line, 0 at the end, LINE_IOERR (errno set) or LINE_NUL.
 */
static int
read_line(FILE *f, char **buf, size_t *cap)
{
	ssize_t n;

	errno = 0;
	if ((n = getline(buf, cap, f)) < 0)
		return feof(f) ? 0 : LINE_IOERR;
	if (n > 0 && (*buf)[n - 1] == '\n')
		(*buf)[--n] = '\0';
	if (n > 0 && (*buf)[n - 1] == '\r')
		(*buf)[--n] = '\0';
	return strlen(*buf) == (size_t)n ? 1 : LINE_NUL;
}

static enum est_err
read_fail(struct est_error *e, const char *path, unsigned long lineno, int r)
{
	if (r == LINE_NUL)
		return est_fail(e, EST_ERR_CONFIG, "%s:%lu: NUL byte in line", path, lineno);
	return est_fail(e, EST_ERR_IO, "reading %s: %s", path, strerror(errno));
}

static bool
is_skipped(const char *line)
{
	return line[0] == '\0' || line[0] == '#';
}

static void
set_free(struct user_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].realm);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Append u to s, taking a copy of its realm. */
static enum est_err
set_add(struct user_set *s, const struct cred_user *u, struct est_error *e)
{
	struct cred_user *v;
	size_t cap;

	if (s->n == s->cap) {
		cap = s->cap == 0 ? 16 : s->cap * 2;
		if ((v = realloc(s->v, cap * sizeof(*v))) == NULL)
			return est_fail(e, EST_ERR_NOMEM, "out of memory reading credentials");
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n] = *u;
	if ((s->v[s->n].realm = strdup(u->realm)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading credentials");
	s->n++;
	return EST_OK;
}

static int
user_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cred_user *)a)->name, ((const struct cred_user *)b)->name);
}

static int
user_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct cred_user *)elem)->name);
}

static const struct cred_user *
set_find(const struct user_set *s, const char *user)
{
	if (s->n == 0)
		return NULL;
	return bsearch(user, s->v, s->n, sizeof(*s->v), user_key_cmp);
}

/* Sort s by name and refuse a name that appears twice. */
static enum est_err
set_sort(struct user_set *s, const char *path, struct est_error *e)
{
	const struct cred_user *a, *b;
	size_t i;

	if (s->n > 0)
		qsort(s->v, s->n, sizeof(*s->v), user_cmp);
	for (i = 1; i < s->n; i++) {
		a = &s->v[i - 1];
		b = &s->v[i];
		if (strcmp(a->name, b->name) == 0)
			return est_fail(e, EST_ERR_CONFIG, "%s:%lu: user '%s' already on line %lu",
			    path, a->line > b->line ? a->line : b->line, a->name,
			    a->line < b->line ? a->line : b->line);
	}
	return EST_OK;
}

static enum est_err
read_users(FILE *f, const char *path, struct user_set *s, struct est_error *e)
{
	struct cred_user u;
	unsigned long lineno = 0;
	enum est_err rc = EST_OK;
	const char *why;
	char *buf = NULL;
	size_t cap = 0;
	int r;

	while (rc == EST_OK && (r = read_line(f, &buf, &cap)) != 0) {
		lineno++;
		memset(&u, 0, sizeof(u));
		if (r < 0)
			rc = read_fail(e, path, lineno, r);
		else if (is_skipped(buf))
			continue;
		else if ((why = parse_line(buf, &u)) != NULL)
			rc = est_fail(e, EST_ERR_CONFIG, "%s:%lu: %s", path, lineno, why);
		else {
			u.line = lineno;
			rc = set_add(s, &u, e);
		}
	}
	free(buf);
	return rc;
}

/* Read path into *out and *stamp; a missing file is an empty set. */
static enum est_err
read_set(const char *path, struct user_set *out, struct file_stamp *stamp, struct est_error *e)
{
	struct user_set s = {0};
	struct stat st;
	enum est_err rc;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL) {
		if (errno != ENOENT)
			return est_fail(e, EST_ERR_IO, "opening %s: %s", path, strerror(errno));
		memset(stamp, 0, sizeof(*stamp));
		*out = s;
		return EST_OK;
	}
	if (fstat(fileno(f), &st) != 0)
		rc = est_fail(e, EST_ERR_IO, "stat %s: %s", path, strerror(errno));
	else if ((rc = read_users(f, path, &s, e)) == EST_OK)
		rc = set_sort(&s, path, e);
	fclose(f);
	if (rc != EST_OK) {
		set_free(&s);
		return rc;
	}
	stamp_of(&st, stamp);
	*out = s;
	return EST_OK;
}

enum est_err
est_creds_load(const char *path, struct est_creds **out, struct est_error *e)
{
	struct est_creds *c;
	enum est_err rc;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory loading %s", path);
	if ((c->path = strdup(path)) == NULL || pthread_rwlock_init(&c->lock, NULL) != 0) {
		free(c->path);
		free(c);
		return est_fail(e, EST_ERR_NOMEM, "out of memory loading %s", path);
	}
	if ((rc = pw_cache_new(PWCACHE_CAPACITY, PWCACHE_TTL_MS, &c->verified, e)) != EST_OK ||
	    (rc = read_set(path, &c->set, &c->stamp, e)) != EST_OK) {
		est_creds_free(c);
		return rc;
	}
	*out = c;
	return EST_OK;
}

void
est_creds_free(struct est_creds *c)
{
	if (c == NULL)
		return;
	set_free(&c->set);
	pw_cache_free(c->verified);
	pthread_rwlock_destroy(&c->lock);
	free(c->path);
	free(c);
}

static bool
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static bool
stamp_equal(const struct file_stamp *a, const struct file_stamp *b)
{
	if (a->exists != b->exists)
		return false;
	return !a->exists || (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    same_time(&a->mtim, &b->mtim) && same_time(&a->ctim, &b->ctim));
}

enum est_err
est_creds_refresh(struct est_creds *c, struct est_error *e)
{
	struct file_stamp now = {0};
	struct user_set fresh, old;
	struct stat st;
	enum est_err rc;
	bool same;

	if (stat(c->path, &st) == 0)
		stamp_of(&st, &now);
	else if (errno != ENOENT) {
		return est_fail(e, EST_ERR_IO, "stat %s: %s", c->path, strerror(errno));
	}
	pthread_rwlock_rdlock(&c->lock);
	same = stamp_equal(&now, &c->stamp);
	pthread_rwlock_unlock(&c->lock);
	if (same)
		return EST_OK;
	/* The stamp kept is the one of the file actually read (fstat). */
	if ((rc = read_set(c->path, &fresh, &now, e)) != EST_OK)
		return rc;
	pthread_rwlock_wrlock(&c->lock);
	old = c->set;
	c->set = fresh;
	c->stamp = now;
	c->generation++;
	/* A password that passed may be wrong now, or its user gone. */
	pw_cache_clear(c->verified);
	pthread_rwlock_unlock(&c->lock);
	set_free(&old);
	return EST_OK;
}

size_t
est_creds_count(const struct est_creds *c)
{
	/* The lock is not part of the set's logical state; c was allocated
	 * writable by est_creds_load. */
	pthread_rwlock_t *lock = (pthread_rwlock_t *)&c->lock;
	size_t n;

	pthread_rwlock_rdlock(lock);
	n = c->set.n;
	pthread_rwlock_unlock(lock);
	return n;
}

/* The log may show a valid name; anything else a client sent is not echoed. */
static enum est_err
no_such_user(struct est_error *e, const char *user)
{
	if (!est_creds_valid_user(user))
		return est_fail(e, EST_ERR_AUTH, "no such user (invalid user name)");
	return est_fail(e, EST_ERR_AUTH, "no such user '%s'", user);
}

static int64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum est_err
est_creds_check_password(struct est_creds *c, const char *user, const char *pw, size_t pwlen,
    struct est_error *e)
{
	const struct cred_user *found;
	struct est_pwhash h;
	unsigned long generation;
	int64_t now = monotonic_ms();
	bool known, match, failed, hit;

	/* The cache is probed whether or not the user exists, so that an
	 * unknown user and a wrong password cost the same: a probe and then a
	 * full PBKDF2. Only a right password can hit. */
	pthread_rwlock_rdlock(&c->lock);
	found = set_find(&c->set, user);
	if ((known = found != NULL))
		h = found->pw;
	generation = c->generation;
	hit = pw_cache_hit(c->verified, user, pw, pwlen, now);
	pthread_rwlock_unlock(&c->lock);
	if (known && hit)
		return EST_OK;
	/* An unknown user costs the same PBKDF2 as a known one. */
	match = est_pwhash_matches(known ? &h : NULL, pw, pwlen, &failed);
	if (failed)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "PBKDF2 failed");
	if (!known)
		return no_such_user(e, user);
	if (!match)
		return est_fail(e, EST_ERR_AUTH, "wrong password for '%s'", user);
	/* Remembered only if the set it was checked against is still the one in use. */
	pthread_rwlock_rdlock(&c->lock);
	if (c->generation == generation)
		pw_cache_put(c->verified, user, pw, pwlen, now);
	pthread_rwlock_unlock(&c->lock);
	return EST_OK;
}

enum est_err
est_creds_digest_ha1(struct est_creds *c, const char *user, const char *realm, bool sha256,
    char ha1[EST_CREDS_HEX_LEN], struct est_error *e)
{
	const struct cred_user *u;
	enum est_err rc = EST_OK;

	pthread_rwlock_rdlock(&c->lock);
	u = set_find(&c->set, user);
	if (u == NULL)
		rc = no_such_user(e, user);
	else if (strcmp(u->realm, realm) != 0)
		rc = est_fail(e, EST_ERR_AUTH, "Digest credentials of '%s' are for realm '%.64s', "
		    "not this server's; set the password again", user, u->realm);
	else if (sha256)
		memcpy(ha1, u->sha256, sizeof(u->sha256));
	else
		memcpy(ha1, u->md5, sizeof(u->md5));
	pthread_rwlock_unlock(&c->lock);
	return rc;
}

static enum est_err
check_password(const char *pw, struct est_error *e)
{
	if (pw == NULL || pw[0] == '\0')
		return est_fail(e, EST_ERR_BADREQ, "the password is empty");
	if (strlen(pw) > MAX_PASSWORD)
		return est_fail(e, EST_ERR_BADREQ, "the password is longer than %d bytes", MAX_PASSWORD);
	if (strpbrk(pw, "\r\n") != NULL)
		return est_fail(e, EST_ERR_BADREQ, "the password contains a line break");
	return EST_OK;
}

static enum est_err
check_realm(const char *realm, struct est_error *e)
{
	const unsigned char *p;

	if (realm == NULL || realm[0] == '\0')
		return est_fail(e, EST_ERR_BADREQ, "the realm is empty");
	if (strlen(realm) > MAX_REALM)
		return est_fail(e, EST_ERR_BADREQ, "the realm is longer than %d bytes", MAX_REALM);
	for (p = (const unsigned char *)realm; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return est_fail(e, EST_ERR_BADREQ, "the realm contains a control character");
	return EST_OK;
}

/* The file line for user (malloc'd into *line) with a fresh salt. */
static enum est_err
make_line(const char *user, const char *realm, const char *pw, char **line, struct est_error *e)
{
	const char *parts[3] = { user, realm, pw };
	struct est_pwhash h;
	char hash[EST_PWHASH_TEXT_MAX], md5[EST_CREDS_HEX_LEN], sha[EST_CREDS_HEX_LEN];
	enum est_err rc;
	int n;

	if ((rc = est_pwhash_new(pw, strlen(pw), &h, e)) != EST_OK)
		return rc;
	if (!est_creds_digest_hex(EVP_md5(), parts, 3, md5) ||
	    !est_creds_digest_hex(EVP_sha256(), parts, 3, sha))
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot compute the Digest H(A1)");
	est_pwhash_format(&h, hash);
	n = snprintf(NULL, 0, "%s:%s:%s:%s:%s", user, hash, realm, md5, sha);
	if (n < 0 || (*line = malloc((size_t)n + 1)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	snprintf(*line, (size_t)n + 1, "%s:%s:%s:%s:%s", user, hash, realm, md5, sha);
	return EST_OK;
}

/*
 * Check the whole old file as est_creds_load would, since the result could
 * not be loaded either, and say whether user is in it. Rewinds in.
 */
static enum est_err
check_old(FILE *in, const char *path, const char *user, bool *found, struct est_error *e)
{
	struct user_set s = {0};
	enum est_err rc;

	*found = false;
	if (in == NULL)
		return EST_OK;
	if ((rc = read_users(in, path, &s, e)) == EST_OK && (rc = set_sort(&s, path, e)) == EST_OK)
		*found = set_find(&s, user) != NULL;
	set_free(&s);
	rewind(in);
	return rc;
}

/*
 * Copy the checked old file to out, other lines verbatim, with user's line
 * replaced by repl (dropped when repl is NULL; appended when absent).
 */
static enum est_err
copy_lines(FILE *in, FILE *out, const char *path, const char *user, const char *repl,
    struct est_error *e)
{
	unsigned long lineno = 0;
	size_t cap = 0, ulen = strlen(user);
	enum est_err rc = EST_OK;
	bool found = false;
	char *buf = NULL;
	int r;

	while (in != NULL && rc == EST_OK && (r = read_line(in, &buf, &cap)) != 0) {
		lineno++;
		if (r < 0)
			rc = read_fail(e, path, lineno, r);
		else if (strncmp(buf, user, ulen) != 0 || buf[ulen] != ':')
			fprintf(out, "%s\n", buf);
		else {
			found = true;
			if (repl != NULL)
				fprintf(out, "%s\n", repl);
		}
	}
	if (rc == EST_OK && !found && repl != NULL)
		fprintf(out, "%s\n", repl);
	free(buf);
	return rc;
}

/*
 * Rewrite path through path.tmp with user's line replaced by repl, dropped
 * (repl NULL) or appended (user absent). *found: whether user was there.
 */
static enum est_err
rewrite(const char *path, const char *user, const char *repl, bool *found, struct est_error *e)
{
	struct atomic_file af;
	FILE *in = NULL;
	enum est_err rc;

	if ((rc = af_open(&af, path, 0600, AF_LOCK, e)) != EST_OK)
		return rc;
	if ((in = fopen(path, "re")) == NULL && errno != ENOENT)
		rc = est_fail(e, EST_ERR_IO, "opening %s: %s", path, strerror(errno));
	else if ((rc = check_old(in, path, user, found, e)) == EST_OK && !*found && repl == NULL)
		rc = est_fail(e, EST_ERR_NOTFOUND, "no user '%s' in %s", user, path);
	if (rc == EST_OK)
		rc = copy_lines(in, af.fp, path, user, repl, e);
	if (rc == EST_OK)
		rc = af_commit(&af, AF_REPLACE, e);
	if (in != NULL)
		fclose(in);
	af_abort(&af);
	return rc;
}

enum est_err
est_creds_set(const char *path, const char *realm, const char *user, const char *password,
    bool *replaced, struct est_error *e)
{
	enum est_err rc;
	bool found = false;
	char *line = NULL;

	if (!est_creds_valid_user(user))
		return est_fail(e, EST_ERR_BADREQ,
		    "bad user name: use 1-64 characters of A-Z a-z 0-9 . _ @ + -");
	if ((rc = check_realm(realm, e)) != EST_OK || (rc = check_password(password, e)) != EST_OK)
		return rc;
	if ((rc = make_line(user, realm, password, &line, e)) != EST_OK)
		return rc;
	rc = rewrite(path, user, line, &found, e);
	free(line);
	if (rc == EST_OK && replaced != NULL)
		*replaced = found;
	return rc;
}

enum est_err
est_creds_del(const char *path, const char *user, struct est_error *e)
{
	bool found;

	if (!est_creds_valid_user(user))
		return est_fail(e, EST_ERR_BADREQ,
		    "bad user name: use 1-64 characters of A-Z a-z 0-9 . _ @ + -");
	return rewrite(path, user, NULL, &found, e);
}
