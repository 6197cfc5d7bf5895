/*
 * CSR attributes (RFC 7030 §4.5.2 as corrected by RFC 8951, ASN-01):
 * CsrAttrs ::= SEQUENCE OF AttrOrOID, AttrOrOID ::= CHOICE { OBJECT
 * IDENTIFIER, Attribute }. Read from the configuration's text form, and
 * encoded and decoded with OpenSSL's ASN.1 (ASN1_SEQUENCE_ANY of ASN1_TYPE,
 * X509_ATTRIBUTE for attributes).
 *
 * Invariant: a parsed or decoded set has one item per OID at most for
 * attributes that the text form merges (repeated TYPE:VALUE items add values
 * to one attribute), and extension requests always form exactly one
 * Extensions value (EST-S-95).
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "estkit/codec.h"

#define TEXT_MAX 2048

/* Names people write that OpenSSL spells otherwise or does not know. */
static const struct {
	const char *name;
	const char *oid;
} aliases[] = {
	{ "ecPublicKey", "1.2.840.10045.2.1" },
	{ "extensionRequest", "1.2.840.113549.1.9.14" },
	{ "P-256", "1.2.840.10045.3.1.7" },
	{ "P-384", "1.3.132.0.34" },
	{ "P-521", "1.3.132.0.35" },
	{ "macAddress", "1.3.6.1.1.1.1.22" },
};

/*
 * An OID from a name (OpenSSL short or long name, an alias) or dotted digits.
 * Some names OpenSSL knows have no OID ("auth-gost12"): NULL for those, as
 * they cannot be encoded.
 */
static ASN1_OBJECT *
oid_from_text(const char *s)
{
	ASN1_OBJECT *obj;

	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(s, aliases[i].name) == 0)
			return OBJ_txt2obj(aliases[i].oid, 1);
	if ((obj = OBJ_txt2obj(s, 0)) != NULL && OBJ_length(obj) == 0) {
		ASN1_OBJECT_free(obj);
		return NULL;
	}
	return obj;
}

void
est_csrattrs_free(struct est_csrattrs *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++) {
		ASN1_OBJECT_free(a->item[i].oid);
		X509_ATTRIBUTE_free(a->item[i].attr);
	}
	free(a->item);
	free(a);
}

static struct est_csrattr *
add_item(struct est_csrattrs *a)
{
	struct est_csrattr *grown = realloc(a->item, (a->n + 1) * sizeof(*grown));

	if (grown == NULL)
		return NULL;
	a->item = grown;
	memset(&a->item[a->n], 0, sizeof(a->item[0]));
	return &a->item[a->n++];
}

/* The attribute item of type oid, or NULL. */
static struct est_csrattr *
find_attr(struct est_csrattrs *a, const ASN1_OBJECT *oid)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->item[i].attr != NULL && OBJ_cmp(a->item[i].oid, oid) == 0)
			return &a->item[i];
	return NULL;
}

/* ---- text form ----------------------------------------------------------- */

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}


struct parse {
	struct est_csrattrs *a;
	STACK_OF(X509_EXTENSION) *exts;   /* what the one extensionRequest asks for */
	X509_ATTRIBUTE *ext_attr;         /* that attribute (owned by a), filled last */
};

/* One more value of an attribute: an INTEGER for digits, else an OID. */
static enum est_err
add_value(X509_ATTRIBUTE *attr, const char *value, struct est_error *e)
{
	ASN1_OBJECT *obj = NULL;
	ASN1_INTEGER *num = NULL;
	int ok;

	if (all_digits(value)) {
		long v = strlen(value) <= 9 ? strtol(value, NULL, 10) : 0;

		if (v <= 0)
			return est_fail(e, EST_ERR_BADREQ, "csrattrs: %s is not a number from 1 to "
			    "999999999", value);
		ok = (num = ASN1_INTEGER_new()) != NULL && ASN1_INTEGER_set(num, v) &&
		    X509_ATTRIBUTE_set1_data(attr, V_ASN1_INTEGER, num, -1);
	} else {
		if ((obj = oid_from_text(value)) == NULL) {
			ERR_clear_error();
			return est_fail(e, EST_ERR_BADREQ, "csrattrs: \"%s\" is neither a number "
			    "nor an OID (dotted digits or a name OpenSSL knows)", value);
		}
		ok = X509_ATTRIBUTE_set1_data(attr, V_ASN1_OBJECT, obj, -1);
	}
	ASN1_INTEGER_free(num);
	ASN1_OBJECT_free(obj);
	return ok ? EST_OK : est_fail_ssl(e, EST_ERR_NOMEM, "csrattrs: cannot add a value");
}

