/*
 * The issuance policy: who may get which name (DESIGN.md, "policy").
 *
 * Authentication says who the client is; this file alone says what that
 * principal may have certified, and returns it complete (subject, SAN, key,
 * profile, end entity, what the renewal replaces), so that approval shows
 * and the CA signs exactly the same thing. The rules, by principal:
 *
 *   end entity      the DN and SAN it was registered with
 *   vendor          the same; with ChangeSubjectName (where the alias allows
 *                   it) the CSR's subject, which must be the one registered
 *                   to that end entity, and SAN, under the name rules
 *   certificate     only its own subject and SAN (Dogtag's
 *                   enrollMatchTLSSubjSAN): a device cannot take names
 *   RA certificate  the CSR's names, under the name rules (RFC 7030 §3.7),
 *                   on the alias it was issued for (elsewhere: certificate)
 *   HTTP user       the CSR's names, under the name rules
 *   renewal         the renewed certificate's names, in its renew window
 *
 * Names registered to an end entity are obtained only through it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509v3.h>

#include "estkit/codec.h"
#include "server/policy.h"

static const char *const principal_names[PRINCIPAL__MAX] = {
	[PRINCIPAL_USER] = "HTTP user",
	[PRINCIPAL_EE] = "end entity",
	[PRINCIPAL_CERT] = "client certificate",
	[PRINCIPAL_VENDOR] = "vendor certificate",
	[PRINCIPAL_RA] = "RA certificate",
};

const char *
policy_principal_name(enum policy_principal_kind k)
{
	return (unsigned)k < PRINCIPAL__MAX ? principal_names[k] : "?";
}

bool
policy_same_principal(const char *a, const char *b)
{
	char na[256], nb[256];

	return strcmp(a, b) == 0 || (est_principal_normalise(a, na, sizeof(na)) == 0 &&
	    est_principal_normalise(b, nb, sizeof(nb)) == 0 && strcmp(na, nb) == 0);
}

void
policy_decision_clear(struct policy_decision *d)
{
	X509_NAME_free(d->subject);
	GENERAL_NAMES_free(d->san);
	free(d->replaces_issuer);
	free(d->replaces_serial);
	memset(d, 0, sizeof(*d));
}

bool
policy_is_ra_cert(X509 *cert)
{
	EXTENDED_KEY_USAGE *eku;
	bool ra = false;

	if (cert == NULL ||
	    (eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL)) == NULL)
		return false;
	for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
		ra |= OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_cmcRA;
	EXTENDED_KEY_USAGE_free(eku);
	return ra;
}

/* ---- pieces ---- */

static enum est_err
oom(struct est_error *e)
{
	return est_fail(e, EST_ERR_NOMEM, "out of memory");
}

/* The CSR's subject, and its SAN when the profile copies it (else none). */
static enum est_err
csr_names(const struct policy_input *in, struct policy_decision *d, struct est_error *e)
{
	enum est_err rc;

	if ((d->subject = X509_NAME_dup(X509_REQ_get_subject_name(in->csr))) == NULL)
		return oom(e);
	if (!d->profile->copy_san)
		return (d->san = GENERAL_NAMES_new()) != NULL ? EST_OK : oom(e);
	if ((rc = est_csr_get_san(in->csr, &d->san, e)) != EST_OK)
		return rc;
	return d->san != NULL || (d->san = GENERAL_NAMES_new()) != NULL ? EST_OK : oom(e);
}

static enum est_err
registered_names(const struct est_ee *ee, struct policy_decision *d, struct est_error *e)
{
	const unsigned char *p = ee->subject_der;

	if ((d->subject = d2i_X509_NAME(NULL, &p, (long)ee->subject_der_len)) == NULL)
		return est_fail_ssl(e, EST_ERR_STORE, "end entity %s: stored DN cannot be decoded",
		    ee->username);
	p = ee->san_der;
	d->san = ee->san_der != NULL ? d2i_GENERAL_NAMES(NULL, &p, (long)ee->san_der_len) :
	    GENERAL_NAMES_new();
	if (d->san == NULL)
		return est_fail_ssl(e, EST_ERR_STORE, "end entity %s: stored SAN cannot be decoded",
		    ee->username);
	return EST_OK;
}

