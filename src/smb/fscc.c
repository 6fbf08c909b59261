#include "smb/fscc.h"

#include <string.h>

#include "smb/client.h"

#define FILE_ATTRIBUTE_DIRECTORY 0x0010
#define MAX_BLOCK_SIZE		 (1u << 30) /* larger allocation units are a broken answer */

void smb_fscc_attrs_to_stat(const struct smb_fscc_attrs *a, struct smb_stat *st)
{
	memset(st, 0, sizeof(*st));
	smb_filetime_to_timespec(a->btime, &st->btime);
	smb_filetime_to_timespec(a->atime, &st->atime);
	smb_filetime_to_timespec(a->mtime, &st->mtime);
	smb_filetime_to_timespec(a->ctime, &st->ctime);
	st->alloc_size = a->alloc_size;
	st->size = a->eof;
	st->attributes = a->attributes;
	st->is_dir = (a->attributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
	st->nlink = 1;
}

int smb_fscc_basic_standard_parse(struct cursor *c, struct smb_stat *st)
{
	struct smb_fscc_attrs a;
	uint32_t reserved, links;
	uint8_t del, dir;
	if (cursor_get_le64(c, &a.btime) != 0 || cursor_get_le64(c, &a.atime) != 0 ||
	    cursor_get_le64(c, &a.mtime) != 0 || cursor_get_le64(c, &a.ctime) != 0 ||
	    cursor_get_le32(c, &a.attributes) != 0 || cursor_get_le32(c, &reserved) != 0 ||
	    cursor_get_le64(c, &a.alloc_size) != 0 || cursor_get_le64(c, &a.eof) != 0 ||
	    cursor_get_le32(c, &links) != 0 || cursor_get_u8(c, &del) != 0 ||
	    cursor_get_u8(c, &dir) != 0)
		return SMBG_EPROTO;
	smb_fscc_attrs_to_stat(&a, st);
	st->nlink = links;
	st->is_dir = st->is_dir || dir != 0;
	return 0;
}

int smb_fscc_dirent_parse(struct cursor *c, uint32_t *next, uint32_t *name_len, struct smb_stat *st)
{
	struct smb_fscc_attrs a;
	uint32_t index, ea;
	if (cursor_get_le32(c, next) != 0 || cursor_get_le32(c, &index) != 0 ||
	    cursor_get_le64(c, &a.btime) != 0 || cursor_get_le64(c, &a.atime) != 0 ||
	    cursor_get_le64(c, &a.mtime) != 0 || cursor_get_le64(c, &a.ctime) != 0 ||
	    cursor_get_le64(c, &a.eof) != 0 || cursor_get_le64(c, &a.alloc_size) != 0 ||
	    cursor_get_le32(c, &a.attributes) != 0 || cursor_get_le32(c, name_len) != 0 ||
	    cursor_get_le32(c, &ea) != 0)
		return SMBG_EPROTO;
	smb_fscc_attrs_to_stat(&a, st);
	return 0;
}

int smb_fscc_fs_size_parse(struct cursor *c, int full, struct smb_statfs *st)
{
	uint64_t total, caller, actual = 0;
	uint32_t spu, bps;
	if (cursor_get_le64(c, &total) != 0 || cursor_get_le64(c, &caller) != 0 ||
	    (full && cursor_get_le64(c, &actual) != 0) || cursor_get_le32(c, &spu) != 0 ||
	    cursor_get_le32(c, &bps) != 0)
		return SMBG_EPROTO;
	if ((uint64_t)spu * bps == 0 || (uint64_t)spu * bps > MAX_BLOCK_SIZE)
		return SMBG_EPROTO;
	st->block_size = (uint64_t)spu * bps;
	st->total_blocks = total;
	st->free_blocks = caller;
	st->avail_blocks = full ? actual : caller;
	return 0;
}
