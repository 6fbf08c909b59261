/* smbgate SMB client API: one connection, one session, one tree (share) per struct smb_client.
 *
 * The core is asynchronous: every *_async call either fails at once (returns < 0 and its
 * callback never runs) or returns 0 and its callback runs exactly once, from inside
 * smb_client_service() (or a blocking call that services the connection). Many requests may be
 * in flight together; they complete in any order. Buffers and out-pointers passed to an async
 * call are borrowed until its callback runs.
 *
 * The blocking calls are thin wrappers: submit, then service until the callback has run. They
 * must not be called from inside a callback.
 *
 * Nothing here depends on the dialect (SMB1 or SMB2/3): it is chosen at connect time and hidden
 * behind an ops table.
 *
 * Paths are UTF-8, '/'-separated, relative to the share root ("" is the root). Errors are
 * negative SMBG_E* values (smbgate/err.h); smb_client_errmsg() gives a one-line message naming
 * the operation, the path and the server's status.
 */
#ifndef SMBGATE_SMB_H
#define SMBGATE_SMB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "smbgate/err.h"

struct smb_url; /* util/url.h */
struct smb_client;
struct smb_file;

/* What smb_client_connect had reached (for `smbgate test` and messages). */
enum smb_stage {
	SMB_STAGE_NONE = 0,
	SMB_STAGE_RESOLVE,   /* resolving the host name */
	SMB_STAGE_CONNECT,   /* TCP connect (and NetBIOS session request) */
	SMB_STAGE_NEGOTIATE, /* dialect negotiation */
	SMB_STAGE_LOGIN,     /* session setup (authentication) */
	SMB_STAGE_TREE,	     /* tree connect to the share */
	SMB_STAGE_READY	     /* connected; file operations possible */
};

struct smb_stat {
	uint64_t size;
	uint64_t alloc_size;
	struct timespec btime, atime, mtime, ctime;
	uint32_t attributes; /* FILE_ATTRIBUTE_* */
	int is_dir;
	uint64_t file_id; /* server's file index, 0 when unknown */
	uint32_t nlink;
};

struct smb_statfs {
	uint64_t block_size; /* bytes per allocation unit */
	uint64_t total_blocks;
	uint64_t free_blocks;  /* free to the caller (quota applied) */
	uint64_t avail_blocks; /* actually free on the volume */
};

/* Open flags (combine). Without SMB_O_CREATE the file must exist. */
#define SMB_O_READ   0x0001
#define SMB_O_WRITE  0x0002
#define SMB_O_CREATE 0x0004 /* create if missing */
#define SMB_O_EXCL   0x0008 /* with CREATE: fail if it exists (SMBG_EEXIST) */
#define SMB_O_TRUNC  0x0010 /* truncate to 0 (overwrite) */
#define SMB_O_DIR    0x0020 /* must be a directory (with CREATE: make a directory) */
#define SMB_O_FILE   0x0040 /* must not be a directory */
#define SMB_O_DELETE 0x0080 /* DELETE access (needed to rename or delete by handle) */
#define SMB_O_ATTR   0x0100 /* only read/write attributes (stat, set times) */

/* Called once per directory entry ("." and ".." are skipped). Return 0 to go on, < 0 to stop
 * the listing with that error. name is borrowed for the call. */
typedef int (*smb_dirent_fn)(void *priv, const char *name, const struct smb_stat *st);

/* Completion callback. rc: >= 0 success (bytes for read/write, else 0), < 0 an SMBG_E* error. */
typedef void (*smb_cb)(struct smb_client *c, int rc, void *priv);

/* ---- Connection ---- */

/* Creates a client for url (copied). NULL on allocation failure. Does not connect. */
struct smb_client *smb_client_new(const struct smb_url *url);
/* Resolves, connects, negotiates, logs in and connects to the share (blocking, with the
 * connect timeout). On failure smb_client_stage() tells which step failed. */
int smb_client_connect(struct smb_client *c);
/* Tree disconnect, logoff, close (blocking, best effort), then frees. NULL is a no-op.
 * Open files are closed first. */
