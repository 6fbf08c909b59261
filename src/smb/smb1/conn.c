/* SMB1 connection core: MIDs and the MaxMpxCount window, signing of requests, and the dispatch
 * of responses (validate, verify, match by MID, reassemble TRANSACTION2 replies, acknowledge
 * oplock breaks).
 *
 * MaxMpxCount (MS-CIFS 3.2.4.1.x): the server accepts at most that many requests in flight; the
 * rest wait in a FIFO until responses free a slot. A MID is unique among requests in flight;
 * 0xFFFF is the server's (oplock break requests). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "smb/reply.h"
#include "smb/smb1/smb1.h"
#include "util/log.h"
#include "util/utf16.h"

#define DEFAULT_SEARCH_COUNT 1024

int smb1_state_init(struct smb_client *c)
{
	struct smb1_state *s = calloc(1, sizeof(*s));
	if (!s)
		return SMBG_ENOMEM;
	s->next_mid = 1;
	s->max_mpx = 1; /* until NEGOTIATE says more */
	s->search_count = DEFAULT_SEARCH_COUNT;
	pid_t pid = getpid();
	s->pid_low = (uint16_t)pid ? (uint16_t)pid : 1;
	s->pid_high = (uint16_t)((uint32_t)pid >> 16);
	c->s1 = s;
	return 0;
}

struct smb1_req *smb1_req_new(struct smb_client *c, uint8_t command, smb1_done_fn done)
{
	struct smb1_state *s = smb1_st(c);
	struct smb1_req *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	wbuf_init(&r->pdu);
	if (!wbuf_append(&r->pdu, 4)) {
		free(r);
		return NULL;
	}
	uint16_t flags2 = SMB1_FLAGS2_LONG_NAMES | SMB1_FLAGS2_IS_LONG_NAME;
	if (s->unicode)
		flags2 |= SMB1_FLAGS2_UNICODE;
	if (s->nt_status)
		flags2 |= SMB1_FLAGS2_NT_STATUS;
	if (s->ext_sec)
		flags2 |= SMB1_FLAGS2_EXTENDED_SECURITY;
	struct wbuf *b = &r->pdu;
	wbuf_put_bytes(b, "\xffSMB", 4);
	wbuf_put_u8(b, command);
	wbuf_put_le32(b, 0); /* Status */
	/* Caseless paths, as Windows clients send them: names match whatever their case. */
	wbuf_put_u8(b, SMB1_FLAGS_CASE_INSENSITIVE | SMB1_FLAGS_CANONICALIZED_PATHS);
	wbuf_put_le16(b, flags2);
	wbuf_put_le16(b, s->pid_high);
	wbuf_put_zero(b, 8); /* SecuritySignature */
	wbuf_put_le16(b, 0); /* Reserved */
	wbuf_put_le16(b, s->tid);
	wbuf_put_le16(b, s->pid_low);
	wbuf_put_le16(b, s->uid);
	wbuf_put_le16(b, 0); /* MID: at send time */
	r->command = command;
	r->done = done;
	return r;
}

void smb1_req_free(struct smb1_req *r)
{
	if (!r)
		return;
	wbuf_free(&r->pdu);
	smb1_trans_free(r->trans);
	free(r->path);
	free(r);
}

void smb1_words_begin(struct smb1_req *r, uint8_t wct)
{
	wbuf_put_u8(&r->pdu, wct);
}

void smb1_bytes_begin(struct smb1_req *r)
{
	r->bcc_at = r->pdu.len;
	wbuf_put_le16(&r->pdu, 0);
}

void smb1_bytes_end(struct smb1_req *r)
{
	if (r->bcc_at) {
		wbuf_set_le16(&r->pdu, r->bcc_at, (uint16_t)(r->pdu.len - r->bcc_at - 2));
		r->bcc_at = 0;
	}
}

