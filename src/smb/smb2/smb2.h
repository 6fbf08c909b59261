/* SMB2/3 internals (MS-SMB2). One file per command encodes its request and decodes its
 * response; conn.c owns message ids, credits, signing, encryption and dispatch; check.c
 * validates every response before command code sees it. */
#ifndef SMBGATE_SMB2_H
#define SMBGATE_SMB2_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/kdf.h"
#include "crypto/seal.h"
#include "crypto/sign.h"
#include "smb/client.h"
#include "smb/pending.h"
#include "util/cursor.h"
#include "util/wbuf.h"

/* 2.2.1 SMB2 header */
#define SMB2_HDR_SIZE	    64
#define SMB2_TRANSFORM_SIZE 52

enum smb2_command {
	SMB2_NEGOTIATE = 0x00,
	SMB2_SESSION_SETUP = 0x01,
	SMB2_LOGOFF = 0x02,
	SMB2_TREE_CONNECT = 0x03,
	SMB2_TREE_DISCONNECT = 0x04,
	SMB2_CREATE = 0x05,
	SMB2_CLOSE = 0x06,
	SMB2_FLUSH = 0x07,
	SMB2_READ = 0x08,
	SMB2_WRITE = 0x09,
	SMB2_LOCK = 0x0A,
	SMB2_IOCTL = 0x0B,
	SMB2_CANCEL = 0x0C,
	SMB2_ECHO = 0x0D,
	SMB2_QUERY_DIRECTORY = 0x0E,
	SMB2_CHANGE_NOTIFY = 0x0F,
	SMB2_QUERY_INFO = 0x10,
	SMB2_SET_INFO = 0x11,
	SMB2_OPLOCK_BREAK = 0x12,
	SMB2_NCOMMANDS = 0x13
};

#define SMB2_FLAGS_SERVER_TO_REDIR  0x00000001
#define SMB2_FLAGS_ASYNC_COMMAND    0x00000002
#define SMB2_FLAGS_RELATED	    0x00000004
#define SMB2_FLAGS_SIGNED	    0x00000008
#define SMB2_FLAGS_DFS_OPERATIONS   0x10000000
#define SMB2_FLAGS_REPLAY_OPERATION 0x20000000 /* 3.x: a request sent again after a drop */

/* NTSTATUS values the protocol logic itself looks at */
#define STATUS_SUCCESS			0x00000000u
#define STATUS_PENDING			0x00000103u
#define STATUS_BUFFER_OVERFLOW		0x80000005u
#define STATUS_NO_MORE_FILES		0x80000006u
#define STATUS_MORE_PROCESSING_REQUIRED 0xC0000016u
#define STATUS_END_OF_FILE		0xC0000011u
#define STATUS_NETWORK_SESSION_EXPIRED	0xC000035Cu
#define STATUS_USER_SESSION_DELETED	0xC0000203u
#define STATUS_OBJECT_NAME_NOT_FOUND	0xC0000034u
#define STATUS_NETWORK_NAME_DELETED	0xC00000C9u

/* 2.2.13 CREATE: oplock levels; 2.2.13.2 create contexts used for durable handles */
#define SMB2_OPLOCK_LEVEL_NONE	    0x00
#define SMB2_OPLOCK_LEVEL_II	    0x01
#define SMB2_OPLOCK_LEVEL_EXCLUSIVE 0x08
#define SMB2_OPLOCK_LEVEL_BATCH	    0x09
#define SMB2_DURABLE_TIMEOUT_MS	    60000 /* asked for in DH2Q: how long the server keeps it */

/* 2.2.3 NEGOTIATE */
#define SMB2_NEGOTIATE_SIGNING_ENABLED	    0x0001
#define SMB2_NEGOTIATE_SIGNING_REQUIRED	    0x0002
#define SMB2_GLOBAL_CAP_DFS		    0x00000001
#define SMB2_GLOBAL_CAP_LEASING		    0x00000002
#define SMB2_GLOBAL_CAP_LARGE_MTU	    0x00000004
#define SMB2_GLOBAL_CAP_MULTI_CHANNEL	    0x00000008
#define SMB2_GLOBAL_CAP_ENCRYPTION	    0x00000040
#define SMB2_PREAUTH_INTEGRITY_CAPABILITIES 0x0001
#define SMB2_ENCRYPTION_CAPABILITIES	    0x0002
#define SMB2_SIGNING_CAPABILITIES	    0x0008
#define SMB2_PREAUTH_SHA512		    0x0001

/* 2.2.6 SESSION_SETUP response flags */
#define SMB2_SESSION_FLAG_IS_GUEST     0x0001
#define SMB2_SESSION_FLAG_IS_NULL      0x0002
#define SMB2_SESSION_FLAG_ENCRYPT_DATA 0x0004

