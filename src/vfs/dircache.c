#include "vfs/dircache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"

struct dc_entry {
	struct dc_entry *next; /* hash chain */
	char *path;
	size_t len;
	uint64_t hash;
	struct vfs_dir *dir;
	int64_t expires_ms; /* CLOCK_MONOTONIC */
};

struct dircache {
	pthread_mutex_t lock;
	int64_t ttl_ms;
	size_t max_dirs;
	size_t count;
	size_t nbuckets; /* power of two */
	struct dc_entry **buckets;
	atomic_uint flush_req; /* bumped by dircache_request_flush (signal handler) */
	unsigned flush_seen;
};

/* FNV-1a: paths are short and trusted to be normalised. */
static uint64_t path_hash(const char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct dircache *dircache_new(int ttl, size_t max_dirs)
{
	struct dircache *dc = calloc(1, sizeof(*dc));
	if (!dc)
		return NULL;
	dc->nbuckets = 256;
	dc->buckets = calloc(dc->nbuckets, sizeof(*dc->buckets));
	if (!dc->buckets) {
		free(dc);
		return NULL;
	}
	pthread_mutex_init(&dc->lock, NULL);
	dc->ttl_ms = (int64_t)ttl * 1000;
	dc->max_dirs = max_dirs ? max_dirs : 1;
	atomic_init(&dc->flush_req, 0);
	return dc;
}

static void entry_free(struct dc_entry *e)
{
	vfs_dir_put(e->dir);
	free(e->path);
	free(e);
}

static void flush_locked(struct dircache *dc)
{
	for (size_t i = 0; i < dc->nbuckets; i++) {
		struct dc_entry *e = dc->buckets[i];
		while (e) {
			struct dc_entry *n = e->next;
			entry_free(e);
			e = n;
		}
		dc->buckets[i] = NULL;
	}
	dc->count = 0;
}

void dircache_free(struct dircache *dc)
{
	if (!dc)
		return;
	flush_locked(dc);
	free(dc->buckets);
	pthread_mutex_destroy(&dc->lock);
	free(dc);
}

/* Called with the lock held, first thing in every operation. */
static void check_flush_locked(struct dircache *dc)
{
	unsigned req = atomic_load(&dc->flush_req);
	if (req != dc->flush_seen) {
		dc->flush_seen = req;
		flush_locked(dc);
	}
}

static struct dc_entry **find_locked(struct dircache *dc, const char *path, size_t len, uint64_t h)
{
	struct dc_entry **pp = &dc->buckets[h & (dc->nbuckets - 1)];
	while (*pp) {
		struct dc_entry *e = *pp;
		if (e->hash == h && e->len == len && memcmp(e->path, path, len) == 0)
			return pp;
		pp = &e->next;
	}
	return pp;
}

/* The fresh entry for path, dropping it when expired. */
static struct dc_entry *get_locked(struct dircache *dc, const char *path, size_t len)
{
	uint64_t h = path_hash(path, len);
	struct dc_entry **pp = find_locked(dc, path, len, h);
	struct dc_entry *e = *pp;
	if (!e)
		return NULL;
	if (e->expires_ms <= clock_now_ms()) {
		*pp = e->next;
		entry_free(e);
		dc->count--;
		return NULL;
	}
	return e;
}

struct vfs_dir *dircache_get(struct dircache *dc, const char *path)
{
	struct vfs_dir *d = NULL;
	pthread_mutex_lock(&dc->lock);
	check_flush_locked(dc);
	struct dc_entry *e = get_locked(dc, path, strlen(path));
	if (e)
		d = vfs_dir_get(e->dir);
	pthread_mutex_unlock(&dc->lock);
	return d;
}

/* Drops expired entries; when still full, drops the entry that expires first. */
static void make_room_locked(struct dircache *dc)
{
	int64_t now = clock_now_ms();
	struct dc_entry **oldest = NULL;
	for (size_t i = 0; i < dc->nbuckets; i++) {
		struct dc_entry **pp = &dc->buckets[i];
		while (*pp) {
			struct dc_entry *e = *pp;
			if (e->expires_ms <= now) {
				*pp = e->next;
				entry_free(e);
				dc->count--;
				continue;
			}
			if (!oldest || e->expires_ms < (*oldest)->expires_ms)
				oldest = pp;
			pp = &e->next;
		}
	}
	if (dc->count >= dc->max_dirs && oldest) {
		struct dc_entry *e = *oldest;
		*oldest = e->next;
		entry_free(e);
		dc->count--;
	}
}

void dircache_put(struct dircache *dc, const char *path, struct vfs_dir *d)
{
	size_t len = strlen(path);
	uint64_t h = path_hash(path, len);
	struct dc_entry *n = calloc(1, sizeof(*n));
	char *p = n ? malloc(len + 1) : NULL;
	if (!p) {
		free(n);
		return; /* not caching is always correct */
	}
	memcpy(p, path, len + 1);
	n->path = p;
	n->len = len;
	n->hash = h;
	n->dir = vfs_dir_get(d);

	pthread_mutex_lock(&dc->lock);
	check_flush_locked(dc);
	n->expires_ms = clock_now_ms() + dc->ttl_ms;
	struct dc_entry **pp = find_locked(dc, path, len, h);
	if (*pp) {
		struct dc_entry *old = *pp;
		*pp = old->next;
		entry_free(old);
		dc->count--;
	}
	if (dc->count >= dc->max_dirs)
		make_room_locked(dc);
	struct dc_entry **b = &dc->buckets[h & (dc->nbuckets - 1)];
	n->next = *b;
	*b = n;
	dc->count++;
	pthread_mutex_unlock(&dc->lock);
}

long vfs_dir_find(const struct vfs_dir *d, const char *name)
{
	size_t lo = 0, hi = d->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(vfs_dirent_name(d, mid), name);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int dircache_lookup(struct dircache *dc, const char *dir, size_t dir_len, const char *name,
		    struct vfs_attr *out)
{
	int rc = 0;
	pthread_mutex_lock(&dc->lock);
	check_flush_locked(dc);
	struct dc_entry *e = get_locked(dc, dir, dir_len);
	if (e) {
		long i = vfs_dir_find(e->dir, name);
		if (i < 0) {
			rc = SMBG_ENOENT;
		} else {
			*out = e->dir->ents[i].attr;
			rc = 1;
		}
	}
	pthread_mutex_unlock(&dc->lock);
	return rc;
}

int dircache_lookup_hidden(struct dircache *dc, const char *dir, size_t dir_len, const char *name,
			   struct vfs_attr *out)
{
	int rc = 0;
	pthread_mutex_lock(&dc->lock);
	check_flush_locked(dc);
	struct dc_entry *e = get_locked(dc, dir, dir_len);
	if (e) {
		rc = SMBG_ENOENT;
		for (size_t i = e->dir->n; i < e->dir->n + e->dir->nhidden; i++) {
			if (strcmp(vfs_dirent_name(e->dir, i), name) == 0) {
				*out = e->dir->ents[i].attr;
				rc = 1;
				break;
			}
		}
	}
	pthread_mutex_unlock(&dc->lock);
	return rc;
}

void dircache_invalidate(struct dircache *dc, const char *path, size_t len)
{
	uint64_t h = path_hash(path, len);
	pthread_mutex_lock(&dc->lock);
	check_flush_locked(dc);
	struct dc_entry **pp = find_locked(dc, path, len, h);
	if (*pp) {
		struct dc_entry *e = *pp;
		*pp = e->next;
		entry_free(e);
		dc->count--;
	}
	pthread_mutex_unlock(&dc->lock);
}

void dircache_invalidate_tree(struct dircache *dc, const char *path)
{
	size_t len = strlen(path);
	pthread_mutex_lock(&dc->lock);
	check_flush_locked(dc);
	for (size_t i = 0; i < dc->nbuckets; i++) {
		struct dc_entry **pp = &dc->buckets[i];
		while (*pp) {
			struct dc_entry *e = *pp;
			/* path itself, or below it ("a" covers "a/b", not "ab"); "" is the root */
			int below = len == 0 || (e->len >= len && memcmp(e->path, path, len) == 0 &&
						 (e->len == len || e->path[len] == '/'));
			if (below) {
				*pp = e->next;
				entry_free(e);
				dc->count--;
				continue;
			}
			pp = &e->next;
		}
	}
	pthread_mutex_unlock(&dc->lock);
}

void dircache_flush(struct dircache *dc)
{
	pthread_mutex_lock(&dc->lock);
	flush_locked(dc);
	pthread_mutex_unlock(&dc->lock);
}

void dircache_request_flush(struct dircache *dc)
{
	atomic_fetch_add(&dc->flush_req, 1);
}

size_t dircache_count(struct dircache *dc)
{
	pthread_mutex_lock(&dc->lock);
	check_flush_locked(dc);
	size_t n = dc->count;
	pthread_mutex_unlock(&dc->lock);
	return n;
}
