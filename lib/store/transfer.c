/*
 * Moving a deployment between stores (est_store_export, est_store_import):
 * every record as one JSON object a line, built on the backend-neutral
 * interface only, so that it moves SQLite to PostgreSQL and back.
 *
 * Format: a first line {"format":"estkit-store-export","version":1}, then
 * records in the order they can be added back: "external_ca",
 * "end_entity", "certificate" (its end entity named by username, since row
 * ids differ between stores), "request", "crl". Binary fields are base64;
 * keys are sorted, so two exports of the same records are equal byte for
 * byte. Enrolment codes travel as the hashes the store holds.
 *
 * Import trusts nothing in the file: every field is checked for its type
 * and presence, and a line that is not a record stops the import, naming
 * the line. It is one transaction (the store's bulk one): a failure leaves
 * the store as empty as it was, and no record waits for its own fsync (one
 * each made 20,000 certificates take 22 s into SQLite).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "estkit/codec.h"
#include "estkit/store.h"

#define FORMAT "estkit-store-export"
#define VERSION 1

/* ---- export ---- */

struct ee_name {
	int64_t id;
	char *username;
};

struct exporter {
	FILE *out;
	struct ee_name *ees;            /* id -> username, for the certificates */
	size_t n_ees, cap_ees;
	enum est_err rc;
	struct est_error *e;
};

/* Set key to the base64 of b (JSON null for none); -1 when out of memory. */
static int
set_b64(json_t *o, const char *key, const unsigned char *b, size_t n)
{
	struct est_error ignored = { 0 };
	char *text = NULL;
	size_t len;
	int rc;

	if (b == NULL)
		return json_object_set_new(o, key, json_null());
	if (est_b64_encode(b, n, false, &text, &len, &ignored) != EST_OK)
		return -1;
	rc = json_object_set_new(o, key, json_string(text));
	free(text);
	return rc;
}

/* Write o as one line and free it; non-zero (and x->rc set) on failure. */
static int
emit(struct exporter *x, json_t *o, int built)
{
	char *line = NULL;

	if (built == 0 && o != NULL)
		line = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (line == NULL) {
		x->rc = est_fail(x->e, EST_ERR_NOMEM, "out of memory exporting the store");
		return 1;
	}
	if (fputs(line, x->out) == EOF || fputc('\n', x->out) == EOF)
		x->rc = est_fail(x->e, EST_ERR_IO, "cannot write the export");
	free(line);
	return x->rc != EST_OK;
}

static int
export_ext_ca(const struct est_ext_ca *ca, void *arg)
{
	json_t *o = json_object();
	int bad = o == NULL;

	bad = bad || json_object_set_new(o, "type", json_string("external_ca")) ||
	    json_object_set_new(o, "name", json_string(ca->name)) ||
	    json_object_set_new(o, "subject", json_string(ca->subject)) ||
	    set_b64(o, "der", ca->der, ca->der_len) ||
	    json_object_set_new(o, "imported_at", json_integer(ca->imported_at));
	return emit(arg, o, bad);
}

static int
export_ee(const struct est_ee *ee, void *arg)
{
	struct exporter *x = arg;
	json_t *o = json_object();
	int bad = o == NULL;

	if (x->n_ees == x->cap_ees) {
		size_t cap = x->cap_ees != 0 ? 2 * x->cap_ees : 64;
		struct ee_name *n = realloc(x->ees, cap * sizeof(*n));

		if (n == NULL)
			bad = 1;
		else {
			x->ees = n;
			x->cap_ees = cap;
		}
	}
	if (!bad && (x->ees[x->n_ees].username = strdup(ee->username)) != NULL)
		x->ees[x->n_ees++].id = ee->id;
	else
		bad = 1;
	bad = bad || json_object_set_new(o, "type", json_string("end_entity")) ||
	    json_object_set_new(o, "username", json_string(ee->username)) ||
	    json_object_set_new(o, "subject", json_string(ee->subject)) ||
	    set_b64(o, "subject_der", ee->subject_der, ee->subject_der_len) ||
	    json_object_set_new(o, "san", json_string(ee->san)) ||
	    set_b64(o, "san_der", ee->san_der, ee->san_der_len) ||
	    json_object_set_new(o, "alias", json_string(ee->alias)) ||
	    json_object_set_new(o, "profile", json_string(ee->profile)) ||
	    json_object_set_new(o, "code_hash", json_string(ee->code_hash)) ||
	    json_object_set_new(o, "uses_left", json_integer(ee->uses_left)) ||
	    json_object_set_new(o, "valid_until", json_integer(ee->valid_until)) ||
	    json_object_set_new(o, "created_at", json_integer(ee->created_at)) ||
	    json_object_set_new(o, "last_used", json_integer(ee->last_used));
	return emit(x, o, bad);
}

static const char *
ee_username(const struct exporter *x, int64_t id)
{
	for (size_t i = 0; i < x->n_ees; i++)
		if (x->ees[i].id == id)
			return x->ees[i].username;
	return NULL;
}

static int
export_cert(const struct est_cert_rec *r, void *arg)
{
	struct exporter *x = arg;
	const char *ee = r->ee_id > 0 ? ee_username(x, r->ee_id) : NULL;
	json_t *o = json_object();
	int bad = o == NULL;

	bad = bad || json_object_set_new(o, "type", json_string("certificate")) ||
	    json_object_set_new(o, "issuer", json_string(r->issuer)) ||
	    json_object_set_new(o, "serial", json_string(r->serial)) ||
	    json_object_set_new(o, "subject", json_string(r->subject)) ||
	    json_object_set_new(o, "san", json_string(r->san)) ||
	    json_object_set_new(o, "spki_sha256", json_string(r->spki_sha256)) ||
	    json_object_set_new(o, "not_before", json_integer(r->not_before)) ||
	    json_object_set_new(o, "not_after", json_integer(r->not_after)) ||
	    json_object_set_new(o, "issued_at", json_integer(r->issued_at)) ||
	    json_object_set_new(o, "status", json_string(est_cert_status_name(r->status))) ||
	    json_object_set_new(o, "revoked_at", json_integer(r->revoked_at)) ||
	    json_object_set_new(o, "revocation_reason", json_integer(r->revocation_reason)) ||
	    json_object_set_new(o, "principal", json_string(r->principal)) ||
	    json_object_set_new(o, "alias", json_string(r->alias)) ||
	    json_object_set_new(o, "end_entity", ee != NULL ? json_string(ee) : json_null()) ||
	    set_b64(o, "der", r->der, r->der_len);
	return emit(x, o, bad);
}

static int
export_req(const struct est_req_rec *r, void *arg)
{
	json_t *o = json_object();
	int bad = o == NULL;

	bad = bad || json_object_set_new(o, "type", json_string("request")) ||
	    json_object_set_new(o, "alias", json_string(r->alias)) ||
	    json_object_set_new(o, "operation", json_string(r->operation)) ||
	    json_object_set_new(o, "spki_sha256", json_string(r->spki_sha256)) ||
	    json_object_set_new(o, "subject", json_string(r->subject)) ||
	    json_object_set_new(o, "san", json_string(r->san)) ||
	    json_object_set_new(o, "principal", json_string(r->principal)) ||
	    json_object_set_new(o, "state", json_string(est_req_state_name(r->state))) ||
	    json_object_set_new(o, "created_at", json_integer(r->created_at)) ||
	    json_object_set_new(o, "decided_at", json_integer(r->decided_at));
	return emit(arg, o, bad);
}

static int
export_crl(const char *issuer, const struct est_crl_rec *r, void *arg)
{
	json_t *o = json_object();
	int bad = o == NULL;

	bad = bad || json_object_set_new(o, "type", json_string("crl")) ||
	    json_object_set_new(o, "issuer", json_string(issuer)) ||
	    json_object_set_new(o, "crl_number", json_integer(r->crl_number)) ||
	    json_object_set_new(o, "revision", json_integer(r->revision)) ||
	    json_object_set_new(o, "this_update", json_integer(r->this_update)) ||
	    json_object_set_new(o, "next_update", json_integer(r->next_update)) ||
	    set_b64(o, "der", r->der, r->der_len);
	return emit(arg, o, bad);
}

enum est_err
est_store_export(struct est_store *st, FILE *out, struct est_error *e)
{
	struct exporter x = { .out = out, .rc = EST_OK, .e = e };
	json_t *head = json_pack("{s:s, s:i}", "format", FORMAT, "version", VERSION);
	enum est_err rc;

	emit(&x, head, head == NULL);
	rc = x.rc;
	if (rc == EST_OK)
		rc = est_store_list_ext_ca(st, export_ext_ca, &x, e);
	if (rc == EST_OK && (rc = x.rc) == EST_OK)
		rc = est_store_list_ee(st, export_ee, &x, e);
	if (rc == EST_OK && (rc = x.rc) == EST_OK)
		rc = est_store_list_certs(st, NULL, export_cert, &x, e);
	if (rc == EST_OK && (rc = x.rc) == EST_OK)
		rc = est_store_list_requests(st, false, export_req, &x, e);
	if (rc == EST_OK && (rc = x.rc) == EST_OK)
		rc = est_store_list_crls(st, export_crl, &x, e);
	if (rc == EST_OK)
		rc = x.rc;
	if (rc == EST_OK && fflush(out) != 0)
		rc = est_fail(e, EST_ERR_IO, "cannot write the export");
	for (size_t i = 0; i < x.n_ees; i++)
		free(x.ees[i].username);
	free(x.ees);
	return rc;
}

/* ---- import ---- */

struct importer {
	struct est_store *st;
	const char *name;
	unsigned long line;
	struct est_error *e;
};

static enum est_err
bad_line(struct importer *im, const char *what)
{
	return est_fail(im->e, EST_ERR_BADREQ, "%s:%lu: %s", im->name, im->line, what);
}

/* Field key of o as a string; NULL (and *rc set) when missing or not one. */
static const char *
str(struct importer *im, json_t *o, const char *key, enum est_err *rc)
{
	const char *s = json_string_value(json_object_get(o, key));
	char what[96];

	if (s == NULL && *rc == EST_OK) {
		snprintf(what, sizeof(what), "\"%s\" is missing or not a string", key);
		*rc = bad_line(im, what);
	}
	return s;
}

static int64_t
num(struct importer *im, json_t *o, const char *key, enum est_err *rc)
{
	json_t *v = json_object_get(o, key);
	char what[96];

	if (!json_is_integer(v)) {
		if (*rc == EST_OK) {
			snprintf(what, sizeof(what), "\"%s\" is missing or not a whole number", key);
			*rc = bad_line(im, what);
		}
		return 0;
	}
	return (int64_t)json_integer_value(v);
}

/* Field key as decoded base64; JSON null is *out NULL when nullable. */
static void
blob(struct importer *im, json_t *o, const char *key, bool nullable, unsigned char **out,
    size_t *len, enum est_err *rc)
{
	json_t *v = json_object_get(o, key);
	struct est_error ignored = { 0 };
	char what[96];

	*out = NULL;
	*len = 0;
	if (*rc != EST_OK || (nullable && json_is_null(v)))
		return;
	if (!json_is_string(v) || est_b64_decode(json_string_value(v), json_string_length(v), out,
	    len, &ignored) != EST_OK || *len == 0) {
		free(*out);
		*out = NULL;
		snprintf(what, sizeof(what), "\"%s\" is missing or not base64", key);
		*rc = bad_line(im, what);
	}
}

static enum est_err
import_ext_ca(struct importer *im, json_t *o)
{
	struct est_ext_ca ca = { 0 };
	enum est_err rc = EST_OK;

	ca.name = (char *)str(im, o, "name", &rc);
	ca.subject = (char *)str(im, o, "subject", &rc);
	ca.imported_at = num(im, o, "imported_at", &rc);
	blob(im, o, "der", false, &ca.der, &ca.der_len, &rc);
	if (rc == EST_OK)
		rc = est_store_put_ext_ca(im->st, &ca, im->e);
	free(ca.der);
	return rc;
}

static enum est_err
import_ee(struct importer *im, json_t *o)
{
	struct est_ee ee = { 0 };
	enum est_err rc = EST_OK;

	ee.username = (char *)str(im, o, "username", &rc);
	ee.subject = (char *)str(im, o, "subject", &rc);
	ee.san = (char *)str(im, o, "san", &rc);
	ee.alias = (char *)str(im, o, "alias", &rc);
	ee.profile = (char *)str(im, o, "profile", &rc);
	ee.code_hash = (char *)str(im, o, "code_hash", &rc);
	ee.uses_left = num(im, o, "uses_left", &rc);
	ee.valid_until = num(im, o, "valid_until", &rc);
	ee.created_at = num(im, o, "created_at", &rc);
	ee.last_used = num(im, o, "last_used", &rc);
	blob(im, o, "subject_der", false, &ee.subject_der, &ee.subject_der_len, &rc);
	blob(im, o, "san_der", true, &ee.san_der, &ee.san_der_len, &rc);
	if (rc == EST_OK && (ee.uses_left < -1 || ee.valid_until < 0))
		rc = bad_line(im, "uses_left or valid_until out of range");
	if (rc == EST_OK)
		rc = est_store_put_ee(im->st, &ee, im->e);
	free(ee.subject_der);
	free(ee.san_der);
	return rc;
}

/*
 * Whether the record's issuer and serial are those of its certificate, in
 * the text forms every look-up uses: OCSP, CRLs and renewals find a
 * certificate by them, so one spelt otherwise would be answered unknown, or
 * stop its CA's CRL from being made.
 */
static bool
matches_der(const struct est_cert_rec *r)
{
	const unsigned char *p = r->der;
	X509 *x = d2i_X509(NULL, &p, (long)r->der_len);
	char *issuer = NULL, *serial = NULL;
	bool ok;

	ok = x != NULL && p == r->der + r->der_len &&
	    (issuer = est_name_text(X509_get_issuer_name(x))) != NULL &&
	    (serial = est_serial_text(X509_get0_serialNumber(x))) != NULL &&
	    strcmp(issuer, r->issuer) == 0 && strcmp(serial, r->serial) == 0;
	ERR_clear_error();
	free(issuer);
	free(serial);
	X509_free(x);
	return ok;
}

static enum est_err
import_cert(struct importer *im, json_t *o)
{
	struct est_cert_rec r = { 0 };
	struct est_ee *ee = NULL;
	const char *status, *spki, *owner;
	enum est_err rc = EST_OK;

	r.issuer = (char *)str(im, o, "issuer", &rc);
	r.serial = (char *)str(im, o, "serial", &rc);
	r.subject = (char *)str(im, o, "subject", &rc);
	r.san = (char *)str(im, o, "san", &rc);
	r.principal = (char *)str(im, o, "principal", &rc);
	r.alias = (char *)str(im, o, "alias", &rc);
	spki = str(im, o, "spki_sha256", &rc);
	status = str(im, o, "status", &rc);
	r.not_before = num(im, o, "not_before", &rc);
	r.not_after = num(im, o, "not_after", &rc);
	r.issued_at = num(im, o, "issued_at", &rc);
	r.revoked_at = num(im, o, "revoked_at", &rc);
	r.revocation_reason = (int)num(im, o, "revocation_reason", &rc);
	blob(im, o, "der", false, &r.der, &r.der_len, &rc);
	owner = json_string_value(json_object_get(o, "end_entity"));
	if (rc == EST_OK && (strlen(spki) != 64 || (strcmp(status, "valid") != 0 &&
	    strcmp(status, "revoked") != 0)))
		rc = bad_line(im, "a certificate with a bad spki_sha256 or status");
	if (rc == EST_OK) {
		memcpy(r.spki_sha256, spki, 65);
		r.status = strcmp(status, "revoked") == 0 ? EST_CERT_REVOKED : EST_CERT_VALID;
		if (r.status == EST_CERT_REVOKED && est_revoke_reason_name(r.revocation_reason) == NULL)
			rc = bad_line(im, "a revoked certificate without an RFC 5280 reason");
	}
	if (rc == EST_OK && !matches_der(&r))
		rc = bad_line(im, "a certificate whose issuer or serial is not that of its DER (as "
		    "est_name_text and est_serial_text write them)");
	if (rc == EST_OK && owner != NULL && (rc = est_store_get_ee(im->st, owner, &ee, im->e)) ==
	    EST_ERR_NOTFOUND)
		rc = bad_line(im, "a certificate of an end entity not imported before it");
	if (rc == EST_OK) {
		r.ee_id = ee != NULL ? ee->id : 0;
		rc = est_store_put_cert(im->st, &r, im->e);
	}
	est_ee_free(ee);
	free(r.der);
	return rc;
}

