/*
 * One look at one certificate for estclient renew (RFC 7030 §4.1.3,
 * §4.2.2): fetch /cacerts and keep the trust anchor current, decide whether
 * the certificate is due, re-enrol with a new key (or the same one), replace
 * key, certificate and chain, run the post-hook.
 *
 * The trust anchor file changes only when the validated /cacerts answer has
 * a current root the file does not hold: est_cacerts_validate accepted it
 * only because a rollover certificate links it to the anchor already held
 * (NewWithOld, the new key signed by the old one, and OldWithNew for the
 * way back). Nothing is written before the new certificate has been
 * validated, and a refusal (401, 403) leaves every file as it was.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "estclient.h"
#include "estkit/ca.h"
#include "estkit/codec.h"
#include "estkit/log.h"

/* Everything one look holds; freed by look_clear. */
struct look {
	X509 *cert;
	STACK_OF(X509) *chain;      /* what followed it in the file */
	EVP_PKEY *key;
	EVP_PKEY *new_key;          /* NULL: renewal with the same key */
	STACK_OF(X509) *anchors;    /* the trust anchors after the refresh */
	STACK_OF(X509) *bag;        /* the validated /cacerts answer */
	struct est_client *client;
	struct est_enroll_result res;
};

static void
look_clear(struct look *l)
{
	X509_free(l->cert);
	sk_X509_pop_free(l->chain, X509_free);
	EVP_PKEY_free(l->key);
	EVP_PKEY_free(l->new_key);
	sk_X509_pop_free(l->anchors, X509_free);
	sk_X509_pop_free(l->bag, X509_free);
	est_client_free(l->client);
	est_enroll_result_clear(&l->res);
}

static bool
holds(STACK_OF(X509) *s, X509 *x)
{
	for (int i = 0; i < sk_X509_num(s); i++)
		if (X509_cmp(sk_X509_value(s, i), x) == 0)
			return true;
	return false;
}

