/*
 * Private keys: generation from a short spec, PEM files on disk, and the key
 * policy applied to keys in CSRs.
 *
 * Key files are created 0600 with O_EXCL and never overwritten; a key file
 * that group or others can reach is refused when read with check_mode, and
 * an encrypted key is refused rather than prompting on a terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "ca/ca_int.h"
#include "estkit/ca.h"
#include "estkit/codec.h"

struct key_spec {
	const char *spec;
	const char *type;   /* OpenSSL key type */
	const char *curve;  /* EC only */
	size_t bits;        /* RSA only */
	int strength;       /* security bits, as EVP_PKEY_get_security_bits says */
};

static const struct key_spec key_specs[] = {
	{ "ec:P-256", "EC", "P-256", 0, 128 },
	{ "ec:prime256v1", "EC", "P-256", 0, 128 },
	{ "ec:P-384", "EC", "P-384", 0, 192 },
	{ "ec:secp384r1", "EC", "P-384", 0, 192 },
	{ "rsa:2048", "RSA", NULL, 2048, 112 },
	{ "rsa:3072", "RSA", NULL, 3072, 128 },
	{ "rsa:4096", "RSA", NULL, 4096, 152 },
	{ "ed25519", "ED25519", NULL, 0, 128 },
};

enum est_err
est_key_generate(const char *spec, EVP_PKEY **out, struct est_error *e)
{
	const struct key_spec *ks = NULL;
	EVP_PKEY *key;
	size_t i;

	for (i = 0; spec != NULL && i < sizeof(key_specs) / sizeof(key_specs[0]); i++)
		if (strcasecmp(spec, key_specs[i].spec) == 0)
			ks = &key_specs[i];
	if (ks == NULL)
		return est_fail(e, EST_ERR_BADREQ, "unknown key type \"%s\": use ec:P-256, "
		    "ec:P-384, rsa:2048, rsa:3072, rsa:4096 or ed25519", spec ? spec : "");
	if (ks->curve != NULL)
		key = EVP_PKEY_Q_keygen(NULL, NULL, ks->type, ks->curve);
	else if (ks->bits != 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, ks->type, ks->bits);
	else
		key = EVP_PKEY_Q_keygen(NULL, NULL, ks->type);
	if (key == NULL)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot generate %s key", ks->spec);
	*out = key;
	return EST_OK;
}

bool
est_key_spec_known(const char *spec)
{
	return est_key_spec_strength(spec) > 0;
}

int
est_key_spec_strength(const char *spec)
{
	for (size_t i = 0; spec != NULL && i < sizeof(key_specs) / sizeof(key_specs[0]); i++)
		if (strcasecmp(spec, key_specs[i].spec) == 0)
			return key_specs[i].strength;
	return 0;
}

enum est_err
est_key_generate_like(EVP_PKEY *like, EVP_PKEY **out, struct est_error *e)
{
	char group[64];
	EVP_PKEY *key = NULL;
	enum est_err rc;

	if ((rc = est_key_policy_check(like, e)) != EST_OK)
		return rc;
	if (EVP_PKEY_is_a(like, "RSA"))
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)EVP_PKEY_get_bits(like));
	else if (EVP_PKEY_is_a(like, "EC") &&
	    EVP_PKEY_get_utf8_string_param(like, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL))
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
	else if (EVP_PKEY_is_a(like, "ED25519"))
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (key == NULL)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot generate a key like the CSR's");
	*out = key;
	return EST_OK;
}

static int
write_key(FILE *fp, void *key)
{
	return PEM_write_PKCS8PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL);
}

enum est_err
est_key_write(const char *path, EVP_PKEY *key, struct est_error *e)
{
	return ca_file_write(path, 0600, write_key, key, "private key", e);
}

/* Whether an EC key is on P-256 or P-384, judged by its named group. */
static bool
ec_curve_allowed(EVP_PKEY *key)
{
	char group[80];
	size_t len;
	int nid;

	if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
	    sizeof(group), &len) != 1)
		return false;
	nid = OBJ_txt2nid(group);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(group);
	return nid == NID_X9_62_prime256v1 || nid == NID_secp384r1;
}

enum est_err
est_key_policy_check(EVP_PKEY *key, struct est_error *e)
{
	char desc[64];
	int bits;

	if (key == NULL)
		return est_fail(e, EST_ERR_BADREQ, "the request carries no public key");
	bits = EVP_PKEY_get_bits(key);
	if (EVP_PKEY_is_a(key, "RSA") && bits >= 2048 && bits <= 4096)
		return EST_OK;
	if (EVP_PKEY_is_a(key, "EC") && ec_curve_allowed(key))
		return EST_OK;
	if (EVP_PKEY_is_a(key, "ED25519"))
		return EST_OK;
	est_key_describe(key, desc, sizeof(desc));
	ERR_clear_error();
	return est_fail(e, EST_ERR_BADREQ, "unsupported key %s: use RSA 2048-4096, "
	    "EC P-256/P-384 or Ed25519", desc);
}
