/* Allocation-failure injection on the parsers' paths (issue 8, "Tests that keep it so").
 *
 * Every seed input of every fuzz target (tests/fuzz/corpus/<target>/) is fed through the entry
 * points that target uses, once to count the allocations the input causes, then again with
 * allocation number N failing, for N = 1, 2, ... until a run completes without reaching N.
 * Each run must end without a crash and with every block it allocated freed. malloc, calloc,
 * realloc, strdup and strndup are wrapped at link time (-Wl,--wrap=..., see CMakeLists.txt):
 * the wrappers count, fail on demand and remember the blocks handed out, so a leak is named
 * by input, N and the code that allocated it (under ASan, LeakSanitizer checks again at exit).
 * A crash prints the case being run before the process dies.
 *
 * Usage: test_alloc_fail CORPUS_DIR [TARGET]   (exit 0: all clean; 1: a leak or a gap)
 * Every directory of CORPUS_DIR is run: through a driver here when there is one, else through
 * the fuzz target's own entry point (compiled in, see "entries" below); a corpus with neither
 * fails. The drivers differ from the fuzz targets in one way: a failed allocation is an
 * outcome to accept (some fuzz targets abort on it), never a reason to stop.
 * Under UBSan a null dereference is reported by UBSan (file and line, with a stack) before
 * the case can be named: run the release build for the input and N. */
#include <dirent.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/ntlmssp.h"
#include "auth/spnego.h"
#include "sftp/sftp.h"
#include "smb/smb1/smb1.h"
#include "smb/smb2/smb2.h"
#include "smb/transport/nbns.h"
#include "util/log.h"
#include "util/url.h"
#include "util/utf16.h"
#include "util/wbuf.h"
#include "vfs/vfs.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#ifdef HAVE_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#define MAX_N	     20000	/* allocations failed one by one per input, at most */
#define TRACK_SLOTS  (1u << 16) /* blocks alive at once during one run, at most */
#define MAX_SEED     (1 << 20)	/* seed files are small; a bigger one is a mistake */
#define TOMBSTONE    ((void *)1)
#define MAX_REPORTED 5 /* leaked blocks printed per case */

/* ---- the wrappers ---------------------------------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

/* The code under test is single-threaded on these paths (no VFS worker threads with a local
 * folder), so the state below needs no lock. */
static struct {
	int armed;	       /* counting and tracking on */
	unsigned long fail_at; /* the allocation number that fails; 0: none */
	unsigned long count;   /* allocations seen since armed */
	int hit;	       /* fail_at was reached */
	int overflow;	       /* more live blocks than TRACK_SLOTS: no leak verdict */
	size_t live;
	struct slot {
		void *p;
		size_t size;
		unsigned long nth;
		void *caller;
	} slots[TRACK_SLOTS];
} st;

static size_t slot_hash(const void *p)
{
	uintptr_t x = (uintptr_t)p >> 4;
	x ^= x >> 17;
	x *= 0x9e3779b97f4a7c15ull;
	return (size_t)(x >> 20) & (TRACK_SLOTS - 1);
}

static void track_add(void *p, size_t size, void *caller)
{
	if (!st.armed || !p)
		return;
	if (st.live >= TRACK_SLOTS * 3 / 4) {
		st.overflow = 1;
		return;
	}
	for (size_t i = slot_hash(p);; i = (i + 1) & (TRACK_SLOTS - 1)) {
		if (st.slots[i].p == NULL || st.slots[i].p == TOMBSTONE) {
			st.slots[i] = (struct slot){p, size, st.count, caller};
			st.live++;
			return;
		}
	}
}

/* Forgets p if this run handed it out (blocks from before the run, or from libraries that
 * allocate on their own, are not ours to count). */
static void track_del(void *p)
{
	if (!st.armed || !p)
		return;
	for (size_t i = slot_hash(p); st.slots[i].p != NULL; i = (i + 1) & (TRACK_SLOTS - 1)) {
		if (st.slots[i].p == p) {
			st.slots[i].p = TOMBSTONE;
			st.live--;
			return;
		}
	}
}

