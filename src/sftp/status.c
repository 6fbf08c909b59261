/* SMBG_E* -> SFTP status: the one table (DESIGN.md decision 7). SFTP v3 has only nine codes,
 * so the message carries the detail. */
#include "sftp/internal.h"

static const struct {
	int err;
	uint32_t code;
	const char *msg;
} status_table[] = {
    {SMBG_OK, SSH_FX_OK, "Success"},
    {SMBG_EOF, SSH_FX_EOF, "End of file"},
    {SMBG_ENOENT, SSH_FX_NO_SUCH_FILE, "No such file or directory"},
    {SMBG_ENOSHARE, SSH_FX_NO_SUCH_FILE, "No such share"},
    {SMBG_EACCES, SSH_FX_PERMISSION_DENIED, "Permission denied"},
    {SMBG_EPERM, SSH_FX_PERMISSION_DENIED, "Operation not permitted"},
    {SMBG_EROFS, SSH_FX_PERMISSION_DENIED, "Read-only file system"},
    {SMBG_EAUTH, SSH_FX_PERMISSION_DENIED, "Logon failure on the SMB server"},
    {SMBG_EDISABLED, SSH_FX_PERMISSION_DENIED, "Account disabled on the SMB server"},
    {SMBG_ENOTSUP, SSH_FX_OP_UNSUPPORTED, "Operation unsupported"},
    {SMBG_EPROTO, SSH_FX_BAD_MESSAGE, "Bad message"},
    {SMBG_EEXIST, SSH_FX_FAILURE, "File exists"},
    {SMBG_ENOTDIR, SSH_FX_FAILURE, "Not a directory"},
    {SMBG_EISDIR, SSH_FX_FAILURE, "Is a directory"},
    {SMBG_ENOTEMPTY, SSH_FX_FAILURE, "Directory not empty"},
    {SMBG_ENOSPC, SSH_FX_FAILURE, "No space left on device"},
    {SMBG_EBUSY, SSH_FX_FAILURE, "File in use"},
    {SMBG_ENAME, SSH_FX_FAILURE, "Invalid file name or path outside the root"},
    {SMBG_EBADF, SSH_FX_FAILURE, "Invalid handle"},
    {SMBG_EINVAL, SSH_FX_FAILURE, "Invalid argument"},
    {SMBG_ETOOBIG, SSH_FX_FAILURE, "Too large"},
    {SMBG_ENOMEM, SSH_FX_FAILURE, "Out of memory"},
    {SMBG_EIO, SSH_FX_FAILURE, "Input/output error"},
    /* the SMB server is gone: a failure to the client (CONNECTION_LOST and NO_CONNECTION are
     * for clients to generate, the draft says) */
    {SMBG_ECLOSED, SSH_FX_FAILURE, "Connection to the SMB server lost"},
    {SMBG_ETIMEDOUT, SSH_FX_FAILURE, "The SMB server did not answer in time"},
    {SMBG_ECONNREFUSED, SSH_FX_FAILURE, "The SMB server refused the connection"},
    {SMBG_ECANCELED, SSH_FX_FAILURE, "Cancelled"},
};

static int find(int err)
{
	for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++)
		if (status_table[i].err == err)
			return (int)i;
	return -1;
}

uint32_t sftp_status_code(int err)
{
	if (err > 0)
		err = 0;
	int i = find(err);
	return i >= 0 ? status_table[i].code : SSH_FX_FAILURE;
}

const char *sftp_status_message(int err)
{
	if (err > 0)
		err = 0;
	int i = find(err);
	return i >= 0 ? status_table[i].msg : smbg_strerror(err);
}
