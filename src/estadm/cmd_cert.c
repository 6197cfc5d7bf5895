/*
 * estadm cert list|show|revoke|unrevoke: the certificate store seen by an
 * administrator. Reads go through est_store_list_certs/get_cert; the only
 * writes are est_store_revoke_cert and est_store_release_cert (a hold, and
 * only a hold, is undone). "expired" and "held" are not stored: a valid
 * record whose notAfter has passed is shown as expired, one revoked with
 * reason certificateHold as held.
 *
 * Serials typed by a person go through est_serial_normalise, so "0x2a",
 * "2a", "2A" and "00:2A" all name the same certificate; they are shown as
 * openssl prints them ("2A", "0A3F": est_serial_shown).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "estadm.h"
#include "estkit/codec.h"
#include "estkit/config.h"
#include "estkit/store.h"

#define SERIAL_MAX 128

/*
 * "valid", "revoked", "held" (revoked with certificateHold: cert unrevoke
 * can release it, which no other revocation allows) or "expired" at `now`.
 */
static const char *
status_text(const struct est_cert_rec *rec, int64_t now)
{
	if (rec->status == EST_CERT_VALID && rec->not_after < now)
		return "expired";
	if (rec->status == EST_CERT_REVOKED &&
	    rec->revocation_reason == EST_REASON_CERTIFICATE_HOLD)
		return "held";
	return est_cert_status_name(rec->status);
}

/* Unix seconds as a UTC date, or date and time; "-" for 0 (never set). */
static const char *
fmt_time(int64_t t, bool date_only, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	size_t n = 0;

	if (t != 0 && gmtime_r(&tt, &tm) != NULL)
		n = date_only ? strftime(buf, len, "%Y-%m-%d", &tm)
		    : strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (n == 0)
		snprintf(buf, len, "-");
	return buf;
}

/* ---- cert list ----------------------------------------------------------- */

struct list_row {
	char *serial;
	char *subject;
	const char *status;             /* static */
	char not_after[16];
};

struct list_rows {
	struct list_row *row;
	size_t n, cap;
	int64_t now;
	const char *serial;             /* only this one (est_serial_text), or NULL */
	bool nomem;
};

static int
collect(const struct est_cert_rec *rec, void *arg)
{
	struct list_rows *l = arg;
	struct list_row *r;
	char shown[EST_SERIAL_SHOWN_MAX];

	if (l->n == l->cap) {
		size_t cap = l->cap != 0 ? 2 * l->cap : 64;
		struct list_row *p = realloc(l->row, cap * sizeof(*p));

		if (p == NULL) {
			l->nomem = true;
			return 1;
		}
		l->row = p;
		l->cap = cap;
	}
	if (l->serial != NULL && strcmp(rec->serial, l->serial) != 0)
		return 0;
	r = &l->row[l->n];
	r->serial = strdup(est_serial_shown(rec->serial, shown, sizeof(shown)));
	r->subject = strdup(rec->subject);
	if (r->serial == NULL || r->subject == NULL) {
		free(r->serial);
		free(r->subject);
		l->nomem = true;
		return 1;
	}
	r->status = status_text(rec, l->now);
	fmt_time(rec->not_after, true, r->not_after, sizeof(r->not_after));
	l->n++;
	return 0;
}

/* Columns as wide as their widest entry, so the output lines up. */
static void
print_rows(const struct list_rows *l)
{
	int w = (int)strlen("SERIAL");

	for (size_t i = 0; i < l->n; i++)
		if ((int)strlen(l->row[i].serial) > w)
			w = (int)strlen(l->row[i].serial);
	printf("%-*s  %-7s  %-10s  %s\n", w, "SERIAL", "STATUS", "NOT-AFTER", "SUBJECT");
	for (size_t i = 0; i < l->n; i++)
		printf("%-*s  %-7s  %-10s  %s\n", w, l->row[i].serial, l->row[i].status,
		    l->row[i].not_after, l->row[i].subject);
}

static void
free_rows(struct list_rows *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->row[i].serial);
		free(l->row[i].subject);
	}
	free(l->row);
}

