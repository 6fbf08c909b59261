/* TRANS2_SET_FILE_INFORMATION and TRANS2_SET_PATH_INFORMATION (MS-CIFS 2.2.6.9, 2.2.6.7):
 * times (SMB_SET_FILE_BASIC_INFO), size (SMB_SET_FILE_END_OF_FILE_INFO), delete
 * (SMB_SET_FILE_DISPOSITION_INFO) and rename (pass-through FileRenameInformation, MS-SMB
 * 2.2.2.3.9 / MS-FSCC 2.4.37 in its 32-bit form; within one directory only, as SMB1 servers
 * take it). A FID handle uses the FILE form, a path handle (open.c) the PATH form; a path handle
 * is deleted with DELETE / DELETE_DIRECTORY and renamed with RENAME, the commands SMB1 has for
 * that, and so is a FID handle moved to another directory. */
#include <stdlib.h>
#include <string.h>

#include "smb/smb1/smb1.h"
#include "util/log.h"

#define SET_MAX_PARAM 2

static struct smb1_req *set_req(struct smb_client *c, struct smb_file *f, uint16_t level,
				const struct wbuf *data, const char *op, smb_cb cb, void *priv,
				int *err)
{
	struct smb1_handle *h = smb1_handle_get(f);
	struct wbuf params;
	struct smb1_req *r;
	int path = h && h->path_only;
	*err = 0;
	wbuf_init(&params);
	if (path) {
		wbuf_put_le16(&params, level);
		wbuf_put_le32(&params, 0); /* Reserved */
		*err = smb1_put_string_raw(c, &params, f->path, 1);
	} else {
		wbuf_put_le16(&params, f->fid16);
		wbuf_put_le16(&params, level);
		wbuf_put_le16(&params, 0); /* Reserved */
	}
	r = *err < 0
		? NULL
		: smb1_trans2_new(
		      c, path ? SMB1_TRANS2_SET_PATH_INFORMATION : SMB1_TRANS2_SET_FILE_INFORMATION,
		      &params, data->p, data->len, SET_MAX_PARAM, 0, smb1_done_status);
	wbuf_free(&params);
	if (!r) {
		if (*err == SMBG_ENAME)
			*err = smb_fail(c, *err, 0, op, f->path);
		else if (*err == 0)
			*err = SMBG_ENOMEM;
		return NULL;
	}
	r->ctx = (void *)op;
	r->file = f;
	r->cb = cb;
	r->priv = priv;
	return r;
}

static int set_info(struct smb_client *c, struct smb_file *f, uint16_t level, struct wbuf *data,
		    const char *op, smb_cb cb, void *priv)
{
	int rc = wbuf_error(data);
	struct smb1_req *r = rc < 0 ? NULL : set_req(c, f, level, data, op, cb, priv, &rc);
	wbuf_free(data);
	if (!r)
		return rc < 0 ? rc : SMBG_ENOMEM;
	return smb1_submit(c, r);
}

int smb1_set_times(struct smb_client *c, struct smb_file *f, uint64_t atime, uint64_t mtime,
		   smb_cb cb, void *priv)
{
	struct wbuf d;
	wbuf_init(&d);
	wbuf_put_le64(&d, 0); /* CreationTime: unchanged */
	wbuf_put_le64(&d, atime);
	wbuf_put_le64(&d, mtime);
	wbuf_put_le64(&d, 0); /* ChangeTime */
	wbuf_put_le32(&d, 0); /* ExtFileAttributes: unchanged */
	wbuf_put_le32(&d, 0); /* Reserved */
	return set_info(c, f, SMB1_SET_FILE_BASIC_INFO, &d, "set times", cb, priv);
}

/* A path handle was opened without write access, as SMB2 would refuse it. */
static int path_denied(struct smb_client *c, struct smb_file *f, int need, const char *op)
{
	struct smb1_handle *h = smb1_handle_get(f);
	if (!h || !h->path_only || (need && (h->flags & need)))
		return 0;
	return smb_fail(c, SMBG_EACCES, 0xC0000022u /* ACCESS_DENIED */, op, f->path);
}

int smb1_set_size(struct smb_client *c, struct smb_file *f, uint64_t size, smb_cb cb, void *priv)
{
	int rc = path_denied(c, f, 0, "truncate");
	if (rc < 0)
		return rc;
	struct wbuf d;
	wbuf_init(&d);
	wbuf_put_le64(&d, size);
	return set_info(c, f, SMB1_SET_FILE_END_OF_FILE_INFO, &d, "truncate", cb, priv);
}

/* ---- delete ---- */

static void carrier_done(struct smb_client *c, struct smb1_req *r, int err,
			 const struct smb1_msg *m)
{
	smb1_complete(c, r, err);
}

