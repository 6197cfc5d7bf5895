/*
 * Text forms of names, serials and keys for the store, the logs and estadm.
 *
 * Every string returned is malloc'd and NUL-terminated. Bytes that could
 * break a log line or a terminal (control characters, invalid 8-bit bytes in
 * IA5 strings) are escaped as \XX; UTF-8 in names is kept readable.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "estkit/codec.h"
#include "util/sha256hex.h"

/*
 * RFC 2253 with the DN reversed ("CN=a,O=b,C=SE"), but without escaping
 * bytes above 0x7f: strings are converted to UTF-8 (ASN1_STRFLGS_UTF8_CONVERT
 * is part of XN_FLAG_RFC2253), so "CN=Åsa" stays readable instead of
 * "CN=\C3\85sa". Control characters and RFC 2253 specials are still escaped.
 */
#define NAME_FLAGS (XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB)

/* IA5 strings in SANs: escape control and 8-bit bytes, nothing else. */
#define IA5_FLAGS (ASN1_STRFLGS_ESC_CTRL | ASN1_STRFLGS_ESC_MSB)

/* Other strings: as UTF-8, control characters escaped. */
#define UTF8_FLAGS (ASN1_STRFLGS_ESC_CTRL | ASN1_STRFLGS_UTF8_CONVERT)

/* The memory BIO's contents as a malloc'd string; frees the BIO. */
static char *
bio_to_string(BIO *bio)
{
	char *data, *s = NULL;
	long len = BIO_get_mem_data(bio, &data);

	if (len >= 0 && (s = malloc((size_t)len + 1)) != NULL) {
		if (len > 0)
			memcpy(s, data, (size_t)len);
		s[len] = '\0';
	}
	BIO_free(bio);
	return s;
}

char *
est_name_text(const X509_NAME *name)
{
	BIO *bio;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (name != NULL && X509_NAME_print_ex(bio, name, 0, NAME_FLAGS) < 0) {
		BIO_free(bio);
		ERR_clear_error();
		return NULL;
	}
	return bio_to_string(bio);
}

static int
print_ip(BIO *bio, const ASN1_OCTET_STRING *ip)
{
	char buf[INET6_ADDRSTRLEN];
	int af = ip->length == 4 ? AF_INET : ip->length == 16 ? AF_INET6 : 0;

	if (af == 0 || inet_ntop(af, ip->data, buf, sizeof(buf)) == NULL)
		return BIO_printf(bio, "IP:<invalid length %d>", ip->length);
	return BIO_printf(bio, "IP:%s", buf);
}

/* "#" and the value's DER in upper-case hex (RFC 4514's form for a value
 * that is no string). */
static int
print_der_hex(BIO *bio, const ASN1_TYPE *v)
{
	unsigned char *der = NULL;
	int len = i2d_ASN1_TYPE(v, &der), rc = 0;

	if (len <= 0)
		return -1;
	if (BIO_puts(bio, "#") < 0)
		rc = -1;
	for (int i = 0; rc == 0 && i < len; i++)
		if (BIO_printf(bio, "%02X", der[i]) < 0)
			rc = -1;
	OPENSSL_free(der);
	return rc;
}

/*
 * "othername:<OID>;<value>" when the value is a plain string (the form
 * records and estadm have always shown), else "othername:<OID>#<DER hex>".
 * The text is part of the approval key (approval.c), so every value must
 * show: two hardwareModuleNames (RFC 4108, a SEQUENCE) printed alike once,
 * and an approval for one was good for the other. For the same reason the
 * OID is never cut short. An OID's text has no ";" or "#", so the two
 * forms never meet.
 */
static int
print_othername(BIO *bio, const OTHERNAME *on)
{
	const ASN1_TYPE *v = on->value;
	int len = OBJ_obj2txt(NULL, 0, on->type_id, 1), rc = -1;
	char *oid;

	if (len <= 0 || (oid = malloc((size_t)len + 1)) == NULL)
		return -1;
	if (OBJ_obj2txt(oid, len + 1, on->type_id, 1) == len)
		rc = BIO_printf(bio, "othername:%s", oid) < 0 ? -1 : 0;
	free(oid);
	if (rc != 0)
		return -1;
	if (v == NULL)
		return 0;
	if (v->type != V_ASN1_UTF8STRING && v->type != V_ASN1_IA5STRING &&
	    v->type != V_ASN1_PRINTABLESTRING)
		return print_der_hex(bio, v);
	return BIO_puts(bio, ";") < 0 ||
	    ASN1_STRING_print_ex(bio, v->value.asn1_string, UTF8_FLAGS) < 0 ? -1 : 0;
}

static int
print_general_name(BIO *bio, const GENERAL_NAME *gn)
{
	const char *label = NULL;

	switch (gn->type) {
	case GEN_DNS:
		label = "DNS:";
		break;
	case GEN_EMAIL:
		label = "email:";
		break;
	case GEN_URI:
		label = "URI:";
		break;
	case GEN_IPADD:
		return print_ip(bio, gn->d.iPAddress);
	case GEN_DIRNAME:
		return BIO_puts(bio, "DirName:") < 0 ? -1 :
		    X509_NAME_print_ex(bio, gn->d.directoryName, 0, NAME_FLAGS);
	case GEN_RID:
		return BIO_puts(bio, "RID:") < 0 ? -1 : i2a_ASN1_OBJECT(bio, gn->d.rid);
	case GEN_OTHERNAME:
		return print_othername(bio, gn->d.otherName);
	case GEN_X400:
		return BIO_puts(bio, "X400Name");
	case GEN_EDIPARTY:
		return BIO_puts(bio, "EdiPartyName");
	default:
		return BIO_printf(bio, "<unknown name type %d>", gn->type);
	}
	return BIO_puts(bio, label) < 0 ? -1 :
	    ASN1_STRING_print_ex(bio, gn->d.ia5, IA5_FLAGS);
}

