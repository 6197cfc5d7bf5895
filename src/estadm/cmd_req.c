/*
 * estadm req list|approve|reject: enrolments held by aliases with
 * approval = manual. A client that got 202 retries; once its request is
 * approved the retry gets its certificate (once), once rejected it gets 403.
 * Only pending requests can be approved or rejected; the store makes the
 * change in one statement, so two administrators cannot both decide.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "estadm.h"
#include "estkit/config.h"
#include "estkit/store.h"

static int
print_req(const struct est_req_rec *rec, void *arg)
{
	time_t t = (time_t)rec->created_at;
	char when[32] = "-";
	struct tm tm;

	(void)arg;
	if (gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%MZ", &tm);
	printf("%-5" PRId64 " %-8s %-10s %-14s %-17s %-20s %s%s%s\n", rec->id,
	    est_req_state_name(rec->state), rec->alias, rec->operation, when, rec->principal,
	    rec->subject, rec->san[0] != '\0' ? " SAN " : "", rec->san);
	return 0;
}

/* estadm req list [--all] */
int
adm_req_list(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct est_error e = { 0 };
	struct est_store *st = NULL;
	bool all = false;
	int c, status;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'a')
			return adm_bad_option(ctx, argv, longopts);
		all = true;
	}
	if (optind != argc)
		return adm_usage_error(ctx, "unexpected argument \"%s\"", argv[optind]);
	if ((status = adm_open_configured_store(ctx, &st)) != ADM_EXIT_OK)
		return status;
	printf("%-5s %-8s %-10s %-14s %-17s %-20s %s\n", "ID", "STATE", "ALIAS", "OPERATION",
	    "CREATED", "PRINCIPAL", "SUBJECT");
	if (est_store_list_requests(st, !all, print_req, NULL, &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	est_store_close(st);
	return status;
}

/* The one ID argument: a request number as `req list` shows it. */
static int
id_arg(const struct adm_ctx *ctx, int argc, char **argv, int64_t *id)
{
	char *end;
	long long n;

	if (argc < 2)
		return adm_usage_error(ctx, "no request ID given");
	if (argc > 2)
		return adm_usage_error(ctx, "unexpected argument \"%s\"", argv[2]);
	errno = 0;
	n = strtoll(argv[1], &end, 10);
	if (errno != 0 || *end != '\0' || n <= 0 || argv[1][0] == '+')
		return adm_usage_error(ctx, "\"%s\" is not a request ID (a number, as `estadm req "
		    "list` shows it)", argv[1]);
	*id = (int64_t)n;
	return ADM_EXIT_OK;
}

static int
decide(const struct adm_ctx *ctx, int argc, char **argv, enum est_req_state to)
{
	struct est_error e = { 0 };
	struct est_store *st = NULL;
	int64_t id = 0;
	int status;

	if ((status = id_arg(ctx, argc, argv, &id)) != ADM_EXIT_OK ||
	    (status = adm_open_configured_store(ctx, &st)) != ADM_EXIT_OK)
		return status;
	if (est_store_set_request_state(st, id, EST_REQ_PENDING, to, (int64_t)time(NULL), &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	else
		printf("request %" PRId64 " %s\n", id, est_req_state_name(to));
	est_store_close(st);
	return status;
}

/* estadm req approve ID */
int
adm_req_approve(const struct adm_ctx *ctx, int argc, char **argv)
{
	return decide(ctx, argc, argv, EST_REQ_APPROVED);
}

/* estadm req reject ID */
int
adm_req_reject(const struct adm_ctx *ctx, int argc, char **argv)
{
	return decide(ctx, argc, argv, EST_REQ_REJECTED);
}
