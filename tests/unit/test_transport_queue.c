/* The output queue of the frame layer: frames whose payload is memory and frames whose payload
 * the kernel sends from a file (sendfile) leave in order with their 4-byte headers, across
 * partial writes; a file that ends early fails the connection instead of sending a short frame. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "smb/transport/transport.h"
#include "smbgate/err.h"

#define BIG (3u * 1024 * 1024) /* larger than the socket buffer: forces partial writes */

struct rig {
	struct smb_link t;
	int peer;
	int file;
	uint8_t *content;
};

static int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	smb_transport_init(&r->t);
	r->t.fd = sv[0];
	r->peer = sv[1];
	char path[] = "/tmp/smbgate-test-transport-XXXXXX";
	r->file = mkstemp(path);
	assert_true(r->file >= 0);
	unlink(path);
	r->content = malloc(BIG);
	assert_non_null(r->content);
	for (size_t i = 0; i < BIG; i++)
		r->content[i] = (uint8_t)(i * 7 + i / 4096);
	assert_int_equal(write(r->file, r->content, BIG), (ssize_t)BIG);
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;
	smb_transport_close(&r->t);
	close(r->peer);
	close(r->file);
	free(r->content);
	free(r);
	return 0;
}

static uint8_t *owned_frame(const char *text, size_t *len)
{
	size_t n = strlen(text);
	uint8_t *p = malloc(4 + n);
	assert_non_null(p);
	memcpy(p + 4, text, n);
	*len = 4 + n;
	return p;
}

/* Flushes while reading the peer side until want bytes arrived or the flush fails. */
static int pump(struct rig *r, uint8_t *got, size_t want, size_t *have)
{
	*have = 0;
	for (int spins = 0; spins < 100000; spins++) {
		int rc = smb_transport_flush(&r->t);
		if (rc < 0)
			return rc;
		ssize_t n = read(r->peer, got + *have, want - *have);
		if (n > 0)
			*have += (size_t)n;
		if (*have == want && !smb_transport_has_output(&r->t))
			return 0;
		if (n < 0 && errno != EAGAIN)
			return SMBG_EIO;
		if (n <= 0 && rc == 0 && !smb_transport_has_output(&r->t))
			return 0;
	}
	return SMBG_ETIMEDOUT;
}

static void expect_frame(const uint8_t **p, const uint8_t *body, size_t body_len,
			 const uint8_t *payload, size_t payload_len)
{
	size_t len = body_len + payload_len;
	uint8_t hdr[4] = {0, (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
	assert_memory_equal(*p, hdr, 4);
	assert_memory_equal(*p + 4, body, body_len);
	assert_memory_equal(*p + 4 + body_len, payload, payload_len);
	*p += 4 + len;
}

static void test_memory_and_file_frames_in_order(void **state)
{
	struct rig *r = *state;
	static const uint8_t mem_payload[] = "memory payload";
	size_t l1, l2, l3;
	uint8_t *f1 = owned_frame("first header", &l1);
	uint8_t *f2 = owned_frame("file header", &l2);
	uint8_t *f3 = owned_frame("last header", &l3);
	const size_t file_off = 12345, file_len = BIG - 20000;

	assert_int_equal(smb_transport_queue(&r->t, f1, l1, mem_payload, sizeof(mem_payload)), 0);
	assert_int_equal(smb_transport_queue_file(&r->t, f2, l2, r->file, file_off, file_len), 0);
	assert_int_equal(smb_transport_queue(&r->t, f3, l3, NULL, 0), 0);

	size_t want = l1 + sizeof(mem_payload) + l2 + file_len + l3;
	uint8_t *got = malloc(want);
	assert_non_null(got);
	size_t have;
	assert_int_equal(pump(r, got, want, &have), 0);
	assert_int_equal(have, want);
	assert_false(smb_transport_has_output(&r->t));

	const uint8_t *p = got;
	expect_frame(&p, (const uint8_t *)"first header", l1 - 4, mem_payload, sizeof(mem_payload));
	expect_frame(&p, (const uint8_t *)"file header", l2 - 4, r->content + file_off, file_len);
	expect_frame(&p, (const uint8_t *)"last header", l3 - 4, NULL, 0);
	assert_ptr_equal(p, got + want);
	free(got);
}

static void test_file_shorter_than_frame_fails(void **state)
{
	struct rig *r = *state;
	size_t l;
	uint8_t *f = owned_frame("header", &l);
	/* 100 bytes promised from 50 bytes before the end of the file */
	assert_int_equal(smb_transport_queue_file(&r->t, f, l, r->file, BIG - 50, 100), 0);
	uint8_t buf[256];
	size_t have;
	assert_int_equal(pump(r, buf, l + 100, &have), SMBG_EIO);
	/* the header and the 50 bytes that exist went out, never more */
	assert_true(have <= l + 50);
}

static void test_oversized_frame_refused(void **state)
{
	struct rig *r = *state;
	size_t l;
	uint8_t *f = owned_frame("header", &l);
	r->t.frame_max = SMB_FRAME_MAX_NETBIOS;
	assert_int_equal(smb_transport_queue_file(&r->t, f, l, r->file, 0, SMB_FRAME_MAX_NETBIOS),
			 SMBG_ETOOBIG);
	assert_false(smb_transport_has_output(&r->t));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_memory_and_file_frames_in_order, rig_setup,
					    rig_teardown),
	    cmocka_unit_test_setup_teardown(test_file_shorter_than_frame_fails, rig_setup,
					    rig_teardown),
	    cmocka_unit_test_setup_teardown(test_oversized_frame_refused, rig_setup, rig_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
