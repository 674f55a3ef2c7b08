/*
 * main.c — apsim: many simulated APs against one controller, on loopback.
 * Prints progress and a summary, writes a JSON status file, and exits
 * non-zero when the APs did not reach what --expect asked for in time.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <jansson.h>

#include "tools/apsim/apsim.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: apsim --mfg-ca-cert F --mfg-ca-key F --ac-trust F [options]\n"
		"\n"
		"Simulates a fleet of access points against a CAPWAP controller (lscd):\n"
		"Discovery, DTLS with a MIC or an LSC, Join, Configure, Run, Echo, and the\n"
		"AP side of LSC provisioning, including the fall back to the MIC.\n"
		"\n"
		"Controller and fleet:\n"
		"  --ac HOST:PORT          controller address (127.0.0.1:5246)\n"
		"  -n, --count N           number of APs (1)\n"
		"  -c, --concurrency N     APs joining at once (64)\n"
		"  --mac-base MAC          MAC of the first AP (02:00:00:00:00:01)\n"
		"  --src-base ADDR         source address of the first AP, one per AP (127.1.0.1)\n"
		"  --model NAME            AP model (AIR-AP3802I-B-K9)\n"
		"  --cn-prefix TEXT        LSC CN prefix, CN = PREFIX-MAC (ap3g3)\n"
		"  --seed N                seed for start order and timing jitter (1)\n"
		"Identities:\n"
		"  --mfg-ca-cert F         manufacturing CA certificate (PEM) that signs MICs\n"
		"  --mfg-ca-key F          its key\n"
		"  --ac-trust F            CAs an AP on its MIC trusts for the controller\n"
		"  --keypool F             RSA-2048 key cache (build/keypool.pem); grown as needed\n"
		"  --lsc-keys N            distinct LSC keys to take from the pool (--count); 0 when\n"
		"                          no AP will be provisioned: the pool then needs only MIC keys\n"
		"  --csr-dir DIR           at exit, write each AP's last CSR (DER) as DIR/<CN>.csr\n"
		"  --mic KIND              untrusted | expired: every AP gets such a MIC\n"
		"Timers (ms unless said):\n"
		"  --boot-spread MS        start APs spread over this long (0)\n"
		"  --reboot MS             reboot time after an LSC install or reset (1000)\n"
		"  --retry MS              wait after a failed join (1000)\n"
		"  --retransmit MS         first retransmission, doubling (3000)\n"
		"  --max-retransmit N      then the controller is lost (5)\n"
		"  --wait MS               handshake / join completion limit (20000)\n"
		"  --echo S                Echo interval, overriding the controller's\n"
		"Misbehaviour (tests):\n"
		"  --misbehave KIND        other-mac | short-key | wrong-key-type\n"
		"  --misbehave-count N     how many APs misbehave, from the first (all)\n"
		"Ending:\n"
		"  --expect WHAT           run | lsc | mic: done when every AP is in Run (on that cert)\n"
		"  --timeout S             give up after S seconds: exit 1 (600)\n"
		"  --hold S                after done, keep the fleet up S more seconds (0)\n"
		"  --duration S            run exactly S seconds, then exit 0\n"
		"  --progress S            progress line every S seconds (5; 0 = off)\n"
		"  --status-file F         JSON status of every AP, rewritten on progress, SIGUSR1, exit\n"
		"  -q, --quiet             no progress lines\n"
		"Without --expect or --duration apsim runs until SIGINT/SIGTERM.\n"
		"\n"
		"Measurement (make bench): the status file has done_s (start to --expect met),\n"
		"cpu_s and done_cpu_s (apsim's own CPU seconds since the start, now and at done),\n"
		"per AP first_run_ms and first_lsc_run_ms (ms since start, -1: not yet), and\n"
		"echo_rtt: percentiles of every Echo round trip since the start or since the\n"
		"last SIGUSR2, which starts a new measurement window.\n");
}

int64_t apsim_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double apsim_cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int64_t apsim_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- accounting ---------------------------------------------------------- */

bool fleet_setup_slot(struct fleet *f, struct ap *ap)
{
	if (ap->holds_slot)
		return true;
	if (f->in_setup >= f->o.concurrency)
		return false;
	f->in_setup++;
	ap->holds_slot = true;
	return true;
}

