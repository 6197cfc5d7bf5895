/*
 * The policy step as estd runs it: policy_decide fed from the request, and
 * the store's end entities as the owners of names.
 *
 * Ownership is looked up by walking the registered end entities: a subject
 * equal to a registered DN (in any RDN order), or a SAN entry equal to a
 * registered one, belongs to that end entity.
 */
#include <stdio.h>
#include <string.h>

#include "estkit/codec.h"
#include "server/server_int.h"

struct owner_walk {
	const X509_NAME *subject;
	const GENERAL_NAMES *san;
	int64_t ee_id;
	char who[80];
};

static bool
shares_san(const GENERAL_NAMES *a, const GENERAL_NAMES *b)
{
	for (int i = 0; a != NULL && i < sk_GENERAL_NAME_num(a); i++)
		for (int j = 0; b != NULL && j < sk_GENERAL_NAME_num(b); j++)
			if (GENERAL_NAME_cmp(sk_GENERAL_NAME_value(a, i), sk_GENERAL_NAME_value(b, j)) == 0)
				return true;
	return false;
}

static int
visit(const struct est_ee *ee, void *arg)
{
	struct owner_walk *w = arg;
	const unsigned char *p = ee->subject_der;
	X509_NAME *dn = d2i_X509_NAME(NULL, &p, (long)ee->subject_der_len);
	GENERAL_NAMES *san = NULL;
	bool owns;

	if (ee->san_der != NULL) {
		p = ee->san_der;
		san = d2i_GENERAL_NAMES(NULL, &p, (long)ee->san_der_len);
	}
	owns = (dn != NULL && X509_NAME_entry_count(dn) > 0 &&
	    est_name_equal_unordered(dn, w->subject)) || shares_san(san, w->san);
	X509_NAME_free(dn);
	GENERAL_NAMES_free(san);
	if (!owns)
		return 0;
	w->ee_id = ee->id;
	snprintf(w->who, sizeof(w->who), "%s", ee->username);
	return 1;
}

static enum est_err
store_owner(void *arg, const X509_NAME *subject, const GENERAL_NAMES *san, int64_t *ee_id,
    char *who, size_t wholen, struct est_error *e)
{
	struct owner_walk w = { .subject = subject, .san = san };
	enum est_err rc;

	if ((rc = est_store_list_ee(arg, visit, &w, e)) != EST_OK)
		return rc;
	*ee_id = w.ee_id;
	snprintf(who, wholen, "%s", w.who);
	return EST_OK;
}

enum est_err
policy_for_request(struct est_req *r, enum policy_op op, const struct policy_principal *who,
    X509_REQ *csr, X509 *renewing, struct policy_decision *d, struct est_error *e)
{
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

	return policy_decide(&in, d, e);
}
