/*
 * Unit tests for lib/codec: base64, request bodies, CSR helpers, certs-only
 * PKCS#7 and the text forms. Keys, CSRs and certificates are made here with
 * OpenSSL (one RSA 2048 key for the whole run), so no fixture files are read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "codec/namekeys.h"
#include "estkit/codec.h"

static EVP_PKEY *rsa_key, *ec_key, *ed_key;

/* ---- helpers ---- */

static const EVP_MD *
md_for(EVP_PKEY *key)
{
	return EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
}

static void
add_name(GENERAL_NAMES *gns, int type, const char *value)
{
	GENERAL_NAME *gn = a2i_GENERAL_NAME(NULL, NULL, NULL, type, value, 0);

	assert_non_null(gn);
	assert_true(sk_GENERAL_NAME_push(gns, gn) > 0);
}

/* A CSR for CN=cn with an optional SAN request, not yet signed. */
static X509_REQ *
new_csr(EVP_PKEY *key, const char *cn, GENERAL_NAMES *san)
{
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = NULL;

	assert_non_null(req);
	assert_true(X509_REQ_set_version(req, X509_REQ_VERSION_1));
	assert_true(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN",
	    MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0));
	assert_true(X509_REQ_set_pubkey(req, key));
	if (san != NULL) {
		assert_true(X509V3_add1_i2d(&exts, NID_subject_alt_name, san, 0,
		    X509V3_ADD_DEFAULT));
		assert_true(X509_REQ_add_extensions(req, exts));
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	return req;
}

static X509_REQ *
signed_csr(EVP_PKEY *key, const char *cn, GENERAL_NAMES *san)
{
	X509_REQ *req = new_csr(key, cn, san);

	assert_true(X509_REQ_sign(req, key, md_for(key)) > 0);
	return req;
}

static unsigned char *
req_der(X509_REQ *req, size_t *len)
{
	unsigned char *der = NULL;
	int n = i2d_X509_REQ(req, &der);

	assert_true(n > 0);
	*len = (size_t)n;
	return der;
}

static X509 *
self_signed(EVP_PKEY *key, const char *cn, long serial, GENERAL_NAMES *san)
{
	X509 *x = X509_new();

	assert_non_null(x);
	assert_true(X509_set_version(x, X509_VERSION_3));
	assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), serial));
	assert_true(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0));
	assert_true(X509_set_issuer_name(x, X509_get_subject_name(x)));
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_true(X509_set_pubkey(x, key));
	if (san != NULL)
		assert_true(X509_add1_ext_i2d(x, NID_subject_alt_name, san, 0,
		    X509V3_ADD_DEFAULT));
	assert_true(X509_sign(x, key, md_for(key)) > 0);
	return x;
}

static char *
b64(const unsigned char *in, size_t len, bool wrap)
{
	struct est_error e = {0};
	char *out = NULL;
	size_t outlen;

	assert_int_equal(est_b64_encode(in, len, wrap, &out, &outlen, &e), EST_OK);
	assert_int_equal(strlen(out), outlen);
	return out;
}

/* s broken into lines of width characters, each ended by eol. */
static char *
fold(const char *s, size_t width, const char *eol)
{
	size_t len = strlen(s), el = strlen(eol), i, o = 0;
	char *out = malloc(len + (len / width + 1) * el + 1);

	assert_non_null(out);
	for (i = 0; i < len; i += width) {
		size_t n = len - i < width ? len - i : width;

		memcpy(out + o, s + i, n);
		memcpy(out + o + n, eol, el);
		o += n + el;
	}
	out[o] = '\0';
	return out;
}

static void
fill(unsigned char *buf, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (unsigned char)(seed >> 16);
	}
}

static void
assert_b64_decodes_to(const char *text, const unsigned char *want, size_t wantlen)
{
	struct est_error e = {0};
	unsigned char *out = NULL;
	size_t outlen = 0;

	assert_int_equal(est_b64_decode(text, strlen(text), &out, &outlen, &e), EST_OK);
	assert_int_equal(outlen, wantlen);
	assert_memory_equal(out, want, wantlen);
	free(out);
}

/* ---- base64 ---- */

static void
b64_encode_exact(void **state)
{
	/* RFC 4648 §10 test vectors, one line each. */
	static const char *const vec[][2] = {
		{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
		{"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
	};
	unsigned char data[49];
	char *s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		s = b64((const unsigned char *)vec[i][0], strlen(vec[i][0]), false);
		assert_string_equal(s, vec[i][1]);
		free(s);
	}
	s = b64((const unsigned char *)"foobar", 6, true);
	assert_string_equal(s, "Zm9vYmFy\n");
	free(s);
	s = b64((const unsigned char *)"", 0, true);
	assert_string_equal(s, "");
	free(s);

	/* 48 bytes fill exactly one 64-column line; the 49th starts a second. */
	memset(data, 0, sizeof(data));
	s = b64(data, 48, true);
	assert_int_equal(strlen(s), 65);
	assert_int_equal(s[64], '\n');
	free(s);
	s = b64(data, 49, true);
	assert_string_equal(s + 65, "AA==\n");
	assert_ptr_equal(strchr(s, '\n'), s + 64);
	free(s);
	s = b64(data, 49, false);
	assert_int_equal(strlen(s), 68);
	assert_null(strchr(s, '\n'));
	free(s);
}

static void
b64_round_trip(void **state)
{
	static const size_t lens[] = {1, 2, 3, 4, 5, 47, 48, 49, 95, 96, 97, 1000, 100000};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		unsigned char *data = malloc(lens[i]);
		char *one, *wrapped;

		assert_non_null(data);
		fill(data, lens[i], (unsigned)i);
		one = b64(data, lens[i], false);
		wrapped = b64(data, lens[i], true);
		assert_b64_decodes_to(one, data, lens[i]);
		assert_b64_decodes_to(wrapped, data, lens[i]);
		free(one);
		free(wrapped);
		free(data);
	}
}

/* EST-G-12: CR, LF, space and TAB anywhere are ignored. */
static void
b64_whitespace_EST_G_12(void **state)
{
	unsigned char data[100000];
	char *one, *f64, *f76, *spaced;
	size_t i, o;

	(void)state;
	fill(data, sizeof(data), 7);
	one = b64(data, sizeof(data), false);
	f64 = fold(one, 64, "\n");
	f76 = fold(one, 76, "\r\n");
	spaced = malloc(strlen(one) * 2 + 8);
	assert_non_null(spaced);
	o = 0;
	spaced[o++] = '\n';
	spaced[o++] = ' ';
	for (i = 0; one[i] != '\0'; i++) {
		spaced[o++] = one[i];
		if (i % 5 == 0)
			spaced[o++] = i % 2 ? '\t' : ' ';
	}
	memcpy(spaced + o, "\r\n \t", 5);
	assert_b64_decodes_to(one, data, sizeof(data));
	assert_b64_decodes_to(f64, data, sizeof(data));
	assert_b64_decodes_to(f76, data, sizeof(data));
	assert_b64_decodes_to(spaced, data, sizeof(data));
	assert_b64_decodes_to("Zm9v\r\nYmE=\r\n", (const unsigned char *)"fooba", 5);
	assert_b64_decodes_to("Zm9vYg= =", (const unsigned char *)"foob", 4);
	free(one);
	free(f64);
	free(f76);
	free(spaced);
}

static void
b64_bad(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *why;
	} bad[] = {
		{"", 0, "empty body"},
		{" \r\n\t", 4, "empty body"},
		{"Zm9vYmE", 7, "padding"},
		{"Zg=", 3, "padding"},
		{"Z===", 4, "padding"},
		{"====", 4, "padding"},
		{"Zg==Zg==", 8, "after the padding"},
		{"Zm9v-YmFy", 9, "0x2d at offset 4"},
		{"Zm9v.YmFy", 9, "0x2e"},
		{"Zm9v\0YmFy", 9, "0x00"},
		{"Zm9v\vYmFy", 9, "0x0b"},
		{"Zm9v\xc3\xa4", 6, "0xc3"},
	};
	unsigned char sentinel, *out = &sentinel;
	size_t i, outlen = 99;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct est_error e = {0};

		assert_int_equal(est_b64_decode(bad[i].in, bad[i].len, &out, &outlen, &e),
		    EST_ERR_BADREQ);
		assert_int_equal(e.code, EST_ERR_BADREQ);
		if (strstr(e.msg, bad[i].why) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, e.msg, bad[i].why);
		if (bad[i].len > 4)
			assert_non_null(strstr(e.msg, "the body is not valid base64"));
		assert_ptr_equal(out, &sentinel);
		assert_int_equal(outlen, 99);
	}
}

/* Padding in one OpenSSL chunk and more data in the next is still refused. */
static void
b64_bad_across_chunks(void **state)
{
	size_t len = 4 + 100000 + 4;
	char *in = malloc(len);
	unsigned char *out = NULL;
	size_t outlen;
	struct est_error e = {0};

	(void)state;
	assert_non_null(in);
	memcpy(in, "Zg==", 4);
	memset(in + 4, '\n', 100000);
	memcpy(in + 4 + 100000, "Zg==", 4);
	assert_int_equal(est_b64_decode(in, len, &out, &outlen, &e), EST_ERR_BADREQ);
	free(in);
}

