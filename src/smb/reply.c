#include "smb/reply.h"

#include <stdlib.h>
#include <string.h>

#include "smb/client.h"

void smb_reply_keep(struct smb_reply *x, int err, const uint8_t *msg, size_t len)
{
	x->done = 1;
	x->err = err;
	if (err != 0 || !msg)
		return;
	x->msg = malloc(len);
	if (!x->msg) {
		x->err = SMBG_ENOMEM;
		return;
	}
	memcpy(x->msg, msg, len);
	x->len = len;
}

void smb_reply_reset(struct smb_reply *x)
{
	free(x->msg);
	memset(x, 0, sizeof(*x));
}

int smb_reply_wait(struct smb_client *c, int submit_rc, struct smb_reply *x)
{
	int rc = submit_rc;
	if (rc == 0)
		rc = smb_wait(c, &x->done);
	return rc < 0 ? rc : x->err;
}
