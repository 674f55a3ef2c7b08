/*
 * test_capwap_message.c — whole control messages: round trips of every
 * message type and every typed element, and every way a message can be
 * wrong (truncation, length lies, unknown, duplicate and missing elements,
 * limits).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "capwap/capwap.h"
#include "tests/unit/test_capwap_samples.h"

#define BUF_SIZE 16384

static struct sample_blobs blobs;

static void assert_bytes_equal(const struct capwap_bytes *a, const struct capwap_bytes *b)
{
	assert_int_equal(a->len, b->len);
	if (a->len > 0)
		assert_memory_equal(a->ptr, b->ptr, a->len);
}

static void assert_info_equal(const struct capwap_descriptor_info *a,
			      const struct capwap_descriptor_info *b)
{
	assert_int_equal(a->vendor, b->vendor);
	assert_bytes_equal(&a->value, &b->value);
}

static void assert_lsc_params_equal(const struct capwap_lsc_params *a,
				    const struct capwap_lsc_params *b)
{
	assert_int_equal(a->version, b->version);
	assert_bytes_equal(&a->country, &b->country);
	assert_bytes_equal(&a->state, &b->state);
	assert_bytes_equal(&a->city, &b->city);
	assert_bytes_equal(&a->organization, &b->organization);
	assert_bytes_equal(&a->department, &b->department);
	assert_bytes_equal(&a->email, &b->email);
	assert_int_equal(a->key_size, b->key_size);
	assert_int_equal(a->join_attempts, b->join_attempts);
	assert_int_equal(a->key_algo, b->key_algo);
	assert_int_equal(a->txid, b->txid);
}

static void assert_lsc_cert_equal(const struct capwap_lsc_cert *a,
				  const struct capwap_lsc_cert *b)
{
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->op, b->op);
	assert_int_equal(a->txid, b->txid);
	assert_bytes_equal(&a->object, &b->object);
	assert_int_equal(a->fail_reason, b->fail_reason);
	assert_int_equal(a->chain_index, b->chain_index);
}

/* Every typed field of two messages; raw lists are compared separately. */
static void assert_messages_equal(const struct capwap_message *a,
				  const struct capwap_message *b)
{
	size_t i;

	assert_int_equal(a->hdr.radio_id, b->hdr.radio_id);
	assert_int_equal(a->hdr.wbid, b->hdr.wbid);
	assert_int_equal(a->hdr.native_frame, b->hdr.native_frame);
	assert_int_equal(a->hdr.radio_mac_len, b->hdr.radio_mac_len);
	assert_memory_equal(a->hdr.radio_mac, b->hdr.radio_mac, a->hdr.radio_mac_len);
	assert_bytes_equal(&a->hdr.wireless_info, &b->hdr.wireless_info);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->seq, b->seq);

	assert_int_equal(a->has_ac_descriptor, b->has_ac_descriptor);
	if (a->has_ac_descriptor) {
		const struct capwap_ac_descriptor *x = &a->ac_descriptor, *y = &b->ac_descriptor;

		assert_int_equal(x->stations, y->stations);
		assert_int_equal(x->station_limit, y->station_limit);
		assert_int_equal(x->active_wtps, y->active_wtps);
		assert_int_equal(x->max_wtps, y->max_wtps);
		assert_int_equal(x->security, y->security);
		assert_int_equal(x->rmac, y->rmac);
		assert_int_equal(x->dtls_policy, y->dtls_policy);
		assert_info_equal(&x->hardware_version, &y->hardware_version);
		assert_info_equal(&x->software_version, &y->software_version);
	}
	assert_int_equal(a->has_ac_name, b->has_ac_name);
	if (a->has_ac_name)
		assert_bytes_equal(&a->ac_name, &b->ac_name);
	assert_int_equal(a->n_ac_ipv4, b->n_ac_ipv4);
	if (a->n_ac_ipv4 > 0)
		assert_memory_equal(a->ac_ipv4, b->ac_ipv4, 4 * (size_t)a->n_ac_ipv4);
	assert_int_equal(a->has_control_ipv4, b->has_control_ipv4);
	if (a->has_control_ipv4) {
		assert_memory_equal(a->control_ipv4.addr, b->control_ipv4.addr, 4);
		assert_int_equal(a->control_ipv4.wtp_count, b->control_ipv4.wtp_count);
	}
	assert_int_equal(a->has_control_ipv6, b->has_control_ipv6);
	if (a->has_control_ipv6) {
		assert_memory_equal(a->control_ipv6.addr, b->control_ipv6.addr, 16);
		assert_int_equal(a->control_ipv6.wtp_count, b->control_ipv6.wtp_count);
	}
	assert_int_equal(a->has_timers, b->has_timers);
	if (a->has_timers) {
		assert_int_equal(a->timers.discovery, b->timers.discovery);
		assert_int_equal(a->timers.echo_request, b->timers.echo_request);
	}
	assert_int_equal(a->has_decrypt_error_period, b->has_decrypt_error_period);
	if (a->has_decrypt_error_period) {
		assert_int_equal(a->decrypt_error_period.radio_id, b->decrypt_error_period.radio_id);
		assert_int_equal(a->decrypt_error_period.interval, b->decrypt_error_period.interval);
	}
	assert_int_equal(a->has_discovery_type, b->has_discovery_type);
	assert_int_equal(a->discovery_type, b->discovery_type);
	assert_int_equal(a->has_idle_timeout, b->has_idle_timeout);
	assert_int_equal(a->idle_timeout, b->idle_timeout);
	assert_int_equal(a->has_image_identifier, b->has_image_identifier);
	if (a->has_image_identifier) {
		assert_int_equal(a->image_identifier.vendor, b->image_identifier.vendor);
		assert_bytes_equal(&a->image_identifier.data, &b->image_identifier.data);
	}
	assert_int_equal(a->has_location, b->has_location);
	if (a->has_location)
		assert_bytes_equal(&a->location, &b->location);
	assert_int_equal(a->has_max_message_length, b->has_max_message_length);
	assert_int_equal(a->max_message_length, b->max_message_length);
	assert_int_equal(a->has_local_ipv4, b->has_local_ipv4);
	assert_memory_equal(a->local_ipv4, b->local_ipv4, 4);
	assert_int_equal(a->has_local_ipv6, b->has_local_ipv6);
	assert_memory_equal(a->local_ipv6, b->local_ipv6, 16);
	assert_int_equal(a->n_radio_admin, b->n_radio_admin);
	for (i = 0; i < a->n_radio_admin; i++) {
		assert_int_equal(a->radio_admin[i].radio_id, b->radio_admin[i].radio_id);
		assert_int_equal(a->radio_admin[i].state, b->radio_admin[i].state);
	}
	assert_int_equal(a->n_radio_oper, b->n_radio_oper);
	for (i = 0; i < a->n_radio_oper; i++) {
		assert_int_equal(a->radio_oper[i].radio_id, b->radio_oper[i].radio_id);
		assert_int_equal(a->radio_oper[i].state, b->radio_oper[i].state);
		assert_int_equal(a->radio_oper[i].cause, b->radio_oper[i].cause);
	}
	assert_int_equal(a->has_result_code, b->has_result_code);
	assert_int_equal(a->result_code, b->result_code);
	assert_int_equal(a->n_returned, b->n_returned);
	for (i = 0; i < a->n_returned; i++) {
		assert_int_equal(a->returned[i].reason, b->returned[i].reason);
		assert_bytes_equal(&a->returned[i].element, &b->returned[i].element);
	}
	assert_int_equal(a->has_session_id, b->has_session_id);
	assert_memory_equal(a->session_id, b->session_id, 16);
	assert_int_equal(a->has_statistics_timer, b->has_statistics_timer);
	assert_int_equal(a->statistics_timer, b->statistics_timer);
	assert_int_equal(a->has_board_data, b->has_board_data);
	if (a->has_board_data) {
		assert_int_equal(a->board_data.vendor, b->board_data.vendor);
		assert_bytes_equal(&a->board_data.model, &b->board_data.model);
		assert_bytes_equal(&a->board_data.serial, &b->board_data.serial);
		assert_bytes_equal(&a->board_data.board_id, &b->board_data.board_id);
		assert_bytes_equal(&a->board_data.board_revision, &b->board_data.board_revision);
		assert_int_equal(a->board_data.has_base_mac, b->board_data.has_base_mac);
		assert_memory_equal(a->board_data.base_mac, b->board_data.base_mac, 6);
	}
	assert_int_equal(a->has_wtp_descriptor, b->has_wtp_descriptor);
	if (a->has_wtp_descriptor) {
		const struct capwap_wtp_descriptor *x = &a->wtp_descriptor, *y = &b->wtp_descriptor;

		assert_int_equal(x->max_radios, y->max_radios);
		assert_int_equal(x->radios_in_use, y->radios_in_use);
		assert_int_equal(x->n_encrypt, y->n_encrypt);
		for (i = 0; i < x->n_encrypt; i++) {
			assert_int_equal(x->encrypt[i].wbid, y->encrypt[i].wbid);
			assert_int_equal(x->encrypt[i].capabilities, y->encrypt[i].capabilities);
		}
		assert_info_equal(&x->hardware_version, &y->hardware_version);
		assert_info_equal(&x->software_version, &y->software_version);
		assert_info_equal(&x->boot_version, &y->boot_version);
		assert_info_equal(&x->other_version, &y->other_version);
	}
	assert_int_equal(a->has_wtp_fallback, b->has_wtp_fallback);
	assert_int_equal(a->wtp_fallback, b->wtp_fallback);
	assert_int_equal(a->has_frame_tunnel_mode, b->has_frame_tunnel_mode);
	assert_int_equal(a->frame_tunnel_mode, b->frame_tunnel_mode);
	assert_int_equal(a->has_mac_type, b->has_mac_type);
	assert_int_equal(a->mac_type, b->mac_type);
	assert_int_equal(a->has_wtp_name, b->has_wtp_name);
	if (a->has_wtp_name)
		assert_bytes_equal(&a->wtp_name, &b->wtp_name);
	assert_int_equal(a->has_reboot_stats, b->has_reboot_stats);
	assert_memory_equal(&a->reboot_stats, &b->reboot_stats, sizeof(a->reboot_stats));
	assert_int_equal(a->has_transport_protocol, b->has_transport_protocol);
	assert_int_equal(a->transport_protocol, b->transport_protocol);
	assert_int_equal(a->has_ecn_support, b->has_ecn_support);
	assert_int_equal(a->ecn_support, b->ecn_support);
	assert_int_equal(a->n_radio_info, b->n_radio_info);
	for (i = 0; i < a->n_radio_info; i++) {
		assert_int_equal(a->radio_info[i].radio_id, b->radio_info[i].radio_id);
		assert_int_equal(a->radio_info[i].radio_type, b->radio_info[i].radio_type);
	}
	assert_int_equal(a->n_vsp, b->n_vsp);
	for (i = 0; i < a->n_vsp; i++) {
		assert_int_equal(a->vsp[i].vendor, b->vsp[i].vendor);
		assert_int_equal(a->vsp[i].elem_id, b->vsp[i].elem_id);
		assert_bytes_equal(&a->vsp[i].data, &b->vsp[i].data);
	}
	assert_int_equal(a->has_lsc_params, b->has_lsc_params);
	if (a->has_lsc_params)
		assert_lsc_params_equal(&a->lsc_params, &b->lsc_params);
	assert_int_equal(a->has_lsc_cert, b->has_lsc_cert);
	if (a->has_lsc_cert)
		assert_lsc_cert_equal(&a->lsc_cert, &b->lsc_cert);
}

