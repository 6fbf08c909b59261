/* The SMB1 implementation of the dialect ops table, and the request sizes it settles on. */
#include "smb/smb1/smb1.h"
#include "util/log.h"

#define DEFAULT_IO_SIZE (1024 * 1024)
#define MAX_IO_SIZE	(8 * 1024 * 1024)
/* Header and READ_ANDX/WRITE_ANDX words, rounded up: what a frame holds besides the data. */
#define IO_OVERHEAD 128
/* Below 128 KiB a read is an ordinary READ_ANDX everywhere (Samba serves larger ones only
 * unsigned and outside NetBIOS framing); this leaves room for the header. */
#define SMALL_IO_SIZE 0x1F000

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
	/* Large reads: 1 MiB when nothing stands in the way; 124 KiB when signing (the server
	 * signs what it sends, so it caps large reads) or NetBIOS framing (17-bit lengths). */
	uint32_t big = (s->sign || c->t.netbios) ? SMALL_IO_SIZE : MAX_IO_SIZE;
	if (big > frame)
		big = frame;
	uint32_t rd = (s->server_caps & SMB1_CAP_LARGE_READX) ? big : plain;
	uint32_t wr = (s->server_caps & SMB1_CAP_LARGE_WRITEX) ? big : plain;
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

static int smb1_on_frame(struct smb_client *c, uint8_t *buf, size_t len)
{
	return smb1_frame(c, buf, len);
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
    .on_frame = smb1_on_frame,
    .fail_all = smb1_fail_all,
    .pending = smb1_pending,
    .expired = smb1_expired,
    .free_state = smb1_state_free,
};