/* The end entity's own profile, else the alias's. */
static enum est_err
ee_profile(const struct policy_input *in, const struct est_ee *ee, struct policy_decision *d,
    struct est_error *e)
{
	const struct est_profile_conf *pc;

	if (ee == NULL || ee->profile == NULL || ee->profile[0] == '\0')
		return EST_OK;
	if ((pc = est_config_profile(in->cfg, ee->profile)) == NULL)
		return est_fail(e, EST_ERR_CONFIG, "end entity %s names profile %s, which estd.conf "
		    "lacks", ee->username, ee->profile);
	d->profile = &pc->profile;
	return EST_OK;
}

/* Names registered to an end entity go to that end entity only (self: its id, or 0). */
static enum est_err
check_owner(const struct policy_input *in, const struct policy_decision *d, int64_t self,
    struct est_error *e)
{
	char who[80] = "";
	int64_t owner = 0;
	enum est_err rc;

	if (in->owner == NULL)
		return EST_OK;
	if ((rc = in->owner(in->owner_arg, d->subject, d->san, self, &owner, who, sizeof(who),
	    e)) != EST_OK)
		return rc;
	if (owner != 0)
		return est_fail(e, EST_ERR_FORBIDDEN, "the names asked for are registered to end "
		    "entity %s; only it may obtain them", who);
	return EST_OK;
}

/* Names a client chose: the alias's rules, then ownership. */
static enum est_err
chosen_names(const struct policy_input *in, const struct policy_decision *d, int64_t self,
    struct est_error *e)
{
	enum est_err rc = policy_check_names(&in->alias->names, d->subject, d->san, e);

	return rc == EST_OK ? check_owner(in, d, self, e) : rc;
}

/* ---- by principal ---- */

static enum est_err
decide_vendor(const struct policy_input *in, struct policy_decision *d, struct est_error *e)
{
	const struct est_ee *ee = in->who.ee;
	X509_NAME *old = NULL, *registered = NULL;
	bool csn;
	enum est_err rc;

	if ((rc = est_csr_change_subject_name(in->csr, &csn, &old, e)) != EST_OK)
		return rc;
	if (!csn)
		return registered_names(ee, d, e);
	if (!in->alias->allow_change_subject)
		rc = est_fail(e, EST_ERR_FORBIDDEN, "alias %s does not allow ChangeSubjectName; "
		    "request the registered subject", in->alias->name);
	else if (old == NULL)
		rc = est_fail(e, EST_ERR_FORBIDDEN, "ChangeSubjectName names no subject to change "
		    "from; it must name the vendor certificate's");
	else if (!est_name_equal_unordered(old, X509_get_subject_name(in->who.cert)))
		rc = est_fail(e, EST_ERR_FORBIDDEN, "ChangeSubjectName names another subject than "
		    "the vendor certificate's");
	else if ((rc = registered_names(ee, d, e)) == EST_OK) {
		/* The new subject is the one registered to this end entity, in the CSR's order. */
		registered = d->subject;
		d->subject = NULL;
		GENERAL_NAMES_free(d->san);
		d->san = NULL;
		if (!est_name_equal_unordered(registered, X509_REQ_get_subject_name(in->csr)))
			rc = est_fail(e, EST_ERR_FORBIDDEN, "ChangeSubjectName: the new subject is "
			    "not the one registered to end entity %s", ee->username);
		else if ((rc = csr_names(in, d, e)) == EST_OK)
			rc = chosen_names(in, d, ee->id, e);
	}
	X509_NAME_free(old);
	X509_NAME_free(registered);
	return rc;
}

/*
 * A certificate of this CA asks for its own names again (enrollMatchTLSSubjSAN):
 * the CSR's subject and SAN as written must be the certificate's, and the
 * certificate's are issued.
 */
