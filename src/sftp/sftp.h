/* The SFTP engine (DESIGN.md decision 4): SFTP version 3 (draft-ietf-secsh-filexfer-02) plus
 * the OpenSSH extensions, over a struct vfs_conn.
 *
 * Transport-neutral: the transport offers the client's byte stream with sftp_engine_input()
 * (which only buffers, so it may be called from a transport callback), calls
 * sftp_engine_process() after its poll returns, and writes what sftp_engine_output() gives
 * to the client. Replies leave in completion order, each carrying its request id: pipelined
 * READs and WRITEs become VFS operations in flight together.
 *
 * Limits: a packet longer than SFTP_MAX_PACKET ends the session before anything is
 * allocated for it; at most max_handles handles are open per session (an OPEN beyond that
 * gets SSH_FX_FAILURE "too many open handles"); while more than max_buffered bytes of request
 * packets started (WRITE data), read data in flight and replies waiting to be sent are held,
 * no new request is started and input stops being taken past 4 MiB of packets (the
 * transport's flow control then holds the client back).
 */
#ifndef SMBGATE_SFTP_H
#define SMBGATE_SFTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util/wbuf.h"
#include "vfs/vfs.h"

/* Largest packet accepted (the value of its length field): 256 KiB of data plus headers. */
#define SFTP_MAX_PACKET (256 * 1024 + 1024)
/* Largest READ/WRITE payload advertised in limits@openssh.com (as OpenSSH's sftp-server). */
#define SFTP_MAX_DATA (256 * 1024 - 1024)

struct sftp_opts {
	size_t max_handles; /* open files + directories per session (default 1024) */
	/* bytes of request packets started (WRITE data) + read data in flight + output queued
	 * (default 8 MiB); past it, nothing new starts */
	size_t max_buffered;
	const char *who; /* "user@host:port" for access logs (borrowed) */
	int access_log;	 /* log every request at info level (-v) */
};

struct sftp_stats {
	uint64_t requests;
	uint64_t bytes_read;	/* file data sent to the client */
	uint64_t bytes_written; /* file data received from the client */
	uint64_t errors;
};

struct sftp_engine;

void sftp_opts_default(struct sftp_opts *o);

/* vc is borrowed and must outlive the engine. NULL on allocation failure. */
struct sftp_engine *sftp_engine_new(struct vfs_conn *vc, const struct sftp_opts *o);

/* Ending a session without blocking (the SSH listener): sftp_engine_shutdown() stops taking
 * input, drops the requests not started, and closes the handles the client left open (an
 * upload left open is not complete: it stays under its temporary name); requests in flight
 * finish, each by its VFS deadline at the latest. Keep running the vfs_conn's loop until
 * sftp_engine_idle() (or the done callback, which runs once from the VFS loop when the
 * engine becomes idle after shutdown); only then may the engine be freed: before, a VFS
 * operation could still complete into it. Idempotent. */
void sftp_engine_shutdown(struct sftp_engine *e);
/* 1 when nothing can complete into e any more (after shutdown: free it now). */
int sftp_engine_idle(const struct sftp_engine *e);
/* fn(priv) runs once, from the VFS loop, when e becomes idle after shutdown (not when it
 * is idle already at the call: check sftp_engine_idle() after shutdown). */
void sftp_engine_set_done_cb(struct sftp_engine *e, void (*fn)(void *priv), void *priv);

/* Shutdown, then waits (bounded: the VFS timeout and a margin) until idle, then frees; if
 * the backend still has not answered, its connection is aborted so that every pending
 * operation completes with an error first (--stdio, tests). NULL is a no-op. */
void sftp_engine_free(struct sftp_engine *e);

/* Takes up to len bytes of the client's stream; returns how many were taken (fewer when the
 * engine is full: offer the rest once sftp_engine_input_room() > 0). Only buffers. */
size_t sftp_engine_input(struct sftp_engine *e, const void *buf, size_t len);
/* Bytes the engine would take now. */
size_t sftp_engine_input_room(const struct sftp_engine *e);
/* Starts the buffered requests and runs completed VFS callbacks until nothing more can be
 * done without I/O. Returns 0, or < 0 when the session must end (sftp_engine_error()). */
int sftp_engine_process(struct sftp_engine *e);
/* Why the session ended ("packet of 1048576 bytes exceeds the limit"), or NULL. */
const char *sftp_engine_error(const struct sftp_engine *e);

/* Fills up to max iovecs with the output waiting to be sent; returns how many. */
int sftp_engine_output(struct sftp_engine *e, struct iovec *iov, int max);
/* n bytes of that output were sent. */
void sftp_engine_output_done(struct sftp_engine *e, size_t n);
/* Bytes waiting to be sent. */
size_t sftp_engine_output_pending(const struct sftp_engine *e);
/* Requests started and not yet answered. */
size_t sftp_engine_busy(const struct sftp_engine *e);

const struct sftp_stats *sftp_engine_stats(const struct sftp_engine *e);

/* Serves one session over in/out (stdin/stdout for --stdio) until the client closes its
 * side. Returns 0 or < 0 (a protocol error ended the session). */
int sftp_serve_fds(struct vfs_conn *vc, int in, int out, const struct sftp_opts *o);

/* For `--stdio` when the remote cannot be opened (a wrong password in the URL...): answers
 * INIT, then every request with a FAILURE status whose message is "smbgate cannot serve this
 * remote: <why>", until the client closes its side. OpenSSH's sshd discards a subsystem's
 * stderr, so the protocol is the only way the user hears the reason. Returns 0, or < 0 for
 * a malformed or oversized packet (the session ends). */
int sftp_serve_refusal(int in, int out, const char *why);

/* The same answers for any transport (refusal.c): the client's byte stream goes in, the
 * replies come out. Packets are skipped, never buffered (constant memory). */
#define SFTP_REFUSAL_MSG_MAX 512
struct sftp_refusal {
	char msg[SFTP_REFUSAL_MSG_MAX];
	uint8_t hdr[9]; /* length, type, id: all a reply needs */
	size_t hlen;
	uint32_t skip; /* bytes of the current packet still to skip */
};
void sftp_refusal_init(struct sftp_refusal *r, const char *why);
/* Takes all len bytes, appending the replies of every complete request to out. Returns 0,
 * or < 0: SMBG_EPROTO for a malformed or oversized packet (the session must end),
 * SMBG_ENOMEM. */
int sftp_refusal_input(struct sftp_refusal *r, const uint8_t *p, size_t len, struct wbuf *out);

#endif
