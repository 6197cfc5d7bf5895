/*
 * The issuance-policy keys of an alias: which names a client may ask for
 * (san-types, allow-wildcards, dns-names, deny-dns-names, ip-ranges,
 * deny-ip-ranges, subject-required, subject-allowed, max-sans), which keys
 * are certified (key-types), and which external CAs issue RA certificates
 * (ra-cas). Values are checked here, at load, so a bad pattern is reported
 * with its file and line instead of surprising a client later. Defaults
 * are safe: no wildcards, no localhost, no loopback or unspecified address,
 * only the four common SAN types.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/ec.h>
#include <openssl/objects.h>

#include "config/rules.h"
#include "estkit/codec.h"

#define RULES_WORDS_MAX 1024

static const struct {
	const char *name;
	unsigned bit;
} san_type_names[] = {
	{ "dns", EST_SAN_DNS }, { "ip", EST_SAN_IP }, { "email", EST_SAN_EMAIL },
	{ "uri", EST_SAN_URI }, { "othername", EST_SAN_OTHERNAME },
	{ "dirname", EST_SAN_DIRNAME }, { "registeredid", EST_SAN_RID },
};

static const char *const default_dns_deny[] = { "localhost", "*.localhost" };
static const char *const default_ip_deny[] = { "127.0.0.0/8", "::1/128", "0.0.0.0/8", "::/128" };
static const struct est_key_type default_keys[] = {
	{ EST_KEY_RSA, 0, 2048, 4096 },
	{ EST_KEY_EC, NID_X9_62_prime256v1, 0, 0 },
	{ EST_KEY_EC, NID_secp384r1, 0, 0 },
	{ EST_KEY_ED25519, 0, 0, 0 },
};

/* Call fn on each comma or space separated word; false on the first it refuses. */
static bool
each(const char *value, bool (*fn)(struct est_alias_conf *, const char *, void *),
    struct est_alias_conf *a, void *arg)
{
	char buf[RULES_WORDS_MAX], *save = NULL, *w;

	if (strlen(value) >= sizeof(buf))
		return false;
	strcpy(buf, value);
	for (w = strtok_r(buf, ", \t", &save); w != NULL; w = strtok_r(NULL, ", \t", &save))
		if (!fn(a, w, arg))
			return false;
	return true;
}

static bool
is_none(const char *value)
{
	return strcasecmp(value, "none") == 0;
}

/* ---- DNS patterns ---- */

/* "name" or "*.name", LDH labels (and '_'), lower-cased into out. */
static bool
dns_pattern(const char *w, char *out, size_t outlen)
{
	const char *s = w;
	size_t label = 0, n = strlen(w);

	if (n == 0 || n >= outlen || n > 253)
		return false;
	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	if (*s == '\0' || *s == '.')
		return false;
	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (isalnum((unsigned char)*s) || *s == '-' || *s == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	if (label == 0)
		return false;
	for (size_t i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)w[i]);
	return true;
}

struct dns_list {
	char **items;
	size_t *n;
};

static bool
add_dns(struct est_alias_conf *a, const char *w, void *arg)
{
	struct dns_list *l = arg;
	char pat[256];

	(void)a;
	if (*l->n == EST_MAX_NAME_PATTERNS || !dns_pattern(w, pat, sizeof(pat)))
		return false;
	if ((l->items[*l->n] = strdup(pat)) == NULL)
		return false;
	(*l->n)++;
	return true;
}

static void
clear_dns(char **items, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free(items[i]);
	*n = 0;
}

static bool
set_dns(struct est_alias_conf *a, char **items, size_t *n, const char *value)
{
	struct dns_list l = { items, n };

	clear_dns(items, n);
	return is_none(value) || each(value, add_dns, a, &l);
}

/* ---- IP ranges ---- */

/*
 * A range inside ::ffff:0:0/96 becomes the IPv4 range it maps: the policy
 * checks an IPv4-mapped address as its IPv4 address (policy_names.c), so
 * "::ffff:10.0.0.0/104" keeps meaning 10.0.0.0/8.
 */
static void
unmap_ipv4(struct est_ip_range *r)
{
	struct in6_addr a6;

	if (r->len != 16 || r->prefix < 96)
		return;
	memcpy(&a6, r->addr, sizeof(a6));
	if (!IN6_IS_ADDR_V4MAPPED(&a6))
		return;
	memmove(r->addr, r->addr + 12, 4);
	memset(r->addr + 4, 0, sizeof(r->addr) - 4);
	r->len = 4;
	r->prefix -= 96;
}

