/*
 * Fuzz est_store_import (lib/store/transfer.c), which reads a file an
 * operator carries between machines: each input is the export, imported
 * into a new SQLite store. Whatever it holds, the import fails with a reason
 * or succeeds; after success the store must export again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "estkit/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
remove_store(const char *path)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	char p[96];

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
		unlink(p);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct est_error e = { 0 };
	struct est_store *st = NULL;
	FILE *in, *out;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/dev/shm/estkit-fuzz-import.%ld.db", (long)getpid());
	remove_store(path);
	if (size == 0 || est_store_create(path, &st, &e) != EST_OK)
		return 0;
	if ((in = fmemopen((void *)data, size, "r")) != NULL) {
		if (est_store_import(st, in, "fuzz", &e) == EST_OK) {
			if ((out = fopen("/dev/null", "w")) == NULL ||
			    est_store_export(st, out, &e) != EST_OK)
				abort();
			fclose(out);
		}
		fclose(in);
	}
	est_store_close(st);
	remove_store(path);
	return 0;
}