/* ---- request bodies ---- */

static char *
pem_of(X509_REQ *req, bool new_label)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *s;
	long len;

	assert_non_null(bio);
	assert_true(new_label ? PEM_write_bio_X509_REQ_NEW(bio, req) :
	    PEM_write_bio_X509_REQ(bio, req));
	len = BIO_get_mem_data(bio, &data);
	s = strndup(data, (size_t)len);
	BIO_free(bio);
	return s;
}

static void
assert_body_is_csr(const unsigned char *body, size_t len, const unsigned char *der,
    size_t derlen)
{
	struct est_error e = {0};
	X509_REQ *req = NULL;
	unsigned char *got = NULL, *back;
	size_t gotlen, backlen;

	if (est_body_to_der(body, len, &got, &gotlen, &e) != EST_OK)
		fail_msg("%s", e.msg);
	assert_int_equal(gotlen, derlen);
	assert_memory_equal(got, der, derlen);
	free(got);
	if (est_csr_from_body(body, len, &req, &e) != EST_OK)
		fail_msg("%s", e.msg);
	back = req_der(req, &backlen);
	assert_int_equal(backlen, derlen);
	assert_memory_equal(back, der, derlen);
	OPENSSL_free(back);
	X509_REQ_free(req);
}

static void
body_forms(void **state)
{
	X509_REQ *req = signed_csr(ec_key, "body", NULL);
	size_t derlen;
	unsigned char *der = req_der(req, &derlen);
	char *one = b64(der, derlen, false), *wrapped = b64(der, derlen, true);
	char *f76 = fold(one, 76, "\r\n");
	char *pem = pem_of(req, false), *pem_new = pem_of(req, true);
	char lead[4096], single[4096];

	(void)state;
	assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE REQUEST-----"));
	assert_non_null(strstr(pem_new, "-----BEGIN NEW CERTIFICATE REQUEST-----"));
	snprintf(lead, sizeof(lead), "\r\n\n  %s", pem);
	snprintf(single, sizeof(single),
	    "-----BEGIN CERTIFICATE REQUEST-----\n%s\n-----END CERTIFICATE REQUEST-----\n", one);

	assert_body_is_csr((unsigned char *)one, strlen(one), der, derlen);
	assert_body_is_csr((unsigned char *)wrapped, strlen(wrapped), der, derlen);
	assert_body_is_csr((unsigned char *)f76, strlen(f76), der, derlen);
	assert_body_is_csr((unsigned char *)pem, strlen(pem), der, derlen);
	assert_body_is_csr((unsigned char *)pem_new, strlen(pem_new), der, derlen);
	assert_body_is_csr((unsigned char *)lead, strlen(lead), der, derlen);
	assert_body_is_csr((unsigned char *)single, strlen(single), der, derlen);
	assert_body_is_csr(der, derlen, der, derlen);

	free(one);
	free(wrapped);
	free(f76);
	free(pem);
	free(pem_new);
	OPENSSL_free(der);
	X509_REQ_free(req);
}

