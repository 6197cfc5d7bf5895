/*
 * What estclient does with its options: read the files named on the command
 * line, make one client, run the operations in libest's order (-g, then -a,
 * then -e / -q / -r) -i times, write the output files, and turn the first
 * failure into an exit status and one line that says what to try.
 *
 * Improvements over libest live here: -r re-keys with -x or -y and keeps
 * the certificate's names; -q works with -y or with no key at all; a key
 * estclient generates is EC P-256 (or what /csrattrs asks for) and written
 * 0600; every failure has its own exit status.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "estclient.h"
#include "estkit/ca.h"
#include "estkit/codec.h"
#include "estkit/log.h"

/* What the files on the command line hold. */
struct inputs {
	X509 *cert;                 /* -c */
	STACK_OF(X509) *chain;      /* the rest of -c */
	EVP_PKEY *cert_key;         /* -k */
	EVP_PKEY *key;              /* -x, or generated */
	bool key_generated;
	bool key_written;
	char key_path[PATH_MAX];    /* where a generated key went */
	X509_REQ *csr;              /* -y */
	X509 *decrypt_cert;         /* --decrypt-cert */
	X509 *key_signer;           /* --key-signer */
	EVP_PKEY *decrypt_key;      /* --decrypt-key */
	X509_NAME *subject;         /* --common-name, or the host name */
	struct est_csr_wants *attrs; /* -a */
};

static void
inputs_free(struct inputs *in)
{
	X509_free(in->cert);
	sk_X509_pop_free(in->chain, X509_free);
	EVP_PKEY_free(in->cert_key);
	EVP_PKEY_free(in->key);
	X509_REQ_free(in->csr);
	X509_free(in->decrypt_cert);
	X509_free(in->key_signer);
	EVP_PKEY_free(in->decrypt_key);
	X509_NAME_free(in->subject);
	est_csr_wants_free(in->attrs);
}

/* The first certificate of a PEM file, and the others as its chain. */
static enum est_err
read_cert(const char *path, X509 **cert, STACK_OF(X509) **chain, struct est_error *e)
{
	STACK_OF(X509) *all = NULL;
	enum est_err rc;

	if ((rc = est_certs_read(path, &all, e)) != EST_OK)
		return rc;
	*cert = sk_X509_shift(all);
	if (chain != NULL)
		*chain = all;
	else
		sk_X509_pop_free(all, X509_free);
	return EST_OK;
}

/*
 * Read every file the options name; EST_OK or the reason. A private key
 * file that group or others can read is refused, with the chmod that fixes
 * it (the rule estd keeps for its CA key).
 */
static enum est_err
read_inputs(const struct cli_opts *o, struct inputs *in, struct est_error *e)
{
	enum est_err rc = EST_OK;

	if (o->cert_file != NULL)
		rc = read_cert(o->cert_file, &in->cert, &in->chain, e);
	if (rc == EST_OK && o->cert_key_file != NULL)
		rc = est_key_read(o->cert_key_file, true, &in->cert_key, e);
	if (rc == EST_OK && o->key_file != NULL)
		rc = est_key_read(o->key_file, true, &in->key, e);
	if (rc == EST_OK && o->csr_file != NULL)
		rc = est_csr_read_file(o->csr_file, &in->csr, e);
	if (rc == EST_OK && o->decrypt_cert != NULL)
		rc = read_cert(o->decrypt_cert, &in->decrypt_cert, NULL, e);
	if (rc == EST_OK && o->decrypt_key != NULL)
		rc = est_key_read(o->decrypt_key, true, &in->decrypt_key, e);
	if (rc == EST_OK && o->key_signer != NULL)
		rc = read_cert(o->key_signer, &in->key_signer, NULL, e);
	return rc;
}

/* CN=--common-name, else CN=<this host's name> (libest used "127.0.0.1"). */
static enum est_err
make_subject(const struct cli_opts *o, struct inputs *in, struct est_error *e)
{
	char host[256] = "localhost";
	const char *cn = o->cn;

	if (cn == NULL) {
		if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
			snprintf(host, sizeof(host), "localhost");
		cn = host;
	}
	if ((in->subject = X509_NAME_new()) == NULL ||
	    !X509_NAME_add_entry_by_txt(in->subject, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0))
		return est_fail_ssl(e, EST_ERR_BADREQ, "--common-name \"%s\" cannot be a common "
		    "name (1-64 characters)", cn);
	return EST_OK;
}

