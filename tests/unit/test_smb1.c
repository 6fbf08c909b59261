/* SMB1 (MS-CIFS) parsing and connection core: the central validator (header, word and byte
 * blocks, DOS and NT status), AndX chains, the NEGOTIATE, READ_ANDX and FIND parsers, TRANS2
 * reassembly, MD5 signing, and the connection: MIDs, the MaxMpxCount window, responses out of
 * order, multi-part TRANS2 answers and oplock break acknowledgements. Requests go out on one
 * end of a socketpair; the test reads them there and feeds crafted responses to the frame
 * handler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "smb/smb1/smb1.h"
#include "util/url.h"

/* ---- message builders ---- */

struct msg {
	uint8_t b[4096];
	size_t len;
};

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

/* A response header; flags2 with NT status and Unicode. */
static void hdr(struct msg *m, uint8_t cmd, uint32_t status, uint16_t mid)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->b, "\xffSMB", 4);
	m->b[4] = cmd;
	put32(m->b + 5, status);
	m->b[9] = SMB1_FLAGS_REPLY;
	put16(m->b + 10, SMB1_FLAGS2_NT_STATUS | SMB1_FLAGS2_UNICODE);
	put16(m->b + 30, mid);
	m->len = SMB1_HDR_SIZE;
}

/* Appends a block: wct words (given), then bcc and bytes. */
static size_t block(struct msg *m, uint8_t wct, const uint8_t *words, uint16_t bcc,
		    const uint8_t *bytes)
{
	size_t at = m->len;
	m->b[m->len++] = wct;
	if (wct)
		memcpy(m->b + m->len, words, (size_t)wct * 2);
	m->len += (size_t)wct * 2;
	put16(m->b + m->len, bcc);
	m->len += 2;
	if (bcc)
		memcpy(m->b + m->len, bytes, bcc);
	m->len += bcc;
	return at;
}

/* ---- the validator ---- */

static void test_check_minimal(void **state)
{
	struct msg m;
	struct smb1_msg sm;
	hdr(&m, SMB1_COM_ECHO, 0, 7);
	uint8_t w[2] = {1, 0}, d[1] = {0x5A};
	block(&m, 1, w, 1, d);
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), 0);
	assert_int_equal(sm.command, SMB1_COM_ECHO);
	assert_int_equal(sm.mid, 7);
	assert_int_equal(sm.wct, 1);
	assert_int_equal(sm.words.len, 2);
	assert_int_equal(sm.bytes.len, 1);
	assert_int_equal(sm.bytes.p[0], 0x5A);
	/* Every truncation of it is refused. */
	for (size_t n = 0; n < m.len; n++)
		assert_int_equal(smb1_check_message(m.b, n, &sm), SMBG_EPROTO);
}

static void test_check_bounds(void **state)
{
	struct msg m;
	struct smb1_msg sm;
	hdr(&m, SMB1_COM_CLOSE, 0, 1);
	uint8_t w[4] = {0};
	block(&m, 2, w, 0, NULL);
	m.b[32] = 200; /* WordCount beyond the message */
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), SMBG_EPROTO);
	m.b[32] = 2;
	put16(m.b + 33 + 4, 500); /* ByteCount beyond the message */
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), SMBG_EPROTO);
	put16(m.b + 33 + 4, 0);
	m.b[0] = 0xFE; /* not SMB1 */
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), SMBG_EPROTO);
	m.b[0] = 0xFF;
	m.b[9] = 0; /* a request, not a response */
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), SMBG_EPROTO);
	assert_int_equal(smb1_check_request(m.b, m.len, &sm), 0);
}

