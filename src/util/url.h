/* The smb:// remote URL:
 *   smb://[user[:pass]@]host[:port]/share[/path][?option=value&...]
 * Options: auth-username, auth-password, auth-domain, transport=directtcp|netbios,
 * read-buffer-size, write-buffer-size (values < 10000 ignored), min-protocol, max-protocol
 * (NT1 2.0.2 2.1 3.0 3.0.2 3.1.1, or SMB2_02 SMB2_10 SMB3_00 SMB3_02 SMB3_11),
 * signing=auto|required, encrypt=auto|required, auth-ntlmv1=true|false, wins, broadcast.
 * Everything is percent-decoded; user may be DOMAIN;user or DOMAIN\user. */
#ifndef SMBGATE_URL_H
#define SMBGATE_URL_H

#include <stddef.h>
#include <stdint.h>

enum smb_transport { SMB_TRANSPORT_DIRECTTCP = 0, SMB_TRANSPORT_NETBIOS = 1 };

/* Dialect numbers: SMB2/3 use their wire values; NT1 sorts below them. */
#define SMB_DIALECT_NT1	  0x0001
#define SMB_DIALECT_2_0_2 0x0202
#define SMB_DIALECT_2_1	  0x0210
#define SMB_DIALECT_3_0	  0x0300
#define SMB_DIALECT_3_0_2 0x0302
#define SMB_DIALECT_3_1_1 0x0311

struct smb_url {
	char *host;	/* never NULL after a successful parse; IPv6 literal without brackets */
	uint16_t port;	/* 0 = transport default (445 direct TCP, 139 NetBIOS) */
	char *share;	/* may be NULL only for URLs that name just a host (lookup) */
	char *path;	/* '/'-separated, no leading or trailing '/', "" for the share root */
	char *user;	/* NULL = anonymous/guest */
	char *password; /* NULL = none given; wiped by smb_url_free */
	char *domain;	/* NULL = none */
	enum smb_transport transport;
	uint32_t read_buffer_size;  /* 0 = unset (server's maximum) */
	uint32_t write_buffer_size; /* 0 = unset */
	uint16_t min_protocol;	    /* default SMB_DIALECT_2_0_2 */
	uint16_t max_protocol;	    /* default SMB_DIALECT_3_1_1 */
	int signing_required;	    /* signing=required */
	int encrypt_required;	    /* encrypt=required */
	int ntlmv1;		    /* auth-ntlmv1=true */
	int guest;		    /* guest=true: a guest session is fine even with a user name */
	char *wins;		    /* NetBIOS name server (unicast) */
	char *broadcast;	    /* NetBIOS broadcast address */
};

/* Parses s into u (zeroed first). On failure returns SMBG_EINVAL (or SMBG_ENAME for a share or
 * path with `..` above the root, invalid UTF-8, NUL or a character SMB forbids in names,
 * SMBG_ENOMEM), leaves u cleared, and writes a one-line reason into err (may be NULL) that
 * never contains the password. A lone max-protocol below 2.0.2 lowers the default minimum. */
int smb_url_parse(const char *s, struct smb_url *u, char *err, size_t errlen);
/* Frees the strings (the password is wiped first); u itself is the caller's. NULL is a no-op. */
void smb_url_free(struct smb_url *u);
/* Parses a protocol name ("3.1.1", "SMB3_11", "NT1"...) to a dialect number, 0 if unknown. */
uint16_t smb_dialect_parse(const char *s);
/* "3.1.1", "NT1"... for a dialect number. */
const char *smb_dialect_name(uint16_t dialect);
/* Joins the URL's path and a relative path with '/', normalising ("", "." and "//" vanish,
 * ".." pops); a leading '/' in rel does not restart at the root. Caller frees. SMBG_ENAME when
 * the result would climb above the share root or a name is not valid (as for the URL). */
int smb_path_join(const char *base, const char *rel, char **out);
/* smb://host:port/share/path without user, password or options, for messages (caller frees;
 * NULL when out of memory). The port is the effective one; it parses back to the same place. */
char *smb_url_display(const struct smb_url *u);

#endif
