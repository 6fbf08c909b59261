/* MS-FSCC information structures that SMB1 (pass-through and SMB_QUERY_FILE_ALL_INFO) and SMB2
 * (QUERY_INFO) return in the same layout, and the times, sizes and attributes that create
 * responses and directory entries of both dialects carry. */
#ifndef SMBGATE_FSCC_H
#define SMBGATE_FSCC_H

#include "smbgate/smb.h"
#include "util/cursor.h"

/* The times, sizes and attributes of a file as the wire carries them; each message has its own
 * order, so parsers read into this and convert once. */
struct smb_fscc_attrs {
	uint64_t btime, atime, mtime, ctime; /* FILETIME */
	uint64_t alloc_size, eof;
	uint32_t attributes; /* FILE_ATTRIBUTE_* (MS-FSCC 2.6) */
};

/* st (zeroed first) from a: times, sizes, attributes, is_dir from FILE_ATTRIBUTE_DIRECTORY, and
 * nlink 1 (callers that are told more set it afterwards). */
void smb_fscc_attrs_to_stat(const struct smb_fscc_attrs *a, struct smb_stat *st);

/* Reads FileBasicInformation (MS-FSCC 2.4.7: four times, attributes, reserved) followed by the
 * first 22 bytes of FileStandardInformation (2.4.41: allocation size, end of file, links,
 * delete pending, directory) into st (zeroed first). The cursor is left after the Directory
 * byte. SMBG_EPROTO when truncated. */
int smb_fscc_basic_standard_parse(struct cursor *c, struct smb_stat *st);

/* Reads the start every directory entry class shares (FileBothDirectoryInformation 2.4.8, which
 * is SMB1's SMB_FIND_FILE_BOTH_DIRECTORY_INFO, and FileIdFullDirectoryInformation 2.4.18):
 * NextEntryOffset, FileIndex, times, end of file, allocation size, attributes, FileNameLength
 * and EaSize. Fills st; the cursor is left where the class-specific fields start. SMBG_EPROTO
 * when truncated. */
int smb_fscc_dirent_parse(struct cursor *c, uint32_t *next, uint32_t *name_len,
			  struct smb_stat *st);

/* Reads FileFsFullSizeInformation (2.5.4) when full, else FileFsSizeInformation (2.5.8, also
 * SMB1's SMB_QUERY_FS_SIZE_INFO, which has no "actual free" count: the caller's is used). */
int smb_fscc_fs_size_parse(struct cursor *c, int full, struct smb_statfs *st);

#endif
