/*
 * estkit store: where the CA records every certificate it issues, and the
 * enrolment requests held for manual approval.
 *
 * The store is an interface with one backend per database. A store handle
 * is used by one thread at a time; a multi-threaded program opens one
 * handle per thread (each is its own database connection).
 *
 * URIs: "sqlite:/path/to/file.db" (or a bare path) opens the embedded
 * SQLite backend in WAL mode, creating and migrating the schema as needed.
 * Further backends (PostgreSQL) plug in through struct est_store_ops.
 *
 * Durability: est_store_put_cert returns EST_OK only after the record is
 * committed; a certificate is never handed to a client before that.
 */
#ifndef ESTKIT_STORE_H
#define ESTKIT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "estkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Stored status. "expired" is not stored: it follows from not_after. */
enum est_cert_status {
	EST_CERT_VALID = 0,
	EST_CERT_REVOKED = 1,
	EST_CERT_STATUS__MAX
};

/*
 * RFC 5280 §5.3.1 CRLReason values (7 is unused there).
 */
enum est_revoke_reason {
	EST_REASON_UNSPECIFIED = 0,
	EST_REASON_KEY_COMPROMISE = 1,
	EST_REASON_CA_COMPROMISE = 2,
	EST_REASON_AFFILIATION_CHANGED = 3,
	EST_REASON_SUPERSEDED = 4,
	EST_REASON_CESSATION_OF_OPERATION = 5,
	EST_REASON_CERTIFICATE_HOLD = 6,
	EST_REASON_REMOVE_FROM_CRL = 8,
	EST_REASON_PRIVILEGE_WITHDRAWN = 9,
	EST_REASON_AA_COMPROMISE = 10
};

/* "keyCompromise" <-> EST_REASON_KEY_COMPROMISE (RFC 5280 names). */
const char *est_revoke_reason_name(int reason);
int est_revoke_reason_parse(const char *name, int *out); /* 0 or -1 */
const char *est_cert_status_name(enum est_cert_status s); /* "valid", "revoked" */

/*
 * One certificate as stored. Strings are malloc'd and owned by the record;
 * est_cert_rec_free() frees the record and everything in it.
 */
struct est_cert_rec {
	int64_t id;              /* store's own row id (0 before insertion) */
	char *issuer;            /* issuer DN, est_name_text form */
	char *serial;            /* est_serial_text form */
	char *subject;           /* subject DN, est_name_text form */
	char *san;               /* est_san_text form, "" when none */
	char spki_sha256[65];    /* est_spki_sha256 of the certified key */
	int64_t not_before;      /* Unix seconds */
	int64_t not_after;
	int64_t issued_at;
	enum est_cert_status status;
	int64_t revoked_at;      /* 0 unless revoked */
	int revocation_reason;   /* enum est_revoke_reason; -1 unless revoked */
	char *principal;         /* who enrolled ("user:estuser", "cert:<serial>", ...) */
	char *alias;             /* EST alias it was issued through ("" for none) */
	unsigned char *der;      /* the certificate, DER */
	size_t der_len;
};

/*
 * Fill a new record from a certificate (issuer, serial, subject, SAN, SPKI,
 * validity, DER); status valid, issued_at now. principal and alias are
 * copied (NULL means ""). Caller frees with est_cert_rec_free().
 */
enum est_err est_cert_rec_from_x509(X509 *cert, const char *principal,
    const char *alias, struct est_cert_rec **out, struct est_error *e);

void est_cert_rec_free(struct est_cert_rec *rec);

/*
 * Requests held for manual approval (RFC 7030 §4.2.3). A request is open
 * while pending, approved or rejected; approval is good for one
 * certificate, after which the request is issued and a new one with the
 * same key starts over.
 */
enum est_req_state {
	EST_REQ_PENDING = 0,
	EST_REQ_APPROVED = 1,
	EST_REQ_REJECTED = 2,
	EST_REQ_ISSUED = 3,
	EST_REQ_STATE__MAX
};

/* "pending", "approved", "rejected", "issued"; "unknown" otherwise. */
const char *est_req_state_name(enum est_req_state s);

/*
 * One held request. A retried request is the same request when alias,
 * operation, SPKI, subject and SAN are the same (EST-S-44): the CSR's other
 * bytes, its challengePassword included, may change on a new connection.
 * Strings are malloc'd and owned by the record.
 */
struct est_req_rec {
	int64_t id;              /* store's row id; the ID estadm shows */
	char *alias;
	char *operation;         /* "simpleenroll", "simplereenroll", "serverkeygen" */
	char spki_sha256[65];    /* est_spki_sha256 of the CSR's key */
	char *subject;           /* est_name_text form */
	char *san;               /* est_san_text form, "" when none */
	char *principal;         /* who asked first */
	enum est_req_state state;
	int64_t created_at;      /* Unix seconds */
	int64_t decided_at;      /* when approved or rejected; 0 before */
};

void est_req_rec_free(struct est_req_rec *rec);

/* Called for each listed request, oldest first; borrowed for the call. Return
 * 0 to go on, non-zero to stop. */
