/*
 * Unit tests for the configuration reader (lib/config): defaults, every
 * section kind, relative paths, and that every error is reported with its
 * file and line in one pass.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/obj_mac.h>

#include "estkit/config.h"

static char dir[64];

static char *
write_conf(const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/estd.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static const char *good =
	"# comment\n"
	"; another\n"
	"[server]\n"
	"credentials = users\n"
	"max-body = 4096\n"
	"\n"
	"[listener tls]\n"
	"listen = 127.0.0.1:8442\n"
	"tls = server\n"
	"certificate = tls.pem\n"
	"key = /abs/tls.key\n"
	"[listener v6]\n"
	"listen = [::1]:0\n"
	"tls = none\n"
	"[ca Root]\n"
	"certificate = ca.pem\n"
	"key = ca.key\n"
	"[profile p]\n"
	"validity-days = 30\n"
	"extended-key-usage = clientAuth\n"
	"copy-san = no\n"
	"[alias est]\n"
	"default = yes\n"
	"authentication = certificate, http\n"
	"renew-same-key = no\n";

static void
test_good_config(void **state)
{
	struct est_config *cfg = NULL;
	struct est_error e = { 0 };
	char *errors = NULL;
	char want[256];

	(void)state;
	assert_int_equal(est_config_load(write_conf(good), &cfg, &errors, &e), EST_OK);
	assert_null(errors);
	snprintf(want, sizeof(want), "sqlite:%s/estkit.db", dir);
	assert_string_equal(cfg->store_uri, want);
	snprintf(want, sizeof(want), "%s/users", dir);
	assert_string_equal(cfg->credentials_path, want);
	assert_string_equal(cfg->realm, "estkit");
	assert_int_equal(cfg->max_body, 4096);
	assert_int_equal(cfg->idle_timeout, 30);
	assert_int_equal(cfg->n_listeners, 2);
	assert_string_equal(cfg->listeners[0].host, "127.0.0.1");
	assert_string_equal(cfg->listeners[0].port, "8442");
	assert_string_equal(cfg->listeners[0].key_path, "/abs/tls.key");
	assert_int_equal(cfg->listeners[0].tls, EST_TLS_SERVER);
	assert_string_equal(cfg->listeners[1].host, "::1");
	assert_string_equal(cfg->listeners[1].port, "0");
	assert_int_equal(cfg->listeners[1].tls, EST_TLS_NONE);
	assert_int_equal(cfg->n_aliases, 1);
	/* With one CA and one profile the alias takes them without naming them. */
	assert_string_equal(cfg->aliases[0].ca, "Root");
	assert_string_equal(cfg->aliases[0].profile, "p");
	assert_int_equal(cfg->aliases[0].n_auth, 2);
	assert_int_equal(cfg->aliases[0].auth[0], EST_AUTH_CERTIFICATE);
	assert_int_equal(cfg->aliases[0].auth[1], EST_AUTH_HTTP);
	assert_false(cfg->aliases[0].renew_same_key);
	assert_ptr_equal(est_config_default_alias(cfg), &cfg->aliases[0]);
	assert_int_equal(est_config_profile(cfg, "p")->profile.validity_days, 30);
	assert_int_equal(est_config_profile(cfg, "p")->profile.eku, EST_EKU_CLIENT_AUTH);
	assert_false(est_config_profile(cfg, "p")->profile.copy_san);
	assert_string_equal(est_config_profile(cfg, "p")->profile.name, "p");
	est_config_free(cfg);
}

