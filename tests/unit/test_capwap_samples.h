/*
 * test_capwap_samples.h — typical CAPWAP control messages, built through
 * the public API only (capwap/capwap.h), shared by the capwap unit tests,
 * the tshark driver (tests/drivers/capwap_pcapgen.c) and so the fuzz seeds.
 *
 * Everything is static: each including program gets its own copy.
 */
#ifndef LSCD_TEST_CAPWAP_SAMPLES_H
#define LSCD_TEST_CAPWAP_SAMPLES_H

#include <stdint.h>
#include <string.h>

#include "capwap/capwap.h"

#define SAMPLE_BYTES(s) ((struct capwap_bytes){ (const uint8_t *)(s), sizeof(s) - 1 })

/* A stand-in for a DER object of a given size: a SEQUENCE header with the
 * right long-form length, then a deterministic pattern. Not a certificate;
 * the codec never looks inside. */
static inline void sample_der(uint8_t *buf, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 7 + (i >> 8));
	if (len >= 4) {
		buf[0] = 0x30;
		buf[1] = 0x82;
		buf[2] = (uint8_t)((len - 4) >> 8);
		buf[3] = (uint8_t)(len - 4);
	}
}

static const uint8_t sample_ap_mac[6] = { 0x28, 0x6f, 0x7f, 0xcf, 0x53, 0xac };
static const uint8_t sample_session_id[16] = {
	0x5a, 0x11, 0x0c, 0x2e, 0x9b, 0x74, 0x01, 0xfe,
	0x33, 0x6d, 0xa0, 0x42, 0x17, 0xc8, 0x88, 0x09,
};

static inline void sample_board_data(struct capwap_message *m)
{
	m->has_board_data = true;
	m->board_data.vendor = CAPWAP_VENDOR_CISCO;
	m->board_data.model = SAMPLE_BYTES("AIR-AP3802I-E-K9");
	m->board_data.serial = SAMPLE_BYTES("FCW2140L0AB");
	m->board_data.board_id = SAMPLE_BYTES("0x0001");
	m->board_data.board_revision = SAMPLE_BYTES("B0");
	m->board_data.has_base_mac = true;
	memcpy(m->board_data.base_mac, sample_ap_mac, 6);
}

static inline void sample_wtp_descriptor(struct capwap_message *m)
{
	struct capwap_wtp_descriptor *wd = &m->wtp_descriptor;

	m->has_wtp_descriptor = true;
	wd->max_radios = 2;
	wd->radios_in_use = 2;
	wd->n_encrypt = 1;
	wd->encrypt[0].wbid = CAPWAP_WBID_IEEE80211;
	wd->encrypt[0].capabilities = 0;
	wd->hardware_version.vendor = CAPWAP_VENDOR_CISCO;
	wd->hardware_version.value = SAMPLE_BYTES("1.0.0");
	wd->software_version.vendor = CAPWAP_VENDOR_CISCO;
	wd->software_version.value = SAMPLE_BYTES("17.9.4.27");
	wd->boot_version.vendor = CAPWAP_VENDOR_CISCO;
	wd->boot_version.value = SAMPLE_BYTES("1.1.2.4");
}

static inline void sample_ac_descriptor(struct capwap_message *m)
{
	struct capwap_ac_descriptor *ac = &m->ac_descriptor;

	m->has_ac_descriptor = true;
	ac->stations = 0;
	ac->station_limit = 1000;
	ac->active_wtps = 1;
	ac->max_wtps = 5000;
	ac->security = CAPWAP_AC_SECURITY_X509;
	ac->rmac = 2;
	ac->dtls_policy = CAPWAP_AC_CLEAR_DATA;
	ac->hardware_version.vendor = 0;
	ac->hardware_version.value = SAMPLE_BYTES("lscd");
	ac->software_version.vendor = 0;
	ac->software_version.value = SAMPLE_BYTES("0.1.0");
}

static inline void sample_radio_info(struct capwap_message *m, uint8_t n)
{
	uint8_t i;

	m->n_radio_info = n;
	for (i = 0; i < n; i++) {
		m->radio_info[i].radio_id = (uint8_t)(i + 1);
		m->radio_info[i].radio_type = i == 0 ? 0x0d : 0x0a;
	}
}

static inline void sample_reboot_stats(struct capwap_message *m)
{
	m->has_reboot_stats = true;
	m->reboot_stats.reboot_count = 3;
	m->reboot_stats.ac_initiated = 1;
	m->reboot_stats.link_failure = 2;
	m->reboot_stats.sw_failure = 0;
	m->reboot_stats.hw_failure = 0;
	m->reboot_stats.other_failure = 0;
	m->reboot_stats.unknown_failure = 0;
	m->reboot_stats.last_failure_type = 2;
}

