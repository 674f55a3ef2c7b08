/*
 * tests/unit/test_pki_cert.c - certificate inspection, fingerprints,
 * PEM/DER, issuer and key checks, the certificate maker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "pki/pki.h"
#include "test_pki_vectors.h"

static struct pki_buf ca_der(void)
{
	struct pki_buf der;

	assert_int_equal(pki_pem_to_der(vec_ca_pem, strlen(vec_ca_pem), "CERTIFICATE", &der,
					NULL), 0);
	return der;
}

static void test_fp_format(void **state)
{
	/* MD5("") and SHA-1("") */
	static const uint8_t md5[16] = { 0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04,
					 0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e };
	static const uint8_t sha1[20] = { 0xda, 0x39, 0xa3, 0xee, 0x5e, 0x6b, 0x4b, 0x0d,
					  0x32, 0x55, 0xbf, 0xef, 0x95, 0x60, 0x18, 0x90,
					  0xaf, 0xd8, 0x07, 0x09 };
	char out[PKI_FP_MAX], small[10];

	(void)state;
	assert_string_equal(pki_fp_format(md5, 16, PKI_FP_IOS, out, sizeof(out)),
			    "D41D8CD9 8F00B204 E9800998 ECF8427E");
	assert_string_equal(pki_fp_format(sha1, 20, PKI_FP_IOS, out, sizeof(out)),
			    "DA39A3EE 5E6B4B0D 3255BFEF 95601890 AFD80709");
	assert_string_equal(pki_fp_format(sha1, 20, PKI_FP_HEX, out, sizeof(out)),
			    "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	assert_string_equal(pki_fp_format(md5, 4, PKI_FP_COLON, out, sizeof(out)),
			    "D4:1D:8C:D9");
	/* Too small: empty, never truncated into something that looks valid. */
	assert_string_equal(pki_fp_format(md5, 16, PKI_FP_IOS, small, sizeof(small)), "");
	/* Exactly enough: 8 hex + NUL for 4 bytes. */
	assert_string_equal(pki_fp_format(md5, 4, PKI_FP_IOS, small, 9), "D41D8CD9");
}

static void test_fp_parse(void **state)
{
	uint8_t md[32];
	char out[PKI_FP_MAX];
	struct pki_error err;

	(void)state;
	assert_int_equal(pki_fp_parse_sha256(VEC_CA_SHA256_COLON, md, &err), 0);
	assert_string_equal(pki_fp_format(md, 32, PKI_FP_HEX, out, sizeof(out)), VEC_CA_SHA256_HEX);
	assert_int_equal(pki_fp_parse_sha256(VEC_CA_SHA256, md, &err), 0);
	assert_string_equal(pki_fp_format(md, 32, PKI_FP_HEX, out, sizeof(out)), VEC_CA_SHA256_HEX);
	assert_int_equal(pki_fp_parse_sha256("abcd", md, &err), -1);
	assert_int_equal(err.status, PKI_ERR_CONFIG);
	assert_int_equal(pki_fp_parse_sha256(VEC_CA_SHA256_HEX "00", md, &err), -1);
	assert_int_equal(pki_fp_parse_sha256("zz" VEC_CA_SHA256_HEX, md, &err), -1);
	assert_int_equal(pki_fp_parse_sha256(NULL, md, &err), -1);
}

