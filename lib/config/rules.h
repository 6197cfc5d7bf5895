/*
 * The issuance-policy keys of an alias (name rules, key types, renewal):
 * their defaults, parsing and freeing, for config.c. Nothing else includes
 * this.
 */
#ifndef ESTKIT_CONFIG_RULES_H
#define ESTKIT_CONFIG_RULES_H

#include <stdbool.h>

#include "estkit/config.h"

/* The secure defaults every alias starts with (docs/configuration.md). */
void rules_defaults(struct est_alias_conf *a);

/*
 * Apply one policy key's value to the alias. Returns 1 when taken, 0 when
 * the value is not acceptable (*hint says what is), -1 when key is not a
 * policy key. On 0 the alias keeps a consistent (possibly emptied) list.
 */
int rules_apply(struct est_alias_conf *a, const char *key, const char *value,
    const char **hint);

/*
 * Whether every key of a server-keygen-key spec ("rsa:2048", "ec:P-256",
 * ...) is one the alias's key-types accepts.
 */
bool rules_key_spec_listed(const struct est_alias_conf *a, const char *spec);

/* Free what rules_apply/rules_defaults allocated in a. */
void rules_free(struct est_alias_conf *a);

#endif
