/*
 * Test helper: a CSR carrying the /serverkeygen encryption attributes that
 * `openssl req` cannot write (RFC 7030 §4.4.1, ASN-03): DecryptKeyIdentifier
 * and AsymmetricDecryptKeyIdentifier are OCTET STRINGs, SMIMECapabilities a
 * SEQUENCE of algorithm identifiers. Built with OpenSSL's X509_REQ calls.
 *
 *   mkcsr_keygen KEY.pem CN [--kek-id HEX] [--cert-id HEX] [--caps NAME,...]
 *
 * Writes the signed CSR, DER, to standard output. Exit 0, or 1 with a reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static int
die(const char *what)
{
	fprintf(stderr, "mkcsr_keygen: %s\n", what);
	ERR_print_errors_fp(stderr);
	return 1;
}

static int
add_octets(X509_REQ *req, const char *oid, const char *hex)
{
	long len = 0;
	unsigned char *buf = OPENSSL_hexstr2buf(hex, &len);
	int ok = buf != NULL && X509_REQ_add1_attr_by_txt(req, oid, V_ASN1_OCTET_STRING, buf, (int)len);

	OPENSSL_free(buf);
	return ok;
}

/* SMIMECapabilities from comma-separated OpenSSL names or OIDs. */
static int
add_caps(X509_REQ *req, char *names)
{
	STACK_OF(X509_ALGOR) *algs = sk_X509_ALGOR_new_null();
	unsigned char *der = NULL;
	char *save = NULL;
	int len, ok = algs != NULL;

	for (char *n = strtok_r(names, ",", &save); ok && n != NULL; n = strtok_r(NULL, ",", &save)) {
		X509_ALGOR *a = X509_ALGOR_new();
		ASN1_OBJECT *obj = OBJ_txt2obj(n, 0);

		ok = a != NULL && obj != NULL && X509_ALGOR_set0(a, obj, V_ASN1_UNDEF, NULL) &&
		    sk_X509_ALGOR_push(algs, a);
		if (!ok) {
			ASN1_OBJECT_free(obj);
			X509_ALGOR_free(a);
		}
	}
	ok = ok && (len = i2d_X509_ALGORS(algs, &der)) > 0 &&
	    X509_REQ_add1_attr_by_NID(req, NID_SMIMECapabilities, V_ASN1_SEQUENCE, der, len);
	OPENSSL_free(der);
	sk_X509_ALGOR_pop_free(algs, X509_ALGOR_free);
	return ok;
}

static int
add_option(X509_REQ *req, const char *opt, char *value)
{
	if (strcmp(opt, "--kek-id") == 0)
		return add_octets(req, "1.2.840.113549.1.9.16.2.37", value);
	if (strcmp(opt, "--cert-id") == 0)
		return add_octets(req, "1.2.840.113549.1.9.16.2.54", value);
	if (strcmp(opt, "--caps") == 0)
		return add_caps(req, value);
	return 0;
}

int
main(int argc, char **argv)
{
	X509_REQ *req = X509_REQ_new();
	EVP_PKEY *key = NULL;
	FILE *f;

	if (argc < 3 || argc % 2 == 0)
		return die("usage: mkcsr_keygen KEY.pem CN [--kek-id HEX] [--cert-id HEX] [--caps N,...]");
	if ((f = fopen(argv[1], "r")) == NULL || (key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL)
		return die("cannot read the key");
	fclose(f);
	if (req == NULL || !X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN",
	    MBSTRING_ASC, (const unsigned char *)argv[2], -1, -1, 0) || !X509_REQ_set_pubkey(req, key))
		return die("cannot build the CSR");
	for (int i = 3; i + 1 < argc; i += 2)
		if (!add_option(req, argv[i], argv[i + 1]))
			return die(argv[i]);
	if (X509_REQ_sign(req, key, EVP_PKEY_is_a(key, "ED25519") ? NULL : EVP_sha256()) <= 0 ||
	    i2d_X509_REQ_fp(stdout, req) <= 0)
		return die("cannot sign or write the CSR");
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return 0;
}
