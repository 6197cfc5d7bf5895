/*
 * INI reader (see ini.h). Works on a buffer so that the configuration
 * fuzzer can drive it without files; lines are at most 4 KiB.
 */
#include <ctype.h>
#include <string.h>

#include "config/ini.h"

#define INI_MAX_LINE 4096

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

static int
parse_line(char *line, int lineno, const struct ini_handler *h)
{
	char *s, *eq, *close;

	s = trim(line);
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		close = strchr(s, ']');
		if (close == NULL || close[1] != '\0') {
			h->error(h->arg, lineno, "section header must be \"[name]\"");
			return 1;
		}
		*close = '\0';
		h->section(h->arg, lineno, trim(s + 1));
		return 0;
	}
	eq = strchr(s, '=');
	if (eq == NULL) {
		h->error(h->arg, lineno, "expected \"key = value\"");
		return 1;
	}
	*eq = '\0';
	if (*trim(s) == '\0') {
		h->error(h->arg, lineno, "missing key before '='");
		return 1;
	}
	h->pair(h->arg, lineno, trim(s), trim(eq + 1));
	return 0;
}

int
ini_parse(const char *buf, size_t len, const struct ini_handler *h)
{
	char line[INI_MAX_LINE + 1];
	size_t start = 0, end, n;
	int lineno = 0, errors = 0;

	while (start < len) {
		lineno++;
		end = start;
		while (end < len && buf[end] != '\n')
			end++;
		n = end - start;
		if (n > INI_MAX_LINE) {
			h->error(h->arg, lineno, "line longer than 4096 bytes");
			errors++;
		} else if (memchr(buf + start, '\0', n) != NULL) {
			h->error(h->arg, lineno, "line contains a NUL byte");
			errors++;
		} else {
			memcpy(line, buf + start, n);
			line[n] = '\0';
			errors += parse_line(line, lineno, h);
		}
		start = end + 1;
	}
	return errors;
}
