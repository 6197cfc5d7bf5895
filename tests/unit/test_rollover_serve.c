/*
 * Unit tests for what estd does while a CA rolls over (lib/server/rollover.c):
 * which CA issues before and after issue-from, and which /cacerts body is
 * served before and after the old CA certificate expires.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "server/server_int.h"

static void
issuer_switches_at_issue_from(void **state)
{
	struct est_ca *old = (struct est_ca *)0x1, *next = (struct est_ca *)0x2;
	struct est_alias a = { .ca = old };

	(void)state;
	/* No successor: always the alias's own CA. */
	assert_ptr_equal(rollover_issuer(&a, 2000000000), old);
	a.next_ca = next;
	a.next_from = 1800000000;
	assert_ptr_equal(rollover_issuer(&a, 1799999999), old);
	assert_ptr_equal(rollover_issuer(&a, 1800000000), next);
	assert_ptr_equal(rollover_issuer(&a, 1900000000), next);
}

static void
cacerts_drop_the_old_ca_when_it_expires(void **state)
{
	char during[] = "DURING", after[] = "AFTER";
	struct est_alias a = { .cacerts_body = during, .cacerts_len = 6 };
	const char *body;
	size_t len;

	(void)state;
	rollover_cacerts(&a, 2000000000, &body, &len);
	assert_ptr_equal(body, during);
	a.cacerts_after_body = after;
	a.cacerts_after_len = 5;
	a.cacerts_switch = 1800000000;
	rollover_cacerts(&a, 1799999999, &body, &len);
	assert_ptr_equal(body, during);
	assert_int_equal(len, 6);
	rollover_cacerts(&a, 1800000000, &body, &len);
	assert_ptr_equal(body, after);
	assert_int_equal(len, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(issuer_switches_at_issue_from),
		cmocka_unit_test(cacerts_drop_the_old_ca_when_it_expires),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