void smb_client_free(struct smb_client *c);
/* Seconds for connect and for any single request before the connection is declared dead
 * (default 30; 0 = none). The clock of a request starts when it is sent, or when it is queued
 * while it waits for credits (SMB2) or a free slot (SMB1, MaxMpxCount): queued requests expire
 * too. An SMB2 interim answer (STATUS_PENDING) restarts the clock of its request, but never
 * beyond 4 x the timeout after it was sent. When a deadline passes the connection fails with
 * SMBG_ETIMEDOUT and every request's callback runs with that error. The socket also gets TCP
 * keepalive and TCP_USER_TIMEOUT of the same length. Set it before smb_client_connect. */
void smb_client_set_timeout(struct smb_client *c, int seconds);

/* Reconnect (off by default; the gateway and the CLI turn it on). When the connection dies
 * (closed, reset, a request past the timeout) the client reconnects by itself: TCP connect,
 * negotiate, session setup, tree connect, then each open file is reopened with the same struct
 * smb_file: through its durable handle (SMB 3.x: data opens ask for a durable handle v2 while
 * reconnect is on), else by path when it was opened read-only (directories too: their listing
 * restarts on the new handle and passes over the entries already delivered). A file open for
 * writing that the server did not keep fails every later request with SMBG_EBADF and a message
 * saying written data may be incomplete. Requests in flight at the drop: reads, stats, flushes,
 * listing rounds, closes and opens are sent again (with the replay flag on 3.x); a write is sent
 * again only on a durable handle, else it fails its handle; renames, deletes and set-info fail with
 * the connection's error. Requests submitted while the connection is down wait (park) until it is
 * back. A request that waits longer than the timeout (smb_client_set_timeout) fails with
 * SMBG_ETIMEDOUT, "the server
 * ... has been unreachable". A session the server expires is re-authenticated in place; a
 * session or share the server ends (STATUS_USER_SESSION_DELETED, NETWORK_NAME_DELETED) is
 * reconnected.
 *   Attempts: the first at once, then 1 s after a failure, doubling up to 30 s; each attempt's
 * connect and login is bounded by min(timeout, 10 s). They run inside blocking calls and inside
 * smb_client_service: an event loop must call smb_client_service(c, 0) now and then (at most
 * every second) even while smb_client_fd(c) is -1. smb_client_service returns < 0 only when
 * the client is dead for good (attempt limit reached). SMB1 connections do not reconnect.
 * Durable handles need a batch oplock: a break is acknowledged when the client is serviced, so
 * a client left unserviced delays other openers of its files (see docs/architecture.md).
 * Returns 0 or SMBG_ENOMEM. */
int smb_client_set_reconnect(struct smb_client *c, int on);
/* Gives up after n consecutive failed attempts (0, the default: never): the parked requests
 * then fail, and so does everything after. For the CLI's --retries. No-op when reconnect is
 * off. */
void smb_client_set_reconnect_attempts(struct smb_client *c, unsigned n);
/* Successful reconnects so far. */
unsigned smb_client_reconnects(const struct smb_client *c);
/* 1 while the connection is down and being re-established (requests wait). */
int smb_client_reconnecting(const struct smb_client *c);
/* 1 once reconnecting has given up (the attempt limit reached): the client is dead. */
int smb_client_reconnect_gave_up(const struct smb_client *c);

enum smb_stage smb_client_stage(const struct smb_client *c);
/* One-line description of the last error ("open docs/a.txt: STATUS_OBJECT_NAME_NOT_FOUND
 * (no such file or directory)"). Never NULL; borrowed until the next call on c. */
const char *smb_client_errmsg(const struct smb_client *c);
/* The last NTSTATUS the server returned for a failed request (0 if none). */
uint32_t smb_client_ntstatus(const struct smb_client *c);
/* Negotiated dialect (SMB_DIALECT_* from util/url.h), and whether signing/encryption is on. */
uint16_t smb_client_dialect(const struct smb_client *c);
int smb_client_signing(const struct smb_client *c);
int smb_client_encryption(const struct smb_client *c);
/* Largest payload of one READ / WRITE request (URL buffer sizes applied). */
uint32_t smb_client_max_read(const struct smb_client *c);
uint32_t smb_client_max_write(const struct smb_client *c);
/* Base path inside the share from the URL ("" for the root); borrowed. */
const char *smb_client_base_path(const struct smb_client *c);

