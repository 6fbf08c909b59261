/* The copy a blocking exchange keeps of its response: copied on success, not on failure or when
 * there is no message, and freed by reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smb/reply.h"
#include "smbgate/err.h"

static void test_keep_and_reset(void **state)
{
	uint8_t msg[5] = {1, 2, 3, 4, 5};
	struct smb_reply x = {0};
	smb_reply_keep(&x, 0, msg, sizeof(msg));
	assert_int_equal(x.done, 1);
	assert_int_equal(x.err, 0);
	assert_non_null(x.msg);
	assert_ptr_not_equal(x.msg, msg); /* a copy: the message is only borrowed */
	assert_int_equal(x.len, sizeof(msg));
	assert_memory_equal(x.msg, msg, sizeof(msg));
	smb_reply_reset(&x);
	assert_int_equal(x.done, 0);
	assert_null(x.msg);
	assert_int_equal(x.len, 0);
	/* A failure keeps its error and no message, even when one is passed. */
	smb_reply_keep(&x, SMBG_ECLOSED, msg, sizeof(msg));
	assert_int_equal(x.done, 1);
	assert_int_equal(x.err, SMBG_ECLOSED);
	assert_null(x.msg);
	smb_reply_reset(&x);
	/* Success without a message (SMB1 negotiate answered in SMB2). */
	smb_reply_keep(&x, 0, NULL, 0);
	assert_int_equal(x.done, 1);
	assert_int_equal(x.err, 0);
	assert_null(x.msg);
	smb_reply_reset(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keep_and_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
