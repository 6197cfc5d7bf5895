/*
 * estadm cert tls: estd's own TLS server certificate, from an alias's CA,
 * for the names clients connect to (est.example.com, the load balancer's
 * name, an address). EKU serverAuth; subject CN the first name unless
 * --cn. PREFIX.key and PREFIX.pem are replaced atomically, keeping their
 * owner, so a listener's certificate and key can be renewed in place and
 * take effect at estd's next reload (SIGHUP); PREFIX.pem carries the CA
 * chain after the certificate, as init's tls.pem does. Made and recorded
 * as cert ra's (issue.c).
 */
#include <stdio.h>
#include <string.h>

#include "estadm.h"
#include "estkit/ca.h"

/* ub-common-name (RFC 5280); the longest host name, and its NUL. */
#define CN_MAX 64
#define HOST_TEXT_MAX 254

/* The first name of san as text, for the default CN. */
static void
first_name(const GENERAL_NAMES *san, char *buf, size_t len)
{
	const GENERAL_NAME *gen = sk_GENERAL_NAME_value(san, 0);
	const ASN1_STRING *s = gen->type == GEN_DNS ? gen->d.dNSName : gen->d.iPAddress;
	const unsigned char *b = ASN1_STRING_get0_data(s);

	if (gen->type == GEN_DNS)
		snprintf(buf, len, "%.*s", ASN1_STRING_length(s), (const char *)b);
	else if (ASN1_STRING_length(s) == 4)    /* a2i_IPADDRESS: 4 or 16 bytes */
		snprintf(buf, len, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	else
		snprintf(buf, len, "%x:%x:%x:%x:%x:%x:%x:%x", b[0] << 8 | b[1], b[2] << 8 | b[3],
		    b[4] << 8 | b[5], b[6] << 8 | b[7], b[8] << 8 | b[9], b[10] << 8 | b[11],
		    b[12] << 8 | b[13], b[14] << 8 | b[15]);
}

/* "CN=<cn>", cn taken as it is (no DN syntax to escape). */
static int
make_subject(const char *cn, X509_NAME **out)
{
	X509_NAME *name = X509_NAME_new();

	if (name == NULL || !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0)) {
		X509_NAME_free(name);
		return adm_fail("cannot make the subject CN=%s", cn);
	}
	*out = name;
	return ADM_EXIT_OK;
}

/*
 * estadm cert tls --dns NAME[,NAME...] [--ip ADDR[,ADDR...]] --out PREFIX
 *     [--alias A] [--days N] [--key-type SPEC] [--cn CN]
 */
int
adm_cert_tls(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dns", required_argument, NULL, 'd' },
		{ "ip", required_argument, NULL, 'i' },
		{ "cn", required_argument, NULL, 'c' },
		{ "alias", required_argument, NULL, 'a' },
		{ "out", required_argument, NULL, 'o' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "days", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct adm_issue is = { .key_type = "ec:P-256", .days = 825,
	    .what = "TLS server certificate", .replace = true, .chain = true,
	    .profile = { .name = "tls-server", .eku = EST_EKU_SERVER_AUTH } };
	GENERAL_NAMES *san = NULL;
	X509_NAME *subject = NULL;
	const char *cn = NULL;
	char first[HOST_TEXT_MAX];
	int c, status = ADM_EXIT_OK;

	while (status == ADM_EXIT_OK && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': status = adm_tls_names(ctx, "--dns", optarg, GEN_DNS, &san); break;
		case 'i': status = adm_tls_names(ctx, "--ip", optarg, GEN_IPADD, &san); break;
		case 'c': cn = optarg; break;
		case 'a': is.alias = optarg; break;
		case 'o': is.out = optarg; break;
		case 'k': is.key_type = optarg; break;
		case 'n': status = adm_days_arg(ctx, optarg, &is.days); break;
		default: status = adm_bad_option(ctx, argv, longopts); break;
		}
	}
	if (status != ADM_EXIT_OK)
		goto out;
	if (optind != argc)
		status = adm_usage_error(ctx, "unexpected argument \"%s\"", argv[optind]);
	else if (san == NULL)
		status = adm_usage_error(ctx, "name the server with --dns or --ip (or both)");
	else if (is.out == NULL)
		status = adm_usage_error(ctx, "--out is required");
	else if (!est_key_spec_known(is.key_type))
		status = adm_usage_error(ctx, "unknown key type \"%s\"", is.key_type);
	else if (cn != NULL && (cn[0] == '\0' || strlen(cn) > CN_MAX))
		status = adm_usage_error(ctx, "--cn takes 1 to %d characters", CN_MAX);
	if (status != ADM_EXIT_OK)
		goto out;
	first_name(san, first, sizeof(first));
	if (cn == NULL && strlen(first) > CN_MAX) {
		status = adm_usage_error(ctx, "\"%s\" is longer than a CN may be (%d): give a "
		    "--cn", first, CN_MAX);
		goto out;
	}
	if ((status = make_subject(cn != NULL ? cn : first, &subject)) != ADM_EXIT_OK)
		goto out;
	is.subject = subject;
	is.san = san;
	status = adm_issue(ctx, &is);
out:
	X509_NAME_free(subject);
	GENERAL_NAMES_free(san);
	return status;
}
