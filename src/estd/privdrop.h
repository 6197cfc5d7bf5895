/*
 * estd's privilege drop (privdrop.c).
 */
#ifndef ESTD_PRIVDROP_H
#define ESTD_PRIVDROP_H

#include <stddef.h>

/*
 * Become `user` for good when running as root; a no-op when already that
 * user. Returns 0, or -1 with a reason in err.
 */
int privdrop(const char *user, char *err, size_t errlen);

#endif
