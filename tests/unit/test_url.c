/* The smb:// URL: a table of good URLs with every field checked, a table of bad ones with the error
 * code and a word the message must contain, then path joining and display. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smbgate/err.h"
#include "util/url.h"

#define D202 SMB_DIALECT_2_0_2
#define D311 SMB_DIALECT_3_1_1

struct good {
	const char *url;
	const char *host;
	uint16_t port;
	const char *share; /* NULL: host only */
	const char *path;
	const char *user, *password, *domain;
	int transport;
	uint32_t rsize, wsize;
	uint16_t minp, maxp;
	int signing, encrypt, ntlmv1;
	const char *wins, *broadcast;
};

/* Fields not named are NULL/0; the protocol range defaults to 2.0.2..3.1.1. */
static const struct good goods[] = {
    {.url = "smb://host/share", .host = "host", .share = "share", .path = ""},
    {.url = "SMB://Host/Share/", .host = "Host", .share = "Share", .path = ""},
    {.url = "smb://host", .host = "host", .path = ""},
    {.url = "smb://host/", .host = "host", .path = ""},
    {.url = "smb://host?wins=10.0.0.1", .host = "host", .path = "", .wins = "10.0.0.1"},
    {.url = "smb://10.1.2.3:1445/s/a/b/c.txt",
     .host = "10.1.2.3",
     .port = 1445,
     .share = "s",
     .path = "a/b/c.txt"},
    {.url = "smb://h:1/s", .host = "h", .port = 1, .share = "s", .path = ""},
    {.url = "smb://h:65535/s", .host = "h", .port = 65535, .share = "s", .path = ""},
    /* Normalisation: // and . vanish, .. within the path is applied, trailing /
       dropped. */
    {.url = "smb://h//s//a/./b//../c/", .host = "h", .share = "s", .path = "a/c"},
    {.url = "smb://h/s/a/..", .host = "h", .share = "s", .path = ""},
    {.url = "smb://h/./s/.", .host = "h", .share = "s", .path = ""},
    {.url = "smb://h/s/x/%2E%2E/y", .host = "h", .share = "s", .path = "y"},
    /* Percent-decoding everywhere; raw spaces and UTF-8 are fine. */
    {.url = "smb://h/my%20share/dir%20x/%C3%A9t%C3%A9 #1.txt",
     .host = "h",
     .share = "my share",
     .path = "dir x/\xc3\xa9t\xc3\xa9 #1.txt"},
    {.url = "smb://h/s/na\xc3\xafve/%F0%9F%98%80",
     .host = "h",
     .share = "s",
     .path = "na\xc3\xafve/\xf0\x9f\x98\x80"},
    {.url = "smb://h/C$/x%25y", .host = "h", .share = "C$", .path = "x%y"},
    {.url = "smb://%68ost/s", .host = "host", .share = "s", .path = ""},
    /* Users, passwords, domains. */
    {.url = "smb://bob@h/s", .host = "h", .share = "s", .path = "", .user = "bob"},
    {.url = "smb://bob:secret@h/s",
     .host = "h",
     .share = "s",
     .path = "",
     .user = "bob",
     .password = "secret"},
    {.url = "smb://bob:@h/s", .host = "h", .share = "s", .path = "", .user = "bob", .password = ""},
    {.url = "smb://bob:a%2Fb%3Ac%40d%25@h/s",
     .host = "h",
     .share = "s",
     .path = "",
     .user = "bob",
     .password = "a/b:c@d%"},
    {.url = "smb://bob:p@ss@h/s", /* the last '@' ends the userinfo */
     .host = "h",
     .share = "s",
     .path = "",
     .user = "bob",
     .password = "p@ss"},
    {.url = "smb://WORK;bob:pw@h/s",
     .host = "h",
     .share = "s",
     .path = "",
     .user = "bob",
     .password = "pw",
     .domain = "WORK"},
    {.url = "smb://WORK%5Cbob@h/s",
     .host = "h",
     .share = "s",
     .path = "",
     .user = "bob",
     .domain = "WORK"},
    {.url = "smb://WORK\\bob@h/s",
     .host = "h",
     .share = "s",
     .path = "",
     .user = "bob",
     .domain = "WORK"},
    {.url = "smb://j%C3%BCrgen@h/s",
     .host = "h",
     .share = "s",
     .path = "",
     .user = "j\xc3\xbcrgen"},
    {.url = "smb://@h/s", .host = "h", .share = "s", .path = ""},
    /* Options override the userinfo; auth-domain wins over DOMAIN;user in
       either place. */
    {.url = "smb://bob:pw@h/s?auth-username=alice&auth-password=p%26w%3D",
     .host = "h",
     .share = "s",
     .path = "",
     .user = "alice",
     .password = "p&w="},
    {.url = "smb://D1;bob@h/s?auth-domain=D2&auth-username=D3%3Balice",
     .host = "h",
     .share = "s",
     .path = "",
     .user = "alice",
     .domain = "D2"},
    {.url = "smb://D1;bob@h/s?auth-username=alice",
     .host = "h",
     .share = "s",
     .path = "",
     .user = "alice",
     .domain = "D1"},
    {.url = "smb://h/s?auth-password=", .host = "h", .share = "s", .path = "", .password = ""},
    {.url = "smb://D;bob@h/s?auth-domain=", .host = "h", .share = "s", .path = "", .user = "bob"},
    /* IPv6. */
    {.url = "smb://[::1]/s", .host = "::1", .share = "s", .path = ""},
    {.url = "smb://[2001:db8::7]:4450/s/p",
     .host = "2001:db8::7",
     .port = 4450,
     .share = "s",
     .path = "p"},
    {.url = "smb://[fe80::1%25eth0]/s", .host = "fe80::1%eth0", .share = "s", .path = ""},
    {.url = "smb://u:p@[::ffff:10.0.0.1]:445/s",
     .host = "::ffff:10.0.0.1",
     .port = 445,
     .share = "s",
     .path = "",
     .user = "u",
     .password = "p"},
    /* Transports. */
    {.url = "smb://h/s?transport=NetBIOS",
     .host = "h",
     .share = "s",
     .path = "",
     .transport = SMB_TRANSPORT_NETBIOS},
    {.url = "smb://h/s?transport=DirectTCP", .host = "h", .share = "s", .path = ""},
    /* Buffer sizes: below 10000 ignored. */
    {.url = "smb://h/s?read-buffer-size=1048576&write-buffer-size=65536",
     .host = "h",
     .share = "s",
     .path = "",
     .rsize = 1048576,
     .wsize = 65536},
    {.url = "smb://h/s?read-buffer-size=9999&write-buffer-size=10000",
     .host = "h",
     .share = "s",
     .path = "",
     .rsize = 0,
     .wsize = 10000},
    {.url = "smb://h/s?read-buffer-size=4294967295",
     .host = "h",
     .share = "s",
     .path = "",
     .rsize = 4294967295u},
    {.url = "smb://h/s?read-buffer-size=0", .host = "h", .share = "s", .path = ""},
    /* Protocols, every spelling. */
    {.url = "smb://h/s?min-protocol=NT1&max-protocol=3.0",
     .host = "h",
     .share = "s",
     .path = "",
     .minp = SMB_DIALECT_NT1,
     .maxp = SMB_DIALECT_3_0},
    {.url = "smb://h/s?min-protocol=smb2_10&max-protocol=SMB3_02",
     .host = "h",
     .share = "s",
     .path = "",
     .minp = SMB_DIALECT_2_1,
     .maxp = SMB_DIALECT_3_0_2},
    {.url = "smb://h/s?min-protocol=3.1.1",
     .host = "h",
     .share = "s",
     .path = "",
     .minp = D311,
     .maxp = D311},
    {.url = "smb://h/s?max-protocol=NT1", /* SMB1 only: the minimum follows */
     .host = "h",
     .share = "s",
     .path = "",
     .minp = SMB_DIALECT_NT1,
     .maxp = SMB_DIALECT_NT1},
    {.url = "smb://h/s?min-protocol=2.02&max-protocol=2.02",
     .host = "h",
     .share = "s",
     .path = "",
     .minp = D202,
     .maxp = D202},
    /* Security switches and NetBIOS name service. */
    {.url = "smb://h/s?signing=required&encrypt=required&auth-ntlmv1=true",
     .host = "h",
     .share = "s",
     .path = "",
     .signing = 1,
     .encrypt = 1,
     .ntlmv1 = 1},
    {.url = "smb://h/s?signing=required&&encrypt=required",
     .host = "h",
     .share = "s",
     .path = "",
     .signing = 1,
     .encrypt = 1},
    {.url = "smb://h/s?signing=auto&encrypt=AUTO&auth-ntlmv1=false",
     .host = "h",
     .share = "s",
     .path = ""},
    {.url = "smb://h/s?wins=192.168.1.1&broadcast=192.168.1.255&",
     .host = "h",
     .share = "s",
     .path = "",
     .wins = "192.168.1.1",
     .broadcast = "192.168.1.255"},
    /* The example from the README. */
    {.url = "smb://host:445/share/"
	    "path?auth-username=U&auth-password=P&transport=directtcp",
     .host = "host",
     .port = 445,
     .share = "share",
     .path = "path",
     .user = "U",
     .password = "P"},
    {.url = "smb://host:139/share/"
	    "path?auth-username=U&auth-password=P&transport=netbios",
     .host = "host",
     .port = 139,
     .share = "share",
     .path = "path",
     .user = "U",
     .password = "P",
     .transport = SMB_TRANSPORT_NETBIOS},
    /* Everything at once. */
    {.url = "smb://D;u:p@srv.example.com:10445/sh/a/"
	    "b?transport=netbios&read-buffer-size=65536&"
	    "write-buffer-size=131072&min-protocol=2.1&max-protocol=3.0.2&"
	    "signing=required&"
	    "encrypt=required&auth-ntlmv1=true&wins=w&broadcast=b",
     .host = "srv.example.com",
     .port = 10445,
     .share = "sh",
     .path = "a/b",
     .user = "u",
     .password = "p",
     .domain = "D",
     .transport = SMB_TRANSPORT_NETBIOS,
     .rsize = 65536,
     .wsize = 131072,
     .minp = SMB_DIALECT_2_1,
     .maxp = SMB_DIALECT_3_0_2,
     .signing = 1,
     .encrypt = 1,
     .ntlmv1 = 1,
     .wins = "w",
     .broadcast = "b"},
};

