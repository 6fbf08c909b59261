/* SSH_FXP_EXTENDED: the OpenSSH extensions (OpenSSH PROTOCOL section 4). One table says what
 * is advertised in VERSION and what handles each request, so nothing is advertised that is
 * not implemented. */
#include <string.h>

#include "sftp/internal.h"

void sftp_op_expand_path(struct sftp_req *r);

static void bad_message(struct sftp_req *r)
{
	sftp_req_status(r, SMBG_EPROTO, NULL);
}

static void posix_rename_cb(void *priv, int rc, const char *msg)
{
	struct sftp_req *r = priv;
	sftp_access(r->e, "posix-rename", r->path, rc, NULL);
	sftp_cb_status(priv, rc, msg);
}

static void ext_posix_rename(struct sftp_req *r)
{
	if (sftp_req_path(r, &r->path) < 0 || sftp_req_path(r, &r->path2) < 0)
		return;
	int rc = vfs_rename(r->e->vc, r->path, r->path2, VFS_RENAME_REPLACE, posix_rename_cb, r);
	if (rc < 0)
		sftp_req_status(r, rc, NULL);
}

static void hardlink_cb(void *priv, int rc, const char *msg)
{
	struct sftp_req *r = priv;
	sftp_access(r->e, "hardlink", r->path2, rc, NULL);
	sftp_cb_status(priv, rc, msg);
}

static void ext_hardlink(struct sftp_req *r)
{
	if (sftp_req_path(r, &r->path) < 0 || sftp_req_path(r, &r->path2) < 0)
		return;
	int rc = vfs_link(r->e->vc, r->path, r->path2, hardlink_cb, r);
	if (rc < 0)
		sftp_req_status(r, rc, NULL);
}

static void statvfs_cb(void *priv, int rc, const char *msg)
{
	struct sftp_req *r = priv;
	if (rc < 0) {
		sftp_req_status(r, rc, msg);
		return;
	}
	const struct vfs_statfs *s = &r->sfs;
	struct wbuf *b = sftp_reply_begin(r->e, SSH_FXP_EXTENDED_REPLY, r->id);
	sftp_put_u64(b, s->bsize);  /* f_bsize */
	sftp_put_u64(b, s->bsize);  /* f_frsize: blocks are counted in bsize units */
	sftp_put_u64(b, s->blocks); /* f_blocks */
	sftp_put_u64(b, s->bfree);  /* f_bfree */
	sftp_put_u64(b, s->bavail); /* f_bavail */
	sftp_put_u64(b, s->files);  /* f_files */
	sftp_put_u64(b, s->ffree);  /* f_ffree */
	sftp_put_u64(b, s->ffree);  /* f_favail */
	sftp_put_u64(b, 0);	    /* f_fsid */
	sftp_put_u64(b, (s->read_only ? SSH_FXE_STATVFS_ST_RDONLY : 0) | SSH_FXE_STATVFS_ST_NOSUID);
	sftp_put_u64(b, s->namemax ? s->namemax : 255);
	sftp_reply_end(r->e);
	sftp_req_done(r);
}

static void ext_statvfs(struct sftp_req *r)
{
	if (sftp_req_path(r, &r->path) < 0)
		return;
	int rc = vfs_statfs(r->e->vc, r->path, &r->sfs, statvfs_cb, r);
	if (rc < 0)
		sftp_req_status(r, rc, NULL);
}

static void ext_fstatvfs(struct sftp_req *r)
{
	struct sftp_handle *h = sftp_req_handle(r);
	if (!h)
		return;
	int rc = vfs_statfs(r->e->vc, h->path ? h->path : "", &r->sfs, statvfs_cb, r);
	if (rc < 0)
		sftp_req_status(r, rc, NULL);
}

static void ext_limits(struct sftp_req *r)
{
	struct sftp_engine *e = r->e;
	struct wbuf *b = sftp_reply_begin(e, SSH_FXP_EXTENDED_REPLY, r->id);
	sftp_put_u64(b, SFTP_MAX_PACKET);  /* max-packet-length */
	sftp_put_u64(b, SFTP_MAX_DATA);	   /* max-read-length */
	sftp_put_u64(b, SFTP_MAX_DATA);	   /* max-write-length */
	sftp_put_u64(b, e->o.max_handles); /* max-open-handles */
	sftp_reply_end(e);
	sftp_req_done(r);
}

static int always(const struct sftp_engine *e)
{
	(void)e;
	return 1;
}

static int can_hardlink(const struct sftp_engine *e)
{
	return (vfs_caps(e->v) & VFS_CAP_HARDLINK) != 0;
}

static const struct {
	const char *name;
	const char *version;
	int (*available)(const struct sftp_engine *e);
	void (*fn)(struct sftp_req *r);
} extensions[] = {
    {"posix-rename@openssh.com", "1", always, ext_posix_rename},
    {"statvfs@openssh.com", "2", always, ext_statvfs},
    {"fstatvfs@openssh.com", "2", always, ext_fstatvfs},
    {"hardlink@openssh.com", "1", can_hardlink, ext_hardlink},
    {"fsync@openssh.com", "1", always, sftp_op_fsync},
    {"limits@openssh.com", "1", always, ext_limits},
    {"expand-path@openssh.com", "1", always, sftp_op_expand_path},
};

void sftp_put_extensions(struct sftp_engine *e, struct wbuf *b)
{
	for (size_t i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++) {
		if (!extensions[i].available(e))
			continue;
		sftp_put_cstring(b, extensions[i].name);
		sftp_put_cstring(b, extensions[i].version);
	}
}

void sftp_op_extended(struct sftp_req *r)
{
	const uint8_t *name;
	uint32_t len;
	if (sftp_get_string(&r->cur, &name, &len) != 0) {
		bad_message(r);
		return;
	}
	for (size_t i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++) {
		if (strlen(extensions[i].name) == len &&
		    memcmp(extensions[i].name, name, len) == 0 && extensions[i].available(r->e)) {
			extensions[i].fn(r);
			return;
		}
	}
	sftp_req_status(r, SMBG_ENOTSUP, "unsupported extension");
}
