/*
 * Names as keys (namekeys.h): one text per name, equal for the spellings
 * clients take for one name. Found in review: "DEV-B.corp.example", a
 * trailing space or DNS:10.0.0.5 had passed byte-for-byte comparisons of
 * another end entity's names.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "codec/namekeys.h"
#include "estkit/codec.h"

const unsigned char *
codec_mapped_ipv4(const unsigned char *a, int len)
{
	struct in6_addr a6;

	if (len != 16)
		return NULL;
	memcpy(&a6, a, sizeof(a6));
	return IN6_IS_ADDR_V4MAPPED(&a6) ? a + 12 : NULL;
}

/*
 * ASCII only, whatever the locale: estadm writes the keys and estd looks
 * them up, and both must make the same ones.
 */
static char
lower(unsigned char c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

static bool
space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

const char *
codec_host_trim(const char *text, size_t *len)
{
	size_t n = *len;

	while (n > 0 && space((unsigned char)*text)) {
		text++;
		n--;
	}
	while (n > 0 && space((unsigned char)text[n - 1]))
		n--;
	/* Spaces before the dot too: add_key would drop them, and the rules must see that name. */
	if (n > 1 && text[n - 1] == '.')
		for (n--; n > 0 && space((unsigned char)text[n - 1]); n--)
			;
	*len = n;
	return text;
}

int
codec_host_ip(const char *text, size_t len, unsigned char addr[16])
{
	char buf[INET6_ADDRSTRLEN + 1];

	text = codec_host_trim(text, &len);
	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1)
		return 4;
	return inet_pton(AF_INET6, buf, addr) == 1 ? 16 : 0;
}

static bool
has_key(const struct codec_name_keys *k, const char *key)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->v[i], key) == 0)
			return true;
	return false;
}

/*
 * Where to cut len bytes of text to at most max: not inside a UTF-8
 * character, because PostgreSQL refuses a text that ends in half of one
 * (estadm could not register such a name, and estd could not look it up).
 */
static size_t
utf8_cut(const char *text, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)text[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* kind and text (cut at 255 bytes) as one key, unless k holds it already. */
static void
push(struct codec_name_keys *k, char kind, const char *text, size_t len)
{
	char key[CODEC_NAME_KEY_MAX];

	len = utf8_cut(text, len, CODEC_NAME_KEY_MAX - 3);
	key[0] = kind;
	key[1] = ':';
	memcpy(key + 2, text, len);
	key[len + 2] = '\0';
	if (has_key(k, key))
		return;
	if (k->n == k->cap) {
		size_t cap = k->cap > 0 ? 2 * k->cap : 8;
		char (*v)[CODEC_NAME_KEY_MAX] = reallocarray(k->v, cap, sizeof(*v));

		if (v == NULL) {
			k->oom = true;
			return;
		}
		k->v = v;
		k->cap = cap;
	}
	memcpy(k->v[k->n++], key, len + 3);
}

/* text lower-cased (but for 'o'), without surrounding spaces. */
static void
add_key(struct codec_name_keys *k, char kind, const char *text, size_t len)
{
	char buf[CODEC_NAME_KEY_MAX];
	size_t n;

	while (len > 0 && space((unsigned char)*text)) {
		text++;
		len--;
	}
	while (len > 0 && space((unsigned char)text[len - 1]))
		len--;
	if (len == 0)
		return;
	for (n = 0; n < len && n < sizeof(buf); n++)
		buf[n] = kind == 'o' ? text[n] : lower((unsigned char)text[n]);
	push(k, kind, buf, n);
}

/* An address (4 or 16 octets) as its text; an IPv4-mapped IPv6 one as IPv4. */
static void
add_ip(struct codec_name_keys *k, const unsigned char *ip, size_t len)
{
	const unsigned char *v4 = codec_mapped_ipv4(ip, (int)len);
	char text[INET6_ADDRSTRLEN];
	const char *t = NULL;

	if (v4 != NULL)
		t = inet_ntop(AF_INET, v4, text, sizeof(text));
	else if (len == 4 || len == 16)
		t = inet_ntop(len == 4 ? AF_INET : AF_INET6, ip, text, sizeof(text));
	if (t != NULL)
		add_key(k, 'i', text, strlen(text));
}

/*
 * A host name as written (a DNS entry, a CN): an IP address if it reads as
 * one once trimmed ("10.0.0.5." and "10.0.0.5 " are 10.0.0.5), else "h:".
 * A wildcard in its first label covers a name of any first label below the
 * rest (partial ones, "dev-*", as OpenSSL matches them, alike), so every
 * host name is indexed under "w:rest" too, and a wildcard asks for it.
 */
static void
add_host(struct codec_name_keys *k, const char *text, size_t len, bool asking)
{
	unsigned char ip[16];
	const char *dot;
	int iplen;

	if ((iplen = codec_host_ip(text, len, ip)) != 0) {
		add_ip(k, ip, (size_t)iplen);
		return;
	}
	text = codec_host_trim(text, &len);
	add_key(k, 'h', text, len);
	if ((dot = memchr(text, '.', len)) != NULL &&
	    (!asking || memchr(text, '*', (size_t)(dot - text)) != NULL))
		add_key(k, 'w', dot + 1, len - (size_t)(dot + 1 - text));
}

static void
add_string(struct codec_name_keys *k, char kind, const ASN1_STRING *s, bool asking)
{
	const char *text = (const char *)ASN1_STRING_get0_data(s);
	size_t len = (size_t)ASN1_STRING_length(s);

	if (kind == 'h')
		add_host(k, text, len, asking);
	else
		add_key(k, kind, text, len);
}

static void
add_san(struct codec_name_keys *k, const GENERAL_NAME *gn, bool asking)
{
	GENERAL_NAMES *one;
	char *text;

	switch (gn->type) {
	case GEN_DNS:
		add_string(k, 'h', gn->d.dNSName, asking);
		return;
	case GEN_EMAIL:
		add_string(k, 'e', gn->d.rfc822Name, asking);
		return;
	case GEN_URI:
		add_string(k, 'u', gn->d.uniformResourceIdentifier, asking);
		return;
	case GEN_IPADD:
		add_ip(k, ASN1_STRING_get0_data(gn->d.iPAddress),
		    (size_t)ASN1_STRING_length(gn->d.iPAddress));
		return;
	default:
		if ((one = sk_GENERAL_NAME_new_null()) != NULL &&
		    sk_GENERAL_NAME_push(one, (GENERAL_NAME *)gn) > 0 &&
		    (text = est_san_text(one)) != NULL) {
			add_key(k, 'o', text, strlen(text));
			free(text);
		}
		sk_GENERAL_NAME_free(one);
	}
}

/*
 * E-mail attributes, and a CN as a host name: a registered one when it has
 * a dot or a colon (two devices may both be "router"), an asked one always,
 * because a TLS client falls back to it for the host "router" that an end
 * entity registered as its dNSName.
 */
static void
add_subject(struct codec_name_keys *k, const X509_NAME *subject, bool asking)
{
	for (int i = 0; subject != NULL && i < X509_NAME_entry_count(subject); i++) {
		const X509_NAME_ENTRY *ent = X509_NAME_get_entry(subject, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(ent));
		unsigned char *utf8 = NULL;
		int len;

		if (nid != NID_commonName && nid != NID_pkcs9_emailAddress)
			continue;
		if ((len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(ent))) < 0)
			continue;
		if (nid == NID_pkcs9_emailAddress)
			add_key(k, 'e', (char *)utf8, (size_t)len);
		else if (asking || memchr(utf8, '.', (size_t)len) != NULL ||
		    memchr(utf8, ':', (size_t)len) != NULL)
			add_host(k, (char *)utf8, (size_t)len, asking);
		OPENSSL_free(utf8);
	}
}

