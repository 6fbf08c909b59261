/* smbgate: the one error type. Functions return 0 (or a count) on success and a negative
 * SMBG_E* value on failure. The server's NTSTATUS, when there is one, is kept beside it by the
 * caller (struct smb_client keeps the last one) for messages. */
#ifndef SMBGATE_ERR_H
#define SMBGATE_ERR_H

#include <stdint.h>

enum smbg_err {
	SMBG_OK = 0,
	SMBG_ENOMEM = -1,	/* allocation failed */
	SMBG_EINVAL = -2,	/* bad argument or option from the user */
	SMBG_EPROTO = -3,	/* malformed or unexpected data from the peer */
	SMBG_EIO = -4,		/* socket or local I/O error (errno kept by the caller) */
	SMBG_ECONNREFUSED = -5, /* TCP connection refused */
	SMBG_ETIMEDOUT = -6,	/* no answer in time */
	SMBG_ECLOSED = -7,	/* the peer closed the connection */
	SMBG_ERESOLVE = -8,	/* host name could not be resolved */
	SMBG_EAUTH = -9,	/* logon failure: wrong user name or password */
	SMBG_EACCES = -10,	/* access denied */
	SMBG_ENOENT = -11,	/* no such file or directory */
	SMBG_EEXIST = -12,	/* already exists */
	SMBG_ENOTDIR = -13,	/* not a directory */
	SMBG_EISDIR = -14,	/* is a directory */
	SMBG_ENOTEMPTY = -15,	/* directory not empty */
	SMBG_ENOSHARE = -16,	/* no such share */
	SMBG_ENOSPC = -17,	/* disk full or quota exceeded */
	SMBG_EROFS = -18,	/* read-only share or file system */
	SMBG_EBUSY = -19,	/* sharing violation, file in use */
	SMBG_ENOTSUP = -20,	/* not supported by the server or this build */
	SMBG_ECRYPTO = -21,	/* signature or decryption check failed, crypto library error */
	SMBG_ENAME = -22,	/* invalid name: not UTF-8, bad characters, `..` escape */
	SMBG_ECANCELED = -23,	/* request cancelled (connection torn down) */
	SMBG_ENOPROTO = -24,	/* no common dialect / security requirement not met */
	SMBG_EDISABLED = -25,	/* account disabled, locked or password expired */
	SMBG_ETOOBIG = -26,	/* a length from the peer or user exceeds a cap */
	SMBG_EBADF = -27,	/* stale or invalid handle */
	SMBG_EOF = -28,		/* read at or past end of file (internal, callers see 0 bytes) */
	SMBG_EAGAIN = -29,	/* would block (internal) */
	SMBG_EPERM = -30,	/* operation not permitted */
	SMBG_E_LAST = -31
};

/* A short human description, never NULL. */
const char *smbg_strerror(int err);
/* The enum name ("SMBG_ENOENT"), for logs and tests. */
const char *smbg_errname(int err);

/* NTSTATUS -> enum, and its symbolic name ("STATUS_LOGON_FAILURE" or "0xC00000XX" when unknown;
 * the returned pointer is static or thread-local, valid until the next call on this thread). */
int smbg_err_from_ntstatus(uint32_t status);
const char *smbg_ntstatus_name(uint32_t status);

#endif
