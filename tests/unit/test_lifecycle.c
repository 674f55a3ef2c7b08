/*
 * Certificate lifecycle arithmetic (issue 9): the RENEW point at a share of
 * an identity's lifetime, RENEW versus SHADOW from the CA's end, the CA's
 * SHADOW point at 90 %, and the AP renewal spread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ctrl/lifecycle.h"

#define DAY 86400
#define T0  1800000000      /* 2027-01-15 08:00:00Z */

static void test_share_point(void **state)
{
	struct lc_validity v = { T0, T0 + 100 * DAY };

	(void)state;
	assert_int_equal(lc_share_point(&v, 80), T0 + 80 * DAY);
	assert_int_equal(lc_share_point(&v, 0), T0);
	assert_int_equal(lc_share_point(&v, 100), T0 + 100 * DAY);
	/* Rounded down to the second, never past the share. */
	struct lc_validity odd = { T0, T0 + 7 };
	assert_int_equal(lc_share_point(&odd, 50), T0 + 3);
	/* A one-day certificate at 80 %: 19.2 hours. */
	struct lc_validity day = { T0, T0 + DAY };
	assert_int_equal(lc_share_point(&day, 80), T0 + 69120);
	/* An empty or inverted validity has no later point. */
	struct lc_validity empty = { T0, T0 };
	assert_int_equal(lc_share_point(&empty, 80), T0);
	struct lc_validity inverted = { T0, T0 - DAY };
	assert_int_equal(lc_share_point(&inverted, 80), T0);
	/* Ten years of lifetime do not overflow. */
	struct lc_validity ten = { T0, T0 + 3650LL * DAY };
	assert_int_equal(lc_share_point(&ten, 99), T0 + 3650LL * DAY * 99 / 100);
}

static void test_ends_with_ca(void **state)
{
	struct lc_validity ca = { T0, T0 + 365 * DAY };
	(void)state;

	/* Cut to the CA's end: together. */
	struct lc_validity capped = { T0 + 300 * DAY, T0 + 365 * DAY };
	assert_true(lc_ends_with_ca(&capped, &ca));
	/* Within 1 % of its own lifetime of the CA's end: together. */
	struct lc_validity near = { T0 + 265 * DAY, T0 + 365 * DAY - DAY / 2 };
	assert_true(lc_ends_with_ca(&near, &ca));
	/* Two days before, on a 100-day certificate: before. */
	struct lc_validity before = { T0 + 263 * DAY, T0 + 363 * DAY };
	assert_false(lc_ends_with_ca(&before, &ca));
	/* A CA that issued past its own end: still "together" (nothing later to get). */
	struct lc_validity past = { T0 + 300 * DAY, T0 + 400 * DAY };
	assert_true(lc_ends_with_ca(&past, &ca));
	/* Short certificates get at least a minute of slack, not 1 % of an hour. */
	struct lc_validity short_ca = { T0, T0 + 3600 };
	struct lc_validity short_id = { T0, T0 + 3600 - 50 };
	assert_true(lc_ends_with_ca(&short_id, &short_ca));
	struct lc_validity short_early = { T0, T0 + 3600 - 120 };
	assert_false(lc_ends_with_ca(&short_early, &short_ca));
}

static void test_renew_versus_shadow(void **state)
{
	struct lc_validity ca = { T0, T0 + 365 * DAY };
	struct lc_validity early = { T0, T0 + 100 * DAY };
	struct lc_validity with_ca = { T0 + 265 * DAY, T0 + 365 * DAY };
	int64_t due = 0;
	(void)state;

	/* Ends before the CA: RENEW at the percentage, rollover or not. */
	assert_int_equal(lc_identity_timer(&early, &ca, 80, true, &due), LC_RENEW);
	assert_int_equal(due, T0 + 80 * DAY);
	assert_int_equal(lc_identity_timer(&early, &ca, 80, false, &due), LC_RENEW);
	/* Ends with the CA, which rolls over: SHADOW, at the same percentage. */
	due = 0;
	assert_int_equal(lc_identity_timer(&with_ca, &ca, 80, true, &due), LC_SHADOW);
	assert_int_equal(due, T0 + 265 * DAY + 80 * DAY);
	/* Ends with a CA that offers no rollover: RENEW all the same. */
	assert_int_equal(lc_identity_timer(&with_ca, &ca, 80, false, &due), LC_RENEW);
	/* auto_enroll off, or nothing to renew: no timer. */
	assert_int_equal(lc_identity_timer(&early, &ca, 0, true, &due), LC_NONE);
	struct lc_validity empty = { T0, T0 };
	assert_int_equal(lc_identity_timer(&empty, &ca, 80, true, &due), LC_NONE);
	/* The percentage is the identity's lifetime, not the CA's. */
	assert_int_equal(lc_identity_timer(&early, &ca, 50, false, &due), LC_RENEW);
	assert_int_equal(due, T0 + 50 * DAY);
}

