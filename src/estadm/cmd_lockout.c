/*
 * estadm lockout list|clear: the authentication lock-outs estd is enforcing
 * (repeated wrong passwords or enrolment codes from one address, or for one
 * name), read from and lifted in the lock-out file beside the store
 * (include/estkit/lockout.h). A running estd sees a cleared lock-out at the
 * next attempt, without a restart.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "estadm.h"
#include "estkit/config.h"
#include "estkit/lockout.h"

/* The lock-out file of the configuration, malloc'd into *path. */
static int
lockout_file(const struct adm_ctx *ctx, char **path)
{
	struct est_config *cfg = NULL;
	int status;

	if ((status = adm_load_config(ctx, &cfg)) != ADM_EXIT_OK)
		return status;
	*path = est_lockout_path(cfg);
	est_config_free(cfg);
	return *path != NULL ? ADM_EXIT_OK : adm_fail("out of memory");
}

/* A name as a client sent it, on one line: control bytes as \xNN. */
static void
print_key(const char *key)
{
	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++) {
		if (*p < ' ' || *p == 0x7f)
			printf("\\x%02X", *p);
		else
			putchar(*p);
	}
	putchar('\n');
}

/* estadm lockout list */
int
adm_lockout_list(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { { NULL, 0, NULL, 0 } };
	struct est_error e = { 0 };
	struct est_lockout *list = NULL;
	int64_t now = (int64_t)time(NULL);
	char *path = NULL, until[32], left[24];
	size_t n = 0;
	struct tm tm;
	time_t t;
	int status;

	if (getopt_long(argc, argv, "", longopts, NULL) != -1)
		return adm_bad_option(ctx, argv, longopts);
	if (optind != argc)
		return adm_usage_error(ctx, "unexpected argument \"%s\"", argv[optind]);
	if ((status = lockout_file(ctx, &path)) != ADM_EXIT_OK)
		return status;
	if (est_lockout_list(path, now, &list, &n, &e) != EST_OK) {
		status = adm_fail("%s", e.msg);
	} else {
		printf("%-7s  %-20s  %-9s  %s\n", "KIND", "UNTIL (UTC)", "LEFT", "ADDRESS-OR-NAME");
		for (size_t i = 0; i < n; i++) {
			t = (time_t)list[i].until;
			if (gmtime_r(&t, &tm) == NULL ||
			    strftime(until, sizeof(until), "%Y-%m-%d %H:%M:%S", &tm) == 0)
				snprintf(until, sizeof(until), "?");
			snprintf(left, sizeof(left), "%llds", (long long)(list[i].until - now));
			printf("%-7s  %-20s  %-9s  ", list[i].kind, until, left);
			print_key(list[i].key);
		}
	}
	free(list);
	free(path);
	return status;
}

/* estadm lockout clear ADDRESS-OR-NAME... | --all */
int
adm_lockout_clear(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct est_error e = { 0 };
	int64_t now = (int64_t)time(NULL);
	bool all = false;
	char *path = NULL;
	size_t removed;
	int c, status;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': all = true; break;
		default: return adm_bad_option(ctx, argv, longopts);
		}
	}
	if (all == (argc - optind > 0))
		return adm_usage_error(ctx, "give the addresses or names to clear, or --all");
	if ((status = lockout_file(ctx, &path)) != ADM_EXIT_OK)
		return status;
	if (all) {
		if (est_lockout_clear(path, NULL, now, &removed, &e) != EST_OK)
			status = adm_fail("%s", e.msg);
		else
			printf("cleared %zu lock-out%s\n", removed, removed == 1 ? "" : "s");
	}
	for (int i = optind; !all && i < argc; i++) {
		if (est_lockout_clear(path, argv[i], now, &removed, &e) != EST_OK)
			status = adm_fail("%s", e.msg);
		else if (removed == 0)
			status = adm_fail("%s is not locked out (estadm lockout list shows who is)",
			    argv[i]);
		else
			printf("cleared %s\n", argv[i]);
	}
	free(path);
	return status;
}
