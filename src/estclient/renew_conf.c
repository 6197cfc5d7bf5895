/*
 * The settings of estclient renew: one table of long option names shared by
 * the command line and the configuration file, so a key in the file is
 * spelled as its option (cert, key, renew-share, post-hook, ...). The file
 * is read with the INI reader estd uses; settings before the first
 * [cert NAME] section apply to every certificate.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/ini.h"
#include "estclient.h"

/* The string settings, by name. */
static char **
string_field(struct renew_job *j, const char *key)
{
	static const struct { const char *name; size_t off; } names[] = {
		{ "cert", offsetof(struct renew_job, cert_file) },
		{ "key", offsetof(struct renew_job, key_file) },
		{ "chain", offsetof(struct renew_job, chain_file) },
		{ "trustanchor", offsetof(struct renew_job, ta_file) },
		{ "server", offsetof(struct renew_job, url) },
		{ "host", offsetof(struct renew_job, host) },
		{ "path-seg", offsetof(struct renew_job, label) },
		{ "resolve", offsetof(struct renew_job, resolve) },
		{ "key-type", offsetof(struct renew_job, key_type) },
		{ "post-hook", offsetof(struct renew_job, post_hook) },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(key, names[i].name) == 0)
			return (char **)((char *)j + names[i].off);
	return NULL;
}

/* "90", "90s", "15m", "12h", "30d" as seconds; -1 when it is none of these. */
static long long
duration(const char *s)
{
	char *end;
	long long n, unit = 1;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || errno != 0 || n > 100LL * 366 * 86400)
		return -1;
	if (*end != '\0' && end[1] != '\0')
		return -1;
	switch (*end) {
	case '\0': case 's': break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return -1;
	}
	return n * unit;
}

/* "0.667", "2/3" or "67%" as a share in (0, 1]; NAN otherwise. */
static double
share(const char *s)
{
	char *end;
	double v, d;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0)
		return NAN;
	if (*end == '%' && end[1] == '\0')
		v /= 100.0;
	else if (*end == '/') {
		d = strtod(end + 1, &end);
		if (*end != '\0' || !(d > 0.0))
			return NAN;
		v /= d;
	} else if (*end != '\0') {
		return NAN;
	}
	return v > 0.0 && v <= 1.0 ? v : NAN;
}

static bool
number(const char *s, unsigned long min, unsigned long max, unsigned *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || n < min || n > max)
		return false;
	*out = (unsigned)n;
	return true;
}

const char *
renew_set(struct renew_job *j, const char *key, const char *value)
{
	char **field = string_field(j, key);
	char *copy;
	double d;
	long long n;

	if (field != NULL) {
		if (value[0] == '\0')
			return "an empty value";
		if ((copy = strdup(value)) == NULL)
			return "out of memory";
		free(*field);
		*field = copy;
		return NULL;
	}
	if (strcmp(key, "port") == 0)
		return number(value, 1, 65535, &j->port) ? NULL : "use a port number 1-65535";
	if (strcmp(key, "renew-share") == 0) {
		if (isnan(d = share(value)))
			return "use a share of the lifetime above 0 and at most 1: 0.667, 2/3 or 67%";
		j->share = d;
		return NULL;
	}
	if (strcmp(key, "renew-before") == 0) {
		if ((n = duration(value)) < 0)
			return "use a time before expiry: seconds, or 90s, 15m, 12h, 30d";
		j->before = n;
		return NULL;
	}
	if (strcmp(key, "retry-delay") == 0) {
		if ((n = duration(value)) < 1 || n > 3600)
			return "use 1 second to 1 hour: 30, 30s, 5m";
		j->retry_delay = (double)n;
		return NULL;
	}
	if (strcmp(key, "same-key") == 0) {
		if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0)
			return "use yes or no";
		j->same_key = strcmp(value, "yes") == 0;
		return NULL;
	}
	if (strcmp(key, "timeout") == 0)
		return number(value, 1, 3600, &j->read_timeout) ? NULL : "use 1-3600 seconds";
	if (strcmp(key, "retry-max") == 0)
		return number(value, 0, 100, &j->retry_max) ? NULL : "use 0-100";
	if (strcmp(key, "retries") == 0)
		return number(value, 0, 100, &j->retries) ? NULL : "use 0-100";
	return "unknown setting";
}

void
renew_job_clear(struct renew_job *j)
{
	free(j->name);
	free(j->cert_file);
	free(j->key_file);
	free(j->chain_file);
	free(j->ta_file);
	free(j->url);
	free(j->host);
	free(j->label);
	free(j->resolve);
	free(j->key_type);
	free(j->post_hook);
	memset(j, 0, sizeof(*j));
}

static bool
dup_into(char **to, const char *from)
{
	*to = from != NULL ? strdup(from) : NULL;
	return from == NULL || *to != NULL;
}