static void
assert_bad_body(const unsigned char *body, size_t len, const char *why)
{
	struct est_error e = {0};
	X509_REQ *sentinel = (X509_REQ *)&e, *req = sentinel;

	assert_int_equal(est_csr_from_body(body, len, &req, &e), EST_ERR_BADREQ);
	assert_int_equal(e.code, EST_ERR_BADREQ);
	if (strstr(e.msg, why) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", e.msg, why);
	assert_ptr_equal(req, sentinel);
}

/*
 * libest's server ends /csrattrs in a NUL byte: base64 and PEM bodies may end
 * in NULs; a NUL elsewhere is still refused, and raw DER keeps its last byte.
 */
static void
body_trailing_nul(void **state)
{
	X509_REQ *req = signed_csr(ec_key, "nul", NULL), *got = NULL;
	struct est_error e = {0};
	size_t derlen, n;
	unsigned char *der = req_der(req, &derlen), *raw;
	char *s = b64(der, derlen, true), *t;

	(void)state;
	n = strlen(s);
	t = malloc(n + 3);
	assert_non_null(t);
	memcpy(t, s, n);
	memcpy(t + n, "\0\0", 2);
	assert_int_equal(est_csr_from_body((unsigned char *)t, n + 2, &got, &e), EST_OK);
	X509_REQ_free(got);
	got = NULL;
	assert_int_equal(est_body_len_without_nuls((unsigned char *)t, n + 2), n);
	/* A NUL inside the base64 is no terminator. */
	memmove(t + 11, t + 10, n - 10);
	t[10] = '\0';
	assert_bad_body((unsigned char *)t, n + 1, "unexpected byte 0x00");
	/* Only NULs is an empty body. */
	assert_bad_body((const unsigned char *)"\0\0", 2, "empty body");
	/* Raw DER followed by a NUL: the DER parser refuses the extra byte. */
	raw = malloc(derlen + 1);
	assert_non_null(raw);
	memcpy(raw, der, derlen);
	raw[derlen] = '\0';
	assert_bad_body(raw, derlen + 1, "1 bytes of trailing data");
	free(raw);
	free(t);
	free(s);
	OPENSSL_free(der);
	X509_REQ_free(req);
}

static void
body_bad(void **state)
{
	X509_REQ *req = signed_csr(ec_key, "bad", NULL);
	X509 *cert = self_signed(ec_key, "cert", 1, NULL);
	size_t derlen, i;
	unsigned char *der = req_der(req, &derlen), *certder = NULL, *plus;
	int certlen = i2d_X509(cert, &certder);
	char *s, *pem = pem_of(req, false), *hdr;
	static const char bad_pem[] =
	    "-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n";

	(void)state;
	assert_true(certlen > 0);
	assert_bad_body((const unsigned char *)"", 0, "empty body");
	assert_bad_body((const unsigned char *)"\r\n", 2, "empty body");
	assert_bad_body((const unsigned char *)"hello, world", 12, "not valid base64");

	/* Trailing garbage after raw DER, and inside base64 (EST-S-31 context). */
	plus = malloc(derlen + 2);
	assert_non_null(plus);
	memcpy(plus, der, derlen);
	memcpy(plus + derlen, "xx", 2);
	assert_bad_body(plus, derlen + 2, "2 bytes of trailing data");
	s = b64(plus, derlen + 2, false);
	assert_bad_body((unsigned char *)s, strlen(s), "2 bytes of trailing data");
	free(s);

	/* Truncated DER is neither DER nor base64. */
	assert_bad_body(der, derlen - 10, "not valid base64");

	/* Well-formed encodings of something else. */
	assert_bad_body(certder, (size_t)certlen, "not a PKCS#10 CSR");
	s = b64(certder, (size_t)certlen, true);
	assert_bad_body((unsigned char *)s, strlen(s), "not a PKCS#10 CSR");
	free(s);
	assert_bad_body((const unsigned char *)"AAAA", 4, "not a PKCS#10 CSR");
	assert_bad_body((const unsigned char *)bad_pem, sizeof(bad_pem) - 1, "PEM");

	/* An encrypted-looking PEM block is refused, not decoded blindly. */
	hdr = malloc(strlen(pem) + 64);
	assert_non_null(hdr);
	i = strchr(pem, '\n') - pem + 1;
	memcpy(hdr, pem, i);
	strcpy(hdr + i, "Proc-Type: 4,ENCRYPTED\n\n");
	strcat(hdr, pem + i);
	assert_bad_body((unsigned char *)hdr, strlen(hdr), "PEM headers");

	free(hdr);
	free(pem);
	free(plus);
	OPENSSL_free(certder);
	OPENSSL_free(der);
	X509_free(cert);
	X509_REQ_free(req);
}

static char *
write_temp(const void *data, size_t len)
{
	char *path = strdup("/tmp/test_codec_XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void
csr_read_file(void **state)
{
	X509_REQ *req = signed_csr(ec_key, "file", NULL), *got = NULL;
	size_t derlen;
	unsigned char *der = req_der(req, &derlen);
	char *pem = pem_of(req, false);
	char *p_pem = write_temp(pem, strlen(pem)), *p_der = write_temp(der, derlen);
	char *p_bad = write_temp("junk\n", 5);
	struct est_error e = {0};

	(void)state;
	assert_int_equal(est_csr_read_file(p_pem, &got, &e), EST_OK);
	assert_int_equal(X509_REQ_verify(got, X509_REQ_get0_pubkey(got)), 1);
	X509_REQ_free(got);
	got = NULL;
	assert_int_equal(est_csr_read_file(p_der, &got, &e), EST_OK);
	assert_non_null(got);
	X509_REQ_free(got);
	got = NULL;
	assert_int_equal(est_csr_read_file(p_bad, &got, &e), EST_ERR_BADREQ);
	assert_non_null(strstr(e.msg, p_bad));
	assert_null(got);
	assert_int_equal(est_csr_read_file("/nonexistent/csr.pem", &got, &e), EST_ERR_IO);
	assert_null(got);

	unlink(p_pem);
	unlink(p_der);
	unlink(p_bad);
	free(p_pem);
	free(p_der);
	free(p_bad);
	free(pem);
	OPENSSL_free(der);
	X509_REQ_free(req);
}

/* ---- CSR contents ---- */

static X509_REQ *
reparse(X509_REQ *req)
{
	struct est_error e = {0};
	size_t len;
	unsigned char *der = req_der(req, &len);
	char *s = b64(der, len, true);
	X509_REQ *out = NULL;

	assert_int_equal(est_csr_from_body((unsigned char *)s, strlen(s), &out, &e), EST_OK);
	free(s);
	OPENSSL_free(der);
	return out;
}

/* EST-S-31: a CSR whose signature does not verify is refused. */
static void
csr_verify_EST_S_31(void **state)
{
	EVP_PKEY *keys[] = {ec_key, rsa_key, ed_key};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		X509_REQ *req = signed_csr(keys[i], "pop", NULL), *good, *bad = NULL;
		struct est_error e = {0};
		size_t len;
		unsigned char *der = req_der(req, &len);
		const unsigned char *p;

		good = reparse(req);
		assert_int_equal(est_csr_verify(good, &e), EST_OK);
		der[len - 3] ^= 1; /* one bit of the signature value */
		p = der;
		bad = d2i_X509_REQ(NULL, &p, (long)len);
		assert_non_null(bad);
		assert_int_equal(est_csr_verify(bad, &e), EST_ERR_BADREQ);
		assert_string_equal(e.msg, "CSR signature does not verify");
		X509_REQ_free(bad);
		X509_REQ_free(good);
		OPENSSL_free(der);
		X509_REQ_free(req);
	}
}

static void
assert_password(X509_REQ *req, const char *want)
{
	struct est_error e = {0};
	char *pw = (char *)&e;

	if (est_csr_challenge_password(req, &pw, &e) != EST_OK)
		fail_msg("%s", e.msg);
	if (want == NULL) {
		assert_null(pw);
		return;
	}
	assert_non_null(pw);
	assert_string_equal(pw, want);
	free(pw);
}

static void
assert_password_bad(X509_REQ *req, const char *why)
{
	struct est_error e = {0};
	char *pw = (char *)&e;

	assert_int_equal(est_csr_challenge_password(req, &pw, &e), EST_ERR_BADREQ);
	if (strstr(e.msg, why) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", e.msg, why);
	assert_ptr_equal(pw, (char *)&e);
}

static X509_REQ *
csr_with_password(int type, const void *bytes, int len)
{
	X509_REQ *req = new_csr(ec_key, "pw", NULL);

	/* With a plain string type, -1 would mean "bytes is an ASN1_STRING". */
	if (len < 0)
		len = (int)strlen(bytes);
	assert_true(X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword, type,
	    bytes, len));
	return req;
}

/*
 * EST-S-36, ASN-02 and pitfall 21: every DirectoryString choice (teletex,
 * printable, universal, UTF-8, BMP) decodes to UTF-8, up to 255 characters.
 */
static void
challenge_password_EST_S_36(void **state)
{
	static const unsigned char bmp[] = {0, 'p', 0, 'w', 0, 0xe4};
	static const unsigned char universal[] = {0, 0, 0, 'p', 0, 0, 0, 'w', 0, 0, 0, 0xe4};
	X509_REQ *req, *back;
	char longpw[2 * 256 + 1];

	(void)state;
	/* PrintableString, as the RFC 7030 example and libest send it. */
	req = csr_with_password(V_ASN1_PRINTABLESTRING, "+rrCir/7+EYu50T4", -1);
	assert_true(X509_REQ_sign(req, ec_key, EVP_sha256()) > 0);
	back = reparse(req);
	assert_int_equal(est_csr_verify(back, NULL), EST_OK);
	assert_password(back, "+rrCir/7+EYu50T4");
	X509_REQ_free(back);
	X509_REQ_free(req);

	/* UTF8String, as `openssl req` writes it by default. */
	req = csr_with_password(V_ASN1_UTF8STRING, "p\xc3\xa4ssw\xc3\xb6rd", -1);
	assert_true(X509_REQ_sign(req, ec_key, EVP_sha256()) > 0);
	back = reparse(req);
	assert_password(back, "p\xc3\xa4ssw\xc3\xb6rd");
	X509_REQ_free(back);
	X509_REQ_free(req);

	req = csr_with_password(V_ASN1_BMPSTRING, bmp, sizeof(bmp));
	assert_password(req, "pw\xc3\xa4");
	X509_REQ_free(req);
	req = csr_with_password(V_ASN1_UNIVERSALSTRING, universal, sizeof(universal));
	assert_password(req, "pw\xc3\xa4");
	X509_REQ_free(req);
	req = csr_with_password(V_ASN1_T61STRING, "t61", -1);
	assert_password(req, "t61");
	X509_REQ_free(req);
	req = csr_with_password(V_ASN1_IA5STRING, "ia5", -1);
	assert_password(req, "ia5");
	X509_REQ_free(req);

	/* 255 characters is the limit, counted in characters, not bytes. */
	memset(longpw, 'a', 255);
	longpw[255] = '\0';
	req = csr_with_password(V_ASN1_PRINTABLESTRING, longpw, -1);
	assert_password(req, longpw);
	X509_REQ_free(req);
	for (int i = 0; i < 255; i++)
		memcpy(longpw + 2 * i, "\xc3\xa4", 2);
	longpw[510] = '\0';
	req = csr_with_password(V_ASN1_UTF8STRING, longpw, -1);
	assert_password(req, longpw);
	X509_REQ_free(req);
	memset(longpw, 'a', 256);
	longpw[256] = '\0';
	req = csr_with_password(V_ASN1_PRINTABLESTRING, longpw, -1);
	assert_password_bad(req, "longer than 255");
	X509_REQ_free(req);

	req = new_csr(ec_key, "nopw", NULL);
	assert_password(req, NULL);
	X509_REQ_free(req);
}

/* TAG LEN CONTENT in out (DER, lengths below 64 KiB); returns the bytes written. */
static size_t
der_tlv(unsigned char *out, unsigned char tag, const unsigned char *content, size_t len)
{
	size_t h = 0;

	assert_true(len < 65536);
	out[h++] = tag;
	if (len < 128) {
		out[h++] = (unsigned char)len;
	} else {
		out[h++] = 0x82;
		out[h++] = (unsigned char)(len >> 8);
		out[h++] = (unsigned char)len;
	}
	memcpy(out + h, content, len);
	return h + len;
}

/*
 * A CSR whose ChangeSubjectName holds: the subject (with_name), the
 * subjectAlt GeneralNames untagged (san_tag 0x30), [1]-tagged (0xa1) or
 * none (0).
 */
static X509_REQ *
csr_with_csn(bool with_name, unsigned char san_tag)
{
	X509_REQ *req = new_csr(ec_key, "csn", NULL);
	X509_NAME *name = X509_NAME_new();
	GENERAL_NAMES *gns = GENERAL_NAMES_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *dns = ASN1_IA5STRING_new();
	ASN1_OBJECT *oid = OBJ_txt2obj(EST_OID_CHANGE_SUBJECT_NAME, 1);
	unsigned char *der = NULL, inner[1024], outer[1100];
	size_t n = 0, m;
	int len;

	assert_non_null(name);
	assert_true(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"old.example", -1, -1, 0));
	if (with_name) {
		assert_true((len = i2d_X509_NAME(name, &der)) > 0);
		memcpy(inner + n, der, (size_t)len);
		n += (size_t)len;
		OPENSSL_free(der);
		der = NULL;
	}
	if (san_tag != 0) {
		assert_true(ASN1_STRING_set(dns, "old.example", -1));
		GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
		dns = NULL;
		assert_true(sk_GENERAL_NAME_push(gns, gn));
		gn = NULL;
		assert_true((len = i2d_GENERAL_NAMES(gns, &der)) > 0);
		der[0] = san_tag; /* [1] IMPLICIT: the same contents under another tag */
		memcpy(inner + n, der, (size_t)len);
		n += (size_t)len;
		OPENSSL_free(der);
	}
	m = der_tlv(outer, 0x30, inner, n);
	assert_true(X509_REQ_add1_attr_by_OBJ(req, oid, V_ASN1_SEQUENCE, outer, (int)m));
	ASN1_OBJECT_free(oid);
	ASN1_IA5STRING_free(dns);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(gns);
	X509_NAME_free(name);
	return req;
}

static void
assert_csn(X509_REQ *req, enum est_err want, bool want_old)
{
	struct est_error e = {0};
	X509_NAME *old = NULL;
	bool present = false;
	X509_REQ *back;

	assert_true(X509_REQ_sign(req, ec_key, EVP_sha256()) > 0);
	back = reparse(req);
	if (est_csr_change_subject_name(back, &present, &old, &e) != want)
		fail_msg("want %d: %s", (int)want, e.msg);
	if (want == EST_OK) {
		assert_true(present);
		if (want_old)
			assert_non_null(old);
		else
			assert_null(old);
	}
	X509_NAME_free(old);
	X509_REQ_free(back);
	X509_REQ_free(req);
}

/*
 * ASN-04: ChangeSubjectName ::= SEQUENCE { subject Name OPTIONAL, subjectAlt
 * SubjectAltName OPTIONAL }, at least one. Both are SEQUENCEs, so the
 * subjectAlt is read untagged and [1]-tagged (erratum 3943).
 */
static void
change_subject_name_ASN_04(void **state)
{
	struct est_error e = {0};
	X509_NAME *old = NULL;
	bool present = true;
	X509_REQ *req;

	(void)state;
	assert_csn(csr_with_csn(true, 0), EST_OK, true);
	assert_csn(csr_with_csn(true, 0x30), EST_OK, true);
	assert_csn(csr_with_csn(true, 0xa1), EST_OK, true);
	assert_csn(csr_with_csn(false, 0x30), EST_OK, false);
	assert_csn(csr_with_csn(false, 0xa1), EST_OK, false);
	/* Neither member: names nothing to change. */
	assert_csn(csr_with_csn(false, 0), EST_ERR_BADREQ, false);
	/* A second member that is no SubjectAltName. */
	assert_csn(csr_with_csn(true, 0xa2), EST_ERR_BADREQ, false);

	req = new_csr(ec_key, "nocsn", NULL);
	assert_int_equal(est_csr_change_subject_name(req, &present, &old, &e), EST_OK);
	assert_false(present);
	assert_null(old);
	X509_REQ_free(req);
}

/*
 * ASN-06: the OIDs estkit names, by OpenSSL NID or by its own string, are
 * the ones of the conformance list's table (a wrong NID would still encode,
 * just as another attribute or extension).
 */
static void
oid_table_ASN_06(void **state)
{
	static const struct {
		int nid;
		const char *oid;
	} table[] = {
		{ NID_pkcs9_challengePassword, "1.2.840.113549.1.9.7" },
		{ NID_ext_req, "1.2.840.113549.1.9.14" },
		{ NID_SMIMECapabilities, "1.2.840.113549.1.9.15" },
		{ NID_cmcRA, "1.3.6.1.5.5.7.3.28" },
		{ NID_server_auth, "1.3.6.1.5.5.7.3.1" },
		{ NID_client_auth, "1.3.6.1.5.5.7.3.2" },
		{ NID_pkcs7_data, "1.2.840.113549.1.7.1" },
		{ NID_pkcs7_signed, "1.2.840.113549.1.7.2" },
		{ NID_pkcs7_enveloped, "1.2.840.113549.1.7.3" },
		{ NID_X9_62_id_ecPublicKey, "1.2.840.10045.2.1" },
		{ NID_X9_62_prime256v1, "1.2.840.10045.3.1.7" },
		{ NID_secp384r1, "1.3.132.0.34" },
		{ NID_secp521r1, "1.3.132.0.35" },
		{ NID_ecdsa_with_SHA256, "1.2.840.10045.4.3.2" },
		{ NID_ecdsa_with_SHA384, "1.2.840.10045.4.3.3" },
		{ NID_ecdsa_with_SHA512, "1.2.840.10045.4.3.4" },
		{ NID_rsaEncryption, "1.2.840.113549.1.1.1" },
		{ NID_sha256WithRSAEncryption, "1.2.840.113549.1.1.11" },
		{ NID_subject_alt_name, "2.5.29.17" },
		{ NID_key_usage, "2.5.29.15" },
		{ NID_ext_key_usage, "2.5.29.37" },
	};
	char text[64];

	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		assert_true(OBJ_obj2txt(text, sizeof(text), OBJ_nid2obj(table[i].nid), 1) > 0);
		assert_string_equal(text, table[i].oid);
	}
	assert_string_equal(EST_OID_CHANGE_SUBJECT_NAME, "1.3.6.1.5.5.7.7.36");
	assert_string_equal(EST_OID_KEY_PACKAGE, "2.16.840.1.101.2.1.2.78.5");
}

