/*
 * Unit tests for what a client accepts from a server (lib/client/trust.c):
 * /cacerts bags with and without the RFC 7030 §4.1.3 rollover certificates
 * (EST-C-10, EST-C-12), issued certificates (EST-C-52), fingerprints
 * (EST-C-15). Keys and certificates are made here; no network, no files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "estkit/ca.h"
#include "estkit/client.h"

static EVP_PKEY *k_old, *k_new, *k_int, *k_ee, *k_other;
static X509 *owo, *nwn, *own, *nwo, *int_old, *ee, *unrelated;

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(ext);
	assert_true(X509_add_ext(x, ext, -1));
	X509_EXTENSION_free(ext);
}

/* A certificate: cn, key; issuer (NULL: self) signs with ikey; days of life. */
static X509 *
make(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, bool ca, long days)
{
	static long serial = 1;
	X509 *x = X509_new();

	assert_non_null(x);
	assert_true(X509_set_version(x, X509_VERSION_3));
	assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++));
	assert_true(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0));
	assert_true(X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) :
	    X509_get_subject_name(x)));
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -60));
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL));
	assert_true(X509_set_pubkey(x, key));
	add_ext(x, issuer, NID_subject_key_identifier, "hash");
	if (ca) {
		add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
	}
	assert_true(X509_sign(x, issuer != NULL ? ikey : key, EVP_sha256()) > 0);
	return x;
}

static STACK_OF(X509) *
stack(X509 *first, ...)
{
	STACK_OF(X509) *s = sk_X509_new_null();
	va_list ap;

	assert_non_null(s);
	va_start(ap, first);
	for (X509 *x = first; x != NULL; x = va_arg(ap, X509 *))
		assert_true(sk_X509_push(s, x));
	va_end(ap);
	return s;
}

static enum est_err
validate(STACK_OF(X509) *bag, STACK_OF(X509) *anchors, X509 **root)
{
	STACK_OF(X509) *roots = NULL;
	struct est_error e = { 0 };
	enum est_err rc = est_cacerts_validate(bag, anchors, &roots, &e);

	if (rc == EST_OK) {
		assert_true(sk_X509_num(roots) >= 1);
		*root = sk_X509_value(roots, 0);
	}
	sk_X509_pop_free(roots, X509_free);
	return rc;
}

/* A full rollover bag: the current root is NwN; old-key certificates still chain. */
static void
rollover_bag_EST_C_10(void **state)
{
	STACK_OF(X509) *bag = stack(owo, own, nwo, nwn, int_old, NULL);
	STACK_OF(X509) *anchors = stack(nwn, NULL), *chain = NULL;
	struct est_cert_expect want = { .key = k_ee, .any_names = true };
	struct est_error e = { 0 };
	X509 *root = NULL;

	(void)state;
	assert_int_equal(validate(bag, NULL, &root), EST_OK);
	assert_int_equal(X509_cmp(root, nwn), 0);
	/* An end entity under the old key verifies to NwN through OldWithNew. */
	assert_int_equal(est_cert_validate(ee, bag, anchors, &want, &chain, &e), EST_OK);
	assert_true(sk_X509_num(chain) >= 3);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_free(bag);
	sk_X509_free(anchors);
}

/* An old root without its OldWithNew link, and an unrelated root, are refused. */
static void
unrelated_roots_EST_C_12(void **state)
{
	STACK_OF(X509) *no_link = stack(owo, nwo, nwn, NULL);
	STACK_OF(X509) *stray = stack(nwn, unrelated, NULL);
	STACK_OF(X509) *rogue_int = stack(nwn, int_old, NULL);  /* int_old needs OldWithNew */
	struct est_error e = { 0 };

	(void)state;
	assert_int_equal(est_cacerts_validate(no_link, NULL, NULL, &e), EST_ERR_SERVER);
	assert_non_null(strstr(e.msg, "unrelated"));
	assert_int_equal(est_cacerts_validate(stray, NULL, NULL, &e), EST_ERR_SERVER);
	assert_int_equal(est_cacerts_validate(rogue_int, NULL, NULL, &e), EST_ERR_SERVER);
	assert_non_null(strstr(e.msg, "does not verify"));
	sk_X509_free(no_link);
	sk_X509_free(stray);
	sk_X509_free(rogue_int);
}

