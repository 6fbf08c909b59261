/* The VFS: what `serve sftp` (and later the CLI) sees of a remote, whatever the backend.
 *
 * Shape (DESIGN.md decision 6): one struct vfs per served remote holds the options, the
 * backend and the directory cache, and is shared by every connection (thread-safe). Each
 * connection thread opens its own struct vfs_conn: the backend's per-connection state (for
 * SMB its own smb_client) plus a completion queue. Everything on a vfs_conn happens on that
 * one thread.
 *
 * Asynchronous contract (STYLE habit 7): every vfs_* operation either fails at once
 * (returns < 0, its callback never runs) or returns 0 and its callback runs exactly once,
 * later, from vfs_conn_run(); never from inside the call that submitted it. Many operations
 * may be in flight together and complete in any order. Buffers and out-pointers passed to an
 * operation are borrowed until its callback has run.
 *
 * Paths are VFS paths: UTF-8, relative to the remote's root, '/'-separated, no leading or
 * trailing '/', no "." or ".." components, "" for the root. vfs_path_normalize() turns any
 * client path into one; nothing reachable through a VFS path is outside the root.
 */
#ifndef SMBGATE_VFS_H
#define SMBGATE_VFS_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "smbgate/err.h"

struct vfs;
struct vfs_conn;
struct vfs_file;

/* rclone's --vfs-cache-mode. Only `off` exists so far. */
enum vfs_cache_mode { VFS_CACHE_OFF = 0 };

struct vfs_opts {
	int read_only; /* --read-only: every change is refused (SMBG_EROFS) */
	uid_t uid;     /* --uid, --gid: owner shown for every file */
	gid_t gid;
	mode_t umask;	    /* --umask (default 022) */
	mode_t file_perms;  /* --file-perms (default 0666) */
	mode_t dir_perms;   /* --dir-perms (default 0777) */
	int no_modtime;	    /* --no-modtime: times are neither read nor set */
	int no_checksum;    /* --no-checksum: vfs_hash refuses (SMBG_ENOTSUP) */
	int no_seek;	    /* --no-seek: reads must be sequential */
	int dir_cache_time; /* --dir-cache-time in seconds (default 300; 0 = no cache) */
	enum vfs_cache_mode cache_mode;
	/* --timeout: seconds an operation may wait for the backend (default 30; 0 = none).
	 * Applied to each SMB connection too. */
	int timeout;
	/* --inplace: uploads write the target directly instead of a temporary name */
	int inplace;
};

/* Fills o with rclone's defaults (uid/gid of the process, umask of the process). */
void vfs_opts_default(struct vfs_opts *o);

/* Attributes as the VFS presents them: the mode is S_IFDIR or S_IFREG plus the configured
 * permissions, owner from the options. */
struct vfs_attr {
	uint64_t size;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	uint32_t nlink;
	struct timespec atime;
	struct timespec mtime;
};

/* One directory listing, sorted by name (bytewise), shared and reference counted (the
 * directory cache keeps one reference). Immutable once built. */
struct vfs_dirent {
	uint32_t name_off; /* into names */
	uint32_t name_len;
	struct vfs_attr attr;
};
struct vfs_dir {
	int refs;	/* atomic */
	size_t n;	/* entries shown */
	size_t nhidden; /* after them: temporary uploads (not shown; known to STAT) */
	struct vfs_dirent *ents;
	char *names; /* NUL-terminated names, back to back */
	size_t names_len, names_cap;
	size_t cap;
};

static inline const char *vfs_dirent_name(const struct vfs_dir *d, size_t i)
{
	return d->names + d->ents[i].name_off;
}
/* Drops one reference; frees at zero. NULL is a no-op. */
void vfs_dir_put(struct vfs_dir *d);
struct vfs_dir *vfs_dir_get(struct vfs_dir *d);

struct vfs_statfs {
	uint64_t bsize;	 /* bytes per block */
	uint64_t blocks; /* total */
	uint64_t bfree;	 /* free */
	uint64_t bavail; /* free to us */
	uint64_t files, ffree;
	uint64_t namemax;
	int read_only;
};

