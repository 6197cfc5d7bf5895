/*
 * HTTP/1.x request head parser (see http_parse.h).
 *
 * Strict where looseness enables request smuggling or confusion: a
 * Content-Length must be a plain number and may not be repeated with another
 * value, Transfer-Encoding is refused, Authorization comes once, header
 * names are tokens, no obsolete line folding, no NUL or bare CR anywhere.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/http_parse.h"

size_t
http_head_length(const char *data, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (data[i] != '\n')
			continue;
		if (data[i + 1] == '\n')
			return i + 2;
		if (data[i + 1] == '\r' && i + 2 < len && data[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static bool
is_tchar(int c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Next line in place: NUL-terminates it, strips CR; NULL at the end. */
static char *
next_line(char **cursor)
{
	char *line = *cursor, *nl;

	if (line == NULL || *line == '\0')
		return NULL;
	nl = strchr(line, '\n');
	if (nl == NULL)
		return NULL;
	*nl = '\0';
	*cursor = nl + 1;
	if (nl > line && nl[-1] == '\r')
		nl[-1] = '\0';
	return line;
}

static int
parse_request_line(char *line, struct http_head *h, char *path_room, const char **reason)
{
	char *sp1, *sp2, *q;

	sp1 = strchr(line, ' ');
	sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || strchr(sp2 + 1, ' ') != NULL) {
		*reason = "malformed request line";
		return 400;
	}
	*sp1 = *sp2 = '\0';
	h->method = line;
	h->target = sp1 + 1;
	for (const char *m = h->method; *m != '\0'; m++)
		if (!is_tchar((unsigned char)*m))
			return *reason = "malformed method", 400;
	if (h->method[0] == '\0' || h->target[0] != '/')
		return *reason = "the request target must be a path (origin-form)", 400;
	for (const char *t = h->target; *t != '\0'; t++)
		if ((unsigned char)*t <= ' ' || *t == 0x7f)
			return *reason = "malformed request target", 400;
	if (strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)sp2[8]) || sp2[9] != '\0')
		return *reason = "only HTTP/1.0 and HTTP/1.1 are served", 505;
	h->minor = sp2[8] - '0';
	/* The path is the target up to '?'. */
	q = strchr(h->target, '?');
	h->path = h->target;
	if (q != NULL) {
		memcpy(path_room, h->target, (size_t)(q - h->target));
		path_room[q - h->target] = '\0';
		h->path = path_room;
	}
	return 0;
}

static int
parse_content_length(const char *v, struct http_head *h, bool *seen, const char **reason)
{
	char *end;
	unsigned long long n;

	if (!isdigit((unsigned char)v[0]))
		return *reason = "malformed Content-Length", 400;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || n > (unsigned long long)SIZE_MAX / 2)
		return *reason = "malformed Content-Length", 400;
	if (*seen && h->content_length != (size_t)n)
		return *reason = "conflicting Content-Length fields", 400;
	*seen = true;
	h->content_length = (size_t)n;
	return 0;
}

/* Whether a comma-separated list holds token (case-insensitive). */
static bool
has_token(const char *list, const char *token)
{
	size_t n = strlen(token);

	while (*list != '\0') {
		while (*list == ' ' || *list == '\t' || *list == ',')
			list++;
		if (strncasecmp(list, token, n) == 0 &&
		    (list[n] == '\0' || list[n] == ',' || list[n] == ' ' || list[n] == '\t'))
			return true;
		while (*list != '\0' && *list != ',')
			list++;
	}
	return false;
}

/*
 * Whether f, the last field of h, is an Authorization field and not the
 * first: the field holds one credential (RFC 9110 §11.6.2), and of two a
 * proxy in front may have checked the one estd would not use.
 */
static bool
repeated_authorization(const struct http_head *h, const struct http_field *f)
{
	if (strcasecmp(f->name, "Authorization") != 0)
		return false;
	for (const struct http_field *g = h->fields; g < f; g++)
		if (strcasecmp(g->name, "Authorization") == 0)
			return true;
	return false;
}

/* Connection semantics of the fields EST cares about. */
static int
apply_field(struct http_head *h, const struct http_field *f, bool *cl_seen, const char **reason)
{
	if (repeated_authorization(h, f))
		return *reason = "more than one Authorization field", 400;
	if (strcasecmp(f->name, "Content-Length") == 0)
		return parse_content_length(f->value, h, cl_seen, reason);
	if (strcasecmp(f->name, "Transfer-Encoding") == 0)
		return *reason = "transfer codings are not supported; send Content-Length", 501;
	if (strcasecmp(f->name, "Connection") == 0) {
		if (has_token(f->value, "close"))
			h->keep_alive = false;
		else if (has_token(f->value, "keep-alive"))
			h->keep_alive = true;
	}
	if (strcasecmp(f->name, "Expect") == 0) {
		if (strcasecmp(f->value, "100-continue") != 0)
			return *reason = "unsupported Expect", 417;
		h->expect_continue = true;
	}
	return 0;
}

static int
parse_field(char *line, struct http_head *h, size_t max_fields, bool *cl_seen, const char **reason)
{
	char *colon, *v, *end;
	struct http_field *f;

	if (line[0] == ' ' || line[0] == '\t')
		return *reason = "obsolete header line folding", 400;
	colon = strchr(line, ':');
	if (colon == NULL || colon == line)
		return *reason = "malformed header field", 400;
	*colon = '\0';
	for (const char *n = line; *n != '\0'; n++)
		if (!is_tchar((unsigned char)*n))
			return *reason = "malformed header field name", 400;
	if (h->n_fields == max_fields || h->n_fields == HTTP_FIELDS_CAP)
		return *reason = "too many header fields", 431;
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	for (const char *c = v; *c != '\0'; c++)
		if (((unsigned char)*c < ' ' && *c != '\t') || *c == 0x7f)
			return *reason = "control character in a header field", 400;
	f = &h->fields[h->n_fields++];
	f->name = line;
	f->value = v;
	return apply_field(h, f, cl_seen, reason);
}

int
http_parse_head(const char *data, size_t len, size_t max_fields, struct http_head *h,
    const char **reason)
{
	char *cursor, *line;
	bool cl_seen = false;
	int status;

	memset(h, 0, sizeof(*h));
	if (memchr(data, '\0', len) != NULL)
		return *reason = "NUL byte in the request head", 400;
	/* The head, then room for the path cut from the target. */
	h->buf = malloc(2 * len + 2);
	if (h->buf == NULL)
		return *reason = "out of memory", 503;
	memcpy(h->buf, data, len);
	h->buf[len] = '\0';
	cursor = h->buf;
	line = next_line(&cursor);
	if (line == NULL || strchr(line, '\r') != NULL)
		return *reason = "malformed request line", 400;
	if ((status = parse_request_line(line, h, h->buf + len + 1, reason)) != 0)
		return status;
	h->keep_alive = h->minor >= 1;
	while ((line = next_line(&cursor)) != NULL && line[0] != '\0') {
		if (strchr(line, '\r') != NULL)
			return *reason = "bare CR in the request head", 400;
		if ((status = parse_field(line, h, max_fields, &cl_seen, reason)) != 0)
			return status;
	}
	if (line == NULL)
		return *reason = "incomplete request head", 400;
	return 0;
}

void
http_head_clear(struct http_head *h)
{
	free(h->buf);
	memset(h, 0, sizeof(*h));
}

const char *
http_head_field(const struct http_head *h, const char *name)
{
	for (size_t i = 0; i < h->n_fields; i++)
		if (strcasecmp(h->fields[i].name, name) == 0)
			return h->fields[i].value;
	return NULL;
}
