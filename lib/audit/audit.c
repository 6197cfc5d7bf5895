/*
 * The audit log (include/estkit/audit.h): hash-chained lines appended
 * under a lock.
 *
 * Appending reads the last line of the file for its seq and hash, so the
 * chain continues whoever wrote last (estd's workers, a second estd during
 * a reload, estadm). The read and the write happen under an exclusive
 * flock on the file, and a mutex for the threads of one process (flock
 * does not exclude two threads sharing one open file). A line is written
 * with one write(2) on an O_APPEND descriptor. A file whose last line was
 * cut short (a crash mid-write) is continued on a new line, and
 * verification reports the cut line. When the file at the path is no longer
 * the one open (rotated, replaced), the path is opened again, so entries
 * never go to a file nobody can find.
 *
 * The last line this process wrote is remembered with the file's size after
 * it. While the file under the lock still has that size and still ends with
 * that line's hash, the chain goes on from it without reading the end again.
 * The size alone is not enough: a file truncated in place and written again
 * by another writer (a copytruncate rotation, then estadm or a second estd)
 * can grow back to exactly that size, lines of one shape being of one length.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "estkit/audit.h"
#include "util/kvline.h"
#include "util/sha256hex.h"

#define HASH_FIELD " hash="
#define HASH_FIELD_LEN (sizeof(HASH_FIELD) - 1)
/* The most one append writes: a newline ending a cut line, the line, its hash, a newline. */
#define WRITE_MAX (1 + KVLINE_MAX + HASH_FIELD_LEN + EST_AUDIT_HASH_HEX + 1)
/*
 * Enough of the end to hold the last complete line whole, with the newline
 * before it, even behind what a crash left of another write.
 */
#define TAIL_MAX (2 * WRITE_MAX)