/* Request extension `name` (an empty extnValue: the client fills it in). */
static enum est_err
add_ext(struct parse *p, const char *name, struct est_error *e)
{
	ASN1_OBJECT *obj = oid_from_text(name);
	ASN1_OCTET_STRING *empty = ASN1_OCTET_STRING_new();
	X509_EXTENSION *x = NULL;
	enum est_err rc = EST_OK;

	if (obj == NULL) {
		ERR_clear_error();
		rc = est_fail(e, EST_ERR_BADREQ, "csrattrs: extensionRequest:%s: not an "
		    "extension name or OID", name);
	} else if (empty == NULL || (x = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, empty)) == NULL ||
	    !sk_X509_EXTENSION_push(p->exts, x)) {
		X509_EXTENSION_free(x);
		rc = est_fail_ssl(e, EST_ERR_NOMEM, "csrattrs: cannot add an extension request");
	}
	ASN1_OCTET_STRING_free(empty);
	ASN1_OBJECT_free(obj);
	return rc;
}

/* The item for an attribute of type obj (taken), new or already there. */
static enum est_err
attr_item(struct parse *p, ASN1_OBJECT *obj, X509_ATTRIBUTE **attr, struct est_error *e)
{
	struct est_csrattr *it = find_attr(p->a, obj);

	if (it != NULL) {
		ASN1_OBJECT_free(obj);
		*attr = it->attr;
		return EST_OK;
	}
	if ((it = add_item(p->a)) == NULL) {
		ASN1_OBJECT_free(obj);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	it->oid = obj;
	if ((it->attr = X509_ATTRIBUTE_create_by_OBJ(NULL, obj, 0, NULL, -1)) == NULL)
		return est_fail_ssl(e, EST_ERR_NOMEM, "csrattrs: cannot make an attribute");
	*attr = it->attr;
	return EST_OK;
}

/* "NAME" (a bare OID) or "TYPE:VALUE" (a value of attribute TYPE). */
static enum est_err
parse_item(struct parse *p, char *word, struct est_error *e)
{
	char *colon = strchr(word, ':');
	ASN1_OBJECT *obj;
	X509_ATTRIBUTE *attr;
	struct est_csrattr *it;
	enum est_err rc;

	if (colon != NULL)
		*colon = '\0';
	if ((obj = oid_from_text(word)) == NULL) {
		ERR_clear_error();
		return est_fail(e, EST_ERR_BADREQ, "csrattrs: \"%s\" is not an OID (dotted "
		    "digits or a name OpenSSL knows)", word);
	}
	if (colon == NULL) {
		if ((it = add_item(p->a)) == NULL) {
			ASN1_OBJECT_free(obj);
			return est_fail(e, EST_ERR_NOMEM, "out of memory");
		}
		it->oid = obj;
		return EST_OK;
	}
	if (colon[1] == '\0') {
		ASN1_OBJECT_free(obj);
		return est_fail(e, EST_ERR_BADREQ, "csrattrs: \"%s:\" has no value", word);
	}
	if (OBJ_obj2nid(obj) == NID_ext_req) {
		if (p->ext_attr != NULL)
			ASN1_OBJECT_free(obj);
		else if ((rc = attr_item(p, obj, &p->ext_attr, e)) != EST_OK)
			return rc;
		return add_ext(p, colon + 1, e);
	}
	if ((rc = attr_item(p, obj, &attr, e)) != EST_OK)
		return rc;
	return add_value(attr, colon + 1, e);
}

/* The requested extensions become the one value of the extensionRequest. */
static enum est_err
finish_ext(struct parse *p, struct est_error *e)
{
	unsigned char *der = NULL;
	int len, ok;

	if (p->ext_attr == NULL)
		return EST_OK;
	if ((len = i2d_X509_EXTENSIONS(p->exts, &der)) <= 0)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "csrattrs: cannot encode the extension requests");
	ok = X509_ATTRIBUTE_set1_data(p->ext_attr, V_ASN1_SEQUENCE, der, len);
	OPENSSL_free(der);
	return ok ? EST_OK : est_fail_ssl(e, EST_ERR_NOMEM, "csrattrs: cannot set extensionRequest");
}

