/*
 * Certificates and keys on disk (PEM).
 *
 * Files are created with O_EXCL, so an existing certificate or key is never
 * overwritten, and get exactly the mode asked for whatever the umask. A file
 * whose write failed is removed, so a later run does not trip over it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "ca/ca_int.h"
#include "estkit/ca.h"

/* Write, flush to disk and close fp. */
static enum est_err
write_close(FILE *fp, int (*writer)(FILE *fp, void *arg), void *arg, const char *what,
    const char *path, struct est_error *e)
{
	enum est_err rc = EST_OK;

	if (writer(fp, arg) != 1)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot encode %s for %s", what, path);
	else if (fflush(fp) != 0 || fsync(fileno(fp)) != 0)
		rc = est_fail(e, EST_ERR_IO, "cannot write %s %s: %s", what, path,
		    strerror(errno));
	if (fclose(fp) != 0 && rc == EST_OK)
		rc = est_fail(e, EST_ERR_IO, "cannot write %s %s: %s", what, path,
		    strerror(errno));
	return rc;
}

enum est_err
ca_file_write(const char *path, mode_t mode, int (*writer)(FILE *fp, void *arg),
    void *arg, const char *what, struct est_error *e)
{
	enum est_err rc;
	FILE *fp;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd == -1 && errno == EEXIST)
		return est_fail(e, EST_ERR_EXISTS, "%s already exists; not overwriting it "
		    "(remove it first or choose another path)", path);
	if (fd == -1)
		return est_fail(e, EST_ERR_IO, "cannot create %s %s: %s", what, path,
		    strerror(errno));
	/* open() applied the umask; a certificate must stay readable by others. */
	if (fchmod(fd, mode) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		est_fail(e, EST_ERR_IO, "cannot create %s %s: %s", what, path, strerror(errno));
		close(fd);
		unlink(path);
		return EST_ERR_IO;
	}
	if ((rc = write_close(fp, writer, arg, what, path, e)) != EST_OK)
		unlink(path);
	return rc;
}

static int
write_cert(FILE *fp, void *cert)
{
	return PEM_write_X509(fp, cert);
}

enum est_err
est_cert_write(const char *path, X509 *cert, struct est_error *e)
{
	return ca_file_write(path, 0644, write_cert, cert, "certificate", e);
}