static void
challenge_password_bad(void **state)
{
	static const unsigned char unstructured_name[] = {
		0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x02,
	};
	X509_REQ *req;
	X509_ATTRIBUTE *attr;
	unsigned char *der, *oid;
	const unsigned char *p;
	size_t len;

	(void)state;
	/* Two values in one attribute (the attribute is SINGLE VALUE, ASN-02). */
	attr = X509_ATTRIBUTE_create_by_NID(NULL, NID_pkcs9_challengePassword,
	    V_ASN1_PRINTABLESTRING, "one", 3);
	assert_non_null(attr);
	assert_true(X509_ATTRIBUTE_set1_data(attr, V_ASN1_PRINTABLESTRING, "two", 3));
	assert_int_equal(X509_ATTRIBUTE_count(attr), 2);
	req = new_csr(ec_key, "two", NULL);
	assert_true(X509_REQ_add1_attr(req, attr));
	X509_ATTRIBUTE_free(attr);
	assert_password_bad(req, "exactly one value");
	X509_REQ_free(req);

	/*
	 * Two attributes. OpenSSL refuses to add a duplicate, so add an
	 * unstructuredName (1.2.840.113549.1.9.2) and rename it in the DER.
	 */
	req = csr_with_password(V_ASN1_PRINTABLESTRING, "one", -1);
	assert_true(X509_REQ_add1_attr_by_NID(req, NID_pkcs9_unstructuredName,
	    V_ASN1_PRINTABLESTRING, (const unsigned char *)"two", 3));
	assert_true(X509_REQ_sign(req, ec_key, EVP_sha256()) > 0);
	der = req_der(req, &len);
	X509_REQ_free(req);
	for (oid = der; oid + sizeof(unstructured_name) <= der + len; oid++) {
		if (memcmp(oid, unstructured_name, sizeof(unstructured_name)) == 0)
			break;
	}
	assert_true(oid + sizeof(unstructured_name) <= der + len);
	oid[sizeof(unstructured_name) - 1] = 0x07;
	p = der;
	req = d2i_X509_REQ(NULL, &p, (long)len);
	assert_non_null(req);
	assert_int_equal(X509_REQ_get_attr_count(req), 2);
	assert_password_bad(req, "more than one challengePassword");
	X509_REQ_free(req);
	OPENSSL_free(der);

	req = csr_with_password(V_ASN1_INTEGER, "\x01", 1);
	assert_password_bad(req, "not a DirectoryString");
	X509_REQ_free(req);
	req = csr_with_password(V_ASN1_UTF8STRING, "ab\0cd", 5);
	assert_password_bad(req, "NUL");
	X509_REQ_free(req);
	req = csr_with_password(V_ASN1_UTF8STRING, "a\xff", 2);
	assert_password_bad(req, "not a valid string");
	X509_REQ_free(req);
	req = csr_with_password(V_ASN1_PRINTABLESTRING, "", 0);
	assert_password_bad(req, "empty");
	X509_REQ_free(req);
}

static GENERAL_NAMES *
sample_san(void)
{
	GENERAL_NAMES *san = GENERAL_NAMES_new();

	assert_non_null(san);
	add_name(san, GEN_DNS, "a.example");
	add_name(san, GEN_IPADD, "127.0.0.1");
	add_name(san, GEN_IPADD, "2001:db8::1");
	add_name(san, GEN_EMAIL, "x@y.example");
	add_name(san, GEN_URI, "https://a.example/p");
	return san;
}

static void
san_extract(void **state)
{
	GENERAL_NAMES *want = sample_san(), *got = NULL, *sentinel;
	X509_REQ *req = signed_csr(ec_key, "san", want), *back = reparse(req);
	X509 *cert = self_signed(ec_key, "cert", 2, want), *plain = self_signed(ec_key, "p", 3, NULL);
	STACK_OF(X509_EXTENSION) *exts = NULL;
	BASIC_CONSTRAINTS *bc;
	struct est_error e = {0};
	char *text;

	(void)state;
	assert_int_equal(est_csr_get_san(back, &got, &e), EST_OK);
	assert_int_equal(sk_GENERAL_NAME_num(got), 5);
	assert_true(est_san_equal(want, got));
	text = est_san_text(got);
	assert_string_equal(text, "DNS:a.example, IP:127.0.0.1, IP:2001:db8::1, "
	    "email:x@y.example, URI:https://a.example/p");
	free(text);
	GENERAL_NAMES_free(got);

	got = est_cert_get_san(cert);
	assert_true(est_san_equal(want, got));
	GENERAL_NAMES_free(got);
	assert_null(est_cert_get_san(plain));

	/* No extensionRequest at all, and one without a SAN. */
	X509_REQ_free(req);
	req = new_csr(ec_key, "none", NULL);
	got = (GENERAL_NAMES *)&e;
	assert_int_equal(est_csr_get_san(req, &got, &e), EST_OK);
	assert_null(got);
	X509_REQ_free(req);
	req = new_csr(ec_key, "bc", NULL);
	bc = BASIC_CONSTRAINTS_new();
	assert_true(X509V3_add1_i2d(&exts, NID_basic_constraints, bc, 0, X509V3_ADD_DEFAULT));
	BASIC_CONSTRAINTS_free(bc);
	assert_true(X509_REQ_add_extensions(req, exts));
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	exts = NULL;
	got = (GENERAL_NAMES *)&e;
	assert_int_equal(est_csr_get_san(req, &got, &e), EST_OK);
	assert_null(got);
	X509_REQ_free(req);

	/* Two SAN extensions, and an extensionRequest that is not Extensions. */
	req = new_csr(ec_key, "dup", NULL);
	assert_true(X509V3_add1_i2d(&exts, NID_subject_alt_name, want, 0, X509V3_ADD_APPEND));
	assert_true(X509V3_add1_i2d(&exts, NID_subject_alt_name, want, 0, X509V3_ADD_APPEND));
	assert_true(X509_REQ_add_extensions(req, exts));
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	sentinel = got = (GENERAL_NAMES *)&e;
	assert_int_equal(est_csr_get_san(req, &got, &e), EST_ERR_BADREQ);
	assert_non_null(strstr(e.msg, "more than once"));
	assert_ptr_equal(got, sentinel);
	X509_REQ_free(req);
	req = new_csr(ec_key, "junk", NULL);
	assert_true(X509_REQ_add1_attr_by_NID(req, NID_ext_req, V_ASN1_INTEGER,
	    (const unsigned char *)"\x01", 1));
	assert_int_equal(est_csr_get_san(req, &got, &e), EST_ERR_BADREQ);
	assert_non_null(strstr(e.msg, "extensionRequest"));
	assert_ptr_equal(got, sentinel);

	X509_REQ_free(req);
	X509_REQ_free(back);
	X509_free(cert);
	X509_free(plain);
	GENERAL_NAMES_free(want);
}

