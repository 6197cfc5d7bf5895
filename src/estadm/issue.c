/*
 * Issuing a certificate from an alias's CA into PREFIX.key and PREFIX.pem,
 * for estadm cert ra and cert tls. The CA is the one estd issues from for
 * that alias now (after a rollover's issue-from, the successor), with its
 * revocation URLs, so the certificate looks like one estd issues; it is
 * recorded in the store like every certificate the CA signs, so it is
 * listed, can be revoked and shows in the CRL and OCSP.
 *
 * Record and files stand or fall together: both files are written to
 * temporary names beside their targets first, the record is made, and
 * only then are the files put in place, by link() (no overwriting) or by
 * rename() (replacing, atomically), through util/atomic_file.h. A failure
 * before that leaves nothing.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "estadm.h"
#include "estkit/ca.h"
#include "estkit/codec.h"
#include "estkit/store.h"
#include "util/atomic_file.h"

/* What PREFIX.pem holds: the certificate, then (chain mode) the CAs. */
struct pem_body {
	X509 *leaf;
	STACK_OF(X509) *above;          /* NULL: the certificate alone */
};

int
adm_days_arg(const struct adm_ctx *ctx, const char *arg, unsigned *days)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 || n < 1 || n > 3650)
		return adm_usage_error(ctx, "--days takes 1 to 3650");
	*days = (unsigned)n;
	return ADM_EXIT_OK;
}

/* ---- staged files -------------------------------------------------------- */

/*
 * Write path's new content to a temporary file beside it, mode `mode`, and
 * to disk. A file being replaced keeps its owner and group (estd runs as
 * its own user and must still read a key that root reissued); a symbolic
 * link stays one.
 */
static int
stage(struct atomic_file *af, const char *path, mode_t mode,
    int (*writer)(FILE *, const void *), const void *arg)
{
	struct est_error e = { 0 };
	int err;

	if (af_open(af, path, mode, AF_FOLLOW, &e) != EST_OK)
		return adm_fail("%s", e.msg);
	if (writer(af->fp, arg) != 0) {
		err = errno;
		af_abort(af);
		return adm_fail("cannot write %s: %s", path, strerror(err));
	}
	if (af_finish(af, &e) != EST_OK)
		return adm_fail("%s", e.msg);
	return ADM_EXIT_OK;
}

/* Put a staged file in place: replacing what is there, or only where nothing is. */
static int
commit(struct atomic_file *af, bool replace)
{
	struct est_error e = { 0 };

	if (af_commit(af, replace ? AF_REPLACE : AF_NO_OVERWRITE, &e) != EST_OK)
		return adm_fail("%s", e.msg);
	return ADM_EXIT_OK;
}

static int
write_key(FILE *fp, const void *key)
{
	return PEM_write_PKCS8PrivateKey(fp, (EVP_PKEY *)key, NULL, NULL, 0, NULL, NULL) == 1
	    ? 0 : -1;
}

static int
write_pem(FILE *fp, const void *arg)
{
	const struct pem_body *b = arg;

	if (PEM_write_X509(fp, b->leaf) != 1)
		return -1;
	for (int i = 0; b->above != NULL && i < sk_X509_num(b->above); i++)
		if (PEM_write_X509(fp, sk_X509_value(b->above, i)) != 1)
			return -1;
	return 0;
}

/* ---- the issuing CA ------------------------------------------------------ */

/*
 * The CA alias a issues from at `now`, as estd chooses it (rollover.c):
 * the successor of a's CA once its issue-from has come, else a's CA.
 */
static const struct est_ca_conf *
issuing_ca(const struct est_config *cfg, const struct est_alias_conf *a, time_t now)
{
	for (size_t i = 0; i < cfg->n_cas; i++) {
		const struct est_ca_conf *cc = &cfg->cas[i];

		if (cc->predecessor != NULL && strcmp(cc->predecessor, a->ca) == 0 &&
		    (int64_t)now >= cc->issue_from)
			return cc;
	}
	return est_config_ca(cfg, a->ca);
}

