/*
 * Unit tests for when a certificate is due for renewal (lib/client/renewal.c,
 * estclient renew): the share of the lifetime, the time before expiry,
 * whichever is earlier, and the settings refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/x509.h>

#include "estkit/client.h"

/* A certificate valid from nb for life seconds (only the dates matter). */
static X509 *
dated(time_t nb, long life)
{
	X509 *x = X509_new();

	assert_non_null(x);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), nb));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), nb + life));
	return x;
}

static void
share_of_lifetime(void **state)
{
	struct est_error e = { 0 };
	X509 *x = dated(1700000000, 900);
	time_t at;

	(void)state;
	assert_int_equal(est_cert_renew_time(x, 2.0 / 3.0, 0, &at, &e), EST_OK);
	assert_int_equal(at, 1700000000 + 600);
	assert_int_equal(est_cert_renew_time(x, 1.0, 0, &at, &e), EST_OK);
	assert_int_equal(at, 1700000000 + 900);
	X509_free(x);
}

static void
before_expiry_wins_when_earlier(void **state)
{
	struct est_error e = { 0 };
	X509 *x = dated(1700000000, 90 * 86400);
	time_t at;

	(void)state;
	/* 2/3 of 90 days is day 60; 40 days before expiry is day 50. */
	assert_int_equal(est_cert_renew_time(x, 2.0 / 3.0, 40LL * 86400, &at, &e), EST_OK);
	assert_int_equal(at, 1700000000 + 50 * 86400);
	/* 10 days before expiry is later than the share: the share decides. */
	assert_int_equal(est_cert_renew_time(x, 2.0 / 3.0, 10LL * 86400, &at, &e), EST_OK);
	assert_int_equal(at, 1700000000 + 60 * 86400);
	X509_free(x);
}

static void
bad_settings_refused(void **state)
{
	struct est_error e = { 0 };
	X509 *x = dated(1700000000, 900), *y = dated(1700000000, 0);
	time_t at = 0;

	(void)state;
	assert_int_equal(est_cert_renew_time(x, 0.0, 0, &at, &e), EST_ERR_CONFIG);
	assert_int_equal(est_cert_renew_time(x, 1.5, 0, &at, &e), EST_ERR_CONFIG);
	assert_int_equal(est_cert_renew_time(x, 0.5, -1, &at, &e), EST_ERR_CONFIG);
	/* notAfter not after notBefore: no lifetime to share. */
	assert_int_equal(est_cert_renew_time(y, 0.5, 0, &at, &e), EST_ERR_BADREQ);
	assert_int_equal(at, 0);
	X509_free(x);
	X509_free(y);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(share_of_lifetime),
		cmocka_unit_test(before_expiry_wins_when_earlier),
		cmocka_unit_test(bad_settings_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