void smb1_req_add_flags2(struct smb1_req *r, uint16_t bits)
{
	/* Flags2 is at offset 10 of the header, after the 4 spare bytes. */
	const uint8_t *h = r->pdu.p + 4;
	wbuf_set_le16(&r->pdu, 4 + 10, (uint16_t)(h[10] | (h[11] << 8) | bits));
}

size_t smb1_hdr_off(const struct smb1_req *r)
{
	return r->pdu.len - 4;
}

void smb1_complete(struct smb_client *c, struct smb1_req *r, int rc)
{
	if (r->cb) {
		smb_cb cb = r->cb;
		r->cb = NULL;
		cb(c, rc, r->priv);
	}
}

int smb1_status_err(struct smb_client *c, const struct smb1_msg *m, const char *op,
		    const char *path)
{
	uint32_t st = m->status;
	if ((st & 0xFF000000u) == 0xF1000000u) {
		/* A DOS error with no NTSTATUS equivalent: name the class and code. */
		int rc;
		if (path)
			rc = smb_failf(c, SMBG_EIO, "%s %s: DOS error class %u code %u", op,
				       *path ? path : "/", (st >> 16) & 0xFF, st & 0xFFFF);
		else
			rc = smb_failf(c, SMBG_EIO, "%s: DOS error class %u code %u", op,
				       (st >> 16) & 0xFF, st & 0xFFFF);
		c->last_status = st;
		return rc;
	}
	return smb_fail(c, smbg_err_from_ntstatus(st), st, op, path);
}

void smb1_done_status(struct smb_client *c, struct smb1_req *r, int err, const struct smb1_msg *m)
{
	int rc = err;
	if (rc == 0 && m->status != SMB1_STATUS_SUCCESS)
		rc = smb1_status_err(c, m, r->ctx ? (const char *)r->ctx : "request",
				     r->file ? r->file->path : r->path);
	smb1_complete(c, r, rc);
}

void smb1_done_reply(struct smb_client *c, struct smb1_req *r, int err, const struct smb1_msg *m)
{
	smb_reply_keep(r->ctx, err, m ? m->p : NULL, m ? m->len : 0);
}

/* ---- strings ---- */

static int put_oem(struct wbuf *b, const char *s, int path)
{
	for (const char *p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		/* Without Unicode only ASCII travels safely: the server's OEM code page is
		 * unknown. */
		if (ch >= 0x80)
			return SMBG_ENAME;
		wbuf_put_u8(b, path && ch == '/' ? '\\' : ch);
	}
	wbuf_put_u8(b, 0);
	return 0;
}

int smb1_put_string_raw(const struct smb_client *c, struct wbuf *b, const char *s, int path)
{
	if (!smb1_st(c)->unicode)
		return put_oem(b, s, path);
	int rc = utf16_from_utf8(b, s, strlen(s), path ? UTF16_SLASH_TO_BACKSLASH : 0);
	if (rc < 0)
		return rc;
	wbuf_put_le16(b, 0);
	return 0;
}

int smb1_put_string(struct smb_client *c, struct smb1_req *r, const char *s, int path)
{
	/* Unicode strings start on an even offset from the header (MS-CIFS 2.2.3.3). */
	if (smb1_st(c)->unicode && (smb1_hdr_off(r) & 1))
		wbuf_put_u8(&r->pdu, 0);
	return smb1_put_string_raw(c, &r->pdu, s, path);
}

int smb1_get_string(int unicode, const uint8_t *p, size_t len, char **out)
{
	*out = NULL;
	if (unicode) {
		/* Up to the first U+0000; the length may count a terminator and padding. */
		size_t n = 0;
		while (n + 1 < len && (p[n] | p[n + 1]))
			n += 2;
		return utf16_to_utf8(p, n, out, 0);
	}
	/* OEM: ASCII passes; other bytes are taken as Latin-1 (the code page is unknown). */
	size_t n = 0;
	while (n < len && p[n])
		n++;
	char *s = malloc(2 * n + 1);
	if (!s)
		return SMBG_ENOMEM;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x80) {
			s[o++] = (char)p[i];
		} else {
			s[o++] = (char)(0xC0 | (p[i] >> 6));
			s[o++] = (char)(0x80 | (p[i] & 0x3F));
		}
	}
	s[o] = 0;
	*out = s;
	return 0;
}

