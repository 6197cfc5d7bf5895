/*
 * estd.conf: reading, defaults and checks (include/estkit/config.h).
 *
 * Options are rows of a table {section kind, key, type, offset, bounds};
 * adding an option is adding a row (and documenting it in
 * docs/configuration.md). The parser never stops at the first problem: every
 * error is collected with its file and line, so an administrator fixes them
 * all in one go.
 */
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "config/ini.h"
#include "config/rules.h"
#include "estkit/codec.h"
#include "estkit/config.h"
#include "estkit/log.h"

#define CONFIG_MAX_SIZE (1024 * 1024)

enum sect_kind { S_NONE, S_SERVER, S_LISTENER, S_CA, S_PROFILE, S_ALIAS };

enum opt_type {
	OPT_STR,      /* char * */
	OPT_PATH,     /* char *, relative to the file's directory */
	OPT_STORE,    /* char *, store URI with a relative sqlite path resolved */
	OPT_UINT,     /* unsigned */
	OPT_SIZE,     /* size_t */
	OPT_BOOL,     /* bool */
	OPT_LOGLEVEL, /* char *, checked */
	OPT_TLS,      /* enum est_tls_mode */
	OPT_LISTEN,   /* host and port of a listener */
	OPT_AUTH,     /* auth method list of an alias */
	OPT_EKU,      /* unsigned bit set of a profile */
	OPT_MODE,     /* enum est_alias_mode */
	OPT_DNFIELD,  /* username-component: name and NID of a DN field */
	OPT_NAMES,    /* vendor-cas: list of external CA names */
	OPT_CB,       /* enum est_channel_binding */
	OPT_KEYSPEC,  /* char *, a key spec or "from-csr" */
	OPT_CSRATTRS, /* char *, checked with est_csrattrs_parse */
	OPT_APPROVAL, /* enum est_approval */
	OPT_RULE,     /* an issuance-policy key of an alias (rules.c) */
	OPT_CHALLENGES, /* http-challenges: order of WWW-Authenticate challenges */
	OPT_URLPATH   /* char *, an absolute HTTP path outside /.well-known/est/ */
};

struct opt {
	enum sect_kind sect;
	const char *key;
	enum opt_type type;
	size_t off;
	unsigned long min, max;
};

#define SRV(f) offsetof(struct est_config, f)
#define LST(f) offsetof(struct est_listener_conf, f)
#define CA(f) offsetof(struct est_ca_conf, f)
#define PRF(f) offsetof(struct est_profile_conf, f)
#define ALS(f) offsetof(struct est_alias_conf, f)

