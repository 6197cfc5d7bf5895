/*
 * Distinguished names and subjectAltNames typed by a person (`estadm ee add
 * --dn "CN=dev,O=Org,C=SE" --san dns:dev.example,ip:10.0.0.7`), the DN field
 * an EST alias takes a username or an enrolment code from, and comparing
 * DNs whatever the order of their RDNs.
 *
 * A DN string is read as RFC 4514 writes one: most specific RDN first, so
 * "CN=a,O=b,C=SE" becomes the ASN.1 sequence C, O, CN (what EJBCA and
 * `openssl x509 -subject -nameopt RFC2253` show). Values are UTF-8; ",",
 * "+", "\" and "=" inside a value are escaped with "\".
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "codec/namekeys.h"
#include "estkit/codec.h"

#define DN_MAX 1024

/* The DN attribute names accepted, with the short names people type. */
static const struct {
	const char *name;
	int nid;
} fields[] = {
	{ "CN", NID_commonName }, { "serialNumber", NID_serialNumber },
	{ "SN", NID_surname }, { "GN", NID_givenName }, { "UID", NID_userId },
	{ "E", NID_pkcs9_emailAddress }, { "emailAddress", NID_pkcs9_emailAddress },
	{ "O", NID_organizationName }, { "OU", NID_organizationalUnitName },
	{ "C", NID_countryName }, { "L", NID_localityName }, { "ST", NID_stateOrProvinceName },
	{ "DC", NID_domainComponent }, { "title", NID_title }, { "street", NID_streetAddress },
	{ "postalCode", NID_postalCode }, { "pseudonym", NID_pseudonym },
	{ "name", NID_name }, { "initials", NID_initials },
};

int
est_dn_field_nid(const char *field)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcasecmp(field, fields[i].name) == 0)
			return fields[i].nid;
	return NID_undef;
}

/*
 * Unescape one "TYPE=value" from [s, end) into type (tcap bytes) and value
 * (vcap bytes); false when either is empty or does not fit.
 */
static bool
split_rdn(const char *s, const char *end, char *type, size_t tcap, char *value, size_t vcap)
{
	const char *eq = memchr(s, '=', (size_t)(end - s));
	size_t n = 0, tl;

	if (eq == NULL)
		return false;
	while (s < eq && *s == ' ')
		s++;
	for (tl = (size_t)(eq - s); tl > 0 && s[tl - 1] == ' '; tl--)
		;
	if (tl == 0 || tl >= tcap)
		return false;
	memcpy(type, s, tl);
	type[tl] = '\0';
	for (s = eq + 1; s < end && *s == ' '; s++)
		;
	while (end > s && end[-1] == ' ' && (end - 1 == s || end[-2] != '\\'))
		end--;
	for (; s < end; s++) {
		if (*s == '\\' && s + 1 < end)
			s++;
		if (n + 1 >= vcap)
			return false;
		value[n++] = *s;
	}
	value[n] = '\0';
	return n > 0;
}

/* The end of the RDN starting at s: the next unescaped ','. */
static const char *
rdn_end(const char *s)
{
	for (; *s != '\0' && *s != ','; s++)
		if (*s == '\\' && s[1] != '\0')
			s++;
	return s;
}

enum est_err
est_name_parse(const char *text, X509_NAME **out, struct est_error *e)
{
	char type[64], value[DN_MAX];
	X509_NAME *name;
	const char *s, *end;
	int nid;

	if (text == NULL || text[0] == '\0' || strlen(text) >= DN_MAX)
		return est_fail(e, EST_ERR_BADREQ, "a DN is 1-%d characters, like CN=dev,O=Org,C=SE",
		    DN_MAX - 1);
	if ((name = X509_NAME_new()) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (s = text; ; s = end + 1) {
		end = rdn_end(s);
		if (!split_rdn(s, end, type, sizeof(type), value, sizeof(value))) {
			X509_NAME_free(name);
			return est_fail(e, EST_ERR_BADREQ, "DN \"%.200s\": expected TYPE=value parts "
			    "separated by commas (escape , + \\ = with \\)", text);
		}
		if ((nid = est_dn_field_nid(type)) == NID_undef) {
			X509_NAME_free(name);
			return est_fail(e, EST_ERR_BADREQ, "DN \"%.200s\": unknown attribute \"%s\" "
			    "(use CN, serialNumber, UID, E, O, OU, C, L, ST, DC, SN, GN, title ...)",
			    text, type);
		}
		/* Most specific first in the text: each RDN goes before the previous. */
		if (!X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8, (unsigned char *)value,
		    -1, 0, 0)) {
			X509_NAME_free(name);
			return est_fail_ssl(e, EST_ERR_BADREQ, "DN \"%.200s\": %s=%s is not valid",
			    text, type, value);
		}
		if (*end == '\0')
			break;
	}
	/* est_name_equal_unordered takes no more: the policy could not tell it was this one. */
	if (X509_NAME_entry_count(name) > CODEC_NAME_DN_MAX) {
		X509_NAME_free(name);
		return est_fail(e, EST_ERR_BADREQ, "DN \"%.200s\": at most %d attributes", text,
		    CODEC_NAME_DN_MAX);
	}
	*out = name;
	return EST_OK;
}

