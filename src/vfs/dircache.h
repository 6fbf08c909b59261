/* The directory cache: listings by VFS path, kept for --dir-cache-time, shared by every
 * connection of a struct vfs (one mutex, never held across I/O). Entries are answered for
 * stat too: a fresh listing of the parent says whether a name exists. Internal to src/vfs/. */
#ifndef SMBGATE_VFS_DIRCACHE_H
#define SMBGATE_VFS_DIRCACHE_H

#include "vfs/vfs.h"

struct dircache;

/* ttl in seconds (> 0); max_dirs bounds how many listings are kept. NULL on ENOMEM. */
struct dircache *dircache_new(int ttl, size_t max_dirs);
void dircache_free(struct dircache *dc);

/* A fresh listing of path (a new reference, caller puts it), or NULL. */
struct vfs_dir *dircache_get(struct dircache *dc, const char *path);
/* Stores d for path (takes a new reference of its own; replaces an older listing). */
void dircache_put(struct dircache *dc, const char *path, struct vfs_dir *d);
/* Looks name up in the fresh listing of dir: 1 found (*out filled), 0 not cached,
 * SMBG_ENOENT when the listing is fresh and has no such name. */
int dircache_lookup(struct dircache *dc, const char *dir, size_t dir_len, const char *name,
		    struct vfs_attr *out);
/* Forgets the listing of path. */
/* The same among the hidden entries of the listing (temporary uploads). */
int dircache_lookup_hidden(struct dircache *dc, const char *dir, size_t dir_len, const char *name,
			   struct vfs_attr *out);
void dircache_invalidate(struct dircache *dc, const char *path, size_t len);
/* Forgets path and every listing below it (a directory renamed or removed). */
void dircache_invalidate_tree(struct dircache *dc, const char *path);
/* Forgets everything, now. */
void dircache_flush(struct dircache *dc);
/* Forgets everything at the next use. Async-signal-safe. */
void dircache_request_flush(struct dircache *dc);
/* Number of listings held (tests). */
size_t dircache_count(struct dircache *dc);

/* Binary search of name in a sorted listing: the index, or -1. */
long vfs_dir_find(const struct vfs_dir *d, const char *name);

#endif
