/* The parameters of an NT create for smbgate's open flags. SMB1's NT_CREATE_ANDX (MS-CIFS
 * 2.2.4.64) and SMB2's CREATE (MS-SMB2 2.2.13) take the same values, each in its own order. */
#ifndef SMBGATE_NTCREATE_H
#define SMBGATE_NTCREATE_H

#include <stdint.h>

struct smb_nt_create {
	uint32_t desired_access;
	uint32_t file_attributes; /* for a file that the create makes */
	uint32_t share_access;
	uint32_t disposition; /* FILE_OPEN, FILE_CREATE, FILE_OPEN_IF, FILE_OVERWRITE(_IF) */
	uint32_t create_options;
	uint32_t impersonation;
};

/* p for SMB_O_* flags (smbgate/smb.h) and SMB_OPEN_* options (smb/dialect.h). */
void smb_nt_create_init(struct smb_nt_create *p, int flags, int options);

#endif
