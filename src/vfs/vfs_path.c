/* Operations by path: stat (with the temporary of an interrupted upload), readdir, mkdir,
 * rmdir, unlink, rename, link, setattr, statfs, hash; the directory cache answers and is
 * invalidated here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vfs/vfs_internal.h"

/* ---- stat ---- */

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
	struct vfs_op *k = vfs_op_new(c, NULL, NULL);
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
		vfs_op_save(op);
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
		vfs_present(c->v, &op->ba, op->attr_out);
	return 0;
}

int vfs_stat(struct vfs_conn *c, const char *path, struct vfs_attr *out, vfs_cb cb, void *priv)
{
	struct vfs_op *op = vfs_op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	if (c->v->dc && !vfs_is_root(path)) {
		size_t plen;
		const char *base = vfs_path_base(path, &plen);
		int r = dircache_lookup(c->v->dc, path, plen, base, out);
		if (r != 0 && vfs_atomic_mode(c->v)) {
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
			return vfs_op_fail(op, 0, NULL);
		if (r == SMBG_ENOENT)
			return vfs_op_fail(op, SMBG_ENOENT, NULL);
	}
	op->attr_out = out;
	op->then = stat_then;
	if (vfs_atomic_mode(c->v) && !vfs_is_root(path)) {
		op->path2 = vfs_partial_of(path); /* NULL: without */
		if (op->path2)
			stat2_start(op);
	}
	c->v->ops->stat(c->bc, op, path, &op->ba);
	return 0;
}

/* ---- readdir ---- */

static int dirent_cmp(const void *x, const void *y, void *ctx)
{
	const char *names = ctx;
	const struct vfs_dirent *a = x, *b = y;
	return strcmp(names + a->name_off, names + b->name_off);
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
	vfs_partials_hide(op->c, op->path, d);
	if (d->n > 1)
		qsort_r(d->ents, d->n, sizeof(d->ents[0]), dirent_cmp, d->names);
	for (size_t i = 0; i < d->n + d->nhidden; i++)
		vfs_present_mode(v, &d->ents[i].attr, S_ISDIR(d->ents[i].attr.mode));
	if (v->dc)
		dircache_put(v->dc, op->path, d);
	*op->dir_out = d; /* our reference goes to the caller */
	return 0;
}

int vfs_readdir(struct vfs_conn *c, const char *path, struct vfs_dir **out, vfs_cb cb, void *priv)
{
	struct vfs_op *op = vfs_op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	if (c->v->dc) {
		struct vfs_dir *d = dircache_get(c->v->dc, path);
		if (d) {
			*out = d;
			return vfs_op_fail(op, 0, NULL);
		}
	}
	op->dir = vfs_dir_new();
	op->path = vfs_xstrdup(path);
	if (!op->dir || !op->path) {
		vfs_dir_put(op->dir);
		return vfs_op_fail(op, SMBG_ENOMEM, NULL);
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
		vfs_cache_invalidate_parent(v, op->path);
	if (op->path2)
		vfs_cache_invalidate_parent(v, op->path2);
	if (op->step == 1 && op->path) /* a directory went away or moved */
		dircache_invalidate_tree(v->dc, op->path);
	return 0;
}

static int change_prepare(struct vfs_op *op, const char *p1, const char *p2, int tree)
{
	op->path = vfs_xstrdup(p1);
	op->path2 = p2 ? vfs_xstrdup(p2) : NULL;
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
	struct vfs_op *op = vfs_op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	CHECK_RW(c, op);
	if (vfs_is_root(path))
		return vfs_op_fail(op, SMBG_EEXIST, NULL);
	if (change_prepare(op, path, NULL, 0) < 0)
		return vfs_op_fail(op, SMBG_ENOMEM, NULL);
	c->v->ops->mkdir(c->bc, op, path);
	return 0;
}

int vfs_rmdir(struct vfs_conn *c, const char *path, vfs_cb cb, void *priv)
{
	struct vfs_op *op = vfs_op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	CHECK_RW(c, op);
	if (vfs_is_root(path))
		return vfs_op_fail(op, SMBG_EACCES, "the root cannot be removed");
	if (change_prepare(op, path, NULL, 1) < 0)
		return vfs_op_fail(op, SMBG_ENOMEM, NULL);
	c->v->ops->rmdir(c->bc, op, path);
	return 0;
}

int vfs_unlink(struct vfs_conn *c, const char *path, vfs_cb cb, void *priv)
{
	struct vfs_op *op = vfs_op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	CHECK_RW(c, op);
	if (vfs_is_root(path))
		return vfs_op_fail(op, SMBG_EISDIR, NULL);
	if (change_prepare(op, path, NULL, 0) < 0)
		return vfs_op_fail(op, SMBG_ENOMEM, NULL);
	c->v->ops->unlink(c->bc, op, path);
	return 0;
}

int vfs_rename(struct vfs_conn *c, const char *from, const char *to, int flags, vfs_cb cb,
	       void *priv)
{
	struct vfs_op *op = vfs_op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	CHECK_RW(c, op);
	if (vfs_is_root(from) || vfs_is_root(to))
		return vfs_op_fail(op, SMBG_EACCES, "the root cannot be renamed or replaced");
	size_t fl = strlen(from);
	if (strncmp(to, from, fl) == 0 && (to[fl] == '/' || to[fl] == '\0')) {
		if (to[fl] == '\0')
			return vfs_op_fail(op, 0, NULL); /* same name: nothing to do */
		return vfs_op_fail(op, SMBG_EINVAL, "cannot move a directory into itself");
	}
	if (change_prepare(op, from, to, 1) < 0)
		return vfs_op_fail(op, SMBG_ENOMEM, NULL);
	c->v->ops->rename(c->bc, op, from, to, (flags & VFS_RENAME_REPLACE) != 0);
	return 0;
}

int vfs_link(struct vfs_conn *c, const char *from, const char *to, vfs_cb cb, void *priv)
{
	struct vfs_op *op = vfs_op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	CHECK_RW(c, op);
	if (!(vfs_caps(c->v) & VFS_CAP_HARDLINK) || !c->v->ops->link)
		return vfs_op_fail(op, SMBG_ENOTSUP,
				   "hard links are not supported by this backend");
	if (vfs_is_root(from) || vfs_is_root(to))
		return vfs_op_fail(op, SMBG_EACCES, NULL);
	if (change_prepare(op, to, NULL, 0) < 0)
		return vfs_op_fail(op, SMBG_ENOMEM, NULL);
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
			vfs_op_save(op); /* reported after the close */
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
		vfs_op_restore(op);
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
	struct vfs_op *op = vfs_op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	CHECK_RW(c, op);
	op->sa = *sa;
	if (change_prepare(op, path, NULL, 0) < 0)
		return vfs_op_fail(op, SMBG_ENOMEM, NULL);
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
	struct vfs_op *op = vfs_op_new(c, cb, priv);
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
	struct vfs_op *op = vfs_op_new(c, cb, priv);
	if (!op)
		return SMBG_ENOMEM;
	/* a long file takes long: the reads it makes have their own deadlines */
	op->no_deadline = 1;
	vfs_live_del(op);
	if (c->v->o.no_checksum)
		return vfs_op_fail(op, SMBG_ENOTSUP, "checksums are disabled (--no-checksum)");
	if (c->v->ops->hash) {
		c->v->ops->hash(c->bc, op, path, algo, out, outlen);
		return 0;
	}
	vfs_hash_generic(c, op, path, algo, out, outlen);
	return 0;
}
