/*
 * tests/unit/test_pki_subject.c - LDAP-style subject strings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pki/pki.h"

static void test_full(void **state)
{
	struct pki_subject s;
	struct pki_error err;

	(void)state;
	assert_int_equal(pki_subject_parse("C=MX,ST=CDMX,L=Juarez,O=Example Org,OU=Wireless,"
					   "CN=AP-LSC,E=wifi-admin@example.org", &s, &err), 0);
	assert_string_equal(s.c, "MX");
	assert_string_equal(s.st, "CDMX");
	assert_string_equal(s.l, "Juarez");
	assert_string_equal(s.o, "Example Org");
	assert_string_equal(s.ou, "Wireless");
	assert_string_equal(s.cn, "AP-LSC");
	assert_string_equal(s.email, "wifi-admin@example.org");
}

static void test_spaces_case_escapes(void **state)
{
	struct pki_subject s;
	struct pki_error err;

	(void)state;
	assert_int_equal(pki_subject_parse("  cn = ap 1 , o=ACME\\, Inc.,emailAddress=a@b", &s,
					   &err), 0);
	assert_string_equal(s.cn, "ap 1");
	assert_string_equal(s.o, "ACME, Inc.");
	assert_string_equal(s.email, "a@b");
	assert_string_equal(s.c, "");
	assert_int_equal(pki_subject_parse("EMAIL=x@y,S=Bavaria", &s, &err), 0);
	assert_string_equal(s.email, "x@y");
	assert_string_equal(s.st, "Bavaria");
}

static void expect_error(const char *text, const char *needle)
{
	struct pki_subject s;
	struct pki_error err;

	assert_int_equal(pki_subject_parse(text, &s, &err), -1);
	assert_int_equal(err.status, PKI_ERR_PARSE);
	if (!strstr(err.reason, needle))
		fail_msg("'%s': reason '%s' lacks '%s'", text, err.reason, needle);
}

static void test_errors_name_component(void **state)
{
	(void)state;
	expect_error("C=US,XX=foo", "component 2");
	expect_error("C=US,XX=foo", "'XX'");
	expect_error("C=USA", "two letters");
	expect_error("C=U1", "two letters");
	expect_error("CN=a,CN=b", "CN given twice");
	expect_error("CN=", "empty value");
	expect_error("CN", "expected NAME=value");
	expect_error("CN=a,,O=b", "component 2: empty");
	expect_error("CN=a,", "stray");
	expect_error("", "empty");
	expect_error("CN=a\tb", "control character");
	expect_error("CN=0123456789012345678901234567890123456789012345678901234567890123456789",
		     "longer than 64");
	expect_error(NULL, "missing");
}

static void test_format_roundtrip(void **state)
{
	struct pki_subject a, b;
	struct pki_error err;
	char text[1024], tiny[8];

	(void)state;
	assert_int_equal(pki_subject_parse("CN=x\\,y,O=back\\\\slash,C=DE", &a, &err), 0);
	assert_string_equal(a.o, "back\\slash");
	assert_int_equal(pki_subject_format(&a, text, sizeof(text)), 0);
	assert_string_equal(text, "C=DE,O=back\\\\slash,CN=x\\,y");
	assert_int_equal(pki_subject_parse(text, &b, &err), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(pki_subject_format(&a, tiny, sizeof(tiny)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_spaces_case_escapes),
		cmocka_unit_test(test_errors_name_component),
		cmocka_unit_test(test_format_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