static void
san_equal_as_sets(void **state)
{
	GENERAL_NAMES *a = GENERAL_NAMES_new(), *b = GENERAL_NAMES_new();
	GENERAL_NAMES *c = GENERAL_NAMES_new(), *d = GENERAL_NAMES_new();
	GENERAL_NAMES *empty = GENERAL_NAMES_new();

	(void)state;
	add_name(a, GEN_DNS, "a.example");
	add_name(a, GEN_DNS, "b.example");
	add_name(a, GEN_IPADD, "127.0.0.1");
	/* Same set: reordered, with duplicates. */
	add_name(b, GEN_IPADD, "127.0.0.1");
	add_name(b, GEN_DNS, "b.example");
	add_name(b, GEN_DNS, "a.example");
	add_name(b, GEN_DNS, "a.example");
	/* A subset. */
	add_name(c, GEN_DNS, "a.example");
	add_name(c, GEN_DNS, "b.example");
	/* Same strings, one of a different type. */
	add_name(d, GEN_DNS, "a.example");
	add_name(d, GEN_EMAIL, "b.example");
	add_name(d, GEN_IPADD, "127.0.0.1");

	assert_true(est_san_equal(a, a));
	assert_true(est_san_equal(a, b));
	assert_true(est_san_equal(b, a));
	assert_false(est_san_equal(a, c));
	assert_false(est_san_equal(c, a));
	assert_false(est_san_equal(a, d));
	assert_true(est_san_equal(NULL, NULL));
	assert_true(est_san_equal(NULL, empty));
	assert_false(est_san_equal(NULL, a));
	assert_false(est_san_equal(a, empty));

	GENERAL_NAMES_free(a);
	GENERAL_NAMES_free(b);
	GENERAL_NAMES_free(c);
	GENERAL_NAMES_free(d);
	GENERAL_NAMES_free(empty);
}

static void
san_text_forms(void **state)
{
	GENERAL_NAMES *san = GENERAL_NAMES_new();
	GENERAL_NAME *gn;
	X509_NAME *dn = X509_NAME_new();
	ASN1_TYPE *val = ASN1_TYPE_new();
	ASN1_UTF8STRING *upn = ASN1_UTF8STRING_new();
	char *text;

	(void)state;
	text = est_san_text(NULL);
	assert_string_equal(text, "");
	free(text);

	add_name(san, GEN_IPADD, "::1");
	add_name(san, GEN_DNS, "a\nb");
	assert_true(X509_NAME_add_entry_by_txt(dn, "O", MBSTRING_UTF8,
	    (const unsigned char *)"y", -1, -1, 0));
	assert_true(X509_NAME_add_entry_by_txt(dn, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"x", -1, -1, 0));
	gn = GENERAL_NAME_new();
	GENERAL_NAME_set0_value(gn, GEN_DIRNAME, dn);
	sk_GENERAL_NAME_push(san, gn);
	add_name(san, GEN_RID, "1.2.3.4");
	assert_true(ASN1_STRING_set(upn, "user@x", -1));
	ASN1_TYPE_set(val, V_ASN1_UTF8STRING, upn);
	gn = GENERAL_NAME_new();
	assert_true(GENERAL_NAME_set0_othername(gn,
	    OBJ_txt2obj("1.3.6.1.4.1.311.20.2.3", 1), val));
	sk_GENERAL_NAME_push(san, gn);

	text = est_san_text(san);
	assert_string_equal(text, "IP:::1, DNS:a\\0Ab, DirName:CN=x,O=y, RID:1.2.3.4, "
	    "othername:1.3.6.1.4.1.311.20.2.3;user@x");
	free(text);
	GENERAL_NAMES_free(san);
}

/* A SAN of one otherName of type oid whose value is the DER in der. */
static GENERAL_NAMES *
othername_san(const char *oid, const unsigned char *der, long len)
{
	GENERAL_NAMES *san = GENERAL_NAMES_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_TYPE *val = d2i_ASN1_TYPE(NULL, &der, len);

	assert_non_null(san);
	assert_non_null(gn);
	assert_non_null(val);
	assert_true(GENERAL_NAME_set0_othername(gn, OBJ_txt2obj(oid, 1), val));
	assert_true(sk_GENERAL_NAME_push(san, gn) > 0);
	return san;
}

/*
 * The SAN text is part of the approval key, so two otherNames that differ
 * only in a value that is not a string must not print alike (they did: the
 * value was left out), nor two whose OIDs differ past 127 characters of
 * text (cut short). RFC 4108 hardwareModuleName is such a SEQUENCE.
 */
static void
san_text_othername_values_differ(void **state)
{
	static const char hwname[] = "1.3.6.1.5.5.7.8.4";
	/* hardwareModuleName { hwType 1.2.3.4, hwSerialNum "A" / "B" } */
	static const unsigned char hw_a[] = { 0x30, 0x08, 0x06, 0x03, 0x2a, 0x03, 0x04,
	    0x04, 0x01, 'A' };
	static const unsigned char hw_b[] = { 0x30, 0x08, 0x06, 0x03, 0x2a, 0x03, 0x04,
	    0x04, 0x01, 'B' };
	/* The same octets as an OCTET STRING and as a UTF8String. */
	static const unsigned char octets[] = { 0x04, 0x01, 'A' };
	static const unsigned char utf8[] = { 0x0c, 0x01, 'A' };
	GENERAL_NAMES *sa = othername_san(hwname, hw_a, sizeof(hw_a));
	GENERAL_NAMES *sb = othername_san(hwname, hw_b, sizeof(hw_b));
	GENERAL_NAMES *so = othername_san(hwname, octets, sizeof(octets));
	GENERAL_NAMES *su = othername_san(hwname, utf8, sizeof(utf8));
	/* OIDs of 148 characters of text that differ only in the last. */
#define LONG_ARC "1.2.1234567890.1234567890.1234567890.1234567890.1234567890.1234567890" \
	".1234567890.1234567890.1234567890.1234567890.1234567890.1234567890.1234567890."
	GENERAL_NAMES *l1 = othername_san(LONG_ARC "1", utf8, sizeof(utf8));
	GENERAL_NAMES *l2 = othername_san(LONG_ARC "2", utf8, sizeof(utf8));
#undef LONG_ARC
	char *a = est_san_text(sa), *b = est_san_text(sb), *o = est_san_text(so);
	char *u = est_san_text(su), *t1 = est_san_text(l1), *t2 = est_san_text(l2);

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(o);
	assert_non_null(u);
	assert_string_not_equal(a, b);
	assert_string_equal(a, "othername:1.3.6.1.5.5.7.8.4#300806032A0304040141");
	assert_string_equal(o, "othername:1.3.6.1.5.5.7.8.4#040141");
	/* A string value keeps the form records and estadm already show. */
	assert_string_equal(u, "othername:1.3.6.1.5.5.7.8.4;A");
	assert_non_null(t1);
	assert_non_null(t2);
	assert_string_not_equal(t1, t2);
	free(t1);
	free(t2);
	GENERAL_NAMES_free(l1);
	GENERAL_NAMES_free(l2);
	free(a);
	free(b);
	free(o);
	free(u);
	GENERAL_NAMES_free(sa);
	GENERAL_NAMES_free(sb);
	GENERAL_NAMES_free(so);
	GENERAL_NAMES_free(su);
}

/* ---- certs-only PKCS#7 ---- */

