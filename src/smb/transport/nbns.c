/* NetBIOS name service client (RFC 1002 4.2): NAME QUERY REQUEST and NODE STATUS REQUEST over
 * UDP, unicast to a name server or broadcast, with the retry timings of RFC 1002 section 6.
 * Every received packet goes through nbns_parse_reply (bounded cursor, label pointers followed
 * backwards only) before anything is taken from it. */
#include "smb/transport/nbns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/kdf.h"
#include "smb/transport/transport.h"
#include "smbgate/err.h"
#include "util/clock.h"
#include "util/cursor.h"
#include "util/log.h"

#define BCAST_REQ_RETRY_TIMEOUT_MS 250
#define BCAST_REQ_RETRY_COUNT	   3
#define UCAST_REQ_RETRY_TIMEOUT_MS 5000
#define UCAST_REQ_RETRY_COUNT	   3
#define MAX_TARGETS		   16
#define MAX_POINTERS		   8
#define NBNS_FLAG_RESPONSE	   0x8000
#define NBNS_FLAG_RD		   0x0100
#define NBNS_FLAG_B		   0x0010

static const char bad_chars[] = "\\/:*?\"<>|";

int smb_nb_name_check(const char *name, char *err, size_t errlen)
{
	size_t n = strlen(name);
	const char *why = NULL;
	if (n == 0)
		why = "empty";
	else if (n > 15)
		why = "longer than 15 characters";
	else if (name[0] == '.')
		why = "starts with a dot";
	for (size_t i = 0; !why && i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (ch <= 0x20 || ch >= 0x7F)
			why = "has a space, a control or a non-ASCII character";
		else if (strchr(bad_chars, ch))
			why = "has one of \\ / : * ? \" < > |";
	}
	if (!why)
		return 0;
	if (err)
		snprintf(err, errlen,
			 "bad NetBIOS name '%s': %s (1 to 15 characters, no \\ / : * "
			 "? \" < > | or spaces)",
			 name, why);
	return SMBG_ENAME;
}

