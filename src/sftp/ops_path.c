/* Requests on paths: STAT, LSTAT, SETSTAT, OPENDIR, READDIR, REMOVE, MKDIR, RMDIR, REALPATH,
 * RENAME, READLINK, SYMLINK. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sftp/internal.h"
#include "util/log.h"

/* A READDIR reply stops growing past this (OpenSSH's client takes up to 256 KiB). */
#define READDIR_REPLY_MAX (128 * 1024)

static void bad_message(struct sftp_req *r)
{
	sftp_req_status(r, SMBG_EPROTO, NULL);
}

void sftp_access(struct sftp_engine *e, const char *op, const char *path, int rc, const char *extra)
{
	if (!e->o.access_log)
		return;
	log_info("%s %s /%s%s%s: %s", e->o.who ? e->o.who : "-", op, path ? path : "",
		 extra ? " " : "", extra ? extra : "", rc < 0 ? sftp_status_message(rc) : "ok");
}

static void attrs_cb(void *priv, int rc, const char *msg)
{
	struct sftp_req *r = priv;
	if (rc < 0) {
		sftp_req_status(r, rc, msg);
		return;
	}
	struct wbuf *b = sftp_reply_begin(r->e, SSH_FXP_ATTRS, r->id);
	sftp_put_attrs(b, &r->attr);
	sftp_reply_end(r->e);
	sftp_req_done(r);
}

static void logged_status_cb(void *priv, int rc, const char *msg)
{
	struct sftp_req *r = priv;
	static const char *const names[] = {
	    [SSH_FXP_SETSTAT] = "setstat", [SSH_FXP_REMOVE] = "remove",
	    [SSH_FXP_MKDIR] = "mkdir",	   [SSH_FXP_RMDIR] = "rmdir",
	    [SSH_FXP_RENAME] = "rename",   [SSH_FXP_EXTENDED] = "extended",
	};
	const char *op = r->type < sizeof(names) / sizeof(names[0]) && names[r->type]
			     ? names[r->type]
			     : "request";
	if (r->e->o.access_log) {
		char extra[VFS_PATH_MAX + 8];
		if (r->path2)
			snprintf(extra, sizeof(extra), "-> /%s", r->path2);
		sftp_access(r->e, op, r->path, rc, r->path2 ? extra : NULL);
	}
	sftp_cb_status(priv, rc, msg);
}

void sftp_op_stat(struct sftp_req *r)
{
	if (sftp_req_path(r, &r->path) < 0)
		return;
	/* symbolic links are followed in the backend, so LSTAT and STAT agree */
	int rc = vfs_stat(r->e->vc, r->path, &r->attr, attrs_cb, r);
	if (rc < 0)
		sftp_req_status(r, rc, NULL);
}

void sftp_op_setstat(struct sftp_req *r)
{
	struct sftp_attrs a;
	if (sftp_req_path(r, &r->path) < 0)
		return;
	if (sftp_get_attrs(&r->cur, &a) != 0) {
		bad_message(r);
		return;
	}
	sftp_attrs_to_setattr(&a, &r->sa);
	int rc = vfs_setattr(r->e->vc, r->path, &r->sa, logged_status_cb, r);
	if (rc < 0)
		sftp_req_status(r, rc, NULL);
}

/* ---- directories ---- */

static void opendir_cb(void *priv, int rc, const char *msg)
{
	struct sftp_req *r = priv;
	struct sftp_engine *e = r->e;
	struct sftp_handle *h = r->nh;
	r->nh = NULL;
	sftp_access(e, "opendir", r->path, rc, NULL);
	if (rc < 0) {
		sftp_handle_release(e, h);
		sftp_req_status(r, rc, msg);
		return;
	}
	h->dir = r->dir;
	r->dir = NULL;
	h->path = r->path;
	r->path = NULL;
	h->ready = 1;
	if (e->shutting) { /* the session ended meanwhile */
		sftp_handle_shut(e, h);
		sftp_req_done(r);
		return;
	}
	struct wbuf *b = sftp_reply_begin(e, SSH_FXP_HANDLE, r->id);
	sftp_put_handle(b, h);
	sftp_reply_end(e);
	sftp_req_done(r);
}

void sftp_op_opendir(struct sftp_req *r)
{
	struct sftp_engine *e = r->e;
	if (sftp_req_path(r, &r->path) < 0)
		return;
	r->nh = sftp_handle_new(e, H_DIR);
	if (!r->nh) {
		char m[96];
		snprintf(m, sizeof(m), "too many open handles (at most %zu per session)",
			 e->o.max_handles);
		sftp_req_status(r, SMBG_EBUSY, m);
		return;
	}
	/* the listing is read now: it answers whether the directory exists, and READDIR then
	 * pages through it from memory */
	int rc = vfs_readdir(e->vc, r->path, &r->dir, opendir_cb, r);
	if (rc < 0) {
		sftp_handle_release(e, r->nh);
		r->nh = NULL;
		sftp_req_status(r, rc, NULL);
	}
}

