#include "smb/ntcreate.h"

#include "smb/dialect.h"
#include "smbgate/smb.h"

/* MS-SMB2 2.2.13.1 access mask bits */
#define FILE_READ_DATA	      0x00000001
#define FILE_WRITE_DATA	      0x00000002
#define FILE_APPEND_DATA      0x00000004
#define FILE_READ_EA	      0x00000008
#define FILE_WRITE_EA	      0x00000010
#define FILE_READ_ATTRIBUTES  0x00000080
#define FILE_WRITE_ATTRIBUTES 0x00000100
#define DELETE_ACCESS	      0x00010000
#define READ_CONTROL	      0x00020000
#define SYNCHRONIZE	      0x00100000
/* CreateDisposition values */
#define FILE_OPEN	  1
#define FILE_CREATE	  2
#define FILE_OPEN_IF	  3
#define FILE_OVERWRITE	  4
#define FILE_OVERWRITE_IF 5
/* FileAttributes (MS-FSCC 2.6), ShareAccess, CreateOptions, ImpersonationLevel */
#define FILE_ATTRIBUTE_DIRECTORY 0x00000010
#define FILE_ATTRIBUTE_NORMAL	 0x00000080
#define FILE_SHARE_ALL		 0x00000007 /* read, write, delete */
#define FILE_DIRECTORY_FILE	 0x00000001
#define FILE_NON_DIRECTORY_FILE	 0x00000040
#define FILE_DELETE_ON_CLOSE	 0x00001000
#define IMPERSONATION		 2

static uint32_t desired_access(int flags)
{
	uint32_t a = FILE_READ_ATTRIBUTES | SYNCHRONIZE;
	if (flags & SMB_O_READ)
		a |= FILE_READ_DATA | FILE_READ_EA | READ_CONTROL;
	if (flags & SMB_O_WRITE)
		a |= FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES;
	if (flags & SMB_O_DELETE)
		a |= DELETE_ACCESS;
	if (flags & SMB_O_ATTR)
		a |= FILE_WRITE_ATTRIBUTES;
	return a;
}

static uint32_t disposition(int flags)
{
	if (flags & SMB_O_CREATE) {
		if (flags & SMB_O_EXCL)
			return FILE_CREATE;
		return (flags & SMB_O_TRUNC) ? FILE_OVERWRITE_IF : FILE_OPEN_IF;
	}
	return (flags & SMB_O_TRUNC) ? FILE_OVERWRITE : FILE_OPEN;
}

static uint32_t create_options(int flags, int options)
{
	uint32_t o = 0;
	if (flags & SMB_O_DIR)
		o |= FILE_DIRECTORY_FILE;
	if (flags & SMB_O_FILE)
		o |= FILE_NON_DIRECTORY_FILE;
	if (options & SMB_OPEN_DELETE_ON_CLOSE)
		o |= FILE_DELETE_ON_CLOSE;
	return o;
}

void smb_nt_create_init(struct smb_nt_create *p, int flags, int options)
{
	p->desired_access = desired_access(flags);
	p->file_attributes = (flags & SMB_O_DIR) ? FILE_ATTRIBUTE_DIRECTORY : FILE_ATTRIBUTE_NORMAL;
	p->share_access = FILE_SHARE_ALL;
	p->disposition = disposition(flags);
	p->create_options = create_options(flags, options);
	p->impersonation = IMPERSONATION;
}
