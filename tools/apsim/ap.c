/*
 * ap.c — one simulated AP: the WTP side of RFC 5415 plus the AP side of
 * lscd's LSC payloads (spec §3.3), as a Cisco AP behaves.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <openssl/rand.h>

#include "tools/apsim/apsim.h"

#define DISCOVERY_RETRY_MS 1000
#define SLOT_RETRY_MS      50
#define RX_BUFFER          65536

static const char *const state_names[] = {
	[AP_IDLE] = "idle",
	[AP_DISCOVERY] = "discovery",
	[AP_DTLS] = "dtls",
	[AP_JOIN] = "join",
	[AP_CONFIGURE] = "configure",
	[AP_DATA_CHECK] = "data-check",
	[AP_RUN] = "run",
};

const char *ap_state_name(enum ap_state s)
{
	return (unsigned)s < AP_STATE_COUNT ? state_names[s] : "?";
}

static void ap_restart(struct ap *ap, unsigned delay_ms, const char *why);

static void arm(struct event *ev, int64_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	evtimer_add(ev, &tv);
}

static void note(struct ap *ap, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct ap *ap, const char *fmt, ...)
{
	va_list va;
	va_start(va, fmt);
	vsnprintf(ap->last_error, sizeof(ap->last_error), fmt, va);
	va_end(va);
}

/* ---- sending ------------------------------------------------------------- */

static void send_datagram(void *arg, const uint8_t *dgram, size_t len)
{
	struct ap *ap = arg;
	if (sendto(ap->fd, dgram, len, 0, (struct sockaddr *)&ap->f->ac, sizeof(ap->f->ac)) < 0 &&
	    errno != EAGAIN)
		note(ap, "send: %s", strerror(errno));
}

static void write_fragment(const uint8_t *frag, size_t len, void *arg)
{
	struct ap *ap = arg;
	if (ap->dtls != NULL)
		capwap_dtls_write(ap->dtls, frag, len);
}

static bool encode(const struct capwap_message *m, uint8_t *buf, size_t cap, size_t *len)
{
	struct capwap_writer w;
	struct capwap_error err;
	capwap_writer_init(&w, buf, cap);
	if (capwap_encode(&w, m, &err) != CAPWAP_OK) {
		fprintf(stderr, "apsim: cannot encode %s: %s\n", capwap_msg_type_name(m->type), err.reason);
		return false;
	}
	*len = w.len;
	return true;
}

static void transmit(struct ap *ap, const uint8_t *pkt, size_t len)
{
	struct capwap_error err;
	if (ap->dtls == NULL)
		return;
	capwap_fragment(pkt, len, capwap_dtls_max_payload(ap->dtls), ap->next_frag_id++,
			write_fragment, ap, &err);
}

static void respond(struct ap *ap, const struct capwap_message *m)
{
	static uint8_t buf[16384];
	size_t len;
	if (!encode(m, buf, sizeof(buf), &len))
		return;
	capwap_reliable_store_response(&ap->rel, m->seq, buf, len);
	transmit(ap, buf, len);
}

static void respond_result(struct ap *ap, uint32_t req_type, uint8_t seq, uint32_t result)
{
	static struct capwap_message m;
	capwap_message_init(&m, capwap_response_type(req_type), seq);
	m.has_result_code = true;
	m.result_code = result;
	respond(ap, &m);
}

static unsigned retx_delay(const struct ap *ap)
{
	unsigned shift = ap->rel.retransmits < 8 ? ap->rel.retransmits : 8;
	return ap->f->o.retransmit_ms << shift;
}

/* Send the next queued request if none is outstanding. The queue owns the
 * messages (and what their views point into: see queue_request). */
static void pump_queue(struct ap *ap)
{
	static uint8_t buf[16384];
	size_t len;

	if (ap->rel.pending || ap->queue_len == 0 || ap->dtls == NULL)
		return;
	struct capwap_message *m = ap->queue[0];
	memmove(ap->queue, ap->queue + 1, --ap->queue_len * sizeof(ap->queue[0]));
	m->seq = capwap_reliable_next_seq(&ap->rel);
	bool ok = encode(m, buf, sizeof(buf), &len) &&
		  capwap_reliable_start_request(&ap->rel, m->type, m->seq, buf, len) == CAPWAP_OK;
	free(m);
	if (!ok)
		return;
	if (ap->rel.pending_type == CAPWAP_ECHO_REQUEST)
		ap->echo_sent_us = apsim_now_us();
	transmit(ap, buf, len);
	arm(ap->ev_retx, retx_delay(ap));
}

/* Queue a request. extra bytes (a CSR) are copied behind the message so
 * its views stay valid until it is sent. */
