/*
 * estadm user add|del|list: the credentials file of HTTP authentication
 * (`credentials` in [server]). Changes go through est_creds_set/del, which
 * rewrite the file atomically; a running estd picks them up by itself.
 *
 * A password never appears on the command line (where `ps` would show it):
 * it is read as one line from standard input, or asked for twice on the
 * terminal with echo off (secret.c). Password buffers are wiped after use.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "estadm.h"
#include "estkit/config.h"
#include "estkit/httpauth.h"


/* The configuration's credentials file; ADM_EXIT_OK or the failure. */
static int
load_creds_config(const struct adm_ctx *ctx, struct est_config **cfg)
{
	int status;

	if ((status = adm_load_config(ctx, cfg)) != ADM_EXIT_OK)
		return status;
	if ((*cfg)->credentials_path == NULL) {
		status = adm_fail("%s has no `credentials` in [server]: add one "
		    "(e.g. credentials = users) to keep users", ctx->config_path);
		est_config_free(*cfg);
		*cfg = NULL;
	}
	return status;
}

/* ---- the commands -------------------------------------------------------- */

/* The single NAME argument, checked as the credentials file wants it. */
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

static int
set_password(const struct est_config *cfg, const char *name, const char *password)
{
	struct est_error e = { 0 };
	bool replaced = false;

	if (est_creds_set(cfg->credentials_path, cfg->realm, name, password, &replaced,
	    &e) != EST_OK)
		return adm_fail("%s", e.msg);
	printf(replaced ? "changed password of %s\n" : "added user %s\n", name);
	return ADM_EXIT_OK;
}

/* estadm user add NAME [--password-stdin] */
int
adm_user_add(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "password-stdin", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct est_config *cfg = NULL;
	char password[ADM_SECRET_MAX], what[EST_HTTPAUTH_MAX_USER + 16];
	const char *name = NULL;
	bool from_stdin = !isatty(STDIN_FILENO);
	int c, status;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 's')
			return adm_bad_option(ctx, argv, longopts);
		from_stdin = true;
	}
	if ((status = name_arg(ctx, argc, argv, &name)) != ADM_EXIT_OK ||
	    (status = load_creds_config(ctx, &cfg)) != ADM_EXIT_OK)
		return status;
	snprintf(what, sizeof(what), "password for %s", name);
	status = adm_read_secret(from_stdin ? "-" : NULL, NULL, what, password, sizeof(password));
	if (status == ADM_EXIT_OK)
		status = set_password(cfg, name, password);
	OPENSSL_cleanse(password, sizeof(password));
	est_config_free(cfg);
	return status;
}

/* estadm user del NAME */
int
adm_user_del(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { { NULL, 0, NULL, 0 } };
	struct est_error e = { 0 };
	struct est_config *cfg = NULL;
	const char *name = NULL;
	int status;

	if (getopt_long(argc, argv, "", longopts, NULL) != -1)
		return adm_bad_option(ctx, argv, longopts);
	if ((status = name_arg(ctx, argc, argv, &name)) != ADM_EXIT_OK ||
	    (status = load_creds_config(ctx, &cfg)) != ADM_EXIT_OK)
		return status;
	if (est_creds_del(cfg->credentials_path, name, &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	else
		printf("removed user %s\n", name);
	est_config_free(cfg);
	return status;
}

/*
 * Print the first field of every entry. est_creds has no listing call, and
 * the file format (include/estkit/httpauth.h) makes the name the text before
 * the first ':'. A missing file holds no users.
 */
static int
print_names(const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *fp;
	int status = ADM_EXIT_OK;

	if ((fp = fopen(path, "r")) == NULL)
		return errno == ENOENT ? ADM_EXIT_OK
		    : adm_fail("cannot read %s: %s", path, strerror(errno));
	while (getline(&line, &cap, fp) != -1) {
		size_t n = strcspn(line, ":\r\n");

		if (line[0] == '#' || n == 0)
			continue;
		printf("%.*s\n", (int)n, line);
	}
	if (ferror(fp))
		status = adm_fail("cannot read %s: %s", path, strerror(errno));
	/* The lines hold password hashes: do not leave them in freed memory. */
	if (line != NULL)
		OPENSSL_cleanse(line, cap);
	free(line);
	fclose(fp);
	return status;
}

/* estadm user list */
int
adm_user_list(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { { NULL, 0, NULL, 0 } };
	struct est_config *cfg = NULL;
	int status;

	if (getopt_long(argc, argv, "", longopts, NULL) != -1)
		return adm_bad_option(ctx, argv, longopts);
	if (optind != argc)
		return adm_usage_error(ctx, "unexpected argument \"%s\"", argv[optind]);
	if ((status = load_creds_config(ctx, &cfg)) != ADM_EXIT_OK)
		return status;
	status = print_names(cfg->credentials_path);
	est_config_free(cfg);
	return status;
}