/* ---- per-handle state ---- */

struct smb1_handle *smb1_handle_get(struct smb_file *f)
{
	struct smb1_handle *h;
	memcpy(&h, f->fid, sizeof(h));
	return h;
}

struct smb1_handle *smb1_handle_attach(struct smb_client *c, struct smb_file *f)
{
	struct smb1_state *s = smb1_st(c);
	struct smb1_handle *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->f = f;
	h->next = s->handles;
	if (s->handles)
		s->handles->prev = h;
	s->handles = h;
	memcpy(f->fid, &h, sizeof(h));
	return h;
}

static void handle_free(struct smb1_state *s, struct smb1_handle *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		s->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	free(h->resume_name);
	free(h);
}

void smb1_handle_release(struct smb_client *c, struct smb_file *f)
{
	struct smb1_handle *h = smb1_handle_get(f);
	if (!h)
		return;
	handle_free(smb1_st(c), h);
	memset(f->fid, 0, sizeof(f->fid));
}

/* ---- requests in flight ---- */

static struct smb1_req *req_of(struct smb_pending_entry *e)
{
	return smb_pending_owner(e, struct smb1_req, pend);
}

static struct smb1_req *pending_find(struct smb1_state *s, uint16_t mid, int remove)
{
	return req_of(remove ? smb_pending_take(&s->pending, mid)
			     : smb_pending_find(&s->pending, mid));
}

size_t smb1_pending(const struct smb_client *c)
{
	const struct smb1_state *s = smb1_st(c);
	return s ? s->pending.n : 0;
}

static uint16_t alloc_mid(struct smb1_state *s)
{
	for (;;) {
		uint16_t mid = s->next_mid++;
		if (mid == 0 || mid == SMB1_MID_OPLOCK)
			continue;
		if (!pending_find(s, mid, 0))
			return mid;
	}
}

static int send_now(struct smb_client *c, struct smb1_req *r)
{
	struct smb1_state *s = smb1_st(c);
	int rc = wbuf_error(&r->pdu);
	if (rc < 0)
		return rc;
	uint8_t *h = r->pdu.p + 4;
	size_t hlen = r->pdu.len - 4;
	r->mid = alloc_mid(s);
	wbuf_set_le16(&r->pdu, 4 + 30, r->mid);
	if (s->sign) {
		/* Each request takes a sequence number, its response the next one
		 * (MS-CIFS 3.2.4.1.3); a request without a response takes one only. */
		r->seq = s->seq;
		s->seq += r->oneway ? 1 : 2;
		smb1_req_add_flags2(r, SMB1_FLAGS2_SECURITY_SIGNATURE);
		rc = smb1_sign_message(s->mac_key, s->mac_key_len, r->seq, h, hlen, r->payload,
				       r->payload_len);
		if (rc < 0)
			return rc;
	}
	size_t len;
	uint8_t *buf = wbuf_take(&r->pdu, &len);
	rc = smb_transport_queue(&c->t, buf, len, r->payload, r->payload_len);
	if (rc < 0)
		return rc;
	log_trace("smb1 -> cmd 0x%02x mid %u seq %u", r->command, r->mid, r->seq);
	if (r->oneway) {
		smb1_req_free(r);
		return 0;
	}
	r->deadline = c->timeout_ms > 0 ? clock_now_ms() + c->timeout_ms : 0;
	smb_pending_add(&s->pending, &r->pend, r->mid);
	return 0;
}