int smb1_set_delete(struct smb_client *c, struct smb_file *f, int del, smb_cb cb, void *priv)
{
	struct smb1_handle *h = smb1_handle_get(f);
	int rc = path_denied(c, f, SMB_O_DELETE, "delete");
	if (rc < 0)
		return rc;
	if (h && h->path_only) {
		if (del)
			return h->is_dir ? smb1_rmdir_path(c, f->path, cb, priv)
					 : smb1_delete_path(c, f->path, cb, priv);
		/* Nothing to undo: answer through an ECHO, so the callback runs from the event
		 * loop like any other. */
		struct smb1_req *r = smb1_echo_req(c, carrier_done);
		if (!r)
			return SMBG_ENOMEM;
		r->cb = cb;
		r->priv = priv;
		return smb1_submit(c, r);
	}
	struct wbuf d;
	wbuf_init(&d);
	wbuf_put_u8(&d, del ? 1 : 0);
	return set_info(c, f, SMB1_SET_FILE_DISPOSITION_INFO, &d, "delete", cb, priv);
}

/* ---- rename ---- */

/* 1 when from and to are in the same directory (FileRenameInformation over SMB1 takes a bare
 * name only). */
static int same_dir(const char *from, const char *to)
{
	const char *a = strrchr(from, '/'), *b = strrchr(to, '/');
	size_t la = a ? (size_t)(a - from) : 0, lb = b ? (size_t)(b - to) : 0;
	return la == lb && memcmp(from, to, la) == 0;
}

struct mv_ctx {
	struct smb_file *f;
	char *to;
	int replace;
	int retried;
	smb_cb cb;
	void *priv;
};

static void mv_free(struct mv_ctx *x)
{
	free(x->to);
	free(x);
}

static void mv_finish(struct smb_client *c, struct mv_ctx *x, int rc)
{
	if (rc == 0) {
		struct smb1_handle *h = smb1_handle_get(x->f);
		/* A path handle follows its file to the new name. */
		if (h && h->path_only) {
			char *p = strdup(x->to);
			if (p) {
				free(x->f->path);
				x->f->path = p;
			}
		}
	}
	smb_cb cb = x->cb;
	void *priv = x->priv;
	mv_free(x);
	if (cb)
		cb(c, rc, priv);
}

static void mv_renamed(struct smb_client *c, int rc, void *priv);

static void mv_deleted(struct smb_client *c, int rc, void *priv)
{
	struct mv_ctx *x = priv;
	if (rc < 0) {
		mv_finish(c, x, rc);
		return;
	}
	rc = smb1_rename_path(c, x->f->path, x->to, mv_renamed, x);
	if (rc < 0)
		mv_finish(c, x, rc);
}

static void mv_renamed(struct smb_client *c, int rc, void *priv)
{
	struct mv_ctx *x = priv;
	if (rc == SMBG_EEXIST && x->replace && !x->retried) {
		/* RENAME does not replace: delete the target, then rename again. Not atomic,
		 * but the only way on servers without pass-through levels. */
		x->retried = 1;
		log_debug("smb1: rename target %s exists: deleting it first", x->to);
		rc = smb1_delete_path(c, x->to, mv_deleted, x);
		if (rc == 0)
			return;
	}
	mv_finish(c, x, rc);
}

int smb1_rename(struct smb_client *c, struct smb_file *f, const char *to, int replace, smb_cb cb,
		void *priv)
{
	struct smb1_handle *h = smb1_handle_get(f);
	int passthru = (smb1_st(c)->server_caps & SMB1_CAP_INFOLEVEL_PASSTHRU) != 0;
	int denied = path_denied(c, f, SMB_O_DELETE, "rename");
	if (denied < 0)
		return denied;
	if (passthru && h && !h->path_only && same_dir(f->path, to)) {
		/* Through the handle (RENAME of a file we hold open is a sharing violation on
		 * Samba), atomic when replacing: ReplaceIfExists, RootDirectory 0, the new name
		 * without its directory. */
		const char *base = strrchr(to, '/');
		base = base ? base + 1 : to;
		struct wbuf d, name;
		wbuf_init(&d);
		wbuf_init(&name);
		int rc = smb1_put_string_raw(c, &name, base, 0);
		if (rc < 0) {
			wbuf_free(&name);
			wbuf_free(&d);
			return rc == SMBG_ENAME ? smb_fail(c, rc, 0, "rename to", to) : rc;
		}
		size_t nlen = name.len - (smb1_st(c)->unicode ? 2 : 1); /* without the NUL */
		wbuf_put_u8(&d, replace ? 1 : 0);
		wbuf_put_zero(&d, 3);
		wbuf_put_le32(&d, 0);
		wbuf_put_le32(&d, (uint32_t)nlen);
		wbuf_put_bytes(&d, name.p, nlen);
		wbuf_free(&name);
		return set_info(c, f, SMB1_PASS_FILE_RENAME_INFORMATION, &d, "rename", cb, priv);
	}
	struct mv_ctx *x = calloc(1, sizeof(*x));
	if (!x)
		return SMBG_ENOMEM;
	x->f = f;
	x->to = strdup(to);
	x->replace = replace;
	x->cb = cb;
	x->priv = priv;
	if (!x->to) {
		mv_free(x);
		return SMBG_ENOMEM;
	}
	int rc = smb1_rename_path(c, f->path, to, mv_renamed, x);
	if (rc < 0)
		mv_free(x);
	return rc;
}
