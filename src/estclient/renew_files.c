/*
 * Replacing the files of a renewed certificate in place (estclient renew):
 * the new bytes go to a temporary file in the same directory, are flushed to
 * disk and given the old file's mode and owner, and replace it with one
 * rename(2). A reader (a web server, a loop of cat) sees the old file or the
 * new one, never a mix. Before the rename the old file is hard-linked as
 * NAME.previous, so the previous pair stays at hand; the directory is synced
 * after. Files of a renewal are all staged before the first is replaced.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "estclient.h"

static bool
write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		data += n;
		len -= (size_t)n;
	}
	return true;
}

/* The temporary file's name: .NAME.XXXXXX beside path. */
static bool
temp_name(const char *path, char *tmp, size_t len)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash != NULL ? (int)(slash - path + 1) : 0;

	return snprintf(tmp, len, "%.*s.%s.XXXXXX", dirlen, path,
	    slash != NULL ? slash + 1 : path) < (int)len;
}

/* The mode and owner the new file takes: the old file's, else mode. */
static enum est_err
apply_owner(int fd, const char *path, mode_t mode, struct est_error *e)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		if (errno != ENOENT)
			return est_fail(e, EST_ERR_IO, "%s: %s", path, strerror(errno));
		return fchmod(fd, mode) == 0 ? EST_OK :
		    est_fail(e, EST_ERR_IO, "%s: cannot set the mode: %s", path, strerror(errno));
	}
	if ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
	    fchown(fd, st.st_uid, st.st_gid) != 0)
		return est_fail(e, EST_ERR_IO, "%s: the new file cannot keep the owner %u:%u of the "
		    "old one (%s): run as root or as that owner", path, (unsigned)st.st_uid,
		    (unsigned)st.st_gid, strerror(errno));
	if (fchmod(fd, st.st_mode & 07777) != 0)
		return est_fail(e, EST_ERR_IO, "%s: cannot set the mode: %s", path, strerror(errno));
	return EST_OK;
}

enum est_err
rf_stage(struct rf_file *f, const char *path, const char *data, size_t len, mode_t mode,
    struct est_error *e)
{
	enum est_err rc;
	int fd;

	memset(f, 0, sizeof(*f));
	/* A symbolic link stays one: its target is what gets replaced. */
	if (realpath(path, f->path) == NULL &&
	    snprintf(f->path, sizeof(f->path), "%s", path) >= (int)sizeof(f->path))
		return est_fail(e, EST_ERR_IO, "%.200s: file name too long", path);
	path = f->path;
	if (!temp_name(path, f->tmp, sizeof(f->tmp)))
		return est_fail(e, EST_ERR_IO, "%.200s: file name too long", path);
	if ((fd = mkstemp(f->tmp)) < 0)
		return est_fail(e, EST_ERR_IO, "cannot write beside %s: %s", path, strerror(errno));
	f->staged = true;
	if ((rc = apply_owner(fd, path, mode, e)) == EST_OK &&
	    (!write_all(fd, data, len) || fsync(fd) != 0))
		rc = est_fail(e, EST_ERR_IO, "cannot write %s: %s", f->tmp, strerror(errno));
	if (close(fd) != 0 && rc == EST_OK)
		rc = est_fail(e, EST_ERR_IO, "cannot write %s: %s", f->tmp, strerror(errno));
	if (rc != EST_OK)
		rf_abort(f);
	return rc;
}

/* fsync the directory that holds path, so the rename survives a crash. */
static void
sync_dir(const char *path)
{
	char buf[PATH_MAX];
	int fd;

	snprintf(buf, sizeof(buf), "%s", path);
	if ((fd = open(dirname(buf), O_RDONLY | O_DIRECTORY)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

enum est_err
rf_keep_previous(const struct rf_file *f, struct est_error *e)
{
	char prev[PATH_MAX + 16];

	if (!f->staged || access(f->path, F_OK) != 0)
		return EST_OK;
	snprintf(prev, sizeof(prev), "%s.previous", f->path);
	if (unlink(prev) != 0 && errno != ENOENT)
		return est_fail(e, EST_ERR_IO, "cannot replace %s: %s", prev, strerror(errno));
	if (link(f->path, prev) != 0)
		return est_fail(e, EST_ERR_IO, "cannot keep %s as %s: %s", f->path, prev,
		    strerror(errno));
	return EST_OK;
}

enum est_err
rf_commit(struct rf_file *f, struct est_error *e)
{
	if (!f->staged)
		return EST_OK;
	if (rename(f->tmp, f->path) != 0)
		return est_fail(e, EST_ERR_IO, "cannot replace %s: %s", f->path, strerror(errno));
	f->staged = false;
	sync_dir(f->path);
	return EST_OK;
}

void
rf_abort(struct rf_file *f)
{
	if (f->staged)
		unlink(f->tmp);
	f->staged = false;
}
