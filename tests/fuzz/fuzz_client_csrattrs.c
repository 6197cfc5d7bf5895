/*
 * Fuzz the client's reading of a /csrattrs answer (RFC 7030 §4.5.2 as
 * corrected by RFC 8951) and its use: what decodes is applied to a CSR the
 * way estclient does before /simpleenroll (the server's extension values
 * and signature digest go into a CSR signed with a fixed P-256 key).
 */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "client/client_int.h"
#include "estkit/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *key;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct est_csr_wants *w = NULL;
	struct est_enroll_req req = { 0 };
	X509_REQ *csr = NULL;

	if (key == NULL && (key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		abort();
	if (est_csr_wants_decode(data, size, &w, NULL) != EST_OK)
		return 0;
	if (w->der == NULL || w->der_len != size)
		abort();
	req.attrs = w;
	if (cl_csr_build(&req, key, NULL, NULL, NULL, 0, &csr, NULL) == EST_OK) {
		if (X509_REQ_verify(csr, key) != 1)
			abort();
		X509_REQ_free(csr);
	}
	est_csr_wants_free(w);
	return 0;
}
