/*
 * estadm: the administrator's tool. Parses the global options, finds the
 * command in one table of {group, verb, handler, usage} rows and runs it.
 * Adding a command is adding a row (and a handler in cmd_<group>.c).
 *
 * All messages to the administrator go through adm_fail/adm_usage_error here,
 * so every failure is one "estadm: reason" line and every usage error shows
 * the usage of the command that was mistyped.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estadm.h"
#include "estkit/config.h"
#include "estkit/httpauth.h"
#include "estkit/store.h"

#define DEFAULT_CONFIG ESTKIT_DEFAULT_CONFIG /* CMakeLists.txt: SYSCONFDIR/estkit/estd.conf */

static int cmd_help(const struct adm_ctx *ctx, int argc, char **argv);

static const struct adm_cmd commands[] = {
	{ "init", NULL, adm_init,
	    "init DIR [--key-type SPEC] [--ca-name CN] [--listen-address ADDR]\n"
	    "        [--http-port N] [--tls-port N] [--mtls-port N]\n"
	    "        [--user NAME] [--password - | --password-file F] [--no-user]\n"
	    "        [--tls-name NAME[,NAME...]]\n"
	    "    Create a CA, a TLS certificate, a store, a users file and estd.conf\n"
	    "    in DIR. The TLS certificate names localhost, 127.0.0.1, ::1, ADDR and\n"
	    "    each --tls-name (host name or address; repeatable; CN: the first host\n"
	    "    name). SPEC: ec:P-256 (default), ec:P-384, rsa:2048, rsa:3072,\n"
	    "    rsa:4096, ed25519. Defaults: CN \"estkit Demo CA\", ADDR 127.0.0.1,\n"
	    "    ports 8080 (HTTP), 8442 (TLS), 8443 (mutual TLS), user estuser with\n"
	    "    password estpwd (demo credentials: change them), or the password read\n"
	    "    from standard input (--password -) or the first line of F.\n" },
	{ "cert", "list", adm_cert_list,
	    "cert list [--valid | --revoked] [--subject PATTERN] [--serial SERIAL]\n"
	    "    List certificates on record: SERIAL STATUS NOT-AFTER SUBJECT. Serials\n"
	    "    are shown as openssl x509 -serial prints them; every command takes\n"
	    "    them with or without leading zeros, colons or 0x.\n"
	    "    STATUS: valid, revoked, held (certificateHold: cert unrevoke releases\n"
	    "    it) or expired. --valid: only valid, unexpired ones; --revoked: only\n"
	    "    revoked ones, held ones too.\n"
	    "    PATTERN: SQL LIKE pattern on the\n"
	    "    subject (without a %, it matches anywhere in the subject).\n" },
	{ "cert", "show", adm_cert_show,
	    "cert show SERIAL [--issuer DN]\n"
	    "    Print a certificate's record, its PEM and its decoded text.\n" },
	{ "cert", "revoke", adm_cert_revoke,
	    "cert revoke SERIAL [--reason NAME] [--issuer DN]\n"
	    "    Mark a certificate revoked and renew its CA's CRL. NAME (RFC 5280):\n"
	    "    unspecified (default), keyCompromise, cACompromise, affiliationChanged,\n"
	    "    superseded, cessationOfOperation, certificateHold, privilegeWithdrawn,\n"
	    "    aACompromise. Only a certificateHold can be undone (cert unrevoke);\n"
	    "    another reason revokes a certificate on hold for good.\n" },
	{ "cert", "unrevoke", adm_cert_unrevoke,
	    "cert unrevoke SERIAL [--issuer DN]\n"
	    "    Release a certificate from hold (revoked with reason certificateHold):\n"
	    "    it is valid again, may renew, and its CA's CRL is renewed without it.\n"
	    "    Any other revocation is final: refused, as for an expired certificate.\n" },
	{ "cert", "ra", adm_cert_ra,
	    "cert ra --dn DN --out PREFIX [--alias A] [--days N] [--key-type SPEC]\n"
	    "    Issue an RA certificate (EKU id-kp-cmcRA and clientAuth, RFC 7030 §3.7)\n"
	    "    for alias A (default: the default alias), from its CA: on A, which must\n"
	    "    take certificate authentication, it may request certificates for other\n"
	    "    subjects, within A's name rules; elsewhere it gets only its own names.\n"
	    "    Writes PREFIX.key (0600) and PREFIX.pem; SPEC as server-keygen-key\n"
	    "    (ec:P-256).\n" },
	{ "cert", "tls", adm_cert_tls,
	    "cert tls [--dns NAME[,NAME...]] [--ip ADDR[,ADDR...]] --out PREFIX\n"
	    "        [--alias A] [--days N] [--key-type SPEC] [--cn CN]\n"
	    "    Issue estd's own TLS server certificate (EKU serverAuth) for the names\n"
	    "    clients connect to (one --dns or --ip at least), from alias A's CA\n"
	    "    (after a rollover's issue-from, the new CA). Replaces PREFIX.key (0600)\n"
	    "    and PREFIX.pem (the certificate, then the CA chain) atomically, keeping\n"
	    "    their owner. CN: the first name; N: 825 days. Reload estd (SIGHUP) to\n"
	    "    serve it.\n" },
	{ "req", "list", adm_req_list,
	    "req list [--all]\n"
	    "    List enrolments held for manual approval (approval = manual):\n"
	    "    ID STATE ALIAS OPERATION CREATED PRINCIPAL SUBJECT. --all: also the\n"
	    "    ones that got their certificate (issued).\n" },
	{ "req", "approve", adm_req_approve,
	    "req approve ID\n"
	    "    Approve a pending request: the client's next retry gets one certificate.\n" },
	{ "req", "reject", adm_req_reject,
	    "req reject ID\n"
	    "    Reject a pending request: the client's retries get 403.\n" },
	{ "user", "add", adm_user_add,
	    "user add NAME [--password-stdin]\n"
	    "    Add a user or change its password. The password is read as one line\n"
	    "    from standard input when it is not a terminal (or with\n"
	    "    --password-stdin), else asked for twice on the terminal.\n" },
	{ "user", "del", adm_user_del,
	    "user del NAME\n"
	    "    Remove a user.\n" },
	{ "user", "list", adm_user_list,
	    "user list\n"
	    "    Print one user name per line.\n" },
	{ "srp", "add", adm_srp_add,
	    "srp add NAME [--password-stdin]\n"
	    "    Add a TLS-SRP user (legacy) or change its password, in the file of\n"
	    "    srp-verifiers: a salted verifier is kept, never the password, which is\n"
	    "    read as for user add.\n" },
	{ "srp", "del", adm_srp_del,
	    "srp del NAME\n"
	    "    Remove a TLS-SRP user.\n" },
	{ "token", "add", adm_token_add,
	    "token add NAME\n"
	    "    Make an HTTP Bearer token for NAME (replacing its old one), store its\n"
	    "    SHA-256 in the file of bearer-tokens and print the token, once.\n" },
	{ "token", "del", adm_token_del,
	    "token del NAME\n"
	    "    Remove NAME's Bearer token.\n" },
	{ "token", "list", adm_token_list,
	    "token list\n"
	    "    Print the names of the Bearer tokens, one per line.\n" },
	{ "srp", "list", adm_srp_list,
	    "srp list\n"
	    "    Print one TLS-SRP user name per line.\n" },
	{ "ee", "add", adm_ee_add,
	    "ee add --username U --dn DN --alias A [--password - | --password-file F |\n"
	    "        --no-password] [--san LIST] [--profile P] [--uses N | --unlimited]\n"
	    "        [--valid-until T]\n"
	    "    Register an end entity to enrol through client-mode alias A. DN:\n"
	    "    \"CN=dev,O=Org,C=SE\" (most specific first); LIST: dns:NAME,ip:ADDR,\n"
	    "    email:ADDR,uri:URI. The enrolment code (stored hashed) is read from\n"
	    "    standard input (--password -), the first line of F, or asked for on\n"
	    "    the terminal; never from the command line. N: how many enrolments\n"
	    "    (default 1). T: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ.\n" },
	{ "ee", "list", adm_ee_list,
	    "ee list\n"
	    "    List end entities: USERNAME ALIAS USES-LEFT SUBJECT.\n" },
	{ "ee", "show", adm_ee_show,
	    "ee show USERNAME\n"
	    "    Print an end entity and the certificates issued to it.\n" },
	{ "ee", "del", adm_ee_del,
	    "ee del USERNAME\n"
	    "    Remove an end entity (its certificates stay on record).\n" },
	{ "ee", "reset", adm_ee_reset,
	    "ee reset USERNAME [--password - | --password-file F | --no-password]\n"
	    "        [--uses N | --unlimited] [--valid-until T]\n"
	    "    Give an end entity a new enrolment code (read as for ee add), so that\n"
	    "    it may enrol again.\n" },
	{ "ee", "revoke", adm_ee_revoke,
	    "ee revoke USERNAME [--reason NAME]\n"
	    "    Revoke every valid certificate issued to an end entity (reasons as\n"
	    "    for cert revoke; any but certificateHold also revokes its certificates\n"
	    "    on hold for good), then renew the CRL.\n" },
	{ "ca", "import", adm_ca_import,
	    "ca import --external NAME FILE\n"
	    "    Import another party's CA certificate (PEM) into the store, e.g. a\n"
	    "    vendor CA for vendor-cas. Reload (SIGHUP) or restart estd to use it.\n" },
	{ "ca", "list", adm_ca_list,
	    "ca list\n"
	    "    List the external CAs: NAME SUBJECT.\n" },
	{ "ca", "rollover", adm_ca_rollover,
	    "ca rollover CA [--name NEW] [--cn CN] [--key-type SPEC] [--days N]\n"
	    "           [--issue-from now|+DURATION|YYYY-MM-DDTHH:MM:SSZ]\n"
	    "    Roll root CA over to a new key (RFC 7030 4.1.3): write NEW.key, NEW.pem\n"
	    "    and NEW-rollover.pem (OldWithNew, NewWithOld) beside it and add [ca NEW]\n"
	    "    (default CA-2) with predecessor = CA. Restart estd: /cacerts serves both,\n"
	    "    new certificates come from NEW from --issue-from (default now), and\n"
	    "    certificates under CA still renew and stay on its CRL.\n" },
	{ "audit", "verify", adm_audit_verify,
	    "audit verify [--file PATH]\n"
	    "    Check the hash chain of the audit log (audit-log in estd.conf, or\n"
	    "    PATH): print the number of entries and the last hash, or the first\n"
	    "    line that was changed, removed or inserted (exit status 1).\n" },
	{ "lockout", "list", adm_lockout_list,
	    "lockout list\n"
	    "    List the running authentication lock-outs (too many wrong passwords\n"
	    "    or enrolment codes): KIND UNTIL LEFT ADDRESS-OR-NAME.\n" },
	{ "lockout", "clear", adm_lockout_clear,
	    "lockout clear ADDRESS-OR-NAME... | --all\n"
	    "    Lift lock-outs; a running estd lets the address or name try again\n"
	    "    at once, with a fresh count.\n" },
	{ "db", "create", adm_db_create,
	    "db create\n"
	    "    Create an empty store where the configuration's store points. Only\n"
	    "    this and init make a store: estd and the other commands refuse a\n"
	    "    missing or empty one. Refused when a store is there.\n" },
	{ "db", "migrate", adm_db_migrate,
	    "db migrate\n"
	    "    Bring the store's schema to this estkit's version. SQLite stores are\n"
	    "    migrated when opened; a PostgreSQL store only by this command (estd\n"
	    "    refuses another schema version), run once while every estd is stopped\n"
	    "    or already of the new version.\n" },
	{ "db", "export", adm_db_export,
	    "db export > FILE\n"
	    "    Write every record of the store to standard output, one JSON object\n"
	    "    a line: external CAs, end entities (codes hashed), certificates and\n"
	    "    revocations, requests held for approval, CRLs.\n" },
	{ "db", "import", adm_db_import,
	    "db import FILE\n"
	    "    Add the records of an export to the store, which must be new\n"
	    "    (estadm db create): moves a deployment between SQLite and PostgreSQL.\n" },
	{ "db", "check", adm_db_check,
	    "db check\n"
	    "    Run SQLite's full integrity_check on the store (estd runs the quicker\n"
	    "    quick_check at start-up and with -n); on PostgreSQL, check the schema\n"
	    "    version and read every row.\n" },
	{ "db", "backup", adm_db_backup,
	    "db backup FILE\n"
	    "    Write a consistent copy of the store to the new FILE, also while estd\n"
	    "    runs. To restore: stop estd, remove the store and its -wal and -shm\n"
	    "    files, put FILE in its place. SQLite only: a PostgreSQL store is\n"
	    "    backed up with PostgreSQL's tools (docs/deployment.md).\n" },
	{ "ca", "ocsp-responder", adm_ca_ocsp_responder,
	    "ca ocsp-responder CA --cert FILE --key FILE [--days N] [--key-type SPEC]\n"
	    "    Issue a delegated OCSP responder certificate (id-kp-OCSPSigning,\n"
	    "    ocsp-nocheck) of configured CA, for its ocsp-certificate and ocsp-key.\n" },
	{ "crl", "show", adm_crl_show,
	    "crl show [--ca NAME] [--out FILE]\n"
	    "    Print the CA's current CRL, as estd serves it (renewed first when a\n"
	    "    revocation or its age calls for it). --out: also write it (DER).\n" },
	{ "crl", "generate", adm_crl_generate,
	    "crl generate [--ca NAME] [--out FILE]\n"
	    "    Make a new CRL now (the next CRL number) and write its crl-file.\n" },
	{ "help", NULL, cmd_help,
	    "help [COMMAND [SUBCOMMAND]]\n"
	    "    Print this text, or the usage of one command (of a group, e.g.\n"
	    "    help ca, or of one of its commands, e.g. help ca import).\n" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: estadm [-c FILE] COMMAND [ARGS]\n"
	    "\n"
	    "Administer an estkit EST server: set it up, list and revoke the\n"
	    "certificates its CA issued, manage the users of HTTP authentication,\n"
	    "the end entities of client mode and the external (vendor) CAs.\n"
	    "\n"
	    "  -c, --config FILE   configuration file (default $ESTD_CONF, else\n"
	    "                      " DEFAULT_CONFIG ")\n"
	    "  -h, --help          this text; `estadm COMMAND --help` for one command\n"
	    "  -V, --version       print the version\n"
	    "\n"
	    "Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  estadm %s", commands[i].usage);
	fprintf(f, "\nExit status: 0 success, 1 failure, 2 usage error. See estadm(8).\n");
}

