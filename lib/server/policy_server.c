/*
 * The policy step as estd runs it: policy_decide fed from the request, and
 * the store's end entities as the owners of names.
 *
 * Ownership: a subject equal to a registered DN (in any RDN order), or a
 * SAN entry equal to a registered one, belongs to that end entity. The
 * store hands over only the end entities whose text holds one of the
 * names (its CN, else each attribute; each SAN entry), so a request costs
 * a few indexed-free string scans in SQLite, not decoding every entity.
 */
#include <stdio.h>
#include <stdlib.h>
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

/* The end entities that hold needle, narrowed down by visit. */
static enum est_err
walk(struct est_store *st, struct owner_walk *w, char *needle, struct est_error *e)
{
	enum est_err rc;

	if (needle == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	rc = needle[0] != '\0' ? est_store_list_ee_matching(st, needle, visit, w, e) : EST_OK;
	free(needle);
	return rc;
}

/* One attribute of the subject as est_name_text writes it ("CN=dev-b"). */
static char *
entry_text(const X509_NAME *subject, int i)
{
	X509_NAME *one = X509_NAME_new();
	char *text = NULL;

	if (one != NULL && X509_NAME_add_entry(one, X509_NAME_get_entry(subject, i), -1, 0) == 1)
		text = est_name_text(one);
	X509_NAME_free(one);
	return text;
}

/* One SAN entry as est_san_text writes it ("DNS:a.example"). */
static char *
san_entry_text(const GENERAL_NAMES *san, int i)
{
	GENERAL_NAMES *one = sk_GENERAL_NAME_new_null();
	char *text = NULL;

	if (one != NULL && sk_GENERAL_NAME_push(one, sk_GENERAL_NAME_value(san, i)) > 0)
		text = est_san_text(one);
	sk_GENERAL_NAME_free(one);
	return text;
}

static enum est_err
store_owner(void *arg, const X509_NAME *subject, const GENERAL_NAMES *san, int64_t *ee_id,
    char *who, size_t wholen, struct est_error *e)
{
	struct owner_walk w = { .subject = subject, .san = san };
	bool has_cn = X509_NAME_get_index_by_NID(subject, NID_commonName, -1) >= 0;
	enum est_err rc = EST_OK;

	for (int i = 0; rc == EST_OK && w.ee_id == 0 && i < X509_NAME_entry_count(subject); i++)
		if (!has_cn || OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(subject,
		    i))) == NID_commonName)
			rc = walk(arg, &w, entry_text(subject, i), e);
	for (int i = 0; rc == EST_OK && w.ee_id == 0 && san != NULL && i < sk_GENERAL_NAME_num(san);
	    i++)
		rc = walk(arg, &w, san_entry_text(san, i), e);
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
