#include "util/url.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "smbgate/err.h"
#include "util/utf16.h"
#include "util/wbuf.h"

#define URL_FORM "smb://[user[:pass]@]host[:port]/share[/path][?option=value&...]"

static int url_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int url_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	if (err && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		/* One line, whatever the URL held. */
		for (char *p = err; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	return code;
}

/* Frees a string that may hold a secret, wiping it first. */
static void free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into a new NUL-terminated string; the decoded bytes may contain NUL,
 * their count goes to *outlen. SMBG_EINVAL on a '%' not followed by two hex digits. */
static int pct_decode(const char *s, size_t n, char **out, size_t *outlen)
{
	char *d = malloc(n + 1);
	size_t o = 0;
	if (!d)
		return SMBG_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			d[o++] = s[i];
			continue;
		}
		int hi = n - i >= 3 ? hexval((unsigned char)s[i + 1]) : -1;
		int lo = hi >= 0 ? hexval((unsigned char)s[i + 2]) : -1;
		if (hi < 0 || lo < 0) {
			OPENSSL_cleanse(d, n + 1); /* may be part of a password */
			free(d);
			return SMBG_EINVAL;
		}
		d[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	d[o] = '\0';
	*out = d;
	*outlen = o;
	return 0;
}

/* Decodes a part that must be text: valid UTF-8 without NUL. what names the part in errors; the
 * part itself is never echoed (it may be a password or garbage). */
static int decode_text(const char *s, size_t n, char **out, const char *what, int badcode,
		       char *err, size_t errlen)
{
	size_t dlen;
	int r = pct_decode(s, n, out, &dlen);
	if (r == SMBG_ENOMEM)
		return url_fail(err, errlen, r, "out of memory parsing the URL");
	if (r != 0)
		return url_fail(err, errlen, SMBG_EINVAL,
				"bad percent-encoding in the %s: '%%' must be followed by two hex "
				"digits, e.g. %%2F",
				what);
	if (memchr(*out, '\0', dlen) || !utf8_valid(*out, dlen)) {
		free_secret(*out);
		*out = NULL;
		return url_fail(err, errlen, badcode,
				"the %s is not valid UTF-8 text (or contains %%00) after "
				"percent-decoding",
				what);
	}
	return 0;
}

/* Why a name was refused. */
enum { NAME_OK = 0, NAME_ESCAPE = 1, NAME_UTF8 = 2, NAME_CHAR = 3 };

/* Characters SMB does not allow in a file or share name (MS-FSCC 2.1.5.2), plus '/', which would
 * otherwise hide a separator inside a name. NUL (from %00) is a control character. */
static int name_check(const char *s, size_t n, int *badc)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || (c != 0 && strchr("\\/:*?\"<>|", c))) {
			*badc = c;
			return NAME_CHAR;
		}
	}
	return utf8_valid(s, n) ? NAME_OK : NAME_UTF8;
}

/* "'*'" or "a control character (0x0A)", for messages. */
static const char *name_char_desc(int c, char *buf, size_t len)
{
	if (c < 0x20)
		snprintf(buf, len, "a control character (0x%02X)", (unsigned)c);
	else
		snprintf(buf, len, "'%c'", c);
	return buf;
}

/* Appends one path segment to the normalised path in b: "" and "." vanish, ".." removes the last
 * segment. Returns 0, SMBG_ENAME (with *why = NAME_*), or the wbuf's error. */
static int path_push(struct wbuf *b, const char *seg, size_t n, int *why, int *badc)
{
	*why = NAME_OK;
	if (n == 0 || (n == 1 && seg[0] == '.'))
		return 0;
	if (n == 2 && seg[0] == '.' && seg[1] == '.') {
		if (b->len == 0) {
			*why = NAME_ESCAPE;
			return SMBG_ENAME;
		}
		size_t k = b->len;
		while (k > 0 && b->p[k - 1] != '/')
			k--;
		b->len = k > 0 ? k - 1 : 0;
		return 0;
	}
	if ((*why = name_check(seg, n, badc)) != NAME_OK)
		return SMBG_ENAME;
	if (b->len > 0)
		wbuf_put_u8(b, '/');
	wbuf_put_bytes(b, seg, n);
	return wbuf_error(b);
}

