/* The open op. Three kinds of handle:
 *  - an NT_CREATE_ANDX handle (a FID) whenever data is read or written, something is created
 *    or truncated, or attributes are set;
 *  - a path handle for opens that only look (stat, statfs) or delete or rename: the server
 *    checks the path with one QUERY_PATH_INFORMATION and no FID is held, so stat costs one
 *    round trip instead of two, and unlink/rmdir/rename use the core commands DELETE,
 *    DELETE_DIRECTORY and RENAME by path (as SMB1 clients always have);
 *  - mkdir (directory, create, exclusive, no stat wanted) is one CREATE_DIRECTORY and gives a
 *    path handle.
 * Operations on a path handle go by path (QUERY/SET_PATH_INFORMATION); reading, writing and
 * listing need a FID and fail with SMBG_EBADF; truncating one fails with SMBG_EACCES, and
 * deleting or renaming needs SMB_O_DELETE, as the same handle would over SMB2. */
#include <stdlib.h>
#include <string.h>

#include "smb/smb1/smb1.h"

#define PATH_FLAGS  (SMB_O_DIR | SMB_O_FILE | SMB_O_DELETE)
#define MKDIR_FLAGS (SMB_O_DIR | SMB_O_CREATE | SMB_O_EXCL)

static void fail_open(struct smb_client *c, struct smb_file *f)
{
	smb1_handle_release(c, f);
	smb_file_free(c, f);
}

static void path_open_done(struct smb_client *c, struct smb1_req *r, int err,
			   const struct smb1_msg *m)
{
	struct smb_file *f = r->file;
	struct smb_stat st;
	int flags = (int)r->u64b;
	int rc = err;
	if (rc == 0 && m->status != SMB1_STATUS_SUCCESS && m->status != SMB1_STATUS_BUFFER_OVERFLOW)
		rc = smb1_status_err(c, m, "open", f->path);
	if (rc == 0 && smb1_allinfo_parse(r->trans->data, r->trans->got_data, &st) < 0)
		rc = smb_failf(c, SMBG_EPROTO, "open %s: malformed QUERY_PATH_INFORMATION response",
			       f->path);
	/* The checks NT_CREATE_ANDX would make with FILE_(NON_)DIRECTORY_FILE. */
	if (rc == 0 && (flags & SMB_O_DIR) && !st.is_dir)
		rc = smb_fail(c, SMBG_ENOTDIR, SMB1_STATUS_NOT_A_DIRECTORY, "open", f->path);
	if (rc == 0 && (flags & SMB_O_FILE) && st.is_dir)
		rc = smb_fail(c, SMBG_EISDIR, SMB1_STATUS_FILE_IS_A_DIRECTORY, "open", f->path);
	if (rc < 0) {
		fail_open(c, f);
	} else {
		f->is_dir = st.is_dir;
		smb1_handle_get(f)->is_dir = st.is_dir;
		if (r->out2)
			*(struct smb_stat *)r->out2 = st;
		*(struct smb_file **)r->out = f;
	}
	smb1_complete(c, r, rc);
}

static void mkdir_done(struct smb_client *c, struct smb1_req *r, int err, const struct smb1_msg *m)
{
	struct smb_file *f = r->file;
	int rc = err;
	if (rc == 0 && m->status != SMB1_STATUS_SUCCESS)
		rc = smb1_status_err(c, m, "mkdir", f->path);
	if (rc < 0) {
		fail_open(c, f);
	} else {
		f->is_dir = 1;
		smb1_handle_get(f)->is_dir = 1;
		*(struct smb_file **)r->out = f;
	}
	smb1_complete(c, r, rc);
}

int smb1_open(struct smb_client *c, const char *path, int flags, int options, struct smb_file **out,
	      struct smb_stat *st, smb_cb cb, void *priv)
{
	struct smb_file *f = smb_file_new(c, path);
	if (!f)
		return SMBG_ENOMEM;
	struct smb1_handle *h = smb1_handle_attach(c, f);
	if (!h) {
		smb_file_free(c, f);
		return SMBG_ENOMEM;
	}
	struct smb1_req *r = NULL;
	int rc;
	h->flags = flags;
	if ((flags & ~PATH_FLAGS) == 0 && options == 0) {
		h->path_only = 1;
		rc = smb1_qpath_req(c, path, path_open_done, &r);
	} else if (flags == MKDIR_FLAGS && options == 0 && !st) {
		h->path_only = 1;
		rc = smb1_mkdir_req(c, path, mkdir_done, &r);
	} else {
		rc = smb1_nt_create(c, f, flags, options, out, st, cb, priv);
		if (rc < 0)
			fail_open(c, f);
		return rc == SMBG_ENAME ? smb_fail(c, rc, 0, "open", path) : rc;
	}
	if (rc < 0) {
		fail_open(c, f);
		return rc == SMBG_ENAME ? smb_fail(c, rc, 0, "open", path) : rc;
	}
	r->file = f;
	r->out = out;
	r->out2 = st;
	r->u64b = (uint64_t)flags;
	r->cb = cb;
	r->priv = priv;
	rc = smb1_submit(c, r);
	if (rc < 0)
		fail_open(c, f);
	return rc;
}
