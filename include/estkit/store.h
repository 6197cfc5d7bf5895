/*
 * estkit store: where the CA records every certificate it issues, and the
 * enrolment requests held for manual approval.
 *
 * The store is an interface with one backend per database. A store handle
 * is used by one thread at a time; a multi-threaded program opens one
 * handle per thread (each is its own database connection).
 *
 * URIs: "sqlite:/path/to/file.db" (or a bare path) opens the embedded
 * SQLite backend in WAL mode, migrating the schema as needed. A store is
 * made only by est_store_create; est_store_open refuses a missing or empty
 * one (re-creating it would silently lose every record).
 *
 * "postgresql://[user@]host[:port]/database[?param=value...]" (libpq's URI;
 * "postgres://" too) opens the shared backend that several servers use at
 * once. The URI must not carry a password (it is logged): libpq reads it
 * from the file named by passfile= in the URI, by PGPASSFILE, or
 * ~/.pgpass. est_store_open refuses a schema of another version than this
 * code's: est_store_migrate (`estadm db migrate`) brings it forward.
 * Everything that must hold across servers is decided by the database (see
 * lib/store/postgresql/db.c); a server caches no record. When the database
 * cannot be reached, calls fail with EST_ERR_UNAVAILABLE and the handle
 * reconnects on a later call.
 *
 * Backends plug in through struct est_store_ops, one folder each in lib/store.
 *
 * Durability: est_store_put_cert returns EST_OK only after the record is
 * committed; a certificate is never handed to a client before that.
 */
#ifndef ESTKIT_STORE_H
#define ESTKIT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
	char spki_sha256[65];    /* hex SHA-256 of the certificate's SubjectPublicKeyInfo
	                          * DER (est_spki_sha256 of its key) */
	int64_t not_before;      /* Unix seconds */
	int64_t not_after;
	int64_t issued_at;
	enum est_cert_status status;
	int64_t revoked_at;      /* 0 unless revoked */
	int revocation_reason;   /* enum est_revoke_reason; -1 unless revoked */
	char *principal;         /* who enrolled ("user:estuser", "cert:<serial>", ...) */
	char *alias;             /* EST alias it was issued through ("" for none) */
	int64_t ee_id;           /* the end entity it was issued to; 0 for none */
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
	char *principal;         /* who asked; the only one it is answered for */
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
	bool only_revoked;       /* status revoked (expired ones included) */
	int64_t ee_id;           /* only those linked to this end entity; 0 = any */
	int64_t now;             /* for only_valid; 0 means the current time */
	unsigned limit;          /* 0 = no limit */
};

/* Called for each listed record, in issue order. The record is borrowed for
 * the call only. Return 0 to go on, non-zero to stop. */
typedef int (*est_cert_visit)(const struct est_cert_rec *rec, void *arg);

/*
 * An end entity: a device or person pre-registered to enrol (`estadm ee
 * add`). It enrols through one alias, gets the subject and subjectAltName
 * registered here, and proves itself with an enrolment code (stored only as
 * an est_pwhash text) or, in vendor mode, with its vendor certificate. Each
 * enrolment spends one use; a spent entity enrols again only after `ee
 * reset`. Strings are owned; est_ee_free() frees the record.
 */
struct est_ee {
	int64_t id;              /* store's row id (0 before insertion) */
	char *username;          /* what the alias's username component must equal */
	char *subject;           /* est_name_text of the DN to certify */
	unsigned char *subject_der; /* that DN, DER */
	size_t subject_der_len;
	char *san;               /* est_san_text of the SAN to certify, "" for none */
	unsigned char *san_der;  /* GeneralNames DER, NULL for none */
	size_t san_der_len;
	char *alias;             /* the alias it may enrol through */
	char *profile;           /* certificate profile, "" for the alias's */
	char *code_hash;         /* est_pwhash text of the enrolment code */
	int64_t uses_left;       /* enrolments left; -1 = unlimited */
	int64_t valid_until;     /* Unix seconds after which it may not enrol; 0 = never */
	int64_t created_at;
	int64_t last_used;       /* last enrolment; 0 = never */
};