/* EST-S-11, ASN-05: the exact shape `openssl crl2pkcs7 -nocrl` produces. */
static void
certs_only_round_trip_EST_S_11(void **state)
{
	/* version 1, digestAlgorithms {}, encapContentInfo { id-data }, then [0] */
	static const unsigned char signed_data_head[] = {
		0x02, 0x01, 0x01, 0x31, 0x00, 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48,
		0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01, 0xa0,
	};
	static const unsigned char oid_signed[] = {
		0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
	};
	X509 *c1 = self_signed(ec_key, "one", 10, NULL), *c2 = self_signed(ed_key, "two", 11, NULL);
	STACK_OF(X509) *certs = sk_X509_new_null(), *out = NULL;
	struct est_error e = {0};
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t derlen;
	long plen;
	int tag, xclass;
	PKCS7 *p7;

	(void)state;
	sk_X509_push(certs, c1);
	sk_X509_push(certs, c2);
	assert_int_equal(est_certs_only_encode(certs, &der, &derlen, &e), EST_OK);

	/* ContentInfo { signedData, [0] { SignedData { ... [0] certs, {} } } } */
	p = der;
	assert_int_equal(ASN1_get_object(&p, &plen, &tag, &xclass, (long)derlen), 0x20);
	assert_memory_equal(p, oid_signed, sizeof(oid_signed));
	p += sizeof(oid_signed);
	assert_int_equal(*p, 0xa0);
	assert_int_equal(ASN1_get_object(&p, &plen, &tag, &xclass, (long)(der + derlen - p)), 0x20);
	assert_int_equal(ASN1_get_object(&p, &plen, &tag, &xclass, (long)(der + derlen - p)), 0x20);
	assert_memory_equal(p, signed_data_head, sizeof(signed_data_head));
	p += sizeof(signed_data_head) - 1;
	assert_int_equal(ASN1_get_object(&p, &plen, &tag, &xclass, (long)(der + derlen - p)), 0x20);
	assert_ptr_equal(p + plen, der + derlen - 2); /* no CRLs, then ... */
	assert_memory_equal(der + derlen - 2, "\x31\x00", 2); /* empty signerInfos */

	p = der;
	p7 = d2i_PKCS7(NULL, &p, (long)derlen);
	assert_non_null(p7);
	assert_true(PKCS7_type_is_signed(p7));
	assert_int_equal(ASN1_INTEGER_get(p7->d.sign->version), 1);
	assert_int_equal(sk_X509_ALGOR_num(p7->d.sign->md_algs), 0);
	assert_true(PKCS7_type_is_data(p7->d.sign->contents));
	assert_null(p7->d.sign->contents->d.data);
	assert_int_equal(sk_PKCS7_SIGNER_INFO_num(p7->d.sign->signer_info), 0);
	assert_int_equal(sk_X509_num(p7->d.sign->cert), 2);
	PKCS7_free(p7);

	assert_int_equal(est_certs_only_decode(der, derlen, &out, &e), EST_OK);
	assert_int_equal(sk_X509_num(out), 2);
	assert_int_equal(X509_cmp(sk_X509_value(out, 0), c1), 0);
	assert_int_equal(X509_cmp(sk_X509_value(out, 1), c2), 0);
	sk_X509_pop_free(out, X509_free);

	OPENSSL_free(der);
	sk_X509_pop_free(certs, X509_free);
}

static unsigned char *
p7_der(int nid, size_t *len)
{
	PKCS7 *p7 = PKCS7_new();
	unsigned char *der = NULL;
	int n;

	assert_true(PKCS7_set_type(p7, nid));
	if (nid == NID_pkcs7_signed)
		assert_true(PKCS7_content_new(p7, NID_pkcs7_data));
	n = i2d_PKCS7(p7, &der);
	assert_true(n > 0);
	PKCS7_free(p7);
	*len = (size_t)n;
	return der;
}

static void
assert_certs_only_bad(const unsigned char *der, size_t len, const char *why)
{
	struct est_error e = {0};
	STACK_OF(X509) *sentinel = (STACK_OF(X509) *)&e, *out = sentinel;

	assert_int_equal(est_certs_only_decode(der, len, &out, &e), EST_ERR_BADREQ);
	if (strstr(e.msg, why) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", e.msg, why);
	assert_ptr_equal(out, sentinel);
}

static void
certs_only_bad(void **state)
{
	X509 *c = self_signed(ec_key, "c", 1, NULL);
	STACK_OF(X509) *certs = sk_X509_new_null();
	struct est_error e = {0};
	unsigned char *der = NULL, *plus;
	size_t len;

	(void)state;
	assert_int_equal(est_certs_only_encode(certs, &der, &len, &e), EST_ERR_INTERNAL);
	assert_null(der);
	sk_X509_push(certs, c);
	assert_int_equal(est_certs_only_encode(certs, &der, &len, &e), EST_OK);
	plus = malloc(len + 1);
	assert_non_null(plus);
	memcpy(plus, der, len);
	plus[len] = 0;
	assert_certs_only_bad(plus, len + 1, "1 bytes of trailing data");
	assert_certs_only_bad(der, len - 1, "not a PKCS#7");
	assert_certs_only_bad((const unsigned char *)"hello", 5, "not a PKCS#7");
	free(plus);
	OPENSSL_free(der);

	der = p7_der(NID_pkcs7_data, &len);
	assert_certs_only_bad(der, len, "not SignedData");
	OPENSSL_free(der);
	der = p7_der(NID_pkcs7_signed, &len);
	assert_certs_only_bad(der, len, "no certificates");
	OPENSSL_free(der);
	sk_X509_pop_free(certs, X509_free);
}

/* ---- text forms ---- */

static void
name_text(void **state)
{
	X509_NAME *n = X509_NAME_new();
	char *s;

	(void)state;
	s = est_name_text(NULL);
	assert_string_equal(s, "");
	free(s);
	assert_true(X509_NAME_add_entry_by_txt(n, "C", MBSTRING_UTF8, (const unsigned char *)"SE", -1, -1, 0));
	assert_true(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"b", -1, -1, 0));
	assert_true(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"a", -1, -1, 0));
	s = est_name_text(n);
	assert_string_equal(s, "CN=a,O=b,C=SE");
	free(s);
	X509_NAME_free(n);

	/* UTF-8 stays readable; RFC 2253 specials and control bytes are escaped. */
	n = X509_NAME_new();
	assert_true(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"a, b", -1, -1, 0));
	assert_true(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"\xc3\x85sa\x01", -1, -1, 0));
	s = est_name_text(n);
	assert_string_equal(s, "CN=\xc3\x85sa\\01,O=a\\, b");
	free(s);
	X509_NAME_free(n);
}

static void
serial_text(void **state)
{
	static const struct {
		const char *hex, *want;
	} cases[] = {
		{"0", "0"}, {"2A", "2A"}, {"0A", "A"}, {"100", "100"},
		{"00FF00112233", "FF00112233"},
		{"7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		BIGNUM *bn = NULL;
		ASN1_INTEGER *ai;
		char *s;

		assert_true(BN_hex2bn(&bn, cases[i].hex) > 0);
		ai = BN_to_ASN1_INTEGER(bn, NULL);
		assert_non_null(ai);
		s = est_serial_text(ai);
		assert_string_equal(s, cases[i].want);
		free(s);
		ASN1_INTEGER_free(ai);
		BN_free(bn);
	}
}

static void
serial_normalise(void **state)
{
	static const struct {
		const char *in, *want;
	} good[] = {
		{"0x2a", "2A"}, {"00:2A", "2A"}, {"2a", "2A"}, {"2A", "2A"}, {"0X002a", "2A"},
		{"0", "0"}, {"00", "0"}, {"0x0", "0"}, {"0:0", "0"}, {"de:ad:be:ef", "DEADBEEF"},
	};
	static const char *const bad[] = {
		"xyz", "", "0x", "2a:", ":2a", "2a::3b", "g1", " 2a", "2a ", "-2a", "0x0x2a",
	};
	char out[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(out, 0, sizeof(out));
		assert_int_equal(est_serial_normalise(good[i].in, out, sizeof(out)), 0);
		assert_string_equal(out, good[i].want);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(out, "untouched");
		if (est_serial_normalise(bad[i], out, sizeof(out)) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_string_equal(out, "untouched");
	}
	/* "2A" needs 3 bytes. */
	strcpy(out, "untouched");
	assert_int_equal(est_serial_normalise("2a", out, 2), -1);
	assert_string_equal(out, "untouched");
	assert_int_equal(est_serial_normalise("2a", out, 3), 0);
	assert_string_equal(out, "2A");
}

/* One spelling of a principal's serial; other principals as they are. */
static void
principal_normalise(void **state)
{
	static const struct {
		const char *in, *want;
	} good[] = {
		{"cert:A3F", "cert:0A3F"}, {"cert:0a3f", "cert:0A3F"}, {"ra:0x00:0a:3f", "ra:0A3F"},
		{"user:a3f", "user:a3f"}, {"ee:dev1", "ee:dev1"}, {"certificate", "certificate"},
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(est_principal_normalise(good[i].in, out, sizeof(out)), 0);
		assert_string_equal(out, good[i].want);
	}
	assert_int_equal(est_principal_normalise("cert:zz", out, sizeof(out)), -1);
	assert_int_equal(est_principal_normalise("ra:", out, sizeof(out)), -1);
	assert_int_equal(est_principal_normalise("cert:A3F", out, 9), -1);
	assert_int_equal(est_principal_normalise("cert:A3F", out, 10), 0);
}

/* Whole bytes as openssl prints them; est_serial_normalise takes them back. */
static void
serial_shown(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"A3F", "0A3F"}, {"2A", "2A"}, {"0", "00"}, {"-A3F", "-A3F"},
		{"7CE7C16D3B9DD6A8C851EFD655B3D63", "07CE7C16D3B9DD6A8C851EFD655B3D63"},
	};
	char out[EST_SERIAL_SHOWN_MAX], back[EST_SERIAL_SHOWN_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_ptr_equal(est_serial_shown(cases[i].in, out, sizeof(out)), out);
		assert_string_equal(out, cases[i].want);
		if (cases[i].in[0] != '-') {
			assert_int_equal(est_serial_normalise(out, back, sizeof(back)), 0);
			assert_string_equal(back, cases[i].in);
		}
	}
}

