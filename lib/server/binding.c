/*
 * The channel-binding value of a TLS connection, for RFC 7030 §3.5 linking
 * of a CSR to the connection that carries it (est-conformance.md CB-05).
 *
 * TLS 1.2: RFC 5929 tls-unique, the verify_data of the first Finished of
 * the latest handshake: the client's in a full handshake, the server's in a
 * resumed one (EST-S-35). TLS 1.3 has no tls-unique (CB-02), so RFC 9266
 * tls-exporter is used: the exporter with label "EXPORTER-Channel-Binding",
 * an empty context and 32 bytes (CB-01). Renegotiation is off on every
 * listener (tls.c), as tls-exporter requires (CB-03).
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "server/server_int.h"

#define EXPORTER_LABEL "EXPORTER-Channel-Binding"
#define EXPORTER_LEN 32

enum est_err
binding_value(SSL *ssl, char *out, size_t outlen, struct est_error *e)
{
	unsigned char raw[EVP_MAX_MD_SIZE > EXPORTER_LEN ? EVP_MAX_MD_SIZE : EXPORTER_LEN];
	size_t n;

	if (ssl == NULL)
		return est_fail(e, EST_ERR_FORBIDDEN, "channel binding needs TLS");
	if (SSL_version(ssl) >= TLS1_3_VERSION) {
		if (SSL_export_keying_material(ssl, raw, EXPORTER_LEN, EXPORTER_LABEL,
		    strlen(EXPORTER_LABEL), NULL, 0, 0) != 1)
			return est_fail_ssl(e, EST_ERR_FORBIDDEN, "no tls-exporter value on this connection");
		n = EXPORTER_LEN;
	} else if (SSL_session_reused(ssl)) {
		n = SSL_get_finished(ssl, raw, sizeof(raw));
	} else {
		n = SSL_get_peer_finished(ssl, raw, sizeof(raw));
	}
	if (n == 0 || n > sizeof(raw) || outlen < 4 * ((n + 2) / 3) + 1)
		return est_fail(e, EST_ERR_FORBIDDEN, "no tls-unique value on this connection");
	EVP_EncodeBlock((unsigned char *)out, raw, (int)n);
	return EST_OK;
}
