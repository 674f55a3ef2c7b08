/*
 * test_capwap_lsc.c — the bodies of Cisco 104 → 63 (certificate parameters)
 * and 104 → 64 (LSC certificate payload), lscd's format version 1 (§3.2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "capwap/capwap.h"
#include "tests/unit/test_capwap_samples.h"

static void assert_reason(const struct capwap_error *err, const char *needle)
{
	if (strstr(err->reason, needle) == NULL)
		fail_msg("reason \"%s\" does not mention \"%s\"", err->reason, needle);
}

static void assert_bytes_str(const struct capwap_bytes *b, const char *s)
{
	assert_int_equal(b->len, strlen(s));
	if (b->len > 0)
		assert_memory_equal(b->ptr, s, b->len);
}

static size_t params_encode_ok(const struct capwap_lsc_params *p, uint8_t *buf, size_t cap)
{
	struct capwap_writer w;

	capwap_writer_init(&w, buf, cap);
	assert_int_equal(capwap_lsc_params_encode(&w, p), CAPWAP_OK);
	return w.len;
}

static size_t cert_encode_ok(const struct capwap_lsc_cert *c, uint8_t *buf, size_t cap)
{
	struct capwap_writer w;

	capwap_writer_init(&w, buf, cap);
	assert_int_equal(capwap_lsc_cert_encode(&w, c), CAPWAP_OK);
	return w.len;
}

/* Sub-TLV builder for hand-made bodies. */
struct body {
	uint8_t buf[4096];
	size_t len;
};

static void sub(struct body *b, uint16_t type, const void *v, uint16_t len)
{
	b->buf[b->len++] = (uint8_t)(type >> 8);
	b->buf[b->len++] = (uint8_t)type;
	b->buf[b->len++] = (uint8_t)(len >> 8);
	b->buf[b->len++] = (uint8_t)len;
	memcpy(b->buf + b->len, v, len);
	b->len += len;
}

static void sub_u8(struct body *b, uint16_t type, uint8_t v)
{
	sub(b, type, &v, 1);
}

static void sub_u16(struct body *b, uint16_t type, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	sub(b, type, x, 2);
}

static void sub_u32(struct body *b, uint16_t type, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	sub(b, type, x, 4);
}

/* The smallest valid parameters body: version, country, key size, join
 * attempts, transaction id. */
static void minimal_params(struct body *b)
{
	b->len = 0;
	sub_u8(b, 1, 1);
	sub(b, 2, "US", 2);
	sub_u16(b, 8, 2048);
	sub_u8(b, 9, 0);
	sub_u32(b, 11, 7);
}

/* ------------------------------------------------------------------------
 * 63: parameters
 * ------------------------------------------------------------------------ */

static void test_params_roundtrip(void **state)
{
	uint8_t buf[1024];
	struct capwap_lsc_params p, d;
	struct capwap_error err;
	size_t len;

	(void)state;
	sample_lsc_params(&p);
	len = params_encode_ok(&p, buf, sizeof(buf));
	assert_int_equal(capwap_lsc_params_decode(buf, len, &d, &err), CAPWAP_OK);
	assert_int_equal(d.version, 1);
	assert_bytes_str(&d.country, "DE");
	assert_bytes_str(&d.state, "Berlin");
	assert_bytes_str(&d.city, "Berlin");
	assert_bytes_str(&d.organization, "Example Networks");
	assert_bytes_str(&d.department, "Wireless");
	assert_bytes_str(&d.email, "wifi@example.net");
	assert_int_equal(d.key_size, 2048);
	assert_int_equal(d.join_attempts, 3);
	assert_int_equal(d.key_algo, CAPWAP_LSC_KEY_RSA);
	assert_int_equal(d.txid, 0x4c534301);
	/* Version comes first. */
	assert_memory_equal(buf, "\x00\x01\x00\x01\x01", 5);
}

