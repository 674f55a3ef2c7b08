/*
 * tests/unit/test_pki_caps.c - GetCACaps parsing and algorithm choice.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pki/pki.h"

static void sel(const char *body, struct pki_scep_algs *a, struct pki_caps *c)
{
	pki_caps_parse(body, strlen(body), c);
	pki_caps_select(c, a);
}

static void test_micromdm(void **state)
{
	/* micromdm 2.1.0, byte for byte: no trailing LF, no SHA-512. */
	const char *b = "Renewal\nSHA-1\nSHA-256\nAES\nDES3\nSCEPStandard\nPOSTPKIOperation";
	struct pki_scep_algs a;
	struct pki_caps c;
	char text[256];

	(void)state;
	sel(b, &a, &c);
	assert_true(c.known);
	assert_true(c.flags & PKI_CAP_RENEWAL);
	assert_false(c.flags & PKI_CAP_GETNEXTCACERT);
	assert_true(a.post);
	assert_int_equal(a.digest, PKI_DIGEST_SHA256);
	assert_int_equal(a.cipher, PKI_CIPHER_AES128);
	assert_string_equal(pki_caps_format(&c, text, sizeof(text)),
			    "AES DES3 POSTPKIOperation Renewal SHA-1 SHA-256 SCEPStandard");
}

static void test_strongest_digest(void **state)
{
	struct pki_scep_algs a;
	struct pki_caps c;

	(void)state;
	sel("SHA-1\r\nsha-512\r\nSHA-256\r\n", &a, &c);
	assert_int_equal(a.digest, PKI_DIGEST_SHA512);
	assert_false(a.post);
	assert_int_equal(a.cipher, PKI_CIPHER_DES);
	sel("SHA-1\nDES3\nGetNextCACert\n", &a, &c);
	assert_int_equal(a.digest, PKI_DIGEST_SHA1);
	assert_int_equal(a.cipher, PKI_CIPHER_DES3);
	assert_true(c.flags & PKI_CAP_GETNEXTCACERT);
	sel("DES3\nAES\n", &a, &c);
	assert_int_equal(a.cipher, PKI_CIPHER_AES128);
	assert_int_equal(a.digest, PKI_DIGEST_MD5);	/* nothing else advertised */
}

static void test_scep_standard_implies(void **state)
{
	struct pki_scep_algs a;
	struct pki_caps c;

	(void)state;
	sel("SCEPStandard", &a, &c);
	assert_true(a.post);
	assert_int_equal(a.digest, PKI_DIGEST_SHA256);
	assert_int_equal(a.cipher, PKI_CIPHER_AES128);
	sel("POSTPKIOperation", &a, &c);
	assert_true(a.post);
	assert_int_equal(a.digest, PKI_DIGEST_MD5);
	assert_int_equal(a.cipher, PKI_CIPHER_DES);
}

static void test_legacy_defaults(void **state)
{
	struct pki_scep_algs a;
	struct pki_caps c;

	(void)state;
	sel("", &a, &c);
	assert_false(c.known);
	assert_false(a.post);
	assert_int_equal(a.digest, PKI_DIGEST_MD5);
	assert_int_equal(a.cipher, PKI_CIPHER_DES);
	/* Unknown words only: as good as no caps. */
	sel("Frobnicate\n  \nX509-Magic", &a, &c);
	assert_false(c.known);
	assert_int_equal(c.flags, 0);
	/* Caps never fetched. */
	memset(&c, 0, sizeof(c));
	c.flags = PKI_CAP_AES;
	pki_caps_select(&c, &a);
	assert_int_equal(a.cipher, PKI_CIPHER_DES);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(pki_digest_name(PKI_DIGEST_SHA512), "SHA-512");
	assert_string_equal(pki_cipher_name(PKI_CIPHER_DES3), "DES-EDE3-CBC");
	assert_string_equal(pki_status_name(PKI_ERR_PENDING_EXHAUSTED), "PENDING_EXHAUSTED");
	assert_string_equal(pki_status_name((enum pki_status)999), "UNKNOWN");
	assert_string_equal(pki_fail_info_name(PKI_FAIL_BAD_CERT_ID), "badCertId");
	assert_string_equal(pki_fail_info_name(PKI_FAIL_BAD_MESSAGE_CHECK), "badMessageCheck");
	assert_string_equal(pki_fail_info_name(7), "unknown");
	assert_string_equal(pki_msg_type_name(20), "CertPoll");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_micromdm),
		cmocka_unit_test(test_strongest_digest),
		cmocka_unit_test(test_scep_standard_implies),
		cmocka_unit_test(test_legacy_defaults),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
