/*
 * The client side of HTTP Digest (RFC 7616, qop=auth): read a server's
 * challenge, answer it. A client keeps the nonce and counts nc up, so that
 * only its first request (and one after a stale nonce) costs a 401 round
 * trip, as a real client's would.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "estbench.h"

/* The value of parameter name in a challenge's "k=v, k="v"" list, into out. */
static bool
param(const char *s, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name), n = 0;

	while (*s != '\0') {
		while (*s == ' ' || *s == ',')
			s++;
		if (strncasecmp(s, name, nlen) == 0 && s[nlen] == '=') {
			s += nlen + 1;
			if (*s == '"') {
				for (s++; *s != '\0' && *s != '"' && n + 1 < cap; s++)
					out[n++] = *s == '\\' && s[1] != '\0' ? *++s : *s;
			} else {
				for (; *s != '\0' && *s != ',' && *s != ' ' && n + 1 < cap; s++)
					out[n++] = *s;
			}
			out[n] = '\0';
			return true;
		}
		/* Skip this parameter, quoted commas included. */
		for (bool q = false; *s != '\0' && (q || *s != ','); s++)
			if (*s == '"')
				q = !q;
			else if (*s == '\\' && q && s[1] != '\0')
				s++;
	}
	return false;
}

bool
digest_take_challenge(struct digest_state *d, const char *challenge)
{
	char alg[32] = "MD5";
	bool sha256;

	if (strncasecmp(challenge, "Digest ", 7) != 0)
		return false;
	challenge += 7;
	param(challenge, "algorithm", alg, sizeof(alg));
	if (strcasecmp(alg, "SHA-256") == 0)
		sha256 = true;
	else if (strcasecmp(alg, "MD5") == 0)
		sha256 = false;
	else
		return false;
	/* Prefer SHA-256 when the server offers both (two challenges). */
	if (d->have_nonce && d->sha256 && !sha256 && d->fresh)
		return true;
	if (!param(challenge, "realm", d->realm, sizeof(d->realm)) ||
	    !param(challenge, "nonce", d->nonce, sizeof(d->nonce)))
		return false;
	if (!param(challenge, "opaque", d->opaque, sizeof(d->opaque)))
		d->opaque[0] = '\0';
	d->sha256 = sha256;
	d->nc = 0;
	d->have_nonce = true;
	d->fresh = true;
	return true;
}

/* Lower-case hex of md over the parts joined by ':'. */
static bool
hex_digest(const EVP_MD *md, const char *const *parts, size_t n, char out[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1;

	for (size_t i = 0; ok && i < n; i++)
		ok = (i == 0 || EVP_DigestUpdate(ctx, ":", 1) == 1) &&
		    EVP_DigestUpdate(ctx, parts[i], strlen(parts[i])) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, d, &len) == 1;
	EVP_MD_CTX_free(ctx);
	for (unsigned int i = 0; ok && i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	return ok;
}

bool
digest_header(struct digest_state *d, const char *user, const char *password,
    const char *method, const char *uri, char *out, size_t cap)
{
	const EVP_MD *md = d->sha256 ? EVP_sha256() : EVP_md5();
	char ha1[65], ha2[65], resp[65], nc[9], cnonce[33];
	unsigned char rnd[16];
	const char *a1[3] = { user, d->realm, password };
	const char *a2[2] = { method, uri };
	const char *kd[6] = { ha1, d->nonce, nc, cnonce, "auth", ha2 };
	int n;

	if (!d->have_nonce || RAND_bytes(rnd, sizeof(rnd)) != 1)
		return false;
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(cnonce + 2 * i, 3, "%02x", rnd[i]);
	snprintf(nc, sizeof(nc), "%08x", ++d->nc);
	d->fresh = false;
	if (!hex_digest(md, a1, 3, ha1) || !hex_digest(md, a2, 2, ha2) || !hex_digest(md, kd, 6, resp))
		return false;
	n = snprintf(out, cap, "Authorization: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", "
	    "uri=\"%s\", algorithm=%s, qop=auth, nc=%s, cnonce=\"%s\", response=\"%s\"%s%s%s\r\n",
	    user, d->realm, d->nonce, uri, d->sha256 ? "SHA-256" : "MD5", nc, cnonce, resp,
	    d->opaque[0] != '\0' ? ", opaque=\"" : "", d->opaque, d->opaque[0] != '\0' ? "\"" : "");
	return n > 0 && (size_t)n < cap;
}
