/* smb_url_parse on arbitrary bytes. Beyond "no crash, no leak": a parsed URL must satisfy the
 * header's promises, its display form must parse back to the same host, port, share and path, and
 * joining arbitrary text to its path must give a normalised path or SMBG_ENAME. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smbgate/err.h"
#include "util/url.h"
#include "util/utf16.h"

/* A normalised path: no leading, trailing or doubled '/', no "." or ".." segment. */
static void check_normal(const char *p)
{
	size_t n = strlen(p);
	if (!utf8_valid(p, n))
		abort();
	if (n == 0)
		return;
	if (p[0] == '/' || p[n - 1] == '/' || strstr(p, "//"))
		abort();
	for (const char *s = p; *s;) {
		size_t k = strcspn(s, "/");
		if ((k == 1 && s[0] == '.') || (k == 2 && s[0] == '.' && s[1] == '.'))
			abort();
		s += k;
		if (*s == '/')
			s++;
	}
}

static uint16_t effective_port(const struct smb_url *u)
{
	return u->port ? u->port : (u->transport == SMB_TRANSPORT_NETBIOS ? 139 : 445);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The input up to the first 0xFF byte (or all of it) is the URL; the rest is a relative
	 * path to join. */
	const uint8_t *sep = memchr(data, 0xff, size);
	size_t ulen = sep ? (size_t)(sep - data) : size;
	char *s = malloc(ulen + 1);
	char *rel = NULL;
	if (!s)
		return 0;
	memcpy(s, data, ulen);
	s[ulen] = '\0';
	if (sep) {
		size_t rlen = size - ulen - 1;
		rel = malloc(rlen + 1);
		if (!rel) {
			free(s);
			return 0;
		}
		memcpy(rel, sep + 1, rlen);
		rel[rlen] = '\0';
	}

	struct smb_url u;
	char err[256];
	int r = smb_url_parse(s, &u, err, sizeof(err));
	if (r != 0) {
		/* Failure: a known code, a one-line message, and nothing left behind. */
		if (r != SMBG_EINVAL && r != SMBG_ENAME && r != SMBG_ENOMEM)
			abort();
		if (err[0] == '\0' || strchr(err, '\n'))
			abort();
		if (u.host || u.share || u.path || u.user || u.password || u.domain)
			abort();
		goto out;
	}
	if (!u.host || !u.path || u.host[0] == '\0')
		abort();
	if (u.min_protocol > u.max_protocol || !smb_dialect_parse(smb_dialect_name(u.min_protocol)))
		abort();
	if ((u.read_buffer_size && u.read_buffer_size < 10000) ||
	    (u.write_buffer_size && u.write_buffer_size < 10000))
		abort();
	if (u.share && (u.share[0] == '\0' || strchr(u.share, '/')))
		abort();
	if (!u.share && u.path[0])
		abort();
	check_normal(u.path);

	char *d = smb_url_display(&u);
	if (!d)
		abort();
	struct smb_url v;
	if (smb_url_parse(d, &v, err, sizeof(err)) != 0)
		abort();
	if (strcmp(v.host, u.host) != 0 || effective_port(&v) != effective_port(&u) ||
	    strcmp(v.path, u.path) != 0 || (!v.share != !u.share) ||
	    (u.share && strcmp(v.share, u.share) != 0))
		abort();
	smb_url_free(&v);
	free(d);

	if (rel) {
		char *out = NULL;
		r = smb_path_join(u.path, rel, &out);
		if (r == 0) {
			check_normal(out);
			free(out);
		} else if (r != SMBG_ENAME || out) {
			abort();
		}
	}
	smb_url_free(&u);
out:
	free(s);
	free(rel);
	return 0;
}
