/*
 * Fuzz the base64 decoder, and check that what it decodes encodes and
 * decodes back to the same bytes (wrapped and unwrapped).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "estkit/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
round_trip(const unsigned char *der, size_t len, bool wrap)
{
	char *b64 = NULL;
	unsigned char *back = NULL;
	size_t b64len, backlen;

	if (est_b64_encode(der, len, wrap, &b64, &b64len, NULL) != EST_OK)
		abort();
	if (est_b64_decode(b64, b64len, &back, &backlen, NULL) != EST_OK ||
	    backlen != len || memcmp(back, der, len) != 0)
		abort();
	free(b64);
	free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *out = NULL;
	size_t outlen;

	if (est_b64_decode((const char *)data, size, &out, &outlen, NULL) != EST_OK)
		return 0;
	round_trip(out, outlen, true);
	round_trip(out, outlen, false);
	free(out);
	return 0;
}
