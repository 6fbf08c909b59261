/* The create-context parsers reconnect relies on (smb2/create.c, smb2/oplock.c): the durable
 * handle answer (DH2Q) found in a chain, and every malformed chain refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smb/smb2/smb2.h"

static size_t put_ctx(uint8_t *p, uint32_t next, const char *name, const uint8_t *data,
		      uint32_t dlen)
{
	memset(p, 0, 24);
	p[0] = (uint8_t)next;
	p[4] = 16; /* NameOffset */
	p[6] = (uint8_t)strlen(name);
	p[10] = dlen ? 24 : 0; /* DataOffset */
	p[12] = (uint8_t)dlen;
	memcpy(p + 16, name, strlen(name));
	if (dlen)
		memcpy(p + 24, data, dlen);
	return 24 + dlen;
}

static const uint8_t dh2q_data[8] = {0x60, 0xEA, 0, 0, 0, 0, 0, 0}; /* 60000 ms, flags 0 */
static const uint8_t mxac_data[8] = {0};

static void test_chain_finds_dh2q(void **state)
{
	uint8_t buf[64];
	size_t n = put_ctx(buf, 32, "MxAc", mxac_data, 8);
	n += put_ctx(buf + n, 0, "DH2Q", dh2q_data, 8);
	struct smb2_create_out out = {0};
	assert_int_equal(smb2_create_contexts_parse(buf, n, &out), 0);
	assert_int_equal(out.ncontexts, 2);
	assert_int_equal(out.durable, 1);
	assert_int_equal(out.durable_timeout_ms, 60000);
	/* no contexts at all: nothing granted */
	struct smb2_create_out none = {0};
	assert_int_equal(smb2_create_contexts_parse(buf, 0, &none), 0);
	assert_int_equal(none.durable, 0);
}

static void test_chain_malformed(void **state)
{
	uint8_t buf[64];
	struct smb2_create_out out = {0};
	size_t n = put_ctx(buf, 0, "DH2Q", dh2q_data, 8);
	/* truncated anywhere: refused */
	for (size_t cut = 1; cut < n; cut++)
		assert_int_equal(smb2_create_contexts_parse(buf, cut, &out), SMBG_EPROTO);
	/* Next not 8-aligned, too small, or past the end */
	buf[0] = 20;
	assert_int_equal(smb2_create_contexts_parse(buf, n, &out), SMBG_EPROTO);
	buf[0] = 8;
	assert_int_equal(smb2_create_contexts_parse(buf, n, &out), SMBG_EPROTO);
	buf[0] = 64;
	assert_int_equal(smb2_create_contexts_parse(buf, n, &out), SMBG_EPROTO);
	buf[0] = 0;
	/* name or data outside the context */
	buf[4] = 40;
	assert_int_equal(smb2_create_contexts_parse(buf, n, &out), SMBG_EPROTO);
	buf[4] = 16;
	buf[12] = 200;
	assert_int_equal(smb2_create_contexts_parse(buf, n, &out), SMBG_EPROTO);
	/* a DH2Q answer shorter than its 8 bytes */
	n = put_ctx(buf, 0, "DH2Q", dh2q_data, 4);
	assert_int_equal(smb2_create_contexts_parse(buf, n, &out), SMBG_EPROTO);
}

static void test_chain_loop_is_bounded(void **state)
{
	/* 40 contexts of 24 bytes, each pointing at the next: more than the cap */
	uint8_t buf[40 * 24];
	for (int i = 0; i < 40; i++)
		put_ctx(buf + i * 24, i < 39 ? 24 : 0, "MxAc", NULL, 0);
	/* Next 24 is 8-aligned; 16 bytes of header + a 4-byte name fit */
	struct smb2_create_out out = {0};
	assert_int_equal(smb2_create_contexts_parse(buf, sizeof(buf), &out), SMBG_EPROTO);
}

/* An oplock break notification (2.2.23.1) behind a 64-byte header. */
static void test_oplock_break(void **state)
{
	uint8_t msg[64 + 24] = {0xFE, 'S', 'M', 'B'};
	msg[64] = 24;	/* StructureSize */
	msg[66] = 0x01; /* level II */
	memset(msg + 72, 0xAB, 16);
	struct smb2_msg m = {.p = msg, .len = sizeof(msg), .command = SMB2_OPLOCK_BREAK};
	uint8_t level = 0, fid[16];
	assert_int_equal(smb2_oplock_break_parse(&m, &level, fid), 0);
	assert_int_equal(level, 1);
	assert_int_equal(fid[0], 0xAB);
	assert_int_equal(fid[15], 0xAB);
	/* a lease break (StructureSize 44) or a short one is not an oplock break */
	msg[64] = 44;
	assert_int_equal(smb2_oplock_break_parse(&m, &level, fid), SMBG_EPROTO);
	msg[64] = 24;
	m.len = sizeof(msg) - 1;
	assert_int_equal(smb2_oplock_break_parse(&m, &level, fid), SMBG_EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_oplock_break),
	    cmocka_unit_test(test_chain_finds_dh2q),
	    cmocka_unit_test(test_chain_malformed),
	    cmocka_unit_test(test_chain_loop_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
