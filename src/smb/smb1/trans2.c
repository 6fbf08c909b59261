/* SMB_COM_TRANSACTION2 (MS-CIFS 2.2.4.46): a request with one setup word (the subcommand), its
 * parameters and data in one message; the response may come in several messages, each carrying
 * a piece of the parameters and of the data at a displacement (3.2.5.13). The pieces are copied
 * into buffers sized by what we allowed (MaxParameterCount, MaxDataCount), so a server cannot
 * make us allocate more. */
#include <stdlib.h>
#include <string.h>

#include "smb/smb1/smb1.h"

#define TRANS2_WCT 15
/* Parameters start 4-aligned: header (32) + WordCount + 30 bytes of words + ByteCount = 65,
 * then three zero bytes (the empty Name field and its pad). */
#define TRANS2_PARAM_OFF 68

void smb1_trans_free(struct smb1_trans *t)
{
	if (!t)
		return;
	free(t->param);
	free(t->data);
	free(t);
}

struct smb1_req *smb1_trans2_new(struct smb_client *c, uint16_t setup, const struct wbuf *params,
				 const void *data, size_t data_len, uint16_t max_param,
				 uint16_t max_data, smb1_done_fn done)
{
	if (params->len > 0xFFFF || data_len > 0xFFFF)
		return NULL;
	struct smb1_req *r = smb1_req_new(c, SMB1_COM_TRANSACTION2, done);
	if (!r)
		return NULL;
	struct smb1_trans *t = calloc(1, sizeof(*t));
	if (t) {
		t->setup = setup;
		t->max_param = max_param;
		t->max_data = max_data;
		t->param = calloc(1, max_param ? max_param : 1);
		t->data = calloc(1, max_data ? max_data : 1);
	}
	if (!t || !t->param || !t->data) {
		smb1_trans_free(t);
		smb1_req_free(r);
		return NULL;
	}
	r->trans = t;
	size_t data_off = (TRANS2_PARAM_OFF + params->len + 3) & ~(size_t)3;
	struct wbuf *b = &r->pdu;
	smb1_words_begin(r, TRANS2_WCT);
	wbuf_put_le16(b, (uint16_t)params->len); /* TotalParameterCount */
	wbuf_put_le16(b, (uint16_t)data_len);	 /* TotalDataCount */
	wbuf_put_le16(b, max_param);
	wbuf_put_le16(b, max_data);
	wbuf_put_u8(b, 0);   /* MaxSetupCount */
	wbuf_put_u8(b, 0);   /* Reserved1 */
	wbuf_put_le16(b, 0); /* Flags */
	wbuf_put_le32(b, 0); /* Timeout */
	wbuf_put_le16(b, 0); /* Reserved2 */
	wbuf_put_le16(b, (uint16_t)params->len);
	wbuf_put_le16(b, TRANS2_PARAM_OFF);
	wbuf_put_le16(b, (uint16_t)data_len);
	wbuf_put_le16(b, data_len ? (uint16_t)data_off : 0);
	wbuf_put_u8(b, 1); /* SetupCount */
	wbuf_put_u8(b, 0); /* Reserved3 */
	wbuf_put_le16(b, setup);
	smb1_bytes_begin(r);
	while (smb1_hdr_off(r) < TRANS2_PARAM_OFF)
		wbuf_put_u8(b, 0); /* Name (empty) and padding */
	wbuf_put_bytes(b, params->p, params->len);
	if (data_len) {
		while (smb1_hdr_off(r) < data_off)
			wbuf_put_u8(b, 0);
		wbuf_put_bytes(b, data, data_len);
	}
	if (wbuf_error(b) < 0) {
		smb1_req_free(r);
		return NULL;
	}
	return r;
}

int smb1_trans2_collect(struct smb1_trans *t, const struct smb1_msg *m)
{
	struct cursor w = m->words, pc, dc;
	uint16_t tp, td, reserved, pcount, poff, pdisp, dcount, doff, ddisp;
	if (m->wct < 10 || cursor_get_le16(&w, &tp) != 0 || cursor_get_le16(&w, &td) != 0 ||
	    cursor_get_le16(&w, &reserved) != 0 || cursor_get_le16(&w, &pcount) != 0 ||
	    cursor_get_le16(&w, &poff) != 0 || cursor_get_le16(&w, &pdisp) != 0 ||
	    cursor_get_le16(&w, &dcount) != 0 || cursor_get_le16(&w, &doff) != 0 ||
	    cursor_get_le16(&w, &ddisp) != 0)
		return SMBG_EPROTO;
	if (!t->started) {
		if (tp > t->max_param || td > t->max_data)
			return SMBG_EPROTO;
		t->total_param = tp;
		t->total_data = td;
		t->started = 1;
	} else {
		/* Totals may shrink in later messages, never grow (MS-CIFS 2.2.4.46.2). */
		if (tp > t->total_param || td > t->total_data)
			return SMBG_EPROTO;
		t->total_param = tp;
		t->total_data = td;
	}
	if (pdisp > t->total_param || pcount > t->total_param - pdisp || ddisp > t->total_data ||
	    dcount > t->total_data - ddisp)
		return SMBG_EPROTO;
	if ((pcount && smb1_msg_range(m, poff, pcount, &pc) != 0) ||
	    (dcount && smb1_msg_range(m, doff, dcount, &dc) != 0))
		return SMBG_EPROTO;
	if (pcount)
		memcpy(t->param + pdisp, pc.p, pcount);
	if (dcount)
		memcpy(t->data + ddisp, dc.p, dcount);
	t->got_param += pcount;
	t->got_data += dcount;
	if (pcount == 0 && dcount == 0 &&
	    (t->got_param < t->total_param || t->got_data < t->total_data))
		return SMBG_EPROTO; /* a part that moves nothing would never end */
	return t->got_param >= t->total_param && t->got_data >= t->total_data ? 1 : 0;
}
