/* sftp_serve_refusal (--stdio when the remote cannot be opened) on arbitrary client bytes:
 * the input arrives through a pipe, the replies go to a memory file. Beyond "no crash, no
 * leak, no hang": every reply is a whole packet (VERSION or STATUS) no longer than
 * SFTP_MAX_PACKET, and there is never more than one reply per request. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sftp/sftp.h"
#include "util/cursor.h"

#define MAX_INPUT (60 * 1024) /* below a pipe's capacity: written before the server runs */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return 0;
	int p[2];
	if (pipe(p) < 0)
		abort();
	int out = memfd_create("fuzz-refusal", 0);
	if (out < 0)
		abort();
	if (size && write(p[1], data, size) != (ssize_t)size)
		abort();
	close(p[1]); /* the client has said everything */
	(void)sftp_serve_refusal(p[0], out, "fuzzing");
	close(p[0]);
	off_t olen = lseek(out, 0, SEEK_CUR);
	if (olen < 0)
		abort();
	if (olen > 0) {
		uint8_t *o = mmap(NULL, (size_t)olen, PROT_READ, MAP_SHARED, out, 0);
		if (o == MAP_FAILED)
			abort();
		struct cursor c;
		cursor_init(&c, o, (size_t)olen);
		size_t replies = 0;
		while (cursor_left(&c) > 0) {
			uint32_t len;
			uint8_t type;
			if (cursor_get_be32(&c, &len) != 0 || len < 5 || len > SFTP_MAX_PACKET ||
			    cursor_get_u8(&c, &type) != 0 || (type != 2 && type != 101) ||
			    cursor_skip(&c, len - 1) != 0)
				abort();
			replies++;
		}
		/* a request is at least 9 bytes (length, type, id) */
		if (replies > size / 9)
			abort();
		munmap(o, (size_t)olen);
	}
	close(out);
	return 0;
}
