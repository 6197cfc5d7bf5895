/*
 * /cacerts (RFC 7030 §4.1): the alias's CA chain up to the root as a
 * certs-only response. The body is computed once at start-up.
 */
#include "server/server_int.h"

/* RFC 7030 §4.1.3 names the bare type; some clients compare it exactly. */
#define CACERTS_TYPE "application/pkcs7-mime"

void
h_cacerts(struct est_req *r)
{
	http_add_header(r, "Content-Transfer-Encoding", "base64");
	http_reply(r, 200, CACERTS_TYPE, r->alias->cacerts_body, r->alias->cacerts_len);
}