enum est_err
est_csrattrs_parse(const char *text, struct est_csrattrs **out, struct est_error *e)
{
	struct parse p = { 0 };
	char buf[TEXT_MAX], *save = NULL, *w;
	enum est_err rc = EST_OK;

	if (strlen(text) >= sizeof(buf))
		return est_fail(e, EST_ERR_BADREQ, "csrattrs: the list is longer than %d characters",
		    TEXT_MAX - 1);
	strcpy(buf, text);
	if ((p.a = calloc(1, sizeof(*p.a))) == NULL || (p.exts = sk_X509_EXTENSION_new_null()) == NULL)
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (w = strtok_r(buf, ", \t", &save); rc == EST_OK && w != NULL;
	    w = strtok_r(NULL, ", \t", &save))
		rc = parse_item(&p, w, e);
	if (rc == EST_OK)
		rc = finish_ext(&p, e);
	sk_X509_EXTENSION_pop_free(p.exts, X509_EXTENSION_free);
	if (rc != EST_OK) {
		est_csrattrs_free(p.a);
		return rc;
	}
	*out = p.a;
	return EST_OK;
}

/* ---- DER ----------------------------------------------------------------- */

/* An AttrOrOID as the ASN1_TYPE that ASN1_SEQUENCE_ANY holds. */
static ASN1_TYPE *
item_to_type(const struct est_csrattr *it)
{
	ASN1_TYPE *t = ASN1_TYPE_new();
	ASN1_STRING *seq = NULL;
	unsigned char *der = NULL;
	int len;

	if (t == NULL)
		return NULL;
	if (it->attr == NULL) {
		if (ASN1_TYPE_set1(t, V_ASN1_OBJECT, it->oid))
			return t;
	} else if ((len = i2d_X509_ATTRIBUTE(it->attr, &der)) > 0 &&
	    (seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE)) != NULL && ASN1_STRING_set(seq, der, len)) {
		OPENSSL_free(der);
		ASN1_TYPE_set(t, V_ASN1_SEQUENCE, seq);
		return t;
	}
	OPENSSL_free(der);
	ASN1_STRING_free(seq);
	ASN1_TYPE_free(t);
	return NULL;
}

enum est_err
est_csrattrs_encode(const struct est_csrattrs *a, unsigned char **der, size_t *derlen,
    struct est_error *e)
{
	ASN1_SEQUENCE_ANY *seq = sk_ASN1_TYPE_new_null();
	unsigned char *buf = NULL;
	enum est_err rc = EST_OK;
	int len;

	if (seq == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (size_t i = 0; rc == EST_OK && i < a->n; i++) {
		ASN1_TYPE *t = item_to_type(&a->item[i]);

		if (t == NULL || !sk_ASN1_TYPE_push(seq, t)) {
			ASN1_TYPE_free(t);
			rc = est_fail_ssl(e, EST_ERR_CRYPTO, "csrattrs: cannot encode item %zu", i);
		}
	}
	if (rc == EST_OK && (len = i2d_ASN1_SEQUENCE_ANY(seq, &buf)) <= 0)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "csrattrs: cannot encode CsrAttrs");
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	if (rc != EST_OK)
		return rc;
	*der = buf;
	*derlen = (size_t)len;
	return EST_OK;
}

