/* SMB2 OPLOCK_BREAK (MS-SMB2 2.2.23.1 notification, 2.2.24.1 acknowledgment). Oplocks are
 * only asked for with durable handles (a server grants durability only with a batch oplock,
 * create.c); nothing is cached under them, so a break is acknowledged at once at the level the
 * server offers. */
#include <string.h>

#include "smb/smb2/smb2.h"
#include "util/log.h"

#define OPLOCK_BREAK_SIZE 24 /* StructureSize of the oplock (not lease) break */

int smb2_oplock_break_parse(const struct smb2_msg *m, uint8_t *level, uint8_t fid[16])
{
	struct cursor c;
	uint16_t size;
	uint8_t reserved;
	uint32_t reserved2;
	cursor_init(&c, m->p, m->len);
	if (cursor_seek(&c, SMB2_HDR_SIZE) != 0 || cursor_get_le16(&c, &size) != 0 ||
	    size != OPLOCK_BREAK_SIZE || cursor_get_u8(&c, level) != 0 ||
	    cursor_get_u8(&c, &reserved) != 0 || cursor_get_le32(&c, &reserved2) != 0 ||
	    cursor_get_bytes(&c, fid, 16) != 0)
		return SMBG_EPROTO;
	return 0;
}

static void ack_done(struct smb_client *c, struct smb2_req *r, int err, const struct smb2_msg *m)
{
	/* The server answers the acknowledgment; nothing waits for it. */
	if (err == 0 && m->status != STATUS_SUCCESS)
		log_debug("oplock break acknowledgment: status 0x%08x", m->status);
}

int smb2_unsolicited(struct smb_client *c, const struct smb2_msg *m)
{
	uint8_t level, fid[16];
	if (m->command != SMB2_OPLOCK_BREAK || smb2_oplock_break_parse(m, &level, fid) < 0) {
		log_debug("ignoring unsolicited SMB2 command %u", m->command);
		return 0;
	}
	for (struct smb_file *f = c->files; f; f = f->next)
		if (memcmp(f->fid, fid, 16) == 0) {
			log_debug("oplock of %s broken to level %u", f->path, level);
			f->oplock = level;
		}
	struct smb2_req *r = smb2_req_new(c, SMB2_OPLOCK_BREAK, ack_done);
	if (!r)
		return 0; /* the server gives up waiting for it after its timeout */
	struct wbuf *b = &r->pdu;
	wbuf_put_le16(b, OPLOCK_BREAK_SIZE);
	wbuf_put_u8(b, level);
	wbuf_put_u8(b, 0);
	wbuf_put_le32(b, 0);
	wbuf_put_bytes(b, fid, 16);
	(void)smb2_submit(c, r); /* on failure the connection is already going down */
	return 0;
}
