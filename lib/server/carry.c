/*
 * What a reload hands from a server to its successor (server_int.h).
 *
 * While the old server drains, both serve: the new one must accept the
 * Digest nonces the old one gave out (and refuse their replays), count the
 * old one's open connections against each address's share, and keep the
 * lock-outs running, or a reload would lift every lock-out and double what
 * one address may hold open. So these live here, shared by reference
 * count, rather than in either server. The limits themselves come from the
 * newest configuration.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "server/server_int.h"

/* Digest nonces remembered (about 40 bytes each): more than a minute of 401s at full speed. */
#define NONCE_CAPACITY 65536

struct server_carry {
	atomic_uint refs;
	bool serving;                     /* a server holding it has started */
	struct est_nonces *nonces;
	struct connlimit *per_source;
	struct ratelimit_table *fails_by_source;
	struct ratelimit_table *fails_by_name;
};

static void
carry_free(struct server_carry *k)
{
	est_nonces_free(k->nonces);
	connlimit_free(k->per_source);
	ratelimit_table_free(k->fails_by_source);
	ratelimit_table_free(k->fails_by_name);
	free(k);
}

static enum est_err
carry_new(const struct est_config *cfg, struct server_carry **out, struct est_error *e)
{
	unsigned char key[EST_HTTPAUTH_NONCE_KEY_LEN];
	struct server_carry *k = calloc(1, sizeof(*k));
	enum est_err rc;

	if (k == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	atomic_init(&k->refs, 1);
	if (RAND_bytes(key, sizeof(key)) != 1) {
		free(k);
		return est_fail_ssl(e, EST_ERR_CRYPTO, "RAND_bytes");
	}
	rc = est_nonces_new(key, NONCE_CAPACITY, &k->nonces, e);
	OPENSSL_cleanse(key, sizeof(key));
	if (rc == EST_OK)
		rc = connlimit_new(cfg->max_connections_per_address, &k->per_source, e);
	if (rc == EST_OK)
		rc = ratelimit_table_new(cfg->auth_fail_limit, cfg->auth_fail_window,
		    cfg->auth_lockout, RATELIMIT_CAPACITY, &k->fails_by_source, e);
	if (rc == EST_OK)
		rc = ratelimit_table_new(cfg->auth_fail_limit, cfg->auth_fail_window,
		    cfg->auth_lockout, RATELIMIT_CAPACITY, &k->fails_by_name, e);
	if (rc != EST_OK) {
		carry_free(k);
		return rc;
	}
	*out = k;
	return EST_OK;
}

enum est_err
carry_take(struct est_server *srv, const struct est_server *old, struct est_error *e)
{
	const struct est_config *cfg = srv->cfg;
	struct server_carry *k = NULL;
	enum est_err rc;

	if (old == NULL) {
		if ((rc = carry_new(cfg, &k, e)) != EST_OK)
			return rc;
	} else {
		k = old->carry;
		atomic_fetch_add(&k->refs, 1);
	}
	srv->carry = k;
	srv->nonces = k->nonces;
	srv->per_source = k->per_source;
	srv->fails_by_source = k->fails_by_source;
	srv->fails_by_name = k->fails_by_name;
	return EST_OK;
}

void
carry_start(struct est_server *srv)
{
	struct server_carry *k = srv->carry;

	if (!k->serving) {
		k->serving = true;
		lockout_sync_reset(srv);
	}
}

void
carry_retune(struct est_server *srv)
{
	const struct est_config *cfg = srv->cfg;
	struct server_carry *k = srv->carry;

	connlimit_set_limit(k->per_source, cfg->max_connections_per_address);
	ratelimit_table_retune(k->fails_by_source, cfg->auth_fail_limit, cfg->auth_fail_window,
	    cfg->auth_lockout);
	ratelimit_table_retune(k->fails_by_name, cfg->auth_fail_limit, cfg->auth_fail_window,
	    cfg->auth_lockout);
}

void
carry_drop(struct est_server *srv)
{
	struct server_carry *k = srv->carry;

	if (k == NULL)
		return;
	srv->carry = NULL;
	srv->nonces = NULL;
	srv->per_source = NULL;
	srv->fails_by_source = NULL;
	srv->fails_by_name = NULL;
	if (atomic_fetch_sub(&k->refs, 1) == 1)
		carry_free(k);
}