void est_ee_free(struct est_ee *ee);

typedef int (*est_ee_visit)(const struct est_ee *ee, void *arg);

/* A CA certificate imported as "external": trusted only where an alias names it. */
struct est_ext_ca {
	char *name;
	char *subject;           /* est_name_text */
	unsigned char *der;
	size_t der_len;
	int64_t imported_at;
};

void est_ext_ca_free(struct est_ext_ca *ca);

typedef int (*est_ext_ca_visit)(const struct est_ext_ca *ca, void *arg);

/*
 * A CA's current CRL as stored: its number (only grows), the revocation
 * revision it was made at (see est_store_revocation_revision), its
 * thisUpdate and nextUpdate (Unix seconds) and the CRL itself (DER).
 * est_crl_rec_free() frees the record and its DER.
 */
struct est_crl_rec {
	int64_t crl_number;
	int64_t revision;
	int64_t this_update;
	int64_t next_update;
	unsigned char *der;
	size_t der_len;
};

void est_crl_rec_free(struct est_crl_rec *rec);

/* Called for each CA's current CRL, by issuer; borrowed for the call. 0 goes on. */
typedef int (*est_crl_visit)(const char *issuer, const struct est_crl_rec *rec, void *arg);

struct est_store;
struct est_write;

/*
 * What else happens in the transaction that records a certificate issued
 * by policy (est_store_put_issued). Zero-initialise; all borrowed.
 */
struct est_issue_record {
	const char *code_hash;       /* spend one use of rec->ee_id's code (as
	                              * est_store_put_cert_consume), NULL: none */
	const char *replaces_issuer; /* the certificate this one renews, revoked as */
	const char *replaces_serial; /* superseded; NULL: none. Refused
	                              * (EST_ERR_FORBIDDEN) when it is revoked
	                              * already: one certificate renews once */
	unsigned max_active;         /* refuse when rec->ee_id would then hold more
	                              * valid, unexpired certificates; 0: no limit */
	int64_t approval_id;         /* claim this approved request (approved ->
	                              * issued: the one certificate it is good for);
	                              * 0: none */
	int64_t now;
};

