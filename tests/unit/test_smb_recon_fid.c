/* Reconnect: requests parked unsent while the connection is down are sent after the reconnect
 * with the reopened handle's FileId (smb_recon_patch_fid), set-info ones (times, size, rename,
 * delete) as much as reads and flushes; and a set-info is still not kept for a replay. The
 * client is never connected: the reconnect state is set to DOWN so that every submit parks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smb/reconnect.h"
#include "smb2_fake.h"

static int failed; /* callbacks run when the parked requests are dropped at the end */

static void count_cb(struct smb_client *c, int rc, void *priv)
{
	(void)c;
	(void)priv;
	if (rc < 0)
		failed++;
}

static int has16(const struct wbuf *b, uint8_t v)
{
	uint8_t pat[16];
	memset(pat, v, sizeof(pat));
	for (size_t i = 0; i + 16 <= b->len; i++)
		if (memcmp(b->p + i, pat, 16) == 0)
			return 1;
	return 0;
}

static void test_parked_requests_get_the_new_fid(void **state)
{
	(void)state;
	struct smb_client *c = fake_smb2_client();
	c->stage = SMB_STAGE_READY;
	assert_int_equal(smb_client_set_reconnect(c, 1), 0);
	c->recon->state = SMB_RECON_DOWN; /* every request parks */
	struct smb_file *f = smb_file_new(c, "a.bin");
	assert_non_null(f);
	f->opened = 1;
	memset(f->fid, 0x11, sizeof(f->fid));

	assert_int_equal(smb2_set_times(c, f, 1, 2, count_cb, NULL), 0);
	assert_int_equal(smb2_set_size(c, f, 7, count_cb, NULL), 0);
	assert_int_equal(smb2_rename(c, f, "b.bin", 1, count_cb, NULL), 0);
	assert_int_equal(smb2_set_delete(c, f, 1, count_cb, NULL), 0);
	assert_int_equal(smb2_flush(c, f, count_cb, NULL), 0);
	assert_int_equal(c->recon->nparked, 5);

	memset(f->fid, 0x22, sizeof(f->fid)); /* reopened under a new FileId */
	for (struct smb2_req *r = c->recon->parked_head; r; r = r->next) {
		assert_true(has16(&r->pdu, 0x11));
		assert_int_equal(smb_recon_patch_fid(r), 1);
		assert_false(has16(&r->pdu, 0x11));
		assert_true(has16(&r->pdu, 0x22));
		/* Set-info changes state on the server: once sent it is never sent again. */
		assert_int_equal(r->keep_pdu, r->command != SMB2_SET_INFO);
	}

	smb_client_set_reconnect(c, 0); /* fails the parked requests */
	assert_int_equal(failed, 5);
	c->stage = SMB_STAGE_NONE; /* nothing to log off from */
	smb_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parked_requests_get_the_new_fid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
