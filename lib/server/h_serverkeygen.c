/*
 * /serverkeygen (RFC 7030 §4.4): the server makes the key pair, certifies
 * it, and returns both as multipart/mixed, key part first (EST-S-63, -70).
 *
 * Authentication is /simpleenroll's. The CSR gives the names (and, with
 * server-keygen-key = from-csr, the kind of key); its public key and
 * signature are otherwise ignored (EST-S-61). The key is encrypted when the
 * CSR asks (EST-S-66, -67): DecryptKeyIdentifier selects a shared key of the
 * authenticated principal (decrypt-keys), AsymmetricDecryptKeyIdentifier the
 * client's TLS certificate with that subject key identifier. The private
 * key lives only in this request's memory, is cleansed after the reply, and
 * is never stored or logged. The key is made off the event loop (the key
 * maker); then the key part, so no certificate is recorded for a key that
 * cannot go out; then the certificate is recorded through the grouped
 * writer (issue_and_answer).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "estkit/codec.h"
#include "server/server_int.h"

#define KEY_TYPE_PLAIN "application/pkcs8"
#define KEY_TYPE_ENCRYPTED "application/pkcs7-mime; smime-type=server-generated-key"
#define CERT_TYPE "application/pkcs7-mime; smime-type=certs-only"
#define KEYGEN_TYPE "multipart/mixed; boundary=" EST_MULTIPART_BOUNDARY

struct keygen {
	X509_REQ *csr;
	struct est_keyreq *keyreq;        /* NULL: the key goes out as plain PKCS#8 */
	struct est_key_recipient rcpt;    /* with keyreq: who can open the key (borrowed) */
	EVP_PKEY *key;                    /* the key made for the client */
	struct est_mime_part key_part;    /* its part of the answer ... */
	char *key_b64;                    /* ... whose body this is (cleansed when freed) */
	int64_t ticket;                   /* the approval to claim, 0 for none */
	struct policy_decision d;         /* what is issued, while the key is made */
	char *spend_code;                 /* d's, kept: the authentication's goes first */
};

static bool
key_from_csr(const struct est_alias_conf *ac)
{
	return ac->server_keygen_key != NULL &&
	    strcasecmp(ac->server_keygen_key, EST_KEYGEN_FROM_CSR) == 0;
}

/* The CSR (not verified) and what it asks for besides the names. */
static enum est_err
parse_keygen_csr(struct est_req *r, struct keygen *kg, struct est_error *e)
{
	const unsigned char *body;
	size_t len;

	if ((body = http_body(r, &len)) == NULL)
		return est_fail(e, EST_ERR_BADREQ, "empty request body; send a base64 DER PKCS#10 CSR");
	return est_csr_from_body(body, len, &kg->csr, e);
}

/*
 * The CSR's key and signature are ignored (EST-S-61); what it asks for is
 * not. With from-csr its key decides the key made, so the /csrattrs key and
 * signature items bind it as they bind an enrolment's (the policy checks
 * key-types).
 */
static enum est_err
check_keygen_csr(struct est_req *r, struct keygen *kg, bool by_ra, struct est_error *e)
{
	enum est_err rc;

	if (r->alias->conf->csrattrs_enforce && (rc = est_csrattrs_check(r->alias->csrattrs,
	    kg->csr, key_from_csr(r->alias->conf), e)) != EST_OK)
		return rc;
	if ((rc = authn_check_binding(r, kg->csr, by_ra, e)) != EST_OK)
		return rc;
	return est_csr_keyreq(kg->csr, &kg->keyreq, e);
}

/*
 * RFC 7030 §4.4: the TLS encryption that carries a key must be as strong as
 * the key. A key in CMS EnvelopedData is the client's key's to protect.
 * Checked before the key is made, so a refusal costs no key generation.
 */
static enum est_err
check_channel_strength(struct est_req *r, const struct keygen *kg, struct est_error *e)
{
	const char *spec = r->alias->conf->server_keygen_key != NULL ?
	    r->alias->conf->server_keygen_key : EST_KEYGEN_DEFAULT;
	int need;

	if (kg->keyreq != NULL)
		return EST_OK;
	if (key_from_csr(r->alias->conf))
		need = EVP_PKEY_get_security_bits(X509_REQ_get0_pubkey(kg->csr));
	else
		need = est_key_spec_strength(spec);
	if (need <= r->tls->cipher_bits)
		return EST_OK;
	return est_fail(e, EST_ERR_FORBIDDEN, "the key made here (%d-bit strength) is stronger than "
	    "this connection's cipher (%d bits): connect with AES-256 or ChaCha20, or ask for the "
	    "key encrypted (RFC 7030 §4.4)", need, r->tls->cipher_bits);
}

/* AES key wrap as long as the shared key (RFC 3394). */
static int
wrap_nid(size_t keylen)
{
	return keylen == 16 ? NID_id_aes128_wrap : keylen == 24 ? NID_id_aes192_wrap :
	    NID_id_aes256_wrap;
}