/* Backend operations; a backend fills one static table. */
struct est_store_ops {
	const char *name;
	enum est_err (*put_cert)(struct est_store *, struct est_cert_rec *, struct est_error *);
	enum est_err (*get_cert)(struct est_store *, const char *issuer, const char *serial,
	    struct est_cert_rec **, struct est_error *);
	enum est_err (*list_certs)(struct est_store *, const struct est_cert_filter *,
	    est_cert_visit, void *, struct est_error *);
	enum est_err (*count_expiring)(struct est_store *, int64_t now, int64_t until, int64_t *,
	    struct est_error *);
	enum est_err (*revoke_cert)(struct est_store *, const char *issuer, const char *serial,
	    int reason, int64_t when, struct est_error *);
	enum est_err (*release_cert)(struct est_store *, const char *issuer, const char *serial,
	    unsigned max_active, int64_t now, struct est_error *);
	enum est_err (*hold_request)(struct est_store *, const struct est_req_rec *,
	    struct est_req_rec **, struct est_error *);
	enum est_err (*find_request)(struct est_store *, const struct est_req_rec *,
	    struct est_req_rec **, struct est_error *);
	enum est_err (*list_requests)(struct est_store *, bool, est_req_visit, void *,
	    struct est_error *);
	enum est_err (*set_request_state)(struct est_store *, int64_t, enum est_req_state,
	    enum est_req_state, int64_t, struct est_error *);
	enum est_err (*schema_version)(struct est_store *, int *, struct est_error *);
	enum est_err (*check)(struct est_store *, bool full, struct est_error *);
	enum est_err (*backup)(struct est_store *, const char *path, struct est_error *);
	enum est_err (*put_cert_consume)(struct est_store *, struct est_cert_rec *,
	    const char *code_hash, int64_t now, struct est_error *);
	enum est_err (*put_issued)(struct est_store *, struct est_cert_rec *,
	    const struct est_issue_record *, struct est_error *);
	enum est_err (*put_ee)(struct est_store *, struct est_ee *, struct est_error *);
	enum est_err (*get_ee)(struct est_store *, const char *username, struct est_ee **,
	    struct est_error *);
	enum est_err (*get_ee_by_id)(struct est_store *, int64_t id, struct est_ee **,
	    struct est_error *);
	enum est_err (*list_ee)(struct est_store *, est_ee_visit, void *, struct est_error *);
	enum est_err (*list_ee_by_key)(struct est_store *, const char *key, unsigned max,
	    est_ee_visit, void *, struct est_error *);
	enum est_err (*del_ee)(struct est_store *, const char *username, struct est_error *);
	enum est_err (*reset_ee)(struct est_store *, const char *username, const char *code_hash,
	    int64_t uses_left, int64_t valid_until, struct est_error *);
	enum est_err (*put_ext_ca)(struct est_store *, struct est_ext_ca *, struct est_error *);
	enum est_err (*list_ext_ca)(struct est_store *, est_ext_ca_visit, void *,
	    struct est_error *);
	enum est_err (*revocation_revision)(struct est_store *, const char *issuer, int64_t *,
	    struct est_error *);
	enum est_err (*get_crl)(struct est_store *, const char *issuer, struct est_crl_rec **,
	    struct est_error *);
	enum est_err (*put_crl)(struct est_store *, const char *issuer,
	    const struct est_crl_rec *, struct est_error *);
	enum est_err (*list_crls)(struct est_store *, est_crl_visit, void *, struct est_error *);
	/*
	 * The grouped writer's (writer.c): one transaction per group, and in it
	 * one write at a time, each all or nothing (a savepoint in SQL), so one
	 * write's failure leaves the others of its group alone. group_start
	 * (NULL: nothing to do) readies the writer's handle once, before its
	 * first group.
	 */
	enum est_err (*group_start)(struct est_store *, struct est_error *);
	enum est_err (*group_begin)(struct est_store *, struct est_error *);
	enum est_err (*group_write)(struct est_store *, struct est_write *, struct est_error *);
	enum est_err (*group_commit)(struct est_store *, struct est_error *);
	void (*group_rollback)(struct est_store *);
	/* est_store_read_begin and _end; NULL: nothing to gain (PostgreSQL: each
	 * statement is one round trip either way, a transaction two more). */
	enum est_err (*read_begin)(struct est_store *, struct est_error *);
	void (*read_end)(struct est_store *);
	/*
	 * One transaction around many calls (est_store_import): nothing is
	 * committed before bulk_commit, and bulk_rollback undoes every call
	 * since bulk_begin. A call that fails may spoil the transaction (on
	 * PostgreSQL every later call fails): roll back at the first failure.
	 */
	enum est_err (*bulk_begin)(struct est_store *, struct est_error *);
	enum est_err (*bulk_commit)(struct est_store *, struct est_error *);
	void (*bulk_rollback)(struct est_store *);
	void (*close)(struct est_store *);
};

/* Every backend's handle starts with this. */
struct est_store {
	const struct est_store_ops *ops;
};

/*
 * Open an existing store by URI (see above). Caller closes with
 * est_store_close(). EST_ERR_CONFIG for an unknown scheme; EST_ERR_STORE
 * when the database is missing, empty, not estkit's, or cannot be opened or
 * migrated (the reason names the file). It does not check the pages: see
 * est_store_check.
 */
enum est_err est_store_open(const char *uri, struct est_store **out, struct est_error *e);

/* The database file a URI names (pointing into uri), or NULL when it names none. */
const char *est_store_uri_file(const char *uri);

