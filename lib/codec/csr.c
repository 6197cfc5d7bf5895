/*
 * What a server needs from a PKCS#10 CSR: its proof of possession, the
 * subjectAltName it asks for, its challengePassword (RFC 2985 §5.4.1), and
 * the SAN comparison used by re-enrolment.
 *
 * The challengePassword is returned as UTF-8 with its exact length checked:
 * a value with an embedded NUL is refused, so a C string compare by the
 * caller can never turn into a prefix compare.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>

#include "codec/csr_ecdsa.h"
#include "estkit/codec.h"

#define CHALLENGE_MAX 255 /* pkcs-9-ub-challengePassword, in characters */

/*
 * Whether req's key is the EC point at infinity, encoded as the one octet 00
 * (SEC 1 §2.3.3). OpenSSL decodes it, and every signature verifies under it
 * (u1*G + u2*O is u1*G, which a signer picks), so it proves no possession.
 */
static bool
key_is_infinity(X509_REQ *req)
{
	ASN1_OBJECT *alg = NULL;
	const unsigned char *pk = NULL;
	int pklen = 0;

	return X509_PUBKEY_get0_param(&alg, &pk, &pklen, NULL, X509_REQ_get_X509_PUBKEY(req)) == 1 &&
	    OBJ_obj2nid(alg) == NID_X9_62_id_ecPublicKey && pklen == 1 && pk[0] == 0x00;
}

enum est_err
est_csr_verify(X509_REQ *req, struct est_error *e)
{
	EVP_PKEY *key = X509_REQ_get0_pubkey(req);
	int verdict;

	if (key == NULL)
		return est_fail_ssl(e, EST_ERR_BADREQ, "CSR public key is missing or unsupported");
	if (key_is_infinity(req))
		return est_fail(e, EST_ERR_BADREQ, "CSR public key is the point at infinity");
	if ((verdict = codec_csr_verify_ecdsa(req)) < 0)
		verdict = X509_REQ_verify(req, key);
	if (verdict != 1) {
		/* OpenSSL's reason ("EVP lib") adds nothing a person can use. */
		ERR_clear_error();
		return est_fail(e, EST_ERR_BADREQ, "CSR signature does not verify");
	}
	return EST_OK;
}

enum est_err
est_csr_get_san(X509_REQ *req, GENERAL_NAMES **out, struct est_error *e)
{
	STACK_OF(X509_EXTENSION) *exts;
	GENERAL_NAMES *san;
	int crit = -1;

	/* OpenSSL versions differ on NULL vs empty for "no request": ask first. */
	if (X509_REQ_get_attr_by_NID(req, NID_ext_req, -1) < 0 &&
	    X509_REQ_get_attr_by_NID(req, NID_ms_ext_req, -1) < 0) {
		*out = NULL;
		return EST_OK;
	}
	if ((exts = X509_REQ_get_extensions(req)) == NULL)
		return est_fail_ssl(e, EST_ERR_BADREQ,
		    "CSR extensionRequest attribute cannot be decoded");
	san = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	if (san == NULL && crit == -2)
		return est_fail(e, EST_ERR_BADREQ, "CSR requests subjectAltName more than once");
	if (san == NULL && crit != -1)
		return est_fail_ssl(e, EST_ERR_BADREQ, "CSR subjectAltName cannot be decoded");
	*out = san;
	return EST_OK;
}

GENERAL_NAMES *
est_cert_get_san(X509 *cert)
{
	return X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
}

struct der_name {
	unsigned char *der;
	int len;
};

static int
der_name_cmp(const void *pa, const void *pb)
{
	const struct der_name *a = pa, *b = pb;
	int r = memcmp(a->der, b->der, (size_t)(a->len < b->len ? a->len : b->len));

	return r != 0 ? r : (a->len > b->len) - (a->len < b->len);
}

static void
der_names_free(struct der_name *v, size_t n)
{
	size_t i;

	for (i = 0; i < n && v != NULL; i++)
		OPENSSL_free(v[i].der);
	free(v);
}

/*
 * The names as a sorted array of distinct DER encodings: DER is canonical,
 * so equal names have equal bytes. Returns false when out of memory.
 */