static void test_inspect_vector(void **state)
{
	struct pki_buf der = ca_der();
	struct pki_cert_info ci;
	struct pki_error err;
	char out[PKI_FP_MAX];

	(void)state;
	assert_int_equal(pki_cert_inspect(der.data, der.len, &ci, &err), 0);
	assert_int_equal(ci.version, 3);
	assert_string_equal(ci.serial_hex, VEC_CA_SERIAL);
	assert_string_equal(pki_fp_format(ci.md5, 16, PKI_FP_IOS, out, sizeof(out)), VEC_CA_MD5);
	assert_string_equal(pki_fp_format(ci.sha1, 20, PKI_FP_IOS, out, sizeof(out)), VEC_CA_SHA1);
	assert_string_equal(pki_fp_format(ci.sha256, 32, PKI_FP_IOS, out, sizeof(out)),
			    VEC_CA_SHA256);
	/* Most specific first, lower-case names, as IOS prints them. */
	assert_int_equal(ci.subject.n_attrs, 3);
	assert_string_equal(ci.subject.attrs[0].name, "ou");
	assert_string_equal(ci.subject.attrs[0].value, "SCEP CA");
	assert_string_equal(ci.subject.attrs[1].name, "o");
	assert_string_equal(ci.subject.attrs[2].name, "c");
	assert_string_equal(ci.subject.attrs[2].value, "US");
	assert_string_equal(ci.subject.line, "OU=SCEP CA,O=scep-ca,C=US");
	assert_true(ci.self_issued);
	assert_true(ci.is_ca);
	assert_true(ci.has_key_usage);
	assert_int_equal(ci.key_usage, PKI_KU_KEY_CERT_SIGN | PKI_KU_CRL_SIGN);
	assert_false(ci.has_eku);
	assert_string_equal(ci.key_alg, "RSA");
	assert_int_equal(ci.key.bits, 2048);
	assert_string_equal(ci.sig_alg, "sha256WithRSAEncryption");
	/* notAfter - notBefore = 3650 days */
	assert_int_equal(ci.not_after - ci.not_before, 3650L * 86400L);
	assert_string_equal(pki_cert_usage_name(&ci), "General Purpose");
	pki_buf_free(&der);
}

static void test_inspect_hostile(void **state)
{
	struct pki_buf der = ca_der();
	struct pki_cert_info ci;
	struct pki_error err;
	uint8_t *longer = malloc(der.len + 1);
	size_t n;

	(void)state;
	assert_int_equal(pki_cert_inspect((const uint8_t *)"\x30\x03\x02\x01\x01", 5, &ci, &err), -1);
	assert_int_equal(err.status, PKI_ERR_PARSE);
	assert_int_equal(pki_cert_inspect(NULL, 0, &ci, &err), -1);
	memcpy(longer, der.data, der.len);
	longer[der.len] = 0;
	assert_int_equal(pki_cert_inspect(longer, der.len + 1, &ci, &err), -1);	/* trailing */
	for (n = 0; n < der.len; n += 7)
		assert_int_equal(pki_cert_inspect(der.data, n, &ci, &err), -1);	/* truncated */
	free(longer);
	pki_buf_free(&der);
}

static void test_pem_der(void **state)
{
	struct pki_buf der = ca_der(), pem, back;
	struct pki_error err;
	char twoblocks[8192];

	(void)state;
	assert_int_equal(pki_der_to_pem(der.data, der.len, "CERTIFICATE", &pem, &err), 0);
	assert_non_null(strstr((char *)pem.data, "-----BEGIN CERTIFICATE-----"));
	assert_int_equal(strlen((char *)pem.data), pem.len);
	assert_int_equal(pki_pem_to_der((char *)pem.data, pem.len, NULL, &back, &err), 0);
	assert_int_equal(back.len, der.len);
	assert_memory_equal(back.data, der.data, der.len);
	pki_buf_free(&back);
	/* The label picks the block. */
	snprintf(twoblocks, sizeof(twoblocks), "junk\n%s%s", vec_ap_csr_pem, vec_ca_pem);
	assert_int_equal(pki_pem_to_der(twoblocks, strlen(twoblocks), "CERTIFICATE", &back, &err), 0);
	assert_memory_equal(back.data, der.data, der.len);
	pki_buf_free(&back);
	assert_int_equal(pki_pem_to_der("nothing", 7, NULL, &back, &err), -1);
	assert_int_equal(err.status, PKI_ERR_PARSE);
	pki_buf_free(&pem);
	pki_buf_free(&der);
}

