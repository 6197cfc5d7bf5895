/*
 * Fuzz the Authorization header parser (Basic and Digest) against a
 * credentials set with one user, and the reading of the claimed user name;
 * nothing a client sends may crash them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estkit/httpauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct est_creds *creds;
static struct est_nonces *nonces;
static const unsigned char key[EST_HTTPAUTH_NONCE_KEY_LEN] = { 1, 2, 3 };

static void
load_creds(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/tmp/estkit-fuzz-users.%ld", (long)getpid());
	unlink(path);
	if (est_creds_set(path, "estkit", "estuser", "estpwd", NULL, NULL) != EST_OK ||
	    est_creds_load(path, &creds, NULL) != EST_OK ||
	    est_nonces_new(key, 64, &nonces, NULL) != EST_OK)
		abort();
	unlink(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *header, user[EST_HTTPAUTH_MAX_USER + 1];
	bool stale;

	if (creds == NULL)
		load_creds();
	header = malloc(size + 1);
	if (header == NULL)
		return 0;
	memcpy(header, data, size);
	header[size] = '\0';
	(void)est_httpauth_check(creds, "estkit", "POST", "/.well-known/est/simpleenroll", header,
	    nonces, 1700000000, user, &stale, NULL);
	/* The name read for the failure limits is a valid user name, or none. */
	if (est_httpauth_user(header, user) != est_creds_valid_user(user))
		abort();
	free(header);
	return 0;
}
