/*
 * tests/unit/test_pki_scep_msg.c - pkiMessage build/parse round trips, and
 * CertReps built in-process with a bad signature, nonce or transactionID.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pki/pki.h"
#include "test_pki_vectors.h"

#define TXID "1B3142DFD5FA90F1D7DE7573F3B9A7F2EB3DE685961A34914196C54518C1A0BF"

struct id {
	struct pki_key *key;
	struct pki_buf cert;
};

static struct id ca, other_ca, proxy, ra_enc, ra_sig;
static struct pki_buf ap_csr, issued;
static const uint8_t nonce[PKI_NONCE_LEN] = "0123456789abcdef";
static const uint8_t nonce2[PKI_NONCE_LEN] = "fedcba9876543210";

static void mk(struct id *id, const struct id *issuer, const char *cn, bool isca, unsigned ku)
{
	struct pki_key_spec spec = { PKI_KEY_RSA, 2048 };
	struct pki_subject s = { .o = "unit", .cn = "" };
	struct pki_issue_params p = { .days = 30, .ca = isca, .key_usage = ku };
	struct pki_buf csr;

	snprintf(s.cn, sizeof(s.cn), "%s", cn);
	assert_int_equal(pki_key_generate(&spec, &id->key, NULL), 0);
	if (!issuer) {
		assert_int_equal(pki_cert_self_signed(id->key, &s, &p, &id->cert, NULL), 0);
		return;
	}
	assert_int_equal(pki_csr_build(id->key, &s, NULL, &csr, NULL), 0);
	assert_int_equal(pki_cert_issue(issuer->key, issuer->cert.data, issuer->cert.len,
					csr.data, csr.len, &p, &id->cert, NULL), 0);
	pki_buf_free(&csr);
}

static int setup(void **state)
{
	struct pki_issue_params p = { .days = 30, .key_usage = PKI_KU_DIGITAL_SIGNATURE };

	(void)state;
	if (pki_init(NULL) < 0)
		return -1;
	mk(&ca, NULL, "unit CA", true, PKI_KU_KEY_CERT_SIGN | PKI_KU_CRL_SIGN);
	mk(&other_ca, NULL, "other CA", true, PKI_KU_KEY_CERT_SIGN);
	mk(&proxy, NULL, "Proxy-AP-LSC1", false, PKI_KU_DIGITAL_SIGNATURE | PKI_KU_KEY_ENCIPHERMENT);
	mk(&ra_enc, &ca, "RA enc", false, PKI_KU_KEY_ENCIPHERMENT);
	mk(&ra_sig, &ca, "RA sig", false, PKI_KU_DIGITAL_SIGNATURE);
	if (pki_pem_to_der(vec_ap_csr_pem, strlen(vec_ap_csr_pem), NULL, &ap_csr, NULL) < 0 ||
	    pki_cert_issue(ca.key, ca.cert.data, ca.cert.len, ap_csr.data, ap_csr.len, &p,
			   &issued, NULL) < 0)
		return -1;
	return 0;
}

static void free_id(struct id *id)
{
	pki_key_free(id->key);
	pki_buf_free(&id->cert);
}

static int teardown(void **state)
{
	(void)state;
	free_id(&ca);
	free_id(&other_ca);
	free_id(&proxy);
	free_id(&ra_enc);
	free_id(&ra_sig);
	pki_buf_free(&ap_csr);
	pki_buf_free(&issued);
	return 0;
}

static void build_req(enum pki_msg_type type, const struct pki_buf *payload,
		      const struct id *to, enum pki_digest d, enum pki_cipher c,
		      struct pki_buf *out)
{
	struct pki_scep_request rq = {
		.type = type, .txid = TXID, .payload = payload->data,
		.payload_len = payload->len, .recipient = to->cert.data,
		.recipient_len = to->cert.len, .signer_key = proxy.key,
		.signer = proxy.cert.data, .signer_len = proxy.cert.len,
		.digest = d, .cipher = c,
	};
	struct pki_error err;

	memcpy(rq.nonce, nonce, PKI_NONCE_LEN);
	if (pki_scep_request_build(&rq, out, &err) < 0)
		fail_msg("build: %s", err.reason);
}

static void test_request_roundtrip(void **state)
{
	static const struct {
		enum pki_digest d;
		enum pki_cipher c;
		const char *dn, *cn;
	} combos[] = {
		{ PKI_DIGEST_SHA256, PKI_CIPHER_AES128, "SHA256", "AES-128-CBC" },
		{ PKI_DIGEST_SHA512, PKI_CIPHER_AES128, "SHA512", "AES-128-CBC" },
		{ PKI_DIGEST_SHA1, PKI_CIPHER_DES3, "SHA1", "DES-EDE3-CBC" },
		{ PKI_DIGEST_MD5, PKI_CIPHER_DES, "MD5", "DES-CBC" },
	};
	struct pki_scep_srv_request rq;
	struct pki_error err;
	struct pki_buf msg;
	char cn[80];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
		build_req(PKI_MSG_PKCSREQ, &ap_csr, &ca, combos[i].d, combos[i].c, &msg);
		if (pki_scep_srv_parse_request(msg.data, msg.len, ca.key, ca.cert.data,
					       ca.cert.len, &rq, &err) < 0)
			fail_msg("%s/%s: %s", combos[i].dn, combos[i].cn, err.reason);
		assert_int_equal(rq.type, PKI_MSG_PKCSREQ);
		assert_string_equal(rq.txid, TXID);
		assert_memory_equal(rq.nonce, nonce, PKI_NONCE_LEN);
		assert_string_equal(rq.digest, combos[i].dn);
		assert_string_equal(rq.cipher, combos[i].cn);
		/* The CSR travels unchanged: the proxy cannot re-sign it. */
		assert_int_equal(rq.payload.len, ap_csr.len);
		assert_memory_equal(rq.payload.data, ap_csr.data, ap_csr.len);
		assert_int_equal(rq.signer.len, proxy.cert.len);
		assert_memory_equal(rq.signer.data, proxy.cert.data, proxy.cert.len);
		assert_int_equal(pki_scep_srv_subject_cn(&rq, cn, sizeof(cn), &err), 0);
		assert_string_equal(cn, "AP-LSC-0001");
		pki_scep_srv_request_free(&rq);
		/* Only the recipient can open it. */
		assert_int_equal(pki_scep_srv_parse_request(msg.data, msg.len, other_ca.key,
							    other_ca.cert.data, other_ca.cert.len,
							    &rq, &err), -1);
		pki_buf_free(&msg);
	}
}

