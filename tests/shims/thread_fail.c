/*
 * A test shim preloaded into estd (LD_PRELOAD) by
 * tests/integration/test_side_thread.sh: once the file named by
 * THREAD_FAIL_ARM exists, holding a number N (none: 0), the next N thread
 * creations succeed and the one after fails (EAGAIN), as when the process
 * is out of threads; the file is then removed, so one arming fails one
 * creation. A reload creates its threads in a fixed order (the store's
 * checkpointer, the store writer, the CRL keeper, the key maker, the
 * workers): N picks one. Every
 * other creation passes through untouched. Never built into estd itself.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long passed;                     /* creations let through since armed */

/* Whether this creation is the one to fail. */
static int
fail_now(void)
{
	const char *arm = getenv("THREAD_FAIL_ARM");
	long n = 0;
	int fail = 0;
	FILE *f;

	if (arm == NULL)
		return 0;
	pthread_mutex_lock(&lock);
	if ((f = fopen(arm, "r")) == NULL) {
		passed = 0;
	} else {
		if (fscanf(f, "%ld", &n) != 1)
			n = 0;
		fclose(f);
		if (passed >= n) {
			fail = 1;
			passed = 0;
			unlink(arm);
		} else {
			passed++;
		}
	}
	pthread_mutex_unlock(&lock);
	return fail;
}

int
pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg)
{
	static create_fn real;

	if (real == NULL)
		real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
	if (real == NULL)
		return EAGAIN;
	if (fail_now())
		return EAGAIN;
	return real(thread, attr, start, arg);
}
