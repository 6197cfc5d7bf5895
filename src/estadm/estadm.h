/*
 * estadm private contract: the command table row, the context a handler
 * gets, and the few helpers main.c offers every command.
 *
 * Exit status: 0 success, 1 failure (one "estadm: reason" line on standard
 * error), 2 usage error (usage on standard error). Output meant for scripts
 * goes to standard output. Handlers return the exit status; they never call
 * exit().
 */
#ifndef ESTADM_H
#define ESTADM_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509v3.h>

#include "estkit/ca.h"
#include "estkit/config.h"
#include "estkit/store.h"

enum adm_exit {
	ADM_EXIT_OK = 0,
	ADM_EXIT_FAIL = 1,
	ADM_EXIT_USAGE = 2
};

struct adm_cmd;

/* What a handler knows besides its arguments. */
struct adm_ctx {
	const char *config_path;        /* -c, $ESTD_CONF or the default */
	const struct adm_cmd *cmd;      /* the row being run, for its usage */
	const char *argv0;              /* how estadm was called (build/estadm, estadm) */
};

/*
 * A command handler. argv[0] is the command word ("init", "list", ...);
 * main.c has reset getopt (optind = 0, opterr = 0), so the handler may call
 * getopt_long(argc, argv, "", longopts, NULL) directly.
 */
typedef int (*adm_handler)(const struct adm_ctx *ctx, int argc, char **argv);

/* One row of the dispatch table in main.c. verb is NULL for a one-word command. */
struct adm_cmd {
	const char *group;
	const char *verb;
	adm_handler run;
	const char *usage;              /* synopsis line, then indented help lines */
};

/* ---- main.c -------------------------------------------------------------- */

/* Print "estadm: <message>" on standard error; returns ADM_EXIT_FAIL. */
int adm_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "estadm: <message>" and the command's usage on standard error;
 * returns ADM_EXIT_USAGE. */