static void test_dos_status(void **state)
{
	struct msg m;
	struct smb1_msg sm;
	hdr(&m, SMB1_COM_NT_CREATE_ANDX, 0, 1);
	put16(m.b + 10, SMB1_FLAGS2_UNICODE); /* DOS errors */
	m.b[5] = 0x01;			      /* ERRDOS */
	m.b[6] = 0;
	put16(m.b + 7, 2); /* ERRbadfile */
	block(&m, 0, NULL, 0, NULL);
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), 0);
	assert_int_equal(sm.status, 0xC0000034u); /* OBJECT_NAME_NOT_FOUND */
	assert_int_equal(smbg_err_from_ntstatus(sm.status), SMBG_ENOENT);
	m.b[5] = 0x02; /* ERRSRV/ERRbadpw */
	put16(m.b + 7, 2);
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), 0);
	assert_int_equal(smbg_err_from_ntstatus(sm.status), SMBG_EAUTH);
	m.b[5] = 0x01; /* an unknown DOS code keeps class and code */
	put16(m.b + 7, 9999);
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), 0);
	assert_int_equal(sm.status, SMB1_STATUS_DOS(1, 9999));
	assert_int_equal(smbg_err_from_ntstatus(sm.status), SMBG_EIO);
	/* An NTSTATUS sent without the flag (as servers do for MORE_PROCESSING_REQUIRED). */
	put32(m.b + 5, 0xC0000016u);
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), 0);
	assert_int_equal(sm.status, 0xC0000016u);
	/* Class 0: success. */
	put32(m.b + 5, 0);
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), 0);
	assert_int_equal(sm.status, 0);
	assert_int_equal(smb1_dos_to_ntstatus(0x02, 6), 0xC00000CCu); /* BAD_NETWORK_NAME */
	assert_int_equal(smb1_dos_to_ntstatus(0x01, 145), 0xC0000101u);
	assert_int_equal(smb1_dos_to_ntstatus(0x03, 19), 0xC00000A2u);
}

/* SESSION_SETUP_ANDX (3 words) chained to TREE_CONNECT_ANDX (3 words). */
static void chained(struct msg *m, uint16_t andx_off_override)
{
	hdr(m, SMB1_COM_SESSION_SETUP_ANDX, 0, 3);
	uint8_t w1[6] = {SMB1_COM_TREE_CONNECT_ANDX, 0, 0, 0, 0, 0};
	size_t first = block(m, 3, w1, 4, (const uint8_t *)"abcd");
	size_t second = m->len;
	uint8_t w2[6] = {0xFF, 0, 0, 0, 1, 0};
	block(m, 3, w2, 3, (const uint8_t *)"A:\0");
	put16(m->b + first + 1 + 2, andx_off_override ? andx_off_override : (uint16_t)second);
}

static void test_andx_chain(void **state)
{
	struct msg m;
	struct smb1_msg a, b, c;
	chained(&m, 0);
	assert_int_equal(smb1_check_message(m.b, m.len, &a), 0);
	assert_int_equal(a.andx_command, SMB1_COM_TREE_CONNECT_ANDX);
	assert_int_equal(smb1_andx_next(&a, &b), 1);
	assert_int_equal(b.command, SMB1_COM_TREE_CONNECT_ANDX);
	assert_int_equal(b.wct, 3);
	assert_memory_equal(b.bytes.p, "A:", 3);
	assert_int_equal(smb1_andx_next(&b, &c), 0); /* end of the chain */
	/* Backwards (a loop), into its own words, or past the end: refused. */
	uint16_t bad[] = {SMB1_HDR_SIZE, SMB1_HDR_SIZE + 3, (uint16_t)m.len, 0xFFFF};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		chained(&m, bad[i]);
		assert_int_equal(smb1_check_message(m.b, m.len, &a), 0);
		assert_int_equal(smb1_andx_next(&a, &b), SMBG_EPROTO);
	}
}

/* ---- command parsers ---- */