static bool
der_name_set(const GENERAL_NAMES *gn, struct der_name **out, size_t *count)
{
	size_t n = gn == NULL ? 0 : (size_t)sk_GENERAL_NAME_num(gn), i, k;
	struct der_name *v = calloc(n + 1, sizeof(*v));

	if (v == NULL)
		return false;
	for (i = 0; i < n; i++) {
		v[i].len = i2d_GENERAL_NAME(sk_GENERAL_NAME_value(gn, (int)i), &v[i].der);
		if (v[i].len <= 0) {
			der_names_free(v, i);
			return false;
		}
	}
	qsort(v, n, sizeof(*v), der_name_cmp);
	for (i = 0, k = 0; i < n; i++) {
		if (k > 0 && der_name_cmp(&v[i], &v[k - 1]) == 0)
			OPENSSL_free(v[i].der);
		else
			v[k++] = v[i];
	}
	*out = v;
	*count = k;
	return true;
}

bool
est_san_equal(const GENERAL_NAMES *a, const GENERAL_NAMES *b)
{
	struct der_name *va = NULL, *vb = NULL;
	size_t na = 0, nb = 0, i;
	bool equal = false;

	if (!der_name_set(a, &va, &na) || !der_name_set(b, &vb, &nb))
		goto out;
	equal = na == nb;
	for (i = 0; equal && i < na; i++)
		equal = der_name_cmp(&va[i], &vb[i]) == 0;
out:
	der_names_free(va, na);
	der_names_free(vb, nb);
	return equal;
}

static bool
is_directory_string(int type)
{
	switch (type) {
	case V_ASN1_PRINTABLESTRING:
	case V_ASN1_UTF8STRING:
	case V_ASN1_IA5STRING:
	case V_ASN1_T61STRING:
	case V_ASN1_BMPSTRING:
	case V_ASN1_UNIVERSALSTRING:
		return true;
	default:
		return false;
	}
}

/* Characters in a UTF-8 string: the bytes that do not continue a sequence. */
static size_t
utf8_chars(const unsigned char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += (s[i] & 0xc0) != 0x80;
	return n;
}

/* Check the decoded value and hand out a malloc'd copy; wipes the original. */
static enum est_err
challenge_copy(unsigned char *utf8, int len, char **out, struct est_error *e)
{
	enum est_err rc = EST_OK;
	char *copy = NULL;

	if (len == 0)
		rc = est_fail(e, EST_ERR_BADREQ, "challengePassword is empty");
	else if (memchr(utf8, '\0', (size_t)len) != NULL)
		rc = est_fail(e, EST_ERR_BADREQ, "challengePassword contains a NUL character");
	else if (utf8_chars(utf8, (size_t)len) > CHALLENGE_MAX)
		rc = est_fail(e, EST_ERR_BADREQ,
		    "challengePassword is longer than %d characters", CHALLENGE_MAX);
	else if ((copy = malloc((size_t)len + 1)) == NULL)
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory copying challengePassword");
	if (copy != NULL) {
		memcpy(copy, utf8, (size_t)len);
		copy[len] = '\0';
		*out = copy;
	}
	OPENSSL_clear_free(utf8, (size_t)len);
	return rc;
}

enum est_err
est_csr_challenge_password(X509_REQ *req, char **out, struct est_error *e)
{
	X509_ATTRIBUTE *attr;
	ASN1_TYPE *value;
	unsigned char *utf8 = NULL;
	int idx, len;

	if ((idx = X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1)) < 0) {
		*out = NULL;
		return EST_OK;
	}
	if (X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, idx) >= 0)
		return est_fail(e, EST_ERR_BADREQ, "CSR has more than one challengePassword attribute");
	attr = X509_REQ_get_attr(req, idx);
	if (X509_ATTRIBUTE_count(attr) != 1)
		return est_fail(e, EST_ERR_BADREQ, "challengePassword must have exactly one value");
	value = X509_ATTRIBUTE_get0_type(attr, 0);
	if (value == NULL || !is_directory_string(value->type))
		return est_fail(e, EST_ERR_BADREQ, "challengePassword is not a DirectoryString");
	if ((len = ASN1_STRING_to_UTF8(&utf8, value->value.asn1_string)) < 0)
		return est_fail_ssl(e, EST_ERR_BADREQ, "challengePassword is not a valid string");
	return challenge_copy(utf8, len, out, e);
}

