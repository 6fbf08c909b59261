/* One SSH channel: the libssh callbacks (which only record), and the pumps that move bytes
 * between the channel and an SFTP engine, an exec command, or a refusal (the backend could
 * not be opened). Channel writes never exceed the remote window, so ssh_channel_write never
 * waits for one.
 *
 * Lifetime: a channel stays in its connection's list until both sides have closed it and its
 * engine has stopped; an exec still hashing a file when its channel goes is freed by its own
 * last callback (exec.c), so nothing completes into freed memory. */
#include <stdlib.h>
#include <string.h>

#include "ssh/exec.h"
#include "ssh/internal.h"
#include "util/log.h"

#define MAX_IOV	       16
#define PULL_CHUNK     (64 * 1024)
#define REFUSE_OUT_CAP (64 * 1024) /* answers queued for a refused session */
/* One memory budget per connection: replies waiting for the client's window, across its
 * channels. An engine whose replies wait starts no new request while the connection is past
 * this, or while its own exceed --max-buffered's share (the engine's own cap holds back
 * concurrent READs only, not ones that complete one after another). */
#define CONN_OUT_BUDGET (32u * 1024 * 1024)

/* ---- statistics ---- */

void chan_account(struct chan *c)
{
	if (!c->eng)
		return;
	const struct sftp_stats *s = sftp_engine_stats(c->eng);
	struct server *srv = c->cn->srv;
	atomic_fetch_add(&srv->bytes_read, s->bytes_read - c->last.bytes_read);
	atomic_fetch_add(&srv->bytes_written, s->bytes_written - c->last.bytes_written);
	atomic_fetch_add(&srv->requests, s->requests - c->last.requests);
	c->last = *s;
}

/* ---- the engine's teardown ----
 * Closing a channel must not hold up the others, so it takes two steps: engine_stop marks
 * the engine as retiring (its replies are dropped from then on, nothing new is started),
 * and engine_stopped frees it once none of its requests is in flight, when freeing it only
 * closes the files the client left open. At the end of the connection chan_stop_now frees
 * what is left, waiting for it (within the engine's own bound) while the backend still
 * lives. engine_stop starts the engine's asynchronous shutdown and engine_stopped frees the
 * engine once it reports idle. */
static void engine_stop(struct chan *c)
{
	chan_account(c);
	c->retiring = 1;
	sftp_engine_shutdown(c->eng);
}

static int engine_stopped(struct chan *c)
{
	if (c->eng && c->retiring) {
		size_t n = sftp_engine_output_pending(c->eng);
		if (n > 0) /* nobody to send it to */
			sftp_engine_output_done(c->eng, n);
		if (sftp_engine_idle(c->eng)) {
			sftp_engine_free(c->eng);
			c->eng = NULL;
		}
	}
	return c->eng == NULL;
}

void chan_stop_now(struct chan *c)
{
	if (!c->eng)
		return;
	chan_account(c);
	sftp_engine_free(c->eng);
	c->eng = NULL;
}

/* ---- channel callbacks: record only ---- */

static int on_data(ssh_session s, ssh_channel ch, void *data, uint32_t len, int is_stderr,
		   void *userdata)
{
	struct chan *c = userdata;
	(void)s;
	(void)ch;
	if (is_stderr || c->closed)
		return (int)len; /* nothing reads it: drop */
	switch (c->kind) {
	case C_WANT_SFTP: /* libssh keeps it until the engine exists */
		c->stalled = 1;
		return 0;
	case C_SFTP: {
		size_t took = sftp_engine_input(c->eng, data, len);
		if (took < len)
			c->stalled = 1; /* libssh keeps the rest; pulled once there is room */
		return (int)took;
	}
	case C_REFUSE:
		if (c->rout.len >= REFUSE_OUT_CAP) {
			c->stalled = 1;
			return 0;
		}
		if (sftp_refusal_input(c->ref, data, len, &c->rout) < 0)
			c->failed = 1; /* malformed: nothing more to say to it */
		return (int)len;
	default:
		return (int)len;
	}
}

static void on_eof(ssh_session s, ssh_channel ch, void *userdata)
{
	(void)s;
	(void)ch;
	((struct chan *)userdata)->in_eof = 1;
}

static void on_close(ssh_session s, ssh_channel ch, void *userdata)
{
	(void)s;
	(void)ch;
	((struct chan *)userdata)->remote_closed = 1;
}

/* Accepted at once; the engine starts after the poll, once the backend is open (or the
 * session answers every request with the reason it is not). */