/* Pushes every '/'-separated segment of s (already decoded). */
static int path_push_all(struct wbuf *b, const char *s)
{
	int why, badc;
	while (s && *s) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		int r = path_push(b, s, n, &why, &badc);
		if (r != 0)
			return r;
		s += n;
		if (*s == '/')
			s++;
	}
	return 0;
}

static char *path_finish(struct wbuf *b)
{
	wbuf_put_u8(b, 0);
	if (wbuf_error(b) != 0) {
		wbuf_free(b);
		return NULL;
	}
	return (char *)wbuf_take(b, NULL);
}

int smb_path_join(const char *base, const char *rel, char **out)
{
	struct wbuf b;
	int r;
	*out = NULL;
	wbuf_init(&b);
	if ((r = path_push_all(&b, base)) != 0 || (r = path_push_all(&b, rel)) != 0) {
		wbuf_free(&b);
		return r;
	}
	*out = path_finish(&b);
	return *out ? 0 : SMBG_ENOMEM;
}

/* clang-format off */
static const struct {
	const char *name;
	uint16_t dialect;
} dialect_names[] = {
	/* The first spelling of each dialect is its canonical name. */
	{"NT1", SMB_DIALECT_NT1},
	{"2.0.2", SMB_DIALECT_2_0_2}, {"2.02", SMB_DIALECT_2_0_2}, {"SMB2_02", SMB_DIALECT_2_0_2},
	{"2.1", SMB_DIALECT_2_1},     {"2.10", SMB_DIALECT_2_1},   {"SMB2_10", SMB_DIALECT_2_1},
	{"3.0", SMB_DIALECT_3_0},                                  {"SMB3_00", SMB_DIALECT_3_0},
	{"3.0.2", SMB_DIALECT_3_0_2}, {"3.02", SMB_DIALECT_3_0_2}, {"SMB3_02", SMB_DIALECT_3_0_2},
	{"3.1.1", SMB_DIALECT_3_1_1}, {"3.11", SMB_DIALECT_3_1_1}, {"SMB3_11", SMB_DIALECT_3_1_1},
};
/* clang-format on */

uint16_t smb_dialect_parse(const char *s)
{
	if (!s)
		return 0;
	for (size_t i = 0; i < sizeof(dialect_names) / sizeof(dialect_names[0]); i++)
		if (strcasecmp(s, dialect_names[i].name) == 0)
			return dialect_names[i].dialect;
	return 0;
}

const char *smb_dialect_name(uint16_t dialect)
{
	for (size_t i = 0; i < sizeof(dialect_names) / sizeof(dialect_names[0]); i++)
		if (dialect_names[i].dialect == dialect)
			return dialect_names[i].name;
	if (dialect == 0x02ff) /* SMB2 wildcard, answer to a multi-protocol negotiate */
		return "2.???";
	return "unknown";
}

/* A host name, NetBIOS name or IPv4 address as it may appear unbracketed. */
static int host_check(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > 255)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];
		if (c <= 0x20 || c == 0x7f || strchr("/\\?#@[]%:", c))
			return -1;
	}
	return 0;
}

/* The inside of [...]: an IPv6 address with an optional zone ("fe80::1%25eth0", RFC 6874). */
static int ipv6_check(const char *h)
{
	char addr[INET6_ADDRSTRLEN + 1];
	struct in6_addr a;
	const char *pct = strchr(h, '%');
	size_t alen = pct ? (size_t)(pct - h) : strlen(h);
	if (alen == 0 || alen >= sizeof(addr))
		return -1;
	memcpy(addr, h, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET6, addr, &a) != 1)
		return -1;
	if (pct) {
		const char *z = pct + 1;
		if (*z == '\0')
			return -1;
		for (; *z; z++)
			if (!((*z >= '0' && *z <= '9') || (*z >= 'a' && *z <= 'z') ||
			      (*z >= 'A' && *z <= 'Z') || strchr("-._~", *z)))
				return -1;
	}
	return 0;
}

