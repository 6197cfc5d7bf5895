/*
 * A /serverkeygen CSR's request for an encrypted key (RFC 7030 §4.4.1,
 * ASN-03): DecryptKeyIdentifier or AsymmetricDecryptKeyIdentifier, always
 * with SMIMECapabilities. Each attribute must appear once with one value of
 * the right type; anything else is a 400 that names the attribute.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "estkit/codec.h"

#define OID_DECRYPT_KEY_ID "1.2.840.113549.1.9.16.2.37"
#define OID_ASYMM_DECRYPT_KEY_ID "1.2.840.113549.1.9.16.2.54"
#define KEY_ID_MAX 64

void
est_keyreq_free(struct est_keyreq *r)
{
	if (r == NULL)
		return;
	free(r->kek_id);
	free(r->cert_id);
	sk_X509_ALGOR_pop_free(r->caps, X509_ALGOR_free);
	free(r);
}

/*
 * The one value of the attribute oid (NULL when absent), of ASN.1 type
 * `type`. Borrowed from the CSR.
 */
static enum est_err
one_value(X509_REQ *csr, const char *oid, const char *name, int type, ASN1_TYPE **out,
    struct est_error *e)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	X509_ATTRIBUTE *attr;
	int idx;

	if (obj == NULL)
		return est_fail_ssl(e, EST_ERR_NOMEM, "out of memory");
	idx = X509_REQ_get_attr_by_OBJ(csr, obj, -1);
	if (idx >= 0 && X509_REQ_get_attr_by_OBJ(csr, obj, idx) >= 0) {
		ASN1_OBJECT_free(obj);
		return est_fail(e, EST_ERR_BADREQ, "the CSR carries %s more than once", name);
	}
	ASN1_OBJECT_free(obj);
	*out = NULL;
	if (idx < 0)
		return EST_OK;
	attr = X509_REQ_get_attr(csr, idx);
	if (X509_ATTRIBUTE_count(attr) != 1 || (*out = X509_ATTRIBUTE_get0_type(attr, 0)) == NULL ||
	    (*out)->type != type)
		return est_fail(e, EST_ERR_BADREQ, "the CSR's %s attribute is not one %s", name,
		    type == V_ASN1_OCTET_STRING ? "OCTET STRING" : "SEQUENCE");
	return EST_OK;
}

static enum est_err
copy_id(const ASN1_TYPE *v, const char *name, unsigned char **out, size_t *len,
    struct est_error *e)
{
	const ASN1_OCTET_STRING *s = v->value.octet_string;
	int n = ASN1_STRING_length(s);

	if (n < 1 || n > KEY_ID_MAX)
		return est_fail(e, EST_ERR_BADREQ, "the CSR's %s is %d bytes; 1 to %d are accepted",
		    name, n, KEY_ID_MAX);
	if ((*out = malloc((size_t)n)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	memcpy(*out, ASN1_STRING_get0_data(s), (size_t)n);
	*len = (size_t)n;
	return EST_OK;
}

static enum est_err
read_caps(X509_REQ *csr, struct est_keyreq *r, struct est_error *e)
{
	ASN1_TYPE *v = NULL;
	const unsigned char *p;
	long len;
	enum est_err rc;

	if ((rc = one_value(csr, "1.2.840.113549.1.9.15", "SMIMECapabilities", V_ASN1_SEQUENCE,
	    &v, e)) != EST_OK)
		return rc;
	if (v == NULL)
		return est_fail(e, EST_ERR_BADREQ, "the CSR asks for an encrypted key but lacks "
		    "SMIMECapabilities (RFC 7030 §4.4.1)");
	p = v->value.sequence->data;
	len = v->value.sequence->length;
	r->caps = d2i_X509_ALGORS(NULL, &p, len);
	if (r->caps == NULL || p != v->value.sequence->data + len) {
		ERR_clear_error();
		return est_fail(e, EST_ERR_BADREQ, "the CSR's SMIMECapabilities cannot be decoded");
	}
	return EST_OK;
}

static enum est_err
read_ids(X509_REQ *csr, struct est_keyreq *r, struct est_error *e)
{
	ASN1_TYPE *sym = NULL, *asym = NULL;
	enum est_err rc;

	if ((rc = one_value(csr, OID_DECRYPT_KEY_ID, "DecryptKeyIdentifier", V_ASN1_OCTET_STRING,
	    &sym, e)) != EST_OK ||
	    (rc = one_value(csr, OID_ASYMM_DECRYPT_KEY_ID, "AsymmetricDecryptKeyIdentifier",
	    V_ASN1_OCTET_STRING, &asym, e)) != EST_OK)
		return rc;
	if (sym != NULL && asym != NULL)
		return est_fail(e, EST_ERR_BADREQ, "the CSR carries both DecryptKeyIdentifier and "
		    "AsymmetricDecryptKeyIdentifier; send one");
	if (sym != NULL)
		return copy_id(sym, "DecryptKeyIdentifier", &r->kek_id, &r->kek_id_len, e);
	if (asym != NULL)
		return copy_id(asym, "AsymmetricDecryptKeyIdentifier", &r->cert_id,
		    &r->cert_id_len, e);
	return EST_OK;
}

enum est_err
est_csr_keyreq(X509_REQ *csr, struct est_keyreq **out, struct est_error *e)
{
	struct est_keyreq *r = calloc(1, sizeof(*r));
	enum est_err rc;

	if (r == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	rc = read_ids(csr, r, e);
	if (rc == EST_OK && r->kek_id == NULL && r->cert_id == NULL) {
		est_keyreq_free(r);
		*out = NULL;
		return EST_OK;
	}
	if (rc == EST_OK)
		rc = read_caps(csr, r, e);
	if (rc != EST_OK) {
		est_keyreq_free(r);
		return rc;
	}
	*out = r;
	return EST_OK;
}

bool
est_keyreq_lists(const struct est_keyreq *r, int nid)
{
	for (int i = 0; r != NULL && i < sk_X509_ALGOR_num(r->caps); i++) {
		const ASN1_OBJECT *obj = NULL;

		X509_ALGOR_get0(&obj, NULL, NULL, sk_X509_ALGOR_value(r->caps, i));
		if (OBJ_obj2nid(obj) == nid)
			return true;
	}
	return false;
}