static int
list_certs(const struct adm_ctx *ctx, const struct est_cert_filter *f, const char *serial)
{
	struct list_rows rows = { .now = (int64_t)time(NULL), .serial = serial };
	struct est_error e = { 0 };
	struct est_store *st = NULL;
	int status;

	if ((status = adm_open_configured_store(ctx, &st)) != ADM_EXIT_OK)
		return status;
	if (est_store_list_certs(st, f, collect, &rows, &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	else if (rows.nomem)
		status = adm_fail("out of memory listing certificates");
	else
		print_rows(&rows);
	free_rows(&rows);
	est_store_close(st);
	return status;
}

/* estadm cert list [--valid | --revoked] [--subject PATTERN] [--serial SERIAL] */
int
adm_cert_list(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "valid", no_argument, NULL, 'v' },
		{ "revoked", no_argument, NULL, 'r' },
		{ "subject", required_argument, NULL, 's' },
		{ "serial", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct est_cert_filter f = { 0 };
	const char *pattern = NULL, *serial_opt = NULL;
	char serial[SERIAL_MAX];
	char *like = NULL;
	int c, status;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'v': f.only_valid = true; break;
		case 'r': f.only_revoked = true; break;
		case 's': pattern = optarg; break;
		case 'n': serial_opt = optarg; break;
		default: return adm_bad_option(ctx, argv, longopts);
		}
	}
	if (optind != argc)
		return adm_usage_error(ctx, "unexpected argument \"%s\"", argv[optind]);
	if (serial_opt != NULL && est_serial_normalise(serial_opt, serial, sizeof(serial)) != 0)
		return adm_usage_error(ctx, "--serial \"%s\" is not a serial number (hexadecimal, "
		    "as openssl x509 -serial prints it)", serial_opt);
	if (f.only_valid && f.only_revoked)
		return adm_usage_error(ctx, "--valid and --revoked exclude each other");
	/* Without a wildcard of its own, a pattern matches anywhere in the subject. */
	if (pattern != NULL && strchr(pattern, '%') == NULL) {
		size_t n = strlen(pattern) + 3;

		if ((like = malloc(n)) == NULL)
			return adm_fail("out of memory");
		snprintf(like, n, "%%%s%%", pattern);
	}
	f.subject_like = like != NULL ? like : pattern;
	status = list_certs(ctx, &f, serial_opt != NULL ? serial : NULL);
	free(like);
	return status;
}

/* ---- cert show ----------------------------------------------------------- */

static void
print_record(const struct est_cert_rec *rec)
{
	const char *reason;
	char t[40], shown[EST_SERIAL_SHOWN_MAX];

	printf("serial:       %s\n", est_serial_shown(rec->serial, shown, sizeof(shown)));
	printf("issuer:       %s\n", rec->issuer);
	printf("subject:      %s\n", rec->subject);
	printf("san:          %s\n", rec->san[0] != '\0' ? rec->san : "-");
	printf("status:       %s\n", status_text(rec, (int64_t)time(NULL)));
	if (rec->status == EST_CERT_REVOKED) {
		printf("revoked at:   %s\n", fmt_time(rec->revoked_at, false, t, sizeof(t)));
		reason = est_revoke_reason_name(rec->revocation_reason);
		printf("reason:       %s\n", reason != NULL ? reason : "-");
	}
	printf("principal:    %s\n", rec->principal);
	printf("alias:        %s\n", rec->alias[0] != '\0' ? rec->alias : "-");
	printf("issued at:    %s\n", fmt_time(rec->issued_at, false, t, sizeof(t)));
	printf("not before:   %s\n", fmt_time(rec->not_before, false, t, sizeof(t)));
	printf("not after:    %s\n", fmt_time(rec->not_after, false, t, sizeof(t)));
	printf("spki sha256:  %s\n", rec->spki_sha256);
}

/* The record, then the certificate as PEM and as text. */
static int
show_record(const struct est_cert_rec *rec)
{
	const unsigned char *p = rec->der;
	X509 *cert = d2i_X509(NULL, &p, (long)rec->der_len);
	char shown[EST_SERIAL_SHOWN_MAX];
	int ok;

	if (cert == NULL)
		return adm_fail("certificate %s on record does not decode",
		    est_serial_shown(rec->serial, shown, sizeof(shown)));
	print_record(rec);
	putchar('\n');
	ok = PEM_write_X509(stdout, cert) == 1 && X509_print_fp(stdout, cert) == 1;
	X509_free(cert);
	return ok ? ADM_EXIT_OK : adm_fail("cannot print certificate %s",
	    est_serial_shown(rec->serial, shown, sizeof(shown)));
}

/* The one SERIAL argument of cert show and revoke, normalised into serial. */
static int
serial_arg(const struct adm_ctx *ctx, int argc, char **argv, char serial[SERIAL_MAX])
{
	if (argc == optind)
		return adm_usage_error(ctx, "no serial number given");
	if (argc - optind > 1)
		return adm_usage_error(ctx, "unexpected argument \"%s\"", argv[optind + 1]);
	if (est_serial_normalise(argv[optind], serial, SERIAL_MAX) != 0)
		return adm_usage_error(ctx, "\"%s\" is not a serial number (hexadecimal, "
		    "as `estadm cert list` prints it)", argv[optind]);
	return ADM_EXIT_OK;
}

/*
 * The failure of a look-up by --issuer and serial. When the serial is on
 * record under an issuer written otherwise (openssl's "CN = x" for the
 * store's "CN=x"), say how to write it instead of only "no certificate".
 */
static int
lookup_failed(struct est_store *st, const char *issuer, const char *serial,
    const struct est_error *e)
{
	struct est_cert_rec *rec = NULL;
	struct est_error ignored = { 0 };
	int status;

	if (e->code != EST_ERR_NOTFOUND || issuer == NULL ||
	    est_store_get_cert(st, NULL, serial, &rec, &ignored) != EST_OK)
		return adm_fail("%s", e->msg);
	status = adm_fail("%s; it is on record with --issuer \"%s\" (as cert show prints it)",
	    e->msg, rec->issuer);
	est_cert_rec_free(rec);
	return status;
}

