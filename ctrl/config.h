/*
 * config.h — lscd.json: what the daemon is told to do.
 *
 * Loading goes defaults → per-key validators → cross-field checks → the
 * caller swaps the new config in; a config that fails any step is never
 * used. Every error names the file and either the line/column (JSON syntax)
 * or the JSON path of the field at fault, and all errors are reported, not
 * just the first. Unknown keys are errors.
 */
#ifndef LSCD_CONFIG_H
#define LSCD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CFG_NAME_MAX        64
#define CFG_MAX_LISTEN      8
#define CFG_MAX_TRUSTPOINTS 16
#define CFG_MAX_ERRORS      64

enum cfg_log_level { CFG_LOG_ERROR, CFG_LOG_WARNING, CFG_LOG_INFO, CFG_LOG_DEBUG };

enum cfg_lsc_mode {
	CFG_LSC_DISABLED,
	CFG_LSC_ALL,               /* "all" */
	CFG_LSC_PROVISION_LIST,    /* "provision-list" */
};

enum cfg_key_type { CFG_KEY_RSA, CFG_KEY_EC };

enum cfg_revocation { CFG_REVOCATION_NONE, CFG_REVOCATION_CRL };

/*
 * May the certificate lifecycle timers (identity renewal, CA rollover, AP
 * LSC renewal) trust the wall clock? IOS starts no PKI timer until the
 * calendar is authoritative; "ntp" asks the kernel whether it is
 * synchronised, true and false are the operator's word.
 */
enum cfg_clock_valid { CFG_CLOCK_NTP, CFG_CLOCK_TRUE, CFG_CLOCK_FALSE };

struct cfg_address {
	struct sockaddr_storage addr;
	socklen_t len;
	char text[64];             /* as written: "127.0.0.1:5246", "[::1]:5246" */
};

struct cfg_trustpoint {
	char name[CFG_NAME_MAX];
	/* Either static material from files (a MIC or self-signed certificate,
	 * as a controller ships with)… */
	char *certificate_file;    /* PEM, leaf then chain */
	char *private_key_file;
	/* …or enrolment over SCEP, material kept in <state_dir>/trustpoints/<name>/. */
	char *enrollment_url;      /* http://host[:port]/path */
	char *subject;             /* "C=US,O=Example,CN=wlc" */
	enum cfg_key_type key_type;
	unsigned key_size;         /* RSA 2048/3072/4096, EC 256/384 */
	char ca_fingerprint[65];   /* SHA-256 pin, 64 lower-case hex, "" = none */
	enum cfg_revocation revocation_check;
	unsigned auto_enroll_percent;  /* 0 = off, else 1..99 */
	bool regenerate;           /* new key pair on renewal */
	unsigned http_timeout_ms;  /* default 10000 */
	unsigned poll_interval_s;  /* first PENDING poll, doubling; default 60 */
	unsigned poll_retries;     /* default 10; 0 = forever */
	unsigned max_concurrent;   /* enrolments in flight at the CA; default 4 */
};

struct cfg_lsc_subject {
	char country[3];           /* exactly two letters, upper-cased */
	char state[129];
	char city[129];
	char organization[65];
	char department[65];
	char email[129];
};

struct cfg_lsc_provision {
	enum cfg_lsc_mode mode;
	char trustpoint[CFG_NAME_MAX];
	unsigned join_attempts;    /* LSC revert count sent to APs, 0..255; default 3 */
	enum cfg_key_type key_type;
	unsigned key_size;
	struct cfg_lsc_subject subject;
	/* Inline "provision_list" and "provision_list_file" merged, sorted,
	 * without duplicates. */
	size_t n_macs;
	uint8_t (*macs)[6];
	char *provision_list_file;
	unsigned max_reprovision;      /* re-provisions of one AP per window; default 2 */
	unsigned reprovision_window_s; /* default 86400 */
	unsigned renew_percent;        /* re-provision an AP's LSC at this share of its
					  lifetime; 0 = off; default 80 */
	unsigned renew_spread_s;       /* spread renewals over this long; default 3600 */
};

struct cfg_capwap {
	char ac_name[65];          /* default "lscd" */
	unsigned discovery_interval_s; /* MaxDiscoveryInterval in CAPWAP Timers, default 20 */
	unsigned echo_interval_s;  /* default 30 */
	unsigned retransmit_interval_s; /* default 3 */
	unsigned max_retransmit;   /* default 5 */
	unsigned wait_dtls_s;      /* default 60 */
	unsigned wait_join_s;      /* default 60 */
	unsigned change_state_pending_s; /* default 25 */
	unsigned data_check_s;     /* default 30 */
	unsigned mtu;              /* default 1400 */
	unsigned max_message_size; /* reassembly limit, >= 4096; default 16384 */
};