/* ---- Event-loop integration ---- */

/* The socket to poll, and the poll events it needs now (POLLIN, plus POLLOUT when output is
 * queued). */
int smb_client_fd(const struct smb_client *c);
short smb_client_events(const struct smb_client *c);
/* Does all I/O that is ready (non-blocking), runs the callbacks of completed requests and
 * enforces the request deadlines (smb_client_set_timeout). Returns 0, or < 0 when the
 * connection failed (all pending callbacks have then run with an error). revents 0 is fine:
 * call it when the poll timeout from smb_client_next_deadline_ms() passes. */
int smb_client_service(struct smb_client *c, short revents);
/* Milliseconds until smb_client_service() must run again to enforce a deadline (use it as, or
 * to cap, the poll timeout); -1 when nothing is waiting (or no timeout is set). Deadlines are
 * checked about once a second, so expect up to a second of lateness. */
int smb_client_next_deadline_ms(const struct smb_client *c);
/* Milliseconds since the last message from the server (or since the connect): idle
 * connections can be kept alive with smb_echo_async() (servers drop idle clients; Windows
 * after about 15 minutes). 0 when not connected. */
int64_t smb_client_idle_ms(const struct smb_client *c);
/* Ends the connection now and fails every request in flight or parked with err (their
 * callbacks run before this returns), so that no buffer they borrowed is written into later;
 * why (optional) becomes the message. With reconnect on, later requests reconnect as after
 * any drop; without it the client is dead. */
void smb_client_abort(struct smb_client *c, int err, const char *why);
/* Number of requests waiting for a response (with reconnect on: also those parked until the
 * connection is back). */
size_t smb_client_pending(const struct smb_client *c);

/* ---- Asynchronous operations ---- */

int smb_open_async(struct smb_client *c, const char *path, int flags, struct smb_file **out,
		   smb_cb cb, void *priv);
/* The same; st (optional) receives the attributes the server returned with the open (no extra
 * request). */
int smb_open_stat_async(struct smb_client *c, const char *path, int flags, struct smb_file **out,
			struct smb_stat *st, smb_cb cb, void *priv);
/* Closes and frees f (also when the close fails on the wire). */
int smb_close_async(struct smb_client *c, struct smb_file *f, smb_cb cb, void *priv);
/* len <= smb_client_max_read(c). rc = bytes read: len, or fewer only at the end of the file
 * (0 at or past it). A server answering short in the middle of the file is asked again for the
 * rest before the callback runs. */
int smb_pread_async(struct smb_client *c, struct smb_file *f, void *buf, size_t len, uint64_t off,
		    smb_cb cb, void *priv);
/* len <= smb_client_max_write(c). rc = len: a short answer from the server is followed by a
 * write of the rest, and one that writes nothing fails the call (SMBG_EIO), so the callback
 * never sees a short count. */
int smb_pwrite_async(struct smb_client *c, struct smb_file *f, const void *buf, size_t len,
		     uint64_t off, smb_cb cb, void *priv);
/* The same (rc = len or < 0) with the data taken from fd at fd_off by the kernel (sendfile), no
 * copy through user space. SMBG_ENOTSUP when the session signs or seals, or the dialect cannot;
 * fall back to smb_pwrite_async then. fd must keep the bytes until the callback runs. */
int smb_pwrite_file_async(struct smb_client *c, struct smb_file *f, int fd, uint64_t fd_off,
			  size_t len, uint64_t off, smb_cb cb, void *priv);
int smb_fstat_async(struct smb_client *c, struct smb_file *f, struct smb_stat *st, smb_cb cb,
		    void *priv);
int smb_flush_async(struct smb_client *c, struct smb_file *f, smb_cb cb, void *priv);
/* An ECHO round trip: proves the server (and the path to it) alive and resets idle timers on
 * both sides. rc 0 when answered. */
