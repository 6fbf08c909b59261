/* Host keys for the listener: --key files, or Ed25519, ECDSA P-256 and RSA 3072 keys
 * generated once into the cache directory (mode 0600) and reused. */
#ifndef SMBGATE_SSH_HOSTKEY_H
#define SMBGATE_SSH_HOSTKEY_H

#include <libssh/server.h>
#include <stddef.h>

struct ssh_serve_opts;

/* Loads the keys into b. Returns 0, or < 0 with a message in why. */
int ssh_hostkeys_load(ssh_bind b, const struct ssh_serve_opts *o, char *why, size_t len);

#endif
