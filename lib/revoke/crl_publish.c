/*
 * Keeping a CA's CRL current (include/estkit/revoke.h): deciding when the
 * stored CRL is stale, collecting the revoked certificates from the store,
 * having lib/ca sign the next CRL and recording it under the next number.
 *
 * The revision is read before the revoked certificates are listed, so a
 * CRL always holds at least the revocations its revision counts, and none
 * of the certificates released from hold by then; a change made meanwhile
 * only makes the next check renew it again.
 *
 * est_crl_stored only reads (what estd's event loops may do);
 * est_crl_current also signs and commits a new CRL when the stored one is
 * stale, so estd calls it only from its CRL keeper (lib/server/crl_keeper.c).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "estkit/codec.h"
#include "estkit/log.h"
#include "estkit/revoke.h"
#include "util/atomic_file.h"

struct entries {
	struct est_crl_entry *v;
	size_t n, cap;
	bool nomem;
};

static int
collect(const struct est_cert_rec *rec, void *arg)
{
	struct entries *l = arg;
	struct est_crl_entry *en;

	if (l->n == l->cap) {
		size_t cap = l->cap != 0 ? 2 * l->cap : 64;
		struct est_crl_entry *p = realloc(l->v, cap * sizeof(*p));

		if (p == NULL) {
			l->nomem = true;
			return 1;
		}
		l->v = p;
		l->cap = cap;
	}
	en = &l->v[l->n];
	if ((en->serial = strdup(rec->serial)) == NULL) {
		l->nomem = true;
		return 1;
	}
	en->revoked_at = rec->revoked_at;
	en->reason = rec->revocation_reason;
	l->n++;
	return 0;
}

static void
entries_free(struct entries *l)
{
	for (size_t i = 0; i < l->n; i++)
		free((char *)l->v[i].serial);
	free(l->v);
}

static bool
is_current(const struct est_crl_rec *cur, int64_t revision, time_t now)
{
	return cur->revision == revision &&
	    now < cur->this_update + (cur->next_update - cur->this_update) / 2;
}

/* Sign and record CRL number `number` holding every revocation of issuer. */
static enum est_err
make_crl(struct est_store *st, const struct est_ca *ca, const char *issuer, int64_t number,
    int64_t revision, unsigned validity_secs, time_t now, struct est_crl_rec **out,
    struct est_error *e)
{
	struct est_cert_filter f = { .issuer = issuer, .only_revoked = true };
	struct entries l = { 0 };
	struct est_crl_rec *rec;
	enum est_err rc;

	if ((rec = calloc(1, sizeof(*rec))) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	rec->crl_number = number;
	rec->revision = revision;
	rec->this_update = now;
	rec->next_update = now + validity_secs;
	if ((rc = est_store_list_certs(st, &f, collect, &l, e)) == EST_OK && l.nomem)
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory listing revoked certificates");
	if (rc == EST_OK)
		rc = est_ca_make_crl(ca, number, now, now + validity_secs, l.v, l.n, &rec->der,
		    &rec->der_len, e);
	if (rc == EST_OK)
		rc = est_store_put_crl(st, issuer, rec, e);
	entries_free(&l);
	if (rc != EST_OK) {
		est_crl_rec_free(rec);
		return rc;
	}
	*out = rec;
	return EST_OK;
}

/*
 * Wait for the second after now. Two CRLs never share a thisUpdate, so
 * Last-Modified (one-second resolution) tells every CRL apart and a client's
 * If-Modified-Since never hides a newer one. Only a second CRL within one
 * second waits, at most a second.
 */
static time_t
next_second(time_t now)
{
	struct timespec ts;

	while (clock_gettime(CLOCK_REALTIME, &ts) == 0 && ts.tv_sec <= now) {
		struct timespec rest = { 0, 1000000000L - ts.tv_nsec };

		nanosleep(&rest, NULL);
	}
	return now + 1;
}

enum est_err
est_crl_stored(struct est_store *st, const struct est_ca *ca, time_t now,
    struct est_crl_rec **out, bool *current, struct est_error *e)
{
	struct est_crl_rec *cur = NULL;
	char *issuer;
	int64_t revision = 0;
	enum est_err rc;

