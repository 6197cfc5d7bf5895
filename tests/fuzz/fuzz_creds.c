/*
 * Fuzz the credentials file reader (users.txt, lib/auth/credentials.c) and
 * the rewrite behind `estadm user del`: a file that loads must survive the
 * deletion of a user and still load, one user fewer when the user was
 * there. Basic passwords are not checked here: a file may ask for up to
 * 10^7 PBKDF2 iterations, which is slow by design.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "auth/creds.h"
#include "estkit/httpauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static bool
write_file(const uint8_t *data, size_t size)
{
	FILE *f;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/estkit-fuzz-users.%ld", (long)getpid());
	if ((f = fopen(path, "w")) == NULL)
		return false;
	fwrite(data, 1, size, f);
	return fclose(f) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct est_creds *c = NULL, *after = NULL;
	char ha1[EST_CREDS_HEX_LEN];
	size_t before;

	if (!write_file(data, size))
		return 0;
	if (est_creds_load(path, &c, NULL) != EST_OK) {
		unlink(path);
		return 0;
	}
	before = est_creds_count(c);
	(void)est_creds_digest_ha1(c, "estuser", "estkit", false, ha1, NULL);
	(void)est_creds_digest_ha1(c, "estuser", "estkit", true, ha1, NULL);
	(void)est_creds_refresh(c, NULL);
	est_creds_free(c);
	if (est_creds_del(path, "estuser", NULL) == EST_OK) {
		if (est_creds_load(path, &after, NULL) != EST_OK || est_creds_count(after) != before - 1)
			abort();
		est_creds_free(after);
	}
	unlink(path);
	return 0;
}
