/*
 * estadm crl show|generate, ee revoke, ca ocsp-responder, and the CRL
 * renewal that follows every revocation (and release from hold) estadm
 * records.
 *
 * After a revocation or release the CA's CRL is renewed at once (store and crl-file)
 * when estadm can read the CA key; when it cannot, the change stands
 * and estd renews the CRL itself on its next request or check, which is
 * said on standard error.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "estadm.h"
#include "estkit/ca.h"
#include "estkit/codec.h"
#include "estkit/revoke.h"
#include "estkit/store.h"

/* Load the configured CA cc with its key. */
static int
load_ca(const struct est_ca_conf *cc, struct est_ca **out)
{
	struct est_error e = { 0 };

	if (cc->key_path == NULL)
		return adm_fail("CA %s has no key in the configuration: it makes no CRL", cc->name);
	if (est_ca_load(cc->name, cc->cert_path, cc->key_path, cc->chain_path, out, &e) != EST_OK)
		return adm_fail("%s", e.msg);
	return ADM_EXIT_OK;
}

/* The configured CA named name, or the only one with a key when name is NULL. */
static const struct est_ca_conf *
pick_ca(const struct est_config *cfg, const char *name)
{
	const struct est_ca_conf *found = NULL;

	if (name != NULL)
		return est_config_ca(cfg, name);
	for (size_t i = 0; i < cfg->n_cas; i++) {
		if (cfg->cas[i].key_path == NULL)
			continue;
		if (found != NULL)
			return NULL;
		found = &cfg->cas[i];
	}
	return found;
}

static const char *
utc(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "-");
	return buf;
}

/* Make (force) or fetch cc's current CRL; write crl-file when one was made. */
static int
current_crl(const struct est_ca_conf *cc, struct est_store *st, bool force,
    struct est_crl_rec **out)
{
	struct est_error e = { 0 };
	struct est_ca *ca = NULL;
	bool made = false;
	int status;

	if ((status = load_ca(cc, &ca)) != ADM_EXIT_OK)
		return status;
	if (est_crl_current(st, ca, cc->crl_validity_hours * 3600u, time(NULL), force, out,
	    &made, &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	else if (made && cc->crl_file != NULL && est_crl_write_file(cc->crl_file, *out, &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	est_ca_free(ca);
	return status;
}

int
adm_after_revoke(const struct est_config *cfg, struct est_store *st, const char *issuer,
    const char *lists)
{
	for (size_t i = 0; i < cfg->n_cas; i++) {
		const struct est_ca_conf *cc = &cfg->cas[i];
		struct est_crl_rec *crl = NULL;
		STACK_OF(X509) *certs = NULL;
		struct est_error e = { 0 };
		char *subject = NULL;
		bool match;

		if (cc->key_path == NULL || est_certs_read(cc->cert_path, &certs, &e) != EST_OK)
			continue;
		subject = est_name_text(X509_get_subject_name(sk_X509_value(certs, 0)));
		match = subject != NULL && strcmp(subject, issuer) == 0;
		free(subject);
		sk_X509_pop_free(certs, X509_free);
		if (!match)
			continue;
		if (current_crl(cc, st, false, &crl) != ADM_EXIT_OK) {
			fprintf(stderr, "estadm: the CRL of CA %s was not renewed now; estd renews "
			    "it on its next request or check\n", cc->name);
			return ADM_EXIT_OK;
		}
		printf("CRL number %lld of CA %s %s%s%s\n", (long long)crl->crl_number,
		    cc->name, lists, cc->crl_file != NULL ? "; written to " : "",
		    cc->crl_file != NULL ? cc->crl_file : "");
		est_crl_rec_free(crl);
	}
	return ADM_EXIT_OK;
}

int
adm_reason_arg(const struct adm_ctx *ctx, const char *name, int *reason)
{
	if (est_revoke_reason_parse(name, reason) != 0)
		return adm_usage_error(ctx, "unknown revocation reason \"%s\"", name);
	if (*reason == EST_REASON_REMOVE_FROM_CRL)
		return adm_usage_error(ctx, "removeFromCRL is no reason to revoke: it belongs in "
		    "delta CRLs only (RFC 5280 section 5.3.1), and a relying party reading it on "
		    "a CRL takes the certificate as not revoked");
	return ADM_EXIT_OK;
}

/* ---- crl show, crl generate --------------------------------------------- */

static int
print_crl(const struct est_crl_rec *rec, bool text)
{
	const unsigned char *p = rec->der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)rec->der_len);
	char t1[40], t2[40];
	int ok;

	if (crl == NULL)
		return adm_fail("the CRL on record does not decode");
	printf("crl number:   %lld\n", (long long)rec->crl_number);
	printf("this update:  %s\n", utc(rec->this_update, t1, sizeof(t1)));
	printf("next update:  %s\n", utc(rec->next_update, t2, sizeof(t2)));
	printf("entries:      %d\n", sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)));
	ok = !text || (PEM_write_X509_CRL(stdout, crl) == 1 && X509_CRL_print_fp(stdout, crl) == 1);
	X509_CRL_free(crl);
	return ok ? ADM_EXIT_OK : adm_fail("cannot print the CRL");
}