	*out = NULL;
	*current = false;
	if ((issuer = est_name_text(X509_get_subject_name(est_ca_cert(ca)))) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	/* The revision first, as est_crl_current reads it. */
	if ((rc = est_store_revocation_revision(st, issuer, &revision, e)) == EST_OK &&
	    (rc = est_store_get_crl(st, issuer, &cur, e)) == EST_ERR_NOTFOUND)
		rc = EST_OK;
	free(issuer);
	if (rc != EST_OK) {
		est_crl_rec_free(cur);
		return rc;
	}
	*current = cur != NULL && is_current(cur, revision, now);
	*out = cur;
	return EST_OK;
}

/*
 * How far a stored CRL's thisUpdate may lie ahead of this clock and still be
 * followed (another server's clock, or this one set back): beyond it the
 * stored time is taken as wrong.
 */
#define MAX_CLOCK_SKEW 300

/*
 * The thisUpdate of the CRL after cur: later than cur's, so a newer CRL
 * never looks older -- OpenSSL picks the CRL with the latest thisUpdate when
 * it holds several, and Last-Modified/If-Modified-Since compare it -- even
 * when cur was made by a server whose clock is ahead of ours.
 */
static time_t
after_previous(const struct est_crl_rec *cur, time_t now)
{
	if (cur->this_update == (int64_t)now)
		return next_second(now);
	if (cur->this_update > (int64_t)now && cur->this_update - (int64_t)now <= MAX_CLOCK_SKEW)
		return (time_t)cur->this_update + 1;
	if (cur->this_update > (int64_t)now)
		log_warn("CRL number %lld has a thisUpdate %lld seconds ahead of this clock; the "
		    "next one takes this clock's time", (long long)cur->crl_number,
		    (long long)(cur->this_update - (int64_t)now));
	return now;
}

/* Attempts when other writers keep winning the race for the next number. */
#define RACE_ATTEMPTS 5

enum est_err
est_crl_current(struct est_store *st, const struct est_ca *ca, unsigned validity_secs,
    time_t now, bool force, struct est_crl_rec **out, bool *made, struct est_error *e)
{
	struct est_crl_rec *cur = NULL, *next = NULL;
	char *issuer;
	int64_t revision = 0;
	enum est_err rc;

	if (validity_secs == 0)
		validity_secs = EST_CRL_DEFAULT_VALIDITY;
	if ((issuer = est_name_text(X509_get_subject_name(est_ca_cert(ca)))) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	*made = false;
	if ((rc = est_store_revocation_revision(st, issuer, &revision, e)) != EST_OK)
		goto out;
	for (int attempt = 0; attempt < RACE_ATTEMPTS; attempt++) {
		est_crl_rec_free(cur);
		cur = NULL;
		rc = est_store_get_crl(st, issuer, &cur, e);
		if (rc != EST_OK && rc != EST_ERR_NOTFOUND)
			goto out;
		/*
		 * Another writer's CRL made at our revision or later is as good as
		 * ours (it may have won the race below); one made earlier is not.
		 */
		if (cur != NULL && ((!force && is_current(cur, revision, now)) ||
		    (attempt > 0 && cur->revision >= revision))) {
			rc = EST_OK;
			goto out;
		}
		if (cur != NULL)
			now = after_previous(cur, now);
		rc = make_crl(st, ca, issuer, cur != NULL ? cur->crl_number + 1 : 1, revision,
		    validity_secs, now, &next, e);
		if (rc != EST_ERR_EXISTS)
			break;
	}
	if (rc == EST_OK) {
		est_crl_rec_free(cur);
		cur = next;
		*made = true;
	}
out:
	free(issuer);
	if (rc != EST_OK) {
		est_crl_rec_free(cur);
		return rc;
	}
	*out = cur;
	return EST_OK;
}

enum est_err
est_crl_write_file(const char *path, const struct est_crl_rec *crl, struct est_error *e)
{
	/* The temporary's name is unique: several threads may publish at once. */
	return af_replace(path, crl->der, crl->der_len, 0644, e);
}
