/*
 * Test helper: write a CSR (DER) that carries the RFC 6402 ChangeSubjectName
 * attribute, which `openssl req` cannot add (its attributes are strings).
 *
 *   csr_change_subject KEY.pem NEW-DN OLD-DN OUT.der [SAN]
 *
 * DNs are written as estadm takes them ("CN=new,O=Org,C=SE"). The CSR asks
 * for NEW-DN, and for SAN ("dns:a.example,ip:10.0.0.5") when given; the
 * attribute's subject field names OLD-DN. OLD-DN "-" writes an empty
 * ChangeSubjectName SEQUENCE, which a server must refuse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "estkit/codec.h"

/* DER of ChangeSubjectName ::= SEQUENCE { subject Name } for old (NULL: empty). */
static ASN1_STRING *
change_subject_name(X509_NAME *old)
{
	ASN1_STRING *seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
	unsigned char *name = NULL, *der, *p;
	int n = old != NULL ? i2d_X509_NAME(old, &name) : 0, total;

	if (seq == NULL || n < 0 || (old != NULL && n == 0))
		return NULL;
	total = ASN1_object_size(1, n, V_ASN1_SEQUENCE);
	p = der = OPENSSL_malloc((size_t)total);
	ASN1_put_object(&p, 1, n, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	if (n > 0)
		memcpy(p, name, (size_t)n);
	ASN1_STRING_set0(seq, der, total);
	OPENSSL_free(name);
	return seq;
}

int
main(int argc, char **argv)
{
	struct est_error e = { 0 };
	X509_NAME *subject = NULL, *old = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES *san = NULL;
	X509_REQ *req = X509_REQ_new();
	ASN1_STRING *value;
	ASN1_OBJECT *oid = OBJ_txt2obj(EST_OID_CHANGE_SUBJECT_NAME, 1);
	EVP_PKEY *key = NULL;
	FILE *f;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: csr_change_subject KEY.pem NEW-DN OLD-DN OUT.der [SAN]\n");
		return 2;
	}
	if (argc == 6 && (est_san_parse(argv[5], &san, &e) != EST_OK ||
	    X509V3_add1_i2d(&exts, NID_subject_alt_name, san, 0, 0) != 1 ||
	    !X509_REQ_add_extensions(req, exts))) {
		fprintf(stderr, "csr_change_subject: bad SAN %s\n", e.msg);
		return 1;
	}
	if ((f = fopen(argv[1], "r")) == NULL || (key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL ||
	    est_name_parse(argv[2], &subject, &e) != EST_OK || (strcmp(argv[3], "-") != 0 && est_name_parse(argv[3], &old, &e) != EST_OK) ||
	    (value = change_subject_name(old)) == NULL) {
		fprintf(stderr, "csr_change_subject: bad key or DN %s\n", e.msg);
		return 1;
	}
	fclose(f);
	if (!X509_REQ_set_version(req, 0) || !X509_REQ_set_subject_name(req, subject) ||
	    !X509_REQ_set_pubkey(req, key) ||
	    !X509_REQ_add1_attr_by_OBJ(req, oid, V_ASN1_SEQUENCE, value->data, value->length) ||
	    !X509_REQ_sign(req, key, EVP_sha256()) || (f = fopen(argv[4], "wb")) == NULL ||
	    !i2d_X509_REQ_fp(f, req)) {
		fprintf(stderr, "csr_change_subject: cannot build the CSR\n");
		return 1;
	}
	fclose(f);
	ASN1_STRING_free(value);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(san);
	ASN1_OBJECT_free(oid);
	X509_NAME_free(subject);
	X509_NAME_free(old);
	EVP_PKEY_free(key);
	X509_REQ_free(req);
	return 0;
}