/* Splits "DOMAIN;user" or "DOMAIN\user" (s is decoded and owned; consumed here). */
static int user_split(char *s, struct smb_url *u, const char *what, char *err, size_t errlen)
{
	char *sep = strpbrk(s, ";\\");
	if (!sep) {
		free(u->user);
		u->user = *s ? s : NULL;
		if (!*s)
			free(s);
		return 0;
	}
	*sep = '\0';
	if (*s == '\0' || sep[1] == '\0' || strpbrk(sep + 1, ";\\")) {
		free(s);
		return url_fail(err, errlen, SMBG_EINVAL,
				"bad %s: expected user, DOMAIN;user or DOMAIN\\user", what);
	}
	char *user = strdup(sep + 1);
	if (!user) {
		free(s);
		return url_fail(err, errlen, SMBG_ENOMEM, "out of memory parsing the URL");
	}
	free(u->user);
	free(u->domain);
	u->user = user;
	u->domain = s; /* the prefix, now terminated at the separator */
	return 0;
}

/* What the query may set beyond struct smb_url itself. */
struct url_opts {
	/* auth-domain: applied last, so that it wins over any DOMAIN;user */
	char *domain;
	int have_domain;
	int have_min, have_max;
};

typedef int (*url_opt_fn)(struct smb_url *u, struct url_opts *o, char *v, char *err, size_t errlen);

static int opt_username(struct smb_url *u, struct url_opts *o, char *v, char *err, size_t errlen)
{
	return user_split(v, u, "auth-username", err, errlen);
}

static int opt_password(struct smb_url *u, struct url_opts *o, char *v, char *err, size_t errlen)
{
	free_secret(u->password);
	u->password = v;
	return 0;
}

static int opt_domain(struct smb_url *u, struct url_opts *o, char *v, char *err, size_t errlen)
{
	o->domain = v;
	o->have_domain = 1;
	return 0;
}

static int opt_transport(struct smb_url *u, struct url_opts *o, char *v, char *err, size_t errlen)
{
	int r = 0;
	if (strcasecmp(v, "directtcp") == 0)
		u->transport = SMB_TRANSPORT_DIRECTTCP;
	else if (strcasecmp(v, "netbios") == 0)
		u->transport = SMB_TRANSPORT_NETBIOS;
	else
		r = url_fail(
		    err, errlen, SMBG_EINVAL,
		    "bad transport '%s': expected transport=directtcp or transport=netbios", v);
	free(v);
	return r;
}

static int parse_size(struct smb_url *u, uint32_t *dst, const char *name, char *v, char *err,
		      size_t errlen)
{
	uint64_t n = 0;
	int r = 0;
	const char *p = v;
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (uint64_t)(*p - '0');
		if (n > UINT32_MAX)
			break;
	}
	if (p == v || *p != '\0')
		r = url_fail(err, errlen, SMBG_EINVAL,
			     "bad %s '%s': expected a decimal number of bytes up to 4294967295",
			     name, v);
	else
		*dst = n < 10000 ? 0 : (uint32_t)n; /* small values would only cost round trips */
	free(v);
	return r;
}

static int opt_rsize(struct smb_url *u, struct url_opts *o, char *v, char *err, size_t errlen)
{
	return parse_size(u, &u->read_buffer_size, "read-buffer-size", v, err, errlen);
}

static int opt_wsize(struct smb_url *u, struct url_opts *o, char *v, char *err, size_t errlen)
{
	return parse_size(u, &u->write_buffer_size, "write-buffer-size", v, err, errlen);
}

static int parse_dialect(uint16_t *dst, const char *name, char *v, char *err, size_t errlen)
{
	uint16_t d = smb_dialect_parse(v);
	int r = 0;
	if (d == 0)
		r = url_fail(err, errlen, SMBG_EINVAL,
			     "bad %s '%s': expected NT1, 2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1 (or "
			     "SMB2_02, SMB2_10, SMB3_00, SMB3_02, SMB3_11)",
			     name, v);
	else
		*dst = d;
	free(v);
	return r;
}