static void test_params_variants(void **state)
{
	static const struct {
		uint8_t algo;
		uint16_t size;
	} ok[] = {
		{ 0, 2048 }, { CAPWAP_LSC_KEY_RSA, 3072 }, { CAPWAP_LSC_KEY_RSA, 4096 },
		{ CAPWAP_LSC_KEY_EC_P256, 256 }, { CAPWAP_LSC_KEY_EC_P384, 384 },
	};
	uint8_t buf[1024];
	struct capwap_lsc_params p, d;
	struct capwap_error err;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.country = SAMPLE_BYTES("fr");
		p.key_algo = ok[i].algo;
		p.key_size = ok[i].size;
		p.join_attempts = 255;
		p.txid = 0xffffffff;
		len = params_encode_ok(&p, buf, sizeof(buf));
		assert_int_equal(capwap_lsc_params_decode(buf, len, &d, &err), CAPWAP_OK);
		/* An absent algorithm reads as RSA, the §3.2 default. */
		assert_int_equal(d.key_algo, ok[i].algo ? ok[i].algo : CAPWAP_LSC_KEY_RSA);
		assert_int_equal(d.key_size, ok[i].size);
		assert_int_equal(d.join_attempts, 255);
		assert_int_equal(d.txid, 0xffffffff);
		assert_int_equal(d.state.len, 0);
		assert_int_equal(d.email.len, 0);
	}
}

static void test_params_version_rules(void **state)
{
	struct body b;
	struct capwap_lsc_params d;
	struct capwap_error err;

	(void)state;
	/* Missing altogether. */
	b.len = 0;
	sub(&b, 2, "US", 2);
	sub_u16(&b, 8, 2048);
	sub_u8(&b, 9, 0);
	sub_u32(&b, 11, 7);
	assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "first sub-TLV is type 2, must be Version (1)");
	/* Present but not first. */
	sub_u8(&b, 1, 1);
	assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "must be Version (1)");
	/* Version 2. */
	minimal_params(&b);
	b.buf[4] = 2;
	assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_UNSUPPORTED);
	assert_reason(&err, "Version 2, only 1 is spoken");
	/* Version 0. */
	b.buf[4] = 0;
	assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_UNSUPPORTED);
	/* Version of the wrong size. */
	b.len = 0;
	sub(&b, 1, "\x00\x01", 2);
	assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "Version (1) length 2, must be 1");
	/* Empty body. */
	assert_int_equal(capwap_lsc_params_decode(b.buf, 0, &d, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "empty body");
	/* Only unknown sub-types. */
	b.len = 0;
	sub_u8(&b, 77, 1);
	assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_MALFORMED);
}

static void test_params_country(void **state)
{
	static const struct {
		const char *v;
		uint16_t len;
	} bad[] = {
		{ "D", 1 }, { "DEU", 3 }, { "D1", 2 }, { "  ", 2 }, { "\xc3\xa4", 2 },
		{ "D\0", 2 }, { "", 0 },
	};
	struct body b;
	struct capwap_lsc_params d;
	struct capwap_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b.len = 0;
		sub_u8(&b, 1, 1);
		sub(&b, 2, bad[i].v, bad[i].len);
		sub_u16(&b, 8, 2048);
		sub_u8(&b, 9, 0);
		sub_u32(&b, 11, 7);
		assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err),
				 CAPWAP_ERR_MALFORMED);
		assert_reason(&err, "Country (2)");
	}
	/* Lower case letters are letters. */
	b.len = 0;
	sub_u8(&b, 1, 1);
	sub(&b, 2, "gb", 2);
	sub_u16(&b, 8, 2048);
	sub_u8(&b, 9, 0);
	sub_u32(&b, 11, 7);
	assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err), CAPWAP_OK);
}

