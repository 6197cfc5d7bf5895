/*
 * lib/codec internal: a CSR's ECDSA signature checked on the legacy EC key
 * the fast reader made (csr_ecdsa.c). Not installed.
 */
#ifndef ESTKIT_CODEC_CSR_ECDSA_H
#define ESTKIT_CODEC_CSR_ECDSA_H

#include <openssl/x509.h>

/*
 * Whether req's signature verifies under its own public key: 1 if it does,
 * 0 if it does not, -1 when this check does not take the request (a key
 * that is not a legacy EC key on P-256, P-384 or P-521, such as every key
 * d2i_X509_REQ makes; a signature algorithm other than ecdsa-with-SHA256,
 * -SHA384 or -SHA512 without parameters; out of memory): then
 * X509_REQ_verify decides. Leaves OpenSSL's error queue as it found it.
 */
int codec_csr_verify_ecdsa(X509_REQ *req);

#endif