/* A NewWithOld that does not verify under the old root is refused. */
static void
forged_new_with_old_EST_C_12(void **state)
{
	X509 *forged = make("New Root", k_new, owo, k_other, true, 30);
	STACK_OF(X509) *bag = stack(owo, own, forged, nwn, NULL);
	struct est_error e = { 0 };

	(void)state;
	assert_int_equal(est_cacerts_validate(bag, NULL, NULL, &e), EST_ERR_SERVER);
	assert_non_null(strstr(e.msg, "NewWithOld"));
	sk_X509_free(bag);
	X509_free(forged);
}

/* With a trust anchor the bag must chain to it: the old root, through NewWithOld. */
static void
anchored_bag_EST_C_12(void **state)
{
	STACK_OF(X509) *bag = stack(owo, own, nwo, nwn, NULL);
	STACK_OF(X509) *bare = stack(owo, own, nwn, NULL);
	STACK_OF(X509) *old_ta = stack(owo, NULL), *other_ta = stack(unrelated, NULL);
	X509 *root = NULL;

	(void)state;
	assert_int_equal(validate(bag, old_ta, &root), EST_OK);
	assert_int_equal(X509_cmp(root, nwn), 0);
	/* A copy of the old root proves nothing: NewWithOld is what links them. */
	assert_int_equal(validate(bare, old_ta, &root), EST_ERR_SERVER);
	assert_int_equal(validate(bag, other_ta, &root), EST_ERR_SERVER);
	sk_X509_free(bag);
	sk_X509_free(bare);
	sk_X509_free(old_ta);
	sk_X509_free(other_ta);
}

/*
 * A trust-anchor file of root and intermediate: a server that puts the
 * intermediate under a root of its own (through a certificate for the real
 * root's key it signs itself) has not linked its root to the anchors. With
 * only the intermediate pinned, the root above it is taken.
 */
static void
anchored_intermediate_EST_C_12(void **state)
{
	X509 *cross = make("Old Root", k_old, unrelated, k_other, true, 20);
	STACK_OF(X509) *forged = stack(unrelated, cross, int_old, NULL);
	STACK_OF(X509) *real = stack(owo, int_old, NULL);
	STACK_OF(X509) *bundle = stack(owo, int_old, NULL), *int_only = stack(int_old, NULL);
	X509 *root = NULL;

	(void)state;
	assert_int_equal(validate(forged, bundle, &root), EST_ERR_SERVER);
	assert_int_equal(validate(real, bundle, &root), EST_OK);
	assert_int_equal(X509_cmp(root, owo), 0);
	assert_int_equal(validate(real, int_only, &root), EST_OK);
	assert_int_equal(X509_cmp(root, owo), 0);
	sk_X509_free(forged);
	sk_X509_free(real);
	sk_X509_free(bundle);
	sk_X509_free(int_only);
	X509_free(cross);
}

