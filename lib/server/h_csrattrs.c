/*
 * /csrattrs (RFC 7030 §4.5): what the alias asks clients to put in their
 * CSRs, as base64 DER CsrAttrs, without client authentication (EST-S-90);
 * 204 when the alias asks for nothing (EST-S-92). The body is computed once
 * at start-up.
 */
#include "server/server_int.h"

#define CSRATTRS_TYPE "application/csrattrs"

void
h_csrattrs(struct est_req *r)
{
	if (r->alias->csrattrs_body == NULL) {
		http_reply(r, 204, NULL, NULL, 0);
		return;
	}
	http_add_header(r, "Content-Transfer-Encoding", "base64");
	http_reply(r, 200, CSRATTRS_TYPE, r->alias->csrattrs_body, r->alias->csrattrs_len);
}
