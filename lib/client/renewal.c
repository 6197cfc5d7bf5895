/*
 * When a certificate is due for renewal (estclient renew, RFC 7030 §4.2.2):
 * after a share of its lifetime, or a given time before it expires,
 * whichever comes first. Only the certificate's own notBefore and notAfter
 * count: they are what every client can see, whatever profile made them.
 */
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/err.h>

#include "estkit/client.h"

/* A certificate time as Unix seconds; false when it cannot be read. */
static bool
unix_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		return false;
	}
	*out = timegm(&tm);
	return true;
}

enum est_err
est_cert_renew_time(X509 *cert, double share, long long before, time_t *at,
    struct est_error *e)
{
	time_t nb, na, by_share, by_before;

	if (!(share > 0.0 && share <= 1.0) || before < 0)
		return est_fail(e, EST_ERR_CONFIG, "the renewal share must be more than 0 and at "
		    "most 1, the time before expiry 0 or more");
	if (!unix_time(X509_get0_notBefore(cert), &nb) ||
	    !unix_time(X509_get0_notAfter(cert), &na) || na <= nb)
		return est_fail(e, EST_ERR_BADREQ, "the certificate's validity cannot be read");
	by_share = nb + (time_t)((double)(na - nb) * share);
	by_before = na - (time_t)before;
	*at = by_share < by_before ? by_share : by_before;
	return EST_OK;
}