static const struct opt opts[] = {
	{ S_SERVER, "store", OPT_STORE, SRV(store_uri), 0, 0 },
	{ S_SERVER, "credentials", OPT_PATH, SRV(credentials_path), 0, 0 },
	{ S_SERVER, "srp-verifiers", OPT_PATH, SRV(srp_verifiers_path), 0, 0 },
	{ S_SERVER, "bearer-tokens", OPT_PATH, SRV(bearer_tokens_path), 0, 0 },
	{ S_SERVER, "bearer-jwt-key", OPT_PATH, SRV(bearer_jwt_key_path), 0, 0 },
	{ S_SERVER, "bearer-jwt-issuer", OPT_STR, SRV(bearer_jwt_issuer), 0, 0 },
	{ S_SERVER, "bearer-jwt-audience", OPT_STR, SRV(bearer_jwt_audience), 0, 0 },
	{ S_SERVER, "bearer-jwt-max-lifetime", OPT_UINT, SRV(bearer_jwt_max_lifetime), 0,
	    366 * 86400 },
	{ S_SERVER, "realm", OPT_STR, SRV(realm), 0, 0 },
	{ S_SERVER, "user", OPT_STR, SRV(user), 0, 0 },
	{ S_SERVER, "workers", OPT_UINT, SRV(workers), 0, 256 },
	{ S_SERVER, "log-level", OPT_LOGLEVEL, SRV(log_level), 0, 0 },
	{ S_SERVER, "max-body", OPT_SIZE, SRV(max_body), 1024, 16 * 1024 * 1024 },
	{ S_SERVER, "max-headers-size", OPT_SIZE, SRV(max_headers_size), 1024, 1024 * 1024 },
	{ S_SERVER, "idle-timeout", OPT_UINT, SRV(idle_timeout), 1, 3600 },
	{ S_SERVER, "max-connections", OPT_UINT, SRV(max_connections), 1, 1000000 },
	{ S_SERVER, "max-connections-per-address", OPT_UINT, SRV(max_connections_per_address), 1,
	    1000000 },
	{ S_SERVER, "max-header-fields", OPT_UINT, SRV(max_header_fields), 1, 256 },
	{ S_SERVER, "read-timeout", OPT_UINT, SRV(read_timeout), 1, 3600 },
	{ S_SERVER, "handshake-timeout", OPT_UINT, SRV(handshake_timeout), 1, 3600 },
	{ S_SERVER, "drain-timeout", OPT_UINT, SRV(drain_timeout), 0, 3600 },
	{ S_SERVER, "audit-log", OPT_PATH, SRV(audit_log_path), 0, 0 },
	{ S_SERVER, "access-log", OPT_PATH, SRV(access_log_path), 0, 0 },
	{ S_SERVER, "access-log-json", OPT_BOOL, SRV(access_log_json), 0, 0 },
	{ S_SERVER, "metrics-listen", OPT_LISTEN, SRV(metrics_listen), 0, 0 },
	{ S_SERVER, "decrypt-keys", OPT_PATH, SRV(decrypt_keys_path), 0, 0 },
	{ S_SERVER, "auth-fail-limit", OPT_UINT, SRV(auth_fail_limit), 0, 1000 },
	{ S_SERVER, "auth-fail-window", OPT_UINT, SRV(auth_fail_window), 1, 86400 },
	{ S_SERVER, "auth-lockout", OPT_UINT, SRV(auth_lockout), 1, 86400 },
	{ S_SERVER, "lockout-file", OPT_PATH, SRV(lockout_path), 0, 0 },
	{ S_SERVER, "crl-path", OPT_URLPATH, SRV(crl_path), 0, 0 },
	{ S_SERVER, "ocsp-path", OPT_URLPATH, SRV(ocsp_path), 0, 0 },
	{ S_SERVER, "crl-check-interval", OPT_UINT, SRV(crl_check_interval), 1, 3600 },
	{ S_SERVER, "ocsp-signatures-per-second", OPT_UINT, SRV(ocsp_signatures_per_second), 0,
	    1000000 },
	{ S_LISTENER, "listen", OPT_LISTEN, 0, 0, 0 },
	{ S_LISTENER, "tls", OPT_TLS, LST(tls), 0, 0 },
	{ S_LISTENER, "certificate", OPT_PATH, LST(cert_path), 0, 0 },
	{ S_LISTENER, "key", OPT_PATH, LST(key_path), 0, 0 },
	{ S_LISTENER, "srp", OPT_BOOL, LST(srp), 0, 0 },
	{ S_CA, "certificate", OPT_PATH, CA(cert_path), 0, 0 },
	{ S_CA, "key", OPT_PATH, CA(key_path), 0, 0 },
	{ S_CA, "chain", OPT_PATH, CA(chain_path), 0, 0 },
	{ S_CA, "crl-url", OPT_STR, CA(crl_url), 0, 0 },
	{ S_CA, "ocsp-url", OPT_STR, CA(ocsp_url), 0, 0 },
	{ S_CA, "ca-issuers-url", OPT_STR, CA(ca_issuers_url), 0, 0 },
	{ S_CA, "crl-file", OPT_PATH, CA(crl_file), 0, 0 },
	{ S_CA, "crl-validity-hours", OPT_UINT, CA(crl_validity_hours), 1, 24 * 366 },
	{ S_CA, "ocsp-certificate", OPT_PATH, CA(ocsp_cert_path), 0, 0 },
	{ S_CA, "ocsp-key", OPT_PATH, CA(ocsp_key_path), 0, 0 },
	{ S_CA, "ocsp-validity-minutes", OPT_UINT, CA(ocsp_validity_minutes), 0, 7 * 24 * 60 },
	{ S_CA, "predecessor", OPT_STR, CA(predecessor), 0, 0 },
	{ S_CA, "rollover-certificates", OPT_PATH, CA(rollover_path), 0, 0 },
	{ S_CA, "issue-from", OPT_STR, CA(issue_from_text), 0, 0 },
	{ S_PROFILE, "validity-days", OPT_UINT, PRF(profile.validity_days), 1, 3650 },
	{ S_PROFILE, "validity-seconds", OPT_UINT, PRF(profile.validity_seconds), 60, 86400 },
	{ S_PROFILE, "extended-key-usage", OPT_EKU, PRF(profile.eku), 0, 0 },
	{ S_PROFILE, "copy-san", OPT_BOOL, PRF(profile.copy_san), 0, 0 },
	{ S_ALIAS, "default", OPT_BOOL, ALS(is_default), 0, 0 },
	{ S_ALIAS, "ca", OPT_STR, ALS(ca), 0, 0 },
	{ S_ALIAS, "cacerts-ca", OPT_STR, ALS(cacerts_ca), 0, 0 },
	{ S_ALIAS, "profile", OPT_STR, ALS(profile), 0, 0 },
	{ S_ALIAS, "authentication", OPT_AUTH, 0, 0, 0 },
	{ S_ALIAS, "renew-same-key", OPT_BOOL, ALS(renew_same_key), 0, 0 },
	{ S_ALIAS, "mode", OPT_MODE, ALS(mode), 0, 0 },
	{ S_ALIAS, "username-component", OPT_DNFIELD, 0, 0, 0 },
	{ S_ALIAS, "vendor-mode", OPT_BOOL, ALS(vendor_mode), 0, 0 },
	{ S_ALIAS, "vendor-cas", OPT_NAMES, 0, 0, 0 },
	{ S_ALIAS, "allow-change-subject-name", OPT_BOOL, ALS(allow_change_subject), 0, 0 },
	{ S_ALIAS, "require-client-certificate", OPT_BOOL, ALS(require_client_cert), 0, 0 },
	{ S_ALIAS, "channel-binding", OPT_CB, ALS(channel_binding), 0, 0 },
	{ S_ALIAS, "server-keygen", OPT_BOOL, ALS(server_keygen), 0, 0 },
	{ S_ALIAS, "server-keygen-key", OPT_KEYSPEC, ALS(server_keygen_key), 0, 0 },
	{ S_ALIAS, "csrattrs", OPT_CSRATTRS, ALS(csrattrs), 0, 0 },
	{ S_ALIAS, "csrattrs-enforce", OPT_BOOL, ALS(csrattrs_enforce), 0, 0 },
	{ S_ALIAS, "approval", OPT_APPROVAL, ALS(approval), 0, 0 },
	{ S_ALIAS, "retry-after", OPT_UINT, ALS(retry_after), 1, 86400 },
	{ S_ALIAS, "san-types", OPT_RULE, 0, 0, 0 },
	{ S_ALIAS, "allow-wildcards", OPT_BOOL, ALS(names.allow_wildcards), 0, 0 },
	{ S_ALIAS, "dns-names", OPT_RULE, 0, 0, 0 },
	{ S_ALIAS, "deny-dns-names", OPT_RULE, 0, 0, 0 },
	{ S_ALIAS, "ip-ranges", OPT_RULE, 0, 0, 0 },
	{ S_ALIAS, "deny-ip-ranges", OPT_RULE, 0, 0, 0 },
	{ S_ALIAS, "subject-required", OPT_RULE, 0, 0, 0 },
	{ S_ALIAS, "subject-allowed", OPT_RULE, 0, 0, 0 },
	{ S_ALIAS, "max-sans", OPT_UINT, ALS(names.max_sans), 0, 1024 },
	{ S_ALIAS, "key-types", OPT_RULE, 0, 0, 0 },
	{ S_ALIAS, "ra-cas", OPT_RULE, 0, 0, 0 },
	{ S_ALIAS, "renew-window", OPT_UINT, ALS(renew_window), 0, 3650 },
	{ S_ALIAS, "revoke-replaced", OPT_BOOL, ALS(revoke_replaced), 0, 0 },
	{ S_ALIAS, "max-active-certificates", OPT_UINT, ALS(max_active), 0, 100000 },
	{ S_ALIAS, "http-challenges", OPT_CHALLENGES, 0, 0, 0 },
};

static const char *const sect_names[] = {
	[S_NONE] = "", [S_SERVER] = "server", [S_LISTENER] = "listener",
	[S_CA] = "ca", [S_PROFILE] = "profile", [S_ALIAS] = "alias",
};

static const char *const tls_names[EST_TLS__MAX] = {
	[EST_TLS_NONE] = "none",
	[EST_TLS_SERVER] = "server",
	[EST_TLS_OPTIONAL_CLIENT] = "optional-client",
	[EST_TLS_REQUIRE_CLIENT] = "require-client",
};

static const char *const auth_names[EST_AUTH__MAX] = {
	[EST_AUTH_HTTP] = "http",
	[EST_AUTH_CERTIFICATE] = "certificate",
	[EST_AUTH_CHALLENGE_PASSWORD] = "challenge-password",
	[EST_AUTH_DN_PART_PASSWORD] = "dn-part-password",
	[EST_AUTH_NONE] = "none",
	[EST_AUTH_SRP] = "srp",
	[EST_AUTH_BEARER] = "bearer",
};

static const char *const mode_names[EST_MODE__MAX] = {
	[EST_MODE_UNSET] = "", [EST_MODE_RA] = "ra", [EST_MODE_CLIENT] = "client",
};

static const char *const cb_names[EST_CB__MAX] = {
	[EST_CB_NONE] = "none", [EST_CB_TLS_UNIQUE] = "tls-unique",
};

static const char *const approval_names[EST_APPROVAL__MAX] = {
	[EST_APPROVAL_AUTO] = "auto",
	[EST_APPROVAL_MANUAL] = "manual",
};

static const char *const operation_names[] = {
	"cacerts", "simpleenroll", "simplereenroll", "serverkeygen", "csrattrs", "fullcmc",
};

