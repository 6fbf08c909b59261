/* smbgate lookup NAME[#TYPE]: NetBIOS name query (UDP 137), unicast to a name server or
 * broadcast, printing each address as nmblookup does ("192.0.2.7 NAME<20>"); with -S the node
 * status (the names each host has registered, and its MAC address). Options are parsed here:
 * the shared table (cli/options.c) is for commands that take a URL. */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "smb/transport/nbns.h"

static void lookup_usage(FILE *f)
{
	fprintf(
	    f, "Usage: smbgate lookup [options] NAME[#TYPE]\n\n"
	       "Asks the NetBIOS name service (UDP port 137) for the addresses of NAME and prints\n"
	       "one line per address: \"ADDRESS NAME<TYPE>\". TYPE is the hexadecimal name type\n"
	       "(default 20, the file server; 00 is the workstation, 1d the master browser).\n"
	       "Without --wins-server the query is broadcast (on --broadcast, or on every\n"
	       "interface), 3 times 250 ms apart; a name server is asked 3 times 5 s apart.\n\n"
	       "Options:\n"
	       "  -S, --status          also show each host's node status (its names, MAC)\n"
	       "  --wins-server HOST    ask this NetBIOS name server (unicast)\n"
	       "  --broadcast ADDR      broadcast to ADDR (e.g. 192.168.1.255)\n"
	       "  --port N              UDP port of the name service (default 137)\n"
	       "  --timeout SECONDS     give up after SECONDS (default: the RFC 1002 timings)\n"
	       "  -v, --verbose         more messages on stderr (-vv: debug)\n"
	       "  -h, --help            show this help and exit\n\n"
	       "Exit codes: 0 found, 2 usage or bad name, 3 no answer / network error,\n"
	       "5 the name server says the name is not registered.\n\n"
	       "Examples:\n"
	       "  smbgate lookup FILESERVER\n"
	       "  smbgate lookup -S --wins-server 192.0.2.1 NAS#20\n");
}

static int parse_name(const char *arg, char *name, size_t nlen, uint8_t *type)
{
	const char *hash = strchr(arg, '#');
	size_t n = hash ? (size_t)(hash - arg) : strlen(arg);
	*type = NB_NAME_SERVER;
	if (n >= nlen)
		n = nlen - 1; /* too long either way: the name check reports it */
	memcpy(name, arg, n);
	name[n] = 0;
	if (hash) {
		char *end;
		unsigned long t = strtoul(hash + 1, &end, 16);
		if (!hash[1] || *end || t > 0xFF)
			return -1;
		*type = (uint8_t)t;
	}
	return 0;
}

static const char *name_flags(uint16_t fl, char *buf, size_t n)
{
	static const char node[4] = {'B', 'P', 'M', 'H'};
	snprintf(buf, n, "%-9s %c%s%s%s", (fl & 0x8000) ? "<GROUP>" : "-", node[(fl >> 13) & 3],
		 (fl & 0x0400) ? " <ACTIVE>" : "", (fl & 0x0200) ? " <PERMANENT>" : "",
		 (fl & 0x1000) ? " <DEREGISTERING>" : "");
	return buf;
}

static int print_status(struct in_addr a, const struct nbns_opts *o)
{
	struct nbns_reply r;
	char err[256], ip[INET_ADDRSTRLEN], fl[64];
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	int rc = smb_nbns_status(a, o, &r, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "smbgate lookup: %s\n", err);
		return rc;
	}
	printf("Node status of %s:\n", ip);
	for (size_t i = 0; i < r.nnames; i++)
		printf("\t%-15s <%02x> %s\n", r.names[i].name, r.names[i].type,
		       name_flags(r.names[i].flags, fl, sizeof(fl)));
	if (r.have_mac)
		printf("\tMAC Address = %02X-%02X-%02X-%02X-%02X-%02X\n", r.mac[0], r.mac[1],
		       r.mac[2], r.mac[3], r.mac[4], r.mac[5]);
	return 0;
}

int cmd_lookup(int argc, char **argv)
{
	enum { OPT_WINS = 256, OPT_BCAST, OPT_PORT, OPT_TIMEOUT };
	static const struct option longopts[] = {
	    {"status", no_argument, NULL, 'S'},
	    {"wins-server", required_argument, NULL, OPT_WINS},
	    {"broadcast", required_argument, NULL, OPT_BCAST},
	    {"port", required_argument, NULL, OPT_PORT},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct nbns_opts o = {0};
	int status = 0, c;
	char *end;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+Svh", longopts, NULL)) != -1) {
		switch (c) {
		case 'S':
			status = 1;
			break;
		case 'v':
			cli_verbose_add(1);
			break;
		case 'h':
			lookup_usage(stdout);
			return CLI_EXIT_OK;
		case OPT_WINS:
			o.wins = optarg;
			break;
		case OPT_BCAST:
			o.broadcast = optarg;
			break;
		case OPT_PORT: {
			unsigned long p = strtoul(optarg, &end, 10);
			if (!*optarg || *end || p == 0 || p > 65535)
				return cli_errorf("lookup", CLI_EXIT_USAGE,
						  "bad --port '%s': expected 1..65535",
						  cli_safe(optarg));
			o.port = (uint16_t)p;
			break;
		}
		case OPT_TIMEOUT: {
			unsigned long t = strtoul(optarg, &end, 10);
			if (!*optarg || *end || t > 3600)
				return cli_errorf("lookup", CLI_EXIT_USAGE,
						  "bad --timeout '%s': expected seconds (0..3600)",
						  cli_safe(optarg));
			o.timeout_ms = (int)t * 1000;
			break;
		}
		default:
			return cli_errorf("lookup", CLI_EXIT_USAGE,
					  "unknown or incomplete option '%s' (see `smbgate lookup "
					  "--help`)",
					  cli_safe(argv[optind - 1]));
		}
	}
	if (optind != argc - 1) {
		lookup_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (o.wins && o.broadcast)
		return cli_errorf("lookup", CLI_EXIT_USAGE,
				  "--wins-server and --broadcast exclude each other");
	char name[32], err[320];
	uint8_t type;
	if (parse_name(argv[optind], name, sizeof(name), &type) < 0)
		return cli_errorf("lookup", CLI_EXIT_USAGE,
				  "bad name type in '%s': expected NAME#XX (hexadecimal 00..ff)",
				  cli_safe(argv[optind]));
	if (smb_nb_name_check(name, err, sizeof(err)) < 0)
		return cli_errorf("lookup", CLI_EXIT_USAGE, "%s", cli_safe(err));
	struct in_addr addrs[NBNS_MAX_ADDRS];
	int n = smb_nbns_query(name, type, &o, addrs, NBNS_MAX_ADDRS, err, sizeof(err));
	if (n < 0)
		return cli_errorf("lookup",
				  n == SMBG_ENOENT ? CLI_EXIT_NOTFOUND
						   : cli_exit_code(n, SMB_STAGE_RESOLVE),
				  "%s", cli_safe(err));
	int rc = CLI_EXIT_OK;
	for (int i = 0; i < n; i++) {
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &addrs[i], ip, sizeof(ip));
		printf("%s %s<%02x>\n", ip, name, type);
	}
	for (int i = 0; status && i < n; i++)
		if (print_status(addrs[i], &o) < 0)
			rc = CLI_EXIT_CONNECT;
	return rc;
}