static enum est_err
shared_key_recipient(struct est_req *r, struct keygen *kg, struct est_error *e)
{
	const struct est_keyreq *q = kg->keyreq;
	const unsigned char *key;
	struct est_error why = { 0 };
	size_t keylen;
	char *hex;
	enum est_err rc;

	if (est_keks_find(r->worker->srv->keks, r->principal, q->kek_id, q->kek_id_len, &key,
	    &keylen, &why) != EST_OK) {
		hex = OPENSSL_buf2hexstr(q->kek_id, (long)q->kek_id_len);
		rc = est_fail(e, EST_ERR_BADREQ, "this server knows no decrypt key %s for %s "
		    "(DecryptKeyIdentifier)", hex != NULL ? hex : "?", r->principal);
		OPENSSL_free(hex);
		return rc;
	}
	if (!est_keyreq_lists(q, wrap_nid(keylen)))
		return est_fail(e, EST_ERR_BADREQ, "the CSR's SMIMECapabilities does not list %s, "
		    "the key wrap its decrypt key needs", OBJ_nid2sn(wrap_nid(keylen)));
	kg->rcpt.kek_id = q->kek_id;
	kg->rcpt.kek_id_len = q->kek_id_len;
	kg->rcpt.kek = key;
	kg->rcpt.kek_len = keylen;
	return EST_OK;
}

/* The TLS client certificate, when it is the one the CSR names and may encrypt (EST-S-68). */
static enum est_err
cert_recipient(struct est_req *r, struct keygen *kg, struct est_error *e)
{
	X509 *peer = r->tls->peer;
	const ASN1_OCTET_STRING *ski = peer != NULL ? X509_get0_subject_key_id(peer) : NULL;
	uint32_t ku = peer != NULL ? X509_get_key_usage(peer) : 0;
	EVP_PKEY *pub = peer != NULL ? X509_get0_pubkey(peer) : NULL;

	if (peer == NULL)
		return est_fail(e, EST_ERR_BADREQ, "AsymmetricDecryptKeyIdentifier names a "
		    "certificate: present it as the TLS client certificate");
	if (ski == NULL || (size_t)ASN1_STRING_length(ski) != kg->keyreq->cert_id_len ||
	    memcmp(ASN1_STRING_get0_data(ski), kg->keyreq->cert_id, kg->keyreq->cert_id_len) != 0)
		return est_fail(e, EST_ERR_BADREQ, "the TLS client certificate's subject key "
		    "identifier is not the CSR's AsymmetricDecryptKeyIdentifier");
	if (pub == NULL || !(EVP_PKEY_is_a(pub, "RSA") ? (ku & KU_KEY_ENCIPHERMENT) != 0 :
	    EVP_PKEY_is_a(pub, "EC") && (ku & KU_KEY_AGREEMENT) != 0))
		return est_fail(e, EST_ERR_BADREQ, "the TLS client certificate cannot receive "
		    "an encrypted key: it needs an RSA key with keyEncipherment or an EC key "
		    "with keyAgreement");
	kg->rcpt.cert = peer;
	return EST_OK;
}

static enum est_err
choose_recipient(struct est_req *r, struct keygen *kg, struct est_error *e)
{
	if (kg->keyreq == NULL)
		return EST_OK;
	if (kg->keyreq->kek_id != NULL)
		return shared_key_recipient(r, kg, e);
	return cert_recipient(r, kg, e);
}

/* The key signed by the CA and enveloped for the recipient (RFC 7030 §4.4.2). */
static enum est_err
encrypted_key(struct est_req *r, struct keygen *kg, unsigned char **der, size_t *derlen,
    struct est_error *e)
{
	unsigned char *pkg = NULL, *sd = NULL;
	size_t pkglen = 0, sdlen = 0;
	enum est_err rc;

	if ((rc = est_keypkg_encode(kg->key, &pkg, &pkglen, e)) == EST_OK &&
	    (rc = est_ca_sign_content(rollover_issuer(r->alias, time(NULL)), EST_OID_KEY_PACKAGE,
	    pkg, pkglen, &sd, &sdlen, e)) == EST_OK)
		rc = est_keypkg_envelope(sd, sdlen, &kg->rcpt, der, derlen, e);
	OPENSSL_clear_free(pkg, pkglen);
	OPENSSL_clear_free(sd, sdlen);
	return rc;
}

/* The key part: media type and base64 body (kg->key_b64). */
static enum est_err
make_key_part(struct est_req *r, struct keygen *kg, struct est_error *e)
{
	unsigned char *der = NULL;
	size_t derlen = 0;
	enum est_err rc;

	if (kg->keyreq == NULL) {
		kg->key_part.content_type = KEY_TYPE_PLAIN;
		rc = est_pkcs8_encode(kg->key, &der, &derlen, e);
	} else {
		kg->key_part.content_type = KEY_TYPE_ENCRYPTED;
		rc = encrypted_key(r, kg, &der, &derlen, e);
	}
	if (rc == EST_OK)
		rc = est_b64_encode(der, derlen, true, &kg->key_b64, &kg->key_part.len, e);
	kg->key_part.body = kg->key_b64;
	OPENSSL_clear_free(der, derlen);
	return rc;
}

static void
cleanse_free(char *s)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