static int on_subsystem(ssh_session s, ssh_channel ch, const char *subsystem, void *userdata)
{
	struct chan *c = userdata;
	(void)s;
	(void)ch;
	if (c->kind != C_NEW || strcmp(subsystem, "sftp") != 0)
		return -1;
	c->kind = C_WANT_SFTP;
	return 0;
}

static int on_exec(ssh_session s, ssh_channel ch, const char *command, void *userdata)
{
	struct chan *c = userdata;
	(void)s;
	(void)ch;
	if (c->kind != C_NEW || strlen(command) > SSH_EXEC_CMD_MAX)
		return -1;
	c->cmd = strdup(command);
	if (!c->cmd)
		return -1;
	c->kind = C_WANT_EXEC;
	return 0;
}

static int on_shell(ssh_session s, ssh_channel ch, void *userdata)
{
	(void)s;
	(void)ch;
	struct chan *c = userdata;
	log_info("%s: shell refused (only sftp and a few exec commands are served)", c->cn->who);
	return -1;
}

static int on_pty(ssh_session s, ssh_channel ch, const char *term, int w, int h, int pw, int ph,
		  void *userdata)
{
	(void)s, (void)ch, (void)term, (void)w, (void)h, (void)pw, (void)ph, (void)userdata;
	return -1;
}

static int on_env(ssh_session s, ssh_channel ch, const char *name, const char *value,
		  void *userdata)
{
	(void)s, (void)ch, (void)name, (void)value, (void)userdata;
	return -1;
}

ssh_channel chan_open_cb(ssh_session s, void *userdata)
{
	struct conn *cn = userdata;
	int max = cn->srv->o->max_sessions;
	if (!cn->authenticated)
		return NULL;
	if (max > 0 && cn->nchans >= max) {
		log_warn("%s: channel refused: --max-sessions (%d) reached", cn->who, max);
		return NULL;
	}
	struct chan *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ch = ssh_channel_new(s);
	if (!c->ch) {
		free(c);
		return NULL;
	}
	c->cn = cn;
	wbuf_init(&c->rout);
	c->cb.userdata = c;
	c->cb.channel_data_function = on_data;
	c->cb.channel_eof_function = on_eof;
	c->cb.channel_close_function = on_close;
	c->cb.channel_subsystem_request_function = on_subsystem;
	c->cb.channel_exec_request_function = on_exec;
	c->cb.channel_shell_request_function = on_shell;
	c->cb.channel_pty_request_function = on_pty;
	c->cb.channel_env_request_function = on_env;
	ssh_callbacks_init(&c->cb);
	ssh_set_channel_callbacks(c->ch, &c->cb);
	/* appended: the session may be walking the list (a channel write can run this) */
	struct chan **pp = &cn->chans;
	while (*pp)
		pp = &(*pp)->next;
	*pp = c;
	cn->nchans++;
	return c->ch;
}

/* ---- starting what was asked for ---- */

int chan_wants_backend(const struct chan *c)
{
	return !c->closed && (c->kind == C_WANT_SFTP || c->kind == C_WANT_EXEC);
}

static void start_sftp(struct chan *c)
{
	struct conn *cn = c->cn;
	if (cn->vc) {
		struct sftp_opts so = cn->srv->so;
		so.who = cn->who; /* lives as long as the connection */
		c->eng = sftp_engine_new(cn->vc, &so);
		if (c->eng) {
			c->kind = C_SFTP;
			log_debug("%s: sftp session", cn->who);
			return;
		}
	}
	c->ref = malloc(sizeof(*c->ref));
	if (!c->ref) {
		c->kind = C_NEW;
		c->failed = 1; /* nothing can be said: close it */
		return;
	}
	sftp_refusal_init(c->ref, cn->backend_err ? cn->backend_err : "out of memory");
	c->kind = C_REFUSE;
	log_info("%s: sftp session refused: %s", cn->who, c->ref->msg);
}

static void start_exec(struct chan *c)
{
	struct conn *cn = c->cn;
	c->ex = cn->vc ? ssh_exec_new(cn->vc, c->cmd) : NULL;
	if (c->ex && cn->srv->so.access_log)
		log_info("%s exec %s", cn->who, c->cmd);
	if (!c->ex) { /* the reason goes to stderr, as a shell would say it */
		const char *why = cn->backend_err ? cn->backend_err : "out of memory";
		wbuf_put_bytes(&c->rout, "smbgate cannot serve this remote: ", 34);
		wbuf_put_bytes(&c->rout, why, strlen(why));
		wbuf_put_bytes(&c->rout, "\n", 1);
	}
	c->kind = C_EXEC;
	free(c->cmd);
	c->cmd = NULL;
}