struct cfg_limits {
	unsigned max_sessions;     /* default 10000 */
	unsigned max_handshakes;   /* DTLS handshakes in progress; default 256 */
	unsigned handshakes_per_source; /* new handshakes per source address per second; default 20 */
};

struct lscd_config {
	char *path;
	size_t n_listen;
	struct cfg_address listen[CFG_MAX_LISTEN]; /* default 0.0.0.0:5246 */
	char *state_dir;           /* default /var/lib/lscd */
	char *database;            /* default <state_dir>/lscd.db */
	char *control_socket;      /* default /run/lscd/lscd.sock */
	enum cfg_log_level log_level;
	enum cfg_clock_valid clock_valid; /* "clock_valid": "ntp" (default), true, false */
	char management_trustpoint[CFG_NAME_MAX]; /* "wireless_management_trustpoint" */
	char *mic_ca_bundle;       /* PEM bundle of manufacturer CAs */
	size_t n_trustpoints;
	struct cfg_trustpoint trustpoints[CFG_MAX_TRUSTPOINTS];
	struct cfg_lsc_provision lsc;
	struct cfg_capwap capwap;
	struct cfg_limits limits;
	bool metrics_enabled;
	struct cfg_address metrics_listen; /* "metrics": {"listen": "127.0.0.1:9246"} */
	char *capture_pcap;        /* "debug": {"capture_pcap": …}: off when NULL */
	char *dtls_keylog;         /* "debug": {"dtls_keylog": …} */
};

struct cfg_errors {
	size_t n;
	char msg[CFG_MAX_ERRORS][256]; /* "lscd.json: lsc_provision.subject.country: must be two letters, got \"USA\"" */
};

/* Load and validate path. Returns NULL and fills errs on any error. */
struct lscd_config *cfg_load(const char *path, struct cfg_errors *errs);

/*
 * Load and validate a document held in memory (fuzzing, tests, a config
 * sent over the control socket): errors are named after name, relative
 * paths resolve against dir. No file permission check is made.
 */
struct lscd_config *cfg_load_buffer(const char *name, const char *dir, const char *buf,
				    size_t len, struct cfg_errors *errs);
void cfg_free(struct lscd_config *cfg);

/* The trustpoint called name, or NULL. */
const struct cfg_trustpoint *cfg_trustpoint(const struct lscd_config *cfg, const char *name);

/* Is mac on the provision list (binary search)? */
bool cfg_mac_listed(const struct lscd_config *cfg, const uint8_t mac[6]);

/* Does provisioning apply to this AP (mode all, or listed)? */
bool cfg_lsc_applies(const struct lscd_config *cfg, const uint8_t mac[6]);

/*
 * Parse a provision-list file: CSV or text, one MAC per line or per field,
 * '#' comments, any common notation. Appends to *macs and *n (realloc'd, not
 * sorted); every bad entry is reported with file:line:field. Returns false
 * if any was bad. Unlike the other calls it appends to errs, so the caller
 * sets errs->n first.
 */
bool cfg_parse_mac_file(const char *path, uint8_t (**macs)[6], size_t *n, struct cfg_errors *errs);

/*
 * Operator changes that persist in the config file: the file is read again,
 * changed, written to a temporary file and renamed over the original, so a
 * crash leaves either the old or the new file. The running config is not
 * touched; the caller reloads. Each returns false with a reason in errs.
 */
bool cfg_file_add_mac(const char *path, const uint8_t mac[6], bool *changed, struct cfg_errors *errs);
/* The same for n MACs in one rewrite; added[k] says whether macs[k] was new.
 * All or nothing: a MAC that cannot be listed refuses the whole batch. */
bool cfg_file_add_macs(const char *path, const uint8_t (*macs)[6], size_t n, bool *added,
		       struct cfg_errors *errs);
bool cfg_file_remove_mac(const char *path, const uint8_t mac[6], bool *changed, struct cfg_errors *errs);
bool cfg_file_set_mode(const char *path, enum cfg_lsc_mode mode, struct cfg_errors *errs);

const char *cfg_lsc_mode_name(enum cfg_lsc_mode mode);

#endif /* LSCD_CONFIG_H */
