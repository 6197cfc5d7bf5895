/*
 * A server-generated private key must not outlive its request in memory
 * that OpenSSL frees (docs/serverkeygen.md, "The key never stored or
 * logged"). This program installs an allocator that, whenever OpenSSL
 * frees or moves a block, looks in it for a marker; the marker stands in
 * for the key package that /serverkeygen signs and encrypts, and must be
 * found in no freed block once the caller has cleansed what it was given.
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

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "estkit/ca.h"
#include "estkit/codec.h"

#define HDR 16

static unsigned char marker[24];
static bool watching;
static int residues;

/* Whether the marker occurs in p[0..n). */
static bool
holds_marker(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i + sizeof(marker) <= n; i++)
		if (p[i] == marker[0] && memcmp(p + i, marker, sizeof(marker)) == 0)
			return true;
	return false;
}

static void *
sized_malloc(size_t n, const char *file, int line)
{
	unsigned char *b = malloc(n + HDR);

	(void)file;
	(void)line;
	if (b == NULL)
		return NULL;
	memcpy(b, &n, sizeof(n));
	return b + HDR;
}

/* Count a block about to be given back that still holds the marker. */
static void
inspect(unsigned char *b)
{
	size_t n;

	memcpy(&n, b, sizeof(n));
	if (watching && holds_marker(b + HDR, n))
		residues++;
}

static void
sized_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	if (p == NULL)
		return;
	inspect((unsigned char *)p - HDR);
	free((unsigned char *)p - HDR);
}

/* Always moves, so a grown buffer's old copy is inspected too. */
static void *
sized_realloc(void *p, size_t n, const char *file, int line)
{
	unsigned char *q;
	size_t old;

	if (p == NULL)
		return sized_malloc(n, file, line);
	if ((q = sized_malloc(n, file, line)) == NULL)
		return NULL;
	memcpy(&old, (unsigned char *)p - HDR, sizeof(old));
	memcpy(q, p, old < n ? old : n);
	sized_free(p, file, line);
	return q;
}

static char dir[64];
static struct est_ca *ca;
static STACK_OF(X509) *trust;

