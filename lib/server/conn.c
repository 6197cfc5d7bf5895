/*
 * Client connections, transport only: accept, connection limits, TLS,
 * reading, writing with back-pressure, timeouts and closing. What the bytes
 * mean is http.c's business.
 *
 * Each connection is a bufferevent (an OpenSSL one on TLS listeners) owned
 * by one worker. Limits:
 * - max-connections over all workers, max-connections-per-address per
 *   source address (connlimit.c). A connection from an address at its
 *   share is closed at once. When the server is at max-connections, the
 *   accepting worker closes its oldest idle or handshaking connection to
 *   make room (as nginx and HAProxy do), or asks a worker that had one at
 *   its last count (every 100 ms) to close its own, so clients that merely
 *   hold sockets open cannot lock others out; only when none has one is
 *   the new connection closed. (The count may be up to 100 ms old: a
 *   worker asked may find none any more, and the server then stays one
 *   over max-connections until a connection closes.)
 * - Back-pressure: while a connection's unsent output is over
 *   CONN_OUTPUT_BOUND, it is not read (conn_may_take_request), so a client
 *   pipelining requests without reading the answers is served at its own
 *   reading speed and costs at most the bound plus one request. Input is
 *   capped too (read high-water mark: one head and one body). While a
 *   request is served later (its record with the store writer, its key
 *   with the key maker), what comes is read but not parsed, within the same
 *   cap, so a client that closes meanwhile is noticed and its request
 *   detached (conn_hold_input).
 * - A TLS handshake not done within handshake-timeout is dropped, a
 *   connection idle past idle-timeout (reading or writing) is closed, and a
 *   request not complete within read-timeout of its first byte is 408
 *   however slowly it trickles in (slow-loris; http_timeout answers).
 * Refusals of connections are logged at most once a second per kind, with
 * the count of those not logged.
 *
 * A connection is closed gracefully ("lingering close"): once the last
 * answer is written, our side is shut (close_notify on TLS) and whatever the
 * client still sends is read and dropped until it closes or LINGER_SECONDS
 * pass, counted once from the start (a read timeout would restart with each
 * byte, and one byte a second held the slot for ever: found in review). A
 * lingering connection is also the first to go when room is needed.
 * Closing at once would make the kernel reset the connection while a
 * client is still sending a body we refused, and the client would lose the
 * 413 it was sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/bufferevent_ssl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "estkit/log.h"
#include "server/server_int.h"

#define LINGER_SECONDS 2

static struct log_limit limit_full, limit_per_source, limit_evicted;
/* A scanner or a flood of failing handshakes would write a line each; a few
 * a second still show an administrator every client they try. */
static struct log_limit limit_tls_failed = { .per_second = 10 };
static struct log_limit limit_handshake_slow = { .per_second = 10 };

bool
log_limit_pass(struct log_limit *l, unsigned *dropped)
{
	long long now = (long long)time(NULL), last = atomic_load(&l->second);
	unsigned allowed = l->per_second > 0 ? l->per_second : 1;

	if (now != last && atomic_compare_exchange_strong(&l->second, &last, now)) {
		atomic_store(&l->lines, 1);
		*dropped = atomic_exchange(&l->dropped, 0);
		return true;
	}
	if (atomic_fetch_add(&l->lines, 1) < allowed) {
		*dropped = 0;
		return true;
	}
	atomic_fetch_add(&l->dropped, 1);
	return false;
}

void
conn_free(struct conn *c)
{
	struct est_worker *w = c->worker;
	struct est_server *srv = w->srv;

	TAILQ_REMOVE(&c->worker->conns, c, link);
	if (c->deadline != NULL)
		event_free(c->deadline);
	http_session_clear(c);
	tls_facts_clear(&c->tls);
	/*
	 * OpenSSL drops from the cache the session of a connection freed
	 * without our close_notify, as SSL 3.0 asked; since TLS 1.1 an
	 * unclosed connection need not forbid resumption (RFC 4346 §7.2.1),
	 * and most clients close first. Only handshakes that finished have a
	 * session to keep.
	 */
	if (c->ssl != NULL && c->state != CONN_HANDSHAKE)
		SSL_set_shutdown(c->ssl, SSL_get_shutdown(c->ssl) | SSL_SENT_SHUTDOWN);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->counted)
		connlimit_give(srv->per_source, c->source);
	atomic_fetch_sub(&srv->connections, 1);
	atomic_fetch_sub(&w->held, 1);
	free(c);
	worker_conn_closed(w);
}

