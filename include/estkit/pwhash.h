/*
 * estkit password hashes: the salted PBKDF2-HMAC-SHA256 form shared by the
 * HTTP credentials file and the enrolment codes of end entities.
 *
 * Text form: "pbkdf2-sha256$ITER$SALT$HASH", SALT (16 bytes) and HASH (32
 * bytes) in canonical padded base64. Checks compare in constant time.
 */
#ifndef ESTKIT_PWHASH_H
#define ESTKIT_PWHASH_H

#include <stdbool.h>
#include <stddef.h>

#include "estkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EST_PWHASH_SALT_LEN 16
#define EST_PWHASH_HASH_LEN 32
#define EST_PWHASH_ITER_DEFAULT 100000
/* Room for the text form and its NUL. */
#define EST_PWHASH_TEXT_MAX 96

struct est_pwhash {
	unsigned long iter;                         /* PBKDF2 iterations */
	unsigned char salt[EST_PWHASH_SALT_LEN];
	unsigned char hash[EST_PWHASH_HASH_LEN];    /* PBKDF2-HMAC-SHA256(password, salt) */
};

/* Hash a password (pwlen bytes, any values) with a fresh random salt. */
enum est_err est_pwhash_new(const char *pw, size_t pwlen, struct est_pwhash *out,
    struct est_error *e);

/* The text form of h into out (EST_PWHASH_TEXT_MAX bytes). */
void est_pwhash_format(const struct est_pwhash *h, char out[EST_PWHASH_TEXT_MAX]);

/* Parse the text form. Returns NULL, or why the text is not one (for messages). */
const char *est_pwhash_parse(const char *text, struct est_pwhash *out);

/*
 * Whether pw hashes to h (constant-time compare). With h NULL, costs the
 * same PBKDF2 as a real check and returns false, so that a caller can spend
 * the same time on an unknown name as on a known one. *failed is set when
 * PBKDF2 itself failed (then false is returned).
 */
bool est_pwhash_matches(const struct est_pwhash *h, const char *pw, size_t pwlen,
    bool *failed);

#ifdef __cplusplus
}
#endif

#endif
