/*
 * SHA-256 as lowercase hex (sha256hex.h). By a table, not snprintf per
 * byte: that cost more than the hash itself (about 20,000 instructions).
 */
#include <pthread.h>

#include <openssl/evp.h>

#include "util/sha256hex.h"

/*
 * Fetched once: EVP_sha256() makes every EVP_Digest look the algorithm up
 * in the default library context again (EVP_MD_fetch, about 4,000
 * instructions; twice an enrolment, for the audit entry and the record).
 */
static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
fetch_sha256(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

bool
est_sha256_hex(const void *data, size_t len, char hex[EST_SHA256_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EST_SHA256_HEX_LEN / 2];
	unsigned int mdlen = 0;

	if (pthread_once(&sha256_once, fetch_sha256) != 0 || sha256 == NULL ||
	    EVP_Digest(data, len, md, &mdlen, sha256, NULL) != 1 || mdlen != sizeof(md))
		return false;
	for (size_t i = 0; i < sizeof(md); i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0x0f];
	}
	hex[EST_SHA256_HEX_LEN] = '\0';
	return true;
}