/* The usage of every row of a group (one row for a one-word command). */
static void
group_usage(FILE *f, const char *group)
{
	fputs("usage:\n", f);
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].group, group) == 0)
			fprintf(f, "  estadm %s", commands[i].usage);
}

int
adm_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("estadm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return ADM_EXIT_FAIL;
}

int
adm_usage_error(const struct adm_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fputs("estadm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: estadm %s", ctx->cmd->usage);
	return ADM_EXIT_USAGE;
}

int
adm_bad_option(const struct adm_ctx *ctx, char **argv, const struct option *longopts)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	size_t n;

	/* glibc sets optopt to a long option's val when only its value is missing. */
	if (optopt != 0 && strncmp(arg, "--", 2) == 0) {
		n = strcspn(arg + 2, "=");
		for (const struct option *o = longopts; o->name != NULL; o++)
			if (strlen(o->name) == n && strncmp(o->name, arg + 2, n) == 0)
				return adm_usage_error(ctx, "option --%s needs a value", o->name);
	}
	return adm_usage_error(ctx, "unknown option \"%s\"", arg);
}

int
adm_name_arg(const struct adm_ctx *ctx, int argc, char **argv, const char *what,
    const char **name)
{
	if (argc == optind)
		return adm_usage_error(ctx, "no %s name given", what);
	if (argc - optind > 1)
		return adm_usage_error(ctx, "unexpected argument \"%s\"", argv[optind + 1]);
	if (!est_creds_valid_user(argv[optind]))
		return adm_usage_error(ctx, "bad %s name \"%s\": use 1-%d characters of "
		    "A-Z a-z 0-9 . _ @ + -", what, argv[optind], EST_HTTPAUTH_MAX_USER);
	*name = argv[optind];
	return ADM_EXIT_OK;
}

