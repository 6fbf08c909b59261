/* FSCTL_VALIDATE_NEGOTIATE_INFO (smb/smb2/validate.c): the parser of the IOCTL response takes
 * the 24-byte answer out of a well-formed message and refuses truncated ones, wrong control
 * codes and offsets outside the message; the check accepts the NEGOTIATE's values and names the
 * first one that differs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smb2_fake.h"

#define FSCTL_VALIDATE_NEGOTIATE_INFO 0x00140204u

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* An IOCTL response (2.2.32) whose output is a VALIDATE_NEGOTIATE_INFO answer (2.2.32.6); the
 * whole message is 64 + 48 + 24 = 136 bytes. */
static size_t response(uint8_t *buf, uint32_t ctl, uint32_t out_off, uint32_t out_len,
		       uint32_t caps, uint16_t secmode, uint16_t dialect)
{
	memset(buf, 0, 136);
	memcpy(buf, "\xfeSMB", 4);
	buf[4] = 64;
	buf[12] = SMB2_IOCTL;
	buf[16] = 1; /* SERVER_TO_REDIR */
	uint8_t *b = buf + 64;
	put16(b, 49);
	put32(b + 4, ctl);
	memset(b + 8, 0xff, 16);
	put32(b + 24, 64 + 48); /* InputOffset */
	put32(b + 32, out_off);
	put32(b + 36, out_len);
	uint8_t *o = buf + 112;
	put32(o, caps);
	memset(o + 4, 'G', 16);
	put16(o + 20, secmode);
	put16(o + 22, dialect);
	return 136;
}

static int parse(uint8_t *buf, size_t len, struct smb2_validate_resp *v)
{
	struct smb2_msg m;
	if (smb2_check_message(buf, len, &m) != 0)
		return -1000;
	return smb2_validate_negotiate_parse(&m, v);
}

static void test_parse_ok(void **state)
{
	uint8_t buf[136];
	struct smb2_validate_resp v;
	size_t n = response(buf, FSCTL_VALIDATE_NEGOTIATE_INFO, 112, 24, 0x2f, 1, 0x0302);
	assert_int_equal(parse(buf, n, &v), 0);
	assert_int_equal(v.capabilities, 0x2f);
	assert_int_equal(v.security_mode, 1);
	assert_int_equal(v.dialect, 0x0302);
	assert_int_equal(v.guid[0], 'G');
	assert_int_equal(v.guid[15], 'G');
}

static void test_parse_refuses(void **state)
{
	uint8_t buf[136];
	struct smb2_validate_resp v;
	size_t n = response(buf, 0x00140078u, 112, 24, 0, 0, 0x0302); /* another FSCTL */
	assert_int_equal(parse(buf, n, &v), SMBG_EPROTO);
	n = response(buf, FSCTL_VALIDATE_NEGOTIATE_INFO, 112, 23, 0, 0, 0x0302); /* too short */
	assert_int_equal(parse(buf, n, &v), SMBG_EPROTO);
	n = response(buf, FSCTL_VALIDATE_NEGOTIATE_INFO, 120, 24, 0, 0, 0x0302); /* past the end */
	assert_int_equal(parse(buf, n, &v), SMBG_EPROTO);
	n = response(buf, FSCTL_VALIDATE_NEGOTIATE_INFO, 0xFFFFFFF0u, 24, 0, 0, 0x0302);
	assert_int_equal(parse(buf, n, &v), SMBG_EPROTO);
	n = response(buf, FSCTL_VALIDATE_NEGOTIATE_INFO, 112, 24, 0, 0, 0x0302);
	for (size_t cut = 64; cut < n; cut++) /* every truncation fails cleanly */
		assert_true(parse(buf, cut, &v) < 0);
}

static void test_check(void **state)
{
	struct smb_client *c = fake_smb2_client();
	c->s2->server_caps = 0x2f;
	c->s2->server_security_mode = 1;
	memset(c->s2->server_guid, 'G', 16);
	struct smb2_validate_resp v = {.capabilities = 0x2f, .security_mode = 1, .dialect = 0x0302};
	memset(v.guid, 'G', 16);
	assert_int_equal(smb2_validate_negotiate_check(c, &v), 0);
	v.dialect = 0x0311; /* the server would have chosen better: a downgrade */
	assert_int_equal(smb2_validate_negotiate_check(c, &v), SMBG_ECRYPTO);
	assert_non_null(strstr(smb_client_errmsg(c), "dialect"));
	v.dialect = 0x0302;
	v.security_mode = 3; /* signing required was stripped */
	assert_int_equal(smb2_validate_negotiate_check(c, &v), SMBG_ECRYPTO);
	assert_non_null(strstr(smb_client_errmsg(c), "security mode"));
	v.security_mode = 1;
	v.guid[3] = 'X';
	assert_int_equal(smb2_validate_negotiate_check(c, &v), SMBG_ECRYPTO);
	assert_non_null(strstr(smb_client_errmsg(c), "GUID"));
	v.guid[3] = 'G';
	v.capabilities = 0x2e;
	assert_int_equal(smb2_validate_negotiate_check(c, &v), SMBG_ECRYPTO);
	assert_non_null(strstr(smb_client_errmsg(c), "capabilities"));
	smb_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_ok),
	    cmocka_unit_test(test_parse_refuses),
	    cmocka_unit_test(test_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
