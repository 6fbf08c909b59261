/* SMB2 connection core: message ids and credits, signing and encryption of requests, and the
 * dispatch of responses (decrypt, split compounds, validate, verify, match by MessageId).
 *
 * Credits (MS-SMB2 3.2.4.1.5): a request costs CreditCharge = ceil(payload / 64 KiB) credits
 * (1 when the server lacks LARGE_MTU, where payloads stay <= 64 KiB) and consumes that many
 * message ids. Requests that find too few credits wait in a FIFO until responses grant more.
 *
 * Deadlines: a request in flight has until sent + timeout for its answer; one waiting for
 * credits until queued + timeout to be sent. An interim answer (STATUS_PENDING, the server
 * works on it asynchronously) restarts the clock, but never past sent + SMB2_PENDING_FACTOR x
 * timeout: a server that keeps saying "pending" cannot hold a request for ever.
 *
 * Trust: the credits a response grants and what an interim answer says are used only once the
 * message has passed the session's checks (signature verified, or decrypted). MS-SMB2 3.3.4.1.1
 * lets a server send interim answers unsigned; on a signing session such an answer is
 * ignored (its grant is not counted and it extends no deadline). */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "smb/reconnect.h"
#include "smb/reply.h"
#include "smb/smb2/smb2.h"
#include "util/log.h"
#include "util/utf16.h"

#define CREDIT_TARGET 512 /* keep about this many credits on hand */
#define CREDIT_TOP_UP 256 /* extra credits asked for when below the target */
#define CREDITS_MAX   65535
/* An interim answer extends a request's deadline up to this many timeouts after it was sent. */
#define SMB2_PENDING_FACTOR 4

static const uint8_t smb2_magic[4] = {0xFE, 'S', 'M', 'B'};
static const uint8_t transform_magic[4] = {0xFD, 'S', 'M', 'B'};

static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}
static inline uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | ((uint64_t)get_le32(p + 4) << 32);
}

int smb2_state_init(struct smb_client *c)
{
	c->s2 = calloc(1, sizeof(*c->s2));
	if (!c->s2)
		return SMBG_ENOMEM;
	c->s2->credits = 1; /* NEGOTIATE may always be sent */
	/* one ClientGuid for the client's life: durable handles are reconnected under it */
	memcpy(c->s2->client_guid, c->client_guid, 16);
	if (smb_random(c->s2->nonce_salt, 4) < 0)
		return SMBG_ECRYPTO;
	return 0;
}

struct smb2_req *smb2_req_new(struct smb_client *c, uint16_t command, smb2_done_fn done)
{
	struct smb2_req *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	wbuf_init(&r->pdu);
	uint8_t *h = wbuf_append(&r->pdu, 4 + SMB2_HDR_SIZE);
	if (!h) {
		free(r);
		return NULL;
	}
	h += 4;
	memcpy(h, smb2_magic, 4);
	put_le16(h + 4, SMB2_HDR_SIZE);
	put_le16(h + 12, command);
	r->command = command;
	r->done = done;
	r->charge = 1;
	return r;
}

void smb2_req_free(struct smb2_req *r)
{
	if (!r)
		return;
	wbuf_free(&r->pdu);
	free(r);
}

void smb2_put_fid(struct wbuf *b, const struct smb_file *f)
{
	wbuf_put_bytes(b, f->fid, 16);
}

int smb2_put_path(struct wbuf *b, const char *path)
{
	return utf16_from_utf8(b, path, strlen(path), UTF16_SLASH_TO_BACKSLASH);
}

void smb2_complete(struct smb_client *c, struct smb2_req *r, int rc)
{
	if (r->cb) {
		smb_cb cb = r->cb;
		r->cb = NULL;
		cb(c, rc, r->priv);
	}
}

int smb2_status_err(struct smb_client *c, const struct smb2_msg *m, const char *op,
		    const char *path)
{
	return smb_fail(c, smbg_err_from_ntstatus(m->status), m->status, op, path);
}

static struct smb2_req *req_of(struct smb_pending_entry *e)
{
	return smb_pending_owner(e, struct smb2_req, pend);
}

static void pending_add(struct smb2_state *s, struct smb2_req *r)
{
	smb_pending_add(&s->pending, &r->pend, r->msg_id);
}

