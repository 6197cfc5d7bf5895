/*
 * Fuzz the configuration reader: the INI syntax and every option parser.
 * est_config_load reads a file, so each input is written to one first.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "estkit/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct est_config *cfg = NULL;
	char *errors = NULL;
	FILE *f;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/estkit-fuzz-config.%ld", (long)getpid());
	f = fopen(path, "w");
	if (f == NULL)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	if (est_config_load(path, &cfg, &errors, NULL) == EST_OK)
		est_config_free(cfg);
	free(errors);
	unlink(path);
	return 0;
}
