/* ATTRS (draft-ietf-secsh-filexfer-02 section 5) and the ls -l line of SSH_FXP_NAME. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sftp/internal.h"

#define MAX_EXTENDED 64 /* extended attribute pairs skipped per ATTRS */

int sftp_get_attrs(struct cursor *c, struct sftp_attrs *a)
{
	memset(a, 0, sizeof(*a));
	if (cursor_get_be32(c, &a->flags) != 0)
		return SMBG_EPROTO;
	if ((a->flags & SSH_FILEXFER_ATTR_SIZE) && sftp_get_u64(c, &a->size) != 0)
		return SMBG_EPROTO;
	if ((a->flags & SSH_FILEXFER_ATTR_UIDGID) &&
	    (cursor_get_be32(c, &a->uid) != 0 || cursor_get_be32(c, &a->gid) != 0))
		return SMBG_EPROTO;
	if ((a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) && cursor_get_be32(c, &a->perms) != 0)
		return SMBG_EPROTO;
	if ((a->flags & SSH_FILEXFER_ATTR_ACMODTIME) &&
	    (cursor_get_be32(c, &a->atime) != 0 || cursor_get_be32(c, &a->mtime) != 0))
		return SMBG_EPROTO;
	if (a->flags & SSH_FILEXFER_ATTR_EXTENDED) {
		uint32_t count;
		if (cursor_get_be32(c, &count) != 0 || count > MAX_EXTENDED)
			return SMBG_EPROTO;
		for (uint32_t i = 0; i < count; i++) {
			const uint8_t *p;
			uint32_t n;
			if (sftp_get_string(c, &p, &n) != 0 || sftp_get_string(c, &p, &n) != 0)
				return SMBG_EPROTO;
		}
	}
	return 0;
}

static uint32_t time32(const struct timespec *ts)
{
	if (ts->tv_sec < 0)
		return 0;
	if ((unsigned long long)ts->tv_sec > UINT32_MAX)
		return UINT32_MAX;
	return (uint32_t)ts->tv_sec;
}

void sftp_put_attrs(struct wbuf *b, const struct vfs_attr *a)
{
	wbuf_put_be32(b, SSH_FILEXFER_ATTR_SIZE | SSH_FILEXFER_ATTR_UIDGID |
			     SSH_FILEXFER_ATTR_PERMISSIONS | SSH_FILEXFER_ATTR_ACMODTIME);
	sftp_put_u64(b, a->size);
	wbuf_put_be32(b, (uint32_t)a->uid);
	wbuf_put_be32(b, (uint32_t)a->gid);
	wbuf_put_be32(b, (uint32_t)a->mode);
	wbuf_put_be32(b, time32(&a->atime));
	wbuf_put_be32(b, time32(&a->mtime));
}

void sftp_attrs_to_setattr(const struct sftp_attrs *a, struct vfs_setattr *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (a->flags & SSH_FILEXFER_ATTR_SIZE) {
		sa->valid |= VFS_SET_SIZE;
		sa->size = a->size;
	}
	if (a->flags & SSH_FILEXFER_ATTR_ACMODTIME) {
		sa->valid |= VFS_SET_ATIME | VFS_SET_MTIME;
		sa->atime.tv_sec = (time_t)a->atime;
		sa->mtime.tv_sec = (time_t)a->mtime;
	}
	if (a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) {
		sa->valid |= VFS_SET_PERMS;
		sa->perms = (mode_t)(a->perms & 07777);
	}
	if (a->flags & SSH_FILEXFER_ATTR_UIDGID)
		sa->valid |= VFS_SET_OWNER;
}

static void mode_string(mode_t m, char out[11])
{
	out[0] = S_ISDIR(m) ? 'd' : '-';
	const char *rwx = "rwxrwxrwx";
	for (int i = 0; i < 9; i++)
		out[1 + i] = (m & (0400 >> i)) ? rwx[i] : '-';
	out[10] = '\0';
}

void sftp_put_longname(struct wbuf *b, const char *name, const struct vfs_attr *a, const char *user,
		       const char *group, time_t now)
{
	char mode[11], tbuf[32], line[512];
	mode_string(a->mode, mode);
	time_t t = a->mtime.tv_sec;
	struct tm tm;
	size_t tl = 0;
	if (localtime_r(&t, &tm)) {
		/* recent files show the time, older ones the year (as ls -l does) */
		if (now - (365 * 24 * 60 * 60) / 2 < t && now >= t)
			tl = strftime(tbuf, sizeof(tbuf), "%b %e %H:%M", &tm);
		else
			tl = strftime(tbuf, sizeof(tbuf), "%b %e  %Y", &tm);
	}
	if (tl == 0)
		snprintf(tbuf, sizeof(tbuf), "?");
	int n = snprintf(line, sizeof(line), "%s %4u %-8s %-8s %8llu %s ", mode, (unsigned)a->nlink,
			 user, group, (unsigned long long)a->size, tbuf);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	size_t nl = strlen(name);
	wbuf_put_be32(b, (uint32_t)((size_t)n + nl));
	wbuf_put_bytes(b, line, (size_t)n);
	wbuf_put_bytes(b, name, nl);
}
