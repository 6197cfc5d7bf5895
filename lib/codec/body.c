/*
 * EST request bodies and CSR files to DER, and DER to PKCS#10.
 *
 * A body is PEM when it starts (after whitespace) with "-----BEGIN", raw DER
 * when it starts with a SEQUENCE whose definite length fits in the buffer,
 * and base64 otherwise (RFC 8951 §3: the body is base64 whatever the headers
 * say; PEM and DER are accepted leniently). DER is returned whole, trailing
 * bytes included, so that the parser after us can refuse them.
 *
 * NUL bytes at the end of a body that is not DER are dropped: libest's
 * example server ends its /csrattrs answer in one (a C string's terminator
 * sent along), and libest's client accepts that. This is the one place that
 * leniency is decided, for every body either side reads.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "codec/csr_der.h"
#include "estkit/codec.h"

#define CSR_FILE_MAX (1024 * 1024) /* a CSR is a few KiB; refuse anything silly */

static const char PEM_BEGIN[] = "-----BEGIN";

/*
 * Offset of "-----BEGIN" when it follows only whitespace, else len. OpenSSL
 * wants it at the start of a line, so the caller starts PEM parsing there.
 */
static size_t
pem_start(const unsigned char *buf, size_t len)
{
	size_t i = 0;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' ||
	    buf[i] == '\n'))
		i++;
	if (len - i >= sizeof(PEM_BEGIN) - 1 &&
	    memcmp(buf + i, PEM_BEGIN, sizeof(PEM_BEGIN) - 1) == 0)
		return i;
	return len;
}

/* A DER SEQUENCE with a definite length no longer than the buffer. */
static bool
looks_der(const unsigned char *buf, size_t len)
{
	const unsigned char *p = buf;
	long plen;
	int tag, xclass, r;

	if (len < 2 || buf[0] != 0x30 || len > LONG_MAX)
		return false;
	r = ASN1_get_object(&p, &plen, &tag, &xclass, (long)len);
	if (r & 0x80) {
		ERR_clear_error();
		return false;
	}
	return r == V_ASN1_CONSTRUCTED;
}