static struct smb2_req *pending_find(struct smb2_state *s, uint64_t id, int remove)
{
	return req_of(remove ? smb_pending_take(&s->pending, id)
			     : smb_pending_find(&s->pending, id));
}

size_t smb2_pending(const struct smb_client *c)
{
	return c->s2 ? c->s2->pending.n : 0;
}

static int should_sign(const struct smb_client *c, const struct smb2_req *r)
{
	const struct smb2_state *s = c->s2;
	if (r->no_sign || !s->have_keys || s->session_id == 0)
		return 0;
	if (r->command == SMB2_NEGOTIATE)
		return 0;
	/* Encrypted messages carry no signature (MS-SMB2 3.2.4.1.1). */
	if (s->encrypt && r->command != SMB2_SESSION_SETUP)
		return 0;
	if (r->force_sign)
		return 1;
	/* 3.1.1 signs TREE_CONNECT always: it protects the negotiation (MS-SMB2 3.2.4.1.1). */
	if (c->dialect == SMB_DIALECT_3_1_1 && r->command == SMB2_TREE_CONNECT)
		return 1;
	return s->signing_required;
}

static int should_encrypt(const struct smb_client *c, const struct smb2_req *r)
{
	const struct smb2_state *s = c->s2;
	return s->encrypt && s->have_keys && r->command != SMB2_NEGOTIATE &&
	       r->command != SMB2_SESSION_SETUP;
}

int smb2_plain_payloads(const struct smb_client *c)
{
	const struct smb2_state *s = c->s2;
	return s && !s->encrypt && !s->signing_required;
}

static void make_nonce(struct smb2_state *s, uint8_t nonce[16])
{
	/* A counter with a random salt: unique per key without a random draw per message. */
	memset(nonce, 0, 16);
	put_le64(nonce, ++s->nonce_counter);
	if (smb2_cipher_nonce_len(s->cipher) == 12)
		memcpy(nonce + 8, s->nonce_salt, 4);
	else
		memcpy(nonce + 8, s->nonce_salt, 3);
}

static int queue_encrypted(struct smb_client *c, struct smb2_req *r, uint8_t *h, size_t hlen)
{
	struct smb2_state *s = c->s2;
	size_t msglen = hlen + r->payload_len;
	uint8_t *buf = malloc(4 + SMB2_TRANSFORM_SIZE + msglen);
	if (!buf)
		return SMBG_ENOMEM;
	uint8_t *th = buf + 4;
	uint8_t *body = th + SMB2_TRANSFORM_SIZE;
	memcpy(body, h, hlen);
	if (r->payload_len)
		memcpy(body + hlen, r->payload, r->payload_len);
	memcpy(th, transform_magic, 4);
	memset(th + 4, 0, 16);
	make_nonce(s, th + 20);
	put_le32(th + 36, (uint32_t)msglen);
	put_le16(th + 40, 0);
	put_le16(th + 42, 0x0001); /* Encrypted */
	put_le64(th + 44, s->session_id);
	int rc = smb2_seal(s->cipher, s->keys.encrypt, th + 20, th + 20, body, msglen, th + 4);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	return smb_transport_queue(&c->t, buf, 4 + SMB2_TRANSFORM_SIZE + msglen, NULL, 0);
}

