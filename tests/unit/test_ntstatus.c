/* NTSTATUS values against [MS-ERREF] 2.3.1, their mapping to the error enum, and the enum's own
 * names and messages. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smbgate/err.h"

/* Code, name and mapping, copied by hand from MS-ERREF (not from the table under test). */
static const struct {
	uint32_t code;
	const char *name;
	int err;
} known[] = {
    {0x00000000, "STATUS_SUCCESS", SMBG_OK},
    {0x00000103, "STATUS_PENDING", SMBG_EAGAIN},
    {0xC0000016, "STATUS_MORE_PROCESSING_REQUIRED", SMBG_EAGAIN},
    {0x80000005, "STATUS_BUFFER_OVERFLOW", SMBG_ETOOBIG},
    {0x80000006, "STATUS_NO_MORE_FILES", SMBG_EOF},
    {0xC0000011, "STATUS_END_OF_FILE", SMBG_EOF},
    {0xC000000D, "STATUS_INVALID_PARAMETER", SMBG_EINVAL},
    {0xC000000F, "STATUS_NO_SUCH_FILE", SMBG_ENOENT},
    {0xC0000034, "STATUS_OBJECT_NAME_NOT_FOUND", SMBG_ENOENT},
    {0xC0000035, "STATUS_OBJECT_NAME_COLLISION", SMBG_EEXIST},
    {0xC000003A, "STATUS_OBJECT_PATH_NOT_FOUND", SMBG_ENOENT},
    {0xC000003B, "STATUS_OBJECT_PATH_SYNTAX_BAD", SMBG_ENAME},
    {0xC0000033, "STATUS_OBJECT_NAME_INVALID", SMBG_ENAME},
    {0xC0000022, "STATUS_ACCESS_DENIED", SMBG_EACCES},
    {0xC000006D, "STATUS_LOGON_FAILURE", SMBG_EAUTH},
    {0xC0000072, "STATUS_ACCOUNT_DISABLED", SMBG_EDISABLED},
    {0xC0000234, "STATUS_ACCOUNT_LOCKED_OUT", SMBG_EDISABLED},
    {0xC0000071, "STATUS_PASSWORD_EXPIRED", SMBG_EDISABLED},
    {0xC0000224, "STATUS_PASSWORD_MUST_CHANGE", SMBG_EDISABLED},
    {0xC000006E, "STATUS_ACCOUNT_RESTRICTION", SMBG_EDISABLED},
    {0xC000006F, "STATUS_INVALID_LOGON_HOURS", SMBG_EDISABLED},
    {0xC000006A, "STATUS_WRONG_PASSWORD", SMBG_EAUTH},
    {0xC0000064, "STATUS_NO_SUCH_USER", SMBG_EAUTH},
    {0xC00000CC, "STATUS_BAD_NETWORK_NAME", SMBG_ENOSHARE},
    {0xC00000BE, "STATUS_BAD_NETWORK_PATH", SMBG_ENOSHARE},
    {0xC00000C9, "STATUS_NETWORK_NAME_DELETED", SMBG_ECLOSED},
    {0xC0000203, "STATUS_USER_SESSION_DELETED", SMBG_ECLOSED},
    {0xC000035C, "STATUS_NETWORK_SESSION_EXPIRED", SMBG_ECLOSED},
    {0xC0000043, "STATUS_SHARING_VIOLATION", SMBG_EBUSY},
    {0xC0000056, "STATUS_DELETE_PENDING", SMBG_EBUSY},
    {0xC00000BA, "STATUS_FILE_IS_A_DIRECTORY", SMBG_EISDIR},
    {0xC0000103, "STATUS_NOT_A_DIRECTORY", SMBG_ENOTDIR},
    {0xC0000101, "STATUS_DIRECTORY_NOT_EMPTY", SMBG_ENOTEMPTY},
    {0xC000007F, "STATUS_DISK_FULL", SMBG_ENOSPC},
    {0xC0000044, "STATUS_QUOTA_EXCEEDED", SMBG_ENOSPC},
    {0xC00000A2, "STATUS_MEDIA_WRITE_PROTECTED", SMBG_EROFS},
    {0xC00000BB, "STATUS_NOT_SUPPORTED", SMBG_ENOTSUP},
    {0xC0000002, "STATUS_NOT_IMPLEMENTED", SMBG_ENOTSUP},
    {0xC0000010, "STATUS_INVALID_DEVICE_REQUEST", SMBG_ENOTSUP},
    {0xC0000008, "STATUS_INVALID_HANDLE", SMBG_EBADF},
    {0xC0000128, "STATUS_FILE_CLOSED", SMBG_EBADF},
    {0xC0000120, "STATUS_CANCELLED", SMBG_ECANCELED},
    {0xC000009A, "STATUS_INSUFFICIENT_RESOURCES", SMBG_ENOMEM},
    {0xC0000017, "STATUS_NO_MEMORY", SMBG_ENOMEM},
    {0xC0000005, "STATUS_ACCESS_VIOLATION", SMBG_EPROTO},
    {0xC0000003, "STATUS_INVALID_INFO_CLASS", SMBG_ENOTSUP},
    {0xC0000004, "STATUS_INFO_LENGTH_MISMATCH", SMBG_EPROTO},
    {0xC0000023, "STATUS_BUFFER_TOO_SMALL", SMBG_ETOOBIG},
    {0x40000000, "STATUS_OBJECT_NAME_EXISTS", SMBG_EEXIST},
    {0xC0000054, "STATUS_FILE_LOCK_CONFLICT", SMBG_EBUSY},
    {0xC0000055, "STATUS_LOCK_NOT_GRANTED", SMBG_EBUSY},
    {0xC0000121, "STATUS_CANNOT_DELETE", SMBG_EACCES},
    {0xC00000D4, "STATUS_NOT_SAME_DEVICE", SMBG_ENOTSUP},
    {0xC00000D5, "STATUS_FILE_RENAMED", SMBG_ENOENT},
    {0xC00000C3, "STATUS_INVALID_NETWORK_RESPONSE", SMBG_EPROTO},
    {0xC00000D0, "STATUS_REQUEST_NOT_ACCEPTED", SMBG_EBUSY},
    {0xC00000CA, "STATUS_NETWORK_ACCESS_DENIED", SMBG_EACCES},
    {0xC00000A5, "STATUS_BAD_IMPERSONATION_LEVEL", SMBG_EACCES},
    {0xC000028A, "STATUS_ENCRYPTION_FAILED", SMBG_ECRYPTO},
    {0xC000028B, "STATUS_DECRYPTION_FAILED", SMBG_ECRYPTO},
    {0xC000A000, "STATUS_INVALID_SIGNATURE", SMBG_ECRYPTO},
    {0xC0000193, "STATUS_ACCOUNT_EXPIRED", SMBG_EDISABLED},
    {0xC0000070, "STATUS_INVALID_WORKSTATION", SMBG_EDISABLED},
    {0xC0000257, "STATUS_PATH_NOT_COVERED", SMBG_ENOTSUP},
    {0x8000002D, "STATUS_STOPPED_ON_SYMLINK", SMBG_ENOTSUP},
    {0xC00000B5, "STATUS_IO_TIMEOUT", SMBG_ETIMEDOUT},
    {0xC0000106, "STATUS_NAME_TOO_LONG", SMBG_ENAME},
    {0xC0000039, "STATUS_OBJECT_PATH_INVALID", SMBG_ENAME},
    {0xC0000225, "STATUS_NOT_FOUND", SMBG_ENOENT},
    {0xC0000061, "STATUS_PRIVILEGE_NOT_HELD", SMBG_EACCES},
    {0xC05D0000, "STATUS_SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP", SMBG_ENOPROTO},
};