/*
 * Create a new store at URI with the current schema, owner-only, and open
 * it. A file already there must be empty, else EST_ERR_EXISTS.
 */
enum est_err est_store_create(const char *uri, struct est_store **out, struct est_error *e);

/*
 * Bring the store at uri to this code's schema version, in one transaction
 * per step (one for all on PostgreSQL, under a lock that serialises servers).
 * *from is the version found, *to the version now. EST_ERR_STORE as for
 * est_store_open (a missing store, a newer schema).
 */
enum est_err est_store_migrate(const char *uri, int *from, int *to, struct est_error *e);

/*
 * Check the database for damage: full false runs SQLite's quick_check (what
 * estd runs at start-up), true the slower integrity_check. EST_ERR_STORE
 * names the file, the check and the first problem found. On PostgreSQL
 * (which checks its own pages) it checks the schema version and reads every
 * table (full: every row).
 */
enum est_err est_store_check(struct est_store *st, bool full, struct est_error *e);

/*
 * Write a consistent copy of the store, taken online (writers may go on),
 * to the new file path (which must not exist: EST_ERR_EXISTS). Restoring is
 * putting the copy in place of the store while no server runs. SQLite only:
 * a PostgreSQL store is backed up by PostgreSQL (EST_ERR_NOTIMPL says so).
 */
enum est_err est_store_backup(struct est_store *st, const char *path, struct est_error *e);
void est_store_close(struct est_store *st);

/*
 * A read scope, for look-ups made one after another. On SQLite the reads
 * made through st until est_store_read_end see one snapshot of the store
 * and share the cost of taking it: one read transaction, where each
 * statement would begin its own and, when another connection committed
 * meanwhile, read its cached pages again. Only reads in between: a write
 * through st in the scope fails (EST_ERR_STORE). Keep it short, with
 * nothing waited for inside it: while it lasts, SQLite's WAL cannot start
 * over. est_store_read_end ends it whatever happened in it (no-op when none
 * is open). On PostgreSQL both do nothing: each read is its own round trip
 * and snapshot, as without them.
 */
enum est_err est_store_read_begin(struct est_store *st, struct est_error *e);
void est_store_read_end(struct est_store *st);

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

/*
 * How many certificates are valid at now and expire by until (now <
 * not_after <= until, not revoked), counted by the database: no record is
 * read out (the /metrics expiry gauges, on stores of millions).
 */
enum est_err est_store_count_expiring(struct est_store *st, int64_t now, int64_t until,
    int64_t *n, struct est_error *e);

enum est_err est_store_list_certs(struct est_store *st, const struct est_cert_filter *f,
    est_cert_visit visit, void *arg, struct est_error *e);

/*
 * Mark a certificate revoked at `when` (Unix seconds) with an RFC 5280
 * reason. issuer may be NULL as for est_store_get_cert. A certificate on
 * hold (certificateHold) is revoked for good by any other reason, in one
 * transaction: the reason replaces certificateHold, the revocation time
 * stays the hold's (relying parties have refused it since), and issuer's
 * revocation revision grows. Renewals never do that (est_store_put_issued
 * refuses a held certificate). EST_ERR_NOTFOUND, EST_ERR_EXISTS (ambiguous
 * serial), EST_ERR_FORBIDDEN when already revoked otherwise.
 */
enum est_err est_store_revoke_cert(struct est_store *st, const char *issuer,
    const char *serial, int reason, int64_t when, struct est_error *e);

/*
 * Release a certificate from hold (RFC 5280 section 5.3.1: a certificate
 * revoked with reason certificateHold "may be released from hold"): in ONE
 * transaction it becomes valid again, its revocation time and reason are
 * cleared, and issuer's revocation revision grows, so every CRL made after
 * it leaves the certificate out. issuer may be NULL as for
 * est_store_get_cert. Refused, with nothing written: EST_ERR_NOTFOUND,
 * EST_ERR_EXISTS (ambiguous serial), and EST_ERR_FORBIDDEN (the reason says
 * which) when it is valid, revoked for any other reason (a revocation is
 * final), expired at `now`, or when its end entity would then hold more than
 * max_active valid, unexpired certificates (0: no limit), as an enrolment
 * would be refused.
 */
