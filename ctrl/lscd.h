/*
 * lscd.h — the daemon's shared state: one event loop, the CAPWAP listener,
 * the AP sessions, and the hooks between them and LSC provisioning.
 * Only ctrl/ (and its tests) include this.
 */
#ifndef LSCD_LSCD_H
#define LSCD_LSCD_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "capwap/capwap.h"
#include "ctrl/config.h"
#include "ctrl/log.h"

struct event;
struct event_base;
struct store;
struct lscd;
struct ctl;
struct metrics;

#define LSCD_VERSION "0.1.0"

/*
 * Event priorities (event_base_priority_init): every event keeps libevent's
 * default, the middle one; the handshake backlog (ac.c) runs only when
 * nothing else is ready. 0 is free for something that must go first.
 */
#define LSCD_PRIORITIES    3
#define LSCD_PRIO_BACKLOG  2

enum wtp_state {
	WTP_DTLS_SETUP,            /* handshake in progress */
	WTP_JOIN,                  /* DTLS up, waiting for the Join Request */
	WTP_CONFIGURE,             /* joined, waiting for Configuration Status */
	WTP_DATA_CHECK,            /* waiting for Change State Event */
	WTP_RUN,
	WTP_RESET,                 /* Reset Request sent */
	WTP_DEAD,                  /* torn down, about to be freed */
};

const char *wtp_state_name(enum wtp_state s);

struct ac_socket {
	struct lscd *d;
	int fd;
	int family;
	struct event *ev;
	struct cfg_address addr;
};

/* One AP's control session. */
struct wtp {
	struct lscd *d;
	TAILQ_ENTRY(wtp) link;         /* every session */
	struct wtp *addr_next;         /* hash chain by peer address */
	struct wtp *mac_next;          /* hash chain by MAC, once identified */
	struct ac_socket *sock;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	char peer_text[64];            /* "127.0.0.1:40000" */
	struct sockaddr_storage local; /* our address as the AP reached it */
	socklen_t local_len;
	struct capwap_dtls_conn *dtls;
	enum wtp_state state;
	bool in_handshake;             /* counted in lscd.n_handshakes */
	bool identified;               /* mac is valid (from the certificate) */
	uint8_t mac[6];
	struct capwap_dtls_peer cert;  /* what the handshake established */
	char name[65];
	char model[65];
	char serial[65];
	uint8_t session_id[16];
	struct capwap_reasm reasm;
	struct capwap_reliable rel;
	struct event *dtls_timer;      /* DTLS handshake retransmission */
	struct event *state_timer;     /* WaitDTLS, WaitJoin, ChangeStatePending, echo dead */
	struct event *retransmit_timer;/* our outstanding request */
	int64_t created_ms;            /* monotonic */
	int64_t run_since;             /* wall clock, seconds; 0 until Run */
	uint64_t rx_messages;
	uint64_t tx_messages;
	uint16_t next_frag_id;
	unsigned in_callback;          /* inside a DTLS call: teardown is deferred */
	char dead_reason[160];
	void *prov;                    /* provisioning state (ctrl/provision.c) */
};

TAILQ_HEAD(wtp_list, wtp);

struct lscd_stats {
	uint64_t discovery_requests;
	uint64_t dtls_cookies_sent;
	uint64_t dtls_handshakes_started;
	uint64_t dtls_handshakes_failed;
	uint64_t dtls_refused_limit;
	uint64_t joins;
	uint64_t joins_refused;
	uint64_t messages_malformed;
	uint64_t sessions_torn_down;
	uint64_t echo_timeouts;
	uint64_t dtls_backlog_dropped;     /* handshake datagrams the backlog bound dropped */
};

/* One datagram of a DTLS handshake waiting in the backlog (ac.c). */
struct ac_deferred {
	struct ac_socket *sock;
	struct sockaddr_storage peer;
	struct sockaddr_storage local;
	socklen_t peer_len;
	socklen_t local_len;           /* 0: the socket's own address */
	size_t len;
	uint8_t data[];
};

/* A FIFO of handshake datagrams, bounded in count and in bytes. */
struct ac_backlog {
	struct ac_deferred **ring;
	size_t cap;                    /* datagrams */
	size_t max_bytes;
	size_t head, n, bytes;
	struct event *ev;              /* drains a few per loop turn */
};

/* ---- hooks: what the state machine tells LSC provisioning -------------- */

struct lscd_hooks {
	void (*joined)(struct wtp *w);                 /* Join accepted */
	void (*run)(struct wtp *w);                    /* entered Run */
	/* Our request (Configuration Update) was answered / never answered. */
	void (*request_done)(struct wtp *w, const struct capwap_message *resp);
	void (*request_failed)(struct wtp *w);
	/* A WTP Event Request with an LSC payload; the response is already sent. */
	void (*event)(struct wtp *w, const struct capwap_message *m);
	void (*gone)(struct wtp *w, const char *reason);
	/* A DTLS peer failed before Join; cert names what it presented, if anything. */
	void (*handshake_failed)(struct lscd *d, const struct sockaddr *peer,
				 const struct capwap_dtls_peer *cert, const char *reason);
};

#define LSCD_HASH_BUCKETS 16384

