/*
 * The files estclient writes, named and shaped as libest's estclient does so
 * that the openssl commands people run after it keep working (see
 * estclient.h for the list).
 *
 * Every file replaces the old one through util/atomic_file.h, with its mode
 * set before any byte is written: a private key is never readable by others,
 * not even for a moment, and a crash leaves the old file or the new one.
 * Base64 files are in 64-column lines, so `openssl base64 -d` reads them.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "estclient.h"
#include "estkit/log.h"
#include "util/atomic_file.h"

/* Whether a private key will be written to the output directory. */
static bool
writes_key(const struct cli_opts *o)
{
	return o->keygen || (o->enroll && o->key_file == NULL && o->csr_file == NULL);
}

/* mkdir -p path with mode; false with errno set. */
static bool
make_dirs(char *path, mode_t mode)
{
	struct stat st;

	for (char *s = path + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (stat(path, &st) != 0 && mkdir(path, mode) != 0 && errno != EEXIST) {
			*s = '/';
			return false;
		}
		*s = '/';
	}
	return mkdir(path, mode) == 0 || errno == EEXIST;
}

enum est_err
out_prepare_dir(const struct cli_opts *o, struct est_error *e)
{
	char path[PATH_MAX];
	mode_t mode = writes_key(o) ? 0700 : 0755;
	struct stat st;

	if (stat(o->outdir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return est_fail(e, EST_ERR_IO, "-o %s: not a directory", o->outdir);
		return EST_OK;
	}
	if (errno != ENOENT || (size_t)snprintf(path, sizeof(path), "%s", o->outdir) >= sizeof(path))
		return est_fail(e, EST_ERR_IO, "-o %s: %s", o->outdir, strerror(errno));
	if (!make_dirs(path, mode))
		return est_fail(e, EST_ERR_IO, "-o %s: cannot create it: %s", o->outdir,
		    strerror(errno));
	log_debug("created %s (mode %04o)", o->outdir, (unsigned)mode);
	return EST_OK;
}

/* DIR/NAME-0-I.EXT */
static void
out_path(const struct cli_opts *o, const char *name, unsigned i, const char *ext,
    char *path, size_t len)
{
	snprintf(path, len, "%s/%s-0-%u.%s", o->outdir, name, i, ext);
}

/* Write a buffer we made and free it (wiped first: it may hold a key). */
static enum est_err
put(const char *path, char *buf, size_t len, mode_t mode, enum est_err rc,
    struct est_error *e)
{
	if (rc == EST_OK)
		rc = af_replace(path, buf, len, mode, e);
	if (buf != NULL)
		OPENSSL_cleanse(buf, len);
	free(buf);
	return rc;
}

static enum est_err
out_certs(const struct cli_opts *o, const char *name, unsigned i, STACK_OF(X509) *certs,
    struct est_error *e)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0;
	enum est_err rc;

	out_path(o, name, i, o->pem ? "pem" : "pkcs7", path, sizeof(path));
	rc = o->pem ? est_certs_pem(certs, &buf, &len, e) : est_certs_p7_b64(certs, &buf, &len, e);
	return put(path, buf, len, 0644, rc, e);
}

enum est_err
out_cacerts(const struct cli_opts *o, unsigned i, STACK_OF(X509) *certs, struct est_error *e)
{
	return out_certs(o, "cacert", i, certs, e);
}

/* The new certificate first (`openssl x509 -in` reads the first), then the rest. */
enum est_err
out_cert(const struct cli_opts *o, unsigned i, const struct est_enroll_result *r,
    struct est_error *e)
{
	STACK_OF(X509) *ordered = sk_X509_new_null();
	enum est_err rc;

	if (ordered == NULL || !sk_X509_push(ordered, r->cert)) {
		sk_X509_free(ordered);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	for (int k = 0; k < sk_X509_num(r->certs); k++) {
		X509 *x = sk_X509_value(r->certs, k);

		if (x != r->cert && !sk_X509_push(ordered, x)) {
			sk_X509_free(ordered);
			return est_fail(e, EST_ERR_NOMEM, "out of memory");
		}
	}
	rc = out_certs(o, "cert", i, ordered, e);
	sk_X509_free(ordered);
	return rc;
}

enum est_err
out_server_key(const struct cli_opts *o, unsigned i, EVP_PKEY *key, struct est_error *e)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0;
	enum est_err rc;

	out_path(o, "key", i, "key", path, sizeof(path));
	rc = o->pem ? est_key_pem(key, &buf, &len, e) : est_key_pkcs8_b64(key, &buf, &len, e);
	return put(path, buf, len, 0600, rc, e);
}

enum est_err
out_csrattrs(const struct cli_opts *o, unsigned i, const struct est_csr_wants *a,
    struct est_error *e)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0;
	enum est_err rc = EST_OK;

	out_path(o, "csr", i, "base64", path, sizeof(path));
	if (a->der != NULL)
		rc = est_der_b64(a->der, a->der_len, &buf, &len, e);
	return put(path, buf, len, 0644, rc, e);
}

enum est_err
out_generated_key(const struct cli_opts *o, EVP_PKEY *key, char *path, size_t pathlen,
    struct est_error *e)
{
	char *buf = NULL;
	size_t len = 0;
	enum est_err rc;

	snprintf(path, pathlen, "%s/key-x-x.pem", o->outdir);
	rc = est_key_pem(key, &buf, &len, e);
	return put(path, buf, len, 0600, rc, e);
}

enum est_err
out_ca_root(const struct cli_opts *o, unsigned i, X509 *root, char *path, size_t pathlen,
    struct est_error *e)
{
	STACK_OF(X509) *one = sk_X509_new_null();
	char *buf = NULL;
	size_t len = 0;
	enum est_err rc;

	if (one == NULL || !sk_X509_push(one, root)) {
		sk_X509_free(one);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	snprintf(path, pathlen, "%s/cacert-root-0-%u.pem", o->outdir, i);
	rc = est_certs_pem(one, &buf, &len, e);
	sk_X509_free(one);
	return put(path, buf, len, 0644, rc, e);
}
