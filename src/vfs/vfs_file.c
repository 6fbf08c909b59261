/* Files: open, read, write, fstat, fsetattr, fsync, close. The cache mode off rules (no
 * reading and writing at once, sequential writes from the start or from the end of an
 * existing file, APPEND tracked by the handle), the read-ahead of small files and the
 * answers reused from what the server said lately (see vfs.c). An atomic upload's open is
 * vfs_upload.c's; its commit (rename over the name) or abandonment is close_then's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/log.h"
#include "vfs/vfs_internal.h"

#define PREFETCH_MAX (64 * 1024) /* files up to this size are read ahead at open */

/* ---- files ---- */

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
void vfs_file_put(struct vfs_file *f)
{
	if (!f || --f->refs > 0)
		return;
	free(f->pf_buf);
	free(f->path);
	free(f->tmp_path);
	free(f);
}

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
	vfs_file_put(f);
	return 0;
}

/* Reads a small file whole (one byte more than it has, so that a short answer says where it
 * ends) while the client is told the file is open: its first READ then finds the data here.
 * Best effort: without memory, nothing is read ahead. */
static void prefetch_start(struct vfs_conn *c, struct vfs_file *f)
{
	size_t want = (size_t)f->oattr.size + 1;
	struct vfs_op *op = vfs_op_new(c, NULL, NULL);
	uint8_t *buf = op ? malloc(want) : NULL;
	if (!buf) {
		if (op)
			vfs_op_free(op);
		return;
	}
	f->pf_buf = buf;
	f->pf_pending = 1;
	f->refs++;
	op->f = f;
	op->buf = buf;
	op->len = want;
	op->fr = vfs_fresh_now(c->v);
	op->then = prefetch_then;
	c->v->ops->read(c->bc, op, f->fh, buf, want, 0);
}

