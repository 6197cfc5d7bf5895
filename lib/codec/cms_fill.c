/*
 * CMS content that may be a private key, put in and wiped out (cms_fill.h).
 * The path is the one CMS_final takes, minus the copy: CMS_dataInit's chain
 * (digests or the cipher) ends in a memory BIO whose buffer becomes the
 * content; memory BIOs grow with BUF_MEM_grow_clean and OpenSSL's cipher
 * BIO cleanses its buffer when freed, so no stale copy remains.
 */
#include <limits.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>

#include "codec/cms_fill.h"

bool
codec_cms_fill(CMS_ContentInfo *cms, const unsigned char *content, size_t len)
{
	BIO *chain;
	bool ok;

	if (len > INT_MAX || (chain = CMS_dataInit(cms, NULL)) == NULL)
		return false;
	ok = BIO_write(chain, content, (int)len) == (int)len && BIO_flush(chain) == 1 &&
	    CMS_dataFinal(cms, chain) == 1;
	BIO_free_all(chain);
	return ok;
}

void
codec_cms_content_cleanse(CMS_ContentInfo *cms)
{
	ASN1_OCTET_STRING **content = CMS_get0_content(cms);

	if (content != NULL && *content != NULL && (*content)->data != NULL)
		OPENSSL_cleanse((*content)->data, (size_t)(*content)->length);
}
