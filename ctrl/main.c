/*
 * main.c — lscd: the LSC provisioning proxy's daemon. Parses the command
 * line, loads the configuration, and runs everything on one event loop
 * until SIGTERM/SIGINT; SIGHUP reloads the configuration.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "ctrl/daemon.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: lscd [-dnv] [-f config] [--time-offset seconds]\n"
		"\n"
		"lscd is the LSC provisioning proxy of a wireless LAN controller: a CAPWAP\n"
		"access controller (UDP 5246, DTLS) that gives access points certificates\n"
		"of the operator's PKI, enrolled over SCEP on their behalf.\n"
		"\n"
		"  -f, --config FILE    configuration (default %s); see lscd.json(5),\n"
		"                       docs/lscd.json.md\n"
		"  -n, --check          check the configuration, print \"configuration OK\"\n"
		"                       or every error, and exit\n"
		"  -d, --debug          log at debug level, to stderr only\n"
		"  -v, --verbose        log at debug level\n"
		"      --time-offset S  TESTS ONLY: pretend the wall clock is S seconds ahead\n"
		"  -h, --help           this text\n"
		"  -V, --version        print the version\n"
		"\n"
		"Signals: SIGHUP reloads the configuration (a bad file keeps the running\n"
		"one and logs why); SIGTERM and SIGINT stop lscd.\n"
		"Status: lscctl(8) talks to the control socket named in the configuration.\n",
		LSCD_DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'f' },
		{ "check", no_argument, NULL, 'n' },
		{ "debug", no_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "time-offset", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct lscd_options opts = { .config_path = LSCD_DEFAULT_CONFIG };
	int c;

	while ((c = getopt_long(argc, argv, "f:ndvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			opts.config_path = optarg;
			break;
		case 'n':
			opts.check_only = true;
			break;
		case 'd':
			opts.debug = true;
			break;
		case 'v':
			opts.verbose = true;
			break;
		case 'T': {
			char *end;
			errno = 0;
			long long v = strtoll(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg) {
				fprintf(stderr, "lscd: --time-offset: not a number of seconds: \"%s\"\n", optarg);
				return 2;
			}
			opts.time_offset_s = v;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("lscd %s\n", LSCD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "lscd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return lscd_run(&opts);
}
