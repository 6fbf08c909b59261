/* What the unit tests that drive the SMB2 client core without a server share: a client set up
 * by hand (not connected; the test adds a link and a stage when it needs them) and a recorder
 * of completions. Header-only; include after <cmocka.h>. The caller frees the client. */
#ifndef SMBGATE_TEST_SMB2_FAKE_H
#define SMBGATE_TEST_SMB2_FAKE_H

#include "smb/smb2/smb2.h"
#include "util/url.h"

struct done_rec {
	int calls;
	int rc;
};

static inline void rec_cb(struct smb_client *c, int rc, void *priv)
{
	(void)c;
	struct done_rec *d = priv;
	d->calls++;
	d->rc = rc;
}

/* A client of smb://127.0.0.1/s with its SMB2 state, dialect 3.0.2. */
static inline struct smb_client *fake_smb2_client(void)
{
	struct smb_url u = {0};
	u.host = "127.0.0.1";
	u.share = "s";
	u.path = "";
	struct smb_client *c = smb_client_new(&u);
	assert_non_null(c);
	c->ops = &smb2_ops;
	assert_int_equal(smb2_state_init(c), 0);
	c->dialect = SMB_DIALECT_3_0_2;
	return c;
}

#endif
