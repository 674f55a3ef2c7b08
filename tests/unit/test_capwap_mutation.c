/*
 * test_capwap_mutation.c — deterministic mutation of valid messages: every
 * single-bit flip, every truncation, length lies at every element and
 * sub-element header, cuts inside elements with a consistent Msg Element
 * Length, and a bounded pseudo-random mix. Each input is decoded from a
 * heap copy of exactly its size, so ASan (make asan) catches any read past
 * it; the checks here hold the decoder to its invariants.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capwap/capwap.h"
#include "tests/unit/test_capwap_samples.h"

#define BUF_SIZE 8192

static struct sample_blobs blobs;
static uint8_t samples[SAMPLE_COUNT][BUF_SIZE];
static size_t sample_len[SAMPLE_COUNT];
static unsigned long decodes, accepted;

static uint32_t rng_state = 0x2545f491;

static uint32_t rng(void)
{
	/* xorshift32: fixed seed, so every run mutates the same way. */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static bool within(const uint8_t *p, size_t n, const uint8_t *buf, size_t len)
{
	return n == 0 || (p >= buf && p + n <= buf + len);
}

/* Decode a private, exactly-sized copy and check the invariants. */
static void check_decode(const uint8_t *in, size_t len)
{
	static uint8_t out[65536 + 256];
	struct capwap_message m, again;
	struct capwap_error err;
	enum capwap_status st;
	uint8_t *buf = malloc(len > 0 ? len : 1);
	size_t i;

	assert_non_null(buf);
	memcpy(buf, in, len);
	st = capwap_decode(buf, len, &m, &err);
	decodes++;
	assert_true(m.n_raw <= CAPWAP_MAX_ELEMENTS);
	assert_true(m.n_vsp <= CAPWAP_MAX_VSP);
	assert_true(m.n_radio_info <= CAPWAP_MAX_RADIOS);
	assert_true(m.n_radio_oper <= CAPWAP_MAX_RADIOS);
	assert_true(m.n_radio_admin <= CAPWAP_MAX_RADIOS + 1);
	for (i = 0; i < m.n_raw; i++)
		assert_true(within(m.raw[i].value, m.raw[i].len, buf, len));
	if (st != CAPWAP_OK) {
		assert_int_equal(err.status, st);
		assert_true(err.reason[0] != '\0');
		assert_true(memchr(err.reason, '\0', sizeof(err.reason)) != NULL);
	} else {
		struct capwap_writer w;

		accepted++;
		assert_true(m.ctrl_valid);
		for (i = 0; i < m.n_vsp; i++)
			assert_true(within(m.vsp[i].data.ptr, m.vsp[i].data.len, buf, len));
		if (m.has_lsc_cert)
			assert_true(within(m.lsc_cert.object.ptr, m.lsc_cert.object.len, buf, len));
		/* What was accepted re-encodes (typed part) into something that
		 * is accepted again, unless only a raw-only element satisfied a
		 * mandatory rule. */
		m.n_raw = 0;
		capwap_writer_init(&w, out, sizeof(out));
		st = capwap_encode(&w, &m, &err);
		if (st != CAPWAP_ERR_MISSING) {
			if (st != CAPWAP_OK)
				fail_msg("accepted message does not re-encode: %s", err.reason);
			if (capwap_decode(out, w.len, &again, &err) != CAPWAP_OK)
				fail_msg("re-encoded message rejected: %s", err.reason);
		}
	}
	free(buf);
}

static void test_every_bit_flip(void **state)
{
	static uint8_t buf[BUF_SIZE];
	int k;

	(void)state;
	for (k = 0; k < SAMPLE_COUNT; k++) {
		size_t bit, len = sample_len[k];

		/* Big certificate bodies: flipping inside the DER object only
		 * exercises memcpy; every bit of the first 400 bytes, then a
		 * stride. */
		for (bit = 0; bit < len * 8; bit += (bit < 400 * 8 ? 1 : 61)) {
			memcpy(buf, samples[k], len);
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			check_decode(buf, len);
		}
	}
}

static void test_every_truncation_and_byte(void **state)
{
	static uint8_t buf[BUF_SIZE];
	static const uint8_t values[] = { 0x00, 0xff, 0x01, 0x80, 0x7f };
	int k;

	(void)state;
	for (k = 0; k < SAMPLE_COUNT; k++) {
		size_t len = sample_len[k], i, v;

		for (i = 0; i <= len; i++)
			check_decode(samples[k], i);
		for (i = 0; i < len && i < 300; i++) {
			for (v = 0; v < sizeof(values); v++) {
				memcpy(buf, samples[k], len);
				buf[i] = values[v];
				check_decode(buf, len);
			}
		}
	}
}

/* Positions of every 16-bit length field inside a packet: the element
 * headers, and the sub-TLV headers of LSC bodies, found by walking the
 * valid original. */
