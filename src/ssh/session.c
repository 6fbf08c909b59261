/* One SSH connection, on its own thread with its own ssh_event loop: key exchange and login
 * within the grace time, the backend opened on a worker once a channel asks for it, the
 * channels pumped after every poll, and a teardown that frees nothing an operation can still
 * complete into. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "ssh/internal.h"
#include "util/clock.h"
#include "util/log.h"

#define IDLE_TICK_MS  500
#define KEX_POLL_MS   500
#define STOP_DRAIN_MS 5000 /* after a stop signal: time for channels to finish */

/* ---- the backend ---- */

static int on_backend_fd(socket_t fd, int revents, void *userdata)
{
	struct conn *cn = userdata;
	(void)fd;
	cn->vfs_revents |= (short)revents;
	return 0;
}

static void backend_fd_update(struct conn *cn)
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
	if (fd >= 0 && ssh_event_add_fd(cn->ev, fd, ev, on_backend_fd, cn) == SSH_OK) {
		cn->vfs_fd = fd;
		cn->vfs_events = ev;
	}
}

static void backend_service(struct conn *cn)
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

static int on_opener_fd(socket_t fd, int revents, void *userdata)
{
	(void)fd, (void)revents, (void)userdata;
	return 0; /* noticed after the poll, by ssh_opener_take */
}

static void opener_stop(struct conn *cn)
{
	if (cn->opener_fd >= 0)
		ssh_event_remove_fd(cn->ev, cn->opener_fd);
	cn->opener_fd = -1;
	ssh_opener_release(cn->opener);
	cn->opener = NULL;
}

/* Starts opening the backend when a channel waits for it; takes the result when ready;
 * then starts the waiting channels. */
static void backend_open_step(struct conn *cn)
{
	int want = 0;
	for (struct chan *c = cn->chans; c && !want; c = c->next)
		want = chan_wants_backend(c);
	if (!want)
		return;
	if (!cn->vc && !cn->backend_err && !cn->opener) {
		cn->opener = ssh_opener_start(cn->srv->v, &cn->srv->active);
		if (!cn->opener) {
			cn->backend_err = strdup("cannot start a thread to connect to the backend");
		} else if (ssh_event_add_fd(cn->ev, ssh_opener_fd(cn->opener), POLLIN, on_opener_fd,
					    cn) == SSH_OK) {
			cn->opener_fd = ssh_opener_fd(cn->opener);
		}
	}
	if (cn->opener) {
		char why[512];
		struct vfs_conn *vc = NULL;
		if (!ssh_opener_take(cn->opener, &vc, why, sizeof(why)))
			return;
		opener_stop(cn);
		cn->vc = vc;
		if (!vc) {
			log_error("%s: %s", cn->who, why);
			cn->backend_err = strdup(why[0] ? why : "cannot connect to the backend");
		}
	}
	for (struct chan *c = cn->chans; c; c = c->next)
		if (chan_wants_backend(c))
			chan_start(c);
}

/* ---- the event loop ---- */

/* Pumps every channel and frees the ones that are over. */
static void channels_step(struct conn *cn)
{
	for (struct chan **pp = &cn->chans; *pp;) {
		struct chan *c = *pp;
		chan_pump(c);
		if (chan_done(c)) {
			*pp = c->next;
			chan_free(c);
			continue;
		}
		pp = &c->next;
	}
}

static int session_busy(struct conn *cn)
{
	if (cn->vc && vfs_conn_has_completions(cn->vc))
		return 1;
	for (struct chan *c = cn->chans; c; c = c->next)
		if (chan_has_work(c))
			return 1;
	return 0;
}

static void session_run(struct conn *cn)
{
	struct server *srv = cn->srv;
	for (;;) {
		if (ssh_event_dopoll(cn->ev, session_busy(cn) ? 0 : IDLE_TICK_MS) == SSH_ERROR) {
			log_debug("%s: connection closed: %s", cn->who, ssh_get_error(cn->s));
			return;
		}
		if (atomic_load(&srv->stop) || login_expired(cn))
			return;
		backend_service(cn);
		backend_open_step(cn);
		channels_step(cn);
		if (cn->vc)
			vfs_conn_run(cn->vc);
		backend_fd_update(cn);
		if (ssh_get_status(cn->s) & (SSH_CLOSED | SSH_CLOSED_ERROR))
			return;
	}
}