/* Every problem is reported, each with FILE:LINE, in one pass. */
static void
test_all_errors_reported(void **state)
{
	struct est_config *cfg = NULL;
	struct est_error e = { 0 };
	char *errors = NULL, want[160];
	const char *text =
		"[server]\n"
		"workers = lots\n"                 /* 2 */
		"bogus = 1\n"                      /* 3 */
		"[listener a]\n"
		"listen = 127.0.0.1:99999\n"       /* 5 */
		"tls = maybe\n"                    /* 6 */
		"this line has no equals sign\n"   /* 7 */
		"[ca Root]\n"
		"certificate = ca.pem\n"
		"key = ca.key\n"
		"[alias simpleenroll]\n"           /* 11: named like an operation */
		"[alias x]\n"
		"authentication = http, http\n"    /* 13 */
		"default = perhaps\n"              /* 14 */
		"[widget w]\n";                    /* 15 */
	const int lines[] = { 2, 3, 5, 6, 7, 11, 13, 14, 15 };

	(void)state;
	assert_int_equal(est_config_load(write_conf(text), &cfg, &errors, &e), EST_ERR_CONFIG);
	assert_null(cfg);
	assert_non_null(errors);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		snprintf(want, sizeof(want), "%s/estd.conf:%d: ", dir, lines[i]);
		if (strstr(errors, want) == NULL)
			fail_msg("no error for line %d in:\n%s", lines[i], errors);
	}
	assert_non_null(strstr(errors, "spelled like an EST operation"));
	assert_non_null(strstr(errors, "no alias has default = yes"));
	assert_non_null(strstr(errors, "needs listen"));
	/* e holds the first error. */
	snprintf(want, sizeof(want), "%s/estd.conf:2: ", dir);
	assert_memory_equal(e.msg, want, strlen(want));
	free(errors);
}

static void
test_cross_references(void **state)
{
	struct est_config *cfg = NULL;
	struct est_error e = { 0 };
	char *errors = NULL;
	const char *text =
		"[listener a]\nlisten = 1\ntls = require-client\n"
		"[ca A]\ncertificate = a.pem\nkey = a.key\n"
		"[ca B]\ncertificate = b.pem\n"
		"[alias one]\ndefault = yes\nprofile = nope\n"
		"[alias two]\ndefault = yes\nca = B\n"
		"[alias three]\nca = C\ncacerts-ca = D\n";

	(void)state;
	assert_int_equal(est_config_load(write_conf(text), &cfg, &errors, &e), EST_ERR_CONFIG);
	assert_non_null(strstr(errors, "needs certificate and key"));
	assert_non_null(strstr(errors, "[alias one] needs ca = NAME"));
	assert_non_null(strstr(errors, "profile = nope: no [profile nope] section"));
	assert_non_null(strstr(errors, "both say default = yes"));
	assert_non_null(strstr(errors, "ca = B: that CA has no key"));
	assert_non_null(strstr(errors, "ca = C: no [ca C] section"));
	assert_non_null(strstr(errors, "cacerts-ca = D: no [ca D] section"));
	free(errors);
}

static const char *base =
	"[listener a]\nlisten = 0\ntls = none\n"
	"[ca A]\ncertificate = a.pem\nkey = a.key\n";

