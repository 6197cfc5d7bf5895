/*
 * lib/codec internal, shared with lib/ca: filling a CMS structure whose
 * content may be a private key (RFC 7030 §4.4.2's SignedData and
 * EnvelopedData) without leaving copies of it behind. Not installed.
 */
#ifndef ESTKIT_CODEC_CMS_FILL_H
#define ESTKIT_CODEC_CMS_FILL_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/cms.h>

/*
 * Encapsulate content[0..len) in cms (made with CMS_PARTIAL or
 * CMS_EnvelopedData_create, not detached) and finish it, as CMS_final
 * does. CMS_final copies the content through a buffering BIO that OpenSSL
 * 3.0 frees without cleansing; this writes it straight into the structure.
 * False on failure, with OpenSSL's error queue set.
 */
bool codec_cms_fill(CMS_ContentInfo *cms, const unsigned char *content, size_t len);

/*
 * Cleanse the encapsulated content of cms (a SignedData holds it in the
 * clear), to be called before cms is freed: OpenSSL frees it as is.
 */
void codec_cms_content_cleanse(CMS_ContentInfo *cms);

#endif
