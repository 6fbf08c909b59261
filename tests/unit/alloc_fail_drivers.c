/* The drivers of test_alloc_fail: see alloc_fail_drivers.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc_fail_drivers.h"
#include "auth/auth.h"
#include "auth/ntlmssp.h"
#include "auth/spnego.h"
#include "sftp/sftp.h"
#include "smb/smb1/smb1.h"
#include "smb/smb2/smb2.h"
#include "smb/transport/nbns.h"
#include "util/url.h"
#include "util/utf16.h"
#include "util/wbuf.h"
#include "vfs/vfs.h"

static void drv_nbns(const uint8_t *data, size_t size)
{
	struct nbns_reply r;
	(void)nbns_parse_reply(data, size, &r);
	char name[32], err[200];
	size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	memcpy(name, data, n);
	name[n] = 0;
	if (smb_nb_name_check(name, err, sizeof(err)) == 0) {
		uint8_t q[50];
		(void)nbns_build_query(q, 1, name, 0x20, NBNS_TYPE_NB, 1);
	}
}

static void drv_ntlmssp_challenge(const uint8_t *data, size_t size)
{
	static const uint8_t cc[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	static const uint8_t key[16] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
	static const uint64_t t = 0;
	struct ntlmssp_fixed fx = {.client_challenge = cc, .random_session_key = key, .time = &t};
	struct ntlmssp_challenge ch;
	(void)ntlmssp_challenge_parse(data, size, &ch);
	for (int mode = 0; mode < 3; mode++) {
		struct ntlmssp_client *c =
		    mode == 2 ? ntlmssp_client_new(NULL, NULL, NULL, NULL, 0)
			      : ntlmssp_client_new("user", mode ? NULL : "DOM", "pw", NULL, mode);
		if (!c)
			continue;
		struct wbuf neg, auth;
		uint8_t sig[16];
		ntlmssp_client_set_fixed(c, &fx);
		wbuf_init(&neg);
		wbuf_init(&auth);
		if (ntlmssp_client_negotiate(c, &neg) == 0 &&
		    ntlmssp_client_authenticate(c, data, size, &auth) == 0) {
			(void)ntlmssp_client_sign(c, data, size, sig);
			(void)ntlmssp_client_verify(c, data, size, sig);
		}
		wbuf_free(&neg);
		wbuf_free(&auth);
		ntlmssp_client_free(c);
	}
}

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

static int count_entry(void *priv, const char *name, const struct smb_stat *s)
{
	size_t *n = priv;
	*n += strlen(name) + (s->is_dir ? 1 : 0);
	return 0;
}

static void smb1_block(const struct smb1_msg *m, int unicode)
{
	switch (m->command) {
	case SMB1_COM_NEGOTIATE: {
		struct smb1_negotiate_resp r;
		(void)smb1_negotiate_parse(m, &r);
		break;
	}
	case SMB1_COM_NT_CREATE_ANDX: {
		uint16_t fid;
		struct smb_stat s;
		(void)smb1_create_parse(m, &fid, &s);
		break;
	}
	case SMB1_COM_READ_ANDX: {
		size_t off, len;
		(void)smb1_read_parse(m, &off, &len);
		break;
	}
	case SMB1_COM_TRANSACTION2: {
		struct smb1_trans t = {.max_param = 64, .max_data = 4096};
		t.param = calloc(1, t.max_param);
		t.data = calloc(1, t.max_data);
		if (t.param && t.data && smb1_trans2_collect(&t, m) >= 0) {
			size_t total = 0;
			char *last = NULL;
			struct smb_stat s;
			struct smb_statfs fs;
			(void)smb1_find_parse(unicode, t.data, t.got_data, count_entry, &total,
					      &last);
			free(last);
			(void)smb1_allinfo_parse(t.data, t.got_data, &s);
			(void)smb1_fsinfo_parse(SMB1_QUERY_FS_SIZE_INFO, t.data, t.got_data, &fs);
			(void)smb1_fsinfo_parse(SMB1_PASS_FS_FULL_SIZE_INFORMATION, t.data,
						t.got_data, &fs);
		}
		free(t.param);
		free(t.data);
		break;
	}
	default: {
		char *s = NULL;
		(void)smb1_get_string(unicode, m->bytes.p, m->bytes.len, &s);
		free(s);
		break;
	}
	}
}

static void drv_smb1_response(const uint8_t *data, size_t size)
{
	struct smb1_msg m, next;
	if (smb1_check_request(data, size, &m) == 0) {
		int unicode = (m.flags2 & SMB1_FLAGS2_UNICODE) != 0;
		for (int guard = 0; guard < 1000; guard++) {
			smb1_block(&m, unicode);
			if (smb1_andx_next(&m, &next) != 1)
				break;
			m = next;
		}
	}
	size_t total = 0;
	char *last = NULL;
	(void)smb1_find_parse(0, data, size, count_entry, &total, &last);
	free(last);
	last = NULL;
	(void)smb1_find_parse(1, data, size, count_entry, &total, &last);
	free(last);
}

static void drv_smb2_response(const uint8_t *data, size_t size)
{
	struct smb2_msg m;
	if (smb2_check_message(data, size, &m) != 0)
		return;
	switch (m.command) {
	case SMB2_NEGOTIATE: {
		struct smb2_negotiate_resp r;
		(void)smb2_negotiate_parse(&m, &r);
		break;
	}
	case SMB2_CREATE: {
		uint8_t fid[16];
		struct smb_stat s;
		(void)smb2_create_parse(&m, fid, &s);
		break;
	}
	default: {
		const uint8_t *p = data + SMB2_HDR_SIZE;
		size_t n = size - SMB2_HDR_SIZE, total = 0;
		struct smb_stat s;
		struct smb_statfs fs;
		struct cursor c;
		(void)smb2_dirinfo_parse(p, n, count_entry, &total);
		(void)smb2_allinfo_parse(p, n, &s);
		(void)smb2_fsinfo_parse(p, n, &fs);
		if (smb2_output_buffer(&m, &c) == 0)
			(void)smb2_dirinfo_parse(c.p, c.len, count_entry, &total);
		break;
	}
	}
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

static void drv_sftp_refusal(const uint8_t *data, size_t size)
{
	int p[2];
	if (size > 60 * 1024 || pipe(p) < 0)
		return;
	int out = memfd_create("alloc-fail-refusal", 0);
	if (out >= 0 && (size == 0 || write(p[1], data, size) == (ssize_t)size)) {
		close(p[1]);
		p[1] = -1;
		(void)sftp_serve_refusal(p[0], out, "testing");
	}
	if (p[1] >= 0)
		close(p[1]);
	close(p[0]);
	if (out >= 0)
		close(out);
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
    {"fuzz_nbns", drv_nbns, NULL},
    {"fuzz_ntlmssp_challenge", drv_ntlmssp_challenge, NULL},
    {"fuzz_sftp_packet", drv_sftp_packet, NULL},
    {"fuzz_sftp_refusal", drv_sftp_refusal, NULL},
    {"fuzz_smb1_response", drv_smb1_response, NULL},
    {"fuzz_smb2_response", drv_smb2_response, NULL},
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
