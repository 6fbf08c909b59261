/* Who may log in to the SSH listener: password (constant-time), public keys from an
 * authorized_keys file, or nobody asked (--no-auth). */
#ifndef SMBGATE_SSH_AUTH_H
#define SMBGATE_SSH_AUTH_H

#include <libssh/libssh.h>

struct ssh_serve_opts;

/* 1 when user/pass match --user/--pass (compared in constant time), else 0. */
int ssh_auth_password_ok(const struct ssh_serve_opts *o, const char *user, const char *pass);
/* 1 when key is listed in the authorized keys file (and user matches --user when given). */
int ssh_auth_pubkey_ok(const struct ssh_serve_opts *o, const char *user, const ssh_key key);
/* The authorized keys file in effect (--authorized-keys, or ~/.ssh/authorized_keys when it
 * exists), or NULL. Returns a pointer to static or option storage. */
const char *ssh_auth_keys_file(const struct ssh_serve_opts *o);

#endif