static inline void sample_lsc_params(struct capwap_lsc_params *p)
{
	memset(p, 0, sizeof(*p));
	p->version = 1;
	p->country = SAMPLE_BYTES("DE");
	p->state = SAMPLE_BYTES("Berlin");
	p->city = SAMPLE_BYTES("Berlin");
	p->organization = SAMPLE_BYTES("Example Networks");
	p->department = SAMPLE_BYTES("Wireless");
	p->email = SAMPLE_BYTES("wifi@example.net");
	p->key_size = 2048;
	p->join_attempts = 3;
	p->key_algo = CAPWAP_LSC_KEY_RSA;
	p->txid = 0x4c534301;
}

/* Object sizes in the range the brief's log shows (§2.6), as DER. */
#define SAMPLE_CSR_LEN    712
#define SAMPLE_ROOT_LEN   905
#define SAMPLE_DEVICE_LEN 2214

struct sample_blobs {
	uint8_t csr[SAMPLE_CSR_LEN];
	uint8_t root[SAMPLE_ROOT_LEN];
	uint8_t device[SAMPLE_DEVICE_LEN];
};

static inline void sample_blobs_init(struct sample_blobs *b)
{
	sample_der(b->csr, sizeof(b->csr), 0x11);
	sample_der(b->root, sizeof(b->root), 0x22);
	sample_der(b->device, sizeof(b->device), 0x33);
}

/* The message flavours lscd exchanges, in the order of one provisioning
 * run (§3.3); several Configuration Update Requests differ by payload. */
enum sample_kind {
	SAMPLE_DISCOVERY_REQ,
	SAMPLE_DISCOVERY_RESP,
	SAMPLE_JOIN_REQ,
	SAMPLE_JOIN_RESP,
	SAMPLE_CONFIG_STATUS_REQ,
	SAMPLE_CONFIG_STATUS_RESP,
	SAMPLE_CHANGE_STATE_REQ,
	SAMPLE_CHANGE_STATE_RESP,
	SAMPLE_ECHO_REQ,
	SAMPLE_ECHO_RESP,
	SAMPLE_UPDATE_PARAMS,
	SAMPLE_WTP_EVENT_CSR,
	SAMPLE_UPDATE_RESP,
	SAMPLE_WTP_EVENT_RESP,
	SAMPLE_UPDATE_PENDING,
	SAMPLE_UPDATE_ROOT,
	SAMPLE_UPDATE_DEVICE,
	SAMPLE_UPDATE_FAILED,
	SAMPLE_RESET_REQ,
	SAMPLE_RESET_RESP,
	SAMPLE_COUNT,
};

static const char *const sample_names[SAMPLE_COUNT] = {
	"discovery-request", "discovery-response", "join-request",
	"join-response", "config-status-request", "config-status-response",
	"change-state-request", "change-state-response", "echo-request",
	"echo-response", "update-lsc-params", "wtp-event-csr",
	"update-response", "wtp-event-response", "update-enroll-pending",
	"update-root-cert", "update-device-cert", "update-enroll-failed",
	"reset-request", "reset-response",
};

/* Fill m with a typical message of the given kind. Byte views point at
 * string literals or into blobs, which must outlive m. */