static void test_params_strings(void **state)
{
	static char long_text[200];
	static const struct {
		uint16_t type;
		const char *v;
		uint16_t len;
		const char *needle;
	} bad[] = {
		{ 3, long_text, 129, "State (3) length 129, must be 1..128" },
		{ 4, long_text, 129, "City (4) length 129" },
		{ 5, long_text, 65, "Organization (5) length 65, must be 1..64" },
		{ 6, long_text, 65, "Department (6) length 65" },
		{ 7, long_text, 129, "E-mail (7) length 129" },
		{ 5, "", 0, "Organization (5) length 0" },
		{ 7, "m\xc3\xbcller@x", 10, "E-mail (7) is not 7-bit text" },
		{ 5, "A\0B", 3, "Organization (5) is not valid UTF-8" },
		{ 4, "\xc3", 1, "City (4) is not valid UTF-8" },
		{ 4, "\xc0\xaf", 2, "not valid UTF-8" },		/* overlong '/' */
		{ 4, "\xed\xa0\x80", 3, "not valid UTF-8" },		/* surrogate */
		{ 4, "\xf4\x90\x80\x80", 4, "not valid UTF-8" },	/* > U+10FFFF */
		{ 4, "\xff", 1, "not valid UTF-8" },
	};
	struct body b;
	struct capwap_lsc_params d;
	struct capwap_error err;
	size_t i;

	(void)state;
	memset(long_text, 'x', sizeof(long_text));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		minimal_params(&b);
		sub(&b, bad[i].type, bad[i].v, bad[i].len);
		assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err),
				 CAPWAP_ERR_MALFORMED);
		assert_reason(&err, bad[i].needle);
	}
	/* Good UTF-8 and the exact maxima. */
	minimal_params(&b);
	sub(&b, 4, "Z\xc3\xbcrich", 7);
	sub(&b, 3, long_text, 128);
	sub(&b, 5, long_text, 64);
	sub(&b, 6, "\xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x93\xa1", 11);
	assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err), CAPWAP_OK);
	assert_bytes_str(&d.city, "Z\xc3\xbcrich");
	assert_int_equal(d.state.len, 128);
}

static void test_params_key(void **state)
{
	static const struct {
		int algo;	/* -1: absent */
		uint16_t size;
		const char *needle;
	} bad[] = {
		{ -1, 1024, "RSA key size 1024" },
		{ -1, 256, "RSA key size 256" },
		{ 1, 2047, "RSA key size 2047" },
		{ 2, 2048, "key size 2048 does not match EC P-256" },
		{ 3, 256, "key size 256 does not match EC P-384" },
		{ 4, 2048, "Key algorithm 4" },
		{ 0, 2048, "Key algorithm 0" },
	};
	struct body b;
	struct capwap_lsc_params d;
	struct capwap_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b.len = 0;
		sub_u8(&b, 1, 1);
		sub(&b, 2, "US", 2);
		sub_u16(&b, 8, bad[i].size);
		sub_u8(&b, 9, 0);
		if (bad[i].algo >= 0)
			sub_u8(&b, 10, (uint8_t)bad[i].algo);
		sub_u32(&b, 11, 7);
		assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err),
				 CAPWAP_ERR_MALFORMED);
		assert_reason(&err, bad[i].needle);
	}
	/* Key size of the wrong width. */
	b.len = 0;
	sub_u8(&b, 1, 1);
	sub(&b, 2, "US", 2);
	sub_u32(&b, 8, 2048);
	assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "Key size (8) length 4, must be 2");
}

static void test_params_required(void **state)
{
	static const struct {
		uint16_t drop;
		const char *needle;
	} cases[] = {
		{ 2, "Country (2) missing" },
		{ 8, "Key size (8) missing" },
		{ 9, "Join attempts (9) missing" },
		{ 11, "Transaction ID (11) missing" },
	};
	struct body b;
	struct capwap_lsc_params d;
	struct capwap_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b.len = 0;
		sub_u8(&b, 1, 1);
		if (cases[i].drop != 2)
			sub(&b, 2, "US", 2);
		if (cases[i].drop != 8)
			sub_u16(&b, 8, 2048);
		if (cases[i].drop != 9)
			sub_u8(&b, 9, 0);
		if (cases[i].drop != 11)
			sub_u32(&b, 11, 7);
		assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err),
				 CAPWAP_ERR_MALFORMED);
		assert_reason(&err, cases[i].needle);
	}
}

