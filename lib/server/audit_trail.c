/*
 * estd's entries in the audit log (include/estkit/audit.h): one per
 * certificate issued, written after the certificate is committed to the
 * store and before it is sent. An issuance that cannot be audited is not
 * handed out (fail closed): the client gets 503 and retries, the store
 * keeps the record.
 *
 * The entries of one store group are written together, by the store
 * writer's thread once the group's commit returned and before any of its
 * answers is released (est_store_writer_on_durable): one lock of the log
 * and one write per group, not per certificate, which with several clients
 * at once was a twentieth of estd's CPU (six system calls an entry).
 */
#include <stdio.h>
#include <stdlib.h>
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

void
audit_trail_note(struct est_req *r, const struct policy_decision *d,
    const struct est_cert_rec *rec, bool code_spent, struct audit_note *note)
{
	size_t n = 0;

	snprintf(note->who, sizeof(note->who), "%s", r->principal);
	snprintf(note->peer, sizeof(note->peer), "%s", r->peer);
	est_serial_shown(rec->serial, note->serial, sizeof(note->serial));
#define FIELD(k, v) do { note->fields[n++] = (k); note->fields[n++] = (v); } while (0)
	FIELD("serial", note->serial);
	FIELD("subject", rec->subject);
	if (rec->san[0] != '\0')
		FIELD("san", rec->san);
	FIELD("alias", r->alias->conf->name);
	FIELD("profile", d->profile->name);
	FIELD("auth", access_auth_method(r));
	FIELD("peer", note->peer);
	/* What the policy decided beyond the names: see docs/logs.md. */
	if (code_spent)
		FIELD("code", "spent");
	if (d->replaces_serial != NULL)
		FIELD("revoked-replaced",
		    est_serial_shown(d->replaces_serial, note->replaced, sizeof(note->replaced)));
	if (d->max_active > 0) {
		snprintf(note->max_active, sizeof(note->max_active), "%u", d->max_active);
		FIELD("max-active", note->max_active);
	}
#undef FIELD
	note->entry = (struct est_audit_entry){ .who = note->who, .what = action_of(r->op),
	    .fields = note->fields, .n = n / 2 };
}

/* A write of the group whose certificate is stored and has an entry to write. */
static bool
to_audit(const struct est_write *j)
{
	return j->rc == EST_OK && j->durable_arg != NULL;
}

void
audit_trail_durable(void *arg, struct est_write *group)
{
	struct est_server *srv = arg;
	struct est_audit_entry *entries;
	struct est_error ae = { 0 };
	struct est_write *j;
	size_t n = 0;

	for (j = group; j != NULL; j = j->next)
		n += to_audit(j);
	if (n == 0)
		return;
	if ((entries = calloc(n, sizeof(*entries))) == NULL)
		est_fail(&ae, EST_ERR_NOMEM, "out of memory");
	for (n = 0, j = group; entries != NULL && j != NULL; j = j->next)
		if (to_audit(j))
			entries[n++] = ((struct audit_note *)j->durable_arg)->entry;
	if (entries != NULL && est_audit_append_many(srv->audit, entries, n, &ae) == EST_OK) {
		free(entries);
		return;
	}
	free(entries);
	for (j = group; j != NULL; j = j->next) {
		if (!to_audit(j))
			continue;
		log_error("serial %s issued and stored but not handed out: %s",
		    ((struct audit_note *)j->durable_arg)->serial, ae.msg);
		j->rc = est_fail(&j->err, EST_ERR_UNAVAILABLE, "the server cannot record this "
		    "enrolment now; try again later");
	}
}