static struct capwap_message *new_request(uint32_t type, size_t extra)
{
	struct capwap_message *m = calloc(1, sizeof(*m) + extra);
	if (m != NULL)
		capwap_message_init(m, type, 0);
	return m;
}

static void queue_request(struct ap *ap, struct capwap_message *m)
{
	if (m == NULL)
		return;
	if (ap->queue_len == AP_QUEUE) {
		free(m);
		return;
	}
	ap->queue[ap->queue_len++] = m;
	pump_queue(ap);
}

static void clear_queue(struct ap *ap)
{
	for (size_t i = 0; i < ap->queue_len; i++)
		free(ap->queue[i]);
	ap->queue_len = 0;
}

/* ---- session teardown and restart --------------------------------------- */

static void drop_session(struct ap *ap, bool close_notify)
{
	if (ap->dtls != NULL) {
		if (close_notify)
			capwap_dtls_close(ap->dtls);
		capwap_dtls_free(ap->dtls);
		ap->dtls = NULL;
	}
	evtimer_del(ap->ev_dtls);
	evtimer_del(ap->ev_retx);
	evtimer_del(ap->ev_echo);
	evtimer_del(ap->ev_state);
	clear_queue(ap);
	/* A new session starts sequence numbers afresh on both sides. */
	uint8_t seq = ap->rel.next_seq;
	capwap_reliable_free(&ap->rel);
	capwap_reliable_init(&ap->rel, seq);
	capwap_reasm_free(&ap->reasm);
	struct capwap_reasm_limits lim = { 16384, 64, 5000 };
	capwap_reasm_init(&ap->reasm, &lim);
	fleet_setup_release(ap->f, ap);
}

static void ap_restart(struct ap *ap, unsigned delay_ms, const char *why)
{
	if (why != NULL)
		note(ap, "%s", why);
	/* From inside a DTLS callback the connection is still in use: finish
	 * when the call returns (finish_dtls_call). */
	if (ap->in_dtls > 0) {
		ap->restart_pending = true;
		ap->restart_delay_ms = delay_ms;
		return;
	}
	ap->restart_pending = false;
	drop_session(ap, ap->state == AP_RUN);
	ap->state = AP_IDLE;
	arm(ap->ev_state, delay_ms);
	fleet_check_done(ap->f);
}

/* An LSC join that did not complete: count it, and after join_attempts of
 * them go back to the MIC, as the AP's "LSC revert count" says. */
static void lsc_join_failed(struct ap *ap, const char *why)
{
	if (!ap->use_lsc)
		return;
	ap->lsc_failures++;
	ap->lsc_join_failures++;
	if (ap->join_attempts > 0 && ap->lsc_failures >= ap->join_attempts) {
		ap->use_lsc = false;
		ap->fallbacks++;
		ap->lsc_failures = 0;
		capwap_dtls_identity_free(ap->lsc_id);
		capwap_dtls_trust_free(ap->lsc_trust);
		ap->lsc_id = NULL;
		ap->lsc_trust = NULL;
		ap->lsc_serial[0] = '\0';
		note(ap, "fell back to the MIC after %u failed LSC joins (last: %s)", ap->join_attempts, why);
	}
}

/* ---- requests the AP makes ---------------------------------------------- */

static void fill_identity_elements(struct ap *ap, struct capwap_message *m)
{
	static const char hw[] = "apsim-hw-1.0", sw[] = "17.9.4.27", boot[] = "1.1.2.4";
	const char *model = ap->f->o.model;

	m->has_board_data = true;
	m->board_data.vendor = CAPWAP_VENDOR_CISCO;
	m->board_data.model = (struct capwap_bytes){ (const uint8_t *)model, strlen(model) };
	m->board_data.serial = (struct capwap_bytes){ (const uint8_t *)ap->serial, strlen(ap->serial) };
	m->board_data.has_base_mac = true;
	memcpy(m->board_data.base_mac, ap->mac, 6);
	m->has_wtp_descriptor = true;
	m->wtp_descriptor.max_radios = 2;
	m->wtp_descriptor.radios_in_use = 2;
	m->wtp_descriptor.n_encrypt = 1;
	m->wtp_descriptor.encrypt[0].wbid = CAPWAP_WBID_IEEE80211;
	m->wtp_descriptor.encrypt[0].capabilities = 0;
	m->wtp_descriptor.hardware_version = (struct capwap_descriptor_info){ CAPWAP_VENDOR_CISCO, { (const uint8_t *)hw, sizeof(hw) - 1 } };
	m->wtp_descriptor.software_version = (struct capwap_descriptor_info){ CAPWAP_VENDOR_CISCO, { (const uint8_t *)sw, sizeof(sw) - 1 } };
	m->wtp_descriptor.boot_version = (struct capwap_descriptor_info){ CAPWAP_VENDOR_CISCO, { (const uint8_t *)boot, sizeof(boot) - 1 } };
	m->has_frame_tunnel_mode = true;
	m->frame_tunnel_mode = 0x04;
	m->has_mac_type = true;
	m->mac_type = 1;
	m->n_radio_info = 2;
	m->radio_info[0] = (struct capwap_radio_info){ 1, 0x0d };    /* b/g/n */
	m->radio_info[1] = (struct capwap_radio_info){ 2, 0x0a };    /* a/n */
}

