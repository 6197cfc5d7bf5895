/*
 * Fuzz the client's opening of an encrypted server-generated key (RFC 7030
 * §4.4.2): EnvelopedData -> SignedData -> AsymmetricKeyPackage. Each input
 * goes through est_keypkg_open as a certificate recipient (kari, the fixed
 * P-256 test key below) and as a shared-key recipient (kekri) -- the one
 * reader, which the client uses too. The recipient certificate is
 * also the only trust anchor, so a seed signed with its key opens fully.
 * The key and certificate exist only for this harness.
 */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/pem.h>

#include "estkit/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgkWDBtWVgVIJk6svM\n"
	"KzMja2g1APt3+aAeqwwahy9OBHmhRANCAATszNRZFVR/Ko8pVtL/UV8uysCYufCh\n"
	"Ig4BIAj3vYcMmgxVFvXwQ3sVwnjZyBE3rJECJ1f9w7kWJOjSydEAniOq\n"
	"-----END PRIVATE KEY-----\n";

static const char cert_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBbzCCARagAwIBAgIBATAKBggqhkjOPQQDAjAgMR4wHAYDVQQDDBVlc3RraXQt\n"
	"ZnV6ei1yZWNpcGllbnQwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBa\n"
	"MCAxHjAcBgNVBAMMFWVzdGtpdC1mdXp6LXJlY2lwaWVudDBZMBMGByqGSM49AgEG\n"
	"CCqGSM49AwEHA0IABOzM1FkVVH8qjylW0v9RXy7KwJi58KEiDgEgCPe9hwyaDFUW\n"
	"9fBDexXCeNnIETeskQInV/3DuRYk6NLJ0QCeI6qjPzA9MB0GA1UdDgQWBBToIHxG\n"
	"GpS1XzLpT0GBOrDj5x9M0DAPBgNVHRMBAf8EBTADAQH/MAsGA1UdDwQEAwICjDAK\n"
	"BggqhkjOPQQDAgNHADBEAiAts+2oB18PyLBiVAddbphUhvMrM17Ks1ZRSqEkxU9J\n"
	"CAIgB3nT5xAPy+PLGqVyfabMq/mI60Nwafro5DIq7L72eG4=\n"
	"-----END CERTIFICATE-----\n";

/* The shared key of the kekri seed. */
static const unsigned char kek[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
static const unsigned char kek_id[4] = { 0xde, 0xad, 0xbe, 0xef };

static EVP_PKEY *key;
static X509 *cert;
static STACK_OF(X509) *trust;

static void
init(void)
{
	BIO *b = BIO_new_mem_buf(key_pem, -1);

	key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	b = BIO_new_mem_buf(cert_pem, -1);
	cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (key == NULL || cert == NULL || (trust = sk_X509_new_null()) == NULL ||
	    !sk_X509_push(trust, cert))
		abort();
}

static void
open_as(const uint8_t *data, size_t size, const struct est_key_recipient *rcpt)
{
	EVP_PKEY *out = NULL;

	if (est_keypkg_open(data, size, rcpt, trust, &out, NULL, NULL) == EST_OK) {
		if (out == NULL)
			abort();
		EVP_PKEY_free(out);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct est_key_recipient by_cert = { 0 }, by_kek = { 0 };

	if (key == NULL)
		init();
	by_cert.cert = cert;
	by_cert.key = key;
	by_kek.kek = kek;
	by_kek.kek_len = sizeof(kek);
	by_kek.kek_id = kek_id;
	by_kek.kek_id_len = sizeof(kek_id);
	open_as(data, size, &by_cert);
	open_as(data, size, &by_kek);
	return 0;
}
