/* Reconnecting after a dropped connection, for get, put and cat. */
#include "cli/retry.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#define RETRY_DELAY_MAX_S 30

void cli_retry_init(struct cli_retry *r, const struct cli_opts *o)
{
	r->max = o->retries;
	r->used = 0;
	r->delay_s = 1;
	r->last_done = 0;
}

int cli_retry_conn_lost(int err)
{
	/* EIO is the library's socket error (a reset among them); ECANCELED is what requests that
	 * were in flight when the connection was torn down complete with; EBADF is a handle the
	 * library's own reconnect could not carry over (open for writing, not durable): a new
	 * connection resumes it by its confirmed offset. */
	return err == SMBG_ECLOSED || err == SMBG_EIO || err == SMBG_ETIMEDOUT ||
	       err == SMBG_ECANCELED || err == SMBG_EBADF;
}

/* Over SMB2/3 the client reconnects by itself (cli_util.c conn_open): what reaches the CLI is
 * then a request or handle the reconnect could not carry (worth a new connection and a
 * resume), or the end of the client's own attempts (not worth doing them all again). A request
 * past its --timeout fails at its deadline, reconnect or not: resumed only when the transfer
 * had moved since the last retry (a server that answers nothing is not waited for again). Over
 * SMB1 the client does not reconnect: every loss is the CLI's. */
static int library_took_it(const struct cli_retry *r, int err, uint64_t done,
			   const struct smb_client *c)
{
	if (!c || smb_client_dialect(c) < SMB_DIALECT_2_0_2)
		return 0;
	if (smb_client_reconnect_gave_up(c))
		return 1;
	if (err == SMBG_ETIMEDOUT)
		return done <= r->last_done;
	/* No drop on this connection: the error is the server's answer, not a loss. */
	return err != SMBG_EBADF && !smb_client_reconnects(c) && !smb_client_reconnecting(c);
}

int cli_retry_wanted(struct cli_retry *r, int err, uint64_t done, const struct smb_client *c)
{
	if (!cli_retry_conn_lost(err) || library_took_it(r, err, done, c))
		return 0;
	if (done > r->last_done) {
		r->used = 0;
		r->delay_s = 1;
		r->last_done = done;
	}
	return r->used < r->max;
}

static void sleep_s(unsigned s)
{
	struct timespec ts = {.tv_sec = s};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int cli_retry_reconnect(struct cli_retry *r, struct cli_conn *cc, const struct cli_opts *o, int err,
			const char *op, const char *path)
{
	char st[128];

	snprintf(st, sizeof(st), "%s", smbg_strerror(err));
	for (;;) {
		int rc;
		r->used++;
		fprintf(stderr,
			"smbgate %s: %s %s on %s: %s; reconnecting in %u s (retry %d of %d)\n",
			cc->cmd, op, cli_disp(path), cc->where, st, r->delay_s, r->used, r->max);
		sleep_s(r->delay_s);
		r->delay_s =
		    r->delay_s * 2 > RETRY_DELAY_MAX_S ? RETRY_DELAY_MAX_S : r->delay_s * 2;
		rc = cli_reconnect(cc, o);
		if (rc == 0)
			return 0;
		/* A server that is restarting refuses or drops connections for a while: only
		 * connection errors are worth waiting for, not a refused login. */
		if (rc != CLI_EXIT_CONNECT || r->used >= r->max)
			return rc;
		op = "reconnect to resume";
		snprintf(st, sizeof(st), "failed");
	}
}