enum est_err est_store_release_cert(struct est_store *st, const char *issuer,
    const char *serial, unsigned max_active, int64_t now, struct est_error *e);

/*
 * Record a certificate issued to end entity rec->ee_id and spend one use of
 * its enrolment code, in ONE transaction: the use is taken only if the entity
 * still has the code whose hash is code_hash (not reset meanwhile), has uses
 * left and is not past valid_until at `now`. Otherwise nothing is written and
 * the result is EST_ERR_AUTH ("enrolment code of U is spent" ...), so that of
 * concurrent requests with a one-time code exactly one gets a certificate.
 * EST_ERR_EXISTS as for est_store_put_cert.
 */
enum est_err est_store_put_cert_consume(struct est_store *st, struct est_cert_rec *rec,
    const char *code_hash, int64_t now, struct est_error *e);

/*
 * Record an issued certificate and, in ONE transaction, what goes with it
 * (how): claim its approval, spend a use of the end entity's code, revoke
 * the certificate it replaces (reason superseded, at how->now; one already
 * revoked is left alone), and check the end entity's limit of valid
 * certificates counting this one. Nothing is written when any part fails:
 * EST_ERR_PENDING when the approval is no longer there to claim (another
 * enrolment used it meanwhile, or it was reset: this one must wait for a
 * new one), EST_ERR_AUTH for a code spent meanwhile, EST_ERR_FORBIDDEN for
 * the limit (the reason says it), EST_ERR_EXISTS as for
 * est_store_put_cert. Sets rec->id.
 */
enum est_err est_store_put_issued(struct est_store *st, struct est_cert_rec *rec,
    const struct est_issue_record *how, struct est_error *e);

/*
 * Register an end entity, indexed under the keys of its names (see
 * est_store_list_ee_by_key); sets ee->id, and created_at to now unless it
 * is set (last_used is taken as it is: 0 for a new one). EST_ERR_EXISTS
 * when the username is taken, EST_ERR_BADREQ when subject_der or san_der
 * does not decode.
 */
enum est_err est_store_put_ee(struct est_store *st, struct est_ee *ee, struct est_error *e);

/* Look an end entity up by username. EST_ERR_NOTFOUND. Caller frees *out. */
enum est_err est_store_get_ee(struct est_store *st, const char *username,
    struct est_ee **out, struct est_error *e);

/*
 * Look an end entity up by id (est_cert_rec.ee_id: whose a certificate is).
 * EST_ERR_NOTFOUND. Caller frees *out.
 */
enum est_err est_store_get_ee_by_id(struct est_store *st, int64_t id, struct est_ee **out,
    struct est_error *e);

/* Every end entity, by username. */
enum est_err est_store_list_ee(struct est_store *st, est_ee_visit visit, void *arg,
    struct est_error *e);

/*
 * The end entities registered under key, a name key ("h:dev-b.corp.example",
 * "i:10.0.0.5", "d:..." for a whole DN; lib/codec/namekeys.h says how names
 * become keys): est_store_put_ee indexes each end entity under the keys of
 * its subject, the subject's names and its SAN, so this is one index
 * look-up. Candidates that the caller compares exactly (the issuance policy
 * asks who owns a name); a visitor returning non-zero stops the listing.
 * At most max of them (0: all), by username; which ones when more are
 * registered is not said: a caller for whom any would do asks for few, and
 * the store reads no more than that however many share the key.
 */
enum est_err est_store_list_ee_by_key(struct est_store *st, const char *key, unsigned max,
    est_ee_visit visit, void *arg, struct est_error *e);

