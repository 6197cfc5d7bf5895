/*
 * Fuzz the HTTP Bearer check (RFC 6750): the Authorization header, and the
 * JWT inside it (base64url, JSON header and claims, ES256 signature)
 * against a tokens file with one entry and an EC P-256 key. Nothing a
 * client sends may crash it, and nothing made up may pass.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "estkit/bearer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct est_bearer_conf conf;
static char tokens[64];

static void
setup(void)
{
	bool replaced;
	char *tok = NULL;

	snprintf(tokens, sizeof(tokens), "/tmp/estkit-fuzz-tokens.%ld", (long)getpid());
	unlink(tokens);
	if (est_token_add(tokens, "dev", &tok, &replaced, NULL) != EST_OK)
		abort();
	free(tok);
	if ((conf.jwt_key = EVP_EC_gen("P-256")) == NULL)
		abort();
	conf.tokens_path = tokens;
	conf.jwt_issuer = "iss";
	conf.jwt_audience = "aud";
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char principal[EST_BEARER_PRINCIPAL_MAX];
	const char *rfc_error;
	char *header;

	if (conf.jwt_key == NULL)
		setup();
	if ((header = malloc(size + 8)) == NULL)
		return 0;
	memcpy(header, "Bearer ", 7);
	memcpy(header + 7, data, size);
	header[size + 7] = '\0';
	/* A random token (1 in 2^256) or a JWT signed by a key nobody has. */
	if (est_bearer_check(&conf, header, 1700000000, principal, &rfc_error, NULL) == EST_OK)
		abort();
	free(header);
	return 0;
}