static enum est_err
decide_cert(const struct policy_input *in, struct policy_decision *d, struct est_error *e)
{
	GENERAL_NAMES *own = est_cert_get_san(in->who.cert), *asked = NULL;
	enum est_err rc;

	if ((rc = est_csr_get_san(in->csr, &asked, e)) == EST_OK &&
	    (!est_name_equal_unordered(X509_REQ_get_subject_name(in->csr),
	    X509_get_subject_name(in->who.cert)) || !est_san_equal(own, asked)))
		rc = policy_is_ra_cert(in->who.cert) ?
		    est_fail(e, EST_ERR_FORBIDDEN, "this RA certificate was issued for another "
		    "alias and acts as RA only there; here it may only request its own subject "
		    "and subjectAltName") :
		    est_fail(e, EST_ERR_FORBIDDEN, "a client certificate may only request its "
		    "own subject and subjectAltName; other names need an RA certificate (EKU "
		    "id-kp-cmcRA) or another authentication");
	GENERAL_NAMES_free(asked);
	d->subject = X509_NAME_dup(X509_get_subject_name(in->who.cert));
	d->san = own != NULL ? own : GENERAL_NAMES_new();
	if (rc == EST_OK && (d->subject == NULL || d->san == NULL))
		rc = oom(e);
	d->ee_id = in->who.cert_ee_id;
	return rc;
}

static void
format_time(time_t t, char *out, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, len, "%lld", (long long)t);
}

/* renew-window: renewal opens that many days before the certificate expires. */
static enum est_err
check_window(const struct policy_input *in, X509 *cert, struct est_error *e)
{
	time_t opens;
	struct tm tm;
	char when[40];

	if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
		return est_fail_ssl(e, EST_ERR_BADREQ, "the certificate's notAfter cannot be read");
	opens = timegm(&tm) - (time_t)in->alias->renew_window * 86400;
	if (opens <= in->now)
		return EST_OK;
	format_time(opens, when, sizeof(when));
	return est_fail(e, EST_ERR_FORBIDDEN, "too early to renew: renewal opens %s "
	    "(renew-window = %u days before expiry)", when, in->alias->renew_window);
}

/* §4.2.2 and the alias: same names, no ChangeSubjectName, key, window. */
static enum est_err
check_renewal(const struct policy_input *in, X509 *cert, struct est_error *e)
{
	GENERAL_NAMES *want = est_cert_get_san(cert), *got = NULL;
	X509_NAME *old = NULL;
	char *a = NULL, *b = NULL;
	bool csn;
	enum est_err rc;

	/*
	 * ChangeSubjectName first: with it the names may differ (EST-S-54), and
	 * what refuses them is this policy. Never on renewal: one device must not
	 * take another's identity. The same names in another RDN order are the
	 * same subject (as EJBCA sees it).
	 */
	if ((rc = est_csr_change_subject_name(in->csr, &csn, &old, e)) != EST_OK) {
		;
	} else if (csn) {
		rc = est_fail(e, EST_ERR_FORBIDDEN, "ChangeSubjectName is not honoured on renewal");
	} else if (!est_name_equal_unordered(X509_get_subject_name(cert),
	    X509_REQ_get_subject_name(in->csr))) {
		a = est_name_text(X509_REQ_get_subject_name(in->csr));
		b = est_name_text(X509_get_subject_name(cert));
		rc = est_fail(e, EST_ERR_FORBIDDEN, "CSR subject \"%s\" differs from the "
		    "certificate's \"%s\"", a != NULL ? a : "?", b != NULL ? b : "?");
	} else if ((rc = est_csr_get_san(in->csr, &got, e)) != EST_OK) {
		;
	} else if (!est_san_equal(want, got)) {
		a = est_san_text(got);
		b = est_san_text(want);
		rc = est_fail(e, EST_ERR_FORBIDDEN, "CSR subjectAltName \"%s\" differs from the "
		    "certificate's \"%s\"", a != NULL ? a : "?", b != NULL ? b : "?");
	} else if (!in->alias->renew_same_key &&
	    EVP_PKEY_eq(X509_get0_pubkey(cert), X509_REQ_get0_pubkey(in->csr)) == 1) {
		rc = est_fail(e, EST_ERR_FORBIDDEN, "alias %s does not renew with the same key; "
		    "make a new key and CSR", in->alias->name);
	} else if (in->alias->renew_window > 0) {
		rc = check_window(in, cert, e);
	}
	free(a);
	free(b);
	X509_NAME_free(old);
	GENERAL_NAMES_free(want);
	GENERAL_NAMES_free(got);
	return rc;
}

