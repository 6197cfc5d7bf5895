/*
 * Who may sign a server-generated key (RFC 7030 §4.4.2): the SignedData
 * around the key package is the client's only proof of where the key came
 * from, so "any certificate under some trust anchor" is not enough. The
 * signer must be the CA that issued the certificate delivered with the key
 * (estd signs with it) or a signer the user named, and fit to sign.
 */
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "client/client_int.h"
#include "estkit/codec.h"

/* A CA certificate, or keyUsage absent or with digitalSignature. */
static bool
fit_to_sign(X509 *x)
{
	uint32_t flags = X509_get_extension_flags(x);

	if (flags & EXFLAG_CA)
		return true;
	return !(flags & EXFLAG_KUSAGE) || (X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
}

enum est_err
cl_key_signer_check(STACK_OF(X509) *signers, STACK_OF(X509) *allowed, struct est_error *e)
{
	if (sk_X509_num(signers) <= 0)
		return est_fail(e, EST_ERR_SERVER, "the server-generated key is not signed");
	for (int i = 0; i < sk_X509_num(signers); i++) {
		X509 *s = sk_X509_value(signers, i);
		bool known = false;

		for (int k = 0; k < sk_X509_num(allowed) && !known; k++)
			known = X509_cmp(s, sk_X509_value(allowed, k)) == 0;
		if (!known) {
			char *name = est_name_text(X509_get_subject_name(s));

			est_fail(e, EST_ERR_SERVER, "the server-generated key is signed by \"%s\", "
			    "not by the CA that issued the certificate (nor by --key-signer): refused",
			    name != NULL ? name : "?");
			free(name);
			return EST_ERR_SERVER;
		}
		if (!fit_to_sign(s))
			return est_fail(e, EST_ERR_SERVER, "the server-generated key's signer may not "
			    "sign (keyUsage without digitalSignature): refused");
	}
	ERR_clear_error();
	return EST_OK;
}
