/* What the VFS's files share (vfs.c, vfs_conn.c, vfs_path.c, vfs_file.c, vfs_upload.c):
 * the structs behind the opaque handles of vfs.h and the helpers one file gives the others.
 * Internal to src/vfs/; backends see only backend.h.
 *
 * Ownership: a struct vfs owns its backend state and dircache; a struct vfs_conn owns its
 * backend connection, its ops (live, queued and the free list) and the files left open; a
 * struct vfs_file is shared by its owner and the ops in flight on it (refs, vfs_file_put). */
#ifndef SMBGATE_VFS_INTERNAL_H
#define SMBGATE_VFS_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "vfs/backend.h"
#include "vfs/dircache.h"
#include "vfs/vfs.h"

#define OP_MSG_MAX 200

struct vfs {
	struct vfs_opts o;
	const struct vfs_backend_ops *ops;
	void *bs;
	struct dircache *dc; /* NULL when --dir-cache-time 0 */
	struct timespec start;
	atomic_uint gen; /* bumped by every change made through this VFS, on any connection */
};

/* When something was learned from the server: it holds while vfs_fresh_ok(). ms 0: nothing. */
struct fresh {
	int64_t ms; /* CLOCK_MONOTONIC */
	unsigned gen;
};

struct vfs_conn {
	struct vfs *v;
	void *bc;
	struct vfs_op *done_head, *done_tail;
	/* ops waiting for the backend, oldest deadline first (deadline = submit + timeout, and
	 * the clock only moves forward, so appending keeps the order) */
	struct vfs_op *live_head, *live_tail;
	int timeout_ms;	       /* 0: no deadlines */
	int aborted;	       /* vfs_conn_abort ran: what fails now fails with abort_msg */
	int64_t next_tick;     /* the backend's conn_tick is due */
	uint64_t started;      /* operations submitted, ever */
	uint64_t started_tick; /* ... at the last conn_tick */
	char abort_msg[OP_MSG_MAX];
	struct vfs_op *free_ops;
	size_t nfree;
	size_t inflight;
	struct vfs_file *files; /* open files, closed by vfs_conn_free */
	int dead;
};

struct vfs_file {
	struct vfs_file *prev, *next;
	struct vfs_conn *c;
	void *fh;
	char *path;
	int flags;     /* VFS_O_* in effect; APPEND is the VFS's, never the backend's */
	uint64_t wend; /* end of the file as this handle knows it: size at open + writes */
	uint64_t wpos; /* next offset a sequential writer may write (after its first write) */
	uint64_t rpos; /* next offset a --no-seek reader may read */
	int wrote;
	unsigned pending_times; /* VFS_SET_ATIME/MTIME to apply at close */
	struct timespec atime, mtime;
	int refs;	  /* the handle's owner, plus reads and the read-ahead in flight */
	int closed;	  /* vfs_close called: nothing more is learned or started */
	int abandon;	  /* vfs_file_abandon: the client went away */
	char *tmp_path;	  /* an atomic upload: written here, renamed over path at close */
	int renamed;	  /* the handle was renamed over path (frename) */
	int write_failed; /* a write failed: the upload is not complete */
	/* what the server said lately (see the top of vfs.c) */
	struct vfs_battr oattr; /* the attributes the open returned */
	struct fresh oattr_fr;
	uint64_t eof_off; /* the file ended here when a read looked */
	struct fresh eof_fr;
	/* read-ahead of a small file: data [0, pf_got); pf_eof: the file ended there */
	uint8_t *pf_buf;
	size_t pf_got;
	int pf_pending, pf_eof;
	struct fresh pf_fr;
	struct vfs_op *pf_wait_head, *pf_wait_tail; /* reads waiting for the read-ahead */
	struct vfs_op *close_wait;		    /* a close waiting for it */
};

