/*
 * The key wrap of an EnvelopedData's key agreement recipients, checked
 * before decryption (see keywrap.h for why). The wrap algorithm is read
 * from the KeyEncryptionAlgorithm's parameters the way OpenSSL's ECDH CMS
 * code reads it (an AlgorithmIdentifier in a SEQUENCE), so the check sees
 * what decryption would use.
 */
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "codec/keywrap.h"

/* Whether the kari's KeyEncryptionAlgorithm names AES key wrap as its wrap. */
static bool
aes_key_wrap(const X509_ALGOR *kek_alg)
{
	const ASN1_OBJECT *obj = NULL;
	const void *param = NULL;
	const ASN1_STRING *seq;
	const unsigned char *p;
	X509_ALGOR *wrap;
	int ptype = V_ASN1_UNDEF, nid = NID_undef;

	X509_ALGOR_get0(&obj, &ptype, &param, kek_alg);
	if (ptype != V_ASN1_SEQUENCE || (seq = param) == NULL)
		return false;
	p = ASN1_STRING_get0_data(seq);
	if ((wrap = d2i_X509_ALGOR(NULL, &p, ASN1_STRING_length(seq))) != NULL) {
		X509_ALGOR_get0(&obj, NULL, NULL, wrap);
		nid = OBJ_obj2nid(obj);
		X509_ALGOR_free(wrap);
	} else {
		ERR_clear_error();
	}
	return nid == NID_id_aes128_wrap || nid == NID_id_aes192_wrap || nid == NID_id_aes256_wrap;
}

bool
codec_kari_wraps_ok(CMS_ContentInfo *cms)
{
	STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);

	for (int i = 0; i < sk_CMS_RecipientInfo_num(ris); i++) {
		CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, i);
		X509_ALGOR *alg = NULL;
		ASN1_OCTET_STRING *ukm = NULL;

		if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_AGREE)
			continue;
		if (CMS_RecipientInfo_kari_get0_alg(ri, &alg, &ukm) != 1 || !aes_key_wrap(alg))
			return false;
	}
	return true;
}