/* The options of issue 5: defaults, values, and refused combinations. */
static void
test_keygen_csrattrs_approval(void **state)
{
	struct est_config *cfg = NULL;
	struct est_error e = { 0 };
	char *errors = NULL, text[1024];

	(void)state;
	snprintf(text, sizeof(text), "%s[server]\ndecrypt-keys = keks\n"
	    "[alias d]\ndefault = yes\n"
	    "[alias k]\nserver-keygen = yes\nserver-keygen-key = rsa:3072\n"
	    "csrattrs = challengePassword, ecPublicKey:P-256, extensionRequest:subjectAltName\n"
	    "csrattrs-enforce = yes\napproval = manual\nretry-after = 5\n", base);
	assert_int_equal(est_config_load(write_conf(text), &cfg, &errors, &e), EST_OK);
	assert_null(errors);
	assert_non_null(strstr(cfg->decrypt_keys_path, "/keks"));
	assert_false(cfg->aliases[0].server_keygen);
	assert_null(cfg->aliases[0].server_keygen_key);
	assert_null(cfg->aliases[0].csrattrs);
	assert_int_equal(cfg->aliases[0].approval, EST_APPROVAL_AUTO);
	assert_int_equal(cfg->aliases[0].retry_after, 0);
	assert_true(cfg->aliases[1].server_keygen);
	assert_string_equal(cfg->aliases[1].server_keygen_key, "rsa:3072");
	assert_non_null(strstr(cfg->aliases[1].csrattrs, "ecPublicKey:P-256"));
	assert_true(cfg->aliases[1].csrattrs_enforce);
	assert_int_equal(cfg->aliases[1].approval, EST_APPROVAL_MANUAL);
	assert_int_equal(cfg->aliases[1].retry_after, 5);
	est_config_free(cfg);

	snprintf(text, sizeof(text), "%s[alias d]\ndefault = yes\n"
	    "server-keygen-key = rsa:1024\n"       /* 9 */
	    "csrattrs = challengePassword, nosuchthing\n"  /* 10 */
	    "approval = sometimes\n"               /* 11 */
	    "retry-after = 0\n"                    /* 12 */
	    "[alias x]\nserver-keygen-key = from-csr\ncsrattrs-enforce = yes\nretry-after = 9\n", base);
	assert_int_equal(est_config_load(write_conf(text), &cfg, &errors, &e), EST_ERR_CONFIG);
	for (int line = 9; line <= 12; line++) {
		char want[160];

		snprintf(want, sizeof(want), "%s/estd.conf:%d: ", dir, line);
		if (strstr(errors, want) == NULL)
			fail_msg("no error for line %d in:\n%s", line, errors);
	}
	assert_non_null(strstr(errors, "\"nosuchthing\" is not an OID"));
	assert_non_null(strstr(errors, "[alias x] server-keygen-key is set but server-keygen is not yes"));
	assert_non_null(strstr(errors, "[alias x] csrattrs-enforce = yes needs a csrattrs list"));
	assert_non_null(strstr(errors, "[alias x] retry-after is set but approval is not manual"));
	free(errors);
}

/*
 * key-types binds /serverkeygen too: an alias limited to EC keys must not
 * certify the RSA 2048 key the default server-keygen-key makes.
 */
static void
test_keygen_key_types(void **state)
{
	struct est_config *cfg = NULL;
	struct est_error e = { 0 };
	char *errors = NULL, text[1024];

	(void)state;
	snprintf(text, sizeof(text), "%s[alias d]\ndefault = yes\n"
	    "[alias ec]\nserver-keygen = yes\nkey-types = ec:P-256\n"
	    "[alias big]\nserver-keygen = yes\nserver-keygen-key = rsa:2048\nkey-types = rsa:3072-4096\n"
	    "[alias p384]\nserver-keygen = yes\nserver-keygen-key = ec:secp384r1\nkey-types = ec:P-256\n",
	    base);
	assert_int_equal(est_config_load(write_conf(text), &cfg, &errors, &e), EST_ERR_CONFIG);
	assert_non_null(strstr(errors, "[alias ec] server-keygen-key = rsa:2048 (the default) makes "
	    "keys that key-types does not accept"));
	assert_non_null(strstr(errors, "[alias big] server-keygen-key = rsa:2048 makes keys"));
	assert_non_null(strstr(errors, "[alias p384] server-keygen-key = ec:secp384r1 makes keys"));
	free(errors);
	errors = NULL;

	snprintf(text, sizeof(text), "%s[alias d]\ndefault = yes\n"
	    "[alias ec]\nserver-keygen = yes\nserver-keygen-key = ec:prime256v1\nkey-types = ec:P-256\n"
	    "[alias csr]\nserver-keygen = yes\nserver-keygen-key = From-CSR\nkey-types = ec:P-256\n"
	    "[alias rsa]\nserver-keygen = yes\nserver-keygen-key = rsa:3072\nkey-types = rsa:2048-4096\n",
	    base);
	assert_int_equal(est_config_load(write_conf(text), &cfg, &errors, &e), EST_OK);
	assert_null(errors);
	est_config_free(cfg);
}