static void
keygen_free(void *arg)
{
	struct keygen *kg = arg;

	if (kg == NULL)
		return;
	cleanse_free(kg->key_b64);
	policy_decision_clear(&kg->d);
	free(kg->spend_code);
	X509_REQ_free(kg->csr);
	est_keyreq_free(kg->keyreq);
	EVP_PKEY_free(kg->key);
	free(kg);
}

/* The answer once cert is on record (issue_answer.reply). */
static enum est_err
reply(struct est_req *r, X509 *cert, void *arg, struct est_error *e)
{
	struct keygen *kg = arg;
	struct est_mime_part parts[2] = { kg->key_part, { CERT_TYPE, NULL, 0 } };
	char *cert_b64 = NULL, *body = NULL;
	size_t bodylen = 0;
	enum est_err rc;

	if ((rc = encode_certs_only(cert, &cert_b64, &parts[1].len, e)) == EST_OK) {
		parts[1].body = cert_b64;
		rc = est_multipart_encode(parts, 2, EST_MULTIPART_BOUNDARY, &body, &bodylen, e);
	}
	if (rc == EST_OK)
		http_reply(r, 200, KEYGEN_TYPE, body, bodylen);
	free(cert_b64);
	OPENSSL_clear_free(body, bodylen);
	return rc;
}

/*
 * Every step up to making the key; the caller answers an error. As for
 * /simpleenroll, an unreadable CSR is reported only after authentication
 * (which may need the CSR: an enrolment code in it) succeeded otherwise.
 */
static enum est_err
serverkeygen(struct est_req *r, struct keygen *kg, struct authn_result *res,
    struct est_error *e)
{
	struct est_error csr_err = { 0 };
	enum est_err rc;

	if (!r->alias->conf->server_keygen)
		return est_fail(e, EST_ERR_NOTIMPL, "alias %s does not offer /serverkeygen",
		    r->alias->conf->name);
	(void)parse_keygen_csr(r, kg, &csr_err);
	if ((rc = authn_enroll(r, kg->csr, res, e)) != EST_OK)
		return rc;
	if (kg->csr == NULL) {
		*e = csr_err;
		return csr_err.code;
	}
	if ((rc = check_keygen_csr(r, kg, res->who.kind == PRINCIPAL_RA, e)) != EST_OK ||
	    (rc = check_channel_strength(r, kg, e)) != EST_OK ||
	    (rc = choose_recipient(r, kg, e)) != EST_OK ||
	    (rc = policy_for_request(r, POLICY_SERVERKEYGEN, &res->who, kg->csr, NULL, &kg->d,
	    e)) != EST_OK)
		return rc;
	/* The gate comes before the key is made, so a waiting client costs no key generation. */
	if ((rc = approval_admit(r, &kg->d, kg->csr, &kg->ticket, e)) != EST_OK)
		return rc;
	if (kg->d.spend_code != NULL && (kg->spend_code = strdup(kg->d.spend_code)) == NULL)
		return est_fail(e, EST_ERR_NOMEM, "out of memory");
	kg->d.spend_code = kg->spend_code;
	return EST_OK;
}

/* In the worker's loop, the key made: the key part, then the certificate. */
static void
key_made(struct est_req *r, EVP_PKEY *key, const struct est_error *made_err, void *arg)
{
	struct keygen *kg = arg;
	struct issue_answer a = { .reply = reply, .free_arg = keygen_free, .arg = kg };
	struct policy_decision d;
	struct est_error e = { 0 };

	kg->key = key;
	if (key == NULL)
		e = *made_err;
	/* The key part first: no certificate is recorded for a key that cannot go out. */
	if (key == NULL || make_key_part(r, kg, &e) != EST_OK) {
		keygen_free(kg);
		http_fail(r, &e);
		http_complete(r);
		return;
	}
	/* kg (and with it d.pubkey) is the pending enrolment's from here. */
	d = kg->d;
	kg->d = (struct policy_decision){ 0 };
	d.pubkey = kg->key;
	issue_and_answer(r, &d, NULL, kg->ticket, &a);
	policy_decision_clear(&d);
	/* Failed at once (else the writer's report answers it). */
	if (r->answered)
		http_complete(r);
}

void
h_serverkeygen(struct est_req *r)
{
	struct keygen *kg = calloc(1, sizeof(*kg));
	struct authn_result res = { 0 };
	struct est_error e = { 0 };

	if (kg == NULL) {
		est_fail(&e, EST_ERR_NOMEM, "out of memory");
		http_fail(r, &e);
	} else if (serverkeygen(r, kg, &res, &e) != EST_OK) {
		/* A request new to approval is answered once it is on record. */
		if (!r->deferred)
			http_fail(r, &e);
		keygen_free(kg);
	} else if (key_from_csr(r->alias->conf)) {
		key_maker_ask(r, NULL, X509_REQ_get0_pubkey(kg->csr), key_made, keygen_free, kg);
	} else {
		key_maker_ask(r, r->alias->conf->server_keygen_key != NULL ?
		    r->alias->conf->server_keygen_key : EST_KEYGEN_DEFAULT, NULL, key_made,
		    keygen_free, kg);
	}
	authn_result_clear(&res);
}