static int send_now(struct smb_client *c, struct smb2_req *r)
{
	struct smb2_state *s = c->s2;
	int rc = wbuf_error(&r->pdu);
	if (rc < 0)
		return rc;
	uint8_t *h = r->pdu.p + 4;
	size_t hlen = r->pdu.len - 4;
	r->msg_id = s->next_msg_id;
	s->next_msg_id += r->charge;
	s->credits -= r->charge;
	uint16_t want = r->charge;
	if (s->credits < CREDIT_TARGET)
		want = (uint16_t)(want + CREDIT_TOP_UP);
	put_le16(h + 6, s->large_mtu ? r->charge : 0);
	put_le16(h + 14, want);
	uint32_t flags = r->related ? SMB2_FLAGS_RELATED : 0;
	if (r->replay)
		flags |= SMB2_FLAGS_REPLAY_OPERATION;
	memset(h + 48, 0, 16); /* a request sent again may carry an old signature */
	put_le64(h + 24, r->msg_id);
	put_le32(h + 32, 0xFEFF); /* ProcessId, as Windows clients send */
	if (r->command != SMB2_NEGOTIATE && r->command != SMB2_SESSION_SETUP)
		put_le32(h + 36, s->tree_id);
	put_le64(h + 40, r->command == SMB2_NEGOTIATE ? 0 : s->session_id);
	if (should_sign(c, r))
		flags |= SMB2_FLAGS_SIGNED;
	put_le32(h + 16, flags);
	/* A payload left in a file is neither hashed, signed nor sealed: smb2_write_file only
	 * takes sessions that need none of it. */
	if (r->payload_in_file &&
	    (r->preauth || (flags & SMB2_FLAGS_SIGNED) || should_encrypt(c, r)))
		return SMBG_ENOTSUP;
	struct iovec iov[2] = {{h, hlen}, {(void *)r->payload, r->payload_len}};
	int niov = r->payload_len ? 2 : 1;
	/* NEGOTIATE is hashed before the dialect is known; the hash is used only for 3.1.1. */
	if (r->preauth && (r->command == SMB2_NEGOTIATE || c->dialect == SMB_DIALECT_3_1_1)) {
		uint8_t *ph = r->command == SMB2_NEGOTIATE ? s->preauth : s->session_preauth;
		if ((rc = smb2_preauth_update(ph, iov, niov)) < 0)
			return rc;
	}
	if (flags & SMB2_FLAGS_SIGNED) {
		memset(h + 48, 0, 16);
		if ((rc = smb2_sign(s->sign_alg, s->keys.signing, iov, niov, h + 48)) < 0)
			return rc;
	}
	if (should_encrypt(c, r)) {
		rc = queue_encrypted(c, r, h, hlen);
		if (rc < 0)
			return rc;
	} else {
		size_t len = r->pdu.len;
		uint8_t *buf = r->keep_pdu ? malloc(len) : wbuf_take(&r->pdu, &len);
		if (!buf)
			return SMBG_ENOMEM;
		if (r->keep_pdu)
			memcpy(buf, r->pdu.p, len);
		rc = r->payload_in_file
			 ? smb_transport_queue_file(&c->t, buf, len, r->payload_fd,
						    r->payload_fd_off, r->payload_len)
			 : smb_transport_queue(&c->t, buf, len, r->payload, r->payload_len);
		if (rc < 0)
			return rc;
	}
	if (!r->keep_pdu)
		wbuf_free(&r->pdu);
	r->sent = 1;
	r->sent_at = clock_now_ms();
	r->deadline = c->timeout_ms > 0 ? r->sent_at + c->timeout_ms : 0;
	pending_add(s, r);
	log_trace("smb2 -> cmd %u mid %llu charge %u credits %u", r->command,
		  (unsigned long long)r->msg_id, r->charge, s->credits);
	return 0;
}

/* Sends r or queues it for credits; on failure r is left to the caller. */
static int submit_or_queue(struct smb_client *c, struct smb2_req *r)
{
	struct smb2_state *s = c->s2;
	if (c->dead)
		return c->dead;
	int rc = wbuf_error(&r->pdu);
	if (rc < 0)
		return rc;
	if (s->large_mtu && r->payload_size > 65536)
		r->charge = (uint16_t)((r->payload_size + 65535) / 65536);
	if (s->waitq_head || s->credits < r->charge) {
		if (s->pending.n == 0 && s->credits < r->charge)
			return smb_failf(c, SMBG_EPROTO,
					 "the server granted too few credits (%u) "
					 "for a request costing %u",
					 s->credits, r->charge);
		/* Queued requests have a deadline too: the credits may never come. */
		r->deadline = c->timeout_ms > 0 ? clock_now_ms() + c->timeout_ms : 0;
		if (s->waitq_tail)
			s->waitq_tail->next = r;
		else
			s->waitq_head = r;
		s->waitq_tail = r;
		return 0;
	}
	return send_now(c, r);
}

int smb2_submit(struct smb_client *c, struct smb2_req *r)
{
	int rc = c->recon ? smb_recon_submit(c, r) : 0; /* parks it while reconnecting */
	if (rc == 0)
		rc = submit_or_queue(c, r);
	if (rc < 0)
		smb2_req_free(r);
	return rc > 0 ? 0 : rc;
}