int vfs_open_then(struct vfs_op *op)
{
	struct vfs_conn *c = op->c;
	struct vfs_file *f = op->f;
	op->f = NULL;
	if (op->rc < 0) {
		vfs_file_put(f);
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
		vfs_cache_invalidate_parent(c->v, f->path);
	else if ((vfs_caps(c->v) & VFS_CAP_REMOTE) && !f->oattr.is_dir &&
		 f->oattr.size < PREFETCH_MAX)
		prefetch_start(c, f);
	*op->file_out = f;
	return 0;
}

int vfs_open(struct vfs_conn *c, const char *path, int flags, struct vfs_file **out, vfs_cb cb,
	     void *priv)
{
	struct vfs_op *op = vfs_op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	if (!(flags & (VFS_O_READ | VFS_O_WRITE)))
		flags |= VFS_O_READ;
	/* CREAT, TRUNC and APPEND all mean the caller intends to write (as in rclone). */
	int write = (flags & (VFS_O_WRITE | VFS_O_CREAT | VFS_O_TRUNC | VFS_O_APPEND)) != 0;
	int read = (flags & VFS_O_READ) != 0;
	if (write && c->v->o.read_only)
		return vfs_op_fail(op, SMBG_EROFS, "read-only (--read-only)");
	if (vfs_is_root(path))
		return vfs_op_fail(op, SMBG_EISDIR, NULL);
	int bflags;
	if (c->v->o.cache_mode == VFS_CACHE_OFF) {
		if (read && write)
			return vfs_op_fail(
			    op, SMBG_ENOTSUP,
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
		return vfs_op_fail(op, SMBG_ENOMEM, NULL);
	f->c = c;
	f->refs = 1;
	f->path = vfs_xstrdup(path);
	if (!f->path) {
		free(f);
		return vfs_op_fail(op, SMBG_ENOMEM, NULL);
	}
	/* APPEND is done here, with the end tracked by the handle (vfs_write) */
	f->flags = bflags | (write ? (flags & VFS_O_APPEND) : 0);
	if (write) {
		vfs_cache_invalidate_parent(c->v, path);
		vfs_changed(c->v);
	}
	op->f = f;
	op->file_out = out;
	op->then = vfs_open_then;
	op->fr = vfs_fresh_now(c->v);
	if (write && vfs_atomic_mode(c->v))
		return vfs_upload_open(op, path, bflags);
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
	vfs_file_put(f);
	return 0;
}

/* Answers a read from what the server said lately when that holds (the read-ahead, an end
 * of file just found), else sends it. */
static void read_start(struct vfs_op *op)
{
	struct vfs_conn *c = op->c;
	struct vfs_file *f = op->f;
	if (f->pf_buf && !vfs_fresh_ok(c->v, &f->pf_fr)) {
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
	if (op->off >= f->eof_off && vfs_fresh_ok(c->v, &f->eof_fr)) {
		f->eof_fr.ms = 0; /* once: a reader polling a growing file asks the server next */
		op->f = NULL;
		vfs_op_done(op, 0, NULL);
		return;
	}
	f->refs++;
	op->fr = vfs_fresh_now(c->v);
	op->then = read_then;
	c->v->ops->read(c->bc, op, f->fh, op->buf, op->len, op->off);
}

int vfs_read(struct vfs_conn *c, struct vfs_file *f, void *buf, size_t len, uint64_t off, vfs_cb cb,
	     void *priv)
{
	struct vfs_op *op = vfs_op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	if (!(f->flags & VFS_O_READ))
		return vfs_op_fail(op, SMBG_EACCES, "the file is open for writing only");
	if (c->v->o.no_seek) {
		if (off != f->rpos)
			return vfs_op_fail(op, SMBG_ENOTSUP, "seeking is not allowed (--no-seek)");
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
	vfs_file_put(f);
	return 0;
}

int vfs_write(struct vfs_conn *c, struct vfs_file *f, const void *buf, size_t len, uint64_t off,
	      vfs_cb cb, void *priv)
{
	struct vfs_op *op = vfs_op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	if (!(f->flags & VFS_O_WRITE))
		return vfs_op_fail(op, SMBG_EACCES, "the file is not open for writing");
	if (f->flags & VFS_O_APPEND) {
		/* as O_APPEND: at the end whatever the offset says, in the order writes arrive */
		off = f->wend;
	} else if (c->v->o.cache_mode == VFS_CACHE_OFF) {
		if (!f->wrote && off != 0 && off != f->wend)
			return vfs_op_fail(
			    op, SMBG_ENOTSUP,
			    "cache mode off: files are written sequentially, from the "
			    "start or from the end of the existing file (needs "
			    "--vfs-cache-mode writes)");
		if (f->wrote && off != f->wpos)
			return vfs_op_fail(
			    op, SMBG_ENOTSUP,
			    "cache mode off: files are written sequentially, no seeking "
			    "(needs --vfs-cache-mode writes)");
	}
	if (len > UINT64_MAX - off)
		return vfs_op_fail(op, SMBG_EINVAL, "offset or length out of range");
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
		vfs_present(op->c->v, &op->ba, op->attr_out);
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
	struct vfs_op *op = vfs_op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	op->attr_out = out;
	op->f = f;
	op->then = fstat_then;
	if (!f->wrote && vfs_fresh_ok(c->v, &f->oattr_fr)) {
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
	vfs_cache_invalidate_parent(c->v, f->path);
	return 0;
}

int vfs_fsetattr(struct vfs_conn *c, struct vfs_file *f, const struct vfs_setattr *sa, vfs_cb cb,
		 void *priv)
{
	struct vfs_op *op = vfs_op_new(c, cb, priv);
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
			return vfs_op_fail(op, SMBG_EACCES, "the file is not open for writing");
		if (c->v->o.cache_mode == VFS_CACHE_OFF && sa->size == f->wend) {
			/* nothing to do: the file ends there already (no one else writes it) */
			vfs_op_done(op, 0, NULL);
			return 0;
		}
		/* cache mode off: only cutting the file where the next write would go (an
		 * existing file rewritten from the start) keeps writes sequential */
		if (c->v->o.cache_mode == VFS_CACHE_OFF &&
		    ((f->flags & VFS_O_APPEND) || sa->size != (f->wrote ? f->wpos : 0)))
			return vfs_op_fail(
			    op, SMBG_ENOTSUP,
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
	struct vfs_op *op = vfs_op_new(c, cb, priv);
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
		vfs_op_save(op);
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
			vfs_op_restore(op);
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
		vfs_cache_invalidate_parent(c->v, f->path);
	op->f = NULL;
	vfs_file_put(f);
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
	struct vfs_op *op = vfs_op_new(c, cb, priv);
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