/* What vfs_setattr changes: VFS_SET_* bits say which fields are valid. Permissions and owner
 * are accepted and ignored (the VFS shows the configured ones, as rclone does). */
#define VFS_SET_SIZE  0x1
#define VFS_SET_ATIME 0x2
#define VFS_SET_MTIME 0x4
#define VFS_SET_PERMS 0x8
#define VFS_SET_OWNER 0x10
struct vfs_setattr {
	unsigned valid;
	uint64_t size;
	struct timespec atime, mtime;
	mode_t perms;
};

/* Open flags. Without VFS_O_CREAT the file must exist. */
#define VFS_O_READ   0x01
#define VFS_O_WRITE  0x02
#define VFS_O_APPEND 0x04
#define VFS_O_CREAT  0x08
#define VFS_O_TRUNC  0x10
#define VFS_O_EXCL   0x20

/* vfs_rename flags */
#define VFS_RENAME_REPLACE 0x1 /* overwrite an existing target (posix-rename) */

enum vfs_hash_algo { VFS_HASH_MD5 = 0, VFS_HASH_SHA1, VFS_HASH_SHA256 };
#define VFS_HASH_MAX 32 /* bytes of the longest digest */

/* Capabilities of the backend (vfs_caps). */
#define VFS_CAP_HARDLINK 0x1 /* vfs_link works */
#define VFS_CAP_FSYNC	 0x2 /* vfs_fsync reaches stable storage */
/* every operation is a network round trip: the VFS reads small files ahead at open */
#define VFS_CAP_REMOTE 0x4

/* Completion: rc >= 0 success (bytes for read/write), < 0 an SMBG_E* error. msg, when not
 * NULL, explains the error better than smbg_strerror(rc) (a policy refusal such as "cache
 * mode off: ..." or the server's message); borrowed for the duration of the callback. */
typedef void (*vfs_cb)(void *priv, int rc, const char *msg);

/* ---- The shared VFS ---- */

/* remote is an smb:// URL or a local directory. opts is copied. On failure returns NULL and
 * writes a one-line reason into err. */
struct vfs *vfs_new(const char *remote, const struct vfs_opts *opts, char *err, size_t errlen);
/* All vfs_conns must be freed first. NULL is a no-op. */
void vfs_free(struct vfs *v);
const struct vfs_opts *vfs_options(const struct vfs *v);
unsigned vfs_caps(const struct vfs *v);
/* "local" or "smb" */
const char *vfs_backend_name(const struct vfs *v);
/* Largest single read/write the backend likes (used for the SFTP limits reply). */
size_t vfs_io_size(const struct vfs *v);
/* Drops the whole directory cache. Async-signal-safe (only bumps a counter): the SIGHUP
 * handler calls it; the cache notices on its next use. */
void vfs_flush_caches(struct vfs *v);

/* ---- Per-connection state (one thread) ---- */

/* Opens the backend for this connection (connects to the SMB server). On failure returns
 * NULL and writes a reason into err. */
struct vfs_conn *vfs_conn_new(struct vfs *v, char *err, size_t errlen);
/* Closes every file still open on c (also in the backend: no server handle stays open; an
 * upload left open is abandoned, see vfs_file_abandon) and frees c. Operations still in
 * flight complete first (their callbacks run), by their deadlines at the latest; should the
 * backend still not answer, its connection is aborted (vfs_conn_abort). NULL is a no-op. */
void vfs_conn_free(struct vfs_conn *c);
struct vfs *vfs_conn_vfs(const struct vfs_conn *c);

/* Event-loop integration: fills up to max pollfds the loop must poll for c (the backend's
 * socket, the completion wake-up). Returns how many. */
int vfs_conn_pollfds(struct vfs_conn *c, struct pollfd *fds, int max);
/* Services the fds returned by vfs_conn_pollfds (with their revents) and runs every
 * completed callback. Returns 0, or < 0 when the backend connection has failed for good
 * (every pending callback has then run with an error). */
