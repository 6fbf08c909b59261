/* Credit arithmetic of the SMB2 core (MS-SMB2 3.2.4.1.5): charges, message id consumption,
 * the wait queue when credits run out, and grants from responses releasing it. Requests are
 * queued on an unconnected link (nothing is written); responses are fed to the frame handler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smb2_fake.h"

struct resp_rec {
	int calls;
	int err;
	uint32_t status;
};

static void rec_done(struct smb_client *c, struct smb2_req *r, int err, const struct smb2_msg *m)
{
	struct resp_rec *d = r->ctx;
	d->calls++;
	d->err = err;
	d->status = m ? m->status : 0;
}

static struct smb_client *client(int large_mtu, uint32_t credits)
{
	struct smb_client *c = fake_smb2_client();
	c->s2->large_mtu = large_mtu;
	c->s2->credits = credits;
	c->max_read = c->max_write = 8 * 1024 * 1024;
	c->timeout_ms = 0;
	return c;
}

static uint64_t queued_msg_id(struct smb_client *c, int idx, uint16_t *charge, uint16_t *req)
{
	/* Walk the link's output queue: each entry starts with 4 frame bytes + SMB2 header. */
	struct smb_outbuf {
		struct smb_outbuf *next;
		uint8_t *owned;
	} *o = (void *)c->t.out_head;
	for (int i = 0; i < idx && o; i++)
		o = o->next;
	assert_non_null(o);
	const uint8_t *h = o->owned + 4;
	*charge = (uint16_t)(h[6] | h[7] << 8);
	*req = (uint16_t)(h[14] | h[15] << 8);
	uint64_t id = 0;
	for (int i = 7; i >= 0; i--)
		id = id << 8 | h[24 + i];
	return id;
}

static struct smb2_req *read_req(struct smb_client *c, uint32_t size, struct resp_rec *d)
{
	struct smb2_req *r = smb2_req_new(c, SMB2_READ, rec_done);
	assert_non_null(r);
	r->ctx = d;
	r->payload_size = size;
	wbuf_put_le16(&r->pdu, 49);
	wbuf_put_zero(&r->pdu, 48);
	return r;
}

static void response(uint8_t *buf, uint64_t mid, uint16_t grant, uint32_t status)
{
	memset(buf, 0, 64 + 9);
	memcpy(buf, "\xfeSMB", 4);
	buf[4] = 64;
	memcpy(buf + 8, &status, 4);
	buf[12] = SMB2_READ;
	buf[14] = (uint8_t)grant;
	buf[15] = (uint8_t)(grant >> 8);
	buf[16] = 1; /* SERVER_TO_REDIR */
	for (int i = 0; i < 8; i++)
		buf[24 + i] = (uint8_t)(mid >> (8 * i));
	buf[64] = 9; /* error response body */
}

static void test_charge_and_ids(void **state)
{
	struct smb_client *c = client(1, 100);
	struct resp_rec d[3] = {0};
	assert_int_equal(smb2_submit(c, read_req(c, 1024 * 1024, &d[0])), 0); /* 16 credits */
	assert_int_equal(smb2_submit(c, read_req(c, 65536, &d[1])), 0);	      /* 1 credit */
	assert_int_equal(smb2_submit(c, read_req(c, 65537, &d[2])), 0);	      /* 2 credits */
	uint16_t charge, req;
	assert_int_equal(queued_msg_id(c, 0, &charge, &req), 0);
	assert_int_equal(charge, 16);
	assert_true(req >= 16);
	assert_int_equal(queued_msg_id(c, 1, &charge, &req), 16);
	assert_int_equal(charge, 1);
	assert_int_equal(queued_msg_id(c, 2, &charge, &req), 17);
	assert_int_equal(charge, 2);
	assert_int_equal(c->s2->credits, 100 - 19);
	assert_int_equal(c->s2->next_msg_id, 19);
	assert_int_equal(smb2_pending(c), 3);
	smb_client_free(c);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(d[i].calls, 1);
		assert_int_equal(d[i].err, SMBG_ECANCELED);
	}
}