/* Push x onto s with a reference of its own. */
static enum est_err
push_ref(STACK_OF(X509) *s, X509 *x, struct est_error *e)
{
	if (!X509_up_ref(x))
		return est_fail(e, EST_ERR_INTERNAL, "X509_up_ref");
	if (!sk_X509_push(s, x)) {
		X509_free(x);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	return EST_OK;
}

static enum est_err
read_files(const struct renew_job *j, struct look *l, struct est_error *e)
{
	STACK_OF(X509) *all = NULL;
	enum est_err rc;

	if ((rc = est_certs_read(j->cert_file, &all, e)) != EST_OK)
		return rc;
	l->cert = sk_X509_shift(all);
	l->chain = all;
	if ((rc = est_key_read(j->key_file, true, &l->key, e)) != EST_OK)
		return rc;
	if (X509_check_private_key(l->cert, l->key) != 1)
		return est_fail(e, EST_ERR_BADREQ, "%s is not the key of %s", j->key_file,
		    j->cert_file);
	return est_certs_read(j->ta_file, &l->anchors, e);
}

static enum est_err
make_client(const struct renew_job *j, struct look *l, struct est_error *e)
{
	struct est_client_config cfg = {
		.url = j->url, .host = j->host, .port = j->port, .label = j->label,
		.resolve = j->resolve, .trust_anchor_file = j->ta_file,
		.cert = l->cert, .chain = l->chain, .key = l->key,
		.read_timeout = j->read_timeout, .retry_max = j->retry_max,
	};

	return est_client_new(&cfg, &l->client, e);
}

/*
 * Whether the bag holds a NewWithOld for cur that one of the anchors issued:
 * cur's key, issued and signed by an anchor. Only then did the CA roll over
 * from the anchor held; an anchor that is, say, an intermediate below cur
 * must not turn into trust in all of cur.
 */
static bool
rolled_over_from(STACK_OF(X509) *bag, X509 *cur, STACK_OF(X509) *anchors)
{
	bool linked = false;

	for (int i = 0; i < sk_X509_num(bag) && !linked; i++) {
		X509 *x = sk_X509_value(bag, i);

		if (X509_cmp(x, cur) == 0 ||
		    EVP_PKEY_eq(X509_get0_pubkey(x), X509_get0_pubkey(cur)) != 1)
			continue;
		for (int k = 0; k < sk_X509_num(anchors) && !linked; k++) {
			X509 *a = sk_X509_value(anchors, k);

			linked = X509_check_issued(a, x) == X509_V_OK &&
			    X509_verify(x, X509_get0_pubkey(a)) == 1;
		}
	}
	ERR_clear_error();
	return linked;
}

/*
 * Write the roots of the validated bag (the current one first) and the
 * anchors still valid that they do not hold, when the CA rolled over from
 * an anchor held to a root the file does not hold yet.
 */
static enum est_err
refresh_anchor(const struct renew_job *j, struct look *l, struct est_error *e)
{
	STACK_OF(X509) *roots, *next;
	struct rf_file f;
	char *pem = NULL, *subj;
	size_t len;
	enum est_err rc;

	if ((rc = est_client_cacerts(l->client, &l->bag, e)) != EST_OK)
		return rc;
	roots = est_client_ca_roots(l->client);
	if (holds(l->anchors, sk_X509_value(roots, 0)) ||
	    !rolled_over_from(l->bag, sk_X509_value(roots, 0), l->anchors))
		return EST_OK;
	if ((next = sk_X509_new_null()) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	rc = EST_OK;
	for (int i = 0; rc == EST_OK && i < sk_X509_num(roots); i++)
		rc = push_ref(next, sk_X509_value(roots, i), e);
	for (int i = 0; rc == EST_OK && i < sk_X509_num(l->anchors); i++) {
		X509 *a = sk_X509_value(l->anchors, i);

		if (!holds(next, a) && X509_cmp_current_time(X509_get0_notAfter(a)) > 0)
			rc = push_ref(next, a, e);
	}
	if (rc == EST_OK && (rc = est_certs_pem(next, &pem, &len, e)) == EST_OK &&
	    (rc = rf_stage(&f, j->ta_file, pem, len, 0644, e)) == EST_OK &&
	    ((rc = rf_keep_previous(&f, e)) != EST_OK || (rc = rf_commit(&f, e)) != EST_OK))
		rf_abort(&f);
	free(pem);
	if (rc != EST_OK) {
		sk_X509_pop_free(next, X509_free);
		return rc;
	}
	subj = est_name_text(X509_get_subject_name(sk_X509_value(roots, 0)));
	log_info("%s: the CA rolled over: %s now trusts \"%s\" (linked to the trust anchor "
	    "held by the RFC 7030 rollover certificates); the old one is in %s.previous",
	    j->name, j->ta_file, subj != NULL ? subj : "?", j->ta_file);
	free(subj);
	sk_X509_pop_free(l->anchors, X509_free);
	l->anchors = next;
	return EST_OK;
}

static enum est_err
new_key(const struct renew_job *j, struct look *l, struct est_error *e)
{
	if (j->same_key)
		return EST_OK;
	if (j->key_type != NULL)
		return est_key_generate(j->key_type, &l->new_key, e);
	return est_key_generate_like(l->key, &l->new_key, e);
}

/* The CA certificates above the new certificate, on its path to the anchors. */
static enum est_err
issuers_of(struct look *l, STACK_OF(X509) **out, struct est_error *e)
{
	const struct est_cert_expect any = { .any_names = true };
	STACK_OF(X509) *helpers = sk_X509_new_null(), *path = NULL;
	enum est_err rc;

	if (helpers == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (int i = 0; i < sk_X509_num(l->res.certs); i++)
		sk_X509_push(helpers, sk_X509_value(l->res.certs, i));
	for (int i = 0; i < sk_X509_num(l->bag); i++)
		sk_X509_push(helpers, sk_X509_value(l->bag, i));
	rc = est_cert_validate(l->res.cert, helpers, l->anchors, &any, &path, e);
	sk_X509_free(helpers);
	if (rc != EST_OK)
		return rc;
	X509_free(sk_X509_shift(path));
	*out = path;
	return EST_OK;
}

/* Stage key, certificate and chain; replace them only when all are staged. */
static enum est_err
replace_files(const struct renew_job *j, struct look *l, struct est_error *e)
{
	struct rf_file f[3] = { 0 };
	STACK_OF(X509) *leaf = sk_X509_new_null(), *above = NULL;
	char *pem[3] = { NULL, NULL, NULL };
	size_t len[3];
	enum est_err rc = EST_OK;

	if (leaf == NULL || !sk_X509_push(leaf, l->res.cert))
		rc = est_fail(e, EST_ERR_NOMEM, "out of memory");
	if (rc == EST_OK && l->new_key != NULL &&
	    (rc = est_key_pem(l->new_key, &pem[0], &len[0], e)) == EST_OK)
		rc = rf_stage(&f[0], j->key_file, pem[0], len[0], 0600, e);
	if (rc == EST_OK && (rc = est_certs_pem(leaf, &pem[1], &len[1], e)) == EST_OK)
		rc = rf_stage(&f[1], j->cert_file, pem[1], len[1], 0644, e);
	if (rc == EST_OK && j->chain_file != NULL &&
	    (rc = issuers_of(l, &above, e)) == EST_OK &&
	    (rc = est_certs_pem(above, &pem[2], &len[2], e)) == EST_OK)
		rc = rf_stage(&f[2], j->chain_file, pem[2], len[2], 0644, e);
	/* Every old file kept before the first is replaced: a failure there leaves
	 * the old pair, not a new key beside the old certificate. Then the key
	 * first: a reader that sees the new certificate finds its key. */
	for (int i = 0; i < 3 && rc == EST_OK; i++)
		rc = rf_keep_previous(&f[i], e);
	for (int i = 0; i < 3 && rc == EST_OK; i++)
		rc = rf_commit(&f[i], e);
	for (int i = 0; i < 3; i++) {
		rf_abort(&f[i]);
		if (pem[i] != NULL)
			OPENSSL_cleanse(pem[i], len[i]);
		free(pem[i]);
	}
	sk_X509_free(leaf);
	sk_X509_pop_free(above, X509_free);
	return rc;
}

/* Run the post-hook with /bin/sh; false when it did not exit 0. */
static bool
run_hook(const struct renew_job *j)
{
	int status;
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) < 0) {
		log_error("%s: cannot run the post-hook: %s", j->name, strerror(errno));
		return false;
	}
	if (pid == 0) {
		setenv("ESTCLIENT_RENEW_NAME", j->name, 1);
		setenv("ESTCLIENT_RENEW_CERT", j->cert_file, 1);
		setenv("ESTCLIENT_RENEW_KEY", j->key_file, 1);
		execl("/bin/sh", "sh", "-c", j->post_hook, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			log_error("%s: post-hook: %s", j->name, strerror(errno));
			return false;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	log_error("%s: the post-hook \"%s\" failed (%s %d); the new certificate is in place",
	    j->name, j->post_hook, WIFEXITED(status) ? "exit status" : "signal",
	    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return false;
}

static void
say_renewed(const struct renew_job *j, X509 *cert, time_t next)
{
	char *serial = est_serial_text(X509_get0_serialNumber(cert));
	char when[32], shown[EST_SERIAL_SHOWN_MAX];
	struct tm tm;

	gmtime_r(&next, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	log_info("%s: renewed %s: serial %s, %s; next renewal from %s", j->name, j->cert_file,
	    serial != NULL ? est_serial_shown(serial, shown, sizeof(shown)) : "?", j->same_key ? "same key" : "new key", when);
	free(serial);
}

/* The steps, up to the renewed files; *due says whether it was due. */
static enum est_err
look_and_renew(struct renew_job *j, struct look *l, bool force, bool *due, struct est_error *e)
{
	struct est_enroll_req req = { 0 };
	enum est_err rc;
	time_t at;

	if ((rc = read_files(j, l, e)) != EST_OK || (rc = make_client(j, l, e)) != EST_OK ||
	    (rc = refresh_anchor(j, l, e)) != EST_OK ||
	    (rc = est_cert_renew_time(l->cert, j->share, j->before, &at, e)) != EST_OK ||
	    (rc = est_cert_renew_time(l->cert, 1.0, 0, &j->not_after, e)) != EST_OK)
		return rc;
	j->next = at;
	if (!(*due = force || time(NULL) >= at)) {
		log_debug("%s: not due before %lld", j->name, (long long)at);
		return EST_OK;
	}
	if ((rc = new_key(j, l, e)) != EST_OK)
		return rc;
	req.key = l->new_key;
	if ((rc = est_client_reenroll(l->client, &req, &l->res, e)) != EST_OK ||
	    (rc = replace_files(j, l, e)) != EST_OK)
		return rc;
	if ((rc = est_cert_renew_time(l->res.cert, j->share, j->before, &j->next, e)) != EST_OK)
		return rc;
	say_renewed(j, l->res.cert, j->next);
	return EST_OK;
}

int
renew_once(struct renew_job *j, bool force, bool *transient, bool *renewed)
{
	struct est_error e = { 0 };
	struct look l = { 0 };
	enum est_err rc;
	bool due = false;
	long http;
	int status = CLI_OK;

	*transient = false;
	rc = look_and_renew(j, &l, force, &due, &e);
	*renewed = rc == EST_OK && due;
	if (*renewed && j->post_hook != NULL && !run_hook(j))
		status = CLI_FAIL;
	if (rc != EST_OK) {
		http = l.client != NULL ? est_client_failed_status(l.client) : 0;
		status = l.client != NULL ? cli_exit_for(rc, http) :
		    rc == EST_ERR_CONFIG ? CLI_USAGE : CLI_FAIL;
		/* An answer refused on validation (CLI_SERVER without a 5xx) is not
		 * retried: the same server would send the same. */
		*transient = status == CLI_CONNECT || status == CLI_TLS || status == CLI_PENDING ||
		    (status == CLI_SERVER && http >= 500);
		cli_fail(status, "%s: %s%s", j->name, e.msg, status == CLI_AUTH ?
		    ": the server refuses this certificate (revoked, expired, or not for this "
		    "label); its files are left as they were" : "");
	}
	look_clear(&l);
	return status;
}