int vfs_conn_service(struct vfs_conn *c, const struct pollfd *fds, int n);
/* Runs the callbacks of completed operations (including ones completed while running). */
void vfs_conn_run(struct vfs_conn *c);
/* 1 when completed callbacks are waiting for vfs_conn_run (the loop must not sleep). */
int vfs_conn_has_completions(const struct vfs_conn *c);
/* Operations submitted and not yet completed. */
size_t vfs_conn_inflight(const struct vfs_conn *c);
/* Milliseconds until vfs_conn_run() must run again for a deadline (an operation's or the
 * backend's), -1 when there is none: the loop's poll timeout. */
int vfs_conn_timeout_ms(struct vfs_conn *c);
/* The one "poll until" loop: services c (polling its fds, waking up for deadlines) and runs
 * completions until cond(arg) holds (checked after every run). deadline_ms is absolute
 * (clock_now_ms(), util/clock.h), or < 0 for none. Returns 0 once cond holds,
 * SMBG_ETIMEDOUT when deadline_ms passes first, SMBG_EIO when nothing could complete any
 * more (no fd to poll, no deadline to wait for). Not from a callback. */
int vfs_conn_run_until(struct vfs_conn *c, int (*cond)(void *arg), void *arg, int64_t deadline_ms);
/* Ends the backend connection: every operation in flight completes with an error (from the
 * next vfs_conn_run), and later ones fail at once with why (copied; NULL: a default), unless
 * the backend heals itself (conn_heals: the SMB client reconnects), when later ones are
 * served over the new connection. The caller's buffers are then free again. */
void vfs_conn_abort(struct vfs_conn *c, const char *why);

/* Deadlines (DESIGN decision 13's companion, issue 8): every operation that waits for the
 * backend has one, vfs_opts.timeout seconds after it (or its current step) was submitted.
 * When it passes, the backend connection is ended (vfs_conn_abort): the late operation
 * completes with SMBG_ETIMEDOUT and the message "the SMB server did not answer within N s",
 * and nothing can complete into its buffers afterwards. The loop must wake up for this:
 * poll with vfs_conn_timeout_ms(). */

/* ---- Paths ---- */

/* Turns a client path into a VFS path: absolute paths start at the root, relative ones at
 * cwd (a VFS path); ".", empty components and trailing '/' vanish; ".." climbs but never
 * above the root. Returns the length, or SMBG_ENAME for an embedded NUL, a component longer
 * than 255 bytes or a result longer than outlen - 1. */
int vfs_path_normalize(const char *in, size_t inlen, const char *cwd, char *out, size_t outlen);
#define VFS_PATH_MAX 4096
/* The last component of a VFS path (borrowed from path), and the parent's length. */
const char *vfs_path_base(const char *path, size_t *parent_len);

/* ---- Operations ---- */

int vfs_stat(struct vfs_conn *c, const char *path, struct vfs_attr *out, vfs_cb cb, void *priv);
/* A listing of the directory (from the cache when fresh). *out receives a reference (caller
 * puts it). */
int vfs_readdir(struct vfs_conn *c, const char *path, struct vfs_dir **out, vfs_cb cb, void *priv);
int vfs_mkdir(struct vfs_conn *c, const char *path, vfs_cb cb, void *priv);
int vfs_rmdir(struct vfs_conn *c, const char *path, vfs_cb cb, void *priv);
int vfs_unlink(struct vfs_conn *c, const char *path, vfs_cb cb, void *priv);
int vfs_rename(struct vfs_conn *c, const char *from, const char *to, int flags, vfs_cb cb,
	       void *priv);
/* Hard link (only with VFS_CAP_HARDLINK; SMBG_ENOTSUP otherwise). */
int vfs_link(struct vfs_conn *c, const char *from, const char *to, vfs_cb cb, void *priv);
int vfs_setattr(struct vfs_conn *c, const char *path, const struct vfs_setattr *sa, vfs_cb cb,
		void *priv);