char *
est_san_text(const GENERAL_NAMES *san)
{
	BIO *bio;
	int i;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	for (i = 0; i < sk_GENERAL_NAME_num(san); i++) {
		if ((i > 0 && BIO_puts(bio, ", ") < 0) ||
		    print_general_name(bio, sk_GENERAL_NAME_value(san, i)) < 0) {
			BIO_free(bio);
			ERR_clear_error();
			return NULL;
		}
	}
	return bio_to_string(bio);
}

/* Copy hex digits to a malloc'd string without leading zeros ("0" stays). */
static char *
strip_zeros(const char *hex)
{
	const char *digits = hex + (hex[0] == '-');
	char *s;

	while (digits[0] == '0' && digits[1] != '\0')
		digits++;
	if ((s = malloc(strlen(digits) + 2)) == NULL)
		return NULL;
	snprintf(s, strlen(digits) + 2, "%s%s", hex[0] == '-' ? "-" : "", digits);
	return s;
}

char *
est_serial_text(const ASN1_INTEGER *serial)
{
	BIGNUM *bn;
	char *hex = NULL, *s = NULL;

	if ((bn = ASN1_INTEGER_to_BN(serial, NULL)) != NULL &&
	    (hex = BN_bn2hex(bn)) != NULL)
		s = strip_zeros(hex);
	else
		ERR_clear_error();
	OPENSSL_free(hex);
	BN_free(bn);
	return s;
}

int
est_serial_normalise(const char *in, char *out, size_t outlen)
{
	const char *p = in, *q, *first = NULL;
	size_t ndigits = 0, n = 0;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	for (q = p; *q != '\0'; q++) {
		/* Colons only between two digits, as openssl prints "00:2a". */
		if (*q == ':' && q > p && isxdigit((unsigned char)q[-1]) &&
		    isxdigit((unsigned char)q[1]))
			continue;
		if (!isxdigit((unsigned char)*q))
			return -1;
		ndigits++;
		if (first == NULL && *q != '0')
			first = q;
		n += first != NULL;
	}
	if (ndigits == 0)
		return -1;
	if (first == NULL) {
		first = "0";
		n = 1;
	}
	if (n >= outlen)
		return -1;
	for (q = first; *q != '\0'; q++) {
		if (*q != ':')
			*out++ = (char)toupper((unsigned char)*q);
	}
	*out = '\0';
	return 0;
}

const char *
est_serial_shown(const char *serial, char *buf, size_t len)
{
	bool odd = serial[0] != '-' && strlen(serial) % 2 == 1;

	snprintf(buf, len, "%s%s", odd ? "0" : "", serial);
	return buf;
}

int
est_principal_normalise(const char *in, char *out, size_t outlen)
{
	static const char *const numbered[] = { "cert:", "ra:" };
	char serial[EST_SERIAL_SHOWN_MAX], shown[EST_SERIAL_SHOWN_MAX];
	const char *kind = "";
	int n;

	for (size_t i = 0; i < sizeof(numbered) / sizeof(numbered[0]); i++) {
		if (strncmp(in, numbered[i], strlen(numbered[i])) != 0)
			continue;
		if (est_serial_normalise(in + strlen(numbered[i]), serial, sizeof(serial)) != 0)
			return -1;
		kind = numbered[i];
		in = est_serial_shown(serial, shown, sizeof(shown));
		break;
	}
	n = snprintf(out, outlen, "%s%s", kind, in);
	return n >= 0 && (size_t)n < outlen ? 0 : -1;
}

enum est_err
est_spki_sha256(EVP_PKEY *key, char out[65], struct est_error *e)
{
	unsigned char *der = NULL;
	int len;
	bool ok;

	if ((len = i2d_PUBKEY(key, &der)) <= 0)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot encode the public key");
	ok = est_sha256_hex(der, (size_t)len, out);
	OPENSSL_free(der);
	if (!ok)
		return est_fail_ssl(e, EST_ERR_CRYPTO, "cannot hash the public key");
	return EST_OK;
}

/* "P-256" for a curve with a NIST name, else OpenSSL's group name. */
static void
describe_ec(EVP_PKEY *key, char *out, size_t outlen)
{
	char group[64];
	const char *nist = NULL;
	int nid;

	if (!EVP_PKEY_get_group_name(key, group, sizeof(group), NULL)) {
		ERR_clear_error();
		snprintf(out, outlen, "EC %d", EVP_PKEY_get_bits(key));
		return;
	}
	if ((nid = OBJ_txt2nid(group)) == NID_undef)
		nid = EC_curve_nist2nid(group);
	if (nid != NID_undef)
		nist = EC_curve_nid2nist(nid);
	snprintf(out, outlen, "EC %s", nist != NULL ? nist : group);
}

void
est_key_describe(EVP_PKEY *key, char *out, size_t outlen)
{
	const char *type;

	if (outlen == 0)
		return;
	if (key == NULL) {
		snprintf(out, outlen, "no key");
		return;
	}
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		snprintf(out, outlen, "RSA %d", EVP_PKEY_get_bits(key));
		return;
	case EVP_PKEY_EC:
		describe_ec(key, out, outlen);
		return;
	case EVP_PKEY_ED25519:
		snprintf(out, outlen, "ED25519");
		return;
	case EVP_PKEY_ED448:
		snprintf(out, outlen, "ED448");
		return;
	default:
		type = EVP_PKEY_get0_type_name(key);
		snprintf(out, outlen, "%s %d", type != NULL ? type : "unknown",
		    EVP_PKEY_get_bits(key));
	}
}
