/* SMB2 NEGOTIATE (MS-SMB2 2.2.3, 2.2.4): dialects between the URL's min and max protocol, and
 * for 3.1.1 the preauth integrity (SHA-512), encryption and signing contexts. */
#include <stdlib.h>
#include <string.h>

#include "smb/reply.h"
#include "smb/smb2/smb2.h"
#include "util/log.h"

#define DEFAULT_IO_SIZE (1024 * 1024) /* per request, unless the URL asks for more */
#define MAX_IO_SIZE	(8 * 1024 * 1024)

static const uint16_t all_dialects[] = {SMB_DIALECT_2_0_2, SMB_DIALECT_2_1, SMB_DIALECT_3_0,
					SMB_DIALECT_3_0_2, SMB_DIALECT_3_1_1};
static const uint16_t ciphers[] = {SMB2_CIPHER_AES128_GCM, SMB2_CIPHER_AES128_CCM,
				   SMB2_CIPHER_AES256_GCM, SMB2_CIPHER_AES256_CCM};
static const uint16_t sign_algs[] = {SMB2_SIGN_AES_CMAC, SMB2_SIGN_AES_GMAC, SMB2_SIGN_HMAC_SHA256};

/* Contexts are 8-aligned relative to the SMB2 header, which starts at hdr_at in b. */
static void put_context(struct wbuf *b, size_t hdr_at, uint16_t type, const struct wbuf *data)
{
	while ((b->len - hdr_at) & 7)
		wbuf_put_u8(b, 0);
	wbuf_put_le16(b, type);
	wbuf_put_le16(b, (uint16_t)data->len);
	wbuf_put_le32(b, 0);
	wbuf_put_bytes(b, data->p, data->len);
}

static int build_contexts(struct wbuf *b, size_t hdr_at)
{
	struct wbuf d;
	uint8_t salt[32];
	if (smb_random(salt, sizeof(salt)) < 0)
		return SMBG_ECRYPTO;
	wbuf_init(&d);
	wbuf_put_le16(&d, 1);
	wbuf_put_le16(&d, sizeof(salt));
	wbuf_put_le16(&d, SMB2_PREAUTH_SHA512);
	wbuf_put_bytes(&d, salt, sizeof(salt));
	put_context(b, hdr_at, SMB2_PREAUTH_INTEGRITY_CAPABILITIES, &d);
	wbuf_reset(&d);
	wbuf_put_le16(&d, sizeof(ciphers) / sizeof(ciphers[0]));
	for (size_t i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++)
		wbuf_put_le16(&d, ciphers[i]);
	put_context(b, hdr_at, SMB2_ENCRYPTION_CAPABILITIES, &d);
	wbuf_reset(&d);
	wbuf_put_le16(&d, sizeof(sign_algs) / sizeof(sign_algs[0]));
	for (size_t i = 0; i < sizeof(sign_algs) / sizeof(sign_algs[0]); i++)
		wbuf_put_le16(&d, sign_algs[i]);
	put_context(b, hdr_at, SMB2_SIGNING_CAPABILITIES, &d);
	int rc = wbuf_error(&d);
	wbuf_free(&d);
	return rc;
}

static int parse_contexts(const struct smb2_msg *m, uint32_t off, uint16_t count,
			  struct smb2_negotiate_resp *r)
{
	if (count > 32 || off < SMB2_HDR_SIZE || off > m->len)
		return SMBG_EPROTO;
	struct cursor c;
	cursor_init(&c, m->p, m->len);
	if (cursor_seek(&c, off) != 0)
		return SMBG_EPROTO;
	for (uint16_t i = 0; i < count; i++) {
		uint16_t type, dlen, n;
		uint32_t reserved;
		size_t pad = (8 - (c.off & 7)) & 7;
		if (i > 0 && cursor_skip(&c, pad) != 0)
			return SMBG_EPROTO;
		if (cursor_get_le16(&c, &type) != 0 || cursor_get_le16(&c, &dlen) != 0 ||
		    cursor_get_le32(&c, &reserved) != 0)
			return SMBG_EPROTO;
		struct cursor d;
		if (cursor_sub(&c, c.off, dlen, &d) != 0 || cursor_skip(&c, dlen) != 0)
			return SMBG_EPROTO;
		switch (type) {
		case SMB2_PREAUTH_INTEGRITY_CAPABILITIES:
			if (cursor_get_le16(&d, &n) != 0 || n != 1 || cursor_skip(&d, 2) != 0 ||
			    cursor_get_le16(&d, &r->preauth_hash_alg) != 0)
				return SMBG_EPROTO;
			break;
		case SMB2_ENCRYPTION_CAPABILITIES:
			if (cursor_get_le16(&d, &n) != 0 || n != 1 ||
			    cursor_get_le16(&d, &r->cipher) != 0)
				return SMBG_EPROTO;
			break;
		case SMB2_SIGNING_CAPABILITIES:
			if (cursor_get_le16(&d, &n) != 0 || n != 1 ||
			    cursor_get_le16(&d, &r->sign_alg) != 0)
				return SMBG_EPROTO;
			r->have_sign_ctx = 1;
			break;
		default:
			break; /* contexts we did not ask for are ignored */
		}
	}
	return 0;
}

