/* partial_name_parse on arbitrary bytes (names read back from listings, which any other client
 * of the share may have created), and partial_name_make on arbitrary paths. Beyond "no crash,
 * no leak": a parsed name's target length and tag lie inside the name, and a made name parses
 * back to the tag it was made with, its component within PARTIAL_NAME_MAX. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/partial_name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	size_t tlen = 0;
	uint32_t tag = 0;
	if (partial_name_parse(s, &tlen, &tag) == 1 && (tlen == 0 || tlen + 1 > strlen(s)))
		abort();

	uint32_t want = size >= 4 ? (uint32_t)data[0] | (uint32_t)data[1] << 8 |
					(uint32_t)data[2] << 16 | (uint32_t)data[3] << 24
				  : 0x1a2b3c4du;
	char *made = partial_name_make(s, want);
	if (made) {
		const char *base = strrchr(made, '/');
		base = base ? base + 1 : made;
		if (strlen(base) > PARTIAL_NAME_MAX || partial_name_parse(base, &tlen, &tag) != 1 ||
		    tag != want)
			abort();
		free(made);
	}
	free(s);
	return 0;
}
