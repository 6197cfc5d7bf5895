/*
 * estadm ee add|list|show|del|reset: end entities, the devices and people
 * pre-registered to enrol in client mode (what EJBCA's `ra addendentity`
 * does in the seed document).
 *
 * An end entity enrols through one alias of estd.conf, which must exist;
 * its DN and SAN are parsed and stored as DER (what gets certified) and as
 * text (what is shown). The enrolment code is stored only as its PBKDF2
 * hash; it is never printed.
 */
#define _XOPEN_SOURCE 700 /* strptime */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include "estadm.h"
#include "estkit/codec.h"
#include "estkit/config.h"
#include "estkit/pwhash.h"
#include "estkit/store.h"

#define USERNAME_MAX 128
#define CODE_MAX 255

struct ee_opts {
	const char *username, *dn, *san, *alias, *profile, *valid_until;
	const char *password_arg;       /* --password: "-" (standard input) only */
	const char *password_file;      /* --password-file */
	const char *password;           /* the code read (points to code), NULL for none */
	char code[ADM_SECRET_MAX];
	long long uses;                 /* -1 unlimited */
	bool uses_set, unlimited;
	bool no_password;               /* enrols by its name alone (EJBCA's "null" password) */
};

/* "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ" (UTC) or Unix seconds; -1 when none fits. */
static int64_t
parse_time(const char *s)
{
	struct tm tm;
	const char *end;
	char *e;
	long long n;

	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) != NULL && *end == '\0')
		return (int64_t)timegm(&tm);
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%d", &tm)) != NULL && *end == '\0') {
		tm.tm_hour = 23;
		tm.tm_min = 59;
		tm.tm_sec = 59;
		return (int64_t)timegm(&tm);
	}
	n = strtoll(s, &e, 10);
	return s[0] >= '0' && s[0] <= '9' && *e == '\0' && n > 0 ? (int64_t)n : -1;
}

static const char *
fmt_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "-");
	return buf;
}

static const char *
fmt_uses(int64_t uses, char *buf, size_t len)
{
	if (uses < 0)
		snprintf(buf, len, "unlimited");
	else
		snprintf(buf, len, "%lld", (long long)uses);
	return buf;
}

static int
parse_opts(const struct adm_ctx *ctx, int argc, char **argv, struct ee_opts *o)
{
	static const struct option longopts[] = {
		{ "username", required_argument, NULL, 'u' },
		{ "dn", required_argument, NULL, 'd' },
		{ "san", required_argument, NULL, 's' },
		{ "alias", required_argument, NULL, 'a' },
		{ "profile", required_argument, NULL, 'p' },
		{ "password", required_argument, NULL, 'w' },
		{ "password-file", required_argument, NULL, 'F' },
		{ "uses", required_argument, NULL, 'n' },
		{ "unlimited", no_argument, NULL, 'U' },
		{ "no-password", no_argument, NULL, 'N' },
		{ "valid-until", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->uses = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'u': o->username = optarg; break;
		case 'd': o->dn = optarg; break;
		case 's': o->san = optarg; break;
		case 'a': o->alias = optarg; break;
		case 'p': o->profile = optarg; break;
		case 'w': o->password_arg = optarg; break;
		case 'F': o->password_file = optarg; break;
		case 'U': o->unlimited = true; o->uses = -1; break;
		case 'N': o->no_password = true; break;
		case 't': o->valid_until = optarg; break;
		case 'n':
			o->uses = strtoll(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' || o->uses < 1 ||
			    o->uses > 1000000)
				return adm_usage_error(ctx, "--uses \"%s\": give 1-1000000", optarg);
			o->uses_set = true;
			break;
		default: return adm_bad_option(ctx, argv, longopts);
		}
	}
	if (o->unlimited && o->uses_set)
		return adm_usage_error(ctx, "give --uses N or --unlimited, not both");
	if (o->no_password && (o->password_arg != NULL || o->password_file != NULL))
		return adm_usage_error(ctx, "give --password or --no-password, not both");
	if (o->valid_until != NULL && parse_time(o->valid_until) < 0)
		return adm_usage_error(ctx, "--valid-until \"%s\": use YYYY-MM-DD, "
		    "YYYY-MM-DDTHH:MM:SSZ or Unix seconds", o->valid_until);
	return ADM_EXIT_OK;
}

/* The enrolment code from standard input, a file or the terminal, unless --no-password. */
static int
read_code(struct ee_opts *o)
{
	int status;

	if (o->no_password)
		return ADM_EXIT_OK;
	status = adm_read_secret(o->password_arg, o->password_file, "enrolment code", o->code,
	    sizeof(o->code));
	if (status == ADM_EXIT_OK && strlen(o->code) > CODE_MAX)
		status = adm_fail("the enrolment code is 1-%d characters", CODE_MAX);
	if (status == ADM_EXIT_OK)
		o->password = o->code;
	return status;
}

/*
 * Hash the code into a new string (caller free()s); NULL after reporting.
 * No code (--no-password) is stored as the empty string.
 */
