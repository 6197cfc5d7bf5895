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
 * an IP entry, a DNS entry or a CN; URIs ignoring case. Found in review:
 * "DEV-B.corp.example", a trailing space or DNS:10.0.0.5 had passed the
 * byte-for-byte checks. The store hands over only the end entities whose
 * text holds a name's letters and digits (est_store_list_ee_matching), so a
 * request costs a few string scans in the store, not decoding every entity.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estkit/codec.h"
#include "server/server_int.h"

/* What a name is, for comparing: equal kinds with equal text are one name. */
enum name_kind { NAME_HOST, NAME_IP, NAME_EMAIL, NAME_URI, NAME_OTHER };

struct name_key {
	enum name_kind kind;
	char text[256];
};

struct name_keys {
	struct name_key *v;             /* owned */
	size_t n, cap;
	bool oom;                       /* a name could not be kept */
};

struct owner_walk {
	const X509_NAME *subject;
	struct name_keys asked;
	int64_t self;
	int64_t ee_id;
	char who[80];
};

/* text lower-cased, without surrounding spaces and a host name's final dot. */
static void
add_key(struct name_keys *k, enum name_kind kind, const char *text, size_t len)
{
	struct name_key *key;
	size_t n = 0;

	while (len > 0 && isspace((unsigned char)*text)) {
		text++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	if (kind == NAME_HOST && len > 1 && text[len - 1] == '.')
		len--;
	if (len == 0)
		return;
	if (k->n == k->cap) {
		size_t cap = k->cap > 0 ? 2 * k->cap : 8;
		struct name_key *v = reallocarray(k->v, cap, sizeof(*v));

		if (v == NULL) {
			k->oom = true;
			return;
		}
		k->v = v;
		k->cap = cap;
	}
	key = &k->v[k->n++];
	key->kind = kind;
	for (; n < len && n < sizeof(key->text) - 1; n++)
		key->text[n] = kind == NAME_OTHER ? text[n] : (char)tolower((unsigned char)text[n]);
	key->text[n] = '\0';
}

/* An address (4 or 16 octets) as its text; an IPv4-mapped IPv6 one as IPv4. */
static void
add_ip(struct name_keys *k, const unsigned char *ip, size_t len)
{
	const unsigned char *v4 = policy_mapped_ipv4(ip, (int)len);
	char text[INET6_ADDRSTRLEN];
	const char *t = NULL;

	if (v4 != NULL)
		t = inet_ntop(AF_INET, v4, text, sizeof(text));
	else if (len == 4 || len == 16)
		t = inet_ntop(len == 4 ? AF_INET : AF_INET6, ip, text, sizeof(text));
	if (t != NULL)
		add_key(k, NAME_IP, text, strlen(text));
}

/* A host name as written (a DNS entry, a CN): an IP address if it reads as one. */
static void
add_host(struct name_keys *k, const char *text, size_t len)
{
	unsigned char ip[16];
	char buf[64];
	int iplen;

	if (len < sizeof(buf)) {
		memcpy(buf, text, len);
		buf[len] = '\0';
		if ((iplen = policy_text_ip(buf, ip)) != 0) {
			add_ip(k, ip, (size_t)iplen);
			return;
		}
	}
	add_key(k, NAME_HOST, text, len);
}

static void
add_string(struct name_keys *k, enum name_kind kind, const ASN1_STRING *s)
{
	const char *text = (const char *)ASN1_STRING_get0_data(s);
	size_t len = (size_t)ASN1_STRING_length(s);

	if (kind == NAME_HOST)
		add_host(k, text, len);
	else
		add_key(k, kind, text, len);
}

static void
add_san(struct name_keys *k, const GENERAL_NAME *gn)
{
	GENERAL_NAMES *one;
	char *text;

	switch (gn->type) {
	case GEN_DNS:
		add_string(k, NAME_HOST, gn->d.dNSName);
		return;
	case GEN_EMAIL:
		add_string(k, NAME_EMAIL, gn->d.rfc822Name);
		return;
	case GEN_URI:
		add_string(k, NAME_URI, gn->d.uniformResourceIdentifier);
		return;
	case GEN_IPADD:
		add_ip(k, ASN1_STRING_get0_data(gn->d.iPAddress),
		    (size_t)ASN1_STRING_length(gn->d.iPAddress));
		return;
	default:
		if ((one = sk_GENERAL_NAME_new_null()) != NULL &&
		    sk_GENERAL_NAME_push(one, (GENERAL_NAME *)gn) > 0 &&
		    (text = est_san_text(one)) != NULL) {
			add_key(k, NAME_OTHER, text, strlen(text));
			free(text);
		}
		sk_GENERAL_NAME_free(one);
	}
}

/* A CN that could be a host name (a dot or a colon in it), and e-mail attributes. */
static void
add_subject(struct name_keys *k, const X509_NAME *subject)
{
	for (int i = 0; subject != NULL && i < X509_NAME_entry_count(subject); i++) {
		const X509_NAME_ENTRY *ent = X509_NAME_get_entry(subject, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(ent));
		unsigned char *utf8 = NULL;
		int len;

		if (nid != NID_commonName && nid != NID_pkcs9_emailAddress)
			continue;
		if ((len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(ent))) < 0)
			continue;
		if (nid == NID_pkcs9_emailAddress)
			add_key(k, NAME_EMAIL, (char *)utf8, (size_t)len);
		else if (memchr(utf8, '.', (size_t)len) != NULL || memchr(utf8, ':', (size_t)len) != NULL)
			add_host(k, (char *)utf8, (size_t)len);
		OPENSSL_free(utf8);
	}
}

