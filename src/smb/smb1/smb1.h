/* SMB1 internals: the CIFS dialect "NT LM 0.12" (MS-CIFS, with the MS-SMB extensions).
 *
 * One file per command encodes its request and decodes its response; conn.c owns MIDs, the
 * MaxMpxCount window, signing and the dispatch of responses; check.c validates every response
 * (header, word and byte blocks, the AndX chain) before command code sees it.
 *
 * Wire layout of a message (MS-CIFS 2.2.3): a 32-byte header, WordCount (1 byte), WordCount
 * 16-bit parameter words, ByteCount (2 bytes), ByteCount data bytes. AndX commands put the next
 * command's block at AndXOffset (counted from the header start). */
#ifndef SMBGATE_SMB1_H
#define SMBGATE_SMB1_H

#include <stddef.h>
#include <stdint.h>

#include "smb/client.h"
#include "smb/pending.h"
#include "util/cursor.h"
#include "util/wbuf.h"

#define SMB1_HDR_SIZE 32

/* MS-CIFS 2.2.2.1 command codes (the ones this client sends or receives). */
enum smb1_command {
	SMB1_COM_CREATE_DIRECTORY = 0x00,
	SMB1_COM_DELETE_DIRECTORY = 0x01,
	SMB1_COM_CLOSE = 0x04,
	SMB1_COM_FLUSH = 0x05,
	SMB1_COM_DELETE = 0x06,
	SMB1_COM_RENAME = 0x07,
	SMB1_COM_LOCKING_ANDX = 0x24,
	SMB1_COM_ECHO = 0x2B,
	SMB1_COM_READ_ANDX = 0x2E,
	SMB1_COM_WRITE_ANDX = 0x2F,
	SMB1_COM_TRANSACTION2 = 0x32,
	SMB1_COM_FIND_CLOSE2 = 0x34,
	SMB1_COM_TREE_DISCONNECT = 0x71,
	SMB1_COM_NEGOTIATE = 0x72,
	SMB1_COM_SESSION_SETUP_ANDX = 0x73,
	SMB1_COM_LOGOFF_ANDX = 0x74,
	SMB1_COM_TREE_CONNECT_ANDX = 0x75,
	SMB1_COM_NT_CREATE_ANDX = 0xA2,
	SMB1_COM_NO_ANDX_COMMAND = 0xFF
};

/* 2.2.3.1 Flags and Flags2 */
#define SMB1_FLAGS_CASE_INSENSITIVE    0x08
#define SMB1_FLAGS_CANONICALIZED_PATHS 0x10
#define SMB1_FLAGS_REPLY	       0x80
#define SMB1_FLAGS2_LONG_NAMES	       0x0001
#define SMB1_FLAGS2_EAS		       0x0002
#define SMB1_FLAGS2_SECURITY_SIGNATURE 0x0004
#define SMB1_FLAGS2_SIGNATURE_REQUIRED 0x0010
#define SMB1_FLAGS2_IS_LONG_NAME       0x0040
#define SMB1_FLAGS2_EXTENDED_SECURITY  0x0800
#define SMB1_FLAGS2_NT_STATUS	       0x4000
#define SMB1_FLAGS2_UNICODE	       0x8000

/* 2.2.4.52.2 NEGOTIATE response: SecurityMode and Capabilities */
#define SMB1_NEGOTIATE_USER_SECURITY		    0x01
#define SMB1_NEGOTIATE_ENCRYPT_PASSWORDS	    0x02
#define SMB1_NEGOTIATE_SECURITY_SIGNATURES_ENABLED  0x04
#define SMB1_NEGOTIATE_SECURITY_SIGNATURES_REQUIRED 0x08
#define SMB1_CAP_RAW_MODE			    0x00000001u
#define SMB1_CAP_MPX_MODE			    0x00000002u
#define SMB1_CAP_UNICODE			    0x00000004u
#define SMB1_CAP_LARGE_FILES			    0x00000008u
#define SMB1_CAP_NT_SMBS			    0x00000010u
#define SMB1_CAP_RPC_REMOTE_APIS		    0x00000020u
#define SMB1_CAP_STATUS32			    0x00000040u
#define SMB1_CAP_LEVEL_II_OPLOCKS		    0x00000080u
#define SMB1_CAP_LOCK_AND_READ			    0x00000100u
#define SMB1_CAP_NT_FIND			    0x00000200u
#define SMB1_CAP_DFS				    0x00001000u
#define SMB1_CAP_INFOLEVEL_PASSTHRU		    0x00002000u
#define SMB1_CAP_LARGE_READX			    0x00004000u
#define SMB1_CAP_LARGE_WRITEX			    0x00008000u
#define SMB1_CAP_UNIX				    0x00800000u
#define SMB1_CAP_EXTENDED_SECURITY		    0x80000000u