int adm_usage_error(const struct adm_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Report the option getopt_long just refused ('?'); returns ADM_EXIT_USAGE. */
int adm_bad_option(const struct adm_ctx *ctx, char **argv, const struct option *longopts);

/*
 * The one NAME argument left after the options, checked as the credentials
 * file wants a user name (what: "user", "token" in messages). ADM_EXIT_OK
 * or ADM_EXIT_USAGE (reported). *name points into argv.
 */
int adm_name_arg(const struct adm_ctx *ctx, int argc, char **argv, const char *what,
    const char **name);

/* Print n NUL-separated names, one per line. */
void adm_print_names(const char *names, size_t n);

/* Load ctx->config_path, printing every problem; ADM_EXIT_OK or ADM_EXIT_FAIL.
 * Caller frees *out with est_config_free(). */
int adm_load_config(const struct adm_ctx *ctx, struct est_config **out);

/* Open the configuration's store; ADM_EXIT_OK or ADM_EXIT_FAIL (reported).
 * Caller closes *out with est_store_close(). */
int adm_open_store(const struct est_config *cfg, struct est_store **out);

/* adm_load_config then adm_open_store, for commands that need only the store. */
int adm_open_configured_store(const struct adm_ctx *ctx, struct est_store **out);

/* ---- secret.c ------------------------------------------------------------ */

#define ADM_SECRET_MAX 1024

/*
 * Read a password or enrolment code (what names it in prompts and
 * messages) into buf: arg "-" reads one line of standard input, file the
 * first line of that file, neither asks twice on the terminal. Any other
 * arg is refused: a secret is never taken from the command line. An empty
 * secret is refused. ADM_EXIT_OK or ADM_EXIT_FAIL (reported). The caller
 * wipes buf.
 */
int adm_read_secret(const char *arg, const char *file, const char *what, char *buf,
    size_t size);

/* ---- cmd_db.c ------------------------------------------------------------ */

int adm_db_create(const struct adm_ctx *ctx, int argc, char **argv);
int adm_db_check(const struct adm_ctx *ctx, int argc, char **argv);
int adm_db_migrate(const struct adm_ctx *ctx, int argc, char **argv);
int adm_db_export(const struct adm_ctx *ctx, int argc, char **argv);
int adm_db_import(const struct adm_ctx *ctx, int argc, char **argv);
int adm_db_backup(const struct adm_ctx *ctx, int argc, char **argv);

/* ---- cmd_init.c ---------------------------------------------------------- */

int adm_init(const struct adm_ctx *ctx, int argc, char **argv);

/* ---- cmd_cert.c ---------------------------------------------------------- */

int adm_cert_list(const struct adm_ctx *ctx, int argc, char **argv);
int adm_cert_show(const struct adm_ctx *ctx, int argc, char **argv);
int adm_cert_revoke(const struct adm_ctx *ctx, int argc, char **argv);
int adm_cert_unrevoke(const struct adm_ctx *ctx, int argc, char **argv);

/* ---- cmd_ra.c, cmd_tls.c ------------------------------------------------- */

int adm_cert_ra(const struct adm_ctx *ctx, int argc, char **argv);
int adm_cert_tls(const struct adm_ctx *ctx, int argc, char **argv);

/* ---- issue.c: what cert ra and cert tls share ---------------------------- */

/* A certificate estadm issues itself, with a key it makes. */
struct adm_issue {
	const char *alias;              /* --alias; NULL: the default alias */
	const char *out;                /* --out PREFIX: PREFIX.key and PREFIX.pem */
	const char *key_type;           /* --key-type, est_key_spec_known */
	unsigned days;                  /* --days, 1 .. 3650 */
	const char *what;               /* "RA certificate", in the report */
	struct est_profile profile;     /* name and EKU; validity from days */
	const X509_NAME *subject;       /* borrowed */
	const GENERAL_NAMES *san;       /* borrowed; NULL for none */
	bool replace;                   /* replace existing files (else refuse them) */
	bool chain;                     /* PREFIX.pem: the CAs after the certificate */
	bool certificate_auth;          /* the alias must take certificate authentication */
};

/* --days ARG into *days: ADM_EXIT_OK, or ADM_EXIT_USAGE (reported). */
int adm_days_arg(const struct adm_ctx *ctx, const char *arg, unsigned *days);

/*
 * Issue is from the CA its alias issues from now (a rollover's successor
 * once its issue-from has come), record it in the store (principal
 * "estadm"), write PREFIX.key (0600) and PREFIX.pem, and print one line
 * naming serial, subject, alias, CA and files. On failure nothing is
 * written or recorded (reported; ADM_EXIT_FAIL).
 */
int adm_issue(const struct adm_ctx *ctx, const struct adm_issue *is);

/* ---- tlsnames.c ---------------------------------------------------------- */

/*
 * Append the names of a comma-separated list to *san (made when NULL):
 * host names (dNSName) when type is GEN_DNS, addresses (iPAddress) when
 * GEN_IPADD, ADM_NAME_ANY for either, told apart by their form. A host
 * name is LDH labels of 1-63 characters, at most 253 in all, the leftmost
 * label optionally "*"; names already in *san are skipped. opt names the
 * option in messages. ADM_EXIT_OK, or ADM_EXIT_USAGE (reported). Caller
 * frees *san with GENERAL_NAMES_free().
 */
#define ADM_NAME_ANY (-1)
int adm_tls_names(const struct adm_ctx *ctx, const char *opt, const char *list, int type,
    GENERAL_NAMES **san);

/* Append copies of the names of more that san lacks; false when out of memory. */
bool adm_san_append(GENERAL_NAMES *san, const GENERAL_NAMES *more);

/* Append one host name or address (GEN_DNS, GEN_IPADD) unchecked; false when out of memory
 * or an address does not parse. */
bool adm_san_add(GENERAL_NAMES *san, int type, const char *value);

/* ---- cmd_req.c ----------------------------------------------------------- */

int adm_req_list(const struct adm_ctx *ctx, int argc, char **argv);
int adm_req_approve(const struct adm_ctx *ctx, int argc, char **argv);
int adm_req_reject(const struct adm_ctx *ctx, int argc, char **argv);

/* ---- cmd_user.c ---------------------------------------------------------- */

int adm_user_add(const struct adm_ctx *ctx, int argc, char **argv);
int adm_user_del(const struct adm_ctx *ctx, int argc, char **argv);
int adm_user_list(const struct adm_ctx *ctx, int argc, char **argv);

/* ---- cmd_srp.c ----------------------------------------------------------- */

int adm_srp_add(const struct adm_ctx *ctx, int argc, char **argv);
int adm_srp_del(const struct adm_ctx *ctx, int argc, char **argv);
int adm_srp_list(const struct adm_ctx *ctx, int argc, char **argv);

/* ---- cmd_token.c --------------------------------------------------------- */

int adm_token_add(const struct adm_ctx *ctx, int argc, char **argv);
int adm_token_del(const struct adm_ctx *ctx, int argc, char **argv);
int adm_token_list(const struct adm_ctx *ctx, int argc, char **argv);

/* ---- cmd_ee.c ------------------------------------------------------------ */

int adm_ee_add(const struct adm_ctx *ctx, int argc, char **argv);
int adm_ee_list(const struct adm_ctx *ctx, int argc, char **argv);
int adm_ee_show(const struct adm_ctx *ctx, int argc, char **argv);
int adm_ee_del(const struct adm_ctx *ctx, int argc, char **argv);
int adm_ee_reset(const struct adm_ctx *ctx, int argc, char **argv);

/* ---- cmd_ca.c ------------------------------------------------------------ */

/* cmd_lockout.c */
int adm_lockout_list(const struct adm_ctx *ctx, int argc, char **argv);
int adm_lockout_clear(const struct adm_ctx *ctx, int argc, char **argv);

int adm_ca_import(const struct adm_ctx *ctx, int argc, char **argv);
int adm_ca_list(const struct adm_ctx *ctx, int argc, char **argv);

/* cmd_rollover.c: estadm ca rollover CA (RFC 7030 §4.1.3) */
int adm_ca_rollover(const struct adm_ctx *ctx, int argc, char **argv);
/* ---- cmd_audit.c --------------------------------------------------------- */

int adm_audit_verify(const struct adm_ctx *ctx, int argc, char **argv);

/* Whether a successful run of cmd is recorded in the audit log (it changes something). */
bool adm_audited(const struct adm_cmd *cmd);

/* A command's arguments (argv[1..]) as one line with secret values masked;
 * caller free()s; NULL when out of memory. Call before the handler runs
 * (getopt reorders argv). */
char *adm_audit_args(int argc, char **argv);

/*
 * Record a successful change in the configuration's audit log, if it has
 * one: who ran estadm, cmd, args. ADM_EXIT_OK, or ADM_EXIT_FAIL (reported:
 * the change stays made).
 */
int adm_audit_record(const struct adm_ctx *ctx, const struct adm_cmd *cmd, const char *args);

/* The configuration a command's audit entry goes to when it is not ctx's
 * (init: the one it just wrote); path is copied. */
void adm_audit_config_is(const char *path);

/* ---- cmd_revoke.c -------------------------------------------------------- */

int adm_crl_show(const struct adm_ctx *ctx, int argc, char **argv);
int adm_crl_generate(const struct adm_ctx *ctx, int argc, char **argv);
int adm_ee_revoke(const struct adm_ctx *ctx, int argc, char **argv);
int adm_ca_ocsp_responder(const struct adm_ctx *ctx, int argc, char **argv);

/*
 * After revoking (or releasing from hold) a certificate of issuer
 * (est_name_text): renew the CRL of the configured CA with that subject,
 * now, and report it as "CRL number N of CA NAME <lists>" ("lists it", "no
 * longer lists it"). A CA key estadm cannot read is reported on standard
 * error and left to estd. Always ADM_EXIT_OK: the change itself is recorded
 * already.
 */
int adm_after_revoke(const struct est_config *cfg, struct est_store *st, const char *issuer,
    const char *lists);

/* --reason NAME of cert revoke and ee revoke into *reason; a usage error for
 * a name that is not a reason a full CRL may carry. */
int adm_reason_arg(const struct adm_ctx *ctx, const char *name, int *reason);

#endif