static size_t encode_ok(const struct capwap_message *m, uint8_t *buf, size_t cap)
{
	struct capwap_writer w;
	struct capwap_error err;
	enum capwap_status st;

	capwap_writer_init(&w, buf, cap);
	st = capwap_encode(&w, m, &err);
	if (st != CAPWAP_OK)
		fail_msg("encode %s: %s: %s", capwap_msg_type_name(m->type),
			 capwap_status_name(st), err.reason);
	return w.len;
}

static enum capwap_status decode(const uint8_t *buf, size_t len,
				 struct capwap_message *m, struct capwap_error *err)
{
	return capwap_decode(buf, len, m, err);
}

static void assert_reason(const struct capwap_error *err, const char *needle)
{
	if (strstr(err->reason, needle) == NULL)
		fail_msg("reason \"%s\" does not mention \"%s\"", err->reason, needle);
}

/* ------------------------------------------------------------------------
 * Round trips
 * ------------------------------------------------------------------------ */

static void test_roundtrip_every_sample(void **state)
{
	static uint8_t buf[BUF_SIZE], again[BUF_SIZE];
	struct capwap_message m, d;
	struct capwap_error err;
	int k;

	(void)state;
	for (k = 0; k < SAMPLE_COUNT; k++) {
		size_t len, len2;

		sample_message(&m, (enum sample_kind)k, (uint8_t)(40 + k), &blobs);
		len = encode_ok(&m, buf, sizeof(buf));
		if (decode(buf, len, &d, &err) != CAPWAP_OK)
			fail_msg("%s: %s", sample_names[k], err.reason);
		assert_true(d.ctrl_valid);
		assert_messages_equal(&m, &d);
		/* Typed elements only, again: byte-identical output. */
		d.n_raw = 0;
		len2 = encode_ok(&d, again, sizeof(again));
		assert_int_equal(len, len2);
		assert_memory_equal(buf, again, len);
	}
}

/* Every typed element at once, in a message that mandates none. */
static void build_kitchen_sink(struct capwap_message *m)
{
	static const uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t v6b[16] = { 0xfe, 0x80, [14] = 0x12, [15] = 0x34 };
	static const uint8_t returned[] = { 0x03, 0xe7, 0x00, 0x02, 0xaa, 0xbb };
	static const uint8_t vsp_data[] = { 1, 2, 3 };
	static const uint8_t winfo[] = { 0x11, 0x22, 0x33, 0x44, 0x55 };

	capwap_message_init(m, CAPWAP_ECHO_REQUEST, 200);
	m->hdr.radio_id = 0;
	m->hdr.radio_mac_len = 8;
	memcpy(m->hdr.radio_mac, "\x02\x11\x22\x33\x44\x55\x66\x77", 8);
	m->hdr.wireless_info.ptr = winfo;
	m->hdr.wireless_info.len = sizeof(winfo);
	sample_ac_descriptor(m);
	m->has_ac_name = true;
	m->ac_name = SAMPLE_BYTES("ac");
	m->n_ac_ipv4 = 3;
	memcpy(m->ac_ipv4[0], "\x0a\x00\x00\x01", 4);
	memcpy(m->ac_ipv4[1], "\x0a\x00\x00\x02", 4);
	memcpy(m->ac_ipv4[2], "\x0a\x00\x00\x03", 4);
	m->has_control_ipv4 = true;
	memcpy(m->control_ipv4.addr, "\xc0\xa8\x01\x01", 4);
	m->control_ipv4.wtp_count = 77;
	m->has_control_ipv6 = true;
	memcpy(m->control_ipv6.addr, v6a, 16);
	m->control_ipv6.wtp_count = 65535;
	m->has_timers = true;
	m->timers.discovery = 5;
	m->timers.echo_request = 255;
	m->has_decrypt_error_period = true;
	m->decrypt_error_period.radio_id = 2;
	m->decrypt_error_period.interval = 0xbeef;
	m->has_discovery_type = true;
	m->discovery_type = 4;
	m->has_idle_timeout = true;
	m->idle_timeout = 0xdeadbeef;
	m->has_image_identifier = true;
	m->image_identifier.vendor = 9;
	m->image_identifier.data = SAMPLE_BYTES("8.10.185.0");
	m->has_location = true;
	m->location = SAMPLE_BYTES("Floor 2");
	m->has_max_message_length = true;
	m->max_message_length = 4096;
	m->has_local_ipv4 = true;
	memcpy(m->local_ipv4, "\xc0\xa8\x01\x02", 4);
	m->has_local_ipv6 = true;
	memcpy(m->local_ipv6, v6b, 16);
	m->n_radio_admin = 2;
	m->radio_admin[0].radio_id = 0;
	m->radio_admin[0].state = 2;
	m->radio_admin[1].radio_id = 31;
	m->radio_admin[1].state = 1;
	m->n_radio_oper = 1;
	m->radio_oper[0].radio_id = 1;
	m->radio_oper[0].state = 2;
	m->radio_oper[0].cause = 1;
	m->has_result_code = true;
	m->result_code = CAPWAP_RESULT_UNRECOGNIZED_ELEMENT;
	m->n_returned = 1;
	m->returned[0].reason = 1;
	m->returned[0].element.ptr = returned;
	m->returned[0].element.len = sizeof(returned);
	m->has_session_id = true;
	memcpy(m->session_id, sample_session_id, 16);
	m->has_statistics_timer = true;
	m->statistics_timer = 120;
	sample_board_data(m);
	sample_wtp_descriptor(m);
	m->wtp_descriptor.n_encrypt = 2;
	m->wtp_descriptor.encrypt[1].wbid = 3;
	m->wtp_descriptor.encrypt[1].capabilities = 0x1234;
	m->wtp_descriptor.other_version.vendor = 7;
	m->wtp_descriptor.other_version.value = SAMPLE_BYTES("other");
	m->has_wtp_fallback = true;
	m->wtp_fallback = 2;
	m->has_frame_tunnel_mode = true;
	m->frame_tunnel_mode = 0x0e;
	m->has_mac_type = true;
	m->mac_type = 2;
	m->has_wtp_name = true;
	m->wtp_name = SAMPLE_BYTES("AP-1");
	sample_reboot_stats(m);
	m->has_transport_protocol = true;
	m->transport_protocol = 2;
	m->has_ecn_support = true;
	m->ecn_support = 1;
	sample_radio_info(m, 2);
	m->n_vsp = 1;
	m->vsp[0].vendor = 12345;
	m->vsp[0].elem_id = 7;
	m->vsp[0].data.ptr = vsp_data;
	m->vsp[0].data.len = sizeof(vsp_data);
	m->has_lsc_params = true;
	sample_lsc_params(&m->lsc_params);
	m->has_lsc_cert = true;
	m->lsc_cert.version = 1;
	m->lsc_cert.op = CAPWAP_LSC_OP_ROOT_CERT;
	m->lsc_cert.txid = 99;
	m->lsc_cert.object.ptr = blobs.root;
	m->lsc_cert.object.len = 100;
	m->lsc_cert.chain_index = 2;
}