/* A CA rollover (issue 17): predecessor, rollover-certificates, issue-from. */
static void
test_ca_rollover(void **state)
{
	struct est_config *cfg = NULL;
	struct est_error e = { 0 };
	char *errors = NULL, text[1024];

	(void)state;
	snprintf(text, sizeof(text), "%s[alias d]\ndefault = yes\nca = A\n"
	    "[ca A-2]\ncertificate = a2.pem\nkey = a2.key\npredecessor = A\n"
	    "rollover-certificates = a2-rollover.pem\nissue-from = 2027-01-02T03:04:05Z\n", base);
	assert_int_equal(est_config_load(write_conf(text), &cfg, &errors, &e), EST_OK);
	assert_null(errors);
	assert_string_equal(cfg->cas[1].predecessor, "A");
	assert_non_null(strstr(cfg->cas[1].rollover_path, "/a2-rollover.pem"));
	assert_int_equal(cfg->cas[1].issue_from, 1798859045);
	assert_null(cfg->cas[0].predecessor);
	assert_int_equal(cfg->cas[0].issue_from, 0);
	est_config_free(cfg);

	snprintf(text, sizeof(text), "%s[alias d]\ndefault = yes\nca = A\n"
	    "[ca B]\ncertificate = b.pem\nkey = b.key\npredecessor = Nope\n"
	    "issue-from = tomorrow\n"
	    "[ca C]\ncertificate = c.pem\nissue-from = 2027-01-01T00:00:00Z\n"
	    "[ca D]\ncertificate = d.pem\nkey = d.key\npredecessor = D\n"
	    "rollover-certificates = r.pem\nissue-from = 2027-02-30T00:00:00Z\n", base);
	assert_int_equal(est_config_load(write_conf(text), &cfg, &errors, &e), EST_ERR_CONFIG);
	assert_non_null(strstr(errors, "[ca B] predecessor = Nope: no other [ca Nope] section"));
	assert_non_null(strstr(errors, "[ca B] needs rollover-certificates = FILE"));
	assert_non_null(strstr(errors, "[ca B] issue-from = tomorrow: write a UTC time"));
	assert_non_null(strstr(errors, "[ca C] rollover-certificates and issue-from go with "
	    "predecessor"));
	assert_non_null(strstr(errors, "[ca D] predecessor = D: no other [ca D] section"));
	/* No February 30 (it would silently be March 2). */
	assert_non_null(strstr(errors, "[ca D] issue-from = 2027-02-30T00:00:00Z: write a UTC time"));
	free(errors);
}

/* The authentication failure limits of issue 6: defaults, values, ranges. */
static void
test_auth_fail_limits(void **state)
{
	struct est_config *cfg = NULL;
	struct est_error e = { 0 };
	char *errors = NULL, text[1024];

	(void)state;
	snprintf(text, sizeof(text), "%s[alias d]\ndefault = yes\n", base);
	assert_int_equal(est_config_load(write_conf(text), &cfg, &errors, &e), EST_OK);
	assert_int_equal(cfg->auth_fail_limit, 10);
	assert_int_equal(cfg->auth_fail_window, 60);
	assert_int_equal(cfg->auth_lockout, 300);
	est_config_free(cfg);

	snprintf(text, sizeof(text), "%s[alias d]\ndefault = yes\n[server]\nauth-fail-limit = 0\n"
	    "auth-fail-window = 86400\nauth-lockout = 1\n", base);
	assert_int_equal(est_config_load(write_conf(text), &cfg, &errors, &e), EST_OK);
	assert_int_equal(cfg->auth_fail_limit, 0);
	assert_int_equal(cfg->auth_fail_window, 86400);
	assert_int_equal(cfg->auth_lockout, 1);
	est_config_free(cfg);

	snprintf(text, sizeof(text), "%s[alias d]\ndefault = yes\n[server]\n"
	    "auth-fail-limit = 1001\n"      /* 10 */
	    "auth-fail-window = 0\n"        /* 11 */
	    "auth-lockout = 86401\n"        /* 12 */
	    "auth-fail-limit = -1\n"        /* 13 */
	    "auth-lockout = 5m\n", base);   /* 14 */
	assert_int_equal(est_config_load(write_conf(text), &cfg, &errors, &e), EST_ERR_CONFIG);
	for (int line = 10; line <= 14; line++) {
		char want[160];

		snprintf(want, sizeof(want), "%s/estd.conf:%d: [server] auth-", dir, line);
		if (strstr(errors, want) == NULL)
			fail_msg("no error for line %d in:\n%s", line, errors);
	}
	free(errors);
}