/* -e without -x or -y: a fresh key, of --key-type or what /csrattrs asks. */
static enum est_err
generate_key(const struct cli_opts *o, struct inputs *in, struct est_error *e)
{
	const char *spec = o->key_type != NULL ? o->key_type : "ec:P-256";

	if (o->key_type == NULL && in->attrs != NULL && in->attrs->key_spec[0] != '\0')
		spec = in->attrs->key_spec;
	else if (o->key_type != NULL && in->attrs != NULL && in->attrs->key_spec[0] != '\0' &&
	    strcmp(o->key_type, in->attrs->key_spec) != 0)
		log_warn("the server asks for %s keys, --key-type says %s", in->attrs->key_spec,
		    o->key_type);
	log_debug("generating a %s key", spec);
	in->key_generated = true;
	return est_key_generate(spec, &in->key, e);
}

int
cli_exit_for(enum est_err rc, long status)
{
	if (status == 401 || status == 403)
		return CLI_AUTH;
	if ((status >= 400 && status < 500) || status == 501)
		return CLI_REFUSED;
	if (status >= 500)
		return CLI_SERVER;
	switch (rc) {
	case EST_ERR_CONNECT: return CLI_CONNECT;
	case EST_ERR_TLS: return CLI_TLS;
	case EST_ERR_AUTH: return CLI_AUTH; /* a TLS-SRP handshake refused */
	case EST_ERR_SERVER: return CLI_SERVER;
	case EST_ERR_PENDING: return CLI_PENDING;
	default: return CLI_FAIL;
	}
}

/* What to try, in estclient's own terms; "" when the reason says it all. */
static const char *
hint_for(const struct cli_opts *o, const struct inputs *in, int status, long http,
    bool reason_given)
{
	switch (status) {
	case CLI_AUTH:
		if (http == 401 && (o->user != NULL || o->password != NULL || o->token != NULL))
			return "check the user name and password (or the token)";
		if (http == 401)
			return "give -u USER -h PASSWORD, or a client certificate with -c CERT -k KEY";
		/*
		 * A 403 with the server's reason (revoked, another subject, or the
		 * wrong port with the right one named) already says what to do: the
		 * advice about ports would send the owner of a revoked certificate
		 * looking for the wrong mistake.
		 */
		return o->reenroll && !reason_given ? "-r needs the certificate being renewed and "
		    "its key (-c, -k), sent to a port that asks for client certificates" : "";
	case CLI_REFUSED:
		return http == 404 ? "check the label (--path-seg) and that the server offers "
		    "this operation" : "";
	case CLI_PENDING:
		return in->key_written ? "run again later with -x and the key estclient made, "
		    "or wait longer with --retry-max N" :
		    "run the same command again later, or wait with --retry-max N";
	case CLI_CONNECT:
		return "check -s and -p (and -w for a slow server)";
	case CLI_TLS:
		return "see --trustanchor (or EST_OPENSSL_CACERT), -s, -c and -k";
	default:
		return "";
	}
}

static int
report(const struct cli_opts *o, const struct inputs *in, struct est_client *c,
    enum est_err rc, const struct est_error *e)
{
	long http = c != NULL ? est_client_failed_status(c) : 0;
	int status = cli_exit_for(rc, http);
	/* answer.c puts the server's one-line reason after "not allowed: ". */
	bool reason_given = http == 403 && strstr(e->msg, "HTTP 403: not allowed: ") != NULL;
	const char *hint = hint_for(o, in, status, http, reason_given);

	if (status == CLI_PENDING && in->key_written)
		return cli_fail(status, "%s: %s (%s)", e->msg, hint, in->key_path);
	return cli_fail(status, "%s%s%s", e->msg, hint[0] ? ": " : "", hint);
}

/* Build the client from the options and the files read. */
static enum est_err
make_client(const struct cli_opts *o, const struct inputs *in, struct est_client **c,
    struct est_error *e)
{
	struct est_client_config cfg = {
		.url = o->url, .host = o->host, .port = o->port, .label = o->label,
		.resolve = o->resolve, .bootstrap = o->bootstrap, .tls13_only = o->tls13_only,
		.trust_anchor_file = o->system_trust || o->bootstrap ? NULL : o->ta_file,
		.cert = in->cert, .chain = in->chain, .key = in->cert_key,
		.user = o->password != NULL && o->user == NULL ? "" : o->user,
		.password = o->password, .bearer_token = o->token,
		.srp_user = o->srp_user,
		.srp_password = o->srp_password,
		.read_timeout = o->read_timeout, .retry_max = o->retry_max,
	};

