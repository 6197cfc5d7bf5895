/*
 * The server's life cycle (include/estkit/server.h): load CAs and aliases,
 * bind listeners, start workers, stop them.
 *
 * Everything that can fail because of the configuration fails here, at
 * start-up, with the file and the reason, before the first connection.
 * Besides the workers a serving server runs two threads that own a store
 * handle and do what waits for the disk: the grouped writer (enrolments)
 * and the CRL keeper (crl_keeper.c); and one that makes /serverkeygen's
 * keys (key_maker.c). All outlive the workers' drain.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/thread.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "estkit/audit.h"
#include "estkit/codec.h"
#include "estkit/log.h"
#include "server/server_int.h"

/* Writes per store commit at most: enough for every connection of a busy
 * server to share one fsync, small enough to keep one transaction short. */
#define WRITER_MAX_GROUP 256

static struct est_ca *
find_ca(struct est_server *srv, const char *name)
{
	for (size_t i = 0; i < srv->n_cas; i++)
		if (strcmp(est_ca_name(srv->cas[i]), name) == 0)
			return srv->cas[i];
	return NULL;
}

/*
 * The store keeps certificates and revocations by issuer name and serial:
 * two CAs of one name and different keys would share each other's records
 * and CRL entries. One name with one key (a CA certificate issued again) is
 * one issuer.
 */
static enum est_err
check_distinct(struct est_server *srv, size_t i, struct est_error *e)
{
	X509 *ci = est_ca_cert(srv->cas[i]), *cj;

	for (size_t j = 0; j < i; j++) {
		cj = est_ca_cert(srv->cas[j]);
		if (X509_NAME_cmp(X509_get_subject_name(ci), X509_get_subject_name(cj)) == 0 &&
		    EVP_PKEY_eq(X509_get0_pubkey(ci), X509_get0_pubkey(cj)) != 1)
			return est_fail(e, EST_ERR_CONFIG, "CA %s has the subject name of CA %s "
			    "with another key: the store keeps certificates and revocations by "
			    "issuer name, so give each CA a name of its own",
			    est_ca_name(srv->cas[i]), est_ca_name(srv->cas[j]));
	}
	return EST_OK;
}

static enum est_err
load_cas(struct est_server *srv, struct est_error *e)
{
	const struct est_config *cfg = srv->cfg;
	enum est_err rc;

	srv->cas = calloc(cfg->n_cas, sizeof(*srv->cas));
	srv->client_trust = X509_STORE_new();
	if (srv->cas == NULL || srv->client_trust == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < cfg->n_cas; i++) {
		const struct est_ca_conf *cc = &cfg->cas[i];
		STACK_OF(X509) *chain;

		rc = est_ca_load(cc->name, cc->cert_path, cc->key_path, cc->chain_path, &srv->cas[i], e);
		if (rc != EST_OK)
			return rc;
		srv->n_cas++;
		if ((rc = check_distinct(srv, i, e)) != EST_OK)
			return rc;
		chain = est_ca_chain(srv->cas[i]);
		for (int j = 0; j < sk_X509_num(chain); j++)
			if (X509_STORE_add_cert(srv->client_trust, sk_X509_value(chain, j)) != 1)
				ERR_clear_error(); /* the same root under two CAs */
	}
	return EST_OK;
}

static enum est_err
cacerts_body(struct est_alias *a, struct est_error *e)
{
	unsigned char *der = NULL;
	size_t derlen;
	enum est_err rc;

	rc = est_certs_only_encode(est_ca_chain(a->cacerts_ca), &der, &derlen, e);
	if (rc != EST_OK)
		return rc;
	rc = est_b64_encode(der, derlen, true, &a->cacerts_body, &a->cacerts_len, e);
	OPENSSL_free(der);
	return rc;
}

static bool
asks_challenge_password(const struct est_csrattrs *a)
{
	for (size_t i = 0; i < a->n; i++)
		if (OBJ_obj2nid(a->item[i].oid) == NID_pkcs9_challengePassword)
			return true;
	return false;
}