static void test_negotiate_parse(void **state)
{
	struct msg m;
	struct smb1_msg sm;
	struct smb1_negotiate_resp r;
	uint8_t w[34] = {0};
	put16(w, 0); /* DialectIndex */
	w[2] = 0x0F; /* SecurityMode */
	put16(w + 3, 50);
	put16(w + 5, 1);
	put32(w + 7, 16644);
	put32(w + 15, 0x1234);
	put32(w + 19, SMB1_CAP_EXTENDED_SECURITY | SMB1_CAP_UNICODE | SMB1_CAP_LARGE_READX);
	uint8_t bytes[20];
	memset(bytes, 0x11, 16);
	memcpy(bytes + 16, "\x60\x02\x05\x00", 4);
	hdr(&m, SMB1_COM_NEGOTIATE, 0, 1);
	block(&m, 17, w, sizeof(bytes), bytes);
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), 0);
	assert_int_equal(smb1_negotiate_parse(&sm, &r), 0);
	assert_int_equal(r.max_mpx, 50);
	assert_int_equal(r.max_buffer, 16644);
	assert_int_equal(r.session_key, 0x1234);
	assert_int_equal(r.security_mode, 0x0F);
	assert_int_equal(r.blob_len, 4);
	assert_memory_equal(r.blob, "\x60\x02\x05\x00", 4);
	/* Plain security: the 8-byte challenge and the names follow. */
	put32(w + 19, SMB1_CAP_UNICODE);
	w[33] = 8;
	uint8_t pb[8 + 6] = {1, 2, 3, 4, 5, 6, 7, 8, 'D', 0, 0, 0, 'S', 0};
	hdr(&m, SMB1_COM_NEGOTIATE, 0, 1);
	block(&m, 17, w, sizeof(pb), pb);
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), 0);
	assert_int_equal(smb1_negotiate_parse(&sm, &r), 0);
	assert_memory_equal(r.challenge, "\1\2\3\4\5\6\7\10", 8);
	assert_int_equal(r.names_len, 6);
	/* A challenge longer than the bytes: refused. */
	w[33] = 20;
	hdr(&m, SMB1_COM_NEGOTIATE, 0, 1);
	block(&m, 17, w, sizeof(pb), pb);
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), 0);
	assert_int_equal(smb1_negotiate_parse(&sm, &r), SMBG_EPROTO);
	/* No common dialect: one word, 0xFFFF. */
	uint8_t none[2] = {0xFF, 0xFF};
	hdr(&m, SMB1_COM_NEGOTIATE, 0, 1);
	block(&m, 1, none, 0, NULL);
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), 0);
	assert_int_equal(smb1_negotiate_parse(&sm, &r), 0);
	assert_int_equal(r.dialect_index, 0xFFFF);
}

static void test_read_parse(void **state)
{
	struct msg m;
	struct smb1_msg sm;
	size_t off, len;
	uint8_t w[24] = {0xFF, 0};
	hdr(&m, SMB1_COM_READ_ANDX, 0, 9);
	size_t data_off = SMB1_HDR_SIZE + 1 + 24 + 2 + 1;
	put16(w + 10, 5);		   /* DataLength */
	put16(w + 12, (uint16_t)data_off); /* DataOffset */
	block(&m, 12, w, 6, (const uint8_t *)"\0hello");
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), 0);
	assert_int_equal(smb1_read_parse(&sm, &off, &len), 0);
	assert_int_equal(off, data_off);
	assert_int_equal(len, 5);
	assert_memory_equal(m.b + off, "hello", 5);
	/* DataLengthHigh makes it longer than the message. */
	put16(m.b + 33 + 14, 1);
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), 0);
	assert_int_equal(smb1_read_parse(&sm, &off, &len), SMBG_EPROTO);
}

static size_t dirent(uint8_t *p, uint32_t next, const char *name, uint32_t attrs, uint64_t size)
{
	size_t n = strlen(name);
	memset(p, 0, 94 + 2 * n);
	put32(p, next);
	put32(p + 40, (uint32_t)size); /* EndOfFile (low) */
	put32(p + 56, attrs);
	put32(p + 60, (uint32_t)(2 * n));
	for (size_t i = 0; i < n; i++)
		p[94 + 2 * i] = (uint8_t)name[i];
	return 94 + 2 * n;
}

struct names {
	int n;
	char seen[4][32];
	int dirs;
};

