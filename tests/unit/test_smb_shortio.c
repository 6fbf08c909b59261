/* Short READ and WRITE answers (smb/shortio.c over the SMB2 core): a read answered short in the
 * middle of the file asks again for the rest and completes short only at the end of the file; a
 * write answered short writes the rest; a write answered with 0 bytes fails. Requests are queued
 * on an unconnected link (nothing is written) and responses are fed to the frame handler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smb2_fake.h"

static struct smb_client *client(struct smb_file **f)
{
	struct smb_client *c = fake_smb2_client();
	c->s2->large_mtu = 1;
	c->s2->credits = 1000;
	c->max_read = c->max_write = 1024 * 1024;
	c->timeout_ms = 0;
	c->stage = SMB_STAGE_READY;
	*f = smb_file_new(c, "dir/file.bin");
	assert_non_null(*f);
	return c;
}

/* The last request on the link's output queue: its message id, and Length/Offset of a READ or
 * WRITE body (the same place in both, MS-SMB2 2.2.19 and 2.2.21). */
struct sent {
	uint64_t mid;
	uint32_t length;
	uint64_t offset;
	const uint8_t *payload; /* WRITE: where the data is taken from */
	size_t payload_len;
};

static struct sent last_sent(struct smb_client *c)
{
	struct smb_outbuf {
		struct smb_outbuf *next;
		uint8_t *owned;
		size_t owned_len;
		const uint8_t *payload;
		size_t payload_len;
	} *o = (void *)c->t.out_head;
	assert_non_null(o);
	while (o->next)
		o = o->next;
	const uint8_t *h = o->owned + 4, *b = h + 64;
	struct sent s = {0};
	for (int i = 7; i >= 0; i--) {
		s.mid = s.mid << 8 | h[24 + i];
		s.offset = s.offset << 8 | b[8 + i];
	}
	s.length = (uint32_t)(b[4] | b[5] << 8 | b[6] << 16 | (uint32_t)b[7] << 24);
	s.payload = o->payload;
	s.payload_len = o->payload_len;
	return s;
}

static void header(uint8_t *buf, uint16_t cmd, uint64_t mid, uint32_t status)
{
	memset(buf, 0, 64);
	memcpy(buf, "\xfeSMB", 4);
	buf[4] = 64;
	memcpy(buf + 8, &status, 4);
	buf[12] = (uint8_t)cmd;
	buf[14] = 16; /* credits granted */
	buf[16] = 1;  /* SERVER_TO_REDIR */
	for (int i = 0; i < 8; i++)
		buf[24 + i] = (uint8_t)(mid >> (8 * i));
}

/* A successful READ response carrying n bytes of value fill (2.2.20). */
static int read_answer(struct smb_client *c, uint64_t mid, size_t n, uint8_t fill)
{
	size_t len = 80 + n;
	uint8_t *buf = calloc(1, len + 1);
	assert_non_null(buf);
	header(buf, SMB2_READ, mid, 0);
	buf[64] = 17;
	buf[66] = 80; /* DataOffset */
	buf[68] = (uint8_t)n;
	buf[69] = (uint8_t)(n >> 8);
	buf[70] = (uint8_t)(n >> 16);
	memset(buf + 80, fill, n);
	int rc = smb2_frame(c, buf, len);
	free(buf);
	return rc;
}

static int eof_answer(struct smb_client *c, uint64_t mid)
{
	uint8_t buf[64 + 9] = {0};
	header(buf, SMB2_READ, mid, STATUS_END_OF_FILE);
	buf[64] = 9;
	return smb2_frame(c, buf, sizeof(buf));
}

/* A successful WRITE response with Count n (2.2.22). */
static int write_answer(struct smb_client *c, uint64_t mid, uint32_t n)
{
	uint8_t buf[64 + 16] = {0};
	header(buf, SMB2_WRITE, mid, 0);
	buf[64] = 17;
	memcpy(buf + 68, &n, 4);
	return smb2_frame(c, buf, sizeof(buf));
}