/* Issue 15: revocation keys, their defaults and the paths refused. */
static void
test_revocation_keys(void **state)
{
	struct est_config *cfg = NULL;
	struct est_error e = { 0 };
	char *errors = NULL, text[2048];

	(void)state;
	snprintf(text, sizeof(text), "%s[alias d]\ndefault = yes\n", base);
	assert_int_equal(est_config_load(write_conf(text), &cfg, &errors, &e), EST_OK);
	assert_string_equal(cfg->crl_path, "/crl");
	assert_string_equal(cfg->ocsp_path, "/ocsp");
	assert_int_equal(cfg->crl_check_interval, 60);
	assert_int_equal(cfg->cas[0].crl_validity_hours, 24);
	assert_int_equal(cfg->cas[0].ocsp_validity_minutes, 60);
	assert_null(cfg->cas[0].crl_url);
	est_config_free(cfg);

	snprintf(text, sizeof(text), "[listener a]\nlisten = 0\ntls = none\n"
	    "[ca A]\ncertificate = a.pem\nkey = a.key\ncrl-url = http://h/crl/A.crl\n"
	    "ocsp-url = http://h/ocsp\ncrl-file = A.crl\ncrl-validity-hours = 6\n"
	    "ocsp-certificate = o.pem\nocsp-key = o.key\nocsp-validity-minutes = 0\n"
	    "[alias d]\ndefault = yes\n[server]\ncrl-path = /pki/crls/\nocsp-path = /status\n");
	assert_int_equal(est_config_load(write_conf(text), &cfg, &errors, &e), EST_OK);
	assert_string_equal(cfg->crl_path, "/pki/crls");
	assert_string_equal(cfg->ocsp_path, "/status");
	assert_string_equal(cfg->cas[0].crl_url, "http://h/crl/A.crl");
	assert_non_null(strstr(cfg->cas[0].crl_file, "/A.crl"));
	assert_non_null(strstr(cfg->cas[0].ocsp_cert_path, "/o.pem"));
	assert_int_equal(cfg->cas[0].crl_validity_hours, 6);
	assert_int_equal(cfg->cas[0].ocsp_validity_minutes, 0);
	est_config_free(cfg);

	snprintf(text, sizeof(text), "%s[alias d]\ndefault = yes\n[server]\n"
	    "crl-path = crl\n"                        /* 10: relative */
	    "ocsp-path = /.well-known/est/ocsp\n"      /* 11: EST's: extra services stay out (EST-S-08) */
	    "crl-path = /a b\n"                       /* 12: a space */
	    "ocsp-path = /\n"                          /* 13: the root */
	    "crl-check-interval = 0\n", base);         /* 14 */
	assert_int_equal(est_config_load(write_conf(text), &cfg, &errors, &e), EST_ERR_CONFIG);
	for (int line = 10; line <= 14; line++) {
		char want[160];

		snprintf(want, sizeof(want), "%s/estd.conf:%d: [server] ", dir, line);
		if (strstr(errors, want) == NULL)
			fail_msg("no error for line %d in:\n%s", line, errors);
	}
	free(errors);
	errors = NULL;

	snprintf(text, sizeof(text), "%s[alias d]\ndefault = yes\n[server]\ncrl-path = /x\n"
	    "ocsp-path = /x/\n", base);
	assert_int_equal(est_config_load(write_conf(text), &cfg, &errors, &e), EST_ERR_CONFIG);
	assert_non_null(strstr(errors, "crl-path and ocsp-path must differ"));
	free(errors);
}