void fleet_setup_release(struct fleet *f, struct ap *ap)
{
	if (!ap->holds_slot)
		return;
	ap->holds_slot = false;
	f->in_setup--;
}

void fleet_record_rtt(struct fleet *f, int64_t us)
{
	if (f->rtt_n == f->rtt_cap) {
		size_t cap = f->rtt_cap ? f->rtt_cap * 2 : 4096;
		if (cap > (1u << 24))
			return;     /* bounded: plenty for any percentile */
		uint32_t *grown = realloc(f->rtt_us, cap * sizeof(*grown));
		if (grown == NULL)
			return;
		f->rtt_us = grown;
		f->rtt_cap = cap;
	}
	f->rtt_us[f->rtt_n++] = (uint32_t)(us < 0 ? 0 : us);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of rtt_us, which the caller has sorted. */
static double percentile_ms(const struct fleet *f, double p)
{
	if (f->rtt_n == 0)
		return 0;
	size_t i = (size_t)(p * (double)(f->rtt_n - 1) + 0.5);
	return f->rtt_us[i] / 1000.0;
}

static double mean_ms(const struct fleet *f)
{
	double sum = 0;
	for (size_t i = 0; i < f->rtt_n; i++)
		sum += f->rtt_us[i];
	return f->rtt_n ? sum / (double)f->rtt_n / 1000.0 : 0;
}

/* Every CSR the fleet sent last, for a baseline that enrolls the same
 * requests directly at the CA. Written at exit, off the measured path. */
static void write_csrs(struct fleet *f)
{
	unsigned written = 0;
	for (unsigned i = 0; i < f->o.count; i++) {
		const struct ap *ap = &f->aps[i];
		char path[1024], mac[18];
		if (ap->last_csr.len == 0)
			continue;
		capwap_mac_format(ap->mac, CAPWAP_MAC_BARE_UPPER, mac);
		snprintf(path, sizeof(path), "%s/%s-%s.csr", f->o.csr_dir, f->o.cn_prefix, mac);
		FILE *out = fopen(path, "w");
		if (out == NULL || fwrite(ap->last_csr.data, 1, ap->last_csr.len, out) != ap->last_csr.len) {
			fprintf(stderr, "apsim: %s: %s\n", path, strerror(errno));
			if (out != NULL)
				fclose(out);
			continue;
		}
		if (fclose(out) == 0)
			written++;
	}
	if (!f->o.quiet)
		printf("apsim: %u CSRs written to %s\n", written, f->o.csr_dir);
}

static bool ap_meets(const struct fleet *f, const struct ap *ap)
{
	if (ap->state != AP_RUN)
		return false;
	if (strcmp(f->o.expect, "lsc") == 0)
		return ap->use_lsc;
	if (strcmp(f->o.expect, "mic") == 0)
		return !ap->use_lsc;
	return true;
}

static void write_status(struct fleet *f);
static void print_progress(struct fleet *f, const char *label);

void fleet_check_done(struct fleet *f)
{
	if (f->o.expect == NULL || f->done)
		return;
	for (unsigned i = 0; i < f->o.count; i++)
		if (!ap_meets(f, &f->aps[i]))
			return;
	f->done = true;
	f->done_ms = apsim_now_ms();
	f->done_cpu_s = apsim_cpu_s() - f->started_cpu_s;
	f->exit_status = 0;
	if (!f->o.quiet)
		print_progress(f, "done");
	if (f->o.hold_s == 0) {
		event_base_loopbreak(f->base);
	} else {
		struct timeval tv = { .tv_sec = f->o.hold_s };
		event_base_loopexit(f->base, &tv);
	}
}

static void print_progress(struct fleet *f, const char *label)
{
	unsigned by_state[AP_STATE_COUNT] = { 0 }, lsc = 0, fallbacks = 0, provisions = 0;
	for (unsigned i = 0; i < f->o.count; i++) {
		const struct ap *ap = &f->aps[i];
		by_state[ap->state]++;
		lsc += ap->state == AP_RUN && ap->use_lsc;
		fallbacks += ap->fallbacks;
		provisions += ap->provisions;
	}
	printf("apsim: %s %.1fs: %u APs: run %u (lsc %u, mic %u), joining %u, idle %u; "
	       "LSCs installed %u, fallbacks %u\n",
	       label, (apsim_now_ms() - f->started_ms) / 1000.0, f->o.count, by_state[AP_RUN], lsc,
	       by_state[AP_RUN] - lsc,
	       by_state[AP_DISCOVERY] + by_state[AP_DTLS] + by_state[AP_JOIN] + by_state[AP_CONFIGURE] +
		       by_state[AP_DATA_CHECK],
	       by_state[AP_IDLE], provisions, fallbacks);
	fflush(stdout);
}

static void write_status(struct fleet *f)
{
	if (f->o.status_file == NULL)
		return;
	json_t *aps = json_array();
	unsigned in_run = 0, on_lsc = 0;
	int64_t now = apsim_now_ms();
	for (unsigned i = 0; i < f->o.count; i++) {
		const struct ap *ap = &f->aps[i];
		char mac[18];
		capwap_mac_format(ap->mac, CAPWAP_MAC_COLON, mac);
		in_run += ap->state == AP_RUN;
		on_lsc += ap->state == AP_RUN && ap->use_lsc;
		json_array_append_new(aps, json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:I, s:I}",
			"mac", mac, "name", ap->name, "address", inet_ntoa(ap->src.sin_addr),
			"state", ap_state_name(ap->state),
			"cert", ap->use_lsc ? "LSC" : "MIC",
			"lsc_serial", ap->lsc_serial, "lsc_not_after", (json_int_t)ap->lsc_not_after,
			"joins_mic", ap->joins_mic, "joins_lsc", ap->joins_lsc,
			"lsc_join_failures", ap->lsc_join_failures, "fallbacks", ap->fallbacks,
			"provisions", ap->provisions, "csrs_sent", ap->csrs_sent,
			"enroll_failed", ap->enroll_failed, "dtls_failures", ap->dtls_failures,
			"sessions_lost", ap->sessions_lost, "join_attempts", ap->join_attempts,
			"last_error", ap->last_error,
			"first_run_ms", (json_int_t)ap->first_run_ms,
			"first_lsc_run_ms", (json_int_t)ap->first_lsc_run_ms));
	}
	if (f->rtt_n > 0)       /* rtt_us is NULL until the first sample */
		qsort(f->rtt_us, f->rtt_n, sizeof(*f->rtt_us), cmp_u32);
	json_t *root = json_pack("{s:i, s:i, s:i, s:f, s:o, s:f, s:o, s:{s:I, s:f, s:f, s:f, s:f, s:f, s:f}, s:o}",
				 "count", f->o.count, "in_run", in_run, "on_lsc", on_lsc,
				 "elapsed_s", (now - f->started_ms) / 1000.0,
				 "done_s", f->done ? json_real((f->done_ms - f->started_ms) / 1000.0) : json_null(),
				 "cpu_s", apsim_cpu_s() - f->started_cpu_s,
				 "done_cpu_s", f->done ? json_real(f->done_cpu_s) : json_null(),
				 "echo_rtt", "samples", (json_int_t)f->rtt_n,
				 "window_s", (now - f->rtt_since_ms) / 1000.0,
				 "mean_ms", mean_ms(f),
				 "p50_ms", percentile_ms(f, 0.50), "p90_ms", percentile_ms(f, 0.90),
				 "p99_ms", percentile_ms(f, 0.99), "max_ms", percentile_ms(f, 1.0),
				 "aps", aps);
	char tmp[1024];
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->o.status_file);
	if (json_dump_file(root, tmp, JSON_INDENT(1)) == 0)
		rename(tmp, f->o.status_file);
	json_decref(root);
}

