/*
 * estclient: an EST client that takes Cisco libest's estclient command lines
 * unchanged (same letters, same meaning, same output files) and adds long
 * option names, clear errors and exit statuses.
 *
 * main.c only reads the command line: one option table, then the checks on
 * combinations, each refused with a usage error (status 2) that names the
 * options involved. run.c does the work.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "estclient.h"
#include "estkit/log.h"

/* Long-only options. */
enum {
	OPT_TRUSTANCHOR = 256, OPT_AUTH_TOKEN, OPT_COMMON_NAME, OPT_PEM_OUTPUT, OPT_PATH_SEG,
	OPT_SERVER, OPT_KEY_TYPE, OPT_RETRY_MAX, OPT_RESOLVE, OPT_DECRYPT_CERT, OPT_DECRYPT_KEY,
	OPT_EXPECT_FP, OPT_TLS13_ONLY, OPT_SERVER_NAMES, OPT_KEY_SIGNER, OPT_PASSWORD_FILE,
	OPT_PASSWORD_ENV, OPT_TOKEN_FILE, OPT_TOKEN_ENV, OPT_HELP, OPT_VERSION, OPT_SRP, OPT_SRP_USER,
	OPT_SRP_PASSWORD, OPT_SRP_PASSWORD_FILE
};

static const char short_opts[] = "gerqazvs:p:o:x:y:c:k:u:h:w:i:?";

