/*
 * ac.c — the CAPWAP control listener: UDP sockets, stateless Discovery,
 * admission of new DTLS peers (cookie exchange first, then the limits), and
 * demultiplexing of datagrams to AP sessions by source address.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/event.h>

#include "ctrl/lscd.h"
#include "ctrl/tpm.h"

#define RX_BUFFER          65536
#define RX_BURST           64      /* datagrams per readable event: others get a turn */
#define RATE_BUCKETS       4096
#define RATE_WINDOW_MS     1000
/* The handshake backlog (see there): at about 0.5 ms of CPU per handshake
 * flight, a full backlog is half a second of work, inside the peers' first
 * DTLS retransmission timeout (1 s), so what waits is still worth doing. */
#define BACKLOG_DGRAMS     1024
#define BACKLOG_BYTES      (1024 * 1024)
#define BACKLOG_PER_TURN   4

/* Per-source handshake admission: a fixed table, so a flood from many
 * sources costs no memory; a collision only shares a budget. */
struct source_rate {
	uint8_t addr[16];
	int64_t window_start_ms;
	unsigned count;
};

struct reply_target {
	struct ac_socket *sock;
	const struct sockaddr *peer;
	socklen_t peer_len;
	const struct sockaddr *local;
	socklen_t local_len;
};

static void session_send(void *arg, const uint8_t *dgram, size_t len);
static void session_recv(void *arg, const uint8_t *pkt, size_t len);
static void session_established(void *arg, const struct capwap_dtls_peer *peer);

static const struct capwap_dtls_ops session_ops = {
	.send = session_send,
	.recv = session_recv,
	.established = session_established,
};

int64_t lscd_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t lscd_wall_time(const struct lscd *d)
{
	return (int64_t)time(NULL) + d->time_offset_s;
}

/* ---- addresses ----------------------------------------------------------- */

