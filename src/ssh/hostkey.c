#include "ssh/hostkey.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh/libssh.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ssh/ssh.h"
#include "util/log.h"

static const struct {
	const char *file;
	enum ssh_keytypes_e type;
	int bits;
} generated[] = {
    {"ssh_host_ed25519_key", SSH_KEYTYPE_ED25519, 0},
    {"ssh_host_ecdsa_key", SSH_KEYTYPE_ECDSA_P256, 256},
    {"ssh_host_rsa_key", SSH_KEYTYPE_RSA, 3072},
};

/* mkdir -p with mode 0700 for the directories it creates */
static int mkdirs(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] == '/' || buf[i] == '\0') {
			char c = buf[i];
			buf[i] = '\0';
			if (mkdir(buf, 0700) < 0 && errno != EEXIST)
				return -1;
			buf[i] = c;
		}
	}
	return 0;
}

static int load_one(ssh_bind b, const char *path, char *why, size_t len)
{
	/* as sshd: a private key others can read is no longer private; refuse it */
	struct stat st;
	if (stat(path, &st) == 0 && (st.st_mode & 077)) {
		snprintf(why, len,
			 "UNPROTECTED PRIVATE KEY FILE: permissions %04o for host key %s are too "
			 "open; it must not be accessible by group or others (chmod 600 %s)",
			 (unsigned)(st.st_mode & 07777), path, path);
		return -1;
	}
	ssh_key k = NULL;
	/* import first: a clear message for an unreadable or malformed key, now rather than
	 * at the first connection */
	if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &k) != SSH_OK) {
		snprintf(why, len,
			 "cannot load host key %s (missing, unreadable or not a private "
			 "key)",
			 path);
		return -1;
	}
	ssh_key_free(k);
	if (ssh_bind_options_set(b, SSH_BIND_OPTIONS_HOSTKEY, path) != SSH_OK) {
		snprintf(why, len, "cannot use host key %s: %s", path, ssh_get_error(b));
		return -1;
	}
	return 0;
}

static int generate(const char *path, enum ssh_keytypes_e type, int bits, char *why, size_t len)
{
	ssh_key k = NULL;
	char *b64 = NULL;
	if (ssh_pki_generate(type, bits, &k) != SSH_OK ||
	    ssh_pki_export_privkey_base64(k, NULL, NULL, NULL, &b64) != SSH_OK) {
		ssh_key_free(k);
		snprintf(why, len, "cannot generate a host key for %s", path);
		return -1;
	}
	ssh_key_free(k);
	/* created 0600 from the start: the key is never readable by others, not even briefly */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, len, "cannot create %s: %s", path, strerror(errno));
		free(b64);
		return -1;
	}
	size_t n = strlen(b64), off = 0;
	while (off < n) {
		ssize_t w = write(fd, b64 + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (n > 0 && b64[n - 1] != '\n')
		(void)!write(fd, "\n", 1);
	int bad = off != n || fsync(fd) < 0;
	close(fd);
	explicit_bzero(b64, n);
	free(b64);
	if (bad) {
		unlink(path);
		snprintf(why, len, "cannot write %s", path);
		return -1;
	}
	log_info("generated host key %s", path);
	return 0;
}

int ssh_hostkeys_load(ssh_bind b, const struct ssh_serve_opts *o, char *why, size_t len)
{
	if (o->nkeys > 0) {
		for (int i = 0; i < o->nkeys; i++)
			if (load_one(b, o->keys[i], why, len) < 0)
				return -1;
		return 0;
	}
	char dir[4096];
	if (o->cache_dir) {
		snprintf(dir, sizeof(dir), "%s", o->cache_dir);
	} else {
		const char *home = getenv("HOME");
		if (!home || !*home) {
			snprintf(why, len,
				 "no --key given and $HOME is not set (needed for "
				 "~/.cache/smbgate/serve-sftp)");
			return -1;
		}
		snprintf(dir, sizeof(dir), "%s/.cache/smbgate/serve-sftp", home);
	}
	if (mkdirs(dir) < 0) {
		snprintf(why, len, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(generated) / sizeof(generated[0]); i++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s", dir, generated[i].file);
		struct stat st;
		if (stat(path, &st) < 0) {
			if (generate(path, generated[i].type, generated[i].bits, why, len) < 0)
				return -1;
		}
		if (load_one(b, path, why, len) < 0)
			return -1;
	}
	return 0;
}