/*
 * The alias's csrattrs list, parsed for enforcement and encoded for
 * /csrattrs. An alias that links the CSR to its connection asks for the
 * challengePassword that carries the binding, listed or not (RFC 7030 §3.5,
 * EST-S-34), first.
 */
static enum est_err
csrattrs_body(struct est_alias *a, struct est_error *e)
{
	const char *list = a->conf->csrattrs;
	bool linking = a->conf->channel_binding == EST_CB_TLS_UNIQUE;
	unsigned char *der = NULL;
	char *with_pw = NULL;
	size_t derlen;
	enum est_err rc;

	if (list == NULL && !linking)
		return EST_OK;
	if ((rc = est_csrattrs_parse(list != NULL ? list : "challengePassword", &a->csrattrs,
	    e)) != EST_OK)
		return rc;
	if (linking && !asks_challenge_password(a->csrattrs)) {
		est_csrattrs_free(a->csrattrs);
		a->csrattrs = NULL;
		size_t n = sizeof("challengePassword, ") + strlen(list);

		if ((with_pw = malloc(n)) == NULL)
			return est_fail(e, EST_ERR_NOMEM, "out of memory");
		snprintf(with_pw, n, "challengePassword, %s", list);
		rc = est_csrattrs_parse(with_pw, &a->csrattrs, e);
		free(with_pw);
		if (rc != EST_OK)
			return rc;
	}
	if ((rc = est_csrattrs_encode(a->csrattrs, &der, &derlen, e)) != EST_OK)
		return rc;
	rc = est_b64_encode(der, derlen, true, &a->csrattrs_body, &a->csrattrs_len, e);
	OPENSSL_free(der);
	return rc;
}

static enum est_err
load_aliases(struct est_server *srv, struct est_error *e)
{
	const struct est_config *cfg = srv->cfg;
	enum est_err rc;

	srv->aliases = calloc(cfg->n_aliases, sizeof(*srv->aliases));
	if (srv->aliases == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < cfg->n_aliases; i++) {
		struct est_alias *a = &srv->aliases[i];
		const struct est_alias_conf *ac = &cfg->aliases[i];

		a->conf = ac;
		a->ca = find_ca(srv, ac->ca);
		a->cacerts_ca = find_ca(srv, ac->cacerts_ca != NULL ? ac->cacerts_ca : ac->ca);
		a->profile = &est_config_profile(cfg, ac->profile)->profile;
		srv->n_aliases++;
		if (a->ca == NULL || a->cacerts_ca == NULL)
			return est_fail(e, EST_ERR_INTERNAL, "alias %s: CA missing after config check", ac->name);
		if (!est_ca_can_issue(a->ca))
			return est_fail(e, EST_ERR_CONFIG, "alias %s: CA %s has no key to sign with",
			    ac->name, ac->ca);
		if ((rc = cacerts_body(a, e)) != EST_OK || (rc = csrattrs_body(a, e)) != EST_OK)
			return rc;
		if (ac->is_default)
			srv->default_alias = a;
	}
	return EST_OK;
}

/* Resolve a listener's address and, with bind_it, bind and listen on it. */
static enum est_err
bind_listener(struct est_listener *l, bool bind_it, struct est_error *e)
{
	const struct est_listener_conf *lc = l->conf;
	struct addrinfo hints = { 0 }, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char portstr[NI_MAXSERV];
	int one = 1, gai;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	gai = getaddrinfo(lc->host[0] != '\0' ? lc->host : NULL, lc->port, &hints, &res);
	if (gai != 0)
		return est_fail(e, EST_ERR_CONFIG, "listener %s: cannot resolve %s: %s", lc->name,
		    lc->host, gai_strerror(gai));
	if (!bind_it) {
		/* estd -n: the address resolves; the port may well be held by the running estd. */
		freeaddrinfo(res);
		return EST_OK;
	}
	l->fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0 || setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(l->fd, res->ai_addr, res->ai_addrlen) != 0 || listen(l->fd, 511) != 0 ||
	    getsockname(l->fd, (struct sockaddr *)&ss, &sslen) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, sslen, NULL, 0, portstr, sizeof(portstr),
	    NI_NUMERICSERV) != 0) {
		int err = errno;

		freeaddrinfo(res);
		return est_fail(e, EST_ERR_IO, "listener %s: cannot listen on %s:%s: %s%s", lc->name,
		    lc->host, lc->port, strerror(err), err != EADDRINUSE ? "" :
		    " (a server, perhaps estd itself, is already running there: stop it first,"
		    " or change listen; estd -n checks a configuration without binding)");
	}
	freeaddrinfo(res);
	l->port = atoi(portstr);
	return EST_OK;
}

