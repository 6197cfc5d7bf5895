/*
 * HTTP/1.x request head parser (lib/server/http_parse.c).
 *
 * A pure function over bytes, so it can be fuzzed alone: it takes one
 * complete request head (request line and header fields, up to and
 * including the empty line) and fills a struct http_head whose strings point
 * into a private copy. Only what EST needs is supported: origin-form
 * targets, Content-Length bodies (no chunked request bodies), HTTP/1.0 and
 * HTTP/1.1 with keep-alive.
 */
#ifndef ESTKIT_HTTP_PARSE_H
#define ESTKIT_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* The most header fields a head may have (max-header-fields is at most this). */
#define HTTP_FIELDS_CAP 256

struct http_field {
	const char *name;
	const char *value;                 /* leading and trailing blanks removed */
};

struct http_head {
	char *buf;                         /* owned copy the strings point into */
	const char *method;
	const char *target;                /* as received: path and query */
	const char *path;                  /* target without the query (own copy in buf) */
	int minor;                         /* HTTP/1.<minor> */
	struct http_field fields[HTTP_FIELDS_CAP];
	size_t n_fields;
	size_t content_length;
	bool keep_alive;
	bool expect_continue;
};

/*
 * Parse a request head of len bytes (it ends with an empty line) with at
 * most max_fields header fields (capped at HTTP_FIELDS_CAP). Returns 0 and
 * fills head (free with http_head_clear), or the HTTP status to refuse it
 * with (400 malformed, 431 too many header fields, 501 a transfer coding,
 * 505 another HTTP version) and a static reason.
 */
int http_parse_head(const char *data, size_t len, size_t max_fields, struct http_head *head,
    const char **reason);

/* Free what http_parse_head allocated; head may be zeroed or filled. */
void http_head_clear(struct http_head *head);

/* The value of a header field (case-insensitive name), or NULL. */
const char *http_head_field(const struct http_head *head, const char *name);

/* Length of the head at the start of data (through the empty line), or 0
 * when the head is not complete yet. Lines may end in CRLF or LF. */
size_t http_head_length(const char *data, size_t len);

#endif
