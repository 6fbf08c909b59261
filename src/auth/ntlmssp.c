#include "auth/ntlmssp.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "crypto/kdf.h"
#include "crypto/legacy.h"
#include "smbgate/err.h"
#include "util/cursor.h"
#include "util/log.h"
#include "util/utf16.h"

#define NTLMSSP_SIG	  "NTLMSSP" /* 8 bytes with its NUL */
#define NTLMSSP_NEGOTIATE 1
#define NTLMSSP_CHALLENGE 2
#define NTLMSSP_AUTH	  3
#define CHALLENGE_MIN_LEN 32 /* up to ServerChallenge; older servers stop there */
#define AUTH_HDR_LEN	  72 /* through VERSION */
#define AUTH_MIC_OFF	  72
#define AUTH_HDR_MIC_LEN  88
#define AV_PAIRS_MAX	  1024
#define FIELD_MAX	  0xffff /* lengths are 16-bit on the wire */

/* What we ask for. The server's CHALLENGE narrows it; AUTHENTICATE carries the intersection.
 * NTLMSSP_NEGOTIATE_LM_KEY is left out on purpose (it weakens the session key). */
#define CLIENT_FLAGS                                                                               \
	(NTLMSSP_NEGOTIATE_UNICODE | NTLMSSP_NEGOTIATE_OEM | NTLMSSP_REQUEST_TARGET |              \
	 NTLMSSP_NEGOTIATE_SIGN | NTLMSSP_NEGOTIATE_SEAL | NTLMSSP_NEGOTIATE_NTLM |                \
	 NTLMSSP_NEGOTIATE_ALWAYS_SIGN | NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY |              \
	 NTLMSSP_NEGOTIATE_VERSION | NTLMSSP_NEGOTIATE_128 | NTLMSSP_NEGOTIATE_KEY_EXCH |          \
	 NTLMSSP_NEGOTIATE_56)

/* VERSION (MS-NLMP 2.2.2.10): 6.1 build 7601, NTLMSSP_REVISION_W2K3. Informational only. */
static const uint8_t client_version[8] = {6, 1, 0xb1, 0x1d, 0, 0, 0, 0x0f};

enum ntlmssp_state { NTLMSSP_START, NTLMSSP_NEGOTIATED, NTLMSSP_DONE, NTLMSSP_FAILED };

struct ntlmssp_client {
	enum ntlmssp_state state;
	char *user, *domain, *password, *workstation; /* owned; domain may be NULL */
	int allow_ntlmv1;
	int anonymous;
	struct {
		bool cc, key, time, version;
		uint8_t client_challenge[8], random_session_key[16], version_bytes[8];
		uint64_t time_value;
	} fixed;
	uint8_t *neg_msg; /* copy of our NEGOTIATE_MESSAGE, for the MIC */
	size_t neg_len;
	uint32_t flags; /* negotiated */
	int sent_mic;
	int have_key;
	uint8_t session_key[16];
	int have_sign_keys;
	uint8_t client_sign_key[16], server_sign_key[16];
	struct smb_rc4 *client_seal, *server_seal;
	uint32_t client_seq, server_seq;
};

static const char *state_name(enum ntlmssp_state s)
{
	static const char *const names[] = {"start", "negotiated", "done", "failed"};
	return names[s];
}

static void ntlmssp_set_state(struct ntlmssp_client *c, enum ntlmssp_state s)
{
	if (c->state != s)
		log_debug("ntlmssp: %s -> %s", state_name(c->state), state_name(s));
	c->state = s;
}

/* --- Primitives -------------------------------------------------------------------------- */

static int utf16_secret(const char *s, int flags, struct wbuf *out)
{
	wbuf_init(out);
	return utf16_from_utf8(out, s ? s : "", s ? strlen(s) : 0, flags);
}

int ntlm_nt_hash(const char *password, uint8_t out[16])
{
	struct wbuf pw;
	int rc = utf16_secret(password, 0, &pw);

	if (rc == 0)
		rc = smb_md4(pw.p ? pw.p : (const uint8_t *)"", pw.len, out);
	wbuf_free_secret(&pw);
	return rc;
}

