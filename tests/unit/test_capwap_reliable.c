/*
 * test_capwap_reliable.c — request/response bookkeeping (§1.13): the
 * modulo-256 "older" rule, duplicate and stale requests, one outstanding
 * request, response matching.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "capwap/capwap.h"

static void test_seq_older(void **state)
{
	static const struct {
		uint8_t s1, s2;
		bool older;
	} cases[] = {
		{ 1, 2, true }, { 2, 1, false }, { 5, 5, false },
		{ 0, 127, true }, { 0, 128, false }, { 128, 0, false },
		{ 10, 137, true }, { 10, 138, false }, { 137, 10, false },
		{ 255, 0, true }, { 0, 255, false },		/* wrap */
		{ 250, 3, true }, { 3, 250, false },
		{ 200, 50, true }, { 50, 200, false },
		{ 129, 0, true }, { 0, 129, false },
		{ 254, 255, true }, { 255, 254, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (capwap_seq_older(cases[i].s1, cases[i].s2) != cases[i].older)
			fail_msg("older(%u, %u) should be %d", cases[i].s1, cases[i].s2,
				 cases[i].older);
}

/* The rule is antisymmetric and only s1 == s2 or distance 128 are neither. */
static void test_seq_older_exhaustive(void **state)
{
	unsigned a, b;

	(void)state;
	for (a = 0; a < 256; a++) {
		for (b = 0; b < 256; b++) {
			bool ab = capwap_seq_older((uint8_t)a, (uint8_t)b);
			bool ba = capwap_seq_older((uint8_t)b, (uint8_t)a);
			unsigned dist = (b - a) & 0xff;

			assert_false(ab && ba);
			if (a == b || dist == 128)
				assert_false(ab || ba);
			else
				assert_true(ab || ba);
			/* b is newer than a exactly when it is 1..127 ahead. */
			assert_int_equal(ab, dist >= 1 && dist <= 127);
		}
	}
}

static void test_classify_and_cache(void **state)
{
	static const uint8_t resp1[] = { 1, 2, 3 };
	static const uint8_t resp2[] = { 4, 5, 6, 7 };
	struct capwap_reliable r;

	(void)state;
	capwap_reliable_init(&r, 0);
	/* Nothing seen yet: anything is new. */
	assert_int_equal(capwap_reliable_classify(&r, 0), CAPWAP_RX_NEW);
	assert_int_equal(capwap_reliable_classify(&r, 200), CAPWAP_RX_NEW);

	assert_int_equal(capwap_reliable_store_response(&r, 5, resp1, sizeof(resp1)), CAPWAP_OK);
	assert_int_equal(capwap_reliable_classify(&r, 5), CAPWAP_RX_DUPLICATE);
	assert_int_equal(capwap_reliable_classify(&r, 4), CAPWAP_RX_STALE);
	assert_int_equal(capwap_reliable_classify(&r, 134), CAPWAP_RX_STALE);
	assert_int_equal(capwap_reliable_classify(&r, 133), CAPWAP_RX_NEW);
	assert_int_equal(capwap_reliable_classify(&r, 6), CAPWAP_RX_NEW);
	assert_int_equal(r.last_response_len, sizeof(resp1));
	assert_memory_equal(r.last_response, resp1, sizeof(resp1));
	/* The cache is a copy. */
	assert_ptr_not_equal(r.last_response, resp1);

	/* Around the wrap. */
	assert_int_equal(capwap_reliable_store_response(&r, 254, resp2, sizeof(resp2)), CAPWAP_OK);
	assert_int_equal(capwap_reliable_classify(&r, 254), CAPWAP_RX_DUPLICATE);
	assert_int_equal(capwap_reliable_classify(&r, 255), CAPWAP_RX_NEW);
	assert_int_equal(capwap_reliable_classify(&r, 0), CAPWAP_RX_NEW);
	assert_int_equal(capwap_reliable_classify(&r, 3), CAPWAP_RX_NEW);
	assert_int_equal(capwap_reliable_classify(&r, 253), CAPWAP_RX_STALE);
	assert_int_equal(capwap_reliable_classify(&r, 130), CAPWAP_RX_STALE);
	assert_int_equal(r.last_response_len, sizeof(resp2));
	assert_memory_equal(r.last_response, resp2, sizeof(resp2));

	assert_int_equal(capwap_reliable_store_response(&r, 0, resp1, 0), CAPWAP_OK);
	assert_int_equal(capwap_reliable_classify(&r, 0), CAPWAP_RX_DUPLICATE);
	assert_int_equal(capwap_reliable_classify(&r, 254), CAPWAP_RX_STALE);
	assert_int_equal(r.last_response_len, 0);
	capwap_reliable_free(&r);
	assert_null(r.last_response);
}

