/*
 * Salted PBKDF2-HMAC-SHA256 password hashes (include/estkit/pwhash.h), the
 * one implementation behind the credentials file and enrolment codes.
 *
 * Invariant: a parsed hash has an iteration count within [ITER_MIN,
 * ITER_MAX], so a crafted file cannot make a check run for minutes.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth/creds.h"
#include "estkit/codec.h"
#include "estkit/pwhash.h"

#define PREFIX "pbkdf2-sha256$"
#define ITER_MIN 1000
#define ITER_MAX 10000000
#define B64_LEN(n) (4 * (((n) + 2) / 3))

static bool
derive(const char *pw, size_t pwlen, const unsigned char *salt, unsigned long iter,
    unsigned char out[EST_PWHASH_HASH_LEN])
{
	return pwlen <= INT_MAX && PKCS5_PBKDF2_HMAC(pw, (int)pwlen, salt, EST_PWHASH_SALT_LEN,
	    (int)iter, EVP_sha256(), EST_PWHASH_HASH_LEN, out) == 1;
}

enum est_err
est_pwhash_new(const char *pw, size_t pwlen, struct est_pwhash *out, struct est_error *e)
{
	struct est_pwhash h = { .iter = EST_PWHASH_ITER_DEFAULT };

	if (RAND_bytes(h.salt, sizeof(h.salt)) != 1)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "no random bytes for the salt");
	if (!derive(pw, pwlen, h.salt, h.iter, h.hash))
		return est_fail_ssl(e, EST_ERR_CRYPTO, "PBKDF2 failed");
	*out = h;
	return EST_OK;
}

void
est_pwhash_format(const struct est_pwhash *h, char out[EST_PWHASH_TEXT_MAX])
{
	char salt64[B64_LEN(EST_PWHASH_SALT_LEN) + 1], hash64[B64_LEN(EST_PWHASH_HASH_LEN) + 1];

	EVP_EncodeBlock((unsigned char *)salt64, h->salt, EST_PWHASH_SALT_LEN);
	EVP_EncodeBlock((unsigned char *)hash64, h->hash, EST_PWHASH_HASH_LEN);
	snprintf(out, EST_PWHASH_TEXT_MAX, PREFIX "%lu$%s$%s", h->iter, salt64, hash64);
}

const char *
est_pwhash_parse(const char *f, struct est_pwhash *out)
{
	struct est_pwhash h;
	const char *salt, *hash;
	char *end;
	size_t n;

	if (strncmp(f, PREFIX, strlen(PREFIX)) != 0)
		return "password hash does not start with " PREFIX;
	f += strlen(PREFIX);
	errno = 0;
	h.iter = strtoul(f, &end, 10);
	if (*f < '0' || *f > '9' || errno != 0 || *end != '$' || h.iter < ITER_MIN ||
	    h.iter > ITER_MAX)
		return "PBKDF2 iteration count must be a number from 1000 to 10000000";
	salt = end + 1;
	if ((hash = strchr(salt, '$')) == NULL)
		return "expected $SALT$HASH after the iteration count";
	if (!est_b64_decode_strict(salt, (size_t)(hash - salt), h.salt, EST_PWHASH_SALT_LEN, &n) ||
	    n != EST_PWHASH_SALT_LEN)
		return "salt is not base64 of 16 bytes";
	hash++;
	if (!est_b64_decode_strict(hash, strlen(hash), h.hash, EST_PWHASH_HASH_LEN, &n) ||
	    n != EST_PWHASH_HASH_LEN)
		return "hash is not base64 of 32 bytes";
	*out = h;
	return NULL;
}

bool
est_pwhash_matches(const struct est_pwhash *h, const char *pw, size_t pwlen, bool *failed)
{
	static const struct est_pwhash dummy = { .iter = EST_PWHASH_ITER_DEFAULT };
	unsigned char got[EST_PWHASH_HASH_LEN];
	const struct est_pwhash *use = h != NULL ? h : &dummy;
	bool same;

	*failed = false;
	if (!derive(pw, pwlen, use->salt, use->iter, got)) {
		*failed = true;
		return false;
	}
	same = CRYPTO_memcmp(got, use->hash, EST_PWHASH_HASH_LEN) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return h != NULL && same;
}