static void test_roundtrip_every_element(void **state)
{
	static uint8_t buf[BUF_SIZE];
	/* Canonical order: the element table's, LSC payloads first among VSPs. */
	static const uint16_t expect[] = {
		1, 2, 4, 10, 11, 12, 16, 20, 23, 25, 28, 29, 30, 31, 31, 32, 33,
		34, 35, 36, 37, 37, 37, 38, 39, 40, 41, 44, 45, 48, 50, 51, 53,
		1048, 1048,
	};
	struct capwap_message m, d;
	struct capwap_error err;
	size_t len, i;

	(void)state;
	build_kitchen_sink(&m);
	len = encode_ok(&m, buf, sizeof(buf));
	if (decode(buf, len, &d, &err) != CAPWAP_OK)
		fail_msg("%s", err.reason);
	assert_messages_equal(&m, &d);
	assert_int_equal(d.n_raw, sizeof(expect) / sizeof(expect[0]));
	for (i = 0; i < d.n_raw; i++)
		assert_int_equal(d.raw[i].type, expect[i]);
	/* HLEN: 8 + (1+8 -> 12) + (1+5 -> 8) = 28 bytes = 7 words. */
	assert_int_equal(buf[1] >> 3, 7);
	/* The VSP-decoded payloads are not repeated in vsp[]. */
	assert_int_equal(d.n_vsp, 1);
}

/* Raw extras are written verbatim after the typed elements. */
static void test_encode_raw_extras(void **state)
{
	static uint8_t buf[BUF_SIZE];
	static const uint8_t pad[3] = { 0xff, 0xff, 0xff };
	struct capwap_message m, d;
	struct capwap_error err;
	size_t len;

	(void)state;
	capwap_message_init(&m, CAPWAP_ECHO_REQUEST, 1);
	m.has_result_code = true;
	m.n_raw = 1;
	m.raw[0].type = CAPWAP_ELEM_MTU_DISCOVERY_PADDING;
	m.raw[0].len = sizeof(pad);
	m.raw[0].value = pad;
	len = encode_ok(&m, buf, sizeof(buf));
	assert_int_equal(len, 8 + 8 + 8 + 4 + 3);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_OK);
	assert_int_equal(d.n_raw, 2);
	assert_int_equal(d.raw[0].type, CAPWAP_ELEM_RESULT_CODE);
	assert_int_equal(d.raw[1].type, CAPWAP_ELEM_MTU_DISCOVERY_PADDING);
	assert_int_equal(d.raw[1].len, 3);
	assert_memory_equal(d.raw[1].value, pad, 3);
	/* Msg Element Length = element bytes + 3 (§1.5). */
	assert_int_equal((buf[13] << 8) | buf[14], 8 + 7 + 3);
}

/* §2.4's envelope, byte for byte, around lscd's ENROLL_PENDING body. */
static void test_enroll_pending_bytes(void **state)
{
	static const uint8_t expect[] = {
		0x00, 0x10, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,	/* §1.4 example */
		0x00, 0x00, 0x00, 0x07, 0x29, 0x00, 0x25, 0x00,	/* type 7, seq 41, 37 */
		0x00, 0x25, 0x00, 0x1e,				/* VSP, 12 + 18 */
		0x00, 0x40, 0x96, 0x00, 0x00, 0x68,		/* Cisco, 104 */
		0x00, 0x40, 0x96, 0x00, 0x00, 0x40,		/* Cisco, 64 */
		0x00, 0x01, 0x00, 0x01, 0x01,			/* Version 1 */
		0x00, 0x02, 0x00, 0x01, 0x02,			/* ENROLL_PENDING */
		0x00, 0x03, 0x00, 0x04, 0x4c, 0x53, 0x43, 0x01,	/* txid */
	};
	uint8_t buf[256];
	struct capwap_message m;
	size_t len;

	(void)state;
	sample_message(&m, SAMPLE_UPDATE_PENDING, 41, &blobs);
	len = encode_ok(&m, buf, sizeof(buf));
	assert_int_equal(len, sizeof(expect));
	assert_memory_equal(buf, expect, sizeof(expect));
}

/* ------------------------------------------------------------------------
 * Truncation and length lies
 * ------------------------------------------------------------------------ */

static void test_truncated_every_length(void **state)
{
	static uint8_t buf[BUF_SIZE];
	struct capwap_message m, d;
	struct capwap_error err;
	int k;

	(void)state;
	for (k = 0; k < SAMPLE_COUNT; k++) {
		size_t len, cut;

		sample_message(&m, (enum sample_kind)k, 7, &blobs);
		len = encode_ok(&m, buf, sizeof(buf));
		for (cut = 0; cut < len; cut++) {
			enum capwap_status st = decode(buf, cut, &d, &err);

			if (st != CAPWAP_ERR_TRUNCATED)
				fail_msg("%s cut at %zu/%zu: %s (%s)", sample_names[k],
					 cut, len, capwap_status_name(st), err.reason);
			assert_true(err.reason[0] != '\0');
			/* The control header is known once its 8 bytes are in. */
			assert_int_equal(d.ctrl_valid, cut >= (size_t)((buf[1] >> 3) * 4 + 8));
		}
	}
}

static void set_mel(uint8_t *buf, size_t hlen, uint16_t v)
{
	buf[hlen + 5] = (uint8_t)(v >> 8);
	buf[hlen + 6] = (uint8_t)v;
}

static void test_msg_element_length_lies(void **state)
{
	static uint8_t buf[BUF_SIZE];
	struct capwap_message m, d;
	struct capwap_error err;
	size_t len, hlen = 8;
	uint16_t good;
	struct {
		int delta;
		uint16_t absolute;
		enum capwap_status st;
		const char *needle;
	} cases[] = {
		{ 1, 0, CAPWAP_ERR_TRUNCATED, "announces" },
		{ -1, 0, CAPWAP_ERR_MALFORMED, "trailing" },
		{ 0, 0xffff, CAPWAP_ERR_TRUNCATED, "65535" },
		{ 0, 3, CAPWAP_ERR_MALFORMED, "trailing" },
		{ 0, 2, CAPWAP_ERR_MALFORMED, "minimum is 3" },
		{ 0, 1, CAPWAP_ERR_MALFORMED, "minimum is 3" },
		{ 0, 0, CAPWAP_ERR_MALFORMED, "Msg Element Length 0" },
	};
	size_t i;

	(void)state;
	sample_message(&m, SAMPLE_JOIN_RESP, 3, &blobs);
	len = encode_ok(&m, buf, sizeof(buf));
	good = (uint16_t)((buf[hlen + 5] << 8) | buf[hlen + 6]);
	assert_int_equal(good, len - hlen - 8 + 3);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint16_t v = cases[i].absolute != 0 || cases[i].delta == 0 ?
			     cases[i].absolute : (uint16_t)(good + cases[i].delta);

		set_mel(buf, hlen, v);
		assert_int_equal(decode(buf, len, &d, &err), cases[i].st);
		assert_reason(&err, cases[i].needle);
		assert_true(d.ctrl_valid);
		assert_int_equal(d.type, CAPWAP_JOIN_RESPONSE);
		assert_int_equal(d.seq, 3);
	}
	set_mel(buf, hlen, good);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_OK);
}

/* Bytes after the last element are malformed even when only padding. */
static void test_trailing_bytes(void **state)
{
	static uint8_t buf[BUF_SIZE];
	struct capwap_message m, d;
	struct capwap_error err;
	size_t len, extra;

	(void)state;
	sample_message(&m, SAMPLE_UPDATE_RESP, 9, &blobs);
	len = encode_ok(&m, buf, sizeof(buf));
	for (extra = 1; extra <= 3; extra++) {
		memset(buf + len, 0, extra);
		assert_int_equal(decode(buf, len + extra, &d, &err), CAPWAP_ERR_MALFORMED);
		assert_reason(&err, "trailing");
		/* Counting them in the length turns them into a cut element. */
		set_mel(buf, 8, (uint16_t)(len - 16 + extra + 3));
		assert_int_equal(decode(buf, len + extra, &d, &err), CAPWAP_ERR_TRUNCATED);
		assert_reason(&err, "element header");
		set_mel(buf, 8, (uint16_t)(len - 16 + 3));
	}
}

static void test_element_length_past_end(void **state)
{
	static const uint8_t rc[4] = { 0, 0, 0, 0 };
	struct capwap_elem e[] = { { CAPWAP_ELEM_RESULT_CODE, 4, rc } };
	uint8_t buf[64];
	struct capwap_message d;
	struct capwap_error err;
	size_t len;

	(void)state;
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_CONFIG_UPDATE_RESPONSE, 1, e, 1);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_OK);
	buf[19] = 5;	/* element length 5, 4 bytes present */
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_TRUNCATED);
	assert_reason(&err, "Result Code (33)");
	assert_reason(&err, "length 5");
	buf[18] = 0xff;	/* 0xff05 */
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_TRUNCATED);
	assert_reason(&err, "65285");
}

