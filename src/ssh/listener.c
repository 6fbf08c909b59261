/* The libssh listener: accept on our own sockets, one thread per connection, each with its
 * own ssh_event loop, vfs_conn (its own SMB client) and channels (an SFTP engine or an exec
 * command each).
 *
 * Re-entry rules (DESIGN.md decision 5): libssh callbacks only record things (the data
 * callback only buffers into the engine; the backend fd callback only notes its events).
 * Requests are handled after ssh_event_dopoll returns. Channel writes never exceed the
 * remote window, so ssh_channel_write never waits for one. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ssh/auth.h"
#include "ssh/exec.h"
#include "ssh/hostkey.h"
#include "ssh/ssh.h"
#include "util/log.h"

#define MAX_LISTEN     8
#define AUTH_TIMEOUT_S 60
#define MAX_AUTH_TRIES 6
#define FAIL_DELAY_US  1000000 /* a failed login answers after a second */
#define IDLE_TICK_MS   500
#define MAX_IOV	       16
#define PULL_CHUNK     (64 * 1024)

/* What all connections share. */
struct server {
	struct vfs *v;
	const struct ssh_serve_opts *o;
	struct sftp_opts so;
	atomic_int stop;
	atomic_int active;
	atomic_ullong total_conns;
	atomic_ullong bytes_read, bytes_written, requests;
};

enum chan_kind { C_NEW = 0, C_SFTP, C_EXEC };

struct chan {
	struct chan *next;
	struct conn *cn;
	ssh_channel ch;
	struct ssh_channel_callbacks_struct cb;
	enum chan_kind kind;
	struct sftp_engine *eng;
	struct ssh_exec *ex;
	size_t out_off, err_off; /* exec output already sent */
	int in_eof, remote_closed, stalled, closed;
	int ex_done;		/* the exec command has produced all its output */
	struct sftp_stats last; /* stats already added to the server's totals */
};

struct conn {
	struct server *srv;
	ssh_session s;
	ssh_event ev;
	struct ssh_server_callbacks_struct scb;
	struct vfs_conn *vc;
	struct chan *chans;
	char peer[96];
	char who[200];
	char user[64];
	int authenticated;
	int auth_tries;
	int vfs_fd; /* registered with ev, or -1 */
	short vfs_events;
	short vfs_revents;
	int dead;
};

static struct server *g_srv; /* for the signal handler only */
static int g_wake[2] = {-1, -1};

void ssh_serve_opts_default(struct ssh_serve_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->addr = "localhost:2022";
}

int ssh_serve_check(const struct ssh_serve_opts *o, char *why, size_t len)
{
	if ((o->user && !o->pass) || (!o->user && o->pass)) {
		snprintf(why, len, "--user and --pass go together");
		return SMBG_EINVAL;
	}
	if (o->no_auth || (o->user && o->pass) || ssh_auth_keys_file(o))
		return 0;
	snprintf(why, len,
		 "no way to log in was given: use --user NAME --pass PASSWORD, --authorized-keys "
		 "FILE, or --no-auth (anyone may log in)");
	return SMBG_EINVAL;
}

/* ---- statistics ---- */

static void chan_account(struct chan *c)
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

/* ---- the backend, opened once the client is in ---- */

static int ensure_vc(struct conn *cn)
{
	if (cn->vc)
		return 0;
	char err[512];
	cn->vc = vfs_conn_new(cn->srv->v, err, sizeof(err));
	if (!cn->vc) {
		log_error("%s: %s", cn->who, err);
		return -1;
	}
	return 0;
}

/* ---- channel callbacks: record only ---- */

