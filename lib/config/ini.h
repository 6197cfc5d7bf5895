/*
 * A small INI reader that reports line numbers (lib/config/ini.c).
 *
 * Grammar: blank lines; comments whose first non-blank character is '#' or
 * ';'; section headers "[words]"; "key = value" pairs. Keys and values are
 * trimmed; a value may be empty. There is no quoting and no inline comment,
 * so values may contain '#' and ';' (paths and passwords do).
 */
#ifndef ESTKIT_INI_H
#define ESTKIT_INI_H

#include <stddef.h>

struct ini_handler {
	/* A "[header]" line; header is trimmed, without brackets. */
	void (*section)(void *arg, int line, const char *header);
	/* A "key = value" line. */
	void (*pair)(void *arg, int line, const char *key, const char *value);
	/* A line that is none of the above. */
	void (*error)(void *arg, int line, const char *reason);
	void *arg;
};

/* Parse len bytes (a NUL byte is a syntax error). Returns the number of
 * syntax errors. */
int ini_parse(const char *buf, size_t len, const struct ini_handler *h);

#endif