static void test_short_read_reads_on(void **state)
{
	struct smb_file *f;
	struct smb_client *c = client(&f);
	uint8_t buf[1000];
	memset(buf, 0, sizeof(buf));
	struct done_rec d = {0};
	assert_int_equal(smb_pread_async(c, f, buf, sizeof(buf), 5000, rec_cb, &d), 0);
	struct sent s = last_sent(c);
	assert_int_equal(s.length, 1000);
	assert_int_equal(s.offset, 5000);
	assert_int_equal(read_answer(c, s.mid, 300, 'a'), 0);
	assert_int_equal(d.calls, 0); /* not at the end of the file: the rest is asked for */
	s = last_sent(c);
	assert_int_equal(s.length, 700);
	assert_int_equal(s.offset, 5300);
	assert_int_equal(read_answer(c, s.mid, 200, 'b'), 0);
	s = last_sent(c);
	assert_int_equal(s.length, 500);
	assert_int_equal(s.offset, 5500);
	assert_int_equal(read_answer(c, s.mid, 500, 'c'), 0);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.rc, 1000);
	assert_int_equal(buf[0], 'a');
	assert_int_equal(buf[299], 'a');
	assert_int_equal(buf[300], 'b');
	assert_int_equal(buf[499], 'b');
	assert_int_equal(buf[500], 'c');
	assert_int_equal(buf[999], 'c');
	assert_int_equal(smb_client_pending(c), 0);
	smb_client_free(c);
}

static void test_short_read_stops_at_eof(void **state)
{
	struct smb_file *f;
	struct smb_client *c = client(&f);
	uint8_t buf[1000];
	struct done_rec d = {0}, e = {0};
	assert_int_equal(smb_pread_async(c, f, buf, sizeof(buf), 0, rec_cb, &d), 0);
	assert_int_equal(read_answer(c, last_sent(c).mid, 300, 'a'), 0);
	assert_int_equal(eof_answer(c, last_sent(c).mid), 0);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.rc, 300); /* short only because the file ends there */
	/* A zero-byte answer is the end of the file too. */
	assert_int_equal(smb_pread_async(c, f, buf, sizeof(buf), 0, rec_cb, &e), 0);
	assert_int_equal(read_answer(c, last_sent(c).mid, 10, 'a'), 0);
	assert_int_equal(read_answer(c, last_sent(c).mid, 0, 'a'), 0);
	assert_int_equal(e.calls, 1);
	assert_int_equal(e.rc, 10);
	smb_client_free(c);
}

static void test_short_write_writes_the_rest(void **state)
{
	struct smb_file *f;
	struct smb_client *c = client(&f);
	uint8_t data[1000];
	struct done_rec d = {0};
	assert_int_equal(smb_pwrite_async(c, f, data, sizeof(data), 70000, rec_cb, &d), 0);
	struct sent s = last_sent(c);
	assert_int_equal(s.length, 1000);
	assert_ptr_equal(s.payload, data);
	assert_int_equal(write_answer(c, s.mid, 400), 0);
	assert_int_equal(d.calls, 0);
	s = last_sent(c);
	assert_int_equal(s.length, 600);
	assert_int_equal(s.offset, 70400);
	assert_ptr_equal(s.payload, data + 400);
	assert_int_equal(s.payload_len, 600);
	assert_int_equal(write_answer(c, s.mid, 600), 0);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.rc, 1000);
	smb_client_free(c);
}

static void test_write_without_progress_fails(void **state)
{
	struct smb_file *f;
	struct smb_client *c = client(&f);
	uint8_t data[1000];
	struct done_rec d = {0};
	assert_int_equal(smb_pwrite_async(c, f, data, sizeof(data), 0, rec_cb, &d), 0);
	assert_int_equal(write_answer(c, last_sent(c).mid, 250), 0);
	assert_int_equal(write_answer(c, last_sent(c).mid, 0), 0);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.rc, SMBG_EIO);
	const char *msg = smb_client_errmsg(c);
	assert_non_null(strstr(msg, "dir/file.bin"));
	assert_non_null(strstr(msg, "wrote 0 of 750"));
	assert_int_equal(smb_client_pending(c), 0);
	smb_client_free(c);
}

static void test_failure_midway_completes_once(void **state)
{
	struct smb_file *f;
	struct smb_client *c = client(&f);
	uint8_t buf[1000];
	struct done_rec d = {0};
	assert_int_equal(smb_pread_async(c, f, buf, sizeof(buf), 0, rec_cb, &d), 0);
	assert_int_equal(read_answer(c, last_sent(c).mid, 100, 'a'), 0);
	smb_client_free(c); /* the follow-up read is failed by the teardown */
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.rc, SMBG_ECANCELED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_short_read_reads_on),
	    cmocka_unit_test(test_short_read_stops_at_eof),
	    cmocka_unit_test(test_short_write_writes_the_rest),
	    cmocka_unit_test(test_write_without_progress_fails),
	    cmocka_unit_test(test_failure_midway_completes_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