/* estadm cert show SERIAL [--issuer DN] */
int
adm_cert_show(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "issuer", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	struct est_error e = { 0 };
	struct est_store *st = NULL;
	struct est_cert_rec *rec = NULL;
	const char *issuer = NULL;
	char serial[SERIAL_MAX];
	int c, status;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'i')
			return adm_bad_option(ctx, argv, longopts);
		issuer = optarg;
	}
	if ((status = serial_arg(ctx, argc, argv, serial)) != ADM_EXIT_OK ||
	    (status = adm_open_configured_store(ctx, &st)) != ADM_EXIT_OK)
		return status;
	if (est_store_get_cert(st, issuer, serial, &rec, &e) != EST_OK)
		status = lookup_failed(st, issuer, serial, &e);
	else
		status = show_record(rec);
	est_cert_rec_free(rec);
	est_store_close(st);
	return status;
}

/* ---- cert revoke --------------------------------------------------------- */

/* estadm cert revoke SERIAL [--reason NAME] [--issuer DN] */
int
adm_cert_revoke(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "issuer", required_argument, NULL, 'i' },
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct est_error e = { 0 };
	struct est_config *cfg = NULL;
	struct est_store *st = NULL;
	struct est_cert_rec *rec = NULL;
	const char *issuer = NULL;
	char serial[SERIAL_MAX], shown[EST_SERIAL_SHOWN_MAX];
	int c, status, reason = EST_REASON_UNSPECIFIED;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': issuer = optarg; break;
		case 'r':
			if ((status = adm_reason_arg(ctx, optarg, &reason)) != ADM_EXIT_OK)
				return status;
			break;
		default: return adm_bad_option(ctx, argv, longopts);
		}
	}
	if ((status = serial_arg(ctx, argc, argv, serial)) != ADM_EXIT_OK ||
	    (status = adm_load_config(ctx, &cfg)) != ADM_EXIT_OK)
		return status;
	if ((status = adm_open_store(cfg, &st)) != ADM_EXIT_OK)
		goto out;
	if (est_store_revoke_cert(st, issuer, serial, reason, (int64_t)time(NULL), &e) != EST_OK ||
	    est_store_get_cert(st, issuer, serial, &rec, &e) != EST_OK) {
		status = lookup_failed(st, issuer, serial, &e);
		goto out;
	}
	printf("revoked %s (%s)\n", est_serial_shown(serial, shown, sizeof(shown)),
	    est_revoke_reason_name(reason));
	status = adm_after_revoke(cfg, st, rec->issuer, "lists it");
out:
	est_cert_rec_free(rec);
	est_store_close(st);
	est_config_free(cfg);
	return status;
}

/* ---- cert unrevoke ------------------------------------------------------- */

/*
 * The limit of valid certificates rec's end entity is held to when it
 * enrols (max-active-certificates of the alias it was issued through), so
 * a release cannot take it past what an enrolment may: 0 for none.
 */
static unsigned
active_limit(const struct est_config *cfg, const struct est_cert_rec *rec)
{
	const struct est_alias_conf *a;

	if (rec->ee_id == 0 || (a = est_config_alias(cfg, rec->alias)) == NULL)
		return 0;
	return a->max_active;
}

/* estadm cert unrevoke SERIAL [--issuer DN] */
int
adm_cert_unrevoke(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "issuer", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	struct est_error e = { 0 };
	struct est_config *cfg = NULL;
	struct est_store *st = NULL;
	struct est_cert_rec *rec = NULL;
	const char *issuer = NULL;
	char serial[SERIAL_MAX], shown[EST_SERIAL_SHOWN_MAX];
	int c, status;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'i')
			return adm_bad_option(ctx, argv, longopts);
		issuer = optarg;
	}
	if ((status = serial_arg(ctx, argc, argv, serial)) != ADM_EXIT_OK ||
	    (status = adm_load_config(ctx, &cfg)) != ADM_EXIT_OK)
		return status;
	if ((status = adm_open_store(cfg, &st)) != ADM_EXIT_OK)
		goto out;
	/* The store checks again, in the release's transaction, all it was read for. */
	if (est_store_get_cert(st, issuer, serial, &rec, &e) != EST_OK ||
	    est_store_release_cert(st, rec->issuer, serial, active_limit(cfg, rec),
	    (int64_t)time(NULL), &e) != EST_OK) {
		status = lookup_failed(st, issuer, serial, &e);
		goto out;
	}
	printf("released %s from hold: valid again\n",
	    est_serial_shown(serial, shown, sizeof(shown)));
	status = adm_after_revoke(cfg, st, rec->issuer, "no longer lists it");
out:
	est_cert_rec_free(rec);
	est_store_close(st);
	est_config_free(cfg);
	return status;
}
