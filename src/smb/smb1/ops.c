/* The SMB1 implementation of the dialect ops table, and the request sizes it settles on. */
#include "smb/smb1/smb1.h"
#include "util/log.h"

#define DEFAULT_IO_SIZE (1024 * 1024)
#define MAX_IO_SIZE	(8 * 1024 * 1024)
/* Header and READ_ANDX/WRITE_ANDX words, rounded up: what a frame holds besides the data. */
#define IO_OVERHEAD 128
/* Just below 128 KiB: what fits a NetBIOS frame (17-bit length) with the header, what Samba
 * reads when it signs, and what it takes in one WRITE_ANDX. */
#define SMALL_IO_SIZE  0x1F000
#define NON_UNIX_READ  61440
#define NON_UNIX_WRITE 65536

static uint32_t pick(uint32_t wanted, uint32_t limit)
{
	uint32_t v = wanted ? wanted : DEFAULT_IO_SIZE;
	return v > limit ? limit : v;
}

static void io_sizes(struct smb_client *c)
{
	struct smb1_state *s = smb1_st(c);
	uint32_t frame = (uint32_t)c->t.frame_max - IO_OVERHEAD;
	uint32_t plain = s->max_buffer > IO_OVERHEAD ? s->max_buffer - IO_OVERHEAD : 512;
	int unix_server = (s->server_caps & SMB1_CAP_UNIX) != 0;
	uint32_t rd = plain, wr = plain;
	/* Samba (CIFS UNIX extensions) reads up to 16 MiB per request, unsigned and outside
	 * NetBIOS framing, and takes writes up to 128 KiB; Windows is held to what Linux's cifs
	 * uses against it. */
	if (s->server_caps & SMB1_CAP_LARGE_READX)
		rd = !unix_server		 ? NON_UNIX_READ
		     : (s->sign || c->t.netbios) ? SMALL_IO_SIZE
						 : MAX_IO_SIZE;
	if (s->server_caps & SMB1_CAP_LARGE_WRITEX)
		wr = unix_server ? SMALL_IO_SIZE : NON_UNIX_WRITE;
	if (rd > frame)
		rd = frame;
	if (wr > frame)
		wr = frame;
	c->max_read = pick(c->url.read_buffer_size, rd);
	c->max_write = pick(c->url.write_buffer_size, wr);
	c->max_trans = 0xFFFF;
	log_debug("smb1: max read %u, max write %u (caps 0x%08x, signing %s)", c->max_read,
		  c->max_write, s->server_caps, s->sign ? "on" : "off");
}

static int smb1_login(struct smb_client *c)
{
	int rc, tree_done = 0;
	c->stage = SMB_STAGE_LOGIN;
	if ((rc = smb1_session_setup(c, &tree_done)) < 0)
		return rc;
	c->stage = SMB_STAGE_TREE;
	if (!tree_done && (rc = smb1_tree_connect(c)) < 0)
		return rc;
	io_sizes(c);
	return 0;
}

const struct smb_dialect_ops smb1_ops = {
    .name = "SMB1",
    .login = smb1_login,
    .logout = smb1_logout,
    .open = smb1_open,
    .close = smb1_close,
    .read = smb1_read,
    .write = smb1_write,
    .flush = smb1_flush,
    .fstat = smb1_fstat,
    .readdir = smb1_readdir,
    .set_times = smb1_set_times,
    .set_size = smb1_set_size,
    .set_delete = smb1_set_delete,
    .rename = smb1_rename,
    .statfs = smb1_statfs,
    .echo = smb1_echo,
    .on_frame = smb1_frame,
    .fail_all = smb1_fail_all,
    .pending = smb1_pending,
    .next_deadline = smb1_next_deadline,
    .free_state = smb1_state_free,
};