/* NTSTATUS values the protocol logic looks at */
#define SMB1_STATUS_SUCCESS		     0x00000000u
#define SMB1_STATUS_BUFFER_OVERFLOW	     0x80000005u
#define SMB1_STATUS_NO_MORE_FILES	     0x80000006u
#define SMB1_STATUS_MORE_PROCESSING_REQUIRED 0xC0000016u
#define SMB1_STATUS_END_OF_FILE		     0xC0000011u
#define SMB1_STATUS_NO_SUCH_FILE	     0xC000000Fu
#define SMB1_STATUS_OBJECT_NAME_NOT_FOUND    0xC0000034u
#define SMB1_STATUS_OBJECT_NAME_COLLISION    0xC0000035u
#define SMB1_STATUS_NOT_A_DIRECTORY	     0xC0000103u
#define SMB1_STATUS_FILE_IS_A_DIRECTORY	     0xC00000BAu
#define SMB1_STATUS_LOGON_FAILURE	     0xC000006Du
#define SMB1_STATUS_NOT_SUPPORTED	     0xC00000BBu
#define SMB1_STATUS_INVALID_LEVEL	     0xC0000148u
#define SMB1_STATUS_INVALID_PARAMETER	     0xC000000Du
/* DOS errors without an NTSTATUS equivalent travel as 0xF1cc00ee (class cc, code ee), the
 * convention Samba uses, so that one status field serves both forms. */
#define SMB1_STATUS_DOS(cls, code) (0xF1000000u | ((uint32_t)(cls) << 16) | (uint32_t)(code))

/* TRANSACTION2 subcommands (2.2.6) and information levels (2.2.8) */
#define SMB1_TRANS2_FIND_FIRST2		   0x0001
#define SMB1_TRANS2_FIND_NEXT2		   0x0002
#define SMB1_TRANS2_QUERY_FS_INFORMATION   0x0003
#define SMB1_TRANS2_QUERY_PATH_INFORMATION 0x0005
#define SMB1_TRANS2_SET_PATH_INFORMATION   0x0006
#define SMB1_TRANS2_QUERY_FILE_INFORMATION 0x0007
#define SMB1_TRANS2_SET_FILE_INFORMATION   0x0008
#define SMB1_FIND_FILE_BOTH_DIRECTORY_INFO 0x0104
#define SMB1_QUERY_FS_SIZE_INFO		   0x0103
#define SMB1_QUERY_FILE_ALL_INFO	   0x0107
#define SMB1_SET_FILE_BASIC_INFO	   0x0101
#define SMB1_SET_FILE_DISPOSITION_INFO	   0x0102
#define SMB1_SET_FILE_END_OF_FILE_INFO	   0x0104
/* Pass-through levels: 1000 + the MS-FSCC information class (needs CAP_INFOLEVEL_PASSTHRU). */
#define SMB1_INFO_PASSTHROUGH		   1000
#define SMB1_PASS_FILE_RENAME_INFORMATION  (SMB1_INFO_PASSTHROUGH + 10)
#define SMB1_PASS_FS_FULL_SIZE_INFORMATION (SMB1_INFO_PASSTHROUGH + 7)

/* SMB_FILE_ATTRIBUTE search attributes (2.2.1.2.4) */
#define SMB1_ATTR_HIDDEN    0x0002
#define SMB1_ATTR_SYSTEM    0x0004
#define SMB1_ATTR_DIRECTORY 0x0010