void smb2_resubmit(struct smb_client *c, struct smb2_req *r)
{
	int rc = submit_or_queue(c, r);
	if (rc < 0) {
		r->done(c, r, rc, NULL);
		smb2_req_free(r);
	}
}

static int by_msg_id(const void *a, const void *b)
{
	uint64_t x = (*(struct smb2_req *const *)a)->msg_id,
		 y = (*(struct smb2_req *const *)b)->msg_id;
	return x < y ? -1 : x > y;
}

void smb2_take_all(struct smb_client *c, void (*fn)(struct smb_client *, struct smb2_req *))
{
	struct smb2_state *s = c->s2;
	if (!s)
		return;
	/* In the order they were sent (MessageId), then those still waiting for credits: sent
	 * again, a CLOSE stays after the requests that preceded it. */
	size_t n = s->pending.n, i = 0;
	struct smb2_req **v = n ? malloc(n * sizeof(*v)) : NULL;
	struct smb2_req *r, *wq = s->waitq_head;
	s->waitq_head = s->waitq_tail = NULL;
	while ((r = req_of(smb_pending_pop(&s->pending)))) {
		if (v && i < n)
			v[i++] = r;
		else
			fn(c, r); /* no memory to sort: any order */
	}
	if (v)
		qsort(v, i, sizeof(*v), by_msg_id);
	for (size_t k = 0; k < i; k++)
		fn(c, v[k]);
	free(v);
	while ((r = wq)) {
		wq = r->next;
		r->next = NULL;
		fn(c, r);
	}
}

static struct smb2_req *waitq_pop(struct smb2_state *s)
{
	struct smb2_req *r = s->waitq_head;
	s->waitq_head = r->next;
	if (!s->waitq_head)
		s->waitq_tail = NULL;
	r->next = NULL;
	return r;
}

static void drain_waitq(struct smb_client *c)
{
	struct smb2_state *s = c->s2;
	for (;;) {
		while (s->waitq_head && s->credits >= s->waitq_head->charge && !c->dead) {
			struct smb2_req *r = waitq_pop(s);
			int rc = send_now(c, r);
			if (rc < 0) {
				r->done(c, r, rc, NULL);
				smb2_req_free(r);
			}
		}
		if (!s->waitq_head || s->pending.n > 0 || c->dead)
			return;
		/* Nothing in flight can grant more: the head would wait for ever. The ones
		 * after it may cost less. */
		struct smb2_req *r = waitq_pop(s);
		smb_failf(c, SMBG_EPROTO,
			  "the server granted too few credits (%u) for a request costing %u",
			  s->credits, r->charge);
		r->done(c, r, SMBG_EPROTO, NULL);
		smb2_req_free(r);
	}
}

int smb2_verify(struct smb_client *c, const uint8_t *msg, size_t len)
{
	struct smb2_state *s = c->s2;
	if (len < SMB2_HDR_SIZE)
		return SMBG_EPROTO;
	/* Sign a copy of the header with the signature zeroed; the body is used in place. */
	uint8_t hdr[SMB2_HDR_SIZE], sig[16];
	memcpy(hdr, msg, SMB2_HDR_SIZE);
	memset(hdr + 48, 0, 16);
	struct iovec iov[2] = {{hdr, SMB2_HDR_SIZE},
			       {(void *)(msg + SMB2_HDR_SIZE), len - SMB2_HDR_SIZE}};
	int rc = smb2_sign(s->sign_alg, s->keys.signing, iov, 2, sig);
	if (rc < 0)
		return rc;
	if (CRYPTO_memcmp(sig, msg + 48, 16) != 0)
		return SMBG_ECRYPTO;
	return 0;
}

/* Whether a message may be believed (MS-SMB2 3.2.5.1.3): 0 yes; SMBG_ECRYPTO (message set) when
 * it fails the session's checks: a bad signature, unsigned on a signing session, unencrypted on
 * an encrypting one. r is the request it answers (NULL when unknown). */
