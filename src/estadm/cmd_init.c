/*
 * estadm init: make a ready-to-run server directory -- a root CA, a TLS
 * server certificate it signed (on record in a fresh store), a users file and
 * estd.conf with paths relative to the directory. The store also gets the
 * demo vendor CAs of the EJBCA guide (external CAs for the estvendor alias).
 *
 * Invariants: nothing the administrator had is touched. Every target file is
 * checked to be absent before anything is written, every file is created
 * with O_EXCL, and on a failure midway only the files (and the directory)
 * this run created are removed, so the command can simply be run again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "estadm.h"
#include "estkit/ca.h"
#include "estkit/codec.h"
#include "estkit/httpauth.h"
#include "estkit/store.h"

#define CA_NAME "ManagementCA"
#define VENDOR_ROOT "VendorRootCA"
#define VENDOR_SUB "VendorSubCA"

/*
 * The vendor root and sub CA printed in the EJBCA guide's vendor-mode
 * example (public test certificates, valid until 2040; also in
 * tests/fixtures/vendor/), so that its vendor-cert.pem enrols as written.
 */
static const char vendor_root_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIB5zCCAY2gAwIBAgIIfIFBpHsapFAwCgYIKoZIzj0EAwMwRzELMAkGA1UEBhMC\n"
	"U0UxGTAXBgNVBAoMEFByaW1lS2V5IEZhY3RvcnkxHTAbBgNVBAMMFFZlbmRvciBS\n"
	"b290IENBIEVDMzg0MB4XDTIwMTAxOTA2MjExMloXDTQwMTAxNDA2MjExMlowRzEL\n"
	"MAkGA1UEBhMCU0UxGTAXBgNVBAoMEFByaW1lS2V5IEZhY3RvcnkxHTAbBgNVBAMM\n"
	"FFZlbmRvciBSb290IENBIEVDMzg0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n"
	"Pg1gVL60dcs+pI0xqdt+ZxFsi0z0PM/++tXy3CTN1MIL+UL7hjIbHZoKHDydDjvX\n"
	"Jh2wNEvR1uby3XIwg0+zVaNjMGEwDwYDVR0TAQH/BAUwAwEB/zAfBgNVHSMEGDAW\n"
	"gBSK0LnIltrD+4XTciuLinXtYpk/yzAdBgNVHQ4EFgQUitC5yJbaw/uF03Iri4p1\n"
	"7WKZP8swDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA0gAMEUCIQDsFbCpZbxA\n"
	"tPYrCaNm+8viymtxgW59rrUqbi4GweEqBQIgMvS0OeKVASGAeBIUoI3GBgszzVgj\n"
	"M6MzBjOO586jzSs=\n"
	"-----END CERTIFICATE-----\n";

static const char vendor_sub_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIB5jCCAYugAwIBAgIIc8lyzz9D+tQwCgYIKoZIzj0EAwMwRzELMAkGA1UEBhMC\n"
	"U0UxGTAXBgNVBAoMEFByaW1lS2V5IEZhY3RvcnkxHTAbBgNVBAMMFFZlbmRvciBS\n"
	"b290IENBIEVDMzg0MB4XDTIwMTAxOTA2MjE0MVoXDTQwMTAxNDA2MjExMlowRTEL\n"
	"MAkGA1UEBhMCU0UxGTAXBgNVBAoMEFByaW1lS2V5IEZhY3RvcnkxGzAZBgNVBAMM\n"
	"ElZlbmRvciBTdWJDQSBFQzM4NDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABP4c\n"
	"764FiC2EPqHqkHmRn7OdQoinqWe73yKfBSdTxppnQntMW1oq4kkO1A9qxWgiBN4f\n"
	"nvx/oByN38Pe1Sl0w1yjYzBhMA8GA1UdEwEB/wQFMAMBAf8wHwYDVR0jBBgwFoAU\n"
	"itC5yJbaw/uF03Iri4p17WKZP8swHQYDVR0OBBYEFOAbHblwsKqYhl4u5DX9hBpN\n"
	"KAAWMA4GA1UdDwEB/wQEAwIBhjAKBggqhkjOPQQDAwNJADBGAiEAhWK79GK75Y++\n"
	"uVLcF6TK2+FWvF0bN820Fwsdmzqsk1ACIQCkwGxvCmZ5RBclq3aWS37wnfucxqeU\n"
	"6efhzZTOTcKwGA==\n"
	"-----END CERTIFICATE-----\n";
