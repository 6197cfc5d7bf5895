/*
 * Fuzz the multipart reader the client applies to a /serverkeygen answer
 * (RFC 7030 §4.4.2) and the Content-Type parser. The first line of an input
 * is read as a Content-Type value; the whole input is split at the boundary
 * estd uses, and the rest after the first line at the first line's boundary
 * parameter when it has one. Every part must be a slice of the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "estkit/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PARTS 4

static volatile unsigned sink;

static void
split(const uint8_t *data, size_t size, const char *boundary)
{
	struct est_mime_slice parts[MAX_PARTS];
	size_t n = 0;

	if (est_multipart_parse(data, size, boundary, parts, MAX_PARTS, &n, NULL) != EST_OK)
		return;
	if (n == 0 || n > MAX_PARTS)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (parts[i].body < data || parts[i].len > size ||
		    parts[i].body + parts[i].len > data + size)
			abort();
		/* Touch every byte, so ASan checks the slice. */
		for (size_t k = 0; k < parts[i].len; k++)
			sink += parts[i].body[k];
		(void)est_media_type_is(&parts[i].type, "application/pkcs7-mime",
		    "server-generated-key");
		(void)est_media_type_param(&parts[i].type, "smime-type");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t first = nl == NULL ? size : (size_t)(nl - data);
	struct est_media_type mt;
	const char *boundary;

	split(data, size, EST_MULTIPART_BOUNDARY);
	if (est_media_type_parse((const char *)data, first, &mt, NULL) != EST_OK)
		return 0;
	if (mt.n_params > EST_MEDIA_MAX_PARAMS || memchr(mt.type, '\0', sizeof(mt.type)) == NULL)
		abort();
	if ((boundary = est_media_type_param(&mt, "boundary")) != NULL && nl != NULL)
		split(nl + 1, size - first - 1, boundary);
	return 0;
}
