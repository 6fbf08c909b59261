/* NetBIOS session service (RFC 1002 4.3): the SESSION REQUEST that opens a session on port 139.
 * The called name comes from the host (its first label, upper-cased) unless the host is an IP
 * address; a NEGATIVE SESSION RESPONSE makes us retry with "*SMBSERVER", which servers accept
 * as a wildcard. RETARGET responses name another address and port to try. */
#include "smb/transport/transport.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "smbgate/err.h"
#include "util/cursor.h"
#include "util/log.h"

#define NBSS_SESSION_REQUEST   0x81
#define NBSS_POSITIVE_RESPONSE 0x82
#define NBSS_NEGATIVE_RESPONSE 0x83
#define NBSS_RETARGET_RESPONSE 0x84
#define NBSS_KEEPALIVE	       0x85
#define NB_MAX_RETARGETS       3

int smb_nb_name_encode(const char *name, uint8_t type, uint8_t out[34])
{
	size_t n = strlen(name);
	if (n == 0 || n > 15)
		return SMBG_ENAME;
	char padded[16];
	for (size_t i = 0; i < 16; i++) {
		unsigned char ch = i < n ? (unsigned char)name[i] : ' ';
		if (i < n && (ch < 0x20 || ch >= 0x7F || strchr("\"/\\[]:|<>+=;,?", ch)))
			if (!(ch == '*' && n == 1) && strcmp(name, "*SMBSERVER") != 0)
				return SMBG_ENAME;
		padded[i] = (char)toupper(ch);
	}
	/* "*" alone is the wildcard name: '*' followed by NULs (RFC 1002 4.2.1). */
	if (n == 1 && name[0] == '*')
		memset(padded + 1, 0, 15);
	padded[15] = (char)type;
	out[0] = 32;
	for (int i = 0; i < 16; i++) {
		uint8_t b = (uint8_t)padded[i];
		out[1 + 2 * i] = (uint8_t)('A' + (b >> 4));
		out[2 + 2 * i] = (uint8_t)('A' + (b & 0x0F));
	}
	out[33] = 0; /* empty scope */
	return 0;
}

