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
 * alias's own CA. The external CAs an alias lists in ra-cas are loaded the
 * same way, into their own sets: they vouch only for RA certificates.
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

/* The three sets of one list of external CAs (vendor-cas or ra-cas), borrowed. */
struct trust_sets {
	const char *key;                  /* the configuration key, for messages */
	char *const *names;
	size_t n;
	STACK_OF(X509) **listed, **anchors, **untrusted;
};

/* Walk from a listed CA up to an imported self-signed root. */
static enum est_err
add_path(struct est_server *srv, struct est_alias *a, const struct trust_sets *t,
    const char *name, X509 *c, struct est_error *e)
{
	const struct est_alias_conf *ac = a->conf;
	int depth = 0;

	while (!self_signed(c)) {
		X509 *up = find_issuer(srv, c);

		if (up == NULL || ++depth > 8) {
			char *issuer = est_name_text(X509_get_issuer_name(c));
			enum est_err rc = est_fail(e, EST_ERR_CONFIG, "%s:%d: [alias %s] %s: CA %s: "
			    "its issuer \"%s\" is not imported; import it with estadm ca import "
			    "--external", srv->cfg->path, ac->line, ac->name, t->key, name,
			    issuer != NULL ? issuer : "?");
			free(issuer);
			return rc;
		}
		if (!push_ref(*t->untrusted, c))
			return est_fail(e, EST_ERR_NOMEM, "out of memory");
		c = up;
	}
	if (!push_ref(*t->anchors, c))
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	return EST_OK;
}

static enum est_err
alias_trust(struct est_server *srv, struct est_alias *a, const struct trust_sets *t,
    struct est_error *e)
{
	const struct est_alias_conf *ac = a->conf;
	enum est_err rc;

	*t->listed = sk_X509_new_null();
	*t->anchors = sk_X509_new_null();
	*t->untrusted = sk_X509_new_null();
	if (*t->listed == NULL || *t->anchors == NULL || *t->untrusted == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < t->n; i++) {
		X509 *c = find_ext(srv, t->names[i]);

		if (c == NULL)
			return est_fail(e, EST_ERR_CONFIG, "%s:%d: [alias %s] %s: no external "
			    "CA named %s in the store; import it with estadm ca import --external %s "
			    "FILE", srv->cfg->path, ac->line, ac->name, t->key, t->names[i],
			    t->names[i]);
		if (!push_ref(*t->listed, c))
			return est_fail(e, EST_ERR_NOMEM, "out of memory");
		if ((rc = add_path(srv, a, t, t->names[i], c, e)) != EST_OK)
			return rc;
	}
	return EST_OK;
}

/* Both lists of an alias, where it has them. */
static enum est_err
alias_trusts(struct est_server *srv, struct est_alias *a, struct est_error *e)
{
	const struct est_alias_conf *ac = a->conf;
	struct trust_sets vendor = { "vendor-cas", ac->vendor_cas, ac->n_vendor_cas,
	    &a->vendor_listed, &a->vendor_anchors, &a->vendor_untrusted };
	struct trust_sets ra = { "ra-cas", ac->ra_cas, ac->n_ra_cas,
	    &a->ra_listed, &a->ra_anchors, &a->ra_untrusted };
	enum est_err rc;

	if (ac->vendor_mode && (rc = alias_trust(srv, a, &vendor, e)) != EST_OK)
		return rc;
	if (ac->n_ra_cas > 0 && (rc = alias_trust(srv, a, &ra, e)) != EST_OK)
		return rc;
	return EST_OK;
}

/* Let a set's CAs complete the TLS handshake (the aliases decide what they mean). */
static void
trust_for_tls(struct est_server *srv, STACK_OF(X509) *set)
{
	for (int j = 0; set != NULL && j < sk_X509_num(set); j++)
		if (X509_STORE_add_cert(srv->client_trust, sk_X509_value(set, j)) != 1)
			ERR_clear_error(); /* shared by two aliases */
}