static void test_known(void **state)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		print_message("  0x%08X %s\n", (unsigned)known[i].code, known[i].name);
		assert_string_equal(smbg_ntstatus_name(known[i].code), known[i].name);
		assert_int_equal(smbg_err_from_ntstatus(known[i].code), known[i].err);
	}
}

static void test_unknown(void **state)
{
	assert_string_equal(smbg_ntstatus_name(0xC00000FF), "0xC00000FF");
	assert_string_equal(smbg_ntstatus_name(0xDEADBEEF), "0xDEADBEEF");
	assert_string_equal(smbg_ntstatus_name(0x00000001), "0x00000001");
	/* Severity decides for unknown codes: errors and warnings fail, the rest do not. */
	assert_int_equal(smbg_err_from_ntstatus(0xC00000FF), SMBG_EIO);
	assert_int_equal(smbg_err_from_ntstatus(0x800000FF), SMBG_EIO);
	assert_int_equal(smbg_err_from_ntstatus(0x400000FF), SMBG_OK);
	assert_int_equal(smbg_err_from_ntstatus(0x000000FF), SMBG_OK);
}

/* Failures never map to success. */
static void test_errors_fail(void **state)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if ((known[i].code >> 30) == 3)
			assert_true(smbg_err_from_ntstatus(known[i].code) < 0);
}

