/* The VFS core: options and policy (read-only, cache mode `off`, no-seek, perms), the
 * directory cache, and the completion queue that makes every callback run from
 * vfs_conn_run() on the connection's own thread.
 *
 * Round trips a file handle saves (each costs a server round trip on the SMB backend):
 * - what the server said about a file moments ago is still the answer: the attributes its
 *   open returned answer the first FSTAT, and an end of file a read found answers the next
 *   read at or past it. "Moments" is FRESH_MS, and nothing changed through the VFS meanwhile
 *   (struct vfs's gen, bumped by every change on any connection). Without a lease nothing
 *   orders another SMB client's change against our requests anyway; each answer is used
 *   once, so a reader polling the end of a growing file asks the server the next time.
 * - a small file opened for reading is read ahead at open (VFS_CAP_REMOTE backends), so the
 *   client's first READ finds its data here;
 * - a file opened for reading only is closed without waiting for the server (close_nowait):
 *   such a close cannot fail in a way the client could act on, and the next request on the
 *   connection reaches the server after it. */
#include "vfs/vfs.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"
#include "vfs/backend.h"
#include "vfs/dircache.h"

#define OP_MSG_MAX    200
#define OP_FREE_MAX   256
#define DIRCACHE_DIRS 4096
#define FRESH_MS      1000	  /* what the server said this recently still holds */
#define PREFETCH_MAX  (64 * 1024) /* files up to this size are read ahead at open */

struct vfs {
	struct vfs_opts o;
	const struct vfs_backend_ops *ops;
	void *bs;
	struct dircache *dc; /* NULL when --dir-cache-time 0 */
	struct timespec start;
	atomic_uint gen; /* bumped by every change made through this VFS, on any connection */
};

/* When something was learned from the server: it holds while fresh_ok(). ms 0: nothing. */
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
	/* what the server said lately (see the top of the file) */
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

/* ---------------------------------------------------------------------------------------- */

void vfs_opts_default(struct vfs_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->uid = getuid();
	o->gid = getgid();
	mode_t m = umask(022);
	umask(m);
	o->umask = m;
	o->file_perms = 0666;
	o->dir_perms = 0777;
	o->dir_cache_time = 300;
	o->cache_mode = VFS_CACHE_OFF;
	o->timeout = 30;
}

int vfs_err_from_errno(int e)
{
	switch (e) {
	case 0:
		return 0;
	case ENOMEM:
		return SMBG_ENOMEM;
	case EINVAL:
		return SMBG_EINVAL;
	case EACCES:
		return SMBG_EACCES;
	case EPERM:
		return SMBG_EPERM;
	case ENOENT:
		return SMBG_ENOENT;
	case EEXIST:
		return SMBG_EEXIST;
	case ENOTDIR:
		return SMBG_ENOTDIR;
	case EISDIR:
		return SMBG_EISDIR;
	case ENOTEMPTY:
		return SMBG_ENOTEMPTY;
	case ENOSPC:
	case EDQUOT:
		return SMBG_ENOSPC;
	case EROFS:
		return SMBG_EROFS;
	case EBUSY:
	case ETXTBSY:
		return SMBG_EBUSY;
	case EXDEV: /* RESOLVE_BENEATH: the path leaves the root */
	case ELOOP: /* symlink loop, or a symlink where none may be */
	case ENAMETOOLONG:
		return SMBG_ENAME;
	case EBADF:
		return SMBG_EBADF;
	case ENOSYS:
	case EOPNOTSUPP:
		return SMBG_ENOTSUP;
	case ETIMEDOUT:
		return SMBG_ETIMEDOUT;
	default:
		return SMBG_EIO;
	}
}

/* ---- listings ---- */

struct vfs_dir *vfs_dir_get(struct vfs_dir *d)
{
	if (d)
		__atomic_fetch_add(&d->refs, 1, __ATOMIC_RELAXED);
	return d;
}