static void test_params_framing(void **state)
{
	struct body b;
	struct capwap_lsc_params d;
	struct capwap_error err;
	size_t cut;

	(void)state;
	/* A sub-TLV whose length runs past the body. */
	minimal_params(&b);
	sub(&b, 3, "Bavaria", 7);
	b.buf[b.len - 7 - 1] = 8;
	assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_TRUNCATED);
	assert_reason(&err, "LSC parameters (104/63): type 3");
	assert_reason(&err, "length 8 past end (7 left)");
	/* A cut header. */
	minimal_params(&b);
	b.buf[b.len++] = 0;
	b.buf[b.len++] = 3;
	assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_TRUNCATED);
	assert_reason(&err, "needs 4 bytes, 2 left");
	/* Duplicate singular sub-type. */
	minimal_params(&b);
	sub(&b, 2, "DE", 2);
	assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_DUPLICATE);
	assert_reason(&err, "Country (2) appears twice");
	minimal_params(&b);
	sub_u32(&b, 11, 8);
	assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_DUPLICATE);
	minimal_params(&b);
	sub_u8(&b, 1, 1);
	assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_DUPLICATE);
	/* Reserved sub-type 0. */
	minimal_params(&b);
	sub_u8(&b, 0, 0);
	assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "type 0 (reserved)");
	/* Unknown sub-types (a later version's) are skipped, even repeated
	 * and even empty, wherever they sit. */
	b.len = 0;
	sub_u8(&b, 1, 1);
	sub(&b, 200, "future", 6);
	sub(&b, 2, "US", 2);
	sub(&b, 200, "again", 5);
	sub(&b, 65535, "", 0);
	sub_u16(&b, 8, 3072);
	sub_u8(&b, 9, 2);
	sub_u32(&b, 11, 99);
	assert_int_equal(capwap_lsc_params_decode(b.buf, b.len, &d, &err), CAPWAP_OK);
	assert_bytes_str(&d.country, "US");
	assert_int_equal(d.key_size, 3072);
	assert_int_equal(d.txid, 99);
	/* Every strict prefix of a valid body is invalid (txid comes last). */
	minimal_params(&b);
	for (cut = 0; cut < b.len; cut++)
		assert_int_not_equal(capwap_lsc_params_decode(b.buf, cut, &d, &err), CAPWAP_OK);
}

static void test_params_encode_refuses(void **state)
{
	uint8_t buf[512];
	struct capwap_lsc_params p;
	struct capwap_writer w;
	size_t cap;

	(void)state;
	sample_lsc_params(&p);
	p.country = SAMPLE_BYTES("X");
	capwap_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(capwap_lsc_params_encode(&w, &p), CAPWAP_ERR_MALFORMED);
	assert_int_equal(w.len, 0);
	sample_lsc_params(&p);
	p.key_size = 512;
	assert_int_equal(capwap_lsc_params_encode(&w, &p), CAPWAP_ERR_MALFORMED);
	sample_lsc_params(&p);
	p.organization.len = 65;
	assert_int_equal(capwap_lsc_params_encode(&w, &p), CAPWAP_ERR_MALFORMED);
	sample_lsc_params(&p);
	for (cap = 0; cap < 40; cap++) {
		capwap_writer_init(&w, buf, cap);
		assert_int_equal(capwap_lsc_params_encode(&w, &p), CAPWAP_ERR_NOSPACE);
	}
}

/* ------------------------------------------------------------------------
 * 64: certificate payload
 * ------------------------------------------------------------------------ */

static void test_cert_roundtrip_every_op(void **state)
{
	static uint8_t der[3000];
	uint8_t buf[4096];
	struct capwap_lsc_cert c, d;
	struct capwap_error err;
	uint8_t op;

	(void)state;
	sample_der(der, sizeof(der), 5);
	for (op = CAPWAP_LSC_OP_CSR; op <= CAPWAP_LSC_OP_ENROLL_FAILED; op++) {
		size_t len;

		memset(&c, 0, sizeof(c));
		c.version = 1;
		c.op = op;
		c.txid = 0x01020304u * op;
		if (op == CAPWAP_LSC_OP_CSR || op == CAPWAP_LSC_OP_ROOT_CERT ||
		    op == CAPWAP_LSC_OP_DEVICE_CERT) {
			c.object.ptr = der;
			c.object.len = 700 + 500 * (size_t)op;
		}
		if (op == CAPWAP_LSC_OP_ROOT_CERT)
			c.chain_index = 1;
		if (op == CAPWAP_LSC_OP_ENROLL_FAILED)
			c.fail_reason = CAPWAP_LSC_FAIL_CA_TIMEOUT;
		len = cert_encode_ok(&c, buf, sizeof(buf));
		assert_int_equal(capwap_lsc_cert_decode(buf, len, &d, &err), CAPWAP_OK);
		assert_int_equal(d.version, 1);
		assert_int_equal(d.op, op);
		assert_int_equal(d.txid, c.txid);
		assert_int_equal(d.object.len, c.object.len);
		if (c.object.len > 0)
			assert_memory_equal(d.object.ptr, der, c.object.len);
		assert_int_equal(d.chain_index, c.chain_index);
		assert_int_equal(d.fail_reason, c.fail_reason);
	}
}