static size_t length_fields(const uint8_t *pkt, size_t len, size_t *pos, size_t max)
{
	struct capwap_message m;
	struct capwap_error err;
	size_t n = 0, i;

	assert_int_equal(capwap_decode(pkt, len, &m, &err), CAPWAP_OK);
	for (i = 0; i < m.n_raw && n < max; i++) {
		size_t at = (size_t)(m.raw[i].value - pkt) - 2;

		pos[n++] = at;
		if (m.raw[i].type == CAPWAP_ELEM_VENDOR_SPECIFIC && m.raw[i].len >= 12) {
			/* sub-TLVs of an LSC body: 12 bytes of envelope first */
			size_t off = 12;

			while (off + 4 <= m.raw[i].len && n < max) {
				size_t sub_len = (size_t)(m.raw[i].value[off + 2] << 8 |
							  m.raw[i].value[off + 3]);

				pos[n++] = at + 2 + off + 2;
				off += 4 + sub_len;
			}
		}
		if (m.raw[i].type == CAPWAP_ELEM_WTP_BOARD_DATA) {
			size_t off = 4;

			while (off + 4 <= m.raw[i].len && n < max) {
				pos[n++] = at + 2 + off + 2;
				off += 4 + (size_t)(m.raw[i].value[off + 2] << 8 |
						    m.raw[i].value[off + 3]);
			}
		}
	}
	return n;
}

static void test_length_lies(void **state)
{
	static uint8_t buf[BUF_SIZE];
	size_t pos[256];
	int k;

	(void)state;
	for (k = 0; k < SAMPLE_COUNT; k++) {
		size_t len = sample_len[k], n, i, hlen = (size_t)(samples[k][1] >> 3) * 4;

		n = length_fields(samples[k], len, pos, 256);
		/* The control header's Msg Element Length too. */
		pos[n++] = hlen + 5;
		for (i = 0; i < n; i++) {
			uint16_t orig = (uint16_t)(samples[k][pos[i]] << 8 | samples[k][pos[i] + 1]);
			const uint16_t lies[] = {
				0, 1, 2, 3, 4, (uint16_t)(orig - 1), (uint16_t)(orig + 1),
				(uint16_t)(orig + 4), (uint16_t)(orig - 4), (uint16_t)(orig * 2),
				0x7fff, 0x8000, 0xfffe, 0xffff,
			};
			size_t j;

			for (j = 0; j < sizeof(lies) / sizeof(lies[0]); j++) {
				memcpy(buf, samples[k], len);
				buf[pos[i]] = (uint8_t)(lies[j] >> 8);
				buf[pos[i] + 1] = (uint8_t)lies[j];
				check_decode(buf, len);
			}
		}
	}
}

/* Cut k bytes out of the middle and fix Msg Element Length so the outer
 * check passes: the element walk and nested parsers see the damage. */
static void test_inner_cuts(void **state)
{
	static uint8_t buf[BUF_SIZE];
	int k;

	(void)state;
	for (k = 0; k < SAMPLE_COUNT; k++) {
		size_t len = sample_len[k], hlen = (size_t)(samples[k][1] >> 3) * 4;
		size_t at, cut;

		for (at = hlen + 8; at < len && at < hlen + 8 + 400; at++) {
			for (cut = 1; cut <= 5 && at + cut <= len; cut++) {
				size_t nlen = len - cut, mel = nlen - hlen - 8 + 3;

				memcpy(buf, samples[k], at);
				memcpy(buf + at, samples[k] + at + cut, len - at - cut);
				buf[hlen + 5] = (uint8_t)(mel >> 8);
				buf[hlen + 6] = (uint8_t)mel;
				check_decode(buf, nlen);
			}
		}
	}
}

static void test_random_mix(void **state)
{
	static uint8_t buf[BUF_SIZE + 64];
	unsigned iter;

	(void)state;
	for (iter = 0; iter < 30000; iter++) {
		int k = (int)(rng() % SAMPLE_COUNT);
		size_t len = sample_len[k], hlen = (size_t)(samples[k][1] >> 3) * 4;
		unsigned n = 1 + rng() % 8, i;

		memcpy(buf, samples[k], len);
		for (i = 0; i < n; i++) {
			size_t p = rng() % len;

			switch (rng() % 5) {
			case 0:
				buf[p] ^= (uint8_t)(1u << (rng() % 8));
				break;
			case 1:
				buf[p] = (uint8_t)rng();
				break;
			case 2:	/* duplicate a chunk (grows) */
				if (len + 16 <= BUF_SIZE) {
					memmove(buf + p + 16, buf + p, len - p);
					len += 16;
				}
				break;
			case 3:	/* delete a chunk */
				if (len - p > 8) {
					memmove(buf + p, buf + p + 8, len - p - 8);
					len -= 8;
				}
				break;
			default:	/* lie in a 16-bit field at an even offset */
				p &= ~(size_t)1;
				if (p + 1 < len) {
					buf[p] = (uint8_t)rng();
					buf[p + 1] = (uint8_t)rng();
				}
				break;
			}
		}
		/* Half the time, make Msg Element Length agree again. */
		if ((rng() & 1) && len >= hlen + 8) {
			size_t mel = len - hlen - 8 + 3;

			buf[hlen + 5] = (uint8_t)(mel >> 8);
			buf[hlen + 6] = (uint8_t)mel;
		}
		check_decode(buf, len);
	}
}

