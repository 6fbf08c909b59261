/* Fuzzes what reconnect reads from the server: the create contexts of a CREATE response (the
 * durable handle answer, DH2Q), the whole response around them, and oplock break
 * notifications. The first byte picks the raw context chain or a whole message. */
#include <stddef.h>
#include <stdint.h>

#include "smb/smb2/smb2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct smb2_create_out out = {0};
	if (data[0] & 1) {
		(void)smb2_create_contexts_parse(data + 1, size - 1, &out);
		return 0;
	}
	struct smb2_msg m;
	if (smb2_check_message(data + 1, size - 1, &m) != 0)
		return 0;
	uint8_t fid[16], level;
	if (m.command == SMB2_CREATE)
		(void)smb2_create_out_parse(&m, &out);
	else
		(void)smb2_oplock_break_parse(&m, &level, fid);
	return 0;
}