static void
test_missing_file(void **state)
{
	struct est_config *cfg = NULL;
	struct est_error e = { 0 };

	(void)state;
	assert_int_equal(est_config_load("/nonexistent/estd.conf", &cfg, NULL, &e), EST_ERR_IO);
	assert_non_null(strstr(e.msg, "/nonexistent/estd.conf"));
}

static void
test_operation_names(void **state)
{
	(void)state;
	assert_true(est_is_operation_name("cacerts"));
	assert_true(est_is_operation_name("fullcmc"));
	assert_false(est_is_operation_name("est"));
	assert_false(est_is_operation_name("cacert"));
}

/* The seed 004 alias table: client mode and vendor mode as the seed sets them. */
static void
test_client_and_vendor_aliases(void **state)
{
	struct est_config *cfg = NULL;
	struct est_error e = { 0 };
	char *errors = NULL;
	const struct est_alias_conf *a;
	const char *text =
		"[listener a]\nlisten = 1\ntls = none\n"
		"[ca ManagementCA]\ncertificate = ca.pem\nkey = ca.key\n"
		"[ca Other]\ncertificate = other.pem\n"
		"[alias est]\ndefault = yes\nmode = client\nca = ManagementCA\n"
		"cacerts-ca = Other\nusername-component = CN\n"
		"authentication = challenge-password, http\nrenew-same-key = true\n"
		"[alias estvendor]\nca = ManagementCA\nusername-component = serialNumber\n"
		"authentication = none\nvendor-mode = true\nvendor-cas = VendorSubCA, VendorRootCA\n"
		"allow-change-subject-name = true\nrenew-same-key = false\n"
		"[alias dn]\nca = ManagementCA\nauthentication = dn-part-password:UID, http\n"
		"username-component = E\n"
		"[alias ra]\nca = ManagementCA\nchannel-binding = tls-unique\n"
		"require-client-certificate = yes\n";

	(void)state;
	assert_int_equal(est_config_load(write_conf(text), &cfg, &errors, &e), EST_OK);
	a = est_config_alias(cfg, "est");
	assert_int_equal(a->mode, EST_MODE_CLIENT);
	assert_true(est_alias_is_client_mode(a));
	assert_string_equal(a->cacerts_ca, "Other");
	assert_int_equal(a->n_auth, 2);
	assert_int_equal(a->auth[0], EST_AUTH_CHALLENGE_PASSWORD);
	assert_int_equal(a->auth[1], EST_AUTH_HTTP);
	assert_int_equal(a->username_nid, NID_commonName);
	assert_false(a->vendor_mode);
	a = est_config_alias(cfg, "estvendor");
	assert_int_equal(a->mode, EST_MODE_CLIENT);
	assert_true(a->vendor_mode);
	assert_true(a->require_client_cert);
	assert_true(a->allow_change_subject);
	assert_false(a->renew_same_key);
	assert_int_equal(a->n_vendor_cas, 2);
	assert_string_equal(a->vendor_cas[1], "VendorRootCA");
	assert_int_equal(a->username_nid, NID_serialNumber);
	assert_int_equal(a->auth[0], EST_AUTH_NONE);
	a = est_config_alias(cfg, "dn");
	assert_int_equal(a->auth[0], EST_AUTH_DN_PART_PASSWORD);
	assert_string_equal(a->code_field, "UID");
	assert_int_equal(a->code_nid, NID_userId);
	assert_int_equal(a->username_nid, NID_pkcs9_emailAddress);
	a = est_config_alias(cfg, "ra");
	assert_int_equal(a->mode, EST_MODE_RA);
	assert_false(est_alias_is_client_mode(a));
	assert_int_equal(a->channel_binding, EST_CB_TLS_UNIQUE);
	assert_true(a->require_client_cert);
	est_config_free(cfg);
}

