/* LOCKING_ANDX (MS-CIFS 2.2.4.32) as the answer to an oplock break: we never ask for oplocks,
 * but a server that breaks one anyway waits for the release before it lets other clients in.
 * The release has no response, so it takes one signing sequence number. */
#include "smb/smb1/smb1.h"
#include "util/log.h"

#define LOCKING_ANDX_OPLOCK_RELEASE 0x02

static void no_response(struct smb_client *c, struct smb1_req *r, int err, const struct smb1_msg *m)
{
}

int smb1_oplock_ack(struct smb_client *c, const struct smb1_msg *m)
{
	struct cursor w = m->words;
	uint16_t fid;
	if (m->wct < 8 || cursor_skip(&w, 4) != 0 || cursor_get_le16(&w, &fid) != 0)
		return SMBG_EPROTO;
	struct smb1_req *r = smb1_req_new(c, SMB1_COM_LOCKING_ANDX, no_response);
	if (!r)
		return SMBG_ENOMEM;
	r->oneway = 1;
	struct wbuf *b = &r->pdu;
	smb1_words_begin(r, 8);
	wbuf_put_u8(b, SMB1_COM_NO_ANDX_COMMAND);
	wbuf_put_u8(b, 0);
	wbuf_put_le16(b, 0);
	wbuf_put_le16(b, fid);
	wbuf_put_u8(b, LOCKING_ANDX_OPLOCK_RELEASE);
	wbuf_put_u8(b, 0);   /* NewOplockLevel: none */
	wbuf_put_le32(b, 0); /* Timeout */
	wbuf_put_le16(b, 0); /* NumberOfRequestedUnlocks */
	wbuf_put_le16(b, 0); /* NumberOfRequestedLocks */
	smb1_bytes_begin(r);
	log_debug("smb1: releasing the oplock on FID 0x%04x", fid);
	return smb1_submit(c, r);
}