/* 2.2.10 TREE_CONNECT response */
#define SMB2_SHARE_TYPE_DISK	    0x01
#define SMB2_SHAREFLAG_ENCRYPT_DATA 0x00008000

/* 2.2.33 QUERY_DIRECTORY; 2.2.37 QUERY_INFO (MS-FSCC 2.4 / 2.5 classes) */
#define SMB2_RESTART_SCANS		   0x01
#define FILE_ID_FULL_DIRECTORY_INFORMATION 0x26
#define SMB2_0_INFO_FILE		   0x01
#define SMB2_0_INFO_FILESYSTEM		   0x02
#define FILE_BASIC_INFORMATION		   4
#define FILE_STANDARD_INFORMATION	   5
#define FILE_RENAME_INFORMATION		   10
#define FILE_DISPOSITION_INFORMATION	   13
#define FILE_ALL_INFORMATION		   18
#define FILE_END_OF_FILE_INFORMATION	   20
#define FILE_FS_FULL_SIZE_INFORMATION	   7
#define SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB   0x0001

struct smb2_req;

/* A validated response: the whole SMB2 message (header + body), borrowed for the call. */
struct smb2_msg {
	const uint8_t *p;
	size_t len;
	uint32_t status;
	uint16_t command;
	uint32_t flags;
	uint64_t session_id;
	uint32_t tree_id;
	uint64_t async_id;
};

/* Called once with the response (err 0, m set) or a failure (err < 0, m NULL). */
typedef void (*smb2_done_fn)(struct smb_client *c, struct smb2_req *r, int err,
			     const struct smb2_msg *m);

struct smb2_req {
	struct smb2_req *next;	       /* credit wait queue */
	struct smb_pending_entry pend; /* in smb2_state.pending while in flight, keyed by msg_id */
	uint64_t msg_id;
	uint16_t command;
	uint16_t charge;       /* credits this request costs (>= 1) */
	uint32_t payload_size; /* bytes moved (for the credit charge) */
	int64_t sent_at;       /* monotonic ms when it went out (0 while it waits for credits) */
	int64_t deadline;      /* monotonic ms; 0 = none */
	int no_sign;	       /* negotiate/session setup before keys exist */
	int force_sign;	       /* signed even when the session does not sign (unless sealed) */
	int verify_in_done;    /* session setup: the handler verifies the signature itself */
	int preauth;	       /* 3.1.1: hash the request and response into the preauth hash */
	int related;	       /* part of a compound (related to the previous) */
	/* reconnect (smb/reconnect.c): the pdu is kept after sending so that the request can be
	 * sent again on a new connection; sent: it went out (its fate is unknown after a drop);
	 * replay: send it with SMB2_FLAGS_REPLAY_OPERATION */
	int keep_pdu, sent, replay;
	int64_t park_deadline; /* parked while reconnecting: fails with a timeout after this */
	struct wbuf pdu;       /* 4 spare bytes + header + body; the payload is separate */
	const void *payload;
	size_t payload_len;
	int payload_in_file; /* payload_len bytes of payload_fd at payload_fd_off (sendfile) */
	int payload_fd;
	uint64_t payload_fd_off;
	smb2_done_fn done;
	/* user completion */
	smb_cb cb;
	void *priv;
	/* command context (a few generic slots saves an allocation per request) */
	void *ctx;
	void *out;
	void *out2;
	struct smb_file *file;
	uint64_t u64;
};

struct smb2_state {
	uint64_t next_msg_id;
	uint32_t credits; /* granted and not yet spent */
	int large_mtu;
	uint16_t server_security_mode;
	uint32_t server_caps;
	uint8_t client_guid[16];
	/* what our NEGOTIATE offered, repeated by VALIDATE_NEGOTIATE_INFO */
	uint16_t client_security_mode;
	uint32_t client_caps;
	uint16_t dialects[8];
	uint16_t ndialects;
	uint8_t server_guid[16];
	uint64_t session_id;
	uint32_t tree_id;
	uint32_t share_flags;
	uint16_t session_flags;
	int signing_required; /* sign every request, require signed responses */
	int encrypt;	      /* encrypt every request after session setup */
	enum smb2_sign_alg sign_alg;
	enum smb2_cipher cipher;
	struct smb2_keys keys;
	int have_keys;
	uint8_t preauth[64];	     /* connection preauth hash (after NEGOTIATE) */
	uint8_t session_preauth[64]; /* session preauth hash (during SESSION_SETUP) */
	uint64_t nonce_counter;
	uint8_t nonce_salt[4];
	struct smb_pending pending;		  /* requests in flight, by MessageId */
	struct smb2_req *waitq_head, *waitq_tail; /* waiting for credits */
	uint8_t *security_blob;			  /* from NEGOTIATE (SPNEGO hint) */
	size_t security_blob_len;
};

