/* What the SMB1 and SMB2 logons share: the authenticator for the URL's credentials and the name
 * that login messages show. */
#ifndef SMBGATE_LOGIN_H
#define SMBGATE_LOGIN_H

#include "auth/auth.h"
#include "smb/client.h"

/* An SPNEGO authenticator (auth/auth.h) for the URL's user, domain, password and NTLMv1 choice;
 * NULL on allocation failure. Caller frees with smb_auth_free. */
struct smb_auth *smb_login_auth_new(const struct smb_client *c);
/* The URL's user, or "(anonymous)" when it has none. */
const char *smb_login_user(const struct smb_client *c);
/* After a successful logon: when a user name was given but the server made the session a guest
 * or anonymous (null) one, fails with SMBG_EAUTH and a message, unless the URL says guest=true.
 * 0 otherwise. */
int smb_login_check_guest(struct smb_client *c, int guest, int null_session);

#endif
