/* Names of atomic uploads' temporary files (DESIGN decision 13): ".NAME.XXXXXXXX.partial" in
 * the folder of NAME, XXXXXXXX a hash of NAME, so that the next upload of NAME finds the
 * data an interrupted one left (resume). A name too long for one component keeps a prefix
 * of NAME (cut at a UTF-8 character boundary); the hash still tells such names apart. */
#include <stdio.h>
#include <string.h>

#include "vfs/vfs.h"

#define PARTIAL_SUFFIX ".partial"
#define COMPONENT_MAX  255
#define HASH_HEX       8
/* '.' + NAME + '.' + hash + suffix */
#define PARTIAL_EXTRA (1 + 1 + HASH_HEX + sizeof(PARTIAL_SUFFIX) - 1)

static uint32_t fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
}

int vfs_partial_name(const char *path, char *out, size_t outlen)
{
	size_t plen;
	const char *base = vfs_path_base(path, &plen);
	size_t blen = strlen(base);
	size_t keep = blen;
	if (keep > COMPONENT_MAX - PARTIAL_EXTRA) {
		keep = COMPONENT_MAX - PARTIAL_EXTRA;
		while (keep > 0 && ((uint8_t)base[keep] & 0xC0) == 0x80)
			keep--; /* not inside a UTF-8 sequence */
	}
	int n = snprintf(out, outlen, "%.*s%s.%.*s.%08x%s", (int)plen, path, plen ? "/" : "",
			 (int)keep, base, fnv1a(base, blen), PARTIAL_SUFFIX);
	if (n < 0 || (size_t)n >= outlen)
		return SMBG_ENAME;
	return n;
}

int vfs_is_partial_name(const char *name, size_t len)
{
	size_t sl = sizeof(PARTIAL_SUFFIX) - 1;
	if (len < PARTIAL_EXTRA + 1 || name[0] != '.' ||
	    memcmp(name + len - sl, PARTIAL_SUFFIX, sl) != 0)
		return 0;
	const char *h = name + len - sl - HASH_HEX;
	if (h[-1] != '.')
		return 0;
	for (int i = 0; i < HASH_HEX; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return 0;
	return 1;
}