static int opt_minproto(struct smb_url *u, struct url_opts *o, char *v, char *err, size_t errlen)
{
	o->have_min = 1;
	return parse_dialect(&u->min_protocol, "min-protocol", v, err, errlen);
}

static int opt_maxproto(struct smb_url *u, struct url_opts *o, char *v, char *err, size_t errlen)
{
	o->have_max = 1;
	return parse_dialect(&u->max_protocol, "max-protocol", v, err, errlen);
}

static int parse_required(int *dst, const char *name, char *v, char *err, size_t errlen)
{
	int r = 0;
	if (strcasecmp(v, "auto") == 0)
		*dst = 0;
	else if (strcasecmp(v, "required") == 0)
		*dst = 1;
	else
		r = url_fail(err, errlen, SMBG_EINVAL,
			     "bad %s '%s': expected %s=auto or %s=required", name, v, name, name);
	free(v);
	return r;
}

static int opt_signing(struct smb_url *u, struct url_opts *o, char *v, char *err, size_t errlen)
{
	return parse_required(&u->signing_required, "signing", v, err, errlen);
}

static int opt_encrypt(struct smb_url *u, struct url_opts *o, char *v, char *err, size_t errlen)
{
	return parse_required(&u->encrypt_required, "encrypt", v, err, errlen);
}

static int parse_bool(int *dst, const char *name, char *v, char *err, size_t errlen)
{
	int r = 0;
	if (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 || strcmp(v, "1") == 0)
		*dst = 1;
	else if (strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0 || strcmp(v, "0") == 0)
		*dst = 0;
	else
		r = url_fail(err, errlen, SMBG_EINVAL, "bad %s '%s': expected %s=true or %s=false",
			     name, v, name, name);
	free(v);
	return r;
}

static int opt_ntlmv1(struct smb_url *u, struct url_opts *o, char *v, char *err, size_t errlen)
{
	return parse_bool(&u->ntlmv1, "auth-ntlmv1", v, err, errlen);
}

static int opt_guest(struct smb_url *u, struct url_opts *o, char *v, char *err, size_t errlen)
{
	return parse_bool(&u->guest, "guest", v, err, errlen);
}

static int parse_nbhost(char **dst, const char *name, char *v, char *err, size_t errlen)
{
	if (host_check(v) != 0) {
		int r = url_fail(err, errlen, SMBG_EINVAL,
				 "bad %s '%s': expected a host name or IPv4 address", name, v);
		free(v);
		return r;
	}
	free(*dst);
	*dst = v;
	return 0;
}

static int opt_wins(struct smb_url *u, struct url_opts *o, char *v, char *err, size_t errlen)
{
	return parse_nbhost(&u->wins, "wins", v, err, errlen);
}

static int opt_broadcast(struct smb_url *u, struct url_opts *o, char *v, char *err, size_t errlen)
{
	return parse_nbhost(&u->broadcast, "broadcast", v, err, errlen);
}

/* clang-format off */
static const struct {
	const char *name;
	url_opt_fn fn;
	int empty_ok; /* an empty value means something (no password, anonymous) */
} url_options[] = {
	{"auth-username",     opt_username,  1},
	{"auth-password",     opt_password,  1},
	{"auth-domain",       opt_domain,    1},
	{"transport",         opt_transport, 0},
	{"read-buffer-size",  opt_rsize,     0},
	{"write-buffer-size", opt_wsize,     0},
	{"min-protocol",      opt_minproto,  0},
	{"max-protocol",      opt_maxproto,  0},
	{"signing",           opt_signing,   0},
	{"encrypt",           opt_encrypt,   0},
	{"auth-ntlmv1",       opt_ntlmv1,    0},
	{"guest",             opt_guest,     0},
	{"wins",              opt_wins,      0},
	{"broadcast",         opt_broadcast, 0},
};
/* clang-format on */
#define URL_NOPTS (sizeof(url_options) / sizeof(url_options[0]))