static void send_discovery(struct ap *ap)
{
	static struct capwap_message m;
	uint8_t buf[1024];
	size_t len;

	capwap_message_init(&m, CAPWAP_DISCOVERY_REQUEST, ap->rel.next_seq);
	m.has_discovery_type = true;
	m.discovery_type = 1;       /* static configuration */
	fill_identity_elements(ap, &m);
	if (encode(&m, buf, sizeof(buf), &len))
		send_datagram(ap, buf, len);
	arm(ap->ev_state, DISCOVERY_RETRY_MS);
}

static void send_join(struct ap *ap)
{
	static const char location[] = "apsim lab";
	struct capwap_message *m = new_request(CAPWAP_JOIN_REQUEST, 0);
	if (m == NULL)
		return;
	m->has_location = true;
	m->location = (struct capwap_bytes){ (const uint8_t *)location, sizeof(location) - 1 };
	fill_identity_elements(ap, m);
	m->has_wtp_name = true;
	m->wtp_name = (struct capwap_bytes){ (const uint8_t *)ap->name, strlen(ap->name) };
	RAND_bytes(ap->session_id, sizeof(ap->session_id));
	m->has_session_id = true;
	memcpy(m->session_id, ap->session_id, 16);
	m->has_ecn_support = true;
	m->ecn_support = 0;
	m->has_local_ipv4 = true;
	memcpy(m->local_ipv4, &ap->src.sin_addr, 4);
	m->has_max_message_length = true;
	m->max_message_length = 16384;
	queue_request(ap, m);
	arm(ap->ev_state, ap->f->o.wait_ms);
}

static void send_config_status(struct ap *ap)
{
	struct capwap_message *m = new_request(CAPWAP_CONFIG_STATUS_REQUEST, 0);
	static const char ac_name[] = "lscd";
	if (m == NULL)
		return;
	m->has_ac_name = true;
	m->ac_name = (struct capwap_bytes){ (const uint8_t *)ac_name, sizeof(ac_name) - 1 };
	m->n_radio_admin = 3;
	m->radio_admin[0] = (struct capwap_radio_state){ 0, 1, 0 };
	m->radio_admin[1] = (struct capwap_radio_state){ 1, 1, 0 };
	m->radio_admin[2] = (struct capwap_radio_state){ 2, 1, 0 };
	m->has_statistics_timer = true;
	m->statistics_timer = 120;
	m->has_reboot_stats = true;
	m->reboot_stats.reboot_count = (uint16_t)(ap->joins_mic + ap->joins_lsc);
	queue_request(ap, m);
}

static void send_change_state(struct ap *ap)
{
	struct capwap_message *m = new_request(CAPWAP_CHANGE_STATE_REQUEST, 0);
	if (m == NULL)
		return;
	m->n_radio_oper = 2;
	m->radio_oper[0] = (struct capwap_radio_state){ 1, 1, 0 };
	m->radio_oper[1] = (struct capwap_radio_state){ 2, 1, 0 };
	m->has_result_code = true;
	m->result_code = CAPWAP_RESULT_SUCCESS;
	queue_request(ap, m);
}

static void on_echo_timer(evutil_socket_t fd, short what, void *arg)
{
	struct ap *ap = arg;
	(void)fd;
	(void)what;
	if (ap->state != AP_RUN)
		return;
	queue_request(ap, new_request(CAPWAP_ECHO_REQUEST, 0));
	arm(ap->ev_echo, (int64_t)ap->echo_interval_s * 1000);
}

/* ---- LSC provisioning, the AP's side ------------------------------------ */

