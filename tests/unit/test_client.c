/*
 * Unit tests for the client side: media types and multipart bodies
 * (lib/codec), CSR attributes, CSR building, channel binding, Retry-After,
 * the DER/PEM helpers and the server URL (lib/client). Keys and
 * certificates are made here; TLS handshakes run over memory BIOs, so no
 * network and no fixture files are used.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "client/client_int.h"
#include "estkit/ca.h"
#include "estkit/client.h"
#include "estkit/codec.h"

static EVP_PKEY *ec_key, *ed_key;
static X509 *ec_cert;          /* self-signed for ec_key, with an SKI */

/* ---- media types ---- */

static struct est_media_type
mt(const char *s)
{
	struct est_media_type m;
	struct est_error e = { 0 };

	assert_int_equal(est_media_type_parse(s, strlen(s), &m, &e), EST_OK);
	return m;
}

static void
media_type_forms_EST_G_13(void **state)
{
	struct est_media_type m;

	(void)state;
	m = mt("application/pkcs7-mime; smime-type=certs-only");
	assert_string_equal(m.type, "application/pkcs7-mime");
	assert_true(est_media_type_is(&m, "application/pkcs7-mime", "certs-only"));
	m = mt("Application/PKCS7-MIME;smime-type=\"Certs-Only\"");
	assert_true(est_media_type_is(&m, "application/pkcs7-mime", "certs-only"));
	assert_false(est_media_type_is(&m, "application/pkcs7-mime", "server-generated-key"));
	m = mt(" multipart/mixed ; boundary = \"est-server-boundary\" ;; charset=x ");
	assert_string_equal(est_media_type_param(&m, "BOUNDARY"), "est-server-boundary");
	assert_string_equal(est_media_type_param(&m, "charset"), "x");
	assert_null(est_media_type_param(&m, "smime-type"));
	m = mt("text/plain; a=\"q\\\"uote\"");
	assert_string_equal(est_media_type_param(&m, "a"), "q\"uote");
	assert_true(est_media_type_is(&m, "text/plain", NULL));
}

static void
media_type_bad(void **state)
{
	static const char *const bad[] = {
		"", "application", "application/", "/pkcs10", "a/b; x", "a/b; x=", "a/b x",
		"a/b; =v", "a/b; x=\"open", "a b/c",
	};
	struct est_media_type m;
	struct est_error e = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.code = EST_OK;
		assert_int_equal(est_media_type_parse(bad[i], strlen(bad[i]), &m, &e), EST_ERR_BADREQ);
		assert_int_equal(e.code, EST_ERR_BADREQ);
		assert_true(e.msg[0] != '\0');
	}
}

/* ---- multipart ---- */

static size_t
split(const char *body, const char *boundary, struct est_mime_slice *parts, size_t max,
    enum est_err want)
{
	struct est_error e = { 0 };
	size_t n = 0;

	assert_int_equal(est_multipart_parse((const unsigned char *)body, strlen(body), boundary,
	    parts, max, &n, &e), want);
	return n;
}

static void
part_is(const struct est_mime_slice *p, const char *type, const char *smime, const char *body)
{
	assert_true(est_media_type_is(&p->type, type, smime));
	assert_int_equal(p->len, strlen(body));
	assert_memory_equal(p->body, body, p->len);
}

/* RFC 7030 §4.4.2 shape: key part first, CRLF line ends (EST-S-69). */
static void
multipart_crlf_EST_S_69(void **state)
{
	static const char body[] =
	    "--est-server-boundary\r\n"
	    "Content-Type: application/pkcs8\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n"
	    "S0VZ\r\nS0VZ\r\n"
	    "--est-server-boundary\r\n"
	    "Content-Type: application/pkcs7-mime; smime-type=certs-only\r\n"
	    "\r\n"
	    "Q0VSVA==\r\n"
	    "--est-server-boundary--\r\n";
	struct est_mime_slice p[4];

	(void)state;
	assert_int_equal(split(body, "est-server-boundary", p, 4, EST_OK), 2);
	part_is(&p[0], "application/pkcs8", NULL, "S0VZ\r\nS0VZ");
	part_is(&p[1], "application/pkcs7-mime", "certs-only", "Q0VSVA==");
}

