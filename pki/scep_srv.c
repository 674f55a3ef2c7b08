/*
 * pki/scep_srv.c - the responder's half of SCEP: open a request, build a
 * CertRep, certs-only bundles and GetNextCACert answers. Used by the fake
 * CA in tests/ and by unit tests that need CertReps built in-process; lscd
 * itself only ever plays the client.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>

#include "pki/pki_int.h"

void pki_scep_srv_request_free(struct pki_scep_srv_request *req)
{
	if (!req)
		return;
	pki_buf_free(&req->payload);
	pki_buf_free(&req->signer);
}

/* Name of the envelope's content-encryption algorithm, via the PKCS7 view. */
static void envelope_cipher(const struct pki_buf *env, char *out, size_t outsz)
{
	const unsigned char *p = env->data;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)env->len);
	int nid = NID_undef;

	if (p7 && PKCS7_type_is_enveloped(p7) && p7->d.enveloped &&
	    p7->d.enveloped->enc_data && p7->d.enveloped->enc_data->algorithm)
		nid = OBJ_obj2nid(p7->d.enveloped->enc_data->algorithm->algorithm);
	snprintf(out, outsz, "%s", nid != NID_undef ? OBJ_nid2sn(nid) : "unknown");
	PKCS7_free(p7);
}

int pki_scep_srv_parse_request(const uint8_t *der, size_t len,
			       const struct pki_key *key, const uint8_t *cert,
			       size_t cert_len, struct pki_scep_srv_request *req,
			       struct pki_error *err)
{
	CMS_ContentInfo *cms = pki_cms_d2i(der, len), *env = NULL;
	STACK_OF(X509) *certs = NULL;
	X509 *me = pki_x509_d2i(cert, cert_len), *signer = NULL;
	CMS_SignerInfo *si;
	X509_ALGOR *dig = NULL;
	struct pki_buf content = { NULL, 0 };
	BIO *out = NULL;
	const ASN1_TYPE *t;
	bool has_content, dup;
	char type[16];
	int i, rc = -1;

	memset(req, 0, sizeof(*req));
	if (!cms || !me) {
		pki_err_set(err, PKI_ERR_PARSE, "%s does not parse",
			    me ? "pkiMessage" : "recipient cert");
		goto out;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1) {
		pki_err_set(err, PKI_ERR_PARSE, "not a SignedData with one signer");
		goto out;
	}
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	certs = CMS_get1_certs(cms);
	for (i = 0; i < sk_X509_num(certs) && !signer; i++)
		if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs, i)) == 0)
			signer = sk_X509_value(certs, i);
	if (!signer) {
		pki_err_set(err, PKI_ERR_PARSE, "signer certificate not in the message");
		goto out;
	}
	if (pki_cms_verify(cms, signer, &si, &content, &has_content, err) < 0)
		goto out;
	if (pki_x509_i2d(signer, &req->signer) < 0)
		goto nomem;
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, NULL);
	snprintf(req->digest, sizeof(req->digest), "%s",
		 dig ? OBJ_nid2sn(OBJ_obj2nid(dig->algorithm)) : "unknown");
	t = pki_signed_attr_get(si, PKI_OID_MESSAGE_TYPE, &dup);
	if (!t || t->type != V_ASN1_PRINTABLESTRING ||
	    ASN1_STRING_length(t->value.asn1_string) >= (int)sizeof(type)) {
		pki_err_set(err, PKI_ERR_PARSE, "messageType missing");
		goto out;
	}
	snprintf(type, sizeof(type), "%.*s", ASN1_STRING_length(t->value.asn1_string),
		 (const char *)ASN1_STRING_get0_data(t->value.asn1_string));
	req->type = (enum pki_msg_type)atoi(type);
	t = pki_signed_attr_get(si, PKI_OID_TRANSACTION_ID, &dup);
	if (!t || t->type != V_ASN1_PRINTABLESTRING ||
	    ASN1_STRING_length(t->value.asn1_string) >= (int)sizeof(req->txid)) {
		pki_err_set(err, PKI_ERR_PARSE, "transactionID missing");
		goto out;
	}
	snprintf(req->txid, sizeof(req->txid), "%.*s",
		 ASN1_STRING_length(t->value.asn1_string),
		 (const char *)ASN1_STRING_get0_data(t->value.asn1_string));
	t = pki_signed_attr_get(si, PKI_OID_SENDER_NONCE, &dup);
	if (!t || t->type != V_ASN1_OCTET_STRING ||
	    ASN1_STRING_length(t->value.octet_string) != PKI_NONCE_LEN) {
		pki_err_set(err, PKI_ERR_PARSE, "senderNonce missing");
		goto out;
	}
	memcpy(req->nonce, ASN1_STRING_get0_data(t->value.octet_string), PKI_NONCE_LEN);
	if (!has_content || !content.len) {
		pki_err_set(err, PKI_ERR_PARSE, "request without payload");
		goto out;
	}
	envelope_cipher(&content, req->cipher, sizeof(req->cipher));
	env = pki_cms_d2i(content.data, content.len);
	out = BIO_new(BIO_s_mem());
	if (!env || !out || !CMS_decrypt(env, key->pk, me, NULL, out, CMS_BINARY)) {
		pki_err_ossl(err, PKI_ERR_PARSE, "cannot decrypt the request envelope");
		goto out;
	}
	{
		char *data;
		long n = BIO_get_mem_data(out, &data);

		if (n < 0 || pki_buf_set(&req->payload, data, (size_t)n) < 0)
			goto nomem;
	}
	rc = 0;
	goto out;