/* old's listener with the same name, address and port as lc, or NULL. */
static const struct est_listener *
same_listener(const struct est_server *old, const struct est_listener_conf *lc)
{
	for (size_t i = 0; old != NULL && i < old->n_listeners; i++) {
		const struct est_listener_conf *oc = old->listeners[i].conf;

		if (strcmp(oc->name, lc->name) == 0 && strcmp(oc->host, lc->host) == 0 &&
		    strcmp(oc->port, lc->port) == 0 && old->listeners[i].fd >= 0)
			return &old->listeners[i];
	}
	return NULL;
}

/* Share a listening socket of the server being replaced: no connection is refused between. */
static enum est_err
take_over_listener(struct est_listener *l, const struct est_listener *prev,
    struct est_error *e)
{
	l->fd = fcntl(prev->fd, F_DUPFD_CLOEXEC, 0);
	if (l->fd < 0)
		return est_fail(e, EST_ERR_IO, "listener %s: %s", l->conf->name, strerror(errno));
	l->port = prev->port;
	return EST_OK;
}

/* Bind (bind_it) or take over from old each listener of the configuration. */
static enum est_err
open_listeners(struct est_server *srv, const struct est_server *old, bool bind_it,
    struct est_error *e)
{
	const struct est_config *cfg = srv->cfg;
	enum est_err rc;

	srv->listeners = calloc(cfg->n_listeners, sizeof(*srv->listeners));
	if (srv->listeners == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		struct est_listener *l = &srv->listeners[i];

		l->conf = &cfg->listeners[i];
		l->fd = -1;
		srv->n_listeners++;
		const struct est_listener *prev = same_listener(old, l->conf);

		if (l->conf->tls != EST_TLS_NONE && (rc = tls_listener_ctx(srv, l, e)) != EST_OK)
			return rc;
		rc = prev != NULL && bind_it ? take_over_listener(l, prev, e) :
		    bind_listener(l, bind_it, e);
		if (rc != EST_OK)
			return rc;
	}
	return EST_OK;
}

/*
 * The users file holds Digest HA1 values (as good as the passwords against
 * this server) and the store holds every end entity's code hash: like the
 * keys, neither may be open to group or others. A missing one is for the
 * code that opens it to judge.
 */
static enum est_err
check_private(const char *what, const char *path, struct est_error *e)
{
	struct stat st;

	if (path == NULL || stat(path, &st) != 0)
		return EST_OK;
	if ((st.st_mode & 077) != 0)
		return est_fail(e, EST_ERR_CONFIG, "%s %s is accessible by group or others (mode "
		    "%04o); run: chmod 600 %s", what, path, (unsigned)(st.st_mode & 07777), path);
	return EST_OK;
}

static enum est_err
check_private_files(const struct est_config *cfg, struct est_error *e)
{
	const char *db = est_store_uri_file(cfg->store_uri);
	char side[PATH_MAX];
	enum est_err rc;

	if ((rc = check_private("credentials file", cfg->credentials_path, e)) != EST_OK ||
	    (rc = check_private("store", db, e)) != EST_OK)
		return rc;
	/* SQLite's -wal holds the latest records until a checkpoint. */
	if (db != NULL && snprintf(side, sizeof(side), "%s-wal", db) < (int)sizeof(side))
		rc = check_private("store journal", side, e);
	return rc;
}

