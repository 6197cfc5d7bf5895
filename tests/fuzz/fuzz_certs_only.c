/*
 * Fuzz the certs-only (PKCS#7) decoder the client applies to /cacerts and
 * enrolment responses; what decodes must encode again.
 */
#include <stdint.h>

#include <openssl/crypto.h>

#include "estkit/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	STACK_OF(X509) *certs = NULL;
	unsigned char *der = NULL;
	size_t derlen;

	if (est_certs_only_decode(data, size, &certs, NULL) != EST_OK)
		return 0;
	if (est_certs_only_encode(certs, &der, &derlen, NULL) == EST_OK)
		OPENSSL_free(der);
	sk_X509_pop_free(certs, X509_free);
	return 0;
}