static void test_no_large_mtu_charge_zero(void **state)
{
	struct smb_client *c = client(0, 10);
	struct resp_rec d = {0};
	assert_int_equal(smb2_submit(c, read_req(c, 65536, &d)), 0);
	uint16_t charge, req;
	assert_int_equal(queued_msg_id(c, 0, &charge, &req), 0);
	assert_int_equal(charge, 0); /* 2.0.2 servers require CreditCharge 0 */
	assert_int_equal(c->s2->credits, 9);
	smb_client_free(c);
}

static void test_wait_queue_released_by_grant(void **state)
{
	struct smb_client *c = client(1, 20);
	struct resp_rec d[2] = {0};
	assert_int_equal(smb2_submit(c, read_req(c, 1024 * 1024, &d[0])), 0); /* 16 of 20 */
	assert_int_equal(smb2_submit(c, read_req(c, 1024 * 1024, &d[1])), 0); /* waits */
	assert_int_equal(smb2_pending(c), 1);
	assert_non_null(c->s2->waitq_head);
	assert_int_equal(c->s2->credits, 4);
	/* The first response grants 16 credits: the queued request goes out with id 16. */
	uint8_t buf[80];
	response(buf, 0, 16, 0xC0000011u /* END_OF_FILE */);
	assert_int_equal(smb2_frame(c, buf, 64 + 9), 0);
	assert_int_equal(d[0].calls, 1);
	assert_int_equal(d[0].status, 0xC0000011u);
	assert_null(c->s2->waitq_head);
	assert_int_equal(smb2_pending(c), 1);
	assert_int_equal(c->s2->credits, 4);
	assert_int_equal(c->s2->next_msg_id, 32);
	smb_client_free(c);
	assert_int_equal(d[1].calls, 1);
}

static void test_starved_without_pending_fails(void **state)
{
	struct smb_client *c = client(1, 3);
	struct resp_rec d = {0};
	/* 16 credits needed, 3 held, nothing in flight to bring more: an error, not a hang. */
	assert_int_equal(smb2_submit(c, read_req(c, 1024 * 1024, &d)), SMBG_EPROTO);
	assert_int_equal(d.calls, 0);
	smb_client_free(c);
}

static void test_unknown_and_duplicate_response(void **state)
{
	struct smb_client *c = client(1, 10);
	struct resp_rec d = {0};
	assert_int_equal(smb2_submit(c, read_req(c, 100, &d)), 0);
	uint8_t buf[80];
	uint32_t before = c->s2->credits;
	response(buf, 99, 5, 0xC0000011u); /* nobody asked for id 99: dropped, grant counted */
	assert_int_equal(smb2_frame(c, buf, 64 + 9), 0);
	assert_int_equal(d.calls, 0);
	assert_int_equal(c->s2->credits, before + 5);
	response(buf, 0, 1, 0); /* success with a 9-byte body: READ needs 16 */
	assert_int_equal(smb2_frame(c, buf, 64 + 9), SMBG_EPROTO);
	smb_client_free(c);
	assert_int_equal(d.calls, 1);
}

static void test_interim_pending_keeps_request(void **state)
{
	struct smb_client *c = client(1, 10);
	struct resp_rec d = {0};
	assert_int_equal(smb2_submit(c, read_req(c, 100, &d)), 0);
	uint8_t buf[80];
	response(buf, 0, 1, 0x00000103u /* PENDING */);
	buf[16] = 1 | 2; /* ASYNC */
	assert_int_equal(smb2_frame(c, buf, 64 + 9), 0);
	assert_int_equal(d.calls, 0);
	assert_int_equal(smb2_pending(c), 1);
	response(buf, 0, 1, 0xC0000011u);
	assert_int_equal(smb2_frame(c, buf, 64 + 9), 0);
	assert_int_equal(d.calls, 1);
	assert_int_equal(smb2_pending(c), 0);
	smb_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_charge_and_ids),
	    cmocka_unit_test(test_no_large_mtu_charge_zero),
	    cmocka_unit_test(test_wait_queue_released_by_grant),
	    cmocka_unit_test(test_starved_without_pending_fails),
	    cmocka_unit_test(test_unknown_and_duplicate_response),
	    cmocka_unit_test(test_interim_pending_keeps_request),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