/* What an issued certificate must be (EST-C-52). */
static void
issued_cert_EST_C_52(void **state)
{
	STACK_OF(X509) *anchors = stack(nwn, NULL), *untrusted = stack(own, int_old, NULL);
	X509 *ca_leaf = make("device", k_ee, int_old, k_int, true, 10);
	X509 *expired = make("device", k_ee, int_old, k_int, false, -1);
	X509 *rogue = make("device", k_ee, unrelated, k_other, false, 10);
	X509_NAME *asked = X509_NAME_new();
	struct est_cert_expect want = { .key = k_ee, .any_names = true };
	struct est_error e = { 0 };

	(void)state;
	assert_int_equal(est_cert_validate(ca_leaf, untrusted, anchors, &want, NULL, &e),
	    EST_ERR_SERVER);
	assert_non_null(strstr(e.msg, "CA certificate"));
	assert_int_equal(est_cert_validate(expired, untrusted, anchors, &want, NULL, &e),
	    EST_ERR_SERVER);
	assert_int_equal(est_cert_validate(rogue, untrusted, anchors, &want, NULL, &e),
	    EST_ERR_SERVER);
	want.key = k_other;
	assert_int_equal(est_cert_validate(ee, untrusted, anchors, &want, NULL, &e), EST_ERR_SERVER);
	assert_non_null(strstr(e.msg, "another key"));
	want.key = k_ee;
	want.any_names = false;
	assert_true(X509_NAME_add_entry_by_txt(asked, "CN", MBSTRING_ASC,
	    (const unsigned char *)"other", -1, -1, 0));
	want.subject = asked;
	assert_int_equal(est_cert_validate(ee, untrusted, anchors, &want, NULL, &e), EST_ERR_SERVER);
	assert_non_null(strstr(e.msg, "CN=other"));
	want.subject = X509_get_subject_name(ee);
	assert_int_equal(est_cert_validate(ee, untrusted, anchors, &want, NULL, &e), EST_OK);
	/* The helpers are not anchors: without NwN nothing verifies. */
	assert_int_equal(est_cert_validate(ee, untrusted, untrusted, &want, NULL, &e),
	    EST_ERR_SERVER);
	X509_NAME_free(asked);
	X509_free(ca_leaf);
	X509_free(expired);
	X509_free(rogue);
	sk_X509_free(anchors);
	sk_X509_free(untrusted);
}

static void
fingerprint_EST_C_15(void **state)
{
	unsigned char md[32];
	unsigned n = 0;
	char spec[128] = "SHA256:";
	struct est_error e = { 0 };
	bool match = false;

	(void)state;
	assert_true(X509_digest(nwn, EVP_sha256(), md, &n));
	for (unsigned i = 0; i < n; i++)
		snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec), "%02x%s", md[i],
		    i + 1 < n ? ":" : "");
	assert_int_equal(est_cert_fingerprint_match(nwn, spec, &match, &e), EST_OK);
	assert_true(match);
	assert_int_equal(est_cert_fingerprint_match(owo, spec, &match, &e), EST_OK);
	assert_false(match);
	assert_int_equal(est_cert_fingerprint_match(nwn, "sha256:abcd", &match, &e), EST_ERR_CONFIG);
	assert_int_equal(est_cert_fingerprint_match(nwn, "md5:abcd", &match, &e), EST_ERR_CONFIG);
	assert_int_equal(est_cert_fingerprint_match(nwn, "abcd", &match, &e), EST_ERR_CONFIG);
}

static EVP_PKEY *
key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	assert_non_null(k);
	return k;
}

static int
setup(void **state)
{
	(void)state;
	k_old = key();
	k_new = key();
	k_int = key();
	k_ee = key();
	k_other = key();
	owo = make("Old Root", k_old, NULL, NULL, true, 20);
	nwn = make("New Root", k_new, NULL, NULL, true, 40);
	own = make("Old Root", k_old, nwn, k_new, true, 20);
	nwo = make("New Root", k_new, owo, k_old, true, 20);
	int_old = make("Issuing CA", k_int, owo, k_old, true, 15);
	ee = make("device", k_ee, int_old, k_int, false, 10);
	unrelated = make("Unrelated Root", k_other, NULL, NULL, true, 50);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	X509_free(owo);
	X509_free(nwn);
	X509_free(own);
	X509_free(nwo);
	X509_free(int_old);
	X509_free(ee);
	X509_free(unrelated);
	EVP_PKEY_free(k_old);
	EVP_PKEY_free(k_new);
	EVP_PKEY_free(k_int);
	EVP_PKEY_free(k_ee);
	EVP_PKEY_free(k_other);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rollover_bag_EST_C_10),
		cmocka_unit_test(unrelated_roots_EST_C_12),
		cmocka_unit_test(forged_new_with_old_EST_C_12),
		cmocka_unit_test(anchored_bag_EST_C_12),
		cmocka_unit_test(anchored_intermediate_EST_C_12),
		cmocka_unit_test(issued_cert_EST_C_52),
		cmocka_unit_test(fingerprint_EST_C_15),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