/* FIND_FIRST2 / FIND_NEXT2 flags (2.2.6.2.1) */
#define SMB1_FIND_CLOSE_AT_EOS	     0x0002
#define SMB1_FIND_CONTINUE_FROM_LAST 0x0008

#define SMB1_MID_OPLOCK 0xFFFF /* an oplock break request from the server */

struct smb1_req;

/* One validated command block of a response (the first, or one further down an AndX chain).
 * Every pointer borrows from the received frame, valid for the callback only. */
struct smb1_msg {
	const uint8_t *p; /* the whole SMB message, header first */
	size_t len;
	uint8_t command; /* of this block (for a chained block: the previous AndXCommand) */
	uint32_t status; /* NTSTATUS (DOS errors mapped, see doserr.c) */
	uint8_t flags;
	uint16_t flags2;
	uint16_t tid, pid, uid, mid;
	size_t block_off; /* offset of this block's WordCount */
	uint8_t wct;
	struct cursor words;  /* the parameter words */
	struct cursor bytes;  /* the data bytes */
	uint8_t andx_command; /* SMB1_COM_NO_ANDX_COMMAND when none or not an AndX command */
	uint16_t andx_offset;
};

/* Called once with the response (err 0, m set) or a failure (err < 0, m NULL). */
typedef void (*smb1_done_fn)(struct smb_client *c, struct smb1_req *r, int err,
			     const struct smb1_msg *m);

/* Reassembly of a TRANSACTION2 response that spans several messages (MS-CIFS 3.2.5.13). */
struct smb1_trans {
	uint16_t setup; /* subcommand (for messages) */
	uint16_t max_param, max_data;
	uint8_t *param, *data; /* owned, max_* bytes */
	uint32_t total_param, total_data;
	uint32_t got_param, got_data;
	int started;
};

struct smb1_req {
	struct smb1_req *next;	       /* MaxMpx wait queue */
	struct smb_pending_entry pend; /* in smb1_state.pending while in flight, keyed by mid */
	uint16_t mid;
	uint8_t command;
	int oneway;   /* no response comes (oplock break acknowledgement) */
	uint32_t seq; /* signing sequence number of this request */
	int64_t deadline;
	struct wbuf pdu; /* 4 spare bytes + header + words + bytes; the payload is separate */
	size_t bcc_at;	 /* offset of ByteCount in pdu, 0 until smb1_bytes_begin */
	const void *payload;
	size_t payload_len;
	smb1_done_fn done;
	struct smb1_trans *trans; /* TRANSACTION2 only */
	/* user completion */
	smb_cb cb;
	void *priv;
	/* command context */
	void *ctx;
	void *out;
	void *out2;
	struct smb_file *file;
	uint64_t u64, u64b;
	char *path; /* owned copy for messages (path commands) */
};

/* Per-handle SMB1 state, hung off smb_file.fid (which SMB1 does not use otherwise). */
struct smb1_handle {
	struct smb1_handle *next, *prev;
	struct smb_file *f;
	int path_only; /* no server handle: operations go by path (see open.c) */
	int flags;     /* SMB_O_* the handle was opened with */
	int is_dir;
	/* directory listing */
	int sid_open;
	uint16_t sid;
	char *resume_name; /* the last name of the previous round */
};

struct smb1_state {
	uint16_t next_mid;
	uint16_t max_mpx;
	uint32_t max_buffer; /* server's MaxBufferSize */
	uint32_t server_caps;
	uint8_t security_mode;
	uint32_t vc_session_key; /* SessionKey from NEGOTIATE, echoed in SESSION_SETUP */
	int unicode;
	int nt_status;
	int ext_sec;
	uint8_t challenge[8];
	char *server_domain; /* UTF-8, from a NEGOTIATE without extended security */
	char *server_name;
	uint8_t *security_blob; /* from an extended-security NEGOTIATE (SPNEGO hint) */
	size_t security_blob_len;
	uint16_t uid, tid;
	uint16_t pid_low, pid_high;
	/* signing (MS-CIFS 3.1.5.1): MD5 over MAC key, message with the sequence number */
	int sign;
	uint8_t *mac_key;
	size_t mac_key_len;
	uint32_t seq;
	/* requests */
	struct smb_pending pending;		  /* requests in flight, by MID */
	struct smb1_req *waitq_head, *waitq_tail; /* beyond MaxMpxCount */
	struct smb1_handle *handles;
	uint32_t search_count; /* entries asked for per FIND round */
	/* multi-protocol negotiate: an SMB2 answer is kept for the SMB2 code */
	int negotiating;
	uint8_t *smb2_reply;
	size_t smb2_reply_len;
};

