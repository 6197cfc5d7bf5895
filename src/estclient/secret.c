/*
 * Secrets that must not be command-line arguments (other users see those in
 * ps): a password or token from a file, an environment variable, or typed
 * on the terminal without echo. And the one yes/no question estclient asks,
 * on the terminal too, so that a script can never answer it by accident.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "estclient.h"

#define SECRET_MAX 1024

/* The first line of f, without its line end; NULL when empty or too long. */
static char *
first_line(FILE *f, const char *what)
{
	char buf[SECRET_MAX + 2], *s = NULL;
	size_t n;

	if (fgets(buf, sizeof(buf), f) == NULL) {
		cli_fail(0, "%s: nothing to read", what);
		return NULL;
	}
	n = strcspn(buf, "\r\n");
	if (n > SECRET_MAX || (n == strlen(buf) && !feof(f) && n == sizeof(buf) - 1))
		cli_fail(0, "%s: longer than %d characters", what, SECRET_MAX);
	else if ((s = strndup(buf, n)) == NULL)
		cli_fail(0, "out of memory");
	OPENSSL_cleanse(buf, sizeof(buf));
	return s;
}

char *
cli_secret_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s;

	if (f == NULL) {
		cli_fail(0, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	s = first_line(f, path);
	fclose(f);
	return s;
}

char *
cli_secret_env(const char *name)
{
	const char *v = getenv(name);
	char *s;

	if (v == NULL) {
		cli_fail(0, "the environment variable %s is not set", name);
		return NULL;
	}
	if ((s = strdup(v)) == NULL)
		cli_fail(0, "out of memory");
	return s;
}

/*
 * The terminal, for reading and writing; NULL (quietly) when there is none
 * or standard input is not one: a script is never stopped by a question.
 */
static FILE *
open_tty(void)
{
	return isatty(STDIN_FILENO) ? fopen("/dev/tty", "r+") : NULL;
}

char *
cli_secret_prompt(const char *prompt)
{
	struct termios old, quiet;
	FILE *tty = open_tty();
	char *s;
	bool echo_off;

	if (tty == NULL) {
		cli_fail(0, "no terminal to ask for the %s on", prompt);
		return NULL;
	}
	fprintf(tty, "%s: ", prompt);
	fflush(tty);
	echo_off = tcgetattr(fileno(tty), &old) == 0;
	if (echo_off) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fileno(tty), TCSANOW, &quiet);
	}
	s = first_line(tty, prompt);
	if (echo_off)
		tcsetattr(fileno(tty), TCSANOW, &old);
	fputc('\n', tty);
	fclose(tty);
	return s;
}

void
cli_secret_free(char *s)
{
	if (s != NULL)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

bool
cli_confirm(const char *question)
{
	FILE *tty;
	char answer[16] = "";

	if ((tty = open_tty()) == NULL)
		return false;
	fprintf(tty, "%s [y/N] ", question);
	fflush(tty);
	if (fgets(answer, sizeof(answer), tty) == NULL)
		answer[0] = '\0';
	fclose(tty);
	answer[strcspn(answer, "\r\n")] = '\0';
	return strcasecmp(answer, "y") == 0 || strcasecmp(answer, "yes") == 0;
}