/* ---- events -------------------------------------------------------------- */

static void on_progress(evutil_socket_t fd, short what, void *arg)
{
	struct fleet *f = arg;
	(void)fd;
	(void)what;
	if (!f->o.quiet)
		print_progress(f, "progress");
	write_status(f);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct fleet *f = arg;
	(void)what;
	if (sig == SIGUSR1) {
		write_status(f);
		return;
	}
	if (sig == SIGUSR2) {
		/* A new Echo measurement window starts now. */
		f->rtt_n = 0;
		f->rtt_since_ms = apsim_now_ms();
		return;
	}
	event_base_loopbreak(f->base);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct fleet *f = arg;
	(void)fd;
	(void)what;
	if (f->o.duration_s != 0)
		f->exit_status = 0;
	else if (!f->done)
		fprintf(stderr, "apsim: timed out after %u s before every AP reached %s\n",
			f->o.timeout_s, f->o.expect);
	event_base_loopbreak(f->base);
}

/* ---- setup --------------------------------------------------------------- */

static bool load_mfg_ca(struct fleet *f, char *err, size_t errlen)
{
	struct pki_error perr;
	struct pki_buf pem = { 0 };

	if (pki_key_load(f->o.mfg_ca_key, &f->mfg_key, &perr) != 0 ||
	    pki_file_read(f->o.mfg_ca_cert, 1 << 20, &pem, &perr) != 0 ||
	    pki_pem_to_der((const char *)pem.data, pem.len, "CERTIFICATE", &f->mfg_cert, &perr) != 0) {
		snprintf(err, errlen, "manufacturing CA: %.200s", perr.reason);
		pki_buf_free(&pem);
		return false;
	}
	pki_buf_free(&pem);
	if (f->o.mic_kind != NULL && strcmp(f->o.mic_kind, "untrusted") == 0) {
		/* A CA nobody trusts takes the manufacturer's place. */
		struct pki_subject subj = { 0 };
		struct pki_issue_params p = { .days = 365, .ca = true,
					      .key_usage = PKI_KU_KEY_CERT_SIGN | PKI_KU_CRL_SIGN };
		struct pki_key_spec spec = { PKI_KEY_EC, 256 };
		snprintf(subj.o, sizeof(subj.o), "apsim rogue manufacturer");
		snprintf(subj.cn, sizeof(subj.cn), "Untrusted Manufacturing CA");
		pki_key_free(f->mfg_key);
		pki_buf_free(&f->mfg_cert);
		if (pki_key_generate(&spec, &f->mfg_key, &perr) != 0 ||
		    pki_cert_self_signed(f->mfg_key, &subj, &p, &f->mfg_cert, &perr) != 0) {
			snprintf(err, errlen, "untrusted CA: %.200s", perr.reason);
			return false;
		}
	}
	return true;
}

