/* Fuzzes the SMB2 response path: the central validator, then the parser of whichever command
 * the header names (negotiate, create, IOCTL VALIDATE_NEGOTIATE_INFO, directory listing, query
 * info, file system info). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smb/smb2/smb2.h"

static int count_entry(void *priv, const char *name, const struct smb_stat *st)
{
	size_t *n = priv;
	*n += strlen(name) + (st->is_dir ? 1 : 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smb2_msg m;
	if (smb2_check_message(data, size, &m) != 0)
		return 0;
	switch (m.command) {
	case SMB2_NEGOTIATE: {
		struct smb2_negotiate_resp r;
		(void)smb2_negotiate_parse(&m, &r);
		break;
	}
	case SMB2_CREATE: {
		uint8_t fid[16];
		struct smb_stat st;
		(void)smb2_create_parse(&m, fid, &st);
		break;
	}
	case SMB2_IOCTL: {
		struct smb2_validate_resp v;
		(void)smb2_validate_negotiate_parse(&m, &v);
		break;
	}
	default: {
		/* The body after the fixed part is used as an information buffer. */
		const uint8_t *p = data + SMB2_HDR_SIZE;
		size_t n = size - SMB2_HDR_SIZE;
		size_t total = 0;
		struct smb_stat st;
		struct smb_statfs fs;
		(void)smb2_dirinfo_parse(p, n, count_entry, &total);
		(void)smb2_allinfo_parse(p, n, &st);
		(void)smb2_fsinfo_parse(p, n, &fs);
		struct cursor c;
		(void)smb2_msg_buffer(&m, (uint32_t)(n & 0xFFFF), (uint32_t)(n >> 4), &c);
		/* QUERY_DIRECTORY and QUERY_INFO: the output buffer, and a listing in it. */
		if (smb2_output_buffer(&m, &c) == 0)
			(void)smb2_dirinfo_parse(c.p, c.len, count_entry, &total);
		break;
	}
	}
	return 0;
}
