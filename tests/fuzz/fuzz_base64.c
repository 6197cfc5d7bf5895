/*
 * Fuzz the base64 decoder, and check that what it decodes encodes and
 * decodes back to the same bytes (wrapped and unwrapped); and the strict
 * decoder (HTTP Basic, nonces, stored hashes): what it takes, the lenient
 * one reads the same, and encoding gives back the very input.
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

static void
strict(const uint8_t *data, size_t size)
{
	unsigned char buf[4096], *lenient = NULL;
	size_t n = 0, m = 0;

	if (size > 5000 || !est_b64_decode_strict((const char *)data, size, buf, sizeof(buf), &n))
		return;
	if (est_b64_decode((const char *)data, size, &lenient, &m, NULL) != EST_OK || m != n ||
	    memcmp(lenient, buf, n) != 0)
		abort();
	free(lenient);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *out = NULL;
	size_t outlen;

	strict(data, size);
	if (est_b64_decode((const char *)data, size, &out, &outlen, NULL) != EST_OK)
		return 0;
	round_trip(out, outlen, true);
	round_trip(out, outlen, false);
	free(out);
	return 0;
}