static void test_certpoll_payload(void **state)
{
	struct pki_scep_srv_request rq;
	struct pki_buf ias, msg;
	struct pki_error err;
	char cn[80];

	(void)state;
	assert_int_equal(pki_scep_issuer_and_subject(ca.cert.data, ca.cert.len, ap_csr.data,
						     ap_csr.len, &ias, &err), 0);
	build_req(PKI_MSG_CERTPOLL, &ias, &ca, PKI_DIGEST_SHA256, PKI_CIPHER_AES128, &msg);
	assert_int_equal(pki_scep_srv_parse_request(msg.data, msg.len, ca.key, ca.cert.data,
						    ca.cert.len, &rq, &err), 0);
	assert_int_equal(rq.type, PKI_MSG_CERTPOLL);
	assert_int_equal(pki_scep_srv_subject_cn(&rq, cn, sizeof(cn), &err), 0);
	assert_string_equal(cn, "AP-LSC-0001");
	pki_scep_srv_request_free(&rq);
	pki_buf_free(&msg);
	pki_buf_free(&ias);
}

static void test_request_needs_printable_txid(void **state)
{
	struct pki_scep_request rq = {
		.type = PKI_MSG_PKCSREQ, .txid = "bad\"txid", .payload = ap_csr.data,
		.payload_len = ap_csr.len, .recipient = ca.cert.data,
		.recipient_len = ca.cert.len, .signer_key = proxy.key,
		.signer = proxy.cert.data, .signer_len = proxy.cert.len,
	};
	struct pki_buf out;
	struct pki_error err;

	(void)state;
	assert_int_equal(pki_scep_request_build(&rq, &out, &err), -1);
	assert_int_equal(err.status, PKI_ERR_INVALID);
}

