/*
 * estkit configuration: the estd.conf file that estd and estadm share.
 *
 * An INI file: `[section]` or `[type name]` headers, `key = value` lines,
 * comments starting with '#' or ';'. Sections:
 *
 *   [server]             store, credentials, srp-verifiers, bearer-tokens,
 *                        bearer-jwt-key, bearer-jwt-issuer,
 *                        bearer-jwt-audience, bearer-jwt-max-lifetime,
 *                        realm, user,
 *                        workers, log-level,
 *                        max-body, max-headers-size, max-header-fields,
 *                        idle-timeout, read-timeout, handshake-timeout,
 *                        max-connections, max-connections-per-address,
 *                        decrypt-keys, auth-fail-limit,
 *                        auth-fail-window, auth-lockout, crl-path, ocsp-path,
 *                        crl-check-interval, ocsp-signatures-per-second
 *   [listener NAME]      listen = HOST:PORT, tls = none|server|optional-client|
 *                        require-client, certificate, key, srp
 *   [ca NAME]            certificate, key, chain, crl-url, ocsp-url,
 *                        ca-issuers-url, crl-file, crl-validity-hours,
 *                        ocsp-certificate, ocsp-key, ocsp-validity-minutes,
 *                        predecessor, rollover-certificates, issue-from
 *   [profile NAME]       validity-days, extended-key-usage, copy-san
 *   [alias NAME]         default, mode, ca, cacerts-ca, profile, authentication,
 *                        username-component, vendor-mode, vendor-cas,
 *                        allow-change-subject-name, renew-same-key,
 *                        require-client-certificate, channel-binding,
 *                        server-keygen, server-keygen-key, csrattrs,
 *                        csrattrs-enforce, approval, retry-after,
 *                        san-types, allow-wildcards, dns-names, deny-dns-names,
 *                        ip-ranges, deny-ip-ranges, subject-required,
 *                        subject-allowed, max-sans, key-types, ra-cas,
 *                        renew-window, revoke-replaced, max-active-certificates,
 *                        http-challenges
 *
 * docs/configuration.md documents every key. Relative paths are taken from
 * the directory of the configuration file. Parsing reads the whole file and
 * reports every problem as "FILE:LINE: [section] key: reason" before failing.
 * A loaded configuration is immutable.
 */
#ifndef ESTKIT_CONFIG_H
#define ESTKIT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "estkit/ca.h"
#include "estkit/err.h"
#include "estkit/httpauth.h"

