/*
 * Certificate profiles: the extended key usages a profile may grant, the
 * keyUsage that follows from a key's type, and the X.509 v3 extensions
 * every certificate from lib/ca carries.
 *
 * Extensions are built as OpenSSL objects, never from config strings, so
 * what a certificate says does not depend on any openssl.cnf.
 */
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "ca/ca_int.h"
#include "estkit/ca.h"

struct eku_name {
	const char *name;   /* OpenSSL short name */
	unsigned bit;       /* enum est_eku */
	int nid;
};

static const struct eku_name eku_names[] = {
	{ "serverAuth", EST_EKU_SERVER_AUTH, NID_server_auth },
	{ "clientAuth", EST_EKU_CLIENT_AUTH, NID_client_auth },
	{ "codeSigning", EST_EKU_CODE_SIGNING, NID_code_sign },
	{ "emailProtection", EST_EKU_EMAIL_PROTECTION, NID_email_protect },
	{ "cmcRA", EST_EKU_CMC_RA, NID_cmcRA },  /* id-kp-cmcRA, 1.3.6.1.5.5.7.3.28 */
};

#define N_EKU (sizeof(eku_names) / sizeof(eku_names[0]))

int
est_eku_parse(const char *name, unsigned *bit)
{
	size_t i;

	for (i = 0; name != NULL && i < N_EKU; i++) {
		if (strcasecmp(name, eku_names[i].name) == 0) {
			*bit = eku_names[i].bit;
			return 0;
		}
	}
	return -1;
}

enum est_err
ca_key_usage_for(EVP_PKEY *key, unsigned *bits, struct est_error *e)
{
	if (EVP_PKEY_is_a(key, "RSA"))
		*bits = CA_KU_DIGITAL_SIGNATURE | CA_KU_KEY_ENCIPHERMENT;
	else if (EVP_PKEY_is_a(key, "EC"))
		*bits = CA_KU_DIGITAL_SIGNATURE | CA_KU_KEY_AGREEMENT;
	else if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448"))
		*bits = CA_KU_DIGITAL_SIGNATURE;
	else
		return est_fail(e, EST_ERR_BADREQ, "no key usage is defined for %s keys: use "
		    "RSA, EC or Ed25519", EVP_PKEY_get0_type_name(key));
	return EST_OK;
}

/* Add ext (an object of the type nid expects) to cert; e filled on failure. */
static enum est_err
add_ext(X509 *cert, int nid, void *ext, bool critical, struct est_error *e)
{
	if (X509_add1_ext_i2d(cert, nid, ext, critical ? 1 : 0, X509V3_ADD_DEFAULT) != 1)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot add the %s extension",
		    OBJ_nid2sn(nid));
	return EST_OK;
}

enum est_err
ca_add_basic_constraints(X509 *cert, bool is_ca, struct est_error *e)
{
	BASIC_CONSTRAINTS *bc;
	enum est_err rc;

	if ((bc = BASIC_CONSTRAINTS_new()) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	bc->ca = is_ca ? 0xFF : 0;  /* DER TRUE; FALSE is left out as the default */
	rc = add_ext(cert, NID_basic_constraints, bc, true, e);
	BASIC_CONSTRAINTS_free(bc);
	return rc;
}

enum est_err
ca_add_key_usage(X509 *cert, unsigned bits, struct est_error *e)
{
	ASN1_BIT_STRING *ku;
	enum est_err rc = EST_OK;
	int i;

	if ((ku = ASN1_BIT_STRING_new()) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (i = 0; i <= 8 && rc == EST_OK; i++)
		if ((bits & (1u << i)) != 0 && !ASN1_BIT_STRING_set_bit(ku, i, 1))
			rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
	if (rc == EST_OK)
		rc = add_ext(cert, NID_key_usage, ku, true, e);
	ASN1_BIT_STRING_free(ku);
	return rc;
}

enum est_err
ca_add_eku(X509 *cert, unsigned eku, struct est_error *e)
{
	EXTENDED_KEY_USAGE *ext;
	enum est_err rc = EST_OK;
	unsigned known = 0;
	size_t i;

	if (eku == 0)
		return EST_OK;
	if ((ext = sk_ASN1_OBJECT_new_null()) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (i = 0; i < N_EKU && rc == EST_OK; i++) {
		known |= eku_names[i].bit;
		if ((eku & eku_names[i].bit) != 0 &&
		    !sk_ASN1_OBJECT_push(ext, OBJ_nid2obj(eku_names[i].nid)))
			rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	if (rc == EST_OK && (eku & ~known) != 0)
		rc = est_fail(e, EST_ERR_CONFIG, "profile grants an unknown extended key usage "
		    "(bits 0x%x)", eku & ~known);
	if (rc == EST_OK)
		rc = add_ext(cert, NID_ext_key_usage, ext, false, e);
	/* The objects are OpenSSL's static ones: free the stack only. */
	sk_ASN1_OBJECT_free(ext);
	return rc;
}

/* The RFC 5280 §4.2.1.2 method-1 key identifier of cert's public key (SHA-1
 * of the subjectPublicKey bits). NULL on failure. Caller frees. */
static ASN1_OCTET_STRING *
key_id(const X509 *cert)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	ASN1_OCTET_STRING *id;
	unsigned int len;

	if (!X509_pubkey_digest(cert, EVP_sha1(), md, &len))
		return NULL;
	if ((id = ASN1_OCTET_STRING_new()) == NULL)
		return NULL;
	if (!ASN1_OCTET_STRING_set(id, md, (int)len)) {
		ASN1_OCTET_STRING_free(id);
		return NULL;
	}
	return id;
}

enum est_err
ca_add_key_ids(X509 *cert, const ASN1_OCTET_STRING *issuer_keyid, struct est_error *e)
{
	ASN1_OCTET_STRING *ski;
	AUTHORITY_KEYID *akid = NULL;
	enum est_err rc;

	if ((ski = key_id(cert)) == NULL)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot compute the key identifier");
	if ((akid = AUTHORITY_KEYID_new()) == NULL ||
	    (akid->keyid = ASN1_OCTET_STRING_dup(issuer_keyid ? issuer_keyid : ski)) == NULL) {
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = add_ext(cert, NID_subject_key_identifier, ski, false, e)) == EST_OK)
		rc = add_ext(cert, NID_authority_key_identifier, akid, false, e);
out:
	AUTHORITY_KEYID_free(akid);
	ASN1_OCTET_STRING_free(ski);
	return rc;
}