static void test_issue_and_verify(void **state)
{
	struct pki_key_spec rsa = { PKI_KEY_RSA, 2048 }, ec = { PKI_KEY_EC, 256 };
	struct pki_key *cak, *apk, *otherk;
	struct pki_subject cas = { .c = "US", .o = "Test", .cn = "Test CA" };
	struct pki_subject aps = { .o = "test-ap", .cn = "AP-1" };
	struct pki_issue_params cap = { .days = 30, .ca = true,
					.key_usage = PKI_KU_KEY_CERT_SIGN | PKI_KU_CRL_SIGN };
	struct pki_issue_params eep = { .days = 10, .key_usage = PKI_KU_DIGITAL_SIGNATURE,
					.eku = PKI_EKU_CLIENT_AUTH, .serial = 0x1234 };
	struct pki_buf cac, csr, ee, other = ca_der();
	struct pki_cert_info ci;
	struct pki_error err;

	(void)state;
	assert_int_equal(pki_key_generate(&rsa, &cak, &err), 0);
	assert_int_equal(pki_key_generate(&ec, &apk, &err), 0);
	assert_int_equal(pki_key_generate(&ec, &otherk, &err), 0);
	assert_int_equal(pki_cert_self_signed(cak, &cas, &cap, &cac, &err), 0);
	assert_int_equal(pki_csr_build(apk, &aps, NULL, &csr, &err), 0);
	assert_int_equal(pki_cert_issue(cak, cac.data, cac.len, csr.data, csr.len, &eep, &ee,
					&err), 0);
	assert_int_equal(pki_cert_inspect(ee.data, ee.len, &ci, &err), 0);
	assert_string_equal(ci.serial_hex, "1234");
	assert_string_equal(ci.subject.attrs[0].name, "cn");
	assert_string_equal(ci.subject.attrs[0].value, "AP-1");
	assert_string_equal(ci.issuer.line, "CN=Test CA,O=Test,C=US");
	assert_string_equal(ci.key_alg, "EC");
	assert_string_equal(ci.key_curve, "P-256");
	assert_false(ci.is_ca);
	assert_int_equal(ci.eku, PKI_EKU_CLIENT_AUTH);
	assert_string_equal(pki_cert_usage_name(&ci), "Signature");
	assert_int_equal(ci.not_after - ci.not_before, 10 * 86400);
	/* Five minutes back by default, for peers with a slow clock. */
	assert_true(ci.not_before <= time(NULL) - 290 && ci.not_before >= time(NULL) - 400);

	assert_int_equal(pki_cert_verify_issued_by(ee.data, ee.len, cac.data, cac.len, &err), 0);
	assert_int_equal(pki_cert_verify_issued_by(ee.data, ee.len, other.data, other.len, &err), -1);
	assert_int_equal(err.status, PKI_ERR_WRONG_ISSUER);
	assert_non_null(strstr(err.reason, "AP-1"));
	assert_int_equal(pki_cert_key_equals_csr(ee.data, ee.len, csr.data, csr.len, &err), 1);
	assert_int_equal(pki_cert_key_equals(ee.data, ee.len, apk, &err), 1);
	assert_int_equal(pki_cert_key_equals(ee.data, ee.len, otherk, &err), 0);
	assert_int_equal(pki_cert_key_equals(cac.data, cac.len, cak, &err), 1);
	assert_int_equal(pki_cert_key_equals((const uint8_t *)"x", 1, cak, &err), -1);
	pki_buf_free(&cac);
	pki_buf_free(&csr);
	pki_buf_free(&ee);
	pki_buf_free(&other);
	pki_key_free(cak);
	pki_key_free(apk);
	pki_key_free(otherk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fp_format),
		cmocka_unit_test(test_fp_parse),
		cmocka_unit_test(test_inspect_vector),
		cmocka_unit_test(test_inspect_hostile),
		cmocka_unit_test(test_pem_der),
		cmocka_unit_test(test_issue_and_verify),
	};

	assert_int_equal(pki_init(NULL), 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