int ntlm_lm_hash(const char *password, uint8_t out[16])
{
	static const uint8_t magic[8] = {'K', 'G', 'S', '!', '@', '#', '$', '%'};
	uint8_t pw[14] = {0};
	size_t n = password ? strlen(password) : 0;
	int rc;

	if (n > 14)
		n = 14;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)password[i];
		if (ch >= 0x80) {
			OPENSSL_cleanse(pw, sizeof(pw));
			return SMBG_EINVAL;
		}
		pw[i] = (uint8_t)((ch >= 'a' && ch <= 'z') ? ch - 32 : ch);
	}
	rc = smb_des7(pw, magic, out);
	if (rc == 0)
		rc = smb_des7(pw + 7, magic, out + 8);
	OPENSSL_cleanse(pw, sizeof(pw));
	return rc;
}

int ntlm_desl(const uint8_t key[16], const uint8_t data[8], uint8_t out[24])
{
	uint8_t k3[7] = {key[14], key[15], 0, 0, 0, 0, 0};
	int rc = smb_des7(key, data, out);

	if (rc == 0)
		rc = smb_des7(key + 7, data, out + 8);
	if (rc == 0)
		rc = smb_des7(k3, data, out + 16);
	OPENSSL_cleanse(k3, sizeof(k3));
	return rc;
}

static int ntowfv2_raw(const uint8_t nt_hash[16], const struct wbuf *upper_user,
		       const uint8_t *domain16, size_t domain16_len, uint8_t out[16])
{
	struct iovec iov[2] = {{upper_user->p, upper_user->len}, {(void *)domain16, domain16_len}};
	return smb_hmac_md5(nt_hash, 16, iov, 2, out);
}

int ntlm_ntowfv2(const uint8_t nt_hash[16], const char *user, const char *domain, uint8_t out[16])
{
	struct wbuf u, d;
	int rc = utf16_secret(user, UTF16_UPPERCASE, &u);

	if (rc == 0)
		rc = utf16_secret(domain, 0, &d);
	else
		wbuf_init(&d);
	if (rc == 0)
		rc = ntowfv2_raw(nt_hash, &u, d.p, d.len, out);
	wbuf_free(&u);
	wbuf_free(&d);
	return rc;
}

int ntlm_v2_proof(const uint8_t response_key[16], const uint8_t server_challenge[8],
		  const uint8_t *temp, size_t temp_len, uint8_t proof[16],
		  uint8_t session_base_key[16])
{
	struct iovec iov[2] = {{(void *)server_challenge, 8}, {(void *)temp, temp_len}};
	int rc = smb_hmac_md5(response_key, 16, iov, 2, proof);

	if (rc == 0)
		rc =
		    smb_hmac_md5(response_key, 16, &(struct iovec){proof, 16}, 1, session_base_key);
	return rc;
}

int ntlm_lmv2_response(const uint8_t response_key[16], const uint8_t server_challenge[8],
		       const uint8_t client_challenge[8], uint8_t out[24])
{
	struct iovec iov[2] = {{(void *)server_challenge, 8}, {(void *)client_challenge, 8}};
	int rc = smb_hmac_md5(response_key, 16, iov, 2, out);

	if (rc == 0)
		memcpy(out + 16, client_challenge, 8);
	return rc;
}

int ntlm_mic(const uint8_t session_key[16], const uint8_t *neg, size_t neg_len, const uint8_t *chal,
	     size_t chal_len, const uint8_t *auth, size_t auth_len, uint8_t out[16])
{
	struct iovec iov[3] = {
	    {(void *)neg, neg_len}, {(void *)chal, chal_len}, {(void *)auth, auth_len}};
	return smb_hmac_md5(session_key, 16, iov, 3, out);
}

/* The magic constants include their terminating NUL (MS-NLMP 3.4.5.2, 3.4.5.3). */
static const char sign_c2s[] = "session key to client-to-server signing key magic constant";
static const char sign_s2c[] = "session key to server-to-client signing key magic constant";
static const char seal_c2s[] = "session key to client-to-server sealing key magic constant";
static const char seal_s2c[] = "session key to server-to-client sealing key magic constant";

int ntlm_sign_key(const uint8_t session_key[16], int client, uint8_t out[16])
{
	const char *magic = client ? sign_c2s : sign_s2c;
	struct iovec iov[2] = {{(void *)session_key, 16}, {(void *)magic, sizeof(sign_c2s)}};
	return smb_md5(iov, 2, out);
}

