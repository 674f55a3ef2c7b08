/*
 * test_capwap_frag.c — fragmentation and reassembly (§1.14, §5.2 row 13).
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

#define MAX_FRAGS 1024
#define PKT_MAX   16384

struct frag_list {
	size_t n;
	size_t len[MAX_FRAGS];
	uint8_t *data[MAX_FRAGS];
};

static void collect(const uint8_t *frag, size_t len, void *arg)
{
	struct frag_list *l = arg;

	assert_true(l->n < MAX_FRAGS);
	l->data[l->n] = test_malloc(len);
	memcpy(l->data[l->n], frag, len);
	l->len[l->n] = len;
	l->n++;
}

static void frag_list_free(struct frag_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		test_free(l->data[i]);
	l->n = 0;
}

static void assert_reason(const struct capwap_error *err, const char *needle)
{
	if (strstr(err->reason, needle) == NULL)
		fail_msg("reason \"%s\" does not mention \"%s\"", err->reason, needle);
}

static uint8_t big_der[4950];
static uint8_t pkt[PKT_MAX];
static size_t pkt_len;

/* A Configuration Update Request carrying a DER-sized object, optionally
 * with a Radio MAC in the header; about 5000 bytes. */
static void build_big(bool radio_mac, size_t object_len)
{
	struct capwap_message m;
	struct capwap_writer w;
	struct capwap_error err;

	capwap_message_init(&m, CAPWAP_CONFIG_UPDATE_REQUEST, 43);
	if (radio_mac) {
		m.hdr.radio_mac_len = 6;
		memcpy(m.hdr.radio_mac, sample_ap_mac, 6);
	}
	m.has_lsc_cert = true;
	m.lsc_cert.op = CAPWAP_LSC_OP_DEVICE_CERT;
	m.lsc_cert.txid = 1;
	m.lsc_cert.object.ptr = big_der;
	m.lsc_cert.object.len = object_len;
	capwap_writer_init(&w, pkt, sizeof(pkt));
	assert_int_equal(capwap_encode(&w, &m, &err), CAPWAP_OK);
	pkt_len = w.len;
}

static void reasm_init(struct capwap_reasm *r, size_t max_size, unsigned max_frags)
{
	struct capwap_reasm_limits lim = { max_size, max_frags, 5000 };

	capwap_reasm_init(r, &lim);
}

/* Feed fragments in the given order; all but the last must be incomplete. */
static void feed_expect_complete(struct capwap_reasm *r, struct frag_list *l,
				 const size_t *order, uint64_t now)
{
	const uint8_t *out = NULL;
	size_t out_len = 0, i;
	struct capwap_error err;

	for (i = 0; i < l->n; i++) {
		size_t k = order != NULL ? order[i] : i;
		enum capwap_status st = capwap_reasm_add(r, l->data[k], l->len[k], now,
							 &out, &out_len, &err);

		if (i + 1 < l->n) {
			if (st != CAPWAP_INCOMPLETE)
				fail_msg("fragment %zu: %s (%s)", k, capwap_status_name(st), err.reason);
			assert_null(out);
		} else {
			if (st != CAPWAP_OK)
				fail_msg("last fragment %zu: %s (%s)", k, capwap_status_name(st), err.reason);
		}
	}
	assert_int_equal(out_len, pkt_len);
	assert_memory_equal(out, pkt, pkt_len);
}

static void test_split_and_reassemble_mtus(void **state)
{
	static const size_t mtus[] = { 100, 300, 576, 1000, 1280, 1400, 1500, 4000 };
	struct frag_list l = { 0 };
	struct capwap_reasm r;
	struct capwap_error err;
	struct capwap_message d;
	size_t i, j;

	(void)state;
	build_big(false, sizeof(big_der));
	assert_true(pkt_len > 5000);
	for (i = 0; i < sizeof(mtus) / sizeof(mtus[0]); i++) {
		size_t expect_offset = 0;
		uint16_t fid = (uint16_t)(1000 + i);

		assert_int_equal(capwap_fragment(pkt, pkt_len, mtus[i], fid, collect, &l, &err),
				 CAPWAP_OK);
		assert_true(l.n > 1);
		for (j = 0; j < l.n; j++) {
			struct capwap_header h;
			size_t hlen, plen;

			assert_true(l.len[j] <= mtus[i]);
			assert_int_equal(capwap_header_decode(l.data[j], l.len[j], &h, &hlen, &err),
					 CAPWAP_OK);
			plen = l.len[j] - hlen;
			assert_true(h.fragment);
			assert_int_equal(h.frag_id, fid);
			assert_int_equal(h.frag_offset * 8, expect_offset);
			assert_int_equal(h.last_fragment, j + 1 == l.n);
			if (j + 1 < l.n)
				assert_int_equal(plen % 8, 0);
			/* Only the first fragment carries the control header. */
			if (j == 0)
				assert_memory_equal(l.data[0] + hlen, pkt + 8, 8);
			expect_offset += plen;
		}
		assert_int_equal(expect_offset, pkt_len - 8);

		reasm_init(&r, 8192, 64);
		feed_expect_complete(&r, &l, NULL, 1);
		assert_int_equal(capwap_decode(pkt, pkt_len, &d, &err), CAPWAP_OK);
		assert_int_equal(d.lsc_cert.object.len, sizeof(big_der));
		capwap_reasm_free(&r);
		assert_null(r.buf);
		frag_list_free(&l);
	}
}

