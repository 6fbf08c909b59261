/* MS-FSCC information structures that SMB1 (pass-through and SMB_QUERY_FILE_ALL_INFO) and SMB2
 * (QUERY_INFO) return in the same layout. */
#ifndef SMBGATE_FSCC_H
#define SMBGATE_FSCC_H

#include "smbgate/smb.h"
#include "util/cursor.h"

/* Reads FileBasicInformation (MS-FSCC 2.4.7: four times, attributes, reserved) followed by the
 * first 22 bytes of FileStandardInformation (2.4.41: allocation size, end of file, links,
 * delete pending, directory) into st (zeroed first). The cursor is left after the Directory
 * byte. SMBG_EPROTO when truncated. */
int smb_fscc_basic_standard_parse(struct cursor *c, struct smb_stat *st);

#endif
