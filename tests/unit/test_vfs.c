/* The VFS: path normalisation, the directory cache, the local backend under the VFS's
 * rules (confinement, cache mode off, --read-only, --no-seek, perms, hashing), and the round
 * trips a remote backend is spared (read-ahead, end of file, FSTAT after OPEN, close). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vfs/backend.h"
#include "vfs/dircache.h"
#include "vfs/vfs.h"

/* ---- paths ---- */

static void norm_ok(const char *in, const char *cwd, const char *want)
{
	char out[VFS_PATH_MAX];
	int n = vfs_path_normalize(in, strlen(in), cwd, out, sizeof(out));
	if (n < 0)
		fail_msg("normalize(%s) failed: %d", in, n);
	assert_string_equal(out, want);
	assert_int_equal((size_t)n, strlen(want));
}

static void test_path_normalize(void **state)
{
	(void)state;
	norm_ok("", "", "");
	norm_ok("/", "", "");
	norm_ok(".", "", "");
	norm_ok("..", "", "");
	norm_ok("/../../..", "", "");
	norm_ok("a/b/../c", "", "a/c");
	norm_ok("a//b/./c/", "", "a/b/c");
	norm_ok("../x", "d/e", "d/x");
	norm_ok("../../../x", "d/e", "x");
	norm_ok("/abs", "d/e", "abs");
	norm_ok("...", "", "...");
	norm_ok("a/..b", "", "a/..b");
	char out[16];
	/* embedded NUL, too long a component, too long a result */
	assert_int_equal(vfs_path_normalize("a\0b", 3, "", out, sizeof(out)), SMBG_ENAME);
	char longname[300];
	memset(longname, 'x', sizeof(longname));
	assert_int_equal(vfs_path_normalize(longname, 256, "", (char[512]){0}, 512), SMBG_ENAME);
	assert_int_equal(vfs_path_normalize(longname, 255, "", (char[512]){0}, 512), 255);
	assert_int_equal(vfs_path_normalize("abcdefghij/klmnop", 17, "", out, sizeof(out)),
			 SMBG_ENAME);
	assert_int_equal(vfs_path_normalize("abcdefghijklmno", 15, "", out, sizeof(out)), 15);
	size_t plen;
	assert_string_equal(vfs_path_base("a/b/c", &plen), "c");
	assert_int_equal(plen, 3);
	assert_string_equal(vfs_path_base("c", &plen), "c");
	assert_int_equal(plen, 0);
}

/* ---- directory cache ---- */

static struct vfs_dir *dir_of(const char *names[], int n)
{
	struct vfs_dir *d = calloc(1, sizeof(*d));
	d->refs = 1;
	d->ents = calloc((size_t)n, sizeof(*d->ents));
	d->names = malloc(4096);
	for (int i = 0; i < n; i++) {
		d->ents[i].name_off = (uint32_t)d->names_len;
		d->ents[i].name_len = (uint32_t)strlen(names[i]);
		d->ents[i].attr.size = (uint64_t)i + 1;
		strcpy(d->names + d->names_len, names[i]);
		d->names_len += strlen(names[i]) + 1;
	}
	d->n = (size_t)n;
	return d;
}

static void test_dircache(void **state)
{
	(void)state;
	struct dircache *dc = dircache_new(60, 3);
	const char *n1[] = {"a", "b", "c"};
	struct vfs_dir *d = dir_of(n1, 3);
	dircache_put(dc, "x/y", d);
	vfs_dir_put(d); /* the cache holds its own reference */
	struct vfs_attr a;
	assert_int_equal(dircache_lookup(dc, "x/y", 3, "b", &a), 1);
	assert_int_equal(a.size, 2);
	assert_int_equal(dircache_lookup(dc, "x/y", 3, "zz", &a), SMBG_ENOENT);
	assert_int_equal(dircache_lookup(dc, "x/z", 3, "b", &a), 0);
	struct vfs_dir *g = dircache_get(dc, "x/y");
	assert_non_null(g);
	assert_int_equal(g->n, 3);
	vfs_dir_put(g);
	/* a tree invalidation takes below, not siblings with the same prefix */
	dircache_put(dc, "x/yy", (d = dir_of(n1, 1)));
	vfs_dir_put(d);
	dircache_put(dc, "x/y/sub", (d = dir_of(n1, 2)));
	vfs_dir_put(d);
	dircache_invalidate_tree(dc, "x/y");
	assert_null(dircache_get(dc, "x/y"));
	assert_null(dircache_get(dc, "x/y/sub"));
	g = dircache_get(dc, "x/yy");
	assert_non_null(g);
	vfs_dir_put(g);
	/* bounded: the 4th listing pushes one out */
	for (int i = 0; i < 4; i++) {
		char p[8];
		snprintf(p, sizeof(p), "d%d", i);
		dircache_put(dc, p, (d = dir_of(n1, 1)));
		vfs_dir_put(d);
	}
	assert_int_equal(dircache_count(dc), 3);
	/* a requested flush (SIGHUP) empties it at the next use */
	dircache_request_flush(dc);
	assert_int_equal(dircache_count(dc), 0);
	dircache_free(dc);

	/* expiry */
	dc = dircache_new(1, 10);
	dircache_put(dc, "e", (d = dir_of(n1, 1)));
	vfs_dir_put(d);
	assert_int_equal(dircache_count(dc), 1);
	sleep(2);
	assert_null(dircache_get(dc, "e"));
	dircache_free(dc);
}

/* ---- the local backend through the VFS ---- */

struct done {
	int done;
	int rc;
	char msg[256];
};

