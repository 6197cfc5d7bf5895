/*
 * estadm ca rollover: a root CA gets a new key (RFC 7030 §4.1.3, RFC 4210
 * §4.4). It makes the new key and root certificate (NewWithNew), the two
 * link certificates OldWithNew and NewWithOld, writes them beside the old
 * CA's files, and appends a [ca NEW] section to the configuration naming
 * the old CA as predecessor: estd then serves all of them in /cacerts,
 * issues under the new key from issue-from, and keeps renewing, revoking
 * and publishing the CRL of certificates under the old key until it is
 * removed after its expiry. Nothing in the old CA's section changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "estadm.h"
#include "estkit/ca.h"
#include "estkit/codec.h"
#include "estkit/config.h"

/* What the command line asks for. */
struct roll_opts {
	const char *ca;                 /* the CA rolling over */
	const char *name;               /* --name: the new [ca] section */
	const char *cn;                 /* --cn: the new root's common name */
	const char *key_type;           /* --key-type; NULL: as the old key */
	unsigned days;                  /* --days; 0: the old root's lifetime */
	const char *issue_from;         /* --issue-from now | +TIME | UTC time */
};

/* Everything made; freed by roll_clear. */
struct roll {
	const struct est_ca_conf *cc;
	struct est_ca *old, *next;
	EVP_PKEY *key;
	X509 *root, *own, *nwo;
	char name[80], cn[80], when[32];
	char key_path[PATH_MAX], cert_path[PATH_MAX], link_path[PATH_MAX], crl_file[PATH_MAX];
	bool made_key, made_cert, made_links;  /* written by make: unmake removes them */
};

static void
roll_clear(struct roll *r)
{
	est_ca_free(r->old);
	est_ca_free(r->next);
	EVP_PKEY_free(r->key);
	X509_free(r->root);
	X509_free(r->own);
	X509_free(r->nwo);
}

/* "NAME" -> "NAME-2", "NAME-2" -> "NAME-3"; likewise "CN" -> "CN G2", "CN G2" -> "CN G3". */
static void
next_of(const char *s, const char *sep, char *out, size_t len)
{
	size_t n = strlen(s), sl = strlen(sep), digits = 0;

	while (digits < n && s[n - 1 - digits] >= '0' && s[n - 1 - digits] <= '9')
		digits++;
	if (digits > 0 && digits < 6 && n >= digits + sl &&
	    strncmp(s + n - digits - sl, sep, sl) == 0)
		snprintf(out, len, "%.*s%ld", (int)(n - digits), s, strtol(s + n - digits, NULL, 10) + 1);
	else
		snprintf(out, len, "%s%s2", s, sep);
}

/* "now", "+90s"/"+7d" or "YYYY-MM-DDTHH:MM:SSZ" as the UTC text the config takes. */
static bool
issue_time(const char *arg, char *out, size_t len)
{
	time_t t = time(NULL);
	struct tm tm = { 0 };
	char *end;
	long long n;
	int used = 0, mday;

	if (arg != NULL && arg[0] == '+') {
		n = strtoll(arg + 1, &end, 10);
		if (end == arg + 1 || n < 0 || n > 3650LL * 86400 || end[0] == '\0' ||
		    end[1] != '\0' || strchr("dhms", end[0]) == NULL)
			return false;
		t += (time_t)(n * (end[0] == 'd' ? 86400 : end[0] == 'h' ? 3600 :
		    end[0] == 'm' ? 60 : 1));
	} else if (arg != NULL && strcmp(arg, "now") != 0) {
		if (sscanf(arg, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6 || arg[used] != '\0' ||
		    tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
		    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
			return false;
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		mday = tm.tm_mday;
		t = timegm(&tm);
		/* timegm makes 02-30 a day of March: a date that does not exist is refused. */
		if (tm.tm_mday != mday)
			return false;
	}
	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return true;
}

static time_t
unix_of(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		return 0;
	}
	return timegm(&tm);
}

/* The old root's common name, into buf ("" when it has none). */
static void
old_cn(struct est_ca *old, char *buf, size_t len)
{
	X509_NAME *n = X509_get_subject_name(est_ca_cert(old));
	int at = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	unsigned char *utf8 = NULL;

	buf[0] = '\0';
	if (at >= 0 && ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry(n, at))) >= 0)
		snprintf(buf, len, "%s", (char *)utf8);
	OPENSSL_free(utf8);
}

