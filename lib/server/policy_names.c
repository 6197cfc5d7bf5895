/*
 * The checks of the issuance policy on what a client asks for: the alias's
 * name rules (subject fields, SAN types, wildcards, DNS patterns, address
 * ranges, number of names) and its key types.
 *
 * A CN is checked like a host name, because TLS clients fall back to it
 * when a certificate has no dNSName: wildcards and the deny lists always
 * apply to it, the allow lists when it has a dot (a bare device name such
 * as "dev-a" is not a host name anyone resolves) or reads as an address.
 *
 * A host name is read as relying parties read it: without surrounding
 * spaces and a final dot, and as the address it spells when it spells one
 * (a dNSName then passes the address rules too).
 *
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is checked as the IPv4
 * address it maps: stacks that accept it reach a.b.c.d, so
 * IP:::ffff:127.0.0.1 is loopback. Ranges written so were made IPv4 ranges
 * at load (rules.c).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "codec/namekeys.h"
#include "estkit/codec.h"
#include "server/policy.h"

/* "*.x" matches any name below x; anything else only itself; case-insensitive. */
static bool
dns_matches(const char *pattern, const char *name)
{
	size_t pl, nl = strlen(name);

	if (strncmp(pattern, "*.", 2) != 0)
		return strcasecmp(pattern, name) == 0;
	pl = strlen(pattern + 1);             /* ".x" */
	return nl > pl && strcasecmp(name + nl - pl, pattern + 1) == 0;
}

static bool
dns_listed(char *const *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (dns_matches(list[i], name))
			return true;
	return false;
}