static int authenticate(struct smb_client *c, const uint8_t *p, size_t len,
			const struct smb2_msg *m, int decrypted, const struct smb2_req *r)
{
	struct smb2_state *s = c->s2;
	if (decrypted || (r && r->verify_in_done) || !s->have_keys)
		return 0;
	if (s->session_id && (m->flags & SMB2_FLAGS_SIGNED)) {
		int rc = smb2_verify(c, p, len);
		if (rc < 0)
			return smb_failf(c, rc,
					 "bad signature on an SMB2 response: the connection may be "
					 "tampered with");
	} else if (s->signing_required && !s->encrypt) {
		return smb_failf(c, SMBG_ECRYPTO, "unsigned SMB2 response on a signed session");
	}
	if (s->encrypt &&
	    (!r || (r->command != SMB2_SESSION_SETUP && r->command != SMB2_NEGOTIATE)))
		return smb_failf(c, SMBG_ECRYPTO,
				 "unencrypted SMB2 response on an encrypted session");
	return 0;
}

static void grant(struct smb2_state *s, const uint8_t *p)
{
	uint32_t granted = get_le16(p + 14);
	s->credits = s->credits + granted > CREDITS_MAX ? CREDITS_MAX : s->credits + granted;
}

/* An interim answer: the server works on r. The clock restarts, within the bound. */
static void interim(struct smb_client *c, struct smb2_req *r)
{
	if (!r->deadline || c->timeout_ms <= 0)
		return;
	int64_t now = clock_now_ms();
	int64_t cap = r->sent_at + (int64_t)SMB2_PENDING_FACTOR * c->timeout_ms;
	int64_t d = now + c->timeout_ms;
	r->deadline = d < cap ? d : cap;
}

static int process_one(struct smb_client *c, const uint8_t *p, size_t len, int decrypted)
{
	struct smb2_state *s = c->s2;
	struct smb2_msg m;
	int rc = smb2_check_message(p, len, &m);
	if (rc < 0)
		return smb_failf(c, rc, "malformed SMB2 response from the server");
	uint64_t mid = get_le64(p + 24);
	if (mid == UINT64_MAX)
		return smb2_unsolicited(c, &m);
	int is_interim = m.status == STATUS_PENDING && (m.flags & SMB2_FLAGS_ASYNC_COMMAND);
	struct smb2_req *r = pending_find(s, mid, 0);
	if (!r || is_interim) {
		/* Nothing depends on these but credits and a deadline: a message that fails the
		 * checks is dropped (interim answers may come unsigned, MS-SMB2 3.3.4.1.1). */
		char saved[sizeof(c->errmsg)];
		memcpy(saved, c->errmsg, sizeof(saved));
		uint32_t saved_status = c->last_status;
		rc = authenticate(c, p, len, &m, decrypted, r);
		if (rc < 0) {
			log_debug("%s for message id %llu dropped: %s",
				  r ? "interim answer" : "response", (unsigned long long)mid,
				  c->errmsg);
			memcpy(c->errmsg, saved, sizeof(saved));
			c->last_status = saved_status;
			return 0;
		}
		grant(s, p);
		if (!r)
			log_debug("response for unknown message id %llu dropped",
				  (unsigned long long)mid);
		else
			interim(c, r);
		return 0;
	}
	(void)pending_find(s, mid, 1);
	if (m.command != r->command) {
		unsigned want = r->command;
		r->done(c, r, SMBG_EPROTO, NULL);
		smb2_req_free(r);
		return smb_failf(c, SMBG_EPROTO, "SMB2 response command %u for request %u",
				 m.command, want);
	}
	rc = authenticate(c, p, len, &m, decrypted, r);
	if (rc < 0) {
		char saved[sizeof(c->errmsg)];
		memcpy(saved, c->errmsg, sizeof(saved));
		r->done(c, r, rc, NULL);
		smb2_req_free(r);
		memcpy(c->errmsg, saved, sizeof(saved));
		return rc;
	}
	grant(s, p);
	/* an expired session is logged into again and r sent again (smb/reconnect.c) */
	if (c->recon && smb_recon_expired(c, r, m.status))
		return 0;
	r->done(c, r, 0, &m);
	smb2_req_free(r);
	return 0;
}