int smb_nb_name_plausible(const char *host)
{
	return !strchr(host, '.') && !strchr(host, ':') && smb_nb_name_check(host, NULL, 0) == 0;
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int nbns_build_query(uint8_t out[50], uint16_t trn_id, const char *name, uint8_t type,
		     uint16_t qtype, int broadcast)
{
	int rc = qtype == NBNS_TYPE_NBSTAT ? smb_nb_name_encode("*", 0x00, out + 12)
					   : smb_nb_name_encode(name, type, out + 12);
	if (rc < 0)
		return rc;
	put_be16(out, trn_id);
	/* A node status request is never recursive or broadcast (RFC 1002 4.2.17). */
	uint16_t flags = 0;
	if (qtype == NBNS_TYPE_NB)
		flags = NBNS_FLAG_RD | (broadcast ? NBNS_FLAG_B : 0);
	put_be16(out + 2, flags);
	put_be16(out + 4, 1); /* QDCOUNT */
	put_be16(out + 6, 0);
	put_be16(out + 8, 0);
	put_be16(out + 10, 0);
	put_be16(out + 46, qtype);
	put_be16(out + 48, 0x0001); /* IN */
	return 50;
}

/* Reads a (possibly compressed) domain name at c's position and advances c past it. The first
 * label, when it is the 32-character encoded NetBIOS name, goes to out (34 bytes). */
static int read_name(const uint8_t *p, size_t len, struct cursor *c, uint8_t out[34])
{
	struct cursor cur = *c;
	int jumped = 0, labels = 0;
	size_t limit = cur.off; /* pointers must go backwards from here */
	memset(out, 0, 34);
	for (int hops = 0; hops <= MAX_POINTERS;) {
		uint8_t l;
		if (cursor_get_u8(&cur, &l) != 0)
			return SMBG_EPROTO;
		if ((l & 0xC0) == 0xC0) {
			uint8_t lo;
			if (cursor_get_u8(&cur, &lo) != 0)
				return SMBG_EPROTO;
			size_t to = ((size_t)(l & 0x3F) << 8) | lo;
			if (!jumped)
				*c = cur; /* the name ends with the pointer where it stands */
			jumped = 1;
			if (to >= limit)
				return SMBG_EPROTO;
			limit = to;
			cursor_init(&cur, p, len);
			if (cursor_seek(&cur, to) != 0)
				return SMBG_EPROTO;
			hops++;
			continue;
		}
		if (l & 0xC0)
			return SMBG_EPROTO; /* reserved label types */
		if (l == 0) {
			if (!jumped)
				*c = cur;
			return 0;
		}
		const uint8_t *lab;
		if (cursor_get_ptr(&cur, l, &lab) != 0)
			return SMBG_EPROTO;
		if (labels++ == 0 && l == 32) {
			out[0] = 32;
			for (int i = 0; i < 32; i++)
				out[1 + i] =
				    (uint8_t)((lab[i] >= 'a' && lab[i] <= 'p') ? lab[i] - 32
									       : lab[i]);
		}
		if (labels > 64)
			return SMBG_EPROTO;
	}
	return SMBG_EPROTO;
}

static void decode_nb_name(const uint8_t *raw16, struct nbns_name *n)
{
	memcpy(n->name, raw16, 15);
	n->name[15] = 0;
	for (int i = 14; i >= 0 && (n->name[i] == ' ' || n->name[i] == 0); i--)
		n->name[i] = 0;
	for (int i = 0; i < 15; i++)
		if (n->name[i] &&
		    ((unsigned char)n->name[i] < 0x20 || (unsigned char)n->name[i] >= 0x7F))
			n->name[i] = '?'; /* printable only: it is shown to the user */
	n->type = raw16[15];
}

int nbns_parse_reply(const uint8_t *p, size_t len, struct nbns_reply *r)
{
	struct cursor c, rd;
	uint16_t qd, an, ns, ar, cls, rdlen;
	uint32_t ttl;
	uint8_t scratch[34];
	memset(r, 0, sizeof(*r));
	cursor_init(&c, p, len);
	if (cursor_get_be16(&c, &r->trn_id) != 0 || cursor_get_be16(&c, &r->flags) != 0 ||
	    cursor_get_be16(&c, &qd) != 0 || cursor_get_be16(&c, &an) != 0 ||
	    cursor_get_be16(&c, &ns) != 0 || cursor_get_be16(&c, &ar) != 0)
		return SMBG_EPROTO;
	if (!(r->flags & NBNS_FLAG_RESPONSE) || qd > 4)
		return SMBG_EPROTO;
	r->rcode = (uint8_t)(r->flags & 0x0F);
	for (uint16_t i = 0; i < qd; i++)
		if (read_name(p, len, &c, scratch) != 0 || cursor_skip(&c, 4) != 0)
			return SMBG_EPROTO;
	if (an == 0)
		return 0;
	if (read_name(p, len, &c, r->name) != 0 || cursor_get_be16(&c, &r->rr_type) != 0 ||
	    cursor_get_be16(&c, &cls) != 0 || cursor_get_be32(&c, &ttl) != 0 ||
	    cursor_get_be16(&c, &rdlen) != 0 || cursor_sub(&c, c.off, rdlen, &rd) != 0)
		return SMBG_EPROTO;
	if (r->rr_type == NBNS_TYPE_NB) {
		/* NB_FLAGS and NB_ADDRESS per entry; a negative answer may carry none. */
		if (rdlen % 6)
			return SMBG_EPROTO;
		while (cursor_left(&rd) >= 6 && r->naddrs < NBNS_MAX_ADDRS) {
			uint16_t fl;
			uint32_t a;
			if (cursor_get_be16(&rd, &fl) != 0 || cursor_get_be32(&rd, &a) != 0)
				return SMBG_EPROTO;
			r->addr_flags[r->naddrs] = fl;
			r->addrs[r->naddrs++].s_addr = htonl(a);
		}
	} else if (r->rr_type == NBNS_TYPE_NBSTAT) {
		uint8_t num;
		if (cursor_get_u8(&rd, &num) != 0)
			return SMBG_EPROTO;
		for (uint8_t i = 0; i < num; i++) {
			const uint8_t *raw;
			uint16_t fl;
			if (cursor_get_ptr(&rd, 16, &raw) != 0 || cursor_get_be16(&rd, &fl) != 0)
				return SMBG_EPROTO;
			if (r->nnames < NBNS_MAX_NAMES) {
				decode_nb_name(raw, &r->names[r->nnames]);
				r->names[r->nnames++].flags = fl;
			}
		}
		/* STATISTICS begin with the unit ID, the MAC address; some hosts send less. */
		if (cursor_get_bytes(&rd, r->mac, 6) == 0)
			r->have_mac = 1;
	}
	return 0;
}

/* ---- sending and waiting ---- */

static int resolve_v4(const char *host, struct in_addr *out)
{
	if (inet_pton(AF_INET, host, out) == 1)
		return 0;
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM};
	struct addrinfo *res = NULL;
	if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
		return SMBG_ERESOLVE;
	*out = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
	freeaddrinfo(res);
	return 0;
}

