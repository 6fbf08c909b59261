/* Request deadlines of the SMB client core: smb_client_service() enforces them (not only the
 * blocking smb_wait), requests waiting for credits have one too and fail when no credits can
 * come, an interim STATUS_PENDING extends a deadline only up to its bound, and on a signing
 * session an unverified interim answer changes neither credits nor deadlines. The link is one
 * end of a socketpair whose other end never answers; responses are fed to the frame handler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "smb2_fake.h"

static int peer = -1; /* the silent server's end */

static struct smb_client *client(int timeout_ms, uint32_t credits, struct smb_file **f)
{
	struct smb_client *c = fake_smb2_client();
	c->s2->large_mtu = 1;
	c->s2->credits = credits;
	c->max_read = c->max_write = 1024 * 1024;
	c->timeout_ms = timeout_ms;
	c->stage = SMB_STAGE_READY;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	c->t.fd = sv[0];
	peer = sv[1];
	*f = smb_file_new(c, "slow.bin");
	assert_non_null(*f);
	return c;
}

static void client_free(struct smb_client *c)
{
	c->stage = SMB_STAGE_NONE; /* no logoff round trips on the silent link */
	smb_client_free(c);
	close(peer);
	peer = -1;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static struct smb2_req *in_flight(struct smb_client *c, uint64_t mid)
{
	struct smb_pending_entry *e = smb_pending_find(&c->s2->pending, mid);
	assert_non_null(e);
	return smb_pending_owner(e, struct smb2_req, pend);
}

static void header(uint8_t *buf, uint16_t cmd, uint64_t mid, uint32_t status, uint16_t grant)
{
	memset(buf, 0, 64 + 9);
	memcpy(buf, "\xfeSMB", 4);
	buf[4] = 64;
	memcpy(buf + 8, &status, 4);
	buf[12] = (uint8_t)cmd;
	buf[14] = (uint8_t)grant;
	buf[15] = (uint8_t)(grant >> 8);
	buf[16] = 1; /* SERVER_TO_REDIR */
	for (int i = 0; i < 8; i++)
		buf[24 + i] = (uint8_t)(mid >> (8 * i));
	buf[64] = 9; /* error body */
}

static void interim(uint8_t *buf, uint64_t mid, uint16_t grant)
{
	header(buf, SMB2_READ, mid, STATUS_PENDING, grant);
	buf[16] |= 2;	/* ASYNC */
	buf[32] = 0x42; /* AsyncId */
}

static void test_service_enforces_deadlines(void **state)
{
	struct smb_file *f;
	struct smb_client *c = client(50, 100, &f);
	uint8_t buf[100];
	struct done_rec d = {0};
	assert_int_equal(smb_client_next_deadline_ms(c), -1); /* nothing waits */
	assert_int_equal(smb_pread_async(c, f, buf, sizeof(buf), 0, rec_cb, &d), 0);
	int wait = smb_client_next_deadline_ms(c);
	assert_true(wait >= 0 && wait <= 51);
	sleep_ms(80);
	/* No event, only the poll timeout: the service call itself must find the deadline. */
	assert_int_equal(smb_client_service(c, 0), SMBG_ETIMEDOUT);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.rc, SMBG_ETIMEDOUT);
	assert_non_null(strstr(smb_client_errmsg(c), "did not answer"));
	assert_int_equal(smb_client_next_deadline_ms(c), -1);
	client_free(c);
}

static void test_queued_request_has_deadline(void **state)
{
	struct smb_file *f;
	struct smb_client *c = client(50, 1, &f);
	uint8_t a[100], b[100];
	struct done_rec da = {0}, db = {0};
	assert_int_equal(smb_pread_async(c, f, a, sizeof(a), 0, rec_cb, &da), 0); /* last credit */
	assert_int_equal(smb_pread_async(c, f, b, sizeof(b), 100, rec_cb, &db), 0); /* queued */
	assert_non_null(c->s2->waitq_head);
	assert_true(c->s2->waitq_head->deadline != 0);
	/* The request in flight keeps being extended by interim answers; the queued one is not. */
	uint8_t msg[80];
	sleep_ms(30);
	interim(msg, 0, 0);
	assert_int_equal(smb2_frame(c, msg, 64 + 9), 0);
	assert_int_equal(smb2_next_deadline(c), c->s2->waitq_head->deadline);
	sleep_ms(40);
	assert_int_equal(smb_client_service(c, 0), SMBG_ETIMEDOUT);
	assert_int_equal(da.calls, 1);
	assert_int_equal(db.calls, 1);
	assert_int_equal(db.rc, SMBG_ETIMEDOUT);
	client_free(c);
}

static void test_no_credits_fail_the_queue(void **state)
{
	struct smb_file *f;
	struct smb_client *c = client(0, 1, &f); /* no timeout: only the credit check saves us */
	uint8_t a[100], b[100];
	struct done_rec da = {0}, db = {0};
	assert_int_equal(smb_pread_async(c, f, a, sizeof(a), 0, rec_cb, &da), 0);
	assert_int_equal(smb_pread_async(c, f, b, sizeof(b), 100, rec_cb, &db), 0);
	uint8_t msg[80];
	header(msg, SMB2_READ, 0, STATUS_END_OF_FILE, 0); /* answered, no credit granted */
	assert_int_equal(smb2_frame(c, msg, 64 + 9), 0);
	assert_int_equal(da.calls, 1);
	assert_int_equal(da.rc, 0);
	assert_int_equal(db.calls, 1);
	assert_int_equal(db.rc, SMBG_EPROTO);
	assert_non_null(strstr(smb_client_errmsg(c), "credits"));
	assert_null(c->s2->waitq_head);
	client_free(c);
}

