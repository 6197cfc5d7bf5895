/*
 * Fuzz the lock-out file reader and rewriter (lib/auth/lockouts.c), which
 * estd and estadm share through a file anyone with the store's directory
 * could damage. Each input is the file: it is listed and looked up, then a
 * lock-out is recorded, which must then be found and listed, and clearing
 * everything must leave nothing listed.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estkit/lockout.h"

#define NOW 1700000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
listed(const char *path, const char *kind, const char *key)
{
	struct est_lockout *l = NULL;
	size_t n = 0, found = 0;

	if (est_lockout_list(path, NOW, &l, &n, NULL) != EST_OK)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (l[i].key[0] == '\0' || l[i].until <= NOW || (strcmp(l[i].kind, "address") != 0 &&
		    strcmp(l[i].kind, "user") != 0 && strcmp(l[i].kind, "ee") != 0))
			abort();
		found += strcmp(l[i].kind, kind) == 0 && strcmp(l[i].key, key) == 0;
	}
	free(l);
	return found;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	static const char odd[] = "x y\n%0A address 1";
	size_t removed;
	int fd;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/estkit-fuzz-lockouts.%ld", (long)getpid());
	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	(void)listed(path, "address", "127.0.0.1");
	(void)est_lockout_present(path, "address", "127.0.0.1");
	if (est_lockout_record(path, "user", odd, NOW + 60, NOW, NULL) == EST_OK) {
		if (est_lockout_present(path, "user", odd) != 1 || listed(path, "user", odd) != 1)
			abort();
		if (est_lockout_clear(path, NULL, NOW, &removed, NULL) != EST_OK || removed == 0 ||
		    listed(path, "user", odd) != 0 || est_lockout_present(path, "user", odd) != 0)
			abort();
	}
	unlink(path);
	return 0;
}
