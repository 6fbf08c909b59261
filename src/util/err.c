#include "smbgate/err.h"

#include <stdio.h>

/* Indexed by -err; one row per enum value, in order (the unit test checks every one). */
static const struct {
	const char *name;
	const char *text;
} err_table[] = {
    {"SMBG_OK", "success"},
    {"SMBG_ENOMEM", "out of memory"},
    {"SMBG_EINVAL", "invalid argument"},
    {"SMBG_EPROTO", "protocol error: malformed or unexpected reply"},
    {"SMBG_EIO", "input/output error"},
    {"SMBG_ECONNREFUSED", "connection refused"},
    {"SMBG_ETIMEDOUT", "timed out"},
    {"SMBG_ECLOSED", "connection closed by the server"},
    {"SMBG_ERESOLVE", "host name could not be resolved"},
    {"SMBG_EAUTH", "wrong user name or password"},
    {"SMBG_EACCES", "access denied"},
    {"SMBG_ENOENT", "no such file or directory"},
    {"SMBG_EEXIST", "already exists"},
    {"SMBG_ENOTDIR", "not a directory"},
    {"SMBG_EISDIR", "is a directory"},
    {"SMBG_ENOTEMPTY", "directory not empty"},
    {"SMBG_ENOSHARE", "no such share"},
    {"SMBG_ENOSPC", "no space left (disk full or quota exceeded)"},
    {"SMBG_EROFS", "read-only share or file system"},
    {"SMBG_EBUSY", "file in use (sharing violation)"},
    {"SMBG_ENOTSUP", "not supported"},
    {"SMBG_ECRYPTO", "signature or decryption check failed"},
    {"SMBG_ENAME", "invalid name"},
    {"SMBG_ECANCELED", "request cancelled"},
    {"SMBG_ENOPROTO", "no common protocol or security requirement not met"},
    {"SMBG_EDISABLED", "account disabled, locked out or password expired"},
    {"SMBG_ETOOBIG", "too large"},
    {"SMBG_EBADF", "invalid or stale handle"},
    {"SMBG_EOF", "end of file"},
    {"SMBG_EAGAIN", "try again"},
    {"SMBG_EPERM", "operation not permitted"},
};

_Static_assert(sizeof(err_table) / sizeof(err_table[0]) == -SMBG_E_LAST,
	       "err_table must have one row per enum smbg_err value");

static int err_known(int err)
{
	return err <= 0 && err > SMBG_E_LAST;
}

const char *smbg_strerror(int err)
{
	if (err > 0)
		return "success";
	return err_known(err) ? err_table[-err].text : "unknown error";
}

const char *smbg_errname(int err)
{
	static _Thread_local char buf[32];
	if (err_known(err))
		return err_table[-err].name;
	snprintf(buf, sizeof(buf), "SMBG_E?(%d)", err);
	return buf;
}
