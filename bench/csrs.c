/*
 * The CSRs estbench sends, made before the clock starts: key generation
 * (an RSA key takes tens of milliseconds) must not count against the
 * server. A few distinct keys suffice: the server's work per enrolment does
 * not depend on having seen the key before. With a client certificate the
 * CSRs ask for its own subject and subjectAltName, the only names an EST
 * server lets a certificate holder ask for (enrollMatchTLSSubjSAN).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "estbench.h"

const char *
key_type_name(enum key_type t)
{
	switch (t) {
	case KEY_EC_P256:
		return "ec-p256";
	case KEY_RSA_2048:
		return "rsa-2048";
	case KEY__MAX:
		break;
	}
	return "?";
}

EVP_PKEY *
key_new(enum key_type t)
{
	switch (t) {
	case KEY_EC_P256:
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	case KEY_RSA_2048:
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	case KEY__MAX:
		break;
	}
	return NULL;
}

/* Ask for own's subjectAltName in req (none: nothing to ask). */
static bool
add_san(X509_REQ *req, X509 *own)
{
	STACK_OF(X509_EXTENSION) *exts;
	GENERAL_NAMES *san;
	bool ok;

	if ((san = X509_get_ext_d2i(own, NID_subject_alt_name, NULL, NULL)) == NULL)
		return true;
	exts = sk_X509_EXTENSION_new_null();
	ok = exts != NULL && X509V3_add1_i2d(&exts, NID_subject_alt_name, san, 0, 0) == 1 &&
	    X509_REQ_add_extensions(req, exts) == 1;
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(san);
	return ok;
}

/* One signed CSR for a fresh key, base64 DER (one line) into *b64: own's
 * names, or CN=cn when own is NULL. */
static bool
make_one(enum key_type t, const char *cn, X509 *own, char **b64, size_t *len)
{
	EVP_PKEY *key = key_new(t);
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = own != NULL ? X509_NAME_dup(X509_get_subject_name(own)) : X509_NAME_new();
	unsigned char *der = NULL;
	bool ok = false;
	int n;

	if (key == NULL || req == NULL || name == NULL ||
	    (own == NULL && !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0)) ||
	    (own != NULL && !add_san(req, own)) ||
	    !X509_REQ_set_subject_name(req, name) || !X509_REQ_set_pubkey(req, key) ||
	    X509_REQ_sign(req, key, EVP_sha256()) <= 0 || (n = i2d_X509_REQ(req, &der)) <= 0)
		goto out;
	if ((*b64 = malloc(4 * (((size_t)n + 2) / 3) + 1)) == NULL)
		goto out;
	*len = (size_t)EVP_EncodeBlock((unsigned char *)*b64, der, n);
	ok = true;
out:
	OPENSSL_free(der);
	X509_NAME_free(name);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return ok;
}

/* The first certificate in the PEM file path, or NULL (after saying why). */
static X509 *
read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = NULL;

	if (f != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (x == NULL)
		fprintf(stderr, "estbench: cannot read a certificate from %s\n", path);
	return x;
}

bool
csr_set_make(enum key_type t, size_t n, const char *cn_prefix, const char *names_of,
    struct csr_set *out)
{
	struct csr_set s = { 0 };
	X509 *own = NULL;
	char cn[64];

	if (names_of != NULL && (own = read_cert(names_of)) == NULL)
		return false;

	s.b64 = calloc(n, sizeof(*s.b64));
	s.len = calloc(n, sizeof(*s.len));
	if (s.b64 == NULL || s.len == NULL) {
		csr_set_free(&s);
		X509_free(own);
		fprintf(stderr, "estbench: out of memory\n");
		return false;
	}
	for (s.n = 0; s.n < n; s.n++) {
		snprintf(cn, sizeof(cn), "%s-%zu", cn_prefix, s.n);
		if (!make_one(t, cn, own, &s.b64[s.n], &s.len[s.n])) {
			fprintf(stderr, "estbench: cannot make a %s CSR\n", key_type_name(t));
			ERR_print_errors_fp(stderr);
			csr_set_free(&s);
			X509_free(own);
			return false;
		}
	}
	X509_free(own);
	*out = s;
	return true;
}

void
csr_set_free(struct csr_set *s)
{
	for (size_t i = 0; s->b64 != NULL && i < s->n; i++)
		free(s->b64[i]);
	free(s->b64);
	free(s->len);
	memset(s, 0, sizeof(*s));
}