int smb1_submit(struct smb_client *c, struct smb1_req *r)
{
	struct smb1_state *s = smb1_st(c);
	if (c->dead) {
		smb1_req_free(r);
		return c->dead;
	}
	if (r->bcc_at) {
		/* Large WRITE_ANDX data does not fit ByteCount: servers take the length from
		 * DataLength and ignore the high bits here (MS-SMB 2.2.4.3.1). */
		size_t n = r->pdu.len - r->bcc_at - 2 + r->payload_len;
		wbuf_set_le16(&r->pdu, r->bcc_at, (uint16_t)n);
		r->bcc_at = 0;
	}
	int rc = wbuf_error(&r->pdu);
	if (rc < 0) {
		smb1_req_free(r);
		return rc;
	}
	if (s->waitq_head || s->pending.n >= s->max_mpx) {
		/* Waiting for a free slot has a deadline too. */
		r->deadline = c->timeout_ms > 0 ? clock_now_ms() + c->timeout_ms : 0;
		if (s->waitq_tail)
			s->waitq_tail->next = r;
		else
			s->waitq_head = r;
		s->waitq_tail = r;
		return 0;
	}
	rc = send_now(c, r);
	if (rc < 0)
		smb1_req_free(r);
	return rc;
}

static void drain_waitq(struct smb_client *c)
{
	struct smb1_state *s = smb1_st(c);
	while (s->waitq_head && s->pending.n < s->max_mpx && !c->dead) {
		struct smb1_req *r = s->waitq_head;
		s->waitq_head = r->next;
		if (!s->waitq_head)
			s->waitq_tail = NULL;
		r->next = NULL;
		int rc = send_now(c, r);
		if (rc < 0) {
			r->done(c, r, rc, NULL);
			smb1_req_free(r);
		}
	}
}

/* ---- responses ---- */

/* The server answered the multi-protocol NEGOTIATE in SMB2: keep the message for the SMB2
 * code and finish the pending NEGOTIATE (done with err 0 and no message). */
static int smb2_answer(struct smb_client *c, const uint8_t *buf, size_t len)
{
	struct smb1_state *s = smb1_st(c);
	struct smb1_req *r = NULL;
	for (struct smb_pending_entry *e = smb_pending_next(&s->pending, NULL); e && !r;
	     e = smb_pending_next(&s->pending, e))
		if (req_of(e)->command == SMB1_COM_NEGOTIATE)
			r = req_of(e);
	if (!s->negotiating || !r || s->smb2_reply)
		return smb_failf(c, SMBG_EPROTO, "unexpected SMB2 message on an SMB1 connection");
	s->smb2_reply = malloc(len);
	if (!s->smb2_reply)
		return SMBG_ENOMEM;
	memcpy(s->smb2_reply, buf, len);
	s->smb2_reply_len = len;
	(void)pending_find(s, r->mid, 1);
	r->done(c, r, 0, NULL);
	smb1_req_free(r);
	return 0;
}

static int unsolicited(struct smb_client *c, const struct smb1_msg *m)
{
	if (m->command == SMB1_COM_LOCKING_ANDX && m->mid == SMB1_MID_OPLOCK) {
		/* We ask for no oplocks; a server that grants or breaks one anyway gets its
		 * acknowledgement so it does not stall other clients. */
		log_debug("smb1: oplock break request from the server: acknowledging");
		int rc = smb1_oplock_ack(c, m);
		return rc < 0 ? smb_failf(c, rc, "cannot acknowledge an oplock break") : 0;
	}
	log_debug("smb1: ignoring request 0x%02x from the server", m->command);
	return 0;
}

static int fail_req(struct smb_client *c, struct smb1_req *r, int err)
{
	struct smb1_state *s = smb1_st(c);
	(void)pending_find(s, r->mid, 1);
	r->done(c, r, err, NULL);
	smb1_req_free(r);
	return err;
}