static char *
hash_code(const char *code)
{
	struct est_error e = { 0 };
	struct est_pwhash h;
	char text[EST_PWHASH_TEXT_MAX];

	if (code == NULL)
		return strdup("");
	if (est_pwhash_new(code, strlen(code), &h, &e) != EST_OK) {
		adm_fail("%s", e.msg);
		return NULL;
	}
	est_pwhash_format(&h, text);
	return strdup(text);
}

/* DN and SAN into the record, as DER and as text. */
static int
fill_names(struct est_ee *ee, const struct ee_opts *o)
{
	struct est_error e = { 0 };
	X509_NAME *dn = NULL;
	GENERAL_NAMES *san = NULL;
	int status = ADM_EXIT_FAIL, n;

	if (est_name_parse(o->dn, &dn, &e) != EST_OK ||
	    (o->san != NULL && est_san_parse(o->san, &san, &e) != EST_OK)) {
		status = adm_fail("%s", e.msg);
		goto out;
	}
	ee->subject = est_name_text(dn);
	ee->san = est_san_text(san);
	ee->subject_der = NULL;
	if ((n = i2d_X509_NAME(dn, &ee->subject_der)) <= 0 || ee->subject == NULL || ee->san == NULL) {
		status = adm_fail("out of memory");
		goto out;
	}
	ee->subject_der_len = (size_t)n;
	if (san != NULL) {
		if ((n = i2d_GENERAL_NAMES(san, &ee->san_der)) <= 0) {
			status = adm_fail("out of memory");
			goto out;
		}
		ee->san_der_len = (size_t)n;
	}
	status = ADM_EXIT_OK;
out:
	X509_NAME_free(dn);
	GENERAL_NAMES_free(san);
	return status;
}

/* The alias (and profile) must be in the configuration. */
static int
check_config_names(const struct est_config *cfg, const struct ee_opts *o)
{
	const struct est_alias_conf *a = est_config_alias(cfg, o->alias);

	if (a == NULL)
		return adm_fail("no [alias %s] in the configuration", o->alias);
	if (!est_alias_is_client_mode(a))
		return adm_fail("alias %s is not in client mode (mode = client with "
		    "challenge-password, dn-part-password or vendor-mode): its clients do not "
		    "enrol as end entities", o->alias);
	if (o->profile != NULL && est_config_profile(cfg, o->profile) == NULL)
		return adm_fail("no [profile %s] in the configuration", o->profile);
	return ADM_EXIT_OK;
}