/* Whether one line of errors starts with prefix and contains what. */
static bool
has_error(const char *errors, const char *prefix, const char *what)
{
	char line[700];

	for (const char *p = errors; *p != '\0'; ) {
		size_t n = strcspn(p, "\n");

		snprintf(line, sizeof(line), "%.*s", (int)n, p);
		if (strncmp(line, prefix, strlen(prefix)) == 0 && strstr(line, what) != NULL)
			return true;
		p += n + (p[n] == '\n');
	}
	return false;
}

/* Combinations that make no sense are refused at load, each with its line. */
static void
test_client_mode_bad_combinations(void **state)
{
	struct est_config *cfg = NULL;
	struct est_error e = { 0 };
	char *errors = NULL, want[200];
	const char *text =
		"[listener a]\nlisten = 1\ntls = none\n"          /* 1-3 */
		"[ca C]\ncertificate = ca.pem\nkey = ca.key\n"    /* 4-6 */
		"[alias a1]\ndefault = yes\nmode = ra\nauthentication = challenge-password\n" /* 7 */
		"[alias a2]\nmode = client\nauthentication = http\n"            /* 11 */
		"[alias a3]\nauthentication = none\n"                             /* 14 */
		"[alias a4]\nvendor-mode = yes\nauthentication = http\nvendor-cas = V\n" /* 16 */
		"[alias a5]\nvendor-mode = yes\n"                                 /* 20 */
		"[alias a6]\nvendor-cas = V\nallow-change-subject-name = yes\n"  /* 22 */
		"[alias a7]\nchannel-binding = tls-unique\n"
		"authentication = challenge-password\n"                          /* 25 */
		"[alias a8]\nusername-component = shoesize\n"                    /* 28 */
		"authentication = dn-part-password:nothing\n"                     /* 30 */
		"mode = sometimes\nchannel-binding = tls-exporter\n";            /* 31, 32 */
	static const struct { int line; const char *what; } want_errs[] = {
		{ 7, "mode = ra: challenge-password" },
		{ 11, "mode = client needs challenge-password" },
		{ 14, "authentication = none stands alone" },
		{ 16, "set authentication = none" },
		{ 20, "vendor-mode = yes needs vendor-cas" },
		{ 22, "vendor-cas is only used with vendor-mode" },
		{ 22, "allow-change-subject-name only applies" },
		{ 25, "choose one" },
		{ 29, "username-component: \"shoesize\" is not valid" },
		{ 30, "dn-part-password:nothing\" is not valid" },
		{ 31, "mode: \"sometimes\" is not valid" },
		{ 32, "channel-binding: \"tls-exporter\" is not valid" },
	};

	(void)state;
	assert_int_equal(est_config_load(write_conf(text), &cfg, &errors, &e), EST_ERR_CONFIG);
	for (size_t i = 0; i < sizeof(want_errs) / sizeof(want_errs[0]); i++) {
		snprintf(want, sizeof(want), "%s/estd.conf:%d: ", dir, want_errs[i].line);
		if (!has_error(errors, want, want_errs[i].what))
			fail_msg("no \"%s\" at line %d in:\n%s", want_errs[i].what,
			    want_errs[i].line, errors);
	}
	free(errors);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/estkit-config.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/estd.conf", dir);
	unlink(path);
	return rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_config),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_cross_references),
		cmocka_unit_test(test_keygen_csrattrs_approval),
		cmocka_unit_test(test_keygen_key_types),
		cmocka_unit_test(test_auth_fail_limits),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_operation_names),
		cmocka_unit_test(test_revocation_keys),
		cmocka_unit_test(test_client_and_vendor_aliases),
		cmocka_unit_test(test_client_mode_bad_combinations),
		cmocka_unit_test(test_ca_rollover),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