static void assert_str_or_null(const char *got, const char *want, const char *field)
{
	if (!want) {
		if (got)
			fail_msg("%s: expected NULL, got '%s'", field, got);
		return;
	}
	if (!got)
		fail_msg("%s: expected '%s', got NULL", field, want);
	if (strcmp(got, want) != 0)
		fail_msg("%s: expected '%s', got '%s'", field, want, got);
}

static void test_good(void **state)
{
	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];
		struct smb_url u;
		char err[256] = "";
		print_message("  %s\n", g->url);
		int r = smb_url_parse(g->url, &u, err, sizeof(err));
		if (r != 0)
			fail_msg("%s: %d %s", g->url, r, err);
		assert_str_or_null(u.host, g->host, "host");
		assert_int_equal(u.port, g->port);
		assert_str_or_null(u.share, g->share, "share");
		assert_str_or_null(u.path, g->path, "path");
		assert_str_or_null(u.user, g->user, "user");
		assert_str_or_null(u.password, g->password, "password");
		assert_str_or_null(u.domain, g->domain, "domain");
		assert_int_equal(u.transport, g->transport);
		assert_int_equal(u.read_buffer_size, g->rsize);
		assert_int_equal(u.write_buffer_size, g->wsize);
		assert_int_equal(u.min_protocol, g->minp ? g->minp : D202);
		assert_int_equal(u.max_protocol, g->maxp ? g->maxp : D311);
		assert_int_equal(u.signing_required, g->signing);
		assert_int_equal(u.encrypt_required, g->encrypt);
		assert_int_equal(u.ntlmv1, g->ntlmv1);
		assert_str_or_null(u.wins, g->wins, "wins");
		assert_str_or_null(u.broadcast, g->broadcast, "broadcast");
		smb_url_free(&u);
		assert_null(u.host);
		assert_null(u.password);
	}
}