static int parse_query(const char *q, struct smb_url *u, struct url_opts *o, char *err,
		       size_t errlen)
{
	unsigned seen = 0;
	while (*q) {
		const char *e = strchr(q, '&');
		size_t n = e ? (size_t)(e - q) : strlen(q);
		const char *eq = memchr(q, '=', n);
		char *name = NULL, *val = NULL;
		int r;
		if (n == 0) { /* "a=b&&c=d", a trailing '&' */
			q++;
			continue;
		}
		if (!eq) {
			r = decode_text(q, n, &name, "option name", SMBG_EINVAL, err, errlen);
			if (r == 0)
				r = url_fail(err, errlen, SMBG_EINVAL,
					     "option '%s' has no value: expected option=value",
					     name);
			free(name);
			return r;
		}
		if ((r = decode_text(q, (size_t)(eq - q), &name, "option name", SMBG_EINVAL, err,
				     errlen)) != 0)
			return r;
		size_t i;
		for (i = 0; i < URL_NOPTS; i++)
			if (strcmp(name, url_options[i].name) == 0)
				break;
		if (i == URL_NOPTS) {
			char known[256] = "";
			for (size_t k = 0; k < URL_NOPTS; k++) {
				strncat(known, k ? ", " : "", sizeof(known) - strlen(known) - 1);
				strncat(known, url_options[k].name,
					sizeof(known) - strlen(known) - 1);
			}
			r = url_fail(err, errlen, SMBG_EINVAL, "unknown option '%s' (known: %s)",
				     name, known);
			free(name);
			return r;
		}
		free(name);
		if (seen & (1u << i))
			return url_fail(err, errlen, SMBG_EINVAL, "option %s given twice",
					url_options[i].name);
		seen |= 1u << i;
		size_t vlen = n - (size_t)(eq - q) - 1;
		char what[64];
		snprintf(what, sizeof(what), "value of %s", url_options[i].name);
		if ((r = decode_text(eq + 1, vlen, &val, what, SMBG_EINVAL, err, errlen)) != 0)
			return r;
		if (*val == '\0' && !url_options[i].empty_ok) {
			free(val);
			return url_fail(err, errlen, SMBG_EINVAL, "option %s needs a value",
					url_options[i].name);
		}
		/* The handler takes ownership of val. */
		if ((r = url_options[i].fn(u, o, val, err, errlen)) != 0)
			return r;
		q += n;
		if (*q == '&')
			q++;
	}
	return 0;
}

static int parse_userinfo(const char *s, size_t n, struct smb_url *u, char *err, size_t errlen)
{
	const char *colon = memchr(s, ':', n);
	size_t ulen = colon ? (size_t)(colon - s) : n;
	char *user = NULL;
	int r;
	if (colon) {
		r = decode_text(colon + 1, n - ulen - 1, &u->password, "password", SMBG_EINVAL, err,
				errlen);
		if (r != 0)
			return r;
	}
	if ((r = decode_text(s, ulen, &user, "user name", SMBG_EINVAL, err, errlen)) != 0)
		return r;
	return user_split(user, u, "user name", err, errlen);
}

