/*
 * The policy step as estd runs it: policy_decide fed from the request, and
 * the store's end entities as the owners of names.
 *
 * Ownership: a subject equal to a registered DN (in any RDN order, as
 * X509_NAME_cmp compares), or a name equal to a registered one, belongs to
 * that end entity. Names are compared as clients and relying parties match
 * them, not byte for byte: host names (DNS entries, and a CN that looks
 * like one, which TLS clients fall back to) and e-mail addresses ignoring
 * ASCII case, surrounding spaces and a host name's final dot; IP addresses
 * by value, an IPv4-mapped IPv6 one as its IPv4 address, whether written as
 * an IP entry, a DNS entry or a CN; URIs ignoring case. A wildcard is taken
 * for every name it covers, and a CN without a dot for a registered
 * single-label host name. Found in review: "DEV-B.corp.example", a trailing
 * space or DNS:10.0.0.5 had passed the byte-for-byte checks; "10.0.0.5.",
 * *.corp.example and CN=printer had passed the index. Names become keys
 * (lib/codec/namekeys.h) under which the store indexes every end entity,
 * so a request costs one index look-up per name it asks for, however many
 * end entities are registered (a scan of them all took 73 ms per enrolment
 * at 100,000).
 */
#include <stdio.h>

#include "codec/namekeys.h"
#include "estkit/codec.h"
#include "server/server_int.h"

struct owner_walk {
	const X509_NAME *subject;
	struct codec_name_keys asked;
	int64_t self;
	int64_t ee_id;
	char who[80];
};

static int
visit(const struct est_ee *ee, void *arg)
{
	struct owner_walk *w = arg;
	const unsigned char *p = ee->subject_der;
	X509_NAME *dn;
	GENERAL_NAMES *san = NULL;
	struct codec_name_keys held = { 0 };
	bool owns;

	if (ee->id == w->self)
		return 0;
	dn = d2i_X509_NAME(NULL, &p, (long)ee->subject_der_len);
	if (ee->san_der != NULL) {
		p = ee->san_der;
		san = d2i_GENERAL_NAMES(NULL, &p, (long)ee->san_der_len);
	}
	codec_name_keys_add_names(&held, dn, san);
	/* A registered name that could not be kept is taken as the asker's: refuse. */
	owns = held.oom || (dn != NULL && X509_NAME_entry_count(dn) > 0 &&
	    est_name_equal_unordered(dn, w->subject)) || codec_name_keys_meet(&w->asked, &held);
	codec_name_keys_free(&held);
	X509_NAME_free(dn);
	GENERAL_NAMES_free(san);
	if (!owns)
		return 0;
	w->ee_id = ee->id;
	snprintf(w->who, sizeof(w->who), "%s", ee->username);
	return 1;
}

/*
 * The asker's names, and its DN, as the keys they ask for: each is one index
 * look-up in the store, whose candidates visit decides on. The "d:" key in
 * asked meets nothing in visit, which keys names only.
 */
static enum est_err
store_owner(void *arg, const X509_NAME *subject, const GENERAL_NAMES *san, int64_t self,
    int64_t *ee_id, char *who, size_t wholen, struct est_error *e)
{
	struct owner_walk w = { .subject = subject, .self = self };
	enum est_err rc = EST_OK;

	codec_name_keys_add_asked(&w.asked, subject, san);
	codec_name_keys_add_dn(&w.asked, subject);
	if (w.asked.oom)
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
	/*
	 * Where the key decides, two candidates do (one may be the asker): a
	 * wildcard's key is shared by every host of its domain.
	 */
	for (size_t i = 0; rc == EST_OK && w.ee_id == 0 && i < w.asked.n; i++)
		rc = est_store_list_ee_by_key(arg, w.asked.v[i],
		    codec_name_key_decides(w.asked.v[i]) ? 2 : 0, visit, &w, e);
	codec_name_keys_free(&w.asked);
	if (rc != EST_OK)
		return rc;
	*ee_id = w.ee_id;
	snprintf(who, wholen, "%s", w.who);
	return EST_OK;
}

enum est_err
policy_for_request(struct est_req *r, enum policy_op op, const struct policy_principal *who,
    X509_REQ *csr, X509 *renewing, struct policy_decision *d, struct est_error *e)
{
	struct est_ee *ee = NULL;
	enum est_err rc;
	struct policy_input in = {
		.cfg = r->worker->srv->cfg,
		.alias = r->alias->conf,
		.profile = r->alias->profile,
		.op = op,
		.who = *who,
		.csr = csr,
		.renewing = renewing,
		.now = time(NULL),
		.owner = store_owner,
		.owner_arg = r->worker->store,
	};

	/* A deleted end entity leaves its certificates unlinked: none found is none. */
	if (who->kind == PRINCIPAL_CERT && who->cert_ee_id != 0 && who->ee == NULL) {
		rc = est_store_get_ee_by_id(r->worker->store, who->cert_ee_id, &ee, e);
		if (rc != EST_OK && rc != EST_ERR_NOTFOUND)
			return rc;
		in.who.ee = ee;
	}
	rc = policy_decide(&in, d, e);
	est_ee_free(ee);
	return rc;
}
