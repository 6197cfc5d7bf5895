/*
 * The channel-binding value a client puts in its CSR's challengePassword to
 * tie the request to its TLS connection (RFC 7030 §3.5).
 *
 * TLS 1.2: tls-unique (RFC 5929), the first Finished message of the latest
 * handshake -- the client's own in a full handshake, the server's in a
 * resumed one (est-conformance.md EST-S-35, pitfall 11). TLS 1.3 has no
 * tls-unique; there the value is tls-exporter (RFC 9266: label
 * "EXPORTER-Channel-Binding", empty context, 32 bytes), as CB-05 decides.
 */
#include <string.h>

#include <openssl/ssl.h>

#include "client/client_int.h"

#define EXPORTER_LABEL "EXPORTER-Channel-Binding"
#define EXPORTER_LEN 32

size_t
cl_chanbind(SSL *ssl, unsigned char out[CL_CB_MAX])
{
	size_t n;

	if (!SSL_is_init_finished(ssl))
		return 0;
	if (SSL_version(ssl) >= TLS1_3_VERSION) {
		/* use_context = 1 with an empty context, as RFC 9266 asks. */
		if (SSL_export_keying_material(ssl, out, EXPORTER_LEN, EXPORTER_LABEL,
		    strlen(EXPORTER_LABEL), NULL, 0, 1) != 1)
			return 0;
		return EXPORTER_LEN;
	}
	n = SSL_session_reused(ssl) ? SSL_get_peer_finished(ssl, out, CL_CB_MAX) :
	    SSL_get_finished(ssl, out, CL_CB_MAX);
	return n > CL_CB_MAX ? 0 : n;
}
