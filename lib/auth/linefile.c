/*
 * The "name:fields" files of TLS-SRP and Bearer tokens (auth/linefile.h):
 * read whole (they are small, at most 1 MiB), walked line by line, and
 * rewritten through util/atomic_file.h, so a reader sees the old file or the
 * new one, under its lock (PATH.tmp), so two estadm runs cannot lose one
 * another's change. Their contents are secrets of a kind (verifiers, token hashes),
 * so copies are wiped before they are freed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/linefile.h"
#include "util/atomic_file.h"

#define FILE_MAX (1024 * 1024)

bool
lf_is(const char *line, const char *name)
{
	size_t n = strlen(name);

	return strncmp(line, name, n) == 0 && line[n] == ':';
}

static void
wipe_free(char *text)
{
	if (text != NULL)
		OPENSSL_cleanse(text, strlen(text));
	free(text);
}

/* The whole file, NUL-terminated; a missing file is "". */
static enum est_err
read_all(const char *path, char **out, struct est_error *e)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL && errno == ENOENT) {
		*out = strdup("");
		return *out != NULL ? EST_OK : est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	if (f == NULL)
		return est_fail(e, EST_ERR_IO, "cannot read %s: %s", path, strerror(errno));
	if ((buf = malloc(FILE_MAX + 1)) == NULL) {
		fclose(f);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	n = fread(buf, 1, FILE_MAX + 1, f);
	fclose(f);
	if (n > FILE_MAX || memchr(buf, '\0', n) != NULL) {
		free(buf);
		return est_fail(e, EST_ERR_CONFIG, "%s: not a text file of at most %d bytes", path,
		    FILE_MAX);
	}
	buf[n] = '\0';
	*out = buf;
	return EST_OK;
}

/* Walk the entry lines of text (modified: lines are cut at their ends). */
static enum est_err
walk(const char *path, char *text, lf_line_ok ok, const char *what,
    bool (*fn)(const char *line, void *arg), void *arg, struct est_error *e)
{
	unsigned long lineno = 0;
	size_t n;

	for (char *line = text, *next; *line != '\0'; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		n = strlen(line);
		if (n > 0 && line[n - 1] == '\r')
			line[n - 1] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (!ok(line))
			return est_fail(e, EST_ERR_CONFIG, "%s:%lu: not %s", path, lineno, what);
		if (!fn(line, arg))
			break;
	}
	return EST_OK;
}

enum est_err
lf_each(const char *path, lf_line_ok ok, const char *what,
    bool (*fn)(const char *line, void *arg), void *arg, struct est_error *e)
{
	char *text = NULL;
	enum est_err rc;

	if ((rc = read_all(path, &text, e)) == EST_OK)
		rc = walk(path, text, ok, what, fn, arg, e);
	wipe_free(text);
	return rc;
}

struct copy {
	FILE *out;
	const char *name, *repl;
	bool found;
};

static bool
copy_line(const char *line, void *arg)
{
	struct copy *cp = arg;

	if (!lf_is(line, cp->name))
		fprintf(cp->out, "%s\n", line);
	else if (!cp->found && cp->repl != NULL)
		fprintf(cp->out, "%s\n", cp->repl);
	cp->found = cp->found || lf_is(line, cp->name);
	return true;
}

enum est_err
lf_replace(const char *path, lf_line_ok ok, const char *what, const char *name,
    const char *repl, bool *found, struct est_error *e)
{
	struct copy cp = { NULL, name, repl, false };
	struct atomic_file af;
	char *text = NULL;
	enum est_err rc;

	/* The lock first: a change made between reading and replacing would be lost. */
	if ((rc = af_open(&af, path, 0600, AF_LOCK, e)) != EST_OK)
		return rc;
	if ((rc = read_all(path, &text, e)) != EST_OK) {
		af_abort(&af);
		return rc;
	}
	cp.out = af.fp;
	rc = walk(path, text, ok, what, copy_line, &cp, e);
	if (rc == EST_OK && !cp.found && repl != NULL)
		fprintf(cp.out, "%s\n", repl);
	if (rc == EST_OK)
		rc = af_commit(&af, AF_REPLACE, e);
	af_abort(&af);
	wipe_free(text);
	*found = cp.found;
	return rc;
}

struct names {
	char *buf;
	size_t len, n;
};

static bool
add_name(const char *line, void *arg)
{
	struct names *nm = arg;
	size_t k = strcspn(line, ":");

	memcpy(nm->buf + nm->len, line, k);
	nm->buf[nm->len + k] = '\0';
	nm->len += k + 1;
	nm->n++;
	return true;
}

enum est_err
lf_names(const char *path, lf_line_ok ok, const char *what, char **names, size_t *n,
    struct est_error *e)
{
	struct names nm = { NULL, 0, 0 };
	char *text = NULL;
	enum est_err rc;

	if ((rc = read_all(path, &text, e)) != EST_OK)
		return rc;
	/* A name and its NUL take no more room than its line and line end. */
	if ((nm.buf = malloc(strlen(text) + 1)) == NULL) {
		wipe_free(text);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	rc = walk(path, text, ok, what, add_name, &nm, e);
	wipe_free(text);
	if (rc != EST_OK) {
		free(nm.buf);
		return rc;
	}
	*names = nm.buf;
	*n = nm.n;
	return EST_OK;
}