int smb2_negotiate_parse(const struct smb2_msg *m, struct smb2_negotiate_resp *r)
{
	struct cursor c;
	uint16_t size, ctx_count, blob_off, blob_len;
	uint32_t ctx_off;
	memset(r, 0, sizeof(*r));
	cursor_init(&c, m->p, m->len);
	if (cursor_seek(&c, SMB2_HDR_SIZE) != 0 || cursor_get_le16(&c, &size) != 0 ||
	    cursor_get_le16(&c, &r->security_mode) != 0 || cursor_get_le16(&c, &r->dialect) != 0 ||
	    cursor_get_le16(&c, &ctx_count) != 0 || cursor_get_bytes(&c, r->server_guid, 16) != 0 ||
	    cursor_get_le32(&c, &r->capabilities) != 0 || cursor_get_le32(&c, &r->max_trans) != 0 ||
	    cursor_get_le32(&c, &r->max_read) != 0 || cursor_get_le32(&c, &r->max_write) != 0 ||
	    cursor_skip(&c, 16) != 0 || cursor_get_le16(&c, &blob_off) != 0 ||
	    cursor_get_le16(&c, &blob_len) != 0 || cursor_get_le32(&c, &ctx_off) != 0)
		return SMBG_EPROTO;
	struct cursor blob;
	if (smb2_msg_buffer(m, blob_off, blob_len, &blob) != 0)
		return SMBG_EPROTO;
	r->blob = blob.p;
	r->blob_len = blob.len;
	if (r->dialect == SMB_DIALECT_3_1_1)
		return parse_contexts(m, ctx_off, ctx_count, r);
	return 0;
}

static uint32_t io_size(uint32_t server, uint32_t wanted, int large_mtu, int netbios)
{
	uint32_t v = wanted ? wanted : DEFAULT_IO_SIZE;
	if (v > server)
		v = server;
	if (v > MAX_IO_SIZE)
		v = MAX_IO_SIZE;
	/* Without LARGE_MTU one request moves at most 64 KiB; NetBIOS frames carry 17 bits. */
	if ((!large_mtu || netbios) && v > 65536)
		v = 65536;
	return v;
}

/* Applies an SMB2 NEGOTIATE response: ours, or the one a server sent to the SMB1 multi-protocol
 * NEGOTIATE when it chose 2.0.2 there (MS-SMB2 3.2.5.2). */
int smb2_negotiate_finish(struct smb_client *c, const uint8_t *msg, size_t len)
{
	struct smb2_state *s = c->s2;
	uint16_t lo = c->url.min_protocol, hi = c->url.max_protocol;
	int rc;
	struct smb2_msg m;
	struct smb2_negotiate_resp nr;
	rc = smb2_check_message(msg, len, &m);
	if (rc == 0 && m.status != STATUS_SUCCESS) {
		rc = smb_fail(c, SMBG_ENOPROTO, m.status, "negotiate", NULL);
		goto out;
	}
	if (rc == 0)
		rc = smb2_negotiate_parse(&m, &nr);
	if (rc < 0) {
		rc = smb_failf(c, SMBG_EPROTO, "malformed NEGOTIATE response from the server");
		goto out;
	}
	if (nr.dialect < lo || nr.dialect > hi || nr.dialect == 0x02FF) {
		rc = smb_failf(c, SMBG_ENOPROTO, "the server chose dialect 0x%04x, outside %s..%s",
			       nr.dialect, smb_dialect_name(lo), smb_dialect_name(hi));
		goto out;
	}
	c->dialect = nr.dialect;
	s->server_security_mode = nr.security_mode;
	s->server_caps = nr.capabilities;
	memcpy(s->server_guid, nr.server_guid, 16);
	s->large_mtu =
	    nr.dialect >= SMB_DIALECT_2_1 && (nr.capabilities & SMB2_GLOBAL_CAP_LARGE_MTU);
	c->max_trans = nr.max_trans;
	c->max_read = io_size(nr.max_read, c->url.read_buffer_size, s->large_mtu, c->t.netbios);
	c->max_write = io_size(nr.max_write, c->url.write_buffer_size, s->large_mtu, c->t.netbios);
	s->signing_required =
	    c->url.signing_required || (nr.security_mode & SMB2_NEGOTIATE_SIGNING_REQUIRED);
	if (nr.dialect >= SMB_DIALECT_3_1_1) {
		if (nr.preauth_hash_alg != SMB2_PREAUTH_SHA512) {
			rc = smb_failf(c, SMBG_EPROTO, "3.1.1 NEGOTIATE without SHA-512 preauth");
			goto out;
		}
		s->sign_alg = nr.have_sign_ctx ? nr.sign_alg : SMB2_SIGN_AES_CMAC;
		if (s->sign_alg > SMB2_SIGN_AES_GMAC) {
			rc = smb_failf(c, SMBG_EPROTO, "unknown signing algorithm %u", s->sign_alg);
			goto out;
		}
		s->cipher = nr.cipher;
		if (s->cipher > SMB2_CIPHER_AES256_GCM) {
			rc = smb_failf(c, SMBG_EPROTO, "unknown cipher %u", s->cipher);
			goto out;
		}
		struct iovec resp = {(void *)msg, len};
		if ((rc = smb2_preauth_update(s->preauth, &resp, 1)) < 0)
			goto out;
	} else if (nr.dialect >= SMB_DIALECT_3_0) {
		s->sign_alg = SMB2_SIGN_AES_CMAC;
		s->cipher = (nr.capabilities & SMB2_GLOBAL_CAP_ENCRYPTION) ? SMB2_CIPHER_AES128_CCM
									   : SMB2_CIPHER_NONE;
	} else {
		s->sign_alg = SMB2_SIGN_HMAC_SHA256;
		s->cipher = SMB2_CIPHER_NONE;
	}
	if (nr.blob_len) {
		s->security_blob = malloc(nr.blob_len);
		if (!s->security_blob) {
			rc = SMBG_ENOMEM;
			goto out;
		}
		memcpy(s->security_blob, nr.blob, nr.blob_len);
		s->security_blob_len = nr.blob_len;
	}
	log_debug("negotiated SMB %s, max read %u write %u, signing %s (alg %u), cipher %u",
		  smb_dialect_name(c->dialect), c->max_read, c->max_write,
		  s->signing_required ? "required" : "off", s->sign_alg, s->cipher);
	rc = 0;
out:
	return rc;
}

