/* The central validator for SMB1 (as check.c is for SMB2): every message from the server passes
 * here before command code sees it. The header is read, the word and byte blocks must lie inside
 * the message, and AndX chains only move forward. Command code then reads words and bytes only
 * through the cursors this fills, and reaches data at an offset only through smb1_msg_range. */
#include <string.h>

#include "smb/smb1/smb1.h"

static int is_andx(uint8_t cmd)
{
	switch (cmd) {
	case SMB1_COM_LOCKING_ANDX:
	case SMB1_COM_READ_ANDX:
	case SMB1_COM_WRITE_ANDX:
	case SMB1_COM_SESSION_SETUP_ANDX:
	case SMB1_COM_LOGOFF_ANDX:
	case SMB1_COM_TREE_CONNECT_ANDX:
	case SMB1_COM_NT_CREATE_ANDX:
	case 0x2D: /* OPEN_ANDX */
		return 1;
	default:
		return 0;
	}
}

/* Reads the block (WordCount, words, ByteCount, bytes) at off into m. */
static int parse_block(const uint8_t *p, size_t len, size_t off, struct smb1_msg *m)
{
	struct cursor c;
	uint8_t wct;
	uint16_t bcc;
	const uint8_t *words, *bytes;
	cursor_init(&c, p, len);
	if (cursor_seek(&c, off) != 0 || cursor_get_u8(&c, &wct) != 0 ||
	    cursor_get_ptr(&c, (size_t)wct * 2, &words) != 0)
		return SMBG_EPROTO;
	/* A few servers omit an empty ByteCount after an error; treat a missing one as 0. */
	if (cursor_left(&c) == 0 && wct == 0) {
		bcc = 0;
		bytes = p + len;
	} else if (cursor_get_le16(&c, &bcc) != 0 || cursor_get_ptr(&c, bcc, &bytes) != 0) {
		return SMBG_EPROTO;
	}
	m->block_off = off;
	m->wct = wct;
	cursor_init(&m->words, words, (size_t)wct * 2);
	cursor_init(&m->bytes, bytes, bcc);
	m->andx_command = SMB1_COM_NO_ANDX_COMMAND;
	m->andx_offset = 0;
	if (is_andx(m->command) && wct >= 2) {
		struct cursor w = m->words;
		uint8_t reserved;
		if (cursor_get_u8(&w, &m->andx_command) != 0 || cursor_get_u8(&w, &reserved) != 0 ||
		    cursor_get_le16(&w, &m->andx_offset) != 0)
			return SMBG_EPROTO;
	}
	return 0;
}

static int check_header(const uint8_t *p, size_t len, struct smb1_msg *m, int want_reply)
{
	struct cursor c;
	uint32_t magic, status;
	uint16_t pid_high;
	cursor_init(&c, p, len);
	memset(m, 0, sizeof(*m));
	if (cursor_get_be32(&c, &magic) != 0 || magic != 0xFF534D42u ||
	    cursor_get_u8(&c, &m->command) != 0 || cursor_get_le32(&c, &status) != 0 ||
	    cursor_get_u8(&c, &m->flags) != 0 || cursor_get_le16(&c, &m->flags2) != 0 ||
	    cursor_get_le16(&c, &pid_high) != 0 || cursor_skip(&c, 8) != 0 ||
	    cursor_skip(&c, 2) != 0 || cursor_get_le16(&c, &m->tid) != 0 ||
	    cursor_get_le16(&c, &m->pid) != 0 || cursor_get_le16(&c, &m->uid) != 0 ||
	    cursor_get_le16(&c, &m->mid) != 0)
		return SMBG_EPROTO;
	if (want_reply && !(m->flags & SMB1_FLAGS_REPLY))
		return SMBG_EPROTO;
	/* DOS error: ErrorClass (1), Reserved (1), ErrorCode (2). Servers answer some statuses
	 * (MORE_PROCESSING_REQUIRED) in NT form whatever Flags2 says: a class byte that is no
	 * DOS class, or a non-zero reserved byte, is read as NTSTATUS. */
	uint8_t cls = (uint8_t)(status & 0xFF), reserved = (uint8_t)(status >> 8);
	int dos_class = cls <= 0x03 || cls == 0x04 || cls == 0xFF;
	if ((m->flags2 & SMB1_FLAGS2_NT_STATUS) || !dos_class || reserved != 0)
		m->status = status;
	else
		m->status = cls == 0 ? SMB1_STATUS_SUCCESS
				     : smb1_dos_to_ntstatus(cls, (uint16_t)(status >> 16));
	m->p = p;
	m->len = len;
	return parse_block(p, len, SMB1_HDR_SIZE, m);
}

int smb1_check_message(const uint8_t *p, size_t len, struct smb1_msg *m)
{
	return check_header(p, len, m, 1);
}

int smb1_check_request(const uint8_t *p, size_t len, struct smb1_msg *m)
{
	return check_header(p, len, m, 0);
}

int smb1_andx_next(const struct smb1_msg *m, struct smb1_msg *next)
{
	if (m->andx_command == SMB1_COM_NO_ANDX_COMMAND)
		return 0;
	/* Forward only, past this block's words: a chain cannot loop or overlap itself. */
	size_t min = m->block_off + 1 + (size_t)m->wct * 2;
	if (m->andx_offset < min || m->andx_offset >= m->len)
		return SMBG_EPROTO;
	*next = *m;
	next->command = m->andx_command;
	if (parse_block(m->p, m->len, m->andx_offset, next) != 0)
		return SMBG_EPROTO;
	return 1;
}

int smb1_msg_range(const struct smb1_msg *m, size_t off, size_t len, struct cursor *out)
{
	if (off > m->len || len > m->len - off)
		return SMBG_EPROTO;
	cursor_init(out, m->p + off, len);
	return 0;
}
