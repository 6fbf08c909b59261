/* The local-folder backend. Every path is resolved below the root's directory fd with
 * openat2(RESOLVE_BENEATH): `..`, absolute symlinks and symlinks that lead out of the root
 * fail (EXDEV -> SMBG_ENAME) in the kernel, race-free. Kernels without openat2 get a walk
 * that opens one component at a time with O_NOFOLLOW (no symlinks at all then).
 *
 * Operations are synchronous (the page cache answers faster than any hand-off to a thread
 * would cost); each completes its vfs_op before returning. Only regular files and
 * directories are shown; other file types are skipped. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"
#include "vfs/backend.h"

struct local {
	int rootfd; /* O_PATH | O_DIRECTORY */
	int have_openat2;
};

/* A file handle is the fd + 1, so that no handle is NULL. */
static int fh_fd(void *fh)
{
	return (int)((intptr_t)fh - 1);
}

static void *fd_fh(int fd)
{
	return (void *)((intptr_t)fd + 1);
}

static int sys_openat2(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how;
	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	for (int tries = 0;; tries++) {
		long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		/* EAGAIN: a concurrent rename raced the `..` check; the kernel asks to retry */
		if (fd < 0 && (errno == EAGAIN || errno == EINTR) && tries < 16)
			continue;
		return (int)fd;
	}
}