int smb1_frame(struct smb_client *c, uint8_t *buf, size_t len)
{
	struct smb1_state *s = smb1_st(c);
	struct smb1_msg m;
	int rc;
	if (len >= 4 && buf[0] == 0xFE && memcmp(buf + 1, "SMB", 3) == 0)
		return smb2_answer(c, buf, len);
	if (smb1_check_request(buf, len, &m) != 0)
		return smb_failf(c, SMBG_EPROTO, "malformed SMB1 message from the server");
	if (!(m.flags & SMB1_FLAGS_REPLY))
		return unsolicited(c, &m);
	struct smb1_req *r = pending_find(s, m.mid, 0);
	if (!r) {
		log_debug("smb1: response for unknown MID %u dropped", m.mid);
		return 0;
	}
	if (m.command != r->command) {
		fail_req(c, r, SMBG_EPROTO);
		return smb_failf(c, SMBG_EPROTO, "SMB1 response command 0x%02x for request 0x%02x",
				 m.command, r->command);
	}
	if (s->sign) {
		rc = smb1_verify_message(s->mac_key, s->mac_key_len, r->seq + 1, buf, len);
		if (rc < 0) {
			fail_req(c, r, rc);
			return smb_failf(c, rc,
					 "bad signature on an SMB1 response: the connection "
					 "may be tampered with");
		}
	}
	if (r->trans &&
	    (m.status == SMB1_STATUS_SUCCESS || m.status == SMB1_STATUS_BUFFER_OVERFLOW)) {
		rc = smb1_trans2_collect(r->trans, &m);
		if (rc < 0) {
			fail_req(c, r, rc);
			return smb_failf(c, rc, "malformed TRANSACTION2 response from the server");
		}
		if (rc == 0) {
			/* More parts follow; the server is answering, so the clock restarts. */
			r->deadline = c->timeout_ms > 0 ? clock_now_ms() + c->timeout_ms : 0;
			return 0;
		}
	}
	(void)pending_find(s, r->mid, 1);
	r->done(c, r, 0, &m);
	smb1_req_free(r);
	drain_waitq(c);
	return 0;
}

void smb1_fail_all(struct smb_client *c, int err)
{
	struct smb1_state *s = smb1_st(c);
	if (!s)
		return;
	while (s->waitq_head) {
		struct smb1_req *r = s->waitq_head;
		s->waitq_head = r->next;
		r->done(c, r, err, NULL);
		smb1_req_free(r);
	}
	s->waitq_tail = NULL;
	struct smb1_req *r;
	while ((r = req_of(smb_pending_pop(&s->pending)))) {
		r->done(c, r, err, NULL);
		smb1_req_free(r);
	}
}

int64_t smb1_next_deadline(const struct smb_client *c)
{
	const struct smb1_state *s = smb1_st(c);
	int64_t d = 0;
	if (!s)
		return 0;
	for (struct smb_pending_entry *e = smb_pending_next(&s->pending, NULL); e;
	     e = smb_pending_next(&s->pending, e)) {
		int64_t x = req_of(e)->deadline;
		if (x && (!d || x < d))
			d = x;
	}
	/* The queue is in submission order: its head waits longest. */
	if (s->waitq_head && s->waitq_head->deadline && (!d || s->waitq_head->deadline < d))
		d = s->waitq_head->deadline;
	return d;
}

void smb1_state_free(struct smb_client *c)
{
	struct smb1_state *s = smb1_st(c);
	if (!s)
		return;
	smb1_fail_all(c, SMBG_ECANCELED);
	/* h->f is not touched: a file freed without our close may be gone already. */
	while (s->handles)
		handle_free(s, s->handles);
	free(s->server_domain);
	free(s->server_name);
	free(s->security_blob);
	free(s->smb2_reply);
	if (s->mac_key) {
		OPENSSL_cleanse(s->mac_key, s->mac_key_len);
		free(s->mac_key);
	}
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
	c->s1 = NULL;
}