/* Remove an end entity; its certificates stay on record, unlinked. EST_ERR_NOTFOUND. */
enum est_err est_store_del_ee(struct est_store *st, const char *username, struct est_error *e);

/*
 * Give an end entity a new enrolment code (hash), uses (-1 unlimited) and
 * valid_until (0 none), so that it may enrol again. EST_ERR_NOTFOUND.
 */
enum est_err est_store_reset_ee(struct est_store *st, const char *username,
    const char *code_hash, int64_t uses_left, int64_t valid_until, struct est_error *e);

/* Import an external CA certificate; sets imported_at to now unless it is set.
 * EST_ERR_EXISTS for a taken name. */
enum est_err est_store_put_ext_ca(struct est_store *st, struct est_ext_ca *ca,
    struct est_error *e);

/* Every external CA, by name. */
enum est_err est_store_list_ext_ca(struct est_store *st, est_ext_ca_visit visit, void *arg,
    struct est_error *e);

/*
 * Find the open request with rec's key (alias, operation, spki_sha256,
 * subject, san), or record rec as a new pending request (rec->state and id
 * are ignored; created_at 0 means now). In one transaction, so two retries
 * at once make one request. *out is the stored request: its state says
 * whether to wait, issue or refuse. Caller frees with est_req_rec_free().
 */
enum est_err est_store_hold_request(struct est_store *st, const struct est_req_rec *rec,
    struct est_req_rec **out, struct est_error *e);

/*
 * Only find the open request with rec's key, writing nothing (it does not
 * wait for a writer): *out is NULL when there is none. Caller frees with
 * est_req_rec_free().
 */
