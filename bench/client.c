/*
 * One simulated EST client: HTTP/1.1 POSTs over TLS, on libevent's OpenSSL
 * bufferevents. Every client shares the run's one SSL_CTX (trust anchors,
 * client certificate), so a new connection costs its handshake and nothing
 * more -- the generator must stay cheap next to the server it measures.
 *
 * The response parser reads just what the load needs: the status, the
 * body's length, Connection: close and Digest challenges.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "estbench.h"

#define MAX_HEAD 65536

static void client_read(struct bufferevent *bev, void *arg);
static void client_event(struct bufferevent *bev, short what, void *arg);

/*
 * Close c's connection, politely (close_notify) when the exchange ended
 * well: OpenSSL marks the session of a connection freed without it as not
 * resumable.
 */
static void
drop_connection(struct client *c, bool clean)
{
	SSL *ssl;

	if (c->bev == NULL)
		return;
	ssl = bufferevent_openssl_get_ssl(c->bev);
	if (clean && ssl != NULL) {
		SSL_shutdown(ssl);
		if (c->t->conn == CONN_RESUME) {
			SSL_SESSION_free(c->session);
			c->session = SSL_get1_session(ssl);
		}
	}
	bufferevent_free(c->bev);
	c->bev = NULL;
}

static void
finish(struct client *c, int status, const char *error)
{
	c->busy = false;
	if (status == 0 || c->close_after || c->t->conn != CONN_KEEPALIVE)
		drop_connection(c, status != 0);
	c->done(c, status, error);
}

static bool
connect_new(struct client *c)
{
	const struct target *t = c->t;
	struct timeval tv = { .tv_sec = t->timeout };
	SSL *ssl = SSL_new(t->ssl_ctx);
	int one = 1;
	evutil_socket_t fd;

	if (ssl == NULL || SSL_set1_host(ssl, t->host) != 1 ||
	    (c->session != NULL && SSL_set_session(ssl, c->session) != 1)) {
		SSL_free(ssl);
		return false;
	}
	/* No Nagle: a request is written at once, as curl and browsers do. */
	if ((fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    evutil_make_socket_nonblocking(fd) != 0) {
		if (fd >= 0)
			close(fd);
		SSL_free(ssl);
		return false;
	}
	/* SNI only for a name; RFC 6066 forbids an address there. */
	if (strspn(t->host, "0123456789.:") != strlen(t->host))
		SSL_set_tlsext_host_name(ssl, t->host);
	c->bev = bufferevent_openssl_socket_new(t->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		SSL_free(ssl);
		return false;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, client_read, NULL, client_event, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, (const struct sockaddr *)&t->addr, (int)t->addrlen) != 0) {
		bufferevent_free(c->bev);
		c->bev = NULL;
		return false;
	}
	return true;
}

/* Queue the request on c's connection (made first when there is none). */
static bool
send_request(struct client *c)
{
	const struct target *t = c->t;
	char digest[1024];
	const char *auth = t->basic != NULL ? t->basic : "";

	if (c->bev == NULL && !connect_new(c))
		return false;
	if (t->digest && c->digest.have_nonce) {
		if (!digest_header(&c->digest, t->user, t->password, "POST", t->path, digest,
		    sizeof(digest)))
			return false;
		auth = digest;
	}
	c->head_done = c->close_after = c->have_length = false;
	c->status = 0;
	return evbuffer_add_printf(bufferevent_get_output(c->bev),
	    "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/pkcs10\r\n"
	    "Content-Length: %zu\r\n%s\r\n", t->path, t->hostport, c->body_len, auth) >= 0 &&
	    evbuffer_add(bufferevent_get_output(c->bev), c->body, c->body_len) == 0;
}

bool
client_request(struct client *c, const char *body, size_t len)
{
	c->body = body;
	c->body_len = len;
	c->retried = false;
	c->busy = true;
	if (!send_request(c)) {
		finish(c, 0, "cannot start a request (out of memory or bad TLS settings)");
		return false;
	}
	return true;
}

/* One header line of the response head. */
static void
header(struct client *c, const char *line)
{
	const char *v = strchr(line, ':');
	size_t n;

	if (v == NULL)
		return;
	n = (size_t)(v - line);
	for (v++; *v == ' ' || *v == '\t'; v++)
		;
	if (n == 14 && strncasecmp(line, "Content-Length", n) == 0) {
		c->content_length = strtoul(v, NULL, 10);
		c->have_length = true;
	} else if (n == 10 && strncasecmp(line, "Connection", n) == 0 && strcasecmp(v, "close") == 0) {
		c->close_after = true;
	} else if (n == 16 && strncasecmp(line, "WWW-Authenticate", n) == 0 && c->t->digest) {
		digest_take_challenge(&c->digest, v);
	}
}

/* Parse the head once it is all there. false: not yet. *bad: never will be. */
static bool
read_head(struct client *c, struct evbuffer *in, bool *bad)
{
	struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	char *line;
	size_t n;

	*bad = false;
	if (end.pos < 0) {
		*bad = evbuffer_get_length(in) > MAX_HEAD;
		return false;
	}
	if ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT)) == NULL ||
	    sscanf(line, "HTTP/1.%*d %d", &c->status) != 1 || c->status < 100 || c->status > 599) {
		free(line);
		*bad = true;
		return false;
	}
	free(line);
	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT)) != NULL && n > 0) {
		header(c, line);
		free(line);
	}
	free(line);
	c->head_done = true;
	return true;
}

static void
response_done(struct client *c)
{
	/* A Digest challenge is answered once per request, on the same connection. */
	if (c->status == 401 && c->t->digest && !c->retried && c->digest.fresh) {
		c->retried = true;
		if (c->close_after)
			drop_connection(c, true);
		if (send_request(c))
			return;
		finish(c, 0, "cannot answer the Digest challenge");
		return;
	}
	finish(c, c->status, NULL);
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	bool bad;

	if (!c->busy) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if (!c->head_done && !read_head(c, in, &bad)) {
		if (bad)
			finish(c, 0, "malformed HTTP response");
		return;
	}
	/* Without a length the body ends with the connection (client_event). */
	if (!c->have_length || evbuffer_get_length(in) < c->content_length)
		return;
	evbuffer_drain(in, c->content_length);
	response_done(c);
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;
	char why[256];
	unsigned long err;

	if (what & BEV_EVENT_CONNECTED) {
		c->handshakes++;
		c->resumed += SSL_session_reused(bufferevent_openssl_get_ssl(bev)) == 1;
		return;
	}
	if (!c->busy) {
		/* The server closed an idle keep-alive connection. */
		drop_connection(c, false);
		return;
	}
	if ((what & BEV_EVENT_EOF) && c->head_done && !c->have_length) {
		evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
		c->close_after = true;
		response_done(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		snprintf(why, sizeof(why), "timeout after %ld s", c->t->timeout);
	else if ((err = bufferevent_get_openssl_error(bev)) != 0)
		ERR_error_string_n(err, why, sizeof(why));
	else if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "connection closed before the response");
	else
		snprintf(why, sizeof(why), "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	finish(c, 0, why);
}

void
client_free(struct client *c)
{
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = NULL;
	SSL_SESSION_free(c->session);
	c->session = NULL;
}