static void
spki_sha256(void **state)
{
	/* RFC 8032 §7.1 test 1 public key; SHA-256 of its SubjectPublicKeyInfo. */
	static const unsigned char pub[32] = {
		0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3,
		0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25,
		0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
	};
	EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, sizeof(pub));
	X509_REQ *req = signed_csr(ec_key, "spki", NULL);
	struct est_error e = {0};
	char a[65], b[65];

	(void)state;
	assert_non_null(key);
	assert_int_equal(est_spki_sha256(key, a, &e), EST_OK);
	assert_string_equal(a, "06e3fd8fda29bb60ab59557de61edb0aecdb231134be30e75b455f8e1b792fa9");

	/* The same key seen through a CSR hashes the same; another key does not. */
	assert_int_equal(est_spki_sha256(ec_key, a, &e), EST_OK);
	assert_int_equal(est_spki_sha256(X509_REQ_get0_pubkey(req), b, &e), EST_OK);
	assert_string_equal(a, b);
	assert_int_equal(est_spki_sha256(rsa_key, b, &e), EST_OK);
	assert_string_not_equal(a, b);

	X509_REQ_free(req);
	EVP_PKEY_free(key);
}

static void
key_describe(void **state)
{
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *x25519 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	char buf[32];

	(void)state;
	assert_non_null(p384);
	assert_non_null(x25519);
	est_key_describe(rsa_key, buf, sizeof(buf));
	assert_string_equal(buf, "RSA 2048");
	est_key_describe(ec_key, buf, sizeof(buf));
	assert_string_equal(buf, "EC P-256");
	est_key_describe(p384, buf, sizeof(buf));
	assert_string_equal(buf, "EC P-384");
	est_key_describe(ed_key, buf, sizeof(buf));
	assert_string_equal(buf, "ED25519");
	est_key_describe(x25519, buf, sizeof(buf));
	assert_string_equal(buf, "X25519 253");
	est_key_describe(rsa_key, buf, 4);
	assert_string_equal(buf, "RSA");
	EVP_PKEY_free(p384);
	EVP_PKEY_free(x25519);
}

static int
setup_keys(void **state)
{
	(void)state;
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return rsa_key != NULL && ec_key != NULL && ed_key != NULL ? 0 : -1;
}

static int
free_keys(void **state)
{
	(void)state;
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(ed_key);
	return 0;
}

/* estadm ee add --dn / --san, the alias's username field, unordered DN compare. */
static void
names_typed_by_people(void **state)
{
	struct est_error e = { 0 };
	X509_NAME *a = NULL, *b = NULL;
	GENERAL_NAMES *san = NULL;
	char *text, *v = NULL, longtype[200];

	(void)state;
	assert_int_equal(est_name_parse("CN=1234.primekey.com,O=PrimeKey,C=SE", &a, &e), EST_OK);
	text = est_name_text(a);
	assert_string_equal(text, "CN=1234.primekey.com,O=PrimeKey,C=SE");
	free(text);
	/* ASN.1 order is C, O, CN: the first entry is the country. */
	assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(a, 0))),
	    NID_countryName);
	assert_int_equal(est_name_field(a, NID_commonName, &v, &e), EST_OK);
	assert_string_equal(v, "1234.primekey.com");
	free(v);
	assert_int_equal(est_name_field(a, NID_serialNumber, &v, &e), EST_ERR_NOTFOUND);
	/* The same attributes in the other order (openssl req -subj /CN=../O=../C=..). */
	b = X509_NAME_new();
	X509_NAME_add_entry_by_txt(b, "CN", MBSTRING_ASC, (const unsigned char *)"1234.primekey.com", -1, -1, 0);
	X509_NAME_add_entry_by_txt(b, "O", MBSTRING_ASC, (const unsigned char *)"primekey", -1, -1, 0);
	X509_NAME_add_entry_by_txt(b, "C", MBSTRING_ASC, (const unsigned char *)"SE", -1, -1, 0);
	assert_true(X509_NAME_cmp(a, b) != 0);
	assert_true(est_name_equal_unordered(a, b));
	X509_NAME_free(b);
	assert_int_equal(est_name_parse("CN=a\\,b,E=x@y.example,serialNumber=42", &b, &e), EST_OK);
	assert_int_equal(est_name_field(b, NID_commonName, &v, &e), EST_OK);
	assert_string_equal(v, "a,b");
	free(v);
	assert_false(est_name_equal_unordered(a, b));
	X509_NAME_free(b);
	assert_int_equal(est_name_parse("CN=x,Bogus=y", &b, &e), EST_ERR_BADREQ);
	assert_int_equal(est_name_parse("CN", &b, &e), EST_ERR_BADREQ);
	assert_int_equal(est_name_parse("", &b, &e), EST_ERR_BADREQ);
	/* An attribute name longer than its buffer (found by fuzz_names: it overflowed). */
	memset(longtype, 'A', sizeof(longtype));
	memcpy(longtype + 150, "=x", 3);
	assert_int_equal(est_name_parse(longtype, &b, &e), EST_ERR_BADREQ);
	assert_int_equal(est_dn_field_nid("e"), NID_pkcs9_emailAddress);
	assert_int_equal(est_dn_field_nid("nope"), NID_undef);
	X509_NAME_free(a);

	assert_int_equal(est_san_parse("dns:dev.example,ip:10.0.0.7,email:a@b.example", &san, &e), EST_OK);
	text = est_san_text(san);
	assert_string_equal(text, "DNS:dev.example, IP:10.0.0.7, email:a@b.example");
	free(text);
	GENERAL_NAMES_free(san);
	assert_int_equal(est_san_parse("ip:999.1.1.1", &san, &e), EST_ERR_BADREQ);
	assert_int_equal(est_san_parse("ftp:x", &san, &e), EST_ERR_BADREQ);
}

/* ---- names as keys (namekeys.c) ---- */

/* The keys of dn_text's names, SAN san_text's (NULL: none) and, with dn, of the DN. */
static void
keys_of(const char *dn_text, const char *san_text, bool dn, struct codec_name_keys *k)
{
	struct est_error e = { 0 };
	X509_NAME *name = NULL;
	GENERAL_NAMES *san = NULL;

	*k = (struct codec_name_keys){ 0 };
	assert_int_equal(est_name_parse(dn_text, &name, &e), EST_OK);
	if (san_text != NULL)
		assert_int_equal(est_san_parse(san_text, &san, &e), EST_OK);
	codec_name_keys_add_names(k, name, san);
	if (dn)
		codec_name_keys_add_dn(k, name);
	assert_false(k->oom);
	X509_NAME_free(name);
	GENERAL_NAMES_free(san);
}

static bool
holds(const char *dn_text, const char *san_text, const char *key)
{
	struct codec_name_keys k;
	bool found = false;

	keys_of(dn_text, san_text, false, &k);
	for (size_t i = 0; i < k.n; i++)
		found = found || strcmp(k.v[i], key) == 0;
	codec_name_keys_free(&k);
	return found;
}

/*
 * The spellings relying parties take for one name have one key, so the
 * store's index finds the end entity that registered any of them (found
 * in review: capitals, a trailing dot, DNS:10.0.0.5, an IPv4-mapped address
 * had obtained another entity's names).
 */
static void
name_keys_spellings(void **state)
{
	(void)state;
	assert_true(holds("CN=Dev-B.corp.example.", NULL, "h:dev-b.corp.example"));
	assert_true(holds("CN=x", "DNS:DEV-B.CORP.EXAMPLE", "h:dev-b.corp.example"));
	assert_true(holds("CN=10.0.0.5", NULL, "i:10.0.0.5"));
	assert_true(holds("CN=x", "DNS:10.0.0.5", "i:10.0.0.5"));
	assert_true(holds("CN=x", "IP:::ffff:10.0.0.5", "i:10.0.0.5"));
	assert_true(holds("CN=x,emailAddress=Ops@Corp.Example", NULL, "e:ops@corp.example"));
	assert_true(holds("CN=x", "URI:HTTPS://Dev.Example/", "u:https://dev.example/"));
	/* A bare CN is no host name: two devices may both be "router". */
	assert_false(holds("CN=router", NULL, "h:router"));
	/* An address with a final dot is still the address (found in review: "h:10.0.0.5"). */
	assert_true(holds("CN=10.0.0.5.", NULL, "i:10.0.0.5"));
	assert_true(holds("CN=x", "DNS:10.0.0.5.", "i:10.0.0.5"));
	assert_true(holds("CN=x", "DNS:2001:DB8:0::5.", "i:2001:db8::5"));
	assert_true(holds("CN=10.0.0.5 .", NULL, "i:10.0.0.5"));
}

