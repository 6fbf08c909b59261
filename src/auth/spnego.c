#include "auth/spnego.h"

#include <string.h>

#include "smbgate/err.h"
#include "util/cursor.h"

#define DER_LEN_BYTES_MAX 4	   /* length-of-length bytes we accept */
#define SPNEGO_TOKEN_MAX  0xffffff /* far above any NTLMSSP message */
#define SPNEGO_MECHS_MAX  64

#define TAG_ENUMERATED	0x0a
#define TAG_OCTETSTRING 0x04
#define TAG_OID		0x06
#define TAG_SEQUENCE	0x30
#define TAG_APP0	0x60
#define TAG_CTX(n)	(0xa0 | (n))

/* 1.3.6.1.5.5.2 */
static const uint8_t oid_spnego[8] = {0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02};
const uint8_t spnego_oid_ntlmssp[12] = {0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04,
					0x01, 0x82, 0x37, 0x02, 0x02, 0x0a};
const uint8_t spnego_mech_types_ntlmssp[14] = {0x30, 0x0c, 0x06, 0x0a, 0x2b, 0x06, 0x01,
					       0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a};

int spnego_oid_is_ntlmssp(const uint8_t *oid, size_t len)
{
	return oid && len == sizeof(spnego_oid_ntlmssp) - 2 &&
	       memcmp(oid, spnego_oid_ntlmssp + 2, len) == 0;
}

/* --- Reading ------------------------------------------------------------------------------ */

/* One TLV: a low-number tag, a definite length (short form, or long form in at most 4
 * bytes) that must fit in what is left; val covers the contents. */
static WUR int der_get(struct cursor *c, uint8_t *tag, struct cursor *val)
{
	uint8_t t, l0, b;
	size_t len = 0;
	const uint8_t *p;

	if (cursor_get_u8(c, &t) != 0 || (t & 0x1f) == 0x1f || cursor_get_u8(c, &l0) != 0)
		return SMBG_EPROTO;
	if (l0 < 0x80) {
		len = l0;
	} else {
		size_t n = l0 & 0x7f;
		if (n == 0 || n > DER_LEN_BYTES_MAX) /* indefinite form, or absurd */
			return SMBG_EPROTO;
		while (n--) {
			if (cursor_get_u8(c, &b) != 0)
				return SMBG_EPROTO;
			len = len << 8 | b;
		}
	}
	if (cursor_get_ptr(c, len, &p) != 0)
		return SMBG_EPROTO;
	cursor_init(val, p, len);
	*tag = t;
	return 0;
}

static WUR int der_expect(struct cursor *c, uint8_t want, struct cursor *val)
{
	uint8_t tag;

	if (der_get(c, &tag, val) != 0 || tag != want)
		return SMBG_EPROTO;
	return 0;
}

/* [n] EXPLICIT wrapping exactly one TLV of type want. */
static WUR int der_explicit(struct cursor *ctx, uint8_t want, struct cursor *val)
{
	if (der_expect(ctx, want, val) != 0 || cursor_left(ctx) != 0)
		return SMBG_EPROTO;
	return 0;
}

static const uint8_t *cur_ptr(const struct cursor *c)
{
	return c->p + c->off;
}

int spnego_parse_resp(const uint8_t *p, size_t len, struct spnego_resp *out)
{
	struct cursor top, resp, seq, v, x;
	int last = -1;

	memset(out, 0, sizeof(*out));
	out->neg_state = SPNEGO_ABSENT;
	if (!p)
		return SMBG_EPROTO;
	cursor_init(&top, p, len);
	/* Trailing bytes after the token are tolerated: the SMB buffer length is what frames
	 * it, and some servers pad. */
	if (der_expect(&top, TAG_CTX(1), &resp) != 0 ||
	    der_expect(&resp, TAG_SEQUENCE, &seq) != 0 || cursor_left(&resp) != 0)
		return SMBG_EPROTO;
	while (cursor_left(&seq) > 0) {
		uint8_t tag, st;
		if (der_get(&seq, &tag, &v) != 0 || (tag & 0xe0) != 0xa0 ||
		    (int)(tag & 0x1f) <= last)
			return SMBG_EPROTO; /* not [n], out of order, or repeated */
		last = tag & 0x1f;
		switch (last) {
		case 0:
			if (der_explicit(&v, TAG_ENUMERATED, &x) != 0 || cursor_left(&x) != 1 ||
			    cursor_get_u8(&x, &st) != 0 || st > SPNEGO_REQUEST_MIC)
				return SMBG_EPROTO;
			out->neg_state = (enum spnego_neg_state)st;
			break;
		case 1:
			if (der_explicit(&v, TAG_OID, &x) != 0)
				return SMBG_EPROTO;
			out->supported_mech = cur_ptr(&x);
			out->supported_mech_len = cursor_left(&x);
			break;
		case 2:
			if (der_explicit(&v, TAG_OCTETSTRING, &x) != 0)
				return SMBG_EPROTO;
			out->response_token = cur_ptr(&x);
			out->response_token_len = cursor_left(&x);
			break;
		case 3:
			if (der_explicit(&v, TAG_OCTETSTRING, &x) != 0)
				return SMBG_EPROTO;
			out->mech_list_mic = cur_ptr(&x);
			out->mech_list_mic_len = cursor_left(&x);
			break;
		default:
			break; /* a later extension: skip it */
		}
	}
	return 0;
}