void sftp_op_readdir(struct sftp_req *r)
{
	struct sftp_engine *e = r->e;
	struct sftp_handle *h = sftp_req_handle(r);
	if (!h)
		return;
	if (h->type != H_DIR) {
		sftp_req_status(r, SMBG_EBADF, "not a directory handle");
		return;
	}
	const struct vfs_dir *d = h->dir;
	if (h->dir_pos >= d->n) {
		sftp_req_status(r, SMBG_EOF, NULL);
		return;
	}
	time_t now = time(NULL);
	struct wbuf *b = sftp_reply_begin(e, SSH_FXP_NAME, r->id);
	size_t count_at = b->len;
	wbuf_put_be32(b, 0);
	uint32_t count = 0;
	while (h->dir_pos < d->n && b->len < READDIR_REPLY_MAX) {
		const struct vfs_dirent *de = &d->ents[h->dir_pos];
		const char *name = vfs_dirent_name(d, h->dir_pos);
		sftp_put_string(b, name, de->name_len);
		sftp_put_longname(b, name, &de->attr, e->uname, e->gname, now);
		sftp_put_attrs(b, &de->attr);
		h->dir_pos++;
		count++;
	}
	if (!wbuf_error(b)) {
		b->p[count_at] = (uint8_t)(count >> 24);
		b->p[count_at + 1] = (uint8_t)(count >> 16);
		b->p[count_at + 2] = (uint8_t)(count >> 8);
		b->p[count_at + 3] = (uint8_t)count;
	}
	sftp_reply_end(e);
	sftp_req_done(r);
}

void sftp_op_remove(struct sftp_req *r)
{
	if (sftp_req_path(r, &r->path) < 0)
		return;
	int rc = vfs_unlink(r->e->vc, r->path, logged_status_cb, r);
	if (rc < 0)
		sftp_req_status(r, rc, NULL);
}

void sftp_op_mkdir(struct sftp_req *r)
{
	struct sftp_attrs a;
	if (sftp_req_path(r, &r->path) < 0)
		return;
	if (sftp_get_attrs(&r->cur, &a) != 0) {
		bad_message(r);
		return;
	}
	int rc = vfs_mkdir(r->e->vc, r->path, logged_status_cb, r);
	if (rc < 0)
		sftp_req_status(r, rc, NULL);
}

void sftp_op_rmdir(struct sftp_req *r)
{
	if (sftp_req_path(r, &r->path) < 0)
		return;
	int rc = vfs_rmdir(r->e->vc, r->path, logged_status_cb, r);
	if (rc < 0)
		sftp_req_status(r, rc, NULL);
}

/* Replies with one name: the absolute form of a VFS path. */
static void reply_one_name(struct sftp_req *r, const char *path)
{
	struct sftp_engine *e = r->e;
	size_t n = strlen(path);
	struct wbuf *b = sftp_reply_begin(e, SSH_FXP_NAME, r->id);
	wbuf_put_be32(b, 1);
	for (int i = 0; i < 2; i++) { /* filename, then the same as longname */
		wbuf_put_be32(b, (uint32_t)(n + 1));
		wbuf_put_u8(b, '/');
		wbuf_put_bytes(b, path, n);
	}
	wbuf_put_be32(b, 0); /* no attributes */
	sftp_reply_end(e);
	sftp_req_done(r);
}

void sftp_op_realpath(struct sftp_req *r)
{
	/* normalised lexically, `..` stopping at the root; the path need not exist (clients
	 * ask for the real path of files they are about to create) */
	if (sftp_req_path(r, &r->path) < 0)
		return;
	reply_one_name(r, r->path);
}

void sftp_op_expand_path(struct sftp_req *r)
{
	const uint8_t *p;
	uint32_t len;
	if (sftp_get_string(&r->cur, &p, &len) != 0) {
		bad_message(r);
		return;
	}
	/* the home directory is the root: "~" and "~/x" expand to "/" and "/x" */
	if (len >= 1 && p[0] == '~') {
		if (len >= 2 && p[1] != '/') {
			sftp_req_status(r, SMBG_ENOENT, "no such user (only ~ is known)");
			return;
		}
		p++;
		len--;
	}
	r->path = malloc(VFS_PATH_MAX);
	if (!r->path) {
		sftp_req_status(r, SMBG_ENOMEM, NULL);
		return;
	}
	int n = vfs_path_normalize((const char *)p, len, "", r->path, VFS_PATH_MAX);
	if (n < 0) {
		sftp_req_status(r, n, "invalid path");
		return;
	}
	reply_one_name(r, r->path);
}

void sftp_op_rename(struct sftp_req *r)
{
	if (sftp_req_path(r, &r->path) < 0 || sftp_req_path(r, &r->path2) < 0)
		return;
	/* version 3 RENAME does not replace an existing target (posix-rename does) */
	int rc = vfs_rename(r->e->vc, r->path, r->path2, 0, logged_status_cb, r);
	if (rc < 0)
		sftp_req_status(r, rc, NULL);
}

void sftp_op_readlink(struct sftp_req *r)
{
	const uint8_t *p;
	uint32_t len;
	if (sftp_get_string(&r->cur, &p, &len) != 0) {
		bad_message(r);
		return;
	}
	sftp_req_status(r, SMBG_ENOTSUP, "symbolic links are not supported");
}

void sftp_op_symlink(struct sftp_req *r)
{
	const uint8_t *p;
	uint32_t len;
	if (sftp_get_string(&r->cur, &p, &len) != 0 || sftp_get_string(&r->cur, &p, &len) != 0) {
		bad_message(r);
		return;
	}
	sftp_req_status(r, SMBG_ENOTSUP, "symbolic links are not supported");
}