/* The broadcast address of every up, non-loopback IPv4 interface; 255.255.255.255 if none. */
static size_t interface_broadcasts(struct in_addr *out, size_t max)
{
	struct ifaddrs *ifs = NULL, *i;
	size_t n = 0;
	if (getifaddrs(&ifs) == 0) {
		for (i = ifs; i && n < max; i = i->ifa_next) {
			if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
			    !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK) ||
			    !(i->ifa_flags & IFF_BROADCAST) || !i->ifa_broadaddr)
				continue;
			out[n++] = ((struct sockaddr_in *)i->ifa_broadaddr)->sin_addr;
		}
		freeifaddrs(ifs);
	}
	if (n == 0)
		out[n++].s_addr = htonl(INADDR_BROADCAST);
	return n;
}

struct exchange {
	const uint8_t *query;
	size_t query_len;
	const uint8_t *want_name; /* encoded, for name queries */
	uint16_t qtype;
	int unicast;
	struct sockaddr_in targets[MAX_TARGETS];
	size_t ntargets;
	int interval_ms, tries, timeout_ms;
};

/* Sends the query (tries x targets) and hands matching answers to take(); take returns 1 to
 * stop, 0 to keep listening. Returns 0 after take stopped, 1 when answers came and the
 * listening time ended, SMBG_ETIMEDOUT with none, < 0 on socket errors. */
static int exchange(struct exchange *x, uint16_t trn_id,
		    int (*take)(void *priv, const struct nbns_reply *r), void *priv, char *err,
		    size_t errlen)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open a UDP socket: %s", strerror(errno));
		return SMBG_EIO;
	}
	int one = 1;
	if (!x->unicast)
		setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
	int64_t start = clock_now_ms(), hard_end = x->timeout_ms > 0 ? start + x->timeout_ms : 0;
	int got = 0, rc = SMBG_ETIMEDOUT, send_errno = 0;
	for (int t = 0; t < x->tries; t++) {
		size_t sent = 0;
		for (size_t i = 0; i < x->ntargets; i++) {
			if (sendto(fd, x->query, x->query_len, 0, (struct sockaddr *)&x->targets[i],
				   sizeof(x->targets[i])) >= 0)
				sent++;
			else
				send_errno = errno;
		}
		if (sent == 0) {
			snprintf(err, errlen, "cannot send the NetBIOS name query: %s",
				 strerror(send_errno));
			rc = SMBG_EIO;
			break;
		}
		int64_t end = clock_now_ms() + x->interval_ms;
		if (hard_end && end > hard_end)
			end = hard_end;
		for (;;) {
			int64_t left = end - clock_now_ms();
			if (left <= 0)
				break;
			struct pollfd pf = {.fd = fd, .events = POLLIN};
			int pr = poll(&pf, 1, (int)left);
			if (pr < 0 && errno == EINTR)
				continue;
			if (pr <= 0)
				break;
			uint8_t buf[1500];
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			if (n < 0)
				continue; /* e.g. ICMP port unreachable from a previous send */
			struct nbns_reply r;
			if (nbns_parse_reply(buf, (size_t)n, &r) != 0 || r.trn_id != trn_id ||
			    ((r.flags >> 11) & 0xF) != 0) {
				log_debug("nbns: ignoring a packet of %zd bytes", n);
				continue;
			}
			if (x->want_name && r.rr_type && memcmp(r.name, x->want_name, 34) != 0) {
				log_debug("nbns: ignoring an answer for another name");
				continue;
			}
			got = 1;
			if (take(priv, &r)) {
				close(fd);
				return 0;
			}
		}
		if (got) {
			rc = 1;
			break;
		}
		if (hard_end && clock_now_ms() >= hard_end)
			break;
	}
	close(fd);
	return rc;
}

