/* The one NTSTATUS table: code, name, and the smbgate error it means. Values
 * are from [MS-ERREF] 2.3.1. Expanded into switch statements, so a duplicated
 * code fails to compile. */
#include <stdio.h>

#include "smbgate/err.h"

/* clang-format off */
#define NTSTATUS_TABLE(X)                                                                     \
	/* Success and informational: callers test these statuses themselves. */               \
	X(0x00000000, SUCCESS,                     SMBG_OK)                                    \
	X(0x00000103, PENDING,                     SMBG_EAGAIN)   /* interim response */       \
	X(0x0000010B, NOTIFY_CLEANUP,              SMBG_OK)                                    \
	X(0x0000010C, NOTIFY_ENUM_DIR,             SMBG_OK)                                    \
	X(0x40000000, OBJECT_NAME_EXISTS,          SMBG_EEXIST)                                \
	/* Warnings. */                                                                        \
	X(0x80000005, BUFFER_OVERFLOW,             SMBG_ETOOBIG)  /* data truncated */          \
	X(0x80000006, NO_MORE_FILES,               SMBG_EOF)      /* end of a listing */       \
	X(0x80000013, INVALID_EA_NAME,             SMBG_EINVAL)                                \
	X(0x8000001A, NO_MORE_ENTRIES,             SMBG_EOF)                                   \
	X(0x8000002D, STOPPED_ON_SYMLINK,          SMBG_ENOTSUP)                               \
	/* Errors. */                                                                          \
	X(0xC0000001, UNSUCCESSFUL,                SMBG_EIO)                                   \
	X(0xC0000002, NOT_IMPLEMENTED,             SMBG_ENOTSUP)                               \
	X(0xC0000003, INVALID_INFO_CLASS,          SMBG_ENOTSUP)                               \
	X(0xC0000004, INFO_LENGTH_MISMATCH,        SMBG_EPROTO)                                \
	X(0xC0000005, ACCESS_VIOLATION,            SMBG_EPROTO)                                \
	X(0xC0000008, INVALID_HANDLE,              SMBG_EBADF)                                 \
	X(0xC000000D, INVALID_PARAMETER,           SMBG_EINVAL)                                \
	X(0xC000000E, NO_SUCH_DEVICE,              SMBG_ENOENT)                                \
	X(0xC000000F, NO_SUCH_FILE,                SMBG_ENOENT)                                \
	X(0xC0000010, INVALID_DEVICE_REQUEST,      SMBG_ENOTSUP)                               \
	X(0xC0000011, END_OF_FILE,                 SMBG_EOF)                                   \
	/* Another round of SESSION_SETUP is needed: not a failure, see the caller. */         \
	X(0xC0000016, MORE_PROCESSING_REQUIRED,    SMBG_EAGAIN)                                \
	X(0xC0000017, NO_MEMORY,                   SMBG_ENOMEM)                                \
	X(0xC000001E, INVALID_LOCK_SEQUENCE,       SMBG_EINVAL)                                \
	X(0xC0000022, ACCESS_DENIED,               SMBG_EACCES)                                \
	X(0xC0000023, BUFFER_TOO_SMALL,            SMBG_ETOOBIG)                               \
	X(0xC0000024, OBJECT_TYPE_MISMATCH,        SMBG_EINVAL)                                \
	X(0xC0000032, DISK_CORRUPT_ERROR,          SMBG_EIO)                                   \
	X(0xC0000033, OBJECT_NAME_INVALID,         SMBG_ENAME)                                 \
	X(0xC0000034, OBJECT_NAME_NOT_FOUND,       SMBG_ENOENT)                                \
	X(0xC0000035, OBJECT_NAME_COLLISION,       SMBG_EEXIST)                                \
	X(0xC0000039, OBJECT_PATH_INVALID,         SMBG_ENAME)                                 \
	X(0xC000003A, OBJECT_PATH_NOT_FOUND,       SMBG_ENOENT)                                \
	X(0xC000003B, OBJECT_PATH_SYNTAX_BAD,      SMBG_ENAME)                                 \
	X(0xC000003E, DATA_ERROR,                  SMBG_EIO)                                   \
	X(0xC0000043, SHARING_VIOLATION,           SMBG_EBUSY)                                 \
	X(0xC0000044, QUOTA_EXCEEDED,              SMBG_ENOSPC)                                \
	X(0xC000004F, EAS_NOT_SUPPORTED,           SMBG_ENOTSUP)                               \
	X(0xC0000050, EA_TOO_LARGE,                SMBG_ETOOBIG)                               \
	X(0xC0000054, FILE_LOCK_CONFLICT,          SMBG_EBUSY)                                 \
	X(0xC0000055, LOCK_NOT_GRANTED,            SMBG_EBUSY)                                 \
	X(0xC0000056, DELETE_PENDING,              SMBG_EBUSY)                                 \
	X(0xC000005E, NO_LOGON_SERVERS,            SMBG_EAUTH)                                 \
	X(0xC000005F, NO_SUCH_LOGON_SESSION,       SMBG_EAUTH)                                 \
	X(0xC0000061, PRIVILEGE_NOT_HELD,          SMBG_EACCES)                                \
	X(0xC0000062, INVALID_ACCOUNT_NAME,        SMBG_EAUTH)                                 \
	X(0xC0000064, NO_SUCH_USER,                SMBG_EAUTH)                                 \
	X(0xC000006A, WRONG_PASSWORD,              SMBG_EAUTH)                                 \
	X(0xC000006C, PASSWORD_RESTRICTION,        SMBG_EAUTH)                                 \
	X(0xC000006D, LOGON_FAILURE,               SMBG_EAUTH)                                 \
	X(0xC000006E, ACCOUNT_RESTRICTION,         SMBG_EDISABLED)                             \
	X(0xC000006F, INVALID_LOGON_HOURS,         SMBG_EDISABLED)                             \
	X(0xC0000070, INVALID_WORKSTATION,         SMBG_EDISABLED)                             \
	X(0xC0000071, PASSWORD_EXPIRED,            SMBG_EDISABLED)                             \
	X(0xC0000072, ACCOUNT_DISABLED,            SMBG_EDISABLED)                             \
	X(0xC000007E, RANGE_NOT_LOCKED,            SMBG_EINVAL)                                \
	X(0xC000007F, DISK_FULL,                   SMBG_ENOSPC)                                \
	X(0xC0000098, FILE_INVALID,                SMBG_EIO)                                   \
	X(0xC000009A, INSUFFICIENT_RESOURCES,      SMBG_ENOMEM)                                \
	X(0xC00000A2, MEDIA_WRITE_PROTECTED,       SMBG_EROFS)                                 \
	X(0xC00000A5, BAD_IMPERSONATION_LEVEL,     SMBG_EACCES)                                \
	X(0xC00000AB, INSTANCE_NOT_AVAILABLE,      SMBG_EBUSY)                                 \
	X(0xC00000AC, PIPE_NOT_AVAILABLE,          SMBG_EBUSY)                                 \
	X(0xC00000AD, INVALID_PIPE_STATE,          SMBG_EPROTO)                                \
	X(0xC00000AE, PIPE_BUSY,                   SMBG_EBUSY)                                 \
	X(0xC00000B0, PIPE_DISCONNECTED,           SMBG_ECLOSED)                               \
	X(0xC00000B1, PIPE_CLOSING,                SMBG_ECLOSED)                               \
	X(0xC00000B5, IO_TIMEOUT,                  SMBG_ETIMEDOUT)                             \
	X(0xC00000BA, FILE_IS_A_DIRECTORY,         SMBG_EISDIR)                                \
	X(0xC00000BB, NOT_SUPPORTED,               SMBG_ENOTSUP)                               \
	X(0xC00000BC, REMOTE_NOT_LISTENING,        SMBG_ECONNREFUSED)                          \
	X(0xC00000BD, DUPLICATE_NAME,              SMBG_EEXIST)                                \
	X(0xC00000BE, BAD_NETWORK_PATH,            SMBG_ENOSHARE)                              \
	X(0xC00000BF, NETWORK_BUSY,                SMBG_EBUSY)                                 \
	X(0xC00000C1, TOO_MANY_COMMANDS,           SMBG_EBUSY)                                 \
	X(0xC00000C3, INVALID_NETWORK_RESPONSE,    SMBG_EPROTO)                                \
	X(0xC00000C4, UNEXPECTED_NETWORK_ERROR,    SMBG_EIO)                                   \
	X(0xC00000C9, NETWORK_NAME_DELETED,        SMBG_ECLOSED)                               \
	X(0xC00000CA, NETWORK_ACCESS_DENIED,       SMBG_EACCES)                                \
	X(0xC00000CB, BAD_DEVICE_TYPE,             SMBG_ENOTSUP)                               \
	X(0xC00000CC, BAD_NETWORK_NAME,            SMBG_ENOSHARE)                              \
	X(0xC00000D0, REQUEST_NOT_ACCEPTED,        SMBG_EBUSY)                                 \
	X(0xC00000D4, NOT_SAME_DEVICE,             SMBG_ENOTSUP)                               \
	X(0xC00000D5, FILE_RENAMED,                SMBG_ENOENT)                                \
	X(0xC00000D6, VIRTUAL_CIRCUIT_CLOSED,      SMBG_ECLOSED)                               \
	X(0xC00000D9, PIPE_EMPTY,                  SMBG_EAGAIN)                                \
	X(0xC00000DF, NO_SUCH_DOMAIN,              SMBG_EAUTH)                                 \
	X(0xC00000E2, OPLOCK_NOT_GRANTED,          SMBG_EBUSY)                                 \
	X(0xC00000E3, INVALID_OPLOCK_PROTOCOL,     SMBG_EPROTO)                                \
	X(0xC00000E8, INVALID_USER_BUFFER,         SMBG_EPROTO)                                \
	X(0xC0000101, DIRECTORY_NOT_EMPTY,         SMBG_ENOTEMPTY)                             \
	X(0xC0000102, FILE_CORRUPT_ERROR,          SMBG_EIO)                                   \
	X(0xC0000103, NOT_A_DIRECTORY,             SMBG_ENOTDIR)                               \
	X(0xC0000106, NAME_TOO_LONG,               SMBG_ENAME)                                 \
	X(0xC000011F, TOO_MANY_OPENED_FILES,       SMBG_EBUSY)                                 \
	X(0xC0000120, CANCELLED,                   SMBG_ECANCELED)                             \
	X(0xC0000121, CANNOT_DELETE,               SMBG_EACCES)                                \
	X(0xC0000123, FILE_DELETED,                SMBG_ENOENT)                                \
	X(0xC0000128, FILE_CLOSED,                 SMBG_EBADF)                                 \
	X(0xC0000148, INVALID_LEVEL,               SMBG_ENOTSUP)                               \
	X(0xC000014B, PIPE_BROKEN,                 SMBG_ECLOSED)                               \
	X(0xC000015B, LOGON_TYPE_NOT_GRANTED,      SMBG_EACCES)                                \
	X(0xC0000161, ILLEGAL_CHARACTER,           SMBG_ENAME)                                 \
	X(0xC0000184, INVALID_DEVICE_STATE,        SMBG_EIO)                                   \
	X(0xC0000185, IO_DEVICE_ERROR,             SMBG_EIO)                                   \
	X(0xC000018D, TRUSTED_RELATIONSHIP_FAILURE, SMBG_EAUTH)                                \
	X(0xC0000193, ACCOUNT_EXPIRED,             SMBG_EDISABLED)                             \
	X(0xC000019C, FS_DRIVER_REQUIRED,          SMBG_ENOTSUP)                               \
	X(0xC0000202, NO_USER_SESSION_KEY,         SMBG_ECRYPTO)                               \
	X(0xC0000203, USER_SESSION_DELETED,        SMBG_ECLOSED)                               \
	X(0xC0000205, INSUFF_SERVER_RESOURCES,     SMBG_ENOMEM)                                \
	X(0xC000020C, CONNECTION_DISCONNECTED,     SMBG_ECLOSED)                               \
	X(0xC000020D, CONNECTION_RESET,            SMBG_ECLOSED)                               \
	X(0xC0000224, PASSWORD_MUST_CHANGE,        SMBG_EDISABLED)                             \
	X(0xC0000225, NOT_FOUND,                   SMBG_ENOENT)                                \
	X(0xC0000234, ACCOUNT_LOCKED_OUT,          SMBG_EDISABLED)                             \
	X(0xC0000236, CONNECTION_REFUSED,          SMBG_ECONNREFUSED)                          \
	X(0xC000023C, NETWORK_UNREACHABLE,         SMBG_ECONNREFUSED)                          \
	X(0xC000023D, HOST_UNREACHABLE,            SMBG_ECONNREFUSED)                          \
	X(0xC0000240, REQUEST_ABORTED,             SMBG_ECANCELED)                             \
	X(0xC0000257, PATH_NOT_COVERED,            SMBG_ENOTSUP)  /* DFS referral needed */    \
	X(0xC000026E, VOLUME_DISMOUNTED,           SMBG_EIO)                                   \
	X(0xC0000275, NOT_A_REPARSE_POINT,         SMBG_EINVAL)                                \
	X(0xC000028A, ENCRYPTION_FAILED,           SMBG_ECRYPTO)                               \
	X(0xC000028B, DECRYPTION_FAILED,           SMBG_ECRYPTO)                               \
	X(0xC000035C, NETWORK_SESSION_EXPIRED,     SMBG_ECLOSED)  /* re-authenticate */        \
	X(0xC0000388, DOWNGRADE_DETECTED,          SMBG_ENOPROTO)                              \
	X(0xC0000427, FILE_SYSTEM_LIMITATION,      SMBG_ENOTSUP)                               \
	X(0xC0000466, SERVER_UNAVAILABLE,          SMBG_ECONNREFUSED)                          \
	X(0xC000A000, INVALID_SIGNATURE,           SMBG_ECRYPTO)                               \
	X(0xC05D0000, SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP, SMBG_ENOPROTO)
/* clang-format on */

int smbg_err_from_ntstatus(uint32_t status)
{
	switch (status) {
#define X(code, name, err)                                                                         \
	case code:                                                                                 \
		return err;
		NTSTATUS_TABLE(X)
#undef X
	}
	/* Unknown: severity decides. Success and informational codes are not
	 * failures. */
	if ((status >> 30) <= 1)
		return SMBG_OK;
	return SMBG_EIO;
}

const char *smbg_ntstatus_name(uint32_t status)
{
	static _Thread_local char buf[16];
	switch (status) {
#define X(code, name, err)                                                                         \
	case code:                                                                                 \
		return "STATUS_" #name;
		NTSTATUS_TABLE(X)
#undef X
	}
	snprintf(buf, sizeof(buf), "0x%08X", (unsigned)status);
	return buf;
}
