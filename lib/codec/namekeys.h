/*
 * lib/codec internal: names as keys (namekeys.c). The issuance policy
 * compares them to decide whether a name an end entity registered is the
 * one a client asks for; the store indexes every end entity by them
 * (ee_names), so that finding who owns a name is one index look-up per key
 * however many end entities there are. Not installed.
 *
 * A key is a kind and a text, written "k:text": "h:" a host name (a dNSName,
 * or a CN with a dot or a colon in it, which TLS clients fall back to),
 * "w:" the domain a wildcard in a host name's first label covers, "i:" an
 * IP address, "e:" an e-mail address, "u:" a URI, "o:" any other SAN entry
 * (est_san_text), "d:" a whole DN. Two names clients take for one have one
 * key: host names, e-mail addresses and URIs in lower case, without
 * surrounding spaces (and a host name without its final dot), IP addresses
 * by value and an IPv4-mapped one as its IPv4 address, whether written as
 * an IP entry, a DNS entry or a CN (trimmed as a host name). A "d:" key
 * holds each entry as "OID=runs", sorted, '/' between them, where runs are
 * the value's runs of ASCII letters and digits and of non-ASCII bytes,
 * lower-cased, '.' between them: DNs equal as est_name_equal_unordered
 * compares them (in any order; values as X509_NAME_cmp, ASCII case and
 * spacing aside) have one key. A few more may share it, so a "d:" key finds
 * candidates that est_name_equal_unordered then decides on. Keys are cut at
 * a character, never inside one (PostgreSQL stores only whole UTF-8).
 *
 * Names a client asks for are taken for registered ones they are not equal
 * to: a wildcard for every name it covers, a CN without a dot for the
 * single-label host name a TLS client falls back to it for. So the keys a
 * request looks up (codec_name_keys_add_asked) are not those an end entity
 * is indexed under (codec_name_keys_add_names): a request's names belong to
 * another end entity when its asked keys meet that entity's indexed ones.
 * Whenever these keys change, the store rebuilds its index (a schema step).
 */
#ifndef ESTKIT_CODEC_NAMEKEYS_H
#define ESTKIT_CODEC_NAMEKEYS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509v3.h>

/* "k:", a text cut at 255 bytes, and its NUL. */
#define CODEC_NAME_KEY_MAX 258

/* A set of keys; zero-initialise, free with codec_name_keys_free(). */
struct codec_name_keys {
	char (*v)[CODEC_NAME_KEY_MAX];  /* owned; each a NUL-terminated key */
	size_t n, cap;
	bool oom;                       /* a key could not be kept */
};

/* Adds the keys that an end entity registered with the names of subject (NULL:
 * none) and san (NULL: none) is indexed under; a key k holds already is not
 * added again. */
void codec_name_keys_add_names(struct codec_name_keys *k, const X509_NAME *subject,
    const GENERAL_NAMES *san);

/* Adds the keys to look up for a request that asks for the names of subject
 * and san (NULL: none): they meet those of every registration they would be
 * taken for. */
void codec_name_keys_add_asked(struct codec_name_keys *k, const X509_NAME *subject,
    const GENERAL_NAMES *san);

/* More entries than est_name_equal_unordered compares: such a DN gets no "d:" key,
 * est_name_parse refuses one, and the policy refuses to issue one. */
#define CODEC_NAME_DN_MAX 64

/* Adds the "d:" key of subject (none for an empty DN or one of over CODEC_NAME_DN_MAX entries). */
void codec_name_keys_add_dn(struct codec_name_keys *k, const X509_NAME *subject);

/*
 * Whether any end entity indexed under key owns the names a request looked
 * it up for, with no closer look: every key but a DN's, whose candidates
 * est_name_equal_unordered decides on.
 */
bool codec_name_key_decides(const char *key);

/* Whether a and b share a key. */
bool codec_name_keys_meet(const struct codec_name_keys *a, const struct codec_name_keys *b);

void codec_name_keys_free(struct codec_name_keys *k);

/* The IPv4 address in a (len octets) when it is ::ffff:a.b.c.d, else NULL. */
const unsigned char *codec_mapped_ipv4(const unsigned char *a, int len);

/* A host name as written (len bytes) without surrounding spaces and one final
 * dot (and spaces before it): its start, and *len shortened. */
const char *codec_host_trim(const char *text, size_t *len);

/* The address a host name as written (len bytes, trimmed as codec_host_trim)
 * reads as into addr: 4 or 16 (its length), 0 when it reads as none. */
int codec_host_ip(const char *text, size_t len, unsigned char addr[16]);

#endif