struct parser {
	struct est_config *cfg;
	enum sect_kind kind;
	size_t index;            /* of the current section in its array */
	char *section_header;    /* for messages */
	char *errors;            /* collected messages, "\n"-separated */
	size_t errors_len;
	unsigned n_errors;
	bool oom;
	struct est_error first;
	char hint[320];          /* a value-specific hint for the current error */
};

const char *
est_tls_mode_name(enum est_tls_mode m)
{
	return (unsigned)m < EST_TLS__MAX ? tls_names[m] : "?";
}

const char *
est_auth_method_name(enum est_auth_method m)
{
	return (unsigned)m < EST_AUTH__MAX ? auth_names[m] : "?";
}

bool
est_alias_is_client_mode(const struct est_alias_conf *a)
{
	return a->mode == EST_MODE_CLIENT;
}

bool
est_is_operation_name(const char *name)
{
	for (size_t i = 0; i < sizeof(operation_names) / sizeof(operation_names[0]); i++)
		if (strcmp(name, operation_names[i]) == 0)
			return true;
	return false;
}

static void perr(struct parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record one problem as "FILE:LINE: reason". */
static void
perr(struct parser *p, int line, const char *fmt, ...)
{
	char msg[512], full[700];
	va_list ap;
	size_t n;
	char *grown;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(full, sizeof(full), "%s:%d: %s", p->cfg->path, line, msg);
	else
		snprintf(full, sizeof(full), "%s: %s", p->cfg->path, msg);
	if (p->n_errors++ == 0)
		est_fail(&p->first, EST_ERR_CONFIG, "%s", full);
	n = strlen(full);
	grown = realloc(p->errors, p->errors_len + n + 2);
	if (grown == NULL) {
		p->oom = true;
		return;
	}
	p->errors = grown;
	memcpy(p->errors + p->errors_len, full, n);
	p->errors_len += n;
	p->errors[p->errors_len++] = '\n';
	p->errors[p->errors_len] = '\0';
}

static char *
xstrdup(struct parser *p, const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		p->oom = true;
	return d;
}

/* A path as written, or joined to the configuration file's directory. */
static char *
resolve_path(struct parser *p, const char *value)
{
	char *out;
	size_t n;

	if (value[0] == '/')
		return xstrdup(p, value);
	n = strlen(p->cfg->dir) + strlen(value) + 2;
	out = malloc(n);
	if (out == NULL) {
		p->oom = true;
		return NULL;
	}
	snprintf(out, n, "%s/%s", p->cfg->dir, value);
	return out;
}

static char *
resolve_store(struct parser *p, const char *value)
{
	char *path, *out;
	size_t n;

	if (strncmp(value, "sqlite:", 7) != 0)
		return strchr(value, ':') != NULL ? xstrdup(p, value) : resolve_path(p, value);
	path = resolve_path(p, value + 7);
	if (path == NULL)
		return NULL;
	n = strlen(path) + 8;
	out = malloc(n);
	if (out == NULL)
		p->oom = true;
	else
		snprintf(out, n, "sqlite:%s", path);
	free(path);
	return out;
}

static bool
parse_ulong(const char *value, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (value[0] == '\0' || value[0] == '-')
		return false;
	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool
parse_bool(const char *value, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT"/"PORT" (all addresses). */
static bool
parse_listen(struct parser *p, const char *value, struct est_listener_conf *l)
{
	const char *colon, *host, *port;
	size_t hostlen;
	unsigned long n;

	if (value[0] == '[') {
		colon = strstr(value, "]:");
		if (colon == NULL)
			return false;
		host = value + 1;
		hostlen = (size_t)(colon - host);
		port = colon + 2;
	} else if ((colon = strrchr(value, ':')) != NULL) {
		host = value;
		hostlen = (size_t)(colon - value);
		port = colon + 1;
	} else {
		host = "";
		hostlen = 0;
		port = value;
	}
	if (!parse_ulong(port, 0, 65535, &n))
		return false;
	free(l->host);
	free(l->port);
	l->host = strndup(host, hostlen);
	l->port = xstrdup(p, port);
	if (l->host == NULL)
		p->oom = true;
	return true;
}

/* Split a comma or space separated list, calling fn on each word. */
static bool
each_word(const char *value, bool (*fn)(const char *word, void *arg), void *arg)
{
	char buf[512], *save = NULL, *w;

	if (strlen(value) >= sizeof(buf))
		return false;
	strcpy(buf, value);
	for (w = strtok_r(buf, ", \t", &save); w != NULL; w = strtok_r(NULL, ", \t", &save))
		if (!fn(w, arg))
			return false;
	return true;
}

/* "dn-part-password:FIELD": the method's name, and the field noted in a. */
static const char *
dn_part_word(const char *word, struct est_alias_conf *a)
{
	const char *name = auth_names[EST_AUTH_DN_PART_PASSWORD];
	size_t n = strlen(name);
	int nid;

	if (strncasecmp(word, name, n) != 0 || word[n] != ':')
		return word;
	if ((nid = est_dn_field_nid(word + n + 1)) == NID_undef)
		return "";
	free(a->code_field);
	a->code_field = strdup(word + n + 1);
	a->code_nid = nid;
	return a->code_field != NULL ? name : "";
}

static bool
add_auth(const char *word, void *arg)
{
	struct est_alias_conf *a = arg;

	word = dn_part_word(word, a);
	for (int m = 0; m < EST_AUTH__MAX; m++) {
		if (strcasecmp(word, auth_names[m]) != 0 ||
		    (m == EST_AUTH_DN_PART_PASSWORD && a->code_field == NULL))
			continue;
		for (size_t i = 0; i < a->n_auth; i++)
			if (a->auth[i] == (enum est_auth_method)m)
				return false;
		if (a->n_auth == EST_MAX_AUTH_METHODS)
			return false;
		a->auth[a->n_auth++] = (enum est_auth_method)m;
		return true;
	}
	return false;
}

static bool
add_challenge(const char *word, void *arg)
{
	struct est_alias_conf *a = arg;
	int c = est_challenge_parse(word);

	if (c < 0)
		return false;
	for (size_t i = 0; i < a->n_challenges; i++)
		if (a->challenges[i] == (enum est_challenge)c)
			return false;
	a->challenges[a->n_challenges++] = (enum est_challenge)c;
	return true;
}

static bool
add_vendor_ca(const char *word, void *arg)
{
	struct est_alias_conf *a = arg;

	if (a->n_vendor_cas == EST_MAX_VENDOR_CAS || strlen(word) > 64)
		return false;
	for (size_t i = 0; i < a->n_vendor_cas; i++)
		if (strcmp(a->vendor_cas[i], word) == 0)
			return false;
	if ((a->vendor_cas[a->n_vendor_cas] = strdup(word)) == NULL)
		return false;
	a->n_vendor_cas++;
	return true;
}

static void
clear_vendor_cas(struct est_alias_conf *a)
{
	for (size_t i = 0; i < a->n_vendor_cas; i++)
		free(a->vendor_cas[i]);
	a->n_vendor_cas = 0;
}

static bool set_string(struct parser *p, char **field, char *value);

/* Set an enum field from its name table; false when value is none of them. */
static bool
set_enum(const char *value, const char *const *names, int n, int first, int *field)
{
	for (int i = first; i < n; i++) {
		if (strcasecmp(value, names[i]) == 0) {
			*field = i;
			return true;
		}
	}
	return false;
}

/* The alias-specific types of apply(). */
static bool
apply_alias(struct parser *p, const struct opt *o, struct est_alias_conf *a,
    const char *value, const char **hint)
{
	int v, nid;

	switch (o->type) {
	case OPT_MODE:
		*hint = "client or ra";
		if (!set_enum(value, mode_names, EST_MODE__MAX, EST_MODE_RA, &v))
			return false;
		a->mode = (enum est_alias_mode)v;
		return true;
	case OPT_CB:
		*hint = "none or tls-unique";
		if (!set_enum(value, cb_names, EST_CB__MAX, 0, &v))
			return false;
		a->channel_binding = (enum est_channel_binding)v;
		return true;
	case OPT_DNFIELD:
		*hint = "a DN field: CN, serialNumber, UID, E, O, OU, C, L, ST, DC, SN, GN, title";
		if ((nid = est_dn_field_nid(value)) == NID_undef)
			return false;
		return set_string(p, &a->username_field, xstrdup(p, value)) &&
		    (a->username_nid = nid) != NID_undef;
	case OPT_NAMES:
		*hint = "a list of external CA names (estadm ca import --external NAME FILE)";
		clear_vendor_cas(a);
		return each_word(value, add_vendor_ca, a) && a->n_vendor_cas > 0;
	default:
		break;
	}
	return false;
}

static bool
add_eku(const char *word, void *arg)
{
	unsigned *set = arg, bit;

	if (strcasecmp(word, "none") == 0)
		return true;
	if (est_eku_parse(word, &bit) != 0)
		return false;
	*set |= bit;
	return true;
}

static void *
current_section(struct parser *p)
{
	struct est_config *c = p->cfg;

	switch (p->kind) {
	case S_SERVER:
		return c;
	case S_LISTENER:
		return &c->listeners[p->index];
	case S_CA:
		return &c->cas[p->index];
	case S_PROFILE:
		return &c->profiles[p->index];
	case S_ALIAS:
		return &c->aliases[p->index];
	case S_NONE:
		break;
	}
	return NULL;
}

static bool
set_string(struct parser *p, char **field, char *value)
{
	if (value == NULL)
		return !p->oom;
	free(*field);
	*field = value;
	return true;
}

/* A csrattrs list must parse; the parser's reason becomes the hint. */
static bool
apply_csrattrs(struct parser *p, char **field, const char *value, const char **hint)
{
	struct est_csrattrs *a = NULL;
	struct est_error e = { 0 };

	if (est_csrattrs_parse(value, &a, &e) != EST_OK) {
		snprintf(p->hint, sizeof(p->hint), "a list such as \"challengePassword, "
		    "ecPublicKey:P-256\" (%s)", e.msg);
		*hint = p->hint;
		return false;
	}
	est_csrattrs_free(a);
	return set_string(p, field, xstrdup(p, value));
}

/*
 * A path the revocation handlers serve under: absolute, of URL-safe
 * characters, outside /.well-known/est/ (which routing owns), kept without
 * a trailing slash.
 */
static bool
apply_urlpath(struct parser *p, char **field, const char *value)
{
	size_t n = strlen(value);
	char *copy;

	if (value[0] != '/' || n > 64 || strspn(value, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-") != n || strstr(value, "//") != NULL ||
	    strncmp(value, "/.well-known/est", 16) == 0)
		return false;
	while (n > 1 && value[n - 1] == '/')
		n--;
	if (n <= 1)
		return false;
	if ((copy = xstrdup(p, value)) != NULL)
		copy[n] = '\0';
	return set_string(p, field, copy);
}

/* Apply one option; returns false when the value is not acceptable. */
static bool
apply(struct parser *p, const struct opt *o, const char *value, const char **hint)
{
	char *base = current_section(p);
	unsigned long n;

	switch (o->type) {
	case OPT_STR:
		*hint = "a non-empty value";
		return value[0] != '\0' && set_string(p, (char **)(base + o->off), xstrdup(p, value));
	case OPT_PATH:
		*hint = "a file path";
		return value[0] != '\0' && set_string(p, (char **)(base + o->off), resolve_path(p, value));
	case OPT_STORE:
		*hint = "a store URI such as sqlite:estkit.db";
		return value[0] != '\0' && set_string(p, (char **)(base + o->off), resolve_store(p, value));
	case OPT_LOGLEVEL: {
		enum est_log_level lv;

		*hint = "one of error, warn, info, debug";
		return est_log_level_parse(value, &lv) == 0 &&
		    set_string(p, (char **)(base + o->off), xstrdup(p, value));
	}
	case OPT_UINT:
		snprintf(p->hint, sizeof(p->hint), "a whole number from %lu to %lu", o->min, o->max);
		*hint = p->hint;
		if (!parse_ulong(value, o->min, o->max, &n))
			return false;
		*(unsigned *)(base + o->off) = (unsigned)n;
		return true;
	case OPT_SIZE:
		snprintf(p->hint, sizeof(p->hint), "a number of bytes from %lu to %lu", o->min, o->max);
		*hint = p->hint;
		if (!parse_ulong(value, o->min, o->max, &n))
			return false;
		*(size_t *)(base + o->off) = n;
		return true;
	case OPT_BOOL:
		*hint = "yes or no";
		return parse_bool(value, (bool *)(base + o->off));
	case OPT_TLS:
		*hint = "one of none, server, optional-client, require-client";
		for (int m = 0; m < EST_TLS__MAX; m++) {
			if (strcasecmp(value, tls_names[m]) == 0) {
				*(enum est_tls_mode *)(base + o->off) = (enum est_tls_mode)m;
				return true;
			}
		}
		return false;
	case OPT_LISTEN:
		*hint = "HOST:PORT, [IPV6]:PORT or PORT";
		return parse_listen(p, value, (struct est_listener_conf *)(void *)(base + o->off));
	case OPT_AUTH: {
		struct est_alias_conf *a = (struct est_alias_conf *)(void *)base;

		*hint = "a list of: http, certificate, challenge-password, dn-part-password:FIELD, "
		    "srp, bearer, none (each once)";
		a->n_auth = 0;
		return each_word(value, add_auth, a) && a->n_auth > 0;
	}
	case OPT_MODE:
	case OPT_DNFIELD:
	case OPT_NAMES:
	case OPT_CB:
		return apply_alias(p, o, (struct est_alias_conf *)(void *)base, value, hint);
	case OPT_EKU:
		*hint = "a list of: serverAuth, clientAuth, codeSigning, emailProtection, cmcRA, or none";
		*(unsigned *)(base + o->off) = 0;
		return each_word(value, add_eku, base + o->off);
	case OPT_KEYSPEC:
		*hint = "from-csr, ec:P-256, ec:P-384, rsa:2048, rsa:3072, rsa:4096 or ed25519";
		return (strcasecmp(value, EST_KEYGEN_FROM_CSR) == 0 || est_key_spec_known(value)) &&
		    set_string(p, (char **)(base + o->off), xstrdup(p, value));
	case OPT_CSRATTRS:
		return apply_csrattrs(p, (char **)(base + o->off), value, hint);
	case OPT_RULE:
		return rules_apply((struct est_alias_conf *)(void *)base, o->key, value, hint) == 1;
	case OPT_CHALLENGES: {
		struct est_alias_conf *a = (struct est_alias_conf *)(void *)base;

		*hint = "a list of: digest-md5, digest-sha256, basic (each once)";
		a->n_challenges = 0;
		return each_word(value, add_challenge, a) && a->n_challenges > 0;
	}
	case OPT_URLPATH:
		*hint = "an absolute path such as /crl, of letters, digits and / . _ -, "
		    "outside /.well-known/est";
		return apply_urlpath(p, (char **)(base + o->off), value);
	case OPT_APPROVAL:
		*hint = "auto or manual";
		for (int m = 0; m < EST_APPROVAL__MAX; m++) {
			if (strcasecmp(value, approval_names[m]) == 0) {
				*(enum est_approval *)(base + o->off) = (enum est_approval)m;
				return true;
			}
		}
		return false;
	}
	return false;
}

static void
on_pair(void *arg, int line, const char *key, const char *value)
{
	struct parser *p = arg;
	const char *hint = "";

	if (p->kind == S_NONE) {
		if (p->section_header == NULL)
			perr(p, line, "\"%s\" is outside any section", key);
		return;
	}
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if (opts[i].sect != p->kind || strcmp(opts[i].key, key) != 0)
			continue;
		if (!apply(p, &opts[i], value, &hint))
			perr(p, line, "[%s] %s: \"%s\" is not valid; expected %s",
			    p->section_header, key, value, hint);
		return;
	}
	perr(p, line, "[%s] unknown key \"%s\"", p->section_header, key);
}

static bool
valid_name(const char *name)
{
	if (name[0] == '\0' || strlen(name) > 64)
		return false;
	for (const char *s = name; *s != '\0'; s++)
		if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

/* Grow the array for a new named section; returns its index or -1. */
static int
new_entry(struct parser *p, void **array, size_t *count, size_t size)
{
	char *grown;

	grown = realloc(*array, (*count + 1) * size);
	if (grown == NULL) {
		p->oom = true;
		return -1;
	}
	*array = grown;
	memset(grown + *count * size, 0, size);
	return (int)(*count)++;
}

static void
init_entry(struct parser *p, const char *name, int line)
{
	struct est_config *c = p->cfg;

	switch (p->kind) {
	case S_LISTENER:
		c->listeners[p->index].name = xstrdup(p, name);
		c->listeners[p->index].tls = EST_TLS_SERVER;
		c->listeners[p->index].line = line;
		break;
	case S_CA:
		c->cas[p->index].name = xstrdup(p, name);
		c->cas[p->index].line = line;
		c->cas[p->index].crl_validity_hours = 24;
		c->cas[p->index].ocsp_validity_minutes = 60;
		break;
	case S_PROFILE:
		c->profiles[p->index].name = xstrdup(p, name);
		c->profiles[p->index].profile.validity_days = 365;
		c->profiles[p->index].profile.eku = EST_EKU_CLIENT_AUTH | EST_EKU_SERVER_AUTH;
		c->profiles[p->index].profile.copy_san = true;
		c->profiles[p->index].line = line;
		break;
	case S_ALIAS:
		c->aliases[p->index].name = xstrdup(p, name);
		c->aliases[p->index].renew_same_key = true;
		c->aliases[p->index].username_nid = NID_commonName;
		c->aliases[p->index].line = line;
		rules_defaults(&c->aliases[p->index]);
		break;
	case S_SERVER:
	case S_NONE:
		break;
	}
}

static bool
name_taken(struct parser *p, const char *name)
{
	struct est_config *c = p->cfg;

	switch (p->kind) {
	case S_LISTENER:
		for (size_t i = 0; i < c->n_listeners; i++)
			if (strcmp(c->listeners[i].name, name) == 0)
				return true;
		break;
	case S_CA:
		return est_config_ca(c, name) != NULL;
	case S_PROFILE:
		return est_config_profile(c, name) != NULL;
	case S_ALIAS:
		return est_config_alias(c, name) != NULL;
	case S_SERVER:
	case S_NONE:
		break;
	}
	return false;
}

static void
on_section(void *arg, int line, const char *header)
{
	struct parser *p = arg;
	struct est_config *c = p->cfg;
	char kind[32] = "", name[128] = "";
	int idx = -1;

	free(p->section_header);
	p->section_header = xstrdup(p, header);
	p->kind = S_NONE;
	if (sscanf(header, "%31s %127s", kind, name) < 1) {
		perr(p, line, "empty section header");
		return;
	}
	if (strcmp(kind, "server") == 0) {
		if (name[0] != '\0')
			perr(p, line, "[server] takes no name");
		p->kind = S_SERVER;
		return;
	}
	for (int k = S_LISTENER; k <= S_ALIAS; k++)
		if (strcmp(kind, sect_names[k]) == 0)
			p->kind = (enum sect_kind)k;
	if (p->kind == S_NONE) {
		perr(p, line, "unknown section [%s]; expected server, listener, ca, profile or alias", kind);
		return;
	}
	if (!valid_name(name) || strlen(header) != strlen(kind) + 1 + strlen(name)) {
		perr(p, line, "[%s] needs one name of letters, digits, '-', '_' or '.'", header);
		p->kind = S_NONE;
		return;
	}
	if (name_taken(p, name)) {
		perr(p, line, "[%s] is defined twice", header);
		p->kind = S_NONE;
		return;
	}
	if (p->kind == S_ALIAS && est_is_operation_name(name)) {
		perr(p, line, "alias \"%s\" is spelled like an EST operation (RFC 7030 §3.2.2)", name);
		p->kind = S_NONE;
		return;
	}
	switch (p->kind) {
	case S_LISTENER:
		idx = new_entry(p, (void **)&c->listeners, &c->n_listeners, sizeof(*c->listeners));
		break;
	case S_CA:
		idx = new_entry(p, (void **)&c->cas, &c->n_cas, sizeof(*c->cas));
		break;
	case S_PROFILE:
		idx = new_entry(p, (void **)&c->profiles, &c->n_profiles, sizeof(*c->profiles));
		break;
	case S_ALIAS:
		idx = new_entry(p, (void **)&c->aliases, &c->n_aliases, sizeof(*c->aliases));
		break;
	case S_SERVER:
	case S_NONE:
		break;
	}
	if (idx < 0) {
		p->kind = S_NONE;
		return;
	}
	p->index = (size_t)idx;
	init_entry(p, name, line);
}

static void
on_error(void *arg, int line, const char *reason)
{
	perr(arg, line, "%s", reason);
}

static void
check_listeners(struct parser *p)
{
	struct est_config *c = p->cfg;

	if (c->n_listeners == 0)
		perr(p, 0, "no [listener NAME] section: estd would not listen anywhere");
	for (size_t i = 0; i < c->n_listeners; i++) {
		struct est_listener_conf *l = &c->listeners[i];

		if (l->port == NULL)
			perr(p, l->line, "[listener %s] needs listen = HOST:PORT", l->name);
		if (l->tls != EST_TLS_NONE && (l->cert_path == NULL || l->key_path == NULL))
			perr(p, l->line, "[listener %s] tls = %s needs certificate and key",
			    l->name, tls_names[l->tls]);
		if (l->tls == EST_TLS_NONE && (l->cert_path != NULL || l->key_path != NULL))
			perr(p, l->line, "[listener %s] tls = none takes no certificate or key", l->name);
		if (l->srp && l->tls == EST_TLS_NONE)
			perr(p, l->line, "[listener %s] srp = yes needs TLS (tls = server or "
			    "optional-client)", l->name);
		if (l->srp && p->cfg->srp_verifiers_path == NULL)
			perr(p, l->line, "[listener %s] srp = yes needs srp-verifiers in [server] "
			    "(the file estadm srp add writes)", l->name);
	}
}

static bool
has_auth(const struct est_alias_conf *a, enum est_auth_method m)
{
	for (size_t i = 0; i < a->n_auth; i++)
		if (a->auth[i] == m)
			return true;
	return false;
}

/* Client mode, vendor mode and channel binding: the combinations that make sense. */
static void
check_client_mode(struct parser *p, struct est_alias_conf *a)
{
	bool code = has_auth(a, EST_AUTH_CHALLENGE_PASSWORD) || has_auth(a, EST_AUTH_DN_PART_PASSWORD);
	bool client = code || a->vendor_mode;

	if (a->mode == EST_MODE_UNSET)
		a->mode = client ? EST_MODE_CLIENT : EST_MODE_RA;
	if (a->mode == EST_MODE_RA && client)
		perr(p, a->line, "[alias %s] mode = ra: challenge-password, dn-part-password and "
		    "vendor-mode need mode = client (pre-registered end entities)", a->name);
	if (a->mode == EST_MODE_CLIENT && !client)
		perr(p, a->line, "[alias %s] mode = client needs challenge-password, "
		    "dn-part-password:FIELD or vendor-mode = yes", a->name);
	if (has_auth(a, EST_AUTH_NONE) && (a->n_auth > 1 || !a->vendor_mode))
		perr(p, a->line, "[alias %s] authentication = none stands alone and only with "
		    "vendor-mode = yes (the vendor certificate authenticates)", a->name);
	if (a->vendor_mode && !has_auth(a, EST_AUTH_NONE))
		perr(p, a->line, "[alias %s] vendor-mode = yes authenticates by the vendor "
		    "certificate: set authentication = none", a->name);
	if (a->vendor_mode && a->n_vendor_cas == 0)
		perr(p, a->line, "[alias %s] vendor-mode = yes needs vendor-cas = NAME[, NAME...]",
		    a->name);
	if (!a->vendor_mode && a->n_vendor_cas > 0)
		perr(p, a->line, "[alias %s] vendor-cas is only used with vendor-mode = yes", a->name);
	if (!a->vendor_mode && a->allow_change_subject)
		perr(p, a->line, "[alias %s] allow-change-subject-name only applies with "
		    "vendor-mode = yes", a->name);
	if (a->vendor_mode)
		a->require_client_cert = true;
	if (a->channel_binding == EST_CB_TLS_UNIQUE && has_auth(a, EST_AUTH_CHALLENGE_PASSWORD))
		perr(p, a->line, "[alias %s] channel-binding = tls-unique and authentication = "
		    "challenge-password both need the CSR's challengePassword: choose one "
		    "(RFC 7030 §3.5)", a->name);
}

/* Options that only make sense together. */
static void
check_alias_options(struct parser *p, const struct est_alias_conf *a)
{
	if (a->server_keygen_key != NULL && !a->server_keygen)
		perr(p, a->line, "[alias %s] server-keygen-key is set but server-keygen is not yes",
		    a->name);
	/* key-types is what the alias certifies, also when the server made the key. */
	if (a->server_keygen && (a->server_keygen_key == NULL ||
	    strcasecmp(a->server_keygen_key, EST_KEYGEN_FROM_CSR) != 0) &&
	    !rules_key_spec_listed(a, a->server_keygen_key != NULL ? a->server_keygen_key :
	    EST_KEYGEN_DEFAULT))
		perr(p, a->line, "[alias %s] server-keygen-key = %s makes keys that key-types "
		    "does not accept", a->name, a->server_keygen_key != NULL ?
		    a->server_keygen_key : EST_KEYGEN_DEFAULT " (the default)");
	if (a->csrattrs_enforce && a->csrattrs == NULL)
		perr(p, a->line, "[alias %s] csrattrs-enforce = yes needs a csrattrs list", a->name);
	if (has_auth(a, EST_AUTH_BEARER) && p->cfg->bearer_tokens_path == NULL &&
	    p->cfg->bearer_jwt_key_path == NULL)
		perr(p, a->line, "[alias %s] authentication = bearer needs bearer-tokens or "
		    "bearer-jwt-key in [server]", a->name);
	if (has_auth(a, EST_AUTH_SRP) && p->cfg->srp_verifiers_path == NULL)
		perr(p, a->line, "[alias %s] authentication = srp needs srp-verifiers in [server] "
		    "and a listener with srp = yes", a->name);
	if (a->retry_after != 0 && a->approval != EST_APPROVAL_MANUAL)
		perr(p, a->line, "[alias %s] retry-after is set but approval is not manual", a->name);
	if (a->n_ra_cas > 0 && !has_auth(a, EST_AUTH_CERTIFICATE))
		perr(p, a->line, "[alias %s] ra-cas needs authentication = certificate (RA "
		    "certificates authenticate as TLS client certificates)", a->name);
	for (size_t i = 0; i < a->names.n_subject_required && a->names.n_subject_allowed > 0; i++) {
		bool allowed = false;

		for (size_t j = 0; j < a->names.n_subject_allowed; j++)
			allowed |= a->names.subject_allowed[j] == a->names.subject_required[i];
		if (!allowed)
			perr(p, a->line, "[alias %s] subject-required names %s, which subject-allowed "
			    "does not list", a->name, OBJ_nid2sn(a->names.subject_required[i]));
	}
}

static void
check_aliases(struct parser *p)
{
	struct est_config *c = p->cfg;
	const struct est_alias_conf *dflt = NULL;

	if (c->n_cas == 0)
		perr(p, 0, "no [ca NAME] section");
	if (c->n_aliases == 0)
		perr(p, 0, "no [alias NAME] section");
	for (size_t i = 0; i < c->n_aliases; i++) {
		struct est_alias_conf *a = &c->aliases[i];

		if (a->ca == NULL && c->n_cas == 1)
			a->ca = xstrdup(p, c->cas[0].name);
		if (a->ca == NULL)
			perr(p, a->line, "[alias %s] needs ca = NAME (there are several CAs)", a->name);
		else if (est_config_ca(c, a->ca) == NULL)
			perr(p, a->line, "[alias %s] ca = %s: no [ca %s] section", a->name, a->ca, a->ca);
		else if (est_config_ca(c, a->ca)->key_path == NULL)
			perr(p, a->line, "[alias %s] ca = %s: that CA has no key to sign with", a->name, a->ca);
		if (a->cacerts_ca != NULL && est_config_ca(c, a->cacerts_ca) == NULL)
			perr(p, a->line, "[alias %s] cacerts-ca = %s: no [ca %s] section", a->name,
			    a->cacerts_ca, a->cacerts_ca);
		if (a->profile == NULL && c->n_profiles == 1)
			a->profile = xstrdup(p, c->profiles[0].name);
		if (a->profile == NULL)
			perr(p, a->line, "[alias %s] needs profile = NAME", a->name);
		else if (est_config_profile(c, a->profile) == NULL)
			perr(p, a->line, "[alias %s] profile = %s: no [profile %s] section", a->name,
			    a->profile, a->profile);
		if (a->n_auth == 0 && a->vendor_mode) {
			a->auth[a->n_auth++] = EST_AUTH_NONE;
		} else if (a->n_auth == 0) {
			a->auth[a->n_auth++] = EST_AUTH_HTTP;
			a->auth[a->n_auth++] = EST_AUTH_CERTIFICATE;
		}
		check_client_mode(p, a);
		check_alias_options(p, a);
		if (a->is_default && dflt != NULL)
			perr(p, a->line, "[alias %s] and [alias %s] both say default = yes", dflt->name, a->name);
		if (a->is_default && dflt == NULL)
			dflt = a;
	}
	if (c->n_aliases > 0 && dflt == NULL)
		perr(p, 0, "no alias has default = yes; RFC 7030 §3.2.2 requires serving paths without a label");
}

/* "YYYY-MM-DDTHH:MM:SSZ" (UTC) as Unix seconds; false when it is not. */
static bool
parse_utc(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	int n = 0, mday;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || s[n] != '\0' || tm.tm_mon < 1 ||
	    tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	mday = tm.tm_mday;
	*out = (int64_t)timegm(&tm);
	/* timegm makes 02-30 a day of March: a date that does not exist is refused. */
	return tm.tm_mday == mday;
}

/* A CA that succeeds another (estadm ca rollover): what it needs. */
static void
check_rollover(struct parser *p, struct est_ca_conf *ca)
{
	const struct est_ca_conf *old;
	struct est_config *c = p->cfg;

	if (ca->predecessor == NULL) {
		if (ca->rollover_path != NULL || ca->issue_from_text != NULL)
			perr(p, ca->line, "[ca %s] rollover-certificates and issue-from go with "
			    "predecessor = NAME", ca->name);
		return;
	}
	if ((old = est_config_ca(c, ca->predecessor)) == NULL || old == ca)
		perr(p, ca->line, "[ca %s] predecessor = %s: no other [ca %s] section (after the "
		    "old CA has expired, remove predecessor, rollover-certificates and issue-from "
		    "together with it)", ca->name, ca->predecessor, ca->predecessor);
	else if (old->predecessor != NULL)
		perr(p, ca->line, "[ca %s] predecessor = %s, which has a predecessor itself: "
		    "finish one rollover (remove the expired CA) before the next", ca->name,
		    ca->predecessor);
	else if (old->key_path == NULL || ca->key_path == NULL)
		perr(p, ca->line, "[ca %s] and its predecessor %s both need their key", ca->name,
		    old->name);
	for (size_t i = 0; i < c->n_cas; i++)
		if (&c->cas[i] != ca && c->cas[i].predecessor != NULL &&
		    strcmp(c->cas[i].predecessor, ca->predecessor) == 0 && &c->cas[i] < ca)
			perr(p, ca->line, "[ca %s] and [ca %s] both succeed %s", c->cas[i].name,
			    ca->name, ca->predecessor);
	if (ca->rollover_path == NULL)
		perr(p, ca->line, "[ca %s] needs rollover-certificates = FILE (OldWithNew and "
		    "NewWithOld, as estadm ca rollover writes them)", ca->name);
	if (ca->issue_from_text != NULL && !parse_utc(ca->issue_from_text, &ca->issue_from))
		perr(p, ca->line, "[ca %s] issue-from = %s: write a UTC time as "
		    "2026-12-31T00:00:00Z", ca->name, ca->issue_from_text);
}

/* Whether two configured paths name one file: same text, or the same inode. */
static bool
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (a == NULL || b == NULL)
		return false;
	return strcmp(a, b) == 0 || (stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
	    sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
}

/*
 * estd replaces crl-file with each new CRL: naming a certificate or key
 * there (crl-file = ca.pem) would overwrite it at start-up, and two CAs
 * sharing one crl-file would publish each other's CRLs in turn.
 */
static void
check_crl_file(struct parser *p, const struct est_ca_conf *ca)
{
	const struct est_config *c = p->cfg;
	const char *clash = NULL;

	if (ca->crl_file == NULL)
		return;
	for (size_t i = 0; i < c->n_cas && clash == NULL; i++) {
		const struct est_ca_conf *o = &c->cas[i];
		const char *paths[] = { o->cert_path, o->key_path, o->chain_path, o->ocsp_cert_path,
		    o->ocsp_key_path, o->rollover_path, o != ca ? o->crl_file : NULL };

		for (size_t j = 0; j < sizeof(paths) / sizeof(paths[0]) && clash == NULL; j++)
			if (same_file(ca->crl_file, paths[j]))
				clash = paths[j];
	}
	for (size_t i = 0; i < c->n_listeners && clash == NULL; i++)
		if (same_file(ca->crl_file, c->listeners[i].cert_path) ||
		    same_file(ca->crl_file, c->listeners[i].key_path))
			clash = ca->crl_file;
	if (clash != NULL)
		perr(p, ca->line, "[ca %s] crl-file = %s is a file estd reads, or another CA's "
		    "crl-file: estd replaces it with every new CRL", ca->name, ca->crl_file);
}

/* Without any [profile], aliases get the defaults under the name "default". */
static void
add_default_profile(struct parser *p)
{
	struct est_config *c = p->cfg;
	int idx;

	idx = new_entry(p, (void **)&c->profiles, &c->n_profiles, sizeof(*c->profiles));
	if (idx < 0)
		return;
	p->kind = S_PROFILE;
	p->index = (size_t)idx;
	init_entry(p, "default", 0);
	p->kind = S_NONE;
}

static void
check_config(struct parser *p)
{
	struct est_config *c = p->cfg;

	if (c->store_uri == NULL)
		c->store_uri = resolve_store(p, "sqlite:estkit.db");
	if (c->realm == NULL)
		c->realm = xstrdup(p, "estkit");
	if (c->log_level == NULL)
		c->log_level = xstrdup(p, "info");
	if (c->crl_path == NULL)
		c->crl_path = xstrdup(p, "/crl");
	if (c->ocsp_path == NULL)
		c->ocsp_path = xstrdup(p, "/ocsp");
	if (strcmp(c->crl_path, c->ocsp_path) == 0)
		perr(p, 0, "[server] crl-path and ocsp-path must differ (both are %s)", c->crl_path);
	for (size_t i = 0; i < c->n_cas; i++)
		if (c->cas[i].cert_path == NULL)
			perr(p, c->cas[i].line, "[ca %s] needs certificate = FILE", c->cas[i].name);
	if (c->n_profiles == 0)
		add_default_profile(p);
	for (size_t i = 0; i < c->n_profiles; i++)
		c->profiles[i].profile.name = c->profiles[i].name;
	if (c->bearer_jwt_key_path != NULL &&
	    (c->bearer_jwt_issuer == NULL || c->bearer_jwt_audience == NULL))
		perr(p, 0, "[server] bearer-jwt-key needs bearer-jwt-issuer and bearer-jwt-audience "
		    "(the iss and aud a JWT must carry)");
	check_listeners(p);
	check_aliases(p);
	for (size_t i = 0; i < c->n_cas; i++) {
		check_rollover(p, &c->cas[i]);
		check_crl_file(p, &c->cas[i]);
	}
}

static enum est_err
read_file(const char *path, char **buf, size_t *len, struct est_error *e)
{
	FILE *f;
	char *data;
	size_t n;

	f = fopen(path, "r");
	if (f == NULL)
		return est_fail(e, EST_ERR_IO, "cannot open %s: %s", path, strerror(errno));
	data = malloc(CONFIG_MAX_SIZE + 1);
	if (data == NULL) {
		fclose(f);
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading %s", path);
	}
	n = fread(data, 1, CONFIG_MAX_SIZE + 1, f);
	if (ferror(f) || n > CONFIG_MAX_SIZE) {
		fclose(f);
		free(data);
		return est_fail(e, EST_ERR_CONFIG, "%s: unreadable or larger than 1 MiB", path);
	}
	fclose(f);
	*buf = data;
	*len = n;
	return EST_OK;
}

static enum est_err
init_config(const char *path, struct est_config **out, struct est_error *e)
{
	struct est_config *c;
	char *copy;

	c = calloc(1, sizeof(*c));
	copy = strdup(path);
	if (c == NULL || copy == NULL) {
		free(c);
		free(copy);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	c->path = strdup(path);
	c->dir = strdup(dirname(copy));
	free(copy);
	if (c->path == NULL || c->dir == NULL) {
		est_config_free(c);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	c->max_body = 64 * 1024;
	c->max_headers_size = 8192;
	c->idle_timeout = 30;
	c->max_connections = 1024;
	c->max_connections_per_address = 64;
	c->max_header_fields = 64;
	c->read_timeout = 30;
	c->handshake_timeout = 10;
	c->drain_timeout = 10;
	c->auth_fail_limit = 10;
	c->auth_fail_window = 60;
	c->auth_lockout = 300;
	c->bearer_jwt_max_lifetime = 86400;
	c->crl_check_interval = 60;
	c->ocsp_signatures_per_second = 100;
	*out = c;
	return EST_OK;
}

enum est_err
est_config_load(const char *path, struct est_config **out, char **errors, struct est_error *e)
{
	struct parser p = { 0 };
	struct ini_handler h = { on_section, on_pair, on_error, &p };
	char *buf = NULL;
	size_t len = 0;
	enum est_err rc;

	if ((rc = init_config(path, &p.cfg, e)) != EST_OK)
		return rc;
	if ((rc = read_file(path, &buf, &len, e)) != EST_OK) {
		est_config_free(p.cfg);
		return rc;
	}
	ini_parse(buf, len, &h);
	free(buf);
	free(p.section_header);
	check_config(&p);
	if (p.oom) {
		est_config_free(p.cfg);
		free(p.errors);
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading %s", path);
	}
	if (p.n_errors > 0) {
		est_config_free(p.cfg);
		if (e != NULL)
			*e = p.first;
		if (errors != NULL)
			*errors = p.errors;
		else
			free(p.errors);
		return EST_ERR_CONFIG;
	}
	*out = p.cfg;
	return EST_OK;
}

void
est_config_free(struct est_config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_listeners; i++) {
		free(c->listeners[i].name);
		free(c->listeners[i].host);
		free(c->listeners[i].port);
		free(c->listeners[i].cert_path);
		free(c->listeners[i].key_path);
	}
	for (size_t i = 0; i < c->n_cas; i++) {
		free(c->cas[i].name);
		free(c->cas[i].cert_path);
		free(c->cas[i].key_path);
		free(c->cas[i].chain_path);
		free(c->cas[i].crl_url);
		free(c->cas[i].ocsp_url);
		free(c->cas[i].ca_issuers_url);
		free(c->cas[i].crl_file);
		free(c->cas[i].ocsp_cert_path);
		free(c->cas[i].ocsp_key_path);
		free(c->cas[i].predecessor);
		free(c->cas[i].rollover_path);
		free(c->cas[i].issue_from_text);
	}
	for (size_t i = 0; i < c->n_profiles; i++)
		free(c->profiles[i].name);
	for (size_t i = 0; i < c->n_aliases; i++) {
		free(c->aliases[i].name);
		free(c->aliases[i].ca);
		free(c->aliases[i].cacerts_ca);
		free(c->aliases[i].profile);
		free(c->aliases[i].username_field);
		free(c->aliases[i].code_field);
		clear_vendor_cas(&c->aliases[i]);
		rules_free(&c->aliases[i]);
		free(c->aliases[i].server_keygen_key);
		free(c->aliases[i].csrattrs);
	}
	free(c->listeners);
	free(c->cas);
	free(c->profiles);
	free(c->aliases);
	free(c->path);
	free(c->dir);
	free(c->store_uri);
	free(c->credentials_path);
	free(c->lockout_path);
	free(c->srp_verifiers_path);
	free(c->bearer_tokens_path);
	free(c->bearer_jwt_key_path);
	free(c->bearer_jwt_issuer);
	free(c->bearer_jwt_audience);
	free(c->decrypt_keys_path);
	free(c->audit_log_path);
	free(c->access_log_path);
	free(c->metrics_listen.host);
	free(c->metrics_listen.port);
	free(c->realm);
	free(c->user);
	free(c->log_level);
	free(c->crl_path);
	free(c->ocsp_path);
	free(c);
}

const struct est_ca_conf *
est_config_ca(const struct est_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_cas; i++)
		if (c->cas[i].name != NULL && strcmp(c->cas[i].name, name) == 0)
			return &c->cas[i];
	return NULL;
}

const struct est_profile_conf *
est_config_profile(const struct est_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_profiles; i++)
		if (c->profiles[i].name != NULL && strcmp(c->profiles[i].name, name) == 0)
			return &c->profiles[i];
	return NULL;
}

const struct est_alias_conf *
est_config_alias(const struct est_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_aliases; i++)
		if (c->aliases[i].name != NULL && strcmp(c->aliases[i].name, name) == 0)
			return &c->aliases[i];
	return NULL;
}

const struct est_alias_conf *
est_config_default_alias(const struct est_config *c)
{
	for (size_t i = 0; i < c->n_aliases; i++)
		if (c->aliases[i].is_default)
			return &c->aliases[i];
	return NULL;
}