static void build_and_send_csr(struct ap *ap, const struct capwap_lsc_params *p)
{
	struct pki_subject subj = { 0 };
	struct pki_buf der = { 0 };
	struct pki_error perr;
	char err[160], mac[18];
	uint8_t cn_mac[6];

	struct pki_key_spec spec = { PKI_KEY_RSA, p->key_size };
	if (p->key_algo == CAPWAP_LSC_KEY_EC_P256)
		spec = (struct pki_key_spec){ PKI_KEY_EC, 256 };
	else if (p->key_algo == CAPWAP_LSC_KEY_EC_P384)
		spec = (struct pki_key_spec){ PKI_KEY_EC, 384 };
	if (ap->misbehave == AP_CSR_SHORT_KEY)
		spec = (struct pki_key_spec){ PKI_KEY_RSA, 1024 };
	else if (ap->misbehave == AP_CSR_WRONG_KEY_TYPE)
		spec = spec.type == PKI_KEY_RSA ? (struct pki_key_spec){ PKI_KEY_EC, 256 }
						: (struct pki_key_spec){ PKI_KEY_RSA, 2048 };

	pki_key_free(ap->csr_key);
	ap->csr_key = spec.bits == 1024 ? identity_weak_key(err, sizeof(err))
					: identity_lsc_key(ap->f, &spec, err, sizeof(err));
	if (ap->csr_key == NULL) {
		note(ap, "LSC key: %s", err);
		return;
	}
#define FIELD(dst, b) snprintf(dst, sizeof(dst), "%.*s", (int)((b).len < sizeof(dst) ? (b).len : sizeof(dst) - 1), (const char *)(b).ptr)
	FIELD(subj.c, p->country);
	FIELD(subj.st, p->state);
	FIELD(subj.l, p->city);
	FIELD(subj.o, p->organization);
	FIELD(subj.ou, p->department);
	FIELD(subj.email, p->email);
#undef FIELD
	memcpy(cn_mac, ap->mac, 6);
	if (ap->misbehave == AP_CSR_OTHER_MAC)
		cn_mac[5] ^= 0x01;      /* its neighbour's MAC */
	capwap_mac_format(cn_mac, CAPWAP_MAC_BARE_UPPER, mac);
	snprintf(subj.cn, sizeof(subj.cn), "%s-%s", ap->f->o.cn_prefix, mac);
	if (pki_csr_build(ap->csr_key, &subj, NULL, &der, &perr) != 0) {
		note(ap, "CSR: %s", perr.reason);
		return;
	}
	if (ap->f->o.csr_dir != NULL) {
		pki_buf_free(&ap->last_csr);
		ap->last_csr.data = malloc(der.len);
		if (ap->last_csr.data != NULL) {
			memcpy(ap->last_csr.data, der.data, der.len);
			ap->last_csr.len = der.len;
		}
	}
	struct capwap_message *m = new_request(CAPWAP_WTP_EVENT_REQUEST, der.len);
	if (m != NULL) {
		uint8_t *copy = (uint8_t *)(m + 1);
		memcpy(copy, der.data, der.len);
		m->has_lsc_cert = true;
		m->lsc_cert.version = 1;
		m->lsc_cert.op = CAPWAP_LSC_OP_CSR;
		m->lsc_cert.txid = p->txid;
		m->lsc_cert.object = (struct capwap_bytes){ copy, der.len };
		ap->csrs_sent++;
		queue_request(ap, m);
	}
	pki_buf_free(&der);
}

static uint32_t check_root(struct ap *ap, const struct capwap_lsc_cert *c)
{
	struct pki_cert_info info;
	struct pki_error perr;

	if (pki_cert_inspect(c->object.ptr, c->object.len, &info, &perr) != 0) {
		note(ap, "root certificate unreadable: %s", perr.reason);
		return CAPWAP_RESULT_CONFIG_FAILURE;
	}
	if (!info.is_ca) {
		note(ap, "root certificate %s is not a CA", info.subject.line);
		return CAPWAP_RESULT_CONFIG_FAILURE;
	}
	if (c->chain_index == 0) {
		pki_buf_free(&ap->root_der);
		ap->root_der.data = malloc(c->object.len);
		if (ap->root_der.data == NULL)
			return CAPWAP_RESULT_CONFIG_FAILURE;
		memcpy(ap->root_der.data, c->object.ptr, c->object.len);
		ap->root_der.len = c->object.len;
	}
	return CAPWAP_RESULT_SUCCESS;
}

/* Install the device certificate: it must carry the key we generated and
 * chain to the root just received; then reboot onto it. */