struct bad {
	const char *url;
	int code;
	const char *says; /* a word the message must contain */
};

static const struct bad bads[] = {
    {"", SMBG_EINVAL, "smb://"},
    {"http://h/s", SMBG_EINVAL, "smb://"},
    {"smb:/h/s", SMBG_EINVAL, "smb://"},
    {"smb://", SMBG_EINVAL, "missing host"},
    {"smb:///share", SMBG_EINVAL, "missing host"},
    {"smb://u:p@/share", SMBG_EINVAL, "missing host"},
    {"smb://h:0/s", SMBG_EINVAL, "port"},
    {"smb://h:65536/s", SMBG_EINVAL, "65535"},
    {"smb://h:99999999999999999999/s", SMBG_EINVAL, "port"},
    {"smb://h:/s", SMBG_EINVAL, "port"},
    {"smb://h:44a/s", SMBG_EINVAL, "port"},
    {"smb://h:-1/s", SMBG_EINVAL, "port"},
    {"smb://h:+445/s", SMBG_EINVAL, "port"},
    {"smb://::1/s", SMBG_EINVAL, "brackets"},
    {"smb://[::1/s", SMBG_EINVAL, "]"},
    {"smb://[::1]x/s", SMBG_EINVAL, "]"},
    {"smb://[not-v6]/s", SMBG_EINVAL, "IPv6"},
    {"smb://[10.0.0.1]/s", SMBG_EINVAL, "IPv6"},
    {"smb://[fe80::1%25]/s", SMBG_EINVAL, "IPv6"},
    {"smb://[::1]:0/s", SMBG_EINVAL, "port"},
    {"smb://[::1]:65536/s", SMBG_EINVAL, "port"},
    {"smb://h%2Fx/s", SMBG_EINVAL, "host"},
    {"smb://h%20x/s", SMBG_EINVAL, "host"},
    {"smb://h%25x/s", SMBG_EINVAL, "host"},
    {"smb://h%5Cx/s", SMBG_EINVAL, "host"},
    {"smb://h%3A1/s", SMBG_EINVAL, "host"},
    {"smb://h%40x/s", SMBG_EINVAL, "host"},
    {"smb://[fe80::1%25a%25b]/s", SMBG_EINVAL, "IPv6"},
    {"smb://[fe80::1%25a b]/s", SMBG_EINVAL, "IPv6"},
    {"smb://h%ZZ/s", SMBG_EINVAL, "percent"},
    {"smb://h/s/a%2", SMBG_EINVAL, "percent"},
    {"smb://h/s/a%", SMBG_EINVAL, "percent"},
    {"smb://u:p%G0@h/s", SMBG_EINVAL, "percent"},
    {"smb://u:p%FF@h/s", SMBG_EINVAL, "password"},
    {"smb://u%00x@h/s", SMBG_EINVAL, "user"},
    {"smb://;bob@h/s", SMBG_EINVAL, "DOMAIN;user"},
    {"smb://D;@h/s", SMBG_EINVAL, "DOMAIN;user"},
    {"smb://a;b;c@h/s", SMBG_EINVAL, "DOMAIN;user"},
    {"smb://a;b%5Cc@h/s", SMBG_EINVAL, "DOMAIN;user"},
    /* The path. */
    {"smb://h/s/..", SMBG_ENAME, ".."},
    {"smb://h/s/a/../..", SMBG_ENAME, ".."},
    {"smb://h/s/%2E%2E/x", SMBG_ENAME, ".."},
    {"smb://h/../s", SMBG_ENAME, ".."},
    {"smb://h/%2e%2e", SMBG_ENAME, ".."},
    {"smb://h/s/a%2Fb", SMBG_ENAME, "'/'"},
    {"smb://h/s/a%5Cb", SMBG_ENAME, "'\\'"},
    {"smb://h/s/a\\b", SMBG_ENAME, "'\\'"},
    {"smb://h/s/a:b", SMBG_ENAME, "':'"},
    {"smb://h/s/a*", SMBG_ENAME, "'*'"},
    {"smb://h/s/a%3F", SMBG_ENAME, "'?'"},
    {"smb://h/s/%22q%22", SMBG_ENAME, "'\"'"},
    {"smb://h/s/a<b", SMBG_ENAME, "'<'"},
    {"smb://h/s/a>b", SMBG_ENAME, "'>'"},
    {"smb://h/s/a|b", SMBG_ENAME, "'|'"},
    {"smb://h/s/a%0Ab", SMBG_ENAME, "control"},
    {"smb://h/s/a%00b", SMBG_ENAME, "control"},
    {"smb://h/s/a\x01", SMBG_ENAME, "control"},
    {"smb://h/s/%C3", SMBG_ENAME, "UTF-8"},
    {"smb://h/s/%C0%AF", SMBG_ENAME, "UTF-8"},
    {"smb://h/s/%ED%A0%80", SMBG_ENAME, "UTF-8"},
    {"smb://h/s/\xff", SMBG_ENAME, "UTF-8"},
    {"smb://h/sh%2Fare", SMBG_ENAME, "share"},
    {"smb://h/sh:are", SMBG_ENAME, "share"},
    {"smb://h/%FF", SMBG_ENAME, "UTF-8"},
    /* Options. */
    {"smb://h/s?frobnicate=1", SMBG_EINVAL, "frobnicate"},
    {"smb://h/s?Transport=netbios", SMBG_EINVAL, "Transport"},
    {"smb://h/s?transport", SMBG_EINVAL, "transport"},
    {"smb://h/s?transport=", SMBG_EINVAL, "needs a value"},
    {"smb://h/s?transport=udp", SMBG_EINVAL, "directtcp"},
    {"smb://h/s?transport=netbios&transport=directtcp", SMBG_EINVAL, "twice"},
    {"smb://h/s?read-buffer-size=abc", SMBG_EINVAL, "read-buffer-size"},
    {"smb://h/s?read-buffer-size=65536k", SMBG_EINVAL, "read-buffer-size"},
    {"smb://h/s?read-buffer-size=-1", SMBG_EINVAL, "read-buffer-size"},
    {"smb://h/s?read-buffer-size=%2065536", SMBG_EINVAL, "read-buffer-size"},
    {"smb://h/s?write-buffer-size=4294967296", SMBG_EINVAL, "write-buffer-size"},
    {"smb://h/s?write-buffer-size=99999999999999999999999", SMBG_EINVAL, "write-buffer-size"},
    {"smb://h/s?min-protocol=4.0", SMBG_EINVAL, "min-protocol"},
    {"smb://h/s?max-protocol=SMB4", SMBG_EINVAL, "max-protocol"},
    {"smb://h/s?min-protocol=3.1.1&max-protocol=2.1", SMBG_EINVAL, "min-protocol"},
    {"smb://h/s?min-protocol=3.0&max-protocol=NT1", SMBG_EINVAL, "max"},
    {"smb://h/s?signing=maybe", SMBG_EINVAL, "signing=required"},
    {"smb://h/s?encrypt=yes", SMBG_EINVAL, "encrypt=required"},
    {"smb://h/s?auth-ntlmv1=perhaps", SMBG_EINVAL, "auth-ntlmv1"},
    {"smb://h/s?guest=perhaps", SMBG_EINVAL, "guest"},
    {"smb://h/s?wins=", SMBG_EINVAL, "wins"},
    {"smb://h/s?broadcast=a%2Fb", SMBG_EINVAL, "broadcast"},
    {"smb://h/s?auth-password=%FF", SMBG_EINVAL, "auth-password"},
    {"smb://h/s?auth-username=a;b;c", SMBG_EINVAL, "auth-username"},
    {"smb://h/s?=x", SMBG_EINVAL, "unknown option"},
};