static int process_chain(struct smb_client *c, const uint8_t *p, size_t len, int decrypted)
{
	size_t off = 0;
	while (off < len) {
		size_t rest = len - off;
		if (rest < SMB2_HDR_SIZE)
			return smb_failf(c, SMBG_EPROTO, "truncated SMB2 message from the server");
		uint32_t next = get_le32(p + off + 20);
		size_t mlen = rest;
		if (next) {
			if (next < SMB2_HDR_SIZE || next > rest || (next & 7))
				return smb_failf(c, SMBG_EPROTO,
						 "bad NextCommand offset in an SMB2 compound");
			mlen = next;
		}
		int rc = process_one(c, p + off, mlen, decrypted);
		if (rc < 0)
			return rc;
		if (!next)
			break;
		off += next;
	}
	return 0;
}

int smb2_frame(struct smb_client *c, uint8_t *buf, size_t len)
{
	struct smb2_state *s = c->s2;
	int rc;
	if (len >= 4 && memcmp(buf, transform_magic, 4) == 0) {
		if (len < SMB2_TRANSFORM_SIZE || !s->have_keys || s->cipher == SMB2_CIPHER_NONE)
			return smb_failf(c, SMBG_EPROTO, "unexpected encrypted SMB2 message");
		uint32_t orig = get_le32(buf + 36);
		uint64_t sid = get_le64(buf + 44);
		if (orig != len - SMB2_TRANSFORM_SIZE || sid != s->session_id)
			return smb_failf(c, SMBG_EPROTO, "malformed SMB2 transform header");
		rc = smb2_unseal(s->cipher, s->keys.decrypt, buf + 20, buf + 20,
				 buf + SMB2_TRANSFORM_SIZE, orig, buf + 4);
		if (rc < 0)
			return smb_failf(c, SMBG_ECRYPTO,
					 "decryption of an SMB3 message failed (bad key or "
					 "tampered data)");
		rc = process_chain(c, buf + SMB2_TRANSFORM_SIZE, orig, 1);
	} else if (len >= 4 && memcmp(buf, smb2_magic, 4) == 0) {
		rc = process_chain(c, buf, len, 0);
	} else {
		return smb_failf(c, SMBG_EPROTO, "the server sent a message that is not SMB2");
	}
	if (rc < 0)
		return rc;
	drain_waitq(c);
	return 0;
}

void smb2_fail_all(struct smb_client *c, int err)
{
	struct smb2_state *s = c->s2;
	if (!s)
		return;
	for (;;) {
		struct smb2_req *r = s->waitq_head;
		if (!r)
			break;
		s->waitq_head = r->next;
		r->done(c, r, err, NULL);
		smb2_req_free(r);
	}
	s->waitq_tail = NULL;
	struct smb2_req *r;
	while ((r = req_of(smb_pending_pop(&s->pending)))) {
		r->done(c, r, err, NULL);
		smb2_req_free(r);
	}
}

static int64_t earlier(int64_t a, int64_t b)
{
	return !a || (b && b < a) ? b : a;
}

int64_t smb2_next_deadline(const struct smb_client *c)
{
	const struct smb2_state *s = c->s2;
	int64_t d = 0;
	if (!s)
		return 0;
	for (struct smb_pending_entry *e = smb_pending_next(&s->pending, NULL); e;
	     e = smb_pending_next(&s->pending, e))
		d = earlier(d, req_of(e)->deadline);
	/* The queue is in submission order: its head waits longest. */
	if (s->waitq_head)
		d = earlier(d, s->waitq_head->deadline);
	return d;
}

void smb2_state_free(struct smb_client *c)
{
	if (!c->s2)
		return;
	smb2_fail_all(c, SMBG_ECANCELED);
	free(c->s2->security_blob);
	OPENSSL_cleanse(c->s2, sizeof(*c->s2));
	free(c->s2);
	c->s2 = NULL;
}

void smb2_done_status(struct smb_client *c, struct smb2_req *r, int err, const struct smb2_msg *m)
{
	int rc = err;
	if (rc == 0 && m->status != STATUS_SUCCESS)
		rc = smb2_status_err(c, m, r->ctx ? (const char *)r->ctx : "request",
				     r->file ? r->file->path : NULL);
	smb2_complete(c, r, rc);
}

void smb2_done_reply(struct smb_client *c, struct smb2_req *r, int err, const struct smb2_msg *m)
{
	smb_reply_keep(r->ctx, err, m ? m->p : NULL, m ? m->len : 0);
}