void chan_start(struct chan *c)
{
	if (c->kind == C_WANT_SFTP)
		start_sftp(c);
	else if (c->kind == C_WANT_EXEC)
		start_exec(c);
}

/* ---- pumps ---- */

/* Writes up to the remote window; returns bytes written or < 0. */
static long chan_write(struct chan *c, const void *p, size_t n, int is_stderr)
{
	uint32_t win = ssh_channel_window_size(c->ch);
	if (win == 0 || n == 0)
		return 0;
	if (n > win)
		n = win;
	int w = is_stderr ? ssh_channel_write_stderr(c->ch, p, (uint32_t)n)
			  : ssh_channel_write(c->ch, p, (uint32_t)n);
	return w < 0 ? -1 : w;
}

static void chan_close(struct chan *c)
{
	if (c->closed)
		return;
	c->closed = 1;
	if (!c->remote_closed)
		ssh_channel_send_eof(c->ch);
	ssh_channel_close(c->ch); /* answers the client's close, or starts ours */
}

/* Sends rout from rout_off; returns < 0 when the channel failed. */
static int send_rout(struct chan *c, int is_stderr)
{
	while (c->out_off < c->rout.len) {
		long w = chan_write(c, c->rout.p + c->out_off, c->rout.len - c->out_off, is_stderr);
		if (w < 0)
			return -1;
		if (w == 0)
			break;
		c->out_off += (size_t)w;
	}
	if (c->out_off == c->rout.len) {
		wbuf_reset(&c->rout);
		c->out_off = 0;
	}
	return 0;
}

/* Takes what libssh kept for us while we had no room. take() returns the bytes taken. */
static void pull_stalled(struct chan *c, size_t (*room)(struct chan *),
			 int (*take)(struct chan *, const uint8_t *, size_t))
{
	uint8_t buf[PULL_CHUNK];
	while (c->stalled && room(c) > 0) {
		size_t want = room(c);
		if (want > sizeof(buf))
			want = sizeof(buf);
		int n = ssh_channel_read_nonblocking(c->ch, buf, (uint32_t)want, 0);
		if (n <= 0) {
			c->stalled = 0;
			break;
		}
		if (take(c, buf, (size_t)n) < 0) {
			chan_close(c);
			return;
		}
	}
}

static size_t sftp_room(struct chan *c)
{
	return sftp_engine_input_room(c->eng);
}

static int sftp_take(struct chan *c, const uint8_t *p, size_t n)
{
	if (sftp_engine_input(c->eng, p, n) < n) { /* cannot happen: no more than room */
		log_error("%s: sftp input lost", c->cn->who);
		return -1;
	}
	return 0;
}

static size_t conn_output_pending(const struct conn *cn)
{
	size_t n = 0;
	for (const struct chan *c = cn->chans; c; c = c->next)
		if (c->kind == C_SFTP && c->eng)
			n += sftp_engine_output_pending(c->eng);
	return n;
}

/* 1 when the engine may start requests (see CONN_OUT_BUDGET). A channel with nothing
 * waiting always may: no channel is starved by the others. */
static int may_process(const struct chan *c)
{
	size_t own = sftp_engine_output_pending(c->eng);
	if (own == 0)
		return 1;
	if (own >= c->cn->srv->so.max_buffered)
		return 0;
	return conn_output_pending(c->cn) < CONN_OUT_BUDGET;
}

static void pump_sftp(struct chan *c)
{
	struct sftp_engine *e = c->eng;
	if (c->remote_closed) { /* nobody to answer: finish and close our side */
		chan_close(c);
		return;
	}
	pull_stalled(c, sftp_room, sftp_take);
	if (c->closed)
		return;
	if (may_process(c) && sftp_engine_process(e) < 0) {
		log_error("%s: sftp: %s", c->cn->who, sftp_engine_error(e));
		chan_close(c);
		return;
	}
	struct iovec iov[MAX_IOV];
	while (sftp_engine_output_pending(e) > 0) {
		int n = sftp_engine_output(e, iov, MAX_IOV);
		size_t sent = 0;
		int full = 0;
		for (int i = 0; i < n && !full; i++) {
			long w = chan_write(c, iov[i].iov_base, iov[i].iov_len, 0);
			if (w < 0) {
				log_debug("%s: channel write failed", c->cn->who);
				chan_close(c);
				return;
			}
			sent += (size_t)w;
			full = (size_t)w < iov[i].iov_len;
		}
		sftp_engine_output_done(e, sent);
		if (full || n == 0)
			break;
	}
	chan_account(c);
	/* the client is done: finish what is in flight, then close */
	if (c->in_eof && sftp_engine_busy(e) == 0 && sftp_engine_output_pending(e) == 0 &&
	    !c->stalled)
		chan_close(c);
}