int ntlm_seal_key(const uint8_t session_key[16], uint32_t flags, int client, uint8_t out[16])
{
	const char *magic = client ? seal_c2s : seal_s2c;
	/* Weaker negotiated key strengths seal with a prefix of the session key. */
	size_t klen = (flags & NTLMSSP_NEGOTIATE_128) ? 16 : (flags & NTLMSSP_NEGOTIATE_56) ? 7 : 5;
	struct iovec iov[2] = {{(void *)session_key, klen}, {(void *)magic, sizeof(seal_c2s)}};
	return smb_md5(iov, 2, out);
}

/* --- CHALLENGE_MESSAGE ------------------------------------------------------------------- */

/* A payload field: Len, MaxLen, BufferOffset. The bytes must lie inside the message. */
static WUR int get_field(struct cursor *c, const uint8_t *msg, size_t msg_len, const uint8_t **p,
			 size_t *len)
{
	uint16_t l, maxlen;
	uint32_t off;

	if (cursor_get_le16(c, &l) != 0 || cursor_get_le16(c, &maxlen) != 0 ||
	    cursor_get_le32(c, &off) != 0)
		return SMBG_EPROTO;
	*p = NULL;
	*len = 0;
	if (l == 0)
		return 0;
	if (off > msg_len || l > msg_len - off)
		return SMBG_EPROTO;
	*p = msg + off;
	*len = l;
	return 0;
}

/* Walks an AV_PAIR list. Each pair must fit; MsvAvFlags and MsvAvTimestamp must have their
 * sizes; MsvAvEOL ends the list (a list that simply runs out is tolerated). */
static int av_scan(const uint8_t *p, size_t len, struct ntlmssp_challenge *out)
{
	struct cursor c;
	int pairs = 0;

	cursor_init(&c, p, len);
	while (cursor_left(&c) > 0) {
		uint16_t id, alen;
		const uint8_t *v;
		if (++pairs > AV_PAIRS_MAX || cursor_get_le16(&c, &id) != 0 ||
		    cursor_get_le16(&c, &alen) != 0 || cursor_get_ptr(&c, alen, &v) != 0)
			return SMBG_EPROTO;
		if (id == MSV_AV_EOL)
			return alen == 0 ? 0 : SMBG_EPROTO;
		if (id == MSV_AV_FLAGS && alen != 4)
			return SMBG_EPROTO;
		if (id == MSV_AV_TIMESTAMP) {
			struct cursor t;
			uint64_t ts;
			cursor_init(&t, v, alen);
			if (alen != 8 || cursor_get_le64(&t, &ts) != 0)
				return SMBG_EPROTO;
			out->has_timestamp = 1;
			out->timestamp = ts;
		}
	}
	return 0;
}

int ntlmssp_challenge_parse(const uint8_t *p, size_t len, struct ntlmssp_challenge *out)
{
	struct cursor c;
	uint8_t sig[8];
	uint32_t type;

	memset(out, 0, sizeof(*out));
	if (!p)
		return SMBG_EPROTO;
	cursor_init(&c, p, len);
	if (cursor_get_bytes(&c, sig, 8) != 0 || memcmp(sig, NTLMSSP_SIG, 8) != 0 ||
	    cursor_get_le32(&c, &type) != 0 || type != NTLMSSP_CHALLENGE ||
	    get_field(&c, p, len, &out->target_name, &out->target_name_len) != 0 ||
	    cursor_get_le32(&c, &out->flags) != 0 ||
	    cursor_get_bytes(&c, out->server_challenge, 8) != 0)
		return SMBG_EPROTO;
	if ((out->flags & NTLMSSP_NEGOTIATE_UNICODE) && (out->target_name_len & 1))
		return SMBG_EPROTO;
	/* Reserved and TargetInfoFields follow in every server since NT 4 SP4; the list only
	 * counts when the server says it sent one. */
	if (cursor_left(&c) >= 16 && (out->flags & NTLMSSP_NEGOTIATE_TARGET_INFO)) {
		if (cursor_skip(&c, 8) != 0 ||
		    get_field(&c, p, len, &out->target_info, &out->target_info_len) != 0)
			return SMBG_EPROTO;
		return av_scan(out->target_info, out->target_info_len, out);
	}
	return 0;
}