static bool load_ac_trust(struct fleet *f, char *err, size_t errlen)
{
	struct pki_buf pem = { 0 };
	struct pki_error perr;
	struct capwap_error cerr;

	if (pki_file_read(f->o.ac_trust, 1 << 20, &pem, &perr) != 0) {
		snprintf(err, errlen, "--ac-trust: %.200s", perr.reason);
		return false;
	}
	f->ac_trust = capwap_dtls_trust_new((const char *)pem.data, pem.len, &cerr);
	pki_buf_free(&pem);
	if (f->ac_trust == NULL) {
		snprintf(err, errlen, "--ac-trust %s: %s", f->o.ac_trust, cerr.reason);
		return false;
	}
	return true;
}

static bool parse_ac(struct fleet *f, const char *text, char *err, size_t errlen)
{
	char host[64];
	unsigned port = CAPWAP_CONTROL_PORT;
	const char *colon = strrchr(text, ':');
	size_t hlen = colon != NULL ? (size_t)(colon - text) : strlen(text);

	if (hlen >= sizeof(host)) {
		snprintf(err, errlen, "--ac %s: address too long", text);
		return false;
	}
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (colon != NULL && (sscanf(colon + 1, "%u", &port) != 1 || port == 0 || port > 65535)) {
		snprintf(err, errlen, "--ac %s: bad port", text);
		return false;
	}
	f->ac.sin_family = AF_INET;
	f->ac.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &f->ac.sin_addr) != 1) {
		snprintf(err, errlen, "--ac %s: not an IPv4 address", text);
		return false;
	}
	return true;
}

static bool parse_uint(const char *opt, const char *text, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno != 0 || *end != '\0' || end == text || v > 0xffffffffu) {
		fprintf(stderr, "apsim: %s: not a number: \"%s\"\n", opt, text);
		return false;
	}
	*out = (unsigned)v;
	return true;
}

