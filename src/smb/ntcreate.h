/* The NT create parameters (access mask, create disposition) for smbgate's open flags. SMB1's
 * NT_CREATE_ANDX (MS-CIFS 2.2.4.64) and SMB2's CREATE (MS-SMB2 2.2.13) take the same values. */
#ifndef SMBGATE_NTCREATE_H
#define SMBGATE_NTCREATE_H

#include <stdint.h>

/* DesiredAccess for SMB_O_* flags (smbgate/smb.h). */
uint32_t smb_nt_desired_access(int flags);
/* CreateDisposition (FILE_OPEN, FILE_CREATE, FILE_OPEN_IF, FILE_OVERWRITE, FILE_OVERWRITE_IF). */
uint32_t smb_nt_disposition(int flags);

#endif