int spnego_parse_init(const uint8_t *p, size_t len, struct spnego_init *out)
{
	struct cursor top, app, oid, ctx0, seq, v, list, m, x;
	int last = -1;

	memset(out, 0, sizeof(*out));
	if (!p)
		return SMBG_EPROTO;
	cursor_init(&top, p, len);
	if (der_expect(&top, TAG_APP0, &app) != 0 || der_expect(&app, TAG_OID, &oid) != 0 ||
	    cursor_left(&oid) != sizeof(oid_spnego) - 2 ||
	    memcmp(cur_ptr(&oid), oid_spnego + 2, sizeof(oid_spnego) - 2) != 0 ||
	    der_expect(&app, TAG_CTX(0), &ctx0) != 0 || cursor_left(&app) != 0 ||
	    der_explicit(&ctx0, TAG_SEQUENCE, &seq) != 0)
		return SMBG_EPROTO;
	while (cursor_left(&seq) > 0) {
		uint8_t tag;
		if (der_get(&seq, &tag, &v) != 0 || (tag & 0xe0) != 0xa0 ||
		    (int)(tag & 0x1f) <= last)
			return SMBG_EPROTO;
		last = tag & 0x1f;
		switch (last) {
		case 0: /* mechTypes */
			if (der_explicit(&v, TAG_SEQUENCE, &list) != 0)
				return SMBG_EPROTO;
			while (cursor_left(&list) > 0) {
				if (out->mech_count >= SPNEGO_MECHS_MAX ||
				    der_expect(&list, TAG_OID, &m) != 0)
					return SMBG_EPROTO;
				out->mech_count++;
				if (spnego_oid_is_ntlmssp(cur_ptr(&m), cursor_left(&m)))
					out->offers_ntlmssp = 1;
			}
			break;
		case 2: /* mechToken */
			if (der_explicit(&v, TAG_OCTETSTRING, &x) != 0)
				return SMBG_EPROTO;
			out->mech_token = cur_ptr(&x);
			out->mech_token_len = cursor_left(&x);
			break;
		default:
			/* reqFlags, negHints (NegTokenInit2) or mechListMIC: not needed. */
			break;
		}
	}
	return 0;
}

/* --- Writing ------------------------------------------------------------------------------ */

static size_t der_len_size(size_t n)
{
	return n < 0x80 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : n <= 0xffffff ? 4 : 5;
}

static size_t der_tlv_size(size_t n)
{
	return 1 + der_len_size(n) + n;
}

static void der_put_hdr(struct wbuf *out, uint8_t tag, size_t n)
{
	size_t ls = der_len_size(n);

	wbuf_put_u8(out, tag);
	if (ls == 1) {
		wbuf_put_u8(out, (uint8_t)n);
		return;
	}
	wbuf_put_u8(out, (uint8_t)(0x80 | (ls - 1)));
	for (size_t i = ls - 1; i > 0; i--)
		wbuf_put_u8(out, (uint8_t)(n >> (8 * (i - 1))));
}

int spnego_encode_init(struct wbuf *out, const uint8_t *tok, size_t tok_len)
{
	size_t a0, a2 = 0, seq, ctx0, app;

	if (tok_len > SPNEGO_TOKEN_MAX || (tok_len && !tok))
		return SMBG_EINVAL;
	a0 = der_tlv_size(sizeof(spnego_mech_types_ntlmssp));
	if (tok)
		a2 = der_tlv_size(der_tlv_size(tok_len));
	seq = der_tlv_size(a0 + a2);
	ctx0 = der_tlv_size(seq);
	app = sizeof(oid_spnego) + ctx0;

	der_put_hdr(out, TAG_APP0, app);
	wbuf_put_bytes(out, oid_spnego, sizeof(oid_spnego));
	der_put_hdr(out, TAG_CTX(0), seq);
	der_put_hdr(out, TAG_SEQUENCE, a0 + a2);
	der_put_hdr(out, TAG_CTX(0), sizeof(spnego_mech_types_ntlmssp));
	wbuf_put_bytes(out, spnego_mech_types_ntlmssp, sizeof(spnego_mech_types_ntlmssp));
	if (tok) {
		der_put_hdr(out, TAG_CTX(2), der_tlv_size(tok_len));
		der_put_hdr(out, TAG_OCTETSTRING, tok_len);
		wbuf_put_bytes(out, tok, tok_len);
	}
	return wbuf_error(out);
}

int spnego_encode_resp(struct wbuf *out, enum spnego_neg_state st, const uint8_t *tok,
		       size_t tok_len, const uint8_t *mic, size_t mic_len)
{
	size_t body = 0;

	if (tok_len > SPNEGO_TOKEN_MAX || mic_len > SPNEGO_TOKEN_MAX ||
	    (st != SPNEGO_ABSENT && (st < SPNEGO_ACCEPT_COMPLETED || st > SPNEGO_REQUEST_MIC)))
		return SMBG_EINVAL;
	if (st != SPNEGO_ABSENT)
		body += der_tlv_size(der_tlv_size(1));
	if (tok)
		body += der_tlv_size(der_tlv_size(tok_len));
	if (mic)
		body += der_tlv_size(der_tlv_size(mic_len));

	der_put_hdr(out, TAG_CTX(1), der_tlv_size(body));
	der_put_hdr(out, TAG_SEQUENCE, body);
	if (st != SPNEGO_ABSENT) {
		der_put_hdr(out, TAG_CTX(0), der_tlv_size(1));
		der_put_hdr(out, TAG_ENUMERATED, 1);
		wbuf_put_u8(out, (uint8_t)st);
	}
	if (tok) {
		der_put_hdr(out, TAG_CTX(2), der_tlv_size(tok_len));
		der_put_hdr(out, TAG_OCTETSTRING, tok_len);
		wbuf_put_bytes(out, tok, tok_len);
	}
	if (mic) {
		der_put_hdr(out, TAG_CTX(3), der_tlv_size(mic_len));
		der_put_hdr(out, TAG_OCTETSTRING, mic_len);
		wbuf_put_bytes(out, mic, mic_len);
	}
	return wbuf_error(out);
}