static void test_bad(void **state)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		struct smb_url u;
		char err[512] = "";
		print_message("  %s\n", b->url);
		int r = smb_url_parse(b->url, &u, err, sizeof(err));
		if (r != b->code)
			fail_msg("%s: expected %s, got %s (%s)", b->url, smbg_errname(b->code),
				 smbg_errname(r), err);
		if (!strstr(err, b->says))
			fail_msg("%s: message '%s' does not say '%s'", b->url, err, b->says);
		/* One line, and the struct is left empty. */
		assert_null(strchr(err, '\n'));
		assert_null(u.host);
		assert_null(u.share);
		assert_null(u.user);
		assert_null(u.password);
		smb_url_free(&u); /* harmless on the cleared struct */
	}
}

/* A password never appears in an error message, whatever goes wrong. */
static void test_password_not_in_errors(void **state)
{
	static const char *urls[] = {
	    "smb://bob:Sekr1tPw@h:0/s",
	    "smb://bob:Sekr1tPw@h/s/..",
	    "smb://bob:Sekr1tPw%@h/s",
	    "smb://bob:Sekr1tPw%FF@h/s",
	    "smb://h/s?auth-password=Sekr1tPw%FF",
	    "smb://h/s?auth-password=Sekr1tPw&nope=1",
	    "smb://h/s?auth-password=Sekr1tPw&auth-password=Sekr1tPw",
	};
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		struct smb_url u;
		char err[512] = "";
		assert_int_not_equal(smb_url_parse(urls[i], &u, err, sizeof(err)), 0);
		assert_true(err[0] != '\0');
		if (strstr(err, "Sekr1tPw"))
			fail_msg("%s: message leaks the password: %s", urls[i], err);
	}
}

