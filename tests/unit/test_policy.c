/*
 * Unit tests for lib/server/policy.c: the issuance decision as a table of
 * principal x CSR x alias rules -> decision (or refusal and its reason).
 * No socket and no store: certificates are built here, the owner of names
 * is a fixed table (dev-b owns "CN=dev-b,O=Victim").
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "config/rules.h"
#include "estkit/codec.h"
#include "server/policy.h"

#define DAY 86400

static EVP_PKEY *p256, *explicit_key;
static struct est_ee ee_a = { .id = 1, .username = "dev-a", .code_hash = "hash-a", .profile = "" };

/* ---- building blocks ---- */

static EVP_PKEY *
make_explicit_p256(void)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	OSSL_PARAM params[3];
	EVP_PKEY *key = NULL;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING,
	    OSSL_PKEY_EC_ENCODING_EXPLICIT, 0);
	params[2] = OSSL_PARAM_construct_end();
	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_params(ctx, params), 1);
	assert_int_equal(EVP_PKEY_generate(ctx, &key), 1);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static X509_NAME *
dn(const char *text)
{
	struct est_error e = { 0 };
	X509_NAME *n = NULL;

	assert_int_equal(est_name_parse(text, &n, &e), EST_OK);
	return n;
}

/* OpenSSL's own SAN syntax ("DNS:a,IP:1.2.3.4,otherName:..."), so every type can be written. */
static X509_EXTENSION *
san_ext(const char *text)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, (char *)text);

	assert_non_null(ext);
	return ext;
}

static X509_REQ *
mkcsr(const char *subject, const char *san, EVP_PKEY *key)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *n = dn(subject);

	assert_non_null(req);
	assert_int_equal(X509_REQ_set_subject_name(req, n), 1);
	assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
	if (san != NULL) {
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();

		sk_X509_EXTENSION_push(exts, san_ext(san));
		assert_int_equal(X509_REQ_add_extensions(req, exts), 1);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return req;
}

