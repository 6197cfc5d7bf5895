/*
 * estadm cert ra: issue an RA certificate (RFC 7030 §3.7) from an alias's
 * CA. Its EKU is id-kp-cmcRA with clientAuth (so it works as a TLS client
 * certificate); on an alias with `certificate` authentication it may then
 * request certificates for other subjects, within the alias's name rules.
 * The key is made here and written 0600; the certificate is recorded in
 * the store before it is written out, as estd records what it issues.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estadm.h"
#include "estkit/ca.h"
#include "estkit/codec.h"
#include "estkit/store.h"

struct ra_opts {
	const char *dn;
	const char *alias;
	const char *out;
	const char *key_type;
	unsigned days;
};

static int
parse_ra_opts(const struct adm_ctx *ctx, int argc, char **argv, struct ra_opts *o)
{
	static const struct option longopts[] = {
		{ "dn", required_argument, NULL, 'd' },
		{ "alias", required_argument, NULL, 'a' },
		{ "out", required_argument, NULL, 'o' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "days", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	unsigned long n;
	int c;

	o->key_type = "ec:P-256";
	o->days = 365;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o->dn = optarg; break;
		case 'a': o->alias = optarg; break;
		case 'o': o->out = optarg; break;
		case 'k': o->key_type = optarg; break;
		case 'n':
			n = strtoul(optarg, &end, 10);
			if (*end != '\0' || n < 1 || n > 3650)
				return adm_usage_error(ctx, "--days takes 1 to 3650");
			o->days = (unsigned)n;
			break;
		default: return adm_bad_option(ctx, argv, longopts);
		}
	}
	if (optind != argc)
		return adm_usage_error(ctx, "unexpected argument \"%s\"", argv[optind]);
	if (o->dn == NULL || o->out == NULL)
		return adm_usage_error(ctx, "--dn and --out are required");
	if (!est_key_spec_known(o->key_type))
		return adm_usage_error(ctx, "unknown key type \"%s\"", o->key_type);
	return ADM_EXIT_OK;
}

/* The alias named, or the default one. */
static const struct est_alias_conf *
ra_alias(const struct est_config *cfg, const char *name)
{
	return name != NULL ? est_config_alias(cfg, name) : est_config_default_alias(cfg);
}

/* Issue, record, then write PREFIX.key and PREFIX.pem. */
static int
issue_ra(const struct est_config *cfg, const struct est_alias_conf *a, struct est_ca *ca,
    const struct ra_opts *o)
{
	struct est_profile profile = { .name = "ra", .validity_days = o->days,
	    .eku = EST_EKU_CMC_RA | EST_EKU_CLIENT_AUTH };
	struct est_issue_req req = { 0 };
	struct est_cert_rec *rec = NULL;
	struct est_store *st = NULL;
	struct est_error e = { 0 };
	X509_NAME *subject = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char keypath[4096], pempath[4096];
	int status = ADM_EXIT_FAIL;

	snprintf(keypath, sizeof(keypath), "%s.key", o->out);
	snprintf(pempath, sizeof(pempath), "%s.pem", o->out);
	if (est_name_parse(o->dn, &subject, &e) != EST_OK ||
	    est_key_generate(o->key_type, &key, &e) != EST_OK) {
		adm_fail("%s", e.msg);
		goto out;
	}
	req.subject = subject;
	req.pubkey = key;
	if (est_ca_issue(ca, &profile, &req, &cert, &e) != EST_OK ||
	    est_cert_rec_from_x509(cert, "estadm", a->name, &rec, &e) != EST_OK) {
		adm_fail("%s", e.msg);
		goto out;
	}
	/*
	 * Files first, the record last, undoing what was written on failure: a
	 * valid RA certificate on record whose key nobody holds, or a key left
	 * without its certificate, would only block or confuse the next try.
	 */
	if (est_key_write(keypath, key, &e) != EST_OK) {
		adm_fail("%s", e.msg);
		goto out;
	}
	if (est_cert_write(pempath, cert, &e) != EST_OK) {
		unlink(keypath);
		adm_fail("%s", e.msg);
		goto out;
	}
	if (adm_open_store(cfg, &st) != ADM_EXIT_OK || est_store_put_cert(st, rec, &e) != EST_OK) {
		unlink(keypath);
		unlink(pempath);
		if (st != NULL)
			adm_fail("%s", e.msg);
		goto out;
	}
	printf("issued RA certificate %s for %s (alias %s): %s, %s\n", rec->serial, rec->subject,
	    a->name, pempath, keypath);
	status = ADM_EXIT_OK;
out:
	est_store_close(st);
	est_cert_rec_free(rec);
	X509_free(cert);
	EVP_PKEY_free(key);
	X509_NAME_free(subject);
	return status;
}

/* estadm cert ra --dn DN --out PREFIX [--alias A] [--days N] [--key-type SPEC] */
int
adm_cert_ra(const struct adm_ctx *ctx, int argc, char **argv)
{
	struct ra_opts o = { 0 };
	struct est_config *cfg = NULL;
	const struct est_alias_conf *a;
	const struct est_ca_conf *cc;
	struct est_ca *ca = NULL;
	struct est_error e = { 0 };
	int status;

	if ((status = parse_ra_opts(ctx, argc, argv, &o)) != ADM_EXIT_OK)
		return status;
	if ((status = adm_load_config(ctx, &cfg)) != ADM_EXIT_OK)
		return status;
	if ((a = ra_alias(cfg, o.alias)) == NULL)
		status = adm_fail("no alias %s in %s", o.alias != NULL ? o.alias : "(default)",
		    cfg->path);
	else if ((cc = est_config_ca(cfg, a->ca)) == NULL)
		status = adm_fail("alias %s names CA %s, which %s lacks", a->name, a->ca, cfg->path);
	else if (est_ca_load(cc->name, cc->cert_path, cc->key_path, cc->chain_path, &ca, &e) !=
	    EST_OK)
		status = adm_fail("%s", e.msg);
	else
		status = issue_ra(cfg, a, ca, &o);
	est_ca_free(ca);
	est_config_free(cfg);
	return status;
}