int smb2_negotiate(struct smb_client *c)
{
	struct smb2_state *s = c->s2;
	uint16_t lo = c->url.min_protocol, hi = c->url.max_protocol;
	struct smb2_req *r = smb2_req_new(c, SMB2_NEGOTIATE, smb2_done_reply);
	if (!r)
		return SMBG_ENOMEM;
	struct smb_reply x = {0};
	r->ctx = &x;
	struct wbuf *b = &r->pdu;
	size_t body = b->len; /* header starts at body - 64 */
	size_t hdr = body - SMB2_HDR_SIZE;
	uint16_t n = 0;
	for (size_t i = 0; i < sizeof(all_dialects) / sizeof(all_dialects[0]); i++)
		if (all_dialects[i] >= lo && all_dialects[i] <= hi)
			n++;
	if (n == 0) {
		smb2_req_free(r);
		return smb_failf(c, SMBG_ENOPROTO,
				 "no SMB2/3 dialect between min-protocol %s and "
				 "max-protocol %s",
				 smb_dialect_name(lo), smb_dialect_name(hi));
	}
	int want_311 = hi >= SMB_DIALECT_3_1_1;
	uint16_t secmode = SMB2_NEGOTIATE_SIGNING_ENABLED;
	if (c->url.signing_required)
		secmode |= SMB2_NEGOTIATE_SIGNING_REQUIRED;
	s->client_security_mode = secmode;
	s->client_caps = SMB2_GLOBAL_CAP_DFS | SMB2_GLOBAL_CAP_LARGE_MTU |
			 (hi >= SMB_DIALECT_3_0 ? SMB2_GLOBAL_CAP_ENCRYPTION : 0);
	wbuf_put_le16(b, 36);
	wbuf_put_le16(b, n);
	wbuf_put_le16(b, secmode);
	wbuf_put_le16(b, 0);
	wbuf_put_le32(b, s->client_caps);
	wbuf_put_bytes(b, s->client_guid, 16);
	size_t ctx_field = b->len;
	wbuf_put_le32(b, 0); /* NegotiateContextOffset, or ClientStartTime */
	wbuf_put_le16(b, 0); /* NegotiateContextCount */
	wbuf_put_le16(b, 0);
	s->ndialects = 0;
	for (size_t i = 0; i < sizeof(all_dialects) / sizeof(all_dialects[0]); i++)
		if (all_dialects[i] >= lo && all_dialects[i] <= hi) {
			wbuf_put_le16(b, all_dialects[i]);
			s->dialects[s->ndialects++] = all_dialects[i];
		}
	if (want_311) {
		/* Contexts start 8-aligned from the header. */
		while ((b->len - hdr) & 7)
			wbuf_put_u8(b, 0);
		wbuf_set_le32(b, ctx_field, (uint32_t)(b->len - hdr));
		wbuf_set_le16(b, ctx_field + 4, 3);
		int rc = build_contexts(b, hdr);
		if (rc < 0) {
			smb2_req_free(r);
			return rc;
		}
	}
	r->preauth = 1;
	memset(s->preauth, 0, sizeof(s->preauth));
	int rc = smb_reply_wait(c, smb2_submit(c, r), &x);
	if (rc < 0) {
		free(x.msg);
		if (rc == SMBG_ECLOSED)
			return smb_failf(c, rc,
					 "the server closed the connection during "
					 "NEGOTIATE: it may not speak SMB2/3 in the range "
					 "%s..%s (try min-protocol/max-protocol)",
					 smb_dialect_name(lo), smb_dialect_name(hi));
		return rc;
	}
	rc = smb2_negotiate_finish(c, x.msg, x.len);
	free(x.msg);
	return rc;
}