/*
 * Whether an item is an OID, or a SEQUENCE that is a whole Attribute (or not
 * a SEQUENCE). An Attribute must also encode back to the bytes it came as:
 * OpenSSL reads some values it cannot write (a constructed element of
 * universal tag 0 comes back as an end-of-contents), and such an item would
 * be shown, checked and sent on as something else.
 */
static bool
readable(const ASN1_TYPE *t)
{
	const unsigned char *p, *der;
	unsigned char *back = NULL;
	X509_ATTRIBUTE *attr;
	bool ok;
	int len;

	if (t->type != V_ASN1_SEQUENCE)
		return true; /* an OID, or refused by type_to_item */
	p = der = t->value.sequence->data;
	len = t->value.sequence->length;
	attr = d2i_X509_ATTRIBUTE(NULL, &p, len);
	ok = attr != NULL && p == der + len && i2d_X509_ATTRIBUTE(attr, &back) == len &&
	    memcmp(back, der, (size_t)len) == 0;
	OPENSSL_free(back);
	X509_ATTRIBUTE_free(attr);
	ERR_clear_error();
	return ok;
}

/* One decoded AttrOrOID into it. */
static enum est_err
type_to_item(const ASN1_TYPE *t, size_t i, struct est_csrattr *it, struct est_error *e)
{
	const unsigned char *p;

	if (t->type == V_ASN1_OBJECT) {
		if ((it->oid = OBJ_dup(t->value.object)) == NULL)
			return est_fail_ssl(e, EST_ERR_NOMEM, "out of memory");
		return EST_OK;
	}
	if (t->type != V_ASN1_SEQUENCE)
		return est_fail(e, EST_ERR_BADREQ, "CsrAttrs item %zu is neither an OID nor an "
		    "Attribute", i);
	p = t->value.sequence->data;
	it->attr = d2i_X509_ATTRIBUTE(NULL, &p, t->value.sequence->length);
	if (it->attr == NULL || p != t->value.sequence->data + t->value.sequence->length)
		return est_fail_ssl(e, EST_ERR_BADREQ, "CsrAttrs item %zu is not a valid Attribute", i);
	if ((it->oid = OBJ_dup(X509_ATTRIBUTE_get0_object(it->attr))) == NULL)
		return est_fail_ssl(e, EST_ERR_NOMEM, "out of memory");
	return EST_OK;
}

enum est_err
est_csrattrs_decode(const unsigned char *der, size_t derlen, struct est_csrattrs **out,
    struct est_error *e)
{
	const unsigned char *p = der;
	ASN1_SEQUENCE_ANY *seq;
	struct est_csrattrs *a;
	enum est_err rc = EST_OK;

	if (derlen > LONG_MAX)
		return est_fail(e, EST_ERR_TOOLARGE, "CsrAttrs is too large");
	if ((seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)derlen)) == NULL)
		return est_fail_ssl(e, EST_ERR_BADREQ, "not a CsrAttrs SEQUENCE");
	if (p != der + derlen)
		rc = est_fail(e, EST_ERR_BADREQ, "CsrAttrs is followed by %zu bytes of trailing data",
		    (size_t)(der + derlen - p));
	if ((a = calloc(1, sizeof(*a))) == NULL && rc == EST_OK)
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (int i = 0; rc == EST_OK && i < sk_ASN1_TYPE_num(seq); i++) {
		struct est_csrattr *it;

		if (!readable(sk_ASN1_TYPE_value(seq, i))) {
			a->n_unreadable++;
			continue;
		}
		if ((it = add_item(a)) == NULL)
			rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
		else
			rc = type_to_item(sk_ASN1_TYPE_value(seq, i), (size_t)i, it, e);
	}
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	if (rc != EST_OK) {
		est_csrattrs_free(a);
		return rc;
	}
	*out = a;
	return EST_OK;
}