/* LF only, a preamble and an epilogue, certificate first, folded header (EST-C-60). */
static void
multipart_lenient_EST_C_60(void **state)
{
	static const char body[] =
	    "This is the preamble.\n--b--not-a-delimiter\n"
	    "--b\n"
	    "content-type: application/pkcs7-mime;\n"
	    "\tsmime-type=certs-only\n"
	    "\n"
	    "CERT\n"
	    "--b  \n"
	    "Content-Type: application/pkcs8\n"
	    "\n"
	    "KEY\n"
	    "--b--\n"
	    "epilogue --b\n";
	struct est_mime_slice p[4];

	(void)state;
	assert_int_equal(split(body, "b", p, 4, EST_OK), 2);
	part_is(&p[0], "application/pkcs7-mime", "certs-only", "CERT");
	part_is(&p[1], "application/pkcs8", NULL, "KEY");
}

static void
multipart_edges(void **state)
{
	struct est_mime_slice p[2];

	(void)state;
	/* A part without headers is text/plain; an empty part is allowed. */
	assert_int_equal(split("--x\r\n\r\nhello\r\n--x\r\n\r\n--x--", "x", p, 2, EST_OK), 2);
	part_is(&p[0], "text/plain", NULL, "hello");
	assert_int_equal(p[1].len, 0);
	/* The boundary must start a line. */
	assert_int_equal(split("a--x\r\n\r\nbody\r\n--x--\r\n", "x", p, 2, EST_ERR_BADREQ), 0);
	split("--x\r\n\r\nno end\r\n", "x", p, 2, EST_ERR_BADREQ);
	split("--x--\r\n", "x", p, 2, EST_ERR_BADREQ);
	split("--x\r\n\r\na\r\n--x\r\n\r\nb\r\n--x\r\n\r\nc\r\n--x--", "x", p, 2, EST_ERR_BADREQ);
	split("--x\r\nnot a header\r\n\r\nbody\r\n--x--", "x", p, 2, EST_ERR_BADREQ);
	split("--x\r\n\r\nbody\r\n--x--", "", p, 2, EST_ERR_BADREQ);
	split("--x\r\nContent-Type: nonsense\r\n\r\nbody\r\n--x--", "x", p, 2, EST_ERR_BADREQ);
}

/* ---- CSR attributes ---- */

static struct est_csr_wants *
attrs_b64(const char *b64, enum est_err want)
{
	struct est_csr_wants *a = NULL;
	struct est_error e = { 0 };
	unsigned char *der = NULL;
	size_t len = 0;

	assert_int_equal(est_b64_decode(b64, strlen(b64), &der, &len, &e), EST_OK);
	assert_int_equal(est_csr_wants_decode(der, len, &a, &e), want);
	free(der);
	return a;
}

static bool
has_unknown(const struct est_csr_wants *a, int nid)
{
	for (int i = 0; i < sk_ASN1_OBJECT_num(a->unknown); i++)
		if (OBJ_obj2nid(sk_ASN1_OBJECT_value(a->unknown, i)) == nid)
			return true;
	return false;
}

/* The RFC 7030 §4.5.2 example: its extensionRequest is malformed (pitfall 15). */
static void
csrattrs_rfc_example_EST_S_93(void **state)
{
	struct est_csr_wants *a;

	(void)state;
	a = attrs_b64("MEEGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSuBBAAiMBYGCSqGSIb3DQEJDjEJ"
	    "BgcrBgEBAQEWBggqhkjOPQQDAw==", EST_OK);
	assert_false(a->none);
	assert_true(a->challenge_password);
	assert_string_equal(a->key_spec, "ec:P-384");
	assert_string_equal(a->digest, "SHA384");
	assert_null(a->extensions);
	assert_true(has_unknown(a, NID_ext_req));
	assert_int_equal(a->der_len, 67);
	est_csr_wants_free(a);

	a = attrs_b64("MAsGCSqGSIb3DQEJBw==", EST_OK); /* libest's default (EST-S-94) */
	assert_true(a->challenge_password);
	assert_string_equal(a->key_spec, "");
	est_csr_wants_free(a);

	a = attrs_b64("MAA=", EST_OK); /* empty: no requirements (EST-S-92) */
	assert_true(a->none);
	assert_false(a->challenge_password);
	est_csr_wants_free(a);
}

/* CsrAttrs DER from items (ASN1_TYPE), freeing them. */
static unsigned char *
attrs_der(STACK_OF(ASN1_TYPE) *items, size_t *len)
{
	unsigned char *der = NULL;
	int n = i2d_ASN1_SEQUENCE_ANY(items, &der);

	assert_true(n > 0);
	sk_ASN1_TYPE_pop_free(items, ASN1_TYPE_free);
	*len = (size_t)n;
	return der;
}

