#include "smb/fscc.h"

#include <string.h>

#include "smb/client.h"

#define FILE_ATTRIBUTE_DIRECTORY 0x0010

int smb_fscc_basic_standard_parse(struct cursor *c, struct smb_stat *st)
{
	uint64_t bt, at, wt, ct, alloc, eof;
	uint32_t attrs, reserved, links;
	uint8_t del, dir;
	if (cursor_get_le64(c, &bt) != 0 || cursor_get_le64(c, &at) != 0 ||
	    cursor_get_le64(c, &wt) != 0 || cursor_get_le64(c, &ct) != 0 ||
	    cursor_get_le32(c, &attrs) != 0 || cursor_get_le32(c, &reserved) != 0 ||
	    cursor_get_le64(c, &alloc) != 0 || cursor_get_le64(c, &eof) != 0 ||
	    cursor_get_le32(c, &links) != 0 || cursor_get_u8(c, &del) != 0 ||
	    cursor_get_u8(c, &dir) != 0)
		return SMBG_EPROTO;
	memset(st, 0, sizeof(*st));
	smb_filetime_to_timespec(bt, &st->btime);
	smb_filetime_to_timespec(at, &st->atime);
	smb_filetime_to_timespec(wt, &st->mtime);
	smb_filetime_to_timespec(ct, &st->ctime);
	st->attributes = attrs;
	st->alloc_size = alloc;
	st->size = eof;
	st->nlink = links;
	st->is_dir = dir != 0 || (attrs & FILE_ATTRIBUTE_DIRECTORY) != 0;
	return 0;
}
