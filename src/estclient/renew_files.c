/*
 * Replacing the files of a renewed certificate in place (estclient renew),
 * through util/atomic_file.h: the new bytes go to a temporary file in the
 * same directory, are flushed to disk and given the old file's mode and
 * owner (AF_LIKE_OLD), and replace it with one rename(2). A reader (a web
 * server, a loop of cat) sees the old file or the new one, never a mix; a
 * symbolic link stays one (AF_FOLLOW). Before the rename the old file is
 * hard-linked as NAME.previous, so the previous pair stays at hand. Files of
 * a renewal are all staged before the first is replaced.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "estclient.h"

enum est_err
rf_stage(struct rf_file *f, const char *path, const char *data, size_t len, mode_t mode,
    struct est_error *e)
{
	enum est_err rc;

	if ((rc = af_open(&f->af, path, mode, AF_FOLLOW | AF_LIKE_OLD, e)) == EST_OK &&
	    (rc = af_write(&f->af, data, len, e)) == EST_OK)
		rc = af_finish(&f->af, e);
	return rc;
}

enum est_err
rf_keep_previous(const struct rf_file *f, struct est_error *e)
{
	char prev[PATH_MAX + 16];

	if (f->af.tmp[0] == '\0' || access(f->af.path, F_OK) != 0)
		return EST_OK;
	snprintf(prev, sizeof(prev), "%s.previous", f->af.path);
	if (unlink(prev) != 0 && errno != ENOENT)
		return est_fail(e, EST_ERR_IO, "cannot replace %s: %s", prev, strerror(errno));
	if (link(f->af.path, prev) != 0)
		return est_fail(e, EST_ERR_IO, "cannot keep %s as %s: %s", f->af.path, prev,
		    strerror(errno));
	return EST_OK;
}

enum est_err
rf_commit(struct rf_file *f, struct est_error *e)
{
	if (f->af.tmp[0] == '\0')
		return EST_OK;
	return af_commit(&f->af, AF_REPLACE, e);
}

void
rf_abort(struct rf_file *f)
{
	af_abort(&f->af);
}
