/*
 * The crypto floor: the CPU time of the public-key operations a server
 * cannot avoid for one enrolment, measured here with OpenSSL on this
 * machine, in the same run as the load (so the figures share the machine's
 * state). Measured as this thread's CPU time, not wall clock, so other load
 * on the machine slows it less.
 *
 * Per enrolment the server verifies the CSR's signature and signs the
 * certificate. A full TLS handshake adds one key exchange (X25519: generate
 * the key share, derive the secret) and one signature with the server's
 * key; with a client certificate, also a verification of the client's
 * CertificateVerify and one of its certificate (by the CA's key). A resumed
 * handshake (PSK with (EC)DHE) adds the key exchange only.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "estbench.h"

double
floor_thread_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const unsigned char msg[] = "a TLS 1.3 handshake transcript hash stands in here";

static bool
sign_once(EVP_PKEY *key, unsigned char *sig, size_t *siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok;

	ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestSign(ctx, sig, siglen, msg, sizeof(msg)) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

static bool
verify_once(EVP_PKEY *key, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok;

	ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, msg, sizeof(msg)) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* The peer's share is fixed; the server's side is a fresh key and a derivation. */
static bool
kex_once(EVP_PKEY *peer)
{
	EVP_PKEY *mine = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	EVP_PKEY_CTX *ctx = mine != NULL ? EVP_PKEY_CTX_new(mine, NULL) : NULL;
	unsigned char secret[32];
	size_t len = sizeof(secret);
	bool ok;

	ok = ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
	    EVP_PKEY_derive(ctx, secret, &len) == 1;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(mine);
	return ok;
}

enum op { OP_SIGN, OP_VERIFY, OP_KEX };

/* Mean CPU ms of op over at least ms_each ms (and 20 runs). */
static bool
time_op(enum op op, EVP_PKEY *key, double ms_each, double *out)
{
	unsigned char sig[512];
	size_t siglen = sizeof(sig);
	double t0, spent;
	unsigned long runs = 0;
	bool ok = op != OP_VERIFY || sign_once(key, sig, &siglen);

	t0 = floor_thread_cpu_ms();
	do {
		for (int i = 0; ok && i < 10; i++, runs++) {
			size_t l = sizeof(sig);

			ok = op == OP_SIGN ? sign_once(key, sig, &l) :
			    op == OP_VERIFY ? verify_once(key, sig, siglen) : kex_once(key);
		}
		spent = floor_thread_cpu_ms() - t0;
	} while (ok && (spent < ms_each || runs < 20));
	*out = spent / (double)runs;
	return ok;
}

bool
floor_measure(double ms_each, struct floor_ops *out)
{
	struct floor_ops ops;
	EVP_PKEY *key, *peer;
	bool ok = true;

	for (int t = 0; ok && t < KEY__MAX; t++) {
		ok = (key = key_new((enum key_type)t)) != NULL &&
		    time_op(OP_SIGN, key, ms_each, &ops.sign[t]) &&
		    time_op(OP_VERIFY, key, ms_each, &ops.verify[t]);
		EVP_PKEY_free(key);
	}
	peer = ok ? EVP_PKEY_Q_keygen(NULL, NULL, "X25519") : NULL;
	ok = ok && peer != NULL && time_op(OP_KEX, peer, ms_each, &ops.kex);
	EVP_PKEY_free(peer);
	if (!ok) {
		fprintf(stderr, "estbench: cannot measure the crypto floor\n");
		ERR_print_errors_fp(stderr);
		return false;
	}
	*out = ops;
	return true;
}

double
floor_per_enrolment(const struct floor_ops *ops, const struct floor_spec *s)
{
	double ms = ops->verify[s->csr_key] + ops->sign[s->ca_key];

	if (s->full_handshake) {
		ms += ops->kex + ops->sign[s->server_key];
		if (s->client_cert)
			ms += ops->verify[s->client_key] + ops->verify[s->ca_key];
	} else if (s->resumed_handshake) {
		ms += ops->kex;
	}
	return ms;
}
