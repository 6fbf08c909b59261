/* The VFS core: options, the shared struct vfs (backend, directory cache), listings,
 * attributes as shown (owner, perms) and what the server said lately. The rest of the VFS:
 * vfs_conn.c (operations, deadlines, the completion queue), vfs_path.c (operations by path),
 * vfs_file.c (files), vfs_upload.c (atomic uploads); vfs_internal.h what they share.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "vfs/vfs_internal.h"

#define DIRCACHE_DIRS 4096
#define FRESH_MS      1000 /* what the server said this recently still holds */

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

struct vfs_dir *vfs_dir_new(void)
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

/* ---- attributes as shown ---- */

void vfs_present_mode(const struct vfs *v, struct vfs_attr *a, int is_dir)
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

void vfs_present(const struct vfs *v, const struct vfs_battr *b, struct vfs_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->size = b->size;
	a->nlink = b->nlink;
	a->atime = b->atime;
	a->mtime = b->mtime;
	vfs_present_mode(v, a, b->is_dir);
}

/* ---- what the server said lately ---- */

/* Something changes through the VFS: what any connection learned before may be out of date. */
void vfs_changed(struct vfs *v)
{
	atomic_fetch_add_explicit(&v->gen, 1, memory_order_relaxed);
}

/* Now, as the time a request is sent (what it finds is at least this fresh). */
struct fresh vfs_fresh_now(const struct vfs *v)
{
	struct fresh f = {clock_now_ms(), atomic_load_explicit(&v->gen, memory_order_relaxed)};
	if (f.ms == 0)
		f.ms = 1;
	return f;
}

int vfs_fresh_ok(const struct vfs *v, const struct fresh *f)
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

void vfs_cache_invalidate_parent(struct vfs *v, const char *path)
{
	if (!v->dc)
		return;
	size_t plen;
	(void)vfs_path_base(path, &plen);
	dircache_invalidate(v->dc, path, plen);
}

/* ---- helpers for ops ---- */

char *vfs_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p)
		memcpy(p, s, n);
	return p;
}