int vfs_statfs(struct vfs_conn *c, const char *path, struct vfs_statfs *out, vfs_cb cb, void *priv);
/* Hashes the file's content, streaming it from the backend with reads in flight. out
 * receives the digest (VFS_HASH_MAX bytes room), *outlen its length. */
int vfs_hash(struct vfs_conn *c, const char *path, enum vfs_hash_algo algo, uint8_t *out,
	     size_t *outlen, vfs_cb cb, void *priv);

/* Atomic uploads (cache mode off, without --inplace): a file opened for writing is written
 * under a temporary name in the same folder, ".NAME.XXXXXXXX.partial" (XXXXXXXX: a hash of
 * NAME; vfs_partial_name), hidden from listings, and renamed over path when it is closed.
 * Opened without VFS_O_TRUNC, an existing temporary is continued (a resumed upload; its size
 * is the file's size, also for vfs_stat of path while path itself does not exist); without
 * a temporary an existing path is written in place (append, resume of a complete file).
 * Temporaries older than VFS_PARTIAL_MAX_AGE are removed when their folder is listed.
 *
 * Opens path. The cache mode's rules apply (rclone's documented `off` semantics: a file
 * cannot be open for reading and writing at once, and is written sequentially: without
 * VFS_O_TRUNC the first write starts at 0 or at the size the file had when opened (a resumed
 * upload), every later one where the previous one ended). VFS_O_APPEND: every write goes to
 * the end of the file whatever its offset (as O_APPEND). *out receives the file (closed
 * with vfs_close). */
int vfs_open(struct vfs_conn *c, const char *path, int flags, struct vfs_file **out, vfs_cb cb,
	     void *priv);
/* rc = bytes read (short only at end of file), 0 at or past end of file. Any length; the
 * backend splits it as it needs. */
int vfs_read(struct vfs_conn *c, struct vfs_file *f, void *buf, size_t len, uint64_t off, vfs_cb cb,
	     void *priv);
/* rc = bytes written (all of them on success). off is ignored with VFS_O_APPEND. */
int vfs_write(struct vfs_conn *c, struct vfs_file *f, const void *buf, size_t len, uint64_t off,
	      vfs_cb cb, void *priv);
int vfs_fstat(struct vfs_conn *c, struct vfs_file *f, struct vfs_attr *out, vfs_cb cb, void *priv);
int vfs_fsetattr(struct vfs_conn *c, struct vfs_file *f, const struct vfs_setattr *sa, vfs_cb cb,
		 void *priv);
int vfs_fsync(struct vfs_conn *c, struct vfs_file *f, vfs_cb cb, void *priv);
/* Closes and frees f (also when the close fails). The callback still runs once. An atomic
 * upload (see vfs_open) is renamed over its target here, unless a write failed or
 * vfs_file_abandon() was called: its data then stays under the temporary name. */
int vfs_close(struct vfs_conn *c, struct vfs_file *f, vfs_cb cb, void *priv);
/* The client went away without closing f: vfs_close keeps an atomic upload's data under its
 * temporary name instead of renaming it over the target. */
void vfs_file_abandon(struct vfs_file *f);
/* The VFS path f was opened with (borrowed until vfs_close). */
const char *vfs_file_path(const struct vfs_file *f);
/* VFS_O_* flags in effect (after the cache mode's rules). */
int vfs_file_flags(const struct vfs_file *f);

#define VFS_PARTIAL_MAX_AGE (24 * 3600) /* seconds */
/* Writes the temporary name of an upload of the VFS path `path` into out (a VFS path).
 * Returns its length or SMBG_ENAME when it does not fit. */
int vfs_partial_name(const char *path, char *out, size_t outlen);
/* 1 when name (one path component) is such a temporary name. */
int vfs_is_partial_name(const char *name, size_t len);

/* ---- Blocking helpers (submit + run the loop for c until done; not from a callback) ---- */
int vfs_wait(struct vfs_conn *c, int *done);

#endif