void ac_addr_text(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(out, outlen, "%s:%u", host, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(out, outlen, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else {
		snprintf(out, outlen, "?");
	}
}

/* The address without the port, for per-source accounting. */
static void addr_host_key(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET)
		memcpy(key, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

static bool addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

static uint32_t fnv1a(const uint8_t *p, size_t n, uint32_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static size_t addr_bucket(const struct sockaddr *sa)
{
	uint8_t key[16];
	uint16_t port = sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
						 : ((const struct sockaddr_in6 *)sa)->sin6_port;
	addr_host_key(sa, key);
	return fnv1a((const uint8_t *)&port, 2, fnv1a(key, 16, 2166136261u)) % LSCD_HASH_BUCKETS;
}

static size_t mac_bucket(const uint8_t mac[6])
{
	return fnv1a(mac, 6, 2166136261u) % LSCD_HASH_BUCKETS;
}

/* ---- session tables ------------------------------------------------------ */

static struct wtp *find_by_addr(struct lscd *d, const struct sockaddr *peer)
{
	for (struct wtp *w = d->by_addr[addr_bucket(peer)]; w != NULL; w = w->addr_next)
		if (addr_equal((const struct sockaddr *)&w->peer, peer))
			return w;
	return NULL;
}

struct wtp *ac_find_by_mac(struct lscd *d, const uint8_t mac[6])
{
	for (struct wtp *w = d->by_mac[mac_bucket(mac)]; w != NULL; w = w->mac_next)
		if (memcmp(w->mac, mac, 6) == 0)
			return w;
	return NULL;
}

void ac_bind_mac(struct lscd *d, struct wtp *w)
{
	size_t b = mac_bucket(w->mac);
	w->mac_next = d->by_mac[b];
	d->by_mac[b] = w;
}

void ac_forget(struct lscd *d, struct wtp *w)
{
	struct wtp **pp;

	for (pp = &d->by_addr[addr_bucket((struct sockaddr *)&w->peer)]; *pp != NULL; pp = &(*pp)->addr_next)
		if (*pp == w) {
			*pp = w->addr_next;
			break;
		}
	if (w->identified)
		for (pp = &d->by_mac[mac_bucket(w->mac)]; *pp != NULL; pp = &(*pp)->mac_next)
			if (*pp == w) {
				*pp = w->mac_next;
				break;
			}
	TAILQ_REMOVE(&d->wtps, w, link);
	d->n_wtps--;
}

static void remember(struct lscd *d, struct wtp *w)
{
	size_t b = addr_bucket((struct sockaddr *)&w->peer);
	w->addr_next = d->by_addr[b];
	d->by_addr[b] = w;
	TAILQ_INSERT_TAIL(&d->wtps, w, link);
	d->n_wtps++;
}

/* ---- sending ------------------------------------------------------------- */

/* Reply from the address the peer used (RFC 5415 §3.3 port symmetry): with
 * a wildcard bind the kernel must be told which local address that was. */
static void send_from(struct ac_socket *sock, const struct sockaddr *peer, socklen_t peer_len,
		      const struct sockaddr *local, socklen_t local_len,
		      const uint8_t *data, size_t len)
{
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} control;
	struct msghdr msg = {
		.msg_name = (void *)peer, .msg_namelen = peer_len,
		.msg_iov = &iov, .msg_iovlen = 1,
	};

	memset(&control, 0, sizeof(control));
	if (local != NULL && local_len > 0) {
		msg.msg_control = control.buf;
		struct cmsghdr *cm;
		if (local->sa_family == AF_INET && sock->family == AF_INET) {
			struct in_pktinfo pi = { 0 };
			pi.ipi_spec_dst = ((const struct sockaddr_in *)local)->sin_addr;
			msg.msg_controllen = CMSG_SPACE(sizeof(pi));
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = IPPROTO_IP;
			cm->cmsg_type = IP_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		} else if (local->sa_family == AF_INET6 && sock->family == AF_INET6) {
			struct in6_pktinfo pi = { 0 };
			pi.ipi6_addr = ((const struct sockaddr_in6 *)local)->sin6_addr;
			msg.msg_controllen = CMSG_SPACE(sizeof(pi));
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = IPPROTO_IPV6;
			cm->cmsg_type = IPV6_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		}
	}
	if (sendmsg(sock->fd, &msg, 0) < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		char who[64];
		ac_addr_text(peer, who, sizeof(who));
		log_limited(&sock->d->lim_limits, lscd_now_ms(), CFG_LOG_WARNING,
			    "send to %s failed: %s", who, strerror(errno));
	}
}

void ac_send(struct wtp *w, const uint8_t *dgram, size_t len)
{
	send_from(w->sock, (struct sockaddr *)&w->peer, w->peer_len,
		  (struct sockaddr *)&w->local, w->local_len, dgram, len);
}

static void reply_send(void *arg, const uint8_t *dgram, size_t len)
{
	const struct reply_target *t = arg;
	send_from(t->sock, t->peer, t->peer_len, t->local, t->local_len, dgram, len);
}

/* ---- DTLS callbacks for sessions ---------------------------------------- */

static void session_send(void *arg, const uint8_t *dgram, size_t len)
{
	struct wtp *w = arg;
	if (w != NULL)
		ac_send(w, dgram, len);
}

static void session_recv(void *arg, const uint8_t *pkt, size_t len)
{
	wtp_on_packet(arg, pkt, len);
}

static void session_established(void *arg, const struct capwap_dtls_peer *peer)
{
	wtp_on_established(arg, peer);
}

/* ---- Discovery ----------------------------------------------------------- */

static void fill_ac_descriptor(struct lscd *d, struct capwap_ac_descriptor *ad)
{
	static const char hw[] = "lscd";
	static const char sw[] = LSCD_VERSION;

	memset(ad, 0, sizeof(*ad));
	ad->stations = 0;
	ad->station_limit = 0;
	ad->active_wtps = (uint16_t)(d->n_wtps > 0xffff ? 0xffff : d->n_wtps);
	ad->max_wtps = (uint16_t)(d->cfg->limits.max_sessions > 0xffff ? 0xffff : d->cfg->limits.max_sessions);
	ad->security = CAPWAP_AC_SECURITY_X509;
	ad->rmac = 2;
	ad->dtls_policy = CAPWAP_AC_CLEAR_DATA;
	ad->hardware_version.vendor = 0;
	ad->hardware_version.value = (struct capwap_bytes){ (const uint8_t *)hw, sizeof(hw) - 1 };
	ad->software_version.vendor = 0;
	ad->software_version.value = (struct capwap_bytes){ (const uint8_t *)sw, sizeof(sw) - 1 };
}

void ac_fill_addresses(struct lscd *d, const struct sockaddr *local, struct capwap_message *m,
		       bool with_local)
{
	uint16_t count = (uint16_t)(d->n_wtps > 0xffff ? 0xffff : d->n_wtps);
	if (local != NULL && local->sa_family == AF_INET6) {
		m->has_control_ipv6 = true;
		memcpy(m->control_ipv6.addr, &((const struct sockaddr_in6 *)local)->sin6_addr, 16);
		m->control_ipv6.wtp_count = count;
		if (with_local) {
			m->has_local_ipv6 = true;
			memcpy(m->local_ipv6, m->control_ipv6.addr, 16);
		}
	} else {
		m->has_control_ipv4 = true;
		if (local != NULL && local->sa_family == AF_INET)
			memcpy(m->control_ipv4.addr, &((const struct sockaddr_in *)local)->sin_addr, 4);
		m->control_ipv4.wtp_count = count;
		if (with_local) {
			m->has_local_ipv4 = true;
			memcpy(m->local_ipv4, m->control_ipv4.addr, 4);
		}
	}
}

void ac_fill_identity(struct lscd *d, struct capwap_message *m)
{
	m->has_ac_descriptor = true;
	fill_ac_descriptor(d, &m->ac_descriptor);
	m->has_ac_name = true;
	m->ac_name.ptr = (const uint8_t *)d->cfg->capwap.ac_name;
	m->ac_name.len = strlen(d->cfg->capwap.ac_name);
}

static void handle_discovery(struct ac_socket *sock, const struct sockaddr *peer, socklen_t peer_len,
			     const struct sockaddr *local, socklen_t local_len,
			     const uint8_t *buf, size_t len)
{
	struct lscd *d = sock->d;
	static struct capwap_message req, resp;
	struct capwap_error err;
	char who[64];

	if (capwap_decode(buf, len, &req, &err) != CAPWAP_OK) {
		d->stats.messages_malformed++;
		ac_addr_text(peer, who, sizeof(who));
		log_limited(&d->lim_malformed, lscd_now_ms(), CFG_LOG_DEBUG,
			    "clear-text packet from %s dropped: %s", who, err.reason);
		return;
	}
	/* RFC 5415 §4.1: in the clear, only Discovery is allowed. An existing
	 * session from this address is left alone (§1.11 spoofing rule). */
	if (req.type != CAPWAP_DISCOVERY_REQUEST) {
		d->stats.messages_malformed++;
		ac_addr_text(peer, who, sizeof(who));
		log_limited(&d->lim_malformed, lscd_now_ms(), CFG_LOG_DEBUG,
			    "clear-text %s from %s dropped: only Discovery may be sent in the clear",
			    capwap_msg_type_name(req.type), who);
		return;
	}
	d->stats.discovery_requests++;
	capwap_message_init(&resp, CAPWAP_DISCOVERY_RESPONSE, req.seq);
	ac_fill_identity(d, &resp);
	for (size_t i = 0; i < req.n_radio_info; i++)
		resp.radio_info[resp.n_radio_info++] = req.radio_info[i];
	ac_fill_addresses(d, local, &resp, false);

	struct capwap_writer wr;
	capwap_writer_init(&wr, d->scratch, d->cfg->capwap.max_message_size);
	if (capwap_encode(&wr, &resp, &err) != CAPWAP_OK) {
		log_error("cannot encode Discovery Response: %s", err.reason);
		return;
	}
	send_from(sock, peer, peer_len, local, local_len, wr.buf, wr.len);
	if (d->capture != NULL) {
		const struct sockaddr *me = local != NULL ? local : (const struct sockaddr *)&sock->addr.addr;
		capture_packet(d->capture, peer, me, buf, len);
		capture_packet(d->capture, me, peer, wr.buf, wr.len);
	}
	ac_addr_text(peer, who, sizeof(who));
	log_debug("Discovery Request from %s answered", who);
}

/* ---- admission ----------------------------------------------------------- */

static bool source_allowed(struct lscd *d, const struct sockaddr *peer, int64_t now)
{
	uint8_t key[16];
	addr_host_key(peer, key);
	struct source_rate *r = &d->rates[fnv1a(key, 16, 2166136261u) % RATE_BUCKETS];

	if (memcmp(r->addr, key, 16) != 0 || now - r->window_start_ms >= RATE_WINDOW_MS) {
		memcpy(r->addr, key, 16);
		r->window_start_ms = now;
		r->count = 0;
	}
	if (r->count >= d->cfg->limits.handshakes_per_source)
		return false;
	r->count++;
	return true;
}

static void handle_new_peer(struct ac_socket *sock, const struct sockaddr *peer, socklen_t peer_len,
			    const struct sockaddr *local, socklen_t local_len,
			    const uint8_t *buf, size_t len)
{
	struct lscd *d = sock->d;
	struct reply_target target = { sock, peer, peer_len, local, local_len };
	struct capwap_dtls_conn *conn = NULL;
	int64_t now = lscd_now_ms();
	char who[64];

	switch (capwap_dtls_accept(d->dtls, peer, peer_len, buf, len, reply_send, &target,
				   &session_ops, &conn)) {
	case CAPWAP_DTLS_ACCEPT_COOKIE:
		d->stats.dtls_cookies_sent++;
		return;
	case CAPWAP_DTLS_ACCEPT_DROP:
		return;
	case CAPWAP_DTLS_ACCEPT_NEW:
		break;
	}

	/* The peer proved it receives at its address; only now does it cost
	 * state, and only within the limits. */
	const char *refusal = NULL;
	struct log_limiter *lim = NULL;
	if (d->n_wtps >= d->cfg->limits.max_sessions) {
		refusal = "max_sessions reached";
		lim = &d->lim_max_sessions;
	} else if (!source_allowed(d, peer, now)) {
		refusal = "handshakes_per_source exceeded";
		lim = &d->lim_per_source;
	} else if (d->n_handshakes >= d->cfg->limits.max_handshakes) {
		refusal = "max_handshakes in progress reached";
		lim = &d->lim_max_handshakes;
	}
	if (refusal != NULL) {
		d->stats.dtls_refused_limit++;
		ac_addr_text(peer, who, sizeof(who));
		log_limited(lim, now, CFG_LOG_WARNING, "new DTLS peer %s refused: %s", who, refusal);
		capwap_dtls_free(conn);
		return;
	}
	struct wtp *w = wtp_new(d, sock, peer, peer_len, local, local_len, conn);
	if (w == NULL) {
		capwap_dtls_free(conn);
		return;
	}
	remember(d, w);
	d->stats.dtls_handshakes_started++;
	wtp_input(w, NULL, 0);          /* answer the ClientHello */
}

/* ---- the handshake backlog ------------------------------------------------ */

/*
 * Each flight of a DTLS handshake costs lscd a private-key operation (or at
 * least a certificate chain to decode and verify); a datagram of an
 * established session (an Echo, a CSR) costs next to nothing. Datagrams
 * from new peers and from sessions still in DTLS setup therefore wait in a
 * FIFO that an event of the lowest priority drains, a few per loop turn:
 * sessions in Run, timers and the CA's answers never queue behind a burst
 * of handshakes, such as every AP of a site coming back after a restart.
 *
 * The FIFO is bounded in datagrams and in bytes. A datagram the bound drops
 * is not lost for good: the peer's DTLS retransmission timer sends its
 * flight again (RFC 6347 §4.2.4), by which time the backlog has moved on.
 * The admission limits (max_sessions, max_handshakes, handshakes_per_source)
 * apply as before, when a datagram's turn comes.
 */

bool ac_backlog_init(struct ac_backlog *b, size_t max_dgrams, size_t max_bytes)
{
	memset(b, 0, sizeof(*b));
	b->ring = calloc(max_dgrams, sizeof(*b->ring));
	if (b->ring == NULL)
		return false;
	b->cap = max_dgrams;
	b->max_bytes = max_bytes;
	return true;
}

bool ac_backlog_push(struct ac_backlog *b, struct ac_socket *sock, const struct sockaddr *peer,
		     socklen_t peer_len, const struct sockaddr *local, socklen_t local_len,
		     const uint8_t *buf, size_t len)
{
	if (b->n >= b->cap || len > b->max_bytes - b->bytes ||
	    peer_len > sizeof(struct sockaddr_storage) ||
	    (local != NULL && local_len > sizeof(struct sockaddr_storage)))
		return false;
	struct ac_deferred *it = malloc(sizeof(*it) + len);
	if (it == NULL)
		return false;
	it->sock = sock;
	memcpy(&it->peer, peer, peer_len);
	it->peer_len = peer_len;
	it->local_len = local != NULL ? local_len : 0;
	if (it->local_len > 0)
		memcpy(&it->local, local, local_len);
	it->len = len;
	memcpy(it->data, buf, len);
	b->ring[(b->head + b->n) % b->cap] = it;
	b->n++;
	b->bytes += len;
	return true;
}

struct ac_deferred *ac_backlog_pop(struct ac_backlog *b)
{
	if (b->n == 0)
		return NULL;
	struct ac_deferred *it = b->ring[b->head];
	b->ring[b->head] = NULL;
	b->head = (b->head + 1) % b->cap;
	b->n--;
	b->bytes -= it->len;
	return it;
}

void ac_backlog_free(struct ac_backlog *b)
{
	struct ac_deferred *it;

	if (b->ev != NULL)
		event_free(b->ev);
	b->ev = NULL;
	if (b->ring != NULL)
		while ((it = ac_backlog_pop(b)) != NULL)
			free(it);
	free(b->ring);
	memset(b, 0, sizeof(*b));
}

/* A zero timeout rather than event_active(): an event activated from its
 * own callback would run again in the same pass, before the loop has
 * looked at the sockets; a timer fires only after the next poll. */
static void backlog_kick(struct ac_backlog *b)
{
	static const struct timeval now = { 0, 0 };
	if (!evtimer_pending(b->ev, NULL))
		evtimer_add(b->ev, &now);
}

static void on_backlog(evutil_socket_t fd, short what, void *arg)
{
	struct lscd *d = arg;
	struct ac_deferred *it;
	(void)fd;
	(void)what;

	for (int i = 0; i < BACKLOG_PER_TURN && (it = ac_backlog_pop(&d->backlog)) != NULL; i++) {
		const struct sockaddr *peer = (const struct sockaddr *)&it->peer;
		const struct sockaddr *local = it->local_len > 0 ? (const struct sockaddr *)&it->local : NULL;
		/* The session may have been set up, or torn down, meanwhile. */
		struct wtp *w = find_by_addr(d, peer);
		if (w != NULL)
			wtp_input(w, it->data, it->len);
		else
			handle_new_peer(it->sock, peer, it->peer_len, local, it->local_len, it->data, it->len);
		free(it);
	}
	if (d->backlog.n > 0)
		backlog_kick(&d->backlog);
}

static void defer(struct ac_socket *sock, const struct sockaddr *peer, socklen_t peer_len,
		  const struct sockaddr *local, socklen_t local_len, const uint8_t *buf, size_t len)
{
	struct lscd *d = sock->d;

	if (!ac_backlog_push(&d->backlog, sock, peer, peer_len, local, local_len, buf, len)) {
		char who[64];
		d->stats.dtls_backlog_dropped++;
		ac_addr_text(peer, who, sizeof(who));
		log_limited(&d->lim_backlog, lscd_now_ms(), CFG_LOG_WARNING,
			    "handshake backlog full (%zu datagrams, %zu bytes): datagram from %s dropped, "
			    "its DTLS retransmission will come again", d->backlog.n, d->backlog.bytes, who);
		return;
	}
	backlog_kick(&d->backlog);
}

/* ---- receiving ----------------------------------------------------------- */

static void dispatch(struct ac_socket *sock, const struct sockaddr *peer, socklen_t peer_len,
		     const struct sockaddr *local, socklen_t local_len,
		     const uint8_t *buf, size_t len)
{
	struct lscd *d = sock->d;
	char who[64];

	if (len < 1 || (buf[0] >> 4) != 0) {
		d->stats.messages_malformed++;
		ac_addr_text(peer, who, sizeof(who));
		log_limited(&d->lim_malformed, lscd_now_ms(), CFG_LOG_DEBUG,
			    "datagram from %s dropped: %zu bytes, preamble 0x%02x", who, len,
			    len ? buf[0] : 0);
		return;
	}
	switch (buf[0] & 0x0f) {
	case CAPWAP_PREAMBLE_HEADER:
		handle_discovery(sock, peer, peer_len, local, local_len, buf, len);
		return;
	case CAPWAP_PREAMBLE_DTLS: {
		struct wtp *w = find_by_addr(d, peer);
		if (w != NULL && w->state != WTP_DTLS_SETUP)
			wtp_input(w, buf, len);         /* established: cheap, at once */
		else
			defer(sock, peer, peer_len, local, local_len, buf, len);
		return;
	}
	default:
		d->stats.messages_malformed++;
		ac_addr_text(peer, who, sizeof(who));
		log_limited(&d->lim_malformed, lscd_now_ms(), CFG_LOG_DEBUG,
			    "datagram from %s dropped: preamble type %u", who, buf[0] & 0x0f);
	}
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct ac_socket *sock = arg;
	static uint8_t buf[RX_BUFFER];
	(void)what;

	for (int i = 0; i < RX_BURST; i++) {
		struct sockaddr_storage peer, local;
		socklen_t local_len = 0;
		union {
			char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
			struct cmsghdr align;
		} control;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr msg = {
			.msg_name = &peer, .msg_namelen = sizeof(peer),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
		};
		ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
		if (n < 0)
			return;         /* EAGAIN: drained */
		if (msg.msg_flags & MSG_TRUNC)
			continue;       /* larger than any CAPWAP datagram we accept */
		memset(&local, 0, sizeof(local));
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
			if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;
				memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
				struct sockaddr_in *sin = (struct sockaddr_in *)&local;
				sin->sin_family = AF_INET;
				sin->sin_addr = pi.ipi_addr;
				sin->sin_port = htons(CAPWAP_CONTROL_PORT);
				local_len = sizeof(*sin);
			} else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
				struct in6_pktinfo pi;
				memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
				struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&local;
				sin6->sin6_family = AF_INET6;
				sin6->sin6_addr = pi.ipi6_addr;
				sin6->sin6_port = htons(CAPWAP_CONTROL_PORT);
				local_len = sizeof(*sin6);
			}
		}
		/* The port the peer sent to is ours: record the one we listen on. */
		if (local_len > 0) {
			const struct sockaddr *bound = (const struct sockaddr *)&sock->addr.addr;
			uint16_t port = bound->sa_family == AF_INET ? ((const struct sockaddr_in *)bound)->sin_port
								     : ((const struct sockaddr_in6 *)bound)->sin6_port;
			if (local.ss_family == AF_INET)
				((struct sockaddr_in *)&local)->sin_port = port;
			else
				((struct sockaddr_in6 *)&local)->sin6_port = port;
		}
		dispatch(sock, (struct sockaddr *)&peer, msg.msg_namelen,
			 local_len ? (struct sockaddr *)&local : NULL, local_len, buf, (size_t)n);
	}
}