void
adm_print_names(const char *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		printf("%s\n", names);
		names += strlen(names) + 1;
	}
}

int
adm_load_config(const struct adm_ctx *ctx, struct est_config **out)
{
	struct est_error e = { 0 };
	char *errors = NULL, *line, *save = NULL;

	if (est_config_load(ctx->config_path, out, &errors, &e) == EST_OK)
		return ADM_EXIT_OK;
	if (errors == NULL || errors[0] == '\0') {
		free(errors);
		/* Without -c, a newcomer's first try: say where a configuration comes from. */
		if (strcmp(ctx->config_path, DEFAULT_CONFIG) == 0 && access(DEFAULT_CONFIG, F_OK) != 0)
			return adm_fail("%s (name the configuration with -c, e.g. estadm -c "
			    "var/estd.conf for the demo of make run, or set ESTD_CONF)", e.msg);
		return adm_fail("%s", e.msg);
	}
	for (line = strtok_r(errors, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		adm_fail("%s", line);
	free(errors);
	return ADM_EXIT_FAIL;
}

int
adm_open_store(const struct est_config *cfg, struct est_store **out)
{
	struct est_error e = { 0 };

	if (est_store_open(cfg->store_uri, out, &e) != EST_OK)
		return adm_fail("%s", e.msg);
	return ADM_EXIT_OK;
}

int
adm_open_configured_store(const struct adm_ctx *ctx, struct est_store **out)
{
	struct est_config *cfg = NULL;
	int status;

	if ((status = adm_load_config(ctx, &cfg)) == ADM_EXIT_OK)
		status = adm_open_store(cfg, out);
	est_config_free(cfg);
	return status;
}

/* Whether the arguments ask for help (before any "--"). */
static int
wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

static const struct adm_cmd *
find_command(const char *group, const char *verb)
{
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(commands[i].group, group) != 0)
			continue;
		if (commands[i].verb == NULL ||
		    (verb != NULL && strcmp(commands[i].verb, verb) == 0))
			return &commands[i];
	}
	return NULL;
}

