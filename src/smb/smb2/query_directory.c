/* SMB2 QUERY_DIRECTORY (MS-SMB2 2.2.33, 2.2.34) with FileIdFullDirectoryInformation
 * (MS-FSCC 2.4.18). One call is one round; the caller repeats until rc 0 (NO_MORE_FILES). */
#include <stdlib.h>

#include "smb/fscc.h"
#include "smb/smb2/smb2.h"
#include "util/utf16.h"

#define DIR_OUTPUT_MAX (1024 * 1024)
#define DIRENT_FIXED   80

int smb2_dirinfo_parse(const uint8_t *p, size_t len, smb_dirent_fn fn, void *priv)
{
	size_t off = 0;
	for (;;) {
		struct cursor c;
		struct smb_stat st;
		uint32_t next, nlen, reserved;
		const uint8_t *name;
		if (off > len)
			return SMBG_EPROTO;
		cursor_init(&c, p + off, len - off);
		if (smb_fscc_dirent_parse(&c, &next, &nlen, &st) != 0 ||
		    cursor_get_le32(&c, &reserved) != 0 || cursor_get_le64(&c, &st.file_id) != 0 ||
		    cursor_get_ptr(&c, nlen, &name) != 0)
			return SMBG_EPROTO;
		int dot =
		    (nlen == 2 && name[0] == '.' && name[1] == 0) ||
		    (nlen == 4 && name[0] == '.' && name[1] == 0 && name[2] == '.' && name[3] == 0);
		if (!dot) {
			char *u8;
			int rc = utf16_to_utf8(name, nlen, &u8, 0);
			if (rc < 0)
				return rc;
			rc = fn(priv, u8, &st);
			free(u8);
			if (rc < 0)
				return rc;
		}
		if (next == 0)
			return 0;
		if (next < DIRENT_FIXED || next > len - off)
			return SMBG_EPROTO;
		off += next;
	}
}

/* Counts the entries delivered, and passes over those a listing restarted after a reconnect
 * had already delivered (smb2_reopen sets dir_skip). */
struct dir_shim {
	struct smb_file *f;
	smb_dirent_fn fn;
	void *priv;
};

static int dir_shim(void *priv, const char *name, const struct smb_stat *st)
{
	struct dir_shim *d = priv;
	d->f->dir_seen++;
	if (d->f->dir_skip) {
		d->f->dir_skip--;
		return 0;
	}
	return d->fn(d->priv, name, st);
}

static void qd_done(struct smb_client *c, struct smb2_req *r, int err, const struct smb2_msg *m)
{
	struct smb_file *f = r->file;
	int rc = err;
	if (rc == 0) {
		if (m->status == STATUS_NO_MORE_FILES) {
			f->dir_done = 1;
			rc = 0;
		} else if (m->status != STATUS_SUCCESS) {
			rc = smb2_status_err(c, m, "list", f->path);
		} else {
			struct cursor data;
			if (smb2_output_buffer(m, &data) != 0) {
				rc = smb_failf(c, SMBG_EPROTO,
					       "list %s: malformed QUERY_DIRECTORY response",
					       f->path);
			} else if (data.len == 0) {
				f->dir_done = 1;
				rc = 0;
			} else {
				struct dir_shim d = {f, (smb_dirent_fn)r->out, r->out2};
				rc = smb2_dirinfo_parse(data.p, data.len, dir_shim, &d);
				if (rc == SMBG_EPROTO || rc == SMBG_ENAME)
					rc = smb_failf(c, rc,
						       "list %s: malformed directory entry from "
						       "the server",
						       f->path);
				else if (rc == 0)
					rc = 1;
			}
		}
	}
	smb2_complete(c, r, rc);
}

int smb2_readdir(struct smb_client *c, struct smb_file *f, smb_dirent_fn fn, void *fpriv, smb_cb cb,
		 void *priv)
{
	if (f->dir_done)
		return SMBG_EINVAL;
	struct smb2_req *r = smb2_req_new(c, SMB2_QUERY_DIRECTORY, qd_done);
	if (!r)
		return SMBG_ENOMEM;
	uint32_t outlen = c->max_trans < DIR_OUTPUT_MAX ? c->max_trans : DIR_OUTPUT_MAX;
	if (!c->s2->large_mtu && outlen > 65536)
		outlen = 65536;
	r->file = f;
	r->out = (void *)fn;
	r->out2 = fpriv;
	r->cb = cb;
	r->priv = priv;
	r->payload_size = outlen;
	struct wbuf *b = &r->pdu;
	wbuf_put_le16(b, 33);
	wbuf_put_u8(b, FILE_ID_FULL_DIRECTORY_INFORMATION);
	wbuf_put_u8(b, f->dir_started ? 0 : SMB2_RESTART_SCANS);
	wbuf_put_le32(b, 0);
	smb2_put_fid(b, f);
	wbuf_put_le16(b, SMB2_HDR_SIZE + 32);
	wbuf_put_le16(b, 2); /* "*" */
	wbuf_put_le32(b, outlen);
	wbuf_put_le16(b, '*');
	f->dir_started = 1;
	return smb2_submit(c, r);
}