/* Load cc with its key and the URLs its certificates carry. */
static int
load_issuer(const struct est_ca_conf *cc, struct est_ca **out)
{
	struct est_ca_revocation rv = { .crl_url = cc->crl_url, .ocsp_url = cc->ocsp_url,
	    .ca_issuers_url = cc->ca_issuers_url };
	struct est_error e = { 0 };

	if (cc->key_path == NULL)
		return adm_fail("CA %s has no key in the configuration: it cannot issue", cc->name);
	if (est_ca_load(cc->name, cc->cert_path, cc->key_path, cc->chain_path, out, &e) != EST_OK ||
	    est_ca_set_revocation(*out, &rv, &e) != EST_OK)
		return adm_fail("%s", e.msg);
	return ADM_EXIT_OK;
}

static bool
push_ref(STACK_OF(X509) *sk, X509 *cert)
{
	if (!X509_up_ref(cert))
		return false;
	if (sk_X509_push(sk, cert) <= 0) {
		X509_free(cert);
		return false;
	}
	return true;
}

/*
 * What follows the certificate in a chain file. During a rollover's
 * overlap, NewWithOld (the new key signed by the old one): a client that
 * trusts only the old root still reaches it, one that trusts the new root
 * finds that root by name first. Otherwise the CA certificate and its
 * chain up to the root, as /cacerts sends them. Caller frees *out with
 * sk_X509_pop_free(*out, X509_free).
 */
static int
chain_above(const struct est_config *cfg, const struct est_ca_conf *cc, const struct est_ca *ca,
    time_t now, STACK_OF(X509) **out)
{
	const struct est_ca_conf *oc = cc->predecessor != NULL ?
	    est_config_ca(cfg, cc->predecessor) : NULL;
	STACK_OF(X509) *sk = sk_X509_new_null(), *certs = NULL, *own = NULL;
	struct est_ca *old = NULL;
	struct est_error e = { 0 };
	X509 *owc = NULL, *nwo = NULL;
	int status = ADM_EXIT_FAIL;

	if (sk == NULL)
		return adm_fail("out of memory");
	if (oc != NULL && cc->rollover_path != NULL) {
		if (est_ca_load(oc->name, oc->cert_path, NULL, oc->chain_path, &old, &e) != EST_OK ||
		    est_certs_read(cc->rollover_path, &certs, &e) != EST_OK ||
		    est_ca_rollover_check(old, ca, certs, &owc, &nwo, &e) != EST_OK) {
			adm_fail("%s", e.msg);
			goto out;
		}
	}
	if (nwo != NULL && X509_cmp_time(X509_get0_notAfter(nwo), &now) > 0) {
		if (!push_ref(sk, nwo))
			goto nomem;
	} else {
		own = est_ca_chain(ca);
		for (int i = 0; i < sk_X509_num(own); i++)
			if (!push_ref(sk, sk_X509_value(own, i)))
				goto nomem;
	}
	*out = sk;
	sk = NULL;
	status = ADM_EXIT_OK;
	goto out;
nomem:
	adm_fail("out of memory");
out:
	sk_X509_pop_free(sk, X509_free);
	sk_X509_pop_free(certs, X509_free);
	X509_free(owc);
	X509_free(nwo);
	est_ca_free(old);
	return status;
}

/* ---- issuing ------------------------------------------------------------- */

/* PREFIX.key and PREFIX.pem into key and pem; refuse existing ones unless replacing. */
static int
plan_paths(const struct adm_issue *is, char key[PATH_MAX], char pem[PATH_MAX])
{
	struct stat st;

	if ((size_t)snprintf(key, PATH_MAX, "%s.key", is->out) >= PATH_MAX ||
	    (size_t)snprintf(pem, PATH_MAX, "%s.pem", is->out) >= PATH_MAX)
		return adm_fail("--out %.200s: file name too long", is->out);
	/* A rename cannot fail halfway through the pair for a reason known now. */
	if (is->replace) {
		if ((stat(key, &st) == 0 && !S_ISREG(st.st_mode)) ||
		    (stat(pem, &st) == 0 && !S_ISREG(st.st_mode)))
			return adm_fail("%s is not a regular file", stat(key, &st) == 0 &&
			    !S_ISREG(st.st_mode) ? key : pem);
		return ADM_EXIT_OK;
	}
	if (lstat(key, &st) == 0 || lstat(pem, &st) == 0)
		return adm_fail("%s already exists; not overwriting it (remove it first or "
		    "choose another path)", lstat(key, &st) == 0 ? key : pem);
	return ADM_EXIT_OK;
}