/* Header fields (Radio MAC) survive: every fragment repeats them and the
 * reassembled packet has the first fragment's header. */
static void test_radio_mac_kept(void **state)
{
	struct frag_list l = { 0 };
	struct capwap_reasm r;
	struct capwap_error err;
	struct capwap_message d;

	(void)state;
	build_big(true, 3000);
	assert_int_equal(capwap_fragment(pkt, pkt_len, 1400, 9, collect, &l, &err), CAPWAP_OK);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.data[1][1] >> 3, 4);	/* HLEN 4 */
	reasm_init(&r, 0, 0);	/* defaults: 4096 minimum, 64 fragments */
	feed_expect_complete(&r, &l, NULL, 0);
	assert_int_equal(capwap_decode(pkt, pkt_len, &d, &err), CAPWAP_OK);
	assert_int_equal(d.hdr.radio_mac_len, 6);
	capwap_reasm_free(&r);
	frag_list_free(&l);
}

static void test_fits_passes_through(void **state)
{
	struct frag_list l = { 0 };
	struct capwap_error err;

	(void)state;
	build_big(false, 100);
	assert_int_equal(capwap_fragment(pkt, pkt_len, pkt_len, 1, collect, &l, &err), CAPWAP_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.len[0], pkt_len);
	assert_memory_equal(l.data[0], pkt, pkt_len);
	frag_list_free(&l);
}

static void test_fragment_refuses(void **state)
{
	struct frag_list l = { 0 };
	struct capwap_error err;

	(void)state;
	build_big(false, 3000);
	/* No room for an 8-byte slice after the 8-byte header. */
	assert_int_equal(capwap_fragment(pkt, pkt_len, 15, 1, collect, &l, &err), CAPWAP_ERR_LIMIT);
	assert_reason(&err, "max_len 15");
	assert_int_equal(l.n, 0);
	/* Already a fragment. */
	pkt[3] |= 0x80;
	assert_int_equal(capwap_fragment(pkt, pkt_len, 1000, 1, collect, &l, &err),
			 CAPWAP_ERR_FRAGMENT);
	pkt[3] &= 0x7f;
	/* Not a CAPWAP packet. */
	pkt[0] = 0x01;
	assert_int_equal(capwap_fragment(pkt, pkt_len, 1000, 1, collect, &l, &err),
			 CAPWAP_ERR_UNSUPPORTED);
	assert_int_equal(l.n, 0);
}

static void shuffle(size_t *order, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n - 1; i > 0; i--) {
		size_t j, t;

		seed = seed * 1103515245u + 12345u;
		j = (seed >> 8) % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
}

static void test_out_of_order(void **state)
{
	struct frag_list l = { 0 };
	struct capwap_reasm r;
	struct capwap_error err;
	size_t order[MAX_FRAGS], i;
	uint32_t seed;

	(void)state;
	build_big(false, sizeof(big_der));
	assert_int_equal(capwap_fragment(pkt, pkt_len, 400, 7, collect, &l, &err), CAPWAP_OK);
	/* Reverse: the last fragment (and so the size) is known first. */
	for (i = 0; i < l.n; i++)
		order[i] = l.n - 1 - i;
	reasm_init(&r, 8192, 64);
	feed_expect_complete(&r, &l, order, 0);
	for (seed = 1; seed < 20; seed++) {
		shuffle(order, l.n, seed);
		feed_expect_complete(&r, &l, order, 0);
	}
	capwap_reasm_free(&r);
	frag_list_free(&l);
}