void vfs_dir_put(struct vfs_dir *d)
{
	if (!d)
		return;
	if (__atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	free(d->ents);
	free(d->names);
	free(d);
}

static struct vfs_dir *dir_new(void)
{
	struct vfs_dir *d = calloc(1, sizeof(*d));
	if (d)
		d->refs = 1;
	return d;
}

int vfs_dir_add(struct vfs_dir *d, const char *name, size_t name_len, const struct vfs_battr *a)
{
	/* Names the SFTP client could not use as a path component are skipped, as are . and .. */
	if (name_len == 0 || memchr(name, '/', name_len) || memchr(name, '\0', name_len) ||
	    (name_len == 1 && name[0] == '.') ||
	    (name_len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	if (name_len > UINT32_MAX / 2 || d->names_len > UINT32_MAX / 2)
		return SMBG_ETOOBIG;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct vfs_dirent *e = realloc(d->ents, cap * sizeof(*e));
		if (!e)
			return SMBG_ENOMEM;
		d->ents = e;
		d->cap = cap;
	}
	if (name_len + 1 > d->names_cap - d->names_len) {
		size_t cap = d->names_cap ? d->names_cap : 1024;
		while (name_len + 1 > cap - d->names_len)
			cap *= 2;
		char *p = realloc(d->names, cap);
		if (!p)
			return SMBG_ENOMEM;
		d->names = p;
		d->names_cap = cap;
	}
	struct vfs_dirent *e = &d->ents[d->n++];
	e->name_off = (uint32_t)d->names_len;
	e->name_len = (uint32_t)name_len;
	memcpy(d->names + d->names_len, name, name_len);
	d->names[d->names_len + name_len] = '\0';
	d->names_len += name_len + 1;
	memset(&e->attr, 0, sizeof(e->attr));
	e->attr.size = a->size;
	e->attr.mode = a->is_dir ? S_IFDIR : S_IFREG;
	e->attr.nlink = a->nlink;
	e->attr.atime = a->atime;
	e->attr.mtime = a->mtime;
	return 0;
}

static int dirent_cmp(const void *x, const void *y, void *ctx)
{
	const char *names = ctx;
	const struct vfs_dirent *a = x, *b = y;
	return strcmp(names + a->name_off, names + b->name_off);
}

/* ---- attributes as shown ---- */

static void present_mode(const struct vfs *v, struct vfs_attr *a, int is_dir)
{
	const struct vfs_opts *o = &v->o;
	if (is_dir)
		a->mode = S_IFDIR | (o->dir_perms & ~o->umask & 07777);
	else
		a->mode = S_IFREG | (o->file_perms & ~o->umask & 07777);
	a->uid = o->uid;
	a->gid = o->gid;
	if (a->nlink == 0)
		a->nlink = 1;
	if (o->no_modtime) {
		a->mtime = v->start;
		a->atime = v->start;
	} else if (a->atime.tv_sec == 0 && a->atime.tv_nsec == 0) {
		a->atime = a->mtime;
	}
}

static void present(const struct vfs *v, const struct vfs_battr *b, struct vfs_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->size = b->size;
	a->nlink = b->nlink;
	a->atime = b->atime;
	a->mtime = b->mtime;
	present_mode(v, a, b->is_dir);
}

/* ---- what the server said lately ---- */

/* Something changes through the VFS: what any connection learned before may be out of date. */
static void vfs_changed(struct vfs *v)
{
	atomic_fetch_add_explicit(&v->gen, 1, memory_order_relaxed);
}

/* Now, as the time a request is sent (what it finds is at least this fresh). */
static struct fresh fresh_now(const struct vfs *v)
{
	struct fresh f = {clock_now_ms(), atomic_load_explicit(&v->gen, memory_order_relaxed)};
	if (f.ms == 0)
		f.ms = 1;
	return f;
}

static int fresh_ok(const struct vfs *v, const struct fresh *f)
{
	return f->ms != 0 && clock_now_ms() - f->ms <= FRESH_MS &&
	       atomic_load_explicit(&v->gen, memory_order_relaxed) == f->gen;
}

/* ---- the shared VFS ---- */

static int is_smb_url(const char *remote)
{
	return strncmp(remote, "smb://", 6) == 0;
}

struct vfs *vfs_new(const char *remote, const struct vfs_opts *opts, char *err, size_t errlen)
{
	return vfs_new_with(is_smb_url(remote) ? &vfs_backend_smb : &vfs_backend_local, remote,
			    opts, err, errlen);
}

struct vfs *vfs_new_with(const struct vfs_backend_ops *ops, const char *remote,
			 const struct vfs_opts *opts, char *err, size_t errlen)
{
	struct vfs *v = calloc(1, sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	v->o = *opts;
	v->ops = ops;
	atomic_init(&v->gen, 0);
	clock_gettime(CLOCK_REALTIME, &v->start);
	if (v->o.dir_cache_time > 0) {
		v->dc = dircache_new(v->o.dir_cache_time, DIRCACHE_DIRS);
		if (!v->dc) {
			snprintf(err, errlen, "out of memory");
			free(v);
			return NULL;
		}
	}
	v->bs = v->ops->init(remote, &v->o, err, errlen);
	if (!v->bs) {
		dircache_free(v->dc);
		free(v);
		return NULL;
	}
	return v;
}

void vfs_free(struct vfs *v)
{
	if (!v)
		return;
	v->ops->fini(v->bs);
	dircache_free(v->dc);
	free(v);
}

const struct vfs_opts *vfs_options(const struct vfs *v)
{
	return &v->o;
}

unsigned vfs_caps(const struct vfs *v)
{
	return v->ops->caps(v->bs);
}

const char *vfs_backend_name(const struct vfs *v)
{
	return v->ops->name;
}

size_t vfs_io_size(const struct vfs *v)
{
	return v->ops->io_size(v->bs);
}

void vfs_flush_caches(struct vfs *v)
{
	if (v->dc)
		dircache_request_flush(v->dc);
}

static void cache_invalidate_parent(struct vfs *v, const char *path)
{
	if (!v->dc)
		return;
	size_t plen;
	(void)vfs_path_base(path, &plen);
	dircache_invalidate(v->dc, path, plen);
}

/* ---- connections and the completion queue ---- */

struct vfs_conn *vfs_conn_new(struct vfs *v, char *err, size_t errlen)
{
	struct vfs_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->v = v;
	c->timeout_ms = v->o.timeout > 0 ? v->o.timeout * 1000 : 0;
	c->bc = v->ops->conn_open(v->bs, err, errlen);
	if (!c->bc) {
		free(c);
		return NULL;
	}
	return c;
}

struct vfs *vfs_conn_vfs(const struct vfs_conn *c)
{
	return c->v;
}

/* ---- deadlines ---- */

static void live_del(struct vfs_op *op)
{
	struct vfs_conn *c = op->c;
	if (!op->live)
		return;
	if (op->lprev)
		op->lprev->lnext = op->lnext;
	else
		c->live_head = op->lnext;
	if (op->lnext)
		op->lnext->lprev = op->lprev;
	else
		c->live_tail = op->lprev;
	op->lprev = op->lnext = NULL;
	op->live = 0;
}

/* op (or its next step) now waits for the backend, until now + the timeout. */
static void live_add(struct vfs_op *op)
{
	struct vfs_conn *c = op->c;
	live_del(op);
	if (!c->timeout_ms || op->no_deadline)
		return;
	op->deadline = clock_now_ms() + c->timeout_ms;
	op->lprev = c->live_tail;
	op->lnext = NULL;
	if (c->live_tail)
		c->live_tail->lnext = op;
	else
		c->live_head = op;
	c->live_tail = op;
	op->live = 1;
}

void vfs_conn_abort(struct vfs_conn *c, const char *why)
{
	if (c->aborted)
		return;
	c->aborted = 1;
	snprintf(c->abort_msg, sizeof(c->abort_msg), "%s",
		 why ? why : "the connection to the server was ended");
	if (c->v->ops->conn_abort)
		c->v->ops->conn_abort(c->bc); /* what was in flight has failed, with abort_msg */
	if (c->v->ops->conn_heals && c->v->ops->conn_heals(c->bc)) {
		c->aborted = 0; /* later operations reconnect and get deadlines of their own */
		return;
	}
	c->dead = 1;
}

/* An operation waited past its deadline: end the backend connection, so that it (and every
 * other one in flight) completes now and nothing writes into its buffers later. */
static void conn_check_deadlines(struct vfs_conn *c)
{
	struct vfs_op *op = c->live_head;
	if (!op || c->aborted || op->deadline > clock_now_ms())
		return;
	char why[OP_MSG_MAX];
	snprintf(why, sizeof(why), "the %s server did not answer within %d s",
		 strcmp(c->v->ops->name, "smb") == 0 ? "SMB" : c->v->ops->name,
		 c->timeout_ms / 1000);
	log_warn("vfs: %s: ending that connection (%zu operations in flight fail)", why,
		 c->inflight);
	vfs_conn_abort(c, why);
}

#define TICK_MS 1000

/* The backend's keep-alive, about once a second. */
static void conn_tick(struct vfs_conn *c)
{
	if (!c->v->ops->conn_tick || c->dead)
		return;
	int64_t now = clock_now_ms();
	if (now < c->next_tick)
		return;
	c->next_tick = now + TICK_MS;
	int active = c->inflight > 0 || c->started != c->started_tick;
	c->started_tick = c->started;
	c->v->ops->conn_tick(c->bc, active);
}

int vfs_conn_timeout_ms(struct vfs_conn *c)
{
	int t = -1;
	if (c->v->ops->conn_tick && !c->dead) {
		int64_t d = c->next_tick - clock_now_ms();
		t = d < 0 ? 0 : d > TICK_MS ? TICK_MS : (int)d;
	}
	if (c->live_head && !c->aborted) {
		int64_t d = c->live_head->deadline - clock_now_ms();
		int dl = d < 0 ? 0 : d > INT_MAX ? INT_MAX : (int)d;
		if (t < 0 || dl < t)
			t = dl;
	}
	if (c->v->ops->conn_timeout_ms && !c->dead) {
		int b = c->v->ops->conn_timeout_ms(c->bc);
		if (b >= 0 && (t < 0 || b < t))
			t = b;
	}
	return t;
}

static struct vfs_op *op_new(struct vfs_conn *c, vfs_cb cb, void *priv)
{
	struct vfs_op *op = c->free_ops;
	if (op) {
		c->free_ops = op->next;
		c->nfree--;
	} else {
		op = malloc(sizeof(*op));
		if (!op)
			return NULL;
	}
	op->next = NULL;
	op->c = c;
	op->cb = cb;
	op->priv = priv;
	op->rc = 0;
	op->step = 0;
	op->msg[0] = '\0';
	op->then = NULL;
	op->f = NULL;
	op->path = NULL;
	op->path2 = NULL;
	op->attr_out = NULL;
	op->dir = NULL;
	op->dir_out = NULL;
	op->file_out = NULL;
	op->statfs_out = NULL;
	op->fh = NULL;
	op->saved_rc = 0;
	op->saved_msg = NULL;
	memset(&op->sa, 0, sizeof(op->sa));
	op->buf = NULL;
	op->len = 0;
	op->off = 0;
	op->fr.ms = 0;
	op->fr.gen = 0;
	op->live = 0;
	op->queued = 0;
	op->no_deadline = 0;
	op->parent = NULL;
	op->rc2 = SMBG_ENOENT;
	op->pending2 = 0;
	op->waiting2 = 0;
	op->lprev = op->lnext = NULL;
	c->inflight++;
	c->started++;
	live_add(op);
	return op;
}

static void op_free(struct vfs_op *op)
{
	struct vfs_conn *c = op->c;
	live_del(op);
	free(op->path);
	free(op->path2);
	free(op->saved_msg);
	c->inflight--;
	if (c->nfree < OP_FREE_MAX) {
		op->next = c->free_ops;
		c->free_ops = op;
		c->nfree++;
	} else {
		free(op);
	}
}

void vfs_op_done(struct vfs_op *op, int rc, const char *msg)
{
	struct vfs_conn *c = op->c;
	live_del(op);
	op->queued = 1;
	/* after vfs_conn_abort, the connection's failure is said as why it was ended */
	if (c->aborted && (rc == SMBG_ECLOSED || rc == SMBG_EIO || rc == SMBG_ETIMEDOUT ||
			   rc == SMBG_ECANCELED)) {
		rc = SMBG_ETIMEDOUT;
		msg = c->abort_msg;
	}
	op->rc = rc;
	if (msg)
		snprintf(op->msg, sizeof(op->msg), "%s", msg);
	else
		op->msg[0] = '\0';
	op->next = NULL;
	if (c->done_tail)
		c->done_tail->next = op;
	else
		c->done_head = op;
	c->done_tail = op;
}

/* Completes op with a policy refusal, through the queue like any other completion. */
static int op_fail(struct vfs_op *op, int rc, const char *msg)
{
	vfs_op_done(op, rc, msg);
	return 0;
}

void vfs_conn_run(struct vfs_conn *c)
{
	struct vfs_op *op;
	conn_check_deadlines(c);
	conn_tick(c);
	while ((op = c->done_head) != NULL) {
		c->done_head = op->next;
		if (!c->done_head)
			c->done_tail = NULL;
		op->next = NULL;
		op->queued = 0;
		if (op->then && op->then(op)) {
			/* a next step is under way (or done already: then it is queued again) */
			if (!op->queued)
				live_add(op);
			continue;
		}
		if (op->cb)
			op->cb(op->priv, op->rc, op->msg[0] ? op->msg : NULL);
		op_free(op);
	}
}

int vfs_conn_has_completions(const struct vfs_conn *c)
{
	return c->done_head != NULL;
}

size_t vfs_conn_inflight(const struct vfs_conn *c)
{
	return c->inflight;
}

int vfs_conn_pollfds(struct vfs_conn *c, struct pollfd *fds, int max)
{
	if (max < 1 || !c->v->ops->conn_pollfd || c->dead)
		return 0;
	fds[0].revents = 0;
	return c->v->ops->conn_pollfd(c->bc, &fds[0]) > 0 ? 1 : 0;
}

int vfs_conn_service(struct vfs_conn *c, const struct pollfd *fds, int n)
{
	int rc = 0;
	if (n > 0 && c->v->ops->conn_service && !c->dead) {
		rc = c->v->ops->conn_service(c->bc, fds[0].revents);
		if (rc < 0)
			c->dead = 1;
	}
	vfs_conn_run(c);
	return rc;
}

int vfs_conn_run_until(struct vfs_conn *c, int (*cond)(void *arg), void *arg, int64_t deadline_ms)
{
	for (;;) {
		vfs_conn_run(c);
		if (cond(arg))
			return 0;
		if (vfs_conn_has_completions(c))
			continue;
		int64_t now = clock_now_ms();
		if (deadline_ms >= 0 && now >= deadline_ms)
			return SMBG_ETIMEDOUT;
		struct pollfd fds[4];
		int n = vfs_conn_pollfds(c, fds, 4);
		if (vfs_conn_has_completions(c))
			continue; /* the pollfd step may have completed something */
		int t = vfs_conn_timeout_ms(c);
		if (n == 0 && (t < 0 || !c->live_head))
			return SMBG_EIO; /* nothing could ever complete it (a tick would not) */
		if (deadline_ms >= 0 && (t < 0 || deadline_ms - now < t))
			t = (int)(deadline_ms - now);
		int r = poll(fds, (nfds_t)n, t);
		if (r < 0 && errno != EINTR)
			return SMBG_EIO;
		if (r > 0)
			(void)vfs_conn_service(c, fds, n);
	}
}

static int flag_set(void *arg)
{
	return *(int *)arg != 0;
}

int vfs_wait(struct vfs_conn *c, int *done)
{
	/* no deadline of its own: every operation has one */
	return vfs_conn_run_until(c, flag_set, done, -1);
}

static void file_unlink(struct vfs_file *f)
{
	struct vfs_conn *c = f->c;
	if (f->prev)
		f->prev->next = f->next;
	else
		c->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->prev = f->next = NULL;
}

/* Drops one reference; frees at zero. */
static void file_put(struct vfs_file *f)
{
	if (!f || --f->refs > 0)
		return;
	free(f->pf_buf);
	free(f->path);
	free(f->tmp_path);
	free(f);
}

/* Nothing in flight, in the VFS or (closes sent without waiting) in the backend. */
static int conn_quiet(void *arg)
{
	struct vfs_conn *c = arg;
	return c->inflight == 0 &&
	       (c->dead || !c->v->ops->conn_busy || !c->v->ops->conn_busy(c->bc));
}

/* Runs the loop until nothing is in flight. Bounded: the operations' own deadlines end a
 * silent connection; should the backend still not answer, it is aborted. */
static void conn_drain(struct vfs_conn *c)
{
	int64_t wait = c->timeout_ms ? c->timeout_ms + 2000 : 30000;
	if (vfs_conn_run_until(c, conn_quiet, c, clock_now_ms() + wait) == 0)
		return;
	if (c->inflight || !c->dead) {
		vfs_conn_abort(c, "the connection was ended while operations were in flight");
		(void)vfs_conn_run_until(c, conn_quiet, c, clock_now_ms() + 1000);
	}
}

static void conn_close_done(void *priv, int rc, const char *msg)
{
	(void)rc;
	(void)msg;
	(*(size_t *)priv)--;
}

void vfs_conn_free(struct vfs_conn *c)
{
	if (!c)
		return;
	vfs_conn_run(c);
	/* Close what the caller left open, so that no backend handle outlives us. */
	size_t closing = 0;
	while (c->files) {
		struct vfs_file *f = c->files;
		vfs_file_abandon(f); /* the client did not close it: not a complete upload */
		if (vfs_close(c, f, conn_close_done, &closing) == 0)
			closing++;
		else
			break;
	}
	conn_drain(c);
	if (c->inflight) {
		/* a backend that breaks its contract: leak rather than free under it */
		log_error("vfs: %zu operations never completed; their memory is kept", c->inflight);
		return;
	}
	c->v->ops->conn_close(c->bc);
	while (c->free_ops) {
		struct vfs_op *op = c->free_ops;
		c->free_ops = op->next;
		free(op);
	}
	free(c);
}

/* ---- helpers for ops ---- */

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p)
		memcpy(p, s, n);
	return p;
}

/* Keeps op's error (and message) while a closing step runs; op_restore puts it back. */
static void op_save(struct vfs_op *op)
{
	op->saved_rc = op->rc;
	free(op->saved_msg);
	op->saved_msg = op->msg[0] ? xstrdup(op->msg) : NULL;
}

static void op_restore(struct vfs_op *op)
{
	op->rc = op->saved_rc;
	snprintf(op->msg, sizeof(op->msg), "%s", op->saved_msg ? op->saved_msg : "");
}

static int is_root(const char *path)
{
	return path[0] == '\0';
}

#define CHECK_RW(c, op)                                                                            \
	do {                                                                                       \
		if ((c)->v->o.read_only)                                                           \
			return op_fail(op, SMBG_EROFS, "read-only (--read-only)");                 \
	} while (0)

/* ---- stat ---- */

/* Uploads go to temporary names (vfs_open) unless --inplace or another cache mode. */
static int atomic_mode(const struct vfs *v)
{
	return v->o.cache_mode == VFS_CACHE_OFF && !v->o.inplace && !v->o.read_only;
}

/* A copy of path's temporary upload name (NULL without memory or room). */
static char *partial_of(const char *path)
{
	char *p = malloc(VFS_PATH_MAX);
	if (p && vfs_partial_name(path, p, VFS_PATH_MAX) >= 0)
		return p;
	free(p);
	return NULL;
}

/* The stat of a temporary name is back: hand it to the stat of the target. */
static int stat2_then(struct vfs_op *op)
{
	struct vfs_op *p = op->parent;
	op->parent = NULL;
	p->rc2 = op->rc;
	p->ba2 = op->ba;
	p->pending2 = 0;
	if (p->waiting2) { /* the target's answer came first: now both are here */
		p->waiting2 = 0;
		p->step = 1;
		vfs_op_done(p, p->saved_rc, p->saved_msg); /* the target's answer, as it came */
	}
	return 0;
}

/* Stats path's temporary upload name beside op's stat of path (no extra round trip). */
static void stat2_start(struct vfs_op *op)
{
	struct vfs_conn *c = op->c;
	struct vfs_op *k = op_new(c, NULL, NULL);
	if (!k)
		return; /* best effort: the target's answer alone */
	k->parent = op;
	k->then = stat2_then;
	op->pending2 = 1;
	c->v->ops->stat(c->bc, k, op->path2, &k->ba);
}

static int stat_then(struct vfs_op *op)
{
	struct vfs_conn *c = op->c;
	if (op->pending2) { /* wait for the temporary's answer (it has its own deadline) */
		op_save(op);
		op->waiting2 = 1;
		return 1;
	}
	/* an interrupted upload of it: its size is what a resuming client (OpenSSH reput) must
	 * see, whether an older complete file exists or not */
	if (op->rc2 >= 0 && !op->ba2.is_dir && (op->rc >= 0 || op->rc == SMBG_ENOENT)) {
		op->rc = 0;
		op->msg[0] = '\0';
		op->ba = op->ba2;
	}
	if (op->rc >= 0)
		present(c->v, &op->ba, op->attr_out);
	return 0;
}

int vfs_stat(struct vfs_conn *c, const char *path, struct vfs_attr *out, vfs_cb cb, void *priv)
{
	struct vfs_op *op = op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	if (c->v->dc && !is_root(path)) {
		size_t plen;
		const char *base = vfs_path_base(path, &plen);
		int r = dircache_lookup(c->v->dc, path, plen, base, out);
		if (r != 0 && atomic_mode(c->v)) {
			/* an interrupted upload (hidden in the listing) is what a resuming
			 * client must see */
			char tmp[VFS_PATH_MAX];
			struct vfs_attr ta;
			if (vfs_partial_name(path, tmp, sizeof(tmp)) >= 0 &&
			    dircache_lookup_hidden(c->v->dc, path, plen, vfs_path_base(tmp, NULL),
						   &ta) == 1) {
				*out = ta;
				r = 1;
			}
		}
		if (r == 1)
			return op_fail(op, 0, NULL);
		if (r == SMBG_ENOENT)
			return op_fail(op, SMBG_ENOENT, NULL);
	}
	op->attr_out = out;
	op->then = stat_then;
	if (atomic_mode(c->v) && !is_root(path)) {
		op->path2 = partial_of(path); /* NULL: without */
		if (op->path2)
			stat2_start(op);
	}
	c->v->ops->stat(c->bc, op, path, &op->ba);
	return 0;
}

/* ---- readdir ---- */

/* Removes path/name, a stale temporary upload, without waiting for the answer. */
static void partial_remove(struct vfs_conn *c, const char *dir, const char *name)
{
	struct vfs_op *op = op_new(c, NULL, NULL);
	if (!op)
		return;
	size_t dl = strlen(dir), nl = strlen(name);
	op->path = malloc(dl + nl + 2);
	if (!op->path) {
		vfs_op_done(op, SMBG_ENOMEM, NULL);
		return;
	}
	snprintf(op->path, dl + nl + 2, "%s%s%s", dir, dl ? "/" : "", name);
	log_info("vfs: removing %s, an interrupted upload older than %d hours", op->path,
		 VFS_PARTIAL_MAX_AGE / 3600);
	c->v->ops->unlink(c->bc, op, op->path);
}

/* Temporary uploads are not shown; those older than VFS_PARTIAL_MAX_AGE go (the folder's
 * listing is when they are found: no scan of the whole share at start). */
static void partials_hide(struct vfs_conn *c, const char *dir, struct vfs_dir *d)
{
	time_t now = time(NULL);
	size_t nh = 0;
	for (size_t i = 0; i < d->n; i++)
		nh += vfs_is_partial_name(vfs_dirent_name(d, i), d->ents[i].name_len) != 0;
	if (nh == 0)
		return;
	struct vfs_dirent *hid = malloc(nh * sizeof(*hid));
	size_t j = 0, k = 0;
	for (size_t i = 0; i < d->n; i++) {
		const char *name = vfs_dirent_name(d, i);
		if (!vfs_is_partial_name(name, d->ents[i].name_len)) {
			d->ents[j++] = d->ents[i];
			continue;
		}
		if (!c->v->o.read_only && !S_ISDIR(d->ents[i].attr.mode) &&
		    d->ents[i].attr.mtime.tv_sec + VFS_PARTIAL_MAX_AGE < now)
			partial_remove(c, dir, name);
		else if (hid) /* kept after the shown entries: STAT finds them there */
			hid[k++] = d->ents[i];
	}
	d->n = j;
	if (hid)
		memcpy(d->ents + j, hid, k * sizeof(*hid));
	d->nhidden = k;
	free(hid);
}

static int readdir_then(struct vfs_op *op)
{
	struct vfs *v = op->c->v;
	struct vfs_dir *d = op->dir;
	op->dir = NULL;
	if (op->rc < 0) {
		vfs_dir_put(d);
		return 0;
	}
	partials_hide(op->c, op->path, d);
	if (d->n > 1)
		qsort_r(d->ents, d->n, sizeof(d->ents[0]), dirent_cmp, d->names);
	for (size_t i = 0; i < d->n + d->nhidden; i++)
		present_mode(v, &d->ents[i].attr, S_ISDIR(d->ents[i].attr.mode));
	if (v->dc)
		dircache_put(v->dc, op->path, d);
	*op->dir_out = d; /* our reference goes to the caller */
	return 0;
}

int vfs_readdir(struct vfs_conn *c, const char *path, struct vfs_dir **out, vfs_cb cb, void *priv)
{
	struct vfs_op *op = op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	if (c->v->dc) {
		struct vfs_dir *d = dircache_get(c->v->dc, path);
		if (d) {
			*out = d;
			return op_fail(op, 0, NULL);
		}
	}
	op->dir = dir_new();
	op->path = xstrdup(path);
	if (!op->dir || !op->path) {
		vfs_dir_put(op->dir);
		return op_fail(op, SMBG_ENOMEM, NULL);
	}
	op->dir_out = out;
	op->then = readdir_then;
	c->v->ops->readdir(c->bc, op, path, op->dir);
	return 0;
}

/* ---- namespace changes ---- */

/* After a change: forget the listings it made stale (before and after, so that a listing
 * read by another connection in between does not survive). */
static int change_then(struct vfs_op *op)
{
	struct vfs *v = op->c->v;
	if (!v->dc)
		return 0;
	if (op->path)
		cache_invalidate_parent(v, op->path);
	if (op->path2)
		cache_invalidate_parent(v, op->path2);
	if (op->step == 1 && op->path) /* a directory went away or moved */
		dircache_invalidate_tree(v->dc, op->path);
	return 0;
}

static int change_prepare(struct vfs_op *op, const char *p1, const char *p2, int tree)
{
	op->path = xstrdup(p1);
	op->path2 = p2 ? xstrdup(p2) : NULL;
	if (!op->path || (p2 && !op->path2))
		return SMBG_ENOMEM;
	op->step = tree;
	op->then = change_then;
	(void)change_then(op);
	vfs_changed(op->c->v);
	return 0;
}

int vfs_mkdir(struct vfs_conn *c, const char *path, vfs_cb cb, void *priv)
{
	struct vfs_op *op = op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	CHECK_RW(c, op);
	if (is_root(path))
		return op_fail(op, SMBG_EEXIST, NULL);
	if (change_prepare(op, path, NULL, 0) < 0)
		return op_fail(op, SMBG_ENOMEM, NULL);
	c->v->ops->mkdir(c->bc, op, path);
	return 0;
}

int vfs_rmdir(struct vfs_conn *c, const char *path, vfs_cb cb, void *priv)
{
	struct vfs_op *op = op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	CHECK_RW(c, op);
	if (is_root(path))
		return op_fail(op, SMBG_EACCES, "the root cannot be removed");
	if (change_prepare(op, path, NULL, 1) < 0)
		return op_fail(op, SMBG_ENOMEM, NULL);
	c->v->ops->rmdir(c->bc, op, path);
	return 0;
}

int vfs_unlink(struct vfs_conn *c, const char *path, vfs_cb cb, void *priv)
{
	struct vfs_op *op = op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	CHECK_RW(c, op);
	if (is_root(path))
		return op_fail(op, SMBG_EISDIR, NULL);
	if (change_prepare(op, path, NULL, 0) < 0)
		return op_fail(op, SMBG_ENOMEM, NULL);
	c->v->ops->unlink(c->bc, op, path);
	return 0;
}

int vfs_rename(struct vfs_conn *c, const char *from, const char *to, int flags, vfs_cb cb,
	       void *priv)
{
	struct vfs_op *op = op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	CHECK_RW(c, op);
	if (is_root(from) || is_root(to))
		return op_fail(op, SMBG_EACCES, "the root cannot be renamed or replaced");
	size_t fl = strlen(from);
	if (strncmp(to, from, fl) == 0 && (to[fl] == '/' || to[fl] == '\0')) {
		if (to[fl] == '\0')
			return op_fail(op, 0, NULL); /* same name: nothing to do */
		return op_fail(op, SMBG_EINVAL, "cannot move a directory into itself");
	}
	if (change_prepare(op, from, to, 1) < 0)
		return op_fail(op, SMBG_ENOMEM, NULL);
	c->v->ops->rename(c->bc, op, from, to, (flags & VFS_RENAME_REPLACE) != 0);
	return 0;
}

int vfs_link(struct vfs_conn *c, const char *from, const char *to, vfs_cb cb, void *priv)
{
	struct vfs_op *op = op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	CHECK_RW(c, op);
	if (!(vfs_caps(c->v) & VFS_CAP_HARDLINK) || !c->v->ops->link)
		return op_fail(op, SMBG_ENOTSUP, "hard links are not supported by this backend");
	if (is_root(from) || is_root(to))
		return op_fail(op, SMBG_EACCES, NULL);
	if (change_prepare(op, to, NULL, 0) < 0)
		return op_fail(op, SMBG_ENOMEM, NULL);
	c->v->ops->link(c->bc, op, from, to);
	return 0;
}

/* ---- setattr by path: size (stat, then open/truncate/close when needed), then times ---- */

static int setattr_then(struct vfs_op *op)
{
	struct vfs_conn *c = op->c;
	struct vfs_setattr *sa = &op->sa;
	if (op->rc < 0) {
		if (op->fh) { /* a step failed with the file open: close it, keep the error */
			void *fh = op->fh;
			op->fh = NULL;
			op->step = 100;
			op_save(op); /* reported after the close */
			c->v->ops->close(c->bc, op, fh);
			return 1;
		}
		return change_then(op);
	}
	switch (op->step) {
	case 0: /* start */
		if (sa->valid & VFS_SET_SIZE) {
			op->step = 1;
			c->v->ops->stat(c->bc, op, op->path, &op->ba);
			return 1;
		}
		goto times;
	case 1: /* stat done */
		if (op->ba.is_dir) {
			op->rc = SMBG_EISDIR;
			return change_then(op);
		}
		if (op->ba.size == sa->size)
			goto times;
		if (sa->size != 0 && c->v->o.cache_mode == VFS_CACHE_OFF) {
			op->rc = SMBG_ENOTSUP;
			snprintf(op->msg, sizeof(op->msg),
				 "cache mode off: a file can only be truncated to 0 bytes");
			return change_then(op);
		}
		op->step = 2;
		c->v->ops->open(c->bc, op, op->path, VFS_O_WRITE, &op->fh, &op->ba);
		return 1;
	case 2: /* open done */
		op->step = 3;
		c->v->ops->truncate(c->bc, op, op->fh, sa->size);
		return 1;
	case 3: { /* truncate done */
		void *fh = op->fh;
		op->fh = NULL;
		op->step = 4;
		c->v->ops->close(c->bc, op, fh);
		return 1;
	}
	case 4: /* close done */
		goto times;
	case 5: /* times done */
		return change_then(op);
	case 100: /* closed after an error */
		op_restore(op);
		return change_then(op);
	}
times:
	if ((sa->valid & (VFS_SET_ATIME | VFS_SET_MTIME)) && !c->v->o.no_modtime) {
		op->step = 5;
		c->v->ops->setattr(c->bc, op, op->path, NULL, sa);
		return 1;
	}
	return change_then(op);
}

int vfs_setattr(struct vfs_conn *c, const char *path, const struct vfs_setattr *sa, vfs_cb cb,
		void *priv)
{
	struct vfs_op *op = op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	CHECK_RW(c, op);
	op->sa = *sa;
	if (change_prepare(op, path, NULL, 0) < 0)
		return op_fail(op, SMBG_ENOMEM, NULL);
	op->then = setattr_then;
	op->step = 0;
	/* step 0 runs from the queue like every continuation */
	vfs_op_done(op, 0, NULL);
	return 0;
}

/* ---- statfs, hash ---- */

static int statfs_then(struct vfs_op *op)
{
	if (op->rc >= 0 && op->c->v->o.read_only)
		op->statfs_out->read_only = 1;
	return 0;
}

int vfs_statfs(struct vfs_conn *c, const char *path, struct vfs_statfs *out, vfs_cb cb, void *priv)
{
	(void)path; /* one volume per remote */
	struct vfs_op *op = op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	memset(out, 0, sizeof(*out));
	op->statfs_out = out;
	op->then = statfs_then;
	c->v->ops->statfs(c->bc, op, out);
	return 0;
}

int vfs_hash(struct vfs_conn *c, const char *path, enum vfs_hash_algo algo, uint8_t *out,
	     size_t *outlen, vfs_cb cb, void *priv)
{
	struct vfs_op *op = op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	/* a long file takes long: the reads it makes have their own deadlines */
	op->no_deadline = 1;
	live_del(op);
	if (c->v->o.no_checksum)
		return op_fail(op, SMBG_ENOTSUP, "checksums are disabled (--no-checksum)");
	if (c->v->ops->hash) {
		c->v->ops->hash(c->bc, op, path, algo, out, outlen);
		return 0;
	}
	vfs_hash_generic(c, op, path, algo, out, outlen);
	return 0;
}

/* ---- files ---- */

static void read_start(struct vfs_op *op);
static void close_start(struct vfs_op *op);

/* The read-ahead is back: keep what it found, then start the reads (and the close) that
 * waited for it. */
static int prefetch_then(struct vfs_op *op)
{
	struct vfs_file *f = op->f;
	op->f = NULL;
	f->pf_pending = 0;
	if (op->rc >= 0 && !f->closed) {
		f->pf_got = (size_t)op->rc;
		/* the end of the file only where the open said it is (or nothing at all) */
		f->pf_eof = f->pf_got < op->len && (f->pf_got == f->oattr.size || f->pf_got == 0);
		f->pf_fr = op->fr;
		if (f->pf_eof) {
			f->eof_off = f->pf_got;
			f->eof_fr = op->fr;
		}
	} else {
		free(f->pf_buf);
		f->pf_buf = NULL;
	}
	struct vfs_op *w;
	while ((w = f->pf_wait_head) != NULL) {
		f->pf_wait_head = w->next;
		w->next = NULL;
		read_start(w);
	}
	f->pf_wait_tail = NULL;
	if (f->close_wait) {
		struct vfs_op *co = f->close_wait;
		f->close_wait = NULL;
		close_start(co);
	}
	file_put(f);
	return 0;
}

/* Reads a small file whole (one byte more than it has, so that a short answer says where it
 * ends) while the client is told the file is open: its first READ then finds the data here.
 * Best effort: without memory, nothing is read ahead. */
static void prefetch_start(struct vfs_conn *c, struct vfs_file *f)
{
	size_t want = (size_t)f->oattr.size + 1;
	struct vfs_op *op = op_new(c, NULL, NULL);
	uint8_t *buf = op ? malloc(want) : NULL;
	if (!buf) {
		if (op)
			op_free(op);
		return;
	}
	f->pf_buf = buf;
	f->pf_pending = 1;
	f->refs++;
	op->f = f;
	op->buf = buf;
	op->len = want;
	op->fr = fresh_now(c->v);
	op->then = prefetch_then;
	c->v->ops->read(c->bc, op, f->fh, buf, want, 0);
}

static int open_then(struct vfs_op *op);

/* The steps of an atomic upload's open (vfs_open): op->path is the target, op->path2 its
 * temporary name. */
enum {
	OA_STAT_TARGET = 1, /* EXCL, or TRUNC without CREAT: does the target exist? */
	OA_CREATE_TMP,	    /* a new upload: create (truncate) the temporary */
	OA_OPEN_TMP,	    /* no TRUNC: continue an interrupted upload, if there is one */
	OA_OPEN_TARGET	    /* no TRUNC, no temporary: write the existing file in place */
};

/* A temporary that the backend can rename by its handle is opened so (one request at
 * close instead of a rename by path). */
static int rename_flag(struct vfs_conn *c)
{
	return c->v->ops->frename ? VFS_BO_RENAME : 0;
}

static void oa_submit(struct vfs_op *op, int step)
{
	struct vfs_conn *c = op->c;
	struct vfs_file *f = op->f;
	op->step = step;
	op->rc = 0;
	op->msg[0] = '\0';
	switch (step) {
	case OA_STAT_TARGET:
		c->v->ops->stat(c->bc, op, op->path, &op->ba);
		break;
	case OA_CREATE_TMP:
		c->v->ops->open(c->bc, op, op->path2,
				VFS_O_WRITE | VFS_O_CREAT | VFS_O_TRUNC | rename_flag(c), &f->fh,
				&op->ba);
		break;
	case OA_OPEN_TMP:
		c->v->ops->open(c->bc, op, op->path2, VFS_O_WRITE | rename_flag(c), &f->fh,
				&op->ba);
		break;
	default:
		c->v->ops->open(c->bc, op, op->path, VFS_O_WRITE, &f->fh, &op->ba);
		break;
	}
}

static int open_atomic_then(struct vfs_op *op)
{
	struct vfs_file *f = op->f;
	int fl = f->flags;
	switch (op->step) {
	case OA_STAT_TARGET:
		if (op->rc >= 0 && op->ba.is_dir) {
			op->rc = SMBG_EISDIR;
		} else if (op->rc >= 0 && (fl & VFS_O_EXCL)) {
			op->rc = SMBG_EEXIST;
			op->msg[0] = '\0';
		} else if (op->rc >= 0 || (op->rc == SMBG_ENOENT && (fl & VFS_O_CREAT))) {
			oa_submit(op, OA_CREATE_TMP);
			return 1;
		}
		break;
	case OA_OPEN_TMP:
		if (op->rc == SMBG_ENOENT) {
			oa_submit(op, OA_OPEN_TARGET);
			return 1;
		}
		if (op->rc >= 0) {
			f->tmp_path = op->path2;
			op->path2 = NULL;
			log_info("vfs: %s: continuing the interrupted upload in %s", op->path,
				 f->tmp_path);
		}
		break;
	case OA_OPEN_TARGET:
		if (op->rc == SMBG_ENOENT && (fl & VFS_O_CREAT)) {
			oa_submit(op, OA_CREATE_TMP);
			return 1;
		}
		break; /* in place (appending to, or resuming, a complete file) */
	case OA_CREATE_TMP:
		if (op->rc >= 0) {
			f->tmp_path = op->path2;
			op->path2 = NULL;
		}
		break;
	}
	return open_then(op);
}

static int open_then(struct vfs_op *op)
{
	struct vfs_conn *c = op->c;
	struct vfs_file *f = op->f;
	op->f = NULL;
	if (op->rc < 0) {
		file_put(f);
		return 0;
	}
	f->oattr = op->ba;
	f->oattr_fr = op->fr;
	int is_new = (f->flags & (VFS_O_CREAT | VFS_O_EXCL)) == (VFS_O_CREAT | VFS_O_EXCL);
	/* writing into an existing file (resume, append): the open said where it ends */
	if ((f->flags & VFS_O_WRITE) && !(f->flags & VFS_O_TRUNC) && !is_new)
		f->wend = f->oattr.size;
	f->next = c->files;
	if (c->files)
		c->files->prev = f;
	c->files = f;
	if (f->flags & VFS_O_WRITE)
		cache_invalidate_parent(c->v, f->path);
	else if ((vfs_caps(c->v) & VFS_CAP_REMOTE) && !f->oattr.is_dir &&
		 f->oattr.size < PREFETCH_MAX)
		prefetch_start(c, f);
	*op->file_out = f;
	return 0;
}

int vfs_open(struct vfs_conn *c, const char *path, int flags, struct vfs_file **out, vfs_cb cb,
	     void *priv)
{
	struct vfs_op *op = op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	if (!(flags & (VFS_O_READ | VFS_O_WRITE)))
		flags |= VFS_O_READ;
	/* CREAT, TRUNC and APPEND all mean the caller intends to write (as in rclone). */
	int write = (flags & (VFS_O_WRITE | VFS_O_CREAT | VFS_O_TRUNC | VFS_O_APPEND)) != 0;
	int read = (flags & VFS_O_READ) != 0;
	if (write && c->v->o.read_only)
		return op_fail(op, SMBG_EROFS, "read-only (--read-only)");
	if (is_root(path))
		return op_fail(op, SMBG_EISDIR, NULL);
	int bflags;
	if (c->v->o.cache_mode == VFS_CACHE_OFF) {
		if (read && write)
			return op_fail(op, SMBG_ENOTSUP,
				       "cache mode off: a file cannot be opened for reading and "
				       "writing at once (needs --vfs-cache-mode writes)");
		/* Without TRUNC an existing file is kept: vfs_write lets the first write start
		 * at its end (a resumed upload) or at 0, and the rest follow sequentially. */
		bflags = write ? (VFS_O_WRITE | (flags & (VFS_O_CREAT | VFS_O_EXCL | VFS_O_TRUNC)))
			       : VFS_O_READ;
	} else {
		bflags = flags & ~VFS_O_APPEND;
	}
	struct vfs_file *f = calloc(1, sizeof(*f));
	if (!f)
		return op_fail(op, SMBG_ENOMEM, NULL);
	f->c = c;
	f->refs = 1;
	f->path = xstrdup(path);
	if (!f->path) {
		free(f);
		return op_fail(op, SMBG_ENOMEM, NULL);
	}
	/* APPEND is done here, with the end tracked by the handle (vfs_write) */
	f->flags = bflags | (write ? (flags & VFS_O_APPEND) : 0);
	if (write) {
		cache_invalidate_parent(c->v, path);
		vfs_changed(c->v);
	}
	op->f = f;
	op->file_out = out;
	op->then = open_then;
	op->fr = fresh_now(c->v);
	if (write && atomic_mode(c->v)) {
		op->path = xstrdup(path);
		op->path2 = partial_of(path);
		if (!op->path || !op->path2) {
			file_put(f);
			return op_fail(op, SMBG_ENAME, "no room for the upload's temporary name");
		}
		op->then = open_atomic_then;
		if (!(bflags & (VFS_O_TRUNC | VFS_O_EXCL))) {
			oa_submit(op, OA_OPEN_TMP);
			return 0;
		}
		/* what is the target (a folder, a link leading out)? a fresh listing knows. A
		 * remote backend is not asked in the common case (CREAT|TRUNC): a round trip per
		 * upload, for a folder in the way that the rename at close reports anyway (and
		 * links there are the server's business) */
		if ((vfs_caps(c->v) & VFS_CAP_REMOTE) && (bflags & VFS_O_CREAT) &&
		    !(bflags & VFS_O_EXCL)) {
			oa_submit(op, OA_CREATE_TMP);
			return 0;
		}
		struct vfs_attr ca;
		size_t plen;
		const char *base = vfs_path_base(path, &plen);
		int r = c->v->dc ? dircache_lookup(c->v->dc, path, plen, base, &ca) : 0;
		if (r == 0) {
			oa_submit(op, OA_STAT_TARGET);
			return 0;
		}
		op->step = OA_STAT_TARGET;
		op->ba.is_dir = r == 1 && S_ISDIR(ca.mode);
		vfs_op_done(op, r == 1 ? 0 : SMBG_ENOENT, NULL);
		return 0;
	}
	c->v->ops->open(c->bc, op, path, bflags, &f->fh, &op->ba);
	return 0;
}

void vfs_file_abandon(struct vfs_file *f)
{
	f->abandon = 1;
}

const char *vfs_file_path(const struct vfs_file *f)
{
	return f->path;
}

int vfs_file_flags(const struct vfs_file *f)
{
	return f->flags;
}

static int read_then(struct vfs_op *op)
{
	struct vfs_file *f = op->f;
	op->f = NULL;
	/* a short read that reached the size the open reported says where the file ends; the
	 * client's next read usually asks there (an empty answer teaches nothing a reader would
	 * ask again soon). A read short of the request for another reason must not end the
	 * file early. */
	if (op->rc > 0 && (size_t)op->rc < op->len && !f->closed &&
	    op->off + (uint64_t)op->rc == f->oattr.size) {
		f->eof_off = op->off + (uint64_t)op->rc;
		f->eof_fr = op->fr;
	}
	file_put(f);
	return 0;
}

/* Answers a read from what the server said lately when that holds (the read-ahead, an end
 * of file just found), else sends it. */
static void read_start(struct vfs_op *op)
{
	struct vfs_conn *c = op->c;
	struct vfs_file *f = op->f;
	if (f->pf_buf && !fresh_ok(c->v, &f->pf_fr)) {
		free(f->pf_buf);
		f->pf_buf = NULL;
	}
	if (f->pf_buf && op->off < f->pf_got) {
		size_t n = f->pf_got - (size_t)op->off;
		if (n > op->len)
			n = op->len;
		if (n == op->len || f->pf_eof) {
			memcpy(op->buf, f->pf_buf + op->off, n);
			if (op->off + n == f->pf_got) { /* all of it was taken */
				free(f->pf_buf);
				f->pf_buf = NULL;
			}
			op->f = NULL;
			vfs_op_done(op, (int)n, NULL);
			return;
		}
	}
	if (op->off >= f->eof_off && fresh_ok(c->v, &f->eof_fr)) {
		f->eof_fr.ms = 0; /* once: a reader polling a growing file asks the server next */
		op->f = NULL;
		vfs_op_done(op, 0, NULL);
		return;
	}
	f->refs++;
	op->fr = fresh_now(c->v);
	op->then = read_then;
	c->v->ops->read(c->bc, op, f->fh, op->buf, op->len, op->off);
}

int vfs_read(struct vfs_conn *c, struct vfs_file *f, void *buf, size_t len, uint64_t off, vfs_cb cb,
	     void *priv)
{
	struct vfs_op *op = op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	if (!(f->flags & VFS_O_READ))
		return op_fail(op, SMBG_EACCES, "the file is open for writing only");
	if (c->v->o.no_seek) {
		if (off != f->rpos)
			return op_fail(op, SMBG_ENOTSUP, "seeking is not allowed (--no-seek)");
		f->rpos = off + len;
	}
	op->f = f;
	op->buf = buf;
	op->len = len;
	op->off = off;
	if (f->pf_pending) { /* the read-ahead will answer it, or tell where to ask */
		if (f->pf_wait_tail)
			f->pf_wait_tail->next = op;
		else
			f->pf_wait_head = op;
		f->pf_wait_tail = op;
		return 0;
	}
	read_start(op);
	return 0;
}

/* A write is all or nothing: fewer bytes than sent would leave a hole where the client
 * thinks its data is. A failed write marks the upload incomplete (no rename at close). */
static int write_then(struct vfs_op *op)
{
	struct vfs_file *f = op->f;
	op->f = NULL;
	if (op->rc >= 0 && (size_t)op->rc != op->len) {
		snprintf(op->msg, sizeof(op->msg), "short write: %d of %zu bytes written", op->rc,
			 op->len);
		op->rc = SMBG_EIO;
	}
	if (op->rc < 0)
		f->write_failed = 1;
	file_put(f);
	return 0;
}

int vfs_write(struct vfs_conn *c, struct vfs_file *f, const void *buf, size_t len, uint64_t off,
	      vfs_cb cb, void *priv)
{
	struct vfs_op *op = op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	if (!(f->flags & VFS_O_WRITE))
		return op_fail(op, SMBG_EACCES, "the file is not open for writing");
	if (f->flags & VFS_O_APPEND) {
		/* as O_APPEND: at the end whatever the offset says, in the order writes arrive */
		off = f->wend;
	} else if (c->v->o.cache_mode == VFS_CACHE_OFF) {
		if (!f->wrote && off != 0 && off != f->wend)
			return op_fail(op, SMBG_ENOTSUP,
				       "cache mode off: files are written sequentially, from the "
				       "start or from the end of the existing file (needs "
				       "--vfs-cache-mode writes)");
		if (f->wrote && off != f->wpos)
			return op_fail(op, SMBG_ENOTSUP,
				       "cache mode off: files are written sequentially, no seeking "
				       "(needs --vfs-cache-mode writes)");
	}
	if (len > UINT64_MAX - off)
		return op_fail(op, SMBG_EINVAL, "offset or length out of range");
	f->wpos = off + len;
	if (f->wpos > f->wend)
		f->wend = f->wpos;
	f->wrote = 1;
	vfs_changed(c->v);
	op->f = f;
	op->len = len;
	op->then = write_then;
	f->refs++;
	c->v->ops->write(c->bc, op, f->fh, buf, len, off);
	return 0;
}

static int fstat_then(struct vfs_op *op)
{
	if (op->rc >= 0) {
		present(op->c->v, &op->ba, op->attr_out);
		/* times set on a file being written are applied at close; show them already */
		struct vfs_file *f = op->f;
		if (f && (f->pending_times & VFS_SET_MTIME))
			op->attr_out->mtime = f->mtime;
		if (f && (f->pending_times & VFS_SET_ATIME))
			op->attr_out->atime = f->atime;
	}
	op->f = NULL;
	return 0;
}

int vfs_fstat(struct vfs_conn *c, struct vfs_file *f, struct vfs_attr *out, vfs_cb cb, void *priv)
{
	struct vfs_op *op = op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	op->attr_out = out;
	op->f = f;
	op->then = fstat_then;
	if (!f->wrote && fresh_ok(c->v, &f->oattr_fr)) {
		/* the FSTAT that follows an OPEN: the open's answer holds (once) */
		f->oattr_fr.ms = 0;
		op->ba = f->oattr;
		vfs_op_done(op, 0, NULL);
		return 0;
	}
	c->v->ops->fstat(c->bc, op, f->fh, &op->ba);
	return 0;
}

static int fsetattr_then(struct vfs_op *op)
{
	struct vfs_conn *c = op->c;
	struct vfs_file *f = op->f;
	struct vfs_setattr *sa = &op->sa;
	if (op->rc < 0)
		goto out;
	if (op->step == 0 && (sa->valid & (VFS_SET_ATIME | VFS_SET_MTIME)) && !c->v->o.no_modtime) {
		op->step = 1;
		if (f->flags & VFS_O_WRITE) {
			/* later writes would move mtime again: apply at close, as rclone does */
			if (sa->valid & VFS_SET_ATIME)
				f->atime = sa->atime;
			if (sa->valid & VFS_SET_MTIME)
				f->mtime = sa->mtime;
			f->pending_times |= sa->valid & (VFS_SET_ATIME | VFS_SET_MTIME);
		} else {
			c->v->ops->setattr(c->bc, op, f->path, f->fh, sa);
			return 1;
		}
	}
out:
	op->f = NULL;
	cache_invalidate_parent(c->v, f->path);
	return 0;
}

int vfs_fsetattr(struct vfs_conn *c, struct vfs_file *f, const struct vfs_setattr *sa, vfs_cb cb,
		 void *priv)
{
	struct vfs_op *op = op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	if (sa->valid & (VFS_SET_SIZE | VFS_SET_ATIME | VFS_SET_MTIME)) {
		CHECK_RW(c, op);
		vfs_changed(c->v);
	}
	op->sa = *sa;
	op->f = f;
	op->then = fsetattr_then;
	if (sa->valid & VFS_SET_SIZE) {
		if (!(f->flags & VFS_O_WRITE))
			return op_fail(op, SMBG_EACCES, "the file is not open for writing");
		if (c->v->o.cache_mode == VFS_CACHE_OFF && sa->size == f->wend) {
			/* nothing to do: the file ends there already (no one else writes it) */
			vfs_op_done(op, 0, NULL);
			return 0;
		}
		/* cache mode off: only cutting the file where the next write would go (an
		 * existing file rewritten from the start) keeps writes sequential */
		if (c->v->o.cache_mode == VFS_CACHE_OFF &&
		    ((f->flags & VFS_O_APPEND) || sa->size != (f->wrote ? f->wpos : 0)))
			return op_fail(op, SMBG_ENOTSUP,
				       "cache mode off: a file being written can only be "
				       "truncated to its current length, or to where the writing "
				       "stands");
		f->wend = sa->size;
		if (f->wpos > sa->size)
			f->wpos = sa->size;
		c->v->ops->truncate(c->bc, op, f->fh, sa->size);
		return 0;
	}
	vfs_op_done(op, 0, NULL);
	return 0;
}

int vfs_fsync(struct vfs_conn *c, struct vfs_file *f, vfs_cb cb, void *priv)
{
	struct vfs_op *op = op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	c->v->ops->fsync(c->bc, op, f->fh);
	return 0;
}

static int close_then(struct vfs_op *op)
{
	struct vfs_conn *c = op->c;
	struct vfs_file *f = op->f;
	if (op->step == 0 && f->tmp_path && op->rc >= 0 && !f->abandon && !f->write_failed &&
	    c->v->ops->frename) {
		/* a complete upload: renamed over its name by the handle, then closed */
		op->step = 3;
		c->v->ops->frename(c->bc, op, f->fh, f->path);
		return 1;
	}
	if (op->step == 3) {
		/* not renamed by the handle (an SMB1 server may refuse it): by path after the
		 * close, as backends without frename do; that one's error is reported */
		if (op->rc >= 0)
			f->renamed = 1;
		else
			log_debug("vfs: %s: rename by handle failed (%s); renaming by path",
				  f->path, op->msg[0] ? op->msg : smbg_strerror(op->rc));
		op->rc = 0;
		op->msg[0] = '\0';
		op->step = 0;
	}
	if (op->step == 0) {
		/* times were set (or not) before closing; a failure there is reported, but the
		 * file is closed either way */
		op->step = 1;
		void *fh = f->fh;
		f->fh = NULL;
		op_save(op);
		if (!(f->flags & VFS_O_WRITE) && c->v->ops->close_nowait) {
			/* read only: nothing can go wrong that the client could act on */
			c->v->ops->close_nowait(c->bc, fh);
			vfs_op_done(op, 0, NULL);
			return 1;
		}
		c->v->ops->close(c->bc, op, fh);
		return 1;
	}
	if (op->step == 1) {
		if (op->rc >= 0 && op->saved_rc < 0)
			op_restore(op);
		if (f->tmp_path && !f->renamed && op->rc >= 0 && !f->abandon && !f->write_failed) {
			/* complete: it appears under its name now, whole */
			op->step = 2;
			c->v->ops->rename(c->bc, op, f->tmp_path, f->path, 1);
			return 1;
		}
		if (f->tmp_path && op->rc >= 0 && f->write_failed) {
			op->rc = SMBG_EIO;
			snprintf(op->msg, sizeof(op->msg),
				 "the upload failed; the data written is kept under %s",
				 vfs_path_base(f->tmp_path, NULL));
		}
		if (f->tmp_path && f->abandon)
			log_info("vfs: %s: the client went away; the upload so far is kept in %s",
				 f->path, f->tmp_path);
	} else if (op->step == 2 && op->rc < 0) {
		char m[OP_MSG_MAX];
		snprintf(m, sizeof(m), "%s", op->msg[0] ? op->msg : smbg_strerror(op->rc));
		snprintf(op->msg, sizeof(op->msg),
			 "renaming the upload over its name failed: %.120s", m);
	}
	if (f->flags & VFS_O_WRITE)
		cache_invalidate_parent(c->v, f->path);
	op->f = NULL;
	file_put(f);
	return 0;
}

/* Sets the times a writer asked for, then closes (close_then). */
static void close_start(struct vfs_op *op)
{
	struct vfs_conn *c = op->c;
	struct vfs_file *f = op->f;
	if (f->pending_times && !c->v->o.no_modtime) {
		op->sa.valid = f->pending_times;
		op->sa.atime = f->atime;
		op->sa.mtime = f->mtime;
		c->v->ops->setattr(c->bc, op, f->path, f->fh, &op->sa);
		return;
	}
	vfs_op_done(op, 0, NULL);
}

int vfs_close(struct vfs_conn *c, struct vfs_file *f, vfs_cb cb, void *priv)
{
	struct vfs_op *op = op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	file_unlink(f);
	f->closed = 1;
	if (f->flags & VFS_O_WRITE)
		vfs_changed(c->v);
	op->f = f;
	op->then = close_then;
	op->step = 0;
	if (f->pf_pending) { /* the read-ahead's answer comes first */
		f->close_wait = op;
		return 0;
	}
	close_start(op);
	return 0;
}