/* The fallback walk: every component but the last is a directory opened with O_NOFOLLOW. */
static int walk_open(int rootfd, const char *path, int flags, mode_t mode)
{
	int dfd = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	const char *p = path;
	for (;;) {
		const char *slash = strchr(p, '/');
		if (!slash)
			break;
		char comp[NAME_MAX + 1];
		size_t n = (size_t)(slash - p);
		if (n == 0 || n > NAME_MAX) {
			close(dfd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		int nfd = openat(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		close(dfd);
		if (nfd < 0) {
			errno = e;
			return -1;
		}
		dfd = nfd;
		p = slash + 1;
	}
	int fd = openat(dfd, *p ? p : ".", flags | O_NOFOLLOW | O_CLOEXEC, mode);
	int e = errno;
	close(dfd);
	errno = e;
	return fd;
}

static int resolve(struct local *l, const char *path, int flags, mode_t mode)
{
	if (l->have_openat2)
		return sys_openat2(l->rootfd, path[0] ? path : ".", flags, mode);
	return walk_open(l->rootfd, path, flags, mode);
}

/* Opens the parent directory of path; *base points into path. */
static int resolve_parent(struct local *l, const char *path, const char **base)
{
	size_t plen;
	*base = vfs_path_base(path, &plen);
	char buf[VFS_PATH_MAX];
	if (plen >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, plen);
	buf[plen] = '\0';
	return resolve(l, buf, O_PATH | O_DIRECTORY, 0);
}

static void battr_from_stat(const struct stat *st, struct vfs_battr *a)
{
	memset(a, 0, sizeof(*a));
	a->is_dir = S_ISDIR(st->st_mode);
	a->size = a->is_dir ? 0 : (uint64_t)st->st_size;
	a->nlink = (uint32_t)st->st_nlink;
	a->atime = st->st_atim;
	a->mtime = st->st_mtim;
}

static void done_errno(struct vfs_op *op, int e)
{
	vfs_op_done(op, vfs_err_from_errno(e), NULL);
}

/* ---- shared state ---- */

static void *local_init(const char *remote, const struct vfs_opts *o, char *err, size_t errlen)
{
	struct local *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	(void)o;
	l->rootfd = open(remote, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (l->rootfd < 0) {
		snprintf(err, errlen, "cannot open local folder %s: %s", remote, strerror(errno));
		free(l);
		return NULL;
	}
	int fd = sys_openat2(l->rootfd, ".", O_PATH | O_DIRECTORY, 0);
	if (fd >= 0) {
		l->have_openat2 = 1;
		close(fd);
	} else {
		log_warn("openat2 is not available (%s): symlinks inside %s will not be followed",
			 strerror(errno), remote);
	}
	return l;
}

static void local_fini(void *bs)
{
	struct local *l = bs;
	if (!l)
		return;
	close(l->rootfd);
	free(l);
}

static unsigned local_caps(void *bs)
{
	(void)bs;
	return VFS_CAP_HARDLINK | VFS_CAP_FSYNC;
}

static size_t local_io_size(void *bs)
{
	(void)bs;
	return 1u << 20;
}

/* No per-connection state: the shared root fd is only ever read. */
static void *local_conn_open(void *bs, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return bs;
}

static void local_conn_close(void *bc)
{
	(void)bc;
}

/* ---- operations ---- */

static void local_stat(void *bc, struct vfs_op *op, const char *path, struct vfs_battr *out)
{
	struct local *l = bc;
	int fd = resolve(l, path, O_PATH, 0);
	if (fd < 0)
		return done_errno(op, errno);
	struct stat st;
	int r = fstat(fd, &st);
	int e = errno;
	close(fd);
	if (r < 0)
		return done_errno(op, e);
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return vfs_op_done(op, SMBG_ENOENT, "not a regular file or directory");
	battr_from_stat(&st, out);
	vfs_op_done(op, 0, NULL);
}

static void local_readdir(void *bc, struct vfs_op *op, const char *path, struct vfs_dir *out)
{
	struct local *l = bc;
	int fd = resolve(l, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return done_errno(op, errno);
	DIR *dir = fdopendir(fd);
	if (!dir) {
		int e = errno;
		close(fd);
		return done_errno(op, e);
	}
	size_t plen = strlen(path);
	char full[VFS_PATH_MAX];
	int rc = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(dir)) != NULL) {
		const char *name = de->d_name;
		if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
			continue;
		struct stat st;
		if (fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		if (S_ISLNK(st.st_mode)) {
			/* follow it, but only within the root */
			size_t nl = strlen(name);
			if (plen + 1 + nl >= sizeof(full))
				continue;
			int n = snprintf(full, sizeof(full), "%s%s%s", path, plen ? "/" : "", name);
			if (n < 0 || (size_t)n >= sizeof(full))
				continue;
			int lfd = resolve(l, full, O_PATH, 0);
			if (lfd < 0) {
				log_debug("skipping symlink %s: %s", full, strerror(errno));
				continue;
			}
			int r = fstat(lfd, &st);
			close(lfd);
			if (r < 0)
				continue;
		}
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			continue;
		struct vfs_battr a;
		battr_from_stat(&st, &a);
		rc = vfs_dir_add(out, name, strlen(name), &a);
		if (rc < 0)
			break;
		errno = 0;
	}
	if (rc == 0 && errno != 0)
		rc = vfs_err_from_errno(errno);
	closedir(dir);
	vfs_op_done(op, rc, NULL);
}

static void local_open(void *bc, struct vfs_op *op, const char *path, int flags, void **fh,
		       struct vfs_battr *attr)
{
	struct local *l = bc;
	int o;
	if ((flags & VFS_O_READ) && (flags & VFS_O_WRITE))
		o = O_RDWR;
	else if (flags & VFS_O_WRITE)
		o = O_WRONLY;
	else
		o = O_RDONLY;
	if (flags & VFS_O_CREAT)
		o |= O_CREAT;
	if (flags & VFS_O_EXCL)
		o |= O_EXCL;
	if (flags & VFS_O_TRUNC)
		o |= O_TRUNC;
	/* O_NONBLOCK: opening a FIFO must not hang the connection; it is refused below */
	int fd = resolve(l, path, o | O_NONBLOCK | O_NOCTTY, 0666);
	if (fd < 0)
		return done_errno(op, errno);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return done_errno(op, e);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		if (S_ISDIR(st.st_mode))
			return vfs_op_done(op, SMBG_EISDIR, NULL);
		return vfs_op_done(op, SMBG_EACCES, "not a regular file");
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	battr_from_stat(&st, attr);
	*fh = fd_fh(fd);
	vfs_op_done(op, 0, NULL);
}

static void local_read(void *bc, struct vfs_op *op, void *fh, void *buf, size_t len, uint64_t off)
{
	(void)bc;
	int fd = fh_fd(fh);
	size_t got = 0;
	if (off > (uint64_t)INT64_MAX)
		return vfs_op_done(op, 0, NULL);
	if (len > INT_MAX)
		len = INT_MAX;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (got)
				break;
			return done_errno(op, errno);
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	vfs_op_done(op, (int)got, NULL);
}

static void local_write(void *bc, struct vfs_op *op, void *fh, const void *buf, size_t len,
			uint64_t off)
{
	(void)bc;
	int fd = fh_fd(fh);
	size_t put = 0;
	if (len > INT_MAX || off > (uint64_t)INT64_MAX - len)
		return vfs_op_done(op, SMBG_EINVAL, "offset or length out of range");
	while (put < len) {
		ssize_t n = pwrite(fd, (const char *)buf + put, len - put, (off_t)(off + put));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return done_errno(op, errno);
		}
		put += (size_t)n;
	}
	vfs_op_done(op, (int)put, NULL);
}

static void local_fstat(void *bc, struct vfs_op *op, void *fh, struct vfs_battr *out)
{
	(void)bc;
	struct stat st;
	if (fstat(fh_fd(fh), &st) < 0)
		return done_errno(op, errno);
	battr_from_stat(&st, out);
	vfs_op_done(op, 0, NULL);
}

static void local_truncate(void *bc, struct vfs_op *op, void *fh, uint64_t size)
{
	(void)bc;
	if (size > (uint64_t)INT64_MAX)
		return vfs_op_done(op, SMBG_EINVAL, NULL);
	if (ftruncate(fh_fd(fh), (off_t)size) < 0)
		return done_errno(op, errno);
	vfs_op_done(op, 0, NULL);
}

static void times_from(const struct vfs_setattr *sa, struct timespec ts[2])
{
	ts[0] = (sa->valid & VFS_SET_ATIME) ? sa->atime : (struct timespec){0, UTIME_OMIT};
	ts[1] = (sa->valid & VFS_SET_MTIME) ? sa->mtime : (struct timespec){0, UTIME_OMIT};
}

static void local_setattr(void *bc, struct vfs_op *op, const char *path, void *fh,
			  const struct vfs_setattr *sa)
{
	struct local *l = bc;
	struct timespec ts[2];
	times_from(sa, ts);
	if (fh) {
		if (futimens(fh_fd(fh), ts) < 0)
			return done_errno(op, errno);
		return vfs_op_done(op, 0, NULL);
	}
	/* Resolve safely (following symlinks within the root), then set the times through the
	 * O_PATH fd's /proc link, which utimensat accepts. */
	int fd = resolve(l, path, O_PATH, 0);
	if (fd < 0)
		return done_errno(op, errno);
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	int r = utimensat(AT_FDCWD, proc, ts, 0);
	int e = errno;
	close(fd);
	if (r < 0)
		return done_errno(op, e);
	vfs_op_done(op, 0, NULL);
}

static void local_fsync(void *bc, struct vfs_op *op, void *fh)
{
	(void)bc;
	if (fsync(fh_fd(fh)) < 0)
		return done_errno(op, errno);
	vfs_op_done(op, 0, NULL);
}

static void local_close(void *bc, struct vfs_op *op, void *fh)
{
	(void)bc;
	/* close(2) errors (NFS write-back) are still worth reporting; the fd is gone anyway */
	if (close(fh_fd(fh)) < 0 && errno != EINTR)
		return done_errno(op, errno);
	vfs_op_done(op, 0, NULL);
}

static void local_mkdir(void *bc, struct vfs_op *op, const char *path)
{
	const char *base;
	int pfd = resolve_parent(bc, path, &base);
	if (pfd < 0)
		return done_errno(op, errno);
	int r = mkdirat(pfd, base, 0777);
	int e = errno;
	close(pfd);
	if (r < 0)
		return done_errno(op, e);
	vfs_op_done(op, 0, NULL);
}

static void local_unlinkat(void *bc, struct vfs_op *op, const char *path, int flags)
{
	const char *base;
	int pfd = resolve_parent(bc, path, &base);
	if (pfd < 0)
		return done_errno(op, errno);
	int r = unlinkat(pfd, base, flags);
	int e = errno;
	close(pfd);
	if (r < 0)
		return done_errno(op, e);
	vfs_op_done(op, 0, NULL);
}

static void local_rmdir(void *bc, struct vfs_op *op, const char *path)
{
	local_unlinkat(bc, op, path, AT_REMOVEDIR);
}

static void local_unlink(void *bc, struct vfs_op *op, const char *path)
{
	local_unlinkat(bc, op, path, 0);
}

static void local_rename(void *bc, struct vfs_op *op, const char *from, const char *to, int replace)
{
	const char *b1, *b2;
	int p1 = resolve_parent(bc, from, &b1);
	if (p1 < 0)
		return done_errno(op, errno);
	int p2 = resolve_parent(bc, to, &b2);
	if (p2 < 0) {
		int e = errno;
		close(p1);
		return done_errno(op, e);
	}
	int r = renameat2(p1, b1, p2, b2, replace ? 0 : RENAME_NOREPLACE);
	if (r < 0 && errno == EINVAL && !replace) {
		/* a file system without RENAME_NOREPLACE: check, then rename (racy, best effort) */
		struct stat st;
		if (fstatat(p2, b2, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			errno = EEXIST;
		} else {
			r = renameat(p1, b1, p2, b2);
		}
	}
	int e = errno;
	close(p1);
	close(p2);
	if (r < 0)
		return done_errno(op, e);
	vfs_op_done(op, 0, NULL);
}

static void local_link(void *bc, struct vfs_op *op, const char *from, const char *to)
{
	const char *b1, *b2;
	int p1 = resolve_parent(bc, from, &b1);
	if (p1 < 0)
		return done_errno(op, errno);
	int p2 = resolve_parent(bc, to, &b2);
	if (p2 < 0) {
		int e = errno;
		close(p1);
		return done_errno(op, e);
	}
	int r = linkat(p1, b1, p2, b2, 0);
	int e = errno;
	close(p1);
	close(p2);
	if (r < 0)
		return done_errno(op, e);
	vfs_op_done(op, 0, NULL);
}

static void local_statfs(void *bc, struct vfs_op *op, struct vfs_statfs *out)
{
	struct local *l = bc;
	struct statvfs sv;
	if (fstatvfs(l->rootfd, &sv) < 0)
		return done_errno(op, errno);
	out->bsize = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
	out->blocks = sv.f_blocks;
	out->bfree = sv.f_bfree;
	out->bavail = sv.f_bavail;
	out->files = sv.f_files;
	out->ffree = sv.f_ffree;
	out->namemax = sv.f_namemax;
	out->read_only = (sv.f_flag & ST_RDONLY) != 0;
	vfs_op_done(op, 0, NULL);
}

const struct vfs_backend_ops vfs_backend_local = {
    .name = "local",
    .init = local_init,
    .fini = local_fini,
    .caps = local_caps,
    .io_size = local_io_size,
    .conn_open = local_conn_open,
    .conn_close = local_conn_close,
    .conn_pollfd = NULL,
    .conn_service = NULL,
    .stat = local_stat,
    .readdir = local_readdir,
    .open = local_open,
    .read = local_read,
    .write = local_write,
    .fstat = local_fstat,
    .truncate = local_truncate,
    .setattr = local_setattr,
    .fsync = local_fsync,
    .close = local_close,
    .mkdir = local_mkdir,
    .rmdir = local_rmdir,
    .unlink = local_unlink,
    .rename = local_rename,
    .link = local_link,
    .statfs = local_statfs,
    .hash = NULL,
};
