/* The byte stream under SMB: TCP to port 445 (direct TCP) or to 139 with a NetBIOS session
 * request first. Both frame each message with a 4-byte header (RFC 1002 session message:
 * type 0x00 and a 17-bit length for NetBIOS; 0x00 and a 24-bit length for direct TCP).
 * Output is queued and written without blocking; input is reassembled into whole frames. */
#ifndef SMBGATE_TRANSPORT_H
#define SMBGATE_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define SMB_FRAME_MAX_DIRECT  0xFFFFFF /* 24-bit length */
#define SMB_FRAME_MAX_NETBIOS 0x1FFFF  /* 17-bit length */

struct smb_outbuf;

struct smb_link {
	int fd;
	int netbios;
	size_t frame_max; /* largest frame we accept or send */
	/* output queue */
	struct smb_outbuf *out_head, *out_tail;
	size_t out_bytes;
	/* input: a lookahead buffer for small frames, a frame buffer for large ones */
	uint8_t *la;
	size_t la_len, la_off, la_cap;
	uint8_t *frame;
	size_t frame_len, frame_got, frame_cap;
	int in_frame; /* a large frame is being read into `frame` */
	/* NetBIOS name service for host names DNS does not know (borrowed; NULL: broadcast on
	 * every interface). */
	const char *nb_wins, *nb_broadcast;
};

/* Called for each complete frame; buf is writable (decryption happens in place) and borrowed
 * for the call. Return 0 to continue, < 0 to stop reading and fail the connection. */
typedef int (*smb_frame_fn)(void *priv, uint8_t *buf, size_t len);

void smb_transport_init(struct smb_link *t);
/* Connects to host:port (tries every address), within timeout_ms. On failure writes a reason
 * into err. The socket is non-blocking afterwards, with TCP_NODELAY, TCP keepalive (a silent
 * peer is dropped after about 60 s) and TCP_USER_TIMEOUT = timeout_ms (unacknowledged data
 * ends the connection after that long; none when timeout_ms is 0). */
int smb_transport_connect(struct smb_link *t, const char *host, uint16_t port, int timeout_ms,
			  char *err, size_t errlen);
/* NetBIOS session request (RFC 1002 4.3.2) on t (connected, or fd < 0: connects) with the called
 * name derived from host, then
 * "*SMBSERVER" after a negative response; follows retarget responses. Blocking, timeout_ms. */
int smb_nbss_session_request(struct smb_link *t, const char *host, uint16_t port, int timeout_ms,
			     char *err, size_t errlen);
void smb_transport_close(struct smb_link *t);

/* Queues one frame: the 4-byte header is added here. owned is taken (freed after sending);
 * payload is borrowed until the frame is written (or the transport closed). */
int smb_transport_queue(struct smb_link *t, uint8_t *owned, size_t owned_len, const void *payload,
			size_t payload_len);
/* The same with the payload read from fd at off when it is sent (sendfile: no copy through user
 * space). fd must stay open and the bytes present until the frame is written; a file that ends
 * early fails the connection, since the frame length is already sent. */
int smb_transport_queue_file(struct smb_link *t, uint8_t *owned, size_t owned_len, int fd,
			     uint64_t off, size_t len);
/* Writes as much queued output as the socket takes. 0, or < 0 on a socket error. */
int smb_transport_flush(struct smb_link *t);
/* Reads what is available and calls fn per frame. 0, SMBG_ECLOSED on EOF, < 0 on error. */
int smb_transport_read(struct smb_link *t, smb_frame_fn fn, void *priv);
static inline int smb_transport_has_output(const struct smb_link *t)
{
	return t->out_head != NULL;
}

/* NetBIOS first-level name encoding (RFC 1001 14.1) of a 15-character name plus type byte
 * into out (34 bytes: length byte, 32 characters, empty scope). SMBG_ENAME on a bad name. */
int smb_nb_name_encode(const char *name, uint8_t type, uint8_t out[34]);

#endif