static enum est_err
make_workers(struct est_server *srv, struct est_error *e)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = srv->cfg->workers != 0 ? srv->cfg->workers : (ncpu > 0 ? (size_t)ncpu : 1);
	enum est_err rc;

	srv->workers = calloc(n, sizeof(*srv->workers));
	if (srv->workers == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		srv->n_workers++;
		if ((rc = worker_init(srv, &srv->workers[i], (unsigned)i, e)) != EST_OK)
			return rc;
		/* The server's budget is shared out: each worker signs on its own loop. */
		if ((rc = ocsp_cache_new((double)srv->cfg->ocsp_signatures_per_second / (double)n,
		    &srv->workers[i].ocsp, e)) != EST_OK)
			return rc;
	}
	return EST_OK;
}

/*
 * Everything est_server_new does; without bind_it, the listeners stay
 * unbound; with old, its listeners and carried state are shared (a reload).
 */
static enum est_err
server_build(const struct est_config *cfg, const struct est_server *old, bool bind_it,
    struct est_server **out, struct est_error *e)
{
	struct est_server *srv;
	enum est_err rc;

	if (evthread_use_pthreads() != 0)
		return est_fail(e, EST_ERR_INTERNAL, "libevent has no pthreads support");
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	srv->cfg = cfg;
	srv->stop_pipe[0] = srv->stop_pipe[1] = -1;
	srv->access_fd = -1;
	if (pipe(srv->stop_pipe) != 0 || fcntl(srv->stop_pipe[0], F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(srv->stop_pipe[1], F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(srv->stop_pipe[1], F_SETFL, O_NONBLOCK) != 0) {
		rc = est_fail(e, EST_ERR_IO, "pipe: %s", strerror(errno));
		goto fail;
	}
	srv->srp.path = cfg->srp_verifiers_path;
	srv->bearer.tokens_path = cfg->bearer_tokens_path;
	srv->bearer.jwt_issuer = cfg->bearer_jwt_issuer;
	srv->bearer.jwt_audience = cfg->bearer_jwt_audience;
	srv->bearer.jwt_max_lifetime = cfg->bearer_jwt_max_lifetime;
	if (cfg->bearer_jwt_key_path != NULL &&
	    ((rc = est_pubkey_read(cfg->bearer_jwt_key_path, &srv->bearer.jwt_key, e)) != EST_OK ||
	    (rc = est_bearer_jwt_key_check(srv->bearer.jwt_key, e)) != EST_OK))
		goto fail;
	/*
	 * The fake salts of unknown SRP names must not change at a reload:
	 * comparing answers from before and after would tell who exists.
	 */
	if (old != NULL) {
		memcpy(srv->srp.secret, old->srp.secret, sizeof(srv->srp.secret));
	} else if (RAND_bytes(srv->srp.secret, sizeof(srv->srp.secret)) != 1) {
		rc = est_fail_ssl(e, EST_ERR_CRYPTO, "RAND_bytes");
		goto fail;
	}
	if ((rc = carry_take(srv, old, e)) != EST_OK)
		goto fail;
	if (cfg->decrypt_keys_path != NULL &&
	    (rc = est_keks_load(cfg->decrypt_keys_path, &srv->keks, e)) != EST_OK)
		goto fail;
	if ((rc = check_private_files(cfg, e)) != EST_OK)
		goto fail;
	/* estd -n opens no log file: it may run beside the estd writing them. */
	if (bind_it && ((rc = access_log_open(srv, e)) != EST_OK ||
	    (rc = audit_trail_open(srv, e)) != EST_OK))
		goto fail;
	if ((rc = lockout_sync_init(srv, e)) != EST_OK)
		goto fail;
	/* A file that once failed to take a line still lacks it: it lifts nothing. */
	if (old != NULL)
		atomic_store(&srv->lockout_file_broken,
		    atomic_load((atomic_bool *)&old->lockout_file_broken));
	if ((rc = load_cas(srv, e)) != EST_OK || (rc = revocation_load(srv, e)) != EST_OK ||
	    (rc = load_aliases(srv, e)) != EST_OK || (rc = rollover_load(srv, e)) != EST_OK ||
	    (rc = vendor_load(srv, e)) != EST_OK ||
	    (rc = open_listeners(srv, old, bind_it, e)) != EST_OK ||
	    (rc = make_workers(srv, e)) != EST_OK)
		goto fail;
	/* Damaged pages are found now, not by the enrolment that reads them. */
	if ((rc = est_store_check(srv->workers[0].store, false, e)) != EST_OK ||
	    (rc = est_store_writer_start(cfg->store_uri, WRITER_MAX_GROUP, &srv->writer, e)) != EST_OK)
		goto fail;
	est_store_writer_on_commit(srv->writer, metrics_store_commit);
	if (srv->audit != NULL)
		est_store_writer_on_durable(srv->writer, audit_trail_durable, srv);
	/* estd -n makes no CRL: it only checks. */
	if (bind_it && ((rc = crl_keeper_new(srv, &srv->crl_keeper, e)) != EST_OK ||
	    (rc = key_maker_new(&srv->key_maker, e)) != EST_OK))
		goto fail;
	if (bind_it)
		metrics_attach(srv);
	*out = srv;
	return EST_OK;
fail:
	est_server_free(srv);
	return rc;
}

enum est_err
est_server_new(const struct est_config *cfg, struct est_server **out, struct est_error *e)
{
	return server_build(cfg, NULL, true, out, e);
}

enum est_err
est_server_new_from(const struct est_config *cfg, const struct est_server *old,
    struct est_server **out, struct est_error *e)
{
	return server_build(cfg, old, true, out, e);
}

enum est_err
est_server_check(const struct est_config *cfg, struct est_error *e)
{
	struct est_server *srv = NULL;
	enum est_err rc;

	if ((rc = server_build(cfg, NULL, false, &srv, e)) == EST_OK)
		est_server_free(srv);
	return rc;
}

static void
wait_for_stop(struct est_server *srv)
{
	struct pollfd pfd = { .fd = srv->stop_pipe[0], .events = POLLIN };
	char c;

	for (;;) {
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			break;
		if (read(srv->stop_pipe[0], &c, 1) == 1)
			break;
	}
}

/* Stop every started worker: drain it (or just stop it), then join it. */
static void
join_workers(struct est_server *srv, bool drain)
{
	struct est_error e = { 0 };

	for (size_t i = 0; i < srv->n_workers; i++) {
		if (!srv->workers[i].started)
			continue;
		if (!drain || worker_drain(&srv->workers[i], &e) != EST_OK)
			worker_stop(&srv->workers[i]);
	}
	for (size_t i = 0; i < srv->n_workers; i++) {
		if (!srv->workers[i].started)
			continue;
		pthread_join(srv->workers[i].thread, NULL);
		srv->workers[i].started = false;
	}
}

enum est_err
est_server_start(struct est_server *srv, struct est_error *e)
{
	enum est_err rc;

	/* Before the workers, so the first CRL request finds it taking requests. */
	if ((rc = crl_keeper_start(srv->crl_keeper, e)) != EST_OK ||
	    (rc = key_maker_start(srv->key_maker, e)) != EST_OK)
		return rc;
	/* Before the workers: the first server empties the lock-out file before any
	 * lock-out is written. */
	carry_start(srv);
	for (size_t i = 0; i < srv->n_listeners; i++)
		log_info("listening on %s://%s:%d (listener %s, tls = %s)",
		    srv->listeners[i].ssl_ctx != NULL ? "https" : "http",
		    srv->listeners[i].conf->host[0] != '\0' ? srv->listeners[i].conf->host : "*",
		    srv->listeners[i].port, srv->listeners[i].conf->name,
		    est_tls_mode_name(srv->listeners[i].conf->tls));
	for (size_t i = 0; i < srv->n_workers; i++) {
		struct est_worker *w = &srv->workers[i];

		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			join_workers(srv, false);
			return est_fail(e, EST_ERR_INTERNAL, "cannot start worker thread %zu", i);
		}
		w->started = true;
	}
	/* Only now: a reload whose thread cannot start is refused, and leaves the
	 * carried limits as the old configuration set them. */
	carry_retune(srv);
	log_info("serving with %zu worker(s)", srv->n_workers);
	return EST_OK;
}

void
est_server_drain(struct est_server *srv)
{
	size_t open = atomic_load(&srv->connections);

	log_info("draining: no new connections; %zu open, at most %u s for those in flight",
	    open, srv->cfg->drain_timeout);
	join_workers(srv, true);
	/* It answered the CRL requests the workers held while they drained. */
	crl_keeper_stop(srv->crl_keeper);
	srv->crl_keeper = NULL;
	key_maker_stop(srv->key_maker);
	srv->key_maker = NULL;
	/* Commit what is queued: a certificate is on record even if its answer never went. */
	est_store_writer_stop(srv->writer);
	srv->writer = NULL;
	open = atomic_load(&srv->connections);
	if (open > 0)
		log_warn("drain-timeout (%u s) passed; closing %zu connection(s) still open",
		    srv->cfg->drain_timeout, open);
	else
		log_info("drained");
}

enum est_err
est_server_run(struct est_server *srv, struct est_error *e)
{
	enum est_err rc;

	if ((rc = est_server_start(srv, e)) != EST_OK)
		return rc;
	wait_for_stop(srv);
	est_server_drain(srv);
	return EST_OK;
}

void
est_server_stop(struct est_server *srv)
{
	char c = 's';
	ssize_t n;

	/* write(2) is async-signal-safe; a full pipe already means "stop". */
	n = write(srv->stop_pipe[1], &c, 1);
	(void)n;
}

size_t
est_server_listener_count(const struct est_server *srv)
{
	return srv->n_listeners;
}

int
est_server_listener_port(const struct est_server *srv, size_t i, const char **name)
{
	if (i >= srv->n_listeners)
		return -1;
	if (name != NULL)
		*name = srv->listeners[i].conf->name;
	return srv->listeners[i].port;
}

void
est_server_free(struct est_server *srv)
{
	if (srv == NULL)
		return;
	metrics_detach(srv);
	crl_keeper_stop(srv->crl_keeper);
	key_maker_stop(srv->key_maker);
	est_store_writer_stop(srv->writer);
	for (size_t i = 0; i < srv->n_workers; i++)
		worker_free(&srv->workers[i]);
	free(srv->workers);
	for (size_t i = 0; i < srv->n_listeners; i++) {
		SSL_CTX_free(srv->listeners[i].ssl_ctx);
		if (srv->listeners[i].fd >= 0)
			close(srv->listeners[i].fd);
	}
	free(srv->listeners);
	vendor_free(srv);
	for (size_t i = 0; i < srv->n_aliases; i++) {
		free(srv->aliases[i].cacerts_body);
		free(srv->aliases[i].cacerts_after_body);
		free(srv->aliases[i].csrattrs_body);
		est_csrattrs_free(srv->aliases[i].csrattrs);
	}
	free(srv->aliases);
	for (size_t i = 0; i < srv->n_cas; i++)
		est_ca_free(srv->cas[i]);
	free(srv->cas);
	X509_STORE_free(srv->client_trust);
	est_keks_free(srv->keks);
	access_log_close(srv);
	est_audit_close(srv->audit);
	EVP_PKEY_free(srv->bearer.jwt_key);
	lockout_sync_fini(srv);
	carry_drop(srv);
	if (srv->stop_pipe[0] >= 0)
		close(srv->stop_pipe[0]);
	if (srv->stop_pipe[1] >= 0)
		close(srv->stop_pipe[1]);
	free(srv);
}