static enum est_err
decide_renewal(const struct policy_input *in, struct policy_decision *d, struct est_error *e)
{
	X509 *cert = in->renewing;
	enum est_err rc;

	/*
	 * Where it was issued: aliases of one CA differ in profile, approval
	 * and renewal rules, and a renewal elsewhere would take that alias's.
	 */
	if (!in->who.cert_of_alias)
		return est_fail(e, EST_ERR_FORBIDDEN, "this certificate was issued through alias "
		    "%s: renew it there", in->who.cert_alias != NULL ? in->who.cert_alias : "?");
	if ((rc = check_renewal(in, cert, e)) != EST_OK)
		return rc;
	/* The renewed certificate keeps the subject as issued, and its end entity. */
	if ((d->subject = X509_NAME_dup(X509_get_subject_name(cert))) == NULL ||
	    ((d->san = est_cert_get_san(cert)) == NULL && (d->san = GENERAL_NAMES_new()) == NULL))
		return oom(e);
	d->ee_id = in->who.cert_ee_id;
	if (!in->alias->revoke_replaced)
		return EST_OK;
	d->replaces_issuer = est_name_text(X509_get_issuer_name(cert));
	d->replaces_serial = est_serial_text(X509_get0_serialNumber(cert));
	return d->replaces_issuer != NULL && d->replaces_serial != NULL ? EST_OK : oom(e);
}

static enum est_err
decide_names(const struct policy_input *in, struct policy_decision *d, struct est_error *e)
{
	X509_NAME *old = NULL;
	bool csn = false;
	enum est_err rc;

	if (in->op == POLICY_REENROLL)
		return decide_renewal(in, d, e);
	if (in->who.kind != PRINCIPAL_VENDOR) {
		if ((rc = est_csr_change_subject_name(in->csr, &csn, &old, e)) != EST_OK)
			return rc;
		X509_NAME_free(old);
		if (csn)
			return est_fail(e, EST_ERR_FORBIDDEN, "ChangeSubjectName is honoured only for "
			    "vendor certificates, on an alias with allow-change-subject-name = yes");
	}
	switch (in->who.kind) {
	case PRINCIPAL_EE:
		d->ee_id = in->who.ee->id;
		d->spend_code = in->who.ee->code_hash;
		return registered_names(in->who.ee, d, e);
	case PRINCIPAL_VENDOR:
		d->ee_id = in->who.ee->id;
		d->spend_code = in->who.ee->code_hash;
		return decide_vendor(in, d, e);
	case PRINCIPAL_CERT:
		return decide_cert(in, d, e);
	case PRINCIPAL_USER:
	case PRINCIPAL_RA:
		if ((rc = csr_names(in, d, e)) != EST_OK)
			return rc;
		return chosen_names(in, d, 0, e);
	case PRINCIPAL__MAX:
		break;
	}
	return est_fail(e, EST_ERR_INTERNAL, "unknown principal");
}

static bool
key_from_csr(const struct est_alias_conf *a)
{
	return a->server_keygen_key != NULL &&
	    strcasecmp(a->server_keygen_key, EST_KEYGEN_FROM_CSR) == 0;
}

enum est_err
policy_decide(const struct policy_input *in, struct policy_decision *d, struct est_error *e)
{
	EVP_PKEY *key = X509_REQ_get0_pubkey(in->csr);
	enum est_err rc;

	memset(d, 0, sizeof(*d));
	d->profile = in->profile;
	if ((in->op != POLICY_SERVERKEYGEN || key_from_csr(in->alias)) &&
	    (rc = policy_check_key(in->alias, key, e)) != EST_OK)
		return rc;
	/* A certificate of an end entity, on its alias, renews under the entity's profile too. */
	if ((in->who.kind == PRINCIPAL_EE || in->who.kind == PRINCIPAL_VENDOR ||
	    (in->who.kind == PRINCIPAL_CERT && in->who.ee != NULL &&
	    strcmp(in->who.ee->alias, in->alias->name) == 0)) &&
	    (rc = ee_profile(in, in->who.ee, d, e)) != EST_OK)
		goto fail;
	if ((rc = decide_names(in, d, e)) != EST_OK)
		goto fail;
	if (X509_NAME_entry_count(d->subject) == 0 && sk_GENERAL_NAME_num(d->san) == 0) {
		rc = est_fail(e, EST_ERR_BADREQ, "the request has an empty subject and no "
		    "subjectAltName: give at least one name");
		goto fail;
	}
	d->pubkey = in->op == POLICY_SERVERKEYGEN ? NULL : key;
	d->max_active = d->ee_id != 0 ? in->alias->max_active : 0;
	return EST_OK;
fail:
	policy_decision_clear(d);
	return rc;
}