static int on_data(ssh_session s, ssh_channel ch, void *data, uint32_t len, int is_stderr,
		   void *userdata)
{
	struct chan *c = userdata;
	(void)s;
	(void)ch;
	if (is_stderr || c->kind != C_SFTP || !c->eng)
		return (int)len; /* nothing reads it: drop */
	size_t took = sftp_engine_input(c->eng, data, len);
	if (took < len)
		c->stalled = 1; /* libssh keeps the rest; pulled once the engine has room */
	return (int)took;
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

static int on_subsystem(ssh_session s, ssh_channel ch, const char *subsystem, void *userdata)
{
	struct chan *c = userdata;
	(void)s;
	(void)ch;
	if (c->kind != C_NEW || strcmp(subsystem, "sftp") != 0)
		return -1;
	if (ensure_vc(c->cn) < 0)
		return -1;
	struct sftp_opts so = c->cn->srv->so;
	so.who = c->cn->who; /* lives as long as the connection */
	c->eng = sftp_engine_new(c->cn->vc, &so);
	if (!c->eng)
		return -1;
	c->kind = C_SFTP;
	log_debug("%s: sftp session", c->cn->who);
	return 0;
}

static int on_exec(ssh_session s, ssh_channel ch, const char *command, void *userdata)
{
	struct chan *c = userdata;
	(void)s;
	(void)ch;
	if (c->kind != C_NEW || ensure_vc(c->cn) < 0)
		return -1;
	c->ex = ssh_exec_new(c->cn->vc, command);
	if (!c->ex)
		return -1;
	c->kind = C_EXEC;
	if (c->cn->srv->so.access_log)
		log_info("%s exec %s", c->cn->who, command);
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

/* ---- server callbacks ---- */

static ssh_channel on_channel_open(ssh_session s, void *userdata)
{
	struct conn *cn = userdata;
	struct chan *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ch = ssh_channel_new(s);
	if (!c->ch) {
		free(c);
		return NULL;
	}
	c->cn = cn;
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
	/* appended: conn_run may be walking the list (a channel write can run this callback) */
	struct chan **pp = &cn->chans;
	while (*pp)
		pp = &(*pp)->next;
	*pp = c;
	return c->ch;
}

static void auth_failed(struct conn *cn, const char *method, const char *user)
{
	cn->auth_tries++;
	log_warn("failed %s login for %s from %s", method, user ? user : "?", cn->peer);
	usleep(FAIL_DELAY_US); /* this thread is this client's alone */
}

static void auth_ok(struct conn *cn, const char *method, const char *user)
{
	cn->authenticated = 1;
	snprintf(cn->user, sizeof(cn->user), "%s", user ? user : "-");
	snprintf(cn->who, sizeof(cn->who), "%s@%s", cn->user, cn->peer);
	log_info("%s logged in (%s)", cn->who, method);
}

static int on_auth_password(ssh_session s, const char *user, const char *pass, void *userdata)
{
	struct conn *cn = userdata;
	(void)s;
	if (cn->srv->o->no_auth || ssh_auth_password_ok(cn->srv->o, user, pass)) {
		auth_ok(cn, "password", user);
		return SSH_AUTH_SUCCESS;
	}
	auth_failed(cn, "password", user);
	return SSH_AUTH_DENIED;
}

static int on_auth_none(ssh_session s, const char *user, void *userdata)
{
	struct conn *cn = userdata;
	(void)s;
	if (cn->srv->o->no_auth) {
		auth_ok(cn, "none", user);
		return SSH_AUTH_SUCCESS;
	}
	return SSH_AUTH_DENIED; /* clients probe with "none" first: not a failure */
}

static int on_auth_pubkey(ssh_session s, const char *user, struct ssh_key_struct *key, char state,
			  void *userdata)
{
	struct conn *cn = userdata;
	(void)s;
	if (state != SSH_PUBLICKEY_STATE_NONE && state != SSH_PUBLICKEY_STATE_VALID)
		return SSH_AUTH_DENIED;
	int ok = cn->srv->o->no_auth || ssh_auth_pubkey_ok(cn->srv->o, user, key);
	if (state == SSH_PUBLICKEY_STATE_NONE) /* a probe: is this key acceptable? */
		return ok ? SSH_AUTH_SUCCESS : SSH_AUTH_DENIED;
	if (ok) {
		auth_ok(cn, "publickey", user);
		return SSH_AUTH_SUCCESS;
	}
	auth_failed(cn, "publickey", user);
	return SSH_AUTH_DENIED;
}

/* ---- the backend fd in the event ---- */

static int on_vfs_fd(socket_t fd, int revents, void *userdata)
{
	struct conn *cn = userdata;
	(void)fd;
	cn->vfs_revents |= (short)revents;
	return 0;
}

static void vfs_fd_update(struct conn *cn)
{
	struct pollfd pfd;
	int n = cn->vc ? vfs_conn_pollfds(cn->vc, &pfd, 1) : 0;
	int fd = n > 0 ? pfd.fd : -1;
	short ev = n > 0 ? pfd.events : 0;
	if (fd == cn->vfs_fd && ev == cn->vfs_events)
		return;
	if (cn->vfs_fd >= 0)
		ssh_event_remove_fd(cn->ev, cn->vfs_fd);
	cn->vfs_fd = -1;
	if (fd >= 0 && ssh_event_add_fd(cn->ev, fd, ev, on_vfs_fd, cn) == SSH_OK) {
		cn->vfs_fd = fd;
		cn->vfs_events = ev;
	}
}

static void vfs_service(struct conn *cn)
{
	if (!cn->vc)
		return;
	if (cn->vfs_revents && cn->vfs_fd >= 0) {
		struct pollfd pfd = {
		    .fd = cn->vfs_fd, .events = cn->vfs_events, .revents = cn->vfs_revents};
		cn->vfs_revents = 0;
		if (vfs_conn_service(cn->vc, &pfd, 1) < 0 && !cn->dead) {
			log_error("%s: the backend connection failed", cn->who);
			cn->dead = 1;
		}
	}
	vfs_conn_run(cn->vc);
}

/* ---- channels ---- */

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

static void pump_sftp(struct chan *c)
{
	struct sftp_engine *e = c->eng;
	if (c->closed)
		return;
	if (c->remote_closed) { /* nobody to answer: finish and close our side */
		chan_close(c);
		return;
	}
	/* the engine has room again: take what libssh kept for us */
	if (c->stalled && !c->remote_closed) {
		uint8_t buf[PULL_CHUNK];
		while (sftp_engine_input_room(e) > 0) {
			size_t want = sftp_engine_input_room(e);
			if (want > sizeof(buf))
				want = sizeof(buf);
			int n = ssh_channel_read_nonblocking(c->ch, buf, (uint32_t)want, 0);
			if (n <= 0) {
				c->stalled = 0;
				break;
			}
			size_t took = sftp_engine_input(e, buf, (size_t)n);
			if (took < (size_t)n) { /* cannot happen: we asked for no more than room */
				log_error("%s: sftp input lost", c->cn->who);
				chan_close(c);
				return;
			}
		}
	}
	if (sftp_engine_process(e) < 0) {
		log_error("%s: sftp: %s", c->cn->who, sftp_engine_error(e));
		chan_close(c);
		return;
	}
	if (!c->remote_closed) {
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
	}
	chan_account(c);
	/* the client is done: finish what is in flight, then close */
	if ((c->in_eof || c->remote_closed) && sftp_engine_busy(e) == 0 &&
	    (c->remote_closed || sftp_engine_output_pending(e) == 0) && !c->stalled)
		chan_close(c);
}

static void pump_exec(struct chan *c)
{
	if (c->closed)
		return;
	int done = ssh_exec_step(c->ex);
	c->ex_done = done;
	if (c->remote_closed) {
		if (!ssh_exec_busy(c->ex))
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

/* 1 when a channel can make progress without new input. */
static int chan_has_work(const struct chan *c)
{
	if (c->closed)
		return 0;
	if (c->kind == C_SFTP && c->eng)
		return (c->stalled && sftp_engine_input_room(c->eng) > 0) ||
		       (sftp_engine_output_pending(c->eng) > 0 &&
			ssh_channel_window_size(c->ch) > 0);
	if (c->kind == C_EXEC) {
		struct wbuf *o = ssh_exec_stdout(c->ex), *e = ssh_exec_stderr(c->ex);
		int unsent = c->out_off < o->len || c->err_off < e->len;
		return (!c->ex_done && !ssh_exec_busy(c->ex)) ||
		       (unsent && ssh_channel_window_size(c->ch) > 0);
	}
	return 0;
}

/* Frees our side of a channel: finishes its work (an engine closes its handles), then drops
 * the libssh channel with our callbacks detached, so that nothing later calls into freed
 * memory. */
static void chan_free(struct chan *c)
{
	chan_account(c);
	sftp_engine_free(c->eng); /* waits for its operations, closes its handles */
	if (c->ex) {
		/* an exec hashing a file: let its operations finish first */
		while (ssh_exec_busy(c->ex) && c->cn->vc && vfs_conn_inflight(c->cn->vc)) {
			struct pollfd pfd;
			int n = vfs_conn_pollfds(c->cn->vc, &pfd, 1);
			vfs_conn_run(c->cn->vc);
			if (!ssh_exec_busy(c->ex))
				break;
			if (n == 0 || poll(&pfd, 1, 60000) <= 0)
				break;
			(void)vfs_conn_service(c->cn->vc, &pfd, 1);
		}
		ssh_exec_free(c->ex);
	}
	(void)ssh_remove_channel_callbacks(c->ch, &c->cb);
	ssh_channel_free(c->ch);
	free(c);
}

/* Our work on the channel is over: free the engine or exec now (the files it had open are
 * closed without waiting for the client). */
static void chan_finish_work(struct chan *c)
{
	chan_account(c);
	if (c->eng) {
		sftp_engine_free(c->eng);
		c->eng = NULL;
	}
}

static void conn_run(struct conn *cn)
{
	struct server *srv = cn->srv;
	time_t start = time(NULL);
	int tick = 0;
	for (;;) {
		int busy = cn->vc && vfs_conn_has_completions(cn->vc);
		for (struct chan *c = cn->chans; c && !busy; c = c->next)
			busy = chan_has_work(c);
		if (ssh_event_dopoll(cn->ev, busy ? 0 : IDLE_TICK_MS) == SSH_ERROR) {
			log_debug("%s: connection closed: %s", cn->who, ssh_get_error(cn->s));
			break;
		}
		if (atomic_load(&srv->stop))
			break;
		if (!cn->authenticated) {
			if (cn->auth_tries >= MAX_AUTH_TRIES ||
			    time(NULL) - start > AUTH_TIMEOUT_S) {
				log_warn("%s: no successful login, disconnecting", cn->peer);
				break;
			}
		}
		vfs_service(cn);
		/* channels: handle input, send output, retire the finished ones once both sides
		 * have closed them */
		for (struct chan **pp = &cn->chans; *pp;) {
			struct chan *c = *pp;
			if (c->kind == C_SFTP && c->eng)
				pump_sftp(c);
			else if (c->kind == C_EXEC)
				pump_exec(c);
			else if (c->remote_closed)
				chan_close(c);
			if (c->closed && c->eng)
				chan_finish_work(c);
			if (c->closed && c->remote_closed &&
			    (c->kind != C_EXEC || !ssh_exec_busy(c->ex))) {
				*pp = c->next;
				chan_free(c);
				continue;
			}
			pp = &c->next;
		}
		if (cn->vc)
			vfs_conn_run(cn->vc);
		vfs_fd_update(cn);
		int st = ssh_get_status(cn->s);
		if (st & (SSH_CLOSED | SSH_CLOSED_ERROR))
			break;
		(void)tick;
	}
}

/* The key exchange, driven here so that quick ACKs can be re-armed before every wait:
 * libssh sends its KEXINIT before reading the client's, so nothing carries the ACK of the
 * client's KEXINIT back, and with delayed ACKs the client's Nagle holds its next packet for
 * 40 ms. The kernel leaves quick-ACK mode on its own, hence the re-arming. */
static int key_exchange(struct conn *cn)
{
	int fd = ssh_get_fd(cn->s);
	time_t deadline = time(NULL) + 30;
	for (;;) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
		int rc = ssh_handle_key_exchange(cn->s);
		if (rc == SSH_OK)
			return 0;
		if (rc != SSH_AGAIN || time(NULL) > deadline || atomic_load(&cn->srv->stop))
			return -1;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			return -1;
	}
}

static void *conn_main(void *arg)
{
	struct conn *cn = arg;
	struct server *srv = cn->srv;
	const struct ssh_serve_opts *o = srv->o;
	long timeout = 30;
	ssh_options_set(cn->s, SSH_OPTIONS_TIMEOUT, &timeout);
	cn->scb.userdata = cn;
	cn->scb.auth_password_function = on_auth_password;
	cn->scb.auth_none_function = on_auth_none;
	cn->scb.auth_pubkey_function = on_auth_pubkey;
	cn->scb.channel_open_request_session_function = on_channel_open;
	ssh_callbacks_init(&cn->scb);
	ssh_set_server_callbacks(cn->s, &cn->scb);
	int methods = 0;
	if (o->no_auth)
		methods |=
		    SSH_AUTH_METHOD_NONE | SSH_AUTH_METHOD_PASSWORD | SSH_AUTH_METHOD_PUBLICKEY;
	if (o->user && o->pass)
		methods |= SSH_AUTH_METHOD_PASSWORD;
	if (ssh_auth_keys_file(o))
		methods |= SSH_AUTH_METHOD_PUBLICKEY;
	ssh_set_auth_methods(cn->s, methods);

	/* from here on nothing blocks: our loops wait, libssh never does */
	ssh_set_blocking(cn->s, 0);
	if (key_exchange(cn) < 0) {
		log_info("%s: key exchange failed: %s", cn->peer, ssh_get_error(cn->s));
		goto out;
	}
	cn->ev = ssh_event_new();
	if (!cn->ev || ssh_event_add_session(cn->ev, cn->s) != SSH_OK)
		goto out;
	conn_run(cn);
out:
	while (cn->chans) {
		struct chan *c = cn->chans;
		cn->chans = c->next;
		chan_free(c);
	}
	if (cn->ev) {
		if (cn->vfs_fd >= 0)
			ssh_event_remove_fd(cn->ev, cn->vfs_fd);
		ssh_event_remove_session(cn->ev, cn->s);
		ssh_event_free(cn->ev);
	}
	vfs_conn_free(cn->vc); /* closes any file still open, in the backend too */
	ssh_disconnect(cn->s);
	ssh_free(cn->s);
	if (cn->authenticated)
		log_info("%s disconnected", cn->who);
	free(cn);
	atomic_fetch_sub(&srv->active, 1);
	return NULL;
}

/* ---- listening ---- */

static int split_addr(const char *addr, char *host, size_t hl, char *port, size_t pl)
{
	const char *colon;
	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');
		if (!end || end[1] != ':')
			return -1;
		snprintf(host, hl, "%.*s", (int)(end - addr - 1), addr + 1);
		colon = end + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return -1;
		snprintf(host, hl, "%.*s", (int)(colon - addr), addr);
	}
	snprintf(port, pl, "%s", colon + 1);
	return port[0] ? 0 : -1;
}

static int listen_on(const char *addr, int *fds, int max, char *why, size_t len)
{
	char host[256], port[32];
	if (split_addr(addr, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(why, len, "invalid --addr '%s' (HOST:PORT, :PORT or [IPv6]:PORT)", addr);
		return -1;
	}
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	int gr = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (gr != 0) {
		snprintf(why, len, "cannot resolve --addr '%s': %s", addr, gai_strerror(gr));
		return -1;
	}
	int n = 0;
	int last_errno = 0;
	for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
			last_errno = errno;
			close(fd);
			continue;
		}
		fds[n++] = fd;
	}
	freeaddrinfo(res);
	if (n == 0) {
		snprintf(why, len, "cannot listen on %s: %s", addr,
			 last_errno ? strerror(last_errno) : "no usable address");
		return -1;
	}
	return n;
}

static void on_stop_signal(int sig)
{
	(void)sig;
	if (g_srv)
		atomic_store(&g_srv->stop, 1);
	if (g_wake[1] >= 0)
		(void)!write(g_wake[1], "x", 1);
}

static void describe_peer(int fd, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
			port = ntohs(a->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
			port = ntohs(a->sin6_port);
		}
	}
	snprintf(out, len, "%s:%d", host, port);
}

