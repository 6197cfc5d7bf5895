/*
 * estadm db: the store itself. create makes a new one where the
 * configuration points (the only way besides `estadm init`: no other
 * command and not estd make a store), check runs SQLite's integrity_check,
 * backup writes an online, consistent copy.
 */
#include <stdio.h>

#include "estadm.h"
#include "estkit/store.h"

/* estadm db create */
int
adm_db_create(const struct adm_ctx *ctx, int argc, char **argv)
{
	struct est_error e = { 0 };
	struct est_config *cfg = NULL;
	struct est_store *st = NULL;
	int status;

	(void)argv;
	if (argc != 1)
		return adm_usage_error(ctx, "db create takes no arguments");
	if ((status = adm_load_config(ctx, &cfg)) != ADM_EXIT_OK)
		return status;
	if (est_store_create(cfg->store_uri, &st, &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	else
		printf("created the store %s\n", cfg->store_uri);
	est_store_close(st);
	est_config_free(cfg);
	return status;
}

/* estadm db check */
int
adm_db_check(const struct adm_ctx *ctx, int argc, char **argv)
{
	struct est_error e = { 0 };
	struct est_store *st = NULL;
	int status;

	(void)argv;
	if (argc != 1)
		return adm_usage_error(ctx, "db check takes no arguments");
	if ((status = adm_open_configured_store(ctx, &st)) != ADM_EXIT_OK)
		return status;
	if (est_store_check(st, true, &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	else
		printf("the store passed SQLite's integrity_check\n");
	est_store_close(st);
	return status;
}

/* estadm db backup FILE */
int
adm_db_backup(const struct adm_ctx *ctx, int argc, char **argv)
{
	struct est_error e = { 0 };
	struct est_store *st = NULL;
	int status;

	if (argc != 2)
		return adm_usage_error(ctx, "db backup takes the file to write");
	if ((status = adm_open_configured_store(ctx, &st)) != ADM_EXIT_OK)
		return status;
	if (est_store_backup(st, argv[1], &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	else
		printf("wrote a copy of the store to %s\n", argv[1]);
	est_store_close(st);
	return status;
}