/* A Name, read wholly from a SEQUENCE member; NULL when it is none. */
static X509_NAME *
member_name(const ASN1_TYPE *t)
{
	const unsigned char *p;
	X509_NAME *name;

	if (t->type != V_ASN1_SEQUENCE)
		return NULL;
	p = t->value.sequence->data;
	name = d2i_X509_NAME(NULL, &p, t->value.sequence->length);
	if (name != NULL && p != t->value.sequence->data + t->value.sequence->length) {
		X509_NAME_free(name);
		name = NULL;
	}
	ERR_clear_error();
	return name;
}

/*
 * Whether a member reads wholly as a SubjectAltName: one or more
 * GeneralNames, untagged or [1] IMPLICIT (erratum 3943 to RFC 6402). For a
 * SEQUENCE or a context tag the ASN1_TYPE holds the whole encoding.
 */
static bool
member_is_subject_alt(const ASN1_TYPE *t)
{
	const unsigned char *p, *end;
	long len;
	int tag, class, n = 0;
	bool ok;

	if (t->type != V_ASN1_SEQUENCE && t->type != V_ASN1_OTHER)
		return false;
	p = t->value.asn1_string->data;
	end = p + t->value.asn1_string->length;
	if ((ASN1_get_object(&p, &len, &tag, &class, end - p) & 0xa0) != V_ASN1_CONSTRUCTED ||
	    p + len != end || !((class == V_ASN1_UNIVERSAL && tag == V_ASN1_SEQUENCE) ||
	    (class == V_ASN1_CONTEXT_SPECIFIC && tag == 1)))
		return false;
	for (ok = true; ok && p < end; n++) {
		GENERAL_NAME *gn = d2i_GENERAL_NAME(NULL, &p, end - p);

		ok = gn != NULL;
		GENERAL_NAME_free(gn);
	}
	ERR_clear_error();
	return ok && n > 0;
}

enum est_err
est_csr_change_subject_name(X509_REQ *req, bool *present, X509_NAME **old_subject,
    struct est_error *e)
{
	ASN1_OBJECT *oid;
	X509_ATTRIBUTE *attr;
	ASN1_TYPE *value;
	STACK_OF(ASN1_TYPE) *seq = NULL;
	const unsigned char *p;
	X509_NAME *name;
	int idx, n, alt;

	if ((oid = OBJ_txt2obj(EST_OID_CHANGE_SUBJECT_NAME, 1)) == NULL)
		return est_fail_ssl(e, EST_ERR_NOMEM, "out of memory");
	idx = X509_REQ_get_attr_by_OBJ(req, oid, -1);
	ASN1_OBJECT_free(oid);
	*present = idx >= 0;
	*old_subject = NULL;
	if (idx < 0)
		return EST_OK;
	attr = X509_REQ_get_attr(req, idx);
	value = X509_ATTRIBUTE_count(attr) == 1 ? X509_ATTRIBUTE_get0_type(attr, 0) : NULL;
	if (value == NULL || value->type != V_ASN1_SEQUENCE)
		return est_fail(e, EST_ERR_BADREQ, "ChangeSubjectName must be one SEQUENCE (RFC 6402 §2.8)");
	p = value->value.sequence->data;
	seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, value->value.sequence->length);
	if (seq == NULL) {
		ERR_clear_error();
		return est_fail(e, EST_ERR_BADREQ, "ChangeSubjectName cannot be decoded");
	}
	/*
	 * Both optional fields are SEQUENCEs: a first one that reads wholly as a
	 * Name is the subject; what follows it, or comes alone, must be the
	 * subjectAlt. An empty SEQUENCE names nothing to change and is refused
	 * (RFC 6402 §2.8 needs at least one field).
	 */
	n = sk_ASN1_TYPE_num(seq);
	if (n < 1 || n > 2) {
		sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
		return est_fail(e, EST_ERR_BADREQ, "ChangeSubjectName must hold a subject, a "
		    "subjectAltName or both (RFC 6402 §2.8)");
	}
	name = member_name(sk_ASN1_TYPE_value(seq, 0));
	alt = name != NULL ? 1 : 0;
	if ((alt < n && !member_is_subject_alt(sk_ASN1_TYPE_value(seq, alt))) || alt + 1 < n) {
		X509_NAME_free(name);
		sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
		return est_fail(e, EST_ERR_BADREQ, "ChangeSubjectName cannot be decoded");
	}
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	*old_subject = name;
	return EST_OK;
}