/* A CertRep as a CA would send it; knobs make it wrong in one way. */
static void certrep(enum pki_pkistatus st, const struct id *signer, const char *txid,
		    const uint8_t *rnonce, enum pki_cipher c, const struct pki_buf *to,
		    struct pki_buf *out)
{
	struct pki_buf certs[2] = { issued, ca.cert };
	struct pki_scep_srv_reply rp = {
		.status = st, .fail_info = PKI_FAIL_BAD_TIME, .fail_text = "clock\nskew",
		.txid = txid, .recipient_nonce = rnonce, .sender_nonce = nonce2,
		.certs = certs, .n_certs = 2,
		.requester = to ? to->data : proxy.cert.data,
		.requester_len = to ? to->len : proxy.cert.len,
		.signer_key = signer->key, .signer = signer->cert.data,
		.signer_len = signer->cert.len, .digest = PKI_DIGEST_SHA1, .cipher = c,
	};
	struct pki_error err;

	if (pki_scep_srv_build_certrep(&rp, out, &err) < 0)
		fail_msg("certrep: %s", err.reason);
}

static int parse(const struct pki_buf *msg, const struct id *expect_signer,
		 struct pki_certrep *rep, struct pki_error *err)
{
	struct pki_certrep_expect exp = {
		.signer = expect_signer->cert.data, .signer_len = expect_signer->cert.len,
		.txid = TXID, .nonce = nonce, .key = proxy.key,
		.cert = proxy.cert.data, .cert_len = proxy.cert.len,
	};

	return pki_scep_certrep_parse(msg->data, msg->len, &exp, rep, err);
}

static void test_certrep_success_des(void **state)
{
	struct pki_certrep rep;
	struct pki_error err;
	struct pki_buf m;

	(void)state;
	/* micromdm: single DES inside, SHA-1 outside. Needs the legacy provider. */
	certrep(PKI_PKISTATUS_SUCCESS, &ca, TXID, nonce, PKI_CIPHER_DES, NULL, &m);
	if (parse(&m, &ca, &rep, &err) < 0)
		fail_msg("%s", err.reason);
	assert_int_equal(rep.status, PKI_PKISTATUS_SUCCESS);
	assert_int_equal(rep.n_certs, 2);
	assert_true((rep.certs[0].len == issued.len &&
		     !memcmp(rep.certs[0].data, issued.data, issued.len)) ||
		    (rep.certs[1].len == issued.len &&
		     !memcmp(rep.certs[1].data, issued.data, issued.len)));
	assert_int_equal(pki_cert_key_equals_csr(issued.data, issued.len, ap_csr.data,
						 ap_csr.len, NULL), 1);
	pki_certrep_free(&rep);
	pki_buf_free(&m);
}

static void test_certrep_pending_failure(void **state)
{
	struct pki_certrep rep;
	struct pki_error err;
	struct pki_buf m;

	(void)state;
	certrep(PKI_PKISTATUS_PENDING, &ca, TXID, nonce, PKI_CIPHER_AES128, NULL, &m);
	assert_int_equal(parse(&m, &ca, &rep, &err), 0);
	assert_int_equal(rep.status, PKI_PKISTATUS_PENDING);
	assert_int_equal(rep.n_certs, 0);
	pki_buf_free(&m);
	certrep(PKI_PKISTATUS_FAILURE, &ca, TXID, nonce, PKI_CIPHER_AES128, NULL, &m);
	assert_int_equal(parse(&m, &ca, &rep, &err), 0);
	assert_int_equal(rep.status, PKI_PKISTATUS_FAILURE);
	assert_int_equal(rep.fail_info, PKI_FAIL_BAD_TIME);
	assert_string_equal(rep.fail_text, "clock?skew");	/* control chars neutralised */
	pki_buf_free(&m);
}