/* ---- lifecycle ----------------------------------------------------------- */

static struct capwap_dtls_ctx *dtls_for(struct lscd *d, const struct lscd_config *cfg,
				       char *err, size_t errlen)
{
	char cert[512], key[512], lsc_ca[512];
	struct capwap_error cerr;

	if (cfg_trustpoint(cfg, cfg->management_trustpoint) == NULL) {
		snprintf(err, errlen, "wireless management trustpoint \"%s\" is not configured",
			 cfg->management_trustpoint);
		return NULL;
	}
	tpm_identity_files(cfg, cfg->management_trustpoint, cert, sizeof(cert), key, sizeof(key));
	/* APs on an LSC are trusted through the provisioning trustpoint's CA,
	 * once that CA has been authenticated. */
	const char *lsc_ca_file = NULL;
	if (cfg->lsc.trustpoint[0] != '\0') {
		snprintf(lsc_ca, sizeof(lsc_ca), "%s/trustpoints/%s/ca.pem", cfg->state_dir, cfg->lsc.trustpoint);
		if (access(lsc_ca, R_OK) == 0)
			lsc_ca_file = lsc_ca;
	}
	struct capwap_dtls_config dc = {
		.role = CAPWAP_DTLS_SERVER,
		.cert_file = cert,
		.key_file = key,
		.mic_ca_file = cfg->mic_ca_bundle,
		.lsc_ca_file = lsc_ca_file,
		.mtu = cfg->capwap.mtu,
		.keylog = d->capture != NULL ? capture_keylog : NULL,
		.keylog_arg = d->capture,
		.time_offset_s = d->time_offset_s,   /* tests only: --time-offset */
	};
	struct capwap_dtls_ctx *ctx = capwap_dtls_ctx_new(&dc, &cerr);
	if (ctx == NULL)
		snprintf(err, errlen, "DTLS: %s", cerr.reason);
	return ctx;
}