static bool
ip_range(const char *w, struct est_ip_range *r)
{
	char addr[64], *slash;
	unsigned long prefix;
	char *end;

	if (strlen(w) >= sizeof(addr))
		return false;
	strcpy(addr, w);
	memset(r, 0, sizeof(*r));
	if ((slash = strchr(addr, '/')) != NULL)
		*slash = '\0';
	if (inet_pton(AF_INET, addr, r->addr) == 1)
		r->len = 4;
	else if (inet_pton(AF_INET6, addr, r->addr) == 1)
		r->len = 16;
	else
		return false;
	r->prefix = (unsigned)r->len * 8;
	if (slash != NULL) {
		prefix = strtoul(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || prefix > r->prefix)
			return false;
		r->prefix = (unsigned)prefix;
	}
	/* The host bits must be zero: "10.1.2.3/8" is a typing error more often than not. */
	for (unsigned bit = r->prefix; bit < (unsigned)r->len * 8; bit++)
		if (r->addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	unmap_ipv4(r);
	return true;
}

struct ip_list {
	struct est_ip_range *items;
	size_t *n;
};

static bool
add_ip(struct est_alias_conf *a, const char *w, void *arg)
{
	struct ip_list *l = arg;

	(void)a;
	if (*l->n == EST_MAX_NAME_PATTERNS || !ip_range(w, &l->items[*l->n]))
		return false;
	(*l->n)++;
	return true;
}

static bool
set_ip(struct est_alias_conf *a, struct est_ip_range *items, size_t *n, const char *value)
{
	struct ip_list l = { items, n };

	*n = 0;
	return is_none(value) || each(value, add_ip, a, &l);
}

/* ---- SAN types, DN fields ---- */

static bool
add_san_type(struct est_alias_conf *a, const char *w, void *arg)
{
	(void)arg;
	for (size_t i = 0; i < sizeof(san_type_names) / sizeof(san_type_names[0]); i++) {
		if (strcasecmp(w, san_type_names[i].name) == 0) {
			a->names.san_types |= san_type_names[i].bit;
			return true;
		}
	}
	return false;
}

struct nid_list {
	int *items;
	size_t *n;
};

static bool
add_field(struct est_alias_conf *a, const char *w, void *arg)
{
	struct nid_list *l = arg;
	int nid = est_dn_field_nid(w);

	(void)a;
	if (nid == NID_undef || *l->n == EST_MAX_DN_FIELDS)
		return false;
	l->items[(*l->n)++] = nid;
	return true;
}

static bool
set_fields(struct est_alias_conf *a, int *items, size_t *n, const char *value)
{
	struct nid_list l = { items, n };

	*n = 0;
	return is_none(value) || each(value, add_field, a, &l);
}

/* ---- key types ---- */

static bool
rsa_range(const char *s, struct est_key_type *k)
{
	char *end;
	unsigned long lo, hi;

	lo = strtoul(s, &end, 10);
	hi = lo;
	if (*end == '-')
		hi = strtoul(end + 1, &end, 10);
	if (*end != '\0' || lo < 2048 || hi > 16384 || lo > hi)
		return false;
	k->min_bits = (unsigned)lo;
	k->max_bits = (unsigned)hi;
	return true;
}

/* One "ed25519", "rsa:BITS[-MAX]" or "ec:CURVE" into k. */
static bool
parse_key_type(const char *w, struct est_key_type *k)
{
	memset(k, 0, sizeof(*k));
	if (strcasecmp(w, "ed25519") == 0) {
		k->kind = EST_KEY_ED25519;
	} else if (strncasecmp(w, "rsa:", 4) == 0) {
		k->kind = EST_KEY_RSA;
		if (!rsa_range(w + 4, k))
			return false;
	} else if (strncasecmp(w, "ec:", 3) == 0) {
		k->kind = EST_KEY_EC;
		if ((k->curve_nid = EC_curve_nist2nid(w + 3)) == NID_undef)
			k->curve_nid = OBJ_sn2nid(w + 3);
		if (k->curve_nid != NID_X9_62_prime256v1 && k->curve_nid != NID_secp384r1 &&
		    k->curve_nid != NID_secp521r1)
			return false;
	} else {
		return false;
	}
	return true;
}

static bool
add_key_type(struct est_alias_conf *a, const char *w, void *arg)
{
	struct est_key_type k;

	(void)arg;
	if (a->n_key_types == EST_MAX_KEY_TYPES || !parse_key_type(w, &k))
		return false;
	a->key_types[a->n_key_types++] = k;
	return true;
}

bool
rules_key_spec_listed(const struct est_alias_conf *a, const char *spec)
{
	struct est_key_type want;

	if (!parse_key_type(spec, &want))
		return false;
	for (size_t i = 0; i < a->n_key_types; i++) {
		const struct est_key_type *k = &a->key_types[i];

		if (k->kind == want.kind && (k->kind != EST_KEY_EC || k->curve_nid == want.curve_nid) &&
		    (k->kind != EST_KEY_RSA || (want.min_bits >= k->min_bits &&
		    want.max_bits <= k->max_bits)))
			return true;
	}
	return false;
}

/* ---- RA CAs ---- */

static bool
add_ra_ca(struct est_alias_conf *a, const char *w, void *arg)
{
	(void)arg;
	if (a->n_ra_cas == EST_MAX_VENDOR_CAS || strlen(w) > 64)
		return false;
	for (size_t i = 0; i < a->n_ra_cas; i++)
		if (strcmp(a->ra_cas[i], w) == 0)
			return false;
	if ((a->ra_cas[a->n_ra_cas] = strdup(w)) == NULL)
		return false;
	a->n_ra_cas++;
	return true;
}

static void
clear_ra_cas(struct est_alias_conf *a)
{
	for (size_t i = 0; i < a->n_ra_cas; i++)
		free(a->ra_cas[i]);
	a->n_ra_cas = 0;
}

/* ---- the interface ---- */

void
rules_defaults(struct est_alias_conf *a)
{
	struct est_name_rules *r = &a->names;

	r->san_types = EST_SAN_DEFAULT;
	r->max_sans = 32;
	for (size_t i = 0; i < sizeof(default_dns_deny) / sizeof(default_dns_deny[0]); i++)
		if ((r->dns_deny[r->n_dns_deny] = strdup(default_dns_deny[i])) != NULL)
			r->n_dns_deny++;
	for (size_t i = 0; i < sizeof(default_ip_deny) / sizeof(default_ip_deny[0]); i++)
		if (ip_range(default_ip_deny[i], &r->ip_deny[r->n_ip_deny]))
			r->n_ip_deny++;
	memcpy(a->key_types, default_keys, sizeof(default_keys));
	a->n_key_types = sizeof(default_keys) / sizeof(default_keys[0]);
}

int
rules_apply(struct est_alias_conf *a, const char *key, const char *value, const char **hint)
{
	struct est_name_rules *r = &a->names;

	if (strcmp(key, "san-types") == 0) {
		*hint = "a list of: dns, ip, email, uri, othername, dirname, registeredID";
		r->san_types = 0;
		return each(value, add_san_type, a, NULL) && r->san_types != 0;
	}
	if (strcmp(key, "dns-names") == 0 || strcmp(key, "deny-dns-names") == 0) {
		*hint = "none, or a list of host names and *.DOMAIN patterns (letters, digits, "
		    "'-', '_'; at most 32)";
		return key[0] == 'd' && key[1] == 'n' ?
		    set_dns(a, r->dns_allow, &r->n_dns_allow, value) :
		    set_dns(a, r->dns_deny, &r->n_dns_deny, value);
	}
	if (strcmp(key, "ip-ranges") == 0 || strcmp(key, "deny-ip-ranges") == 0) {
		*hint = "none, or a list of addresses and ADDRESS/PREFIX ranges with the host "
		    "bits zero (at most 32)";
		return key[0] == 'i' ? set_ip(a, r->ip_allow, &r->n_ip_allow, value) :
		    set_ip(a, r->ip_deny, &r->n_ip_deny, value);
	}
	if (strcmp(key, "subject-required") == 0 || strcmp(key, "subject-allowed") == 0) {
		*hint = "none, or a list of DN fields: CN, serialNumber, UID, E, O, OU, C, L, ST, "
		    "DC, SN, GN, title, ...";
		return strcmp(key, "subject-required") == 0 ?
		    set_fields(a, r->subject_required, &r->n_subject_required, value) :
		    set_fields(a, r->subject_allowed, &r->n_subject_allowed, value);
	}
	if (strcmp(key, "key-types") == 0) {
		*hint = "a list of: ec:P-256, ec:P-384, ec:P-521, rsa:BITS or rsa:MIN-MAX "
		    "(2048 to 16384), ed25519";
		a->n_key_types = 0;
		return each(value, add_key_type, a, NULL) && a->n_key_types > 0;
	}
	if (strcmp(key, "ra-cas") == 0) {
		*hint = "a list of external CA names (estadm ca import --external NAME FILE)";
		clear_ra_cas(a);
		return each(value, add_ra_ca, a, NULL) && a->n_ra_cas > 0;
	}
	return -1;
}

void
rules_free(struct est_alias_conf *a)
{
	clear_dns(a->names.dns_allow, &a->names.n_dns_allow);
	clear_dns(a->names.dns_deny, &a->names.n_dns_deny);
	clear_ra_cas(a);
}