static void test_certrep_bad_signature(void **state)
{
	struct pki_certrep rep;
	struct pki_error err;
	struct pki_buf m;

	(void)state;
	certrep(PKI_PKISTATUS_SUCCESS, &ca, TXID, nonce, PKI_CIPHER_AES128, NULL, &m);
	m.data[m.len - 1] ^= 0x01;
	assert_int_equal(parse(&m, &ca, &rep, &err), -1);
	assert_int_equal(err.status, PKI_ERR_BAD_SIGNATURE);
	pki_buf_free(&m);
	/* Signed by a different CA, whatever certificates it carries. */
	certrep(PKI_PKISTATUS_SUCCESS, &other_ca, TXID, nonce, PKI_CIPHER_AES128, NULL, &m);
	assert_int_equal(parse(&m, &ca, &rep, &err), -1);
	assert_int_equal(err.status, PKI_ERR_BAD_SIGNATURE);
	pki_buf_free(&m);
	/* A FAILURE by someone else must not stop our enrollment either. */
	certrep(PKI_PKISTATUS_FAILURE, &other_ca, TXID, nonce, PKI_CIPHER_AES128, NULL, &m);
	assert_int_equal(parse(&m, &ca, &rep, &err), -1);
	assert_int_equal(err.status, PKI_ERR_BAD_SIGNATURE);
	pki_buf_free(&m);
}

static void test_certrep_nonce_txid(void **state)
{
	struct pki_certrep rep;
	struct pki_error err;
	struct pki_buf m;

	(void)state;
	certrep(PKI_PKISTATUS_SUCCESS, &ca, TXID, nonce2, PKI_CIPHER_AES128, NULL, &m);
	assert_int_equal(parse(&m, &ca, &rep, &err), -1);
	assert_int_equal(err.status, PKI_ERR_NONCE_MISMATCH);
	pki_buf_free(&m);
	certrep(PKI_PKISTATUS_SUCCESS, &ca, "OTHERTXID", nonce, PKI_CIPHER_AES128, NULL, &m);
	assert_int_equal(parse(&m, &ca, &rep, &err), -1);
	assert_int_equal(err.status, PKI_ERR_TXID_MISMATCH);
	assert_non_null(strstr(err.reason, "OTHERTXID"));
	pki_buf_free(&m);
}

static void test_certrep_not_for_us(void **state)
{
	struct pki_certrep rep;
	struct pki_error err;
	struct pki_buf m;

	(void)state;
	/* Correctly signed, but encrypted to someone else's cert. */
	certrep(PKI_PKISTATUS_SUCCESS, &ca, TXID, nonce, PKI_CIPHER_AES128, &other_ca.cert, &m);
	assert_int_equal(parse(&m, &ca, &rep, &err), -1);
	assert_int_equal(err.status, PKI_ERR_CA_GARBAGE);
	pki_buf_free(&m);
}

static void test_certrep_garbage(void **state)
{
	struct pki_certrep rep;
	struct pki_error err;
	struct pki_buf m, g = { (uint8_t *)"\x30\x80garbage", 9 };
	size_t n;

	(void)state;
	assert_int_equal(parse(&g, &ca, &rep, &err), -1);
	assert_int_equal(err.status, PKI_ERR_CA_GARBAGE);
	certrep(PKI_PKISTATUS_SUCCESS, &ca, TXID, nonce, PKI_CIPHER_DES, NULL, &m);
	/* Every prefix is refused without a crash; a request is not a CertRep. */
	for (n = 0; n < m.len; n += 13) {
		struct pki_buf p = { m.data, n };

		assert_int_equal(parse(&p, &ca, &rep, &err), -1);
	}
	pki_buf_free(&m);
	build_req(PKI_MSG_PKCSREQ, &ap_csr, &ca, PKI_DIGEST_SHA256, PKI_CIPHER_AES128, &m);
	{
		/* A request signed by the proxy, checked as if proxy were the CA. */
		assert_int_equal(parse(&m, &proxy, &rep, &err), -1);
		assert_int_equal(err.status, PKI_ERR_CA_GARBAGE);
		assert_non_null(strstr(err.reason, "messageType"));
	}
	pki_buf_free(&m);
}

