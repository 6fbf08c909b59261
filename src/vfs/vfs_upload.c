/* Atomic uploads (DESIGN decision 13): a file written in cache mode off goes to a temporary
 * name in its folder and is renamed over its name when closed complete (the commit is
 * close_then's, vfs_file.c). Here: the temporary names, the open that creates the temporary
 * or continues an interrupted upload in it (resume), and the cleanup of stale temporaries
 * found in listings.
 *
 * Temporary names: ".NAME.XXXXXXXX.partial" in the folder of NAME, XXXXXXXX a hash of NAME,
 * so that the next upload of NAME finds the data an interrupted one left (resume). A name
 * too long for one component keeps a prefix of NAME (cut at a UTF-8 character boundary); the
 * hash still tells such names apart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util/log.h"
#include "vfs/vfs_internal.h"

/* ---- temporary names ---- */

#define PARTIAL_SUFFIX ".partial"
#define COMPONENT_MAX  255
#define HASH_HEX       8
/* '.' + NAME + '.' + hash + suffix */
#define PARTIAL_EXTRA (1 + 1 + HASH_HEX + sizeof(PARTIAL_SUFFIX) - 1)

static uint32_t fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
}

int vfs_partial_name(const char *path, char *out, size_t outlen)
{
	size_t plen;
	const char *base = vfs_path_base(path, &plen);
	size_t blen = strlen(base);
	size_t keep = blen;
	if (keep > COMPONENT_MAX - PARTIAL_EXTRA) {
		keep = COMPONENT_MAX - PARTIAL_EXTRA;
		while (keep > 0 && ((uint8_t)base[keep] & 0xC0) == 0x80)
			keep--; /* not inside a UTF-8 sequence */
	}
	int n = snprintf(out, outlen, "%.*s%s.%.*s.%08x%s", (int)plen, path, plen ? "/" : "",
			 (int)keep, base, fnv1a(base, blen), PARTIAL_SUFFIX);
	if (n < 0 || (size_t)n >= outlen)
		return SMBG_ENAME;
	return n;
}

int vfs_is_partial_name(const char *name, size_t len)
{
	size_t sl = sizeof(PARTIAL_SUFFIX) - 1;
	if (len < PARTIAL_EXTRA + 1 || name[0] != '.' ||
	    memcmp(name + len - sl, PARTIAL_SUFFIX, sl) != 0)
		return 0;
	const char *h = name + len - sl - HASH_HEX;
	if (h[-1] != '.')
		return 0;
	for (int i = 0; i < HASH_HEX; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return 0;
	return 1;
}

/* Uploads go to temporary names (vfs_open) unless --inplace or another cache mode. */
int vfs_atomic_mode(const struct vfs *v)
{
	return v->o.cache_mode == VFS_CACHE_OFF && !v->o.inplace && !v->o.read_only;
}

/* A copy of path's temporary upload name (NULL without memory or room). */
char *vfs_partial_of(const char *path)
{
	char *p = malloc(VFS_PATH_MAX);
	if (p && vfs_partial_name(path, p, VFS_PATH_MAX) >= 0)
		return p;
	free(p);
	return NULL;
}

/* ---- stale temporaries (in listings) ---- */

/* Removes path/name, a stale temporary upload, without waiting for the answer. */
static void partial_remove(struct vfs_conn *c, const char *dir, const char *name)
{
	struct vfs_op *op = vfs_op_new(c, NULL, NULL);
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
void vfs_partials_hide(struct vfs_conn *c, const char *dir, struct vfs_dir *d)
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

/* ---- the upload's open (resume into the temporary) ---- */

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
	return vfs_open_then(op);
}

int vfs_upload_open(struct vfs_op *op, const char *path, int bflags)
{
	struct vfs_conn *c = op->c;
	struct vfs_file *f = op->f;
	op->path = vfs_xstrdup(path);
	op->path2 = vfs_partial_of(path);
	if (!op->path || !op->path2) {
		vfs_file_put(f);
		return vfs_op_fail(op, SMBG_ENAME, "no room for the upload's temporary name");
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
	if ((vfs_caps(c->v) & VFS_CAP_REMOTE) && (bflags & VFS_O_CREAT) && !(bflags & VFS_O_EXCL)) {
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