static size_t refuse_room(struct chan *c)
{
	return c->rout.len < REFUSE_OUT_CAP ? REFUSE_OUT_CAP - c->rout.len : 0;
}

static int refuse_take(struct chan *c, const uint8_t *p, size_t n)
{
	return sftp_refusal_input(c->ref, p, n, &c->rout);
}

static void pump_refuse(struct chan *c)
{
	if (c->remote_closed || c->failed) {
		chan_close(c);
		return;
	}
	pull_stalled(c, refuse_room, refuse_take);
	if (c->closed)
		return;
	if (send_rout(c, 0) < 0) {
		chan_close(c);
		return;
	}
	if (c->in_eof && c->rout.len == 0 && !c->stalled)
		chan_close(c);
}

static void pump_exec(struct chan *c)
{
	if (!c->ex) { /* the backend could not be opened: say why, exit 1 */
		if (!c->remote_closed && send_rout(c, 1) < 0)
			c->rout.len = 0;
		if (c->remote_closed || c->rout.len == 0) {
			if (!c->remote_closed)
				ssh_channel_request_send_exit_status(c->ch, 1);
			chan_close(c);
		}
		return;
	}
	int done = ssh_exec_step(c->ex);
	c->ex_done = done;
	if (c->remote_closed) {
		chan_close(c);
		return;
	}
	struct wbuf *o = ssh_exec_stdout(c->ex), *e = ssh_exec_stderr(c->ex);
	while (c->out_off < o->len) {
		long w = chan_write(c, o->p + c->out_off, o->len - c->out_off, 0);
		if (w <= 0)
			break;
		c->out_off += (size_t)w;
	}
	while (c->err_off < e->len) {
		long w = chan_write(c, e->p + c->err_off, e->len - c->err_off, 1);
		if (w <= 0)
			break;
		c->err_off += (size_t)w;
	}
	if (done && c->out_off == o->len && c->err_off == e->len) {
		ssh_channel_request_send_exit_status(c->ch, ssh_exec_status(c->ex));
		chan_close(c);
	}
}

void chan_pump(struct chan *c)
{
	if (!c->closed) {
		switch (c->kind) {
		case C_SFTP:
			pump_sftp(c);
			break;
		case C_EXEC:
			pump_exec(c);
			break;
		case C_REFUSE:
			pump_refuse(c);
			break;
		default: /* nothing asked yet, or waiting for the backend */
			if (c->remote_closed || c->failed)
				chan_close(c);
			break;
		}
	}
	if (c->closed && c->eng && !c->retiring)
		engine_stop(c); /* the files it had open are closed without the client */
}

int chan_has_work(const struct chan *c)
{
	if (c->closed)
		return 0;
	int win = ssh_channel_window_size(c->ch) > 0;
	switch (c->kind) {
	case C_SFTP:
		return (c->stalled && sftp_engine_input_room(c->eng) > 0) ||
		       (sftp_engine_output_pending(c->eng) > 0 && win);
	case C_REFUSE:
		return (c->stalled && c->rout.len < REFUSE_OUT_CAP) ||
		       (c->rout.len > c->out_off && win);
	case C_EXEC: {
		if (!c->ex)
			return win;
		struct wbuf *o = ssh_exec_stdout(c->ex), *e = ssh_exec_stderr(c->ex);
		int unsent = c->out_off < o->len || c->err_off < e->len;
		return (!c->ex_done && !ssh_exec_busy(c->ex)) || (unsent && win);
	}
	default:
		return 0;
	}
}

void chan_retire(struct chan *c)
{
	chan_close(c);
	if (c->eng && !c->retiring)
		engine_stop(c);
}

int chan_done(struct chan *c)
{
	int stopped = engine_stopped(c); /* first: a retiring engine's replies are dropped */
	return c->closed && c->remote_closed && stopped;
}

int chan_idle(struct chan *c)
{
	return engine_stopped(c) && !(c->ex && ssh_exec_busy(c->ex));
}

void chan_free(struct chan *c)
{
	chan_account(c);
	chan_stop_now(c);     /* only before the backend is freed; the session sees to that */
	ssh_exec_free(c->ex); /* one still busy frees itself when its operation ends */
	(void)ssh_remove_channel_callbacks(c->ch, &c->cb);
	ssh_channel_free(c->ch);
	free(c->cmd);
	free(c->ref);
	wbuf_free(&c->rout);
	c->cn->nchans--;
	free(c);
}
