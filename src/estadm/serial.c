/*
 * Serials as estadm shows them: the way `openssl x509 -serial` prints them
 * (whole bytes, so "0A3F" rather than the store's "A3F"), so that the output
 * of one can be grepped for the other. Every command taking a serial accepts
 * both forms (est_serial_normalise).
 */
#include <stdio.h>
#include <string.h>

#include "estadm.h"

const char *
adm_serial_shown(const char *serial, char *buf, size_t len)
{
	bool odd = serial[0] != '-' && strlen(serial) % 2 == 1;

	snprintf(buf, len, "%s%s", odd ? "0" : "", serial);
	return buf;
}