static int collect(void *priv, const char *name, const struct smb_stat *st)
{
	struct names *x = priv;
	if (x->n < 4)
		strcpy(x->seen[x->n], name);
	x->n++;
	x->dirs += st->is_dir;
	return 0;
}

static void test_find_parse(void **state)
{
	uint8_t buf[1024];
	size_t a = dirent(buf, 0, ".", 0x10, 0);
	put32(buf, (uint32_t)((a + 7) & ~7u));
	a = (a + 7) & ~7u;
	size_t b = dirent(buf + a, 0, "sub", 0x10, 0);
	put32(buf + a, (uint32_t)((b + 7) & ~7u));
	b = (b + 7) & ~7u;
	size_t c = dirent(buf + a + b, 0, "file.txt", 0x20, 42);
	struct names x = {0};
	char *last = NULL;
	assert_int_equal(smb1_find_parse(1, buf, a + b + c, collect, &x, &last), 0);
	assert_int_equal(x.n, 2); /* "." skipped */
	assert_string_equal(x.seen[0], "sub");
	assert_string_equal(x.seen[1], "file.txt");
	assert_int_equal(x.dirs, 1);
	assert_string_equal(last, "file.txt");
	free(last);
	/* A name longer than the data, and a NextEntryOffset inside the fixed part. */
	memset(&x, 0, sizeof(x));
	assert_int_equal(smb1_find_parse(1, buf, a + b + c - 1, collect, &x, &last), SMBG_EPROTO);
	free(last);
	put32(buf, 10);
	assert_int_equal(smb1_find_parse(1, buf, a + b + c, collect, &x, &last), SMBG_EPROTO);
	free(last);
	/* OEM names: bytes above 0x7F are taken as Latin-1. */
	uint8_t oem[128];
	memset(oem, 0, sizeof(oem));
	put32(oem + 60, 3);
	memcpy(oem + 94, "a\xe9z", 3);
	memset(&x, 0, sizeof(x));
	assert_int_equal(smb1_find_parse(0, oem, 97, collect, &x, &last), 0);
	assert_string_equal(x.seen[0], "a\xc3\xa9z");
	free(last);
}

static void test_allinfo_fsinfo(void **state)
{
	uint8_t p[72] = {0};
	struct smb_stat st;
	put32(p + 32, 0x10); /* attributes */
	put32(p + 48, 1234); /* EndOfFile */
	put32(p + 56, 3);    /* NumberOfLinks */
	assert_int_equal(smb1_allinfo_parse(p, sizeof(p), &st), 0);
	assert_int_equal(st.size, 1234);
	assert_int_equal(st.nlink, 3);
	assert_true(st.is_dir);
	assert_int_equal(smb1_allinfo_parse(p, 61, &st), SMBG_EPROTO);
	uint8_t f[32] = {0};
	struct smb_statfs fs;
	put32(f, 1000);
	put32(f + 8, 400);
	put32(f + 16, 8);
	put32(f + 20, 512);
	assert_int_equal(smb1_fsinfo_parse(SMB1_QUERY_FS_SIZE_INFO, f, 24, &fs), 0);
	assert_int_equal(fs.block_size, 4096);
	assert_int_equal(fs.total_blocks, 1000);
	assert_int_equal(fs.free_blocks, 400);
	put32(f + 20, 0); /* zero-sized units */
	assert_int_equal(smb1_fsinfo_parse(SMB1_QUERY_FS_SIZE_INFO, f, 24, &fs), SMBG_EPROTO);
}

/* TRANS2 response part: params at pdisp, data at ddisp. */
static void trans_part(struct msg *m, uint16_t mid, uint16_t tp, uint16_t td, const char *param,
		       uint16_t pdisp, const char *data, uint16_t ddisp)
{
	hdr(m, SMB1_COM_TRANSACTION2, 0, mid);
	uint16_t pc = (uint16_t)strlen(param), dc = (uint16_t)strlen(data);
	uint16_t poff = SMB1_HDR_SIZE + 1 + 20 + 2, doff = (uint16_t)(poff + pc);
	uint8_t w[20] = {0};
	put16(w, tp);
	put16(w + 2, td);
	put16(w + 6, pc);
	put16(w + 8, poff);
	put16(w + 10, pdisp);
	put16(w + 12, dc);
	put16(w + 14, doff);
	put16(w + 16, ddisp);
	uint8_t bytes[256];
	memcpy(bytes, param, pc);
	memcpy(bytes + pc, data, dc);
	block(m, 10, w, (uint16_t)(pc + dc), bytes);
}