static inline struct smb1_state *smb1_st(const struct smb_client *c)
{
	return (struct smb1_state *)c->s1;
}

/* ---- conn.c ---- */
int smb1_state_init(struct smb_client *c);
void smb1_state_free(struct smb_client *c);
/* A request with 4 spare bytes and the 32-byte header filled in (command, flags, ids). */
struct smb1_req *smb1_req_new(struct smb_client *c, uint8_t command, smb1_done_fn done);
void smb1_req_free(struct smb1_req *r);
/* The parameter block: writes WordCount; the words follow with wbuf_put_*. */
void smb1_words_begin(struct smb1_req *r, uint8_t wct);
/* Writes a ByteCount placeholder; the bytes follow. smb1_bytes_end (for a block followed by a
 * chained one) or smb1_submit (for the last block, counting the payload) patches it. */
void smb1_bytes_begin(struct smb1_req *r);
void smb1_bytes_end(struct smb1_req *r);
/* Offset of the current end of the message from the header start (for AndX offsets,
 * alignment and data offsets). */
size_t smb1_hdr_off(const struct smb1_req *r);
/* Finishes, signs and queues r (or keeps it waiting for a MaxMpx slot). Takes r: on failure r
 * is freed and its done is NOT called. */
int smb1_submit(struct smb_client *c, struct smb1_req *r);
int smb1_frame(struct smb_client *c, uint8_t *buf, size_t len);
void smb1_fail_all(struct smb_client *c, int err);
int64_t smb1_next_deadline(const struct smb_client *c);
size_t smb1_pending(const struct smb_client *c);
void smb1_complete(struct smb_client *c, struct smb1_req *r, int rc);
/* Maps a failed response to an error, sets the message ("op path: STATUS (...)"). */
int smb1_status_err(struct smb_client *c, const struct smb1_msg *m, const char *op,
		    const char *path);
/* Done handler for responses that carry nothing we need (r->ctx: op name, r->file or r->path:
 * the path in a failure message). */
void smb1_done_status(struct smb_client *c, struct smb1_req *r, int err, const struct smb1_msg *m);
/* Done handler for blocking exchanges that parse the response after waiting: r->ctx is a
 * struct smb_reply (smb/reply.h), which gets the outcome and a copy of the message. */
void smb1_done_reply(struct smb_client *c, struct smb1_req *r, int err, const struct smb1_msg *m);
/* Sets bits in the header's Flags2 of a request not yet submitted. */
void smb1_req_add_flags2(struct smb1_req *r, uint16_t bits);
/* Strings in the bytes block: Unicode (aligned to 2 from the header, NUL-terminated) or OEM.
 * Paths: '/' becomes '\'. SMBG_ENAME when the name cannot be sent (not ASCII on an OEM
 * connection). */
int smb1_put_string(struct smb_client *c, struct smb1_req *r, const char *s, int path);
/* The same, into a TRANS2 parameter buffer whose alignment does not matter (trans2 strings
 * are aligned by the caller when needed). */
int smb1_put_string_raw(const struct smb_client *c, struct wbuf *b, const char *s, int path);
/* Reads a string of len bytes (Unicode or OEM) into a new UTF-8 string (caller frees). */
int smb1_get_string(int unicode, const uint8_t *p, size_t len, char **out);
/* Per-handle state. */
struct smb1_handle *smb1_handle_get(struct smb_file *f);
struct smb1_handle *smb1_handle_attach(struct smb_client *c, struct smb_file *f);
void smb1_handle_release(struct smb_client *c, struct smb_file *f);

