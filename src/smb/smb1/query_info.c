/* TRANS2_QUERY_PATH_INFORMATION, TRANS2_QUERY_FILE_INFORMATION (MS-CIFS 2.2.6.6, 2.2.6.8) with
 * SMB_QUERY_FILE_ALL_INFO (2.2.8.3.10), and TRANS2_QUERY_FS_INFORMATION (2.2.6.4) with the
 * pass-through FileFsFullSizeInformation (quota-aware, MS-SMB 2.2.2.3.5) where the server
 * offers pass-through levels, SMB_QUERY_FS_SIZE_INFO (2.2.8.2.3) otherwise. */
#include <string.h>

#include "smb/fscc.h"
#include "smb/smb1/smb1.h"

#define ALLINFO_FIXED	 72
#define ALLINFO_MAX_DATA 4096 /* the fixed part and a long name; more is cut (BUFFER_OVERFLOW) */
#define QUERY_MAX_PARAM	 8

int smb1_allinfo_parse(const uint8_t *p, size_t len, struct smb_stat *st)
{
	struct cursor c;
	cursor_init(&c, p, len);
	return smb_fscc_basic_standard_parse(&c, st);
}

int smb1_fsinfo_parse(uint16_t level, const uint8_t *p, size_t len, struct smb_statfs *st)
{
	struct cursor c;
	cursor_init(&c, p, len);
	return smb_fscc_fs_size_parse(&c, level == SMB1_PASS_FS_FULL_SIZE_INFORMATION, st);
}

/* Done for stat-like queries: r->out is the smb_stat, r->ctx the operation name. */
static void stat_done(struct smb_client *c, struct smb1_req *r, int err, const struct smb1_msg *m)
{
	const char *path = r->file ? r->file->path : (const char *)r->out2;
	int rc = err;
	if (rc == 0) {
		if (m->status != SMB1_STATUS_SUCCESS && m->status != SMB1_STATUS_BUFFER_OVERFLOW)
			rc = smb1_status_err(c, m, "stat", path);
		else if (smb1_allinfo_parse(r->trans->data, r->trans->got_data, r->out) < 0)
			rc = smb_failf(c, SMBG_EPROTO,
				       "stat %s: malformed QUERY_INFORMATION "
				       "response",
				       path);
	}
	smb1_complete(c, r, rc);
}

int smb1_qpath_req(struct smb_client *c, const char *path, smb1_done_fn done, struct smb1_req **out)
{
	struct wbuf params;
	wbuf_init(&params);
	wbuf_put_le16(&params, SMB1_QUERY_FILE_ALL_INFO);
	wbuf_put_le32(&params, 0); /* Reserved */
	int rc = smb1_put_string_raw(c, &params, path, 1);
	if (rc == 0) {
		*out = smb1_trans2_new(c, SMB1_TRANS2_QUERY_PATH_INFORMATION, &params, NULL, 0,
				       QUERY_MAX_PARAM, ALLINFO_MAX_DATA, done);
		rc = *out ? 0 : SMBG_ENOMEM;
	}
	wbuf_free(&params);
	return rc;
}

int smb1_query_path(struct smb_client *c, const char *path, struct smb_stat *st, smb_cb cb,
		    void *priv)
{
	struct smb1_req *r;
	int rc = smb1_qpath_req(c, path, stat_done, &r);
	if (rc < 0)
		return rc == SMBG_ENAME ? smb_fail(c, rc, 0, "stat", path) : rc;
	r->out = st;
	r->out2 = (void *)path;
	r->cb = cb;
	r->priv = priv;
	return smb1_submit(c, r);
}

int smb1_fstat(struct smb_client *c, struct smb_file *f, struct smb_stat *st, smb_cb cb, void *priv)
{
	struct smb1_handle *h = smb1_handle_get(f);
	struct smb1_req *r;
	int rc;
	if (h && h->path_only) {
		rc = smb1_qpath_req(c, f->path, stat_done, &r);
		if (rc < 0)
			return rc == SMBG_ENAME ? smb_fail(c, rc, 0, "stat", f->path) : rc;
	} else {
		struct wbuf params;
		wbuf_init(&params);
		wbuf_put_le16(&params, f->fid16);
		wbuf_put_le16(&params, SMB1_QUERY_FILE_ALL_INFO);
		r = smb1_trans2_new(c, SMB1_TRANS2_QUERY_FILE_INFORMATION, &params, NULL, 0,
				    QUERY_MAX_PARAM, ALLINFO_MAX_DATA, stat_done);
		wbuf_free(&params);
		if (!r)
			return SMBG_ENOMEM;
	}
	r->file = f;
	r->out = st;
	r->cb = cb;
	r->priv = priv;
	return smb1_submit(c, r);
}

static void fs_done(struct smb_client *c, struct smb1_req *r, int err, const struct smb1_msg *m)
{
	int rc = err;
	if (rc == 0) {
		if (m->status != SMB1_STATUS_SUCCESS)
			rc = smb1_status_err(c, m, "statfs", r->file->path);
		else if (smb1_fsinfo_parse((uint16_t)r->u64, r->trans->data, r->trans->got_data,
					   r->out) < 0)
			rc = smb_failf(c, SMBG_EPROTO,
				       "statfs %s: malformed "
				       "QUERY_FS_INFORMATION response",
				       r->file->path);
	}
	smb1_complete(c, r, rc);
}

int smb1_statfs(struct smb_client *c, struct smb_file *f, struct smb_statfs *st, smb_cb cb,
		void *priv)
{
	/* The answer is for the share's file system whatever f names: no FID is needed. */
	uint16_t level = (smb1_st(c)->server_caps & SMB1_CAP_INFOLEVEL_PASSTHRU)
			     ? SMB1_PASS_FS_FULL_SIZE_INFORMATION
			     : SMB1_QUERY_FS_SIZE_INFO;
	struct wbuf params;
	wbuf_init(&params);
	wbuf_put_le16(&params, level);
	struct smb1_req *r = smb1_trans2_new(c, SMB1_TRANS2_QUERY_FS_INFORMATION, &params, NULL, 0,
					     QUERY_MAX_PARAM, 64, fs_done);
	wbuf_free(&params);
	if (!r)
		return SMBG_ENOMEM;
	r->file = f;
	r->out = st;
	r->u64 = level;
	r->cb = cb;
	r->priv = priv;
	return smb1_submit(c, r);
}