static void test_trans2_collect(void **state)
{
	struct smb1_trans t = {.max_param = 16, .max_data = 32};
	t.param = calloc(1, 16);
	t.data = calloc(1, 32);
	struct msg m;
	struct smb1_msg sm;
	trans_part(&m, 1, 4, 10, "ab", 0, "01234", 0);
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), 0);
	assert_int_equal(smb1_trans2_collect(&t, &sm), 0);
	trans_part(&m, 1, 4, 10, "cd", 2, "56789", 5);
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), 0);
	assert_int_equal(smb1_trans2_collect(&t, &sm), 1);
	assert_memory_equal(t.param, "abcd", 4);
	assert_memory_equal(t.data, "0123456789", 10);
	/* Totals that grow, pieces outside them, more than we allowed: refused. */
	struct smb1_trans u = {.max_param = 16, .max_data = 32};
	u.param = calloc(1, 16);
	u.data = calloc(1, 32);
	trans_part(&m, 1, 4, 10, "ab", 0, "", 0);
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), 0);
	assert_int_equal(smb1_trans2_collect(&u, &sm), 0);
	trans_part(&m, 1, 6, 10, "cd", 2, "", 0);
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), 0);
	assert_int_equal(smb1_trans2_collect(&u, &sm), SMBG_EPROTO);
	trans_part(&m, 1, 4, 10, "cd", 3, "", 0);
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), 0);
	assert_int_equal(smb1_trans2_collect(&u, &sm), SMBG_EPROTO);
	struct smb1_trans v = {.max_param = 2, .max_data = 2};
	v.param = calloc(1, 2);
	v.data = calloc(1, 2);
	trans_part(&m, 1, 4, 10, "ab", 0, "", 0);
	assert_int_equal(smb1_check_message(m.b, m.len, &sm), 0);
	assert_int_equal(smb1_trans2_collect(&v, &sm), SMBG_EPROTO);
	free(t.param);
	free(t.data);
	free(u.param);
	free(u.data);
	free(v.param);
	free(v.data);
}

/* MS-CIFS 3.1.5.1: MD5(key || message with the sequence number), first 8 bytes. The expected
 * value was computed independently (Python hashlib) for this key and message. */
static void test_signing(void **state)
{
	uint8_t key[16], msg[40];
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	memset(msg, 0, sizeof(msg));
	memcpy(msg, "\xffSMB\x2b", 5);
	msg[9] = SMB1_FLAGS_REPLY;
	msg[32] = 1;
	assert_int_equal(smb1_sign_message(key, 16, 5, msg, 35, "\x01\x00\x00", 3), 0);
	static const uint8_t want[8] = {0xd7, 0xcd, 0xb4, 0x92, 0xc6, 0x3f, 0x7a, 0x73};
	assert_memory_equal(msg + 14, want, 8);
	uint8_t whole[38];
	memcpy(whole, msg, 35);
	memcpy(whole + 35, "\x01\x00\x00", 3);
	assert_int_equal(smb1_verify_message(key, 16, 5, whole, 38), 0);
	assert_int_equal(smb1_verify_message(key, 16, 6, whole, 38), SMBG_ECRYPTO);
	whole[37] ^= 1;
	assert_int_equal(smb1_verify_message(key, 16, 5, whole, 38), SMBG_ECRYPTO);
}

/* ---- the connection ---- */

struct conn {
	struct smb_client *c;
	int peer;
};

