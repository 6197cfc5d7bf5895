/*
 * Fuzz what the server reads from a CSR's attributes, all before or during
 * authentication: the encryption request of /serverkeygen (keyreq.c), the
 * challengePassword, ChangeSubjectName, the requested subjectAltName, the
 * subject's fields, and the /csrattrs enforcement against a few fixed
 * attribute lists.
 */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/objects.h>

#include "estkit/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const lists[] = {
	"ecPublicKey:P-256 ecPublicKey:P-384, ecdsa-with-SHA256",
	"rsaEncryption:2048, sha256WithRSAEncryption",
	"challengePassword, extensionRequest:subjectAltName, extensionRequest:keyUsage",
	"subjectAltName, macAddress, ED25519",
};
#define N_LISTS (sizeof(lists) / sizeof(lists[0]))
static struct est_csrattrs *wants[N_LISTS];

static void
load_lists(void)
{
	for (size_t i = 0; i < N_LISTS; i++)
		if (est_csrattrs_parse(lists[i], &wants[i], NULL) != EST_OK)
			abort();
}

static void
keyreq(X509_REQ *csr)
{
	struct est_keyreq *r = NULL;

	if (est_csr_keyreq(csr, &r, NULL) != EST_OK || r == NULL)
		return;
	if ((r->kek_id == NULL) == (r->cert_id == NULL) || r->caps == NULL)
		abort();
	(void)est_keyreq_lists(r, NID_aes_256_cbc);
	est_keyreq_free(r);
}

static void
names(X509_REQ *csr)
{
	GENERAL_NAMES *san = NULL;
	X509_NAME *old = NULL;
	char *text;
	bool present;

	if (est_csr_get_san(csr, &san, NULL) == EST_OK) {
		free(est_san_text(san));
		if (!est_san_equal(san, san))
			abort();
		GENERAL_NAMES_free(san);
	}
	if (est_csr_change_subject_name(csr, &present, &old, NULL) == EST_OK) {
		if (old != NULL && !present)
			abort();
		if (old != NULL) {
			free(est_name_text(old));
			(void)est_name_equal_unordered(old, X509_REQ_get_subject_name(csr));
			X509_NAME_free(old);
		}
	}
	if (est_name_field(X509_REQ_get_subject_name(csr), NID_commonName, &text, NULL) == EST_OK)
		free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	X509_REQ *csr = NULL;
	char *pw = NULL;

	if (wants[0] == NULL)
		load_lists();
	if (est_csr_from_body(data, size, &csr, NULL) != EST_OK)
		return 0;
	keyreq(csr);
	if (est_csr_challenge_password(csr, &pw, NULL) == EST_OK)
		free(pw);
	names(csr);
	for (size_t i = 0; i < N_LISTS; i++) {
		(void)est_csrattrs_check(wants[i], csr, true, NULL);
		(void)est_csrattrs_check(wants[i], csr, false, NULL);
	}
	X509_REQ_free(csr);
	return 0;
}