/* Hand-made fragment: plain header with F (and L), id, offset in units. */
static size_t make_frag(uint8_t *buf, uint16_t id, uint16_t offset_units, bool last,
			const uint8_t *payload, size_t len)
{
	memcpy(buf, "\x00\x10\x02\x00", 4);
	buf[3] = (uint8_t)(0x80 | (last ? 0x40 : 0));
	buf[4] = (uint8_t)(id >> 8);
	buf[5] = (uint8_t)id;
	buf[6] = (uint8_t)(offset_units >> 5);
	buf[7] = (uint8_t)(offset_units << 3);
	memcpy(buf + 8, payload, len);
	return 8 + len;
}

struct step {
	uint16_t id;
	uint16_t off;	/* 8-byte units */
	bool last;
	size_t len;
	enum capwap_status st;
	const char *needle;
};

static void run_steps(struct capwap_reasm *r, const struct step *s, size_t n, uint64_t now)
{
	static uint8_t payload[PKT_MAX];
	uint8_t frag[PKT_MAX];
	const uint8_t *out;
	size_t out_len, i;
	struct capwap_error err;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	for (i = 0; i < n; i++) {
		size_t src = (size_t)s[i].off * 8;
		size_t flen;

		/* Offsets past the pattern only serve rejections. */
		if (src + s[i].len > sizeof(payload))
			src = 0;
		flen = make_frag(frag, s[i].id, s[i].off, s[i].last, payload + src,
				 s[i].len);
		enum capwap_status st;

		st = capwap_reasm_add(r, frag, flen, now, &out, &out_len, &err);
		if (st != s[i].st)
			fail_msg("step %zu: %s, expected %s (%s)", i, capwap_status_name(st),
				 capwap_status_name(s[i].st), err.reason);
		if (s[i].needle != NULL)
			assert_reason(&err, s[i].needle);
		if (st == CAPWAP_OK) {
			size_t total = s[i].off * 8 + s[i].len;

			assert_int_equal(out_len, 8 + total);
			/* Fragment bits cleared in the synthesized header. */
			assert_int_equal(out[3] & 0xc0, 0);
			assert_memory_equal(out + 8, payload, total);
		}
		if (st != CAPWAP_OK && st != CAPWAP_INCOMPLETE)
			/* The partial message is gone, with its memory. */
			assert_null(r->buf);
	}
}

static void test_reassembly_rejects(void **state)
{
	struct capwap_reasm r;
	const struct step overlap[] = {
		{ 1, 0, false, 16, CAPWAP_INCOMPLETE, NULL },
		{ 1, 1, false, 16, CAPWAP_ERR_FRAGMENT, "overlaps" },
		/* The set was dropped: the rest cannot complete it. */
		{ 1, 2, true, 5, CAPWAP_INCOMPLETE, NULL },
	};
	const struct step duplicate[] = {
		{ 2, 0, false, 16, CAPWAP_INCOMPLETE, NULL },
		{ 2, 0, false, 16, CAPWAP_ERR_FRAGMENT, "duplicate" },
	};
	const struct step two_last[] = {
		{ 3, 2, true, 5, CAPWAP_INCOMPLETE, NULL },
		{ 3, 4, true, 5, CAPWAP_ERR_FRAGMENT, "second last fragment" },
	};
	const struct step same_last_twice[] = {
		{ 3, 2, true, 5, CAPWAP_INCOMPLETE, NULL },
		{ 3, 2, true, 5, CAPWAP_ERR_FRAGMENT, "second last fragment" },
	};
	const struct step not_multiple[] = {
		{ 4, 0, false, 12, CAPWAP_ERR_FRAGMENT, "not a multiple of 8" },
	};
	const struct step too_large[] = {
		{ 5, 0, false, 4096, CAPWAP_INCOMPLETE, NULL },
		{ 5, 512, true, 1, CAPWAP_ERR_LIMIT, "exceed the reassembly limit" },
	};
	const struct step past_last[] = {
		{ 6, 2, true, 4, CAPWAP_INCOMPLETE, NULL },
		{ 6, 3, false, 8, CAPWAP_ERR_FRAGMENT, "past the last fragment" },
	};
	const struct step last_before[] = {
		{ 7, 4, false, 8, CAPWAP_INCOMPLETE, NULL },
		{ 7, 1, true, 8, CAPWAP_ERR_FRAGMENT, "last fragment ends before" },
	};
	const struct step empty[] = {
		{ 8, 0, true, 0, CAPWAP_ERR_FRAGMENT, "empty fragment" },
	};
	const struct step single[] = {
		{ 9, 0, true, 13, CAPWAP_OK, NULL },
	};
	const struct step max_offset[] = {
		{ 10, 0x1fff, true, 8, CAPWAP_ERR_LIMIT, NULL },
	};

	(void)state;
	reasm_init(&r, 4096, 64);
	run_steps(&r, overlap, 3, 0);
	capwap_reasm_free(&r);
	run_steps(&r, duplicate, 2, 0);
	run_steps(&r, two_last, 2, 0);
	run_steps(&r, same_last_twice, 2, 0);
	run_steps(&r, not_multiple, 1, 0);
	run_steps(&r, too_large, 2, 0);
	run_steps(&r, past_last, 2, 0);
	run_steps(&r, last_before, 2, 0);
	run_steps(&r, empty, 1, 0);
	run_steps(&r, single, 1, 0);
	run_steps(&r, max_offset, 1, 0);
	capwap_reasm_free(&r);
}