/* 1 when this allocation is the one to fail. */
static int should_fail(void)
{
	if (!st.armed)
		return 0;
	st.count++;
	if (st.fail_at && st.count == st.fail_at) {
		st.hit = 1;
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

void *__wrap_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	void *p = __real_malloc(n);
	track_add(p, n, __builtin_return_address(0));
	return p;
}

void *__wrap_calloc(size_t k, size_t n)
{
	if (should_fail())
		return NULL;
	void *p = __real_calloc(k, n);
	track_add(p, k * n, __builtin_return_address(0));
	return p;
}

void *__wrap_realloc(void *p, size_t n)
{
	if (n == 0) { /* glibc frees p */
		track_del(p);
		return __real_realloc(p, 0);
	}
	if (should_fail())
		return NULL; /* p stays valid, and ours */
	void *q = __real_realloc(p, n);
	if (q) {
		track_del(p);
		track_add(q, n, __builtin_return_address(0));
	}
	return q;
}

void __wrap_free(void *p)
{
	track_del(p);
	__real_free(p);
}

static char *dup_n(const char *s, size_t n, void *caller)
{
	size_t len = strnlen(s, n);
	if (should_fail())
		return NULL;
	char *p = __real_malloc(len + 1);
	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	track_add(p, len + 1, caller);
	return p;
}

char *__wrap_strdup(const char *s)
{
	return dup_n(s, strlen(s), __builtin_return_address(0));
}

char *__wrap_strndup(const char *s, size_t n)
{
	return dup_n(s, n, __builtin_return_address(0));
}

/* ---- what is running, for a crash report ----------------------------------------------- */

static char current[1200];

/* Names the case about to run (cut short if the path is absurdly long). */
static void set_current(const char *target, const char *path, unsigned long n)
{
	int r =
	    n ? snprintf(current, sizeof(current), "%s %s, allocation %lu failing", target, path, n)
	      : snprintf(current, sizeof(current), "%s %s (no failure)", target, path);
	(void)r;
}

static void say_current(void)
{
	static const char pre[] = "test_alloc_fail: died while running ";
	ssize_t r = write(2, pre, sizeof(pre) - 1);
	r = write(2, current, strlen(current));
	r = write(2, "\n", 1);
	(void)r;
}

#ifndef HAVE_ASAN
static void on_fatal(int sig)
{
	say_current();
	signal(sig, SIG_DFL);
	raise(sig);
}
#endif

static void catch_crashes(void)
{
#ifdef HAVE_ASAN
	__sanitizer_set_death_callback(say_current);
#else
	int sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_fatal);
#endif
}

/* ---- drivers: the fuzz targets' entry points, tolerant of ENOMEM ------------------------ */

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

static int sftp_setup(void)
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

static void sftp_teardown(void)
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

struct driver {
	const char *name; /* the fuzz target, and its corpus directory */
	void (*run)(const uint8_t *data, size_t size);
	int (*entry)(const uint8_t *data, size_t size); /* the fuzz target's own, when no run */
};

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

/* ---- the runs ---------------------------------------------------------------------------- */

/* Every fuzz target's LLVMFuzzerTestOneInput, compiled in under the name entry_<target>
 * (CMakeLists.txt writes alloc_fail_entries.h, one ENTRY(target) per tests/fuzz/fuzz_*.c): a
 * target without a driver above is run through its own entry point, so a new parser is
 * covered from the day its fuzz target lands. An entry point that aborts on a failed
 * allocation shows up as a crash here: then it needs a driver above. */
#define ENTRY(n) int entry_##n(const uint8_t *data, size_t size);
#include "alloc_fail_entries.h"
#undef ENTRY
#define ENTRY(n) {#n, NULL, entry_##n},
static const struct driver entries[] = {
#include "alloc_fail_entries.h"
};
#undef ENTRY

static const struct driver *find_driver(const char *name)
{
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (strcmp(drivers[i].name, name) == 0)
			return &drivers[i];
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
		if (strcmp(entries[i].name, name) == 0)
			return &entries[i];
	return NULL;
}

static void drive(const struct driver *d, const uint8_t *data, size_t size)
{
	if (d->run)
		d->run(data, size);
	else
		(void)d->entry(data, size);
}

/* One armed run with allocation fail_at failing (0: none). Returns the number of blocks it
 * left allocated (0 when clean), printing them. */
static size_t run_once(const struct driver *d, const uint8_t *data, size_t size,
		       unsigned long fail_at)
{
	memset(st.slots, 0, sizeof(st.slots));
	st.live = 0;
	st.count = 0;
	st.hit = 0;
	st.overflow = 0;
	st.fail_at = fail_at;
	st.armed = 1;
	drive(d, data, size);
	st.armed = 0;
	if (st.overflow || st.live == 0)
		return 0;
	fprintf(stderr, "LEAK: %s: %zu block(s) not freed\n", current, st.live);
	size_t shown = 0;
	for (size_t i = 0; i < TRACK_SLOTS && shown < MAX_REPORTED; i++) {
		struct slot *s = &st.slots[i];
		if (s->p == NULL || s->p == TOMBSTONE)
			continue;
		fprintf(stderr, "  %zu bytes, allocation #%lu, allocated from: ", s->size, s->nth);
		fflush(stderr);
		backtrace_symbols_fd(&s->caller, 1, 2);
		shown++;
	}
	/* freed now, so that one leak does not hide the next or trip LeakSanitizer twice */
	for (size_t i = 0; i < TRACK_SLOTS; i++)
		if (st.slots[i].p != NULL && st.slots[i].p != TOMBSTONE)
			__real_free(st.slots[i].p);
	return st.live;
}