/* ---- sign.c ---- */
/* Starts signing with key = session key || response (response may be empty). */
int smb1_sign_start(struct smb_client *c, const uint8_t *session_key, size_t key_len,
		    const uint8_t *response, size_t resp_len);
/* Writes the signature of the message (header at hdr) with sequence number seq. */
int smb1_sign_message(const uint8_t *mac_key, size_t mac_key_len, uint32_t seq, uint8_t *hdr,
		      size_t hdr_len, const void *payload, size_t payload_len);
/* 0 when the received message carries the right signature for seq, SMBG_ECRYPTO if not. */
int smb1_verify_message(const uint8_t *mac_key, size_t mac_key_len, uint32_t seq,
			const uint8_t *msg, size_t len);

/* ---- check.c: the central validator ---- */
/* Validates the header and the first block (word and byte counts inside the message) and fills
 * m. Responses must have the reply flag. */
int smb1_check_message(const uint8_t *p, size_t len, struct smb1_msg *m);
/* Same for a request from the server (an oplock break): no reply flag needed. */
int smb1_check_request(const uint8_t *p, size_t len, struct smb1_msg *m);
/* Follows the AndX chain from m to the next block: 1 and *next filled, 0 at the end of the
 * chain, SMBG_EPROTO when the offset is bad (backwards, outside the message). */
int smb1_andx_next(const struct smb1_msg *m, struct smb1_msg *next);
/* A cursor over [off, off+len) of the whole message (offsets count from the header). */
int smb1_msg_range(const struct smb1_msg *m, size_t off, size_t len, struct cursor *out);

/* ---- doserr.c ---- */
/* The NTSTATUS for a DOS error class/code (SMB1_STATUS_DOS(...) when there is none). */
uint32_t smb1_dos_to_ntstatus(uint8_t cls, uint16_t code);

/* ---- trans2.c ---- */
/* A TRANSACTION2 request with one setup word. params/data are copied; max_param/max_data are
 * what the response may carry. done sees r->trans with the reassembled response. */
struct smb1_req *smb1_trans2_new(struct smb_client *c, uint16_t setup, const struct wbuf *params,
				 const void *data, size_t data_len, uint16_t max_param,
				 uint16_t max_data, smb1_done_fn done);
/* Adds one response message to r->trans. Returns 1 when the response is complete, 0 when more
 * messages follow, SMBG_EPROTO when the message is malformed. */
int smb1_trans2_collect(struct smb1_trans *t, const struct smb1_msg *m);
void smb1_trans_free(struct smb1_trans *t);

/* ---- commands ---- */
int smb1_negotiate(struct smb_client *c);
/* Logs in; the tree connect rides along when the server allows (*tree_done then 1). */
int smb1_session_setup(struct smb_client *c, int *tree_done);
int smb1_tree_connect(struct smb_client *c);
/* The TREE_CONNECT_ANDX block (words and bytes) appended to r; its response block parsed (sets
 * the TID); a failure status turned into the message. */
int smb1_tcon_build(struct smb_client *c, struct smb1_req *r);
int smb1_tcon_parse(struct smb_client *c, const struct smb1_msg *m);
int smb1_tcon_status(struct smb_client *c, uint32_t status);
void smb1_logout(struct smb_client *c);
int smb1_open(struct smb_client *c, const char *path, int flags, int options, struct smb_file **out,
	      struct smb_stat *st, smb_cb cb, void *priv);
int smb1_nt_create(struct smb_client *c, struct smb_file *f, int flags, int options,
		   struct smb_file **out, struct smb_stat *st, smb_cb cb, void *priv);
int smb1_close(struct smb_client *c, struct smb_file *f, smb_cb cb, void *priv);
int smb1_read(struct smb_client *c, struct smb_file *f, void *buf, size_t len, uint64_t off,
	      smb_cb cb, void *priv);
int smb1_write(struct smb_client *c, struct smb_file *f, const void *buf, size_t len, uint64_t off,
	       smb_cb cb, void *priv);