static int
store_ee(const struct est_config *cfg, struct est_ee *ee)
{
	struct est_error e = { 0 };
	struct est_store *st = NULL;
	int status;

	if ((status = adm_open_store(cfg, &st)) != ADM_EXIT_OK)
		return status;
	if (est_store_put_ee(st, ee, &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	est_store_close(st);
	return status;
}

int
adm_ee_add(const struct adm_ctx *ctx, int argc, char **argv)
{
	struct est_config *cfg = NULL;
	struct est_ee ee = { 0 };
	struct ee_opts o;
	int status;

	if ((status = parse_opts(ctx, argc, argv, &o)) != ADM_EXIT_OK)
		return status;
	if (optind != argc || o.username == NULL || o.dn == NULL || o.alias == NULL)
		return adm_usage_error(ctx, "ee add needs --username, --dn and --alias");
	if (o.username[0] == '\0' || strlen(o.username) > USERNAME_MAX)
		return adm_usage_error(ctx, "--username: 1-%d characters", USERNAME_MAX);
	if ((status = read_code(&o)) != ADM_EXIT_OK ||
	    (status = adm_load_config(ctx, &cfg)) != ADM_EXIT_OK ||
	    (status = check_config_names(cfg, &o)) != ADM_EXIT_OK ||
	    (status = fill_names(&ee, &o)) != ADM_EXIT_OK)
		goto out;
	ee.username = (char *)o.username;
	ee.alias = (char *)o.alias;
	ee.profile = (char *)(o.profile != NULL ? o.profile : "");
	ee.uses_left = o.uses;
	ee.valid_until = o.valid_until != NULL ? parse_time(o.valid_until) : 0;
	if ((ee.code_hash = hash_code(o.password)) == NULL) {
		status = ADM_EXIT_FAIL;
		goto out;
	}
	if ((status = store_ee(cfg, &ee)) == ADM_EXIT_OK)
		printf("registered %s (%s) for alias %s%s\n", ee.username, ee.subject, ee.alias,
		    o.no_password ? ", enrolling without a code" : "");
out:
	free(ee.subject);
	OPENSSL_free(ee.subject_der);
	free(ee.san);
	OPENSSL_free(ee.san_der);
	free(ee.code_hash);
	OPENSSL_cleanse(o.code, sizeof(o.code));
	est_config_free(cfg);
	return status;
}

/* ---- list, show ---------------------------------------------------------- */

static int
print_ee_row(const struct est_ee *ee, void *arg)
{
	char uses[24];

	(void)arg;
	printf("%-24s %-12s %-9s %s\n", ee->username, ee->alias,
	    fmt_uses(ee->uses_left, uses, sizeof(uses)), ee->subject);
	return 0;
}

int
adm_ee_list(const struct adm_ctx *ctx, int argc, char **argv)
{
	struct est_error e = { 0 };
	struct est_store *st = NULL;
	int status;

	if (argc != 1)
		return adm_usage_error(ctx, "ee list takes no arguments");
	if ((status = adm_open_configured_store(ctx, &st)) != ADM_EXIT_OK)
		return status;
	printf("%-24s %-12s %-9s %s\n", "USERNAME", "ALIAS", "USES-LEFT", "SUBJECT");
	if (est_store_list_ee(st, print_ee_row, NULL, &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	est_store_close(st);
	return status;
}

struct linked {
	int64_t ee_id;
	unsigned n;
};

static int
print_linked(const struct est_cert_rec *rec, void *arg)
{
	struct linked *l = arg;
	char t[40], shown[EST_SERIAL_SHOWN_MAX];

	if (rec->ee_id != l->ee_id)
		return 0;
	printf("%-14s %s %s until %s\n", l->n++ == 0 ? "certificates:" : "",
	    est_serial_shown(rec->serial, shown, sizeof(shown)),
	    est_cert_status_name(rec->status), fmt_time(rec->not_after, t, sizeof(t)));
	return 0;
}

static void
print_ee(const struct est_ee *ee)
{
	char t[40], uses[24];

	printf("username:      %s\n", ee->username);
	printf("subject:       %s\n", ee->subject);
	printf("san:           %s\n", ee->san[0] != '\0' ? ee->san : "-");
	printf("alias:         %s\n", ee->alias);
	printf("profile:       %s\n", ee->profile[0] != '\0' ? ee->profile : "(the alias's)");
	printf("uses left:     %s\n", fmt_uses(ee->uses_left, uses, sizeof(uses)));
	printf("valid until:   %s\n", fmt_time(ee->valid_until, t, sizeof(t)));
	printf("registered:    %s\n", fmt_time(ee->created_at, t, sizeof(t)));
	printf("last enrolled: %s\n", fmt_time(ee->last_used, t, sizeof(t)));
}

int
adm_ee_show(const struct adm_ctx *ctx, int argc, char **argv)
{
	struct est_error e = { 0 };
	struct est_store *st = NULL;
	struct est_ee *ee = NULL;
	struct linked l = { 0 };
	int status;

	if (argc != 2)
		return adm_usage_error(ctx, "ee show takes one username");
	if ((status = adm_open_configured_store(ctx, &st)) != ADM_EXIT_OK)
		return status;
	if (est_store_get_ee(st, argv[1], &ee, &e) != EST_OK) {
		status = adm_fail("%s", e.msg);
	} else {
		print_ee(ee);
		l.ee_id = ee->id;
		if (est_store_list_certs(st, NULL, print_linked, &l, &e) != EST_OK)
			status = adm_fail("%s", e.msg);
		else if (l.n == 0)
			printf("certificates:  none\n");
	}
	est_ee_free(ee);
	est_store_close(st);
	return status;
}

/* ---- del, reset ---------------------------------------------------------- */

int
adm_ee_del(const struct adm_ctx *ctx, int argc, char **argv)
{
	struct est_error e = { 0 };
	struct est_store *st = NULL;
	int status;

	if (argc != 2)
		return adm_usage_error(ctx, "ee del takes one username");
	if ((status = adm_open_configured_store(ctx, &st)) != ADM_EXIT_OK)
		return status;
	if (est_store_del_ee(st, argv[1], &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	else
		printf("removed %s (its certificates stay on record)\n", argv[1]);
	est_store_close(st);
	return status;
}

int
adm_ee_reset(const struct adm_ctx *ctx, int argc, char **argv)
{
	struct est_error e = { 0 };
	struct est_store *st = NULL;
	struct ee_opts o;
	char *hash;
	int status;

	if ((status = parse_opts(ctx, argc, argv, &o)) != ADM_EXIT_OK)
		return status;
	if (argc - optind != 1)
		return adm_usage_error(ctx, "ee reset needs one username");
	if (o.dn != NULL || o.san != NULL || o.alias != NULL || o.profile != NULL || o.username != NULL)
		return adm_usage_error(ctx, "ee reset changes only the code, --uses and "
		    "--valid-until; to change the names, del and add");
	if ((status = read_code(&o)) != ADM_EXIT_OK ||
	    (status = adm_open_configured_store(ctx, &st)) != ADM_EXIT_OK) {
		OPENSSL_cleanse(o.code, sizeof(o.code));
		return status;
	}
	hash = hash_code(o.password);
	OPENSSL_cleanse(o.code, sizeof(o.code));
	if (hash == NULL)
		status = ADM_EXIT_FAIL;
	else if (est_store_reset_ee(st, argv[optind], hash, o.uses,
	    o.valid_until != NULL ? parse_time(o.valid_until) : 0, &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	else
		printf("reset %s: %s\n", argv[optind], o.no_password ?
		    "enrols again without a code (its name alone admits it)" : "new enrolment code");
	free(hash);
	est_store_close(st);
	return status;
}