static void test_outstanding_request(void **state)
{
	static const uint8_t req[] = { 0xaa, 0xbb };
	struct capwap_reliable r;
	uint8_t seq;

	(void)state;
	capwap_reliable_init(&r, 40);
	seq = capwap_reliable_next_seq(&r);
	assert_int_equal(seq, 40);
	assert_int_equal(r.next_seq, 41);
	assert_int_equal(capwap_reliable_start_request(&r, CAPWAP_CONFIG_UPDATE_REQUEST, seq,
						       req, sizeof(req)), CAPWAP_OK);
	/* The seq came from next_seq(): not claimed twice. */
	assert_int_equal(r.next_seq, 41);
	assert_true(r.pending);
	assert_memory_equal(r.pending_buf, req, sizeof(req));
	assert_int_equal(r.pending_len, sizeof(req));
	/* Only one outstanding. */
	assert_int_equal(capwap_reliable_start_request(&r, CAPWAP_ECHO_REQUEST, 41, req, 1),
			 CAPWAP_ERR_LIMIT);
	assert_int_equal(r.pending_seq, 40);

	/* Strays do not clear it. */
	assert_false(capwap_reliable_match_response(&r, CAPWAP_CONFIG_UPDATE_RESPONSE, 39));
	assert_false(capwap_reliable_match_response(&r, CAPWAP_ECHO_RESPONSE, 40));
	assert_false(capwap_reliable_match_response(&r, CAPWAP_CONFIG_UPDATE_REQUEST, 40));
	assert_true(r.pending);
	assert_true(capwap_reliable_match_response(&r, CAPWAP_CONFIG_UPDATE_RESPONSE, 40));
	assert_false(r.pending);
	assert_null(r.pending_buf);
	/* A duplicate response is discarded. */
	assert_false(capwap_reliable_match_response(&r, CAPWAP_CONFIG_UPDATE_RESPONSE, 40));

	/* Passing next_seq directly claims it too. */
	assert_int_equal(capwap_reliable_start_request(&r, CAPWAP_ECHO_REQUEST, r.next_seq,
						       req, sizeof(req)), CAPWAP_OK);
	assert_int_equal(r.pending_seq, 41);
	assert_int_equal(r.next_seq, 42);
	r.retransmits = 3;
	capwap_reliable_cancel(&r);
	assert_false(r.pending);
	assert_int_equal(r.retransmits, 0);
	assert_false(capwap_reliable_match_response(&r, CAPWAP_ECHO_RESPONSE, 41));
	/* A new request after giving up uses a new number. */
	assert_int_equal(capwap_reliable_next_seq(&r), 42);
	capwap_reliable_free(&r);
}

static void test_next_seq_wraps(void **state)
{
	struct capwap_reliable r;

	(void)state;
	capwap_reliable_init(&r, 254);
	assert_int_equal(capwap_reliable_next_seq(&r), 254);
	assert_int_equal(capwap_reliable_next_seq(&r), 255);
	assert_int_equal(capwap_reliable_next_seq(&r), 0);
	assert_int_equal(capwap_reliable_start_request(&r, CAPWAP_ECHO_REQUEST, 1, NULL, 0),
			 CAPWAP_OK);
	assert_int_equal(r.next_seq, 2);
	/* Freeing with a request pending and a cached response leaks nothing
	 * (ASan would say). */
	assert_int_equal(capwap_reliable_store_response(&r, 9, (const uint8_t *)"x", 1), CAPWAP_OK);
	capwap_reliable_free(&r);
	assert_false(r.pending);
	assert_false(r.have_last_rx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seq_older),
		cmocka_unit_test(test_seq_older_exhaustive),
		cmocka_unit_test(test_classify_and_cache),
		cmocka_unit_test(test_outstanding_request),
		cmocka_unit_test(test_next_seq_wraps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
