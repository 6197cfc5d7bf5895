/*
 * The lock-out file of include/estkit/lockout.h, shared by estd (which
 * records lock-outs and looks for lifted ones) and estadm (which lists and
 * clears them).
 *
 * Every operation opens the file, takes flock() (exclusive to change it,
 * shared to read it), reads it whole, and a change rewrites it in place
 * before the lock is let go: a writer never works from a copy another
 * writer has since replaced. Malformed lines are skipped by readers and
 * dropped by writers, so a damaged file heals at the next change.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "estkit/lockout.h"

/* 2 tables of 4096 keys, each line well under 400 bytes. */
#define FILE_MAX (4 * 1024 * 1024)
#define ENC_MAX (3 * EST_LOCKOUT_KEY_MAX + 1)

char *
est_lockout_path(const struct est_config *cfg)
{
	const char *store = cfg->store_uri != NULL ? cfg->store_uri : "";
	char *out;
	size_t n;

	if (cfg->lockout_path != NULL) {
		out = strdup(cfg->lockout_path);
	} else if (strncmp(store, "sqlite:", 7) == 0 && store[7] != '\0') {
		n = strlen(store + 7) + sizeof("-lockouts");
		if ((out = malloc(n)) != NULL)
			snprintf(out, n, "%s-lockouts", store + 7);
	} else {
		n = strlen(cfg->dir) + sizeof("/lockouts");
		if ((out = malloc(n)) != NULL)
			snprintf(out, n, "%s/lockouts", cfg->dir);
	}
	return out;
}