enum est_err
est_name_field(const X509_NAME *name, int nid, char **out, struct est_error *e)
{
	const X509_NAME_ENTRY *ent = NULL;
	unsigned char *utf8 = NULL;
	int len, i, last = -1;
	char *copy;

	while ((i = X509_NAME_get_index_by_NID(name, nid, last)) >= 0)
		last = i;
	if (last < 0)
		return est_fail(e, EST_ERR_NOTFOUND, "the DN has no %s", OBJ_nid2sn(nid));
	ent = X509_NAME_get_entry(name, last);
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(ent));
	if (len < 0)
		return est_fail_ssl(e, EST_ERR_BADREQ, "the DN's %s is not a string", OBJ_nid2sn(nid));
	if (memchr(utf8, '\0', (size_t)len) != NULL || (copy = malloc((size_t)len + 1)) == NULL) {
		OPENSSL_free(utf8);
		return est_fail(e, EST_ERR_BADREQ, "the DN's %s holds a NUL character",
		    OBJ_nid2sn(nid));
	}
	memcpy(copy, utf8, (size_t)len);
	copy[len] = '\0';
	OPENSSL_free(utf8);
	*out = copy;
	return EST_OK;
}

/* Whether two entries are the same attribute with the same value, as X509_NAME_cmp sees it. */
static bool
entry_equal(const X509_NAME_ENTRY *a, const X509_NAME_ENTRY *b)
{
	X509_NAME *na = X509_NAME_new(), *nb = X509_NAME_new();
	bool eq;

	eq = na != NULL && nb != NULL && X509_NAME_add_entry(na, a, -1, 0) == 1 &&
	    X509_NAME_add_entry(nb, b, -1, 0) == 1 && X509_NAME_cmp(na, nb) == 0;
	X509_NAME_free(na);
	X509_NAME_free(nb);
	return eq;
}

bool
est_name_equal_unordered(const X509_NAME *a, const X509_NAME *b)
{
	int n = X509_NAME_entry_count(a);
	bool used[CODEC_NAME_DN_MAX] = { false };

	if (n != X509_NAME_entry_count(b) || n > CODEC_NAME_DN_MAX)
		return false;
	for (int i = 0; i < n; i++) {
		int j;

		for (j = 0; j < n; j++)
			if (!used[j] && entry_equal(X509_NAME_get_entry(a, i), X509_NAME_get_entry(b, j)))
				break;
		if (j == n)
			return false;
		used[j] = true;
	}
	return true;
}

/* One "type:value" into a new GENERAL_NAME, or NULL. */
static GENERAL_NAME *
san_entry(const char *item)
{
	static const struct {
		const char *prefix;
		int type;
	} kinds[] = { { "dns:", GEN_DNS }, { "ip:", GEN_IPADD }, { "email:", GEN_EMAIL },
		{ "uri:", GEN_URI } };
	GENERAL_NAME *gn;
	ASN1_STRING *v = NULL;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].prefix);

		if (strncasecmp(item, kinds[i].prefix, n) != 0 || item[n] == '\0')
			continue;
		if (kinds[i].type == GEN_IPADD)
			v = a2i_IPADDRESS(item + n);
		else if ((v = ASN1_IA5STRING_new()) != NULL && !ASN1_STRING_set(v, item + n, -1)) {
			ASN1_STRING_free(v);
			v = NULL;
		}
		if (v == NULL || (gn = GENERAL_NAME_new()) == NULL) {
			ASN1_STRING_free(v);
			ERR_clear_error();
			return NULL;
		}
		GENERAL_NAME_set0_value(gn, kinds[i].type, v);
		return gn;
	}
	return NULL;
}

enum est_err
est_san_parse(const char *text, GENERAL_NAMES **out, struct est_error *e)
{
	char buf[DN_MAX], *save = NULL, *item;
	GENERAL_NAMES *san;
	GENERAL_NAME *gn;

	if (text == NULL || strlen(text) >= sizeof(buf))
		return est_fail(e, EST_ERR_BADREQ, "a SAN list is at most %d characters", DN_MAX - 1);
	strcpy(buf, text);
	if ((san = GENERAL_NAMES_new()) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	for (item = strtok_r(buf, ", ", &save); item != NULL; item = strtok_r(NULL, ", ", &save)) {
		if ((gn = san_entry(item)) == NULL || sk_GENERAL_NAME_push(san, gn) <= 0) {
			GENERAL_NAME_free(gn);
			GENERAL_NAMES_free(san);
			return est_fail(e, EST_ERR_BADREQ, "SAN \"%.100s\": use dns:NAME, ip:ADDRESS, "
			    "email:ADDRESS or uri:URI, separated by commas", item);
		}
	}
	if (sk_GENERAL_NAME_num(san) == 0) {
		GENERAL_NAMES_free(san);
		return est_fail(e, EST_ERR_BADREQ, "the SAN list is empty");
	}
	*out = san;
	return EST_OK;
}