struct query_acc {
	struct in_addr *out;
	size_t max, n;
	int unicast;
	int negative;
	uint8_t rcode;
};

static int take_query(void *priv, const struct nbns_reply *r)
{
	struct query_acc *q = priv;
	if (r->rcode != 0 || r->rr_type != NBNS_TYPE_NB || r->naddrs == 0) {
		/* Only a name server answers negatively (RFC 1002 4.2.14); a node that does not
		 * have the name stays silent. */
		if (q->unicast) {
			q->negative = 1;
			q->rcode = r->rcode;
			return 1;
		}
		return 0;
	}
	for (size_t i = 0; i < r->naddrs && q->n < q->max; i++) {
		int dup = 0;
		for (size_t j = 0; j < q->n; j++)
			dup |= q->out[j].s_addr == r->addrs[i].s_addr;
		if (!dup)
			q->out[q->n++] = r->addrs[i];
	}
	return q->unicast; /* a name server's answer is final; broadcasts may bring more */
}

static int setup_targets(struct exchange *x, const struct nbns_opts *o, char *where, size_t wlen,
			 char *err, size_t errlen)
{
	uint16_t port = o->port ? o->port : NBNS_PORT;
	struct in_addr addrs[MAX_TARGETS];
	size_t n = 0;
	if (o->wins) {
		if (resolve_v4(o->wins, &addrs[0]) < 0) {
			snprintf(err, errlen, "cannot resolve the NetBIOS name server %s", o->wins);
			return SMBG_ERESOLVE;
		}
		n = 1;
		x->unicast = 1;
		x->interval_ms = UCAST_REQ_RETRY_TIMEOUT_MS;
		x->tries = UCAST_REQ_RETRY_COUNT;
		snprintf(where, wlen, "name server %s", o->wins);
	} else {
		if (o->broadcast) {
			if (inet_pton(AF_INET, o->broadcast, &addrs[0]) != 1 &&
			    resolve_v4(o->broadcast, &addrs[0]) < 0) {
				snprintf(err, errlen, "bad broadcast address %s", o->broadcast);
				return SMBG_EINVAL;
			}
			n = 1;
			snprintf(where, wlen, "broadcast to %s", o->broadcast);
		} else {
			n = interface_broadcasts(addrs, MAX_TARGETS);
			snprintf(where, wlen, "broadcast on %zu interface%s", n, n == 1 ? "" : "s");
		}
		x->unicast = 0;
		x->interval_ms = BCAST_REQ_RETRY_TIMEOUT_MS;
		x->tries = BCAST_REQ_RETRY_COUNT;
	}
	for (size_t i = 0; i < n; i++) {
		memset(&x->targets[i], 0, sizeof(x->targets[i]));
		x->targets[i].sin_family = AF_INET;
		x->targets[i].sin_port = htons(port);
		x->targets[i].sin_addr = addrs[i];
	}
	x->ntargets = n;
	x->timeout_ms = o->timeout_ms;
	return 0;
}

static uint16_t new_trn_id(void)
{
	uint16_t id = 0;
	if (smb_random(&id, sizeof(id)) < 0)
		id = (uint16_t)(clock_now_ms() ^ getpid());
	return id;
}

