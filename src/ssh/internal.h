/* What the listener's files share: the server (listen.c), one connection (session.c), its
 * channels (channel.c) and its login (login.c). Everything on a struct conn and its channels
 * happens on that connection's thread; struct server is shared (atomics, sources.c's lock).
 *
 * Re-entry rule (DESIGN.md decision 5): libssh callbacks only record things (the data
 * callback only buffers into the engine; a subsystem or exec request only notes what was
 * asked). Requests are handled, and the backend opened, after ssh_event_dopoll returns. */
#ifndef SMBGATE_SSH_INTERNAL_H
#define SMBGATE_SSH_INTERNAL_H

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sftp/sftp.h"
#include "ssh/opener.h"
#include "ssh/sources.h"
#include "ssh/ssh.h"
#include "util/wbuf.h"

#define SSH_EXEC_CMD_MAX 4096 /* longest exec command kept */

/* What all connections share. */
struct server {
	struct vfs *v;
	struct ssh_serve_opts opts;	/* a copy: outlives the caller's at a timed-out stop */
	const struct ssh_serve_opts *o; /* &opts */
	struct sftp_opts so;
	struct ssh_sources *sources; /* per-address counts and login penalties */
	ssh_bind bind;		     /* the listener's (kept here for a timed-out stop) */
	atomic_int stop;
	atomic_int active; /* threads that use v: connections and backend openers */
	atomic_ullong total_conns;
	atomic_ullong bytes_read, bytes_written, requests;
};

enum chan_kind {
	C_NEW = 0,   /* no request yet */
	C_WANT_SFTP, /* sftp asked for; started once the backend is open */
	C_WANT_EXEC, /* exec asked for (cmd kept); likewise */
	C_SFTP,	     /* an engine runs */
	C_EXEC,	     /* an exec command runs */
	C_REFUSE,    /* sftp, but the backend could not be opened: every request fails */
};

struct conn;

struct chan {
	struct chan *next;
	struct conn *cn;
	ssh_channel ch;
	struct ssh_channel_callbacks_struct cb;
	enum chan_kind kind;
	struct sftp_engine *eng;
	struct ssh_exec *ex;
	char *cmd;		  /* C_WANT_EXEC: the command */
	struct sftp_refusal *ref; /* C_REFUSE */
	struct wbuf rout;	  /* C_REFUSE: answers not yet sent */
	size_t out_off, err_off;  /* exec output already sent */
	int in_eof, remote_closed, stalled, closed;
	int failed;		/* close it: nothing more can be done */
	int ex_done;		/* the exec command has produced all its output */
	int retiring;		/* our work is over; the engine is freed once idle */
	struct sftp_stats last; /* stats already added to the server's totals */
};

struct conn {
	struct server *srv;
	ssh_session s;
	ssh_event ev;
	struct ssh_server_callbacks_struct scb;
	struct sockaddr_storage addr; /* the client's address (sources.c's key) */
	struct vfs_conn *vc;
	struct ssh_opener *opener; /* opening vc on a worker, or NULL */
	int opener_fd;		   /* registered with ev, or -1 */
	char *backend_err;	   /* the backend could not be opened: why (sticky) */
	struct chan *chans;
	int nchans;
	char peer[96];
	char who[200];
	char user[64];
	int64_t grace_end_ms; /* key exchange and login must end by then (0: no limit) */
	int authenticated;
	int startup; /* still counted as a startup in sources.c */
	int auth_tries;
	int vfs_fd; /* registered with ev, or -1 */
	short vfs_events;
	short vfs_revents;
	int dead;
};

/* ---- channel.c ---- */

/* The session-channel-open callback (libssh): NULL refuses (more than --max-sessions). */
ssh_channel chan_open_cb(ssh_session s, void *userdata);
/* 1 when the channel waits for the backend to be opened. */
int chan_wants_backend(const struct chan *c);
/* Starts what the channel asked for now that the backend is open (cn->vc) or has failed
 * (cn->backend_err). */
void chan_start(struct chan *c);
/* Handles input, sends output; closes our side when the work is over. */
void chan_pump(struct chan *c);
/* 1 when a channel can make progress without new input. */
int chan_has_work(const struct chan *c);
/* 1 when both sides have closed it and nothing can complete into it any more: chan_free
 * is then safe. */
int chan_done(struct chan *c);
/* 1 when nothing of the channel is in flight (its engine stopped, its exec idle); frees a
 * retired engine that has become idle. */
int chan_idle(struct chan *c);
/* Frees the channel's engine now, waiting for what it has in flight (within the engine's
 * bound): at the end of the connection, before the backend connection is freed. */
void chan_stop_now(struct chan *c);
/* Starts ending the channel's work (closes it on our side too). */
void chan_retire(struct chan *c);
/* Frees the channel. Call when chan_done(), or after the backend connection is freed
 * (nothing can complete into it then). */
void chan_free(struct chan *c);
/* Adds the channel's new statistics to the server's totals. */
void chan_account(struct chan *c);

/* ---- login.c ---- */

/* Installs the auth callbacks and methods on cn->s. */
void login_setup(struct conn *cn);
/* 1 when the connection must be dropped before login: too many tries or the grace time is
 * over (logged). */
int login_expired(struct conn *cn);

/* ---- session.c ---- */

/* The connection thread: key exchange, login, channels, teardown. Takes cn. */
void *session_main(void *arg);

#endif