struct evbuffer *
conn_output(struct conn *c)
{
	return bufferevent_get_output(c->bev);
}

void
conn_last_answer(struct conn *c)
{
	c->state = CONN_CLOSING;
	/* Told when all of it is written, not when it is below the bound. */
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_enable(c->bev, EV_WRITE);
}

bool
conn_may_take_request(struct conn *c)
{
	if (c->state != CONN_OPEN)
		return false;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) < CONN_OUTPUT_BOUND)
		return true;
	if (!c->paused) {
		c->paused = true;
		bufferevent_disable(c->bev, EV_READ);
	}
	return false;
}

void
conn_request_started(struct conn *c)
{
	struct timeval tv = { .tv_sec = c->worker->srv->cfg->read_timeout };

	if (!evtimer_pending(c->deadline, NULL))
		evtimer_add(c->deadline, &tv);
}

void
conn_request_read(struct conn *c)
{
	evtimer_del(c->deadline);
}

/*
 * Reading goes on while a request is served later: HTTP_SERVING keeps what
 * comes (pipelined requests) in the input unparsed, and the end of the
 * input or an error tells that the client has gone (conn_event), so a key
 * is not made for nobody. The idle-timeout does not run meanwhile: the
 * client waits for us.
 */
void
conn_hold_input(struct conn *c)
{
	struct timeval tv = { .tv_sec = c->worker->srv->cfg->idle_timeout };

	c->held = true;
	bufferevent_set_timeouts(c->bev, NULL, &tv);
}

void
conn_release_input(struct conn *c)
{
	struct timeval tv = { .tv_sec = c->worker->srv->cfg->idle_timeout };

	c->held = false;
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	if (!c->paused)
		bufferevent_enable(c->bev, EV_READ);
	/* Requests already read wait for no new data. */
	http_input(c, bufferevent_get_input(c->bev));
}

/* The TLS handshake is done (told by an event or by the first data). */
static void
handshake_done(struct conn *c)
{
	evtimer_del(c->deadline);
	tls_facts_capture(&c->tls, c->ssl);
	c->state = CONN_OPEN;
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	size_t pending = evbuffer_get_length(bufferevent_get_input(c->bev));

	(void)fd;
	(void)what;
	if (c->state == CONN_HANDSHAKE) {
		char more[48] = "";
		unsigned dropped;

		if (log_limit_pass(&limit_handshake_slow, &dropped)) {
			if (dropped > 0)
				snprintf(more, sizeof(more), " (%u more like it not logged)", dropped);
			log_info("peer=%s listener=%s TLS handshake not done within handshake-timeout; "
			    "closed%s", c->peer, c->listener->conf->name, more);
		}
		conn_free(c);
	} else if (c->state == CONN_LINGER) {
		conn_free(c);
	} else if (c->state == CONN_OPEN && !http_timeout(c, pending > 0, "read-timeout")) {
		conn_free(c);
	}
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->state == CONN_CLOSING || c->state == CONN_LINGER) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if (c->state == CONN_HANDSHAKE)
		handshake_done(c);
	http_input(c, in);
}

/* The last answer is out: shut our side, then wait for the client's close. */
static void
start_linger(struct conn *c)
{
	struct timeval tv = { .tv_sec = LINGER_SECONDS };
	evutil_socket_t fd = bufferevent_getfd(c->bev);

	if (c->ssl != NULL && SSL_shutdown(c->ssl) < 0)
		ERR_clear_error();
	if (fd < 0 || shutdown(fd, SHUT_WR) != 0) {
		conn_free(c);
		return;
	}
	c->state = CONN_LINGER;
	evtimer_del(c->deadline);
	if (evtimer_add(c->deadline, &tv) != 0) {
		conn_free(c);
		return;
	}
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	bufferevent_enable(c->bev, EV_READ);
}