static void log_stats(struct server *srv, unsigned long long *last_r, unsigned long long *last_w,
		      int interval)
{
	unsigned long long r = atomic_load(&srv->bytes_read);
	unsigned long long w = atomic_load(&srv->bytes_written);
	double mr = (double)(r - *last_r) / 1e6 / interval;
	double mw = (double)(w - *last_w) / 1e6 / interval;
	log_msg(LOG_ERROR,
		"stats: %d connections open, %llu so far; sent %.1f MB (%.1f MB/s), received "
		"%.1f MB (%.1f MB/s), %llu requests",
		atomic_load(&srv->active), atomic_load(&srv->total_conns), (double)r / 1e6, mr,
		(double)w / 1e6, mw, atomic_load(&srv->requests));
	*last_r = r;
	*last_w = w;
}

int ssh_serve(struct vfs *v, const struct ssh_serve_opts *o, const struct sftp_opts *so)
{
	char why[512];
	if (ssh_serve_check(o, why, sizeof(why)) < 0) {
		log_error("%s", why);
		return SMBG_EINVAL;
	}
	ssh_init();
	struct server srv;
	memset(&srv, 0, sizeof(srv));
	srv.v = v;
	srv.o = o;
	srv.so = *so;
	ssh_bind b = ssh_bind_new();
	int fds[MAX_LISTEN];
	int nfd = 0, rc = 0;
	if (!b) {
		log_error("out of memory");
		return SMBG_ENOMEM;
	}
	bool no_config = false;
	ssh_bind_options_set(b, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no_config);
	if (ssh_hostkeys_load(b, o, why, sizeof(why)) < 0) {
		log_error("%s", why);
		rc = SMBG_EINVAL;
		goto out;
	}
	nfd = listen_on(o->addr, fds, MAX_LISTEN, why, sizeof(why));
	if (nfd < 0) {
		log_error("%s", why);
		nfd = 0;
		rc = SMBG_EIO;
		goto out;
	}
	if (pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = SMBG_EIO;
		goto out;
	}
	g_srv = &srv;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "smbgate serve sftp: serving %s on %s\n", vfs_backend_name(v), o->addr);

	time_t next_stats = o->stats_interval > 0 ? time(NULL) + o->stats_interval : 0;
	unsigned long long last_r = 0, last_w = 0;
	while (!atomic_load(&srv.stop)) {
		struct pollfd pfds[MAX_LISTEN + 1];
		for (int i = 0; i < nfd; i++) {
			pfds[i].fd = fds[i];
			pfds[i].events = POLLIN;
		}
		pfds[nfd].fd = g_wake[0];
		pfds[nfd].events = POLLIN;
		int r = poll(pfds, (nfds_t)nfd + 1, 1000);
		if (next_stats && time(NULL) >= next_stats) {
			log_stats(&srv, &last_r, &last_w, o->stats_interval);
			next_stats = time(NULL) + o->stats_interval;
		}
		if (r <= 0)
			continue;
		for (int i = 0; i < nfd; i++) {
			if (!(pfds[i].revents & POLLIN))
				continue;
			int cfd = accept4(fds[i], NULL, NULL, SOCK_CLOEXEC);
			if (cfd < 0)
				continue;
			int one = 1;
			setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			struct conn *cn = calloc(1, sizeof(*cn));
			ssh_session s = cn ? ssh_new() : NULL;
			if (!s || ssh_bind_accept_fd(b, s, cfd) != SSH_OK) {
				log_error("cannot accept a connection: %s",
					  s ? ssh_get_error(b) : "out of memory");
				if (s)
					ssh_free(s);
				else
					close(cfd);
				free(cn);
				continue;
			}
			cn->srv = &srv;
			cn->s = s;
			cn->vfs_fd = -1;
			describe_peer(cfd, cn->peer, sizeof(cn->peer));
			snprintf(cn->who, sizeof(cn->who), "?@%s", cn->peer);
			atomic_fetch_add(&srv.active, 1);
			atomic_fetch_add(&srv.total_conns, 1);
			pthread_attr_t attr;
			pthread_t t;
			pthread_attr_init(&attr);
			pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
			if (pthread_create(&t, &attr, conn_main, cn) != 0) {
				log_error("cannot start a thread for %s", cn->peer);
				atomic_fetch_sub(&srv.active, 1);
				ssh_free(s);
				free(cn);
			}
			pthread_attr_destroy(&attr);
		}
	}
	/* stop: the connection threads see srv.stop within a tick and close their files (the
	 * VFS they use must outlive them) */
	for (int i = 0; atomic_load(&srv.active) > 0; i++) {
		if (i == 100)
			log_warn("waiting for %d connections to close their files",
				 atomic_load(&srv.active));
		usleep(100000);
	}
out:
	for (int i = 0; i < nfd; i++)
		close(fds[i]);
	if (g_wake[0] >= 0) {
		close(g_wake[0]);
		close(g_wake[1]);
		g_wake[0] = g_wake[1] = -1;
	}
	g_srv = NULL;
	ssh_bind_free(b);
	ssh_finalize();
	return rc;
}
