/*
 * estadm cert ra: issue an RA certificate (RFC 7030 §3.7) from an alias's
 * CA. Its EKU is id-kp-cmcRA with clientAuth (so it works as a TLS client
 * certificate); on its alias, which must take `certificate` authentication,
 * it may then request certificates for other subjects, within the alias's
 * name rules (estd takes it as RA on that alias only).
 * Key, certificate and record are made as for cert tls (issue.c); an
 * existing PREFIX.key or PREFIX.pem is refused, not replaced.
 */
#include <stdio.h>

#include "estadm.h"
#include "estkit/ca.h"
#include "estkit/codec.h"

/* estadm cert ra --dn DN --out PREFIX [--alias A] [--days N] [--key-type SPEC] */
int
adm_cert_ra(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dn", required_argument, NULL, 'd' },
		{ "alias", required_argument, NULL, 'a' },
		{ "out", required_argument, NULL, 'o' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "days", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct adm_issue is = { .key_type = "ec:P-256", .days = 365, .what = "RA certificate",
	    .certificate_auth = true, .profile = { .name = "ra", .eku = EST_EKU_CMC_RA | EST_EKU_CLIENT_AUTH } };
	struct est_error e = { 0 };
	X509_NAME *subject = NULL;
	const char *dn = NULL;
	int c, status;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': dn = optarg; break;
		case 'a': is.alias = optarg; break;
		case 'o': is.out = optarg; break;
		case 'k': is.key_type = optarg; break;
		case 'n':
			if ((status = adm_days_arg(ctx, optarg, &is.days)) != ADM_EXIT_OK)
				return status;
			break;
		default: return adm_bad_option(ctx, argv, longopts);
		}
	}
	if (optind != argc)
		return adm_usage_error(ctx, "unexpected argument \"%s\"", argv[optind]);
	if (dn == NULL || is.out == NULL)
		return adm_usage_error(ctx, "--dn and --out are required");
	if (!est_key_spec_known(is.key_type))
		return adm_usage_error(ctx, "unknown key type \"%s\"", is.key_type);
	if (est_name_parse(dn, &subject, &e) != EST_OK)
		return adm_fail("%s", e.msg);
	is.subject = subject;
	status = adm_issue(ctx, &is);
	X509_NAME_free(subject);
	return status;
}
