/*
 * Revocation for relying parties, the server's side: configuring each CA's
 * revocation URLs and OCSP responder at start-up, and keeping CRLs current.
 *
 * CRLs live in the store (lib/revoke). A request for a CRL checks the
 * store's revocation revision, so a revocation made by estadm or by another
 * server shows at once; the first worker also checks on a timer, so the CRL
 * file a web server publishes follows revocations and is renewed well
 * before its nextUpdate even when nobody asks estd.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "estkit/log.h"
#include "estkit/revoke.h"
#include "server/server_int.h"

enum est_err
revocation_load(struct est_server *srv, struct est_error *e)
{
	enum est_err rc;

	for (size_t i = 0; i < srv->n_cas; i++) {
		const struct est_ca_conf *cc = &srv->cfg->cas[i];
		struct est_ca_revocation rv = {
			.crl_url = cc->crl_url, .ocsp_url = cc->ocsp_url,
			.ca_issuers_url = cc->ca_issuers_url, .ocsp_cert_path = cc->ocsp_cert_path,
			.ocsp_key_path = cc->ocsp_key_path,
		};

		struct est_error inner = { 0 };

		if ((rc = est_ca_set_revocation(srv->cas[i], &rv, &inner)) != EST_OK)
			return est_fail(e, rc, "%s:%d: [ca %s] %s", srv->cfg->path, cc->line, cc->name,
			    inner.msg);
	}
	return EST_OK;
}

/* ca's CRL, current at now; publish writes crl-file also when it was not made now. */
static enum est_err
current(struct est_worker *w, size_t i, bool publish, struct est_crl_rec **out,
    struct est_error *e)
{
	const struct est_ca_conf *cc = &w->srv->cfg->cas[i];
	struct est_crl_rec *crl = NULL;
	enum est_err rc;
	bool made = false;

	rc = est_crl_current(w->store, w->srv->cas[i], cc->crl_validity_hours * 3600u,
	    time(NULL), false, &crl, &made, e);
	if (rc != EST_OK)
		return rc;
	if (made)
		log_info("CA %s: made CRL number %lld", cc->name, (long long)crl->crl_number);
	if ((made || publish) && cc->crl_file != NULL &&
	    (rc = est_crl_write_file(cc->crl_file, crl, e)) != EST_OK) {
		est_crl_rec_free(crl);
		return rc;
	}
	*out = crl;
	return EST_OK;
}

enum est_err
revocation_crl(struct est_worker *w, size_t ca_index, struct est_crl_rec **out,
    struct est_error *e)
{
	return current(w, ca_index, false, out, e);
}

/* Whether the CRL file is missing, so the first check writes it. */
static bool
file_missing(const char *path)
{
	struct stat st;

	return path != NULL && stat(path, &st) != 0;
}

static void
check_all(struct est_worker *w, bool first)
{
	for (size_t i = 0; i < w->srv->n_cas; i++) {
		struct est_crl_rec *crl = NULL;
		struct est_error e = { 0 };

		if (!est_ca_can_issue(w->srv->cas[i]))
			continue;
		if (current(w, i, first || file_missing(w->srv->cfg->cas[i].crl_file), &crl,
		    &e) != EST_OK)
			log_warn("CA %s: cannot keep the CRL current: %s", w->srv->cfg->cas[i].name,
			    e.msg);
		est_crl_rec_free(crl);
	}
}

static void
crl_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct est_worker *w = arg;
	struct timeval tv = { .tv_sec = w->srv->cfg->crl_check_interval };

	(void)fd;
	(void)what;
	/* The first check also rewrites crl-file, which a previous run may have left behind. */
	check_all(w, !w->crl_published);
	w->crl_published = true;
	evtimer_add(w->crl_timer, &tv);
}

enum est_err
revocation_timer_start(struct est_worker *w, struct est_error *e)
{
	struct timeval now = { 0 };

	if ((w->crl_timer = evtimer_new(w->base, crl_timer_cb, w)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "cannot create the CRL timer");
	/*
	 * The first check runs as soon as the worker serves: after privileges
	 * are dropped, and never for `estd -n`, which only checks.
	 */
	evtimer_add(w->crl_timer, &now);
	return EST_OK;
}