static bool
ip_in(const struct est_ip_range *r, const unsigned char *a, int len)
{
	unsigned full = r->prefix / 8, rest = r->prefix % 8;

	if (r->len != len || memcmp(r->addr, a, full) != 0)
		return false;
	return rest == 0 || ((r->addr[full] ^ a[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static bool
ip_listed(const struct est_ip_range *list, size_t n, const unsigned char *a, int len)
{
	for (size_t i = 0; i < n; i++)
		if (ip_in(&list[i], a, len))
			return true;
	return false;
}

/*
 * A mapped address is allowed only as its IPv4 address. It is refused as
 * that, or as what it literally is: an IPv6 deny range that holds it
 * (::/0) refused it before mapped addresses were recognised, and still does.
 */
static enum est_err
check_ip(const struct est_name_rules *r, const unsigned char *a, int len, const char *what,
    struct est_error *e)
{
	char text[INET6_ADDRSTRLEN] = "?";
	const unsigned char *v4 = codec_mapped_ipv4(a, len);
	const unsigned char *as = v4 != NULL ? v4 : a;
	int as_len = v4 != NULL ? 4 : len;

	if (len != 4 && len != 16)
		return est_fail(e, EST_ERR_FORBIDDEN, "%s is not an IPv4 or IPv6 address", what);
	inet_ntop(len == 4 ? AF_INET : AF_INET6, a, text, sizeof(text));
	if (ip_listed(r->ip_deny, r->n_ip_deny, as, as_len) ||
	    (v4 != NULL && ip_listed(r->ip_deny, r->n_ip_deny, a, len)))
		return est_fail(e, EST_ERR_FORBIDDEN, "%s %s is refused on this alias "
		    "(deny-ip-ranges: loopback, unspecified and listed addresses)", what, text);
	if (r->n_ip_allow > 0 && !ip_listed(r->ip_allow, r->n_ip_allow, as, as_len))
		return est_fail(e, EST_ERR_FORBIDDEN, "%s %s is outside the alias's ip-ranges",
		    what, text);
	return EST_OK;
}

/*
 * A host name (dNSName, or a CN: is_cn) against the rules, as relying
 * parties and the owner check read it: without surrounding spaces and a
 * final dot ("localhost." is localhost).
 */
static enum est_err
check_dns(const struct est_name_rules *r, const char *text, size_t len, const char *what,
    bool is_cn, struct est_error *e)
{
	const char *start;
	char *name;
	enum est_err rc = EST_OK;

	if (memchr(text, '\0', len) != NULL)
		return est_fail(e, EST_ERR_FORBIDDEN, "%s holds a NUL character", what);
	start = codec_host_trim(text, &len);
	if ((name = strndup(start, len)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	if (!r->allow_wildcards && strchr(name, '*') != NULL)
		rc = est_fail(e, EST_ERR_FORBIDDEN, "%s \"%.80s\": wildcards are refused on this "
		    "alias (allow-wildcards = no)", what, name);
	else if (dns_listed(r->dns_deny, r->n_dns_deny, name))
		rc = est_fail(e, EST_ERR_FORBIDDEN, "%s \"%.80s\" is refused on this alias "
		    "(deny-dns-names)", what, name);
	else if (r->n_dns_allow > 0 && (!is_cn || strchr(name, '.') != NULL) &&
	    !dns_listed(r->dns_allow, r->n_dns_allow, name))
		rc = est_fail(e, EST_ERR_FORBIDDEN, "%s \"%.80s\" is outside the alias's "
		    "dns-names", what, name);
	free(name);
	return rc;
}

static enum est_err
check_cn(const struct est_name_rules *r, const ASN1_STRING *value, struct est_error *e)
{
	unsigned char *utf8 = NULL, addr[16];
	enum est_err rc;
	int len, iplen;

	if ((len = ASN1_STRING_to_UTF8(&utf8, value)) < 0) {
		ERR_clear_error();
		return est_fail(e, EST_ERR_FORBIDDEN, "the subject's CN cannot be read as text");
	}
	if ((iplen = codec_host_ip((char *)utf8, (size_t)len, addr)) != 0)
		rc = check_ip(r, addr, iplen, "CN", e);
	else
		rc = check_dns(r, (char *)utf8, (size_t)len, "CN", true, e);
	OPENSSL_free(utf8);
	return rc;
}

static bool
nid_listed(const int *list, size_t n, int nid)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == nid)
			return true;
	return false;
}

static enum est_err
check_subject(const struct est_name_rules *r, const X509_NAME *subject, struct est_error *e)
{
	enum est_err rc;

	/*
	 * est_name_equal_unordered calls longer DNs different from every other:
	 * one registered (before estadm refused them) would be anyone's.
	 */
	if (X509_NAME_entry_count(subject) > CODEC_NAME_DN_MAX)
		return est_fail(e, EST_ERR_FORBIDDEN, "the subject has %d attributes; at most %d",
		    X509_NAME_entry_count(subject), CODEC_NAME_DN_MAX);
	for (int i = 0; i < X509_NAME_entry_count(subject); i++) {
		const X509_NAME_ENTRY *ent = X509_NAME_get_entry(subject, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(ent));

		if (r->n_subject_allowed > 0 && !nid_listed(r->subject_allowed, r->n_subject_allowed, nid))
			return est_fail(e, EST_ERR_FORBIDDEN, "the subject field %s is not allowed on "
			    "this alias (subject-allowed)", nid != NID_undef ? OBJ_nid2sn(nid) : "?");
		if (nid == NID_commonName &&
		    (rc = check_cn(r, X509_NAME_ENTRY_get_data(ent), e)) != EST_OK)
			return rc;
	}
	for (size_t i = 0; i < r->n_subject_required; i++)
		if (X509_NAME_get_index_by_NID(subject, r->subject_required[i], -1) < 0)
			return est_fail(e, EST_ERR_FORBIDDEN, "the subject needs a %s field on this "
			    "alias (subject-required)", OBJ_nid2sn(r->subject_required[i]));
	return EST_OK;
}

/* The san-types bit of a GeneralName type; 0 for types no rule allows (X.400, EDI). */
static unsigned
san_bit(int type, const char **name)
{
	switch (type) {
	case GEN_DNS: *name = "dNSName"; return EST_SAN_DNS;
	case GEN_IPADD: *name = "iPAddress"; return EST_SAN_IP;
	case GEN_EMAIL: *name = "rfc822Name"; return EST_SAN_EMAIL;
	case GEN_URI: *name = "uniformResourceIdentifier"; return EST_SAN_URI;
	case GEN_OTHERNAME: *name = "otherName"; return EST_SAN_OTHERNAME;
	case GEN_DIRNAME: *name = "directoryName"; return EST_SAN_DIRNAME;
	case GEN_RID: *name = "registeredID"; return EST_SAN_RID;
	default: *name = "x400Address/ediPartyName"; return 0;
	}
}

static enum est_err
check_san_entry(const struct est_name_rules *r, const GENERAL_NAME *gn, struct est_error *e)
{
	const char *tname, *text;
	unsigned bit = san_bit(gn->type, &tname);
	const ASN1_STRING *s;
	unsigned char addr[16];
	enum est_err rc;
	size_t len;
	int iplen;

	if (bit == 0 || (r->san_types & bit) == 0)
		return est_fail(e, EST_ERR_FORBIDDEN, "subjectAltName type %s is not allowed on "
		    "this alias (san-types)", tname);
	if (gn->type == GEN_DNS) {
		/* One that reads as an address is that address to some clients (and the owner check). */
		s = gn->d.dNSName;
		text = (const char *)ASN1_STRING_get0_data(s);
		len = (size_t)ASN1_STRING_length(s);
		if ((rc = check_dns(r, text, len, "dNSName", false, e)) != EST_OK)
			return rc;
		iplen = codec_host_ip(text, len, addr);
		return iplen != 0 ? check_ip(r, addr, iplen, "dNSName", e) : EST_OK;
	}
	if (gn->type == GEN_IPADD)
		return check_ip(r, ASN1_STRING_get0_data(gn->d.iPAddress),
		    ASN1_STRING_length(gn->d.iPAddress), "iPAddress", e);
	return EST_OK;
}

enum est_err
policy_check_names(const struct est_name_rules *r, const X509_NAME *subject,
    const GENERAL_NAMES *san, struct est_error *e)
{
	int n = san != NULL ? sk_GENERAL_NAME_num(san) : 0;
	enum est_err rc;

	if ((rc = check_subject(r, subject, e)) != EST_OK)
		return rc;
	if (r->max_sans > 0 && n > (int)r->max_sans)
		return est_fail(e, EST_ERR_FORBIDDEN, "%d subjectAltName entries; this alias "
		    "allows %u (max-sans)", n, r->max_sans);
	for (int i = 0; i < n; i++)
		if ((rc = check_san_entry(r, sk_GENERAL_NAME_value(san, i), e)) != EST_OK)
			return rc;
	return EST_OK;
}

/* ---- keys ---- */

/* The named curve of an EC key; NID_undef for explicit parameters. */
static int
named_curve(EVP_PKEY *key)
{
	char enc[32] = "", group[80];
	size_t len;
	int nid;

	/* OpenSSL names a curve given explicitly when it recognises it: the encoding tells. */
	if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING, enc, sizeof(enc),
	    &len) == 1 && strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP) != 0)
		return NID_undef;
	if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
	    &len) != 1)
		return NID_undef;
	if ((nid = OBJ_txt2nid(group)) == NID_undef)
		nid = EC_curve_nist2nid(group);
	return nid;
}