static int parse_hostport(const char *s, size_t n, struct smb_url *u, char *err, size_t errlen)
{
	const char *portp = NULL;
	size_t hlen;
	int r;
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return url_fail(err, errlen, SMBG_EINVAL,
					"missing ']' after the IPv6 address: expected "
					"smb://[fe80::1]:445/share");
		if ((r = decode_text(s + 1, (size_t)(close - s - 1), &u->host, "host", SMBG_EINVAL,
				     err, errlen)) != 0)
			return r;
		if (ipv6_check(u->host) != 0)
			return url_fail(err, errlen, SMBG_EINVAL,
					"bad IPv6 address '%s': expected smb://[fe80::1]:445/share "
					"(a zone is written %%25, e.g. [fe80::1%%25eth0])",
					u->host);
		const char *after = close + 1;
		size_t rest = n - (size_t)(after - s);
		if (rest > 0 && *after != ':')
			return url_fail(err, errlen, SMBG_EINVAL,
					"unexpected text after ']': expected [address]:port");
		if (rest > 0)
			portp = after + 1;
	} else {
		const char *colon = memchr(s, ':', n);
		hlen = colon ? (size_t)(colon - s) : n;
		if (colon && memchr(colon + 1, ':', n - hlen - 1))
			return url_fail(err, errlen, SMBG_EINVAL,
					"an IPv6 address must be in brackets: expected "
					"smb://[fe80::1]:445/share");
		if (hlen == 0)
			return url_fail(err, errlen, SMBG_EINVAL,
					"missing host: expected " URL_FORM);
		if ((r = decode_text(s, hlen, &u->host, "host", SMBG_EINVAL, err, errlen)) != 0)
			return r;
		if (host_check(u->host) != 0)
			return url_fail(err, errlen, SMBG_EINVAL,
					"bad host name: expected a name, an IPv4 address or "
					"[IPv6] in " URL_FORM);
		if (colon)
			portp = colon + 1;
	}
	if (portp) {
		size_t plen = n - (size_t)(portp - s);
		uint32_t port = 0;
		size_t i;
		for (i = 0; i < plen && i < 6 && portp[i] >= '0' && portp[i] <= '9'; i++)
			port = port * 10 + (uint32_t)(portp[i] - '0');
		if (plen == 0 || i != plen || port == 0 || port > 65535)
			return url_fail(err, errlen, SMBG_EINVAL,
					"bad port '%.*s': expected a number from 1 to 65535",
					(int)(plen > 16 ? 16 : plen), portp);
		u->port = (uint16_t)port;
	}
	return 0;
}

/* The part between the authority and the query: /share/path. */
static int parse_path(const char *s, size_t n, struct smb_url *u, char *err, size_t errlen)
{
	struct wbuf b;
	const char *end = s + n;
	int r = 0;
	wbuf_init(&b);
	while (s < end) {
		const char *e = memchr(s, '/', (size_t)(end - s));
		size_t sl = e ? (size_t)(e - s) : (size_t)(end - s);
		char *seg = NULL;
		size_t dl;
		int why = NAME_OK, badc = 0;
		char desc[40];

		r = pct_decode(s, sl, &seg, &dl);
		if (r == SMBG_ENOMEM) {
			r = url_fail(err, errlen, r, "out of memory parsing the URL");
			break;
		} else if (r != 0) {
			r = url_fail(
			    err, errlen, SMBG_EINVAL,
			    "bad percent-encoding in the path: '%%' must be followed by two "
			    "hex digits, e.g. %%20");
			break;
		}
		const char *what = u->share ? "path" : "share name";
		if (!u->share && (dl == 0 || (dl == 1 && seg[0] == '.'))) {
			/* empty or "." before the share: nothing */
		} else if (!u->share) {
			if (dl == 2 && seg[0] == '.' && seg[1] == '.') {
				why = NAME_ESCAPE;
				r = SMBG_ENAME;
			} else if ((why = name_check(seg, dl, &badc)) != NAME_OK) {
				r = SMBG_ENAME;
			} else {
				u->share = seg;
				seg = NULL;
			}
		} else {
			r = path_push(&b, seg, dl, &why, &badc);
		}
		free(seg);
		if (r == SMBG_ENAME && why == NAME_CHAR)
			r = url_fail(err, errlen, r,
				     "the %s contains %s, which SMB does not allow in names "
				     "(\\ / : * ? \" < > | and control characters)",
				     what, name_char_desc(badc, desc, sizeof(desc)));
		else if (r == SMBG_ENAME && why == NAME_UTF8)
			r = url_fail(err, errlen, r,
				     "the %s is not valid UTF-8 after percent-decoding", what);
		else if (r == SMBG_ENAME)
			r = url_fail(err, errlen, r,
				     "the path climbs above the share root with '..': expected "
				     "smb://host/share/path inside the share");
		else if (r != 0)
			r = url_fail(err, errlen, r, "the path is too long");
		if (r != 0)
			break;
		s += sl;
		if (s < end)
			s++; /* the '/' */
	}
	if (r != 0) {
		wbuf_free(&b);
		return r;
	}
	u->path = path_finish(&b);
	if (!u->path)
		return url_fail(err, errlen, SMBG_ENOMEM, "out of memory parsing the URL");
	return 0;
}