/* KEY with bytes outside '!'..'~' and '%' as %XX; false when it does not fit. */
static bool
encode(const char *key, char out[ENC_MAX])
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++) {
		if (o + 4 > ENC_MAX)
			return false;
		if (*p > ' ' && *p < 0x7f && *p != '%') {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
	return o > 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool
decode(const char *enc, char out[EST_LOCKOUT_KEY_MAX])
{
	size_t o = 0;
	int hi, lo;

	for (const char *p = enc; *p != '\0'; p++) {
		if (o + 1 >= EST_LOCKOUT_KEY_MAX)
			return false;
		if (*p != '%') {
			out[o++] = *p;
			continue;
		}
		if ((hi = hexval(p[1])) < 0 || (lo = hexval(p[2])) < 0 || (hi == 0 && lo == 0))
			return false;
		out[o++] = (char)(hi << 4 | lo);
		p += 2;
	}
	out[o] = '\0';
	return o > 0;
}

static bool
valid_kind(const char *kind)
{
	return strcmp(kind, "address") == 0 || strcmp(kind, "user") == 0 ||
	    strcmp(kind, "ee") == 0;
}

/* One line cut into its fields (pointing into the line, which is changed). */
struct line {
	const char *kind;
	int64_t until;
	const char *key;                  /* encoded */
};

/* A well-formed line: a known kind, a time, a key that decodes. */
static bool
parse_line(char *s, struct line *l)
{
	char *sp1, *sp2, *end, key[EST_LOCKOUT_KEY_MAX];
	long long until;

	if ((sp1 = strchr(s, ' ')) == NULL || (sp2 = strchr(sp1 + 1, ' ')) == NULL)
		return false;
	*sp1 = *sp2 = '\0';
	errno = 0;
	until = strtoll(sp1 + 1, &end, 10);
	if (errno != 0 || end != sp2 || until <= 0 || !valid_kind(s) || sp2[1] == '\0' ||
	    strchr(sp2 + 1, ' ') != NULL || !decode(sp2 + 1, key))
		return false;
	l->kind = s;
	l->until = until;
	l->key = sp2 + 1;
	return true;
}

/* The file as one NUL-terminated malloc'd string (caller frees). */
static enum est_err
read_all(int fd, const char *path, char **out, struct est_error *e)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *p;
	ssize_t got;

	if (buf == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (;;) {
		if (len + 1 == cap) {
			if (cap >= FILE_MAX || (p = realloc(buf, cap * 2)) == NULL) {
				free(buf);
				return cap >= FILE_MAX ? est_fail(e, EST_ERR_IO, "%s: larger than %d "
				    "bytes", path, FILE_MAX) : est_fail(e, EST_ERR_NOMEM, "out of memory");
			}
			buf = p;
			cap *= 2;
		}
		got = pread(fd, buf + len, cap - 1 - len, (off_t)len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			free(buf);
			return est_fail(e, EST_ERR_IO, "cannot read %s: %s", path, strerror(errno));
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	buf[len] = '\0';
	*out = buf;
	return EST_OK;
}

/* Open and lock; *fd is -1 (and EST_OK) when the file is missing and create is false. */
static enum est_err
open_locked(const char *path, bool write, bool create, int *fd, struct est_error *e)
{
	int flags = (write ? O_RDWR : O_RDONLY) | (create ? O_CREAT : 0) | O_CLOEXEC | O_NOFOLLOW;

	if ((*fd = open(path, flags, 0600)) < 0) {
		if (errno == ENOENT && !create)
			return EST_OK;
		return est_fail(e, EST_ERR_IO, "cannot open %s: %s", path, strerror(errno));
	}
	while (flock(*fd, write ? LOCK_EX : LOCK_SH) != 0) {
		if (errno != EINTR) {
			close(*fd);
			*fd = -1;
			return est_fail(e, EST_ERR_IO, "cannot lock %s: %s", path, strerror(errno));
		}
	}
	return EST_OK;
}

static enum est_err
rewrite(int fd, const char *path, const char *text, size_t len, struct est_error *e)
{
	size_t done = 0;
	ssize_t n;

	if (ftruncate(fd, 0) != 0)
		return est_fail(e, EST_ERR_IO, "cannot write %s: %s", path, strerror(errno));
	while (done < len) {
		n = pwrite(fd, text + done, len - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return est_fail(e, EST_ERR_IO, "cannot write %s: %s", path, strerror(errno));
		done += (size_t)n;
	}
	return EST_OK;
}

/*
 * Rewrite the open file keeping the well-formed lines still running at now
 * for which drop() is false, then append `extra` (may be NULL). *dropped
 * counts the running lines drop() removed.
 */
static enum est_err
filter(int fd, const char *path, int64_t now, bool (*drop)(const struct line *, const void *),
    const void *arg, const char *extra, size_t *dropped, struct est_error *e)
{
	char *text = NULL, *out, *s, *save = NULL;
	size_t o = 0, cap;
	struct line l;
	enum est_err rc;

	if ((rc = read_all(fd, path, &text, e)) != EST_OK)
		return rc;
	cap = strlen(text) + (extra != NULL ? strlen(extra) : 0) + 1;
	if ((out = malloc(cap)) == NULL) {
		free(text);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	*dropped = 0;
	for (s = strtok_r(text, "\n", &save); s != NULL; s = strtok_r(NULL, "\n", &save)) {
		if (!parse_line(s, &l) || l.until <= now)
			continue;
		if (drop(&l, arg)) {
			(*dropped)++;
			continue;
		}
		o += (size_t)snprintf(out + o, cap - o, "%s %" PRId64 " %s\n", l.kind, l.until, l.key);
	}
	if (extra != NULL)
		o += (size_t)snprintf(out + o, cap - o, "%s", extra);
	rc = rewrite(fd, path, out, o, e);
	free(out);
	free(text);
	return rc;
}

struct match {
	const char *kind;                 /* NULL: either */
	const char *key;                  /* encoded; NULL: every key */
};

static bool
matches(const struct line *l, const void *arg)
{
	const struct match *m = arg;

	return (m->kind == NULL || strcmp(l->kind, m->kind) == 0) &&
	    (m->key == NULL || strcmp(l->key, m->key) == 0);
}

enum est_err
est_lockout_record(const char *path, const char *kind, const char *key, int64_t until,
    int64_t now, struct est_error *e)
{
	char enc[ENC_MAX], line[ENC_MAX + 48];
	struct match m = { kind, enc };
	size_t dropped;
	enum est_err rc;
	int fd;

	if (!valid_kind(kind) || !encode(key, enc))
		return est_fail(e, EST_ERR_INTERNAL, "lock-out key unusable: %s %.100s", kind, key);
	snprintf(line, sizeof(line), "%s %" PRId64 " %s\n", kind, until, enc);
	if ((rc = open_locked(path, true, true, &fd, e)) != EST_OK)
		return rc;
	rc = filter(fd, path, now, matches, &m, line, &dropped, e);
	close(fd);
	return rc;
}

enum est_err
est_lockout_clear(const char *path, const char *key, int64_t now, size_t *removed,
    struct est_error *e)
{
	char enc[ENC_MAX];
	struct match m = { NULL, NULL };
	enum est_err rc;
	int fd;

	*removed = 0;
	if (key != NULL) {
		if (!encode(key, enc))
			return est_fail(e, EST_ERR_BADREQ, "\"%.100s\" is not an address or name "
			    "(empty or too long)", key);
		m.key = enc;
	}
	if ((rc = open_locked(path, true, false, &fd, e)) != EST_OK || fd < 0)
		return rc;
	rc = filter(fd, path, now, matches, &m, NULL, removed, e);
	close(fd);
	return rc;
}

enum est_err
est_lockout_reset(const char *path, struct est_error *e)
{
	enum est_err rc;
	int fd;

	if ((rc = open_locked(path, true, true, &fd, e)) != EST_OK)
		return rc;
	rc = rewrite(fd, path, "", 0, e);
	close(fd);
	return rc;
}

enum est_err
est_lockout_list(const char *path, int64_t now, struct est_lockout **out, size_t *n,
    struct est_error *e)
{
	char *text = NULL, *s, *save = NULL;
	struct est_lockout *list = NULL, *p;
	size_t count = 0;
	struct line l;
	enum est_err rc;
	int fd;

	*out = NULL;
	*n = 0;
	if ((rc = open_locked(path, false, false, &fd, e)) != EST_OK || fd < 0)
		return rc;
	rc = read_all(fd, path, &text, e);
	close(fd);
	if (rc != EST_OK)
		return rc;
	for (s = strtok_r(text, "\n", &save); s != NULL; s = strtok_r(NULL, "\n", &save)) {
		if (!parse_line(s, &l) || l.until <= now)
			continue;
		if ((p = realloc(list, (count + 1) * sizeof(*list))) == NULL) {
			free(list);
			free(text);
			return est_fail(e, EST_ERR_NOMEM, "out of memory");
		}
		list = p;
		(void)decode(l.key, list[count].key);   /* parse_line checked that it decodes */
		snprintf(list[count].kind, sizeof(list[count].kind), "%s", l.kind);
		list[count].until = l.until;
		count++;
	}
	free(text);
	*out = list;
	*n = count;
	return EST_OK;
}

int
est_lockout_present(const char *path, const char *kind, const char *key)
{
	struct est_error e = { 0 };
	char enc[ENC_MAX], *text = NULL, *s, *save = NULL;
	struct match m = { kind, enc };
	struct line l;
	int fd, found = 0;

	if (!encode(key, enc) || open_locked(path, false, false, &fd, &e) != EST_OK || fd < 0)
		return -1;
	if (read_all(fd, path, &text, &e) != EST_OK) {
		close(fd);
		return -1;
	}
	close(fd);
	for (s = strtok_r(text, "\n", &save); s != NULL && !found; s = strtok_r(NULL, "\n", &save))
		found = parse_line(s, &l) && matches(&l, &m);
	free(text);
	return found;
}
