/*
 * HTTP statuses that are not the success an operation expects, turned into
 * an est_err and one line for a person: what the server said (its one-line
 * text body, RFC 7030 §4.2.3), and what to try.
 *
 * The status is recorded for est_client_failed_status(), so a program can
 * tell "the server refused" from "we never got an answer".
 */
#define _XOPEN_SOURCE 700 /* strptime */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "client/client_int.h"

#define TEXT_MAX 160
#define RETRY_MAX (86400 * 365) /* a longer wait is not meant: read as absent */

/* The server's text: the first line of a text body, printable, shortened. */
static void
server_text(const struct cl_response *r, char *out, size_t outlen)
{
	size_t n = 0;

	out[0] = '\0';
	if (r->len == 0 || (r->content_type[0] != '\0' &&
	    strncasecmp(r->content_type, "text/", 5) != 0))
		return;
	for (size_t i = 0; i < r->len && n + 1 < outlen && r->body[i] != '\n'; i++)
		if (isprint(r->body[i]))
			out[n++] = (char)r->body[i];
	out[n] = '\0';
}

/* An HTTP-date in one of its three forms (RFC 9110 §5.6.7), as UTC. */
static bool
http_date(const char *value, time_t *when)
{
	static const char *const forms[] = {
		"%a, %d %b %Y %H:%M:%S GMT",    /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
		"%A, %d-%b-%y %H:%M:%S GMT",    /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
		"%a %b %e %H:%M:%S %Y",         /* asctime: Sun Nov  6 08:49:37 1994 */
	};
	struct tm tm;
	char *end;

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(value, forms[i], &tm);
		if (end != NULL && *end == '\0' && (*when = timegm(&tm)) != (time_t)-1)
			return true;
	}
	return false;
}

long
cl_retry_after(const char *value)
{
	char *end;
	unsigned long n;
	time_t when, now;

	if (value == NULL || value[0] == '\0')
		return -1;
	if (isdigit((unsigned char)value[0])) {
		n = strtoul(value, &end, 10);
		return *end == '\0' && n < RETRY_MAX ? (long)n : -1;
	}
	if (!http_date(value, &when))
		return -1;
	/* A far date must not wrap around to a short wait. */
	now = time(NULL);
	if (when <= now)
		return 0;
	return when - now < RETRY_MAX ? (long)(when - now) : -1;
}

/* Which scheme a token names. */
static unsigned
scheme_bit(const char *t, size_t n)
{
	if (n == 5 && strncasecmp(t, "basic", 5) == 0)
		return CL_CH_BASIC;
	if (n == 6 && strncasecmp(t, "digest", 6) == 0)
		return CL_CH_DIGEST;
	if (n == 6 && strncasecmp(t, "bearer", 6) == 0)
		return CL_CH_BEARER;
	return CL_CH_OTHER;
}

/* A scheme is a token that starts the value or follows a comma and is not
 * followed by '=' (then it is an auth-param). Quoted strings are skipped. */
unsigned
cl_challenges(const char *line, size_t len)
{
	static const char name[] = "www-authenticate:";
	size_t i = sizeof(name) - 1, start, j;
	unsigned found = 0;
	bool first = true;

	if (len < i || strncasecmp(line, name, i) != 0)
		return 0;
	while (i < len) {
		if (line[i] == '"') {
			for (i++; i < len && line[i] != '"'; i++)
				if (line[i] == '\\')
					i++;
			i++;
			first = false;
		} else if (line[i] == ',') {
			first = true;
			i++;
		} else if (strchr(" \t\r\n=", line[i]) != NULL) {
			i++;
		} else {
			for (start = i; i < len && strchr(" \t\r\n,=\"", line[i]) == NULL; i++)
				;
			for (j = i; j < len && (line[j] == ' ' || line[j] == '\t'); j++)
				;
			if (first && (j >= len || line[j] != '='))
				found |= scheme_bit(line + start, i - start);
			first = false;
		}
	}
	return found;
}