struct lscd {
	struct event_base *base;
	char *config_path;
	struct lscd_config *cfg;
	struct store *store;
	struct capwap_dtls_ctx *dtls;
	size_t n_socks;
	struct ac_socket socks[CFG_MAX_LISTEN];
	struct wtp_list wtps;
	size_t n_wtps;
	size_t n_handshakes;
	struct wtp *by_addr[LSCD_HASH_BUCKETS];
	struct wtp *by_mac[LSCD_HASH_BUCKETS];
	struct source_rate *rates;     /* per-source handshake buckets (ac.c) */
	struct capture *capture;       /* debug pcap + key log, or NULL */
	struct lscd_stats stats;
	struct log_limiter lim_malformed;
	struct log_limiter lim_refused;
	struct log_limiter lim_limits;     /* send failures */
	/* one per admission refusal kind, so that each kind is reported */
	struct log_limiter lim_max_sessions;
	struct log_limiter lim_max_handshakes;
	struct log_limiter lim_per_source;
	struct log_limiter lim_backlog;
	struct ac_backlog backlog;     /* handshake datagrams waiting their turn (ac.c) */
	uint8_t *scratch;              /* one encoded message (max_message_size) */
	int64_t time_offset_s;         /* tests only: shifts the wall clock */
	struct lscd_hooks hooks;       /* all optional */
	void *prov;                    /* provisioning state (ctrl/provision.c) */
	struct tpm *tpm;               /* trustpoints (ctrl/tpm.c) */
	bool ac_running;               /* listener up (waits for the management identity) */
	struct ctl *ctl;               /* control socket (ctrl/control.c) */
	struct metrics *metrics;       /* HTTP /metrics and /status (ctrl/metrics.c), or NULL */
};

/* A trustpoint's CA or identity changed (authenticated, enrolled, renewed):
 * reload what depends on it (ctrl/daemon.c). */
void lscd_trustpoint_changed(struct lscd *d, const char *name);

/* Copy a string into a fixed buffer, cut to fit and always terminated:
 * for fields whose size the database or a show column fixes. */
static inline void lscd_copy(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- time ---------------------------------------------------------------- */

int64_t lscd_now_ms(void);                     /* monotonic */
int64_t lscd_wall_time(const struct lscd *d);  /* seconds since the epoch (+offset) */

/* ---- ac.c: sockets, discovery, accepting DTLS peers --------------------- */

bool ac_start(struct lscd *d, char *err, size_t errlen);
void ac_stop(struct lscd *d);
/* Rebuild the DTLS context (certificates or trust changed); sessions keep theirs. */
bool ac_reload_dtls(struct lscd *d, const struct lscd_config *cfg, char *err, size_t errlen);
void ac_send(struct wtp *w, const uint8_t *dgram, size_t len);
void ac_addr_text(const struct sockaddr *sa, char *out, size_t outlen);
/* AC Descriptor and AC Name, as every Discovery and Join Response carries. */
void ac_fill_identity(struct lscd *d, struct capwap_message *m);
/* CAPWAP Control (and, with_local, Local) address elements: where the AP reached us. */
void ac_fill_addresses(struct lscd *d, const struct sockaddr *local, struct capwap_message *m,
		       bool with_local);
struct wtp *ac_find_by_mac(struct lscd *d, const uint8_t mac[6]);
/* The handshake backlog's FIFO, apart from its event (for the unit tests).
 * push copies the datagram and returns false if a bound would be passed;
 * pop hands the oldest to the caller, who frees it. */
bool ac_backlog_init(struct ac_backlog *b, size_t max_dgrams, size_t max_bytes);
bool ac_backlog_push(struct ac_backlog *b, struct ac_socket *sock, const struct sockaddr *peer,
		     socklen_t peer_len, const struct sockaddr *local, socklen_t local_len,
		     const uint8_t *buf, size_t len);
struct ac_deferred *ac_backlog_pop(struct ac_backlog *b);
void ac_backlog_free(struct ac_backlog *b);
void ac_bind_mac(struct lscd *d, struct wtp *w);
void ac_forget(struct lscd *d, struct wtp *w);

/* ---- wtp.c: the per-AP state machine ------------------------------------- */

struct wtp *wtp_new(struct lscd *d, struct ac_socket *sock, const struct sockaddr *peer,
		    socklen_t peer_len, const struct sockaddr *local, socklen_t local_len,
		    struct capwap_dtls_conn *conn);
/* A datagram for this session (NULL: continue the handshake after accept). */
void wtp_input(struct wtp *w, const uint8_t *dgram, size_t len);
/* DTLS callbacks. */
void wtp_on_packet(struct wtp *w, const uint8_t *pkt, size_t len);
void wtp_on_established(struct wtp *w, const struct capwap_dtls_peer *peer);
/* Tear the session down: close DTLS, cancel timers, free. */
void wtp_teardown(struct wtp *w, const char *reason);
/* Send a request (Configuration Update, Reset) that is retransmitted until
 * answered; false if one is already outstanding or encoding failed. */
bool wtp_send_request(struct wtp *w, struct capwap_message *m);
bool wtp_request_reset(struct wtp *w);
bool wtp_busy(const struct wtp *w);

/* ---- capture.c: debug capture ------------------------------------------- */

struct capture *capture_open(const char *pcap_path, const char *keylog_path, char *err, size_t errlen);
void capture_close(struct capture *c);
/* A decrypted control packet, written as clear-text CAPWAP over UDP. */
void capture_packet(struct capture *c, const struct sockaddr *src, const struct sockaddr *dst,
		    const uint8_t *pkt, size_t len);
void capture_keylog(const char *line, void *arg);

#endif /* LSCD_LSCD_H */