/* ---- conn.c ---- */
int smb2_state_init(struct smb_client *c);
/* Allocates a request whose pdu holds 4 spare bytes and a zeroed 64-byte header. */
struct smb2_req *smb2_req_new(struct smb_client *c, uint16_t command, smb2_done_fn done);
void smb2_req_free(struct smb2_req *r);
/* Finishes the header (ids, credits, flags), signs, encrypts, queues. Takes r: on failure r is
 * freed and its done is NOT called. */
int smb2_submit(struct smb_client *c, struct smb2_req *r);
/* Handles one frame from the transport (a message, a compound or a transform). */
int smb2_frame(struct smb_client *c, uint8_t *buf, size_t len);
void smb2_fail_all(struct smb_client *c, int err);
/* The earliest deadline of a request in flight or waiting for credits; 0 when none. */
int64_t smb2_next_deadline(const struct smb_client *c);
size_t smb2_pending(const struct smb_client *c);
void smb2_state_free(struct smb_client *c);
/* Sends r again (a parked request, smb/reconnect.c): like smb2_submit, but on failure r's done
 * runs with the error and r is freed. */
void smb2_resubmit(struct smb_client *c, struct smb2_req *r);
/* Takes every request out of the connection (waiting for credits, then in flight) and hands
 * each to fn, which then owns it. */
void smb2_take_all(struct smb_client *c, void (*fn)(struct smb_client *, struct smb2_req *));
/* Verifies a signed message with the session's signing key. */
int smb2_verify(struct smb_client *c, const uint8_t *msg, size_t len);
/* Writes the 16-byte file id. */
void smb2_put_fid(struct wbuf *b, const struct smb_file *f);
/* Helper for done handlers: maps a non-success status to an error and sets the message. */
int smb2_status_err(struct smb_client *c, const struct smb2_msg *m, const char *op,
		    const char *path);
/* Done handler for responses that carry nothing we need: maps the status; r->ctx names the
 * operation (a static string) and r->file the path in a failure message. */
void smb2_done_status(struct smb_client *c, struct smb2_req *r, int err, const struct smb2_msg *m);
/* Done handler for blocking exchanges that parse the response after waiting: r->ctx is a
 * struct smb_reply (smb/reply.h), which gets the outcome and a copy of the message. */
void smb2_done_reply(struct smb_client *c, struct smb2_req *r, int err, const struct smb2_msg *m);
/* Calls the request's user callback (if any) with rc. */
void smb2_complete(struct smb_client *c, struct smb2_req *r, int rc);
/* Encodes a share-relative '/' path as UTF-16LE with '\' separators. */
int smb2_put_path(struct wbuf *b, const char *path);

/* ---- check.c: the central validator ---- */
/* Validates the header and the command's fixed body part; fills m. */
int smb2_check_message(const uint8_t *p, size_t len, struct smb2_msg *m);
/* A sub-cursor over [off, off+len) of the message, with off counted from the header start.
 * len 0 gives an empty cursor whatever off is. */
int smb2_msg_buffer(const struct smb2_msg *m, uint32_t off, uint32_t len, struct cursor *out);
/* The OutputBuffer of a QUERY_DIRECTORY or QUERY_INFO response, which share their layout
 * (2.2.34, 2.2.38: StructureSize 9, 16-bit offset, 32-bit length), as a sub-cursor. */
int smb2_output_buffer(const struct smb2_msg *m, struct cursor *out);

/* ---- commands ---- */
int smb2_negotiate(struct smb_client *c);
/* Applies a NEGOTIATE response (msg, len): the dialect, sizes, signing and cipher choices. */
int smb2_negotiate_finish(struct smb_client *c, const uint8_t *msg, size_t len);
int smb2_session_setup(struct smb_client *c);
/* Re-authenticates the session in place (STATUS_NETWORK_SESSION_EXPIRED, MS-SMB2 3.2.4.2.3):
 * SESSION_SETUP legs on the existing SessionId; the keys stay. Blocking. */
int smb2_session_reauth(struct smb_client *c);
int smb2_tree_connect(struct smb_client *c);
/* FSCTL_VALIDATE_NEGOTIATE_INFO after the tree connect on 3.0 and 3.0.2 (blocking); a mismatch
 * or a refusal ends the connection (SMBG_ECRYPTO and a message). 0 on other dialects. */
int smb2_validate_negotiate(struct smb_client *c);
void smb2_logout(struct smb_client *c);
int smb2_open(struct smb_client *c, const char *path, int flags, int options, struct smb_file **out,
	      struct smb_stat *st, smb_cb cb, void *priv);
int smb2_close(struct smb_client *c, struct smb_file *f, smb_cb cb, void *priv);
/* After a reconnect: reestablishes f's open on the new connection, keeping f (its fid is
 * updated): a durable handle with DH2C, else by path for files opened read-only and
 * directories. Blocking. < 0 when f cannot be kept. */