/* The key exchange, driven here so that quick ACKs can be re-armed before every wait:
 * libssh sends its KEXINIT before reading the client's, so nothing carries the ACK of the
 * client's KEXINIT back, and with delayed ACKs the client's Nagle holds its next packet for
 * 40 ms. The kernel leaves quick-ACK mode on its own, hence the re-arming. It counts
 * towards the login grace time. */
static int key_exchange(struct conn *cn)
{
	int fd = ssh_get_fd(cn->s);
	for (;;) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
		int rc = ssh_handle_key_exchange(cn->s);
		if (rc == SSH_OK)
			return 0;
		if (rc != SSH_AGAIN || atomic_load(&cn->srv->stop))
			return -1;
		int64_t left = cn->grace_end_ms ? cn->grace_end_ms - clock_now_ms() : KEX_POLL_MS;
		if (left <= 0) {
			log_warn("%s: no key exchange within --login-grace-time (%d s), "
				 "disconnecting",
				 cn->peer, cn->srv->o->login_grace);
			return -1;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, left < KEX_POLL_MS ? (int)left : KEX_POLL_MS) < 0 && errno != EINTR)
			return -1;
	}
}

/* The connection ends (the client left, or a stop signal): every channel closes, engines
 * stop; give what is in flight a moment to finish (each engine's own bound still applies).
 * Whatever is left is cancelled when the backend connection is freed. */
static void session_drain(struct conn *cn)
{
	for (struct chan *c = cn->chans; c; c = c->next)
		chan_retire(c);
	int64_t end = clock_now_ms() + STOP_DRAIN_MS;
	int ssh_gone = !cn->ev;
	while (clock_now_ms() < end) {
		int all = 1;
		for (struct chan *c = cn->chans; c && all; c = c->next)
			all = chan_idle(c); /* the client need not answer our close now */
		if (all)
			break;
		if (!ssh_gone && ssh_event_dopoll(cn->ev, IDLE_TICK_MS / 5) == SSH_ERROR)
			ssh_gone = 1;
		if (ssh_gone) { /* the client left: wait on the backend alone */
			struct pollfd p;
			if (!cn->vc || vfs_conn_pollfds(cn->vc, &p, 1) < 1)
				break;
			if (poll(&p, 1, IDLE_TICK_MS / 5) > 0)
				(void)vfs_conn_service(cn->vc, &p, 1);
		} else {
			backend_service(cn);
		}
		if (cn->vc)
			vfs_conn_run(cn->vc);
		channels_step(cn);
		if (!ssh_gone)
			backend_fd_update(cn);
	}
}

void *session_main(void *arg)
{
	struct conn *cn = arg;
	struct server *srv = cn->srv;
	const struct ssh_serve_opts *o = srv->o;
	cn->vfs_fd = cn->opener_fd = -1;
	if (o->login_grace > 0)
		cn->grace_end_ms = clock_now_ms() + (int64_t)o->login_grace * 1000;
	login_setup(cn);

	/* from here on nothing blocks: our loops wait, libssh never does */
	ssh_set_blocking(cn->s, 0);
	if (key_exchange(cn) < 0) {
		log_info("%s: key exchange failed: %s", cn->peer, ssh_get_error(cn->s));
		goto out;
	}
	cn->ev = ssh_event_new();
	if (!cn->ev || ssh_event_add_session(cn->ev, cn->s) != SSH_OK)
		goto out;
	session_run(cn);
out:
	/* engines first (they close the files they had open), then the backend connection
	 * (which runs every callback still in flight, with SMBG_ECANCELED), then the rest */
	session_drain(cn);
	for (struct chan *c = cn->chans; c; c = c->next)
		chan_stop_now(c); /* what the drain left: must go before the backend */
	if (cn->opener)
		opener_stop(cn); /* a worker still connecting frees what it opens */
	if (cn->ev) {
		if (cn->vfs_fd >= 0)
			ssh_event_remove_fd(cn->ev, cn->vfs_fd);
		ssh_event_remove_session(cn->ev, cn->s);
		ssh_event_free(cn->ev);
	}
	vfs_conn_free(cn->vc); /* closes any file still open, in the backend too */
	while (cn->chans) {
		struct chan *c = cn->chans;
		cn->chans = c->next;
		chan_free(c);
	}
	ssh_disconnect(cn->s);
	ssh_free(cn->s);
	if (cn->authenticated)
		log_info("%s disconnected", cn->who);
	ssh_sources_leave(srv->sources, &cn->addr, cn->startup);
	free(cn->backend_err);
	free(cn);
	atomic_fetch_sub(&srv->active, 1);
	return NULL;
}
