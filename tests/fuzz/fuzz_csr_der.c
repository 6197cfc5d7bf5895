/*
 * Differential fuzzing of the fast CSR reader (lib/codec/csr_der.c) against
 * d2i_X509_REQ: whatever the fast path takes, d2i_X509_REQ must read too, to
 * the same encoding, subject, attributes, key and signature verdict, and the
 * ECDSA check on the fast path's key (csr_ecdsa.c) must give the verdict
 * X509_REQ_verify gives. A difference would let the policy judge other
 * names than the ones signed, or take a signature OpenSSL refuses.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "codec/csr_der.h"
#include "codec/csr_ecdsa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	X509_REQ *fast, *slow;
	unsigned char *a = NULL, *b = NULL;
	int la, lb, n, fast_ecdsa, slow_verdict;

	if ((fast = codec_csr_from_der_fast(data, size)) == NULL)
		return 0;
	if (ERR_peek_error() != 0)
		abort();
	fast_ecdsa = codec_csr_verify_ecdsa(fast);
	if (ERR_peek_error() != 0)
		abort();
	slow = d2i_X509_REQ(NULL, &p, (long)size);
	if (slow == NULL || p != data + size)
		abort();
	la = i2d_X509_REQ(fast, &a);
	lb = i2d_X509_REQ(slow, &b);
	n = X509_REQ_get_attr_count(fast);
	slow_verdict = X509_REQ_verify(slow, X509_REQ_get0_pubkey(slow)) == 1;
	if (la != (int)size || lb != la || memcmp(a, data, size) != 0 || memcmp(b, a, size) != 0 ||
	    X509_NAME_cmp(X509_REQ_get_subject_name(fast), X509_REQ_get_subject_name(slow)) != 0 ||
	    n != X509_REQ_get_attr_count(slow) ||
	    EVP_PKEY_eq(X509_REQ_get0_pubkey(fast), X509_REQ_get0_pubkey(slow)) != 1 ||
	    (X509_REQ_verify(fast, X509_REQ_get0_pubkey(fast)) == 1) != slow_verdict ||
	    (fast_ecdsa >= 0 && fast_ecdsa != slow_verdict))
		abort();
	ERR_clear_error();
	OPENSSL_free(a);
	OPENSSL_free(b);
	X509_REQ_free(slow);
	X509_REQ_free(fast);
	return 0;
}