static void test_cacert_single_and_ra(void **state)
{
	struct pki_buf all[3] = { ca.cert, ra_enc.cert, ra_sig.cert }, p7;
	struct pki_buf wrong[2] = { other_ca.cert, ra_enc.cert };
	struct pki_cacerts cc;
	struct pki_error err;

	(void)state;
	assert_int_equal(pki_scep_cacert_parse("application/x-x509-ca-cert; charset=binary",
					       ca.cert.data, ca.cert.len, &cc, &err), 0);
	assert_int_equal(cc.ca.len, ca.cert.len);
	assert_int_equal(cc.ra_enc.len, 0);	/* fall back to the CA: no keyEncipherment */
	assert_int_equal(cc.ra_sig.len, 0);
	pki_cacerts_free(&cc);

	assert_int_equal(pki_certs_only_build(all, 3, &p7, &err), 0);
	assert_int_equal(pki_scep_cacert_parse("application/x-x509-ca-ra-cert", p7.data, p7.len,
					       &cc, &err), 0);
	assert_memory_equal(cc.ca.data, ca.cert.data, ca.cert.len);
	assert_memory_equal(cc.ra_enc.data, ra_enc.cert.data, ra_enc.cert.len);
	assert_memory_equal(cc.ra_sig.data, ra_sig.cert.data, ra_sig.cert.len);
	assert_int_equal(cc.n_all, 3);
	pki_cacerts_free(&cc);
	/* The same bundle under the single-cert type is garbage. */
	assert_int_equal(pki_scep_cacert_parse("application/x-x509-ca-cert", p7.data, p7.len,
					       &cc, &err), -1);
	assert_int_equal(err.status, PKI_ERR_CA_GARBAGE);
	assert_int_equal(pki_scep_cacert_parse("text/html", ca.cert.data, ca.cert.len, &cc,
					       &err), -1);
	assert_int_equal(err.status, PKI_ERR_CA_GARBAGE);
	assert_non_null(strstr(err.reason, "text/html"));
	pki_buf_free(&p7);
	/* An RA that the CA of the bundle did not issue. */
	assert_int_equal(pki_certs_only_build(wrong, 2, &p7, &err), 0);
	assert_int_equal(pki_scep_cacert_parse("application/x-x509-ca-ra-cert", p7.data, p7.len,
					       &cc, &err), -1);
	assert_int_equal(err.status, PKI_ERR_WRONG_ISSUER);
	pki_buf_free(&p7);
}

static void test_nextca(void **state)
{
	struct pki_cacerts cc;
	struct pki_error err;
	struct pki_buf m;

	(void)state;
	assert_int_equal(pki_scep_srv_build_nextca(ca.key, ca.cert.data, ca.cert.len,
						   &other_ca.cert, 1, &m, &err), 0);
	assert_int_equal(pki_scep_nextca_parse(m.data, m.len, ca.cert.data, ca.cert.len, &cc,
					       &err), 0);
	assert_int_equal(cc.ca.len, other_ca.cert.len);
	assert_memory_equal(cc.ca.data, other_ca.cert.data, other_ca.cert.len);
	pki_cacerts_free(&cc);
	/* Checked against a CA that did not sign it: refused. */
	assert_int_equal(pki_scep_nextca_parse(m.data, m.len, other_ca.cert.data,
					       other_ca.cert.len, &cc, &err), -1);
	assert_int_equal(err.status, PKI_ERR_BAD_SIGNATURE);
	pki_buf_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_roundtrip),
		cmocka_unit_test(test_certpoll_payload),
		cmocka_unit_test(test_request_needs_printable_txid),
		cmocka_unit_test(test_certrep_success_des),
		cmocka_unit_test(test_certrep_pending_failure),
		cmocka_unit_test(test_certrep_bad_signature),
		cmocka_unit_test(test_certrep_nonce_txid),
		cmocka_unit_test(test_certrep_not_for_us),
		cmocka_unit_test(test_certrep_garbage),
		cmocka_unit_test(test_cacert_single_and_ra),
		cmocka_unit_test(test_nextca),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