/* Output went below the low-water mark (all of it, once closing). */
static void
conn_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *out = bufferevent_get_output(bev);

	if (c->state == CONN_CLOSING && evbuffer_get_length(out) == 0) {
		start_linger(c);
	} else if (c->paused && evbuffer_get_length(out) < CONN_OUTPUT_BOUND) {
		c->paused = false;
		bufferevent_enable(bev, EV_READ);
		/* Requests already read wait for no new data. */
		http_input(c, bufferevent_get_input(bev));
	}
}

static void
log_tls_failure(struct conn *c)
{
	unsigned long err = bufferevent_get_openssl_error(c->bev);
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	long verify = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	char msg[160], why[96] = "", more[48] = "";
	unsigned dropped;

	if (err == 0 || !log_limit_pass(&limit_tls_failed, &dropped))
		return;
	ERR_error_string_n(err, msg, sizeof(msg));
	/*
	 * "certificate verify failed" alone does not say which check a client
	 * certificate failed; the verification's own reason does (a certificate
	 * without clientAuth: "unsupported certificate purpose").
	 */
	if (verify != X509_V_OK && ERR_GET_REASON(err) == SSL_R_CERTIFICATE_VERIFY_FAILED)
		snprintf(why, sizeof(why), " (client certificate: %s)",
		    X509_verify_cert_error_string(verify));
	if (dropped > 0)
		snprintf(more, sizeof(more), " (%u more like it not logged)", dropped);
	log_info("peer=%s listener=%s TLS failed: %s%s%s", c->peer, c->listener->conf->name, msg,
	    why, more);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	size_t pending = evbuffer_get_length(bufferevent_get_input(bev));

	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == CONN_HANDSHAKE)
			handshake_done(c);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) && c->state == CONN_OPEN &&
	    http_timeout(c, pending > 0, "idle-timeout"))
		return; /* the 408 is on its way */
	if ((what & BEV_EVENT_ERROR) && c->ssl != NULL && c->state != CONN_LINGER)
		log_tls_failure(c);
	conn_free(c);
}