/* Zero-length and wrong fixed-length elements are rejected by the table. */
static void test_wrong_element_lengths(void **state)
{
	static const uint8_t zeros[64];
	struct {
		uint16_t type;
		uint16_t len;
		const char *needle;
	} cases[] = {
		{ CAPWAP_ELEM_RESULT_CODE, 0, "Result Code (33): length 0, must be 4" },
		{ CAPWAP_ELEM_RESULT_CODE, 3, "must be 4" },
		{ CAPWAP_ELEM_RESULT_CODE, 5, "length 5, must be 4" },
		{ CAPWAP_ELEM_SESSION_ID, 15, "Session ID (35): length 15, must be 16" },
		{ CAPWAP_ELEM_SESSION_ID, 17, "must be 16" },
		{ CAPWAP_ELEM_TIMERS, 3, "CAPWAP Timers (12): length 3, must be 2" },
		{ CAPWAP_ELEM_TIMERS, 0, "must be 2" },
		{ CAPWAP_ELEM_CONTROL_IPV4, 5, "Control IPv4 Address (10): length 5, must be 6" },
		{ CAPWAP_ELEM_CONTROL_IPV4, 7, "must be 6" },
		{ CAPWAP_ELEM_CONTROL_IPV6, 16, "must be 18" },
		{ CAPWAP_ELEM_IEEE80211_RADIO_INFO, 4, "Radio Information (1048): length 4, must be 5" },
		{ CAPWAP_ELEM_IEEE80211_RADIO_INFO, 6, "must be 5" },
		{ CAPWAP_ELEM_AC_NAME, 0, "AC Name (4): length 0, must be 1..512" },
		{ CAPWAP_ELEM_WTP_NAME, 0, "WTP Name (45): length 0" },
		{ CAPWAP_ELEM_LOCATION_DATA, 0, "Location Data (28): length 0" },
		{ CAPWAP_ELEM_AC_DESCRIPTOR, 11, "AC Descriptor (1): length 11, must be 12.." },
		{ CAPWAP_ELEM_WTP_BOARD_DATA, 13, "WTP Board Data (38): length 13" },
		{ CAPWAP_ELEM_WTP_DESCRIPTOR, 32, "WTP Descriptor (39): length 32" },
		{ CAPWAP_ELEM_VENDOR_SPECIFIC, 5, "Vendor Specific Payload (37): length 5" },
		{ CAPWAP_ELEM_RETURNED_ELEMENT, 5, "Returned Message Element (34): length 5" },
		{ CAPWAP_ELEM_WTP_REBOOT_STATS, 14, "must be 15" },
		{ CAPWAP_ELEM_RADIO_ADMIN_STATE, 3, "must be 2" },
		{ CAPWAP_ELEM_RADIO_OPER_STATE, 2, "must be 3" },
		{ CAPWAP_ELEM_DECRYPT_ERROR_PERIOD, 2, "must be 3" },
		{ CAPWAP_ELEM_IDLE_TIMEOUT, 2, "must be 4" },
		{ CAPWAP_ELEM_IMAGE_IDENTIFIER, 4, "Image Identifier (25): length 4" },
		{ CAPWAP_ELEM_MAX_MESSAGE_LENGTH, 1, "must be 2" },
		{ CAPWAP_ELEM_LOCAL_IPV4, 16, "must be 4" },
		{ CAPWAP_ELEM_LOCAL_IPV6, 4, "must be 16" },
		{ CAPWAP_ELEM_STATISTICS_TIMER, 4, "must be 2" },
		{ CAPWAP_ELEM_DISCOVERY_TYPE, 0, "must be 1" },
		{ CAPWAP_ELEM_ECN_SUPPORT, 2, "must be 1" },
		{ CAPWAP_ELEM_CISCO_WTP_IPV4, 6, "must be 4" },
		{ CAPWAP_ELEM_AC_TIMESTAMP, 3, "AC Timestamp (6): length 3, must be 4" },
	};
	uint8_t buf[256];
	struct capwap_message d;
	struct capwap_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct capwap_elem e = { cases[i].type, cases[i].len, zeros };
		size_t len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST,
					       5, &e, 1);
		enum capwap_status st = decode(buf, len, &d, &err);

		if (st != CAPWAP_ERR_MALFORMED)
			fail_msg("type %u len %u: %s (%s)", cases[i].type,
				 cases[i].len, capwap_status_name(st), err.reason);
		assert_reason(&err, cases[i].needle);
		assert_true(d.ctrl_valid);
		assert_int_equal(d.n_raw, 1);
	}
}

/* Zero length is fine where the RFC allows it. */
static void test_zero_length_allowed(void **state)
{
	struct capwap_elem e[] = {
		{ CAPWAP_ELEM_MTU_DISCOVERY_PADDING, 0, NULL },
		{ 27 /* Initiate Download */, 0, NULL },
	};
	uint8_t buf[64];
	struct capwap_message d;
	struct capwap_error err;
	size_t len;

	(void)state;
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST, 5, e, 2);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_OK);
	assert_int_equal(d.n_raw, 2);
}

/* ------------------------------------------------------------------------
 * Unknown, duplicate, missing
 * ------------------------------------------------------------------------ */

static void test_unknown_element(void **state)
{
	static const uint8_t v[4] = { 1, 2, 3, 4 };
	static const uint16_t unknown[] = { 999, 46, 2048, 3072, 4096, 65535, 1051 };
	uint8_t buf[64];
	struct capwap_message d;
	struct capwap_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		struct capwap_elem e[] = {
			{ CAPWAP_ELEM_RESULT_CODE, 4, v },
			{ unknown[i], 4, v },
			{ CAPWAP_ELEM_TIMERS, 2, v },
		};
		char needle[32];
		size_t len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST,
					       77, e, 3);

		assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_UNKNOWN_ELEMENT);
		snprintf(needle, sizeof(needle), "unknown element type %u", unknown[i]);
		assert_reason(&err, needle);
		assert_true(d.ctrl_valid);
		assert_int_equal(d.seq, 77);
		/* The offending element is the last raw one, value intact. */
		assert_int_equal(d.n_raw, 2);
		assert_int_equal(d.raw[1].type, unknown[i]);
		assert_int_equal(d.raw[1].len, 4);
		assert_memory_equal(d.raw[1].value, v, 4);
		assert_true(d.has_result_code);
	}
}

static void test_element_type_zero(void **state)
{
	static const uint8_t v[1] = { 0 };
	struct capwap_elem e = { 0, 1, v };
	uint8_t buf[64];
	struct capwap_message d;
	struct capwap_error err;
	size_t len;

	(void)state;
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST, 1, &e, 1);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "type 0 (reserved)");
}

/* Cisco's draft-7 local address elements replace 30/50 on real APs. */
static void test_cisco_42_43_accepted(void **state)
{
	static uint8_t buf[BUF_SIZE], buf2[BUF_SIZE];
	static const uint8_t v4[4] = { 10, 1, 2, 3 };
	static const uint8_t v6[16] = { 0xfe, 0x80 };
	struct capwap_message m, d;
	struct capwap_error err;
	size_t len, len2;

	(void)state;
	sample_message(&m, SAMPLE_JOIN_REQ, 1, &blobs);
	m.n_raw = 2;
	m.raw[0].type = CAPWAP_ELEM_CISCO_WTP_IPV4;
	m.raw[0].len = 4;
	m.raw[0].value = v4;
	m.raw[1].type = CAPWAP_ELEM_CISCO_WTP_IPV6;
	m.raw[1].len = 16;
	m.raw[1].value = v6;
	len = encode_ok(&m, buf, sizeof(buf));
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_OK);
	assert_int_equal(d.raw[d.n_raw - 2].type, 42);
	assert_int_equal(d.raw[d.n_raw - 1].type, 43);
	/* Ignored: the typed view is the same as without them. */
	d.n_raw = 0;
	m.n_raw = 0;
	len2 = encode_ok(&d, buf2, sizeof(buf2));
	assert_int_equal(len2, len - 8 - 20);
}

static void test_known_opaque_elements_accepted(void **state)
{
	static uint8_t buf[BUF_SIZE];
	static const uint8_t v[32] = { 1 };
	struct capwap_message m, d;
	struct capwap_error err;
	size_t len;

	(void)state;
	/* A Configuration Status Request as a real WTP sends it: with
	 * IEEE 802.11 binding elements and an AC Name with Priority. */
	sample_message(&m, SAMPLE_CONFIG_STATUS_REQ, 1, &blobs);
	m.n_raw = 3;
	m.raw[0] = (struct capwap_elem){ 1046, 16, v };	/* WTP Radio Config */
	m.raw[1] = (struct capwap_elem){ 1030, 16, v };	/* MAC Operation */
	m.raw[2] = (struct capwap_elem){ 5, 5, v };	/* AC Name w/ Priority */
	len = encode_ok(&m, buf, sizeof(buf));
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_OK);
	assert_int_equal(d.raw[d.n_raw - 1].type, 5);
	assert_string_equal(capwap_elem_type_name(1046), "IEEE 802.11 WTP Radio Configuration");
}

