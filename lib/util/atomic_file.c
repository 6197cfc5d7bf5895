/*
 * Files replaced whole (util/atomic_file.h). The temporary lives in the
 * target's directory, so the rename or link stays on one file system and
 * is atomic; its mode and owner are set before any byte is written, so a
 * private key is never readable by others, not even for a moment.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/atomic_file.h"

/* PATH.tmp (AF_LOCK) or .NAME.XXXXXX beside af->path; false if too long. */
static bool
tmp_name(struct atomic_file *af, unsigned flags)
{
	const char *slash = strrchr(af->path, '/');
	int dirlen = slash != NULL ? (int)(slash - af->path + 1) : 0, n;

	if (flags & AF_LOCK)
		n = snprintf(af->tmp, sizeof(af->tmp), "%s.tmp", af->path);
	else
		n = snprintf(af->tmp, sizeof(af->tmp), "%.*s.%s.XXXXXX", dirlen, af->path,
		    af->path + dirlen);
	return n >= 0 && (size_t)n < sizeof(af->tmp);
}

/*
 * The new file keeps an existing target's owner and group: estd runs as its
 * own user (estd.service's User=), and a file that "sudo estadm ..." or a
 * root estclient rewrote must not become a root-owned one it cannot read.
 */
static enum est_err
set_attrs(int fd, const char *path, mode_t mode, unsigned flags, struct est_error *e)
{
	bool like_old = (flags & AF_LIKE_OLD) != 0;
	struct stat st;

	if (stat(path, &st) == 0) {
		if (like_old)
			mode = st.st_mode & 07777;
		if ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
		    fchown(fd, st.st_uid, st.st_gid) != 0 && like_old)
			return est_fail(e, EST_ERR_IO, "%s: the new file cannot keep the owner %u:%u "
			    "of the old one (%s): run as root or as that owner", path,
			    (unsigned)st.st_uid, (unsigned)st.st_gid, strerror(errno));
	} else if (errno != ENOENT && like_old) {
		return est_fail(e, EST_ERR_IO, "%s: %s", path, strerror(errno));
	}
	if (fchmod(fd, mode) != 0)
		return est_fail(e, EST_ERR_IO, "%s: cannot set the mode: %s", path, strerror(errno));
	return EST_OK;
}

enum est_err
af_open(struct atomic_file *af, const char *path, mode_t mode, unsigned flags,
    struct est_error *e)
{
	enum est_err rc;
	int fd;

	memset(af, 0, sizeof(*af));
	if (!((flags & AF_FOLLOW) && realpath(path, af->path) != NULL) &&
	    (size_t)snprintf(af->path, sizeof(af->path), "%s", path) >= sizeof(af->path))
		return est_fail(e, EST_ERR_IO, "%.200s: file name too long", path);
	if (!tmp_name(af, flags)) {
		af->tmp[0] = '\0';
		return est_fail(e, EST_ERR_IO, "%.200s: file name too long", path);
	}
	if (flags & AF_LOCK)
		fd = open(af->tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	else
		fd = mkstemp(af->tmp);
	if (fd < 0) {
		if (errno == EEXIST && (flags & AF_LOCK))
			rc = est_fail(e, EST_ERR_IO, "%s exists: another update is running, or one "
			    "was interrupted (then remove the file)", af->tmp);
		else
			rc = est_fail(e, EST_ERR_IO, "cannot write %s: %s", af->path, strerror(errno));
		af->tmp[0] = '\0';
		return rc;
	}
	if ((rc = set_attrs(fd, af->path, mode, flags, e)) == EST_OK &&
	    (af->fp = fdopen(fd, "w")) == NULL)
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
	if (rc != EST_OK) {
		close(fd);
		af_abort(af);
	}
	return rc;
}

enum est_err
af_write(struct atomic_file *af, const void *data, size_t len, struct est_error *e)
{
	enum est_err rc;

	if (len == 0 || fwrite(data, 1, len, af->fp) == len)
		return EST_OK;
	rc = est_fail(e, EST_ERR_IO, "cannot write %s: %s", af->path, strerror(errno));
	af_abort(af);
	return rc;
}

enum est_err
af_finish(struct atomic_file *af, struct est_error *e)
{
	FILE *f = af->fp;
	enum est_err rc;
	bool ok;

	if (f == NULL)
		return EST_OK;
	af->fp = NULL;
	ok = fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	if (ok)
		return EST_OK;
	rc = est_fail(e, EST_ERR_IO, "cannot write %s: %s", af->path, strerror(errno));
	af_abort(af);
	return rc;
}

/*
 * Make the rename or link durable. Best effort: the file is in place
 * already, so a failure here would report a change that was made as not
 * made, and some file systems cannot fsync a directory at all.
 */
static void
sync_dir(const char *path)
{
	char buf[PATH_MAX];
	int fd;

	snprintf(buf, sizeof(buf), "%s", path);
	if ((fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

enum est_err
af_commit(struct atomic_file *af, enum af_put how, struct est_error *e)
{
	enum est_err rc;

	if (af->tmp[0] == '\0')
		return est_fail(e, EST_ERR_INTERNAL, "%s: nothing staged to commit", af->path);
	if ((rc = af_finish(af, e)) != EST_OK)
		return rc;
	if (how == AF_REPLACE && rename(af->tmp, af->path) != 0)
		rc = est_fail(e, EST_ERR_IO, "cannot replace %s: %s", af->path, strerror(errno));
	else if (how == AF_NO_OVERWRITE && link(af->tmp, af->path) != 0)
		rc = errno == EEXIST ?
		    est_fail(e, EST_ERR_EXISTS, "%s already exists; not overwriting it", af->path) :
		    est_fail(e, EST_ERR_IO, "cannot write %s: %s", af->path, strerror(errno));
	if (rc != EST_OK) {
		af_abort(af);
		return rc;
	}
	if (how == AF_NO_OVERWRITE)
		unlink(af->tmp);
	af->tmp[0] = '\0';
	sync_dir(af->path);
	return EST_OK;
}

enum est_err
af_replace(const char *path, const void *data, size_t len, mode_t mode, struct est_error *e)
{
	struct atomic_file af;
	enum est_err rc;

	if ((rc = af_open(&af, path, mode, 0, e)) == EST_OK &&
	    (rc = af_write(&af, data, len, e)) == EST_OK)
		rc = af_commit(&af, AF_REPLACE, e);
	af_abort(&af);
	return rc;
}

void
af_abort(struct atomic_file *af)
{
	if (af->fp != NULL)
		fclose(af->fp);
	af->fp = NULL;
	if (af->tmp[0] != '\0')
		unlink(af->tmp);
	af->tmp[0] = '\0';
}
