/*
 * estclient private contract: the options main.c parsed, the exit statuses,
 * the run (run.c) and the output files (output.c).
 *
 * Exit status: 0 success; 1 local failure (files, keys, a broken answer we
 * could not use); 2 usage; 3 server unreachable; 4 TLS or server
 * authentication; 5 authentication refused (401, 403); 6 request refused
 * (other 4xx, and 501); 7 server error (5xx); 8 still pending (202 after
 * the last retry). One line on standard error says what happened and what
 * to try; nothing is printed on success unless -v.
 */
#ifndef ESTCLIENT_H
#define ESTCLIENT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "estkit/client.h"
#include "estkit/err.h"
#include "util/atomic_file.h"

enum cli_exit {
	CLI_OK = 0,
	CLI_FAIL = 1,
	CLI_USAGE = 2,
	CLI_CONNECT = 3,
	CLI_TLS = 4,
	CLI_AUTH = 5,
	CLI_REFUSED = 6,
	CLI_SERVER = 7,
	CLI_PENDING = 8
};

/* Everything the command line says, checked by main.c for consistency. */
struct cli_opts {
	bool cacerts;               /* -g */
	bool enroll;                /* -e */
	bool reenroll;              /* -r */
	bool keygen;                /* -q */
	bool csrattrs;              /* -a */
	bool bind;                  /* -z */
	bool pem;                   /* --pem-output */
	bool verbose;               /* -v */
	bool bootstrap;             /* --trustanchor no */
	bool system_trust;          /* --trustanchor system */
	const char *host;           /* -s */
	unsigned port;              /* -p (0: 443) */
	const char *url;            /* --server */
	const char *label;          /* --path-seg */
	const char *resolve;        /* --resolve */
	const char *outdir;         /* -o (default ".") */
	const char *key_file;       /* -x: signs the CSR */
	const char *csr_file;       /* -y: a ready CSR */
	const char *cert_file;      /* -c: TLS client certificate */
	const char *cert_key_file;  /* -k: its key */
	const char *user;           /* -u */
	const char *password;       /* -h */
	const char *token;          /* --auth-token */
	bool srp;                   /* --srp */
	const char *srp_user;       /* --srp-user */
	const char *srp_password;   /* --srp-password (libest's; visible to ps), or the file's */
	const char *srp_password_file; /* --srp-password-file: its first line */
	const char *cn;             /* --common-name */
	const char *ta_file;        /* --trustanchor, else $EST_OPENSSL_CACERT */
	const char *key_type;       /* --key-type, NULL: ec:P-256 or what /csrattrs asks */
	const char *decrypt_cert;   /* --decrypt-cert */
	const char *decrypt_key;    /* --decrypt-key */
	unsigned read_timeout;      /* -w */
	unsigned iterations;        /* -i */
	unsigned retry_max;         /* --retry-max */
	const char *fingerprint;    /* --expect-fingerprint sha256:HEX */
	const char *key_signer;     /* --key-signer */
	bool tls13_only;            /* --tls13-only */
	bool names_by_server;       /* --server-names */
	const char *password_file;  /* --password-file */
	const char *password_env;   /* --password-env */
	const char *token_file;     /* --auth-token-file */
	const char *token_env;      /* --auth-token-env */
	char *owned_password;       /* read from file, env or prompt (o->password points here) */
	char *owned_token;          /* likewise for o->token */
	char *owned_srp_password;   /* --srp-password-file's first line (o->srp_password) */
};

/* ---- main.c ---------------------------------------------------------------- */

/* Print "estclient: <message>" on standard error; returns status. */
int cli_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- secret.c -------------------------------------------------------------- */

/*
 * A password or token from --password-file/--auth-token-file (first line),
 * from an environment variable, or typed at a prompt on the terminal (no
 * echo). malloc'd: caller wipes and frees with cli_secret_free. NULL with a
 * message printed when it cannot be had.
 */
char *cli_secret_file(const char *path);
char *cli_secret_env(const char *name);
char *cli_secret_prompt(const char *prompt);
void cli_secret_free(char *s);

/* Ask "question [y/N]" on the terminal; true only for an answer y or yes. */
bool cli_confirm(const char *question);

/* ---- run.c ----------------------------------------------------------------- */

/* Run the operations the options ask for; returns the exit status. */
int cli_run(const struct cli_opts *o);

/* The exit status for a failure rc, from the HTTP status when there was one. */
int cli_exit_for(enum est_err rc, long http);

/* ---- output.c -------------------------------------------------------------- */

/*
 * The files libest's estclient writes, in o->outdir, replaced atomically
 * (a reader sees the old file or the new one, never half of one). i is the
 * iteration (-i); the middle number is libest's thread number, always 0.
 *   cacert-0-I.pkcs7 / .pem   /cacerts (--pem-output: .pem)
 *   cert-0-I.pkcs7 / .pem     the new certificate first, then any others
 *   key-0-I.key               /serverkeygen's key, mode 0600: bare base64
 *                             PKCS#8 as libest writes it, PEM with --pem-output
 *   cacert-root-0-I.pem       the current root of /cacerts, PEM (the trust anchor)
 *   csr-0-I.base64            /csrattrs, base64 (empty when there are none)
 *   key-x-x.pem               a key estclient generated, PEM, mode 0600
 * Each returns EST_OK or fills e naming the file.
 */
