/* TRANS2_FIND_FIRST2 / TRANS2_FIND_NEXT2 (MS-CIFS 2.2.6.2, 2.2.6.3) with
 * SMB_FIND_FILE_BOTH_DIRECTORY_INFO entries (2.2.8.1.7), and FIND_CLOSE2 (2.2.4.48). One call
 * of the readdir op is one round; the search continues from the last name until the server
 * reports the end (it then closes the search itself: CLOSE_AT_EOS). */
#include <stdlib.h>
#include <string.h>

#include "smb/fscc.h"
#include "smb/smb1/smb1.h"

#define BOTH_DIR_FIXED 94 /* bytes before FileName */
#define FIND_MAX_DATA  0xFFFF
#define FIND_MAX_PARAM 16

int smb1_find_parse(int unicode, const uint8_t *p, size_t len, smb_dirent_fn fn, void *priv,
		    char **last)
{
	size_t off = 0;
	*last = NULL;
	while (off < len) {
		struct cursor c;
		struct smb_stat st;
		uint32_t next, nlen;
		uint8_t short_len, reserved;
		const uint8_t *name;
		cursor_init(&c, p + off, len - off);
		if (smb_fscc_dirent_parse(&c, &next, &nlen, &st) != 0 ||
		    cursor_get_u8(&c, &short_len) != 0 || cursor_get_u8(&c, &reserved) != 0 ||
		    cursor_skip(&c, 24) != 0 || cursor_get_ptr(&c, nlen, &name) != 0)
			return SMBG_EPROTO;
		char *u8;
		int rc = smb1_get_string(unicode, name, nlen, &u8);
		if (rc < 0)
			return rc;
		if (strcmp(u8, ".") != 0 && strcmp(u8, "..") != 0) {
			if (!*u8 || strchr(u8, '/')) {
				free(u8);
				return SMBG_ENAME; /* no usable name: the server is broken */
			}
			rc = fn(priv, u8, &st);
			if (rc < 0) {
				free(u8);
				return rc;
			}
		}
		free(*last);
		*last = u8;
		/* The last entry has NextEntryOffset 0, or one that points at the end. */
		if (next == 0 || next >= len - off)
			return 0;
		if (next < BOTH_DIR_FIXED)
			return SMBG_EPROTO;
		off += next;
	}
	return 0;
}

static void find_done(struct smb_client *c, struct smb1_req *r, int err, const struct smb1_msg *m)
{
	struct smb_file *f = r->file;
	struct smb1_handle *h = smb1_handle_get(f);
	int first = r->u64 != 0;
	int rc = err;
	if (rc < 0)
		goto out;
	if (m->status == SMB1_STATUS_NO_MORE_FILES ||
	    (first && (m->status == SMB1_STATUS_NO_SUCH_FILE ||
		       m->status == SMB1_STATUS_OBJECT_NAME_NOT_FOUND))) {
		/* An empty match; the search is closed. */
		f->dir_done = 1;
		h->sid_open = 0;
		goto out;
	}
	if (m->status != SMB1_STATUS_SUCCESS) {
		rc = smb1_status_err(c, m, "list", f->path);
		goto out;
	}
	struct cursor pc;
	uint16_t sid = 0, count, eos, ea_off, last_off;
	cursor_init(&pc, r->trans->param, r->trans->got_param);
	if ((first && cursor_get_le16(&pc, &sid) != 0) || cursor_get_le16(&pc, &count) != 0 ||
	    cursor_get_le16(&pc, &eos) != 0 || cursor_get_le16(&pc, &ea_off) != 0 ||
	    cursor_get_le16(&pc, &last_off) != 0) {
		rc = smb_failf(c, SMBG_EPROTO, "list %s: malformed FIND response", f->path);
		goto out;
	}
	if (first) {
		h->sid = sid;
		h->sid_open = 1;
	}
	char *last = NULL;
	rc = smb1_find_parse(smb1_st(c)->unicode, r->trans->data, r->trans->got_data,
			     (smb_dirent_fn)r->out, r->out2, &last);
	if (rc == SMBG_EPROTO || rc == SMBG_ENAME) {
		free(last);
		rc =
		    smb_failf(c, rc, "list %s: malformed directory entry from the server", f->path);
		goto out;
	}
	if (rc < 0) {
		free(last);
		goto out;
	}
	free(h->resume_name);
	h->resume_name = last;
	if (eos || count == 0 || !last) {
		f->dir_done = 1;
		if (eos)
			h->sid_open = 0; /* CLOSE_AT_EOS: the server has closed it */
		rc = 0;
	} else {
		rc = 1;
	}
out:
	smb1_complete(c, r, rc);
}