/* An Attribute { type, { value } } as a SEQUENCE item; takes value over. */
static void
push_attr(STACK_OF(ASN1_TYPE) *items, int nid, int vtype, void *value)
{
	X509_ATTRIBUTE *attr = X509_ATTRIBUTE_create(nid, vtype, value);
	ASN1_STRING *seq = ASN1_STRING_new();
	ASN1_TYPE *t = ASN1_TYPE_new();
	unsigned char *der = NULL;
	int n;

	assert_non_null(attr);
	n = i2d_X509_ATTRIBUTE(attr, &der);
	assert_true(n > 0);
	assert_true(ASN1_STRING_set(seq, der, n));
	ASN1_TYPE_set(t, V_ASN1_SEQUENCE, seq);
	assert_true(sk_ASN1_TYPE_push(items, t) > 0);
	OPENSSL_free(der);
	X509_ATTRIBUTE_free(attr);
}

static void
push_oid(STACK_OF(ASN1_TYPE) *items, const char *oid)
{
	ASN1_TYPE *t = ASN1_TYPE_new();

	ASN1_TYPE_set(t, V_ASN1_OBJECT, OBJ_txt2obj(oid, 1));
	assert_true(sk_ASN1_TYPE_push(items, t) > 0);
}

/* RSA size, Ed25519, a proper extensionRequest, unknown OIDs (EST-C-62, EST-S-95). */
static void
csrattrs_understood_EST_C_62(void **state)
{
	STACK_OF(ASN1_TYPE) *items = sk_ASN1_TYPE_new_null();
	STACK_OF(X509_EXTENSION) *exts = NULL;
	ASN1_INTEGER *bits = ASN1_INTEGER_new();
	ASN1_STRING *extseq = ASN1_STRING_new();
	X509_EXTENSION *ku = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, "critical,digitalSignature");
	struct est_csr_wants *a = NULL;
	struct est_error e = { 0 };
	unsigned char *der = NULL;
	size_t len;
	int n;

	(void)state;
	assert_true(ASN1_INTEGER_set(bits, 3072));
	push_attr(items, NID_rsaEncryption, V_ASN1_INTEGER, bits);
	assert_non_null(ku);
	assert_non_null(X509v3_add_ext(&exts, ku, -1));
	n = i2d_X509_EXTENSIONS(exts, &der);
	assert_true(n > 0 && ASN1_STRING_set(extseq, der, n));
	push_attr(items, NID_ext_req, V_ASN1_SEQUENCE, extseq);
	push_oid(items, "1.3.6.1.1.1.1.22");         /* macAddress: not understood */
	push_oid(items, "2.999.1");                  /* unknown */
	push_oid(items, "1.2.840.113549.1.1.11");    /* sha256WithRSAEncryption */
	OPENSSL_free(der);
	der = attrs_der(items, &len);
	assert_int_equal(est_csr_wants_decode(der, len, &a, &e), EST_OK);
	assert_string_equal(a->key_spec, "rsa:3072");
	assert_string_equal(a->digest, "SHA256");
	assert_int_equal(sk_X509_EXTENSION_num(a->extensions), 1);
	assert_int_equal(sk_ASN1_OBJECT_num(a->unknown), 2);
	assert_false(a->challenge_password);
	est_csr_wants_free(a);
	OPENSSL_free(der);
	X509_EXTENSION_free(ku);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);

	items = sk_ASN1_TYPE_new_null();
	push_oid(items, "1.3.101.112");              /* Ed25519 */
	der = attrs_der(items, &len);
	assert_int_equal(est_csr_wants_decode(der, len, &a, &e), EST_OK);
	assert_string_equal(a->key_spec, "ed25519");
	est_csr_wants_free(a);
	OPENSSL_free(der);
}

static void
csrattrs_bad(void **state)
{
	static const unsigned char integer_item[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
	static const unsigned char trailing[] = { 0x30, 0x00, 0x00 };
	static const unsigned char not_seq[] = { 0x04, 0x01, 0x00 };
	struct est_csr_wants *a = NULL;
	struct est_error e = { 0 };

	(void)state;
	assert_int_equal(est_csr_wants_decode(integer_item, sizeof(integer_item), &a, &e),
	    EST_ERR_BADREQ);
	assert_int_equal(est_csr_wants_decode(trailing, sizeof(trailing), &a, &e), EST_ERR_BADREQ);
	assert_int_equal(est_csr_wants_decode(not_seq, sizeof(not_seq), &a, &e), EST_ERR_BADREQ);
	assert_null(a);
	est_csr_wants_free(NULL);
}

/* ---- CSR building ---- */

static X509_NAME *
cn_name(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	assert_true(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
	    -1, -1, 0));
	return n;
}