static void test_duplicate_singular(void **state)
{
	static const uint8_t v[16] = { 0 };
	struct {
		uint16_t type, len;
		const char *name;
	} singular[] = {
		{ CAPWAP_ELEM_RESULT_CODE, 4, "Result Code (33) appears twice" },
		{ CAPWAP_ELEM_SESSION_ID, 16, "Session ID (35) appears twice" },
		{ CAPWAP_ELEM_TIMERS, 2, "CAPWAP Timers (12) appears twice" },
		{ CAPWAP_ELEM_WTP_NAME, 3, "WTP Name (45) appears twice" },
		{ CAPWAP_ELEM_ECN_SUPPORT, 1, "ECN Support (53) appears twice" },
		{ CAPWAP_ELEM_AC_TIMESTAMP, 4, "AC Timestamp (6) appears twice" },
	};
	uint8_t buf[128];
	struct capwap_message d;
	struct capwap_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(singular) / sizeof(singular[0]); i++) {
		struct capwap_elem e[2] = {
			{ singular[i].type, singular[i].len, v },
			{ singular[i].type, singular[i].len, v },
		};
		size_t len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_RESPONSE,
					       2, e, 2);

		assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_DUPLICATE);
		assert_reason(&err, singular[i].name);
		assert_true(d.ctrl_valid);
		/* Once is fine. */
		len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_RESPONSE, 2, e, 1);
		assert_int_equal(decode(buf, len, &d, &err), CAPWAP_OK);
	}
}

static void test_repeatable_elements(void **state)
{
	static const uint8_t admin[2] = { 1, 1 };
	static const uint8_t ctl[6] = { 10, 0, 0, 1, 0, 5 };
	static const uint8_t ctl2[6] = { 10, 0, 0, 2, 0, 6 };
	struct capwap_elem e[] = {
		{ CAPWAP_ELEM_RADIO_ADMIN_STATE, 2, admin },
		{ CAPWAP_ELEM_RADIO_ADMIN_STATE, 2, admin },
		{ CAPWAP_ELEM_CONTROL_IPV4, 6, ctl },
		{ CAPWAP_ELEM_CONTROL_IPV4, 6, ctl2 },
	};
	uint8_t buf[128];
	struct capwap_message d;
	struct capwap_error err;
	size_t len;

	(void)state;
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_RESPONSE, 2, e, 4);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_OK);
	assert_int_equal(d.n_radio_admin, 2);
	/* One Control Address per AC interface: the first is the typed one. */
	assert_true(d.has_control_ipv4);
	assert_int_equal(d.control_ipv4.wtp_count, 5);
	assert_int_equal(d.n_raw, 4);
}

/* Remove each mandatory element of each message in turn: decode says
 * MISSING, names it, and keeps type and seq for the Result Code 20 reply;
 * the encoder refuses the same message. */
static void test_missing_mandatory(void **state)
{
	static uint8_t buf[BUF_SIZE], bad[BUF_SIZE];
	static const struct {
		enum sample_kind kind;
		uint16_t drop;
		const char *needle;
	} cases[] = {
		{ SAMPLE_DISCOVERY_REQ, 20, "Discovery Request: missing mandatory element Discovery Type (20)" },
		{ SAMPLE_DISCOVERY_REQ, 38, "WTP Board Data (38)" },
		{ SAMPLE_DISCOVERY_REQ, 39, "WTP Descriptor (39)" },
		{ SAMPLE_DISCOVERY_REQ, 41, "WTP Frame Tunnel Mode (41)" },
		{ SAMPLE_DISCOVERY_REQ, 44, "WTP MAC Type (44)" },
		{ SAMPLE_DISCOVERY_REQ, 1048, "WTP Radio Information (1048)" },
		{ SAMPLE_DISCOVERY_RESP, 1, "Discovery Response: missing mandatory element AC Descriptor (1)" },
		{ SAMPLE_DISCOVERY_RESP, 4, "AC Name (4)" },
		{ SAMPLE_DISCOVERY_RESP, 1048, "WTP Radio Information (1048)" },
		{ SAMPLE_DISCOVERY_RESP, 10, "CAPWAP Control IPv4 (10) or IPv6 (11)" },
		{ SAMPLE_JOIN_REQ, 28, "Join Request: missing mandatory element Location Data (28)" },
		{ SAMPLE_JOIN_REQ, 38, "WTP Board Data (38)" },
		{ SAMPLE_JOIN_REQ, 39, "WTP Descriptor (39)" },
		{ SAMPLE_JOIN_REQ, 45, "WTP Name (45)" },
		{ SAMPLE_JOIN_REQ, 35, "Session ID (35)" },
		{ SAMPLE_JOIN_REQ, 41, "WTP Frame Tunnel Mode (41)" },
		{ SAMPLE_JOIN_REQ, 44, "WTP MAC Type (44)" },
		{ SAMPLE_JOIN_REQ, 1048, "WTP Radio Information (1048)" },
		{ SAMPLE_JOIN_REQ, 53, "ECN Support (53)" },
		{ SAMPLE_JOIN_REQ, 30, "CAPWAP Local IPv4 (30) or IPv6 (50)" },
		{ SAMPLE_JOIN_RESP, 33, "Join Response: missing mandatory element Result Code (33)" },
		{ SAMPLE_JOIN_RESP, 1, "AC Descriptor (1)" },
		{ SAMPLE_JOIN_RESP, 4, "AC Name (4)" },
		{ SAMPLE_JOIN_RESP, 1048, "WTP Radio Information (1048)" },
		{ SAMPLE_JOIN_RESP, 53, "ECN Support (53)" },
		{ SAMPLE_JOIN_RESP, 10, "CAPWAP Control IPv4 (10) or IPv6 (11)" },
		{ SAMPLE_JOIN_RESP, 30, "CAPWAP Local IPv4 (30) or IPv6 (50)" },
		{ SAMPLE_CONFIG_STATUS_REQ, 4, "Configuration Status Request: missing mandatory element AC Name (4)" },
		{ SAMPLE_CONFIG_STATUS_REQ, 31, "Radio Administrative State (31)" },
		{ SAMPLE_CONFIG_STATUS_REQ, 36, "Statistics Timer (36)" },
		{ SAMPLE_CONFIG_STATUS_REQ, 48, "WTP Reboot Statistics (48)" },
		{ SAMPLE_CONFIG_STATUS_RESP, 12, "CAPWAP Timers (12)" },
		{ SAMPLE_CONFIG_STATUS_RESP, 16, "Decryption Error Report Period (16)" },
		{ SAMPLE_CONFIG_STATUS_RESP, 23, "Idle Timeout (23)" },
		{ SAMPLE_CONFIG_STATUS_RESP, 40, "WTP Fallback (40)" },
		{ SAMPLE_CONFIG_STATUS_RESP, 2, "AC IPv4 List (2) or AC IPv6 List (3)" },
		{ SAMPLE_UPDATE_PARAMS, 37, "Configuration Update Request: missing mandatory element one configuration element" },
		{ SAMPLE_UPDATE_RESP, 33, "Configuration Update Response: missing mandatory element Result Code (33)" },
		{ SAMPLE_WTP_EVENT_CSR, 37, "WTP Event Request: missing mandatory element one event element" },
		{ SAMPLE_CHANGE_STATE_REQ, 32, "Radio Operational State (32)" },
		{ SAMPLE_CHANGE_STATE_REQ, 33, "Change State Event Request: missing mandatory element Result Code (33)" },
		{ SAMPLE_RESET_REQ, 25, "Reset Request: missing mandatory element Image Identifier (25)" },
	};
	struct capwap_message m, d;
	struct capwap_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct capwap_elem kept[CAPWAP_MAX_ELEMENTS];
		struct capwap_writer w;
		size_t len, n = 0, j, blen;

		sample_message(&m, cases[i].kind, 42, &blobs);
		len = encode_ok(&m, buf, sizeof(buf));
		assert_int_equal(decode(buf, len, &d, &err), CAPWAP_OK);
		for (j = 0; j < d.n_raw; j++)
			if (d.raw[j].type != cases[i].drop)
				kept[n++] = d.raw[j];
		assert_true(n < d.n_raw);
		blen = sample_raw_packet(bad, sizeof(bad), m.type, 42, kept, n);
		assert_int_equal(decode(bad, blen, &d, &err), CAPWAP_ERR_MISSING);
		assert_reason(&err, cases[i].needle);
		assert_true(d.ctrl_valid);
		assert_int_equal(d.type, m.type);
		assert_int_equal(d.seq, 42);

		/* The encoder holds itself to the same table. */
		d.n_raw = 0;
		capwap_writer_init(&w, buf, sizeof(buf));
		assert_int_equal(capwap_encode(&w, &d, &err), CAPWAP_ERR_MISSING);
		assert_reason(&err, cases[i].needle);
		assert_int_equal(w.len, 0);
	}
}

