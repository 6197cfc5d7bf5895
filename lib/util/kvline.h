/*
 * One log line of named fields, as key=value pairs or as a JSON object
 * (kvline.c). Used by the access log and the audit log, whose field lists
 * are documented in docs/logs.md.
 *
 * key=value: a value made only of letters, digits and -_.:/@+,*%[]~ is
 * written as it is; any other value is quoted, with \" \\ and \xHH for
 * control bytes, so a line always parses back into the same fields and a
 * client-chosen name can neither add a field nor a line. JSON: every value
 * is a string, escaped per RFC 8259; bytes >= 0x80 that are not valid UTF-8
 * are written as \u00HH.
 */
#ifndef ESTKIT_UTIL_KVLINE_H
#define ESTKIT_UTIL_KVLINE_H

#include <stdbool.h>
#include <stddef.h>

#define KVLINE_MAX 4096

struct kvline {
	bool json;
	bool truncated;                   /* a field did not fit and was cut */
	size_t len;
	char buf[KVLINE_MAX];
};

/* Start an empty line in either form. */
void kvline_init(struct kvline *l, bool json);

/* Add one field; value NULL is written as "-". */
void kvline_add(struct kvline *l, const char *key, const char *value);
void kvline_addf(struct kvline *l, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The finished line (no newline), valid until the next call on l. */
const char *kvline_str(struct kvline *l);

/*
 * Parse the value of key in a key=value line into out (unquoted). Returns
 * true when found. Only keys at field starts match.
 */
bool kvline_get(const char *line, const char *key, char *out, size_t outlen);

#endif