#ifdef __cplusplus
extern "C" {
#endif

enum est_tls_mode {
	EST_TLS_NONE = 0,           /* plain HTTP: serves /cacerts only */
	EST_TLS_SERVER,             /* TLS, no client certificate asked for */
	EST_TLS_OPTIONAL_CLIENT,    /* TLS, client certificate asked for, optional */
	EST_TLS_REQUIRE_CLIENT,     /* mutual TLS */
	EST_TLS__MAX
};

/* How an alias may authenticate an enrolling client, tried in order. */
enum est_auth_method {
	EST_AUTH_HTTP = 0,          /* HTTP Basic or Digest, the credentials file */
	EST_AUTH_CERTIFICATE,       /* TLS client certificate issued by the alias's CA */
	EST_AUTH_CHALLENGE_PASSWORD, /* end entity's code in the CSR's challengePassword */
	EST_AUTH_DN_PART_PASSWORD,  /* end entity's code in a DN field of the CSR */
	EST_AUTH_NONE,              /* no module: vendor mode authenticates */
	EST_AUTH_SRP,               /* TLS-SRP (RFC 5054) user of the verifier file */
	EST_AUTH_BEARER,            /* HTTP Bearer (RFC 6750): token file or JWT */
	EST_AUTH__MAX
};

/*
 * An alias's operational mode. In client mode only pre-registered end
 * entities enrol (by enrolment code or vendor certificate) and get the
 * subject they were registered with; alongside, the RA methods (http,
 * certificate) still let an authenticated user enrol the CSR's subject.
 * RA mode offers the RA methods only.
 */
enum est_alias_mode {
	EST_MODE_UNSET = 0,         /* resolved at load: client if any client method */
	EST_MODE_RA,
	EST_MODE_CLIENT,
	EST_MODE__MAX
};

/* What the CSR's challengePassword carries for an alias (RFC 7030 §3.5 vs. EJBCA). */
enum est_channel_binding {
	EST_CB_NONE = 0,            /* not checked (or an enrolment code) */
	EST_CB_TLS_UNIQUE,          /* base64 of tls-unique (TLS 1.2) / tls-exporter (1.3) */
	EST_CB__MAX
};
/* Whether an alias issues at once or after an administrator approves. */
enum est_approval {
	EST_APPROVAL_AUTO = 0,
	EST_APPROVAL_MANUAL,
	EST_APPROVAL__MAX
};

/* server-keygen-key: a key like the CSR's (EJBCA's behaviour). */
#define EST_KEYGEN_FROM_CSR "from-csr"
/*
 * The key /serverkeygen makes when server-keygen-key is not set: one every
 * client takes. libest's client reads only RSA keys (d2i_PrivateKey with
 * EVP_PKEY_RSA) and refuses a key part under 256 base64 characters.
 */
#define EST_KEYGEN_DEFAULT "rsa:2048"
/* Seconds a 202 asks the client to wait when retry-after is not set. */
#define EST_DEFAULT_RETRY_AFTER 60

const char *est_tls_mode_name(enum est_tls_mode m);
const char *est_auth_method_name(enum est_auth_method m);

#define EST_MAX_AUTH_METHODS 8
#define EST_MAX_VENDOR_CAS 16
#define EST_MAX_NAME_PATTERNS 32
#define EST_MAX_DN_FIELDS 24
#define EST_MAX_KEY_TYPES 8

/* SubjectAltName types an alias's name rules may allow (san-types). */
enum est_san_type {
	EST_SAN_DNS = 1u << 0,          /* dNSName */
	EST_SAN_IP = 1u << 1,           /* iPAddress */
	EST_SAN_EMAIL = 1u << 2,        /* rfc822Name */
	EST_SAN_URI = 1u << 3,          /* uniformResourceIdentifier */
	EST_SAN_OTHERNAME = 1u << 4,
	EST_SAN_DIRNAME = 1u << 5,
	EST_SAN_RID = 1u << 6           /* registeredID */
};
#define EST_SAN_DEFAULT (EST_SAN_DNS | EST_SAN_IP | EST_SAN_EMAIL | EST_SAN_URI)

/* An address range of ip-ranges / deny-ip-ranges. */
struct est_ip_range {
	unsigned char addr[16];     /* network address, len octets */
	int len;                    /* 4 or 16 */
	unsigned prefix;            /* prefix length in bits */
};

/*
 * What a client may ask an alias to certify (docs/configuration.md, "Name
 * rules"); applied by the server's issuance policy to names that come from
 * a CSR. Patterns are lower-case: "host.example" matches itself,
 * "*.example" any name below example.
 */
struct est_name_rules {
	unsigned san_types;         /* bit set of enum est_san_type */
	bool allow_wildcards;       /* '*' in a dNSName or CN */
	char *dns_allow[EST_MAX_NAME_PATTERNS]; /* none: any name */
	size_t n_dns_allow;
	char *dns_deny[EST_MAX_NAME_PATTERNS];
	size_t n_dns_deny;
	struct est_ip_range ip_allow[EST_MAX_NAME_PATTERNS]; /* none: any address */
	size_t n_ip_allow;
	struct est_ip_range ip_deny[EST_MAX_NAME_PATTERNS];
	size_t n_ip_deny;
	int subject_required[EST_MAX_DN_FIELDS]; /* NIDs that must be in the subject */
	size_t n_subject_required;
	int subject_allowed[EST_MAX_DN_FIELDS];  /* NIDs it may hold; none: any */
	size_t n_subject_allowed;
	unsigned max_sans;          /* most subjectAltName entries; 0: no limit */
};

enum est_key_kind { EST_KEY_RSA, EST_KEY_EC, EST_KEY_ED25519 };

/* One entry of key-types: a key type and, for RSA, a size range. */
struct est_key_type {
	enum est_key_kind kind;
	int curve_nid;              /* EC: the named curve */
	unsigned min_bits, max_bits; /* RSA */
};

struct est_listener_conf {
	char *name;
	char *host;                 /* numeric address or host name to bind */
	char *port;                 /* "0" lets the kernel choose */
	enum est_tls_mode tls;
	char *cert_path;            /* TLS certificate chain (PEM) */
	char *key_path;
	bool srp;                   /* also TLS-SRP; TLS 1.2 at most on this listener */
	int line;
};

struct est_ca_conf {
	char *name;
	char *cert_path;
	char *key_path;             /* NULL: CA used for /cacerts or trust only */
	char *chain_path;           /* NULL when the CA is a root */
	char *crl_url;              /* cRLDistributionPoints URL of issued certs, or NULL */
	char *ocsp_url;             /* AIA OCSP URL of issued certs, or NULL */
	char *ca_issuers_url;       /* AIA caIssuers URL of issued certs, or NULL */
	char *crl_file;             /* where the current CRL (DER) is also written, or NULL */
	unsigned crl_validity_hours; /* nextUpdate - thisUpdate of its CRLs */
	char *ocsp_cert_path;       /* delegated OCSP responder; NULL: the CA key signs */
	char *ocsp_key_path;
	unsigned ocsp_validity_minutes; /* nextUpdate of OCSP responses; 0: none */
	/* CA rollover (RFC 7030 §4.1.3, estadm ca rollover): this CA succeeds
	 * predecessor; aliases of the predecessor issue under it from issue_from,
	 * and /cacerts serves both with the rollover certificates. */
	char *predecessor;          /* the CA this one replaces, or NULL */
	char *rollover_path;        /* OldWithNew and NewWithOld (PEM) */
	char *issue_from_text;      /* "YYYY-MM-DDTHH:MM:SSZ" as written, or NULL */
	int64_t issue_from;         /* Unix seconds; 0: at once */
	int line;
};

struct est_profile_conf {
	struct est_profile profile; /* profile.name points at name */
	char *name;
	int line;
};

struct est_alias_conf {
	char *name;
	bool is_default;            /* also serves /.well-known/est/<op> */
	char *ca;                   /* issuing CA */
	char *cacerts_ca;           /* CA whose chain /cacerts returns (default: ca) */
	char *profile;
	enum est_auth_method auth[EST_MAX_AUTH_METHODS];
	size_t n_auth;
	bool renew_same_key;        /* /simplereenroll may keep the old key */
	enum est_alias_mode mode;   /* never UNSET after loading */
	char *username_field;       /* DN field naming the end entity (default CN) */
	int username_nid;
	char *code_field;           /* dn-part-password:<field>, NULL otherwise */
	int code_nid;
	bool vendor_mode;           /* initial enrolment by a vendor TLS certificate */
	char *vendor_cas[EST_MAX_VENDOR_CAS]; /* external CA names (estadm ca import) */
	size_t n_vendor_cas;
	bool allow_change_subject;  /* honour ChangeSubjectName (vendor mode) */
	bool require_client_cert;   /* /simpleenroll needs a TLS client certificate */
	enum est_channel_binding channel_binding;
	bool server_keygen;         /* /serverkeygen is offered */
	char *server_keygen_key;    /* a key spec or "from-csr"; NULL: EST_KEYGEN_DEFAULT */
	char *csrattrs;             /* /csrattrs list (text form), NULL: none */
	bool csrattrs_enforce;      /* refuse CSRs that lack what /csrattrs lists */
	enum est_approval approval;
	unsigned retry_after;       /* Retry-After of a 202; 0: the default */
	struct est_name_rules names; /* what clients may ask to have certified */
	struct est_key_type key_types[EST_MAX_KEY_TYPES]; /* keys certified */
	size_t n_key_types;
	char *ra_cas[EST_MAX_VENDOR_CAS]; /* external CAs whose cmcRA certificates act as RAs */
	size_t n_ra_cas;
	unsigned renew_window;      /* days before expiry renewal opens; 0: any time */
	bool revoke_replaced;       /* revoke the renewed certificate (superseded) */
	unsigned max_active;        /* valid certificates per end entity; 0: no limit */
	enum est_challenge challenges[EST_CHALLENGE__MAX]; /* 401 challenges, in order */
	size_t n_challenges;        /* 0: est_challenge_default */
	int line;
};

struct est_config {
	char *path;                 /* the file read */
	char *dir;                  /* its directory, for relative paths */
	/* [server] */
	char *store_uri;
	char *credentials_path;
	char *lockout_path;         /* the lock-out file (lockout-file), or NULL: est_lockout_path */
	char *srp_verifiers_path;   /* TLS-SRP verifiers (estadm srp), or NULL */
	char *bearer_tokens_path;   /* hashed Bearer tokens (estadm token), or NULL */
	char *bearer_jwt_key_path;  /* PEM public key of JWT issuers, or NULL */
	char *bearer_jwt_issuer;    /* iss a JWT must carry (with the key) */
	char *bearer_jwt_audience;  /* aud a JWT must hold (with the key) */
	unsigned bearer_jwt_max_lifetime; /* seconds a JWT may be valid for; 0: no limit */
	char *realm;
	char *user;                 /* drop privileges to this user, or NULL */
	unsigned workers;           /* 0: one per core */
	char *log_level;
	size_t max_body;
	size_t max_headers_size;
	unsigned idle_timeout;      /* seconds */
	unsigned max_connections;   /* open connections, all listeners */
	unsigned max_connections_per_address; /* ... from one source address (or IPv6 /64) */
	unsigned max_header_fields; /* header fields in one request */
	unsigned read_timeout;      /* seconds to receive a whole request once begun */
	unsigned handshake_timeout; /* seconds for a TLS handshake */
	unsigned drain_timeout;     /* seconds requests in flight get at a stop or reload */
	char *audit_log_path;       /* the hash-chained audit log, or NULL: none */
	char *access_log_path;      /* access lines to this file, or NULL: to the log */
	bool access_log_json;       /* access lines as JSON objects, not key=value */
	struct est_listener_conf metrics_listen; /* /metrics listener: host and port
	                                          * (port NULL: none); other fields unused */
	char *decrypt_keys_path;    /* shared keys for encrypted /serverkeygen, or NULL */
	unsigned auth_fail_limit;   /* failed passwords that lock out; 0: no limit */
	unsigned auth_fail_window;  /* seconds the failures are counted over */
	unsigned auth_lockout;      /* seconds a lock-out lasts */
	char *crl_path;             /* CRLs are served at <crl_path>/<CA name>.crl */
	char *ocsp_path;            /* the OCSP responder (POST here, GET below) */
	unsigned crl_check_interval; /* seconds between checks that CRLs are current */
	unsigned ocsp_signatures_per_second; /* new OCSP signatures a second, all
	                            * workers; 0: no limit */
	struct est_listener_conf *listeners;
	size_t n_listeners;
	struct est_ca_conf *cas;
	size_t n_cas;
	struct est_profile_conf *profiles;
	size_t n_profiles;
	struct est_alias_conf *aliases;
	size_t n_aliases;
};

/*
 * Read and check a configuration file. On failure returns EST_ERR_CONFIG
 * (or EST_ERR_IO) and, when errors is not NULL, a malloc'd text of every
 * problem, one per line, "FILE:LINE: reason" (caller free()s); e->msg holds
 * the first. Cross-references (alias -> ca/profile) and constraints (an alias
 * named like an EST operation, two default aliases, duplicate names, a TLS
 * listener without certificate) are checked here; files are not opened.
 * Caller frees *out with est_config_free().
 */
enum est_err est_config_load(const char *path, struct est_config **out, char **errors,
    struct est_error *e);
void est_config_free(struct est_config *cfg);

/* Lookups by name; NULL when absent. Borrowed. */
const struct est_ca_conf *est_config_ca(const struct est_config *cfg, const char *name);
const struct est_profile_conf *est_config_profile(const struct est_config *cfg, const char *name);
const struct est_alias_conf *est_config_alias(const struct est_config *cfg, const char *name);
const struct est_alias_conf *est_config_default_alias(const struct est_config *cfg);

/* Whether the alias maps requests to pre-registered end entities (client mode). */
bool est_alias_is_client_mode(const struct est_alias_conf *a);

/* Whether name is an EST operation name (cacerts, simpleenroll, ...). */
bool est_is_operation_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif
