/*
 * test_capwap_wire.c — the bounded writer, status and type names, and the
 * CAPWAP transport header (§1.3, §1.4, §5.2 rows 1–5).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "capwap/capwap.h"

static void assert_reason(const struct capwap_error *err, const char *needle)
{
	if (strstr(err->reason, needle) == NULL)
		fail_msg("reason \"%s\" does not mention \"%s\"", err->reason, needle);
}

static void test_writer_big_endian(void **state)
{
	uint8_t buf[16];
	struct capwap_writer w;
	static const uint8_t expect[] = { 0xab, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 'x', 'y' };

	(void)state;
	capwap_writer_init(&w, buf, sizeof(buf));
	capwap_put_u8(&w, 0xab);
	capwap_put_be16(&w, 0x1234);
	capwap_put_be32(&w, 0xdeadbeef);
	capwap_put_data(&w, "xy", 2);
	capwap_put_data(&w, NULL, 0);
	assert_false(w.overflow);
	assert_int_equal(w.len, sizeof(expect));
	assert_memory_equal(buf, expect, sizeof(expect));
}

/* A value that does not fit is not written at all, the flag sticks, and
 * later smaller writes do not sneak in after the gap. */
static void test_writer_overflow_sticky(void **state)
{
	uint8_t buf[8];
	struct capwap_writer w;

	(void)state;
	memset(buf, 0xee, sizeof(buf));
	capwap_writer_init(&w, buf, 5);
	capwap_put_be32(&w, 0x01020304);
	capwap_put_be16(&w, 0x0506);	/* needs 2, 1 left */
	assert_true(w.overflow);
	assert_int_equal(w.len, 4);
	capwap_put_u8(&w, 0x07);	/* would fit, but the stream is broken */
	assert_int_equal(w.len, 4);
	assert_int_equal(buf[4], 0xee);
	assert_int_equal(buf[5], 0xee);

	capwap_writer_init(&w, NULL, 100);
	capwap_put_u8(&w, 1);
	assert_true(w.overflow);
	assert_int_equal(w.len, 0);

	memset(buf, 0xee, sizeof(buf));
	capwap_writer_init(&w, buf, 3);
	capwap_put_data(&w, "abcd", 4);
	assert_true(w.overflow);
	assert_int_equal(w.len, 0);
	assert_int_equal(buf[0], 0xee);
}

static void test_names(void **state)
{
	enum capwap_status st;
	size_t i, j;
	const char *names[CAPWAP_ERR_NOSPACE + 1];

	(void)state;
	for (st = CAPWAP_OK; st <= CAPWAP_ERR_NOSPACE; st++) {
		names[st] = capwap_status_name(st);
		assert_non_null(names[st]);
		assert_true(strlen(names[st]) > 0);
		assert_string_not_equal(names[st], "unknown status");
	}
	for (i = 0; i <= CAPWAP_ERR_NOSPACE; i++)
		for (j = i + 1; j <= CAPWAP_ERR_NOSPACE; j++)
			assert_string_not_equal(names[i], names[j]);
	assert_string_equal(capwap_status_name(CAPWAP_ERR_TRUNCATED), "truncated");
	assert_string_equal(capwap_status_name((enum capwap_status)99), "unknown status");

	assert_string_equal(capwap_msg_type_name(3), "Join Request");
	assert_string_equal(capwap_msg_type_name(8), "Configuration Update Response");
	assert_string_equal(capwap_msg_type_name(18), "Reset Response");
	assert_string_equal(capwap_msg_type_name(3398913), "IEEE 802.11 WLAN Configuration Request");
	assert_string_equal(capwap_msg_type_name(0), "Unknown");
	assert_string_equal(capwap_msg_type_name(27), "Unknown");
	assert_string_equal(capwap_msg_type_name(0xffffffffu), "Unknown");

	assert_string_equal(capwap_elem_type_name(38), "WTP Board Data");
	assert_string_equal(capwap_elem_type_name(33), "Result Code");
	assert_string_equal(capwap_elem_type_name(1048), "IEEE 802.11 WTP Radio Information");
	assert_string_equal(capwap_elem_type_name(42), "Cisco WTP IPv4 Address");
	assert_string_equal(capwap_elem_type_name(0), "Unknown");
	assert_string_equal(capwap_elem_type_name(999), "Unknown");
	assert_string_equal(capwap_elem_type_name(65535), "Unknown");

	assert_int_equal(capwap_response_type(CAPWAP_JOIN_REQUEST), CAPWAP_JOIN_RESPONSE);
	assert_true(capwap_is_request(CAPWAP_ECHO_REQUEST));
	assert_false(capwap_is_request(CAPWAP_ECHO_RESPONSE));
}

static size_t encode_header(const struct capwap_header *h, uint8_t *buf, size_t cap)
{
	struct capwap_writer w;

	capwap_writer_init(&w, buf, cap);
	assert_int_equal(capwap_header_encode(&w, h), CAPWAP_OK);
	return w.len;
}

/* §1.4's two examples, byte for byte. */
static void test_header_examples(void **state)
{
	static const uint8_t plain[] = { 0x00, 0x10, 0x02, 0x00, 0, 0, 0, 0 };
	static const uint8_t with_mac[] = {
		0x00, 0x20, 0x02, 0x10, 0, 0, 0, 0,
		0x06, 0x28, 0x6f, 0x7f, 0xcf, 0x53, 0xac, 0x00,
	};
	struct capwap_header h, d;
	struct capwap_error err;
	uint8_t buf[64];
	size_t len, hlen;

	(void)state;
	memset(&h, 0, sizeof(h));
	h.wbid = CAPWAP_WBID_IEEE80211;
	len = encode_header(&h, buf, sizeof(buf));
	assert_int_equal(len, sizeof(plain));
	assert_memory_equal(buf, plain, sizeof(plain));

	h.radio_mac_len = 6;
	memcpy(h.radio_mac, "\x28\x6f\x7f\xcf\x53\xac", 6);
	len = encode_header(&h, buf, sizeof(buf));
	assert_int_equal(len, sizeof(with_mac));
	assert_memory_equal(buf, with_mac, sizeof(with_mac));

	assert_int_equal(capwap_header_decode(with_mac, sizeof(with_mac), &d, &hlen, &err),
			 CAPWAP_OK);
	assert_int_equal(hlen, 16);
	assert_int_equal(d.radio_mac_len, 6);
	assert_memory_equal(d.radio_mac, h.radio_mac, 6);
	assert_int_equal(d.wbid, 1);
}