struct totals {
	unsigned long inputs, runs, failures_injected, leaks, capped;
};

static int read_input(const char *path, uint8_t **out, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > MAX_SEED) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	uint8_t *p = malloc((size_t)sb.st_size + 1);
	ssize_t got = p ? read(fd, p, (size_t)sb.st_size) : -1;
	close(fd);
	if (got != sb.st_size) {
		free(p);
		return -1;
	}
	*out = p;
	*len = (size_t)sb.st_size;
	return 0;
}

static void run_input(const struct driver *d, const char *path, struct totals *t)
{
	uint8_t *data;
	size_t size;
	if (read_input(path, &data, &size) != 0) {
		fprintf(stderr, "SKIP: cannot read %s\n", path);
		return;
	}
	t->inputs++;
	drive(d, data, size); /* unarmed: anything set up once on first use is made here */
	set_current(d->name, path, 0);
	t->leaks += run_once(d, data, size, 0) != 0;
	t->runs++;
	unsigned long n;
	for (n = 1; n <= MAX_N; n++) {
		set_current(d->name, path, n);
		t->leaks += run_once(d, data, size, n) != 0;
		t->runs++;
		if (!st.hit)
			break;
		t->failures_injected++;
	}
	if (n > MAX_N) {
		fprintf(stderr, "NOTE: %s %s: stopped after %d failed allocations\n", d->name, path,
			MAX_N);
		t->capped++;
	}
	free(data);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of dir, sorted (so that runs are repeatable); caller frees. */
static char **list_dir(const char *dir, size_t *count)
{
	DIR *dh = opendir(dir);
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	if (!dh)
		return NULL;
	while ((de = readdir(dh)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			char **nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				abort();
			v = nv;
		}
		if (!(v[n++] = strdup(de->d_name)))
			abort();
	}
	closedir(dh);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*count = n;
	return v;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s CORPUS_DIR [TARGET]\n", argv[0]);
		return 2;
	}
	log_set_level(LOG_ERROR); /* out-of-memory errors are expected by the thousand */
	catch_crashes();
	if (sftp_setup() != 0) {
		fprintf(stderr, "cannot set up the SFTP folder under /tmp\n");
		return 1;
	}
	size_t ntargets;
	char **targets = list_dir(argv[1], &ntargets);
	if (!targets || ntargets == 0) {
		fprintf(stderr, "no corpus directories in %s\n", argv[1]);
		return 1;
	}
	int bad = 0;
	for (size_t i = 0; i < ntargets; i++) {
		if (argc == 3 && strcmp(targets[i], argv[2]) != 0)
			continue;
		const struct driver *d = find_driver(targets[i]);
		if (!d) {
			fprintf(stderr, "FAIL: no driver or fuzz target for corpus %s\n",
				targets[i]);
			bad = 1;
			continue;
		}
		char dir[600];
		if (snprintf(dir, sizeof(dir), "%s/%s", argv[1], targets[i]) >= (int)sizeof(dir))
			continue;
		size_t nfiles;
		char **files = list_dir(dir, &nfiles);
		struct totals t = {0};
		for (size_t k = 0; files && k < nfiles; k++) {
			char path[1000];
			if (snprintf(path, sizeof(path), "%s/%s", dir, files[k]) <
			    (int)sizeof(path))
				run_input(d, path, &t);
		}
		free_list(files, files ? nfiles : 0);
		printf("%-24s %3lu inputs, %6lu runs, %6lu allocations failed, %lu leaking%s%s\n",
		       d->name, t.inputs, t.runs, t.failures_injected, t.leaks,
		       t.capped ? " (some inputs capped)" : "",
		       d->run ? "" : " (the fuzz target's entry point)");
		if (t.leaks)
			bad = 1;
	}
	free_list(targets, ntargets);
	sftp_teardown();
	printf("%s\n", bad ? "FAILED" : "all clean");
	return bad;
}