#define CA_DAYS 3650
#define INIT_REALM "estkit"

/* The files init makes, in the order it makes them. */
enum init_file { F_CA_KEY, F_CA_PEM, F_TLS_KEY, F_TLS_PEM, F_DB, F_USERS, F_CONF, F__MAX };

static const char *const file_names[F__MAX] = {
	[F_CA_KEY] = "ca.key", [F_CA_PEM] = "ca.pem", [F_TLS_KEY] = "tls.key",
	[F_TLS_PEM] = "tls.pem", [F_DB] = "estkit.db", [F_USERS] = "users",
	[F_CONF] = "estd.conf",
};

enum init_port { P_HTTP, P_TLS, P_MTLS, P__MAX };

struct init_opts {
	const char *dir;
	const char *key_type;
	const char *ca_name;
	const char *addr;
	const char *port[P__MAX];
	const char *user;
	const char *password_arg;       /* --password: "-" only */
	const char *password_file;      /* --password-file */
	char password[ADM_SECRET_MAX];  /* the user's; the demo one without either */
	bool no_user;
	GENERAL_NAMES *tls_names;       /* --tls-name; NULL: none */
	char tls_cn[65];                /* the TLS certificate's CN: the first
	                                 * --tls-name host name, else localhost */
};

struct init_run {
	struct init_opts o;
	char path[F__MAX][PATH_MAX];    /* DIR/<file_names[i]> */
	bool made[F__MAX];
	bool made_dir;
	enum init_file doing;           /* the file being made, for the message */
	EVP_PKEY *ca_key;
	X509 *ca_cert;
	struct est_ca *ca;
	EVP_PKEY *tls_key;
	X509 *tls_cert;
	char base_url[300];             /* http://ADDR:PORT of the plain listener; "" for port 0 */
	char revocation_conf[1600];     /* the [ca] lines that publish revocation */
};

/* ---- arguments ----------------------------------------------------------- */

/* A port number as the configuration takes it: 0 (kernel's choice) .. 65535. */
static bool
valid_port(const char *s)
{
	char *end;
	unsigned long n;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	n = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0' && n <= 65535 && strlen(s) <= 5;
}

/* A host name or numeric address; nothing that could break the INI line. */
static bool
valid_addr(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 254 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") == n;
}

static int
check_opts(const struct adm_ctx *ctx, const struct init_opts *o)
{
	static const char *const port_opt[P__MAX] = { "--http-port", "--tls-port", "--mtls-port" };

	for (int i = 0; i < P__MAX; i++)
		if (!valid_port(o->port[i]))
			return adm_usage_error(ctx, "%s \"%s\": use a port number 0-65535 "
			    "(0: the kernel picks one)", port_opt[i], o->port[i]);
	if (!valid_addr(o->addr))
		return adm_usage_error(ctx, "--listen-address \"%s\": use a numeric address "
		    "or a host name", o->addr);
	if (o->ca_name[0] == '\0')
		return adm_usage_error(ctx, "--ca-name must not be empty");
	if (!o->no_user && !est_creds_valid_user(o->user))
		return adm_usage_error(ctx, "--user \"%s\": use 1-%d characters of "
		    "A-Z a-z 0-9 . _ @ + -", o->user, EST_HTTPAUTH_MAX_USER);
	return ADM_EXIT_OK;
}

/* The first host name of --tls-name that fits a CN (64 characters), else localhost. */
static void
tls_cn(struct init_opts *o)
{
	snprintf(o->tls_cn, sizeof(o->tls_cn), "localhost");
	for (int i = 0; i < sk_GENERAL_NAME_num(o->tls_names); i++) {
		const GENERAL_NAME *gen = sk_GENERAL_NAME_value(o->tls_names, i);
		int n = ASN1_STRING_length(gen->d.ia5);

		if (gen->type == GEN_DNS && n < (int)sizeof(o->tls_cn)) {
			snprintf(o->tls_cn, sizeof(o->tls_cn), "%.*s", n,
			    (const char *)ASN1_STRING_get0_data(gen->d.ia5));
			return;
		}
	}
}