static uint32_t install_lsc(struct ap *ap, const struct capwap_lsc_cert *c)
{
	struct pki_error perr;
	struct pki_cert_info info;
	struct pki_buf der = { (uint8_t *)c->object.ptr, c->object.len };
	struct pki_buf root_pem = { 0 };
	struct capwap_error cerr;
	char err[160];

	if (ap->csr_key == NULL || ap->root_der.len == 0) {
		note(ap, "device certificate without a CSR or a root");
		return CAPWAP_RESULT_CONFIG_FAILURE;
	}
	if (pki_cert_inspect(der.data, der.len, &info, &perr) != 0 ||
	    pki_cert_key_equals(der.data, der.len, ap->csr_key, &perr) != 1 ||
	    pki_cert_verify_issued_by(der.data, der.len, ap->root_der.data, ap->root_der.len, &perr) != 0) {
		note(ap, "device certificate refused: %s", perr.reason[0] ? perr.reason : "key or issuer mismatch");
		return CAPWAP_RESULT_CONFIG_FAILURE;
	}
	struct capwap_dtls_identity *id = NULL;
	struct capwap_dtls_trust *trust = NULL;
	struct pki_buf cert_pem = { 0 }, key_pem = { 0 };
	if (pki_der_to_pem(der.data, der.len, "CERTIFICATE", &cert_pem, &perr) == 0 &&
	    pki_key_to_pem(ap->csr_key, &key_pem, &perr) == 0 &&
	    pki_der_to_pem(ap->root_der.data, ap->root_der.len, "CERTIFICATE", &root_pem, &perr) == 0) {
		id = capwap_dtls_identity_new((const char *)cert_pem.data, cert_pem.len,
					      (const char *)key_pem.data, key_pem.len, &cerr);
		trust = capwap_dtls_trust_new((const char *)root_pem.data, root_pem.len, &cerr);
	}
	pki_buf_free(&cert_pem);
	pki_buf_free(&key_pem);
	pki_buf_free(&root_pem);
	if (id == NULL || trust == NULL) {
		capwap_dtls_identity_free(id);
		capwap_dtls_trust_free(trust);
		snprintf(err, sizeof(err), "cannot install the LSC");
		note(ap, "%s", err);
		return CAPWAP_RESULT_CONFIG_FAILURE;
	}
	capwap_dtls_identity_free(ap->lsc_id);
	capwap_dtls_trust_free(ap->lsc_trust);
	ap->lsc_id = id;
	ap->lsc_trust = trust;
	snprintf(ap->lsc_serial, sizeof(ap->lsc_serial), "%.63s", info.serial_hex);
	ap->lsc_not_after = info.not_after;
	ap->use_lsc = true;
	ap->lsc_failures = 0;
	ap->provisions++;
	return CAPWAP_RESULT_SUCCESS;
}

static void on_reboot(struct ap *ap)
{
	/* "Reset Reason - LSC enabled": the AP reboots and joins with the LSC. */
	ap_restart(ap, ap->f->o.reboot_ms, NULL);
}

static void handle_config_update(struct ap *ap, const struct capwap_message *m)
{
	bool reboot = false;
	uint32_t result = CAPWAP_RESULT_SUCCESS;

	if (m->has_lsc_params) {
		ap->join_attempts = m->lsc_params.join_attempts;
		ap->txid = m->lsc_params.txid;
		respond_result(ap, m->type, m->seq, CAPWAP_RESULT_SUCCESS);
		build_and_send_csr(ap, &m->lsc_params);
		return;
	}
	if (m->has_lsc_cert) {
		switch (m->lsc_cert.op) {
		case CAPWAP_LSC_OP_ENROLL_PENDING:
			break;
		case CAPWAP_LSC_OP_ROOT_CERT:
			result = check_root(ap, &m->lsc_cert);
			break;
		case CAPWAP_LSC_OP_DEVICE_CERT:
			result = install_lsc(ap, &m->lsc_cert);
			reboot = result == CAPWAP_RESULT_SUCCESS;
			break;
		case CAPWAP_LSC_OP_ENROLL_FAILED:
			ap->enroll_failed++;
			note(ap, "controller reports enrolment failed (reason %u)", m->lsc_cert.fail_reason);
			break;
		default:
			result = CAPWAP_RESULT_CONFIG_FAILURE;
		}
	}
	respond_result(ap, m->type, m->seq, result);
	if (reboot)
		on_reboot(ap);
}

/* ---- receiving ----------------------------------------------------------- */

