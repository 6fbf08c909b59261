/* TREE_CONNECT_ANDX (MS-CIFS 2.2.4.55), TREE_DISCONNECT (2.2.4.51) and LOGOFF_ANDX (2.2.4.54).
 * The TREE_CONNECT_ANDX block is also chained behind the last SESSION_SETUP_ANDX leg
 * (session_setup.c), so its encoder and decoder work on one block of a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smb/smb1/smb1.h"
#include "util/log.h"

int smb1_tcon_build(struct smb_client *c, struct smb1_req *r)
{
	char unc[1024];
	struct wbuf *b = &r->pdu;
	int n = snprintf(unc, sizeof(unc), "\\\\%s\\%s", c->url.host, c->url.share);
	if (n < 0 || (size_t)n >= sizeof(unc))
		return SMBG_ENAME;
	smb1_words_begin(r, 4);
	wbuf_put_u8(b, SMB1_COM_NO_ANDX_COMMAND);
	wbuf_put_u8(b, 0);
	wbuf_put_le16(b, 0); /* AndXOffset */
	wbuf_put_le16(b, 0); /* Flags */
	wbuf_put_le16(b, 1); /* PasswordLength: user-level security sends one NUL */
	smb1_bytes_begin(r);
	wbuf_put_u8(b, 0);
	int rc = smb1_put_string(c, r, unc, 0);
	if (rc < 0)
		return rc;
	wbuf_put_bytes(b, "?????", 6); /* Service: any type; always OEM */
	return 0;
}

int smb1_tcon_parse(struct smb_client *c, const struct smb1_msg *m)
{
	struct smb1_state *s = smb1_st(c);
	struct cursor w = m->words;
	uint16_t optional;
	if (m->wct < 3 || cursor_skip(&w, 4) != 0 || cursor_get_le16(&w, &optional) != 0)
		return smb_failf(c, SMBG_EPROTO, "malformed TREE_CONNECT_ANDX response");
	/* Service is an OEM string: "A:" for a disk share. */
	struct cursor b = m->bytes;
	char service[8];
	size_t n = 0;
	uint8_t ch;
	while (cursor_get_u8(&b, &ch) == 0 && ch && n + 1 < sizeof(service))
		service[n++] = (char)ch;
	service[n] = 0;
	if (strcmp(service, "A:") != 0)
		return smb_failf(c, SMBG_ENOTSUP, "share %s is not a disk share (service \"%s\")",
				 c->url.share, service);
	s->tid = m->tid;
	log_debug("smb1: connected to share %s (tid 0x%x, optional support 0x%x)", c->url.share,
		  s->tid, optional);
	return 0;
}

int smb1_tcon_status(struct smb_client *c, uint32_t status)
{
	char what[600];
	snprintf(what, sizeof(what), "connect to share %s", c->url.share);
	struct smb1_msg m = {.status = status};
	return smb1_status_err(c, &m, what, NULL);
}

struct tc_ctx {
	int done;
	int rc;
};

static void tc_done(struct smb_client *c, struct smb1_req *r, int err, const struct smb1_msg *m)
{
	struct tc_ctx *x = r->ctx;
	x->done = 1;
	if (err < 0)
		x->rc = err;
	else if (m->status != SMB1_STATUS_SUCCESS)
		x->rc = smb1_tcon_status(c, m->status);
	else
		x->rc = smb1_tcon_parse(c, m);
}

int smb1_tree_connect(struct smb_client *c)
{
	struct smb1_req *r = smb1_req_new(c, SMB1_COM_TREE_CONNECT_ANDX, tc_done);
	if (!r)
		return SMBG_ENOMEM;
	struct tc_ctx x = {0};
	r->ctx = &x;
	int rc = smb1_tcon_build(c, r);
	if (rc < 0) {
		smb1_req_free(r);
		return smb_failf(c, rc, "share name %s cannot be sent", c->url.share);
	}
	rc = smb1_submit(c, r);
	if (rc == 0)
		rc = smb_wait(c, &x.done);
	return rc < 0 ? rc : x.rc;
}

struct simple_ctx {
	int done;
};

static void simple_done(struct smb_client *c, struct smb1_req *r, int err, const struct smb1_msg *m)
{
	((struct simple_ctx *)r->ctx)->done = 1;
}

static void simple_sync(struct smb_client *c, uint8_t cmd, uint8_t wct)
{
	struct smb1_req *r = smb1_req_new(c, cmd, simple_done);
	if (!r)
		return;
	struct simple_ctx x = {0};
	r->ctx = &x;
	smb1_words_begin(r, wct);
	if (wct == 2) { /* LOGOFF_ANDX: an AndX header and nothing else */
		wbuf_put_u8(&r->pdu, SMB1_COM_NO_ANDX_COMMAND);
		wbuf_put_u8(&r->pdu, 0);
		wbuf_put_le16(&r->pdu, 0);
	}
	smb1_bytes_begin(r);
	if (smb1_submit(c, r) == 0)
		(void)smb_wait(c, &x.done);
}

void smb1_logout(struct smb_client *c)
{
	struct smb1_state *s = smb1_st(c);
	if (c->dead || !s)
		return;
	if (s->tid)
		simple_sync(c, SMB1_COM_TREE_DISCONNECT, 0);
	if (s->uid)
		simple_sync(c, SMB1_COM_LOGOFF_ANDX, 2);
}
