/* --retries: after a transfer's connection dropped, connect a new client (same URL, password and
 * options) and let the command resume where the transfer had got to. The CLI does this itself,
 * with a fresh client, so it works whatever the library does about reconnecting.
 *
 * A transfer may reconnect up to --retries times in a row; an attempt that moved the transfer on
 * starts the count and the pause (1 s, doubling up to 30 s) afresh, so a long transfer over a
 * flaky link keeps going while a server that stays away ends it within a bounded time. */
#ifndef SMBGATE_CLI_RETRY_H
#define SMBGATE_CLI_RETRY_H

#include <stdint.h>

#include "cli/cli_util.h"

struct cli_retry {
	int max;	    /* --retries */
	int used;	    /* reconnects since the last progress */
	unsigned delay_s;   /* the next pause */
	uint64_t last_done; /* the transfer's position at the last reconnect */
};

void cli_retry_init(struct cli_retry *r, const struct cli_opts *o);

/* 1 when err means the connection is gone (closed, reset, timed out) or a handle was lost with
 * it (the library's reconnect could not keep it), which a new connection may cure; 0 for
 * everything else (authentication, no such file, access denied...). */
int cli_retry_conn_lost(int err);

/* 1 when a transfer that failed with err at position done (bytes, any origin that only grows)
 * on client c should reconnect: err is a lost connection or handle, retries are left, and it is
 * not something c's own reconnect already dealt with (its attempts spent, a request past its
 * timeout, an error on a connection that never dropped). Counts progress. */
int cli_retry_wanted(struct cli_retry *r, int err, uint64_t done, const struct smb_client *c);

/* Reports the failure of op on path with err as a warning ("...; reconnecting in 2 s (retry 1
 * of 3)"), waits, and reconnects cc (cli_reconnect), again while the new connection fails with a
 * lost-connection error and retries are left. Returns 0 once cc holds a new, connected client;
 * else an exit code after the message (cc's client may then be NULL). */
int cli_retry_reconnect(struct cli_retry *r, struct cli_conn *cc, const struct cli_opts *o, int err,
			const char *op, const char *path);

#endif