static void handle_response(struct ap *ap, const struct capwap_message *m)
{
	if (!capwap_reliable_match_response(&ap->rel, m->type, m->seq))
		return;
	evtimer_del(ap->ev_retx);
	switch (m->type) {
	case CAPWAP_JOIN_RESPONSE:
		if (m->result_code != CAPWAP_RESULT_SUCCESS) {
			char why[64];
			snprintf(why, sizeof(why), "Join refused with result %u", m->result_code);
			if (ap->use_lsc)
				lsc_join_failed(ap, why);
			ap_restart(ap, ap->f->o.retry_ms, why);
			return;
		}
		if (ap->use_lsc) {
			ap->joins_lsc++;
			ap->lsc_failures = 0;
		} else {
			ap->joins_mic++;
		}
		ap->state = AP_CONFIGURE;
		send_config_status(ap);
		break;
	case CAPWAP_CONFIG_STATUS_RESPONSE:
		if (m->has_timers && m->timers.echo_request > 0 && ap->f->o.echo_override_s == 0)
			ap->echo_interval_s = m->timers.echo_request;
		ap->state = AP_DATA_CHECK;
		send_change_state(ap);
		break;
	case CAPWAP_CHANGE_STATE_RESPONSE:
		ap->state = AP_RUN;
		if (ap->first_run_ms < 0)
			ap->first_run_ms = apsim_now_ms() - ap->f->started_ms;
		if (ap->use_lsc && ap->first_lsc_run_ms < 0)
			ap->first_lsc_run_ms = apsim_now_ms() - ap->f->started_ms;
		evtimer_del(ap->ev_state);
		fleet_setup_release(ap->f, ap);
		arm(ap->ev_echo, (int64_t)ap->echo_interval_s * 1000);
		ap->last_error[0] = '\0';
		fleet_check_done(ap->f);
		break;
	case CAPWAP_ECHO_RESPONSE:
		fleet_record_rtt(ap->f, apsim_now_us() - ap->echo_sent_us);
		break;
	default:
		break;
	}
	pump_queue(ap);
}

static void on_packet(void *arg, const uint8_t *pkt, size_t len)
{
	struct ap *ap = arg;
	static struct capwap_message m;
	struct capwap_error err;
	const uint8_t *whole;
	size_t whole_len;

	if (capwap_reasm_add(&ap->reasm, pkt, len, (uint64_t)apsim_now_ms(), &whole, &whole_len, &err) != CAPWAP_OK)
		return;
	enum capwap_status st = capwap_decode(whole, whole_len, &m, &err);
	if (m.ctrl_valid && capwap_is_request(m.type)) {
		enum capwap_rx_class rx = capwap_reliable_classify(&ap->rel, m.seq);
		if (rx == CAPWAP_RX_DUPLICATE && ap->rel.last_response != NULL) {
			transmit(ap, ap->rel.last_response, ap->rel.last_response_len);
			return;
		}
		if (rx != CAPWAP_RX_NEW)
			return;
	}
	if (st != CAPWAP_OK) {
		note(ap, "bad %s from the controller: %s", capwap_msg_type_name(m.type), err.reason);
		if (m.ctrl_valid && m.type == CAPWAP_CONFIG_UPDATE_REQUEST)
			respond_result(ap, m.type, m.seq, st == CAPWAP_ERR_MISSING ? CAPWAP_RESULT_MISSING_ELEMENT
										: CAPWAP_RESULT_UNRECOGNIZED_ELEMENT);
		return;
	}
	switch (m.type) {
	case CAPWAP_CONFIG_UPDATE_REQUEST:
		if (ap->state == AP_RUN)
			handle_config_update(ap, &m);
		else
			respond_result(ap, m.type, m.seq, CAPWAP_RESULT_UNEXPECTED_STATE);
		break;
	case CAPWAP_RESET_REQUEST:
		respond_result(ap, m.type, m.seq, CAPWAP_RESULT_SUCCESS);
		ap_restart(ap, ap->f->o.reboot_ms, "reset by the controller");
		break;
	default:
		if (capwap_is_request(m.type))
			respond_result(ap, m.type, m.seq, CAPWAP_RESULT_UNRECOGNIZED_REQUEST);
		else
			handle_response(ap, &m);
	}
}

static void on_established(void *arg, const struct capwap_dtls_peer *peer)
{
	struct ap *ap = arg;
	(void)peer;
	ap->state = AP_JOIN;
	evtimer_del(ap->ev_dtls);
	send_join(ap);
}

static const struct capwap_dtls_ops dtls_ops = {
	.send = send_datagram,
	.recv = on_packet,
	.established = on_established,
};

/* Run one DTLS call with restarts deferred; true if the AP restarted. */
static bool finish_dtls_call(struct ap *ap)
{
	ap->in_dtls--;
	if (ap->in_dtls == 0 && ap->restart_pending) {
		ap_restart(ap, ap->restart_delay_ms, NULL);
		return true;
	}
	return false;
}

static void rearm_dtls(struct ap *ap)
{
	int64_t ms = ap->dtls != NULL ? capwap_dtls_timeout_ms(ap->dtls) : -1;
	if (ms >= 0)
		arm(ap->ev_dtls, ms);
}

