/*
 * Error codes and their reasons (include/estkit/err.h).
 *
 * est_strerror is a switch, not a table, so that -Wswitch-enum flags a code
 * added without a description.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "estkit/err.h"

const char *
est_strerror(enum est_err code)
{
	switch (code) {
	case EST_OK:
		return "success";
	case EST_ERR_NOMEM:
		return "out of memory";
	case EST_ERR_IO:
		return "input/output error";
	case EST_ERR_CONFIG:
		return "bad configuration";
	case EST_ERR_BADREQ:
		return "bad request";
	case EST_ERR_AUTH:
		return "authentication required";
	case EST_ERR_FORBIDDEN:
		return "forbidden";
	case EST_ERR_NOTFOUND:
		return "not found";
	case EST_ERR_METHOD:
		return "method not allowed";
	case EST_ERR_TOOLARGE:
		return "too large";
	case EST_ERR_MEDIATYPE:
		return "unsupported media type";
	case EST_ERR_NOTIMPL:
		return "not implemented";
	case EST_ERR_PENDING:
		return "pending approval";
	case EST_ERR_CRYPTO:
		return "cryptographic operation failed";
	case EST_ERR_STORE:
		return "certificate store failed";
	case EST_ERR_EXISTS:
		return "already exists";
	case EST_ERR_INTERNAL:
		return "internal error";
	case EST_ERR_UNAVAILABLE:
		return "service unavailable";
	case EST_ERR_CONNECT:
		return "cannot reach the server";
	case EST_ERR_TLS:
		return "TLS or server authentication failed";
	case EST_ERR_SERVER:
		return "server error";
	case EST_ERR__MAX:
		break;
	}
	return "unknown error";
}

static void vfill(struct est_error *e, enum est_err code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void
vfill(struct est_error *e, enum est_err code, const char *fmt, va_list ap)
{
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

enum est_err
est_fail(struct est_error *e, enum est_err code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	va_start(ap, fmt);
	vfill(e, code, fmt, ap);
	va_end(ap);
	return code;
}

enum est_err
est_fail_ssl(struct est_error *e, enum est_err code, const char *fmt, ...)
{
	va_list ap;
	unsigned long sslerr;
	char sslmsg[160];
	size_t n;

	sslerr = ERR_peek_last_error();
	if (e != NULL) {
		va_start(ap, fmt);
		vfill(e, code, fmt, ap);
		va_end(ap);
		if (sslerr != 0) {
			ERR_error_string_n(sslerr, sslmsg, sizeof(sslmsg));
			n = strlen(e->msg);
			snprintf(e->msg + n, sizeof(e->msg) - n, " (%s)", sslmsg);
		}
	}
	ERR_clear_error();
	return code;
}