/* LSC bodies alone: flips and truncations through the body decoders. */
static void test_lsc_bodies(void **state)
{
	uint8_t body[4096];
	struct capwap_writer w;
	struct capwap_lsc_params p;
	struct capwap_lsc_cert c;
	struct capwap_error err;
	size_t len, bit;
	int which;

	(void)state;
	for (which = 0; which < 2; which++) {
		capwap_writer_init(&w, body, sizeof(body));
		if (which == 0) {
			sample_lsc_params(&p);
			assert_int_equal(capwap_lsc_params_encode(&w, &p), CAPWAP_OK);
		} else {
			memset(&c, 0, sizeof(c));
			c.op = CAPWAP_LSC_OP_ROOT_CERT;
			c.object.ptr = blobs.root;
			c.object.len = 300;
			assert_int_equal(capwap_lsc_cert_encode(&w, &c), CAPWAP_OK);
		}
		len = w.len;
		for (bit = 0; bit < len * 8; bit++) {
			uint8_t *copy = malloc(len);

			assert_non_null(copy);
			memcpy(copy, body, len);
			copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			if (which == 0)
				(void)capwap_lsc_params_decode(copy, len, &p, &err);
			else if (capwap_lsc_cert_decode(copy, len, &c, &err) == CAPWAP_OK)
				assert_true(within(c.object.ptr, c.object.len, copy, len));
			free(copy);
		}
	}
}

/* Reassembly fed with mutated fragments never misbehaves. */
static void test_reassembly_mutations(void **state)
{
	static uint8_t frags[64][600];
	static size_t frag_len[64];
	struct capwap_reasm r;
	struct capwap_reasm_limits lim = { 8192, 64, 5000 };
	struct capwap_error err;
	const uint8_t *big = samples[SAMPLE_UPDATE_DEVICE];
	size_t n = 0, hlen = 8, payload = sample_len[SAMPLE_UPDATE_DEVICE] - 8, off, iter;

	(void)state;
	for (off = 0; off < payload; off += 576) {
		size_t chunk = payload - off < 576 ? payload - off : 576;
		uint16_t units = (uint16_t)(off / 8);

		memcpy(frags[n], big, hlen);
		frags[n][3] = (uint8_t)(0x80 | (off + chunk == payload ? 0x40 : 0));
		frags[n][4] = 0;
		frags[n][5] = 7;
		frags[n][6] = (uint8_t)(units >> 5);
		frags[n][7] = (uint8_t)(units << 3);
		memcpy(frags[n] + hlen, big + hlen + off, chunk);
		frag_len[n] = hlen + chunk;
		n++;
	}
	capwap_reasm_init(&r, &lim);
	for (iter = 0; iter < 3000; iter++) {
		size_t i;

		for (i = 0; i < n; i++) {
			size_t k = rng() % n, len = frag_len[k];
			uint8_t *copy = malloc(len);
			const uint8_t *out;
			size_t out_len;
			enum capwap_status st;

			assert_non_null(copy);
			memcpy(copy, frags[k], len);
			if (rng() % 3 == 0)
				copy[rng() % 8] ^= (uint8_t)(1u << (rng() % 8));
			if (rng() % 5 == 0)
				len = rng() % (len + 1);
			st = capwap_reasm_add(&r, copy, len, iter * 100 + i, &out, &out_len, &err);
			if (st == CAPWAP_OK) {
				/* Either the packet itself, or a whole message. */
				if (out != copy)
					check_decode(out, out_len);
			}
			assert_true(r.buf == NULL || r.buf_cap <= 124 + lim.max_size);
			free(copy);
		}
	}
	capwap_reasm_free(&r);
	print_message("mutation: %lu decodes, %lu accepted\n", decodes, accepted);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_bit_flip),
		cmocka_unit_test(test_every_truncation_and_byte),
		cmocka_unit_test(test_length_lies),
		cmocka_unit_test(test_inner_cuts),
		cmocka_unit_test(test_random_mix),
		cmocka_unit_test(test_lsc_bodies),
		cmocka_unit_test(test_reassembly_mutations),
	};
	struct capwap_message m;
	struct capwap_writer w;
	struct capwap_error err;
	int k;

	sample_blobs_init(&blobs);
	for (k = 0; k < SAMPLE_COUNT; k++) {
		sample_message(&m, (enum sample_kind)k, (uint8_t)k, &blobs);
		capwap_writer_init(&w, samples[k], BUF_SIZE);
		if (capwap_encode(&w, &m, &err) != CAPWAP_OK)
			return 1;
		sample_len[k] = w.len;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
