/*
 * estadm token add|del|list: the HTTP Bearer tokens file (`bearer-tokens`
 * in [server], format in include/estkit/bearer.h). A token is made here,
 * printed once and stored only as its SHA-256; estd reads the file at each
 * check, so changes apply at once.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "estadm.h"
#include "estkit/bearer.h"
#include "estkit/config.h"
#include "estkit/httpauth.h"

/* The configuration, which must name a tokens file. */
static int
load_token_config(const struct adm_ctx *ctx, struct est_config **cfg)
{
	int status;

	if ((status = adm_load_config(ctx, cfg)) != ADM_EXIT_OK)
		return status;
	if ((*cfg)->bearer_tokens_path == NULL) {
		status = adm_fail("%s has no `bearer-tokens` in [server]: add one "
		    "(e.g. bearer-tokens = tokens) to keep Bearer tokens", ctx->config_path);
		est_config_free(*cfg);
		*cfg = NULL;
	}
	return status;
}

/* The single NAME argument. */
static int
name_arg(const struct adm_ctx *ctx, int argc, char **argv, const char **name)
{
	static const struct option none[] = { { NULL, 0, NULL, 0 } };

	if (getopt_long(argc, argv, "", none, NULL) != -1)
		return adm_bad_option(ctx, argv, none);
	if (argc == optind)
		return adm_usage_error(ctx, "no token name given");
	if (argc - optind > 1)
		return adm_usage_error(ctx, "unexpected argument \"%s\"", argv[optind + 1]);
	if (!est_creds_valid_user(argv[optind]))
		return adm_usage_error(ctx, "bad token name \"%s\": use 1-%d characters of "
		    "A-Z a-z 0-9 . _ @ + -", argv[optind], EST_HTTPAUTH_MAX_USER);
	*name = argv[optind];
	return ADM_EXIT_OK;
}

/* estadm token add NAME */
int
adm_token_add(const struct adm_ctx *ctx, int argc, char **argv)
{
	struct est_error e = { 0 };
	struct est_config *cfg = NULL;
	const char *name = NULL;
	char *token = NULL;
	bool replaced = false;
	int status;

	if ((status = name_arg(ctx, argc, argv, &name)) != ADM_EXIT_OK ||
	    (status = load_token_config(ctx, &cfg)) != ADM_EXIT_OK)
		return status;
	if (est_token_add(cfg->bearer_tokens_path, name, &token, &replaced, &e) != EST_OK) {
		status = adm_fail("%s", e.msg);
	} else {
		fprintf(stderr, "%s Bearer token of %s (shown once; only its hash is kept):\n",
		    replaced ? "new" : "added", name);
		printf("%s\n", token);
		OPENSSL_cleanse(token, strlen(token));
		free(token);
	}
	est_config_free(cfg);
	return status;
}

/* estadm token del NAME */
int
adm_token_del(const struct adm_ctx *ctx, int argc, char **argv)
{
	struct est_error e = { 0 };
	struct est_config *cfg = NULL;
	const char *name = NULL;
	int status;

	if ((status = name_arg(ctx, argc, argv, &name)) != ADM_EXIT_OK ||
	    (status = load_token_config(ctx, &cfg)) != ADM_EXIT_OK)
		return status;
	if (est_token_del(cfg->bearer_tokens_path, name, &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	else
		printf("removed token %s\n", name);
	est_config_free(cfg);
	return status;
}

/* estadm token list */
int
adm_token_list(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option none[] = { { NULL, 0, NULL, 0 } };
	struct est_error e = { 0 };
	struct est_config *cfg = NULL;
	char *names = NULL;
	size_t n = 0, off = 0;
	int status;

	if (getopt_long(argc, argv, "", none, NULL) != -1)
		return adm_bad_option(ctx, argv, none);
	if (argc > optind)
		return adm_usage_error(ctx, "unexpected argument \"%s\"", argv[optind]);
	if ((status = load_token_config(ctx, &cfg)) != ADM_EXIT_OK)
		return status;
	if (est_token_names(cfg->bearer_tokens_path, &names, &n, &e) != EST_OK) {
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