nomem:
	pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
out:
	if (rc < 0)
		pki_scep_srv_request_free(req);
	pki_buf_free(&content);
	BIO_free(out);
	sk_X509_pop_free(certs, X509_free);
	X509_free(me);
	CMS_ContentInfo_free(env);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return rc;
}

/* IssuerAndSubject ::= SEQUENCE { issuer Name, subject Name } */
static X509_NAME *ias_subject(const uint8_t *der, size_t len)
{
	const unsigned char *p = der, *end;
	long plen;
	int tag, cls, r;
	X509_NAME *issuer, *subject;

	if (len > INT_MAX)
		return NULL;
	r = ASN1_get_object(&p, &plen, &tag, &cls, (long)len);
	if ((r & 0x80) || tag != V_ASN1_SEQUENCE || !(r & V_ASN1_CONSTRUCTED))
		return NULL;
	end = p + plen;
	issuer = d2i_X509_NAME(NULL, &p, end - p);
	if (!issuer)
		return NULL;
	X509_NAME_free(issuer);
	subject = d2i_X509_NAME(NULL, &p, end - p);
	if (subject && p != end) {
		X509_NAME_free(subject);
		subject = NULL;
	}
	return subject;
}

int pki_scep_srv_subject_cn(const struct pki_scep_srv_request *req, char *cn,
			    size_t cnsz, struct pki_error *err)
{
	X509_NAME *own = NULL;
	const X509_NAME *nm = NULL;
	X509_REQ *r = NULL;
	int idx, rc = -1;

	cn[0] = '\0';
	if (req->type == PKI_MSG_PKCSREQ || req->type == PKI_MSG_RENEWALREQ) {
		r = pki_req_d2i(req->payload.data, req->payload.len);
		if (r)
			nm = X509_REQ_get_subject_name(r);
	} else if (req->type == PKI_MSG_CERTPOLL) {
		own = ias_subject(req->payload.data, req->payload.len);
		nm = own;
	}
	if (!nm) {
		pki_err_set(err, PKI_ERR_PARSE, "%s payload does not parse",
			    pki_msg_type_name(req->type));
		goto out;
	}
	idx = X509_NAME_get_index_by_NID(nm, NID_commonName, -1);
	if (idx >= 0) {
		const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, idx));

		snprintf(cn, cnsz, "%.*s", ASN1_STRING_length(s),
			 (const char *)ASN1_STRING_get0_data(s));
	}
	rc = 0;
out:
	X509_REQ_free(r);
	X509_NAME_free(own);
	ERR_clear_error();
	return rc;
}

int pki_certs_only_build(const struct pki_buf *certs, size_t n,
			 struct pki_buf *out, struct pki_error *err)
{
	CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL,
					CMS_PARTIAL | CMS_BINARY | CMS_DETACHED);
	size_t i;
	int rc = -1;

	out->data = NULL;
	out->len = 0;
	if (!cms) {
		pki_err_ossl(err, PKI_ERR_CRYPTO, "CMS_sign failed");
		return -1;
	}
	for (i = 0; i < n; i++) {
		X509 *x = pki_x509_d2i(certs[i].data, certs[i].len);

		if (!x || !CMS_add0_cert(cms, x)) {
			X509_free(x);
			pki_err_set(err, PKI_ERR_PARSE, "certificate %zu does not parse", i);
			goto out;
		}
	}
	if (pki_cms_to_buf(cms, out) < 0) {
		pki_err_ossl(err, PKI_ERR_CRYPTO, "cannot encode certs-only SignedData");
		goto out;
	}
	rc = 0;
