/* A session that cannot be served (the remote could not be opened): INIT is answered, then
 * every request fails with the reason. Used by --stdio (stdio.c) and by the SSH listener's
 * channels (src/ssh/channel.c), so the SFTP user reads why instead of "subsystem request
 * failed". */
#include <stdio.h>
#include <string.h>

#include "sftp/proto.h"
#include "sftp/sftp.h"
#include "util/cursor.h"

void sftp_refusal_init(struct sftp_refusal *r, const char *why)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->msg, sizeof(r->msg), "smbgate cannot serve this remote: %s", why);
}

static void answer(const struct sftp_refusal *r, uint8_t type, uint32_t id, struct wbuf *out)
{
	if (type == SSH_FXP_INIT) {
		/* the client learns the reason from its first request's status */
		wbuf_put_be32(out, 5);
		wbuf_put_u8(out, SSH_FXP_VERSION);
		wbuf_put_be32(out, SFTP_VERSION);
		return;
	}
	uint32_t mlen = (uint32_t)strlen(r->msg);
	wbuf_put_be32(out, 1 + 4 + 4 + 4 + mlen + 4);
	wbuf_put_u8(out, SSH_FXP_STATUS);
	wbuf_put_be32(out, id);
	wbuf_put_be32(out, SSH_FX_FAILURE);
	wbuf_put_be32(out, mlen);
	wbuf_put_bytes(out, r->msg, mlen);
	wbuf_put_be32(out, 0); /* language tag */
}

int sftp_refusal_input(struct sftp_refusal *r, const uint8_t *p, size_t len, struct wbuf *out)
{
	while (len > 0) {
		if (r->skip > 0) {
			size_t n = len < r->skip ? len : r->skip;
			r->skip -= (uint32_t)n;
			p += n;
			len -= n;
			continue;
		}
		size_t n = sizeof(r->hdr) - r->hlen;
		if (n > len)
			n = len;
		memcpy(r->hdr + r->hlen, p, n);
		r->hlen += n;
		p += n;
		len -= n;
		if (r->hlen < sizeof(r->hdr))
			break;
		struct cursor c;
		uint32_t plen, id;
		uint8_t type;
		cursor_init(&c, r->hdr, sizeof(r->hdr));
		if (cursor_get_be32(&c, &plen) != 0 || cursor_get_u8(&c, &type) != 0 ||
		    cursor_get_be32(&c, &id) != 0 || plen < 5 || plen > SFTP_MAX_PACKET)
			return SMBG_EPROTO;
		r->hlen = 0;
		r->skip = plen - 5;
		answer(r, type, id, out);
		if (wbuf_error(out))
			return wbuf_error(out);
	}
	return 0;
}