static enum est_err
copy_out(const unsigned char *src, size_t len, unsigned char **der,
    size_t *derlen, struct est_error *e)
{
	unsigned char *buf;

	if ((buf = malloc(len)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory copying DER");
	memcpy(buf, src, len);
	*der = buf;
	*derlen = len;
	return EST_OK;
}

/* The payload of the first PEM block, whatever its label; what names the input. */
static enum est_err
pem_to_der(const unsigned char *buf, size_t len, const char *what,
    unsigned char **der, size_t *derlen, struct est_error *e)
{
	BIO *bio;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;
	enum est_err rc;

	if (len > INT_MAX)
		return est_fail(e, EST_ERR_TOOLARGE, "%s is too large", what);
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		return est_fail_ssl(e, EST_ERR_NOMEM, "out of memory reading PEM");
	if (PEM_read_bio(bio, &name, &header, &data, &dlen) != 1)
		rc = est_fail_ssl(e, EST_ERR_BADREQ, "%s has malformed PEM armour", what);
	else if (header[0] != '\0')
		rc = est_fail(e, EST_ERR_BADREQ,
		    "%s has PEM headers (encrypted?); send the bare object", what);
	else if (dlen <= 0)
		rc = est_fail(e, EST_ERR_BADREQ, "%s has an empty PEM block", what);
	else
		rc = copy_out(data, (size_t)dlen, der, derlen, e);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	return rc;
}

/*
 * Parse exactly one CSR filling all of der; what names the input. The
 * common case takes the fast path (csr_der.c); what it declines, and every
 * error message, is d2i_X509_REQ's.
 */
static enum est_err
csr_from_der(const unsigned char *der, size_t len, const char *what,
    X509_REQ **out, struct est_error *e)
{
	const unsigned char *p = der;
	X509_REQ *req;

	if (len > LONG_MAX)
		return est_fail(e, EST_ERR_TOOLARGE, "%s is too large", what);
	if ((req = codec_csr_from_der_fast(der, len)) != NULL) {
		*out = req;
		return EST_OK;
	}
	if ((req = d2i_X509_REQ(NULL, &p, (long)len)) == NULL)
		return est_fail_ssl(e, EST_ERR_BADREQ, "%s is not a PKCS#10 CSR", what);
	if (p != der + len) {
		X509_REQ_free(req);
		return est_fail(e, EST_ERR_BADREQ,
		    "%s has %zu bytes of trailing data after the PKCS#10 CSR",
		    what, (size_t)(der + len - p));
	}
	*out = req;
	return EST_OK;
}

size_t
est_body_len_without_nuls(const unsigned char *body, size_t len)
{
	while (len > 0 && body[len - 1] == '\0')
		len--;
	return len;
}

enum est_err
est_body_to_der(const unsigned char *body, size_t len,
    unsigned char **der, size_t *derlen, struct est_error *e)
{
	size_t off;

	/* Raw DER first: its last byte may well be 0x00. */
	if (looks_der(body, len))
		return copy_out(body, len, der, derlen, e);
	len = est_body_len_without_nuls(body, len);
	off = pem_start(body, len);
	if (len == 0)
		return est_fail(e, EST_ERR_BADREQ, "empty body");
	if (off < len)
		return pem_to_der(body + off, len - off, "the body", der, derlen, e);
	return est_b64_decode((const char *)body, len, der, derlen, e);
}

enum est_err
est_csr_from_body(const unsigned char *body, size_t len,
    X509_REQ **out, struct est_error *e)
{
	unsigned char *der;
	size_t derlen;
	enum est_err rc;

	if ((rc = est_body_to_der(body, len, &der, &derlen, e)) != EST_OK)
		return rc;
	rc = csr_from_der(der, derlen, "request body", out, e);
	free(der);
	return rc;
}

/* Read a whole small file into a malloc'd buffer. */
static enum est_err
read_file(const char *path, unsigned char **out, size_t *outlen,
    struct est_error *e)
{
	FILE *f;
	unsigned char *buf;
	size_t n;
	enum est_err rc = EST_OK;

	if ((f = fopen(path, "rb")) == NULL)
		return est_fail(e, EST_ERR_IO, "cannot open %s: %s", path, strerror(errno));
	if ((buf = malloc(CSR_FILE_MAX + 1)) == NULL) {
		fclose(f);
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading %s", path);
	}
	n = fread(buf, 1, CSR_FILE_MAX + 1, f);
	if (ferror(f))
		rc = est_fail(e, EST_ERR_IO, "cannot read %s: %s", path, strerror(errno));
	else if (n > CSR_FILE_MAX)
		rc = est_fail(e, EST_ERR_TOOLARGE, "%s is larger than %d bytes",
		    path, CSR_FILE_MAX);
	else if (n == 0)
		rc = est_fail(e, EST_ERR_BADREQ, "%s is empty", path);
	fclose(f);
	if (rc != EST_OK) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = n;
	return EST_OK;
}

enum est_err
est_csr_read_file(const char *path, X509_REQ **out, struct est_error *e)
{
	unsigned char *buf = NULL, *der = NULL;
	size_t len = 0, derlen = 0, off;
	enum est_err rc;

	if ((rc = read_file(path, &buf, &len, e)) != EST_OK)
		return rc;
	if ((off = pem_start(buf, len)) < len) {
		rc = pem_to_der(buf + off, len - off, path, &der, &derlen, e);
		if (rc == EST_OK) {
			rc = csr_from_der(der, derlen, path, out, e);
			free(der);
		}
	} else if (looks_der(buf, len)) {
		rc = csr_from_der(buf, len, path, out, e);
	} else {
		rc = est_fail(e, EST_ERR_BADREQ, "%s is neither a PEM nor a DER CSR", path);
	}
	free(buf);
	return rc;
}
