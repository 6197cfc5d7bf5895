/*
 * estadm srp add|del|list: the TLS-SRP verifier file (`srp-verifiers` in
 * [server], format in include/estkit/srp.h). Passwords are read as for
 * `estadm user add` and only a salted verifier is written; estd reads the
 * file at each SRP handshake, so changes apply at once.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "estadm.h"
#include "estkit/config.h"
#include "estkit/httpauth.h"
#include "estkit/srp.h"

/* The configuration, which must name a verifier file. */
static int
load_srp_config(const struct adm_ctx *ctx, struct est_config **cfg)
{
	int status;

	if ((status = adm_load_config(ctx, cfg)) != ADM_EXIT_OK)
		return status;
	if ((*cfg)->srp_verifiers_path == NULL) {
		status = adm_fail("%s has no `srp-verifiers` in [server]: add one "
		    "(e.g. srp-verifiers = srp.verifiers) to keep TLS-SRP users", ctx->config_path);
		est_config_free(*cfg);
		*cfg = NULL;
	}
	return status;
}

static int
name_arg(const struct adm_ctx *ctx, int argc, char **argv, const char **name)
{
	if (argc == optind)
		return adm_usage_error(ctx, "no user name given");
	if (argc - optind > 1)
		return adm_usage_error(ctx, "unexpected argument \"%s\"", argv[optind + 1]);
	if (!est_creds_valid_user(argv[optind]))
		return adm_usage_error(ctx, "bad user name \"%s\": use 1-%d characters of "
		    "A-Z a-z 0-9 . _ @ + -", argv[optind], EST_HTTPAUTH_MAX_USER);
	*name = argv[optind];
	return ADM_EXIT_OK;
}

/* estadm srp add NAME [--password-stdin] */
int
adm_srp_add(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "password-stdin", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct est_error e = { 0 };
	struct est_config *cfg = NULL;
	char password[ADM_SECRET_MAX], what[EST_HTTPAUTH_MAX_USER + 32];
	const char *name = NULL;
	bool from_stdin = !isatty(STDIN_FILENO), replaced = false;
	int c, status;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 's')
			return adm_bad_option(ctx, argv, longopts);
		from_stdin = true;
	}
	if ((status = name_arg(ctx, argc, argv, &name)) != ADM_EXIT_OK ||
	    (status = load_srp_config(ctx, &cfg)) != ADM_EXIT_OK)
		return status;
	snprintf(what, sizeof(what), "SRP password for %s", name);
	status = adm_read_secret(from_stdin ? "-" : NULL, NULL, what, password, sizeof(password));
	if (status == ADM_EXIT_OK &&
	    est_srp_set(cfg->srp_verifiers_path, name, password, &replaced, &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	else if (status == ADM_EXIT_OK)
		printf(replaced ? "changed SRP password of %s\n" : "added SRP user %s\n", name);
	OPENSSL_cleanse(password, sizeof(password));
	est_config_free(cfg);
	return status;
}

/* estadm srp del NAME */
int
adm_srp_del(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { { NULL, 0, NULL, 0 } };
	struct est_error e = { 0 };
	struct est_config *cfg = NULL;
	const char *name = NULL;
	int status;

	if (getopt_long(argc, argv, "", longopts, NULL) != -1)
		return adm_bad_option(ctx, argv, longopts);
	if ((status = name_arg(ctx, argc, argv, &name)) != ADM_EXIT_OK ||
	    (status = load_srp_config(ctx, &cfg)) != ADM_EXIT_OK)
		return status;
	if (est_srp_del(cfg->srp_verifiers_path, name, &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	else
		printf("removed SRP user %s\n", name);
	est_config_free(cfg);
	return status;
}

/* estadm srp list */
int
adm_srp_list(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { { NULL, 0, NULL, 0 } };
	struct est_error e = { 0 };
	struct est_config *cfg = NULL;
	char *names = NULL;
	size_t n = 0, off = 0;
	int status;

	if (getopt_long(argc, argv, "", longopts, NULL) != -1)
		return adm_bad_option(ctx, argv, longopts);
	if (argc > optind)
		return adm_usage_error(ctx, "unexpected argument \"%s\"", argv[optind]);
	if ((status = load_srp_config(ctx, &cfg)) != ADM_EXIT_OK)
		return status;
	if (est_srp_users(cfg->srp_verifiers_path, &names, &n, &e) != EST_OK) {
		status = adm_fail("%s", e.msg);
	} else {
		for (size_t i = 0; i < n; i++) {
			printf("%s\n", names + off);
			off += strlen(names + off) + 1;
		}
	}
	free(names);
	est_config_free(cfg);
	return status;
}