static char *
challenge_of(X509_REQ *csr)
{
	struct est_error e = { 0 };
	char *pw = NULL;

	assert_int_equal(est_csr_challenge_password(csr, &pw, &e), EST_OK);
	return pw;
}

/* Subject, SAN, channel binding as a 16-character PrintableString (EST-S-35, EST-S-36). */
static void
csr_build_binding_EST_C_40(void **state)
{
	static const unsigned char cb[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	struct est_enroll_req req = { 0 };
	GENERAL_NAMES *san = sk_GENERAL_NAME_new_null(), *got = NULL;
	X509_NAME *subject = cn_name("dev");
	X509_REQ *csr = NULL;
	struct est_error e = { 0 };
	X509_ATTRIBUTE *attr;
	char *pw;

	(void)state;
	sk_GENERAL_NAME_push(san, a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_DNS, "dev.example", 0));
	assert_int_equal(cl_csr_build(&req, ec_key, subject, san, cb, sizeof(cb), &csr, &e), EST_OK);
	assert_int_equal(est_csr_verify(csr, &e), EST_OK);
	assert_int_equal(X509_NAME_cmp(X509_REQ_get_subject_name(csr), subject), 0);
	assert_int_equal(est_csr_get_san(csr, &got, &e), EST_OK);
	assert_true(est_san_equal(got, san));
	pw = challenge_of(csr);
	assert_string_equal(pw, "AQIDBAUGBwgJCgsM");
	attr = X509_REQ_get_attr(csr, X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword, -1));
	assert_int_equal(X509_ATTRIBUTE_get0_type(attr, 0)->type, V_ASN1_PRINTABLESTRING);
	assert_int_equal(X509_REQ_get_signature_nid(csr), NID_ecdsa_with_SHA256);
	free(pw);
	X509_REQ_free(csr);
	GENERAL_NAMES_free(san);
	GENERAL_NAMES_free(got);
	X509_NAME_free(subject);
}

/* What /csrattrs asked for: digest and extensions; our SAN wins; Ed25519 needs no digest. */
static void
csr_build_attrs_EST_C_63(void **state)
{
	struct est_csr_wants attrs = { 0 };
	struct est_enroll_req req = { .attrs = &attrs };
	X509_EXTENSION *ku = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, "digitalSignature");
	X509_REQ *csr = NULL;
	STACK_OF(X509_EXTENSION) *exts;
	struct est_error e = { 0 };

	(void)state;
	snprintf(attrs.digest, sizeof(attrs.digest), "SHA384");
	assert_non_null(X509v3_add_ext(&attrs.extensions, ku, -1));
	assert_int_equal(cl_csr_build(&req, ec_key, NULL, NULL, NULL, 0, &csr, &e), EST_OK);
	assert_int_equal(X509_REQ_get_signature_nid(csr), NID_ecdsa_with_SHA384);
	exts = X509_REQ_get_extensions(csr);
	assert_int_equal(X509v3_get_ext_by_NID(exts, NID_key_usage, -1), 0);
	assert_null(challenge_of(csr));
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(csr);

	assert_int_equal(cl_csr_build(&req, ed_key, NULL, NULL, NULL, 0, &csr, &e), EST_OK);
	assert_int_equal(est_csr_verify(csr, &e), EST_OK);
	X509_REQ_free(csr);

	req.attrs = NULL;
	req.digest = "NOSUCH";
	assert_int_equal(cl_csr_build(&req, ec_key, NULL, NULL, NULL, 0, &csr, &e), EST_ERR_BADREQ);
	sk_X509_EXTENSION_pop_free(attrs.extensions, X509_EXTENSION_free);
	X509_EXTENSION_free(ku);
}