static int
parse_args(const struct adm_ctx *ctx, int argc, char **argv, struct init_opts *o)
{
	static const struct option longopts[] = {
		{ "key-type", required_argument, NULL, 'k' },
		{ "ca-name", required_argument, NULL, 'n' },
		{ "listen-address", required_argument, NULL, 'a' },
		{ "http-port", required_argument, NULL, 'H' },
		{ "tls-port", required_argument, NULL, 'T' },
		{ "mtls-port", required_argument, NULL, 'M' },
		{ "user", required_argument, NULL, 'u' },
		{ "password", required_argument, NULL, 'p' },
		{ "password-file", required_argument, NULL, 'P' },
		{ "no-user", no_argument, NULL, 'N' },
		{ "tls-name", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct init_opts){ .key_type = "ec:P-256", .ca_name = "estkit Demo CA",
	    .addr = "127.0.0.1", .port = { "8080", "8442", "8443" },
	    .user = "estuser", .password = "estpwd" };
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': o->key_type = optarg; break;
		case 'n': o->ca_name = optarg; break;
		case 'a': o->addr = optarg; break;
		case 'H': o->port[P_HTTP] = optarg; break;
		case 'T': o->port[P_TLS] = optarg; break;
		case 'M': o->port[P_MTLS] = optarg; break;
		case 'u': o->user = optarg; break;
		case 'p': o->password_arg = optarg; break;
		case 'P': o->password_file = optarg; break;
		case 'N': o->no_user = true; break;
		case 'S':
			if ((c = adm_tls_names(ctx, "--tls-name", optarg, ADM_NAME_ANY,
			    &o->tls_names)) != ADM_EXIT_OK)
				return c;
			break;
		default: return adm_bad_option(ctx, argv, longopts);
		}
	}
	tls_cn(o);
	if (argc - optind != 1)
		return adm_usage_error(ctx, argc == optind ? "init needs a directory"
		    : "init takes one directory");
	o->dir = argv[optind];
	if (o->dir[0] == '\0')
		return adm_usage_error(ctx, "the directory name is empty");
	if ((c = check_opts(ctx, o)) != ADM_EXIT_OK || o->no_user ||
	    (o->password_arg == NULL && o->password_file == NULL))
		return c;
	return adm_read_secret(o->password_arg, o->password_file, "password", o->password,
	    sizeof(o->password));
}

/* ---- the directory ------------------------------------------------------- */

/* Fill r->path; refuse when any target exists. */
static int
plan_files(struct init_run *r)
{
	struct stat st;

	for (int i = 0; i < F__MAX; i++) {
		int n = snprintf(r->path[i], sizeof(r->path[i]), "%s/%s", r->o.dir, file_names[i]);

		if (n < 0 || (size_t)n >= sizeof(r->path[i]))
			return adm_fail("directory name too long: %s", r->o.dir);
	}
	if (lstat(r->path[F_CONF], &st) == 0)
		return adm_fail("%s already exists: %s is set up already (choose another "
		    "directory, or remove it to start over)", r->path[F_CONF], r->o.dir);
	for (int i = 0; i < F__MAX; i++)
		if (lstat(r->path[i], &st) == 0)
			return adm_fail("%s already exists; init makes every file afresh "
			    "(move it away or choose another directory)", r->path[i]);
	return ADM_EXIT_OK;
}

static int
make_dir(struct init_run *r)
{
	struct stat st;

	if (mkdir(r->o.dir, 0700) == 0) {
		r->made_dir = true;
		return ADM_EXIT_OK;
	}
	/* Anyone could swap estd.conf or the keys in a directory others may write. */
	if (errno == EEXIST && stat(r->o.dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & S_IWOTH) != 0)
		return adm_fail("%s is writable by others (mode %04o): anyone could replace the "
		    "keys or estd.conf; run: chmod o-w %s (or choose another directory)", r->o.dir,
		    (unsigned)(st.st_mode & 07777), r->o.dir);
	if (errno == EEXIST && stat(r->o.dir, &st) == 0 && S_ISDIR(st.st_mode))
		return ADM_EXIT_OK;
	if (errno == EEXIST)
		return adm_fail("%s exists and is not a directory", r->o.dir);
	return adm_fail("cannot create directory %s: %s", r->o.dir, strerror(errno));
}