static int io_full(int fd, void *buf, size_t len, int writing, int timeout_ms)
{
	uint8_t *p = buf;
	while (len) {
		struct pollfd pf = {.fd = fd, .events = writing ? POLLOUT : POLLIN};
		int r = poll(&pf, 1, timeout_ms > 0 ? timeout_ms : -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return SMBG_ETIMEDOUT;
		if (r < 0)
			return SMBG_EIO;
		ssize_t n = writing ? write(fd, p, len) : read(fd, p, len);
		if (n == 0)
			return SMBG_ECLOSED;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno == ECONNRESET || errno == EPIPE ? SMBG_ECLOSED : SMBG_EIO;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void called_name_for(const char *host, char out[16])
{
	struct in6_addr a6;
	struct in_addr a4;
	if (inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1) {
		strcpy(out, "*SMBSERVER");
		return;
	}
	size_t i = 0;
	for (; host[i] && host[i] != '.' && i < 15; i++)
		out[i] = (char)toupper((unsigned char)host[i]);
	out[i] = 0;
}

static const char *negative_reason(uint8_t code)
{
	switch (code) {
	case 0x80:
		return "not listening on called name";
	case 0x81:
		return "not listening for calling name";
	case 0x82:
		return "called name not present";
	case 0x83:
		return "called name present, but insufficient resources";
	default:
		return "unspecified error";
	}
}

/* One request/response exchange. Returns 0 (positive), 1 (negative, *code set), 2 (retarget,
 * ip and port set) or < 0. */
static int nbss_exchange(int fd, const char *called, int timeout_ms, uint8_t *code, uint32_t *ip,
			 uint16_t *port)
{
	uint8_t req[4 + 34 + 34];
	req[0] = NBSS_SESSION_REQUEST;
	req[1] = 0;
	req[2] = 0;
	req[3] = 68;
	int rc = smb_nb_name_encode(called, 0x20, req + 4);
	if (rc < 0)
		return rc;
	rc = smb_nb_name_encode("SMBGATE", 0x00, req + 4 + 34);
	if (rc < 0)
		return rc;
	rc = io_full(fd, req, sizeof(req), 1, timeout_ms);
	if (rc < 0)
		return rc;
	for (;;) {
		uint8_t hdr[4], body[6];
		rc = io_full(fd, hdr, 4, 0, timeout_ms);
		if (rc < 0)
			return rc;
		size_t len = ((size_t)(hdr[1] & 1) << 16) | ((size_t)hdr[2] << 8) | hdr[3];
		if (hdr[0] == NBSS_KEEPALIVE && len == 0)
			continue;
		if (len > sizeof(body))
			return SMBG_EPROTO;
		rc = io_full(fd, body, len, 0, timeout_ms);
		if (rc < 0)
			return rc;
		struct cursor c;
		cursor_init(&c, body, len);
		switch (hdr[0]) {
		case NBSS_POSITIVE_RESPONSE:
			return len == 0 ? 0 : SMBG_EPROTO;
		case NBSS_NEGATIVE_RESPONSE:
			if (cursor_get_u8(&c, code) != 0)
				return SMBG_EPROTO;
			return 1;
		case NBSS_RETARGET_RESPONSE:
			if (cursor_get_be32(&c, ip) != 0 || cursor_get_be16(&c, port) != 0)
				return SMBG_EPROTO;
			return 2;
		default:
			return SMBG_EPROTO;
		}
	}
}

int smb_nbss_session_request(struct smb_link *t, const char *host, uint16_t port, int timeout_ms,
			     char *err, size_t errlen)
{
	char names[2][16];
	called_name_for(host, names[0]);
	strcpy(names[1], "*SMBSERVER");
	int nnames = strcmp(names[0], names[1]) == 0 ? 1 : 2;
	uint8_t code = 0;
	for (int i = 0; i < nnames; i++) {
		const char *called = names[i];
		char target[INET_ADDRSTRLEN + 1];
		snprintf(target, sizeof(target), "%s", host);
		uint16_t target_port = port;
		for (int hops = 0;; hops++) {
			int rc;
			if (t->fd < 0) {
				rc = smb_transport_connect(t, target, target_port, timeout_ms, err,
							   errlen);
				if (rc < 0)
					return rc;
			}
			uint32_t ip = 0;
			uint16_t rport = 0;
			rc = nbss_exchange(t->fd, called, timeout_ms, &code, &ip, &rport);
			if (rc < 0) {
				snprintf(err, errlen, "NetBIOS session request to %s failed: %s",
					 host, smbg_strerror(rc));
				return rc;
			}
			if (rc == 0) {
				log_debug("NetBIOS session established, called name %s", called);
				return 0;
			}
			/* The server closes the connection after a negative or retarget answer. */
			close(t->fd);
			t->fd = -1;
			if (rc == 1) {
				log_debug("NetBIOS negative session response for %s: %s", called,
					  negative_reason(code));
				break;
			}
			if (hops >= NB_MAX_RETARGETS) {
				snprintf(err, errlen, "NetBIOS session to %s: too many retargets",
					 host);
				return SMBG_EPROTO;
			}
			struct in_addr a = {.s_addr = htonl(ip)};
			inet_ntop(AF_INET, &a, target, sizeof(target));
			target_port = rport;
			log_debug("NetBIOS retarget to %s:%u", target, rport);
		}
	}
	snprintf(err, errlen, "NetBIOS session refused by %s: %s (tried the called names %s%s%s)",
		 host, negative_reason(code), names[0], nnames > 1 ? " and " : "",
		 nnames > 1 ? names[1] : "");
	return SMBG_ECONNREFUSED;
}