static void cb(void *priv, int rc, const char *msg)
{
	struct done *d = priv;
	d->done = 1;
	d->rc = rc;
	snprintf(d->msg, sizeof(d->msg), "%s", msg ? msg : "");
}

#define RUN(c, call)                                                                               \
	({                                                                                         \
		struct done d_ = {0};                                                              \
		struct done *dp_ = &d_;                                                            \
		(void)dp_;                                                                         \
		int r_ = (call);                                                                   \
		assert_int_equal(r_, 0);                                                           \
		assert_int_equal(vfs_wait((c), &d_.done), 0);                                      \
		d_;                                                                                \
	})

struct local_rig {
	char dir[64];
	struct vfs *v;
	struct vfs_conn *c;
};

/* A rig over a fresh temp folder with the given backend ops (the local backend, possibly with
 * some ops replaced). */
static void lr_start_with(struct local_rig *r, const struct vfs_backend_ops *ops,
			  const struct vfs_opts *o)
{
	strcpy(r->dir, "/tmp/vfs-test-XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	char err[256];
	r->v = vfs_new_with(ops, r->dir, o, err, sizeof(err));
	assert_non_null(r->v);
	r->c = vfs_conn_new(r->v, err, sizeof(err));
	assert_non_null(r->c);
}

static void lr_start(struct local_rig *r, const struct vfs_opts *o)
{
	lr_start_with(r, &vfs_backend_local, o);
}

static void lr_stop(struct local_rig *r)
{
	vfs_conn_free(r->c);
	vfs_free(r->v);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
	assert_int_equal(system(cmd), 0);
}

static void lr_write(struct local_rig *r, const char *name, const char *s)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", r->dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(s, f);
	fclose(f);
}

