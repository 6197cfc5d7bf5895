/*
 * estkit logging.
 *
 * Library code logs only through this interface; the program decides where
 * lines go by installing a sink (default: standard error, one line per call,
 * prefixed with an ISO 8601 UTC time and the level). Messages never contain
 * private keys, passwords or enrolment codes.
 */
#ifndef ESTKIT_LOG_H
#define ESTKIT_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

enum est_log_level {
	EST_LOG_ERROR = 0,
	EST_LOG_WARN = 1,
	EST_LOG_INFO = 2,
	EST_LOG_DEBUG = 3,
	EST_LOG__MAX
};

/* A sink receives the level and the formatted line (no trailing newline). */
typedef void (*est_log_sink)(enum est_log_level level, const char *line, void *arg);

/* Install a sink (NULL restores the default). Not thread-safe: call at start-up. */
void est_log_set_sink(est_log_sink sink, void *arg);

/* Lines above this level are dropped. Default EST_LOG_INFO. */
void est_log_set_level(enum est_log_level level);
enum est_log_level est_log_get_level(void);

/* Parse "error|warn|info|debug"; returns 0 and sets *out, or -1. */
int est_log_level_parse(const char *s, enum est_log_level *out);

/* Static name of a level ("error", ...). */
const char *est_log_level_name(enum est_log_level level);

void est_log(enum est_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) est_log(EST_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) est_log(EST_LOG_WARN, __VA_ARGS__)
#define log_info(...) est_log(EST_LOG_INFO, __VA_ARGS__)
#define log_debug(...) est_log(EST_LOG_DEBUG, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif
