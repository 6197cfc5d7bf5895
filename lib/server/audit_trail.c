/*
 * estd's entries in the audit log (include/estkit/audit.h): one per
 * certificate issued, written after the certificate is committed to the
 * store and before it is sent. An issuance that cannot be audited is not
 * handed out (fail closed): the client gets 503 and retries, the store
 * keeps the record.
 */
#include <stdio.h>
#include <string.h>

#include "estkit/audit.h"
#include "estkit/codec.h"
#include "estkit/log.h"
#include "server/server_int.h"

enum est_err
audit_trail_open(struct est_server *srv, struct est_error *e)
{
	if (srv->cfg->audit_log_path == NULL)
		return EST_OK;
	return est_audit_open(srv->cfg->audit_log_path, &srv->audit, e);
}

static const char *
action_of(const char *op)
{
	if (strcmp(op, "simplereenroll") == 0)
		return "renew";
	if (strcmp(op, "serverkeygen") == 0)
		return "serverkeygen";
	return "issue";
}

enum est_err
audit_trail_issued(struct est_req *r, const struct policy_decision *d,
    const struct est_cert_rec *rec, struct est_error *e)
{
	struct est_server *srv = r->worker->srv;
	char max_active[16], replaced[EST_SERIAL_SHOWN_MAX];
	const char *fields[2 * 10];
	size_t n = 0;
	struct est_error ae = { 0 };

	if (srv->audit == NULL)
		return EST_OK;
#define FIELD(k, v) do { fields[n++] = (k); fields[n++] = (v); } while (0)
	FIELD("serial", r->serial);
	FIELD("subject", rec->subject);
	if (rec->san[0] != '\0')
		FIELD("san", rec->san);
	FIELD("alias", r->alias->conf->name);
	FIELD("profile", d->profile->name);
	FIELD("auth", access_auth_method(r));
	FIELD("peer", r->peer);
	/* What the policy decided beyond the names: see docs/logs.md. */
	if (d->spend_code != NULL)
		FIELD("code", "spent");
	if (d->replaces_serial != NULL)
		FIELD("revoked-replaced",
		    est_serial_shown(d->replaces_serial, replaced, sizeof(replaced)));
	if (d->max_active > 0) {
		snprintf(max_active, sizeof(max_active), "%u", d->max_active);
		FIELD("max-active", max_active);
	}
#undef FIELD
	if (est_audit_append(srv->audit, r->principal, action_of(r->op), fields, n / 2,
	    &ae) != EST_OK) {
		log_error("serial %s issued and stored but not handed out: %s", r->serial, ae.msg);
		return est_fail(e, EST_ERR_UNAVAILABLE, "the server cannot record this enrolment "
		    "now; try again later");
	}
	return EST_OK;
}
