/*
 * CSR attributes as a client reads them (RFC 7030 §4.5.2 with the RFC 8951
 * correction, est-conformance.md ASN-01): a SEQUENCE of bare OIDs and
 * Attributes, decoded by the codec's est_csrattrs_decode (the one parser of
 * CsrAttrs, which the fuzzers cover; items that are no Attribute are
 * skipped there), then read here for what the CSR builder can apply.
 *
 * What is understood becomes a requirement the CSR builder applies:
 * challengePassword (channel binding), the key type and curve or size, the
 * signature digest, extension values. Everything else -- including the
 * malformed extensionRequest of the RFC 7030 example (pitfall 15) -- is kept
 * in `unknown` and otherwise ignored, as EST-C-62 requires.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "client/client_int.h"
#include "estkit/codec.h"

static void
set_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src);
}

static bool
note_unknown(struct est_csr_wants *a, const ASN1_OBJECT *obj)
{
	ASN1_OBJECT *dup;

	if (a->unknown == NULL && (a->unknown = sk_ASN1_OBJECT_new_null()) == NULL)
		return false;
	if ((dup = OBJ_dup(obj)) == NULL || !sk_ASN1_OBJECT_push(a->unknown, dup)) {
		ASN1_OBJECT_free(dup);
		return false;
	}
	return true;
}

/* A bare OID: challengePassword, a signature algorithm, or a key type. */
static bool
take_oid(struct est_csr_wants *a, const ASN1_OBJECT *obj)
{
	int nid = OBJ_obj2nid(obj), dig = NID_undef, pk = NID_undef;

	if (nid == NID_pkcs9_challengePassword) {
		a->challenge_password = true;
	} else if (nid == NID_ED25519) {
		set_str(a->key_spec, sizeof(a->key_spec), "ed25519");
	} else if (nid != NID_undef && OBJ_find_sigid_algs(nid, &dig, &pk) && dig != NID_undef) {
		set_str(a->digest, sizeof(a->digest), OBJ_nid2sn(dig));
	} else if (nid == NID_X9_62_id_ecPublicKey && a->key_spec[0] == '\0') {
		set_str(a->key_spec, sizeof(a->key_spec), "ec:P-256");
	} else if (nid == NID_rsaEncryption && a->key_spec[0] == '\0') {
		set_str(a->key_spec, sizeof(a->key_spec), "rsa:2048");
	} else {
		return note_unknown(a, obj);
	}
	return true;
}

/* id-ecPublicKey { curve }: the curves est_key_generate makes. */
static bool
take_ec(struct est_csr_wants *a, X509_ATTRIBUTE *attr)
{
	ASN1_TYPE *v = X509_ATTRIBUTE_get0_type(attr, 0);
	int curve = v != NULL && v->type == V_ASN1_OBJECT ? OBJ_obj2nid(v->value.object) : NID_undef;

	if (curve == NID_X9_62_prime256v1)
		set_str(a->key_spec, sizeof(a->key_spec), "ec:P-256");
	else if (curve == NID_secp384r1)
		set_str(a->key_spec, sizeof(a->key_spec), "ec:P-384");
	else if (X509_ATTRIBUTE_count(attr) == 0)
		set_str(a->key_spec, sizeof(a->key_spec), "ec:P-256");
	else
		return note_unknown(a, X509_ATTRIBUTE_get0_object(attr));
	return true;
}

/* rsaEncryption { INTEGER bits }: 2048, 3072 or 4096. */
static bool
take_rsa(struct est_csr_wants *a, X509_ATTRIBUTE *attr)
{
	ASN1_TYPE *v = X509_ATTRIBUTE_get0_type(attr, 0);
	int64_t bits = 2048;

	if (v != NULL && (v->type != V_ASN1_INTEGER ||
	    !ASN1_INTEGER_get_int64(&bits, v->value.integer)))
		return note_unknown(a, X509_ATTRIBUTE_get0_object(attr));
	if (bits != 2048 && bits != 3072 && bits != 4096)
		return note_unknown(a, X509_ATTRIBUTE_get0_object(attr));
	snprintf(a->key_spec, sizeof(a->key_spec), "rsa:%d", (int)bits);
	return true;
}

/* extensionRequest { Extensions }: the values to ask for. */
static bool
take_extensions(struct est_csr_wants *a, X509_ATTRIBUTE *attr)
{
	for (int i = 0; i < X509_ATTRIBUTE_count(attr); i++) {
		ASN1_TYPE *v = X509_ATTRIBUTE_get0_type(attr, i);
		const unsigned char *p;
		STACK_OF(X509_EXTENSION) *exts;

		if (v->type != V_ASN1_SEQUENCE)
			return note_unknown(a, X509_ATTRIBUTE_get0_object(attr));
		p = v->value.sequence->data;
		if ((exts = d2i_X509_EXTENSIONS(NULL, &p, v->value.sequence->length)) == NULL) {
			ERR_clear_error();
			return note_unknown(a, X509_ATTRIBUTE_get0_object(attr));
		}
		for (int k = 0; k < sk_X509_EXTENSION_num(exts); k++)
			if (X509v3_add_ext(&a->extensions, sk_X509_EXTENSION_value(exts, k), -1) == NULL)
				break;
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	return true;
}

static bool
take_attribute(struct est_csr_wants *a, X509_ATTRIBUTE *attr)
{
	int nid = OBJ_obj2nid(X509_ATTRIBUTE_get0_object(attr));

	if (nid == NID_pkcs9_challengePassword) {
		a->challenge_password = true;
		return true;
	}
	if (nid == NID_X9_62_id_ecPublicKey)
		return take_ec(a, attr);
	if (nid == NID_rsaEncryption)
		return take_rsa(a, attr);
	if (nid == NID_ext_req)
		return take_extensions(a, attr);
	return note_unknown(a, X509_ATTRIBUTE_get0_object(attr));
}

enum est_err
est_csr_wants_decode(const unsigned char *der, size_t len, struct est_csr_wants **out,
    struct est_error *e)
{
	struct est_csrattrs *items = NULL;
	struct est_csr_wants *a;
	bool ok = true;
	enum est_err rc;

	if (len > 65536)
		return est_fail(e, EST_ERR_BADREQ, "CSR attributes are larger than 64 KiB");
	if ((rc = est_csrattrs_decode(der, len, &items, e)) != EST_OK)
		return rc;
	if ((a = calloc(1, sizeof(*a))) == NULL || (a->der = malloc(len)) == NULL) {
		free(a);
		est_csrattrs_free(items);
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading CSR attributes");
	}
	memcpy(a->der, der, len);
	a->der_len = len;
	a->none = items->n == 0 && items->n_unreadable == 0;
	for (size_t i = 0; ok && i < items->n; i++)
		ok = items->item[i].attr == NULL ? take_oid(a, items->item[i].oid) :
		    take_attribute(a, items->item[i].attr);
	est_csrattrs_free(items);
	if (!ok) {
		est_csr_wants_free(a);
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading CSR attributes");
	}
	*out = a;
	return EST_OK;
}

void
est_csr_wants_free(struct est_csr_wants *a)
{
	if (a == NULL)
		return;
	sk_X509_EXTENSION_pop_free(a->extensions, X509_EXTENSION_free);
	sk_ASN1_OBJECT_pop_free(a->unknown, ASN1_OBJECT_free);
	free(a->der);
	free(a);
}