typedef int (*est_req_visit)(const struct est_req_rec *rec, void *arg);

/* Filter for est_store_list_certs; zero-initialise, then set what you need. */
struct est_cert_filter {
	const char *issuer;      /* only this issuer, or NULL */
	const char *subject_like; /* SQL LIKE pattern on subject, or NULL */
	bool only_valid;         /* status valid and not expired at `now` */
	int64_t now;             /* for only_valid; 0 means the current time */
	unsigned limit;          /* 0 = no limit */
};

/* Called for each listed record, in issue order. The record is borrowed for
 * the call only. Return 0 to go on, non-zero to stop. */
typedef int (*est_cert_visit)(const struct est_cert_rec *rec, void *arg);

struct est_store;

/* Backend operations; a backend fills one static table. */
struct est_store_ops {
	const char *name;
	enum est_err (*put_cert)(struct est_store *, struct est_cert_rec *, struct est_error *);
	enum est_err (*get_cert)(struct est_store *, const char *issuer, const char *serial,
	    struct est_cert_rec **, struct est_error *);
	enum est_err (*list_certs)(struct est_store *, const struct est_cert_filter *,
	    est_cert_visit, void *, struct est_error *);
	enum est_err (*revoke_cert)(struct est_store *, const char *issuer, const char *serial,
	    int reason, int64_t when, struct est_error *);
	enum est_err (*hold_request)(struct est_store *, const struct est_req_rec *,
	    struct est_req_rec **, struct est_error *);
	enum est_err (*list_requests)(struct est_store *, bool, est_req_visit, void *,
	    struct est_error *);
	enum est_err (*set_request_state)(struct est_store *, int64_t, enum est_req_state,
	    enum est_req_state, int64_t, struct est_error *);
	enum est_err (*schema_version)(struct est_store *, int *, struct est_error *);
	void (*close)(struct est_store *);
};

/* Every backend's handle starts with this. */
struct est_store {
	const struct est_store_ops *ops;
};

/*
 * Open a store by URI (see above). Caller closes with est_store_close().
 * EST_ERR_CONFIG for an unknown scheme; EST_ERR_STORE when the database
 * cannot be opened or migrated (the reason names the file).
 */
enum est_err est_store_open(const char *uri, struct est_store **out, struct est_error *e);
void est_store_close(struct est_store *st);

/*
 * Record a newly issued certificate. Sets rec->id. EST_ERR_EXISTS when the
 * (issuer, serial) pair is already on record; EST_ERR_STORE otherwise.
 */
enum est_err est_store_put_cert(struct est_store *st, struct est_cert_rec *rec,
    struct est_error *e);

/*
 * Look a certificate up by serial (est_serial_text form) and, if issuer is not
 * NULL, issuer DN. EST_ERR_NOTFOUND when there is none; EST_ERR_EXISTS when
 * issuer is NULL and several issuers used that serial. Caller frees *out.
 */
enum est_err est_store_get_cert(struct est_store *st, const char *issuer,
    const char *serial, struct est_cert_rec **out, struct est_error *e);

enum est_err est_store_list_certs(struct est_store *st, const struct est_cert_filter *f,
    est_cert_visit visit, void *arg, struct est_error *e);

/*
 * Mark a certificate revoked at `when` (Unix seconds) with an RFC 5280
 * reason. issuer may be NULL as for est_store_get_cert. EST_ERR_NOTFOUND,
 * EST_ERR_EXISTS (ambiguous serial), EST_ERR_FORBIDDEN when already revoked.
 */
enum est_err est_store_revoke_cert(struct est_store *st, const char *issuer,
    const char *serial, int reason, int64_t when, struct est_error *e);

/*
 * Find the open request with rec's key (alias, operation, spki_sha256,
 * subject, san), or record rec as a new pending request (rec->state and id
 * are ignored; created_at 0 means now). In one transaction, so two retries
 * at once make one request. *out is the stored request: its state says
 * whether to wait, issue or refuse. Caller frees with est_req_rec_free().
 */
enum est_err est_store_hold_request(struct est_store *st, const struct est_req_rec *rec,
    struct est_req_rec **out, struct est_error *e);

/* List requests, oldest first: all of them, or only the open ones. */
enum est_err est_store_list_requests(struct est_store *st, bool open_only,
    est_req_visit visit, void *arg, struct est_error *e);

/*
 * Move request id from state `from` to `to` in one statement, so of two
 * servers only one wins (approved -> issued is how a server claims the one
 * certificate an approval is good for). Moving to approved or rejected sets
 * decided_at = when. EST_ERR_NOTFOUND when there is no such request;
 * EST_ERR_FORBIDDEN, naming its state, when it is not in `from`.
 */
enum est_err est_store_set_request_state(struct est_store *st, int64_t id,
    enum est_req_state from, enum est_req_state to, int64_t when, struct est_error *e);

/* The schema version the database is at (after migration). */
enum est_err est_store_schema_version(struct est_store *st, int *version, struct est_error *e);

#ifdef __cplusplus
}
#endif

#endif
