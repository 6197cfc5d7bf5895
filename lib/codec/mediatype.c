/*
 * Content-Type values (RFC 7231 §3.1.1.1): type "/" subtype, then
 * parameters "; name=value" with optional whitespace, the value a token or
 * a quoted string.
 *
 * EST peers disagree on spacing and quoting (est-conformance.md, pitfall 3),
 * so the parser is lenient where the grammar allows and exact elsewhere:
 * type, subtype and parameter names must be tokens; anything after the last
 * parameter is refused rather than guessed at.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "estkit/codec.h"

/* RFC 7230 §3.2.6 tchar. */
static bool
is_tchar(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

struct cursor {
	const char *p;
	const char *end;
};

static void
skip_ows(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

/* Copy a token, lower-cased when fold; false when empty or too long. */
static bool
take_token(struct cursor *c, char *out, size_t outlen, bool fold)
{
	size_t n = 0;

	while (c->p < c->end && is_tchar((unsigned char)*c->p)) {
		if (n + 1 >= outlen)
			return false;
		out[n++] = fold ? (char)tolower((unsigned char)*c->p) : *c->p;
		c->p++;
	}
	out[n] = '\0';
	return n > 0;
}

/* A quoted string with backslash escapes, unquoted into out. */
static bool
take_quoted(struct cursor *c, char *out, size_t outlen)
{
	size_t n = 0;

	c->p++; /* the opening quote */
	while (c->p < c->end && *c->p != '"') {
		if (*c->p == '\\' && c->p + 1 < c->end)
			c->p++;
		if (n + 1 >= outlen || (unsigned char)*c->p < 0x20)
			return false;
		out[n++] = *c->p++;
	}
	if (c->p == c->end)
		return false;
	c->p++; /* the closing quote */
	out[n] = '\0';
	return true;
}

/* One "name=value"; kept while there is room, checked always. */
static enum est_err
take_param(struct cursor *c, struct est_media_type *out, struct est_error *e)
{
	char name[sizeof(out->param[0].name)], value[sizeof(out->param[0].value)];
	bool ok;

	if (!take_token(c, name, sizeof(name), true))
		return est_fail(e, EST_ERR_BADREQ, "media type has a malformed parameter name");
	skip_ows(c);
	if (c->p == c->end || *c->p != '=')
		return est_fail(e, EST_ERR_BADREQ, "media type parameter \"%s\" has no value", name);
	c->p++;
	skip_ows(c);
	ok = c->p < c->end && *c->p == '"' ? take_quoted(c, value, sizeof(value)) :
	    take_token(c, value, sizeof(value), false);
	if (!ok)
		return est_fail(e, EST_ERR_BADREQ, "media type parameter \"%s\" has a malformed "
		    "or too long value", name);
	if (out->n_params < EST_MEDIA_MAX_PARAMS) {
		memcpy(out->param[out->n_params].name, name, sizeof(name));
		memcpy(out->param[out->n_params].value, value, sizeof(value));
		out->n_params++;
	}
	return EST_OK;
}

enum est_err
est_media_type_parse(const char *value, size_t len, struct est_media_type *out,
    struct est_error *e)
{
	struct cursor c = { value, value + len };
	struct est_media_type mt;
	char sub[sizeof(mt.type)];
	enum est_err rc;
	size_t n;

	memset(&mt, 0, sizeof(mt));
	skip_ows(&c);
	if (!take_token(&c, mt.type, sizeof(mt.type), true) || c.p == c.end || *c.p != '/')
		return est_fail(e, EST_ERR_BADREQ, "media type is not of the form type/subtype");
	c.p++;
	n = strlen(mt.type);
	if (!take_token(&c, sub, sizeof(sub) - n - 1, true))
		return est_fail(e, EST_ERR_BADREQ, "media type has a malformed subtype");
	mt.type[n] = '/';
	memcpy(mt.type + n + 1, sub, strlen(sub) + 1);
	for (;;) {
		skip_ows(&c);
		if (c.p == c.end)
			break;
		if (*c.p != ';')
			return est_fail(e, EST_ERR_BADREQ, "media type has unexpected text after "
			    "\"%s\"", mt.type);
		c.p++;
		skip_ows(&c);
		if (c.p == c.end || *c.p == ';')
			continue; /* an empty parameter: allowed by the grammar */
		if ((rc = take_param(&c, &mt, e)) != EST_OK)
			return rc;
	}
	*out = mt;
	return EST_OK;
}

const char *
est_media_type_param(const struct est_media_type *mt, const char *name)
{
	for (size_t i = 0; i < mt->n_params; i++)
		if (strcasecmp(mt->param[i].name, name) == 0)
			return mt->param[i].value;
	return NULL;
}

bool
est_media_type_is(const struct est_media_type *mt, const char *type,
    const char *smime_type)
{
	const char *v;

	if (strcmp(mt->type, type) != 0)
		return false;
	if (smime_type == NULL)
		return true;
	v = est_media_type_param(mt, "smime-type");
	return v != NULL && strcasecmp(v, smime_type) == 0;
}