/* Encrypted server-generated key asked for by SKI (RFC 7030 §4.4.1.2, EST-S-67). */
static void
csr_build_decrypt_key_id_EST_S_67(void **state)
{
	struct est_enroll_req req = { .decrypt_cert = ec_cert };
	ASN1_OBJECT *oid = OBJ_txt2obj("1.2.840.113549.1.9.16.2.54", 1);
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ec_cert);
	X509_REQ *csr = NULL;
	struct est_error e = { 0 };
	ASN1_TYPE *v;
	int idx;

	(void)state;
	assert_int_equal(cl_csr_build(&req, ec_key, NULL, NULL, NULL, 0, &csr, &e), EST_OK);
	idx = X509_REQ_get_attr_by_OBJ(csr, oid, -1);
	assert_true(idx >= 0);
	v = X509_ATTRIBUTE_get0_type(X509_REQ_get_attr(csr, idx), 0);
	assert_int_equal(v->type, V_ASN1_OCTET_STRING);
	assert_int_equal(ASN1_STRING_cmp(v->value.octet_string, ski), 0);
	assert_true(X509_REQ_get_attr_by_NID(csr, NID_SMIMECapabilities, -1) >= 0);
	X509_REQ_free(csr);
	ASN1_OBJECT_free(oid);
}

/* ---- channel binding ---- */

static SSL_CTX *
tls_ctx(bool server, int version)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	assert_non_null(ctx);
	assert_true(SSL_CTX_set_min_proto_version(ctx, version));
	assert_true(SSL_CTX_set_max_proto_version(ctx, version));
	if (server) {
		assert_int_equal(SSL_CTX_use_certificate(ctx, ec_cert), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey(ctx, ec_key), 1);
		SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"t", 1);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
	}
	return ctx;
}

/* Handshake over a BIO pair; returns the client's SSL, *srv the server's. */
static SSL *
handshake(SSL_CTX *cctx, SSL_CTX *sctx, SSL_SESSION *resume, SSL **srv)
{
	SSL *c = SSL_new(cctx), *s = SSL_new(sctx);
	BIO *cb = NULL, *sb = NULL;
	int rc, rs;

	assert_true(BIO_new_bio_pair(&cb, 0, &sb, 0));
	SSL_set_bio(c, cb, cb);
	SSL_set_bio(s, sb, sb);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	if (resume != NULL)
		assert_int_equal(SSL_set_session(c, resume), 1);
	for (int i = 0; i < 20; i++) {
		rc = SSL_do_handshake(c);
		rs = SSL_do_handshake(s);
		if (rc == 1 && rs == 1)
			break;
	}
	assert_int_equal(SSL_is_init_finished(c), 1);
	assert_int_equal(SSL_is_init_finished(s), 1);
	*srv = s;
	return c;
}

/* What the server side sees as the binding (RFC 5929 / RFC 9266). */
static size_t
server_value(SSL *s, unsigned char *out)
{
	if (SSL_version(s) >= TLS1_3_VERSION) {
		assert_int_equal(SSL_export_keying_material(s, out, 32, "EXPORTER-Channel-Binding",
		    24, NULL, 0, 1), 1);
		return 32;
	}
	return SSL_session_reused(s) ? SSL_get_finished(s, out, CL_CB_MAX) :
	    SSL_get_peer_finished(s, out, CL_CB_MAX);
}

static void
binding_matches(SSL *c, SSL *s, size_t want_len)
{
	unsigned char a[CL_CB_MAX], b[CL_CB_MAX];
	size_t n = cl_chanbind(c, a);

	assert_int_equal(n, want_len);
	assert_int_equal(server_value(s, b), want_len);
	assert_memory_equal(a, b, n);
}