/* "At least one of" lists accept any listed element, and any binding one. */
static void test_at_least_one_of(void **state)
{
	static const uint8_t v[16] = { 1 };
	static const uint16_t update_ok[] = { 5, 6, 12, 23, 28, 36, 40, 45, 1046 };
	static const uint16_t event_ok[] = { 37, 48, 1039 };
	uint8_t buf[128];
	struct capwap_message d;
	struct capwap_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(update_ok) / sizeof(update_ok[0]); i++) {
		const uint16_t lens[] = { [5] = 5, [6] = 4, [12] = 2, [23] = 4,
					  [28] = 3, [36] = 2, [40] = 1, [45] = 3 };
		uint16_t t = update_ok[i];
		struct capwap_elem e = { t, t < sizeof(lens) / sizeof(lens[0]) ? lens[t] : 16, v };
		size_t len = sample_raw_packet(buf, sizeof(buf),
					       CAPWAP_CONFIG_UPDATE_REQUEST, 1, &e, 1);

		if (decode(buf, len, &d, &err) != CAPWAP_OK)
			fail_msg("type %u: %s", t, err.reason);
	}
	for (i = 0; i < sizeof(event_ok) / sizeof(event_ok[0]); i++) {
		uint16_t t = event_ok[i];
		struct capwap_elem e = { t, t == 48 ? 15 : 9, v };
		size_t len = sample_raw_packet(buf, sizeof(buf),
					       CAPWAP_WTP_EVENT_REQUEST, 1, &e, 1);

		if (decode(buf, len, &d, &err) != CAPWAP_OK)
			fail_msg("type %u: %s", t, err.reason);
	}
	/* A Result Code alone is not a configuration element. */
	{
		struct capwap_elem e = { CAPWAP_ELEM_RESULT_CODE, 4, v };
		size_t len = sample_raw_packet(buf, sizeof(buf),
					       CAPWAP_CONFIG_UPDATE_REQUEST, 1, &e, 1);

		assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_MISSING);
	}
}

/* ------------------------------------------------------------------------
 * Limits
 * ------------------------------------------------------------------------ */

static void test_too_many_elements(void **state)
{
	static uint8_t buf[100000];
	static struct capwap_elem e[10000];
	static const uint8_t v[8] = { 1, 0, 0, 0, 1 };
	struct capwap_message d;
	struct capwap_error err;
	size_t len, i;

	(void)state;
	for (i = 0; i < 10000; i++)
		e[i] = (struct capwap_elem){ CAPWAP_ELEM_CISCO_WTP_IPV4, 4, v };
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST, 1, e,
				CAPWAP_MAX_ELEMENTS);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_OK);
	assert_int_equal(d.n_raw, CAPWAP_MAX_ELEMENTS);
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST, 1, e,
				CAPWAP_MAX_ELEMENTS + 1);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_LIMIT);
	assert_reason(&err, "more than 128 elements");
	/* 8 000 tiny elements (as many as Msg Element Length can announce):
	 * capped at the limit, not walked to the end. */
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST, 1, e, 8000);
	assert_int_equal(len, 16 + 8000 * 8);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_LIMIT);
	assert_int_equal(d.n_raw, CAPWAP_MAX_ELEMENTS);

	/* Per-kind caps of the fixed arrays. */
	for (i = 0; i < 40; i++)
		e[i] = (struct capwap_elem){ CAPWAP_ELEM_IEEE80211_RADIO_INFO, 5, v };
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST, 1, e, 32);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_LIMIT);
	assert_reason(&err, "Radio Information (1048): more than 31");
	for (i = 0; i < 40; i++)
		e[i] = (struct capwap_elem){ CAPWAP_ELEM_RADIO_ADMIN_STATE, 2, v };
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST, 1, e, 32);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_OK);
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST, 1, e, 33);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_LIMIT);
	for (i = 0; i < 40; i++)
		e[i] = (struct capwap_elem){ CAPWAP_ELEM_RADIO_OPER_STATE, 3, v };
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST, 1, e, 32);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_LIMIT);
	for (i = 0; i < 40; i++)
		e[i] = (struct capwap_elem){ CAPWAP_ELEM_VENDOR_SPECIFIC, 5, v };
	for (i = 0; i < 40; i++)
		e[i].len = 6;
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST, 1, e, 16);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_OK);
	assert_int_equal(d.n_vsp, 16);
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST, 1, e, 17);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_LIMIT);
	assert_reason(&err, "Vendor Specific Payload (37): more than 16");
}

static void test_ac_ipv4_list_limits(void **state)
{
	static const uint8_t v[40] = { 10 };
	uint8_t buf[128];
	struct capwap_message d;
	struct capwap_error err;
	struct capwap_elem e = { CAPWAP_ELEM_AC_IPV4_LIST, 32, v };
	size_t len;

	(void)state;
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST, 1, &e, 1);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_OK);
	assert_int_equal(d.n_ac_ipv4, 8);
	e.len = 36;
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST, 1, &e, 1);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_LIMIT);
	e.len = 6;
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST, 1, &e, 1);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "not a multiple of 4");
	e.type = CAPWAP_ELEM_AC_IPV6_LIST;
	e.len = 20;
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST, 1, &e, 1);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "not a multiple of 16");
}

/* ------------------------------------------------------------------------
 * Message-level oddities
 * ------------------------------------------------------------------------ */

static void test_unsupported_message_type(void **state)
{
	static const uint32_t types[] = { 15, 19, 21, 26, 27, 0, 3398913, 0xffffffff };
	uint8_t buf[64];
	struct capwap_message d;
	struct capwap_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t len = sample_raw_packet(buf, sizeof(buf), types[i], 9, NULL, 0);

		assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_UNSUPPORTED);
		assert_reason(&err, "not supported");
		/* Enough to answer an odd type with Result Code 19. */
		assert_true(d.ctrl_valid);
		assert_int_equal(d.type, types[i]);
		assert_int_equal(d.seq, 9);
	}
}

static void test_fragment_not_decoded(void **state)
{
	static uint8_t buf[BUF_SIZE];
	struct capwap_message m, d;
	struct capwap_error err;
	size_t len;

	(void)state;
	sample_message(&m, SAMPLE_ECHO_REQ, 1, &blobs);
	len = encode_ok(&m, buf, sizeof(buf));
	buf[3] |= 0x80;	/* F */
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_FRAGMENT);
	assert_reason(&err, "reassemble");
	assert_false(d.ctrl_valid);
}

static void test_control_header_short(void **state)
{
	uint8_t buf[16] = { 0x00, 0x10, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 13, 1, 0, 3, 0 };
	struct capwap_message d;
	struct capwap_error err;
	size_t len;

	(void)state;
	assert_int_equal(decode(buf, 16, &d, &err), CAPWAP_OK);
	assert_int_equal(d.type, CAPWAP_ECHO_REQUEST);
	for (len = 8; len < 16; len++) {
		assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_TRUNCATED);
		assert_reason(&err, "control header");
		assert_false(d.ctrl_valid);
	}
}

/* ------------------------------------------------------------------------
 * Nested sub-elements: bounded by their parent
 * ------------------------------------------------------------------------ */

struct nested_case {
	const char *what;
	uint16_t type;
	const uint8_t *value;
	uint16_t len;
	enum capwap_status st;
	const char *needle;
};

static void run_nested(const struct nested_case *c, size_t n)
{
	uint8_t buf[2048];
	struct capwap_message d;
	struct capwap_error err;
	size_t i;

	for (i = 0; i < n; i++) {
		struct capwap_elem e = { c[i].type, c[i].len, c[i].value };
		size_t len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST,
					       1, &e, 1);
		enum capwap_status st = decode(buf, len, &d, &err);

		if (st != c[i].st)
			fail_msg("%s: %s (%s)", c[i].what, capwap_status_name(st), err.reason);
		if (c[i].needle != NULL)
			assert_reason(&err, c[i].needle);
	}
}

