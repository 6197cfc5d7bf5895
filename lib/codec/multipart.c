/*
 * multipart/mixed bodies (RFC 2046 §5.1) for /serverkeygen (RFC 7030 §4.4.2).
 *
 * The layout is fixed so that line-oriented readers work: each part is the
 * delimiter line, exactly two header lines (Content-Type and
 * Content-Transfer-Encoding: base64), an empty line, then the base64 lines;
 * every line ends in CRLF, and there is no preamble or epilogue. The seed's
 * parse_server_keygen_response script counts on "delimiter + 4" being the
 * first body line. Bodies may carry a private key: the output is cleansed
 * memory for the caller to free with OPENSSL_clear_free.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "estkit/codec.h"

#define CRLF "\r\n"
#define CTE_LINE "Content-Transfer-Encoding: base64" CRLF

/* Appends to a buffer sized beforehand; the sizes below make overflow impossible. */
struct out {
	char *buf;
	size_t len;
};

static void
put(struct out *o, const char *s, size_t n)
{
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void
puts0(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* The body's lines, each ended by CRLF whatever it ended with; blank lines dropped. */
static void
put_lines(struct out *o, const char *body, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t end = i;

		while (end < len && body[end] != '\n')
			end++;
		size_t n = end - i;

		if (n > 0 && body[i + n - 1] == '\r')
			n--;
		if (n > 0) {
			put(o, body + i, n);
			puts0(o, CRLF);
		}
		i = end + 1;
	}
}

static bool
contains(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return true;
	return false;
}

/* RFC 2046 §5.1.1: 1-70 characters; we allow the plain subset only. */
static bool
valid_boundary(const char *b)
{
	size_t n = strlen(b);

	return n >= 1 && n <= 70 && strspn(b, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789'()+_,-./:=?") == n;
}

enum est_err
est_multipart_encode(const struct est_mime_part *parts, size_t n, const char *boundary,
    char **out, size_t *outlen, struct est_error *e)
{
	struct out o = { 0 };
	size_t blen = strlen(boundary), cap = 0;

	if (n == 0 || !valid_boundary(boundary))
		return est_fail(e, EST_ERR_INTERNAL, "multipart: no parts or a bad boundary");
	for (size_t i = 0; i < n; i++) {
		if (contains(parts[i].body, parts[i].len, boundary) ||
		    strpbrk(parts[i].content_type, "\r\n") != NULL)
			return est_fail(e, EST_ERR_INTERNAL, "multipart: part %zu contains the "
			    "boundary or a line break in its type", i);
		/* Delimiter, two headers, blank line; a body line grows by at most CR. */
		cap += 2 + blen + 2 + strlen("Content-Type: ") + strlen(parts[i].content_type) + 2 +
		    strlen(CTE_LINE) + 2 + 2 * parts[i].len + 2;
	}
	cap += 2 + blen + 2 + 2 + 1;
	if ((o.buf = OPENSSL_zalloc(cap)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory building a multipart body");
	for (size_t i = 0; i < n; i++) {
		puts0(&o, "--");
		puts0(&o, boundary);
		puts0(&o, CRLF "Content-Type: ");
		puts0(&o, parts[i].content_type);
		puts0(&o, CRLF CTE_LINE CRLF);
		put_lines(&o, parts[i].body, parts[i].len);
	}
	puts0(&o, "--");
	puts0(&o, boundary);
	puts0(&o, "--" CRLF);
	*out = o.buf;
	*outlen = o.len;
	return EST_OK;
}
