/*
 * A listener that cannot accept for want of descriptors or memory pauses
 * (server_int.h, accept_pause_on_error). libevent, given no error callback,
 * logs the error and returns, and the connection still waiting makes the
 * socket readable at once again: a loop spun at full CPU writing a warning
 * per turn while its descriptors were used up (found in review, with the
 * metrics listener holding thousands of slow connections). Paused, the
 * waiting connections stay in the kernel's backlog until descriptors are
 * free.
 *
 * The pause is a one-shot event of the listener's base (event_base_once),
 * so a listener needs no state of its own: listeners are freed only after
 * their loop has stopped, and a base frees its pending one-shot events.
 */
#include <string.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "estkit/log.h"
#include "server/server_int.h"

#define PAUSE_MS 100

static struct log_limit limit_accept;

static void
resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evconnlistener_enable(arg);
}

static void
accept_failed(struct evconnlistener *evl, void *arg)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = PAUSE_MS * 1000 };
	int err = EVUTIL_SOCKET_ERROR();
	unsigned dropped;

	(void)arg;
	if (log_limit_pass(&limit_accept, &dropped))
		log_warn("cannot accept a connection: %s; accepting again in %d ms (%u more like "
		    "it not logged)", evutil_socket_error_to_string(err), PAUSE_MS, dropped);
	if (evconnlistener_disable(evl) == 0 &&
	    event_base_once(evconnlistener_get_base(evl), -1, EV_TIMEOUT, resume, evl, &tv) != 0)
		evconnlistener_enable(evl);
}

void
accept_pause_on_error(struct evconnlistener *evl)
{
	evconnlistener_set_error_cb(evl, accept_failed);
}