static void test_board_data_nested(void **state)
{
	static const uint8_t good[] = {
		0x00, 0x40, 0x96, 0x00,
		0x00, 0x00, 0x00, 0x01, 'M',
		0x00, 0x01, 0x00, 0x01, 'S',
	};
	static const uint8_t overrun[] = {
		0x00, 0x40, 0x96, 0x00,
		0x00, 0x00, 0x00, 0x01, 'M',
		0x00, 0x01, 0x03, 0x84, 'S',	/* length 900 */
	};
	static const uint8_t half_header[] = {
		0x00, 0x40, 0x96, 0x00,
		0x00, 0x00, 0x00, 0x01, 'M',
		0x00, 0x01, 0x00, 0x01, 'S',
		0x00, 0x02,
	};
	static const uint8_t vendor0[] = {
		0, 0, 0, 0,
		0x00, 0x00, 0x00, 0x01, 'M',
		0x00, 0x01, 0x00, 0x01, 'S',
	};
	static const uint8_t no_model[] = {
		0x00, 0x40, 0x96, 0x00,
		0x00, 0x02, 0x00, 0x01, 'M',
		0x00, 0x01, 0x00, 0x01, 'S',
	};
	static const uint8_t dup_serial[] = {
		0x00, 0x40, 0x96, 0x00,
		0x00, 0x01, 0x00, 0x01, 'M',
		0x00, 0x01, 0x00, 0x01, 'S',
	};
	static const uint8_t bad_mac[] = {
		0x00, 0x40, 0x96, 0x00,
		0x00, 0x00, 0x00, 0x01, 'M',
		0x00, 0x01, 0x00, 0x01, 'S',
		0x00, 0x04, 0x00, 0x05, 1, 2, 3, 4, 5,
	};
	static const uint8_t unknown_sub[] = {
		0x00, 0x40, 0x96, 0x00,
		0x00, 0x00, 0x00, 0x01, 'M',
		0x00, 0x09, 0x00, 0x02, 'x', 'y',
		0x00, 0x01, 0x00, 0x01, 'S',
	};
	static uint8_t big[4 + 4 + 1025 + 5];
	const struct nested_case cases[] = {
		{ "good", 38, good, sizeof(good), CAPWAP_OK, NULL },
		{ "overrun", 38, overrun, sizeof(overrun), CAPWAP_ERR_TRUNCATED,
		  "type 1 at offset 9 length 900 past end (1 left)" },
		{ "half header", 38, half_header, sizeof(half_header),
		  CAPWAP_ERR_TRUNCATED, "needs 4 bytes, 2 left" },
		{ "vendor 0", 38, vendor0, sizeof(vendor0), CAPWAP_ERR_MALFORMED,
		  "WTP Board Data (38): vendor identifier 0" },
		{ "no model", 38, no_model, sizeof(no_model), CAPWAP_ERR_MALFORMED,
		  "mandatory sub-element 0 (model) missing" },
		{ "dup", 38, dup_serial, sizeof(dup_serial), CAPWAP_ERR_MALFORMED,
		  "sub-element 1 (serial number) appears twice" },
		{ "bad mac", 38, bad_mac, sizeof(bad_mac), CAPWAP_ERR_MALFORMED,
		  "base MAC length 5" },
		{ "unknown sub", 38, unknown_sub, sizeof(unknown_sub), CAPWAP_OK, NULL },
		{ "sub > 1024", 38, big, sizeof(big), CAPWAP_ERR_MALFORMED,
		  "length 1025 over 1024" },
	};

	(void)state;
	memcpy(big, "\x00\x40\x96\x00\x00\x00\x04\x01", 8);
	memcpy(big + 8 + 1025, "\x00\x01\x00\x01S", 5);
	run_nested(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_descriptors_nested(void **state)
{
	/* max radios, in use, Num Encrypt 1, {wbid, caps}, then 3 subs */
#define WTPD_SUBS \
	0, 0, 0, 0, 0x00, 0x00, 0x00, 0x01, 'h', \
	0, 0, 0, 0, 0x00, 0x01, 0x00, 0x01, 's', \
	0, 0, 0, 0, 0x00, 0x02, 0x00, 0x01, 'b'
	static const uint8_t wtpd_good[] = { 2, 2, 1, 1, 0, 0, WTPD_SUBS };
	static const uint8_t wtpd_enc0[] = { 2, 2, 0, 1, 0, 0, WTPD_SUBS };
	static const uint8_t wtpd_enc_big[] = { 2, 2, 11, 1, 0, 0, WTPD_SUBS };
	static const uint8_t wtpd_no_boot[] = { 2, 2, 1, 1, 0, 0,
		0, 0, 0, 0, 0x00, 0x00, 0x00, 0x01, 'h',
		0, 0, 0, 0, 0x00, 0x01, 0x00, 0x01, 's',
		0, 0, 0, 0, 0x00, 0x03, 0x00, 0x01, 'o' };
	static const uint8_t wtpd_overrun[] = { 2, 2, 1, 1, 0, 0,
		0, 0, 0, 0, 0x00, 0x00, 0x00, 0x01, 'h',
		0, 0, 0, 0, 0x00, 0x01, 0x00, 0x01, 's',
		0, 0, 0, 0, 0x00, 0x02, 0x00, 0x09, 'b' };
	static const uint8_t wtpd_dup[] = { 2, 2, 1, 1, 0, 0,
		0, 0, 0, 0, 0x00, 0x00, 0x00, 0x01, 'h',
		0, 0, 0, 0, 0x00, 0x00, 0x00, 0x01, 's',
		0, 0, 0, 0, 0x00, 0x02, 0x00, 0x01, 'b' };
	static const uint8_t wtpd_short_sub[] = { 2, 2, 1, 1, 0, 0, WTPD_SUBS, 0, 0, 0 };
	/* Nine encryption entries: eight kept, the ninth skipped. */
	static const uint8_t wtpd_nine[] = { 2, 2, 9,
		1, 0, 1, 1, 0, 2, 1, 0, 3, 1, 0, 4, 1, 0, 5, 1, 0, 6, 1, 0, 7,
		1, 0, 8, 1, 0, 9, WTPD_SUBS };
#define ACD_FIXED 0, 0, 0, 10, 0, 1, 0, 100, 2, 2, 0, 2
	static const uint8_t acd_good[] = { ACD_FIXED,
		0, 0, 0, 0, 0x00, 0x04, 0x00, 0x01, 'h',
		0, 0x40, 0x96, 0, 0x00, 0x05, 0x00, 0x01, 's' };
	static const uint8_t acd_no_sw[] = { ACD_FIXED,
		0, 0, 0, 0, 0x00, 0x04, 0x00, 0x01, 'h' };
	static const uint8_t acd_overrun[] = { ACD_FIXED,
		0, 0, 0, 0, 0x00, 0x04, 0x00, 0x01, 'h',
		0, 0, 0, 0, 0x00, 0x05, 0x00, 0x02, 's' };
	static const uint8_t acd_short[] = { ACD_FIXED,
		0, 0, 0, 0, 0x00, 0x04, 0x00, 0x01, 'h',
		0, 0, 0, 0, 0x00 };
	static const uint8_t ret_bad[] = { 1, 5, 0, 1, 0, 0 };
	static const uint8_t ret_good[] = { 1, 4, 0, 1, 0, 0 };
	const struct nested_case cases[] = {
		{ "wtpd good", 39, wtpd_good, sizeof(wtpd_good), CAPWAP_OK, NULL },
		{ "wtpd enc 0", 39, wtpd_enc0, sizeof(wtpd_enc0), CAPWAP_ERR_MALFORMED,
		  "WTP Descriptor (39): Num Encrypt 0" },
		{ "wtpd enc big", 39, wtpd_enc_big, sizeof(wtpd_enc_big),
		  CAPWAP_ERR_MALFORMED, "Num Encrypt 11 needs 33 bytes, 30 left" },
		{ "wtpd no boot", 39, wtpd_no_boot, sizeof(wtpd_no_boot),
		  CAPWAP_ERR_MALFORMED, "mandatory sub-element 2 (boot version) missing" },
		{ "wtpd overrun", 39, wtpd_overrun, sizeof(wtpd_overrun),
		  CAPWAP_ERR_TRUNCATED, "sub-element 2 length 9 past end (1 left)" },
		{ "wtpd dup", 39, wtpd_dup, sizeof(wtpd_dup), CAPWAP_ERR_MALFORMED,
		  "sub-element 0 (hardware version) appears twice" },
		{ "wtpd short sub", 39, wtpd_short_sub, sizeof(wtpd_short_sub),
		  CAPWAP_ERR_TRUNCATED, "needs 8 bytes, 3 left" },
		{ "wtpd nine", 39, wtpd_nine, sizeof(wtpd_nine), CAPWAP_OK, NULL },
		{ "acd good", 1, acd_good, sizeof(acd_good), CAPWAP_OK, NULL },
		{ "acd no sw", 1, acd_no_sw, sizeof(acd_no_sw), CAPWAP_ERR_MALFORMED,
		  "AC Descriptor (1): mandatory sub-element 5 (software version) missing" },
		{ "acd overrun", 1, acd_overrun, sizeof(acd_overrun),
		  CAPWAP_ERR_TRUNCATED, "sub-element 5 length 2 past end (1 left)" },
		{ "acd short", 1, acd_short, sizeof(acd_short), CAPWAP_ERR_TRUNCATED,
		  "needs 8 bytes, 5 left" },
		{ "returned bad", 34, ret_bad, sizeof(ret_bad), CAPWAP_ERR_MALFORMED,
		  "inner length 5 but 4 bytes follow" },
		{ "returned good", 34, ret_good, sizeof(ret_good), CAPWAP_OK, NULL },
	};
	uint8_t buf[256];
	struct capwap_message d;
	struct capwap_error err;
	struct capwap_elem e = { 39, sizeof(wtpd_nine), wtpd_nine };
	size_t len;

	(void)state;
	run_nested(cases, sizeof(cases) / sizeof(cases[0]));
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST, 1, &e, 1);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_OK);
	assert_int_equal(d.wtp_descriptor.n_encrypt, CAPWAP_MAX_ENCRYPT);
	assert_int_equal(d.wtp_descriptor.encrypt[7].capabilities, 8);
	assert_int_equal(d.wtp_descriptor.boot_version.value.ptr[0], 'b');
}

/* ------------------------------------------------------------------------
 * Vendor Specific Payloads
 * ------------------------------------------------------------------------ */