static bool
key_listed(const struct est_alias_conf *a, EVP_PKEY *key, int curve)
{
	int bits = EVP_PKEY_get_bits(key);

	for (size_t i = 0; i < a->n_key_types; i++) {
		const struct est_key_type *k = &a->key_types[i];

		if ((k->kind == EST_KEY_RSA && EVP_PKEY_is_a(key, "RSA") &&
		    bits >= (int)k->min_bits && bits <= (int)k->max_bits) ||
		    (k->kind == EST_KEY_EC && EVP_PKEY_is_a(key, "EC") && curve == k->curve_nid) ||
		    (k->kind == EST_KEY_ED25519 && EVP_PKEY_is_a(key, "ED25519")))
			return true;
	}
	return false;
}

enum est_err
policy_check_key(const struct est_alias_conf *a, EVP_PKEY *key, struct est_error *e)
{
	char desc[64];
	int curve = NID_undef;

	if (key == NULL)
		return est_fail(e, EST_ERR_BADREQ, "the request carries no public key");
	if (EVP_PKEY_is_a(key, "EC") && (curve = named_curve(key)) == NID_undef) {
		ERR_clear_error();
		return est_fail(e, EST_ERR_BADREQ, "the EC key has explicit curve parameters; "
		    "use a named curve (RFC 5480 §2.1.1)");
	}
	if (key_listed(a, key, curve))
		return EST_OK;
	est_key_describe(key, desc, sizeof(desc));
	ERR_clear_error();
	return est_fail(e, EST_ERR_BADREQ, "key %s is not accepted on alias %s (key-types)",
	    desc, a->name);
}
