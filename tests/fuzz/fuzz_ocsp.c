/*
 * Fuzz the OCSP responder's handling of requests: what anyone who can reach
 * a listener sends to <ocsp-path>, before any authentication. The first
 * byte chooses POST (the rest is the DER body) or GET (the rest is the path
 * after <ocsp-path>/); a request that parses is matched against a CA and
 * answered, signed, as h_ocsp.c does. A CA is made once in a private
 * temporary directory.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estkit/ca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct est_ca *
make_ca(void)
{
	char dir[] = "/tmp/estkit-fuzz-ocsp.XXXXXX", key_path[64], cert_path[64];
	struct est_error e = { 0 };
	struct est_ca *ca = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(key_path, sizeof(key_path), "%s/ca.key", dir);
	snprintf(cert_path, sizeof(cert_path), "%s/ca.pem", dir);
	if (est_key_generate("ec:P-256", &key, &e) != EST_OK ||
	    est_ca_make_root(key, "Fuzz CA", 30, &cert, &e) != EST_OK ||
	    est_key_write(key_path, key, &e) != EST_OK || est_cert_write(cert_path, cert, &e) != EST_OK ||
	    est_ca_load("fuzz", cert_path, key_path, NULL, &ca, &e) != EST_OK)
		abort();
	unlink(key_path);
	unlink(cert_path);
	rmdir(dir);
	EVP_PKEY_free(key);
	X509_free(cert);
	return ca;
}

static void
answer(struct est_ca *ca, struct est_ocsp_request *req)
{
	struct est_ocsp_status st[EST_OCSP_MAX_ENTRIES];
	struct est_error e = { 0 };
	size_t n = est_ocsp_request_count(req);
	unsigned char *der = NULL;
	size_t len = 0;

	if (n < 1 || n > EST_OCSP_MAX_ENTRIES)
		abort();
	for (size_t i = 0; i < n; i++) {
		char *serial = NULL;
		bool ours = false;

		memset(&st[i], 0, sizeof(st[i]));
		st[i].status = EST_OCSP_UNKNOWN;
		if (est_ocsp_request_entry(req, i, ca, &ours, &serial, &e) != EST_OK)
			continue;
		if (serial == NULL)
			abort();
		/* The seeds name other CAs: every status is answered whatever the match. */
		st[i].status = (enum est_ocsp_cert_status)((unsigned char)serial[0] % 3);
		st[i].revoked_at = 1700000000;
		st[i].reason = serial[0] % 11 == 7 ? 0 : serial[0] % 11;
		free(serial);
	}
	if (est_ocsp_respond(ca, req, st, 1700000000, 3600, &der, &len, &e) == EST_OK) {
		if (len == 0)
			abort();
		free(der);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct est_ca *ca;
	struct est_ocsp_request *req = NULL;
	struct est_error e = { 0 };
	char *path;

	if (ca == NULL)
		ca = make_ca();
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		if ((path = malloc(size)) == NULL)
			return 0;
		memcpy(path, data + 1, size - 1);
		path[size - 1] = '\0';
		if (est_ocsp_request_from_path(path, &req, &e) == EST_OK)
			answer(ca, req);
		free(path);
	} else if (est_ocsp_request_parse(data + 1, size - 1, &req, &e) == EST_OK) {
		answer(ca, req);
	}
	est_ocsp_request_free(req);
	return 0;
}
