/* NetBIOS name service (RFC 1001/1002, UDP port 137): the name query that turns a NetBIOS
 * name into IPv4 addresses, unicast to a name server (WINS) or broadcast, and the node status
 * query that lists the names a host has registered.
 *
 * Timings follow RFC 1002 section 6: a broadcast query is sent 3 times 250 ms apart, a unicast
 * one 3 times 5 s apart; an overall timeout may cut that short. */
#ifndef SMBGATE_NBNS_H
#define SMBGATE_NBNS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define NBNS_PORT	    137
#define NBNS_TYPE_NB	    0x0020
#define NBNS_TYPE_NBSTAT    0x0021
#define NBNS_MAX_ADDRS	    16
#define NBNS_MAX_NAMES	    64
#define NB_NAME_SERVER	    0x20 /* the file server service */
#define NB_NAME_WORKSTATION 0x00

struct nbns_opts {
	const char *wins;      /* name server (host name or IPv4) for a unicast query, or NULL */
	const char *broadcast; /* broadcast address; NULL = every interface's */
	uint16_t port;	       /* 0 = 137 */
	int timeout_ms;	       /* overall limit (0 = the RFC timings alone) */
};

struct nbns_name {
	char name[16]; /* trailing spaces removed, NUL-terminated */
	uint8_t type;
	uint16_t flags; /* NAME_FLAGS: group bit 0x8000, node type, ACTIVE 0x0400... */
};

/* A parsed response (RFC 1002 4.2.13-4.2.18). Pointers borrow from the packet. */
struct nbns_reply {
	uint16_t trn_id;
	uint16_t flags;
	uint8_t rcode;
	uint8_t name[34]; /* the answer's name, encoded (compare with what was asked) */
	uint16_t rr_type;
	size_t naddrs;
	struct in_addr addrs[NBNS_MAX_ADDRS];
	uint16_t addr_flags[NBNS_MAX_ADDRS];
	size_t nnames; /* node status */
	struct nbns_name names[NBNS_MAX_NAMES];
	uint8_t mac[6];
	int have_mac;
};

/* Checks a NetBIOS name: 1 to 15 characters, printable ASCII without \ / : * ? " < > | and the
 * other characters RFC 1001 and Windows reject. 0, or SMBG_ENAME with a reason in err. */
int smb_nb_name_check(const char *name, char *err, size_t errlen);

/* Builds a query packet for name<type> (qtype NBNS_TYPE_NB or NBNS_TYPE_NBSTAT; the node status
 * query asks for "*"). Returns its length (50), or SMBG_ENAME. */
int nbns_build_query(uint8_t out[50], uint16_t trn_id, const char *name, uint8_t type,
		     uint16_t qtype, int broadcast);

/* Parses a response packet. SMBG_EPROTO when malformed or not a response. */
int nbns_parse_reply(const uint8_t *p, size_t len, struct nbns_reply *r);

/* Name query: up to max addresses of name<type> into out. Returns how many (>= 1), or
 * SMBG_ENOENT (a server said the name is not registered), SMBG_ETIMEDOUT (no answer),
 * SMBG_ENAME (bad name), SMBG_ERESOLVE / SMBG_EIO (no way to send); err gets a message. */
int smb_nbns_query(const char *name, uint8_t type, const struct nbns_opts *o, struct in_addr *out,
		   size_t max, char *err, size_t errlen);

/* Node status of the host at addr (unicast). 0 and *r filled, or < 0 as above. */
int smb_nbns_status(struct in_addr addr, const struct nbns_opts *o, struct nbns_reply *r, char *err,
		    size_t errlen);

/* For smb://NAME/...: 1 when host could be a NetBIOS name (no dots, at most 15 characters,
 * valid characters), so that the name service is worth asking after DNS failed. */
int smb_nb_name_plausible(const char *host);
/* The name query for host<20> as the connect path uses it: the first address, as text. */
int smb_nbns_resolve(const char *host, const char *wins, const char *broadcast, int timeout_ms,
		     char *ip, size_t iplen, char *err, size_t errlen);

#endif
