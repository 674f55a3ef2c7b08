/*
 * tests/unit/test_pki_csr.c - CSR inspection on good and hostile input,
 * and CSR building.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pki/pki.h"
#include "test_pki_vectors.h"

static struct pki_buf der_of(const char *pem)
{
	struct pki_buf der;

	assert_int_equal(pki_pem_to_der(pem, strlen(pem), "CERTIFICATE REQUEST", &der, NULL), 0);
	return der;
}

static void test_good_rsa(void **state)
{
	struct pki_buf der = der_of(vec_ap_csr_pem);
	struct pki_csr_info ci;
	struct pki_error err;

	(void)state;
	assert_int_equal(pki_csr_inspect(der.data, der.len, &ci, &err), 0);
	assert_string_equal(ci.subject.c, "MX");
	assert_string_equal(ci.subject.st, "CDMX");
	assert_string_equal(ci.subject.l, "Juarez");
	assert_string_equal(ci.subject.o, "Example Org");
	assert_string_equal(ci.subject.ou, "Wireless");
	assert_string_equal(ci.subject.cn, "AP-LSC-0001");
	assert_string_equal(ci.subject.email, "wifi-admin@example.org");
	assert_string_equal(ci.name.attrs[0].name, "ea");
	assert_string_equal(ci.name.attrs[1].name, "cn");
	assert_int_equal(ci.key.type, PKI_KEY_RSA);
	assert_int_equal(ci.key.bits, 2048);
	assert_string_equal(ci.sig_alg, "sha256WithRSAEncryption");
	assert_false(ci.has_challenge);
	/* txid = upper-case hex SHA-256 of the SPKI, as `openssl pkey -pubin -outform DER | sha256sum` */
	assert_string_equal(ci.txid, VEC_AP_TXID);
	pki_buf_free(&der);
}

static void test_ec_and_ed(void **state)
{
	struct pki_buf der = der_of(vec_ec_csr_pem), ed = der_of(vec_ed_csr_pem);
	struct pki_csr_info ci;
	struct pki_error err;

	(void)state;
	assert_int_equal(pki_csr_inspect(der.data, der.len, &ci, &err), 0);
	assert_int_equal(ci.key.type, PKI_KEY_EC);
	assert_int_equal(ci.key.bits, 256);
	assert_string_equal(ci.key_curve, "P-256");
	assert_string_equal(ci.sig_alg, "ecdsa-with-SHA256");
	assert_string_equal(ci.txid, VEC_EC_TXID);
	assert_int_equal(pki_csr_inspect(ed.data, ed.len, &ci, &err), 0);
	assert_int_equal(ci.key.type, PKI_KEY_ED25519);
	pki_buf_free(&der);
	pki_buf_free(&ed);
}

static void test_weird_algorithm(void **state)
{
	struct pki_buf der = der_of(vec_dsa_csr_pem);
	struct pki_csr_info ci;
	struct pki_error err;

	(void)state;
	assert_int_equal(pki_csr_inspect(der.data, der.len, &ci, &err), -1);
	assert_int_equal(err.status, PKI_ERR_UNSUPPORTED);
	assert_non_null(strstr(err.reason, "DSA"));
	pki_buf_free(&der);
}

static void test_bad_signature(void **state)
{
	struct pki_buf der = der_of(vec_ap_csr_pem);
	struct pki_csr_info ci;
	struct pki_error err;

	(void)state;
	der.data[der.len - 10] ^= 0x40;		/* inside the signature BIT STRING */
	assert_int_equal(pki_csr_inspect(der.data, der.len, &ci, &err), -1);
	assert_int_equal(err.status, PKI_ERR_BAD_SIGNATURE);
	der.data[der.len - 10] ^= 0x40;
	/* A changed subject byte breaks proof of possession too. */
	der.data[60] ^= 0x01;
	assert_int_equal(pki_csr_inspect(der.data, der.len, &ci, &err), -1);
	assert_true(err.status == PKI_ERR_BAD_SIGNATURE || err.status == PKI_ERR_PARSE);
	pki_buf_free(&der);
}

static void test_garbage_truncated_huge(void **state)
{
	struct pki_buf der = der_of(vec_ap_csr_pem);
	struct pki_csr_info ci;
	struct pki_error err;
	uint8_t *big, junk[512];
	size_t n, i;

	(void)state;
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	assert_int_equal(pki_csr_inspect(junk, sizeof(junk), &ci, &err), -1);
	assert_int_equal(err.status, PKI_ERR_PARSE);
	assert_int_equal(pki_csr_inspect(NULL, 0, &ci, &err), -1);
	/* Every strict prefix fails cleanly. */
	for (n = 1; n < der.len; n++)
		assert_int_equal(pki_csr_inspect(der.data, n, &ci, &err), -1);
	/* Trailing bytes are refused. */
	big = calloc(1, PKI_CSR_MAX_LEN + 16);
	memcpy(big, der.data, der.len);
	assert_int_equal(pki_csr_inspect(big, der.len + 1, &ci, &err), -1);
	/* Over the cap: refused before parsing. */
	assert_int_equal(pki_csr_inspect(big, PKI_CSR_MAX_LEN + 1, &ci, &err), -1);
	assert_int_equal(err.status, PKI_ERR_PARSE);
	assert_non_null(strstr(err.reason, "larger than"));
	/* Single-bit flips anywhere: an error or a valid parse, never a crash. */
	for (n = 0; n < der.len; n++) {
		der.data[n] ^= 0x80;
		(void)pki_csr_inspect(der.data, der.len, &ci, &err);
		der.data[n] ^= 0x80;
	}
	free(big);
	pki_buf_free(&der);
}

static void test_build_roundtrip(void **state)
{
	struct pki_key_spec spec = { PKI_KEY_EC, 384 };
	struct pki_subject s = { .c = "US", .o = "lscd", .ou = "wlan", .cn = "AP-2" };
	struct pki_subject longcn = { .cn = "" };
	struct pki_key *k;
	struct pki_buf der, spki;
	struct pki_csr_info ci;
	struct pki_error err;

	(void)state;
	assert_int_equal(pki_key_generate(&spec, &k, &err), 0);
	assert_int_equal(pki_csr_build(k, &s, "s3cret", &der, &err), 0);
	assert_int_equal(pki_csr_inspect(der.data, der.len, &ci, &err), 0);
	assert_true(ci.has_challenge);
	assert_string_equal(ci.subject.cn, "AP-2");
	assert_string_equal(ci.subject.ou, "wlan");
	assert_int_equal(ci.key.bits, 384);
	assert_string_equal(ci.key_curve, "P-384");
	assert_int_equal(strlen(ci.txid), PKI_TXID_LEN);
	assert_int_equal(pki_key_public_der(k, &spki, &err), 0);
	pki_buf_free(&der);
	pki_buf_free(&spki);
	/* An empty subject is refused. */
	assert_int_equal(pki_csr_build(k, &longcn, NULL, &der, &err), -1);
	assert_int_equal(err.status, PKI_ERR_PARSE);
	pki_key_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_rsa),
		cmocka_unit_test(test_ec_and_ed),
		cmocka_unit_test(test_weird_algorithm),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_garbage_truncated_huge),
		cmocka_unit_test(test_build_roundtrip),
	};

	assert_int_equal(pki_init(NULL), 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