static int
group_exists(const char *group)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].group, group) == 0)
			return 1;
	return 0;
}

/* help, help GROUP, help GROUP VERB: as estadm --help, GROUP --help, GROUP VERB --help. */
static int
cmd_help(const struct adm_ctx *ctx, int argc, char **argv)
{
	const struct adm_cmd *cmd;

	if (argc > 1 && !group_exists(argv[1]))
		return adm_usage_error(ctx, "unknown command \"%s\"", argv[1]);
	if (argc > 2) {
		cmd = find_command(argv[1], argv[2]);
		if (cmd == NULL || cmd->verb == NULL)
			return adm_usage_error(ctx, "unknown %s command \"%s\"", argv[1], argv[2]);
		printf("usage: estadm %s", cmd->usage);
	} else if (argc > 1)
		group_usage(stdout, argv[1]);
	else
		usage(stdout);
	return ADM_EXIT_OK;
}

/* Run a command; a change it made is recorded in the audit log. */
static int
run_command(const struct adm_ctx *ctx, const struct adm_cmd *cmd, int argc, char **argv)
{
	char *args = adm_audited(cmd) ? adm_audit_args(argc, argv) : NULL;
	int status;

	optind = 0;     /* glibc: start afresh on the command's own arguments */
	opterr = 0;
	status = cmd->run(ctx, argc, argv);
	if (status == ADM_EXIT_OK && adm_audited(cmd))
		status = adm_audit_record(ctx, cmd, args);
	free(args);
	return status;
}