static const struct option long_opts[] = {
	{ "cacerts", no_argument, NULL, 'g' },
	{ "enroll", no_argument, NULL, 'e' },
	{ "reenroll", no_argument, NULL, 'r' },
	{ "serverkeygen", no_argument, NULL, 'q' },
	{ "csrattrs", no_argument, NULL, 'a' },
	{ "channel-binding", no_argument, NULL, 'z' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "server", required_argument, NULL, OPT_SERVER },
	{ "path-seg", required_argument, NULL, OPT_PATH_SEG },
	{ "resolve", required_argument, NULL, OPT_RESOLVE },
	{ "trustanchor", required_argument, NULL, OPT_TRUSTANCHOR },
	{ "auth-token", required_argument, NULL, OPT_AUTH_TOKEN },
	{ "common-name", required_argument, NULL, OPT_COMMON_NAME },
	{ "pem-output", no_argument, NULL, OPT_PEM_OUTPUT },
	{ "key-type", required_argument, NULL, OPT_KEY_TYPE },
	{ "retry-max", required_argument, NULL, OPT_RETRY_MAX },
	{ "decrypt-cert", required_argument, NULL, OPT_DECRYPT_CERT },
	{ "decrypt-key", required_argument, NULL, OPT_DECRYPT_KEY },
	{ "srp", no_argument, NULL, OPT_SRP },
	{ "srp-user", required_argument, NULL, OPT_SRP_USER },
	{ "srp-password", required_argument, NULL, OPT_SRP_PASSWORD },
	{ "srp-password-file", required_argument, NULL, OPT_SRP_PASSWORD_FILE },
	{ "expect-fingerprint", required_argument, NULL, OPT_EXPECT_FP },
	{ "tls13-only", no_argument, NULL, OPT_TLS13_ONLY },
	{ "server-names", no_argument, NULL, OPT_SERVER_NAMES },
	{ "key-signer", required_argument, NULL, OPT_KEY_SIGNER },
	{ "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
	{ "password-env", required_argument, NULL, OPT_PASSWORD_ENV },
	{ "auth-token-file", required_argument, NULL, OPT_TOKEN_FILE },
	{ "auth-token-env", required_argument, NULL, OPT_TOKEN_ENV },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static void
usage(FILE *f)
{
	fputs("usage: estclient OPERATION... [OPTIONS]\n"
	    "       estclient renew ... (keep a certificate renewed: estclient renew --help)\n"
	    "\n"
	    "An EST (RFC 7030) client that takes libest estclient's command lines.\n"
	    "\n"
	    "Operations (run in this order; -e, -q and -r exclude each other):\n"
	    "  -g, --cacerts        get the CA certificates: DIR/cacert-0-0.pkcs7 (.pem)\n"
	    "  -a, --csrattrs       get the CSR attributes: DIR/csr-0-0.base64; with -e/-q/-r\n"
	    "                       fetch them first and build the CSR to match\n"
	    "  -e, --enroll         enrol: DIR/cert-0-0.pkcs7 (.pem); without -x or -y a new\n"
	    "                       key is made and written to DIR/key-x-x.pem\n"
	    "  -r, --reenroll       re-enrol with -c CERT -k KEY; same key, or a new one with\n"
	    "                       -x NEWKEY or -y NEWCSR (the certificate's names are kept)\n"
	    "  -q, --serverkeygen   the server makes the key: DIR/key-0-0.key and the cert\n"
	    "\n"
	    "Server:\n"
	    "  -s HOST              server name or address (its certificate must name it)\n"
	    "  -p PORT              port (default 443)\n"
	    "  --path-seg LABEL     the CA label: /.well-known/est/LABEL/...\n"
	    "  --server URL         instead of -s/-p/--path-seg:\n"
	    "                       https://HOST[:PORT][/.well-known/est[/LABEL]]\n"
	    "  --resolve HOST:PORT:ADDRESS   connect to ADDRESS for HOST:PORT\n"
	    "  --trustanchor FILE   CA certificates (PEM) that authenticate the server and\n"
	    "                       the certificates it issues; default $EST_OPENSSL_CACERT.\n"
	    "                       \"system\": the system's store (then no HTTP\n"
	    "                       credentials, and every CSR linked as with -z).\n"
	    "                       \"no\": none, for -g alone, with --expect-fingerprint\n"
	    "                       or a confirmation\n"
	    "  --expect-fingerprint sha256:HEX   --trustanchor no: the root /cacerts must\n"
	    "                       have (compare out of band, RFC 7030 §4.1.1)\n"
	    "  --tls13-only         refuse TLS 1.2\n"
	    "  -w SECONDS           give up after SECONDS without data (default 10)\n"
	    "\n"
	    "Authentication (sent only when the server asks):\n"
	    "  -u USER              HTTP Basic or Digest user; the password from\n"
	    "  --password-file FILE, --password-env VAR, or asked on the terminal\n"
	    "  -h PASSWORD          libest's way: visible to other users (ps)\n"
	    "  --auth-token-file FILE, --auth-token-env VAR   HTTP Bearer token\n"
	    "  --auth-token TOKEN   the same, visible to other users (ps)\n"
	    "  -c CERT -k KEY       TLS client certificate (PEM, chain after it) and key\n"
	    "                       (key files must not be readable by group or others)\n"
	    "  --srp --srp-user USER --srp-password-file FILE   TLS-SRP (legacy; TLS 1.2):\n"
	    "                       the password is the file's first line (libest's\n"
	    "                       --srp-password PASSWORD works too, visible to ps)\n"
	    "\n"
	    "The request:\n"
	    "  -x KEY               private key (PEM) that signs the CSR\n"
	    "  -y CSR               a ready CSR (PEM or DER), sent as it is\n"
	    "  --common-name CN     subject of the CSR estclient builds (default: host name)\n"
	    "  --key-type TYPE      key estclient makes: ec:P-256 (default), ec:P-384,\n"
	    "                       rsa:2048, rsa:3072, rsa:4096, ed25519 (or rsa, ec)\n"
	    "  -z, --channel-binding  put the TLS channel binding (tls-unique; tls-exporter\n"
	    "                       on TLS 1.3) in the CSR's challengePassword\n"
	    "  --decrypt-cert CERT --decrypt-key KEY   -q: ask for the key encrypted to\n"
	    "                       CERT's key, and decrypt it\n"
	    "  --key-signer CERT    -q --decrypt-cert: who besides the issuing CA may sign\n"
	    "                       the key package\n"
	    "  --server-names       the server chooses subject and subjectAltName (EJBCA\n"
	    "                       client mode): do not compare them with the CSR's\n"
	    "  --retry-max N        wait out a 202 (pending) answer N times (default 3)\n"
	    "\n"
	    "Output:\n"
	    "  -o DIR               output directory (default .)\n"
	    "  --pem-output         certificates (and the -q key) as PEM\n"
	    "  -i N                 repeat N times: files ...-0-0 to ...-0-(N-1)\n"
	    "  -v, --verbose        say what happens, on standard error\n"
	    "  --help, -?           this text;  --version: the version\n"
	    "\n"
	    "Exit status: 0 success, 1 failure, 2 usage, 3 server unreachable,\n"
	    "4 TLS or server authentication (also an unconfirmed bootstrap root),\n"
	    "5 authentication refused (HTTP 401/403), 6 request refused (other 4xx,\n"
	    "501), 7 server error (5xx) or an answer refused on validation, 8 still\n"
	    "pending (202). See estclient(1).\n", f);
}

int
cli_fail(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("estclient: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

static int
usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("estclient: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (estclient --help lists the options)\n", stderr);
	return CLI_USAGE;
}

/* An unsigned number in [min, max]; false otherwise. */
static bool
parse_num(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || n < min || n > max)
		return false;
	*out = (unsigned)n;
	return true;
}

/* --key-type: est_key_generate's specs, with "rsa" and "ec" as short forms. */
static const char *
key_type(const char *s)
{
	if (strcmp(s, "rsa") == 0)
		return "rsa:2048";
	if (strcmp(s, "ec") == 0)
		return "ec:P-256";
	return s;
}

/* Options with a numeric value. */
static int
take_number(int c, const char *arg, struct cli_opts *o)
{
	switch (c) {
	case 'p':
		if (!parse_num(arg, 1, 65535, &o->port))
			return usage_error("-p \"%s\": use a port number 1-65535", arg);
		break;
	case 'w':
		if (!parse_num(arg, 1, 3600, &o->read_timeout))
			return usage_error("-w \"%s\": use 1-3600 seconds", arg);
		break;
	case 'i':
		if (!parse_num(arg, 1, 1000000, &o->iterations))
			return usage_error("-i \"%s\": use 1-1000000", arg);
		break;
	default:
		if (!parse_num(arg, 0, 100, &o->retry_max))
			return usage_error("--retry-max \"%s\": use 0-100", arg);
		break;
	}
	return CLI_OK;
}

/* --trustanchor FILE | system | no */
static void
take_trust(const char *arg, struct cli_opts *o)
{
	o->bootstrap = strcmp(arg, "no") == 0;
	o->system_trust = strcmp(arg, "system") == 0;
	o->ta_file = arg;
}

/* One option; CLI_OK, or a usage error already reported. */
static int
take_option(int c, const char *arg, struct cli_opts *o)
{
	switch (c) {
	case 'g': o->cacerts = true; break;
	case 'e': o->enroll = true; break;
	case 'r': o->reenroll = true; break;
	case 'q': o->keygen = true; break;
	case 'a': o->csrattrs = true; break;
	case 'z': o->bind = true; break;
	case 'v': o->verbose = true; break;
	case 's': o->host = arg; break;
	case 'o': o->outdir = arg; break;
	case 'x': o->key_file = arg; break;
	case 'y': o->csr_file = arg; break;
	case 'c': o->cert_file = arg; break;
	case 'k': o->cert_key_file = arg; break;
	case 'u': o->user = arg; break;
	case 'h': o->password = arg; break;
	case 'p': case 'w': case 'i': case OPT_RETRY_MAX: return take_number(c, arg, o);
	case OPT_SERVER: o->url = arg; break;
	case OPT_PATH_SEG: o->label = arg; break;
	case OPT_RESOLVE: o->resolve = arg; break;
	case OPT_TRUSTANCHOR: take_trust(arg, o); break;
	case OPT_AUTH_TOKEN: o->token = arg; break;
	case OPT_COMMON_NAME: o->cn = arg; break;
	case OPT_PEM_OUTPUT: o->pem = true; break;
	case OPT_KEY_TYPE: o->key_type = key_type(arg); break;
	case OPT_DECRYPT_CERT: o->decrypt_cert = arg; break;
	case OPT_DECRYPT_KEY: o->decrypt_key = arg; break;
	case OPT_SRP: o->srp = true; break;
	case OPT_SRP_USER: o->srp_user = arg; break;
	case OPT_SRP_PASSWORD: o->srp_password = arg; break;
	case OPT_SRP_PASSWORD_FILE: o->srp_password_file = arg; break;
	case OPT_EXPECT_FP: o->fingerprint = arg; break;
	case OPT_TLS13_ONLY: o->tls13_only = true; break;
	case OPT_SERVER_NAMES: o->names_by_server = true; break;
	case OPT_KEY_SIGNER: o->key_signer = arg; break;
	case OPT_PASSWORD_FILE: o->password_file = arg; break;
	case OPT_PASSWORD_ENV: o->password_env = arg; break;
	case OPT_TOKEN_FILE: o->token_file = arg; break;
	case OPT_TOKEN_ENV: o->token_env = arg; break;
	default: return CLI_USAGE;
	}
	return CLI_OK;
}

/* The operations, and what each needs. */
static int
check_operations(const struct cli_opts *o)
{
	if (!o->cacerts && !o->enroll && !o->reenroll && !o->keygen && !o->csrattrs)
		return usage_error("no operation: give -g, -e, -r, -q or -a");
	if (o->enroll + o->reenroll + o->keygen > 1)
		return usage_error("-e, -r and -q exclude each other: run estclient once for each");
	if (o->reenroll && (o->cert_file == NULL || o->cert_key_file == NULL))
		return usage_error("-r needs the certificate being renewed and its key: -c CERT -k KEY");
	if ((o->cert_file == NULL) != (o->cert_key_file == NULL))
		return usage_error("-c and -k go together (the client certificate and its key)");
	if (o->key_file != NULL && o->csr_file != NULL)
		return usage_error("-x and -y exclude each other: -x signs a CSR estclient builds, "
		    "-y is a ready one");
	if (o->csr_file != NULL && o->bind)
		return usage_error("-z needs a CSR estclient builds: give the key with -x instead of -y");
	if (o->csr_file != NULL && o->csrattrs)
		return usage_error("-a builds the CSR to match the server's attributes: give the key "
		    "with -x instead of -y");
	if ((o->decrypt_cert == NULL) != (o->decrypt_key == NULL) ||
	    (o->decrypt_cert != NULL && !o->keygen))
		return usage_error("--decrypt-cert and --decrypt-key go together, with -q");
	if (o->key_signer != NULL && o->decrypt_cert == NULL)
		return usage_error("--key-signer goes with -q --decrypt-cert/--decrypt-key");
	return CLI_OK;
}

static bool
has_credentials(const struct cli_opts *o)
{
	return o->user != NULL || o->password != NULL || o->token != NULL ||
	    o->password_file != NULL || o->password_env != NULL || o->token_file != NULL ||
	    o->token_env != NULL;
}

/*
 * --trustanchor system (RFC 7030 §6, est-conformance.md EST-C-26): any CA in
 * the system's store may vouch for the server's name, so that server is not
 * thereby the EST server a password was meant for. The client then proves
 * itself by its certificate only, and links every CSR to its connection
 * (libestkit does both: est_client_new refuses the credentials, ops.c binds
 * the CSR); refused here too, before a password is asked for, and -y as an
 * option that cannot be. TLS-SRP is exempt: it authenticates the server.
 */
static int
check_implicit_ta(const struct cli_opts *o)
{
	if (!o->system_trust || o->srp)
		return CLI_OK;
	if (has_credentials(o))
		return usage_error("--trustanchor system: HTTP credentials go only to a server an "
		    "explicit trust anchor vouches for (RFC 7030 §6): authenticate with -c/-k, or "
		    "get the EST CA's root with -g --trustanchor system and give its "
		    "cacert-root-0-0.pem as --trustanchor (with the root of the server's TLS "
		    "certificate in the same file, if another CA issued that)");
	if ((o->enroll || o->reenroll || o->keygen) && o->csr_file != NULL)
		return usage_error("--trustanchor system links every CSR to its TLS connection "
		    "(RFC 7030 §6): give the key with -x instead of the ready CSR -y");
	return CLI_OK;
}

/* The server, its trust, the credentials. */
static int
check_server(struct cli_opts *o)
{
	if (o->url != NULL && (o->host != NULL || o->port != 0 || o->label != NULL))
		return usage_error("--server names host, port and label: leave out -s, -p and "
		    "--path-seg");
	if (o->url == NULL && o->host == NULL)
		return usage_error("no server: give -s HOST [-p PORT] or --server URL");
	if (o->ta_file == NULL && (o->ta_file = getenv("EST_OPENSSL_CACERT")) != NULL &&
	    o->ta_file[0] == '\0')
		o->ta_file = NULL;
	if (o->ta_file == NULL)
		return usage_error("no trust anchor: set EST_OPENSSL_CACERT or give --trustanchor "
		    "FILE, the CA certificate that issued the server's TLS certificate");
	if (o->bootstrap && (o->enroll || o->reenroll || o->keygen || o->csrattrs))
		return usage_error("--trustanchor no allows -g only: nothing else may go to a "
		    "server that was not authenticated");
	if (o->bootstrap && has_credentials(o))
		return usage_error("--trustanchor no: credentials are never sent to a server that "
		    "was not authenticated (RFC 7030 §4.1.1)");
	if (o->bootstrap && o->cert_file != NULL)
		return usage_error("--trustanchor no: the client certificate (-c/-k) is never shown "
		    "to a server that was not authenticated (RFC 7030 §4.1.1)");
	if (o->fingerprint != NULL && !o->bootstrap)
		return usage_error("--expect-fingerprint goes with --trustanchor no");
	if (o->srp != (o->srp_user != NULL) ||
	    (o->srp && (o->srp_password != NULL) == (o->srp_password_file != NULL)))
		return usage_error("TLS-SRP needs --srp, --srp-user USER and one of "
		    "--srp-password-file FILE or --srp-password PASSWORD");
	if ((o->srp_password != NULL || o->srp_password_file != NULL) && !o->srp)
		return usage_error("--srp-password goes with --srp --srp-user USER");
	if (o->srp && o->bootstrap)
		return usage_error("--srp authenticates the server itself: leave out "
		    "--trustanchor no");
	return check_implicit_ta(o);
}

/* Exactly one of the sources may be given; *n counts them. */
static void
count(const void *p, int *n)
{
	*n += p != NULL;
}

/*
 * The password and the token, from wherever the options say; a password
 * for -u that is given nowhere is asked on the terminal.
 */
static int
take_secrets(struct cli_opts *o)
{
	int pw = 0, tok = 0;

	count(o->password, &pw);
	count(o->password_file, &pw);
	count(o->password_env, &pw);
	count(o->token, &tok);
	count(o->token_file, &tok);
	count(o->token_env, &tok);
	if (pw > 1 || tok > 1)
		return usage_error("give the %s once: one of %s", pw > 1 ? "password" : "token",
		    pw > 1 ? "-h, --password-file, --password-env" :
		    "--auth-token, --auth-token-file, --auth-token-env");
	if (o->password != NULL)
		cli_fail(0, "warning: -h puts the password where other users can see it (ps); "
		    "use --password-file or --password-env");
	if (o->token != NULL)
		cli_fail(0, "warning: --auth-token puts the token where other users can see it "
		    "(ps); use --auth-token-file or --auth-token-env");
	if (o->password_file != NULL)
		o->owned_password = cli_secret_file(o->password_file);
	else if (o->password_env != NULL)
		o->owned_password = cli_secret_env(o->password_env);
	else if (o->user != NULL && o->password == NULL)
		o->owned_password = cli_secret_prompt("password");
	if (o->user != NULL && o->password == NULL && o->owned_password == NULL)
		return usage_error("-u needs the password: --password-file FILE, --password-env "
		    "VAR, a terminal to type it on, or -h PASSWORD");
	if (o->owned_password != NULL)
		o->password = o->owned_password;
	if (o->token_file != NULL)
		o->owned_token = cli_secret_file(o->token_file);
	else if (o->token_env != NULL)
		o->owned_token = cli_secret_env(o->token_env);
	if ((o->token_file != NULL || o->token_env != NULL) && o->owned_token == NULL)
		return CLI_USAGE;
	if (o->owned_token != NULL)
		o->token = o->owned_token;
	if (o->srp_password_file != NULL &&
	    (o->srp_password = o->owned_srp_password = cli_secret_file(o->srp_password_file)) == NULL)
		return CLI_USAGE;
	return CLI_OK;
}

/* Options that have no effect in this combination: say so, go on. */
static void
warn_ignored(const struct cli_opts *o)
{
	if (o->cn != NULL && (o->csr_file != NULL || o->reenroll))
		cli_fail(0, "note: --common-name is ignored: %s", o->reenroll ?
		    "-r keeps the certificate's subject" : "-y sends the CSR as it is");
	if (o->key_type != NULL && (o->key_file != NULL || o->csr_file != NULL || !o->enroll))
		cli_fail(0, "note: --key-type is ignored: it applies to a key -e makes");
}

static void
log_sink(enum est_log_level level, const char *line, void *arg)
{
	(void)arg;
	fprintf(stderr, "estclient: %s%s\n", level == EST_LOG_WARN ? "warning: " : "", line);
}

int
main(int argc, char **argv)
{
	struct cli_opts o = { .outdir = ".", .iterations = 1, .retry_max = 3 };
	int c, rc;

	if (argc > 1 && strcmp(argv[1], "renew") == 0)
		return renew_main(argc - 1, argv + 1);
	opterr = 0;
	while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
		if (c == OPT_HELP || (c == '?' && strcmp(argv[optind - 1], "-?") == 0)) {
			usage(stdout);
			return CLI_OK;
		}
		if (c == OPT_VERSION) {
			printf("estclient (estkit) %s\n", ESTKIT_VERSION);
			return CLI_OK;
		}
		if (c == '?' || c == ':')
			return usage_error("unknown option or missing value: \"%s\"", argv[optind - 1]);
		if ((rc = take_option(c, optarg, &o)) != CLI_OK)
			return rc;
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	if ((rc = check_operations(&o)) != CLI_OK || (rc = check_server(&o)) != CLI_OK)
		return rc;
	if ((rc = take_secrets(&o)) == CLI_OK) {
		warn_ignored(&o);
		est_log_set_sink(log_sink, NULL);
		est_log_set_level(o.verbose ? EST_LOG_DEBUG : EST_LOG_INFO);
		rc = cli_run(&o);
	}
	cli_secret_free(o.owned_password);
	cli_secret_free(o.owned_token);
	cli_secret_free(o.owned_srp_password);
	return rc;
}