/* The request's certificate and new key from CA cc, written and recorded. */
static int
issue_from(const struct est_config *cfg, const struct est_alias_conf *a,
    const struct est_ca_conf *cc, const struct adm_issue *is, time_t now)
{
	struct est_profile profile = is->profile;
	struct est_issue_req req = { .subject = is->subject, .san = is->san };
	struct atomic_file skey = { 0 }, spem = { 0 };
	struct pem_body body = { 0 };
	struct est_cert_rec *rec = NULL;
	struct est_store *st = NULL;
	struct est_error e = { 0 };
	struct est_ca *ca = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char keypath[PATH_MAX], pempath[PATH_MAX], shown[EST_SERIAL_SHOWN_MAX];
	int status;

	profile.validity_days = is->days;
	if ((status = plan_paths(is, keypath, pempath)) != ADM_EXIT_OK ||
	    (status = load_issuer(cc, &ca)) != ADM_EXIT_OK ||
	    (is->chain && (status = chain_above(cfg, cc, ca, now, &body.above)) != ADM_EXIT_OK))
		goto out;
	status = ADM_EXIT_FAIL;
	if (est_key_generate(is->key_type, &key, &e) != EST_OK) {
		adm_fail("%s", e.msg);
		goto out;
	}
	req.pubkey = key;
	if (est_ca_issue(ca, &profile, &req, &cert, &e) != EST_OK ||
	    est_cert_rec_from_x509(cert, "estadm", a->name, &rec, &e) != EST_OK) {
		adm_fail("%s", e.msg);
		goto out;
	}
	body.leaf = cert;
	if (stage(&skey, keypath, 0600, write_key, key) != ADM_EXIT_OK ||
	    stage(&spem, pempath, 0644, write_pem, &body) != ADM_EXIT_OK ||
	    adm_open_store(cfg, &st) != ADM_EXIT_OK)
		goto out;
	if (est_store_put_cert(st, rec, &e) != EST_OK) {
		adm_fail("%s", e.msg);
		goto out;
	}
	/* On record now: a failure below leaves a certificate nobody holds, to revoke. */
	if (commit(&skey, is->replace) != ADM_EXIT_OK)
		goto out;
	if (commit(&spem, is->replace) != ADM_EXIT_OK) {
		if (!is->replace)
			unlink(keypath);
		goto out;
	}
	printf("issued %s %s for %s (alias %s, CA %s): %s, %s\n", is->what,
	    est_serial_shown(rec->serial, shown, sizeof(shown)), rec->subject, a->name, cc->name,
	    pempath, keypath);
	status = ADM_EXIT_OK;
out:
	af_abort(&skey);
	af_abort(&spem);
	est_store_close(st);
	est_cert_rec_free(rec);
	X509_free(cert);
	EVP_PKEY_free(key);
	sk_X509_pop_free(body.above, X509_free);
	est_ca_free(ca);
	return status;
}

/* Whether a's clients may authenticate by certificate, as an RA does. */
static bool
takes_certificates(const struct est_alias_conf *a)
{
	for (size_t i = 0; i < a->n_auth; i++)
		if (a->auth[i] == EST_AUTH_CERTIFICATE)
			return true;
	return false;
}

int
adm_issue(const struct adm_ctx *ctx, const struct adm_issue *is)
{
	struct est_config *cfg = NULL;
	const struct est_alias_conf *a;
	const struct est_ca_conf *cc;
	time_t now = time(NULL);
	int status;

	if ((status = adm_load_config(ctx, &cfg)) != ADM_EXIT_OK)
		return status;
	a = is->alias != NULL ? est_config_alias(cfg, is->alias) : est_config_default_alias(cfg);
	if (a == NULL)
		status = adm_fail("no alias %s in %s", is->alias != NULL ? is->alias : "(default)",
		    cfg->path);
	else if (is->certificate_auth && !takes_certificates(a))
		/* estd takes an RA certificate as RA only on the alias it was issued for. */
		status = adm_fail("alias %s has no certificate authentication, so an RA "
		    "certificate could not act there; name one that has (--alias)", a->name);
	else if ((cc = issuing_ca(cfg, a, now)) == NULL)
		status = adm_fail("alias %s names CA %s, which %s lacks", a->name, a->ca, cfg->path);
	else
		status = issue_from(cfg, a, cc, is, now);
	est_config_free(cfg);
	return status;
}