/* Remove what this run made, newest first; leaves everything else alone. */
static void
undo(struct init_run *r)
{
	char side[PATH_MAX + 8];

	for (int i = F__MAX - 1; i >= 0; i--)
		if (r->made[i])
			unlink(r->path[i]);
	if (r->made[F_DB]) {
		/* SQLite's WAL files, in case the store left them behind. */
		snprintf(side, sizeof(side), "%s-wal", r->path[F_DB]);
		unlink(side);
		snprintf(side, sizeof(side), "%s-shm", r->path[F_DB]);
		unlink(side);
	}
	if (r->made_dir)
		rmdir(r->o.dir);
}

/*
 * Create path with O_EXCL and exactly `mode`, fill it through writer and
 * sync it. A half-written file is removed.
 */
static enum est_err
write_new_file(const char *path, mode_t mode, int (*writer)(FILE *, const void *),
    const void *arg, struct est_error *e)
{
	FILE *fp;
	int fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd == -1)
		return est_fail(e, EST_ERR_IO, "%s", strerror(errno));
	if (fchmod(fd, mode) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		est_fail(e, EST_ERR_IO, "%s", strerror(errno));
		close(fd);
		unlink(path);
		return EST_ERR_IO;
	}
	ok = writer(fp, arg) == 0 && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
	if (!ok)
		est_fail(e, EST_ERR_IO, "write failed: %s", strerror(errno));
	if (fclose(fp) != 0 && ok) {
		ok = 0;
		est_fail(e, EST_ERR_IO, "write failed: %s", strerror(errno));
	}
	if (!ok)
		unlink(path);
	return ok ? EST_OK : EST_ERR_IO;
}

/* ---- CA and TLS certificate --------------------------------------------- */

static enum est_err plan_revocation(struct init_run *r, struct est_error *e);

static enum est_err
make_ca(struct init_run *r, struct est_error *e)
{
	enum est_err rc;

	r->doing = F_CA_KEY;
	if ((rc = est_key_write(r->path[F_CA_KEY], r->ca_key, e)) != EST_OK)
		return rc;
	r->made[F_CA_KEY] = true;
	r->doing = F_CA_PEM;
	if ((rc = est_ca_make_root(r->ca_key, r->o.ca_name, CA_DAYS, &r->ca_cert, e)) != EST_OK ||
	    (rc = est_cert_write(r->path[F_CA_PEM], r->ca_cert, e)) != EST_OK)
		return rc;
	r->made[F_CA_PEM] = true;
	if ((rc = est_ca_load(CA_NAME, r->path[F_CA_PEM], r->path[F_CA_KEY], NULL, &r->ca, e)) != EST_OK)
		return rc;
	return plan_revocation(r, e);
}

/*
 * Point relying parties at the plain-HTTP listener: CRL, OCSP and the CA
 * certificate (DER), in the CA's certificates from the first one (estd's
 * own TLS certificate) on. With --http-port 0 the port is not known yet,
 * and a wildcard address is no URL, so then the URLs are left for the
 * administrator to add.
 */
