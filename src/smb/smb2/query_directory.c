/* SMB2 QUERY_DIRECTORY (MS-SMB2 2.2.33, 2.2.34) with FileIdFullDirectoryInformation
 * (MS-FSCC 2.4.18). One call is one round; the caller repeats until rc 0 (NO_MORE_FILES). */
#include <stdlib.h>
#include <string.h>

#include "smb/smb2/smb2.h"
#include "util/utf16.h"

#define DIR_OUTPUT_MAX (1024 * 1024)
#define DIRENT_FIXED   80

int smb2_dirinfo_parse(const uint8_t *p, size_t len, smb_dirent_fn fn, void *priv)
{
	size_t off = 0;
	for (;;) {
		struct cursor c;
		uint32_t next, index, attrs, nlen, ea, reserved;
		uint64_t bt, at, wt, ct, eof, alloc, fileid;
		const uint8_t *name;
		if (off > len)
			return SMBG_EPROTO;
		cursor_init(&c, p + off, len - off);
		if (cursor_get_le32(&c, &next) != 0 || cursor_get_le32(&c, &index) != 0 ||
		    cursor_get_le64(&c, &bt) != 0 || cursor_get_le64(&c, &at) != 0 ||
		    cursor_get_le64(&c, &wt) != 0 || cursor_get_le64(&c, &ct) != 0 ||
		    cursor_get_le64(&c, &eof) != 0 || cursor_get_le64(&c, &alloc) != 0 ||
		    cursor_get_le32(&c, &attrs) != 0 || cursor_get_le32(&c, &nlen) != 0 ||
		    cursor_get_le32(&c, &ea) != 0 || cursor_get_le32(&c, &reserved) != 0 ||
		    cursor_get_le64(&c, &fileid) != 0 || cursor_get_ptr(&c, nlen, &name) != 0)
			return SMBG_EPROTO;
		int dot =
		    (nlen == 2 && name[0] == '.' && name[1] == 0) ||
		    (nlen == 4 && name[0] == '.' && name[1] == 0 && name[2] == '.' && name[3] == 0);
		if (!dot) {
			char *u8;
			int rc = utf16_to_utf8(name, nlen, &u8, 0);
			if (rc < 0)
				return rc;
			struct smb_stat st;
			memset(&st, 0, sizeof(st));
			smb_filetime_to_timespec(bt, &st.btime);
			smb_filetime_to_timespec(at, &st.atime);
			smb_filetime_to_timespec(wt, &st.mtime);
			smb_filetime_to_timespec(ct, &st.ctime);
			st.size = eof;
			st.alloc_size = alloc;
			st.attributes = attrs;
			st.is_dir = (attrs & FILE_ATTRIBUTE_DIRECTORY) != 0;
			st.file_id = fileid;
			st.nlink = 1;
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
			struct cursor cur, data;
			uint16_t size, off;
			uint32_t len;
			cursor_init(&cur, m->p, m->len);
			if (cursor_seek(&cur, SMB2_HDR_SIZE) != 0 ||
			    cursor_get_le16(&cur, &size) != 0 || cursor_get_le16(&cur, &off) != 0 ||
			    cursor_get_le32(&cur, &len) != 0 ||
			    smb2_msg_buffer(m, off, len, &data) != 0) {
				rc = smb_failf(c, SMBG_EPROTO,
					       "list %s: malformed QUERY_DIRECTORY response",
					       f->path);
			} else if (len == 0) {
				f->dir_done = 1;
				rc = 0;
			} else {
				rc = smb2_dirinfo_parse(data.p, data.len, (smb_dirent_fn)r->out,
							r->out2);
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
