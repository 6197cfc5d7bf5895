/*
 * The attacker's SRP client for test_srp.sh: a full TLS-SRP handshake as
 * one user, then a new connection as another user (with any password) that
 * offers the first one's session, and a POST of a CSR on each.
 *
 *   srp_resume PORT CSR_B64_FILE USER1 PASSWORD1 USER2 PASSWORD2
 *
 * Prints, per connection, "USER: handshake failed" or "USER: resumed=0|1"
 * and the answer's status line. Exits 0 when both connections were tried,
 * 1 when the first (honest) one failed or on bad arguments.
 *
 * OpenSSL's SRP calls are deprecated in 3.0 without being removed, as in
 * lib/auth/srp.c.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static int port;
static char csr[16384];

static int
connect_local(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int s = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_port = htons((unsigned short)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror("srp_resume: connect");
		exit(1);
	}
	return s;
}

/* One connection as user, offering resume when not NULL: its session, or NULL. */
static SSL_SESSION *
enrol(const char *user, const char *password, SSL_SESSION *resume)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL_SESSION *session = NULL;
	char req[20000], answer[4096], *eol;
	SSL *ssl;
	int fd, n;

	if (ctx == NULL || !SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_set_cipher_list(ctx, "SRP") != 1 ||
	    !SSL_CTX_set_srp_username(ctx, (char *)user) ||
	    !SSL_CTX_set_srp_password(ctx, (char *)password) || (ssl = SSL_new(ctx)) == NULL) {
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	fd = connect_local();
	SSL_set_fd(ssl, fd);
	if (resume != NULL)
		SSL_set_session(ssl, resume);
	if (SSL_connect(ssl) != 1) {
		printf("%s: handshake failed\n", user);
	} else {
		n = snprintf(req, sizeof(req), "POST /.well-known/est/srp/simpleenroll HTTP/1.1\r\n"
		    "Host: localhost\r\nContent-Type: application/pkcs10\r\nContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n%s", strlen(csr), csr);
		answer[0] = '\0';
		if (n > 0 && SSL_write(ssl, req, n) == n &&
		    (n = SSL_read(ssl, answer, sizeof(answer) - 1)) > 0)
			answer[n] = '\0';
		if ((eol = strchr(answer, '\r')) != NULL)
			*eol = '\0';
		printf("%s: resumed=%d %s\n", user, SSL_session_reused(ssl), answer);
		session = SSL_get1_session(ssl);
		SSL_shutdown(ssl);
	}
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	return session;
}

int
main(int argc, char **argv)
{
	SSL_SESSION *first;
	FILE *f;
	size_t n;

	if (argc != 7 || (port = atoi(argv[1])) <= 0 || (f = fopen(argv[2], "r")) == NULL) {
		fprintf(stderr, "usage: srp_resume PORT CSR_B64_FILE USER1 PASSWORD1 USER2 "
		    "PASSWORD2\n");
		return 1;
	}
	n = fread(csr, 1, sizeof(csr) - 1, f);
	csr[n] = '\0';
	fclose(f);
	if ((first = enrol(argv[3], argv[4], NULL)) == NULL)
		return 1;
	SSL_SESSION_free(enrol(argv[5], argv[6], first));
	SSL_SESSION_free(first);
	return 0;
}
