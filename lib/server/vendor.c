/*
 * Vendor mode: devices enrol the first time with a certificate their
 * manufacturer installed, issued under a CA imported as "external"
 * (`estadm ca import --external NAME FILE`), which the alias lists in
 * vendor-cas.
 *
 * Invariant: a vendor certificate is accepted only on an alias that lists a
 * CA on its validated path; the external CAs join the TLS client trust (so
 * the handshake completes) but never authenticate anything by themselves,
 * and are never used to verify renewals, which need a certificate of the
 * alias's own CA.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "estkit/codec.h"
#include "estkit/log.h"
#include "estkit/store.h"
#include "server/server_int.h"

static int
collect(const struct est_ext_ca *ca, void *arg)
{
	struct est_server *srv = arg;
	const unsigned char *p = ca->der;
	struct ext_ca *grown;
	X509 *cert;

	if ((cert = d2i_X509(NULL, &p, (long)ca->der_len)) == NULL) {
		ERR_clear_error();
		log_warn("external CA %s in the store cannot be decoded; ignored", ca->name);
		return 0;
	}
	grown = realloc(srv->ext_cas, (srv->n_ext_cas + 1) * sizeof(*grown));
	if (grown == NULL || (grown[srv->n_ext_cas].name = strdup(ca->name)) == NULL) {
		if (grown != NULL)
			srv->ext_cas = grown;
		X509_free(cert);
		return 1;
	}
	srv->ext_cas = grown;
	grown[srv->n_ext_cas++].cert = cert;
	return 0;
}

static X509 *
find_ext(struct est_server *srv, const char *name)
{
	for (size_t i = 0; i < srv->n_ext_cas; i++)
		if (strcmp(srv->ext_cas[i].name, name) == 0)
			return srv->ext_cas[i].cert;
	return NULL;
}

static bool
self_signed(X509 *c)
{
	return X509_check_issued(c, c) == X509_V_OK;
}

static X509 *
find_issuer(struct est_server *srv, X509 *c)
{
	for (size_t i = 0; i < srv->n_ext_cas; i++)
		if (srv->ext_cas[i].cert != c && X509_check_issued(srv->ext_cas[i].cert, c) == X509_V_OK)
			return srv->ext_cas[i].cert;
	return NULL;
}

/* Push a reference to c unless it is there already. */
static bool
push_ref(STACK_OF(X509) *st, X509 *c)
{
	for (int i = 0; i < sk_X509_num(st); i++)
		if (sk_X509_value(st, i) == c)
			return true;
	if (!X509_up_ref(c))
		return false;
	if (sk_X509_push(st, c) <= 0) {
		X509_free(c);
		return false;
	}
	return true;
}

/* Walk from a listed CA up to an imported self-signed root. */
static enum est_err
add_path(struct est_server *srv, struct est_alias *a, const char *name, X509 *c,
    struct est_error *e)
{
	const struct est_alias_conf *ac = a->conf;
	int depth = 0;

	while (!self_signed(c)) {
		X509 *up = find_issuer(srv, c);

		if (up == NULL || ++depth > 8) {
			char *issuer = est_name_text(X509_get_issuer_name(c));
			enum est_err rc = est_fail(e, EST_ERR_CONFIG, "%s:%d: [alias %s] vendor CA %s: "
			    "its issuer \"%s\" is not imported; import it with estadm ca import "
			    "--external", srv->cfg->path, ac->line, ac->name, name,
			    issuer != NULL ? issuer : "?");
			free(issuer);
			return rc;
		}
		if (!push_ref(a->vendor_untrusted, c))
			return est_fail(e, EST_ERR_NOMEM, "out of memory");
		c = up;
	}
	if (!push_ref(a->vendor_anchors, c))
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	return EST_OK;
}