/* Names, paths and times of the new CA; the old CA loaded. */
static int
plan(const struct adm_ctx *ctx, const struct est_config *cfg, const struct roll_opts *o,
    struct roll *r)
{
	struct est_error e = { 0 };
	char dir[PATH_MAX], cn[80];

	if ((r->cc = est_config_ca(cfg, o->ca)) == NULL)
		return adm_usage_error(ctx, "no [ca %s] in %s", o->ca, cfg->path);
	if (access(cfg->path, W_OK) != 0)
		return adm_fail("%s: %s: the new CA is added to it", cfg->path, strerror(errno));
	if (r->cc->key_path == NULL || r->cc->chain_path != NULL)
		return adm_fail("CA %s: only a root CA with its key (no chain) rolls over here",
		    o->ca);
	if (r->cc->predecessor != NULL)
		return adm_fail("CA %s still succeeds %s: remove the old CA after it expired (and "
		    "predecessor, rollover-certificates, issue-from) before the next rollover",
		    o->ca, r->cc->predecessor);
	for (size_t i = 0; i < cfg->n_cas; i++)
		if (cfg->cas[i].predecessor != NULL && strcmp(cfg->cas[i].predecessor, o->ca) == 0)
			return adm_fail("CA %s already rolls over to %s", o->ca, cfg->cas[i].name);
	if (o->name != NULL)
		snprintf(r->name, sizeof(r->name), "%s", o->name);
	else
		next_of(o->ca, "-", r->name, sizeof(r->name));
	if (est_config_ca(cfg, r->name) != NULL)
		return adm_usage_error(ctx, "[ca %s] exists already: give --name", r->name);
	if (r->name[0] == '\0' || strspn(r->name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != strlen(r->name))
		return adm_usage_error(ctx, "--name \"%s\": use A-Z a-z 0-9 - _ .", r->name);
	if (!issue_time(o->issue_from, r->when, sizeof(r->when)))
		return adm_usage_error(ctx, "--issue-from \"%s\": use now, +DURATION (90s, 12h, 7d) "
		    "or a UTC time such as 2026-12-31T00:00:00Z", o->issue_from);
	if (est_ca_load(r->cc->name, r->cc->cert_path, r->cc->key_path, NULL, &r->old, &e) != EST_OK)
		return adm_fail("%s", e.msg);
	old_cn(r->old, cn, sizeof(cn));
	if (o->cn != NULL)
		snprintf(r->cn, sizeof(r->cn), "%s", o->cn);
	else
		next_of(cn[0] != '\0' ? cn : r->name, " G", r->cn, sizeof(r->cn));
	snprintf(dir, sizeof(dir), "%s", r->cc->cert_path);
	if (snprintf(r->key_path, sizeof(r->key_path), "%s/%s.key", dirname(dir), r->name) >=
	    (int)sizeof(r->key_path) ||
	    snprintf(r->cert_path, sizeof(r->cert_path), "%s/%s.pem", dir, r->name) >=
	    (int)sizeof(r->cert_path) ||
	    snprintf(r->link_path, sizeof(r->link_path), "%s/%s-rollover.pem", dir, r->name) >=
	    (int)sizeof(r->link_path) ||
	    snprintf(r->crl_file, sizeof(r->crl_file), "%s/%s.crl", dir, r->name) >=
	    (int)sizeof(r->crl_file))
		return adm_fail("%s: path too long", dir);
	return ADM_EXIT_OK;
}

/* The new root's lifetime: --days, else the old root's, and past the old one's end. */
static unsigned
days_for(const struct roll_opts *o, struct est_ca *old)
{
	X509 *c = est_ca_cert(old);
	time_t nb = unix_of(X509_get0_notBefore(c)), na = unix_of(X509_get0_notAfter(c));
	long long d = (na - nb) / 86400, left = (na - time(NULL)) / 86400 + 2;

	if (o->days != 0)
		return o->days;
	return (unsigned)(d > left ? d : left);
}

static int
write_links(const char *path, X509 *own, X509 *nwo, struct est_error *e)
{
	FILE *f;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);

	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		est_fail(e, errno == EEXIST ? EST_ERR_EXISTS : EST_ERR_IO, "cannot create %s: %s",
		    path, strerror(errno));
		return -1;
	}
	fputs("# OldWithOld's key and name signed by the new key (OldWithNew), then the new\n"
	    "# key and name signed by the old key (NewWithOld): RFC 7030 section 4.1.3\n", f);
	if (PEM_write_X509(f, own) != 1 || PEM_write_X509(f, nwo) != 1 || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		fclose(f);
		unlink(path);
		ERR_clear_error();
		est_fail(e, EST_ERR_IO, "cannot write %s", path);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* Remove the files make wrote (a failed rollover leaves nothing behind). */
static void
unmake(struct roll *r)
{
	if (r->made_key)
		unlink(r->key_path);
	if (r->made_cert)
		unlink(r->cert_path);
	if (r->made_links)
		unlink(r->link_path);
}

/* Make key, root and links, and write their files. */
static int
make(const struct roll_opts *o, struct roll *r)
{
	struct est_error e = { 0 };
	enum est_err rc;

	rc = o->key_type != NULL ? est_key_generate(o->key_type, &r->key, &e) :
	    est_key_generate_like(X509_get0_pubkey(est_ca_cert(r->old)), &r->key, &e);
	if (rc == EST_OK)
		rc = est_ca_make_successor(r->old, r->key, r->cn, days_for(o, r->old), &r->root, &e);
	if (rc == EST_OK && (rc = est_key_write(r->key_path, r->key, &e)) == EST_OK)
		r->made_key = true;
	if (rc == EST_OK && (rc = est_cert_write(r->cert_path, r->root, &e)) == EST_OK)
		r->made_cert = true;
	if (rc == EST_OK &&
	    (rc = est_ca_load(r->name, r->cert_path, r->key_path, NULL, &r->next, &e)) == EST_OK &&
	    (rc = est_ca_make_rollover(r->old, r->next, &r->own, &r->nwo, &e)) == EST_OK) {
		if (write_links(r->link_path, r->own, r->nwo, &e) != 0)
			rc = e.code != EST_OK ? e.code : EST_ERR_IO;
		else
			r->made_links = true;
	}
	if (rc != EST_OK) {
		adm_fail("%s", e.msg);
		unmake(r);
		return ADM_EXIT_FAIL;
	}
	return ADM_EXIT_OK;
}

/*
 * value with its last "/OLD." replaced by "/NEW." (the CA's CRL and
 * certificate URLs): the file name is last, and the host may hold the CA's
 * name too ("http://pki.example/crl/pki.crl").
 */
static void
renamed(const char *value, const char *old, const char *next, char *out, size_t len)
{
	char pat[96];
	const char *at = NULL, *p;

	snprintf(pat, sizeof(pat), "/%s.", old);
	for (p = value; (p = strstr(p, pat)) != NULL; p++)
		at = p;
	if (at == NULL)
		snprintf(out, len, "%s", value);
	else
		snprintf(out, len, "%.*s/%s.%s", (int)(at - value), value, next, at + strlen(pat));
}

/* A path as the configuration takes it: relative to its directory when inside. */
static const char *
conf_path(const struct est_config *cfg, const char *path)
{
	size_t n = strlen(cfg->dir);

	if (strncmp(path, cfg->dir, n) == 0 && path[n] == '/')
		return path + n + 1;
	return path;
}

/* Append the new CA's section to the configuration. */
static int
append_section(const struct est_config *cfg, struct roll *r)
{
	const struct est_ca_conf *cc = r->cc;
	char url[1024];
	struct stat st;
	FILE *f;

	if (stat(cfg->path, &st) != 0 || (f = fopen(cfg->path, "a")) == NULL)
		return adm_fail("cannot append to %s: %s", cfg->path, strerror(errno));
	fprintf(f, "\n# estadm ca rollover: CA %s rolls over to %s (RFC 7030 section 4.1.3).\n"
	    "# Remove [ca %s], and predecessor, rollover-certificates and issue-from\n"
	    "# below, once its certificate has expired; aliases then name ca = %s.\n"
	    "[ca %s]\ncertificate = %s\nkey = %s\npredecessor = %s\n"
	    "rollover-certificates = %s\nissue-from = %s\n", cc->name, r->name, cc->name, r->name,
	    r->name, conf_path(cfg, r->cert_path), conf_path(cfg, r->key_path), cc->name,
	    conf_path(cfg, r->link_path), r->when);
	if (cc->crl_file != NULL)
		fprintf(f, "crl-file = %s\n", conf_path(cfg, r->crl_file));
	fprintf(f, "crl-validity-hours = %u\nocsp-validity-minutes = %u\n", cc->crl_validity_hours,
	    cc->ocsp_validity_minutes);
	if (cc->crl_url != NULL) {
		renamed(cc->crl_url, cc->name, r->name, url, sizeof(url));
		fprintf(f, "crl-url = %s\n", url);
	}
	if (cc->ocsp_url != NULL)
		fprintf(f, "ocsp-url = %s\n", cc->ocsp_url);
	if (cc->ca_issuers_url != NULL) {
		renamed(cc->ca_issuers_url, cc->name, r->name, url, sizeof(url));
		fprintf(f, "ca-issuers-url = %s\n", url);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0) {
		/* No half section: the configuration goes back to what it was. */
		int err = errno;

		if (truncate(cfg->path, st.st_size) != 0)
			adm_fail("%s may hold part of [ca %s]: remove it", cfg->path, r->name);
		return adm_fail("cannot append to %s: %s", cfg->path, strerror(err));
	}
	return ADM_EXIT_OK;
}

static void
say_done(const struct est_config *cfg, struct roll *r)
{
	char until[32];
	time_t end = unix_of(X509_get0_notAfter(est_ca_cert(r->old)));
	struct tm tm;
	char *subj = est_name_text(X509_get_subject_name(r->root));

	gmtime_r(&end, &tm);
	strftime(until, sizeof(until), "%Y-%m-%d", &tm);
	printf("created %s (new CA key), %s (\"%s\", NewWithNew)\n"
	    "created %s (OldWithNew and NewWithOld)\n"
	    "added [ca %s] to %s: it succeeds %s and issues from %s\n"
	    "Restart estd: /cacerts then serves both CAs and the rollover certificates;\n"
	    "certificates under %s still renew (now under %s) and its CRL stays published.\n"
	    "Until %s (when %s expires), reissue estd's TLS certificate under %s and keep\n"
	    "[ca %s]; then remove it (see the comment above [ca %s]).\n",
	    r->key_path, r->cert_path, subj != NULL ? subj : "?", r->link_path, r->name, cfg->path,
	    r->cc->name, r->when, r->cc->name, r->name, until, r->cc->name, r->name, r->cc->name,
	    r->name);
	free(subj);
}

int
adm_ca_rollover(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "cn", required_argument, NULL, 'c' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "days", required_argument, NULL, 'd' },
		{ "issue-from", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct roll_opts o = { 0 };
	struct est_config *cfg = NULL, *check = NULL;
	struct roll r = { 0 };
	char *end;
	int c, status;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': o.name = optarg; break;
		case 'c': o.cn = optarg; break;
		case 'k': o.key_type = optarg; break;
		case 'f': o.issue_from = optarg; break;
		case 'd':
			o.days = (unsigned)strtoul(optarg, &end, 10);
			if (*end != '\0' || o.days < 1 || o.days > 36500)
				return adm_usage_error(ctx, "--days \"%s\": use 1-36500", optarg);
			break;
		default: return adm_bad_option(ctx, argv, longopts);
		}
	}
	if (argc - optind != 1)
		return adm_usage_error(ctx, "ca rollover needs the CA's name ([ca NAME])");
	o.ca = argv[optind];
	if ((status = adm_load_config(ctx, &cfg)) == ADM_EXIT_OK &&
	    (status = plan(ctx, cfg, &o, &r)) == ADM_EXIT_OK &&
	    (status = make(&o, &r)) == ADM_EXIT_OK) {
		if ((status = append_section(cfg, &r)) != ADM_EXIT_OK)
			unmake(&r);
		else if ((status = adm_load_config(ctx, &check)) == ADM_EXIT_OK)
			say_done(cfg, &r);
	}
	est_config_free(check);
	est_config_free(cfg);
	roll_clear(&r);
	return status;
}
