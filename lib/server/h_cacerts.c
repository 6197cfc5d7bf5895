/*
 * /cacerts (RFC 7030 §4.1): the alias's CA chain up to the root as a
 * certs-only response; during a CA rollover both chains and the rollover
 * certificates (rollover.c). The bodies are computed once at start-up.
 */
#include <time.h>

#include "server/server_int.h"

/* RFC 7030 §4.1.3 names the bare type; some clients compare it exactly. */
#define CACERTS_TYPE "application/pkcs7-mime"

void
h_cacerts(struct est_req *r)
{
	const char *body;
	size_t len;

	rollover_cacerts(r->alias, time(NULL), &body, &len);
	http_add_header(r, "Content-Transfer-Encoding", "base64");
	http_reply(r, 200, CACERTS_TYPE, body, len);
}