/* The names of subject and san as keys; *k starts empty, keys_free releases it. */
static void
keys_of(struct name_keys *k, const X509_NAME *subject, const GENERAL_NAMES *san)
{
	*k = (struct name_keys){ 0 };
	add_subject(k, subject);
	for (int i = 0; san != NULL && i < sk_GENERAL_NAME_num(san); i++)
		add_san(k, sk_GENERAL_NAME_value(san, i));
}

static void
keys_free(struct name_keys *k)
{
	free(k->v);
	*k = (struct name_keys){ 0 };
}

static bool
keys_meet(const struct name_keys *a, const struct name_keys *b)
{
	for (size_t i = 0; i < a->n; i++)
		for (size_t j = 0; j < b->n; j++)
			if (a->v[i].kind == b->v[j].kind && strcmp(a->v[i].text, b->v[j].text) == 0)
				return true;
	return false;
}

static int
visit(const struct est_ee *ee, void *arg)
{
	struct owner_walk *w = arg;
	const unsigned char *p = ee->subject_der;
	X509_NAME *dn;
	GENERAL_NAMES *san = NULL;
	struct name_keys held;
	bool owns;

	if (ee->id == w->self)
		return 0;
	dn = d2i_X509_NAME(NULL, &p, (long)ee->subject_der_len);
	if (ee->san_der != NULL) {
		p = ee->san_der;
		san = d2i_GENERAL_NAMES(NULL, &p, (long)ee->san_der_len);
	}
	keys_of(&held, dn, san);
	/* A registered name that could not be kept is taken as the asker's: refuse. */
	owns = held.oom || (dn != NULL && X509_NAME_entry_count(dn) > 0 &&
	    est_name_equal_unordered(dn, w->subject)) || keys_meet(&w->asked, &held);
	keys_free(&held);
	X509_NAME_free(dn);
	GENERAL_NAMES_free(san);
	if (!owns)
		return 0;
	w->ee_id = ee->id;
	snprintf(w->who, sizeof(w->who), "%s", ee->username);
	return 1;
}

/* The end entities whose text holds name, narrowed down by visit. */
static enum est_err
walk(struct est_store *st, struct owner_walk *w, const char *name, struct est_error *e)
{
	return name[0] != '\0' ? est_store_list_ee_matching(st, name, visit, w, e) : EST_OK;
}

/* The subject's value with the most letters and digits: every DN equal to it holds it. */
static char *
rarest_value(const X509_NAME *subject)
{
	unsigned char *best = NULL, *utf8;
	size_t best_n = 0;

	for (int i = 0; i < X509_NAME_entry_count(subject); i++) {
		int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
		    X509_NAME_get_entry(subject, i)));
		size_t n = 0;

		if (len < 0)
			continue;
		for (int j = 0; j < len; j++)
			n += utf8[j] < 0x80 && isalnum(utf8[j]);
		if (best == NULL || n > best_n) {
			OPENSSL_free(best);
			best = utf8;
			best_n = n;
		} else {
			OPENSSL_free(utf8);
		}
	}
	return (char *)best;
}

static enum est_err
store_owner(void *arg, const X509_NAME *subject, const GENERAL_NAMES *san, int64_t self,
    int64_t *ee_id, char *who, size_t wholen, struct est_error *e)
{
	struct owner_walk w = { .subject = subject, .self = self };
	enum est_err rc = EST_OK;
	char *value;

	keys_of(&w.asked, subject, san);
	if (w.asked.oom) {
		keys_free(&w.asked);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	if ((value = rarest_value(subject)) != NULL) {
		rc = walk(arg, &w, value, e);
		OPENSSL_free(value);
	}
	for (size_t i = 0; rc == EST_OK && w.ee_id == 0 && i < w.asked.n; i++)
		rc = walk(arg, &w, w.asked.v[i].text, e);
	keys_free(&w.asked);
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