static void dtls_failed(struct ap *ap)
{
	char why[200];
	snprintf(why, sizeof(why), "DTLS with %s failed: %s", ap->use_lsc ? "LSC" : "MIC",
		 ap->dtls != NULL ? capwap_dtls_error(ap->dtls) : "?");
	ap->dtls_failures++;
	lsc_join_failed(ap, why);
	ap_restart(ap, ap->f->o.retry_ms, why);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct ap *ap = arg;
	static uint8_t buf[RX_BUFFER];
	(void)what;

	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			return;
		if (buf[0] == CAPWAP_PREAMBLE_HEADER) {
			static struct capwap_message m;
			struct capwap_error err;
			if (ap->state == AP_DISCOVERY &&
			    capwap_decode(buf, (size_t)n, &m, &err) == CAPWAP_OK &&
			    m.type == CAPWAP_DISCOVERY_RESPONSE) {
				struct capwap_error cerr;
				ap->state = AP_DTLS;
				ap->dtls = capwap_dtls_connect(ap->f->dtls, ap->use_lsc ? ap->lsc_id : ap->mic_id,
							       ap->use_lsc ? ap->lsc_trust : ap->f->ac_trust,
							       &dtls_ops, ap, &cerr);
				if (ap->dtls == NULL) {
					ap_restart(ap, ap->f->o.retry_ms, cerr.reason);
					return;
				}
				arm(ap->ev_state, ap->f->o.wait_ms);
				ap->in_dtls++;
				enum capwap_dtls_result r = capwap_dtls_start(ap->dtls);
				if (finish_dtls_call(ap))
					return;
				if (r == CAPWAP_DTLS_CLOSED) {
					dtls_failed(ap);
					return;
				}
				rearm_dtls(ap);
			}
			continue;
		}
		if (ap->dtls == NULL)
			continue;
		bool was_up = capwap_dtls_established(ap->dtls);
		ap->in_dtls++;
		enum capwap_dtls_result r = capwap_dtls_input(ap->dtls, buf, (size_t)n);
		if (finish_dtls_call(ap))
			return;
		if (r == CAPWAP_DTLS_CLOSED) {
			if (!was_up && !capwap_dtls_established(ap->dtls)) {
				dtls_failed(ap);
			} else {
				ap->sessions_lost++;
				ap_restart(ap, ap->f->o.retry_ms, capwap_dtls_error(ap->dtls));
			}
			return;
		}
		if (!was_up)
			rearm_dtls(ap);
		if (ap->dtls == NULL || ap->state == AP_IDLE)
			return;     /* rebooted while handling the packet */
	}
}

/* ---- timers -------------------------------------------------------------- */

static void on_dtls_timer(evutil_socket_t fd, short what, void *arg)
{
	struct ap *ap = arg;
	(void)fd;
	(void)what;
	if (ap->dtls == NULL)
		return;
	ap->in_dtls++;
	enum capwap_dtls_result r = capwap_dtls_handle_timeout(ap->dtls);
	if (finish_dtls_call(ap))
		return;
	if (r == CAPWAP_DTLS_CLOSED) {
		dtls_failed(ap);
		return;
	}
	rearm_dtls(ap);
}

static void on_retx(evutil_socket_t fd, short what, void *arg)
{
	struct ap *ap = arg;
	(void)fd;
	(void)what;
	if (!ap->rel.pending)
		return;
	if (ap->rel.retransmits >= ap->f->o.max_retransmit) {
		char why[96];
		snprintf(why, sizeof(why), "no answer to %s: controller lost",
			 capwap_msg_type_name(ap->rel.pending_type));
		if (ap->state == AP_JOIN)
			lsc_join_failed(ap, why);
		ap->sessions_lost++;
		ap_restart(ap, ap->f->o.retry_ms, why);
		return;
	}
	ap->rel.retransmits++;
	transmit(ap, ap->rel.pending_buf, ap->rel.pending_len);
	arm(ap->ev_retx, retx_delay(ap));
}

static void on_state_timer(evutil_socket_t fd, short what, void *arg)
{
	struct ap *ap = arg;
	(void)fd;
	(void)what;

	switch (ap->state) {
	case AP_IDLE:
		if (!fleet_setup_slot(ap->f, ap)) {
			arm(ap->ev_state, SLOT_RETRY_MS);
			return;
		}
		ap->state = AP_DISCOVERY;
		send_discovery(ap);
		break;
	case AP_DISCOVERY:
		send_discovery(ap);
		break;
	case AP_DTLS:
		ap->dtls_failures++;
		lsc_join_failed(ap, "DTLS handshake timed out");
		ap_restart(ap, ap->f->o.retry_ms, "DTLS handshake timed out");
		break;
	case AP_JOIN:
	case AP_CONFIGURE:
	case AP_DATA_CHECK:
		lsc_join_failed(ap, "join did not complete");
		ap_restart(ap, ap->f->o.retry_ms, "join did not complete");
		break;
	default:
		break;
	}
}