/* tls-unique on a full and a resumed TLS 1.2 handshake (EST-S-35, pitfall 11). */
static void
chanbind_tls12_EST_S_35(void **state)
{
	SSL_CTX *cctx = tls_ctx(false, TLS1_2_VERSION), *sctx = tls_ctx(true, TLS1_2_VERSION);
	SSL *s1, *s2, *c1 = handshake(cctx, sctx, NULL, &s1), *c2;
	SSL_SESSION *sess = SSL_get1_session(c1);
	unsigned char first[CL_CB_MAX], second[CL_CB_MAX];

	(void)state;
	assert_false(SSL_session_reused(c1));
	binding_matches(c1, s1, 12);
	c2 = handshake(cctx, sctx, sess, &s2);
	assert_true(SSL_session_reused(c2));
	binding_matches(c2, s2, 12);
	assert_int_equal(cl_chanbind(c1, first), 12);
	assert_int_equal(cl_chanbind(c2, second), 12);
	assert_memory_not_equal(first, second, 12);
	SSL_SESSION_free(sess);
	SSL_free(c1);
	SSL_free(s1);
	SSL_free(c2);
	SSL_free(s2);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

/* tls-exporter on TLS 1.3 (CB-01, CB-05). */
static void
chanbind_tls13_CB_05(void **state)
{
	SSL_CTX *cctx = tls_ctx(false, TLS1_3_VERSION), *sctx = tls_ctx(true, TLS1_3_VERSION);
	SSL *s, *c = handshake(cctx, sctx, NULL, &s);
	SSL *fresh = SSL_new(cctx);
	unsigned char v[CL_CB_MAX];

	(void)state;
	binding_matches(c, s, 32);
	assert_int_equal(cl_chanbind(fresh, v), 0);
	SSL_free(fresh);
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

/* Let the server ask for renegotiation; pump both ends. */
static void
server_renegotiates(SSL *c, SSL *s)
{
	unsigned char buf[16];

	assert_int_equal(SSL_renegotiate(s), 1);
	for (int i = 0; i < 10; i++) {
		SSL_do_handshake(s);
		SSL_read(c, buf, sizeof(buf));
		SSL_read(s, buf, sizeof(buf));
	}
	ERR_clear_error();
}

/* The client refuses renegotiation (EST-G-07): its binding stays that of
 * the first handshake, where an unhardened client's changes. */
static void
renegotiation_refused_EST_G_07(void **state)
{
	SSL_CTX *plain = tls_ctx(false, TLS1_2_VERSION), *hard = tls_ctx(false, TLS1_2_VERSION);
	SSL_CTX *sctx = tls_ctx(true, TLS1_2_VERSION);
	unsigned char before[CL_CB_MAX], after[CL_CB_MAX];
	SSL *s, *c;
	size_t n;

	(void)state;
	assert_true(cl_tls_setup(hard, false));
	c = handshake(plain, sctx, NULL, &s);
	assert_int_equal(cl_chanbind(c, before), 12);
	server_renegotiates(c, s);
	assert_int_equal(cl_chanbind(c, after), 12);
	assert_memory_not_equal(before, after, 12);   /* the control: it did renegotiate */
	SSL_free(c);
	SSL_free(s);
	c = handshake(hard, sctx, NULL, &s);
	assert_int_equal(cl_chanbind(c, before), 12);
	server_renegotiates(c, s);
	/* No second handshake: the first one's value, or none at all. */
	n = cl_chanbind(c, after);
	assert_true(n == 0 || (n == 12 && memcmp(before, after, 12) == 0));
	assert_int_equal(SSL_is_init_finished(s) && !SSL_renegotiate_pending(s), 0);
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(plain);
	SSL_CTX_free(hard);
	SSL_CTX_free(sctx);
}

/* ---- Retry-After (EST-C-71) ---- */

static void
retry_after_EST_C_71(void **state)
{
	char date[64];
	time_t later = time(NULL) + 120;
	struct tm tm;
	long got;

	(void)state;
	assert_int_equal(cl_retry_after("5"), 5);
	assert_int_equal(cl_retry_after("0"), 0);     /* now: not the 60 s of "absent" */
	assert_int_equal(cl_retry_after(""), -1);
	assert_int_equal(cl_retry_after(NULL), -1);
	assert_int_equal(cl_retry_after("5s"), -1);
	assert_int_equal(cl_retry_after("soon"), -1);
	gmtime_r(&later, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	got = cl_retry_after(date);
	assert_true(got >= 118 && got <= 120);
	/* The two obsolete forms a recipient must accept (RFC 9110 §5.6.7). */
	strftime(date, sizeof(date), "%A, %d-%b-", &tm);
	snprintf(date + strlen(date), sizeof(date) - strlen(date), "%02d", tm.tm_year % 100);
	strftime(date + strlen(date), sizeof(date) - strlen(date), " %H:%M:%S GMT", &tm);
	got = cl_retry_after(date);
	assert_true(got >= 118 && got <= 120);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	got = cl_retry_after(date);
	assert_true(got >= 118 && got <= 120);
	assert_int_equal(cl_retry_after("Sunday, 06-Nov-94 08:49:37 GMT"), 0);
	assert_int_equal(cl_retry_after("Sun Nov  6 08:49:37 1994"), 0);
	assert_int_equal(cl_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), 0);
	assert_int_equal(cl_retry_after("Wed, 21 Oct 2015 07:28:00 PST"), -1);
	/* Far dates read as absent, like a delta of a year or more: once they wrapped
	 * around to a few seconds (2163 is about 2^32 s from now). */
	assert_int_equal(cl_retry_after("31536000"), -1);
	assert_int_equal(cl_retry_after("Fri, 31 Dec 9999 23:59:59 GMT"), -1);
	assert_int_equal(cl_retry_after("Sun, 01 Jan 2163 00:00:00 GMT"), -1);
}

/* ---- DER and PEM helpers ---- */

static void
export_round_trip(void **state)
{
	STACK_OF(X509) *certs = sk_X509_new_null(), *back = NULL;
	struct est_error e = { 0 };
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *key;
	char *out = NULL;
	size_t len = 0, dlen = 0;

	(void)state;
	sk_X509_push(certs, ec_cert);
	assert_int_equal(est_certs_p7_b64(certs, &out, &len, &e), EST_OK);
	assert_true(strchr(out, '\n') != NULL && strlen(strtok(out, "\n")) == 64);
	free(out);
	assert_int_equal(est_certs_p7_b64(certs, &out, &len, &e), EST_OK);
	assert_int_equal(est_b64_decode(out, len, &der, &dlen, &e), EST_OK);
	assert_int_equal(est_certs_only_decode(der, dlen, &back, &e), EST_OK);
	assert_int_equal(X509_cmp(sk_X509_value(back, 0), ec_cert), 0);
	free(out);
	free(der);
	sk_X509_pop_free(back, X509_free);

	assert_int_equal(est_certs_pem(certs, &out, &len, &e), EST_OK);
	assert_non_null(strstr(out, "-----BEGIN CERTIFICATE-----"));
	free(out);
	assert_int_equal(est_key_pem(ec_key, &out, &len, &e), EST_OK);
	assert_non_null(strstr(out, "-----BEGIN PRIVATE KEY-----"));
	free(out);
	assert_int_equal(est_key_pkcs8_b64(ec_key, &out, &len, &e), EST_OK);
	assert_null(strstr(out, "-----"));
	assert_int_equal(est_b64_decode(out, len, &der, &dlen, &e), EST_OK);
	p = der;
	key = d2i_AutoPrivateKey(NULL, &p, (long)dlen);
	assert_non_null(key);
	assert_int_equal(EVP_PKEY_eq(key, ec_key), 1);
	EVP_PKEY_free(key);
	free(der);
	free(out);
	sk_X509_free(certs);
}

/* ---- the server URL (EST-C-01) ---- */

static enum est_err
base_of(const struct est_client_config *cfg, char *out, size_t len)
{
	struct est_client *c = NULL;
	struct est_error e = { 0 };
	enum est_err rc = est_client_new(cfg, &c, &e);

	if (rc == EST_OK)
		snprintf(out, len, "%s", est_client_base_url(c));
	else
		assert_true(e.msg[0] != '\0');
	est_client_free(c);
	return rc;
}

static void
server_url_EST_C_01(void **state)
{
	static const struct { const char *url, *want; } ok[] = {
		{ "https://est.example", "https://est.example:443/.well-known/est" },
		{ "https://est.example:8443/", "https://est.example:8443/.well-known/est" },
		{ "https://est.example:8443/.well-known/est", "https://est.example:8443/.well-known/est" },
		{ "HTTPS://est.example/.well-known/est/L1/", "https://est.example:443/.well-known/est/L1" },
		{ "https://[::1]:8443/.well-known/est/x", "https://[::1]:8443/.well-known/est/x" },
	};
	static const char *const bad[] = {
		"http://est.example/.well-known/est", "https://est.example/other",
		"https://est.example/.well-known/est/a/b", "https://est.example/.well-known/est/cacerts",
		"https://est.example/.well-known/estx", "https://est.example/?q=1", "not a url",
	};
	struct est_client_config cfg = { 0 };
	char base[256];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cfg.url = ok[i].url;
		assert_int_equal(base_of(&cfg, base, sizeof(base)), EST_OK);
		assert_string_equal(base, ok[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.url = bad[i];
		assert_int_equal(base_of(&cfg, base, sizeof(base)), EST_ERR_CONFIG);
	}
	cfg = (struct est_client_config){ .host = "10.0.0.1", .port = 8442, .label = "est" };
	assert_int_equal(base_of(&cfg, base, sizeof(base)), EST_OK);
	assert_string_equal(base, "https://10.0.0.1:8442/.well-known/est/est");
	cfg.label = "simpleenroll";  /* EST-S-04 */
	assert_int_equal(base_of(&cfg, base, sizeof(base)), EST_ERR_CONFIG);
	cfg.label = "a/b";
	assert_int_equal(base_of(&cfg, base, sizeof(base)), EST_ERR_CONFIG);
	cfg = (struct est_client_config){ .host = "h", .user = "u" };  /* user without password */
	assert_int_equal(base_of(&cfg, base, sizeof(base)), EST_ERR_CONFIG);
	cfg = (struct est_client_config){ .host = "h", .bootstrap = true, .user = "u", .password = "p" };
	assert_int_equal(base_of(&cfg, base, sizeof(base)), EST_ERR_CONFIG);
	cfg = (struct est_client_config){ .host = "h", .url = "https://h" };
	assert_int_equal(base_of(&cfg, base, sizeof(base)), EST_ERR_CONFIG);
}

/* HTTP credentials only with an explicit trust anchor, or TLS-SRP (EST-C-26). */
static void
implicit_ta_no_credentials_EST_C_26(void **state)
{
	STACK_OF(X509) *tas = sk_X509_new_null();
	struct est_client_config cfg;
	char base[256];

	(void)state;
	assert_non_null(tas);
	assert_true(sk_X509_push(tas, ec_cert) > 0);
	cfg = (struct est_client_config){ .host = "h", .user = "u", .password = "p" };
	assert_int_equal(base_of(&cfg, base, sizeof(base)), EST_ERR_CONFIG);
	cfg = (struct est_client_config){ .host = "h", .bearer_token = "t" };
	assert_int_equal(base_of(&cfg, base, sizeof(base)), EST_ERR_CONFIG);
	cfg = (struct est_client_config){ .host = "h" };
	assert_int_equal(base_of(&cfg, base, sizeof(base)), EST_OK);
	cfg = (struct est_client_config){ .host = "h", .trust_anchors = tas, .user = "u",
	    .password = "p", .bearer_token = "t" };
	assert_int_equal(base_of(&cfg, base, sizeof(base)), EST_OK);
	cfg = (struct est_client_config){ .host = "h", .srp_user = "s", .srp_password = "sp",
	    .user = "u", .password = "p" };
	assert_int_equal(base_of(&cfg, base, sizeof(base)), EST_OK);
	sk_X509_free(tas);
}

/* A self-signed end-entity certificate for ec_key, with an SKI and no keyUsage. */
static X509 *
leaf_cert(void)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ski;

	if (x == NULL || !X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
	    (const unsigned char *)"test", -1, -1, 0) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(x)) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 3600) == NULL || !X509_set_pubkey(x, ec_key))
		return NULL;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ski = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
	if (ski == NULL || !X509_add_ext(x, ski, -1) || X509_sign(x, ec_key, EVP_sha256()) <= 0) {
		X509_EXTENSION_free(ski);
		X509_free(x);
		return NULL;
	}
	X509_EXTENSION_free(ski);
	return x;
}

