/*
 * lib/codec internal: PKCS#10 DER to X509_REQ without OpenSSL 3.0's
 * decoder framework (csr_der.c). Not installed.
 */
#ifndef ESTKIT_CODEC_CSR_DER_H
#define ESTKIT_CODEC_CSR_DER_H

#include <stddef.h>

#include <openssl/x509.h>

/*
 * The CSR that is exactly der[0..len), its EC or RSA public key decoded
 * without a decoder chain; NULL when this path does not take it (another
 * key type, not a CSR, trailing bytes, an encoding the object would not
 * reproduce byte for byte, out of memory), and then d2i_X509_REQ decides
 * as before. Leaves OpenSSL's error queue as it found it. Caller
 * X509_REQ_free()s the result.
 */
X509_REQ *codec_csr_from_der_fast(const unsigned char *der, size_t len);

#endif
