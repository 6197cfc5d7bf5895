/*
 * estkit key-encryption keys: the symmetric keys that clients name in a
 * /serverkeygen CSR's DecryptKeyIdentifier (RFC 7030 §4.4.1.1) to get their
 * new private key encrypted, each bound to the principal that may use it.
 *
 * The file (mode 0600, refused when group or others can read it) has one key
 * per line, fields separated by spaces or tabs:
 *
 *   PRINCIPAL KEY-ID KEY
 *
 * PRINCIPAL is who authenticates, as estd logs it ("user:NAME" for HTTP
 * authentication, "cert:SERIAL" for a client certificate). KEY-ID is the
 * DecryptKeyIdentifier in hex (1-64 bytes), KEY the AES key-wrap key in hex
 * (16, 24 or 32 bytes). Lines starting with '#' and empty lines are ignored.
 * A loaded set is immutable and may be used from several threads.
 */
#ifndef ESTKIT_KEK_H
#define ESTKIT_KEK_H

#include <stddef.h>

#include "estkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct est_keks;

/*
 * Load a key file. EST_ERR_CONFIG names the file (and line) of a problem:
 * unreadable, open to group or others, a malformed line, a key of the wrong
 * size, a (principal, key id) pair given twice. Caller frees with
 * est_keks_free(), which cleanses the keys.
 */
enum est_err est_keks_load(const char *path, struct est_keks **out, struct est_error *e);
void est_keks_free(struct est_keks *k);

/*
 * The key that principal holds under id. EST_OK and *key (borrowed from the
 * set), or EST_ERR_NOTFOUND.
 */
enum est_err est_keks_find(const struct est_keks *k, const char *principal,
    const unsigned char *id, size_t idlen, const unsigned char **key, size_t *keylen,
    struct est_error *e);

#ifdef __cplusplus
}
#endif

#endif
