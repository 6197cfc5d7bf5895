/*
 * Fuzz the decrypt-keys file reader (lib/auth/keks.c): the shared keys estd
 * encrypts server-generated keys with (RFC 7030 §4.4.1.1). The file must be
 * private, so each input is written with mode 0600 first.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "estkit/kek.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char id[4] = { 0xde, 0xad, 0xbe, 0xef };
	static char path[64];
	struct est_keks *k = NULL;
	const unsigned char *key;
	size_t keylen;
	int fd;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/estkit-fuzz-keks.%ld", (long)getpid());
	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	if (est_keks_load(path, &k, NULL) == EST_OK) {
		if (est_keks_find(k, "estuser", id, sizeof(id), &key, &keylen, NULL) == EST_OK &&
		    keylen != 16 && keylen != 24 && keylen != 32)
			abort();
		est_keks_free(k);
	}
	unlink(path);
	return 0;
}
