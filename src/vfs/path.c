/* VFS paths: the one place where a client's path becomes something the backends may use. */
#include <string.h>

#include "vfs/vfs.h"

#define NAME_MAX_BYTES 255

int vfs_path_normalize(const char *in, size_t inlen, const char *cwd, char *out, size_t outlen)
{
	size_t o = 0;
	if (outlen == 0)
		return SMBG_ENAME;
	if (memchr(in, '\0', inlen))
		return SMBG_ENAME;
	/* Relative paths start at cwd (already normal); absolute ones at the root. */
	if (!(inlen > 0 && in[0] == '/') && cwd && cwd[0]) {
		size_t cl = strlen(cwd);
		if (cl >= outlen)
			return SMBG_ENAME;
		memcpy(out, cwd, cl);
		o = cl;
	}
	size_t i = 0;
	while (i < inlen) {
		while (i < inlen && in[i] == '/')
			i++;
		size_t s = i;
		while (i < inlen && in[i] != '/')
			i++;
		size_t n = i - s;
		if (n == 0 || (n == 1 && in[s] == '.'))
			continue;
		if (n == 2 && in[s] == '.' && in[s + 1] == '.') {
			/* climb, but the root is its own parent (as in a chroot) */
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		if (n > NAME_MAX_BYTES)
			return SMBG_ENAME;
		size_t need = n + (o > 0 ? 1 : 0);
		if (need >= outlen - o)
			return SMBG_ENAME;
		if (o > 0)
			out[o++] = '/';
		memcpy(out + o, in + s, n);
		o += n;
	}
	out[o] = '\0';
	return (int)o;
}

const char *vfs_path_base(const char *path, size_t *parent_len)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		if (parent_len)
			*parent_len = 0;
		return path;
	}
	if (parent_len)
		*parent_len = (size_t)(slash - path);
	return slash + 1;
}