bool
renew_job_copy(struct renew_job *to, const struct renew_job *from)
{
	*to = *from;
	to->next = 0;
	to->failures = 0;
	to->stopped = false;
	if (dup_into(&to->name, from->name) && dup_into(&to->cert_file, from->cert_file) &&
	    dup_into(&to->key_file, from->key_file) &&
	    dup_into(&to->chain_file, from->chain_file) && dup_into(&to->ta_file, from->ta_file) &&
	    dup_into(&to->url, from->url) && dup_into(&to->host, from->host) &&
	    dup_into(&to->label, from->label) && dup_into(&to->resolve, from->resolve) &&
	    dup_into(&to->key_type, from->key_type) && dup_into(&to->post_hook, from->post_hook))
		return true;
	return false;
}

void
renew_jobs_free(struct renew_job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		renew_job_clear(&jobs[i]);
	free(jobs);
}

/* The reader's state. */
struct conf {
	const char *path;
	struct renew_job base;      /* the settings before the first section */
	struct renew_job *jobs;
	size_t n;
	int errors;
	bool in_section;
};

static void
conf_error(struct conf *c, int line, const char *what, const char *reason)
{
	fprintf(stderr, "estclient: %s:%d: %s: %s\n", c->path, line, what, reason);
	c->errors++;
}

static void
on_section(void *arg, int line, const char *header)
{
	struct conf *c = arg;
	struct renew_job *grown, *j;

	if (strncmp(header, "cert ", 5) != 0 || header[5] == '\0') {
		conf_error(c, line, header, "sections are [cert NAME]");
		return;
	}
	if ((grown = realloc(c->jobs, (c->n + 1) * sizeof(*grown))) == NULL) {
		conf_error(c, line, header, "out of memory");
		return;
	}
	c->jobs = grown;
	j = &c->jobs[c->n];
	if (!renew_job_copy(j, &c->base)) {
		renew_job_clear(j);
		conf_error(c, line, header, "out of memory");
		return;
	}
	c->n++;
	free(j->name);
	j->name = strdup(header + 5);
	c->in_section = true;
}

static void
on_pair(void *arg, int line, const char *key, const char *value)
{
	struct conf *c = arg;
	struct renew_job *j = c->in_section ? &c->jobs[c->n - 1] : &c->base;
	const char *why;

	if ((why = renew_set(j, key, value)) != NULL)
		conf_error(c, line, key, why);
}

static void
on_error(void *arg, int line, const char *reason)
{
	conf_error(arg, line, "syntax", reason);
}

/*
 * The file's post-hooks run as whoever runs renew, often root: a file that
 * another user may change (writable by group or others, or owned by another
 * user than this one or root) would run that user's commands.
 */
static int
check_owner(FILE *f, const char *path)
{
	struct stat st;

	if (fstat(fileno(f), &st) != 0)
		return cli_fail(CLI_USAGE, "%s: %s", path, strerror(errno));
	if ((st.st_mode & 022) != 0)
		return cli_fail(CLI_USAGE, "%s: writable by group or others (mode %04o), and its "
		    "post-hooks run as this user: chmod go-w %s", path,
		    (unsigned)(st.st_mode & 07777), path);
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return cli_fail(CLI_USAGE, "%s: owned by user %u, who could change the post-hooks "
		    "it runs as this user: make it owned by root or by this user", path,
		    (unsigned)st.st_uid);
	return CLI_OK;
}

int
renew_conf_read(const char *path, const struct renew_job *base, struct renew_job **jobs,
    size_t *n)
{
	struct conf c = { .path = path };
	struct ini_handler h = { on_section, on_pair, on_error, &c };
	char *buf = NULL;
	size_t len = 0;
	int status;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return cli_fail(CLI_USAGE, "%s: %s", path, strerror(errno));
	if ((status = check_owner(f, path)) != CLI_OK) {
		fclose(f);
		return status;
	}
	buf = malloc(65537);
	if (buf != NULL)
		len = fread(buf, 1, 65537, f);
	fclose(f);
	if (buf == NULL)
		return cli_fail(CLI_FAIL, "out of memory");
	if (len > 65536) {
		free(buf);
		return cli_fail(CLI_USAGE, "%s: larger than 64 KiB", path);
	}
	if (!renew_job_copy(&c.base, base)) {
		free(buf);
		renew_job_clear(&c.base);
		return cli_fail(CLI_FAIL, "out of memory");
	}
	ini_parse(buf, len, &h);
	free(buf);
	renew_job_clear(&c.base);
	if (c.errors == 0 && c.n == 0) {
		fprintf(stderr, "estclient: %s: no [cert NAME] section\n", path);
		c.errors++;
	}
	if (c.errors > 0) {
		renew_jobs_free(c.jobs, c.n);
		return CLI_USAGE;
	}
	*jobs = c.jobs;
	*n = c.n;
	return CLI_OK;
}
