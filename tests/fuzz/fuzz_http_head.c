/*
 * Fuzz the HTTP request head parser: every byte a client sends before
 * the body reaches it, on every listener, before any authentication.
 */
#include <stdint.h>

#include "server/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_head h;
	const char *reason;
	size_t len = http_head_length((const char *)data, size);

	if (len == 0)
		return 0;
	if (http_parse_head((const char *)data, len, HTTP_FIELDS_CAP, &h, &reason) == 0) {
		(void)http_head_field(&h, "Authorization");
		(void)http_head_field(&h, "Content-Type");
	}
	http_head_clear(&h);
	return 0;
}
