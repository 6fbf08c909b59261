/* The SFTP engine driven directly: packets in, replies out, over a local folder (and over a
 * wrapper backend that completes reads in reverse order, for out-of-order replies). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sftp/proto.h"
#include "sftp/sftp.h"
#include "util/clock.h"
#include "util/cursor.h"
#include "util/wbuf.h"
#include "vfs/backend.h"
#include "vfs/vfs.h"

/* ---- a test rig: a temp folder, a VFS on it, an engine ---- */

struct rig {
	char dir[64];
	struct vfs *v;
	struct vfs_conn *vc;
	struct sftp_engine *e;
	uint8_t out[1 << 20];
	size_t outlen, outoff;
};

static void rig_file(struct rig *r, const char *name, const char *content)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", r->dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static char *rig_read(struct rig *r, const char *name)
{
	static char buf[4096];
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", r->dir, name);
	FILE *f = fopen(p, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int rig_timeout = -1;	/* --timeout for the next rig_start (-1: the default) */
static size_t rig_max_buffered; /* sftp_opts.max_buffered for the next rig_start (0: default) */

static void rig_start(struct rig *r, const struct vfs_backend_ops *ops, int read_only,
		      size_t max_handles)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->dir, "/tmp/sftp-engine-XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	struct vfs_opts vo;
	vfs_opts_default(&vo);
	vo.read_only = read_only;
	if (rig_timeout >= 0)
		vo.timeout = rig_timeout;
	vo.inplace = 1; /* these tests look at the target's bytes while it is open */
	char err[256];
	r->v = vfs_new_with(ops ? ops : &vfs_backend_local, r->dir, &vo, err, sizeof(err));
	assert_non_null(r->v);
	r->vc = vfs_conn_new(r->v, err, sizeof(err));
	assert_non_null(r->vc);
	struct sftp_opts so;
	sftp_opts_default(&so);
	if (max_handles)
		so.max_handles = max_handles;
	if (rig_max_buffered)
		so.max_buffered = rig_max_buffered;
	r->e = sftp_engine_new(r->vc, &so);
	assert_non_null(r->e);
}

static void rig_stop(struct rig *r)
{
	sftp_engine_free(r->e);
	vfs_conn_free(r->vc);
	vfs_free(r->v);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
	assert_int_equal(system(cmd), 0);
}

/* Appends all the output the engine has to r->out. */
static void rig_collect(struct rig *r)
{
	struct iovec iov[64];
	int n;
	while ((n = sftp_engine_output(r->e, iov, 64)) > 0) {
		size_t tot = 0;
		for (int i = 0; i < n; i++) {
			assert_true(r->outlen + iov[i].iov_len <= sizeof(r->out));
			memcpy(r->out + r->outlen, iov[i].iov_base, iov[i].iov_len);
			r->outlen += iov[i].iov_len;
			tot += iov[i].iov_len;
		}
		sftp_engine_output_done(r->e, tot);
	}
}

/* Sends one packet (body built in b, length prefixed here), processes, collects output. */
static int rig_send(struct rig *r, struct wbuf *b)
{
	uint8_t len[4] = {(uint8_t)(b->len >> 24), (uint8_t)(b->len >> 16), (uint8_t)(b->len >> 8),
			  (uint8_t)b->len};
	assert_int_equal(sftp_engine_input(r->e, len, 4), 4);
	assert_int_equal(sftp_engine_input(r->e, b->p, b->len), b->len);
	wbuf_free(b);
	int rc = sftp_engine_process(r->e);
	rig_collect(r);
	return rc;
}

struct reply {
	uint8_t type;
	uint32_t id;
	struct cursor c; /* the rest */
};

/* Takes the next reply from the collected output; 0 when there is none. */
static int rig_reply(struct rig *r, struct reply *rep)
{
	struct cursor c;
	uint32_t len;
	cursor_init(&c, r->out + r->outoff, r->outlen - r->outoff);
	if (cursor_get_be32(&c, &len) != 0)
		return 0;
	assert_true(len <= cursor_left(&c));
	assert_int_equal(cursor_get_u8(&c, &rep->type), 0);
	assert_int_equal(cursor_get_be32(&c, &rep->id), 0);
	cursor_init(&rep->c, r->out + r->outoff + 9, len - 5);
	r->outoff += 4 + len;
	return 1;
}

static void put_str(struct wbuf *b, const char *s)
{
	wbuf_put_be32(b, (uint32_t)strlen(s));
	wbuf_put_bytes(b, s, strlen(s));
}

static void put_u64(struct wbuf *b, uint64_t v)
{
	wbuf_put_be32(b, (uint32_t)(v >> 32));
	wbuf_put_be32(b, (uint32_t)v);
}

static struct wbuf pkt(uint8_t type, uint32_t id)
{
	struct wbuf b;
	wbuf_init(&b);
	wbuf_put_u8(&b, type);
	wbuf_put_be32(&b, id);
	return b;
}

static void rig_init(struct rig *r)
{
	struct wbuf b = pkt(SSH_FXP_INIT, 3);
	assert_int_equal(rig_send(r, &b), 0);
	struct reply rep;
	assert_true(rig_reply(r, &rep));
	assert_int_equal(rep.type, SSH_FXP_VERSION);
	assert_int_equal(rep.id, 3);
}

/* Expects a STATUS reply with id and code; returns its message (static). */
static const char *expect_status(struct rig *r, uint32_t id, uint32_t code)
{
	static char msg[256];
	struct reply rep;
	uint32_t got = 0, n = 0;
	const uint8_t *p = NULL;
	assert_true(rig_reply(r, &rep));
	assert_int_equal(rep.type, SSH_FXP_STATUS);
	assert_int_equal(rep.id, id);
	assert_int_equal(cursor_get_be32(&rep.c, &got), 0);
	assert_int_equal(cursor_get_be32(&rep.c, &n), 0);
	assert_int_equal(cursor_get_ptr(&rep.c, n, &p), 0);
	snprintf(msg, sizeof(msg), "%.*s", (int)n, p);
	if (got != code)
		fail_msg("status %u (%s), wanted %u", got, msg, code);
	return msg;
}

/* Expects a HANDLE reply; copies the handle. */
static void expect_handle(struct rig *r, uint32_t id, uint8_t *h, uint32_t *hl)
{
	struct reply rep;
	const uint8_t *p = NULL;
	assert_true(rig_reply(r, &rep));
	if (rep.type == SSH_FXP_STATUS) {
		uint32_t code = 0, n = 0;
		assert_int_equal(cursor_get_be32(&rep.c, &code), 0);
		assert_int_equal(cursor_get_be32(&rep.c, &n), 0);
		assert_int_equal(cursor_get_ptr(&rep.c, n, &p), 0);
		fail_msg("status %u %.*s instead of a handle", code, (int)n, p);
	}
	assert_int_equal(rep.type, SSH_FXP_HANDLE);
	assert_int_equal(rep.id, id);
	assert_int_equal(cursor_get_be32(&rep.c, hl), 0);
	assert_true(*hl <= 256);
	assert_int_equal(cursor_get_bytes(&rep.c, h, *hl), 0);
}

static void send_open(struct rig *r, uint32_t id, const char *path, uint32_t pflags)
{
	struct wbuf b = pkt(SSH_FXP_OPEN, id);
	put_str(&b, path);
	wbuf_put_be32(&b, pflags);
	wbuf_put_be32(&b, 0); /* no attrs */
	rig_send(r, &b);
}

static void send_handle_op(struct rig *r, uint8_t type, uint32_t id, const uint8_t *h, uint32_t hl)
{
	struct wbuf b = pkt(type, id);
	wbuf_put_be32(&b, hl);
	wbuf_put_bytes(&b, h, hl);
	rig_send(r, &b);
}

static void send_read(struct rig *r, uint32_t id, const uint8_t *h, uint32_t hl, uint64_t off,
		      uint32_t len)
{
	struct wbuf b = pkt(SSH_FXP_READ, id);
	wbuf_put_be32(&b, hl);
	wbuf_put_bytes(&b, h, hl);
	put_u64(&b, off);
	wbuf_put_be32(&b, len);
	rig_send(r, &b);
}

static void send_write(struct rig *r, uint32_t id, const uint8_t *h, uint32_t hl, uint64_t off,
		       const char *data)
{
	struct wbuf b = pkt(SSH_FXP_WRITE, id);
	wbuf_put_be32(&b, hl);
	wbuf_put_bytes(&b, h, hl);
	put_u64(&b, off);
	put_str(&b, data);
	rig_send(r, &b);
}

static void expect_data(struct rig *r, uint32_t id, const char *want)
{
	struct reply rep;
	uint32_t n = 0;
	const uint8_t *p = NULL;
	assert_true(rig_reply(r, &rep));
	assert_int_equal(rep.type, SSH_FXP_DATA);
	assert_int_equal(rep.id, id);
	assert_int_equal(cursor_get_be32(&rep.c, &n), 0);
	assert_int_equal(cursor_get_ptr(&rep.c, n, &p), 0);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(p, want, n);
}

static void expect_name(struct rig *r, uint32_t id, const char *want)
{
	struct reply rep;
	uint32_t count = 0, n = 0;
	const uint8_t *p = NULL;
	assert_true(rig_reply(r, &rep));
	assert_int_equal(rep.type, SSH_FXP_NAME);
	assert_int_equal(rep.id, id);
	assert_int_equal(cursor_get_be32(&rep.c, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(cursor_get_be32(&rep.c, &n), 0);
	assert_int_equal(cursor_get_ptr(&rep.c, n, &p), 0);
	char got[512];
	snprintf(got, sizeof(got), "%.*s", (int)n, p);
	assert_string_equal(got, want);
}

/* ---- tests ---- */

static void test_version_and_extensions(void **state)
{
	(void)state;
	struct rig r;
	rig_start(&r, NULL, 0, 0);
	struct wbuf b = pkt(SSH_FXP_INIT, 3);
	assert_int_equal(rig_send(&r, &b), 0);
	struct reply rep;
	assert_true(rig_reply(&r, &rep));
	assert_int_equal(rep.type, SSH_FXP_VERSION);
	assert_int_equal(rep.id, 3); /* the version */
	const char *want[] = {"posix-rename@openssh.com", "statvfs@openssh.com",
			      "fstatvfs@openssh.com",	  "hardlink@openssh.com",
			      "fsync@openssh.com",	  "limits@openssh.com",
			      "expand-path@openssh.com"};
	int seen[7] = {0};
	while (cursor_left(&rep.c) > 0) {
		const uint8_t *p = NULL;
		uint32_t n = 0, vn = 0;
		assert_int_equal(cursor_get_be32(&rep.c, &n), 0);
		assert_int_equal(cursor_get_ptr(&rep.c, n, &p), 0);
		for (int i = 0; i < 7; i++)
			if (strlen(want[i]) == n && memcmp(want[i], p, n) == 0)
				seen[i]++;
		assert_int_equal(cursor_get_be32(&rep.c, &vn), 0);
		assert_int_equal(cursor_skip(&rep.c, vn), 0);
	}
	for (int i = 0; i < 7; i++)
		assert_int_equal(seen[i], 1);
	rig_stop(&r);
}

static void test_packet_before_init_is_fatal(void **state)
{
	(void)state;
	struct rig r;
	rig_start(&r, NULL, 0, 0);
	struct wbuf b = pkt(SSH_FXP_REALPATH, 1);
	put_str(&b, ".");
	assert_true(rig_send(&r, &b) < 0);
	assert_non_null(strstr(sftp_engine_error(r.e), "before SSH_FXP_INIT"));
	rig_stop(&r);
}

static void test_oversized_packet_refused_before_allocation(void **state)
{
	(void)state;
	struct rig r;
	rig_start(&r, NULL, 0, 0);
	rig_init(&r);
	/* a length of 16 MiB: refused on the four length bytes alone */
	uint8_t big[8] = {0x01, 0x00, 0x00, 0x00, SSH_FXP_READ, 0, 0, 1};
	size_t took = sftp_engine_input(r.e, big, sizeof(big));
	assert_int_equal(took, 4);
	assert_true(sftp_engine_process(r.e) < 0);
	assert_non_null(strstr(sftp_engine_error(r.e), "16777216"));
	assert_int_equal(sftp_engine_input_room(r.e), 0);
	rig_stop(&r);
}

static void test_largest_packet_accepted(void **state)
{
	(void)state;
	struct rig r;
	rig_start(&r, NULL, 0, 0);
	rig_init(&r);
	uint8_t h[256];
	uint32_t hl;
	send_open(&r, 5, "big", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC);
	expect_handle(&r, 5, h, &hl);
	/* a WRITE of SFTP_MAX_DATA bytes fits under the cap */
	struct wbuf b = pkt(SSH_FXP_WRITE, 6);
	wbuf_put_be32(&b, hl);
	wbuf_put_bytes(&b, h, hl);
	put_u64(&b, 0);
	wbuf_put_be32(&b, SFTP_MAX_DATA);
	wbuf_put_zero(&b, SFTP_MAX_DATA);
	assert_true(b.len <= SFTP_MAX_PACKET);
	assert_int_equal(rig_send(&r, &b), 0);
	expect_status(&r, 6, SSH_FX_OK);
	rig_stop(&r);
}

static void test_short_length_is_fatal(void **state)
{
	(void)state;
	struct rig r;
	rig_start(&r, NULL, 0, 0);
	uint8_t p[4] = {0, 0, 0, 3};
	assert_int_equal(sftp_engine_input(r.e, p, 4), 4);
	assert_true(sftp_engine_process(r.e) < 0);
	rig_stop(&r);
}

static void test_open_read_close(void **state)
{
	(void)state;
	struct rig r;
	rig_start(&r, NULL, 0, 0);
	rig_file(&r, "a.txt", "hello world");
	rig_init(&r);
	uint8_t h[256];
	uint32_t hl;
	send_open(&r, 7, "/a.txt", SSH_FXF_READ);
	expect_handle(&r, 7, h, &hl);
	send_read(&r, 8, h, hl, 6, 100);
	expect_data(&r, 8, "world");
	send_read(&r, 9, h, hl, 11, 100);
	expect_status(&r, 9, SSH_FX_EOF);
	send_handle_op(&r, SSH_FXP_CLOSE, 10, h, hl);
	expect_status(&r, 10, SSH_FX_OK);
	/* the handle is gone */
	send_read(&r, 11, h, hl, 0, 10);
	assert_string_equal(expect_status(&r, 11, SSH_FX_FAILURE), "invalid handle");
	rig_stop(&r);
}

static void test_bad_handles(void **state)
{
	(void)state;
	struct rig r;
	rig_start(&r, NULL, 0, 0);
	rig_init(&r);
	uint8_t junk[8] = {0, 0, 0, 9, 0, 0, 0, 1};
	send_read(&r, 1, junk, 8, 0, 10);
	expect_status(&r, 1, SSH_FX_FAILURE);
	send_read(&r, 2, junk, 3, 0, 10); /* wrong length */
	expect_status(&r, 2, SSH_FX_FAILURE);
	send_handle_op(&r, SSH_FXP_CLOSE, 3, junk, 0);
	expect_status(&r, 3, SSH_FX_FAILURE);
	rig_stop(&r);
}

static void test_open_flags_cache_mode_off(void **state)
{
	(void)state;
	struct rig r;
	uint8_t h[256];
	uint32_t hl;
	rig_start(&r, NULL, 0, 0);
	rig_file(&r, "e.txt", "existing");
	rig_init(&r);
	/* READ on a missing file */
	send_open(&r, 1, "missing", SSH_FXF_READ);
	expect_status(&r, 1, SSH_FX_NO_SUCH_FILE);
	/* WRITE without CREAT on a missing file */
	send_open(&r, 2, "missing", SSH_FXF_WRITE);
	expect_status(&r, 2, SSH_FX_NO_SUCH_FILE);
	/* CREAT|EXCL on an existing file */
	send_open(&r, 3, "e.txt", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_EXCL);
	expect_status(&r, 3, SSH_FX_FAILURE);
	assert_string_equal(rig_read(&r, "e.txt"), "existing");
	/* READ|WRITE is refused in cache mode off, with a message saying why */
	send_open(&r, 4, "e.txt", SSH_FXF_READ | SSH_FXF_WRITE);
	assert_non_null(strstr(expect_status(&r, 4, SSH_FX_OP_UNSUPPORTED), "cache mode off"));
	/* APPEND: every write goes to the end of the file, whatever its offset says */
	send_open(&r, 5, "e.txt", SSH_FXF_WRITE | SSH_FXF_APPEND);
	expect_handle(&r, 5, h, &hl);
	assert_string_equal(rig_read(&r, "e.txt"), "existing");
	send_write(&r, 50, h, hl, 0, "+a");
	expect_status(&r, 50, SSH_FX_OK);
	send_write(&r, 51, h, hl, 1000, "+b");
	expect_status(&r, 51, SSH_FX_OK);
	send_handle_op(&r, SSH_FXP_CLOSE, 52, h, hl);
	expect_status(&r, 52, SSH_FX_OK);
	assert_string_equal(rig_read(&r, "e.txt"), "existing+a+b");
	/* WRITE alone keeps the file: the first write may start at its end (a resume) */
	send_open(&r, 6, "e.txt", SSH_FXF_WRITE);
	expect_handle(&r, 6, h, &hl);
	assert_string_equal(rig_read(&r, "e.txt"), "existing+a+b");
	/* ... but not in the middle */
	send_write(&r, 60, h, hl, 3, "x");
	assert_non_null(strstr(expect_status(&r, 60, SSH_FX_OP_UNSUPPORTED), "sequential"));
	send_write(&r, 7, h, hl, 12, "new");
	expect_status(&r, 7, SSH_FX_OK);
	/* writes are sequential: a seek is refused */
	send_write(&r, 8, h, hl, 20, "x");
	assert_non_null(strstr(expect_status(&r, 8, SSH_FX_OP_UNSUPPORTED), "sequential"));
	send_write(&r, 9, h, hl, 15, "er");
	expect_status(&r, 9, SSH_FX_OK);
	/* no reading from a write handle */
	send_read(&r, 10, h, hl, 0, 4);
	expect_status(&r, 10, SSH_FX_PERMISSION_DENIED);
	send_handle_op(&r, SSH_FXP_CLOSE, 11, h, hl);
	expect_status(&r, 11, SSH_FX_OK);
	assert_string_equal(rig_read(&r, "e.txt"), "existing+a+bnewer");
	/* a first write at 0 overwrites in place (no TRUNC: the rest stays) */
	send_open(&r, 70, "e.txt", SSH_FXF_WRITE);
	expect_handle(&r, 70, h, &hl);
	send_write(&r, 71, h, hl, 0, "EX");
	expect_status(&r, 71, SSH_FX_OK);
	send_write(&r, 72, h, hl, 12, "x");
	assert_non_null(strstr(expect_status(&r, 72, SSH_FX_OP_UNSUPPORTED), "sequential"));
	send_handle_op(&r, SSH_FXP_CLOSE, 73, h, hl);
	expect_status(&r, 73, SSH_FX_OK);
	assert_string_equal(rig_read(&r, "e.txt"), "EXisting+a+bnewer");
	/* WRITE|TRUNC still starts from nothing */
	send_open(&r, 74, "e.txt", SSH_FXF_WRITE | SSH_FXF_TRUNC);
	expect_handle(&r, 74, h, &hl);
	assert_string_equal(rig_read(&r, "e.txt"), "");
	send_write(&r, 75, h, hl, 5, "x");
	assert_non_null(strstr(expect_status(&r, 75, SSH_FX_OP_UNSUPPORTED), "sequential"));
	send_write(&r, 76, h, hl, 0, "newer");
	expect_status(&r, 76, SSH_FX_OK);
	send_handle_op(&r, SSH_FXP_CLOSE, 77, h, hl);
	expect_status(&r, 77, SSH_FX_OK);
	assert_string_equal(rig_read(&r, "e.txt"), "newer");
	/* CREAT|TRUNC makes a new file */
	send_open(&r, 12, "n.txt", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC);
	expect_handle(&r, 12, h, &hl);
	send_handle_op(&r, SSH_FXP_CLOSE, 13, h, hl);
	expect_status(&r, 13, SSH_FX_OK);
	assert_string_equal(rig_read(&r, "n.txt"), "");
	/* CREAT|EXCL on a new name works */
	send_open(&r, 14, "x.txt", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_EXCL);
	expect_handle(&r, 14, h, &hl);
	send_handle_op(&r, SSH_FXP_CLOSE, 15, h, hl);
	expect_status(&r, 15, SSH_FX_OK);
	/* a directory cannot be opened as a file */
	assert_int_equal(mkdir(strcat(strcpy((char[128]){0}, r.dir), "/d"), 0755), 0);
	send_open(&r, 16, "d", SSH_FXF_READ);
	expect_status(&r, 16, SSH_FX_FAILURE);
	rig_stop(&r);
}

static void test_realpath_never_leaves_root(void **state)
{
	(void)state;
	struct rig r;
	rig_start(&r, NULL, 0, 0);
	rig_init(&r);
	const char *in[] = {".", "/../..", "a/../../b", "/a/./b//c/", "../../etc/passwd", ""};
	const char *out[] = {"/", "/", "/b", "/a/b/c", "/etc/passwd", "/"};
	for (uint32_t i = 0; i < 6; i++) {
		struct wbuf b = pkt(SSH_FXP_REALPATH, 20 + i);
		put_str(&b, in[i]);
		rig_send(&r, &b);
		expect_name(&r, 20 + i, out[i]);
	}
	/* a path with a NUL byte is refused */
	struct wbuf b = pkt(SSH_FXP_REALPATH, 30);
	wbuf_put_be32(&b, 3);
	wbuf_put_bytes(&b, "a\0b", 3);
	rig_send(&r, &b);
	expect_status(&r, 30, SSH_FX_FAILURE);
	rig_stop(&r);
}

static void test_symlink_escape_refused(void **state)
{
	(void)state;
	struct rig r;
	rig_start(&r, NULL, 0, 0);
	rig_file(&r, "in.txt", "inside");
	char p[256];
	snprintf(p, sizeof(p), "%s/out", r.dir);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	snprintf(p, sizeof(p), "%s/up", r.dir);
	assert_int_equal(symlink("../../../etc/passwd", p), 0);
	snprintf(p, sizeof(p), "%s/ok", r.dir);
	assert_int_equal(symlink("in.txt", p), 0);
	rig_init(&r);
	send_open(&r, 1, "out", SSH_FXF_READ);
	expect_status(&r, 1, SSH_FX_FAILURE);
	send_open(&r, 2, "up", SSH_FXF_READ);
	expect_status(&r, 2, SSH_FX_FAILURE);
	struct wbuf b = pkt(SSH_FXP_STAT, 3);
	put_str(&b, "/out");
	rig_send(&r, &b);
	struct reply rep;
	assert_true(rig_reply(&r, &rep));
	assert_int_equal(rep.type, SSH_FXP_STATUS);
	/* a symlink that stays inside works */
	uint8_t h[256];
	uint32_t hl;
	send_open(&r, 4, "ok", SSH_FXF_READ);
	expect_handle(&r, 4, h, &hl);
	send_read(&r, 5, h, hl, 0, 100);
	expect_data(&r, 5, "inside");
	rig_stop(&r);
}

static void test_max_handles(void **state)
{
	(void)state;
	struct rig r;
	uint8_t h[256];
	uint32_t hl;
	rig_start(&r, NULL, 0, 2);
	rig_file(&r, "a", "1");
	rig_init(&r);
	send_open(&r, 1, "a", SSH_FXF_READ);
	expect_handle(&r, 1, h, &hl);
	struct wbuf b = pkt(SSH_FXP_OPENDIR, 2);
	put_str(&b, "/");
	rig_send(&r, &b);
	expect_handle(&r, 2, h, &hl);
	send_open(&r, 3, "a", SSH_FXF_READ);
	assert_non_null(strstr(expect_status(&r, 3, SSH_FX_FAILURE), "too many open handles"));
	/* closing one makes room */
	send_handle_op(&r, SSH_FXP_CLOSE, 4, h, hl);
	expect_status(&r, 4, SSH_FX_OK);
	send_open(&r, 5, "a", SSH_FXF_READ);
	expect_handle(&r, 5, h, &hl);
	rig_stop(&r);
}

static void test_readdir_pages_through(void **state)
{
	(void)state;
	struct rig r;
	rig_start(&r, NULL, 0, 0);
	for (int i = 0; i < 3000; i++) {
		char n[32];
		snprintf(n, sizeof(n), "file-%04d-with-a-longish-name", i);
		rig_file(&r, n, "x");
	}
	rig_init(&r);
	uint8_t h[256];
	uint32_t hl;
	struct wbuf b = pkt(SSH_FXP_OPENDIR, 1);
	put_str(&b, "/");
	rig_send(&r, &b);
	expect_handle(&r, 1, h, &hl);
	uint32_t total = 0, replies = 0;
	for (uint32_t id = 2;; id++) {
		send_handle_op(&r, SSH_FXP_READDIR, id, h, hl);
		struct reply rep;
		assert_true(rig_reply(&r, &rep));
		assert_int_equal(rep.id, id);
		if (rep.type == SSH_FXP_STATUS)
			break;
		assert_int_equal(rep.type, SSH_FXP_NAME);
		uint32_t count = 0;
		assert_int_equal(cursor_get_be32(&rep.c, &count), 0);
		total += count;
		replies++;
		r.outlen = r.outoff = 0;
	}
	assert_int_equal(total, 3000);
	assert_true(replies >= 2); /* one reply stays under its size cap */
	rig_stop(&r);
}

static void test_renames_and_extensions(void **state)
{
	(void)state;
	struct rig r;
	rig_start(&r, NULL, 0, 0);
	rig_file(&r, "a", "A");
	rig_file(&r, "b", "B");
	rig_init(&r);
	/* version 3 RENAME does not replace */
	struct wbuf b = pkt(SSH_FXP_RENAME, 1);
	put_str(&b, "a");
	put_str(&b, "b");
	rig_send(&r, &b);
	expect_status(&r, 1, SSH_FX_FAILURE);
	assert_string_equal(rig_read(&r, "b"), "B");
	/* posix-rename does */
	b = pkt(SSH_FXP_EXTENDED, 2);
	put_str(&b, "posix-rename@openssh.com");
	put_str(&b, "a");
	put_str(&b, "b");
	rig_send(&r, &b);
	expect_status(&r, 2, SSH_FX_OK);
	assert_string_equal(rig_read(&r, "b"), "A");
	assert_null(rig_read(&r, "a"));
	/* hardlink */
	b = pkt(SSH_FXP_EXTENDED, 3);
	put_str(&b, "hardlink@openssh.com");
	put_str(&b, "b");
	put_str(&b, "c");
	rig_send(&r, &b);
	expect_status(&r, 3, SSH_FX_OK);
	assert_string_equal(rig_read(&r, "c"), "A");
	/* limits */
	b = pkt(SSH_FXP_EXTENDED, 4);
	put_str(&b, "limits@openssh.com");
	rig_send(&r, &b);
	struct reply rep;
	uint32_t hi, lo;
	assert_true(rig_reply(&r, &rep));
	assert_int_equal(rep.type, SSH_FXP_EXTENDED_REPLY);
	assert_int_equal(cursor_get_be32(&rep.c, &hi), 0);
	assert_int_equal(cursor_get_be32(&rep.c, &lo), 0);
	assert_int_equal(lo, SFTP_MAX_PACKET);
	assert_int_equal(cursor_get_be32(&rep.c, &hi), 0);
	assert_int_equal(cursor_get_be32(&rep.c, &lo), 0);
	assert_int_equal(lo, SFTP_MAX_DATA);
	/* statvfs: 11 uint64 */
	b = pkt(SSH_FXP_EXTENDED, 5);
	put_str(&b, "statvfs@openssh.com");
	put_str(&b, "/");
	rig_send(&r, &b);
	assert_true(rig_reply(&r, &rep));
	assert_int_equal(rep.type, SSH_FXP_EXTENDED_REPLY);
	assert_int_equal(cursor_left(&rep.c), 11 * 8);
	/* expand-path */
	b = pkt(SSH_FXP_EXTENDED, 6);
	put_str(&b, "expand-path@openssh.com");
	put_str(&b, "~/x/../y");
	rig_send(&r, &b);
	expect_name(&r, 6, "/y");
	/* an unknown extension */
	b = pkt(SSH_FXP_EXTENDED, 7);
	put_str(&b, "copy-data");
	rig_send(&r, &b);
	expect_status(&r, 7, SSH_FX_OP_UNSUPPORTED);
	/* fsync on a handle */
	uint8_t h[256];
	uint32_t hl;
	send_open(&r, 8, "c", SSH_FXF_READ);
	expect_handle(&r, 8, h, &hl);
	b = pkt(SSH_FXP_EXTENDED, 9);
	put_str(&b, "fsync@openssh.com");
	wbuf_put_be32(&b, hl);
	wbuf_put_bytes(&b, h, hl);
	rig_send(&r, &b);
	expect_status(&r, 9, SSH_FX_OK);
	rig_stop(&r);
}

static void test_malformed_and_unknown(void **state)
{
	(void)state;
	struct rig r;
	rig_start(&r, NULL, 0, 0);
	rig_init(&r);
	struct wbuf b = pkt(SSH_FXP_OPEN, 1);
	wbuf_put_be32(&b, 100); /* a string longer than the packet */
	wbuf_put_bytes(&b, "abc", 3);
	assert_int_equal(rig_send(&r, &b), 0);
	expect_status(&r, 1, SSH_FX_BAD_MESSAGE);
	b = pkt(99, 2);
	assert_int_equal(rig_send(&r, &b), 0);
	expect_status(&r, 2, SSH_FX_OP_UNSUPPORTED);
	b = pkt(SSH_FXP_SYMLINK, 3);
	put_str(&b, "a");
	put_str(&b, "b");
	rig_send(&r, &b);
	expect_status(&r, 3, SSH_FX_OP_UNSUPPORTED);
	rig_stop(&r);
}

static void test_read_only(void **state)
{
	(void)state;
	struct rig r;
	rig_start(&r, NULL, 1, 0);
	rig_file(&r, "a", "A");
	rig_init(&r);
	send_open(&r, 1, "a", SSH_FXF_WRITE | SSH_FXF_TRUNC | SSH_FXF_CREAT);
	expect_status(&r, 1, SSH_FX_PERMISSION_DENIED);
	struct wbuf b = pkt(SSH_FXP_REMOVE, 2);
	put_str(&b, "a");
	rig_send(&r, &b);
	expect_status(&r, 2, SSH_FX_PERMISSION_DENIED);
	b = pkt(SSH_FXP_MKDIR, 3);
	put_str(&b, "d");
	wbuf_put_be32(&b, 0);
	rig_send(&r, &b);
	expect_status(&r, 3, SSH_FX_PERMISSION_DENIED);
	assert_string_equal(rig_read(&r, "a"), "A");
	rig_stop(&r);
}

/* FSTAT then CLOSE pipelined on a directory handle: the CLOSE waits behind the FSTAT and
 * frees the handle when it starts (a fuzzer find: the queue must not touch it after). */
static void feed(struct rig *r, struct wbuf *b)
{
	uint8_t len[4] = {(uint8_t)(b->len >> 24), (uint8_t)(b->len >> 16), (uint8_t)(b->len >> 8),
			  (uint8_t)b->len};
	assert_int_equal(sftp_engine_input(r->e, len, 4), 4);
	assert_int_equal(sftp_engine_input(r->e, b->p, b->len), b->len);
	wbuf_free(b);
}

static void test_close_queued_behind_fstat(void **state)
{
	(void)state;
	struct rig r;
	uint8_t h[256];
	uint32_t hl;
	rig_start(&r, NULL, 0, 0);
	rig_init(&r);
	struct wbuf b = pkt(SSH_FXP_OPENDIR, 1);
	put_str(&b, "/");
	rig_send(&r, &b);
	expect_handle(&r, 1, h, &hl);
	b = pkt(SSH_FXP_FSTAT, 2);
	wbuf_put_be32(&b, hl);
	wbuf_put_bytes(&b, h, hl);
	feed(&r, &b);
	b = pkt(SSH_FXP_CLOSE, 3);
	wbuf_put_be32(&b, hl);
	wbuf_put_bytes(&b, h, hl);
	feed(&r, &b);
	b = pkt(SSH_FXP_REALPATH, 4);
	put_str(&b, ".");
	assert_int_equal(rig_send(&r, &b), 0);
	/* replies come in completion order: the REALPATH overtakes the two */
	uint8_t types[5] = {0};
	struct reply rep;
	for (int i = 0; i < 3; i++) {
		assert_true(rig_reply(&r, &rep));
		assert_true(rep.id >= 2 && rep.id <= 4);
		types[rep.id] = rep.type;
		if (rep.id == 3) {
			uint32_t code;
			assert_int_equal(cursor_get_be32(&rep.c, &code), 0);
			assert_int_equal(code, SSH_FX_OK);
		}
	}
	assert_int_equal(types[2], SSH_FXP_ATTRS);
	assert_int_equal(types[3], SSH_FXP_STATUS);
	assert_int_equal(types[4], SSH_FXP_NAME);
	/* the handle is gone */
	b = pkt(SSH_FXP_READDIR, 5);
	wbuf_put_be32(&b, hl);
	wbuf_put_bytes(&b, h, hl);
	rig_send(&r, &b);
	expect_status(&r, 5, SSH_FX_FAILURE);
	rig_stop(&r);
}

/* ---- out of order: a backend that holds reads and completes them newest first ---- */

struct held {
	struct vfs_op *op;
	void *fh;
	void *buf;
	size_t len;
	uint64_t off;
};
static struct held held[16];
static int nheld;
static int hold_fd = -1;

static void rev_read(void *bc, struct vfs_op *op, void *fh, void *buf, size_t len, uint64_t off)
{
	(void)bc;
	held[nheld++] = (struct held){op, fh, buf, len, off};
}

static int nheldw; /* the WRITEs held, below */

/* Readable (a /dev/null fd) while the backend holds anything. */
static int held_pollfd(void *bc, struct pollfd *pfd)
{
	(void)bc;
	pfd->fd = hold_fd;
	pfd->events = POLLIN;
	return nheld + nheldw > 0;
}

static int rev_service(void *bc, short revents)
{
	(void)revents;
	while (nheld > 0) {
		struct held *x = &held[--nheld];
		vfs_backend_local.read(bc, x->op, x->fh, x->buf, x->len, x->off);
	}
	return 0;
}

/* The backend's fd is ready: it finishes what it holds; the engine's replies are collected. */
static void release_held(struct rig *r)
{
	struct pollfd pfd;
	assert_int_equal(vfs_conn_pollfds(r->vc, &pfd, 1), 1);
	pfd.revents = POLLIN;
	vfs_conn_service(r->vc, &pfd, 1);
	sftp_engine_process(r->e);
	rig_collect(r);
}

static void test_out_of_order_replies(void **state)
{
	(void)state;
	static struct vfs_backend_ops rev;
	rev = vfs_backend_local;
	rev.read = rev_read;
	rev.conn_pollfd = held_pollfd;
	rev.conn_service = rev_service;
	hold_fd = open("/dev/null", O_RDONLY);
	struct rig r;
	rig_start(&r, &rev, 0, 0);
	rig_file(&r, "f", "aaaabbbbcccc");
	rig_init(&r);
	uint8_t h[256];
	uint32_t hl;
	send_open(&r, 1, "f", SSH_FXF_READ);
	expect_handle(&r, 1, h, &hl);
	send_read(&r, 100, h, hl, 0, 4);
	send_read(&r, 101, h, hl, 4, 4);
	send_read(&r, 102, h, hl, 8, 4);
	assert_int_equal(nheld, 3); /* all three in flight together */
	assert_int_equal(sftp_engine_busy(r.e), 3);
	release_held(&r);
	expect_data(&r, 102, "cccc");
	expect_data(&r, 101, "bbbb");
	expect_data(&r, 100, "aaaa");
	rig_stop(&r);
	close(hold_fd);
}

/* WRITEs finished newest first (as an SMB server may): their replies still leave in the order
 * the WRITEs came (paramiko's putfo waits for them one by one and hangs on any other order);
 * the newest fails, and its message survives the wait. */
struct held_w {
	struct vfs_op *op;
	void *fh;
	const void *buf;
	size_t len;
	uint64_t off;
};
static struct held_w heldw[16];

static void rev_write(void *bc, struct vfs_op *op, void *fh, const void *buf, size_t len,
		      uint64_t off)
{
	(void)bc;
	assert_true(nheldw < 16);
	heldw[nheldw++] = (struct held_w){op, fh, buf, len, off};
}

static int revw_service(void *bc, short revents)
{
	(void)revents;
	int first = 1;
	while (nheldw > 0) {
		struct held_w *x = &heldw[--nheldw];
		if (first) /* the newest fails */
			vfs_op_done(x->op, SMBG_EACCES, "refused by the test");
		else
			vfs_backend_local.write(bc, x->op, x->fh, x->buf, x->len, x->off);
		first = 0;
	}
	return 0;
}

static void test_write_replies_in_order(void **state)
{
	(void)state;
	static struct vfs_backend_ops rev;
	rev = vfs_backend_local;
	rev.write = rev_write;
	rev.conn_pollfd = held_pollfd;
	rev.conn_service = revw_service;
	hold_fd = open("/dev/null", O_RDONLY);
	nheldw = 0;
	struct rig r;
	rig_start(&r, &rev, 0, 0);
	rig_init(&r);
	uint8_t h[256];
	uint32_t hl;
	send_open(&r, 1, "w", SSH_FXF_WRITE | SSH_FXF_CREAT);
	expect_handle(&r, 1, h, &hl);
	send_write(&r, 100, h, hl, 0, "aaaa");
	send_write(&r, 101, h, hl, 4, "bbbb");
	send_write(&r, 102, h, hl, 8, "cccc");
	assert_int_equal(nheldw, 3); /* all three in flight together */
	release_held(&r);
	expect_status(&r, 100, SSH_FX_OK);
	expect_status(&r, 101, SSH_FX_OK);
	const char *msg = expect_status(&r, 102, SSH_FX_PERMISSION_DENIED);
	assert_non_null(strstr(msg, "refused by the test"));
	assert_int_equal(sftp_engine_busy(r.e), 0);
	send_handle_op(&r, SSH_FXP_CLOSE, 2, h, hl);
	expect_status(&r, 2, SSH_FX_OK);
	assert_string_equal(rig_read(&r, "w"), "aaaabbbb");
	rig_stop(&r);
	close(hold_fd);
}

/* ---- a backend that never answers reads (a frozen server) until it is aborted ---- */

static struct held stuck[64];
static int nstuck;
static int stuck_pipe[2] = {-1, -1};
static int stuck_aborts;

static void stuck_read(void *bc, struct vfs_op *op, void *fh, void *buf, size_t len, uint64_t off)
{
	(void)bc;
	assert_true(nstuck < 64);
	stuck[nstuck++] = (struct held){op, fh, buf, len, off};
}

static int stuck_pollfd(void *bc, struct pollfd *pfd)
{
	(void)bc;
	pfd->fd = stuck_pipe[0]; /* never readable */
	pfd->events = POLLIN;
	return 1;
}

static int stuck_service(void *bc, short revents)
{
	(void)bc;
	(void)revents;
	return 0;
}

/* The connection is ended: what was pending fails (and its buffers are free again); the
 * bytes written into them show that no late completion reaches freed memory (ASan). */
static void stuck_abort(void *bc)
{
	(void)bc;
	stuck_aborts++;
	while (nstuck > 0) {
		struct held *x = &stuck[--nstuck];
		memset(x->buf, 'x', x->len);
		vfs_op_done(x->op, SMBG_ECLOSED, "closed");
	}
}

static const struct vfs_backend_ops *stuck_ops(void)
{
	static struct vfs_backend_ops ops;
	ops = vfs_backend_local;
	ops.read = stuck_read;
	ops.conn_pollfd = stuck_pollfd;
	ops.conn_service = stuck_service;
	ops.conn_abort = stuck_abort;
	nstuck = 0;
	stuck_aborts = 0;
	assert_int_equal(pipe(stuck_pipe), 0);
	return &ops;
}

static void stuck_done(void)
{
	close(stuck_pipe[0]);
	close(stuck_pipe[1]);
	rig_timeout = -1;
}

static int output_waiting(void *arg)
{
	return sftp_engine_output_pending(arg) > 0;
}

/* A rig over the stuck backend with a 1 s timeout, file "f" holding content open in h, and
 * READ id 2 (4 bytes at 0) sent, never to be answered by the backend. */
static void stuck_rig_reading(struct rig *r, const char *content, uint8_t *h, uint32_t *hl)
{
	rig_timeout = 1;
	rig_start(r, stuck_ops(), 0, 0);
	rig_file(r, "f", content);
	rig_init(r);
	send_open(r, 1, "f", SSH_FXF_READ);
	expect_handle(r, 1, h, hl);
	send_read(r, 2, h, *hl, 0, 4);
}

/* A read the backend never answers is answered with an error by the VFS deadline (and the
 * backend connection is ended, so nothing completes into the buffer later). */
static void test_unanswered_read_times_out(void **state)
{
	(void)state;
	struct rig r;
	uint8_t h[256];
	uint32_t hl;
	stuck_rig_reading(&r, "aaaabbbbcccc", h, &hl);
	assert_int_equal(nstuck, 1);
	int64_t t0 = clock_now_ms();
	assert_int_equal(vfs_conn_timeout_ms(r.vc) <= 1000, 1);
	assert_int_equal(vfs_conn_run_until(r.vc, output_waiting, r.e, t0 + 5000), 0);
	int64_t took = clock_now_ms() - t0;
	assert_true(took >= 900 && took < 3000);
	rig_collect(&r);
	const char *m = expect_status(&r, 2, SSH_FX_FAILURE);
	assert_non_null(strstr(m, "did not answer within 1 s"));
	assert_int_equal(stuck_aborts, 1);
	assert_int_equal(sftp_engine_busy(r.e), 0);
	rig_stop(&r);
	stuck_done();
}

/* The session ends with reads in flight that the backend never answers and a file left
 * open: sftp_engine_free returns within the deadline and frees nothing an operation could
 * still complete into (ASan would see the late writes of stuck_abort otherwise). */
static void test_free_with_work_in_flight(void **state)
{
	(void)state;
	rig_timeout = 1;
	struct rig r;
	rig_start(&r, stuck_ops(), 0, 0);
	rig_file(&r, "f", "aaaabbbbcccc");
	rig_init(&r);
	uint8_t h[256], w[256];
	uint32_t hl, wl;
	send_open(&r, 1, "f", SSH_FXF_READ);
	expect_handle(&r, 1, h, &hl);
	send_open(&r, 2, "up", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC);
	expect_handle(&r, 2, w, &wl);
	send_write(&r, 3, w, wl, 0, "half");
	expect_status(&r, 3, SSH_FX_OK);
	for (uint32_t i = 0; i < 3; i++)
		send_read(&r, 10 + i, h, hl, 4 * i, 4);
	send_handle_op(&r, SSH_FXP_CLOSE, 20, h, hl); /* queued behind the reads */
	assert_int_equal(nstuck, 3);
	assert_int_equal(sftp_engine_busy(r.e), 4);
	int64_t t0 = clock_now_ms();
	/* the asynchronous way: shutdown, then run the loop until idle */
	sftp_engine_shutdown(r.e);
	assert_int_equal(sftp_engine_input_room(r.e), 0);
	assert_false(sftp_engine_idle(r.e));
	sftp_engine_free(r.e); /* the synchronous way on top: bounded */
	r.e = NULL;
	assert_true(clock_now_ms() - t0 < 4000);
	assert_int_equal(nstuck, 0);
	assert_int_equal(vfs_conn_inflight(r.vc), 0);
	assert_string_equal(rig_read(&r, "up"), "half");
	rig_stop(&r);
	stuck_done();
}

/* ---- memory: WRITE data counts towards the same budget as READ data ---- */

static void stuck_write(void *bc, struct vfs_op *op, void *fh, const void *buf, size_t len,
			uint64_t off)
{
	(void)bc;
	assert_true(nstuck < 64);
	stuck[nstuck++] = (struct held){op, fh, (void *)buf, len, off};
}

static void stuck_abort_writes(void *bc)
{
	(void)bc;
	stuck_aborts++;
	while (nstuck > 0)
		vfs_op_done(stuck[--nstuck].op, SMBG_ECLOSED, "closed");
}

/* A server that does not answer writes: the client's WRITEs do not all start (each holds
 * its packet); the engine starts about max_buffered worth, then stops taking input. */
/* Input offered within sftp_engine_input_room() is always taken whole, also when a packet is
 * half assembled (channel.c pulls exactly the room and treats less as lost input: a 1 GiB
 * OpenSSH put failed with "sftp input lost"). Nothing is processed, so the queue fills. */
static void test_input_room_is_honoured(void **state)
{
	(void)state;
	struct rig r;
	rig_start(&r, NULL, 0, 0);
	enum { PL = 32768 + 13, N = 200 };
	size_t total = (size_t)N * (4 + PL), off = 0;
	uint8_t *s = calloc(1, total);
	assert_non_null(s);
	for (int i = 0; i < N; i++) {
		uint8_t *p = s + (size_t)i * (4 + PL);
		p[0] = (uint8_t)(PL >> 24);
		p[1] = (uint8_t)(PL >> 16);
		p[2] = (uint8_t)(PL >> 8);
		p[3] = (uint8_t)PL;
		p[4] = SSH_FXP_WRITE;
	}
	int filled = 0;
	while (off < total) {
		size_t room = sftp_engine_input_room(r.e);
		if (room == 0) {
			filled = 1;
			break;
		}
		size_t want = room < 65536 ? room : 65536;
		if (want > total - off)
			want = total - off;
		assert_int_equal(sftp_engine_input(r.e, s + off, want), want);
		off += want;
	}
	assert_true(filled); /* the cap was reached, with every offer taken whole */
	free(s);
	rig_stop(&r);
}

static void test_writes_count_towards_the_budget(void **state)
{
	(void)state;
	static struct vfs_backend_ops ops;
	ops = *stuck_ops();
	ops.write = stuck_write;
	ops.conn_abort = stuck_abort_writes;
	rig_max_buffered = 1024 * 1024;
	rig_timeout = 1;
	struct rig r;
	rig_start(&r, &ops, 0, 0);
	rig_init(&r);
	uint8_t h[256];
	uint32_t hl;
	send_open(&r, 1, "up", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC);
	expect_handle(&r, 1, h, &hl);
	static char chunk[200 * 1024 + 1];
	memset(chunk, 'w', sizeof(chunk) - 1);
	size_t offered = 0, taken = 0;
	for (uint32_t i = 0; i < 60; i++) { /* 12 MiB of WRITEs */
		struct wbuf b = pkt(SSH_FXP_WRITE, 100 + i);
		wbuf_put_be32(&b, hl);
		wbuf_put_bytes(&b, h, hl);
		put_u64(&b, (uint64_t)i * 200 * 1024);
		put_str(&b, chunk);
		uint8_t len[4] = {(uint8_t)(b.len >> 24), (uint8_t)(b.len >> 16),
				  (uint8_t)(b.len >> 8), (uint8_t)b.len};
		offered += 4 + b.len;
		taken += sftp_engine_input(r.e, len, 4);
		taken += sftp_engine_input(r.e, b.p, b.len);
		wbuf_free(&b);
		sftp_engine_process(r.e);
	}
	/* 1 MiB of budget: 5 writes of 200 KiB start (the sixth starts over it), no more */
	assert_true(nstuck >= 5 && nstuck <= 6);
	assert_true(taken < offered); /* and input stopped (4 MiB of packets not started) */
	assert_true(offered - taken > 4 * 1024 * 1024);
	rig_max_buffered = 0;
	rig_stop(&r);
	stuck_done();
}

static int done_calls;
static void on_done(void *priv)
{
	(void)priv;
	done_calls++;
}

/* The done callback runs once, when the last operation of a shut-down engine completes. */
static void test_shutdown_done_callback(void **state)
{
	(void)state;
	struct rig r;
	uint8_t h[256];
	uint32_t hl;
	stuck_rig_reading(&r, "aaaabbbb", h, &hl);
	done_calls = 0;
	sftp_engine_set_done_cb(r.e, on_done, NULL);
	sftp_engine_shutdown(r.e);
	assert_int_equal(done_calls, 0);
	vfs_conn_abort(r.vc, "test");
	vfs_conn_run(r.vc);
	assert_int_equal(done_calls, 1);
	assert_true(sftp_engine_idle(r.e));
	rig_stop(&r);
	stuck_done();
}

/* ---- sftp_serve_refusal: --stdio when the remote cannot be opened ---- */

static void write_all(int fd, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		assert_true(w > 0);
		p = (const char *)p + w;
		n -= (size_t)w;
	}
}

static void read_all(int fd, void *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		assert_true(r > 0);
		p = (char *)p + r;
		n -= (size_t)r;
	}
}

/* Sends b (freed) with its length in front. */
static void write_packet(int fd, struct wbuf *b)
{
	uint8_t len[4] = {(uint8_t)(b->len >> 24), (uint8_t)(b->len >> 16), (uint8_t)(b->len >> 8),
			  (uint8_t)b->len};
	write_all(fd, len, 4);
	write_all(fd, b->p, b->len);
	wbuf_free(b);
}

/* Runs sftp_serve_refusal in a child on two pipes; *to and *from are the parent's ends. */
static pid_t refusal_start(int *to, int *from)
{
	int a[2], b[2];
	assert_int_equal(pipe(a), 0);
	assert_int_equal(pipe(b), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(a[1]);
		close(b[0]);
		int rc = sftp_serve_refusal(a[0], b[1], "smb://h/s: STATUS_LOGON_FAILURE");
		_exit(rc < 0 ? 1 : 0);
	}
	close(a[0]);
	close(b[1]);
	*to = a[1];
	*from = b[0];
	return pid;
}

static int refusal_exit(pid_t pid)
{
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void test_refusal_answers_with_the_reason(void **state)
{
	(void)state;
	int to, from;
	pid_t pid = refusal_start(&to, &from);
	struct wbuf b = pkt(SSH_FXP_INIT, 3); /* the "id" of INIT is its version */
	write_packet(to, &b);
	uint8_t rep[4096];
	read_all(from, rep, 9);
	struct cursor c;
	uint32_t len, ver;
	uint8_t type;
	cursor_init(&c, rep, 9);
	assert_int_equal(cursor_get_be32(&c, &len), 0);
	assert_int_equal(cursor_get_u8(&c, &type), 0);
	assert_int_equal(cursor_get_be32(&c, &ver), 0);
	assert_int_equal(len, 5);
	assert_int_equal(type, SSH_FXP_VERSION);
	assert_int_equal(ver, 3);
	/* a REALPATH, then a WRITE longer than a pipe holds (its data is skipped) */
	b = pkt(SSH_FXP_REALPATH, 7);
	put_str(&b, ".");
	write_packet(to, &b);
	b = pkt(SSH_FXP_WRITE, 8);
	put_str(&b, "handle");
	put_u64(&b, 0);
	wbuf_put_be32(&b, 200000);
	wbuf_put_zero(&b, 200000);
	assert_true(b.len > 200000);
	write_packet(to, &b);
	for (uint32_t id = 7; id <= 8; id++) {
		read_all(from, rep, 4);
		cursor_init(&c, rep, 4);
		assert_int_equal(cursor_get_be32(&c, &len), 0);
		assert_true(len < sizeof(rep));
		read_all(from, rep, len);
		cursor_init(&c, rep, len);
		uint32_t rid = 0, code = 0, mlen = 0;
		const uint8_t *m = NULL;
		assert_int_equal(cursor_get_u8(&c, &type), 0);
		assert_int_equal(cursor_get_be32(&c, &rid), 0);
		assert_int_equal(cursor_get_be32(&c, &code), 0);
		assert_int_equal(cursor_get_be32(&c, &mlen), 0);
		assert_int_equal(cursor_get_ptr(&c, mlen, &m), 0);
		assert_int_equal(type, SSH_FXP_STATUS);
		assert_int_equal(rid, id);
		assert_int_equal(code, SSH_FX_FAILURE);
		char msg[600];
		snprintf(msg, sizeof(msg), "%.*s", (int)mlen, m);
		assert_string_equal(msg, "smbgate cannot serve this remote: smb://h/s: "
					 "STATUS_LOGON_FAILURE");
	}
	/* the client leaves: so does the server, cleanly */
	close(to);
	assert_int_equal(refusal_exit(pid), 0);
	assert_int_equal(read(from, rep, 1), 0);
	close(from);

	/* an oversized packet ends it at once, with an error */
	pid = refusal_start(&to, &from);
	uint8_t huge[9] = {0, 0x10, 0, 0, SSH_FXP_OPEN, 0, 0, 0, 1};
	write_all(to, huge, sizeof(huge));
	assert_int_equal(refusal_exit(pid), 1);
	assert_int_equal(read(from, rep, 1), 0);
	close(to);
	close(from);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_version_and_extensions),
	    cmocka_unit_test(test_packet_before_init_is_fatal),
	    cmocka_unit_test(test_oversized_packet_refused_before_allocation),
	    cmocka_unit_test(test_largest_packet_accepted),
	    cmocka_unit_test(test_short_length_is_fatal),
	    cmocka_unit_test(test_open_read_close),
	    cmocka_unit_test(test_bad_handles),
	    cmocka_unit_test(test_open_flags_cache_mode_off),
	    cmocka_unit_test(test_realpath_never_leaves_root),
	    cmocka_unit_test(test_symlink_escape_refused),
	    cmocka_unit_test(test_max_handles),
	    cmocka_unit_test(test_readdir_pages_through),
	    cmocka_unit_test(test_renames_and_extensions),
	    cmocka_unit_test(test_malformed_and_unknown),
	    cmocka_unit_test(test_read_only),
	    cmocka_unit_test(test_out_of_order_replies),
	    cmocka_unit_test(test_write_replies_in_order),
	    cmocka_unit_test(test_close_queued_behind_fstat),
	    cmocka_unit_test(test_refusal_answers_with_the_reason),
	    cmocka_unit_test(test_unanswered_read_times_out),
	    cmocka_unit_test(test_free_with_work_in_flight),
	    cmocka_unit_test(test_shutdown_done_callback),
	    cmocka_unit_test(test_writes_count_towards_the_budget),
	    cmocka_unit_test(test_input_room_is_honoured),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
