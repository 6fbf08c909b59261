/* The VFS backend ops table (DESIGN.md decision 6). Internal to src/vfs/.
 *
 * A backend keeps shared state (one per struct vfs, used from many threads: it must be
 * read-only after init or locked) and per-connection state (one per struct vfs_conn, used
 * from that connection's thread only).
 *
 * Every operation receives a struct vfs_op and calls vfs_op_done(op, rc, msg) exactly once:
 * inside the call (a synchronous backend) or later from conn_service (an asynchronous one).
 * The VFS defers the caller's callback either way. Buffers and out-pointers are borrowed
 * until vfs_op_done.
 */
#ifndef SMBGATE_VFS_BACKEND_H
#define SMBGATE_VFS_BACKEND_H

#include "vfs/vfs.h"

struct vfs_op;

/* Attributes as a backend knows them; the VFS applies the configured owner and modes. */
struct vfs_battr {
	uint64_t size;
	int is_dir;
	uint32_t nlink;
	struct timespec atime, mtime;
};

/* Completes op. msg (may be NULL) is copied. Call on the connection's thread. */
void vfs_op_done(struct vfs_op *op, int rc, const char *msg);

/* Adds an entry to a listing being built (readdir). Returns 0 or SMBG_ENOMEM. */
int vfs_dir_add(struct vfs_dir *d, const char *name, size_t name_len, const struct vfs_battr *a);

/* Backend open flags: VFS_O_* after the cache-mode rules (APPEND never reaches a backend). A
 * backend opens regular files only (SMBG_EISDIR for a directory). VFS_BO_RENAME (backends
 * with frename only): the handle may be renamed. */
#define VFS_BO_RENAME 0x40

struct vfs_backend_ops {
	const char *name;
	/* Shared state for remote; NULL return with a reason in err. */
	void *(*init)(const char *remote, const struct vfs_opts *o, char *err, size_t errlen);
	void (*fini)(void *bs);
	unsigned (*caps)(void *bs);
	size_t (*io_size)(void *bs);

	/* Per-connection state. */
	void *(*conn_open)(void *bs, char *err, size_t errlen);
	/* Closes the connection; every handle was closed before. */
	void (*conn_close)(void *bc);
	/* The fd the loop polls and its events (returns 0 when there is none). */
	int (*conn_pollfd)(void *bc, struct pollfd *pfd);
	/* Does ready I/O, completing ops. < 0 when the connection is dead (ops all completed). */
	int (*conn_service)(void *bc, short revents);
	/* Optional: ends the connection; every pending op completes (with an error) from the
	 * next conn_service at the latest, or from inside this call. */
	void (*conn_abort)(void *bc);
	/* Optional: 1 while requests the VFS does not track (closes sent without waiting) are
	 * still pending: vfs_conn_free lets them finish. */
	int (*conn_busy)(void *bc);
	/* Optional: 1 when, after conn_abort, the connection re-establishes itself (the SMB
	 * client's reconnect): later operations are served, only those in flight failed. */
	int (*conn_heals)(void *bc);
	/* Optional: ms until conn_service must run for a deadline of the backend, -1 none. */
	int (*conn_timeout_ms)(void *bc);
	/* Optional: called about once a second from the connection's loop; active says whether
	 * operations were in flight or submitted since the last call (keep-alive of idle
	 * connections). */
	void (*conn_tick)(void *bc, int active);

	void (*stat)(void *bc, struct vfs_op *op, const char *path, struct vfs_battr *out);
	void (*readdir)(void *bc, struct vfs_op *op, const char *path, struct vfs_dir *out);
	/* attr receives the file's attributes as the open found them (read by the VFS only when
	 * the open succeeded): a server's open reply carries them, so they cost nothing. */
	void (*open)(void *bc, struct vfs_op *op, const char *path, int flags, void **fh,
		     struct vfs_battr *attr);
	void (*read)(void *bc, struct vfs_op *op, void *fh, void *buf, size_t len, uint64_t off);
	void (*write)(void *bc, struct vfs_op *op, void *fh, const void *buf, size_t len,
		      uint64_t off);
	void (*fstat)(void *bc, struct vfs_op *op, void *fh, struct vfs_battr *out);
	void (*truncate)(void *bc, struct vfs_op *op, void *fh, uint64_t size);
	/* Sets times (VFS_SET_ATIME/MTIME of sa) on fh when fh != NULL, else on path. */
	void (*setattr)(void *bc, struct vfs_op *op, const char *path, void *fh,
			const struct vfs_setattr *sa);
	void (*fsync)(void *bc, struct vfs_op *op, void *fh);
	/* Optional: renames the open file fh (opened with VFS_BO_RENAME) to path `to`, over an
	 * existing file: an atomic upload's commit in one request. NULL: the VFS renames by
	 * path after closing. */
	void (*frename)(void *bc, struct vfs_op *op, void *fh, const char *to);
	/* Closes and frees fh, also on failure. */
	void (*close)(void *bc, struct vfs_op *op, void *fh);
	/* Optional: starts closing fh and frees it without waiting for the server's answer;
	 * whatever is submitted on this connection afterwards reaches the server after the close.
	 * NULL: the VFS uses close and waits. */
	void (*close_nowait)(void *bc, void *fh);
	void (*mkdir)(void *bc, struct vfs_op *op, const char *path);
	void (*rmdir)(void *bc, struct vfs_op *op, const char *path);
	void (*unlink)(void *bc, struct vfs_op *op, const char *path);
	void (*rename)(void *bc, struct vfs_op *op, const char *from, const char *to, int replace);
	/* Optional (VFS_CAP_HARDLINK). */
	void (*link)(void *bc, struct vfs_op *op, const char *from, const char *to);
	void (*statfs)(void *bc, struct vfs_op *op, struct vfs_statfs *out);
	/* Optional: a server-side hash. NULL: the VFS reads the file and hashes it. */
	void (*hash)(void *bc, struct vfs_op *op, const char *path, enum vfs_hash_algo algo,
		     uint8_t *out, size_t *outlen);
};

/* vfs_new with an explicit backend (tests wrap the local one). */
struct vfs *vfs_new_with(const struct vfs_backend_ops *ops, const char *remote,
			 const struct vfs_opts *opts, char *err, size_t errlen);

extern const struct vfs_backend_ops vfs_backend_local;
extern const struct vfs_backend_ops vfs_backend_smb;

/* Hashes path by reading it through the VFS with reads in flight (vfs/hash.c); completes
 * op. */
void vfs_hash_generic(struct vfs_conn *c, struct vfs_op *op, const char *path,
		      enum vfs_hash_algo algo, uint8_t *out, size_t *outlen);

/* errno -> SMBG_E* (for backends that call the OS). */
int vfs_err_from_errno(int e);

#endif
