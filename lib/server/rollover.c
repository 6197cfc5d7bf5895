/*
 * A CA rolling over its key (RFC 7030 §4.1.3; estadm ca rollover): the new
 * CA's [ca] section names the old one as predecessor. Aliases of the old CA
 * then
 *   - issue under the new CA from its issue-from time (rollover_issuer);
 *   - serve in /cacerts the new root, NewWithOld, OldWithNew and the old
 *     chain (OldWithOld) until the old CA certificate expires, then the new
 *     chain alone (an expired certificate would make clients refuse the
 *     whole answer);
 *   - keep accepting, for renewal, certificates issued under either key
 *     (authn.c), while the old CA keeps its CRL and OCSP (revocation.c
 *     treats it as any configured CA).
 * The rollover certificates are checked at start-up against both CAs' keys
 * and names.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "estkit/codec.h"
#include "estkit/log.h"
#include "server/server_int.h"

static struct est_ca *
ca_named(struct est_server *srv, const char *name)
{
	for (size_t i = 0; i < srv->n_cas; i++)
		if (strcmp(est_ca_name(srv->cas[i]), name) == 0)
			return srv->cas[i];
	return NULL;
}

/* Base64 certs-only of certs into *body. */
static enum est_err
encode(STACK_OF(X509) *certs, char **body, size_t *len, struct est_error *e)
{
	unsigned char *der = NULL;
	size_t derlen;
	enum est_err rc;

	if ((rc = est_certs_only_encode(certs, &der, &derlen, e)) != EST_OK)
		return rc;
	rc = est_b64_encode(der, derlen, true, body, len, e);
	OPENSSL_free(der);
	return rc;
}

static bool
push_all(STACK_OF(X509) *to, STACK_OF(X509) *from)
{
	for (int i = 0; i < sk_X509_num(from); i++)
		if (!sk_X509_push(to, sk_X509_value(from, i)))
			return false;
	return true;
}

/* /cacerts of an alias whose CA rolls over, during and after the overlap. */
static enum est_err
rollover_bodies(struct est_alias *a, struct est_ca *old, struct est_ca *next, X509 *own,
    X509 *nwo, struct est_error *e)
{
	STACK_OF(X509) *during = sk_X509_new_null();
	struct tm tm;
	enum est_err rc;

	if (during == NULL || !push_all(during, est_ca_chain(next)) || !sk_X509_push(during, nwo) ||
	    !sk_X509_push(during, own) || !push_all(during, est_ca_chain(old))) {
		sk_X509_free(during);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	free(a->cacerts_body);
	a->cacerts_body = NULL;
	if ((rc = encode(during, &a->cacerts_body, &a->cacerts_len, e)) == EST_OK)
		rc = encode(est_ca_chain(next), &a->cacerts_after_body, &a->cacerts_after_len, e);
	sk_X509_free(during);
	if (rc == EST_OK && ASN1_TIME_to_tm(X509_get0_notAfter(est_ca_cert(old)), &tm) == 1)
		a->cacerts_switch = timegm(&tm);
	ERR_clear_error();
	return rc;
}

/* One successor CA: check its rollover certificates, wire the old CA's aliases. */
static enum est_err
wire(struct est_server *srv, const struct est_ca_conf *cc, struct est_error *e)
{
	struct est_ca *next = ca_named(srv, cc->name), *old = ca_named(srv, cc->predecessor);
	STACK_OF(X509) *certs = NULL;
	X509 *own = NULL, *nwo = NULL;
	struct est_error sub = { 0 };
	enum est_err rc;

	if (next == NULL || old == NULL)
		return est_fail(e, EST_ERR_INTERNAL, "CA %s: rollover CAs missing after config check",
		    cc->name);
	if ((rc = est_certs_read(cc->rollover_path, &certs, e)) != EST_OK)
		return rc;
	if ((rc = est_ca_rollover_check(old, next, certs, &own, &nwo, &sub)) != EST_OK) {
		sk_X509_pop_free(certs, X509_free);
		return est_fail(e, rc, "%s: %s", cc->rollover_path, sub.msg);
	}
	for (size_t i = 0; rc == EST_OK && i < srv->n_aliases; i++) {
		struct est_alias *a = &srv->aliases[i];

		if (a->ca == old) {
			a->next_ca = next;
			a->next_from = (time_t)cc->issue_from;
		}
		if (a->cacerts_ca == old)
			rc = rollover_bodies(a, old, next, own, nwo, e);
	}
	if (rc == EST_OK)
		log_info("CA %s succeeds CA %s: /cacerts carries both and the rollover certificates; "
		    "new certificates from %s", cc->name, cc->predecessor,
		    cc->issue_from_text != NULL ? cc->issue_from_text : "now");
	X509_free(own);
	X509_free(nwo);
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

enum est_err
rollover_load(struct est_server *srv, struct est_error *e)
{
	enum est_err rc;

	for (size_t i = 0; i < srv->cfg->n_cas; i++)
		if (srv->cfg->cas[i].predecessor != NULL &&
		    (rc = wire(srv, &srv->cfg->cas[i], e)) != EST_OK)
			return rc;
	return EST_OK;
}

struct est_ca *
rollover_issuer(const struct est_alias *a, time_t now)
{
	return a->next_ca != NULL && now >= a->next_from ? a->next_ca : a->ca;
}

void
rollover_cacerts(const struct est_alias *a, time_t now, const char **body, size_t *len)
{
	if (a->cacerts_after_body != NULL && now >= a->cacerts_switch) {
		*body = a->cacerts_after_body;
		*len = a->cacerts_after_len;
	} else {
		*body = a->cacerts_body;
		*len = a->cacerts_len;
	}
}