static void test_too_many_fragments(void **state)
{
	struct frag_list l = { 0 };
	struct capwap_reasm r;
	struct capwap_error err;
	const uint8_t *out;
	size_t out_len, i;

	(void)state;
	build_big(false, 1000);
	assert_int_equal(capwap_fragment(pkt, pkt_len, 200, 3, collect, &l, &err), CAPWAP_OK);
	assert_true(l.n > 4);
	reasm_init(&r, 4096, 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(capwap_reasm_add(&r, l.data[i], l.len[i], 0, &out, &out_len, &err),
				 CAPWAP_INCOMPLETE);
	assert_int_equal(capwap_reasm_add(&r, l.data[4], l.len[4], 0, &out, &out_len, &err),
			 CAPWAP_ERR_LIMIT);
	assert_reason(&err, "too many fragments");
	assert_null(r.buf);
	capwap_reasm_free(&r);
	frag_list_free(&l);
}

static void test_timeout(void **state)
{
	struct frag_list l = { 0 };
	struct capwap_reasm r;
	struct capwap_error err;
	const uint8_t *out;
	size_t out_len, i;

	(void)state;
	build_big(false, 2000);
	assert_int_equal(capwap_fragment(pkt, pkt_len, 600, 3, collect, &l, &err), CAPWAP_OK);
	reasm_init(&r, 4096, 64);
	assert_int_equal(capwap_reasm_add(&r, l.data[0], l.len[0], 1000, &out, &out_len, &err),
			 CAPWAP_INCOMPLETE);
	assert_non_null(r.buf);
	assert_false(capwap_reasm_expire(&r, 1000 + 4999));
	assert_non_null(r.buf);
	assert_true(capwap_reasm_expire(&r, 1000 + 5000));
	assert_null(r.buf);
	assert_false(capwap_reasm_expire(&r, 1000 + 9000));
	/* The first fragment is gone, so the rest never completes... */
	for (i = 1; i < l.n; i++)
		assert_int_equal(capwap_reasm_add(&r, l.data[i], l.len[i], 7000, &out,
						  &out_len, &err), CAPWAP_INCOMPLETE);
	/* ...and a late fragment past the timeout starts over instead of
	 * joining a stale set. */
	assert_int_equal(capwap_reasm_add(&r, l.data[0], l.len[0], 7000 + 5000, &out,
					  &out_len, &err), CAPWAP_INCOMPLETE);
	for (i = 1; i + 1 < l.n; i++)
		assert_int_equal(capwap_reasm_add(&r, l.data[i], l.len[i], 12001, &out,
						  &out_len, &err), CAPWAP_INCOMPLETE);
	assert_int_equal(capwap_reasm_add(&r, l.data[l.n - 1], l.len[l.n - 1], 12002, &out,
					  &out_len, &err), CAPWAP_OK);
	capwap_reasm_free(&r);
	frag_list_free(&l);
}

static void test_new_frag_id_discards_old(void **state)
{
	struct frag_list a = { 0 }, b = { 0 };
	struct capwap_reasm r;
	struct capwap_error err;
	const uint8_t *out;
	size_t out_len, i;

	(void)state;
	build_big(false, 2000);
	assert_int_equal(capwap_fragment(pkt, pkt_len, 600, 100, collect, &a, &err), CAPWAP_OK);
	assert_int_equal(capwap_fragment(pkt, pkt_len, 600, 101, collect, &b, &err), CAPWAP_OK);
	reasm_init(&r, 4096, 64);
	/* Half of id 100, then all of id 101: 101 completes. */
	assert_int_equal(capwap_reasm_add(&r, a.data[0], a.len[0], 0, &out, &out_len, &err),
			 CAPWAP_INCOMPLETE);
	feed_expect_complete(&r, &b, NULL, 1);
	/* The rest of id 100 cannot complete: its start was discarded. */
	for (i = 1; i < a.n; i++)
		assert_int_equal(capwap_reasm_add(&r, a.data[i], a.len[i], 2, &out, &out_len,
						  &err), CAPWAP_INCOMPLETE);
	capwap_reasm_free(&r);
	frag_list_free(&a);
	frag_list_free(&b);
}

static void test_missing_first_fragment(void **state)
{
	struct frag_list l = { 0 };
	struct capwap_reasm r;
	struct capwap_error err;
	const uint8_t *out;
	size_t out_len, i;

	(void)state;
	build_big(false, 3000);
	assert_int_equal(capwap_fragment(pkt, pkt_len, 500, 3, collect, &l, &err), CAPWAP_OK);
	reasm_init(&r, 4096, 64);
	for (i = 1; i < l.n; i++)
		assert_int_equal(capwap_reasm_add(&r, l.data[i], l.len[i], 0, &out, &out_len,
						  &err), CAPWAP_INCOMPLETE);
	capwap_reasm_free(&r);
	frag_list_free(&l);
}

static void test_keepalive_fragment(void **state)
{
	uint8_t frag[64], payload[16] = { 0 };
	struct capwap_reasm r;
	struct capwap_error err;
	const uint8_t *out;
	size_t out_len, len;

	(void)state;
	reasm_init(&r, 4096, 64);
	len = make_frag(frag, 1, 0, false, payload, 16);
	frag[3] |= 0x08;	/* K */
	assert_int_equal(capwap_reasm_add(&r, frag, len, 0, &out, &out_len, &err),
			 CAPWAP_ERR_FRAGMENT);
	assert_reason(&err, "K set");
	assert_null(r.buf);
	capwap_reasm_free(&r);
}

static void test_memory_lifecycle(void **state)
{
	struct frag_list l = { 0 };
	struct capwap_reasm r;
	struct capwap_error err;
	const uint8_t *out;
	size_t out_len, i;

	(void)state;
	build_big(false, 800);
	assert_int_equal(capwap_fragment(pkt, pkt_len, 300, 3, collect, &l, &err), CAPWAP_OK);
	reasm_init(&r, 60000, 64);
	/* Nothing is allocated until a fragment arrives. */
	assert_null(r.buf);
	assert_int_equal(r.limits.max_size, 60000);
	/* A non-fragment passes through untouched and allocates nothing. */
	assert_int_equal(capwap_reasm_add(&r, pkt, pkt_len, 0, &out, &out_len, &err), CAPWAP_OK);
	assert_ptr_equal(out, pkt);
	assert_int_equal(out_len, pkt_len);
	assert_null(r.buf);
	for (i = 0; i < l.n; i++) {
		enum capwap_status st = capwap_reasm_add(&r, l.data[i], l.len[i], 0, &out,
							 &out_len, &err);

		assert_int_equal(st, i + 1 < l.n ? CAPWAP_INCOMPLETE : CAPWAP_OK);
		/* Grows with what arrived, not with the limit. */
		assert_true(r.buf_cap <= 124 + 1024 + ((i + 1) * 300 + 1023) / 1024 * 1024);
	}
	assert_non_null(r.buf);
	assert_memory_equal(out, pkt, pkt_len);
	/* The delivered buffer is released by the next call. */
	assert_false(capwap_reasm_expire(&r, 1));
	assert_null(r.buf);
	capwap_reasm_free(&r);
	capwap_reasm_free(&r);	/* idempotent */
	frag_list_free(&l);
}

static void test_reasm_bad_header(void **state)
{
	static const uint8_t junk[] = { 0x10, 0, 0, 0, 0, 0, 0, 0 };
	struct capwap_reasm r;
	struct capwap_error err;
	const uint8_t *out = junk;
	size_t out_len = 1;

	(void)state;
	reasm_init(&r, 4096, 64);
	assert_int_equal(capwap_reasm_add(&r, junk, sizeof(junk), 0, &out, &out_len, &err),
			 CAPWAP_ERR_UNSUPPORTED);
	assert_null(out);
	assert_int_equal(out_len, 0);
	assert_int_equal(capwap_reasm_add(&r, junk, 3, 0, &out, &out_len, &err),
			 CAPWAP_ERR_UNSUPPORTED);
	capwap_reasm_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_and_reassemble_mtus),
		cmocka_unit_test(test_radio_mac_kept),
		cmocka_unit_test(test_fits_passes_through),
		cmocka_unit_test(test_fragment_refuses),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_reassembly_rejects),
		cmocka_unit_test(test_too_many_fragments),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_new_frag_id_discards_old),
		cmocka_unit_test(test_missing_first_fragment),
		cmocka_unit_test(test_keepalive_fragment),
		cmocka_unit_test(test_memory_lifecycle),
		cmocka_unit_test(test_reasm_bad_header),
	};

	sample_der(big_der, sizeof(big_der), 0x44);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