static void
describe_peer(struct conn *c, struct sockaddr *sa, int salen)
{
	char host[INET6_ADDRSTRLEN], port[8];

	if (getnameinfo(sa, (socklen_t)salen, host, sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(c->peer, sizeof(c->peer), "?");
	else if (sa->sa_family == AF_INET6)
		snprintf(c->peer, sizeof(c->peer), "[%s]:%s", host, port);
	else
		snprintf(c->peer, sizeof(c->peer), "%s:%s", host, port);
}

static struct bufferevent *
make_bev(struct conn *c, evutil_socket_t fd)
{
	struct event_base *base = c->worker->base;
	struct bufferevent *bev;

	if (c->listener->ssl_ctx == NULL)
		return bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->ssl = SSL_new(c->listener->ssl_ctx);
	if (c->ssl == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, fd, c->ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(c->ssl);
		return NULL;
	}
	/* Many clients close without close_notify after a complete response. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/*
 * Whether c may be closed to make room: handshaking, lingering after its
 * last answer, or between requests with nothing unsent.
 */
static bool
evictable(struct conn *c)
{
	if (c->state == CONN_HANDSHAKE || c->state == CONN_LINGER)
		return true;
	return c->state == CONN_OPEN && !c->paused && http_idle(c) &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0 &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0;
}

void
conn_close_idle(struct est_worker *w)
{
	struct conn *c, *next;

	for (c = TAILQ_FIRST(&w->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->state == CONN_OPEN && evictable(c) && http_between_requests(c))
			conn_free(c);
	}
}

unsigned
conn_count_evictable(struct est_worker *w)
{
	struct conn *c;
	unsigned n = 0;

	TAILQ_FOREACH(c, &w->conns, link)
		n += evictable(c);
	return n;
}

bool
conn_evict_oldest(struct est_worker *w)
{
	struct conn *c;
	unsigned dropped;

	/* A connection lingering after its last answer first: it has nothing more to say. */
	TAILQ_FOREACH(c, &w->conns, link) {
		if (c->state == CONN_LINGER) {
			conn_free(c);
			return true;
		}
	}
	TAILQ_FOREACH(c, &w->conns, link) {
		if (!evictable(c))
			continue;
		if (log_limit_pass(&limit_evicted, &dropped))
			log_info("peer=%s listener=%s closed: max-connections (%u) reached and it was "
			    "the oldest idle connection (%u more like it not logged)", c->peer,
			    c->listener->conf->name, w->srv->cfg->max_connections, dropped);
		conn_free(c);
		return true;
	}
	return false;
}

/*
 * Make room at max-connections: close this worker's oldest idle or
 * handshaking connection, else ask a worker that had one at its last count
 * (worker.c) to close its own, admitting the new connection meanwhile.
 */
static bool
make_room(struct est_worker *self)
{
	struct est_server *srv = self->srv;

	if (conn_evict_oldest(self))
		return true;
	for (size_t i = 0; i < srv->n_workers; i++) {
		struct est_worker *w = &srv->workers[i];
		unsigned n = atomic_load(&w->evictable);

		while (w != self && n > 0) {
			if (atomic_compare_exchange_weak(&w->evictable, &n, n - 1)) {
				worker_evict(w);
				return true;
			}
		}
	}
	return false;
}

/* Whether a connection from source may open; takes its slots. */
static bool
admit(struct worker_listener *wl, const char *source)
{
	struct est_server *srv = wl->worker->srv;
	unsigned dropped;

	if (!connlimit_take(srv->per_source, source)) {
		if (log_limit_pass(&limit_per_source, &dropped))
			log_warn("listener %s: %s is at max-connections-per-address (%u); closing its "
			    "new connection (%u more like it not logged)", wl->listener->conf->name,
			    source, srv->cfg->max_connections_per_address, dropped);
		return false;
	}
	if (atomic_fetch_add(&srv->connections, 1) < srv->cfg->max_connections ||
	    make_room(wl->worker))
		return true;
	atomic_fetch_sub(&srv->connections, 1);
	connlimit_give(srv->per_source, source);
	if (log_limit_pass(&limit_full, &dropped))
		log_warn("listener %s: max-connections (%u) reached and none idle; closing a new "
		    "connection (%u more like it not logged)", wl->listener->conf->name,
		    srv->cfg->max_connections, dropped);
	return false;
}

void
conn_unadmit(struct est_worker *w, evutil_socket_t fd, const char *source)
{
	atomic_fetch_sub(&w->srv->connections, 1);
	atomic_fetch_sub(&w->held, 1);
	connlimit_give(w->srv->per_source, source);
	evutil_closesocket(fd);
}

void
conn_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct worker_listener *wl = arg;
	char source[sizeof(((struct conn *)0)->source)];

	(void)evl;
	ratelimit_source(sa, source, sizeof(source));
	if (!admit(wl, source)) {
		evutil_closesocket(fd);
		return;
	}
	if (!balance_hand_off(wl, fd, sa, salen, source))
		conn_start(wl, fd, sa, salen, source);
}

void
conn_start(struct worker_listener *wl, evutil_socket_t fd, struct sockaddr *sa, int salen,
    const char *source)
{
	struct est_server *srv = wl->worker->srv;
	struct timeval tv = { .tv_sec = srv->cfg->idle_timeout };
	struct conn *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		conn_unadmit(wl->worker, fd, source);
		return;
	}
	c->worker = wl->worker;
	c->listener = wl->listener;
	c->counted = true;
	snprintf(c->source, sizeof(c->source), "%s", source);
	TAILQ_INSERT_TAIL(&c->worker->conns, c, link);
	/* A response leaves in more than one TLS record (head, body); with
	 * Nagle the second waited for the client's delayed ACK, 40 ms. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	describe_peer(c, sa, salen);
	c->bev = make_bev(c, fd);
	if (c->bev == NULL) {
		log_error("listener %s: cannot set up a connection (out of memory)", wl->listener->conf->name);
		evutil_closesocket(fd);
		conn_free(c);
		return;
	}
	c->deadline = evtimer_new(c->worker->base, deadline_cb, c);
	if (c->deadline == NULL) {
		conn_free(c);
		return;
	}
	c->state = c->ssl != NULL ? CONN_HANDSHAKE : CONN_OPEN;
	bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_setwatermark(c->bev, EV_WRITE, CONN_OUTPUT_BOUND / 2, 0);
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    srv->cfg->max_headers_size + srv->cfg->max_body);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (c->ssl != NULL) {
		struct timeval hs = { .tv_sec = srv->cfg->handshake_timeout };

		evtimer_add(c->deadline, &hs);
	}
}