static void
add_all(struct codec_name_keys *k, const X509_NAME *subject, const GENERAL_NAMES *san,
    bool asking)
{
	add_subject(k, subject, asking);
	for (int i = 0; san != NULL && i < sk_GENERAL_NAME_num(san); i++)
		add_san(k, sk_GENERAL_NAME_value(san, i), asking);
}

void
codec_name_keys_add_names(struct codec_name_keys *k, const X509_NAME *subject,
    const GENERAL_NAMES *san)
{
	add_all(k, subject, san, false);
}

void
codec_name_keys_add_asked(struct codec_name_keys *k, const X509_NAME *subject,
    const GENERAL_NAMES *san)
{
	add_all(k, subject, san, true);
}

/* Part of a run: an ASCII letter or digit, or a byte of a non-ASCII character. */
static bool
in_run(unsigned char c)
{
	return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

/* One entry as "OID=runs": its value's runs lower-cased, '.' between them. */
static void
entry_text(const X509_NAME_ENTRY *ent, char *buf, size_t size)
{
	unsigned char *utf8 = NULL;
	int len, n;
	bool sep = false;

	n = OBJ_obj2txt(buf, (int)size - 1, X509_NAME_ENTRY_get_object(ent), 1);
	if (n < 0 || (size_t)n >= size - 1)
		n = 0;
	buf[n++] = '=';
	if ((len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(ent))) < 0)
		len = 0;
	for (int i = 0; i < len; i++) {
		unsigned char c = utf8[i];
		/* A character whole or not at all (utf8_cut); its later bytes then fit. */
		size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;

		if (!in_run(c)) {
			sep = buf[n - 1] != '=';
			continue;
		}
		if ((size_t)n + sep + need > size - 1)
			break;
		if (sep)
			buf[n++] = '.';
		sep = false;
		buf[n++] = lower(c);
	}
	buf[n] = '\0';
	OPENSSL_free(utf8);
}

static int
by_text(const void *a, const void *b)
{
	return strcmp(a, b);
}

void
codec_name_keys_add_dn(struct codec_name_keys *k, const X509_NAME *subject)
{
	int n = subject != NULL ? X509_NAME_entry_count(subject) : 0;
	char (*ents)[CODEC_NAME_KEY_MAX], key[CODEC_NAME_KEY_MAX];
	size_t len = 0;

	if (n <= 0 || n > CODEC_NAME_DN_MAX)
		return;
	if ((ents = calloc((size_t)n, sizeof(*ents))) == NULL) {
		k->oom = true;
		return;
	}
	for (int i = 0; i < n; i++)
		entry_text(X509_NAME_get_entry(subject, i), ents[i], sizeof(ents[i]));
	qsort(ents, (size_t)n, sizeof(*ents), by_text);
	for (int i = 0; i < n && len < sizeof(key) - 3; i++) {
		size_t m = strlen(ents[i]);

		if (i > 0)
			key[len++] = '/';
		m = utf8_cut(ents[i], m, sizeof(key) - 3 - len);
		memcpy(key + len, ents[i], m);
		len += m;
	}
	free(ents);
	push(k, 'd', key, len);
}

bool
codec_name_key_decides(const char *key)
{
	return strncmp(key, "d:", 2) != 0;
}

bool
codec_name_keys_meet(const struct codec_name_keys *a, const struct codec_name_keys *b)
{
	for (size_t i = 0; i < a->n; i++)
		if (has_key(b, a->v[i]))
			return true;
	return false;
}

void
codec_name_keys_free(struct codec_name_keys *k)
{
	free(k->v);
	*k = (struct codec_name_keys){ 0 };
}