static void test_cert_bytes(void **state)
{
	static const uint8_t expect[] = {
		0x00, 0x01, 0x00, 0x01, 0x01,
		0x00, 0x02, 0x00, 0x01, 0x05,
		0x00, 0x03, 0x00, 0x04, 0xca, 0xfe, 0xf0, 0x0d,
		0x00, 0x05, 0x00, 0x04, 0x00, 0x00, 0x00, 0x04,
	};
	uint8_t buf[64];
	struct capwap_lsc_cert c;
	size_t len;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.op = CAPWAP_LSC_OP_ENROLL_FAILED;
	c.txid = 0xcafef00d;
	c.fail_reason = CAPWAP_LSC_FAIL_POLICY;
	len = cert_encode_ok(&c, buf, sizeof(buf));
	assert_int_equal(len, sizeof(expect));
	assert_memory_equal(buf, expect, sizeof(expect));
}

static void test_cert_rules(void **state)
{
	static const uint8_t der[4] = { 0x30, 0x02, 0x05, 0x00 };
	struct body b;
	struct capwap_lsc_cert d;
	struct capwap_error err;
	uint8_t op;

	(void)state;
	/* Ops that carry an object need one. */
	for (op = 1; op <= 4; op++) {
		b.len = 0;
		sub_u8(&b, 1, 1);
		sub_u8(&b, 2, op);
		sub_u32(&b, 3, 1);
		if (op == CAPWAP_LSC_OP_ENROLL_PENDING) {
			assert_int_equal(capwap_lsc_cert_decode(b.buf, b.len, &d, &err), CAPWAP_OK);
			continue;
		}
		assert_int_equal(capwap_lsc_cert_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_MALFORMED);
		assert_reason(&err, "Object (4) missing");
		/* An empty object is no object. */
		sub(&b, 4, "", 0);
		assert_int_equal(capwap_lsc_cert_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_MALFORMED);
		assert_reason(&err, "Object (4) length 0");
	}
	/* FAILED needs its reason. */
	b.len = 0;
	sub_u8(&b, 1, 1);
	sub_u8(&b, 2, CAPWAP_LSC_OP_ENROLL_FAILED);
	sub_u32(&b, 3, 1);
	assert_int_equal(capwap_lsc_cert_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "Failure reason (5) missing (ENROLL_FAILED)");
	sub_u32(&b, 5, 0);
	assert_int_equal(capwap_lsc_cert_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "Failure reason (5) missing or 0");
	/* txid and op are mandatory. */
	b.len = 0;
	sub_u8(&b, 1, 1);
	sub_u8(&b, 2, CAPWAP_LSC_OP_CSR);
	sub(&b, 4, der, sizeof(der));
	assert_int_equal(capwap_lsc_cert_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "Transaction ID (3) missing");
	b.len = 0;
	sub_u8(&b, 1, 1);
	sub_u32(&b, 3, 1);
	assert_int_equal(capwap_lsc_cert_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "Operation (2) missing");
	/* Operations outside 1..5. */
	for (op = 0; op < 10; op += 6) {
		b.len = 0;
		sub_u8(&b, 1, 1);
		sub_u8(&b, 2, op);
		sub_u32(&b, 3, 1);
		assert_int_equal(capwap_lsc_cert_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_MALFORMED);
		assert_reason(&err, "Operation");
	}
	/* Duplicate object. */
	b.len = 0;
	sub_u8(&b, 1, 1);
	sub_u8(&b, 2, CAPWAP_LSC_OP_DEVICE_CERT);
	sub_u32(&b, 3, 1);
	sub(&b, 4, der, sizeof(der));
	sub(&b, 4, der, sizeof(der));
	assert_int_equal(capwap_lsc_cert_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_DUPLICATE);
	assert_reason(&err, "Object (4) appears twice");
	/* Unknown sub-type skipped; object view points into the body. */
	b.len = 0;
	sub_u8(&b, 1, 1);
	sub(&b, 99, "x", 1);
	sub_u8(&b, 2, CAPWAP_LSC_OP_DEVICE_CERT);
	sub_u32(&b, 3, 1);
	sub(&b, 4, der, sizeof(der));
	assert_int_equal(capwap_lsc_cert_decode(b.buf, b.len, &d, &err), CAPWAP_OK);
	assert_ptr_equal(d.object.ptr, b.buf + b.len - sizeof(der));
	/* Overrunning object. */
	b.buf[b.len - sizeof(der) - 1] = 5;
	assert_int_equal(capwap_lsc_cert_decode(b.buf, b.len, &d, &err), CAPWAP_ERR_TRUNCATED);
	assert_reason(&err, "LSC certificate payload (104/64): type 4");
	/* Version missing. */
	assert_int_equal(capwap_lsc_cert_decode(b.buf + 5, b.len - 5, &d, &err),
			 CAPWAP_ERR_MALFORMED);
	assert_reason(&err, "must be Version (1)");
}

