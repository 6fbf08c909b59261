/* ".NAME.XXXXXXXX.partial" names for uploads in progress. */
#include "util/partial_name.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* "." + name + "." + 8 hex digits + ".partial" */
#define PARTIAL_EXTRA (1 + 1 + 8 + sizeof(PARTIAL_NAME_SUFFIX) - 1)

/* The longest prefix of s within max bytes that does not cut a UTF-8 sequence. */
static size_t utf8_prefix(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	/* a UTF-8 character is at most 4 bytes: no lead byte that close means the name is not
	 * UTF-8 (the server will refuse it anyway), so cut at max rather than at nothing */
	size_t cut = max;
	while (cut > 0 && max - cut < 4 && ((unsigned char)s[cut] & 0xc0) == 0x80)
		cut--;
	return max - cut < 4 ? cut : max;
}

char *partial_name_make(const char *path, uint32_t tag)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	size_t dir_len = (size_t)(name - path), name_len = strlen(name);
	char *out;

	if (name_len == 0)
		return NULL;
	name_len = utf8_prefix(name, name_len, PARTIAL_NAME_MAX - PARTIAL_EXTRA);
	out = malloc(dir_len + name_len + PARTIAL_EXTRA + 1);
	if (out == NULL)
		return NULL;
	memcpy(out, path, dir_len);
	snprintf(out + dir_len, name_len + PARTIAL_EXTRA + 1, ".%.*s.%08x%s", (int)name_len, name,
		 (unsigned)tag, PARTIAL_NAME_SUFFIX);
	return out;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int partial_name_parse(const char *name, size_t *target_len, uint32_t *tag)
{
	size_t len = strlen(name);
	const char *t;
	uint32_t v = 0;

	/* at least one character of the target's name */
	if (len < PARTIAL_EXTRA + 1 || name[0] != '.' || strchr(name, '/') != NULL)
		return 0;
	if (strcmp(name + len - (sizeof(PARTIAL_NAME_SUFFIX) - 1), PARTIAL_NAME_SUFFIX) != 0)
		return 0;
	t = name + len - (sizeof(PARTIAL_NAME_SUFFIX) - 1) - 8;
	if (t[-1] != '.')
		return 0;
	for (int i = 0; i < 8; i++) {
		int d = hex_digit(t[i]);
		if (d < 0)
			return 0;
		v = v << 4 | (uint32_t)d;
	}
	if (target_len)
		*target_len = (size_t)(t - 1 - (name + 1));
	if (tag)
		*tag = v;
	return 1;
}

uint32_t partial_name_tag_random(void)
{
	uint32_t v;
	struct timespec ts;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec * 2654435761u ^ (uint32_t)getpid() << 16;
}