int smb2_reopen(struct smb_client *c, struct smb_file *f);
/* An unsolicited message (MessageId 0xFFFFFFFFFFFFFFFF): an oplock break is acknowledged. */
int smb2_unsolicited(struct smb_client *c, const struct smb2_msg *m);
int smb2_read(struct smb_client *c, struct smb_file *f, void *buf, size_t len, uint64_t off,
	      smb_cb cb, void *priv);
int smb2_write(struct smb_client *c, struct smb_file *f, const void *buf, size_t len, uint64_t off,
	       smb_cb cb, void *priv);
/* WRITE whose payload is fd's bytes at fd_off, sent by the kernel (sendfile). SMBG_ENOTSUP when
 * the session signs or seals (the payload must pass through user space then). */
int smb2_write_file(struct smb_client *c, struct smb_file *f, int fd, uint64_t fd_off, size_t len,
		    uint64_t off, smb_cb cb, void *priv);
/* Whether requests on this session go out unsigned and unsealed. */
int smb2_plain_payloads(const struct smb_client *c);
int smb2_flush(struct smb_client *c, struct smb_file *f, smb_cb cb, void *priv);
int smb2_fstat(struct smb_client *c, struct smb_file *f, struct smb_stat *st, smb_cb cb,
	       void *priv);
int smb2_readdir(struct smb_client *c, struct smb_file *f, smb_dirent_fn fn, void *fpriv, smb_cb cb,
		 void *priv);
int smb2_statfs(struct smb_client *c, struct smb_file *f, struct smb_statfs *st, smb_cb cb,
		void *priv);
int smb2_set_times(struct smb_client *c, struct smb_file *f, uint64_t atime, uint64_t mtime,
		   smb_cb cb, void *priv);
int smb2_set_size(struct smb_client *c, struct smb_file *f, uint64_t size, smb_cb cb, void *priv);
int smb2_set_delete(struct smb_client *c, struct smb_file *f, int del, smb_cb cb, void *priv);
int smb2_rename(struct smb_client *c, struct smb_file *f, const char *to, int replace, smb_cb cb,
		void *priv);
int smb2_echo(struct smb_client *c, smb_cb cb, void *priv);

/* Parsers exposed for unit tests and fuzz targets (pure functions over a validated message). */
struct smb2_negotiate_resp {
	uint16_t security_mode;
	uint16_t dialect;
	uint8_t server_guid[16];
	uint32_t capabilities;
	uint32_t max_trans, max_read, max_write;
	uint16_t preauth_hash_alg; /* 3.1.1 */
	uint16_t cipher;
	uint16_t sign_alg;
	int have_sign_ctx;
	const uint8_t *blob;
	size_t blob_len;
};
int smb2_negotiate_parse(const struct smb2_msg *m, struct smb2_negotiate_resp *r);
int smb2_create_parse(const struct smb2_msg *m, uint8_t fid[16], struct smb_stat *st);
/* What a CREATE response says beyond the attributes: the oplock granted and the durable
 * handle response (DH2Q, 2.2.14.2.12) among its create contexts. */
struct smb2_create_out {
	uint8_t oplock;
	int durable; /* a DH2Q response context was present */
	uint32_t durable_timeout_ms;
	uint32_t durable_flags;
	unsigned ncontexts;
};
int smb2_create_out_parse(const struct smb2_msg *m, struct smb2_create_out *out);
/* Walks a chain of create contexts (2.2.13.2: Next, NameOffset/Length, DataOffset/Length,
 * offsets from each context's start) in p[0..len); fills out's context fields. */
int smb2_create_contexts_parse(const uint8_t *p, size_t len, struct smb2_create_out *out);
/* An oplock break notification (2.2.23.1): the new level and the FileId. */
int smb2_oplock_break_parse(const struct smb2_msg *m, uint8_t *level, uint8_t fid[16]);
int smb2_dirinfo_parse(const uint8_t *p, size_t len, smb_dirent_fn fn, void *priv);
int smb2_allinfo_parse(const uint8_t *p, size_t len, struct smb_stat *st);
int smb2_fsinfo_parse(const uint8_t *p, size_t len, struct smb_statfs *st);
/* The server's VALIDATE_NEGOTIATE_INFO answer (2.2.32.6) out of an IOCTL response (2.2.32). */
struct smb2_validate_resp {
	uint32_t capabilities;
	uint8_t guid[16];
	uint16_t security_mode;
	uint16_t dialect;
};
int smb2_validate_negotiate_parse(const struct smb2_msg *m, struct smb2_validate_resp *v);
/* 0 when v matches what the NEGOTIATE response said; else SMBG_ECRYPTO with a message. */
int smb2_validate_negotiate_check(struct smb_client *c, const struct smb2_validate_resp *v);

#endif