static void raise_fd_limit(unsigned count)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < count + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	enum {
		O_AC = 256, O_MAC_BASE, O_SRC_BASE, O_MODEL, O_CN_PREFIX, O_SEED, O_MFG_CERT,
		O_MFG_KEY, O_AC_TRUST, O_KEYPOOL, O_MIC, O_BOOT_SPREAD, O_REBOOT, O_RETRY,
		O_RETRANSMIT, O_MAX_RETRANSMIT, O_WAIT, O_ECHO, O_MISBEHAVE, O_MISBEHAVE_COUNT,
		O_EXPECT, O_TIMEOUT, O_HOLD, O_DURATION, O_PROGRESS, O_STATUS, O_LSC_KEYS, O_CSR_DIR,
	};
	static const struct option longopts[] = {
		{ "ac", required_argument, NULL, O_AC },
		{ "count", required_argument, NULL, 'n' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "mac-base", required_argument, NULL, O_MAC_BASE },
		{ "src-base", required_argument, NULL, O_SRC_BASE },
		{ "model", required_argument, NULL, O_MODEL },
		{ "cn-prefix", required_argument, NULL, O_CN_PREFIX },
		{ "seed", required_argument, NULL, O_SEED },
		{ "mfg-ca-cert", required_argument, NULL, O_MFG_CERT },
		{ "mfg-ca-key", required_argument, NULL, O_MFG_KEY },
		{ "ac-trust", required_argument, NULL, O_AC_TRUST },
		{ "keypool", required_argument, NULL, O_KEYPOOL },
		{ "lsc-keys", required_argument, NULL, O_LSC_KEYS },
		{ "csr-dir", required_argument, NULL, O_CSR_DIR },
		{ "mic", required_argument, NULL, O_MIC },
		{ "boot-spread", required_argument, NULL, O_BOOT_SPREAD },
		{ "reboot", required_argument, NULL, O_REBOOT },
		{ "retry", required_argument, NULL, O_RETRY },
		{ "retransmit", required_argument, NULL, O_RETRANSMIT },
		{ "max-retransmit", required_argument, NULL, O_MAX_RETRANSMIT },
		{ "wait", required_argument, NULL, O_WAIT },
		{ "echo", required_argument, NULL, O_ECHO },
		{ "misbehave", required_argument, NULL, O_MISBEHAVE },
		{ "misbehave-count", required_argument, NULL, O_MISBEHAVE_COUNT },
		{ "expect", required_argument, NULL, O_EXPECT },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "hold", required_argument, NULL, O_HOLD },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "progress", required_argument, NULL, O_PROGRESS },
		{ "status-file", required_argument, NULL, O_STATUS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct fleet fleet;
	struct fleet *f = &fleet;
	struct fleet_options *o = &f->o;
	const char *ac_text = "127.0.0.1:5246";
	char err[256];
	int c;
	bool misbehave_count_set = false, lsc_keys_set = false;

	*o = (struct fleet_options){
		.count = 1, .concurrency = 64, .keypool = "build/keypool.pem",
		.mac_base = "02:00:00:00:00:01", .src_base = "127.1.0.1",
		.model = "AIR-AP3802I-B-K9", .cn_prefix = "ap3g3", .seed = 1,
		.reboot_ms = 1000, .retry_ms = 1000, .retransmit_ms = 3000, .max_retransmit = 5,
		.wait_ms = 20000, .timeout_s = 600, .progress_s = 5,
	};
	while ((c = getopt_long(argc, argv, "n:c:qh", longopts, NULL)) != -1) {
		bool ok = true;
		switch (c) {
		case O_AC: ac_text = optarg; break;
		case 'n': ok = parse_uint("--count", optarg, &o->count); break;
		case 'c': ok = parse_uint("--concurrency", optarg, &o->concurrency); break;
		case O_MAC_BASE: o->mac_base = optarg; break;
		case O_SRC_BASE: o->src_base = optarg; break;
		case O_MODEL: o->model = optarg; break;
		case O_CN_PREFIX: o->cn_prefix = optarg; break;
		case O_SEED: ok = parse_uint("--seed", optarg, &o->seed); break;
		case O_MFG_CERT: o->mfg_ca_cert = optarg; break;
		case O_MFG_KEY: o->mfg_ca_key = optarg; break;
		case O_AC_TRUST: o->ac_trust = optarg; break;
		case O_KEYPOOL: o->keypool = optarg; break;
		case O_LSC_KEYS:
			ok = parse_uint("--lsc-keys", optarg, &o->lsc_keys);
			lsc_keys_set = true;
			break;
		case O_CSR_DIR: o->csr_dir = optarg; break;
		case O_MIC: o->mic_kind = optarg; break;
		case O_BOOT_SPREAD: ok = parse_uint("--boot-spread", optarg, &o->boot_spread_ms); break;
		case O_REBOOT: ok = parse_uint("--reboot", optarg, &o->reboot_ms); break;
		case O_RETRY: ok = parse_uint("--retry", optarg, &o->retry_ms); break;
		case O_RETRANSMIT: ok = parse_uint("--retransmit", optarg, &o->retransmit_ms); break;
		case O_MAX_RETRANSMIT: ok = parse_uint("--max-retransmit", optarg, &o->max_retransmit); break;
		case O_WAIT: ok = parse_uint("--wait", optarg, &o->wait_ms); break;
		case O_ECHO: ok = parse_uint("--echo", optarg, &o->echo_override_s); break;
		case O_MISBEHAVE:
			if (strcmp(optarg, "other-mac") == 0)
				o->misbehave = AP_CSR_OTHER_MAC;
			else if (strcmp(optarg, "short-key") == 0)
				o->misbehave = AP_CSR_SHORT_KEY;
			else if (strcmp(optarg, "wrong-key-type") == 0)
				o->misbehave = AP_CSR_WRONG_KEY_TYPE;
			else {
				fprintf(stderr, "apsim: --misbehave: other-mac, short-key or wrong-key-type, not \"%s\"\n", optarg);
				ok = false;
			}
			break;
		case O_MISBEHAVE_COUNT:
			ok = parse_uint("--misbehave-count", optarg, &o->misbehave_count);
			misbehave_count_set = true;
			break;
		case O_EXPECT:
			if (strcmp(optarg, "run") && strcmp(optarg, "lsc") && strcmp(optarg, "mic")) {
				fprintf(stderr, "apsim: --expect: run, lsc or mic, not \"%s\"\n", optarg);
				ok = false;
			}
			o->expect = optarg;
			break;
		case O_TIMEOUT: ok = parse_uint("--timeout", optarg, &o->timeout_s); break;
		case O_HOLD: ok = parse_uint("--hold", optarg, &o->hold_s); break;
		case O_DURATION: ok = parse_uint("--duration", optarg, &o->duration_s); break;
		case O_PROGRESS: ok = parse_uint("--progress", optarg, &o->progress_s); break;
		case O_STATUS: o->status_file = optarg; break;
		case 'q': o->quiet = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (!ok)
			return 2;
	}
	if (optind != argc || o->mfg_ca_cert == NULL || o->mfg_ca_key == NULL || o->ac_trust == NULL) {
		fprintf(stderr, "apsim: --mfg-ca-cert, --mfg-ca-key and --ac-trust are required\n");
		usage(stderr);
		return 2;
	}
	if (o->mic_kind != NULL && strcmp(o->mic_kind, "untrusted") && strcmp(o->mic_kind, "expired")) {
		fprintf(stderr, "apsim: --mic: untrusted or expired, not \"%s\"\n", o->mic_kind);
		return 2;
	}
	if (o->count == 0 || o->concurrency == 0 || o->count > 100000) {
		fprintf(stderr, "apsim: --count 1..100000 and --concurrency >= 1\n");
		return 2;
	}
	if (o->misbehave != AP_BEHAVE && !misbehave_count_set)
		o->misbehave_count = o->count;
	if (!lsc_keys_set)
		o->lsc_keys = o->count;
	if (o->lsc_keys > 1000000) {
		fprintf(stderr, "apsim: --lsc-keys at most 1000000\n");
		return 2;
	}
	f->exit_status = o->expect != NULL ? 1 : 0;
	srand(o->seed);

	struct pki_error perr;
	struct capwap_error cerr;
	if (pki_init(&perr) != 0) {
		fprintf(stderr, "apsim: %s\n", perr.reason);
		return 1;
	}
	raise_fd_limit(o->count);
	f->base = event_base_new();
	struct capwap_dtls_config dc = { .role = CAPWAP_DTLS_CLIENT };
	f->dtls = capwap_dtls_ctx_new(&dc, &cerr);
	if (f->base == NULL || f->dtls == NULL) {
		fprintf(stderr, "apsim: cannot set up: %s\n", f->dtls == NULL ? cerr.reason : "event loop");
		return 1;
	}
	if (!parse_ac(f, ac_text, err, sizeof(err)) || !load_mfg_ca(f, err, sizeof(err)) ||
	    !load_ac_trust(f, err, sizeof(err)) || !identity_load_pool(f, o->lsc_keys, err, sizeof(err))) {
		fprintf(stderr, "apsim: %s\n", err);
		return 1;
	}
	f->aps = calloc(o->count, sizeof(*f->aps));
	if (f->aps == NULL) {
		fprintf(stderr, "apsim: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < o->count; i++) {
		if (!ap_init(f, &f->aps[i], i, err, sizeof(err))) {
			fprintf(stderr, "apsim: %s\n", err);
			return 1;
		}
	}
	f->started_ms = apsim_now_ms();
	f->started_cpu_s = apsim_cpu_s();
	f->rtt_since_ms = f->started_ms;
	for (unsigned i = 0; i < o->count; i++)
		ap_start(&f->aps[i], o->boot_spread_ms ? (unsigned)rand() % o->boot_spread_ms : 0);
	/* The status file appears as the fleet starts: a benchmark can tell
	 * set-up (key pool, MICs) from the run. */
	write_status(f);

	struct event *progress = NULL, *deadline = NULL;
	struct event *sigs[4];
	int signals[4] = { SIGINT, SIGTERM, SIGUSR1, SIGUSR2 };
	for (int i = 0; i < 4; i++) {
		sigs[i] = evsignal_new(f->base, signals[i], on_signal, f);
		evsignal_add(sigs[i], NULL);
	}
	signal(SIGPIPE, SIG_IGN);
	if (o->progress_s > 0 || o->status_file != NULL) {
		struct timeval tv = { .tv_sec = o->progress_s ? o->progress_s : 5 };
		progress = event_new(f->base, -1, EV_PERSIST, on_progress, f);
		event_add(progress, &tv);
	}
	if (o->duration_s != 0 || o->expect != NULL) {
		struct timeval tv = { .tv_sec = o->duration_s != 0 ? o->duration_s : o->timeout_s };
		deadline = evtimer_new(f->base, on_deadline, f);
		evtimer_add(deadline, &tv);
	}

	event_base_dispatch(f->base);

	if (!o->quiet || f->exit_status != 0)
		print_progress(f, f->exit_status == 0 ? "summary" : "FAILED");
	write_status(f);
	if (o->csr_dir != NULL)
		write_csrs(f);
	if (f->exit_status != 0 && o->expect != NULL) {
		unsigned shown = 0;
		for (unsigned i = 0; i < o->count && shown < 10; i++) {
			const struct ap *ap = &f->aps[i];
			if (ap_meets(f, ap))
				continue;
			char mac[18];
			capwap_mac_format(ap->mac, CAPWAP_MAC_COLON, mac);
			fprintf(stderr, "apsim: %s in %s on %s: %s\n", mac, ap_state_name(ap->state),
				ap->use_lsc ? "LSC" : "MIC", ap->last_error[0] ? ap->last_error : "(no error)");
			shown++;
		}
	}
	for (unsigned i = 0; i < o->count; i++)
		ap_free(&f->aps[i]);
	free(f->aps);
	for (int i = 0; i < 4; i++)
		event_free(sigs[i]);
	if (progress) event_free(progress);
	if (deadline) event_free(deadline);
	for (size_t i = 0; i < f->pool_len; i++)
		pki_key_free(f->pool[i]);
	free(f->pool);
	free(f->rtt_us);
	pki_key_free(f->mfg_key);
	pki_buf_free(&f->mfg_cert);
	capwap_dtls_trust_free(f->ac_trust);
	capwap_dtls_ctx_free(f->dtls);
	event_base_free(f->base);
	return f->exit_status;
}
