/*
 * Fuzz the server's CSR attributes codec: DER CsrAttrs (what a client's own
 * /csrattrs tooling and our tests feed it) and the configuration's text form
 * (csrattrs = ...). What decodes or parses must encode, and encoding is
 * stable: decode(encode(x)) encodes to the same bytes again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "estkit/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Encode a, decode that, encode again: both encodings must be equal. */
static void
round_trip(const struct est_csrattrs *a)
{
	struct est_csrattrs *back = NULL;
	unsigned char *der = NULL, *der2 = NULL;
	size_t len, len2;

	if (est_csrattrs_encode(a, &der, &len, NULL) != EST_OK)
		abort();
	if (est_csrattrs_decode(der, len, &back, NULL) != EST_OK || back->n != a->n ||
	    est_csrattrs_encode(back, &der2, &len2, NULL) != EST_OK || len2 != len ||
	    memcmp(der, der2, len) != 0)
		abort();
	OPENSSL_free(der);
	OPENSSL_free(der2);
	est_csrattrs_free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct est_csrattrs *a = NULL;
	char *text;

	if (est_csrattrs_decode(data, size, &a, NULL) == EST_OK) {
		round_trip(a);
		est_csrattrs_free(a);
		a = NULL;
	}
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (est_csrattrs_parse(text, &a, NULL) == EST_OK) {
		round_trip(a);
		est_csrattrs_free(a);
	}
	free(text);
	return 0;
}
