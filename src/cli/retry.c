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
	 * were in flight when the connection was torn down complete with. */
	return err == SMBG_ECLOSED || err == SMBG_EIO || err == SMBG_ETIMEDOUT ||
	       err == SMBG_ECANCELED;
}

int cli_retry_wanted(struct cli_retry *r, int err, uint64_t done)
{
	if (!cli_retry_conn_lost(err))
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