static void test_cheaper_request_behind_a_starved_one_goes(void **state)
{
	struct smb_file *f;
	struct smb_client *c = client(0, 1, &f);
	static uint8_t a[100], big[1024 * 1024], b[100];
	struct done_rec da = {0}, dbig = {0}, db = {0};
	assert_int_equal(smb_pread_async(c, f, a, sizeof(a), 0, rec_cb, &da), 0);
	assert_int_equal(smb_pread_async(c, f, big, sizeof(big), 0, rec_cb, &dbig), 0); /* 16 */
	assert_int_equal(smb_pread_async(c, f, b, sizeof(b), 0, rec_cb, &db), 0);	/* 1 */
	uint8_t msg[80];
	header(msg, SMB2_READ, 0, STATUS_END_OF_FILE, 1); /* one credit back: not 16 */
	assert_int_equal(smb2_frame(c, msg, 64 + 9), 0);
	assert_int_equal(dbig.calls, 1);
	assert_int_equal(dbig.rc, SMBG_EPROTO);
	assert_int_equal(db.calls, 0); /* sent instead of failed */
	assert_int_equal(smb_client_pending(c), 1);
	client_free(c);
	assert_int_equal(db.calls, 1);
}

static void test_interim_extension_is_bounded(void **state)
{
	struct smb_file *f;
	struct smb_client *c = client(100, 100, &f);
	uint8_t buf[100];
	struct done_rec d = {0};
	assert_int_equal(smb_pread_async(c, f, buf, sizeof(buf), 0, rec_cb, &d), 0);
	struct smb2_req *r = in_flight(c, 0);
	int64_t sent = r->sent_at;
	assert_int_equal(r->deadline, sent + 100);
	uint8_t msg[80];
	interim(msg, 0, 1);
	sleep_ms(20);
	assert_int_equal(smb2_frame(c, msg, 64 + 9), 0);
	assert_true(r->deadline > sent + 100); /* the server works on it: the clock restarts */
	assert_true(r->deadline <= sent + 4 * 100);
	/* Much later, the same answer again: the deadline stops at 4 x the timeout. */
	r->sent_at -= 350;
	assert_int_equal(smb2_frame(c, msg, 64 + 9), 0);
	assert_int_equal(r->deadline, r->sent_at + 4 * 100);
	assert_int_equal(d.calls, 0);
	client_free(c);
	assert_int_equal(d.calls, 1);
}

static void sign_msg(struct smb_client *c, uint8_t *msg, size_t len)
{
	msg[16] |= SMB2_FLAGS_SIGNED;
	memset(msg + 48, 0, 16);
	struct iovec iov = {msg, len};
	assert_int_equal(smb2_sign(c->s2->sign_alg, c->s2->keys.signing, &iov, 1, msg + 48), 0);
}

static void test_unverified_interim_is_ignored(void **state)
{
	struct smb_file *f;
	struct smb_client *c = client(100, 10, &f);
	struct smb2_state *s = c->s2;
	s->session_id = 7;
	s->have_keys = 1;
	s->signing_required = 1;
	s->sign_alg = SMB2_SIGN_AES_CMAC;
	memset(s->keys.signing, 0x5a, 16);
	uint8_t buf[100];
	struct done_rec d = {0};
	assert_int_equal(smb_pread_async(c, f, buf, sizeof(buf), 0, rec_cb, &d), 0);
	struct smb2_req *r = in_flight(c, 0);
	int64_t deadline = r->deadline;
	uint32_t credits = s->credits;
	uint8_t msg[80];
	sleep_ms(10);
	interim(msg, 0, 500); /* unsigned: could come from anyone on the path */
	msg[40] = 7;	      /* SessionId */
	assert_int_equal(smb2_frame(c, msg, 64 + 9), 0);
	assert_int_equal(s->credits, credits);
	assert_int_equal(r->deadline, deadline);
	sign_msg(c, msg, 64 + 9); /* the same, signed with the session's key */
	assert_int_equal(smb2_frame(c, msg, 64 + 9), 0);
	assert_int_equal(s->credits, credits + 500);
	assert_true(r->deadline > deadline);
	msg[70] ^= 1; /* a bad signature: dropped as well */
	assert_int_equal(smb2_frame(c, msg, 64 + 9), 0);
	assert_int_equal(s->credits, credits + 500);
	/* A final answer without a signature fails the request and the connection. */
	header(msg, SMB2_READ, 0, STATUS_END_OF_FILE, 100);
	assert_int_equal(smb2_frame(c, msg, 64 + 9), SMBG_ECRYPTO);
	assert_int_equal(s->credits, credits + 500);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.rc, SMBG_ECRYPTO);
	client_free(c);
}

static void test_idle_time(void **state)
{
	struct smb_file *f;
	struct smb_client *c = client(0, 10, &f);
	c->last_rx_ms = 0;
	assert_int_equal(smb_client_idle_ms(c), 0); /* nothing received, not connected yet */
	c->last_rx_ms = 1;
	assert_true(smb_client_idle_ms(c) > 0);
	client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_service_enforces_deadlines),
	    cmocka_unit_test(test_queued_request_has_deadline),
	    cmocka_unit_test(test_no_credits_fail_the_queue),
	    cmocka_unit_test(test_cheaper_request_behind_a_starved_one_goes),
	    cmocka_unit_test(test_interim_extension_is_bounded),
	    cmocka_unit_test(test_unverified_interim_is_ignored),
	    cmocka_unit_test(test_idle_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
