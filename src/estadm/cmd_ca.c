/*
 * estadm ca import|list: external CAs, the certificates of other parties'
 * CAs kept in the store -- the vendor (manufacturer) CAs whose device
 * certificates a vendor-mode alias accepts for a first enrolment. Importing
 * trusts nothing by itself: an alias must list the CA in vendor-cas, and
 * estd reads the store at start-up (restart it after an import).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include "estadm.h"
#include "estkit/ca.h"
#include "estkit/codec.h"
#include "estkit/config.h"
#include "estkit/store.h"

static bool
valid_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

/* Store one CA certificate under name. */
static int
import_cert(const struct adm_ctx *ctx, const char *name, X509 *cert)
{
	struct est_error e = { 0 };
	struct est_config *cfg = NULL;
	struct est_store *st = NULL;
	struct est_ext_ca ca = { 0 };
	unsigned char *der = NULL;
	int status, n;

	if ((n = i2d_X509(cert, &der)) <= 0 || (ca.subject = est_name_text(X509_get_subject_name(cert))) == NULL) {
		OPENSSL_free(der);
		return adm_fail("out of memory");
	}
	ca.name = (char *)name;
	ca.der = der;
	ca.der_len = (size_t)n;
	if ((status = adm_load_config(ctx, &cfg)) == ADM_EXIT_OK &&
	    (status = adm_open_store(cfg, &st)) == ADM_EXIT_OK) {
		if (est_store_put_ext_ca(st, &ca, &e) != EST_OK)
			status = adm_fail("%s", e.msg);
		else
			printf("imported external CA %s (%s)\n", name, ca.subject);
	}
	est_store_close(st);
	est_config_free(cfg);
	free(ca.subject);
	OPENSSL_free(der);
	return status;
}

int
adm_ca_import(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "external", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	struct est_error e = { 0 };
	STACK_OF(X509) *certs = NULL;
	const char *name = NULL;
	X509 *cert;
	int c, status;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'x')
			return adm_bad_option(ctx, argv, longopts);
		name = optarg;
	}
	if (name == NULL || argc - optind != 1)
		return adm_usage_error(ctx, "ca import needs --external NAME and one FILE");
	if (!valid_name(name))
		return adm_usage_error(ctx, "--external \"%s\": use 1-64 characters of "
		    "A-Z a-z 0-9 - _ .", name);
	if (est_certs_read(argv[optind], &certs, &e) != EST_OK)
		return adm_fail("%s", e.msg);
	cert = sk_X509_value(certs, 0);
	if (sk_X509_num(certs) != 1)
		status = adm_fail("%s holds %d certificates; import one CA per name", argv[optind],
		    sk_X509_num(certs));
	else if (X509_check_ca(cert) < 1)
		status = adm_fail("%s is not a CA certificate (no basicConstraints CA:TRUE)",
		    argv[optind]);
	else
		status = import_cert(ctx, name, cert);
	sk_X509_pop_free(certs, X509_free);
	return status;
}

static int
print_ca(const struct est_ext_ca *ca, void *arg)
{
	(void)arg;
	printf("%-24s %s\n", ca->name, ca->subject);
	return 0;
}

int
adm_ca_list(const struct adm_ctx *ctx, int argc, char **argv)
{
	struct est_error e = { 0 };
	struct est_config *cfg = NULL;
	struct est_store *st = NULL;
	int status;

	if (argc != 1)
		return adm_usage_error(ctx, "ca list takes no arguments");
	if ((status = adm_load_config(ctx, &cfg)) == ADM_EXIT_OK &&
	    (status = adm_open_store(cfg, &st)) == ADM_EXIT_OK) {
		printf("%-24s %s\n", "NAME", "SUBJECT");
		if (est_store_list_ext_ca(st, print_ca, NULL, &e) != EST_OK)
			status = adm_fail("%s", e.msg);
	}
	est_store_close(st);
	est_config_free(cfg);
	return status;
}