static void test_ca_shadow_at_ninety_percent(void **state)
{
	struct lc_validity ca = { T0, T0 + 1000 * DAY };
	struct lc_validity empty = { T0, T0 };
	int64_t due = 0;
	(void)state;

	assert_true(lc_ca_shadow_due(&ca, &due));
	assert_int_equal(due, T0 + 900 * DAY);
	assert_false(lc_ca_shadow_due(&empty, &due));
}

static void test_ap_spread(void **state)
{
	const uint8_t first[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	const uint8_t cisco[6] = { 0x28, 0x6f, 0x7f, 0xcf, 0x53, 0xac };
	(void)state;

	/* FNV-1a 32 of the six MAC bytes, mod the spread: values computed
	 * independently (Python) so a change of hash is noticed. */
	assert_int_equal(lc_ap_spread(first, 3600), 1998812668u % 3600);
	assert_int_equal(lc_ap_spread(first, 3600), 2668);
	assert_int_equal(lc_ap_spread(cisco, 3600), 2321);
	assert_int_equal(lc_ap_spread(cisco, 0), 0);
	/* Stable: the same AP always gets the same slot. */
	assert_int_equal(lc_ap_spread(cisco, 3600), lc_ap_spread(cisco, 3600));

	/* A fleet provisioned in one minute (consecutive MACs, as apsim and
	 * many installations have) spreads over the whole window: no hour of
	 * the day gets more than twice its share, none stays empty. */
	unsigned buckets[24] = { 0 };
	const unsigned n = 4800, spread = 24 * 3600;
	for (unsigned i = 0; i < n; i++) {
		uint8_t mac[6] = { 0x02, 0x00, 0x00, 0x00, (uint8_t)(i >> 8), (uint8_t)i };
		uint32_t s = lc_ap_spread(mac, spread);
		assert_true(s < spread);
		buckets[s / 3600]++;
	}
	for (int h = 0; h < 24; h++) {
		assert_true(buckets[h] > 0);
		assert_true(buckets[h] <= 2 * n / 24);
	}
}

static void test_ap_renew_due(void **state)
{
	const uint8_t mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };   /* spread 2668 of 3600 */
	struct lc_validity lsc = { T0, T0 + 365 * DAY };
	int64_t due = 0;
	(void)state;

	assert_true(lc_ap_renew_due(&lsc, 80, 3600, mac, &due));
	assert_int_equal(due, T0 + 292 * DAY + 2668);
	assert_true(lc_ap_renew_due(&lsc, 80, 0, mac, &due));
	assert_int_equal(due, T0 + 292 * DAY);
	/* Renewal off, or an empty validity. */
	assert_false(lc_ap_renew_due(&lsc, 0, 3600, mac, &due));
	struct lc_validity empty = { T0, T0 };
	assert_false(lc_ap_renew_due(&empty, 80, 3600, mac, &due));
	/* The spread never pushes the renewal past the expiry: a one-hour LSC
	 * at 99 % with an hour of spread renews at 99 %. */
	struct lc_validity hour = { T0, T0 + 3600 };
	assert_true(lc_ap_renew_due(&hour, 99, 3600, mac, &due));
	assert_int_equal(due, T0 + 3564);
	/* ...while a spread that fits is kept. */
	assert_true(lc_ap_renew_due(&hour, 10, 3000, mac, &due));
	assert_int_equal(due, T0 + 360 + lc_ap_spread(mac, 3000));
	assert_true(due < T0 + 3600);
}

static void test_time_text(void **state)
{
	char out[24];
	(void)state;

	assert_string_equal(lc_time_text(T0, out), "2027-01-15 08:00:00Z");
	assert_string_equal(lc_time_text(0, out), "1970-01-01 00:00:00Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_share_point),
		cmocka_unit_test(test_ends_with_ca),
		cmocka_unit_test(test_renew_versus_shadow),
		cmocka_unit_test(test_ca_shadow_at_ninety_percent),
		cmocka_unit_test(test_ap_spread),
		cmocka_unit_test(test_ap_renew_due),
		cmocka_unit_test(test_time_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
