/*
 * sd_notify(3) for estd. Without $NOTIFY_SOCKET (not under systemd with
 * Type=notify) every call does nothing; a failure to send is logged once
 * at debug level and otherwise ignored, since serving matters more than
 * telling.
 */
#include <stdio.h>

#include <systemd/sd-daemon.h>

#include "estkit/log.h"
#include "notify.h"

static void
send_state(const char *state)
{
	int rc = sd_notify(0, state);

	if (rc < 0)
		log_debug("sd_notify(%s): error %d", state, -rc);
}

void
notify_ready(void)
{
	send_state("READY=1\nSTATUS=serving");
}

void
notify_reloading(void)
{
	send_state("RELOADING=1\nSTATUS=reloading the configuration");
}

void
notify_stopping(void)
{
	send_state("STOPPING=1\nSTATUS=draining");
}

void
notify_status(const char *status)
{
	char line[256];

	snprintf(line, sizeof(line), "STATUS=%s", status);
	send_state(line);
}
