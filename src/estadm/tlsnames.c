/*
 * The names of estd's own TLS certificate (init --tls-name, cert tls --dns
 * and --ip): host names and addresses checked as a TLS client will match
 * them, so a typing mistake is refused here rather than found by a client
 * that cannot connect. The alias's name rules are not applied: they say
 * what clients may obtain, and the default ones refuse localhost and the
 * loopback addresses that estd's own certificate rightly names.
 */
#include <stdbool.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "estadm.h"

#define HOST_MAX 253
#define LABEL_MAX 63

bool
adm_san_add(GENERAL_NAMES *san, int type, const char *value)
{
	GENERAL_NAME *gen = GENERAL_NAME_new();
	ASN1_STRING *s = NULL;

	if (gen == NULL)
		return false;
	if (type == GEN_IPADD) {
		s = a2i_IPADDRESS(value);
	} else if ((s = ASN1_IA5STRING_new()) != NULL && !ASN1_STRING_set(s, value, -1)) {
		ASN1_STRING_free(s);
		s = NULL;
	}
	if (s == NULL) {
		GENERAL_NAME_free(gen);
		return false;
	}
	GENERAL_NAME_set0_value(gen, type, s);
	if (sk_GENERAL_NAME_push(san, gen) <= 0) {
		GENERAL_NAME_free(gen);
		return false;
	}
	return true;
}

/* One label of letters, digits and hyphens, neither first nor last a hyphen. */
static bool
label_ok(const char *l, size_t n)
{
	static const char ldh[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";

	for (size_t i = 0; i < n; i++)
		if (strchr(ldh, l[i]) == NULL)
			return false;
	return n >= 1 && n <= LABEL_MAX && l[0] != '-' && l[n - 1] != '-';
}

/* A host name as TLS clients match it: LDH labels, a leftmost "*" of a
 * wildcard under at least two more labels. */
static bool
host_ok(const char *name)
{
	size_t len = strlen(name), labels = 0;
	const char *p = name;
	bool wildcard = strncmp(name, "*.", 2) == 0;

	if (len == 0 || len > HOST_MAX)
		return false;
	if (wildcard)
		p += 2;
	for (;;) {
		size_t n = strcspn(p, ".");

		if (!label_ok(p, n))
			return false;
		labels++;
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	return !wildcard || labels >= 2;
}

/* Whether san holds a name of type equal to gen's. */
static bool
has_name(const GENERAL_NAMES *san, const GENERAL_NAME *gen)
{
	for (int i = 0; i < sk_GENERAL_NAME_num(san); i++)
		if (GENERAL_NAME_cmp(sk_GENERAL_NAME_value(san, i), (GENERAL_NAME *)gen) == 0)
			return true;
	return false;
}

/* Check one name of list and append it; ADM_EXIT_OK or a usage error. */
static int
add_one(const struct adm_ctx *ctx, const char *opt, const char *name, int type,
    GENERAL_NAMES *san)
{
	ASN1_OCTET_STRING *ip = a2i_IPADDRESS(name);
	bool is_ip = ip != NULL;
	GENERAL_NAMES *one;

	ASN1_OCTET_STRING_free(ip);
	if (name[0] == '\0')
		return adm_usage_error(ctx, "%s: an empty name (two commas, or one at an end)", opt);
	if (type == GEN_IPADD && !is_ip)
		return adm_usage_error(ctx, "%s \"%.100s\" is not an IPv4 or IPv6 address", opt, name);
	if (type == GEN_DNS && is_ip)
		return adm_usage_error(ctx, "%s \"%.100s\" is an address: give it with --ip", opt,
		    name);
	if (!is_ip && !host_ok(name))
		return adm_usage_error(ctx, "%s \"%.100s\" is not a host name (labels of letters, "
		    "digits and hyphens, no final dot; a wildcard *.NAME needs two labels in NAME)", opt, name);
	if ((one = sk_GENERAL_NAME_new_null()) == NULL ||
	    !adm_san_add(one, is_ip ? GEN_IPADD : GEN_DNS, name)) {
		GENERAL_NAMES_free(one);
		return adm_fail("out of memory");
	}
	if (!has_name(san, sk_GENERAL_NAME_value(one, 0))) {
		if (sk_GENERAL_NAME_push(san, sk_GENERAL_NAME_value(one, 0)) <= 0) {
			GENERAL_NAMES_free(one);
			return adm_fail("out of memory");
		}
		(void)sk_GENERAL_NAME_pop(one);
	}
	GENERAL_NAMES_free(one);
	return ADM_EXIT_OK;
}

bool
adm_san_append(GENERAL_NAMES *san, const GENERAL_NAMES *more)
{
	for (int i = 0; i < sk_GENERAL_NAME_num(more); i++) {
		const GENERAL_NAME *gen = sk_GENERAL_NAME_value(more, i);
		GENERAL_NAME *copy;

		if (has_name(san, gen))
			continue;
		if ((copy = GENERAL_NAME_dup(gen)) == NULL)
			return false;
		if (sk_GENERAL_NAME_push(san, copy) <= 0) {
			GENERAL_NAME_free(copy);
			return false;
		}
	}
	return true;
}

int
adm_tls_names(const struct adm_ctx *ctx, const char *opt, const char *list, int type,
    GENERAL_NAMES **san)
{
	char buf[4096], *p, *comma;
	int status = ADM_EXIT_OK;

	if ((size_t)snprintf(buf, sizeof(buf), "%s", list) >= sizeof(buf))
		return adm_usage_error(ctx, "%s: the list is too long", opt);
	if (*san == NULL && (*san = sk_GENERAL_NAME_new_null()) == NULL)
		return adm_fail("out of memory");
	for (p = buf; status == ADM_EXIT_OK; p = comma + 1) {
		if ((comma = strchr(p, ',')) != NULL)
			*comma = '\0';
		status = add_one(ctx, opt, p, type, *san);
		if (comma == NULL)
			break;
	}
	return status;
}