/* One operation in flight. `then` lets the VFS chain backend steps: it runs from
 * vfs_conn_run when a step completes and returns 1 when it submitted the next step, 0 when
 * the operation is finished (its callback then runs). */
struct vfs_op {
	struct vfs_op *next;
	struct vfs_op *lprev, *lnext; /* the live list */
	int64_t deadline;
	int live;	 /* on the live list */
	int queued;	 /* on the done queue */
	int no_deadline; /* waits for other ops that have their own (vfs_hash) */
	struct vfs_conn *c;
	vfs_cb cb;
	void *priv;
	int rc;
	int step;
	char msg[OP_MSG_MAX];
	int (*then)(struct vfs_op *op);
	struct vfs_file *f;
	char *path;	     /* owned copy when a step needs it */
	char *path2;	     /* owned copy (rename target) */
	struct vfs_battr ba; /* backend attributes (stat, fstat) */
	struct vfs_attr *attr_out;
	struct vfs_dir *dir; /* listing being built */
	struct vfs_dir **dir_out;
	struct vfs_file **file_out;
	struct vfs_statfs *statfs_out;
	struct vfs_setattr sa;
	void *fh;	 /* a file the chain opened itself */
	int saved_rc;	 /* an error kept across a closing step */
	char *saved_msg; /* and its message (owned) */
	void *buf;	 /* read: where the data goes, how much, from where */
	size_t len;
	uint64_t off;
	struct fresh fr; /* when a read was sent */
	/* stat in atomic mode: the stat of the temporary name, in flight beside the target's */
	struct vfs_op *parent; /* the child's */
	struct vfs_battr ba2;
	int rc2;
	int pending2; /* the child has not completed */
	int waiting2; /* the parent completed first and waits for it */
};

static inline int vfs_is_root(const char *path)
{
	return path[0] == '\0';
}

#define CHECK_RW(c, op)                                                                            \
	do {                                                                                       \
		if ((c)->v->o.read_only)                                                           \
			return vfs_op_fail(op, SMBG_EROFS, "read-only (--read-only)");             \
	} while (0)

/* ---- vfs.c: the shared VFS, listings, attributes as shown, what the server said lately */

struct vfs_dir *vfs_dir_new(void);
void vfs_present_mode(const struct vfs *v, struct vfs_attr *a, int is_dir);
void vfs_present(const struct vfs *v, const struct vfs_battr *b, struct vfs_attr *a);
void vfs_changed(struct vfs *v);
struct fresh vfs_fresh_now(const struct vfs *v);
int vfs_fresh_ok(const struct vfs *v, const struct fresh *f);
void vfs_cache_invalidate_parent(struct vfs *v, const char *path);
/* strdup; NULL without memory */
char *vfs_xstrdup(const char *s);

/* ---- vfs_conn.c: operations, their deadlines and the completion queue */

/* A new op on c (counted in flight, its deadline running); NULL without memory. */
struct vfs_op *vfs_op_new(struct vfs_conn *c, vfs_cb cb, void *priv);
void vfs_op_free(struct vfs_op *op);
int vfs_op_fail(struct vfs_op *op, int rc, const char *msg);
void vfs_live_del(struct vfs_op *op);
void vfs_op_save(struct vfs_op *op);
void vfs_op_restore(struct vfs_op *op);

/* ---- vfs_file.c */

void vfs_file_put(struct vfs_file *f);
/* The end of vfs_open's chain: the file is open (or failed). */
int vfs_open_then(struct vfs_op *op);

/* ---- vfs_upload.c: atomic uploads */

int vfs_atomic_mode(const struct vfs *v);
char *vfs_partial_of(const char *path);
void vfs_partials_hide(struct vfs_conn *c, const char *dir, struct vfs_dir *d);
/* vfs_open of a file for writing in atomic mode: op->f is the new file (bflags its backend
 * flags); opens the temporary (or the target) and ends in vfs_open_then. */
int vfs_upload_open(struct vfs_op *op, const char *path, int bflags);

#endif
