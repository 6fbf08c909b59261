/* NetBIOS names and the name service packets: first-level encoding (the RFC 1001 14.1 example),
 * the name rules, the query layout (RFC 1002 4.2.12, 4.2.17), and the response parser with its
 * label pointers, negative answers and node status; plus a query against a responder thread on
 * loopback (positive, negative, silent). */
#include <arpa/inet.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "smb/transport/nbns.h"
#include "smb/transport/transport.h"
#include "smbgate/err.h"

static void test_encode_rfc1001_example(void **state)
{
	/* RFC 1001 14.1: "FRED" padded with spaces encodes to EGFCEFEECACA...; the 16th byte
	 * is the name type, here 0x20 (a space in the RFC's example, too). */
	uint8_t out[34];
	assert_int_equal(smb_nb_name_encode("FRED", 0x20, out), 0);
	assert_int_equal(out[0], 32);
	assert_memory_equal(out + 1, "EGFCEFEECACACACACACACACACACACACA", 32);
	assert_int_equal(out[33], 0);
	/* Lower case is sent upper case; type 0x1b ends in "BL". */
	assert_int_equal(smb_nb_name_encode("fred", 0x1b, out), 0);
	assert_memory_equal(out + 1, "EGFCEFEECACACACACACACACACACACABL", 32);
	/* The wildcard for node status: '*' then NULs. */
	assert_int_equal(smb_nb_name_encode("*", 0x00, out), 0);
	assert_memory_equal(out + 1, "CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 32);
	assert_int_equal(smb_nb_name_encode("SIXTEENCHARSLONG", 0x20, out), SMBG_ENAME);
	assert_int_equal(smb_nb_name_encode("", 0x20, out), SMBG_ENAME);
}

static void test_name_rules(void **state)
{
	char err[200];
	const char *good[] = {"FILESERVER", "nas-01", "A", "ABCDEFGHIJKLMNO", "X_Y$"};
	const char *bad[] = {"",	"ABCDEFGHIJKLMNOP",
			     "a b",	"a/b",
			     "a\\b",	"a:b",
			     "a*",	"a?",
			     "a\"b",	"a<b",
			     "a>b",	"a|b",
			     ".hidden", "caf\xc3\xa9"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(smb_nb_name_check(good[i], err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(smb_nb_name_check(bad[i], err, sizeof(err)), SMBG_ENAME);
		assert_non_null(strstr(err, "bad NetBIOS name"));
	}
	assert_true(smb_nb_name_plausible("FILESERVER"));
	assert_false(smb_nb_name_plausible("fileserver.example.com"));
	assert_false(smb_nb_name_plausible("192.168.1.1"));
	assert_false(smb_nb_name_plausible("fe80::1"));
	assert_false(smb_nb_name_plausible("averyveryverylonghostname"));
}

static void test_build_query(void **state)
{
	uint8_t q[50];
	assert_int_equal(nbns_build_query(q, 0xBEEF, "FRED", 0x20, NBNS_TYPE_NB, 1), 50);
	static const uint8_t head[12] = {0xBE, 0xEF, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0};
	assert_memory_equal(q, head, 12);
	assert_memory_equal(q + 13, "EGFCEFEECACACACACACACACACACACACA", 32);
	assert_memory_equal(q + 46, "\x00\x20\x00\x01", 4);
	assert_int_equal(nbns_build_query(q, 1, "FRED", 0x20, NBNS_TYPE_NB, 0), 50);
	assert_int_equal(q[2], 0x01); /* unicast: RD only */
	assert_int_equal(q[3], 0x00);
	assert_int_equal(nbns_build_query(q, 1, "ignored", 0, NBNS_TYPE_NBSTAT, 0), 50);
	assert_int_equal(q[2] | q[3], 0);
	assert_memory_equal(q + 13, "CKAAAAAAAA", 10);
	assert_memory_equal(q + 46, "\x00\x21\x00\x01", 4);
}

/* A response: header, the question echoed, and an answer whose name is a pointer to it. */
static size_t reply(uint8_t *p, uint16_t id, uint16_t flags, uint16_t type, const uint8_t *rdata,
		    uint16_t rdlen)
{
	uint8_t q[50];
	nbns_build_query(q, id, "FRED", 0x20, NBNS_TYPE_NB, 0);
	memcpy(p, q, 50);
	p[2] = (uint8_t)(flags >> 8);
	p[3] = (uint8_t)flags;
	p[7] = 1; /* ANCOUNT */
	size_t n = 50;
	p[n++] = 0xC0;
	p[n++] = 12; /* pointer to the question name */
	p[n++] = (uint8_t)(type >> 8);
	p[n++] = (uint8_t)type;
	p[n++] = 0;
	p[n++] = 1;
	memset(p + n, 0, 4); /* TTL */
	n += 4;
	p[n++] = (uint8_t)(rdlen >> 8);
	p[n++] = (uint8_t)rdlen;
	if (rdlen)
		memcpy(p + n, rdata, rdlen);
	return n + rdlen;
}

static void test_parse_positive(void **state)
{
	uint8_t p[512], want[34];
	struct nbns_reply r;
	const uint8_t rd[12] = {0x00, 0x00, 192, 0, 2, 7, 0x80, 0x00, 192, 0, 2, 8};
	size_t n = reply(p, 0x1234, 0x8500, NBNS_TYPE_NB, rd, sizeof(rd));
	assert_int_equal(nbns_parse_reply(p, n, &r), 0);
	assert_int_equal(r.trn_id, 0x1234);
	assert_int_equal(r.rcode, 0);
	assert_int_equal(r.rr_type, NBNS_TYPE_NB);
	smb_nb_name_encode("FRED", 0x20, want);
	assert_memory_equal(r.name, want, 34);
	assert_int_equal(r.naddrs, 2);
	assert_int_equal(ntohl(r.addrs[0].s_addr), 0xC0000207);
	assert_int_equal(ntohl(r.addrs[1].s_addr), 0xC0000208);
	assert_int_equal(r.addr_flags[1], 0x8000);
	/* Every truncation fails cleanly. */
	for (size_t k = 0; k < n; k++)
		assert_int_equal(nbns_parse_reply(p, k, &r), SMBG_EPROTO);
	/* RDLENGTH not a multiple of 6. */
	n = reply(p, 1, 0x8500, NBNS_TYPE_NB, rd, 7);
	assert_int_equal(nbns_parse_reply(p, n, &r), SMBG_EPROTO);
	/* A request is no reply. */
	n = reply(p, 1, 0x0500, NBNS_TYPE_NB, rd, 6);
	assert_int_equal(nbns_parse_reply(p, n, &r), SMBG_EPROTO);
}

static void test_parse_pointers(void **state)
{
	uint8_t p[512];
	struct nbns_reply r;
	const uint8_t rd[6] = {0, 0, 10, 0, 0, 1};
	size_t n = reply(p, 1, 0x8500, NBNS_TYPE_NB, rd, 6);
	/* A pointer to itself, forward, or outside the packet: refused (no loops). */
	uint8_t targets[] = {50, 60, 0xFF};
	for (size_t i = 0; i < sizeof(targets); i++) {
		p[51] = targets[i];
		assert_int_equal(nbns_parse_reply(p, n, &r), SMBG_EPROTO);
	}
	p[50] = 0x80; /* reserved label type */
	assert_int_equal(nbns_parse_reply(p, n, &r), SMBG_EPROTO);
}

static void test_parse_negative_and_status(void **state)
{
	uint8_t p[512];
	struct nbns_reply r;
	size_t n = reply(p, 7, 0x8503, 0x000A, NULL, 0); /* NAM_ERR, NULL record */
	assert_int_equal(nbns_parse_reply(p, n, &r), 0);
	assert_int_equal(r.rcode, 3);
	assert_int_equal(r.naddrs, 0);
	uint8_t rd[1 + 2 * 18 + 6];
	rd[0] = 2;
	memcpy(rd + 1, "FRED           \x20", 16);
	rd[17] = 0x04;
	rd[18] = 0x00;
	memcpy(rd + 19, "WORKGROUP      \x00", 16);
	rd[35] = 0x84;
	rd[36] = 0x00;
	memcpy(rd + 37, "\x00\x11\x22\x33\x44\x55", 6);
	n = reply(p, 8, 0x8400, NBNS_TYPE_NBSTAT, rd, sizeof(rd));
	assert_int_equal(nbns_parse_reply(p, n, &r), 0);
	assert_int_equal(r.nnames, 2);
	assert_string_equal(r.names[0].name, "FRED");
	assert_int_equal(r.names[0].type, 0x20);
	assert_string_equal(r.names[1].name, "WORKGROUP");
	assert_int_equal(r.names[1].flags, 0x8400);
	assert_true(r.have_mac);
	assert_memory_equal(r.mac, "\x00\x11\x22\x33\x44\x55", 6);
	rd[0] = 3; /* one name more than there is */
	n = reply(p, 8, 0x8400, NBNS_TYPE_NBSTAT, rd, sizeof(rd));
	assert_int_equal(nbns_parse_reply(p, n, &r), SMBG_EPROTO);
}

/* ---- against a responder on loopback ---- */

struct responder {
	int fd;
	int mode; /* 0 answer, 1 negative, 2 silent */
	int queries;
};

static void *respond(void *arg)
{
	struct responder *rs = arg;
	for (;;) {
		uint8_t q[512], p[512];
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(rs->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
		if (n < 50)
			return NULL;
		rs->queries++;
		if (rs->mode == 2)
			continue;
		const uint8_t rd[6] = {0, 0, 127, 0, 0, 9};
		size_t len =
		    rs->mode == 0
			? reply(p, (uint16_t)(q[0] << 8 | q[1]), 0x8500, NBNS_TYPE_NB, rd, 6)
			: reply(p, (uint16_t)(q[0] << 8 | q[1]), 0x8503, 0x000A, NULL, 0);
		sendto(rs->fd, p, len, 0, (struct sockaddr *)&from, fl);
	}
}

static void test_query_loopback(void **state)
{
	int modes[] = {0, 1, 2};
	for (int i = 0; i < 3; i++) {
		struct responder rs = {.mode = modes[i]};
		rs.fd = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(rs.fd, (struct sockaddr *)&a, sizeof(a)), 0);
		socklen_t al = sizeof(a);
		getsockname(rs.fd, (struct sockaddr *)&a, &al);
		pthread_t th;
		pthread_create(&th, NULL, respond, &rs);
		struct nbns_opts o = {
		    .wins = "127.0.0.1", .port = ntohs(a.sin_port), .timeout_ms = 1500};
		struct in_addr out[4];
		char err[256] = "";
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int rc = smb_nbns_query("FRED", 0x20, &o, out, 4, err, sizeof(err));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (modes[i] == 0) {
			assert_int_equal(rc, 1);
			assert_int_equal(ntohl(out[0].s_addr), 0x7F000009);
		} else if (modes[i] == 1) {
			assert_int_equal(rc, SMBG_ENOENT);
			assert_non_null(strstr(err, "not found"));
		} else {
			/* Silent: the overall timeout (1.5 s) cuts the 5 s unicast retries. */
			long ms =
			    (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
			assert_int_equal(rc, SMBG_ETIMEDOUT);
			assert_non_null(strstr(err, "timed out"));
			assert_true(ms >= 1400 && ms < 3000);
			assert_int_equal(rs.queries, 1);
		}
		shutdown(rs.fd, SHUT_RDWR);
		/* Wake the thread: a short datagram ends it. */
		int w = socket(AF_INET, SOCK_DGRAM, 0);
		sendto(w, "x", 1, 0, (struct sockaddr *)&a, sizeof(a));
		close(w);
		pthread_join(th, NULL);
		close(rs.fd);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_rfc1001_example),
	    cmocka_unit_test(test_name_rules),
	    cmocka_unit_test(test_build_query),
	    cmocka_unit_test(test_parse_positive),
	    cmocka_unit_test(test_parse_pointers),
	    cmocka_unit_test(test_parse_negative_and_status),
	    cmocka_unit_test(test_query_loopback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