static void test_header_roundtrip_fields(void **state)
{
	static const uint8_t winfo[7] = { 1, 2, 3, 4, 5, 6, 7 };
	struct capwap_header h, d;
	struct capwap_error err;
	uint8_t buf[64];
	size_t len, hlen;

	(void)state;
	memset(&h, 0, sizeof(h));
	h.radio_id = 31;
	h.wbid = 3;
	h.native_frame = true;
	h.fragment = true;
	h.last_fragment = true;
	h.frag_id = 0xbeef;
	h.frag_offset = 0x1fff;
	h.radio_mac_len = 8;
	memcpy(h.radio_mac, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	h.wireless_info.ptr = winfo;
	h.wireless_info.len = sizeof(winfo);
	len = encode_header(&h, buf, sizeof(buf));
	/* 8 + (1+8 -> 12) + (1+7 -> 8) */
	assert_int_equal(len, 28);
	assert_int_equal(capwap_header_decode(buf, len, &d, &hlen, &err), CAPWAP_OK);
	assert_int_equal(hlen, 28);
	assert_int_equal(d.radio_id, 31);
	assert_int_equal(d.wbid, 3);
	assert_true(d.native_frame);
	assert_true(d.fragment);
	assert_true(d.last_fragment);
	assert_false(d.keepalive);
	assert_int_equal(d.frag_id, 0xbeef);
	assert_int_equal(d.frag_offset, 0x1fff);
	assert_int_equal(d.radio_mac_len, 8);
	assert_memory_equal(d.radio_mac, h.radio_mac, 8);
	assert_int_equal(d.wireless_info.len, 7);
	assert_memory_equal(d.wireless_info.ptr, winfo, 7);
	/* The view points into the input, right after its length byte. */
	assert_ptr_equal(d.wireless_info.ptr, buf + 21);

	/* Keep-alive alone round trips; with F it is refused. */
	memset(&h, 0, sizeof(h));
	h.keepalive = true;
	len = encode_header(&h, buf, sizeof(buf));
	assert_int_equal(capwap_header_decode(buf, len, &d, &hlen, &err), CAPWAP_OK);
	assert_true(d.keepalive);
	/* L without F means nothing and is reported as not-last. */
	buf[3] |= 0x40;
	assert_int_equal(capwap_header_decode(buf, len, &d, &hlen, &err), CAPWAP_OK);
	assert_false(d.last_fragment);
	/* Reserved flag bits are ignored. */
	buf[3] |= 0x07;
	buf[7] |= 0x07;
	assert_int_equal(capwap_header_decode(buf, len, &d, &hlen, &err), CAPWAP_OK);
}

static void test_header_encode_refuses(void **state)
{
	struct capwap_header h;
	struct capwap_writer w;
	uint8_t buf[64];

	(void)state;
	memset(&h, 0, sizeof(h));
	h.radio_mac_len = 7;
	capwap_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(capwap_header_encode(&w, &h), CAPWAP_ERR_MALFORMED);
	h.radio_mac_len = 0;
	h.radio_id = 32;
	assert_int_equal(capwap_header_encode(&w, &h), CAPWAP_ERR_MALFORMED);
	h.radio_id = 0;
	h.wbid = 32;
	assert_int_equal(capwap_header_encode(&w, &h), CAPWAP_ERR_MALFORMED);
	h.wbid = 1;
	h.frag_offset = 0x2000;
	assert_int_equal(capwap_header_encode(&w, &h), CAPWAP_ERR_MALFORMED);
	h.frag_offset = 0;
	h.keepalive = true;
	h.fragment = true;
	assert_int_equal(capwap_header_encode(&w, &h), CAPWAP_ERR_MALFORMED);
	h.keepalive = false;
	h.fragment = false;
	h.wireless_info.len = 256;
	h.wireless_info.ptr = buf;
	assert_int_equal(capwap_header_encode(&w, &h), CAPWAP_ERR_MALFORMED);
	assert_int_equal(w.len, 0);
	h.wireless_info.len = 0;
	capwap_writer_init(&w, buf, 7);
	assert_int_equal(capwap_header_encode(&w, &h), CAPWAP_ERR_NOSPACE);
}

struct header_case {
	const char *what;
	uint8_t bytes[24];
	size_t len;
	enum capwap_status st;
	const char *needle;
};

static void test_header_bad_inputs(void **state)
{
	static const struct header_case cases[] = {
		{ "empty", { 0 }, 0, CAPWAP_ERR_TRUNCATED, "empty" },
		{ "1 byte", { 0x00 }, 1, CAPWAP_ERR_TRUNCATED, "needs 8 bytes, packet has 1" },
		{ "3 bytes", { 0x00, 0x10, 0x02 }, 3, CAPWAP_ERR_TRUNCATED, "has 3" },
		{ "7 bytes", { 0x00, 0x10, 0x02, 0, 0, 0, 0 }, 7, CAPWAP_ERR_TRUNCATED, "has 7" },
		{ "version 1", { 0x10, 0x10, 0x02, 0, 0, 0, 0, 0 }, 8,
		  CAPWAP_ERR_UNSUPPORTED, "preamble version 1" },
		{ "version 15", { 0xf0, 0x10, 0x02, 0, 0, 0, 0, 0 }, 8,
		  CAPWAP_ERR_UNSUPPORTED, "preamble version 15" },
		{ "DTLS type", { 0x01, 0, 0, 0, 0x16, 0xfe, 0xfd, 0 }, 8,
		  CAPWAP_ERR_UNSUPPORTED, "decrypt" },
		{ "type 2", { 0x02, 0x10, 0x02, 0, 0, 0, 0, 0 }, 8,
		  CAPWAP_ERR_UNSUPPORTED, "preamble type 2" },
		{ "short DTLS", { 0x01 }, 1, CAPWAP_ERR_UNSUPPORTED, "preamble type 1" },
		{ "HLEN 0", { 0x00, 0x00, 0x02, 0, 0, 0, 0, 0 }, 8,
		  CAPWAP_ERR_MALFORMED, "HLEN 0 words, minimum is 2" },
		{ "HLEN 1", { 0x00, 0x08, 0x02, 0, 0, 0, 0, 0 }, 8,
		  CAPWAP_ERR_MALFORMED, "HLEN 1 words" },
		{ "HLEN past end", { 0x00, 0xf8, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 12,
		  CAPWAP_ERR_TRUNCATED, "HLEN 31 words (124 bytes) past packet end (12 bytes)" },
		{ "HLEN 3 without fields", { 0x00, 0x18, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 12,
		  CAPWAP_ERR_MALFORMED, "HLEN 12 bytes but the header fields take 8" },
		{ "M with HLEN 2", { 0x00, 0x10, 0x02, 0x10, 0, 0, 0, 0, 6, 1, 2, 3 }, 12,
		  CAPWAP_ERR_MALFORMED, "no room for the Radio MAC length" },
		{ "MAC length 0", { 0x00, 0x18, 0x02, 0x10, 0, 0, 0, 0, 0, 0, 0, 0 }, 12,
		  CAPWAP_ERR_MALFORMED, "Radio MAC length 0, must be 6 or 8" },
		{ "MAC length 5", { 0x00, 0x20, 0x02, 0x10, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5, 0, 0 }, 16,
		  CAPWAP_ERR_MALFORMED, "Radio MAC length 5" },
		{ "MAC length 255", { 0x00, 0x20, 0x02, 0x10, 0, 0, 0, 0, 255, 1, 2, 3, 4, 5, 0, 0 }, 16,
		  CAPWAP_ERR_MALFORMED, "Radio MAC length 255" },
		{ "MAC 6 in HLEN 3", { 0x00, 0x18, 0x02, 0x10, 0, 0, 0, 0, 6, 1, 2, 3, 4, 5, 6, 0 }, 16,
		  CAPWAP_ERR_MALFORMED, "Radio MAC (6 bytes, padded 8) runs past HLEN 12" },
		{ "MAC 8 in HLEN 4", { 0x00, 0x20, 0x02, 0x10, 0, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0 }, 20,
		  CAPWAP_ERR_MALFORMED, "Radio MAC (8 bytes, padded 12) runs past HLEN 16" },
		{ "MAC 6 in HLEN 5", { 0x00, 0x28, 0x02, 0x10, 0, 0, 0, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0 }, 20,
		  CAPWAP_ERR_MALFORMED, "HLEN 20 bytes but the header fields take 16" },
		{ "W past HLEN", { 0x00, 0x18, 0x02, 0x20, 0, 0, 0, 0, 9, 1, 2, 3 }, 12,
		  CAPWAP_ERR_MALFORMED, "wireless info (9 bytes, padded 12) runs past HLEN 12" },
		{ "W with HLEN 2", { 0x00, 0x10, 0x02, 0x20, 0, 0, 0, 0 }, 8,
		  CAPWAP_ERR_MALFORMED, "no room for the wireless info length" },
		{ "M+W, W past", { 0x00, 0x20, 0x02, 0x30, 0, 0, 0, 0, 6, 1, 2, 3, 4, 5, 6, 0 }, 16,
		  CAPWAP_ERR_MALFORMED, "no room for the wireless info length" },
	};
	struct capwap_header d;
	struct capwap_error err;
	size_t i, hlen;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum capwap_status st = capwap_header_decode(cases[i].bytes, cases[i].len,
							     &d, &hlen, &err);

		if (st != cases[i].st)
			fail_msg("%s: %s (%s)", cases[i].what, capwap_status_name(st), err.reason);
		assert_reason(&err, cases[i].needle);
		assert_int_equal(err.status, st);
		assert_int_equal(hlen, 0);
	}
}

/* The header decoder must not read past len whatever the flags say: run it
 * over every length of a header that claims everything. */
static void test_header_every_prefix(void **state)
{
	static const uint8_t full[] = {
		0x00, 0x38, 0x02, 0x30, 0, 0, 0, 0,
		8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0,
		7, 1, 2, 3, 4, 5, 6, 7,
		/* control header after */
		0, 0, 0, 13, 0, 0, 3, 0,
	};
	struct capwap_header d;
	struct capwap_error err;
	size_t cut, hlen;

	(void)state;
	assert_int_equal(capwap_header_decode(full, sizeof(full), &d, &hlen, &err), CAPWAP_OK);
	assert_int_equal(hlen, 28);
	for (cut = 0; cut < 28; cut++) {
		uint8_t *copy = test_malloc(cut + 1);

		memcpy(copy, full, cut);
		assert_int_equal(capwap_header_decode(copy, cut, &d, &hlen, &err),
				 CAPWAP_ERR_TRUNCATED);
		test_free(copy);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writer_big_endian),
		cmocka_unit_test(test_writer_overflow_sticky),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_header_examples),
		cmocka_unit_test(test_header_roundtrip_fields),
		cmocka_unit_test(test_header_encode_refuses),
		cmocka_unit_test(test_header_bad_inputs),
		cmocka_unit_test(test_header_every_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