/* The search pattern: the directory and "*" (MS-CIFS 2.2.1.1.3 wildcards). */
static char *pattern_for(const char *path)
{
	size_t n = strlen(path);
	char *p = malloc(n + 3);
	if (!p)
		return NULL;
	memcpy(p, path, n);
	if (n)
		p[n++] = '/';
	p[n++] = '*';
	p[n] = 0;
	return p;
}

int smb1_readdir(struct smb_client *c, struct smb_file *f, smb_dirent_fn fn, void *fpriv, smb_cb cb,
		 void *priv)
{
	struct smb1_state *s = smb1_st(c);
	struct smb1_handle *h = smb1_handle_get(f);
	if (f->dir_done || !h)
		return SMBG_EINVAL;
	struct wbuf params;
	wbuf_init(&params);
	int first = !f->dir_started;
	int rc;
	if (first) {
		char *pat = pattern_for(f->path);
		if (!pat)
			return SMBG_ENOMEM;
		wbuf_put_le16(&params, SMB1_ATTR_HIDDEN | SMB1_ATTR_SYSTEM | SMB1_ATTR_DIRECTORY);
		wbuf_put_le16(&params, (uint16_t)s->search_count);
		wbuf_put_le16(&params, SMB1_FIND_CLOSE_AT_EOS);
		wbuf_put_le16(&params, SMB1_FIND_FILE_BOTH_DIRECTORY_INFO);
		wbuf_put_le32(&params, 0); /* SearchStorageType */
		rc = smb1_put_string_raw(c, &params, pat, 1);
		free(pat);
	} else {
		wbuf_put_le16(&params, h->sid);
		wbuf_put_le16(&params, (uint16_t)s->search_count);
		wbuf_put_le16(&params, SMB1_FIND_FILE_BOTH_DIRECTORY_INFO);
		wbuf_put_le32(&params, 0); /* ResumeKey */
		wbuf_put_le16(&params, SMB1_FIND_CONTINUE_FROM_LAST | SMB1_FIND_CLOSE_AT_EOS);
		/* The last name, for servers that resume by name rather than position. */
		rc = smb1_put_string_raw(c, &params, h->resume_name ? h->resume_name : "", 0);
	}
	if (rc < 0) {
		wbuf_free(&params);
		return rc == SMBG_ENAME ? smb_fail(c, rc, 0, "list", f->path) : rc;
	}
	struct smb1_req *r =
	    smb1_trans2_new(c, first ? SMB1_TRANS2_FIND_FIRST2 : SMB1_TRANS2_FIND_NEXT2, &params,
			    NULL, 0, FIND_MAX_PARAM, FIND_MAX_DATA, find_done);
	wbuf_free(&params);
	if (!r)
		return SMBG_ENOMEM;
	r->file = f;
	r->out = (void *)fn;
	r->out2 = fpriv;
	r->u64 = first;
	r->cb = cb;
	r->priv = priv;
	f->dir_started = 1;
	return smb1_submit(c, r);
}

static void find_close_done(struct smb_client *c, struct smb1_req *r, int err,
			    const struct smb1_msg *m)
{
}

int smb1_find_close(struct smb_client *c, struct smb1_handle *h)
{
	h->sid_open = 0;
	struct smb1_req *r = smb1_req_new(c, SMB1_COM_FIND_CLOSE2, find_close_done);
	if (!r)
		return SMBG_ENOMEM;
	smb1_words_begin(r, 1);
	wbuf_put_le16(&r->pdu, h->sid);
	smb1_bytes_begin(r);
	return smb1_submit(c, r);
}
