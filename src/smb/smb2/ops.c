/* The SMB2/3 implementation of the dialect ops table. */
#include "smb/smb2/smb2.h"

static int smb2_login(struct smb_client *c)
{
	int rc;
	c->stage = SMB_STAGE_LOGIN;
	if ((rc = smb2_session_setup(c)) < 0)
		return rc;
	c->stage = SMB_STAGE_TREE;
	if ((rc = smb2_tree_connect(c)) < 0)
		return rc;
	if ((rc = smb2_validate_negotiate(c)) < 0)
		return rc;
	return 0;
}

const struct smb_dialect_ops smb2_ops = {
    .name = "SMB2",
    .login = smb2_login,
    .logout = smb2_logout,
    .open = smb2_open,
    .close = smb2_close,
    .read = smb2_read,
    .write = smb2_write,
    .write_file = smb2_write_file,
    .flush = smb2_flush,
    .fstat = smb2_fstat,
    .readdir = smb2_readdir,
    .set_times = smb2_set_times,
    .set_size = smb2_set_size,
    .set_delete = smb2_set_delete,
    .rename = smb2_rename,
    .statfs = smb2_statfs,
    .echo = smb2_echo,
    .on_frame = smb2_frame,
    .fail_all = smb2_fail_all,
    .pending = smb2_pending,
    .next_deadline = smb2_next_deadline,
    .free_state = smb2_state_free,
};
