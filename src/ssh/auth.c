#include "ssh/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssh/ssh.h"
#include "util/log.h"

/* SHA-256 of (a, 0, b): comparing digests hides the lengths as well as the contents. */
static int digest2(const char *a, const char *b, unsigned char out[32])
{
	unsigned int n = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
		 EVP_DigestUpdate(md, a, strlen(a) + 1) == 1 &&
		 EVP_DigestUpdate(md, b, strlen(b)) == 1 && EVP_DigestFinal_ex(md, out, &n) == 1;
	EVP_MD_CTX_free(md);
	return ok && n == 32;
}

int ssh_auth_password_ok(const struct ssh_serve_opts *o, const char *user, const char *pass)
{
	if (!o->user || !o->pass || !user || !pass)
		return 0;
	unsigned char want[32], got[32];
	int ok = digest2(o->user, o->pass, want) && digest2(user, pass, got) &&
		 CRYPTO_memcmp(want, got, sizeof(want)) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}

const char *ssh_auth_keys_file(const struct ssh_serve_opts *o)
{
	static __thread char def[4096];
	if (o->authorized_keys)
		return o->authorized_keys;
	const char *home = getenv("HOME");
	if (!home || !*home)
		return NULL;
	snprintf(def, sizeof(def), "%s/.ssh/authorized_keys", home);
	return access(def, R_OK) == 0 ? def : NULL;
}

/* One authorized_keys line: [options] type base64 [comment]. The key type is the first
 * word that libssh knows; options (no-pty, command=...) are not honoured, so a line with
 * options is skipped rather than granting more than it says. */
static int line_matches(char *line, const ssh_key key)
{
	char *save = NULL;
	char *type = strtok_r(line, " \t\r\n", &save);
	if (!type || type[0] == '#')
		return 0;
	enum ssh_keytypes_e t = ssh_key_type_from_name(type);
	if (t == SSH_KEYTYPE_UNKNOWN)
		return 0;
	char *b64 = strtok_r(NULL, " \t\r\n", &save);
	if (!b64)
		return 0;
	ssh_key k = NULL;
	if (ssh_pki_import_pubkey_base64(b64, t, &k) != SSH_OK)
		return 0;
	int same = ssh_key_cmp(k, key, SSH_KEY_CMP_PUBLIC) == 0;
	ssh_key_free(k);
	return same;
}

int ssh_auth_pubkey_ok(const struct ssh_serve_opts *o, const char *user, const ssh_key key)
{
	if (o->user && (!user || strcmp(user, o->user) != 0))
		return 0;
	const char *path = ssh_auth_keys_file(o);
	if (!path)
		return 0;
	FILE *f = fopen(path, "r");
	if (!f) {
		log_warn("cannot read authorized keys %s", path);
		return 0;
	}
	/* read at every attempt, as sshd does: edits take effect without a restart */
	char *line = NULL;
	size_t cap = 0;
	int ok = 0;
	while (!ok && getline(&line, &cap, f) > 0)
		ok = line_matches(line, key);
	free(line);
	fclose(f);
	return ok;
}
