/*
 * apsim.h — a fleet of simulated access points in one process, on one event
 * loop, each behaving as a Cisco AP does towards its controller: Discovery,
 * DTLS with its MIC or LSC, Join, Configure, Run, Echo; LSC provisioning
 * (parameters → key and CSR → root and device certificates → reboot → join
 * with the LSC), and the fall back to the MIC after the configured number of
 * failed LSC joins.
 */
#ifndef LSCD_APSIM_H
#define LSCD_APSIM_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "capwap/capwap.h"
#include "pki/pki.h"

struct event;
struct event_base;
struct fleet;

enum ap_state {
	AP_IDLE,                   /* waiting to (re)start: boot delay, retry delay */
	AP_DISCOVERY,
	AP_DTLS,
	AP_JOIN,
	AP_CONFIGURE,
	AP_DATA_CHECK,
	AP_RUN,
	AP_STATE_COUNT,
};

enum ap_misbehave {
	AP_BEHAVE,                 /* a well-behaved AP */
	AP_CSR_OTHER_MAC,          /* CSR subject names another AP's MAC */
	AP_CSR_SHORT_KEY,          /* RSA-1024 key */
	AP_CSR_WRONG_KEY_TYPE,     /* EC key when RSA was asked, and vice versa */
};

/* A queued request of ours (one may be outstanding, RFC 5415 §4.5.2). */
#define AP_QUEUE 4

struct ap {
	struct fleet *f;
	unsigned index;
	uint8_t mac[6];
	char name[32];
	char serial[16];
	struct sockaddr_in src;
	int fd;
	struct event *ev_read;
	struct event *ev_state;    /* discovery retry, WaitDTLS, WaitJoin, restart delay */
	struct event *ev_dtls;     /* DTLS handshake retransmission */
	struct event *ev_retx;     /* our request's retransmission */
	struct event *ev_echo;
	enum ap_state state;
	enum ap_misbehave misbehave;
	bool holds_slot;           /* counted in fleet.in_setup */
	unsigned in_dtls;          /* inside a DTLS call: a restart waits for it */
	bool restart_pending;
	unsigned restart_delay_ms;

	/* identities */
	struct pki_key *mic_key;
	struct capwap_dtls_identity *mic_id;
	struct capwap_dtls_identity *lsc_id;   /* NULL until an LSC is installed */
	struct capwap_dtls_trust *lsc_trust;   /* the LSC CA root, with the LSC */
	char lsc_serial[64];
	int64_t lsc_not_after;
	bool use_lsc;
	unsigned join_attempts;    /* from the controller; 0 = never fall back */
	unsigned lsc_failures;     /* consecutive failed LSC joins */

	/* session */
	struct capwap_dtls_conn *dtls;
	struct capwap_reliable rel;
	struct capwap_reasm reasm;
	uint8_t session_id[16];
	uint16_t next_frag_id;
	unsigned echo_interval_s;
	size_t queue_len;
	struct capwap_message *queue[AP_QUEUE];

	/* provisioning in progress */
	struct pki_key *csr_key;
	uint32_t txid;
	struct pki_buf root_der;

	/* counters */
	unsigned joins_mic;
	unsigned joins_lsc;
	unsigned lsc_join_failures;  /* total */
	unsigned fallbacks;
	unsigned provisions;
	unsigned csrs_sent;
	unsigned enroll_failed;
	unsigned dtls_failures;
	unsigned sessions_lost;
	int64_t echo_sent_us;
	char last_error[160];

	/* timing, in ms since the fleet started (-1: not yet), for benchmarks */
	int64_t first_run_ms;      /* first time in Run, on any certificate */
	int64_t first_lsc_run_ms;  /* first time in Run on an LSC */
	struct pki_buf last_csr;   /* the last CSR sent (DER), for --csr-dir */
};

struct fleet_options {
	const char *ac_host;
	unsigned ac_port;
	unsigned count;
	unsigned concurrency;      /* APs in Discovery/DTLS/Join at once */
	const char *mfg_ca_cert;
	const char *mfg_ca_key;
	const char *ac_trust;      /* CAs an AP on its MIC trusts for the controller */
	const char *keypool;
	unsigned keypool_extra;
	unsigned lsc_keys;         /* distinct LSC keys wanted in the pool */
	const char *csr_dir;       /* at exit, write each AP's last CSR here */
	const char *mac_base;
	const char *src_base;      /* first source address, one per AP */
	const char *model;
	const char *cn_prefix;
	unsigned seed;
	unsigned boot_spread_ms;   /* APs start spread over this long */
	unsigned reboot_ms;
	unsigned retry_ms;
	unsigned retransmit_ms;
	unsigned max_retransmit;
	unsigned wait_ms;          /* WaitDTLS / WaitJoin equivalents */
	unsigned echo_override_s;
	enum ap_misbehave misbehave;
	unsigned misbehave_count;
	const char *mic_kind;      /* NULL, "untrusted", "expired" */
	const char *expect;        /* NULL, "run", "lsc", "mic" */
	unsigned timeout_s;
	unsigned hold_s;
	unsigned duration_s;
	unsigned progress_s;
	const char *status_file;
	bool quiet;
};

struct fleet {
	struct event_base *base;
	struct fleet_options o;
	struct sockaddr_in ac;
	struct capwap_dtls_ctx *dtls;
	struct capwap_dtls_trust *ac_trust;
	struct pki_key *mfg_key;
	struct pki_buf mfg_cert;
	struct pki_key **pool;
	size_t pool_len;
	size_t next_lsc_key;
	struct ap *aps;
	unsigned in_setup;         /* APs in Discovery/DTLS/Join */
	int64_t started_ms;
	int64_t done_ms;
	double started_cpu_s;      /* own CPU time when the fleet started */
	double done_cpu_s;         /* and when --expect was met */
	bool done;
	int exit_status;
	/* Echo round trips seen by every AP, in microseconds (for benchmarks),
	 * since the start or since the last SIGUSR2 (rtt_since_ms). */
	uint32_t *rtt_us;
	size_t rtt_n;
	size_t rtt_cap;
	int64_t rtt_since_ms;
};

/* ap.c */
bool ap_init(struct fleet *f, struct ap *ap, unsigned index, char *err, size_t errlen);
void ap_start(struct ap *ap, unsigned delay_ms);
void ap_free(struct ap *ap);
const char *ap_state_name(enum ap_state s);

/* identity.c */
bool identity_load_pool(struct fleet *f, size_t want, char *err, size_t errlen);
bool identity_make_mic(struct fleet *f, struct ap *ap, char *err, size_t errlen);
struct pki_key *identity_lsc_key(struct fleet *f, const struct pki_key_spec *spec,
				 char *err, size_t errlen);
/* An RSA-1024 key, for the AP that misbehaves with a short key. */
struct pki_key *identity_weak_key(char *err, size_t errlen);

int64_t apsim_now_ms(void);
int64_t apsim_now_us(void);
double apsim_cpu_s(void);
/* The fleet may have reached what was expected: check and maybe stop. */
void fleet_check_done(struct fleet *f);
/* Admission to the join phase: false if `concurrency` APs are already in it. */
bool fleet_setup_slot(struct fleet *f, struct ap *ap);
void fleet_setup_release(struct fleet *f, struct ap *ap);
void fleet_record_rtt(struct fleet *f, int64_t us);

#endif /* LSCD_APSIM_H */