int smb_echo_async(struct smb_client *c, smb_cb cb, void *priv);
/* Renames the open file f to the share-relative path to (replace: over an existing file) in one
 * request on the handle, which stays open (a rename by path costs an open and a close more). f
 * must have been opened with SMB_O_DELETE. A target that another client holds open is the
 * server's call: Samba replaces it (that reader keeps the old file), a server may refuse
 * (SMBG_EACCES or SMBG_EBUSY). Over SMB1 Samba refuses a hidden file (a dot name) with
 * SMBG_ENOENT; rename by path then. Not replayed after a dropped connection: it fails with the
 * connection's error, and whether it happened is then unknown. */
int smb_frename_async(struct smb_client *c, struct smb_file *f, const char *to, int replace,
		      smb_cb cb, void *priv);

/* ---- Blocking operations (submit + service until done) ---- */

int smb_open(struct smb_client *c, const char *path, int flags, struct smb_file **out);
int smb_close(struct smb_client *c, struct smb_file *f);
/* Reads up to len bytes at off, keeping several requests in flight when len is larger than one
 * request. Returns bytes read (short only at end of file) or < 0. */
ssize_t smb_pread(struct smb_client *c, struct smb_file *f, void *buf, size_t len, uint64_t off);
ssize_t smb_pwrite(struct smb_client *c, struct smb_file *f, const void *buf, size_t len,
		   uint64_t off);
int smb_fstat(struct smb_client *c, struct smb_file *f, struct smb_stat *st);
int smb_flush(struct smb_client *c, struct smb_file *f);
int smb_ftruncate(struct smb_client *c, struct smb_file *f, uint64_t size);
/* Sets times; a NULL or {0, UTIME_OMIT} timespec leaves that time unchanged. */
int smb_futimens(struct smb_client *c, struct smb_file *f, const struct timespec *atime,
		 const struct timespec *mtime);

int smb_stat(struct smb_client *c, const char *path, struct smb_stat *st);
/* Lists a directory, all rounds; fn is called for each entry. */
int smb_readdir(struct smb_client *c, const char *path, smb_dirent_fn fn, void *priv);
int smb_mkdir(struct smb_client *c, const char *path);
int smb_rmdir(struct smb_client *c, const char *path);
int smb_unlink(struct smb_client *c, const char *path);
/* Renames from -> to (both share-relative). replace: overwrite an existing file. */
int smb_rename(struct smb_client *c, const char *from, const char *to, int replace);
/* smb_frename_async, blocking. */
int smb_frename(struct smb_client *c, struct smb_file *f, const char *to, int replace);
int smb_statfs(struct smb_client *c, const char *path, struct smb_statfs *st);
int smb_echo(struct smb_client *c);

/* ---- Streaming transfers with a window of requests in flight, delivered in order ---- */

/* Called with consecutive chunks of the file, in order. Return 0 to go on, < 0 to abort. */
typedef int (*smb_sink_fn)(void *priv, const void *buf, size_t len);
/* Fills buf with up to len bytes; returns bytes (0 at end) or < 0 to abort. */
typedef ssize_t (*smb_source_fn)(void *priv, void *buf, size_t len);

/* Reads from off to end of file (or len bytes when len != UINT64_MAX) and feeds sink. *done
 * (optional) receives the number of bytes delivered. */
int smb_read_stream(struct smb_client *c, struct smb_file *f, uint64_t off, uint64_t len,
		    smb_sink_fn sink, void *priv, uint64_t *done);
/* Writes everything source yields, from off on. *done receives the bytes written. */
int smb_write_stream(struct smb_client *c, struct smb_file *f, uint64_t off, smb_source_fn source,
		     void *priv, uint64_t *done);
/* Bytes written so far, after each request completes. */
typedef void (*smb_progress_fn)(void *priv, uint64_t done);
/* Writes len bytes of the regular file fd from fd_off on, the kernel sending them (sendfile).
 * SMBG_ENOTSUP before anything is sent when the session cannot (see smb_pwrite_file_async):
 * use smb_write_stream then. */
int smb_write_stream_file(struct smb_client *c, struct smb_file *f, uint64_t off, int fd,
			  uint64_t fd_off, uint64_t len, smb_progress_fn progress, void *priv,
			  uint64_t *done);

#endif
