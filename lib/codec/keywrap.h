/*
 * lib/codec internal, shared with lib/client: the key-wrap check made on an
 * EnvelopedData before OpenSSL is asked to open it. Not installed.
 */
#ifndef ESTKIT_CODEC_KEYWRAP_H
#define ESTKIT_CODEC_KEYWRAP_H

#include <stdbool.h>

#include <openssl/cms.h>

/*
 * Whether every key agreement recipient (kari) of the EnvelopedData cms
 * wraps the content-encryption key with AES key wrap (RFC 3394:
 * id-aes128-wrap, id-aes192-wrap, id-aes256-wrap). Anything else must be
 * refused before CMS_decrypt: OpenSSL 3.0's unwrap with padding (RFC 5649)
 * writes 8 bytes past its output buffer when a wrapped key is malformed
 * (openssl/openssl#30663). Other recipient types are not concerned.
 */
bool codec_kari_wraps_ok(CMS_ContentInfo *cms);

#endif