static void test_vsp_kept_raw(void **state)
{
	static const uint8_t other_vendor[] = { 0, 0, 0, 9, 0, 104, 0, 0x40, 0x96, 0, 0, 63, 1 };
	static const uint8_t cisco_other_id[] = { 0, 0x40, 0x96, 0, 0, 5, 'a', 'p' };
	static const uint8_t cisco_104_inner_73[] = {
		0, 0x40, 0x96, 0, 0, 104, 0, 0x40, 0x96, 0, 0, 73, 5, 0xdc, 0, 0 };
	static const uint8_t cisco_104_other_inner_vendor[] = {
		0, 0x40, 0x96, 0, 0, 104, 0, 0, 0, 9, 0, 63, 0, 1, 0, 1, 1 };
	static const uint8_t cisco_104_short[] = { 0, 0x40, 0x96, 0, 0, 104, 0, 0x40, 0x96, 0, 0 };
	static const uint8_t empty_cisco[] = { 0, 0x40, 0x96, 0, 0, 123 };
	struct capwap_elem e[] = {
		{ 37, sizeof(other_vendor), other_vendor },
		{ 37, sizeof(cisco_other_id), cisco_other_id },
		{ 37, sizeof(cisco_104_inner_73), cisco_104_inner_73 },
		{ 37, sizeof(cisco_104_other_inner_vendor), cisco_104_other_inner_vendor },
		{ 37, sizeof(cisco_104_short), cisco_104_short },
		{ 37, sizeof(empty_cisco), empty_cisco },
	};
	uint8_t buf[256];
	struct capwap_message d;
	struct capwap_error err;
	size_t len;

	(void)state;
	len = sample_raw_packet(buf, sizeof(buf), CAPWAP_ECHO_REQUEST, 1, e, 6);
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_OK);
	assert_int_equal(d.n_vsp, 6);
	assert_false(d.has_lsc_params);
	assert_int_equal(d.vsp[0].vendor, 9);
	assert_int_equal(d.vsp[0].elem_id, 104);
	assert_int_equal(d.vsp[1].vendor, CAPWAP_VENDOR_CISCO);
	assert_int_equal(d.vsp[1].elem_id, 5);
	assert_int_equal(d.vsp[1].data.len, 2);
	assert_int_equal(d.vsp[2].elem_id, 104);
	assert_int_equal(d.vsp[2].data.len, 10);
	assert_memory_equal(d.vsp[2].data.ptr, cisco_104_inner_73 + 6, 10);
	assert_int_equal(d.vsp[4].data.len, 5);
	assert_int_equal(d.vsp[5].data.len, 0);
}

static void test_vsp_lsc_in_message(void **state)
{
	static uint8_t buf[BUF_SIZE], two[BUF_SIZE];
	struct capwap_message m, d;
	struct capwap_error err;
	struct capwap_elem e[2];
	size_t len, tlen;

	(void)state;
	sample_message(&m, SAMPLE_UPDATE_PARAMS, 5, &blobs);
	len = encode_ok(&m, buf, sizeof(buf));
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_OK);
	assert_true(d.has_lsc_params);
	assert_int_equal(d.n_vsp, 0);
	assert_int_equal(d.n_raw, 1);
	assert_int_equal(d.raw[0].type, 37);

	/* Twice in one message. */
	e[0] = d.raw[0];
	e[1] = d.raw[0];
	tlen = sample_raw_packet(two, sizeof(two), CAPWAP_CONFIG_UPDATE_REQUEST, 5, e, 2);
	assert_int_equal(decode(two, tlen, &d, &err), CAPWAP_ERR_DUPLICATE);
	assert_reason(&err, "LSC parameters (VSP 104/63) appear twice");

	/* A bad body fails the message (Result Code 21 territory), with the
	 * header still usable and the element last in raw. */
	/* Version sub-TLV value sits right after the 16-byte envelope. */
	assert_int_equal(buf[16 + 16 + 4], 1);
	buf[16 + 16 + 4] = 2;
	assert_int_equal(decode(buf, len, &d, &err), CAPWAP_ERR_UNSUPPORTED);
	assert_reason(&err, "Version 2");
	assert_true(d.ctrl_valid);
	assert_int_equal(d.raw[d.n_raw - 1].type, 37);
	assert_false(d.has_lsc_params);
}

/* ------------------------------------------------------------------------
 * Encoder refusals
 * ------------------------------------------------------------------------ */

static void test_encode_nospace_every_size(void **state)
{
	static uint8_t buf[BUF_SIZE + 16];
	struct capwap_message m;
	struct capwap_writer w;
	struct capwap_error err;
	size_t full, cap;
	int k;

	(void)state;
	for (k = 0; k < SAMPLE_COUNT; k += 3) {
		sample_message(&m, (enum sample_kind)k, 1, &blobs);
		full = encode_ok(&m, buf, BUF_SIZE);
		for (cap = 0; cap < full; cap += (full > 600 ? 37 : 1)) {
			memset(buf, 0xa5, sizeof(buf));
			capwap_writer_init(&w, buf, cap);
			assert_int_equal(capwap_encode(&w, &m, &err), CAPWAP_ERR_NOSPACE);
			assert_true(w.overflow);
			assert_true(w.len <= cap);
			/* Nothing past cap was touched. */
			assert_int_equal(buf[cap], 0xa5);
		}
	}
}

static void test_encode_refuses_invalid(void **state)
{
	static uint8_t buf[BUF_SIZE];
	struct capwap_message m;
	struct capwap_writer w;
	struct capwap_error err;

	(void)state;
	sample_message(&m, SAMPLE_DISCOVERY_RESP, 1, &blobs);
	m.ac_name.len = 0;
	capwap_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(capwap_encode(&w, &m, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "AC Name (4): length 0");
	assert_int_equal(w.len, 0);

	sample_message(&m, SAMPLE_DISCOVERY_REQ, 1, &blobs);
	m.wtp_descriptor.n_encrypt = 0;
	capwap_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(capwap_encode(&w, &m, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "WTP Descriptor (39): 0 encryption entries");

	sample_message(&m, SAMPLE_DISCOVERY_REQ, 1, &blobs);
	m.board_data.vendor = 0;
	capwap_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(capwap_encode(&w, &m, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "vendor identifier 0");

	sample_message(&m, SAMPLE_DISCOVERY_REQ, 1, &blobs);
	m.hdr.radio_mac_len = 7;
	capwap_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(capwap_encode(&w, &m, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "MAC length 7");

	sample_message(&m, SAMPLE_UPDATE_PARAMS, 1, &blobs);
	m.lsc_params.key_size = 1024;
	capwap_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(capwap_encode(&w, &m, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "RSA key size 1024");

	sample_message(&m, SAMPLE_UPDATE_ROOT, 1, &blobs);
	m.lsc_cert.object.len = 0;
	capwap_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(capwap_encode(&w, &m, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "Object (4) missing");

	sample_message(&m, SAMPLE_ECHO_REQ, 1, &blobs);
	m.type = 21;
	capwap_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(capwap_encode(&w, &m, &err), CAPWAP_ERR_UNSUPPORTED);

	sample_message(&m, SAMPLE_JOIN_REQ, 1, &blobs);
	m.wtp_descriptor.hardware_version.value.len = 1025;
	capwap_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(capwap_encode(&w, &m, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "over 1024");
}

/* RFC 5415 §4.5: an unknown request gets type + 1 with Result Code 19. That
 * response type is unknown to the codec as well, yet must be encodable;
 * an unknown request type, or an unknown response without a Result Code,
 * still is not. */
static void test_encode_answer_to_unknown_request(void **state)
{
	static struct capwap_message m, back;
	struct capwap_error err;
	struct capwap_writer w;
	uint8_t buf[256];
	(void)state;

	capwap_message_init(&m, 100, 42);
	m.has_result_code = true;
	m.result_code = CAPWAP_RESULT_UNRECOGNIZED_REQUEST;
	capwap_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(capwap_encode(&w, &m, &err), CAPWAP_OK);
	/* the decoder does not know type 100 either, but reads its header */
	assert_int_equal(capwap_decode(buf, w.len, &back, &err), CAPWAP_ERR_UNSUPPORTED);
	assert_true(back.ctrl_valid);
	assert_int_equal(back.type, 100);
	assert_int_equal(back.seq, 42);

	capwap_message_init(&m, 100, 42);
	capwap_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(capwap_encode(&w, &m, &err), CAPWAP_ERR_UNSUPPORTED);
	capwap_message_init(&m, 99, 42);
	m.has_result_code = true;
	assert_int_equal(capwap_encode(&w, &m, &err), CAPWAP_ERR_UNSUPPORTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_sample),
		cmocka_unit_test(test_roundtrip_every_element),
		cmocka_unit_test(test_encode_raw_extras),
		cmocka_unit_test(test_enroll_pending_bytes),
		cmocka_unit_test(test_truncated_every_length),
		cmocka_unit_test(test_msg_element_length_lies),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_element_length_past_end),
		cmocka_unit_test(test_wrong_element_lengths),
		cmocka_unit_test(test_zero_length_allowed),
		cmocka_unit_test(test_unknown_element),
		cmocka_unit_test(test_element_type_zero),
		cmocka_unit_test(test_cisco_42_43_accepted),
		cmocka_unit_test(test_known_opaque_elements_accepted),
		cmocka_unit_test(test_duplicate_singular),
		cmocka_unit_test(test_repeatable_elements),
		cmocka_unit_test(test_missing_mandatory),
		cmocka_unit_test(test_at_least_one_of),
		cmocka_unit_test(test_too_many_elements),
		cmocka_unit_test(test_ac_ipv4_list_limits),
		cmocka_unit_test(test_unsupported_message_type),
		cmocka_unit_test(test_fragment_not_decoded),
		cmocka_unit_test(test_control_header_short),
		cmocka_unit_test(test_board_data_nested),
		cmocka_unit_test(test_descriptors_nested),
		cmocka_unit_test(test_vsp_kept_raw),
		cmocka_unit_test(test_vsp_lsc_in_message),
		cmocka_unit_test(test_encode_nospace_every_size),
		cmocka_unit_test(test_encode_refuses_invalid),
		cmocka_unit_test(test_encode_answer_to_unknown_request),
	};

	sample_blobs_init(&blobs);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