static int
setup(void **state)
{
	struct est_error e = { 0 };
	char kpath[96], cpath[96];
	EVP_PKEY *ca_key = NULL;
	X509 *root = NULL;
	int rc = -1;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/estkit-residue.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(kpath, sizeof(kpath), "%s/ca.key", dir);
	snprintf(cpath, sizeof(cpath), "%s/ca.pem", dir);
	if (est_key_generate("ec:P-256", &ca_key, &e) == EST_OK &&
	    est_ca_make_root(ca_key, "Residue CA", 30, &root, &e) == EST_OK &&
	    est_key_write(kpath, ca_key, &e) == EST_OK && est_cert_write(cpath, root, &e) == EST_OK &&
	    est_ca_load("Residue", cpath, kpath, NULL, &ca, &e) == EST_OK &&
	    (trust = sk_X509_new_null()) != NULL && sk_X509_push(trust, root)) {
		root = NULL;
		rc = 0;
	}
	EVP_PKEY_free(ca_key);
	X509_free(root);
	return rc;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	est_ca_free(ca);
	sk_X509_pop_free(trust, X509_free);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A key-package-sized content with the marker in its middle. */
static void
make_content(unsigned char *content, size_t len)
{
	assert_int_equal(RAND_bytes(marker, sizeof(marker)), 1);
	memset(content, 0x5a, len);
	memcpy(content + len / 2, marker, sizeof(marker));
}

/* The CA's SignedData around a key package (lib/ca/sign.c). */
static void
signed_package_cleansed(void **state)
{
	struct est_error e = { 0 };
	unsigned char content[1200], *der = NULL;
	size_t derlen = 0;

	(void)state;
	make_content(content, sizeof(content));
	residues = 0;
	watching = true;
	assert_int_equal(est_ca_sign_content(ca, EST_OID_KEY_PACKAGE, content, sizeof(content),
	    &der, &derlen, &e), EST_OK);
	assert_true(holds_marker(der, derlen));
	OPENSSL_clear_free(der, derlen);
	watching = false;
	assert_int_equal(residues, 0);
}

/* The EnvelopedData around it, for a shared key (lib/codec/keypkg.c). */
static void
envelope_cleansed(void **state)
{
	static const unsigned char kek[32] = { 1, 2, 3 }, kek_id[4] = { 0xde, 0xad, 0xbe, 0xef };
	struct est_key_recipient rcpt = { .kek = kek, .kek_len = sizeof(kek), .kek_id = kek_id,
		.kek_id_len = sizeof(kek_id) };
	struct est_error e = { 0 };
	unsigned char content[1200], *der = NULL;
	size_t derlen = 0;

	(void)state;
	make_content(content, sizeof(content));
	residues = 0;
	watching = true;
	assert_int_equal(est_keypkg_envelope(content, sizeof(content), &rcpt, &der, &derlen, &e),
	    EST_OK);
	assert_false(holds_marker(der, derlen));
	OPENSSL_clear_free(der, derlen);
	watching = false;
	assert_int_equal(residues, 0);
}

/*
 * The client's side (lib/codec/keypkg_open.c): a package whose second
 * OneAsymmetricKey holds the marker, opened. The first is a real key,
 * which OpenSSL's own decoder reads (and leaves copies of, out of our hands).
 */
static void
opened_package_cleansed(void **state)
{
	static const unsigned char kek[32] = { 9, 8, 7 }, kek_id[2] = { 0x01, 0x02 };
	struct est_key_recipient rcpt = { .kek = kek, .kek_len = sizeof(kek), .kek_id = kek_id,
		.kek_id_len = sizeof(kek_id) };
	struct est_error e = { 0 };
	unsigned char pkg[512], *p8 = NULL, *sd = NULL, *env = NULL;
	size_t p8len = 0, sdlen = 0, envlen = 0, n = 0;
	EVP_PKEY *key = NULL, *opened = NULL;

	(void)state;
	assert_int_equal(RAND_bytes(marker, sizeof(marker)), 1);
	assert_int_equal(est_key_generate("ec:P-256", &key, &e), EST_OK);
	assert_int_equal(est_pkcs8_encode(key, &p8, &p8len, &e), EST_OK);
	/* SEQUENCE { PKCS#8, SEQUENCE { OCTET STRING marker } }, its length in one octet. */
	assert_true(p8len + 4 + sizeof(marker) < 256);
	pkg[n++] = 0x30;
	pkg[n++] = 0x81;
	pkg[n++] = (unsigned char)(p8len + 4 + sizeof(marker));
	memcpy(pkg + n, p8, p8len);
	n += p8len;
	pkg[n++] = 0x30;
	pkg[n++] = 2 + sizeof(marker);
	pkg[n++] = 0x04;
	pkg[n++] = sizeof(marker);
	memcpy(pkg + n, marker, sizeof(marker));
	n += sizeof(marker);
	OPENSSL_clear_free(p8, p8len);
	assert_int_equal(est_ca_sign_content(ca, EST_OID_KEY_PACKAGE, pkg, n, &sd, &sdlen, &e), EST_OK);
	assert_int_equal(est_keypkg_envelope(sd, sdlen, &rcpt, &env, &envlen, &e), EST_OK);
	OPENSSL_clear_free(sd, sdlen);
	residues = 0;
	watching = true;
	assert_int_equal(est_keypkg_open(env, envlen, &rcpt, trust, &opened, NULL, &e), EST_OK);
	watching = false;
	assert_int_equal(EVP_PKEY_eq(opened, key), 1);
	OPENSSL_free(env);
	EVP_PKEY_free(opened);
	EVP_PKEY_free(key);
	assert_int_equal(residues, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(signed_package_cleansed),
		cmocka_unit_test(envelope_cleansed),
		cmocka_unit_test(opened_package_cleansed),
	};

	/* Before anything else: OpenSSL refuses a new allocator once it has allocated. */
	if (!CRYPTO_set_mem_functions(sized_malloc, sized_realloc, sized_free)) {
		fprintf(stderr, "cannot install the inspecting allocator\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
