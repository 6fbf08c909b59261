/* The drivers of test_alloc_fail: see alloc_fail_drivers.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc_fail_drivers.h"
#include "auth/auth.h"
#include "auth/spnego.h"
#include "sftp/sftp.h"
#include "util/url.h"
#include "util/utf16.h"
#include "util/wbuf.h"
#include "vfs/vfs.h"

static void drv_spnego(const uint8_t *data, size_t size)
{
	struct spnego_resp r, r2;
	struct spnego_init h;
	struct wbuf w;
	wbuf_init(&w);
	if (spnego_parse_resp(data, size, &r) == 0 &&
	    spnego_encode_resp(&w, r.neg_state, r.response_token, r.response_token_len,
			       r.mech_list_mic, r.mech_list_mic_len) == 0)
		(void)spnego_parse_resp(w.p, w.len, &r2);
	(void)spnego_parse_init(data, size, &h);
	struct smb_auth_creds creds = {.user = "user", .password = "pw"};
	struct smb_auth *a = smb_auth_new(&creds, 1);
	if (a) {
		wbuf_reset(&w);
		if (smb_auth_step(a, data, size, &w) == 0) {
			wbuf_reset(&w);
			if (smb_auth_step(a, data, size, &w) == 1)
				(void)smb_auth_finish(a, data, size);
		}
		smb_auth_free(a);
	}
	wbuf_free(&w);
}

static void drv_url(const uint8_t *data, size_t size)
{
	const uint8_t *sep = memchr(data, 0xff, size);
	size_t ulen = sep ? (size_t)(sep - data) : size;
	char *s = strndup((const char *)data, ulen);
	char *rel = sep ? strndup((const char *)sep + 1, size - ulen - 1) : NULL;
	struct smb_url u;
	char err[256];
	if (s && smb_url_parse(s, &u, err, sizeof(err)) == 0) {
		char *d = smb_url_display(&u);
		struct smb_url v;
		if (d && smb_url_parse(d, &v, err, sizeof(err)) == 0)
			smb_url_free(&v);
		free(d);
		char *out = NULL;
		if (rel && smb_path_join(u.path, rel, &out) == 0)
			free(out);
		smb_url_free(&u);
	}
	free(s);
	free(rel);
}

static void drv_utf16(const uint8_t *data, size_t size)
{
	if (size < 1)
		return;
	int flags = data[0] & 3;
	struct wbuf b;
	char *s = NULL;
	wbuf_init(&b);
	if (utf16_from_utf8(&b, (const char *)data + 1, size - 1, flags) == 0 &&
	    utf16_to_utf8(b.p, b.len, &s, flags & UTF16_SLASH_TO_BACKSLASH) == 0)
		free(s);
	wbuf_free(&b);
	s = NULL;
	if (utf16_to_utf8(data + 1, size - 1, &s, flags) == 0) {
		wbuf_reset(&b);
		(void)utf16_from_utf8(&b, s, strlen(s), flags & UTF16_SLASH_TO_BACKSLASH);
		free(s);
	}
	wbuf_free(&b);
}

static struct vfs *sftp_vfs; /* a small read-only local folder, made unarmed at the start */
static char sftp_dir[] = "/tmp/alloc-fail-sftp-XXXXXX";

int alloc_fail_drivers_setup(void)
{
	char p[256], err[256];
	if (!mkdtemp(sftp_dir))
		return -1;
	snprintf(p, sizeof(p), "%s/sub", sftp_dir);
	if (mkdir(p, 0755) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/a", sftp_dir);
	FILE *f = fopen(p, "w");
	if (!f)
		return -1;
	fputs("hello alloc fail", f);
	fclose(f);
	struct vfs_opts o;
	vfs_opts_default(&o);
	o.read_only = 1;
	sftp_vfs = vfs_new(sftp_dir, &o, err, sizeof(err));
	return sftp_vfs ? 0 : -1;
}

void alloc_fail_drivers_teardown(void)
{
	char p[256];
	vfs_free(sftp_vfs);
	snprintf(p, sizeof(p), "%s/a", sftp_dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/sub", sftp_dir);
	rmdir(p);
	rmdir(sftp_dir);
}

static void drv_sftp_packet(const uint8_t *data, size_t size)
{
	if (size == 0)
		return;
	size_t piece = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	char err[256];
	struct vfs_conn *vc = vfs_conn_new(sftp_vfs, err, sizeof(err));
	if (!vc)
		return;
	struct sftp_opts so;
	sftp_opts_default(&so);
	so.max_handles = 4;
	struct sftp_engine *e = sftp_engine_new(vc, &so);
	if (e) {
		for (size_t off = 0; off < size;) {
			size_t n = size - off < piece ? size - off : piece;
			size_t took = sftp_engine_input(e, data + off, n);
			int rc = sftp_engine_process(e);
			struct iovec iov[16];
			int k;
			while ((k = sftp_engine_output(e, iov, 16)) > 0) {
				size_t tot = 0;
				for (int i = 0; i < k; i++)
					tot += iov[i].iov_len;
				sftp_engine_output_done(e, tot);
			}
			if (rc < 0 || took == 0)
				break;
			off += took;
		}
		sftp_engine_free(e);
	}
	vfs_conn_free(vc);
}

static const struct driver drivers[] = {
    {"fuzz_sftp_packet", drv_sftp_packet, NULL},
    {"fuzz_spnego", drv_spnego, NULL},
    {"fuzz_url", drv_url, NULL},
    {"fuzz_utf16", drv_utf16, NULL},
};

/* every fuzz target's own entry point (see alloc_fail_drivers.h) */
#define ENTRY(n) int entry_##n(const uint8_t *data, size_t size);
#include "alloc_fail_entries.h"
#undef ENTRY
#define ENTRY(n) {#n, NULL, entry_##n},
static const struct driver entries[] = {
#include "alloc_fail_entries.h"
};
#undef ENTRY

const struct driver *alloc_fail_find_driver(const char *name)
{
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (strcmp(drivers[i].name, name) == 0)
			return &drivers[i];
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
		if (strcmp(entries[i].name, name) == 0)
			return &entries[i];
	return NULL;
}

void alloc_fail_drive(const struct driver *d, const uint8_t *data, size_t size)
{
	if (d->run)
		d->run(data, size);
	else
		(void)d->entry(data, size);
}