static void conn_open(struct conn *k, uint16_t max_mpx)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct smb_url u = {0};
	u.host = "127.0.0.1";
	u.share = "s";
	u.path = "";
	k->c = smb_client_new(&u);
	assert_non_null(k->c);
	k->c->t.fd = sv[0];
	k->peer = sv[1];
	k->c->ops = &smb1_ops;
	assert_int_equal(smb1_state_init(k->c), 0);
	smb1_st(k->c)->max_mpx = max_mpx;
	smb1_st(k->c)->unicode = 1;
	k->c->timeout_ms = 0;
}

static void conn_close(struct conn *k)
{
	smb_client_free(k->c);
	close(k->peer);
}

/* Reads the next request the client sent: returns its length, fills buf (without the 4-byte
 * frame header). */
static size_t next_request(struct conn *k, uint8_t *buf, size_t cap)
{
	assert_int_equal(smb_transport_flush(&k->c->t), 0);
	uint8_t h[4];
	assert_int_equal(read(k->peer, h, 4), 4);
	size_t n = ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3];
	assert_true(n <= cap);
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(k->peer, buf + got, n - got);
		assert_true(r > 0);
		got += (size_t)r;
	}
	return n;
}

static int pending_requests(struct conn *k)
{
	/* Frames written and not yet read by the test. */
	assert_int_equal(smb_transport_flush(&k->c->t), 0);
	int avail = 0;
	uint8_t tmp[4096];
	ssize_t r;
	while ((r = recv(k->peer, tmp, sizeof(tmp), MSG_DONTWAIT | MSG_PEEK)) > 0) {
		avail = (int)r;
		break;
	}
	return avail;
}

struct rec {
	int calls, rc;
};

static void rec_cb(struct smb_client *c, int rc, void *priv)
{
	struct rec *r = priv;
	r->calls++;
	r->rc = rc;
}

static void echo_reply(struct conn *k, uint16_t mid)
{
	struct msg m;
	hdr(&m, SMB1_COM_ECHO, 0, mid);
	uint8_t w[2] = {1, 0};
	block(&m, 1, w, 1, (const uint8_t *)"Z");
	assert_int_equal(smb1_frame(k->c, m.b, m.len), 0);
}

static uint16_t mid_of(const uint8_t *req)
{
	return (uint16_t)(req[30] | req[31] << 8);
}

static void test_mids_and_mpx_window(void **state)
{
	struct conn k;
	conn_open(&k, 2);
	struct rec r[3] = {{0}};
	for (int i = 0; i < 3; i++)
		assert_int_equal(smb1_echo(k.c, rec_cb, &r[i]), 0);
	uint8_t req[256];
	uint16_t mids[3];
	/* MaxMpxCount 2: two go out, the third waits. */
	assert_int_equal(smb1_pending(k.c), 2);
	next_request(&k, req, sizeof(req));
	mids[0] = mid_of(req);
	next_request(&k, req, sizeof(req));
	mids[1] = mid_of(req);
	assert_int_not_equal(mids[0], mids[1]);
	assert_int_equal(pending_requests(&k), 0);
	/* Answers out of order are matched by MID; each frees a slot. */
	echo_reply(&k, mids[1]);
	assert_int_equal(r[1].calls, 1);
	assert_int_equal(r[0].calls, 0);
	next_request(&k, req, sizeof(req));
	mids[2] = mid_of(req);
	assert_int_not_equal(mids[2], mids[0]);
	echo_reply(&k, mids[0]);
	echo_reply(&k, mids[2]);
	assert_int_equal(r[0].calls + r[1].calls + r[2].calls, 3);
	assert_int_equal(r[2].rc, 0);
	/* A response nobody waits for is dropped, not fatal. */
	echo_reply(&k, 999);
	assert_int_equal(smb1_pending(k.c), 0);
	conn_close(&k);
}