/* Whether the keys a request for dn_text's and san_text's names looks up hold key. */
static bool
asks(const char *dn_text, const char *san_text, const char *key)
{
	struct est_error e = { 0 };
	struct codec_name_keys k = { 0 };
	X509_NAME *name = NULL;
	GENERAL_NAMES *san = NULL;
	bool found = false;

	assert_int_equal(est_name_parse(dn_text, &name, &e), EST_OK);
	if (san_text != NULL)
		assert_int_equal(est_san_parse(san_text, &san, &e), EST_OK);
	codec_name_keys_add_asked(&k, name, san);
	assert_false(k.oom);
	for (size_t i = 0; i < k.n; i++)
		found = found || strcmp(k.v[i], key) == 0;
	codec_name_keys_free(&k);
	X509_NAME_free(name);
	GENERAL_NAMES_free(san);
	return found;
}

/*
 * A request's names are taken for registered ones they cover: a wildcard
 * (EST-C-23: relying parties take *.corp.example for dev.corp.example),
 * and a bare CN for a single-label dNSName a client falls back to it for.
 * Names beside each other, and two bare CNs, are not taken for each other.
 */
static void
name_keys_asked(void **state)
{
	(void)state;
	assert_true(holds("CN=x", "DNS:Dev.Corp.Example", "w:corp.example"));
	assert_true(holds("CN=dev.corp.example", NULL, "w:corp.example"));
	assert_true(asks("CN=x", "DNS:*.CORP.example.", "w:corp.example"));
	assert_true(asks("CN=x", "DNS:dev-*.corp.example", "w:corp.example"));
	assert_true(asks("CN=*.corp.example", NULL, "w:corp.example"));
	assert_false(asks("CN=x", "DNS:other.corp.example", "w:corp.example"));
	assert_false(asks("CN=x", "DNS:a.*.example", "w:*.example"));
	assert_true(asks("CN=Printer", NULL, "h:printer"));
	assert_false(holds("CN=printer", NULL, "h:printer"));
	assert_true(holds("CN=x", "DNS:printer", "h:printer"));
}

/* Whether text is whole UTF-8 characters (as PostgreSQL stores text). */
static bool
whole_utf8(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;

	while (*p != '\0') {
		size_t n = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc0 ? 2 : 0;

		if (n == 0)
			return false;
		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += n;
	}
	return true;
}

/*
 * Keys are cut at 255 bytes, never inside a character: PostgreSQL refused a
 * key that ended in half of one, so such an end entity could not be
 * registered there, nor a request for its names be looked up.
 */
static void
name_keys_whole_characters(void **state)
{
	char dn[1024], san[1024], *p;
	struct codec_name_keys k;

	(void)state;
	for (int shift = 0; shift < 4; shift++) {
		p = dn + sprintf(dn, "O=%.*s", shift, "abc");
		for (int f = 0; f < 3; f++) {
			p += sprintf(p, "%s", f == 0 ? "" : f == 1 ? ",OU=" : ",L=");
			for (int i = 0; i < 60; i++)
				p += sprintf(p, "\xc3\xa4");
		}
		p = san + sprintf(san, "DNS:%.*s", shift, "abc");
		for (int i = 0; i < 150; i++)
			p += sprintf(p, "\xc3\xa4");
		keys_of(dn, san, true, &k);
		assert_true(k.n >= 2);
		for (size_t i = 0; i < k.n; i++) {
			assert_true(strlen(k.v[i]) > 200);
			assert_true(whole_utf8(k.v[i]));
		}
		codec_name_keys_free(&k);
	}
}

/*
 * est_name_equal_unordered calls DNs of over 64 attributes different from
 * every DN, itself included: one registered so would be anyone's, so none
 * is registered (and the policy issues none, test_policy_names).
 */
static void
name_over_dn_max_refused(void **state)
{
	struct est_error e = { 0 };
	X509_NAME *name = NULL;
	char dn[1024] = "CN=dev-m";

	(void)state;
	for (int i = 1; i < CODEC_NAME_DN_MAX; i++)
		snprintf(dn + strlen(dn), sizeof(dn) - strlen(dn), ",OU=u%d", i);
	assert_int_equal(est_name_parse(dn, &name, &e), EST_OK);
	assert_true(est_name_equal_unordered(name, name));
	X509_NAME_free(name);
	name = NULL;
	strcat(dn, ",OU=one-more");
	assert_int_equal(est_name_parse(dn, &name, &e), EST_ERR_BADREQ);
	assert_non_null(strstr(e.msg, "at most 64 attributes"));
	assert_null(name);
}

/* Whether the DNs' "d:" keys are equal: only DN keys, so compare the last keys. */
static bool
dn_keys_equal(const char *a, const char *b)
{
	struct codec_name_keys ka, kb;
	bool eq;

	keys_of(a, NULL, true, &ka);
	keys_of(b, NULL, true, &kb);
	eq = ka.n > 0 && kb.n > 0 && strcmp(ka.v[ka.n - 1], kb.v[kb.n - 1]) == 0;
	codec_name_keys_free(&ka);
	codec_name_keys_free(&kb);
	return eq;
}

static bool
dns_equal(const char *a, const char *b)
{
	struct est_error e = { 0 };
	X509_NAME *na = NULL, *nb = NULL;
	bool eq;

	assert_int_equal(est_name_parse(a, &na, &e), EST_OK);
	assert_int_equal(est_name_parse(b, &nb, &e), EST_OK);
	eq = est_name_equal_unordered(na, nb);
	X509_NAME_free(na);
	X509_NAME_free(nb);
	return eq;
}

/*
 * DNs equal as the policy compares them (any order, ASCII case and spacing)
 * have one "d:" key, or the index would miss their owner; different ones
 * mostly differ.
 */
static void
name_keys_dn(void **state)
{
	static const char *const same[][2] = {
		{ "CN=Dev  One,O=ACME Inc", "O=acme inc,CN=dev one" },
		{ "CN=Ger\xc3\xa4t 7,O=Fabrik", "O=FABRIK,CN=gER\xc3\xa4T 7" },
		{ "C=US,O=Example,CN=router", "CN=ROUTER,C=us,O=example" },
	};
	static const char *const other[][2] = {
		{ "CN=dev one,O=acme inc", "CN=dev one" },
		{ "CN=dev one,O=acme inc", "CN=dev one,O=acme inc,C=US" },
		{ "CN=acme inc,O=dev one", "CN=dev one,O=acme inc" },
		{ "CN=Ger\xc3\xa4t 7", "CN=Ger\xc3\x84t 7" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		assert_true(dns_equal(same[i][0], same[i][1]));
		assert_true(dn_keys_equal(same[i][0], same[i][1]));
	}
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		assert_false(dns_equal(other[i][0], other[i][1]));
		assert_false(dn_keys_equal(other[i][0], other[i][1]));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(b64_encode_exact),
		cmocka_unit_test(b64_round_trip),
		cmocka_unit_test(b64_whitespace_EST_G_12),
		cmocka_unit_test(b64_bad),
		cmocka_unit_test(b64_bad_across_chunks),
		cmocka_unit_test(body_forms),
		cmocka_unit_test(body_bad),
		cmocka_unit_test(body_trailing_nul),
		cmocka_unit_test(csr_read_file),
		cmocka_unit_test(csr_verify_EST_S_31),
		cmocka_unit_test(challenge_password_EST_S_36),
		cmocka_unit_test(challenge_password_bad),
		cmocka_unit_test(oid_table_ASN_06),
		cmocka_unit_test(change_subject_name_ASN_04),
		cmocka_unit_test(san_extract),
		cmocka_unit_test(san_equal_as_sets),
		cmocka_unit_test(san_text_forms),
		cmocka_unit_test(san_text_othername_values_differ),
		cmocka_unit_test(certs_only_round_trip_EST_S_11),
		cmocka_unit_test(certs_only_bad),
		cmocka_unit_test(name_text),
		cmocka_unit_test(serial_text),
		cmocka_unit_test(serial_normalise),
		cmocka_unit_test(serial_shown),
		cmocka_unit_test(principal_normalise),
		cmocka_unit_test(spki_sha256),
		cmocka_unit_test(key_describe),
		cmocka_unit_test(names_typed_by_people),
		cmocka_unit_test(name_keys_spellings),
		cmocka_unit_test(name_keys_dn),
		cmocka_unit_test(name_keys_asked),
		cmocka_unit_test(name_over_dn_max_refused),
		cmocka_unit_test(name_keys_whole_characters),
	};

	return cmocka_run_group_tests(tests, setup_keys, free_keys);
}