enum est_err est_store_find_request(struct est_store *st, const struct est_req_rec *rec,
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

/*
 * How many changes of revocation status of issuer's certificates the store
 * has recorded (0 for none): every revocation, by any program and any path
 * (estadm, revoke-replaced, ...), every release from hold and every hold
 * made final. One indexed read: a server compares it with its CRL's
 * revision before serving revocation status.
 */
enum est_err est_store_revocation_revision(struct est_store *st, const char *issuer,
    int64_t *rev, struct est_error *e);

/* issuer's current CRL. EST_ERR_NOTFOUND when none was made yet. Caller frees. */
enum est_err est_store_get_crl(struct est_store *st, const char *issuer,
    struct est_crl_rec **out, struct est_error *e);

/*
 * Make rec issuer's current CRL, only if rec->crl_number is one more than
 * the stored one's (or 1 when there is none), in one statement: of two
 * writers with the same number one wins, the other gets EST_ERR_EXISTS and
 * reads the winner's. So the CRL number never repeats or goes back.
 */
enum est_err est_store_put_crl(struct est_store *st, const char *issuer,
    const struct est_crl_rec *rec, struct est_error *e);

/* Every CA's current CRL, by issuer. */
enum est_err est_store_list_crls(struct est_store *st, est_crl_visit visit, void *arg,
    struct est_error *e);

/*
 * Write every record of the store to out, one JSON object a line (format in
 * docs/deployment.md): external CAs, end entities (codes as their stored
 * hashes), certificates with their revocations (linked to their end entity
 * by username), requests held for approval, CRLs. Database row ids are left
 * out, so exports of the same records from any backend are equal.
 */
enum est_err est_store_export(struct est_store *st, FILE *out, struct est_error *e);

/*
 * Add the records of an export (read from in; `name` for messages) to st,
 * which must hold no certificate, end entity, request or external CA yet
 * (EST_ERR_EXISTS). A line that is not a record of the export format is
 * EST_ERR_BADREQ naming its line. In one transaction: after a failure the
 * store holds nothing of the export, and the import may be run again.
 */
enum est_err est_store_import(struct est_store *st, FILE *in, const char *name,
    struct est_error *e);

/* The schema version the database is at (after migration). */
enum est_err est_store_schema_version(struct est_store *st, int *version, struct est_error *e);

/*
 * The grouped store writer: the records of an enrolment -- its certificate
 * and what est_store_put_issued does with it (the use of the end entity's
 * enrolment code it spends, the certificate it replaces revoked, the end
 * entity's limit) -- are queued to one writer thread with its own store
 * handle, which commits whatever has queued up in one transaction
 * (synchronous=FULL on SQLite: one fsync for the group), then reports every
 * write of the group. Each write is all or nothing within its group, as
 * est_store_put_issued is alone. A submitting thread never waits for the
 * disk: it hears back through the write's done callback. On PostgreSQL the
 * same shape is one transaction per group.
 */
struct est_write {
	/* in: set by the submitter, left alone until done runs */
	struct est_cert_rec *rec;       /* the certificate; rec->id is set on success */
	const struct est_issue_record *how; /* what goes with it (as est_store_put_issued) */
	const struct est_req_rec *hold; /* instead of rec and how: hold this request for
	                                 * approval (as est_store_hold_request) */
	void (*done)(struct est_write *w); /* called once, from the writer's thread, after
	                                 * the group is durable (or has failed) */
	void *arg;                      /* the submitter's */
	void *durable_arg;              /* for the writer's on_durable hook; NULL: none */
	/* out: valid when done runs */
	enum est_err rc;                /* EST_OK: the records are durable; otherwise as
	                                 * est_store_put_issued */
	struct est_error err;
	struct est_req_rec *held;       /* with hold, when rc is EST_OK: the stored
	                                 * request (the submitter frees it) */
	/* the writer's */
	struct est_req_rec hold_key;    /* hold with its defaults filled in */
	struct est_write *next;
};

struct est_store_writer;

/*
 * Open a store handle by uri for a new writer thread and start it; a group
 * holds at most max_group writes. Stop and free with est_store_writer_stop().
 */
enum est_err est_store_writer_start(const char *uri, size_t max_group,
    struct est_store_writer **out, struct est_error *e);

/*
 * Queue w (borrowed until w->done runs). Thread-safe; takes a mutex for a
 * moment, never waits for the disk. After est_store_writer_stop has begun,
 * w fails at once with EST_ERR_UNAVAILABLE, and an incomplete one (as
 * est_store_put_issued checks) with EST_ERR_INTERNAL (done runs in this
 * thread then).
 */
void est_store_writer_submit(struct est_store_writer *w, struct est_write *job);

/* Write what is queued, stop the thread, close its handle, free w (NULL: nothing). */
void est_store_writer_stop(struct est_store_writer *w);

/*
 * How long a group waits for more writes once writes have queued while the
 * previous group was being committed (several clients at once): until
 * max_group are queued or nanoseconds pass. 1 ms unless set; 0 never waits.
 * A write that finds no commit running is never held. Set it before the
 * first submit.
 */
void est_store_writer_gather(struct est_store_writer *w, long nanoseconds);

/*
 * Have fn called from the writer's thread after each group, with the time
 * its transaction took (begin to commit, seconds) and its number of writes.
 * Set it before the first submit; fn must be thread-safe.
 */
void est_store_writer_on_commit(struct est_store_writer *w,
    void (*fn)(double seconds, unsigned writes));

/*
 * Have fn called from the writer's thread with each group once its
 * transaction has ended, before any of its writes is reported: group lists
 * them in order (linked by next), each with its outcome. For work that
 * must follow a write's commit and precede its answer, done once per group
 * (estd's audit entries): fn may fail a write that succeeded (set its rc
 * and err), whose record stays and whose submitter is told of the failure.
 * Set it before the first submit.
 */
void est_store_writer_on_durable(struct est_store_writer *w,
    void (*fn)(void *arg, struct est_write *group), void *arg);

/* Groups committed and writes done so far (for tests and metrics). */
void est_store_writer_stats(struct est_store_writer *w, uint64_t *groups, uint64_t *writes);

#ifdef __cplusplus
}
#endif

#endif
