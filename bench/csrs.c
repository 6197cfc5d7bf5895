/*
 * The CSRs estbench sends, made before the clock starts: key generation
 * (an RSA key takes tens of milliseconds) must not count against the
 * server. A few distinct keys suffice: the server's work per enrolment does
 * not depend on having seen the key before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "estbench.h"

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

/* One signed CSR for a fresh key, base64 DER (one line) into *b64. */
static bool
make_one(enum key_type t, const char *cn, char **b64, size_t *len)
{
	EVP_PKEY *key = key_new(t);
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	unsigned char *der = NULL;
	bool ok = false;
	int n;

	if (key == NULL || req == NULL || name == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) ||
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

bool
csr_set_make(enum key_type t, size_t n, const char *cn_prefix, struct csr_set *out)
{
	struct csr_set s = { 0 };
	char cn[64];

	s.b64 = calloc(n, sizeof(*s.b64));
	s.len = calloc(n, sizeof(*s.len));
	if (s.b64 == NULL || s.len == NULL) {
		csr_set_free(&s);
		fprintf(stderr, "estbench: out of memory\n");
		return false;
	}
	for (s.n = 0; s.n < n; s.n++) {
		snprintf(cn, sizeof(cn), "%s-%zu", cn_prefix, s.n);
		if (!make_one(t, cn, &s.b64[s.n], &s.len[s.n])) {
			fprintf(stderr, "estbench: cannot make a %s CSR\n", key_type_name(t));
			ERR_print_errors_fp(stderr);
			csr_set_free(&s);
			return false;
		}
	}
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
