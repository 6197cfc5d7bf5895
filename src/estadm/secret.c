/*
 * Reading passwords and enrolment codes. A secret is never a command-line
 * argument, where every user of the machine could read it (ps,
 * /proc/PID/cmdline): it comes from standard input ("-"), from a file, or
 * from the terminal with echo off (asked twice). Buffers are the caller's,
 * who wipes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "estadm.h"

/* Strip the line end of a line read into buf; false when it did not fit. */
static bool
chop_line(char *buf, bool complete)
{
	size_t n = strcspn(buf, "\n");

	if (buf[n] != '\n' && !complete)
		return false;
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\r')
		buf[n - 1] = '\0';
	return true;
}

static int
read_stream(FILE *f, const char *where, const char *what, char *buf, size_t size)
{
	if (fgets(buf, (int)size, f) == NULL)
		return adm_fail("no %s in %s", what, where);
	if (!chop_line(buf, feof(f)))
		return adm_fail("the %s in %s is too long (at most %zu bytes)", what, where, size - 2);
	return ADM_EXIT_OK;
}

/* Read one line from fd, byte by byte so nothing after it is consumed. */
static bool
read_line_fd(int fd, char *buf, size_t size)
{
	size_t n = 0;
	char ch;

	for (;;) {
		ssize_t r = read(fd, &ch, 1);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		if (ch == '\n')
			break;
		if (n + 1 >= size)
			return false;
		buf[n++] = ch;
	}
	buf[n] = '\0';
	return true;
}

/* Prompt on the terminal with echo off; restores the terminal in any case. */
static bool
tty_prompt(int fd, const char *prompt, char *buf, size_t size)
{
	struct termios old, quiet;
	bool ok;

	if (tcgetattr(fd, &old) != 0)
		return false;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0)
		return false;
	ok = write(fd, prompt, strlen(prompt)) == (ssize_t)strlen(prompt) &&
	    read_line_fd(fd, buf, size);
	tcsetattr(fd, TCSAFLUSH, &old);
	return ok;
}

/* Ask twice on /dev/tty; both answers must match. */
static int
read_tty(const char *what, char *buf, size_t size)
{
	char again[ADM_SECRET_MAX], prompt[160];
	int fd, status = ADM_EXIT_OK;

	if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1)
		return adm_fail("no terminal to ask for the %s: give it on standard input "
		    "(--password -) or in a file (--password-file FILE)", what);
	snprintf(prompt, sizeof(prompt), "%c%s: ", what[0] & ~0x20, what + 1);
	if (!tty_prompt(fd, prompt, buf, size) ||
	    !tty_prompt(fd, "Again: ", again, size < sizeof(again) ? size : sizeof(again)))
		status = adm_fail("cannot read the %s from the terminal", what);
	else if (strcmp(buf, again) != 0)
		status = adm_fail("the two entries differ; nothing changed");
	OPENSSL_cleanse(again, sizeof(again));
	close(fd);
	return status;
}

int
adm_read_secret(const char *arg, const char *file, const char *what, char *buf, size_t size)
{
	FILE *f;
	int status;

	if (arg != NULL && file != NULL)
		return adm_fail("give --password - or --password-file, not both");
	if (arg != NULL && strcmp(arg, "-") != 0)
		return adm_fail("the %s is not taken on the command line, where every user can "
		    "read it (/proc/PID/cmdline): use --password - (standard input), "
		    "--password-file FILE or the prompt", what);
	if (arg != NULL)
		status = read_stream(stdin, "standard input", what, buf, size);
	else if (file == NULL)
		status = read_tty(what, buf, size);
	else if ((f = fopen(file, "re")) == NULL)
		status = adm_fail("%s: %s", file, strerror(errno));
	else {
		status = read_stream(f, file, what, buf, size);
		fclose(f);
	}
	if (status == ADM_EXIT_OK && buf[0] == '\0')
		status = adm_fail("the %s is empty; nothing changed", what);
	return status;
}