static void test_cert_every_prefix_invalid(void **state)
{
	static uint8_t der[800];
	uint8_t buf[1024];
	struct capwap_lsc_cert c, d;
	struct capwap_error err;
	size_t len, cut;
	uint8_t op;

	(void)state;
	sample_der(der, sizeof(der), 9);
	for (op = CAPWAP_LSC_OP_CSR; op <= CAPWAP_LSC_OP_ENROLL_FAILED; op++) {
		memset(&c, 0, sizeof(c));
		c.op = op;
		c.txid = 5;
		c.fail_reason = 1;
		if (op != CAPWAP_LSC_OP_ENROLL_PENDING && op != CAPWAP_LSC_OP_ENROLL_FAILED) {
			c.object.ptr = der;
			c.object.len = sizeof(der);
		}
		len = cert_encode_ok(&c, buf, sizeof(buf));
		for (cut = 0; cut < len; cut++)
			if (capwap_lsc_cert_decode(buf, cut, &d, &err) == CAPWAP_OK)
				fail_msg("op %u: prefix %zu/%zu decoded", op, cut, len);
	}
}

static void test_cert_encode_refuses(void **state)
{
	uint8_t buf[64];
	struct capwap_lsc_cert c;
	struct capwap_writer w;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.op = CAPWAP_LSC_OP_CSR;
	capwap_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(capwap_lsc_cert_encode(&w, &c), CAPWAP_ERR_MALFORMED);
	c.op = 0;
	assert_int_equal(capwap_lsc_cert_encode(&w, &c), CAPWAP_ERR_MALFORMED);
	c.op = CAPWAP_LSC_OP_ENROLL_FAILED;
	assert_int_equal(capwap_lsc_cert_encode(&w, &c), CAPWAP_ERR_MALFORMED);
	c.op = CAPWAP_LSC_OP_ENROLL_PENDING;
	capwap_writer_init(&w, buf, 17);
	assert_int_equal(capwap_lsc_cert_encode(&w, &c), CAPWAP_ERR_NOSPACE);
	capwap_writer_init(&w, buf, 18);
	assert_int_equal(capwap_lsc_cert_encode(&w, &c), CAPWAP_OK);
	/* §3.2: ENROLL_PENDING is 18 body bytes. */
	assert_int_equal(w.len, 18);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params_roundtrip),
		cmocka_unit_test(test_params_variants),
		cmocka_unit_test(test_params_version_rules),
		cmocka_unit_test(test_params_country),
		cmocka_unit_test(test_params_strings),
		cmocka_unit_test(test_params_key),
		cmocka_unit_test(test_params_required),
		cmocka_unit_test(test_params_framing),
		cmocka_unit_test(test_params_encode_refuses),
		cmocka_unit_test(test_cert_roundtrip_every_op),
		cmocka_unit_test(test_cert_bytes),
		cmocka_unit_test(test_cert_rules),
		cmocka_unit_test(test_cert_every_prefix_invalid),
		cmocka_unit_test(test_cert_encode_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
