/*
 * Logging (include/estkit/log.h): a level filter in front of one sink.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "estkit/log.h"

static est_log_sink log_sink;
static void *log_arg;
static enum est_log_level log_level = EST_LOG_INFO;

static const char *const level_names[EST_LOG__MAX] = {
	[EST_LOG_ERROR] = "error",
	[EST_LOG_WARN] = "warn",
	[EST_LOG_INFO] = "info",
	[EST_LOG_DEBUG] = "debug",
};

void
est_log_set_sink(est_log_sink sink, void *arg)
{
	log_sink = sink;
	log_arg = arg;
}

void
est_log_set_level(enum est_log_level level)
{
	log_level = level;
}

enum est_log_level
est_log_get_level(void)
{
	return log_level;
}

const char *
est_log_level_name(enum est_log_level level)
{
	if ((unsigned)level >= EST_LOG__MAX)
		return "?";
	return level_names[level];
}

int
est_log_level_parse(const char *s, enum est_log_level *out)
{
	for (int i = 0; i < EST_LOG__MAX; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum est_log_level)i;
			return 0;
		}
	}
	return -1;
}

static void
default_sink(enum est_log_level level, const char *line, void *arg)
{
	char ts[32];
	struct timespec now;
	struct tm tm;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	/* One fprintf per line keeps lines from several threads whole. */
	fprintf(stderr, "%s.%03ldZ %s %s\n", ts, now.tv_nsec / 1000000,
	    est_log_level_name(level), line);
}

void
est_log(enum est_log_level level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* A line never spans several: a newline in data would forge log lines. */
	for (char *p = line; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (log_sink != NULL)
		log_sink(level, line, log_arg);
	else
		default_sink(level, line, NULL);
}