/* Messages are truncated, not overrun, and a NULL or tiny buffer is fine. */
static void test_err_buffer(void **state)
{
	struct smb_url u;
	char err[8];
	memset(err, 'x', sizeof(err));
	assert_int_equal(
	    smb_url_parse("smb://h/s?unknown-option-with-a-long-name=1", &u, err, sizeof(err)),
	    SMBG_EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(smb_url_parse("smb://h:0/s", &u, NULL, 0), SMBG_EINVAL);
	assert_int_equal(smb_url_parse(NULL, &u, NULL, 0), SMBG_EINVAL);
	/* Control characters from the URL do not split the message. */
	char big[256];
	assert_int_equal(smb_url_parse("smb://h/s?transport=a%0Ab", &u, big, sizeof(big)),
			 SMBG_EINVAL);
	assert_null(strchr(big, '\n'));
}

static void test_dialects(void **state)
{
	static const struct {
		const char *s;
		uint16_t d;
	} t[] = {
	    {"NT1", SMB_DIALECT_NT1},
	    {"nt1", SMB_DIALECT_NT1},
	    {"2.0.2", 0x0202},
	    {"2.02", 0x0202},
	    {"SMB2_02", 0x0202},
	    {"2.1", 0x0210},
	    {"2.10", 0x0210},
	    {"smb2_10", 0x0210},
	    {"3.0", 0x0300},
	    {"SMB3_00", 0x0300},
	    {"3.0.2", 0x0302},
	    {"3.02", 0x0302},
	    {"SMB3_02", 0x0302},
	    {"3.1.1", 0x0311},
	    {"3.11", 0x0311},
	    {"Smb3_11", 0x0311},
	    {"", 0},
	    {"3", 0},
	    {"3.1", 0},
	    {"SMB1", 0},
	    {"3.1.1 ", 0},
	    {"SMB3_11x", 0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		print_message("  '%s'\n", t[i].s);
		assert_int_equal(smb_dialect_parse(t[i].s), t[i].d);
	}
	assert_int_equal(smb_dialect_parse(NULL), 0);
	assert_string_equal(smb_dialect_name(SMB_DIALECT_NT1), "NT1");
	assert_string_equal(smb_dialect_name(SMB_DIALECT_2_0_2), "2.0.2");
	assert_string_equal(smb_dialect_name(SMB_DIALECT_2_1), "2.1");
	assert_string_equal(smb_dialect_name(SMB_DIALECT_3_0), "3.0");
	assert_string_equal(smb_dialect_name(SMB_DIALECT_3_0_2), "3.0.2");
	assert_string_equal(smb_dialect_name(SMB_DIALECT_3_1_1), "3.1.1");
	assert_string_equal(smb_dialect_name(0x1234), "unknown");
	/* Ordering that min/max rely on. */
	assert_true(SMB_DIALECT_NT1 < SMB_DIALECT_2_0_2);
}

static void test_path_join(void **state)
{
	static const struct {
		const char *base, *rel, *want;
		int code;
	} t[] = {
	    {"", "", "", 0},
	    {NULL, NULL, "", 0},
	    {"a/b", "c", "a/b/c", 0},
	    {"a/b", "/c/", "a/b/c", 0},
	    {"a/b", "../c", "a/c", 0},
	    {"a/b", "../../c", "c", 0},
	    {"a/b", "../..", "", 0},
	    {"a/b", "../../..", NULL, SMBG_ENAME},
	    {"", "..", NULL, SMBG_ENAME},
	    {"a", "./x/./y//", "a/x/y", 0},
	    {"a//b/", "", "a/b", 0},
	    {"a", "x:y", NULL, SMBG_ENAME},
	    {"a", "x*y", NULL, SMBG_ENAME},
	    {"a", "x\\y", NULL, SMBG_ENAME},
	    {"a", "x\x01y", NULL, SMBG_ENAME},
	    {"a", "bad\xc3", NULL, SMBG_ENAME},
	    {"a", "\xc3\xa9t\xc3\xa9", "a/\xc3\xa9t\xc3\xa9", 0},
	    {"a", "..x/...", "a/..x/...", 0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *out = (char *)"sentinel";
		int r = smb_path_join(t[i].base, t[i].rel, &out);
		print_message("  '%s' + '%s'\n", t[i].base ? t[i].base : "(null)",
			      t[i].rel ? t[i].rel : "(null)");
		assert_int_equal(r, t[i].code);
		if (r == 0) {
			assert_string_equal(out, t[i].want);
			free(out);
		} else {
			assert_null(out);
		}
	}
}

static void expect_display(const char *url, const char *want)
{
	struct smb_url u;
	char err[256];
	assert_int_equal(smb_url_parse(url, &u, err, sizeof(err)), 0);
	char *d = smb_url_display(&u);
	assert_non_null(d);
	assert_string_equal(d, want);
	/* It parses back to the same place. */
	struct smb_url v;
	assert_int_equal(smb_url_parse(d, &v, err, sizeof(err)), 0);
	assert_string_equal(v.host, u.host);
	assert_str_or_null(v.share, u.share, "share");
	assert_string_equal(v.path, u.path);
	free(d);
	smb_url_free(&v);
	smb_url_free(&u);
}

static void test_display(void **state)
{
	expect_display("smb://WORK;bob:Sekr1t@host/share/a/b?auth-password=x",
		       "smb://host:445/share/a/b");
	expect_display("smb://h/s?transport=netbios", "smb://h:139/s");
	expect_display("smb://h:1445/s/", "smb://h:1445/s");
	expect_display("smb://[fe80::1%25eth0]:99/s/x", "smb://[fe80::1%25eth0]:99/s/x");
	expect_display("smb://h", "smb://h:445/");
	expect_display("smb://h/s/100%25 done/%C3%A9", "smb://h:445/s/100%25 done/\xc3\xa9");
	/* Never the password, nor the user. */
	struct smb_url u;
	assert_int_equal(smb_url_parse("smb://bob:Sekr1t@h/s", &u, NULL, 0), 0);
	char *d = smb_url_display(&u);
	assert_null(strstr(d, "Sekr1t"));
	assert_null(strstr(d, "bob"));
	free(d);
	smb_url_free(&u);
	smb_url_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_password_not_in_errors),
	    cmocka_unit_test(test_err_buffer),
	    cmocka_unit_test(test_dialects),
	    cmocka_unit_test(test_path_join),
	    cmocka_unit_test(test_display),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