static void *name_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++) {
		char want[16];
		uint32_t code = 0xE0000000u + (uint32_t)i;
		snprintf(want, sizeof(want), "0x%08X", (unsigned)code);
		if (strcmp(smbg_ntstatus_name(code), want) != 0)
			return (void *)1;
	}
	return NULL;
}

/* The unknown-code buffer is per thread. */
static void test_thread_local(void **state)
{
	const char *mine = smbg_ntstatus_name(0xC0001234);
	pthread_t t;
	void *res = (void *)2;
	assert_int_equal(pthread_create(&t, NULL, name_thread, NULL), 0);
	assert_int_equal(pthread_join(t, &res), 0);
	assert_null(res);
	assert_string_equal(mine, "0xC0001234");
}

static void test_err_names(void **state)
{
	static const struct {
		int err;
		const char *name;
	} names[] = {
	    {SMBG_OK, "SMBG_OK"},
	    {SMBG_ENOMEM, "SMBG_ENOMEM"},
	    {SMBG_EINVAL, "SMBG_EINVAL"},
	    {SMBG_EPROTO, "SMBG_EPROTO"},
	    {SMBG_EIO, "SMBG_EIO"},
	    {SMBG_ECONNREFUSED, "SMBG_ECONNREFUSED"},
	    {SMBG_ETIMEDOUT, "SMBG_ETIMEDOUT"},
	    {SMBG_ECLOSED, "SMBG_ECLOSED"},
	    {SMBG_ERESOLVE, "SMBG_ERESOLVE"},
	    {SMBG_EAUTH, "SMBG_EAUTH"},
	    {SMBG_EACCES, "SMBG_EACCES"},
	    {SMBG_ENOENT, "SMBG_ENOENT"},
	    {SMBG_EEXIST, "SMBG_EEXIST"},
	    {SMBG_ENOTDIR, "SMBG_ENOTDIR"},
	    {SMBG_EISDIR, "SMBG_EISDIR"},
	    {SMBG_ENOTEMPTY, "SMBG_ENOTEMPTY"},
	    {SMBG_ENOSHARE, "SMBG_ENOSHARE"},
	    {SMBG_ENOSPC, "SMBG_ENOSPC"},
	    {SMBG_EROFS, "SMBG_EROFS"},
	    {SMBG_EBUSY, "SMBG_EBUSY"},
	    {SMBG_ENOTSUP, "SMBG_ENOTSUP"},
	    {SMBG_ECRYPTO, "SMBG_ECRYPTO"},
	    {SMBG_ENAME, "SMBG_ENAME"},
	    {SMBG_ECANCELED, "SMBG_ECANCELED"},
	    {SMBG_ENOPROTO, "SMBG_ENOPROTO"},
	    {SMBG_EDISABLED, "SMBG_EDISABLED"},
	    {SMBG_ETOOBIG, "SMBG_ETOOBIG"},
	    {SMBG_EBADF, "SMBG_EBADF"},
	    {SMBG_EOF, "SMBG_EOF"},
	    {SMBG_EAGAIN, "SMBG_EAGAIN"},
	    {SMBG_EPERM, "SMBG_EPERM"},
	};
	assert_int_equal(sizeof(names) / sizeof(names[0]), -SMBG_E_LAST);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_string_equal(smbg_errname(names[i].err), names[i].name);
		const char *msg = smbg_strerror(names[i].err);
		assert_non_null(msg);
		assert_true(strlen(msg) > 0);
		assert_string_not_equal(msg, "unknown error");
		/* Messages are distinct, so the CLI can tell them apart. */
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(msg, smbg_strerror(names[j].err));
	}
	assert_string_equal(smbg_strerror(SMBG_EAUTH), "wrong user name or password");
	assert_string_equal(smbg_strerror(SMBG_E_LAST), "unknown error");
	assert_string_equal(smbg_strerror(-1000), "unknown error");
	assert_string_equal(smbg_errname(-1000), "SMBG_E?(-1000)");
	assert_string_equal(smbg_errname(SMBG_E_LAST), "SMBG_E?(-31)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known),	cmocka_unit_test(test_unknown),
	    cmocka_unit_test(test_errors_fail), cmocka_unit_test(test_thread_local),
	    cmocka_unit_test(test_err_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