int smb1_flush(struct smb_client *c, struct smb_file *f, smb_cb cb, void *priv);
int smb1_fstat(struct smb_client *c, struct smb_file *f, struct smb_stat *st, smb_cb cb,
	       void *priv);
int smb1_query_path(struct smb_client *c, const char *path, struct smb_stat *st, smb_cb cb,
		    void *priv);
/* Request builders used by open.c: QUERY_PATH_INFORMATION (SMB_QUERY_FILE_ALL_INFO; done finds
 * the data in r->trans) and CREATE_DIRECTORY. */
int smb1_qpath_req(struct smb_client *c, const char *path, smb1_done_fn done,
		   struct smb1_req **out);
int smb1_mkdir_req(struct smb_client *c, const char *path, smb1_done_fn done,
		   struct smb1_req **out);
int smb1_readdir(struct smb_client *c, struct smb_file *f, smb_dirent_fn fn, void *fpriv, smb_cb cb,
		 void *priv);
int smb1_find_close(struct smb_client *c, struct smb1_handle *h);
int smb1_statfs(struct smb_client *c, struct smb_file *f, struct smb_statfs *st, smb_cb cb,
		void *priv);
int smb1_set_times(struct smb_client *c, struct smb_file *f, uint64_t atime, uint64_t mtime,
		   smb_cb cb, void *priv);
int smb1_set_size(struct smb_client *c, struct smb_file *f, uint64_t size, smb_cb cb, void *priv);
int smb1_set_delete(struct smb_client *c, struct smb_file *f, int del, smb_cb cb, void *priv);
int smb1_rename(struct smb_client *c, struct smb_file *f, const char *to, int replace, smb_cb cb,
		void *priv);
int smb1_echo(struct smb_client *c, smb_cb cb, void *priv);
struct smb1_req *smb1_echo_req(struct smb_client *c, smb1_done_fn done);
/* Path commands of the core protocol (one request each). */
int smb1_delete_path(struct smb_client *c, const char *path, smb_cb cb, void *priv);
int smb1_rename_path(struct smb_client *c, const char *from, const char *to, smb_cb cb, void *priv);
int smb1_rmdir_path(struct smb_client *c, const char *path, smb_cb cb, void *priv);
/* Answers an oplock break request (LOCKING_ANDX with OPLOCK_RELEASE, no response). */
int smb1_oplock_ack(struct smb_client *c, const struct smb1_msg *m);

/* Parsers exposed for unit tests and fuzz targets (pure functions over validated messages). */
struct smb1_negotiate_resp {
	uint16_t dialect_index;
	uint8_t security_mode;
	uint16_t max_mpx;
	uint16_t max_vcs;
	uint32_t max_buffer;
	uint32_t max_raw;
	uint32_t session_key;
	uint32_t capabilities;
	uint64_t system_time;
	int16_t tz;
	uint8_t challenge_len;
	const uint8_t *challenge; /* without extended security */
	const uint8_t *guid;	  /* with extended security: 16 bytes */
	const uint8_t *blob;	  /* with extended security */
	size_t blob_len;
	const uint8_t *names; /* without extended security: DomainName, ServerName */
	size_t names_len;
};
int smb1_negotiate_parse(const struct smb1_msg *m, struct smb1_negotiate_resp *r);
int smb1_create_parse(const struct smb1_msg *m, uint16_t *fid, struct smb_stat *st);
/* FIND_FIRST2/FIND_NEXT2 data with SMB_FIND_FILE_BOTH_DIRECTORY_INFO entries; *last gets the
 * last name (caller frees), fn is called for each entry but "." and "..". */
int smb1_find_parse(int unicode, const uint8_t *p, size_t len, smb_dirent_fn fn, void *priv,
		    char **last);
int smb1_allinfo_parse(const uint8_t *p, size_t len, struct smb_stat *st);
int smb1_fsinfo_parse(uint16_t level, const uint8_t *p, size_t len, struct smb_statfs *st);
/* READ_ANDX response: where the data lies in the message and how long it is. */
int smb1_read_parse(const struct smb1_msg *m, size_t *off, size_t *len);

extern const struct smb_dialect_ops smb1_ops;

#endif