static inline void sample_message(struct capwap_message *m, enum sample_kind kind,
				  uint8_t seq, const struct sample_blobs *blobs)
{
	static const uint8_t loopback[4] = { 127, 0, 0, 1 };
	static const uint8_t cisco_ap_group[] = "default-group";

	switch (kind) {
	case SAMPLE_DISCOVERY_REQ:
		capwap_message_init(m, CAPWAP_DISCOVERY_REQUEST, seq);
		/* As actube's WTP does: a 6-byte Radio MAC, HLEN 4 (§1.4). */
		m->hdr.radio_mac_len = 6;
		memcpy(m->hdr.radio_mac, sample_ap_mac, 6);
		m->has_discovery_type = true;
		m->discovery_type = 1;
		sample_board_data(m);
		sample_wtp_descriptor(m);
		m->has_frame_tunnel_mode = true;
		m->frame_tunnel_mode = 0x04;
		m->has_mac_type = true;
		m->mac_type = 1;
		sample_radio_info(m, 2);
		break;
	case SAMPLE_DISCOVERY_RESP:
		capwap_message_init(m, CAPWAP_DISCOVERY_RESPONSE, seq);
		sample_ac_descriptor(m);
		m->has_ac_name = true;
		m->ac_name = SAMPLE_BYTES("lscd-lab");
		sample_radio_info(m, 1);
		m->has_control_ipv4 = true;
		memcpy(m->control_ipv4.addr, loopback, 4);
		m->control_ipv4.wtp_count = 1;
		break;
	case SAMPLE_JOIN_REQ:
		capwap_message_init(m, CAPWAP_JOIN_REQUEST, seq);
		m->has_location = true;
		m->location = SAMPLE_BYTES("Lab rack 3");
		sample_board_data(m);
		sample_wtp_descriptor(m);
		m->has_wtp_name = true;
		m->wtp_name = SAMPLE_BYTES("ap3g3-286F7FCF53AC");
		m->has_session_id = true;
		memcpy(m->session_id, sample_session_id, 16);
		m->has_frame_tunnel_mode = true;
		m->frame_tunnel_mode = 0x04;
		m->has_mac_type = true;
		m->mac_type = 1;
		sample_radio_info(m, 2);
		m->has_ecn_support = true;
		m->ecn_support = 0;
		m->has_local_ipv4 = true;
		memcpy(m->local_ipv4, loopback, 4);
		m->has_max_message_length = true;
		m->max_message_length = 8192;
		m->n_vsp = 1;
		m->vsp[0].vendor = CAPWAP_VENDOR_CISCO;
		m->vsp[0].elem_id = 123;	/* AP Group Name */
		m->vsp[0].data.ptr = cisco_ap_group;
		m->vsp[0].data.len = sizeof(cisco_ap_group) - 1;
		break;
	case SAMPLE_JOIN_RESP:
		capwap_message_init(m, CAPWAP_JOIN_RESPONSE, seq);
		m->has_result_code = true;
		m->result_code = CAPWAP_RESULT_SUCCESS;
		sample_ac_descriptor(m);
		m->has_ac_name = true;
		m->ac_name = SAMPLE_BYTES("lscd-lab");
		sample_radio_info(m, 1);
		m->has_ecn_support = true;
		m->ecn_support = 0;
		m->has_control_ipv4 = true;
		memcpy(m->control_ipv4.addr, loopback, 4);
		m->control_ipv4.wtp_count = 1;
		m->has_local_ipv4 = true;
		memcpy(m->local_ipv4, loopback, 4);
		m->has_max_message_length = true;
		m->max_message_length = 8192;
		break;
	case SAMPLE_CONFIG_STATUS_REQ:
		capwap_message_init(m, CAPWAP_CONFIG_STATUS_REQUEST, seq);
		m->has_ac_name = true;
		m->ac_name = SAMPLE_BYTES("lscd-lab");
		m->n_radio_admin = 3;
		m->radio_admin[0].radio_id = 0;
		m->radio_admin[0].state = 1;
		m->radio_admin[1].radio_id = 1;
		m->radio_admin[1].state = 1;
		m->radio_admin[2].radio_id = 2;
		m->radio_admin[2].state = 2;
		m->has_statistics_timer = true;
		m->statistics_timer = 120;
		sample_reboot_stats(m);
		break;
	case SAMPLE_CONFIG_STATUS_RESP:
		capwap_message_init(m, CAPWAP_CONFIG_STATUS_RESPONSE, seq);
		m->has_timers = true;
		m->timers.discovery = 20;
		m->timers.echo_request = 30;
		m->has_decrypt_error_period = true;
		m->decrypt_error_period.radio_id = 1;
		m->decrypt_error_period.interval = 120;
		m->has_idle_timeout = true;
		m->idle_timeout = 300;
		m->has_wtp_fallback = true;
		m->wtp_fallback = 1;
		m->n_ac_ipv4 = 1;
		memcpy(m->ac_ipv4[0], loopback, 4);
		break;
	case SAMPLE_CHANGE_STATE_REQ:
		capwap_message_init(m, CAPWAP_CHANGE_STATE_REQUEST, seq);
		m->n_radio_oper = 2;
		m->radio_oper[0].radio_id = 1;
		m->radio_oper[0].state = 1;
		m->radio_oper[0].cause = 0;
		m->radio_oper[1].radio_id = 2;
		m->radio_oper[1].state = 2;
		m->radio_oper[1].cause = 3;
		m->has_result_code = true;
		m->result_code = CAPWAP_RESULT_SUCCESS;
		break;
	case SAMPLE_CHANGE_STATE_RESP:
		capwap_message_init(m, CAPWAP_CHANGE_STATE_RESPONSE, seq);
		break;
	case SAMPLE_ECHO_REQ:
		capwap_message_init(m, CAPWAP_ECHO_REQUEST, seq);
		break;
	case SAMPLE_ECHO_RESP:
		capwap_message_init(m, CAPWAP_ECHO_RESPONSE, seq);
		break;
	case SAMPLE_UPDATE_PARAMS:
		capwap_message_init(m, CAPWAP_CONFIG_UPDATE_REQUEST, seq);
		m->has_lsc_params = true;
		sample_lsc_params(&m->lsc_params);
		break;
	case SAMPLE_WTP_EVENT_CSR:
		capwap_message_init(m, CAPWAP_WTP_EVENT_REQUEST, seq);
		m->has_lsc_cert = true;
		m->lsc_cert.version = 1;
		m->lsc_cert.op = CAPWAP_LSC_OP_CSR;
		m->lsc_cert.txid = 0x4c534301;
		m->lsc_cert.object.ptr = blobs->csr;
		m->lsc_cert.object.len = sizeof(blobs->csr);
		break;
	case SAMPLE_UPDATE_RESP:
		capwap_message_init(m, CAPWAP_CONFIG_UPDATE_RESPONSE, seq);
		m->has_result_code = true;
		m->result_code = CAPWAP_RESULT_SUCCESS;
		break;
	case SAMPLE_WTP_EVENT_RESP:
		capwap_message_init(m, CAPWAP_WTP_EVENT_RESPONSE, seq);
		break;
	case SAMPLE_UPDATE_PENDING:
	case SAMPLE_UPDATE_ROOT:
	case SAMPLE_UPDATE_DEVICE:
	case SAMPLE_UPDATE_FAILED:
		capwap_message_init(m, CAPWAP_CONFIG_UPDATE_REQUEST, seq);
		m->has_lsc_cert = true;
		m->lsc_cert.version = 1;
		m->lsc_cert.txid = 0x4c534301;
		if (kind == SAMPLE_UPDATE_PENDING) {
			m->lsc_cert.op = CAPWAP_LSC_OP_ENROLL_PENDING;
		} else if (kind == SAMPLE_UPDATE_ROOT) {
			m->lsc_cert.op = CAPWAP_LSC_OP_ROOT_CERT;
			m->lsc_cert.object.ptr = blobs->root;
			m->lsc_cert.object.len = sizeof(blobs->root);
			m->lsc_cert.chain_index = 0;
		} else if (kind == SAMPLE_UPDATE_DEVICE) {
			m->lsc_cert.op = CAPWAP_LSC_OP_DEVICE_CERT;
			m->lsc_cert.object.ptr = blobs->device;
			m->lsc_cert.object.len = sizeof(blobs->device);
		} else {
			m->lsc_cert.op = CAPWAP_LSC_OP_ENROLL_FAILED;
			m->lsc_cert.fail_reason = CAPWAP_LSC_FAIL_CA_REJECTED;
		}
		break;
	case SAMPLE_RESET_REQ:
		capwap_message_init(m, CAPWAP_RESET_REQUEST, seq);
		m->has_image_identifier = true;
		m->image_identifier.vendor = CAPWAP_VENDOR_CISCO;
		m->image_identifier.data = SAMPLE_BYTES("17.9.4.27");
		break;
	case SAMPLE_RESET_RESP:
	case SAMPLE_COUNT:
		capwap_message_init(m, CAPWAP_RESET_RESPONSE, seq);
		m->has_result_code = true;
		m->result_code = CAPWAP_RESULT_SUCCESS;
		break;
	}
}

