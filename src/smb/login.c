#include "smb/login.h"

struct smb_auth *smb_login_auth_new(const struct smb_client *c)
{
	struct smb_auth_creds creds = {
	    .user = c->url.user,
	    .domain = c->url.domain,
	    .password = c->url.password,
	    .workstation = "SMBGATE",
	    .allow_ntlmv1 = c->url.ntlmv1,
	};
	return smb_auth_new(&creds, 1);
}

const char *smb_login_user(const struct smb_client *c)
{
	return c->url.user && *c->url.user ? c->url.user : "(anonymous)";
}