/*
 * Find the row for argv[0] (and argv[1] when the group has verbs) and run
 * it with the arguments from the command word on.
 */
static int
dispatch(struct adm_ctx *ctx, int argc, char **argv)
{
	const char *group = argv[0];
	const struct adm_cmd *cmd;
	int shift = 0;

	if (!group_exists(group)) {
		fprintf(stderr, "estadm: unknown command \"%s\"\n", group);
		usage(stderr);
		return ADM_EXIT_USAGE;
	}
	cmd = find_command(group, NULL);
	if (cmd == NULL) {
		if (argc > 1 && wants_help(2, argv)) {
			group_usage(stdout, group);
			return ADM_EXIT_OK;
		}
		cmd = argc > 1 ? find_command(group, argv[1]) : NULL;
		if (cmd == NULL) {
			if (argc > 1)
				fprintf(stderr, "estadm: unknown %s command \"%s\"\n", group, argv[1]);
			else
				fprintf(stderr, "estadm: %s needs a command\n", group);
			group_usage(stderr, group);
			return ADM_EXIT_USAGE;
		}
		shift = 1;
	}
	ctx->cmd = cmd;
	argc -= shift;
	argv += shift;
	if (cmd->run != cmd_help && wants_help(argc, argv)) {
		printf("usage: estadm %s", cmd->usage);
		return ADM_EXIT_OK;
	}
	return run_command(ctx, cmd, argc, argv);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct adm_ctx ctx = { 0 };
	const char *env = getenv("ESTD_CONF");
	int c;

	ctx.config_path = env != NULL && env[0] != '\0' ? env : DEFAULT_CONFIG;
	ctx.argv0 = argv[0];
	opterr = 0;
	/* '+': stop at the command, whose options are its own. */
	while ((c = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': ctx.config_path = optarg; break;
		case 'h': usage(stdout); return ADM_EXIT_OK;
		case 'V': printf("estadm %s\n", ESTKIT_VERSION); return ADM_EXIT_OK;
		default:
			fprintf(stderr, "estadm: unknown option or missing value: %s\n",
			    argv[optind - 1]);
			usage(stderr);
			return ADM_EXIT_USAGE;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "estadm: no command given\n");
		usage(stderr);
		return ADM_EXIT_USAGE;
	}
	return dispatch(&ctx, argc - optind, argv + optind);
}