/*
 * Write a control packet by hand: plain header (HLEN 2, WBID 1), control
 * header, then the given elements verbatim, with a correct Msg Element
 * Length. Unlike capwap_encode() it checks nothing, so tests can build
 * messages the encoder refuses (missing mandatory elements, bad lengths).
 * Returns the packet length, 0 if cap is too small.
 */
static inline size_t sample_raw_packet(uint8_t *buf, size_t cap, uint32_t type,
				       uint8_t seq, const struct capwap_elem *elems,
				       size_t n)
{
	struct capwap_writer w;
	size_t i, elems_start;

	capwap_writer_init(&w, buf, cap);
	capwap_put_be32(&w, 0x00100200);	/* preamble 0, HLEN 2, WBID 1 */
	capwap_put_be32(&w, 0);
	capwap_put_be32(&w, type);
	capwap_put_u8(&w, seq);
	capwap_put_be16(&w, 0);
	capwap_put_u8(&w, 0);
	elems_start = w.len;
	for (i = 0; i < n; i++) {
		capwap_put_be16(&w, elems[i].type);
		capwap_put_be16(&w, elems[i].len);
		capwap_put_data(&w, elems[i].value, elems[i].len);
	}
	if (w.overflow)
		return 0;
	buf[13] = (uint8_t)((w.len - elems_start + 3) >> 8);
	buf[14] = (uint8_t)(w.len - elems_start + 3);
	return w.len;
}

#endif /* LSCD_TEST_CAPWAP_SAMPLES_H */
