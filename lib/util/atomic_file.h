/*
 * Replacing a file so that a reader sees the old one or the new one, never a
 * mix, and a crash leaves one of them (atomic_file.c): the new content goes
 * to a temporary file beside the target, with its mode and owner set before
 * the first byte, is flushed to disk, and is put in place by rename(2)
 * (replacing) or link(2) (only where nothing is); then the directory is
 * synced. The credentials, SRP and token files, the CRL file, estclient's
 * output and renewed files, and estadm's issued key and certificate all go
 * this way.
 *
 * Use: af_open, write to af.fp (or af_write), then af_commit, or af_finish
 * first to have everything on disk before any target is touched (a pair
 * committed together). af_abort at the end, always: it removes a temporary
 * that was not committed and does nothing otherwise. A failing af_ call has
 * already aborted, so nothing is left behind.
 */
#ifndef ESTKIT_UTIL_ATOMIC_FILE_H
#define ESTKIT_UTIL_ATOMIC_FILE_H

#include <limits.h>
#include <stdio.h>
#include <sys/types.h>

#include "estkit/err.h"

enum af_flag {
	/* A symbolic link at path stays one: the file it names is replaced. */
	AF_FOLLOW = 1 << 0,
	/*
	 * An existing target's mode and owner are the new file's, or af_open
	 * fails; without it the new file has the mode given and keeps the
	 * owner when it can (only root can give a file away).
	 */
	AF_LIKE_OLD = 1 << 1,
	/*
	 * The temporary is PATH.tmp, created exclusively: a second writer is
	 * refused until the first is done, so a writer that reads the old file
	 * after af_open cannot lose another's change. Without it the temporary
	 * has a unique name (.NAME.XXXXXX), and writers race to the last rename.
	 */
	AF_LOCK = 1 << 2,
};

enum af_put {
	AF_REPLACE,                     /* rename over whatever is there */
	AF_NO_OVERWRITE,                /* link; EST_ERR_EXISTS if the target exists */
};

/* One file being replaced. Zero-initialise it, or af_open it, before af_abort. */
struct atomic_file {
	char path[PATH_MAX];            /* the target (AF_FOLLOW: a link's target) */
	char tmp[PATH_MAX + 16];        /* our temporary; "" when there is none */
	FILE *fp;                       /* writes go here until af_finish */
};

/*
 * Create the temporary beside path, mode `mode` (see AF_LIKE_OLD), and open
 * af->fp on it. flags: enum af_flag values or'ed. EST_ERR_IO on failure
 * (EST_ERR_NOMEM if no FILE can be had); af is ready for af_abort either way.
 */
enum est_err af_open(struct atomic_file *af, const char *path, mode_t mode, unsigned flags,
    struct est_error *e);

/* Write data[0..len) to af->fp (after a successful af_open). */
enum est_err af_write(struct atomic_file *af, const void *data, size_t len, struct est_error *e);

/* Flush, fsync and close af->fp: the content is on disk, not yet in place. */
enum est_err af_finish(struct atomic_file *af, struct est_error *e);

/*
 * Finish (if not yet done) and put the temporary in place as `how` says,
 * then sync the directory. EST_ERR_EXISTS when AF_NO_OVERWRITE finds a file.
 */
enum est_err af_commit(struct atomic_file *af, enum af_put how, struct est_error *e);

/* Close and remove the temporary if it was not committed; idempotent. */
void af_abort(struct atomic_file *af);

/*
 * All of the above for one buffer: replace path with data[0..len), mode
 * `mode`, through a temporary of a unique name (no flags).
 */
enum est_err af_replace(const char *path, const void *data, size_t len, mode_t mode,
    struct est_error *e);

#endif
