/* The SMB backend (placeholder until the SMB client links: refuses smb:// remotes). */
#include <stdio.h>

#include "vfs/backend.h"

static void *smb_init(const char *remote, char *err, size_t errlen)
{
	(void)remote;
	snprintf(err, errlen, "smb:// remotes are not available in this build yet");
	return NULL;
}

static void smb_fini(void *bs)
{
	(void)bs;
}

const struct vfs_backend_ops vfs_backend_smb = {
    .name = "smb",
    .init = smb_init,
    .fini = smb_fini,
};
