/*
 * estkit revocation publishing: keeping each CA's CRL current in the store
 * (and in a file for web servers), shared by estd and estadm.
 *
 * The store is the one source of truth: it counts revocations (and
 * releases from hold) per issuer (est_store_revocation_revision) and holds
 * each CA's current CRL and its number. Whoever finds the stored CRL stale
 * -- a revocation or release since it was made, or half its validity
 * spent -- makes the next one; of several servers racing, one wins and the
 * others take its CRL.
 */
#ifndef ESTKIT_REVOKE_H
#define ESTKIT_REVOKE_H

#include <stdbool.h>
#include <time.h>

#include "estkit/ca.h"
#include "estkit/err.h"
#include "estkit/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default seconds between a CRL's thisUpdate and nextUpdate (one day). */
#define EST_CRL_DEFAULT_VALIDITY (24 * 3600)

/*
 * ca's current CRL at `now`: the stored one while it is current (no
 * revocation since it was made and less than half of validity_secs spent),
 * unless force; otherwise a new one (CRL number + 1, thisUpdate now,
 * nextUpdate now + validity_secs) recorded in the store. *made says whether
 * this call made it. A new CRL never has the thisUpdate of the one before: a
 * second CRL within one second waits for the next (Last-Modified tells
 * them apart). Caller frees *out with est_crl_rec_free().
 */
enum est_err est_crl_current(struct est_store *st, const struct est_ca *ca,
    unsigned validity_secs, time_t now, bool force, struct est_crl_rec **out, bool *made,
    struct est_error *e);

/*
 * ca's stored CRL, read only: *out is NULL when none was made yet, and
 * *current says whether est_crl_current (without force) would keep it at
 * `now` rather than make a new one. Caller frees *out with
 * est_crl_rec_free().
 */
enum est_err est_crl_stored(struct est_store *st, const struct est_ca *ca, time_t now,
    struct est_crl_rec **out, bool *current, struct est_error *e);

/*
 * Write a CRL (DER) to path, mode 0644 (an existing file keeps its owner),
 * by replacing the file in one rename, so a web server publishing it never
 * reads half a CRL.
 */
enum est_err est_crl_write_file(const char *path, const struct est_crl_rec *crl,
    struct est_error *e);

#ifdef __cplusplus
}
#endif

#endif
