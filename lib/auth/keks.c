/*
 * The key-encryption key file of include/estkit/kek.h.
 *
 * Invariants: a loaded set holds only well-formed entries (key 16, 24 or 32
 * bytes, id 1-64 bytes, no duplicate (principal, id)) and is never changed;
 * keys are cleansed when the set is freed. The file is read once, at
 * start-up: a changed file takes effect when estd restarts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "estkit/codec.h"
#include "estkit/kek.h"

#define LINE_MAX_LEN 1024
#define ID_MAX 64

struct kek {
	char *principal;
	unsigned char *id;
	long idlen;
	unsigned char *key;
	long keylen;
};

struct est_keks {
	struct kek *v;
	size_t n;
};

void
est_keks_free(struct est_keks *k)
{
	if (k == NULL)
		return;
	for (size_t i = 0; i < k->n; i++) {
		free(k->v[i].principal);
		OPENSSL_free(k->v[i].id);
		OPENSSL_clear_free(k->v[i].key, (size_t)k->v[i].keylen);
	}
	free(k->v);
	free(k);
}

static const struct kek *
find(const struct est_keks *k, const char *principal, const unsigned char *id, size_t idlen)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->v[i].principal, principal) == 0 && (size_t)k->v[i].idlen == idlen &&
		    memcmp(k->v[i].id, id, idlen) == 0)
			return &k->v[i];
	return NULL;
}

/*
 * A principal as estd names it (est_principal_normalise), so that the file
 * may give a certificate's serial as openssl prints it ("cert:0A3F"), as
 * the store keeps it ("cert:A3F") or in another spelling. NULL and a reason
 * in *why otherwise.
 */
static char *
principal_form(const char *who, const char **why)
{
	char buf[LINE_MAX_LEN];
	char *out;

	if (est_principal_normalise(who, buf, sizeof(buf)) != 0) {
		*why = "the serial of a cert: or ra: principal is not a hex number";
		return NULL;
	}
	if ((out = strdup(buf)) == NULL)
		*why = "out of memory";
	return out;
}

/* One "PRINCIPAL KEY-ID KEY" line into k; a reason for the log otherwise. */
static const char *
parse_line(struct est_keks *k, char *line)
{
	char *save = NULL, *who = strtok_r(line, " \t", &save);
	char *idhex = strtok_r(NULL, " \t", &save), *keyhex = strtok_r(NULL, " \t", &save);
	struct kek x = { 0 }, *grown = NULL;
	const char *why = NULL;

	if (who == NULL || idhex == NULL || keyhex == NULL || strtok_r(NULL, " \t", &save) != NULL)
		return "expected PRINCIPAL KEY-ID KEY (hex)";
	x.id = OPENSSL_hexstr2buf(idhex, &x.idlen);
	x.key = OPENSSL_hexstr2buf(keyhex, &x.keylen);
	ERR_clear_error();
	if (x.id == NULL || x.key == NULL || x.idlen < 1 || x.idlen > ID_MAX ||
	    (x.keylen != 16 && x.keylen != 24 && x.keylen != 32)) {
		OPENSSL_free(x.id);
		OPENSSL_clear_free(x.key, x.key != NULL ? (size_t)x.keylen : 0);
		return "KEY-ID must be 1-64 bytes and KEY 16, 24 or 32 bytes, both in hex";
	}
	x.principal = principal_form(who, &why);
	if (x.principal != NULL && find(k, x.principal, x.id, (size_t)x.idlen) != NULL)
		why = "this principal has this KEY-ID already";
	else if (x.principal != NULL && (grown = realloc(k->v, (k->n + 1) * sizeof(*grown))) == NULL)
		why = "out of memory";
	if (why != NULL) {
		free(x.principal);
		OPENSSL_free(x.id);
		OPENSSL_clear_free(x.key, (size_t)x.keylen);
		return why;
	}
	k->v = grown;
	k->v[k->n++] = x;
	return NULL;
}

static enum est_err
open_private(const char *path, FILE **out, struct est_error *e)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return est_fail(e, EST_ERR_CONFIG, "cannot open decrypt-keys file %s: %s", path,
		    strerror(errno));
	if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
		close(fd);
		return est_fail(e, EST_ERR_CONFIG, "decrypt-keys file %s is accessible by group or "
		    "others; run: chmod 600 %s", path, path);
	}
	if ((*out = fdopen(fd, "r")) == NULL) {
		close(fd);
		return est_fail(e, EST_ERR_CONFIG, "cannot read %s: %s", path, strerror(errno));
	}
	return EST_OK;
}

enum est_err
est_keks_load(const char *path, struct est_keks **out, struct est_error *e)
{
	char line[LINE_MAX_LEN + 2];
	struct est_keks *k;
	const char *why = NULL;
	unsigned long n = 0;
	enum est_err rc;
	FILE *f;

	if ((rc = open_private(path, &f, e)) != EST_OK)
		return rc;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		fclose(f);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	while (why == NULL && fgets(line, sizeof(line), f) != NULL) {
		size_t len = strcspn(line, "\r\n");

		n++;
		if (line[len] == '\0' && !feof(f))
			why = "line too long";
		line[len] = '\0';
		if (why == NULL && line[strspn(line, " \t")] != '\0' && line[strspn(line, " \t")] != '#')
			why = parse_line(k, line);
	}
	OPENSSL_cleanse(line, sizeof(line));
	if (why == NULL && ferror(f))
		why = "read error";
	fclose(f);
	if (why != NULL) {
		est_keks_free(k);
		return est_fail(e, EST_ERR_CONFIG, "%s:%lu: %s", path, n, why);
	}
	*out = k;
	return EST_OK;
}

enum est_err
est_keks_find(const struct est_keks *k, const char *principal, const unsigned char *id,
    size_t idlen, const unsigned char **key, size_t *keylen, struct est_error *e)
{
	const struct kek *x = k != NULL ? find(k, principal, id, idlen) : NULL;

	if (x == NULL)
		return est_fail(e, EST_ERR_NOTFOUND, "no decrypt key with that identifier for %s",
		    principal);
	*key = x->key;
	*keylen = (size_t)x->keylen;
	return EST_OK;
}
