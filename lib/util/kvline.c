/*
 * Lines of key=value fields or JSON objects (lib/util/kvline.h).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/kvline.h"

void
kvline_init(struct kvline *l, bool json)
{
	l->json = json;
	l->truncated = false;
	l->len = 0;
	l->buf[0] = '\0';
}

/* Room is kept for the closing brace and the terminator. */
static void
put(struct kvline *l, const char *s, size_t n)
{
	if (l->len + n + 2 > sizeof(l->buf)) {
		l->truncated = true;
		n = sizeof(l->buf) - 2 - l->len;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	l->buf[l->len] = '\0';
}

static void
putc_(struct kvline *l, char c)
{
	put(l, &c, 1);
}

static bool
plain_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    strchr("-_.:/@+,*%[]~", c) != NULL;
}

static bool
needs_quotes(const char *v)
{
	if (*v == '\0')
		return true;
	for (; *v != '\0'; v++)
		if (!plain_char((unsigned char)*v))
			return true;
	return false;
}

static void
put_kv_value(struct kvline *l, const char *v)
{
	char hex[8];

	if (!needs_quotes(v)) {
		put(l, v, strlen(v));
		return;
	}
	putc_(l, '"');
	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;

		if (c == '"' || c == '\\') {
			putc_(l, '\\');
			putc_(l, (char)c);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(hex, sizeof(hex), "\\x%02x", c);
			put(l, hex, 4);
		} else {
			putc_(l, (char)c);
		}
	}
	putc_(l, '"');
}

/* Length of a valid UTF-8 sequence at s, or 0. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

static void
put_json_string(struct kvline *l, const char *v)
{
	const unsigned char *s = (const unsigned char *)v;
	char esc[8];

	putc_(l, '"');
	while (*s != '\0') {
		size_t n = utf8_len(s);

		if (*s == '"' || *s == '\\') {
			putc_(l, '\\');
			putc_(l, (char)*s);
		} else if (*s < 0x20 || *s == 0x7f || n == 0) {
			snprintf(esc, sizeof(esc), "\\u%04x", *s);
			put(l, esc, 6);
			n = 1;
		} else {
			put(l, (const char *)s, n);
			s += n;
			continue;
		}
		s++;
	}
	putc_(l, '"');
}

void
kvline_add(struct kvline *l, const char *key, const char *value)
{
	if (value == NULL)
		value = "-";
	if (l->json) {
		putc_(l, l->len == 0 ? '{' : ',');
		put_json_string(l, key);
		putc_(l, ':');
		put_json_string(l, value);
		return;
	}
	if (l->len > 0)
		putc_(l, ' ');
	put(l, key, strlen(key));
	putc_(l, '=');
	put_kv_value(l, value);
}

void
kvline_addf(struct kvline *l, const char *key, const char *fmt, ...)
{
	char value[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	kvline_add(l, key, value);
}

const char *
kvline_str(struct kvline *l)
{
	if (l->json) {
		if (l->len == 0)
			putc_(l, '{');
		/* put() always leaves room for this brace. */
		l->buf[l->len] = '}';
		l->buf[l->len + 1] = '\0';
	}
	return l->buf;
}

/* Where key's value starts in line, or NULL. */
static const char *
find_value(const char *line, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = line; *p != '\0'; p++) {
		if ((p == line || p[-1] == ' ') && strncmp(p, key, klen) == 0 && p[klen] == '=')
			return p + klen + 1;
		/* Skip a quoted value whole, so a key inside it never matches. */
		if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++)
				if (*p == '\\' && p[1] != '\0')
					p++;
			if (*p == '\0')
				return NULL;
		}
	}
	return NULL;
}

bool
kvline_get(const char *line, const char *key, char *out, size_t outlen)
{
	const char *p = find_value(line, key);
	size_t o = 0;

	if (p == NULL)
		return false;
	if (*p != '"') {
		while (*p != '\0' && *p != ' ' && o + 1 < outlen)
			out[o++] = *p++;
	} else {
		for (p++; *p != '\0' && *p != '"' && o + 1 < outlen; p++) {
			if (*p == '\\' && p[1] == 'x' && isxdigit((unsigned char)p[2]) &&
			    isxdigit((unsigned char)p[3])) {
				char hex[3] = { p[2], p[3], '\0' };

				out[o++] = (char)strtol(hex, NULL, 16);
				p += 3;
			} else if (*p == '\\' && p[1] != '\0') {
				out[o++] = *++p;
			} else {
				out[o++] = *p;
			}
		}
	}
	out[o] = '\0';
	return true;
}
