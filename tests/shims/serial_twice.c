/*
 * A test shim preloaded into estd (LD_PRELOAD) by
 * tests/integration/test_serial_collision.sh: once the file named by
 * SERIAL_TWICE_ARM exists, the next 16-byte RAND_bytes draw (a certificate
 * serial number, lib/ca/issue.c) is remembered and the one after it gets
 * the same bytes, so two enrolments draw the same serial once. Every other
 * draw passes through untouched. Never built into estd itself.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SERIAL_LEN 16

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char first[SERIAL_LEN];
static int draws;                       /* 16-byte draws since armed, up to 2 */

int RAND_bytes(unsigned char *buf, int num);

int
RAND_bytes(unsigned char *buf, int num)
{
	static int (*real)(unsigned char *, int);
	const char *arm = getenv("SERIAL_TWICE_ARM");
	int rc;

	if (real == NULL)
		real = (int (*)(unsigned char *, int))dlsym(RTLD_NEXT, "RAND_bytes");
	if (real == NULL)
		return 0;
	rc = real(buf, num);
	if (rc != 1 || num != SERIAL_LEN || arm == NULL || access(arm, F_OK) != 0)
		return rc;
	pthread_mutex_lock(&lock);
	if (draws == 0)
		memcpy(first, buf, SERIAL_LEN);
	else if (draws == 1)
		memcpy(buf, first, SERIAL_LEN);
	if (draws < 2)
		draws++;
	pthread_mutex_unlock(&lock);
	return rc;
}
