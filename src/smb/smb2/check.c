/* The central validator (as Linux's smb2_check_message): every SMB2 response passes here before
 * command code sees it. The header is checked, and the command's fixed body part is present;
 * variable parts are reached only through smb2_msg_buffer, which checks offset and length
 * against the message. */
#include <string.h>

#include "smb/smb2/smb2.h"

/* MS-SMB2 2.2.x: StructureSize of each response. Odd sizes announce a variable buffer. */
static const uint16_t response_size[SMB2_NCOMMANDS] = {
    [SMB2_NEGOTIATE] = 65,
    [SMB2_SESSION_SETUP] = 9,
    [SMB2_LOGOFF] = 4,
    [SMB2_TREE_CONNECT] = 16,
    [SMB2_TREE_DISCONNECT] = 4,
    [SMB2_CREATE] = 89,
    [SMB2_CLOSE] = 60,
    [SMB2_FLUSH] = 4,
    [SMB2_READ] = 17,
    [SMB2_WRITE] = 17,
    [SMB2_LOCK] = 4,
    [SMB2_IOCTL] = 49,
    [SMB2_CANCEL] = 0,
    [SMB2_ECHO] = 4,
    [SMB2_QUERY_DIRECTORY] = 9,
    [SMB2_CHANGE_NOTIFY] = 9,
    [SMB2_QUERY_INFO] = 9,
    [SMB2_SET_INFO] = 2,
    [SMB2_OPLOCK_BREAK] = 24,
};

/* Statuses that come with a normal response body rather than an error body. */
static int status_has_body(uint16_t cmd, uint32_t status)
{
	if (status == STATUS_SUCCESS)
		return 1;
	if (status == STATUS_MORE_PROCESSING_REQUIRED && cmd == SMB2_SESSION_SETUP)
		return 1;
	if (status == STATUS_BUFFER_OVERFLOW && (cmd == SMB2_QUERY_INFO || cmd == SMB2_READ ||
						 cmd == SMB2_IOCTL || cmd == SMB2_QUERY_DIRECTORY))
		return 1;
	return 0;
}

int smb2_check_message(const uint8_t *p, size_t len, struct smb2_msg *m)
{
	struct cursor c;
	uint32_t magic;
	uint16_t hsize, credit_charge, cmd, credits, body_size;
	uint32_t status, flags, next, tree_id = 0;
	uint64_t mid, async_id = 0, sid;
	cursor_init(&c, p, len);
	if (cursor_get_be32(&c, &magic) != 0 || magic != 0xFE534D42u ||
	    cursor_get_le16(&c, &hsize) != 0 || hsize != SMB2_HDR_SIZE ||
	    cursor_get_le16(&c, &credit_charge) != 0 || cursor_get_le32(&c, &status) != 0 ||
	    cursor_get_le16(&c, &cmd) != 0 || cursor_get_le16(&c, &credits) != 0 ||
	    cursor_get_le32(&c, &flags) != 0 || cursor_get_le32(&c, &next) != 0 ||
	    cursor_get_le64(&c, &mid) != 0)
		return SMBG_EPROTO;
	if (flags & SMB2_FLAGS_ASYNC_COMMAND) {
		if (cursor_get_le64(&c, &async_id) != 0)
			return SMBG_EPROTO;
	} else {
		uint32_t pid;
		if (cursor_get_le32(&c, &pid) != 0 || cursor_get_le32(&c, &tree_id) != 0)
			return SMBG_EPROTO;
	}
	if (cursor_get_le64(&c, &sid) != 0 || cursor_skip(&c, 16) != 0)
		return SMBG_EPROTO;
	if (!(flags & SMB2_FLAGS_SERVER_TO_REDIR) || cmd >= SMB2_NCOMMANDS)
		return SMBG_EPROTO;
	if (cursor_get_le16(&c, &body_size) != 0)
		return SMBG_EPROTO;
	uint16_t want = status_has_body(cmd, status) ? response_size[cmd] : 9;
	if (cmd == SMB2_OPLOCK_BREAK && body_size == 44)
		want = 44; /* lease break notification */
	if (want == 0 || body_size != want)
		return SMBG_EPROTO;
	/* The fixed part (StructureSize rounded down to even) must be inside the message. A READ
	 * response with no data may omit its one-byte buffer, as may error responses. */
	size_t fixed = want & ~1u;
	if (len - SMB2_HDR_SIZE < fixed)
		return SMBG_EPROTO;
	m->p = p;
	m->len = len;
	m->status = status;
	m->command = cmd;
	m->flags = flags;
	m->session_id = sid;
	m->tree_id = tree_id;
	m->async_id = async_id;
	return 0;
}

int smb2_msg_buffer(const struct smb2_msg *m, uint32_t off, uint32_t len, struct cursor *out)
{
	if (len == 0) {
		cursor_init(out, m->p, 0);
		return 0;
	}
	if (off < SMB2_HDR_SIZE || off > m->len || len > m->len - off)
		return SMBG_EPROTO;
	cursor_init(out, m->p + off, len);
	return 0;
}

int smb2_output_buffer(const struct smb2_msg *m, struct cursor *out)
{
	struct cursor c;
	uint16_t size, off;
	uint32_t len;
	cursor_init(&c, m->p, m->len);
	if (cursor_seek(&c, SMB2_HDR_SIZE) != 0 || cursor_get_le16(&c, &size) != 0 ||
	    cursor_get_le16(&c, &off) != 0 || cursor_get_le32(&c, &len) != 0)
		return SMBG_EPROTO;
	return smb2_msg_buffer(m, off, len, out);
}
