/*
 * test_capwap_mac.c — MAC address parsing in every notation operators use,
 * formatting in four styles, and the AP MAC from a certificate CN.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "capwap/capwap.h"

static const uint8_t ap[6] = { 0x28, 0x6f, 0x7f, 0xcf, 0x53, 0xac };

static bool parse(const char *s, uint8_t mac[6])
{
	return capwap_mac_parse(s, strlen(s), mac);
}

static void test_parse_notations(void **state)
{
	static const char *const good[] = {
		"28:6f:7f:cf:53:ac", "28:6F:7F:CF:53:AC", "28:6f:7F:cF:53:Ac",
		"28-6f-7f-cf-53-ac", "28-6F-7F-CF-53-AC",
		"286f.7fcf.53ac", "286F.7FCF.53AC",
		"286f7fcf53ac", "286F7FCF53AC",
	};
	uint8_t mac[6];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(mac, 0, sizeof(mac));
		if (!parse(good[i], mac))
			fail_msg("\"%s\" not parsed", good[i]);
		assert_memory_equal(mac, ap, 6);
	}
	assert_true(parse("00:00:00:00:00:00", mac));
	assert_memory_equal(mac, "\0\0\0\0\0\0", 6);
	assert_true(parse("ffff.ffff.ffff", mac));
	assert_memory_equal(mac, "\xff\xff\xff\xff\xff\xff", 6);
	/* Not NUL-terminated: only len bytes count. */
	assert_true(capwap_mac_parse("286f7fcf53acXYZ", 12, mac));
	assert_memory_equal(mac, ap, 6);
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"", "2", "28:6f:7f:cf:53:a", "28:6f:7f:cf:53:acd", "28:6f:7f:cf:53:ac:",
		"28:6f-7f:cf:53:ac",		/* mixed separators */
		"28.6f.7f.cf.53.ac",		/* dots in pairs */
		"286f:7fcf:53ac",		/* colons in quads */
		"286f-7fcf-53ac",
		"28:6f:7f:cf:53:ag", "g86f7fcf53ac", "286f7fcf53a ", " 86f7fcf53ac",
		"28::6f:7f:cf:53a", "2:86f:7f:cf:53:ac", "286f.7fcf53ac.",
		"286f7fcf53ac0", "0x286f7fcf53", "28 6f 7f cf 53 ac",
	};
	uint8_t mac[6] = { 1, 2, 3, 4, 5, 6 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], mac))
			fail_msg("\"%s\" parsed", bad[i]);
		/* Failure leaves the output alone. */
		assert_memory_equal(mac, "\x01\x02\x03\x04\x05\x06", 6);
	}
	assert_false(capwap_mac_parse(NULL, 12, mac));
	assert_false(capwap_mac_parse("28:6f:7f:cf:53:ac", 16, mac));
}

static void test_format_styles(void **state)
{
	char out[18];
	uint8_t back[6];

	(void)state;
	capwap_mac_format(ap, CAPWAP_MAC_COLON, out);
	assert_string_equal(out, "28:6f:7f:cf:53:ac");
	assert_true(parse(out, back));
	assert_memory_equal(back, ap, 6);
	capwap_mac_format(ap, CAPWAP_MAC_DOTTED, out);
	assert_string_equal(out, "286f.7fcf.53ac");
	assert_true(parse(out, back));
	assert_memory_equal(back, ap, 6);
	capwap_mac_format(ap, CAPWAP_MAC_HYPHEN, out);
	assert_string_equal(out, "28-6f-7f-cf-53-ac");
	assert_true(parse(out, back));
	capwap_mac_format(ap, CAPWAP_MAC_BARE_UPPER, out);
	assert_string_equal(out, "286F7FCF53AC");
	assert_true(parse(out, back));
	assert_memory_equal(back, ap, 6);
	capwap_mac_format((const uint8_t *)"\x00\x0a\xff\x01\x10\xee", CAPWAP_MAC_COLON, out);
	assert_string_equal(out, "00:0a:ff:01:10:ee");
}

static void test_from_cn(void **state)
{
	static const char *const good[] = {
		"ap3g3-286F7FCF53AC", "AIR-AP3802I-E-K9-286f7fcf53ac",
		"c9120axi-286f.7fcf.53ac", "ap-28:6f:7f:cf:53:ac", "ap-28-6f-7f-cf-53-ac",
		"28:6f:7f:cf:53:ac", "286F7FCF53AC", "-286F7FCF53AC",
	};
	static const char *const bad[] = {
		"", "ap3g3-286F7FCF53A", "ap3g3286F7FCF53AC", "ap3g3-286F7FCF53AC-",
		"ap3g3_286F7FCF53AC", "ap3g3-286F7FCF53AG", "lscd.example.net",
		"ap3g3-286F7FCF53AC ", "ap3g3", "-",
	};
	uint8_t mac[6];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(mac, 0, 6);
		if (!capwap_mac_from_cn(good[i], strlen(good[i]), mac))
			fail_msg("CN \"%s\" not parsed", good[i]);
		assert_memory_equal(mac, ap, 6);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (capwap_mac_from_cn(bad[i], strlen(bad[i]), mac))
			fail_msg("CN \"%s\" parsed", bad[i]);
	assert_false(capwap_mac_from_cn(NULL, 5, mac));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_notations),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_format_styles),
		cmocka_unit_test(test_from_cn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