	return est_client_new(&cfg, c, e);
}

/* "sha256:AB:CD:..." of cert, into buf. */
static const char *
fingerprint(X509 *cert, char *buf, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	size_t at = (size_t)snprintf(buf, len, "sha256:");

	X509_digest(cert, EVP_sha256(), md, &n);
	for (unsigned b = 0; b < n && at + 3 < len; b++)
		at += (size_t)snprintf(buf + at, len - at, "%02X%s", md[b], b + 1 < n ? ":" : "");
	return buf;
}

/*
 * Whether the bag links its current root to old, an older root: a
 * NewWithOld (the current key, signed by old). est_cacerts_validate with
 * old as the only anchor checks exactly that.
 */
static enum est_err
linked_to(STACK_OF(X509) *certs, X509 *old, bool *linked, struct est_error *e)
{
	STACK_OF(X509) *one = sk_X509_new_null();
	struct est_error sub = { 0 };
	enum est_err rc;

	if (one == NULL || !sk_X509_push(one, old)) {
		sk_X509_free(one);
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	}
	rc = est_cacerts_validate(certs, one, NULL, &sub);
	sk_X509_free(one);
	if (rc == EST_ERR_NOMEM)
		return est_fail(e, rc, "%s", sub.msg);
	*linked = rc == EST_OK;
	return EST_OK;
}

/*
 * Bootstrap (RFC 7030 §4.1.1, EST-C-15): nothing from an unauthenticated
 * server is kept before a person has confirmed its root -- by
 * --expect-fingerprint, or by answering on the terminal. During a rollover
 * the old root is what people have, so it may be the one confirmed, but
 * only when the bag links the current root to it: anyone can copy an old
 * root next to a root of their own, and sign an OldWithNew for it with
 * that root's key. EST_ERR_TLS when it is not confirmed.
 */
static enum est_err
confirm_root(const struct cli_opts *o, STACK_OF(X509) *certs, STACK_OF(X509) *roots,
    struct est_error *e)
{
	char fp[160], *subj;
	X509 *cur = sk_X509_value(roots, 0);
	enum est_err rc;
	bool match = false, asked;

	for (int k = 0; o->fingerprint != NULL && k < sk_X509_num(roots) && !match; k++) {
		if ((rc = est_cert_fingerprint_match(sk_X509_value(roots, k), o->fingerprint,
		    &match, e)) != EST_OK)
			return rc;
		if (match && k > 0 && (rc = linked_to(certs, sk_X509_value(roots, k), &match,
		    e)) != EST_OK)
			return rc;
	}
	if (match)
		return EST_OK;
	subj = est_name_text(X509_get_subject_name(cur));
	fingerprint(cur, fp, sizeof(fp));
	if (o->fingerprint != NULL) {
		est_fail(e, EST_ERR_TLS, "NOT AUTHENTICATED: the root of /cacerts, \"%s\", has "
		    "the fingerprint %s, not --expect-fingerprint %s: nothing written", subj ? subj :
		    "?", fp, o->fingerprint);
		free(subj);
		return EST_ERR_TLS;
	}
	fprintf(stderr, "estclient: NOT AUTHENTICATED: the root of /cacerts is \"%s\"\n"
	    "estclient:   fingerprint %s\n", subj ? subj : "?", fp);
	asked = cli_confirm("estclient: is this the fingerprint you got from your CA out of band?");
	free(subj);
	if (asked)
		return EST_OK;
	return est_fail(e, EST_ERR_TLS, "bootstrap: root not confirmed, nothing written; if "
	    "your CA confirms it, run again with --expect-fingerprint %s", fp);
}

/* -g: the validated bag, and its root in a file of its own. */
static enum est_err
do_cacerts(const struct cli_opts *o, struct est_client *c, unsigned i, struct est_error *e)
{
	STACK_OF(X509) *certs = NULL, *roots;
	char path[PATH_MAX];
	enum est_err rc;

	if ((rc = est_client_cacerts(c, &certs, e)) != EST_OK)
		return rc;
	roots = est_client_ca_roots(c);
	if (o->bootstrap)
		rc = confirm_root(o, certs, roots, e);
	if (rc == EST_OK)
		rc = out_cacerts(o, i, certs, e);
	if (rc == EST_OK)
		rc = out_ca_root(o, i, sk_X509_value(roots, 0), path, sizeof(path), e);
	if (rc == EST_OK)
		log_debug("the current root is in %s: use it as --trustanchor", path);
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

/* -a: fetch once (the CSR is built to match), write the file when alone. */
static enum est_err
do_csrattrs(const struct cli_opts *o, struct est_client *c, struct inputs *in, unsigned i,
    struct est_error *e)
{
	enum est_err rc;

	est_csr_wants_free(in->attrs);
	in->attrs = NULL;
	if ((rc = est_client_csrattrs(c, &in->attrs, e)) != EST_OK)
		return rc;
	for (int k = 0; k < sk_ASN1_OBJECT_num(in->attrs->unknown); k++) {
		char oid[80];

		OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(in->attrs->unknown, k), 0);
		log_debug("CSR attribute %s is not understood; ignored", oid);
	}
	if (o->enroll || o->keygen || o->reenroll)
		return EST_OK;
	return out_csrattrs(o, i, in->attrs, e);
}