int smb_url_parse(const char *s, struct smb_url *u, char *err, size_t errlen)
{
	struct url_opts o = {0};
	int r;

	memset(u, 0, sizeof(*u));
	u->min_protocol = SMB_DIALECT_2_0_2;
	u->max_protocol = SMB_DIALECT_3_1_1;
	if (err && errlen > 0)
		err[0] = '\0';
	if (!s || strncasecmp(s, "smb://", 6) != 0)
		return url_fail(err, errlen, SMBG_EINVAL,
				"the URL must start with smb://: expected " URL_FORM);
	s += 6;

	/* The authority ends at the first '/' or '?'; userinfo ends at its last '@', so an
	 * unencoded '@' in a password still works. */
	size_t alen = strcspn(s, "/?");
	const char *at = NULL;
	for (size_t i = 0; i < alen; i++)
		if (s[i] == '@')
			at = s + i;
	const char *hp = s;
	if (at) {
		if ((r = parse_userinfo(s, (size_t)(at - s), u, err, errlen)) != 0)
			goto fail;
		hp = at + 1;
	}
	if ((r = parse_hostport(hp, alen - (size_t)(hp - s), u, err, errlen)) != 0)
		goto fail;

	const char *path = s + alen;
	size_t plen = strcspn(path, "?");
	if ((r = parse_path(path, plen, u, err, errlen)) != 0)
		goto fail;
	if (path[plen] == '?' && (r = parse_query(path + plen + 1, u, &o, err, errlen)) != 0)
		goto fail;

	if (o.have_domain) {
		free(u->domain);
		u->domain = o.domain && *o.domain ? o.domain : NULL;
		if (!u->domain)
			free(o.domain);
		o.domain = NULL;
	}
	/* A lone max-protocol=NT1 means "SMB1 only", not a clash with the default minimum. */
	if (u->min_protocol > u->max_protocol && !(o.have_min && o.have_max)) {
		if (o.have_max)
			u->min_protocol = u->max_protocol;
		else
			u->max_protocol = u->min_protocol;
	}
	if (u->min_protocol > u->max_protocol) {
		r = url_fail(err, errlen, SMBG_EINVAL,
			     "min-protocol %s is above max-protocol %s: expected min <= max",
			     smb_dialect_name(u->min_protocol), smb_dialect_name(u->max_protocol));
		goto fail;
	}
	return 0;

fail:
	free(o.domain);
	smb_url_free(u);
	return r;
}

void smb_url_free(struct smb_url *u)
{
	if (!u)
		return;
	free(u->host);
	free(u->share);
	free(u->path);
	free(u->user);
	free_secret(u->password);
	free(u->domain);
	free(u->wins);
	free(u->broadcast);
	memset(u, 0, sizeof(*u));
}

/* Appends s, percent-encoding what would not parse back to the same name. */
static void put_display(struct wbuf *b, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f || c == '%' || c == '?') {
			char t[4];
			snprintf(t, sizeof(t), "%%%02X", c);
			wbuf_put_bytes(b, t, 3);
		} else {
			wbuf_put_u8(b, c);
		}
	}
}

char *smb_url_display(const struct smb_url *u)
{
	struct wbuf b;
	char port[8];
	unsigned p = u->port ? u->port : (u->transport == SMB_TRANSPORT_NETBIOS ? 139 : 445);
	int v6 = u->host && strchr(u->host, ':') != NULL;

	wbuf_init(&b);
	wbuf_put_bytes(&b, "smb://", 6);
	if (v6)
		wbuf_put_u8(&b, '[');
	put_display(&b, u->host);
	if (v6)
		wbuf_put_u8(&b, ']');
	snprintf(port, sizeof(port), ":%u", p);
	wbuf_put_bytes(&b, port, strlen(port));
	wbuf_put_u8(&b, '/');
	if (u->share) {
		put_display(&b, u->share);
		if (u->path && *u->path) {
			wbuf_put_u8(&b, '/');
			put_display(&b, u->path);
		}
	}
	wbuf_put_u8(&b, 0);
	if (wbuf_error(&b) != 0) {
		wbuf_free(&b);
		return NULL;
	}
	return (char *)wbuf_take(&b, NULL);
}