bool ac_reload_dtls(struct lscd *d, const struct lscd_config *cfg, char *err, size_t errlen)
{
	struct capwap_dtls_ctx *ctx = dtls_for(d, cfg, err, errlen);
	if (ctx == NULL)
		return false;
	capwap_dtls_ctx_free(d->dtls);
	d->dtls = ctx;
	return true;
}

static bool open_socket(struct lscd *d, struct ac_socket *sock, const struct cfg_address *addr,
			char *err, size_t errlen)
{
	int on = 1;
	int family = addr->addr.ss_family;

	sock->d = d;
	sock->addr = *addr;
	sock->family = family;
	sock->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sock->fd < 0) {
		snprintf(err, errlen, "listen %s: socket: %s", addr->text, strerror(errno));
		return false;
	}
	setsockopt(sock->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (family == AF_INET6) {
		setsockopt(sock->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
		setsockopt(sock->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
	} else {
		setsockopt(sock->fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
	}
	/* Thousands of APs answer at once after a controller restart. */
	int rcvbuf = 4 * 1024 * 1024;
	setsockopt(sock->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(sock->fd, (const struct sockaddr *)&addr->addr, addr->len) < 0) {
		snprintf(err, errlen, "listen %s: bind: %s", addr->text, strerror(errno));
		close(sock->fd);
		sock->fd = -1;
		return false;
	}
	sock->ev = event_new(d->base, sock->fd, EV_READ | EV_PERSIST, on_readable, sock);
	if (sock->ev == NULL || event_add(sock->ev, NULL) != 0) {
		snprintf(err, errlen, "listen %s: cannot watch the socket", addr->text);
		return false;
	}
	return true;
}

bool ac_start(struct lscd *d, char *err, size_t errlen)
{
	d->rates = calloc(RATE_BUCKETS, sizeof(*d->rates));
	d->scratch = malloc(d->cfg->capwap.max_message_size);
	if (d->rates == NULL || d->scratch == NULL) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	d->dtls = dtls_for(d, d->cfg, err, errlen);
	if (d->dtls == NULL)
		return false;
	ac_backlog_free(&d->backlog);      /* a start that failed before */
	if (!ac_backlog_init(&d->backlog, BACKLOG_DGRAMS, BACKLOG_BYTES) ||
	    (d->backlog.ev = evtimer_new(d->base, on_backlog, d)) == NULL ||
	    event_priority_set(d->backlog.ev, LSCD_PRIO_BACKLOG) != 0) {
		snprintf(err, errlen, "cannot set up the handshake backlog");
		return false;
	}
	for (size_t i = 0; i < d->cfg->n_listen; i++) {
		if (!open_socket(d, &d->socks[i], &d->cfg->listen[i], err, errlen)) {
			d->n_socks = i;
			return false;
		}
		log_info("listening for CAPWAP control on %s", d->cfg->listen[i].text);
	}
	d->n_socks = d->cfg->n_listen;
	d->ac_running = true;
	return true;
}

void ac_stop(struct lscd *d)
{
	struct wtp *w;
	while ((w = TAILQ_FIRST(&d->wtps)) != NULL)
		wtp_teardown(w, "lscd is stopping");
	for (size_t i = 0; i < d->n_socks; i++) {
		if (d->socks[i].ev != NULL)
			event_free(d->socks[i].ev);
		if (d->socks[i].fd >= 0)
			close(d->socks[i].fd);
	}
	d->n_socks = 0;
	d->ac_running = false;
	ac_backlog_free(&d->backlog);
	capwap_dtls_ctx_free(d->dtls);
	d->dtls = NULL;
	free(d->rates);
	d->rates = NULL;
	free(d->scratch);
	d->scratch = NULL;
}