static int
setup(void **state)
{
	struct est_error e = { 0 };

	(void)state;
	if (est_key_generate("ec:P-256", &ec_key, &e) != EST_OK ||
	    est_key_generate("ed25519", &ed_key, &e) != EST_OK)
		return -1;
	return (ec_cert = leaf_cert()) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(ed_key);
	X509_free(ec_cert);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(media_type_forms_EST_G_13),
		cmocka_unit_test(media_type_bad),
		cmocka_unit_test(multipart_crlf_EST_S_69),
		cmocka_unit_test(multipart_lenient_EST_C_60),
		cmocka_unit_test(multipart_edges),
		cmocka_unit_test(csrattrs_rfc_example_EST_S_93),
		cmocka_unit_test(csrattrs_understood_EST_C_62),
		cmocka_unit_test(csrattrs_bad),
		cmocka_unit_test(csr_build_binding_EST_C_40),
		cmocka_unit_test(csr_build_attrs_EST_C_63),
		cmocka_unit_test(csr_build_decrypt_key_id_EST_S_67),
		cmocka_unit_test(chanbind_tls12_EST_S_35),
		cmocka_unit_test(chanbind_tls13_CB_05),
		cmocka_unit_test(renegotiation_refused_EST_G_07),
		cmocka_unit_test(retry_after_EST_C_71),
		cmocka_unit_test(export_round_trip),
		cmocka_unit_test(server_url_EST_C_01),
		cmocka_unit_test(implicit_ta_no_credentials_EST_C_26),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
