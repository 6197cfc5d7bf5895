/*
 * Results as bytes: PEM certificates and keys, certs-only PKCS#7 and PKCS#8
 * as base64 (the forms EST answers come in, and the files estclient
 * writes). Private key bytes are produced in OpenSSL's memory BIOs and
 * wiped there before the BIO is freed.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "estkit/client.h"
#include "estkit/codec.h"

/* Copy what b holds into a malloc'd, NUL-terminated buffer; wipe b's copy. */
static enum est_err
take_bio(BIO *b, char **out, size_t *len, struct est_error *e)
{
	char *data = NULL, *copy;
	long n = BIO_get_mem_data(b, &data);

	if (n < 0 || (copy = malloc((size_t)n + 1)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	memcpy(copy, data, (size_t)n);
	copy[n] = '\0';
	OPENSSL_cleanse(data, (size_t)n);
	*out = copy;
	*len = (size_t)n;
	return EST_OK;
}

enum est_err
est_certs_pem(STACK_OF(X509) *certs, char **out, size_t *len, struct est_error *e)
{
	BIO *b = BIO_new(BIO_s_mem());
	enum est_err rc = EST_OK;

	if (b == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (int i = 0; rc == EST_OK && i < sk_X509_num(certs); i++)
		if (PEM_write_bio_X509(b, sk_X509_value(certs, i)) != 1)
			rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot write certificate %d as PEM", i);
	if (rc == EST_OK)
		rc = take_bio(b, out, len, e);
	BIO_free(b);
	return rc;
}

enum est_err
est_der_b64(const unsigned char *der, size_t derlen, char **out, size_t *len,
    struct est_error *e)
{
	return est_b64_encode(der, derlen, true, out, len, e);
}

enum est_err
est_certs_p7_b64(STACK_OF(X509) *certs, char **out, size_t *len, struct est_error *e)
{
	unsigned char *der = NULL;
	size_t derlen = 0;
	enum est_err rc;

	if ((rc = est_certs_only_encode(certs, &der, &derlen, e)) != EST_OK)
		return rc;
	rc = est_b64_encode(der, derlen, true, out, len, e);
	OPENSSL_free(der);
	return rc;
}

enum est_err
est_key_pem(EVP_PKEY *key, char **out, size_t *len, struct est_error *e)
{
	BIO *b = BIO_new(BIO_s_mem());
	enum est_err rc;

	if (b == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	if (PEM_write_bio_PKCS8PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) != 1)
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "cannot write the private key as PEM");
	else
		rc = take_bio(b, out, len, e);
	BIO_free(b);
	return rc;
}

enum est_err
est_key_pkcs8_b64(EVP_PKEY *key, char **out, size_t *len, struct est_error *e)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	unsigned char *der = NULL;
	int n;
	enum est_err rc;

	if (p8 == NULL || (n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0) {
		PKCS8_PRIV_KEY_INFO_free(p8);
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot encode the private key as PKCS#8");
	}
	rc = est_b64_encode(der, (size_t)n, true, out, len, e);
	OPENSSL_clear_free(der, (size_t)n);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return rc;
}
