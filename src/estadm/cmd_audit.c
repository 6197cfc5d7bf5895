/*
 * estadm and the audit log (include/estkit/audit.h): every command that
 * changes something is recorded after it succeeded -- who ran it (the
 * login, and the sudo user behind it), the command and its arguments with
 * secrets masked -- and `estadm audit verify` checks the chain.
 *
 * Which commands change nothing is listed here (read_only); every other
 * command, including one added later, is audited.
 */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estadm.h"
#include "estkit/audit.h"

static const char *const read_only[] = {
	"help", "cert list", "cert show", "req list", "user list", "ee list", "ee show",
	"ca list", "audit verify", "lockout list", "db check", "token list", "srp list",
	"crl show",
};

static char audit_config[PATH_MAX];

void
adm_audit_config_is(const char *path)
{
	snprintf(audit_config, sizeof(audit_config), "%s", path);
}

static void
command_name(const struct adm_cmd *cmd, char *out, size_t len)
{
	snprintf(out, len, "%s%s%s", cmd->group, cmd->verb != NULL ? " " : "",
	    cmd->verb != NULL ? cmd->verb : "");
}

bool
adm_audited(const struct adm_cmd *cmd)
{
	char name[64];

	command_name(cmd, name, sizeof(name));
	for (size_t i = 0; i < sizeof(read_only) / sizeof(read_only[0]); i++)
		if (strcmp(read_only[i], name) == 0)
			return false;
	return true;
}

/* Options whose value is a secret: the value is not recorded. */
static bool
secret_option(const char *arg)
{
	return strncmp(arg, "-", 1) == 0 &&
	    (strstr(arg, "password") != NULL || strstr(arg, "secret") != NULL ||
	    strstr(arg, "token") != NULL || strstr(arg, "code") != NULL);
}

char *
adm_audit_args(int argc, char **argv)
{
	size_t len = 1;
	char *out, *eq;
	bool mask_next = false;

	for (int i = 1; i < argc; i++)
		len += strlen(argv[i]) + 4;
	if ((out = calloc(1, len)) == NULL)
		return NULL;
	for (int i = 1; i < argc; i++) {
		if (i > 1)
			strcat(out, " ");
		if (mask_next) {
			strcat(out, "***");
			mask_next = false;
		} else if (secret_option(argv[i]) && (eq = strchr(argv[i], '=')) != NULL) {
			strncat(out, argv[i], (size_t)(eq - argv[i]) + 1);
			strcat(out, "***");
		} else {
			strcat(out, argv[i]);
			mask_next = secret_option(argv[i]);
		}
	}
	return out;
}

/* "admin:LOGIN", and the user sudo ran for. */
static void
who_runs(char *who, size_t len, const char **sudo_user)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw != NULL)
		snprintf(who, len, "admin:%s", pw->pw_name);
	else
		snprintf(who, len, "admin:uid%u", (unsigned)geteuid());
	*sudo_user = getenv("SUDO_USER");
}

int
adm_audit_record(const struct adm_ctx *ctx, const struct adm_cmd *cmd, const char *args)
{
	struct est_config *cfg = NULL;
	struct est_audit *a = NULL;
	struct est_error e = { 0 };
	struct adm_ctx actx = *ctx;
	char who[96], what[64];
	const char *sudo_user, *fields[4];
	size_t n = 0;
	int status;

	if (audit_config[0] != '\0')
		actx.config_path = audit_config;
	if ((status = adm_load_config(&actx, &cfg)) != ADM_EXIT_OK)
		return adm_fail("the change is made, but not recorded in the audit log");
	if (cfg->audit_log_path == NULL) {
		est_config_free(cfg);
		return ADM_EXIT_OK;
	}
	who_runs(who, sizeof(who), &sudo_user);
	command_name(cmd, what, sizeof(what));
	fields[n++] = "args";
	fields[n++] = args != NULL ? args : "?";
	if (sudo_user != NULL) {
		fields[n++] = "sudo-user";
		fields[n++] = sudo_user;
	}
	if (est_audit_open(cfg->audit_log_path, &a, &e) != EST_OK ||
	    est_audit_append(a, who, what, fields, n / 2, &e) != EST_OK)
		status = adm_fail("the change is made, but not recorded in the audit log: %s", e.msg);
	est_audit_close(a);
	est_config_free(cfg);
	return status;
}

/* estadm audit verify [--file PATH] */
int
adm_audit_verify(const struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	char hash[EST_AUDIT_HASH_HEX + 1];
	struct est_config *cfg = NULL;
	struct est_error e = { 0 };
	const char *path = NULL;
	size_t entries = 0;
	int c, status = ADM_EXIT_OK;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'f')
			return adm_bad_option(ctx, argv, longopts);
		path = optarg;
	}
	if (optind != argc)
		return adm_usage_error(ctx, "unexpected argument \"%s\"", argv[optind]);
	if (path == NULL) {
		if ((status = adm_load_config(ctx, &cfg)) != ADM_EXIT_OK)
			return status;
		path = cfg->audit_log_path;
		if (path == NULL) {
			est_config_free(cfg);
			return adm_fail("%s has no audit-log (or give --file PATH)", ctx->config_path);
		}
	}
	if (est_audit_verify(path, &entries, hash, &e) != EST_OK)
		status = adm_fail("%s", e.msg);
	else
		printf("%s: %zu entries, chain intact; last hash %s\n", path, entries, hash);
	est_config_free(cfg);
	return status;
}
