/*
 * Fuzz the request-body and CSR readers: everything a client can put in a
 * /simpleenroll body reaches these functions before any authentication.
 */
#include <stdint.h>
#include <stdlib.h>

#include "estkit/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	X509_REQ *csr = NULL;
	GENERAL_NAMES *san = NULL;
	char *pw = NULL, *text;

	if (est_csr_from_body(data, size, &csr, NULL) != EST_OK)
		return 0;
	(void)est_csr_verify(csr, NULL);
	if (est_csr_get_san(csr, &san, NULL) == EST_OK) {
		text = est_san_text(san);
		free(text);
		GENERAL_NAMES_free(san);
	}
	if (est_csr_challenge_password(csr, &pw, NULL) == EST_OK)
		free(pw);
	text = est_name_text(X509_REQ_get_subject_name(csr));
	free(text);
	X509_REQ_free(csr);
	return 0;
}