static enum est_err
plan_revocation(struct init_run *r, struct est_error *e)
{
	bool v6 = strchr(r->o.addr, ':') != NULL;
	char crl[400], ocsp[400], crt[400];
	struct est_ca_revocation rv = { .crl_url = crl, .ocsp_url = ocsp, .ca_issuers_url = crt };

	/* A wildcard address names no host a relying party could reach. */
	if (strcmp(r->o.port[P_HTTP], "0") == 0 || strcmp(r->o.addr, "0.0.0.0") == 0 ||
	    strcmp(r->o.addr, "::") == 0) {
		snprintf(r->revocation_conf, sizeof(r->revocation_conf),
		    "# Relying parties: add crl-url, ocsp-url and ca-issuers-url (see\n"
		    "# docs/revocation.md) with this server's name and plain-HTTP port.\n"
		    "crl-file = " CA_NAME ".crl\n");
		return EST_OK;
	}
	snprintf(r->base_url, sizeof(r->base_url), "http://%s%s%s:%s", v6 ? "[" : "", r->o.addr,
	    v6 ? "]" : "", r->o.port[P_HTTP]);
	snprintf(crl, sizeof(crl), "%s/crl/" CA_NAME ".crl", r->base_url);
	snprintf(ocsp, sizeof(ocsp), "%s/ocsp", r->base_url);
	snprintf(crt, sizeof(crt), "%s/crl/" CA_NAME ".crt", r->base_url);
	snprintf(r->revocation_conf, sizeof(r->revocation_conf),
	    "# Relying parties learn of revocations from the plain-HTTP listener;\n"
	    "# certificates of this CA say where (docs/revocation.md).\n"
	    "crl-url = %s\n"
	    "ocsp-url = %s\n"
	    "ca-issuers-url = %s\n"
	    "crl-file = " CA_NAME ".crl\n", crl, ocsp, crt);
	return est_ca_set_revocation(r->ca, &rv, e);
}

/*
 * localhost, 127.0.0.1 and ::1, plus the listen address when it names one
 * particular host, and the --tls-name names (more: may be NULL), so clients
 * can check the name they connect to.
 */
static GENERAL_NAMES *
tls_san(const char *addr, const GENERAL_NAMES *more)
{
	static const char *const loopback[] = { "localhost", "127.0.0.1", "::1", "0.0.0.0", "::" };
	GENERAL_NAMES *san = sk_GENERAL_NAME_new_null();
	ASN1_OCTET_STRING *ip = a2i_IPADDRESS(addr);
	bool ok, is_ip = ip != NULL, extra = true;

	ASN1_OCTET_STRING_free(ip);
	for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
		if (strcmp(addr, loopback[i]) == 0)
			extra = false;
	ok = san != NULL && adm_san_add(san, GEN_DNS, "localhost") &&
	    adm_san_add(san, GEN_IPADD, "127.0.0.1") && adm_san_add(san, GEN_IPADD, "::1") &&
	    (!extra || adm_san_add(san, is_ip ? GEN_IPADD : GEN_DNS, addr)) &&
	    (more == NULL || adm_san_append(san, more));
	if (!ok) {
		GENERAL_NAMES_free(san);
		return NULL;
	}
	return san;
}

static int
write_chain(FILE *fp, const void *arg)
{
	const struct init_run *r = arg;

	return PEM_write_X509(fp, r->tls_cert) == 1 && PEM_write_X509(fp, r->ca_cert) == 1
	    ? 0 : -1;
}

static enum est_err
make_tls(struct init_run *r, struct est_error *e)
{
	static const struct est_profile profile = { .name = "tls-server",
	    .validity_days = 825, .eku = EST_EKU_SERVER_AUTH | EST_EKU_CLIENT_AUTH,
	    .copy_san = false };
	struct est_issue_req req = { 0 };
	X509_NAME *subject = NULL;
	GENERAL_NAMES *san = NULL;
	enum est_err rc;

	r->doing = F_TLS_KEY;
	if ((rc = est_key_generate("ec:P-256", &r->tls_key, e)) != EST_OK ||
	    (rc = est_key_write(r->path[F_TLS_KEY], r->tls_key, e)) != EST_OK)
		return rc;
	r->made[F_TLS_KEY] = true;
	r->doing = F_TLS_PEM;
	subject = X509_NAME_new();
	san = tls_san(r->o.addr, r->o.tls_names);
	if (subject == NULL || san == NULL || !X509_NAME_add_entry_by_txt(subject, "CN",
	    MBSTRING_ASC, (const unsigned char *)r->o.tls_cn, -1, -1, 0)) {
		rc = est_fail_ssl(e, EST_ERR_NOMEM, "cannot build the TLS certificate's names");
		goto out;
	}
	req.subject = subject;
	req.san = san;
	req.pubkey = r->tls_key;
	if ((rc = est_ca_issue(r->ca, &profile, &req, &r->tls_cert, e)) != EST_OK ||
	    (rc = write_new_file(r->path[F_TLS_PEM], 0644, write_chain, r, e)) != EST_OK)
		goto out;
	r->made[F_TLS_PEM] = true;
out:
	X509_NAME_free(subject);
	GENERAL_NAMES_free(san);
	return rc;
}

