/*
 * Fuzz the audit log reader (lib/audit/audit.c, lib/util/kvline.c): the
 * input as an audit file for est_audit_verify and for appending (which
 * reads the file's last line), and each line for kvline_get. Appending
 * must leave a file that still verifies whenever the input did.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estkit/audit.h"
#include "util/kvline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	static const char *const fields[] = { "serial", "01", "subject", "CN=x y" };
	char hash[EST_AUDIT_HASH_HEX + 1], value[256], *text;
	struct est_audit *a = NULL;
	size_t entries = 0;
	bool valid;
	int fd;

	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	kvline_get(text, "seq", value, sizeof(value));
	kvline_get(text, "prev", value, sizeof(value));
	free(text);
	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/estkit-fuzz-audit.%ld", (long)getpid());
	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	valid = est_audit_verify(path, &entries, hash, NULL) == EST_OK;
	if (est_audit_open(path, &a, NULL) == EST_OK) {
		if (est_audit_append(a, "user:fuzz", "issue", fields, 2, NULL) == EST_OK && valid &&
		    est_audit_verify(path, &entries, hash, NULL) != EST_OK)
			abort();
		est_audit_close(a);
	}
	unlink(path);
	return 0;
}
