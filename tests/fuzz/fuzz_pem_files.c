/*
 * Fuzz the PEM files an operator hands to estadm, estd and estclient:
 * certificate chains and trust anchors (est_certs_read), CSRs
 * (est_csr_read_file) and private keys (est_key_read, then the checks and
 * descriptions applied to a loaded key). Each input is written to a file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "estkit/ca.h"
#include "estkit/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
key_file(const char *path)
{
	EVP_PKEY *key = NULL;
	char desc[64], spki[65];

	if (est_key_read(path, false, &key, NULL) != EST_OK)
		return;
	(void)est_key_policy_check(key, NULL);
	est_key_describe(key, desc, sizeof(desc));
	(void)est_spki_sha256(key, spki, NULL);
	EVP_PKEY_free(key);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	STACK_OF(X509) *certs = NULL;
	X509_REQ *csr = NULL;
	FILE *f;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/estkit-fuzz-pem.%ld", (long)getpid());
	if ((f = fopen(path, "w")) == NULL)
		return 0;
	fwrite(data, 1, size, f);
	if (fclose(f) != 0)
		return 0;
	if (est_certs_read(path, &certs, NULL) == EST_OK) {
		if (sk_X509_num(certs) < 1)
			abort();
		sk_X509_pop_free(certs, X509_free);
	}
	if (est_csr_read_file(path, &csr, NULL) == EST_OK)
		X509_REQ_free(csr);
	key_file(path);
	unlink(path);
	return 0;
}