/* A held request, then the moves that bring it to its exported state. */
static enum est_err
import_req(struct importer *im, json_t *o)
{
	struct est_req_rec r = { 0 }, *held = NULL;
	const char *spki, *state;
	enum est_err rc = EST_OK;
	int64_t decided;

	r.alias = (char *)str(im, o, "alias", &rc);
	r.operation = (char *)str(im, o, "operation", &rc);
	r.subject = (char *)str(im, o, "subject", &rc);
	r.san = (char *)str(im, o, "san", &rc);
	r.principal = (char *)str(im, o, "principal", &rc);
	spki = str(im, o, "spki_sha256", &rc);
	state = str(im, o, "state", &rc);
	r.created_at = num(im, o, "created_at", &rc);
	decided = num(im, o, "decided_at", &rc);
	if (rc == EST_OK && strlen(spki) != 64)
		rc = bad_line(im, "a request with a bad spki_sha256");
	if (rc != EST_OK)
		return rc;
	memcpy(r.spki_sha256, spki, 65);
	for (r.state = 0; r.state < EST_REQ_STATE__MAX; r.state++)
		if (strcmp(state, est_req_state_name(r.state)) == 0)
			break;
	if (r.state == EST_REQ_STATE__MAX)
		return bad_line(im, "a request in an unknown state");
	if ((rc = est_store_hold_request(im->st, &r, &held, im->e)) != EST_OK)
		return rc;
	if (held->state != EST_REQ_PENDING)
		rc = bad_line(im, "a second open request with the same key");
	else if (r.state == EST_REQ_REJECTED)
		rc = est_store_set_request_state(im->st, held->id, EST_REQ_PENDING, r.state, decided,
		    im->e);
	else if (r.state == EST_REQ_APPROVED || (r.state == EST_REQ_ISSUED && decided != 0)) {
		rc = est_store_set_request_state(im->st, held->id, EST_REQ_PENDING,
		    EST_REQ_APPROVED, decided, im->e);
		if (rc == EST_OK && r.state == EST_REQ_ISSUED)
			rc = est_store_set_request_state(im->st, held->id, EST_REQ_APPROVED,
			    EST_REQ_ISSUED, decided, im->e);
	} else if (r.state == EST_REQ_ISSUED)
		rc = est_store_set_request_state(im->st, held->id, EST_REQ_PENDING, EST_REQ_ISSUED,
		    0, im->e);
	est_req_rec_free(held);
	return rc;
}

static enum est_err
import_crl(struct importer *im, json_t *o)
{
	struct est_crl_rec r = { 0 };
	const char *issuer;
	enum est_err rc = EST_OK;

	issuer = str(im, o, "issuer", &rc);
	r.crl_number = num(im, o, "crl_number", &rc);
	r.revision = num(im, o, "revision", &rc);
	r.this_update = num(im, o, "this_update", &rc);
	r.next_update = num(im, o, "next_update", &rc);
	blob(im, o, "der", false, &r.der, &r.der_len, &rc);
	if (rc == EST_OK && r.crl_number < 1)
		rc = bad_line(im, "a CRL number below 1");
	if (rc == EST_OK)
		rc = est_store_put_crl(im->st, issuer, &r, im->e);
	free(r.der);
	return rc;
}

static const struct {
	const char *type;
	enum est_err (*add)(struct importer *, json_t *);
} kinds[] = {
	{ "external_ca", import_ext_ca },
	{ "end_entity", import_ee },
	{ "certificate", import_cert },
	{ "request", import_req },
	{ "crl", import_crl },
};