static const char zero_hash[EST_AUDIT_HASH_HEX + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

struct est_audit {
	char *path;
	int fd;
	dev_t dev;		/* the open file's, to compare with the path's */
	ino_t ino;
	pthread_mutex_t lock;
	/* The file's end as this process left it; tail_size 0: not known. */
	off_t tail_size;
	unsigned long long tail_seq;
	char tail_hash[EST_AUDIT_HASH_HEX + 1];
};

/* Open a's path into a->fd; -1 with errno. */
static int
open_log(struct est_audit *a)
{
	struct stat st;
	int fd = open(a->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	if (a->fd >= 0)
		close(a->fd);
	a->fd = fd;
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	a->tail_size = 0;
	return 0;
}

enum est_err
est_audit_open(const char *path, struct est_audit **out, struct est_error *e)
{
	struct est_audit *a = calloc(1, sizeof(*a));

	if (a == NULL || (a->path = strdup(path)) == NULL) {
		free(a);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	a->fd = -1;
	if (open_log(a) != 0) {
		est_fail(e, EST_ERR_IO, "audit log %s: %s", path, strerror(errno));
		free(a->path);
		free(a);
		return EST_ERR_IO;
	}
	pthread_mutex_init(&a->lock, NULL);
	*out = a;
	return EST_OK;
}

/* Open the path again when the file there is not the one open. */
static enum est_err
follow_path(struct est_audit *a, struct est_error *e)
{
	struct stat st;

	if (stat(a->path, &st) == 0 && st.st_dev == a->dev && st.st_ino == a->ino)
		return EST_OK;
	if (open_log(a) != 0)
		return est_fail(e, EST_ERR_IO, "audit log %s: %s", a->path, strerror(errno));
	return EST_OK;
}

void
est_audit_close(struct est_audit *a)
{
	if (a == NULL)
		return;
	if (a->fd >= 0)
		close(a->fd);
	pthread_mutex_destroy(&a->lock);
	free(a->path);
	free(a);
}

static bool
is_hex64(const char *s)
{
	if (strlen(s) != EST_AUDIT_HASH_HEX)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/*
 * Split an audit line (without its newline) into the hashed part's length
 * and the hash it claims. false when it has no well-formed hash field.
 */
static bool
split_line(const char *line, size_t len, size_t *content_len, char *hash)
{
	if (len < HASH_FIELD_LEN + EST_AUDIT_HASH_HEX)
		return false;
	*content_len = len - HASH_FIELD_LEN - EST_AUDIT_HASH_HEX;
	if (memcmp(line + *content_len, HASH_FIELD, HASH_FIELD_LEN) != 0)
		return false;
	memcpy(hash, line + len - EST_AUDIT_HASH_HEX, EST_AUDIT_HASH_HEX);
	hash[EST_AUDIT_HASH_HEX] = '\0';
	return is_hex64(hash);
}

/*
 * Whether the file, of the size this handle left, still ends with the line it
 * wrote last. The hash covers the line's seq and prev, so a file ending in it
 * ends in that line, and what the full read would find is what is remembered.
 * A short or failed read says no: the end is then read in full, which reports
 * its own errors.
 */
static bool
ends_as_left(const struct est_audit *a)
{
	char end[HASH_FIELD_LEN + EST_AUDIT_HASH_HEX + 1];
	ssize_t got;

	if (a->tail_size < (off_t)sizeof(end))
		return false;
	got = pread(a->fd, end, sizeof(end), a->tail_size - (off_t)sizeof(end));
	return got == (ssize_t)sizeof(end) && memcmp(end, HASH_FIELD, HASH_FIELD_LEN) == 0 &&
	    memcmp(end + HASH_FIELD_LEN, a->tail_hash, EST_AUDIT_HASH_HEX) == 0 &&
	    end[sizeof(end) - 1] == '\n';
}

/*
 * The seq and hash of the file's last complete line (0 and zeros for an
 * empty file), whether the file ends without a newline, and its size.
 */
static enum est_err
read_tail(struct est_audit *a, unsigned long long *seq, char *hash, bool *torn,
    off_t *size, struct est_error *e)
{
	char buf[TAIL_MAX + 1], seqtext[32];
	struct stat st;
	size_t n, content_len;
	ssize_t got;
	off_t from;
	char *end, *start, *rest;

	*seq = 0;
	memcpy(hash, zero_hash, sizeof(zero_hash));
	*torn = false;
	if (fstat(a->fd, &st) != 0)
		return est_fail(e, EST_ERR_IO, "audit log %s: %s", a->path, strerror(errno));
	*size = st.st_size;
	if (st.st_size == 0)
		return EST_OK;
	if (st.st_size == a->tail_size && ends_as_left(a)) {
		*seq = a->tail_seq;
		memcpy(hash, a->tail_hash, sizeof(a->tail_hash));
		return EST_OK;
	}
	from = st.st_size > (off_t)TAIL_MAX ? st.st_size - (off_t)TAIL_MAX : 0;
	got = pread(a->fd, buf, (size_t)(st.st_size - from), from);
	if (got <= 0)
		return est_fail(e, EST_ERR_IO, "audit log %s: cannot read its end: %s", a->path,
		    got < 0 ? strerror(errno) : "file shrank");
	n = (size_t)got;
	buf[n] = '\0';
	*torn = buf[n - 1] != '\n';
	/* The last complete line: [start, end). */
	end = *torn ? strrchr(buf, '\n') : buf + n - 1;
	if (end == NULL)
		return est_fail(e, EST_ERR_IO, "audit log %s: its last line is not whole", a->path);
	*end = '\0';
	start = strrchr(buf, '\n');
	start = start != NULL ? start + 1 : buf;
	if (split_line(start, (size_t)(end - start), &content_len, hash) &&
	    kvline_get(start, "seq", seqtext, sizeof(seqtext))) {
		*seq = strtoull(seqtext, &rest, 10);
		if (rest != seqtext && *rest == '\0')
			return EST_OK;
	}
	return est_fail(e, EST_ERR_IO, "audit log %s: its last line is not an audit line "
	    "(estadm audit verify)", a->path);
}

static void
add_time(struct kvline *l)
{
	struct timespec now;
	struct tm tm;
	char ts[40];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	kvline_addf(l, "time", "%s.%03ldZ", ts, now.tv_nsec / 1000000);
}

static enum est_err
write_all(struct est_audit *a, const char *s, size_t len, struct est_error *e)
{
	while (len > 0) {
		ssize_t w = write(a->fd, s, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return est_fail(e, EST_ERR_IO, "audit log %s: %s", a->path,
			    w < 0 ? strerror(errno) : "nothing could be written");
		s += w;
		len -= (size_t)w;
	}
	return EST_OK;
}

/*
 * Build entry's line after the one whose seq and hash are given, into out
 * (WRITE_MAX + 1 bytes, with a newline first when torn); its length, and
 * its own hash in hash. -1 when SHA-256 fails.
 */
static int
build_line(const struct est_audit_entry *entry, unsigned long long seq, const char *prev,
    bool torn, char *out, char *hash)
{
	struct kvline l;
	const char *content;

	kvline_init(&l, false);
	kvline_addf(&l, "seq", "%llu", seq + 1);
	add_time(&l);
	/*
	 * The chain's fields before any a client chooses (a subject, a SAN list,
	 * a principal of kilobytes): a line is cut at its bound, and one cut
	 * before its prev would break the chain for every verify after.
	 */
	kvline_add(&l, "prev", prev);
	kvline_add(&l, "who", entry->who);
	kvline_add(&l, "what", entry->what);
	for (size_t i = 0; i < entry->n; i++)
		kvline_add(&l, entry->fields[2 * i], entry->fields[2 * i + 1]);
	content = kvline_str(&l);
	if (!est_sha256_hex(content, l.len, hash))
		return -1;
	return snprintf(out, WRITE_MAX + 1, "%s%s" HASH_FIELD "%s\n", torn ? "\n" : "", content,
	    hash);
}

/* Chain and write the entries with one write; the caller holds both locks. */
static enum est_err
append_locked(struct est_audit *a, const struct est_audit_entry *entries, size_t n,
    char *out, struct est_error *e)
{
	char prev[EST_AUDIT_HASH_HEX + 1], hash[EST_AUDIT_HASH_HEX + 1];
	unsigned long long seq;
	bool torn;
	enum est_err rc;
	off_t size = 0;
	size_t len = 0;

	if ((rc = read_tail(a, &seq, prev, &torn, &size, e)) != EST_OK)
		return rc;
	for (size_t i = 0; i < n; i++, seq++, torn = false) {
		int k = build_line(&entries[i], seq, prev, torn, out + len, hash);

		if (k < 0)
			return est_fail(e, EST_ERR_CRYPTO, "SHA-256 failed");
		len += (size_t)k;
		memcpy(prev, hash, sizeof(hash));
	}
	a->tail_size = 0;
	if ((rc = write_all(a, out, len, e)) != EST_OK)
		return rc;
	a->tail_size = size + (off_t)len;
	a->tail_seq = seq;
	memcpy(a->tail_hash, prev, sizeof(prev));
	return EST_OK;
}

enum est_err
est_audit_append_many(struct est_audit *a, const struct est_audit_entry *entries, size_t n,
    struct est_error *e)
{
	char one[WRITE_MAX + 1];
	char *out = n <= 1 ? one : malloc(n * WRITE_MAX + 1);
	enum est_err rc;

	if (n == 0)
		return EST_OK;
	if (out == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	pthread_mutex_lock(&a->lock);
	if ((rc = follow_path(a, e)) == EST_OK) {
		if (flock(a->fd, LOCK_EX) != 0) {
			rc = est_fail(e, EST_ERR_IO, "audit log %s: cannot lock: %s", a->path,
			    strerror(errno));
		} else {
			rc = append_locked(a, entries, n, out, e);
			flock(a->fd, LOCK_UN);
		}
	}
	pthread_mutex_unlock(&a->lock);
	if (out != one)
		free(out);
	return rc;
}

enum est_err
est_audit_append(struct est_audit *a, const char *who, const char *what,
    const char *const *fields, size_t n, struct est_error *e)
{
	const struct est_audit_entry entry = { .who = who, .what = what, .fields = fields, .n = n };

	return est_audit_append_many(a, &entry, 1, e);
}

/* Check one line against the one before; EST_OK or EST_ERR_BADREQ with the reason. */
static enum est_err
verify_line(const char *path, size_t lineno, char *line, size_t len,
    unsigned long long *seq, char *prev_hash, struct est_error *e)
{
	char claimed[EST_AUDIT_HASH_HEX + 1], actual[EST_AUDIT_HASH_HEX + 1];
	char prev[EST_AUDIT_HASH_HEX + 2], seqtext[32];
	size_t content_len;
	unsigned long long s;
	char *endp;

	if (!split_line(line, len, &content_len, claimed))
		return est_fail(e, EST_ERR_BADREQ, "%s:%zu: not an audit line (no hash at its end)",
		    path, lineno);
	line[content_len] = '\0';
	if (!est_sha256_hex(line, content_len, actual))
		return est_fail(e, EST_ERR_CRYPTO, "SHA-256 failed");
	if (strcmp(actual, claimed) != 0)
		return est_fail(e, EST_ERR_BADREQ, "%s:%zu: the line was changed (its hash does "
		    "not match its text)", path, lineno);
	if (!kvline_get(line, "prev", prev, sizeof(prev)) || strcmp(prev, prev_hash) != 0)
		return est_fail(e, EST_ERR_BADREQ, "%s:%zu: the chain is broken (prev is not the "
		    "hash of the line before: a line was removed, inserted or changed)", path, lineno);
	if (!kvline_get(line, "seq", seqtext, sizeof(seqtext)) ||
	    (s = strtoull(seqtext, &endp, 10), *endp != '\0') || s != *seq + 1)
		return est_fail(e, EST_ERR_BADREQ, "%s:%zu: seq %s does not follow %llu", path, lineno,
		    seqtext, *seq);
	*seq = s;
	memcpy(prev_hash, claimed, sizeof(claimed));
	return EST_OK;
}

enum est_err
est_audit_verify(const char *path, size_t *entries, char last_hash[EST_AUDIT_HASH_HEX + 1],
    struct est_error *e)
{
	char hash[EST_AUDIT_HASH_HEX + 1];
	unsigned long long seq = 0;
	size_t lineno = 0, cap = 0;
	char *line = NULL;
	enum est_err rc = EST_OK;
	ssize_t len;
	FILE *f;

	f = fopen(path, "re");
	if (f == NULL)
		return est_fail(e, EST_ERR_IO, "audit log %s: %s", path, strerror(errno));
	memcpy(hash, zero_hash, sizeof(zero_hash));
	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[len - 1] != '\n') {
			rc = est_fail(e, EST_ERR_BADREQ, "%s:%zu: the last line is cut short", path, lineno);
			break;
		}
		line[--len] = '\0';
		if ((rc = verify_line(path, lineno, line, (size_t)len, &seq, hash, e)) != EST_OK)
			break;
	}
	if (rc == EST_OK && ferror(f))
		rc = est_fail(e, EST_ERR_IO, "audit log %s: read error", path);
	free(line);
	fclose(f);
	if (rc != EST_OK)
		return rc;
	*entries = lineno;
	memcpy(last_hash, hash, sizeof(hash));
	return EST_OK;
}