static bool
any_external_alias(const struct est_server *srv)
{
	for (size_t i = 0; i < srv->n_aliases; i++)
		if (srv->aliases[i].conf->vendor_mode || srv->aliases[i].conf->n_ra_cas > 0)
			return true;
	return false;
}

enum est_err
vendor_load(struct est_server *srv, struct est_error *e)
{
	struct est_store *st = NULL;
	enum est_err rc;

	if (!any_external_alias(srv))
		return EST_OK;
	if ((rc = est_store_open(srv->cfg->store_uri, &st, e)) != EST_OK)
		return rc;
	rc = est_store_list_ext_ca(st, collect, srv, e);
	est_store_close(st);
	if (rc != EST_OK)
		return rc;
	for (size_t i = 0; i < srv->n_aliases; i++)
		if ((rc = alias_trusts(srv, &srv->aliases[i], e)) != EST_OK)
			return rc;
	/* Only the CAs some alias reached join the handshake's trust. */
	for (size_t i = 0; i < srv->n_aliases; i++) {
		const struct est_alias *a = &srv->aliases[i];

		trust_for_tls(srv, a->vendor_anchors);
		trust_for_tls(srv, a->vendor_listed);
		trust_for_tls(srv, a->ra_anchors);
		trust_for_tls(srv, a->ra_listed);
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
		sk_X509_pop_free(srv->aliases[i].ra_listed, X509_free);
		sk_X509_pop_free(srv->aliases[i].ra_anchors, X509_free);
		sk_X509_pop_free(srv->aliases[i].ra_untrusted, X509_free);
	}
	for (size_t i = 0; i < srv->n_ext_cas; i++) {
		free(srv->ext_cas[i].name);
		X509_free(srv->ext_cas[i].cert);
	}
	free(srv->ext_cas);
}

/* The peer's certificate under one set: anchors, intermediates, a listed CA on the path. */
static enum est_err
verify_under(struct est_req *r, STACK_OF(X509) *listed, STACK_OF(X509) *anchors,
    STACK_OF(X509) *intermediates, X509 **cert, struct est_error *e)
{
	STACK_OF(X509) *untrusted;
	STACK_OF(X509) *sent;
	X509 *peer;
	enum est_err rc;

	if ((peer = r->tls->peer) == NULL)
		return est_fail(e, EST_ERR_FORBIDDEN, "alias %s needs a TLS client certificate",
		    r->alias->conf->name);
	if ((untrusted = sk_X509_dup(intermediates)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	sent = r->tls->chain;
	for (int i = 0; sent != NULL && i < sk_X509_num(sent); i++)
		if (sk_X509_push(untrusted, sk_X509_value(sent, i)) <= 0) {
			sk_X509_free(untrusted);
			return est_fail(e, EST_ERR_NOMEM, "out of memory");
		}
	/* The handshake validated the path already (tls.c): its signatures are not checked twice. */
	rc = est_chain_verify(anchors, untrusted, peer, r->tls->verified, time(NULL), listed, e);
	sk_X509_free(untrusted);
	if (rc == EST_OK)
		*cert = peer;
	return rc;
}

enum est_err
vendor_verify(struct est_req *r, X509 **cert, struct est_error *e)
{
	const struct est_alias *a = r->alias;

	if (r->tls->peer == NULL)
		return est_fail(e, EST_ERR_FORBIDDEN, "alias %s needs the device's vendor certificate "
		    "as TLS client certificate", a->conf->name);
	return verify_under(r, a->vendor_listed, a->vendor_anchors, a->vendor_untrusted, cert, e);
}

enum est_err
vendor_verify_ra(struct est_req *r, X509 **cert, struct est_error *e)
{
	const struct est_alias *a = r->alias;

	if (a->ra_anchors == NULL)
		return est_fail(e, EST_ERR_FORBIDDEN, "alias %s lists no ra-cas", a->conf->name);
	return verify_under(r, a->ra_listed, a->ra_anchors, a->ra_untrusted, cert, e);
}
