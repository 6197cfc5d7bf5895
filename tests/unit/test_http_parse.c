/*
 * Unit tests for the HTTP request head parser (lib/server/http_parse.c):
 * what is accepted, and the status each malformed head is refused with.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "server/http_parse.h"

static int
parse(const char *text, struct http_head *h)
{
	const char *reason = NULL;
	int status = http_parse_head(text, strlen(text), 64, h, &reason);

	if (status != 0)
		assert_non_null(reason);
	return status;
}

static void
test_good_head(void **state)
{
	struct http_head h;

	(void)state;
	assert_int_equal(parse("POST /.well-known/est/simpleenroll?x=1 HTTP/1.1\r\n"
	    "Host: a\r\ncontent-length:  12 \r\nAuthorization: Basic abc\r\n\r\n", &h), 0);
	assert_string_equal(h.method, "POST");
	assert_string_equal(h.target, "/.well-known/est/simpleenroll?x=1");
	assert_string_equal(h.path, "/.well-known/est/simpleenroll");
	assert_int_equal(h.minor, 1);
	assert_int_equal(h.content_length, 12);
	assert_true(h.keep_alive);
	assert_false(h.expect_continue);
	assert_string_equal(http_head_field(&h, "AUTHORIZATION"), "Basic abc");
	assert_null(http_head_field(&h, "Cookie"));
	http_head_clear(&h);
}

static void
test_keep_alive_rules(void **state)
{
	struct http_head h;

	(void)state;
	assert_int_equal(parse("GET / HTTP/1.0\n\n", &h), 0);   /* bare LF lines */
	assert_false(h.keep_alive);
	http_head_clear(&h);
	assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &h), 0);
	assert_true(h.keep_alive);
	http_head_clear(&h);
	assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: TE, close\r\n\r\n", &h), 0);
	assert_false(h.keep_alive);
	http_head_clear(&h);
	assert_int_equal(parse("POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", &h), 0);
	assert_true(h.expect_continue);
	http_head_clear(&h);
}

static void
test_refusals(void **state)
{
	static const struct { const char *text; int status; } cases[] = {
		{ "GET /\r\n\r\n", 400 },
		{ "GET  / HTTP/1.1\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\n\r\n", 400 },
		{ "G(T / HTTP/1.1\r\n\r\n", 400 },
		{ "GET / HTTP/2.0\r\n\r\n", 505 },
		{ "GET / HTTP/1.10\r\n\r\n", 505 },
		{ "GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nAuthorization: Bearer a\r\nauthorization: Basic b\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501 },
		{ "GET / HTTP/1.1\r\nExpect: something\r\n\r\n", 417 },
		{ "GET / HTTP/1.1\r\nA: b\r\n", 400 },
	};
	struct http_head h;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = parse(cases[i].text, &h);

		if (got != cases[i].status)
			fail_msg("case %zu: got %d, want %d", i, got, cases[i].status);
		http_head_clear(&h);
	}
}

static void
test_same_content_length_twice(void **state)
{
	struct http_head h;

	(void)state;
	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", &h), 0);
	assert_int_equal(h.content_length, 3);
	http_head_clear(&h);
}

static void
test_nul_and_field_count(void **state)
{
	struct http_head h;
	const char *reason;
	char big[8192];
	size_t n;

	(void)state;
	assert_int_equal(http_parse_head("GET / HTTP/1.1\r\n\0\r\n\r\n", 20, 64, &h, &reason), 400);
	http_head_clear(&h);
	n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-%d: y\r\n", i);
	snprintf(big + n, sizeof(big) - n, "\r\n");
	assert_int_equal(parse(big, &h), 431);
	http_head_clear(&h);
}

static void
test_head_length(void **state)
{
	(void)state;
	assert_int_equal(http_head_length("GET / HTTP/1.1\r\n\r\nbody", 22), 18);
	assert_int_equal(http_head_length("GET / HTTP/1.1\n\nbody", 20), 16);
	assert_int_equal(http_head_length("GET / HTTP/1.1\r\nA: b\r\n", 22), 0);
	assert_int_equal(http_head_length("", 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_head),
		cmocka_unit_test(test_keep_alive_rules),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_same_content_length_twice),
		cmocka_unit_test(test_nul_and_field_count),
		cmocka_unit_test(test_head_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