out:
	CMS_ContentInfo_free(cms);
	return rc;
}

static int add_reply_attrs(CMS_SignerInfo *si, void *arg)
{
	const struct pki_scep_srv_reply *rep = arg;
	char status[8], fi[8];

	snprintf(status, sizeof(status), "%d", (int)rep->status);
	if (!pki_signed_attr_add(si, PKI_OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, "3", 1) ||
	    !pki_signed_attr_add(si, PKI_OID_PKI_STATUS, V_ASN1_PRINTABLESTRING,
				 status, (int)strlen(status)) ||
	    !pki_signed_attr_add(si, PKI_OID_TRANSACTION_ID, V_ASN1_PRINTABLESTRING,
				 rep->txid, (int)strlen(rep->txid)) ||
	    !pki_signed_attr_add(si, PKI_OID_SENDER_NONCE, V_ASN1_OCTET_STRING,
				 rep->sender_nonce, PKI_NONCE_LEN) ||
	    !pki_signed_attr_add(si, PKI_OID_RECIPIENT_NONCE, V_ASN1_OCTET_STRING,
				 rep->recipient_nonce, PKI_NONCE_LEN))
		return 0;
	if (rep->status == PKI_PKISTATUS_FAILURE) {
		snprintf(fi, sizeof(fi), "%d", rep->fail_info);
		if (!pki_signed_attr_add(si, PKI_OID_FAIL_INFO, V_ASN1_PRINTABLESTRING,
					 fi, (int)strlen(fi)))
			return 0;
		if (rep->fail_text &&
		    !pki_signed_attr_add(si, PKI_OID_FAIL_INFO_TEXT, V_ASN1_UTF8STRING,
					 rep->fail_text, (int)strlen(rep->fail_text)))
			return 0;
	}
	return 1;
}

int pki_scep_srv_build_certrep(const struct pki_scep_srv_reply *rep,
			       struct pki_buf *out, struct pki_error *err)
{
	X509 *signer = pki_x509_d2i(rep->signer, rep->signer_len);
	X509 *to = NULL;
	struct pki_buf inner = { NULL, 0 }, env = { NULL, 0 };
	STACK_OF(X509) *recips = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL;
	int rc = -1;

	out->data = NULL;
	out->len = 0;
	if (!signer || !rep->signer_key || !rep->txid || !rep->sender_nonce ||
	    !rep->recipient_nonce) {
		pki_err_set(err, PKI_ERR_INVALID, "incomplete CertRep");
		goto out;
	}
	if (rep->status == PKI_PKISTATUS_SUCCESS) {
		to = pki_x509_d2i(rep->requester, rep->requester_len);
		recips = sk_X509_new_null();
		if (!to || !recips || !sk_X509_push(recips, to)) {
			pki_err_set(err, PKI_ERR_INVALID, "no requester cert to encrypt to");
			goto out;
		}
		if (pki_certs_only_build(rep->certs, rep->n_certs, &inner, err) < 0)
			goto out;
		in = BIO_new_mem_buf(inner.data, (int)inner.len);
		cms = in ? CMS_encrypt(recips, in, pki_cipher_evp(rep->cipher), CMS_BINARY)
			 : NULL;
		if (!cms || pki_cms_to_buf(cms, &env) < 0) {
			pki_err_ossl(err, PKI_ERR_CRYPTO, "cannot envelope the CertRep");
			goto out;
		}
	}
	rc = pki_cms_sign_data(rep->signer_key->pk, signer, pki_digest_md(rep->digest),
			       env.data, env.len, add_reply_attrs, (void *)rep, out, err);
out:
	pki_buf_free(&inner);
	pki_buf_free(&env);
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	sk_X509_free(recips);
	X509_free(to);
	X509_free(signer);
	return rc;
}

int pki_scep_srv_build_nextca(const struct pki_key *key, const uint8_t *signer,
			      size_t signer_len, const struct pki_buf *certs,
			      size_t n, struct pki_buf *out,
			      struct pki_error *err)
{
	X509 *sx = pki_x509_d2i(signer, signer_len);
	struct pki_buf inner = { NULL, 0 };
	int rc = -1;

	out->data = NULL;
	out->len = 0;
	if (!sx) {
		pki_err_set(err, PKI_ERR_PARSE, "signer certificate does not parse");
		return -1;
	}
	if (pki_certs_only_build(certs, n, &inner, err) == 0)
		rc = pki_cms_sign_data(key->pk, sx, EVP_sha256(), inner.data,
				       inner.len, NULL, NULL, out, err);
	pki_buf_free(&inner);
	X509_free(sx);
	return rc;
}
