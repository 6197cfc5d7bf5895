/*
 * Reading multipart/mixed bodies (RFC 2046 §5.1), as /serverkeygen answers with
 * them (RFC 7030 §4.4.2).
 *
 * A delimiter is "--boundary" at the start of a line, followed by optional
 * spaces and a line end; the line end before it belongs to the delimiter,
 * not to the part. Lines may end in CRLF or LF alone (est-conformance.md
 * EST-C-60). Parts are returned as slices of the input: nothing is copied.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "estkit/codec.h"

#define BOUNDARY_MAX 70
#define HEADER_MAX 512

struct mp {
	const unsigned char *buf;
	size_t len;
	const char *delim;              /* "--" boundary */
	size_t dlen;
};

/* Length of the line end at off (CRLF or LF), or 0 when none is there. */
static size_t
eol_at(const struct mp *m, size_t off)
{
	if (off < m->len && m->buf[off] == '\n')
		return 1;
	if (off + 1 < m->len && m->buf[off] == '\r' && m->buf[off + 1] == '\n')
		return 2;
	return 0;
}

/*
 * Whether a delimiter line starts at off. *next is where the following part
 * starts (after the line end), *close whether it is the closing "--b--".
 */
static bool
delim_at(const struct mp *m, size_t off, size_t *next, bool *close)
{
	size_t p = off + m->dlen, n;

	if (off > 0 && m->buf[off - 1] != '\n')
		return false;
	if (m->len - off < m->dlen || memcmp(m->buf + off, m->delim, m->dlen) != 0)
		return false;
	*close = m->len - p >= 2 && m->buf[p] == '-' && m->buf[p + 1] == '-';
	if (*close)
		p += 2;
	while (p < m->len && (m->buf[p] == ' ' || m->buf[p] == '\t'))
		p++;
	n = eol_at(m, p);
	if (n == 0 && p != m->len)
		return false; /* more text on the line: not a delimiter */
	*next = p + n;
	return true;
}

/* The next delimiter at or after from; false when there is none. */
static bool
find_delim(const struct mp *m, size_t from, size_t *at, size_t *next, bool *close)
{
	for (size_t i = from; i + m->dlen <= m->len; i++) {
		if (m->buf[i] == '-' && delim_at(m, i, next, close)) {
			*at = i;
			return true;
		}
	}
	return false;
}

/* Append a (folded) Content-Type line's text to ct; false when too long. */
static bool
ct_append(char *ct, size_t *n, const unsigned char *s, size_t len)
{
	if (*n + len + 1 > HEADER_MAX)
		return false;
	memcpy(ct + *n, s, len);
	*n += len;
	ct[*n] = '\0';
	return true;
}

/*
 * Read the part's header lines up to the empty line; take Content-Type.
 * *body is where the body starts (the end, when there is no empty line).
 */
static enum est_err
part_headers(const unsigned char *p, size_t len, struct est_mime_slice *part,
    size_t *body, struct est_error *e)
{
	static const char CT[] = "content-type:";
	char ct[HEADER_MAX] = "text/plain";
	size_t off = 0, ctlen = 0, eol, llen;
	bool in_ct = false, have_ct = false;

	while (off < len) {
		const unsigned char *nl = memchr(p + off, '\n', len - off);

		eol = nl == NULL ? len : (size_t)(nl - p);
		llen = eol - off - (eol > off && p[eol - 1] == '\r');
		if (llen == 0) {
			off = eol + (nl != NULL);
			break;
		}
		if (p[off] == ' ' || p[off] == '\t') {
			if (in_ct && !ct_append(ct, &ctlen, p + off, llen))
				return est_fail(e, EST_ERR_BADREQ, "multipart Content-Type is too long");
		} else if (memchr(p + off, ':', llen) == NULL) {
			return est_fail(e, EST_ERR_BADREQ, "multipart part has a malformed header line");
		} else if ((in_ct = llen >= sizeof(CT) - 1 &&
		    strncasecmp((const char *)p + off, CT, sizeof(CT) - 1) == 0)) {
			ctlen = 0;
			have_ct = true;
			if (!ct_append(ct, &ctlen, p + off + sizeof(CT) - 1, llen - (sizeof(CT) - 1)))
				return est_fail(e, EST_ERR_BADREQ, "multipart Content-Type is too long");
		}
		off = eol + (nl != NULL);
	}
	*body = off > len ? len : off;
	return est_media_type_parse(ct, have_ct ? ctlen : strlen(ct), &part->type, e);
}

enum est_err
est_multipart_parse(const unsigned char *body, size_t len, const char *boundary,
    struct est_mime_slice *parts, size_t max, size_t *count, struct est_error *e)
{
	char delim[BOUNDARY_MAX + 3];
	struct mp m = { body, len, delim, 0 };
	size_t blen = boundary == NULL ? 0 : strlen(boundary), at, next, start, hdr = 0, n = 0;
	bool close = false;
	enum est_err rc;

	if (blen == 0 || blen > BOUNDARY_MAX || strpbrk(boundary, "\r\n") != NULL)
		return est_fail(e, EST_ERR_BADREQ, "multipart boundary is missing or longer than "
		    "%d characters", BOUNDARY_MAX);
	m.dlen = (size_t)snprintf(delim, sizeof(delim), "--%s", boundary);
	if (!find_delim(&m, 0, &at, &start, &close) || close)
		return est_fail(e, EST_ERR_BADREQ, "multipart body has no part (boundary \"%s\" "
		    "not found)", boundary);
	while (!close) {
		if (!find_delim(&m, start, &at, &next, &close))
			return est_fail(e, EST_ERR_BADREQ, "multipart body is cut short: no closing "
			    "boundary \"--%s--\"", boundary);
		if (n == max)
			return est_fail(e, EST_ERR_BADREQ, "multipart body has more than %zu parts", max);
		/* The line end before the delimiter is part of the delimiter. */
		if (at > start)
			at -= at - start >= 2 && body[at - 2] == '\r' ? 2 : 1;
		if ((rc = part_headers(body + start, at - start, &parts[n], &hdr, e)) != EST_OK)
			return rc;
		parts[n].body = body + start + hdr;
		parts[n].len = at - start - hdr;
		n++;
		start = next;
	}
	*count = n;
	return EST_OK;
}