static int
crl_command(const struct adm_ctx *ctx, int argc, char **argv, bool force)
{
	static const struct option longopts[] = {
		{ "ca", required_argument, NULL, 'c' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *out = NULL;
	const struct est_ca_conf *cc;
	struct est_config *cfg = NULL;
	struct est_store *st = NULL;
	struct est_crl_rec *crl = NULL;
	struct est_error e = { 0 };
	int c, status;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': name = optarg; break;
		case 'o': out = optarg; break;
		default: return adm_bad_option(ctx, argv, longopts);
		}
	}
	if (optind != argc)
		return adm_usage_error(ctx, "unexpected argument \"%s\"", argv[optind]);
	if ((status = adm_load_config(ctx, &cfg)) != ADM_EXIT_OK)
		return status;
	if ((cc = pick_ca(cfg, name)) == NULL)
		status = name != NULL ? adm_fail("no CA %s in %s", name, cfg->path)
		    : adm_usage_error(ctx, "several CAs: name one with --ca");
	else if ((status = adm_open_store(cfg, &st)) == ADM_EXIT_OK &&
	    (status = current_crl(cc, st, force, &crl)) == ADM_EXIT_OK) {
		if (out != NULL && est_crl_write_file(out, crl, &e) != EST_OK)
			status = adm_fail("%s", e.msg);
		else
			status = print_crl(crl, !force);
	}
	est_crl_rec_free(crl);
	est_store_close(st);
	est_config_free(cfg);
	return status;
}

/* estadm crl show [--ca NAME] [--out FILE] */
int
adm_crl_show(const struct adm_ctx *ctx, int argc, char **argv)
{
	return crl_command(ctx, argc, argv, false);
}

/* estadm crl generate [--ca NAME] [--out FILE] */
int
adm_crl_generate(const struct adm_ctx *ctx, int argc, char **argv)
{
	return crl_command(ctx, argc, argv, true);
}

/* ---- ee revoke ----------------------------------------------------------- */

struct serials {
	char *issuer[256];
	char *serial[256];
	size_t n;
	bool more;
	bool held_too;           /* a final reason: certificates on hold are revoked for good */
};

static bool
on_hold(const struct est_cert_rec *rec)
{
	return rec->status == EST_CERT_REVOKED &&
	    rec->revocation_reason == EST_REASON_CERTIFICATE_HOLD;
}

static int
collect_valid(const struct est_cert_rec *rec, void *arg)
{
	struct serials *s = arg;

	if (rec->status != EST_CERT_VALID && !(s->held_too && on_hold(rec)))
		return 0;
	if (s->n == sizeof(s->serial) / sizeof(s->serial[0])) {
		s->more = true;
		return 1;
	}
	s->issuer[s->n] = strdup(rec->issuer);
	s->serial[s->n] = strdup(rec->serial);
	s->n++;
	return 0;
}

static int
revoke_all(struct est_store *st, struct serials *s, int reason)
{
	struct est_error e = { 0 };
	char shown[EST_SERIAL_SHOWN_MAX];
	int status = ADM_EXIT_OK;

	for (size_t i = 0; i < s->n; i++) {
		if (s->issuer[i] == NULL || s->serial[i] == NULL)
			status = adm_fail("out of memory");
		else if (est_store_revoke_cert(st, s->issuer[i], s->serial[i], reason,
		    (int64_t)time(NULL), &e) != EST_OK)
			status = adm_fail("%s", e.msg);
		else
			printf("revoked %s (%s)\n", est_serial_shown(s->serial[i], shown, sizeof(shown)),
			    est_revoke_reason_name(reason));
	}
	return status;
}

/*
 * estadm ee revoke USERNAME [--reason NAME]: every valid certificate, and
 * with a reason other than certificateHold every held one too, so that no
 * certificate of the end entity can be released later.
 */
