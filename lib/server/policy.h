/*
 * The issuance policy: the one step that decides what may be certified for
 * an authenticated principal (DESIGN.md, "policy"). It needs no socket and
 * no store: who the client is comes in a struct, whose a name is comes from
 * a callback, so tests/unit/test_policy.c drives it from a table.
 */
#ifndef ESTKIT_SERVER_POLICY_H
#define ESTKIT_SERVER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "estkit/ca.h"
#include "estkit/config.h"
#include "estkit/err.h"
#include "estkit/store.h"

/* Who authentication says the client is. */
enum policy_principal_kind {
	PRINCIPAL_USER = 0,   /* an HTTP user (credentials file) */
	PRINCIPAL_EE,         /* an end entity, by its enrolment code (or none) */
	PRINCIPAL_CERT,       /* a certificate of this CA (TLS client certificate) */
	PRINCIPAL_VENDOR,     /* a vendor certificate naming an end entity */
	PRINCIPAL_RA,         /* an RA certificate: EKU id-kp-cmcRA (RFC 7030 §3.7) */
	PRINCIPAL__MAX
};

/* "user", "end entity", ... for messages. */
const char *policy_principal_name(enum policy_principal_kind k);

/*
 * Whether two principals as estd writes them ("user:NAME", "cert:SERIAL",
 * ...) name the same client: the same text, or a cert: or ra: serial that
 * is the same number in another spelling. Requests held for approval keep
 * the principal that asked, and earlier versions of estd wrote "cert:A3F"
 * where it now writes "cert:0A3F".
 */
bool policy_same_principal(const char *a, const char *b);

struct policy_principal {
	enum policy_principal_kind kind;
	const struct est_ee *ee;  /* EE, VENDOR: the end entity; CERT: the one cert is
	                           * linked to, NULL for none (borrowed) */
	X509 *cert;               /* CERT, RA: the client certificate; VENDOR: the
	                           * vendor certificate (borrowed) */
	int64_t cert_ee_id;       /* CERT: the end entity cert is linked to, 0 none */
	bool cert_of_alias;       /* CERT: cert was issued through this alias ... */
	const char *cert_alias;   /* ... or through this one (borrowed) */
};

enum policy_op {
	POLICY_ENROLL = 0,        /* /simpleenroll */
	POLICY_REENROLL,          /* /simplereenroll */
	POLICY_SERVERKEYGEN       /* /serverkeygen */
};

/*
 * Which end entity other than self (0: the asker is none) the subject or
 * any name in it or in the SAN entries is registered to: *ee_id (0: none)
 * and its username into who. Used so that names registered to an end
 * entity are obtained only through it.
 */
typedef enum est_err (*policy_owner_fn)(void *arg, const X509_NAME *subject,
    const GENERAL_NAMES *san, int64_t self, int64_t *ee_id, char *who, size_t wholen,
    struct est_error *e);

struct policy_input {
	const struct est_config *cfg;      /* for an end entity's own profile */
	const struct est_alias_conf *alias;
	const struct est_profile *profile; /* the alias's */
	enum policy_op op;
	struct policy_principal who;
	X509_REQ *csr;                     /* signature already checked */
	X509 *renewing;                    /* REENROLL: the certificate being renewed */
	time_t now;
	policy_owner_fn owner;
	void *owner_arg;
};

/*
 * The complete issuance request: what approval shows and the CA signs.
 * Release with policy_decision_clear().
 */
struct policy_decision {
	X509_NAME *subject;               /* owned */
	GENERAL_NAMES *san;               /* owned, never NULL after a decision; empty: none */
	EVP_PKEY *pubkey;                 /* the CSR's (borrowed); NULL for /serverkeygen
	                                   * until the key is made */
	const struct est_profile *profile; /* borrowed from the configuration */
	int64_t ee_id;                    /* end entity the certificate belongs to, 0 none */
	const char *spend_code;           /* code hash of the end entity to spend a use
	                                   * of with the certificate (borrowed), NULL none */
	char *replaces_issuer;            /* revoke-replaced: the renewed certificate */
	char *replaces_serial;            /* (owned), NULL: nothing is revoked */
	unsigned max_active;              /* valid certificates the end entity may hold; 0 any */
};

void policy_decision_clear(struct policy_decision *d);

/*
 * Decide. EST_OK and *d filled, or the refusal: EST_ERR_BADREQ (400: a
 * malformed ChangeSubjectName, an unreadable or unaccepted key) or
 * EST_ERR_FORBIDDEN (403) with the reason a person can act on. *d is
 * cleared on failure.
 */
enum est_err policy_decide(const struct policy_input *in, struct policy_decision *d,
    struct est_error *e);

/*
 * The alias's name rules on names a client asked for (exposed for tests).
 * EST_ERR_FORBIDDEN naming the first name refused and the rule.
 */
enum est_err policy_check_names(const struct est_name_rules *rules, const X509_NAME *subject,
    const GENERAL_NAMES *san, struct est_error *e);

/* The alias's key-types, named curves only. EST_ERR_BADREQ with the reason. */
enum est_err policy_check_key(const struct est_alias_conf *alias, EVP_PKEY *key,
    struct est_error *e);

/* Whether cert carries the EKU id-kp-cmcRA. */
bool policy_is_ra_cert(X509 *cert);

#endif