static void test_local_listing_and_perms(void **state)
{
	(void)state;
	struct vfs_opts o;
	vfs_opts_default(&o);
	o.umask = 027;
	o.file_perms = 0666;
	o.dir_perms = 0777;
	o.uid = 1234;
	o.gid = 5678;
	struct local_rig r;
	lr_start(&r, &o);
	lr_write(&r, "b.txt", "12345");
	char p[256];
	snprintf(p, sizeof(p), "%s/a-dir", r.dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/link-out", r.dir);
	assert_int_equal(symlink("/etc", p), 0);
	snprintf(p, sizeof(p), "%s/link-in", r.dir);
	assert_int_equal(symlink("b.txt", p), 0);
	snprintf(p, sizeof(p), "%s/fifo", r.dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	struct vfs_dir *d = NULL;
	struct done x = RUN(r.c, vfs_readdir(r.c, "", &d, cb, dp_));
	assert_int_equal(x.rc, 0);
	/* sorted; the escaping link and the fifo are not shown */
	assert_int_equal(d->n, 3);
	assert_string_equal(vfs_dirent_name(d, 0), "a-dir");
	assert_string_equal(vfs_dirent_name(d, 1), "b.txt");
	assert_string_equal(vfs_dirent_name(d, 2), "link-in");
	assert_int_equal(d->ents[0].attr.mode, S_IFDIR | 0750);
	assert_int_equal(d->ents[1].attr.mode, S_IFREG | 0640);
	assert_int_equal(d->ents[1].attr.size, 5);
	assert_int_equal(d->ents[1].attr.uid, 1234);
	assert_int_equal(d->ents[1].attr.gid, 5678);
	assert_int_equal(d->ents[2].attr.size, 5);
	vfs_dir_put(d);
	/* stat from the cached listing, and a miss from it */
	struct vfs_attr a;
	x = RUN(r.c, vfs_stat(r.c, "b.txt", &a, cb, dp_));
	assert_int_equal(x.rc, 0);
	assert_int_equal(a.size, 5);
	x = RUN(r.c, vfs_stat(r.c, "link-out", &a, cb, dp_));
	assert_int_equal(x.rc, SMBG_ENOENT);
	lr_stop(&r);
}

static void test_local_confinement(void **state)
{
	(void)state;
	struct vfs_opts o;
	vfs_opts_default(&o);
	o.dir_cache_time = 0; /* straight to the backend */
	struct local_rig r;
	lr_start(&r, &o);
	char p[256];
	snprintf(p, sizeof(p), "%s/sub", r.dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/sub/up", r.dir);
	assert_int_equal(symlink("../..", p), 0);
	snprintf(p, sizeof(p), "%s/abs", r.dir);
	assert_int_equal(symlink("/tmp", p), 0);
	struct vfs_attr a;
	struct done x = RUN(r.c, vfs_stat(r.c, "sub/up", &a, cb, dp_));
	assert_int_equal(x.rc, SMBG_ENAME);
	x = RUN(r.c, vfs_stat(r.c, "abs", &a, cb, dp_));
	assert_int_equal(x.rc, SMBG_ENAME);
	/* creating through an escaping directory link fails too */
	struct vfs_file *f = NULL;
	x = RUN(r.c, vfs_open(r.c, "abs/escaped.txt", VFS_O_WRITE | VFS_O_CREAT, &f, cb, dp_));
	assert_true(x.rc < 0);
	assert_int_equal(access("/tmp/escaped.txt", F_OK), -1);
	x = RUN(r.c, vfs_mkdir(r.c, "sub/up/escaped-dir", cb, dp_));
	assert_true(x.rc < 0);
	x = RUN(r.c, vfs_rename(r.c, "sub", "abs/moved", 0, cb, dp_));
	assert_true(x.rc < 0);
	lr_stop(&r);
}

static void test_local_cache_mode_off_rules(void **state)
{
	(void)state;
	struct vfs_opts o;
	vfs_opts_default(&o);
	struct local_rig r;
	lr_start(&r, &o);
	lr_write(&r, "f", "0123456789");
	struct vfs_file *f = NULL;
	struct done x = RUN(r.c, vfs_open(r.c, "f", VFS_O_READ | VFS_O_WRITE, &f, cb, dp_));
	assert_int_equal(x.rc, SMBG_ENOTSUP);
	assert_non_null(strstr(x.msg, "--vfs-cache-mode"));
	/* setattr size: unchanged and 0 are fine, anything else is refused */
	struct vfs_setattr sa = {.valid = VFS_SET_SIZE, .size = 10};
	x = RUN(r.c, vfs_setattr(r.c, "f", &sa, cb, dp_));
	assert_int_equal(x.rc, 0);
	sa.size = 4;
	x = RUN(r.c, vfs_setattr(r.c, "f", &sa, cb, dp_));
	assert_int_equal(x.rc, SMBG_ENOTSUP);
	sa.size = 0;
	x = RUN(r.c, vfs_setattr(r.c, "f", &sa, cb, dp_));
	assert_int_equal(x.rc, 0);
	struct vfs_attr a;
	x = RUN(r.c, vfs_stat(r.c, "f", &a, cb, dp_));
	assert_int_equal(a.size, 0);
	/* times set on a file being written are applied at close */
	x = RUN(r.c, vfs_open(r.c, "g", VFS_O_WRITE | VFS_O_CREAT, &f, cb, dp_));
	assert_int_equal(x.rc, 0);
	struct vfs_setattr st = {.valid = VFS_SET_MTIME | VFS_SET_ATIME,
				 .atime = {1000000000, 0},
				 .mtime = {1000000000, 0}};
	x = RUN(r.c, vfs_fsetattr(r.c, f, &st, cb, dp_));
	assert_int_equal(x.rc, 0);
	x = RUN(r.c, vfs_write(r.c, f, "abc", 3, 0, cb, dp_));
	assert_int_equal(x.rc, 3);
	x = RUN(r.c, vfs_close(r.c, f, cb, dp_));
	assert_int_equal(x.rc, 0);
	char p[256];
	struct stat sb;
	snprintf(p, sizeof(p), "%s/g", r.dir);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mtime, 1000000000);
	assert_int_equal(sb.st_size, 3);
	lr_stop(&r);
}

static const char *lr_read(struct local_rig *r, const char *name)
{
	static char buf[256];
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", r->dir, name);
	FILE *f = fopen(p, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static struct vfs_file *lr_open(struct local_rig *r, const char *path, int flags)
{
	struct vfs_file *f = NULL;
	struct done x = RUN(r->c, vfs_open(r->c, path, flags, &f, cb, dp_));
	if (x.rc != 0)
		fail_msg("open %s: %d %s", path, x.rc, x.msg);
	return f;
}

static int lr_pwrite(struct local_rig *r, struct vfs_file *f, const char *s, uint64_t off)
{
	struct done x = RUN(r->c, vfs_write(r->c, f, s, strlen(s), off, cb, dp_));
	if (x.rc == SMBG_ENOTSUP)
		assert_non_null(strstr(x.msg, "written sequentially"));
	return x.rc;
}

static int lr_ftruncate(struct local_rig *r, struct vfs_file *f, uint64_t size)
{
	struct vfs_setattr sa = {.valid = VFS_SET_SIZE, .size = size};
	struct done x = RUN(r->c, vfs_fsetattr(r->c, f, &sa, cb, dp_));
	return x.rc;
}

static void lr_close(struct local_rig *r, struct vfs_file *f)
{
	struct done x = RUN(r->c, vfs_close(r->c, f, cb, dp_));
	assert_int_equal(x.rc, 0);
}

static int lr_exists(struct local_rig *r, const char *name)
{
	char p[VFS_PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s/%s", r->dir, name);
	return access(p, F_OK) == 0;
}

/* Atomic uploads: written under a hidden temporary name, renamed over the target at close;
 * a client that goes away leaves the data there and the next write-open without TRUNC
 * continues it; stale temporaries go when their folder is listed; --inplace opts out. */
static void test_local_atomic_upload(void **state)
{
	(void)state;
	struct vfs_opts o;
	vfs_opts_default(&o);
	struct local_rig r;
	lr_start(&r, &o);
	char tmp[VFS_PATH_MAX];
	assert_true(vfs_partial_name("d/up.bin", tmp, sizeof(tmp)) > 0);
	assert_int_equal(strncmp(tmp, "d/.up.bin.", 10), 0);
	const char *tb = vfs_path_base(tmp, NULL);
	assert_true(vfs_is_partial_name(tb, strlen(tb)));
	assert_false(vfs_is_partial_name("up.bin", 6));
	assert_false(vfs_is_partial_name(".x.partial", 10));
	assert_true(vfs_partial_name("up.bin", tmp, sizeof(tmp)) > 0);
	/* a name of 255 bytes still gets a temporary name that fits one component */
	char longname[256];
	memset(longname, 'n', 255);
	longname[255] = '\0';
	char ltmp[VFS_PATH_MAX];
	assert_true(vfs_partial_name(longname, ltmp, sizeof(ltmp)) == 255);

	lr_write(&r, "up.bin", "old");
	struct vfs_file *f = lr_open(&r, "up.bin", VFS_O_WRITE | VFS_O_CREAT | VFS_O_TRUNC);
	assert_int_equal(lr_pwrite(&r, f, "hello ", 0), 6);
	assert_string_equal(lr_read(&r, "up.bin"), "old"); /* untouched while uploading */
	assert_string_equal(lr_read(&r, tmp), "hello ");
	/* hidden from listings */
	struct vfs_dir *d = NULL;
	struct done x = RUN(r.c, vfs_readdir(r.c, "", &d, cb, dp_));
	assert_int_equal(x.rc, 0);
	assert_int_equal(d->n, 1);
	assert_string_equal(vfs_dirent_name(d, 0), "up.bin");
	vfs_dir_put(d);
	/* the client goes away: nothing is renamed */
	vfs_file_abandon(f);
	lr_close(&r, f);
	assert_string_equal(lr_read(&r, "up.bin"), "old");
	assert_string_equal(lr_read(&r, tmp), "hello ");
	/* resume (reput): no TRUNC continues the temporary, whose size the open reports */
	f = lr_open(&r, "up.bin", VFS_O_WRITE | VFS_O_CREAT | VFS_O_APPEND);
	struct vfs_attr a;
	x = RUN(r.c, vfs_fstat(r.c, f, &a, cb, dp_));
	assert_int_equal(a.size, 6);
	assert_int_equal(lr_pwrite(&r, f, "world", 6), 5);
	lr_close(&r, f);
	assert_string_equal(lr_read(&r, "up.bin"), "hello world");
	assert_false(lr_exists(&r, tmp));

	/* a new file: it does not exist until complete; STAT shows the interrupted upload */
	assert_true(vfs_partial_name("new.bin", tmp, sizeof(tmp)) > 0);
	f = lr_open(&r, "new.bin", VFS_O_WRITE | VFS_O_CREAT | VFS_O_TRUNC);
	assert_int_equal(lr_pwrite(&r, f, "abc", 0), 3);
	assert_false(lr_exists(&r, "new.bin"));
	vfs_file_abandon(f);
	lr_close(&r, f);
	assert_false(lr_exists(&r, "new.bin"));
	x = RUN(r.c, vfs_stat(r.c, "new.bin", &a, cb, dp_));
	assert_int_equal(x.rc, 0);
	assert_int_equal(a.size, 3);
	/* EXCL: the target must not exist (the temporary does not count) */
	x = RUN(r.c, vfs_open(r.c, "up.bin", VFS_O_WRITE | VFS_O_CREAT | VFS_O_EXCL, &f, cb, dp_));
	assert_int_equal(x.rc, SMBG_EEXIST);

	/* stale temporaries (older than a day) are removed when their folder is listed */
	lr_write(&r, ".gone.0badc0de.partial", "stale");
	char p[256];
	snprintf(p, sizeof(p), "%s/.gone.0badc0de.partial", r.dir);
	struct timespec old[2] = {{time(NULL) - 2 * 86400, 0}, {time(NULL) - 2 * 86400, 0}};
	assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);
	vfs_flush_caches(r.v);
	x = RUN(r.c, vfs_readdir(r.c, "", &d, cb, dp_));
	assert_int_equal(x.rc, 0);
	assert_int_equal(d->n, 1); /* up.bin; new.bin's temporary is young and hidden */
	vfs_dir_put(d);
	vfs_conn_run(r.c);
	assert_false(lr_exists(&r, ".gone.0badc0de.partial"));
	assert_true(lr_exists(&r, tmp));
	lr_stop(&r);

	/* --inplace: the target is written directly */
	o.inplace = 1;
	lr_start(&r, &o);
	f = lr_open(&r, "ip.bin", VFS_O_WRITE | VFS_O_CREAT | VFS_O_TRUNC);
	assert_int_equal(lr_pwrite(&r, f, "direct", 0), 6);
	assert_string_equal(lr_read(&r, "ip.bin"), "direct");
	lr_close(&r, f);
	lr_stop(&r);
}

/* ---- a backend that writes and reads short (a misbehaving server) ---- */

static void short_write(void *bc, struct vfs_op *op, void *fh, const void *buf, size_t len,
			uint64_t off)
{
	vfs_backend_local.write(bc, op, fh, buf, len > 1 ? len - 1 : len, off);
}

static void short_read(void *bc, struct vfs_op *op, void *fh, void *buf, size_t len, uint64_t off)
{
	vfs_backend_local.read(bc, op, fh, buf, len > 4 ? len / 2 : len, off);
}

/* A write the server takes short is an error (never a hole), and the upload it belongs to
 * is not renamed over its target; a read short of the request does not end the file early
 * (the cached end of file comes only from a read that reached the size the open saw). */
static void test_short_io(void **state)
{
	(void)state;
	static struct vfs_backend_ops ops;
	ops = vfs_backend_local;
	ops.write = short_write;
	ops.read = short_read;
	struct vfs_opts o;
	vfs_opts_default(&o);
	struct local_rig r;
	lr_start_with(&r, &ops, &o);
	struct vfs_file *f = lr_open(&r, "w", VFS_O_WRITE | VFS_O_CREAT | VFS_O_TRUNC);
	struct done x = RUN(r.c, vfs_write(r.c, f, "abcd", 4, 0, cb, dp_));
	assert_int_equal(x.rc, SMBG_EIO);
	assert_non_null(strstr(x.msg, "short write"));
	x = RUN(r.c, vfs_close(r.c, f, cb, dp_));
	assert_int_equal(x.rc, SMBG_EIO);
	assert_non_null(strstr(x.msg, "upload failed"));
	assert_false(lr_exists(&r, "w"));

	lr_write(&r, "r", "0123456789");
	f = lr_open(&r, "r", VFS_O_READ);
	char buf[16];
	x = RUN(r.c, vfs_read(r.c, f, buf, 10, 0, cb, dp_));
	assert_int_equal(x.rc, 5);
	x = RUN(r.c, vfs_read(r.c, f, buf, 5, 5, cb, dp_));
	assert_true(x.rc > 0); /* not an end of file */
	assert_memory_equal(buf, "56", 2);
	lr_close(&r, f);
	lr_stop(&r);
}

static void fstat_fails(void *bc, struct vfs_op *op, void *fh, struct vfs_battr *out)
{
	(void)bc;
	(void)fh;
	(void)out;
	vfs_op_done(op, SMBG_EIO, "fstat refused by the test");
}

/* Cache mode off without TRUNC: resume at the end, rewrite from 0, APPEND; sequential only. */
static void test_local_resume_and_append(void **state)
{
	(void)state;
	struct vfs_opts o;
	vfs_opts_default(&o);
	struct local_rig r;
	lr_start(&r, &o);
	lr_write(&r, "f", "01234");
	/* a resume: the first write at the size the file had, the next ones in sequence */
	struct vfs_file *f = lr_open(&r, "f", VFS_O_WRITE);
	assert_string_equal(lr_read(&r, "f"), "01234");
	assert_int_equal(lr_pwrite(&r, f, "x", 2), SMBG_ENOTSUP); /* neither 0 nor the end */
	assert_int_equal(lr_pwrite(&r, f, "56", 5), 2);
	assert_int_equal(lr_pwrite(&r, f, "x", 8), SMBG_ENOTSUP); /* a gap */
	assert_int_equal(lr_pwrite(&r, f, "x", 5), SMBG_ENOTSUP); /* going back */
	assert_int_equal(lr_ftruncate(&r, f, 3), SMBG_ENOTSUP);
	assert_int_equal(lr_ftruncate(&r, f, 7), 0); /* its length already: nothing to do */
	assert_int_equal(lr_pwrite(&r, f, "789", 7), 3);
	lr_close(&r, f);
	assert_string_equal(lr_read(&r, "f"), "0123456789");
	/* rewritten from 0 in place, then cut where the writing ended */
	f = lr_open(&r, "f", VFS_O_WRITE);
	assert_int_equal(lr_pwrite(&r, f, "ab", 0), 2);
	assert_int_equal(lr_pwrite(&r, f, "x", 10), SMBG_ENOTSUP);
	assert_string_equal(lr_read(&r, "f"), "ab23456789");
	assert_int_equal(lr_ftruncate(&r, f, 5), SMBG_ENOTSUP);
	assert_int_equal(lr_ftruncate(&r, f, 2), 0);
	assert_int_equal(lr_pwrite(&r, f, "c", 2), 1);
	lr_close(&r, f);
	assert_string_equal(lr_read(&r, "f"), "abc");
	/* emptied before the first write */
	f = lr_open(&r, "f", VFS_O_WRITE);
	assert_int_equal(lr_ftruncate(&r, f, 0), 0);
	assert_int_equal(lr_pwrite(&r, f, "x", 3), SMBG_ENOTSUP);
	assert_int_equal(lr_pwrite(&r, f, "xyz", 0), 3);
	lr_close(&r, f);
	assert_string_equal(lr_read(&r, "f"), "xyz");
	/* APPEND: at the end whatever the offset, in the order the writes come */
	f = lr_open(&r, "f", VFS_O_WRITE | VFS_O_APPEND);
	assert_int_equal(vfs_file_flags(f) & VFS_O_APPEND, VFS_O_APPEND);
	assert_int_equal(lr_pwrite(&r, f, "1", 0), 1);
	assert_int_equal(lr_pwrite(&r, f, "2", 99), 1);
	assert_int_equal(lr_pwrite(&r, f, "3", 1), 1);
	assert_int_equal(lr_ftruncate(&r, f, 1), SMBG_ENOTSUP);
	assert_int_equal(lr_ftruncate(&r, f, 6), 0);
	lr_close(&r, f);
	assert_string_equal(lr_read(&r, "f"), "xyz123");
	/* a new file with CREAT */
	f = lr_open(&r, "n", VFS_O_WRITE | VFS_O_APPEND | VFS_O_CREAT);
	assert_int_equal(lr_pwrite(&r, f, "a", 7), 1);
	assert_int_equal(lr_pwrite(&r, f, "b", 0), 1);
	lr_close(&r, f);
	assert_string_equal(lr_read(&r, "n"), "ab");
	/* TRUNC|APPEND: from an empty file */
	f = lr_open(&r, "n", VFS_O_WRITE | VFS_O_APPEND | VFS_O_TRUNC);
	assert_int_equal(lr_pwrite(&r, f, "c", 5), 1);
	lr_close(&r, f);
	assert_string_equal(lr_read(&r, "n"), "c");
	/* TRUNC: the first write is at 0; the file keeps its content until the new one is
	 * complete (an atomic upload, renamed over it at close) */
	f = lr_open(&r, "f", VFS_O_WRITE | VFS_O_TRUNC);
	assert_string_equal(lr_read(&r, "f"), "xyz123");
	assert_int_equal(lr_pwrite(&r, f, "q", 6), SMBG_ENOTSUP);
	assert_int_equal(lr_pwrite(&r, f, "q", 0), 1);
	lr_close(&r, f);
	assert_string_equal(lr_read(&r, "f"), "q");
	/* read+write stays refused, with APPEND too */
	struct done x = RUN(r.c, vfs_open(r.c, "f", VFS_O_READ | VFS_O_APPEND, &f, cb, dp_));
	assert_int_equal(x.rc, SMBG_ENOTSUP);
	lr_stop(&r);

	/* --read-only refuses APPEND opens */
	o.read_only = 1;
	lr_start(&r, &o);
	lr_write(&r, "f", "0");
	x = RUN(r.c, vfs_open(r.c, "f", VFS_O_APPEND, &f, cb, dp_));
	assert_int_equal(x.rc, SMBG_EROFS);
	assert_string_equal(lr_read(&r, "f"), "0");
	lr_stop(&r);

	/* the open's own answer says where the file ends: no FSTAT is asked (one that would
	 * fail does not matter), the first write may still go to the end */
	o.read_only = 0;
	struct vfs_backend_ops ops = vfs_backend_local;
	ops.fstat = fstat_fails;
	lr_start_with(&r, &ops, &o);
	lr_write(&r, "f", "01234");
	int fds = count_fds();
	f = lr_open(&r, "f", VFS_O_WRITE);
	assert_int_equal(lr_pwrite(&r, f, "x", 4), SMBG_ENOTSUP); /* not the end */
	assert_int_equal(lr_pwrite(&r, f, "56", 5), 2);
	lr_close(&r, f);
	assert_string_equal(lr_read(&r, "f"), "0123456");
	assert_int_equal(count_fds(), fds);
	assert_int_equal(vfs_conn_inflight(r.c), 0);
	/* with TRUNC the size is 0 */
	f = lr_open(&r, "f", VFS_O_WRITE | VFS_O_TRUNC);
	assert_int_equal(lr_pwrite(&r, f, "x", 7), SMBG_ENOTSUP);
	assert_int_equal(lr_pwrite(&r, f, "x", 0), 1);
	lr_close(&r, f);
	assert_string_equal(lr_read(&r, "f"), "x");
	assert_int_equal(count_fds(), fds);
	lr_stop(&r);
}

static void test_local_read_only_and_no_seek(void **state)
{
	(void)state;
	struct vfs_opts o;
	vfs_opts_default(&o);
	o.read_only = 1;
	o.no_seek = 1;
	struct local_rig r;
	lr_start(&r, &o);
	lr_write(&r, "f", "0123456789");
	struct vfs_file *f = NULL;
	struct done x = RUN(r.c, vfs_open(r.c, "f", VFS_O_WRITE, &f, cb, dp_));
	assert_int_equal(x.rc, SMBG_EROFS);
	x = RUN(r.c, vfs_unlink(r.c, "f", cb, dp_));
	assert_int_equal(x.rc, SMBG_EROFS);
	x = RUN(r.c, vfs_mkdir(r.c, "d", cb, dp_));
	assert_int_equal(x.rc, SMBG_EROFS);
	struct vfs_statfs sf;
	x = RUN(r.c, vfs_statfs(r.c, "", &sf, cb, dp_));
	assert_int_equal(x.rc, 0);
	assert_int_equal(sf.read_only, 1);
	x = RUN(r.c, vfs_open(r.c, "f", VFS_O_READ, &f, cb, dp_));
	assert_int_equal(x.rc, 0);
	char buf[16];
	x = RUN(r.c, vfs_read(r.c, f, buf, 4, 0, cb, dp_));
	assert_int_equal(x.rc, 4);
	x = RUN(r.c, vfs_read(r.c, f, buf, 4, 4, cb, dp_));
	assert_int_equal(x.rc, 4);
	x = RUN(r.c, vfs_read(r.c, f, buf, 4, 0, cb, dp_)); /* back: a seek */
	assert_int_equal(x.rc, SMBG_ENOTSUP);
	assert_non_null(strstr(x.msg, "--no-seek"));
	x = RUN(r.c, vfs_close(r.c, f, cb, dp_));
	assert_int_equal(x.rc, 0);
	lr_stop(&r);
}

static void test_local_hash(void **state)
{
	(void)state;
	struct vfs_opts o;
	vfs_opts_default(&o);
	struct local_rig r;
	lr_start(&r, &o);
	lr_write(&r, "abc", "abc");
	/* a file of several read chunks: 3 MiB + 1 byte of 'a' */
	char p[256];
	snprintf(p, sizeof(p), "%s/big", r.dir);
	FILE *fp = fopen(p, "w");
	for (int i = 0; i < 3 * 1024 * 1024 + 1; i++)
		fputc('a', fp);
	fclose(fp);
	uint8_t dg[VFS_HASH_MAX];
	size_t dl = 0;
	struct done x = RUN(r.c, vfs_hash(r.c, "abc", VFS_HASH_MD5, dg, &dl, cb, dp_));
	assert_int_equal(x.rc, 0);
	assert_int_equal(dl, 16);
	/* RFC 1321: MD5("abc") */
	const uint8_t md5_abc[16] = {0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0,
				     0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1, 0x7f, 0x72};
	assert_memory_equal(dg, md5_abc, 16);
	x = RUN(r.c, vfs_hash(r.c, "abc", VFS_HASH_SHA1, dg, &dl, cb, dp_));
	assert_int_equal(dl, 20);
	/* FIPS 180: SHA-1("abc") begins a9993e36 */
	assert_int_equal(dg[0], 0xa9);
	assert_int_equal(dg[1], 0x99);
	x = RUN(r.c, vfs_hash(r.c, "big", VFS_HASH_SHA256, dg, &dl, cb, dp_));
	assert_int_equal(x.rc, 0);
	assert_int_equal(dl, 32);
	/* compare with coreutils */
	char cmd[300], want[80];
	snprintf(cmd, sizeof(cmd), "sha256sum %s/big", r.dir);
	FILE *pp = popen(cmd, "r");
	assert_non_null(fgets(want, sizeof(want), pp));
	pclose(pp);
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", dg[i]);
	assert_memory_equal(hex, want, 64);
	x = RUN(r.c, vfs_hash(r.c, "missing", VFS_HASH_MD5, dg, &dl, cb, dp_));
	assert_int_equal(x.rc, SMBG_ENOENT);
	assert_int_equal(vfs_conn_inflight(r.c), 0);
	lr_stop(&r);

	o.no_checksum = 1;
	lr_start(&r, &o);
	lr_write(&r, "abc", "abc");
	x = RUN(r.c, vfs_hash(r.c, "abc", VFS_HASH_MD5, dg, &dl, cb, dp_));
	assert_int_equal(x.rc, SMBG_ENOTSUP);
	lr_stop(&r);
}

/* ---- round trips a remote backend is spared: the local backend dressed as a remote one,
 * counting what reaches it and holding reads until the loop services it ---- */

static struct {
	int reads, fstats, closes, closes_nowait;
	int hold; /* reads wait for rt_service */
	struct {
		struct vfs_op *op;
		void *fh, *buf;
		size_t len;
		uint64_t off;
	} held[8];
	int nheld;
	int fd; /* /dev/null: always readable, so vfs_wait services the backend */
} rt;

static unsigned rt_caps(void *bs)
{
	return vfs_backend_local.caps(bs) | VFS_CAP_REMOTE;
}

static void rt_read(void *bc, struct vfs_op *op, void *fh, void *buf, size_t len, uint64_t off)
{
	rt.reads++;
	if (rt.hold) {
		assert_true(rt.nheld < 8);
		rt.held[rt.nheld].op = op;
		rt.held[rt.nheld].fh = fh;
		rt.held[rt.nheld].buf = buf;
		rt.held[rt.nheld].len = len;
		rt.held[rt.nheld].off = off;
		rt.nheld++;
		return;
	}
	vfs_backend_local.read(bc, op, fh, buf, len, off);
}

static int rt_pollfd(void *bc, struct pollfd *pfd)
{
	(void)bc;
	pfd->fd = rt.fd;
	pfd->events = POLLIN;
	return rt.nheld > 0;
}

static int rt_service(void *bc, short revents)
{
	(void)revents;
	for (int i = 0; i < rt.nheld; i++)
		vfs_backend_local.read(bc, rt.held[i].op, rt.held[i].fh, rt.held[i].buf,
				       rt.held[i].len, rt.held[i].off);
	rt.nheld = 0;
	return 0;
}

static void rt_fstat(void *bc, struct vfs_op *op, void *fh, struct vfs_battr *out)
{
	rt.fstats++;
	vfs_backend_local.fstat(bc, op, fh, out);
}

static void rt_close(void *bc, struct vfs_op *op, void *fh)
{
	rt.closes++;
	vfs_backend_local.close(bc, op, fh);
}

static void rt_close_nowait(void *bc, void *fh)
{
	(void)bc;
	rt.closes_nowait++;
	close((int)((intptr_t)fh - 1)); /* the local backend's handle is its fd + 1 */
}

static void test_remote_round_trips(void **state)
{
	(void)state;
	static struct vfs_backend_ops ops;
	ops = vfs_backend_local;
	ops.caps = rt_caps;
	ops.read = rt_read;
	ops.fstat = rt_fstat;
	ops.close = rt_close;
	ops.close_nowait = rt_close_nowait;
	ops.conn_pollfd = rt_pollfd;
	ops.conn_service = rt_service;
	memset(&rt, 0, sizeof(rt));
	rt.fd = open("/dev/null", O_RDONLY);
	assert_true(rt.fd >= 0);
	struct vfs_opts o;
	vfs_opts_default(&o);
	o.inplace = 1; /* writers change the file the readers have open */
	struct local_rig r;
	lr_start_with(&r, &ops, &o);
	lr_write(&r, "s", "hello");
	int fds = count_fds();
	char buf[64];
	struct vfs_attr a;

	/* a small file is read ahead at open; a READ that comes meanwhile waits for it */
	rt.hold = 1;
	struct vfs_file *f = lr_open(&r, "s", VFS_O_READ);
	assert_int_equal(rt.reads, 1);
	struct done x = {0};
	assert_int_equal(vfs_read(r.c, f, buf, sizeof(buf), 0, cb, &x), 0);
	vfs_conn_run(r.c);
	assert_int_equal(x.done, 0);
	assert_int_equal(rt.reads, 1); /* not sent: the read-ahead answers it */
	assert_int_equal(vfs_wait(r.c, &x.done), 0);
	assert_int_equal(x.rc, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(rt.reads, 1);
	rt.hold = 0;
	/* the read-ahead came back short: the end of the file is known, for one read */
	x = RUN(r.c, vfs_read(r.c, f, buf, sizeof(buf), 5, cb, dp_));
	assert_int_equal(x.rc, 0);
	assert_int_equal(rt.reads, 1);
	x = RUN(r.c, vfs_read(r.c, f, buf, sizeof(buf), 5, cb, dp_));
	assert_int_equal(x.rc, 0);
	assert_int_equal(rt.reads, 2); /* a reader polling the end asks the server again */
	/* the FSTAT after OPEN: the open's answer, once */
	x = RUN(r.c, vfs_fstat(r.c, f, &a, cb, dp_));
	assert_int_equal(x.rc, 0);
	assert_int_equal(a.size, 5);
	assert_int_equal(rt.fstats, 0);
	x = RUN(r.c, vfs_fstat(r.c, f, &a, cb, dp_));
	assert_int_equal(a.size, 5);
	assert_int_equal(rt.fstats, 1);
	/* opened for reading only: closed without waiting for the answer */
	lr_close(&r, f);
	assert_int_equal(rt.closes_nowait, 1);
	assert_int_equal(rt.closes, 0);
	assert_int_equal(count_fds(), fds);

	/* a CLOSE that comes while the read-ahead is out waits for it */
	rt.hold = 1;
	f = lr_open(&r, "s", VFS_O_READ);
	x = (struct done){0};
	assert_int_equal(vfs_close(r.c, f, cb, &x), 0);
	vfs_conn_run(r.c);
	assert_int_equal(x.done, 0);
	assert_int_equal(rt.closes_nowait, 1);
	assert_int_equal(vfs_wait(r.c, &x.done), 0);
	assert_int_equal(x.rc, 0);
	assert_int_equal(rt.closes_nowait, 2);
	assert_int_equal(count_fds(), fds);
	assert_int_equal(vfs_conn_inflight(r.c), 0);
	rt.hold = 0;

	/* the file changed between two opens: the second open's answer is the new one */
	f = lr_open(&r, "s", VFS_O_READ);
	x = RUN(r.c, vfs_fstat(r.c, f, &a, cb, dp_));
	assert_int_equal(a.size, 5);
	lr_close(&r, f);
	lr_write(&r, "s", "hello, world");
	f = lr_open(&r, "s", VFS_O_READ);
	x = RUN(r.c, vfs_fstat(r.c, f, &a, cb, dp_));
	assert_int_equal(a.size, 12);
	x = RUN(r.c, vfs_read(r.c, f, buf, sizeof(buf), 0, cb, dp_));
	assert_int_equal(x.rc, 12);
	assert_memory_equal(buf, "hello, world", 12);
	lr_close(&r, f);

	/* a change made through the VFS, on any connection, drops what was learned before */
	f = lr_open(&r, "s", VFS_O_READ); /* read ahead: "hello, world" */
	char err[256];
	struct vfs_conn *c2 = vfs_conn_new(r.v, err, sizeof(err));
	assert_non_null(c2);
	struct vfs_file *w = NULL;
	x = RUN(c2, vfs_open(c2, "s", VFS_O_WRITE | VFS_O_TRUNC, &w, cb, dp_));
	assert_int_equal(x.rc, 0);
	x = RUN(c2, vfs_write(c2, w, "HELLO", 5, 0, cb, dp_));
	assert_int_equal(x.rc, 5);
	x = RUN(c2, vfs_close(c2, w, cb, dp_));
	assert_int_equal(x.rc, 0);
	assert_int_equal(rt.closes, 1); /* a writer's close is waited for */
	vfs_conn_free(c2);
	int reads = rt.reads, fstats = rt.fstats;
	x = RUN(r.c, vfs_read(r.c, f, buf, sizeof(buf), 0, cb, dp_));
	assert_int_equal(x.rc, 5);
	assert_memory_equal(buf, "HELLO", 5);
	assert_int_equal(rt.reads, reads + 1);
	x = RUN(r.c, vfs_fstat(r.c, f, &a, cb, dp_));
	assert_int_equal(a.size, 5);
	assert_int_equal(rt.fstats, fstats + 1);
	lr_close(&r, f);

	/* what was learned goes stale after a moment (a change made outside the VFS) */
	f = lr_open(&r, "s", VFS_O_READ); /* read ahead: "HELLO" */
	lr_write(&r, "s", "bye");
	usleep(1200 * 1000);
	x = RUN(r.c, vfs_fstat(r.c, f, &a, cb, dp_));
	assert_int_equal(a.size, 3);
	x = RUN(r.c, vfs_read(r.c, f, buf, sizeof(buf), 0, cb, dp_));
	assert_int_equal(x.rc, 3);
	assert_memory_equal(buf, "bye", 3);
	lr_close(&r, f);

	/* a bigger file is not read ahead; its end is learnt from a short read */
	size_t big = 100 * 1024;
	char *bb = calloc(1, 2 * big);
	char p[300];
	snprintf(p, sizeof(p), "%s/big", r.dir);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(bb, 1, big, fp), big);
	fclose(fp);
	reads = rt.reads;
	f = lr_open(&r, "big", VFS_O_READ);
	assert_int_equal(rt.reads, reads);
	x = RUN(r.c, vfs_read(r.c, f, bb, 2 * big, 0, cb, dp_));
	assert_int_equal(x.rc, (int)big);
	x = RUN(r.c, vfs_read(r.c, f, bb, big, big, cb, dp_));
	assert_int_equal(x.rc, 0);
	assert_int_equal(rt.reads, reads + 1);
	lr_close(&r, f);
	free(bb);

	assert_int_equal(count_fds(), fds);
	assert_int_equal(vfs_conn_inflight(r.c), 0);
	lr_stop(&r);
	close(rt.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path_normalize),
	    cmocka_unit_test(test_dircache),
	    cmocka_unit_test(test_local_listing_and_perms),
	    cmocka_unit_test(test_local_confinement),
	    cmocka_unit_test(test_local_cache_mode_off_rules),
	    cmocka_unit_test(test_local_resume_and_append),
	    cmocka_unit_test(test_local_atomic_upload),
	    cmocka_unit_test(test_short_io),
	    cmocka_unit_test(test_local_read_only_and_no_seek),
	    cmocka_unit_test(test_local_hash),
	    cmocka_unit_test(test_remote_round_trips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