/* --- The client -------------------------------------------------------------------------- */

static char *dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

static void free_secret_str(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

struct ntlmssp_client *ntlmssp_client_new(const char *user, const char *domain,
					  const char *password, const char *workstation,
					  int allow_ntlmv1)
{
	struct ntlmssp_client *c = calloc(1, sizeof(*c));
	bool fail = false;

	if (!c)
		return NULL;
	c->anonymous = !user || !*user;
	c->user = dup_or_null(user ? user : "", &fail);
	c->domain = dup_or_null(domain, &fail);
	c->password = dup_or_null(password ? password : "", &fail);
	c->workstation = dup_or_null(workstation ? workstation : "SMBGATE", &fail);
	c->allow_ntlmv1 = allow_ntlmv1;
	if (fail) {
		ntlmssp_client_free(c);
		return NULL;
	}
	return c;
}

void ntlmssp_client_free(struct ntlmssp_client *c)
{
	if (!c)
		return;
	free_secret_str(c->user);
	free_secret_str(c->domain);
	free_secret_str(c->password);
	free_secret_str(c->workstation);
	free(c->neg_msg);
	smb_rc4_free(c->client_seal);
	smb_rc4_free(c->server_seal);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

void ntlmssp_client_set_fixed(struct ntlmssp_client *c, const struct ntlmssp_fixed *f)
{
	if (f->client_challenge) {
		c->fixed.cc = true;
		memcpy(c->fixed.client_challenge, f->client_challenge, 8);
	}
	if (f->random_session_key) {
		c->fixed.key = true;
		memcpy(c->fixed.random_session_key, f->random_session_key, 16);
	}
	if (f->time) {
		c->fixed.time = true;
		c->fixed.time_value = *f->time;
	}
	if (f->version) {
		c->fixed.version = true;
		memcpy(c->fixed.version_bytes, f->version, 8);
	}
}

int ntlmssp_client_is_anonymous(const struct ntlmssp_client *c)
{
	return c->anonymous;
}

int ntlmssp_client_sent_mic(const struct ntlmssp_client *c)
{
	return c->sent_mic;
}

int ntlmssp_client_session_key(const struct ntlmssp_client *c, uint8_t key[16])
{
	if (!c->have_key)
		return SMBG_ENOENT;
	memcpy(key, c->session_key, 16);
	return 0;
}

static const uint8_t *version_field(const struct ntlmssp_client *c)
{
	return c->fixed.version ? c->fixed.version_bytes : client_version;
}

int ntlmssp_client_negotiate(struct ntlmssp_client *c, struct wbuf *out)
{
	size_t start = out->len;
	int rc;

	if (c->state != NTLMSSP_START)
		return SMBG_EINVAL;
	/* Fail early, before any packet, on credentials that cannot be encoded. */
	if (!utf8_valid(c->user, strlen(c->user)) ||
	    !utf8_valid(c->password, strlen(c->password)) ||
	    !utf8_valid(c->workstation, strlen(c->workstation)) ||
	    (c->domain && !utf8_valid(c->domain, strlen(c->domain))))
		return SMBG_ENAME;
	/* MS-NLMP 2.2.1.1: no domain or workstation supplied, VERSION present. */
	wbuf_put_bytes(out, NTLMSSP_SIG, 8);
	wbuf_put_le32(out, NTLMSSP_NEGOTIATE);
	wbuf_put_le32(out, CLIENT_FLAGS);
	wbuf_put_zero(out, 16);
	wbuf_put_bytes(out, version_field(c), 8);
	if ((rc = wbuf_error(out)) != 0)
		return rc;
	free(c->neg_msg);
	c->neg_len = out->len - start;
	c->neg_msg = malloc(c->neg_len);
	if (!c->neg_msg)
		return SMBG_ENOMEM;
	memcpy(c->neg_msg, out->p + start, c->neg_len);
	ntlmssp_set_state(c, NTLMSSP_NEGOTIATED);
	return 0;
}

/* FILETIME now: 100 ns ticks since 1601-01-01. */
static uint64_t filetime_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec + 11644473600ull) * 10000000ull + (uint64_t)ts.tv_nsec / 100;
}

/* The AV_PAIRs for the NTLMv2 blob: the server's list with MsvAvFlags' MIC bit set (added when
 * absent) when we send a MIC, ending in MsvAvEOL. The list was validated by av_scan. */