int smb_nbns_query(const char *name, uint8_t type, const struct nbns_opts *o, struct in_addr *out,
		   size_t max, char *err, size_t errlen)
{
	uint8_t q[50], want[34];
	char where[96];
	struct exchange x;
	memset(&x, 0, sizeof(x));
	int rc = smb_nb_name_check(name, err, errlen);
	if (rc < 0)
		return rc;
	if ((rc = setup_targets(&x, o, where, sizeof(where), err, errlen)) < 0)
		return rc;
	uint16_t id = new_trn_id();
	int qlen = nbns_build_query(q, id, name, type, NBNS_TYPE_NB, !x.unicast);
	if (qlen < 0 || (rc = smb_nb_name_encode(name, type, want)) < 0) {
		snprintf(err, errlen, "bad NetBIOS name '%s'", name);
		return SMBG_ENAME;
	}
	x.query = q;
	x.query_len = (size_t)qlen;
	x.want_name = want;
	x.qtype = NBNS_TYPE_NB;
	struct query_acc acc = {.out = out, .max = max, .unicast = x.unicast};
	log_debug("nbns: name query for %s<%02x> (%s)", name, type, where);
	rc = exchange(&x, id, take_query, &acc, err, errlen);
	if (rc < 0 && rc != SMBG_ETIMEDOUT)
		return rc;
	if (acc.negative) {
		snprintf(err, errlen, "NetBIOS name %s<%02x> not found (%s answered: RCODE %u)",
			 name, type, where, acc.rcode);
		return SMBG_ENOENT;
	}
	if (acc.n == 0) {
		snprintf(err, errlen,
			 "NetBIOS name query for %s<%02x> timed out: no answer (%s, %d tries %d ms "
			 "apart)",
			 name, type, where, x.tries, x.interval_ms);
		return SMBG_ETIMEDOUT;
	}
	return (int)acc.n;
}

struct status_acc {
	struct nbns_reply *r;
	int done;
};

static int take_status(void *priv, const struct nbns_reply *r)
{
	struct status_acc *s = priv;
	if (r->rcode != 0 || r->rr_type != NBNS_TYPE_NBSTAT)
		return 0;
	*s->r = *r;
	s->done = 1;
	return 1;
}

int smb_nbns_status(struct in_addr addr, const struct nbns_opts *o, struct nbns_reply *r, char *err,
		    size_t errlen)
{
	uint8_t q[50];
	struct exchange x;
	memset(&x, 0, sizeof(x));
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &addr, ip, sizeof(ip));
	x.targets[0].sin_family = AF_INET;
	x.targets[0].sin_port = htons(o->port ? o->port : NBNS_PORT);
	x.targets[0].sin_addr = addr;
	x.ntargets = 1;
	x.unicast = 1;
	x.interval_ms = UCAST_REQ_RETRY_TIMEOUT_MS;
	x.tries = UCAST_REQ_RETRY_COUNT;
	x.timeout_ms = o->timeout_ms;
	uint16_t id = new_trn_id();
	int rc = nbns_build_query(q, id, "*", 0, NBNS_TYPE_NBSTAT, 0);
	if (rc < 0)
		return rc;
	x.query = q;
	x.query_len = sizeof(q);
	x.qtype = NBNS_TYPE_NBSTAT;
	struct status_acc acc = {.r = r};
	rc = exchange(&x, id, take_status, &acc, err, errlen);
	if (rc < 0 && rc != SMBG_ETIMEDOUT)
		return rc;
	if (!acc.done) {
		snprintf(err, errlen,
			 "node status of %s timed out: no answer (%d tries %d ms apart)", ip,
			 x.tries, x.interval_ms);
		return SMBG_ETIMEDOUT;
	}
	return 0;
}

int smb_nbns_resolve(const char *host, const char *wins, const char *broadcast, int timeout_ms,
		     char *ip, size_t iplen, char *err, size_t errlen)
{
	struct nbns_opts o = {.wins = wins, .broadcast = broadcast, .timeout_ms = timeout_ms};
	struct in_addr a;
	int rc = smb_nbns_query(host, NB_NAME_SERVER, &o, &a, 1, err, errlen);
	if (rc < 0)
		return rc;
	if (!inet_ntop(AF_INET, &a, ip, (socklen_t)iplen))
		return SMBG_EINVAL;
	log_debug("nbns: %s is %s", host, ip);
	return 0;
}
