/* SMB2 TREE_CONNECT / TREE_DISCONNECT and LOGOFF (MS-SMB2 2.2.9-2.2.12, 2.2.7). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smb/smb2/smb2.h"
#include "util/log.h"
#include "util/utf16.h"

struct tc_ctx {
	int done;
	int err;
	uint32_t status;
	uint32_t tree_id;
	uint32_t share_flags;
	uint8_t share_type;
};

static void tc_done(struct smb_client *c, struct smb2_req *r, int err, const struct smb2_msg *m)
{
	struct tc_ctx *x = r->ctx;
	x->done = 1;
	x->err = err;
	if (err < 0)
		return;
	x->status = m->status;
	if (m->status != STATUS_SUCCESS)
		return;
	struct cursor cur;
	uint16_t size;
	cursor_init(&cur, m->p, m->len);
	if (cursor_seek(&cur, SMB2_HDR_SIZE) != 0 || cursor_get_le16(&cur, &size) != 0 ||
	    cursor_get_u8(&cur, &x->share_type) != 0 || cursor_skip(&cur, 1) != 0 ||
	    cursor_get_le32(&cur, &x->share_flags) != 0)
		x->err = SMBG_EPROTO;
	x->tree_id = m->tree_id;
}

int smb2_tree_connect(struct smb_client *c)
{
	struct smb2_state *s = c->s2;
	struct smb2_req *r = smb2_req_new(c, SMB2_TREE_CONNECT, tc_done);
	if (!r)
		return SMBG_ENOMEM;
	struct tc_ctx x = {0};
	r->ctx = &x;
	char unc[1024];
	snprintf(unc, sizeof(unc), "\\\\%s\\%s", c->url.host, c->url.share);
	struct wbuf *b = &r->pdu;
	wbuf_put_le16(b, 9);
	wbuf_put_le16(b, 0);
	wbuf_put_le16(b, SMB2_HDR_SIZE + 8);
	size_t len_at = b->len;
	wbuf_put_le16(b, 0);
	size_t start = b->len;
	int rc = utf16_from_utf8(b, unc, strlen(unc), 0);
	if (rc < 0) {
		smb2_req_free(r);
		return smb_failf(c, SMBG_ENAME, "share name is not valid UTF-8");
	}
	wbuf_set_le16(b, len_at, (uint16_t)(b->len - start));
	rc = smb2_submit(c, r);
	if (rc == 0)
		rc = smb_wait(c, &x.done);
	if (rc == 0)
		rc = x.err;
	if (rc < 0)
		return rc == SMBG_EPROTO ? smb_failf(c, rc, "malformed TREE_CONNECT response") : rc;
	if (x.status != STATUS_SUCCESS) {
		char what[600];
		snprintf(what, sizeof(what), "connect to share %s", c->url.share);
		return smb_fail(c, smbg_err_from_ntstatus(x.status), x.status, what, NULL);
	}
	if (x.share_type != SMB2_SHARE_TYPE_DISK)
		return smb_failf(c, SMBG_ENOTSUP, "share %s is not a disk share (type %u)",
				 c->url.share, x.share_type);
	s->tree_id = x.tree_id;
	s->share_flags = x.share_flags;
	if (x.share_flags & SMB2_SHAREFLAG_ENCRYPT_DATA) {
		if (s->cipher == SMB2_CIPHER_NONE || !s->have_keys)
			return smb_failf(
			    c, SMBG_ENOPROTO,
			    "share %s requires encryption, which dialect %s cannot "
			    "do here (use max-protocol 3.0 or later, and a user login)",
			    c->url.share, smb_dialect_name(c->dialect));
		s->encrypt = 1;
		c->encryption = 1;
	}
	log_debug("connected to share %s (tree 0x%x, flags 0x%x)", c->url.share, s->tree_id,
		  s->share_flags);
	return 0;
}

struct simple_ctx {
	int done;
};

static void simple_done(struct smb_client *c, struct smb2_req *r, int err, const struct smb2_msg *m)
{
	((struct simple_ctx *)r->ctx)->done = 1;
}

static void simple_sync(struct smb_client *c, uint16_t cmd)
{
	struct smb2_req *r = smb2_req_new(c, cmd, simple_done);
	if (!r)
		return;
	struct simple_ctx x = {0};
	r->ctx = &x;
	wbuf_put_le16(&r->pdu, 4);
	wbuf_put_le16(&r->pdu, 0);
	if (smb2_submit(c, r) == 0)
		(void)smb_wait(c, &x.done);
}

void smb2_logout(struct smb_client *c)
{
	if (c->dead || !c->s2)
		return;
	if (c->s2->tree_id)
		simple_sync(c, SMB2_TREE_DISCONNECT);
	if (c->s2->session_id)
		simple_sync(c, SMB2_LOGOFF);
}