static void av_rebuild(const struct ntlmssp_challenge *ch, bool mic, struct wbuf *out)
{
	struct cursor c;
	bool flags_done = false;

	cursor_init(&c, ch->target_info, ch->target_info_len);
	while (cursor_left(&c) >= 4) {
		uint16_t id, alen;
		const uint8_t *v;
		if (cursor_get_le16(&c, &id) != 0 || cursor_get_le16(&c, &alen) != 0 ||
		    cursor_get_ptr(&c, alen, &v) != 0 || id == MSV_AV_EOL)
			break;
		wbuf_put_le16(out, id);
		wbuf_put_le16(out, alen);
		if (id == MSV_AV_FLAGS && mic) {
			uint32_t f = (uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 |
				     (uint32_t)v[3] << 24;
			wbuf_put_le32(out, f | MSV_AV_FLAG_MIC_PRESENT);
			flags_done = true;
		} else {
			wbuf_put_bytes(out, v, alen);
		}
	}
	if (mic && !flags_done) {
		wbuf_put_le16(out, MSV_AV_FLAGS);
		wbuf_put_le16(out, 4);
		wbuf_put_le32(out, MSV_AV_FLAG_MIC_PRESENT);
	}
	wbuf_put_le32(out, 0); /* MsvAvEOL, length 0 */
}

/* Everything AUTHENTICATE needs, computed before the message is laid out. Secrets here are
 * wiped on every exit. */
struct auth_parts {
	struct wbuf user16, domain16, ws16;
	uint8_t lm[24];
	size_t lm_len;
	struct wbuf nt; /* NtChallengeResponse */
	uint8_t key_exchange_key[16];
	uint8_t exported[16];
	uint8_t enc_key[16];
	size_t enc_key_len;
	bool have_key;
	bool mic;
};

static void parts_free(struct auth_parts *a)
{
	wbuf_free(&a->user16);
	wbuf_free(&a->domain16);
	wbuf_free(&a->ws16);
	wbuf_free_secret(&a->nt);
	OPENSSL_cleanse(a, sizeof(*a));
}

static int client_challenge(struct ntlmssp_client *c, uint8_t cc[8])
{
	if (c->fixed.cc) {
		memcpy(cc, c->fixed.client_challenge, 8);
		return 0;
	}
	return smb_random(cc, 8);
}

/* MS-NLMP 3.3.2. */
static int responses_v2(struct ntlmssp_client *c, const struct ntlmssp_challenge *ch,
			struct auth_parts *a)
{
	uint8_t nt_hash[16], rkey[16], cc[8], proof[16];
	struct wbuf upper, temp;
	uint64_t t = ch->has_timestamp ? ch->timestamp
				       : (c->fixed.time ? c->fixed.time_value : filetime_now());
	int rc;

	wbuf_init(&temp);
	rc = utf16_secret(c->user, UTF16_UPPERCASE, &upper);
	if (rc == 0)
		rc = ntlm_nt_hash(c->password, nt_hash);
	if (rc == 0)
		rc = ntowfv2_raw(nt_hash, &upper, a->domain16.p, a->domain16.len, rkey);
	if (rc == 0)
		rc = client_challenge(c, cc);
	if (rc)
		goto out;

	/* A server that sends a timestamp gets a MIC (and then expects SPNEGO's mechListMIC). */
	a->mic = ch->has_timestamp;
	wbuf_put_u8(&temp, 1); /* RespType */
	wbuf_put_u8(&temp, 1); /* HiRespType */
	wbuf_put_zero(&temp, 6);
	wbuf_put_le64(&temp, t);
	wbuf_put_bytes(&temp, cc, 8);
	wbuf_put_zero(&temp, 4);
	av_rebuild(ch, a->mic, &temp);
	wbuf_put_zero(&temp, 4);
	if ((rc = wbuf_error(&temp)) != 0)
		goto out;
	rc =
	    ntlm_v2_proof(rkey, ch->server_challenge, temp.p, temp.len, proof, a->key_exchange_key);
	if (rc)
		goto out;
	wbuf_put_bytes(&a->nt, proof, 16);
	wbuf_put_bytes(&a->nt, temp.p, temp.len);
	if ((rc = wbuf_error(&a->nt)) != 0)
		goto out;
	/* With a timestamp Windows sends Z(24) for LM (MS-NLMP 3.1.5.1.2); otherwise LMv2. */
	a->lm_len = 24;
	if (ch->has_timestamp)
		memset(a->lm, 0, 24);
	else
		rc = ntlm_lmv2_response(rkey, ch->server_challenge, cc, a->lm);
	a->have_key = true;
out:
	wbuf_free(&upper);
	wbuf_free_secret(&temp);
	OPENSSL_cleanse(nt_hash, sizeof(nt_hash));
	OPENSSL_cleanse(rkey, sizeof(rkey));
	OPENSSL_cleanse(proof, sizeof(proof));
	return rc;
}

/* MS-NLMP 3.3.1, with and without extended session security. Only reached when the caller
 * allowed NTLMv1 and the server offered no target info (a pre-NTLMv2 server). */
static int responses_v1(struct ntlmssp_client *c, const struct ntlmssp_challenge *ch,
			uint32_t flags, struct auth_parts *a)
{
	uint8_t nt_hash[16], lm_hash[16], sbk[16], cc[8], digest[16], nt[24];
	int rc;

	log_warn("NTLMv1 authentication: the server offers no NTLMv2; the password hash is "
		 "exposed to offline cracking");
	rc = ntlm_nt_hash(c->password, nt_hash);
	if (rc == 0)
		rc = smb_md4(nt_hash, 16, sbk);
	if (rc)
		goto out;
	a->lm_len = 24;
	if (flags & NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY) {
		struct iovec iov[2] = {{(void *)ch->server_challenge, 8}, {cc, 8}};
		if ((rc = client_challenge(c, cc)) != 0 || (rc = smb_md5(iov, 2, digest)) != 0 ||
		    (rc = ntlm_desl(nt_hash, digest, nt)) != 0)
			goto out;
		memcpy(a->lm, cc, 8);
		memset(a->lm + 8, 0, 16);
		struct iovec kx[2] = {{(void *)ch->server_challenge, 8}, {a->lm, 8}};
		rc = smb_hmac_md5(sbk, 16, kx, 2, a->key_exchange_key);
	} else {
		if ((rc = ntlm_desl(nt_hash, ch->server_challenge, nt)) != 0)
			goto out;
		/* No LM hash for long or non-ASCII passwords: repeat the NT response. */
		if (ntlm_lm_hash(c->password, lm_hash) == 0)
			rc = ntlm_desl(lm_hash, ch->server_challenge, a->lm);
		else
			memcpy(a->lm, nt, 24);
		memcpy(a->key_exchange_key, sbk, 16);
	}
	if (rc)
		goto out;
	wbuf_put_bytes(&a->nt, nt, 24);
	rc = wbuf_error(&a->nt);
	a->have_key = rc == 0;
out:
	OPENSSL_cleanse(nt_hash, sizeof(nt_hash));
	OPENSSL_cleanse(lm_hash, sizeof(lm_hash));
	OPENSSL_cleanse(sbk, sizeof(sbk));
	OPENSSL_cleanse(digest, sizeof(digest));
	OPENSSL_cleanse(nt, sizeof(nt));
	return rc;
}

static void put_field(struct wbuf *out, size_t len, size_t *off)
{
	wbuf_put_le16(out, (uint16_t)len);
	wbuf_put_le16(out, (uint16_t)len);
	wbuf_put_le32(out, (uint32_t)*off);
	*off += len;
}

static int derive_signing(struct ntlmssp_client *c)
{
	uint8_t seal[16];
	int rc;

	if (!(c->flags & NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY))
		return 0; /* no mechListMIC without it: see ntlmssp_client_sign */
	rc = ntlm_sign_key(c->session_key, 1, c->client_sign_key);
	if (rc == 0)
		rc = ntlm_sign_key(c->session_key, 0, c->server_sign_key);
	if (rc == 0 && (rc = ntlm_seal_key(c->session_key, c->flags, 1, seal)) == 0)
		c->client_seal = smb_rc4_new(seal, 16, &rc);
	if (rc == 0 && (rc = ntlm_seal_key(c->session_key, c->flags, 0, seal)) == 0)
		c->server_seal = smb_rc4_new(seal, 16, &rc);
	OPENSSL_cleanse(seal, sizeof(seal));
	c->have_sign_keys = rc == 0;
	return rc;
}

int ntlmssp_client_authenticate(struct ntlmssp_client *c, const uint8_t *chal, size_t chal_len,
				struct wbuf *out)
{
	struct ntlmssp_challenge ch;
	struct auth_parts a;
	size_t start = out->len, hdr, off;
	uint32_t flags;
	int rc;

	memset(&a, 0, sizeof(a));
	if (c->state != NTLMSSP_NEGOTIATED)
		return SMBG_EINVAL;
	rc = ntlmssp_challenge_parse(chal, chal_len, &ch);
	if (rc) {
		log_debug("ntlmssp: malformed CHALLENGE_MESSAGE (%zu bytes)", chal_len);
		goto fail;
	}
	if (!(ch.flags & NTLMSSP_NEGOTIATE_UNICODE)) {
		log_debug("ntlmssp: the server does not speak Unicode");
		rc = SMBG_ENOTSUP;
		goto fail;
	}
	/* What both sides agreed on; TARGET_INFO is the server's to announce. */
	flags = (CLIENT_FLAGS & ch.flags) | (ch.flags & NTLMSSP_NEGOTIATE_TARGET_INFO) |
		NTLMSSP_REQUEST_TARGET;
	flags &= ~NTLMSSP_NEGOTIATE_OEM;
	if (c->anonymous)
		flags = (flags | NTLMSSP_ANONYMOUS) & ~NTLMSSP_NEGOTIATE_KEY_EXCH;
	log_debug("ntlmssp: challenge flags 0x%08x, using 0x%08x%s", ch.flags, flags,
		  ch.has_timestamp ? ", server timestamp" : "");

	wbuf_init(&a.user16);
	wbuf_init(&a.domain16);
	wbuf_init(&a.ws16);
	wbuf_init(&a.nt);
	if (!c->anonymous) {
		if ((rc = utf16_from_utf8(&a.user16, c->user, strlen(c->user), 0)) != 0)
			goto fail;
		if (c->domain)
			rc = utf16_from_utf8(&a.domain16, c->domain, strlen(c->domain), 0);
		else
			wbuf_put_bytes(&a.domain16, ch.target_name, ch.target_name_len);
		if (rc || (rc = wbuf_error(&a.domain16)) != 0)
			goto fail;
	}
	rc = utf16_from_utf8(&a.ws16, c->workstation, strlen(c->workstation), 0);
	if (rc)
		goto fail;

	if (c->anonymous) {
		a.lm_len = 1; /* Z(1), empty NT response (MS-NLMP 3.2.5.1.2) */
	} else if (c->allow_ntlmv1 && !(ch.flags & NTLMSSP_NEGOTIATE_TARGET_INFO)) {
		rc = responses_v1(c, &ch, flags, &a);
	} else {
		rc = responses_v2(c, &ch, &a);
	}
	if (rc)
		goto fail;

	if (a.have_key) {
		if ((flags & NTLMSSP_NEGOTIATE_KEY_EXCH) &&
		    (flags & (NTLMSSP_NEGOTIATE_SIGN | NTLMSSP_NEGOTIATE_SEAL))) {
			if (c->fixed.key)
				memcpy(a.exported, c->fixed.random_session_key, 16);
			else if ((rc = smb_random(a.exported, 16)) != 0)
				goto fail;
			rc = smb_rc4(a.key_exchange_key, 16, a.exported, a.enc_key, 16);
			if (rc)
				goto fail;
			a.enc_key_len = 16;
		} else {
			flags &= ~NTLMSSP_NEGOTIATE_KEY_EXCH;
			memcpy(a.exported, a.key_exchange_key, 16);
		}
	}
	if (a.user16.len > FIELD_MAX || a.domain16.len > FIELD_MAX || a.ws16.len > FIELD_MAX ||
	    a.nt.len > FIELD_MAX) {
		rc = SMBG_ETOOBIG;
		goto fail;
	}

	/* MS-NLMP 2.2.1.3, payload in the order Windows uses. */
	hdr = a.mic ? AUTH_HDR_MIC_LEN : AUTH_HDR_LEN;
	off = hdr;
	wbuf_put_bytes(out, NTLMSSP_SIG, 8);
	wbuf_put_le32(out, NTLMSSP_AUTH);
	size_t lm_off = off + a.domain16.len + a.user16.len + a.ws16.len;
	size_t pos = lm_off;
	put_field(out, a.lm_len, &pos);
	put_field(out, a.nt.len, &pos);
	put_field(out, a.domain16.len, &off);
	put_field(out, a.user16.len, &off);
	put_field(out, a.ws16.len, &off);
	put_field(out, a.enc_key_len, &pos);
	wbuf_put_le32(out, flags);
	if (flags & NTLMSSP_NEGOTIATE_VERSION)
		wbuf_put_bytes(out, version_field(c), 8);
	else
		wbuf_put_zero(out, 8);
	if (a.mic)
		wbuf_put_zero(out, 16); /* MIC, filled in below */
	wbuf_put_bytes(out, a.domain16.p, a.domain16.len);
	wbuf_put_bytes(out, a.user16.p, a.user16.len);
	wbuf_put_bytes(out, a.ws16.p, a.ws16.len);
	wbuf_put_bytes(out, a.lm, a.lm_len);
	wbuf_put_bytes(out, a.nt.p, a.nt.len);
	wbuf_put_bytes(out, a.enc_key, a.enc_key_len);
	if ((rc = wbuf_error(out)) != 0)
		goto fail;
	if (a.mic) {
		uint8_t mic[16];
		rc = ntlm_mic(a.exported, c->neg_msg, c->neg_len, chal, chal_len, out->p + start,
			      out->len - start, mic);
		if (rc)
			goto fail;
		memcpy(out->p + start + AUTH_MIC_OFF, mic, 16);
	}

	c->flags = flags;
	c->sent_mic = a.mic;
	if (a.have_key) {
		memcpy(c->session_key, a.exported, 16);
		c->have_key = 1;
		if ((rc = derive_signing(c)) != 0)
			goto fail;
	}
	parts_free(&a);
	ntlmssp_set_state(c, NTLMSSP_DONE);
	return 0;
fail:
	out->len = start < out->len ? start : out->len;
	parts_free(&a);
	ntlmssp_set_state(c, NTLMSSP_FAILED);
	return rc;
}

/* MS-NLMP 3.4.4.2: Version 1 || HMAC_MD5(SigningKey, SeqNum || Message)[0..7] || SeqNum, the
 * checksum RC4-encrypted with the direction's sealing handle under KEY_EXCH. */
static int mac_make(struct ntlmssp_client *c, int client, const uint8_t *msg, size_t len,
		    uint8_t sig[16])
{
	uint32_t seq = client ? c->client_seq++ : c->server_seq++;
	uint8_t seqb[4] = {(uint8_t)seq, (uint8_t)(seq >> 8), (uint8_t)(seq >> 16),
			   (uint8_t)(seq >> 24)};
	uint8_t digest[16];
	struct iovec iov[2] = {{seqb, 4}, {(void *)msg, len}};
	int rc;

	if (!c->have_key)
		return SMBG_ENOENT;
	if (!c->have_sign_keys)
		return SMBG_ENOTSUP;
	rc = smb_hmac_md5(client ? c->client_sign_key : c->server_sign_key, 16, iov, 2, digest);
	if (rc == 0 && (c->flags & NTLMSSP_NEGOTIATE_KEY_EXCH))
		rc = smb_rc4_update(client ? c->client_seal : c->server_seal, digest, digest, 8);
	if (rc == 0) {
		sig[0] = 1, sig[1] = 0, sig[2] = 0, sig[3] = 0;
		memcpy(sig + 4, digest, 8);
		memcpy(sig + 12, seqb, 4);
	}
	OPENSSL_cleanse(digest, sizeof(digest));
	return rc;
}

int ntlmssp_client_sign(struct ntlmssp_client *c, const uint8_t *msg, size_t len, uint8_t sig[16])
{
	return mac_make(c, 1, msg, len, sig);
}

int ntlmssp_client_verify(struct ntlmssp_client *c, const uint8_t *msg, size_t len,
			  const uint8_t sig[16])
{
	uint8_t want[16];
	int rc = mac_make(c, 0, msg, len, want);

	if (rc == 0 && CRYPTO_memcmp(want, sig, 16) != 0)
		rc = SMBG_ECRYPTO;
	return rc;
}