/* The request for -e, -q or -r. */
static void
fill_req(const struct cli_opts *o, const struct inputs *in, struct est_enroll_req *req)
{
	memset(req, 0, sizeof(*req));
	req->csr = in->csr;
	req->key = in->key;
	req->subject = o->reenroll ? NULL : in->subject;
	req->channel_binding = o->bind;
	req->attrs = in->attrs;
	req->decrypt_cert = in->decrypt_cert;
	req->decrypt_key = in->decrypt_key;
	req->key_signer = in->key_signer;
	req->names_by_server = o->names_by_server;
}

/* -e, -q, -r: one enrolment and its files. */
static enum est_err
do_enroll(const struct cli_opts *o, struct est_client *c, struct inputs *in, unsigned i,
    struct est_error *e)
{
	struct est_enroll_result res = { 0 };
	struct est_enroll_req req;
	enum est_err rc;

	if (o->enroll && in->key == NULL && in->csr == NULL &&
	    (rc = generate_key(o, in, e)) != EST_OK)
		return rc;
	fill_req(o, in, &req);
	rc = o->keygen ? est_client_serverkeygen(c, &req, &res, e) :
	    o->reenroll ? est_client_reenroll(c, &req, &res, e) : est_client_enroll(c, &req, &res, e);
	/* A generated key is kept once the server took the request (or parked it). */
	if ((rc == EST_OK || rc == EST_ERR_PENDING) && in->key_generated && !in->key_written) {
		struct est_error we = { 0 };

		if (out_generated_key(o, in->key, in->key_path, sizeof(in->key_path), &we) != EST_OK) {
			*e = we;
			rc = we.code;
		} else {
			in->key_written = true;
		}
	}
	if (rc == EST_OK && res.key != NULL)
		rc = out_server_key(o, i, res.key, e);
	if (rc == EST_OK)
		rc = out_cert(o, i, &res, e);
	est_enroll_result_clear(&res);
	return rc;
}

/* One round of the operations asked for. */
static enum est_err
run_once(const struct cli_opts *o, struct est_client *c, struct inputs *in, unsigned i,
    struct est_error *e)
{
	enum est_err rc = EST_OK;

	if (o->cacerts)
		rc = do_cacerts(o, c, i, e);
	if (rc == EST_OK && o->csrattrs)
		rc = do_csrattrs(o, c, in, i, e);
	if (rc == EST_OK && (o->enroll || o->keygen || o->reenroll))
		rc = do_enroll(o, c, in, i, e);
	return rc;
}

int
cli_run(const struct cli_opts *o)
{
	struct inputs in = { 0 };
	struct est_client *c = NULL;
	struct est_error e = { 0 };
	enum est_err rc;
	int status = CLI_OK;

	if ((rc = out_prepare_dir(o, &e)) != EST_OK || (rc = read_inputs(o, &in, &e)) != EST_OK ||
	    ((o->enroll || o->keygen) && in.csr == NULL && (rc = make_subject(o, &in, &e)) != EST_OK)) {
		status = cli_fail(CLI_FAIL, "%s", e.msg);
		goto out;
	}
	if ((rc = make_client(o, &in, &c, &e)) != EST_OK) {
		status = cli_fail(rc == EST_ERR_CONFIG ? CLI_USAGE : CLI_FAIL, "%s", e.msg);
		goto out;
	}
	log_debug("server %s", est_client_base_url(c));
	for (unsigned i = 0; i < o->iterations && status == CLI_OK; i++)
		if ((rc = run_once(o, c, &in, i, &e)) != EST_OK)
			status = report(o, &in, c, rc, &e);
out:
	est_client_free(c);
	inputs_free(&in);
	return status;
}