static enum est_err
import_line(struct importer *im, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *o;
	const char *type, *format;
	enum est_err rc;

	if ((o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL ||
	    !json_is_object(o)) {
		json_decref(o);
		return bad_line(im, "not a JSON object");
	}
	if (im->line == 1) {
		format = json_string_value(json_object_get(o, "format"));
		if (format == NULL || strcmp(format, FORMAT) != 0 ||
		    json_integer_value(json_object_get(o, "version")) != VERSION)
			rc = bad_line(im, "not an estkit store export (version 1)");
		else
			rc = EST_OK;
		json_decref(o);
		return rc;
	}
	type = json_string_value(json_object_get(o, "type"));
	rc = bad_line(im, "no known \"type\"");
	for (size_t i = 0; type != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(type, kinds[i].type) == 0)
			rc = kinds[i].add(im, o);
	json_decref(o);
	return rc;
}

static int
stop_at_first(const void *rec, void *arg)
{
	(void)rec;
	*(bool *)arg = true;
	return 1;
}

static int
any_cert(const struct est_cert_rec *r, void *arg)
{
	return stop_at_first(r, arg);
}

static int
any_ee(const struct est_ee *ee, void *arg)
{
	return stop_at_first(ee, arg);
}

static int
any_req(const struct est_req_rec *r, void *arg)
{
	return stop_at_first(r, arg);
}

static int
any_ca(const struct est_ext_ca *ca, void *arg)
{
	return stop_at_first(ca, arg);
}

static int
any_crl(const char *issuer, const struct est_crl_rec *crl, void *arg)
{
	(void)issuer;
	return stop_at_first(crl, arg);
}

/*
 * An import goes into a store without records, so that nothing is mixed or
 * doubled. A CRL counts: one made meanwhile (an estd started on the new
 * store makes one at once) would refuse the exported CRL's number only at
 * the end, with every other record in, and CRL numbers would start again
 * below the ones relying parties have seen.
 */
static enum est_err
check_empty(struct est_store *st, struct est_error *e)
{
	struct est_cert_filter one = { .limit = 1 };
	bool found = false, crl = false;
	enum est_err rc;

	if ((rc = est_store_list_certs(st, &one, any_cert, &found, e)) != EST_OK ||
	    (rc = est_store_list_ee(st, any_ee, &found, e)) != EST_OK ||
	    (rc = est_store_list_requests(st, false, any_req, &found, e)) != EST_OK ||
	    (rc = est_store_list_ext_ca(st, any_ca, &found, e)) != EST_OK ||
	    (rc = est_store_list_crls(st, any_crl, &crl, e)) != EST_OK)
		return rc;
	if (found || crl)
		return est_fail(e, EST_ERR_EXISTS, "the store holds records already%s; import into "
		    "a new one (estadm db create), and start no estd on it before the import",
		    !found ? " (a CRL, made since the store was created)" : "");
	return EST_OK;
}

enum est_err
est_store_import(struct est_store *st, FILE *in, const char *name, struct est_error *e)
{
	struct importer im = { .st = st, .name = name != NULL ? name : "import", .e = e };
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	enum est_err rc;

	/* All or nothing: a failed import leaves the store empty, to be run again. */
	if ((rc = st->ops->bulk_begin(st, e)) != EST_OK)
		return rc;
	rc = check_empty(st, e);
	while (rc == EST_OK && (n = getline(&line, &cap, in)) > 0) {
		im.line++;
		if (n > 0 && line[n - 1] == '\n')
			n--;
		rc = import_line(&im, line, (size_t)n);
	}
	if (rc == EST_OK && ferror(in))
		rc = est_fail(e, EST_ERR_IO, "%s: cannot read the export", im.name);
	if (rc == EST_OK && im.line == 0)
		rc = est_fail(e, EST_ERR_BADREQ, "%s: empty, not an estkit store export", im.name);
	if (rc == EST_OK)
		rc = st->ops->bulk_commit(st, e);
	else
		st->ops->bulk_rollback(st);
	free(line);
	return rc;
}
