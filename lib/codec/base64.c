/*
 * Base64 as EST uses it (RFC 4648 §4, RFC 8951 §3.1), over OpenSSL's
 * EVP_Encode and EVP_Decode routines.
 *
 * The decoder checks every byte and the padding itself before OpenSSL sees
 * them: EVP_DecodeUpdate stops silently at '-' and tracks padding only within
 * one call, which would let junk through. Only the alphabet, '=' (at the end)
 * and CR/LF/space/TAB pass. Lengths go to OpenSSL in chunks, so an int never
 * overflows.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "estkit/codec.h"

#define B64_LINE 64           /* characters per wrapped line */
#define B64_LINE_BYTES 48     /* input bytes per wrapped line */
#define B64_CHUNK (48 * 1024) /* bytes per OpenSSL call; a multiple of 3 and 4 */

static const char BADB64[] = "the body is not valid base64";

static bool
is_b64_space(unsigned char c)
{
	return c == '\r' || c == '\n' || c == ' ' || c == '\t';
}

static bool
is_b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

enum b64_scan { B64_GOOD, B64_BADCHAR, B64_AFTERPAD, B64_PADDING };

/*
 * Check the characters and the padding; count the data characters (padding
 * included). *bad is the offset of the first offending byte.
 */
static enum b64_scan
scan_b64(const char *in, size_t inlen, size_t *ndata, size_t *bad)
{
	size_t i, n = 0, npad = 0;

	for (i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];

		*bad = i;
		if (is_b64_space(c))
			continue;
		if (!is_b64_char(c))
			return B64_BADCHAR;
		if (c == '=')
			npad++;
		else if (npad > 0)
			return B64_AFTERPAD;
		n++;
	}
	*bad = inlen;
	*ndata = n;
	return n % 4 != 0 || npad > 2 ? B64_PADDING : B64_GOOD;
}

static enum est_err
scan_fail(enum b64_scan why, const char *in, size_t bad, struct est_error *e)
{
	switch (why) {
	case B64_BADCHAR:
		return est_fail(e, EST_ERR_BADREQ, "%s: unexpected byte 0x%02x at offset %zu",
		    BADB64, (unsigned char)in[bad], bad);
	case B64_AFTERPAD:
		return est_fail(e, EST_ERR_BADREQ, "%s: data after the padding at offset %zu",
		    BADB64, bad);
	default:
		return est_fail(e, EST_ERR_BADREQ, "%s: bad or missing padding", BADB64);
	}
}

/*
 * Decode input that scan_b64 accepted. OpenSSL skips the whitespace; it
 * tracks padding only within one call, which is why scan_b64 checks it.
 */
static enum est_err
decode_all(const char *in, size_t inlen, unsigned char *out, size_t *outlen)
{
	EVP_ENCODE_CTX *ctx;
	size_t done, total = 0;
	int n = 0, rv = 0;

	if ((ctx = EVP_ENCODE_CTX_new()) == NULL)
		return EST_ERR_NOMEM;
	EVP_DecodeInit(ctx);
	for (done = 0; done < inlen && rv >= 0; done += B64_CHUNK) {
		int chunk = inlen - done > B64_CHUNK ? B64_CHUNK : (int)(inlen - done);

		rv = EVP_DecodeUpdate(ctx, out + total, &n,
		    (const unsigned char *)in + done, chunk);
		total += (size_t)n;
	}
	if (rv >= 0 && EVP_DecodeFinal(ctx, out + total, &n) == 1)
		total += (size_t)n;
	else
		rv = -1;
	EVP_ENCODE_CTX_free(ctx);
	*outlen = total;
	return rv < 0 ? EST_ERR_BADREQ : EST_OK;
}

enum est_err
est_b64_decode(const char *in, size_t inlen, unsigned char **out,
    size_t *outlen, struct est_error *e)
{
	unsigned char *buf;
	enum b64_scan why;
	size_t bad, ndata = 0, len;
	enum est_err rc;

	if ((why = scan_b64(in, inlen, &ndata, &bad)) != B64_GOOD)
		return scan_fail(why, in, bad, e);
	if (ndata == 0)
		return est_fail(e, EST_ERR_BADREQ, "empty body");
	if ((buf = malloc(ndata / 4 * 3)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory decoding base64");
	if ((rc = decode_all(in, inlen, buf, &len)) != EST_OK) {
		free(buf);
		if (rc == EST_ERR_NOMEM)
			return est_fail(e, rc, "out of memory decoding base64");
		return est_fail(e, rc, "%s", BADB64);
	}
	*out = buf;
	*outlen = len;
	return EST_OK;
}

bool
est_b64_decode_strict(const char *in, size_t inlen, unsigned char *out, size_t cap,
    size_t *outlen)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/=";
	unsigned char *dec = NULL;
	char *enc = NULL;
	size_t declen = 0, enclen = 0;
	bool ok;

	/* No whitespace and whole quads: then est_b64_decode checks the rest. */
	if (inlen == 0 || inlen % 4 != 0 || inlen > INT_MAX / 2)
		return false;
	for (size_t i = 0; i < inlen; i++)
		if (in[i] == '\0' || strchr(alphabet, in[i]) == NULL)
			return false;
	if (est_b64_decode(in, inlen, &dec, &declen, NULL) != EST_OK)
		return false;
	/* Only the canonical form: unused bits of the last quad must be zero. */
	ok = declen <= cap && est_b64_encode(dec, declen, false, &enc, &enclen, NULL) == EST_OK &&
	    enclen == inlen && memcmp(enc, in, inlen) == 0;
	if (ok) {
		memcpy(out, dec, declen);
		*outlen = declen;
	}
	OPENSSL_cleanse(dec, declen);
	free(dec);
	if (enc != NULL)
		OPENSSL_cleanse(enc, enclen);
	free(enc);
	return ok;
}

enum est_err
est_b64_encode(const unsigned char *in, size_t inlen, bool wrap,
    char **out, size_t *outlen, struct est_error *e)
{
	size_t step = wrap ? B64_LINE_BYTES : B64_CHUNK;
	size_t quads, size, done, len = 0;
	char *buf;

	if (inlen > SIZE_MAX / 2)
		return est_fail(e, EST_ERR_NOMEM, "input too large to encode as base64");
	quads = (inlen + 2) / 3;
	size = quads * 4 + (wrap ? quads / (B64_LINE / 4) + 1 : 0) + 1;
	if ((buf = malloc(size)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory encoding base64");
	for (done = 0; done < inlen; done += step) {
		int chunk = inlen - done > step ? (int)step : (int)(inlen - done);

		len += (size_t)EVP_EncodeBlock((unsigned char *)buf + len,
		    in + done, chunk);
		if (wrap)
			buf[len++] = '\n';
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return EST_OK;
}