/* ---- store, users, configuration ---------------------------------------- */

/* Import one PEM certificate as an external CA. */
static enum est_err
import_vendor(struct est_store *st, const char *name, const char *pem, struct est_error *e)
{
	struct est_ext_ca ca = { 0 };
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	enum est_err rc = EST_ERR_NOMEM;
	int n;

	BIO_free(bio);
	if (cert != NULL && (n = i2d_X509(cert, &der)) > 0 &&
	    (ca.subject = est_name_text(X509_get_subject_name(cert))) != NULL) {
		ca.name = (char *)name;
		ca.der = der;
		ca.der_len = (size_t)n;
		rc = est_store_put_ext_ca(st, &ca, e);
	} else {
		est_fail_ssl(e, rc, "cannot read the built-in vendor CA %s", name);
	}
	free(ca.subject);
	OPENSSL_free(der);
	X509_free(cert);
	return rc;
}

/* Put the TLS certificate on record, so every certificate the CA signed is. */
static enum est_err
make_store(struct init_run *r, struct est_error *e)
{
	char uri[PATH_MAX + 8];
	struct est_store *st = NULL;
	struct est_cert_rec *rec = NULL;
	enum est_err rc;
	int fd;

	r->doing = F_DB;
	/* Create the file ourselves (O_EXCL), so undo() knows it is ours. */
	if ((fd = open(r->path[F_DB], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1)
		return est_fail(e, EST_ERR_IO, "%s", strerror(errno));
	close(fd);
	r->made[F_DB] = true;
	snprintf(uri, sizeof(uri), "sqlite:%s", r->path[F_DB]);
	if ((rc = est_store_create(uri, &st, e)) != EST_OK)
		return rc;
	if ((rc = est_cert_rec_from_x509(r->tls_cert, "estadm:init", "", &rec, e)) == EST_OK)
		rc = est_store_put_cert(st, rec, e);
	if (rc == EST_OK)
		rc = import_vendor(st, VENDOR_ROOT, vendor_root_pem, e);
	if (rc == EST_OK)
		rc = import_vendor(st, VENDOR_SUB, vendor_sub_pem, e);
	est_cert_rec_free(rec);
	est_store_close(st);
	return rc;
}

static enum est_err
make_users(struct init_run *r, struct est_error *e)
{
	enum est_err rc;

	r->doing = F_USERS;
	if (r->o.no_user)
		return EST_OK;
	rc = est_creds_set(r->path[F_USERS], INIT_REALM, r->o.user, r->o.password, NULL, e);
	if (rc == EST_OK)
		r->made[F_USERS] = true;
	return rc;
}

static int
write_conf(FILE *fp, const void *arg)
{
	const struct init_run *r = arg;
	/* An IPv6 address needs brackets to keep its colons apart from the port's. */
	bool v6 = strchr(r->o.addr, ':') != NULL;
	const char *lb = v6 ? "[" : "", *rb = v6 ? "]" : "";
	char date[32];
	time_t now = time(NULL);
	struct tm tm;

	strftime(date, sizeof(date), "%Y-%m-%d", gmtime_r(&now, &tm));
	return fprintf(fp,
	    "# estd configuration written by `estadm init` on %s.\n"
	    "# Every key is described in docs/configuration.md.\n"
	    "[server]\n"
	    "store = sqlite:estkit.db\n"
	    "credentials = users\n"
	    "realm = " INIT_REALM "\n"
	    "log-level = info\n"
	    "# Every certificate issued and every estadm change, hash-chained\n"
	    "# (estadm audit verify).\n"
	    "audit-log = audit.log\n"
	    "\n"
	    "# Plain HTTP: /cacerts only (RFC 7030 requires TLS for everything else),\n"
	    "# and the CRLs (/crl/NAME.crl) and OCSP responder (/ocsp) of every listener.\n"
	    "[listener http]\n"
	    "listen = %s%s%s:%s\n"
	    "tls = none\n"
	    "\n"
	    "# TLS with server authentication only: /cacerts, /simpleenroll with a password.\n"
	    "[listener tls]\n"
	    "listen = %s%s%s:%s\n"
	    "tls = server\n"
	    "certificate = tls.pem\n"
	    "key = tls.key\n"
	    "\n"
	    "# Mutual TLS: /simplereenroll with the certificate being renewed.\n"
	    "[listener mtls]\n"
	    "listen = %s%s%s:%s\n"
	    "tls = require-client\n"
	    "certificate = tls.pem\n"
	    "key = tls.key\n"
	    "\n"
	    "[ca " CA_NAME "]\n"
	    "certificate = ca.pem\n"
	    "key = ca.key\n"
	    "%s"
	    "\n"
	    "[profile tls-client]\n"
	    "validity-days = 365\n"
	    "extended-key-usage = clientAuth, serverAuth\n"
	    "copy-san = yes\n"
	    "\n"
	    "# Client mode (the EJBCA guide's alias est), also serving the paths without\n"
	    "# an alias: pre-registered end entities (estadm ee add) enrol with their\n"
	    "# code as the CSR's challengePassword, the CN naming them; HTTP users and\n"
	    "# certificates of this CA enrol too (the CSR's subject).\n"
	    "[alias est]\n"
	    "default = yes\n"
	    "mode = client\n"
	    "ca = " CA_NAME "\n"
	    "cacerts-ca = " CA_NAME "\n"
	    "profile = tls-client\n"
	    "username-component = CN\n"
	    "authentication = challenge-password, http, certificate\n"
	    "renew-same-key = yes\n"
	    "# Server-side key generation (RFC 7030 §4.4), as the EJBCA guide enables it.\n"
	    "# RSA 2048 whatever the CSR's key: the one kind libest's client reads.\n"
	    "# from-csr makes a key like the CSR's instead (EJBCA's behaviour).\n"
	    "server-keygen = yes\n"
	    "server-keygen-key = rsa:2048\n"
	    "# What /csrattrs advertises (not enforced: csrattrs-enforce = no).\n"
	    "csrattrs = ecPublicKey:P-256, ecdsa-with-SHA256, extensionRequest:subjectAltName\n"
	    "# Who may get which name (docs/configuration.md, \"Name rules\"): the names in\n"
	    "# the CSR of an HTTP user or RA certificate pass these; a certificate of this\n"
	    "# CA gets only its own names again, an end entity its registered ones.\n"
	    "san-types = dns, ip, email, uri\n"
	    "allow-wildcards = no\n"
	    "deny-dns-names = localhost, *.localhost\n"
	    "deny-ip-ranges = 127.0.0.0/8, ::1/128, 0.0.0.0/8, ::/128\n"
	    "key-types = ec:P-256, ec:P-384, rsa:2048-4096, ed25519\n"
	    "\n"
	    "# Vendor mode (the guide's alias estvendor): a device enrols the first time\n"
	    "# over mutual TLS with its manufacturer's certificate, issued under\n"
	    "# " VENDOR_SUB " (estadm ca list), as the end entity its CN names.\n"
	    "[alias estvendor]\n"
	    "mode = client\n"
	    "ca = " CA_NAME "\n"
	    "profile = tls-client\n"
	    "username-component = CN\n"
	    "authentication = none\n"
	    "vendor-mode = yes\n"
	    "vendor-cas = " VENDOR_SUB "\n"
	    "allow-change-subject-name = yes\n"
	    "renew-same-key = no\n"
	    "\n"
	    "# Manual approval: an enrolment by an HTTP user waits (202, Retry-After)\n"
	    "# until `estadm req approve ID` or `req reject ID`.\n"
	    "[alias approval]\n"
	    "mode = ra\n"
	    "ca = " CA_NAME "\n"
	    "profile = tls-client\n"
	    "authentication = http\n"
	    "approval = manual\n"
	    "retry-after = 5\n",
	    date, lb, r->o.addr, rb, r->o.port[P_HTTP], lb, r->o.addr, rb, r->o.port[P_TLS],
	    lb, r->o.addr, rb, r->o.port[P_MTLS], r->revocation_conf) < 0 ? -1 : 0;
}

static enum est_err
make_conf(struct init_run *r, struct est_error *e)
{
	enum est_err rc;

	r->doing = F_CONF;
	rc = write_new_file(r->path[F_CONF], 0644, write_conf, r, e);
	if (rc == EST_OK)
		r->made[F_CONF] = true;
	return rc;
}

/* ---- the command --------------------------------------------------------- */

/*
 * How to call estd beside this estadm: "build/estd" when estadm was called
 * as build/estadm (a build not installed, where a bare "estd" is not found),
 * else "estd".
 */
static void
estd_beside(const char *argv0, char *out, size_t size)
{
	const char *slash = argv0 != NULL ? strrchr(argv0, '/') : NULL;

	if (slash != NULL && (size_t)snprintf(out, size, "%.*sestd", (int)(slash - argv0 + 1),
	    argv0) < size && access(out, X_OK) == 0)
		return;
	snprintf(out, size, "estd");
}

static void
report(const struct init_run *r, const char *argv0)
{
	char estd[PATH_MAX];
	char key[64], until[16];
	const ASN1_TIME *na = X509_get0_notAfter(r->ca_cert);
	struct tm tm;

	est_key_describe(r->ca_key, key, sizeof(key));
	if (ASN1_TIME_to_tm(na, &tm) != 1 || strftime(until, sizeof(until), "%Y-%m-%d", &tm) == 0)
		snprintf(until, sizeof(until), "?");
	if (r->made_dir)
		printf("created %s/ (mode 0700)\n", r->o.dir);
	printf("created %s (%s CA key)\n", r->path[F_CA_KEY], key);
	printf("created %s (CA \"%s\", valid until %s)\n", r->path[F_CA_PEM], r->o.ca_name, until);
	printf("created %s (EC P-256 TLS key)\n", r->path[F_TLS_KEY]);
	printf("created %s (TLS certificate for %s, followed by the CA)\n",
	    r->path[F_TLS_PEM], r->o.tls_cn);
	printf("created %s (certificate store, with external CAs " VENDOR_ROOT " and "
	    VENDOR_SUB ")\n", r->path[F_DB]);
	if (!r->o.no_user)
		printf("created %s (user %s, realm " INIT_REALM ")\n", r->path[F_USERS], r->o.user);
	printf("created %s\n", r->path[F_CONF]);
	estd_beside(argv0, estd, sizeof(estd));
	printf("start the server: %s -c %s\n", estd, r->path[F_CONF]);
}

static void
run_free(struct init_run *r)
{
	EVP_PKEY_free(r->ca_key);
	X509_free(r->ca_cert);
	est_ca_free(r->ca);
	EVP_PKEY_free(r->tls_key);
	X509_free(r->tls_cert);
	GENERAL_NAMES_free(r->o.tls_names);
	OPENSSL_cleanse(r->o.password, sizeof(r->o.password));
	free(r);
}

/* estadm init DIR [options]: see the usage in main.c and estadm(8). */
int
adm_init(const struct adm_ctx *ctx, int argc, char **argv)
{
	struct est_error e = { 0 };
	struct init_run *r;
	int status;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return adm_fail("out of memory");
	if ((status = parse_args(ctx, argc, argv, &r->o)) != ADM_EXIT_OK ||
	    (status = plan_files(r)) != ADM_EXIT_OK)
		goto out;
	/* The CA key first: a bad --key-type fails before anything is written. */
	if (est_key_generate(r->o.key_type, &r->ca_key, &e) != EST_OK) {
		status = adm_fail("%s", e.msg);
		goto out;
	}
	if ((status = make_dir(r)) != ADM_EXIT_OK)
		goto out;
	if (make_ca(r, &e) != EST_OK || make_tls(r, &e) != EST_OK ||
	    make_store(r, &e) != EST_OK || make_users(r, &e) != EST_OK ||
	    make_conf(r, &e) != EST_OK) {
		status = adm_fail("cannot create %s: %s", r->path[r->doing], e.msg);
		undo(r);
		goto out;
	}
	report(r, ctx->argv0);
	adm_audit_config_is(r->path[F_CONF]);
out:
	run_free(r);
	return status;
}
