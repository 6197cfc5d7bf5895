/*
 * estd's messages to its service manager (notify.c): systemd's sd_notify
 * protocol over $NOTIFY_SOCKET, and nothing at all without one.
 */
#ifndef ESTD_NOTIFY_H
#define ESTD_NOTIFY_H

/* Every listener is bound and every worker accepts (Type=notify's READY=1). */
void notify_ready(void);

/* A reload (SIGHUP) begins; notify_ready() says it is over, either way. */
void notify_reloading(void);

/* estd is draining and will exit. */
void notify_stopping(void);

/* A one-line status for `systemctl status`. */
void notify_status(const char *status);

#endif