/* 401 and 403: the credentials, or what they allow. */
static enum est_err
auth_fail(struct est_client *c, const char *op, const struct cl_response *r,
    const char *text, struct est_error *e)
{
	bool creds = c->user != NULL || c->token != NULL;

	/* libest's estserver answers so to wrong credentials and to an unbound CSR (-t) too. */
	if (r->status == 401 && r->challenges == 0)
		return est_fail(e, EST_ERR_AUTH, "/%s: HTTP 401 without a challenge "
		    "(WWW-Authenticate): the server does not say how to authenticate; %sit may "
		    "want a client certificate, or the CSR bound to the TLS connection (-z)%s%s",
		    op, creds ? "the credentials may be wrong, or " : "", text[0] ? ": " : "", text);
	if (r->status == 401 && creds)
		return est_fail(e, EST_ERR_AUTH, "/%s: HTTP 401: the server did not accept the "
		    "credentials%s%s", op, text[0] ? ": " : "", text);
	if (r->status == 401)
		return est_fail(e, EST_ERR_AUTH, "/%s: HTTP 401: the server wants credentials "
		    "(a user name and password, or a client certificate)%s%s", op,
		    text[0] ? ": " : "", text);
	return est_fail(e, EST_ERR_FORBIDDEN, "/%s: HTTP 403: not allowed%s%s%s", op,
	    text[0] ? ": " : "", text, c->cert == NULL ? " (no client certificate was "
	    "given)" : "");
}

/* Other 4xx answers: the request was refused. */
static enum est_err
refused(const char *op, const struct cl_response *r, const char *text, struct est_error *e)
{
	const char *sep = text[0] ? ": " : "";

	switch (r->status) {
	case 400:
		return est_fail(e, EST_ERR_BADREQ, "/%s: HTTP 400: the server refused the "
		    "request%s%s", op, sep, text);
	case 404:
		return est_fail(e, EST_ERR_NOTFOUND, "/%s: HTTP 404: not found%s%s", op, sep, text);
	case 405:
		return est_fail(e, EST_ERR_METHOD, "/%s: HTTP 405%s%s", op, sep, text);
	case 413:
		return est_fail(e, EST_ERR_TOOLARGE, "/%s: HTTP 413: the request is too large%s%s",
		    op, sep, text);
	case 415:
		return est_fail(e, EST_ERR_MEDIATYPE, "/%s: HTTP 415%s%s", op, sep, text);
	default:
		return est_fail(e, EST_ERR_BADREQ, "/%s: HTTP %ld: the server refused the "
		    "request%s%s", op, r->status, sep, text);
	}
}

/* 5xx and anything unexpected. */
static enum est_err
server_fail(struct est_client *c, const char *op, const struct cl_response *r,
    const char *text, struct est_error *e)
{
	const char *sep = text[0] ? ": " : "";

	if (r->status == 501)
		return est_fail(e, EST_ERR_NOTIMPL, "/%s: HTTP 501: the server does not offer "
		    "this operation%s%s", op, sep, text);
	if (r->status == 503)
		return est_fail(e, EST_ERR_UNAVAILABLE, "/%s: HTTP 503: the server is "
		    "unavailable%s%s: try again in %u s", op, sep, text,
		    c->retry_given ? c->retry_after : 60);
	if (r->status >= 500 && r->status < 600)
		return est_fail(e, EST_ERR_SERVER, "/%s: HTTP %ld: the server failed%s%s: try "
		    "again later, or ask its administrator", op, r->status, sep, text);
	return est_fail(e, EST_ERR_SERVER, "/%s: unexpected HTTP %ld%s%s", op, r->status,
	    sep, text);
}

enum est_err
cl_answer_check(struct est_client *c, const char *op, long ok,
    const struct cl_response *r, struct est_error *e)
{
	char text[TEXT_MAX];
	long wait;

	if (r->status == ok)
		return EST_OK;
	c->failed_status = r->status;
	wait = cl_retry_after(r->retry_after);
	c->retry_given = wait >= 0;
	c->retry_after = wait >= 0 ? (unsigned)wait : 0;
	server_text(r, text, sizeof(text));
	if (r->status == 202)
		return est_fail(e, EST_ERR_PENDING, "/%s: HTTP 202: the request waits for "
		    "approval at the server: ask again in %u s or later", op,
		    c->retry_given ? c->retry_after : 60);
	if (r->status == 401 || r->status == 403)
		return auth_fail(c, op, r, text, e);
	if (r->status >= 400 && r->status < 500)
		return refused(op, r, text, e);
	return server_fail(c, op, r, text, e);
}