/* ---- lifecycle ----------------------------------------------------------- */

bool ap_init(struct fleet *f, struct ap *ap, unsigned index, char *err, size_t errlen)
{
	uint8_t base[6];
	char dotted[18];

	memset(ap, 0, sizeof(*ap));
	ap->f = f;
	ap->index = index;
	ap->fd = -1;
	if (!capwap_mac_parse(f->o.mac_base, strlen(f->o.mac_base), base)) {
		snprintf(err, errlen, "--mac-base %s: not a MAC address", f->o.mac_base);
		return false;
	}
	uint64_t v = 0;
	for (int i = 0; i < 6; i++)
		v = v << 8 | base[i];
	v += index;
	for (int i = 5; i >= 0; i--, v >>= 8)
		ap->mac[i] = (uint8_t)v;
	capwap_mac_format(ap->mac, CAPWAP_MAC_DOTTED, dotted);
	snprintf(ap->name, sizeof(ap->name), "AP%s", dotted);
	snprintf(ap->serial, sizeof(ap->serial), "FGL%08u", 21000000u + index);
	ap->misbehave = index < f->o.misbehave_count ? f->o.misbehave : AP_BEHAVE;
	ap->echo_interval_s = f->o.echo_override_s != 0 ? f->o.echo_override_s : 30;
	ap->first_run_ms = -1;
	ap->first_lsc_run_ms = -1;

	/* Each AP its own source address, as on a real network; loopback
	 * answers for all of 127.0.0.0/8. */
	struct in_addr first;
	if (inet_pton(AF_INET, f->o.src_base, &first) != 1) {
		snprintf(err, errlen, "--src-base %s: not an IPv4 address", f->o.src_base);
		return false;
	}
	uint32_t host = ntohl(first.s_addr) + index + index / 254 * 2;
	ap->src.sin_family = AF_INET;
	ap->src.sin_addr.s_addr = htonl(host);
	ap->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ap->fd < 0 || bind(ap->fd, (struct sockaddr *)&ap->src, sizeof(ap->src)) < 0) {
		snprintf(err, errlen, "AP %u: bind %s: %s", index, inet_ntoa(ap->src.sin_addr), strerror(errno));
		return false;
	}
	socklen_t slen = sizeof(ap->src);
	getsockname(ap->fd, (struct sockaddr *)&ap->src, &slen);
	ap->ev_read = event_new(f->base, ap->fd, EV_READ | EV_PERSIST, on_readable, ap);
	ap->ev_state = evtimer_new(f->base, on_state_timer, ap);
	ap->ev_dtls = evtimer_new(f->base, on_dtls_timer, ap);
	ap->ev_retx = evtimer_new(f->base, on_retx, ap);
	ap->ev_echo = evtimer_new(f->base, on_echo_timer, ap);
	if (ap->ev_read == NULL || ap->ev_state == NULL || ap->ev_dtls == NULL ||
	    ap->ev_retx == NULL || ap->ev_echo == NULL || event_add(ap->ev_read, NULL) != 0) {
		snprintf(err, errlen, "AP %u: cannot create events", index);
		return false;
	}
	uint8_t seq;
	RAND_bytes(&seq, 1);
	capwap_reliable_init(&ap->rel, seq);
	struct capwap_reasm_limits lim = { 16384, 64, 5000 };
	capwap_reasm_init(&ap->reasm, &lim);
	return identity_make_mic(f, ap, err, errlen);
}

void ap_start(struct ap *ap, unsigned delay_ms)
{
	ap->state = AP_IDLE;
	arm(ap->ev_state, delay_ms);
}

void ap_free(struct ap *ap)
{
	drop_session(ap, ap->state == AP_RUN);
	if (ap->ev_read) event_free(ap->ev_read);
	if (ap->ev_state) event_free(ap->ev_state);
	if (ap->ev_dtls) event_free(ap->ev_dtls);
	if (ap->ev_retx) event_free(ap->ev_retx);
	if (ap->ev_echo) event_free(ap->ev_echo);
	if (ap->fd >= 0)
		close(ap->fd);
	capwap_reliable_free(&ap->rel);
	capwap_reasm_free(&ap->reasm);
	capwap_dtls_identity_free(ap->mic_id);
	capwap_dtls_identity_free(ap->lsc_id);
	capwap_dtls_trust_free(ap->lsc_trust);
	pki_key_free(ap->mic_key);
	pki_key_free(ap->csr_key);
	pki_buf_free(&ap->root_der);
	pki_buf_free(&ap->last_csr);
}