/* A certificate as the client presents it (the policy does not verify chains). */
static X509 *
mkcert(const char *subject, const char *san, bool ra, long days)
{
	X509 *c = X509_new();
	X509_NAME *n = dn(subject);

	assert_non_null(c);
	X509_set_version(c, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(c), 0x1234);
	X509_set_subject_name(c, n);
	X509_set_issuer_name(c, n);
	X509_gmtime_adj(X509_getm_notBefore(c), -DAY);
	X509_gmtime_adj(X509_getm_notAfter(c), days * DAY);
	X509_set_pubkey(c, p256);
	if (san != NULL) {
		X509_EXTENSION *ext = san_ext(san);

		X509_add_ext(c, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (ra) {
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage,
		    "clientAuth,cmcRA");

		assert_non_null(ext);
		X509_add_ext(c, ext, -1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(c, p256, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return c;
}

/* The owners of names: dev-b holds "CN=dev-b,O=Victim" and DNS:dev-b.example. */
static enum est_err
owner(void *arg, const X509_NAME *subject, const GENERAL_NAMES *san, int64_t self,
    int64_t *ee_id, char *who, size_t wholen, struct est_error *e)
{
	X509_NAME *victim = dn("CN=dev-b,O=Victim");
	char *text = est_san_text(san);

	(void)arg;
	(void)e;
	*ee_id = 0;
	if (self != 2 && (est_name_equal_unordered(subject, victim) ||
	    (text != NULL && strstr(text, "DNS:dev-b.example") != NULL))) {
		*ee_id = 2;
		snprintf(who, wholen, "dev-b");
	}
	free(text);
	X509_NAME_free(victim);
	return EST_OK;
}

/* ---- the table ---- */

struct policy_case {
	const char *name;
	enum policy_op op;
	enum policy_principal_kind who;
	const char *cert_subject, *cert_san;  /* CERT/RA, and the renewed certificate */
	long cert_days;                       /* its remaining life */
	const char *csr_subject, *csr_san;
	bool explicit_key;
	const char *rule[2];                  /* "key=value" applied to the alias */
	unsigned renew_window;
	bool revoke_replaced, no_copy_san;
	enum est_err want;
	const char *want_text;                /* the reason, or "SUBJECT|SAN" issued */
	int64_t want_ee;
};

static const struct policy_case cases[] = {
	{ "user: ordinary names", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", "DNS:box.acme.org,IP:10.1.2.3,email:ops@acme.org", false, { 0 }, 0,
	    false, false, EST_OK, "CN=box.acme.org|DNS:box.acme.org, IP:10.1.2.3, email:ops@acme.org", 0 },
	{ "user: wildcard dNSName", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", "DNS:*.example.com", false, { 0 }, 0, false, false,
	    EST_ERR_FORBIDDEN, "wildcards are refused", 0 },
	{ "user: wildcards allowed", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", "DNS:*.example.com", false, { "allow-wildcards=yes" }, 0, false,
	    false, EST_OK, "CN=box.acme.org|DNS:*.example.com", 0 },
	{ "user: loopback address", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", "IP:127.0.0.1", false, { 0 }, 0, false, false,
	    EST_ERR_FORBIDDEN, "127.0.0.1 is refused", 0 },
	{ "user: unspecified IPv6 address", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", "IP:::", false, { 0 }, 0, false, false,
	    EST_ERR_FORBIDDEN, ":: is refused", 0 },
	{ "user: CN=localhost", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=localhost", NULL, false, { 0 }, 0, false, false,
	    EST_ERR_FORBIDDEN, "CN \"localhost\" is refused", 0 },
	{ "user: CN=127.0.0.1", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=127.0.0.1", NULL, false, { 0 }, 0, false, false,
	    EST_ERR_FORBIDDEN, "CN 127.0.0.1 is refused", 0 },
	{ "user: otherName refused by default", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", "otherName:1.3.6.1.4.1.311.20.2.3;UTF8:administrator@corp.example",
	    false, { 0 }, 0, false, false, EST_ERR_FORBIDDEN, "type otherName is not allowed", 0 },
	{ "user: otherName where listed", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", "otherName:1.3.6.1.4.1.311.20.2.3;UTF8:administrator@corp.example",
	    false, { "san-types=dns,othername" }, 0, false, false, EST_OK, "CN=box.acme.org|", 0 },
	{ "user: registeredID", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", "RID:1.2.3.4", false, { 0 }, 0, false, false,
	    EST_ERR_FORBIDDEN, "type registeredID is not allowed", 0 },
	{ "user: outside dns-names", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.other.org", "DNS:box.other.org", false, { "dns-names=*.acme.org" }, 0, false,
	    false, EST_ERR_FORBIDDEN, "outside the alias's dns-names", 0 },
	{ "user: inside dns-names, bare CN", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box7", "DNS:box7.acme.org", false, { "dns-names=*.acme.org" }, 0, false, false,
	    EST_OK, "CN=box7|DNS:box7.acme.org", 0 },
	{ "user: outside ip-ranges", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", "IP:192.168.1.1", false, { "ip-ranges=10.0.0.0/8" }, 0, false,
	    false, EST_ERR_FORBIDDEN, "outside the alias's ip-ranges", 0 },
	/*
	 * ::ffff:a.b.c.d is the IPv4 host a.b.c.d to most stacks: it is checked as
	 * that address, and a range written so as the IPv4 range.
	 */
	{ "user: IPv4-mapped loopback address", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", "IP:::ffff:127.0.0.1", false, { 0 }, 0, false, false,
	    EST_ERR_FORBIDDEN, "::ffff:127.0.0.1 is refused", 0 },
	{ "user: CN=::ffff:127.0.0.1", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=::ffff:127.0.0.1", NULL, false, { 0 }, 0, false, false,
	    EST_ERR_FORBIDDEN, "CN ::ffff:127.0.0.1 is refused", 0 },
	{ "user: IPv4-mapped, deny-ip-ranges IPv4", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", "IP:::ffff:192.168.1.1", false, { "deny-ip-ranges=192.168.0.0/16" },
	    0, false, false, EST_ERR_FORBIDDEN, "::ffff:192.168.1.1 is refused", 0 },
	{ "user: IPv4-mapped, deny-ip-ranges ::/0", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", "IP:::ffff:10.1.2.3", false, { "deny-ip-ranges=::/0" }, 0, false,
	    false, EST_ERR_FORBIDDEN, "::ffff:10.1.2.3 is refused", 0 },
	{ "user: deny-ip-ranges written IPv4-mapped", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL,
	    0, "CN=box.acme.org", "IP:192.168.1.1", false,
	    { "deny-ip-ranges=::ffff:192.168.0.0/112" }, 0, false, false, EST_ERR_FORBIDDEN,
	    "192.168.1.1 is refused", 0 },
	{ "user: IPv4-mapped inside ip-ranges", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", "IP:::ffff:10.1.2.3", false, { "ip-ranges=10.0.0.0/8" }, 0, false,
	    false, EST_OK, "CN=box.acme.org|IP:::ffff:10.1.2.3", 0 },
	{ "user: IPv4-mapped outside ip-ranges", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", "IP:::ffff:192.168.1.1", false, { "ip-ranges=10.0.0.0/8, ::/0" },
	    0, false, false, EST_ERR_FORBIDDEN, "outside the alias's ip-ranges", 0 },
	{ "user: ip-ranges written IPv4-mapped", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", "IP:10.1.2.3", false, { "ip-ranges=::ffff:10.0.0.0/104" }, 0,
	    false, false, EST_OK, "CN=box.acme.org|IP:10.1.2.3", 0 },
	{ "user: too many names", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", "DNS:a.acme.org,DNS:b.acme.org", false, { "max-sans=1" }, 0,
	    false, false, EST_ERR_FORBIDDEN, "max-sans", 0 },
	{ "user: subject-required O", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", NULL, false, { "subject-required=CN,O" }, 0, false, false,
	    EST_ERR_FORBIDDEN, "needs a O field", 0 },
	{ "user: subject-allowed CN only", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org,OU=Ops", NULL, false, { "subject-allowed=CN" }, 0, false, false,
	    EST_ERR_FORBIDDEN, "field OU is not allowed", 0 },
	{ "user: a registered DN", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=dev-b,O=Victim", NULL, false, { 0 }, 0, false, false,
	    EST_ERR_FORBIDDEN, "registered to end entity dev-b", 0 },
	{ "user: copy-san = no drops the SAN", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", "DNS:box.acme.org", false, { 0 }, 0, false, true,
	    EST_OK, "CN=box.acme.org|", 0 },
	{ "end entity: its registered names", POLICY_ENROLL, PRINCIPAL_EE, NULL, NULL, 0,
	    "CN=whatever", "DNS:evil.example", false, { 0 }, 0, false, false,
	    EST_OK, "CN=dev-a|DNS:dev-a.example", 1 },
	{ "certificate: its own names", POLICY_ENROLL, PRINCIPAL_CERT, "CN=dev-a",
	    "DNS:dev-a.example", 365, "CN=dev-a", "DNS:dev-a.example", false, { 0 }, 0, false,
	    false, EST_OK, "CN=dev-a|DNS:dev-a.example", 7 },
	{ "certificate: CN=localhost", POLICY_ENROLL, PRINCIPAL_CERT, "CN=dev-a", NULL, 365,
	    "CN=localhost", "DNS:localhost,IP:127.0.0.1", false, { 0 }, 0, false, false,
	    EST_ERR_FORBIDDEN, "may only request its own subject", 0 },
	{ "certificate: another device's DN", POLICY_ENROLL, PRINCIPAL_CERT, "CN=dev-a", NULL, 365,
	    "CN=dev-b,O=Victim", NULL, false, { 0 }, 0, false, false,
	    EST_ERR_FORBIDDEN, "may only request its own subject", 0 },
	{ "certificate: own subject, another SAN", POLICY_ENROLL, PRINCIPAL_CERT, "CN=dev-a",
	    "DNS:dev-a.example", 365, "CN=dev-a", "DNS:evil.example", false, { 0 }, 0, false,
	    false, EST_ERR_FORBIDDEN, "may only request its own subject", 0 },
	{ "RA: another subject", POLICY_ENROLL, PRINCIPAL_RA, "CN=ra1", NULL, 365,
	    "CN=sensor.acme.org", "DNS:sensor.acme.org", false, { 0 }, 0, false, false,
	    EST_OK, "CN=sensor.acme.org|DNS:sensor.acme.org", 0 },
	{ "RA: still under the name rules", POLICY_ENROLL, PRINCIPAL_RA, "CN=ra1", NULL, 365,
	    "CN=localhost", NULL, false, { 0 }, 0, false, false,
	    EST_ERR_FORBIDDEN, "CN \"localhost\" is refused", 0 },
	{ "RA: not a registered end entity's names", POLICY_ENROLL, PRINCIPAL_RA, "CN=ra1", NULL,
	    365, "CN=box.acme.org", "DNS:dev-b.example", false, { 0 }, 0, false, false,
	    EST_ERR_FORBIDDEN, "registered to end entity dev-b", 0 },
	{ "key: explicit curve parameters", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", NULL, true, { 0 }, 0, false, false,
	    EST_ERR_BADREQ, "explicit curve parameters", 0 },
	{ "key: not in key-types", POLICY_ENROLL, PRINCIPAL_USER, NULL, NULL, 0,
	    "CN=box.acme.org", NULL, false, { "key-types=ec:P-384,rsa:3072" }, 0, false, false,
	    EST_ERR_BADREQ, "(key-types)", 0 },
	{ "serverkeygen with a fixed key ignores the CSR's key", POLICY_SERVERKEYGEN,
	    PRINCIPAL_USER, NULL, NULL, 0, "CN=box.acme.org", NULL, true, { 0 }, 0, false, false,
	    EST_OK, "CN=box.acme.org|", 0 },
	{ "renewal: in the window, revoking the old", POLICY_REENROLL, PRINCIPAL_CERT, "CN=dev-a",
	    "DNS:dev-a.example", 20, "CN=dev-a", "DNS:dev-a.example", false, { 0 }, 30, true,
	    false, EST_OK, "CN=dev-a|DNS:dev-a.example", 7 },
	{ "renewal: too early", POLICY_REENROLL, PRINCIPAL_CERT, "CN=dev-a", NULL, 365,
	    "CN=dev-a", NULL, false, { 0 }, 30, false, false,
	    EST_ERR_FORBIDDEN, "too early to renew: renewal opens", 0 },
	{ "renewal: another subject", POLICY_REENROLL, PRINCIPAL_CERT, "CN=dev-a", NULL, 365,
	    "CN=dev-b", NULL, false, { 0 }, 0, false, false,
	    EST_ERR_FORBIDDEN, "differs from the certificate's", 0 },
	{ "renewal: another SAN", POLICY_REENROLL, PRINCIPAL_CERT, "CN=dev-a", "DNS:dev-a.example",
	    365, "CN=dev-a", "DNS:evil.example", false, { 0 }, 0, false, false,
	    EST_ERR_FORBIDDEN, "subjectAltName \"DNS:evil.example\" differs", 0 },
};

static void
apply_rule(struct est_alias_conf *a, const char *rule)
{
	char key[64];
	const char *eq = strchr(rule, '='), *hint = NULL;

	assert_non_null(eq);
	snprintf(key, sizeof(key), "%.*s", (int)(eq - rule), rule);
	if (strcmp(key, "allow-wildcards") == 0)
		a->names.allow_wildcards = true;
	else if (strcmp(key, "max-sans") == 0)
		a->names.max_sans = (unsigned)atoi(eq + 1);
	else
		assert_int_equal(rules_apply(a, key, eq + 1, &hint), 1);
}

static void
run_case(const struct policy_case *c)
{
	struct est_profile profile = { .name = "p", .validity_days = 365,
	    .eku = EST_EKU_CLIENT_AUTH, .copy_san = !c->no_copy_san };
	struct est_alias_conf alias = { .name = "est", .renew_same_key = true,
	    .renew_window = c->renew_window, .revoke_replaced = c->revoke_replaced,
	    .max_active = 2, .server_keygen_key = c->op == POLICY_SERVERKEYGEN ? "ec:P-256" : NULL };
	struct policy_decision d = { 0 };
	struct est_error e = { 0 };
	X509 *cert = NULL;
	X509_REQ *csr;
	char got[512];
	enum est_err rc;

	rules_defaults(&alias);
	for (size_t i = 0; i < 2 && c->rule[i] != NULL; i++)
		apply_rule(&alias, c->rule[i]);
	if (c->cert_subject != NULL)
		cert = mkcert(c->cert_subject, c->cert_san, c->who == PRINCIPAL_RA, c->cert_days);
	csr = mkcsr(c->csr_subject, c->csr_san, c->explicit_key ? explicit_key : p256);
	{
		struct policy_input in = { .alias = &alias, .profile = &profile, .op = c->op,
		    .who = { .kind = c->who, .ee = c->who == PRINCIPAL_EE ? &ee_a : NULL,
		    .cert = cert, .cert_ee_id = cert != NULL ? 7 : 0, .cert_of_alias = true },
		    .csr = csr, .renewing = c->op == POLICY_REENROLL ? cert : NULL,
		    .now = time(NULL), .owner = owner };

		rc = policy_decide(&in, &d, &e);
	}
	if (rc != c->want || (rc != EST_OK && strstr(e.msg, c->want_text) == NULL))
		fail_msg("%s: got %d \"%s\", want %d \"%s\"", c->name, rc, e.msg, c->want,
		    c->want_text);
	if (rc == EST_OK) {
		char *s = est_name_text(d.subject), *n = est_san_text(d.san);

		snprintf(got, sizeof(got), "%s|%s", s, n);
		free(s);
		free(n);
		if (strcmp(got, c->want_text) != 0 &&
		    !(c->want_text[strlen(c->want_text) - 1] == '|' &&
		    strncmp(got, c->want_text, strlen(c->want_text)) == 0))
			fail_msg("%s: issued \"%s\", want \"%s\"", c->name, got, c->want_text);
		if (d.ee_id != c->want_ee)
			fail_msg("%s: end entity %lld, want %lld", c->name, (long long)d.ee_id,
			    (long long)c->want_ee);
		assert_ptr_equal(d.profile, &profile);
		/* What approval shows and the CA signs is always explicit: never the CSR's by default. */
		assert_non_null(d.san);
		assert_true(c->op == POLICY_SERVERKEYGEN ? d.pubkey == NULL : d.pubkey != NULL);
		assert_true((d.replaces_serial != NULL) == (c->op == POLICY_REENROLL && c->revoke_replaced));
		assert_true(d.spend_code == (c->who == PRINCIPAL_EE ? ee_a.code_hash : NULL));
		assert_int_equal(d.max_active, d.ee_id != 0 ? 2 : 0);
	} else {
		assert_null(d.subject);
		assert_null(d.san);
	}
	policy_decision_clear(&d);
	rules_free(&alias);
	X509_REQ_free(csr);
	X509_free(cert);
}

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/*
 * A certificate renews through the alias that issued it, and a certificate
 * of an end entity under the entity's own profile: renewed elsewhere, or
 * under the alias's profile, a 15-minute certificate of a short-lived
 * profile came back for a year.
 */
static void
test_renewal_where_issued(void **state)
{
	struct est_profile alias_profile = { .name = "p", .validity_days = 365,
	    .eku = EST_EKU_CLIENT_AUTH, .copy_san = true };
	struct est_profile_conf short_pc = { .profile = { .name = "short",
	    .validity_seconds = 900, .eku = EST_EKU_CLIENT_AUTH, .copy_san = true },
	    .name = "short" };
	struct est_config cfg = { .profiles = &short_pc, .n_profiles = 1 };
	struct est_alias_conf alias = { .name = "est", .renew_same_key = true };
	struct est_ee ee = { .id = 7, .username = "dev-a", .alias = "est", .profile = "short" };
	X509 *cert = mkcert("CN=dev-a", NULL, false, 10);
	X509_REQ *csr = mkcsr("CN=dev-a", NULL, p256);
	struct policy_input in = { .cfg = &cfg, .alias = &alias, .profile = &alias_profile,
	    .op = POLICY_REENROLL, .who = { .kind = PRINCIPAL_CERT, .cert = cert,
	    .cert_ee_id = 7, .cert_of_alias = false, .cert_alias = "short-lived" },
	    .csr = csr, .renewing = cert, .now = time(NULL), .owner = owner };
	struct policy_decision d = { 0 };
	struct est_error e = { 0 };

	(void)state;
	rules_defaults(&alias);
	assert_int_equal(policy_decide(&in, &d, &e), EST_ERR_FORBIDDEN);
	assert_string_equal(e.msg, "this certificate was issued through alias short-lived: "
	    "renew it there");
	in.who.cert_of_alias = true;
	assert_int_equal(policy_decide(&in, &d, &e), EST_OK);
	assert_ptr_equal(d.profile, &alias_profile);
	policy_decision_clear(&d);
	in.who.ee = &ee;
	assert_int_equal(policy_decide(&in, &d, &e), EST_OK);
	assert_ptr_equal(d.profile, &short_pc.profile);
	assert_int_equal(d.ee_id, 7);
	policy_decision_clear(&d);
	/* An entity of another alias does not lend its profile here. */
	ee.alias = "other";
	assert_int_equal(policy_decide(&in, &d, &e), EST_OK);
	assert_ptr_equal(d.profile, &alias_profile);
	policy_decision_clear(&d);
	rules_free(&alias);
	X509_REQ_free(csr);
	X509_free(cert);
}

/* Only id-kp-cmcRA makes an RA certificate. */
static void
test_ra_cert(void **state)
{
	X509 *plain = mkcert("CN=dev", NULL, false, 10), *ra = mkcert("CN=ra", NULL, true, 10);

	(void)state;
	assert_false(policy_is_ra_cert(plain));
	assert_true(policy_is_ra_cert(ra));
	assert_false(policy_is_ra_cert(NULL));
	X509_free(plain);
	X509_free(ra);
}

/* A held request's principal, written by this estd or an older one. */
static void
test_same_principal(void **state)
{
	(void)state;
	assert_true(policy_same_principal("user:estuser", "user:estuser"));
	assert_false(policy_same_principal("user:estuser", "user:Estuser"));
	assert_true(policy_same_principal("cert:A3F", "cert:0A3F"));
	assert_true(policy_same_principal("ra:0A3F", "ra:a3f"));
	assert_false(policy_same_principal("cert:A3F", "ra:0A3F"));
	assert_false(policy_same_principal("cert:A3F", "cert:A3E"));
	assert_false(policy_same_principal("user:0A3F", "user:A3F"));
	assert_false(policy_same_principal("cert:zz", "cert:0zz"));
}

/* Load-time parsing of the rules: what is refused. */
static void
test_rules_parse(void **state)
{
	static const char *const bad[][2] = {
		{ "dns-names", "bad name!" }, { "dns-names", "a..b" }, { "dns-names", "*" },
		{ "ip-ranges", "10.1.2.3/8" }, { "ip-ranges", "10.0.0.0/33" }, { "ip-ranges", "x" },
		{ "san-types", "dns, x400" }, { "key-types", "ec:secp256k1" },
		{ "key-types", "rsa:1024" }, { "key-types", "rsa:4096-2048" },
		{ "subject-required", "NOPE" },
	};
	struct est_alias_conf a = { .name = "t" };
	const char *hint = NULL;

	(void)state;
	rules_defaults(&a);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (rules_apply(&a, bad[i][0], bad[i][1], &hint) != 0)
			fail_msg("%s = %s was accepted", bad[i][0], bad[i][1]);
	assert_int_equal(rules_apply(&a, "dns-names", "*.acme.org, Host.Example", &hint), 1);
	assert_string_equal(a.names.dns_allow[1], "host.example");
	assert_int_equal(rules_apply(&a, "deny-ip-ranges", "none", &hint), 1);
	assert_int_equal(a.names.n_ip_deny, 0);
	assert_int_equal(rules_apply(&a, "no-such-key", "x", &hint), -1);
	rules_free(&a);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_ra_cert),
		cmocka_unit_test(test_renewal_where_issued),
		cmocka_unit_test(test_rules_parse),
		cmocka_unit_test(test_same_principal),
	};
	struct est_error e = { 0 };
	X509_NAME *n = NULL;
	GENERAL_NAMES *san = NULL;
	unsigned char *der = NULL;
	int len, rc;

	if (est_key_generate("ec:P-256", &p256, &e) != EST_OK)
		return 1;
	explicit_key = make_explicit_p256();
	/* dev-a's registration, as the store would hold it. */
	if (est_name_parse("CN=dev-a", &n, &e) != EST_OK || est_san_parse("dns:dev-a.example", &san,
	    &e) != EST_OK)
		return 1;
	len = i2d_X509_NAME(n, &der);
	ee_a.subject_der = der;
	ee_a.subject_der_len = (size_t)len;
	der = NULL;
	len = i2d_GENERAL_NAMES(san, &der);
	ee_a.san_der = der;
	ee_a.san_der_len = (size_t)len;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	OPENSSL_free(ee_a.subject_der);
	OPENSSL_free(ee_a.san_der);
	X509_NAME_free(n);
	GENERAL_NAMES_free(san);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(explicit_key);
	return rc;
}
