/*
 * wtp.c — one AP's control session on the AC side (RFC 5415 §2.3):
 * DTLS Setup → Join → Configure → Data Check → Run, Echo keepalive,
 * retransmission of our requests, duplicate requests answered from the
 * cache, and teardown of peers that stop answering.
 *
 * lscd serves the control plane only: no data channel is offered, so Data
 * Check completes with the Change State Event instead of a data keep-alive.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "ctrl/lscd.h"

#define REASSEMBLY_TIMEOUT_MS 5000
#define REASSEMBLY_FRAGMENTS  64
/* The AC gives up on a quiet AP after this many Echo intervals. */
#define ECHO_DEAD_FACTOR      2

static const char *const state_names[] = {
	[WTP_DTLS_SETUP] = "DTLS-setup",
	[WTP_JOIN] = "Join",
	[WTP_CONFIGURE] = "Configure",
	[WTP_DATA_CHECK] = "Data-check",
	[WTP_RUN] = "Run",
	[WTP_RESET] = "Reset",
	[WTP_DEAD] = "Dead",
};

const char *wtp_state_name(enum wtp_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

static const struct sockaddr *local_addr(const struct wtp *w)
{
	return w->local_len > 0 ? (const struct sockaddr *)&w->local
				: (const struct sockaddr *)&w->sock->addr.addr;
}

static void arm(struct event *ev, int64_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	evtimer_add(ev, &tv);
}

static void arm_state_timer(struct wtp *w, unsigned seconds)
{
	arm(w->state_timer, (int64_t)seconds * 1000);
}

static void who(const struct wtp *w, char *out, size_t outlen)
{
	if (w->identified) {
		char mac[18];
		capwap_mac_format(w->mac, CAPWAP_MAC_COLON, mac);
		snprintf(out, outlen, "ap %s (%s)", mac, w->peer_text);
	} else {
		snprintf(out, outlen, "peer %s", w->peer_text);
	}
}

/* ---- sending ------------------------------------------------------------- */

static void write_fragment(const uint8_t *frag, size_t len, void *arg)
{
	struct wtp *w = arg;
	if (w->state != WTP_DEAD)
		capwap_dtls_write(w->dtls, frag, len);
}

static bool transmit(struct wtp *w, const uint8_t *pkt, size_t len)
{
	struct capwap_error err;

	if (capwap_fragment(pkt, len, capwap_dtls_max_payload(w->dtls), w->next_frag_id++,
			    write_fragment, w, &err) != CAPWAP_OK) {
		log_error("cannot fragment a %zu-byte message for %s: %s", len, w->peer_text, err.reason);
		return false;
	}
	w->tx_messages++;
	capture_packet(w->d->capture, local_addr(w), (struct sockaddr *)&w->peer, pkt, len);
	return true;
}

static bool encode(struct wtp *w, const struct capwap_message *m, size_t *len)
{
	struct capwap_writer wr;
	struct capwap_error err;

	capwap_writer_init(&wr, w->d->scratch, w->d->cfg->capwap.max_message_size);
	if (capwap_encode(&wr, m, &err) != CAPWAP_OK) {
		log_error("cannot encode %s for %s: %s", capwap_msg_type_name(m->type),
			  w->peer_text, err.reason);
		return false;
	}
	*len = wr.len;
	return true;
}

static void respond(struct wtp *w, const struct capwap_message *m)
{
	size_t len;
	if (!encode(w, m, &len))
		return;
	capwap_reliable_store_response(&w->rel, m->seq, w->d->scratch, len);
	transmit(w, w->d->scratch, len);
}

static void respond_result(struct wtp *w, uint32_t request_type, uint8_t seq, uint32_t result)
{
	static struct capwap_message m;
	capwap_message_init(&m, capwap_response_type(request_type), seq);
	m.has_result_code = true;
	m.result_code = result;
	respond(w, &m);
}

static unsigned retransmit_delay_ms(const struct wtp *w)
{
	const struct cfg_capwap *c = &w->d->cfg->capwap;
	uint64_t ms = (uint64_t)c->retransmit_interval_s * 1000 << (w->rel.retransmits < 16 ? w->rel.retransmits : 16);
	uint64_t cap = (uint64_t)c->echo_interval_s * 1000 / 2;
	/* RFC 5415 §4.5.3: no retransmission interval beyond half the Echo interval. */
	return (unsigned)(ms < cap || cap == 0 ? ms : cap);
}

bool wtp_busy(const struct wtp *w)
{
	return w->rel.pending;
}

bool wtp_send_request(struct wtp *w, struct capwap_message *m)
{
	size_t len;

	if (w->state == WTP_DEAD || w->rel.pending)
		return false;
	m->seq = capwap_reliable_next_seq(&w->rel);
	if (!encode(w, m, &len))
		return false;
	if (capwap_reliable_start_request(&w->rel, m->type, m->seq, w->d->scratch, len) != CAPWAP_OK)
		return false;
	transmit(w, w->d->scratch, len);
	arm(w->retransmit_timer, retransmit_delay_ms(w));
	return true;
}

bool wtp_request_reset(struct wtp *w)
{
	static const char image[] = "lscd-reset";
	static struct capwap_message m;

	if (w->state != WTP_RUN)
		return false;
	capwap_message_init(&m, CAPWAP_RESET_REQUEST, 0);
	m.has_image_identifier = true;
	m.image_identifier.vendor = CAPWAP_VENDOR_CISCO;
	m.image_identifier.data = (struct capwap_bytes){ (const uint8_t *)image, sizeof(image) - 1 };
	if (!wtp_send_request(w, &m))
		return false;
	w->state = WTP_RESET;
	return true;
}

static void on_retransmit(evutil_socket_t fd, short what, void *arg)
{
	struct wtp *w = arg;
	char name[96];
	(void)fd;
	(void)what;

	if (!w->rel.pending)
		return;
	if (w->rel.retransmits >= w->d->cfg->capwap.max_retransmit) {
		who(w, name, sizeof(name));
		char reason[160];
		snprintf(reason, sizeof(reason), "no answer to %s (seq %u) after %u retransmissions",
			 capwap_msg_type_name(w->rel.pending_type), w->rel.pending_seq, w->rel.retransmits);
		if (w->d->hooks.request_failed != NULL)
			w->d->hooks.request_failed(w);
		wtp_teardown(w, reason);
		return;
	}
	w->rel.retransmits++;
	/* The same CAPWAP bytes, encrypted afresh: DTLS replay protection would
	 * drop a copied record (§1.13). */
	transmit(w, w->rel.pending_buf, w->rel.pending_len);
	arm(w->retransmit_timer, retransmit_delay_ms(w));
}

/* ---- message handlers ---------------------------------------------------- */

/* A Join Response carries its mandatory elements whatever the result. */
static void respond_join(struct wtp *w, const struct capwap_message *req, uint32_t result)
{
	static struct capwap_message resp;

	capwap_message_init(&resp, CAPWAP_JOIN_RESPONSE, req->seq);
	resp.has_result_code = true;
	resp.result_code = result;
	ac_fill_identity(w->d, &resp);
	for (size_t i = 0; i < req->n_radio_info; i++)
		resp.radio_info[resp.n_radio_info++] = req->radio_info[i];
	resp.has_ecn_support = true;
	resp.ecn_support = 0;
	ac_fill_addresses(w->d, local_addr(w), &resp, true);
	if (req->has_max_message_length) {
		resp.has_max_message_length = true;
		resp.max_message_length = (uint16_t)w->d->cfg->capwap.max_message_size;
	}
	respond(w, &resp);
}

static void handle_join(struct wtp *w, const struct capwap_message *req)
{
	if (w->state != WTP_JOIN) {
		respond_join(w, req, CAPWAP_RESULT_UNEXPECTED_STATE);
		return;
	}
	/* The certificate names the AP; a board MAC that disagrees is someone
	 * else's data (RFC 5415 §12: bind identity to the DTLS session). */
	if (req->board_data.has_base_mac && memcmp(req->board_data.base_mac, w->mac, 6) != 0) {
		char board[18];
		capwap_mac_format(req->board_data.base_mac, CAPWAP_MAC_COLON, board);
		log_ap(CFG_LOG_WARNING, w->mac, "Join refused: board data MAC %s differs from the certificate's",
		       board);
		w->d->stats.joins_refused++;
		respond_join(w, req, CAPWAP_RESULT_JOIN_INCORRECT_DATA);
		return;
	}
#define COPY_FIELD(dst, b) snprintf(dst, sizeof(dst), "%.*s", (int)((b).len < sizeof(dst) ? (b).len : sizeof(dst) - 1), (const char *)(b).ptr)
	COPY_FIELD(w->name, req->wtp_name);
	COPY_FIELD(w->model, req->board_data.model);
	COPY_FIELD(w->serial, req->board_data.serial);
#undef COPY_FIELD
	/* Names travel to logs and show output: keep them printable. */
	for (char *fields[] = { w->name, w->model, w->serial }, **f = fields; f < fields + 3; f++)
		for (char *p = *f; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	memcpy(w->session_id, req->session_id, sizeof(w->session_id));
	respond_join(w, req, CAPWAP_RESULT_SUCCESS);
	w->state = WTP_CONFIGURE;
	w->d->stats.joins++;
	arm_state_timer(w, w->d->cfg->capwap.wait_join_s);
	log_ap(CFG_LOG_INFO, w->mac, "joined from %s with its %s (name \"%s\", model %s, serial %s)",
	       w->peer_text, w->cert.cert_class == CAPWAP_CERT_LSC ? "LSC" : "MIC",
	       w->name, w->model, w->serial);
	if (w->d->hooks.joined != NULL)
		w->d->hooks.joined(w);
}

static void handle_config_status(struct wtp *w, const struct capwap_message *req)
{
	static struct capwap_message resp;
	const struct cfg_capwap *c = &w->d->cfg->capwap;

	if (w->state != WTP_CONFIGURE) {
		log_ap(CFG_LOG_DEBUG, w->mac, "Configuration Status Request in state %s ignored",
		       wtp_state_name(w->state));
		return;
	}
	capwap_message_init(&resp, CAPWAP_CONFIG_STATUS_RESPONSE, req->seq);
	resp.has_timers = true;
	resp.timers.discovery = (uint8_t)c->discovery_interval_s;
	resp.timers.echo_request = (uint8_t)c->echo_interval_s;
	resp.has_decrypt_error_period = true;
	resp.decrypt_error_period.radio_id = req->n_radio_admin > 0 ? req->radio_admin[0].radio_id : 0;
	resp.decrypt_error_period.interval = 120;
	resp.has_idle_timeout = true;
	resp.idle_timeout = 300;
	resp.has_wtp_fallback = true;
	resp.wtp_fallback = 1;
	const struct sockaddr *me = local_addr(w);
	if (me->sa_family == AF_INET) {
		resp.n_ac_ipv4 = 1;
		memcpy(resp.ac_ipv4[0], &((const struct sockaddr_in *)me)->sin_addr, 4);
	}
	respond(w, &resp);
	w->state = WTP_DATA_CHECK;
	arm_state_timer(w, c->change_state_pending_s);
}

static void enter_run(struct wtp *w)
{
	w->state = WTP_RUN;
	w->run_since = lscd_wall_time(w->d);
	arm_state_timer(w, w->d->cfg->capwap.echo_interval_s * ECHO_DEAD_FACTOR);
	log_ap(CFG_LOG_INFO, w->mac, "in Run with its %s",
	       w->cert.cert_class == CAPWAP_CERT_LSC ? "LSC" : "MIC");
	if (w->d->hooks.run != NULL)
		w->d->hooks.run(w);
}

static void handle_change_state(struct wtp *w, const struct capwap_message *req)
{
	static struct capwap_message resp;

	if (w->state != WTP_DATA_CHECK && w->state != WTP_RUN) {
		log_ap(CFG_LOG_DEBUG, w->mac, "Change State Event in state %s ignored",
		       wtp_state_name(w->state));
		return;
	}
	capwap_message_init(&resp, CAPWAP_CHANGE_STATE_RESPONSE, req->seq);
	respond(w, &resp);
	if (w->state == WTP_DATA_CHECK)
		enter_run(w);
}

static void handle_echo(struct wtp *w, const struct capwap_message *req)
{
	static struct capwap_message resp;

	if (w->state != WTP_RUN && w->state != WTP_RESET)
		return;
	capwap_message_init(&resp, CAPWAP_ECHO_RESPONSE, req->seq);
	respond(w, &resp);
}

static void handle_wtp_event(struct wtp *w, const struct capwap_message *req)
{
	static struct capwap_message resp;

	if (w->state != WTP_RUN)
		return;
	capwap_message_init(&resp, CAPWAP_WTP_EVENT_RESPONSE, req->seq);
	respond(w, &resp);
	if (req->has_lsc_cert && w->d->hooks.event != NULL)
		w->d->hooks.event(w, req);
}

static void handle_response(struct wtp *w, const struct capwap_message *m)
{
	if (!capwap_reliable_match_response(&w->rel, m->type, m->seq))
		return;         /* duplicate or stray (§1.13) */
	evtimer_del(w->retransmit_timer);
	if (m->type == CAPWAP_RESET_RESPONSE) {
		wtp_teardown(w, "reset by the controller");
		return;
	}
	if (w->d->hooks.request_done != NULL)
		w->d->hooks.request_done(w, m);
}

static void dispatch(struct wtp *w, const struct capwap_message *m)
{
	/* Any request from the AP proves it alive (RFC 5415 §4.7.7). */
	if (w->state == WTP_RUN && capwap_is_request(m->type))
		arm_state_timer(w, w->d->cfg->capwap.echo_interval_s * ECHO_DEAD_FACTOR);

	switch (m->type) {
	case CAPWAP_JOIN_REQUEST:
		handle_join(w, m);
		break;
	case CAPWAP_CONFIG_STATUS_REQUEST:
		handle_config_status(w, m);
		break;
	case CAPWAP_CHANGE_STATE_REQUEST:
		handle_change_state(w, m);
		break;
	case CAPWAP_ECHO_REQUEST:
		handle_echo(w, m);
		break;
	case CAPWAP_WTP_EVENT_REQUEST:
		handle_wtp_event(w, m);
		break;
	case CAPWAP_CONFIG_UPDATE_RESPONSE:
	case CAPWAP_RESET_RESPONSE:
		handle_response(w, m);
		break;
	default:
		if (capwap_is_request(m->type))
			respond_result(w, m->type, m->seq, CAPWAP_RESULT_UNRECOGNIZED_REQUEST);
		/* unknown responses are ignored (§1.5) */
		break;
	}
}

static void reject_malformed(struct wtp *w, const struct capwap_message *m,
			     const struct capwap_error *err)
{
	char name[96];

	w->d->stats.messages_malformed++;
	who(w, name, sizeof(name));
	if (m->ctrl_valid)
		log_limited(&w->d->lim_malformed, lscd_now_ms(), CFG_LOG_INFO,
			    "%s: message type %u (%s) dropped: %s", name, m->type,
			    capwap_msg_type_name(m->type), err->reason);
	else
		log_limited(&w->d->lim_malformed, lscd_now_ms(), CFG_LOG_INFO,
			    "%s: message dropped: %s", name, err->reason);
	if (!m->ctrl_valid || !capwap_is_request(m->type) || m->type == CAPWAP_ECHO_REQUEST)
		return;
	/* RFC 5415 §4.5: an unknown request, one missing a mandatory element,
	 * or one carrying an element we do not know, still gets an answer
	 * that says so. */
	if (err->status == CAPWAP_ERR_UNSUPPORTED)
		respond_result(w, m->type, m->seq, CAPWAP_RESULT_UNRECOGNIZED_REQUEST);
	else if (err->status == CAPWAP_ERR_MISSING)
		respond_result(w, m->type, m->seq, CAPWAP_RESULT_MISSING_ELEMENT);
	else if (err->status == CAPWAP_ERR_UNKNOWN_ELEMENT)
		respond_result(w, m->type, m->seq, CAPWAP_RESULT_UNRECOGNIZED_ELEMENT);
}

void wtp_on_packet(struct wtp *w, const uint8_t *pkt, size_t len)
{
	static struct capwap_message m;
	struct capwap_error err;
	const uint8_t *whole;
	size_t whole_len;

	if (w->state == WTP_DEAD || w->state == WTP_DTLS_SETUP)
		return;
	enum capwap_status st = capwap_reasm_add(&w->reasm, pkt, len, (uint64_t)lscd_now_ms(),
						 &whole, &whole_len, &err);
	if (st == CAPWAP_INCOMPLETE)
		return;
	if (st != CAPWAP_OK) {
		memset(&m, 0, sizeof(m));
		reject_malformed(w, &m, &err);
		return;
	}
	w->rx_messages++;
	capture_packet(w->d->capture, (struct sockaddr *)&w->peer, local_addr(w), whole, whole_len);
	st = capwap_decode(whole, whole_len, &m, &err);
	if (m.ctrl_valid && capwap_is_request(m.type)) {
		switch (capwap_reliable_classify(&w->rel, m.seq)) {
		case CAPWAP_RX_DUPLICATE:
			if (w->rel.last_response != NULL)
				transmit(w, w->rel.last_response, w->rel.last_response_len);
			return;
		case CAPWAP_RX_STALE:
			return;
		case CAPWAP_RX_NEW:
			break;
		}
	}
	if (st != CAPWAP_OK) {
		reject_malformed(w, &m, &err);
		return;
	}
	dispatch(w, &m);
}

void wtp_on_established(struct wtp *w, const struct capwap_dtls_peer *peer)
{
	struct lscd *d = w->d;

	w->cert = *peer;
	w->in_handshake = false;
	d->n_handshakes--;
	memcpy(w->mac, peer->mac, 6);
	/* An AP that rejoins (it rebooted, or came back through NAT with a new
	 * port) replaces its stale session. */
	struct wtp *old = ac_find_by_mac(d, w->mac);
	if (old != NULL && old != w)
		wtp_teardown(old, "replaced by a new session from the same AP");
	w->identified = true;
	ac_bind_mac(d, w);
	w->state = WTP_JOIN;
	arm_state_timer(w, d->cfg->capwap.wait_join_s);
	log_ap(CFG_LOG_DEBUG, w->mac, "DTLS established from %s with its %s (CN=%s, issuer %s, %s)",
	       w->peer_text, peer->cert_class == CAPWAP_CERT_LSC ? "LSC" : "MIC",
	       peer->subject_cn, peer->issuer, peer->cipher);
}

static void on_state_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct wtp *w = arg;
	char reason[160];
	(void)fd;
	(void)what;

	switch (w->state) {
	case WTP_DTLS_SETUP:
		snprintf(reason, sizeof(reason), "DTLS handshake not complete after %u s (WaitDTLS)",
			 w->d->cfg->capwap.wait_dtls_s);
		break;
	case WTP_JOIN:
		snprintf(reason, sizeof(reason), "no Join Request within %u s (WaitJoin)",
			 w->d->cfg->capwap.wait_join_s);
		break;
	case WTP_CONFIGURE:
		snprintf(reason, sizeof(reason), "no Configuration Status Request within %u s",
			 w->d->cfg->capwap.wait_join_s);
		break;
	case WTP_DATA_CHECK:
		snprintf(reason, sizeof(reason), "no Change State Event within %u s (ChangeStatePendingTimer)",
			 w->d->cfg->capwap.change_state_pending_s);
		break;
	case WTP_RUN:
		w->d->stats.echo_timeouts++;
		snprintf(reason, sizeof(reason), "no Echo Request for %u s: AP presumed dead",
			 w->d->cfg->capwap.echo_interval_s * ECHO_DEAD_FACTOR);
		break;
	default:
		snprintf(reason, sizeof(reason), "timed out in state %s", wtp_state_name(w->state));
		break;
	}
	wtp_teardown(w, reason);
}

static void on_dtls_timer(evutil_socket_t fd, short what, void *arg)
{
	struct wtp *w = arg;
	(void)fd;
	(void)what;

	w->in_callback++;
	enum capwap_dtls_result r = capwap_dtls_handle_timeout(w->dtls);
	w->in_callback--;
	if (w->state == WTP_DEAD)
		wtp_teardown(w, w->dead_reason);
	else if (r == CAPWAP_DTLS_CLOSED)
		wtp_teardown(w, capwap_dtls_error(w->dtls));
	else {
		int64_t ms = capwap_dtls_timeout_ms(w->dtls);
		if (ms >= 0)
			arm(w->dtls_timer, ms);
	}
}

/* ---- lifecycle ----------------------------------------------------------- */

struct wtp *wtp_new(struct lscd *d, struct ac_socket *sock, const struct sockaddr *peer,
		    socklen_t peer_len, const struct sockaddr *local, socklen_t local_len,
		    struct capwap_dtls_conn *conn)
{
	struct wtp *w = calloc(1, sizeof(*w));
	uint8_t first_seq;

	if (w == NULL)
		return NULL;
	w->d = d;
	w->sock = sock;
	memcpy(&w->peer, peer, peer_len);
	w->peer_len = peer_len;
	if (local != NULL) {
		memcpy(&w->local, local, local_len);
		w->local_len = local_len;
	}
	w->dtls = conn;
	w->state = WTP_DTLS_SETUP;
	w->in_handshake = true;
	d->n_handshakes++;
	w->created_ms = lscd_now_ms();
	w->dtls_timer = evtimer_new(d->base, on_dtls_timer, w);
	w->state_timer = evtimer_new(d->base, on_state_timeout, w);
	w->retransmit_timer = evtimer_new(d->base, on_retransmit, w);
	if (w->dtls_timer == NULL || w->state_timer == NULL || w->retransmit_timer == NULL) {
		w->dtls = NULL;          /* the caller frees it */
		d->n_handshakes--;
		if (w->dtls_timer) event_free(w->dtls_timer);
		if (w->state_timer) event_free(w->state_timer);
		if (w->retransmit_timer) event_free(w->retransmit_timer);
		free(w);
		return NULL;
	}
	ac_addr_text(peer, w->peer_text, sizeof(w->peer_text));
	struct capwap_reasm_limits lim = {
		.max_size = d->cfg->capwap.max_message_size,
		.max_fragments = REASSEMBLY_FRAGMENTS,
		.timeout_ms = REASSEMBLY_TIMEOUT_MS,
	};
	capwap_reasm_init(&w->reasm, &lim);
	RAND_bytes(&first_seq, 1);
	capwap_reliable_init(&w->rel, first_seq);
	capwap_dtls_set_arg(conn, w);
	arm_state_timer(w, d->cfg->capwap.wait_dtls_s);
	return w;
}

void wtp_input(struct wtp *w, const uint8_t *dgram, size_t len)
{
	bool was_up = capwap_dtls_established(w->dtls);

	w->in_callback++;
	enum capwap_dtls_result r = dgram != NULL ? capwap_dtls_input(w->dtls, dgram, len)
						  : capwap_dtls_start(w->dtls);
	w->in_callback--;
	if (w->state == WTP_DEAD) {
		wtp_teardown(w, w->dead_reason);
		return;
	}
	if (r == CAPWAP_DTLS_CLOSED) {
		wtp_teardown(w, capwap_dtls_error(w->dtls));
		return;
	}
	if (!was_up) {
		int64_t ms = capwap_dtls_timeout_ms(w->dtls);
		if (ms >= 0)
			arm(w->dtls_timer, ms);
		else
			evtimer_del(w->dtls_timer);
	}
}

void wtp_teardown(struct wtp *w, const char *reason)
{
	struct lscd *d = w->d;

	/* Called from inside a DTLS callback: finish when the call returns, so
	 * the session is not freed under the feet of its caller. */
	if (w->in_callback > 0) {
		if (w->state != WTP_DEAD) {
			snprintf(w->dead_reason, sizeof(w->dead_reason), "%s", reason);
			w->state = WTP_DEAD;
			capwap_dtls_close(w->dtls);
		}
		return;
	}
	if (w->identified) {
		log_ap(CFG_LOG_INFO, w->mac, "session from %s closed: %s", w->peer_text, reason);
		if (d->hooks.gone != NULL)
			d->hooks.gone(w, reason);
	} else {
		const struct capwap_dtls_peer *peer = capwap_dtls_peer_info(w->dtls);
		d->stats.dtls_handshakes_failed++;
		log_limited(&d->lim_refused, lscd_now_ms(), CFG_LOG_WARNING,
			    "DTLS peer %s%s%s refused before Join: %s", w->peer_text,
			    peer->subject_cn[0] ? " CN=" : "", peer->subject_cn, reason);
		if (d->hooks.handshake_failed != NULL)
			d->hooks.handshake_failed(d, (struct sockaddr *)&w->peer, peer, reason);
	}
	d->stats.sessions_torn_down++;
	w->state = WTP_DEAD;
	capwap_dtls_close(w->dtls);
	if (w->in_handshake)
		d->n_handshakes--;
	event_free(w->dtls_timer);
	event_free(w->state_timer);
	event_free(w->retransmit_timer);
	capwap_reasm_free(&w->reasm);
	capwap_reliable_free(&w->rel);
	ac_forget(d, w);
	capwap_dtls_free(w->dtls);
	free(w);
}