static enum est_err
alias_trust(struct est_server *srv, struct est_alias *a, struct est_error *e)
{
	const struct est_alias_conf *ac = a->conf;
	enum est_err rc;

	a->vendor_listed = sk_X509_new_null();
	a->vendor_anchors = sk_X509_new_null();
	a->vendor_untrusted = sk_X509_new_null();
	if (a->vendor_listed == NULL || a->vendor_anchors == NULL || a->vendor_untrusted == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < ac->n_vendor_cas; i++) {
		X509 *c = find_ext(srv, ac->vendor_cas[i]);

		if (c == NULL)
			return est_fail(e, EST_ERR_CONFIG, "%s:%d: [alias %s] vendor-cas: no external "
			    "CA named %s in the store; import it with estadm ca import --external %s "
			    "FILE", srv->cfg->path, ac->line, ac->name, ac->vendor_cas[i],
			    ac->vendor_cas[i]);
		if (!push_ref(a->vendor_listed, c))
			return est_fail(e, EST_ERR_NOMEM, "out of memory");
		if ((rc = add_path(srv, a, ac->vendor_cas[i], c, e)) != EST_OK)
			return rc;
	}
	return EST_OK;
}

static bool
any_vendor_alias(const struct est_server *srv)
{
	for (size_t i = 0; i < srv->n_aliases; i++)
		if (srv->aliases[i].conf->vendor_mode)
			return true;
	return false;
}

enum est_err
vendor_load(struct est_server *srv, struct est_error *e)
{
	struct est_store *st = NULL;
	enum est_err rc;

	if (!any_vendor_alias(srv))
		return EST_OK;
	if ((rc = est_store_open(srv->cfg->store_uri, &st, e)) != EST_OK)
		return rc;
	rc = est_store_list_ext_ca(st, collect, srv, e);
	est_store_close(st);
	if (rc != EST_OK)
		return rc;
	for (size_t i = 0; i < srv->n_aliases; i++)
		if (srv->aliases[i].conf->vendor_mode &&
		    (rc = alias_trust(srv, &srv->aliases[i], e)) != EST_OK)
			return rc;
	/* Only the CAs some alias reached join the handshake's trust. */
	for (size_t i = 0; i < srv->n_aliases; i++) {
		const struct est_alias *a = &srv->aliases[i];

		for (int j = 0; a->vendor_anchors != NULL && j < sk_X509_num(a->vendor_anchors); j++)
			if (X509_STORE_add_cert(srv->client_trust, sk_X509_value(a->vendor_anchors, j)) != 1)
				ERR_clear_error(); /* shared by two aliases */
		for (int j = 0; a->vendor_listed != NULL && j < sk_X509_num(a->vendor_listed); j++)
			if (X509_STORE_add_cert(srv->client_trust, sk_X509_value(a->vendor_listed, j)) != 1)
				ERR_clear_error();
	}
	return EST_OK;
}

void
vendor_free(struct est_server *srv)
{
	for (size_t i = 0; i < srv->n_aliases; i++) {
		sk_X509_pop_free(srv->aliases[i].vendor_listed, X509_free);
		sk_X509_pop_free(srv->aliases[i].vendor_anchors, X509_free);
		sk_X509_pop_free(srv->aliases[i].vendor_untrusted, X509_free);
	}
	for (size_t i = 0; i < srv->n_ext_cas; i++) {
		free(srv->ext_cas[i].name);
		X509_free(srv->ext_cas[i].cert);
	}
	free(srv->ext_cas);
}

enum est_err
vendor_verify(struct est_req *r, X509 **cert, struct est_error *e)
{
	const struct est_alias *a = r->alias;
	STACK_OF(X509) *untrusted;
	STACK_OF(X509) *sent;
	X509 *peer;
	enum est_err rc;

	if ((peer = r->tls->peer) == NULL)
		return est_fail(e, EST_ERR_FORBIDDEN, "alias %s needs the device's vendor certificate "
		    "as TLS client certificate", a->conf->name);
	if ((untrusted = sk_X509_dup(a->vendor_untrusted)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	sent = r->tls->chain;
	for (int i = 0; sent != NULL && i < sk_X509_num(sent); i++)
		if (sk_X509_push(untrusted, sk_X509_value(sent, i)) <= 0) {
			sk_X509_free(untrusted);
			return est_fail(e, EST_ERR_NOMEM, "out of memory");
		}
	rc = est_chain_verify(a->vendor_anchors, untrusted, peer, time(NULL), a->vendor_listed, e);
	sk_X509_free(untrusted);
	if (rc == EST_OK)
		*cert = peer;
	return rc;
}