static void test_trans2_multipart_and_signing(void **state)
{
	struct conn k;
	conn_open(&k, 10);
	uint8_t key[16] = {9, 9, 9};
	assert_int_equal(smb1_sign_start(k.c, key, 16, NULL, 0), 0);
	struct smb_stat st;
	struct rec r = {0};
	assert_int_equal(smb1_query_path(k.c, "a/b.txt", &st, rec_cb, &r), 0);
	uint8_t req[512];
	size_t n = next_request(&k, req, sizeof(req));
	/* The request is signed with sequence number 2, the first after the logon. */
	assert_int_equal(smb1_verify_message(key, 16, 2, req, n), 0);
	uint16_t mid = mid_of(req);
	/* SMB_QUERY_FILE_ALL_INFO in two parts, each signed with sequence number 3. */
	char d1[41], d2[33];
	memset(d1, 'A', 40);
	d1[40] = 0;
	memset(d2, 'B', 32);
	d2[32] = 0;
	struct msg m;
	trans_part(&m, mid, 2, 72, "xx", 0, d1, 0);
	assert_int_equal(smb1_sign_message(key, 16, 3, m.b, m.len, NULL, 0), 0);
	assert_int_equal(smb1_frame(k.c, m.b, m.len), 0);
	assert_int_equal(r.calls, 0); /* waits for the rest */
	trans_part(&m, mid, 2, 72, "", 2, d2, 40);
	assert_int_equal(smb1_sign_message(key, 16, 3, m.b, m.len, NULL, 0), 0);
	assert_int_equal(smb1_frame(k.c, m.b, m.len), 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.rc, 0);
	/* A second request: sequence number 4; a badly signed answer kills the connection. */
	assert_int_equal(smb1_echo(k.c, rec_cb, &r), 0);
	n = next_request(&k, req, sizeof(req));
	assert_int_equal(smb1_verify_message(key, 16, 4, req, n), 0);
	hdr(&m, SMB1_COM_ECHO, 0, mid_of(req));
	uint8_t w[2] = {1, 0};
	block(&m, 1, w, 1, (const uint8_t *)"Z");
	assert_int_equal(smb1_sign_message(key, 16, 4, m.b, m.len, NULL, 0), 0); /* wrong seq */
	assert_int_equal(smb1_frame(k.c, m.b, m.len), SMBG_ECRYPTO);
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.rc, SMBG_ECRYPTO);
	conn_close(&k);
}

static void test_oplock_break_ack(void **state)
{
	struct conn k;
	conn_open(&k, 10);
	struct msg m;
	hdr(&m, SMB1_COM_LOCKING_ANDX, 0, SMB1_MID_OPLOCK);
	m.b[9] = 0; /* a request from the server */
	uint8_t w[16] = {0xFF, 0, 0, 0, 0x34, 0x12, 0x02, 0x01};
	block(&m, 8, w, 0, NULL);
	assert_int_equal(smb1_frame(k.c, m.b, m.len), 0);
	uint8_t req[128];
	size_t n = next_request(&k, req, sizeof(req));
	assert_true(n >= 33 + 16);
	assert_int_equal(req[4], SMB1_COM_LOCKING_ANDX);
	assert_int_equal(req[32], 8);
	assert_int_equal(req[33 + 4] | req[33 + 5] << 8, 0x1234); /* the FID */
	assert_int_equal(req[33 + 6], 0x02);			  /* OPLOCK_RELEASE */
	assert_int_equal(smb1_pending(k.c), 0);			  /* no response expected */
	conn_close(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_minimal),
	    cmocka_unit_test(test_check_bounds),
	    cmocka_unit_test(test_dos_status),
	    cmocka_unit_test(test_andx_chain),
	    cmocka_unit_test(test_negotiate_parse),
	    cmocka_unit_test(test_read_parse),
	    cmocka_unit_test(test_find_parse),
	    cmocka_unit_test(test_allinfo_fsinfo),
	    cmocka_unit_test(test_trans2_collect),
	    cmocka_unit_test(test_signing),
	    cmocka_unit_test(test_mids_and_mpx_window),
	    cmocka_unit_test(test_trans2_multipart_and_signing),
	    cmocka_unit_test(test_oplock_break_ack),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
