/*
 * Fuzz the text parsers behind `estadm ee add --dn ... --san ...` and
 * `estadm cert ... SERIAL`: DNs (RFC 4514 order), subjectAltName lists and
 * typed serial numbers. A parsed DN or SAN must print and equal itself (a DN
 * of up to 64 attributes, the most est_name_equal_unordered compares); a
 * normalised serial normalises to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>

#include "estkit/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
dn(const char *text)
{
	X509_NAME *name = NULL;
	char *printed, *cn = NULL;

	if (est_name_parse(text, &name, NULL) != EST_OK)
		return;
	if (X509_NAME_entry_count(name) < 1 || (printed = est_name_text(name)) == NULL)
		abort();
	free(printed);
	if (X509_NAME_entry_count(name) <= 64 && !est_name_equal_unordered(name, name))
		abort();
	if (est_name_field(name, NID_commonName, &cn, NULL) == EST_OK)
		free(cn);
	X509_NAME_free(name);
}

static void
san(const char *text)
{
	GENERAL_NAMES *gn = NULL;
	char *printed;

	if (est_san_parse(text, &gn, NULL) != EST_OK)
		return;
	if (sk_GENERAL_NAME_num(gn) < 1 || (printed = est_san_text(gn)) == NULL ||
	    !est_san_equal(gn, gn))
		abort();
	free(printed);
	GENERAL_NAMES_free(gn);
}

static void
serial(const char *text)
{
	char once[64], twice[64];

	if (est_serial_normalise(text, once, sizeof(once)) != 0)
		return;
	if (est_serial_normalise(once, twice, sizeof(twice)) != 0 || strcmp(once, twice) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	dn(text);
	san(text);
	serial(text);
	(void)est_dn_field_nid(text);
	free(text);
	return 0;
}
