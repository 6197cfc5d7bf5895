/*
 * Revocation for relying parties, the server's side: configuring each CA's
 * revocation URLs and OCSP responder at start-up.
 *
 * CRLs live in the store (lib/revoke). A request for a CRL checks the
 * store's revocation revision, so a revocation made by estadm or by another
 * server shows at once (h_crl.c); the CRL keeper makes new ones off the
 * event loops and keeps crl-file current even when nobody asks estd
 * (crl_keeper.c).
 */
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
