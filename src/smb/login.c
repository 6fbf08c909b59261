#include "smb/login.h"

#include "util/log.h"

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

int smb_login_check_guest(struct smb_client *c, int guest, int null_session)
{
	int named = c->url.user && *c->url.user;
	if (!named || (!guest && !null_session))
		return 0;
	if (c->url.guest) {
		log_info("login as %s@%s: the server made it a %s session (guest=true)",
			 c->url.user, c->url.host, guest ? "guest" : "anonymous");
		return 0;
	}
	return smb_failf(c, SMBG_EAUTH,
			 "%s logged %s in as %s instead, as servers do for an unknown user or a "
			 "wrong password they map to guest; check the user and password, or add "
			 "guest=true to the URL to accept a guest session",
			 c->url.host, c->url.user, guest ? "guest" : "anonymous");
}