/*
 * The output directory: created when missing (with its parents), mode 0700
 * when a private key will go there (-q, -e making its own key), else 0755
 * (less the umask). EST_ERR_IO when it is not a directory or cannot be made.
 */
enum est_err out_prepare_dir(const struct cli_opts *o, struct est_error *e);

enum est_err out_cacerts(const struct cli_opts *o, unsigned i, STACK_OF(X509) *certs,
    struct est_error *e);
enum est_err out_cert(const struct cli_opts *o, unsigned i, const struct est_enroll_result *r,
    struct est_error *e);
enum est_err out_server_key(const struct cli_opts *o, unsigned i, EVP_PKEY *key,
    struct est_error *e);
enum est_err out_csrattrs(const struct cli_opts *o, unsigned i, const struct est_csr_wants *a,
    struct est_error *e);
enum est_err out_generated_key(const struct cli_opts *o, EVP_PKEY *key, char *path,
    size_t pathlen, struct est_error *e);

/*
 * cacert-root-0-I.pem: the current root of the validated /cacerts answer,
 * PEM, the file to give as --trustanchor (the Explicit TA, RFC 7030 §4.1.3).
 * path gets its name.
 */
enum est_err out_ca_root(const struct cli_opts *o, unsigned i, X509 *root, char *path,
    size_t pathlen, struct est_error *e);

/* ---- renew_main.c, renew_conf.c, renew_job.c, renew_files.c: estclient renew -- */

/* One certificate that estclient renew keeps current. Strings are malloc'd. */
struct renew_job {
	char *name;                 /* [cert NAME] of the configuration, or the cert file */
	char *cert_file;            /* -c: the certificate (PEM), replaced when renewed */
	char *key_file;             /* -k: its key, replaced by the new key */
	char *chain_file;           /* --chain: the CA certificates above it, or NULL */
	char *ta_file;              /* --trustanchor: kept current through rollovers */
	char *url, *host, *label, *resolve;
	unsigned port;
	double share;               /* --renew-share: of the lifetime (default 2/3) */
	long long before;           /* --renew-before: seconds before expiry (0: share only) */
	bool same_key;              /* --same-key */
	char *key_type;             /* --key-type; NULL: the old key's type */
	char *post_hook;            /* --post-hook, run by /bin/sh after each renewal */
	unsigned read_timeout;      /* -w */
	unsigned retry_max;         /* --retry-max: 202 answers waited out */
	unsigned retries;           /* --retries: more tries after a network error or 5xx */
	double retry_delay;         /* --retry-delay: seconds before the first of them */
	/* state */
	time_t next;                /* when to look again */
	unsigned failures;          /* transient failures in a row (back-off) */
	time_t not_after;           /* of the certificate last read; 0: not read yet */
	bool stopped;               /* given up: refused and expiring, or unusable */
};

/* Copy every setting (not the state) of from into to; false when out of memory. */
bool renew_job_copy(struct renew_job *to, const struct renew_job *from);
void renew_job_clear(struct renew_job *j);

/*
 * Read a configuration file of certificates (estclient(1), RENEW): settings
 * before the first section apply to every [cert NAME] section, over base
 * (the command line's). *jobs is malloc'd (renew_jobs_free). CLI_OK, or
 * CLI_USAGE with the file, line and reason printed.
 */
int renew_conf_read(const char *path, const struct renew_job *base, struct renew_job **jobs,
    size_t *n);
void renew_jobs_free(struct renew_job *jobs, size_t n);

/*
 * Set one setting by its long option name ("cert", "renew-share", ...);
 * NULL, or the reason the value is refused.
 */
const char *renew_set(struct renew_job *j, const char *key, const char *value);

/*
 * One look at a certificate: refresh the trust anchor from /cacerts,
 * renew when due (or force), replace the files, run the post-hook. Returns
 * the exit status (CLI_OK when not due, too; CLI_FAIL when only the
 * post-hook failed); *transient when trying again later may help (network,
 * TLS, 5xx, still pending); *renewed when the files were replaced. j->next
 * is set to when the certificate is next due.
 */
int renew_once(struct renew_job *j, bool force, bool *transient, bool *renewed);

/* estclient renew ARGS (argv[0] is "renew"): the exit status. */
int renew_main(int argc, char **argv);

/* A file staged for replacement (renew_files.c). Zero-initialise it. */
struct rf_file {
	struct atomic_file af;
};

/*
 * Write data to a temporary file beside path, flushed, with the mode and
 * owner of the file at path (mode when there is none). On failure nothing
 * is left behind.
 */
enum est_err rf_stage(struct rf_file *f, const char *path, const char *data, size_t len,
    mode_t mode, struct est_error *e);

/* Hard-link the file at path (if any) as path.previous, replacing an older one. */
enum est_err rf_keep_previous(const struct rf_file *f, struct est_error *e);

/* Replace path by the staged file in one rename. */
enum est_err rf_commit(struct rf_file *f, struct est_error *e);

/* Remove a staged file that will not be committed. */
void rf_abort(struct rf_file *f);

#endif