int
adm_ee_revoke(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct est_config *cfg = NULL;
	struct est_store *st = NULL;
	struct est_ee *ee = NULL;
	struct est_error e = { 0 };
	struct serials s = { 0 };
	struct est_cert_filter f = { 0 };
	int c, status, reason = EST_REASON_UNSPECIFIED;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'r')
			return adm_bad_option(ctx, argv, longopts);
		if ((status = adm_reason_arg(ctx, optarg, &reason)) != ADM_EXIT_OK)
			return status;
	}
	if (argc - optind != 1)
		return adm_usage_error(ctx, "ee revoke takes one username");
	if ((status = adm_load_config(ctx, &cfg)) != ADM_EXIT_OK ||
	    (status = adm_open_store(cfg, &st)) != ADM_EXIT_OK)
		goto out;
	if (est_store_get_ee(st, argv[optind], &ee, &e) != EST_OK) {
		status = adm_fail("%s", e.msg);
		goto out;
	}
	f.ee_id = ee->id;
	s.held_too = reason != EST_REASON_CERTIFICATE_HOLD;
	if (est_store_list_certs(st, &f, collect_valid, &s, &e) != EST_OK) {
		status = adm_fail("%s", e.msg);
		goto out;
	}
	if (s.n == 0)
		printf("%s has no valid certificate on record%s\n", ee->username,
		    s.held_too ? ", nor one on hold" : "");
	status = revoke_all(st, &s, reason);
	for (size_t i = 0; i < s.n; i++)
		if (s.issuer[i] != NULL && (i == 0 || s.issuer[i - 1] == NULL ||
		    strcmp(s.issuer[i], s.issuer[i - 1]) != 0))
			adm_after_revoke(cfg, st, s.issuer[i], s.n > 1 ? "lists them" : "lists it");
	if (s.more)
		status = adm_fail("%s has more certificates: run ee revoke again", ee->username);
out:
	for (size_t i = 0; i < s.n; i++) {
		free(s.issuer[i]);
		free(s.serial[i]);
	}
	est_ee_free(ee);
	est_store_close(st);
	est_config_free(cfg);
	return status;
}

/* ---- ca ocsp-responder --------------------------------------------------- */

/*
 * How the configuration must name FILE, which was just written: estd reads
 * relative paths from the configuration's directory, not from where estadm
 * ran, so "var/ocsp.pem" given with -c var/estd.conf is "ocsp.pem" there.
 * A file elsewhere is named by its absolute path.
 */
static void
conf_name(const struct est_config *cfg, const char *file, char *out, size_t size)
{
	char *dir = realpath(cfg->dir, NULL), *abs = realpath(file, NULL);
	size_t n = dir != NULL ? strlen(dir) : 0;

	if (abs == NULL)
		snprintf(out, size, "%s", file);
	else if (dir != NULL && strncmp(abs, dir, n) == 0 && abs[n] == '/')
		snprintf(out, size, "%s", abs + n + 1);
	else
		snprintf(out, size, "%s", abs);
	free(dir);
	free(abs);
}

/* estadm ca ocsp-responder NAME --cert FILE --key FILE [--days N] [--key-type SPEC] */
int
adm_ca_ocsp_responder(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "days", required_argument, NULL, 'd' },
		{ "key-type", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cert_path = NULL, *key_path = NULL, *spec = "ec:P-256";
	const struct est_ca_conf *cc;
	struct est_config *cfg = NULL;
	struct est_ca *ca = NULL;
	struct est_error e = { 0 };
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	unsigned long days = 365;
	char cn[128], *end, conf_cert[PATH_MAX], conf_key[PATH_MAX];
	int c, status;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': cert_path = optarg; break;
		case 'k': key_path = optarg; break;
		case 't': spec = optarg; break;
		case 'd':
			days = strtoul(optarg, &end, 10);
			if (*end != '\0' || days < 1 || days > 3650)
				return adm_usage_error(ctx, "--days takes 1-3650");
			break;
		default: return adm_bad_option(ctx, argv, longopts);
		}
	}
	if (argc - optind != 1 || cert_path == NULL || key_path == NULL)
		return adm_usage_error(ctx, "ca ocsp-responder takes a CA name, --cert and --key");
	if ((status = adm_load_config(ctx, &cfg)) != ADM_EXIT_OK)
		return status;
	if ((cc = est_config_ca(cfg, argv[optind])) == NULL) {
		status = adm_fail("no CA %s in %s", argv[optind], cfg->path);
		goto out;
	}
	snprintf(cn, sizeof(cn), "%s OCSP responder", cc->name);
	if ((status = load_ca(cc, &ca)) != ADM_EXIT_OK)
		goto out;
	if (est_key_generate(spec, &key, &e) != EST_OK ||
	    est_ca_issue_ocsp_responder(ca, key, cn, (unsigned)days, &cert, &e) != EST_OK ||
	    est_key_write(key_path, key, &e) != EST_OK) {
		status = adm_fail("%s", e.msg);
		goto out;
	}
	if (est_cert_write(cert_path, cert, &e) != EST_OK) {
		/* A key without its certificate would only block the next try. */
		unlink(key_path);
		status = adm_fail("%s", e.msg);
		goto out;
	}
	printf("created %s and %s (\"%s\", id-kp-OCSPSigning, ocsp-nocheck)\n", key_path,
	    cert_path, cn);
	conf_name(cfg, cert_path, conf_cert, sizeof(conf_cert));
	conf_name(cfg, key_path, conf_key, sizeof(conf_key));
	printf("add to [ca %s] of %s and restart estd:\n  ocsp-certificate = %s\n  ocsp-key = %s\n",
	    cc->name, cfg->path, conf_cert, conf_key);
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	est_ca_free(ca);
	est_config_free(cfg);
	return status;
}
