/*
 * Unit tests for the multipart/mixed writer (lib/codec/multipart.c): the
 * exact bytes /serverkeygen sends, the line positions the seed's
 * parse_server_keygen_response script counts on (EST-S-63, EST-S-69,
 * EST-S-70), and the refusals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "estkit/codec.h"

static const struct est_mime_part two[] = {
	{ "application/pkcs8", "QUJD\nREVG\n", 10 },
	{ "application/pkcs7-mime; smime-type=certs-only", "R0hJ\r\nSktM", 10 },
};

static void
test_exact_bytes(void **state)
{
	struct est_error e = { 0 };
	char *out = NULL;
	size_t len = 0;
	const char *want =
	    "--CONTENTBOUNDARY\r\n"
	    "Content-Type: application/pkcs8\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n"
	    "QUJD\r\n"
	    "REVG\r\n"
	    "--CONTENTBOUNDARY\r\n"
	    "Content-Type: application/pkcs7-mime; smime-type=certs-only\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n"
	    "R0hJ\r\n"
	    "SktM\r\n"
	    "--CONTENTBOUNDARY--\r\n";

	(void)state;
	assert_int_equal(est_multipart_encode(two, 2, EST_MULTIPART_BOUNDARY, &out, &len, &e), EST_OK);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(out, want, len);
	OPENSSL_clear_free(out, len);
}

/* Line numbers (1-based) of lines starting with "--CONTENTBOUNDARY", as grep -n finds them. */
static int
delimiter_lines(const char *s, size_t len, int *lines, int max)
{
	int n = 0, line = 1;

	for (size_t i = 0; i < len; i++) {
		if ((i == 0 || s[i - 1] == '\n') && strncmp(s + i, "--CONTENTBOUNDARY", 17) == 0 && n < max)
			lines[n++] = line;
		if (s[i] == '\n')
			line++;
	}
	return n;
}

/* The script takes key lines first+4 .. second-1 and cert lines second+4 .. third-1. */
static void
test_script_offsets(void **state)
{
	struct est_error e = { 0 };
	char *out = NULL;
	size_t len = 0;
	int at[4];

	(void)state;
	assert_int_equal(est_multipart_encode(two, 2, EST_MULTIPART_BOUNDARY, &out, &len, &e), EST_OK);
	assert_int_equal(delimiter_lines(out, len, at, 4), 3);
	assert_int_equal(at[0], 1);
	assert_int_equal(at[1] - 1 - (at[0] + 4) + 1, 2);   /* QUJD, REVG */
	assert_int_equal(at[2] - 1 - (at[1] + 4) + 1, 2);   /* R0hJ, SktM */
	OPENSSL_clear_free(out, len);
}

static void
test_refusals(void **state)
{
	struct est_mime_part bad = { "text/plain", "x--CONTENTBOUNDARY", 18 };
	struct est_mime_part crlf_type = { "text/plain\r\nX: y", "QQ==", 4 };
	struct est_error e = { 0 };
	char *out = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(est_multipart_encode(&bad, 1, EST_MULTIPART_BOUNDARY, &out, &len, &e),
	    EST_ERR_INTERNAL);
	assert_int_equal(est_multipart_encode(&crlf_type, 1, "b", &out, &len, &e), EST_ERR_INTERNAL);
	assert_int_equal(est_multipart_encode(two, 2, "", &out, &len, &e), EST_ERR_INTERNAL);
	assert_int_equal(est_multipart_encode(two, 2, "with space", &out, &len, &e), EST_ERR_INTERNAL);
	assert_int_equal(est_multipart_encode(two, 0, "b", &out, &len, &e), EST_ERR_INTERNAL);
	assert_null(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_bytes),
		cmocka_unit_test(test_script_offsets),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
