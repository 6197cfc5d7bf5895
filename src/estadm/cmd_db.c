/*
 * estadm db: the store itself. create makes a new one where the
 * configuration points (the only way besides `estadm init`: no other
 * command and not estd make a store), migrate brings its schema forward,
 * check runs SQLite's integrity_check (PostgreSQL: reads every row),
 * backup writes an online, consistent copy (SQLite).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

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

/* estadm db migrate */
int
adm_db_migrate(const struct adm_ctx *ctx, int argc, char **argv)
{
	struct est_error e = { 0 };
	struct est_config *cfg = NULL;
	int status, from = 0, to = 0;

	(void)argv;
	if (argc != 1)
		return adm_usage_error(ctx, "db migrate takes no arguments");
	if ((status = adm_load_config(ctx, &cfg)) != ADM_EXIT_OK)
		return status;
	if (est_store_migrate(cfg->store_uri, &from, &to, &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	else if (from == to)
		printf("the store's schema is at version %d already\n", to);
	else
		printf("migrated the store's schema from version %d to %d\n", from, to);
	est_config_free(cfg);
	return status;
}

/* estadm db export: every record to standard output. */
int
adm_db_export(const struct adm_ctx *ctx, int argc, char **argv)
{
	struct est_error e = { 0 };
	struct est_store *st = NULL;
	int status;

	(void)argv;
	if (argc != 1)
		return adm_usage_error(ctx, "db export takes no arguments (it writes to standard "
		    "output)");
	if ((status = adm_open_configured_store(ctx, &st)) != ADM_EXIT_OK)
		return status;
	if (est_store_export(st, stdout, &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	est_store_close(st);
	return status;
}

/* estadm db import FILE: into a store without records. */
int
adm_db_import(const struct adm_ctx *ctx, int argc, char **argv)
{
	struct est_error e = { 0 };
	struct est_store *st = NULL;
	FILE *in;
	int status;

	if (argc != 2)
		return adm_usage_error(ctx, "db import takes the file of an export");
	if ((in = fopen(argv[1], "r")) == NULL)
		return adm_fail("%s: %s", argv[1], strerror(errno));
	if ((status = adm_open_configured_store(ctx, &st)) == ADM_EXIT_OK) {
		if (est_store_import(st, in, argv[1], &e) != EST_OK)
			status = adm_fail("%s", e.msg);
		else
			printf("imported %s\n", argv[1]);
		est_store_close(st);
	}
	fclose(in);
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
		printf("the store passed %s\n", strcmp(st->ops->name, "sqlite") == 0 ?
		    "SQLite's integrity_check" : "its check (schema version, every row read)");
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
